/*++
 * NAME
 *	cm_evidence 3
 * SUMMARY
 *	hash-chained evidence journal in SQLite
 * DESCRIPTION
 *	See cm_evidence.h for the table, the canonical serialisation and
 *	the chain rules. cmail-notary is the only writer; `cmail evidence`
 *	opens the file read-only.
 *--*/
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <openssl/evp.h>

#include "cm_limits.h"
#include "cm_seal.h"
#include "cm_evidence.h"

typedef struct EV_REQ EV_REQ;

struct CM_EVIDENCE {
    sqlite3 *db;
    int     mode;
    pthread_mutex_t lock;		/* the connection */
    pthread_mutex_t qlock;		/* the append queue */
    pthread_cond_t qcond;
    EV_REQ *qhead, *qtail;		/* appends waiting for a commit */
    int     leader;			/* a thread is committing */
    sqlite3_stmt *last;			/* writer: the last row */
    sqlite3_stmt *insert;		/* writer: insert one row */
};

static const char *const ev_events[] = {
    "deposited", "queued", "relayed", "transit", "challenged", "answered",
    "answer-refused", "receipt-sent", "receipt-received", "non-delivery", 0,
};

#define EV_SCHEMA \
    "CREATE TABLE IF NOT EXISTS evidence(seq INTEGER PRIMARY KEY, time TEXT NOT NULL," \
    " envelope_id TEXT NOT NULL, event TEXT NOT NULL, details TEXT NOT NULL," \
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);" \
    "CREATE INDEX IF NOT EXISTS evidence_envelope ON evidence(envelope_id);"

#define EV_COLUMNS "seq, time, envelope_id, event, details, prev_hash, hash"

/* cm_evidence_event_ok - is event one of the fixed names */
int     cm_evidence_event_ok(const char *event)
{
    const char *const *e;

    if (event == 0)
	return (0);
    for (e = ev_events; *e; e++)
	if (strcmp(*e, event) == 0)
	    return (1);
    return (0);
}

/* ev_key_ok - [a-z0-9_]{1,32}, len bytes */
static int ev_key_ok(const char *key, size_t len)
{
    size_t  i;

    if (len < 1 || len > CM_EVIDENCE_KEY_MAX)
	return (0);
    for (i = 0; i < len; i++)
	if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9')
	      || key[i] == '_'))
	    return (0);
    return (1);
}

/* ev_value_ok - printable ASCII, at most CM_EVIDENCE_VALUE_MAX bytes */
static int ev_value_ok(const char *val, size_t len)
{
    size_t  i;

    if (len > CM_EVIDENCE_VALUE_MAX)
	return (0);
    for (i = 0; i < len; i++)
	if ((unsigned char) val[i] < 0x20 || (unsigned char) val[i] > 0x7e)
	    return (0);
    return (1);
}

/* ev_kv_cmp - qsort: compare "key=value" strings by key */
static int ev_kv_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *) a;
    const char *y = *(const char *const *) b;
    size_t  lx = strcspn(x, "=");
    size_t  ly = strcspn(y, "=");
    int     c = memcmp(x, y, lx < ly ? lx : ly);

    if (c != 0)
	return (c);
    return (lx < ly ? -1 : lx > ly ? 1 : 0);
}

/* cm_evidence_details_canon - validate and sort key=value strings */
char   *cm_evidence_details_canon(const char *const *kv, size_t n, char *err, size_t errlen)
{
    const char **sorted;
    char   *out, *p;
    size_t  total = 1;
    size_t  i;

    if (n > CM_EVIDENCE_DETAILS_MAX) {
	snprintf(err, errlen, "more than %d details", CM_EVIDENCE_DETAILS_MAX);
	return (0);
    }
    for (i = 0; i < n; i++) {
	const char *eq = strchr(kv[i], '=');

	if (eq == 0 || !ev_key_ok(kv[i], (size_t) (eq - kv[i]))) {
	    snprintf(err, errlen, "detail %zu: expected key=value with key [a-z0-9_]{1,%d}",
		     i + 1, CM_EVIDENCE_KEY_MAX);
	    return (0);
	}
	if (!ev_value_ok(eq + 1, strlen(eq + 1))) {
	    snprintf(err, errlen, "detail %.32s: value must be printable ASCII of at most %d bytes",
		     kv[i], CM_EVIDENCE_VALUE_MAX);
	    return (0);
	}
	total += strlen(kv[i]) + 1;
    }
    if ((sorted = calloc(n ? n : 1, sizeof(*sorted))) == 0 || (out = malloc(total)) == 0) {
	free(sorted);
	snprintf(err, errlen, "out of memory");
	return (0);
    }
    memcpy(sorted, kv, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), ev_kv_cmp);
    for (i = 1; i < n; i++) {
	if (ev_kv_cmp(&sorted[i - 1], &sorted[i]) == 0) {
	    snprintf(err, errlen, "duplicate detail key '%.*s'",
		     (int) strcspn(sorted[i], "="), sorted[i]);
	    free(sorted);
	    free(out);
	    return (0);
	}
    }
    for (p = out, i = 0; i < n; i++) {
	size_t  len = strlen(sorted[i]);

	memcpy(p, sorted[i], len);
	p += len;
	*p++ = '\n';
    }
    *p = 0;
    free(sorted);
    return (out);
}

/* cm_evidence_details_ok - is details canonical (sorted, unique, valid) */
int     cm_evidence_details_ok(const char *details)
{
    const char *line = details;
    const char *prev = 0;
    size_t  prev_klen = 0;
    int     count = 0;

    if (details == 0)
	return (0);
    while (*line) {
	const char *nl = strchr(line, '\n');
	const char *eq;
	size_t  klen;

	if (nl == 0 || ++count > CM_EVIDENCE_DETAILS_MAX)
	    return (0);
	if ((eq = memchr(line, '=', (size_t) (nl - line))) == 0)
	    return (0);
	klen = (size_t) (eq - line);
	if (!ev_key_ok(line, klen) || !ev_value_ok(eq + 1, (size_t) (nl - eq - 1)))
	    return (0);
	if (prev) {
	    int     c = memcmp(prev, line, prev_klen < klen ? prev_klen : klen);

	    if (c > 0 || (c == 0 && prev_klen >= klen))
		return (0);
	}
	prev = line;
	prev_klen = klen;
	line = nl + 1;
    }
    return (1);
}

/* ev_hex_ok - exactly 64 lowercase hex digits */
static int ev_hex_ok(const char *s)
{
    return (strlen(s) == CM_EVIDENCE_HASH_LEN
	    && strspn(s, "0123456789abcdef") == CM_EVIDENCE_HASH_LEN);
}

/* cm_evidence_row_hash - SHA-256 of the canonical serialisation, hex */
int     cm_evidence_row_hash(const CM_EVIDENCE_ROW *row, char hash[CM_EVIDENCE_HASH_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    size_t  dlen = strlen(row->details);
    size_t  cap = 512 + dlen;
    char   *buf;
    int     n;
    unsigned int i;

    if ((buf = malloc(cap)) == 0)
	return (-1);
    n = snprintf(buf, cap, "cmail-evidence-v1\nseq=%lld\ntime=%s\nenvelope_id=%s\n"
		 "event=%s\nprev_hash=%s\ndetails_length=%zu\n",
		 row->seq, row->time, row->envelope_id, row->event, row->prev_hash, dlen);
    if (n < 0 || (size_t) n + dlen >= cap) {
	free(buf);
	return (-1);
    }
    memcpy(buf + n, row->details, dlen);
    if (!EVP_Digest(buf, (size_t) n + dlen, md, &mdlen, EVP_sha256(), 0)) {
	free(buf);
	return (-1);
    }
    free(buf);
    for (i = 0; i < mdlen && i < CM_EVIDENCE_HASH_LEN / 2; i++)
	snprintf(hash + 2 * i, 3, "%02x", md[i]);
    hash[CM_EVIDENCE_HASH_LEN] = 0;
    return (0);
}

/* ev_now - ISO 8601 UTC time with milliseconds */
static void ev_now(char out[CM_EVIDENCE_TIME_MAX + 1])
{
    struct timespec ts;
    struct tm tm;
    size_t  n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(out, CM_EVIDENCE_TIME_MAX + 1, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, CM_EVIDENCE_TIME_MAX + 1 - n, ".%03dZ",
	     (int) ((unsigned long) ts.tv_nsec / 1000000UL % 1000));
}

/* ev_exec - run SQL without results */
static int ev_exec(CM_EVIDENCE *ev, const char *sql, char *err, size_t errlen)
{
    char   *msg = 0;

    if (sqlite3_exec(ev->db, sql, 0, 0, &msg) != SQLITE_OK) {
	snprintf(err, errlen, "evidence database: %s: %s", sql,
		 msg ? msg : sqlite3_errmsg(ev->db));
	sqlite3_free(msg);
	return (-1);
    }
    return (0);
}

/* cm_evidence_open - open the journal for writing or reading */
CM_EVIDENCE *cm_evidence_open(const char *path, int mode, char *err, size_t errlen)
{
    CM_EVIDENCE *ev;
    sqlite3_stmt *st = 0;
    int     flags;
    int     fd;

    if ((ev = calloc(1, sizeof(*ev))) == 0) {
	snprintf(err, errlen, "out of memory");
	return (0);
    }
    ev->mode = mode;
    pthread_mutex_init(&ev->lock, 0);
    pthread_mutex_init(&ev->qlock, 0);
    pthread_cond_init(&ev->qcond, 0);
    if (mode == CM_EVIDENCE_WRITE) {
	/* Create the file ourselves so that it gets mode 0600. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
	    snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	    goto fail;
	}
	close(fd);
	flags = SQLITE_OPEN_READWRITE;
    } else {
	flags = SQLITE_OPEN_READONLY;
    }
    if (sqlite3_open_v2(path, &ev->db, flags | SQLITE_OPEN_FULLMUTEX, 0) != SQLITE_OK) {
	snprintf(err, errlen, "open %s: %s", path,
		 ev->db ? sqlite3_errmsg(ev->db) : "out of memory");
	goto fail;
    }
    sqlite3_busy_timeout(ev->db, 10000);
    if (mode == CM_EVIDENCE_WRITE) {
	if (sqlite3_prepare_v2(ev->db, "PRAGMA journal_mode=WAL", -1, &st, 0) != SQLITE_OK
	    || sqlite3_step(st) != SQLITE_ROW
	    || strcmp((const char *) sqlite3_column_text(st, 0), "wal") != 0) {
	    snprintf(err, errlen, "%s: cannot switch to WAL mode: %s", path,
		     sqlite3_errmsg(ev->db));
	    goto fail;
	}
	sqlite3_finalize(st);
	st = 0;
	if (ev_exec(ev, "PRAGMA synchronous=FULL", err, errlen) < 0
	    || ev_exec(ev, EV_SCHEMA, err, errlen) < 0)
	    goto fail;
	if (sqlite3_prepare_v2(ev->db, "SELECT seq, hash FROM evidence ORDER BY seq DESC LIMIT 1",
			       -1, &ev->last, 0) != SQLITE_OK
	    || sqlite3_prepare_v2(ev->db, "INSERT INTO evidence(" EV_COLUMNS
				  ") VALUES(?, ?, ?, ?, ?, ?, ?)", -1, &ev->insert, 0) != SQLITE_OK) {
	    snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(ev->db));
	    goto fail;
	}
    } else {
	if (sqlite3_prepare_v2(ev->db, "SELECT 1 FROM evidence LIMIT 1", -1, &st, 0) != SQLITE_OK) {
	    snprintf(err, errlen, "%s: not an evidence journal: %s", path, sqlite3_errmsg(ev->db));
	    goto fail;
	}
	sqlite3_finalize(st);
	st = 0;
    }
    return (ev);
fail:
    sqlite3_finalize(st);
    cm_evidence_close(ev);
    return (0);
}

/* cm_evidence_close - release */
void    cm_evidence_close(CM_EVIDENCE *ev)
{
    if (ev == 0)
	return;
    sqlite3_finalize(ev->last);
    sqlite3_finalize(ev->insert);
    sqlite3_close(ev->db);
    pthread_mutex_destroy(&ev->lock);
    pthread_mutex_destroy(&ev->qlock);
    pthread_cond_destroy(&ev->qcond);
    free(ev);
}

/*
 * Group commit. Appends from several threads are queued; the first
 * thread to find no commit in progress becomes the leader and writes
 * every queued row in ONE transaction (one fsync), repeating while rows
 * keep arriving; the others wait until their row is durable. A single
 * caller sees exactly one transaction per append.
 */
struct EV_REQ {
    CM_EVIDENCE_ROW row;		/* in: envelope_id, event, details */
    int     done;
    int     ret;
    char    err[256];
    struct EV_REQ *next;
};

/* ev_commit_batch - append the rows of batch in one transaction */
static void ev_commit_batch(CM_EVIDENCE *ev, EV_REQ *batch)
{
    char    err[256];
    char    prev[CM_EVIDENCE_HASH_LEN + 1];
    long long seq;
    EV_REQ *q;
    int     rc;

    err[0] = 0;
    if (ev_exec(ev, "BEGIN IMMEDIATE", err, sizeof(err)) < 0)
	goto fail;
    sqlite3_reset(ev->last);
    rc = sqlite3_step(ev->last);
    if (rc == SQLITE_ROW) {
	const char *h = (const char *) sqlite3_column_text(ev->last, 1);

	seq = sqlite3_column_int64(ev->last, 0) + 1;
	if (h == 0 || !ev_hex_ok(h)) {
	    snprintf(err, sizeof(err), "evidence database: last row %lld has a bad hash", seq - 1);
	    goto rollback;
	}
	memcpy(prev, h, sizeof(prev));
    } else if (rc == SQLITE_DONE) {
	seq = 1;
	memcpy(prev, CM_EVIDENCE_GENESIS, sizeof(prev));
    } else {
	snprintf(err, sizeof(err), "evidence database: %s", sqlite3_errmsg(ev->db));
	goto rollback;
    }
    sqlite3_reset(ev->last);
    for (q = batch; q; q = q->next) {
	CM_EVIDENCE_ROW *r = &q->row;

	r->seq = seq++;
	memcpy(r->prev_hash, prev, sizeof(prev));
	ev_now(r->time);
	if (cm_evidence_row_hash(r, r->hash) < 0) {
	    snprintf(err, sizeof(err), "evidence: cannot hash the row");
	    goto rollback;
	}
	sqlite3_reset(ev->insert);
	sqlite3_bind_int64(ev->insert, 1, r->seq);
	sqlite3_bind_text(ev->insert, 2, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(ev->insert, 3, r->envelope_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(ev->insert, 4, r->event, -1, SQLITE_STATIC);
	sqlite3_bind_text(ev->insert, 5, r->details, -1, SQLITE_STATIC);
	sqlite3_bind_text(ev->insert, 6, r->prev_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(ev->insert, 7, r->hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(ev->insert);
	sqlite3_clear_bindings(ev->insert);
	sqlite3_reset(ev->insert);
	if (rc != SQLITE_DONE) {
	    snprintf(err, sizeof(err), "evidence database: insert: %s", sqlite3_errmsg(ev->db));
	    goto rollback;
	}
	memcpy(prev, r->hash, sizeof(prev));
    }
    if (ev_exec(ev, "COMMIT", err, sizeof(err)) < 0)
	goto rollback;
    for (q = batch; q; q = q->next)
	q->ret = 0;
    return;
rollback:
    sqlite3_reset(ev->last);
    sqlite3_exec(ev->db, "ROLLBACK", 0, 0, 0);
fail:
    for (q = batch; q; q = q->next) {
	q->ret = -1;
	snprintf(q->err, sizeof(q->err), "%s", err);
    }
}

/* cm_evidence_append - add one durable row */
int     cm_evidence_append(CM_EVIDENCE *ev, const char *envelope_id, const char *event,
			           const char *details, CM_EVIDENCE_ROW *row,
			           char *err, size_t errlen)
{
    EV_REQ  req;

    if (ev->mode != CM_EVIDENCE_WRITE) {
	snprintf(err, errlen, "evidence database opened read-only");
	return (-1);
    }
    if (!cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "bad envelope id");
	return (-1);
    }
    if (!cm_evidence_event_ok(event)) {
	snprintf(err, errlen, "unknown evidence event '%.32s'", event ? event : "");
	return (-1);
    }
    if (details == 0)
	details = "";
    if (!cm_evidence_details_ok(details)) {
	snprintf(err, errlen, "details are not canonical key=value lines");
	return (-1);
    }
    memset(&req, 0, sizeof(req));
    snprintf(req.row.envelope_id, sizeof(req.row.envelope_id), "%s", envelope_id);
    snprintf(req.row.event, sizeof(req.row.event), "%s", event);
    req.row.details = details;
    req.ret = -1;

    pthread_mutex_lock(&ev->qlock);
    if (ev->qtail)
	ev->qtail->next = &req;
    else
	ev->qhead = &req;
    ev->qtail = &req;
    while (!req.done) {
	if (ev->leader) {
	    pthread_cond_wait(&ev->qcond, &ev->qlock);
	    continue;
	}
	ev->leader = 1;
	while (ev->qhead) {
	    EV_REQ *batch = ev->qhead;
	    EV_REQ *q, *next;

	    ev->qhead = ev->qtail = 0;
	    pthread_mutex_unlock(&ev->qlock);
	    pthread_mutex_lock(&ev->lock);
	    ev_commit_batch(ev, batch);
	    pthread_mutex_unlock(&ev->lock);
	    pthread_mutex_lock(&ev->qlock);
	    for (q = batch; q; q = next) {
		next = q->next;			/* q may be gone once done */
		q->done = 1;
	    }
	    pthread_cond_broadcast(&ev->qcond);
	}
	ev->leader = 0;
    }
    pthread_mutex_unlock(&ev->qlock);
    if (req.ret < 0) {
	snprintf(err, errlen, "%s", req.err);
	return (-1);
    }
    if (row)
	*row = req.row;
    return (0);
}

/* ev_row_get - copy the current result row; 0, or -1 with a reason */
static int ev_row_get(sqlite3_stmt *st, CM_EVIDENCE_ROW *r, char *why, size_t whylen)
{
    static const struct {
	int     col;
	size_t  max;
	const char *name;
    } cols[] = {
	{1, CM_EVIDENCE_TIME_MAX, "time"},
	{2, CM_ENVELOPE_ID_MAX, "envelope_id"},
	{3, CM_EVIDENCE_EVENT_MAX, "event"},
	{5, CM_EVIDENCE_HASH_LEN, "prev_hash"},
	{6, CM_EVIDENCE_HASH_LEN, "hash"},
    };
    char   *dst[5];
    size_t  i;

    dst[0] = r->time;
    dst[1] = r->envelope_id;
    dst[2] = r->event;
    dst[3] = r->prev_hash;
    dst[4] = r->hash;
    memset(r, 0, sizeof(*r));
    r->seq = sqlite3_column_int64(st, 0);
    for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
	const unsigned char *v = sqlite3_column_text(st, cols[i].col);
	int     n = sqlite3_column_bytes(st, cols[i].col);

	if (v == 0 || n < 0 || (size_t) n > cols[i].max || memchr(v, 0, (size_t) n)) {
	    snprintf(why, whylen, "bad field %s", cols[i].name);
	    return (-1);
	}
	memcpy(dst[i], v, (size_t) n);
	dst[i][n] = 0;
    }
    r->details = (const char *) sqlite3_column_text(st, 4);
    if (r->details == 0 || (size_t) sqlite3_column_bytes(st, 4) != strlen(r->details)) {
	snprintf(why, whylen, "bad field details");
	return (-1);
    }
    return (0);
}

/* cm_evidence_list - rows of one envelope in seq order */
int     cm_evidence_list(CM_EVIDENCE *ev, const char *envelope_id,
			         CM_EVIDENCE_ROW_FN fn, void *ctx, char *err, size_t errlen)
{
    sqlite3_stmt *st = 0;
    CM_EVIDENCE_ROW r;
    char    why[64];
    int     count = 0;
    int     rc;

    if (!cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "bad envelope id");
	return (-1);
    }
    pthread_mutex_lock(&ev->lock);
    if (sqlite3_prepare_v2(ev->db, "SELECT " EV_COLUMNS " FROM evidence WHERE envelope_id = ?"
			   " ORDER BY seq", -1, &st, 0) != SQLITE_OK) {
	snprintf(err, errlen, "evidence database: %s", sqlite3_errmsg(ev->db));
	count = -1;
	goto done;
    }
    sqlite3_bind_text(st, 1, envelope_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
	if (ev_row_get(st, &r, why, sizeof(why)) < 0) {
	    snprintf(err, errlen, "evidence database: row %lld: %s",
		     (long long) sqlite3_column_int64(st, 0), why);
	    count = -1;
	    goto done;
	}
	count++;
	if (fn(&r, ctx) != 0)
	    goto done;
    }
    if (rc != SQLITE_DONE) {
	snprintf(err, errlen, "evidence database: %s", sqlite3_errmsg(ev->db));
	count = -1;
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ev->lock);
    return (count);
}

/* cm_evidence_check - walk the whole chain */
int     cm_evidence_check(CM_EVIDENCE *ev, CM_EVIDENCE_CHECK *res, char *err, size_t errlen)
{
    sqlite3_stmt *st = 0;
    CM_EVIDENCE_ROW r;
    char    prev[CM_EVIDENCE_HASH_LEN + 1];
    char    hash[CM_EVIDENCE_HASH_LEN + 1];
    long long expect = 1;
    int     ret = 0;
    int     rc;

    memset(res, 0, sizeof(*res));
    memcpy(prev, CM_EVIDENCE_GENESIS, sizeof(prev));
    pthread_mutex_lock(&ev->lock);
    if (sqlite3_prepare_v2(ev->db, "SELECT " EV_COLUMNS " FROM evidence ORDER BY seq",
			   -1, &st, 0) != SQLITE_OK) {
	snprintf(err, errlen, "evidence database: %s", sqlite3_errmsg(ev->db));
	ret = -1;
	goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
	long long seq = sqlite3_column_int64(st, 0);

	res->rows++;
	if (seq != expect) {
	    snprintf(res->reason, sizeof(res->reason), "seq gap (expected %lld)", expect);
	} else if (ev_row_get(st, &r, res->reason, sizeof(res->reason)) < 0) {
	     /* reason set */ ;
	} else if (strcmp(r.prev_hash, prev) != 0) {
	    snprintf(res->reason, sizeof(res->reason), "prev_hash mismatch");
	} else if (!cm_seal_envelope_id_ok(r.envelope_id)) {
	    snprintf(res->reason, sizeof(res->reason), "bad field envelope_id");
	} else if (!cm_evidence_event_ok(r.event)) {
	    snprintf(res->reason, sizeof(res->reason), "bad field event");
	} else if (!cm_evidence_details_ok(r.details)) {
	    snprintf(res->reason, sizeof(res->reason), "bad field details");
	} else if (!ev_hex_ok(r.hash)) {
	    snprintf(res->reason, sizeof(res->reason), "bad field hash");
	} else if (cm_evidence_row_hash(&r, hash) < 0) {
	    snprintf(err, errlen, "evidence: cannot hash row %lld", seq);
	    ret = -1;
	    goto done;
	} else if (strcmp(hash, r.hash) != 0) {
	    snprintf(res->reason, sizeof(res->reason), "hash mismatch");
	}
	if (res->reason[0]) {
	    res->bad_seq = seq;
	    ret = 1;
	    goto done;
	}
	memcpy(prev, r.hash, sizeof(prev));
	expect = seq + 1;
    }
    if (rc != SQLITE_DONE) {
	snprintf(err, errlen, "evidence database: %s", sqlite3_errmsg(ev->db));
	ret = -1;
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ev->lock);
    return (ret);
}
