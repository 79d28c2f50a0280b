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
#include <dirent.h>
#include <sys/stat.h>

#include "cm_limits.h"
#include "cm_addr.h"
#include "cm_pem.h"
#include "cm_certcache.h"
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

/* cm_certdir_preload - parse the directory's certificates into the cache */
int     cm_certdir_preload(const char *dir, int max, char *err, size_t errlen)
{
    DIR    *dp;
    struct dirent *de;
    struct stat stb;
    char    path[4096];
    char    addr[CM_ADDRESS_MAX + 1];
    char    why[256];
    size_t  nlen;
    int     seen = 0, loaded = 0;
    X509   *cert;

    if (max <= 0 || max > CM_CERTCACHE_MAX / 2)
	max = CM_CERTCACHE_MAX / 2;
    if ((dp = opendir(dir)) == 0) {
	snprintf(err, errlen, "certificate directory %s: %s", dir, strerror(errno));
	return (-1);
    }
    while (loaded < max && seen < 4 * CM_CERTCACHE_MAX && (de = readdir(dp)) != 0) {
	seen++;
	nlen = strlen(de->d_name);
	if (de->d_name[0] == '.' || nlen <= 4 || nlen - 4 > CM_ADDRESS_MAX
	    || strcmp(de->d_name + nlen - 4, ".pem") != 0)
	    continue;
	snprintf(addr, sizeof(addr), "%.*s", (int) (nlen - 4), de->d_name);
	if (!cm_addr_valid(addr)
	    || snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int) sizeof(path)
	    || stat(path, &stb) < 0 || !S_ISREG(stb.st_mode) || stb.st_size > 4 * CM_CERT_DER_MAX)
	    continue;
	/* The cache keeps its own reference; a bad file is the lookup's to report. */
	if ((cert = cm_pem_read_cert(path, why, sizeof(why))) != 0) {
	    X509_free(cert);
	    loaded++;
	}
    }
    closedir(dp);
    return (loaded);
}
