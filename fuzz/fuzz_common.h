#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H
/*++
 * NAME
 *	fuzz_common 3h
 * SUMMARY
 *	helpers shared by the libFuzzer targets (fuzz/fuzz_*.c)
 * SYNOPSIS
 *	#include "fuzz_common.h"
 *
 *	void	fuzz_init(const char *name);
 *	int	fuzz_memfd(const uint8_t *data, size_t size);
 *	FILE	*fuzz_file(const uint8_t *data, size_t size);
 *	char	*fuzz_strdup(const uint8_t *data, size_t size);
 *	const char *fuzz_pki(const char *file);
 *	CM_TRUST *fuzz_trust(void);
 *	int	fuzz_devnull(void);
 * DESCRIPTION
 *	fuzz_init() silences the project's logging (no syslog, no stderr
 *	info lines) and initialises libxml2/xmlsec1 once.
 *
 *	fuzz_memfd() returns a memory file descriptor holding data,
 *	positioned at its start; fuzz_file() the same as a stdio stream
 *	(both work for size 0). fuzz_strdup() copies data into a
 *	NUL-terminated malloc()ed string.
 *
 *	The fixed test PKI is a directory made by `cmail pki init` (see
 *	fuzz/run.sh) named by $CMAIL_FUZZ_PKI: fuzz_pki() returns the path
 *	of a file in it (a static buffer), or NULL when $CMAIL_FUZZ_PKI is
 *	not set. fuzz_trust() loads its ca.pem and crl.pem once (NULL
 *	without a PKI: the code under test then runs its "no trust
 *	anchors" paths). fuzz_devnull() is a descriptor open on /dev/null.
 *
 *	FUZZ_SEAL_KEY_HEX and FUZZ_ENVELOPE_KEY are the fixed keys the
 *	seal and ENVELOPE targets decrypt with, and fuzz_seeds encrypts
 *	its seeds with, so that seeds reach the code past the tag check.
 *
 *	Every helper aborts on a resource failure: that is a harness
 *	problem, never a finding.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cm_cert.h"

/* Fixed test keys: public test values, never used outside the fuzzers. */
#define FUZZ_SEAL_KEY_HEX \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define FUZZ_ENVELOPE_KEY \
	"0123456789abcdef0123456789abcdef"	/* 32 bytes, AES-256 */
#define FUZZ_ENVELOPE_ID	"20261125T000000Z.0123456789abcdef"

extern int LLVMFuzzerInitialize(int *argc, char ***argv);
extern int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern void fuzz_init(const char *name);
extern int fuzz_memfd(const uint8_t *data, size_t size);
extern FILE *fuzz_file(const uint8_t *data, size_t size);
extern char *fuzz_strdup(const uint8_t *data, size_t size);
extern const char *fuzz_pki(const char *file);
extern CM_TRUST *fuzz_trust(void);
extern int fuzz_devnull(void);

#endif
