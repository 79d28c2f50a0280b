/*++
 * NAME
 *	fuzz_notice 1
 * SUMMARY
 *	libFuzzer target: notice parsing and signature verification
 * DESCRIPTION
 *	The input is a notice document as a peer sends it (DEPO, RETR, a
 *	notice mail's attachment): cm_notice_read() parses it (libxml2 with
 *	the project's hardened settings, then the Annex A model), and a
 *	document that parses goes through cm_notice_validate() (XSD) and
 *	cm_dsig_verify() against the fixed test trust of $CMAIL_FUZZ_PKI
 *	(without one, the "no trust anchors" path, which still checks
 *	every signature's shape and value).
 *--*/
#include "config.h"
#include <stdlib.h>
#include <libxml/tree.h>

#include "cm_notice.h"
#include "cm_dsig.h"
#include "fuzz_common.h"

/* LLVMFuzzerInitialize - logging, libxml2, trust */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init("fuzz_notice");
    (void) fuzz_trust();
    return (0);
}

/* LLVMFuzzerTestOneInput - one notice */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xmlDocPtr doc = 0;
    CM_NOTICE *n;
    CM_DSIG_REPORT *rep;
    char    err[512];

    if ((n = cm_notice_read((const char *) data, size, &doc, err, sizeof(err))) == 0)
	return (0);
    (void) cm_notice_validate(doc, err, sizeof(err));
    (void) cm_notice_type_of(doc);
    if ((rep = calloc(1, sizeof(*rep))) == 0)
	abort();
    (void) cm_dsig_verify(doc, fuzz_trust(), rep);
    free(rep);
    xmlFreeDoc(doc);
    cm_notice_free(n);
    return (0);
}
