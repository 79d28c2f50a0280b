/*++
 * NAME
 *	cm_stream 3
 * SUMMARY
 *	bounded, timed CRLF line I/O over plain fds or TLS, and stdio lines
 * DESCRIPTION
 *	See cm_stream.h. Reads fill a 16 KiB buffer; writes accumulate in a
 *	16 KiB buffer that is flushed when full or on cm_stream_flush().
 *	cm_fline_*() read lines of stdio streams (see below).
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <unistd.h>
#include <openssl/err.h>

#include "cm_log.h"
#include "cm_stream.h"

#define STREAM_BUFSIZE	16384

struct CM_STREAM {
    int     rfd;
    int     wfd;
    int     timeout;			/* seconds */
    SSL    *ssl;
    unsigned char rbuf[STREAM_BUFSIZE];
    size_t  rpos;
    size_t  rlen;
    unsigned char wbuf[STREAM_BUFSIZE];
    size_t  wlen;
    int     error;
};

/* cm_stream_open - wrap a pair of descriptors */
CM_STREAM *cm_stream_open(int rfd, int wfd, int timeout)
{
    CM_STREAM *st = calloc(1, sizeof(*st));

    if (st == 0)
	return (0);
    st->rfd = rfd;
    st->wfd = wfd;
    st->timeout = timeout > 0 ? timeout : 300;
    return (st);
}

/* stream_wait - poll one fd for events, bounded by the timeout */
static int stream_wait(CM_STREAM *st, int fd, short events)
{
    struct pollfd pfd;
    int     n;

    pfd.fd = fd;
    pfd.events = events;
    do {
	n = poll(&pfd, 1, st->timeout * 1000);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
	errno = ETIMEDOUT;
	return (-1);
    }
    return (n < 0 ? -1 : 0);
}

/* stream_fill - read more input into the buffer; -1 EOF/error */
static int stream_fill(CM_STREAM *st)
{
    ssize_t n;

    if (st->error)
	return (-1);
    if (st->rpos == st->rlen)
	st->rpos = st->rlen = 0;
    for (;;) {
	if (st->ssl) {
	    int     r;

	    ERR_clear_error();
	    r = SSL_read(st->ssl, st->rbuf + st->rlen, (int) (sizeof(st->rbuf) - st->rlen));
	    if (r > 0) {
		st->rlen += (size_t) r;
		return (0);
	    }
	    switch (SSL_get_error(st->ssl, r)) {
	    case SSL_ERROR_WANT_READ:
		if (stream_wait(st, st->rfd, POLLIN) < 0)
		    goto fail;
		continue;
	    case SSL_ERROR_WANT_WRITE:
		if (stream_wait(st, st->wfd, POLLOUT) < 0)
		    goto fail;
		continue;
	    default:
		goto fail;
	    }
	}
	if (stream_wait(st, st->rfd, POLLIN) < 0)
	    goto fail;
	n = read(st->rfd, st->rbuf + st->rlen, sizeof(st->rbuf) - st->rlen);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
	    continue;
	if (n <= 0)
	    goto fail;
	st->rlen += (size_t) n;
	return (0);
    }
fail:
    st->error = 1;
    return (-1);
}

/* cm_stream_getline - one line without CR LF, bounded */
ssize_t cm_stream_getline(CM_STREAM *st, char *buf, size_t size, int *too_long)
{
    size_t  kept = 0;

    *too_long = 0;
    if (size == 0)
	return (-1);
    for (;;) {
	unsigned char *start, *nl;
	size_t  avail, take;

	if (st->rpos == st->rlen && stream_fill(st) < 0)
	    return (-1);
	start = st->rbuf + st->rpos;
	avail = st->rlen - st->rpos;
	nl = memchr(start, '\n', avail);
	take = nl ? (size_t) (nl - start) : avail;
	if (kept + take > size - 1) {
	    size_t  room = size - 1 - kept;

	    memcpy(buf + kept, start, room);
	    kept += room;
	    *too_long = 1;
	} else {
	    memcpy(buf + kept, start, take);
	    kept += take;
	}
	st->rpos += take + (nl ? 1 : 0);
	if (nl) {
	    if (!*too_long && kept > 0 && buf[kept - 1] == '\r')
		kept--;
	    buf[kept] = 0;
	    return ((ssize_t) kept);
	}
    }
}

/* cm_stream_read - up to size raw bytes; 0 at EOF, -1 on error */
ssize_t cm_stream_read(CM_STREAM *st, void *buf, size_t size)
{
    size_t  n;

    if (st->rpos == st->rlen && stream_fill(st) < 0)
	return (st->error ? -1 : 0);
    n = st->rlen - st->rpos;
    if (n > size)
	n = size;
    memcpy(buf, st->rbuf + st->rpos, n);
    st->rpos += n;
    return ((ssize_t) n);
}

/* stream_send - write bytes now */
static int stream_send(CM_STREAM *st, const unsigned char *p, size_t len)
{
    while (len > 0) {
	if (st->ssl) {
	    int     r;

	    ERR_clear_error();
	    r = SSL_write(st->ssl, p, len > (1 << 30) ? (1 << 30) : (int) len);
	    if (r > 0) {
		p += r;
		len -= (size_t) r;
		continue;
	    }
	    switch (SSL_get_error(st->ssl, r)) {
	    case SSL_ERROR_WANT_READ:
		if (stream_wait(st, st->rfd, POLLIN) < 0)
		    return (-1);
		continue;
	    case SSL_ERROR_WANT_WRITE:
		if (stream_wait(st, st->wfd, POLLOUT) < 0)
		    return (-1);
		continue;
	    default:
		return (-1);
	    }
	} else {
	    ssize_t n;

	    if (stream_wait(st, st->wfd, POLLOUT) < 0)
		return (-1);
	    n = write(st->wfd, p, len);
	    if (n < 0 && (errno == EINTR || errno == EAGAIN))
		continue;
	    if (n <= 0)
		return (-1);
	    p += n;
	    len -= (size_t) n;
	}
    }
    return (0);
}

/* cm_stream_flush - send the write buffer */
int     cm_stream_flush(CM_STREAM *st)
{
    if (st->error)
	return (-1);
    if (st->wlen > 0 && stream_send(st, st->wbuf, st->wlen) < 0) {
	st->error = 1;
	return (-1);
    }
    st->wlen = 0;
    return (0);
}

/* cm_stream_write - buffered write */
int     cm_stream_write(CM_STREAM *st, const void *data, size_t len)
{
    const unsigned char *p = data;

    if (st->error)
	return (-1);
    if (st->wlen + len > sizeof(st->wbuf)) {
	if (cm_stream_flush(st) < 0)
	    return (-1);
	if (len > sizeof(st->wbuf)) {
	    if (stream_send(st, p, len) < 0) {
		st->error = 1;
		return (-1);
	    }
	    return (0);
	}
    }
    memcpy(st->wbuf + st->wlen, p, len);
    st->wlen += len;
    return (0);
}

/* cm_stream_printf - formatted, buffered write */
int     cm_stream_printf(CM_STREAM *st, const char *fmt, ...)
{
    char    buf[8192];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
	return (-1);
    if ((size_t) n >= sizeof(buf))
	msg_panic("cm_stream_printf: line longer than %zu bytes", sizeof(buf));
    return (cm_stream_write(st, buf, (size_t) n));
}

/* cm_stream_buffered - bytes received but not yet consumed */
size_t  cm_stream_buffered(CM_STREAM *st)
{
    return (st->rlen - st->rpos);
}

/* set_nonblock - O_NONBLOCK on a descriptor */
static int set_nonblock(int fd)
{
    int     flags = fcntl(fd, F_GETFL);

    return (flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

/* cm_stream_starttls - TLS handshake on this connection */
int     cm_stream_starttls(CM_STREAM *st, SSL_CTX *ctx, int server,
			           const char *peer_name, char *err, size_t errlen)
{
    char    ebuf[512];

    if (st->ssl) {
	snprintf(err, errlen, "TLS already active");
	return (-1);
    }
    if (cm_stream_flush(st) < 0) {
	snprintf(err, errlen, "write error before TLS handshake");
	return (-1);
    }
    if ((st->ssl = SSL_new(ctx)) == 0
	|| !SSL_set_rfd(st->ssl, st->rfd) || !SSL_set_wfd(st->ssl, st->wfd)) {
	snprintf(err, errlen, "TLS setup: %s", cm_ssl_errors(ebuf, sizeof(ebuf)));
	return (-1);
    }
    /*
     * Non-blocking descriptors: every TLS read and write then goes
     * through stream_wait() and its timeout, including the records
     * OpenSSL reads on its own (TLS 1.3 session tickets, alerts).
     */
    if (set_nonblock(st->rfd) < 0 || set_nonblock(st->wfd) < 0) {
	snprintf(err, errlen, "TLS setup: cannot make the connection non-blocking");
	return (-1);
    }
    if (!server && peer_name) {
	SSL_set_tlsext_host_name(st->ssl, peer_name);
	SSL_set1_host(st->ssl, peer_name);
    }
    for (;;) {
	int     r;

	ERR_clear_error();
	r = server ? SSL_accept(st->ssl) : SSL_connect(st->ssl);
	if (r == 1)
	    return (0);
	switch (SSL_get_error(st->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	    if (stream_wait(st, st->rfd, POLLIN) == 0)
		continue;
	    break;
	case SSL_ERROR_WANT_WRITE:
	    if (stream_wait(st, st->wfd, POLLOUT) == 0)
		continue;
	    break;
	default:
	    break;
	}
	snprintf(err, errlen, "TLS handshake failed: %s", cm_ssl_errors(ebuf, sizeof(ebuf)));
	st->error = 1;
	return (-1);
    }
}

/* cm_stream_ssl - the TLS object, NULL before STARTTLS */
SSL    *cm_stream_ssl(CM_STREAM *st)
{
    return (st->ssl);
}

/* cm_stream_close - flush, shut TLS down, free (descriptors stay open) */
void    cm_stream_close(CM_STREAM *st)
{
    if (st == 0)
	return;
    if (!st->error)
	(void) cm_stream_flush(st);
    if (st->ssl) {
	if (!st->error)
	    SSL_shutdown(st->ssl);
	SSL_free(st->ssl);
    }
    free(st);
}

 /*
  * Line reader for stdio streams. fgets() copies a line out of the stdio
  * buffer with memchr()/memcpy(), but its result is a C string, so a line
  * holding NUL bytes would look shorter. The buffer is therefore kept
  * filled with LF bytes beyond what fgets() last wrote: after fgets(), the
  * first LF in the buffer is either the line's own (followed by the NUL
  * fgets() put after it) or the filler just after that NUL (the stream
  * ended without LF). Only the bytes fgets() wrote are filled again before
  * the next call.
  */
struct CM_FLINE {
    FILE   *fp;
    size_t  size;			/* max_len + 2 */
    size_t  dirty;			/* bytes to fill with LF again */
    char    buf[];
};

/* cm_fline_open - line reader on a stdio stream */
CM_FLINE *cm_fline_open(FILE *fp, size_t max_len)
{
    CM_FLINE *fl;

    if (max_len == 0 || max_len > INT_MAX - 2)
	return (0);
    if ((fl = malloc(sizeof(*fl) + max_len + 2)) == 0)
	return (0);
    fl->fp = fp;
    fl->size = max_len + 2;
    fl->dirty = fl->size;
    return (fl);
}

/* cm_fline_get - one line: length before the LF, -1 EOF or error, -2 too long */
ssize_t cm_fline_get(CM_FLINE *fl, char **line)
{
    char   *nl;
    size_t  n;

    memset(fl->buf, '\n', fl->dirty);
    fl->dirty = fl->size;
    *line = fl->buf;
    /* At most max_len + 1 bytes: one more than a line may have before its LF. */
    if (fgets(fl->buf, (int) fl->size, fl->fp) == 0)
	return (-1);
    if ((nl = memchr(fl->buf, '\n', fl->size)) == 0)
	return (-2);				/* max_len + 1 bytes, no LF */
    n = (size_t) (nl - fl->buf);
    if (n + 1 < fl->size && nl[1] == 0) {	/* the line's LF */
	*nl = 0;
	fl->dirty = n + 2;
	return ((ssize_t) n);
    }
    fl->dirty = n;				/* filler after fgets()'s NUL */
    return ((ssize_t) (n - 1));
}

/* cm_fline_free - release the reader (not the stream) */
void    cm_fline_free(CM_FLINE *fl)
{
    free(fl);
}
