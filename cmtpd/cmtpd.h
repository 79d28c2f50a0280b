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

#define CMTP_ERRORS_MAX	20		/* bad commands before 421 */

typedef struct {
    char    addr[CM_ADDRESS_MAX + 1];
    X509   *cert;			/* validated, from the certificate directory */
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
    int     errors;
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

/* cmtp_deposit.c */
extern void cmtp_data(CMTP_SESSION *s);
extern void cmtp_depo(CMTP_SESSION *s, const char *arg);
extern void cmtp_discard_data(CMTP_SESSION *s);
extern void cmtp_watchdog(int sig);


#endif
