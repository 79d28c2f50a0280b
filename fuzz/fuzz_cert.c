/*++
 * NAME
 *	fuzz_cert 1
 * SUMMARY
 *	libFuzzer target: base64, PEM/DER certificate loading, validation
 * DESCRIPTION
 *	The first input byte selects the path, the rest is the data:
 * .IP 0
 *	cm_base64_decode(); what decodes must encode back to an equivalent
 *	text (cm_base64_encode() then decode gives the same bytes).
 * .IP 1
 *	cm_cert_from_b64() (base64 DER, as X.1341 carries certificates:
 *	MAIL/RCPT CertificateRequested replies, notices' Certificate).
 * .IP 2
 *	cm_pem_read_cert() and cm_pem_read_certs() on the data as a file
 *	(a PEM file, or DER).
 * .IP 3
 *	cm_trust_load() with the data as the anchors file and as the CRL
 *	file (next to the test PKI's CA).
 * .PP
 *	Every certificate that loads is validated with cm_cert_check()
 *	against the fixed test trust as a client (S/MIME) and as a server
 *	certificate, for an address, and converted back to base64.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/x509.h>

#include "cm_base64.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "fuzz_common.h"

/* LLVMFuzzerInitialize - logging, trust */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init("fuzz_cert");
    (void) fuzz_trust();
    return (0);
}

/* check - run the validation rules on a certificate */
static void check(X509 *cert)
{
    CM_CERT_OPTS opts;
    CM_CERT_REPORT *rep;
    char    err[512];
    char   *b64;

    if ((rep = calloc(1, sizeof(*rep))) == 0)
	abort();
    memset(&opts, 0, sizeof(opts));
    opts.role = CM_ROLE_CLIENT;
    opts.purpose = CM_PURPOSE_SMIME;
    opts.usage = CM_USE_SIGN | CM_USE_ENCIPHER;
    opts.addresses[0] = "alice@example.org";
    opts.n_addresses = 1;
    (void) cm_cert_check(fuzz_trust(), cert, &opts, rep);
    opts.role = CM_ROLE_SERVER;
    opts.purpose = CM_PURPOSE_SERVER;
    opts.usage = CM_USE_SIGN;
    opts.n_addresses = 0;
    (void) cm_cert_validate(fuzz_trust(), cert, &opts, err, sizeof(err));
    free(rep);
    if ((b64 = cm_cert_to_b64(cert, 64)) != 0)
	free(b64);
}

/* path_of - the /proc path of a descriptor */
static void path_of(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* LLVMFuzzerTestOneInput - one input */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *bin, *again;
    size_t  len, len2;
    char   *text, *enc;
    X509   *cert;
    STACK_OF(X509) *certs;
    char    path[64], err[512];
    int     fd;

    if (size < 1)
	return (0);
    switch (data[0] & 3) {
    case 0:
	text = fuzz_strdup(data + 1, size - 1);
	if ((bin = cm_base64_decode(text, size - 1, &len)) != 0) {
	    if ((enc = cm_base64_encode(bin, len, (data[0] & 4) ? 76 : 0)) == 0)
		abort();
	    if ((again = cm_base64_decode(enc, strlen(enc), &len2)) == 0
		|| len2 != len || memcmp(again, bin, len) != 0)
		abort();			/* the codec does not round-trip */
	    free(again);
	    free(enc);
	    free(bin);
	}
	free(text);
	break;
    case 1:
	text = fuzz_strdup(data + 1, size - 1);
	if ((cert = cm_cert_from_b64(text, size - 1)) != 0) {
	    check(cert);
	    X509_free(cert);
	}
	free(text);
	break;
    case 2:
	fd = fuzz_memfd(data + 1, size - 1);
	path_of(fd, path, sizeof(path));
	if ((cert = cm_pem_read_cert(path, err, sizeof(err))) != 0) {
	    check(cert);
	    X509_free(cert);
	}
	if ((certs = cm_pem_read_certs(path, err, sizeof(err))) != 0)
	    sk_X509_pop_free(certs, X509_free);
	close(fd);
	break;
    case 3:{
	    CM_TRUST *t;
	    const char *ca = fuzz_pki("ca.pem");
	    char    cabuf[4096];

	    fd = fuzz_memfd(data + 1, size - 1);
	    path_of(fd, path, sizeof(path));
	    if ((t = cm_trust_load(path, 0, err, sizeof(err))) != 0)
		cm_trust_free(t);
	    if (ca) {
		snprintf(cabuf, sizeof(cabuf), "%s", ca);
		if ((t = cm_trust_load(cabuf, path, err, sizeof(err))) != 0) {
		    X509   *user;
		    const char *up = fuzz_pki("users/alice@example.org.pem");

		    if (up && (user = cm_pem_read_cert(up, err, sizeof(err))) != 0) {
			CM_CERT_OPTS opts;

			memset(&opts, 0, sizeof(opts));
			opts.role = CM_ROLE_CLIENT;
			(void) cm_cert_validate(t, user, &opts, err, sizeof(err));
			X509_free(user);
		    }
		    cm_trust_free(t);
		}
	    }
	    close(fd);
	    break;
	}
    }
    return (0);
}
