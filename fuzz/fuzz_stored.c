/*++
 * NAME
 *	fuzz_stored 1
 * SUMMARY
 *	libFuzzer target: the stored form and the sealed container readers
 * DESCRIPTION
 *	The input is read twice: as a stored form from a mailbox
 *	(cm_storedform_extract(), headers, MIME boundaries and the base64
 *	sealed part, written to a scratch file) and as the plaintext
 *	container inside a seal (cm_container_read(): header, notice,
 *	ENVELOPE length), as cmail-notary reads them.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>

#include "cm_storedform.h"
#include "cm_container.h"
#include "cm_limits.h"
#include "fuzz_common.h"

/* LLVMFuzzerInitialize - logging */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init("fuzz_stored");
    return (0);
}

/* LLVMFuzzerTestOneInput - one stored form or container */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE   *in, *out;
    char    id[CM_ENVELOPE_ID_MAX + 1];
    char    err[512];
    CM_CONTAINER c;

    in = fuzz_file(data, size);
    out = fuzz_file(0, 0);
    (void) cm_storedform_extract(in, id, sizeof(id), out, err, sizeof(err));
    fclose(out);
    rewind(in);
    if (cm_container_read(in, &c, err, sizeof(err)) == 0)
	cm_container_free(&c);
    fclose(in);
    return (0);
}
