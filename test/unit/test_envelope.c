/*++
 * NAME
 *	test_envelope 1
 * SUMMARY
 *	unit tests of cm_envelope: AES-256-GCM known answers, streaming,
 *	tampering, truncation, AES-256-CBC compatibility, digests
 * DESCRIPTION
 *	Known-answer vectors are test cases 13-16 (the 256-bit key cases)
 *	of D. McGrew and J. Viega, "The Galois/Counter Mode of Operation
 *	(GCM)", revised submission to NIST, May 2005, appendix B (the same
 *	values appear in NIST CAVP gcmEncryptExtIV256 and in OpenSSL's
 *	evpciph_aes_common.txt). CBC inputs are made in the test with
 *	OpenSSL's EVP one-shot interface, independently of the module.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_envelope.h"
#include "cm_headers.h"
#include "cm_envelope_mime.h"

 /*
  * Helpers.
  */

/* unhex - hex text to a malloc()ed buffer */
static unsigned char *unhex(const char *hex, size_t *len)
{
    size_t  n = strlen(hex) / 2;
    unsigned char *out = malloc(n + 1);
    size_t  i;

    assert_non_null(out);
    for (i = 0; i < n; i++) {
	unsigned int b;

	assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
	out[i] = (unsigned char) b;
    }
    *len = n;
    return (out);
}

/* pattern - deterministic pseudo-random bytes */
static void pattern(unsigned char *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    size_t  i;

    for (i = 0; i < len; i++) {
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	buf[i] = (unsigned char) x;
    }
}

/* sha256 - one-shot digest with EVP, independent of cm_hash */
static void sha256(const unsigned char *data, size_t len, unsigned char md[32])
{
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), 0), 1);
    assert_int_equal(n, 32);
}

typedef struct {
    unsigned char *data;
    size_t  len;
    size_t  size;
} BUF;

/* buf_add - append to a growing buffer */
static void buf_add(BUF *b, const unsigned char *data, size_t len)
{
    if (b->len + len + 1 > b->size) {
	b->size = (b->len + len) * 2 + 64;
	b->data = realloc(b->data, b->size);
	assert_non_null(b->data);
    }
    if (len)
	memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* run - stream in through e in chunks of chunk bytes; final status */
static int run(CM_ENVELOPE *e, const unsigned char *in, size_t len, size_t chunk,
	               BUF *out)
{
    unsigned char *obuf = malloc(chunk + CM_ENVELOPE_SLACK);
    size_t  off, n, olen;
    int     ret;

    assert_non_null(obuf);
    for (off = 0; off < len; off += n) {
	n = len - off < chunk ? len - off : chunk;
	if (cm_envelope_update(e, in + off, n, obuf, chunk + CM_ENVELOPE_SLACK, &olen) < 0) {
	    free(obuf);
	    return (-1);
	}
	assert_true(olen <= n + CM_ENVELOPE_SLACK);
	buf_add(out, obuf, olen);
    }
    ret = cm_envelope_final(e, obuf, chunk + CM_ENVELOPE_SLACK, &olen);
    if (ret == 0)
	buf_add(out, obuf, olen);
    free(obuf);
    return (ret);
}

/* encrypt_buf - encrypt with a random IV through the streaming API */
static void encrypt_buf(const unsigned char *key, const unsigned char *in, size_t len,
			        size_t chunk, BUF *out)
{
    char    err[256];
    CM_ENVELOPE *e = cm_envelope_encrypt_new(key, err, sizeof(err));

    assert_non_null(e);
    assert_int_equal(run(e, in, len, chunk, out), 0);
    cm_envelope_free(e);
}

/* decrypt_buf - decrypt through the streaming API; status of final */
static int decrypt_buf(const unsigned char *key, CM_ENVELOPE_ALG alg,
		               const unsigned char *in, size_t len, size_t chunk,
		               BUF *out, char *why, size_t whylen)
{
    char    err[256];
    CM_ENVELOPE *e = cm_envelope_decrypt_new(key, alg, err, sizeof(err));
    int     ret;

    assert_non_null(e);
    ret = run(e, in, len, chunk, out);
    if (why)
	snprintf(why, whylen, "%s", cm_envelope_error(e));
    cm_envelope_free(e);
    return (ret);
}

static const unsigned char key1[32] = {
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0,
    0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
    0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
};

 /*
  * Known answers: McGrew & Viega GCM test cases 13-16 (AES-256).
  */
typedef struct {
    const char *name;
    const char *key, *iv, *aad, *pt, *ct, *tag;
} GCM_KAT;

static const GCM_KAT kats[] = {
    {"test case 13",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"000000000000000000000000", "", "", "",
    "530f8afbc74536b9a963b4f1c4cb738b"},
    {"test case 14",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"000000000000000000000000", "",
	"00000000000000000000000000000000",
	"cea7403d4d606b6e074ec5d3baf39d18",
    "d0d1c8a799996bf0265b98b5d48ab919"},
    {"test case 15",
	"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	"cafebabefacedbaddecaf888", "",
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
    "b094dac5d93471bdec1a502270e3cc6c"},
    {"test case 16",
	"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	"cafebabefacedbaddecaf888",
	"feedfacedeadbeeffeedfacedeadbeefabaddad2",
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    "76fc6ece0f4e1768cddf8853bb2d551b"},
};

/* test_gcm_known_answers - encrypt and decrypt the published vectors */
static void test_gcm_known_answers(void **state)
{
    size_t  i, chunk;
    static const size_t chunks[] = {1, 5, 16, 17, 4096};

    for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
	const GCM_KAT *k = kats + i;
	size_t  kl, ivl, al, pl, cl, tl;
	unsigned char *key = unhex(k->key, &kl);
	unsigned char *iv = unhex(k->iv, &ivl);
	unsigned char *aad = unhex(k->aad, &al);
	unsigned char *pt = unhex(k->pt, &pl);
	unsigned char *ct = unhex(k->ct, &cl);
	unsigned char *tag = unhex(k->tag, &tl);
	unsigned char *expect = malloc(ivl + cl + tl + 1);

	assert_int_equal(kl, 32);
	assert_int_equal(ivl, 12);
	assert_int_equal(tl, 16);
	memcpy(expect, iv, ivl);
	memcpy(expect + ivl, ct, cl);
	memcpy(expect + ivl + cl, tag, tl);
	for (chunk = 0; chunk < sizeof(chunks) / sizeof(chunks[0]); chunk++) {
	    BUF     out = {0};
	    BUF     back = {0};
	    char    err[256];
	    CM_ENVELOPE *e = cm_envelope_encrypt_new_iv(key, iv, err, sizeof(err));

	    assert_non_null(e);
	    if (al)
		assert_int_equal(cm_envelope_aad(e, aad, al), 0);
	    assert_int_equal(run(e, pt, pl, chunks[chunk], &out), 0);
	    cm_envelope_free(e);
	    if (out.len != ivl + cl + tl || memcmp(out.data, expect, out.len) != 0)
		fail_msg("%s: wrong IV||ciphertext||tag (chunk %zu)", k->name, chunks[chunk]);

	    e = cm_envelope_decrypt_new(key, CM_ENVELOPE_AES256_GCM, err, sizeof(err));
	    assert_non_null(e);
	    if (al)
		assert_int_equal(cm_envelope_aad(e, aad, al), 0);
	    if (run(e, expect, ivl + cl + tl, chunks[chunk], &back) != 0)
		fail_msg("%s: decryption failed: %s", k->name, cm_envelope_error(e));
	    cm_envelope_free(e);
	    assert_int_equal(back.len, pl);
	    if (pl)
		assert_memory_equal(back.data, pt, pl);
	    free(out.data);
	    free(back.data);
	}
	free(key);
	free(iv);
	free(aad);
	free(pt);
	free(ct);
	free(tag);
	free(expect);
    }
}

/* test_gcm_aad_required - a sealed blob with AAD fails without it */
static void test_gcm_aad_required(void **state)
{
    static const char aad[] = "envelope-id-1";
    unsigned char pt[100];
    BUF     ct = {0};
    BUF     back = {0};
    char    err[256];
    CM_ENVELOPE *e;

    pattern(pt, sizeof(pt), 7);
    e = cm_envelope_encrypt_new(key1, err, sizeof(err));
    assert_int_equal(cm_envelope_aad(e, aad, strlen(aad)), 0);
    assert_int_equal(run(e, pt, sizeof(pt), 64, &ct), 0);
    cm_envelope_free(e);
    /* Without the AAD. */
    assert_int_equal(decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, ct.data, ct.len, 64,
				 &back, 0, 0), -1);
    /* With a different AAD. */
    e = cm_envelope_decrypt_new(key1, CM_ENVELOPE_AES256_GCM, err, sizeof(err));
    assert_int_equal(cm_envelope_aad(e, "envelope-id-2", 13), 0);
    back.len = 0;
    assert_int_equal(run(e, ct.data, ct.len, 64, &back), -1);
    cm_envelope_free(e);
    /* With the right one. */
    e = cm_envelope_decrypt_new(key1, CM_ENVELOPE_AES256_GCM, err, sizeof(err));
    assert_int_equal(cm_envelope_aad(e, aad, strlen(aad)), 0);
    back.len = 0;
    assert_int_equal(run(e, ct.data, ct.len, 64, &back), 0);
    assert_int_equal(back.len, sizeof(pt));
    assert_memory_equal(back.data, pt, sizeof(pt));
    cm_envelope_free(e);
    /* AAD after data, or too long, is refused. */
    e = cm_envelope_encrypt_new(key1, err, sizeof(err));
    assert_int_equal(cm_envelope_aad(e, aad, CM_ENVELOPE_AAD_MAX + 1), -1);
    cm_envelope_free(e);
    free(ct.data);
    free(back.data);
}

/* test_roundtrip_sizes - streaming round trip across chunk boundaries */
static void test_roundtrip_sizes(void **state)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 65535, 65536, 65537,
    3 * 1024 * 1024 + 7};
    static const size_t chunks[] = {1, 13, 4096, 65536, 65536 + 3};
    size_t  i, c;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
	size_t  len = sizes[i];
	unsigned char *pt = malloc(len + 1);

	pattern(pt, len, (uint32_t) (i + 1));
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
	    BUF     ct = {0};
	    BUF     back = {0};
	    char    why[256];

	    /* Byte-at-a-time only for the small sizes. */
	    if (chunks[c] == 1 && len > 70000)
		continue;
	    encrypt_buf(key1, pt, len, chunks[c], &ct);
	    assert_int_equal(ct.len, len + 12 + 16);
	    if (decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, ct.data, ct.len,
			    chunks[(c + 1) % 5], &back, why, sizeof(why)) != 0)
		fail_msg("size %zu chunk %zu: %s", len, chunks[c], why);
	    assert_int_equal(back.len, len);
	    if (len)
		assert_memory_equal(back.data, pt, len);
	    free(ct.data);
	    free(back.data);
	}
	free(pt);
    }
}

/* test_fresh_iv - two encryptions of the same data differ */
static void test_fresh_iv(void **state)
{
    static const unsigned char pt[] = "same plaintext";
    BUF     a = {0};
    BUF     b = {0};

    encrypt_buf(key1, pt, sizeof(pt), 1024, &a);
    encrypt_buf(key1, pt, sizeof(pt), 1024, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.data, b.data, 12);
    assert_memory_not_equal(a.data + 12, b.data + 12, a.len - 12);
    free(a.data);
    free(b.data);
}

/* test_tamper - any changed byte, the wrong key or a cut fails final() */
static void test_tamper(void **state)
{
    unsigned char pt[5000];
    unsigned char wrong[32];
    BUF     ct = {0};
    size_t  where[] = {0, 5, 11, 12, 13, 2500, 5000 + 11, 5000 + 12, 5000 + 27};
    size_t  i;
    char    why[256];

    pattern(pt, sizeof(pt), 99);
    encrypt_buf(key1, pt, sizeof(pt), 4096, &ct);
    assert_int_equal(ct.len, 5000 + 28);
    for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
	BUF     back = {0};

	ct.data[where[i]] ^= 0x01;		/* IV, ciphertext or tag */
	if (decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, ct.data, ct.len, 4096,
			&back, why, sizeof(why)) == 0)
	    fail_msg("change at offset %zu not detected", where[i]);
	assert_non_null(strstr(why, "authentication failed"));
	ct.data[where[i]] ^= 0x01;
	free(back.data);
    }
    /* Wrong key. */
    {
	BUF     back = {0};

	memcpy(wrong, key1, 32);
	wrong[31] ^= 0x80;
	assert_int_equal(decrypt_buf(wrong, CM_ENVELOPE_AES256_GCM, ct.data, ct.len,
				     4096, &back, 0, 0), -1);
	free(back.data);
    }
    /* Cut: a missing last byte, an appended byte. */
    {
	BUF     back = {0};

	assert_int_equal(decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, ct.data, ct.len - 1,
				     4096, &back, 0, 0), -1);
	back.len = 0;
	buf_add(&ct, (const unsigned char *) "x", 1);
	assert_int_equal(decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, ct.data, ct.len,
				     4096, &back, 0, 0), -1);
	free(back.data);
    }
    /* Intact it still works (the loop restored every byte). */
    {
	BUF     back = {0};

	assert_int_equal(decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, ct.data, ct.len - 1,
				     4096, &back, 0, 0), 0);
	assert_int_equal(back.len, sizeof(pt));
	free(back.data);
    }
    free(ct.data);
}

/* test_truncated - shorter than IV + tag fails cleanly */
static void test_truncated(void **state)
{
    unsigned char blob[64];
    size_t  lens[] = {0, 1, 11, 12, 13, 27};
    size_t  i;
    char    why[256];
    BUF     ct = {0};
    BUF     back = {0};

    memset(blob, 0xa5, sizeof(blob));
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
	back.len = 0;
	assert_int_equal(decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, blob, lens[i], 7,
				     &back, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "truncated"));
	assert_int_equal(back.len, 0);
	/* CBC: shorter than the IV, or an IV and no block. */
	back.len = 0;
	assert_int_equal(decrypt_buf(key1, CM_ENVELOPE_AES256_CBC, blob, lens[i], 7,
				     &back, why, sizeof(why)), -1);
    }
    /* Exactly IV + tag is a valid empty message. */
    encrypt_buf(key1, blob, 0, 16, &ct);
    assert_int_equal(ct.len, 28);
    back.len = 0;
    assert_int_equal(decrypt_buf(key1, CM_ENVELOPE_AES256_GCM, ct.data, ct.len, 3,
				 &back, 0, 0), 0);
    assert_int_equal(back.len, 0);
    free(ct.data);
    free(back.data);
}

/* cbc_make - IV || AES-256-CBC(PKCS#7) with EVP one-shot calls */
static unsigned char *cbc_make(const unsigned char *key, const unsigned char *iv,
			               const unsigned char *pt, size_t len, size_t *out_len)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char *out = malloc(16 + len + 16);
    int     n1 = 0, n2 = 0;

    assert_non_null(ctx);
    assert_non_null(out);
    memcpy(out, iv, 16);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), 0, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, out + 16, &n1, pt, (int) len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, out + 16 + n1, &n2), 1);
    EVP_CIPHER_CTX_free(ctx);
    *out_len = 16 + (size_t) n1 + (size_t) n2;
    return (out);
}

/* test_cbc_decrypt - "AES-256-CBC"/"AES" input made by EVP */
static void test_cbc_decrypt(void **state)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 100000};
    static const unsigned char iv[16] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    };
    unsigned char *pt = malloc(100000);
    size_t  i, ct_len;
    CM_ENVELOPE_ALG alg;
    char    why[256];

    assert_int_equal(cm_envelope_alg_from_name("AES", &alg), 0);
    assert_int_equal(alg, CM_ENVELOPE_AES256_CBC);
    pattern(pt, 100000, 3);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
	unsigned char *ct = cbc_make(key1, iv, pt, sizes[i], &ct_len);
	BUF     back = {0};

	assert_int_equal(ct_len, 16 + (sizes[i] / 16 + 1) * 16);
	if (decrypt_buf(key1, alg, ct, ct_len, 4099, &back, why, sizeof(why)) != 0)
	    fail_msg("CBC size %zu: %s", sizes[i], why);
	assert_int_equal(back.len, sizes[i]);
	if (sizes[i])
	    assert_memory_equal(back.data, pt, sizes[i]);
	/* Not a whole number of blocks. */
	back.len = 0;
	assert_int_equal(decrypt_buf(key1, alg, ct, ct_len - 1, 4099, &back, 0, 0), -1);
	free(back.data);
	free(ct);
    }
    /* Wrong key: the padding check fails (deterministic inputs). */
    {
	unsigned char wrong[32];
	unsigned char *ct = cbc_make(key1, iv, pt, 1000, &ct_len);
	BUF     back = {0};

	memcpy(wrong, key1, 32);
	wrong[0] ^= 0xff;
	assert_int_equal(decrypt_buf(wrong, alg, ct, ct_len, 4096, &back, why,
				     sizeof(why)), -1);
	assert_non_null(strstr(why, "CBC"));
	free(back.data);
	free(ct);
    }
    free(pt);
}

/* test_alg_names - Algorithm attribute mapping */
static void test_alg_names(void **state)
{
    CM_ENVELOPE_ALG alg = CM_ENVELOPE_AES256_CBC;

    assert_int_equal(cm_envelope_alg_from_name("AES-256-GCM", &alg), 0);
    assert_int_equal(alg, CM_ENVELOPE_AES256_GCM);
    assert_int_equal(cm_envelope_alg_from_name("AES-256-CBC", &alg), 0);
    assert_int_equal(alg, CM_ENVELOPE_AES256_CBC);
    assert_int_equal(cm_envelope_alg_from_name("aes-256-gcm", &alg), -1);
    assert_int_equal(cm_envelope_alg_from_name("AES-128-GCM", &alg), -1);
    assert_int_equal(cm_envelope_alg_from_name("", &alg), -1);
    assert_int_equal(cm_envelope_alg_from_name(0, &alg), -1);
    assert_string_equal(cm_envelope_alg_name(CM_ENVELOPE_AES256_GCM), "AES-256-GCM");
}

/* test_key_new - fresh random keys */
static void test_key_new(void **state)
{
    unsigned char a[32], b[32], zero[32] = {0};

    assert_int_equal(cm_envelope_key_new(a), 0);
    assert_int_equal(cm_envelope_key_new(b), 0);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(a, zero, 32);
}

/* test_misuse - small buffers, calls after final or failure */
static void test_misuse(void **state)
{
    unsigned char in[100], out[200];
    size_t  olen = 99;
    char    err[256];
    CM_ENVELOPE_DIGESTS d;
    CM_ENVELOPE *e = cm_envelope_encrypt_new(key1, err, sizeof(err));

    memset(in, 1, sizeof(in));
    assert_int_equal(cm_envelope_digests(e, &d), -1);	/* not final yet */
    assert_int_equal(cm_envelope_update(e, in, sizeof(in), out, sizeof(in), &olen), -1);
    assert_int_equal(olen, 0);
    assert_non_null(strstr(cm_envelope_error(e), "too small"));
    /* Dead after a failure. */
    assert_int_equal(cm_envelope_update(e, in, 10, out, sizeof(out), &olen), -1);
    assert_int_equal(cm_envelope_final(e, out, sizeof(out), &olen), -1);
    cm_envelope_free(e);

    e = cm_envelope_encrypt_new(key1, err, sizeof(err));
    assert_int_equal(cm_envelope_update(e, in, 10, out, sizeof(out), &olen), 0);
    assert_int_equal(olen, 22);
    assert_int_equal(cm_envelope_final(e, out, sizeof(out), &olen), 0);
    assert_int_equal(olen, 16);
    assert_int_equal(cm_envelope_update(e, in, 10, out, sizeof(out), &olen), -1);
    assert_int_equal(cm_envelope_final(e, out, sizeof(out), &olen), -1);
    assert_int_equal(cm_envelope_digests(e, &d), 0);
    assert_int_equal(d.plain_len, 10);
    assert_int_equal(d.cipher_len, 38);
    cm_envelope_free(e);
    cm_envelope_free(0);

    /* A failed decryption gives no digests. */
    e = cm_envelope_decrypt_new(key1, CM_ENVELOPE_AES256_GCM, err, sizeof(err));
    assert_int_equal(cm_envelope_update(e, in, 40, out, sizeof(out), &olen), 0);
    assert_int_equal(olen, 40 - 12 - 16);
    assert_int_equal(cm_envelope_final(e, out, sizeof(out), &olen), -1);
    assert_int_equal(cm_envelope_digests(e, &d), -1);
    cm_envelope_free(e);
    assert_null(cm_envelope_decrypt_new(0, CM_ENVELOPE_AES256_GCM, err, sizeof(err)));
    assert_null(cm_envelope_decrypt_new(key1, (CM_ENVELOPE_ALG) 7, err, sizeof(err)));
}

/* file_of - a temporary file holding data */
static FILE *file_of(const unsigned char *data, size_t len)
{
    FILE   *fp = tmpfile();

    assert_non_null(fp);
    if (len)
	assert_int_equal(fwrite(data, 1, len, fp), len);
    rewind(fp);
    return (fp);
}

/* slurp - whole contents of a stream */
static unsigned char *slurp(FILE *fp, size_t *len)
{
    long    n;
    unsigned char *buf;

    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    buf = malloc((size_t) n + 1);
    assert_int_equal(fread(buf, 1, (size_t) n, fp), (size_t) n);
    *len = (size_t) n;
    return (buf);
}

/* b64_of - base64 of a digest, independent of the module */
static void b64_of(const unsigned char md[32], char out[48])
{
    EVP_EncodeBlock((unsigned char *) out, md, 32);
}

/* test_files_and_digests - FILE* and fd interfaces, digest values */
static void test_files_and_digests(void **state)
{
    static const size_t sizes[] = {0, 1, 65536, 65537, 1000003};
    size_t  i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
	size_t  len = sizes[i];
	unsigned char *pt = malloc(len + 1);
	unsigned char *ct, *back;
	size_t  ct_len, back_len;
	unsigned char md[32];
	char    b64[48];
	char    err[256];
	CM_ENVELOPE_DIGESTS de, dd;
	FILE   *in, *mid, *out;

	pattern(pt, len, (uint32_t) (100 + i));
	in = file_of(pt, len);
	mid = tmpfile();
	out = tmpfile();
	if (cm_envelope_encrypt_file(in, mid, key1, &de, err, sizeof(err)) != 0)
	    fail_msg("encrypt_file: %s", err);
	ct = slurp(mid, &ct_len);
	assert_int_equal(ct_len, len + 28);
	assert_int_equal(de.plain_len, len);
	assert_int_equal(de.cipher_len, ct_len);
	sha256(pt, len, md);
	assert_memory_equal(de.plain, md, 32);
	b64_of(md, b64);
	assert_string_equal(de.plain_b64, b64);
	sha256(ct, ct_len, md);
	assert_memory_equal(de.cipher, md, 32);
	b64_of(md, b64);
	assert_string_equal(de.cipher_b64, b64);

	rewind(mid);
	if (cm_envelope_decrypt_file(mid, out, key1, CM_ENVELOPE_AES256_GCM, &dd,
				     err, sizeof(err)) != 0)
	    fail_msg("decrypt_file: %s", err);
	back = slurp(out, &back_len);
	assert_int_equal(back_len, len);
	if (len)
	    assert_memory_equal(back, pt, len);
	/* Both directions agree on both digests. */
	assert_memory_equal(dd.plain, de.plain, 32);
	assert_memory_equal(dd.cipher, de.cipher, 32);
	assert_string_equal(dd.cipher_b64, de.cipher_b64);
	assert_int_equal(dd.plain_len, len);
	free(back);

	/* The descriptor interface, on the same data. */
	{
	    FILE   *out2 = tmpfile();

	    rewind(mid);
	    fflush(mid);
	    if (cm_envelope_decrypt_fd(fileno(mid), fileno(out2), key1,
				       CM_ENVELOPE_AES256_GCM, &dd, err, sizeof(err)) != 0)
		fail_msg("decrypt_fd: %s", err);
	    back = slurp(out2, &back_len);
	    assert_int_equal(back_len, len);
	    if (len)
		assert_memory_equal(back, pt, len);
	    free(back);
	    fclose(out2);
	}
	{
	    FILE   *in2 = file_of(pt, len);
	    FILE   *mid2 = tmpfile();
	    FILE   *out3 = tmpfile();

	    if (cm_envelope_encrypt_fd(fileno(in2), fileno(mid2), key1, &de,
				       err, sizeof(err)) != 0)
		fail_msg("encrypt_fd: %s", err);
	    rewind(mid2);
	    assert_int_equal(cm_envelope_decrypt_file(mid2, out3, key1,
				  CM_ENVELOPE_AES256_GCM, 0, err, sizeof(err)), 0);
	    back = slurp(out3, &back_len);
	    assert_int_equal(back_len, len);
	    free(back);
	    fclose(in2);
	    fclose(mid2);
	    fclose(out3);
	}

	/* A changed byte fails the file interface too. */
	{
	    FILE   *bad, *out4 = tmpfile();

	    ct[ct_len / 2] ^= 0x40;
	    bad = file_of(ct, ct_len);
	    assert_int_equal(cm_envelope_decrypt_file(bad, out4, key1,
				   CM_ENVELOPE_AES256_GCM, &dd, err, sizeof(err)), -1);
	    assert_non_null(strstr(err, "authentication failed"));
	    fclose(bad);
	    fclose(out4);
	}
	free(ct);
	free(pt);
	fclose(in);
	fclose(mid);
	fclose(out);
    }
}

/* test_file_read_error - a stream that cannot be read fails cleanly */
static void test_file_read_error(void **state)
{
    FILE   *wronly = tmpfile();
    FILE   *out = tmpfile();
    int     fds[2];
    char    err[256];

    /* Reading from a write-only descriptor. */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(cm_envelope_encrypt_fd(fds[1], fileno(out), key1, 0,
					    err, sizeof(err)), -1);
    assert_non_null(strstr(err, "read error"));
    /* Writing to a read-only descriptor. */
    assert_int_equal(cm_envelope_encrypt_fd(fileno(wronly), fds[0], key1, 0,
					    err, sizeof(err)), -1);
    assert_non_null(strstr(err, "write error"));
    close(fds[0]);
    close(fds[1]);
    fclose(wronly);
    fclose(out);
}

 /*
  * The ENVELOPE MIME message (cm_envelope_mime).
  */
static const char long_to[] =
    "alice@example.org, bob@example.org, carol@example.org, dave@example.org, "
    "erin@example.org, frank@example.org, grace@example.org";

/* mime_headers - the clear headers used by the MIME tests */
static CM_ENVELOPE_HEADERS mime_headers(void)
{
    CM_ENVELOPE_HEADERS h = {
	.from = "david.keller@example.com",
	.to = long_to,
	.cc = 0,
	.date = "Tue, 9 Jul 2013 10:57:51 +0200",
	.message_id = "<proto_cmtp_1373360269856@example.com>",
	.subject = "=?UTF-8?Q?Bienvenue_=C3=A0_CMTP!?=",
    };

    return (h);
}

/* test_mime_roundtrip - write, read back, digests, line format */
static void test_mime_roundtrip(void **state)
{
    static const size_t sizes[] = {0, 100, 200001};
    size_t  i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
	size_t  len = sizes[i];
	unsigned char *pt = malloc(len + 1);
	CM_ENVELOPE_HEADERS hdr = mime_headers();
	CM_ENVELOPE_MIME_DIGESTS dm;
	CM_ENVELOPE_DIGESTS dd, dx;
	CM_HEADERS clear;
	unsigned char *msg, *back, *ct;
	size_t  msg_len, back_len, ct_len, off, lines = 0;
	unsigned char md[32];
	char    b64[48];
	char    err[256];
	FILE   *in, *mime, *out, *cout;

	pattern(pt, len, (uint32_t) (500 + i));
	in = file_of(pt, len);
	mime = tmpfile();
	if (cm_envelope_mime_write(mime, &hdr, in, key1, &dm, err, sizeof(err)) != 0)
	    fail_msg("mime_write: %s", err);
	msg = slurp(mime, &msg_len);
	/* MimeMessageHash is the digest of every byte written. */
	assert_int_equal(dm.mime_len, msg_len);
	sha256(msg, msg_len, md);
	assert_memory_equal(dm.mime, md, 32);
	b64_of(md, b64);
	assert_string_equal(dm.mime_b64, b64);
	assert_int_equal(dm.envelope.plain_len, len);
	assert_int_equal(dm.envelope.cipher_len, len + 28);
	/* Every line ends in CRLF and is at most 78 characters. */
	for (off = 0; off < msg_len; off++) {
	    size_t  start = off;

	    while (off < msg_len && msg[off] != '\n')
		off++;
	    assert_true(off < msg_len);
	    assert_true(off > start ? msg[off - 1] == '\r' : 0);
	    assert_true(off - start - 1 <= 78);
	    lines++;
	}
	assert_non_null(strstr((char *) msg, "filename=\"envelop\""));
	assert_non_null(strstr((char *) msg, "\r\nTo: alice@example.org,"));
	assert_null(memchr(msg, 0, msg_len));

	/* Decrypt: plaintext, clear headers (unfolded), digests. */
	rewind(mime);
	out = tmpfile();
	if (cm_envelope_mime_decrypt(mime, out, key1, CM_ENVELOPE_AES256_GCM, &clear,
				     &dd, err, sizeof(err)) != 0)
	    fail_msg("mime_decrypt: %s", err);
	back = slurp(out, &back_len);
	assert_int_equal(back_len, len);
	if (len)
	    assert_memory_equal(back, pt, len);
	assert_string_equal(cm_headers_get(&clear, "From"), hdr.from);
	assert_non_null(cm_headers_get(&clear, "To"));
	assert_non_null(strstr(cm_headers_get(&clear, "To"), "grace@example.org"));
	assert_string_equal(cm_headers_get(&clear, "Message-ID"), hdr.message_id);
	assert_string_equal(cm_headers_get(&clear, "Subject"), hdr.subject);
	assert_null(cm_headers_get(&clear, "Cc"));
	cm_headers_free(&clear);
	assert_memory_equal(dd.plain, dm.envelope.plain, 32);
	assert_memory_equal(dd.cipher, dm.envelope.cipher, 32);

	/* Extract without the key: the ciphertext and its digest. */
	rewind(mime);
	cout = tmpfile();
	if (cm_envelope_mime_extract(mime, cout, 0, &dx, err, sizeof(err)) != 0)
	    fail_msg("mime_extract: %s", err);
	ct = slurp(cout, &ct_len);
	assert_int_equal(ct_len, len + 28);
	sha256(ct, ct_len, md);
	assert_memory_equal(dx.cipher, md, 32);
	assert_memory_equal(dx.cipher, dm.envelope.cipher, 32);
	assert_string_equal(dx.cipher_b64, dm.envelope.cipher_b64);
	assert_int_equal(dx.cipher_len, len + 28);

	free(ct);
	free(back);
	free(msg);
	free(pt);
	fclose(in);
	fclose(mime);
	fclose(out);
	fclose(cout);
    }
}

/* mime_decrypt_text - run the reader on a message in memory */
static int mime_decrypt_text(const char *text, BUF *plain, char *err, size_t errlen)
{
    FILE   *in = fmemopen((void *) text, strlen(text), "r");
    FILE   *out = tmpfile();
    int     ret;

    assert_non_null(in);
    ret = cm_envelope_mime_decrypt(in, out, key1, CM_ENVELOPE_AES256_GCM, 0, 0,
				   err, errlen);
    if (plain) {
	size_t  n;
	unsigned char *data = slurp(out, &n);

	plain->len = 0;
	buf_add(plain, data, n);
	free(data);
    }
    fclose(in);
    fclose(out);
    return (ret);
}

/* appendix_message - Appendix I.4 layout (nested multipart, LF lines) */
static char *appendix_message(const char *b64, const char *cte, const char *extra_part)
{
    static const char fmt[] =
	"Received: from localhost ([127.0.0.1])\n"
	"        by begmeil with SMTP id HIWV8HF9;\n"
	"        Tue, 09 Jul 2013 10:58:03 +0200 (CEST)\n"
	"Date: Tue, 9 Jul 2013 10:57:51 +0200 (CEST)\n"
	"From: david.keller@legalbox.com\n"
	"To: laura.prin@legalbox.com\n"
	"Message-ID: proto_cmtp_1373360269856\n"
	"Subject: =?UTF-8?Q?Bienvenue_=C3=A0_CMTP!?=\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; \n"
	" boundary=\"----=_Part_1_1013939722.1373360271613\"\n"
	"\n"
	"------=_Part_1_1013939722.1373360271613\n"
	"Content-Type: multipart/mixed; \n"
	" boundary=\"----=_Part_0_2062834323.1373360271584\"\n"
	"\n"
	"------=_Part_0_2062834323.1373360271584\n"
	"Content-Type: application/octet-stream\n"
	"Content-Transfer-Encoding: %s\n"
	"Content-Disposition: attachment; filename=envelop\n"
	"\n"
	"%s"
	"\n"
	"------=_Part_0_2062834323.1373360271584--\n"
	"%s"
	"\n"
	"------=_Part_1_1013939722.1373360271613--\n";
    size_t  size = sizeof(fmt) + strlen(b64) + strlen(cte) + strlen(extra_part);
    char   *msg = malloc(size);

    snprintf(msg, size, fmt, cte, b64, extra_part);
    return (msg);
}

/* test_mime_appendix_layout - the Recommendation's nested layout reads */
static void test_mime_appendix_layout(void **state)
{
    static const unsigned char pt[] = "Subject: hello\r\n\r\nthe real body\r\n";
    BUF     ct = {0};
    BUF     back = {0};
    char    err[256];
    char   *b64, *msg;

    encrypt_buf(key1, pt, sizeof(pt) - 1, 1000, &ct);
    b64 = cm_base64_encode(ct.data, ct.len, 64);
    msg = appendix_message(b64, "base64", "");
    if (mime_decrypt_text(msg, &back, err, sizeof(err)) != 0)
	fail_msg("appendix layout: %s", err);
    assert_int_equal(back.len, sizeof(pt) - 1);
    assert_memory_equal(back.data, pt, back.len);
    free(msg);

    /* Another part after the envelop part is skipped. */
    msg = appendix_message(b64, "BASE64", "note\n--not-a-boundary\n");
    assert_int_equal(mime_decrypt_text(msg, &back, err, sizeof(err)), 0);
    free(msg);

    /* Refusals. */
    msg = appendix_message(b64, "8bit", "");
    assert_int_equal(mime_decrypt_text(msg, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not base64"));
    free(msg);
    {
	char   *bad = strdup(b64);

	bad[10] = '*';
	msg = appendix_message(bad, "base64", "");
	assert_int_equal(mime_decrypt_text(msg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad base64"));
	free(msg);
	/* A valid base64 character changed: authentication fails. */
	strcpy(bad, b64);
	bad[20] = bad[20] == 'A' ? 'B' : 'A';
	msg = appendix_message(bad, "base64", "");
	assert_int_equal(mime_decrypt_text(msg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "authentication failed"));
	free(msg);
	free(bad);
    }
    {
	/* Data after the padding. */
	size_t  n = strlen(b64) + 16;
	char   *bad = malloc(n);

	snprintf(bad, n, "%sQUJD\n", b64);
	msg = appendix_message(bad, "base64", "");
	if (strchr(b64, '=')) {
	    assert_int_equal(mime_decrypt_text(msg, 0, err, sizeof(err)), -1);
	    assert_non_null(strstr(err, "padding"));
	} else {
	    /* No padding: three extra bytes make the tag check fail. */
	    assert_int_equal(mime_decrypt_text(msg, 0, err, sizeof(err)), -1);
	}
	free(msg);
	free(bad);
    }
    {
	/* Two envelop parts. */
	size_t  n = strlen(b64) * 2 + 400;
	char   *two = malloc(n);

	snprintf(two, n, "------=_Part_0_2062834323.1373360271584\n"
		 "Content-Transfer-Encoding: base64\n"
		 "Content-Type: application/octet-stream; name=envelop\n\n%s", b64);
	/* The extra text sits after the inner close: put it inside instead. */
	msg = appendix_message(b64, "base64", "");
	{
	    char   *close = strstr(msg, "------=_Part_0_2062834323.1373360271584--");
	    size_t  m = strlen(msg) + strlen(two) + 2;
	    char   *both = malloc(m);

	    snprintf(both, m, "%.*s%s\n%s", (int) (close - msg), msg, two, close);
	    assert_int_equal(mime_decrypt_text(both, 0, err, sizeof(err)), -1);
	    assert_non_null(strstr(err, "more than one envelop"));
	    free(both);
	}
	free(msg);
	free(two);
    }
    /* Cut before the closing boundary. */
    msg = appendix_message(b64, "base64", "");
    msg[strlen(msg) - 43] = 0;	/* the outer close line */
    assert_int_equal(mime_decrypt_text(msg, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "closing"));
    free(msg);
    /* Cut inside the envelop part. */
    msg = appendix_message(b64, "base64", "");
    *strstr(msg, b64 + 70) = 0;
    assert_int_equal(mime_decrypt_text(msg, 0, err, sizeof(err)), -1);
    free(msg);
    free(b64);
    free(ct.data);
    free(back.data);
}

/* test_mime_refusals - bad headers for the writer, bad shapes for the reader */
static void test_mime_refusals(void **state)
{
    CM_ENVELOPE_HEADERS hdr = mime_headers();
    CM_ENVELOPE_HEADERS bad;
    char    err[256];
    FILE   *in = file_of((const unsigned char *) "x", 1);
    FILE   *out = tmpfile();
    char    longword[1200];

    bad = hdr;
    bad.subject = "hello\r\nBcc: eve@example.org";
    assert_int_equal(cm_envelope_mime_write(out, &bad, in, key1, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Subject"));
    bad = hdr;
    bad.from = 0;
    assert_int_equal(cm_envelope_mime_write(out, &bad, in, key1, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "From"));
    bad = hdr;
    bad.to = "caf\xc3\xa9@example.org";
    assert_int_equal(cm_envelope_mime_write(out, &bad, in, key1, 0, err, sizeof(err)), -1);
    memset(longword, 'a', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = 0;
    bad = hdr;
    bad.cc = longword;
    assert_int_equal(cm_envelope_mime_write(out, &bad, in, key1, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "folded"));
    /* Nothing was written by the refused calls. */
    {
	size_t  n;
	unsigned char *data = slurp(out, &n);

	assert_int_equal(n, 0);
	free(data);
    }

    /* Reader: not MIME, no envelop part, too deep, long line. */
    assert_int_equal(mime_decrypt_text("From: a@b\nSubject: x\n\nhello\n", 0, err,
				       sizeof(err)), -1);
    assert_non_null(strstr(err, "no multipart"));
    assert_int_equal(mime_decrypt_text("From: a@b\nContent-Type: multipart/mixed; boundary=b\n\n"
				       "--b\nContent-Type: text/plain\n\nhi\n--b--\n", 0,
				       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no part named"));
    assert_int_equal(mime_decrypt_text("Content-Type: multipart/mixed\n\n--b\n\n--b--\n", 0,
				       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "boundary"));
    {
	char    deep[2000];
	size_t  n = 0;
	int     i;

	n += (size_t) snprintf(deep + n, sizeof(deep) - n,
			       "Content-Type: multipart/mixed; boundary=b0\n\n");
	for (i = 0; i < 6; i++)
	    n += (size_t) snprintf(deep + n, sizeof(deep) - n,
				   "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n",
				   i, i + 1);
	assert_int_equal(mime_decrypt_text(deep, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nesting"));
    }
    {
	char   *huge = malloc(3000);

	snprintf(huge, 3000, "Content-Type: multipart/mixed; boundary=b\n\n%2000d\n", 7);
	assert_int_equal(mime_decrypt_text(huge, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	free(huge);
    }
    fclose(in);
    fclose(out);
}

/* test_tmp_commit - temporary plaintext kept only on success */
static void test_tmp_commit(void **state)
{
    char    dir[] = "/tmp/cm_envelope_test.XXXXXX";
    char    path[128], tmp[160], err[256];
    unsigned char pt[1000];
    BUF     ct = {0};
    FILE   *fp, *in;
    struct stat st;
    int     ret;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/plain", dir);
    pattern(pt, sizeof(pt), 77);
    encrypt_buf(key1, pt, sizeof(pt), 333, &ct);

    /* Success: renamed into place, mode 0600. */
    fp = cm_envelope_tmp_open(path, tmp, sizeof(tmp), err, sizeof(err));
    assert_non_null(fp);
    assert_int_equal(strncmp(tmp, path, strlen(path)), 0);
    in = file_of(ct.data, ct.len);
    ret = cm_envelope_decrypt_file(in, fp, key1, CM_ENVELOPE_AES256_GCM, 0, err, sizeof(err));
    assert_int_equal(ret, 0);
    assert_int_equal(cm_envelope_tmp_commit(fp, tmp, path, ret == 0, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, sizeof(pt));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(tmp, &st), -1);
    fclose(in);
    assert_int_equal(unlink(path), 0);

    /* Failure: nothing left. */
    ct.data[ct.len - 1] ^= 1;
    fp = cm_envelope_tmp_open(path, tmp, sizeof(tmp), err, sizeof(err));
    in = file_of(ct.data, ct.len);
    ret = cm_envelope_decrypt_file(in, fp, key1, CM_ENVELOPE_AES256_GCM, 0, err, sizeof(err));
    assert_int_equal(ret, -1);
    assert_int_equal(cm_envelope_tmp_commit(fp, tmp, path, ret == 0, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(stat(tmp, &st), -1);
    fclose(in);

    /* No such directory. */
    snprintf(path, sizeof(path), "%s/none/plain", dir);
    assert_null(cm_envelope_tmp_open(path, tmp, sizeof(tmp), err, sizeof(err)));
    assert_int_equal(rmdir(dir), 0);
    free(ct.data);
}

/* test_random_chunks - decryption with irregular update sizes */
static void test_random_chunks(void **state)
{
    size_t  len = 1000000 + 5;
    unsigned char *pt = malloc(len);
    unsigned char *obuf = malloc(70000 + CM_ENVELOPE_SLACK);
    BUF     ct = {0};
    BUF     back = {0};
    uint32_t x = 12345;
    size_t  off, n, olen;
    char    err[256];
    int     round;

    pattern(pt, len, 4242);
    encrypt_buf(key1, pt, len, 65536, &ct);
    for (round = 0; round < 3; round++) {
	CM_ENVELOPE *e = cm_envelope_decrypt_new(key1, CM_ENVELOPE_AES256_GCM, err, sizeof(err));

	back.len = 0;
	for (off = 0; off < ct.len; off += n) {
	    x ^= x << 13;
	    x ^= x >> 17;
	    x ^= x << 5;
	    n = (x % 5 == 0) ? x % 20 : x % 70000;	/* many tiny, some large */
	    if (n > ct.len - off)
		n = ct.len - off;
	    assert_int_equal(cm_envelope_update(e, ct.data + off, n, obuf,
						70000 + CM_ENVELOPE_SLACK, &olen), 0);
	    buf_add(&back, obuf, olen);
	}
	assert_int_equal(cm_envelope_final(e, obuf, 70000 + CM_ENVELOPE_SLACK, &olen), 0);
	buf_add(&back, obuf, olen);
	assert_int_equal(back.len, len);
	assert_memory_equal(back.data, pt, len);
	cm_envelope_free(e);
    }
    free(pt);
    free(obuf);
    free(ct.data);
    free(back.data);
}

/* test_mime_mutations - a damaged ENVELOPE never decrypts to wrong text */
static void test_mime_mutations(void **state)
{
    static const unsigned char pt[] = "From: a@example.org\r\n\r\nsecret body\r\n";
    CM_ENVELOPE_HEADERS hdr = mime_headers();
    FILE   *in = file_of(pt, sizeof(pt) - 1);
    FILE   *mime = tmpfile();
    unsigned char *msg;
    size_t  msg_len, i;
    uint32_t x = 777;
    char    err[256];
    int     ok = 0, failed = 0;

    assert_int_equal(cm_envelope_mime_write(mime, &hdr, in, key1, 0, err, sizeof(err)), 0);
    msg = slurp(mime, &msg_len);
    for (i = 0; i < 400; i++) {
	char   *copy = malloc(msg_len + 1);
	size_t  where;

	memcpy(copy, msg, msg_len);
	copy[msg_len] = 0;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	where = x % msg_len;
	if (i % 2)
	    copy[where] = (char) (x >> 8);	/* any byte, NUL included */
	else
	    copy[where] = 0;			/* truncation (string ends) */
	{
	    FILE   *fin = fmemopen(copy, i % 2 ? msg_len : strlen(copy), "r");
	    FILE   *fout = tmpfile();
	    int     ret;
	    size_t  n;
	    unsigned char *data;

	    if (i % 2 == 0 && strlen(copy) == 0) {
		fclose(fout);
		free(copy);
		continue;
	    }
	    assert_non_null(fin);
	    ret = cm_envelope_mime_decrypt(fin, fout, key1, CM_ENVELOPE_AES256_GCM, 0, 0,
					   err, sizeof(err));
	    data = slurp(fout, &n);
	    if (ret == 0) {
		/* Success only with the genuine plaintext. */
		assert_int_equal(n, sizeof(pt) - 1);
		assert_memory_equal(data, pt, n);
		ok++;
	    } else {
		failed++;
	    }
	    free(data);
	    fclose(fin);
	    fclose(fout);
	}
	free(copy);
    }
    /* Both outcomes occur: headers/preamble vs ciphertext damage. */
    assert_true(ok > 0);
    assert_true(failed > 0);
    free(msg);
    fclose(in);
    fclose(mime);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_gcm_known_answers),
	cmocka_unit_test(test_gcm_aad_required),
	cmocka_unit_test(test_roundtrip_sizes),
	cmocka_unit_test(test_fresh_iv),
	cmocka_unit_test(test_tamper),
	cmocka_unit_test(test_truncated),
	cmocka_unit_test(test_cbc_decrypt),
	cmocka_unit_test(test_alg_names),
	cmocka_unit_test(test_key_new),
	cmocka_unit_test(test_misuse),
	cmocka_unit_test(test_files_and_digests),
	cmocka_unit_test(test_file_read_error),
	cmocka_unit_test(test_random_chunks),
	cmocka_unit_test(test_tmp_commit),
	cmocka_unit_test(test_mime_roundtrip),
	cmocka_unit_test(test_mime_appendix_layout),
	cmocka_unit_test(test_mime_refusals),
	cmocka_unit_test(test_mime_mutations),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
