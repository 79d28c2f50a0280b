#ifndef CM_RECEIPT_CLIENT_H
#define CM_RECEIPT_CLIENT_H
/*++
 * NAME
 *	cm_receipt_client 3h
 * SUMMARY
 *	the recipient's side of CPOP: LIST/CAPA lines, receipt notice check,
 *	challenge answer, ENVELOPE hash check
 * SYNOPSIS
 *	#include "cm_receipt_client.h"
 *
 *	int	cm_pop3_list_parse(const char *line, CM_POP3_LISTING *l);
 *	int	cm_pop3_capa_cmail(const char *line);
 *
 *	int	cm_receipt_check(xmlDocPtr doc, const CM_NOTICE *n,
 *				CM_TRUST *trust, X509 *cert,
 *				char *err, size_t errlen);
 *	int	cm_receipt_check_cached(xmlDocPtr doc, const CM_NOTICE *n,
 *				CM_TRUST *trust, X509 *cert,
 *				CM_RECEIPT_CACHE *cache,
 *				char *err, size_t errlen);
 *	int	cm_receipt_answer(xmlDocPtr doc, const CM_NOTICE *n,
 *				EVP_PKEY *key, X509 *cert,
 *				unsigned char *rsck, CM_ENVELOPE_ALG *alg,
 *				char *err, size_t errlen);
 *	int	cm_receipt_unwrap(const CM_NOTICE *n, EVP_PKEY *key,
 *				unsigned char *rsck, CM_ENVELOPE_ALG *alg,
 *				char *err, size_t errlen);
 *	int	cm_receipt_envelope_check(const CM_NOTICE *n,
 *				const CM_ENVELOPE_DIGESTS *d,
 *				FILE *plain, FILE *envelope,
 *				char *err, size_t errlen);
 * DESCRIPTION
 *	PROFILE.md sections 4-6, steps p1-p4, as `cmail fetch` does them.
 *
 *	cm_pop3_list_parse() parses one LIST line "n size" or
 *	"n size CertifiedMail" (also the argument of a "+OK n size ..."
 *	reply to LIST n with the "+OK " removed). n is 1 to
 *	CM_POP3_MSG_MAX, size a decimal of at most 15 digits; other
 *	trailing words are ignored. It returns 0, or -1 for a malformed
 *	line.
 *
 *	cm_pop3_capa_cmail() returns 1 when a CAPA line is the keyword
 *	CMAIL (case-insensitively) with CertifiedMail among its
 *	arguments, 0 otherwise.
 *
 *	cm_receipt_check() checks a receipt notice received with RETR n
 *	(step p2) before anything is done with it: the root is
 *	ReceiptNotice; cm_dsig_verify() accepts it against trust, with
 *	exactly one signature, the server's in DigitalPostmark; it holds
 *	one Entity whose EmailAddress is an address of cert, which must
 *	validate (RFC 3850, Annex C.3, digitalSignature and
 *	keyEncipherment) for that address; the Entity's Certificate is
 *	cert itself; the EntityChallenge repeats the Entity's
 *	RandomNumber, a valid number, and its Response is empty.
 *
 *	cm_receipt_check_cached() does the same for one session of many
 *	notices: cache (zeroed by the caller before the first call, with
 *	the same trust and cert for every call, nothing to free) remembers
 *	the address cert last validated for, so that cert is validated
 *	(chain, CRL, key usage: the costly part after the signature) once
 *	per address rather than once per notice. A validation that failed
 *	is not remembered.
 *
 *	cm_receipt_answer() answers a checked notice (step p3): unwraps
 *	RSCK from the Entity's CipherEnvelopeKey with key (CipheredKey
 *	RSA-OAEP or RSA) into rsck (CM_ENVELOPE_KEY_LEN bytes) and the
 *	Algorithm into *alg, computes base64(H(RandomNumber || RSCK))
 *	with H named by Response@AlgorithmIdentifier (SHA-256 when
 *	absent), writes it into EntityChallenge/SecretQuestion/Response,
 *	renames the root to SignedReceiptNotice and appends the
 *	recipient's signature (cmail-sig-2) in EntityChallenge with key
 *	and cert. On failure rsck is zeroed. The caller wipes rsck with
 *	OPENSSL_cleanse() when done.
 *
 *	cm_receipt_unwrap() is the first step of cm_receipt_answer()
 *	alone, for a receipt notice answered before (a SignedReceiptNotice
 *	kept by the client, whose server now sends the ENVELOPE at once).
 *
 *	cm_receipt_envelope_check() compares the digests of a decrypted
 *	ENVELOPE (d, from cm_envelope_mime_decrypt()) with the notice's
 *	BodyEnvelopeInformation: UncipheredEnvelopeHash and
 *	CipheredEnvelopeHash, in constant time (cm_hash_b64_equal()).
 *	SHA-256 values compare with d; for SHA-1 values (accepted on
 *	input) the plaintext and the ciphertext are hashed again from the
 *	files plain and envelope (both rewound first; each may be NULL
 *	when its hash is SHA-256).
 *
 *	The functions that take err return 0, or -1 with a one-line
 *	reason in err.
 * SEE ALSO
 *	cmail(1) fetch, cm_notice(3h), cm_dsig(3h), cm_keywrap(3h),
 *	cm_challenge(3h), cm_envelope_mime(3h)
 *--*/
#include <stddef.h>
#include <stdio.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cm_cert.h"
#include "cm_notice.h"
#include "cm_envelope.h"

#define CM_POP3_MSG_MAX		1000000UL	/* message numbers we accept */
#define CM_POP3_DELIVERY_TYPE	"CertifiedMail"

typedef struct {
    unsigned long num;			/* message number, 1.. */
    unsigned long long size;		/* octets */
    int     certified;			/* LIST said CertifiedMail */
} CM_POP3_LISTING;

typedef struct {
    char    address[CM_ADDRESS_MAX + 1];	/* cert validated for it; "" none */
} CM_RECEIPT_CACHE;

extern int cm_pop3_list_parse(const char *line, CM_POP3_LISTING *l);
extern int cm_pop3_capa_cmail(const char *line);
extern int cm_receipt_check(xmlDocPtr doc, const CM_NOTICE *n, CM_TRUST *trust, X509 *cert,
			            char *err, size_t errlen);
extern int cm_receipt_check_cached(xmlDocPtr doc, const CM_NOTICE *n, CM_TRUST *trust,
				           X509 *cert, CM_RECEIPT_CACHE *cache,
				           char *err, size_t errlen);
extern int cm_receipt_answer(xmlDocPtr doc, const CM_NOTICE *n, EVP_PKEY *key, X509 *cert,
			             unsigned char *rsck, CM_ENVELOPE_ALG *alg,
			             char *err, size_t errlen);
extern int cm_receipt_unwrap(const CM_NOTICE *n, EVP_PKEY *key, unsigned char *rsck,
			             CM_ENVELOPE_ALG *alg, char *err, size_t errlen);
extern int cm_receipt_envelope_check(const CM_NOTICE *n, const CM_ENVELOPE_DIGESTS *d,
				             FILE *plain, FILE *envelope,
				             char *err, size_t errlen);

#endif
