#ifndef CM_EVIDENCE_H
#define CM_EVIDENCE_H
/*++
 * NAME
 *	cm_evidence 3h
 * SUMMARY
 *	the evidence journal: an append-only, hash-chained SQLite table
 * SYNOPSIS
 *	#include "cm_evidence.h"
 *
 *	CM_EVIDENCE *cm_evidence_open(const char *path, int mode,
 *				char *err, size_t errlen);
 *	void	cm_evidence_close(CM_EVIDENCE *ev);
 *	int	cm_evidence_append(CM_EVIDENCE *ev, const char *envelope_id,
 *				const char *event, const char *details,
 *				CM_EVIDENCE_ROW *row, char *err, size_t errlen);
 *	int	cm_evidence_list(CM_EVIDENCE *ev, const char *envelope_id,
 *				CM_EVIDENCE_ROW_FN fn, void *ctx,
 *				char *err, size_t errlen);
 *	int	cm_evidence_check(CM_EVIDENCE *ev, CM_EVIDENCE_CHECK *res,
 *				char *err, size_t errlen);
 *
 *	int	cm_evidence_event_ok(const char *event);
 *	char	*cm_evidence_details_canon(const char *const *kv, size_t n,
 *				char *err, size_t errlen);
 *	int	cm_evidence_row_hash(const CM_EVIDENCE_ROW *row,
 *				char hash[CM_EVIDENCE_HASH_LEN + 1]);
 * DESCRIPTION
 *	One table in one SQLite file (journal_mode=WAL, synchronous=FULL):
 * .nf
 *	evidence(seq INTEGER PRIMARY KEY, time TEXT, envelope_id TEXT,
 *	         event TEXT, details TEXT, prev_hash TEXT, hash TEXT)
 * .fi
 *	time is ISO 8601 UTC with milliseconds ("2026-11-25T07:34:57.123Z").
 *	event is one of deposited, queued, relayed, transit, challenged,
 *	answered, answer-refused, receipt-sent, non-delivery
 *	(cm_evidence_event_ok()).
 *	details is canonical: "key=value" lines, each ending in "\n",
 *	sorted by key (bytewise), keys [a-z0-9_]{1,32} and unique, values
 *	printable ASCII (0x20-0x7e) of at most CM_EVIDENCE_VALUE_MAX bytes,
 *	at most CM_EVIDENCE_DETAILS_MAX lines; "" when there are none.
 *
 *	hash is lowercase hex SHA-256 over this exact byte string (the
 *	fields cannot contain a newline, details is length-prefixed):
 * .nf
 *	"cmail-evidence-v1\n"
 *	"seq=" seq "\n" "time=" time "\n" "envelope_id=" envelope_id "\n"
 *	"event=" event "\n" "prev_hash=" prev_hash "\n"
 *	"details_length=" decimal byte length of details "\n" details
 * .fi
 *	prev_hash is the hash of row seq-1, 64 zeros for row 1 (genesis).
 *	Rows are numbered 1, 2, 3... without gaps.
 *
 *	cm_evidence_open() opens (CM_EVIDENCE_WRITE: creating the file
 *	with mode 0600 and the table if needed) or CM_EVIDENCE_READ (read
 *	only; the file must exist). cm_evidence_close() closes.
 *
 *	cm_evidence_append() checks envelope_id (cm_seal_envelope_id_ok()),
 *	event and details (which must already be canonical, e.g. from
 *	cm_evidence_details_canon()), then in one BEGIN IMMEDIATE
 *	transaction reads the last row, computes seq, time, prev_hash and
 *	hash, inserts the row and commits. With WAL and synchronous=FULL
 *	the commit returns after the WAL is fsync()ed: when append returns
 *	0 the row is on disk. Appends from threads sharing one handle are
 *	group-committed: while one thread commits, the rows of the others
 *	queue up and the next transaction writes them all with one fsync
 *	(each caller still returns only once its own row is durable).
 *	Appends from other processes are serialised by the transaction. On success *row (if not NULL) holds the new row; its
 *	details member is the details argument.
 *
 *	cm_evidence_list() calls fn for each row of envelope_id in seq
 *	order; a non-zero return from fn stops the walk. It returns the
 *	number of rows seen, or -1 with a reason.
 *
 *	cm_evidence_check() walks the whole table in seq order and checks,
 *	for each row: seq is the previous seq + 1 (first row: 1), prev_hash
 *	equals the previous row's hash (first row: genesis), the fields are
 *	well-formed and hash equals the recomputed hash. It returns 0 when
 *	the chain is intact, 1 when it is broken (res->bad_seq is the
 *	first broken row, res->reason says why: "seq gap (expected 3)",
 *	"prev_hash mismatch", "hash mismatch", "bad field ..."), -1 when the
 *	database cannot be read. res->rows counts the rows checked.
 *	Deleting the LAST rows cannot be seen from the chain alone; the
 *	notary therefore also logs each row's seq and hash to syslog, an
 *	independent copy of the chain head.
 *
 *	cm_evidence_details_canon() validates n "key=value" strings, sorts
 *	them and returns the canonical details text (malloc()ed), or NULL
 *	with a reason.
 *--*/
#include <stddef.h>

#include "cm_limits.h"

#define CM_EVIDENCE_WRITE	1
#define CM_EVIDENCE_READ	0

#define CM_EVIDENCE_HASH_LEN	64	/* hex SHA-256 */
#define CM_EVIDENCE_EVENT_MAX	16
#define CM_EVIDENCE_TIME_MAX	32
#define CM_EVIDENCE_KEY_MAX	32
#define CM_EVIDENCE_VALUE_MAX	512
#define CM_EVIDENCE_DETAILS_MAX	16	/* key=value lines per row */
#define CM_EVIDENCE_GENESIS \
    "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct CM_EVIDENCE CM_EVIDENCE;

typedef struct {
    long long seq;
    char    time[CM_EVIDENCE_TIME_MAX + 1];
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    event[CM_EVIDENCE_EVENT_MAX + 1];
    const char *details;		/* canonical lines, "" if none */
    char    prev_hash[CM_EVIDENCE_HASH_LEN + 1];
    char    hash[CM_EVIDENCE_HASH_LEN + 1];
} CM_EVIDENCE_ROW;

typedef struct {
    long long rows;			/* rows checked */
    long long bad_seq;			/* first broken row, 0 if none */
    char    reason[128];
} CM_EVIDENCE_CHECK;

typedef int (*CM_EVIDENCE_ROW_FN) (const CM_EVIDENCE_ROW *row, void *ctx);

extern CM_EVIDENCE *cm_evidence_open(const char *path, int mode, char *err, size_t errlen);
extern void cm_evidence_close(CM_EVIDENCE *ev);
extern int cm_evidence_append(CM_EVIDENCE *ev, const char *envelope_id, const char *event,
			              const char *details, CM_EVIDENCE_ROW *row,
			              char *err, size_t errlen);
extern int cm_evidence_list(CM_EVIDENCE *ev, const char *envelope_id,
			            CM_EVIDENCE_ROW_FN fn, void *ctx, char *err, size_t errlen);
extern int cm_evidence_check(CM_EVIDENCE *ev, CM_EVIDENCE_CHECK *res, char *err, size_t errlen);
extern int cm_evidence_event_ok(const char *event);
extern char *cm_evidence_details_canon(const char *const *kv, size_t n,
				               char *err, size_t errlen);
extern int cm_evidence_details_ok(const char *details);
extern int cm_evidence_row_hash(const CM_EVIDENCE_ROW *row, char hash[CM_EVIDENCE_HASH_LEN + 1]);

#endif
