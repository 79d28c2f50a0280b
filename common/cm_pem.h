#ifndef CM_PEM_H
#define CM_PEM_H
/*++
 * NAME
 *	cm_pem 3h
 * SUMMARY
 *	certificates and keys from PEM files and base64 DER text
 * SYNOPSIS
 *	#include "cm_pem.h"
 *
 *	X509	*cm_pem_read_cert(const char *path, char *err, size_t errlen);
 *	STACK_OF(X509) *cm_pem_read_certs(const char *path, char *err, size_t errlen);
 *	EVP_PKEY *cm_pem_read_key(const char *path, char *err, size_t errlen);
 *	X509	*cm_cert_from_b64(const char *b64, size_t len);
 *	char	*cm_cert_to_b64(X509 *cert, size_t line_len);
 *	int	cm_pem_write_cert(const char *path, X509 *cert);
 *	int	cm_pem_write_key(const char *path, EVP_PKEY *key);
 * DESCRIPTION
 *	Thin wrappers around OpenSSL's PEM and DER codecs. Readers put a
 *	one-line reason in err on failure. cm_cert_from_b64() accepts
 *	base64 DER (whitespace ignored, CM_CERT_DER_MAX bytes at most) as
 *	X.1341 carries certificates. Certificates are parsed through
 *	cm_certcache_d2i(): the same bytes read again in one process give
 *	(a new reference to) the same read-only X509 object, without
 *	parsing them again. cm_pem_write_key() creates the file
 *	with mode 0600 (atomically: temporary file, fsync, rename).
 *--*/
#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

extern X509 *cm_pem_read_cert(const char *path, char *err, size_t errlen);
extern STACK_OF(X509) *cm_pem_read_certs(const char *path, char *err, size_t errlen);
extern EVP_PKEY *cm_pem_read_key(const char *path, char *err, size_t errlen);
extern X509 *cm_cert_from_b64(const char *b64, size_t len);
extern char *cm_cert_to_b64(X509 *cert, size_t line_len);
extern int cm_pem_write_cert(const char *path, X509 *cert);
extern int cm_pem_write_key(const char *path, EVP_PKEY *key);
extern int cm_write_file_atomic(const char *path, const void *data, size_t len, int mode);

#endif
