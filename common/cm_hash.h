#ifndef CM_HASH_H
#define CM_HASH_H
/*++
 * NAME
 *	cm_hash 3h
 * SUMMARY
 *	X.1341 HashValueType: SHA-256 (default) and SHA-1 (input only)
 * SYNOPSIS
 *	#include "cm_hash.h"
 *
 *	const char *cm_hash_oid(CM_HASH_ALG alg);
 *	int	cm_hash_from_oid(const char *oid, CM_HASH_ALG *alg);
 *	CM_HASH	*cm_hash_new(CM_HASH_ALG alg);
 *	int	cm_hash_update(CM_HASH *h, const void *data, size_t len);
 *	char	*cm_hash_final_b64(CM_HASH *h);
 *	int	cm_hash_final_raw(CM_HASH *h, unsigned char *out, size_t *len);
 *	void	cm_hash_free(CM_HASH *h);
 *	char	*cm_hash_b64(CM_HASH_ALG alg, const void *data, size_t len);
 *	int	cm_hash_b64_equal(const char *a, const char *b);
 * DESCRIPTION
 *	A HashValueType element carries the base64 digest as text and the
 *	algorithm as AlgorithmOID (PROFILE.md section 3). Streaming: feed
 *	any number of cm_hash_update() calls; the final call frees nothing,
 *	cm_hash_free() does. cm_hash_from_oid() returns 0 for a known OID.
 *	cm_hash_b64_equal() decodes both digests and compares them in
 *	constant time; it returns 1 when equal, 0 otherwise (also on bad
 *	base64 or different lengths).
 *--*/
#include <stddef.h>

#define CM_HASH_OID_SHA256	"2.16.840.1.101.3.4.2.1"
#define CM_HASH_OID_SHA1	"1.3.14.3.2.26"
#define CM_HASH_MAX_LEN		32

typedef enum {
    CM_HASH_SHA256 = 0,
    CM_HASH_SHA1 = 1,
} CM_HASH_ALG;

typedef struct CM_HASH CM_HASH;

extern const char *cm_hash_oid(CM_HASH_ALG alg);
extern int cm_hash_from_oid(const char *oid, CM_HASH_ALG *alg);
extern size_t cm_hash_size(CM_HASH_ALG alg);
extern CM_HASH *cm_hash_new(CM_HASH_ALG alg);
extern int cm_hash_update(CM_HASH *h, const void *data, size_t len);
extern int cm_hash_final_raw(CM_HASH *h, unsigned char *out, size_t *len);
extern char *cm_hash_final_b64(CM_HASH *h);
extern void cm_hash_free(CM_HASH *h);
extern char *cm_hash_b64(CM_HASH_ALG alg, const void *data, size_t len);
extern int cm_hash_b64_equal(const char *a, const char *b);

#endif
