/*++
 * NAME
 *	notice_tool 1
 * SUMMARY
 *	test-only command line over cm_notice and cm_dsig
 * SYNOPSIS
 *	notice_tool build deposit|transit OUT [--envelope-id ID]
 *	notice_tool build receipt OUT --to ADDR --cert FILE [--envelope-id ID]
 *	notice_tool promote IN OUT [--from ADDR --cert FILE]
 *		[--to ADDR --cert FILE]... [--cc ADDR --cert FILE]...
 *	notice_tool respond IN OUT --answer BASE64
 *	notice_tool sign IN OUT --key FILE --cert FILE [--chain FILE]
 *		--place postmark|info|challenge
 *	notice_tool verify IN [--ca FILE [--crl FILE|DIR]]
 *	notice_tool nondelivery IN OUT --rcpt ADDR... [--reason TEXT]
 *		[--time EPOCH]
 *	notice_tool mail OUT --mail-from ADDR --mail-to ADDR
 *		[--subject TEXT] [--summary TEXT] [--envelope-id ID]
 *		[--attach NAME=FILE]...
 * DESCRIPTION
 *	Lets shell tests make every notice type with the project's own code
 *	(cm_notice builds and promotes, cm_dsig signs), so that independent
 *	tools (xmllint, xmlsec1) can check the result. Not installed.
 *
 *	build makes an unsigned DepositNotice, TransitNotice or (for the
 *	recipient --to with certificate --cert) ReceiptNotice with fixed
 *	test hashes. promote renames the root; for deposit and transit it
 *	adds an EnvelopeInformation with the given entities (each --cert
 *	belongs to the --from/--to/--cc before it). respond fills the
 *	receipt's EntityChallenge Response. sign adds the next signature in
 *	the given place. verify prints cm_dsig_verify()'s report.
 *	nondelivery builds the unsigned NonDeliveryNotice of the notice IN
 *	(cm_notice_nondelivery_build()); sign it at postmark. mail writes a
 *	notice mail (cm_noticemail_write()) with the given attachments.
 *	Exit status 0 on success, 1 on failure, 2 on a usage error.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cm_log.h"
#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_pem.h"
#include "cm_xml.h"
#include "cm_cert.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_noticemail.h"

#define ENT_MAX		CM_ENTITIES_MAX
#define RANDOM_NUMBER	"318008912735610957249108831257723401652"

typedef struct {
    const char *addr;
    const char *cert;
    CM_ENTITY_TYPE type;
} ENT_ARG;

typedef struct {
    const char *envelope_id;
    const char *key;
    const char *cert;
    const char *chain;
    const char *place;
    const char *answer;
    const char *ca;
    const char *crl;
    ENT_ARG ents[ENT_MAX];
    int     n_ents;
    char   *rcpts[ENT_MAX];
    int     n_rcpts;
    const char *reason;
    const char *time;
    const char *mail_from;
    const char *mail_to;
    const char *subject;
    const char *summary;
    const char *attach[CM_NOTICEMAIL_ATTACH_MAX + 1];
    int     n_attach;
} ARGS;

/* usage - complain and exit 2 */
static void usage(const char *why)
{
    fprintf(stderr, "notice_tool: %s\n"
	    "usage: notice_tool build deposit|transit|receipt OUT [--envelope-id ID] "
	    "[--to ADDR --cert FILE]\n"
	    "       notice_tool promote IN OUT [--from|--to|--cc ADDR --cert FILE]...\n"
	    "       notice_tool respond IN OUT --answer B64\n"
	    "       notice_tool sign IN OUT --key K --cert C [--chain F] "
	    "--place postmark|info|challenge\n"
	    "       notice_tool verify IN [--ca FILE [--crl FILE|DIR]]\n"
	    "       notice_tool nondelivery IN OUT --rcpt ADDR... [--reason T] [--time EPOCH]\n"
	    "       notice_tool mail OUT --mail-from A --mail-to A [--subject T] [--summary T]\n"
	    "               [--envelope-id ID] [--attach NAME=FILE]...\n", why);
    exit(2);
}

/* parse_args - options after the positional arguments */
static void parse_args(int argc, char **argv, ARGS *a)
{
    int     i;

    memset(a, 0, sizeof(*a));
    for (i = 0; i < argc; i++) {
	const char *opt = argv[i];

	if (i + 1 >= argc)
	    usage("option without a value");
	if (strcmp(opt, "--envelope-id") == 0)
	    a->envelope_id = argv[++i];
	else if (strcmp(opt, "--key") == 0)
	    a->key = argv[++i];
	else if (strcmp(opt, "--chain") == 0)
	    a->chain = argv[++i];
	else if (strcmp(opt, "--place") == 0)
	    a->place = argv[++i];
	else if (strcmp(opt, "--answer") == 0)
	    a->answer = argv[++i];
	else if (strcmp(opt, "--ca") == 0)
	    a->ca = argv[++i];
	else if (strcmp(opt, "--crl") == 0)
	    a->crl = argv[++i];
	else if (strcmp(opt, "--rcpt") == 0) {
	    if (a->n_rcpts >= ENT_MAX)
		usage("too many --rcpt");
	    a->rcpts[a->n_rcpts++] = argv[++i];
	} else if (strcmp(opt, "--reason") == 0)
	    a->reason = argv[++i];
	else if (strcmp(opt, "--time") == 0)
	    a->time = argv[++i];
	else if (strcmp(opt, "--mail-from") == 0)
	    a->mail_from = argv[++i];
	else if (strcmp(opt, "--mail-to") == 0)
	    a->mail_to = argv[++i];
	else if (strcmp(opt, "--subject") == 0)
	    a->subject = argv[++i];
	else if (strcmp(opt, "--summary") == 0)
	    a->summary = argv[++i];
	else if (strcmp(opt, "--attach") == 0) {
	    if (a->n_attach > CM_NOTICEMAIL_ATTACH_MAX)
		usage("too many --attach");
	    a->attach[a->n_attach++] = argv[++i];
	}
	else if (strcmp(opt, "--from") == 0 || strcmp(opt, "--to") == 0 || strcmp(opt, "--cc") == 0) {
	    if (a->n_ents >= ENT_MAX)
		usage("too many entities");
	    a->ents[a->n_ents].type = opt[2] == 'f' ? CM_ENTITY_FROM
		: opt[2] == 't' ? CM_ENTITY_TO : CM_ENTITY_CC;
	    a->ents[a->n_ents++].addr = argv[++i];
	} else if (strcmp(opt, "--cert") == 0) {
	    if (a->n_ents > 0 && a->ents[a->n_ents - 1].cert == 0)
		a->ents[a->n_ents - 1].cert = argv[++i];
	    else
		a->cert = argv[++i];
	} else
	    usage("unknown option");
    }
}

/* b64_of - base64 text of a SHA-256 digest of a label (test values) */
static char *b64_of(const char *label)
{
    char   *s = cm_hash_b64(CM_HASH_SHA256, label, strlen(label));

    if (s == 0)
	msg_fatal("out of memory");
    return (s);
}

/* set - cm_notice_set_str() or die */
static void set(char **field, const char *value)
{
    if (cm_notice_set_str(field, value) < 0)
	msg_fatal("out of memory");
}

/* set_content - Content/BodyEnvelopeInformation test values */
static void set_content(CM_NOTICE *n)
{
    char   *u = b64_of("unciphered envelope");
    char   *c = b64_of("ciphered envelope");

    set(&n->content.message_id, "<test.1@example.org>");
    n->content.unciphered.alg = CM_HASH_SHA256;
    n->content.ciphered.alg = CM_HASH_SHA256;
    set(&n->content.unciphered.value, u);
    set(&n->content.ciphered.value, c);
    free(u);
    free(c);
}

/* add_entities - one Entity per --from/--to/--cc */
static void add_entities(CM_NOTICE *n, const ARGS *a)
{
    CM_NOTICE_ENTITY *e;
    unsigned char key[256];
    char    err[256];
    char   *b64;
    X509   *cert;
    int     i;

    for (i = 0; i < a->n_ents; i++) {
	if (a->ents[i].cert == 0)
	    usage("each --from/--to/--cc needs a --cert");
	if ((cert = cm_pem_read_cert(a->ents[i].cert, err, sizeof(err))) == 0)
	    msg_fatal("%s", err);
	if ((e = cm_notice_add_entity(n)) == 0)
	    msg_fatal("cannot add an entity");
	e->type = a->ents[i].type;
	set(&e->address, a->ents[i].addr);
	set(&e->question.random_number, RANDOM_NUMBER);
	set(&e->question.response_alg, CM_HASH_OID_SHA256);
	b64 = b64_of(a->ents[i].addr);
	set(&e->question.response, b64);
	free(b64);
	set(&e->key_algorithm, "AES-256-GCM");
	set(&e->key_wrap, "RSA-OAEP");
	set(&e->key_encoding, "base64");
	e->key_size = 256;
	if (RAND_bytes(key, sizeof(key)) != 1 || (b64 = cm_base64_encode(key, sizeof(key), 0)) == 0)
	    msg_fatal("random bytes");
	set(&e->wrapped_key, b64);
	free(b64);
	set(&e->cert_encoding, "base64");
	if ((b64 = cm_cert_to_b64(cert, 0)) == 0)
	    msg_fatal("certificate encoding");
	set(&e->certificate, b64);
	free(b64);
	X509_free(cert);
    }
}

/* load - read and parse a notice file */
static xmlDocPtr load(const char *path)
{
    static char buf[CM_NOTICE_MAX + 1];
    char    err[256];
    FILE   *fp;
    size_t  n;
    xmlDocPtr doc;

    if ((fp = fopen(path, "rb")) == 0)
	msg_fatal("cannot open %s", path);
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    if ((doc = cm_xml_parse(buf, n, err, sizeof(err))) == 0)
	msg_fatal("%s: %s", path, err);
    return (doc);
}

/* save - serialise a notice to a file */
static void save(xmlDocPtr doc, const char *path)
{
    size_t  len;
    char   *s = cm_xml_serialize(doc, &len);

    if (s == 0 || cm_write_file_atomic(path, s, len, 0644) < 0)
	msg_fatal("cannot write %s", path);
    free(s);
}

/* do_build - an unsigned DepositNotice, TransitNotice or ReceiptNotice */
static int do_build(const char *type, const char *out, const ARGS *a)
{
    CM_NOTICE *n;
    CM_NOTICE *r;
    xmlDocPtr doc;
    char    err[256];
    char   *h = b64_of("mime message");
    int     receipt = strcmp(type, "receipt") == 0;

    n = cm_notice_new(strcmp(type, "deposit") == 0 ? CM_NOTICE_DEPOSIT
		      : strcmp(type, "transit") == 0 ? CM_NOTICE_TRANSIT
		      : receipt ? CM_NOTICE_SIGNED_DEPOSIT : CM_NOTICE_UNKNOWN);
    if (n == 0 || n->type == CM_NOTICE_UNKNOWN)
	usage("build deposit|transit|receipt");
    set(&n->envelope_id, a->envelope_id ? a->envelope_id : "test-envelope-1");
    if (cm_notice_add_mime_hash(n, CM_HASH_SHA256, h) < 0)
	msg_fatal("out of memory");
    free(h);
    if (receipt) {
	if (a->n_ents != 1 || a->ents[0].type != CM_ENTITY_TO)
	    usage("build receipt needs --to ADDR --cert FILE");
	set_content(n);
	add_entities(n, a);
	if ((r = cm_notice_receipt_model(n, a->ents[0].addr, err, sizeof(err))) == 0)
	    msg_fatal("%s", err);
	cm_notice_free(n);
	n = r;
    }
    if ((doc = cm_notice_build(n, err, sizeof(err))) == 0)
	msg_fatal("%s", err);
    save(doc, out);
    xmlFreeDoc(doc);
    cm_notice_free(n);
    return (0);
}

/* do_promote - rename the root (and add EnvelopeInformation) */
static int do_promote(const char *in, const char *out, const ARGS *a)
{
    xmlDocPtr doc = load(in);
    CM_NOTICE *info = 0;
    char    err[256];

    if (cm_notice_type_of(doc) != CM_NOTICE_RECEIPT) {
	if (a->n_ents < 1)
	    usage("promote of a deposit or transit notice needs entities");
	if ((info = cm_notice_new(CM_NOTICE_SIGNED_DEPOSIT)) == 0)
	    msg_fatal("out of memory");
	set_content(info);
	add_entities(info, a);
    }
    if (cm_notice_promote(doc, info, err, sizeof(err)) < 0)
	msg_fatal("%s", err);
    save(doc, out);
    cm_notice_free(info);
    xmlFreeDoc(doc);
    return (0);
}

/* do_respond - fill the EntityChallenge Response */
static int do_respond(const char *in, const char *out, const ARGS *a)
{
    xmlDocPtr doc = load(in);
    char    err[256];

    if (a->answer == 0)
	usage("respond needs --answer");
    if (cm_notice_set_response(doc, a->answer, err, sizeof(err)) < 0)
	msg_fatal("%s", err);
    save(doc, out);
    xmlFreeDoc(doc);
    return (0);
}

/* do_sign - add the next signature */
static int do_sign(const char *in, const char *out, const ARGS *a)
{
    xmlDocPtr doc;
    EVP_PKEY *key;
    X509   *cert;
    STACK_OF(X509) *chain = 0;
    CM_DSIG_PLACE place;
    char    err[256];
    int     n;

    if (a->key == 0 || a->cert == 0 || a->place == 0)
	usage("sign needs --key, --cert and --place");
    if (strcmp(a->place, "postmark") == 0)
	place = CM_DSIG_POSTMARK;
    else if (strcmp(a->place, "info") == 0)
	place = CM_DSIG_INFO;
    else if (strcmp(a->place, "challenge") == 0)
	place = CM_DSIG_CHALLENGE;
    else
	usage("--place postmark|info|challenge");
    if ((key = cm_pem_read_key(a->key, err, sizeof(err))) == 0
	|| (cert = cm_pem_read_cert(a->cert, err, sizeof(err))) == 0
	|| (a->chain && (chain = cm_pem_read_certs(a->chain, err, sizeof(err))) == 0))
	msg_fatal("%s", err);
    doc = load(in);
    if ((n = cm_dsig_sign(doc, place, key, cert, chain, err, sizeof(err))) < 0) {
	fprintf(stderr, "notice_tool: sign: %s\n", err);
	return (1);
    }
    save(doc, out);
    printf("signature %d added in %s\n", n, cm_dsig_place_name(place));
    xmlFreeDoc(doc);
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    return (0);
}

/* do_verify - cm_dsig_verify() report */
static int do_verify(const char *in, const ARGS *a)
{
    xmlDocPtr doc = load(in);
    CM_TRUST *trust = 0;
    CM_DSIG_REPORT rep;
    char    err[256];
    int     i;
    int     r;

    if (a->ca && (trust = cm_trust_load(a->ca, a->crl, err, sizeof(err))) == 0)
	msg_fatal("%s", err);
    r = cm_dsig_verify(doc, trust, &rep);
    for (i = 0; i < rep.n; i++)
	printf("signature %d: %s, %s, covers %s, crypto %s, certificate %s\n", rep.sigs[i].n,
	       cm_dsig_place_name(rep.sigs[i].place), cm_dsig_role_name(&rep.sigs[i]),
	       cm_dsig_covers_name(rep.sigs[i].covers), rep.sigs[i].crypto_ok ? "ok" : "FAIL",
	       rep.sigs[i].cert_reason);
    printf("%s%s\n", r == 0 ? "VALID" : "INVALID: ", r == 0 ? "" : rep.reason);
    cm_trust_free(trust);
    xmlFreeDoc(doc);
    return (r == 0 ? 0 : 1);
}

/* do_nondelivery - the unsigned NonDeliveryNotice of a notice */
static int do_nondelivery(const char *in, const char *out, const ARGS *a)
{
    xmlDocPtr doc = load(in);
    xmlDocPtr nd;
    CM_NOTICE *dep;
    char    err[256];

    if ((dep = cm_notice_parse(doc, err, sizeof(err))) == 0)
	msg_fatal("%s: %s", in, err);
    xmlFreeDoc(doc);
    if ((nd = cm_notice_nondelivery_build(dep, a->rcpts, (size_t) a->n_rcpts, a->reason,
					  a->time ? (time_t) strtoll(a->time, 0, 10) : 0,
					  err, sizeof(err))) == 0) {
	fprintf(stderr, "notice_tool: nondelivery: %s\n", err);
	cm_notice_free(dep);
	return (1);
    }
    save(nd, out);
    xmlFreeDoc(nd);
    cm_notice_free(dep);
    return (0);
}

/* do_mail - a notice mail with the given attachments */
static int do_mail(const char *out, const ARGS *a)
{
    CM_NOTICEMAIL m;
    static char bufs[CM_NOTICEMAIL_ATTACH_MAX + 1][CM_NOTICE_MAX + 1];
    char    names[CM_NOTICEMAIL_ATTACH_MAX + 1][256];
    char    err[256];
    const char *eq;
    FILE   *fp;
    int     i;
    int     r;

    memset(&m, 0, sizeof(m));
    m.from = a->mail_from;
    m.to = a->mail_to;
    m.subject = a->subject;
    m.summary = a->summary;
    m.envelope_id = a->envelope_id;
    for (i = 0; i < a->n_attach; i++) {
	if ((eq = strchr(a->attach[i], '=')) == 0 || (size_t) (eq - a->attach[i]) >= sizeof(names[i]))
	    usage("--attach NAME=FILE");
	snprintf(names[i], sizeof(names[i]), "%.*s", (int) (eq - a->attach[i]), a->attach[i]);
	if ((fp = fopen(eq + 1, "rb")) == 0)
	    msg_fatal("cannot open %s", eq + 1);
	m.attach[i].len = fread(bufs[i], 1, CM_NOTICE_MAX, fp);
	fclose(fp);
	m.attach[i].filename = names[i];
	m.attach[i].data = bufs[i];
    }
    m.nattach = (size_t) a->n_attach;
    if (strcmp(out, "-") == 0)
	fp = stdout;
    else if ((fp = fopen(out, "wb")) == 0)
	msg_fatal("cannot create %s", out);
    r = cm_noticemail_write(fp, &m, err, sizeof(err));
    if (fp != stdout && fclose(fp) != 0 && r == 0) {
	snprintf(err, sizeof(err), "write error");
	r = -1;
    }
    if (r < 0) {
	fprintf(stderr, "notice_tool: mail: %s\n", err);
	return (1);
    }
    return (0);
}

int     main(int argc, char **argv)
{
    ARGS    a;

    cm_log_init("notice_tool", CM_LOG_STDERR);
    if (cm_xml_init() < 0)
	msg_fatal("cannot initialise libxml2/xmlsec1");
    if (argc >= 4 && strcmp(argv[1], "build") == 0) {
	parse_args(argc - 4, argv + 4, &a);
	return (do_build(argv[2], argv[3], &a));
    }
    if (argc >= 4 && strcmp(argv[1], "promote") == 0) {
	parse_args(argc - 4, argv + 4, &a);
	return (do_promote(argv[2], argv[3], &a));
    }
    if (argc >= 4 && strcmp(argv[1], "respond") == 0) {
	parse_args(argc - 4, argv + 4, &a);
	return (do_respond(argv[2], argv[3], &a));
    }
    if (argc >= 4 && strcmp(argv[1], "sign") == 0) {
	parse_args(argc - 4, argv + 4, &a);
	return (do_sign(argv[2], argv[3], &a));
    }
    if (argc >= 4 && strcmp(argv[1], "nondelivery") == 0) {
	parse_args(argc - 4, argv + 4, &a);
	return (do_nondelivery(argv[2], argv[3], &a));
    }
    if (argc >= 3 && strcmp(argv[1], "mail") == 0) {
	parse_args(argc - 3, argv + 3, &a);
	return (do_mail(argv[2], &a));
    }
    if (argc >= 3 && strcmp(argv[1], "verify") == 0) {
	parse_args(argc - 3, argv + 3, &a);
	return (do_verify(argv[2], &a));
    }
    usage("unknown command");
    return (2);
}
