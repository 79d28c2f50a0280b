#ifndef CM_NOTARY_H
#define CM_NOTARY_H
/*++
 * NAME
 *	cm_notary 3h
 * SUMMARY
 *	the cmail-notary unix-socket protocol, its codec and its client
 * SYNOPSIS
 *	#include "cm_notary.h"
 *
 *	Client (cm_notary_client.c):
 *
 *	CM_NOTARY *cm_notary_connect(const char *path, int timeout_ms,
 *				char *err, size_t errlen);
 *	void	cm_notary_close(CM_NOTARY *nc);
 *	int	cm_notary_error_temporary(const CM_NOTARY *nc);
 *	int	cm_notary_ping(CM_NOTARY *nc, CM_NOTARY_INFO *info,
 *				char *err, size_t errlen);
 *	int	cm_notary_sign(CM_NOTARY *nc, const char *xml, size_t len,
 *				CM_NOTARY_PLACE place, char **signed_r,
 *				size_t *signed_len_r, char *err, size_t errlen);
 *	int	cm_notary_seal(CM_NOTARY *nc, const char *envelope_id,
 *				int in_fd, int out_fd, CM_SEAL_STATS *stats,
 *				char *err, size_t errlen);
 *	int	cm_notary_unseal(CM_NOTARY *nc, const char *envelope_id,
 *				int in_fd, int out_fd, CM_SEAL_STATS *stats,
 *				char *err, size_t errlen);
 *	int	cm_notary_record(CM_NOTARY *nc, const char *envelope_id,
 *				const char *event, const char *const *details,
 *				size_t ndetails, CM_NOTARY_RECORD_RESULT *res,
 *				char *err, size_t errlen);
 *	int	cm_notary_receipt(CM_NOTARY *nc, const char *envelope_id,
 *				const char *address, int sealed_fd,
 *				char **notice_r, size_t *notice_len_r,
 *				char *err, size_t errlen);
 *	int	cm_notary_lookup(CM_NOTARY *nc, const char *envelope_id,
 *				const char *event, const char *address,
 *				long long *count,
 *				char *details, size_t dlen,
 *				char *err, size_t errlen);
 *	int	cm_notary_answer(CM_NOTARY *nc, const char *envelope_id,
 *				const char *address, const char *notice,
 *				size_t notice_len, int sealed_fd,
 *				int envelope_fd, CM_NOTARY_ANSWER_RESULT *res,
 *				char *err, size_t errlen);
 *
 *	Codec, shared by the client and cmail-notary (cm_notary_msg.c):
 *
 *	void	cm_notary_out_init(CM_NOTARY_OUT *o, int type, uint32_t id);
 *	void	cm_notary_out_add(CM_NOTARY_OUT *o, int tag,
 *				const void *data, size_t len);
 *	void	cm_notary_out_str(CM_NOTARY_OUT *o, int tag, const char *s);
 *	void	cm_notary_out_u64(CM_NOTARY_OUT *o, int tag, uint64_t v);
 *	void	cm_notary_out_fd(CM_NOTARY_OUT *o, int fd);
 *	int	cm_notary_out_send(int sock, CM_NOTARY_OUT *o, int timeout_ms,
 *				char *err, size_t errlen);
 *	void	cm_notary_out_free(CM_NOTARY_OUT *o);
 *	int	cm_notary_recv(int sock, CM_NOTARY_MSG *m, int idle_timeout_ms,
 *				int timeout_ms, char *err, size_t errlen);
 *	int	cm_notary_decode(CM_NOTARY_MSG *m, char *err, size_t errlen);
 *	const CM_NOTARY_FIELD *cm_notary_get(const CM_NOTARY_MSG *m, int tag,
 *				size_t nth);
 *	int	cm_notary_get_str(const CM_NOTARY_MSG *m, int tag, char *buf,
 *				size_t buflen);
 *	int	cm_notary_get_u64(const CM_NOTARY_MSG *m, int tag, uint64_t *v);
 *	int	cm_notary_take_fd(CM_NOTARY_MSG *m, int i);
 *	void	cm_notary_msg_free(CM_NOTARY_MSG *m);
 *	const char *cm_notary_type_name(int type);
 * DESCRIPTION
 *	cmail-notary(8) holds the server signing key, the seal key and
 *	the evidence journal. Every other program asks it over a unix
 *	stream socket (cmail.conf: notary_socket). This header is the
 *	protocol; the notary and the client library share the codec.
 * FRAMING
 *	Every message, in both directions, is one frame:
 * .nf
 *	length   4 bytes  big-endian: number of bytes that follow,
 *	                  CM_NOTARY_HEADER_LEN .. CM_NOTARY_FRAME_MAX
 *	version  1 byte   CM_NOTARY_VERSION (1)
 *	type     1 byte   request type, or reply type (below)
 *	id       4 bytes  big-endian, chosen by the client; the reply
 *	                  carries the id of its request
 *	fields   the rest: zero or more of
 *	           tag    1 byte
 *	           length 4 bytes big-endian
 *	           value  length bytes
 * .fi
 *	File descriptors travel as one SCM_RIGHTS control message sent
 *	with the first byte of the frame (the length). Bulk data never
 *	travels through the socket: SEAL, UNSEAL and ANSWER carry exactly
 *	two descriptors, [0] to read the input from and [1] to write the
 *	output to; RECEIPT carries one ([0], input); every other message
 *	carries none.
 *
 *	A connection carries any number of requests, one at a time: the
 *	client sends a request and reads its reply before the next.
 * DECODER
 *	Each message type has a table of the fields it may carry, how
 *	many times (most: exactly once or at most once; DETAIL up to
 *	CM_EVIDENCE_DETAILS_MAX) and whether required; each tag has a size
 *	limit (exact for the numeric and hex fields). A frame is refused
 *	when it is shorter than the header ("short message"), longer than
 *	CM_NOTARY_FRAME_MAX ("frame too long": not read at all), of
 *	another version, of an unknown type, carries an unknown field, a
 *	field twice, a field over its limit, a missing required field, a
 *	field header or value running past the end ("truncated field":
 *	trailing bytes are never ignored), or the wrong number of
 *	descriptors. Text values must not contain NUL. A frame that stops
 *	arriving for CM_NOTARY_IO_TIMEOUT is "truncated frame".
 *
 *	When the notary refuses a frame it answers ERROR (with the
 *	frame's id when the header was readable, else 0) and closes the
 *	connection; it never exits or crashes because of a client. When a
 *	well-formed request fails (a notice that is not valid, a blob that
 *	does not unseal, a journal write that failed) it answers ERROR and
 *	keeps the connection open.
 * REQUESTS
 * .IP "PING (1): no fields"
 *	Reply PING_OK: KEY_ID (the seal key id, as in sealed blobs),
 *	CERT_SHA256 (hex SHA-256 of the DER server certificate), VERSION.
 * .IP "SIGN (2): NOTICE, PLACE"
 *	NOTICE is a notice XML document of at most CM_NOTICE_MAX bytes;
 *	PLACE is "postmark" (DigitalPostmark) or "info"
 *	(EnvelopeInformation, where a server signs only as S1 of a
 *	transit notice). The notary parses it with the hardened parser,
 *	checks it is one of the six notices (cm_notice_parse()), and signs
 *	it with the server key at that place (cm_dsig_sign(); the
 *	signature table of cm_dsig(3h) decides what may be signed where).
 *	The countersignature of a recipient-signed SignedReceiptNotice
 *	(signature 3) is a SIGN at "postmark" as well. The notary signs
 *	what it is given: which notices deserve the server's signature is
 *	the caller's decision, so only trusted programs may connect
 *	(socket mode, notary_allowed_users). Reply SIGN_OK: NOTICE, the
 *	signed document.
 * .IP "SEAL (3): ENVELOPE_ID; descriptors [0] plaintext in, [1] blob out"
 *	The notary reads the plaintext stored-form container from [0]
 *	until end of file and writes the sealed blob (cm_seal(3h) format)
 *	to [1]. It reads at most 2 x message_size_limit + 16 MiB (an
 *	endless input is an error, not a busy worker) and waits at most 60
 *	seconds for each read or write on the descriptors. Reply SEAL_OK:
 *	KEY_ID, BYTES_IN, BYTES_OUT.
 * .IP "UNSEAL (4): ENVELOPE_ID; descriptors [0] blob in, [1] plaintext out"
 *	Refused when the blob's key id is not the notary's seal key, its
 *	envelope id is not ENVELOPE_ID, or its tag does not verify.
 *	Plaintext is streamed to [1] before the tag at the end is checked:
 *	on an ERROR reply the caller MUST discard everything written to
 *	[1]. Reply UNSEAL_OK: KEY_ID, BYTES_IN, BYTES_OUT.
 * .IP "RECORD (5): ENVELOPE_ID, EVENT, DETAIL*"
 *	EVENT is one of deposited, queued, relayed, transit, challenged,
 *	answered, answer-refused, receipt-sent, receipt-received,
 *	non-delivery; each DETAIL is one
 *	"key=value" (key [a-z0-9_]{1,32}, printable value of at most 512
 *	bytes, keys unique, at most 16; e.g. queue_id=ABC123,
 *	recipient=bob@example.org, notice_sha256=...). The notary appends
 *	the row to the evidence journal (cm_evidence(3h)) and answers only
 *	after the SQLite commit is on disk. For the events that happen once
 *	(deposited, queued, transit, relayed, receipt-sent, receipt-received,
 *	non-delivery) a RECORD equal to an existing row of the envelope (same
 *	event, same details) is answered with that row and appends nothing:
 *	a client that lost the reply of a commit may retry safely. Reply RECORD_OK: SEQ (the row
 *	number), HASH (the row hash, 64 hex).
 * .IP "RECEIPT (6): ENVELOPE_ID, ADDRESS; descriptor [0] sealed blob in"
 *	For CPOP RETR (PROFILE.md sections 4 and 5). The notary unseals
 *	the blob (as UNSEAL, into memory it never passes on), parses the
 *	container's SignedDepositNotice, refuses unless ADDRESS is one of
 *	its Entity addresses, builds that recipient's ReceiptNotice
 *	(cm_notice_receipt_model(): Response emptied, EntityChallenge
 *	added), signs it at the postmark with the server key (signature
 *	1), journals "challenged" (recipient=ADDRESS, notice_sha256) and
 *	replies RECEIPT_OK: NOTICE, the signed ReceiptNotice. The expected
 *	answers never leave the notary.
 * .IP "ANSWER (7): ENVELOPE_ID, ADDRESS, NOTICE; descriptors [0] sealed blob in, [1] ENVELOPE out"
 *	For CPOP CHLG RESP. NOTICE is the recipient's SignedReceiptNotice.
 *	The notary unseals the blob and accepts the notice only when:
 *	cm_dsig_verify() with the configured trust_anchors and
 *	crl_directory (loaded for each ANSWER, so revocation is current)
 *	finds it valid with exactly two signatures; signature 1 is this
 *	server's (its certificate's SHA-256 is the notary's); signature 2
 *	(EntityChallenge) is by a certificate whose address is ADDRESS;
 *	the notice's content with the Response removed is exactly the
 *	ReceiptNotice of ADDRESS for THIS sealed message (same EnvelopeId,
 *	hashes, Entity and challenge: another message's receipt is not
 *	accepted); and the Response equals the sealed expected Response of
 *	ADDRESS (cm_challenge_answer_equal(), constant time). Then it
 *	countersigns (signature 3, DigitalPostmark), journals "answered"
 *	(recipient, sender, notice_sha256), and only after that commit
 *	writes the ENVELOPE to [1] and replies ANSWER_OK: NOTICE (the
 *	countersigned SignedReceiptNotice), BYTES_OUT (ENVELOPE bytes
 *	written), SENDER (the depositor: the address of the signature 2
 *	certificate of the sealed SignedDepositNotice, when known) and SEQ
 *	(the "answered" row). Answers are serialised: when the journal
 *	already has an "answered" row for this envelope and recipient, a
 *	notice that passes the same checks gets the ENVELOPE again, and the
 *	reply carries NOTICE countersigned again (the same document when the
 *	recipient's notice is the same: RSA PKCS#1 v1.5 is deterministic)
 *	and no SEQ (nothing is journalled twice): a caller that lost the
 *	first reply can still mail the receipt notice. A refused notice is journalled as
 *	"answer-refused" (recipient, reason) and answered with ERROR
 *	(CODE 'p'); [1] is then left untouched.
 * .IP "LOOKUP (8): ENVELOPE_ID, EVENT, ADDRESS?"
 *	Reads the journal: reply LOOKUP_OK: COUNT (how many rows of
 *	ENVELOPE_ID have EVENT and, with ADDRESS, a recipient= detail
 *	equal to ADDRESS) and the DETAIL fields of the first such
 *	row (none when COUNT is 0). cmtpd asks it when a peer brings a
 *	receipt notice (SEND NORP): the "deposited" row says whether the
 *	message was deposited here and by whom (sender=), and an earlier
 *	"receipt-received" row for the recipient makes a repeated SEND
 *	NORP harmless. The client joins the details as "key=value" lines
 *	separated by newlines.
 * REPLIES
 *	A successful reply has type (request type | 0x80); a failure has
 *	type ERROR (0xff), one field ERROR: a one-line reason (at most
 *	CM_NOTARY_ERROR_MAX bytes) for the caller's log, and a field CODE
 *	of one byte: 't' (temporary: I/O on the passed descriptors, the
 *	journal, resources; the same request may succeed later) or 'p'
 *	(permanent: the request itself is refused, e.g. a blob that does
 *	not unseal, a notice that cannot be signed, a malformed frame).
 *	Every reply carries the id of its request.
 * CLIENT
 *	cm_notary_connect() connects to the socket path, waiting at most
 *	timeout_ms; the same bound applies to every later send and to the
 *	wait for every reply (SEAL and UNSEAL add one second per 10 MB of
 *	a regular input file), so a dead or hung notary never hangs the
 *	caller. Every function returns 0, or -1 with a one-line reason in
 *	err ("notary: ..."). After a transport or protocol failure the
 *	handle is unusable (later calls fail); after an ERROR reply it can
 *	be used again. cm_notary_error_temporary() tells the caller whether
 *	the last failure on nc was temporary (1: transport trouble, a reply
 *	that does not fit, or an ERROR with CODE 't'; a caller answers 4xx
 *	or tempfails) or permanent (0: the request was refused, or its
 *	arguments were bad; 5xx or reject). A failed cm_notary_connect() is
 *	always temporary. cm_notary_sign() returns the signed document in
 *	*signed_r (malloc()ed, NUL-terminated, length in *signed_len_r).
 *	cm_notary_record() takes the details as "key=value" strings.
 * CODEC
 *	cm_notary_out_*() build one frame (errors are remembered and
 *	reported by cm_notary_out_send()). cm_notary_recv() reads one
 *	frame and its descriptors: it waits at most idle_timeout_ms for
 *	the first byte (<= 0: forever) and timeout_ms for the rest; it
 *	returns 1 with a frame, 0 on end of file before the first byte, -1
 *	with a reason (the header fields of m are set when they were
 *	read). cm_notary_decode() checks the frame against the tables
 *	above. cm_notary_get() returns the nth (from 0) field with tag or
 *	NULL. cm_notary_take_fd() hands descriptor i to the caller.
 *	cm_notary_msg_free() closes descriptors not taken.
 * SEE ALSO
 *	cmail-notary(8), cm_seal(3h), cm_evidence(3h), cm_dsig(3h)
 *--*/
#include <stddef.h>
#include <stdint.h>

#include "cm_limits.h"
#include "cm_seal.h"
#include "cm_evidence.h"

#define CM_NOTARY_VERSION	1
#define CM_NOTARY_HEADER_LEN	6	/* version, type, id */
#define CM_NOTARY_FRAME_MAX	(CM_NOTICE_MAX + 4096)
#define CM_NOTARY_FIELDS_MAX	24
#define CM_NOTARY_FDS_MAX	2
#define CM_NOTARY_ERROR_MAX	512
#define CM_NOTARY_IO_TIMEOUT	10000	/* ms, rest of a frame once started */

/* Request types; a successful reply is type | CM_NOTARY_REPLY. */
#define CM_NOTARY_PING		1
#define CM_NOTARY_SIGN		2
#define CM_NOTARY_SEAL		3
#define CM_NOTARY_UNSEAL	4
#define CM_NOTARY_RECORD	5
#define CM_NOTARY_RECEIPT	6
#define CM_NOTARY_ANSWER	7
#define CM_NOTARY_LOOKUP	8
#define CM_NOTARY_REPLY		0x80
#define CM_NOTARY_ERROR		0xff

/* Field tags. */
#define CM_NF_ENVELOPE_ID	1	/* text, 1..CM_ENVELOPE_ID_MAX */
#define CM_NF_PLACE		2	/* text "postmark" or "info" */
#define CM_NF_NOTICE		3	/* XML, 1..CM_NOTICE_MAX */
#define CM_NF_EVENT		4	/* text, evidence event name */
#define CM_NF_DETAIL		5	/* text key=value, repeatable */
#define CM_NF_SEQ		6	/* 8 bytes big-endian */
#define CM_NF_HASH		7	/* 64 hex */
#define CM_NF_KEY_ID		8	/* 16 hex */
#define CM_NF_BYTES_IN		9	/* 8 bytes big-endian */
#define CM_NF_BYTES_OUT		10	/* 8 bytes big-endian */
#define CM_NF_ERROR		11	/* text, 1..CM_NOTARY_ERROR_MAX */
#define CM_NF_VERSION		12	/* text, 1..64 */
#define CM_NF_CERT_SHA256	13	/* 64 hex */
#define CM_NF_CODE		14	/* 1 byte: 't' temporary, 'p' permanent */
#define CM_NF_ADDRESS		15	/* text, 1..CM_ADDRESS_MAX */
#define CM_NF_SENDER		16	/* text, 1..CM_ADDRESS_MAX */
#define CM_NF_COUNT		17	/* 8 bytes big-endian */
#define CM_NOTARY_TEMPORARY	't'
#define CM_NOTARY_PERMANENT	'p'

typedef enum {
    CM_NOTARY_PLACE_POSTMARK = 1,
    CM_NOTARY_PLACE_INFO = 2,
} CM_NOTARY_PLACE;

typedef struct {
    int     tag;
    const unsigned char *data;
    size_t  len;
} CM_NOTARY_FIELD;

typedef struct {
    unsigned char *buf;			/* the frame after the length */
    size_t  len;
    int     version;
    int     type;
    uint32_t id;
    int     have_header;		/* version, type and id were read */
    CM_NOTARY_FIELD fields[CM_NOTARY_FIELDS_MAX];
    size_t  nfields;
    int     fds[CM_NOTARY_FDS_MAX];
    int     nfds;
} CM_NOTARY_MSG;

typedef struct {
    unsigned char *buf;			/* length prefix + frame */
    size_t  len;
    size_t  cap;
    int     fds[CM_NOTARY_FDS_MAX];
    int     nfds;
    int     failed;
} CM_NOTARY_OUT;

typedef struct {
    char    key_id[CM_SEAL_KEY_ID_LEN + 1];
    char    cert_sha256[65];
    char    version[65];
} CM_NOTARY_INFO;

typedef struct {
    long long seq;
    char    hash[CM_EVIDENCE_HASH_LEN + 1];
} CM_NOTARY_RECORD_RESULT;

typedef struct {
    char   *notice;			/* malloc()ed SignedReceiptNotice */
    size_t  notice_len;
    unsigned long long envelope_bytes;	/* written to envelope_fd */
    char    sender[CM_ADDRESS_MAX + 1];	/* "" when unknown */
    long long seq;			/* "answered" row, 0 if answered before */
} CM_NOTARY_ANSWER_RESULT;

typedef struct CM_NOTARY CM_NOTARY;

/* Client. */
extern CM_NOTARY *cm_notary_connect(const char *path, int timeout_ms, char *err, size_t errlen);
extern void cm_notary_close(CM_NOTARY *nc);
extern int cm_notary_error_temporary(const CM_NOTARY *nc);
extern int cm_notary_ping(CM_NOTARY *nc, CM_NOTARY_INFO *info, char *err, size_t errlen);
extern int cm_notary_sign(CM_NOTARY *nc, const char *xml, size_t len, CM_NOTARY_PLACE place,
			          char **signed_r, size_t *signed_len_r, char *err, size_t errlen);
extern int cm_notary_seal(CM_NOTARY *nc, const char *envelope_id, int in_fd, int out_fd,
			          CM_SEAL_STATS *stats, char *err, size_t errlen);
extern int cm_notary_unseal(CM_NOTARY *nc, const char *envelope_id, int in_fd, int out_fd,
			            CM_SEAL_STATS *stats, char *err, size_t errlen);
extern int cm_notary_record(CM_NOTARY *nc, const char *envelope_id, const char *event,
			            const char *const *details, size_t ndetails,
			            CM_NOTARY_RECORD_RESULT *res, char *err, size_t errlen);
extern int cm_notary_receipt(CM_NOTARY *nc, const char *envelope_id, const char *address,
			             int sealed_fd, char **notice_r, size_t *notice_len_r,
			             char *err, size_t errlen);
extern int cm_notary_answer(CM_NOTARY *nc, const char *envelope_id, const char *address,
			            const char *notice, size_t notice_len, int sealed_fd,
			            int envelope_fd, CM_NOTARY_ANSWER_RESULT *res, char *err, size_t errlen);
extern int cm_notary_lookup(CM_NOTARY *nc, const char *envelope_id, const char *event,
			            const char *address, long long *count, char *details, size_t dlen,
			            char *err, size_t errlen);

/* Codec. */
extern void cm_notary_out_init(CM_NOTARY_OUT *o, int type, uint32_t id);
extern void cm_notary_out_add(CM_NOTARY_OUT *o, int tag, const void *data, size_t len);
extern void cm_notary_out_str(CM_NOTARY_OUT *o, int tag, const char *s);
extern void cm_notary_out_u64(CM_NOTARY_OUT *o, int tag, uint64_t v);
extern void cm_notary_out_fd(CM_NOTARY_OUT *o, int fd);
extern int cm_notary_out_send(int sock, CM_NOTARY_OUT *o, int timeout_ms, char *err, size_t errlen);
extern void cm_notary_out_free(CM_NOTARY_OUT *o);
extern int cm_notary_recv(int sock, CM_NOTARY_MSG *m, int idle_timeout_ms, int timeout_ms,
			          char *err, size_t errlen);
extern int cm_notary_decode(CM_NOTARY_MSG *m, char *err, size_t errlen);
extern const CM_NOTARY_FIELD *cm_notary_get(const CM_NOTARY_MSG *m, int tag, size_t nth);
extern int cm_notary_get_str(const CM_NOTARY_MSG *m, int tag, char *buf, size_t buflen);
extern int cm_notary_get_u64(const CM_NOTARY_MSG *m, int tag, uint64_t *v);
extern int cm_notary_take_fd(CM_NOTARY_MSG *m, int i);
extern void cm_notary_msg_free(CM_NOTARY_MSG *m);
extern const char *cm_notary_type_name(int type);

#endif
