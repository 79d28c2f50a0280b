/*++
 * NAME
 *	cm_challenge 3
 * SUMMARY
 *	challenge number, answer computation, constant-time answer check
 * DESCRIPTION
 *	See cm_challenge.h.
 *--*/
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_envelope.h"
#include "cm_challenge.h"

/* cm_challenge_number_new - fresh RandomNumber in decimal */
char   *cm_challenge_number_new(void)
{
    BIGNUM *bn;
    char   *dec = 0;
    char   *copy = 0;

    if ((bn = BN_new()) == 0)
	return (0);
    /* Top bit set: exactly CM_CHALLENGE_BITS bits, no leading zero. */
    if (BN_rand(bn, CM_CHALLENGE_BITS, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1
	&& (dec = BN_bn2dec(bn)) != 0)
	copy = strdup(dec);
    OPENSSL_free(dec);
    BN_free(bn);
    ERR_clear_error();
    return (copy);
}

/* cm_challenge_number_ok - 1..100 ASCII digits */
int     cm_challenge_number_ok(const char *number)
{
    size_t  i;

    if (number == 0 || number[0] == 0)
	return (0);
    for (i = 0; number[i]; i++)
	if (i >= CM_CHALLENGE_DIGITS_MAX || number[i] < '0' || number[i] > '9')
	    return (0);
    return (1);
}

/* cm_challenge_answer - base64(H(digits || RSCK)) */
char   *cm_challenge_answer(CM_HASH_ALG alg, const char *number,
			            const unsigned char *rsck)
{
    CM_HASH *h;
    char   *b64 = 0;

    if (!cm_challenge_number_ok(number) || rsck == 0)
	return (0);
    if ((h = cm_hash_new(alg)) == 0)
	return (0);
    if (cm_hash_update(h, number, strlen(number)) == 0
	&& cm_hash_update(h, rsck, CM_ENVELOPE_KEY_LEN) == 0)
	b64 = cm_hash_final_b64(h);
    cm_hash_free(h);
    return (b64);
}

/* cm_challenge_answer_oid - as above, algorithm by OID */
char   *cm_challenge_answer_oid(const char *oid, const char *number,
				        const unsigned char *rsck)
{
    CM_HASH_ALG alg;

    if (cm_hash_from_oid(oid, &alg) < 0)
	return (0);
    return (cm_challenge_answer(alg, number, rsck));
}

/* cm_challenge_answer_equal - constant-time Response comparison */
int     cm_challenge_answer_equal(const char *expected, const char *submitted)
{
    unsigned char exp_raw[CM_HASH_MAX_LEN];
    unsigned char sub_raw[CM_HASH_MAX_LEN];
    unsigned char *dec;
    size_t  exp_len = 0;
    size_t  sub_len = 0;
    size_t  len;
    int     sub_ok = 0;
    int     same;

    /* The expected value is ours: a malformed one is a bug, not a match. */
    if (expected == 0
	|| (dec = cm_base64_decode(expected, strlen(expected), &exp_len)) == 0)
	return (0);
    if (exp_len != 20 && exp_len != 32) {
	free(dec);
	return (0);
    }
    memcpy(exp_raw, dec, exp_len);
    OPENSSL_cleanse(dec, exp_len);
    free(dec);

    /* Decode the submission; its work depends on the submission only. */
    memset(sub_raw, 0, sizeof(sub_raw));
    if (submitted != 0 && (len = strlen(submitted)) <= CM_CHALLENGE_ANSWER_MAX
	&& (dec = cm_base64_decode(submitted, len, &sub_len)) != 0) {
	if (sub_len == exp_len) {
	    memcpy(sub_raw, dec, sub_len);
	    sub_ok = 1;
	}
	free(dec);
    }
    /* Always compare the full expected digest. */
    same = CRYPTO_memcmp(exp_raw, sub_raw, exp_len) == 0;
    OPENSSL_cleanse(exp_raw, sizeof(exp_raw));
    OPENSSL_cleanse(sub_raw, sizeof(sub_raw));
    return (same & sub_ok);
}
