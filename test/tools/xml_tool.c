/*++
 * NAME
 *	xml_tool 1
 * SUMMARY
 *	test-only command line over cm_xml and cm_notice
 * SYNOPSIS
 *	xml_tool build TYPE OUT
 *	xml_tool promote IN OUT
 *	xml_tool parse FILE
 *	xml_tool check FILE
 * DESCRIPTION
 *	Lets shell tests feed files to the hardened parser and have notices
 *	built by the project's own code checked by xmllint. Not installed.
 *
 *	build writes a sample notice of TYPE (a root element name:
 *	DepositNotice, SignedDepositNotice, TransitNotice,
 *	SignedTransitNotice, ReceiptNotice, SignedReceiptNotice) to OUT.
 *	promote renames the root of the DepositNotice or TransitNotice IN
 *	(as built here) and appends the sample EnvelopeInformation, or
 *	renames a ReceiptNotice. parse runs cm_xml_parse() only; check runs
 *	cm_xml_parse(), cm_notice_parse() and cm_notice_validate().
 * DIAGNOSTICS
 *	One line on stdout: "VALID TYPE" or "INVALID: reason". Exit status
 *	0 valid, 1 invalid, 2 usage or I/O error.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_notice.h"
#include "cm_xml.h"

#define FILE_MAX	(64 * 1024 * 1024)	/* more than any hostile test file */

/* usage - print the synopsis, exit 2 */
static void usage(void)
{
    fprintf(stderr, "usage: xml_tool build TYPE OUT | promote IN OUT | parse FILE | check FILE\n");
    exit(2);
}

/* read_file - the whole file, at most FILE_MAX bytes */
static char *read_file(const char *path, size_t *len)
{
    FILE   *fp = fopen(path, "rb");
    char   *buf;
    size_t  n;

    if (fp == 0 || (buf = malloc(FILE_MAX)) == 0) {
	fprintf(stderr, "xml_tool: cannot read %s\n", path);
	exit(2);
    }
    n = fread(buf, 1, FILE_MAX, fp);
    fclose(fp);
    *len = n;
    return (buf);
}

/* write_doc - serialise doc to path */
static void write_doc(xmlDocPtr doc, const char *path)
{
    size_t  len;
    char   *xml = cm_xml_serialize(doc, &len);
    FILE   *fp = fopen(path, "wb");

    if (xml == 0 || fp == 0 || fwrite(xml, 1, len, fp) != len || fclose(fp) != 0) {
	fprintf(stderr, "xml_tool: cannot write %s\n", path);
	exit(2);
    }
    free(xml);
}

/* sample_entity - a plausible Entity */
static void sample_entity(CM_NOTICE_ENTITY *e, const char *addr, CM_ENTITY_TYPE type,
			          const char *random)
{
    unsigned char bytes[300];
    size_t  i;

    for (i = 0; i < sizeof(bytes); i++)
	bytes[i] = (unsigned char) (i * 31 + 7);
    e->type = type;
    cm_notice_set_str(&e->address, addr);
    cm_notice_set_str(&e->question.random_number, random);
    cm_notice_set_str(&e->question.response_alg, CM_HASH_OID_SHA256);
    e->question.response = cm_hash_b64(CM_HASH_SHA256, addr, strlen(addr));
    cm_notice_set_str(&e->key_algorithm, "AES-256-GCM");
    cm_notice_set_str(&e->key_wrap, "RSA-OAEP");
    cm_notice_set_str(&e->key_encoding, "base64");
    e->key_size = 256;
    e->wrapped_key = cm_base64_encode(bytes, 256, 0);
    cm_notice_set_str(&e->cert_encoding, "base64");
    e->certificate = cm_base64_encode(bytes, sizeof(bytes), 0);
}

/* sample - a model of any type */
static CM_NOTICE *sample(CM_NOTICE_TYPE type)
{
    CM_NOTICE *n = cm_notice_new(CM_NOTICE_SIGNED_DEPOSIT);
    CM_NOTICE *r;
    char   *h;
    char    err[256];

    if (n == 0)
	exit(2);
    cm_notice_set_str(&n->envelope_id, "1373360283931.test@example.org");
    h = cm_hash_b64(CM_HASH_SHA256, "mime", 4);
    cm_notice_add_mime_hash(n, CM_HASH_SHA256, h);
    free(h);
    cm_notice_set_str(&n->content.message_id, "<1@example.org>");
    n->content.unciphered.alg = n->content.ciphered.alg = CM_HASH_SHA256;
    n->content.unciphered.value = cm_hash_b64(CM_HASH_SHA256, "plain", 5);
    n->content.ciphered.value = cm_hash_b64(CM_HASH_SHA256, "cipher", 6);
    sample_entity(cm_notice_add_entity(n), "laura.prin@example.org", CM_ENTITY_TO,
		  "340282366920938463463374607431768211457");
    sample_entity(cm_notice_add_entity(n), "paul@example.org", CM_ENTITY_CC,
		  "123456789012345678901234567890123456789");
    if (type != CM_NOTICE_RECEIPT && type != CM_NOTICE_SIGNED_RECEIPT) {
	n->type = type;
	return (n);
    }
    if ((r = cm_notice_receipt_model(n, "laura.prin@example.org", err, sizeof(err))) == 0) {
	fprintf(stderr, "xml_tool: %s\n", err);
	exit(2);
    }
    cm_notice_free(n);
    r->type = type;
    if (type == CM_NOTICE_SIGNED_RECEIPT) {
	free(r->challenge.response);
	r->challenge.response = cm_hash_b64(CM_HASH_SHA256, "answer", 6);
    }
    return (r);
}

/* verdict - print the one-line result, return the exit status */
static int verdict(int ok, const char *what)
{
    printf("%s%s\n", ok ? "VALID " : "INVALID: ", what);
    return (ok ? 0 : 1);
}

int     main(int argc, char **argv)
{
    CM_NOTICE_TYPE type;
    CM_NOTICE *n;
    xmlDocPtr doc;
    char    err[512];
    char   *data;
    size_t  len;
    int     rc;

    if (argc < 3)
	usage();
    if (cm_xml_init() != 0) {
	fprintf(stderr, "xml_tool: cm_xml_init failed\n");
	return (2);
    }
    if (strcmp(argv[1], "build") == 0 && argc == 4) {
	if ((type = cm_notice_type_from_name(argv[2])) == CM_NOTICE_UNKNOWN)
	    usage();
	n = sample(type);
	if ((doc = cm_notice_build(n, err, sizeof(err))) == 0) {
	    fprintf(stderr, "xml_tool: %s\n", err);
	    return (2);
	}
	write_doc(doc, argv[3]);
	xmlFreeDoc(doc);
	cm_notice_free(n);
	return (0);
    }
    if (strcmp(argv[1], "promote") == 0 && argc == 4) {
	data = read_file(argv[2], &len);
	doc = cm_xml_parse(data, len, err, sizeof(err));
	free(data);
	if (doc == 0)
	    return (verdict(0, err));
	n = sample(cm_notice_signed_type(cm_notice_type_of(doc)));
	rc = cm_notice_promote(doc, n, err, sizeof(err));
	cm_notice_free(n);
	if (rc != 0) {
	    xmlFreeDoc(doc);
	    return (verdict(0, err));
	}
	write_doc(doc, argv[3]);
	xmlFreeDoc(doc);
	return (0);
    }
    if ((strcmp(argv[1], "parse") == 0 || strcmp(argv[1], "check") == 0) && argc == 3) {
	data = read_file(argv[2], &len);
	doc = cm_xml_parse(data, len, err, sizeof(err));
	free(data);
	if (doc == 0)
	    return (verdict(0, err));
	if (strcmp(argv[1], "parse") == 0) {
	    rc = verdict(1, "XML");
	} else if ((n = cm_notice_parse(doc, err, sizeof(err))) == 0) {
	    rc = verdict(0, err);
	} else {
	    type = n->type;
	    cm_notice_free(n);
	    rc = cm_notice_validate(doc, err, sizeof(err)) == 0 ?
		verdict(1, cm_notice_type_name(type)) : verdict(0, err);
	}
	xmlFreeDoc(doc);
	return (rc);
    }
    usage();
    return (2);
}
