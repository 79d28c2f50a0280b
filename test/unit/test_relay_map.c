/*++
 * NAME
 *	test_relay_map 1
 * SUMMARY
 *	unit tests of cm_relay_map: cmail_relay_map syntax and lookup, MX
 *	answers (hand-built DNS messages), cm_relay_lookup() with a map
 * DESCRIPTION
 *	No test asks a real DNS server: the MX parser is fed DNS messages
 *	built here byte by byte (RFC 1035 section 4, with name
 *	compression), and cm_relay_lookup() is only run for domains the map
 *	lists or names it refuses before any query.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_config.h"
#include "cm_relay_map.h"

static char hosts[CM_RELAY_HOSTS_MAX][CM_HOSTPORT_MAX];
static char err[512];

/* test_map_check - good and bad map values */
static void test_map_check(void **state)
{
    static const char *good[] = {
	"",
	"b.test=127.0.0.3:10587",
	"b.test=127.0.0.3:10587, c.test=[mx.c.test]:10587 d.test=[::1]",
	"  b.test=mx.b.test ,,\tc.test=[mx.c.test]  ",
	"b.test=[2001:db8::1]:25",
	"B.Test=MX.B.TEST:1",
	"b.test=host:65535",
    };
    static const char *bad[] = {
	"b.test",
	"=host",
	"b.test=",
	"b.test=host:0",
	"b.test=host:65536",
	"b.test=host:",
	"b.test=host:12a",
	"b.test=[::1",
	"b.test=[]",
	"b..test=host",
	"-b.test=host",
	"b.test=ho$t",
	"b.test=ho st",
	"b.test=2001:db8::1",
	"b.test=[mx.c.test]x",
	"b.test=[g::1]",
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
	if (cm_relay_map_check(good[i], err, sizeof(err)) != 0)
	    fprintf(stderr, "# good map refused: '%s': %s\n", good[i], err);
	assert_int_equal(cm_relay_map_check(good[i], err, sizeof(err)), 0);
    }
    assert_int_equal(cm_relay_map_check(0, err, sizeof(err)), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	if (cm_relay_map_check(bad[i], err, sizeof(err)) != -1)
	    fprintf(stderr, "# bad map accepted: '%s'\n", bad[i]);
	assert_int_equal(cm_relay_map_check(bad[i], err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cmail_relay_map: bad entry"));
    }
}

/* test_map_find - candidates in the order written, ports, brackets */
static void test_map_find(void **state)
{
    const char *map = "b.test=127.0.0.3:10587, c.test=[mx.c.test]:2525 d.test=[::1] "
	"e.test=mx1.e.test e.test=mx2.e.test:26 E.TEST=[192.0.2.1]";

    (void) state;
    assert_int_equal(cm_relay_map_find(map, "b.test", 10587, hosts, 4, err, sizeof(err)), 1);
    assert_string_equal(hosts[0], "127.0.0.3:10587");
    assert_int_equal(cm_relay_map_find(map, "C.Test", 10587, hosts, 4, err, sizeof(err)), 1);
    assert_string_equal(hosts[0], "mx.c.test:2525");
    assert_int_equal(cm_relay_map_find(map, "d.test", 4000, hosts, 4, err, sizeof(err)), 1);
    assert_string_equal(hosts[0], "[::1]:4000");
    assert_int_equal(cm_relay_map_find(map, "e.test.", 10587, hosts, 4, err, sizeof(err)), 3);
    assert_string_equal(hosts[0], "mx1.e.test:10587");
    assert_string_equal(hosts[1], "mx2.e.test:26");
    assert_string_equal(hosts[2], "192.0.2.1:10587");
    /* max bounds what is written */
    assert_int_equal(cm_relay_map_find(map, "e.test", 10587, hosts, 2, err, sizeof(err)), 2);
    /* not listed, or only a suffix/prefix of a listed domain */
    assert_int_equal(cm_relay_map_find(map, "f.test", 10587, hosts, 4, err, sizeof(err)), 0);
    assert_int_equal(cm_relay_map_find(map, "test", 10587, hosts, 4, err, sizeof(err)), 0);
    assert_int_equal(cm_relay_map_find(map, "xb.test", 10587, hosts, 4, err, sizeof(err)), 0);
    assert_int_equal(cm_relay_map_find(map, "b.tes", 10587, hosts, 4, err, sizeof(err)), 0);
    /* a bad map is an error, even when the domain comes first */
    assert_int_equal(cm_relay_map_find("b.test=x, oops", "b.test", 1, hosts, 4, err, sizeof(err)), -1);
}

/* lookup - cm_relay_lookup() with a configuration text */
static int lookup(const char *conf, const char *domain, int max)
{
    CM_CONFIG *cf = cm_config_parse(conf, strlen(conf), "test", err, sizeof(err));
    int     n;

    assert_non_null(cf);
    n = cm_relay_lookup(cf, domain, hosts, max, err, sizeof(err));
    cm_config_free(cf);
    return (n);
}

/* test_lookup_map - the map wins, cmtp_port is the default port */
static void test_lookup_map(void **state)
{
    (void) state;
    assert_int_equal(lookup("cmail_relay_map = b.test=mx.b.test\n", "b.test", 4), 1);
    assert_string_equal(hosts[0], "mx.b.test:10587");
    assert_int_equal(lookup("cmail_relay_map = b.test=mx.b.test c.test=[::1]:99\ncmtp_port = 2525\n",
			    "b.test", 4), 1);
    assert_string_equal(hosts[0], "mx.b.test:2525");
    assert_int_equal(lookup("cmail_relay_map = b.test=mx.b.test c.test=[::1]:99\ncmtp_port = 2525\n",
			    "c.test", 4), 1);
    assert_string_equal(hosts[0], "[::1]:99");
    /* refused before any DNS query */
    assert_int_equal(lookup("", "", 4), -1);
    assert_int_equal(lookup("", "bad..domain", 4), -1);
    assert_non_null(strstr(err, "bad domain"));
    assert_int_equal(lookup("", "a@b.test", 4), -1);
    assert_int_equal(lookup("cmtp_port = 70000\n", "b.test", 4), -1);
    assert_non_null(strstr(err, "cmtp_port"));
    assert_int_equal(lookup("cmail_relay_map = b.test=x\n", "b.test", 0), -1);
    assert_int_equal(lookup("cmail_relay_map = oops\n", "b.test", 4), -1);
}

/* DNS message builder. */
typedef struct {
    unsigned char buf[2048];
    size_t  len;
} PKT;

/* put16 - a 16-bit big-endian value */
static void put16(PKT *p, unsigned v)
{
    p->buf[p->len++] = (unsigned char) (v >> 8);
    p->buf[p->len++] = (unsigned char) v;
}

/* put_name - a domain name as labels ("" is the root) */
static void put_name(PKT *p, const char *name)
{
    while (*name) {
	size_t  n = strcspn(name, ".");

	p->buf[p->len++] = (unsigned char) n;
	memcpy(p->buf + p->len, name, n);
	p->len += n;
	name += n;
	if (*name == '.')
	    name++;
    }
    p->buf[p->len++] = 0;
}

/* pkt_start - header and the question "domain MX IN" at offset 12 */
static void pkt_start(PKT *p, const char *domain, unsigned ancount)
{
    memset(p, 0, sizeof(*p));
    put16(p, 0x1234);				/* id */
    put16(p, 0x8180);				/* response, RD, RA, NOERROR */
    put16(p, 1);
    put16(p, ancount);
    put16(p, 0);
    put16(p, 0);
    put_name(p, domain);
    put16(p, 15);				/* MX */
    put16(p, 1);				/* IN */
}

/* put_mx - one MX answer for the question's name (compressed), exchange as given */
static void put_mx(PKT *p, unsigned pref, const char *exchange, int compress_suffix)
{
    size_t  rdlen_at;

    put16(p, 0xc00c);				/* owner: the question name */
    put16(p, 15);
    put16(p, 1);
    put16(p, 0);
    put16(p, 300);				/* TTL */
    rdlen_at = p->len;
    put16(p, 0);
    put16(p, pref);
    if (compress_suffix) {
	/* "label" + pointer to the question name: label.<domain> */
	p->buf[p->len++] = (unsigned char) strlen(exchange);
	memcpy(p->buf + p->len, exchange, strlen(exchange));
	p->len += strlen(exchange);
	put16(p, 0xc00c);
    } else {
	put_name(p, exchange);
    }
    p->buf[rdlen_at] = (unsigned char) ((p->len - rdlen_at - 2) >> 8);
    p->buf[rdlen_at + 1] = (unsigned char) (p->len - rdlen_at - 2);
}

/* put_a - an A record (not an MX: ignored) */
static void put_a(PKT *p)
{
    put16(p, 0xc00c);
    put16(p, 1);
    put16(p, 1);
    put16(p, 0);
    put16(p, 300);
    put16(p, 4);
    put16(p, 0xc000);
    put16(p, 0x0201);
}

/* test_mx_parse - lowest preference first, stable, null MX, junk */
static void test_mx_parse(void **state)
{
    PKT     p;
    int     i;

    (void) state;
    pkt_start(&p, "b.test", 5);
    put_mx(&p, 20, "mx2.b.test", 0);
    put_a(&p);
    put_mx(&p, 10, "mx1", 1);			/* mx1.b.test, compressed */
    put_mx(&p, 20, "mx3.b.test", 0);
    put_mx(&p, 5, "backup.example.net", 0);
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len, 10587, hosts, 8, err, sizeof(err)), 4);
    assert_string_equal(hosts[0], "backup.example.net:10587");
    assert_string_equal(hosts[1], "mx1.b.test:10587");
    assert_string_equal(hosts[2], "mx2.b.test:10587");
    assert_string_equal(hosts[3], "mx3.b.test:10587");
    /* max */
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len, 25, hosts, 2, err, sizeof(err)), 2);
    assert_string_equal(hosts[1], "mx1.b.test:25");

    /* null MX (RFC 7505): no candidate */
    pkt_start(&p, "b.test", 1);
    put_mx(&p, 0, "", 0);
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len, 10587, hosts, 8, err, sizeof(err)), 0);

    /* no MX in the answer */
    pkt_start(&p, "b.test", 1);
    put_a(&p);
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len, 10587, hosts, 8, err, sizeof(err)), 0);

    /* an exchange that is not a host name is skipped */
    pkt_start(&p, "b.test", 2);
    put_mx(&p, 10, "bad_name!.b.test", 0);
    put_mx(&p, 20, "ok.b.test", 0);
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len, 10587, hosts, 8, err, sizeof(err)), 1);
    assert_string_equal(hosts[0], "ok.b.test:10587");

    /* more records than CM_RELAY_MX_MAX: bounded */
    pkt_start(&p, "b.test", CM_RELAY_MX_MAX + 8);
    for (i = 0; i < CM_RELAY_MX_MAX + 8; i++)
	put_mx(&p, (unsigned) (100 - i), "mx", 1);
    assert_true(p.len < sizeof(p.buf));
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len, 1, hosts, CM_RELAY_HOSTS_MAX, err, sizeof(err)),
		     CM_RELAY_HOSTS_MAX);

    /* malformed: truncated, a pointer loop, nothing */
    pkt_start(&p, "b.test", 1);
    put_mx(&p, 10, "mx1.b.test", 0);
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len - 3, 1, hosts, 8, err, sizeof(err)), -1);
    assert_int_equal(cm_relay_mx_parse(p.buf, 5, 1, hosts, 8, err, sizeof(err)), -1);
    assert_int_equal(cm_relay_mx_parse(0, 0, 1, hosts, 8, err, sizeof(err)), -1);
    pkt_start(&p, "b.test", 1);
    put16(&p, 0xc00c);
    put16(&p, 15);
    put16(&p, 1);
    put16(&p, 0);
    put16(&p, 300);
    put16(&p, 4);
    put16(&p, 10);
    put16(&p, (unsigned) (0xc000 | p.len));	/* the exchange points at itself */
    assert_int_equal(cm_relay_mx_parse(p.buf, (int) p.len, 1, hosts, 8, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "malformed"));
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_map_check),
	cmocka_unit_test(test_map_find),
	cmocka_unit_test(test_lookup_map),
	cmocka_unit_test(test_mx_parse),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
