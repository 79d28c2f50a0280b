/*++
 * NAME
 *	test_parsers 1
 * SUMMARY
 *	unit tests of the small parsers of untrusted input used by cmtpd
 * DESCRIPTION
 *	cm_addr (address syntax, SMTP paths), cm_headers (header sections
 *	with their limits), cm_storedform (write and extract, and refusals),
 *	cm_container (round trip and malformed headers).
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cm_addr.h"
#include "cm_headers.h"
#include "cm_storedform.h"
#include "cm_container.h"

/* test_addr - syntax, paths, comparison, domain lists */
static void test_addr(void **state)
{
    static const char *good[] = {"a@b.c", "alice.smith+tag@example.org", "x@localhost",
    "o'neil@ex-ample.org", 0};
    static const char *bad[] = {"", "a", "@b.c", "a@", "a..b@c.d", ".a@b.c", "a.@b.c", "a@b..c",
	"a@-b.c", "a@b-.c", "a b@c.d", "a/b@c.d", "a@b_c.d", "\"q\"@c.d", "a@[1.2.3.4]", 0};
    char    addr[300];
    const char *params;
    char    longlocal[80];
    int     i;

    for (i = 0; good[i]; i++)
	if (!cm_addr_valid(good[i]))
	    fail_msg("refused valid address '%s'", good[i]);
    for (i = 0; bad[i]; i++)
	if (cm_addr_valid(bad[i]))
	    fail_msg("accepted invalid address '%s'", bad[i]);
    memset(longlocal, 'a', 65);
    strcpy(longlocal + 65, "@b.c");
    assert_false(cm_addr_valid(longlocal));
    assert_int_equal(cm_addr_parse_path(":<a@b.c>", addr, sizeof(addr), &params), 0);
    assert_string_equal(addr, "a@b.c");
    assert_string_equal(params, "");
    assert_int_equal(cm_addr_parse_path(" <a@b.c>  CertificateRequested", addr, sizeof(addr), &params), 0);
    assert_string_equal(params, "CertificateRequested");
    assert_int_equal(cm_addr_parse_path("a@b.c", addr, sizeof(addr), &params), -1);
    assert_int_equal(cm_addr_parse_path("<a@b.c", addr, sizeof(addr), &params), -1);
    assert_int_equal(cm_addr_parse_path("<>", addr, sizeof(addr), &params), -1);
    assert_int_equal(cm_addr_parse_path("<a@b.c>x", addr, sizeof(addr), &params), -1);
    assert_int_equal(cm_addr_parse_path("<a@b.c>", addr, 4, &params), -1);
    assert_true(cm_addr_equal("Bob@Example.ORG", "Bob@example.org"));
    assert_false(cm_addr_equal("bob@example.org", "Bob@example.org"));
    assert_string_equal(cm_addr_domain("a@b.c"), "b.c");
    assert_true(cm_domain_listed("Example.org", "foo.net, example.org"));
    assert_false(cm_domain_listed("example.or", "example.org"));
    assert_false(cm_domain_listed("example.org", ""));
}

/* headers_of - parse a string as a header section */
static int headers_of(const char *text, CM_HEADERS *h, char *err, size_t len)
{
    FILE   *fp = fmemopen((void *) text, strlen(text), "r");
    int     ret = cm_headers_read(fp, h, err, len);

    fclose(fp);
    return (ret);
}

/* test_headers - unfolding, lookup, every limit */
static void test_headers(void **state)
{
    CM_HEADERS h;
    char    err[256];
    char   *many;
    size_t  i, n = 0;

    assert_int_equal(headers_of("Subject: a\r\n  folded\r\nFrom: x@y.z\r\n\r\nbody", &h, err, sizeof(err)), 0);
    assert_string_equal(cm_headers_get(&h, "subject"), "a  folded");
    assert_string_equal(cm_headers_get(&h, "FROM"), "x@y.z");
    assert_null(cm_headers_get(&h, "To"));
    cm_headers_free(&h);
    assert_int_equal(headers_of("Subject: a\r\n", &h, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "end of message"));
    assert_int_equal(headers_of(" folded first\r\n\r\n", &h, err, sizeof(err)), -1);
    assert_int_equal(headers_of("No colon here\r\n\r\n", &h, err, sizeof(err)), -1);
    assert_int_equal(headers_of("Sub ject: x\r\n\r\n", &h, err, sizeof(err)), -1);
    assert_int_equal(headers_of("Subject: a\rb\r\n\r\n", &h, err, sizeof(err)), -1);
    many = malloc((CM_HEADERS_MAX + 2) * 16);
    for (i = 0; i < CM_HEADERS_MAX + 1; i++)
	n += (size_t) sprintf(many + n, "X-H%zu: v\r\n", i);
    strcpy(many + n, "\r\n");
    assert_int_equal(headers_of(many, &h, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "header fields"));
    free(many);
    many = malloc(2000);
    memset(many, 'a', 1990);
    memcpy(many, "Subject: ", 9);
    strcpy(many + 1990, "\r\n\r\n");
    assert_int_equal(headers_of(many, &h, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too long"));
    free(many);
}

/* test_storedform - write, extract, and what extract refuses */
static void test_storedform(void **state)
{
    CM_HEADERS h;
    CM_STORED_INFO info;
    char    err[256];
    char    id[80];
    unsigned char blob[5000];
    FILE   *sealed, *out, *back;
    char   *text, *bad;
    size_t  len, i;
    char   *out_buf = 0, *back_buf = 0;
    size_t  out_len = 0, back_len = 0;

    for (i = 0; i < sizeof(blob); i++)
	blob[i] = (unsigned char) (i * 31 + 7);
    assert_int_equal(headers_of("From: a@b.c\r\nTo: d@e.f\r\nSubject: s\r\n\r\n", &h, err, sizeof(err)), 0);
    info.headers = &h;
    info.envelope_id = "20260101T000000Z.0011223344556677";
    info.sender = "a@b.c";
    info.server = "mail.b.c";
    info.date = "Thu, 01 Jan 2026 00:00:00 +0000";
    sealed = fmemopen(blob, sizeof(blob), "r");
    out = open_memstream(&out_buf, &out_len);
    assert_int_equal(cm_storedform_write(out, &info, sealed, err, sizeof(err)), 0);
    fclose(out);
    fclose(sealed);
    cm_headers_free(&h);
    assert_non_null(strstr(out_buf, "X-Cmail-Delivery-Type: CertifiedMail\r\n"));
    assert_non_null(strstr(out_buf, "is waiting for you"));
    /* Extract, with a header a mail system added in front. */
    len = strlen(out_buf) + 64;
    text = malloc(len);
    snprintf(text, len, "Return-Path: <a@b.c>\r\n%s", out_buf);
    sealed = fmemopen(text, strlen(text), "r");
    back = open_memstream(&back_buf, &back_len);
    assert_int_equal(cm_storedform_extract(sealed, id, sizeof(id), back, err, sizeof(err)), 0);
    fclose(back);
    fclose(sealed);
    assert_string_equal(id, info.envelope_id);
    assert_int_equal(back_len, sizeof(blob));
    assert_memory_equal(back_buf, blob, sizeof(blob));
    free(back_buf);
    /* Truncated: no closing boundary. */
    bad = strdup(text);
    *strstr(bad, "--=_cmail_20260101T000000Z.0011223344556677--") = 0;
    sealed = fmemopen(bad, strlen(bad), "r");
    back = fopen("/dev/null", "w");
    assert_int_equal(cm_storedform_extract(sealed, id, sizeof(id), back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    fclose(back);
    fclose(sealed);
    free(bad);
    /* Not a stored form. */
    sealed = fmemopen("Subject: x\r\n\r\nbody\r\n", 21, "r");
    back = fopen("/dev/null", "w");
    assert_int_equal(cm_storedform_extract(sealed, id, sizeof(id), back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a Cmail stored form"));
    fclose(back);
    fclose(sealed);
    /* Bad base64 inside the sealed part. */
    bad = strdup(text);
    {
	char   *p = strstr(bad, "filename=\"cmail-sealed.bin\"\r\n\r\n");

	p += strlen("filename=\"cmail-sealed.bin\"\r\n\r\n");
	p[0] = '!';
    }
    sealed = fmemopen(bad, strlen(bad), "r");
    back = fopen("/dev/null", "w");
    assert_int_equal(cm_storedform_extract(sealed, id, sizeof(id), back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "base64"));
    fclose(back);
    fclose(sealed);
    free(bad);
    free(text);
    free(out_buf);
}

/* test_container - round trip and malformed headers */
static void test_container(void **state)
{
    char    path[] = "/tmp/cmail-container-XXXXXX";
    int     fd = mkstemp(path);
    FILE   *env = fdopen(fd, "w+");
    char   *buf = 0;
    size_t  len = 0;
    FILE   *out = open_memstream(&buf, &len);
    FILE   *in;
    CM_CONTAINER c;
    char    err[256];
    char    rest[64];

    assert_non_null(env);
    fputs("ENVELOPE BYTES", env);
    fflush(env);
    assert_int_equal(cm_container_write(out, "e1", "<n/>", 4, env, err, sizeof(err)), 0);
    fclose(out);
    in = fmemopen(buf, len, "r");
    assert_int_equal(cm_container_read(in, &c, err, sizeof(err)), 0);
    assert_string_equal(c.envelope_id, "e1");
    assert_string_equal(c.notice, "<n/>");
    assert_int_equal(c.envelope_len, 14);
    assert_non_null(fgets(rest, sizeof(rest), in));
    assert_string_equal(rest, "ENVELOPE BYTES");
    cm_container_free(&c);
    fclose(in);
    /* A notice cut short, and a header that lies. */
    in = fmemopen(buf, len - 16, "r");
    assert_int_equal(cm_container_read(in, &c, err, sizeof(err)), -1);
    fclose(in);
    in = fmemopen("Cmail-Container: 2\r\n", 20, "r");
    assert_int_equal(cm_container_read(in, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "malformed"));
    fclose(in);
    free(buf);
    fclose(env);
    unlink(path);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_addr),
	cmocka_unit_test(test_headers),
	cmocka_unit_test(test_storedform),
	cmocka_unit_test(test_container),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
