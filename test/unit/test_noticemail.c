/*++
 * NAME
 *	test_noticemail 1
 * SUMMARY
 *	unit tests of cm_noticemail: notice mails parse back, no injection
 * DESCRIPTION
 *	Composed mails are taken apart again by a small independent MIME
 *	reader (headers, multipart boundary, base64 parts): the headers
 *	are the expected ones and nothing else, every attachment decodes
 *	byte for byte to what was given, lines are CRLF and short, every
 *	byte is ASCII. Hostile subjects, display names and summaries
 *	cannot add a header field or a MIME part; unsafe addresses and
 *	file names are refused and then nothing is written.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cmocka.h>

#include "cm_base64.h"
#include "cm_limits.h"
#include "cm_notice.h"
#include "cm_noticemail.h"

#define WHEN	((time_t) 1795000000)	/* Wed, 18 Nov 2026 11:06:40 +0000 */
#define PARTS_MAX 8

typedef struct {
    char   *headers;			/* the header block, unfolded lines */
    char   *boundary;
    int     nparts;
    char   *part_headers[PARTS_MAX];
    char   *part_body[PARTS_MAX];
} MAIL;

/* dupn - a NUL-terminated copy of n bytes */
static char *dupn(const char *s, size_t n)
{
    char   *p = malloc(n + 1);

    assert_non_null(p);
    memcpy(p, s, n);
    p[n] = 0;
    return (p);
}

/* header - the value of the first header field name in a header block */
static const char *header(const char *block, const char *name, char *buf, size_t len)
{
    const char *p = block;
    size_t  n = strlen(name);
    const char *eol;

    for (p = block; p && *p; p = eol ? eol + 2 : 0) {
	eol = strstr(p, "\r\n");
	if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
	    p += n + 1;
	    while (*p == ' ')
		p++;
	    snprintf(buf, len, "%.*s", (int) (eol ? (size_t) (eol - p) : strlen(p)), p);
	    return (buf);
	}
    }
    return (0);
}

/* split - parse a composed mail; asserts its overall shape */
static void split(const char *text, MAIL *m)
{
    const char *body;
    const char *p;
    const char *next;
    char    delim[128];
    char    buf[256];
    const char *q;

    memset(m, 0, sizeof(*m));
    body = strstr(text, "\r\n\r\n");
    assert_non_null(body);
    m->headers = dupn(text, (size_t) (body - text) + 2);
    body += 4;
    assert_non_null(header(m->headers, "Content-Type", buf, sizeof(buf)));
    assert_non_null(q = strstr(buf, "boundary=\""));
    q += 10;
    m->boundary = dupn(q, strcspn(q, "\""));
    snprintf(delim, sizeof(delim), "\r\n--%s", m->boundary);
    /* the preamble ends at the first delimiter */
    assert_non_null(p = strstr(body - 2, delim));
    for (;;) {
	p += strlen(delim);
	if (strncmp(p, "--\r\n", 4) == 0) {
	    assert_string_equal(p, "--\r\n");	/* nothing after the close */
	    break;
	}
	assert_memory_equal(p, "\r\n", 2);
	p += 2;
	assert_non_null(next = strstr(p, delim));
	assert_true(m->nparts < PARTS_MAX);
	body = strstr(p, "\r\n\r\n");
	assert_non_null(body);
	assert_true(body < next);
	m->part_headers[m->nparts] = dupn(p, (size_t) (body - p) + 2);
	m->part_body[m->nparts] = dupn(body + 4, (size_t) (next - body - 4));
	m->nparts++;
	p = next;
    }
}

/* mail_free - release a split mail */
static void mail_free(MAIL *m)
{
    int     i;

    free(m->headers);
    free(m->boundary);
    for (i = 0; i < m->nparts; i++) {
	free(m->part_headers[i]);
	free(m->part_body[i]);
    }
}

/* lines_ok - CRLF only, lines at most max characters, ASCII only */
static void lines_ok(const char *text, size_t max)
{
    const unsigned char *p;
    size_t  col = 0;

    for (p = (const unsigned char *) text; *p; p++) {
	assert_true(*p < 0x80);
	if (*p == '\r') {
	    assert_int_equal(p[1], '\n');
	    p++;
	    col = 0;
	    continue;
	}
	assert_true(*p != '\n');
	assert_true(*p >= 0x20 || *p == '\t');
	col++;
	if (col > max)
	    fail_msg("line longer than %zu characters", max);
    }
}

/* names_are - the header block holds exactly these field names, in order */
static void names_are(const char *block, const char *const *names)
{
    const char *p;
    const char *eol;
    int     i = 0;

    for (p = block; *p; p = eol + 2) {
	assert_non_null(eol = strstr(p, "\r\n"));
	assert_true(*p != ' ' && *p != '\t');	/* no folding from us */
	if (names[i] == 0)
	    fail_msg("unexpected header line \"%.*s\"", (int) (eol - p), p);
	if (strncmp(p, names[i], strlen(names[i])) != 0 || p[strlen(names[i])] != ':')
	    fail_msg("header \"%.*s\" where %s was expected", (int) (eol - p), p, names[i]);
	i++;
    }
    assert_null(names[i]);
}

static const char *const top_names[] = {
    "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version",
    "Content-Type", 0,
};

/* basic - a filled-in notice mail with two attachments */
static void basic(CM_NOTICEMAIL *m, unsigned char *a1, size_t l1, unsigned char *a2, size_t l2)
{
    memset(m, 0, sizeof(*m));
    m->from = "postmaster@a.test";
    m->to = "alice@a.test";
    m->subject = "Transit notice: hello reached b.test";
    m->summary = "Your certified message reached b.test.\nCheck: cmail verify THIS-MAIL\n";
    m->envelope_id = "env-1.x@a.test";
    m->date = WHEN;
    m->nattach = 2;
    m->attach[0].filename = cm_noticemail_filename(CM_NOTICE_SIGNED_TRANSIT);
    m->attach[0].data = a1;
    m->attach[0].len = l1;
    m->attach[1].filename = cm_noticemail_filename(CM_NOTICE_SIGNED_DEPOSIT);
    m->attach[1].data = a2;
    m->attach[1].len = l2;
}

/* test_roundtrip - headers, text part, attachments byte-identical */
static void test_roundtrip(void **state)
{
    static const char *const part_names[] = {
	"Content-Type", "Content-Disposition", "Content-Transfer-Encoding", 0,
    };
    static const char *const text_names[] = {
	"Content-Type", "Content-Transfer-Encoding", 0,
    };
    unsigned char a1[5000];
    unsigned char a2[77];
    CM_NOTICEMAIL nm;
    MAIL    m;
    char    err[256];
    char    buf[512];
    char   *text;
    unsigned char *dec;
    size_t  len;
    size_t  dlen;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(a1); i++)
	a1[i] = (unsigned char) (i * 31 + 7);	/* every byte value, NULs included */
    memcpy(a2, "<?xml version=\"1.0\"?>\n<DepositNotice/>\n", 40);
    memset(a2 + 40, '-', sizeof(a2) - 40);	/* dashes in the data are harmless */
    basic(&nm, a1, sizeof(a1), a2, sizeof(a2));
    text = cm_noticemail_compose(&nm, &len, err, sizeof(err));
    if (text == 0)
	fail_msg("compose: %s", err);
    assert_int_equal(strlen(text), len);
    lines_ok(text, 998);
    split(text, &m);
    names_are(m.headers, top_names);
    assert_string_equal(header(m.headers, "From", buf, sizeof(buf)),
			"\"Certified mail\" <postmaster@a.test>");
    assert_string_equal(header(m.headers, "To", buf, sizeof(buf)), "<alice@a.test>");
    assert_string_equal(header(m.headers, "Subject", buf, sizeof(buf)), nm.subject);
    assert_string_equal(header(m.headers, "Date", buf, sizeof(buf)),
			"Wed, 18 Nov 2026 11:06:40 +0000");
    assert_string_equal(header(m.headers, "Auto-Submitted", buf, sizeof(buf)), "auto-generated");
    assert_string_equal(header(m.headers, "MIME-Version", buf, sizeof(buf)), "1.0");
    header(m.headers, "Message-ID", buf, sizeof(buf));
    assert_true(strncmp(buf, "<cmail-notice.env-1.x_a.test.1795000000.", 40) == 0);
    assert_non_null(strstr(buf, "@a.test>"));
    assert_null(strchr(buf + 1, '<'));
    assert_true(strlen(m.boundary) >= 30);
    assert_int_equal(m.nparts, 3);
    /* the text part */
    names_are(m.part_headers[0], text_names);
    assert_string_equal(header(m.part_headers[0], "Content-Type", buf, sizeof(buf)),
			"text/plain; charset=us-ascii");
    assert_string_equal(m.part_body[0], "Your certified message reached b.test.\r\n"
			"Check: cmail verify THIS-MAIL\r\n");
    /* the attachments, in order */
    for (i = 1; i <= 2; i++) {
	names_are(m.part_headers[i], part_names);
	snprintf(err, sizeof(err), "application/octet-stream; name=\"%s\"", nm.attach[i - 1].filename);
	assert_string_equal(header(m.part_headers[i], "Content-Type", buf, sizeof(buf)), err);
	snprintf(err, sizeof(err), "attachment; filename=\"%s\"", nm.attach[i - 1].filename);
	assert_string_equal(header(m.part_headers[i], "Content-Disposition", buf, sizeof(buf)), err);
	assert_string_equal(header(m.part_headers[i], "Content-Transfer-Encoding", buf, sizeof(buf)),
			    "base64");
	lines_ok(m.part_body[i], 76);
	dec = cm_base64_decode(m.part_body[i], strlen(m.part_body[i]), &dlen);
	assert_non_null(dec);
	assert_int_equal(dlen, nm.attach[i - 1].len);
	assert_memory_equal(dec, nm.attach[i - 1].data, dlen);
	free(dec);
    }
    assert_string_equal(nm.attach[0].filename, "transitNotice.xml");
    mail_free(&m);
    free(text);
}

/* test_write - cm_noticemail_write() writes what compose returns (but the boundary) */
static void test_write(void **state)
{
    unsigned char a1[100] = "x";
    CM_NOTICEMAIL nm;
    MAIL    m1;
    MAIL    m2;
    FILE   *fp;
    char    err[256];
    char   *text;
    char   *back;
    size_t  len;
    long    size;

    (void) state;
    basic(&nm, a1, sizeof(a1), a1, 1);
    assert_non_null(fp = tmpfile());
    assert_int_equal(cm_noticemail_write(fp, &nm, err, sizeof(err)), 0);
    size = ftell(fp);
    assert_true(size > 0);
    rewind(fp);
    back = malloc((size_t) size + 1);
    assert_non_null(back);
    assert_int_equal(fread(back, 1, (size_t) size, fp), (size_t) size);
    back[size] = 0;
    fclose(fp);
    text = cm_noticemail_compose(&nm, &len, err, sizeof(err));
    assert_non_null(text);
    assert_int_equal(len, (size_t) size);
    split(back, &m1);
    split(text, &m2);
    /* a fresh random boundary and Message-ID each time */
    assert_string_not_equal(m1.boundary, m2.boundary);
    assert_int_equal(m1.nparts, m2.nparts);
    assert_string_equal(m1.part_body[1], m2.part_body[1]);
    assert_string_equal(m1.part_body[2], m2.part_body[2]);
    mail_free(&m1);
    mail_free(&m2);
    free(text);
    free(back);
    assert_int_equal(cm_noticemail_write(0, &nm, err, sizeof(err)), -1);
}

/* test_injection - hostile text cannot add header fields or MIME parts */
static void test_injection(void **state)
{
    unsigned char a1[10] = "abcdefghi";
    CM_NOTICEMAIL nm;
    MAIL    m;
    char    err[256];
    char    buf[512];
    char    summary[600];
    char   *text;
    size_t  len;

    (void) state;
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.nattach = 1;
    nm.subject = "hi\r\nBcc: eve@evil.test\r\n\r\n--x\nContent-Type: text/html\r\rX: \x80\xff\t";
    nm.from_name = "Post\"master\\\r\nBcc: eve@evil.test";
    nm.envelope_id = "a>b@c\r\nX-Evil: 1";
    /* a summary that tries to close the part, fake a boundary and end SMTP DATA */
    snprintf(summary, sizeof(summary), "line 1\r\n.\r\n\r\n--=_cmail_\r\nContent-Type: text/html\r\n\r\n"
	     "<script>\r\n--%s--\r\nFrom: eve@evil.test\n\xc3\xa9\x01\x7f end", "=_cmail_0");
    nm.summary = summary;
    text = cm_noticemail_compose(&nm, &len, err, sizeof(err));
    if (text == 0)
	fail_msg("compose: %s", err);
    lines_ok(text, 998);
    split(text, &m);
    names_are(m.headers, top_names);
    assert_int_equal(m.nparts, 2);
    assert_string_equal(header(m.headers, "Subject", buf, sizeof(buf)),
			"hi  Bcc: eve@evil.test    --x Content-Type: text/html  X: ??");
    assert_string_equal(header(m.headers, "From", buf, sizeof(buf)),
			"\"Postmaster  Bcc: eve@evil.test\" <postmaster@a.test>");
    header(m.headers, "Message-ID", buf, sizeof(buf));
    assert_true(strncmp(buf, "<cmail-notice.a_b_c__X-Evil__1.", 31) == 0);
    /* the summary is one text part, its lines kept, its bytes made ASCII */
    assert_non_null(strstr(m.part_body[0], "line 1\r\n.\r\n\r\n--=_cmail_\r\n"));
    assert_non_null(strstr(m.part_body[0], "\r\nFrom: eve@evil.test\r\n??   end\r\n"));
    assert_null(strstr(m.part_body[0], m.boundary));
    mail_free(&m);
    free(text);
}

/* refused - compose and write must refuse, mention want, write nothing */
static void refused(const CM_NOTICEMAIL *nm, const char *want)
{
    char    err[256] = "";
    size_t  len = 99;
    FILE   *fp;

    assert_null(cm_noticemail_compose(nm, &len, err, sizeof(err)));
    assert_int_equal(len, 0);
    if (strstr(err, want) == 0)
	fail_msg("error \"%s\" does not mention \"%s\"", err, want);
    assert_non_null(fp = tmpfile());
    assert_int_equal(cm_noticemail_write(fp, nm, err, sizeof(err)), -1);
    assert_int_equal(ftell(fp), 0);
    fclose(fp);
}

/* test_refused - unsafe addresses, names, sizes */
static void test_refused(void **state)
{
    static const char *const bad_addr[] = {
	"", "alice", "alice@a.test\r\nBcc: eve@evil.test", "<alice@a.test>", "alice@a.test>",
	"\"a b\"@a.test", "alice@a.test, eve@evil.test", "al ice@a.test", "alice@@a.test",
	"alice@a.test\n", "ali\xc3\xa9@a.test", 0,
    };
    static const char *const bad_name[] = {
	"", ".xml", "a\"b.xml", "a b.xml", "a/b.xml", "../x.xml", "x.xml\r\nX: y", "x;y.xml",
	"0123456789012345678901234567890123456789012345678901234567890123.xml", 0,
    };
    unsigned char a1[10] = "abcdefghi";
    CM_NOTICEMAIL nm;
    char   *big;
    size_t  i;

    (void) state;
    refused(0, "no message");
    for (i = 0; bad_addr[i]; i++) {
	basic(&nm, a1, sizeof(a1), a1, 1);
	nm.from = bad_addr[i];
	refused(&nm, "bad From");
	basic(&nm, a1, sizeof(a1), a1, 1);
	nm.to = bad_addr[i];
	refused(&nm, "bad To");
    }
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.to = 0;
    refused(&nm, "bad To");
    for (i = 0; bad_name[i]; i++) {
	basic(&nm, a1, sizeof(a1), a1, 1);
	nm.attach[1].filename = bad_name[i];
	refused(&nm, "file name");
    }
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.attach[1].filename = 0;
    refused(&nm, "file name");
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.attach[0].len = 0;
    refused(&nm, "empty");
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.attach[0].data = 0;
    refused(&nm, "empty");
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.attach[0].len = (size_t) CM_NOTICE_MAX + 1;
    refused(&nm, "larger");
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.nattach = CM_NOTICEMAIL_ATTACH_MAX + 1;
    refused(&nm, "more than 4");
    big = malloc(CM_NOTICEMAIL_SUMMARY_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', CM_NOTICEMAIL_SUMMARY_MAX + 1);
    big[CM_NOTICEMAIL_SUMMARY_MAX + 1] = 0;
    basic(&nm, a1, sizeof(a1), a1, 1);
    nm.summary = big;
    refused(&nm, "summary");
    free(big);
}

/* test_defaults - no subject, name, summary, id or attachment; long text */
static void test_defaults(void **state)
{
    CM_NOTICEMAIL nm;
    MAIL    m;
    char    err[256];
    char    buf[512];
    char    subject[1000];
    char    summary[400];
    char   *text;
    size_t  len;
    time_t  before = time(0);

    (void) state;
    memset(&nm, 0, sizeof(nm));
    nm.from = "postmaster@a.test";
    nm.to = "alice@a.test";
    nm.from_name = "\"\"";
    text = cm_noticemail_compose(&nm, &len, err, sizeof(err));
    assert_non_null(text);
    split(text, &m);
    assert_string_equal(header(m.headers, "Subject", buf, sizeof(buf)), "Certified mail notice");
    assert_string_equal(header(m.headers, "From", buf, sizeof(buf)), "<postmaster@a.test>");
    header(m.headers, "Message-ID", buf, sizeof(buf));
    assert_true(strncmp(buf, "<cmail-notice.none.", 19) == 0);
    assert_true(strtoll(buf + 19, 0, 10) >= (long long) before);
    assert_int_equal(m.nparts, 1);
    assert_string_equal(m.part_body[0], "");
    mail_free(&m);
    free(text);

    /* a long subject is cut, a long summary line broken at 78 */
    memset(subject, 'S', sizeof(subject) - 1);
    subject[sizeof(subject) - 1] = 0;
    memset(summary, 'x', sizeof(summary) - 1);
    summary[sizeof(summary) - 1] = 0;
    nm.subject = subject;
    nm.summary = summary;
    nm.from_name = "Cmail at a.test";
    text = cm_noticemail_compose(&nm, &len, err, sizeof(err));
    assert_non_null(text);
    split(text, &m);
    assert_int_equal(strlen(header(m.headers, "Subject", buf, sizeof(buf))),
		     CM_NOTICEMAIL_SUBJECT_MAX);
    assert_string_equal(header(m.headers, "From", buf, sizeof(buf)),
			"\"Cmail at a.test\" <postmaster@a.test>");
    lines_ok(m.part_body[0], CM_NOTICEMAIL_LINE_MAX);
    assert_int_equal(strlen(m.part_body[0]), 399 + 2 * 6);	/* 6 lines */
    mail_free(&m);
    free(text);
}

/* test_filenames - attachment names of the notice types */
static void test_filenames(void **state)
{
    (void) state;
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_DEPOSIT), "depositNotice.xml");
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_SIGNED_DEPOSIT), "depositNotice.xml");
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_TRANSIT), "transitNotice.xml");
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_SIGNED_TRANSIT), "transitNotice.xml");
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_RECEIPT), "receiptNotice.xml");
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_SIGNED_RECEIPT), "receiptNotice.xml");
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_NONDELIVERY), "nonDeliveryNotice.xml");
    assert_string_equal(cm_noticemail_filename(CM_NOTICE_UNKNOWN), "notice.xml");
}

/* test_message_id - a given Message-ID is used as is; a bad one is refused */
static void test_message_id(void **state)
{
    static const char *const bad[] = {
	"cmail-receipt.x@a.test", "<cmail receipt@a.test>", "<a\r\nBcc: eve@evil.test>",
	"<>", "<\x80@a.test>", 0,
    };
    unsigned char a1[10] = "transit", a2[10] = "deposit";
    char    id[CM_NOTICEMAIL_MSGID_MAX + 2];
    CM_NOTICEMAIL nm;
    MAIL    m;
    char    err[256];
    char    buf[512];
    char   *text;
    size_t  len;
    int     i;

    (void) state;
    basic(&nm, a1, sizeof(a1), a2, sizeof(a2));
    nm.message_id = "<cmail-transit.env-1.x=a.test.0123456789abcdef@b.test>";
    if ((text = cm_noticemail_compose(&nm, &len, err, sizeof(err))) == 0)
	fail_msg("compose: %s", err);
    split(text, &m);
    names_are(m.headers, top_names);
    assert_string_equal(header(m.headers, "Message-ID", buf, sizeof(buf)), nm.message_id);
    mail_free(&m);
    free(text);
    for (i = 0; bad[i]; i++) {
	nm.message_id = bad[i];
	refused(&nm, "bad Message-ID");
    }
    memset(id, 'x', sizeof(id));
    id[0] = '<';
    id[CM_NOTICEMAIL_MSGID_MAX - 1] = '>';
    id[CM_NOTICEMAIL_MSGID_MAX] = 0;		/* the longest accepted */
    nm.message_id = id;
    assert_non_null(text = cm_noticemail_compose(&nm, &len, err, sizeof(err)));
    free(text);
    id[CM_NOTICEMAIL_MSGID_MAX - 1] = 'x';
    id[CM_NOTICEMAIL_MSGID_MAX] = '>';
    id[CM_NOTICEMAIL_MSGID_MAX + 1] = 0;	/* one too long */
    refused(&nm, "bad Message-ID");
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_roundtrip),
	cmocka_unit_test(test_write),
	cmocka_unit_test(test_injection),
	cmocka_unit_test(test_refused),
	cmocka_unit_test(test_defaults),
	cmocka_unit_test(test_filenames),
	cmocka_unit_test(test_message_id),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
