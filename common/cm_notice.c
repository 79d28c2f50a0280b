/*++
 * NAME
 *	cm_notice 3
 * SUMMARY
 *	X.1341 notices: model, DOM build, strict parse, signing-flow edits
 * DESCRIPTION
 *	See cm_notice.h. One set of field checks (cm_notice_check_*) serves
 *	both directions, so a model that builds is a model that parses.
 *	DOM nodes are created with xmlNewDocNode()/xmlNewDocText() and
 *	xmlNewProp(), which never interpret '&' in content, and no
 *	whitespace text node is ever created.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/tree.h>
#include <libxml/xmlstring.h>
#include <libxml/chvalid.h>

#include "cm_addr.h"
#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_limits.h"
#include "cm_notice.h"
#include "cm_xml.h"

#define CM_NOTICE_CERT_B64_MAX	(CM_CERT_DER_MAX * 2)	/* with line breaks */
#define STR(x)	((const char *) (x))
#define XSTR(x)	((const xmlChar *) (x))

static const char *cm_notice_names[] = {
    "unknown",
    "DepositNotice",
    "SignedDepositNotice",
    "TransitNotice",
    "SignedTransitNotice",
    "ReceiptNotice",
    "SignedReceiptNotice",
    "NonDeliveryNotice",
};

static const char *cm_entity_names[] = {"from", "to", "cc", "transit"};

static void cm_notice_err(char *, size_t, const char *,...)
	__attribute__((format(printf, 3, 4)));

/* cm_notice_err - one-line error text */
static void cm_notice_err(char *err, size_t errlen, const char *fmt,...)
{
    va_list ap;

    if (err == 0 || errlen == 0)
	return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* cm_notice_type_name - root element name of a type */
const char *cm_notice_type_name(CM_NOTICE_TYPE type)
{
    if ((int) type < 0 || (size_t) type >= sizeof(cm_notice_names) / sizeof(cm_notice_names[0]))
	return ("unknown");
    return (cm_notice_names[type]);
}

/* cm_notice_type_from_name - type of a root element name */
CM_NOTICE_TYPE cm_notice_type_from_name(const char *name)
{
    size_t  i;

    if (name == 0)
	return (CM_NOTICE_UNKNOWN);
    for (i = 1; i < sizeof(cm_notice_names) / sizeof(cm_notice_names[0]); i++)
	if (strcmp(name, cm_notice_names[i]) == 0)
	    return ((CM_NOTICE_TYPE) i);
    return (CM_NOTICE_UNKNOWN);
}

/* cm_notice_signed_type - the Signed* type a notice is promoted to */
CM_NOTICE_TYPE cm_notice_signed_type(CM_NOTICE_TYPE type)
{
    switch (type) {
    case CM_NOTICE_DEPOSIT:
	return (CM_NOTICE_SIGNED_DEPOSIT);
    case CM_NOTICE_TRANSIT:
	return (CM_NOTICE_SIGNED_TRANSIT);
    case CM_NOTICE_RECEIPT:
	return (CM_NOTICE_SIGNED_RECEIPT);
    default:
	return (type);
    }
}

/* cm_notice_is_signed - 1 for the Signed* types */
int     cm_notice_is_signed(CM_NOTICE_TYPE type)
{
    return (type == CM_NOTICE_SIGNED_DEPOSIT || type == CM_NOTICE_SIGNED_TRANSIT
	    || type == CM_NOTICE_SIGNED_RECEIPT);
}

/* cm_notice_is_receipt - ReceiptNotice or SignedReceiptNotice */
static int cm_notice_is_receipt(CM_NOTICE_TYPE type)
{
    return (type == CM_NOTICE_RECEIPT || type == CM_NOTICE_SIGNED_RECEIPT);
}

/* cm_entity_type_name - Entity@Type text */
const char *cm_entity_type_name(CM_ENTITY_TYPE type)
{
    if ((int) type < 0 || (size_t) type >= sizeof(cm_entity_names) / sizeof(cm_entity_names[0]))
	return ("to");
    return (cm_entity_names[type]);
}

/* cm_entity_type_from_name - Entity@Type value, 0 if known */
int     cm_entity_type_from_name(const char *name, CM_ENTITY_TYPE *type)
{
    size_t  i;

    for (i = 0; name && i < sizeof(cm_entity_names) / sizeof(cm_entity_names[0]); i++) {
	if (strcmp(name, cm_entity_names[i]) == 0) {
	    *type = (CM_ENTITY_TYPE) i;
	    return (0);
	}
    }
    return (-1);
}

/* cm_notice_set_str - replace a model string with a copy */
int     cm_notice_set_str(char **field, const char *value)
{
    char   *copy = 0;

    if (value != 0 && (copy = strdup(value)) == 0)
	return (-1);
    free(*field);
    *field = copy;
    return (0);
}

/* cm_notice_new - empty model */
CM_NOTICE *cm_notice_new(CM_NOTICE_TYPE type)
{
    CM_NOTICE *n = calloc(1, sizeof(*n));

    if (n != 0)
	n->type = type;
    return (n);
}

/* cm_notice_free_question - free a SecretQuestion */
static void cm_notice_free_question(CM_NOTICE_QUESTION *q)
{
    free(q->random_number);
    free(q->response_alg);
    free(q->response);
    free(q->response_encoding);
}

/* cm_notice_free_entity - free one Entity's strings */
static void cm_notice_free_entity(CM_NOTICE_ENTITY *e)
{
    free(e->address);
    cm_notice_free_question(&e->question);
    free(e->key_algorithm);
    free(e->key_wrap);
    free(e->key_encoding);
    free(e->wrapped_key);
    free(e->cert_encoding);
    free(e->certificate);
}

/* cm_notice_free - free a model */
void    cm_notice_free(CM_NOTICE *n)
{
    size_t  i;

    if (n == 0)
	return;
    free(n->envelope_id);
    for (i = 0; i < n->mime_hash_count; i++)
	free(n->mime_hashes[i].value);
    free(n->mime_hashes);
    free(n->content.message_id);
    free(n->content.unciphered.value);
    free(n->content.ciphered.value);
    for (i = 0; i < n->entity_count; i++)
	cm_notice_free_entity(n->entities + i);
    free(n->entities);
    cm_notice_free_question(&n->challenge);
    for (i = 0; i < n->recipient_count; i++)
	free(n->recipients[i]);
    free(n->recipients);
    free(n->reason);
    free(n->time);
    free(n);
}

/* cm_notice_add_mime_hash - append a MimeMessageHash */
int     cm_notice_add_mime_hash(CM_NOTICE *n, CM_HASH_ALG alg, const char *b64)
{
    CM_NOTICE_HASH *h;
    char   *copy;

    if (n->mime_hash_count >= CM_NOTICE_HASHES_MAX || b64 == 0)
	return (-1);
    if ((copy = strdup(b64)) == 0)
	return (-1);
    h = realloc(n->mime_hashes, (n->mime_hash_count + 1) * sizeof(*h));
    if (h == 0) {
	free(copy);
	return (-1);
    }
    n->mime_hashes = h;
    h[n->mime_hash_count].alg = alg;
    h[n->mime_hash_count].value = copy;
    n->mime_hash_count++;
    return (0);
}

/* cm_notice_add_entity - append a zeroed Entity */
CM_NOTICE_ENTITY *cm_notice_add_entity(CM_NOTICE *n)
{
    CM_NOTICE_ENTITY *e;

    if (n->entity_count >= CM_ENTITIES_MAX)
	return (0);
    e = realloc(n->entities, (n->entity_count + 1) * sizeof(*e));
    if (e == 0)
	return (0);
    n->entities = e;
    e += n->entity_count++;
    memset(e, 0, sizeof(*e));
    e->type = CM_ENTITY_TO;
    return (e);
}

/* cm_notice_add_recipient - append an undelivered recipient */
int     cm_notice_add_recipient(CM_NOTICE *n, const char *address)
{
    char  **r;
    char   *copy;

    if (n->recipient_count >= CM_ENTITIES_MAX || address == 0)
	return (-1);
    if ((copy = strdup(address)) == 0)
	return (-1);
    if ((r = realloc(n->recipients, (n->recipient_count + 1) * sizeof(*r))) == 0) {
	free(copy);
	return (-1);
    }
    n->recipients = r;
    r[n->recipient_count++] = copy;
    return (0);
}

 /*
  * Field checks, shared by build and parse.
  */

/* cm_notice_check_text - bounded text without control characters */
static int cm_notice_check_text(const char *s, size_t max, int allow_space)
{
    const unsigned char *cp;

    if (s == 0 || *s == 0 || strlen(s) > max)
	return (-1);
    for (cp = (const unsigned char *) s; *cp; cp++) {
	if (*cp < 0x20 || *cp == 0x7f)
	    return (-1);
	if (*cp == ' ' && !allow_space)
	    return (-1);
    }
    return (0);
}

/* cm_notice_check_envelope_id - [A-Za-z0-9._@-]{1,64} */
static int cm_notice_check_envelope_id(const char *s)
{
    const char *cp;

    if (s == 0 || *s == 0 || strlen(s) > CM_ENVELOPE_ID_MAX)
	return (-1);
    for (cp = s; *cp; cp++)
	if (!((*cp >= 'A' && *cp <= 'Z') || (*cp >= 'a' && *cp <= 'z')
	      || (*cp >= '0' && *cp <= '9') || strchr("._@-", *cp) != 0))
	    return (-1);
    return (0);
}

/* cm_notice_check_digits - 1..max decimal digits */
static int cm_notice_check_digits(const char *s, size_t max)
{
    size_t  len;

    if (s == 0 || (len = strlen(s)) == 0 || len > max || strspn(s, "0123456789") != len)
	return (-1);
    return (0);
}

/* cm_notice_check_b64 - bounded base64 that decodes; out_len optional */
static int cm_notice_check_b64(const char *s, size_t max, int allow_empty, size_t *out_len)
{
    unsigned char *bin;
    size_t  len;
    size_t  n;

    if (s == 0 || *s == 0)
	return (allow_empty ? 0 : -1);
    if ((len = strlen(s)) > max)
	return (-1);
    if ((bin = cm_base64_decode(s, len, &n)) == 0)
	return (-1);
    free(bin);
    if (n == 0 && !allow_empty)
	return (-1);
    if (out_len)
	*out_len = n;
    return (0);
}

/* cm_notice_check_hash - known algorithm, digest of the right length */
static int cm_notice_check_hash(const CM_NOTICE_HASH *h, const char *what,
				        char *err, size_t errlen)
{
    size_t  n;

    if (h->alg != CM_HASH_SHA256 && h->alg != CM_HASH_SHA1) {
	cm_notice_err(err, errlen, "unknown hash algorithm in %s", what);
	return (-1);
    }
    if (cm_notice_check_b64(h->value, 64, 0, &n) < 0 || n != cm_hash_size(h->alg)) {
	cm_notice_err(err, errlen, "bad base64 digest in %s", what);
	return (-1);
    }
    return (0);
}

/* cm_notice_check_oid - a known hash OID (NULL allowed when optional) */
static int cm_notice_check_oid(const char *oid, int optional)
{
    CM_HASH_ALG alg;

    if (oid == 0)
	return (optional ? 0 : -1);
    return (cm_hash_from_oid(oid, &alg));
}

/* cm_notice_check_question - a SecretQuestion */
static int cm_notice_check_question(const CM_NOTICE_QUESTION *q, const char *what,
				            char *err, size_t errlen)
{
    if (cm_notice_check_digits(q->random_number, CM_NOTICE_RANDOM_MAX) < 0) {
	cm_notice_err(err, errlen, "bad RandomNumber in %s", what);
	return (-1);
    }
    if (cm_notice_check_oid(q->response_alg, 1) < 0) {
	cm_notice_err(err, errlen, "unknown Response AlgorithmIdentifier in %s", what);
	return (-1);
    }
    if (cm_notice_check_b64(q->response, CM_NOTICE_B64_MAX, 1, 0) < 0) {
	cm_notice_err(err, errlen, "bad base64 Response in %s", what);
	return (-1);
    }
    if (q->response_encoding != 0
	&& cm_notice_check_text(q->response_encoding, CM_NOTICE_ATTR_MAX, 0) < 0) {
	cm_notice_err(err, errlen, "bad Response Encoding in %s", what);
	return (-1);
    }
    return (0);
}

/* cm_notice_check_opt_attr - optional short attribute */
static int cm_notice_check_opt_attr(const char *s)
{
    return (s == 0 ? 0 : cm_notice_check_text(s, CM_NOTICE_ATTR_MAX, 0));
}

/* cm_notice_check_entity - one Entity */
static int cm_notice_check_entity(const CM_NOTICE_ENTITY *e, char *err, size_t errlen)
{
    if (cm_notice_check_text(e->address, CM_ADDRESS_MAX, 0) < 0
	|| strchr(e->address, '@') == 0 || strpbrk(e->address, "<>\"") != 0) {
	cm_notice_err(err, errlen, "bad Entity EmailAddress");
	return (-1);
    }
    if ((int) e->type < CM_ENTITY_FROM || e->type > CM_ENTITY_TRANSIT) {
	cm_notice_err(err, errlen, "bad Entity Type");
	return (-1);
    }
    if (cm_notice_check_question(&e->question, "Entity", err, errlen) < 0)
	return (-1);
    if (cm_notice_check_opt_attr(e->key_algorithm) < 0
	|| cm_notice_check_opt_attr(e->key_wrap) < 0
	|| cm_notice_check_opt_attr(e->key_encoding) < 0
	|| e->key_size < 0 || e->key_size > 65536) {
	cm_notice_err(err, errlen, "bad CipherEnvelopeKey attribute");
	return (-1);
    }
    if (cm_notice_check_b64(e->wrapped_key, CM_NOTICE_B64_MAX, 0, 0) < 0) {
	cm_notice_err(err, errlen, "bad base64 CipherEnvelopeKey");
	return (-1);
    }
    if (cm_notice_check_opt_attr(e->cert_encoding) < 0) {
	cm_notice_err(err, errlen, "bad Certificate attribute");
	return (-1);
    }
    if (cm_notice_check_b64(e->certificate, CM_NOTICE_CERT_B64_MAX, 0, 0) < 0) {
	cm_notice_err(err, errlen, "bad base64 Certificate");
	return (-1);
    }
    return (0);
}

/* cm_notice_check_content - Content- or BodyEnvelopeInformation */
static int cm_notice_check_content(const CM_NOTICE_CONTENT *c, char *err, size_t errlen)
{
    if (c->message_id != 0 && cm_notice_check_text(c->message_id, CM_NOTICE_MSGID_MAX, 1) < 0) {
	cm_notice_err(err, errlen, "bad MessageId");
	return (-1);
    }
    if (cm_notice_check_hash(&c->unciphered, "UncipheredEnvelopeHash", err, errlen) < 0
	|| cm_notice_check_hash(&c->ciphered, "CipheredEnvelopeHash", err, errlen) < 0)
	return (-1);
    return (0);
}

/* cm_notice_check_entities - Entities of a deposit or transit notice */
static int cm_notice_check_entities(const CM_NOTICE *n, char *err, size_t errlen)
{
    size_t  i;
    size_t  j;

    if (n->entity_count == 0 || n->entity_count > CM_ENTITIES_MAX) {
	cm_notice_err(err, errlen, "Entities must hold 1 to %d Entity", CM_ENTITIES_MAX);
	return (-1);
    }
    for (i = 0; i < n->entity_count; i++) {
	if (cm_notice_check_entity(n->entities + i, err, errlen) < 0)
	    return (-1);
	/* one Entity per address: a receipt must name exactly one */
	for (j = 0; j < i; j++) {
	    if (cm_addr_equal(n->entities[i].address, n->entities[j].address)) {
		cm_notice_err(err, errlen, "duplicate Entity %s", n->entities[i].address);
		return (-1);
	    }
	}
    }
    return (0);
}

/* cm_notice_check_receipt - Entity and EntityChallenge of a receipt */
static int cm_notice_check_receipt(const CM_NOTICE *n, char *err, size_t errlen)
{
    const CM_NOTICE_ENTITY *e;

    if (n->entity_count != 1) {
	cm_notice_err(err, errlen, "a receipt notice holds exactly one Entity");
	return (-1);
    }
    e = n->entities;
    if (cm_notice_check_entity(e, err, errlen) < 0)
	return (-1);
    if (e->question.response != 0 && *e->question.response != 0) {
	cm_notice_err(err, errlen, "receipt Entity Response must be empty");
	return (-1);
    }
    if (cm_notice_check_question(&n->challenge, "EntityChallenge", err, errlen) < 0)
	return (-1);
    if (strcmp(n->challenge.random_number, e->question.random_number) != 0) {
	cm_notice_err(err, errlen, "EntityChallenge RandomNumber differs from the Entity's");
	return (-1);
    }
    return (0);
}

/* cm_notice_check_reason - 1..max bytes of UTF-8 XML characters, no controls */
static int cm_notice_check_reason(const char *s)
{
    const unsigned char *cp;
    size_t  len;
    int     clen;
    int     c;

    if (s == 0 || (len = strlen(s)) == 0 || len > CM_NOTICE_REASON_MAX
	|| cm_notice_check_text(s, CM_NOTICE_REASON_MAX, 1) < 0)
	return (-1);
    for (cp = (const unsigned char *) s; *cp; cp += clen) {
	clen = (int) strnlen((const char *) cp, 4);
	if ((c = xmlGetUTF8Char(cp, &clen)) < 0 || clen <= 0 || !xmlIsCharQ(c)
	    || (c >= 0x80 && c < 0xa0))
	    return (-1);
    }
    return (0);
}

/* cm_notice_check_time - "YYYY-MM-DDThh:mm:ssZ" with plausible fields */
static int cm_notice_check_time(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t  i;
    int     year;
    int     mon;
    int     day;

    if (s == 0 || strlen(s) != sizeof(shape) - 1)
	return (-1);
    for (i = 0; shape[i]; i++) {
	if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
	    return (-1);
    }
    year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    mon = (s[5] - '0') * 10 + (s[6] - '0');
    day = (s[8] - '0') * 10 + (s[9] - '0');
    if (year == 0)
	return (-1);			/* year 0000 is not an xs:dateTime */
    if (mon < 1 || mon > 12 || day < 1
	|| day > mdays[mon - 1] + (mon == 2 && year % 4 == 0
				   && (year % 100 != 0 || year % 400 == 0))
	|| (s[11] - '0') * 10 + (s[12] - '0') > 23
	|| (s[14] - '0') * 10 + (s[15] - '0') > 59
	|| (s[17] - '0') * 10 + (s[18] - '0') > 59)
	return (-1);
    return (0);
}

/* cm_notice_check_nondelivery - recipients, reason, time */
static int cm_notice_check_nondelivery(const CM_NOTICE *n, char *err, size_t errlen)
{
    size_t  i;
    size_t  j;

    if (n->recipient_count == 0 || n->recipient_count > CM_ENTITIES_MAX) {
	cm_notice_err(err, errlen, "UndeliveredRecipients must hold 1 to %d Recipient",
		      CM_ENTITIES_MAX);
	return (-1);
    }
    for (i = 0; i < n->recipient_count; i++) {
	if (n->recipients[i] == 0 || !cm_addr_valid(n->recipients[i])) {
	    cm_notice_err(err, errlen, "bad Recipient EmailAddress");
	    return (-1);
	}
	for (j = 0; j < i; j++) {
	    if (cm_addr_equal(n->recipients[i], n->recipients[j])) {
		cm_notice_err(err, errlen, "duplicate Recipient %s", n->recipients[i]);
		return (-1);
	    }
	}
    }
    if (cm_notice_check_reason(n->reason) < 0) {
	cm_notice_err(err, errlen, "bad Reason (1 to %d bytes of UTF-8 without controls)",
		      CM_NOTICE_REASON_MAX);
	return (-1);
    }
    if (cm_notice_check_time(n->time) < 0) {
	cm_notice_err(err, errlen, "bad Time (YYYY-MM-DDThh:mm:ssZ)");
	return (-1);
    }
    return (0);
}

/* cm_notice_check - a whole model */
static int cm_notice_check(const CM_NOTICE *n, char *err, size_t errlen)
{
    size_t  i;

    if (n->type <= CM_NOTICE_UNKNOWN || n->type > CM_NOTICE_NONDELIVERY) {
	cm_notice_err(err, errlen, "unknown notice type");
	return (-1);
    }
    if (cm_notice_check_envelope_id(n->envelope_id) < 0) {
	cm_notice_err(err, errlen, "bad EnvelopeId");
	return (-1);
    }
    if (n->mime_hash_count == 0 || n->mime_hash_count > CM_NOTICE_HASHES_MAX) {
	cm_notice_err(err, errlen, "DigitalPostmark must hold 1 to %d MimeMessageHash",
		      CM_NOTICE_HASHES_MAX);
	return (-1);
    }
    for (i = 0; i < n->mime_hash_count; i++)
	if (cm_notice_check_hash(n->mime_hashes + i, "MimeMessageHash", err, errlen) < 0)
	    return (-1);
    if (n->type == CM_NOTICE_DEPOSIT || n->type == CM_NOTICE_TRANSIT)
	return (0);
    if (n->type == CM_NOTICE_NONDELIVERY)
	return (cm_notice_check_nondelivery(n, err, errlen));
    if (cm_notice_check_content(&n->content, err, errlen) < 0)
	return (-1);
    if (cm_notice_is_receipt(n->type))
	return (cm_notice_check_receipt(n, err, errlen));
    return (cm_notice_check_entities(n, err, errlen));
}

 /*
  * Building.
  */

/* cm_notice_elem - new element in ns, appended to parent */
static xmlNodePtr cm_notice_elem(xmlNodePtr parent, xmlNsPtr ns, const char *name,
				         const char *text)
{
    xmlNodePtr node;
    xmlNodePtr txt;

    if ((node = xmlNewDocNode(parent->doc, ns, XSTR(name), 0)) == 0)
	return (0);
    if (text != 0 && *text != 0) {
	if ((txt = xmlNewDocText(parent->doc, XSTR(text))) == 0) {
	    xmlFreeNode(node);
	    return (0);
	}
	xmlAddChild(node, txt);
    }
    if (xmlAddChild(parent, node) == 0) {
	xmlFreeNode(node);
	return (0);
    }
    return (node);
}

/* cm_notice_attr - set an attribute when value is not NULL */
static int cm_notice_attr(xmlNodePtr node, const char *name, const char *value)
{
    if (value == 0)
	return (0);
    return (xmlNewProp(node, XSTR(name), XSTR(value)) ? 0 : -1);
}

/* cm_notice_build_hash - a HashValueType element */
static int cm_notice_build_hash(xmlNodePtr parent, xmlNsPtr ns, const char *name,
				        const CM_NOTICE_HASH *h)
{
    xmlNodePtr node;

    if ((node = cm_notice_elem(parent, ns, name, h->value)) == 0)
	return (-1);
    return (cm_notice_attr(node, "AlgorithmOID", cm_hash_oid(h->alg)));
}

/* cm_notice_build_content - Content-/BodyEnvelopeInformation */
static int cm_notice_build_content(xmlNodePtr parent, xmlNsPtr ns, const char *name,
				           const CM_NOTICE_CONTENT *c)
{
    xmlNodePtr node;

    if ((node = cm_notice_elem(parent, ns, name, 0)) == 0
	|| cm_notice_attr(node, "MessageId", c->message_id) < 0
	|| cm_notice_build_hash(node, ns, "UncipheredEnvelopeHash", &c->unciphered) < 0
	|| cm_notice_build_hash(node, ns, "CipheredEnvelopeHash", &c->ciphered) < 0)
	return (-1);
    return (0);
}

/* cm_notice_build_question - a SecretQuestion */
static int cm_notice_build_question(xmlNodePtr parent, xmlNsPtr ns,
				            const CM_NOTICE_QUESTION *q)
{
    xmlNodePtr sq;
    xmlNodePtr node;

    if ((sq = cm_notice_elem(parent, ns, "SecretQuestion", 0)) == 0
	|| (node = cm_notice_elem(sq, ns, "Request", 0)) == 0
	|| cm_notice_attr(node, "RandomNumber", q->random_number) < 0
	|| (node = cm_notice_elem(sq, ns, "Response", q->response)) == 0
	|| cm_notice_attr(node, "AlgorithmIdentifier", q->response_alg) < 0
	|| cm_notice_attr(node, "Encoding", q->response_encoding) < 0)
	return (-1);
    return (0);
}

/* cm_notice_build_entity - an Entity */
static int cm_notice_build_entity(xmlNodePtr parent, xmlNsPtr ns, const CM_NOTICE_ENTITY *e)
{
    xmlNodePtr ent;
    xmlNodePtr node;
    char    size[16];

    if ((ent = cm_notice_elem(parent, ns, "Entity", 0)) == 0
	|| cm_notice_attr(ent, "EmailAddress", e->address) < 0
	|| cm_notice_attr(ent, "Type", cm_entity_type_name(e->type)) < 0
	|| cm_notice_build_question(ent, ns, &e->question) < 0)
	return (-1);
    if ((node = cm_notice_elem(ent, ns, "CipherEnvelopeKey", e->wrapped_key)) == 0
	|| cm_notice_attr(node, "Algorithm", e->key_algorithm) < 0
	|| cm_notice_attr(node, "CipheredKey", e->key_wrap) < 0
	|| cm_notice_attr(node, "Encoding", e->key_encoding) < 0)
	return (-1);
    if (e->key_size > 0) {
	snprintf(size, sizeof(size), "%d", e->key_size);
	if (cm_notice_attr(node, "KeySize", size) < 0)
	    return (-1);
    }
    if ((node = cm_notice_elem(ent, ns, "Certificate", e->certificate)) == 0
	|| cm_notice_attr(node, "encoding", e->cert_encoding) < 0)
	return (-1);
    return (0);
}

/* cm_notice_build_envinfo - EnvelopeInformation of deposit/transit */
static xmlNodePtr cm_notice_build_envinfo(xmlDocPtr doc, xmlNsPtr ns, const CM_NOTICE *n)
{
    xmlNodePtr info;
    xmlNodePtr ents;
    size_t  i;

    if ((info = xmlNewDocNode(doc, ns, XSTR("EnvelopeInformation"), 0)) == 0)
	return (0);
    if (cm_notice_build_content(info, ns, "ContentEnvelopeInformation", &n->content) < 0
	|| (ents = cm_notice_elem(info, ns, "Entities", 0)) == 0) {
	xmlFreeNode(info);
	return (0);
    }
    for (i = 0; i < n->entity_count; i++) {
	if (cm_notice_build_entity(ents, ns, n->entities + i) < 0) {
	    xmlFreeNode(info);
	    return (0);
	}
    }
    return (info);
}

/* cm_notice_build_receipt_info - EnvelopeInformation of a receipt */
static xmlNodePtr cm_notice_build_receipt_info(xmlDocPtr doc, xmlNsPtr ns, const CM_NOTICE *n)
{
    xmlNodePtr info;
    xmlNodePtr chal;

    if ((info = xmlNewDocNode(doc, ns, XSTR("EnvelopeInformation"), 0)) == 0)
	return (0);
    if (cm_notice_build_content(info, ns, "BodyEnvelopeInformation", &n->content) < 0
	|| cm_notice_build_entity(info, ns, n->entities) < 0
	|| (chal = cm_notice_elem(info, ns, "EntityChallenge", 0)) == 0
	|| cm_notice_build_question(chal, ns, &n->challenge) < 0) {
	xmlFreeNode(info);
	return (0);
    }
    return (info);
}

/* cm_notice_build_nondelivery - what follows the DigitalPostmark */
static int cm_notice_build_nondelivery(xmlNodePtr root, xmlNsPtr ext, const CM_NOTICE *n)
{
    xmlNodePtr list;
    xmlNodePtr node;
    size_t  i;

    if ((list = cm_notice_elem(root, ext, "UndeliveredRecipients", 0)) == 0)
	return (-1);
    for (i = 0; i < n->recipient_count; i++)
	if ((node = cm_notice_elem(list, ext, "Recipient", 0)) == 0
	    || cm_notice_attr(node, "EmailAddress", n->recipients[i]) < 0)
	    return (-1);
    if (cm_notice_elem(root, ext, "Reason", n->reason) == 0
	|| cm_notice_elem(root, ext, "Time", n->time) == 0)
	return (-1);
    return (0);
}

/* cm_notice_build - a new document from a model */
xmlDocPtr cm_notice_build(const CM_NOTICE *n, char *err, size_t errlen)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    xmlNodePtr pm;
    xmlNodePtr info = 0;
    xmlNsPtr ns;
    xmlNsPtr ext = 0;
    size_t  i;
    char    why[200];

    if (n == 0 || cm_notice_check(n, why, sizeof(why)) < 0) {
	cm_notice_err(err, errlen, "notice build: %s", n ? why : "no model");
	return (0);
    }
    if ((doc = xmlNewDoc(XSTR("1.0"))) == 0)
	goto nomem;
    if ((root = xmlNewDocNode(doc, 0, XSTR(cm_notice_type_name(n->type)), 0)) == 0) {
	xmlFreeDoc(doc);
	goto nomem;
    }
    xmlDocSetRootElement(doc, root);
    if (n->type == CM_NOTICE_NONDELIVERY) {
	/* Our namespace on the root, the X.1341 one as c: for the postmark. */
	if ((ext = xmlNewNs(root, XSTR(CM_NS_EXT), 0)) == 0
	    || (ns = xmlNewNs(root, XSTR(CM_NS), XSTR("c"))) == 0) {
	    xmlFreeDoc(doc);
	    goto nomem;
	}
	xmlSetNs(root, ext);
    } else if ((ns = xmlNewNs(root, XSTR(CM_NS), 0)) == 0) {
	xmlFreeDoc(doc);
	goto nomem;
    } else
	xmlSetNs(root, ns);
    if ((pm = cm_notice_elem(root, ns, "DigitalPostmark", 0)) == 0
	|| cm_notice_attr(pm, "EnvelopeId", n->envelope_id) < 0
	|| cm_notice_attr(pm, "DeliveryType", "CertifiedMail") < 0) {
	xmlFreeDoc(doc);
	goto nomem;
    }
    for (i = 0; i < n->mime_hash_count; i++) {
	if (cm_notice_build_hash(pm, ns, "MimeMessageHash", n->mime_hashes + i) < 0) {
	    xmlFreeDoc(doc);
	    goto nomem;
	}
    }
    if (n->type == CM_NOTICE_NONDELIVERY) {
	if (cm_notice_build_nondelivery(root, ext, n) < 0) {
	    xmlFreeDoc(doc);
	    goto nomem;
	}
	return (doc);
    }
    if (n->type == CM_NOTICE_SIGNED_DEPOSIT || n->type == CM_NOTICE_SIGNED_TRANSIT)
	info = cm_notice_build_envinfo(doc, ns, n);
    else if (cm_notice_is_receipt(n->type))
	info = cm_notice_build_receipt_info(doc, ns, n);
    else
	return (doc);
    if (info == 0) {
	xmlFreeDoc(doc);
	goto nomem;
    }
    if (xmlAddChild(root, info) == 0) {
	xmlFreeNode(info);
	xmlFreeDoc(doc);
	goto nomem;
    }
    return (doc);

nomem:
    cm_notice_err(err, errlen, "notice build: out of memory");
    return (0);
}

 /*
  * Strict parsing.
  */

typedef struct {
    char   *err;
    size_t  errlen;
    size_t  sigs;			/* all ds:Signature seen */
} CM_NOTICE_PARSE;

static int cm_notice_perr(CM_NOTICE_PARSE *, const char *,...)
	__attribute__((format(printf, 2, 3)));

/* cm_notice_perr - parse error, "notice refused: ..." */
static int cm_notice_perr(CM_NOTICE_PARSE *p, const char *fmt,...)
{
    va_list ap;
    char    buf[300];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cm_notice_err(p->err, p->errlen, "notice refused: %s", buf);
    return (-1);
}

/* cm_notice_is - element with this namespace and local name */
static int cm_notice_is(xmlNodePtr node, const char *ns, const char *name)
{
    return (node != 0 && node->type == XML_ELEMENT_NODE && node->ns != 0
	    && node->ns->href != 0 && strcmp(STR(node->ns->href), ns) == 0
	    && strcmp(STR(node->name), name) == 0);
}

/* cm_notice_blank - whitespace-only text */
static int cm_notice_blank(const xmlChar *s)
{
    for (; s && *s; s++)
	if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
	    return (0);
    return (1);
}

/* cm_notice_next - next element child from *cur; NULL at the end */
static int cm_notice_next(CM_NOTICE_PARSE *p, xmlNodePtr *cur, xmlNodePtr *elem)
{
    xmlNodePtr node;

    for (node = *cur; node != 0; node = node->next) {
	if (node->type == XML_ELEMENT_NODE) {
	    *elem = node;
	    *cur = node->next;
	    return (0);
	}
	if (node->type == XML_TEXT_NODE && cm_notice_blank(node->content))
	    continue;
	if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE)
	    return (cm_notice_perr(p, "text not allowed in %s", STR(node->parent->name)));
	return (cm_notice_perr(p, "comment or processing instruction not allowed in %s",
			       STR(node->parent->name)));
    }
    *elem = 0;
    *cur = 0;
    return (0);
}

/* cm_notice_expect_ns - the next element child must be {ns}name */
static int cm_notice_expect_ns(CM_NOTICE_PARSE *p, xmlNodePtr *cur, const char *ns,
			               const char *name, xmlNodePtr *elem, const char *parent)
{
    if (cm_notice_next(p, cur, elem) < 0)
	return (-1);
    if (*elem == 0)
	return (cm_notice_perr(p, "missing %s in %s", name, parent));
    if (!cm_notice_is(*elem, ns, name))
	return (cm_notice_perr(p, "unexpected element %s in %s (expected %s)",
			       STR((*elem)->name), parent, name));
    return (0);
}

/* cm_notice_expect - the next element child must be name (notices namespace) */
static int cm_notice_expect(CM_NOTICE_PARSE *p, xmlNodePtr *cur, const char *name,
			            xmlNodePtr *elem, const char *parent)
{
    return (cm_notice_expect_ns(p, cur, CM_NS, name, elem, parent));
}

/* cm_notice_signatures - the trailing ds:Signature children; then the end */
static int cm_notice_signatures(CM_NOTICE_PARSE *p, xmlNodePtr cur, const char *parent,
				        size_t *count)
{
    xmlNodePtr elem;

    for (;;) {
	if (cm_notice_next(p, &cur, &elem) < 0)
	    return (-1);
	if (elem == 0)
	    return (0);
	if (!cm_notice_is(elem, CM_DSIG_NS, "Signature"))
	    return (cm_notice_perr(p, "unexpected element %s in %s", STR(elem->name), parent));
	if (++p->sigs > CM_SIGNATURES_MAX)
	    return (cm_notice_perr(p, "more than %d signatures", CM_SIGNATURES_MAX));
	if (count)
	    (*count)++;
    }
}

/* cm_notice_end - no more element children */
static int cm_notice_end(CM_NOTICE_PARSE *p, xmlNodePtr cur, const char *parent)
{
    xmlNodePtr elem;

    if (cm_notice_next(p, &cur, &elem) < 0)
	return (-1);
    if (elem != 0)
	return (cm_notice_perr(p, "unexpected element %s in %s", STR(elem->name), parent));
    return (0);
}

/* cm_notice_attrs - only the allowed attribute names, no namespaced ones */
static int cm_notice_attrs(CM_NOTICE_PARSE *p, xmlNodePtr node, const char *const *allowed)
{
    xmlAttrPtr attr;
    size_t  i;

    for (attr = node->properties; attr != 0; attr = attr->next) {
	for (i = 0; allowed[i] != 0; i++)
	    if (attr->ns == 0 && strcmp(STR(attr->name), allowed[i]) == 0)
		break;
	if (allowed[i] == 0)
	    return (cm_notice_perr(p, "unknown attribute %s on %s", STR(attr->name),
				   STR(node->name)));
    }
    return (0);
}

/* cm_notice_get_attr - copy an attribute value (NULL when absent) */
static int cm_notice_get_attr(CM_NOTICE_PARSE *p, xmlNodePtr node, const char *name,
			              size_t max, char **out)
{
    xmlChar *val;

    *out = 0;
    if ((val = xmlGetNoNsProp(node, XSTR(name))) == 0)
	return (0);
    if (strlen(STR(val)) > max) {
	xmlFree(val);
	return (cm_notice_perr(p, "attribute %s on %s too long", name, STR(node->name)));
    }
    *out = strdup(STR(val));
    xmlFree(val);
    return (*out ? 0 : cm_notice_perr(p, "out of memory"));
}

/* cm_notice_get_text - text content of a leaf, whitespace removed */
static int cm_notice_get_text(CM_NOTICE_PARSE *p, xmlNodePtr node, size_t max, char **out)
{
    xmlNodePtr child;
    size_t  len = 0;
    char   *buf;
    const xmlChar *cp;

    *out = 0;
    for (child = node->children; child != 0; child = child->next) {
	if (child->type != XML_TEXT_NODE && child->type != XML_CDATA_SECTION_NODE)
	    return (cm_notice_perr(p, "%s must hold text only", STR(node->name)));
	len += child->content ? strlen(STR(child->content)) : 0;
	if (len > max * 2 + 1024)
	    return (cm_notice_perr(p, "%s too long", STR(node->name)));
    }
    if ((buf = malloc(len + 1)) == 0)
	return (cm_notice_perr(p, "out of memory"));
    len = 0;
    for (child = node->children; child != 0; child = child->next)
	for (cp = child->content; cp && *cp; cp++)
	    if (*cp != ' ' && *cp != '\t' && *cp != '\r' && *cp != '\n')
		buf[len++] = (char) *cp;
    buf[len] = 0;
    if (len > max) {
	free(buf);
	return (cm_notice_perr(p, "%s too long", STR(node->name)));
    }
    *out = buf;
    return (0);
}

/* cm_notice_get_plain - text content of a leaf, exactly as written */
static int cm_notice_get_plain(CM_NOTICE_PARSE *p, xmlNodePtr node, size_t max, char **out)
{
    xmlNodePtr child;
    size_t  len = 0;
    size_t  n;
    char   *buf;

    *out = 0;
    for (child = node->children; child != 0; child = child->next) {
	if (child->type != XML_TEXT_NODE && child->type != XML_CDATA_SECTION_NODE)
	    return (cm_notice_perr(p, "%s must hold text only", STR(node->name)));
	len += child->content ? strlen(STR(child->content)) : 0;
	if (len > max)
	    return (cm_notice_perr(p, "%s too long", STR(node->name)));
    }
    if ((buf = malloc(len + 1)) == 0)
	return (cm_notice_perr(p, "out of memory"));
    len = 0;
    for (child = node->children; child != 0; child = child->next) {
	n = child->content ? strlen(STR(child->content)) : 0;
	memcpy(buf + len, child->content, n);
	len += n;
    }
    buf[len] = 0;
    *out = buf;
    return (0);
}

/* cm_notice_no_content - an element declared empty */
static int cm_notice_no_content(CM_NOTICE_PARSE *p, xmlNodePtr node)
{
    xmlNodePtr cur = node->children;

    return (cm_notice_end(p, cur, STR(node->name)));
}

/* cm_notice_parse_hash - a HashValueType element */
static int cm_notice_parse_hash(CM_NOTICE_PARSE *p, xmlNodePtr node, CM_NOTICE_HASH *h)
{
    static const char *const allowed[] = {"AlgorithmOID", 0};
    char   *oid;
    char    why[200];

    if (cm_notice_attrs(p, node, allowed) < 0
	|| cm_notice_get_attr(p, node, "AlgorithmOID", CM_NOTICE_ATTR_MAX, &oid) < 0)
	return (-1);
    if (oid == 0)
	return (cm_notice_perr(p, "%s without AlgorithmOID", STR(node->name)));
    if (cm_hash_from_oid(oid, &h->alg) < 0) {
	free(oid);
	return (cm_notice_perr(p, "unknown hash OID in %s", STR(node->name)));
    }
    free(oid);
    if (cm_notice_get_text(p, node, 64, &h->value) < 0)
	return (-1);
    if (cm_notice_check_hash(h, STR(node->name), why, sizeof(why)) < 0)
	return (cm_notice_perr(p, "%s", why));
    return (0);
}

/* cm_notice_parse_postmark - DigitalPostmark */
static int cm_notice_parse_postmark(CM_NOTICE_PARSE *p, xmlNodePtr pm, CM_NOTICE *n)
{
    static const char *const allowed[] = {"EnvelopeId", "DeliveryType", 0};
    xmlNodePtr cur = pm->children;
    xmlNodePtr elem;
    xmlNodePtr save;
    char   *dtype;

    if (cm_notice_attrs(p, pm, allowed) < 0
	|| cm_notice_get_attr(p, pm, "EnvelopeId", CM_ENVELOPE_ID_MAX, &n->envelope_id) < 0)
	return (-1);
    if (cm_notice_check_envelope_id(n->envelope_id) < 0)
	return (cm_notice_perr(p, "bad EnvelopeId"));
    if (cm_notice_get_attr(p, pm, "DeliveryType", CM_NOTICE_ATTR_MAX, &dtype) < 0)
	return (-1);
    if (dtype == 0 || strcmp(dtype, "CertifiedMail") != 0) {
	free(dtype);
	return (cm_notice_perr(p, "DeliveryType must be CertifiedMail"));
    }
    free(dtype);
    for (;;) {
	save = cur;
	if (cm_notice_next(p, &cur, &elem) < 0)
	    return (-1);
	if (!cm_notice_is(elem, CM_NS, "MimeMessageHash")) {
	    cur = save;
	    break;
	}
	if (n->mime_hash_count >= CM_NOTICE_HASHES_MAX)
	    return (cm_notice_perr(p, "more than %d MimeMessageHash", CM_NOTICE_HASHES_MAX));
	if (cm_notice_add_mime_hash(n, CM_HASH_SHA256, "") < 0)
	    return (cm_notice_perr(p, "out of memory"));
	free(n->mime_hashes[n->mime_hash_count - 1].value);
	n->mime_hashes[n->mime_hash_count - 1].value = 0;
	if (cm_notice_parse_hash(p, elem, n->mime_hashes + n->mime_hash_count - 1) < 0)
	    return (-1);
    }
    if (n->mime_hash_count == 0)
	return (cm_notice_perr(p, "missing MimeMessageHash in DigitalPostmark"));
    return (cm_notice_signatures(p, cur, "DigitalPostmark", &n->sigs_postmark));
}

/* cm_notice_parse_content - Content-/BodyEnvelopeInformation */
static int cm_notice_parse_content(CM_NOTICE_PARSE *p, xmlNodePtr node, CM_NOTICE_CONTENT *c)
{
    static const char *const allowed[] = {"MessageId", 0};
    xmlNodePtr cur = node->children;
    xmlNodePtr elem;
    const char *name = STR(node->name);

    if (cm_notice_attrs(p, node, allowed) < 0
	|| cm_notice_get_attr(p, node, "MessageId", CM_NOTICE_MSGID_MAX, &c->message_id) < 0)
	return (-1);
    if (c->message_id != 0 && cm_notice_check_text(c->message_id, CM_NOTICE_MSGID_MAX, 1) < 0)
	return (cm_notice_perr(p, "bad MessageId"));
    if (cm_notice_expect(p, &cur, "UncipheredEnvelopeHash", &elem, name) < 0
	|| cm_notice_parse_hash(p, elem, &c->unciphered) < 0
	|| cm_notice_expect(p, &cur, "CipheredEnvelopeHash", &elem, name) < 0
	|| cm_notice_parse_hash(p, elem, &c->ciphered) < 0)
	return (-1);
    return (cm_notice_end(p, cur, name));
}

/* cm_notice_get_encoding - `encoding` or `Encoding`, not both */
static int cm_notice_get_encoding(CM_NOTICE_PARSE *p, xmlNodePtr node, char **out)
{
    char   *lower;
    char   *upper;

    if (cm_notice_get_attr(p, node, "encoding", CM_NOTICE_ATTR_MAX, &lower) < 0)
	return (-1);
    if (cm_notice_get_attr(p, node, "Encoding", CM_NOTICE_ATTR_MAX, &upper) < 0) {
	free(lower);
	return (-1);
    }
    if (lower != 0 && upper != 0) {
	free(lower);
	free(upper);
	return (cm_notice_perr(p, "both encoding and Encoding on %s", STR(node->name)));
    }
    *out = lower ? lower : upper;
    return (0);
}

/* cm_notice_parse_question - SecretQuestion */
static int cm_notice_parse_question(CM_NOTICE_PARSE *p, xmlNodePtr node,
				            CM_NOTICE_QUESTION *q, const char *what)
{
    static const char *const none[] = {0};
    static const char *const req_attrs[] = {"RandomNumber", 0};
    static const char *const resp_attrs[] = {"AlgorithmIdentifier", "Encoding", "encoding", 0};
    xmlNodePtr cur = node->children;
    xmlNodePtr elem;
    char    why[200];

    if (cm_notice_attrs(p, node, none) < 0
	|| cm_notice_expect(p, &cur, "Request", &elem, "SecretQuestion") < 0
	|| cm_notice_attrs(p, elem, req_attrs) < 0
	|| cm_notice_no_content(p, elem) < 0
	|| cm_notice_get_attr(p, elem, "RandomNumber", CM_NOTICE_RANDOM_MAX,
			      &q->random_number) < 0
	|| cm_notice_expect(p, &cur, "Response", &elem, "SecretQuestion") < 0
	|| cm_notice_attrs(p, elem, resp_attrs) < 0
	|| cm_notice_get_attr(p, elem, "AlgorithmIdentifier", CM_NOTICE_ATTR_MAX,
			      &q->response_alg) < 0
	|| cm_notice_get_encoding(p, elem, &q->response_encoding) < 0
	|| cm_notice_get_text(p, elem, CM_NOTICE_B64_MAX, &q->response) < 0
	|| cm_notice_end(p, cur, "SecretQuestion") < 0)
	return (-1);
    if (cm_notice_check_question(q, what, why, sizeof(why)) < 0)
	return (cm_notice_perr(p, "%s", why));
    return (0);
}

/* cm_notice_parse_entity - Entity */
static int cm_notice_parse_entity(CM_NOTICE_PARSE *p, xmlNodePtr node, CM_NOTICE_ENTITY *e)
{
    static const char *const ent_attrs[] = {"EmailAddress", "Type", 0};
    static const char *const key_attrs[] = {
	"Algorithm", "CipheredKey", "Encoding", "encoding", "KeySize", 0,
    };
    static const char *const cert_attrs[] = {"encoding", "Encoding", 0};
    xmlNodePtr cur = node->children;
    xmlNodePtr elem;
    char   *type;
    char   *size;
    char   *end;
    long    lsize;
    char    why[200];

    if (cm_notice_attrs(p, node, ent_attrs) < 0
	|| cm_notice_get_attr(p, node, "EmailAddress", CM_ADDRESS_MAX, &e->address) < 0
	|| cm_notice_get_attr(p, node, "Type", CM_NOTICE_ATTR_MAX, &type) < 0)
	return (-1);
    if (type == 0 || cm_entity_type_from_name(type, &e->type) < 0) {
	free(type);
	return (cm_notice_perr(p, "bad Entity Type"));
    }
    free(type);
    if (cm_notice_expect(p, &cur, "SecretQuestion", &elem, "Entity") < 0
	|| cm_notice_parse_question(p, elem, &e->question, "Entity") < 0)
	return (-1);

    if (cm_notice_expect(p, &cur, "CipherEnvelopeKey", &elem, "Entity") < 0
	|| cm_notice_attrs(p, elem, key_attrs) < 0
	|| cm_notice_get_attr(p, elem, "Algorithm", CM_NOTICE_ATTR_MAX, &e->key_algorithm) < 0
	|| cm_notice_get_attr(p, elem, "CipheredKey", CM_NOTICE_ATTR_MAX, &e->key_wrap) < 0
	|| cm_notice_get_encoding(p, elem, &e->key_encoding) < 0
	|| cm_notice_get_attr(p, elem, "KeySize", 16, &size) < 0)
	return (-1);
    if (size != 0) {
	lsize = strtol(size, &end, 10);
	if (*size == 0 || *end != 0 || lsize <= 0 || lsize > 65536) {
	    free(size);
	    return (cm_notice_perr(p, "bad KeySize"));
	}
	e->key_size = (int) lsize;
	free(size);
    }
    if (cm_notice_get_text(p, elem, CM_NOTICE_B64_MAX, &e->wrapped_key) < 0)
	return (-1);

    if (cm_notice_expect(p, &cur, "Certificate", &elem, "Entity") < 0
	|| cm_notice_attrs(p, elem, cert_attrs) < 0
	|| cm_notice_get_encoding(p, elem, &e->cert_encoding) < 0
	|| cm_notice_get_text(p, elem, CM_NOTICE_CERT_B64_MAX, &e->certificate) < 0
	|| cm_notice_end(p, cur, "Entity") < 0)
	return (-1);
    if (cm_notice_check_entity(e, why, sizeof(why)) < 0)
	return (cm_notice_perr(p, "%s", why));
    return (0);
}

/* cm_notice_parse_envinfo - EnvelopeInformation of deposit/transit */
static int cm_notice_parse_envinfo(CM_NOTICE_PARSE *p, xmlNodePtr info, CM_NOTICE *n)
{
    static const char *const none[] = {0};
    xmlNodePtr cur = info->children;
    xmlNodePtr elem;
    xmlNodePtr ecur;
    xmlNodePtr ent;
    CM_NOTICE_ENTITY *e;
    char    why[200];

    if (cm_notice_attrs(p, info, none) < 0
	|| cm_notice_expect(p, &cur, "ContentEnvelopeInformation", &elem,
			    "EnvelopeInformation") < 0
	|| cm_notice_parse_content(p, elem, &n->content) < 0
	|| cm_notice_expect(p, &cur, "Entities", &elem, "EnvelopeInformation") < 0
	|| cm_notice_attrs(p, elem, none) < 0)
	return (-1);
    for (ecur = elem->children;;) {
	if (cm_notice_next(p, &ecur, &ent) < 0)
	    return (-1);
	if (ent == 0)
	    break;
	if (!cm_notice_is(ent, CM_NS, "Entity"))
	    return (cm_notice_perr(p, "unexpected element %s in Entities", STR(ent->name)));
	if ((e = cm_notice_add_entity(n)) == 0)
	    return (cm_notice_perr(p, "more than %d Entity", CM_ENTITIES_MAX));
	if (cm_notice_parse_entity(p, ent, e) < 0)
	    return (-1);
    }
    if (n->entity_count == 0)
	return (cm_notice_perr(p, "missing Entity in Entities"));
    if (cm_notice_check_entities(n, why, sizeof(why)) < 0)
	return (cm_notice_perr(p, "%s", why));
    return (cm_notice_signatures(p, cur, "EnvelopeInformation", &n->sigs_envinfo));
}

/* cm_notice_parse_receipt_info - EnvelopeInformation of a receipt */
static int cm_notice_parse_receipt_info(CM_NOTICE_PARSE *p, xmlNodePtr info, CM_NOTICE *n)
{
    static const char *const none[] = {0};
    xmlNodePtr cur = info->children;
    xmlNodePtr elem;
    xmlNodePtr ccur;
    CM_NOTICE_ENTITY *e;
    char    why[200];

    if (cm_notice_attrs(p, info, none) < 0
	|| cm_notice_expect(p, &cur, "BodyEnvelopeInformation", &elem,
			    "EnvelopeInformation") < 0
	|| cm_notice_parse_content(p, elem, &n->content) < 0
	|| cm_notice_expect(p, &cur, "Entity", &elem, "EnvelopeInformation") < 0)
	return (-1);
    if ((e = cm_notice_add_entity(n)) == 0)
	return (cm_notice_perr(p, "out of memory"));
    if (cm_notice_parse_entity(p, elem, e) < 0
	|| cm_notice_expect(p, &cur, "EntityChallenge", &elem, "EnvelopeInformation") < 0
	|| cm_notice_attrs(p, elem, none) < 0)
	return (-1);
    ccur = elem->children;
    if (cm_notice_expect(p, &ccur, "SecretQuestion", &elem, "EntityChallenge") < 0
	|| cm_notice_parse_question(p, elem, &n->challenge, "EntityChallenge") < 0
	|| cm_notice_signatures(p, ccur, "EntityChallenge", &n->sigs_challenge) < 0
	|| cm_notice_end(p, cur, "EnvelopeInformation") < 0)
	return (-1);
    if (cm_notice_check_receipt(n, why, sizeof(why)) < 0)
	return (cm_notice_perr(p, "%s", why));
    return (0);
}

/* cm_notice_parse_nondelivery - what follows a NonDeliveryNotice's postmark */
static int cm_notice_parse_nondelivery(CM_NOTICE_PARSE *p, xmlNodePtr *cur, CM_NOTICE *n)
{
    static const char *const none[] = {0};
    static const char *const rcpt_attrs[] = {"EmailAddress", 0};
    xmlNodePtr list;
    xmlNodePtr rcur;
    xmlNodePtr elem;
    char   *addr;
    char    why[200];

    if (cm_notice_expect_ns(p, cur, CM_NS_EXT, "UndeliveredRecipients", &list,
			    "NonDeliveryNotice") < 0
	|| cm_notice_attrs(p, list, none) < 0)
	return (-1);
    for (rcur = list->children;;) {
	if (cm_notice_next(p, &rcur, &elem) < 0)
	    return (-1);
	if (elem == 0)
	    break;
	if (!cm_notice_is(elem, CM_NS_EXT, "Recipient"))
	    return (cm_notice_perr(p, "unexpected element %s in UndeliveredRecipients",
				   STR(elem->name)));
	if (n->recipient_count >= CM_ENTITIES_MAX)
	    return (cm_notice_perr(p, "more than %d Recipient", CM_ENTITIES_MAX));
	if (cm_notice_attrs(p, elem, rcpt_attrs) < 0 || cm_notice_no_content(p, elem) < 0
	    || cm_notice_get_attr(p, elem, "EmailAddress", CM_ADDRESS_MAX, &addr) < 0)
	    return (-1);
	if (addr == 0)
	    return (cm_notice_perr(p, "Recipient without EmailAddress"));
	if (cm_notice_add_recipient(n, addr) < 0) {
	    free(addr);
	    return (cm_notice_perr(p, "out of memory"));
	}
	free(addr);
    }
    if (n->recipient_count == 0)
	return (cm_notice_perr(p, "missing Recipient in UndeliveredRecipients"));
    if (cm_notice_expect_ns(p, cur, CM_NS_EXT, "Reason", &elem, "NonDeliveryNotice") < 0
	|| cm_notice_attrs(p, elem, none) < 0
	|| cm_notice_get_plain(p, elem, CM_NOTICE_REASON_MAX, &n->reason) < 0
	|| cm_notice_expect_ns(p, cur, CM_NS_EXT, "Time", &elem, "NonDeliveryNotice") < 0
	|| cm_notice_attrs(p, elem, none) < 0
	|| cm_notice_get_plain(p, elem, 64, &n->time) < 0)
	return (-1);
    if (cm_notice_check_nondelivery(n, why, sizeof(why)) < 0)
	return (cm_notice_perr(p, "%s", why));
    return (0);
}

/* cm_notice_parse - a document into a model, strictly */
CM_NOTICE *cm_notice_parse(xmlDocPtr doc, char *err, size_t errlen)
{
    static const char *const none[] = {0};
    CM_NOTICE_PARSE p;
    CM_NOTICE *n;
    xmlNodePtr root;
    xmlNodePtr node;
    xmlNodePtr cur;
    xmlNodePtr elem;
    CM_NOTICE_TYPE type;
    int     rc;

    memset(&p, 0, sizeof(p));
    p.err = err;
    p.errlen = errlen;
    if (doc == 0 || (root = xmlDocGetRootElement(doc)) == 0) {
	cm_notice_perr(&p, "no document");
	return (0);
    }
    for (node = doc->children; node != 0; node = node->next) {
	if (node != root) {
	    cm_notice_perr(&p, "only the notice element may appear at top level");
	    return (0);
	}
    }
    if ((type = cm_notice_type_of(doc)) == CM_NOTICE_UNKNOWN) {
	cm_notice_perr(&p, "unknown root element %s%s", STR(root->name),
		       root->ns ? "" : " (no namespace)");
	return (0);
    }
    if ((n = cm_notice_new(type)) == 0) {
	cm_notice_perr(&p, "out of memory");
	return (0);
    }
    cur = root->children;
    rc = cm_notice_attrs(&p, root, none);
    if (rc == 0)
	rc = cm_notice_expect(&p, &cur, "DigitalPostmark", &elem, STR(root->name));
    if (rc == 0)
	rc = cm_notice_parse_postmark(&p, elem, n);
    if (rc == 0 && type == CM_NOTICE_NONDELIVERY) {
	rc = cm_notice_parse_nondelivery(&p, &cur, n);
    } else if (rc == 0 && type != CM_NOTICE_DEPOSIT && type != CM_NOTICE_TRANSIT) {
	rc = cm_notice_expect(&p, &cur, "EnvelopeInformation", &elem, STR(root->name));
	if (rc == 0)
	    rc = cm_notice_is_receipt(type) ? cm_notice_parse_receipt_info(&p, elem, n)
		: cm_notice_parse_envinfo(&p, elem, n);
    }
    if (rc == 0)
	rc = cm_notice_end(&p, cur, STR(root->name));
    if (rc < 0) {
	cm_notice_free(n);
	return (0);
    }
    return (n);
}

/* cm_notice_read - parse bytes, then the notice */
CM_NOTICE *cm_notice_read(const char *data, size_t len, xmlDocPtr *doc_r,
			          char *err, size_t errlen)
{
    xmlDocPtr doc;
    CM_NOTICE *n;

    if (doc_r)
	*doc_r = 0;
    if ((doc = cm_xml_parse(data, len, err, errlen)) == 0)
	return (0);
    if ((n = cm_notice_parse(doc, err, errlen)) == 0) {
	xmlFreeDoc(doc);
	return (0);
    }
    if (doc_r)
	*doc_r = doc;
    else
	xmlFreeDoc(doc);
    return (n);
}

/* cm_notice_schema_path - the XSD for a notice type */
const char *cm_notice_schema_path(CM_NOTICE_TYPE type)
{
    static _Thread_local char buf[4096];
    const char *main_xsd = cm_schema_path();
    const char *slash;
    int     len;

    if (type != CM_NOTICE_NONDELIVERY)
	return (main_xsd);
    if ((slash = strrchr(main_xsd, '/')) == 0)
	return ("cmail-extensions.xsd");
    len = snprintf(buf, sizeof(buf), "%.*s/cmail-extensions.xsd",
		   (int) (slash - main_xsd), main_xsd);
    if (len < 0 || (size_t) len >= sizeof(buf))
	return (main_xsd);		/* fails validation: the root is unknown there */
    return (buf);
}

/* cm_notice_validate - XSD-validate against the notices schema */
int     cm_notice_validate(xmlDocPtr doc, char *err, size_t errlen)
{
    return (cm_xml_validate(doc, doc ? cm_notice_schema_path(cm_notice_type_of(doc)) : 0,
			    err, errlen));
}

 /*
  * DOM lookups and mutations for the signing flow.
  */

/* cm_notice_type_of - type named by the root element */
CM_NOTICE_TYPE cm_notice_type_of(xmlDocPtr doc)
{
    xmlNodePtr root;
    CM_NOTICE_TYPE type;

    if (doc == 0 || (root = xmlDocGetRootElement(doc)) == 0 || root->ns == 0
	|| root->ns->href == 0)
	return (CM_NOTICE_UNKNOWN);
    type = cm_notice_type_from_name(STR(root->name));
    /* Our extension lives in our namespace, the rest in X.1341's. */
    if (strcmp(STR(root->ns->href), type == CM_NOTICE_NONDELIVERY ? CM_NS_EXT : CM_NS) != 0)
	return (CM_NOTICE_UNKNOWN);
    return (type);
}

/* cm_notice_child - first element child with a notices-namespace name */
static xmlNodePtr cm_notice_child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr node;

    for (node = parent ? parent->children : 0; node != 0; node = node->next)
	if (cm_notice_is(node, CM_NS, name))
	    return (node);
    return (0);
}

/* cm_notice_find - where signatures go */
xmlNodePtr cm_notice_find(xmlDocPtr doc, CM_NOTICE_PART which)
{
    xmlNodePtr root;
    xmlNodePtr info;

    if (cm_notice_type_of(doc) == CM_NOTICE_UNKNOWN)
	return (0);
    root = xmlDocGetRootElement(doc);
    switch (which) {
    case CM_PART_POSTMARK:
	return (cm_notice_child(root, "DigitalPostmark"));
    case CM_PART_ENVINFO:
	return (cm_notice_child(root, "EnvelopeInformation"));
    case CM_PART_CHALLENGE:
	info = cm_notice_child(root, "EnvelopeInformation");
	return (cm_notice_child(info, "EntityChallenge"));
    default:
	return (0);
    }
}

/* cm_notice_promote - rename the root; add EnvelopeInformation */
int     cm_notice_promote(xmlDocPtr doc, const CM_NOTICE *info, char *err, size_t errlen)
{
    CM_NOTICE_TYPE type = cm_notice_type_of(doc);
    xmlNodePtr root;
    xmlNodePtr envinfo;
    char    why[200];

    if (type != CM_NOTICE_DEPOSIT && type != CM_NOTICE_TRANSIT && type != CM_NOTICE_RECEIPT) {
	cm_notice_err(err, errlen, "notice promote: root is %s, not DepositNotice, "
		      "TransitNotice or ReceiptNotice", cm_notice_type_name(type));
	return (-1);
    }
    root = xmlDocGetRootElement(doc);
    if (cm_notice_child(root, "DigitalPostmark") == 0) {
	cm_notice_err(err, errlen, "notice promote: no DigitalPostmark");
	return (-1);
    }
    if (type != CM_NOTICE_RECEIPT) {
	if (info == 0) {
	    cm_notice_err(err, errlen, "notice promote: no EnvelopeInformation given");
	    return (-1);
	}
	if (cm_notice_child(root, "EnvelopeInformation") != 0) {
	    cm_notice_err(err, errlen, "notice promote: EnvelopeInformation already present");
	    return (-1);
	}
	if (cm_notice_check_content(&info->content, why, sizeof(why)) < 0
	    || cm_notice_check_entities(info, why, sizeof(why)) < 0) {
	    cm_notice_err(err, errlen, "notice promote: %s", why);
	    return (-1);
	}
	/* The root's namespace, so no new xmlns declaration appears. */
	if ((envinfo = cm_notice_build_envinfo(doc, root->ns, info)) == 0) {
	    cm_notice_err(err, errlen, "notice promote: out of memory");
	    return (-1);
	}
	if (xmlAddChild(root, envinfo) == 0) {
	    xmlFreeNode(envinfo);
	    cm_notice_err(err, errlen, "notice promote: out of memory");
	    return (-1);
	}
    } else if (cm_notice_child(root, "EnvelopeInformation") == 0) {
	cm_notice_err(err, errlen, "notice promote: receipt without EnvelopeInformation");
	return (-1);
    }
    xmlNodeSetName(root, XSTR(cm_notice_type_name(cm_notice_signed_type(type))));
    return (0);
}

/* cm_notice_set_response - the recipient's answer in EntityChallenge */
int     cm_notice_set_response(xmlDocPtr doc, const char *answer_b64, char *err, size_t errlen)
{
    CM_NOTICE_TYPE type = cm_notice_type_of(doc);
    xmlNodePtr chal;
    xmlNodePtr resp;
    xmlNodePtr child;
    xmlNodePtr txt;

    if (!cm_notice_is_receipt(type)) {
	cm_notice_err(err, errlen, "notice response: not a receipt notice");
	return (-1);
    }
    if (cm_notice_check_b64(answer_b64, CM_NOTICE_B64_MAX, 0, 0) < 0) {
	cm_notice_err(err, errlen, "notice response: bad base64 answer");
	return (-1);
    }
    if ((chal = cm_notice_find(doc, CM_PART_CHALLENGE)) == 0
	|| (resp = cm_notice_child(cm_notice_child(chal, "SecretQuestion"), "Response")) == 0) {
	cm_notice_err(err, errlen, "notice response: no EntityChallenge/SecretQuestion/Response");
	return (-1);
    }
    if ((txt = xmlNewDocText(doc, XSTR(answer_b64))) == 0) {
	cm_notice_err(err, errlen, "notice response: out of memory");
	return (-1);
    }
    while ((child = resp->children) != 0) {
	xmlUnlinkNode(child);
	xmlFreeNode(child);
    }
    xmlAddChild(resp, txt);
    return (0);
}

/* cm_notice_copy_question - deep copy of a SecretQuestion */
static int cm_notice_copy_question(CM_NOTICE_QUESTION *dst, const CM_NOTICE_QUESTION *src)
{
    return (cm_notice_set_str(&dst->random_number, src->random_number) < 0
	    || cm_notice_set_str(&dst->response_alg, src->response_alg) < 0
	    || cm_notice_set_str(&dst->response_encoding, src->response_encoding) < 0 ? -1 : 0);
}

/* cm_notice_receipt_model - the ReceiptNotice for one recipient */
CM_NOTICE *cm_notice_receipt_model(const CM_NOTICE *dep, const char *address,
				           char *err, size_t errlen)
{
    const CM_NOTICE_ENTITY *src = 0;
    CM_NOTICE_ENTITY *e;
    CM_NOTICE *r;
    size_t  i;
    char    why[200];

    if (dep == 0 || (dep->type != CM_NOTICE_SIGNED_DEPOSIT
		     && dep->type != CM_NOTICE_SIGNED_TRANSIT)) {
	cm_notice_err(err, errlen, "receipt: not a signed deposit or transit notice");
	return (0);
    }
    for (i = 0; address != 0 && i < dep->entity_count; i++) {
	if (dep->entities[i].address && cm_addr_equal(dep->entities[i].address, address)) {
	    src = dep->entities + i;
	    break;
	}
    }
    if (src == 0) {
	cm_notice_err(err, errlen, "receipt: no Entity for %s", address ? address : "(null)");
	return (0);
    }
    if ((r = cm_notice_new(CM_NOTICE_RECEIPT)) == 0)
	goto nomem;
    if (cm_notice_set_str(&r->envelope_id, dep->envelope_id) < 0)
	goto nomem;
    for (i = 0; i < dep->mime_hash_count; i++)
	if (cm_notice_add_mime_hash(r, dep->mime_hashes[i].alg, dep->mime_hashes[i].value) < 0)
	    goto nomem;
    if (cm_notice_set_str(&r->content.message_id, dep->content.message_id) < 0
	|| cm_notice_set_str(&r->content.unciphered.value, dep->content.unciphered.value) < 0
	|| cm_notice_set_str(&r->content.ciphered.value, dep->content.ciphered.value) < 0)
	goto nomem;
    r->content.unciphered.alg = dep->content.unciphered.alg;
    r->content.ciphered.alg = dep->content.ciphered.alg;
    if ((e = cm_notice_add_entity(r)) == 0)
	goto nomem;
    e->type = src->type;
    e->key_size = src->key_size;
    if (cm_notice_set_str(&e->address, src->address) < 0
	|| cm_notice_copy_question(&e->question, &src->question) < 0
	|| cm_notice_set_str(&e->question.response, "") < 0
	|| cm_notice_set_str(&e->key_algorithm, src->key_algorithm) < 0
	|| cm_notice_set_str(&e->key_wrap, src->key_wrap) < 0
	|| cm_notice_set_str(&e->key_encoding, src->key_encoding) < 0
	|| cm_notice_set_str(&e->wrapped_key, src->wrapped_key) < 0
	|| cm_notice_set_str(&e->cert_encoding, src->cert_encoding) < 0
	|| cm_notice_set_str(&e->certificate, src->certificate) < 0
	|| cm_notice_copy_question(&r->challenge, &src->question) < 0
	|| cm_notice_set_str(&r->challenge.response, "") < 0)
	goto nomem;
    if (cm_notice_check(r, why, sizeof(why)) < 0) {
	cm_notice_err(err, errlen, "receipt: %s", why);
	cm_notice_free(r);
	return (0);
    }
    return (r);

nomem:
    cm_notice_free(r);
    cm_notice_err(err, errlen, "receipt: out of memory");
    return (0);
}

/* cm_notice_reason_text - a reason made safe: UTF-8 XML text, no controls */
static char *cm_notice_reason_text(const char *reason)
{
    const unsigned char *cp;
    char   *out;
    size_t  len = 0;
    int     clen;
    int     c;

    if (reason == 0 || *reason == 0)
	reason = "undeliverable";
    if ((out = malloc(CM_NOTICE_REASON_MAX + 1)) == 0)
	return (0);
    for (cp = (const unsigned char *) reason; *cp && len < CM_NOTICE_REASON_MAX; cp += clen) {
	clen = (int) strnlen((const char *) cp, 4);
	if (*cp < 0x80) {
	    clen = 1;
	    out[len++] = (*cp < 0x20 || *cp == 0x7f) ? ' ' : (char) *cp;
	} else if ((c = xmlGetUTF8Char(cp, &clen)) < 0 || clen <= 0 || !xmlIsCharQ(c)
		   || (c >= 0x80 && c < 0xa0)) {
	    clen = 1;
	    out[len++] = '?';
	} else if (len + (size_t) clen > CM_NOTICE_REASON_MAX) {
	    break;
	} else {
	    memcpy(out + len, cp, (size_t) clen);
	    len += (size_t) clen;
	}
    }
    out[len] = 0;
    return (out);
}

/* cm_notice_nondelivery_model - the NonDeliveryNotice of a message */
CM_NOTICE *cm_notice_nondelivery_model(const CM_NOTICE *dep, char *const *recipients,
				               size_t nrcpt, const char *reason, time_t when,
				               char *err, size_t errlen)
{
    CM_NOTICE *n;
    struct tm tm;
    char    stamp[32];
    size_t  i;
    char    why[200];

    if (dep == 0 || dep->type <= CM_NOTICE_UNKNOWN || dep->type > CM_NOTICE_SIGNED_RECEIPT) {
	cm_notice_err(err, errlen, "non-delivery: no X.1341 notice of the message given");
	return (0);
    }
    if (recipients == 0 || nrcpt == 0 || nrcpt > CM_ENTITIES_MAX) {
	cm_notice_err(err, errlen, "non-delivery: 1 to %d recipients needed", CM_ENTITIES_MAX);
	return (0);
    }
    if (when == 0)
	when = time((time_t *) 0);
    if (gmtime_r(&when, &tm) == 0
	|| strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) != 20) {
	cm_notice_err(err, errlen, "non-delivery: bad time");
	return (0);
    }
    if ((n = cm_notice_new(CM_NOTICE_NONDELIVERY)) == 0
	|| cm_notice_set_str(&n->envelope_id, dep->envelope_id) < 0
	|| cm_notice_set_str(&n->time, stamp) < 0
	|| (n->reason = cm_notice_reason_text(reason)) == 0)
	goto nomem;
    for (i = 0; i < dep->mime_hash_count; i++)
	if (cm_notice_add_mime_hash(n, dep->mime_hashes[i].alg, dep->mime_hashes[i].value) < 0)
	    goto nomem;
    for (i = 0; i < nrcpt; i++) {
	if (recipients[i] == 0 || !cm_addr_valid(recipients[i])) {
	    cm_notice_err(err, errlen, "non-delivery: bad recipient address");
	    cm_notice_free(n);
	    return (0);
	}
	if (cm_notice_add_recipient(n, recipients[i]) < 0)
	    goto nomem;
    }
    if (cm_notice_check(n, why, sizeof(why)) < 0) {
	cm_notice_err(err, errlen, "non-delivery: %s", why);
	cm_notice_free(n);
	return (0);
    }
    return (n);

nomem:
    cm_notice_free(n);
    cm_notice_err(err, errlen, "non-delivery: out of memory");
    return (0);
}

/* cm_notice_nondelivery_build - the unsigned NonDeliveryNotice document */
xmlDocPtr cm_notice_nondelivery_build(const CM_NOTICE *dep, char *const *recipients,
				              size_t nrcpt, const char *reason, time_t when,
				              char *err, size_t errlen)
{
    CM_NOTICE *n;
    xmlDocPtr doc;

    if ((n = cm_notice_nondelivery_model(dep, recipients, nrcpt, reason, when,
					 err, errlen)) == 0)
	return (0);
    doc = cm_notice_build(n, err, errlen);
    cm_notice_free(n);
    return (doc);
}
