/*++
 * NAME
 *	test_receipt_client 1
 * SUMMARY
 *	unit tests of cm_receipt_client: LIST/CAPA lines, receipt notice
 *	check, challenge answer, ENVELOPE hash check
 * DESCRIPTION
 *	A scratch PKI (cm_pki) gives the server, bob and carol. Receipt
 *	notices are built as the server does: a SignedDepositNotice model
 *	with bob's Entity, cm_notice_receipt_model(), cm_notice_build(),
 *	the server's signature. The answer is checked independently with
 *	cm_challenge_answer_equal() and the signatures with cm_dsig_verify().
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>

#include "cm_pem.h"
#include "cm_pki.h"
#include "cm_xml.h"
#include "cm_cert.h"
#include "cm_dsig.h"
#include "cm_notice.h"
#include "cm_keywrap.h"
#include "cm_challenge.h"
#include "cm_envelope.h"
#include "cm_receipt_client.h"

#define BOB	"bob@example.org"
#define CAROL	"carol@example.org"

typedef struct {
    EVP_PKEY *key;
    X509   *cert;
} SIGNER;

static char dir[] = "/tmp/test_receipt_client.XXXXXX";
static CM_TRUST *trust;
static SIGNER server, bob, carol;
static unsigned char rsck[CM_ENVELOPE_KEY_LEN];

/* load_signer - key and certificate of the scratch PKI */
static void load_signer(SIGNER *s, const char *name)
{
    char    path[600], err[256];

    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    s->key = cm_pem_read_key(path, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    s->cert = cm_pem_read_cert(path, err, sizeof(err));
}

/* group_setup - PKI, trust, signers, a message key */
static int group_setup(void **state)
{
    CM_PKI_OPTS opts;
    char    err[256], path[512], crl[512];

    (void) state;
    if (cm_xml_init() < 0 || mkdtemp(dir) == 0)
	return (-1);
    cm_pki_opts_init(&opts);
    opts.domain = "example.org";
    snprintf(path, sizeof(path), "%s/pki", dir);
    if (cm_pki_init(path, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(path, BOB, 0, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(path, CAROL, 0, &opts, err, sizeof(err)) < 0) {
	fprintf(stderr, "# pki: %s\n", err);
	return (-1);
    }
    snprintf(path, sizeof(path), "%s/pki/ca.pem", dir);
    snprintf(crl, sizeof(crl), "%s/pki/crl.pem", dir);
    if ((trust = cm_trust_load(path, crl, err, sizeof(err))) == 0)
	return (-1);
    load_signer(&server, "pki/server");
    load_signer(&bob, "pki/users/" BOB);
    load_signer(&carol, "pki/users/" CAROL);
    if (cm_envelope_key_new(rsck) < 0)
	return (-1);
    return (server.key && bob.key && carol.key ? 0 : -1);
}

/* group_teardown - remove the scratch PKI */
static int group_teardown(void **state)
{
    char    cmd[600];
    SIGNER *all[] = {&server, &bob, &carol};
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
	EVP_PKEY_free(all[i]->key);
	X509_free(all[i]->cert);
    }
    cm_trust_free(trust);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return (system(cmd) == 0 ? 0 : -1);
}

/* Variations of the receipt notice the "server" builds. */
typedef struct {
    SIGNER *signer;			/* NULL: the server */
    X509   *wrap_to;			/* NULL: bob's certificate */
    int     other_number;		/* challenge number differs from the Entity's */
    int     filled;			/* Response already filled in */
} VARIANT;

static char answer_expected[CM_CHALLENGE_ANSWER_MAX];

/* build_receipt - a server-signed ReceiptNotice for bob, as a document */
static xmlDocPtr build_receipt(const VARIANT *v, CM_NOTICE **np)
{
    CM_NOTICE *dep, *rn;
    CM_NOTICE_ENTITY *e;
    xmlDocPtr doc;
    char    err[512];
    char   *number, *answer, *wrapped, *certb64, *xml;
    size_t  len;
    SIGNER *s = v->signer ? v->signer : &server;

    dep = cm_notice_new(CM_NOTICE_SIGNED_DEPOSIT);
    assert_non_null(dep);
    assert_int_equal(cm_notice_set_str(&dep->envelope_id, "unit.0001"), 0);
    assert_int_equal(cm_notice_add_mime_hash(dep, CM_HASH_SHA256, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), 0);
    assert_int_equal(cm_notice_set_str(&dep->content.unciphered.value, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), 0);
    assert_int_equal(cm_notice_set_str(&dep->content.ciphered.value, "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="), 0);
    assert_non_null(e = cm_notice_add_entity(dep));
    number = cm_challenge_number_new();
    answer = cm_challenge_answer(CM_HASH_SHA256, number, rsck);
    wrapped = cm_keywrap_wrap_cert(v->wrap_to ? v->wrap_to : bob.cert, rsck, err, sizeof(err));
    certb64 = cm_cert_to_b64(bob.cert, 0);
    assert_true(number && answer && wrapped && certb64);
    snprintf(answer_expected, sizeof(answer_expected), "%s", answer);
    e->type = CM_ENTITY_TO;
    e->key_size = 256;
    assert_int_equal(cm_notice_set_str(&e->address, BOB), 0);
    assert_int_equal(cm_notice_set_str(&e->question.random_number, number), 0);
    assert_int_equal(cm_notice_set_str(&e->question.response_alg, CM_HASH_OID_SHA256), 0);
    assert_int_equal(cm_notice_set_str(&e->question.response, answer), 0);
    assert_int_equal(cm_notice_set_str(&e->key_algorithm, CM_ENVELOPE_ALG_GCM_NAME), 0);
    assert_int_equal(cm_notice_set_str(&e->key_wrap, CM_KEYWRAP_OAEP), 0);
    assert_int_equal(cm_notice_set_str(&e->key_encoding, "base64"), 0);
    assert_int_equal(cm_notice_set_str(&e->wrapped_key, wrapped), 0);
    assert_int_equal(cm_notice_set_str(&e->cert_encoding, "base64"), 0);
    assert_int_equal(cm_notice_set_str(&e->certificate, certb64), 0);
    rn = cm_notice_receipt_model(dep, BOB, err, sizeof(err));
    assert_non_null(rn);
    doc = cm_notice_build(rn, err, sizeof(err));
    assert_non_null(doc);
    if (v->other_number) {
	/* cm_notice_build() refuses this; a hostile server could send it. */
	xmlNodePtr q = xmlFirstElementChild(cm_notice_find(doc, CM_PART_CHALLENGE));
	char   *other = cm_challenge_number_new();

	assert_non_null(q);
	assert_non_null(q = xmlFirstElementChild(q));
	assert_string_equal((const char *) q->name, "Request");
	assert_non_null(xmlSetProp(q, (const xmlChar *) "RandomNumber", (const xmlChar *) other));
	free(other);
    }
    if (v->filled)
	assert_int_equal(cm_notice_set_response(doc, answer, err, sizeof(err)), 0);
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_POSTMARK, s->key, s->cert, 0, err, sizeof(err)), 1);
    /* As received: serialised and parsed again. */
    xml = cm_xml_serialize(doc, &len);
    xmlFreeDoc(doc);
    doc = 0;
    *np = cm_notice_read(xml, len, &doc, err, sizeof(err));
    if (v->other_number) {
	/* Refused by the parser already: never reaches cm_receipt_check(). */
	assert_null(*np);
	assert_non_null(strstr(err, "RandomNumber differs"));
    } else if (*np == 0) {
	fail_msg("%s", err);
    }
    free(xml);
    free(number);
    OPENSSL_cleanse(answer, strlen(answer));
    free(answer);
    free(wrapped);
    free(certb64);
    cm_notice_free(rn);
    cm_notice_free(dep);
    return (doc);
}

/* test_list_parse - LIST lines */
static void test_list_parse(void **state)
{
    CM_POP3_LISTING l;

    (void) state;
    assert_int_equal(cm_pop3_list_parse("1 120", &l), 0);
    assert_int_equal(l.num, 1);
    assert_int_equal(l.size, 120);
    assert_int_equal(l.certified, 0);
    assert_int_equal(cm_pop3_list_parse("2 200 CertifiedMail", &l), 0);
    assert_int_equal(l.num, 2);
    assert_int_equal(l.size, 200);
    assert_int_equal(l.certified, 1);
    assert_int_equal(cm_pop3_list_parse("3 5 X-Other CertifiedMail", &l), 0);
    assert_int_equal(l.certified, 1);
    assert_int_equal(cm_pop3_list_parse("3 5 CertifiedMailX", &l), 0);
    assert_int_equal(l.certified, 0);
    assert_int_equal(cm_pop3_list_parse("3 5 certifiedmail", &l), 0);
    assert_int_equal(l.certified, 0);
    assert_int_equal(cm_pop3_list_parse("999999999999999 1", &l), -1);
    assert_int_equal(cm_pop3_list_parse("1 999999999999999", &l), 0);
    assert_int_equal(cm_pop3_list_parse("1 9999999999999999", &l), -1);
    assert_int_equal(cm_pop3_list_parse("0 5", &l), -1);
    assert_int_equal(cm_pop3_list_parse("1000001 5", &l), -1);
    assert_int_equal(cm_pop3_list_parse("1", &l), -1);
    assert_int_equal(cm_pop3_list_parse("1 ", &l), -1);
    assert_int_equal(cm_pop3_list_parse("x 1", &l), -1);
    assert_int_equal(cm_pop3_list_parse("1 12a", &l), -1);
    assert_int_equal(cm_pop3_list_parse("-1 5", &l), -1);
    assert_int_equal(cm_pop3_list_parse("", &l), -1);
}

/* test_capa - the CMAIL capability */
static void test_capa(void **state)
{
    (void) state;
    assert_int_equal(cm_pop3_capa_cmail("CMAIL CertifiedMail"), 1);
    assert_int_equal(cm_pop3_capa_cmail("cmail CertifiedMail"), 1);
    assert_int_equal(cm_pop3_capa_cmail("CMAIL Other CertifiedMail"), 1);
    assert_int_equal(cm_pop3_capa_cmail("CMAIL"), 0);
    assert_int_equal(cm_pop3_capa_cmail("CMAIL Other"), 0);
    assert_int_equal(cm_pop3_capa_cmail("CMAILX CertifiedMail"), 0);
    assert_int_equal(cm_pop3_capa_cmail("USER"), 0);
    assert_int_equal(cm_pop3_capa_cmail("SASL CMAIL CertifiedMail"), 0);
}

/* test_answer_ok - check, answer, and what the server will see */
static void test_answer_ok(void **state)
{
    VARIANT v = {0};
    CM_NOTICE *n, *sn;
    xmlDocPtr doc = build_receipt(&v, &n), sdoc;
    unsigned char got[CM_ENVELOPE_KEY_LEN];
    CM_ENVELOPE_ALG alg;
    CM_DSIG_REPORT rep;
    char    err[512], *xml;
    size_t  len;

    (void) state;
    assert_int_equal(cm_receipt_check(doc, n, trust, bob.cert, err, sizeof(err)), 0);
    assert_int_equal(cm_receipt_answer(doc, n, bob.key, bob.cert, got, &alg, err, sizeof(err)), 0);
    assert_memory_equal(got, rsck, sizeof(got));
    assert_int_equal(alg, CM_ENVELOPE_AES256_GCM);
    xml = cm_xml_serialize(doc, &len);
    sn = cm_notice_read(xml, len, &sdoc, err, sizeof(err));
    assert_non_null(sn);
    assert_int_equal(sn->type, CM_NOTICE_SIGNED_RECEIPT);
    assert_int_equal(cm_challenge_answer_equal(answer_expected, sn->challenge.response), 1);
    assert_int_equal(cm_dsig_verify(sdoc, trust, &rep), 0);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.sigs[1].place, CM_DSIG_CHALLENGE);
    assert_string_equal(rep.sigs[1].address, BOB);
    assert_int_equal(cm_notice_validate(sdoc, err, sizeof(err)), 0);
    /* An answered notice is not a receipt notice to answer again. */
    assert_int_equal(cm_receipt_check(sdoc, sn, trust, bob.cert, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a ReceiptNotice"));
    /* cm_receipt_unwrap() alone gives the same key. */
    assert_int_equal(cm_receipt_unwrap(sn, bob.key, got, &alg, err, sizeof(err)), 0);
    assert_memory_equal(got, rsck, sizeof(got));
    OPENSSL_cleanse(got, sizeof(got));
    free(xml);
    cm_notice_free(sn);
    xmlFreeDoc(sdoc);
    cm_notice_free(n);
    xmlFreeDoc(doc);
}

/* expect_check_fails - cm_receipt_check() refuses a variant */
static void expect_check_fails(const VARIANT *v, X509 *cert, const char *why)
{
    CM_NOTICE *n;
    xmlDocPtr doc = build_receipt(v, &n);
    char    err[512];

    assert_int_equal(cm_receipt_check(doc, n, trust, cert, err, sizeof(err)), -1);
    if (strstr(err, why) == 0)
	fail_msg("expected '%s' in '%s'", why, err);
    cm_notice_free(n);
    xmlFreeDoc(doc);
}

/* test_check_refusals - each rule of cm_receipt_check() */
static void test_check_refusals(void **state)
{
    VARIANT v;

    (void) state;
    memset(&v, 0, sizeof(v));
    expect_check_fails(&v, carol.cert, "is for <" BOB ">, and --cert cannot answer for it");
    v.signer = &carol;
    expect_check_fails(&v, bob.cert, "the receipt notice does not verify");
    memset(&v, 0, sizeof(v));
    v.other_number = 1;
    {
	CM_NOTICE *n = 0;

	assert_null(build_receipt(&v, &n));
    }
    memset(&v, 0, sizeof(v));
    v.filled = 1;
    expect_check_fails(&v, bob.cert, "already holds a Response");
}

/* check_cached - cm_receipt_check_cached() of a fresh notice for bob */
static int check_cached(const VARIANT *v, X509 *cert, CM_RECEIPT_CACHE *cache, char *err,
			        size_t errlen)
{
    CM_NOTICE *n;
    xmlDocPtr doc = build_receipt(v, &n);
    int     ret;

    ret = cm_receipt_check_cached(doc, n, trust, cert, cache, err, errlen);
    cm_notice_free(n);
    xmlFreeDoc(doc);
    return (ret);
}

/* test_check_cached - --cert validated once per address, the rest every time */
static void test_check_cached(void **state)
{
    CM_RECEIPT_CACHE cache;
    VARIANT v;
    char    err[512];

    (void) state;
    memset(&v, 0, sizeof(v));
    memset(&cache, 0, sizeof(cache));
    /* A failed validation is not remembered. */
    assert_int_equal(check_cached(&v, carol.cert, &cache, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--cert cannot answer for it"));
    assert_string_equal(cache.address, "");
    /* A successful one is, and later notices for bob pass with it. */
    assert_int_equal(check_cached(&v, bob.cert, &cache, err, sizeof(err)), 0);
    assert_string_equal(cache.address, BOB);
    assert_int_equal(check_cached(&v, bob.cert, &cache, err, sizeof(err)), 0);
    assert_string_equal(cache.address, BOB);
    /* The cache spares only the validation: every other rule still holds. */
    v.filled = 1;
    assert_int_equal(check_cached(&v, bob.cert, &cache, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already holds a Response"));
    memset(&v, 0, sizeof(v));
    v.signer = &carol;
    assert_int_equal(check_cached(&v, bob.cert, &cache, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not verify"));
    /* With bob validated, carol's certificate is still not bob's Entity's. */
    memset(&v, 0, sizeof(v));
    assert_int_equal(check_cached(&v, carol.cert, &cache, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "wrapped for another certificate"));
    /* A cache naming another address validates again (and fails for carol). */
    snprintf(cache.address, sizeof(cache.address), "%s", CAROL);
    assert_int_equal(check_cached(&v, carol.cert, &cache, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--cert cannot answer for it"));
    assert_string_equal(cache.address, "");
    /* cm_receipt_check() is the uncached form. */
    assert_int_equal(check_cached(&v, bob.cert, 0, err, sizeof(err)), 0);
}

/* test_answer_wrong_key - carol's key cannot unwrap bob's RSCK */
static void test_answer_wrong_key(void **state)
{
    VARIANT v = {0};
    CM_NOTICE *n;
    xmlDocPtr doc = build_receipt(&v, &n);
    unsigned char got[CM_ENVELOPE_KEY_LEN], zero[CM_ENVELOPE_KEY_LEN] = {0};
    CM_ENVELOPE_ALG alg;
    char    err[512];

    (void) state;
    memset(got, 0x55, sizeof(got));
    assert_int_equal(cm_receipt_answer(doc, n, carol.key, carol.cert, got, &alg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot unwrap the message key"));
    assert_memory_equal(got, zero, sizeof(got));
    assert_int_equal(cm_notice_type_of(doc), CM_NOTICE_RECEIPT);
    cm_notice_free(n);
    xmlFreeDoc(doc);
}

/* test_answer_wrapped_for_other - the Entity's key wrapped to carol */
static void test_answer_wrapped_for_other(void **state)
{
    VARIANT v = {0};
    CM_NOTICE *n;
    xmlDocPtr doc;
    unsigned char got[CM_ENVELOPE_KEY_LEN];
    CM_ENVELOPE_ALG alg;
    char    err[512];

    (void) state;
    v.wrap_to = carol.cert;
    doc = build_receipt(&v, &n);
    assert_int_equal(cm_receipt_check(doc, n, trust, bob.cert, err, sizeof(err)), 0);
    assert_int_equal(cm_receipt_answer(doc, n, bob.key, bob.cert, got, &alg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot unwrap"));
    cm_notice_free(n);
    xmlFreeDoc(doc);
}

/* test_envelope_check - the two hashes against BodyEnvelopeInformation */
static void test_envelope_check(void **state)
{
    CM_NOTICE *n = cm_notice_new(CM_NOTICE_RECEIPT);
    CM_ENVELOPE_DIGESTS d;
    char    err[256];

    (void) state;
    memset(&d, 0, sizeof(d));
    snprintf(d.plain_b64, sizeof(d.plain_b64), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    snprintf(d.cipher_b64, sizeof(d.cipher_b64), "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=");
    assert_int_equal(cm_receipt_envelope_check(n, &d, 0, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no envelope hashes"));
    assert_int_equal(cm_notice_set_str(&n->content.unciphered.value, d.plain_b64), 0);
    assert_int_equal(cm_notice_set_str(&n->content.ciphered.value, d.cipher_b64), 0);
    assert_int_equal(cm_receipt_envelope_check(n, &d, 0, 0, err, sizeof(err)), 0);
    /* Swapped values: the plaintext hash is checked first. */
    assert_int_equal(cm_notice_set_str(&n->content.unciphered.value, d.cipher_b64), 0);
    assert_int_equal(cm_receipt_envelope_check(n, &d, 0, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "UncipheredEnvelopeHash"));
    assert_int_equal(cm_notice_set_str(&n->content.unciphered.value, d.plain_b64), 0);
    assert_int_equal(cm_notice_set_str(&n->content.ciphered.value, d.plain_b64), 0);
    assert_int_equal(cm_receipt_envelope_check(n, &d, 0, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "CipheredEnvelopeHash"));
    /* SHA-1 values need the files; without them it is a mismatch. */
    assert_int_equal(cm_notice_set_str(&n->content.ciphered.value, d.cipher_b64), 0);
    n->content.unciphered.alg = CM_HASH_SHA1;
    assert_int_equal(cm_receipt_envelope_check(n, &d, 0, 0, err, sizeof(err)), -1);
    cm_notice_free(n);
}

/* test_envelope_check_sha1 - SHA-1 plaintext hash from the file */
static void test_envelope_check_sha1(void **state)
{
    CM_NOTICE *n = cm_notice_new(CM_NOTICE_RECEIPT);
    CM_ENVELOPE_DIGESTS d;
    FILE   *plain = tmpfile();
    char    err[256];

    (void) state;
    assert_non_null(plain);
    fputs("abc", plain);
    fflush(plain);
    memset(&d, 0, sizeof(d));
    snprintf(d.cipher_b64, sizeof(d.cipher_b64), "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=");
    /* SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d */
    assert_int_equal(cm_notice_set_str(&n->content.unciphered.value, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="), 0);
    n->content.unciphered.alg = CM_HASH_SHA1;
    assert_int_equal(cm_notice_set_str(&n->content.ciphered.value, d.cipher_b64), 0);
    assert_int_equal(cm_receipt_envelope_check(n, &d, plain, 0, err, sizeof(err)), 0);
    fputs("d", plain);
    fflush(plain);
    assert_int_equal(cm_receipt_envelope_check(n, &d, plain, 0, err, sizeof(err)), -1);
    fclose(plain);
    cm_notice_free(n);
}

/* main - one group */
int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_list_parse),
	cmocka_unit_test(test_capa),
	cmocka_unit_test(test_answer_ok),
	cmocka_unit_test(test_check_refusals),
	cmocka_unit_test(test_check_cached),
	cmocka_unit_test(test_answer_wrong_key),
	cmocka_unit_test(test_answer_wrapped_for_other),
	cmocka_unit_test(test_envelope_check),
	cmocka_unit_test(test_envelope_check_sha1),
    };

    return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
