#ifndef CM_TLS_H
#define CM_TLS_H
/*++
 * NAME
 *	cm_tls 3h
 * SUMMARY
 *	TLS contexts with Cmail's policy (PROFILE.md section 8)
 * SYNOPSIS
 *	#include "cm_tls.h"
 *
 *	SSL_CTX	*cm_tls_server_ctx(const char *cert, const char *key,
 *				const char *client_ca, char *err, size_t errlen);
 *	SSL_CTX	*cm_tls_client_ctx(const char *ca, const char *cert,
 *				const char *key, char *err, size_t errlen);
 *	int	cm_tls_server_ask_peer(SSL_CTX *ctx, const char *anchors,
 *				char *err, size_t errlen);
 *	int	cm_tls_server_tickets(SSL_CTX *ctx, long lifetime,
 *				char *err, size_t errlen);
 *	int	cm_tls_server_ticket_rotate(SSL_CTX *ctx);
 *	int	cm_tls_client_session_file(SSL_CTX *ctx, const char *path,
 *				char *err, size_t errlen);
 * DESCRIPTION
 *	TLS 1.3 and TLS 1.2 only; with TLS 1.2 only ECDHE with AES-256-GCM
 *	(RSA or ECDSA authentication); with TLS 1.3 the AES-GCM suites.
 *	Annex D's TLS_DH_RSA_WITH_AES_256_CBC_SHA256 is a static-DH suite
 *	that OpenSSL does not implement; see PROFILE.md section 8.
 *
 *	cm_tls_server_ctx() loads the certificate chain and key; with
 *	client_ca non-NULL it requests and requires a client certificate
 *	verified against that file (mutual TLS between Cmail servers).
 *
 *	cm_tls_server_ask_peer() makes a server context ask for a client
 *	certificate without requiring one, naming the subjects of the
 *	anchors file as acceptable issuers: cmtpd serves Cmail users
 *	(no certificate) and peer servers (their C.2 certificate) on one
 *	port. OpenSSL's own verdict is ignored; the caller validates what
 *	SSL_get0_peer_certificate() returns with cm_peer (RFC 3850, Annex
 *	C.2, name of the domain spoken for), which is stricter.
 *
 *	cm_tls_client_ctx() verifies the server against ca (mandatory) and,
 *	when cert and key are given, presents them.
 *
 *	cm_tls_server_tickets() with lifetime > 0 makes a server context
 *	issue one stateless session ticket per handshake (TLS 1.3; TLS 1.2
 *	tickets too), valid lifetime seconds, under fresh random ticket
 *	keys held in the context: processes forked after this call share
 *	them, so a client resumes with any of them. With lifetime <= 0 no
 *	ticket is issued or accepted (a process that serves one connection
 *	and exits could never honour one). A resumed session carries the
 *	client certificate of its full handshake: callers that trust a
 *	peer certificate validate SSL_get0_peer_certificate() again on
 *	every connection, resumed or not (cmtpd does, with cm_peer).
 *	cm_tls_server_ticket_rotate() replaces the ticket keys (tickets
 *	issued before no longer resume in processes forked after).
 *
 *	cm_tls_client_session_file() makes a client context offer the TLS
 *	session saved in path (PEM; a missing, unreadable or stale file
 *	means a full handshake) to a server of the same SNI name, and save
 *	each new session the server grants there (mode 0600: it holds the
 *	resumption secret). Each connection of the context may resume.
 *--*/
#include <stddef.h>
#include <openssl/ssl.h>

#define CM_TLS12_CIPHERS "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
#define CM_TLS13_SUITES	"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"

extern SSL_CTX *cm_tls_server_ctx(const char *cert, const char *key, const char *client_ca,
				          char *err, size_t errlen);
extern SSL_CTX *cm_tls_client_ctx(const char *ca, const char *cert, const char *key,
				          char *err, size_t errlen);

extern int cm_tls_server_ask_peer(SSL_CTX *ctx, const char *anchors, char *err, size_t errlen);
extern int cm_tls_server_tickets(SSL_CTX *ctx, long lifetime, char *err, size_t errlen);
extern int cm_tls_server_ticket_rotate(SSL_CTX *ctx);
extern int cm_tls_client_session_file(SSL_CTX *ctx, const char *path, char *err, size_t errlen);

#endif
