#ifndef CM_HEADERS_H
#define CM_HEADERS_H
/*++
 * NAME
 *	cm_headers 3h
 * SUMMARY
 *	the clear header section of an ENVELOPE or a stored form
 * SYNOPSIS
 *	#include "cm_headers.h"
 *
 *	int	cm_headers_read(FILE *fp, CM_HEADERS *h, char *err, size_t errlen);
 *	const char *cm_headers_get(const CM_HEADERS *h, const char *name);
 *	void	cm_headers_free(CM_HEADERS *h);
 * DESCRIPTION
 *	cm_headers_read() reads an RFC 5322 header section from fp up to
 *	and including the empty line, unfolds continuation lines and keeps
 *	every field (name and value, value with leading blanks removed).
 *	Limits: CM_HEADERS_MAX fields, CM_HEADER_MAX bytes per unfolded
 *	field, CM_LINE_MAX per physical line; a NUL, a bare CR, a line
 *	without a colon, or end of file before the empty line is an error.
 *	fp is left at the first body byte.
 *
 *	cm_headers_get() returns the first field of that name (case-
 *	insensitive), or NULL. The values never contain CR or LF, so they
 *	can be copied into another message without header injection.
 *--*/
#include <stdio.h>
#include <stddef.h>

#define CM_HEADERS_MAX	200
#define CM_HEADER_MAX	8192

typedef struct {
    size_t  n;
    char   *name[CM_HEADERS_MAX];
    char   *value[CM_HEADERS_MAX];
} CM_HEADERS;

extern int cm_headers_read(FILE *fp, CM_HEADERS *h, char *err, size_t errlen);
extern const char *cm_headers_get(const CM_HEADERS *h, const char *name);
extern void cm_headers_free(CM_HEADERS *h);

#endif
