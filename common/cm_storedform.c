/*++
 * NAME
 *	cm_storedform 3
 * SUMMARY
 *	write and read the stored form of a certified message
 * DESCRIPTION
 *	See cm_storedform.h. The boundary is derived from the envelope id,
 *	which has a restricted syntax, so it cannot occur in base64 or in
 *	the note.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "cm_limits.h"
#include "cm_base64.h"
#include "cm_stream.h"
#include "cm_storedform.h"

#define B64_GROUP	57		/* bytes per base64 line */
#define B64_LINE	76		/* its characters */
#define B64_LINES	64		/* lines per write */
#define OUT_BUF		8192		/* decoded bytes per write */

static const char *copied_headers[] = {
    "From", "To", "Cc", "Date", "Message-ID", "Subject", 0,
};

/* put_header - one header field, folded at blanks to keep lines short */
static void put_header(FILE *out, const char *name, const char *value)
{
    size_t  col = strlen(name) + 2;
    const char *p = value;

    fprintf(out, "%s: ", name);
    while (*p) {
	size_t  word = strcspn(p + 1, " \t") + 1;

	if (col + word > 78 && col > strlen(name) + 2 && (*p == ' ' || *p == '\t')) {
	    fputs("\r\n", out);
	    col = 0;
	}
	fwrite(p, 1, word, out);
	col += word;
	p += word;
    }
    fputs("\r\n", out);
}

/* cm_storedform_write - headers, note, sealed part */
int     cm_storedform_write(FILE *out, const CM_STORED_INFO *info, FILE *sealed,
			            char *err, size_t errlen)
{
    const char **h;
    unsigned char buf[B64_GROUP * B64_LINES];
    char    text[(B64_LINE + 2) * B64_LINES + 1];
    size_t  n;
    const char *from = cm_headers_get(info->headers, "From");
    const char *subject = cm_headers_get(info->headers, "Subject");

    for (h = copied_headers; *h; h++) {
	const char *v = cm_headers_get(info->headers, *h);

	if (v)
	    put_header(out, *h, v);
    }
    fprintf(out, "MIME-Version: 1.0\r\n"
	    "X-Cmail-Delivery-Type: CertifiedMail\r\n"
	    "X-Cmail-Envelope-Id: %s\r\n"
	    "Content-Type: multipart/mixed; boundary=\"=_cmail_%s\"\r\n"
	    "\r\n"
	    "This is a certified message (ITU-T X.1341) in MIME format.\r\n"
	    "\r\n"
	    "--=_cmail_%s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n"
	    "Certified mail from %s is waiting for you.\r\n"
	    "\r\n"
	    "  From:        %s\r\n"
	    "  Subject:     %s\r\n"
	    "  Stored:      %s at %s\r\n"
	    "  Envelope id: %s\r\n"
	    "\r\n"
	    "Its content is sealed: no mail program can show it, and this mailbox\r\n"
	    "does not hold it in readable form. To read it, retrieve it with a\r\n"
	    "Cmail client (CPOP, POP3 over TLS with the Cmail extension), e.g.\r\n"
	    "\r\n"
	    "  cmail fetch --server %s:995 --user YOU --cert YOUR-CERT --key YOUR-KEY\r\n"
	    "\r\n"
	    "The client proves with your private key that you received the\r\n"
	    "message; the sender then gets a receipt notice signed by this server.\r\n"
	    "\r\n"
	    "--=_cmail_%s\r\n"
	    "Content-Type: " CM_SEALED_TYPE "; name=\"cmail-sealed.bin\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"cmail-sealed.bin\"\r\n"
	    "\r\n",
	    info->envelope_id, info->envelope_id, info->envelope_id,
	    info->sender, from ? from : info->sender, subject ? subject : "(none)",
	    info->date, info->server, info->envelope_id, info->server, info->envelope_id);
    while ((n = fread(buf, 1, sizeof(buf), sealed)) > 0) {
	size_t  i, o = 0;

	/* 57 bytes make one 76-character line: encode each straight into text. */
	for (i = 0; i < n; i += B64_GROUP) {
	    o += (size_t) EVP_EncodeBlock((unsigned char *) text + o, buf + i,
					  (int) (n - i < B64_GROUP ? n - i : B64_GROUP));
	    text[o++] = '\r';
	    text[o++] = '\n';
	}
	if (fwrite(text, 1, o, out) != o)
	    break;
	if (n < sizeof(buf))
	    break;
    }
    if (ferror(sealed)) {
	snprintf(err, errlen, "read error on the sealed blob");
	return (-1);
    }
    fprintf(out, "--=_cmail_%s--\r\n", info->envelope_id);
    if (fflush(out) != 0 || ferror(out)) {
	snprintf(err, errlen, "write error on the stored form");
	return (-1);
    }
    return (0);
}

/* envid_ok - the envelope id syntax of cm_notice */
static int envid_ok(const char *id)
{
    size_t  n = strlen(id);

    return (n > 0 && n <= CM_ENVELOPE_ID_MAX
	    && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") == n);
}

/* flush_out - write the decoded bytes gathered so far */
static int flush_out(FILE *sealed_out, const unsigned char *buf, size_t *len)
{
    if (*len > 0 && fwrite(buf, 1, *len, sealed_out) != *len)
	return (-1);
    *len = 0;
    return (0);
}

/* cm_storedform_extract - envelope id and the decoded sealed blob */
int     cm_storedform_extract(FILE *in, char *envelope_id, size_t idlen, FILE *sealed_out,
			              char *err, size_t errlen)
{
    CM_HEADERS h;
    CM_FLINE *fl;
    const char *type, *id;
    char    boundary[CM_ENVELOPE_ID_MAX + 16];
    char   *line;
    unsigned char out[OUT_BUF];
    size_t  blen, olen = 0;
    int     in_sealed = 0, seen_sealed = 0, in_part_headers = 0, part_is_sealed = 0;
    int     done = 0;
    int     ret = -1;
    ssize_t n, dlen;

    if (cm_headers_read(in, &h, err, errlen) < 0)
	return (-1);
    type = cm_headers_get(&h, "X-Cmail-Delivery-Type");
    id = cm_headers_get(&h, "X-Cmail-Envelope-Id");
    if (type == 0 || strcmp(type, "CertifiedMail") != 0 || id == 0 || !envid_ok(id)
	|| strlen(id) >= idlen) {
	snprintf(err, errlen, "not a Cmail stored form (X-Cmail headers missing or bad)");
	cm_headers_free(&h);
	return (-1);
    }
    strcpy(envelope_id, id);
    cm_headers_free(&h);
    blen = (size_t) snprintf(boundary, sizeof(boundary), "--=_cmail_%s", envelope_id);
    /* Lines of up to CM_LINE_MAX bytes plus CR (the LF not counted). */
    if ((fl = cm_fline_open(in, CM_LINE_MAX + 1)) == 0) {
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    while ((n = cm_fline_get(fl, &line)) != -1) {
	if (n == -2) {
	    snprintf(err, errlen, "line too long in stored form");
	    goto done;
	}
	if (n > 0 && line[n - 1] == '\r')
	    line[--n] = 0;
	if (strncmp(line, boundary, blen) == 0) {
	    if (in_sealed)
		seen_sealed = 1;
	    in_sealed = 0;
	    if (strcmp(line + blen, "--") == 0) {
		done = 1;
		break;
	    }
	    if (line[blen] != 0) {
		snprintf(err, errlen, "bad boundary line in stored form");
		goto done;
	    }
	    in_part_headers = 1;
	    part_is_sealed = 0;
	    continue;
	}
	if (in_part_headers) {
	    if (n == 0) {
		in_part_headers = 0;
		if (part_is_sealed) {
		    if (seen_sealed) {
			snprintf(err, errlen, "two sealed parts in stored form");
			goto done;
		    }
		    in_sealed = 1;
		}
	    } else if (strncasecmp(line, "Content-Type:", 13) == 0
		       && strstr(line, CM_SEALED_TYPE) != 0) {
		part_is_sealed = 1;
	    }
	    continue;
	}
	if (in_sealed && n > 0) {
	    /* Each line on its own: a multiple of 4, padding at its end. */
	    if (olen + (size_t) n / 4 * 3 > sizeof(out)
		&& flush_out(sealed_out, out, &olen) < 0) {
		snprintf(err, errlen, "write error on the sealed blob");
		goto done;
	    }
	    if (n % 4 != 0 || (dlen = cm_base64_decode_inplace(line, (size_t) n, out + olen)) < 0) {
		snprintf(err, errlen, "bad base64 in the sealed part");
		goto done;
	    }
	    olen += (size_t) dlen;
	}
    }
    if (!done || !seen_sealed) {
	snprintf(err, errlen, done ? "no sealed part in stored form" : "stored form truncated");
	goto done;
    }
    if (flush_out(sealed_out, out, &olen) < 0 || fflush(sealed_out) != 0) {
	snprintf(err, errlen, "write error on the sealed blob");
	goto done;
    }
    ret = 0;

done:
    cm_fline_free(fl);
    return (ret);
}
