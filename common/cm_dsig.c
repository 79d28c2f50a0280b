/*++
 * NAME
 *	cm_dsig 3
 * SUMMARY
 *	XML Signatures on X.1341 notices (PROFILE.md section 6)
 * DESCRIPTION
 *	See cm_dsig.h. The signature template is built here by hand, with
 *	no whitespace anywhere, so that it is exactly the shape the
 *	verifier accepts; xmlsec1 only computes the digest and the value.
 *	Verification never gives xmlsec1 a keys manager: the key is the
 *	public key of the certificate in the signature's own KeyInfo, and
 *	that certificate is then validated with cm_cert_validate().
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <libxml/tree.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/transforms.h>
#include <xmlsec/keys.h>
#include <xmlsec/crypto.h>
#include <xmlsec/openssl/evp.h>

#include "cm_log.h"
#include "cm_pem.h"
#include "cm_xml.h"
#include "cm_cert.h"
#include "cm_limits.h"
#include "cm_dsig.h"
#include "cm_notice.h"

#define ALG_EXC_C14N	"http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_RSA_SHA256	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define ALG_SHA256	"http://www.w3.org/2001/04/xmlenc#sha256"

#define SIG_ID_PREFIX	"cmail-sig-"
#define XP_POSTMARK	"/*/c:DigitalPostmark"
#define XP_CHILDREN	"/*/*"
#define XP_RESPONSE	"//c:Response"
#define XP_LATER_FMT	"//ds:Signature[number(substring-after(@Id,'cmail-sig-')) >= %d]"
#define XP_MAX		128

 /*
  * What a signature covers, as transforms: the intersect (if any) that
  * comes before the mandatory subtract of this and later signatures.
  */
typedef enum {
    SHAPE_POSTMARK,			/* intersect XP_POSTMARK */
    SHAPE_RECEIPT,			/* intersect XP_CHILDREN, subtract XP_RESPONSE */
    SHAPE_FULL,				/* no intersect: the whole document */
} SHAPE;

typedef enum {
    ADDR_NONE = 0,			/* no address to match */
    ADDR_SENDER,			/* Entity Type="from", when present */
    ADDR_RECIPIENT,			/* the receipt's Entity */
} ADDR_RULE;

typedef struct {
    CM_DSIG_PLACE place;
    SHAPE   shape;
    CM_CERT_ROLE role;
    CM_CERT_PURPOSE purpose;
    ADDR_RULE addr;
    const char *who;
} SLOT;

#define SLOTS_MAX 3

 /*
  * The signatures each root may carry, in signing order (PROFILE.md 6).
  */
static const struct root_rule {
    const char *root;
    const char *ns;			/* NULL: the X.1341 notices namespace */
    int     min;
    int     max;
    SLOT    slots[SLOTS_MAX];
} root_rules[] = {
    {"DepositNotice", 0, 1, 1, {
	    {CM_DSIG_POSTMARK, SHAPE_POSTMARK, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE, "server"},
    }},
    {"SignedDepositNotice", 0, 2, 2, {
	    {CM_DSIG_POSTMARK, SHAPE_POSTMARK, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE, "server"},
	    {CM_DSIG_INFO, SHAPE_FULL, CM_ROLE_CLIENT, CM_PURPOSE_SMIME, ADDR_SENDER, "sender"},
    }},
    {"TransitNotice", 0, 1, 1, {
	    {CM_DSIG_POSTMARK, SHAPE_POSTMARK, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE,
	    "receiving server (S2)"},
    }},
    {"SignedTransitNotice", 0, 2, 2, {
	    {CM_DSIG_POSTMARK, SHAPE_POSTMARK, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE,
	    "receiving server (S2)"},
	    {CM_DSIG_INFO, SHAPE_FULL, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE,
	    "sending server (S1)"},
    }},
    {"ReceiptNotice", 0, 1, 1, {
	    {CM_DSIG_POSTMARK, SHAPE_RECEIPT, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE, "server"},
    }},
    {"SignedReceiptNotice", 0, 2, 3, {
	    {CM_DSIG_POSTMARK, SHAPE_RECEIPT, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE, "server"},
	    {CM_DSIG_CHALLENGE, SHAPE_FULL, CM_ROLE_CLIENT, CM_PURPOSE_SMIME, ADDR_RECIPIENT,
	    "recipient"},
	    {CM_DSIG_POSTMARK, SHAPE_FULL, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE,
	    "server countersignature"},
    }},
    /* Cmail extension (schemas/cmail-extensions.xsd): S1's non-delivery notice. */
    {"NonDeliveryNotice", CM_NS_EXT, 1, 1, {
	    {CM_DSIG_POSTMARK, SHAPE_FULL, CM_ROLE_SERVER, CM_PURPOSE_SMIME, ADDR_NONE,
	    "sending server (S1)"},
    }},
    {0},
};

static void fmt(char *, size_t, const char *,...) __attribute__((format(printf, 3, 4)));

/* fmt - bounded snprintf into an error buffer (may be NULL) */
static void fmt(char *buf, size_t len, const char *format,...)
{
    va_list ap;

    if (buf == 0 || len == 0)
	return;
    va_start(ap, format);
    vsnprintf(buf, len, format, ap);
    va_end(ap);
}

/* is_elem - element with this namespace and local name */
static int is_elem(xmlNodePtr node, const char *ns, const char *name)
{
    return (node && node->type == XML_ELEMENT_NODE && node->ns && node->ns->href
	    && strcmp((const char *) node->ns->href, ns) == 0
	    && strcmp((const char *) node->name, name) == 0);
}

/* child_elem - first child element with this namespace and name */
static xmlNodePtr child_elem(xmlNodePtr parent, const char *ns, const char *name)
{
    xmlNodePtr cur;

    for (cur = parent ? parent->children : 0; cur; cur = cur->next)
	if (is_elem(cur, ns, name))
	    return (cur);
    return (0);
}

/* root_rule_of - the rule for a document's root, NULL if not a notice */
static const struct root_rule *root_rule_of(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    const struct root_rule *rr;

    for (rr = root_rules; rr->root; rr++)
	if (is_elem(root, rr->ns ? rr->ns : CM_NS, rr->root))
	    return (rr);
    return (0);
}

/* cm_dsig_place_node - the element a signature of this place goes in */
xmlNodePtr cm_dsig_place_node(xmlDocPtr doc, CM_DSIG_PLACE place)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);

    if (root == 0 || root->ns == 0 || root->ns->href == 0)
	return (0);
    /* A NonDeliveryNotice (our namespace) has only the DigitalPostmark place. */
    if (strcmp((const char *) root->ns->href, CM_NS) != 0
	&& (place != CM_DSIG_POSTMARK || !is_elem(root, CM_NS_EXT, "NonDeliveryNotice")))
	return (0);
    switch (place) {
    case CM_DSIG_POSTMARK:
	return (child_elem(root, CM_NS, "DigitalPostmark"));
    case CM_DSIG_INFO:
	return (child_elem(root, CM_NS, "EnvelopeInformation"));
    case CM_DSIG_CHALLENGE:
	return (child_elem(child_elem(root, CM_NS, "EnvelopeInformation"),
			   CM_NS, "EntityChallenge"));
    }
    return (0);
}

/* cm_dsig_place_name - element name of a place */
const char *cm_dsig_place_name(CM_DSIG_PLACE place)
{
    switch (place) {
    case CM_DSIG_POSTMARK:
	return ("DigitalPostmark");
    case CM_DSIG_INFO:
	return ("EnvelopeInformation");
    case CM_DSIG_CHALLENGE:
	return ("EntityChallenge");
    }
    return ("(elsewhere)");
}

/* cm_dsig_role_name - who made a signature */
const char *cm_dsig_role_name(const CM_DSIG_SIG *sig)
{
    return (sig->who ? sig->who : "unknown");
}

/* cm_dsig_covers_name - what a signature covers, in words */
const char *cm_dsig_covers_name(CM_DSIG_COVERS covers)
{
    switch (covers) {
    case CM_COVERS_POSTMARK:
	return ("DigitalPostmark");
    case CM_COVERS_ALL_BUT_RESPONSE:
	return ("whole document except Response");
    case CM_COVERS_ALL:
	return ("whole document");
    case CM_COVERS_NONE:
	break;
    }
    return ("unknown");
}

/* shape_covers - map a transform shape to what it covers */
static CM_DSIG_COVERS shape_covers(SHAPE shape)
{
    switch (shape) {
    case SHAPE_POSTMARK:
	return (CM_COVERS_POSTMARK);
    case SHAPE_RECEIPT:
	return (CM_COVERS_ALL_BUT_RESPONSE);
    case SHAPE_FULL:
	return (CM_COVERS_ALL);
    }
    return (CM_COVERS_NONE);
}

/* collect_sigs - every ds:Signature element in the tree, in document order */
static void collect_sigs(xmlNodePtr node, xmlNodePtr *out, int max, int *n, int depth)
{
    xmlNodePtr cur;

    for (cur = node; cur; cur = cur->next) {
	if (cur->type != XML_ELEMENT_NODE)
	    continue;
	if (is_elem(cur, CM_DSIG_NS, "Signature")) {
	    if (*n < max)
		out[*n] = cur;
	    (*n)++;
	}
	if (depth < 2 * CM_XML_DEPTH_MAX)
	    collect_sigs(cur->children, out, max, n, depth + 1);
	else
	    (*n) = max + 1;			/* absurd nesting: refuse */
    }
}

/* sig_number - N of Id="cmail-sig-N" (canonical decimal), 0 if malformed */
static int sig_number(xmlNodePtr sig)
{
    xmlChar *id = xmlGetNoNsProp(sig, (const xmlChar *) "Id");
    const char *p;
    int     n = 0;

    if (id == 0)
	return (0);
    if (strncmp((const char *) id, SIG_ID_PREFIX, sizeof(SIG_ID_PREFIX) - 1) == 0) {
	p = (const char *) id + sizeof(SIG_ID_PREFIX) - 1;
	if (*p >= '1' && *p <= '9' && strlen(p) <= 2) {
	    for (; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (*p - '0');
	    if (*p != 0 || n > CM_SIGNATURES_MAX)
		n = 0;
	}
    }
    xmlFree(id);
    return (n);
}

/* place_of - which of the three places holds a signature, 0 if none */
static CM_DSIG_PLACE place_of(xmlDocPtr doc, xmlNodePtr sig)
{
    CM_DSIG_PLACE p;

    for (p = CM_DSIG_POSTMARK; p <= CM_DSIG_CHALLENGE; p++)
	if (sig->parent && sig->parent == cm_dsig_place_node(doc, p))
	    return (p);
    return ((CM_DSIG_PLACE) 0);
}

 /*
  * Template construction.
  */

/* add_alg - child element with an Algorithm attribute */
static xmlNodePtr add_alg(xmlNodePtr parent, xmlNsPtr ds, const char *name, const char *alg)
{
    xmlNodePtr node = xmlNewChild(parent, ds, (const xmlChar *) name, 0);

    if (node)
	xmlNewProp(node, (const xmlChar *) "Algorithm", (const xmlChar *) alg);
    return (node);
}

/* add_filter - one XPath Filter 2.0 transform */
static int add_filter(xmlNodePtr transforms, xmlNsPtr ds, const char *filter,
		              const char *expr, const char *prefix, const char *href)
{
    xmlNodePtr t;
    xmlNodePtr xp;
    xmlNsPtr f2;

    if ((t = add_alg(transforms, ds, "Transform", CM_FILTER2_NS)) == 0)
	return (-1);
    if ((xp = xmlNewDocNode(transforms->doc, 0, (const xmlChar *) "XPath", 0)) == 0)
	return (-1);
    xmlAddChild(t, xp);
    if ((f2 = xmlNewNs(xp, (const xmlChar *) CM_FILTER2_NS, (const xmlChar *) "dsig2")) == 0
	|| xmlNewNs(xp, (const xmlChar *) href, (const xmlChar *) prefix) == 0)
	return (-1);
    xmlSetNs(xp, f2);
    if (xmlNewProp(xp, (const xmlChar *) "Filter", (const xmlChar *) filter) == 0)
	return (-1);
    xmlNodeAddContent(xp, (const xmlChar *) expr);
    return (0);
}

/* build_template - the ds:Signature template of PROFILE.md section 6 */
static xmlNodePtr build_template(xmlDocPtr doc, int n, SHAPE shape, X509 *cert,
				         STACK_OF(X509) *chain)
{
    xmlNodePtr sig;
    xmlNodePtr si;
    xmlNodePtr ref;
    xmlNodePtr tr;
    xmlNodePtr x5;
    xmlNsPtr ds;
    char    buf[XP_MAX];
    char   *b64;
    int     i;
    int     bad = 0;

    if ((sig = xmlNewDocNode(doc, 0, (const xmlChar *) "Signature", 0)) == 0)
	return (0);
    if ((ds = xmlNewNs(sig, (const xmlChar *) CM_DSIG_NS, (const xmlChar *) "ds")) == 0)
	bad = 1;
    xmlSetNs(sig, ds);
    snprintf(buf, sizeof(buf), SIG_ID_PREFIX "%d", n);
    if (xmlNewProp(sig, (const xmlChar *) "Id", (const xmlChar *) buf) == 0
	|| (si = xmlNewChild(sig, ds, (const xmlChar *) "SignedInfo", 0)) == 0
	|| add_alg(si, ds, "CanonicalizationMethod", ALG_EXC_C14N) == 0
	|| add_alg(si, ds, "SignatureMethod", ALG_RSA_SHA256) == 0
	|| (ref = xmlNewChild(si, ds, (const xmlChar *) "Reference", 0)) == 0
	|| xmlNewProp(ref, (const xmlChar *) "URI", (const xmlChar *) "") == 0
	|| (tr = xmlNewChild(ref, ds, (const xmlChar *) "Transforms", 0)) == 0) {
	xmlFreeNode(sig);
	return (0);
    }
    if (shape == SHAPE_POSTMARK)
	bad |= add_filter(tr, ds, "intersect", XP_POSTMARK, "c", CM_NS) != 0;
    else if (shape == SHAPE_RECEIPT)
	bad |= add_filter(tr, ds, "intersect", XP_CHILDREN, "c", CM_NS) != 0
	    || add_filter(tr, ds, "subtract", XP_RESPONSE, "c", CM_NS) != 0;
    snprintf(buf, sizeof(buf), XP_LATER_FMT, n);
    bad |= add_filter(tr, ds, "subtract", buf, "ds", CM_DSIG_NS) != 0;
    bad |= add_alg(tr, ds, "Transform", ALG_EXC_C14N) == 0;
    bad |= add_alg(ref, ds, "DigestMethod", ALG_SHA256) == 0;
    bad |= xmlNewChild(ref, ds, (const xmlChar *) "DigestValue", 0) == 0;
    bad |= xmlNewChild(sig, ds, (const xmlChar *) "SignatureValue", 0) == 0;
    if (bad == 0 && (x5 = xmlNewChild(xmlNewChild(sig, ds, (const xmlChar *) "KeyInfo", 0),
				  ds, (const xmlChar *) "X509Data", 0)) != 0) {
	for (i = -1; bad == 0 && i < (chain ? sk_X509_num(chain) : 0); i++) {
	    if ((b64 = cm_cert_to_b64(i < 0 ? cert : sk_X509_value(chain, i), 0)) == 0) {
		bad = 1;
		break;
	    }
	    bad |= xmlNewTextChild(x5, ds, (const xmlChar *) "X509Certificate",
				   (const xmlChar *) b64) == 0;
	    free(b64);
	}
    } else
	bad = 1;
    if (bad) {
	xmlFreeNode(sig);
	return (0);
    }
    return (sig);
}

/* make_key - an xmlsec key holding an OpenSSL key (a new reference) */
static xmlSecKeyPtr make_key(EVP_PKEY *pkey)
{
    xmlSecKeyDataPtr data;
    xmlSecKeyPtr key;

    if (EVP_PKEY_up_ref(pkey) != 1)
	return (0);
    if ((data = xmlSecOpenSSLEvpKeyAdopt(pkey)) == 0) {
	EVP_PKEY_free(pkey);
	return (0);
    }
    if ((key = xmlSecKeyCreate()) == 0) {
	xmlSecKeyDataDestroy(data);
	return (0);
    }
    if (xmlSecKeySetValue(key, data) < 0) {
	xmlSecKeyDataDestroy(data);
	xmlSecKeyDestroy(key);
	return (0);
    }
    return (key);
}

/* new_ctx - a DSig context with only our algorithms and no keys manager */
static xmlSecDSigCtxPtr new_ctx(EVP_PKEY *pkey)
{
    xmlSecDSigCtxPtr ctx;

    if ((ctx = xmlSecDSigCtxCreate(0)) == 0)
	return (0);
    if ((ctx->signKey = make_key(pkey)) == 0
	|| xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformXPath2Id) < 0
	|| xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0
	|| xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0
	|| xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0
	|| xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0) {
	xmlSecDSigCtxDestroy(ctx);
	return (0);
    }
    ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
    return (ctx);
}

/* cm_dsig_sign - add and compute signature N in its place */
int     cm_dsig_sign(xmlDocPtr doc, CM_DSIG_PLACE place, EVP_PKEY *key, X509 *cert,
		             STACK_OF(X509) *chain, char *err, size_t errlen)
{
    const struct root_rule *rr;
    xmlNodePtr sigs[CM_SIGNATURES_MAX + 1];
    int     seen[CM_SIGNATURES_MAX + 1];
    xmlNodePtr where;
    xmlNodePtr sig;
    xmlSecDSigCtxPtr ctx;
    const SLOT *slot;
    int     count = 0;
    int     n;
    int     i;
    int     ok;

    if (doc == 0 || key == 0 || cert == 0) {
	fmt(err, errlen, "no document, key or certificate");
	return (-1);
    }
    if ((rr = root_rule_of(doc)) == 0) {
	fmt(err, errlen, "the root element is not an X.1341 notice");
	return (-1);
    }
    collect_sigs(xmlDocGetRootElement(doc), sigs, CM_SIGNATURES_MAX, &count, 0);
    n = count + 1;
    if (count > CM_SIGNATURES_MAX || n > rr->max) {
	fmt(err, errlen, "a %s carries at most %d signature(s); it has %d",
	    rr->root, rr->max, count);
	return (-1);
    }
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < count; i++) {
	int     k = sig_number(sigs[i]);

	if (k == 0 || k > count || seen[k]++) {
	    fmt(err, errlen, "existing signatures are not numbered cmail-sig-1..%d", count);
	    return (-1);
	}
    }
    slot = &rr->slots[n - 1];
    if (slot->place != place) {
	fmt(err, errlen, "signature %d of a %s goes in %s, not in %s", n, rr->root,
	    cm_dsig_place_name(slot->place), cm_dsig_place_name(place));
	return (-1);
    }
    if ((where = cm_dsig_place_node(doc, place)) == 0) {
	fmt(err, errlen, "the %s has no %s element", rr->root, cm_dsig_place_name(place));
	return (-1);
    }
    if (chain && sk_X509_num(chain) >= CM_CHAIN_MAX) {
	fmt(err, errlen, "a chain of more than %d certificates", CM_CHAIN_MAX - 1);
	return (-1);
    }
    if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
	fmt(err, errlen, "the signing key is not an RSA key");
	return (-1);
    }
    if (X509_check_private_key(cert, key) != 1) {
	ERR_clear_error();
	fmt(err, errlen, "the certificate does not match the signing key");
	return (-1);
    }
    if ((sig = build_template(doc, n, slot->shape, cert, chain)) == 0) {
	fmt(err, errlen, "out of memory building the signature template");
	return (-1);
    }
    xmlAddChild(where, sig);
    if ((ctx = new_ctx(key)) == 0) {
	fmt(err, errlen, "cannot create the xmlsec1 signature context");
	ok = 0;
    } else {
	ok = xmlSecDSigCtxSign(ctx, sig) >= 0;
	if (!ok)
	    fmt(err, errlen, "xmlsec1 could not compute signature %d", n);
	xmlSecDSigCtxDestroy(ctx);
    }
    if (!ok) {
	xmlUnlinkNode(sig);
	xmlFreeNode(sig);
	return (-1);
    }
    return (n);
}

 /*
  * Verification: the shape of a signature.
  */

#define KIDS_MAX (CM_CHAIN_MAX + 1)

/* kids - element children; -1 on text, comments or PIs, or too many */
static int kids(xmlNodePtr parent, xmlNodePtr *out, int max)
{
    xmlNodePtr cur;
    const xmlChar *p;
    int     n = 0;

    for (cur = parent->children; cur; cur = cur->next) {
	if (cur->type == XML_ELEMENT_NODE) {
	    if (n >= max)
		return (-1);
	    out[n++] = cur;
	} else if (cur->type == XML_TEXT_NODE) {
	    for (p = cur->content; p && *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
		    return (-1);
	} else
	    return (-1);
    }
    return (n);
}

/* text_only - element whose children are text nodes only */
static int text_only(xmlNodePtr node)
{
    xmlNodePtr cur;

    for (cur = node->children; cur; cur = cur->next)
	if (cur->type != XML_TEXT_NODE)
	    return (0);
    return (1);
}

/* attrs_are - the element has exactly the listed unqualified attributes */
static int attrs_are(xmlNodePtr node, const char *a1, const char *a2)
{
    xmlAttrPtr at;
    int     n = 0;
    int     want = (a1 != 0) + (a2 != 0);

    for (at = node->properties; at; at = at->next) {
	if (at->ns != 0)
	    return (0);
	if ((a1 && strcmp((const char *) at->name, a1) == 0)
	    || (a2 && strcmp((const char *) at->name, a2) == 0))
	    n++;
	else
	    return (0);
    }
    return (n == want);
}

/* attr_is - an unqualified attribute has exactly this value */
static int attr_is(xmlNodePtr node, const char *name, const char *value)
{
    xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *) name);
    int     eq = v != 0 && strcmp((const char *) v, value) == 0;

    xmlFree(v);
    return (eq);
}

/* alg_leaf - ds:NAME Algorithm=ALG with no child elements */
static int alg_leaf(xmlNodePtr node, const char *name, const char *alg)
{
    xmlNodePtr dummy[1];

    return (is_elem(node, CM_DSIG_NS, name) && attrs_are(node, "Algorithm", 0)
	    && attr_is(node, "Algorithm", alg) && kids(node, dummy, 0) == 0);
}

/* ns_bound - prefix is bound to href where node is */
static int ns_bound(xmlNodePtr node, const char *prefix, const char *href)
{
    xmlNsPtr ns = xmlSearchNs(node->doc, node, (const xmlChar *) prefix);

    return (ns && ns->href && strcmp((const char *) ns->href, href) == 0);
}

/* filter_is - a Filter 2.0 transform with exactly this one XPath */
static int filter_is(xmlNodePtr t, const char *filter, const char *expr)
{
    xmlNodePtr xp[1];
    xmlChar *text;
    int     eq;

    if (!is_elem(t, CM_DSIG_NS, "Transform") || !attrs_are(t, "Algorithm", 0)
	|| !attr_is(t, "Algorithm", CM_FILTER2_NS) || kids(t, xp, 1) != 1)
	return (0);
    if (!is_elem(xp[0], CM_FILTER2_NS, "XPath") || !attrs_are(xp[0], "Filter", 0)
	|| !attr_is(xp[0], "Filter", filter) || !text_only(xp[0]))
	return (0);
    if ((strstr(expr, "c:") && !ns_bound(xp[0], "c", CM_NS))
	|| (strstr(expr, "ds:") && !ns_bound(xp[0], "ds", CM_DSIG_NS)))
	return (0);
    text = xmlNodeGetContent(xp[0]);
    eq = text != 0 && strcmp((const char *) text, expr) == 0;
    xmlFree(text);
    return (eq);
}

/* check_shape - the signature is exactly PROFILE.md's shape for N */
static int check_shape(xmlNodePtr sig, int n, SHAPE shape, STACK_OF(X509) **certs,
		               char *why, size_t len)
{
    xmlNodePtr s[KIDS_MAX];
    xmlNodePtr si[KIDS_MAX];
    xmlNodePtr ref[KIDS_MAX];
    xmlNodePtr tr[KIDS_MAX];
    xmlNodePtr ki[KIDS_MAX];
    xmlNodePtr x5[KIDS_MAX];
    char    later[XP_MAX];
    int     want;
    int     nt;
    int     nx;
    int     i;
    int     ok;
    xmlChar *b64;
    X509   *cert;

    *certs = 0;
    if (!attrs_are(sig, "Id", 0) || kids(sig, s, KIDS_MAX) != 3
	|| !is_elem(s[0], CM_DSIG_NS, "SignedInfo")
	|| !is_elem(s[1], CM_DSIG_NS, "SignatureValue")
	|| !is_elem(s[2], CM_DSIG_NS, "KeyInfo")) {
	fmt(why, len, "not SignedInfo, SignatureValue, KeyInfo (and nothing else)");
	return (-1);
    }
    if (!attrs_are(s[0], 0, 0) || kids(s[0], si, KIDS_MAX) != 3
	|| !alg_leaf(si[0], "CanonicalizationMethod", ALG_EXC_C14N)
	|| !alg_leaf(si[1], "SignatureMethod", ALG_RSA_SHA256)
	|| !is_elem(si[2], CM_DSIG_NS, "Reference")) {
	fmt(why, len, "SignedInfo is not exclusive C14N, RSA-SHA256 and one Reference");
	return (-1);
    }
    if (!attrs_are(si[2], "URI", 0) || !attr_is(si[2], "URI", "")
	|| kids(si[2], ref, KIDS_MAX) != 3
	|| !is_elem(ref[0], CM_DSIG_NS, "Transforms") || !attrs_are(ref[0], 0, 0)
	|| !alg_leaf(ref[1], "DigestMethod", ALG_SHA256)
	|| !is_elem(ref[2], CM_DSIG_NS, "DigestValue") || !attrs_are(ref[2], 0, 0)
	|| !text_only(ref[2])) {
	fmt(why, len, "the Reference is not URI=\"\" with SHA-256");
	return (-1);
    }
    want = (shape == SHAPE_POSTMARK ? 3 : shape == SHAPE_RECEIPT ? 4 : 2);
    nt = kids(ref[0], tr, KIDS_MAX);
    snprintf(later, sizeof(later), XP_LATER_FMT, n);
    ok = nt == want;
    i = 0;
    if (ok && shape == SHAPE_POSTMARK)
	ok = filter_is(tr[i++], "intersect", XP_POSTMARK);
    else if (ok && shape == SHAPE_RECEIPT)
	ok = filter_is(tr[i++], "intersect", XP_CHILDREN)
	    && filter_is(tr[i++], "subtract", XP_RESPONSE);
    if (ok)
	ok = filter_is(tr[i++], "subtract", later) && alg_leaf(tr[i], "Transform", ALG_EXC_C14N);
    if (!ok) {
	fmt(why, len, "its transforms are not the ones for signature %d covering %s",
	    n, cm_dsig_covers_name(shape_covers(shape)));
	return (-1);
    }
    if (!attrs_are(s[1], 0, 0) || !text_only(s[1])) {
	fmt(why, len, "malformed SignatureValue");
	return (-1);
    }
    if (!attrs_are(s[2], 0, 0) || kids(s[2], ki, KIDS_MAX) != 1
	|| !is_elem(ki[0], CM_DSIG_NS, "X509Data") || !attrs_are(ki[0], 0, 0)
	|| (nx = kids(ki[0], x5, CM_CHAIN_MAX)) < 1) {
	fmt(why, len, "KeyInfo is not one X509Data with 1 to %d certificates", CM_CHAIN_MAX);
	return (-1);
    }
    if ((*certs = sk_X509_new_null()) == 0) {
	fmt(why, len, "out of memory");
	return (-1);
    }
    for (i = 0; i < nx; i++) {
	if (!is_elem(x5[i], CM_DSIG_NS, "X509Certificate") || !attrs_are(x5[i], 0, 0)
	    || !text_only(x5[i])) {
	    fmt(why, len, "X509Data holds something other than X509Certificate");
	    break;
	}
	b64 = xmlNodeGetContent(x5[i]);
	cert = b64 ? cm_cert_from_b64((const char *) b64, strlen((const char *) b64)) : 0;
	xmlFree(b64);
	if (cert == 0 || !sk_X509_push(*certs, cert)) {
	    X509_free(cert);
	    fmt(why, len, "X509Certificate %d is not a certificate", i + 1);
	    break;
	}
    }
    if (i < nx) {
	sk_X509_pop_free(*certs, X509_free);
	*certs = 0;
	return (-1);
    }
    return (0);
}

/* crypto_verify - xmlsec1 verifies sig with cert's public key only */
static int crypto_verify(xmlNodePtr sig, X509 *cert, char *why, size_t len)
{
    EVP_PKEY *pub;
    xmlSecDSigCtxPtr ctx;
    int     ok = 0;

    if ((pub = X509_get_pubkey(cert)) == 0) {
	fmt(why, len, "cannot read the certificate's public key");
	return (-1);
    }
    if (EVP_PKEY_base_id(pub) != EVP_PKEY_RSA) {
	EVP_PKEY_free(pub);
	fmt(why, len, "the signer's key is not an RSA key");
	return (-1);
    }
    ctx = new_ctx(pub);
    EVP_PKEY_free(pub);
    if (ctx == 0) {
	fmt(why, len, "cannot create the xmlsec1 signature context");
	return (-1);
    }
    if (xmlSecDSigCtxVerify(ctx, sig) < 0)
	fmt(why, len, "xmlsec1 could not process the signature");
    else if (ctx->status != xmlSecDSigStatusSucceeded)
	fmt(why, len, "the digest or signature value does not match (the signed data changed)");
    else if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1)
	fmt(why, len, "xmlsec1 processed more than one reference");
    else
	ok = 1;
    xmlSecDSigCtxDestroy(ctx);
    ERR_clear_error();
    return (ok ? 0 : -1);
}

/* printable - copy bytes, replacing anything not printable ASCII */
static void printable(char *dst, size_t dlen, const unsigned char *src, size_t slen)
{
    size_t  i;

    if (dlen == 0)
	return;
    for (i = 0; i < slen && i + 1 < dlen; i++)
	dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char) src[i] : '?';
    dst[i] = 0;
}

/* signer_names - subject (RFC 2253) and mail address of a certificate */
static void signer_names(X509 *cert, CM_DSIG_SIG *s)
{
    GENERAL_NAMES *gens;
    GENERAL_NAME *g;
    X509_NAME *subj = X509_get_subject_name(cert);
    X509_NAME_ENTRY *ent;
    ASN1_STRING *str;
    BIO    *bio;
    char   *data;
    long    n;
    int     i;
    int     idx;

    if ((bio = BIO_new(BIO_s_mem())) != 0) {
	X509_NAME_print_ex(bio, subj, 0, XN_FLAG_RFC2253);
	n = BIO_get_mem_data(bio, &data);
	printable(s->subject, sizeof(s->subject), (const unsigned char *) data,
		  n > 0 ? (size_t) n : 0);
	BIO_free(bio);
    }
    s->address[0] = 0;
    if ((gens = X509_get_ext_d2i(cert, NID_subject_alt_name, 0, 0)) != 0) {
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
	    g = sk_GENERAL_NAME_value(gens, i);
	    if (g->type == GEN_EMAIL) {
		printable(s->address, sizeof(s->address), ASN1_STRING_get0_data(g->d.rfc822Name),
			  (size_t) ASN1_STRING_length(g->d.rfc822Name));
		break;
	    }
	}
	GENERAL_NAMES_free(gens);
    }
    if (s->address[0] == 0 && (idx = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, -1)) >= 0
	&& (ent = X509_NAME_get_entry(subj, idx)) != 0
	&& (str = X509_NAME_ENTRY_get_data(ent)) != 0)
	printable(s->address, sizeof(s->address), ASN1_STRING_get0_data(str),
		  (size_t) ASN1_STRING_length(str));
}

/* entity_address - the address a sender/recipient certificate must carry */
static int entity_address(xmlDocPtr doc, ADDR_RULE rule, char *buf, size_t len)
{
    xmlNodePtr info = cm_dsig_place_node(doc, CM_DSIG_INFO);
    xmlNodePtr ent;
    xmlNodePtr cur;
    xmlChar *addr = 0;
    int     found = 0;

    buf[0] = 0;
    if (rule == ADDR_RECIPIENT) {
	if ((ent = child_elem(info, CM_NS, "Entity")) == 0)
	    return (-1);
	addr = xmlGetNoNsProp(ent, (const xmlChar *) "EmailAddress");
    } else if (rule == ADDR_SENDER) {
	for (cur = child_elem(info, CM_NS, "Entities"); cur && (cur = cur->children) != 0;) {
	    for (; cur; cur = cur->next) {
		if (is_elem(cur, CM_NS, "Entity") && attr_is(cur, "Type", "from")) {
		    if (found++) {
			xmlFree(addr);
			return (-1);		/* two senders: ambiguous */
		    }
		    addr = xmlGetNoNsProp(cur, (const xmlChar *) "EmailAddress");
		}
	    }
	    break;
	}
	if (found == 0)
	    return (0);			/* no sender entity: no constraint */
    } else
	return (0);
    if (addr == 0 || strlen((const char *) addr) >= len || addr[0] == 0) {
	xmlFree(addr);
	return (-1);
    }
    strcpy(buf, (const char *) addr);
    xmlFree(addr);
    return (0);
}

/* check_one - shape, crypto and certificate of one signature */
static void check_one(xmlDocPtr doc, xmlNodePtr node, const struct root_rule *rr,
		              CM_TRUST *trust, CM_DSIG_SIG *s)
{
    const SLOT *slot;
    STACK_OF(X509) *certs = 0;
    STACK_OF(X509) *untrusted = 0;
    CM_CERT_OPTS opts;
    char    addr[CM_ADDRESS_MAX + 1];
    char    why[CM_DSIG_TEXT_MAX];
    unsigned int mdlen;
    int     i;

    snprintf(s->cert_reason, sizeof(s->cert_reason), "not checked");
    if (s->n < 1 || s->n > rr->max) {
	if (s->reason[0] == 0)
	    fmt(s->reason, sizeof(s->reason), "a %s has no signature %d", rr->root, s->n);
	return;
    }
    slot = &rr->slots[s->n - 1];
    s->who = slot->who;
    s->role = slot->role;
    s->covers = shape_covers(slot->shape);
    if (s->place != slot->place) {
	fmt(s->reason, sizeof(s->reason), "signature %d of a %s belongs in %s, found in %s",
	    s->n, rr->root, cm_dsig_place_name(slot->place), cm_dsig_place_name(s->place));
	return;
    }
    if (check_shape(node, s->n, slot->shape, &certs, why, sizeof(why)) < 0) {
	fmt(s->reason, sizeof(s->reason), "%s", why);
	return;
    }
    s->shape_ok = 1;
    signer_names(sk_X509_value(certs, 0), s);
    if (!X509_digest(sk_X509_value(certs, 0), EVP_sha256(), s->cert_sha256, &mdlen))
	memset(s->cert_sha256, 0, sizeof(s->cert_sha256));
    if (crypto_verify(node, sk_X509_value(certs, 0), why, sizeof(why)) == 0)
	s->crypto_ok = 1;
    else
	fmt(s->reason, sizeof(s->reason), "%s", why);
    if (trust == 0) {
	snprintf(s->cert_reason, sizeof(s->cert_reason), "not checked: no trust anchors");
    } else {
	memset(&opts, 0, sizeof(opts));
	opts.role = slot->role;
	opts.purpose = slot->purpose;
	opts.usage = CM_USE_SIGN;
	if (entity_address(doc, slot->addr, addr, sizeof(addr)) < 0) {
	    snprintf(s->cert_reason, sizeof(s->cert_reason),
		     "the notice names no single address for the %s", slot->who);
	} else {
	    if (addr[0]) {
		opts.addresses[0] = addr;
		opts.n_addresses = 1;
	    }
	    if (sk_X509_num(certs) > 1 && (untrusted = sk_X509_new_null()) != 0)
		for (i = 1; i < sk_X509_num(certs); i++)
		    sk_X509_push(untrusted, sk_X509_value(certs, i));
	    opts.untrusted = untrusted;
	    if (cm_cert_validate(trust, sk_X509_value(certs, 0), &opts,
				 s->cert_reason, sizeof(s->cert_reason)) == 0) {
		s->cert_ok = 1;
		snprintf(s->cert_reason, sizeof(s->cert_reason), "ok");
	    } else if (s->cert_reason[0] == 0)
		snprintf(s->cert_reason, sizeof(s->cert_reason), "invalid");
	    sk_X509_free(untrusted);
	}
	if (!s->cert_ok && s->reason[0] == 0)
	    fmt(s->reason, sizeof(s->reason), "certificate: %s", s->cert_reason);
    }
    sk_X509_pop_free(certs, X509_free);
}

/* by_number - qsort order of the report: by N, malformed last */
static int by_number(const void *a, const void *b)
{
    int     na = ((const CM_DSIG_SIG *) a)->n;
    int     nb = ((const CM_DSIG_SIG *) b)->n;

    na = na ? na : CM_SIGNATURES_MAX + 1;
    nb = nb ? nb : CM_SIGNATURES_MAX + 1;
    return (na - nb);
}

/* cm_dsig_verify - check every signature of a notice */
int     cm_dsig_verify(xmlDocPtr doc, CM_TRUST *trust, CM_DSIG_REPORT *rep)
{
    const struct root_rule *rr;
    xmlNodePtr root;
    xmlNodePtr nodes[CM_SIGNATURES_MAX];
    int     seen[CM_SIGNATURES_MAX + 1];
    int     count = 0;
    int     i;
    char   *reason;

    memset(rep, 0, sizeof(*rep));
    reason = rep->reason;
    if (doc == 0 || (root = xmlDocGetRootElement(doc)) == 0) {
	snprintf(reason, sizeof(rep->reason), "no document");
	return (-1);
    }
    printable(rep->root, sizeof(rep->root), root->name, strlen((const char *) root->name));
    if (cm_xml_validate(doc, cm_notice_schema_path(cm_notice_type_of(doc)), rep->schema_reason,
			sizeof(rep->schema_reason)) == 0) {
	rep->schema_ok = 1;
    } else {
	if (rep->schema_reason[0] == 0)
	    snprintf(rep->schema_reason, sizeof(rep->schema_reason), "does not validate");
	fmt(reason, sizeof(rep->reason), "schema: %s", rep->schema_reason);
    }
    if ((rr = root_rule_of(doc)) == 0) {
	if (*reason == 0)
	    snprintf(reason, sizeof(rep->reason), "%s is not an X.1341 notice", rep->root);
	return (-1);
    }
    collect_sigs(root, nodes, CM_SIGNATURES_MAX, &count, 0);
    if (count > CM_SIGNATURES_MAX) {
	if (*reason == 0)
	    snprintf(reason, sizeof(rep->reason), "more than %d signatures", CM_SIGNATURES_MAX);
	return (-1);
    }
    rep->n = count;
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < count; i++) {
	CM_DSIG_SIG *s = &rep->sigs[i];

	s->n = sig_number(nodes[i]);
	s->place = place_of(doc, nodes[i]);
	if (s->n == 0)
	    fmt(s->reason, sizeof(s->reason), "its Id is not cmail-sig-N");
	else if (seen[s->n]++)
	    fmt(s->reason, sizeof(s->reason), "duplicate Id cmail-sig-%d", s->n);
	else if (s->place == 0)
	    fmt(s->reason, sizeof(s->reason), "not in DigitalPostmark, EnvelopeInformation "
		"or EntityChallenge");
    }
    if (*reason == 0 && count == 0)
	snprintf(reason, sizeof(rep->reason), "the %s is not signed", rr->root);
    if (*reason == 0 && (count < rr->min || count > rr->max))
	snprintf(reason, sizeof(rep->reason), "a %s carries %d to %d signatures, this one %d",
		 rr->root, rr->min, rr->max, count);
    for (i = 1; *reason == 0 && i <= count; i++)
	if (seen[i] == 0)
	    snprintf(reason, sizeof(rep->reason), "signatures are not numbered 1..%d "
		     "(cmail-sig-%d is missing)", count, i);
    for (i = 0; i < count; i++)
	if (rep->sigs[i].reason[0] == 0)
	    check_one(doc, nodes[i], rr, trust, &rep->sigs[i]);
	else
	    snprintf(rep->sigs[i].cert_reason, sizeof(rep->sigs[i].cert_reason), "not checked");
    qsort(rep->sigs, (size_t) count, sizeof(rep->sigs[0]), by_number);
    for (i = 0; *reason == 0 && i < count; i++)
	if (rep->sigs[i].reason[0])
	    fmt(reason, sizeof(rep->reason), "signature %d: %s", rep->sigs[i].n,
		     rep->sigs[i].reason);
    if (*reason == 0 && trust == 0)
	snprintf(reason, sizeof(rep->reason), "no trust anchors given (--ca)");
    rep->valid = (*reason == 0);
    return (rep->valid ? 0 : -1);
}

/* cm_dsig_place_cert - the certificate of the nth (from 0) signature at a place */
X509   *cm_dsig_place_cert(xmlDocPtr doc, CM_DSIG_PLACE place, int nth)
{
    xmlNodePtr at = cm_dsig_place_node(doc, place);
    xmlNodePtr sig, ki, xd, c;

    for (sig = at ? at->children : 0; sig; sig = sig->next)
	if (sig->type == XML_ELEMENT_NODE && xmlStrcmp(sig->name, BAD_CAST "Signature") == 0
	    && nth-- == 0)
	    break;
    for (ki = sig ? sig->children : 0; ki; ki = ki->next)
	if (ki->type == XML_ELEMENT_NODE && xmlStrcmp(ki->name, BAD_CAST "KeyInfo") == 0)
	    break;
    for (xd = ki ? ki->children : 0; xd; xd = xd->next)
	if (xd->type == XML_ELEMENT_NODE && xmlStrcmp(xd->name, BAD_CAST "X509Data") == 0)
	    break;
    for (c = xd ? xd->children : 0; c; c = c->next) {
	if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST "X509Certificate") == 0) {
	    xmlChar *text = xmlNodeGetContent(c);
	    X509   *cert = text ? cm_cert_from_b64((char *) text, strlen((char *) text)) : 0;

	    xmlFree(text);
	    return (cert);
	}
    }
    return (0);
}
