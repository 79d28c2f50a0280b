/*++
 * NAME
 *	cm_pki 3
 * SUMMARY
 *	a test PKI for Cmail: CA, v2 CRL, Annex C.2 and C.3 certificates
 * DESCRIPTION
 *	See cm_pki.h. Everything is done with the OpenSSL 3 library API;
 *	extensions with fixed text go through X509V3_EXT_nconf_nid(),
 *	names and subjectAltName are built as structures so that no user
 *	supplied text is ever parsed as configuration.
 *
 *	Operations that change an existing PKI directory (issuing a user
 *	certificate, revoking) hold an flock(2) on the directory, so two
 *	concurrent revocations cannot lose a CRL entry.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cm_limits.h"
#include "cm_log.h"
#include "cm_pem.h"
#include "cm_pki.h"

#define PKI_NAME_MAX	64		/* ub-common-name, ub-organization-name */
#define PKI_STREET_MAX	128		/* ub-street-address */
#define PKI_LOCALITY_MAX 128		/* ub-locality-name */
#define PKI_POSTAL_MAX	40		/* ub-postal-code */
#define PKI_HOST_MAX	253
#define PKI_LOCAL_MAX	64		/* RFC 5321 local part */

/* The subject and address details of one certificate. */
typedef struct {
    const char *org;
    char    country[4];
    const char *street;
    const char *locality;
    const char *postal_code;
    int     days;
} PKI_PLACE;

/* set_err - format a one-line reason */
static int __attribute__((format(printf, 3, 4))) set_err(char *err, size_t errlen, const char *fmt,...)
{
    va_list ap;

    if (err && errlen) {
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
    }
    return (-1);
}

/* ssl_err - a reason with OpenSSL's error queue appended */
static int ssl_err(char *err, size_t errlen, const char *what)
{
    char    ebuf[512];

    return (set_err(err, errlen, "%s: %s", what, cm_ssl_errors(ebuf, sizeof(ebuf))));
}

/* pki_path - DIR/NAME into buf, -1 when too long */
static int pki_path(char *buf, size_t len, const char *dir, const char *name)
{
    int     n = snprintf(buf, len, "%s/%s", dir, name);

    return (n < 0 || (size_t) n >= len ? -1 : 0);
}

/* user_path - DIR/users/ADDR.EXT into buf, -1 when too long */
static int user_path(char *buf, size_t len, const char *dir, const char *addr, const char *ext)
{
    int     n = snprintf(buf, len, "%s/users/%s.%s", dir, addr, ext);

    return (n < 0 || (size_t) n >= len ? -1 : 0);
}

/* file_exists - the path exists (any type) */
static int file_exists(const char *path)
{
    struct stat st;

    return (lstat(path, &st) == 0);
}

/* make_dir - create a directory 0755, or accept an existing one */
static int make_dir(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(path, 0755) == 0) {
	if (chmod(path, 0755) < 0)
	    return (set_err(err, errlen, "chmod %s: %s", path, strerror(errno)));
	return (0);
    }
    if (errno != EEXIST)
	return (set_err(err, errlen, "mkdir %s: %s", path, strerror(errno)));
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
	return (set_err(err, errlen, "%s exists and is not a directory", path));
    return (0);
}

/* lock_dir - exclusive flock on the PKI directory, fd or -1 */
static int lock_dir(const char *dir, char *err, size_t errlen)
{
    int     fd;

    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
	set_err(err, errlen, "open %s: %s", dir, strerror(errno));
	return (-1);
    }
    if (flock(fd, LOCK_EX) < 0) {
	set_err(err, errlen, "lock %s: %s", dir, strerror(errno));
	close(fd);
	return (-1);
    }
    return (fd);
}

/* unlock_dir - release lock_dir() */
static void unlock_dir(int fd)
{
    if (fd >= 0)
	close(fd);
}

/* cm_pki_nid_dns_name - NID of X.520 id-at-dnsName */
int     cm_pki_nid_dns_name(void)
{
    int     nid = OBJ_txt2nid(CM_PKI_OID_DNS_NAME);

    if (nid == NID_undef)
	nid = OBJ_create(CM_PKI_OID_DNS_NAME, "dnsName", "dnsName");
    return (nid);
}

/* cm_pki_nid_country3c - NID of X.520 id-at-countryCode3c */
int     cm_pki_nid_country3c(void)
{
    int     nid = OBJ_txt2nid(CM_PKI_OID_COUNTRY3C);

    if (nid == NID_undef)
	nid = OBJ_create(CM_PKI_OID_COUNTRY3C, "c3", "countryCode3c");
    return (nid);
}

/* cm_pki_opts_init - the documented defaults */
void    cm_pki_opts_init(CM_PKI_OPTS *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->org = "Cmail Test Organisation";
    opts->country = "FRA";
    opts->street = "1 Test Street";
    opts->locality = "Testville";
    opts->postal_code = "00000";
    opts->days = CM_PKI_DAYS_DEFAULT;
}

/* is_ldh - letter, digit or hyphen */
static int is_ldh(int c)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-');
}

/* cm_pki_hostname_ok - a DNS host name of LDH labels */
int     cm_pki_hostname_ok(const char *name)
{
    size_t  len, label = 0;
    const char *p;

    if (name == 0 || (len = strlen(name)) == 0 || len > PKI_HOST_MAX)
	return (0);
    for (p = name; *p; p++) {
	if (*p == '.') {
	    if (label == 0 || p[-1] == '-')
		return (0);
	    label = 0;
	    continue;
	}
	if (!is_ldh((unsigned char) *p))
	    return (0);
	if (label == 0 && *p == '-')
	    return (0);
	if (++label > 63)
	    return (0);
    }
    return (label > 0 && p[-1] != '-');
}

/* cm_pki_address_ok - a mail address that is also a safe file name */
int     cm_pki_address_ok(const char *addr, char *err, size_t errlen)
{
    const char *at, *p;
    size_t  len;
    static const char atext[] = "!#$%&'*+-=?^_`{|}~.";

    if (addr == 0 || (len = strlen(addr)) == 0)
	return (set_err(err, errlen, "empty address"));
    if (len > CM_ADDRESS_MAX)
	return (set_err(err, errlen, "address longer than %d bytes", CM_ADDRESS_MAX));
    for (p = addr; *p; p++) {
	unsigned char c = (unsigned char) *p;

	if (c < 0x20 || c >= 0x7f)
	    return (set_err(err, errlen, "address contains a control or non-ASCII character"));
	if (c == '/')
	    return (set_err(err, errlen, "address contains '/'"));
    }
    if ((at = strchr(addr, '@')) == 0 || strchr(at + 1, '@') != 0)
	return (set_err(err, errlen, "address must contain exactly one '@'"));
    if (at == addr || (size_t) (at - addr) > PKI_LOCAL_MAX)
	return (set_err(err, errlen, "local part must be 1 to %d characters", PKI_LOCAL_MAX));
    if (addr[0] == '.' || at[-1] == '.')
	return (set_err(err, errlen, "local part must not begin or end with '.'"));
    for (p = addr; p < at; p++) {
	unsigned char c = (unsigned char) *p;

	if (c == '.' && p[1] == '.')
	    return (set_err(err, errlen, "local part contains '..'"));
	if (!(is_ldh(c) && c != '-') && strchr(atext, c) == 0)
	    return (set_err(err, errlen, "local part contains '%c'", c));
    }
    if (!cm_pki_hostname_ok(at + 1))
	return (set_err(err, errlen, "bad domain '%s'", at + 1));
    return (0);
}

/* text_ok - a non-empty attribute value without control characters */
static int text_ok(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
    const unsigned char *p;

    if (s == 0 || *s == 0)
	return (set_err(err, errlen, "%s must not be empty", what));
    if (strlen(s) > max)
	return (set_err(err, errlen, "%s longer than %zu bytes", what, max));
    for (p = (const unsigned char *) s; *p; p++)
	if (*p < 0x20 || *p == 0x7f)
	    return (set_err(err, errlen, "%s contains a control character", what));
    return (0);
}

/* place_from_opts - check and copy the address details */
static int place_from_opts(PKI_PLACE *pl, const CM_PKI_OPTS *opts, char *err, size_t errlen)
{
    CM_PKI_OPTS def;
    int     i;

    if (opts == 0) {
	cm_pki_opts_init(&def);
	opts = &def;
    }
    if (text_ok("organisation", opts->org, PKI_NAME_MAX, err, errlen) < 0
	|| text_ok("street", opts->street, PKI_STREET_MAX, err, errlen) < 0
	|| text_ok("locality", opts->locality, PKI_LOCALITY_MAX, err, errlen) < 0
	|| text_ok("postal code", opts->postal_code, PKI_POSTAL_MAX, err, errlen) < 0)
	return (-1);
    if (opts->country == 0 || strlen(opts->country) != 3)
	return (set_err(err, errlen, "country must be an ISO 3166-1 alpha-3 code such as FRA"));
    for (i = 0; i < 3; i++) {
	char    c = opts->country[i];

	if (c >= 'a' && c <= 'z')
	    c = (char) (c - 'a' + 'A');
	if (c < 'A' || c > 'Z')
	    return (set_err(err, errlen, "country must be an ISO 3166-1 alpha-3 code such as FRA"));
	pl->country[i] = c;
    }
    pl->country[3] = 0;
    if (opts->days < 1 || opts->days > CM_PKI_DAYS_MAX)
	return (set_err(err, errlen, "days must be between 1 and %d", CM_PKI_DAYS_MAX));
    pl->org = opts->org;
    pl->street = opts->street;
    pl->locality = opts->locality;
    pl->postal_code = opts->postal_code;
    pl->days = opts->days;
    return (0);
}

/* name_add - one attribute; type is MBSTRING_UTF8 or a V_ASN1_ string type */
static int name_add(X509_NAME *name, int nid, int type, const char *value)
{
    return (X509_NAME_add_entry_by_NID(name, nid, type, (const unsigned char *) value, -1, -1, 0));
}

/* new_key - a fresh RSA key */
static EVP_PKEY *new_key(char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_RSA_gen(CM_PKI_RSA_BITS);

    if (key == 0)
	ssl_err(err, errlen, "RSA key generation");
    return (key);
}

/*
 * set_random_serial - a random positive serial of exactly 128 bits (the
 * top bit set, 127 random bits; 17 DER octets, within RFC 5280's 20)
 */
static int set_random_serial(ASN1_INTEGER *serial)
{
    BIGNUM *bn = BN_new();
    int     ok = 0;

    if (bn && BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY))
	ok = BN_to_ASN1_INTEGER(bn, serial) != 0;
    BN_free(bn);
    return (ok);
}

/* add_ext - one extension from its OpenSSL configuration text */
static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(0, ctx, nid, value);
    int     ok;

    if (ext == 0)
	return (0);
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return (ok);
}

/* push_name - append a GeneralName; value is consumed */
static int push_name(GENERAL_NAMES *gens, int type, void *value)
{
    GENERAL_NAME *gn;

    if (value == 0)
	return (0);
    if ((gn = GENERAL_NAME_new()) == 0) {
	if (type == GEN_DIRNAME)
	    X509_NAME_free(value);
	else
	    ASN1_STRING_free(value);
	return (0);
    }
    GENERAL_NAME_set0_value(gn, type, value);
    if (!sk_GENERAL_NAME_push(gens, gn)) {
	GENERAL_NAME_free(gn);
	return (0);
    }
    return (1);
}

/* ia5 - an IA5String with the given text, or NULL */
static ASN1_IA5STRING *ia5(const char *text)
{
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (s && !ASN1_STRING_set(s, text, -1)) {
	ASN1_IA5STRING_free(s);
	s = 0;
    }
    return (s);
}

/* add_san - subjectAltName: rfc822Name, optional directoryName and dNSName */
static int add_san(X509 *cert, const char *email, const X509_NAME *dirname, const char *dns)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    int     ok = 0;

    if (gens == 0)
	return (0);
    if (!push_name(gens, GEN_EMAIL, ia5(email)))
	goto out;
    if (dirname && !push_name(gens, GEN_DIRNAME, X509_NAME_dup(dirname)))
	goto out;
    if (dns && !push_name(gens, GEN_DNS, ia5(dns)))
	goto out;
    ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND);
out:
    GENERAL_NAMES_free(gens);
    return (ok);
}

/* new_cert - v3 certificate skeleton: serial, validity, names, key */
static X509 *new_cert(const X509_NAME *subject, X509 *issuer, EVP_PKEY *pubkey, int days)
{
    X509   *cert = X509_new();

    if (cert == 0)
	return (0);
    if (!X509_set_version(cert, X509_VERSION_3)
	|| !set_random_serial(X509_get_serialNumber(cert))
	|| !X509_gmtime_adj(X509_getm_notBefore(cert), 0)
	|| !X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, 0)
	|| !X509_set_subject_name(cert, subject)
	|| !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject)
	|| !X509_set_pubkey(cert, pubkey)) {
	X509_free(cert);
	return (0);
    }
    return (cert);
}

/* make_ca - the self-signed test CA */
static X509 *make_ca(EVP_PKEY *key, const char *domain, const PKI_PLACE *pl, int days,
		             char *err, size_t errlen)
{
    X509_NAME *subject = X509_NAME_new();
    X509   *cert = 0;
    X509V3_CTX ctx;
    char    cn[PKI_NAME_MAX + 1];
    int     n;

    n = snprintf(cn, sizeof(cn), "Cmail Test CA %s", domain);
    if (n < 0 || (size_t) n >= sizeof(cn)) {
	set_err(err, errlen, "domain too long for the CA common name (%d bytes max)", PKI_NAME_MAX);
	goto out;
    }
    if (subject == 0
	|| !name_add(subject, NID_organizationName, MBSTRING_UTF8, pl->org)
	|| !name_add(subject, NID_commonName, MBSTRING_UTF8, cn)
	|| (cert = new_cert(subject, 0, key, days)) == 0) {
	ssl_err(err, errlen, "CA certificate");
	goto out;
    }
    X509V3_set_ctx(&ctx, cert, cert, 0, 0, 0);
    if (!add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE")
	|| !add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")
	|| !add_ext(cert, &ctx, NID_subject_key_identifier, "hash")
	|| !add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always")
	|| !X509_sign(cert, key, EVP_sha256())) {
	ssl_err(err, errlen, "CA certificate");
	X509_free(cert);
	cert = 0;
    }
out:
    X509_NAME_free(subject);
    return (cert);
}

/* place_name - the directoryName/subject part of an address */
static int place_name(X509_NAME *name, const PKI_PLACE *pl, int with_org)
{
    return (name_add(name, cm_pki_nid_country3c(), V_ASN1_PRINTABLESTRING, pl->country)
	    && (!with_org || name_add(name, NID_organizationName, MBSTRING_UTF8, pl->org))
	    && name_add(name, NID_streetAddress, MBSTRING_UTF8, pl->street)
	    && name_add(name, NID_localityName, MBSTRING_UTF8, pl->locality)
	    && name_add(name, NID_postalCode, MBSTRING_UTF8, pl->postal_code));
}

/* add_policy - certificatePolicies with one policy OID, no qualifiers */
static int add_policy(X509 *cert, const char *oid)
{
    CERTIFICATEPOLICIES *pols = CERTIFICATEPOLICIES_new();
    POLICYINFO *pi = POLICYINFO_new();
    int     ok = 0;

    if (pols == 0 || pi == 0 || (pi->policyid = OBJ_txt2obj(oid, 1)) == 0)
	goto out;
    if (!sk_POLICYINFO_push(pols, pi))
	goto out;
    pi = 0;
    ok = X509_add1_ext_i2d(cert, NID_certificate_policies, pols, 0, X509V3_ADD_APPEND);
out:
    POLICYINFO_free(pi);
    CERTIFICATEPOLICIES_free(pols);
    return (ok);
}

/* finish_ee - end-entity extensions and signature */
static int finish_ee(X509 *cert, X509 *ca, EVP_PKEY *ca_key, const char *eku, const char *policy)
{
    X509V3_CTX ctx;

    X509V3_set_ctx(&ctx, ca, cert, 0, 0, 0);
    return (add_ext(cert, &ctx, NID_basic_constraints, "CA:FALSE")
	    && add_ext(cert, &ctx, NID_key_usage,
		       "critical,digitalSignature,nonRepudiation,keyEncipherment")
	    && add_ext(cert, &ctx, NID_ext_key_usage, eku)
	    && add_policy(cert, policy)
	    && add_ext(cert, &ctx, NID_subject_key_identifier, "hash")
	    && add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always")
	    && X509_sign(cert, ca_key, EVP_sha256()));
}

/* make_server - the Annex C.2 server certificate */
static X509 *make_server(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *fqdn,
			         const char *admin, const PKI_PLACE *pl, char *err, size_t errlen)
{
    X509_NAME *subject = X509_NAME_new();
    X509_NAME *dirname = X509_NAME_new();
    X509   *cert = 0;

    if (strlen(fqdn) > PKI_NAME_MAX) {
	set_err(err, errlen, "server name longer than %d bytes", PKI_NAME_MAX);
	goto out;
    }
    if (subject == 0 || dirname == 0
	|| !name_add(subject, NID_organizationName, MBSTRING_UTF8, pl->org)
	|| !name_add(subject, NID_commonName, MBSTRING_UTF8, fqdn)
	|| !name_add(subject, cm_pki_nid_dns_name(), V_ASN1_UTF8STRING, fqdn)
	|| !place_name(dirname, pl, 1)
	|| (cert = new_cert(subject, ca, key, pl->days)) == 0
	|| !add_san(cert, admin, dirname, fqdn)
	|| !finish_ee(cert, ca, ca_key, "serverAuth,clientAuth,emailProtection",
		      CM_PKI_OID_SERVER_POLICY)) {
	ssl_err(err, errlen, "server certificate");
	X509_free(cert);
	cert = 0;
    }
out:
    X509_NAME_free(subject);
    X509_NAME_free(dirname);
    return (cert);
}

/* capitalise - first ASCII letter upper case, into buf */
static void capitalise(char *buf, size_t len, const char *s, size_t n)
{
    if (n >= len)
	n = len - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (buf[0] >= 'a' && buf[0] <= 'z')
	buf[0] = (char) (buf[0] - 'a' + 'A');
}

/* utf8_first - length of the UTF-8 sequence that starts s (1 if invalid) */
static size_t utf8_first(const char *s)
{
    unsigned char c = (unsigned char) *s;
    size_t  n = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : (c >= 0xc0) ? 2 : 1;
    size_t  i;

    for (i = 1; i < n; i++)
	if (((unsigned char) s[i] & 0xc0) != 0x80)
	    return (1);
    return (n);
}

/* cm_pki_name_ok - "Given Surname": words separated by single spaces */
int     cm_pki_name_ok(const char *name, char *err, size_t errlen)
{
    size_t  len;

    if (text_ok("name", name, PKI_NAME_MAX, err, errlen) < 0)
	return (-1);
    len = strlen(name);
    if (strchr(name, ' ') == 0 || name[0] == ' ' || name[len - 1] == ' ' || strstr(name, "  "))
	return (set_err(err, errlen, "name must be \"Given Surname\" (words separated by one space)"));
    return (0);
}

/* person_names - givenName, surname, initials from --name or the address */
static int person_names(const char *addr, const char *name, char *given, char *surname,
			        char *initials, size_t len, char *err, size_t errlen)
{
    const char *at = strchr(addr, '@');
    const char *sep, *p;
    size_t  used = 0, n;

    if (name) {
	if (cm_pki_name_ok(name, err, errlen) < 0)
	    return (-1);
	sep = strrchr(name, ' ');
	if ((size_t) (sep - name) >= len || strlen(sep + 1) >= len)
	    return (set_err(err, errlen, "name too long"));
	memcpy(given, name, (size_t) (sep - name));
	given[sep - name] = 0;
	strcpy(surname, sep + 1);
    } else {
	sep = strpbrk(addr, "._-+");
	if (sep && sep < at && sep > addr && sep + 1 < at) {
	    capitalise(given, len, addr, (size_t) (sep - addr));
	    capitalise(surname, len, sep + 1, (size_t) (at - sep - 1));
	} else {
	    capitalise(given, len, addr, (size_t) (at - addr));
	    capitalise(surname, len, "Test", 4);
	}
    }
    /* The first character of each word of the given name, then the surname's. */
    initials[0] = 0;
    for (p = given; *p; p++) {
	if (*p != ' ' && (p == given || p[-1] == ' ')) {
	    n = utf8_first(p);
	    if (used + n >= len)
		break;
	    memcpy(initials + used, p, n);
	    used += n;
	}
    }
    n = utf8_first(surname);
    if (used + n < len) {
	memcpy(initials + used, surname, n);
	used += n;
    }
    initials[used] = 0;
    for (n = 0; n < used; n++)
	if (initials[n] >= 'a' && initials[n] <= 'z')
	    initials[n] = (char) (initials[n] - 'a' + 'A');
    return (0);
}

/* make_user - the Annex C.3 certificate of a person */
static X509 *make_user(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *addr,
		               const char *name, const PKI_PLACE *pl, char *err, size_t errlen)
{
    char    given[PKI_NAME_MAX + 1], surname[PKI_NAME_MAX + 1];
    char    initials[PKI_NAME_MAX + 1], cn[2 * PKI_NAME_MAX + 2];
    X509_NAME *subject = 0;
    X509   *cert = 0;

    if (person_names(addr, name, given, surname, initials, sizeof(given), err, errlen) < 0)
	return (0);
    snprintf(cn, sizeof(cn), "%s %s", given, surname);
    if (strlen(cn) > PKI_NAME_MAX) {
	set_err(err, errlen, "name \"%s\" longer than %d bytes", cn, PKI_NAME_MAX);
	return (0);
    }
    if ((subject = X509_NAME_new()) == 0
	|| !place_name(subject, pl, 0)
	|| !name_add(subject, NID_surname, MBSTRING_UTF8, surname)
	|| !name_add(subject, NID_givenName, MBSTRING_UTF8, given)
	|| !name_add(subject, NID_initials, MBSTRING_UTF8, initials)
	|| !name_add(subject, NID_commonName, MBSTRING_UTF8, cn)
	|| (cert = new_cert(subject, ca, key, pl->days)) == 0
	|| !add_san(cert, addr, 0, 0)
	|| !finish_ee(cert, ca, ca_key, "emailProtection", CM_PKI_OID_CLIENT_POLICY)) {
	ssl_err(err, errlen, "user certificate");
	X509_free(cert);
	cert = 0;
    }
    X509_NAME_free(subject);
    return (cert);
}

/* crl_number - CRLNumber of a CRL, or NULL */
static BIGNUM *crl_number(X509_CRL *crl)
{
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, 0, 0);
    BIGNUM *bn;

    if (num == 0)
	return (0);
    bn = ASN1_INTEGER_to_BN(num, 0);
    ASN1_INTEGER_free(num);
    return (bn);
}

/* make_crl - a signed v2 CRL: the old entries, one new entry, number + 1 */
static X509_CRL *make_crl(X509 *ca, EVP_PKEY *key, X509_CRL *old, X509_REVOKED *add,
			          char *err, size_t errlen)
{
    X509_CRL *crl = X509_CRL_new();
    STACK_OF(X509_REVOKED) *entries;
    X509_REVOKED *dup;
    ASN1_TIME *t = 0;
    ASN1_INTEGER *num = 0;
    BIGNUM *bn = 0;
    X509_EXTENSION *ext = 0;
    X509V3_CTX ctx;
    int     i, ok = 0;

    if (crl == 0 || (t = X509_gmtime_adj(0, 0)) == 0
	|| !X509_CRL_set_version(crl, X509_CRL_VERSION_2)
	|| !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca))
	|| !X509_CRL_set1_lastUpdate(crl, t)
	|| !X509_time_adj_ex(t, CM_PKI_CRL_DAYS, 0, 0)
	|| !X509_CRL_set1_nextUpdate(crl, t))
	goto out;
    if (old) {
	if ((bn = crl_number(old)) == 0) {
	    set_err(err, errlen, "the current CRL has no CRLNumber");
	    goto fail;
	}
	if (!BN_add_word(bn, 1))
	    goto out;
	entries = X509_CRL_get_REVOKED(old);
	for (i = 0; i < sk_X509_REVOKED_num(entries); i++) {
	    if ((dup = X509_REVOKED_dup(sk_X509_REVOKED_value(entries, i))) == 0)
		goto out;
	    if (!X509_CRL_add0_revoked(crl, dup)) {
		X509_REVOKED_free(dup);
		goto out;
	    }
	}
    } else if ((bn = BN_new()) == 0 || !BN_one(bn))
	goto out;
    if (add) {
	if ((dup = X509_REVOKED_dup(add)) == 0)
	    goto out;
	if (!X509_CRL_add0_revoked(crl, dup)) {
	    X509_REVOKED_free(dup);
	    goto out;
	}
    }
    X509V3_set_ctx(&ctx, ca, 0, 0, crl, 0);
    if ((num = BN_to_ASN1_INTEGER(bn, 0)) == 0
	|| !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)
	|| (ext = X509V3_EXT_nconf_nid(0, &ctx, NID_authority_key_identifier, "keyid:always")) == 0
	|| !X509_CRL_add_ext(crl, ext, -1)
	|| !X509_CRL_sort(crl)
	|| !X509_CRL_sign(crl, key, EVP_sha256()))
	goto out;
    ok = 1;
out:
    if (!ok)
	ssl_err(err, errlen, "CRL");
fail:
    if (!ok) {
	X509_CRL_free(crl);
	crl = 0;
    }
    X509_EXTENSION_free(ext);
    ASN1_INTEGER_free(num);
    BN_free(bn);
    ASN1_TIME_free(t);
    return (crl);
}

/* write_crl - a CRL to a PEM file, atomically, mode 0644 */
static int write_crl(const char *path, X509_CRL *crl, char *err, size_t errlen)
{
    BIO    *bio = BIO_new(BIO_s_mem());
    char   *data;
    long    len;
    int     ret = -1;

    if (bio && PEM_write_bio_X509_CRL(bio, crl) && (len = BIO_get_mem_data(bio, &data)) > 0)
	ret = cm_write_file_atomic(path, data, (size_t) len, 0644);
    if (ret < 0)
	set_err(err, errlen, "write %s: %s", path, strerror(errno));
    BIO_free(bio);
    return (ret);
}

/* write_key - a key file, reason in err */
static int write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
    if (cm_pem_write_key(path, key) < 0)
	return (set_err(err, errlen, "write %s: %s", path, strerror(errno)));
    return (0);
}

/* write_cert - a certificate file, reason in err */
static int write_cert(const char *path, X509 *cert, char *err, size_t errlen)
{
    if (cm_pem_write_cert(path, cert) < 0)
	return (set_err(err, errlen, "write %s: %s", path, strerror(errno)));
    return (0);
}

/* cm_pki_exists - DIR holds a CA certificate */
int     cm_pki_exists(const char *dir)
{
    char    path[PATH_MAX];

    return (pki_path(path, sizeof(path), dir, "ca.pem") == 0 && file_exists(path));
}

/* init_opts - check the options of init, derive FQDN, admin, place, CA days */
static int init_opts(const CM_PKI_OPTS *opts, char *fqdn, size_t fqdn_len, char *admin,
		             size_t admin_len, PKI_PLACE *pl, int *ca_days, char *err, size_t errlen)
{
    int     n;

    if (opts == 0 || opts->domain == 0)
	return (set_err(err, errlen, "a domain is required"));
    if (!cm_pki_hostname_ok(opts->domain))
	return (set_err(err, errlen, "bad domain '%s'", opts->domain));
    if (strlen(opts->domain) + sizeof("Cmail Test CA ") - 1 > PKI_NAME_MAX)
	return (set_err(err, errlen, "domain longer than %d bytes (the CA common name must fit in %d)",
		   (int) (PKI_NAME_MAX - sizeof("Cmail Test CA ") + 1), PKI_NAME_MAX));
    n = snprintf(fqdn, fqdn_len, "%s%s", opts->server_name ? "" : "mail.",
		 opts->server_name ? opts->server_name : opts->domain);
    if (n < 0 || (size_t) n >= fqdn_len || !cm_pki_hostname_ok(fqdn))
	return (set_err(err, errlen, "bad server name '%s'", fqdn));
    if (strlen(fqdn) > PKI_NAME_MAX)
	return (set_err(err, errlen, "server name longer than %d bytes (it is the CN)", PKI_NAME_MAX));
    n = snprintf(admin, admin_len, "postmaster@%s", opts->domain);
    if (n < 0 || (size_t) n >= admin_len || cm_pki_address_ok(admin, err, errlen) < 0)
	return (set_err(err, errlen, "bad administrator address postmaster@%s", opts->domain));
    if (place_from_opts(pl, opts, err, errlen) < 0)
	return (-1);
    *ca_days = opts->ca_days ? opts->ca_days
	: (opts->days > CM_PKI_CA_DAYS_MIN ? opts->days : CM_PKI_CA_DAYS_MIN);
    if (*ca_days < 1 || *ca_days > CM_PKI_DAYS_MAX)
	return (set_err(err, errlen, "CA days must be between 1 and %d", CM_PKI_DAYS_MAX));
    return (0);
}

/* cm_pki_opts_check - are the options good for init (need_domain) or a user */
int     cm_pki_opts_check(const CM_PKI_OPTS *opts, int need_domain, char *err, size_t errlen)
{
    char    fqdn[PKI_HOST_MAX + 1], admin[CM_ADDRESS_MAX + 1];
    PKI_PLACE pl;
    int     ca_days;

    if (need_domain)
	return (init_opts(opts, fqdn, sizeof(fqdn), admin, sizeof(admin), &pl, &ca_days,
			  err, errlen));
    return (place_from_opts(&pl, opts, err, errlen));
}

/* cm_pki_init - a new test PKI in dir */
int     cm_pki_init(const char *dir, const CM_PKI_OPTS *opts, char *err, size_t errlen)
{
    char    path[PATH_MAX], fqdn[PKI_HOST_MAX + 1], admin[CM_ADDRESS_MAX + 1];
    PKI_PLACE pl;
    EVP_PKEY *ca_key = 0, *srv_key = 0;
    X509   *ca = 0, *srv = 0;
    X509_CRL *crl = 0;
    int     ca_days, lock = -1, ret = -1;

    if (init_opts(opts, fqdn, sizeof(fqdn), admin, sizeof(admin), &pl, &ca_days, err, errlen) < 0)
	return (-1);
    if (pki_path(path, sizeof(path), dir, "users/x@x.pem") < 0)
	return (set_err(err, errlen, "directory name too long"));
    if (cm_pki_exists(dir))
	return (set_err(err, errlen, "%s/ca.pem exists: refusing to overwrite a PKI", dir));

    /* Everything in memory first. */
    if ((ca_key = new_key(err, errlen)) == 0
	|| (ca = make_ca(ca_key, opts->domain, &pl, ca_days, err, errlen)) == 0
	|| (crl = make_crl(ca, ca_key, 0, 0, err, errlen)) == 0
	|| (srv_key = new_key(err, errlen)) == 0
	|| (srv = make_server(srv_key, ca, ca_key, fqdn, admin, &pl, err, errlen)) == 0)
	goto out;

    /* Then the files, ca.pem last: a PKI without it can be made again. */
    if (make_dir(dir, err, errlen) < 0 || (lock = lock_dir(dir, err, errlen)) < 0)
	goto out;
    if (cm_pki_exists(dir)) {
	set_err(err, errlen, "%s/ca.pem exists: refusing to overwrite a PKI", dir);
	goto out;
    }
    pki_path(path, sizeof(path), dir, "users");
    if (make_dir(path, err, errlen) < 0)
	goto out;
    pki_path(path, sizeof(path), dir, "ca.key");
    if (write_key(path, ca_key, err, errlen) < 0)
	goto out;
    pki_path(path, sizeof(path), dir, "crl.pem");
    if (write_crl(path, crl, err, errlen) < 0)
	goto out;
    pki_path(path, sizeof(path), dir, "server.key");
    if (write_key(path, srv_key, err, errlen) < 0)
	goto out;
    pki_path(path, sizeof(path), dir, "server.pem");
    if (write_cert(path, srv, err, errlen) < 0)
	goto out;
    pki_path(path, sizeof(path), dir, "ca.pem");
    if (write_cert(path, ca, err, errlen) < 0)
	goto out;
    ret = 0;
out:
    unlock_dir(lock);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    X509_free(ca);
    X509_free(srv);
    X509_CRL_free(crl);
    return (ret);
}

/* load_ca - the CA certificate and its matching key */
static int load_ca(const char *dir, X509 **ca, EVP_PKEY **key, char *err, size_t errlen)
{
    char    path[PATH_MAX];

    *ca = 0;
    *key = 0;
    if (pki_path(path, sizeof(path), dir, "ca.pem") < 0)
	return (set_err(err, errlen, "directory name too long"));
    if ((*ca = cm_pem_read_cert(path, err, errlen)) == 0)
	return (-1);
    pki_path(path, sizeof(path), dir, "ca.key");
    if ((*key = cm_pem_read_key(path, err, errlen)) == 0)
	goto fail;
    if (!X509_check_private_key(*ca, *key)) {
	ERR_clear_error();
	set_err(err, errlen, "%s does not match %s/ca.pem", path, dir);
	goto fail;
    }
    return (0);
fail:
    X509_free(*ca);
    EVP_PKEY_free(*key);
    *ca = 0;
    *key = 0;
    return (-1);
}

/* cm_pki_issue_user - an Annex C.3 certificate and key for addr */
int     cm_pki_issue_user(const char *dir, const char *addr, const char *name,
			          const CM_PKI_OPTS *opts, char *err, size_t errlen)
{
    char    cert_path[PATH_MAX], key_path[PATH_MAX];
    PKI_PLACE pl;
    X509   *ca = 0, *cert = 0;
    EVP_PKEY *ca_key = 0, *key = 0;
    int     lock, ret = -1, exists = 0;

    if (cm_pki_address_ok(addr, err, errlen) < 0)
	return (-1);
    if (place_from_opts(&pl, opts, err, errlen) < 0)
	return (-1);
    if (user_path(cert_path, sizeof(cert_path), dir, addr, "pem") < 0
	|| user_path(key_path, sizeof(key_path), dir, addr, "key") < 0)
	return (set_err(err, errlen, "directory name too long"));
    if ((lock = lock_dir(dir, err, errlen)) < 0)
	return (-1);
    if (file_exists(cert_path)) {
	set_err(err, errlen, "%s exists: refusing to overwrite", cert_path);
	exists = 1;
	goto out;
    }
    if (load_ca(dir, &ca, &ca_key, err, errlen) < 0)
	goto out;
    if ((key = new_key(err, errlen)) == 0
	|| (cert = make_user(key, ca, ca_key, addr, name, &pl, err, errlen)) == 0)
	goto out;
    snprintf(key_path, sizeof(key_path), "%s/users", dir);
    if (make_dir(key_path, err, errlen) < 0)
	goto out;
    user_path(key_path, sizeof(key_path), dir, addr, "key");
    if (write_key(key_path, key, err, errlen) < 0 || write_cert(cert_path, cert, err, errlen) < 0)
	goto out;
    ret = 0;
out:
    unlock_dir(lock);
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    if (exists)
	errno = EEXIST;
    return (ret);
}

static const struct {
    const char *name;
    int     code;
} reasons[] = {
    {"unspecified", CRL_REASON_UNSPECIFIED},
    {"keyCompromise", CRL_REASON_KEY_COMPROMISE},
    {"cACompromise", CRL_REASON_CA_COMPROMISE},
    {"affiliationChanged", CRL_REASON_AFFILIATION_CHANGED},
    {"superseded", CRL_REASON_SUPERSEDED},
    {"cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION},
    {"certificateHold", CRL_REASON_CERTIFICATE_HOLD},
    {"privilegeWithdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN},
    {"aACompromise", CRL_REASON_AA_COMPROMISE},
    {0, 0},
};

/* cm_pki_reason_from_name - RFC 5280 CRLReason code of a name, -1 if unknown */
int     cm_pki_reason_from_name(const char *name)
{
    int     i;

    for (i = 0; name && reasons[i].name; i++)
	if (strcasecmp(name, reasons[i].name) == 0)
	    return (reasons[i].code);
    return (-1);
}

/* cm_pki_reason_name - name of a CRLReason code */
const char *cm_pki_reason_name(int reason)
{
    int     i;

    for (i = 0; reasons[i].name; i++)
	if (reasons[i].code == reason)
	    return (reasons[i].name);
    return ("none");
}

/* revoked_entry - a CRL entry for cert, revoked now */
static X509_REVOKED *revoked_entry(X509 *cert, int reason)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_TIME *now = X509_gmtime_adj(0, 0);
    ASN1_ENUMERATED *code = 0;
    int     ok = 0;

    if (rev == 0 || now == 0
	|| !X509_REVOKED_set_serialNumber(rev, (ASN1_INTEGER *) X509_get0_serialNumber(cert))
	|| !X509_REVOKED_set_revocationDate(rev, now))
	goto out;
    /* RFC 5280 5.3.1: the code unspecified (0) SHOULD be absent. */
    if (reason > CRL_REASON_UNSPECIFIED) {
	if ((code = ASN1_ENUMERATED_new()) == 0
	    || !ASN1_ENUMERATED_set(code, reason)
	    || !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0))
	    goto out;
    }
    ok = 1;
out:
    ASN1_ENUMERATED_free(code);
    ASN1_TIME_free(now);
    if (!ok) {
	X509_REVOKED_free(rev);
	rev = 0;
    }
    return (rev);
}

/* read_crl - a PEM CRL file */
static X509_CRL *read_crl(const char *path, char *err, size_t errlen)
{
    FILE   *fp;
    X509_CRL *crl;

    if ((fp = fopen(path, "r")) == 0) {
	set_err(err, errlen, "open %s: %s", path, strerror(errno));
	return (0);
    }
    crl = PEM_read_X509_CRL(fp, 0, 0, 0);
    fclose(fp);
    if (crl == 0)
	ssl_err(err, errlen, path);
    return (crl);
}

/*
 * update_crl - re-issue DIR/crl.pem with its entries, plus one for addr
 * when addr is not NULL, under the directory lock
 */
static int update_crl(const char *dir, const char *addr, int reason, char *err, size_t errlen)
{
    char    path[PATH_MAX], crl_path[PATH_MAX];
    X509   *ca = 0, *cert = 0;
    EVP_PKEY *ca_key = 0;
    X509_CRL *old = 0, *crl = 0;
    X509_REVOKED *rev = 0, *found;
    int     lock, ret = -1;

    if (pki_path(crl_path, sizeof(crl_path), dir, "crl.pem") < 0
	|| (addr && user_path(path, sizeof(path), dir, addr, "pem") < 0))
	return (set_err(err, errlen, "directory name too long"));
    if ((lock = lock_dir(dir, err, errlen)) < 0)
	return (-1);
    if (addr && !file_exists(path)) {
	set_err(err, errlen, "no certificate for %s in %s/users", addr, dir);
	goto out;
    }
    if ((addr && (cert = cm_pem_read_cert(path, err, errlen)) == 0)
	|| load_ca(dir, &ca, &ca_key, err, errlen) < 0
	|| (old = read_crl(crl_path, err, errlen)) == 0)
	goto out;
    if (X509_NAME_cmp(X509_CRL_get_issuer(old), X509_get_subject_name(ca)) != 0
	|| X509_CRL_verify(old, X509_get0_pubkey(ca)) != 1) {
	ERR_clear_error();
	set_err(err, errlen, "%s is not signed by %s/ca.pem", crl_path, dir);
	goto out;
    }
    if (cert) {
	if (X509_check_issued(ca, cert) != X509_V_OK
	    || X509_verify(cert, X509_get0_pubkey(ca)) != 1) {
	    ERR_clear_error();
	    set_err(err, errlen, "%s was not issued by %s/ca.pem", path, dir);
	    goto out;
	}
	if (X509_CRL_get0_by_serial(old, &found, X509_get0_serialNumber(cert)) == 1) {
	    set_err(err, errlen, "the certificate of %s is already revoked", addr);
	    goto out;
	}
	if ((rev = revoked_entry(cert, reason)) == 0) {
	    ssl_err(err, errlen, "CRL entry");
	    goto out;
	}
    }
    if ((crl = make_crl(ca, ca_key, old, rev, err, errlen)) == 0
	|| write_crl(crl_path, crl, err, errlen) < 0)
	goto out;
    ret = 0;
out:
    unlock_dir(lock);
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    X509_CRL_free(old);
    X509_CRL_free(crl);
    X509_REVOKED_free(rev);
    return (ret);
}

/* cm_pki_revoke - put the certificate of addr on the CRL */
int     cm_pki_revoke(const char *dir, const char *addr, int reason, char *err, size_t errlen)
{
    if (cm_pki_address_ok(addr, err, errlen) < 0)
	return (-1);
    if (reason != CRL_REASON_NONE
	&& (reason < CRL_REASON_UNSPECIFIED || reason > CRL_REASON_AA_COMPROMISE
	    || reason == 7 || reason == CRL_REASON_REMOVE_FROM_CRL))
	return (set_err(err, errlen, "bad revocation reason %d", reason));
    return (update_crl(dir, addr, reason, err, errlen));
}

/* cm_pki_refresh_crl - re-issue the CRL unchanged but for dates and number */
int     cm_pki_refresh_crl(const char *dir, char *err, size_t errlen)
{
    return (update_crl(dir, 0, CRL_REASON_NONE, err, errlen));
}
