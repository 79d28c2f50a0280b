#ifndef CM_XML_H
#define CM_XML_H
/*++
 * NAME
 *	cm_xml 3h
 * SUMMARY
 *	hardened libxml2 parsing, XSD validation and serialisation
 * SYNOPSIS
 *	#include "cm_xml.h"
 *
 *	int	cm_xml_init(void);
 *	xmlDocPtr cm_xml_parse(const char *data, size_t len,
 *				char *err, size_t errlen);
 *	int	cm_xml_validate(xmlDocPtr doc, const char *xsd_path,
 *				char *err, size_t errlen);
 *	int	cm_xml_schema_preload(const char *xsd_path,
 *				char *err, size_t errlen);
 *	char	*cm_xml_serialize(xmlDocPtr doc, size_t *len);
 *	const char *cm_schema_path(void);
 * DESCRIPTION
 *	cm_xml_init() initialises libxml2 and xmlsec1 once per process
 *	(idempotent, thread-safe); every other cm_xml, cm_notice and
 *	cm_dsig call assumes it ran. It installs a process-wide libxml2
 *	external entity loader that refuses every URL and file (only the
 *	schema files next to an XSD are read, while cm_xml_validate()
 *	compiles it): read files yourself and hand the bytes to
 *	cm_xml_parse(); xmlReadFile() and friends will fail.
 *
 *	cm_xml_parse() parses untrusted bytes: at most CM_NOTICE_MAX bytes,
 *	no DTD (a DOCTYPE is an error), no entity declarations or
 *	references beyond the predefined five, no network, no XInclude, at
 *	most CM_XML_DEPTH_MAX nesting and CM_XML_NODES_MAX nodes, at most
 *	64 attributes per element. It returns NULL with a one-line reason
 *	in err ("notice refused: ..." or "XML parse error at line N: ...");
 *	libxml2 itself prints nothing.
 *
 *	cm_xml_validate() validates against the XSD at xsd_path (parsed
 *	once and cached per path); 0 valid, -1 with the first error.
 *	Nothing is compiled before the first validation: a process that
 *	never checks a notice against the schema never reads the XSD.
 *
 *	cm_xml_schema_preload() compiles and caches the XSD at xsd_path
 *	now (0, or -1 with the reason): a forking daemon calls it once in
 *	the parent so that its children validate without compiling (the
 *	compiled schema is shared copy-on-write). Use the same path string
 *	as the later cm_xml_validate() calls (the cache key).
 *
 *	cm_xml_serialize() returns UTF-8 bytes with the XML declaration,
 *	no added indentation (signatures depend on exact whitespace).
 *
 *	cm_schema_path() is $CMAIL_SCHEMA_DIR/x1341-notices.xsd when that
 *	variable is set (tests, uninstalled use), else the directory given
 *	to cm_schema_set_dir() (cmail.conf's schema_directory, set by each
 *	daemon at start, before threads), else the installed copy.
 *--*/
#include <stddef.h>
#include <libxml/tree.h>

#define CM_NS		"http://www.itu.int/xml-namespace/itu-t/x.1341/x-cmail-notices"
#define CM_DSIG_NS	"http://www.w3.org/2000/09/xmldsig#"
#define CM_FILTER2_NS	"http://www.w3.org/2002/06/xmldsig-filter2"

extern int cm_xml_init(void);
extern xmlDocPtr cm_xml_parse(const char *data, size_t len, char *err, size_t errlen);
extern int cm_xml_validate(xmlDocPtr doc, const char *xsd_path, char *err, size_t errlen);
extern int cm_xml_schema_preload(const char *xsd_path, char *err, size_t errlen);
extern char *cm_xml_serialize(xmlDocPtr doc, size_t *len);
extern const char *cm_schema_path(void);
extern void cm_schema_set_dir(const char *dir);

#endif
