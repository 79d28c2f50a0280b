/*++
 * NAME
 *	cm_tmpfile 3h
 * SUMMARY
 *	unnamed temporary files in a spool directory
 * SYNOPSIS
 *	#include "cm_tmpfile.h"
 *
 *	FILE	*cm_tmpfile(const char *dir, char *err, size_t errlen)
 * DESCRIPTION
 *	cm_tmpfile() opens an empty file in dir, read and write ("w+"),
 *	close-on-exec, mode 0600, that never has a name (O_TMPFILE): a
 *	process killed at any moment leaves nothing in dir. Only where the
 *	file system cannot do that (EOPNOTSUPP, EISDIR, EINVAL) it falls
 *	back to a named file (dir/tmp.XXXXXX) unlinked at once.
 *
 *	It returns the stream, or 0 with the reason in err.
 *--*/
#ifndef CM_TMPFILE_H
#define CM_TMPFILE_H

#include <stdio.h>

extern FILE *cm_tmpfile(const char *dir, char *err, size_t errlen);

#endif
