/*++
 * NAME
 *	cm_keywrap 3
 * SUMMARY
 *	RSA-OAEP-SHA256 wrap and unwrap of the ENVELOPE key
 * DESCRIPTION
 *	See cm_keywrap.h. OpenSSL's EVP_PKEY_encrypt/decrypt do the work.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "cm_log.h"
#include "cm_base64.h"
#include "cm_keywrap.h"

/* kw_err - formatted reason into a caller's buffer */
static void __attribute__((format(printf, 3, 4))) kw_err(char *err, size_t errlen,
							          const char *fmt,...)
{
    va_list ap;

    if (err == 0 || errlen == 0)
	return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* cm_keywrap_key_ok - RSA of a sane size only */
int     cm_keywrap_key_ok(EVP_PKEY *key, char *err, size_t errlen)
{
    int     bits;

    if (key == 0) {
	kw_err(err, errlen, "no key");
	return (-1);
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
	kw_err(err, errlen, "key type %s cannot wrap the message key: an RSA key is required",
	       EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown");
	return (-1);
    }
    bits = EVP_PKEY_get_bits(key);
    if (bits < CM_KEYWRAP_MIN_BITS) {
	kw_err(err, errlen, "RSA key of %d bits is too small (at least %d required)",
	       bits, CM_KEYWRAP_MIN_BITS);
	return (-1);
    }
    if (bits > CM_KEYWRAP_MAX_BITS) {
	kw_err(err, errlen, "RSA key of %d bits is too large (at most %d)",
	       bits, CM_KEYWRAP_MAX_BITS);
	return (-1);
    }
    return (0);
}

/* kw_oaep - select OAEP with SHA-256 and MGF1-SHA-256 */
static int kw_oaep(EVP_PKEY_CTX *ctx)
{
    return (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0
	    && EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0
	    && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0);
}

/* kw_pkcs1 - select PKCS#1 v1.5, with implicit rejection when offered */
static int kw_pkcs1(EVP_PKEY_CTX *ctx)
{
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
	return (0);
#ifdef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
    {
	unsigned int on = 1;
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, &on);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_set_params(ctx, params) <= 0)
	    return (0);
    }
#endif
    return (1);
}

/* cm_keywrap_wrap - RSA-OAEP encrypt RSCK, base64 */
char   *cm_keywrap_wrap(EVP_PKEY *pub, const unsigned char *rsck,
			        char *err, size_t errlen)
{
    EVP_PKEY_CTX *ctx = 0;
    unsigned char *out = 0;
    size_t  out_len = 0;
    char   *b64 = 0;
    char    ebuf[256];

    if (cm_keywrap_key_ok(pub, err, errlen) < 0)
	return (0);
    if ((ctx = EVP_PKEY_CTX_new_from_pkey(0, pub, 0)) == 0
	|| EVP_PKEY_encrypt_init(ctx) <= 0
	|| !kw_oaep(ctx)
	|| EVP_PKEY_encrypt(ctx, 0, &out_len, rsck, CM_KEYWRAP_KEY_LEN) <= 0
	|| (out = malloc(out_len)) == 0
	|| EVP_PKEY_encrypt(ctx, out, &out_len, rsck, CM_KEYWRAP_KEY_LEN) <= 0) {
	kw_err(err, errlen, "RSA-OAEP key wrap failed: %s",
	       cm_ssl_errors(ebuf, sizeof(ebuf)));
	goto done;
    }
    if ((b64 = cm_base64_encode(out, out_len, 0)) == 0)
	kw_err(err, errlen, "out of memory");

done:
    EVP_PKEY_CTX_free(ctx);
    free(out);
    return (b64);
}

/* cm_keywrap_wrap_cert - wrap RSCK to a certificate's public key */
char   *cm_keywrap_wrap_cert(X509 *cert, const unsigned char *rsck,
			             char *err, size_t errlen)
{
    EVP_PKEY *pub;

    if (cert == 0 || (pub = X509_get0_pubkey(cert)) == 0) {
	kw_err(err, errlen, "certificate has no usable public key");
	ERR_clear_error();
	return (0);
    }
    return (cm_keywrap_wrap(pub, rsck, err, errlen));
}

/* cm_keywrap_unwrap - base64 CipherEnvelopeKey to RSCK */
int     cm_keywrap_unwrap(EVP_PKEY *priv, const char *ciphered_key,
			          const char *b64, size_t b64_len,
			          unsigned char *rsck, char *err, size_t errlen)
{
    EVP_PKEY_CTX *ctx = 0;
    unsigned char *in = 0;
    size_t  in_len = 0;
    unsigned char *out = 0;
    size_t  out_size = 0;
    size_t  out_len = 0;
    int     oaep;
    int     ok;
    int     ret = -1;

    memset(rsck, 0, CM_KEYWRAP_KEY_LEN);
    if (ciphered_key == 0)
	ciphered_key = "";
    if (strcmp(ciphered_key, CM_KEYWRAP_OAEP) == 0) {
	oaep = 1;
    } else if (strcmp(ciphered_key, CM_KEYWRAP_PKCS1) == 0) {
	oaep = 0;
    } else {
	kw_err(err, errlen, "unsupported CipheredKey algorithm \"%.40s\"", ciphered_key);
	return (-1);
    }
    if (cm_keywrap_key_ok(priv, err, errlen) < 0)
	return (-1);
    if (b64 == 0 || b64_len > CM_KEYWRAP_B64_MAX) {
	kw_err(err, errlen, "CipherEnvelopeKey missing or longer than %d characters",
	       CM_KEYWRAP_B64_MAX);
	return (-1);
    }
    if ((in = cm_base64_decode(b64, b64_len, &in_len)) == 0) {
	kw_err(err, errlen, "CipherEnvelopeKey is not valid base64");
	return (-1);
    }
    if (in_len != (size_t) EVP_PKEY_get_size(priv)) {
	kw_err(err, errlen, "CipherEnvelopeKey has %zu bytes, the RSA key needs %d",
	       in_len, EVP_PKEY_get_size(priv));
	goto done;
    }
    if ((ctx = EVP_PKEY_CTX_new_from_pkey(0, priv, 0)) == 0
	|| EVP_PKEY_decrypt_init(ctx) <= 0
	|| !(oaep ? kw_oaep(ctx) : kw_pkcs1(ctx))
	|| EVP_PKEY_decrypt(ctx, 0, &out_size, in, in_len) <= 0
	|| (out = malloc(out_size)) == 0) {
	kw_err(err, errlen, "cannot set up %s key unwrap", ciphered_key);
	goto done;
    }
    out_len = out_size;
    ok = EVP_PKEY_decrypt(ctx, out, &out_len, in, in_len) > 0;
    /* One reason for bad padding, wrong key and wrong length. */
    if (!ok || out_len != CM_KEYWRAP_KEY_LEN) {
	kw_err(err, errlen, "cannot unwrap the message key (%s): wrong key or damaged data",
	       ciphered_key);
	goto done;
    }
    memcpy(rsck, out, CM_KEYWRAP_KEY_LEN);
    ret = 0;

done:
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
    if (out) {
	OPENSSL_cleanse(out, out_size);
	free(out);
    }
    free(in);
    return (ret);
}
