/*++
 * NAME
 *	loadgen 1
 * SUMMARY
 *	test tool: many concurrent CMTP or CPOP sessions doing real work
 * SYNOPSIS
 *	loadgen cmtp --connect HOST:PORT --ca FILE --from ADDR --rcpt ADDR
 *		[--sessions N] [--seconds S] [--interval MS] [--ramp MS]
 *		[--server-name NAME] [--timeout S] [--idle-wait S]
 *		[--until-closed S]
 *	loadgen cpop --connect HOST:PORT --ca FILE --user NAME
 *		--password-file FILE [--implicit-tls] [same options]
 * DESCRIPTION
 *	Opens --sessions connections (one thread each), spread over --ramp
 *	milliseconds, and holds each for --seconds seconds doing real work:
 *
 *	cmtp: greeting, EHLO, STARTTLS (the server certificate verified
 *	against --ca and --server-name), CELO, DELV CertifiedMail, MAIL
 *	FROM with CertificateRequested (250), RCPT TO with
 *	CertificateRequested (250 with a UserCertificate object that must
 *	decode), then a loop: NOOP every --interval ms, and every tenth
 *	turn RSET, MAIL and RCPT again. At the end: QUIT (221); with
 *	--idle-wait S the session instead goes quiet and the server must
 *	close it (its idle timeout) within S seconds; with --until-closed
 *	S it keeps looping until the server ends the session, which must
 *	happen within S seconds (session_time_limit).
 *
 *	cpop: greeting, STLS (unless --implicit-tls), USER, PASS, CAPA
 *	(must list CMAIL), LIST (a message marked CertifiedMail must be
 *	there), RETR of that message (the receipt notice: base64 that must
 *	decode to XML), then a loop: NOOP or STAT every --interval ms, LIST
 *	every tenth turn; QUIT (+OK) at the end.
 *
 *	Every read and write waits at most --timeout seconds (default 30).
 *	Output: one line per failed session ("session N: step: reason")
 *	and a summary line "loadgen PROTO: sessions=N ok=N failed=N
 *	commands=N connect_ms_max=N closed_by_server=N close_s_max=N".
 *	Exit 0 when every session succeeded, 1 otherwise, 2 on usage.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cm_log.h"
#include "cm_connect.h"
#include "cm_stream.h"
#include "cm_reply.h"
#include "cm_tls.h"

#define LG_LINE_MAX	8192
#define LG_SESSIONS_MAX	5000

typedef struct {
    int     cpop;			/* 0: CMTP, 1: CPOP */
    const char *connect;
    const char *ca;
    const char *server_name;
    const char *from;
    const char *rcpt;
    const char *user;
    char    password[256];
    int     implicit_tls;
    int     sessions;
    int     seconds;
    int     interval_ms;
    int     ramp_ms;
    int     timeout;
    int     idle_wait;
    int     until_closed;
    SSL_CTX *ctx;
} LG_CONF;

typedef struct {
    int     n;				/* session number, from 1 */
    const LG_CONF *cf;
    int     ok;
    long    commands;
    long    connect_ms;
    int     closed_by_server;
    double  close_s;			/* server closed this long after we went quiet */
    char    step[64];
    char    err[256];
} LG_SESSION;

/* lg_now - monotonic seconds */
static double lg_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* lg_sleep_ms - sleep a number of milliseconds */
static void lg_sleep_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
	 /* continue */ ;
}

/* lg_fail - record why a session failed; returns -1 */
static int lg_fail(LG_SESSION *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lg_fail(LG_SESSION *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    s->ok = 0;
    return (-1);
}

/* smtp_cmd - send a command, read the reply, require the code */
static int smtp_cmd(LG_SESSION *s, CM_STREAM *st, int want, CM_REPLY *r, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int smtp_cmd(LG_SESSION *s, CM_STREAM *st, int want, CM_REPLY *r, const char *fmt, ...)
{
    char    line[LG_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    snprintf(s->step, sizeof(s->step), "%.40s", line);
    s->commands++;
    if (cm_stream_printf(st, "%s\r\n", line) < 0 || cm_stream_flush(st) < 0)
	return (lg_fail(s, "write failed"));
    if (cm_reply_read(st, r) < 0)
	return (lg_fail(s, "no reply (connection lost or timeout)"));
    if (r->code != want) {
	char    why[200];

	snprintf(why, sizeof(why), "%d %.150s", r->code, r->nlines ? r->lines[r->nlines - 1] : "");
	cm_reply_free(r);
	return (lg_fail(s, "reply %s", why));
    }
    return (0);
}

/* smtp_ok - smtp_cmd without keeping the reply */
#define SMTP_OK(s, st, want, ...) \
    (smtp_cmd((s), (st), (want), &r, __VA_ARGS__) == 0 ? (cm_reply_free(&r), 0) : -1)

/* cmtp_transaction - RSET-free MAIL and RCPT with CertificateRequested */
static int cmtp_transaction(LG_SESSION *s, CM_STREAM *st)
{
    CM_REPLY r;
    unsigned char *der;
    size_t  len;

    if (SMTP_OK(s, st, 250, "MAIL FROM:<%s> CertificateRequested", s->cf->from) < 0)
	return (-1);
    if (smtp_cmd(s, st, 250, &r, "RCPT TO:<%s> CertificateRequested", s->cf->rcpt) < 0)
	return (-1);
    der = cm_reply_get_object(&r, "UserCertificate", &len);
    cm_reply_free(&r);
    if (der == 0 || len < 100) {
	free(der);
	return (lg_fail(s, "RCPT reply without a UserCertificate object"));
    }
    free(der);
    return (0);
}

/* wait_close - we are quiet: the server must close within limit seconds */
static int wait_close(LG_SESSION *s, CM_STREAM *st, int limit)
{
    char    line[LG_LINE_MAX];
    int     too_long;
    double  t0 = lg_now();

    snprintf(s->step, sizeof(s->step), "idle, waiting for the server to close");
    /* A 421 line may come first; then EOF. The stream's timeout bounds each read. */
    while (cm_stream_getline(st, line, sizeof(line), &too_long) >= 0) {
	if (strncmp(line, "421", 3) != 0 && strncmp(line, "-ERR", 4) != 0)
	    return (lg_fail(s, "unexpected line while idle: %.100s", line));
	if (lg_now() - t0 > limit)
	    break;
    }
    s->close_s = lg_now() - t0;
    if (s->close_s > limit)
	return (lg_fail(s, "the server did not close the idle session in time"));
    s->closed_by_server = 1;
    return (0);
}

/* cmtp_session - one CMTP session */
static int cmtp_session(LG_SESSION *s, CM_STREAM *st, double deadline)
{
    CM_REPLY r;
    char    err[256];
    long    turn;

    snprintf(s->step, sizeof(s->step), "greeting");
    if (cm_reply_read(st, &r) < 0)
	return (lg_fail(s, "no greeting"));
    turn = r.code;
    cm_reply_free(&r);
    if (turn != 220)
	return (lg_fail(s, "greeting is not 220"));
    if (SMTP_OK(s, st, 250, "EHLO loadgen.example.org") < 0
	|| SMTP_OK(s, st, 220, "STARTTLS") < 0)
	return (-1);
    snprintf(s->step, sizeof(s->step), "TLS handshake");
    if (cm_stream_starttls(st, s->cf->ctx, 0, s->cf->server_name, err, sizeof(err)) < 0)
	return (lg_fail(s, "%s", err));
    if (SMTP_OK(s, st, 250, "CELO loadgen.example.org") < 0
	|| SMTP_OK(s, st, 250, "DELV CertifiedMail") < 0
	|| cmtp_transaction(s, st) < 0)
	return (-1);
    for (turn = 1; s->cf->until_closed || lg_now() < deadline; turn++) {
	lg_sleep_ms(s->cf->interval_ms);
	if (s->cf->until_closed && lg_now() > deadline + s->cf->until_closed)
	    return (lg_fail(s, "the server did not end the session in time"));
	if (turn % 10 == 0) {
	    if (SMTP_OK(s, st, 250, "RSET") < 0 || cmtp_transaction(s, st) < 0)
		break;
	} else if (SMTP_OK(s, st, 250, "NOOP") < 0) {
	    break;
	}
    }
    if (s->cf->until_closed) {
	/* The server must have cut us off: a lost connection is the success. */
	if (s->ok || strncmp(s->err, "reply", 5) == 0) {
	    char    why[sizeof(s->err)];

	    memcpy(why, s->err, sizeof(why));
	    return (lg_fail(s, "loop ended without the server closing: %s", why));
	}
	s->close_s = lg_now() - deadline;
	s->ok = 1;
	s->err[0] = 0;
	s->closed_by_server = 1;
	return (0);
    }
    if (!s->ok)
	return (-1);
    if (s->cf->idle_wait)
	return (wait_close(s, st, s->cf->idle_wait));
    return (SMTP_OK(s, st, 221, "QUIT"));
}

/* pop_cmd - send a POP3 command, read the status line (+OK required) */
static int pop_cmd(LG_SESSION *s, CM_STREAM *st, char *line, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int pop_cmd(LG_SESSION *s, CM_STREAM *st, char *line, size_t size, const char *fmt, ...)
{
    char    cmd[LG_LINE_MAX];
    va_list ap;
    int     too_long;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(s->step, sizeof(s->step), "%.40s", strncmp(cmd, "PASS", 4) ? cmd : "PASS");
    s->commands++;
    if (cm_stream_printf(st, "%s\r\n", cmd) < 0 || cm_stream_flush(st) < 0)
	return (lg_fail(s, "write failed"));
    if (cm_stream_getline(st, line, size, &too_long) < 0)
	return (lg_fail(s, "no reply (connection lost or timeout)"));
    if (strncmp(line, "+OK", 3) != 0)
	return (lg_fail(s, "reply %.150s", line));
    return (0);
}

/* pop_multi - read a multi-line body up to "."; calls fn for each line */
static int pop_multi(LG_SESSION *s, CM_STREAM *st, void (*fn) (const char *, void *), void *ctx)
{
    char    line[LG_LINE_MAX];
    int     too_long;

    for (;;) {
	if (cm_stream_getline(st, line, sizeof(line), &too_long) < 0)
	    return (lg_fail(s, "connection lost in a multi-line reply"));
	if (strcmp(line, ".") == 0)
	    return (0);
	if (fn)
	    fn(line[0] == '.' ? line + 1 : line, ctx);
    }
}

/* find_certified - LIST line callback: remember a CertifiedMail message */
static void find_certified(const char *line, void *ctx)
{
    long   *msg = ctx;

    if (*msg == 0 && strstr(line, "CertifiedMail"))
	*msg = atol(line);
}

/* find_capa - CAPA line callback */
static void find_capa(const char *line, void *ctx)
{
    if (strncasecmp(line, "CMAIL", 5) == 0)
	*(int *) ctx = 1;
}

typedef struct {
    size_t  lines;
    size_t  bad;
} LG_B64;

/* count_b64 - RETR line callback: base64 lines of the receipt notice */
static void count_b64(const char *line, void *ctx)
{
    LG_B64 *b = ctx;

    b->lines++;
    if (strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != strlen(line))
	b->bad++;
}

/* cpop_session - one CPOP session */
static int cpop_session(LG_SESSION *s, CM_STREAM *st, double deadline)
{
    char    line[LG_LINE_MAX];
    char    err[256];
    int     too_long, capa = 0;
    long    msg = 0, turn;
    LG_B64  b64;

    snprintf(s->step, sizeof(s->step), "greeting");
    if (s->cf->implicit_tls
	&& cm_stream_starttls(st, s->cf->ctx, 0, s->cf->server_name, err, sizeof(err)) < 0)
	return (lg_fail(s, "%s", err));
    if (cm_stream_getline(st, line, sizeof(line), &too_long) < 0 || strncmp(line, "+OK", 3) != 0)
	return (lg_fail(s, "no +OK greeting"));
    if (!s->cf->implicit_tls) {
	if (pop_cmd(s, st, line, sizeof(line), "STLS") < 0)
	    return (-1);
	snprintf(s->step, sizeof(s->step), "TLS handshake");
	if (cm_stream_starttls(st, s->cf->ctx, 0, s->cf->server_name, err, sizeof(err)) < 0)
	    return (lg_fail(s, "%s", err));
    }
    if (pop_cmd(s, st, line, sizeof(line), "USER %s", s->cf->user) < 0
	|| pop_cmd(s, st, line, sizeof(line), "PASS %s", s->cf->password) < 0
	|| pop_cmd(s, st, line, sizeof(line), "CAPA") < 0
	|| pop_multi(s, st, find_capa, &capa) < 0)
	return (-1);
    if (!capa)
	return (lg_fail(s, "CAPA does not list CMAIL"));
    if (pop_cmd(s, st, line, sizeof(line), "LIST") < 0 || pop_multi(s, st, find_certified, &msg) < 0)
	return (-1);
    if (msg <= 0)
	return (lg_fail(s, "LIST shows no CertifiedMail message"));
    memset(&b64, 0, sizeof(b64));
    if (pop_cmd(s, st, line, sizeof(line), "RETR %ld", msg) < 0 || pop_multi(s, st, count_b64, &b64) < 0)
	return (-1);
    if (b64.lines == 0 || b64.bad)
	return (lg_fail(s, "RETR of the certified message is not a base64 receipt notice"));
    for (turn = 1; lg_now() < deadline; turn++) {
	lg_sleep_ms(s->cf->interval_ms);
	if (turn % 10 == 0) {
	    msg = 0;
	    if (pop_cmd(s, st, line, sizeof(line), "LIST") < 0 || pop_multi(s, st, find_certified, &msg) < 0)
		return (-1);
	} else if (pop_cmd(s, st, line, sizeof(line), turn % 2 ? "NOOP" : "STAT") < 0) {
	    return (-1);
	}
    }
    return (pop_cmd(s, st, line, sizeof(line), "QUIT"));
}

/* session_main - thread: connect, run one session, record the outcome */
static void *session_main(void *arg)
{
    LG_SESSION *s = arg;
    const LG_CONF *cf = s->cf;
    char    err[256];
    CM_STREAM *st;
    double  t0, deadline;
    int     fd, timeout;

    s->ok = 1;
    lg_sleep_ms((long) cf->ramp_ms * (s->n - 1) / (cf->sessions > 1 ? cf->sessions : 1));
    deadline = lg_now() + cf->seconds;
    snprintf(s->step, sizeof(s->step), "connect");
    t0 = lg_now();
    if ((fd = cm_connect(cf->connect, cf->timeout, err, sizeof(err))) < 0) {
	lg_fail(s, "%s", err);
	return (0);
    }
    s->connect_ms = (long) ((lg_now() - t0) * 1000);
    timeout = cf->timeout;
    if (cf->idle_wait + 5 > timeout)
	timeout = cf->idle_wait + 5;
    if ((st = cm_stream_open(fd, fd, timeout)) == 0) {
	close(fd);
	lg_fail(s, "out of memory");
	return (0);
    }
    if (cf->cpop)
	cpop_session(s, st, deadline);
    else
	cmtp_session(s, st, deadline);
    cm_stream_close(st);
    return (0);
}

/* usage - complain and exit */
static void usage(void)
{
    fprintf(stderr, "usage: loadgen cmtp|cpop --connect HOST:PORT --ca FILE [--sessions N] [--seconds S]\n"
	    "    [--interval MS] [--ramp MS] [--server-name NAME] [--timeout S]\n"
	    "    cmtp: --from ADDR --rcpt ADDR [--idle-wait S] [--until-closed S]\n"
	    "    cpop: --user NAME --password-file FILE [--implicit-tls]\n");
    exit(2);
}

/* read_password - first line of a file */
static void read_password(const char *path, char *buf, size_t size)
{
    FILE   *fp = fopen(path, "r");

    if (fp == 0 || fgets(buf, (int) size, fp) == 0) {
	fprintf(stderr, "loadgen: cannot read %s\n", path);
	exit(2);
    }
    fclose(fp);
    buf[strcspn(buf, "\r\n")] = 0;
}

/* main - parse the options, run the sessions, print the outcome */
int     main(int argc, char **argv)
{
    static const struct option opts[] = {
	{"connect", required_argument, 0, 'c'}, {"ca", required_argument, 0, 'a'},
	{"server-name", required_argument, 0, 'n'}, {"from", required_argument, 0, 'f'},
	{"rcpt", required_argument, 0, 'r'}, {"user", required_argument, 0, 'u'},
	{"password-file", required_argument, 0, 'p'}, {"implicit-tls", no_argument, 0, 'I'},
	{"sessions", required_argument, 0, 's'}, {"seconds", required_argument, 0, 'S'},
	{"interval", required_argument, 0, 'i'}, {"ramp", required_argument, 0, 'R'},
	{"timeout", required_argument, 0, 't'}, {"idle-wait", required_argument, 0, 'w'},
	{"until-closed", required_argument, 0, 'U'}, {0, 0, 0, 0},
    };
    LG_CONF cf;
    LG_SESSION *ss;
    pthread_t *th;
    pthread_attr_t attr;
    char    err[256];
    int     c, i, nok = 0, nclosed = 0;
    long    commands = 0, cmax = 0;
    double  close_max = 0;

    memset(&cf, 0, sizeof(cf));
    cf.server_name = "mail.example.org";
    cf.sessions = 10;
    cf.seconds = 10;
    cf.interval_ms = 1000;
    cf.ramp_ms = 2000;
    cf.timeout = 30;
    if (argc < 2)
	usage();
    if (strcmp(argv[1], "cpop") == 0)
	cf.cpop = 1;
    else if (strcmp(argv[1], "cmtp") != 0)
	usage();
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, "", opts, 0)) != -1) {
	switch (c) {
	case 'c': cf.connect = optarg; break;
	case 'a': cf.ca = optarg; break;
	case 'n': cf.server_name = optarg; break;
	case 'f': cf.from = optarg; break;
	case 'r': cf.rcpt = optarg; break;
	case 'u': cf.user = optarg; break;
	case 'p': read_password(optarg, cf.password, sizeof(cf.password)); break;
	case 'I': cf.implicit_tls = 1; break;
	case 's': cf.sessions = atoi(optarg); break;
	case 'S': cf.seconds = atoi(optarg); break;
	case 'i': cf.interval_ms = atoi(optarg); break;
	case 'R': cf.ramp_ms = atoi(optarg); break;
	case 't': cf.timeout = atoi(optarg); break;
	case 'w': cf.idle_wait = atoi(optarg); break;
	case 'U': cf.until_closed = atoi(optarg); break;
	default: usage();
	}
    }
    if (optind != argc || cf.connect == 0 || cf.ca == 0 || cf.sessions < 1
	|| cf.sessions > LG_SESSIONS_MAX || cf.seconds < 0 || cf.interval_ms < 1
	|| cf.ramp_ms < 0 || cf.timeout < 1 || cf.idle_wait < 0 || cf.until_closed < 0
	|| (cf.cpop ? (cf.user == 0 || cf.password[0] == 0) : (cf.from == 0 || cf.rcpt == 0)))
	usage();
    signal(SIGPIPE, SIG_IGN);
    if ((cf.ctx = cm_tls_client_ctx(cf.ca, 0, 0, err, sizeof(err))) == 0) {
	fprintf(stderr, "loadgen: %s\n", err);
	return (2);
    }
    ss = calloc((size_t) cf.sessions, sizeof(*ss));
    th = calloc((size_t) cf.sessions, sizeof(*th));
    if (ss == 0 || th == 0) {
	fprintf(stderr, "loadgen: out of memory\n");
	return (2);
    }
    /* Small stacks: hundreds of threads that only wait on sockets. */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (i = 0; i < cf.sessions; i++) {
	ss[i].n = i + 1;
	ss[i].cf = &cf;
	if (pthread_create(&th[i], &attr, session_main, &ss[i]) != 0) {
	    fprintf(stderr, "loadgen: cannot create thread %d\n", i + 1);
	    return (2);
	}
    }
    pthread_attr_destroy(&attr);
    for (i = 0; i < cf.sessions; i++) {
	pthread_join(th[i], 0);
	if (ss[i].ok)
	    nok++;
	else
	    printf("session %d: %s: %s\n", ss[i].n, ss[i].step, ss[i].err);
	commands += ss[i].commands;
	if (ss[i].connect_ms > cmax)
	    cmax = ss[i].connect_ms;
	nclosed += ss[i].closed_by_server;
	if (ss[i].close_s > close_max)
	    close_max = ss[i].close_s;
    }
    printf("loadgen %s: sessions=%d ok=%d failed=%d commands=%ld connect_ms_max=%ld "
	   "closed_by_server=%d close_s_max=%.1f\n", cf.cpop ? "cpop" : "cmtp", cf.sessions, nok,
	   cf.sessions - nok, commands, cmax, nclosed, close_max);
    SSL_CTX_free(cf.ctx);
    free(ss);
    free(th);
    return (nok == cf.sessions ? 0 : 1);
}
