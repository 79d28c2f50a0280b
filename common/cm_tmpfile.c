/*++
 * NAME
 *	cm_tmpfile 3
 * SUMMARY
 *	unnamed temporary files in a spool directory
 * DESCRIPTION
 *	See cm_tmpfile.h. cmtpd, cmail-relay and cmail-milter keep the
 *	plaintext and the stored forms they handle in these files only.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cm_tmpfile.h"

/* cm_tmpfile - an empty unnamed file in dir */
FILE   *cm_tmpfile(const char *dir, char *err, size_t errlen)
{
    char    path[4096];
    int     fd;
    FILE   *fp;

    if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0) {
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
	    snprintf(err, errlen, "create an unnamed file in %s: %s", dir, strerror(errno));
	    return (0);
	}
	/* A kill between these two calls would leave the file behind. */
	if ((size_t) snprintf(path, sizeof(path), "%s/tmp.XXXXXX", dir) >= sizeof(path)) {
	    snprintf(err, errlen, "%s: directory name too long", dir);
	    return (0);
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
	    snprintf(err, errlen, "create %s: %s", path, strerror(errno));
	    return (0);
	}
	if (unlink(path) < 0) {
	    snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
	    close(fd);
	    return (0);
	}
    }
    if ((fp = fdopen(fd, "w+")) == 0) {
	snprintf(err, errlen, "fdopen: %s", strerror(errno));
	close(fd);
    }
    return (fp);
}
