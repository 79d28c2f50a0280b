/*++
 * NAME
 *	cmtpd 8
 * SUMMARY
 *	Cmail CMTP server (ITU-T X.1341) for clients depositing certified mail
 * SYNOPSIS
 *	cmtpd [-c config] [-L logfile] [-T] [-v]
 *	cmtpd [-c config] [-L logfile] [-T] [-v] [-u user] -l address:port
 * DESCRIPTION
 *	Without -l, cmtpd serves one connection on standard input and
 *	output: as a Postfix spawn(8) service, from inetd, or from a
 *	systemd socket with Accept=yes. With -l it listens itself and forks
 *	one process per connection (at most 100 at a time).
 *
 *	-T: implicit TLS (TLS from the first byte, as on port 465);
 *	otherwise the client must use STARTTLS before CELO.
 *	-c: cmail.conf (default /etc/cmail/cmail.conf or $CMAIL_CONFIG).
 *	-L: also log to this file (besides syslog, facility mail).
 *	-u: with -l, after binding and reading the TLS key, switch to this
 *	user (as spawn(8) does with user=); refused when it is root.
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
#include <signal.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <grp.h>

#include "cm_log.h"
#include "cm_config.h"
#include "cm_cert.h"
#include "cm_pem.h"
#include "cm_tls.h"
#include "cm_xml.h"
#include "cm_stream.h"
#include "cm_reply.h"
#include "cmtpd.h"

#define CMTPD_CHILDREN_MAX	100

static int implicit_tls;

/* usage - complain and exit; with help, to stdout and exit 0 */
static void usage_to(int help)
{
    fprintf(help ? stdout : stderr, "usage: cmtpd [-c config] [-L logfile] [-T] [-v] [-u user] [-l address:port]\n");
    exit(help ? 0 : 2);
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
static int listen_on(const char *where)
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
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0)
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

/* standalone - accept and fork, bounded */
static void standalone(CMTP_SESSION *proto, const char *where, const char *user)
{
    int     lfd = listen_on(where);
    int     children = 0;

    if (user)
	drop_to(user);

    msg_info("listening on %s%s", where, implicit_tls ? " (implicit TLS)" : "");
    for (;;) {
	int     fd;
	pid_t   pid;

	while (waitpid(-1, 0, children >= CMTPD_CHILDREN_MAX ? 0 : WNOHANG) > 0)
	    children--;
	if ((fd = accept4(lfd, 0, 0, SOCK_CLOEXEC)) < 0) {
	    if (errno != EINTR && errno != ECONNABORTED)
		msg_warn("accept: %m");
	    continue;
	}
	if ((pid = fork()) < 0) {
	    msg_warn("fork: %m");
	    close(fd);
	    continue;
	}
	if (pid == 0) {
	    close(lfd);
	    serve(proto, fd, fd);
	    _exit(0);
	}
	children++;
	close(fd);
    }
}

int     main(int argc, char **argv)
{
    CMTP_SESSION proto;
    const char *conf = 0, *listen_addr = 0, *logfile = 0, *user = 0;
    char    err[512];
    char    host[256];
    int     ch;

    cm_log_init("cmtpd", CM_LOG_SYSLOG);
    if (argc > 1 && strcmp(argv[1], "--help") == 0)
        usage_to(1);
    while ((ch = getopt(argc, argv, "c:l:L:Tu:v")) != -1) {
	switch (ch) {
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
    if ((proto.server_cert = cm_pem_read_cert(cm_config_str(proto.cf, "server_certificate"),
					      err, sizeof(err))) == 0)
	msg_fatal("server certificate: %s", err);
    if ((proto.tls = cm_tls_server_ctx(cm_config_str(proto.cf, "tls_certificate"),
				       cm_config_str(proto.cf, "tls_key"), 0, err, sizeof(err))) == 0
	|| cm_tls_server_ask_peer(proto.tls, cm_config_str(proto.cf, "trust_anchors"),
				  err, sizeof(err)) < 0)
	msg_fatal("%s", err);
    if (user && !listen_addr)
	msg_fatal("-u needs -l (under spawn(8) or inetd the user is theirs to set)");
    if (listen_addr)
	standalone(&proto, listen_addr, user);
    else
	serve(&proto, 0, 1);
    /* Process-lifetime objects, freed so that leak checkers see a clean exit. */
    SSL_CTX_free(proto.tls);
    X509_free(proto.server_cert);
    cm_trust_free(proto.trust);
    cm_config_free(proto.cf);
    return (0);
}
