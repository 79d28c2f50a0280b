/*++
 * NAME
 *	cm_container 3
 * SUMMARY
 *	write and read the sealed container (notice + ENVELOPE)
 * DESCRIPTION
 *	See cm_container.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cm_container.h"

/* cm_container_write - header, notice, streamed ENVELOPE */
int     cm_container_write(FILE *out, const char *envelope_id, const char *notice,
			           size_t notice_len, FILE *envelope, char *err, size_t errlen)
{
    struct stat sb;
    char    buf[65536];
    size_t  n;
    unsigned long long copied = 0;

    if (fstat(fileno(envelope), &sb) < 0 || !S_ISREG(sb.st_mode)) {
	snprintf(err, errlen, "ENVELOPE spool is not a regular file");
	return (-1);
    }
    fprintf(out, "Cmail-Container: 1\r\nEnvelope-Id: %s\r\nNotice-Length: %zu\r\n"
	    "Envelope-Length: %llu\r\n\r\n", envelope_id, notice_len,
	    (unsigned long long) sb.st_size);
    fwrite(notice, 1, notice_len, out);
    rewind(envelope);
    while ((n = fread(buf, 1, sizeof(buf), envelope)) > 0) {
	fwrite(buf, 1, n, out);
	copied += n;
    }
    if (ferror(envelope) || copied != (unsigned long long) sb.st_size) {
	snprintf(err, errlen, "read error on the ENVELOPE spool");
	return (-1);
    }
    if (fflush(out) != 0 || ferror(out)) {
	snprintf(err, errlen, "write error on the container");
	return (-1);
    }
    return (0);
}

/* header_line - "Name: value" with the given name; value into buf */
static int header_line(FILE *in, const char *name, char *buf, size_t size)
{
    char    line[256];
    size_t  nl = strlen(name);
    size_t  len;

    if (fgets(line, sizeof(line), in) == 0)
	return (-1);
    len = strlen(line);
    if (len < 2 || line[len - 1] != '\n' || line[len - 2] != '\r')
	return (-1);
    line[len - 2] = 0;
    if (strncmp(line, name, nl) != 0 || line[nl] != ':' || line[nl + 1] != ' ')
	return (-1);
    if (strlen(line + nl + 2) >= size)
	return (-1);
    strcpy(buf, line + nl + 2);
    return (0);
}

/* parse_len - a decimal length within max */
static int parse_len(const char *s, unsigned long long max, unsigned long long *v)
{
    char   *end;

    if (*s < '0' || *s > '9' || strlen(s) > 20)
	return (-1);
    *v = strtoull(s, &end, 10);
    return (*end == 0 && *v <= max ? 0 : -1);
}

/* cm_container_read - header and notice; in left at the ENVELOPE */
int     cm_container_read(FILE *in, CM_CONTAINER *c, char *err, size_t errlen)
{
    char    v[128];
    unsigned long long nlen;
    char    blank[4];

    memset(c, 0, sizeof(*c));
    if (header_line(in, "Cmail-Container", v, sizeof(v)) < 0 || strcmp(v, "1") != 0
	|| header_line(in, "Envelope-Id", c->envelope_id, sizeof(c->envelope_id)) < 0
	|| header_line(in, "Notice-Length", v, sizeof(v)) < 0
	|| parse_len(v, CM_NOTICE_MAX, &nlen) < 0 || nlen == 0
	|| header_line(in, "Envelope-Length", v, sizeof(v)) < 0
	|| parse_len(v, 1ULL << 40, &c->envelope_len) < 0
	|| fgets(blank, sizeof(blank), in) == 0 || strcmp(blank, "\r\n") != 0) {
	snprintf(err, errlen, "malformed container header");
	return (-1);
    }
    if ((c->notice = malloc(nlen + 1)) == 0) {
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    if (fread(c->notice, 1, nlen, in) != nlen) {
	snprintf(err, errlen, "container cut short in the notice");
	cm_container_free(c);
	return (-1);
    }
    c->notice[nlen] = 0;
    c->notice_len = nlen;
    return (0);
}

/* cm_container_free - release the notice */
void    cm_container_free(CM_CONTAINER *c)
{
    free(c->notice);
    c->notice = 0;
}
