/*++
 * NAME
 *	cm_relay_map 3
 * SUMMARY
 *	find the Cmail server of a mail domain: cmail_relay_map, then DNS MX
 * DESCRIPTION
 *	See cm_relay_map.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>

#include "cm_config.h"
#include "cm_relay_map.h"

#define RELAY_ANSWER_MAX	65536	/* a DNS message */
#define RELAY_DOMAIN_MAX	253

/* domain_ok - LDH labels, no empty label, at most 253 bytes */
static int domain_ok(const char *d, size_t len)
{
    size_t  i, label = 0;

    if (len == 0 || len > RELAY_DOMAIN_MAX || d[0] == '.' || d[len - 1] == '.')
	return (0);
    for (i = 0; i < len; i++) {
	unsigned char c = (unsigned char) d[i];

	if (c == '.') {
	    if (label == 0 || d[i - 1] == '-')
		return (0);
	    label = 0;
	} else if (isalnum(c) || c == '-' || c == '_') {
	    if (label == 0 && c == '-')
		return (0);
	    if (++label > 63)
		return (0);
	} else {
	    return (0);
	}
    }
    return (1);
}

/* port_ok - a decimal port 1..65535 */
static int port_ok(const char *p, size_t len, int *port)
{
    size_t  i;
    long    v = 0;

    if (len == 0 || len > 5)
	return (0);
    for (i = 0; i < len; i++) {
	if (!isdigit((unsigned char) p[i]))
	    return (0);
	v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
	return (0);
    *port = (int) v;
    return (1);
}

/* format_host - "host:port", or "[v6]:port" */
static void format_host(char *out, const char *host, size_t hlen, int port)
{
    if (memchr(host, ':', hlen))
	snprintf(out, CM_HOSTPORT_MAX, "[%.*s]:%d", (int) hlen, host, port);
    else
	snprintf(out, CM_HOSTPORT_MAX, "%.*s:%d", (int) hlen, host, port);
}

/* parse_value - host[:port], [host][:port] or [v6][:port] of one entry */
static int parse_value(const char *v, size_t len, int defport, char *out)
{
    const char *host = v, *rest;
    size_t  hlen;
    int     port = defport;

    if (len > 0 && v[0] == '[') {
	const char *close = memchr(v, ']', len);

	if (close == 0)
	    return (-1);
	host = v + 1;
	hlen = (size_t) (close - host);
	rest = close + 1;
	if (hlen == 0 || hlen > RELAY_DOMAIN_MAX)
	    return (-1);
	if (memchr(host, ':', hlen) == 0 && !domain_ok(host, hlen))
	    return (-1);
	if (memchr(host, ':', hlen)) {
	    size_t  i;

	    for (i = 0; i < hlen; i++)
		if (!isxdigit((unsigned char) host[i]) && host[i] != ':' && host[i] != '.')
		    return (-1);
	}
    } else {
	const char *colon = memchr(v, ':', len);

	hlen = colon ? (size_t) (colon - v) : len;
	rest = v + hlen;
	if (!domain_ok(host, hlen))
	    return (-1);
    }
    if (rest < v + len) {
	if (*rest != ':' || !port_ok(rest + 1, (size_t) (v + len - rest - 1), &port))
	    return (-1);
    }
    if (port < 1 || port > 65535)
	return (-1);
    format_host(out, host, hlen, port);
    return (0);
}

/* map_walk - check the map, collect the candidates of domain (NULL: check only) */
static int map_walk(const char *map, const char *domain, int port,
		            char hosts[][CM_HOSTPORT_MAX], int max, char *err, size_t errlen)
{
    const char *p = map ? map : "";
    size_t  dlen = domain ? strlen(domain) : 0;
    int     n = 0;

    if (domain && dlen > 1 && domain[dlen - 1] == '.')
	dlen--;
    while (*p) {
	const char *tok, *eq;
	size_t  tlen;
	char    hp[CM_HOSTPORT_MAX];

	p += strspn(p, ", \t");
	if (*p == 0)
	    break;
	tok = p;
	tlen = strcspn(p, ", \t");
	p += tlen;
	eq = memchr(tok, '=', tlen);
	if (eq == 0 || !domain_ok(tok, (size_t) (eq - tok))
	    || parse_value(eq + 1, (size_t) (tok + tlen - eq - 1), port > 0 ? port : 1, hp) < 0) {
	    snprintf(err, errlen, "cmail_relay_map: bad entry '%.*s' (want domain=host[:port])",
		     (int) (tlen > 200 ? 200 : tlen), tok);
	    return (-1);
	}
	if (domain && (size_t) (eq - tok) == dlen && strncasecmp(tok, domain, dlen) == 0
	    && n < max && n < CM_RELAY_HOSTS_MAX)
	    snprintf(hosts[n++], CM_HOSTPORT_MAX, "%s", hp);
    }
    return (n);
}

/* cm_relay_map_check - syntax of a cmail_relay_map value */
int     cm_relay_map_check(const char *map, char *err, size_t errlen)
{
    return (map_walk(map, 0, 0, 0, 0, err, errlen) < 0 ? -1 : 0);
}

/* cm_relay_map_find - the candidates the map lists for domain */
int     cm_relay_map_find(const char *map, const char *domain, int port,
			          char hosts[][CM_HOSTPORT_MAX], int max,
			          char *err, size_t errlen)
{
    return (map_walk(map, domain, port, hosts, max, err, errlen));
}

/* cm_relay_mx_parse - MX records of a DNS answer, lowest preference first */
int     cm_relay_mx_parse(const unsigned char *answer, int len, int port,
			          char hosts[][CM_HOSTPORT_MAX], int max,
			          char *err, size_t errlen)
{
    ns_msg  msg;
    ns_rr   rr;
    struct {
	unsigned pref;
	char    name[NS_MAXDNAME];
    }      *mx;
    int     nmx = 0, count, i, j, n = 0;

    if (answer == 0 || len <= 0 || ns_initparse(answer, len, &msg) < 0) {
	snprintf(err, errlen, "malformed DNS answer");
	return (-1);
    }
    if ((mx = calloc(CM_RELAY_MX_MAX, sizeof(*mx))) == 0) {
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    count = ns_msg_count(msg, ns_s_an);
    for (i = 0; i < count && nmx < CM_RELAY_MX_MAX; i++) {
	if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
	    snprintf(err, errlen, "malformed DNS answer record");
	    free(mx);
	    return (-1);
	}
	if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
	    continue;
	if (ns_rr_rdlen(rr) < 3
	    || dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2,
			 mx[nmx].name, sizeof(mx[nmx].name)) < 0) {
	    snprintf(err, errlen, "malformed MX record");
	    free(mx);
	    return (-1);
	}
	mx[nmx].pref = ns_get16(ns_rr_rdata(rr));
	/* A null MX (RFC 7505) names the root: no candidate from it. */
	if (mx[nmx].name[0] == 0 || strcmp(mx[nmx].name, ".") == 0)
	    continue;
	if (!domain_ok(mx[nmx].name, strlen(mx[nmx].name)))
	    continue;
	/* Insertion sort, stable: equal preferences keep the order received. */
	for (j = nmx; j > 0 && mx[j - 1].pref > mx[nmx].pref; j--)
	    ;
	if (j < nmx) {
	    unsigned pref = mx[nmx].pref;
	    char    name[NS_MAXDNAME];

	    memcpy(name, mx[nmx].name, sizeof(name));
	    memmove(mx + j + 1, mx + j, (size_t) (nmx - j) * sizeof(*mx));
	    mx[j].pref = pref;
	    memcpy(mx[j].name, name, sizeof(name));
	}
	nmx++;
    }
    for (i = 0; i < nmx && n < max && n < CM_RELAY_HOSTS_MAX; i++)
	format_host(hosts[n++], mx[i].name, strlen(mx[i].name), port);
    free(mx);
    return (n);
}

/* mx_lookup - DNS MX, bounded; the domain itself when there is no MX */
static int mx_lookup(const char *domain, int port, char hosts[][CM_HOSTPORT_MAX], int max,
		             char *err, size_t errlen)
{
    struct __res_state st;
    unsigned char *answer;
    int     len, n, herr;

    memset(&st, 0, sizeof(st));
    if (res_ninit(&st) < 0) {
	snprintf(err, errlen, "DNS resolver initialisation failed");
	return (-1);
    }
    if (st.retrans <= 0 || st.retrans > CM_RELAY_DNS_TIMEOUT)
	st.retrans = CM_RELAY_DNS_TIMEOUT;
    if (st.retry <= 0 || st.retry > CM_RELAY_DNS_TRIES)
	st.retry = CM_RELAY_DNS_TRIES;
    if ((answer = malloc(RELAY_ANSWER_MAX)) == 0) {
	res_nclose(&st);
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    len = res_nquery(&st, domain, ns_c_in, ns_t_mx, answer, RELAY_ANSWER_MAX);
    herr = st.res_h_errno;
    res_nclose(&st);
    if (len < 0) {
	free(answer);
	switch (herr) {
	case HOST_NOT_FOUND:
	    snprintf(err, errlen, "domain %s does not exist (DNS NXDOMAIN)", domain);
	    return (0);
	case NO_DATA:
	    format_host(hosts[0], domain, strlen(domain), port);
	    return (1);
	default:
	    snprintf(err, errlen, "DNS lookup of the MX records of %s failed: %s", domain,
		     herr == TRY_AGAIN ? "timeout or server failure" : hstrerror(herr));
	    return (-1);
	}
    }
    if (len > RELAY_ANSWER_MAX)
	len = RELAY_ANSWER_MAX;
    n = cm_relay_mx_parse(answer, len, port, hosts, max, err, errlen);
    if (n == 0) {
	ns_msg  msg;
	int     i, any_mx = 0;
	ns_rr   rr;

	/* No MX record at all (only CNAMEs, say): the domain itself. */
	if (ns_initparse(answer, len, &msg) == 0)
	    for (i = 0; i < ns_msg_count(msg, ns_s_an); i++)
		if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && ns_rr_type(rr) == ns_t_mx)
		    any_mx = 1;
	if (!any_mx) {
	    format_host(hosts[0], domain, strlen(domain), port);
	    n = 1;
	} else {
	    snprintf(err, errlen, "domain %s accepts no mail (null MX)", domain);
	}
    }
    free(answer);
    return (n);
}

/* cm_relay_lookup - candidates for the CMTP server of domain */
int     cm_relay_lookup(const CM_CONFIG *cf, const char *domain,
			        char hosts[][CM_HOSTPORT_MAX], int max,
			        char *err, size_t errlen)
{
    char    dom[RELAY_DOMAIN_MAX + 2];
    size_t  dlen;
    long long port = cm_config_int(cf, "cmtp_port");
    int     n;

    if (domain == 0 || (dlen = strlen(domain)) == 0 || dlen > RELAY_DOMAIN_MAX + 1) {
	snprintf(err, errlen, "bad domain");
	return (-1);
    }
    snprintf(dom, sizeof(dom), "%s", domain);
    if (dlen > 1 && dom[dlen - 1] == '.')
	dom[--dlen] = 0;
    if (!domain_ok(dom, dlen)) {
	snprintf(err, errlen, "bad domain '%.100s'", domain);
	return (-1);
    }
    if (port < 1 || port > 65535) {
	snprintf(err, errlen, "cmtp_port %lld out of range", port);
	return (-1);
    }
    if (max > CM_RELAY_HOSTS_MAX)
	max = CM_RELAY_HOSTS_MAX;
    if (max < 1) {
	snprintf(err, errlen, "no room for candidates");
	return (-1);
    }
    n = cm_relay_map_find(cm_config_str(cf, "cmail_relay_map"), dom, (int) port, hosts, max,
			  err, errlen);
    if (n != 0)
	return (n);
    return (mx_lookup(dom, (int) port, hosts, max, err, errlen));
}
