#ifndef CM_STREAM_H
#define CM_STREAM_H
/*++
 * NAME
 *	cm_stream 3h
 * SUMMARY
 *	CRLF line I/O over a plain or TLS connection, and stdio lines
 * SYNOPSIS
 *	#include "cm_stream.h"
 *
 *	CM_STREAM *cm_stream_open(int rfd, int wfd, int timeout);
 *	int	cm_stream_starttls(CM_STREAM *st, SSL_CTX *ctx, int server,
 *				const char *peer_name, char *err, size_t errlen);
 *	ssize_t	cm_stream_getline(CM_STREAM *st, char *buf, size_t size,
 *				int *too_long);
 *	ssize_t	cm_stream_read(CM_STREAM *st, void *buf, size_t size);
 *	int	cm_stream_write(CM_STREAM *st, const void *data, size_t len);
 *	int	cm_stream_printf(CM_STREAM *st, const char *fmt, ...);
 *	int	cm_stream_flush(CM_STREAM *st);
 *	size_t	cm_stream_buffered(CM_STREAM *st);
 *	SSL	*cm_stream_ssl(CM_STREAM *st);
 *	void	cm_stream_close(CM_STREAM *st);
 *
 *	CM_FLINE *cm_fline_open(FILE *fp, size_t max_len);
 *	ssize_t	cm_fline_get(CM_FLINE *fl, char **line);
 *	void	cm_fline_free(CM_FLINE *fl);
 * DESCRIPTION
 *	A buffered, bounded reader and writer for SMTP-like protocols on a
 *	pair of file descriptors (stdin/stdout under Postfix spawn(8), or
 *	one socket twice), optionally upgraded to TLS. Every read and write
 *	waits at most timeout seconds (poll); a peer that goes quiet or
 *	vanishes gives an error, never a hang.
 *
 *	cm_stream_getline() reads one line, strips the LF and a CR before
 *	it, and NUL-terminates it in buf. A line longer than size-1 bytes is
 *	read to its end and discarded: *too_long is set and the return value
 *	is the (truncated) length kept. It returns -1 on EOF, error or
 *	timeout (errno ETIMEDOUT), and also on EOF in the middle of a line.
 *
 *	cm_stream_starttls() performs the TLS handshake on the connection
 *	(server or client side). Data already buffered but not yet read
 *	when STARTTLS is answered is an attack (command injection): the
 *	caller checks cm_stream_buffered() == 0 first.
 *
 *	cm_stream_printf() formats into the write buffer (no line is longer
 *	than 8 KiB); cm_stream_flush() sends it.
 *
 *	For large spool files (stored forms, ENVELOPEs), cm_fline_get()
 *	reads one line of a stdio stream with fgets() (memchr() and
 *	memcpy() on the stdio buffer, no call per byte) and reads no
 *	further, so the stream can be handed to other stdio readers
 *	between lines (cm_headers_read()). It returns the number of bytes
 *	before the LF (a CR is kept, NUL bytes are data) and sets *line to
 *	them, NUL-terminated; the caller may modify them until the next
 *	call. A last line without LF counts as a line. It returns -1 at
 *	the end of the stream and on a read error (ferror() tells which),
 *	and -2 when the line has more than max_len bytes before its LF
 *	(max_len + 1 bytes of it were consumed). cm_fline_open() allocates
 *	the reader (max_len from 1 to INT_MAX - 2), NULL if out of memory
 *	or max_len is out of range; cm_fline_free() releases it, not the
 *	stream.
 *--*/
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <openssl/ssl.h>

typedef struct CM_STREAM CM_STREAM;
typedef struct CM_FLINE CM_FLINE;

extern CM_STREAM *cm_stream_open(int rfd, int wfd, int timeout);
extern int cm_stream_starttls(CM_STREAM *st, SSL_CTX *ctx, int server,
			              const char *peer_name, char *err, size_t errlen);
extern ssize_t cm_stream_getline(CM_STREAM *st, char *buf, size_t size, int *too_long);
extern ssize_t cm_stream_read(CM_STREAM *st, void *buf, size_t size);
extern int cm_stream_write(CM_STREAM *st, const void *data, size_t len);
extern int cm_stream_printf(CM_STREAM *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int cm_stream_flush(CM_STREAM *st);
extern size_t cm_stream_buffered(CM_STREAM *st);
extern SSL *cm_stream_ssl(CM_STREAM *st);
extern void cm_stream_close(CM_STREAM *st);

extern CM_FLINE *cm_fline_open(FILE *fp, size_t max_len);
extern ssize_t cm_fline_get(CM_FLINE *fl, char **line);
extern void cm_fline_free(CM_FLINE *fl);

#endif
