#ifndef CM_DSIG_H
#define CM_DSIG_H
/*++
 * NAME
 *	cm_dsig 3h
 * SUMMARY
 *	XML Signatures on X.1341 notices (PROFILE.md section 6)
 * SYNOPSIS
 *	#include "cm_dsig.h"
 *
 *	int	cm_dsig_sign(xmlDocPtr doc, CM_DSIG_PLACE place,
 *				EVP_PKEY *key, X509 *cert,
 *				STACK_OF(X509) *chain,
 *				char *err, size_t errlen);
 *	int	cm_dsig_verify(xmlDocPtr doc, CM_TRUST *trust,
 *				CM_DSIG_REPORT *rep);
 *	xmlNodePtr cm_dsig_place_node(xmlDocPtr doc, CM_DSIG_PLACE place);
 *	const char *cm_dsig_place_name(CM_DSIG_PLACE place);
 *	const char *cm_dsig_role_name(const CM_DSIG_SIG *sig);
 *	const char *cm_dsig_covers_name(CM_DSIG_COVERS covers);
 * DESCRIPTION
 *	A notice gathers up to CM_SIGNATURES_MAX enveloped signatures, each
 *	ds:Signature Id="cmail-sig-N" (N = signing order, from 1), in one of
 *	three places: DigitalPostmark (servers), EnvelopeInformation (the
 *	sender, or S1 on a transit notice) and EntityChallenge (the
 *	recipient). Which signature N may stand where, with which
 *	transforms, is fixed per root element:
 * .IP DepositNotice, TransitNotice
 *	1: DigitalPostmark, server, intersect (root)/c:DigitalPostmark.
 * .IP SignedDepositNotice, SignedTransitNotice
 *	1 as above; 2: EnvelopeInformation, the sender (a client
 *	certificate) or S1 (a server certificate), whole document.
 * .IP ReceiptNotice
 *	1: DigitalPostmark, server, intersect (root)/(any child) minus
 *	//c:Response.
 * .IP SignedReceiptNotice
 *	1 as above; 2: EntityChallenge, the recipient (a client certificate
 *	whose address is the Entity's EmailAddress), whole document;
 *	optionally 3: DigitalPostmark, the server's countersignature,
 *	whole document.
 .IP "NonDeliveryNotice (Cmail extension, namespace CM_NS_EXT)"
 *	1: DigitalPostmark, the sending server S1 (server certificate),
 *	whole document (no intersect: it is signed on its final root).
 * .PP
 *	Every signature ends with a subtract of itself and later signatures
 *	(//ds:Signature[number(substring-after(@Id,'cmail-sig-')) >= N])
 *	and exclusive C14N; RSA-SHA256, SHA-256, one Reference URI="",
 *	KeyInfo/X509Data with the signer's certificate first.
 *
 *	cm_dsig_sign() appends signature N = (signatures present + 1) as
 *	the last child of the place element, with no whitespace around it,
 *	and signs it with xmlsec1. It refuses a place that the table above
 *	does not allow for the current root and N. Returns N, or -1 with a
 *	reason in err.
 *
 *	cm_dsig_verify() validates doc against cm_notice_schema_path() of
 *	its root (x1341-notices.xsd, or cmail-extensions.xsd for a
 *	NonDeliveryNotice), then checks
 *	every ds:Signature: its place and N against the table (duplicate
 *	Ids, gaps, wrong places, too many are errors), that its transforms
 *	are exactly the shape for its N (no signature wrapping), the
 *	signature value with xmlsec1 using only the public key of the
 *	certificate in its own KeyInfo, and that certificate with
 *	cm_cert_validate() against trust. With trust NULL the certificates
 *	are not checked and the notice is invalid ("no trust anchors given
 *	(--ca)"). It fills rep and returns 0 when the notice is valid, -1
 *	otherwise (rep->reason says why).
 *
 *	Each report entry names the signer (subject, address, and
 *	cert_sha256, the SHA-256 fingerprint of the certificate whose key
 *	verified the signature: the first X509Certificate of its KeyInfo;
 *	any others are only path-building help), its role and what it
 *	covers, with crypto_ok, cert_ok and the reasons.
 *
 *	cm_dsig_place_node() finds a place element under the root by
 *	namespace and name (NULL when absent).
 *
 *	cm_dsig_place_cert() returns (a new reference to) the certificate
 *	in the KeyInfo of the nth (from 0) signature at a place, NULL when
 *	there is none. Call it after cm_dsig_verify() accepted the notice:
 *	only then is that the certificate whose key made the signature.
 *--*/
#include <stddef.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cm_cert.h"
#include "cm_limits.h"

typedef enum {
    CM_DSIG_POSTMARK = 1,		/* DigitalPostmark: a server */
    CM_DSIG_INFO,			/* EnvelopeInformation: sender or S1 */
    CM_DSIG_CHALLENGE,			/* EntityChallenge: the recipient */
} CM_DSIG_PLACE;

typedef enum {
    CM_COVERS_NONE = 0,			/* not determined (malformed) */
    CM_COVERS_POSTMARK,			/* DigitalPostmark only */
    CM_COVERS_ALL_BUT_RESPONSE,		/* everything under the root but Response */
    CM_COVERS_ALL,			/* the whole document */
} CM_DSIG_COVERS;

#define CM_DSIG_TEXT_MAX 256

typedef struct {
    int     n;				/* N of Id="cmail-sig-N", 0 if unknown */
    CM_DSIG_PLACE place;		/* 0 if not one of the three */
    CM_CERT_ROLE role;			/* certificate role required */
    const char *who;			/* "server", "sender", "recipient", ... */
    char    subject[CM_DSIG_TEXT_MAX];	/* signer certificate subject */
    char    address[CM_ADDRESS_MAX + 1];	/* SAN rfc822Name or emailAddress */
    unsigned char cert_sha256[32];	/* SHA-256 of the signer certificate's DER, 0s if none */
    CM_DSIG_COVERS covers;
    int     shape_ok;			/* place, N and transforms as the table */
    int     crypto_ok;			/* xmlsec1 verified digest and value */
    int     cert_ok;			/* cm_cert_validate() passed */
    char    reason[CM_DSIG_TEXT_MAX];	/* first problem of this signature */
    char    cert_reason[CM_DSIG_TEXT_MAX];	/* "ok" or why the certificate fails */
} CM_DSIG_SIG;

typedef struct {
    char    root[32];			/* root element local name */
    int     schema_ok;
    char    schema_reason[CM_DSIG_TEXT_MAX];
    int     n;				/* signatures found (at most CM_SIGNATURES_MAX reported) */
    CM_DSIG_SIG sigs[CM_SIGNATURES_MAX];
    int     valid;
    char    reason[CM_DSIG_TEXT_MAX];	/* why not valid */
} CM_DSIG_REPORT;

extern int cm_dsig_sign(xmlDocPtr doc, CM_DSIG_PLACE place, EVP_PKEY *key, X509 *cert,
			        STACK_OF(X509) *chain, char *err, size_t errlen);
extern int cm_dsig_verify(xmlDocPtr doc, CM_TRUST *trust, CM_DSIG_REPORT *rep);
extern xmlNodePtr cm_dsig_place_node(xmlDocPtr doc, CM_DSIG_PLACE place);
extern X509 *cm_dsig_place_cert(xmlDocPtr doc, CM_DSIG_PLACE place, int nth);
extern const char *cm_dsig_place_name(CM_DSIG_PLACE place);
extern const char *cm_dsig_role_name(const CM_DSIG_SIG *sig);
extern const char *cm_dsig_covers_name(CM_DSIG_COVERS covers);

#endif
