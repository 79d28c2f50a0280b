/*++
 * NAME
 *	test_keywrap 1
 * SUMMARY
 *	unit tests of cm_keywrap: RSA-OAEP-SHA256 wrap/unwrap, PKCS#1 v1.5
 *	unwrap, refusal of wrong keys, damaged data and non-RSA keys
 * DESCRIPTION
 *	Keys are generated at run time. The independent side of each check
 *	is OpenSSL's EVP_PKEY_encrypt/decrypt called directly by the test.
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
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cm_base64.h"
#include "cm_keywrap.h"

static EVP_PKEY *rsa_a;			/* 2048 bits */
static EVP_PKEY *rsa_b;			/* 2048 bits, another key */

static const unsigned char rsck[32] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

/* setup - generate two RSA keys once */
static int setup(void **state)
{
    rsa_a = EVP_PKEY_Q_keygen(0, 0, "RSA", (size_t) 2048);
    rsa_b = EVP_PKEY_Q_keygen(0, 0, "RSA", (size_t) 2048);
    return (rsa_a && rsa_b ? 0 : -1);
}

/* teardown - free the keys */
static int teardown(void **state)
{
    EVP_PKEY_free(rsa_a);
    EVP_PKEY_free(rsa_b);
    return (0);
}

/* raw_encrypt - RSA encryption by the test itself, base64 result */
static char *raw_encrypt(EVP_PKEY *key, int padding, const EVP_MD *md,
			         const unsigned char *data, size_t len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(0, key, 0);
    unsigned char out[1024];
    size_t  out_len = sizeof(out);
    char   *b64;

    assert_non_null(ctx);
    assert_true(EVP_PKEY_encrypt_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, padding) > 0);
    if (md) {
	assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0);
    }
    assert_true(EVP_PKEY_encrypt(ctx, out, &out_len, data, len) > 0);
    EVP_PKEY_CTX_free(ctx);
    b64 = cm_base64_encode(out, out_len, 64);
    assert_non_null(b64);
    return (b64);
}

/* test_roundtrip - wrap then unwrap; OpenSSL itself decrypts our wrap */
static void test_roundtrip(void **state)
{
    char    err[256];
    char   *w1 = cm_keywrap_wrap(rsa_a, rsck, err, sizeof(err));
    char   *w2 = cm_keywrap_wrap(rsa_a, rsck, err, sizeof(err));
    unsigned char back[32];
    unsigned char *raw;
    size_t  raw_len;

    assert_non_null(w1);
    assert_non_null(w2);
    assert_null(strchr(w1, '\n'));
    /* OAEP is randomised. */
    assert_string_not_equal(w1, w2);
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-OAEP", w1, strlen(w1), back,
				       err, sizeof(err)), 0);
    assert_memory_equal(back, rsck, 32);

    /* Independent decryption: OAEP, SHA-256, MGF1-SHA-256. */
    raw = cm_base64_decode(w1, strlen(w1), &raw_len);
    assert_non_null(raw);
    assert_int_equal(raw_len, 256);
    {
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(0, rsa_a, 0);
	unsigned char out[256];
	size_t  out_len = sizeof(out);

	assert_true(EVP_PKEY_decrypt_init(ctx) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0);
	assert_true(EVP_PKEY_decrypt(ctx, out, &out_len, raw, raw_len) > 0);
	assert_int_equal(out_len, 32);
	assert_memory_equal(out, rsck, 32);
	EVP_PKEY_CTX_free(ctx);
    }
    free(raw);
    free(w1);
    free(w2);
}

/* test_unwrap_openssl_oaep - a key wrapped by EVP with SHA-256 OAEP */
static void test_unwrap_openssl_oaep(void **state)
{
    char    err[256];
    unsigned char back[32];
    char   *w = raw_encrypt(rsa_b, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), rsck, 32);
    char   *w1 = raw_encrypt(rsa_b, RSA_PKCS1_OAEP_PADDING, EVP_sha1(), rsck, 32);

    /* Folded base64 with newlines is accepted. */
    assert_non_null(strchr(w, '\n'));
    assert_int_equal(cm_keywrap_unwrap(rsa_b, "RSA-OAEP", w, strlen(w), back,
				       err, sizeof(err)), 0);
    assert_memory_equal(back, rsck, 32);
    /* OAEP with SHA-1 is not what we agreed on. */
    assert_int_equal(cm_keywrap_unwrap(rsa_b, "RSA-OAEP", w1, strlen(w1), back,
				       err, sizeof(err)), -1);
    free(w);
    free(w1);
}

/* test_wrong_key - another private key cannot unwrap */
static void test_wrong_key(void **state)
{
    char    err[256];
    unsigned char back[32];
    char   *w = cm_keywrap_wrap(rsa_a, rsck, err, sizeof(err));

    assert_non_null(w);
    memset(back, 0x5a, sizeof(back));
    assert_int_equal(cm_keywrap_unwrap(rsa_b, "RSA-OAEP", w, strlen(w), back,
				       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot unwrap"));
    /* Nothing of a partial result is left behind. */
    {
	unsigned char zero[32] = {0};

	assert_memory_equal(back, zero, 32);
    }
    free(w);
}

/* test_pkcs1_v15 - "RSA" (PKCS#1 v1.5) is accepted on input */
static void test_pkcs1_v15(void **state)
{
    char    err[256];
    unsigned char back[32];
    char   *w = raw_encrypt(rsa_a, RSA_PKCS1_PADDING, 0, rsck, 32);
    char   *w16 = raw_encrypt(rsa_a, RSA_PKCS1_PADDING, 0, rsck, 16);
    char   *oaep = cm_keywrap_wrap(rsa_a, rsck, err, sizeof(err));

    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA", w, strlen(w), back,
				       err, sizeof(err)), 0);
    assert_memory_equal(back, rsck, 32);
    /* The algorithm must be the one named. */
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-OAEP", w, strlen(w), back,
				       err, sizeof(err)), -1);
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA", oaep, strlen(oaep), back,
				       err, sizeof(err)), -1);
    /* Exactly 32 bytes out. */
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA", w16, strlen(w16), back,
				       err, sizeof(err)), -1);
    /* Wrong private key. */
    assert_int_equal(cm_keywrap_unwrap(rsa_b, "RSA", w, strlen(w), back,
				       err, sizeof(err)), -1);
    free(w);
    free(w16);
    free(oaep);
}

/* test_tampered - a changed bit, a cut, bad base64, a bad name */
static void test_tampered(void **state)
{
    char    err[256];
    unsigned char back[32];
    char   *w = cm_keywrap_wrap(rsa_a, rsck, err, sizeof(err));
    unsigned char *raw;
    size_t  raw_len, i;
    static const size_t where[] = {0, 1, 100, 255};

    raw = cm_base64_decode(w, strlen(w), &raw_len);
    assert_int_equal(raw_len, 256);
    for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
	char   *bad;

	raw[where[i]] ^= 0x04;
	bad = cm_base64_encode(raw, raw_len, 0);
	if (cm_keywrap_unwrap(rsa_a, "RSA-OAEP", bad, strlen(bad), back,
			      err, sizeof(err)) == 0)
	    fail_msg("bit change at byte %zu accepted", where[i]);
	raw[where[i]] ^= 0x04;
	free(bad);
    }
    /* One byte short. */
    {
	char   *cut = cm_base64_encode(raw, raw_len - 1, 0);

	assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-OAEP", cut, strlen(cut), back,
					   err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bytes"));
	free(cut);
    }
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-OAEP", "not*base64", 10, back,
				       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "base64"));
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-OAEP", 0, 0, back,
				       err, sizeof(err)), -1);
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-PSS", w, strlen(w), back,
				       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unsupported"));
    assert_int_equal(cm_keywrap_unwrap(rsa_a, 0, w, strlen(w), back,
				       err, sizeof(err)), -1);
    /* Over-long input is refused before decoding. */
    {
	char   *huge = malloc(CM_KEYWRAP_B64_MAX + 5);

	memset(huge, 'A', CM_KEYWRAP_B64_MAX + 4);
	huge[CM_KEYWRAP_B64_MAX + 4] = 0;
	assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-OAEP", huge, strlen(huge), back,
					   err, sizeof(err)), -1);
	free(huge);
    }
    /* Intact it still works. */
    assert_int_equal(cm_keywrap_unwrap(rsa_a, "RSA-OAEP", w, strlen(w), back,
				       err, sizeof(err)), 0);
    free(raw);
    free(w);
}

/* test_refuse_keys - EC, RSA-PSS and short RSA keys are refused */
static void test_refuse_keys(void **state)
{
    char    err[256];
    unsigned char back[32];
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(0, 0, "EC", "P-256");
    EVP_PKEY *small = EVP_PKEY_Q_keygen(0, 0, "RSA", (size_t) 1024);
    EVP_PKEY *pss = EVP_PKEY_Q_keygen(0, 0, "RSA-PSS", (size_t) 2048);
    char   *w = cm_keywrap_wrap(rsa_a, rsck, err, sizeof(err));

    assert_non_null(ec);
    assert_non_null(small);
    assert_null(cm_keywrap_wrap(ec, rsck, err, sizeof(err)));
    assert_non_null(strstr(err, "RSA key is required"));
    assert_int_equal(cm_keywrap_unwrap(ec, "RSA-OAEP", w, strlen(w), back,
				       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "RSA key is required"));
    assert_null(cm_keywrap_wrap(small, rsck, err, sizeof(err)));
    assert_non_null(strstr(err, "too small"));
    assert_int_equal(cm_keywrap_unwrap(small, "RSA-OAEP", w, strlen(w), back,
				       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too small"));
    if (pss) {
	assert_null(cm_keywrap_wrap(pss, rsck, err, sizeof(err)));
	EVP_PKEY_free(pss);
    }
    assert_null(cm_keywrap_wrap(0, rsck, err, sizeof(err)));
    assert_int_equal(cm_keywrap_key_ok(rsa_a, err, sizeof(err)), 0);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(small);
    free(w);
}

/* test_wrap_cert - wrap to a certificate; public key cannot unwrap */
static void test_wrap_cert(void **state)
{
    char    err[256];
    unsigned char back[32];
    X509   *cert = X509_new();
    char   *w;
    EVP_PKEY *pub;

    assert_non_null(cert);
    assert_int_equal(X509_set_pubkey(cert, rsa_b), 1);
    assert_int_equal(X509_sign(cert, rsa_b, EVP_sha256()) > 0, 1);
    w = cm_keywrap_wrap_cert(cert, rsck, err, sizeof(err));
    assert_non_null(w);
    assert_int_equal(cm_keywrap_unwrap(rsa_b, "RSA-OAEP", w, strlen(w), back,
				       err, sizeof(err)), 0);
    assert_memory_equal(back, rsck, 32);
    /* A public key alone (through DER, as a peer sees it) cannot unwrap. */
    {
	unsigned char *der = 0;
	const unsigned char *p;
	int     len = i2d_PUBKEY(rsa_b, &der);

	assert_true(len > 0);
	p = der;
	pub = d2i_PUBKEY(0, &p, len);
	assert_non_null(pub);
	assert_int_equal(cm_keywrap_unwrap(pub, "RSA-OAEP", w, strlen(w), back,
					   err, sizeof(err)), -1);
	/* ... but can wrap. */
	free(w);
	w = cm_keywrap_wrap(pub, rsck, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cm_keywrap_unwrap(rsa_b, "RSA-OAEP", w, strlen(w), back,
					   err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	OPENSSL_free(der);
    }
    assert_null(cm_keywrap_wrap_cert(0, rsck, err, sizeof(err)));
    free(w);
    X509_free(cert);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_roundtrip),
	cmocka_unit_test(test_unwrap_openssl_oaep),
	cmocka_unit_test(test_wrong_key),
	cmocka_unit_test(test_pkcs1_v15),
	cmocka_unit_test(test_tampered),
	cmocka_unit_test(test_refuse_keys),
	cmocka_unit_test(test_wrap_cert),
    };

    return (cmocka_run_group_tests(tests, setup, teardown));
}
