/*++
 * NAME
 *	test_certcache 1
 * SUMMARY
 *	unit tests of cm_certcache (parsed certificates and CRL files)
 * DESCRIPTION
 *	Certificates parsed once per process and shared (same object for
 *	the same DER from base64, PEM files and the certificate
 *	directory), trailing bytes still refused, a caller's modification
 *	not served to others, the caches bounded in entries and bytes
 *	(least recently used out), a warm cache inherited across fork(), concurrent threads;
 *	CRL files parsed once per file generation, yet a CRL replaced on
 *	disk takes effect at the next check without a restart (file and
 *	directory), a cached CRL with a bad signature is still refused,
 *	a cached CRL's nextUpdate is checked against each check's time,
 *	recently modified files are not cached; the memo of passed path
 *	checks (hit only for the same certificate, anchor and CRL objects,
 *	also across trust stores loaded from the same files, and a time on the same side of every boundary; no memo
 *	for failures or with untrusted certificates); cm_certdir_preload()
 *	and cm_trust_anchor_names().
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
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bn.h>

#include "cm_pem.h"
#include "cm_base64.h"
#include "cm_cert.h"
#include "cm_certdir.h"
#include "cm_certcache.h"

#define DAY	86400L

static char g_dir[256];
static time_t NOW;
static EVP_PKEY *g_key;			/* one key for every test certificate */
static X509 *g_ca;
static EVP_PKEY *g_other_key;		/* signs the forged CRL */
static char g_anchors[300];
static int g_seq;

/* Aged files, written at setup: old enough (CM_CRLCACHE_RACY) to be cached. */
static X509 *g_user;			/* revoked by crl_rev */
static char g_crl_ok[300];		/* number 1, revokes nothing */
static char g_crl_rev[300];		/* number 2, revokes g_user (a spare copy to rename) */
static char g_crl_rev_dir[300];		/* holds b.crl = number 2 */
static char g_crl_forged[300];		/* CA's name, another key */
static char g_crl_short[300];		/* nextUpdate NOW + DAY */
static char g_crldir[300];		/* a.crl = number 1 */

/* mkname - X509_NAME from "CN" */
static X509_NAME *mkname(const char *cn)
{
    X509_NAME *name = X509_NAME_new();

    assert_non_null(name);
    assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0));
    return (name);
}

/* mkcert - a certificate; issuer null: self-signed CA */
static X509 *mkcert(const char *cn, X509 *issuer, long serial)
{
    X509   *x = X509_new();
    X509_NAME *name = mkname(cn);
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    ASN1_TIME_set(X509_getm_notBefore(x), NOW - 30 * DAY);
    ASN1_TIME_set(X509_getm_notAfter(x), NOW + 365 * DAY);
    X509_set_pubkey(x, g_key);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, 0, 0, 0);
    ext = X509V3_EXT_conf_nid(0, &ctx, NID_basic_constraints,
			      issuer ? "critical,CA:false" : "critical,CA:true");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(0, &ctx, NID_subject_key_identifier, "hash");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(0, &ctx, NID_authority_key_identifier, "keyid:always");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (issuer == 0) {
	ext = X509V3_EXT_conf_nid(0, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, g_key, EVP_sha256()) > 0);
    return (x);
}

/* mkcrl - a v2 CRL of g_ca with a number, revoking rev (or nothing) */
static X509_CRL *mkcrl(EVP_PKEY *key, time_t tu, time_t nu, long number, X509 *rev)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_INTEGER *n = ASN1_INTEGER_new();

    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(g_ca));
    ASN1_TIME_set(t, tu);
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_set(t, nu);
    X509_CRL_set1_nextUpdate(crl, t);
    if (rev) {
	X509_REVOKED *r = X509_REVOKED_new();

	X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(rev));
	ASN1_TIME_set(t, tu - 60);
	X509_REVOKED_set_revocationDate(r, t);
	X509_CRL_add0_revoked(crl, r);
    }
    ASN1_INTEGER_set(n, number);
    X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0);
    {
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, g_ca, 0, 0, crl, 0);
	ext = X509V3_EXT_conf_nid(0, &ctx, NID_authority_key_identifier, "keyid:always");
	assert_non_null(ext);
	X509_CRL_add_ext(crl, ext, -1);
	X509_EXTENSION_free(ext);
    }
    ASN1_INTEGER_free(n);
    ASN1_TIME_free(t);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    return (crl);
}

/* path_new - a fresh file name in the scratch directory */
static const char *path_new(char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "%s/%d-%s", g_dir, ++g_seq, what);
    return (buf);
}

/* write_cert - a PEM file of one certificate, with optional text after */
static void write_cert(const char *path, X509 *x, const char *after)
{
    FILE   *fp = fopen(path, "w");

    assert_non_null(fp);
    PEM_write_X509(fp, x);
    if (after)
	fputs(after, fp);
    fclose(fp);
}

/* write_crl - a PEM file of one CRL, freeing it */
static void write_crl(const char *path, X509_CRL *crl)
{
    FILE   *fp = fopen(path, "w");

    assert_non_null(fp);
    PEM_write_X509_CRL(fp, crl);
    fclose(fp);
    X509_CRL_free(crl);
}

/* b64_of - base64 DER of a certificate (free it) */
static char *b64_of(X509 *x)
{
    char   *b64 = cm_cert_to_b64(x, 64);

    assert_non_null(b64);
    return (b64);
}

/* stats - the counters now */
static CM_CERTCACHE_STATS stats(void)
{
    CM_CERTCACHE_STATS s;

    cm_certcache_stats(&s);
    return (s);
}

/* memo_hits - path check memo hits so far */
static unsigned long memo_hits(void)
{
    unsigned long hits, misses;
    int     entries;

    cm_cert_memo_stats(&hits, &misses, &entries);
    return (hits);
}

/* check - cm_cert_check with role none at time at (0: now); 0 or -1 */
static int check(CM_TRUST *t, X509 *x, time_t at, CM_CERT_REPORT *rep)
{
    CM_CERT_OPTS o;

    memset(&o, 0, sizeof(o));
    o.purpose = CM_PURPOSE_ANY;
    o.at = at;
    return (cm_cert_check(t, x, &o, rep));
}

/* rule_reason - the reason of a rule ("" if absent) */
static const char *rule_reason(const CM_CERT_REPORT *rep, const char *rule, int *ok)
{
    int     i;

    for (i = 0; i < rep->n; i++) {
	if (strcmp(rep->rules[i].rule, rule) == 0) {
	    *ok = rep->rules[i].ok;
	    return (rep->rules[i].reason);
	}
    }
    *ok = -1;
    return ("");
}

/* expect_rule - outcome of a rule and a reason substring */
static void expect_rule(const CM_CERT_REPORT *rep, const char *rule, int want, const char *substr)
{
    int     ok;
    const char *why = rule_reason(rep, rule, &ok);

    if (ok != want || (substr && strstr(why, substr) == 0))
	fail_msg("rule %s: got %d (%s), want %d with \"%s\"", rule, ok, why, want, substr ? substr : "");
}

/* setup - CA, anchors, aged CRL files */
static int setup(void **state)
{
    char    f[400];

    (void) state;
    NOW = time(0);
    snprintf(g_dir, sizeof(g_dir), "%s/test_certcache.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_dir) == 0)
	return (-1);
    g_key = EVP_EC_gen("P-256");
    g_other_key = EVP_EC_gen("P-256");
    if (g_key == 0 || g_other_key == 0)
	return (-1);
    g_ca = mkcert("Cache Test CA", 0, 1);
    write_cert(path_new(g_anchors, sizeof(g_anchors), "ca.pem"), g_ca, 0);
    g_user = mkcert("Revoked User", g_ca, 4242);
    write_crl(path_new(g_crl_ok, sizeof(g_crl_ok), "crl-ok.pem"), mkcrl(g_key, NOW - DAY, NOW + 30 * DAY, 1, 0));
    write_crl(path_new(g_crl_rev, sizeof(g_crl_rev), "crl-rev.pem"),
	      mkcrl(g_key, NOW - DAY / 2, NOW + 30 * DAY, 2, g_user));
    path_new(g_crl_rev_dir, sizeof(g_crl_rev_dir), "revdir");
    if (mkdir(g_crl_rev_dir, 0700) < 0)
	return (-1);
    snprintf(f, sizeof(f), "%s/b.crl", g_crl_rev_dir);
    write_crl(f, mkcrl(g_key, NOW - DAY / 2, NOW + 30 * DAY, 2, g_user));
    write_crl(path_new(g_crl_forged, sizeof(g_crl_forged), "crl-forged.pem"),
	      mkcrl(g_other_key, NOW - DAY, NOW + 30 * DAY, 7, 0));
    write_crl(path_new(g_crl_short, sizeof(g_crl_short), "crl-short.pem"),
	      mkcrl(g_key, NOW - DAY, NOW + DAY, 3, 0));
    path_new(g_crldir, sizeof(g_crldir), "crldir");
    if (mkdir(g_crldir, 0700) < 0)
	return (-1);
    snprintf(f, sizeof(f), "%s/a.crl", g_crldir);
    write_crl(f, mkcrl(g_key, NOW - DAY, NOW + 30 * DAY, 1, 0));
    /* Files younger than CM_CRLCACHE_RACY seconds are never cached. */
    sleep(CM_CRLCACHE_RACY + 1);
    return (0);
}

/* teardown - remove everything */
static int teardown(void **state)
{
    char    cmd[400];

    (void) state;
    cm_certcache_flush();
    X509_free(g_ca);
    X509_free(g_user);
    EVP_PKEY_free(g_key);
    EVP_PKEY_free(g_other_key);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return (system(cmd) == 0 ? 0 : -1);
}

/* test_cert_shared - the same bytes give the same object, parsed once */
static void test_cert_shared(void **state)
{
    X509   *u = mkcert("Shared", g_ca, 100);
    char   *b64 = b64_of(u);
    char    f[300], g[300], err[300];
    char   *junk;
    CM_CERTCACHE_STATS s0, s1;
    X509   *a, *b, *c, *d;
    size_t  n;

    (void) state;
    s0 = stats();
    a = cm_cert_from_b64(b64, strlen(b64));
    b = cm_cert_from_b64(b64, strlen(b64));
    assert_non_null(a);
    assert_ptr_equal(a, b);
    write_cert(path_new(f, sizeof(f), "shared.pem"), u, 0);
    c = cm_pem_read_cert(f, err, sizeof(err));
    assert_ptr_equal(a, c);
    /* PEM with text after the block (PEM_read_X509 allowed it) */
    write_cert(path_new(g, sizeof(g), "shared-trailer.pem"), u, "trailing text\n");
    d = cm_pem_read_cert(g, err, sizeof(err));
    assert_ptr_equal(a, d);
    s1 = stats();
    assert_int_equal(s1.cert_parses - s0.cert_parses, 1);
    assert_int_equal(s1.cert_hits - s0.cert_hits, 3);
    assert_int_equal(X509_cmp(a, u), 0);
    X509_free(a);
    X509_free(b);
    X509_free(c);
    X509_free(d);

    /* Still cached after every caller freed it; bytes after the DER refused. */
    {
	unsigned char *der = 0;
	int     len = i2d_X509(u, &der);
	unsigned char *more = malloc((size_t) len + 2);

	assert_non_null(more);
	memcpy(more, der, (size_t) len);
	more[len] = 0x05;
	more[len + 1] = 0x00;			/* an ASN.1 NULL after the certificate */
	junk = cm_base64_encode(more, (size_t) len + 2, 0);
	n = strlen(junk);
	assert_null(cm_cert_from_b64(junk, n));
	assert_null(cm_certcache_d2i(more, (size_t) len + 2, 1));
	a = cm_certcache_d2i(more, (size_t) len + 2, 0);	/* allowed, not cached */
	assert_non_null(a);
	X509_free(a);
	a = cm_certcache_d2i(der, (size_t) len, 1);
	assert_non_null(a);
	X509_free(a);
	free(junk);
	free(more);
	OPENSSL_free(der);
    }
    /* Not a certificate: NULL, nothing cached. */
    assert_null(cm_cert_from_b64("Zm9vYmFy", 8));
    assert_null(cm_certcache_d2i((const unsigned char *) "\x30\x03\x02\x01\x01", 5, 1));
    free(b64);
    X509_free(u);
}

/* test_cert_modified - sharing: frees are independent, a re-encoded object is not served */
static void test_cert_modified(void **state)
{
    X509   *u = mkcert("Pristine", g_ca, 101);
    char   *b64 = b64_of(u);
    CM_CERTCACHE_STATS s0, s1;
    X509   *a, *b;

    (void) state;
    a = cm_cert_from_b64(b64, strlen(b64));
    b = cm_cert_from_b64(b64, strlen(b64));
    assert_non_null(a);
    assert_ptr_equal(a, b);
    /* One holder frees: the other's object is intact and usable. */
    X509_free(a);
    assert_int_equal(X509_verify(b, g_key), 1);
    assert_int_equal(X509_cmp(b, u), 0);
    /* A careless holder re-signs the shared object (its encoding changes). */
    assert_true(X509_sign(b, g_other_key, EVP_sha256()) > 0);
    s0 = stats();
    a = cm_cert_from_b64(b64, strlen(b64));
    s1 = stats();
    assert_non_null(a);
    assert_ptr_not_equal(a, b);
    assert_int_equal(X509_verify(a, g_key), 1);		/* the bytes as sent */
    assert_int_equal(X509_cmp(a, u), 0);
    assert_int_equal(s1.cert_modified - s0.cert_modified, 1);
    assert_int_equal(s1.cert_parses - s0.cert_parses, 1);
    /* The modified object is still its holder's, as modified. */
    assert_int_equal(X509_verify(b, g_other_key), 1);
    X509_free(b);
    /* The fresh object is the cached one now. */
    b = cm_cert_from_b64(b64, strlen(b64));
    assert_ptr_equal(a, b);
    X509_free(a);
    X509_free(b);
    free(b64);
    X509_free(u);
}

/* test_cert_bounded - at most CM_CERTCACHE_MAX, least recently used out */
static void test_cert_bounded(void **state)
{
    int     extra = 20;
    int     total = CM_CERTCACHE_MAX + extra;
    char  **b64 = calloc((size_t) total, sizeof(*b64));
    CM_CERTCACHE_STATS s0, s1;
    X509   *x, *keep;
    int     i;

    (void) state;
    assert_non_null(b64);
    for (i = 0; i < total; i++) {
	x = mkcert("Many", g_ca, 10000 + i);
	b64[i] = b64_of(x);
	X509_free(x);
    }
    cm_certcache_flush();
    s0 = stats();
    assert_int_equal(s0.cert_entries, 0);
    /* Number 1 stays in use all along: never the least recently used. */
    keep = cm_cert_from_b64(b64[1], strlen(b64[1]));
    for (i = 0; i < total; i++) {
	x = cm_cert_from_b64(b64[i], strlen(b64[i]));
	assert_non_null(x);
	X509_free(x);
	x = cm_cert_from_b64(b64[1], strlen(b64[1]));
	assert_ptr_equal(x, keep);
	X509_free(x);
    }
    s1 = stats();
    assert_int_equal(s1.cert_entries, CM_CERTCACHE_MAX);
    assert_int_equal(s1.cert_evictions - s0.cert_evictions, extra);
    assert_int_equal(s1.cert_parses - s0.cert_parses, total);
    /* The oldest went (parsed again), the newest is there. */
    x = cm_cert_from_b64(b64[0], strlen(b64[0]));
    X509_free(x);
    x = cm_cert_from_b64(b64[total - 1], strlen(b64[total - 1]));
    X509_free(x);
    s0 = stats();
    assert_int_equal(s0.cert_parses - s1.cert_parses, 1);
    assert_int_equal(s0.cert_hits - s1.cert_hits, 1);
    X509_free(keep);
    for (i = 0; i < total; i++)
	free(b64[i]);
    free(b64);
    cm_certcache_flush();
    assert_int_equal(stats().cert_entries, 0);
}

/* test_cert_bytes_bounded - at most CM_CERTCACHE_BYTES of certificates */
static void test_cert_bytes_bounded(void **state)
{
    int     total = 50;
    char   *comment = malloc(50001);
    char  **b64 = calloc((size_t) total, sizeof(*b64));
    X509V3_CTX ctx;
    CM_CERTCACHE_STATS s;
    X509   *x;
    int     i;

    (void) state;
    assert_non_null(comment);
    assert_non_null(b64);
    memset(comment, 'A', 50000);
    comment[50000] = 0;
    for (i = 0; i < total; i++) {
	X509_EXTENSION *ext;

	x = mkcert("Big", g_ca, 20000 + i);
	X509V3_set_ctx(&ctx, g_ca, x, 0, 0, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(0, &ctx, NID_netscape_comment, comment));
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, g_key, EVP_sha256()) > 0);
	assert_true(i2d_X509(x, 0) > 50000);
	b64[i] = b64_of(x);
	X509_free(x);
    }
    cm_certcache_flush();
    for (i = 0; i < total; i++) {
	x = cm_cert_from_b64(b64[i], strlen(b64[i]));
	assert_non_null(x);
	X509_free(x);
	s = stats();
	assert_true(s.cert_bytes <= CM_CERTCACHE_BYTES);
    }
    assert_true(s.cert_entries < total);
    assert_true(s.cert_entries >= CM_CERTCACHE_BYTES / 52000 - 1);
    /* the latest is cached */
    x = cm_cert_from_b64(b64[total - 1], strlen(b64[total - 1]));
    X509_free(x);
    assert_int_equal(stats().cert_hits - s.cert_hits, 1);
    cm_certcache_flush();
    assert_int_equal(stats().cert_bytes, 0);
    for (i = 0; i < total; i++)
	free(b64[i]);
    free(b64);
    free(comment);
}

/* test_fork - a cache warmed in the parent serves the child */
static void test_fork(void **state)
{
    X509   *u = mkcert("Forked", g_ca, 102);
    char   *b64 = b64_of(u);
    X509   *a;
    pid_t   pid;
    int     status;

    (void) state;
    a = cm_cert_from_b64(b64, strlen(b64));
    assert_non_null(a);
    if ((pid = fork()) == 0) {
	CM_CERTCACHE_STATS s0 = stats(), s1;
	X509   *b = cm_cert_from_b64(b64, strlen(b64));
	int     rc;

	s1 = stats();
	rc = (b == a && s1.cert_parses == s0.cert_parses && s1.cert_hits == s0.cert_hits + 1) ? 0 : 1;
	/* Tidy for leak checkers (valgrind follows the child). */
	X509_free(b);
	X509_free(a);
	X509_free(u);
	free(b64);
	_exit(rc);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    X509_free(a);
    free(b64);
    X509_free(u);
}

typedef struct {
    const char *b64;
    X509   *want;
    int     bad;
} THREAD_ARG;

/* hammer - look one certificate up many times */
static void *hammer(void *arg)
{
    THREAD_ARG *t = arg;
    int     i;

    for (i = 0; i < 200; i++) {
	X509   *x = cm_cert_from_b64(t->b64, strlen(t->b64));

	if (x == 0 || X509_cmp(x, t->want) != 0)
	    t->bad++;
	X509_free(x);
    }
    return (0);
}

/* test_threads - concurrent look-ups (the notary's worker threads) */
static void test_threads(void **state)
{
    X509   *u[2] = {mkcert("Thread A", g_ca, 103), mkcert("Thread B", g_ca, 104)};
    char   *b64[2] = {b64_of(u[0]), b64_of(u[1])};
    pthread_t tid[4];
    THREAD_ARG arg[4];
    int     i;

    (void) state;
    for (i = 0; i < 4; i++) {
	arg[i].b64 = b64[i % 2];
	arg[i].want = u[i % 2];
	arg[i].bad = 0;
	assert_int_equal(pthread_create(&tid[i], 0, hammer, &arg[i]), 0);
    }
    for (i = 0; i < 4; i++) {
	assert_int_equal(pthread_join(tid[i], 0), 0);
	assert_int_equal(arg[i].bad, 0);
    }
    for (i = 0; i < 2; i++) {
	free(b64[i]);
	X509_free(u[i]);
    }
}

/* test_crl_file_replaced - cached per generation, a new CRL takes effect */
static void test_crl_file_replaced(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERTCACHE_STATS s0, s1;
    CM_TRUST *t;
    char    crl[300], spare[300], cmd[1400], err[300];
    unsigned long m0;

    (void) state;
    /* Copies that keep the aged timestamps (and their own inodes). */
    path_new(crl, sizeof(crl), "live.crl");
    path_new(spare, sizeof(spare), "spare.crl");
    snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s' && cp -p '%s' '%s'", g_crl_ok, crl, g_crl_rev, spare);
    assert_int_equal(system(cmd), 0);
    sleep(CM_CRLCACHE_RACY + 1);		/* cp set ctime: age it */
    s0 = stats();
    t = cm_trust_load(g_anchors, crl, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    m0 = memo_hits();
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    assert_int_equal(memo_hits() - m0, 1);	/* the path check memoized, too */
    s1 = stats();
    /* Parsed once (at load), then served from the cache. */
    assert_int_equal(s1.crl_parses - s0.crl_parses, 1);
    assert_int_equal(s1.crl_hits - s0.crl_hits, 2);

    /* The administrator's cron job installs a new CRL (rename). */
    assert_int_equal(rename(spare, crl), 0);
    assert_int_equal(check(t, g_user, 0, &rep), -1);
    expect_rule(&rep, "revocation", 0, "certificate revoked (CRL from CN=Cache Test CA, number 2");
    assert_int_equal(check(t, g_user, 0, &rep), -1);

    /* ... or rewrites it in place (same inode, new content). */
    snprintf(cmd, sizeof(cmd), "cat '%s' > '%s'", g_crl_ok, crl);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    expect_rule(&rep, "revocation", 1, "not revoked");
    cm_trust_free(t);
}

/* test_crl_dir_changed - files added to and removed from a CRL directory */
static void test_crl_dir_changed(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERTCACHE_STATS s0, s1;
    CM_TRUST *t;
    char    from[400], to[400], err[300];

    (void) state;
    t = cm_trust_load(g_anchors, g_crldir, err, sizeof(err));
    assert_non_null(t);
    s0 = stats();
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    s1 = stats();
    assert_int_equal(s1.crl_parses, s0.crl_parses);		/* a.crl: from the load */
    assert_int_equal(s1.crl_hits - s0.crl_hits, 1);
    snprintf(from, sizeof(from), "%s/b.crl", g_crl_rev_dir);
    snprintf(to, sizeof(to), "%s/b.crl", g_crldir);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(check(t, g_user, 0, &rep), -1);
    expect_rule(&rep, "revocation", 0, "number 2");
    assert_int_equal(unlink(to), 0);
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    cm_trust_free(t);
}

/* test_crl_bad_signature - a cached forged CRL is refused every time */
static void test_crl_bad_signature(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERTCACHE_STATS s0, s1;
    CM_TRUST *t;
    char    err[300];
    unsigned long m0;
    int     i;

    (void) state;
    t = cm_trust_load(g_anchors, g_crl_forged, err, sizeof(err));
    assert_non_null(t);
    s0 = stats();
    m0 = memo_hits();
    for (i = 0; i < 3; i++) {
	assert_int_equal(check(t, g_user, 0, &rep), -1);
	expect_rule(&rep, "revocation", 0, "CRL signature failure");
	expect_rule(&rep, "path", 1, 0);
    }
    assert_int_equal(memo_hits(), m0);		/* failures are not memoized */
    s1 = stats();
    assert_int_equal(s1.crl_parses, s0.crl_parses);
    assert_int_equal(s1.crl_hits - s0.crl_hits, 3);
    cm_trust_free(t);
}

/* test_crl_expiry_per_check - nextUpdate against each check's time */
static void test_crl_expiry_per_check(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERTCACHE_STATS s0, s1;
    CM_TRUST *t;
    char    err[300];

    (void) state;
    t = cm_trust_load(g_anchors, g_crl_short, err, sizeof(err));
    assert_non_null(t);
    s0 = stats();
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    assert_int_equal(check(t, g_user, NOW + DAY, &rep), 0);	/* at nextUpdate: current */
    assert_int_equal(check(t, g_user, NOW + DAY + 1, &rep), -1);
    expect_rule(&rep, "revocation", 0, "expired: nextUpdate");
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    s1 = stats();
    assert_int_equal(s1.crl_parses, s0.crl_parses);
    assert_int_equal(s1.crl_hits - s0.crl_hits, 4);
    cm_trust_free(t);
}

/* test_memo_times - a memoized check is not used across a time boundary */
static void test_memo_times(void **state)
{
    CM_CERT_REPORT rep, rep2;
    CM_CERT_OPTS o;
    CM_TRUST *t;
    X509   *inter, *leaf;
    STACK_OF(X509) *untrusted;
    char    err[300];
    unsigned long m0;
    time_t  now = time(0);
    int     i;

    (void) state;
    /* g_crl_ok: thisUpdate NOW - DAY, nextUpdate NOW + 30 days */
    t = cm_trust_load(g_anchors, g_crl_ok, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(check(t, g_user, now, &rep), 0);
    m0 = memo_hits();
    assert_int_equal(check(t, g_user, now, &rep2), 0);
    assert_int_equal(memo_hits() - m0, 1);
    for (i = 0; i < 3; i++) {
	assert_string_equal(rep.rules[i].rule, rep2.rules[i].rule);
	assert_string_equal(rep.rules[i].reason, rep2.rules[i].reason);
    }
    assert_int_equal(rep.n, rep2.n);
    /* inside the interval: served, with this check's time in the reason */
    assert_int_equal(check(t, g_user, now + 10 * DAY, &rep), 0);
    assert_int_equal(memo_hits() - m0, 2);
    expect_rule(&rep, "validity", 1, "checked at");
    /* at nextUpdate exactly: computed (and passes: inclusive) */
    assert_int_equal(check(t, g_user, NOW + 30 * DAY, &rep), 0);
    assert_int_equal(memo_hits() - m0, 2);
    /* one second later: the CRL expired */
    assert_int_equal(check(t, g_user, NOW + 30 * DAY + 1, &rep), -1);
    expect_rule(&rep, "revocation", 0, "expired: nextUpdate");
    /* after the certificate's notAfter */
    assert_int_equal(check(t, g_user, NOW + 366 * DAY, &rep), -1);
    expect_rule(&rep, "validity", 0, "expired");
    /* before thisUpdate - the CRL is not yet issued: no usable CRL */
    assert_int_equal(check(t, g_user, NOW - 2 * DAY, &rep), -1);
    expect_rule(&rep, "revocation", 0, 0);
    assert_int_equal(memo_hits() - m0, 2);
    /* back inside: served again */
    assert_int_equal(check(t, g_user, now + 1, &rep), 0);
    assert_int_equal(memo_hits() - m0, 3);
    /* with untrusted certificates (path building help): never memoized */
    inter = mkcert("Helper CA", 0, 3);
    leaf = mkcert("Leaf", g_ca, 105);
    untrusted = sk_X509_new_null();
    assert_non_null(untrusted);
    assert_true(sk_X509_push(untrusted, inter));
    memset(&o, 0, sizeof(o));
    o.purpose = CM_PURPOSE_ANY;
    o.untrusted = untrusted;
    m0 = memo_hits();
    assert_int_equal(cm_cert_check(t, leaf, &o, &rep), 0);
    assert_int_equal(cm_cert_check(t, leaf, &o, &rep), 0);
    assert_int_equal(memo_hits(), m0);
    /* another trust store from the same files: the same cached objects, a hit */
    {
	CM_TRUST *t2 = cm_trust_load(g_anchors, g_crl_ok, err, sizeof(err));
	char    a2[300];
	FILE   *fp;

	assert_non_null(t2);
	assert_int_equal(check(t2, g_user, now, &rep), 0);
	assert_int_equal(memo_hits() - m0, 1);
	cm_trust_free(t2);
	/* other anchors (one more): not the same decision, no hit */
	assert_non_null(fp = fopen(path_new(a2, sizeof(a2), "anchors2.pem"), "w"));
	PEM_write_X509(fp, g_ca);
	PEM_write_X509(fp, inter);
	fclose(fp);
	assert_non_null(t2 = cm_trust_load(a2, g_crl_ok, err, sizeof(err)));
	assert_int_equal(check(t2, g_user, now, &rep), 0);
	assert_int_equal(memo_hits() - m0, 1);
	assert_int_equal(check(t2, g_user, now, &rep), 0);
	assert_int_equal(memo_hits() - m0, 2);
	cm_trust_free(t2);
    }
    sk_X509_free(untrusted);
    X509_free(inter);
    X509_free(leaf);
    cm_trust_free(t);
    cm_cert_memo_flush();
    {
	unsigned long h, mi;
	int     n;

	cm_cert_memo_stats(&h, &mi, &n);
	assert_int_equal(n, 0);
    }
}

/* test_crl_racy - a file modified just now is parsed at every check */
static void test_crl_racy(void **state)
{
    CM_CERT_REPORT rep;
    CM_CERTCACHE_STATS s0, s1;
    CM_TRUST *t;
    char    crl[300], err[300];

    (void) state;
    write_crl(path_new(crl, sizeof(crl), "fresh.crl"), mkcrl(g_key, NOW - DAY, NOW + 30 * DAY, 1, 0));
    t = cm_trust_load(g_anchors, crl, err, sizeof(err));
    assert_non_null(t);
    s0 = stats();
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    assert_int_equal(check(t, g_user, 0, &rep), 0);
    s1 = stats();
    assert_int_equal(s1.crl_parses - s0.crl_parses, 2);
    assert_int_equal(s1.crl_hits, s0.crl_hits);
    /* A junk file is never cached either: it fails every check. */
    write_crl(crl, mkcrl(g_key, NOW - DAY, NOW + 30 * DAY, 1, 0));
    {
	FILE   *fp = fopen(crl, "w");

	assert_non_null(fp);
	fputs("-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n", fp);
	fclose(fp);
    }
    assert_int_equal(check(t, g_user, 0, &rep), -1);
    expect_rule(&rep, "revocation", 0, "cannot read CRLs");
    cm_trust_free(t);
}

/* test_crl_cache_bounded - files and bytes bounded, recent files refused */
static void test_crl_cache_bounded(void **state)
{
    STACK_OF(X509_CRL) *one = sk_X509_CRL_new_null();
    STACK_OF(X509_CRL) *out = sk_X509_CRL_new_null();
    X509_CRL *crl = mkcrl(g_key, NOW - DAY, NOW + 30 * DAY, 1, 0);
    CM_CERTCACHE_STATS s;
    struct stat st;
    char    name[64];
    int     i;

    (void) state;
    assert_non_null(one);
    assert_non_null(out);
    assert_true(sk_X509_CRL_push(one, crl));
    cm_certcache_flush();
    memset(&st, 0, sizeof(st));
    st.st_mtim.tv_sec = st.st_ctim.tv_sec = NOW - 3600;
    st.st_size = 1000;
    for (i = 0; i < CM_CRLCACHE_FILES + 10; i++) {
	snprintf(name, sizeof(name), "/nonexistent/%d.crl", i);
	st.st_ino = (ino_t) i + 1;
	cm_crlcache_put(name, &st, 1, one);
    }
    s = stats();
    assert_int_equal(s.crl_entries, CM_CRLCACHE_FILES);
    assert_int_equal(s.crl_bytes, (long long) CM_CRLCACHE_FILES * 1000);
    /* the first ten went, the last is there (same identity only) */
    st.st_ino = 1;
    assert_int_equal(cm_crlcache_get("/nonexistent/0.crl", &st, 1, out, 10), -1);
    st.st_ino = (ino_t) CM_CRLCACHE_FILES + 10;
    snprintf(name, sizeof(name), "/nonexistent/%d.crl", CM_CRLCACHE_FILES + 9);
    assert_int_equal(cm_crlcache_get(name, &st, 0, out, 10), -1);	/* in_dir differs */
    assert_int_equal(cm_crlcache_get(name, &st, 1, out, 0), 0);	/* no room */
    assert_int_equal(cm_crlcache_get(name, &st, 1, out, 10), 1);
    assert_ptr_equal(sk_X509_CRL_value(out, 0), crl);
    st.st_mtim.tv_nsec = 1;						/* another generation */
    assert_int_equal(cm_crlcache_get(name, &st, 1, out, 10), -1);
    assert_int_equal(stats().crl_entries, CM_CRLCACHE_FILES - 1);	/* the stale entry dropped */
    /* bytes: two files of 100 MB do not fit in 128 MB */
    cm_certcache_flush();
    st.st_mtim.tv_nsec = 0;
    st.st_size = 100L * 1024 * 1024;
    cm_crlcache_put("/nonexistent/big1", &st, 0, one);
    cm_crlcache_put("/nonexistent/big2", &st, 0, one);
    s = stats();
    assert_int_equal(s.crl_entries, 1);
    assert_true(s.crl_bytes <= CM_CRLCACHE_BYTES);
    assert_int_equal(cm_crlcache_get("/nonexistent/big2", &st, 0, out, 10), 1);
    /* modified within CM_CRLCACHE_RACY seconds: not cached */
    st.st_size = 10;
    st.st_mtim.tv_sec = time(0);
    cm_crlcache_put("/nonexistent/recent", &st, 0, one);
    assert_int_equal(cm_crlcache_get("/nonexistent/recent", &st, 0, out, 10), -1);
    st.st_mtim.tv_sec = NOW - 3600;
    st.st_ctim.tv_sec = time(0);
    cm_crlcache_put("/nonexistent/recent", &st, 0, one);
    assert_int_equal(cm_crlcache_get("/nonexistent/recent", &st, 0, out, 10), -1);
    cm_certcache_flush();
    assert_int_equal(stats().crl_entries, 0);
    sk_X509_CRL_pop_free(out, X509_CRL_free);
    sk_X509_CRL_pop_free(one, X509_CRL_free);
}

/* test_certdir_preload - the directory's certificates come from the cache */
static void test_certdir_preload(void **state)
{
    char    dir[300], f[700], err[300];
    const char *users[] = {"alice@example.org", "bob@example.org", "carol@example.org"};
    X509   *u[3];
    X509   *x;
    CM_CERTCACHE_STATS s0, s1;
    int     i;

    (void) state;
    path_new(dir, sizeof(dir), "users");
    assert_int_equal(mkdir(dir, 0700), 0);
    for (i = 0; i < 3; i++) {
	u[i] = mkcert(users[i], g_ca, 200 + i);
	snprintf(f, sizeof(f), "%s/%s.pem", dir, users[i]);
	write_cert(f, u[i], 0);
    }
    snprintf(f, sizeof(f), "%s/junk@example.org.pem", dir);	/* not a certificate */
    write_cert(f, g_ca, 0);
    assert_int_equal(truncate(f, 10), 0);
    snprintf(f, sizeof(f), "%s/not-an-address.pem", dir);
    write_cert(f, g_ca, 0);
    snprintf(f, sizeof(f), "%s/ca.key", dir);
    write_cert(f, g_ca, 0);
    cm_certcache_flush();
    assert_int_equal(cm_certdir_preload(dir, 0, err, sizeof(err)), 3);
    assert_int_equal(stats().cert_entries, 3);
    s0 = stats();
    for (i = 0; i < 3; i++) {
	x = cm_certdir_lookup(dir, users[i], err, sizeof(err));
	assert_non_null(x);
	assert_int_equal(X509_cmp(x, u[i]), 0);
	X509_free(x);
	X509_free(u[i]);
    }
    s1 = stats();
    assert_int_equal(s1.cert_parses, s0.cert_parses);
    assert_int_equal(s1.cert_hits - s0.cert_hits, 3);
    assert_null(cm_certdir_lookup(dir, "junk@example.org", err, sizeof(err)));
    assert_int_equal(cm_certdir_preload(dir, 1, err, sizeof(err)), 1);
    assert_int_equal(cm_certdir_preload("/nonexistent/users", 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/users"));
}

/* test_anchor_names - the client CA list from the parsed anchors */
static void test_anchor_names(void **state)
{
    X509   *other = mkcert("Other CA", 0, 2);
    char    f[300], err[300];
    FILE   *fp;
    CM_TRUST *t;
    STACK_OF(X509_NAME) *names;

    (void) state;
    assert_non_null(fp = fopen(path_new(f, sizeof(f), "anchors.pem"), "w"));
    PEM_write_X509(fp, g_ca);
    PEM_write_X509(fp, other);
    PEM_write_X509(fp, g_ca);
    fclose(fp);
    assert_non_null(t = cm_trust_load(f, 0, err, sizeof(err)));
    assert_int_equal(sk_X509_num(cm_trust_anchors(t)), 3);
    assert_ptr_equal(sk_X509_value(cm_trust_anchors(t), 0), sk_X509_value(cm_trust_anchors(t), 2));
    names = cm_trust_anchor_names(t);
    assert_non_null(names);
    assert_int_equal(sk_X509_NAME_num(names), 2);
    assert_int_equal(X509_NAME_cmp(sk_X509_NAME_value(names, 0), X509_get_subject_name(g_ca)), 0);
    assert_int_equal(X509_NAME_cmp(sk_X509_NAME_value(names, 1), X509_get_subject_name(other)), 0);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    cm_trust_free(t);
    assert_non_null(t = cm_trust_load(0, 0, err, sizeof(err)));
    assert_null(cm_trust_anchor_names(t));
    cm_trust_free(t);
    assert_null(cm_trust_anchors(0));
    X509_free(other);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_cert_shared),
	cmocka_unit_test(test_cert_modified),
	cmocka_unit_test(test_cert_bounded),
	cmocka_unit_test(test_cert_bytes_bounded),
	cmocka_unit_test(test_fork),
	cmocka_unit_test(test_threads),
	cmocka_unit_test(test_crl_file_replaced),
	cmocka_unit_test(test_crl_dir_changed),
	cmocka_unit_test(test_crl_bad_signature),
	cmocka_unit_test(test_crl_expiry_per_check),
	cmocka_unit_test(test_memo_times),
	cmocka_unit_test(test_crl_racy),
	cmocka_unit_test(test_crl_cache_bounded),
	cmocka_unit_test(test_certdir_preload),
	cmocka_unit_test(test_anchor_names),
    };

    return (cmocka_run_group_tests(tests, setup, teardown));
}
