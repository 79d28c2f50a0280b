/*++
 * NAME
 *	cm_addr 3
 * SUMMARY
 *	strict mail address syntax and SMTP path parsing
 * DESCRIPTION
 *	See cm_addr.h.
 *--*/
#include "config.h"
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "cm_limits.h"
#include "cm_addr.h"

/* atext - RFC 5322 atext characters */
static int atext(int c)
{
    return (isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0));
}

/* cm_addr_valid - dot-atom local part @ LDH domain */
int     cm_addr_valid(const char *addr)
{
    const char *at = strrchr(addr, '@');
    const char *p;
    size_t  label = 0;

    if (at == 0 || at == addr || strlen(addr) > CM_ADDRESS_MAX || at - addr > 64)
	return (0);
    for (p = addr; p < at; p++) {
	if (*p == '.') {
	    if (p == addr || p[1] == '.' || p + 1 == at)
		return (0);
	} else if (!atext((unsigned char) *p) || *p == '/') {
	    return (0);
	}
    }
    if (at[1] == 0)
	return (0);
    for (p = at + 1; *p; p++) {
	if (*p == '.') {
	    if (label == 0 || p[-1] == '-' || p[1] == 0)
		return (0);
	    label = 0;
	} else if (isalnum((unsigned char) *p) || (*p == '-' && label > 0)) {
	    if (++label > 63)
		return (0);
	} else {
	    return (0);
	}
    }
    return (p[-1] != '-');
}

/* cm_addr_parse_path - "<a@b> params" or ":<a@b> params" */
int     cm_addr_parse_path(const char *arg, char *addr, size_t size, const char **params)
{
    const char *p = arg;
    const char *end;
    size_t  len;

    if (*p == ':')
	p++;
    while (*p == ' ' || *p == '\t')
	p++;
    if (*p != '<' || (end = strchr(p, '>')) == 0)
	return (-1);
    len = (size_t) (end - p - 1);
    if (len == 0 || len >= size)
	return (-1);
    memcpy(addr, p + 1, len);
    addr[len] = 0;
    if (!cm_addr_valid(addr))
	return (-1);
    p = end + 1;
    if (*p && *p != ' ' && *p != '\t')
	return (-1);
    while (*p == ' ' || *p == '\t')
	p++;
    *params = p;
    return (0);
}

/* cm_addr_domain - the part after the last '@' */
const char *cm_addr_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');

    return (at ? at + 1 : "");
}

/* cm_addr_equal - local part exact, domain case-insensitive */
int     cm_addr_equal(const char *a, const char *b)
{
    const char *da = strrchr(a, '@');
    const char *db = strrchr(b, '@');

    if (da == 0 || db == 0 || da - a != db - b)
	return (0);
    return (strncmp(a, b, (size_t) (da - a)) == 0 && strcasecmp(da, db) == 0);
}

/* cm_domain_listed - domain in a blank/comma separated list */
int     cm_domain_listed(const char *domain, const char *list)
{
    size_t  dl = strlen(domain);
    const char *p = list;

    while (*p) {
	size_t  n;

	p += strspn(p, " \t,");
	n = strcspn(p, " \t,");
	if (n == dl && n > 0 && strncasecmp(p, domain, n) == 0)
	    return (1);
	p += n;
    }
    return (0);
}
