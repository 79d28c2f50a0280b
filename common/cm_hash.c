/*++
 * NAME
 *	cm_hash 3
 * SUMMARY
 *	streaming SHA-256/SHA-1 digests as HashValueType text
 * DESCRIPTION
 *	See cm_hash.h.
 *--*/
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "cm_base64.h"
#include "cm_hash.h"

struct CM_HASH {
    EVP_MD_CTX *ctx;
    CM_HASH_ALG alg;
};

/* cm_hash_oid - AlgorithmOID text of an algorithm */
const char *cm_hash_oid(CM_HASH_ALG alg)
{
    return (alg == CM_HASH_SHA1 ? CM_HASH_OID_SHA1 : CM_HASH_OID_SHA256);
}

/* cm_hash_from_oid - algorithm of an AlgorithmOID, 0 if known */
int     cm_hash_from_oid(const char *oid, CM_HASH_ALG *alg)
{
    if (oid && strcmp(oid, CM_HASH_OID_SHA256) == 0) {
	*alg = CM_HASH_SHA256;
	return (0);
    }
    if (oid && strcmp(oid, CM_HASH_OID_SHA1) == 0) {
	*alg = CM_HASH_SHA1;
	return (0);
    }
    return (-1);
}

/* cm_hash_size - digest length in bytes */
size_t  cm_hash_size(CM_HASH_ALG alg)
{
    return (alg == CM_HASH_SHA1 ? 20 : 32);
}

/* cm_hash_new - start a digest */
CM_HASH *cm_hash_new(CM_HASH_ALG alg)
{
    CM_HASH *h = calloc(1, sizeof(*h));

    if (h == 0)
	return (0);
    h->alg = alg;
    if ((h->ctx = EVP_MD_CTX_new()) == 0
	|| !EVP_DigestInit_ex(h->ctx, alg == CM_HASH_SHA1 ? EVP_sha1() : EVP_sha256(), 0)) {
	cm_hash_free(h);
	return (0);
    }
    return (h);
}

/* cm_hash_update - feed data */
int     cm_hash_update(CM_HASH *h, const void *data, size_t len)
{
    return (EVP_DigestUpdate(h->ctx, data, len) ? 0 : -1);
}

/* cm_hash_final_raw - the digest bytes */
int     cm_hash_final_raw(CM_HASH *h, unsigned char *out, size_t *len)
{
    unsigned int n;

    if (!EVP_DigestFinal_ex(h->ctx, out, &n))
	return (-1);
    *len = n;
    return (0);
}

/* cm_hash_final_b64 - the digest as base64 text */
char   *cm_hash_final_b64(CM_HASH *h)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t  n;

    if (cm_hash_final_raw(h, md, &n) < 0)
	return (0);
    return (cm_base64_encode(md, n, 0));
}

/* cm_hash_free - release */
void    cm_hash_free(CM_HASH *h)
{
    if (h) {
	EVP_MD_CTX_free(h->ctx);
	free(h);
    }
}

/* cm_hash_b64 - one-shot digest as base64 */
char   *cm_hash_b64(CM_HASH_ALG alg, const void *data, size_t len)
{
    CM_HASH *h = cm_hash_new(alg);
    char   *out = 0;

    if (h && cm_hash_update(h, data, len) == 0)
	out = cm_hash_final_b64(h);
    cm_hash_free(h);
    return (out);
}

/* cm_hash_b64_equal - constant-time comparison of two base64 digests */
int     cm_hash_b64_equal(const char *a, const char *b)
{
    unsigned char *ra, *rb;
    size_t  la, lb;
    int     eq = 0;

    if (a == 0 || b == 0)
	return (0);
    ra = cm_base64_decode(a, strlen(a), &la);
    rb = cm_base64_decode(b, strlen(b), &lb);
    if (ra && rb && la == lb && la > 0)
	eq = CRYPTO_memcmp(ra, rb, la) == 0;
    free(ra);
    free(rb);
    return (eq);
}
