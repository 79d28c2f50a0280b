/*++
 * NAME
 *	cm_submit 3
 * SUMMARY
 *	hand a message to a Postfix smtpd listener over SMTP
 * SYNOPSIS
 *	#include "cm_limits.h"
#include "cm_submit.h"
 *
 *	int	cm_submit(const char *address, int timeout, const char *helo,
 *				const char *sender, char *const *rcpts,
 *				size_t nrcpt, FILE *fp, char *queue_id,
 *				size_t qlen, int *temporary, char *err,
 *				size_t errlen);
 * DESCRIPTION
 *	cm_submit() connects to address (host:port, or unix:/path), sends
 *	EHLO helo, MAIL FROM:<sender> (sender "" is the null sender), one
 *	RCPT TO per recipient and the message in fp (from its start,
 *	LF or CRLF lines) as DATA, dot-stuffed, and returns 0 with
 *	Postfix's queue id once Postfix answered 250 to the end of data:
 *	from then on the message is Postfix's. Any other outcome returns
 *	-1; *temporary tells a 4xx (or a connection problem) from a 5xx.
 *	Every read and write waits at most timeout seconds. cmtpd hands
 *	stored forms to the injection listeners this way (the milter there
 *	checks the seal and journals "queued" before Postfix answers);
 *	cmtpd and cmail-relay submit notice mails this way too.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "cm_log.h"
#include "cm_reply.h"
#include "cm_stream.h"
#include "cm_connect.h"
#include "cm_limits.h"
#include "cm_submit.h"

/* expect - read a reply and require a class; reason on failure */
static int expect(CM_STREAM *st, const char *who, int want, const char *step, int *temporary,
		          CM_REPLY *r, char *err, size_t errlen)
{
    if (cm_reply_read(st, r) < 0) {
	snprintf(err, errlen, "%s: connection lost after %s", who, step);
	*temporary = 1;
	return (-1);
    }
    if (r->code / 100 != want) {
	snprintf(err, errlen, "%s said %d %s after %s", who, r->code,
		 r->nlines ? r->lines[r->nlines - 1] : "", step);
	*temporary = r->code / 100 != 5;
	cm_reply_free(r);
	return (-1);
    }
    return (0);
}

/* cm_submit - SMTP transaction with Postfix */
int     cm_submit(const char *address, int timeout, const char *helo,
		          const char *sender, char *const *rcpts, size_t nrcpt,
		          FILE *fp, char *queue_id, size_t qlen, int *temporary,
		          char *err, size_t errlen)
{
    int     fd;
    CM_STREAM *st = 0;
    CM_REPLY r;
    char    line[CM_LINE_MAX + 2];
    int     ret = -1, at_bol;
    size_t  i;
    const char *q;

    *temporary = 1;
    if ((fd = cm_connect(address, timeout, err, errlen)) < 0)
	return (-1);
    if ((st = cm_stream_open(fd, fd, timeout)) == 0) {
	snprintf(err, errlen, "out of memory");
	goto done;
    }
    if (expect(st, address, 2, "connect", temporary, &r, err, errlen) < 0)
	goto done;
    cm_reply_free(&r);
    cm_stream_printf(st, "EHLO %s\r\n", helo);
    cm_stream_flush(st);
    if (expect(st, address, 2, "EHLO", temporary, &r, err, errlen) < 0)
	goto done;
    cm_reply_free(&r);
    cm_stream_printf(st, "MAIL FROM:<%s>\r\n", sender);
    cm_stream_flush(st);
    if (expect(st, address, 2, "MAIL FROM", temporary, &r, err, errlen) < 0)
	goto done;
    cm_reply_free(&r);
    for (i = 0; i < nrcpt; i++) {
	cm_stream_printf(st, "RCPT TO:<%s>\r\n", rcpts[i]);
	cm_stream_flush(st);
	if (expect(st, address, 2, "RCPT TO", temporary, &r, err, errlen) < 0)
	    goto done;
	cm_reply_free(&r);
    }
    cm_stream_printf(st, "DATA\r\n");
    cm_stream_flush(st);
    if (expect(st, address, 3, "DATA", temporary, &r, err, errlen) < 0)
	goto done;
    cm_reply_free(&r);
    rewind(fp);
    at_bol = 1;
    while (fgets(line, sizeof(line), fp)) {
	size_t  n = strlen(line);

	if (at_bol && line[0] == '.' && cm_stream_write(st, ".", 1) < 0)
	    break;
	if (cm_stream_write(st, line, n) < 0)
	    break;
	at_bol = line[n - 1] == '\n';
    }
    if (ferror(fp)) {
	snprintf(err, errlen, "read error on the stored form");
	goto done;
    }
    cm_stream_printf(st, ".\r\n");
    if (cm_stream_flush(st) < 0) {
	snprintf(err, errlen, "%s: write error in DATA", address);
	goto done;
    }
    if (expect(st, address, 2, "end of data", temporary, &r, err, errlen) < 0)
	goto done;
    q = r.nlines ? strstr(r.lines[r.nlines - 1], "queued as ") : 0;
    snprintf(queue_id, qlen, "%s", q ? q + 10 : "unknown");
    queue_id[strcspn(queue_id, " \t")] = 0;
    cm_reply_free(&r);
    cm_stream_printf(st, "QUIT\r\n");
    cm_stream_flush(st);
    ret = 0;
done:
    cm_stream_close(st);
    close(fd);
    return (ret);
}
