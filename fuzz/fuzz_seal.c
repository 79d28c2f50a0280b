/*++
 * NAME
 *	fuzz_seal 1
 * SUMMARY
 *	libFuzzer target: the seal format (cm_seal)
 * DESCRIPTION
 *	The input is a sealed blob as it comes out of a mailbox (a stored
 *	form's application/x-cmail-sealed part): cm_seal_peek() reads its
 *	clear header, cm_unseal_stream() opens it with the fixed test seal
 *	key (FUZZ_SEAL_KEY_HEX, which fuzz_seeds seals its seeds with),
 *	once for any envelope id and once for the one in the header. The
 *	input is also tried as a seal key file (cm_seal_key_parse()) and
 *	as an envelope id (cm_seal_envelope_id_ok()).
 *--*/
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_seal.h"
#include "fuzz_common.h"

static CM_SEAL_KEY key;

/* LLVMFuzzerInitialize - logging, the fixed seal key */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char    err[256];

    fuzz_init("fuzz_seal");
    if (cm_seal_key_parse(FUZZ_SEAL_KEY_HEX, strlen(FUZZ_SEAL_KEY_HEX), &key, err, sizeof(err)) < 0)
	abort();
    return (0);
}

/* LLVMFuzzerTestOneInput - one blob */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    key_id[CM_SEAL_KEY_ID_LEN + 1];
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    err[512];
    CM_SEAL_STATS stats;
    CM_SEAL_KEY k2;
    char   *text;
    ssize_t hlen;
    int     fd;

    hlen = cm_seal_peek(data, size, key_id, envelope_id);
    fd = fuzz_memfd(data, size);
    (void) cm_unseal_stream(&key, 0, fd, fuzz_devnull(), 1000, 1 << 20, &stats, err, sizeof(err));
    if (hlen > 0) {
	if (lseek(fd, 0, SEEK_SET) != 0)
	    abort();
	(void) cm_unseal_stream(&key, envelope_id, fd, fuzz_devnull(), 1000, 1 << 20,
				&stats, err, sizeof(err));
    }
    close(fd);

    text = fuzz_strdup(data, size);
    if (cm_seal_key_parse(text, size, &k2, err, sizeof(err)) == 0)
	cm_seal_key_clear(&k2);
    (void) cm_seal_envelope_id_ok(text);
    free(text);
    return (0);
}
