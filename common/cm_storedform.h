#ifndef CM_STOREDFORM_H
#define CM_STOREDFORM_H
/*++
 * NAME
 *	cm_storedform 3h
 * SUMMARY
 *	the stored form: what a mailbox holds for a certified message
 * SYNOPSIS
 *	#include "cm_storedform.h"
 *
 *	int	cm_storedform_write(FILE *out, const CM_STORED_INFO *info,
 *				FILE *sealed, char *err, size_t errlen);
 *	int	cm_storedform_extract(FILE *in, char *envelope_id, size_t idlen,
 *				FILE *sealed_out, char *err, size_t errlen);
 * DESCRIPTION
 *	ARCHITECTURE.md, "Stored form": the ENVELOPE's clear headers (From,
 *	To, Cc, Date, Message-ID, Subject), X-Cmail-Delivery-Type:
 *	CertifiedMail, X-Cmail-Envelope-Id, and a multipart/mixed body with
 *	a text/plain note for people with an ordinary mail program and an
 *	application/x-cmail-sealed part holding the notary's sealed blob in
 *	base64. Lines end in CRLF (the caller converts for SMTP DATA).
 *
 *	cm_storedform_write() streams the sealed blob from the file sealed
 *	(never held whole in memory).
 *
 *	cm_storedform_extract() reads a stored form (with any headers a
 *	mail system added in front), checks the two X-Cmail headers, copies
 *	the envelope id, and writes the decoded sealed blob to sealed_out.
 *	Returns 0, or -1 with a reason (not a stored form, two sealed
 *	parts, bad base64, missing closing boundary, ...).
 *--*/
#include <stdio.h>
#include <stddef.h>

#include "cm_headers.h"

#define CM_SEALED_TYPE	"application/x-cmail-sealed"

typedef struct {
    const CM_HEADERS *headers;		/* the ENVELOPE's clear headers */
    const char *envelope_id;
    const char *sender;			/* MAIL FROM */
    const char *server;			/* our host name */
    const char *date;			/* RFC 5322 date it was stored here */
} CM_STORED_INFO;

extern int cm_storedform_write(FILE *out, const CM_STORED_INFO *info, FILE *sealed,
			               char *err, size_t errlen);
extern int cm_storedform_extract(FILE *in, char *envelope_id, size_t idlen, FILE *sealed_out,
				         char *err, size_t errlen);

#endif
