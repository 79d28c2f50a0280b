#ifndef CM_CONTAINER_H
#define CM_CONTAINER_H
/*++
 * NAME
 *	cm_container 3h
 * SUMMARY
 *	the plaintext inside a seal: SignedDepositNotice plus ENVELOPE
 * SYNOPSIS
 *	#include "cm_container.h"
 *
 *	int	cm_container_write(FILE *out, const char *envelope_id,
 *				const char *notice, size_t notice_len,
 *				FILE *envelope, char *err, size_t errlen);
 *	int	cm_container_read(FILE *in, CM_CONTAINER *c,
 *				char *err, size_t errlen);
 *	void	cm_container_free(CM_CONTAINER *c);
 * DESCRIPTION
 *	What cmail-notary seals into the stored form: the SignedDepositNotice
 *	(which carries each recipient's expected challenge answer) and the
 *	ENVELOPE as the sender deposited it. Format, all lines CRLF:
 * .nf
 *	Cmail-Container: 1
 *	Envelope-Id: <id>
 *	Notice-Length: <bytes>
 *	Envelope-Length: <bytes>
 *	<empty line>
 *	<notice bytes><envelope bytes>
 * .fi
 *	cm_container_write() streams the ENVELOPE from a file.
 *	cm_container_read() reads the header and the notice into memory (at
 *	most CM_NOTICE_MAX bytes) and leaves in positioned at the first
 *	ENVELOPE byte, with c->envelope_len bytes to follow; a header
 *	that is malformed, a length out of range, or a notice that is cut
 *	short is an error.
 *--*/
#include <stdio.h>
#include <stddef.h>

#include "cm_limits.h"

typedef struct {
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char   *notice;			/* NUL-terminated */
    size_t  notice_len;
    unsigned long long envelope_len;
} CM_CONTAINER;

extern int cm_container_write(FILE *out, const char *envelope_id, const char *notice,
			              size_t notice_len, FILE *envelope, char *err, size_t errlen);
extern int cm_container_read(FILE *in, CM_CONTAINER *c, char *err, size_t errlen);
extern void cm_container_free(CM_CONTAINER *c);

#endif
