/*++
 * NAME
 *	cm_xml 3
 * SUMMARY
 *	hardened libxml2 parsing, XSD validation and serialisation
 * DESCRIPTION
 *	See cm_xml.h. Untrusted XML is refused, not repaired:
 *
 *	- more than CM_NOTICE_MAX bytes: refused before libxml2 sees a byte;
 *	- a DOCTYPE: the internalSubset SAX callback stops the parser at
 *	  once, so an internal subset (entity declarations, the billion
 *	  laughs) is never parsed;
 *	- entities are never substituted (no XML_PARSE_NOENT), no DTD is
 *	  loaded (no XML_PARSE_DTDLOAD/DTDATTR/DTDVALID), no network
 *	  (XML_PARSE_NONET), XInclude is never processed, libxml2's
 *	  XML_PARSE_HUGE stays off; the process-wide external entity
 *	  loader refuses every URL, except the local schema files while
 *	  cm_xml_validate() compiles a schema;
 *	- more than CM_XML_ATTRS_MAX attributes and namespace declarations
 *	  on one start tag, or more than CM_XML_NODES_MAX start tags plus
 *	  attributes: refused by a linear pre-scan of the bytes, because
 *	  libxml2 2.9 compares an element's attributes pairwise before any
 *	  callback sees them (quadratic time);
 *	- nesting deeper than CM_XML_DEPTH_MAX or more than
 *	  CM_XML_NODES_MAX elements+attributes: the startElementNs SAX
 *	  callback stops the parser as soon as the bound is crossed;
 *	- the finished tree is walked once more and any DTD, entity,
 *	  entity reference or XInclude node is an error, as is a depth or
 *	  node count over the limits.
 *
 *	libxml2 diagnostics never reach stderr: they are captured through
 *	the parser context's structured error callback and the schema
 *	contexts' structured error callbacks, and the first one is
 *	reported as one line.
 *--*/
#include "config.h"
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/crypto.h>

#include "cm_limits.h"
#include "cm_xml.h"

#ifndef CMAIL_SCHEMA_DIR
#define CMAIL_SCHEMA_DIR "/usr/local/share/cmail/schemas"
#endif

#define CM_XML_SCHEMAS_MAX	8	/* cached compiled schemas */
#define CM_XML_ATTRS_MAX	64	/* attributes + xmlns per start tag */

/*
 * Per-parse state, reached from SAX callbacks via ctxt->_private.
 */
typedef struct {
    char   *err;			/* first error, one line */
    size_t  errlen;
    int     have_err;			/* err holds a message */
    int     refused;			/* our own limit stopped the parse */
    int     depth;			/* current element depth */
    long    nodes;			/* elements + attributes so far */
    startElementNsSAX2Func start;	/* libxml2's SAX2 handlers */
    endElementNsSAX2Func end;
} CM_XML_PARSE;

/*
 * Error capture for schema compilation and validation.
 */
typedef struct {
    char    buf[512];
    int     have;
} CM_XML_ERRCAP;

typedef struct {
    char   *path;
    xmlSchemaPtr schema;
} CM_XML_SCHEMA;

static pthread_once_t cm_xml_once = PTHREAD_ONCE_INIT;
static int cm_xml_init_status = -1;
static pthread_mutex_t cm_xml_schema_lock = PTHREAD_MUTEX_INITIALIZER;
static CM_XML_SCHEMA cm_xml_schemas[CM_XML_SCHEMAS_MAX];
static int cm_xml_schema_count;

/* Directory from which the entity loader may read, while compiling. */
static _Thread_local const char *cm_xml_allow_dir;
static _Thread_local size_t cm_xml_allow_dir_len;

static void cm_xml_oneline(char *, size_t, const char *,...)
	__attribute__((format(printf, 3, 4)));
static void cm_xml_refuse(xmlParserCtxtPtr, const char *,...)
	__attribute__((format(printf, 2, 3)));

/* cm_xml_oneline - copy text into err as one line without trailing space */
static void cm_xml_oneline(char *err, size_t errlen, const char *fmt,...)
{
    va_list ap;
    char   *cp;
    size_t  n;

    if (err == 0 || errlen == 0)
	return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (cp = err; *cp; cp++)
	if (*cp == '\n' || *cp == '\r' || *cp == '\t')
	    *cp = ' ';
    n = strlen(err);
    while (n > 0 && err[n - 1] == ' ')
	err[--n] = 0;
}

/* cm_xml_loader - external entity loader: refuse, except schema files */
static xmlParserInputPtr cm_xml_loader(const char *url, const char *id,
				               xmlParserCtxtPtr ctxt)
{
    const char *path = url;
    char    real[PATH_MAX];

    if (path != 0 && strncmp(path, "file://", 7) == 0)
	path += 7;
    /* Only while compiling a schema, only files in its (real) directory. */
    if (cm_xml_allow_dir != 0 && path != 0 && strstr(path, "://") == 0
	&& realpath(path, real) != 0
	&& strncmp(real, cm_xml_allow_dir, cm_xml_allow_dir_len) == 0
	&& real[cm_xml_allow_dir_len] == '/'
	&& strchr(real + cm_xml_allow_dir_len + 1, '/') == 0)
	return (xmlNewInputFromFile(ctxt, real));
    return (0);				/* the caller reports the failed load */
}

/* cm_xml_init_once - the real initialisation, run once */
static void cm_xml_init_once(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(cm_xml_loader);
    /* libxml2 process defaults: never substitute, never load a DTD. */
    xmlSubstituteEntitiesDefault(0);
    xmlLoadExtDtdDefaultValue = 0;
    if (xmlSecInit() < 0)
	return;
    if (xmlSecCheckVersion() != 1)
	return;
    if (xmlSecCryptoAppInit(0) < 0)
	return;
    if (xmlSecCryptoInit() < 0)
	return;
    cm_xml_init_status = 0;
}

/* cm_xml_init - initialise libxml2 and xmlsec1 once per process */
int     cm_xml_init(void)
{
    if (pthread_once(&cm_xml_once, cm_xml_init_once) != 0)
	return (-1);
    return (cm_xml_init_status);
}

/* cm_xml_refuse - record our own reason and stop the parser */
static void cm_xml_refuse(xmlParserCtxtPtr ctxt, const char *fmt,...)
{
    CM_XML_PARSE *st = (CM_XML_PARSE *) ctxt->_private;
    va_list ap;

    if (!st->refused) {
	va_start(ap, fmt);
	vsnprintf(st->err, st->errlen, fmt, ap);
	va_end(ap);
	st->refused = 1;
	st->have_err = 1;
    }
    xmlStopParser(ctxt);
}

/* cm_xml_sax_subset - DOCTYPE seen: refuse before any DTD is parsed */
static void cm_xml_sax_subset(void *ctx, const xmlChar *name,
			              const xmlChar *ext_id, const xmlChar *sys_id)
{
    cm_xml_refuse((xmlParserCtxtPtr) ctx, "notice refused: DOCTYPE not allowed");
}

/* cm_xml_sax_entity - entity declaration: refuse */
static void cm_xml_sax_entity(void *ctx, const xmlChar *name, int type,
			              const xmlChar *public_id, const xmlChar *system_id,
			              xmlChar *content)
{
    cm_xml_refuse((xmlParserCtxtPtr) ctx, "notice refused: entity declaration not allowed");
}

/* cm_xml_sax_reference - entity reference: refuse */
static void cm_xml_sax_reference(void *ctx, const xmlChar *name)
{
    cm_xml_refuse((xmlParserCtxtPtr) ctx, "notice refused: entity reference not allowed");
}

/* cm_xml_sax_start - count depth and nodes, then build the element */
static void cm_xml_sax_start(void *ctx, const xmlChar *localname,
			             const xmlChar *prefix, const xmlChar *URI,
			             int nb_namespaces, const xmlChar **namespaces,
			             int nb_attributes, int nb_defaulted,
			             const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;
    CM_XML_PARSE *st = (CM_XML_PARSE *) ctxt->_private;

    st->depth++;
    st->nodes += 1 + (nb_attributes > 0 ? nb_attributes : 0);
    if (st->depth > CM_XML_DEPTH_MAX) {
	cm_xml_refuse(ctxt, "notice refused: nesting deeper than %d", CM_XML_DEPTH_MAX);
	return;
    }
    if (st->nodes > CM_XML_NODES_MAX) {
	cm_xml_refuse(ctxt, "notice refused: more than %d elements and attributes",
		      CM_XML_NODES_MAX);
	return;
    }
    st->start(ctx, localname, prefix, URI, nb_namespaces, namespaces,
	      nb_attributes, nb_defaulted, attributes);
}

/* cm_xml_sax_end - leave an element */
static void cm_xml_sax_end(void *ctx, const xmlChar *localname,
			           const xmlChar *prefix, const xmlChar *URI)
{
    xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;
    CM_XML_PARSE *st = (CM_XML_PARSE *) ctxt->_private;

    st->depth--;
    st->end(ctx, localname, prefix, URI);
}

/* cm_xml_sax_error - structured error callback: keep the first error */
static void cm_xml_sax_error(void *ctx, xmlErrorPtr error)
{
    xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;
    CM_XML_PARSE *st;

    if (ctxt == 0 || (st = (CM_XML_PARSE *) ctxt->_private) == 0 || error == 0)
	return;
    if (error->level == XML_ERR_WARNING || st->have_err)
	return;
    cm_xml_oneline(st->err, st->errlen, "XML parse error at line %d: %s",
		   error->line, error->message ? error->message : "unknown error");
    st->have_err = 1;
}

/* cm_xml_check_tree - walk a parsed tree: node types, depth, node count */
static int cm_xml_check_tree(xmlDocPtr doc, char *err, size_t errlen)
{
    xmlNodePtr node;
    xmlAttrPtr attr;
    int     depth = 1;
    long    nodes = 0;

    if (doc->intSubset != 0 || doc->extSubset != 0) {
	cm_xml_oneline(err, errlen, "notice refused: DOCTYPE not allowed");
	return (-1);
    }
    if (xmlDocGetRootElement(doc) == 0) {
	cm_xml_oneline(err, errlen, "notice refused: no root element");
	return (-1);
    }
    for (node = doc->children; node != 0;) {
	switch (node->type) {
	case XML_ELEMENT_NODE:
	    if (depth > CM_XML_DEPTH_MAX) {
		cm_xml_oneline(err, errlen, "notice refused: nesting deeper than %d",
			       CM_XML_DEPTH_MAX);
		return (-1);
	    }
	    nodes++;
	    for (attr = node->properties; attr != 0; attr = attr->next)
		nodes++;
	    break;
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
	case XML_COMMENT_NODE:
	case XML_PI_NODE:
	    break;
	case XML_ENTITY_REF_NODE:
	case XML_ENTITY_NODE:
	case XML_ENTITY_DECL:
	    cm_xml_oneline(err, errlen, "notice refused: entity not allowed");
	    return (-1);
	case XML_DTD_NODE:
	case XML_DOCUMENT_TYPE_NODE:
	case XML_ELEMENT_DECL:
	case XML_ATTRIBUTE_DECL:
	case XML_NOTATION_NODE:
	    cm_xml_oneline(err, errlen, "notice refused: DOCTYPE not allowed");
	    return (-1);
	case XML_XINCLUDE_START:
	case XML_XINCLUDE_END:
	    cm_xml_oneline(err, errlen, "notice refused: XInclude not allowed");
	    return (-1);
	default:
	    cm_xml_oneline(err, errlen, "notice refused: unexpected node type %d",
			   (int) node->type);
	    return (-1);
	}
	if (nodes > CM_XML_NODES_MAX) {
	    cm_xml_oneline(err, errlen, "notice refused: more than %d elements and attributes",
			   CM_XML_NODES_MAX);
	    return (-1);
	}
	/* Depth-first, iteratively. */
	if (node->type == XML_ELEMENT_NODE && node->children != 0) {
	    depth++;
	    node = node->children;
	    continue;
	}
	while (node != 0 && node->next == 0) {
	    node = node->parent;
	    if (node == 0 || node == (xmlNodePtr) doc)
		return (0);
	    depth--;
	}
	if (node != 0)
	    node = node->next;
    }
    return (0);
}

/* cm_xml_prescan - bound the attributes per start tag before libxml2 */
static int cm_xml_prescan(const char *data, size_t len, char *err, size_t errlen)
{
    const char *cp = data;
    const char *end = data + len;
    long    total = 0;
    int     attrs;
    char    quote;

    /*
     * libxml2 2.9 checks an element's attributes and namespace
     * declarations for duplicates pairwise, before any SAX callback can
     * count them: one start tag with 300,000 attributes costs minutes.
     * So count them here, in one linear pass. The lexer only ever
     * overcounts (an '=' in a comment or CDATA section may look like an
     * attribute); the SAX and tree checks remain the exact ones.
     */
    while (cp < end) {
	if (*cp++ != '<' || cp >= end)
	    continue;
	if (*cp == '!' || *cp == '?' || *cp == '/') {
	    /* comments and PIs become nodes too: count them */
	    if (*cp != '/' && ++total > CM_XML_NODES_MAX) {
		cm_xml_oneline(err, errlen, "notice refused: more than %d elements and "
			       "attributes", CM_XML_NODES_MAX);
		return (-1);
	    }
	    while (cp < end && *cp != '>')
		cp++;
	    continue;
	}
	/* a start tag: count '=' outside quoted values */
	for (attrs = 0, quote = 0; cp < end; cp++) {
	    if (quote) {
		if (*cp == quote)
		    quote = 0;
	    } else if (*cp == '"' || *cp == '\'') {
		quote = *cp;
	    } else if (*cp == '=') {
		if (++attrs > CM_XML_ATTRS_MAX) {
		    cm_xml_oneline(err, errlen, "notice refused: more than %d attributes "
				   "on one element", CM_XML_ATTRS_MAX);
		    return (-1);
		}
	    } else if (*cp == '>') {
		break;
	    }
	}
	total += 1 + attrs;
	if (total > CM_XML_NODES_MAX) {
	    cm_xml_oneline(err, errlen, "notice refused: more than %d elements and attributes",
			   CM_XML_NODES_MAX);
	    return (-1);
	}
    }
    return (0);
}

/* cm_xml_parse - parse untrusted bytes into a document, or refuse */
xmlDocPtr cm_xml_parse(const char *data, size_t len, char *err, size_t errlen)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    CM_XML_PARSE st;
    char    dummy[8];
    int     options;

    if (err == 0 || errlen == 0) {
	err = dummy;
	errlen = sizeof(dummy);
    }
    err[0] = 0;
    if (data == 0 || len == 0) {
	cm_xml_oneline(err, errlen, "notice refused: empty document");
	return (0);
    }
    if (len > CM_NOTICE_MAX) {
	cm_xml_oneline(err, errlen, "notice refused: larger than %d bytes", CM_NOTICE_MAX);
	return (0);
    }
    if (cm_xml_prescan(data, len, err, errlen) < 0)
	return (0);
    if (cm_xml_init() < 0) {
	cm_xml_oneline(err, errlen, "XML library initialisation failed");
	return (0);
    }
    if ((ctxt = xmlNewParserCtxt()) == 0) {
	cm_xml_oneline(err, errlen, "XML parser: out of memory");
	return (0);
    }
    memset(&st, 0, sizeof(st));
    st.err = err;
    st.errlen = errlen;
    st.start = ctxt->sax->startElementNs;
    st.end = ctxt->sax->endElementNs;
    ctxt->_private = &st;
    ctxt->sax->internalSubset = cm_xml_sax_subset;
    ctxt->sax->externalSubset = cm_xml_sax_subset;
    ctxt->sax->entityDecl = cm_xml_sax_entity;
    ctxt->sax->reference = cm_xml_sax_reference;
    ctxt->sax->startElementNs = cm_xml_sax_start;
    ctxt->sax->endElementNs = cm_xml_sax_end;
    ctxt->sax->serror = cm_xml_sax_error;

    /*
     * Never XML_PARSE_NOENT (substitution), DTDLOAD, DTDATTR, DTDVALID,
     * XINCLUDE or HUGE. NOERROR/NOWARNING silence the unstructured
     * channels; the structured callback above still records the error.
     */
    options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
	| XML_PARSE_NOXINCNODE | XML_PARSE_BIG_LINES;
#ifdef XML_PARSE_NO_XXE
    options |= XML_PARSE_NO_XXE;
#endif
    doc = xmlCtxtReadMemory(ctxt, data, (int) len, "notice.xml", 0, options);

    if (st.refused || !ctxt->wellFormed || doc == 0) {
	if (!st.have_err)
	    cm_xml_oneline(err, errlen, "XML parse error: document is not well-formed");
	xmlFreeDoc(doc);
	ctxt->_private = 0;
	xmlFreeParserCtxt(ctxt);
	return (0);
    }
    ctxt->_private = 0;
    xmlFreeParserCtxt(ctxt);
    if (cm_xml_check_tree(doc, err, errlen) < 0) {
	xmlFreeDoc(doc);
	return (0);
    }
    return (doc);
}

/* cm_xml_schema_error - structured error callback for schemas */
static void cm_xml_schema_error(void *ctx, xmlErrorPtr error)
{
    CM_XML_ERRCAP *cap = (CM_XML_ERRCAP *) ctx;

    if (cap == 0 || error == 0 || cap->have || error->level == XML_ERR_WARNING)
	return;
    cm_xml_oneline(cap->buf, sizeof(cap->buf), "line %d: %s", error->line,
		   error->message ? error->message : "unknown error");
    cap->have = 1;
}

/* cm_xml_schema_load - compile the schema at path (lock held) */
static xmlSchemaPtr cm_xml_schema_load(const char *path, char *err, size_t errlen)
{
    xmlSchemaParserCtxtPtr pctxt;
    xmlSchemaPtr schema;
    CM_XML_ERRCAP cap;
    xmlStructuredErrorFunc saved_func = xmlStructuredError;
    void   *saved_ctx = xmlStructuredErrorContext;
    char    dir[PATH_MAX];
    char   *slash;

    memset(&cap, 0, sizeof(cap));
    if (realpath(path, dir) == 0) {
	cm_xml_oneline(err, errlen, "schema %s unusable: %m", path);
	return (0);
    }
    if ((slash = strrchr(dir, '/')) != 0)
	*slash = 0;
    if ((pctxt = xmlSchemaNewParserCtxt(path)) == 0) {
	cm_xml_oneline(err, errlen, "schema %s: out of memory", path);
	return (0);
    }
    xmlSchemaSetParserStructuredErrors(pctxt, cm_xml_schema_error, &cap);
    /* I/O errors of the loader bypass the context: catch them too. */
    xmlSetStructuredErrorFunc(&cap, cm_xml_schema_error);
    /* The imported schemas sit next to the main one. */
    cm_xml_allow_dir = dir;
    cm_xml_allow_dir_len = strlen(dir);
    schema = xmlSchemaParse(pctxt);
    cm_xml_allow_dir = 0;
    cm_xml_allow_dir_len = 0;
    xmlSetStructuredErrorFunc(saved_ctx, saved_func);
    xmlSchemaFreeParserCtxt(pctxt);
    if (schema == 0)
	cm_xml_oneline(err, errlen, "schema %s unusable: %s", path,
		       cap.have ? cap.buf : "cannot be read");
    return (schema);
}

/* cm_xml_schema_cached - a compiled schema of the cache (lock held), or NULL */
static xmlSchemaPtr cm_xml_schema_cached(const char *xsd_path)
{
    int     i;

    for (i = 0; i < cm_xml_schema_count; i++)
	if (strcmp(cm_xml_schemas[i].path, xsd_path) == 0)
	    return (cm_xml_schemas[i].schema);
    return (0);
}

/* cm_xml_schema_preload - compile and cache the XSD at xsd_path now */
int     cm_xml_schema_preload(const char *xsd_path, char *err, size_t errlen)
{
    xmlSchemaPtr schema;
    char    dummy[8];
    int     rc = 0;

    if (err == 0 || errlen == 0) {
	err = dummy;
	errlen = sizeof(dummy);
    }
    err[0] = 0;
    if (xsd_path == 0 || cm_xml_init() < 0) {
	cm_xml_oneline(err, errlen, xsd_path ? "XML library initialisation failed" : "no schema");
	return (-1);
    }
    if (pthread_mutex_lock(&cm_xml_schema_lock) != 0) {
	cm_xml_oneline(err, errlen, "schema cache lock failed");
	return (-1);
    }
    if (cm_xml_schema_cached(xsd_path) == 0) {
	if ((schema = cm_xml_schema_load(xsd_path, err, errlen)) == 0) {
	    rc = -1;
	} else if (cm_xml_schema_count < CM_XML_SCHEMAS_MAX
		   && (cm_xml_schemas[cm_xml_schema_count].path = strdup(xsd_path)) != 0) {
	    cm_xml_schemas[cm_xml_schema_count++].schema = schema;
	} else {
	    xmlSchemaFree(schema);
	    cm_xml_oneline(err, errlen, "schema cache full");
	    rc = -1;
	}
    }
    pthread_mutex_unlock(&cm_xml_schema_lock);
    return (rc);
}

/* cm_xml_validate - validate against the XSD at xsd_path */
int     cm_xml_validate(xmlDocPtr doc, const char *xsd_path, char *err, size_t errlen)
{
    xmlSchemaPtr schema = 0;
    xmlSchemaValidCtxtPtr vctxt;
    CM_XML_ERRCAP cap;
    char    dummy[8];
    int     rc;

    if (err == 0 || errlen == 0) {
	err = dummy;
	errlen = sizeof(dummy);
    }
    err[0] = 0;
    if (doc == 0 || xsd_path == 0) {
	cm_xml_oneline(err, errlen, "schema validation: no document or schema");
	return (-1);
    }
    if (cm_xml_init() < 0) {
	cm_xml_oneline(err, errlen, "XML library initialisation failed");
	return (-1);
    }
    if (pthread_mutex_lock(&cm_xml_schema_lock) != 0) {
	cm_xml_oneline(err, errlen, "schema cache lock failed");
	return (-1);
    }
    schema = cm_xml_schema_cached(xsd_path);
    if (schema == 0) {
	if ((schema = cm_xml_schema_load(xsd_path, err, errlen)) == 0) {
	    pthread_mutex_unlock(&cm_xml_schema_lock);
	    return (-1);
	}
	if (cm_xml_schema_count < CM_XML_SCHEMAS_MAX
	    && (cm_xml_schemas[cm_xml_schema_count].path = strdup(xsd_path)) != 0) {
	    cm_xml_schemas[cm_xml_schema_count++].schema = schema;
	} else {
	    /* Cache full: use it once, under the lock, then drop it. */
	    memset(&cap, 0, sizeof(cap));
	    rc = -1;
	    if ((vctxt = xmlSchemaNewValidCtxt(schema)) != 0) {
		xmlSchemaSetValidStructuredErrors(vctxt, cm_xml_schema_error, &cap);
		rc = xmlSchemaValidateDoc(vctxt, doc);
		xmlSchemaFreeValidCtxt(vctxt);
	    }
	    xmlSchemaFree(schema);
	    pthread_mutex_unlock(&cm_xml_schema_lock);
	    if (rc != 0) {
		cm_xml_oneline(err, errlen, "schema validation failed: %s",
			       cap.have ? cap.buf : "internal error");
		return (-1);
	    }
	    return (0);
	}
    }
    pthread_mutex_unlock(&cm_xml_schema_lock);

    /* A compiled schema is read-only; each validation has its own context. */
    memset(&cap, 0, sizeof(cap));
    if ((vctxt = xmlSchemaNewValidCtxt(schema)) == 0) {
	cm_xml_oneline(err, errlen, "schema validation: out of memory");
	return (-1);
    }
    xmlSchemaSetValidStructuredErrors(vctxt, cm_xml_schema_error, &cap);
    rc = xmlSchemaValidateDoc(vctxt, doc);
    xmlSchemaFreeValidCtxt(vctxt);
    if (rc != 0) {
	cm_xml_oneline(err, errlen, "schema validation failed: %s",
		       cap.have ? cap.buf : "internal error");
	return (-1);
    }
    return (0);
}

/* cm_xml_serialize - UTF-8 bytes, XML declaration, no reformatting */
char   *cm_xml_serialize(xmlDocPtr doc, size_t *len)
{
    xmlChar *mem = 0;
    int     size = 0;
    char   *out;

    if (doc == 0)
	return (0);
    xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 0);
    if (mem == 0 || size < 0)
	return (0);
    if ((out = malloc((size_t) size + 1)) != 0) {
	memcpy(out, mem, (size_t) size);
	out[size] = 0;
	if (len)
	    *len = (size_t) size;
    }
    xmlFree(mem);
    return (out);
}

static char schema_dir[PATH_MAX];	/* from cmail.conf, set once at start */

/* cm_schema_set_dir - the schema directory named in cmail.conf */
void    cm_schema_set_dir(const char *dir)
{
    snprintf(schema_dir, sizeof(schema_dir), "%s", dir ? dir : "");
}

/* cm_schema_path - where x1341-notices.xsd is */
const char *cm_schema_path(void)
{
    static _Thread_local char buf[PATH_MAX];
    const char *dir = getenv("CMAIL_SCHEMA_DIR");
    int     n;

    if ((dir == 0 || *dir == 0) && schema_dir[0])
	dir = schema_dir;

    if (dir != 0 && *dir != 0) {
	n = snprintf(buf, sizeof(buf), "%s/x1341-notices.xsd", dir);
	if (n > 0 && (size_t) n < sizeof(buf))
	    return (buf);
    }
    return (CMAIL_SCHEMA_DIR "/x1341-notices.xsd");
}
