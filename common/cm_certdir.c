/*++
 * NAME
 *	cm_certdir 3
 * SUMMARY
 *	look up a local user's certificate in the certificate directory
 * DESCRIPTION
 *	See cm_certdir.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <ctype.h>
#include <errno.h>
#include <unistd.h>

#include "cm_limits.h"
#include "cm_addr.h"
#include "cm_pem.h"
#include "cm_certdir.h"

/* cm_certdir_lookup - DIR/ADDRESS.pem */
X509   *cm_certdir_lookup(const char *dir, const char *addr, char *err, size_t errlen)
{
    char    path[4096];
    char    lower[CM_ADDRESS_MAX + 1];
    char   *at;

    if (!cm_addr_valid(addr)) {
	snprintf(err, errlen, "invalid address <%.64s>", addr);
	return (0);
    }
    snprintf(path, sizeof(path), "%s/%s.pem", dir, addr);
    if (access(path, R_OK) != 0) {
	snprintf(lower, sizeof(lower), "%s", addr);
	for (at = strrchr(lower, '@'); at && *at; at++)
	    *at = (char) tolower((unsigned char) *at);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, lower);
	if (access(path, R_OK) != 0) {
	    snprintf(err, errlen, "no certificate for <%s> in %s", addr, dir);
	    return (0);
	}
    }
    return (cm_pem_read_cert(path, err, errlen));
}
