#ifndef CM_LIMITS_H
#define CM_LIMITS_H
/*++
 * NAME
 *	cm_limits 3h
 * SUMMARY
 *	hard limits on untrusted input
 * DESCRIPTION
 *	Every parser of data from the network, a mailbox or a file a user
 *	hands us stops at one of these bounds with a clear error. They are
 *	compile-time constants so that a fuzzer and the tests see the same
 *	limits the daemons use. Configurable limits (message size) are in
 *	cmail.conf and may only be lower.
 *--*/

#define CM_LINE_MAX		1000	/* RFC 5321 text line incl. CRLF */
#define CM_CMD_LINE_MAX		(1024 * 1024)	/* DEPO/CHLG RESP base64 line */
#define CM_NOTICE_MAX		(4 * 1024 * 1024)	/* one notice XML document */
#define CM_XML_DEPTH_MAX	32	/* element nesting in a notice */
#define CM_XML_NODES_MAX	20000	/* elements+attributes in a notice */
#define CM_ENTITIES_MAX		1000	/* recipients (Entity) per notice */
#define CM_SIGNATURES_MAX	8	/* ds:Signature elements per notice */
#define CM_CERT_DER_MAX		(64 * 1024)	/* one certificate */
#define CM_CHAIN_MAX		10	/* certificates in a path */
#define CM_PATHS_MAX		16	/* candidate paths tried per check */
#define CM_CONFIG_LINE_MAX	4096	/* one cmail.conf line */
#define CM_ADDRESS_MAX		254	/* RFC 5321 path */
#define CM_ENVELOPE_ID_MAX	64	/* EnvelopeId text */

#endif
