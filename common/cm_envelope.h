#ifndef CM_ENVELOPE_H
#define CM_ENVELOPE_H
/*++
 * NAME
 *	cm_envelope 3h
 * SUMMARY
 *	ENVELOPE encryption: streaming AES-256-GCM, AES-256-CBC decryption
 * SYNOPSIS
 *	#include "cm_envelope.h"
 *
 *	int	cm_envelope_key_new(unsigned char key[CM_ENVELOPE_KEY_LEN]);
 *	int	cm_envelope_alg_from_name(const char *name,
 *					CM_ENVELOPE_ALG *alg);
 *	const char *cm_envelope_alg_name(CM_ENVELOPE_ALG alg);
 *
 *	CM_ENVELOPE *cm_envelope_encrypt_new(const unsigned char *key,
 *					char *err, size_t errlen);
 *	CM_ENVELOPE *cm_envelope_encrypt_new_iv(const unsigned char *key,
 *					const unsigned char *iv,
 *					char *err, size_t errlen);
 *	CM_ENVELOPE *cm_envelope_decrypt_new(const unsigned char *key,
 *					CM_ENVELOPE_ALG alg,
 *					char *err, size_t errlen);
 *	int	cm_envelope_aad(CM_ENVELOPE *e, const void *aad, size_t len);
 *	int	cm_envelope_update(CM_ENVELOPE *e, const void *in,
 *					size_t len, unsigned char *out,
 *					size_t out_size, size_t *out_len);
 *	int	cm_envelope_final(CM_ENVELOPE *e, unsigned char *out,
 *					size_t out_size, size_t *out_len);
 *	int	cm_envelope_digests(const CM_ENVELOPE *e,
 *					CM_ENVELOPE_DIGESTS *d);
 *	const char *cm_envelope_error(const CM_ENVELOPE *e);
 *	void	cm_envelope_free(CM_ENVELOPE *e);
 *
 *	int	cm_envelope_encrypt_file(FILE *in, FILE *out,
 *					const unsigned char *key,
 *					CM_ENVELOPE_DIGESTS *d,
 *					char *err, size_t errlen);
 *	int	cm_envelope_decrypt_file(FILE *in, FILE *out,
 *					const unsigned char *key,
 *					CM_ENVELOPE_ALG alg,
 *					CM_ENVELOPE_DIGESTS *d,
 *					char *err, size_t errlen);
 *	int	cm_envelope_encrypt_fd(int in, int out, ...same...);
 *	int	cm_envelope_decrypt_fd(int in, int out, ...same...);
 *
 *	FILE	*cm_envelope_tmp_open(const char *path, char *tmp,
 *					size_t tmplen, char *err, size_t errlen);
 *	int	cm_envelope_tmp_commit(FILE *fp, const char *tmp,
 *					const char *path, int keep,
 *					char *err, size_t errlen);
 * DESCRIPTION
 *	The ENVELOPE payload (PROFILE.md section 3) is the plaintext MIME
 *	message encrypted under a fresh 256-bit key RSCK. We write
 *	AES-256-GCM as IV (12 random bytes) || ciphertext || tag (16
 *	bytes), Algorithm="AES-256-GCM". For compatibility we also read
 *	"AES-256-CBC" and "AES": IV (16 bytes) || ciphertext, PKCS#7
 *	padding. We never write CBC.
 *
 *	cm_envelope_key_new() fills key with RAND_priv_bytes(); it returns
 *	0, or -1 when the random generator fails. Wipe keys with
 *	OPENSSL_cleanse() when done; CM_ENVELOPE objects wipe their copy.
 *
 *	cm_envelope_alg_from_name() maps "AES-256-GCM", "AES-256-CBC" and
 *	"AES" (case-sensitive, as in the XML attribute) and returns 0, or
 *	-1 for anything else.
 *
 *	Streaming. cm_envelope_encrypt_new() starts a GCM encryption
 *	with a random IV; cm_envelope_encrypt_new_iv() takes the IV from
 *	the caller and exists for known-answer tests only (an IV must
 *	never be used twice with one key). cm_envelope_decrypt_new()
 *	starts a decryption. cm_envelope_aad() adds GCM additional
 *	authenticated data (at most CM_ENVELOPE_AAD_MAX bytes, before the
 *	first update; the ENVELOPE itself uses none, a seal may).
 *	cm_envelope_update() consumes all of in and writes up to len +
 *	CM_ENVELOPE_SLACK bytes to out (out_size must be at least that);
 *	cm_envelope_final() writes up to CM_ENVELOPE_SLACK bytes. The
 *	encryptor writes the IV before the first ciphertext byte and the
 *	tag at final(). The decryptor takes the IV from the first bytes
 *	and holds back the last 16 bytes it has seen, which become the
 *	tag at final().
 *
 *	SECURITY: decrypted GCM plaintext is released by update() BEFORE
 *	it is authenticated; only a successful final() proves that it is
 *	genuine and complete. A caller must write the plaintext to a
 *	temporary file, act on it only after final() returned 0, and
 *	delete it when final() fails. The same holds for CBC, which has
 *	no authentication at all (padding is checked at final()).
 *
 *	Every call returns 0 on success and -1 on failure; after a
 *	failure the object only accepts cm_envelope_error() (a one-line
 *	reason) and cm_envelope_free().
 *
 *	Digests. Each object computes on the fly the SHA-256 of the
 *	plaintext (UncipheredEnvelopeHash) and of the ciphertext bytes
 *	exactly as carried in the "envelop" part, IV and tag included
 *	(CipheredEnvelopeHash). cm_envelope_digests() returns them after
 *	a successful final(): raw, as base64 HashValueType text, and the
 *	byte counts.
 *
 *	Files. The *_file() and *_fd() functions stream from in to out
 *	through fixed CM_ENVELOPE_BUF_SIZE buffers (a 100 MB message is
 *	never held in memory), fill d when it is not NULL, and return 0,
 *	or -1 with a reason in err. After a failed decryption the output
 *	already written must be discarded (see SECURITY above). The FILE
 *	versions flush out but do not close either stream; the fd
 *	versions retry on EINTR and do not close either descriptor.
 *
 *	Temporary plaintext. cm_envelope_tmp_open() creates a new file
 *	with mode 0600 next to path (path.XXXXXX, name copied to tmp) and
 *	returns it open for writing. cm_envelope_tmp_commit() closes it;
 *	with keep set (decryption succeeded) it syncs it to disk and
 *	renames it to path, otherwise it removes it. It returns 0, or -1
 *	with a reason in err (the temporary file is then gone). Typical:
 * .nf
 *	fp = cm_envelope_tmp_open(path, tmp, sizeof(tmp), err, len);
 *	ok = cm_envelope_decrypt_file(in, fp, key, alg, &d, err, len);
 *	if (cm_envelope_tmp_commit(fp, tmp, path, ok == 0, ...) < 0 || ok < 0)
 *	    fail;
 * .fi
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CM_ENVELOPE_KEY_LEN	32	/* RSCK, AES-256 */
#define CM_ENVELOPE_GCM_IV_LEN	12
#define CM_ENVELOPE_GCM_TAG_LEN	16
#define CM_ENVELOPE_CBC_IV_LEN	16
#define CM_ENVELOPE_SLACK	32	/* out_size >= in + SLACK */
#define CM_ENVELOPE_UPDATE_MAX	(1024 * 1024 * 1024)	/* one update() */
#define CM_ENVELOPE_AAD_MAX	1024
#define CM_ENVELOPE_BUF_SIZE	(64 * 1024)

#define CM_ENVELOPE_ALG_GCM_NAME	"AES-256-GCM"
#define CM_ENVELOPE_ALG_CBC_NAME	"AES-256-CBC"
#define CM_ENVELOPE_ALG_AES_NAME	"AES"

typedef enum {
    CM_ENVELOPE_AES256_GCM = 0,
    CM_ENVELOPE_AES256_CBC = 1,
} CM_ENVELOPE_ALG;

typedef struct CM_ENVELOPE_DIGESTS {
    unsigned char plain[32];		/* SHA-256 of the plaintext */
    unsigned char cipher[32];		/* SHA-256 of IV||ciphertext||tag */
    char    plain_b64[48];		/* UncipheredEnvelopeHash text */
    char    cipher_b64[48];		/* CipheredEnvelopeHash text */
    uint64_t plain_len;			/* plaintext bytes */
    uint64_t cipher_len;		/* ciphertext bytes incl. IV, tag */
} CM_ENVELOPE_DIGESTS;

typedef struct CM_ENVELOPE CM_ENVELOPE;

extern int cm_envelope_key_new(unsigned char *key);
extern int cm_envelope_alg_from_name(const char *name, CM_ENVELOPE_ALG *alg);
extern const char *cm_envelope_alg_name(CM_ENVELOPE_ALG alg);

extern CM_ENVELOPE *cm_envelope_encrypt_new(const unsigned char *key,
					            char *err, size_t errlen);
extern CM_ENVELOPE *cm_envelope_encrypt_new_iv(const unsigned char *key,
					               const unsigned char *iv,
					               char *err, size_t errlen);
extern CM_ENVELOPE *cm_envelope_decrypt_new(const unsigned char *key,
					            CM_ENVELOPE_ALG alg,
					            char *err, size_t errlen);
extern int cm_envelope_aad(CM_ENVELOPE *e, const void *aad, size_t len);
extern int cm_envelope_update(CM_ENVELOPE *e, const void *in, size_t len,
			              unsigned char *out, size_t out_size,
			              size_t *out_len);
extern int cm_envelope_final(CM_ENVELOPE *e, unsigned char *out,
			             size_t out_size, size_t *out_len);
extern int cm_envelope_digests(const CM_ENVELOPE *e, CM_ENVELOPE_DIGESTS *d);
extern const char *cm_envelope_error(const CM_ENVELOPE *e);
extern void cm_envelope_free(CM_ENVELOPE *e);

extern int cm_envelope_encrypt_file(FILE *in, FILE *out,
				            const unsigned char *key,
				            CM_ENVELOPE_DIGESTS *d,
				            char *err, size_t errlen);
extern int cm_envelope_decrypt_file(FILE *in, FILE *out,
				            const unsigned char *key,
				            CM_ENVELOPE_ALG alg,
				            CM_ENVELOPE_DIGESTS *d,
				            char *err, size_t errlen);
extern int cm_envelope_encrypt_fd(int in, int out, const unsigned char *key,
				          CM_ENVELOPE_DIGESTS *d,
				          char *err, size_t errlen);
extern int cm_envelope_decrypt_fd(int in, int out, const unsigned char *key,
				          CM_ENVELOPE_ALG alg,
				          CM_ENVELOPE_DIGESTS *d,
				          char *err, size_t errlen);
extern FILE *cm_envelope_tmp_open(const char *path, char *tmp, size_t tmplen,
				          char *err, size_t errlen);
extern int cm_envelope_tmp_commit(FILE *fp, const char *tmp, const char *path,
				          int keep, char *err, size_t errlen);

#endif
