#ifndef CM_SEAL_H
#define CM_SEAL_H
/*++
 * NAME
 *	cm_seal 3h
 * SUMMARY
 *	the sealed part of the stored form: AES-256-GCM under the seal key
 * SYNOPSIS
 *	#include "cm_seal.h"
 *
 *	int	cm_seal_key_parse(const char *text, size_t len,
 *				CM_SEAL_KEY *key, char *err, size_t errlen);
 *	int	cm_seal_key_load(const char *path, CM_SEAL_KEY *key,
 *				char *err, size_t errlen);
 *	int	cm_seal_key_generate(const char *path, char *err, size_t errlen);
 *	void	cm_seal_key_clear(CM_SEAL_KEY *key);
 *
 *	int	cm_seal_stream(const CM_SEAL_KEY *key, const char *envelope_id,
 *				int in_fd, int out_fd, int timeout_ms,
 *				unsigned long long limit, CM_SEAL_STATS *stats,
 *				char *err, size_t errlen);
 *	int	cm_unseal_stream(const CM_SEAL_KEY *key,
 *				const char *envelope_id, int in_fd, int out_fd,
 *				int timeout_ms, unsigned long long limit,
 *				CM_SEAL_STATS *stats, char *err, size_t errlen);
 *	ssize_t	cm_seal_peek(const void *buf, size_t len,
 *				char key_id[CM_SEAL_KEY_ID_LEN + 1],
 *				char envelope_id[CM_ENVELOPE_ID_MAX + 1]);
 *	int	cm_seal_envelope_id_ok(const char *id);
 * DESCRIPTION
 *	A sealed blob is, byte by byte:
 * .nf
 *	magic        7 bytes  "CMSEAL1"
 *	key id      16 bytes  lowercase hex of the first 8 bytes of
 *	                      SHA-256(seal key)
 *	id length    1 byte   L, 1..CM_ENVELOPE_ID_MAX
 *	envelope id  L bytes  [A-Za-z0-9._@-], as in the notice
 *	IV          12 bytes  random, fresh per blob
 *	ciphertext   n bytes  AES-256-GCM of the plaintext (n = its length)
 *	tag         16 bytes  the GCM tag
 * .fi
 *	The additional authenticated data is the header from the magic to
 *	the end of the envelope id (CM_SEAL_AAD), so the format, the key id
 *	and the envelope id are all bound to the ciphertext: a blob moved
 *	to another envelope id, or edited anywhere, fails the tag. The key
 *	id and envelope id are readable without the key (cm_seal_peek()),
 *	so a milter or an admin can tell which key and envelope a stored
 *	message belongs to; nothing else is.
 *
 *	Seal key file: the 32 key bytes as 64 hexadecimal digits (either
 *	case), optionally followed by white space (a newline); nothing
 *	else. cm_seal_key_generate() writes 32 bytes from RAND_bytes() in
 *	that form to a NEW file with mode 0600 (it refuses to overwrite).
 *	cm_seal_key_load() reads a file without checking its ownership or
 *	mode (cmail-notary does that before calling cm_seal_key_parse()).
 *	cm_seal_key_clear() wipes a key (OPENSSL_cleanse).
 *
 *	cm_seal_stream() reads plaintext from in_fd until end of file and
 *	writes the blob to out_fd, 64 KiB at a time (a 100 MB container is
 *	never held in memory). cm_unseal_stream() reads a blob from in_fd
 *	and writes the plaintext to out_fd; it refuses a blob whose magic,
 *	key id (another seal key) or envelope id (envelope_id, unless
 *	NULL) differ, and a blob whose tag does not verify (edited or
 *	truncated). Because the output is streamed, plaintext has been
 *	written to out_fd BEFORE the tag is checked at the end: when
 *	cm_unseal_stream() fails, the caller MUST discard everything it
 *	wrote (truncate or unlink the file). Every read and write waits at
 *	most timeout_ms for the descriptor (poll(2)); <= 0 means wait
 *	forever. Reading stops with an error once more than limit bytes
 *	came from in_fd (0: no limit), so an endless input (a pipe,
 *	/dev/zero) cannot keep the sealer busy. Both return 0 on success;
 *	-2 when the input is refused (a bad envelope id, an input over the
 *	limit, a blob that is not ours, edited or truncated: retrying will
 *	not help); -1 on an I/O or resource failure (worth a retry). The
 *	reason is in err, and stats (if not NULL) receives the byte counts.
 *
 *	cm_unseal_stream_ring() is cm_unseal_stream() with a key ring:
 *	the blob is opened with the key among keys[0..nkeys-1] whose id
 *	the blob names (seal key rotation: the current key first, then
 *	the previous ones, which only unseal).
 *
 *	cm_seal_peek() parses the clear header at the start of buf: it
 *	returns the header length through the IV (the offset of the
 *	ciphertext), 0 when buf is too short to tell, -1 when it is not a
 *	sealed blob.
 *
 *	cm_seal_envelope_id_ok() is 1 when id matches
 *	[A-Za-z0-9._@-]{1,CM_ENVELOPE_ID_MAX}.
 * SEE ALSO
 *	cm_notary(3h) (SEAL and UNSEAL requests), ARCHITECTURE.md "Stored form"
 *--*/
#include <stddef.h>
#include <sys/types.h>

#include "cm_limits.h"

#define CM_SEAL_MAGIC		"CMSEAL1"
#define CM_SEAL_MAGIC_LEN	7
#define CM_SEAL_KEY_LEN		32
#define CM_SEAL_KEY_ID_LEN	16	/* hex characters */
#define CM_SEAL_IV_LEN		12
#define CM_SEAL_TAG_LEN		16
#define CM_SEAL_HEADER_MAX	(CM_SEAL_MAGIC_LEN + CM_SEAL_KEY_ID_LEN + 1 \
				 + CM_ENVELOPE_ID_MAX + CM_SEAL_IV_LEN)
#define CM_SEAL_CHUNK		(64 * 1024)

typedef struct {
    unsigned char key[CM_SEAL_KEY_LEN];
    char    key_id[CM_SEAL_KEY_ID_LEN + 1];
} CM_SEAL_KEY;

typedef struct {
    unsigned long long in_bytes;	/* bytes read from in_fd */
    unsigned long long out_bytes;	/* bytes written to out_fd */
    size_t  key_index;			/* unseal: which key of the ring opened it */
} CM_SEAL_STATS;

extern int cm_seal_key_parse(const char *text, size_t len, CM_SEAL_KEY *key,
			             char *err, size_t errlen);
extern int cm_seal_key_load(const char *path, CM_SEAL_KEY *key, char *err, size_t errlen);
extern int cm_seal_key_generate(const char *path, char *err, size_t errlen);
extern void cm_seal_key_clear(CM_SEAL_KEY *key);
extern int cm_seal_stream(const CM_SEAL_KEY *key, const char *envelope_id,
			          int in_fd, int out_fd, int timeout_ms,
			          unsigned long long limit, CM_SEAL_STATS *stats,
			          char *err, size_t errlen);
extern int cm_unseal_stream(const CM_SEAL_KEY *key, const char *envelope_id,
			            int in_fd, int out_fd, int timeout_ms,
			            unsigned long long limit, CM_SEAL_STATS *stats,
			            char *err, size_t errlen);
extern int cm_unseal_stream_ring(const CM_SEAL_KEY *keys, size_t nkeys, const char *envelope_id,
				         int in_fd, int out_fd, int timeout_ms,
				         unsigned long long limit, CM_SEAL_STATS *stats,
				         char *err, size_t errlen);
extern ssize_t cm_seal_peek(const void *buf, size_t len,
			            char key_id[CM_SEAL_KEY_ID_LEN + 1],
			            char envelope_id[CM_ENVELOPE_ID_MAX + 1]);
extern int cm_seal_envelope_id_ok(const char *id);

#endif
