/*++
 * NAME
 *	test_cert 1
 * SUMMARY
 *	unit tests of cm_cert (RFC 3850 / RFC 5280) and cm_profile (Annex C)
 * DESCRIPTION
 *	Builds CAs, intermediates, end-entity certificates and CRLs with the
 *	OpenSSL API (EC P-256 keys made at test time), writes anchors and
 *	CRLs into a scratch directory and checks each rule's outcome and
 *	reason: notAfter inclusive, partial-chain anchors, several candidate
 *	paths, newest CRL per issuer, refused CRLs, CRLs re-read at every
 *	check, keyUsage, extendedKeyUsage, address match, name constraints on
 *	rfc822Name and emailAddress, bounded path search, Annex C.2 and C.3.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/conf.h>
#include <openssl/rand.h>
#include <openssl/bn.h>

#include "cm_cert.h"
#include "cm_profile.h"

#define DAY	86400L

static char g_dir[256];
static CONF *g_conf;
static time_t NOW;
static EVP_PKEY *g_ca_key;
static X509 *g_ca;
static char g_anchors[300];
static char g_crl[300];			/* empty v2 CRL of g_ca, number 1 */
static int g_seq;

static const char g_conf_text[] =
    "[server_dir]\n"
    "countryCode3c = FRA\n"
    "O = Example Org\n"
    "street = 1 rue de la Paix\n"
    "L = Paris\n"
    "postalCode = 75002\n"
    "[server_dir_nopostal]\n"
    "countryCode3c = FRA\n"
    "O = Example Org\n"
    "street = 1 rue de la Paix\n"
    "L = Paris\n"
    "[server_dir_badcountry]\n"
    "countryCode3c = F1A\n"
    "O = Example Org\n"
    "street = 1 rue de la Paix\n"
    "L = Paris\n"
    "postalCode = 75002\n";

#define CA_EXT "basicConstraints=critical,CA:true|keyUsage=critical,keyCertSign,cRLSign" \
	"|subjectKeyIdentifier=hash|authorityKeyIdentifier=keyid:always"
#define EE_BASE "basicConstraints=critical,CA:false|subjectKeyIdentifier=hash|authorityKeyIdentifier=keyid"
#define USER_EXT EE_BASE "|keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment" \
	"|extendedKeyUsage=emailProtection|subjectAltName=email:alice@example.org" \
	"|certificatePolicies=0.0.24.1341.2.2"
#define USER_DN "/SN=Doe/GN=Alice/initials=A/street=2 Main Street/L=Paris/postalCode=75001" \
	"/countryCode3c=FRA/CN=Alice Doe"
#define ORG_DN "/O=Example Org/street=2 Main Street/L=Paris/postalCode=75001/countryCode3c=FRA/CN=Sales"
#define SERVER_EXT EE_BASE "|keyUsage=critical,digitalSignature,keyEncipherment" \
	"|extendedKeyUsage=serverAuth,clientAuth" \
	"|subjectAltName=email:postmaster@example.org,DNS:mail.example.org,dirName:server_dir" \
	"|certificatePolicies=0.0.24.1341.2.1"
#define SERVER_DN "/dnsName=mail.example.org/CN=mail.example.org"

typedef struct {
    const char *subject;		/* "/CN=x/O=y" */
    const char *exts;			/* "name=value|name=value" */
    X509   *issuer;			/* null: self-signed */
    EVP_PKEY *ikey;
    EVP_PKEY *key;			/* null: a fresh one */
    time_t  nb, na;			/* 0: 30 days ago, in a year */
    const char *serial;			/* hex; null: 128 random bits */
    int     v1;				/* version 1, no extensions */
} SPEC;

#define MK(...) mk(&(SPEC) {__VA_ARGS__})

/* newkey - EC P-256 key */
static EVP_PKEY *newkey(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return (k);
}

/* mkname - X509_NAME from "/a=b/c=d" */
static X509_NAME *mkname(const char *text)
{
    X509_NAME *name = X509_NAME_new();
    char   *copy = strdup(text), *field, *save = 0, *eq;

    assert_non_null(name);
    for (field = strtok_r(copy, "/", &save); field; field = strtok_r(0, "/", &save)) {
	eq = strchr(field, '=');
	assert_non_null(eq);
	*eq = 0;
	if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (unsigned char *) eq + 1, -1, -1, 0))
	    fail_msg("bad name field %s", field);
    }
    free(copy);
    return (name);
}

/* mk - a certificate per spec */
static X509 *mk(const SPEC *s)
{
    X509   *x = X509_new();
    EVP_PKEY *key = s->key ? s->key : newkey();
    X509_NAME *name = mkname(s->subject);
    BIGNUM *bn = BN_new();
    X509V3_CTX ctx;
    char   *copy, *item, *save = 0, *eq;

    assert_non_null(x);
    X509_set_version(x, s->v1 ? 0 : 2);
    if (s->serial)
	BN_hex2bn(&bn, s->serial);
    else
	BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : name);
    X509_NAME_free(name);
    ASN1_TIME_set(X509_getm_notBefore(x), s->nb ? s->nb : NOW - 30 * DAY);
    ASN1_TIME_set(X509_getm_notAfter(x), s->na ? s->na : NOW + 365 * DAY);
    X509_set_pubkey(x, key);
    if (s->exts && !s->v1) {
	copy = strdup(s->exts);
	for (item = strtok_r(copy, "|", &save); item; item = strtok_r(0, "|", &save)) {
	    X509_EXTENSION *ext;

	    eq = strchr(item, '=');
	    assert_non_null(eq);
	    *eq = 0;
	    X509V3_set_ctx(&ctx, s->issuer ? s->issuer : x, x, 0, 0, 0);
	    X509V3_set_nconf(&ctx, g_conf);
	    if ((ext = X509V3_EXT_nconf(g_conf, &ctx, item, eq + 1)) == 0)
		fail_msg("bad extension %s=%s", item, eq + 1);
	    X509_add_ext(x, ext, -1);
	    X509_EXTENSION_free(ext);
	}
	free(copy);
    }
    assert_true(X509_sign(x, s->ikey ? s->ikey : key, EVP_sha256()) > 0);
    if (s->key == 0)
	EVP_PKEY_free(key);
    return (x);
}

typedef struct {
    X509   *cert;
    int     reason;			/* CRLReason, -1 none */
} REV;

/* mkcrl - a CRL; version 0 = v1, 1 = v2; number < 0: none */
static X509_CRL *mkcrl(X509 *ca, EVP_PKEY *key, time_t tu, time_t nu, long version, long number,
		               const REV *rev, int nrev)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    X509V3_CTX ctx;
    int     i;

    X509_CRL_set_version(crl, version);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    ASN1_TIME_set(t, tu);
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_set(t, nu);
    X509_CRL_set1_nextUpdate(crl, t);
    for (i = 0; i < nrev; i++) {
	X509_REVOKED *r = X509_REVOKED_new();

	X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(rev[i].cert));
	ASN1_TIME_set(t, tu - 60);
	X509_REVOKED_set_revocationDate(r, t);
	if (rev[i].reason >= 0) {
	    ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

	    ASN1_ENUMERATED_set(e, rev[i].reason);
	    X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0);
	    ASN1_ENUMERATED_free(e);
	}
	X509_CRL_add0_revoked(crl, r);
    }
    if (version == 1) {
	X509_EXTENSION *ext;

	if (number >= 0) {
	    ASN1_INTEGER *n = ASN1_INTEGER_new();

	    ASN1_INTEGER_set(n, number);
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0);
	    ASN1_INTEGER_free(n);
	}
	X509V3_set_ctx(&ctx, ca, 0, 0, crl, 0);
	ext = X509V3_EXT_conf_nid(0, &ctx, NID_authority_key_identifier, "keyid:always");
	assert_non_null(ext);
	X509_CRL_add_ext(crl, ext, -1);
	X509_EXTENSION_free(ext);
    }
    ASN1_TIME_free(t);
    X509_CRL_sort(crl);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    return (crl);
}

/* path_new - a fresh file name in the scratch directory */
static const char *path_new(char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "%s/%d-%s", g_dir, ++g_seq, what);
    return (buf);
}

/* write_certs - PEM file of certificates (null-terminated list) */
static void write_certs(const char *path,...)
{
    FILE   *fp = fopen(path, "w");
    va_list ap;
    X509   *x;

    assert_non_null(fp);
    va_start(ap, path);
    while ((x = va_arg(ap, X509 *)) != 0)
	PEM_write_X509(fp, x);
    va_end(ap);
    fclose(fp);
}

/* write_crls - PEM file of CRLs (null-terminated list), freeing them */
static void write_crls(const char *path,...)
{
    FILE   *fp = fopen(path, "w");
    va_list ap;
    X509_CRL *c;

    assert_non_null(fp);
    va_start(ap, path);
    while ((c = va_arg(ap, X509_CRL *)) != 0) {
	PEM_write_X509_CRL(fp, c);
	X509_CRL_free(c);
    }
    va_end(ap);
    fclose(fp);
}

/* show - print a report (on failure) */
static void show(const CM_CERT_REPORT *rep)
{
    int     i;

    for (i = 0; i < rep->n; i++)
	print_message("#   %s %s: %s\n", rep->rules[i].ok ? "PASS" : "FAIL", rep->rules[i].rule,
		      rep->rules[i].reason);
}

/* find - a rule by name */
static const CM_CERT_RULE *find(const CM_CERT_REPORT *rep, const char *name)
{
    int     i;

    for (i = 0; i < rep->n; i++)
	if (strcmp(rep->rules[i].rule, name) == 0)
	    return (rep->rules + i);
    return (0);
}

/* expect - rule outcome and a reason substring */
static void expect(const CM_CERT_REPORT *rep, const char *name, int ok, const char *substr)
{
    const CM_CERT_RULE *r = find(rep, name);

    if (r == 0 || r->ok != ok || (substr && strstr(r->reason, substr) == 0)) {
	show(rep);
	fail_msg("rule %s: want %s%s%s", name, ok ? "PASS" : "FAIL", substr ? " with " : "",
		 substr ? substr : "");
    }
}

/* run - load trust, check, free trust */
static int run(const char *anchors, const char *crls, X509 *cert, const CM_CERT_OPTS *o,
	               CM_CERT_REPORT *rep)
{
    char    err[512] = "";
    CM_TRUST *t = cm_trust_load(anchors, crls, err, sizeof(err));
    int     ret;

    if (t == 0)
	fail_msg("cm_trust_load: %s", err);
    ret = cm_cert_check(t, cert, o, rep);
    cm_trust_free(t);
    return (ret);
}

/* opts_client - role client, S/MIME, sign and encipher */
static CM_CERT_OPTS opts_client(void)
{
    CM_CERT_OPTS o;

    memset(&o, 0, sizeof(o));
    o.role = CM_ROLE_CLIENT;
    o.purpose = CM_PURPOSE_SMIME;
    o.usage = CM_USE_SIGN | CM_USE_ENCIPHER;
    return (o);
}

/* setup - scratch directory, the main CA, its empty CRL */
static int setup(void **state)
{
    BIO    *bio = BIO_new_mem_buf(g_conf_text, -1);
    long    eline;

    (void) state;
    NOW = time(0);
    snprintf(g_dir, sizeof(g_dir), "%s/test_cert.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_dir) == 0)
	return (-1);
    g_conf = NCONF_new(0);
    if (NCONF_load_bio(g_conf, bio, &eline) <= 0)
	return (-1);
    BIO_free(bio);
    g_ca_key = newkey();
    g_ca = MK(.subject = "/CN=Test CA/O=Cmail Test", .exts = CA_EXT, .key = g_ca_key,
	      .nb = NOW - 1000 * DAY, .na = NOW + 3000 * DAY);
    write_certs(path_new(g_anchors, sizeof(g_anchors), "ca.pem"), g_ca, (X509 *) 0);
    write_crls(path_new(g_crl, sizeof(g_crl), "crl.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    return (0);
}

/* teardown - remove everything */
static int teardown(void **state)
{
    char    cmd[400];

    (void) state;
    X509_free(g_ca);
    EVP_PKEY_free(g_ca_key);
    NCONF_free(g_conf);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return (system(cmd) == 0 ? 0 : -1);
}

/* test_valid_client - an Annex C.3 user passes every rule */
static void test_valid_client(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    static const char *const rules[] = {
	"path", "validity", "revocation", "key-usage", "ext-key-usage", "address",
	"c3-version", "c3-serial", "c3-subject-kind", "c3-givenname", "c3-initials",
	"c3-generation", "c3-street", "c3-locality", "c3-state", "c3-postalcode",
	"c3-country", "c3-san-rfc822name", "c3-policy",
    };
    size_t  i;
    char    err[300];

    (void) state;
    o.addresses[0] = "alice@example.org";
    o.n_addresses = 1;
    if (run(g_anchors, g_crl, u, &o, &rep) != 0) {
	show(&rep);
	fail_msg("valid user certificate refused");
    }
    for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
	expect(&rep, rules[i], 1, 0);
    expect(&rep, "path", 1, "anchor CN=Test CA,O=Cmail Test");
    expect(&rep, "revocation", 1, "not revoked");

    /* cm_cert_validate: 0, and the first failure otherwise */
    {
	CM_TRUST *t = cm_trust_load(g_anchors, g_crl, err, sizeof(err));

	assert_non_null(t);
	assert_int_equal(cm_cert_validate(t, u, &o, err, sizeof(err)), 0);
	o.addresses[0] = "bob@example.org";
	assert_int_equal(cm_cert_validate(t, u, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "address: bob@example.org"));
	cm_trust_free(t);
    }

    /* role none: no keyUsage rule, no profile rules */
    o.addresses[0] = "alice@example.org";
    o.role = CM_ROLE_NONE;
    assert_int_equal(run(g_anchors, g_crl, u, &o, &rep), 0);
    assert_null(find(&rep, "key-usage"));
    assert_null(find(&rep, "c3-policy"));
    assert_int_equal(rep.n, 5);
    X509_free(u);
}

/* test_not_after_inclusive - at == notAfter passes, one second later fails */
static void test_not_after_inclusive(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    time_t  nb = NOW - 100 * DAY, na = NOW - 10 * DAY;
    char    crl[300];
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key,
		   .nb = nb, .na = na);

    (void) state;
    write_crls(path_new(crl, sizeof(crl), "crl-old.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - 200 * DAY, NOW + 30 * DAY, 1, 5, 0, 0), (X509_CRL *) 0);
    o.at = na;
    if (run(g_anchors, crl, u, &o, &rep) != 0) {
	show(&rep);
	fail_msg("notAfter is not inclusive");
    }
    expect(&rep, "validity", 1, "inclusive");
    o.at = na + 1;
    assert_int_equal(run(g_anchors, crl, u, &o, &rep), -1);
    expect(&rep, "validity", 0, "expired ");
    o.at = nb;
    assert_int_equal(run(g_anchors, crl, u, &o, &rep), 0);
    o.at = nb - 1;
    assert_int_equal(run(g_anchors, crl, u, &o, &rep), -1);
    expect(&rep, "validity", 0, "not yet valid: notBefore");
    o.at = 0;				/* now: expired */
    assert_int_equal(run(g_anchors, crl, u, &o, &rep), -1);
    expect(&rep, "validity", 0, "expired");
    expect(&rep, "path", 1, 0);
    X509_free(u);
}

/* test_partial_chain - a non-self-signed anchor ends the path */
static void test_partial_chain(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    EVP_PKEY *ikey = newkey();
    X509   *inter = MK(.subject = "/CN=Test Intermediate", .exts = CA_EXT, .issuer = g_ca,
		       .ikey = g_ca_key, .key = ikey);
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = inter, .ikey = ikey);
    char    anchors[300], crl_i[300], crls[300];

    (void) state;
    write_certs(path_new(anchors, sizeof(anchors), "inter.pem"), inter, (X509 *) 0);
    write_crls(path_new(crl_i, sizeof(crl_i), "crl-inter.pem"),
	       mkcrl(inter, ikey, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    /* anchor = the intermediate only, its CRL only: RFC 5280 is satisfied */
    if (run(anchors, crl_i, u, &o, &rep) != 0) {
	show(&rep);
	fail_msg("partial chain refused");
    }
    expect(&rep, "path", 1, "anchor CN=Test Intermediate");
    /* anchor = the root, intermediate untrusted: CRLs for both needed */
    o.untrusted = sk_X509_new_null();
    sk_X509_push(o.untrusted, inter);
    assert_int_equal(run(g_anchors, crl_i, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "CA certificate CN=Test Intermediate: no usable CRL");
    write_crls(path_new(crls, sizeof(crls), "crl-both.pem"),
	       mkcrl(inter, ikey, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, crls, u, &o, &rep), 0);
    expect(&rep, "path", 1, "3 certificates");
    /* without the intermediate there is no path */
    sk_X509_free(o.untrusted);
    o.untrusted = 0;
    assert_int_equal(run(g_anchors, crls, u, &o, &rep), -1);
    expect(&rep, "path", 0, "no path to a trust anchor: issuer CN=Test Intermediate");
    expect(&rep, "revocation", 0, "not checked");
    X509_free(u);
    X509_free(inter);
    EVP_PKEY_free(ikey);
}

/* test_candidate_paths - a failing path does not hide a good one */
static void test_candidate_paths(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    EVP_PKEY *ikey = newkey(), *xkey = newkey();
    X509   *rootx = MK(.subject = "/CN=Other Root", .exts = CA_EXT, .key = xkey);
    /* three CA certificates, same subject and key */
    X509   *via_x = MK(.subject = "/CN=Test Intermediate", .exts = CA_EXT, .issuer = rootx,
		       .ikey = xkey, .key = ikey);
    X509   *revoked = MK(.subject = "/CN=Test Intermediate", .exts = CA_EXT, .issuer = g_ca,
			 .ikey = g_ca_key, .key = ikey);
    X509   *good = MK(.subject = "/CN=Test Intermediate", .exts = CA_EXT, .issuer = g_ca,
		      .ikey = g_ca_key, .key = ikey);
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = good, .ikey = ikey);
    REV     rev[1] = {{revoked, 1}};
    char    crls[300];

    (void) state;
    write_crls(path_new(crls, sizeof(crls), "crl-cand.pem"),
	       mkcrl(good, ikey, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, 7, rev, 1), (X509_CRL *) 0);
    o.untrusted = sk_X509_new_null();

    /* a dead end through an untrusted root, then the good path */
    sk_X509_push(o.untrusted, via_x);
    sk_X509_push(o.untrusted, rootx);
    sk_X509_push(o.untrusted, good);
    if (run(g_anchors, crls, u, &o, &rep) != 0) {
	show(&rep);
	fail_msg("good path not found behind a dead end");
    }
    expect(&rep, "path", 1, "candidate 1 of 1");

    /* a complete path through a revoked CA certificate comes first */
    (void) sk_X509_pop(o.untrusted);
    (void) sk_X509_pop(o.untrusted);
    (void) sk_X509_pop(o.untrusted);
    sk_X509_push(o.untrusted, revoked);
    sk_X509_push(o.untrusted, good);
    if (run(g_anchors, crls, u, &o, &rep) != 0) {
	show(&rep);
	fail_msg("second candidate path not tried");
    }
    expect(&rep, "path", 1, "candidate 2 of 2");

    /* only the revoked one: the reason names it */
    (void) sk_X509_pop(o.untrusted);
    assert_int_equal(run(g_anchors, crls, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "CA certificate CN=Test Intermediate revoked (CRL from CN=Test CA,O=Cmail Test, number 7, reason keyCompromise)");
    sk_X509_free(o.untrusted);
    X509_free(u);
    X509_free(good);
    X509_free(revoked);
    X509_free(via_x);
    X509_free(rootx);
    EVP_PKEY_free(ikey);
    EVP_PKEY_free(xkey);
}

/* test_overlapping_cas - same subject and key, overlapping validity */
static void test_overlapping_cas(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *old = MK(.subject = "/CN=Test CA/O=Cmail Test", .exts = CA_EXT, .key = g_ca_key,
		     .nb = NOW - 2000 * DAY, .na = NOW - DAY);
    X509   *renewed = MK(.subject = "/CN=Test CA/O=Cmail Test", .exts = CA_EXT, .key = g_ca_key,
			 .nb = NOW - 10 * DAY, .na = NOW + 2000 * DAY);
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    char    a1[300], a2[300], a3[300];

    (void) state;
    write_certs(path_new(a1, sizeof(a1), "ca-renewed.pem"), renewed, (X509 *) 0);
    write_certs(path_new(a2, sizeof(a2), "ca-all.pem"), g_ca, renewed, (X509 *) 0);
    write_certs(path_new(a3, sizeof(a3), "ca-old-first.pem"), old, renewed, (X509 *) 0);
    assert_int_equal(run(g_anchors, g_crl, u, &o, &rep), 0);
    assert_int_equal(run(a1, g_crl, u, &o, &rep), 0);
    assert_int_equal(run(a2, g_crl, u, &o, &rep), 0);
    if (run(a3, g_crl, u, &o, &rep) != 0) {
	show(&rep);
	fail_msg("expired CA certificate first hides the renewed one");
    }
    expect(&rep, "path", 1, "candidate 2 of 2");
    X509_free(u);
    X509_free(old);
    X509_free(renewed);
}

/* test_newest_crl_wins - highest CRLNumber, else latest thisUpdate */
static void test_newest_crl_wins(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    REV     rev[1] = {{u, 1}};
    char    f[300];

    (void) state;
    /* number 2 revokes, number 1 (newer thisUpdate!) does not: 2 wins */
    write_crls(path_new(f, sizeof(f), "crl-n.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - 2 * DAY, NOW + 30 * DAY, 1, 2, rev, 1),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "certificate revoked (CRL from CN=Test CA,O=Cmail Test, number 2, reason keyCompromise)");
    /* number 3 no longer lists it (a hold released): 3 wins */
    rev[0].reason = 6;
    write_crls(path_new(f, sizeof(f), "crl-n3.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - 2 * DAY, NOW + 30 * DAY, 1, 2, rev, 1),
	       mkcrl(g_ca, g_ca_key, NOW - 2 * DAY, NOW + 30 * DAY, 1, 3, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), 0);
    /* v1 CRLs: the later thisUpdate wins, either way round */
    write_crls(path_new(f, sizeof(f), "crl-v1a.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - 3 * DAY, NOW + 30 * DAY, 0, -1, rev, 1),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 0, -1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), 0);
    write_crls(path_new(f, sizeof(f), "crl-v1b.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 0, -1, rev, 1),
	       mkcrl(g_ca, g_ca_key, NOW - 3 * DAY, NOW + 30 * DAY, 0, -1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "certificate revoked (CRL from CN=Test CA,O=Cmail Test, v1 of");
    expect(&rep, "revocation", 0, "reason certificateHold");
    /* a CRL issued after the verification time is not used */
    write_crls(path_new(f, sizeof(f), "crl-future.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - 10 * DAY, NOW + 30 * DAY, 1, 2, 0, 0),
	       mkcrl(g_ca, g_ca_key, NOW + DAY, NOW + 30 * DAY, 1, 9, rev, 1), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), 0);
    X509_free(u);
}

/* test_refused_crls - v2 without CRLNumber, issuer without cRLSign */
static void test_refused_crls(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    EVP_PKEY *nkey = newkey();
    X509   *nocrlsign = MK(.subject = "/CN=No CRLSign CA", .key = nkey,
			   .exts = "basicConstraints=critical,CA:true|keyUsage=critical,keyCertSign"
			   "|subjectKeyIdentifier=hash|authorityKeyIdentifier=keyid:always");
    X509   *u2 = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = nocrlsign, .ikey = nkey);
    char    f[300], a[300];

    (void) state;
    write_crls(path_new(f, sizeof(f), "crl-nonum.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, -1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "no CRLNumber");
    /* a v1 CRL (no extensions at all) is fine */
    write_crls(path_new(f, sizeof(f), "crl-v1.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 0, -1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), 0);
    /* CRL issuer's keyUsage without cRLSign */
    write_certs(path_new(a, sizeof(a), "nocrlsign.pem"), nocrlsign, (X509 *) 0);
    write_crls(path_new(f, sizeof(f), "crl-nocrlsign.pem"),
	       mkcrl(nocrlsign, nkey, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(a, f, u2, &o, &rep), -1);
    expect(&rep, "revocation", 0, "cRLSign");
    expect(&rep, "path", 1, 0);
    /* an expired CRL; at nextUpdate exactly it is still current */
    write_crls(path_new(f, sizeof(f), "crl-expired.pem"),
	       mkcrl(g_ca, g_ca_key, NOW - 30 * DAY, NOW - DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, f, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "expired: nextUpdate");
    o.at = NOW - DAY;
    assert_int_equal(run(g_anchors, f, u, &o, &rep), 0);
    X509_free(u);
    X509_free(u2);
    X509_free(nocrlsign);
    EVP_PKEY_free(nkey);
}

/* test_crl_reread - a revocation is seen by the next check */
static void test_crl_reread(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    REV     rev[1] = {{u, -1}};
    char    dir[300], f[400], err[300];
    CM_TRUST *t;

    (void) state;
    path_new(dir, sizeof(dir), "crldir");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(f, sizeof(f), "%s/a.crl", dir);
    write_crls(f, mkcrl(g_ca, g_ca_key, NOW - 2 * DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    t = cm_trust_load(g_anchors, dir, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(cm_cert_check(t, u, &o, &rep), 0);
    snprintf(f, sizeof(f), "%s/b.crl", dir);
    write_crls(f, mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, 2, rev, 1), (X509_CRL *) 0);
    assert_int_equal(cm_cert_check(t, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "number 2, reason no reason given");
    /* certificates and dot files in the directory are skipped */
    snprintf(f, sizeof(f), "%s/ca.0", dir);
    write_certs(f, g_ca, (X509 *) 0);
    snprintf(f, sizeof(f), "%s/.hidden", dir);
    write_certs(f, g_ca, (X509 *) 0);
    assert_int_equal(cm_cert_check(t, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "certificate revoked");
    /* a file that is neither fails closed */
    {
	FILE   *fp;

	snprintf(f, sizeof(f), "%s/junk.crl", dir);
	assert_non_null(fp = fopen(f, "w"));
	fputs("-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n", fp);
	fclose(fp);
    }
    assert_int_equal(cm_cert_check(t, u, &o, &rep), -1);
    expect(&rep, "revocation", 0, "cannot read CRLs: CRL");
    expect(&rep, "revocation", 0, "junk.crl");
    cm_trust_free(t);
    X509_free(u);
}

/* test_key_usage - keyUsage for CM_USE_SIGN and CM_USE_ENCIPHER */
static void test_key_usage(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *sign = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
		      .exts = EE_BASE "|keyUsage=critical,nonRepudiation|subjectAltName=email:a@example.org");
    X509   *enc = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
		     .exts = EE_BASE "|keyUsage=critical,keyEncipherment|subjectAltName=email:a@example.org");
    X509   *none = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
		      .exts = EE_BASE "|subjectAltName=email:a@example.org");

    (void) state;
    run(g_anchors, g_crl, sign, &o, &rep);
    expect(&rep, "key-usage", 0, "keyUsage lacks keyEncipherment");
    run(g_anchors, g_crl, enc, &o, &rep);
    expect(&rep, "key-usage", 0, "keyUsage lacks digitalSignature or nonRepudiation");
    run(g_anchors, g_crl, none, &o, &rep);
    expect(&rep, "key-usage", 1, "no keyUsage");
    o.usage = CM_USE_SIGN;
    run(g_anchors, g_crl, sign, &o, &rep);
    expect(&rep, "key-usage", 1, "signing");
    o.usage = CM_USE_ENCIPHER;
    run(g_anchors, g_crl, enc, &o, &rep);
    expect(&rep, "key-usage", 1, "keyEncipherment");
    o.role = CM_ROLE_NONE;
    o.usage = CM_USE_SIGN;
    assert_int_equal(run(g_anchors, g_crl, enc, &o, &rep), 0);
    assert_null(find(&rep, "key-usage"));
    X509_free(sign);
    X509_free(enc);
    X509_free(none);
}

/* test_eku - extendedKeyUsage per purpose */
static void test_eku(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *server = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
			.exts = EE_BASE "|extendedKeyUsage=serverAuth|subjectAltName=email:a@example.org");
    X509   *any = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
		     .exts = EE_BASE "|extendedKeyUsage=anyExtendedKeyUsage|subjectAltName=email:a@example.org");
    X509   *none = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
		      .exts = EE_BASE "|subjectAltName=email:a@example.org");

    (void) state;
    o.role = CM_ROLE_NONE;
    assert_int_equal(run(g_anchors, g_crl, server, &o, &rep), -1);
    expect(&rep, "ext-key-usage", 0, "lacks emailProtection and anyExtendedKeyUsage");
    o.purpose = CM_PURPOSE_CLIENT;
    run(g_anchors, g_crl, server, &o, &rep);
    expect(&rep, "ext-key-usage", 0, "lacks clientAuth");
    o.purpose = CM_PURPOSE_SERVER;
    assert_int_equal(run(g_anchors, g_crl, server, &o, &rep), 0);
    expect(&rep, "ext-key-usage", 1, "serverAuth");
    o.purpose = CM_PURPOSE_ANY;
    assert_int_equal(run(g_anchors, g_crl, server, &o, &rep), 0);
    o.purpose = CM_PURPOSE_SMIME;
    assert_int_equal(run(g_anchors, g_crl, any, &o, &rep), 0);
    expect(&rep, "ext-key-usage", 1, "anyExtendedKeyUsage");
    assert_int_equal(run(g_anchors, g_crl, none, &o, &rep), 0);
    expect(&rep, "ext-key-usage", 1, "no extendedKeyUsage");
    X509_free(server);
    X509_free(any);
    X509_free(none);
}

/* test_address - SAN rfc822Name and PKCS#9 emailAddress */
static void test_address(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *san = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
		     .exts = EE_BASE "|subjectAltName=email:alice@example.org,email:a.doe@example.org");
    X509   *subj = MK(.subject = "/CN=Bob/emailAddress=bob@Example.ORG", .issuer = g_ca,
		      .ikey = g_ca_key, .exts = EE_BASE);
    X509   *noaddr = MK(.subject = "/CN=Nobody", .issuer = g_ca, .ikey = g_ca_key, .exts = EE_BASE);

    (void) state;
    o.role = CM_ROLE_NONE;
    o.n_addresses = 1;
    o.addresses[0] = "alice@example.org";
    assert_int_equal(run(g_anchors, g_crl, san, &o, &rep), 0);
    o.addresses[0] = "alice@EXAMPLE.Org";
    assert_int_equal(run(g_anchors, g_crl, san, &o, &rep), 0);
    expect(&rep, "address", 1, "domain case-insensitive");
    o.addresses[0] = "Alice@example.org";
    assert_int_equal(run(g_anchors, g_crl, san, &o, &rep), -1);
    expect(&rep, "address", 0, "Alice@example.org not among the certificate's 2 addresses");
    o.addresses[0] = "alice@example.org.evil";
    assert_int_equal(run(g_anchors, g_crl, san, &o, &rep), -1);
    o.addresses[0] = "alice@example.org";
    o.addresses[1] = "a.doe@example.org";
    o.n_addresses = 2;
    assert_int_equal(run(g_anchors, g_crl, san, &o, &rep), 0);
    expect(&rep, "address", 1, "2 addresses matched");
    o.addresses[1] = "bob@example.org";
    assert_int_equal(run(g_anchors, g_crl, san, &o, &rep), -1);
    expect(&rep, "address", 0, "bob@example.org not among");
    o.n_addresses = 1;
    o.addresses[0] = "bob@example.org";
    assert_int_equal(run(g_anchors, g_crl, subj, &o, &rep), 0);
    o.addresses[0] = "bob@example.net";
    assert_int_equal(run(g_anchors, g_crl, subj, &o, &rep), -1);
    o.addresses[0] = "x@example.org";
    assert_int_equal(run(g_anchors, g_crl, noaddr, &o, &rep), -1);
    expect(&rep, "address", 0, "certificate carries no mail address");
    o.n_addresses = 0;
    assert_int_equal(run(g_anchors, g_crl, noaddr, &o, &rep), 0);
    o.n_addresses = CM_CERT_ADDR_MAX + 1;
    assert_int_equal(run(g_anchors, g_crl, san, &o, &rep), -1);
    expect(&rep, "address", 0, "more than 16 addresses");
    X509_free(san);
    X509_free(subj);
    X509_free(noaddr);
}

/* test_name_constraints - rfc822Name and emailAddress are both constrained */
static void test_name_constraints(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    EVP_PKEY *nkey = newkey();
    X509   *nc = MK(.subject = "/CN=Constrained CA", .issuer = g_ca, .ikey = g_ca_key, .key = nkey,
		    .exts = CA_EXT "|nameConstraints=critical,permitted;email:example.org");
    X509   *ok_san = MK(.subject = "/CN=Alice", .issuer = nc, .ikey = nkey,
			.exts = EE_BASE "|subjectAltName=email:alice@example.org");
    X509   *bad_san = MK(.subject = "/CN=Mallory", .issuer = nc, .ikey = nkey,
			 .exts = EE_BASE "|subjectAltName=email:mallory@evil.example");
    X509   *bad_subj = MK(.subject = "/CN=Mallory/emailAddress=mallory@evil.example", .issuer = nc,
			  .ikey = nkey, .exts = EE_BASE);
    char    crls[300];

    (void) state;
    o.role = CM_ROLE_NONE;
    o.untrusted = sk_X509_new_null();
    sk_X509_push(o.untrusted, nc);
    write_crls(path_new(crls, sizeof(crls), "crl-nc.pem"),
	       mkcrl(nc, nkey, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0),
	       mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
    assert_int_equal(run(g_anchors, crls, ok_san, &o, &rep), 0);
    assert_int_equal(run(g_anchors, crls, bad_san, &o, &rep), -1);
    expect(&rep, "path", 0, "permitted subtree violation");
    assert_int_equal(run(g_anchors, crls, bad_subj, &o, &rep), -1);
    expect(&rep, "path", 0, "permitted subtree violation");
    /* excluded subtrees, both name forms */
    {
	EVP_PKEY *xkey = newkey();
	X509   *xc = MK(.subject = "/CN=Excluding CA", .issuer = g_ca, .ikey = g_ca_key, .key = xkey,
			.exts = CA_EXT "|nameConstraints=critical,excluded;email:evil.example");
	X509   *x_san = MK(.subject = "/CN=M", .issuer = xc, .ikey = xkey,
			   .exts = EE_BASE "|subjectAltName=email:m@evil.example");
	X509   *x_subj = MK(.subject = "/CN=M/emailAddress=m@evil.example", .issuer = xc, .ikey = xkey,
			    .exts = EE_BASE);
	X509   *x_ok = MK(.subject = "/CN=A/emailAddress=a@example.org", .issuer = xc, .ikey = xkey,
			  .exts = EE_BASE);
	char    xcrls[300];

	write_crls(path_new(xcrls, sizeof(xcrls), "crl-x.pem"),
		   mkcrl(xc, xkey, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0),
		   mkcrl(g_ca, g_ca_key, NOW - DAY, NOW + 30 * DAY, 1, 1, 0, 0), (X509_CRL *) 0);
	(void) sk_X509_pop(o.untrusted);
	sk_X509_push(o.untrusted, xc);
	assert_int_equal(run(g_anchors, xcrls, x_ok, &o, &rep), 0);
	assert_int_equal(run(g_anchors, xcrls, x_san, &o, &rep), -1);
	expect(&rep, "path", 0, "excluded subtree violation");
	assert_int_equal(run(g_anchors, xcrls, x_subj, &o, &rep), -1);
	expect(&rep, "path", 0, "excluded subtree violation");
	X509_free(x_san);
	X509_free(x_subj);
	X509_free(x_ok);
	X509_free(xc);
	EVP_PKEY_free(xkey);
    }
    sk_X509_free(o.untrusted);
    X509_free(ok_san);
    X509_free(bad_san);
    X509_free(bad_subj);
    X509_free(nc);
    EVP_PKEY_free(nkey);
}

/* test_bounded_paths - cycles, long chains and many look-alikes end quickly */
static void test_bounded_paths(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    EVP_PKEY *ka = newkey(), *kb = newkey();
    X509   *a_by_b, *b_by_a, *leaf;
    X509   *chain[14];
    EVP_PKEY *keys[14];
    char    name[64];
    int     i;
    time_t  t0 = time(0);

    (void) state;
    o.role = CM_ROLE_NONE;
    /* A and B certify each other, neither an anchor */
    a_by_b = MK(.subject = "/CN=Cycle A", .exts = CA_EXT, .key = ka, .issuer = 0, .ikey = 0);
    b_by_a = MK(.subject = "/CN=Cycle B", .exts = CA_EXT, .key = kb, .issuer = a_by_b, .ikey = ka);
    X509_free(a_by_b);
    a_by_b = MK(.subject = "/CN=Cycle A", .exts = CA_EXT, .key = ka, .issuer = b_by_a, .ikey = kb);
    leaf = MK(.subject = "/CN=Leaf/emailAddress=l@example.org", .exts = EE_BASE, .issuer = a_by_b, .ikey = ka);
    o.untrusted = sk_X509_new_null();
    for (i = 0; i < 40; i++) {
	sk_X509_push(o.untrusted, a_by_b);
	sk_X509_push(o.untrusted, b_by_a);
    }
    assert_int_equal(run(g_anchors, g_crl, leaf, &o, &rep), -1);
    expect(&rep, "path", 0, 0);
    sk_X509_free(o.untrusted);
    X509_free(leaf);
    X509_free(a_by_b);
    X509_free(b_by_a);

    /* a chain of 14 certificates to the anchor: longer than CM_CHAIN_MAX */
    keys[0] = g_ca_key;
    chain[0] = g_ca;
    o.untrusted = sk_X509_new_null();
    for (i = 1; i < 14; i++) {
	keys[i] = newkey();
	snprintf(name, sizeof(name), "/CN=Level %d", i);
	chain[i] = MK(.subject = name, .exts = i < 13 ? CA_EXT : EE_BASE, .key = keys[i],
		      .issuer = chain[i - 1], .ikey = keys[i - 1]);
	if (i < 13)
	    sk_X509_push(o.untrusted, chain[i]);
    }
    assert_int_equal(run(g_anchors, g_crl, chain[13], &o, &rep), -1);
    expect(&rep, "path", 0, 0);
    sk_X509_free(o.untrusted);
    for (i = 1; i < 14; i++) {
	X509_free(chain[i]);
	EVP_PKEY_free(keys[i]);
    }
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
    assert_true(time(0) - t0 < 20);
}

/* test_no_anchors - path fails, profile still runs */
static void test_no_anchors(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERT_OPTS o = opts_client();
    X509   *u = MK(.subject = USER_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    char    err[300];

    (void) state;
    assert_int_equal(cm_cert_check(0, u, &o, &rep), -1);
    expect(&rep, "path", 0, "no trust anchors given (--ca)");
    expect(&rep, "revocation", 0, "no CRLs given");
    expect(&rep, "validity", 1, 0);
    expect(&rep, "c3-policy", 1, 0);
    /* anchors without CRLs: revocation fails, everything else passes */
    assert_int_equal(run(g_anchors, 0, u, &o, &rep), -1);
    expect(&rep, "path", 1, 0);
    expect(&rep, "revocation", 0, "no CRLs given");
    /* bad trust settings are errors at load time */
    assert_null(cm_trust_load("/nonexistent/ca.pem", 0, err, sizeof(err)));
    assert_null(cm_trust_load(g_anchors, "/nonexistent/crl", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/crl"));
    assert_null(cm_trust_load(g_anchors, g_anchors, err, sizeof(err)));
    assert_non_null(strstr(err, "no PEM or DER CRL"));
    X509_free(u);
}

/* server_with_country - C.2 server whose directoryName has countryName */
static X509 *server_with_country(const char *country)
{
    X509   *x = MK(.subject = SERVER_DN, .issuer = g_ca, .ikey = g_ca_key,
		   .exts = EE_BASE "|certificatePolicies=0.0.24.1341.2.1");
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *dir = GENERAL_NAME_new(), *email = GENERAL_NAME_new();
    X509_NAME *dn = X509_NAME_new();
    ASN1_IA5STRING *addr = ASN1_IA5STRING_new();

    /* countryName is SIZE(2) in X.520: set the string type directly */
    X509_NAME_add_entry_by_NID(dn, NID_countryName, V_ASN1_PRINTABLESTRING,
			       (const unsigned char *) country, -1, -1, 0);
    X509_NAME_add_entry_by_NID(dn, NID_organizationName, MBSTRING_UTF8,
			       (const unsigned char *) "Example Org", -1, -1, 0);
    X509_NAME_add_entry_by_NID(dn, NID_streetAddress, MBSTRING_UTF8,
			       (const unsigned char *) "1 rue de la Paix", -1, -1, 0);
    X509_NAME_add_entry_by_NID(dn, NID_localityName, MBSTRING_UTF8,
			       (const unsigned char *) "Paris", -1, -1, 0);
    X509_NAME_add_entry_by_NID(dn, NID_postalCode, MBSTRING_UTF8,
			       (const unsigned char *) "75002", -1, -1, 0);
    GENERAL_NAME_set0_value(dir, GEN_DIRNAME, dn);
    ASN1_STRING_set(addr, "postmaster@example.org", -1);
    GENERAL_NAME_set0_value(email, GEN_EMAIL, addr);
    sk_GENERAL_NAME_push(gens, email);
    sk_GENERAL_NAME_push(gens, dir);
    assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
    GENERAL_NAMES_free(gens);
    assert_true(X509_sign(x, g_ca_key, EVP_sha256()) > 0);
    return (x);
}

/* test_profile_server - Annex C.2 */
static void test_profile_server(void **state)
{
    CM_CERT_REPORT rep;
    X509   *good = MK(.subject = SERVER_DN, .exts = SERVER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    X509   *x;

    (void) state;
    rep.n = 0;
    if (cm_profile_check(good, CM_ROLE_SERVER, &rep) != 0) {
	show(&rep);
	fail_msg("good server certificate refused");
    }
    expect(&rep, "c2-subject-dnsname", 1, "mail.example.org");
    expect(&rep, "c2-dirname-country", 1, "FRA");
    expect(&rep, "c2-dirname-state", 1, "optional");
    expect(&rep, "c2-policy", 1, "0.0.24.1341.2.1");
    assert_int_equal(rep.n, 13);
    rep.n = 0;
    assert_int_equal(cm_profile_check(good, CM_ROLE_NONE, &rep), 0);
    assert_int_equal(rep.n, 0);
    X509_free(good);

    /* CN only, no dnsName attribute */
    x = MK(.subject = "/CN=mail.example.org", .exts = SERVER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-subject-dnsname", 0, "2.5.4.100");
    expect(&rep, "c2-subject-cn", 1, 0);
    X509_free(x);
    /* dnsName not a DNS name, CN differs */
    x = MK(.subject = "/dnsName=mail_server/CN=mail.example.org", .exts = SERVER_EXT, .issuer = g_ca,
	   .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-subject-dnsname", 0, "not a fully qualified DNS name");
    expect(&rep, "c2-subject-cn", 0, "differs");
    X509_free(x);
    /* sequential serial, client policy, no directoryName, no rfc822Name */
    x = MK(.subject = SERVER_DN, .issuer = g_ca, .ikey = g_ca_key, .serial = "02",
	   .exts = EE_BASE "|subjectAltName=DNS:mail.example.org|certificatePolicies=0.0.24.1341.2.2");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-serial", 0, "2 bits");
    expect(&rep, "c2-policy", 0, "lacks 0.0.24.1341.2.1");
    expect(&rep, "c2-san-directoryname", 0, 0);
    expect(&rep, "c2-san-rfc822name", 0, "has no rfc822Name");
    expect(&rep, "c2-dirname-country", 0, 0);
    expect(&rep, "c2-dirname-postalcode", 0, 0);
    X509_free(x);
    /* 64 bits is enough, 63 is not */
    x = MK(.subject = SERVER_DN, .exts = SERVER_EXT, .issuer = g_ca, .ikey = g_ca_key,
	   .serial = "8000000000000000");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), 0);
    X509_free(x);
    x = MK(.subject = SERVER_DN, .exts = SERVER_EXT, .issuer = g_ca, .ikey = g_ca_key,
	   .serial = "7FFFFFFFFFFFFFFF");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-serial", 0, "63 bits");
    X509_free(x);
    /* directoryName without postalCode; a country code that is not alpha-3 */
    x = MK(.subject = SERVER_DN, .issuer = g_ca, .ikey = g_ca_key,
	   .exts = EE_BASE "|subjectAltName=email:postmaster@example.org,dirName:server_dir_nopostal"
	   "|certificatePolicies=0.0.24.1341.2.1");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-dirname-postalcode", 0, "no postalCode");
    expect(&rep, "c2-dirname-street", 1, 0);
    X509_free(x);
    x = MK(.subject = SERVER_DN, .issuer = g_ca, .ikey = g_ca_key,
	   .exts = EE_BASE "|subjectAltName=email:postmaster@example.org,dirName:server_dir_badcountry"
	   "|certificatePolicies=0.0.24.1341.2.1");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-dirname-country", 0, "F1A is not an ISO 3166 alpha-3");
    X509_free(x);
    /* a 3-letter countryName is accepted, a 2-letter one is not */
    x = server_with_country("FRA");
    rep.n = 0;
    if (cm_profile_check(x, CM_ROLE_SERVER, &rep) != 0) {
	show(&rep);
	fail_msg("3-letter countryName refused");
    }
    expect(&rep, "c2-dirname-country", 1, "countryName FRA (alpha-3)");
    X509_free(x);
    x = server_with_country("FR");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-dirname-country", 0, "alpha-3 code is required");
    X509_free(x);
    /* version 1 */
    x = MK(.subject = SERVER_DN, .issuer = g_ca, .ikey = g_ca_key, .v1 = 1);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_SERVER, &rep), -1);
    expect(&rep, "c2-version", 0, "version 1");
    expect(&rep, "c2-policy", 0, "no certificatePolicies");
    X509_free(x);
}

/* test_profile_client - Annex C.3 */
static void test_profile_client(void **state)
{
    CM_CERT_REPORT rep;
    X509   *x;

    (void) state;
    /* an organisation */
    x = MK(.subject = ORG_DN, .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    if (cm_profile_check(x, CM_ROLE_CLIENT, &rep) != 0) {
	show(&rep);
	fail_msg("organisation refused");
    }
    expect(&rep, "c3-subject-kind", 1, "organisation");
    expect(&rep, "c3-givenname", 1, "not a person");
    X509_free(x);
    /* a person with a generationQualifier and a state */
    x = MK(.subject = USER_DN "/generationQualifier=Jr/ST=Ile-de-France", .exts = USER_EXT,
	   .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), 0);
    expect(&rep, "c3-generation", 1, "with surname");
    expect(&rep, "c3-state", 1, "Ile-de-France");
    X509_free(x);
    /* both surname and organizationName */
    x = MK(.subject = USER_DN "/O=Example Org", .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), -1);
    expect(&rep, "c3-subject-kind", 0, "both");
    X509_free(x);
    /* neither */
    x = MK(.subject = "/street=2 Main Street/L=Paris/postalCode=75001/countryCode3c=FRA/CN=X",
	   .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), -1);
    expect(&rep, "c3-subject-kind", 0, "neither");
    X509_free(x);
    /* surname without givenName and initials */
    x = MK(.subject = "/SN=Doe/street=2 Main Street/L=Paris/postalCode=75001/countryCode3c=FRA",
	   .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), -1);
    expect(&rep, "c3-givenname", 0, "givenName missing");
    expect(&rep, "c3-initials", 0, "initials missing");
    X509_free(x);
    /* organisation with givenName, initials, generationQualifier */
    x = MK(.subject = ORG_DN "/GN=Bob/initials=B/generationQualifier=III", .exts = USER_EXT,
	   .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), -1);
    expect(&rep, "c3-givenname", 0, "without surname");
    expect(&rep, "c3-initials", 0, "without surname");
    expect(&rep, "c3-generation", 0, "without surname");
    X509_free(x);
    /* no address parts, no countryCode3c, no SAN, no policy */
    x = MK(.subject = "/SN=Doe/GN=Alice/initials=A/C=FR", .issuer = g_ca, .ikey = g_ca_key,
	   .exts = EE_BASE);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), -1);
    expect(&rep, "c3-street", 0, "no streetAddress");
    expect(&rep, "c3-locality", 0, "no localityName");
    expect(&rep, "c3-postalcode", 0, "no postalCode");
    expect(&rep, "c3-country", 0, "no countryCode3c");
    expect(&rep, "c3-san-rfc822name", 0, "no subjectAltName");
    expect(&rep, "c3-policy", 0, "no certificatePolicies");
    X509_free(x);
    /* control characters from a certificate never reach the output */
    x = MK(.subject = "/SN=Doe/GN=A/initials=A/street=2 Main\x1b[2J Street/L=Paris\n/postalCode=1"
	   "/countryCode3c=FRA", .exts = USER_EXT, .issuer = g_ca, .ikey = g_ca_key);
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), 0);
    expect(&rep, "c3-street", 1, "2 Main?[2J Street");
    expect(&rep, "c3-locality", 1, "Paris?");
    X509_free(x);
    /* the C.3 erratum: the server policy OID on a client certificate */
    x = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
	   .exts = EE_BASE "|subjectAltName=email:alice@example.org|certificatePolicies=0.0.24.1341.2.1");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), 0);
    expect(&rep, "c3-policy", 1, "accepted erratum OID");
    X509_free(x);
    /* some other policy only */
    x = MK(.subject = USER_DN, .issuer = g_ca, .ikey = g_ca_key,
	   .exts = EE_BASE "|subjectAltName=email:alice@example.org|certificatePolicies=1.2.3.4");
    rep.n = 0;
    assert_int_equal(cm_profile_check(x, CM_ROLE_CLIENT, &rep), -1);
    expect(&rep, "c3-policy", 0, "lacks 0.0.24.1341.2.2");
    X509_free(x);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_valid_client),
	cmocka_unit_test(test_not_after_inclusive),
	cmocka_unit_test(test_partial_chain),
	cmocka_unit_test(test_candidate_paths),
	cmocka_unit_test(test_overlapping_cas),
	cmocka_unit_test(test_newest_crl_wins),
	cmocka_unit_test(test_refused_crls),
	cmocka_unit_test(test_crl_reread),
	cmocka_unit_test(test_key_usage),
	cmocka_unit_test(test_eku),
	cmocka_unit_test(test_address),
	cmocka_unit_test(test_name_constraints),
	cmocka_unit_test(test_bounded_paths),
	cmocka_unit_test(test_no_anchors),
	cmocka_unit_test(test_profile_server),
	cmocka_unit_test(test_profile_client),
    };

    return (cmocka_run_group_tests(tests, setup, teardown));
}
