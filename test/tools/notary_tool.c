/*++
 * NAME
 *	notary_tool 1
 * SUMMARY
 *	test-only client of cmail-notary
 * SYNOPSIS
 *	notary_tool SOCKET ping
 *	notary_tool SOCKET seal|unseal ENVELOPE-ID IN OUT
 *	notary_tool SOCKET record ENVELOPE-ID EVENT [KEY=VALUE]...
 *	notary_tool SOCKET sign postmark|info IN OUT
 *	notary_tool SOCKET raw HEX
 *	notary_tool SOCKET fds N
 *	notary_tool SOCKET parallel THREADS REQUESTS [record]
 * DESCRIPTION
 *	The requests go through the client library (cm_notary_client.c)
 *	and print one line of result. raw sends the bytes HEX (a hostile
 *	or broken frame) and prints the notary's answer: "reply TYPE
 *	id=N: error text", or "closed" when the notary closed without one.
 *	fds sends a PING frame carrying N descriptors. parallel runs
 *	THREADS connections at once, each doing REQUESTS PING (or, with
 *	"record", RECORD) requests, and prints the rate. Exit status 0 on success (for raw and fds:
 *	a reply was read), 1 on failure, 2 on a usage error. Not installed.
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
#include <sys/socket.h>
#include <sys/un.h>

#include "cm_notary.h"

#define TIMEOUT_MS 10000

static const char *sock_path;
static int parallel_record;

/* usage - complain */
static int usage(void)
{
    fprintf(stderr, "usage: notary_tool SOCKET ping|seal|unseal|record|sign|raw|fds|parallel ...\n");
    return (2);
}

/* hexval - one hex digit */
static int hexval(int c)
{
    if (c >= '0' && c <= '9')
	return (c - '0');
    if (c >= 'a' && c <= 'f')
	return (c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
	return (c - 'A' + 10);
    return (-1);
}

/* raw_reply - read and print one reply frame; 0 when one was read */
static int raw_reply(int sock)
{
    CM_NOTARY_MSG m;
    char    err[600];
    char    text[CM_NOTARY_ERROR_MAX + 1];
    int     n = cm_notary_recv(sock, &m, TIMEOUT_MS, TIMEOUT_MS, err, sizeof(err));

    if (n <= 0) {
	printf("closed%s%s\n", n < 0 ? ": " : "", n < 0 ? err : "");
	cm_notary_msg_free(&m);
	return (1);
    }
    if (cm_notary_decode(&m, err, sizeof(err)) < 0) {
	printf("bad reply: %s\n", err);
	cm_notary_msg_free(&m);
	return (1);
    }
    if (cm_notary_get_str(&m, CM_NF_ERROR, text, sizeof(text)) < 0)
	text[0] = 0;
    printf("reply %s id=%u%s%s\n", cm_notary_type_name(m.type), (unsigned) m.id,
	   text[0] ? ": " : "", text);
    cm_notary_msg_free(&m);
    return (0);
}

/* raw_connect - a plain connection for hand-made frames */
static int raw_connect(const char *path)
{
    struct sockaddr_un sun;
    int     fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
	perror(path);
	exit(1);
    }
    return (fd);
}

/* parallel_worker - REQUESTS pings on one connection */
static void *parallel_worker(void *arg)
{
    long    n = *(long *) arg;
    char    err[256];
    CM_NOTARY *nc = cm_notary_connect(sock_path, TIMEOUT_MS, err, sizeof(err));
    long    i;

    if (nc == 0) {
	fprintf(stderr, "%s\n", err);
	return ((void *) 1);
    }
    for (i = 0; i < n; i++) {
	const char *kv[1] = {"bench=1"};

	if ((parallel_record ?
	     cm_notary_record(nc, "BENCH", "queued", kv, 1, 0, err, sizeof(err)) :
	     cm_notary_ping(nc, 0, err, sizeof(err))) < 0) {
	    fprintf(stderr, "%s\n", err);
	    cm_notary_close(nc);
	    return ((void *) 1);
	}
    }
    cm_notary_close(nc);
    return (0);
}

/* main - one request (or a burst) per invocation */
int     main(int argc, char **argv)
{
    CM_NOTARY *nc;
    char    err[600];
    const char *cmd;
    int     ret = 1;

    if (argc < 3)
	return (usage());
    sock_path = argv[1];
    cmd = argv[2];
    if (strcmp(cmd, "parallel") == 0) {
	pthread_t t[64];
	long    threads, n;
	struct timespec a, b;
	int     i, bad = 0;
	void   *rv;

	if (argc < 5 || argc > 6 || (threads = atol(argv[3])) < 1 || threads > 64
	    || (n = atol(argv[4])) < 1)
	    return (usage());
	parallel_record = argc == 6 && strcmp(argv[5], "record") == 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < threads; i++)
	    pthread_create(&t[i], 0, parallel_worker, &n);
	for (i = 0; i < threads; i++) {
	    pthread_join(t[i], &rv);
	    bad += rv != 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%ld requests on %ld connections, %d failed, %.0f requests/s\n",
	       threads * n, threads, bad,
	       (double) (threads * n) / ((double) (b.tv_sec - a.tv_sec)
					 + (double) (b.tv_nsec - a.tv_nsec) / 1e9));
	return (bad ? 1 : 0);
    }
    if (strcmp(cmd, "raw") == 0 && argc == 4) {
	size_t  n = strlen(argv[3]) / 2, i;
	unsigned char *b = malloc(n + 1);
	int     fd = raw_connect(sock_path);

	for (i = 0; i < n; i++) {
	    int     hi = hexval(argv[3][2 * i]), lo = hexval(argv[3][2 * i + 1]);

	    if (hi < 0 || lo < 0) {
		free(b);
		return (usage());
	    }
	    b[i] = (unsigned char) (hi << 4 | lo);
	}
	if (write(fd, b, n) != (ssize_t) n)
	    perror("write");
	/* A truncated frame: tell the notary nothing more is coming. */
	shutdown(fd, SHUT_WR);
	free(b);
	ret = raw_reply(fd);
	close(fd);
	return (ret);
    }
    if (strcmp(cmd, "fds") == 0 && argc == 4) {
	CM_NOTARY_OUT o;
	int     n = atoi(argv[3]), i;
	int     fd = raw_connect(sock_path);

	cm_notary_out_init(&o, CM_NOTARY_PING, 7);
	for (i = 0; i < n && i < CM_NOTARY_FDS_MAX; i++)
	    cm_notary_out_fd(&o, 0);
	if (cm_notary_out_send(fd, &o, TIMEOUT_MS, err, sizeof(err)) == 0)
	    ret = raw_reply(fd);
	else
	    fprintf(stderr, "%s\n", err);
	cm_notary_out_free(&o);
	close(fd);
	return (ret);
    }
    if ((nc = cm_notary_connect(sock_path, TIMEOUT_MS, err, sizeof(err))) == 0) {
	fprintf(stderr, "%s\n", err);
	return (1);
    }
    if (strcmp(cmd, "ping") == 0 && argc == 3) {
	CM_NOTARY_INFO info;

	if (cm_notary_ping(nc, &info, err, sizeof(err)) == 0) {
	    printf("pong key_id=%s cert_sha256=%s version=%s\n", info.key_id,
		   info.cert_sha256, info.version);
	    ret = 0;
	}
    } else if ((strcmp(cmd, "seal") == 0 || strcmp(cmd, "unseal") == 0) && argc == 6) {
	CM_SEAL_STATS st;
	int     in = open(argv[4], O_RDONLY);
	int     out = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (in < 0 || out < 0) {
	    snprintf(err, sizeof(err), "open: %s", strerror(errno));
	} else if ((strcmp(cmd, "seal") == 0 ?
		    cm_notary_seal(nc, argv[3], in, out, &st, err, sizeof(err)) :
		    cm_notary_unseal(nc, argv[3], in, out, &st, err, sizeof(err))) == 0) {
	    printf("%s ok in=%llu out=%llu\n", cmd, st.in_bytes, st.out_bytes);
	    ret = 0;
	} else if (strcmp(cmd, "unseal") == 0) {
	    /* As cm_notary.h requires: discard the output of a failed unseal. */
	    if (ftruncate(out, 0) < 0 && errno != EINVAL)
		perror("ftruncate");
	}
	if (in >= 0)
	    close(in);
	if (out >= 0)
	    close(out);
    } else if (strcmp(cmd, "record") == 0 && argc >= 5) {
	CM_NOTARY_RECORD_RESULT res;

	if (cm_notary_record(nc, argv[3], argv[4], (const char *const *) argv + 5,
			     (size_t) (argc - 5), &res, err, sizeof(err)) == 0) {
	    printf("recorded seq=%lld hash=%s\n", res.seq, res.hash);
	    ret = 0;
	}
    } else if (strcmp(cmd, "sign") == 0 && argc == 6) {
	static char buf[CM_NOTICE_MAX + 1];
	FILE   *fp = fopen(argv[4], "rb");
	size_t  len = fp ? fread(buf, 1, sizeof(buf), fp) : 0;
	char   *out = 0;
	size_t  outlen;

	if (fp)
	    fclose(fp);
	if (fp == 0) {
	    snprintf(err, sizeof(err), "open %s: %s", argv[4], strerror(errno));
	} else if (cm_notary_sign(nc, buf, len, strcmp(argv[3], "info") == 0 ?
				  CM_NOTARY_PLACE_INFO : CM_NOTARY_PLACE_POSTMARK,
				  &out, &outlen, err, sizeof(err)) == 0) {
	    FILE   *op = fopen(argv[5], "wb");

	    if (op && fwrite(out, 1, outlen, op) == outlen && fclose(op) == 0) {
		printf("signed %zu bytes\n", outlen);
		ret = 0;
	    } else {
		snprintf(err, sizeof(err), "write %s failed", argv[5]);
	    }
	}
	free(out);
    } else {
	cm_notary_close(nc);
	return (usage());
    }
    if (ret != 0)
	fprintf(stderr, "%s [%s]\n", err, cm_notary_error_temporary(nc) ? "temporary" : "permanent");
    cm_notary_close(nc);
    return (ret);
}
