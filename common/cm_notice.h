#ifndef CM_NOTICE_H
#define CM_NOTICE_H
/*++
 * NAME
 *	cm_notice 3h
 * SUMMARY
 *	X.1341 notices (Annex A, PROFILE.md section 6): model, DOM, mutations
 * SYNOPSIS
 *	#include "cm_notice.h"
 *
 *	CM_NOTICE *cm_notice_new(CM_NOTICE_TYPE type);
 *	void	cm_notice_free(CM_NOTICE *n);
 *	int	cm_notice_add_mime_hash(CM_NOTICE *n, CM_HASH_ALG alg,
 *				const char *b64);
 *	CM_NOTICE_ENTITY *cm_notice_add_entity(CM_NOTICE *n);
 *	int	cm_notice_set_str(char **field, const char *value);
 *	CM_NOTICE *cm_notice_receipt_model(const CM_NOTICE *deposit,
 *				const char *address, char *err, size_t errlen);
 *
 *	xmlDocPtr cm_notice_build(const CM_NOTICE *n, char *err, size_t errlen);
 *	CM_NOTICE *cm_notice_parse(xmlDocPtr doc, char *err, size_t errlen);
 *	CM_NOTICE *cm_notice_read(const char *data, size_t len,
 *				xmlDocPtr *doc_r, char *err, size_t errlen);
 *	int	cm_notice_validate(xmlDocPtr doc, char *err, size_t errlen);
 *
 *	int	cm_notice_promote(xmlDocPtr doc, const CM_NOTICE *info,
 *				char *err, size_t errlen);
 *	int	cm_notice_set_response(xmlDocPtr doc, const char *answer_b64,
 *				char *err, size_t errlen);
 *	xmlNodePtr cm_notice_find(xmlDocPtr doc, CM_NOTICE_PART which);
 *	CM_NOTICE_TYPE cm_notice_type_of(xmlDocPtr doc);
 *
 *	const char *cm_notice_type_name(CM_NOTICE_TYPE type);
 *	CM_NOTICE_TYPE cm_notice_type_from_name(const char *name);
 *	CM_NOTICE_TYPE cm_notice_signed_type(CM_NOTICE_TYPE type);
 *	int	cm_notice_is_signed(CM_NOTICE_TYPE type);
 *	const char *cm_entity_type_name(CM_ENTITY_TYPE type);
 *	int	cm_entity_type_from_name(const char *name, CM_ENTITY_TYPE *type);
 *
 *	int	cm_notice_add_recipient(CM_NOTICE *n, const char *address);
 *	CM_NOTICE *cm_notice_nondelivery_model(const CM_NOTICE *deposit,
 *				char *const *recipients, size_t nrcpt,
 *				const char *reason, time_t when,
 *				char *err, size_t errlen);
 *	xmlDocPtr cm_notice_nondelivery_build(const CM_NOTICE *deposit,
 *				char *const *recipients, size_t nrcpt,
 *				const char *reason, time_t when,
 *				char *err, size_t errlen);
 *	const char *cm_notice_schema_path(CM_NOTICE_TYPE type);
 * DESCRIPTION
 *	The six notice types of Annex A share one in-memory model
 *	(CM_NOTICE). Which parts are meaningful depends on the type:
 *
 *	all types: envelope_id, the MimeMessageHash list (the
 *	    DigitalPostmark; DeliveryType is always CertifiedMail);
 *	SignedDepositNotice, SignedTransitNotice: content (the
 *	    ContentEnvelopeInformation) and entities[] (Entities/Entity,
 *	    1..CM_ENTITIES_MAX);
 *	ReceiptNotice, SignedReceiptNotice: content (here the
 *	    BodyEnvelopeInformation), exactly one entity (the recipient's
 *	    Entity, entity_count == 1) and challenge (EntityChallenge).
 *
 *	Decision (schemas/README.md): the server copies the recipient's
 *	Entity into the receipt notice with an EMPTY Response, and adds an
 *	EntityChallenge whose SecretQuestion repeats Request@RandomNumber
 *	(and Response@AlgorithmIdentifier) with an empty Response. The
 *	recipient answers in EntityChallenge/SecretQuestion/Response
 *	(cm_notice_set_response()); the Entity copy stays empty.
 *
 *	Every char * in the model is a NUL-terminated malloc()ed string
 *	owned by the model (cm_notice_free() frees them), or NULL for an
 *	absent optional attribute. Use cm_notice_set_str() to fill them.
 *	An empty Response is "" or NULL (both build an empty element);
 *	parsing an empty Response gives "". Base64 text read from a
 *	document has its whitespace (line breaks) removed; a digest must
 *	decode to the size of its AlgorithmOID's hash.
 *
 *	Signatures are not part of the model: cm_notice_build() emits
 *	none; cm_notice_parse() skips ds:Signature elements where Annex A
 *	allows them (the last children of DigitalPostmark,
 *	EnvelopeInformation and EntityChallenge) and counts them in
 *	sigs_postmark, sigs_envinfo and sigs_challenge; their content is
 *	checked by cm_dsig, not here.
 *
 *	cm_notice_new() returns an empty model of the given type.
 *	cm_notice_add_mime_hash() appends a MimeMessageHash (copying b64).
 *	cm_notice_add_entity() appends a zeroed entity and returns it (NULL
 *	past CM_ENTITIES_MAX or out of memory). cm_notice_set_str() frees
 *	*field and stores a copy of value (NULL allowed); 0 or -1.
 *
 *	cm_notice_receipt_model() makes the model of the ReceiptNotice the
 *	server builds at RETR from a SignedDepositNotice or
 *	SignedTransitNotice model: same envelope_id and MimeMessageHash
 *	list, content copied as BodyEnvelopeInformation, the Entity whose
 *	EmailAddress equals address copied with
 *	the Response text removed, and the challenge as decided above.
 *	Addresses compare as cm_addr_equal() does (local part exactly,
 *	domain case-insensitively); two Entity elements with equal
 *	addresses make a notice invalid.
 *
 *	cm_notice_build() checks the model as strictly as
 *	cm_notice_parse() does and returns a new document: the notices
 *	namespace is the default namespace on the root (for a
 *	NonDeliveryNotice CM_NS_EXT is, with CM_NS as prefix c), and there are no
 *	whitespace text nodes anywhere (signatures depend on exact text;
 *	serialise with cm_xml_serialize()). Attribute spellings are the
 *	schema's (CipherEnvelopeKey@Encoding, Certificate@encoding;
 *	Response@Encoding, which only the examples have).
 *
 *	cm_notice_parse() reads a document (from cm_xml_parse()) into a
 *	model, strictly: the root must be one of the six notice elements in
 *	the notices namespace, or NonDeliveryNotice in CM_NS_EXT; unknown, missing, misplaced or duplicate
 *	elements and unknown attributes are errors; text where elements
 *	belong is an error (whitespace between elements is ignored);
 *	comments and processing instructions are errors; string lengths are
 *	bounded; EnvelopeId must match [A-Za-z0-9._@-]{1,64}; base64 fields
 *	must decode; hash OIDs must be SHA-256 or SHA-1 (cm_hash); at most
 *	CM_ENTITIES_MAX entities and CM_SIGNATURES_MAX signatures. Both
 *	`encoding` and `Encoding` are accepted on Certificate,
 *	CipherEnvelopeKey and Response (not both at once on one element). It does not validate against
 *	the XSD: call cm_notice_validate() for that.
 *
 *	cm_notice_read() is cm_xml_parse() followed by cm_notice_parse();
 *	on success *doc_r (if not NULL) receives the document, which the
 *	caller frees with xmlFreeDoc(); otherwise the document is freed.
 *
 *	cm_notice_validate() validates doc against
 *	cm_notice_schema_path(cm_notice_type_of(doc)).
 *
 *	DOM mutations for the signing flow (PROFILE.md section 6). They
 *	never add whitespace text nodes and never touch existing
 *	ds:Signature elements; each returns 0, or -1 with a one-line
 *	reason in err:
 *
 *	cm_notice_promote() renames the root DepositNotice to
 *	    SignedDepositNotice, TransitNotice to SignedTransitNotice,
 *	    ReceiptNotice to SignedReceiptNotice. For deposit and transit
 *	    it appends, as the root's last child after DigitalPostmark, an
 *	    EnvelopeInformation built from info->content and
 *	    info->entities (info->type may be any deposit/transit type); for
 *	    a receipt info is ignored and may be NULL. A root that is already
 *	    a Signed* notice is an error.
 *	cm_notice_set_response() sets the text of
 *	    EnvelopeInformation/EntityChallenge/SecretQuestion/Response of
 *	    a ReceiptNotice or SignedReceiptNotice to answer_b64 (checked as
 *	    base64), replacing any text it had.
 *	cm_notice_find() returns the element in which signatures go:
 *	    CM_PART_POSTMARK the root's DigitalPostmark,
 *	    CM_PART_ENVINFO the root's EnvelopeInformation,
 *	    CM_PART_CHALLENGE EnvelopeInformation/EntityChallenge;
 *	    NULL when the document has none. A new ds:Signature is appended
 *	    as that element's last child (after any earlier signatures).
 *	cm_notice_type_of() returns the type named by the root element
 *	    (namespace checked: CM_NS, or CM_NS_EXT for
 *	    NonDeliveryNotice), CM_NOTICE_UNKNOWN otherwise.
 *
 *	NonDeliveryNotice (CM_NOTICE_NONDELIVERY) is a Cmail extension,
 *	not an X.1341 notice (schemas/cmail-extensions.xsd, namespace
 *	CM_NS_EXT; doc/protocol.md): S1 tells the sender that a message
 *	could not be delivered to some recipients.
 *
 *	    <NonDeliveryNotice xmlns="urn:x-cmail:notices:extension:1"
 *	        xmlns:c="(CM_NS)">
 *	      <c:DigitalPostmark EnvelopeId DeliveryType>
 *	        <c:MimeMessageHash AlgorithmOID>..</c:MimeMessageHash>+
 *	        ds:Signature (S1's server, Id cmail-sig-1)
 *	      </c:DigitalPostmark>
 *	      <UndeliveredRecipients>
 *	        <Recipient EmailAddress="bob@b.test"/>+
 *	      </UndeliveredRecipients>
 *	      <Reason>text</Reason>
 *	      <Time>2026-11-25T10:45:00Z</Time>
 *	    </NonDeliveryNotice>
 *
 *	Its model uses envelope_id, mime_hashes (the DigitalPostmark
 *	copied from the message's SignedDepositNotice), recipients[]
 *	(1..CM_ENTITIES_MAX addresses, no two equal as cm_addr_equal()
 *	compares them), reason (1..CM_NOTICE_REASON_MAX bytes of UTF-8
 *	without control characters) and time (xs:dateTime in UTC,
 *	"YYYY-MM-DDThh:mm:ssZ"). It is signed once, by S1's server, at
 *	CM_DSIG_POSTMARK (the notary's SIGN at "postmark"): signature 1,
 *	on the final root, covers the whole document.
 *
 *	cm_notice_add_recipient() appends a copy of address to
 *	recipients[] (0, or -1 when full or out of memory).
 *
 *	cm_notice_nondelivery_model() makes the model of a
 *	NonDeliveryNotice from the model of the message's
 *	SignedDepositNotice (any type with a DigitalPostmark is
 *	accepted): its envelope_id and MimeMessageHash list, the nrcpt
 *	recipients (checked with cm_addr; not required to be Entities of
 *	the deposit), reason (controls become spaces, invalid UTF-8 bytes
 *	'?', cut to CM_NOTICE_REASON_MAX bytes; NULL or "" gives
 *	"undeliverable") and when (0: now) as time.
 *	cm_notice_nondelivery_build() is cm_notice_nondelivery_model()
 *	followed by cm_notice_build(): the document the notary signs.
 *
 *	cm_notice_schema_path() is the XSD a notice of this type
 *	validates against: cm_schema_path() (x1341-notices.xsd) for the
 *	six X.1341 types, cmail-extensions.xsd in the same directory for
 *	CM_NOTICE_NONDELIVERY (a thread-local buffer).
 *	cm_notice_validate() and cm_dsig_verify() pick it by the root.
 *
 *	cm_notice_type_name() returns the root element name of a type
 *	("DepositNotice", ...), or "unknown". cm_notice_type_from_name()
 *	is its inverse (CM_NOTICE_UNKNOWN when no match; "ReceipNotice",
 *	the Annex A misspelling, is not accepted). cm_notice_signed_type()
 *	maps DEPOSIT/TRANSIT/RECEIPT to their Signed* type (others map to
 *	themselves). cm_notice_is_signed() is 1 for the three Signed*
 *	types. cm_entity_type_name() and cm_entity_type_from_name() map
 *	the Entity@Type values from, to, cc, transit.
 * DIAGNOSTICS
 *	Functions that take err return NULL or -1 with a one-line reason
 *	such as "notice refused: bad EnvelopeId" in err.
 * SEE ALSO
 *	cm_xml(3h), cm_dsig(3h), schemas/README.md, schemas/ERRATA.md
 *--*/
#include <stddef.h>
#include <time.h>
#include <libxml/tree.h>

#include "cm_hash.h"
#include "cm_limits.h"

#define CM_NOTICE_HASHES_MAX	8	/* MimeMessageHash elements */
#define CM_NOTICE_RANDOM_MAX	128	/* Request@RandomNumber digits */
#define CM_NOTICE_MSGID_MAX	998	/* MessageId attribute */
#define CM_NOTICE_ATTR_MAX	256	/* other short attributes */
#define CM_NOTICE_B64_MAX	8192	/* CipherEnvelopeKey, Response text */
#define CM_NOTICE_REASON_MAX	1000	/* NonDeliveryNotice Reason bytes */

/* Namespace of Cmail's own notices (schemas/cmail-extensions.xsd). */
#define CM_NS_EXT	"urn:x-cmail:notices:extension:1"

typedef enum {
    CM_NOTICE_UNKNOWN = 0,
    CM_NOTICE_DEPOSIT,			/* DepositNotice */
    CM_NOTICE_SIGNED_DEPOSIT,		/* SignedDepositNotice */
    CM_NOTICE_TRANSIT,			/* TransitNotice */
    CM_NOTICE_SIGNED_TRANSIT,		/* SignedTransitNotice */
    CM_NOTICE_RECEIPT,			/* ReceiptNotice */
    CM_NOTICE_SIGNED_RECEIPT,		/* SignedReceiptNotice */
    CM_NOTICE_NONDELIVERY,		/* NonDeliveryNotice (Cmail extension) */
} CM_NOTICE_TYPE;

typedef enum {
    CM_ENTITY_FROM = 0,
    CM_ENTITY_TO,
    CM_ENTITY_CC,
    CM_ENTITY_TRANSIT,
} CM_ENTITY_TYPE;

typedef enum {
    CM_PART_POSTMARK = 0,		/* root/DigitalPostmark */
    CM_PART_ENVINFO,			/* root/EnvelopeInformation */
    CM_PART_CHALLENGE,			/* .../EntityChallenge */
} CM_NOTICE_PART;

/* HashValueType: AlgorithmOID attribute and the base64 digest as text. */
typedef struct {
    CM_HASH_ALG alg;
    char   *value;			/* base64 digest */
} CM_NOTICE_HASH;

/* ContentEnvelopeInformationType (also BodyEnvelopeInformation). */
typedef struct {
    char   *message_id;			/* @MessageId, NULL if absent */
    CM_NOTICE_HASH unciphered;		/* UncipheredEnvelopeHash */
    CM_NOTICE_HASH ciphered;		/* CipheredEnvelopeHash */
} CM_NOTICE_CONTENT;

/* SecretQuestionType: Request@RandomNumber, Response. */
typedef struct {
    char   *random_number;		/* Request@RandomNumber, decimal */
    char   *response_alg;		/* Response@AlgorithmIdentifier (OID) */
    char   *response;			/* Response text (base64), "" = empty */
    char   *response_encoding;		/* Response@Encoding (as in the
					 * Recommendation's examples; not in
					 * Annex A), NULL if absent */
} CM_NOTICE_QUESTION;

/* EntityType. */
typedef struct {
    char   *address;			/* @EmailAddress */
    CM_ENTITY_TYPE type;		/* @Type */
    CM_NOTICE_QUESTION question;	/* SecretQuestion */
    /* CipherEnvelopeKey */
    char   *key_algorithm;		/* @Algorithm, e.g. AES-256-GCM */
    char   *key_wrap;			/* @CipheredKey, RSA-OAEP or RSA */
    char   *key_encoding;		/* @Encoding, e.g. base64 */
    int     key_size;			/* @KeySize, 0 = absent */
    char   *wrapped_key;		/* text: base64 wrapped RSCK */
    /* Certificate */
    char   *cert_encoding;		/* @encoding, e.g. base64 */
    char   *certificate;		/* text: base64 DER */
} CM_NOTICE_ENTITY;

/* One notice; see DESCRIPTION for which parts each type uses. */
typedef struct {
    CM_NOTICE_TYPE type;
    char   *envelope_id;		/* DigitalPostmark@EnvelopeId */
    CM_NOTICE_HASH *mime_hashes;	/* DigitalPostmark/MimeMessageHash */
    size_t  mime_hash_count;
    CM_NOTICE_CONTENT content;		/* Content-/BodyEnvelopeInformation */
    CM_NOTICE_ENTITY *entities;		/* Entities/Entity or receipt Entity */
    size_t  entity_count;
    CM_NOTICE_QUESTION challenge;	/* EntityChallenge/SecretQuestion */
    /* Filled by cm_notice_parse(), ignored by cm_notice_build(). */
    size_t  sigs_postmark;		/* ds:Signature in DigitalPostmark */
    size_t  sigs_envinfo;		/* ... in EnvelopeInformation */
    size_t  sigs_challenge;		/* ... in EntityChallenge */
    /* NonDeliveryNotice only (Cmail extension). */
    char  **recipients;			/* UndeliveredRecipients/Recipient@EmailAddress */
    size_t  recipient_count;
    char   *reason;			/* Reason text */
    char   *time;			/* Time, "YYYY-MM-DDThh:mm:ssZ" */
} CM_NOTICE;

extern CM_NOTICE *cm_notice_new(CM_NOTICE_TYPE type);
extern void cm_notice_free(CM_NOTICE *n);
extern int cm_notice_add_mime_hash(CM_NOTICE *n, CM_HASH_ALG alg, const char *b64);
extern CM_NOTICE_ENTITY *cm_notice_add_entity(CM_NOTICE *n);
extern int cm_notice_set_str(char **field, const char *value);
extern CM_NOTICE *cm_notice_receipt_model(const CM_NOTICE *deposit, const char *address,
					          char *err, size_t errlen);

extern xmlDocPtr cm_notice_build(const CM_NOTICE *n, char *err, size_t errlen);
extern CM_NOTICE *cm_notice_parse(xmlDocPtr doc, char *err, size_t errlen);
extern CM_NOTICE *cm_notice_read(const char *data, size_t len, xmlDocPtr *doc_r,
				         char *err, size_t errlen);
extern int cm_notice_validate(xmlDocPtr doc, char *err, size_t errlen);

extern int cm_notice_promote(xmlDocPtr doc, const CM_NOTICE *info, char *err, size_t errlen);
extern int cm_notice_set_response(xmlDocPtr doc, const char *answer_b64,
				          char *err, size_t errlen);
extern xmlNodePtr cm_notice_find(xmlDocPtr doc, CM_NOTICE_PART which);
extern CM_NOTICE_TYPE cm_notice_type_of(xmlDocPtr doc);

extern const char *cm_notice_type_name(CM_NOTICE_TYPE type);
extern CM_NOTICE_TYPE cm_notice_type_from_name(const char *name);
extern CM_NOTICE_TYPE cm_notice_signed_type(CM_NOTICE_TYPE type);
extern int cm_notice_is_signed(CM_NOTICE_TYPE type);
extern const char *cm_entity_type_name(CM_ENTITY_TYPE type);
extern int cm_entity_type_from_name(const char *name, CM_ENTITY_TYPE *type);

extern int cm_notice_add_recipient(CM_NOTICE *n, const char *address);
extern CM_NOTICE *cm_notice_nondelivery_model(const CM_NOTICE *deposit,
					              char *const *recipients, size_t nrcpt,
					              const char *reason, time_t when,
					              char *err, size_t errlen);
extern xmlDocPtr cm_notice_nondelivery_build(const CM_NOTICE *deposit,
					             char *const *recipients, size_t nrcpt,
					             const char *reason, time_t when,
					             char *err, size_t errlen);
extern const char *cm_notice_schema_path(CM_NOTICE_TYPE type);

#endif
