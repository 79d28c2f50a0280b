/*++
 * NAME
 *	cm_peer 3
 * SUMMARY
 *	authenticate another Cmail server (mutual TLS, Annex C.2)
 * DESCRIPTION
 *	See cm_peer.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/objects.h>

#include "cm_cert.h"
#include "cm_certcache.h"
#include "cm_profile.h"
#include "cm_peer.h"

#define PEER_NAME_MAX	253		/* a DNS name */
#define PEER_SAN_MAX	64		/* SAN entries looked at */

/* cm_peer_cert - the peer's leaf certificate, up-ref'd */
int     cm_peer_cert(SSL *ssl, X509 **cert_r)
{
    *cert_r = 0;
    if (ssl == 0 || (*cert_r = SSL_get1_peer_certificate(ssl)) == 0)
	return (-1);
    /* A peer server signs notices with it, usually: their KeyInfo is then a cache hit. */
    (void) cm_certcache_add(*cert_r);
    return (0);
}

/* cm_peer_validate - a valid Annex C.2 server certificate, now */
int     cm_peer_validate(CM_TRUST *trust, X509 *cert, char *err, size_t errlen)
{
    CM_CERT_OPTS opts;

    if (cert == 0) {
	snprintf(err, errlen, "no peer certificate");
	return (-1);
    }
    memset(&opts, 0, sizeof(opts));
    opts.role = CM_ROLE_SERVER;
    opts.purpose = CM_PURPOSE_ANY;
    opts.usage = CM_USE_SIGN;
    return (cm_cert_validate(trust, cert, &opts, err, errlen));
}

/* name_copy - an ASN.1 string as a C string, 0 if unusable */
static int name_copy(const ASN1_STRING *s, char *buf, size_t size)
{
    const unsigned char *data = ASN1_STRING_get0_data(s);
    int     len = ASN1_STRING_length(s);

    if (data == 0 || len <= 0 || (size_t) len >= size || len > PEER_NAME_MAX + 1 + 64
	|| memchr(data, 0, (size_t) len) != 0)
	return (0);
    memcpy(buf, data, (size_t) len);
    buf[len] = 0;
    if (len > 1 && buf[len - 1] == '.')
	buf[len - 1] = 0;
    return (1);
}

/* dns_matches - name equals domain or ends with "." domain */
static int dns_matches(const char *name, const char *domain)
{
    size_t  nlen = strlen(name), dlen = strlen(domain);

    if (nlen == 0 || nlen > PEER_NAME_MAX)
	return (0);
    if (nlen == dlen)
	return (strcasecmp(name, domain) == 0);
    /* A name under a top-level domain alone ("test", "com") speaks for nothing. */
    return (strchr(domain, '.') != 0 && nlen > dlen + 1 && name[nlen - dlen - 1] == '.'
	    && strcasecmp(name + nlen - dlen, domain) == 0);
}

/* subject_matches - a subject dnsName (2.5.4.100) or CN that matches domain */
static int subject_matches(X509 *cert, const char *domain)
{
    X509_NAME *subj = X509_get_subject_name(cert);
    char    buf[PEER_NAME_MAX + 66];
    char    oid[80];
    int     i;

    for (i = 0; i < X509_NAME_entry_count(subj); i++) {
	X509_NAME_ENTRY *ne = X509_NAME_get_entry(subj, i);
	ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(ne);

	if (OBJ_obj2nid(obj) != NID_commonName
	    && (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0 || strcmp(oid, CM_OID_AT_DNSNAME) != 0))
	    continue;
	if (name_copy(X509_NAME_ENTRY_get_data(ne), buf, sizeof(buf)) && dns_matches(buf, domain))
	    return (1);
    }
    return (0);
}

/* cm_peer_speaks_for - does the certificate speak for the mail domain? */
int     cm_peer_speaks_for(X509 *cert, const char *domain)
{
    char    dom[PEER_NAME_MAX + 2];
    char    buf[PEER_NAME_MAX + 66];
    GENERAL_NAMES *san;
    size_t  dlen;
    int     i, ok = 0;

    if (cert == 0 || domain == 0 || (dlen = strlen(domain)) == 0 || dlen > PEER_NAME_MAX + 1)
	return (0);
    snprintf(dom, sizeof(dom), "%s", domain);
    if (dlen > 1 && dom[dlen - 1] == '.')
	dom[--dlen] = 0;
    if (dom[0] == '.' || strchr(dom, '@'))
	return (0);
    san = X509_get_ext_d2i(cert, NID_subject_alt_name, 0, 0);
    for (i = 0; !ok && san && i < sk_GENERAL_NAME_num(san) && i < PEER_SAN_MAX; i++) {
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
	const char *at;

	if (gn->type == GEN_DNS && name_copy(gn->d.dNSName, buf, sizeof(buf)))
	    ok = dns_matches(buf, dom);
	else if (gn->type == GEN_EMAIL && name_copy(gn->d.rfc822Name, buf, sizeof(buf))
		 && (at = strrchr(buf, '@')) != 0)
	    ok = strcasecmp(at + 1, dom) == 0;
    }
    GENERAL_NAMES_free(san);
    if (!ok)
	ok = subject_matches(cert, dom);
    return (ok);
}
