/*++
 * NAME
 *	cm_profile 3
 * SUMMARY
 *	X.1341 Annex C.2/C.3 certificate profile rules
 * DESCRIPTION
 *	See cm_profile.h. OIDs are compared as dotted text, so nothing has
 *	to be registered with OBJ_create() and the module keeps no state.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/bn.h>
#include <openssl/objects.h>

#include "cm_cert.h"
#include "cm_profile.h"

#define OID_CN		"2.5.4.3"
#define OID_SURNAME	"2.5.4.4"
#define OID_COUNTRY	"2.5.4.6"
#define OID_LOCALITY	"2.5.4.7"
#define OID_STATE	"2.5.4.8"
#define OID_STREET	"2.5.4.9"
#define OID_ORG		"2.5.4.10"
#define OID_POSTALCODE	"2.5.4.17"
#define OID_GIVENNAME	"2.5.4.42"
#define OID_INITIALS	"2.5.4.43"
#define OID_GENQUAL	"2.5.4.44"

#define VALUE_MAX	256		/* attribute text we look at */

typedef struct {
    CM_CERT_REPORT *rep;
    const char *prefix;			/* "c2" or "c3" */
    int     failed;
} PROFILE;

/* bfmt - snprintf that truncates silently (reasons are bounded) */
static void bfmt(char *buf, size_t len, const char *fmt,...)
    __attribute__((format(printf, 3, 4)));

static void bfmt(char *buf, size_t len, const char *fmt,...)
{
    va_list ap;

    va_start(ap, fmt);
    (void) vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* rule - append one profile rule */
static void rule(PROFILE *pr, const char *name, int ok, const char *fmt,...)
    __attribute__((format(printf, 4, 5)));

static void rule(PROFILE *pr, const char *name, int ok, const char *fmt,...)
{
    char    full[64];
    char    reason[256];
    va_list ap;

    bfmt(full, sizeof(full), "%s-%s", pr->prefix, name);
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cm_cert_rule_add(pr->rep, full, ok, "%s", reason);
    if (!ok)
	pr->failed = 1;
}

/* oid_is - does the object have this dotted OID? */
static int oid_is(const ASN1_OBJECT *obj, const char *oid)
{
    char    buf[80];
    int     n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);

    return (n > 0 && n < (int) sizeof(buf) && strcmp(buf, oid) == 0);
}

/* name_count - how many attributes of a type a name holds */
static int name_count(const X509_NAME *name, const char *oid)
{
    int     i, n = 0;

    for (i = 0; name && i < X509_NAME_entry_count(name); i++)
	if (oid_is(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, i)), oid))
	    n++;
    return (n);
}

/* name_value - first non-empty value of a type as UTF-8, 1 if found */
static int name_value(const X509_NAME *name, const char *oid, char *buf, size_t len)
{
    int     i;

    buf[0] = 0;
    for (i = 0; name && i < X509_NAME_entry_count(name); i++) {
	X509_NAME_ENTRY *ne = X509_NAME_get_entry(name, i);
	unsigned char *utf8 = 0;
	int     n;

	if (!oid_is(X509_NAME_ENTRY_get_object(ne), oid))
	    continue;
	if ((n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ne))) > 0
	    && memchr(utf8, 0, (size_t) n) == 0) {
	    bfmt(buf, len, "%.*s", n > (int) len - 1 ? (int) len - 1 : n, (char *) utf8);
	    OPENSSL_free(utf8);
	    return (1);
	}
	OPENSSL_free(utf8);
    }
    return (0);
}

/* dns_syntax - a fully qualified LDH domain name */
static int dns_syntax(const char *s)
{
    size_t  len = strlen(s), label = 0;
    int     labels = 1, tld_alpha = 0;
    const char *p;

    if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
	return (0);
    for (p = s; *p; p++) {
	if (*p == '.') {
	    if (label == 0 || p[-1] == '-')
		return (0);
	    labels++;
	    label = 0;
	    tld_alpha = 0;
	    continue;
	}
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
	      || (*p >= '0' && *p <= '9') || *p == '-'))
	    return (0);
	if (label == 0 && *p == '-')
	    return (0);
	if (++label > 63)
	    return (0);
	if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
	    tld_alpha = 1;
    }
    return (labels >= 2 && p[-1] != '-' && tld_alpha);
}

/* alpha3 - three ASCII letters */
static int alpha3(const char *s)
{
    int     i;

    for (i = 0; i < 3; i++)
	if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
	    return (0);
    return (s[3] == 0);
}

/* addr_syntax - local@domain, domain a DNS name */
static int addr_syntax(const ASN1_IA5STRING *s)
{
    const char *data = (const char *) ASN1_STRING_get0_data(s);
    int     len = ASN1_STRING_length(s);
    const char *at;
    char    dom[256];

    if (len <= 0 || len > 254 || memchr(data, 0, (size_t) len))
	return (0);
    if ((at = memchr(data, '@', (size_t) len)) == 0 || at == data)
	return (0);
    bfmt(dom, sizeof(dom), "%.*s", (int) (data + len - at - 1), at + 1);
    return (dns_syntax(dom));
}

/* check_version - v3 */
static void check_version(PROFILE *pr, X509 *cert)
{
    long    v = X509_get_version(cert);

    rule(pr, "version", v == 2, v == 2 ? "version 3" : "version %ld, version 3 required", v + 1);
}

/* check_serial - at least CM_SERIAL_BITS_MIN bits, positive */
static void check_serial(PROFILE *pr, X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), 0);
    int     bits;

    if (bn == 0) {
	rule(pr, "serial", 0, "unreadable serial number");
	return;
    }
    bits = BN_num_bits(bn);
    if (BN_is_negative(bn) || BN_is_zero(bn))
	rule(pr, "serial", 0, "serial number is not positive");
    else
	rule(pr, "serial", bits >= CM_SERIAL_BITS_MIN,
	     "serial number has %d bits (at least %d required, our proxy for \"non-sequential\")",
	     bits, CM_SERIAL_BITS_MIN);
    BN_free(bn);
}

/* check_policy - certificatePolicies holds the Cmail OID */
static void check_policy(PROFILE *pr, X509 *cert, const char *want, const char *erratum)
{
    CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(cert, NID_certificate_policies, 0, 0);
    int     i, found = 0, found_erratum = 0;

    for (i = 0; pol && i < sk_POLICYINFO_num(pol) && i < 64; i++) {
	POLICYINFO *pi = sk_POLICYINFO_value(pol, i);

	if (oid_is(pi->policyid, want))
	    found = 1;
	else if (erratum && oid_is(pi->policyid, erratum))
	    found_erratum = 1;
    }
    if (pol == 0)
	rule(pr, "policy", 0, "no certificatePolicies extension (%s required)", want);
    else if (found)
	rule(pr, "policy", 1, "certificatePolicies contains %s", want);
    else if (found_erratum)
	rule(pr, "policy", 1, "certificatePolicies contains %s: accepted erratum OID (C.3 repeats the server policy)",
	     erratum);
    else
	rule(pr, "policy", 0, "certificatePolicies lacks %s", want);
    CERTIFICATEPOLICIES_free(pol);
}

/* present - rule for a required attribute */
static void present(PROFILE *pr, const char *name, const X509_NAME *dn, const char *oid,
		            const char *what, const char *where)
{
    char    val[VALUE_MAX];

    if (name_value(dn, oid, val, sizeof(val)))
	rule(pr, name, 1, "%s %s present: %.120s", where, what, val);
    else
	rule(pr, name, 0, "%s has no %s", where, what);
}

/* optional_state - stateOrProvinceName is optional */
static void optional_state(PROFILE *pr, const char *name, const X509_NAME *dn, const char *where)
{
    char    val[VALUE_MAX];

    if (name_value(dn, OID_STATE, val, sizeof(val)))
	rule(pr, name, 1, "%s stateOrProvinceName present: %.120s", where, val);
    else
	rule(pr, name, 1, "%s stateOrProvinceName absent (optional: only where needed to be unique)", where);
}

/* san_rfc822 - rule: SAN holds an rfc822Name */
static void san_rfc822(PROFILE *pr, GENERAL_NAMES *san, const char *who)
{
    int     i, bad = 0;

    for (i = 0; san && i < sk_GENERAL_NAME_num(san) && i < 256; i++) {
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);

	if (gn->type != GEN_EMAIL)
	    continue;
	if (addr_syntax(gn->d.rfc822Name)) {
	    rule(pr, "san-rfc822name", 1, "subjectAltName rfc822Name %.*s (%s)",
		 ASN1_STRING_length(gn->d.rfc822Name) > 150 ? 150 : ASN1_STRING_length(gn->d.rfc822Name),
		 (const char *) ASN1_STRING_get0_data(gn->d.rfc822Name), who);
	    return;
	}
	bad = 1;
    }
    if (san == 0)
	rule(pr, "san-rfc822name", 0, "no subjectAltName extension (rfc822Name of the %s required)", who);
    else
	rule(pr, "san-rfc822name", 0, "subjectAltName has no %srfc822Name (%s)",
	     bad ? "well-formed " : "", who);
}

/* check_server - Annex C.2 */
static void check_server(PROFILE *pr, X509 *cert)
{
    X509_NAME *subj = X509_get_subject_name(cert);
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, 0, 0);
    X509_NAME *dir = 0;
    char    dns[VALUE_MAX];
    char    cn[VALUE_MAX];
    char    val[VALUE_MAX];
    int     i;

    check_version(pr, cert);
    check_serial(pr, cert);

    /* c) subject: dnsName attribute (2.5.4.100) with a DNS name, CN the same */
    if (!name_value(subj, CM_OID_AT_DNSNAME, dns, sizeof(dns)))
	rule(pr, "subject-dnsname", 0, "subject has no dnsName attribute (X.520 id-at-dnsName %s)",
	     CM_OID_AT_DNSNAME);
    else if (!dns_syntax(dns))
	rule(pr, "subject-dnsname", 0, "subject dnsName %.120s is not a fully qualified DNS name", dns);
    else
	rule(pr, "subject-dnsname", 1, "subject dnsName %.120s", dns);
    if (!name_value(subj, OID_CN, cn, sizeof(cn)))
	rule(pr, "subject-cn", 0, "subject has no commonName (the server's FQDN)");
    else if (!dns_syntax(cn))
	rule(pr, "subject-cn", 0, "subject CN %.120s is not a fully qualified DNS name", cn);
    else if (dns[0] && strcasecmp(cn, dns) != 0)
	rule(pr, "subject-cn", 0, "subject CN %.100s differs from dnsName %.100s", cn, dns);
    else
	rule(pr, "subject-cn", 1, "subject CN %.120s", cn);

    /* d) SAN: rfc822Name (administrator) and directoryName */
    san_rfc822(pr, san, "administrator");
    for (i = 0; san && i < sk_GENERAL_NAME_num(san) && i < 256; i++) {
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);

	if (gn->type == GEN_DIRNAME) {
	    dir = gn->d.directoryName;
	    break;
	}
    }
    if (dir)
	rule(pr, "san-directoryname", 1, "subjectAltName has a directoryName");
    else
	rule(pr, "san-directoryname", 0, "subjectAltName has no directoryName (postal identity)");
    if (name_value(dir, CM_OID_AT_COUNTRYCODE3C, val, sizeof(val)))
	rule(pr, "dirname-country", alpha3(val), "directoryName countryCode3c %.40s%s", val,
	     alpha3(val) ? "" : " is not an ISO 3166 alpha-3 code");
    else if (name_value(dir, OID_COUNTRY, val, sizeof(val)))
	rule(pr, "dirname-country", alpha3(val), "directoryName countryName %.40s%s", val,
	     alpha3(val) ? " (alpha-3)" : ": an ISO 3166 alpha-3 code is required");
    else
	rule(pr, "dirname-country", 0, "directoryName has no countryCode3c (%s) or countryName",
	     CM_OID_AT_COUNTRYCODE3C);
    present(pr, "dirname-organization", dir, OID_ORG, "organizationName", "directoryName");
    present(pr, "dirname-street", dir, OID_STREET, "streetAddress", "directoryName");
    present(pr, "dirname-locality", dir, OID_LOCALITY, "localityName", "directoryName");
    optional_state(pr, "dirname-state", dir, "directoryName");
    present(pr, "dirname-postalcode", dir, OID_POSTALCODE, "postalCode", "directoryName");

    /* e) certificatePolicies */
    check_policy(pr, cert, CM_OID_POLICY_SERVER, 0);
    GENERAL_NAMES_free(san);
}

/* check_client - Annex C.3 */
static void check_client(PROFILE *pr, X509 *cert)
{
    X509_NAME *subj = X509_get_subject_name(cert);
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, 0, 0);
    int     has_sn = name_count(subj, OID_SURNAME) > 0;
    int     has_o = name_count(subj, OID_ORG) > 0;
    int     has_gn = name_count(subj, OID_GIVENNAME) > 0;
    int     has_in = name_count(subj, OID_INITIALS) > 0;
    int     has_gq = name_count(subj, OID_GENQUAL) > 0;
    char    val[VALUE_MAX];

    check_version(pr, cert);
    check_serial(pr, cert);

    /* c) subject: a person (surname) or an organisation, never both */
    if (has_sn && has_o)
	rule(pr, "subject-kind", 0, "subject has both surname (person) and organizationName (organisation)");
    else if (has_sn)
	rule(pr, "subject-kind", 1, "person: surname present, no organizationName");
    else if (has_o)
	rule(pr, "subject-kind", 1, "organisation: organizationName present, no surname");
    else
	rule(pr, "subject-kind", 0, "subject has neither surname (person) nor organizationName (organisation)");
    if (has_sn)
	rule(pr, "givenname", has_gn, has_gn ? "givenName present with surname"
	     : "surname present but givenName missing");
    else
	rule(pr, "givenname", !has_gn, has_gn ? "givenName present without surname"
	     : "no givenName (not a person)");
    if (has_sn)
	rule(pr, "initials", has_in, has_in ? "initials present with surname"
	     : "surname present but initials missing");
    else
	rule(pr, "initials", !has_in, has_in ? "initials present without surname"
	     : "no initials (not a person)");
    if (has_gq)
	rule(pr, "generation", has_sn, has_sn ? "generationQualifier present with surname"
	     : "generationQualifier present without surname");
    else
	rule(pr, "generation", 1, "no generationQualifier (optional)");
    present(pr, "street", subj, OID_STREET, "streetAddress", "subject");
    present(pr, "locality", subj, OID_LOCALITY, "localityName", "subject");
    optional_state(pr, "state", subj, "subject");
    present(pr, "postalcode", subj, OID_POSTALCODE, "postalCode", "subject");
    if (name_value(subj, CM_OID_AT_COUNTRYCODE3C, val, sizeof(val)))
	rule(pr, "country", alpha3(val), "subject countryCode3c %.40s%s", val,
	     alpha3(val) ? "" : " is not an ISO 3166 alpha-3 code");
    else
	rule(pr, "country", 0, "subject has no countryCode3c (X.520 %s, ISO 3166 alpha-3)",
	     CM_OID_AT_COUNTRYCODE3C);

    /* d) SAN rfc822Name; e) certificatePolicies */
    san_rfc822(pr, san, "the user's address");
    check_policy(pr, cert, CM_OID_POLICY_CLIENT, CM_OID_POLICY_SERVER);
    GENERAL_NAMES_free(san);
}

/* cm_profile_check - Annex C rules for a role */
int     cm_profile_check(X509 *cert, CM_CERT_ROLE role, CM_CERT_REPORT *rep)
{
    PROFILE pr;

    pr.rep = rep;
    pr.failed = 0;
    if (cert == 0) {
	if (role != CM_ROLE_NONE)
	    cm_cert_rule_add(rep, role == CM_ROLE_SERVER ? "c2-version" : "c3-version", 0, "no certificate");
	return (role == CM_ROLE_NONE ? 0 : -1);
    }
    switch (role) {
    case CM_ROLE_SERVER:
	pr.prefix = "c2";
	check_server(&pr, cert);
	break;
    case CM_ROLE_CLIENT:
	pr.prefix = "c3";
	check_client(&pr, cert);
	break;
    default:
	break;
    }
    return (pr.failed ? -1 : 0);
}
