/*++
 * NAME
 *	test_notary 1
 * SUMMARY
 *	unit tests of the cmail-notary protocol codec and client library
 * DESCRIPTION
 *	Frames built with cm_notary_out_*() decode to the same fields;
 *	descriptors pass with SCM_RIGHTS; every decoder refusal of
 *	cm_notary.h (short, too long, version, unknown type or field,
 *	duplicate, over the limit, missing, truncated, NUL in text, wrong
 *	descriptor count). The client against fake notaries: one that
 *	never answers (bounded by the timeout), none at all, one that
 *	answers ERROR (handle stays usable), one that answers with the
 *	wrong id (handle unusable).
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "cm_notary.h"

static char dir[64];
static char sock_path[128];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_notary.XXXXXX");
    if (mkdtemp(dir) == 0)
	return (-1);
    snprintf(sock_path, sizeof(sock_path), "%s/notary.sock", dir);
    return (0);
}

static int teardown(void **state)
{
    unlink(sock_path);
    rmdir(dir);
    return (0);
}

/* recv_raw - write bytes into one end of a socketpair, decode at the other */
static int recv_raw(const void *bytes, size_t len, int nfds, char *err, size_t errlen)
{
    CM_NOTARY_MSG m;
    int     sv[2];
    int     ret;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (nfds) {
	/* The length goes with the descriptors, the rest raw. */
	union {
	    struct cmsghdr h;
	    char    b[CMSG_SPACE(sizeof(int) * 2)];
	}       cb;
	int     fds[2] = {0, 0};
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	memset(&cb, 0, sizeof(cb));
	iov.iov_base = (void *) bytes;
	iov.iov_len = 4;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cb.b;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) nfds);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) nfds);
	assert_int_equal(sendmsg(sv[0], &mh, 0), 4);
	if (len > 4)
	    assert_int_equal(write(sv[0], (const char *) bytes + 4, len - 4), (ssize_t) (len - 4));
    } else if (len) {
	assert_int_equal(write(sv[0], bytes, len), (ssize_t) len);
    }
    shutdown(sv[0], SHUT_WR);
    err[0] = 0;
    ret = cm_notary_recv(sv[1], &m, 1000, 1000, err, errlen);
    if (ret == 1)
	ret = cm_notary_decode(&m, err, errlen) == 0 ? 1 : -1;
    cm_notary_msg_free(&m);
    close(sv[0]);
    close(sv[1]);
    return (ret);
}

/* test_roundtrip - fields survive encode, send, receive, decode */
static void test_roundtrip(void **state)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG m;
    char    err[256], buf[80];
    uint64_t v;
    int     sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cm_notary_out_init(&o, CM_NOTARY_RECORD, 0x01020304);
    cm_notary_out_str(&o, CM_NF_ENVELOPE_ID, "ENV-1");
    cm_notary_out_str(&o, CM_NF_EVENT, "queued");
    cm_notary_out_str(&o, CM_NF_DETAIL, "queue_id=ABC");
    cm_notary_out_str(&o, CM_NF_DETAIL, "recipient=bob@example.org");
    assert_int_equal(cm_notary_out_send(sv[0], &o, 1000, err, sizeof(err)), 0);
    cm_notary_out_free(&o);
    assert_int_equal(cm_notary_recv(sv[1], &m, 1000, 1000, err, sizeof(err)), 1);
    assert_int_equal(cm_notary_decode(&m, err, sizeof(err)), 0);
    assert_int_equal(m.type, CM_NOTARY_RECORD);
    assert_int_equal(m.id, 0x01020304);
    assert_int_equal(cm_notary_get_str(&m, CM_NF_ENVELOPE_ID, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "ENV-1");
    assert_non_null(cm_notary_get(&m, CM_NF_DETAIL, 1));
    assert_null(cm_notary_get(&m, CM_NF_DETAIL, 2));
    assert_int_equal(cm_notary_get(&m, CM_NF_DETAIL, 1)->len, strlen("recipient=bob@example.org"));
    assert_int_equal(cm_notary_get_str(&m, CM_NF_EVENT, buf, 4), -1);	/* too small */
    cm_notary_msg_free(&m);

    cm_notary_out_init(&o, CM_NOTARY_RECORD | CM_NOTARY_REPLY, 9);
    cm_notary_out_u64(&o, CM_NF_SEQ, 0x1122334455667788ULL);
    cm_notary_out_str(&o, CM_NF_HASH, "0000000000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(cm_notary_out_send(sv[0], &o, 1000, err, sizeof(err)), 0);
    cm_notary_out_free(&o);
    assert_int_equal(cm_notary_recv(sv[1], &m, 1000, 1000, err, sizeof(err)), 1);
    assert_int_equal(cm_notary_decode(&m, err, sizeof(err)), 0);
    assert_int_equal(cm_notary_get_u64(&m, CM_NF_SEQ, &v), 0);
    assert_true(v == 0x1122334455667788ULL);
    cm_notary_msg_free(&m);
    /* End of file before a frame is 0, not an error. */
    close(sv[0]);
    assert_int_equal(cm_notary_recv(sv[1], &m, 1000, 1000, err, sizeof(err)), 0);
    cm_notary_msg_free(&m);
    close(sv[1]);
}

/* test_fds - SEAL carries two working descriptors */
static void test_fds(void **state)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG m;
    char    err[256], buf[8];
    int     sv[2], p[2];
    int     fd;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    cm_notary_out_init(&o, CM_NOTARY_SEAL, 1);
    cm_notary_out_str(&o, CM_NF_ENVELOPE_ID, "E");
    cm_notary_out_fd(&o, p[0]);
    cm_notary_out_fd(&o, p[1]);
    assert_int_equal(cm_notary_out_send(sv[0], &o, 1000, err, sizeof(err)), 0);
    cm_notary_out_free(&o);
    assert_int_equal(cm_notary_recv(sv[1], &m, 1000, 1000, err, sizeof(err)), 1);
    assert_int_equal(cm_notary_decode(&m, err, sizeof(err)), 0);
    assert_int_equal(m.nfds, 2);
    fd = cm_notary_take_fd(&m, 1);
    assert_true(fd >= 0 && fd != p[1]);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    assert_int_equal(read(p[0], buf, 5), 5);
    assert_memory_equal(buf, "hello", 5);
    cm_notary_msg_free(&m);			/* closes the one not taken */
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

/* test_refusals - every decoder rule */
static void test_refusals(void **state)
{
    static const struct {
	const char *hex;
	int     nfds;
	const char *want;
    } cases[] = {
	{"00000003010101", 0, "short message"},
	{"7fffffff01010000000a", 0, "frame too long"},
	{"000000640101000000050100", 0, "truncated frame"},
	{"000001", 0, "truncated frame"},
	{"0000000602010000000d", 0, "unsupported protocol version 2"},
	{"0000000601420000000c", 0, "unknown message type 66"},
	{"0000000901010000000eaabbcc", 0, "PING: truncated field (3 trailing bytes)"},
	{"0000000b01010000000f0100000000", 0, "PING: unknown field 1"},
	{"00000012010500000010010000000141010000000142", 0, "RECORD: duplicate field ENVELOPE_ID"},
	{"0000000e0105000000120100000100414243", 0, "RECORD: truncated field ENVELOPE_ID"},
	{"0000000c010500000001010000000141", 0, "RECORD: missing field EVENT"},
	{"0000000b010300000001010000000000", 0, "SEAL: field ENVELOPE_ID has 0 bytes"},
	{"0000000d01030000000101000000024100", 0, "SEAL: field ENVELOPE_ID contains NUL"},
	{"0000000d01030000000101000000024142", 0, "SEAL: 0 file descriptors, expected 2"},
	{"0000000d01030000000101000000024142", 1, "SEAL: 1 file descriptors, expected 2"},
	{"0000000601010000000e", 2, "PING: 2 file descriptors, expected 0"},
	{"0000000f018100000001080000000441414141", 0, "PING_OK: field KEY_ID has 4 bytes"},
	{"0000001301ff0000000e0b0000000141" "0e000000027470", 0, "ERROR: field CODE has 2 bytes"},
	{"0000000601010000000e", 0, ""},	/* a good PING */
	{"0000001201ff0000000e0b0000000141" "0e0000000174", 0, ""},	/* ERROR, CODE t */
    };
    unsigned char bytes[64];
    char    err[256];
    size_t  i, j;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
	size_t  n = strlen(cases[i].hex) / 2;

	for (j = 0; j < n; j++)
	    sscanf(cases[i].hex + 2 * j, "%2hhx", &bytes[j]);
	if (*cases[i].want == 0) {
	    assert_int_equal(recv_raw(bytes, n, cases[i].nfds, err, sizeof(err)), 1);
	    continue;
	}
	assert_int_equal(recv_raw(bytes, n, cases[i].nfds, err, sizeof(err)), -1);
	if (strstr(err, cases[i].want) == 0)
	    fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
    }
}

/* A fake notary: what it does with each request. */
typedef enum {
    FAKE_SILENT,			/* read requests, never answer */
    FAKE_ERROR_THEN_OK,			/* ERROR, then PING_OK */
    FAKE_WRONG_ID,			/* PING_OK with another id */
} FAKE_MODE;

typedef struct {
    int     listen_fd;
    FAKE_MODE mode;
} FAKE;

/* fake_notary - serve one connection per mode */
static void *fake_notary(void *arg)
{
    FAKE   *f = arg;
    CM_NOTARY_MSG m;
    CM_NOTARY_OUT o;
    char    err[256];
    int     fd = accept(f->listen_fd, 0, 0);
    int     n = 0;

    while (fd >= 0 && cm_notary_recv(fd, &m, 3000, 3000, err, sizeof(err)) == 1) {
	n++;
	if (f->mode == FAKE_SILENT) {
	    cm_notary_msg_free(&m);
	    continue;
	}
	if (f->mode == FAKE_ERROR_THEN_OK && n == 1) {
	    cm_notary_out_init(&o, CM_NOTARY_ERROR, m.id);
	    cm_notary_out_str(&o, CM_NF_ERROR, "seal key unavailable");
	    cm_notary_out_add(&o, CM_NF_CODE, "p", 1);
	} else {
	    cm_notary_out_init(&o, CM_NOTARY_PING | CM_NOTARY_REPLY,
			       f->mode == FAKE_WRONG_ID ? m.id + 1 : m.id);
	    cm_notary_out_str(&o, CM_NF_KEY_ID, "0123456789abcdef");
	    cm_notary_out_str(&o, CM_NF_CERT_SHA256,
	       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	    cm_notary_out_str(&o, CM_NF_VERSION, "test");
	}
	cm_notary_out_send(fd, &o, 1000, err, sizeof(err));
	cm_notary_out_free(&o);
	cm_notary_msg_free(&m);
    }
    cm_notary_msg_free(&m);
    if (fd >= 0)
	close(fd);
    return (0);
}

/* fake_start - listen on sock_path and serve in a thread */
static void fake_start(FAKE *f, FAKE_MODE mode, pthread_t *t)
{
    struct sockaddr_un sun;

    unlink(sock_path);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_true(strlen(sock_path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, sock_path, strlen(sock_path));
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    f->mode = mode;
    assert_true(f->listen_fd >= 0);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    assert_int_equal(listen(f->listen_fd, 4), 0);
    assert_int_equal(pthread_create(t, 0, fake_notary, f), 0);
}

/* fake_stop - join and close */
static void fake_stop(FAKE *f, pthread_t t)
{
    pthread_join(t, 0);
    close(f->listen_fd);
    unlink(sock_path);
}

/* test_silent_notary - a hung notary costs the caller the timeout, no more */
static void test_silent_notary(void **state)
{
    FAKE    f;
    pthread_t t;
    CM_NOTARY *nc;
    struct timespec a, b;
    char    err[256];
    double  secs;

    fake_start(&f, FAKE_SILENT, &t);
    nc = cm_notary_connect(sock_path, 300, err, sizeof(err));
    assert_non_null(nc);
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(cm_notary_ping(nc, 0, err, sizeof(err)), -1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    secs = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(secs >= 0.25 && secs < 2.0);
    assert_non_null(strstr(err, "receive: timeout"));
    assert_int_equal(cm_notary_error_temporary(nc), 1);
    assert_int_equal(cm_notary_ping(nc, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unusable"));
    cm_notary_close(nc);
    fake_stop(&f, t);
}

/* test_no_notary - nothing listening: a clear connect error */
static void test_no_notary(void **state)
{
    char    err[256];

    unlink(sock_path);
    assert_null(cm_notary_connect(sock_path, 300, err, sizeof(err)));
    assert_non_null(strstr(err, "notary: connect"));
}

/* test_error_reply - ERROR text reaches the caller; the handle stays usable */
static void test_error_reply(void **state)
{
    FAKE    f;
    pthread_t t;
    CM_NOTARY *nc;
    CM_NOTARY_INFO info;
    char    err[256];

    fake_start(&f, FAKE_ERROR_THEN_OK, &t);
    nc = cm_notary_connect(sock_path, 2000, err, sizeof(err));
    assert_non_null(nc);
    assert_int_equal(cm_notary_ping(nc, &info, err, sizeof(err)), -1);
    assert_string_equal(err, "notary: seal key unavailable");
    assert_int_equal(cm_notary_error_temporary(nc), 0);
    assert_int_equal(cm_notary_ping(nc, &info, err, sizeof(err)), 0);
    assert_string_equal(info.key_id, "0123456789abcdef");
    cm_notary_close(nc);
    fake_stop(&f, t);
}

/* test_wrong_id - a reply to another request is a protocol failure */
static void test_wrong_id(void **state)
{
    FAKE    f;
    pthread_t t;
    CM_NOTARY *nc;
    char    err[256];

    fake_start(&f, FAKE_WRONG_ID, &t);
    nc = cm_notary_connect(sock_path, 2000, err, sizeof(err));
    assert_non_null(nc);
    assert_int_equal(cm_notary_ping(nc, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not match"));
    assert_int_equal(cm_notary_ping(nc, 0, err, sizeof(err)), -1);
    cm_notary_close(nc);
    fake_stop(&f, t);
}

/* test_client_checks - bad arguments never reach the socket */
static void test_client_checks(void **state)
{
    FAKE    f;
    pthread_t t;
    CM_NOTARY *nc;
    char    err[256];
    char   *out;
    const char *kv[17];
    int     i;

    fake_start(&f, FAKE_ERROR_THEN_OK, &t);
    nc = cm_notary_connect(sock_path, 2000, err, sizeof(err));
    assert_non_null(nc);
    for (i = 0; i < 17; i++)
	kv[i] = "k=v";
    assert_int_equal(cm_notary_record(nc, "bad id", "queued", 0, 0, 0, err, sizeof(err)), -1);
    assert_int_equal(cm_notary_error_temporary(nc), 0);
    assert_int_equal(cm_notary_record(nc, "E", "nonsense", 0, 0, 0, err, sizeof(err)), -1);
    assert_int_equal(cm_notary_record(nc, "E", "queued", kv, 17, 0, err, sizeof(err)), -1);
    assert_int_equal(cm_notary_seal(nc, "", 0, 1, 0, err, sizeof(err)), -1);
    assert_int_equal(cm_notary_sign(nc, "x", 0, CM_NOTARY_PLACE_POSTMARK, &out, 0,
				     err, sizeof(err)), -1);
    assert_int_equal(cm_notary_sign(nc, "x", 1, (CM_NOTARY_PLACE) 7, &out, 0,
				     err, sizeof(err)), -1);
    cm_notary_close(nc);
    fake_stop(&f, t);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_roundtrip),
	cmocka_unit_test(test_fds),
	cmocka_unit_test(test_refusals),
	cmocka_unit_test(test_silent_notary),
	cmocka_unit_test(test_no_notary),
	cmocka_unit_test(test_error_reply),
	cmocka_unit_test(test_wrong_id),
	cmocka_unit_test(test_client_checks),
    };

    return (cmocka_run_group_tests(tests, setup, teardown));
}
