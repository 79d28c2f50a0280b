/*++
 * NAME
 *	test_base64 1
 * SUMMARY
 *	unit tests of cm_base64 and cm_pem
 * DESCRIPTION
 *	RFC 4648 section 10 vectors, folding, strict decoding, and the
 *	base64 DER certificate reader refusing garbage and trailing bytes.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cm_base64.h"
#include "cm_pem.h"

static const char *rfc4648[][2] = {
    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

/* test_vectors - RFC 4648 encode and decode */
static void test_vectors(void **state)
{
    size_t  i, n;

    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
	char   *enc = cm_base64_encode((const unsigned char *) rfc4648[i][0], strlen(rfc4648[i][0]), 0);
	unsigned char *dec;

	assert_non_null(enc);
	assert_string_equal(enc, rfc4648[i][1]);
	dec = cm_base64_decode(enc, strlen(enc), &n);
	assert_non_null(dec);
	assert_int_equal(n, strlen(rfc4648[i][0]));
	assert_memory_equal(dec, rfc4648[i][0], n);
	free(enc);
	free(dec);
    }
}

/* test_fold - 76-character lines, whitespace ignored on decode */
static void test_fold(void **state)
{
    unsigned char data[200];
    char   *enc;
    unsigned char *dec;
    size_t  i, n;
    char   *nl;

    for (i = 0; i < sizeof(data); i++)
	data[i] = (unsigned char) (i * 7);
    enc = cm_base64_encode(data, sizeof(data), 76);
    assert_non_null(enc);
    nl = strchr(enc, '\n');
    assert_non_null(nl);
    assert_int_equal(nl - enc, 76);
    assert_int_equal(enc[strlen(enc) - 1], '\n');
    dec = cm_base64_decode(enc, strlen(enc), &n);
    assert_non_null(dec);
    assert_int_equal(n, sizeof(data));
    assert_memory_equal(dec, data, n);
    free(dec);
    free(enc);
    dec = cm_base64_decode(" Zm9v\r\n YmFy\t", 13, &n);
    assert_non_null(dec);
    assert_int_equal(n, 6);
    assert_memory_equal(dec, "foobar", 6);
    free(dec);
}

/* test_strict - garbage, bad padding and bad length are refused */
static void test_strict(void **state)
{
    static const char *bad[] = {"Zm9v!", "Zm9", "Z===", "Zg==Zg==", "Zm9v\x01", "=Zm9",
    "Zm-v", "Zm_v"};
    size_t  i, n;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	assert_null(cm_base64_decode(bad[i], strlen(bad[i]), &n));
}

/* test_cert_b64 - DER certificate from base64, garbage refused */
static void test_cert_b64(void **state)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(0, 0, "EC", "P-256");
    X509   *cert = X509_new();
    X509   *back;
    char   *b64, *padded;
    unsigned char *der = 0;
    int     der_len;
    char   *junk;

    assert_non_null(key);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 42);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
			       (const unsigned char *) "t", -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_set_pubkey(cert, key);
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
    b64 = cm_cert_to_b64(cert, 76);
    assert_non_null(b64);
    back = cm_cert_from_b64(b64, strlen(b64));
    assert_non_null(back);
    assert_int_equal(X509_cmp(cert, back), 0);
    X509_free(back);
    /* The same DER followed by two extra bytes is refused. */
    der_len = i2d_X509(cert, &der);
    padded = malloc((size_t) der_len + 2);
    memcpy(padded, der, (size_t) der_len);
    padded[der_len] = 0;
    padded[der_len + 1] = 0;
    junk = cm_base64_encode((unsigned char *) padded, (size_t) der_len + 2, 0);
    assert_null(cm_cert_from_b64(junk, strlen(junk)));
    assert_null(cm_cert_from_b64("Zm9vYmFy", 8));
    assert_null(cm_cert_from_b64("not base64!", 11));
    free(junk);
    free(padded);
    OPENSSL_free(der);
    free(b64);
    X509_free(cert);
    EVP_PKEY_free(key);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_vectors),
	cmocka_unit_test(test_fold),
	cmocka_unit_test(test_strict),
	cmocka_unit_test(test_cert_b64),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
