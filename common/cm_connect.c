/*++
 * NAME
 *	cm_connect 3
 * SUMMARY
 *	bounded-time TCP or unix-domain connect
 * DESCRIPTION
 *	See cm_connect.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "cm_connect.h"

/* connect_timed - non-blocking connect bounded by timeout seconds */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int timeout)
{
    int     flags = fcntl(fd, F_GETFL);
    struct pollfd pfd;
    int     soerr = 0;
    socklen_t slen = sizeof(soerr);
    int     n;

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
	return (-1);
    if (connect(fd, sa, len) < 0) {
	if (errno != EINPROGRESS)
	    return (-1);
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
	    n = poll(&pfd, 1, timeout * 1000);
	} while (n < 0 && errno == EINTR);
	if (n == 0) {
	    errno = ETIMEDOUT;
	    return (-1);
	}
	if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
	    return (-1);
	if (soerr) {
	    errno = soerr;
	    return (-1);
	}
    }
    return (fcntl(fd, F_SETFL, flags));
}

/* cm_connect - connect to where */
int     cm_connect(const char *where, int timeout, char *err, size_t errlen)
{
    char    host[256];
    const char *colon;
    struct addrinfo hints, *res, *ai;
    int     fd = -1;
    int     rc;

    if (strncmp(where, "unix:", 5) == 0) {
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(where + 5) >= sizeof(sun.sun_path)) {
	    snprintf(err, errlen, "socket path too long: %s", where);
	    return (-1);
	}
	strcpy(sun.sun_path, where + 5);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect_timed(fd, (struct sockaddr *) &sun, sizeof(sun), timeout) < 0) {
	    snprintf(err, errlen, "connect %s: %s", where, strerror(errno));
	    if (fd >= 0)
		close(fd);
	    return (-1);
	}
	return (fd);
    }
    colon = strrchr(where, ':');
    if (colon == 0 || colon == where || (size_t) (colon - where) >= sizeof(host)) {
	snprintf(err, errlen, "bad address '%s' (want host:port)", where);
	return (-1);
    }
    if (where[0] == '[' && colon > where + 1 && colon[-1] == ']')
	snprintf(host, sizeof(host), "%.*s", (int) (colon - where - 2), where + 1);
    else
	snprintf(host, sizeof(host), "%.*s", (int) (colon - where), where);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
	snprintf(err, errlen, "%s: %s", where, gai_strerror(rc));
	return (-1);
    }
    errno = 0;
    for (ai = res; ai; ai = ai->ai_next) {
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0)
	    continue;
	if (connect_timed(fd, ai->ai_addr, ai->ai_addrlen, timeout) == 0)
	    break;
	close(fd);
	fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
	snprintf(err, errlen, "connect %s: %s", where, strerror(errno ? errno : ECONNREFUSED));
	return (-1);
    }
    /*
     * Request and response: every caller writes through a buffer and
     * flushes whole commands, so Nagle's algorithm only ever delays the
     * last segment of a command behind the peer's delayed ACK.
     */
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int) {1}, sizeof(int));
    return (fd);
}

/* cm_connect_host - the host part of host:port or [v6]:port */
void    cm_connect_host(const char *where, char *host, size_t size)
{
    const char *colon = strrchr(where, ':');
    size_t  n = colon ? (size_t) (colon - where) : strlen(where);

    if (where[0] == '[' && n >= 2 && where[n - 1] == ']') {
	where++;
	n -= 2;
    }
    snprintf(host, size, "%.*s", (int) n, where);
}
