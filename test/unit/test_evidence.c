/*++
 * NAME
 *	test_evidence 1
 * SUMMARY
 *	unit tests of cm_evidence: the hash-chained journal
 * DESCRIPTION
 *	Canonical details; the row hash against the documented byte
 *	string hashed independently; appends (numbering, chain, WAL and
 *	synchronous=FULL, file mode); listing per envelope; the chain
 *	check on an intact journal and after tampering with the SQLite
 *	file directly (edited details, deleted middle row, a row edited
 *	and re-hashed, a bad event); read-only handles; refused input;
 *	concurrent appends from two threads and two handles.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <openssl/evp.h>

#include "cm_evidence.h"

static char dir[64];
static char db_path[128];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_evidence.XXXXXX");
    if (mkdtemp(dir) == 0)
	return (-1);
    snprintf(db_path, sizeof(db_path), "%s/evidence.db", dir);
    return (0);
}

/* remove_db - the database and its WAL files */
static void remove_db(void)
{
    char    p[160];

    unlink(db_path);
    snprintf(p, sizeof(p), "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db_path);
    unlink(p);
}

static int teardown(void **state)
{
    remove_db();
    rmdir(dir);
    return (0);
}

/* sql - run SQL on the journal behind cm_evidence's back */
static void sql(const char *stmt)
{
    sqlite3 *db;
    char   *msg = 0;

    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    if (sqlite3_exec(db, stmt, 0, 0, &msg) != SQLITE_OK)
	fail_msg("%s: %s", stmt, msg);
    sqlite3_close(db);
}

/* make_journal - a fresh journal with n rows over two envelopes */
static void make_journal(int n)
{
    static const char *const events[] = {"deposited", "queued", "relayed", "challenged",
    "answered", "receipt-sent"};
    CM_EVIDENCE *ev;
    CM_EVIDENCE_ROW row;
    char    err[256];
    char    details[64];
    int     i;

    remove_db();
    ev = cm_evidence_open(db_path, CM_EVIDENCE_WRITE, err, sizeof(err));
    assert_non_null(ev);
    for (i = 1; i <= n; i++) {
	snprintf(details, sizeof(details), "queue_id=Q%d\nrecipient=r%d@example.org\n", i, i);
	assert_int_equal(cm_evidence_append(ev, i % 2 ? "ENV-ODD" : "ENV-EVEN",
					    events[i % 6], details, &row, err, sizeof(err)), 0);
	assert_int_equal(row.seq, i);
    }
    cm_evidence_close(ev);
}

/* check_journal - run cm_evidence_check on the file */
static int check_journal(CM_EVIDENCE_CHECK *res)
{
    CM_EVIDENCE *ev;
    char    err[256];
    int     ret;

    ev = cm_evidence_open(db_path, CM_EVIDENCE_READ, err, sizeof(err));
    assert_non_null(ev);
    ret = cm_evidence_check(ev, res, err, sizeof(err));
    cm_evidence_close(ev);
    return (ret);
}

/* test_details - canonical key=value lines */
static void test_details(void **state)
{
    const char *kv[] = {"recipient=bob@example.org", "queue_id=ABC123", "a_b9=x y"};
    const char *dup[] = {"k=1", "k=2"};
    const char *bad1[] = {"Key=1"};
    const char *bad2[] = {"k=tab\there"};
    const char *bad3[] = {"novalue"};
    const char *many[17];
    char    err[256];
    char   *d;
    int     i;

    d = cm_evidence_details_canon(kv, 3, err, sizeof(err));
    assert_string_equal(d, "a_b9=x y\nqueue_id=ABC123\nrecipient=bob@example.org\n");
    assert_int_equal(cm_evidence_details_ok(d), 1);
    free(d);
    d = cm_evidence_details_canon(kv, 0, err, sizeof(err));
    assert_string_equal(d, "");
    free(d);
    assert_null(cm_evidence_details_canon(dup, 2, err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate"));
    assert_null(cm_evidence_details_canon(bad1, 1, err, sizeof(err)));
    assert_null(cm_evidence_details_canon(bad2, 1, err, sizeof(err)));
    assert_null(cm_evidence_details_canon(bad3, 1, err, sizeof(err)));
    for (i = 0; i < 17; i++)
	many[i] = "k=v";
    assert_null(cm_evidence_details_canon(many, 17, err, sizeof(err)));
    assert_int_equal(cm_evidence_details_ok("b=1\na=2\n"), 0);
    assert_int_equal(cm_evidence_details_ok("a=1\na=2\n"), 0);
    assert_int_equal(cm_evidence_details_ok("a=1"), 0);
    assert_int_equal(cm_evidence_details_ok("a=1\nab=2\n"), 1);
    assert_int_equal(cm_evidence_event_ok("receipt-sent"), 1);
    assert_int_equal(cm_evidence_event_ok("deleted"), 0);
}

/* test_row_hash - equals SHA-256 of the documented serialisation */
static void test_row_hash(void **state)
{
    CM_EVIDENCE_ROW r;
    const char *text = "cmail-evidence-v1\nseq=7\ntime=2026-11-25T07:34:57.123Z\n"
	"envelope_id=ENV-1\nevent=queued\nprev_hash=" CM_EVIDENCE_GENESIS "\n"
	"details_length=16\nqueue_id=ABC123\n";
    unsigned char md[32];
    unsigned int mdlen;
    char    want[65], got[65];
    int     i;

    memset(&r, 0, sizeof(r));
    r.seq = 7;
    strcpy(r.time, "2026-11-25T07:34:57.123Z");
    strcpy(r.envelope_id, "ENV-1");
    strcpy(r.event, "queued");
    r.details = "queue_id=ABC123\n";
    strcpy(r.prev_hash, CM_EVIDENCE_GENESIS);
    assert_int_equal(EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), 0), 1);
    for (i = 0; i < 32; i++)
	snprintf(want + 2 * i, 3, "%02x", md[i]);
    assert_int_equal(cm_evidence_row_hash(&r, got), 0);
    assert_string_equal(got, want);
}

/* chain_cb - collect rows of one envelope */
static int list_cb(const CM_EVIDENCE_ROW *row, void *ctx)
{
    long long *seqs = ctx;

    seqs[++seqs[0]] = row->seq;
    assert_string_equal(row->envelope_id, "ENV-ODD");
    assert_non_null(strstr(row->details, "queue_id=Q"));
    assert_int_equal(strlen(row->hash), 64);
    return (0);
}

/* test_append - numbering, chain, list, WAL, mode 0600 */
static void test_append(void **state)
{
    CM_EVIDENCE *ev;
    CM_EVIDENCE_ROW a, b;
    CM_EVIDENCE_CHECK res;
    struct stat st;
    long long seqs[16] = {0};
    char    err[256];
    char    h[65];
    sqlite3 *db;
    sqlite3_stmt *s;

    remove_db();
    ev = cm_evidence_open(db_path, CM_EVIDENCE_WRITE, err, sizeof(err));
    assert_non_null(ev);
    assert_int_equal(cm_evidence_append(ev, "E1", "deposited", "", &a, err, sizeof(err)), 0);
    assert_int_equal(a.seq, 1);
    assert_string_equal(a.prev_hash, CM_EVIDENCE_GENESIS);
    assert_int_equal(strlen(a.time), 24);
    assert_int_equal(a.time[10], 'T');
    assert_int_equal(a.time[23], 'Z');
    assert_int_equal(cm_evidence_row_hash(&a, h), 0);
    assert_string_equal(h, a.hash);
    assert_int_equal(cm_evidence_append(ev, "E1", "queued", "queue_id=ABC\n", &b,
					err, sizeof(err)), 0);
    assert_int_equal(b.seq, 2);
    assert_string_equal(b.prev_hash, a.hash);
    /* Refused input leaves no row. */
    assert_int_equal(cm_evidence_append(ev, "E1", "deleted", "", 0, err, sizeof(err)), -1);
    assert_int_equal(cm_evidence_append(ev, "E 1", "queued", "", 0, err, sizeof(err)), -1);
    assert_int_equal(cm_evidence_append(ev, "E1", "queued", "b=1\na=1\n", 0, err, sizeof(err)), -1);
    assert_int_equal(cm_evidence_append(ev, "E1", "queued", "a=1", 0, err, sizeof(err)), -1);
    cm_evidence_close(ev);

    assert_int_equal(stat(db_path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, 0), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *) sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);

    assert_int_equal(check_journal(&res), 0);
    assert_int_equal(res.rows, 2);

    make_journal(9);
    ev = cm_evidence_open(db_path, CM_EVIDENCE_READ, err, sizeof(err));
    assert_non_null(ev);
    assert_int_equal(cm_evidence_list(ev, "ENV-ODD", list_cb, seqs, err, sizeof(err)), 5);
    assert_int_equal(seqs[0], 5);
    assert_int_equal(seqs[1], 1);
    assert_int_equal(seqs[5], 9);
    assert_int_equal(cm_evidence_list(ev, "NONE", list_cb, seqs, err, sizeof(err)), 0);
    /* A read-only handle does not append. */
    assert_int_equal(cm_evidence_append(ev, "E1", "queued", "", 0, err, sizeof(err)), -1);
    cm_evidence_close(ev);
    assert_null(cm_evidence_open("/nonexistent/dir/x.db", CM_EVIDENCE_READ, err, sizeof(err)));
    assert_null(cm_evidence_open("/nonexistent/dir/x.db", CM_EVIDENCE_WRITE, err, sizeof(err)));
}

/* test_tamper_update - edited details: that row's hash no longer matches */
static void test_tamper_update(void **state)
{
    CM_EVIDENCE_CHECK res;

    make_journal(6);
    assert_int_equal(check_journal(&res), 0);
    assert_int_equal(res.rows, 6);
    sql("UPDATE evidence SET details = 'queue_id=FORGED\n' WHERE seq = 3");
    assert_int_equal(check_journal(&res), 1);
    assert_int_equal(res.bad_seq, 3);
    assert_string_equal(res.reason, "hash mismatch");
}

/* test_tamper_delete - a deleted middle row: the next row shows the gap */
static void test_tamper_delete(void **state)
{
    CM_EVIDENCE_CHECK res;

    make_journal(6);
    sql("DELETE FROM evidence WHERE seq = 4");
    assert_int_equal(check_journal(&res), 1);
    assert_int_equal(res.bad_seq, 5);
    assert_string_equal(res.reason, "seq gap (expected 4)");
    /* Renumbering to hide the gap breaks the prev_hash link instead. */
    sql("UPDATE evidence SET seq = 4 WHERE seq = 5; UPDATE evidence SET seq = 5 WHERE seq = 6");
    assert_int_equal(check_journal(&res), 1);
    assert_int_equal(res.bad_seq, 4);
}

/* test_tamper_rehash - a row edited and re-hashed breaks the next link */
static void test_tamper_rehash(void **state)
{
    CM_EVIDENCE *ev;
    CM_EVIDENCE_CHECK res;
    CM_EVIDENCE_ROW r;
    char    err[256];
    char    stmt[512];

    make_journal(5);
    ev = cm_evidence_open(db_path, CM_EVIDENCE_READ, err, sizeof(err));
    assert_non_null(ev);
    cm_evidence_close(ev);
    /* Forge row 2 with a correct hash of its own. */
    sql("UPDATE evidence SET details = 'queue_id=FORGED\n' WHERE seq = 2");
    {
	sqlite3 *db;
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, time, envelope_id, event, details,"
					    " prev_hash FROM evidence WHERE seq = 2", -1, &s, 0),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	memset(&r, 0, sizeof(r));
	r.seq = 2;
	snprintf(r.time, sizeof(r.time), "%s", sqlite3_column_text(s, 1));
	snprintf(r.envelope_id, sizeof(r.envelope_id), "%s", sqlite3_column_text(s, 2));
	snprintf(r.event, sizeof(r.event), "%s", sqlite3_column_text(s, 3));
	r.details = "queue_id=FORGED\n";
	snprintf(r.prev_hash, sizeof(r.prev_hash), "%s", sqlite3_column_text(s, 5));
	assert_int_equal(cm_evidence_row_hash(&r, r.hash), 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
    }
    snprintf(stmt, sizeof(stmt), "UPDATE evidence SET hash = '%s' WHERE seq = 2", r.hash);
    sql(stmt);
    assert_int_equal(check_journal(&res), 1);
    assert_int_equal(res.bad_seq, 3);
    assert_string_equal(res.reason, "prev_hash mismatch");

    make_journal(3);
    sql("UPDATE evidence SET event = 'deleted' WHERE seq = 2");
    assert_int_equal(check_journal(&res), 1);
    assert_int_equal(res.bad_seq, 2);
    assert_string_equal(res.reason, "bad field event");
    make_journal(3);
    sql("UPDATE evidence SET hash = 'xyz' WHERE seq = 1");
    assert_int_equal(check_journal(&res), 1);
    assert_int_equal(res.bad_seq, 1);
    assert_string_equal(res.reason, "bad field hash");
}

typedef struct {
    CM_EVIDENCE *ev;
    int     n;
} APPENDER;

/* appender - thread body: n appends */
static void *appender(void *arg)
{
    APPENDER *a = arg;
    char    err[256];
    int     i;

    for (i = 0; i < a->n; i++)
	if (cm_evidence_append(a->ev, "ENV-T", "queued", "k=v\n", 0, err, sizeof(err)) < 0)
	    return ((void *) 1);
    return (0);
}

/* test_concurrent - five threads on one handle (group commit), a second handle */
static void test_concurrent(void **state)
{
    CM_EVIDENCE_CHECK res;
    APPENDER a[6];
    pthread_t t[6];
    char    err[256];
    void   *rv;
    int     i;

    remove_db();
    a[0].ev = cm_evidence_open(db_path, CM_EVIDENCE_WRITE, err, sizeof(err));
    a[2].ev = cm_evidence_open(db_path, CM_EVIDENCE_WRITE, err, sizeof(err));
    assert_non_null(a[0].ev);
    assert_non_null(a[2].ev);
    a[1].ev = a[3].ev = a[4].ev = a[5].ev = a[0].ev;
    for (i = 0; i < 6; i++) {
	a[i].n = 20;
	assert_int_equal(pthread_create(&t[i], 0, appender, &a[i]), 0);
    }
    for (i = 0; i < 6; i++) {
	assert_int_equal(pthread_join(t[i], &rv), 0);
	assert_null(rv);
    }
    cm_evidence_close(a[0].ev);
    cm_evidence_close(a[2].ev);
    assert_int_equal(check_journal(&res), 0);
    assert_int_equal(res.rows, 120);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_details),
	cmocka_unit_test(test_row_hash),
	cmocka_unit_test(test_append),
	cmocka_unit_test(test_tamper_update),
	cmocka_unit_test(test_tamper_delete),
	cmocka_unit_test(test_tamper_rehash),
	cmocka_unit_test(test_concurrent),
    };

    return (cmocka_run_group_tests(tests, setup, teardown));
}
