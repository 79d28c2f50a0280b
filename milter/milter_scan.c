/*++
 * NAME
 *	milter_scan 3
 * SUMMARY
 *	cheap tests cmail-milter runs on every message
 * DESCRIPTION
 *	See cmail_milter.h. Nothing here allocates memory or knows about
 *	libmilter, so the unit test links it directly.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "cm_addr.h"
#include "cmail_milter.h"

/* lower - ASCII lower case of a byte */
static int lower(int c)
{
    return (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* find_nocase - 1 when needle (lower case, len > 0) occurs in buf */
static int find_nocase(const unsigned char *buf, size_t buflen, const char *needle, size_t len)
{
    const unsigned char *p, *s, *end;
    size_t  a, i, j;
    int     first = (unsigned char) needle[0];

    if (buflen < len)
	return (0);

    /*
     * Anchor on the first needle byte that has no case (the "/" of a
     * media type): memchr() skips to its occurrences, instead of a test
     * of every byte of the body.
     */
    for (a = 0; a < len && needle[a] >= 'a' && needle[a] <= 'z'; a++)
	 /* void */ ;
    if (a < len) {
	end = buf + buflen - (len - 1 - a);	/* after the last possible anchor */
	for (p = buf + a; p < end && (p = memchr(p, needle[a], (size_t) (end - p))) != 0; p++) {
	    s = p - a;
	    for (j = 0; j < len && lower(s[j]) == (unsigned char) needle[j]; j++)
		 /* void */ ;
	    if (j == len)
		return (1);
	}
	return (0);
    }
    for (i = 0; i <= buflen - len; i++) {
	if (lower(buf[i]) != first)
	    continue;
	for (j = 1; j < len && lower(buf[i + j]) == (unsigned char) needle[j]; j++)
	     /* void */ ;
	if (j == len)
	    return (1);
    }
    return (0);
}

/* cmm_scan_init - prepare a case-insensitive stream search */
void    cmm_scan_init(CMM_SCAN *sc, const char *needle)
{
    size_t  i;

    memset(sc, 0, sizeof(*sc));
    for (i = 0; i < CMM_NEEDLE_MAX && needle[i]; i++)
	sc->needle[i] = (char) lower((unsigned char) needle[i]);
    sc->needle[i] = 0;
    sc->len = i;
}

/* cmm_scan - feed one chunk; 1 once the needle was seen */
int     cmm_scan(CMM_SCAN *sc, const unsigned char *buf, size_t len)
{
    unsigned char join[2 * CMM_NEEDLE_MAX];
    size_t  head, keep;

    if (sc->found || sc->len == 0)
	return (sc->found = 1);

    /* A match straddling the boundary: the carry plus the chunk's head. */
    if (sc->ncarry > 0) {
	head = len < sc->len - 1 ? len : sc->len - 1;
	memcpy(join, sc->carry, sc->ncarry);
	memcpy(join + sc->ncarry, buf, head);
	if (find_nocase(join, sc->ncarry + head, sc->needle, sc->len))
	    return (sc->found = 1);
    }
    if (find_nocase(buf, len, sc->needle, sc->len))
	return (sc->found = 1);

    /* Keep the last len-1 bytes of the stream. */
    keep = sc->len - 1;
    if (len >= keep) {
	memcpy(sc->carry, buf + len - keep, keep);
	sc->ncarry = keep;
    } else {
	size_t  old = sc->ncarry + len > keep ? keep - len : sc->ncarry;

	memmove(sc->carry, sc->carry + sc->ncarry - old, old);
	memcpy(sc->carry + old, buf, len);
	sc->ncarry = old + len;
    }
    return (0);
}

/* cmm_header_is_cmail - an X-Cmail-* field name */
int     cmm_header_is_cmail(const char *name)
{
    return (strncasecmp(name, "X-Cmail-", 8) == 0);
}

/* cmm_contains_nocase - case-insensitive substring test */
int     cmm_contains_nocase(const char *hay, const char *needle)
{
    char    low[CMM_NEEDLE_MAX + 1];
    size_t  i;

    for (i = 0; i < CMM_NEEDLE_MAX && needle[i]; i++)
	low[i] = (char) lower((unsigned char) needle[i]);
    low[i] = 0;
    return (i > 0 && find_nocase((const unsigned char *) hay, strlen(hay), low, i));
}

/* cmm_reply_text - printable ASCII without '%', for smfi_setreply() */
void    cmm_reply_text(char *out, size_t outlen, const char *text)
{
    size_t  i;

    if (outlen == 0)
	return;
    for (i = 0; text[i] && i + 1 < outlen; i++) {
	unsigned char c = (unsigned char) text[i];

	out[i] = (c >= 0x20 && c < 0x7f && c != '%') ? (char) c : '?';
    }
    out[i] = 0;
}

/* cmm_match_recipients - each envelope recipient is a distinct sealed entity */
int     cmm_match_recipients(char *const *rcpts, size_t nrcpt,
			             const char *const *entities, size_t nentity,
			             char *why, size_t whylen)
{
    unsigned char *used;
    size_t  r, e, hits, hit = 0;
    int     ret = 0;

    if (nrcpt > nentity) {
	snprintf(why, whylen, "%zu envelope recipients, %zu sealed entities", nrcpt, nentity);
	return (0);
    }
    if (nrcpt == 0) {
	snprintf(why, whylen, "no recipients");
	return (0);
    }
    if ((used = calloc(nentity, 1)) == 0) {
	snprintf(why, whylen, "out of memory");
	return (0);
    }
    for (r = 0; r < nrcpt; r++) {
	for (hits = 0, e = 0; e < nentity; e++) {
	    if (entities[e] && cm_addr_equal(rcpts[r], entities[e])) {
		hits++;
		hit = e;
	    }
	}
	if (hits != 1) {
	    snprintf(why, whylen, hits ? "<%.254s> is sealed more than once"
		     : "<%.254s> is not a sealed entity", rcpts[r]);
	    goto done;
	}
	if (used[hit]) {
	    snprintf(why, whylen, "<%.254s> is an envelope recipient more than once", rcpts[r]);
	    goto done;
	}
	used[hit] = 1;
    }
    ret = 1;
done:
    free(used);
    return (ret);
}
