#ifndef CM_CMTP_CLIENT_H
#define CM_CMTP_CLIENT_H
/*++
 * NAME
 *	cm_cmtp_client 3h
 * SUMMARY
 *	CMTP client towards another Cmail server (CHCK RCPT, SEND EVLP, SEND NORP)
 * SYNOPSIS
 *	#include "cm_cmtp_client.h"
 *
 *	CM_CMTP_CLIENT *cm_cmtp_open(const CM_CONFIG *cf, CM_TRUST *trust,
 *				const char *domain, char *err, size_t errlen,
 *				int *temporary);
 *	CM_CMTP_CLIENT *cm_cmtp_open_ex(const CM_CONFIG *cf, CM_TRUST *trust,
 *				const char *domain, char *err, size_t errlen,
 *				int *fail_r);
 *	int	cm_cmtp_chck_rcpt(CM_CMTP_CLIENT *c, const char *addr,
 *				X509 **cert_r, int *code_r,
 *				char *err, size_t errlen);
 *	int	cm_cmtp_send_evlp(CM_CMTP_CLIENT *c, const char *sdn_b64,
 *				FILE *envelope, char **transit_xml_r,
 *				size_t *len_r, int *code_r,
 *				char *err, size_t errlen);
 *	int	cm_cmtp_send_norp(CM_CMTP_CLIENT *c, const char *receipt_b64,
 *				int *code_r, char *err, size_t errlen);
 *	const char *cm_cmtp_peer_host(const CM_CMTP_CLIENT *c);
 *	X509	*cm_cmtp_peer_cert(const CM_CMTP_CLIENT *c);
 *	void	cm_cmtp_close(CM_CMTP_CLIENT *c);
 *
 *	int	cm_cmtp_notice_msgid(char *buf, size_t size, const char *kind,
 *				const char *envelope_id, const char *key,
 *				const char *domain);
 * DESCRIPTION
 *	The client side of the server-to-server exchange (PROFILE.md
 *	section 2, notes/s2s.md), used by cmtpd (CHCK RCPT while a client
 *	deposits) and cmail-relay (SEND EVLP, SEND NORP).
 *
 *	cm_cmtp_open() finds the candidates for domain (cm_relay_lookup():
 *	cmail_relay_map, then DNS MX) and tries them in order: connect
 *	(at most min(smtp_timeout, 30) seconds), the 220 greeting, EHLO
 *	myhostname, STARTTLS, TLS with cmail.conf tls_certificate and
 *	tls_key as our client certificate and trust_anchors as the CAs
 *	(TLS 1.2+, cm_tls(3h)), then the peer check of cm_peer(3h): the
 *	peer's certificate must be a valid Annex C.2 server certificate
 *	(cm_peer_validate() against trust) that speaks for domain
 *	(cm_peer_speaks_for()); then CELO myhostname. Every later read or
 *	write waits at most smtp_timeout seconds. It returns the session,
 *	or NULL with a reason in err (the last candidate's, "host:port:
 *	..."), and *temporary 1 when trying again later may help
 *	(connection refused or timed out, 4xx, DNS trouble, our own TLS
 *	set-up) or 0 when not (5xx greeting, EHLO, STARTTLS or CELO; no
 *	server for the domain; the peer's certificate refused). When any
 *	candidate failed temporarily, the failure is temporary.
 *
 *	cm_cmtp_open_ex() is the same with *fail_r set to
 *	CM_CMTP_FAIL_TEMP, CM_CMTP_FAIL_PERM or CM_CMTP_FAIL_PEER (the
 *	peer's certificate was refused: cmail-relay exits EX_NOPERM).
 *
 *	cm_cmtp_chck_rcpt() sends "CHCK RCPT <addr> CertificateRequested"
 *	and returns 0 only when the peer answered 250 with a
 *	UserCertificate that validates as addr's certificate (RFC 3850,
 *	Annex C.3, keyEncipherment, the address) against the session's
 *	trust; *cert_r then holds it (the caller frees it). Otherwise -1
 *	with a reason in err and *code_r: the peer's reply code (553,
 *	501, 503, 530, 4xx ...), 554 when the peer said 250 but sent no
 *	certificate or one that does not validate, 501 (nothing sent) for
 *	an invalid address, 0 for a transport failure (temporary).
 *
 *	cm_cmtp_send_evlp() sends "SEND EVLP <sdn_b64>", and after the 354
 *	the ENVELOPE read from envelope (from where it stands to end of
 *	file; LF or CRLF lines, sent as CRLF, dot-stuffed) and ".". On a
 *	250 reply carrying a TransitNotice object it returns 0 with the
 *	decoded XML in *transit_xml_r (malloc()ed, NUL-terminated, length
 *	in *len_r). The notice is not checked here: the caller verifies
 *	it. Otherwise -1 with *code_r the failing reply code (354's
 *	refusal, or the final reply), 250 when a 250 came without a
 *	TransitNotice (the peer may have delivered), 0 for a transport
 *	failure, 501 (nothing sent) when sdn_b64 is empty or longer than
 *	a command line may be (CM_CMD_LINE_MAX).
 *
 *	cm_cmtp_send_norp() sends "SEND NORP <receipt_b64>": 0 on 250,
 *	else -1 with *code_r as above.
 *
 *	After a transport failure the session is unusable: later calls
 *	fail at once with *code_r 0.
 *
 *	cm_cmtp_peer_host() is the "host:port" connected to;
 *	cm_cmtp_peer_cert() the peer's validated certificate (owned by the
 *	session).
 *
 *	cm_cmtp_close() sends QUIT (waiting at most a few seconds for the
 *	answer), closes and frees; NULL is allowed.
 *
 *	The notice mails of the server-to-server exchange (the transit
 *	notice mail of cmail-relay, the receipt notice mail of cmtpd on
 *	SEND NORP) are submitted, and their work journalled, by processes
 *	that may be killed in between; the retry mails again. Such a
 *	second mail carries the same Message-ID as the first, so that the
 *	delivery plugin (dovecot-plugin/cmail-deliver-plugin.c) can save
 *	it once. cm_cmtp_notice_msgid() writes that Message-ID,
 *	"<cmail-KIND.ENVID.HASH@DOMAIN>": ENVID the envelope id with
 *	every character outside [A-Za-z0-9._-] written '=', HASH the
 *	first 16 hex digits of SHA-256 of key in lower case, DOMAIN domain
 *	in lower case ("invalid" when empty or not [A-Za-z0-9.-]). For
 *	kind "receipt", key the answering recipient and domain its
 *	domain, it is the Message-ID the CPOP plugin gives the same
 *	receipt notice (cmail-pop3-receipt.c). 0, or -1 when it does not
 *	fit. The mail then carries it through CM_NOTICEMAIL message_id.
 * SEE ALSO
 *	cm_peer(3h), cm_relay_map(3h), cmail-relay(8), notes/s2s.md
 *--*/
#include <stdio.h>
#include <stddef.h>
#include <openssl/x509.h>

#include "cm_config.h"
#include "cm_cert.h"
#include "cm_noticemail.h"

#define CM_CMTP_FAIL_PERM	0	/* permanent: 5xx, no server */
#define CM_CMTP_FAIL_TEMP	1	/* temporary: try again later */
#define CM_CMTP_FAIL_PEER	2	/* the peer's certificate was refused */

#define CM_CMTP_CONNECT_TIMEOUT	30	/* seconds, at most */

typedef struct CM_CMTP_CLIENT CM_CMTP_CLIENT;

extern CM_CMTP_CLIENT *cm_cmtp_open(const CM_CONFIG *cf, CM_TRUST *trust, const char *domain,
				            char *err, size_t errlen, int *temporary);
extern CM_CMTP_CLIENT *cm_cmtp_open_ex(const CM_CONFIG *cf, CM_TRUST *trust, const char *domain,
				               char *err, size_t errlen, int *fail_r);
extern int cm_cmtp_chck_rcpt(CM_CMTP_CLIENT *c, const char *addr, X509 **cert_r, int *code_r,
			             char *err, size_t errlen);
extern int cm_cmtp_send_evlp(CM_CMTP_CLIENT *c, const char *sdn_b64, FILE *envelope,
			             char **transit_xml_r, size_t *len_r, int *code_r,
			             char *err, size_t errlen);
extern int cm_cmtp_send_norp(CM_CMTP_CLIENT *c, const char *receipt_b64, int *code_r,
			             char *err, size_t errlen);
extern const char *cm_cmtp_peer_host(const CM_CMTP_CLIENT *c);
extern X509 *cm_cmtp_peer_cert(const CM_CMTP_CLIENT *c);
extern void cm_cmtp_close(CM_CMTP_CLIENT *c);
extern int cm_cmtp_notice_msgid(char *buf, size_t size, const char *kind,
				        const char *envelope_id, const char *key, const char *domain);

#endif
