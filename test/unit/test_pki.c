/*++
 * NAME
 *	test_pki 1
 * SUMMARY
 *	unit tests for cm_pki: the test PKI generator
 * DESCRIPTION
 *	Makes a PKI in a temporary directory with cm_pki_init() and
 *	cm_pki_issue_user(), then reads every file back with the OpenSSL
 *	API: file modes, the CA, the empty v2 CRL, the Annex C.2 server and
 *	C.3 user certificates (names, string types, SAN, policies, key
 *	usage, EKU, SKI/AKI), keys matching certificates, path validation
 *	with CRL checking, revocation (CRLNumber, serial, reason, twice is
 *	an error) and refused addresses and options. One cmocka group.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cm_limits.h"
#include "cm_pem.h"
#include "cm_pki.h"

#define DOMAIN	"example.org"
#define FQDN	"cmail.example.org"

typedef struct {
    char    top[256];			/* mkdtemp directory */
    char    dir[300];			/* the PKI: top/pki */
} FIXTURE;

static char err[512];

/* path_of - DIR/NAME in a static buffer (one at a time) */
static const char *path_of(FIXTURE *fx, const char *name)
{
    static char buf[600];

    snprintf(buf, sizeof(buf), "%s/%s", fx->dir, name);
    return (buf);
}

/* load_cert - a certificate of the fixture, asserted present */
static X509 *load_cert(FIXTURE *fx, const char *name)
{
    X509   *cert = cm_pem_read_cert(path_of(fx, name), err, sizeof(err));

    if (cert == 0)
	fail_msg("%s", err);
    return (cert);
}

/* load_crl - the fixture's CRL */
static X509_CRL *load_crl(FIXTURE *fx)
{
    FILE   *fp = fopen(path_of(fx, "crl.pem"), "r");
    X509_CRL *crl;

    assert_non_null(fp);
    crl = PEM_read_X509_CRL(fp, 0, 0, 0);
    fclose(fp);
    assert_non_null(crl);
    return (crl);
}

/* rm_tree - rm -rf of our scratch directory (no symlinks are made) */
static void rm_tree(const char *path)
{
    DIR    *d;
    struct dirent *e;
    char    sub[1024];

    if ((d = opendir(path)) != 0) {
	while ((e = readdir(d)) != 0) {
	    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
		continue;
	    snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
	    rm_tree(sub);
	}
	closedir(d);
	rmdir(path);
    } else {
	unlink(path);
    }
}

/* group_setup - one PKI for the whole group */
static int group_setup(void **state)
{
    FIXTURE *fx = calloc(1, sizeof(*fx));
    CM_PKI_OPTS opts;
    const char *tmp = getenv("TMPDIR");

    if (fx == 0)
	return (-1);
    snprintf(fx->top, sizeof(fx->top), "%s/cmail-pki.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(fx->top) == 0)
	return (-1);
    snprintf(fx->dir, sizeof(fx->dir), "%s/pki", fx->top);
    cm_pki_opts_init(&opts);
    opts.domain = DOMAIN;
    opts.server_name = FQDN;
    opts.days = 400;
    if (cm_pki_init(fx->dir, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(fx->dir, "alice@" DOMAIN, 0, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(fx->dir, "bob@" DOMAIN, 0, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(fx->dir, "john.smith@" DOMAIN, 0, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(fx->dir, "rpj@" DOMAIN, "Robert Paul Jones", &opts,
			     err, sizeof(err)) < 0) {
	fprintf(stderr, "# setup: %s\n", err);
	rm_tree(fx->top);
	free(fx);
	return (-1);
    }
    *state = fx;
    return (0);
}

/* group_teardown - remove the PKI */
static int group_teardown(void **state)
{
    FIXTURE *fx = *state;

    rm_tree(fx->top);
    free(fx);
    return (0);
}

/* assert_mode - the permission bits of a path */
static void assert_mode(const char *path, mode_t mode)
{
    struct stat st;

    if (stat(path, &st) < 0)
	fail_msg("stat %s: %s", path, strerror(errno));
    if ((st.st_mode & 07777) != mode)
	fail_msg("%s: mode %o, expected %o", path, (unsigned) (st.st_mode & 07777), (unsigned) mode);
}

/* test_file_modes - keys 0600, certificates 0644, directories 0755 */
static void test_file_modes(void **state)
{
    FIXTURE *fx = *state;
    static const char *keys[] = {"ca.key", "server.key", "users/alice@" DOMAIN ".key",
	"users/bob@" DOMAIN ".key", "users/john.smith@" DOMAIN ".key", 0};
    static const char *pub[] = {"ca.pem", "crl.pem", "server.pem",
	"users/alice@" DOMAIN ".pem", 0};
    int     i;

    for (i = 0; keys[i]; i++)
	assert_mode(path_of(fx, keys[i]), 0600);
    for (i = 0; pub[i]; i++)
	assert_mode(path_of(fx, pub[i]), 0644);
    assert_mode(fx->dir, 0755);
    assert_mode(path_of(fx, "users"), 0755);
}

/* name_text - the UTF-8 text of the first nid entry of a name, or NULL */
static char *name_text(const X509_NAME *name, int nid, int *type)
{
    int     i = X509_NAME_get_index_by_NID(name, nid, -1);
    ASN1_STRING *s;
    unsigned char *utf8 = 0;

    if (i < 0)
	return (0);
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    if (type)
	*type = ASN1_STRING_type(s);
    if (ASN1_STRING_to_UTF8(&utf8, s) < 0)
	return (0);
    return ((char *) utf8);
}

/* assert_name - entry nid of name equals text */
static void assert_name(const X509_NAME *name, int nid, const char *text)
{
    char   *val = name_text(name, nid, 0);

    if (val == 0)
	fail_msg("no %s in the name", OBJ_nid2ln(nid));
    if (strcmp(val, text) != 0)
	fail_msg("%s is '%s', expected '%s'", OBJ_nid2ln(nid), val, text);
    OPENSSL_free(val);
}

/* has_policy - certificatePolicies holds oid */
static int has_policy(X509 *cert, const char *oid)
{
    CERTIFICATEPOLICIES *pols = X509_get_ext_d2i(cert, NID_certificate_policies, 0, 0);
    char    buf[80];
    int     i, found = 0;

    for (i = 0; pols && i < sk_POLICYINFO_num(pols); i++) {
	OBJ_obj2txt(buf, sizeof(buf), sk_POLICYINFO_value(pols, i)->policyid, 1);
	if (strcmp(buf, oid) == 0)
	    found = 1;
    }
    CERTIFICATEPOLICIES_free(pols);
    return (found);
}

/* assert_ee_common - extensions shared by server and user certificates */
static void assert_ee_common(X509 *cert, X509 *ca, EVP_PKEY *key)
{
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, 0);
    int     crit = -1;
    ASN1_BIT_STRING *ku;
    BASIC_CONSTRAINTS *bc;
    const ASN1_OCTET_STRING *aki, *ski;

    assert_int_equal(X509_get_version(cert), X509_VERSION_3);
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_int_equal(BN_num_bits(bn), 128);
    BN_free(bn);

    ku = X509_get_ext_d2i(cert, NID_key_usage, &crit, 0);
    assert_non_null(ku);
    assert_int_equal(crit, 1);
    ASN1_BIT_STRING_free(ku);
    assert_int_equal(X509_get_key_usage(cert),
		     KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_ENCIPHERMENT);

    bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, 0);
    assert_non_null(bc);
    assert_false(bc->ca);
    BASIC_CONSTRAINTS_free(bc);

    ski = X509_get0_subject_key_id(cert);
    aki = X509_get0_authority_key_id(cert);
    assert_non_null(ski);
    assert_non_null(aki);
    assert_int_equal(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(ca)), 0);

    assert_int_equal(X509_check_issued(ca, cert), X509_V_OK);
    assert_int_equal(X509_verify(cert, X509_get0_pubkey(ca)), 1);
    assert_int_equal(X509_check_private_key(cert, key), 1);
    assert_int_equal(EVP_PKEY_get_bits(key), CM_PKI_RSA_BITS);
}

/* test_ca - self-signed v3 CA with the right constraints */
static void test_ca(void **state)
{
    FIXTURE *fx = *state;
    X509   *ca = load_cert(fx, "ca.pem");
    EVP_PKEY *key = cm_pem_read_key(path_of(fx, "ca.key"), err, sizeof(err));
    BASIC_CONSTRAINTS *bc;
    ASN1_BIT_STRING *ku;
    int     crit = -1, days = 0, secs = 0;

    assert_non_null(key);
    assert_int_equal(X509_get_version(ca), X509_VERSION_3);
    assert_int_equal(X509_check_private_key(ca, key), 1);
    assert_int_equal(X509_verify(ca, key), 1);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(ca)), 0);
    assert_name(X509_get_subject_name(ca), NID_commonName, "Cmail Test CA " DOMAIN);
    assert_name(X509_get_subject_name(ca), NID_organizationName, "Cmail Test Organisation");

    bc = X509_get_ext_d2i(ca, NID_basic_constraints, &crit, 0);
    assert_non_null(bc);
    assert_int_equal(crit, 1);
    assert_true(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    ku = X509_get_ext_d2i(ca, NID_key_usage, &crit, 0);
    assert_non_null(ku);
    assert_int_equal(crit, 1);
    ASN1_BIT_STRING_free(ku);
    assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_non_null(X509_get0_subject_key_id(ca));
    assert_true(X509_check_ca(ca) > 0);

    /* days 400 < 3650: the CA lives 3650 days */
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca)));
    assert_int_equal(days, CM_PKI_CA_DAYS_MIN);
    X509_free(ca);
    EVP_PKEY_free(key);
}

/* test_crl_initial - empty v2 CRL, CRLNumber 1, AKI, 30 days */
static void test_crl_initial(void **state)
{
    FIXTURE *fx = *state;
    X509_CRL *crl = load_crl(fx);
    X509   *ca = load_cert(fx, "ca.pem");
    ASN1_INTEGER *num;
    AUTHORITY_KEYID *akid;
    int     days = 0, secs = 0;

    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)), 0);
    assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);	/* none, or no list */
    num = X509_CRL_get_ext_d2i(crl, NID_crl_number, 0, 0);
    assert_non_null(num);
    assert_int_equal(ASN1_INTEGER_get(num), 1);
    ASN1_INTEGER_free(num);
    akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, 0, 0);
    assert_non_null(akid);
    assert_non_null(akid->keyid);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(ca)), 0);
    AUTHORITY_KEYID_free(akid);
    assert_non_null(X509_CRL_get0_nextUpdate(crl));
    assert_true(ASN1_TIME_diff(&days, &secs, X509_CRL_get0_lastUpdate(crl),
			       X509_CRL_get0_nextUpdate(crl)));
    assert_int_equal(days, CM_PKI_CRL_DAYS);
    assert_int_equal(secs, 0);
    X509_CRL_free(crl);
    X509_free(ca);
}

/* find_gen - the nth GeneralName of a type in a SAN list */
static GENERAL_NAME *find_gen(GENERAL_NAMES *gens, int type, int nth)
{
    int     i;

    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);

	if (gn->type == type && nth-- == 0)
	    return (gn);
    }
    return (0);
}

/* assert_ia5 - an IA5String holds exactly text */
static void assert_ia5(const ASN1_IA5STRING *s, const char *text)
{
    assert_int_equal(ASN1_STRING_length(s), (int) strlen(text));
    assert_memory_equal(ASN1_STRING_get0_data(s), text, strlen(text));
}

/* test_server - Annex C.2 */
static void test_server(void **state)
{
    FIXTURE *fx = *state;
    X509   *cert = load_cert(fx, "server.pem");
    X509   *ca = load_cert(fx, "ca.pem");
    EVP_PKEY *key = cm_pem_read_key(path_of(fx, "server.key"), err, sizeof(err));
    const X509_NAME *subj = X509_get_subject_name(cert);
    GENERAL_NAMES *gens;
    GENERAL_NAME *gn;
    X509_NAME *dn;
    char   *val;
    int     type = 0, xku;

    assert_non_null(key);
    assert_ee_common(cert, ca, key);

    /* subject: dnsName (2.5.4.100) as UTF8String, CN, O */
    assert_int_equal(cm_pki_nid_dns_name(), OBJ_txt2nid("2.5.4.100"));
    val = name_text(subj, cm_pki_nid_dns_name(), &type);
    assert_non_null(val);
    assert_string_equal(val, FQDN);
    assert_int_equal(type, V_ASN1_UTF8STRING);
    OPENSSL_free(val);
    assert_name(subj, NID_commonName, FQDN);
    assert_name(subj, NID_organizationName, "Cmail Test Organisation");

    /* SAN: postmaster, directoryName, dNSName */
    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, 0, 0);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
    gn = find_gen(gens, GEN_EMAIL, 0);
    assert_non_null(gn);
    assert_ia5(gn->d.rfc822Name, "postmaster@" DOMAIN);
    gn = find_gen(gens, GEN_DNS, 0);
    assert_non_null(gn);
    assert_ia5(gn->d.dNSName, FQDN);
    gn = find_gen(gens, GEN_DIRNAME, 0);
    assert_non_null(gn);
    dn = gn->d.directoryName;
    assert_int_equal(cm_pki_nid_country3c(), OBJ_txt2nid("2.5.4.98"));
    val = name_text(dn, cm_pki_nid_country3c(), &type);
    assert_non_null(val);
    assert_string_equal(val, "FRA");
    assert_int_equal(type, V_ASN1_PRINTABLESTRING);
    OPENSSL_free(val);
    assert_int_equal(X509_NAME_get_index_by_NID(dn, NID_countryName, -1), -1);
    assert_name(dn, NID_organizationName, "Cmail Test Organisation");
    assert_name(dn, NID_streetAddress, "1 Test Street");
    assert_name(dn, NID_localityName, "Testville");
    assert_name(dn, NID_postalCode, "00000");
    GENERAL_NAMES_free(gens);

    assert_true(has_policy(cert, CM_PKI_OID_SERVER_POLICY));
    assert_false(has_policy(cert, CM_PKI_OID_CLIENT_POLICY));
    xku = (int) X509_get_extended_key_usage(cert);
    assert_true(xku & XKU_SSL_SERVER);
    assert_true(xku & XKU_SSL_CLIENT);
    assert_true(xku & XKU_SMIME);
    assert_int_equal(X509_check_host(cert, FQDN, 0, 0, 0), 1);
    assert_int_equal(X509_check_email(cert, "postmaster@" DOMAIN, 0, 0), 1);

    /* 400 days, as asked */
    {
	int     days = 0, secs = 0;

	assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert),
				   X509_get0_notAfter(cert)));
	assert_int_equal(days, 400);
    }
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
}

/* check_user - Annex C.3 for one user */
static void check_user(FIXTURE *fx, const char *addr, const char *given, const char *surname,
		               const char *initials)
{
    char    name[300], cn[200];
    X509   *cert, *ca = load_cert(fx, "ca.pem");
    EVP_PKEY *key;
    const X509_NAME *subj;
    GENERAL_NAMES *gens;
    GENERAL_NAME *gn;
    char   *val;
    int     type = 0;

    snprintf(name, sizeof(name), "users/%s.pem", addr);
    cert = load_cert(fx, name);
    snprintf(name, sizeof(name), "users/%s.key", addr);
    key = cm_pem_read_key(path_of(fx, name), err, sizeof(err));
    assert_non_null(key);
    assert_ee_common(cert, ca, key);

    subj = X509_get_subject_name(cert);
    assert_name(subj, NID_givenName, given);
    assert_name(subj, NID_surname, surname);
    assert_name(subj, NID_initials, initials);
    snprintf(cn, sizeof(cn), "%s %s", given, surname);
    assert_name(subj, NID_commonName, cn);
    assert_name(subj, NID_streetAddress, "1 Test Street");
    assert_name(subj, NID_localityName, "Testville");
    assert_name(subj, NID_postalCode, "00000");
    val = name_text(subj, cm_pki_nid_country3c(), &type);
    assert_non_null(val);
    assert_string_equal(val, "FRA");
    assert_int_equal(type, V_ASN1_PRINTABLESTRING);
    OPENSSL_free(val);
    /* A person: no organizationName, no countryName */
    assert_int_equal(X509_NAME_get_index_by_NID(subj, NID_organizationName, -1), -1);
    assert_int_equal(X509_NAME_get_index_by_NID(subj, NID_countryName, -1), -1);

    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, 0, 0);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
    gn = sk_GENERAL_NAME_value(gens, 0);
    assert_int_equal(gn->type, GEN_EMAIL);
    assert_ia5(gn->d.rfc822Name, addr);
    GENERAL_NAMES_free(gens);

    assert_true(has_policy(cert, CM_PKI_OID_CLIENT_POLICY));
    assert_false(has_policy(cert, CM_PKI_OID_SERVER_POLICY));
    assert_int_equal(X509_get_extended_key_usage(cert), XKU_SMIME);
    assert_int_equal(X509_check_email(cert, addr, 0, 0), 1);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
}

/* test_users - Annex C.3, names derived and given */
static void test_users(void **state)
{
    FIXTURE *fx = *state;

    check_user(fx, "alice@" DOMAIN, "Alice", "Test", "AT");
    check_user(fx, "john.smith@" DOMAIN, "John", "Smith", "JS");
    check_user(fx, "rpj@" DOMAIN, "Robert Paul", "Jones", "RPJ");
}

/* test_serials_distinct - no two certificates share a serial */
static void test_serials_distinct(void **state)
{
    FIXTURE *fx = *state;
    static const char *names[] = {"ca.pem", "server.pem", "users/alice@" DOMAIN ".pem",
	"users/bob@" DOMAIN ".pem", "users/john.smith@" DOMAIN ".pem", "users/rpj@" DOMAIN ".pem"};
    X509   *c[6];
    int     i, j;

    for (i = 0; i < 6; i++)
	c[i] = load_cert(fx, names[i]);
    for (i = 0; i < 6; i++)
	for (j = i + 1; j < 6; j++)
	    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(c[i]),
						  X509_get0_serialNumber(c[j])), 0);
    for (i = 0; i < 6; i++)
	X509_free(c[i]);
}

/* verify - path validation with CRL checking, the X509_V_ code */
static int verify(FIXTURE *fx, const char *name, int purpose)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509   *ca = load_cert(fx, "ca.pem");
    X509   *cert = load_cert(fx, name);
    X509_CRL *crl = load_crl(fx);
    int     code;

    assert_non_null(store);
    assert_non_null(ctx);
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    assert_int_equal(X509_STORE_add_crl(store, crl), 1);
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
    assert_int_equal(X509_STORE_set_purpose(store, purpose), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, 0), 1);
    X509_verify_cert(ctx);
    code = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(cert);
    X509_CRL_free(crl);
    return (code);
}

/* test_verify - every certificate validates against CA and CRL */
static void test_verify(void **state)
{
    FIXTURE *fx = *state;

    assert_int_equal(verify(fx, "server.pem", X509_PURPOSE_SSL_SERVER), X509_V_OK);
    assert_int_equal(verify(fx, "server.pem", X509_PURPOSE_SMIME_SIGN), X509_V_OK);
    assert_int_equal(verify(fx, "users/alice@" DOMAIN ".pem", X509_PURPOSE_SMIME_SIGN), X509_V_OK);
    assert_int_equal(verify(fx, "users/alice@" DOMAIN ".pem", X509_PURPOSE_SMIME_ENCRYPT),
		     X509_V_OK);
    assert_int_equal(verify(fx, "users/bob@" DOMAIN ".pem", X509_PURPOSE_SMIME_SIGN), X509_V_OK);
    /* a user certificate is not a TLS server certificate */
    assert_int_not_equal(verify(fx, "users/bob@" DOMAIN ".pem", X509_PURPOSE_SSL_SERVER),
			 X509_V_OK);
}

/* crl_num - the CRLNumber of the fixture's CRL */
static long crl_num(FIXTURE *fx)
{
    X509_CRL *crl = load_crl(fx);
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, 0, 0);
    long    n;

    assert_non_null(num);
    n = ASN1_INTEGER_get(num);
    ASN1_INTEGER_free(num);
    X509_CRL_free(crl);
    return (n);
}

/* test_revoke - the serial goes on the CRL, CRLNumber + 1, once only */
static void test_revoke(void **state)
{
    FIXTURE *fx = *state;
    X509   *alice = load_cert(fx, "users/alice@" DOMAIN ".pem");
    X509   *bob = load_cert(fx, "users/bob@" DOMAIN ".pem");
    X509   *ca = load_cert(fx, "ca.pem");
    X509_CRL *crl;
    X509_REVOKED *rev = 0;
    ASN1_ENUMERATED *reason;

    assert_int_equal(crl_num(fx), 1);
    if (cm_pki_revoke(fx->dir, "alice@" DOMAIN, CRL_REASON_KEY_COMPROMISE, err, sizeof(err)) < 0)
	fail_msg("revoke: %s", err);
    assert_int_equal(crl_num(fx), 2);
    assert_mode(path_of(fx, "crl.pem"), 0644);

    crl = load_crl(fx);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
    assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(alice)), 1);
    assert_non_null(rev);
    reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, 0, 0);
    assert_non_null(reason);
    assert_int_equal(ASN1_ENUMERATED_get(reason), CRL_REASON_KEY_COMPROMISE);
    ASN1_ENUMERATED_free(reason);
    assert_int_not_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(bob)), 1);
    X509_CRL_free(crl);

    assert_int_equal(verify(fx, "users/alice@" DOMAIN ".pem", X509_PURPOSE_SMIME_SIGN),
		     X509_V_ERR_CERT_REVOKED);
    assert_int_equal(verify(fx, "users/bob@" DOMAIN ".pem", X509_PURPOSE_SMIME_SIGN), X509_V_OK);

    /* twice: an error, and the CRL is untouched */
    err[0] = 0;
    assert_int_equal(cm_pki_revoke(fx->dir, "alice@" DOMAIN, CRL_REASON_NONE, err, sizeof(err)),
		     -1);
    assert_non_null(strstr(err, "already revoked"));
    assert_int_equal(crl_num(fx), 2);

    /* a second user, no reason code: both entries kept */
    if (cm_pki_revoke(fx->dir, "john.smith@" DOMAIN, CRL_REASON_NONE, err, sizeof(err)) < 0)
	fail_msg("revoke: %s", err);
    assert_int_equal(crl_num(fx), 3);
    crl = load_crl(fx);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
    assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(alice)), 1);
    rev = 0;
    {
	X509   *john = load_cert(fx, "users/john.smith@" DOMAIN ".pem");

	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(john)), 1);
	assert_null(X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, 0, 0));
	X509_free(john);
    }
    X509_CRL_free(crl);
    assert_int_equal(verify(fx, "users/alice@" DOMAIN ".pem", X509_PURPOSE_SMIME_SIGN),
		     X509_V_ERR_CERT_REVOKED);
    assert_int_equal(verify(fx, "server.pem", X509_PURPOSE_SSL_SERVER), X509_V_OK);

    /* unknown user, bad reason */
    assert_int_equal(cm_pki_revoke(fx->dir, "nobody@" DOMAIN, CRL_REASON_NONE, err, sizeof(err)),
		     -1);
    assert_non_null(strstr(err, "no certificate"));
    assert_int_equal(cm_pki_revoke(fx->dir, "bob@" DOMAIN, CRL_REASON_REMOVE_FROM_CRL,
				   err, sizeof(err)), -1);
    assert_int_equal(cm_pki_revoke(fx->dir, "bob@" DOMAIN, 7, err, sizeof(err)), -1);
    assert_int_equal(crl_num(fx), 3);
    X509_free(alice);
    X509_free(bob);
    X509_free(ca);
}

/* test_revoke_foreign - a certificate of another CA is not revoked */
static void test_revoke_foreign(void **state)
{
    FIXTURE *fx = *state;
    char    other[400], src[500], dst[500];
    CM_PKI_OPTS opts;
    X509   *cert;

    snprintf(other, sizeof(other), "%s/other", fx->top);
    cm_pki_opts_init(&opts);
    opts.domain = "other.example";
    if (cm_pki_init(other, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(other, "eve@other.example", 0, &opts, err, sizeof(err)) < 0)
	fail_msg("%s", err);
    /* Plant eve's certificate in our users/ */
    snprintf(src, sizeof(src), "%s/users/eve@other.example.pem", other);
    snprintf(dst, sizeof(dst), "%s/users/eve@other.example.pem", fx->dir);
    cert = cm_pem_read_cert(src, err, sizeof(err));
    assert_non_null(cert);
    assert_int_equal(cm_pem_write_cert(dst, cert), 0);
    X509_free(cert);
    assert_int_equal(cm_pki_revoke(fx->dir, "eve@other.example", CRL_REASON_NONE,
				   err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not issued by"));
    unlink(dst);

    /* A CRL not signed by our CA is refused */
    snprintf(src, sizeof(src), "%s/crl.pem", other);
    snprintf(dst, sizeof(dst), "%s/crl.pem", fx->dir);
    {
	char    save[500];

	snprintf(save, sizeof(save), "%s/crl.save", fx->top);
	assert_int_equal(rename(dst, save), 0);
	assert_int_equal(link(src, dst), 0);
	assert_int_equal(cm_pki_revoke(fx->dir, "bob@" DOMAIN, CRL_REASON_NONE,
				       err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not signed by"));
	assert_int_equal(unlink(dst), 0);
	assert_int_equal(rename(save, dst), 0);
    }
    /* Another PKI's CA key does not match our ca.pem */
    snprintf(src, sizeof(src), "%s/ca.key", other);
    snprintf(dst, sizeof(dst), "%s/ca.key", fx->dir);
    {
	char    save[500];

	snprintf(save, sizeof(save), "%s/ca.key.save", fx->top);
	assert_int_equal(rename(dst, save), 0);
	assert_int_equal(link(src, dst), 0);
	assert_int_equal(cm_pki_issue_user(fx->dir, "mallory@" DOMAIN, 0, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not match"));
	assert_int_equal(cm_pki_revoke(fx->dir, "bob@" DOMAIN, CRL_REASON_NONE,
				       err, sizeof(err)), -1);
	assert_int_equal(unlink(dst), 0);
	assert_int_equal(rename(save, dst), 0);
    }
    assert_int_equal(crl_num(fx), 3);
}

/* test_addresses - what may become a file name */
static void test_addresses(void **state)
{
    FIXTURE *fx = *state;
    static const char *bad[] = {
	"", "alice", "alice@", "@" DOMAIN, "a@b@" DOMAIN, "a/b@" DOMAIN, "../x@" DOMAIN,
	".a@" DOMAIN, "a.@" DOMAIN, "a..b@" DOMAIN, "a b@" DOMAIN, "a\n@" DOMAIN,
	"a\t@" DOMAIN, "a\x7f@" DOMAIN, "\xc3\xa9@" DOMAIN, "a@-x.org", "a@x-.org",
	"a@x..org", "a@.x.org", "a@x.org.", "a@x_y.org", "a@x/y.org", "a\"b@" DOMAIN,
	"a(b)@" DOMAIN, "a\\b@" DOMAIN, 0};
    static const char *good[] = {
	"a@b", "alice@" DOMAIN, "john.smith@" DOMAIN, "o'hara+tag@" DOMAIN,
	"x-y_z=1@sub.example.org", "A@EXAMPLE.ORG", 0};
    char    longest[CM_ADDRESS_MAX + 2], local[80];
    int     i;

    for (i = 0; bad[i]; i++) {
	if (cm_pki_address_ok(bad[i], err, sizeof(err)) == 0)
	    fail_msg("address '%s' accepted", bad[i]);
	assert_int_equal(cm_pki_issue_user(fx->dir, bad[i], 0, 0, err, sizeof(err)), -1);
	assert_int_equal(cm_pki_revoke(fx->dir, bad[i], CRL_REASON_NONE, err, sizeof(err)), -1);
    }
    for (i = 0; good[i]; i++)
	if (cm_pki_address_ok(good[i], err, sizeof(err)) < 0)
	    fail_msg("address '%s' refused: %s", good[i], err);

    /* local part 64 ok, 65 not; whole address CM_ADDRESS_MAX ok, one more not */
    memset(local, 'a', 64);
    strcpy(local + 64, "@x.org");
    assert_int_equal(cm_pki_address_ok(local, err, sizeof(err)), 0);
    memset(local, 'a', 65);
    strcpy(local + 65, "@x.org");
    assert_int_equal(cm_pki_address_ok(local, err, sizeof(err)), -1);
    /* a@ + labels of 63 */
    strcpy(longest, "a@");
    while (strlen(longest) + 64 <= CM_ADDRESS_MAX) {
	size_t  l = strlen(longest);

	memset(longest + l, 'b', 63);
	longest[l + 63] = 0;
	strcat(longest, ".");
    }
    while (strlen(longest) < CM_ADDRESS_MAX)
	strcat(longest, "c");
    assert_int_equal(strlen(longest), CM_ADDRESS_MAX);
    assert_int_equal(cm_pki_address_ok(longest, err, sizeof(err)), 0);
    strcat(longest, "c");
    assert_int_equal(cm_pki_address_ok(longest, err, sizeof(err)), -1);

    assert_true(cm_pki_hostname_ok("mail.example.org"));
    assert_false(cm_pki_hostname_ok("mail..example.org"));
    assert_false(cm_pki_hostname_ok("-mail.example.org"));
    assert_false(cm_pki_hostname_ok("mail example.org"));
    assert_false(cm_pki_hostname_ok(""));
}

/* test_refuse_overwrite - an existing CA and user stay as they are */
static void test_refuse_overwrite(void **state)
{
    FIXTURE *fx = *state;
    CM_PKI_OPTS opts;
    X509   *before = load_cert(fx, "ca.pem"), *after;
    X509   *ubefore = load_cert(fx, "users/bob@" DOMAIN ".pem"), *uafter;

    cm_pki_opts_init(&opts);
    opts.domain = DOMAIN;
    assert_true(cm_pki_exists(fx->dir));
    assert_int_equal(cm_pki_init(fx->dir, &opts, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "exists"));
    errno = 0;
    assert_int_equal(cm_pki_issue_user(fx->dir, "bob@" DOMAIN, 0, &opts, err, sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    after = load_cert(fx, "ca.pem");
    uafter = load_cert(fx, "users/bob@" DOMAIN ".pem");
    assert_int_equal(X509_cmp(before, after), 0);
    assert_int_equal(X509_cmp(ubefore, uafter), 0);
    X509_free(before);
    X509_free(after);
    X509_free(ubefore);
    X509_free(uafter);

    /* a new user is added with the existing CA */
    if (cm_pki_issue_user(fx->dir, "carol@" DOMAIN, "Carol Ann", &opts, err, sizeof(err)) < 0)
	fail_msg("%s", err);
    check_user(fx, "carol@" DOMAIN, "Carol", "Ann", "CA");
    assert_mode(path_of(fx, "users/carol@" DOMAIN ".key"), 0600);
}

/* test_bad_options - refused before anything is written */
static void test_bad_options(void **state)
{
    FIXTURE *fx = *state;
    char    dir[400];
    CM_PKI_OPTS opts;
    struct stat st;
    struct {
	const char *what;
	CM_PKI_OPTS o;
    } cases[10];
    int     n = 0, i;

    snprintf(dir, sizeof(dir), "%s/bad", fx->top);
    cm_pki_opts_init(&opts);
    opts.domain = DOMAIN;
#define CASE(w, field, val) do { cases[n].what = w; cases[n].o = opts; cases[n].o.field = val; n++; } while (0)
    CASE("no domain", domain, 0);
    CASE("bad domain", domain, "exa mple.org");
    CASE("bad server name", server_name, "mail_1.example.org");
    CASE("2-letter country", country, "FR");
    CASE("digit country", country, "F1A");
    CASE("control in org", org, "Evil\nOrg");
    CASE("empty street", street, "");
    CASE("zero days", days, 0);
    CASE("too many days", days, CM_PKI_DAYS_MAX + 1);
    CASE("long postal code", postal_code, "0123456789012345678901234567890123456789X");
#undef CASE
    for (i = 0; i < n; i++) {
	if (cm_pki_init(dir, &cases[i].o, err, sizeof(err)) == 0)
	    fail_msg("%s: accepted", cases[i].what);
	if (stat(dir, &st) == 0)
	    fail_msg("%s: %s created", cases[i].what, dir);
    }
    /* bad --name values */
    assert_int_equal(cm_pki_issue_user(fx->dir, "dan@" DOMAIN, "Dan", &opts, err, sizeof(err)), -1);
    assert_int_equal(cm_pki_issue_user(fx->dir, "dan@" DOMAIN, "Dan\x01 X", &opts,
				       err, sizeof(err)), -1);
    assert_int_equal(cm_pki_issue_user(fx->dir, "dan@" DOMAIN, "Dan ", &opts, err, sizeof(err)), -1);
    assert_int_equal(stat(path_of(fx, "users/dan@" DOMAIN ".pem"), &st), -1);
    /* lower-case country is upper-cased */
    opts.country = "deu";
    if (cm_pki_issue_user(fx->dir, "dan@" DOMAIN, 0, &opts, err, sizeof(err)) < 0)
	fail_msg("%s", err);
    {
	X509   *cert = load_cert(fx, "users/dan@" DOMAIN ".pem");

	assert_name(X509_get_subject_name(cert), cm_pki_nid_country3c(), "DEU");
	X509_free(cert);
    }
}

/* test_refresh_crl - same entries, next number, fresh dates */
static void test_refresh_crl(void **state)
{
    FIXTURE *fx = *state;
    X509_CRL *before = load_crl(fx), *after;
    X509   *ca = load_cert(fx, "ca.pem");
    X509_REVOKED *rev;
    long    n = crl_num(fx);
    int     i;

    if (cm_pki_refresh_crl(fx->dir, err, sizeof(err)) < 0)
	fail_msg("refresh: %s", err);
    assert_int_equal(crl_num(fx), n + 1);
    after = load_crl(fx);
    assert_int_equal(X509_CRL_verify(after, X509_get0_pubkey(ca)), 1);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(after)),
		     sk_X509_REVOKED_num(X509_CRL_get_REVOKED(before)));
    for (i = 0; i < sk_X509_REVOKED_num(X509_CRL_get_REVOKED(before)); i++) {
	X509_REVOKED *r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(before), i);

	rev = 0;
	assert_int_equal(X509_CRL_get0_by_serial(after, &rev, X509_REVOKED_get0_serialNumber(r)), 1);
	assert_int_equal(ASN1_TIME_compare(X509_REVOKED_get0_revocationDate(r),
					   X509_REVOKED_get0_revocationDate(rev)), 0);
	assert_int_equal(X509_REVOKED_get_ext_count(r), X509_REVOKED_get_ext_count(rev));
    }
    assert_true(ASN1_TIME_compare(X509_CRL_get0_lastUpdate(after),
				  X509_CRL_get0_lastUpdate(before)) >= 0);
    assert_int_equal(verify(fx, "users/alice@" DOMAIN ".pem", X509_PURPOSE_SMIME_SIGN),
		     X509_V_ERR_CERT_REVOKED);
    assert_int_equal(verify(fx, "users/bob@" DOMAIN ".pem", X509_PURPOSE_SMIME_SIGN), X509_V_OK);
    X509_CRL_free(before);
    X509_CRL_free(after);
    X509_free(ca);
    assert_int_equal(cm_pki_refresh_crl(fx->top, err, sizeof(err)), -1);	/* no PKI there */
}

/* test_names - person names: checks, UTF-8 initials */
static void test_names(void **state)
{
    FIXTURE *fx = *state;
    static const char *bad[] = {"Dan", "Dan ", " Dan X", "Dan  X", "Dan\tX", "",
	"A B C D E F G H I J K L M N O P Q R S T U V W X Y Z a b c d e f g h", 0};
    CM_PKI_OPTS opts;
    int     i;

    for (i = 0; bad[i]; i++)
	if (cm_pki_name_ok(bad[i], err, sizeof(err)) == 0)
	    fail_msg("name '%s' accepted", bad[i]);
    assert_int_equal(cm_pki_name_ok("Jean-Luc de la Tour", err, sizeof(err)), 0);
    cm_pki_opts_init(&opts);
    if (cm_pki_issue_user(fx->dir, "elodie@" DOMAIN, "\xc3\x89lodie \xc3\xa9t\xc3\xa9", &opts,
			  err, sizeof(err)) < 0)
	fail_msg("%s", err);
    check_user(fx, "elodie@" DOMAIN, "\xc3\x89lodie", "\xc3\xa9t\xc3\xa9", "\xc3\x89\xc3\xa9");
    /* invalid UTF-8 is refused by OpenSSL */
    assert_int_equal(cm_pki_issue_user(fx->dir, "bad8@" DOMAIN, "B\xc3 Ad", &opts,
				       err, sizeof(err)), -1);
}

/* test_opts_check - what init and add-user refuse as usage errors */
static void test_opts_check(void **state)
{
    CM_PKI_OPTS opts;

    cm_pki_opts_init(&opts);
    assert_int_equal(cm_pki_opts_check(&opts, 0, err, sizeof(err)), 0);
    assert_int_equal(cm_pki_opts_check(&opts, 1, err, sizeof(err)), -1);	/* no domain */
    opts.domain = DOMAIN;
    assert_int_equal(cm_pki_opts_check(&opts, 1, err, sizeof(err)), 0);
    opts.domain = "a-very-long-domain-name-for-a-test-ca.mail.example.org";	/* CN over 64 */
    assert_int_equal(cm_pki_opts_check(&opts, 1, err, sizeof(err)), -1);
    opts.domain = DOMAIN;
    opts.server_name = "a-server-name-that-is-too-long-to-be-a-common-name.mail.example.org";
    assert_int_equal(cm_pki_opts_check(&opts, 1, err, sizeof(err)), -1);
    opts.server_name = 0;
    opts.ca_days = CM_PKI_DAYS_MAX + 1;
    assert_int_equal(cm_pki_opts_check(&opts, 1, err, sizeof(err)), -1);
    assert_int_equal(cm_pki_opts_check(&opts, 0, err, sizeof(err)), 0);
    opts.ca_days = 0;
    opts.country = "FRAN";
    assert_int_equal(cm_pki_opts_check(&opts, 0, err, sizeof(err)), -1);
}

/* test_reasons - CRLReason names */
static void test_reasons(void **state)
{
    assert_int_equal(cm_pki_reason_from_name("keyCompromise"), CRL_REASON_KEY_COMPROMISE);
    assert_int_equal(cm_pki_reason_from_name("KEYCOMPROMISE"), CRL_REASON_KEY_COMPROMISE);
    assert_int_equal(cm_pki_reason_from_name("superseded"), CRL_REASON_SUPERSEDED);
    assert_int_equal(cm_pki_reason_from_name("unspecified"), CRL_REASON_UNSPECIFIED);
    assert_int_equal(cm_pki_reason_from_name("aACompromise"), CRL_REASON_AA_COMPROMISE);
    assert_int_equal(cm_pki_reason_from_name("removeFromCRL"), -1);
    assert_int_equal(cm_pki_reason_from_name("bogus"), -1);
    assert_int_equal(cm_pki_reason_from_name(0), -1);
    assert_string_equal(cm_pki_reason_name(CRL_REASON_SUPERSEDED), "superseded");
    assert_string_equal(cm_pki_reason_name(CRL_REASON_NONE), "none");
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_file_modes),
	cmocka_unit_test(test_ca),
	cmocka_unit_test(test_crl_initial),
	cmocka_unit_test(test_server),
	cmocka_unit_test(test_users),
	cmocka_unit_test(test_serials_distinct),
	cmocka_unit_test(test_verify),
	cmocka_unit_test(test_revoke),
	cmocka_unit_test(test_revoke_foreign),
	cmocka_unit_test(test_addresses),
	cmocka_unit_test(test_refuse_overwrite),
	cmocka_unit_test(test_bad_options),
	cmocka_unit_test(test_refresh_crl),
	cmocka_unit_test(test_names),
	cmocka_unit_test(test_opts_check),
	cmocka_unit_test(test_reasons),
    };

    return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
