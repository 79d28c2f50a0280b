/*++
 * NAME
 *	cmtpd 8
 * SUMMARY
 *	Cmail CMTP server (ITU-T X.1341) for clients depositing certified mail
 * SYNOPSIS
 *	cmtpd [-c config] [-L logfile] [-T] [-v]
 *	cmtpd [-c config] [-L logfile] [-T] [-v] [-u user] -l address:port
 *		[-p processes] [-m max_use] [-i max_idle] [-t ticket_lifetime]
 * DESCRIPTION
 *	Without -l, cmtpd serves one connection on standard input and
 *	output: as a Postfix spawn(8) service, from inetd, or from a
 *	systemd socket with Accept=yes. It then issues no TLS session
 *	ticket (nothing else could honour it) and compiles the XSD only
 *	if a notice is checked against it.
 *
 *	With -l (the recommended deployment) it listens itself and keeps
 *	a pool of worker processes, as Postfix's master does: the parent
 *	initialises everything costly once (OpenSSL, libxml2/xmlsec1, the
 *	TLS context with its key and session ticket keys, the trust
 *	anchors and CRLs, the compiled XSD) and forks a worker when a
 *	connection waits and no worker is idle, at most -p (100) at a
 *	time; each worker accepts and serves connections in turn, up to
 *	-m (100) of them, and exits after -i (100) seconds without one.
 *	Workers report busy/idle to the parent over a pipe; a new
 *	connection wakes one idle worker (EPOLLEXCLUSIVE); a worker whose
 *	parent is gone stops accepting. SIGTERM or SIGINT: the parent
 *	terminates the workers (SIGTERM; SIGKILL after 10 seconds), reaps
 *	them and exits. TLS session tickets (keys shared by all workers,
 *	renewed every ticket_lifetime seconds, -t 0: no tickets) let a
 *	client resume its session without the RSA signature of a full
 *	handshake; a resumed session still carries a peer server's client
 *	certificate, which is validated again on every connection.
 *
 *	-T: implicit TLS (TLS from the first byte, as on port 465);
 *	otherwise the client must use STARTTLS before CELO.
 *	-c: cmail.conf (default /etc/cmail/cmail.conf or $CMAIL_CONFIG).
 *	-L: also log to this file (besides syslog, facility mail).
 *	-u: with -l, after binding and reading the TLS key, switch to this
 *	user (as spawn(8) does with user=); refused when it is root.
 *	-p, -m, -i, -t: with -l, the process limit (1-4096), the
 *	connections a worker serves (1-100000; 1 is one fork per
 *	connection), its idle time limit in seconds (1-86400) and the
 *	TLS session ticket lifetime in seconds (0-86400).
 *
 *	cmtpd holds no signing or sealing key: cmail-notary signs and
 *	seals. It needs the TLS certificate and key (tls_certificate,
 *	tls_key), the trust anchors and CRLs, the certificate directory,
 *	the server certificate (to recognise its own postmark), the spool
 *	directory and the notary socket.
 * DIAGNOSTICS
 *	Problems go to syslog (mail facility) as "cmtpd[pid]: ...".
 * SEE ALSO
 *	cmail.conf(5), cmail-notary(8), cmail-milter(8), cmail(1)
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <grp.h>

#include "cm_log.h"
#include "cm_config.h"
#include "cm_cert.h"
#include "cm_certdir.h"
#include "cm_certcache.h"
#include "cm_pem.h"
#include "cm_tls.h"
#include "cm_xml.h"
#include "cm_stream.h"
#include "cm_reply.h"
#include "cmtpd.h"

#define CMTPD_PROCESS_LIMIT	100	/* -p: workers at most */
#define CMTPD_MAX_USE		100	/* -m: connections per worker */
#define CMTPD_MAX_IDLE		100	/* -i: seconds a worker waits */
#define CMTPD_TICKET_LIFETIME	3600	/* -t: seconds, 0 = no tickets */
#define CMTPD_STOP_WAIT		10	/* seconds for workers to go at SIGTERM */

/*
 * The worker pool of cmtpd -l. A worker tells the parent when it starts
 * and ends serving a connection: one write of a POOL_STATUS to a pipe
 * shared by all workers (atomic, smaller than PIPE_BUF).
 */
typedef struct {
    pid_t   pid;
    int     busy;
} POOL_STATUS;

typedef struct {
    int     limit;			/* -p */
    int     max_use;			/* -m */
    int     max_idle;			/* -i */
    long    ticket_lifetime;		/* -t */
} POOL_OPTS;

typedef struct {
    pid_t   pid;			/* 0: free slot */
    int     busy;
} POOL_SLOT;

static int implicit_tls;
static volatile sig_atomic_t pool_stop;
static int pool_sigpipe[2] = {-1, -1};
static POOL_SLOT *pool_slots;		/* the parent's table (freed in workers) */

/* usage - complain and exit; with help, to stdout and exit 0 */
static void usage_to(int help)
{
    fprintf(help ? stdout : stderr, "usage: cmtpd [-c config] [-L logfile] [-T] [-v] [-u user]\n"
	    "             [-l address:port [-p processes] [-m max_use] [-i max_idle] [-t ticket_lifetime]]\n");
    exit(help ? 0 : 2);
}

/* int_arg - a numeric option within bounds, or usage */
static long int_arg(const char *arg, long min, long max)
{
    char   *end;
    long    v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != 0 || v < min || v > max) {
	fprintf(stderr, "cmtpd: bad number %s (%ld-%ld)\n", arg, min, max);
	usage_to(0);
    }
    return (v);
}


/* peer_name - printable address of the client on fd */
static void peer_name(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char    host[NI_MAXHOST], port[NI_MAXSERV];

    if (getpeername(fd, (struct sockaddr *) &ss, &len) < 0
	|| ss.ss_family == AF_UNIX
	|| getnameinfo((struct sockaddr *) &ss, len, host, sizeof(host), port, sizeof(port),
		       NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
	snprintf(buf, size, "local");
	return;
    }
    snprintf(buf, size, "[%s]:%s", host, port);
}

/* serve - one connection on rfd/wfd */
static void serve(CMTP_SESSION *proto, int rfd, int wfd)
{
    CMTP_SESSION s = *proto;
    char    client[NI_MAXHOST + NI_MAXSERV + 8];
    char    err[512];

    peer_name(rfd, client, sizeof(client));
    s.client_addr = client;
    if ((s.st = cm_stream_open(rfd, wfd, (int) cm_config_int(s.cf, "smtp_timeout"))) == 0)
	msg_fatal("out of memory");
    msg_info("connect from %s", client);
    signal(SIGALRM, cmtp_watchdog);
    alarm((unsigned) cm_config_int(s.cf, "session_time_limit"));
    if (implicit_tls) {
	if (cm_stream_starttls(s.st, s.tls, 1, 0, err, sizeof(err)) < 0) {
	    msg_warn("%s: %s", client, err);
	    cm_stream_close(s.st);
	    return;
	}
	s.tls_active = 1;
	cmtp_peer_identify(&s);
    }
    cmtp_session_run(&s);
    cm_stream_close(s.st);
    msg_info("disconnect from %s", client);
}

/* listen_on - a listening TCP socket */
static int listen_on(const char *where, int backlog)
{
    char    host[256];
    const char *colon = strrchr(where, ':');
    struct addrinfo hints, *res;
    int     fd, on = 1, rc;

    if (colon == 0 || (size_t) (colon - where) >= sizeof(host))
	msg_fatal("bad listen address: %s", where);
    snprintf(host, sizeof(host), "%.*s", (int) (colon - where), where);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
	msg_fatal("%s: %s", where, gai_strerror(rc));
    if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
	msg_fatal("socket: %m");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog > 128 ? backlog : 128) < 0)
	msg_fatal("listen on %s: %m", where);
    freeaddrinfo(res);
    return (fd);
}

/* drop_to - become user (setgroups, setresgid, setresuid), fatal on failure */
static void drop_to(const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (pw == 0)
	msg_fatal("-u %s: no such user", user);
    if (pw->pw_uid == 0)
	msg_fatal("-u %s: refusing to run as root", user);
    if (setgroups(0, 0) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0
	|| setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0 || setuid(0) == 0)
	msg_fatal("cannot switch to user %s: %m", user);
}

/* pool_signal - SIGCHLD, SIGTERM, SIGINT in the parent: wake its poll() */
static void pool_signal(int sig)
{
    int     saved = errno;
    char    c = (char) sig;

    if (sig == SIGTERM || sig == SIGINT)
	pool_stop = 1;
    if (write(pool_sigpipe[1], &c, 1) < 0) {
	/* Full: the parent is woken already. */
    }
    errno = saved;
}

/* pool_report - tell the parent whether this worker is busy */
static void pool_report(int status_fd, int busy)
{
    POOL_STATUS st;

    memset(&st, 0, sizeof(st));
    st.pid = getpid();
    st.busy = busy;
    if (write(status_fd, &st, sizeof(st)) != (ssize_t) sizeof(st))
	msg_warn("status report to the parent: %m");
}

/* pool_worker - accept and serve connections in turn, then exit */
static void pool_worker(CMTP_SESSION *proto, int lfd, int status_fd, int lifeline,
			        const POOL_OPTS *o)
{
    struct epoll_event ev, got[2];
    int     uses = 0;
    int     ep, fd, n, i, idle;

    /*
     * EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all of
     * them (no thundering herd with a large pool).
     */
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
	msg_fatal("epoll_create1: %m");
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = lfd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
	msg_fatal("epoll_ctl: %m");
    ev.events = EPOLLIN;
    ev.data.fd = lifeline;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lifeline, &ev) < 0)
	msg_fatal("epoll_ctl: %m");
    while (uses < o->max_use) {
	if ((n = epoll_wait(ep, got, 2, o->max_idle * 1000)) < 0) {
	    if (errno == EINTR)
		continue;
	    msg_warn("epoll_wait: %m");
	    break;
	}
	for (idle = (n == 0), i = 0; i < n; i++)
	    if (got[i].data.fd == lifeline)
		idle = 1;			/* the parent is gone: stop */
	/* lfd is non-blocking: another worker may have taken the connection. */
	if ((fd = accept4(lfd, 0, 0, SOCK_CLOEXEC)) < 0) {
	    if (idle)
		break;				/* idle too long and nothing waits */
	    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
		&& errno != ECONNABORTED) {
		msg_warn("accept: %m");
		sleep(1);
	    }
	    continue;
	}
	pool_report(status_fd, 1);
	serve(proto, fd, fd);
	alarm(0);
	close(fd);
	if (++uses < o->max_use)
	    pool_report(status_fd, 0);
	if (idle)
	    break;
    }
    close(ep);
    cmtp_deposit_cleanup();
    _exit(0);
}

/* pool_spawn - fork one worker into a free slot; 0, or -1 */
static int pool_spawn(CMTP_SESSION *proto, POOL_SLOT *slot, int lfd, int status[2],
		              int lifeline[2], const POOL_OPTS *o)
{
    pid_t   pid;

    if ((pid = fork()) < 0) {
	msg_warn("fork: %m");
	return (-1);
    }
    if (pid == 0) {
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	close(pool_sigpipe[0]);
	close(pool_sigpipe[1]);
	close(status[0]);
	close(lifeline[1]);
	free(pool_slots);			/* the parent's table */
	pool_slots = 0;
	if (pool_stop)
	    _exit(0);
	pool_worker(proto, lfd, status[1], lifeline[0], o);
	_exit(0);				/* not reached */
    }
    slot->pid = pid;
    slot->busy = 0;
    return (0);
}

/* pool_find - the slot of pid, or NULL */
static POOL_SLOT *pool_find(POOL_SLOT *slots, int limit, pid_t pid)
{
    int     i;

    for (i = 0; i < limit; i++)
	if (slots[i].pid == pid)
	    return (slots + i);
    return (0);
}

/* pool_reap - collect exited workers; how many are left */
static int pool_reap(POOL_SLOT *slots, int limit, int stopping)
{
    POOL_SLOT *slot;
    pid_t   pid;
    int     status, i, left = 0;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
	if ((slot = pool_find(slots, limit, pid)) != 0)
	    slot->pid = 0;
	if (WIFSIGNALED(status) && !(stopping && WTERMSIG(status) == SIGTERM))
	    msg_warn("worker %ld killed by signal %d", (long) pid, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
	    msg_info("worker %ld exited with status %d", (long) pid, WEXITSTATUS(status));
    }
    for (i = 0; i < limit; i++)
	left += slots[i].pid != 0;
    return (left);
}

/* pool_stop_all - SIGTERM to every worker, SIGKILL after CMTPD_STOP_WAIT */
static void pool_stop_all(POOL_SLOT *slots, int limit)
{
    time_t  deadline = time(0) + CMTPD_STOP_WAIT;
    int     i, left;

    for (i = 0; i < limit; i++)
	if (slots[i].pid > 0)
	    kill(slots[i].pid, SIGTERM);
    while ((left = pool_reap(slots, limit, 1)) > 0 && time(0) < deadline)
	poll(0, 0, 50);
    if (left > 0) {
	msg_warn("%d worker(s) still running after %d s: SIGKILL", left, CMTPD_STOP_WAIT);
	for (i = 0; i < limit; i++)
	    if (slots[i].pid > 0)
		kill(slots[i].pid, SIGKILL);
	for (i = 0; i < limit; i++)
	    if (slots[i].pid > 0 && waitpid(slots[i].pid, 0, 0) == slots[i].pid)
		slots[i].pid = 0;
    }
}

/* standalone - listen, and run the worker pool until SIGTERM */
static void standalone(CMTP_SESSION *proto, const char *where, const char *user,
		               const POOL_OPTS *o)
{
    int     lfd = listen_on(where, o->limit);
    int     status[2], lifeline[2];
    POOL_SLOT *slots;
    POOL_STATUS st;
    struct sigaction sa;
    struct pollfd pfd[3];
    time_t  rotated = time(0);
    int     i, n, npfd, count, idle, full_logged = 0;
    char    junk[64];

    if (user)
	drop_to(user);
    if (pipe2(pool_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(status, O_CLOEXEC) < 0
	|| pipe2(lifeline, O_CLOEXEC) < 0)
	msg_fatal("pipe: %m");
    if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK) < 0
	|| fcntl(status[0], F_SETFL, fcntl(status[0], F_GETFL) | O_NONBLOCK) < 0)
	msg_fatal("fcntl: %m");
    if ((slots = pool_slots = calloc((size_t) o->limit, sizeof(*slots))) == 0)
	msg_fatal("out of memory");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pool_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, 0) < 0 || sigaction(SIGTERM, &sa, 0) < 0
	|| sigaction(SIGINT, &sa, 0) < 0)
	msg_fatal("sigaction: %m");

    msg_info("listening on %s%s: at most %d processes, %d connections each, idle %d s, "
	     "TLS session tickets %s", where, implicit_tls ? " (implicit TLS)" : "",
	     o->limit, o->max_use, o->max_idle, o->ticket_lifetime > 0 ? "on" : "off");
    while (!pool_stop) {
	/* Worker reports first, then exits: a slot's state is never stale. */
	while (read(status[0], &st, sizeof(st)) == (ssize_t) sizeof(st)) {
	    POOL_SLOT *slot = pool_find(slots, o->limit, st.pid);

	    if (slot != 0 && st.pid > 0)
		slot->busy = st.busy;
	}
	while (read(pool_sigpipe[0], junk, sizeof(junk)) > 0)
	     /* void */ ;
	count = pool_reap(slots, o->limit, 0);
	for (idle = 0, i = 0; i < o->limit; i++)
	    idle += slots[i].pid != 0 && !slots[i].busy;
	if (o->ticket_lifetime > 0 && time(0) - rotated >= o->ticket_lifetime) {
	    if (cm_tls_server_ticket_rotate(proto->tls) < 0)
		msg_warn("cannot renew the TLS session ticket keys");
	    rotated = time(0);
	}
	if (count < o->limit)
	    full_logged = 0;
	else if (!full_logged) {
	    msg_warn("all %d processes busy: connections wait (raise -p?)", o->limit);
	    full_logged = 1;
	}
	pfd[0].fd = pool_sigpipe[0];
	pfd[1].fd = status[0];
	pfd[2].fd = lfd;
	for (i = 0; i < 3; i++) {
	    pfd[i].events = POLLIN;
	    pfd[i].revents = 0;
	}
	/* Watch the listener only when a new worker would take the connection. */
	npfd = (idle == 0 && count < o->limit) ? 3 : 2;
	if ((n = poll(pfd, (nfds_t) npfd, 1000)) < 0 && errno != EINTR)
	    msg_fatal("poll: %m");
	if (n > 0 && npfd == 3 && (pfd[2].revents & POLLIN) && !pool_stop) {
	    for (i = 0; i < o->limit && slots[i].pid != 0; i++)
		 /* void */ ;
	    if (i < o->limit && pool_spawn(proto, slots + i, lfd, status, lifeline, o) < 0)
		poll(0, 0, 1000);		/* fork failed: do not spin */
	}
    }
    msg_info("stopping: terminating the workers");
    close(lfd);
    pool_stop_all(slots, o->limit);
    free(slots);
    pool_slots = 0;
    close(status[0]);
    close(status[1]);
    close(lifeline[0]);
    close(lifeline[1]);
    close(pool_sigpipe[0]);
    close(pool_sigpipe[1]);
}

int     main(int argc, char **argv)
{
    CMTP_SESSION proto;
    const char *conf = 0, *listen_addr = 0, *logfile = 0, *user = 0;
    char    err[512];
    char    host[256];
    int     ch;
    POOL_OPTS pool;
    const char *tls_cert, *server_cert;

    pool.limit = CMTPD_PROCESS_LIMIT;
    pool.max_use = CMTPD_MAX_USE;
    pool.max_idle = CMTPD_MAX_IDLE;
    pool.ticket_lifetime = CMTPD_TICKET_LIFETIME;
    cm_log_init("cmtpd", CM_LOG_SYSLOG);
    if (argc > 1 && strcmp(argv[1], "--help") == 0)
        usage_to(1);
    while ((ch = getopt(argc, argv, "c:i:l:L:m:p:t:Tu:v")) != -1) {
	switch (ch) {
	case 'i':
	    pool.max_idle = (int) int_arg(optarg, 1, 86400);
	    break;
	case 'm':
	    pool.max_use = (int) int_arg(optarg, 1, 100000);
	    break;
	case 'p':
	    pool.limit = (int) int_arg(optarg, 1, 4096);
	    break;
	case 't':
	    pool.ticket_lifetime = int_arg(optarg, 0, 86400);
	    break;
	case 'c':
	    conf = optarg;
	    break;
	case 'l':
	    listen_addr = optarg;
	    break;
	case 'L':
	    logfile = optarg;
	    break;
	case 'T':
	    implicit_tls = 1;
	    break;
	case 'u':
	    user = optarg;
	    break;
	case 'v':
	    break;
	default:
	    usage_to(0);
	}
    }
    if (optind != argc)
	usage_to(0);
    if (listen_addr)
	cm_log_init("cmtpd", CM_LOG_SYSLOG | CM_LOG_STDERR);
    if (logfile && cm_log_file(logfile) < 0)
	msg_fatal("open log file %s: %m", logfile);
    signal(SIGPIPE, SIG_IGN);
    if (cm_xml_init() < 0)
	msg_fatal("cannot initialise libxml2/xmlsec1");
    memset(&proto, 0, sizeof(proto));
    if (conf == 0)
	conf = cm_config_default_path();
    if ((proto.cf = cm_config_load(conf, err, sizeof(err))) == 0)
	msg_fatal("%s", err);
    if (*cm_config_str(proto.cf, "schema_directory"))
	cm_schema_set_dir(cm_config_str(proto.cf, "schema_directory"));
    proto.hostname = cm_config_str(proto.cf, "myhostname");
    if (*proto.hostname == 0) {
	if (gethostname(host, sizeof(host)) < 0)
	    msg_fatal("gethostname: %m");
	host[sizeof(host) - 1] = 0;
	proto.hostname = host;
    }
    if ((proto.trust = cm_trust_load(cm_config_str(proto.cf, "trust_anchors"),
				     cm_config_str(proto.cf, "crl_directory"), err, sizeof(err))) == 0)
	msg_fatal("trust anchors: %s", err);
    tls_cert = cm_config_str(proto.cf, "tls_certificate");
    server_cert = cm_config_str(proto.cf, "server_certificate");
    if ((proto.tls = cm_tls_server_ctx(tls_cert, cm_config_str(proto.cf, "tls_key"), 0,
				       err, sizeof(err))) == 0
	|| cm_tls_server_ask_peer(proto.tls, cm_config_str(proto.cf, "trust_anchors"),
				  err, sizeof(err)) < 0
	|| cm_tls_server_tickets(proto.tls, listen_addr ? pool.ticket_lifetime : 0,
				 err, sizeof(err)) < 0)
	msg_fatal("%s", err);
    /* Usually one file: the leaf the TLS context holds already, not parsed again. */
    if (strcmp(tls_cert, server_cert) == 0
	&& (proto.server_cert = SSL_CTX_get0_certificate(proto.tls)) != 0)
	X509_up_ref(proto.server_cert);
    else if ((proto.server_cert = cm_pem_read_cert(server_cert, err, sizeof(err))) == 0)
	msg_fatal("server certificate: %s", err);
    /* Our postmark's KeyInfo certificate (DEPO, signature 1): a cache hit. */
    if (cm_certcache_add(proto.server_cert) < 0)
	msg_warn("server certificate: cannot cache it");
    if (user && !listen_addr)
	msg_fatal("-u needs -l (under spawn(8) or inetd the user is theirs to set)");
    if (listen_addr) {
	/* Compiled once here, shared by every worker (spawn mode: on first use). */
	if (cm_xml_schema_preload(cm_schema_path(), err, sizeof(err)) < 0)
	    msg_warn("%s (compiled on first use instead)", err);
	/* The users' certificates, parsed once here (cm_trust_load warmed the CRLs). */
	if (cm_certdir_preload(cm_config_str(proto.cf, "certificate_directory"), 0,
			       err, sizeof(err)) < 0)
	    msg_warn("certificate directory: %s", err);
	standalone(&proto, listen_addr, user, &pool);
    } else {
	serve(&proto, 0, 1);
    }
    /* Process-lifetime objects, freed so that leak checkers see a clean exit. */
    cmtp_deposit_cleanup();
    SSL_CTX_free(proto.tls);
    X509_free(proto.server_cert);
    cm_trust_free(proto.trust);
    cm_config_free(proto.cf);
    return (0);
}
