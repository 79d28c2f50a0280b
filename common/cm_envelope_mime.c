/*++
 * NAME
 *	cm_envelope_mime 3
 * SUMMARY
 *	ENVELOPE MIME message writer and reader, streaming and bounded
 * DESCRIPTION
 *	See cm_envelope_mime.h. The boundary we write starts with "=_",
 *	which cannot occur in base64 text (padding ends a line), so it
 *	never collides with the content.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cm_limits.h"
#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_headers.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"
#include "cm_stream.h"

#define B64_GROUP	57		/* raw bytes per 76-character line */
#define FOLD_AT		78		/* preferred header line length */
#define WORD_MAX	900		/* longest unbreakable header run */
#define BOUNDARY_MAX	70		/* RFC 2046 */
#define MR_DEC_SIZE	16384		/* decoded bytes per sink call */

/* mm_err - formatted reason into a caller's buffer */
static int __attribute__((format(printf, 3, 4))) mm_err(char *err, size_t errlen,
							         const char *fmt,...)
{
    va_list ap;

    if (err && errlen > 0) {
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
    }
    return (-1);
}

 /*
  * Writer.
  */
typedef struct {
    FILE   *fp;
    CM_HASH *hash;			/* MimeMessageHash */
    uint64_t len;
    int     failed;
    unsigned char carry[B64_GROUP];	/* ciphertext not yet encoded */
    size_t  carry_len;
    char    text[(CM_ENVELOPE_MIME_B64_LINE + 2) * 64];	/* lines not yet written */
    size_t  text_len;
} MW;

/* mw_put - write, hash and count output */
static void mw_put(MW *w, const void *data, size_t len)
{
    if (w->failed || len == 0)
	return;
    if (fwrite(data, 1, len, w->fp) != len || cm_hash_update(w->hash, data, len) < 0)
	w->failed = 1;
    w->len += len;
}

/* mw_str - write a string */
static void mw_str(MW *w, const char *s)
{
    mw_put(w, s, strlen(s));
}

/* mw_b64_line - one base64 line of up to 57 bytes, into the text buffer */
static void mw_b64_line(MW *w, const unsigned char *data, size_t len)
{
    int     n;

    n = EVP_EncodeBlock((unsigned char *) w->text + w->text_len, data, (int) len);
    w->text_len += (size_t) n;
    w->text[w->text_len++] = '\r';
    w->text[w->text_len++] = '\n';
    if (w->text_len + CM_ENVELOPE_MIME_B64_LINE + 2 > sizeof(w->text)) {
	mw_put(w, w->text, w->text_len);
	w->text_len = 0;
    }
}

/* mw_b64 - base64 ciphertext in 76-character lines */
static void mw_b64(MW *w, const unsigned char *data, size_t len)
{
    size_t  take;

    if (w->carry_len > 0) {
	take = B64_GROUP - w->carry_len;
	if (take > len)
	    take = len;
	memcpy(w->carry + w->carry_len, data, take);
	w->carry_len += take;
	data += take;
	len -= take;
	if (w->carry_len < B64_GROUP)
	    return;
	mw_b64_line(w, w->carry, B64_GROUP);
	w->carry_len = 0;
    }
    for (; len >= B64_GROUP; data += B64_GROUP, len -= B64_GROUP)
	mw_b64_line(w, data, B64_GROUP);
    memcpy(w->carry, data, len);
    w->carry_len = len;
}

/* mw_b64_end - the last (short) line, and everything still buffered */
static void mw_b64_end(MW *w)
{
    if (w->carry_len > 0)
	mw_b64_line(w, w->carry, w->carry_len);
    w->carry_len = 0;
    mw_put(w, w->text, w->text_len);
    w->text_len = 0;
}

/* is_wsp - folding white space */
static int is_wsp(int c)
{
    return (c == ' ' || c == '\t');
}

/* header_ok - printable US-ASCII, bounded, foldable */
static int header_ok(const char *name, const char *value, int required,
		             char *err, size_t errlen)
{
    size_t  i, run = 0;

    if (value == 0)
	return (required ? mm_err(err, errlen, "the ENVELOPE needs a %s header", name) : 0);
    for (i = 0; value[i]; i++) {
	unsigned char c = (unsigned char) value[i];

	if (i >= CM_HEADER_MAX)
	    return (mm_err(err, errlen, "%s header longer than %d bytes", name, CM_HEADER_MAX));
	if (!is_wsp(c) && (c < 32 || c > 126))
	    return (mm_err(err, errlen, "%s header: control or non-ASCII character "
			   "(encode it with RFC 2047)", name));
	run = is_wsp(c) ? 0 : run + 1;
	if (run > WORD_MAX)
	    return (mm_err(err, errlen, "%s header cannot be folded", name));
    }
    return (0);
}

/* mw_header - "Name: value" folded at white space, CRLF */
static void mw_header(MW *w, const char *name, const char *value)
{
    size_t  start = strlen(name) + 2;
    size_t  col = start;
    size_t  i = 0, j, k;
    size_t  vlen;

    if (value == 0)
	return;
    vlen = strlen(value);
    mw_str(w, name);
    mw_str(w, ": ");
    while (i < vlen) {
	for (k = i; k < vlen && is_wsp(value[k]); k++)
	     /* void */ ;
	for (j = k; j < vlen && !is_wsp(value[j]); j++)
	     /* void */ ;
	/* Fold before white space that is followed by a word. */
	if (col + (j - i) > FOLD_AT && col > start && k > i && j > k) {
	    mw_str(w, "\r\n");
	    col = 0;
	}
	mw_put(w, value + i, j - i);
	col += j - i;
	i = j;
    }
    mw_str(w, "\r\n");
}

/* cm_envelope_mime_write - encrypt plain into an ENVELOPE MIME message */
int     cm_envelope_mime_write(FILE *out, const CM_ENVELOPE_HEADERS *hdr,
			               FILE *plain, const unsigned char *key,
			               CM_ENVELOPE_MIME_DIGESTS *d,
			               char *err, size_t errlen)
{
    MW      w;
    CM_ENVELOPE *e = 0;
    unsigned char rnd[16];
    char    boundary[64];
    char    line[160];
    unsigned char *ibuf = 0;
    unsigned char *obuf = 0;
    size_t  osize = CM_ENVELOPE_BUF_SIZE + CM_ENVELOPE_SLACK;
    size_t  n, olen, i;
    int     ret = -1;

    memset(&w, 0, sizeof(w));
    w.fp = out;
    if (header_ok("From", hdr->from, 1, err, errlen) < 0
	|| header_ok("To", hdr->to, 1, err, errlen) < 0
	|| header_ok("Cc", hdr->cc, 0, err, errlen) < 0
	|| header_ok("Date", hdr->date, 1, err, errlen) < 0
	|| header_ok("Message-ID", hdr->message_id, 1, err, errlen) < 0
	|| header_ok("Subject", hdr->subject, 0, err, errlen) < 0)
	return (-1);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
	return (mm_err(err, errlen, "random generator failed"));
    n = (size_t) snprintf(boundary, sizeof(boundary), "=_cmail_envelop_");
    for (i = 0; i < sizeof(rnd); i++)
	n += (size_t) snprintf(boundary + n, sizeof(boundary) - n, "%02x", rnd[i]);
    if ((w.hash = cm_hash_new(CM_HASH_SHA256)) == 0
	|| (ibuf = malloc(CM_ENVELOPE_BUF_SIZE)) == 0
	|| (obuf = malloc(osize)) == 0) {
	mm_err(err, errlen, "out of memory");
	goto done;
    }
    if ((e = cm_envelope_encrypt_new(key, err, errlen)) == 0)
	goto done;

    mw_header(&w, "From", hdr->from);
    mw_header(&w, "To", hdr->to);
    mw_header(&w, "Cc", hdr->cc);
    mw_header(&w, "Date", hdr->date);
    mw_header(&w, "Message-ID", hdr->message_id);
    mw_header(&w, "Subject", hdr->subject);
    mw_str(&w, "MIME-Version: 1.0\r\n");
    snprintf(line, sizeof(line), "Content-Type: multipart/mixed;\r\n"
	     " boundary=\"%s\"\r\n\r\n", boundary);
    mw_str(&w, line);
    mw_str(&w, "This is an X.1341 certified mail ENVELOPE.\r\n\r\n");
    snprintf(line, sizeof(line), "--%s\r\n", boundary);
    mw_str(&w, line);
    mw_str(&w, "Content-Type: application/octet-stream; name=\"" CM_ENVELOPE_MIME_NAME "\"\r\n"
	   "Content-Transfer-Encoding: base64\r\n"
	   "Content-Disposition: attachment; filename=\"" CM_ENVELOPE_MIME_NAME "\"\r\n"
	   "\r\n");

    while ((n = fread(ibuf, 1, CM_ENVELOPE_BUF_SIZE, plain)) > 0) {
	if (cm_envelope_update(e, ibuf, n, obuf, osize, &olen) < 0) {
	    mm_err(err, errlen, "%s", cm_envelope_error(e));
	    goto done;
	}
	mw_b64(&w, obuf, olen);
	if (w.failed)
	    break;
    }
    if (ferror(plain)) {
	mm_err(err, errlen, "read error on the plaintext message");
	goto done;
    }
    if (cm_envelope_final(e, obuf, osize, &olen) < 0) {
	mm_err(err, errlen, "%s", cm_envelope_error(e));
	goto done;
    }
    mw_b64(&w, obuf, olen);
    mw_b64_end(&w);
    snprintf(line, sizeof(line), "--%s--\r\n", boundary);
    mw_str(&w, line);
    if (w.failed || fflush(out) != 0 || ferror(out)) {
	mm_err(err, errlen, "write error on the ENVELOPE");
	goto done;
    }
    if (d) {
	memset(d, 0, sizeof(*d));
	if (cm_envelope_digests(e, &d->envelope) < 0
	    || cm_hash_final_raw(w.hash, d->mime, &n) < 0) {
	    mm_err(err, errlen, "digest failed");
	    goto done;
	}
	EVP_EncodeBlock((unsigned char *) d->mime_b64, d->mime, 32);
	d->mime_len = w.len;
    }
    ret = 0;

done:
    cm_envelope_free(e);
    cm_hash_free(w.hash);
    if (ibuf) {
	OPENSSL_cleanse(ibuf, CM_ENVELOPE_BUF_SIZE);
	free(ibuf);
    }
    free(obuf);
    return (ret);
}

 /*
  * Reader.
  */
typedef struct {
    FILE   *in;
    CM_FLINE *fl;			/* lines of in */
    char   *line;			/* the current line, in fl */
    size_t  len;
    int     parts;
    int     found;			/* "envelop" parts seen */
    CM_ENVELOPE *env;			/* decrypt mode */
    FILE   *out;			/* plaintext or ciphertext */
    CM_HASH *cipher_hash;		/* extract mode */
    uint64_t cipher_len;
    unsigned char dec[MR_DEC_SIZE];	/* decoded, not yet sunk */
    size_t  dec_len;
    unsigned char obuf[MR_DEC_SIZE + CM_ENVELOPE_SLACK];
    char   *err;
    size_t  errlen;
} MR;

/* mr_getline - one line, CRLF or LF stripped; 1, 0 at EOF, -1 error */
static int mr_getline(MR *r)
{
    ssize_t n = cm_fline_get(r->fl, &r->line);

    if (n == -2)
	return (mm_err(r->err, r->errlen, "ENVELOPE line longer than %d bytes", CM_LINE_MAX));
    if (n == -1) {
	r->len = 0;
	if (ferror(r->in))
	    return (mm_err(r->err, r->errlen, "read error on the ENVELOPE"));
	return (0);
    }
    r->len = (size_t) n;
    if (r->len > 0 && r->line[r->len - 1] == '\r')
	r->line[--r->len] = 0;
    return (1);
}

/* mr_boundary - 1 delimiter, 2 close delimiter, 0 other line */
static int mr_boundary(const MR *r, const char *b)
{
    size_t  blen = strlen(b);
    size_t  i;
    int     kind = 1;

    if (r->len < blen + 2 || r->line[0] != '-' || r->line[1] != '-'
	|| memcmp(r->line + 2, b, blen) != 0)
	return (0);
    i = blen + 2;
    if (r->len >= i + 2 && r->line[i] == '-' && r->line[i + 1] == '-') {
	kind = 2;
	i += 2;
    }
    for (; i < r->len; i++)			/* transport padding */
	if (!is_wsp(r->line[i]))
	    return (0);
    return (kind);
}

/* mime_param - a parameter of a structured header value */
static int mime_param(const char *value, const char *name, char *out, size_t size)
{
    const char *p = value;
    size_t  nlen = strlen(name);
    size_t  n;

    while (p && *p) {
	/* Skip to the next ';' outside quotes. */
	int     quoted = 0;

	for (; *p && (quoted || *p != ';'); p++) {
	    if (*p == '\\' && quoted && p[1])
		p++;
	    else if (*p == '"')
		quoted = !quoted;
	}
	if (*p != ';')
	    return (-1);
	for (p++; is_wsp(*p); p++)
	     /* void */ ;
	if (strncasecmp(p, name, nlen) != 0)
	    continue;
	for (p += nlen; is_wsp(*p); p++)
	     /* void */ ;
	if (*p != '=')
	    continue;
	for (p++; is_wsp(*p); p++)
	     /* void */ ;
	n = 0;
	if (*p == '"') {
	    for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
		    p++;
		if (n + 1 >= size)
		    return (-1);
		out[n++] = *p;
	    }
	    if (*p != '"')
		return (-1);
	} else {
	    for (; *p && *p != ';' && !is_wsp(*p); p++) {
		if (n + 1 >= size)
		    return (-1);
		out[n++] = *p;
	    }
	}
	out[n] = 0;
	return (0);
    }
    return (-1);
}

/* mime_type_is - the media type of a Content-Type value, by prefix */
static int mime_type_is(const char *ct, const char *prefix)
{
    while (ct && is_wsp(*ct))
	ct++;
    return (ct && strncasecmp(ct, prefix, strlen(prefix)) == 0);
}

/* mime_is_envelop - a part named "envelop" */
static int mime_is_envelop(const CM_HEADERS *h)
{
    char    name[64];
    const char *cd = cm_headers_get(h, "Content-Disposition");
    const char *ct = cm_headers_get(h, "Content-Type");

    if (cd && mime_param(cd, "filename", name, sizeof(name)) == 0
	&& strcasecmp(name, CM_ENVELOPE_MIME_NAME) == 0)
	return (1);
    if (ct && mime_param(ct, "name", name, sizeof(name)) == 0
	&& strcasecmp(name, CM_ENVELOPE_MIME_NAME) == 0)
	return (1);
    return (0);
}

/* mime_boundary - a valid boundary parameter */
static int mime_boundary(const char *ct, char *out, size_t size)
{
    size_t  i;

    if (mime_param(ct, "boundary", out, size) < 0 || out[0] == 0
	|| strlen(out) > BOUNDARY_MAX)
	return (-1);
    for (i = 0; out[i]; i++)
	if ((unsigned char) out[i] < 32 || (unsigned char) out[i] > 126)
	    return (-1);
    return (0);
}

/* mr_sink - decoded ciphertext to decryption or to the output */
static int mr_sink(MR *r, const unsigned char *data, size_t len)
{
    size_t  olen;

    if (len == 0)
	return (0);
    if (r->env) {
	if (cm_envelope_update(r->env, data, len, r->obuf, sizeof(r->obuf), &olen) < 0)
	    return (mm_err(r->err, r->errlen, "%s", cm_envelope_error(r->env)));
	data = r->obuf;
	len = olen;
    } else {
	if (cm_hash_update(r->cipher_hash, data, len) < 0)
	    return (mm_err(r->err, r->errlen, "digest failed"));
	r->cipher_len += len;
    }
    if (r->out && len > 0 && fwrite(data, 1, len, r->out) != len)
	return (mm_err(r->err, r->errlen, "write error"));
    return (0);
}

/* mr_skip - skip lines up to a boundary line of b */
static int mr_skip(MR *r, const char *b)
{
    int     rc, k;

    for (;;) {
	if ((rc = mr_getline(r)) < 0)
	    return (-1);
	if (rc == 0)
	    return (mm_err(r->err, r->errlen, "ENVELOPE ends before its closing MIME boundary"));
	if ((k = mr_boundary(r, b)) != 0)
	    return (k);
    }
}

/* b64_text - base64 characters or padding only */
static int b64_text(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++)
	if (cm_base64_class[(unsigned char) p[i]] != CM_BASE64_CHAR
	    && cm_base64_class[(unsigned char) p[i]] != CM_BASE64_PAD)
	    return (0);
    return (1);
}

/* mr_flush - decoded bytes to the sink */
static int mr_flush(MR *r)
{
    size_t  len = r->dec_len;

    r->dec_len = 0;
    return (mr_sink(r, r->dec, len));
}

/* mr_decode - base64 lines up to a boundary of b (or EOF if b is NULL) */
static int mr_decode(MR *r, const char *b)
{
    char    carry[4];			/* a group split across lines */
    size_t  ncarry = 0, pads = 0, take, whole, i;
    const char *p;
    int     padded = 0;
    int     rc, k = 0;
    ssize_t n;

    r->dec_len = 0;
    for (;;) {
	if ((rc = mr_getline(r)) < 0)
	    return (-1);
	if (rc == 0) {
	    if (b == 0)
		break;
	    return (mm_err(r->err, r->errlen, "ENVELOPE ends inside the envelop part"));
	}
	if (b && (k = mr_boundary(r, b)) != 0)
	    break;
	while (r->len > 0 && is_wsp(r->line[r->len - 1]))
	    r->len--;
	if (r->len == 0)
	    continue;
	if (padded)
	    return (mm_err(r->err, r->errlen, "data after the base64 padding of the envelop part"));
	if (memchr(r->line, '=', r->len) != 0) {
	    /* The padding: check every character of this (last) line. */
	    for (i = 0; i < r->len; i++) {
		switch (cm_base64_class[(unsigned char) r->line[i]]) {
		case CM_BASE64_PAD:
		    padded = 1;
		    pads++;
		    continue;
		case CM_BASE64_CHAR:
		    if (!padded)
			continue;
		    /* FALLTHROUGH */
		default:
		    return (mm_err(r->err, r->errlen, "bad base64 in the envelop part"));
		}
	    }
	    /* As EVP_DecodeUpdate(): at most two "=". */
	    if (pads > 2)
		return (mm_err(r->err, r->errlen, "bad base64 in the envelop part"));
	}
	if (r->dec_len + r->len / 4 * 3 + 3 > sizeof(r->dec) && mr_flush(r) < 0)
	    return (-1);

	/*
	 * Finish the group begun on earlier lines, decode the whole groups
	 * (EVP_DecodeBlock() refuses bytes outside the alphabet), carry the
	 * rest. The bytes that are not decoded now are checked now.
	 */
	p = r->line;
	if (ncarry > 0) {
	    take = 4 - ncarry < r->len ? 4 - ncarry : r->len;
	    if (!b64_text(p, take))
		return (mm_err(r->err, r->errlen, "bad base64 in the envelop part"));
	    memcpy(carry + ncarry, p, take);
	    ncarry += take;
	    p += take;
	    if (ncarry < 4)
		continue;
	    if ((n = cm_base64_decode_block(carry, 4, r->dec + r->dec_len)) < 0)
		return (mm_err(r->err, r->errlen, "bad base64 in the envelop part"));
	    r->dec_len += (size_t) n;
	    ncarry = 0;
	}
	whole = (size_t) (r->line + r->len - p) / 4 * 4;
	if ((n = cm_base64_decode_block(p, whole, r->dec + r->dec_len)) < 0)
	    return (mm_err(r->err, r->errlen, "bad base64 in the envelop part"));
	r->dec_len += (size_t) n;
	ncarry = (size_t) (r->line + r->len - p) - whole;
	if (!b64_text(p + whole, ncarry))
	    return (mm_err(r->err, r->errlen, "bad base64 in the envelop part"));
	memcpy(carry, p + whole, ncarry);
    }
    if (ncarry != 0)
	return (mm_err(r->err, r->errlen, "bad base64 in the envelop part (incomplete)"));
    if (mr_flush(r) < 0)
	return (-1);
    return (b ? k : 2);
}

static int mr_multipart(MR *, const char *, int);

/* mr_part_body - one part's body; the boundary kind that ended it */
static int mr_part_body(MR *r, CM_HEADERS *h, const char *b, int depth)
{
    const char *ct = cm_headers_get(h, "Content-Type");
    const char *cte = cm_headers_get(h, "Content-Transfer-Encoding");
    char    sub[BOUNDARY_MAX + 2];

    if (ct && mime_type_is(ct, "multipart/")) {
	if (depth >= CM_ENVELOPE_MIME_DEPTH)
	    return (mm_err(r->err, r->errlen, "MIME nesting deeper than %d levels",
			   CM_ENVELOPE_MIME_DEPTH));
	if (mime_boundary(ct, sub, sizeof(sub)) < 0)
	    return (mm_err(r->err, r->errlen, "multipart without a valid boundary"));
	if (b && strcmp(sub, b) == 0)
	    return (mm_err(r->err, r->errlen, "nested multipart reuses its parent's boundary"));
	if (mr_multipart(r, sub, depth + 1) < 0)
	    return (-1);
	return (b ? mr_skip(r, b) : 2);
    }
    if (mime_is_envelop(h)) {
	if (r->found++)
	    return (mm_err(r->err, r->errlen, "more than one envelop part"));
	if (cte == 0 || !mime_type_is(cte, "base64"))
	    return (mm_err(r->err, r->errlen, "the envelop part is not base64"));
	return (mr_decode(r, b));
    }
    return (b ? mr_skip(r, b) : 2);
}

/* mr_multipart - preamble, parts, up to the close delimiter of b */
static int mr_multipart(MR *r, const char *b, int depth)
{
    CM_HEADERS h;
    int     k;

    /* Preamble. */
    if ((k = mr_skip(r, b)) < 0)
	return (-1);
    while (k == 1) {
	if (++r->parts > CM_ENVELOPE_MIME_PARTS)
	    return (mm_err(r->err, r->errlen, "more than %d MIME parts", CM_ENVELOPE_MIME_PARTS));
	if (cm_headers_read(r->in, &h, r->err, r->errlen) < 0)
	    return (-1);
	k = mr_part_body(r, &h, b, depth);
	cm_headers_free(&h);
	if (k < 0)
	    return (-1);
    }
    return (0);
}

/* mr_run - top-level headers, then the body */
static int mr_run(MR *r, CM_HEADERS *clear)
{
    CM_HEADERS local;
    CM_HEADERS *h = clear ? clear : &local;
    int     ret;

    if (cm_headers_read(r->in, h, r->err, r->errlen) < 0)
	return (-1);
    if (!mime_type_is(cm_headers_get(h, "Content-Type"), "multipart/")
	&& !mime_is_envelop(h)) {
	ret = mm_err(r->err, r->errlen, "not an ENVELOPE: no multipart body");
    } else {
	ret = mr_part_body(r, h, 0, 0) < 0 ? -1 : 0;
	if (ret == 0 && r->found == 0)
	    ret = mm_err(r->err, r->errlen, "not an ENVELOPE: no part named \"%s\"",
			 CM_ENVELOPE_MIME_NAME);
    }
    if (h == &local)
	cm_headers_free(&local);
    return (ret);
}

/* cm_envelope_mime_decrypt - ENVELOPE MIME message to plaintext */
int     cm_envelope_mime_decrypt(FILE *in, FILE *plain_out, const unsigned char *key,
				         CM_ENVELOPE_ALG alg, CM_HEADERS *clear,
				         CM_ENVELOPE_DIGESTS *d, char *err, size_t errlen)
{
    MR     *r;
    size_t  olen;
    int     ret = -1;

    if (clear)
	memset(clear, 0, sizeof(*clear));
    if ((r = calloc(1, sizeof(*r))) == 0)
	return (mm_err(err, errlen, "out of memory"));
    r->in = in;
    r->out = plain_out;
    r->err = err;
    r->errlen = errlen;
    if ((r->env = cm_envelope_decrypt_new(key, alg, err, errlen)) == 0)
	goto done;
    if ((r->fl = cm_fline_open(in, CM_LINE_MAX)) == 0) {
	mm_err(err, errlen, "out of memory");
	goto done;
    }
    if (mr_run(r, clear) < 0)
	goto done;
    if (cm_envelope_final(r->env, r->obuf, sizeof(r->obuf), &olen) < 0) {
	mm_err(err, errlen, "%s", cm_envelope_error(r->env));
	goto done;
    }
    if ((olen > 0 && fwrite(r->obuf, 1, olen, plain_out) != olen)
	|| fflush(plain_out) != 0 || ferror(plain_out)) {
	mm_err(err, errlen, "write error on the plaintext");
	goto done;
    }
    if (d)
	(void) cm_envelope_digests(r->env, d);
    ret = 0;

done:
    cm_envelope_free(r->env);
    cm_fline_free(r->fl);
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
    return (ret);
}

/* cm_envelope_mime_extract - ENVELOPE MIME message to ciphertext bytes */
int     cm_envelope_mime_extract(FILE *in, FILE *cipher_out, CM_HEADERS *clear,
				         CM_ENVELOPE_DIGESTS *d, char *err, size_t errlen)
{
    MR     *r;
    size_t  n;
    int     ret = -1;

    if (clear)
	memset(clear, 0, sizeof(*clear));
    if ((r = calloc(1, sizeof(*r))) == 0)
	return (mm_err(err, errlen, "out of memory"));
    r->in = in;
    r->out = cipher_out;
    r->err = err;
    r->errlen = errlen;
    if ((r->cipher_hash = cm_hash_new(CM_HASH_SHA256)) == 0
	|| (r->fl = cm_fline_open(in, CM_LINE_MAX)) == 0) {
	mm_err(err, errlen, "out of memory");
	goto done;
    }
    if (mr_run(r, clear) < 0)
	goto done;
    if (cipher_out && (fflush(cipher_out) != 0 || ferror(cipher_out))) {
	mm_err(err, errlen, "write error on the ciphertext");
	goto done;
    }
    if (d) {
	memset(d, 0, sizeof(*d));
	if (cm_hash_final_raw(r->cipher_hash, d->cipher, &n) < 0) {
	    mm_err(err, errlen, "digest failed");
	    goto done;
	}
	EVP_EncodeBlock((unsigned char *) d->cipher_b64, d->cipher, 32);
	d->cipher_len = r->cipher_len;
    }
    ret = 0;

done:
    cm_hash_free(r->cipher_hash);
    cm_fline_free(r->fl);
    free(r);
    return (ret);
}
