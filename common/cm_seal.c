/*++
 * NAME
 *	cm_seal 3
 * SUMMARY
 *	seal and unseal stored messages (AES-256-GCM, streaming)
 * DESCRIPTION
 *	See cm_seal.h for the format. OpenSSL's EVP AEAD interface does
 *	the cryptography; this file only frames it and moves bytes between
 *	descriptors with bounded waits.
 *--*/
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cm_limits.h"
#include "cm_seal.h"

/* seal_wait - wait until fd is ready for events; 0 ready, -1 timeout/error */
static int seal_wait(int fd, short events, int timeout_ms)
{
    struct pollfd pfd;
    int     n;

    if (timeout_ms <= 0)
	return (0);
    pfd.fd = fd;
    pfd.events = events;
    pfd.revents = 0;
    do {
	n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
	errno = ETIMEDOUT;
    return (n > 0 ? 0 : -1);
}

/* seal_read - read up to len bytes; bytes read, 0 at EOF, -1 on error */
static ssize_t seal_read(int fd, void *buf, size_t len, int timeout_ms)
{
    ssize_t n;

    for (;;) {
	if (seal_wait(fd, POLLIN, timeout_ms) < 0)
	    return (-1);
	n = read(fd, buf, len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
	    continue;
	return (n);
    }
}

/* seal_read_full - read exactly len bytes unless EOF; bytes read or -1 */
static ssize_t seal_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t  got = 0;
    ssize_t n;

    while (got < len) {
	if ((n = seal_read(fd, (char *) buf + got, len - got, timeout_ms)) < 0)
	    return (-1);
	if (n == 0)
	    break;
	got += (size_t) n;
    }
    return ((ssize_t) got);
}

/* seal_write - write all of buf; 0 or -1 */
static int seal_write(int fd, const void *buf, size_t len, int timeout_ms)
{
    const char *p = buf;
    ssize_t n;

    while (len > 0) {
	if (seal_wait(fd, POLLOUT, timeout_ms) < 0)
	    return (-1);
	n = write(fd, p, len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
	    continue;
	if (n <= 0)
	    return (-1);
	p += n;
	len -= (size_t) n;
    }
    return (0);
}

/* cm_seal_envelope_id_ok - [A-Za-z0-9._@-]{1,64} */
int     cm_seal_envelope_id_ok(const char *id)
{
    size_t  len;

    if (id == 0)
	return (0);
    len = strlen(id);
    return (len >= 1 && len <= CM_ENVELOPE_ID_MAX
	    && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._@-") == len);
}

/* seal_key_id - hex of the first 8 bytes of SHA-256(key) */
static int seal_key_id(CM_SEAL_KEY *key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    int     i;

    if (!EVP_Digest(key->key, CM_SEAL_KEY_LEN, md, &mdlen, EVP_sha256(), 0))
	return (-1);
    for (i = 0; i < CM_SEAL_KEY_ID_LEN / 2; i++)
	snprintf(key->key_id + 2 * i, 3, "%02x", md[i]);
    return (0);
}

/* seal_hexval - value of one hex digit, -1 if none */
static int seal_hexval(int c)
{
    if (c >= '0' && c <= '9')
	return (c - '0');
    if (c >= 'a' && c <= 'f')
	return (c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
	return (c - 'A' + 10);
    return (-1);
}

/* cm_seal_key_parse - 64 hex digits plus optional trailing white space */
int     cm_seal_key_parse(const char *text, size_t len, CM_SEAL_KEY *key,
			          char *err, size_t errlen)
{
    size_t  i;

    memset(key, 0, sizeof(*key));
    if (len < 2 * CM_SEAL_KEY_LEN) {
	snprintf(err, errlen, "seal key: expected %d hexadecimal digits", 2 * CM_SEAL_KEY_LEN);
	return (-1);
    }
    for (i = 0; i < CM_SEAL_KEY_LEN; i++) {
	int     hi = seal_hexval((unsigned char) text[2 * i]);
	int     lo = seal_hexval((unsigned char) text[2 * i + 1]);

	if (hi < 0 || lo < 0) {
	    cm_seal_key_clear(key);
	    snprintf(err, errlen, "seal key: expected %d hexadecimal digits", 2 * CM_SEAL_KEY_LEN);
	    return (-1);
	}
	key->key[i] = (unsigned char) (hi << 4 | lo);
    }
    for (i = 2 * CM_SEAL_KEY_LEN; i < len; i++) {
	if (!strchr(" \t\r\n", text[i]) || text[i] == 0) {
	    cm_seal_key_clear(key);
	    snprintf(err, errlen, "seal key: unexpected data after %d hexadecimal digits",
		     2 * CM_SEAL_KEY_LEN);
	    return (-1);
	}
    }
    if (seal_key_id(key) < 0) {
	cm_seal_key_clear(key);
	snprintf(err, errlen, "seal key: cannot compute the key id");
	return (-1);
    }
    return (0);
}

/* cm_seal_key_load - read a seal key file (no ownership/mode checks) */
int     cm_seal_key_load(const char *path, CM_SEAL_KEY *key, char *err, size_t errlen)
{
    char    buf[256];
    ssize_t n;
    int     fd;
    int     ret;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
	snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	return (-1);
    }
    n = seal_read_full(fd, buf, sizeof(buf), 0);
    close(fd);
    if (n < 0) {
	snprintf(err, errlen, "read %s: %s", path, strerror(errno));
	return (-1);
    }
    if ((size_t) n == sizeof(buf)) {
	OPENSSL_cleanse(buf, sizeof(buf));
	snprintf(err, errlen, "%s: seal key file too long", path);
	return (-1);
    }
    ret = cm_seal_key_parse(buf, (size_t) n, key, err, errlen);
    OPENSSL_cleanse(buf, sizeof(buf));
    return (ret);
}

/* cm_seal_key_generate - new random key in a new file, mode 0600 */
int     cm_seal_key_generate(const char *path, char *err, size_t errlen)
{
    unsigned char raw[CM_SEAL_KEY_LEN];
    char    text[2 * CM_SEAL_KEY_LEN + 2];
    int     fd;
    int     i;
    int     ret = -1;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
	snprintf(err, errlen, "RAND_bytes failed");
	return (-1);
    }
    for (i = 0; i < CM_SEAL_KEY_LEN; i++)
	snprintf(text + 2 * i, 3, "%02x", raw[i]);
    text[2 * CM_SEAL_KEY_LEN] = '\n';
    text[2 * CM_SEAL_KEY_LEN + 1] = 0;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
	snprintf(err, errlen, "create %s: %s", path, strerror(errno));
    } else if (fchmod(fd, 0600) < 0 || seal_write(fd, text, 2 * CM_SEAL_KEY_LEN + 1, 0) < 0
	       || fsync(fd) < 0) {
	snprintf(err, errlen, "write %s: %s", path, strerror(errno));
	close(fd);
	unlink(path);
    } else if (close(fd) < 0) {
	snprintf(err, errlen, "close %s: %s", path, strerror(errno));
	unlink(path);
    } else {
	ret = 0;
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));
    return (ret);
}

/* cm_seal_key_clear - wipe a key */
void    cm_seal_key_clear(CM_SEAL_KEY *key)
{
    OPENSSL_cleanse(key, sizeof(*key));
}

/* cm_seal_peek - parse the clear header; its length, 0 short, -1 bad */
ssize_t cm_seal_peek(const void *buf, size_t len, char key_id[CM_SEAL_KEY_ID_LEN + 1],
		             char envelope_id[CM_ENVELOPE_ID_MAX + 1])
{
    const unsigned char *p = buf;
    size_t  idlen;
    size_t  i;

    if (len < CM_SEAL_MAGIC_LEN)
	return (memcmp(p, CM_SEAL_MAGIC, len) == 0 ? 0 : -1);
    if (memcmp(p, CM_SEAL_MAGIC, CM_SEAL_MAGIC_LEN) != 0)
	return (-1);
    if (len < CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1)
	return (0);
    for (i = 0; i < CM_SEAL_KEY_ID_LEN; i++) {
	int     c = p[CM_SEAL_MAGIC_LEN + i];

	if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
	    return (-1);
	key_id[i] = (char) c;
    }
    key_id[CM_SEAL_KEY_ID_LEN] = 0;
    idlen = p[CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN];
    if (idlen < 1 || idlen > CM_ENVELOPE_ID_MAX)
	return (-1);
    if (len < CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1 + idlen + CM_SEAL_IV_LEN)
	return (0);
    memcpy(envelope_id, p + CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1, idlen);
    envelope_id[idlen] = 0;
    if (!cm_seal_envelope_id_ok(envelope_id))
	return (-1);
    return ((ssize_t) (CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1 + idlen + CM_SEAL_IV_LEN));
}

/* cm_seal_stream - plaintext from in_fd, sealed blob to out_fd */
int     cm_seal_stream(const CM_SEAL_KEY *key, const char *envelope_id,
		               int in_fd, int out_fd, int timeout_ms,
		               unsigned long long limit, CM_SEAL_STATS *stats,
		               char *err, size_t errlen)
{
    unsigned char hdr[CM_SEAL_HEADER_MAX];
    unsigned char tag[CM_SEAL_TAG_LEN];
    unsigned char *in = 0, *out = 0;
    EVP_CIPHER_CTX *ctx = 0;
    CM_SEAL_STATS st = {0, 0, 0};
    size_t  idlen, aadlen, hdrlen;
    ssize_t n;
    int     outl;
    int     ret = -1;

    if (!cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "seal: bad envelope id");
	return (-2);
    }
    idlen = strlen(envelope_id);
    memcpy(hdr, CM_SEAL_MAGIC, CM_SEAL_MAGIC_LEN);
    memcpy(hdr + CM_SEAL_MAGIC_LEN, key->key_id, CM_SEAL_KEY_ID_LEN);
    hdr[CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN] = (unsigned char) idlen;
    memcpy(hdr + CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1, envelope_id, idlen);
    aadlen = CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1 + idlen;
    hdrlen = aadlen + CM_SEAL_IV_LEN;
    if (RAND_bytes(hdr + aadlen, CM_SEAL_IV_LEN) != 1) {
	snprintf(err, errlen, "seal: RAND_bytes failed");
	return (-1);
    }
    if ((in = malloc(CM_SEAL_CHUNK)) == 0 || (out = malloc(CM_SEAL_CHUNK + 32)) == 0
	|| (ctx = EVP_CIPHER_CTX_new()) == 0) {
	snprintf(err, errlen, "seal: out of memory");
	goto done;
    }
    if (!EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), 0, 0, 0)
	|| !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CM_SEAL_IV_LEN, 0)
	|| !EVP_EncryptInit_ex(ctx, 0, 0, key->key, hdr + aadlen)
	|| !EVP_EncryptUpdate(ctx, 0, &outl, hdr, (int) aadlen)) {
	snprintf(err, errlen, "seal: cipher initialisation failed");
	goto done;
    }
    if (seal_write(out_fd, hdr, hdrlen, timeout_ms) < 0) {
	snprintf(err, errlen, "seal: write: %s", strerror(errno));
	goto done;
    }
    st.out_bytes += hdrlen;
    for (;;) {
	if ((n = seal_read(in_fd, in, CM_SEAL_CHUNK, timeout_ms)) < 0) {
	    snprintf(err, errlen, "seal: read: %s", strerror(errno));
	    goto done;
	}
	if (n == 0)
	    break;
	st.in_bytes += (unsigned long long) n;
	if (limit && st.in_bytes > limit) {
	    snprintf(err, errlen, "seal: input longer than %llu bytes", limit);
	    ret = -2;
	    goto done;
	}
	if (!EVP_EncryptUpdate(ctx, out, &outl, in, (int) n)) {
	    snprintf(err, errlen, "seal: encryption failed");
	    goto done;
	}
	if (outl > 0 && seal_write(out_fd, out, (size_t) outl, timeout_ms) < 0) {
	    snprintf(err, errlen, "seal: write: %s", strerror(errno));
	    goto done;
	}
	st.out_bytes += (unsigned long long) outl;
    }
    if (!EVP_EncryptFinal_ex(ctx, out, &outl)
	|| !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CM_SEAL_TAG_LEN, tag)) {
	snprintf(err, errlen, "seal: encryption failed");
	goto done;
    }
    if ((outl > 0 && seal_write(out_fd, out, (size_t) outl, timeout_ms) < 0)
	|| seal_write(out_fd, tag, CM_SEAL_TAG_LEN, timeout_ms) < 0) {
	snprintf(err, errlen, "seal: write: %s", strerror(errno));
	goto done;
    }
    st.out_bytes += (unsigned long long) outl + CM_SEAL_TAG_LEN;
    ret = 0;
done:
    if (stats)
	*stats = st;
    EVP_CIPHER_CTX_free(ctx);
    if (in) {
	OPENSSL_cleanse(in, CM_SEAL_CHUNK);
	free(in);
    }
    if (out) {
	OPENSSL_cleanse(out, CM_SEAL_CHUNK + 32);
	free(out);
    }
    return (ret);
}

/* cm_unseal_stream - sealed blob from in_fd, plaintext to out_fd */
int     cm_unseal_stream(const CM_SEAL_KEY *key, const char *envelope_id,
			         int in_fd, int out_fd, int timeout_ms,
			         unsigned long long limit, CM_SEAL_STATS *stats,
			         char *err, size_t errlen)
{
    return (cm_unseal_stream_ring(key, 1, envelope_id, in_fd, out_fd, timeout_ms, limit,
				  stats, err, errlen));
}

/* cm_unseal_stream_ring - the same, with the key the blob names among keys */
int     cm_unseal_stream_ring(const CM_SEAL_KEY *keys, size_t nkeys, const char *envelope_id,
			              int in_fd, int out_fd, int timeout_ms,
			              unsigned long long limit, CM_SEAL_STATS *stats,
			              char *err, size_t errlen)
{
    const CM_SEAL_KEY *key = 0;
    size_t  k;
    unsigned char hdr[CM_SEAL_HEADER_MAX];
    char    key_id[CM_SEAL_KEY_ID_LEN + 1];
    char    blob_id[CM_ENVELOPE_ID_MAX + 1];
    unsigned char *in = 0, *out = 0;
    EVP_CIPHER_CTX *ctx = 0;
    CM_SEAL_STATS st = {0, 0, 0};
    size_t  fixed = CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1;
    size_t  held = 0;			/* bytes at the start of in[] */
    size_t  idlen, aadlen;
    ssize_t n, hlen;
    int     outl;
    int     ret = -1;

    /* The clear header: fixed part, then the envelope id and IV. */
    if ((n = seal_read_full(in_fd, hdr, fixed, timeout_ms)) < 0) {
	snprintf(err, errlen, "unseal: read: %s", strerror(errno));
	return (-1);
    }
    st.in_bytes = (unsigned long long) n;
    if (cm_seal_peek(hdr, (size_t) n, key_id, blob_id) < 0 || (size_t) n < fixed) {
	snprintf(err, errlen, "unseal: not a sealed blob (bad or truncated header)");
	ret = -2;
	goto done;
    }
    idlen = hdr[fixed - 1];
    aadlen = fixed + idlen;
    if ((n = seal_read_full(in_fd, hdr + fixed, idlen + CM_SEAL_IV_LEN, timeout_ms)) < 0) {
	snprintf(err, errlen, "unseal: read: %s", strerror(errno));
	goto done;
    }
    st.in_bytes += (unsigned long long) n;
    if ((hlen = cm_seal_peek(hdr, fixed + (size_t) n, key_id, blob_id)) <= 0) {
	snprintf(err, errlen, "unseal: not a sealed blob (bad or truncated header)");
	ret = -2;
	goto done;
    }
    for (k = 0; k < nkeys && key == 0; k++)
	if (CRYPTO_memcmp(key_id, keys[k].key_id, CM_SEAL_KEY_ID_LEN) == 0) {
	    key = keys + k;
	    st.key_index = k;
	}
    if (key == 0) {
	snprintf(err, errlen, "unseal: sealed under key id %s, the seal key is %s%s",
		 key_id, nkeys ? keys[0].key_id : "none", nkeys > 1 ? " (previous keys differ too)" : "");
	ret = -2;
	goto done;
    }
    if (envelope_id && strcmp(envelope_id, blob_id) != 0) {
	snprintf(err, errlen, "unseal: sealed for envelope id %s, not %.64s",
		 blob_id, envelope_id);
	ret = -2;
	goto done;
    }
    if ((in = malloc(CM_SEAL_CHUNK + CM_SEAL_TAG_LEN)) == 0
	|| (out = malloc(CM_SEAL_CHUNK + CM_SEAL_TAG_LEN + 32)) == 0
	|| (ctx = EVP_CIPHER_CTX_new()) == 0) {
	snprintf(err, errlen, "unseal: out of memory");
	goto done;
    }
    if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), 0, 0, 0)
	|| !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CM_SEAL_IV_LEN, 0)
	|| !EVP_DecryptInit_ex(ctx, 0, 0, key->key, hdr + aadlen)
	|| !EVP_DecryptUpdate(ctx, 0, &outl, hdr, (int) aadlen)) {
	snprintf(err, errlen, "unseal: cipher initialisation failed");
	goto done;
    }

    /*
     * Stream, always holding back the last CM_SEAL_TAG_LEN bytes seen:
     * they are the tag once the input ends.
     */
    for (;;) {
	if ((n = seal_read(in_fd, in + held, CM_SEAL_CHUNK + CM_SEAL_TAG_LEN - held,
			   timeout_ms)) < 0) {
	    snprintf(err, errlen, "unseal: read: %s", strerror(errno));
	    goto done;
	}
	if (n == 0)
	    break;
	st.in_bytes += (unsigned long long) n;
	if (limit && st.in_bytes > limit) {
	    snprintf(err, errlen, "unseal: input longer than %llu bytes", limit);
	    ret = -2;
	    goto done;
	}
	held += (size_t) n;
	if (held > CM_SEAL_TAG_LEN) {
	    size_t  use = held - CM_SEAL_TAG_LEN;

	    if (!EVP_DecryptUpdate(ctx, out, &outl, in, (int) use)) {
		snprintf(err, errlen, "unseal: decryption failed");
		goto done;
	    }
	    if (outl > 0 && seal_write(out_fd, out, (size_t) outl, timeout_ms) < 0) {
		snprintf(err, errlen, "unseal: write: %s", strerror(errno));
		goto done;
	    }
	    st.out_bytes += (unsigned long long) outl;
	    memmove(in, in + use, CM_SEAL_TAG_LEN);
	    held = CM_SEAL_TAG_LEN;
	}
    }
    if (held < CM_SEAL_TAG_LEN) {
	snprintf(err, errlen, "unseal: truncated blob (no authentication tag)");
	ret = -2;
	goto done;
    }
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CM_SEAL_TAG_LEN, in)
	|| EVP_DecryptFinal_ex(ctx, out, &outl) <= 0) {
	snprintf(err, errlen, "unseal: authentication failed (blob edited, truncated or "
		 "sealed for another envelope)");
	ret = -2;
	goto done;
    }
    if (outl > 0 && seal_write(out_fd, out, (size_t) outl, timeout_ms) < 0) {
	snprintf(err, errlen, "unseal: write: %s", strerror(errno));
	goto done;
    }
    st.out_bytes += (unsigned long long) outl;
    ret = 0;
done:
    if (stats)
	*stats = st;
    EVP_CIPHER_CTX_free(ctx);
    if (in) {
	OPENSSL_cleanse(in, CM_SEAL_CHUNK + CM_SEAL_TAG_LEN);
	free(in);
    }
    if (out) {
	OPENSSL_cleanse(out, CM_SEAL_CHUNK + CM_SEAL_TAG_LEN + 32);
	free(out);
    }
    return (ret);
}
