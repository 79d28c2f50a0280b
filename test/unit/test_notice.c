/*++
 * NAME
 *	test_notice 1
 * SUMMARY
 *	unit tests of cm_notice: the six notice types, edits, strict parsing
 * DESCRIPTION
 *	Each notice type is built from a model, serialised, validated
 *	against schemas/x1341-notices.xsd ($CMAIL_SCHEMA_DIR, set by the
 *	test harness), parsed back and compared field by field, and rebuilt
 *	byte for byte. Promotion, the recipient's answer and the lookups
 *	of the signing flow; strict-parse rejections; both spellings of
 *	the encoding attribute. Cmail's NonDeliveryNotice (extension
 *	namespace, schemas/cmail-extensions.xsd): build from a deposit
 *	model, validate, parse back, strict rejections, sanitised reason.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_notice.h"
#include "cm_xml.h"

#define RANDOM1	"340282366920938463463374607431768211457"
#define RANDOM2	"98765432109876543210987654321098765432"
#define ENVID	"env-1373360283931.x@example.org"

/* A ds:Signature of the profile's shape with dummy values (not verifiable). */
#define FAKE_SIG \
    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"cmail-sig-1\">" \
    "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>" \
    "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>" \
    "<ds:Reference URI=\"\"><ds:Transforms>" \
    "<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\">" \
    "<dsig2:XPath xmlns:dsig2=\"http://www.w3.org/2002/06/xmldsig-filter2\" Filter=\"intersect\">/*/c:DigitalPostmark</dsig2:XPath></ds:Transform>" \
    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>" \
    "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>" \
    "<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>" \
    "<ds:SignatureValue>AAAA\nBBBB</ds:SignatureValue>" \
    "<ds:KeyInfo><ds:X509Data>\n<ds:X509Certificate>AAAA</ds:X509Certificate>\n</ds:X509Data></ds:KeyInfo>" \
    "</ds:Signature>"

/* b64_of - base64 of bytes */
static char *b64_of(const char *data, size_t len)
{
    char   *s = cm_base64_encode((const unsigned char *) data, len, 0);

    assert_non_null(s);
    return (s);
}

/* set_hash - a CM_NOTICE_HASH of text */
static void set_hash(CM_NOTICE_HASH *h, CM_HASH_ALG alg, const char *text)
{
    h->alg = alg;
    free(h->value);
    h->value = cm_hash_b64(alg, text, strlen(text));
    assert_non_null(h->value);
}

/* fill_entity - a plausible Entity */
static void fill_entity(CM_NOTICE_ENTITY *e, const char *addr, CM_ENTITY_TYPE type,
			        const char *random)
{
    char    key[256];
    char    cert[600];
    size_t  i;

    for (i = 0; i < sizeof(key); i++)
	key[i] = (char) (i * 7 + 3);
    for (i = 0; i < sizeof(cert); i++)
	cert[i] = (char) (i * 13 + 1);
    e->type = type;
    assert_int_equal(cm_notice_set_str(&e->address, addr), 0);
    assert_int_equal(cm_notice_set_str(&e->question.random_number, random), 0);
    assert_int_equal(cm_notice_set_str(&e->question.response_alg, CM_HASH_OID_SHA256), 0);
    e->question.response = cm_hash_b64(CM_HASH_SHA256, addr, strlen(addr));
    if (type == CM_ENTITY_CC)
	assert_int_equal(cm_notice_set_str(&e->question.response_encoding, "base64"), 0);
    assert_int_equal(cm_notice_set_str(&e->key_algorithm, "AES-256-GCM"), 0);
    assert_int_equal(cm_notice_set_str(&e->key_wrap, "RSA-OAEP"), 0);
    assert_int_equal(cm_notice_set_str(&e->key_encoding, "base64"), 0);
    e->key_size = 256;
    e->wrapped_key = b64_of(key, sizeof(key));
    assert_int_equal(cm_notice_set_str(&e->cert_encoding, "base64"), 0);
    e->certificate = cm_base64_encode((const unsigned char *) cert, sizeof(cert), 0);
    assert_non_null(e->certificate);
}

/* signed_deposit_model - a SignedDepositNotice (or transit) model */
static CM_NOTICE *signed_model(CM_NOTICE_TYPE type)
{
    CM_NOTICE *n = cm_notice_new(type);
    char   *h;

    assert_non_null(n);
    assert_int_equal(cm_notice_set_str(&n->envelope_id, ENVID), 0);
    h = cm_hash_b64(CM_HASH_SHA256, "mime", 4);
    assert_int_equal(cm_notice_add_mime_hash(n, CM_HASH_SHA256, h), 0);
    free(h);
    h = cm_hash_b64(CM_HASH_SHA1, "mime", 4);
    assert_int_equal(cm_notice_add_mime_hash(n, CM_HASH_SHA1, h), 0);
    free(h);
    if (type == CM_NOTICE_DEPOSIT || type == CM_NOTICE_TRANSIT)
	return (n);
    assert_int_equal(cm_notice_set_str(&n->content.message_id, "<m1.2 & 3@example.org>"), 0);
    set_hash(&n->content.unciphered, CM_HASH_SHA256, "plain");
    set_hash(&n->content.ciphered, CM_HASH_SHA256, "cipher");
    fill_entity(cm_notice_add_entity(n), "alice@example.org", CM_ENTITY_TO, RANDOM1);
    fill_entity(cm_notice_add_entity(n), "Bob@example.org", CM_ENTITY_CC, RANDOM2);
    return (n);
}

/* model_of - a model of any type */
static CM_NOTICE *model_of(CM_NOTICE_TYPE type)
{
    CM_NOTICE *dep;
    CM_NOTICE *r;
    char    err[256];

    if (type != CM_NOTICE_RECEIPT && type != CM_NOTICE_SIGNED_RECEIPT)
	return (signed_model(type));
    dep = signed_model(CM_NOTICE_SIGNED_DEPOSIT);
    r = cm_notice_receipt_model(dep, "Bob@EXAMPLE.org", err, sizeof(err));
    if (r == 0)
	fail_msg("receipt model: %s", err);
    cm_notice_free(dep);
    r->type = type;
    if (type == CM_NOTICE_SIGNED_RECEIPT) {
	free(r->challenge.response);
	r->challenge.response = cm_hash_b64(CM_HASH_SHA256, "answer", 6);
    }
    return (r);
}

/* str_eq - both NULL, or equal */
static void str_eq(const char *a, const char *b)
{
    if (a == 0 || b == 0) {
	/* an empty Response may come back as "" */
	assert_true((a == 0 || *a == 0) && (b == 0 || *b == 0));
	return;
    }
    assert_string_equal(a, b);
}

/* nows - a base64 text without the line breaks */
static void b64_eq(const char *a, const char *b)
{
    char    x[8192], y[8192];
    size_t  i, j;

    for (i = j = 0; a[i] && j < sizeof(x) - 1; i++)
	if (a[i] != '\n')
	    x[j++] = a[i];
    x[j] = 0;
    for (i = j = 0; b[i] && j < sizeof(y) - 1; i++)
	if (b[i] != '\n')
	    y[j++] = b[i];
    y[j] = 0;
    assert_string_equal(x, y);
}

/* question_eq - SecretQuestion fields */
static void question_eq(const CM_NOTICE_QUESTION *a, const CM_NOTICE_QUESTION *b)
{
    str_eq(a->random_number, b->random_number);
    str_eq(a->response_alg, b->response_alg);
    str_eq(a->response, b->response);
    str_eq(a->response_encoding, b->response_encoding);
}

/* models_eq - field by field */
static void models_eq(const CM_NOTICE *a, const CM_NOTICE *b)
{
    size_t  i;
    const CM_NOTICE_ENTITY *x, *y;

    assert_int_equal(a->type, b->type);
    assert_string_equal(a->envelope_id, b->envelope_id);
    assert_int_equal(a->mime_hash_count, b->mime_hash_count);
    for (i = 0; i < a->mime_hash_count; i++) {
	assert_int_equal(a->mime_hashes[i].alg, b->mime_hashes[i].alg);
	assert_string_equal(a->mime_hashes[i].value, b->mime_hashes[i].value);
    }
    if (a->type == CM_NOTICE_DEPOSIT || a->type == CM_NOTICE_TRANSIT)
	return;
    str_eq(a->content.message_id, b->content.message_id);
    assert_int_equal(a->content.unciphered.alg, b->content.unciphered.alg);
    assert_string_equal(a->content.unciphered.value, b->content.unciphered.value);
    assert_string_equal(a->content.ciphered.value, b->content.ciphered.value);
    assert_int_equal(a->entity_count, b->entity_count);
    for (i = 0; i < a->entity_count; i++) {
	x = a->entities + i;
	y = b->entities + i;
	assert_string_equal(x->address, y->address);
	assert_int_equal(x->type, y->type);
	question_eq(&x->question, &y->question);
	str_eq(x->key_algorithm, y->key_algorithm);
	str_eq(x->key_wrap, y->key_wrap);
	str_eq(x->key_encoding, y->key_encoding);
	assert_int_equal(x->key_size, y->key_size);
	b64_eq(x->wrapped_key, y->wrapped_key);
	str_eq(x->cert_encoding, y->cert_encoding);
	b64_eq(x->certificate, y->certificate);
    }
    if (a->type == CM_NOTICE_RECEIPT || a->type == CM_NOTICE_SIGNED_RECEIPT)
	question_eq(&a->challenge, &b->challenge);
}

/* no_blank_text - no whitespace-only text node anywhere */
static void no_blank_text(xmlNodePtr node)
{
    const xmlChar *cp;

    for (; node != 0; node = node->next) {
	if (node->type == XML_TEXT_NODE) {
	    for (cp = node->content; *cp && strchr(" \t\r\n", *cp); cp++)
		 /* void */ ;
	    assert_true(*cp != 0);
	}
	/* xmlsec1 may indent inside its own Signature: not ours to check */
	if (node->type == XML_ELEMENT_NODE && strcmp((const char *) node->name, "Signature") != 0)
	    no_blank_text(node->children);
    }
}

/* validate_text - parse bytes and validate, fail with the reason */
static xmlDocPtr validate_text(const char *xml, size_t len)
{
    char    err[512];
    xmlDocPtr doc = cm_xml_parse(xml, len, err, sizeof(err));

    if (doc == 0)
	fail_msg("parse: %s", err);
    if (cm_notice_validate(doc, err, sizeof(err)) != 0)
	fail_msg("schema: %s\n%s", err, xml);
    return (doc);
}

/* test_roundtrip - every type: build, serialise, validate, parse, rebuild */
static void test_roundtrip(void **state)
{
    CM_NOTICE_TYPE type;
    CM_NOTICE *m, *back;
    xmlDocPtr doc, doc2;
    char   *xml, *xml2;
    size_t  len, len2;
    char    err[512];

    for (type = CM_NOTICE_DEPOSIT; type <= CM_NOTICE_SIGNED_RECEIPT; type++) {
	m = model_of(type);
	doc = cm_notice_build(m, err, sizeof(err));
	if (doc == 0)
	    fail_msg("build %s: %s", cm_notice_type_name(type), err);
	no_blank_text(xmlDocGetRootElement(doc));
	assert_int_equal(cm_notice_type_of(doc), type);
	xml = cm_xml_serialize(doc, &len);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
	assert_non_null(strstr(xml, "xmlns=\"" CM_NS "\""));
	xmlFreeDoc(doc);
	doc = validate_text(xml, len);
	back = cm_notice_parse(doc, err, sizeof(err));
	if (back == 0)
	    fail_msg("parse %s: %s", cm_notice_type_name(type), err);
	models_eq(m, back);
	doc2 = cm_notice_build(back, err, sizeof(err));
	assert_non_null(doc2);
	xml2 = cm_xml_serialize(doc2, &len2);
	assert_string_equal(xml, xml2);
	free(xml2);
	xmlFreeDoc(doc2);
	cm_notice_free(back);
	xmlFreeDoc(doc);
	free(xml);
	cm_notice_free(m);
    }
}

/* test_names - type and entity names both ways */
static void test_names(void **state)
{
    CM_NOTICE_TYPE t;
    CM_ENTITY_TYPE e;

    for (t = CM_NOTICE_DEPOSIT; t <= CM_NOTICE_SIGNED_RECEIPT; t++)
	assert_int_equal(cm_notice_type_from_name(cm_notice_type_name(t)), t);
    assert_string_equal(cm_notice_type_name(CM_NOTICE_RECEIPT), "ReceiptNotice");
    assert_int_equal(cm_notice_type_from_name("ReceipNotice"), CM_NOTICE_UNKNOWN);
    assert_int_equal(cm_notice_type_from_name(0), CM_NOTICE_UNKNOWN);
    assert_int_equal(cm_notice_signed_type(CM_NOTICE_DEPOSIT), CM_NOTICE_SIGNED_DEPOSIT);
    assert_int_equal(cm_notice_signed_type(CM_NOTICE_TRANSIT), CM_NOTICE_SIGNED_TRANSIT);
    assert_int_equal(cm_notice_signed_type(CM_NOTICE_RECEIPT), CM_NOTICE_SIGNED_RECEIPT);
    assert_true(cm_notice_is_signed(CM_NOTICE_SIGNED_RECEIPT));
    assert_false(cm_notice_is_signed(CM_NOTICE_TRANSIT));
    assert_int_equal(cm_entity_type_from_name("transit", &e), 0);
    assert_int_equal(e, CM_ENTITY_TRANSIT);
    assert_string_equal(cm_entity_type_name(CM_ENTITY_CC), "cc");
    assert_int_equal(cm_entity_type_from_name("bcc", &e), -1);
    assert_string_equal(cm_notice_type_name(CM_NOTICE_NONDELIVERY), "NonDeliveryNotice");
    assert_int_equal(cm_notice_type_from_name("NonDeliveryNotice"), CM_NOTICE_NONDELIVERY);
    assert_int_equal(cm_notice_signed_type(CM_NOTICE_NONDELIVERY), CM_NOTICE_NONDELIVERY);
    assert_false(cm_notice_is_signed(CM_NOTICE_NONDELIVERY));
}

/* with_sig - a serialised notice with FAKE_SIG as DigitalPostmark's last child */
static char *with_sig(CM_NOTICE_TYPE type)
{
    CM_NOTICE *m = model_of(type);
    char    err[256];
    xmlDocPtr doc = cm_notice_build(m, err, sizeof(err));
    char   *xml, *out, *at;
    size_t  len;

    assert_non_null(doc);
    xml = cm_xml_serialize(doc, &len);
    xmlFreeDoc(doc);
    cm_notice_free(m);
    at = strstr(xml, "</DigitalPostmark>");
    assert_non_null(at);
    out = malloc(len + sizeof(FAKE_SIG));
    assert_non_null(out);
    memcpy(out, xml, (size_t) (at - xml));
    strcpy(out + (at - xml), FAKE_SIG);
    strcat(out, at);
    free(xml);
    return (out);
}

/* test_promote - deposit and transit gain EnvelopeInformation, receipt renamed */
static void test_promote(void **state)
{
    static const CM_NOTICE_TYPE from[] = {CM_NOTICE_DEPOSIT, CM_NOTICE_TRANSIT};
    CM_NOTICE *info, *back;
    xmlDocPtr doc, direct;
    char   *xml, *out, *want;
    char    err[512];
    size_t  i, len;

    for (i = 0; i < 2; i++) {
	xml = with_sig(from[i]);
	doc = validate_text(xml, strlen(xml));
	info = model_of(cm_notice_signed_type(from[i]));
	if (cm_notice_promote(doc, info, err, sizeof(err)) != 0)
	    fail_msg("promote: %s", err);
	assert_int_equal(cm_notice_type_of(doc), cm_notice_signed_type(from[i]));
	no_blank_text(xmlDocGetRootElement(doc));
	out = cm_xml_serialize(doc, &len);
	xmlFreeDoc(doc);
	/* the earlier signature is untouched, byte for byte */
	assert_non_null(strstr(out, FAKE_SIG "</DigitalPostmark><EnvelopeInformation>"));
	doc = validate_text(out, len);
	back = cm_notice_parse(doc, err, sizeof(err));
	if (back == 0)
	    fail_msg("parse promoted: %s", err);
	assert_int_equal(back->sigs_postmark, 1);
	assert_int_equal(back->sigs_envinfo, 0);
	models_eq(info, back);
	/* same bytes as a Signed* notice built directly, less the signature */
	direct = cm_notice_build(info, err, sizeof(err));
	want = cm_xml_serialize(direct, 0);
	xmlFreeDoc(direct);
	assert_non_null(strstr(want, "</DigitalPostmark>"));
	assert_string_equal(strstr(out, "</DigitalPostmark>"), strstr(want, "</DigitalPostmark>"));
	/* only once */
	assert_int_equal(cm_notice_promote(doc, info, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SignedDepositNotice") ? err : strstr(err, "SignedTransitNotice"));
	free(want);
	cm_notice_free(back);
	cm_notice_free(info);
	xmlFreeDoc(doc);
	free(out);
	free(xml);
    }

    /* a receipt is only renamed */
    xml = with_sig(CM_NOTICE_RECEIPT);
    doc = validate_text(xml, strlen(xml));
    assert_int_equal(cm_notice_promote(doc, 0, err, sizeof(err)), 0);
    assert_int_equal(cm_notice_type_of(doc), CM_NOTICE_SIGNED_RECEIPT);
    out = cm_xml_serialize(doc, &len);
    xmlFreeDoc(doc);
    doc = validate_text(out, len);
    assert_non_null(strstr(out, "<SignedReceiptNotice xmlns="));
    assert_non_null(strstr(out, "</SignedReceiptNotice>"));
    xmlFreeDoc(doc);
    free(out);
    free(xml);

    /* a deposit needs the information */
    xml = with_sig(CM_NOTICE_DEPOSIT);
    doc = validate_text(xml, strlen(xml));
    assert_int_equal(cm_notice_promote(doc, 0, err, sizeof(err)), -1);
    assert_int_equal(cm_notice_type_of(doc), CM_NOTICE_DEPOSIT);
    xmlFreeDoc(doc);
    free(xml);
}

/* test_set_response - the recipient's answer in EntityChallenge only */
static void test_set_response(void **state)
{
    CM_NOTICE *m = model_of(CM_NOTICE_RECEIPT);
    CM_NOTICE *back;
    xmlDocPtr doc;
    char   *answer = cm_hash_b64(CM_HASH_SHA256, "x", 1);
    char   *xml;
    size_t  len;
    char    err[512];

    assert_string_equal(m->entities[0].question.response, "");
    assert_string_equal(m->challenge.random_number, RANDOM2);
    doc = cm_notice_build(m, err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(cm_notice_set_response(doc, "not base64!", err, sizeof(err)), -1);
    assert_int_equal(cm_notice_set_response(doc, "AAAA", err, sizeof(err)), 0);
    assert_int_equal(cm_notice_set_response(doc, answer, err, sizeof(err)), 0);
    assert_int_equal(cm_notice_promote(doc, 0, err, sizeof(err)), 0);
    no_blank_text(xmlDocGetRootElement(doc));
    xml = cm_xml_serialize(doc, &len);
    xmlFreeDoc(doc);
    doc = validate_text(xml, len);
    back = cm_notice_parse(doc, err, sizeof(err));
    if (back == 0)
	fail_msg("parse: %s", err);
    assert_int_equal(back->type, CM_NOTICE_SIGNED_RECEIPT);
    assert_string_equal(back->challenge.response, answer);
    assert_string_equal(back->entities[0].question.response, "");
    cm_notice_free(back);
    xmlFreeDoc(doc);
    free(xml);
    cm_notice_free(m);

    /* not on a deposit notice */
    m = model_of(CM_NOTICE_SIGNED_DEPOSIT);
    doc = cm_notice_build(m, err, sizeof(err));
    assert_int_equal(cm_notice_set_response(doc, answer, err, sizeof(err)), -1);
    xmlFreeDoc(doc);
    cm_notice_free(m);
    free(answer);
}

/* test_find - the elements where signatures go */
static void test_find(void **state)
{
    CM_NOTICE *m;
    xmlDocPtr doc;
    xmlNodePtr node;
    char    err[256];

    m = model_of(CM_NOTICE_DEPOSIT);
    doc = cm_notice_build(m, err, sizeof(err));
    node = cm_notice_find(doc, CM_PART_POSTMARK);
    assert_non_null(node);
    assert_string_equal((const char *) node->name, "DigitalPostmark");
    assert_null(cm_notice_find(doc, CM_PART_ENVINFO));
    assert_null(cm_notice_find(doc, CM_PART_CHALLENGE));
    xmlFreeDoc(doc);
    cm_notice_free(m);

    m = model_of(CM_NOTICE_SIGNED_TRANSIT);
    doc = cm_notice_build(m, err, sizeof(err));
    node = cm_notice_find(doc, CM_PART_ENVINFO);
    assert_non_null(node);
    assert_string_equal((const char *) node->name, "EnvelopeInformation");
    assert_null(cm_notice_find(doc, CM_PART_CHALLENGE));
    xmlFreeDoc(doc);
    cm_notice_free(m);

    m = model_of(CM_NOTICE_RECEIPT);
    doc = cm_notice_build(m, err, sizeof(err));
    node = cm_notice_find(doc, CM_PART_CHALLENGE);
    assert_non_null(node);
    assert_string_equal((const char *) node->name, "EntityChallenge");
    assert_string_equal((const char *) node->parent->name, "EnvelopeInformation");
    xmlFreeDoc(doc);
    cm_notice_free(m);
    assert_null(cm_notice_find(0, CM_PART_POSTMARK));
    assert_int_equal(cm_notice_type_of(0), CM_NOTICE_UNKNOWN);
}

/* serial - a serialised notice of a type */
static char *serial(CM_NOTICE_TYPE type)
{
    CM_NOTICE *m = model_of(type);
    char    err[256];
    xmlDocPtr doc = cm_notice_build(m, err, sizeof(err));
    char   *xml;

    assert_non_null(doc);
    xml = cm_xml_serialize(doc, 0);
    xmlFreeDoc(doc);
    cm_notice_free(m);
    return (xml);
}

/* replace - xml with the first "from" replaced by "to" (must occur) */
static char *replace(const char *xml, const char *from, const char *to)
{
    const char *at = strstr(xml, from);
    char   *out;

    if (at == 0)
	fail_msg("\"%s\" not in the notice", from);
    out = malloc(strlen(xml) + strlen(to) + 1);
    assert_non_null(out);
    memcpy(out, xml, (size_t) (at - xml));
    strcpy(out + (at - xml), to);
    strcat(out, at + strlen(from));
    return (out);
}

/* rejects - cm_notice_read must refuse, the reason mentions want */
static void rejects(const char *xml, const char *want)
{
    char    err[512];
    xmlDocPtr doc = 0;
    CM_NOTICE *n;

    err[0] = 0;
    n = cm_notice_read(xml, strlen(xml), &doc, err, sizeof(err));
    if (n != 0) {
	cm_notice_free(n);
	xmlFreeDoc(doc);
	fail_msg("accepted, expected a refusal mentioning \"%s\"", want);
    }
    assert_null(doc);
    if (strstr(err, want) == 0)
	fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

/* reject_edit - one edit of a valid notice must be refused */
static void reject_edit(const char *xml, const char *from, const char *to, const char *want)
{
    char   *bad = replace(xml, from, to);

    rejects(bad, want);
    free(bad);
}

/* test_strict - unknown, missing, duplicate, malformed */
static void test_strict(void **state)
{
    char   *dep = serial(CM_NOTICE_SIGNED_DEPOSIT);
    char   *rcpt = serial(CM_NOTICE_RECEIPT);
    char   *pm, *dup, *end;
    char    err[256];
    CM_NOTICE *n;

    /* the unedited notices are accepted */
    n = cm_notice_read(dep, strlen(dep), 0, err, sizeof(err));
    assert_non_null(n);
    cm_notice_free(n);
    n = cm_notice_read(rcpt, strlen(rcpt), 0, err, sizeof(err));
    assert_non_null(n);
    cm_notice_free(n);

    /* duplicate DigitalPostmark */
    pm = strstr(dep, "<DigitalPostmark");
    end = strstr(dep, "</DigitalPostmark>") + strlen("</DigitalPostmark>");
    dup = malloc(strlen(dep) + (size_t) (end - pm) + 1);
    memcpy(dup, dep, (size_t) (end - dep));
    memcpy(dup + (end - dep), pm, (size_t) (end - pm));
    strcpy(dup + (end - dep) + (end - pm), end);
    rejects(dup, "unexpected element DigitalPostmark");
    free(dup);

    reject_edit(dep, "</DigitalPostmark>", "<Extra/></DigitalPostmark>", "unexpected element Extra");
    reject_edit(dep, "<Entities>", "<Entities><Foo/>", "unexpected element Foo in Entities");
    reject_edit(dep, "EnvelopeId=\"" ENVID "\"", "EnvelopeId=\"a/b\"", "bad EnvelopeId");
    reject_edit(dep, "EnvelopeId=\"" ENVID "\"", "EnvelopeId=\"\"", "bad EnvelopeId");
    reject_edit(dep, "EnvelopeId=\"" ENVID "\"",
		"EnvelopeId=\"a1234567890123456789012345678901234567890123456789012345678901234\"",
		"EnvelopeId");
    reject_edit(dep, "EnvelopeId=\"" ENVID "\"", "", "bad EnvelopeId");
    reject_edit(dep, "<CipherEnvelopeKey Algorithm=\"AES-256-GCM\" CipheredKey=\"RSA-OAEP\" "
		"Encoding=\"base64\" KeySize=\"256\">",
		"<CipherEnvelopeKey Algorithm=\"AES-256-GCM\" CipheredKey=\"RSA-OAEP\" "
		"Encoding=\"base64\" KeySize=\"256\">@@@@", "bad base64 CipherEnvelopeKey");
    reject_edit(dep, "<Certificate encoding=\"base64\">", "<Certificate encoding=\"base64\">*",
		"bad base64 Certificate");
    reject_edit(dep, "AlgorithmOID=\"2.16.840.1.101.3.4.2.1\"", "AlgorithmOID=\"1.2.3.4\"",
		"unknown hash OID in MimeMessageHash");
    reject_edit(dep, "AlgorithmOID=\"2.16.840.1.101.3.4.2.1\"", "", "without AlgorithmOID");
    reject_edit(dep, "AlgorithmOID=\"2.16.840.1.101.3.4.2.1\"", "AlgorithmOID=\"1.3.14.3.2.26\"",
		"bad base64 digest in MimeMessageHash");
    reject_edit(dep, "AlgorithmIdentifier=\"2.16.840.1.101.3.4.2.1\"",
		"AlgorithmIdentifier=\"1.2.840.113549.2.5\"", "unknown Response AlgorithmIdentifier");
    reject_edit(dep, "DeliveryType=\"CertifiedMail\"", "DeliveryType=\"Registered\"",
		"DeliveryType must be CertifiedMail");
    reject_edit(dep, "Type=\"to\"", "Type=\"bcc\"", "bad Entity Type");
    reject_edit(dep, "EmailAddress=\"alice@example.org\"", "EmailAddress=\"alice\"",
		"bad Entity EmailAddress");
    reject_edit(dep, "RandomNumber=\"" RANDOM1 "\"", "RandomNumber=\"12a\"", "bad RandomNumber");
    reject_edit(dep, "EmailAddress=\"Bob@example.org\"", "EmailAddress=\"alice@EXAMPLE.org\"",
		"duplicate Entity alice@EXAMPLE.org");
    reject_edit(dep, "KeySize=\"256\"", "KeySize=\"-1\"", "bad KeySize");
    reject_edit(dep, "KeySize=\"256\"", "KeySize=\"256\" Colour=\"red\"",
		"unknown attribute Colour on CipherEnvelopeKey");
    reject_edit(dep, "<Entities>", "<Entities>text", "text not allowed in Entities");
    reject_edit(dep, "<Entities>", "<Entities><!-- c -->", "comment");
    reject_edit(dep, "</UncipheredEnvelopeHash><CipheredEnvelopeHash",
		"</UncipheredEnvelopeHash><X/><CipheredEnvelopeHash", "expected CipheredEnvelopeHash");
    dup = replace(dep, "<CipheredEnvelopeHash", "<Gone");
    reject_edit(dup, "</CipheredEnvelopeHash>", "</Gone>", "expected CipheredEnvelopeHash");
    free(dup);
    reject_edit(dep, "</SecretQuestion>", "<Response/></SecretQuestion>", "unexpected element Response");
    reject_edit(dep, CM_NS, "urn:other", "unknown root element");
    reject_edit(dep, "<SignedDepositNotice xmlns=", "<SignedDepositNotice Id=\"x\" xmlns=",
		"unknown attribute Id on SignedDepositNotice");
    /* a ds:Signature where Annex A has none */
    reject_edit(dep, "<Entities>", "<Entities>" FAKE_SIG, "unexpected element Signature in Entities");
    reject_edit(dep, "</DigitalPostmark>", FAKE_SIG "<MimeMessageHash/></DigitalPostmark>",
		"unexpected element MimeMessageHash in DigitalPostmark");
    /* a deposit notice has no EnvelopeInformation */
    dup = serial(CM_NOTICE_DEPOSIT);
    reject_edit(dup, "</DepositNotice>", "<EnvelopeInformation/></DepositNotice>",
		"unexpected element EnvelopeInformation in DepositNotice");
    free(dup);

    /* receipts: the Entity copy never carries the answer; the challenge repeats the number */
    reject_edit(rcpt, "Encoding=\"base64\"/></SecretQuestion><CipherEnvelopeKey",
		"Encoding=\"base64\">AAAA</Response></SecretQuestion><CipherEnvelopeKey",
		"receipt Entity Response must be empty");
    reject_edit(rcpt, "<EntityChallenge><SecretQuestion><Request RandomNumber=\"" RANDOM2 "\"/>",
		"<EntityChallenge><SecretQuestion><Request RandomNumber=\"1\"/>",
		"RandomNumber differs");
    reject_edit(rcpt, "<EntityChallenge>", "<EntityChallenge>" FAKE_SIG,
		"unexpected element Signature in EntityChallenge");
    free(dep);
    free(rcpt);
}

/* test_signatures - counted per place; duplicate Id invalid; at most CM_SIGNATURES_MAX */
static void test_signatures(void **state)
{
    char   *rcpt = serial(CM_NOTICE_RECEIPT);
    char   *sig2 = replace(FAKE_SIG, "cmail-sig-1", "cmail-sig-2");
    char   *sig3 = replace(FAKE_SIG, "cmail-sig-1", "cmail-sig-3");
    char   *a, *b, *many;
    char    err[512];
    xmlDocPtr doc;
    CM_NOTICE *n;
    size_t  i;

    /* 1 and 3 in DigitalPostmark, 2 in EntityChallenge: valid, counted */
    a = replace(rcpt, "</DigitalPostmark>", "SIG1SIG3</DigitalPostmark>");
    b = replace(a, "SIG1", FAKE_SIG);
    free(a);
    a = replace(b, "SIG3", sig3);
    free(b);
    b = replace(a, "</EntityChallenge>", "SIG2</EntityChallenge>");
    free(a);
    a = replace(b, "SIG2", sig2);
    free(b);
    doc = validate_text(a, strlen(a));
    n = cm_notice_parse(doc, err, sizeof(err));
    if (n == 0)
	fail_msg("three signatures refused: %s", err);
    assert_int_equal(n->sigs_postmark, 2);
    assert_int_equal(n->sigs_challenge, 1);
    assert_int_equal(n->sigs_envinfo, 0);
    cm_notice_free(n);
    xmlFreeDoc(doc);
    free(a);

    /* the same Id twice: the schema (xs:ID) refuses it */
    a = replace(rcpt, "</DigitalPostmark>", FAKE_SIG FAKE_SIG "</DigitalPostmark>");
    doc = cm_xml_parse(a, strlen(a), err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(cm_notice_validate(doc, err, sizeof(err)), -1);
    xmlFreeDoc(doc);
    free(a);

    /* CM_SIGNATURES_MAX + 1 */
    many = malloc(strlen(rcpt) + (CM_SIGNATURES_MAX + 1) * strlen(FAKE_SIG) + 1);
    assert_non_null(many);
    a = strstr(rcpt, "</DigitalPostmark>");
    memcpy(many, rcpt, (size_t) (a - rcpt));
    many[a - rcpt] = 0;
    for (i = 0; i < CM_SIGNATURES_MAX + 1; i++)
	strcat(many, FAKE_SIG);
    strcat(many, a);
    rejects(many, "more than 8 signatures");
    free(many);
    free(sig2);
    free(sig3);
    free(rcpt);
}

/* test_entities_max - CM_ENTITIES_MAX + 1 entities refused */
static void test_entities_max(void **state)
{
    char   *dep = serial(CM_NOTICE_SIGNED_DEPOSIT);
    const char *a = strstr(dep, "<Entity ");
    const char *b = strstr(dep, "</Entities>");
    const char *addr = "EmailAddress=\"alice@example.org\"";
    size_t  one = (size_t) (strstr(a, "</Entity>") + strlen("</Entity>") - a);
    size_t  len = (size_t) (a - dep) + (one + 16) * (CM_ENTITIES_MAX + 1) + strlen(b) + 1;
    char   *xml = malloc(len);
    char   *cp = xml;
    const char *at = strstr(a, addr);
    char    err[256];
    CM_NOTICE *n;
    int     i;

    assert_non_null(xml);
    assert_true(at != 0 && at < a + one);
    memcpy(cp, dep, (size_t) (a - dep));
    cp += a - dep;
    for (i = 0; i < CM_ENTITIES_MAX + 1; i++) {
	memcpy(cp, a, (size_t) (at - a));
	cp += at - a;
	cp += sprintf(cp, "EmailAddress=\"u%d@example.org\"", i);
	memcpy(cp, at + strlen(addr), one - (size_t) (at + strlen(addr) - a));
	cp += one - (size_t) (at + strlen(addr) - a);
    }
    strcpy(cp, b);
    rejects(xml, "more than 1000 Entity");
    /* exactly the maximum passes */
    cp = strstr(xml, "<Entity EmailAddress=\"u1000@");
    assert_non_null(cp);
    memmove(cp, strstr(cp, "</Entities>"), strlen(b) + 1);
    n = cm_notice_read(xml, strlen(xml), 0, err, sizeof(err));
    if (n == 0)
	fail_msg("1000 entities refused: %s", err);
    assert_int_equal(n->entity_count, CM_ENTITIES_MAX);
    assert_string_equal(n->entities[999].address, "u999@example.org");
    cm_notice_free(n);
    free(xml);
    free(dep);
}

/* test_encoding_case - `Encoding` and `encoding` both read; schema's emitted */
static void test_encoding_case(void **state)
{
    char   *dep = serial(CM_NOTICE_SIGNED_DEPOSIT);
    char   *a, *b;
    char    err[512];
    xmlDocPtr doc;
    CM_NOTICE *n;
    char   *out;

    /* the schema's spelling is emitted */
    assert_non_null(strstr(dep, "<Certificate encoding=\"base64\">"));
    assert_non_null(strstr(dep, "Encoding=\"base64\" KeySize"));
    /* swap both spellings */
    a = replace(dep, "<Certificate encoding=\"base64\">", "<Certificate Encoding=\"base64\">");
    b = replace(a, "Encoding=\"base64\" KeySize", "encoding=\"base64\" KeySize");
    doc = validate_text(b, strlen(b));
    n = cm_notice_parse(doc, err, sizeof(err));
    if (n == 0)
	fail_msg("other spelling refused: %s", err);
    assert_string_equal(n->entities[0].cert_encoding, "base64");
    assert_string_equal(n->entities[0].key_encoding, "base64");
    xmlFreeDoc(doc);
    /* and the schema's spelling comes back out */
    doc = cm_notice_build(n, err, sizeof(err));
    out = cm_xml_serialize(doc, 0);
    assert_string_equal(out, dep);
    free(out);
    xmlFreeDoc(doc);
    cm_notice_free(n);
    free(b);
    /* a certificate in 64-column lines is read without the line breaks */
    b = replace(dep, "<Certificate encoding=\"base64\">AQ4b", "<Certificate encoding=\"base64\">\n AQ4b\r\n");
    n = cm_notice_read(b, strlen(b), 0, err, sizeof(err));
    if (n == 0)
	fail_msg("wrapped certificate refused: %s", err);
    assert_null(strpbrk(n->entities[0].certificate, " \r\n"));
    assert_memory_equal(n->entities[0].certificate, "AQ4b", 4);
    cm_notice_free(n);
    free(b);
    /* Response@encoding (lower case) is read as well */
    b = replace(dep, "<Response AlgorithmIdentifier=\"2.16.840.1.101.3.4.2.1\" Encoding=",
		"<Response AlgorithmIdentifier=\"2.16.840.1.101.3.4.2.1\" encoding=");
    doc = validate_text(b, strlen(b));
    n = cm_notice_parse(doc, err, sizeof(err));
    assert_non_null(n);
    assert_string_equal(n->entities[1].question.response_encoding, "base64");
    cm_notice_free(n);
    xmlFreeDoc(doc);
    free(b);
    /* not both on one element */
    b = replace(a, "<Certificate Encoding=\"base64\">", "<Certificate Encoding=\"base64\" encoding=\"b\">");
    rejects(b, "both encoding and Encoding on Certificate");
    free(b);
    free(a);
    free(dep);
}

/* test_build_checks - the builder refuses what the parser would */
static void test_build_checks(void **state)
{
    CM_NOTICE *m;
    char    err[256];

    m = model_of(CM_NOTICE_SIGNED_DEPOSIT);
    assert_int_equal(cm_notice_set_str(&m->envelope_id, "bad id"), 0);
    assert_null(cm_notice_build(m, err, sizeof(err)));
    assert_non_null(strstr(err, "bad EnvelopeId"));
    cm_notice_free(m);

    m = model_of(CM_NOTICE_RECEIPT);
    assert_int_equal(cm_notice_set_str(&m->entities[0].question.response, "AAAA"), 0);
    assert_null(cm_notice_build(m, err, sizeof(err)));
    assert_non_null(strstr(err, "Entity Response must be empty"));
    cm_notice_free(m);

    m = cm_notice_new(CM_NOTICE_DEPOSIT);
    assert_int_equal(cm_notice_set_str(&m->envelope_id, "e1"), 0);
    assert_null(cm_notice_build(m, err, sizeof(err)));
    assert_non_null(strstr(err, "MimeMessageHash"));
    cm_notice_free(m);

    m = model_of(CM_NOTICE_SIGNED_TRANSIT);
    free(m->entities[1].certificate);
    m->entities[1].certificate = 0;
    assert_null(cm_notice_build(m, err, sizeof(err)));
    assert_non_null(strstr(err, "Certificate"));
    cm_notice_free(m);
    assert_null(cm_notice_build(0, err, sizeof(err)));
}

/* test_receipt_model - the server's copy for one recipient */
static void test_receipt_model(void **state)
{
    CM_NOTICE *dep = model_of(CM_NOTICE_SIGNED_DEPOSIT);
    CM_NOTICE *r;
    char    err[256];

    r = cm_notice_receipt_model(dep, "alice@Example.ORG", err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(r->type, CM_NOTICE_RECEIPT);
    assert_int_equal(r->entity_count, 1);
    assert_string_equal(r->entities[0].address, "alice@example.org");
    assert_string_equal(r->entities[0].question.response, "");
    assert_string_equal(r->challenge.random_number, RANDOM1);
    assert_string_equal(r->challenge.response_alg, CM_HASH_OID_SHA256);
    assert_string_equal(r->challenge.response, "");
    assert_string_equal(r->content.ciphered.value, dep->content.ciphered.value);
    cm_notice_free(r);
    /* local parts compare exactly */
    assert_null(cm_notice_receipt_model(dep, "Alice@example.org", err, sizeof(err)));
    assert_null(cm_notice_receipt_model(dep, "carol@example.org", err, sizeof(err)));
    assert_non_null(strstr(err, "carol@example.org"));
    dep->type = CM_NOTICE_DEPOSIT;
    assert_null(cm_notice_receipt_model(dep, "alice@example.org", err, sizeof(err)));
    cm_notice_free(dep);
}


 /*
  * NonDeliveryNotice (Cmail extension).
  */

#define ND_TIME		((time_t) 1795000000)	/* 2026-11-18T11:06:40Z */
#define ND_STAMP	"2026-11-18T11:06:40Z"
#define ND_REASON	"b.test said 550 5.1.1 <bob@b.test> & more: caf\xc3\xa9"

/* nd_serial - a serialised NonDeliveryNotice for alice and Bob */
static char *nd_serial(void)
{
    CM_NOTICE *dep = model_of(CM_NOTICE_SIGNED_DEPOSIT);
    char   *rcpts[] = {"alice@example.org", "Bob@example.org"};
    char    err[256];
    xmlDocPtr doc;
    char   *xml;
    size_t  len;

    doc = cm_notice_nondelivery_build(dep, rcpts, 2, ND_REASON, ND_TIME, err, sizeof(err));
    if (doc == 0)
	fail_msg("nondelivery build: %s", err);
    xml = cm_xml_serialize(doc, &len);
    assert_non_null(xml);
    xmlFreeDoc(doc);
    cm_notice_free(dep);
    return (xml);
}

/* test_nondelivery_roundtrip - build, validate, parse, rebuild */
static void test_nondelivery_roundtrip(void **state)
{
    CM_NOTICE *dep = model_of(CM_NOTICE_SIGNED_DEPOSIT);
    CM_NOTICE *back;
    xmlDocPtr doc, doc2;
    char   *xml = nd_serial();
    char   *xml2;
    size_t  len2;
    char    err[512];
    const char *xsd;

    (void) state;
    assert_non_null(strstr(xml, "<NonDeliveryNotice xmlns=\"" CM_NS_EXT "\" xmlns:c=\"" CM_NS "\">"
			   "<c:DigitalPostmark EnvelopeId=\"" ENVID "\""));
    assert_non_null(strstr(xml, "<UndeliveredRecipients><Recipient EmailAddress=\"alice@example.org\"/>"
			   "<Recipient EmailAddress=\"Bob@example.org\"/></UndeliveredRecipients>"));
    assert_non_null(strstr(xml, "&lt;bob@b.test&gt; &amp; more"));
    assert_non_null(strstr(xml, "<Time>" ND_STAMP "</Time></NonDeliveryNotice>"));
    doc = validate_text(xml, strlen(xml));
    no_blank_text(xmlDocGetRootElement(doc));
    assert_int_equal(cm_notice_type_of(doc), CM_NOTICE_NONDELIVERY);
    xsd = cm_notice_schema_path(CM_NOTICE_NONDELIVERY);
    assert_non_null(strstr(xsd, "/cmail-extensions.xsd"));
    assert_non_null(strstr(cm_notice_schema_path(CM_NOTICE_DEPOSIT), "/x1341-notices.xsd"));
    /* the X.1341 schema alone does not know the extension */
    assert_int_not_equal(cm_xml_validate(doc, cm_schema_path(), err, sizeof(err)), 0);
    back = cm_notice_parse(doc, err, sizeof(err));
    if (back == 0)
	fail_msg("parse: %s", err);
    assert_int_equal(back->type, CM_NOTICE_NONDELIVERY);
    assert_string_equal(back->envelope_id, ENVID);
    assert_int_equal(back->mime_hash_count, dep->mime_hash_count);
    assert_string_equal(back->mime_hashes[1].value, dep->mime_hashes[1].value);
    assert_int_equal(back->mime_hashes[1].alg, CM_HASH_SHA1);
    assert_int_equal(back->recipient_count, 2);
    assert_string_equal(back->recipients[0], "alice@example.org");
    assert_string_equal(back->recipients[1], "Bob@example.org");
    assert_string_equal(back->reason, ND_REASON);
    assert_string_equal(back->time, ND_STAMP);
    assert_int_equal(back->entity_count, 0);
    assert_int_equal(back->sigs_postmark, 0);
    doc2 = cm_notice_build(back, err, sizeof(err));
    assert_non_null(doc2);
    xml2 = cm_xml_serialize(doc2, &len2);
    assert_string_equal(xml, xml2);
    /* signing-flow lookups and edits */
    assert_non_null(cm_notice_find(doc2, CM_PART_POSTMARK));
    assert_null(cm_notice_find(doc2, CM_PART_ENVINFO));
    assert_null(cm_notice_find(doc2, CM_PART_CHALLENGE));
    assert_int_equal(cm_notice_promote(doc2, dep, err, sizeof(err)), -1);
    assert_int_equal(cm_notice_set_response(doc2, "AAAA", err, sizeof(err)), -1);
    free(xml2);
    xmlFreeDoc(doc2);
    cm_notice_free(back);
    xmlFreeDoc(doc);
    cm_notice_free(dep);
    free(xml);
}

/* test_nondelivery_model - argument checks and the sanitised reason */
static void test_nondelivery_model(void **state)
{
    CM_NOTICE *dep = model_of(CM_NOTICE_SIGNED_DEPOSIT);
    CM_NOTICE *n;
    char   *one[] = {"bob@b.test"};
    char   *dup[] = {"bob@b.test", "bob@B.TEST"};
    char   *bad[] = {"bob@b.test", "eve@b.test\r\nX: y"};
    char   *unq[] = {"<bob@b.test>"};
    char   *null[] = {0};
    char    err[256];
    char    longr[3000];
    time_t  now = time(0);
    struct tm tm;
    char    stamp[32];
    size_t  i;

    (void) state;
    /* no deposit, no recipients, bad or duplicate recipients */
    assert_null(cm_notice_nondelivery_model(0, one, 1, "x", ND_TIME, err, sizeof(err)));
    assert_null(cm_notice_nondelivery_model(dep, one, 0, "x", ND_TIME, err, sizeof(err)));
    assert_null(cm_notice_nondelivery_model(dep, 0, 1, "x", ND_TIME, err, sizeof(err)));
    assert_null(cm_notice_nondelivery_model(dep, one, CM_ENTITIES_MAX + 1, "x", ND_TIME, err,
					    sizeof(err)));
    assert_null(cm_notice_nondelivery_model(dep, dup, 2, "x", ND_TIME, err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate Recipient"));
    assert_null(cm_notice_nondelivery_model(dep, bad, 2, "x", ND_TIME, err, sizeof(err)));
    assert_non_null(strstr(err, "bad recipient"));
    assert_null(cm_notice_nondelivery_model(dep, unq, 1, "x", ND_TIME, err, sizeof(err)));
    assert_null(cm_notice_nondelivery_model(dep, null, 1, "x", ND_TIME, err, sizeof(err)));
    /* reason: controls become spaces, bad UTF-8 '?', C1 controls '?' */
    n = cm_notice_nondelivery_model(dep, one, 1, "a\r\nb\tc\x01" "d\xff" "e\xc2\x85" "f",
				    ND_TIME, err, sizeof(err));
    assert_non_null(n);
    assert_string_equal(n->reason, "a  b c d?e??f");
    assert_string_equal(n->time, ND_STAMP);
    cm_notice_free(n);
    /* NULL and "" give a default; 0 is now */
    n = cm_notice_nondelivery_model(dep, one, 1, 0, 0, err, sizeof(err));
    assert_non_null(n);
    assert_string_equal(n->reason, "undeliverable");
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT", &tm);
    assert_memory_equal(n->time, stamp, strlen(stamp));
    cm_notice_free(n);
    /* a long reason is cut to CM_NOTICE_REASON_MAX bytes, not inside a character */
    for (i = 0; i + 2 < sizeof(longr); i += 2)
	memcpy(longr + i, "\xc3\xa9", 2);
    longr[i] = 0;
    memmove(longr + 1, longr, strlen(longr) + 1);
    longr[0] = 'x';
    n = cm_notice_nondelivery_model(dep, one, 1, longr, ND_TIME, err, sizeof(err));
    assert_non_null(n);
    assert_int_equal(strlen(n->reason), CM_NOTICE_REASON_MAX - 1);
    assert_true(xmlCheckUTF8((const unsigned char *) n->reason));
    /* cm_notice_build checks a hand-made model as strictly */
    assert_int_equal(cm_notice_set_str(&n->reason, "bad\ttab"), 0);
    assert_null(cm_notice_build(n, err, sizeof(err)));
    assert_non_null(strstr(err, "Reason"));
    assert_int_equal(cm_notice_set_str(&n->reason, "ok"), 0);
    assert_int_equal(cm_notice_set_str(&n->time, "2026-11-18T11:06:40+01:00"), 0);
    assert_null(cm_notice_build(n, err, sizeof(err)));
    assert_non_null(strstr(err, "Time"));
    assert_int_equal(cm_notice_set_str(&n->time, "2026-13-18T11:06:40Z"), 0);
    assert_null(cm_notice_build(n, err, sizeof(err)));
    assert_int_equal(cm_notice_set_str(&n->time, ND_STAMP), 0);
    n->recipient_count = 0;
    assert_null(cm_notice_build(n, err, sizeof(err)));
    assert_non_null(strstr(err, "UndeliveredRecipients"));
    n->recipient_count = 1;
    assert_int_equal(cm_notice_add_recipient(n, "carol@example.org"), 0);
    {
	xmlDocPtr doc = cm_notice_build(n, err, sizeof(err));

	assert_non_null(doc);
	xmlFreeDoc(doc);
    }
    cm_notice_free(n);
    cm_notice_free(dep);
}

/* test_nondelivery_strict - the parser refuses what the schema refuses */
static void test_nondelivery_strict(void **state)
{
    char   *nd = nd_serial();
    char   *sig;
    char   *at;
    char    err[256];
    CM_NOTICE *n;
    xmlDocPtr doc;

    (void) state;
    n = cm_notice_read(nd, strlen(nd), 0, err, sizeof(err));
    assert_non_null(n);
    cm_notice_free(n);
    /* the right name in the wrong namespace, and the reverse */
    reject_edit(nd, "xmlns=\"" CM_NS_EXT "\"", "xmlns=\"" CM_NS "\"", "unknown root");
    reject_edit(nd, "<NonDeliveryNotice xmlns=\"" CM_NS_EXT "\" xmlns:c=\"" CM_NS "\">",
		"<NonDeliveryNotice xmlns=\"urn:x-cmail:notices:extension:2\" xmlns:c=\"" CM_NS "\">",
		"unknown root");
    /* the postmark must be X.1341's */
    reject_edit(nd, "xmlns:c=\"" CM_NS "\"", "xmlns:c=\"" CM_NS_EXT "\"", "DigitalPostmark");
    /* order, presence, unknown elements and attributes */
    reject_edit(nd, "<Reason>", "<Bogus/><Reason>", "unexpected element Bogus");
    reject_edit(nd, "<Time>" ND_STAMP "</Time>", "", "missing Time");
    reject_edit(nd, "<Recipient EmailAddress=\"alice@example.org\"/>",
		"<Recipient EmailAddress=\"alice@example.org\" Type=\"to\"/>", "unknown attribute");
    reject_edit(nd, "<Recipient EmailAddress=\"alice@example.org\"/>",
		"<Recipient EmailAddress=\"alice@example.org\">x</Recipient>", "text not allowed");
    reject_edit(nd, "<Recipient EmailAddress=\"alice@example.org\"/>"
		"<Recipient EmailAddress=\"Bob@example.org\"/>", "", "missing Recipient");
    reject_edit(nd, "alice@example.org", "Bob@EXAMPLE.ORG", "duplicate Recipient");
    reject_edit(nd, "alice@example.org", "alice", "bad Recipient");
    reject_edit(nd, "</Time>", "</Time><Time>" ND_STAMP "</Time>", "unexpected element Time");
    reject_edit(nd, ND_STAMP, "2026-11-18 11:06:40Z", "bad Time");
    reject_edit(nd, ND_STAMP, "2026-02-18T24:06:40Z", "bad Time");
    reject_edit(nd, ND_STAMP, "2026-02-29T11:06:40Z", "bad Time");
    reject_edit(nd, ND_STAMP, "2100-02-29T11:06:40Z", "bad Time");
    reject_edit(nd, ND_STAMP, "2026-04-31T11:06:40Z", "bad Time");
    {
	/* 2028 and 2000 are leap years; the schema agrees */
	char   *leap = replace(nd, ND_STAMP, "2028-02-29T23:59:59Z");
	char   *y2k = replace(nd, ND_STAMP, "2000-02-29T00:00:00Z");
	xmlDocPtr d;

	n = cm_notice_read(leap, strlen(leap), &d, err, sizeof(err));
	assert_non_null(n);
	assert_int_equal(cm_notice_validate(d, err, sizeof(err)), 0);
	cm_notice_free(n);
	xmlFreeDoc(d);
	n = cm_notice_read(y2k, strlen(y2k), &d, err, sizeof(err));
	assert_non_null(n);
	cm_notice_free(n);
	xmlFreeDoc(d);
	free(leap);
	free(y2k);
    }
    reject_edit(nd, "<Reason>", "<Reason>x&#1;", "");
    reject_edit(nd, "<Reason>", "<Reason>line&#10;", "bad Reason");
    reject_edit(nd, "<Reason>", "<Reason><b>x</b>", "text only");
    reject_edit(nd, "<Time>", "<!-- c --><Time>", "comment");
    reject_edit(nd, "<c:MimeMessageHash", "<c:Signature/><c:MimeMessageHash",
		"missing MimeMessageHash");
    /* CM_ENTITIES_MAX recipients are accepted, one more is refused */
    {
	size_t  cap = strlen(nd) + (CM_ENTITIES_MAX + 2) * 48;
	char   *many = malloc(cap);
	char   *end = strstr(nd, "</UndeliveredRecipients>");
	size_t  off;
	int     k;
	int     count;

	assert_non_null(many);
	at = strstr(nd, "<Recipient ");
	assert_non_null(at);
	assert_non_null(end);
	for (count = CM_ENTITIES_MAX; count <= CM_ENTITIES_MAX + 1; count++) {
	    off = (size_t) (at - nd);
	    memcpy(many, nd, off);
	    for (k = 0; k < count; k++)
		off += (size_t) snprintf(many + off, cap - off,
					 "<Recipient EmailAddress=\"u%d@example.org\"/>", k);
	    snprintf(many + off, cap - off, "%s", end);
	    if (count == CM_ENTITIES_MAX) {
		n = cm_notice_read(many, strlen(many), 0, err, sizeof(err));
		if (n == 0)
		    fail_msg("%d recipients: %s", count, err);
		assert_int_equal(n->recipient_count, CM_ENTITIES_MAX);
		cm_notice_free(n);
	    } else
		rejects(many, "more than 1000 Recipient");
	}
	free(many);
    }
    /* a signature in the postmark is counted, not parsed */
    at = strstr(nd, "</c:DigitalPostmark>");
    assert_non_null(at);
    sig = malloc(strlen(nd) + sizeof(FAKE_SIG) + 1);
    assert_non_null(sig);
    memcpy(sig, nd, (size_t) (at - nd));
    strcpy(sig + (at - nd), FAKE_SIG);
    strcat(sig, at);
    n = cm_notice_read(sig, strlen(sig), &doc, err, sizeof(err));
    if (n == 0)
	fail_msg("signed: %s", err);
    assert_int_equal(n->sigs_postmark, 1);
    cm_notice_free(n);
    xmlFreeDoc(doc);
    free(sig);
    free(nd);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_roundtrip),
	cmocka_unit_test(test_names),
	cmocka_unit_test(test_promote),
	cmocka_unit_test(test_set_response),
	cmocka_unit_test(test_find),
	cmocka_unit_test(test_strict),
	cmocka_unit_test(test_signatures),
	cmocka_unit_test(test_entities_max),
	cmocka_unit_test(test_encoding_case),
	cmocka_unit_test(test_build_checks),
	cmocka_unit_test(test_receipt_model),
	cmocka_unit_test(test_nondelivery_roundtrip),
	cmocka_unit_test(test_nondelivery_model),
	cmocka_unit_test(test_nondelivery_strict),
    };

    if (cm_xml_init() != 0) {
	fprintf(stderr, "cm_xml_init failed\n");
	return (1);
    }
    return (cmocka_run_group_tests(tests, 0, 0));
}
