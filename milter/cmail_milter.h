#ifndef CMAIL_MILTER_H
#define CMAIL_MILTER_H
/*++
 * NAME
 *	cmail_milter 3h
 * SUMMARY
 *	cmail-milter internals: configuration, scanner, verifier, callbacks
 * SYNOPSIS
 *	#include "cmail_milter.h"
 *
 *	Scanner (milter_scan.c, no libmilter dependency):
 *
 *	void	cmm_scan_init(CMM_SCAN *sc, const char *needle);
 *	int	cmm_scan(CMM_SCAN *sc, const unsigned char *buf, size_t len);
 *	int	cmm_header_is_cmail(const char *name);
 *	int	cmm_contains_nocase(const char *hay, const char *needle);
 *	void	cmm_reply_text(char *out, size_t outlen, const char *text);
 *	int	cmm_match_recipients(char *const *rcpts, size_t nrcpt,
 *				const char *const *entities, size_t nentity,
 *				char *why, size_t whylen);
 *
 *	Verifier (milter_verify.c, no libmilter dependency):
 *
 *	int	cmm_tempfile(const CMM_SETTINGS *set, FILE **fp_r,
 *				char *err, size_t errlen);
 *	void	cmm_verify(const CMM_SETTINGS *set, FILE *msg,
 *				const CMM_VERIFY_REQ *req, CMM_RESULT *res);
 *
 *	Callbacks (milter_callbacks.c):
 *
 *	extern struct smfiDesc cmm_desc;
 *	extern CMM_SETTINGS cmm_settings;
 * DESCRIPTION
 *	cmm_scan_init() prepares a case-insensitive search for needle (at
 *	most CMM_NEEDLE_MAX bytes) through a byte stream handed over in
 *	chunks; cmm_scan() returns 1 once needle has been seen, also when
 *	it straddles a chunk boundary, and 0 until then. The state is a
 *	few bytes of carry, no buffering of the stream.
 *
 *	cmm_header_is_cmail() is 1 for a header name starting with
 *	"X-Cmail-" (case-insensitive). cmm_contains_nocase() is a
 *	case-insensitive strstr() that answers 1 or 0. cmm_reply_text()
 *	copies text for an SMTP reply: printable ASCII only, no '%'
 *	(libmilter), truncated to outlen.
 *
 *	cmm_match_recipients() is 1 when every envelope recipient matches
 *	exactly one sealed Entity address and no Entity is matched twice
 *	(cm_addr_equal()); 0 with the first difference in why. Entities
 *	may be left over: a message with local and remote recipients is
 *	submitted once per injection listener, each with its share.
 *
 *	cmm_tempfile() creates an unnamed read-write temporary file in
 *	spool_directory (mkstemp() then unlink(): nothing is left behind
 *	whatever happens to the process).
 *
 *	cmm_verify() decides on a message rebuilt by the callbacks (the
 *	X-Cmail header fields, an empty line, the body): it extracts the
 *	stored form, has the notary check the seal's key id and unseal the
 *	blob (into a temporary file that is discarded), reads the
 *	container and its SignedDepositNotice; for the injection listener
 *	(req->injection) it compares the envelope recipients with the
 *	sealed entities and has the notary journal "queued" with the
 *	Postfix queue id. The outcome is in res: CMM_ACCEPT, CMM_REJECT
 *	(the message is not a genuine stored form, 550 5.7.1) or
 *	CMM_TEMPFAIL (notary unreachable, internal error: 451 4.3.0), with
 *	a one-line reason and the envelope id when one was read.
 *--*/
#include <stdio.h>
#include <stddef.h>

#include "cm_limits.h"

#define CMM_NEEDLE_MAX		64
#define CMM_NOTARY_TIMEOUT	20000	/* ms per notary request */
#define CMM_CMAIL_HEADERS_MAX	8	/* X-Cmail-* fields kept per message */
#define CMM_REASON_MAX		300

/* Case-insensitive stream search state. */
typedef struct {
    char    needle[CMM_NEEDLE_MAX + 1];	/* lower case */
    size_t  len;
    char    carry[CMM_NEEDLE_MAX];	/* tail of the stream so far */
    size_t  ncarry;
    int     found;
} CMM_SCAN;

/* Read-only settings, loaded once before libmilter starts its threads. */
typedef struct {
    const char *injection_name;		/* {daemon_name} of injection listeners */
    const char *notary_socket;
    const char *spool_directory;
    long long size_limit;		/* rebuilt message bytes we accept to buffer */
    int     verbose;
} CMM_SETTINGS;

typedef enum {
    CMM_ACCEPT = 0,
    CMM_REJECT,
    CMM_TEMPFAIL,
} CMM_ACTION;

typedef struct {
    int     injection;			/* injection listener: check rcpts, journal */
    const char *queue_id;		/* Postfix queue id (macro i) */
    char  *const *rcpts;		/* envelope recipients (bare addresses) */
    size_t  nrcpt;
} CMM_VERIFY_REQ;

typedef struct {
    CMM_ACTION action;
    char    reason[CMM_REASON_MAX];
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    long long seq;			/* journal row of "queued" */
} CMM_RESULT;

extern void cmm_scan_init(CMM_SCAN *sc, const char *needle);
extern int cmm_scan(CMM_SCAN *sc, const unsigned char *buf, size_t len);
extern int cmm_header_is_cmail(const char *name);
extern int cmm_contains_nocase(const char *hay, const char *needle);
extern void cmm_reply_text(char *out, size_t outlen, const char *text);
extern int cmm_match_recipients(char *const *rcpts, size_t nrcpt,
				        const char *const *entities, size_t nentity,
				        char *why, size_t whylen);

extern int cmm_tempfile(const CMM_SETTINGS *set, FILE **fp_r, char *err, size_t errlen);
extern void cmm_verify(const CMM_SETTINGS *set, FILE *msg, const CMM_VERIFY_REQ *req,
		               CMM_RESULT *res);

extern CMM_SETTINGS cmm_settings;

#endif
