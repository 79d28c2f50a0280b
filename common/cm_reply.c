/*++
 * NAME
 *	cm_reply 3
 * SUMMARY
 *	write and read SMTP-style replies, base64 objects as reply lines
 * DESCRIPTION
 *	See cm_reply.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <ctype.h>

#include "cm_limits.h"
#include "cm_base64.h"
#include "cm_reply.h"
#include <openssl/x509.h>

/* cm_reply - one final reply line, flushed */
int     cm_reply(CM_STREAM *st, int code, const char *fmt, ...)
{
    char    text[CM_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text) - 8, fmt, ap);
    va_end(ap);
    if (cm_stream_printf(st, "%03d %s\r\n", code, text) < 0)
	return (-1);
    return (cm_stream_flush(st));
}

/* cm_reply_object - label line then base64 lines, all continuation lines */
int     cm_reply_object(CM_STREAM *st, int code, const char *label,
			        const void *data, size_t len)
{
    char   *b64 = cm_base64_encode(data, len, CM_REPLY_B64_LINE);
    char   *p, *nl;
    int     ret = 0;

    if (b64 == 0)
	return (-1);
    if (cm_stream_printf(st, "%03d-%s\r\n", code, label) < 0)
	ret = -1;
    for (p = b64; ret == 0 && *p; p = nl + 1) {
	if ((nl = strchr(p, '\n')) == 0)
	    break;
	if (cm_stream_printf(st, "%03d-%.*s\r\n", code, (int) (nl - p), p) < 0)
	    ret = -1;
    }
    free(b64);
    return (ret);
}

/* cm_reply_read - one (multi-line) reply */
int     cm_reply_read(CM_STREAM *st, CM_REPLY *r)
{
    char    line[CM_LINE_MAX + 1];
    size_t  bytes = 0;
    size_t  cap = 0;
    int     too_long;

    memset(r, 0, sizeof(*r));
    for (;;) {
	ssize_t n = cm_stream_getline(st, line, sizeof(line), &too_long);
	int     code;
	char  **nv;

	if (n < 0 || too_long || n < 3)
	    goto fail;
	if (!isdigit((unsigned char) line[0]) || !isdigit((unsigned char) line[1])
	    || !isdigit((unsigned char) line[2]) || (n > 3 && line[3] != ' ' && line[3] != '-'))
	    goto fail;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code)
	    goto fail;
	r->code = code;
	bytes += (size_t) n;
	if (r->nlines >= CM_REPLY_LINES_MAX || bytes > CM_REPLY_BYTES_MAX)
	    goto fail;
	if (r->nlines == cap) {
	    cap = cap ? cap * 2 : 16;
	    if ((nv = realloc(r->lines, cap * sizeof(*nv))) == 0)
		goto fail;
	    r->lines = nv;
	}
	if ((r->lines[r->nlines] = strdup(n > 4 ? line + 4 : "")) == 0)
	    goto fail;
	r->nlines++;
	if (n == 3 || line[3] == ' ')
	    return (0);
    }
fail:
    cm_reply_free(r);
    return (-1);
}

/* is_b64_line - only base64 characters */
static int is_b64_line(const char *s)
{
    return (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
	    == strlen(s));
}

/* cm_reply_get_object - decode the base64 object after a label line */
unsigned char *cm_reply_get_object(const CM_REPLY *r, const char *label, size_t *len)
{
    size_t  i, j, total = 0;
    size_t  ll = strlen(label);
    char   *b64, *p;
    const char *first = "";
    unsigned char *out;

    for (i = 0; i < r->nlines; i++) {
	const char *l = r->lines[i];

	if (strncmp(l, label, ll) == 0 && (l[ll] == 0 || l[ll] == ':')) {
	    if (l[ll] == ':') {
		first = l + ll + 1;
		while (*first == ' ')
		    first++;
	    }
	    break;
	}
    }
    if (i == r->nlines)
	return (0);
    total = strlen(first);
    /* The final line ("250 OK") is never part of an object. */
    for (j = i + 1; j + 1 < r->nlines && is_b64_line(r->lines[j]); j++)
	total += strlen(r->lines[j]);
    if ((b64 = malloc(total + 1)) == 0)
	return (0);
    p = b64;
    p += sprintf(p, "%s", first);
    for (j = i + 1; j + 1 < r->nlines && is_b64_line(r->lines[j]); j++)
	p += sprintf(p, "%s", r->lines[j]);
    out = cm_base64_decode(b64, total, len);
    free(b64);
    return (out);
}

/* cm_reply_free - release the lines */
void    cm_reply_free(CM_REPLY *r)
{
    size_t  i;

    for (i = 0; i < r->nlines; i++)
	free(r->lines[i]);
    free(r->lines);
    memset(r, 0, sizeof(*r));
}

/* cm_reply_get_cert - a certificate object (DER) of a reply, exactly */
X509   *cm_reply_get_cert(const CM_REPLY *r, const char *label)
{
    size_t  len;
    unsigned char *der = cm_reply_get_object(r, label, &len);
    const unsigned char *p = der;
    X509   *cert = 0;

    if (der && len <= CM_CERT_DER_MAX) {
	cert = d2i_X509(0, &p, (long) len);
	if (cert && p != der + len) {
	    X509_free(cert);
	    cert = 0;
	}
    }
    free(der);
    return (cert);
}
