/*++
 * NAME
 *	cm_envelope 3
 * SUMMARY
 *	streaming AES-256-GCM ENVELOPE encryption, GCM/CBC decryption
 * DESCRIPTION
 *	See cm_envelope.h. All cryptography is OpenSSL's EVP interface;
 *	this module only frames it: the IV in front, the tag behind, the
 *	tag held back while decrypting, and the two SHA-256 digests the
 *	notices need.
 *--*/
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cm_log.h"
#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_envelope.h"

typedef enum {
    ENV_OPEN,				/* accepting update() */
    ENV_DONE,				/* final() succeeded */
    ENV_FAILED,				/* dead: error[] says why */
} ENV_STATE;

struct CM_ENVELOPE {
    EVP_CIPHER_CTX *ctx;
    CM_ENVELOPE_ALG alg;
    int     encrypt;
    ENV_STATE state;
    unsigned char key[CM_ENVELOPE_KEY_LEN];
    unsigned char iv[CM_ENVELOPE_CBC_IV_LEN];	/* large enough for both */
    size_t  iv_len;			/* 12 (GCM) or 16 (CBC) */
    size_t  iv_have;			/* IV bytes seen (decrypt) */
    int     iv_done;			/* IV sent (encrypt) / cipher keyed */
    unsigned char hold[CM_ENVELOPE_GCM_TAG_LEN];	/* GCM decrypt tail */
    size_t  hold_len;
    unsigned char *aad;			/* GCM AAD, applied once keyed */
    size_t  aad_len;
    int     started;			/* update() called */
    CM_HASH *plain_hash;
    CM_HASH *cipher_hash;
    CM_ENVELOPE_DIGESTS dig;
    char    error[256];
};

/* env_fail - record a reason, mark the object dead */
static int __attribute__((format(printf, 2, 3))) env_fail(CM_ENVELOPE *e, const char *fmt,...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->error, sizeof(e->error), fmt, ap);
    va_end(ap);
    e->state = ENV_FAILED;
    ERR_clear_error();
    return (-1);
}

/* copy_err - copy a reason to a caller's buffer */
static void copy_err(char *err, size_t errlen, const char *text)
{
    if (err && errlen > 0)
	snprintf(err, errlen, "%s", text);
}

/* errno_err - "what: strerror" into a caller's buffer */
static void errno_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen > 0)
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
}

/* cm_envelope_key_new - fresh RSCK from the private random generator */
int     cm_envelope_key_new(unsigned char *key)
{
    return (RAND_priv_bytes(key, CM_ENVELOPE_KEY_LEN) == 1 ? 0 : -1);
}

/* cm_envelope_alg_from_name - Algorithm attribute to algorithm */
int     cm_envelope_alg_from_name(const char *name, CM_ENVELOPE_ALG *alg)
{
    if (name == 0)
	return (-1);
    if (strcmp(name, CM_ENVELOPE_ALG_GCM_NAME) == 0) {
	*alg = CM_ENVELOPE_AES256_GCM;
	return (0);
    }
    if (strcmp(name, CM_ENVELOPE_ALG_CBC_NAME) == 0
	|| strcmp(name, CM_ENVELOPE_ALG_AES_NAME) == 0) {
	*alg = CM_ENVELOPE_AES256_CBC;
	return (0);
    }
    return (-1);
}

/* cm_envelope_alg_name - algorithm to Algorithm attribute */
const char *cm_envelope_alg_name(CM_ENVELOPE_ALG alg)
{
    return (alg == CM_ENVELOPE_AES256_CBC ? CM_ENVELOPE_ALG_CBC_NAME
	    : CM_ENVELOPE_ALG_GCM_NAME);
}

/* env_new - common constructor */
static CM_ENVELOPE *env_new(const unsigned char *key, CM_ENVELOPE_ALG alg,
			            int encrypt, char *err, size_t errlen)
{
    CM_ENVELOPE *e;
    const EVP_CIPHER *cipher;

    if (key == 0) {
	copy_err(err, errlen, "no ENVELOPE key");
	return (0);
    }
    if (alg != CM_ENVELOPE_AES256_GCM && alg != CM_ENVELOPE_AES256_CBC) {
	copy_err(err, errlen, "unknown ENVELOPE algorithm");
	return (0);
    }
    if (encrypt && alg != CM_ENVELOPE_AES256_GCM)
	msg_panic("cm_envelope: encryption is AES-256-GCM only");
    if ((e = calloc(1, sizeof(*e))) == 0) {
	copy_err(err, errlen, "out of memory");
	return (0);
    }
    e->alg = alg;
    e->encrypt = encrypt;
    e->state = ENV_OPEN;
    memcpy(e->key, key, CM_ENVELOPE_KEY_LEN);
    e->iv_len = (alg == CM_ENVELOPE_AES256_GCM ?
		 CM_ENVELOPE_GCM_IV_LEN : CM_ENVELOPE_CBC_IV_LEN);
    cipher = (alg == CM_ENVELOPE_AES256_GCM ? EVP_aes_256_gcm() : EVP_aes_256_cbc());
    if ((e->ctx = EVP_CIPHER_CTX_new()) == 0
	|| (e->plain_hash = cm_hash_new(CM_HASH_SHA256)) == 0
	|| (e->cipher_hash = cm_hash_new(CM_HASH_SHA256)) == 0
	|| !EVP_CipherInit_ex(e->ctx, cipher, 0, 0, 0, encrypt)) {
	char    ebuf[200];

	snprintf(e->error, sizeof(e->error), "cannot set up %s: %s",
		 cm_envelope_alg_name(alg), cm_ssl_errors(ebuf, sizeof(ebuf)));
	copy_err(err, errlen, e->error);
	cm_envelope_free(e);
	return (0);
    }
    return (e);
}

/* env_key - key the cipher once the IV is known */
static int env_key(CM_ENVELOPE *e)
{
    int     n;

    if (!EVP_CipherInit_ex(e->ctx, 0, 0, e->key, e->iv, e->encrypt))
	return (env_fail(e, "cannot key %s", cm_envelope_alg_name(e->alg)));
    if (e->aad_len > 0
	&& !EVP_CipherUpdate(e->ctx, 0, &n, e->aad, (int) e->aad_len))
	return (env_fail(e, "cannot add authenticated data"));
    e->iv_done = 1;
    return (0);
}

/* cm_envelope_encrypt_new_iv - GCM encryption with a given IV (tests) */
CM_ENVELOPE *cm_envelope_encrypt_new_iv(const unsigned char *key,
				                const unsigned char *iv,
				                char *err, size_t errlen)
{
    CM_ENVELOPE *e;

    if ((e = env_new(key, CM_ENVELOPE_AES256_GCM, 1, err, errlen)) == 0)
	return (0);
    memcpy(e->iv, iv, CM_ENVELOPE_GCM_IV_LEN);
    e->iv_have = CM_ENVELOPE_GCM_IV_LEN;
    return (e);
}

/* cm_envelope_encrypt_new - GCM encryption with a fresh random IV */
CM_ENVELOPE *cm_envelope_encrypt_new(const unsigned char *key,
				             char *err, size_t errlen)
{
    unsigned char iv[CM_ENVELOPE_GCM_IV_LEN];

    if (RAND_bytes(iv, sizeof(iv)) != 1) {
	copy_err(err, errlen, "random generator failed");
	return (0);
    }
    return (cm_envelope_encrypt_new_iv(key, iv, err, errlen));
}

/* cm_envelope_decrypt_new - decryption, IV taken from the input */
CM_ENVELOPE *cm_envelope_decrypt_new(const unsigned char *key,
				             CM_ENVELOPE_ALG alg,
				             char *err, size_t errlen)
{
    return (env_new(key, alg, 0, err, errlen));
}

/* cm_envelope_aad - GCM additional authenticated data */
int     cm_envelope_aad(CM_ENVELOPE *e, const void *aad, size_t len)
{
    unsigned char *copy;

    if (e->state != ENV_OPEN)
	return (-1);
    if (e->alg != CM_ENVELOPE_AES256_GCM)
	return (env_fail(e, "authenticated data needs AES-256-GCM"));
    if (e->started || e->aad)
	return (env_fail(e, "authenticated data must come first, once"));
    if (len > CM_ENVELOPE_AAD_MAX)
	return (env_fail(e, "authenticated data longer than %d bytes",
			 CM_ENVELOPE_AAD_MAX));
    if (len == 0)
	return (0);
    if ((copy = malloc(len)) == 0)
	return (env_fail(e, "out of memory"));
    memcpy(copy, aad, len);
    e->aad = copy;
    e->aad_len = len;
    return (0);
}

/* env_cipher - run EVP on a span, account and hash the output */
static int env_cipher(CM_ENVELOPE *e, const unsigned char *in, size_t len,
		              unsigned char *out, size_t *used)
{
    int     n = 0;

    if (len == 0)
	return (0);
    if (!EVP_CipherUpdate(e->ctx, out + *used, &n, in, (int) len))
	return (env_fail(e, "%s %s failed", cm_envelope_alg_name(e->alg),
			 e->encrypt ? "encryption" : "decryption"));
    *used += (size_t) n;
    return (0);
}

/* env_account - hash and count bytes of the plaintext or the ciphertext side */
static int env_account(CM_ENVELOPE *e, const unsigned char *p, size_t len, int plain)
{
    if (len > 0 && cm_hash_update(plain ? e->plain_hash : e->cipher_hash, p, len) < 0)
	return (env_fail(e, "digest failed"));
    if (plain)
	e->dig.plain_len += len;
    else
	e->dig.cipher_len += len;
    return (0);
}

/* Input is plaintext when encrypting, output when decrypting. */
#define env_take_input(e, in, len)	env_account((e), (in), (len), (e)->encrypt)
#define env_emit(e, out, len)		env_account((e), (out), (len), !(e)->encrypt)

/* env_update_encrypt - IV first, then ciphertext */
static int env_update_encrypt(CM_ENVELOPE *e, const unsigned char *in, size_t len,
			              unsigned char *out, size_t *used)
{
    if (!e->iv_done) {
	if (env_key(e) < 0)
	    return (-1);
	memcpy(out, e->iv, e->iv_len);
	*used = e->iv_len;
    }
    return (env_cipher(e, in, len, out, used));
}

/* env_take_iv - gather the IV from the input: 1 when the key is ready, 0 more needed, -1 */
static int env_take_iv(CM_ENVELOPE *e, const unsigned char **in, size_t *len)
{
    size_t  take;

    if (e->iv_have < e->iv_len) {
	take = e->iv_len - e->iv_have;
	if (take > *len)
	    take = *len;
	memcpy(e->iv + e->iv_have, *in, take);
	e->iv_have += take;
	*in += take;
	*len -= take;
	if (e->iv_have < e->iv_len)
	    return (0);
	if (env_key(e) < 0)
	    return (-1);
    }
    return (1);
}

/* env_update_decrypt_gcm - IV, then all but the last 16 bytes */
static int env_update_decrypt_gcm(CM_ENVELOPE *e, const unsigned char *in, size_t len,
				          unsigned char *out, size_t *used)
{
    int     ret;
    size_t  total;
    size_t  release;
    size_t  from_hold;

    /* The IV comes first. */
    if ((ret = env_take_iv(e, &in, &len)) <= 0)
	return (ret);
    /* Keep the last 16 bytes seen: they may be the tag. */
    total = e->hold_len + len;
    if (total <= CM_ENVELOPE_GCM_TAG_LEN) {
	memcpy(e->hold + e->hold_len, in, len);
	e->hold_len = total;
	return (0);
    }
    release = total - CM_ENVELOPE_GCM_TAG_LEN;
    from_hold = release < e->hold_len ? release : e->hold_len;
    if (env_cipher(e, e->hold, from_hold, out, used) < 0)
	return (-1);
    memmove(e->hold, e->hold + from_hold, e->hold_len - from_hold);
    e->hold_len -= from_hold;
    if (env_cipher(e, in, release - from_hold, out, used) < 0)
	return (-1);
    in += release - from_hold;
    len -= release - from_hold;
    memcpy(e->hold + e->hold_len, in, len);
    e->hold_len += len;
    if (e->hold_len != CM_ENVELOPE_GCM_TAG_LEN)
	msg_panic("cm_envelope: held %zu bytes", e->hold_len);
    return (0);
}

/* env_update_decrypt_cbc - IV, then EVP (which keeps the last block) */
static int env_update_decrypt_cbc(CM_ENVELOPE *e, const unsigned char *in, size_t len,
				          unsigned char *out, size_t *used)
{
    int     ret;

    if ((ret = env_take_iv(e, &in, &len)) <= 0)
	return (ret);
    return (env_cipher(e, in, len, out, used));
}

/* cm_envelope_update - consume input, produce output */
int     cm_envelope_update(CM_ENVELOPE *e, const void *in, size_t len,
			           unsigned char *out, size_t out_size,
			           size_t *out_len)
{
    size_t  used = 0;
    int     ret;

    *out_len = 0;
    if (e->state != ENV_OPEN)
	return (-1);
    if (len > CM_ENVELOPE_UPDATE_MAX)
	return (env_fail(e, "update of %zu bytes is too large", len));
    if (out_size < len + CM_ENVELOPE_SLACK)
	return (env_fail(e, "output buffer too small"));
    e->started = 1;
    if (env_take_input(e, in, len) < 0)
	return (-1);
    if (e->encrypt)
	ret = env_update_encrypt(e, in, len, out, &used);
    else if (e->alg == CM_ENVELOPE_AES256_GCM)
	ret = env_update_decrypt_gcm(e, in, len, out, &used);
    else
	ret = env_update_decrypt_cbc(e, in, len, out, &used);
    if (ret < 0 || env_emit(e, out, used) < 0)
	return (-1);
    *out_len = used;
    return (0);
}

/* env_finish_digests - close both digests into e->dig */
static int env_finish_digests(CM_ENVELOPE *e)
{
    size_t  n;
    char   *b64;

    if (cm_hash_final_raw(e->plain_hash, e->dig.plain, &n) < 0 || n != 32
	|| cm_hash_final_raw(e->cipher_hash, e->dig.cipher, &n) < 0 || n != 32)
	return (env_fail(e, "digest failed"));
    if ((b64 = cm_base64_encode(e->dig.plain, 32, 0)) == 0)
	return (env_fail(e, "out of memory"));
    snprintf(e->dig.plain_b64, sizeof(e->dig.plain_b64), "%s", b64);
    free(b64);
    if ((b64 = cm_base64_encode(e->dig.cipher, 32, 0)) == 0)
	return (env_fail(e, "out of memory"));
    snprintf(e->dig.cipher_b64, sizeof(e->dig.cipher_b64), "%s", b64);
    free(b64);
    return (0);
}

/* cm_envelope_final - tag out (encrypt), tag or padding check (decrypt) */
int     cm_envelope_final(CM_ENVELOPE *e, unsigned char *out, size_t out_size,
			          size_t *out_len)
{
    size_t  used = 0;
    int     n = 0;

    *out_len = 0;
    if (e->state != ENV_OPEN)
	return (-1);
    if (out_size < CM_ENVELOPE_SLACK)
	return (env_fail(e, "output buffer too small"));
    e->started = 1;
    if (e->encrypt) {
	if (!e->iv_done) {
	    if (env_key(e) < 0)
		return (-1);
	    memcpy(out, e->iv, e->iv_len);
	    used = e->iv_len;
	}
	if (!EVP_EncryptFinal_ex(e->ctx, out + used, &n))
	    return (env_fail(e, "AES-256-GCM encryption failed"));
	used += (size_t) n;
	if (!EVP_CIPHER_CTX_ctrl(e->ctx, EVP_CTRL_GCM_GET_TAG,
				 CM_ENVELOPE_GCM_TAG_LEN, out + used))
	    return (env_fail(e, "cannot get the AES-256-GCM tag"));
	used += CM_ENVELOPE_GCM_TAG_LEN;
    } else if (e->alg == CM_ENVELOPE_AES256_GCM) {
	if (e->iv_have < e->iv_len || e->hold_len < CM_ENVELOPE_GCM_TAG_LEN)
	    return (env_fail(e, "truncated ENVELOPE: shorter than IV and tag"));
	if (!EVP_CIPHER_CTX_ctrl(e->ctx, EVP_CTRL_GCM_SET_TAG,
				 CM_ENVELOPE_GCM_TAG_LEN, e->hold))
	    return (env_fail(e, "cannot set the AES-256-GCM tag"));
	if (EVP_DecryptFinal_ex(e->ctx, out, &n) <= 0)
	    return (env_fail(e, "ENVELOPE authentication failed "
			     "(wrong key, or the data was changed)"));
	used = (size_t) n;
    } else {
	if (e->iv_have < e->iv_len)
	    return (env_fail(e, "truncated ENVELOPE: shorter than the IV"));
	if (EVP_DecryptFinal_ex(e->ctx, out, &n) <= 0)
	    return (env_fail(e, "AES-256-CBC decryption failed "
			     "(wrong key, bad padding or truncated data)"));
	used = (size_t) n;
    }
    if (env_emit(e, out, used) < 0 || env_finish_digests(e) < 0)
	return (-1);
    e->state = ENV_DONE;
    *out_len = used;
    return (0);
}

/* cm_envelope_digests - plaintext and ciphertext digests after final() */
int     cm_envelope_digests(const CM_ENVELOPE *e, CM_ENVELOPE_DIGESTS *d)
{
    if (e->state != ENV_DONE)
	return (-1);
    *d = e->dig;
    return (0);
}

/* cm_envelope_error - reason of the last failure */
const char *cm_envelope_error(const CM_ENVELOPE *e)
{
    return (e->error[0] ? e->error : "no error");
}

/* cm_envelope_free - wipe and release */
void    cm_envelope_free(CM_ENVELOPE *e)
{
    if (e == 0)
	return;
    EVP_CIPHER_CTX_free(e->ctx);
    cm_hash_free(e->plain_hash);
    cm_hash_free(e->cipher_hash);
    if (e->aad) {
	OPENSSL_cleanse(e->aad, e->aad_len);
	free(e->aad);
    }
    OPENSSL_cleanse(e, sizeof(*e));
    free(e);
}

 /*
  * Streaming over files. One reader and one writer callback so that FILE*
  * and file descriptors share the loop.
  */
typedef struct {
    FILE   *fp;
    int     fd;
} ENV_IO;

/* io_read_fp - read up to len bytes from a stream; 0 at EOF, -1 error */
static ssize_t io_read_fp(ENV_IO *io, void *buf, size_t len)
{
    size_t  n = fread(buf, 1, len, io->fp);

    if (n == 0 && ferror(io->fp))
	return (-1);
    return ((ssize_t) n);
}

/* io_write_fp - write all of buf to a stream */
static int io_write_fp(ENV_IO *io, const void *buf, size_t len)
{
    return (len == 0 || fwrite(buf, 1, len, io->fp) == len ? 0 : -1);
}

/* io_flush_fp - push a stream's buffer to the kernel */
static int io_flush_fp(ENV_IO *io)
{
    return (fflush(io->fp) == 0 && !ferror(io->fp) ? 0 : -1);
}

/* io_read_fd - read from a descriptor, retrying on EINTR */
static ssize_t io_read_fd(ENV_IO *io, void *buf, size_t len)
{
    ssize_t n;

    do {
	n = read(io->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return (n);
}

/* io_write_fd - write all of buf to a descriptor */
static int io_write_fd(ENV_IO *io, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    ssize_t n;

    while (len > 0) {
	n = write(io->fd, p, len);
	if (n < 0 && errno == EINTR)
	    continue;
	if (n <= 0)
	    return (-1);
	p += n;
	len -= (size_t) n;
    }
    return (0);
}

/* io_flush_fd - nothing buffered */
static int io_flush_fd(ENV_IO *io)
{
    return (0);
}

typedef struct {
    ssize_t (*read) (ENV_IO *, void *, size_t);
    int     (*write) (ENV_IO *, const void *, size_t);
    int     (*flush) (ENV_IO *);
} ENV_IO_OPS;

static const ENV_IO_OPS io_fp = {io_read_fp, io_write_fp, io_flush_fp};
static const ENV_IO_OPS io_fd = {io_read_fd, io_write_fd, io_flush_fd};

/* env_pump - stream in through e to out with fixed buffers */
static int env_pump(CM_ENVELOPE *e, const ENV_IO_OPS *ops, ENV_IO *in, ENV_IO *out,
		            CM_ENVELOPE_DIGESTS *d, char *err, size_t errlen)
{
    unsigned char *ibuf;
    unsigned char *obuf;
    size_t  osize = CM_ENVELOPE_BUF_SIZE + CM_ENVELOPE_SLACK;
    size_t  olen;
    ssize_t n;
    int     ret = -1;

    ibuf = malloc(CM_ENVELOPE_BUF_SIZE);
    obuf = malloc(osize);
    if (ibuf == 0 || obuf == 0) {
	copy_err(err, errlen, "out of memory");
	goto done;
    }
    for (;;) {
	if ((n = ops->read(in, ibuf, CM_ENVELOPE_BUF_SIZE)) < 0) {
	    errno_err(err, errlen, "read error");
	    goto done;
	}
	if (n == 0)
	    break;
	if (cm_envelope_update(e, ibuf, (size_t) n, obuf, osize, &olen) < 0) {
	    copy_err(err, errlen, cm_envelope_error(e));
	    goto done;
	}
	if (ops->write(out, obuf, olen) < 0) {
	    errno_err(err, errlen, "write error");
	    goto done;
	}
    }
    if (cm_envelope_final(e, obuf, osize, &olen) < 0) {
	copy_err(err, errlen, cm_envelope_error(e));
	goto done;
    }
    if (ops->write(out, obuf, olen) < 0 || ops->flush(out) < 0) {
	errno_err(err, errlen, "write error");
	goto done;
    }
    if (d && cm_envelope_digests(e, d) < 0) {
	copy_err(err, errlen, "no digests");
	goto done;
    }
    ret = 0;

done:
    if (ibuf) {
	OPENSSL_cleanse(ibuf, CM_ENVELOPE_BUF_SIZE);
	free(ibuf);
    }
    if (obuf) {
	OPENSSL_cleanse(obuf, osize);
	free(obuf);
    }
    return (ret);
}

/* env_run - construct, pump, free */
static int env_run(int encrypt, const unsigned char *key, CM_ENVELOPE_ALG alg,
		           const ENV_IO_OPS *ops, ENV_IO *in, ENV_IO *out,
		           CM_ENVELOPE_DIGESTS *d, char *err, size_t errlen)
{
    CM_ENVELOPE *e;
    int     ret;

    e = (encrypt ? cm_envelope_encrypt_new(key, err, errlen)
	 : cm_envelope_decrypt_new(key, alg, err, errlen));
    if (e == 0)
	return (-1);
    ret = env_pump(e, ops, in, out, d, err, errlen);
    cm_envelope_free(e);
    return (ret);
}

/* cm_envelope_encrypt_file - plaintext stream to ENVELOPE payload */
int     cm_envelope_encrypt_file(FILE *in, FILE *out, const unsigned char *key,
				         CM_ENVELOPE_DIGESTS *d, char *err, size_t errlen)
{
    ENV_IO  i = {in, -1};
    ENV_IO  o = {out, -1};

    return (env_run(1, key, CM_ENVELOPE_AES256_GCM, &io_fp, &i, &o, d, err, errlen));
}

/* cm_envelope_decrypt_file - ENVELOPE payload stream to plaintext */
int     cm_envelope_decrypt_file(FILE *in, FILE *out, const unsigned char *key,
				         CM_ENVELOPE_ALG alg, CM_ENVELOPE_DIGESTS *d,
				         char *err, size_t errlen)
{
    ENV_IO  i = {in, -1};
    ENV_IO  o = {out, -1};

    return (env_run(0, key, alg, &io_fp, &i, &o, d, err, errlen));
}

/* cm_envelope_encrypt_fd - plaintext descriptor to ENVELOPE payload */
int     cm_envelope_encrypt_fd(int in, int out, const unsigned char *key,
			               CM_ENVELOPE_DIGESTS *d, char *err, size_t errlen)
{
    ENV_IO  i = {0, in};
    ENV_IO  o = {0, out};

    return (env_run(1, key, CM_ENVELOPE_AES256_GCM, &io_fd, &i, &o, d, err, errlen));
}

/* cm_envelope_decrypt_fd - ENVELOPE payload descriptor to plaintext */
int     cm_envelope_decrypt_fd(int in, int out, const unsigned char *key,
			               CM_ENVELOPE_ALG alg, CM_ENVELOPE_DIGESTS *d,
			               char *err, size_t errlen)
{
    ENV_IO  i = {0, in};
    ENV_IO  o = {0, out};

    return (env_run(0, key, alg, &io_fd, &i, &o, d, err, errlen));
}

/* cm_envelope_tmp_open - private temporary file next to path */
FILE   *cm_envelope_tmp_open(const char *path, char *tmp, size_t tmplen,
			             char *err, size_t errlen)
{
    FILE   *fp;
    int     fd;

    if (path == 0 || (size_t) snprintf(tmp, tmplen, "%s.XXXXXX", path) >= tmplen) {
	copy_err(err, errlen, "output file name too long");
	return (0);
    }
    /* mkstemp() creates the file with mode 0600. */
    if ((fd = mkstemp(tmp)) < 0) {
	errno_err(err, errlen, "cannot create a temporary file");
	return (0);
    }
    if ((fp = fdopen(fd, "wb")) == 0) {
	errno_err(err, errlen, "fdopen");
	close(fd);
	unlink(tmp);
	return (0);
    }
    return (fp);
}

/* cm_envelope_tmp_commit - rename into place when keep, else remove */
int     cm_envelope_tmp_commit(FILE *fp, const char *tmp, const char *path,
			               int keep, char *err, size_t errlen)
{
    int     ok = 1;

    if (keep && (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0)) {
	errno_err(err, errlen, "write error");
	ok = 0;
    }
    if (fclose(fp) != 0 && keep && ok) {
	errno_err(err, errlen, "write error");
	ok = 0;
    }
    if (keep && ok && rename(tmp, path) != 0) {
	errno_err(err, errlen, "rename");
	ok = 0;
    }
    if (!keep || !ok) {
	unlink(tmp);
	return (keep ? -1 : 0);
    }
    return (0);
}
