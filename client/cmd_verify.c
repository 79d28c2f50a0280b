/*++
 * NAME
 *	cmail-verify 1
 * SUMMARY
 *	verify an X.1341 notice or notice mail offline
 * SYNOPSIS
 *	cmail verify FILE [--ca FILE] [--crl FILE|DIR]
 * DESCRIPTION
 *	FILE is a notice (XML) or a notice mail: an RFC 5322 message with
 *	the notice attached as an application/octet-stream (or
 *	application/xml, text/xml) part whose file name ends in .xml
 *	(depositNotice.xml, receiptNotice.xml, transitNotice.xml,
 *	nonDeliveryNotice.xml), base64-encoded (Appendix I). The first
 *	such attachment is checked.
 *
 *	Besides the six X.1341 notices it accepts Cmail's own
 *	NonDeliveryNotice (schemas/cmail-extensions.xsd) and then also
 *	prints the undelivered recipients, the reason and the time.
 *
 *	The notice is parsed with the hardened parser, validated against
 *	the schema, and every signature is checked (cm_dsig(3)): its place
 *	and transforms, its value with the certificate in its own KeyInfo,
 *	and that certificate against the trust anchors (--ca) and CRLs
 *	(--crl). The report names the notice type, the envelope id, the
 *	hashes, the entities, and for each signature its signer's subject,
 *	address, role and what it covers. The last line is VALID or
 *	"INVALID: reason".
 *
 *	Without --ca the signatures and the schema are still checked but
 *	the notice is INVALID: "no trust anchors given (--ca)".
 * EXIT STATUS
 *	0 valid, 1 invalid, 2 usage error (no file, unknown option,
 *	unreadable file).
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include <libxml/tree.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/errors.h>

#include "cm_log.h"
#include "cm_limits.h"
#include "cm_base64.h"
#include "cm_xml.h"
#include "cm_cert.h"
#include "cm_dsig.h"
#include "cm_notice.h"
#include "cmail.h"

 /*
  * A notice mail: the notice base64-encoded (4/3) with line breaks, plus
  * headers and a readable summary.
  */
#define MAIL_MAX	(2 * CM_NOTICE_MAX + 1024 * 1024)
#define MIME_DEPTH_MAX	4		/* nested multiparts */
#define MIME_PARTS_MAX	64		/* parts per multipart */
#define HDR_MAX		4096		/* one unfolded header */
#define SHOW_MAX	200		/* characters shown of a notice string */

static const char usage_text[] =
"usage: cmail verify FILE [--ca FILE] [--crl FILE|DIR]\n"
"\n"
"Verify an X.1341 notice (XML) or a notice mail (.eml with the notice\n"
"attached as depositNotice.xml, receiptNotice.xml, transitNotice.xml,\n"
"nonDeliveryNotice.xml, ...).\n"
"Checks the schema, every signature (place, transforms, value) and every\n"
"signer certificate (RFC 3850 path validation to the --ca anchors, CRLs).\n"
"\n"
"  --ca FILE        trust anchors (PEM); without it the notice is INVALID\n"
"  --crl FILE|DIR   CRLs (PEM/DER file or a directory of them)\n"
"\n"
"Prints the notice type, envelope id, hashes, entities and each signature\n"
"(signer, address, role, what it covers), then VALID or INVALID: reason.\n"
"Exit status: 0 valid, 1 invalid, 2 usage error.\n";

/* show - a notice string made safe to print (bounded, printable ASCII) */
static const char *show(const xmlChar *s, char *buf, size_t len)
{
    size_t  i;

    if (s == 0)
	return ("(none)");
    for (i = 0; s[i] && i + 1 < len && i < SHOW_MAX; i++)
	buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char) s[i] : '?';
    buf[i] = 0;
    if (s[i] && i + 4 < len)
	strcpy(buf + i, "...");
    return (buf);
}

/* read_file - the whole file, at most max bytes; NULL if unreadable */
static char *read_file(const char *path, size_t max, size_t *len, int *too_big)
{
    FILE   *fp;
    char   *buf;
    size_t  n;

    *too_big = 0;
    if ((fp = fopen(path, "rb")) == 0)
	return (0);
    if ((buf = malloc(max + 1)) == 0) {
	fclose(fp);
	return (0);
    }
    n = fread(buf, 1, max + 1, fp);
    if (ferror(fp)) {
	fclose(fp);
	free(buf);
	return (0);
    }
    fclose(fp);
    if (n > max) {
	*too_big = 1;
	free(buf);
	return (0);
    }
    buf[n] = 0;
    *len = n;
    return (buf);
}

 /*
  * Minimal MIME walking: enough to find the notice attachment.
  */
typedef struct {
    char    type[HDR_MAX];		/* Content-Type value */
    char    cte[HDR_MAX];		/* Content-Transfer-Encoding */
    char    disp[HDR_MAX];		/* Content-Disposition */
} MIME_HDRS;

/* body_start - offset of the body (after the empty line), len if none */
static size_t body_start(const char *p, size_t len)
{
    size_t  i;

    if (len >= 2 && p[0] == '\r' && p[1] == '\n')
	return (2);
    if (len >= 1 && p[0] == '\n')
	return (1);
    for (i = 0; i + 1 < len; i++) {
	if (p[i] == '\n' && p[i + 1] == '\n')
	    return (i + 2);
	if (p[i] == '\n' && p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
	    return (i + 3);
    }
    return (len);
}

/* parse_headers - the three MIME headers we need, unfolded and bounded */
static void parse_headers(const char *p, size_t len, MIME_HDRS *h)
{
    size_t  i = 0;
    char   *dst = 0;
    size_t  used = 0;

    memset(h, 0, sizeof(*h));
    while (i < len) {
	size_t  eol = i;

	while (eol < len && p[eol] != '\n')
	    eol++;
	if (p[i] == ' ' || p[i] == '\t') {
	    /* continuation of the previous header */
	} else {
	    dst = 0;
	    if (eol - i > 13 && strncasecmp(p + i, "Content-Type:", 13) == 0)
		dst = h->type, i += 13;
	    else if (eol - i > 26 && strncasecmp(p + i, "Content-Transfer-Encoding:", 26) == 0)
		dst = h->cte, i += 26;
	    else if (eol - i > 20 && strncasecmp(p + i, "Content-Disposition:", 20) == 0)
		dst = h->disp, i += 20;
	    used = 0;
	}
	for (; dst && i < eol; i++) {
	    if (p[i] == '\r')
		continue;
	    if (used + 1 < HDR_MAX)
		dst[used++] = (p[i] == '\t') ? ' ' : p[i];
	    dst[used] = 0;
	}
	i = eol + 1;
    }
}

/* get_param - a MIME parameter value (quoted or not); 0 if found */
static int get_param(const char *hdr, const char *name, char *out, size_t outlen)
{
    const char *p = hdr;
    size_t  nlen = strlen(name);
    size_t  n = 0;

    while ((p = strchr(p, ';')) != 0) {
	p++;
	while (*p == ' ')
	    p++;
	if (strncasecmp(p, name, nlen) != 0 || p[nlen] != '=')
	    continue;
	p += nlen + 1;
	if (*p == '"') {
	    for (p++; *p && *p != '"' && n + 1 < outlen; p++)
		out[n++] = *p;
	} else {
	    for (; *p && *p != ';' && *p != ' ' && n + 1 < outlen; p++)
		out[n++] = *p;
	}
	out[n] = 0;
	return (n > 0 ? 0 : -1);
    }
    return (-1);
}

/* type_is - the Content-Type value starts with this media type */
static int type_is(const char *hdr, const char *type)
{
    const char *p = hdr;
    size_t  n = strlen(type);

    while (*p == ' ')
	p++;
    return (strncasecmp(p, type, n) == 0 && (p[n] == 0 || p[n] == ';' || p[n] == ' '));
}

/* ends_xml - a file name ending in .xml */
static int ends_xml(const char *name)
{
    size_t  n = strlen(name);

    return (n > 4 && strcasecmp(name + n - 4, ".xml") == 0);
}

/* find_notice - the notice attachment of a message; 1 found, 0 not, -1 bad */
static int find_notice(const char *msg, size_t len, int depth, char **out, size_t *outlen,
		               char *name, size_t namelen, char *err, size_t errlen)
{
    MIME_HDRS h;
    size_t  b = body_start(msg, len);
    char    boundary[128];
    char    fname[256];
    const char *body = msg + b;
    size_t  blen = len - b;

    if (depth > MIME_DEPTH_MAX) {
	snprintf(err, errlen, "MIME nesting deeper than %d", MIME_DEPTH_MAX);
	return (-1);
    }
    parse_headers(msg, b, &h);
    if (strncasecmp(h.type + strspn(h.type, " "), "multipart/", 10) == 0) {
	size_t  blen_b;
	size_t  i = 0;
	size_t  start = (size_t) -1;
	int     parts = 0;
	int     r;

	if (get_param(h.type, "boundary", boundary, sizeof(boundary)) < 0) {
	    snprintf(err, errlen, "multipart without a boundary");
	    return (-1);
	}
	blen_b = strlen(boundary);
	while (i < blen) {
	    size_t  eol = i;

	    while (eol < blen && body[eol] != '\n')
		eol++;
	    if (eol - i >= blen_b + 2 && body[i] == '-' && body[i + 1] == '-'
		&& memcmp(body + i + 2, boundary, blen_b) == 0) {
		int     last = (eol - i >= blen_b + 4 && body[i + 2 + blen_b] == '-'
				&& body[i + 3 + blen_b] == '-');

		if (start != (size_t) -1) {
		    size_t  end = i;

		    if (++parts > MIME_PARTS_MAX) {
			snprintf(err, errlen, "more than %d MIME parts", MIME_PARTS_MAX);
			return (-1);
		    }
		    r = find_notice(body + start, end - start, depth + 1, out, outlen,
				    name, namelen, err, errlen);
		    if (r != 0)
			return (r);
		}
		if (last)
		    return (0);
		start = eol + 1 < blen ? eol + 1 : blen;
	    }
	    i = eol + 1;
	}
	return (0);
    }
    if (!type_is(h.type, "application/octet-stream") && !type_is(h.type, "application/xml")
	&& !type_is(h.type, "text/xml"))
	return (0);
    if (get_param(h.disp, "filename", fname, sizeof(fname)) < 0
	&& get_param(h.type, "name", fname, sizeof(fname)) < 0)
	return (0);
    if (!ends_xml(fname))
	return (0);
    snprintf(name, namelen, "%s", fname);
    if (type_is(h.cte, "base64")) {
	if ((*out = (char *) cm_base64_decode(body, blen, outlen)) == 0) {
	    snprintf(err, errlen, "attachment %.100s: bad base64", fname);
	    return (-1);
	}
    } else if (h.cte[0] == 0 || type_is(h.cte, "7bit") || type_is(h.cte, "8bit")
	       || type_is(h.cte, "binary")) {
	if ((*out = malloc(blen + 1)) == 0) {
	    snprintf(err, errlen, "out of memory");
	    return (-1);
	}
	memcpy(*out, body, blen);
	(*out)[blen] = 0;
	*outlen = blen;
    } else {
	snprintf(err, errlen, "attachment %.100s: unsupported transfer encoding", fname);
	return (-1);
    }
    return (1);
}

/* child - first child element in the notices namespace with this name */
static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr cur;

    for (cur = parent ? parent->children : 0; cur; cur = cur->next)
	if (cur->type == XML_ELEMENT_NODE && cur->ns
	    && strcmp((const char *) cur->ns->href, CM_NS) == 0
	    && strcmp((const char *) cur->name, name) == 0)
	    return (cur);
    return (0);
}

/* print_hash - one HashValueType element */
static void print_hash(const char *label, xmlNodePtr node)
{
    xmlChar *oid;
    xmlChar *text;
    char    b1[SHOW_MAX + 8];
    char    b2[SHOW_MAX + 8];

    if (node == 0)
	return;
    oid = xmlGetNoNsProp(node, (const xmlChar *) "AlgorithmOID");
    text = xmlNodeGetContent(node);
    printf("%s: %s (%s)\n", label, show(text, b1, sizeof(b1)),
	   oid && strcmp((const char *) oid, "1.3.14.3.2.26") == 0 ? "SHA-1" :
	   oid && strcmp((const char *) oid, "2.16.840.1.101.3.4.2.1") == 0 ? "SHA-256" :
	   show(oid, b2, sizeof(b2)));
    xmlFree(oid);
    xmlFree(text);
}

/* print_entity - address and type of an Entity */
static void print_entity(xmlNodePtr ent)
{
    xmlChar *addr = xmlGetNoNsProp(ent, (const xmlChar *) "EmailAddress");
    xmlChar *type = xmlGetNoNsProp(ent, (const xmlChar *) "Type");
    char    b1[SHOW_MAX + 8];
    char    b2[SHOW_MAX + 8];

    printf("entity: %s (%s)\n", show(addr, b1, sizeof(b1)), show(type, b2, sizeof(b2)));
    xmlFree(addr);
    xmlFree(type);
}

/* ext_child - first child element in Cmail's extension namespace */
static xmlNodePtr ext_child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr cur;

    for (cur = parent ? parent->children : 0; cur; cur = cur->next)
	if (cur->type == XML_ELEMENT_NODE && cur->ns
	    && strcmp((const char *) cur->ns->href, CM_NS_EXT) == 0
	    && strcmp((const char *) cur->name, name) == 0)
	    return (cur);
    return (0);
}

/* print_nondelivery - recipients, reason and time of a NonDeliveryNotice */
static void print_nondelivery(xmlNodePtr root)
{
    xmlNodePtr cur;
    xmlChar *v;
    char    buf[SHOW_MAX + 8];
    int     n = 0;

    for (cur = ext_child(ext_child(root, "UndeliveredRecipients"), "Recipient"); cur;
	 cur = cur->next)
	if (cur->type == XML_ELEMENT_NODE && n++ < CM_ENTITIES_MAX) {
	    v = xmlGetNoNsProp(cur, (const xmlChar *) "EmailAddress");
	    printf("undelivered: %s\n", show(v, buf, sizeof(buf)));
	    xmlFree(v);
	}
    if ((cur = ext_child(root, "Reason")) != 0) {
	v = xmlNodeGetContent(cur);
	printf("reason: %s\n", show(v, buf, sizeof(buf)));
	xmlFree(v);
    }
    if ((cur = ext_child(root, "Time")) != 0) {
	v = xmlNodeGetContent(cur);
	printf("time: %s\n", show(v, buf, sizeof(buf)));
	xmlFree(v);
    }
}

/* print_notice - what the notice says */
static void print_notice(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr pm = child(root, "DigitalPostmark");
    xmlNodePtr info = child(root, "EnvelopeInformation");
    xmlNodePtr content;
    xmlNodePtr cur;
    xmlChar *v;
    char    buf[SHOW_MAX + 8];
    int     n = 0;

    printf("notice: %s\n", show(root ? root->name : 0, buf, sizeof(buf)));
    v = pm ? xmlGetNoNsProp(pm, (const xmlChar *) "EnvelopeId") : 0;
    printf("envelope id: %s\n", show(v, buf, sizeof(buf)));
    xmlFree(v);
    for (cur = child(pm, "MimeMessageHash"); cur && n < CM_NOTICE_HASHES_MAX; cur = cur->next)
	if (cur->type == XML_ELEMENT_NODE && cur->ns && strcmp((const char *) cur->ns->href, CM_NS) == 0
	    && strcmp((const char *) cur->name, "MimeMessageHash") == 0) {
	    print_hash("MimeMessageHash", cur);
	    n++;
	}
    if ((content = child(info, "ContentEnvelopeInformation")) == 0)
	content = child(info, "BodyEnvelopeInformation");
    if (content) {
	if ((v = xmlGetNoNsProp(content, (const xmlChar *) "MessageId")) != 0)
	    printf("message id: %s\n", show(v, buf, sizeof(buf)));
	xmlFree(v);
	print_hash("UncipheredEnvelopeHash", child(content, "UncipheredEnvelopeHash"));
	print_hash("CipheredEnvelopeHash", child(content, "CipheredEnvelopeHash"));
    }
    n = 0;
    for (cur = child(child(info, "Entities"), "Entity"); cur; cur = cur->next)
	if (cur->type == XML_ELEMENT_NODE && n++ < CM_ENTITIES_MAX)
	    print_entity(cur);
    if ((cur = child(info, "Entity")) != 0)
	print_entity(cur);
    if (root && root->ns && strcmp((const char *) root->ns->href, CM_NS_EXT) == 0)
	print_nondelivery(root);
}

/* print_report - each signature and the schema result */
static void print_report(const CM_DSIG_REPORT *rep)
{
    const CM_DSIG_SIG *s;
    int     i;

    for (i = 0; i < rep->n; i++) {
	s = &rep->sigs[i];
	printf("signature %d: in %s, by %s, covers %s\n", s->n, cm_dsig_place_name(s->place),
	       cm_dsig_role_name(s), s->shape_ok ? cm_dsig_covers_name(s->covers) : "(rejected)");
	printf("  signer: %s\n", s->subject[0] ? s->subject : "(unknown)");
	printf("  address: %s\n", s->address[0] ? s->address : "(none)");
	printf("  role: %s (%s certificate)\n", cm_dsig_role_name(s),
	       s->role == CM_ROLE_SERVER ? "server" : s->role == CM_ROLE_CLIENT ? "client" : "unknown");
	if (!s->shape_ok)
	    printf("  structure: FAIL: %s\n", s->reason);
	else
	    printf("  crypto: %s%s\n", s->crypto_ok ? "ok" : "FAIL: ", s->crypto_ok ? "" : s->reason);
	printf("  certificate: %s%s\n", s->cert_ok ? "" : (strncmp(s->cert_reason, "not checked", 11) == 0 ? "" : "FAIL: "),
	       s->cert_reason);
    }
    if (rep->schema_ok)
	printf("schema: valid\n");
    else
	printf("schema: invalid: %s\n", rep->schema_reason);
}

/* cmd_verify - cmail verify FILE [--ca FILE] [--crl FILE|DIR] */
int     cmd_verify(int argc, char **argv)
{
    const char *file = 0;
    const char *ca = 0;
    const char *crl = 0;
    char    err[512];
    char    name[256];
    char   *data;
    char   *notice = 0;
    size_t  len = 0;
    size_t  nlen = 0;
    size_t  i;
    int     too_big;
    int     r;
    int     ch;
    CM_TRUST *trust = 0;
    xmlDocPtr doc;
    CM_DSIG_REPORT *rep;
    CM_NOTICE *model;

    for (ch = 1; ch < argc; ch++) {
	if (strcmp(argv[ch], "--help") == 0 || strcmp(argv[ch], "-h") == 0) {
	    fputs(usage_text, stdout);
	    return (CMAIL_EX_OK);
	} else if (strcmp(argv[ch], "--ca") == 0 && ch + 1 < argc) {
	    ca = argv[++ch];
	} else if (strcmp(argv[ch], "--crl") == 0 && ch + 1 < argc) {
	    crl = argv[++ch];
	} else if (argv[ch][0] == '-' && argv[ch][1] != 0) {
	    fprintf(stderr, "cmail verify: unknown option or missing argument: %s\n", argv[ch]);
	    fputs(usage_text, stderr);
	    return (CMAIL_EX_USAGE);
	} else if (file == 0) {
	    file = argv[ch];
	} else {
	    fprintf(stderr, "cmail verify: more than one FILE\n");
	    fputs(usage_text, stderr);
	    return (CMAIL_EX_USAGE);
	}
    }
    if (file == 0) {
	fputs(usage_text, stderr);
	return (CMAIL_EX_USAGE);
    }
    /* a signature that does not verify is reported below, not as xmlsec1 noise */
    xmlSecErrorsDefaultCallbackEnableOutput(0);
    if ((data = read_file(file, MAIL_MAX, &len, &too_big)) == 0) {
	if (too_big) {
	    printf("INVALID: %s is larger than %d bytes\n", file, MAIL_MAX);
	    return (CMAIL_EX_FAIL);
	}
	fprintf(stderr, "cmail verify: cannot read %s\n", file);
	return (CMAIL_EX_USAGE);
    }
    if (ca && (trust = cm_trust_load(ca, crl, err, sizeof(err))) == 0) {
	fprintf(stderr, "cmail verify: %s\n", err);
	free(data);
	return (CMAIL_EX_USAGE);
    }
    if (crl && !ca)
	msg_warn("--crl without --ca is ignored");
    for (i = 0; i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r'
			    || data[i] == '\n'); i++)
	 /* void */ ;
    if (i < len && data[i] == '<') {
	printf("file: %s (notice)\n", file);
	notice = data;
	nlen = len;
	data = 0;
    } else if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
	printf("file: %s (notice)\n", file);
	notice = data;
	nlen = len;
	data = 0;
    } else {
	err[0] = 0;
	r = find_notice(data, len, 0, &notice, &nlen, name, sizeof(name), err, sizeof(err));
	free(data);
	data = 0;
	if (r <= 0) {
	    printf("file: %s (mail)\n", file);
	    printf("INVALID: %s\n", r < 0 ? err : "no notice attachment (an .xml "
		   "application/octet-stream, application/xml or text/xml part) found");
	    cm_trust_free(trust);
	    return (CMAIL_EX_FAIL);
	}
	printf("file: %s (notice mail, attachment %s)\n", file, show((const xmlChar *) name,
								     err, sizeof(err)));
    }
    doc = cm_xml_parse(notice, nlen, err, sizeof(err));
    free(notice);
    if (doc == 0) {
	printf("INVALID: %s\n", err);
	cm_trust_free(trust);
	return (CMAIL_EX_FAIL);
    }
    print_notice(doc);
    if ((rep = calloc(1, sizeof(*rep))) == 0)
	msg_fatal("out of memory");
    r = cm_dsig_verify(doc, trust, rep);
    print_report(rep);
    if (r == 0 && (model = cm_notice_parse(doc, err, sizeof(err))) == 0) {
	r = -1;
	snprintf(rep->reason, sizeof(rep->reason), "%.200s", err);
    } else if (r == 0)
	cm_notice_free(model);
    if (r == 0)
	printf("VALID\n");
    else
	printf("INVALID: %s\n", rep->reason);
    free(rep);
    xmlFreeDoc(doc);
    cm_trust_free(trust);
    return (r == 0 ? CMAIL_EX_OK : CMAIL_EX_FAIL);
}
