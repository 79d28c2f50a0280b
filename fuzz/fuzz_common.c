/*++
 * NAME
 *	fuzz_common 3
 * SUMMARY
 *	helpers shared by the libFuzzer targets
 * DESCRIPTION
 *	See fuzz_common.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>

#include "cm_log.h"
#include "cm_xml.h"
#include "fuzz_common.h"

/* fuzz_init - quiet logging, libxml2 and xmlsec1 ready */
void    fuzz_init(const char *name)
{
    cm_log_init(name, 0);
    cm_log_quiet(1);
    if (cm_xml_init() < 0)
	abort();
}

/* fuzz_memfd - a memory file holding data, at offset 0 */
int     fuzz_memfd(const uint8_t *data, size_t size)
{
    int     fd = memfd_create("fuzz", MFD_CLOEXEC);
    size_t  done = 0;

    if (fd < 0)
	abort();
    while (done < size) {
	ssize_t n = write(fd, data + done, size - done);

	if (n <= 0)
	    abort();
	done += (size_t) n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0)
	abort();
    return (fd);
}

/* fuzz_file - a stdio stream reading data */
FILE   *fuzz_file(const uint8_t *data, size_t size)
{
    FILE   *fp = fdopen(fuzz_memfd(data, size), "r+");

    if (fp == 0)
	abort();
    return (fp);
}

/* fuzz_strdup - data as a NUL-terminated string */
char   *fuzz_strdup(const uint8_t *data, size_t size)
{
    char   *s = malloc(size + 1);

    if (s == 0)
	abort();
    if (size)
	memcpy(s, data, size);
    s[size] = 0;
    return (s);
}

/* fuzz_pki - path of a file of the test PKI, NULL without one */
const char *fuzz_pki(const char *file)
{
    static char buf[4096];
    const char *dir = getenv("CMAIL_FUZZ_PKI");

    if (dir == 0 || *dir == 0)
	return (0);
    if ((size_t) snprintf(buf, sizeof(buf), "%s/%s", dir, file) >= sizeof(buf))
	abort();
    return (buf);
}

/* fuzz_trust - the test PKI's anchors and CRL, loaded once */
CM_TRUST *fuzz_trust(void)
{
    static CM_TRUST *trust;
    static int done;
    char    ca[4096], crl[4096], err[512];

    if (done)
	return (trust);
    done = 1;
    if (fuzz_pki("ca.pem") == 0)
	return (0);
    snprintf(ca, sizeof(ca), "%s", fuzz_pki("ca.pem"));
    snprintf(crl, sizeof(crl), "%s", fuzz_pki("crl.pem"));
    if ((trust = cm_trust_load(ca, crl, err, sizeof(err))) == 0) {
	fprintf(stderr, "fuzz: test trust: %s\n", err);
	abort();
    }
    return (trust);
}

/* fuzz_devnull - a descriptor on /dev/null, opened once */
int     fuzz_devnull(void)
{
    static int fd = -1;

    if (fd < 0 && (fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
	abort();
    return (fd);
}
