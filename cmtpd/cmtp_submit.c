/*++
 * NAME
 *	cmtp_submit 3
 * SUMMARY
 *	hand the stored form to Postfix's injection listener over SMTP
 * DESCRIPTION
 *	cmtp_submit() connects to injection_address (host:port, or
 *	unix:/path for an LMTP-less unix smtpd), sends EHLO, MAIL FROM, one
 *	RCPT TO per recipient and the stored form as DATA (dot-stuffed),
 *	and returns 0 with Postfix's queue id once Postfix answered 250 to
 *	the end of data: from then on the message is Postfix's. Any other
 *	outcome returns -1; *temporary tells a 4xx (or a connection
 *	problem) from a 5xx. Postfix's milter on that listener checks the
 *	seal and journals "queued" before Postfix answers.
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
#include "cmtpd.h"

/* expect - read a reply and require a class; reason on failure */
static int expect(CM_STREAM *st, int want, const char *step, int *temporary,
		          CM_REPLY *r, char *err, size_t errlen)
{
    if (cm_reply_read(st, r) < 0) {
	snprintf(err, errlen, "injection listener: connection lost after %s", step);
	*temporary = 1;
	return (-1);
    }
    if (r->code / 100 != want) {
	snprintf(err, errlen, "injection listener said %d %s after %s", r->code,
		 r->nlines ? r->lines[r->nlines - 1] : "", step);
	*temporary = r->code / 100 != 5;
	cm_reply_free(r);
	return (-1);
    }
    return (0);
}

/* cmtp_submit - SMTP transaction with Postfix */
int     cmtp_submit(CMTP_SESSION *s, FILE *fp, char *queue_id,
		            size_t qlen, int *temporary, char *err, size_t errlen)
{
    int     fd;
    CM_STREAM *st = 0;
    CM_REPLY r;
    char    line[CM_LINE_MAX + 2];
    int     i, ret = -1, at_bol;
    const char *q;

    *temporary = 1;
    if ((fd = cm_connect(cm_config_str(s->cf, "injection_address"),
			   (int) cm_config_int(s->cf, "smtp_timeout"), err, errlen)) < 0)
	return (-1);
    if ((st = cm_stream_open(fd, fd, (int) cm_config_int(s->cf, "smtp_timeout"))) == 0) {
	snprintf(err, errlen, "out of memory");
	goto done;
    }
    if (expect(st, 2, "connect", temporary, &r, err, errlen) < 0)
	goto done;
    cm_reply_free(&r);
    cm_stream_printf(st, "EHLO %s\r\n", s->hostname);
    cm_stream_flush(st);
    if (expect(st, 2, "EHLO", temporary, &r, err, errlen) < 0)
	goto done;
    cm_reply_free(&r);
    cm_stream_printf(st, "MAIL FROM:<%s>\r\n", s->sender);
    cm_stream_flush(st);
    if (expect(st, 2, "MAIL FROM", temporary, &r, err, errlen) < 0)
	goto done;
    cm_reply_free(&r);
    for (i = 0; i < s->nrcpt; i++) {
	cm_stream_printf(st, "RCPT TO:<%s>\r\n", s->rcpts[i].addr);
	cm_stream_flush(st);
	if (expect(st, 2, "RCPT TO", temporary, &r, err, errlen) < 0)
	    goto done;
	cm_reply_free(&r);
    }
    cm_stream_printf(st, "DATA\r\n");
    cm_stream_flush(st);
    if (expect(st, 3, "DATA", temporary, &r, err, errlen) < 0)
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
	snprintf(err, errlen, "injection listener: write error in DATA");
	goto done;
    }
    if (expect(st, 2, "end of data", temporary, &r, err, errlen) < 0)
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
