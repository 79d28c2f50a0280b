/*++
 * NAME
 *	test_challenge 1
 * SUMMARY
 *	unit tests of cm_challenge: number, answer, constant-time check
 * DESCRIPTION
 *	The expected answers are computed here with EVP_Digest and
 *	EVP_EncodeBlock directly, independently of the module.
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
#include <openssl/bn.h>
#include <openssl/evp.h>

#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_challenge.h"

static const unsigned char rsck[32] = {
    0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
};

/* expected - base64(H(number || rsck)) computed by the test */
static void expected(const EVP_MD *md, const char *number, char *out)
{
    unsigned char buf[200];
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t  len = strlen(number);

    assert_true(len + 32 <= sizeof(buf));
    memcpy(buf, number, len);
    memcpy(buf + len, rsck, 32);
    assert_int_equal(EVP_Digest(buf, len + 32, dig, &n, md, 0), 1);
    EVP_EncodeBlock((unsigned char *) out, dig, (int) n);
}

/* test_number - >= 128 bits, digits only, no leading zero, fresh */
static void test_number(void **state)
{
    char   *a = cm_challenge_number_new();
    char   *b = cm_challenge_number_new();
    BIGNUM *bn = 0;
    int     i;

    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    assert_true(strlen(a) >= 39);		/* 2^128 has 39 digits */
    assert_true(strspn(a, "0123456789") == strlen(a));
    assert_true(a[0] != '0');
    assert_int_equal(cm_challenge_number_ok(a), 1);
    /* Value: at least 2^128. */
    assert_true(BN_dec2bn(&bn, a) > 0);
    assert_true(BN_num_bits(bn) >= 129);
    BN_free(bn);
    free(a);
    free(b);
    /* A few more: always the same shape. */
    for (i = 0; i < 200; i++) {
	a = cm_challenge_number_new();
	assert_non_null(a);
	assert_true(strlen(a) >= 48 && strlen(a) <= 49);
	assert_true(a[0] != '0');
	free(a);
    }
}

/* test_number_syntax - RandomNumber validation on input */
static void test_number_syntax(void **state)
{
    char    long_ok[CM_CHALLENGE_DIGITS_MAX + 1];
    char    too_long[CM_CHALLENGE_DIGITS_MAX + 2];

    memset(long_ok, '7', CM_CHALLENGE_DIGITS_MAX);
    long_ok[CM_CHALLENGE_DIGITS_MAX] = 0;
    memset(too_long, '7', CM_CHALLENGE_DIGITS_MAX + 1);
    too_long[CM_CHALLENGE_DIGITS_MAX + 1] = 0;
    assert_int_equal(cm_challenge_number_ok("0"), 1);
    assert_int_equal(cm_challenge_number_ok("0012345"), 1);
    assert_int_equal(cm_challenge_number_ok(long_ok), 1);
    assert_int_equal(cm_challenge_number_ok(too_long), 0);
    assert_int_equal(cm_challenge_number_ok(""), 0);
    assert_int_equal(cm_challenge_number_ok(0), 0);
    assert_int_equal(cm_challenge_number_ok("-1"), 0);
    assert_int_equal(cm_challenge_number_ok("+1"), 0);
    assert_int_equal(cm_challenge_number_ok("12 3"), 0);
    assert_int_equal(cm_challenge_number_ok("123\n"), 0);
    assert_int_equal(cm_challenge_number_ok("1e5"), 0);
    assert_int_equal(cm_challenge_number_ok("0x1f"), 0);
    assert_int_equal(cm_challenge_number_ok("\xd9\xa1"), 0);	/* Arabic-Indic 1 */
    assert_null(cm_challenge_answer(CM_HASH_SHA256, "12a", rsck));
    assert_null(cm_challenge_answer(CM_HASH_SHA256, too_long, rsck));
}

/* test_answer - matches a digest computed directly */
static void test_answer(void **state)
{
    static const char *numbers[] = {
	"1", "0012", "340282366920938463463374607431768211456",
	"30987497498789739837",		/* the Recommendation's example */
	"1234567890123456789012345678901234567890123456789",
    };
    char    want[64];
    size_t  i;

    for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
	char   *got = cm_challenge_answer(CM_HASH_SHA256, numbers[i], rsck);
	char   *got_oid = cm_challenge_answer_oid("2.16.840.1.101.3.4.2.1", numbers[i], rsck);
	char   *got1 = cm_challenge_answer_oid("1.3.14.3.2.26", numbers[i], rsck);

	expected(EVP_sha256(), numbers[i], want);
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_string_equal(got_oid, want);
	assert_int_equal(strlen(got), 44);
	expected(EVP_sha1(), numbers[i], want);
	assert_string_equal(got1, want);
	assert_int_equal(strlen(got1), 28);
	free(got);
	free(got_oid);
	free(got1);
    }
    /* Leading zeros are significant: the digits are used verbatim. */
    {
	char   *a = cm_challenge_answer(CM_HASH_SHA256, "12", rsck);
	char   *b = cm_challenge_answer(CM_HASH_SHA256, "012", rsck);

	assert_string_not_equal(a, b);
	free(a);
	free(b);
    }
    assert_null(cm_challenge_answer_oid("1.2.840.113549.2.5", "1", rsck));	/* MD5 */
    assert_null(cm_challenge_answer_oid(0, "1", rsck));
    assert_null(cm_challenge_answer(CM_HASH_SHA256, "1", 0));
}

/* flip_bit - base64 of the digest with one bit changed */
static char *flip_bit(const char *b64, size_t byte, int bit)
{
    size_t  len;
    unsigned char *raw = cm_base64_decode(b64, strlen(b64), &len);
    char   *out;

    assert_non_null(raw);
    assert_true(byte < len);
    raw[byte] ^= (unsigned char) (1 << bit);
    out = cm_base64_encode(raw, len, 0);
    free(raw);
    return (out);
}

/* test_compare - the right answer matches, anything else does not */
static void test_compare(void **state)
{
    char   *num = cm_challenge_number_new();
    char   *good = cm_challenge_answer(CM_HASH_SHA256, num, rsck);
    char   *sha1 = cm_challenge_answer(CM_HASH_SHA1, num, rsck);
    char   *bad;
    size_t  byte;

    assert_int_equal(cm_challenge_answer_equal(good, good), 1);
    /* Same digest, other base64 layout (folded line). */
    {
	char    folded[80];

	snprintf(folded, sizeof(folded), "%.20s\r\n%s", good, good + 20);
	assert_int_equal(cm_challenge_answer_equal(good, folded), 1);
    }
    /* One bit changed anywhere. */
    for (byte = 0; byte < 32; byte += 31) {
	bad = flip_bit(good, byte, byte ? 7 : 0);
	assert_int_equal(cm_challenge_answer_equal(good, bad), 0);
	free(bad);
    }
    /* Wrong length: the SHA-1 answer, a truncated digest, empty. */
    assert_int_equal(cm_challenge_answer_equal(good, sha1), 0);
    assert_int_equal(cm_challenge_answer_equal(sha1, good), 0);
    assert_int_equal(cm_challenge_answer_equal(sha1, sha1), 1);
    {
	char    shorter[64];

	snprintf(shorter, sizeof(shorter), "%.40s", good);
	assert_int_equal(cm_challenge_answer_equal(good, shorter), 0);
    }
    assert_int_equal(cm_challenge_answer_equal(good, ""), 0);
    assert_int_equal(cm_challenge_answer_equal(good, 0), 0);
    /* Garbage base64. */
    assert_int_equal(cm_challenge_answer_equal(good, "!!!!not base64!!!!"), 0);
    assert_int_equal(cm_challenge_answer_equal(good, "===="), 0);
    /* An all-zero digest does not match an undecodable submission. */
    {
	unsigned char zero[32] = {0};
	char   *z = cm_base64_encode(zero, 32, 0);

	assert_int_equal(cm_challenge_answer_equal(z, "garbage!"), 0);
	assert_int_equal(cm_challenge_answer_equal(z, z), 1);
	free(z);
    }
    /* Over-long submission. */
    {
	char    huge[CM_CHALLENGE_ANSWER_MAX + 10];

	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	assert_int_equal(cm_challenge_answer_equal(good, huge), 0);
    }
    /* A broken expected value never matches. */
    assert_int_equal(cm_challenge_answer_equal(0, good), 0);
    assert_int_equal(cm_challenge_answer_equal("short", "short"), 0);
    free(num);
    free(good);
    free(sha1);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_number),
	cmocka_unit_test(test_number_syntax),
	cmocka_unit_test(test_answer),
	cmocka_unit_test(test_compare),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
