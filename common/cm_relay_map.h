#ifndef CM_RELAY_MAP_H
#define CM_RELAY_MAP_H
/*++
 * NAME
 *	cm_relay_map 3h
 * SUMMARY
 *	find the Cmail server of a mail domain: cmail_relay_map, then DNS MX
 * SYNOPSIS
 *	#include "cm_relay_map.h"
 *
 *	int	cm_relay_lookup(const CM_CONFIG *cf, const char *domain,
 *				char hosts[][CM_HOSTPORT_MAX], int max,
 *				char *err, size_t errlen);
 *	int	cm_relay_map_check(const char *map, char *err, size_t errlen);
 *	int	cm_relay_map_find(const char *map, const char *domain,
 *				int port, char hosts[][CM_HOSTPORT_MAX], int max,
 *				char *err, size_t errlen);
 *	int	cm_relay_mx_parse(const unsigned char *answer, int len,
 *				int port, char hosts[][CM_HOSTPORT_MAX], int max,
 *				char *err, size_t errlen);
 * DESCRIPTION
 *	cm_relay_lookup() writes up to max (at most CM_RELAY_HOSTS_MAX)
 *	"host:port" candidates, best first, for the CMTP server of domain
 *	(cm_connect() takes them as they are):
 *
 *	1. cmail.conf cmail_relay_map: entries "domain=host[:port]"
 *	   separated by commas and/or blanks, e.g. "b.test=127.0.0.3:10587,
 *	   c.test=[mx.c.test]:10587 d.test=[::1]". The domain compares
 *	   case-insensitively; several entries for one domain give several
 *	   candidates in the order written; "[host]" is the host itself
 *	   (brackets kept only around an IPv6 address); no port means
 *	   cmail.conf cmtp_port. When the domain is listed, DNS is not
 *	   asked.
 *	2. DNS: the MX records of domain (res_nquery(), class IN), lowest
 *	   preference first (equal preferences in the order received), each
 *	   with port cmtp_port. No MX record: the domain itself (RFC 5321
 *	   implicit MX). A null MX (RFC 7505, a single "." exchange) or a
 *	   domain that does not exist (NXDOMAIN): no candidate.
 *	   Waiting is bounded: each query waits CM_RELAY_DNS_TIMEOUT
 *	   seconds per try, CM_RELAY_DNS_TRIES tries (resolv.conf may
 *	   lower both), and at most CM_RELAY_MX_MAX records are read.
 *
 *	It returns the number of candidates (1..max); 0 when the domain has
 *	no Cmail server (null MX, NXDOMAIN: a permanent condition); -1
 *	with a reason in err on trouble worth retrying (DNS timeout or
 *	SERVFAIL) or a malformed map or domain.
 *
 *	cm_relay_map_check() checks the syntax of a map value (as the
 *	programs do at start-up) and returns 0, or -1 with the first bad
 *	entry in err.
 *
 *	cm_relay_map_find() looks domain up in the map text: the number of
 *	candidates, 0 when the domain is not listed, -1 for a bad map.
 *
 *	cm_relay_mx_parse() turns a DNS answer (from res_nquery() for type
 *	MX) into candidates: the count (0 for a null MX or no MX record),
 *	or -1 for a malformed answer. Exposed for tests.
 * SEE ALSO
 *	cm_cmtp_client(3h), cmail.conf(5), notes/s2s.md
 *--*/
#include <stddef.h>
#include "cm_config.h"

#define CM_HOSTPORT_MAX		(253 + 2 + 1 + 5 + 1)	/* [host]:port and NUL */
#define CM_RELAY_HOSTS_MAX	16	/* candidates per domain */
#define CM_RELAY_MX_MAX		32	/* MX records read per answer */
#define CM_RELAY_DNS_TIMEOUT	5	/* seconds per DNS try */
#define CM_RELAY_DNS_TRIES	2	/* DNS tries */

extern int cm_relay_lookup(const CM_CONFIG *cf, const char *domain,
			           char hosts[][CM_HOSTPORT_MAX], int max,
			           char *err, size_t errlen);
extern int cm_relay_map_check(const char *map, char *err, size_t errlen);
extern int cm_relay_map_find(const char *map, const char *domain, int port,
			             char hosts[][CM_HOSTPORT_MAX], int max,
			             char *err, size_t errlen);
extern int cm_relay_mx_parse(const unsigned char *answer, int len, int port,
			             char hosts[][CM_HOSTPORT_MAX], int max,
			             char *err, size_t errlen);

#endif
