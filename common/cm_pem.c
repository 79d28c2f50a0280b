/*++
 * NAME
 *	cm_pem 3
 * SUMMARY
 *	PEM/DER certificate and key I/O through OpenSSL
 * DESCRIPTION
 *	See cm_pem.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "cm_limits.h"
#include "cm_log.h"
#include "cm_base64.h"
#include "cm_certcache.h"
#include "cm_pem.h"

/* pem_next_cert - the next PEM certificate in a BIO, through the cache */
static X509 *pem_next_cert(BIO *bio)
{
    unsigned char *der = 0;
    char   *name = 0;
    long    len = 0;
    X509   *cert = 0;

    /* The blocks PEM_read_X509() accepts: CERTIFICATE, X509 CERTIFICATE. */
    if (PEM_bytes_read_bio(&der, &len, &name, PEM_STRING_X509, bio, 0, 0) == 1 && len > 0)
	cert = cm_certcache_d2i(der, (size_t) len, 0);
    OPENSSL_free(der);
    OPENSSL_free(name);
    return (cert);
}

/* cm_pem_read_cert - first certificate in a PEM file */
X509   *cm_pem_read_cert(const char *path, char *err, size_t errlen)
{
    FILE   *fp;
    BIO    *bio;
    X509   *cert = 0;
    char    ebuf[256];

    if ((fp = fopen(path, "r")) == 0) {
	snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	return (0);
    }
    if ((bio = BIO_new_fp(fp, BIO_CLOSE)) == 0)
	fclose(fp);
    else
	cert = pem_next_cert(bio);
    BIO_free(bio);
    if (cert == 0)
	snprintf(err, errlen, "%s: no PEM certificate: %s", path, cm_ssl_errors(ebuf, sizeof(ebuf)));
    return (cert);
}

/* cm_pem_read_certs - every certificate in a PEM file (at least one) */
STACK_OF(X509) *cm_pem_read_certs(const char *path, char *err, size_t errlen)
{
    FILE   *fp;
    BIO    *bio;
    STACK_OF(X509) *sk;
    X509   *cert;

    if ((fp = fopen(path, "r")) == 0) {
	snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	return (0);
    }
    if ((bio = BIO_new_fp(fp, BIO_CLOSE)) == 0)
	fclose(fp);
    sk = sk_X509_new_null();
    while (bio && sk && (cert = pem_next_cert(bio)) != 0)
	if (!sk_X509_push(sk, cert))
	    X509_free(cert);
    BIO_free(bio);
    ERR_clear_error();			/* the EOF "no start line" */
    if (sk == 0 || sk_X509_num(sk) == 0) {
	snprintf(err, errlen, "%s: no PEM certificate", path);
	sk_X509_free(sk);
	return (0);
    }
    return (sk);
}

/* cm_pem_read_key - private key from an unencrypted PEM file */
EVP_PKEY *cm_pem_read_key(const char *path, char *err, size_t errlen)
{
    FILE   *fp;
    EVP_PKEY *key;
    char    ebuf[256];

    if ((fp = fopen(path, "r")) == 0) {
	snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	return (0);
    }
    key = PEM_read_PrivateKey(fp, 0, 0, 0);
    fclose(fp);
    if (key == 0)
	snprintf(err, errlen, "%s: no PEM private key: %s", path, cm_ssl_errors(ebuf, sizeof(ebuf)));
    return (key);
}

/* cm_cert_from_b64 - certificate from base64 DER */
X509   *cm_cert_from_b64(const char *b64, size_t len)
{
    unsigned char *der;
    size_t  der_len;
    X509   *cert;

    if (len > CM_CERT_DER_MAX * 2)
	return (0);
    if ((der = cm_base64_decode(b64, len, &der_len)) == 0)
	return (0);
    if (der_len == 0 || der_len > CM_CERT_DER_MAX) {
	free(der);
	return (0);
    }
    /* Parsed once per process; trailing garbage is an error. */
    cert = cm_certcache_d2i(der, der_len, 1);
    free(der);
    return (cert);
}

/* cm_cert_to_b64 - base64 DER of a certificate */
char   *cm_cert_to_b64(X509 *cert, size_t line_len)
{
    unsigned char *der = 0;
    int     len;
    char   *b64;

    if ((len = i2d_X509(cert, &der)) <= 0)
	return (0);
    b64 = cm_base64_encode(der, (size_t) len, line_len);
    OPENSSL_free(der);
    return (b64);
}

/* cm_write_file_atomic - write a file whole or not at all */
int     cm_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
    char    tmp[4096];
    int     fd;
    const char *p = data;
    size_t  left = len;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid()) >= (int) sizeof(tmp))
	return (-1);
    (void) unlink(tmp);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
	return (-1);
    if (fchmod(fd, (mode_t) mode) < 0)
	goto fail;
    while (left > 0) {
	ssize_t n = write(fd, p, left);

	if (n < 0 && errno == EINTR)
	    continue;
	if (n <= 0)
	    goto fail;
	p += n;
	left -= (size_t) n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
	fd = -1;
	goto fail;
    }
    if (rename(tmp, path) < 0) {
	unlink(tmp);
	return (-1);
    }
    return (0);
fail:
    if (fd >= 0)
	close(fd);
    unlink(tmp);
    return (-1);
}

/* write_bio_file - BIO contents to a file, atomically */
static int write_bio_file(const char *path, BIO *bio, int mode)
{
    char   *data;
    long    len = BIO_get_mem_data(bio, &data);

    return (len < 0 ? -1 : cm_write_file_atomic(path, data, (size_t) len, mode));
}

/* cm_pem_write_cert - certificate to a PEM file, mode 0644 */
int     cm_pem_write_cert(const char *path, X509 *cert)
{
    BIO    *bio = BIO_new(BIO_s_mem());
    int     ret = -1;

    if (bio && PEM_write_bio_X509(bio, cert))
	ret = write_bio_file(path, bio, 0644);
    BIO_free(bio);
    return (ret);
}

/* cm_pem_write_key - private key to a PEM file, mode 0600 */
int     cm_pem_write_key(const char *path, EVP_PKEY *key)
{
    BIO    *bio = BIO_new(BIO_s_mem());
    int     ret = -1;

    if (bio && PEM_write_bio_PrivateKey(bio, key, 0, 0, 0, 0, 0))
	ret = write_bio_file(path, bio, 0600);
    BIO_free(bio);
    return (ret);
}
