/*++
 * NAME
 *	cm_headers 3
 * SUMMARY
 *	bounded RFC 5322 header section reader
 * DESCRIPTION
 *	See cm_headers.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cm_limits.h"
#include "cm_headers.h"

/* hdr_add - store one unfolded field */
static int hdr_add(CM_HEADERS *h, const char *field, char *err, size_t errlen)
{
    const char *colon = strchr(field, ':');
    const char *v;
    size_t  i;

    if (colon == 0 || colon == field) {
	snprintf(err, errlen, "header line without a field name");
	return (-1);
    }
    for (i = 0; field + i < colon; i++) {
	unsigned char c = (unsigned char) field[i];

	if (c <= 32 || c >= 127) {
	    snprintf(err, errlen, "bad character in header field name");
	    return (-1);
	}
    }
    if (h->n >= CM_HEADERS_MAX) {
	snprintf(err, errlen, "more than %d header fields", CM_HEADERS_MAX);
	return (-1);
    }
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
	 /* void */ ;
    if ((h->name[h->n] = strndup(field, (size_t) (colon - field))) == 0
	|| (h->value[h->n] = strdup(v)) == 0) {
	free(h->name[h->n]);
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    h->n++;
    return (0);
}

/* cm_headers_read - header section up to the empty line */
int     cm_headers_read(FILE *fp, CM_HEADERS *h, char *err, size_t errlen)
{
    char    line[CM_LINE_MAX + 2];
    char   *field = malloc(CM_HEADER_MAX + 1);
    size_t  flen = 0;
    int     have = 0;

    memset(h, 0, sizeof(*h));
    if (field == 0) {
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    for (;;) {
	size_t  n;
	int     c;

	n = 0;
	while ((c = getc(fp)) != EOF && c != '\n') {
	    if (c == 0 || n >= CM_LINE_MAX) {
		snprintf(err, errlen, c == 0 ? "NUL in header" : "header line too long");
		goto fail;
	    }
	    line[n++] = (char) c;
	}
	if (c == EOF) {
	    snprintf(err, errlen, "end of message in the header section");
	    goto fail;
	}
	if (n > 0 && line[n - 1] == '\r')
	    n--;
	line[n] = 0;
	if (memchr(line, '\r', n)) {
	    snprintf(err, errlen, "bare CR in header");
	    goto fail;
	}
	if (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
	    if (!have) {
		snprintf(err, errlen, "continuation line before the first header");
		goto fail;
	    }
	    if (flen + n > CM_HEADER_MAX) {
		snprintf(err, errlen, "header field longer than %d bytes", CM_HEADER_MAX);
		goto fail;
	    }
	    memcpy(field + flen, line, n);
	    flen += n;
	    continue;
	}
	if (have) {
	    field[flen] = 0;
	    if (hdr_add(h, field, err, errlen) < 0)
		goto fail;
	    have = 0;
	}
	if (n == 0)
	    break;
	memcpy(field, line, n);
	flen = n;
	have = 1;
    }
    free(field);
    return (0);
fail:
    free(field);
    cm_headers_free(h);
    return (-1);
}

/* cm_headers_get - first field of a name */
const char *cm_headers_get(const CM_HEADERS *h, const char *name)
{
    size_t  i;

    for (i = 0; i < h->n; i++)
	if (strcasecmp(h->name[i], name) == 0)
	    return (h->value[i]);
    return (0);
}

/* cm_headers_free - release */
void    cm_headers_free(CM_HEADERS *h)
{
    size_t  i;

    for (i = 0; i < h->n; i++) {
	free(h->name[i]);
	free(h->value[i]);
    }
    h->n = 0;
}
