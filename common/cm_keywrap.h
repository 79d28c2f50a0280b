#ifndef CM_KEYWRAP_H
#define CM_KEYWRAP_H
/*++
 * NAME
 *	cm_keywrap 3h
 * SUMMARY
 *	CipherEnvelopeKey: RSCK wrapped with RSA-OAEP (SHA-256)
 * SYNOPSIS
 *	#include "cm_keywrap.h"
 *
 *	char	*cm_keywrap_wrap(EVP_PKEY *pub, const unsigned char *rsck,
 *				char *err, size_t errlen);
 *	char	*cm_keywrap_wrap_cert(X509 *cert, const unsigned char *rsck,
 *				char *err, size_t errlen);
 *	int	cm_keywrap_unwrap(EVP_PKEY *priv, const char *ciphered_key,
 *				const char *b64, size_t b64_len,
 *				unsigned char *rsck,
 *				char *err, size_t errlen);
 *	int	cm_keywrap_key_ok(EVP_PKEY *key, char *err, size_t errlen);
 * DESCRIPTION
 *	PROFILE.md section 4: the 32-byte message key RSCK is encrypted
 *	to each recipient's certificate public key with RSA-OAEP, hash
 *	SHA-256, MGF1 with SHA-256, empty label (CipheredKey="RSA-OAEP",
 *	KeySize="256"), and carried as base64.
 *
 *	cm_keywrap_wrap() returns the wrapped key as malloc()ed base64
 *	text on one line, or NULL with a reason in err.
 *	cm_keywrap_wrap_cert() does the same with a certificate's key
 *	(the caller has validated the certificate; see cm_cert).
 *
 *	cm_keywrap_unwrap() decodes b64 (whitespace ignored, at most
 *	CM_KEYWRAP_B64_MAX characters), decrypts with the private key
 *	and puts exactly 32 bytes in rsck; it returns 0, or -1 with a
 *	reason in err. ciphered_key is the CipheredKey attribute:
 *	"RSA-OAEP" (our choice) or "RSA" (PKCS#1 v1.5, accepted on input
 *	for compatibility). Any result that is not 32 bytes is refused.
 *	On failure rsck is zeroed, and the reason does not say whether
 *	padding or length was wrong.
 *
 *	PKCS#1 v1.5 and Bleichenbacher: with OpenSSL 3.2 or later the
 *	provider's implicit rejection is requested explicitly (a bad
 *	padding yields a pseudo-random message, which then fails the
 *	32-byte length check or the challenge). OpenSSL 3.0 checks the
 *	padding in constant time but reports the failure; that is
 *	acceptable here because only the recipient's own client unwraps,
 *	on a notice its server signed, so no stranger gets an oracle.
 *
 *	cm_keywrap_key_ok() accepts only RSA keys (not RSA-PSS, EC, ...)
 *	of CM_KEYWRAP_MIN_BITS to CM_KEYWRAP_MAX_BITS bits; wrap and
 *	unwrap call it first. It returns 0, or -1 with a reason in err.
 *--*/
#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define CM_KEYWRAP_OAEP		"RSA-OAEP"
#define CM_KEYWRAP_PKCS1	"RSA"
#define CM_KEYWRAP_KEY_LEN	32
#define CM_KEYWRAP_MIN_BITS	2048
#define CM_KEYWRAP_MAX_BITS	16384
#define CM_KEYWRAP_B64_MAX	8192	/* 16384-bit key: 2732 chars */

extern int cm_keywrap_key_ok(EVP_PKEY *key, char *err, size_t errlen);
extern char *cm_keywrap_wrap(EVP_PKEY *pub, const unsigned char *rsck,
			             char *err, size_t errlen);
extern char *cm_keywrap_wrap_cert(X509 *cert, const unsigned char *rsck,
				          char *err, size_t errlen);
extern int cm_keywrap_unwrap(EVP_PKEY *priv, const char *ciphered_key,
			             const char *b64, size_t b64_len,
			             unsigned char *rsck, char *err, size_t errlen);

#endif
