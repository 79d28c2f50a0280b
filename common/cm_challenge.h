#ifndef CM_CHALLENGE_H
#define CM_CHALLENGE_H
/*++
 * NAME
 *	cm_challenge 3h
 * SUMMARY
 *	SecretQuestion: random number, expected answer, answer check
 * SYNOPSIS
 *	#include "cm_challenge.h"
 *
 *	char	*cm_challenge_number_new(void);
 *	int	cm_challenge_number_ok(const char *number);
 *	char	*cm_challenge_answer(CM_HASH_ALG alg, const char *number,
 *				const unsigned char *rsck);
 *	char	*cm_challenge_answer_oid(const char *oid,
 *				const char *number,
 *				const unsigned char *rsck);
 *	int	cm_challenge_answer_equal(const char *expected,
 *				const char *submitted);
 * DESCRIPTION
 *	PROFILE.md section 4. The sender picks for each recipient a
 *	fresh RandomNumber and computes the Response
 *	base64(H(RandomNumber || RSCK)): the number as its ASCII decimal
 *	digits, immediately followed by the 32 raw key bytes. H is named
 *	by AlgorithmIdentifier: SHA-256 "2.16.840.1.101.3.4.2.1" (what we
 *	write); SHA-1 "1.3.14.3.2.26" is accepted on input.
 *
 *	cm_challenge_number_new() returns a malloc()ed decimal string of
 *	a number drawn with BN_rand() from RAND_bytes() with exactly
 *	CM_CHALLENGE_BITS bits and the top bit set: 159 random bits, 48
 *	or 49 digits, no leading zero (so the text is canonical and no
 *	caller can lose or add a zero by re-formatting). NULL when the
 *	random generator or memory fails.
 *
 *	cm_challenge_number_ok() returns 1 when number is 1 to
 *	CM_CHALLENGE_DIGITS_MAX ASCII digits and nothing else, 0
 *	otherwise. Received numbers are used verbatim, digit for digit
 *	(never parsed and re-printed), so leading zeros are harmless.
 *
 *	cm_challenge_answer() returns the malloc()ed base64 Response, or
 *	NULL when number is not valid. cm_challenge_answer_oid() takes
 *	the AlgorithmIdentifier OID instead; NULL for an unknown OID.
 *
 *	cm_challenge_answer_equal() compares a submitted Response with
 *	the expected one (the server's secret) on the decoded digests
 *	with CRYPTO_memcmp(). It returns 1 when they match, 0 otherwise:
 *	bad base64, a different length or NULL is a mismatch. It has no
 *	early exit that depends on the expected value: the expected
 *	digest is always compared in full, against a dummy when the
 *	submission cannot be decoded. (Decoding the submission takes a
 *	time that depends on the submission only.)
 *--*/
#include <stddef.h>
#include "cm_hash.h"

#define CM_CHALLENGE_BITS	160	/* >= 128 required by PROFILE */
#define CM_CHALLENGE_DIGITS_MAX	100	/* RandomNumber on input */
#define CM_CHALLENGE_ANSWER_MAX	256	/* Response base64 on input */

extern char *cm_challenge_number_new(void);
extern int cm_challenge_number_ok(const char *number);
extern char *cm_challenge_answer(CM_HASH_ALG alg, const char *number,
				         const unsigned char *rsck);
extern char *cm_challenge_answer_oid(const char *oid, const char *number,
				             const unsigned char *rsck);
extern int cm_challenge_answer_equal(const char *expected, const char *submitted);

#endif
