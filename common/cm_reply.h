#ifndef CM_REPLY_H
#define CM_REPLY_H
/*++
 * NAME
 *	cm_reply 3h
 * SUMMARY
 *	SMTP/CMTP replies: write them, read them, carry base64 objects
 * SYNOPSIS
 *	#include "cm_reply.h"
 *
 *	int	cm_reply(CM_STREAM *st, int code, const char *fmt, ...);
 *	int	cm_reply_object(CM_STREAM *st, int code, const char *label,
 *				const void *data, size_t len);
 *	int	cm_reply_read(CM_STREAM *st, CM_REPLY *r);
 *	X509	*cm_reply_get_cert(const CM_REPLY *r, const char *label);
 *	unsigned char *cm_reply_get_object(const CM_REPLY *r,
 *				const char *label, size_t *len);
 *	void	cm_reply_free(CM_REPLY *r);
 * DESCRIPTION
 *	cm_reply() sends one reply line "code text" and flushes.
 *
 *	cm_reply_object() sends, as continuation lines of a multi-line
 *	reply, "code-label" and then the base64 of data in lines of at most
 *	76 characters, each its own "code-" line (PROFILE.md section 2). It
 *	does not send the final line: the caller ends the reply with
 *	cm_reply().
 *
 *	cm_reply_read() reads one possibly multi-line reply (at most
 *	CM_REPLY_LINES_MAX lines and CM_REPLY_BYTES_MAX bytes); r->code is
 *	the code of the last line, r->lines[] the texts after "code-" or
 *	"code ". Returns 0, or -1 on EOF, timeout, a malformed line or a
 *	code that changes within the reply.
 *
 *	cm_reply_get_cert() is cm_reply_get_object() for a DER
 *	certificate (UserCertificate): the object must be exactly one
 *	certificate of at most CM_CERT_DER_MAX bytes, else NULL.
 *
 *	cm_reply_get_object() finds the line equal to label (a trailing
 *	':' and text after it are allowed: "UserCertificate: MIIB..." puts
 *	the first base64 characters on the label line) and decodes the
 *	base64 lines that follow it up to the next line that is not base64.
 *--*/
#include <stddef.h>

#include "cm_stream.h"
#include <openssl/x509.h>

#define CM_REPLY_LINES_MAX	200000
#define CM_REPLY_BYTES_MAX	(16 * 1024 * 1024)
#define CM_REPLY_B64_LINE	76

typedef struct {
    int     code;
    size_t  nlines;
    char  **lines;
} CM_REPLY;

extern int cm_reply(CM_STREAM *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
extern int cm_reply_object(CM_STREAM *st, int code, const char *label,
			           const void *data, size_t len);
extern int cm_reply_read(CM_STREAM *st, CM_REPLY *r);
extern unsigned char *cm_reply_get_object(const CM_REPLY *r, const char *label, size_t *len);
extern void cm_reply_free(CM_REPLY *r);
extern X509 *cm_reply_get_cert(const CM_REPLY *r, const char *label);

#endif
