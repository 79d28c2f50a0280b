/*++
 * NAME
 *	fuzz_mime 1
 * SUMMARY
 *	libFuzzer target: the ENVELOPE MIME reader (cm_envelope_mime)
 * DESCRIPTION
 *	The input is an ENVELOPE as a sender deposits it (cmtpd checks its
 *	CipheredEnvelopeHash without the key) or as a recipient receives
 *	it: cm_envelope_mime_extract() reads it without a key, then
 *	cm_envelope_mime_decrypt() with the fixed test key
 *	(FUZZ_ENVELOPE_KEY, which fuzz_seeds encrypts its seeds with), as
 *	AES-256-GCM, or AES-256-CBC when the first input byte is odd
 *	(that byte is part of the message too).
 *--*/
#include "config.h"
#include <stdio.h>
#include <string.h>

#include "cm_headers.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"
#include "fuzz_common.h"

/* LLVMFuzzerInitialize - logging */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init("fuzz_mime");
    return (0);
}

/* LLVMFuzzerTestOneInput - one ENVELOPE */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE   *in, *out;
    CM_HEADERS clear;
    CM_ENVELOPE_DIGESTS d;
    char    err[512];
    CM_ENVELOPE_ALG alg = (size > 0 && (data[0] & 1)) ? CM_ENVELOPE_AES256_CBC : CM_ENVELOPE_AES256_GCM;

    in = fuzz_file(data, size);
    out = fuzz_file(0, 0);
    memset(&clear, 0, sizeof(clear));
    (void) cm_envelope_mime_extract(in, out, &clear, &d, err, sizeof(err));
    cm_headers_free(&clear);
    rewind(in);
    rewind(out);
    memset(&clear, 0, sizeof(clear));
    (void) cm_envelope_mime_decrypt(in, out, (const unsigned char *) FUZZ_ENVELOPE_KEY, alg,
				    &clear, &d, err, sizeof(err));
    cm_headers_free(&clear);
    fclose(out);
    fclose(in);
    return (0);
}
