#ifndef CM_NOTICEMAIL_H
#define CM_NOTICEMAIL_H
/*++
 * NAME
 *	cm_noticemail 3h
 * SUMMARY
 *	compose a notice mail (PROFILE.md section 6, Appendix I)
 * SYNOPSIS
 *	#include "cm_noticemail.h"
 *
 *	int	cm_noticemail_write(FILE *out, const CM_NOTICEMAIL *m,
 *				char *err, size_t errlen);
 *	char	*cm_noticemail_compose(const CM_NOTICEMAIL *m,
 *				size_t *len_r, char *err, size_t errlen);
 *	const char *cm_noticemail_filename(CM_NOTICE_TYPE type);
 * DESCRIPTION
 *	A notice mail tells a person what happened to a certified message
 *	and carries the signed XML notice(s) as base64
 *	application/octet-stream attachments (Appendix I), so that
 *	`cmail verify MAIL` checks them. Shape (CRLF line ends):
 *
 *	    From: Certified mail <from>
 *	    To: <to>
 *	    Subject: subject
 *	    Date: RFC 5322 date (UTC)
 *	    Message-ID: <cmail-notice.ENVID.TIME.RANDOM@domain-of-from>
 *	    Auto-Submitted: auto-generated
 *	    MIME-Version: 1.0
 *	    Content-Type: multipart/mixed; boundary="=_cmail_RANDOM"
 *
 *	    text/plain; charset=us-ascii part: the summary
 *	    one application/octet-stream part per attachment:
 *	        Content-Type: application/octet-stream; name="F"
 *	        Content-Disposition: attachment; filename="F"
 *	        Content-Transfer-Encoding: base64
 *
 *	There is no X-Cmail-* header field (the public milter passes the
 *	mail unchanged). The first attachment is the one `cmail verify`
 *	checks: put the notice the mail is about first (e.g. the
 *	SignedTransitNotice, then the SignedDepositNotice).
 *
 *	CM_NOTICEMAIL fields (all strings NUL-terminated, not modified):
 *	from	the sender address (addr-spec, e.g. postmaster@a.test):
 *		required; it must pass cm_addr_valid() (dot-atom local
 *		part, LDH domain, ASCII, at most CM_ADDRESS_MAX: so no
 *		space, '<', '>', '"', ',', ';', '\\' or control): otherwise
 *		an error (an address is never sanitized).
 *	from_name  display name; NULL: "Certified mail". Sanitized like
 *		subject and written as a quoted-string without '"' and '\\'.
 *	to	the recipient address, same rules as from: required.
 *	subject	what happened (e.g. "Transit notice: <subject> reached
 *		b.test"); NULL or "": "Certified mail notice". Sanitized:
 *		CR, LF, TAB and other controls become a space, each
 *		non-ASCII byte becomes '?', then cut to
 *		CM_NOTICEMAIL_SUBJECT_MAX characters.
 *	summary	readable text/plain body; NULL: empty. LF or CRLF line
 *		ends (written as CRLF); controls other than TAB become a
 *		space, non-ASCII bytes '?'; lines are broken at
 *		CM_NOTICEMAIL_LINE_MAX characters; at most
 *		CM_NOTICEMAIL_SUMMARY_MAX bytes (else an error).
 *	envelope_id  NULL or the EnvelopeId, used only inside the
 *		Message-ID (characters outside [A-Za-z0-9._-] become '_').
 *	message_id  NULL: a new Message-ID "<cmail-notice.ENVID.TIME.
 *		RANDOM@DOMAIN>"; else the whole Message-ID to use ("<...>",
 *		printable ASCII without spaces, at most
 *		CM_NOTICEMAIL_MSGID_MAX characters, else an error), e.g. a
 *		fixed one from cm_cmtp_notice_msgid() that lets a second
 *		copy of the mail be recognised.
 *	date	0: now.
 *	nattach	0..CM_NOTICEMAIL_ATTACH_MAX entries of attach[]:
 *		filename  [A-Za-z0-9._-]{1,64}, not starting with '.'
 *			  (error otherwise), e.g. cm_noticemail_filename();
 *		data, len the bytes (1..CM_NOTICE_MAX), encoded with
 *			  76-character base64 lines.
 *
 *	cm_noticemail_write() writes the mail to out (from where out
 *	stands; it does not rewind it) and returns 0, or -1 with a
 *	one-line reason in err (bad argument, out of memory, write
 *	error; nothing is written when an argument is bad).
 *
 *	cm_noticemail_compose() returns the same text in a malloc()ed,
 *	NUL-terminated buffer (its length in *len_r), or NULL with err.
 *
 *	cm_noticemail_filename() returns the attachment name of a notice
 *	type: depositNotice.xml (DepositNotice, SignedDepositNotice),
 *	transitNotice.xml, receiptNotice.xml, nonDeliveryNotice.xml,
 *	"notice.xml" for CM_NOTICE_UNKNOWN.
 * SEE ALSO
 *	cm_submit(3h) (hand the mail to Postfix), cmail-verify(1)
 *--*/
#include <stdio.h>
#include <stddef.h>
#include <time.h>

#include "cm_notice.h"

#define CM_NOTICEMAIL_ATTACH_MAX	4	/* attachments per mail */
#define CM_NOTICEMAIL_SUBJECT_MAX	200	/* Subject characters kept */
#define CM_NOTICEMAIL_SUMMARY_MAX	(64 * 1024)	/* summary bytes */
#define CM_NOTICEMAIL_LINE_MAX		78	/* summary line break */
#define CM_NOTICEMAIL_FILENAME_MAX	64	/* attachment file name */
#define CM_NOTICEMAIL_MSGID_MAX		250	/* a given Message-ID */

typedef struct {
    const char *filename;		/* e.g. "transitNotice.xml" */
    const void *data;			/* the notice bytes */
    size_t  len;
} CM_NOTICEMAIL_ATTACH;

typedef struct {
    const char *from;			/* addr-spec, required */
    const char *from_name;		/* display name, NULL: "Certified mail" */
    const char *to;			/* addr-spec, required */
    const char *subject;		/* NULL: "Certified mail notice" */
    const char *summary;		/* text/plain body, NULL: empty */
    const char *envelope_id;		/* NULL or the EnvelopeId (Message-ID) */
    const char *message_id;		/* NULL: a new one; else "<...>" as is */
    time_t  date;			/* 0: now */
    size_t  nattach;
    CM_NOTICEMAIL_ATTACH attach[CM_NOTICEMAIL_ATTACH_MAX];
} CM_NOTICEMAIL;

extern int cm_noticemail_write(FILE *out, const CM_NOTICEMAIL *m, char *err, size_t errlen);
extern char *cm_noticemail_compose(const CM_NOTICEMAIL *m, size_t *len_r,
				           char *err, size_t errlen);
extern const char *cm_noticemail_filename(CM_NOTICE_TYPE type);

#endif
