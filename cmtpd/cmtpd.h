#ifndef CMTPD_H
#define CMTPD_H
/*++
 * NAME
 *	cmtpd 8h
 * SUMMARY
 *	CMTP server: session state shared by the cmtpd modules
 * DESCRIPTION
 *	One CMTP_SESSION per connection, no per-request globals. The
 *	modules: cmtpd.c (program, listener), cmtp_session.c (command loop
 *	and the envelope commands), cmtp_deposit.c (DATA and the deposit
 *	notice, DEPO).
 *--*/
#include <limits.h>
#include <stdio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cm_config.h"
#include "cm_cert.h"
#include "cm_stream.h"
#include "cm_limits.h"
#include "cm_notice.h"
#include "cm_notary.h"

#define CMTP_ERRORS_MAX	20		/* bad commands before 421 */
#define CMTP_JUNK_MAX	100		/* NOOP, RSET, HELP, EHLO, HELO, CELO, DELV before they count as errors */

typedef struct {
    char    addr[CM_ADDRESS_MAX + 1];
    X509   *cert;			/* validated: certificate directory, or CHCK RCPT */
    int     remote;			/* on another Cmail server */
} CMTP_RCPT;

typedef struct {
    CM_CONFIG *cf;
    CM_STREAM *st;
    SSL_CTX *tls;			/* server context */
    CM_TRUST *trust;			/* Cmail trust anchors and CRLs */
    X509   *server_cert;		/* ours, to recognise our postmark signature */
    const char *hostname;
    const char *client_addr;		/* for logging */
    int     tls_active;
    X509   *peer_cert;			/* a Cmail server's validated TLS certificate */
    char    peer_error[256];		/* why a presented certificate was refused */
    char  **checked;			/* CHCK RCPT addresses of this session */
    int     nchecked;
    struct CM_CMTP_CLIENT *peer_link;	/* cached CMTP client for remote RCPT */
    char    peer_link_domain[CM_ADDRESS_MAX + 1];
    int     errors;
    int     junk;			/* NOOP, RSET, HELP, EHLO, HELO, CELO, DELV so far */
    /* Session state, in protocol order. */
    int     celo;			/* CELO seen (after TLS) */
    int     delv;			/* DELV CertifiedMail */
    char    sender[CM_ADDRESS_MAX + 1];
    X509   *sender_cert;
    CMTP_RCPT *rcpts;
    int     nrcpt;
    /* After DATA. */
    FILE   *envelope;			/* the ENVELOPE as received (unnamed spool file) */
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char   *mime_hash;			/* base64 SHA-256 of the ENVELOPE */
    long long size;
} CMTP_SESSION;

/* cmtp_session.c */
extern void cmtp_session_run(CMTP_SESSION *s);
extern void cmtp_reset(CMTP_SESSION *s);
extern X509 *cmtp_user_cert(CMTP_SESSION *s, const char *addr, char *err, size_t errlen);
extern int cmtp_cert_requested(const char *params, int *requested);
extern void cmtp_cert_reply(CMTP_SESSION *s, X509 *cert, int requested);

/* cmtp_deposit.c */
extern int cmtp_read_envelope(CMTP_SESSION *s);
extern void cmtp_data(CMTP_SESSION *s);
extern char *cmtp_postmark_notice(CMTP_SESSION *s, CM_NOTICE_TYPE type, size_t *len,
				          char *err, size_t errlen);
extern CM_NOTARY *cmtp_notary(CMTP_SESSION *s, char *err, size_t errlen);
extern int cmtp_same_cert(const char *b64, X509 *cert);
extern int cmtp_check_ciphered_hash(CMTP_SESSION *s, const CM_NOTICE *n,
				            char *err, size_t errlen);
extern int cmtp_store_and_submit(CMTP_SESSION *s, const char *notice, size_t notice_len,
				         const char *event, const char *peer,
				         int *temporary, char *err, size_t errlen);
extern void cmtp_depo(CMTP_SESSION *s, const char *arg);
extern void cmtp_discard_data(CMTP_SESSION *s);
extern void cmtp_watchdog(int sig);
extern void cmtp_deposit_cleanup(void);

/* cmtp_peer.c */
extern void cmtp_peer_identify(CMTP_SESSION *s);
extern void cmtp_peer_free(CMTP_SESSION *s);
extern void cmtp_chck(CMTP_SESSION *s, const char *arg);
extern void cmtp_send(CMTP_SESSION *s, const char *arg);
extern int cmtp_remote_rcpt(CMTP_SESSION *s, const char *addr, X509 **cert_r,
			            int *code_r, char *err, size_t errlen);


#endif
