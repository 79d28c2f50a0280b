#ifndef CM_PEER_H
#define CM_PEER_H
/*++
 * NAME
 *	cm_peer 3h
 * SUMMARY
 *	authenticate another Cmail server (mutual TLS, Annex C.2)
 * SYNOPSIS
 *	#include "cm_peer.h"
 *
 *	int	cm_peer_cert(SSL *ssl, X509 **cert_r);
 *	int	cm_peer_validate(CM_TRUST *trust, X509 *cert,
 *				char *err, size_t errlen);
 *	int	cm_peer_speaks_for(X509 *cert, const char *domain);
 * DESCRIPTION
 *	The server-to-server rules of notes/s2s.md ("Peer
 *	authentication"), shared by cmtpd (server side: CHCK RCPT, SEND
 *	EVLP, SEND NORP) and cmail-relay (client side).
 *
 *	cm_peer_cert() stores the peer's leaf certificate of a completed
 *	TLS handshake in *cert_r (a new reference: the caller frees it
 *	with X509_free()) and returns 0; -1 when there is no TLS or the
 *	peer sent no certificate.
 *
 *	cm_peer_validate() accepts a server certificate: cm_cert_validate()
 *	with role CM_ROLE_SERVER (Annex C.2 profile), purpose any (server
 *	certificates carry serverAuth, clientAuth and emailProtection),
 *	keyUsage digitalSignature (TLS), against trust (anchors and CRLs)
 *	at the current time. Returns 0, or -1 with the first failed rule in
 *	err.
 *
 *	cm_peer_speaks_for() returns 1 when the certificate speaks for the
 *	mail domain: the domain of a SAN rfc822Name (the administrator
 *	address of C.2) equals domain, or one of its DNS names (SAN
 *	dNSName, subject dnsName 2.5.4.100, subject CN) equals domain or
 *	ends with "." domain (only when domain has a dot: no name speaks
 *	for a whole top-level domain by suffix); all comparisons
 *	case-insensitive, one trailing dot ignored on either side. Names holding a NUL byte or
 *	longer than 253 bytes count for nothing. Returns 0 otherwise (also
 *	for a NULL or empty domain).
 * SEE ALSO
 *	cm_cert(3h), cm_cmtp_client(3h), notes/s2s.md
 *--*/
#include <stddef.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cm_cert.h"

extern int cm_peer_cert(SSL *ssl, X509 **cert_r);
extern int cm_peer_validate(CM_TRUST *trust, X509 *cert, char *err, size_t errlen);
extern int cm_peer_speaks_for(X509 *cert, const char *domain);

#endif
