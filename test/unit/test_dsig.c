/*++
 * NAME
 *	test_dsig 1
 * SUMMARY
 *	unit tests of cm_dsig: signing and verifying all six notice types
 * DESCRIPTION
 *	A test PKI is made with cm_pki_init() in a scratch directory (keys
 *	exist only there, for the run). Notices are hand-written XML, so
 *	that these tests do not depend on cm_notice; the root is renamed
 *	and EnvelopeInformation added by text edits, as in
 *	examples/xmlsec-multisig.sh. Each flow is signed with
 *	cm_dsig_sign() and checked with cm_dsig_verify(); tampering, moved,
 *	duplicated and wrapped signatures and foreign keys must fail.
 *	Cmail's NonDeliveryNotice (extension namespace): one server
 *	signature in DigitalPostmark covering the whole document.
 *	Needs CMAIL_SCHEMA_DIR (set by the test harness).
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/rsa.h>

#include "cm_xml.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cm_certcache.h"
#include "cm_pki.h"
#include "cm_dsig.h"

#define NS	"http://www.itu.int/xml-namespace/itu-t/x.1341/x-cmail-notices"
#define NS_EXT	"urn:x-cmail:notices:extension:1"
#define H	"AlgorithmOID=\"2.16.840.1.101.3.4.2.1\""
#define ALICE	"alice@example.org"
#define BOB	"bob@example.org"

typedef struct {
    EVP_PKEY *key;
    X509   *cert;
} SIGNER;

static char dir[] = "/tmp/test_dsig.XXXXXX";
static CM_TRUST *trust;
static SIGNER server, alice, bob, rogue;
static char *bob_b64;

/* load_signer - key and certificate from the test PKI */
static void load_signer(SIGNER *s, const char *name)
{
    char    path[512];
    char    err[256];

    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    s->key = cm_pem_read_key(path, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    s->cert = cm_pem_read_cert(path, err, sizeof(err));
    if (s->key == 0 || s->cert == 0)
	fprintf(stderr, "# %s: %s\n", name, err);
}

/* make_rogue - a self-signed certificate not under the test CA */
static void make_rogue(SIGNER *s)
{
    X509_NAME *name;

    s->key = EVP_RSA_gen(2048);
    s->cert = X509_new();
    X509_set_version(s->cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(s->cert), 4242);
    X509_gmtime_adj(X509_getm_notBefore(s->cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(s->cert), 86400);
    X509_set_pubkey(s->cert, s->key);
    name = X509_get_subject_name(s->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) "mail.example.org",
			       -1, -1, 0);
    X509_set_issuer_name(s->cert, name);
    X509_sign(s->cert, s->key, EVP_sha256());
}

/* group_setup - the PKI, the trust store, the signers */
static int group_setup(void **state)
{
    CM_PKI_OPTS opts;
    char    err[256];
    char    path[512];
    char    crl[512];

    (void) state;
    if (cm_xml_init() < 0 || mkdtemp(dir) == 0)
	return (-1);
    cm_pki_opts_init(&opts);
    opts.domain = "example.org";
    snprintf(path, sizeof(path), "%s/pki", dir);
    if (cm_pki_init(path, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(path, ALICE, 0, &opts, err, sizeof(err)) < 0
	|| cm_pki_issue_user(path, BOB, 0, &opts, err, sizeof(err)) < 0) {
	fprintf(stderr, "# pki: %s\n", err);
	return (-1);
    }
    snprintf(path, sizeof(path), "%s/pki/ca.pem", dir);
    snprintf(crl, sizeof(crl), "%s/pki/crl.pem", dir);
    if ((trust = cm_trust_load(path, crl, err, sizeof(err))) == 0) {
	fprintf(stderr, "# trust: %s\n", err);
	return (-1);
    }
    load_signer(&server, "pki/server");
    load_signer(&alice, "pki/users/" ALICE);
    load_signer(&bob, "pki/users/" BOB);
    make_rogue(&rogue);
    bob_b64 = cm_cert_to_b64(bob.cert, 0);
    return (server.key && alice.key && bob.key && rogue.cert && bob_b64 ? 0 : -1);
}

/* group_teardown - remove the scratch PKI */
static int group_teardown(void **state)
{
    char    cmd[600];
    SIGNER *all[] = {&server, &alice, &bob, &rogue};
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
	EVP_PKEY_free(all[i]->key);
	X509_free(all[i]->cert);
    }
    free(bob_b64);
    cm_trust_free(trust);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return (system(cmd) == 0 ? 0 : -1);
}

 /*
  * Notice text helpers.
  */

/* parse - a document from text */
static xmlDocPtr parse(const char *text)
{
    char    err[256];
    xmlDocPtr doc = cm_xml_parse(text, strlen(text), err, sizeof(err));

    if (doc == 0)
	fprintf(stderr, "# parse: %s\n", err);
    assert_non_null(doc);
    return (doc);
}

/* text - serialise (caller frees) */
static char *text(xmlDocPtr doc)
{
    size_t  len;
    char   *s = cm_xml_serialize(doc, &len);

    assert_non_null(s);
    return (s);
}

/* replace - a copy of s with the first occurrence of from replaced */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    char   *out;

    assert_non_null(p);
    out = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
    assert_non_null(out);
    memcpy(out, s, (size_t) (p - s));
    strcpy(out + (p - s), to);
    strcat(out, p + strlen(from));
    return (out);
}

/* edit - parse(replace(serialise(doc))) and free doc */
static xmlDocPtr edit(xmlDocPtr doc, const char *from, const char *to)
{
    char   *s = text(doc);
    char   *t = replace(s, from, to);
    xmlDocPtr out = parse(t);

    free(s);
    free(t);
    xmlFreeDoc(doc);
    return (out);
}

/* entity - an Entity element */
static char *entity(const char *addr, const char *type)
{
    static char buf[8192];

    snprintf(buf, sizeof(buf), "<Entity EmailAddress=\"%s\" Type=\"%s\"><SecretQuestion>"
	     "<Request RandomNumber=\"123456789012345678901234567890123456789\"/>"
	     "<Response AlgorithmIdentifier=\"2.16.840.1.101.3.4.2.1\"></Response>"
	     "</SecretQuestion><CipherEnvelopeKey Algorithm=\"AES-256-GCM\" CipheredKey=\"RSA-OAEP\""
	     " Encoding=\"base64\" KeySize=\"256\">AAAA</CipherEnvelopeKey>"
	     "<Certificate encoding=\"base64\">%s</Certificate></Entity>", addr, type, bob_b64);
    return (buf);
}

#define CONTENT(el) "<" el " MessageId=\"m1@example.org\"><UncipheredEnvelopeHash " H \
	">BBBB</UncipheredEnvelopeHash><CipheredEnvelopeHash " H ">CCCC</CipheredEnvelopeHash></" el ">"

/* postmark_doc - a DepositNotice or TransitNotice */
static xmlDocPtr postmark_doc(const char *root)
{
    char    buf[1024];

    snprintf(buf, sizeof(buf), "<%s xmlns=\"" NS "\"><DigitalPostmark EnvelopeId=\"e1\" "
	     "DeliveryType=\"CertifiedMail\"><MimeMessageHash " H ">AAAA</MimeMessageHash>"
	     "</DigitalPostmark></%s>", root, root);
    return (parse(buf));
}

/* receipt_doc - a ReceiptNotice for bob */
static xmlDocPtr receipt_doc(void)
{
    char   *buf = malloc(16384);
    xmlDocPtr doc;

    snprintf(buf, 16384, "<ReceiptNotice xmlns=\"" NS "\"><DigitalPostmark EnvelopeId=\"e1\" "
	     "DeliveryType=\"CertifiedMail\"><MimeMessageHash " H ">AAAA</MimeMessageHash>"
	     "</DigitalPostmark><EnvelopeInformation>" CONTENT("BodyEnvelopeInformation")
	     "%s<EntityChallenge><SecretQuestion><Request RandomNumber=\"123456789012345678901234567890"
	     "123456789\"/><Response AlgorithmIdentifier=\"2.16.840.1.101.3.4.2.1\"></Response>"
	     "</SecretQuestion></EntityChallenge></EnvelopeInformation></ReceiptNotice>",
	     entity(BOB, "to"));
    doc = parse(buf);
    free(buf);
    return (doc);
}

/* sign - cm_dsig_sign() that must succeed with signature number n */
static void sign(xmlDocPtr doc, CM_DSIG_PLACE place, SIGNER *s, int n)
{
    char    err[256] = "";
    int     r = cm_dsig_sign(doc, place, s->key, s->cert, 0, err, sizeof(err));

    if (r != n)
	fprintf(stderr, "# sign: %s\n", err);
    assert_int_equal(r, n);
}

/* verify - cm_dsig_verify() into a static report; returns its result */
static int verify(xmlDocPtr doc, CM_DSIG_REPORT *rep, int expect)
{
    int     r = cm_dsig_verify(doc, trust, rep);

    if ((r == 0) != expect || getenv("TEST_DSIG_VERBOSE"))
	fprintf(stderr, "# verify: %s\n", rep->reason);
    assert_int_equal(r == 0, expect);
    return (r);
}

/* promote - rename the root and (deposit, transit) add EnvelopeInformation */
static xmlDocPtr promote(xmlDocPtr doc, const char *root)
{
    char    from[64];
    char    to[64];
    char    info[16384];
    char   *s = text(doc);
    char   *t;
    char   *u;

    snprintf(from, sizeof(from), "<%s ", root);
    snprintf(to, sizeof(to), "<Signed%s ", root);
    t = replace(s, from, to);
    snprintf(from, sizeof(from), "</%s>", root);
    if (strcmp(root, "ReceiptNotice") == 0) {
	snprintf(info, sizeof(info), "</Signed%s>", root);
    } else {
	snprintf(info, sizeof(info), "<EnvelopeInformation>" CONTENT("ContentEnvelopeInformation")
		 "<Entities>%s", entity(ALICE, "from"));
	snprintf(info + strlen(info), sizeof(info) - strlen(info), "%s</Entities>"
		 "</EnvelopeInformation></Signed%s>", entity(BOB, "to"), root);
    }
    u = replace(t, from, info);
    xmlFreeDoc(doc);
    doc = parse(u);
    free(s);
    free(t);
    free(u);
    return (doc);
}

/* signed_deposit - a SignedDepositNotice signed by the server and alice */
static xmlDocPtr signed_deposit(void)
{
    xmlDocPtr doc = postmark_doc("DepositNotice");

    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    doc = promote(doc, "DepositNotice");
    sign(doc, CM_DSIG_INFO, &alice, 2);
    return (doc);
}

/* signed_receipt - a SignedReceiptNotice: server, bob, server again */
static xmlDocPtr signed_receipt(int countersign)
{
    xmlDocPtr doc = receipt_doc();

    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    doc = promote(doc, "ReceiptNotice");
    doc = edit(doc, "\"/></SecretQuestion></EntityChallenge>",
	       "\">ZZZZ</Response></SecretQuestion></EntityChallenge>");
    sign(doc, CM_DSIG_CHALLENGE, &bob, 2);
    if (countersign)
	sign(doc, CM_DSIG_POSTMARK, &server, 3);
    return (doc);
}

 /*
  * The tests.
  */

/* test_deposit - server signature 1 covers the DigitalPostmark */
static void test_deposit(void **state)
{
    xmlDocPtr doc = postmark_doc("DepositNotice");
    CM_DSIG_REPORT rep;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    verify(doc, &rep, 1);
    assert_int_equal(rep.n, 1);
    assert_true(rep.schema_ok);
    assert_int_equal(rep.sigs[0].n, 1);
    assert_int_equal(rep.sigs[0].place, CM_DSIG_POSTMARK);
    assert_int_equal(rep.sigs[0].covers, CM_COVERS_POSTMARK);
    assert_int_equal(rep.sigs[0].role, CM_ROLE_SERVER);
    assert_string_equal(rep.sigs[0].address, "postmaster@example.org");
    assert_non_null(strstr(rep.sigs[0].subject, "mail.example.org"));
    assert_true(rep.sigs[0].crypto_ok && rep.sigs[0].cert_ok);
    assert_int_equal(X509_digest(server.cert, EVP_sha256(), md, &mdlen), 1);
    assert_memory_equal(rep.sigs[0].cert_sha256, md, 32);
    xmlFreeDoc(doc);
}

/* test_no_trust - without anchors: crypto checked, notice invalid */
static void test_no_trust(void **state)
{
    xmlDocPtr doc = postmark_doc("DepositNotice");
    CM_DSIG_REPORT rep;

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    assert_int_equal(cm_dsig_verify(doc, 0, &rep), -1);
    assert_true(rep.sigs[0].crypto_ok);
    assert_false(rep.sigs[0].cert_ok);
    assert_string_equal(rep.reason, "no trust anchors given (--ca)");
    xmlFreeDoc(doc);
}

/* test_signed_deposit - server, then the sender on the renamed root */
static void test_signed_deposit(void **state)
{
    xmlDocPtr doc = signed_deposit();
    CM_DSIG_REPORT rep;

    (void) state;
    verify(doc, &rep, 1);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.sigs[1].place, CM_DSIG_INFO);
    assert_int_equal(rep.sigs[1].covers, CM_COVERS_ALL);
    assert_int_equal(rep.sigs[1].role, CM_ROLE_CLIENT);
    assert_string_equal(rep.sigs[1].address, ALICE);
    assert_string_equal(cm_dsig_covers_name(rep.sigs[0].covers), "DigitalPostmark");
    assert_string_equal(cm_dsig_covers_name(rep.sigs[1].covers), "whole document");
    xmlFreeDoc(doc);
}

/* test_keyinfo_cached - KeyInfo certificates already parsed are not parsed again */
static void test_keyinfo_cached(void **state)
{
    xmlDocPtr doc = signed_deposit();
    CM_DSIG_REPORT rep;
    CM_CERTCACHE_STATS s0, s1;
    X509   *x;

    (void) state;
    /* server.cert and alice.cert came from cm_pem_read_cert(): cached */
    cm_certcache_stats(&s0);
    verify(doc, &rep, 1);
    verify(doc, &rep, 1);
    x = cm_dsig_place_cert(doc, CM_DSIG_INFO, 0);
    cm_certcache_stats(&s1);
    assert_int_equal(s1.cert_parses, s0.cert_parses);
    assert_int_equal(s1.cert_hits - s0.cert_hits, 5);
    assert_ptr_equal(x, alice.cert);		/* the very same object, shared */
    X509_free(x);
    assert_int_equal(X509_cmp(alice.cert, x), 0);	/* still ours after that free */
    xmlFreeDoc(doc);
}

/* test_sign_refuses - wrong places for the current root */
static void test_sign_refuses(void **state)
{
    xmlDocPtr doc = postmark_doc("DepositNotice");
    char    err[256];

    (void) state;
    /* the sender cannot sign a DepositNotice that was not promoted */
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_INFO, alice.key, alice.cert, 0, err, sizeof(err)), -1);
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_CHALLENGE, bob.key, bob.cert, 0, err, sizeof(err)), -1);
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    /* a DepositNotice carries one signature */
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_POSTMARK, server.key, server.cert, 0, err,
				  sizeof(err)), -1);
    /* a key that is not the certificate's */
    doc = promote(doc, "DepositNotice");
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_INFO, alice.key, bob.cert, 0, err, sizeof(err)), -1);
    /* signature 2 of a SignedDepositNotice is not in DigitalPostmark */
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_POSTMARK, alice.key, alice.cert, 0, err,
				  sizeof(err)), -1);
    xmlFreeDoc(doc);
    doc = receipt_doc();
    /* the recipient cannot sign before the server and the rename */
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_CHALLENGE, bob.key, bob.cert, 0, err, sizeof(err)), -1);
    xmlFreeDoc(doc);
}

/* test_tamper_hash - a changed MimeMessageHash breaks both signatures */
static void test_tamper_hash(void **state)
{
    xmlDocPtr doc = signed_deposit();
    CM_DSIG_REPORT rep;

    (void) state;
    doc = edit(doc, ">AAAA<", ">AAAB<");
    verify(doc, &rep, 0);
    assert_false(rep.sigs[0].crypto_ok);
    assert_false(rep.sigs[1].crypto_ok);
    assert_non_null(strstr(rep.reason, "signature 1"));
    xmlFreeDoc(doc);
}

/* test_tamper_address - a changed Entity address breaks the sender's only */
static void test_tamper_address(void **state)
{
    xmlDocPtr doc = signed_deposit();
    CM_DSIG_REPORT rep;

    (void) state;
    doc = edit(doc, "EmailAddress=\"" BOB "\"", "EmailAddress=\"mallory@example.org\"");
    verify(doc, &rep, 0);
    assert_true(rep.sigs[0].crypto_ok);
    assert_false(rep.sigs[1].crypto_ok);
    xmlFreeDoc(doc);
}

/* test_moved - signature 2 moved into the DigitalPostmark */
static void test_moved(void **state)
{
    xmlDocPtr doc = signed_deposit();
    xmlNodePtr sig2 = xmlGetLastChild(cm_dsig_place_node(doc, CM_DSIG_INFO));
    CM_DSIG_REPORT rep;

    (void) state;
    xmlUnlinkNode(sig2);
    xmlAddChild(cm_dsig_place_node(doc, CM_DSIG_POSTMARK), sig2);
    verify(doc, &rep, 0);
    assert_false(rep.sigs[1].shape_ok);
    xmlFreeDoc(doc);
}

/* test_duplicate - a copy of signature 1 next to it */
static void test_duplicate(void **state)
{
    xmlDocPtr doc = signed_deposit();
    xmlNodePtr pm = cm_dsig_place_node(doc, CM_DSIG_POSTMARK);
    CM_DSIG_REPORT rep;

    (void) state;
    xmlAddChild(pm, xmlCopyNode(xmlGetLastChild(pm), 1));
    verify(doc, &rep, 0);
    /* refused by cm_dsig itself, not only by the schema's xs:ID */
    assert_int_equal(rep.n, 3);
    assert_non_null(strstr(rep.sigs[1].reason, "duplicate") ? rep.sigs[1].reason
		    : strstr(rep.sigs[2].reason, "duplicate"));
    xmlFreeDoc(doc);
}

/* test_wrapping - signature 1 narrowed to an element the attacker made */
static void test_wrapping(void **state)
{
    xmlDocPtr doc = signed_deposit();
    CM_DSIG_REPORT rep;

    (void) state;
    /* the intersect now selects only the first MimeMessageHash */
    doc = edit(doc, ">/*/c:DigitalPostmark<", ">/*/c:DigitalPostmark/c:MimeMessageHash[1]<");
    verify(doc, &rep, 0);
    assert_false(rep.sigs[0].shape_ok);
    xmlFreeDoc(doc);
    /* an extra transform */
    doc = signed_deposit();
    doc = edit(doc, "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
	       "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	       "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>");
    verify(doc, &rep, 0);
    xmlFreeDoc(doc);
    /* prefix c rebound to another namespace: the intersect selects nothing */
    doc = signed_deposit();
    doc = edit(doc, "xmlns:c=\"" NS "\" Filter=\"intersect\"",
	       "xmlns:c=\"urn:x-attacker\" Filter=\"intersect\"");
    verify(doc, &rep, 0);
    assert_false(rep.sigs[0].shape_ok);
    xmlFreeDoc(doc);
    /* a Reference URI other than "" */
    doc = signed_deposit();
    doc = edit(doc, "<ds:Reference URI=\"\">", "<ds:Reference URI=\"#cmail-sig-1\">");
    verify(doc, &rep, 0);
    assert_false(rep.sigs[0].shape_ok);
    xmlFreeDoc(doc);
}

/* test_untrusted - a key not under the trust anchors */
static void test_untrusted(void **state)
{
    xmlDocPtr doc = postmark_doc("DepositNotice");
    CM_DSIG_REPORT rep;

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &rogue, 1);
    verify(doc, &rep, 0);
    assert_true(rep.sigs[0].crypto_ok);
    assert_false(rep.sigs[0].cert_ok);
    xmlFreeDoc(doc);
}

/* test_swapped_cert - another trusted certificate in KeyInfo */
static void test_swapped_cert(void **state)
{
    xmlDocPtr doc = postmark_doc("DepositNotice");
    CM_DSIG_REPORT rep;
    char   *srv = cm_cert_to_b64(server.cert, 0);
    char   *other = cm_cert_to_b64(bob.cert, 0);

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    doc = edit(doc, srv, other);
    verify(doc, &rep, 0);
    assert_false(rep.sigs[0].crypto_ok);
    free(srv);
    free(other);
    xmlFreeDoc(doc);
}

/* test_transit - S2 on the postmark, S1 (a server) on the information */
static void test_transit(void **state)
{
    xmlDocPtr doc = postmark_doc("TransitNotice");
    CM_DSIG_REPORT rep;

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    verify(doc, &rep, 1);
    doc = promote(doc, "TransitNotice");
    sign(doc, CM_DSIG_INFO, &server, 2);
    verify(doc, &rep, 1);
    assert_int_equal(rep.sigs[1].role, CM_ROLE_SERVER);
    xmlFreeDoc(doc);
    /* S1's signature by a user certificate is refused */
    doc = postmark_doc("TransitNotice");
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    doc = promote(doc, "TransitNotice");
    sign(doc, CM_DSIG_INFO, &alice, 2);
    verify(doc, &rep, 0);
    assert_true(rep.sigs[1].crypto_ok);
    assert_false(rep.sigs[1].cert_ok);
    xmlFreeDoc(doc);
}

/* test_receipt - server, recipient with Response, server countersignature */
static void test_receipt(void **state)
{
    xmlDocPtr doc = receipt_doc();
    CM_DSIG_REPORT rep;

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    verify(doc, &rep, 1);
    assert_int_equal(rep.sigs[0].covers, CM_COVERS_ALL_BUT_RESPONSE);
    xmlFreeDoc(doc);
    doc = signed_receipt(0);
    verify(doc, &rep, 1);
    assert_int_equal(rep.n, 2);
    xmlFreeDoc(doc);
    doc = signed_receipt(1);
    verify(doc, &rep, 1);
    assert_int_equal(rep.n, 3);
    assert_int_equal(rep.sigs[1].place, CM_DSIG_CHALLENGE);
    assert_string_equal(rep.sigs[1].address, BOB);
    assert_int_equal(rep.sigs[2].place, CM_DSIG_POSTMARK);
    assert_int_equal(rep.sigs[2].covers, CM_COVERS_ALL);
    /* a changed answer: the server's first signature still holds */
    doc = edit(doc, ">ZZZZ</Response>", ">ZZZY</Response>");
    verify(doc, &rep, 0);
    assert_true(rep.sigs[0].crypto_ok);
    assert_false(rep.sigs[1].crypto_ok);
    assert_false(rep.sigs[2].crypto_ok);
    xmlFreeDoc(doc);
}

/* test_receipt_wrong_signer - the recipient signature by someone else */
static void test_receipt_wrong_signer(void **state)
{
    xmlDocPtr doc = receipt_doc();
    CM_DSIG_REPORT rep;

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    doc = promote(doc, "ReceiptNotice");
    sign(doc, CM_DSIG_CHALLENGE, &alice, 2);
    verify(doc, &rep, 0);
    assert_true(rep.sigs[1].crypto_ok);
    assert_false(rep.sigs[1].cert_ok);
    xmlFreeDoc(doc);
}

/* test_gap - signatures numbered 1 and 3 */
static void test_gap(void **state)
{
    xmlDocPtr doc = signed_deposit();
    CM_DSIG_REPORT rep;

    (void) state;
    doc = edit(doc, "Id=\"cmail-sig-2\"", "Id=\"cmail-sig-3\"");
    verify(doc, &rep, 0);
    xmlFreeDoc(doc);
}

/* test_unsigned_and_foreign - no signature; a signature in Entity */
static void test_unsigned_and_foreign(void **state)
{
    xmlDocPtr doc = postmark_doc("DepositNotice");
    CM_DSIG_REPORT rep;

    (void) state;
    verify(doc, &rep, 0);
    xmlFreeDoc(doc);
    doc = parse("<Foo xmlns=\"urn:x\"/>");
    verify(doc, &rep, 0);
    xmlFreeDoc(doc);
}

/* shape_fails - an edit of signature 1 that the shape check must refuse */
static void shape_fails(const char *from, const char *to)
{
    xmlDocPtr doc = signed_deposit();
    CM_DSIG_REPORT rep;

    doc = edit(doc, from, to);
    verify(doc, &rep, 0);
    assert_int_equal(rep.sigs[0].n, 1);
    assert_false(rep.sigs[0].shape_ok);
    assert_false(rep.sigs[0].crypto_ok);
    xmlFreeDoc(doc);
}

/* test_shape_details - anything beyond the profile's shape is refused */
static void test_shape_details(void **state)
{
    (void) state;
    /* an Object after KeyInfo */
    shape_fails("</ds:KeyInfo></ds:Signature></DigitalPostmark>",
		"</ds:KeyInfo><ds:Object>x</ds:Object></ds:Signature></DigitalPostmark>");
    /* a KeyName beside X509Data */
    shape_fails("<ds:KeyInfo><ds:X509Data>", "<ds:KeyInfo><ds:KeyName>k</ds:KeyName><ds:X509Data>");
    /* an InclusiveNamespaces prefix list on the C14N transform */
    shape_fails("<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
		"<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces"
		" xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"c\"/></ds:Transform>");
    /* union instead of intersect */
    shape_fails("Filter=\"intersect\"", "Filter=\"union\"");
    /* a subtract that spares the later signatures */
    shape_fails(") &gt;= 1]", ") &gt;= 2]");
    /* a comment inside SignedInfo (dropped by C14N, but not our shape) */
    shape_fails("<ds:SignedInfo>", "<ds:SignedInfo><!-- x -->");
    /* an Id on the Reference */
    shape_fails("<ds:Reference URI=\"\">", "<ds:Reference URI=\"\" Id=\"r\">");
}

/* test_foreign_place - a signature inside an Entity */
static void test_foreign_place(void **state)
{
    xmlDocPtr doc = signed_deposit();
    xmlNodePtr sig2 = xmlGetLastChild(cm_dsig_place_node(doc, CM_DSIG_INFO));
    xmlNodePtr ents = xmlFirstElementChild(cm_dsig_place_node(doc, CM_DSIG_INFO))->next;
    CM_DSIG_REPORT rep;

    (void) state;
    xmlUnlinkNode(sig2);
    xmlAddChild(xmlFirstElementChild(ents), sig2);
    verify(doc, &rep, 0);
    assert_false(rep.schema_ok);
    assert_non_null(strstr(rep.sigs[1].reason, "not in DigitalPostmark"));
    xmlFreeDoc(doc);
}

/* test_chain - X509Data with the CA after the signer */
static void test_chain(void **state)
{
    xmlDocPtr doc = postmark_doc("TransitNotice");
    STACK_OF(X509) *chain = sk_X509_new_null();
    char    path[512];
    char    err[256];
    X509   *ca;
    CM_DSIG_REPORT rep;

    (void) state;
    snprintf(path, sizeof(path), "%s/pki/ca.pem", dir);
    assert_non_null(ca = cm_pem_read_cert(path, err, sizeof(err)));
    sk_X509_push(chain, ca);
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_POSTMARK, server.key, server.cert, chain, err,
				  sizeof(err)), 1);
    verify(doc, &rep, 1);
    assert_true(rep.sigs[0].cert_ok);
    sk_X509_pop_free(chain, X509_free);
    xmlFreeDoc(doc);
}


/* nd_doc - an unsigned NonDeliveryNotice (Cmail extension) */
static xmlDocPtr nd_doc(void)
{
    return (parse("<NonDeliveryNotice xmlns=\"" NS_EXT "\" xmlns:c=\"" NS "\">"
		  "<c:DigitalPostmark EnvelopeId=\"e1\" DeliveryType=\"CertifiedMail\">"
		  "<c:MimeMessageHash " H ">AAAA</c:MimeMessageHash></c:DigitalPostmark>"
		  "<UndeliveredRecipients><Recipient EmailAddress=\"" BOB "\"/>"
		  "</UndeliveredRecipients><Reason>refused: 550 no such user</Reason>"
		  "<Time>2026-11-25T10:00:00Z</Time></NonDeliveryNotice>"));
}

/* nd_fails - an edit of a signed NonDeliveryNotice must not verify */
static void nd_fails(const char *from, const char *to, int crypto_ok)
{
    xmlDocPtr doc = nd_doc();
    CM_DSIG_REPORT rep;

    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    doc = edit(doc, from, to);
    verify(doc, &rep, 0);
    if (rep.n == 1)
	assert_int_equal(rep.sigs[0].crypto_ok, crypto_ok);
    xmlFreeDoc(doc);
}

/* test_nondelivery - S1's signature covers the whole document */
static void test_nondelivery(void **state)
{
    xmlDocPtr doc = nd_doc();
    CM_DSIG_REPORT rep;
    char    err[256];

    (void) state;
    /* only the postmark place exists, and it takes one signature */
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_INFO, server.key, server.cert, 0, err,
				  sizeof(err)), -1);
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_CHALLENGE, server.key, server.cert, 0, err,
				  sizeof(err)), -1);
    assert_null(cm_dsig_place_node(doc, CM_DSIG_INFO));
    assert_non_null(cm_dsig_place_node(doc, CM_DSIG_POSTMARK));
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    assert_int_equal(cm_dsig_sign(doc, CM_DSIG_POSTMARK, server.key, server.cert, 0, err,
				  sizeof(err)), -1);
    verify(doc, &rep, 1);
    assert_true(rep.schema_ok);
    assert_string_equal(rep.root, "NonDeliveryNotice");
    assert_int_equal(rep.n, 1);
    assert_int_equal(rep.sigs[0].place, CM_DSIG_POSTMARK);
    assert_int_equal(rep.sigs[0].covers, CM_COVERS_ALL);
    assert_int_equal(rep.sigs[0].role, CM_ROLE_SERVER);
    assert_string_equal(rep.sigs[0].who, "sending server (S1)");
    assert_true(rep.sigs[0].crypto_ok && rep.sigs[0].cert_ok);
    xmlFreeDoc(doc);

    /* every part is covered: recipients, reason, time, postmark, root */
    nd_fails("EmailAddress=\"" BOB "\"", "EmailAddress=\"eve@example.org\"", 0);
    nd_fails("550 no such user", "450 try later", 0);
    nd_fails("10:00:00Z", "11:00:00Z", 0);
    nd_fails(">AAAA<", ">AAAB<", 0);
    nd_fails("EnvelopeId=\"e1\"", "EnvelopeId=\"e2\"", 0);
    nd_fails("</UndeliveredRecipients>", "<Recipient EmailAddress=\"" ALICE "\"/></UndeliveredRecipients>", 0);
    /* the same document in the X.1341 namespace is no notice at all */
    nd_fails("<NonDeliveryNotice xmlns=\"" NS_EXT "\"", "<NonDeliveryNotice xmlns=\"" NS "\"", 0);
    /* a postmark-only intersect would leave the rest unsigned: wrapping */
    nd_fails("<ds:Transforms>", "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2002/06/"
	     "xmldsig-filter2\"><dsig2:XPath xmlns:dsig2=\"http://www.w3.org/2002/06/xmldsig-filter2\""
	     " xmlns:c=\"" NS "\" Filter=\"intersect\">/*/c:DigitalPostmark</dsig2:XPath>"
	     "</ds:Transform>", 0);
}

/* test_nondelivery_signer - a client or foreign certificate is refused */
static void test_nondelivery_signer(void **state)
{
    xmlDocPtr doc = nd_doc();
    CM_DSIG_REPORT rep;
    xmlNodePtr sig;

    (void) state;
    sign(doc, CM_DSIG_POSTMARK, &alice, 1);
    verify(doc, &rep, 0);
    assert_true(rep.sigs[0].crypto_ok);
    assert_false(rep.sigs[0].cert_ok);
    xmlFreeDoc(doc);
    doc = nd_doc();
    sign(doc, CM_DSIG_POSTMARK, &rogue, 1);
    verify(doc, &rep, 0);
    assert_true(rep.sigs[0].crypto_ok);
    assert_false(rep.sigs[0].cert_ok);
    xmlFreeDoc(doc);
    /* moved to the end of the root: no place, schema invalid */
    doc = nd_doc();
    sign(doc, CM_DSIG_POSTMARK, &server, 1);
    sig = xmlGetLastChild(cm_dsig_place_node(doc, CM_DSIG_POSTMARK));
    xmlUnlinkNode(sig);
    xmlAddChild(xmlDocGetRootElement(doc), sig);
    verify(doc, &rep, 0);
    assert_false(rep.schema_ok);
    assert_non_null(strstr(rep.sigs[0].reason, "not in DigitalPostmark"));
    xmlFreeDoc(doc);
}

/* main - one group: the PKI is made once */
int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_deposit),
	cmocka_unit_test(test_no_trust),
	cmocka_unit_test(test_signed_deposit),
	cmocka_unit_test(test_keyinfo_cached),
	cmocka_unit_test(test_sign_refuses),
	cmocka_unit_test(test_tamper_hash),
	cmocka_unit_test(test_tamper_address),
	cmocka_unit_test(test_moved),
	cmocka_unit_test(test_duplicate),
	cmocka_unit_test(test_wrapping),
	cmocka_unit_test(test_untrusted),
	cmocka_unit_test(test_swapped_cert),
	cmocka_unit_test(test_transit),
	cmocka_unit_test(test_receipt),
	cmocka_unit_test(test_receipt_wrong_signer),
	cmocka_unit_test(test_gap),
	cmocka_unit_test(test_unsigned_and_foreign),
	cmocka_unit_test(test_shape_details),
	cmocka_unit_test(test_foreign_place),
	cmocka_unit_test(test_chain),
	cmocka_unit_test(test_nondelivery),
	cmocka_unit_test(test_nondelivery_signer),
    };

    return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
