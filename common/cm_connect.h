#ifndef CM_CONNECT_H
#define CM_CONNECT_H
/*++
 * NAME
 *	cm_connect 3h
 * SUMMARY
 *	open a stream connection to host:port, [v6]:port or unix:/path
 * SYNOPSIS
 *	#include "cm_connect.h"
 *
 *	int	cm_connect(const char *where, int timeout, char *err, size_t errlen);
 * DESCRIPTION
 *	Resolves host (numeric addresses and names) and tries each address
 *	in turn, each connect bounded by timeout seconds. Returns a
 *	close-on-exec descriptor, or -1 with a reason in err. A TCP
 *	connection has TCP_NODELAY set: callers send whole, buffered
 *	commands and wait for the reply (Nagle would only hold back the
 *	tail of a command split over two writes).
 *
 *	cm_connect_host() copies the host part of where ("mail.example.org"
 *	from "mail.example.org:10587", "::1" from "[::1]:10587"): the name
 *	a TLS client verifies.
 *--*/
#include <stddef.h>

extern int cm_connect(const char *where, int timeout, char *err, size_t errlen);
extern void cm_connect_host(const char *where, char *host, size_t size);

#endif
