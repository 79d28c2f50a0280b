/*++
 * NAME
 *	test_milter 1
 * SUMMARY
 *	unit tests of cmail-milter's per-message decisions
 * DESCRIPTION
 *	The stream scanner (a case-insensitive search that must find the
 *	sealed type across any chunk boundary Postfix may choose), the
 *	X-Cmail header test, the reply text cleaner and the comparison of
 *	envelope recipients with sealed entities. milter_scan.c has no
 *	libmilter dependency and is compiled in here.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../milter/milter_scan.c"

static const char sealed[] = "application/x-cmail-sealed";

/* feed - scan text split at the given offsets; the scanner's answer */
static int feed(const char *text, const size_t *cuts, size_t ncuts)
{
    CMM_SCAN sc;
    size_t  from = 0, i;
    int     found = 0;

    cmm_scan_init(&sc, sealed);
    for (i = 0; i <= ncuts; i++) {
	size_t  to = i < ncuts ? cuts[i] : strlen(text);

	found = cmm_scan(&sc, (const unsigned char *) text + from, to - from);
	from = to;
    }
    return (found);
}

/* test_scan_one_chunk - found, case-insensitively, or not */
static void test_scan_one_chunk(void **state)
{
    (void) state;
    assert_int_equal(feed("Content-Type: application/x-cmail-sealed\r\n", 0, 0), 1);
    assert_int_equal(feed("Content-Type: APPLICATION/X-CMAIL-SEALED\r\n", 0, 0), 1);
    assert_int_equal(feed(sealed, 0, 0), 1);
    assert_int_equal(feed("application/x-cmail-seale", 0, 0), 0);
    assert_int_equal(feed("application/x-cmail-sealeD", 0, 0), 1);
    assert_int_equal(feed("application/x-cmail-sea1ed application/x-cmail", 0, 0), 0);
    assert_int_equal(feed("", 0, 0), 0);
}

/* test_scan_every_split - the needle cut in two at every position */
static void test_scan_every_split(void **state)
{
    char    text[128];
    size_t  prefix, cut;

    (void) state;
    for (prefix = 0; prefix < 3; prefix++) {
	snprintf(text, sizeof(text), "%.*sapplication/X-Cmail-Sealed tail", (int) prefix, "xyz");
	for (cut = 1; cut < strlen(text); cut++)
	    assert_int_equal(feed(text, &cut, 1), 1);
    }
}

/* test_scan_three_chunks - a 1-byte middle chunk, and byte by byte */
static void test_scan_three_chunks(void **state)
{
    const char *text = "....application/x-cmail-sealed....";
    size_t  cuts[40];
    size_t  i, a;

    (void) state;
    for (a = 1; a + 1 < strlen(text); a++) {
	cuts[0] = a;
	cuts[1] = a + 1;
	assert_int_equal(feed(text, cuts, 2), 1);
    }
    for (i = 0; i + 1 < strlen(text) && i < 40; i++)
	cuts[i] = i + 1;
    assert_int_equal(feed(text, cuts, i), 1);
    /* Byte by byte but with one letter wrong: never found. */
    text = "....application/x-cmail-sealer....";
    for (i = 0; i + 1 < strlen(text) && i < 40; i++)
	cuts[i] = i + 1;
    assert_int_equal(feed(text, cuts, i), 0);
}

/* test_scan_carry_not_stale - an old prefix does not join a late suffix */
static void test_scan_carry_not_stale(void **state)
{
    const char *text = "application/x-cm" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	"ail-sealed";
    size_t  cuts[2] = {16, 70};

    (void) state;
    assert_int_equal(feed(text, cuts, 2), 0);
}

/* test_scan_sticky - once found, stays found */
static void test_scan_sticky(void **state)
{
    CMM_SCAN sc;

    (void) state;
    cmm_scan_init(&sc, sealed);
    assert_int_equal(cmm_scan(&sc, (const unsigned char *) sealed, strlen(sealed)), 1);
    assert_int_equal(cmm_scan(&sc, (const unsigned char *) "x", 1), 1);
    assert_int_equal(cmm_scan(&sc, (const unsigned char *) "", 0), 1);
}

/* naive - reference: case-insensitive search, byte by byte */
static int naive(const char *hay, size_t hlen, const char *needle)
{
    size_t  nl = strlen(needle), i, j;

    for (i = 0; i + nl <= hlen; i++) {
	for (j = 0; j < nl && lower((unsigned char) hay[i + j]) == lower((unsigned char) needle[j]); j++)
	     /* void */ ;
	if (j == nl)
	    return (1);
    }
    return (0);
}

/* test_scan_anchor - the memchr() anchor at every position, and without one */
static void test_scan_anchor(void **state)
{
    static const char *needles[] = {"application/x-cmail-sealed", "/x", "x/", "/", "a/b/c",
	"abc", "sealed", "a-b", "A.B"};
    static const char alphabet[] = "aAbBcCxX/-.";
    char    hay[41];
    unsigned seed = 1;
    size_t  n, k, len;

    (void) state;
    for (n = 0; n < sizeof(needles) / sizeof(needles[0]); n++) {
	for (k = 0; k < 3000; k++) {
	    CMM_SCAN sc;
	    size_t  i, cut;
	    int     found;

	    len = k % (sizeof(hay) - 1);
	    for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		hay[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
	    }
	    /* Plant the needle (in some case) now and then, also at both ends. */
	    if (k % 3 == 0 && strlen(needles[n]) <= len) {
		size_t  at = k % 2 ? len - strlen(needles[n]) : (k / 7) % (len - strlen(needles[n]) + 1);

		for (i = 0; needles[n][i]; i++)
		    hay[at + i] = (char) ((k & 4) ? toupper((unsigned char) needles[n][i])
					  : needles[n][i]);
	    }
	    cut = len ? k % len : 0;
	    cmm_scan_init(&sc, needles[n]);
	    found = cmm_scan(&sc, (const unsigned char *) hay, cut);
	    found = cmm_scan(&sc, (const unsigned char *) hay + cut, len - cut);
	    assert_int_equal(found, naive(hay, len, needles[n]));
	    hay[len] = 0;
	    assert_int_equal(cmm_contains_nocase(hay, needles[n]), naive(hay, len, needles[n]));
	}
    }
}

/* test_header_names - the X-Cmail- prefix */
static void test_header_names(void **state)
{
    (void) state;
    assert_int_equal(cmm_header_is_cmail("X-Cmail-Delivery-Type"), 1);
    assert_int_equal(cmm_header_is_cmail("x-cMAIL-envelope-id"), 1);
    assert_int_equal(cmm_header_is_cmail("X-Cmail-"), 1);
    assert_int_equal(cmm_header_is_cmail("X-Cmail"), 0);
    assert_int_equal(cmm_header_is_cmail("X-Cmailer"), 0);
    assert_int_equal(cmm_header_is_cmail("Subject"), 0);
    assert_int_equal(cmm_contains_nocase("multipart/mixed; x=Application/X-Cmail-Sealed", sealed), 1);
    assert_int_equal(cmm_contains_nocase("application/x-cmail", sealed), 0);
}

/* test_reply_text - printable, no '%', bounded */
static void test_reply_text(void **state)
{
    char    out[16];

    (void) state;
    cmm_reply_text(out, sizeof(out), "100% sure\r\nX");
    assert_string_equal(out, "100? sure??X");
    cmm_reply_text(out, sizeof(out), "a very long reason indeed");
    assert_int_equal(strlen(out), sizeof(out) - 1);
    cmm_reply_text(out, sizeof(out), "caf\xc3\xa9");
    assert_string_equal(out, "caf??");
}

/* match - cmm_match_recipients() on string lists */
static int match(char **r, size_t nr, const char **e, size_t ne)
{
    char    why[300];

    why[0] = 0;
    return (cmm_match_recipients(r, nr, e, ne, why, sizeof(why)));
}

/* test_recipients - the envelope equals the sealed entities, one to one */
static void test_recipients(void **state)
{
    char   *r2[] = {"carol@example.org", "bob@EXAMPLE.org"};
    char   *r3[] = {"carol@example.org", "bob@example.org", "alice@example.org"};
    char   *rdup[] = {"bob@example.org", "bob@example.org"};
    char   *rcase[] = {"Bob@example.org", "carol@example.org"};
    const char *e2[] = {"bob@example.org", "carol@example.org"};
    const char *edup[] = {"bob@example.org", "bob@example.org"};
    const char *enull[] = {"bob@example.org", 0};
    char    why[300];

    (void) state;
    assert_int_equal(match(r2, 2, e2, 2), 1);
    assert_int_equal(match(r3, 3, e2, 2), 0);		/* extra recipient */
    assert_int_equal(match(r2, 1, e2, 2), 1);		/* a share of the entities */
    assert_int_equal(match(rdup, 2, e2, 2), 0);		/* bob twice, carol never */
    assert_int_equal(match(r2, 2, edup, 2), 0);		/* bob sealed twice */
    assert_int_equal(match(rcase, 2, e2, 2), 0);	/* local parts are exact */
    assert_int_equal(match(r2, 2, enull, 2), 0);
    assert_int_equal(match(r2, 0, e2, 0), 0);		/* nobody */
    assert_int_equal(cmm_match_recipients(r3, 3, e2, 2, why, sizeof(why)), 0);
    assert_string_equal(why, "3 envelope recipients, 2 sealed entities");
    assert_int_equal(cmm_match_recipients(rdup, 2, e2, 2, why, sizeof(why)), 0);
    assert_string_equal(why, "<bob@example.org> is an envelope recipient more than once");
}

/* main - one group, run once */
int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_scan_one_chunk),
	cmocka_unit_test(test_scan_every_split),
	cmocka_unit_test(test_scan_three_chunks),
	cmocka_unit_test(test_scan_carry_not_stale),
	cmocka_unit_test(test_scan_sticky),
	cmocka_unit_test(test_scan_anchor),
	cmocka_unit_test(test_header_names),
	cmocka_unit_test(test_reply_text),
	cmocka_unit_test(test_recipients),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
