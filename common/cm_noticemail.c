/*++
 * NAME
 *	cm_noticemail 3
 * SUMMARY
 *	compose a notice mail (PROFILE.md section 6, Appendix I)
 * SYNOPSIS
 *	#include "cm_noticemail.h"
 *
 *	int	cm_noticemail_write(FILE *out, const CM_NOTICEMAIL *m,
 *				char *err, size_t errlen);
 *	char	*cm_noticemail_compose(const CM_NOTICEMAIL *m,
 *				size_t *len_r, char *err, size_t errlen);
 *	const char *cm_noticemail_filename(CM_NOTICE_TYPE type);
 * DESCRIPTION
 *	See cm_noticemail.h. The whole mail is composed in memory first
 *	(an open_memstream() buffer), so that a bad argument writes
 *	nothing. Addresses and file names are refused when unsafe; free
 *	text (subject, display name, summary) is made safe: it can never
 *	end a header line, start a new header or MIME part, or carry
 *	non-ASCII bytes. The boundary is random and checked against the
 *	summary; base64 text cannot contain it ("--" never occurs).
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cm_addr.h"
#include "cm_base64.h"
#include "cm_limits.h"
#include "cm_noticemail.h"

#define CM_NOTICEMAIL_NAME_MAX	64	/* display name characters */
#define CM_NOTICEMAIL_B64_LINE	76	/* base64 line length */

static void cm_noticemail_err(char *, size_t, const char *,...)
	__attribute__((format(printf, 3, 4)));

/* cm_noticemail_err - one-line error text */
static void cm_noticemail_err(char *err, size_t errlen, const char *fmt,...)
{
    va_list ap;

    if (err == 0 || errlen == 0)
	return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* cm_noticemail_filename - attachment name of a notice type */
const char *cm_noticemail_filename(CM_NOTICE_TYPE type)
{
    switch (type) {
    case CM_NOTICE_DEPOSIT:
    case CM_NOTICE_SIGNED_DEPOSIT:
	return ("depositNotice.xml");
    case CM_NOTICE_TRANSIT:
    case CM_NOTICE_SIGNED_TRANSIT:
	return ("transitNotice.xml");
    case CM_NOTICE_RECEIPT:
    case CM_NOTICE_SIGNED_RECEIPT:
	return ("receiptNotice.xml");
    case CM_NOTICE_NONDELIVERY:
	return ("nonDeliveryNotice.xml");
    default:
	return ("notice.xml");
    }
}

/* cm_noticemail_safe_text - one header-safe line: printable ASCII, bounded */
static void cm_noticemail_safe_text(char *dst, size_t dlen, const char *src, size_t max,
				            const char *drop)
{
    const unsigned char *cp;
    size_t  n = 0;

    if (dlen == 0)
	return;
    for (cp = (const unsigned char *) (src ? src : ""); *cp && n < max && n + 1 < dlen; cp++) {
	if (*cp < 0x20 || *cp == 0x7f)
	    dst[n++] = ' ';
	else if (*cp >= 0x80)
	    dst[n++] = '?';
	else if (drop && strchr(drop, *cp))
	    continue;
	else
	    dst[n++] = (char) *cp;
    }
    /* no trailing blanks (a header line never ends in white space) */
    while (n > 0 && dst[n - 1] == ' ')
	n--;
    dst[n] = 0;
}

/* cm_noticemail_check_name - attachment file name [A-Za-z0-9._-]{1,64} */
static int cm_noticemail_check_name(const char *s)
{
    size_t  len;

    if (s == 0 || (len = strlen(s)) == 0 || len > CM_NOTICEMAIL_FILENAME_MAX || *s == '.')
	return (-1);
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
	return (-1);
    return (0);
}

/* cm_noticemail_check - every argument; 0 or -1 with err */
static int cm_noticemail_check(const CM_NOTICEMAIL *m, char *err, size_t errlen)
{
    size_t  i;

    if (m == 0) {
	cm_noticemail_err(err, errlen, "notice mail: no message given");
	return (-1);
    }
    if (m->from == 0 || !cm_addr_valid(m->from)) {
	cm_noticemail_err(err, errlen, "notice mail: bad From address");
	return (-1);
    }
    if (m->to == 0 || !cm_addr_valid(m->to)) {
	cm_noticemail_err(err, errlen, "notice mail: bad To address");
	return (-1);
    }
    if (m->summary && strlen(m->summary) > CM_NOTICEMAIL_SUMMARY_MAX) {
	cm_noticemail_err(err, errlen, "notice mail: summary longer than %d bytes",
			  CM_NOTICEMAIL_SUMMARY_MAX);
	return (-1);
    }
    if (m->nattach > CM_NOTICEMAIL_ATTACH_MAX) {
	cm_noticemail_err(err, errlen, "notice mail: more than %d attachments",
			  CM_NOTICEMAIL_ATTACH_MAX);
	return (-1);
    }
    if (m->message_id) {
	size_t  n = strlen(m->message_id);

	for (i = 0; i < n && (unsigned char) m->message_id[i] > 0x20
	     && (unsigned char) m->message_id[i] < 0x7f; i++)
	     /* void */ ;
	if (n < 3 || n > CM_NOTICEMAIL_MSGID_MAX || i < n || m->message_id[0] != '<'
	    || m->message_id[n - 1] != '>') {
	    cm_noticemail_err(err, errlen, "notice mail: bad Message-ID");
	    return (-1);
	}
    }
    for (i = 0; i < m->nattach; i++) {
	if (cm_noticemail_check_name(m->attach[i].filename) < 0) {
	    cm_noticemail_err(err, errlen, "notice mail: bad attachment file name");
	    return (-1);
	}
	if (m->attach[i].data == 0 || m->attach[i].len == 0
	    || m->attach[i].len > CM_NOTICE_MAX) {
	    cm_noticemail_err(err, errlen, "notice mail: attachment %s is empty or larger "
			      "than %d bytes", m->attach[i].filename, CM_NOTICE_MAX);
	    return (-1);
	}
    }
    return (0);
}

/* cm_noticemail_random - n random bytes as hex */
static int cm_noticemail_random(char *hex, size_t nbytes)
{
    unsigned char buf[16];
    size_t  i;

    if (nbytes > sizeof(buf) || RAND_bytes(buf, (int) nbytes) != 1)
	return (-1);
    for (i = 0; i < nbytes; i++)
	snprintf(hex + 2 * i, 3, "%02x", buf[i]);
    return (0);
}

/* cm_noticemail_date - RFC 5322 date in UTC (locale-independent) */
static int cm_noticemail_date(char *buf, size_t len, time_t when)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    };
    struct tm tm;

    if (gmtime_r(&when, &tm) == 0 || tm.tm_wday < 0 || tm.tm_wday > 6
	|| tm.tm_mon < 0 || tm.tm_mon > 11)
	return (-1);
    snprintf(buf, len, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	     months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return (0);
}

/* cm_noticemail_msgid_part - EnvelopeId reduced to [A-Za-z0-9._-] */
static void cm_noticemail_msgid_part(char *dst, size_t dlen, const char *src)
{
    size_t  n = 0;
    size_t  i;

    for (; src && *src && n < CM_ENVELOPE_ID_MAX && n + 1 < dlen; src++)
	dst[n++] = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-",
			  *src) ? *src : '_';
    if (n == 0 && dlen > 5)
	n = (size_t) snprintf(dst, dlen, "none");
    /* no leading, trailing or double dots in a dot-atom */
    for (i = 0; i < n; i++)
	if (dst[i] == '.' && (i == 0 || i + 1 == n || dst[i - 1] == '.'))
	    dst[i] = '_';
    dst[n] = 0;
}

/* cm_noticemail_body - the summary as CRLF lines of at most LINE_MAX characters */
static void cm_noticemail_body(FILE *fp, const char *text)
{
    const unsigned char *cp;
    size_t  col = 0;

    for (cp = (const unsigned char *) (text ? text : ""); *cp; cp++) {
	if (*cp == '\r' && cp[1] == '\n')
	    continue;
	if (*cp == '\n' || *cp == '\r') {
	    fputs("\r\n", fp);
	    col = 0;
	    continue;
	}
	if (col >= CM_NOTICEMAIL_LINE_MAX) {
	    fputs("\r\n", fp);
	    col = 0;
	}
	if (*cp == '\t')
	    fputc('\t', fp);
	else if (*cp < 0x20 || *cp == 0x7f)
	    fputc(' ', fp);
	else if (*cp >= 0x80)
	    fputc('?', fp);
	else
	    fputc(*cp, fp);
	col++;
    }
    if (col > 0)
	fputs("\r\n", fp);
}

/* cm_noticemail_b64 - base64 text with CRLF line ends */
static int cm_noticemail_b64(FILE *fp, const void *data, size_t len)
{
    char   *b64;
    char   *cp;

    if ((b64 = cm_base64_encode((const unsigned char *) data, len,
				CM_NOTICEMAIL_B64_LINE)) == 0)
	return (-1);
    for (cp = b64; *cp; cp++) {
	if (*cp == '\n')
	    fputs("\r\n", fp);
	else
	    fputc(*cp, fp);
    }
    if (cp > b64 && cp[-1] != '\n')
	fputs("\r\n", fp);
    free(b64);
    return (0);
}

/* cm_noticemail_compose - the whole mail in a malloc()ed buffer */
char   *cm_noticemail_compose(const CM_NOTICEMAIL *m, size_t *len_r, char *err, size_t errlen)
{
    char    subject[CM_NOTICEMAIL_SUBJECT_MAX + 1];
    char    name[CM_NOTICEMAIL_NAME_MAX + 1];
    char    envid[CM_ENVELOPE_ID_MAX + 8];
    char    date[64];
    char    boundary[64];
    char    rnd[33];
    char    mid_rnd[17];
    const char *domain;
    time_t  when;
    char   *buf = 0;
    size_t  len = 0;
    size_t  i;
    FILE   *fp;
    int     tries;
    int     bad;

    if (len_r)
	*len_r = 0;
    if (cm_noticemail_check(m, err, errlen) < 0)
	return (0);
    when = m->date ? m->date : time((time_t *) 0);
    if (cm_noticemail_date(date, sizeof(date), when) < 0) {
	cm_noticemail_err(err, errlen, "notice mail: bad date");
	return (0);
    }
    /* A boundary that cannot occur in the text part (base64 has no "-"). */
    for (tries = 0;; tries++) {
	if (tries >= 8 || cm_noticemail_random(rnd, 16) < 0) {
	    cm_noticemail_err(err, errlen, "notice mail: no random boundary");
	    return (0);
	}
	snprintf(boundary, sizeof(boundary), "=_cmail_%s", rnd);
	if (m->summary == 0 || strstr(m->summary, boundary) == 0)
	    break;
    }
    if (cm_noticemail_random(mid_rnd, 8) < 0) {
	cm_noticemail_err(err, errlen, "notice mail: no random Message-ID");
	return (0);
    }
    cm_noticemail_safe_text(subject, sizeof(subject),
			    m->subject && *m->subject ? m->subject : "Certified mail notice",
			    CM_NOTICEMAIL_SUBJECT_MAX, 0);
    if (subject[0] == 0)
	snprintf(subject, sizeof(subject), "Certified mail notice");
    cm_noticemail_safe_text(name, sizeof(name), m->from_name ? m->from_name : "Certified mail",
			    CM_NOTICEMAIL_NAME_MAX, "\"\\");
    cm_noticemail_msgid_part(envid, sizeof(envid), m->envelope_id);
    domain = cm_addr_domain(m->from);

    if ((fp = open_memstream(&buf, &len)) == 0) {
	cm_noticemail_err(err, errlen, "notice mail: out of memory");
	return (0);
    }
    if (name[0])
	fprintf(fp, "From: \"%s\" <%s>\r\n", name, m->from);
    else
	fprintf(fp, "From: <%s>\r\n", m->from);
    fprintf(fp, "To: <%s>\r\n", m->to);
    fprintf(fp, "Subject: %s\r\n", subject);
    fprintf(fp, "Date: %s\r\n", date);
    if (m->message_id)
	fprintf(fp, "Message-ID: %s\r\n", m->message_id);
    else
	fprintf(fp, "Message-ID: <cmail-notice.%s.%lld.%s@%s>\r\n", envid, (long long) when,
		mid_rnd, domain && *domain ? domain : "localhost");
    fputs("Auto-Submitted: auto-generated\r\n", fp);
    fputs("MIME-Version: 1.0\r\n", fp);
    fprintf(fp, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n", boundary);
    fputs("\r\n", fp);
    fputs("This is a MIME message: a certified mail notice.\r\n", fp);
    fprintf(fp, "\r\n--%s\r\n", boundary);
    fputs("Content-Type: text/plain; charset=us-ascii\r\n", fp);
    fputs("Content-Transfer-Encoding: 7bit\r\n\r\n", fp);
    cm_noticemail_body(fp, m->summary);
    bad = 0;
    for (i = 0; i < m->nattach && !bad; i++) {
	fprintf(fp, "\r\n--%s\r\n", boundary);
	fprintf(fp, "Content-Type: application/octet-stream; name=\"%s\"\r\n",
		m->attach[i].filename);
	fprintf(fp, "Content-Disposition: attachment; filename=\"%s\"\r\n",
		m->attach[i].filename);
	fputs("Content-Transfer-Encoding: base64\r\n\r\n", fp);
	bad = cm_noticemail_b64(fp, m->attach[i].data, m->attach[i].len) < 0;
    }
    fprintf(fp, "\r\n--%s--\r\n", boundary);
    if (ferror(fp))
	bad = 1;
    if (fclose(fp) != 0)
	bad = 1;
    if (bad) {
	free(buf);
	cm_noticemail_err(err, errlen, "notice mail: out of memory");
	return (0);
    }
    if (len_r)
	*len_r = len;
    return (buf);
}

/* cm_noticemail_write - compose, then write to out */
int     cm_noticemail_write(FILE *out, const CM_NOTICEMAIL *m, char *err, size_t errlen)
{
    char   *text;
    size_t  len;

    if (out == 0) {
	cm_noticemail_err(err, errlen, "notice mail: no output stream");
	return (-1);
    }
    if ((text = cm_noticemail_compose(m, &len, err, errlen)) == 0)
	return (-1);
    if (fwrite(text, 1, len, out) != len || fflush(out) != 0) {
	free(text);
	cm_noticemail_err(err, errlen, "notice mail: write error");
	return (-1);
    }
    free(text);
    return (0);
}
