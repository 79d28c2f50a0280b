/*++
 * NAME
 *	test_bytes 1
 * SUMMARY
 *	unit tests of the line and base64 readers of large messages
 * DESCRIPTION
 *	cm_fline_get() (stdio lines without per-byte calls), the block
 *	base64 decoders of cm_base64, and the two readers built on them:
 *	cm_storedform_extract() and the ENVELOPE reader of
 *	cm_envelope_mime. Every input is also read through a stream that
 *	returns 1 to 4 bytes per read() into stdio buffers of 1 to 9 bytes,
 *	so that lines and base64 groups are split at every position; line
 *	ends CRLF and LF; base64 folded at odd widths; padding in the middle
 *	of the stored form; the line length limits to the byte; truncation
 *	at every position; read errors.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "cm_limits.h"
#include "cm_base64.h"
#include "cm_stream.h"
#include "cm_headers.h"
#include "cm_storedform.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"

#define ENVID	"20260101T000000Z.0011223344556677"

static const unsigned char key[CM_ENVELOPE_KEY_LEN] = {
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
    0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0,
};

 /*
  * A read-only stream over memory that returns at most "chunk" bytes per
  * read() and fails with EIO once "fail_at" bytes were returned.
  */
typedef struct {
    const char *data;
    size_t  len;
    size_t  pos;
    size_t  chunk;
    size_t  fail_at;			/* SIZE_MAX: never */
    size_t  eof_at;			/* one end of file here, then more */
} SRC;

/* src_read - cookie read function */
static ssize_t src_read(void *cookie, char *buf, size_t size)
{
    SRC    *s = cookie;
    size_t  n = s->len - s->pos;

    if (s->pos >= s->fail_at) {
	errno = EIO;
	return (-1);
    }
    if (s->pos == s->eof_at) {
	s->eof_at = SIZE_MAX;
	return (0);
    }
    if (s->eof_at != SIZE_MAX && s->pos + n > s->eof_at)
	n = s->eof_at - s->pos;
    if (n > s->chunk)
	n = s->chunk;
    if (n > size)
	n = size;
    if (s->pos + n > s->fail_at)
	n = s->fail_at - s->pos;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return ((ssize_t) n);
}

/* src_open - the stream, with a stdio buffer of bufsize bytes (0: default) */
static FILE *src_open(SRC *s, const char *data, size_t len, size_t chunk, size_t bufsize)
{
    static char vbuf[16];
    cookie_io_functions_t io = {src_read, 0, 0, 0};
    FILE   *fp;

    s->data = data;
    s->len = len;
    s->pos = 0;
    s->chunk = chunk ? chunk : len + 1;
    s->fail_at = SIZE_MAX;
    s->eof_at = SIZE_MAX;
    fp = fopencookie(s, "r", io);
    assert_non_null(fp);
    if (bufsize > 0) {
	assert_true(bufsize <= sizeof(vbuf));
	assert_int_equal(setvbuf(fp, vbuf, _IOFBF, bufsize), 0);
    }
    return (fp);
}

/* bad_write - cookie write function that always fails */
static ssize_t bad_write(void *cookie, const char *buf, size_t size)
{
    errno = ENOSPC;
    return (-1);
}

/* bad_open - a stream on which every write fails */
static FILE *bad_open(void)
{
    cookie_io_functions_t io = {0, bad_write, 0, 0};
    FILE   *fp = fopencookie(0, "w", io);

    assert_non_null(fp);
    return (fp);
}

/* pattern - deterministic bytes */
static void pattern(unsigned char *buf, size_t len, unsigned seed)
{
    size_t  i;

    for (i = 0; i < len; i++) {
	seed = seed * 1103515245u + 12345u;
	buf[i] = (unsigned char) (seed >> 16);
    }
}

/* replace - new string with every "from" replaced by "to" */
static char *replace(const char *s, const char *from, const char *to)
{
    size_t  fl = strlen(from), tl = strlen(to), n = 0;
    const char *p;
    char   *out, *o;

    for (p = s; (p = strstr(p, from)) != 0; p += fl)
	n++;
    out = malloc(strlen(s) + n * tl + 1);
    assert_non_null(out);
    for (o = out, p = s; *p;) {
	if (strncmp(p, from, fl) == 0) {
	    memcpy(o, to, tl);
	    o += tl;
	    p += fl;
	} else {
	    *o++ = *p++;
	}
    }
    *o = 0;
    return (out);
}

/* fold - base64 text (no line ends) folded at width, each line ended by eol */
static char *fold(const char *b64, size_t width, const char *eol)
{
    size_t  len = strlen(b64), el = strlen(eol), i, o = 0;
    char   *out = malloc(len + (len / width + 2) * el + 1);

    assert_non_null(out);
    for (i = 0; i < len; i += width) {
	size_t  take = len - i < width ? len - i : width;

	memcpy(out + o, b64 + i, take);
	o += take;
	memcpy(out + o, eol, el);
	o += el;
    }
    out[o] = 0;
    return (out);
}

/* splice - head + middle + tail, head and tail taken from s around [a, b) */
static char *splice(const char *s, size_t a, size_t b, const char *middle)
{
    size_t  ml = strlen(middle), tl = strlen(s + b);
    char   *out = malloc(a + ml + tl + 1);

    assert_non_null(out);
    memcpy(out, s, a);
    memcpy(out + a, middle, ml);
    memcpy(out + a + ml, s + b, tl + 1);
    return (out);
}

/* unfold - the characters of s[a, b) without CR and LF */
static char *unfold(const char *s, size_t a, size_t b)
{
    char   *out = malloc(b - a + 1);
    size_t  i, o = 0;

    assert_non_null(out);
    for (i = a; i < b; i++)
	if (s[i] != '\r' && s[i] != '\n')
	    out[o++] = s[i];
    out[o] = 0;
    return (out);
}

 /*
  * cm_fline.
  */

typedef struct {
    ssize_t n;
    char    text[16];
} LINE;

/* read_lines - every line of data through a reader of max_len, into got[] */
static size_t read_lines(const char *data, size_t len, size_t max_len, size_t chunk,
			         size_t bufsize, LINE *got, size_t max)
{
    SRC     s;
    FILE   *fp = src_open(&s, data, len, chunk, bufsize);
    CM_FLINE *fl = cm_fline_open(fp, max_len);
    size_t  k = 0;
    char   *line;

    assert_non_null(fl);
    for (;;) {
	ssize_t n = cm_fline_get(fl, &line);

	assert_true(k < max);
	got[k].n = n;
	if (n >= 0) {
	    assert_true((size_t) n < sizeof(got[k].text));
	    assert_int_equal(line[n], 0);
	    memcpy(got[k].text, line, (size_t) n + 1);
	    /* The caller may change the line: the next one is not affected. */
	    memset(line, 'Z', (size_t) n);
	}
	k++;
	if (n < 0)
	    break;
    }
    assert_int_equal(ferror(fp), 0);
    cm_fline_free(fl);
    fclose(fp);
    return (k);
}

/* test_fline_lines - CRLF and LF, empty lines, NUL bytes, a last line without LF */
static void test_fline_lines(void **state)
{
    static const char data[] = "a\r\nbb\n\n\r\nx\0y\n\0\nlast";
    LINE    got[16];
    size_t  chunk, bufsize, k;

    for (chunk = 0; chunk <= 4; chunk++) {
	for (bufsize = 0; bufsize <= 9; bufsize++) {
	    k = read_lines(data, sizeof(data) - 1, 8, chunk, bufsize, got, 16);
	    assert_int_equal(k, 8);
	    assert_int_equal(got[0].n, 2);
	    assert_memory_equal(got[0].text, "a\r", 3);
	    assert_int_equal(got[1].n, 2);
	    assert_string_equal(got[1].text, "bb");
	    assert_int_equal(got[2].n, 0);
	    assert_int_equal(got[3].n, 1);
	    assert_string_equal(got[3].text, "\r");
	    assert_int_equal(got[4].n, 3);
	    assert_memory_equal(got[4].text, "x\0y", 4);
	    assert_int_equal(got[5].n, 1);
	    assert_int_equal(got[5].text[0], 0);
	    assert_int_equal(got[6].n, 4);
	    assert_string_equal(got[6].text, "last");
	    assert_int_equal(got[7].n, -1);
	}
    }
    /* A stream that goes on after an end of file: a long line, then a short one. */
    {
	SRC     s;
	FILE   *fp = src_open(&s, "abcdefgx", 8, 0, 0);
	CM_FLINE *fl = cm_fline_open(fp, 10);
	char   *line;

	s.eof_at = 7;
	assert_int_equal(cm_fline_get(fl, &line), 7);
	assert_string_equal(line, "abcdefg");
	assert_true(feof(fp));
	clearerr(fp);
	assert_int_equal(cm_fline_get(fl, &line), 1);
	assert_string_equal(line, "x");
	assert_int_equal(cm_fline_get(fl, &line), -1);
	cm_fline_free(fl);
	fclose(fp);
    }
    /* Nothing at all. */
    k = read_lines("", 0, 8, 0, 0, got, 16);
    assert_int_equal(k, 1);
    assert_int_equal(got[0].n, -1);
}

/* test_fline_limit - max_len bytes before the LF, and one more */
static void test_fline_limit(void **state)
{
    LINE    got[8];
    size_t  chunk, bufsize;

    for (chunk = 0; chunk <= 3; chunk++) {
	for (bufsize = 0; bufsize <= 7; bufsize++) {
	    /* Exactly max_len (5) bytes, with LF, with CR LF (6: too long), at EOF. */
	    assert_int_equal(read_lines("12345\nab\n", 9, 5, chunk, bufsize, got, 8), 3);
	    assert_int_equal(got[0].n, 5);
	    assert_string_equal(got[0].text, "12345");
	    assert_string_equal(got[1].text, "ab");
	    assert_int_equal(read_lines("1234\r\n", 6, 5, chunk, bufsize, got, 8), 2);
	    assert_int_equal(got[0].n, 5);
	    assert_int_equal(read_lines("12345\r\n", 7, 5, chunk, bufsize, got, 8), 1);
	    assert_int_equal(got[0].n, -2);
	    assert_int_equal(read_lines("12345", 5, 5, chunk, bufsize, got, 8), 2);
	    assert_int_equal(got[0].n, 5);
	    assert_int_equal(read_lines("123456", 6, 5, chunk, bufsize, got, 8), 1);
	    assert_int_equal(got[0].n, -2);
	    assert_int_equal(read_lines("ab\n1234567\n", 11, 5, chunk, bufsize, got, 8), 2);
	    assert_int_equal(got[0].n, 2);
	    assert_int_equal(got[1].n, -2);
	}
    }
    /* A too-long line consumes max_len + 1 bytes, no more. */
    {
	SRC     s;
	FILE   *fp = src_open(&s, "1234567\nok\n", 11, 0, 0);
	CM_FLINE *fl = cm_fline_open(fp, 5);
	char   *line;

	assert_int_equal(cm_fline_get(fl, &line), -2);
	assert_int_equal(getc(fp), '7');
	assert_int_equal(cm_fline_get(fl, &line), 0);
	assert_int_equal(cm_fline_get(fl, &line), 2);
	assert_string_equal(line, "ok");
	cm_fline_free(fl);
	fclose(fp);
    }
    assert_null(cm_fline_open(stdin, 0));
    assert_null(cm_fline_open(stdin, (size_t) 1 << 40));
}

/* test_fline_shared - other stdio readers between lines see the right bytes */
static void test_fline_shared(void **state)
{
    static const char data[] = "first\r\nSubject: hi\r\nX-A: 1\r\n\r\nafter\r\n";
    size_t  chunk, bufsize;

    for (chunk = 0; chunk <= 3; chunk++) {
	for (bufsize = 0; bufsize <= 9; bufsize++) {
	    SRC     s;
	    FILE   *fp = src_open(&s, data, sizeof(data) - 1, chunk, bufsize);
	    CM_FLINE *fl = cm_fline_open(fp, 100);
	    CM_HEADERS h;
	    char    err[128];
	    char   *line;

	    assert_int_equal(cm_fline_get(fl, &line), 6);
	    assert_string_equal(line, "first\r");
	    assert_int_equal(cm_headers_read(fp, &h, err, sizeof(err)), 0);
	    assert_string_equal(cm_headers_get(&h, "Subject"), "hi");
	    assert_string_equal(cm_headers_get(&h, "X-A"), "1");
	    cm_headers_free(&h);
	    assert_int_equal(cm_fline_get(fl, &line), 6);
	    assert_string_equal(line, "after\r");
	    assert_int_equal(cm_fline_get(fl, &line), -1);
	    assert_int_equal(ferror(fp), 0);
	    cm_fline_free(fl);
	    fclose(fp);
	}
    }
}

/* test_fline_error - a read error is -1 with the error indicator set */
static void test_fline_error(void **state)
{
    SRC     s;
    FILE   *fp = src_open(&s, "one\ntwo\nthree\n", 14, 2, 3);
    CM_FLINE *fl = cm_fline_open(fp, 10);
    char   *line;

    s.fail_at = 6;
    assert_int_equal(cm_fline_get(fl, &line), 3);
    assert_int_equal(cm_fline_get(fl, &line), -1);
    assert_true(ferror(fp));
    cm_fline_free(fl);
    fclose(fp);
}

 /*
  * cm_base64 block decoders.
  */

/* test_b64_block - whole groups, padding at the end only, no white space */
static void test_b64_block(void **state)
{
    static const char *bad[] = {"Zm9", "Zm9vY", "Zg=a", "Z===", "====", "=Zm9", " Zm9",
	"Zm9 ", "Zm\n9", "Zm-v", "Zm_v", "Zm9v\tZm9", "Zm9vZm9v ", "Zg==Zm9v", "Zm9vZ==="};
    unsigned char out[64];
    size_t  i;

    assert_int_equal(cm_base64_decode_block("", 0, out), 0);
    assert_int_equal(cm_base64_decode_block("Zm9vYg==", 8, out), 4);
    assert_memory_equal(out, "foob", 4);
    assert_int_equal(cm_base64_decode_block("Zm9vYmE=", 8, out), 5);
    assert_memory_equal(out, "fooba", 5);
    assert_int_equal(cm_base64_decode_block("Zm9vYmFy", 8, out), 6);
    assert_memory_equal(out, "foobar", 6);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	assert_int_equal(cm_base64_decode_block(bad[i], strlen(bad[i]), out), -1);
    assert_int_equal(cm_base64_decode_block("Zm9v\0AAA", 8, out), -1);
    /* Every byte value in every position of a group. */
    for (i = 0; i < 256 * 4; i++) {
	char    t[4] = {'Q', 'U', 'J', 'D'};
	int     c = (int) (i / 4);
	ssize_t n;

	t[i % 4] = (char) c;
	n = cm_base64_decode_block(t, 4, out);
	if (cm_base64_class[c] == CM_BASE64_CHAR)
	    assert_int_equal(n, 3);
	else if (c == '=' && i % 4 >= 2)
	    assert_int_equal(n, i % 4 == 2 ? -1 : 2);	/* "QU=D" no, "QUJ=" yes */
	else
	    assert_int_equal(n, -1);
    }
}

/* test_b64_class - the class table agrees with RFC 4648 */
static void test_b64_class(void **state)
{
    int     c;

    for (c = 0; c < 256; c++) {
	int     want;

	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
	    || c == '+' || c == '/')
	    want = CM_BASE64_CHAR;
	else if (c == '=')
	    want = CM_BASE64_PAD;
	else if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
	    want = CM_BASE64_SPACE;
	else
	    want = CM_BASE64_BAD;
	assert_int_equal(cm_base64_class[c], want);
    }
}

/* test_b64_inplace - the rules of cm_base64_decode(), without allocation */
static void test_b64_inplace(void **state)
{
    static const char *cases[] = {
	"Zm9vYmFy", " Zm9v\r\n YmFy\t", "Zm9vYg==", "Zg==", "", "    ", "Zm 9v",
	"Zm9v!", "Zm9", "Z===", "Zg==Zg==", "Zm9v\x01", "=Zm9", "Zm-v", "Zg= =", "Zg=\t=",
	"Zm9vY", "Zm9vYm=y",
    };
    unsigned char out[64];
    char    text[64];
    size_t  i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
	unsigned char *ref = cm_base64_decode(cases[i], strlen(cases[i]), &n);
	ssize_t got;

	strcpy(text, cases[i]);
	got = cm_base64_decode_inplace(text, strlen(text), out);
	if (ref == 0) {
	    assert_int_equal(got, -1);
	} else {
	    assert_int_equal(got, (ssize_t) n);
	    assert_memory_equal(out, ref, n);
	}
	free(ref);
    }
}

/* test_b64_encode_fold - folded output equals the unfolded text cut by hand */
static void test_b64_encode_fold(void **state)
{
    unsigned char data[200];
    size_t  len, w;

    pattern(data, sizeof(data), 7);
    for (len = 0; len <= sizeof(data); len += 7) {
	char   *raw = cm_base64_encode(data, len, 0);

	assert_non_null(raw);
	for (w = 4; w <= 80; w += 4) {
	    char   *got = cm_base64_encode(data, len, w);
	    char   *want = len ? fold(raw, w, "\n") : strdup("");

	    assert_non_null(got);
	    assert_string_equal(got, want);
	    free(got);
	    free(want);
	}
	free(raw);
    }
}

 /*
  * cm_storedform_extract.
  */

/* sf_make - a stored form of blob (CRLF); *body..*end is its base64 text */
static char *sf_make(const unsigned char *blob, size_t len, size_t *body, size_t *end)
{
    static char hdrs[] = "From: a@b.c\r\nTo: d@e.f\r\nSubject: s\r\n\r\n";
    FILE   *hf = fmemopen(hdrs, strlen(hdrs), "r");
    FILE   *sealed = fmemopen((void *) blob, len ? len : 1, "r");
    CM_HEADERS h;
    CM_STORED_INFO info;
    char    err[256];
    char   *buf = 0;
    size_t  blen = 0;
    FILE   *out = open_memstream(&buf, &blen);
    const char *p;

    assert_int_equal(cm_headers_read(hf, &h, err, sizeof(err)), 0);
    info.headers = &h;
    info.envelope_id = ENVID;
    info.sender = "a@b.c";
    info.server = "mail.b.c";
    info.date = "Thu, 01 Jan 2026 00:00:00 +0000";
    if (len == 0)
	fgetc(sealed);
    assert_int_equal(cm_storedform_write(out, &info, sealed, err, sizeof(err)), 0);
    fclose(out);
    fclose(sealed);
    fclose(hf);
    cm_headers_free(&h);
    p = strstr(buf, "filename=\"cmail-sealed.bin\"\r\n\r\n");
    assert_non_null(p);
    *body = (size_t) (p - buf) + strlen("filename=\"cmail-sealed.bin\"\r\n\r\n");
    p = strstr(buf, "--=_cmail_" ENVID "--");
    assert_non_null(p);
    *end = (size_t) (p - buf);
    return (buf);
}

/* sf_extract - extract through a split stream; the blob in *out */
static int sf_extract(const char *text, size_t len, size_t chunk, size_t bufsize,
		              unsigned char **out, size_t *out_len, char *err, size_t errlen)
{
    SRC     s;
    FILE   *in = src_open(&s, text, len, chunk, bufsize);
    char   *buf = 0;
    size_t  blen = 0;
    FILE   *fo = open_memstream(&buf, &blen);
    char    id[CM_ENVELOPE_ID_MAX + 1];
    int     ret;

    assert_non_null(fo);
    ret = cm_storedform_extract(in, id, sizeof(id), fo, err, errlen);
    fclose(fo);
    fclose(in);
    if (ret == 0)
	assert_string_equal(id, ENVID);
    *out = (unsigned char *) buf;
    *out_len = blen;
    return (ret);
}

/* sf_expect - extract text every way and compare with the blob, or expect a reason */
static void sf_expect(const char *text, const unsigned char *blob, size_t blob_len,
		              const char *reason)
{
    static const size_t splits[][2] = {{0, 0}, {1, 1}, {3, 2}, {2, 7}, {4, 9}, {0, 5}};
    size_t  i;

    for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
	unsigned char *out;
	size_t  out_len;
	char    err[256] = "";
	int     ret = sf_extract(text, strlen(text), splits[i][0], splits[i][1], &out, &out_len,
				 err, sizeof(err));

	if (reason == 0) {
	    if (ret != 0)
		fail_msg("extract (split %zu): %s", i, err);
	    assert_int_equal(out_len, blob_len);
	    assert_memory_equal(out, blob, blob_len);
	} else {
	    assert_int_equal(ret, -1);
	    if (strstr(err, reason) == 0)
		fail_msg("split %zu: \"%s\", wanted \"%s\"", i, err, reason);
	}
	free(out);
    }
}

/* test_sf_folding - base64 lines of any width that is a multiple of 4, CRLF or LF */
static void test_sf_folding(void **state)
{
    static const size_t widths[] = {4, 8, 12, 76, 100, 996, 1000};
    unsigned char blob[3000];
    size_t  body, end, i;
    char   *sf, *b64;

    pattern(blob, sizeof(blob), 11);
    sf = sf_make(blob, sizeof(blob), &body, &end);
    sf_expect(sf, blob, sizeof(blob), 0);
    b64 = unfold(sf, body, end);
    for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
	char   *lines = fold(b64, widths[i], "\r\n");
	char   *text = splice(sf, body, end, lines);
	char   *lf = replace(text, "\r\n", "\n");

	sf_expect(text, blob, sizeof(blob), 0);
	sf_expect(lf, blob, sizeof(blob), 0);
	free(lf);
	free(text);
	free(lines);
    }
    /* Widths that are not a multiple of 4. */
    for (i = 0; i < 12; i++) {
	char   *lines, *text;

	lines = fold(b64, 4 * i * i + 1 + i % 3, "\r\n");
	text = splice(sf, body, end, lines);
	sf_expect(text, 0, 0, "bad base64 in the sealed part");
	free(text);
	free(lines);
    }
    free(b64);
    free(sf);
}

/* test_sf_padding - padded lines in the middle, white space in a line, bad bytes */
static void test_sf_padding(void **state)
{
    unsigned char blob[600];
    size_t  body, end, cut;
    char   *sf;

    pattern(blob, sizeof(blob), 12);
    sf = sf_make(blob, sizeof(blob), &body, &end);
    /* The blob in two pieces encoded one after the other: padding mid-part. */
    for (cut = 1; cut < 8; cut++) {
	char   *a = cm_base64_encode(blob, cut, 76);
	char   *b = cm_base64_encode(blob + cut, sizeof(blob) - cut, 76);
	char   *ab = malloc(strlen(a) + strlen(b) + 1);
	char   *crlf, *text;

	strcpy(ab, a);
	strcat(ab, b);
	crlf = replace(ab, "\n", "\r\n");
	text = splice(sf, body, end, crlf);
	sf_expect(text, blob, sizeof(blob), 0);
	free(text);
	free(crlf);
	free(ab);
	free(a);
	free(b);
    }
    /* Four blanks inside a line keep its length a multiple of 4: accepted. */
    {
	char   *text = splice(sf, body + 20, body + 20, "  \t ");

	sf_expect(text, blob, sizeof(blob), 0);
	free(text);
	text = splice(sf, body + 20, body + 20, " ");
	sf_expect(text, 0, 0, "bad base64 in the sealed part");
	free(text);
	/* A NUL byte (and three more characters) is not base64. */
	text = strdup(sf);
	memcpy(text + body + 8, "AAAA", 4);
	text[body + 9] = 0;
	{
	    unsigned char *out;
	    size_t  out_len;
	    char    err[256];

	    assert_int_equal(sf_extract(text, strlen(sf), 2, 3, &out, &out_len, err,
					sizeof(err)), -1);
	    assert_non_null(strstr(err, "bad base64 in the sealed part"));
	    free(out);
	}
	free(text);
	/* Three pads, and data after the padding within a line. */
	text = splice(sf, body, body + 4, "Q===");
	sf_expect(text, 0, 0, "bad base64 in the sealed part");
	free(text);
	text = splice(sf, body, body + 8, "QQ==QQ==");
	sf_expect(text, 0, 0, "bad base64 in the sealed part");
	free(text);
    }
    free(sf);
}

/* test_sf_limits - lines of CM_LINE_MAX + 1 bytes before the LF, and one more */
static void test_sf_limits(void **state)
{
    unsigned char blob[100];
    size_t  body, end;
    char   *sf, *note, *text;
    static char line[CM_LINE_MAX + 8];

    pattern(blob, sizeof(blob), 13);
    sf = sf_make(blob, sizeof(blob), &body, &end);
    note = strstr(sf, "\r\n\r\nCertified mail from");
    assert_non_null(note);
    /* In the note part: CM_LINE_MAX + 1 bytes before LF are accepted... */
    memset(line, 'x', CM_LINE_MAX + 1);
    strcpy(line + CM_LINE_MAX + 1, "\n");
    text = splice(sf, (size_t) (note - sf) + 4, (size_t) (note - sf) + 4, line);
    sf_expect(text, blob, sizeof(blob), 0);
    free(text);
    strcpy(line + CM_LINE_MAX, "\r\n");
    text = splice(sf, (size_t) (note - sf) + 4, (size_t) (note - sf) + 4, line);
    sf_expect(text, blob, sizeof(blob), 0);
    free(text);
    /* ... one more is refused, with or without CR. */
    strcpy(line + CM_LINE_MAX + 1, "\r\n");
    text = splice(sf, (size_t) (note - sf) + 4, (size_t) (note - sf) + 4, line);
    sf_expect(text, 0, 0, "line too long in stored form");
    free(text);
    memset(line, 'x', CM_LINE_MAX + 2);
    strcpy(line + CM_LINE_MAX + 2, "\n");
    text = splice(sf, (size_t) (note - sf) + 4, (size_t) (note - sf) + 4, line);
    sf_expect(text, 0, 0, "line too long in stored form");
    free(text);
    /* Also as the very last line, without LF (base64 of the sealed part). */
    memset(line, 'Q', CM_LINE_MAX + 2);
    line[CM_LINE_MAX + 2] = 0;
    text = malloc(strlen(sf) + CM_LINE_MAX + 8);
    strcpy(text, sf);
    strcpy(text + end, line);
    sf_expect(text, 0, 0, "line too long in stored form");
    line[CM_LINE_MAX] = 0;
    strcpy(text + end, line);
    sf_expect(text, 0, 0, "stored form truncated");
    free(text);
    free(sf);
}

/* test_sf_truncated - every prefix is refused; the closing boundary needs no CRLF */
static void test_sf_truncated(void **state)
{
    unsigned char blob[200];
    size_t  body, end, len, cut;
    char   *sf;

    pattern(blob, sizeof(blob), 14);
    sf = sf_make(blob, sizeof(blob), &body, &end);
    len = strlen(sf);
    for (cut = 0; cut < len; cut++) {
	unsigned char *out;
	size_t  out_len;
	char    err[256];
	int     ret = sf_extract(sf, cut, cut % 5, cut % 9, &out, &out_len, err, sizeof(err));

	if (cut >= len - 2) {
	    assert_int_equal(ret, 0);
	    assert_int_equal(out_len, sizeof(blob));
	} else {
	    assert_int_equal(ret, -1);
	    if (cut > body && cut < end)
		assert_true(strstr(err, "truncated") || strstr(err, "bad base64"));
	}
	free(out);
    }
    /* A read error is an error, and ferror() tells the caller. */
    {
	SRC     s;
	FILE   *in = src_open(&s, sf, len, 3, 0);
	FILE   *fo = fopen("/dev/null", "w");
	char    id[CM_ENVELOPE_ID_MAX + 1];
	char    err[256];

	s.fail_at = body + 100;
	assert_int_equal(cm_storedform_extract(in, id, sizeof(id), fo, err, sizeof(err)), -1);
	assert_true(ferror(in));
	fclose(fo);
	fclose(in);
    }
    free(sf);
}

/* test_sf_large - a blob larger than the output buffer, all splits */
static void test_sf_large(void **state)
{
    size_t  len = 70001;
    unsigned char *blob = malloc(len);
    size_t  body, end;
    char   *sf;

    pattern(blob, len, 15);
    sf = sf_make(blob, len, &body, &end);
    sf_expect(sf, blob, len, 0);
    /* The writer: 76 characters and CRLF a line, the last one shorter. */
    {
	char   *want = cm_base64_encode(blob, len, 76);
	char   *crlf = replace(want, "\n", "\r\n");

	assert_int_equal(end - body, strlen(crlf));
	assert_memory_equal(sf + body, crlf, end - body);
	free(crlf);
	free(want);
    }
    /* A write error on the blob is an error, and ferror() tells the caller. */
    {
	SRC     s;
	FILE   *in = src_open(&s, sf, strlen(sf), 0, 0);
	FILE   *fo = bad_open();
	char    id[CM_ENVELOPE_ID_MAX + 1];
	char    err[256];

	assert_int_equal(cm_storedform_extract(in, id, sizeof(id), fo, err, sizeof(err)), -1);
	assert_string_equal(err, "write error on the sealed blob");
	assert_true(ferror(fo));
	fclose(fo);
	fclose(in);
    }
    free(sf);
    /* An empty blob: a sealed part without lines. */
    sf = sf_make(blob, 0, &body, &end);
    sf_expect(sf, blob, 0, 0);
    free(sf);
    free(blob);
}

 /*
  * The ENVELOPE reader.
  */

/* mm_make - an ENVELOPE of plain (CRLF); *body..*end is its base64 text */
static char *mm_make(const unsigned char *plain, size_t len, size_t *body, size_t *end)
{
    CM_ENVELOPE_HEADERS hdr = {
	"alice@example.org", "bob@example.org", 0, "Thu, 01 Jan 2026 00:00:00 +0000",
	"<t@example.org>", "test",
    };
    FILE   *in = fmemopen((void *) plain, len ? len : 1, "r");
    char   *buf = 0;
    size_t  blen = 0;
    FILE   *out = open_memstream(&buf, &blen);
    char    err[256];
    const char *p;

    if (len == 0)
	fgetc(in);
    if (cm_envelope_mime_write(out, &hdr, in, key, 0, err, sizeof(err)) != 0)
	fail_msg("mime_write: %s", err);
    fclose(out);
    fclose(in);
    p = strstr(buf, "filename=\"envelop\"\r\n\r\n");
    assert_non_null(p);
    *body = (size_t) (p - buf) + strlen("filename=\"envelop\"\r\n\r\n");
    p = strstr(buf + *body, "\r\n--=_cmail_envelop_");
    assert_non_null(p);
    *end = (size_t) (p - buf) + 2;
    return (buf);
}

/* mm_expect - decrypt and extract text every way; the plaintext, or a reason */
static void mm_expect(const char *text, const unsigned char *plain, size_t len,
		              const char *reason)
{
    static const size_t splits[][2] = {{0, 0}, {1, 1}, {3, 2}, {2, 7}, {4, 9}};
    size_t  i;
    int     mode;

    for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
	for (mode = 0; mode < 2; mode++) {
	    SRC     s;
	    FILE   *in = src_open(&s, text, strlen(text), splits[i][0], splits[i][1]);
	    char   *buf = 0;
	    size_t  blen = 0;
	    FILE   *out = open_memstream(&buf, &blen);
	    CM_ENVELOPE_DIGESTS d;
	    char    err[256] = "";
	    int     ret;

	    if (mode == 0)
		ret = cm_envelope_mime_decrypt(in, out, key, CM_ENVELOPE_AES256_GCM, 0, &d,
					       err, sizeof(err));
	    else
		ret = cm_envelope_mime_extract(in, out, 0, &d, err, sizeof(err));
	    fclose(out);
	    fclose(in);
	    if (reason == 0) {
		if (ret != 0)
		    fail_msg("mode %d split %zu: %s", mode, i, err);
		if (mode == 0) {
		    assert_int_equal(blen, len);
		    assert_memory_equal(buf, plain, len);
		}
		assert_int_equal(d.cipher_len, len + 28);
	    } else {
		assert_int_equal(ret, -1);
		if (strcmp(err, reason) != 0)
		    fail_msg("mode %d split %zu: \"%s\", wanted \"%s\"", mode, i, err, reason);
	    }
	    free(buf);
	}
    }
}

/* test_mm_folding - base64 lines of any width, groups split across lines */
static void test_mm_folding(void **state)
{
    static const size_t widths[] = {1, 2, 3, 5, 7, 75, 76, 77, 998, 999};
    unsigned char plain[2000];
    size_t  body, end, i;
    char   *mm, *b64;

    pattern(plain, sizeof(plain), 21);
    mm = mm_make(plain, sizeof(plain), &body, &end);
    mm_expect(mm, plain, sizeof(plain), 0);
    b64 = unfold(mm, body, end);
    for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
	char   *lines = fold(b64, widths[i], i % 2 && widths[i] < 900 ? "  \r\n" : "\r\n");
	char   *text = splice(mm, body, end, lines);
	char   *lf = replace(text, "\r\n", "\n");

	mm_expect(text, plain, sizeof(plain), 0);
	mm_expect(lf, plain, sizeof(plain), 0);
	free(lf);
	free(text);
	free(lines);
    }
    /* CM_LINE_MAX bytes before the LF: 1000 characters with LF, not with CRLF. */
    {
	char   *lines = fold(b64, CM_LINE_MAX, "\n");
	char   *text = splice(mm, body, end, lines);

	mm_expect(text, plain, sizeof(plain), 0);
	free(text);
	free(lines);
	lines = fold(b64, CM_LINE_MAX, "\r\n");
	text = splice(mm, body, end, lines);
	mm_expect(text, 0, 0, "ENVELOPE line longer than 1000 bytes");
	free(text);
	free(lines);
    }
    /* A bad byte in a group that is split across lines is found on its line. */
    for (i = 0; i < 3; i++) {
	char   *lines = fold(b64, 3, "\r\n");
	char   *text = splice(mm, body, end, lines);

	text[body + 5 * 3 + i] = '!';
	mm_expect(text, 0, 0, "bad base64 in the envelop part");
	if (i < 2) {				/* inside the line */
	    text[body + 5 * 3 + i] = ' ';
	    mm_expect(text, 0, 0, "bad base64 in the envelop part");
	}
	free(text);
	free(lines);
    }
    /* ... also when the part ends before the group is complete. */
    {
	char   *lines = fold(b64, 76, "\r\n");
	char   *p = malloc(strlen(lines) + 16);
	char   *text;

	assert_int_equal(strlen(b64) % 4, 0);
	sprintf(p, "%sQ!\r\n", lines);
	text = splice(mm, body, end, p);
	mm_expect(text, 0, 0, "bad base64 in the envelop part");
	free(text);
	sprintf(p, "%sQ\r\n!\r\n", lines);
	text = splice(mm, body, end, p);
	mm_expect(text, 0, 0, "bad base64 in the envelop part");
	free(text);
	sprintf(p, "%sQ\r\nQ\r\n", lines);
	text = splice(mm, body, end, p);
	mm_expect(text, 0, 0, "bad base64 in the envelop part (incomplete)");
	free(text);
	free(p);
	free(lines);
    }
    free(b64);
    free(mm);
}

/* test_mm_padding - the padding ends the part: after it, nothing but blank lines */
static void test_mm_padding(void **state)
{
    unsigned char plain[300];			/* 328 bytes of ciphertext: "==" */
    size_t  body, end;
    char   *mm, *b64, *lines, *text, *p;

    pattern(plain, sizeof(plain), 22);
    mm = mm_make(plain, sizeof(plain), &body, &end);
    b64 = unfold(mm, body, end);
    assert_string_equal(b64 + strlen(b64) - 2, "==");
    /* Blank lines after the padding are fine. */
    lines = fold(b64, 76, "\r\n");
    p = malloc(strlen(lines) + 16);
    sprintf(p, "%s\r\n \t\r\n", lines);
    text = splice(mm, body, end, p);
    mm_expect(text, plain, sizeof(plain), 0);
    free(text);
    /* Data after it is not. */
    sprintf(p, "%sQUJD\r\n", lines);
    text = splice(mm, body, end, p);
    mm_expect(text, 0, 0, "data after the base64 padding of the envelop part");
    free(text);
    free(p);
    free(lines);
    /* Padding on a line of its own (the group split before it). */
    b64[strlen(b64) - 2] = 0;
    p = malloc(strlen(b64) + 16);
    sprintf(p, "%s\r\n=\r\n", b64);
    text = splice(mm, body, end, p);
    mm_expect(text, 0, 0, "bad base64 in the envelop part (incomplete)");
    free(text);
    sprintf(p, "%s\r\n==\r\n", b64);
    text = splice(mm, body, end, p);
    mm_expect(text, plain, sizeof(plain), 0);
    free(text);
    /* Three pads; a character after a pad; a group cut short. */
    sprintf(p, "%s===\r\n", b64);
    text = splice(mm, body, end, p);
    mm_expect(text, 0, 0, "bad base64 in the envelop part");
    free(text);
    sprintf(p, "%s=A=\r\n", b64);
    text = splice(mm, body, end, p);
    mm_expect(text, 0, 0, "bad base64 in the envelop part");
    free(text);
    b64[strlen(b64) - 1] = 0;
    sprintf(p, "%s\r\n", b64);
    text = splice(mm, body, end, p);
    mm_expect(text, 0, 0, "bad base64 in the envelop part (incomplete)");
    free(text);
    free(p);
    free(b64);
    free(mm);
}

/* test_mm_truncated - every line boundary of the body, and a read error */
static void test_mm_truncated(void **state)
{
    unsigned char plain[400];
    size_t  body, end, cut;
    char   *mm;

    pattern(plain, sizeof(plain), 23);
    mm = mm_make(plain, sizeof(plain), &body, &end);
    for (cut = body; cut <= end; cut++) {
	char   *text;

	if (mm[cut - 1] != '\n')
	    continue;
	text = strndup(mm, cut);
	mm_expect(text, 0, 0, "ENVELOPE ends inside the envelop part");
	free(text);
    }
    {
	SRC     s;
	FILE   *in = src_open(&s, mm, strlen(mm), 5, 0);
	char    err[256];

	s.fail_at = body + 200;
	assert_int_equal(cm_envelope_mime_extract(in, 0, 0, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "read error on the ENVELOPE");
	fclose(in);
    }
    free(mm);
}

/* test_mm_large - more ciphertext than one sink call takes */
static void test_mm_large(void **state)
{
    size_t  len = 100003;
    unsigned char *plain = malloc(len);
    size_t  body, end;
    char   *mm;

    pattern(plain, len, 24);
    mm = mm_make(plain, len, &body, &end);
    mm_expect(mm, plain, len, 0);
    /* A write error on the output: both ways. */
    {
	SRC     s;
	FILE   *in = src_open(&s, mm, strlen(mm), 0, 0);
	FILE   *fo = bad_open();
	char    err[256];

	assert_int_equal(cm_envelope_mime_decrypt(in, fo, key, CM_ENVELOPE_AES256_GCM, 0, 0,
						  err, sizeof(err)), -1);
	assert_string_equal(err, "write error");
	fclose(fo);
	fclose(in);
	in = src_open(&s, mm, strlen(mm), 0, 0);
	fo = bad_open();
	assert_int_equal(cm_envelope_mime_extract(in, fo, 0, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "write error");
	fclose(fo);
	fclose(in);
    }
    free(mm);
    mm = mm_make(plain, 0, &body, &end);
    mm_expect(mm, plain, 0, 0);
    free(mm);
    free(plain);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fline_lines),
	cmocka_unit_test(test_fline_limit),
	cmocka_unit_test(test_fline_shared),
	cmocka_unit_test(test_fline_error),
	cmocka_unit_test(test_b64_block),
	cmocka_unit_test(test_b64_class),
	cmocka_unit_test(test_b64_inplace),
	cmocka_unit_test(test_b64_encode_fold),
	cmocka_unit_test(test_sf_folding),
	cmocka_unit_test(test_sf_padding),
	cmocka_unit_test(test_sf_limits),
	cmocka_unit_test(test_sf_truncated),
	cmocka_unit_test(test_sf_large),
	cmocka_unit_test(test_mm_folding),
	cmocka_unit_test(test_mm_padding),
	cmocka_unit_test(test_mm_truncated),
	cmocka_unit_test(test_mm_large),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
