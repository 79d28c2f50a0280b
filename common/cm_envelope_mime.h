#ifndef CM_ENVELOPE_MIME_H
#define CM_ENVELOPE_MIME_H
/*++
 * NAME
 *	cm_envelope_mime 3h
 * SUMMARY
 *	the ENVELOPE MIME message: streaming writer and reader
 * SYNOPSIS
 *	#include "cm_envelope_mime.h"
 *
 *	int	cm_envelope_mime_write(FILE *out,
 *				const CM_ENVELOPE_HEADERS *hdr,
 *				FILE *plain, const unsigned char *key,
 *				CM_ENVELOPE_MIME_DIGESTS *d,
 *				char *err, size_t errlen);
 *	int	cm_envelope_mime_decrypt(FILE *in, FILE *plain_out,
 *				const unsigned char *key,
 *				CM_ENVELOPE_ALG alg, CM_HEADERS *clear,
 *				CM_ENVELOPE_DIGESTS *d,
 *				char *err, size_t errlen);
 *	int	cm_envelope_mime_extract(FILE *in, FILE *cipher_out,
 *				CM_HEADERS *clear, CM_ENVELOPE_DIGESTS *d,
 *				char *err, size_t errlen);
 * DESCRIPTION
 *	PROFILE.md section 3, Appendix I.4: the ENVELOPE is a MIME message
 *	whose header section carries From, To, Cc, Date, Message-ID and
 *	Subject in clear, and whose body holds the ciphertext (see
 *	cm_envelope(3): IV || ciphertext || tag) as a base64
 *	application/octet-stream attachment named "envelop".
 *
 *	cm_envelope_mime_write() encrypts plain with key (AES-256-GCM)
 *	and writes to out, streaming (fixed buffers), lines of at most
 *	76 base64 characters, every line ended by CRLF:
 * .nf
 *	From/To/Cc/Date/Message-ID/Subject, MIME-Version: 1.0,
 *	Content-Type: multipart/mixed; boundary="=_cmail_envelop_<hex>"
 *	one part: Content-Type: application/octet-stream; name="envelop"
 *	          Content-Transfer-Encoding: base64
 *	          Content-Disposition: attachment; filename="envelop"
 * .fi
 *	from, to, date and message_id are required; cc and subject may
 *	be NULL. Values must be printable US-ASCII (encode other text
 *	with RFC 2047 first), at most CM_HEADER_MAX bytes, and are folded
 *	at white space to keep lines short; a value that cannot be
 *	folded under 998 bytes is refused. d (when not NULL) receives the
 *	envelope digests (UncipheredEnvelopeHash, CipheredEnvelopeHash)
 *	and the SHA-256 of every byte written (MimeMessageHash).
 *
 *	cm_envelope_mime_decrypt() reads an ENVELOPE from in (our layout,
 *	or Appendix I.4's nested multipart/mixed), finds the one part
 *	named "envelop" (Content-Disposition filename or Content-Type
 *	name) and streams its base64 content through decryption to
 *	plain_out. When clear is not NULL it receives the top-level
 *	header fields; free them with cm_headers_free() (also after a
 *	failure). d receives the envelope digests.
 *	SECURITY: as with cm_envelope(3) the plaintext written before a
 *	failure is unauthenticated: write to a temporary file and remove
 *	it unless 0 is returned.
 *
 *	cm_envelope_mime_extract() does the same without a key: it
 *	writes the decoded ciphertext bytes to cipher_out (which may be
 *	NULL) and fills only the cipher fields of d, so a server can
 *	check CipheredEnvelopeHash of an ENVELOPE it cannot read.
 *
 *	Bounds on input: lines of CM_LINE_MAX bytes, the limits of
 *	cm_headers(3) on each header section, CM_ENVELOPE_MIME_DEPTH
 *	levels of multipart nesting, CM_ENVELOPE_MIME_PARTS parts, a
 *	boundary of 1-70 characters. Errors: no multipart body, no or
 *	two "envelop" parts, a transfer encoding other than base64, bad
 *	base64, data after the base64 padding, a missing closing
 *	boundary.
 *
 *	All functions return 0 on success, -1 with a reason in err.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cm_headers.h"
#include "cm_envelope.h"

#define CM_ENVELOPE_MIME_NAME	"envelop"
#define CM_ENVELOPE_MIME_DEPTH	4	/* multipart nesting */
#define CM_ENVELOPE_MIME_PARTS	100	/* body parts, all levels */
#define CM_ENVELOPE_MIME_B64_LINE	76

typedef struct CM_ENVELOPE_HEADERS {
    const char *from;
    const char *to;
    const char *cc;			/* optional */
    const char *date;
    const char *message_id;
    const char *subject;		/* optional */
} CM_ENVELOPE_HEADERS;

typedef struct CM_ENVELOPE_MIME_DIGESTS {
    CM_ENVELOPE_DIGESTS envelope;	/* plaintext, ciphertext */
    unsigned char mime[32];		/* SHA-256 of the MIME message */
    char    mime_b64[48];		/* MimeMessageHash text */
    uint64_t mime_len;
} CM_ENVELOPE_MIME_DIGESTS;

extern int cm_envelope_mime_write(FILE *out, const CM_ENVELOPE_HEADERS *hdr,
				          FILE *plain, const unsigned char *key,
				          CM_ENVELOPE_MIME_DIGESTS *d,
				          char *err, size_t errlen);
extern int cm_envelope_mime_decrypt(FILE *in, FILE *plain_out,
				            const unsigned char *key,
				            CM_ENVELOPE_ALG alg, CM_HEADERS *clear,
				            CM_ENVELOPE_DIGESTS *d,
				            char *err, size_t errlen);
extern int cm_envelope_mime_extract(FILE *in, FILE *cipher_out, CM_HEADERS *clear,
				            CM_ENVELOPE_DIGESTS *d,
				            char *err, size_t errlen);

#endif
