/*++
 * NAME
 *	test_peer 1
 * SUMMARY
 *	unit tests of cm_peer (server authentication) and cm_cmtp_client
 *	against a scripted fake CMTP server
 * DESCRIPTION
 *	Scratch PKIs (cm_pki) for a.test (us), b.test (the peer), c.test
 *	(trusted, another domain, server named mx.provider.net), d.test
 *	(not trusted) and e.test (trusted, its server certificate revoked).
 *
 *	cm_peer_speaks_for() and cm_peer_validate() are checked on those
 *	certificates. The client is checked end to end over TCP on
 *	127.0.0.1: a forked child plays the peer (mutual TLS with
 *	cm_tls_server_ctx(), checks our client certificate with cm_peer
 *	as cmtpd does, answers each command as its mode says) and exits 0
 *	only when it saw what it expected.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cm_log.h"
#include "cm_limits.h"
#include "cm_pem.h"
#include "cm_pki.h"
#include "cm_base64.h"
#include "cm_cert.h"
#include "cm_config.h"
#include "cm_tls.h"
#include "cm_stream.h"
#include "cm_reply.h"
#include "cm_peer.h"
#include "cm_cmtp_client.h"

#define BOB		"bob@b.test"
#define SDN_TEXT	"<SignedDepositNotice/>"	/* what SEND EVLP carries, opaque here */
#define NORP_TEXT	"<SignedReceiptNotice/>"
#define TRANSIT_TEXT	"<TransitNotice xmlns=\"urn:test\">transit</TransitNotice>"

static char dir[] = "/tmp/cmail-test-peer.XXXXXX";
static char trust_file[600], crl_dir[600];
static CM_TRUST *trust;
static X509 *cert_a, *cert_b, *cert_c, *cert_d, *cert_e, *cert_bob;

/* ENVELOPE as stored (CRLF), and the same as a file with LF, a dot line, no final EOL. */
static const char envelope_crlf[] =
    "From: alice@a.test\r\nTo: bob@b.test\r\n\r\n.starts with a dot\r\n..two dots\r\nlast";
static const char envelope_sent[] =
    "From: alice@a.test\nTo: bob@b.test\r\n\n.starts with a dot\n..two dots\r\nlast";

/* pki - one scratch PKI */
static int pki(const char *domain, const char *server_name, char *err, size_t errlen)
{
    CM_PKI_OPTS opts;
    char    path[600];

    cm_pki_opts_init(&opts);
    opts.domain = domain;
    opts.server_name = server_name;
    snprintf(path, sizeof(path), "%s/%s", dir, domain);
    return (cm_pki_init(path, &opts, err, errlen));
}

/* load - a certificate of a scratch PKI */
static X509 *load(const char *rel)
{
    char    path[600], err[256];
    X509   *c;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if ((c = cm_pem_read_cert(path, err, sizeof(err))) == 0)
	fprintf(stderr, "# %s\n", err);
    return (c);
}

/* shell - run a command, 0 on success */
static int shell(const char *fmt, ...)
{
    char    cmd[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return (system(cmd) == 0 ? 0 : -1);
}

/* group_setup - five PKIs, trust for three, one server certificate revoked */
static int group_setup(void **state)
{
    char    err[512], path[600];
    CM_PKI_OPTS opts;

    (void) state;
    cm_log_init("test_peer", CM_LOG_STDERR);
    cm_log_quiet(1);
    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(dir) == 0)
	return (-1);
    if (pki("a.test", 0, err, sizeof(err)) < 0 || pki("b.test", 0, err, sizeof(err)) < 0
	|| pki("c.test", "mx.provider.net", err, sizeof(err)) < 0
	|| pki("d.test", 0, err, sizeof(err)) < 0 || pki("e.test", 0, err, sizeof(err)) < 0) {
	fprintf(stderr, "# pki: %s\n", err);
	return (-1);
    }
    cm_pki_opts_init(&opts);
    opts.domain = "b.test";
    snprintf(path, sizeof(path), "%s/b.test", dir);
    if (cm_pki_issue_user(path, BOB, 0, &opts, err, sizeof(err)) < 0) {
	fprintf(stderr, "# pki: %s\n", err);
	return (-1);
    }
    /* Revoke e.test's server certificate: cm_pki_revoke() takes it from users/. */
    snprintf(path, sizeof(path), "%s/e.test", dir);
    if (shell("cp '%s/server.pem' '%s/users/server@e.test.pem'", path, path) < 0
	|| cm_pki_revoke(path, "server@e.test", -1, err, sizeof(err)) < 0) {
	fprintf(stderr, "# revoke: %s\n", err);
	return (-1);
    }
    snprintf(trust_file, sizeof(trust_file), "%s/anchors.pem", dir);
    snprintf(crl_dir, sizeof(crl_dir), "%s/crl", dir);
    if (shell("cat '%s'/a.test/ca.pem '%s'/b.test/ca.pem '%s'/c.test/ca.pem '%s'/e.test/ca.pem > '%s'",
	      dir, dir, dir, dir, trust_file) < 0
	|| shell("mkdir '%s' && for d in a b c e; do cp '%s'/$d.test/crl.pem '%s'/$d.pem; done",
		 crl_dir, dir, crl_dir) < 0)
	return (-1);
    if ((trust = cm_trust_load(trust_file, crl_dir, err, sizeof(err))) == 0) {
	fprintf(stderr, "# trust: %s\n", err);
	return (-1);
    }
    cert_a = load("a.test/server.pem");
    cert_b = load("b.test/server.pem");
    cert_c = load("c.test/server.pem");
    cert_d = load("d.test/server.pem");
    cert_e = load("e.test/server.pem");
    cert_bob = load("b.test/users/" BOB ".pem");
    return (cert_a && cert_b && cert_c && cert_d && cert_e && cert_bob ? 0 : -1);
}

/* group_teardown - remove the scratch PKIs */
static int group_teardown(void **state)
{
    (void) state;
    X509_free(cert_a);
    X509_free(cert_b);
    X509_free(cert_c);
    X509_free(cert_d);
    X509_free(cert_e);
    X509_free(cert_bob);
    cm_trust_free(trust);
    return (shell("rm -rf '%s'", dir));
}

/* test_speaks_for - names and the administrator address */
static void test_speaks_for(void **state)
{
    (void) state;
    assert_int_equal(cm_peer_speaks_for(cert_b, "b.test"), 1);
    assert_int_equal(cm_peer_speaks_for(cert_b, "B.Test"), 1);
    assert_int_equal(cm_peer_speaks_for(cert_b, "b.test."), 1);
    assert_int_equal(cm_peer_speaks_for(cert_b, "mail.b.test"), 1);
    assert_int_equal(cm_peer_speaks_for(cert_b, "a.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, "x.b.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, "ail.b.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, "evilb.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, "test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, ".b.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, "postmaster@b.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, ""), 0);
    assert_int_equal(cm_peer_speaks_for(cert_b, 0), 0);
    assert_int_equal(cm_peer_speaks_for(0, "b.test"), 0);
    /* c.test's server is mx.provider.net: the admin address and the DNS name count. */
    assert_int_equal(cm_peer_speaks_for(cert_c, "c.test"), 1);
    assert_int_equal(cm_peer_speaks_for(cert_c, "provider.net"), 1);
    assert_int_equal(cm_peer_speaks_for(cert_c, "mx.provider.net"), 1);
    assert_int_equal(cm_peer_speaks_for(cert_c, "mail.c.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_c, "b.test"), 0);
    assert_int_equal(cm_peer_speaks_for(cert_c, "net"), 0);
}

/* test_validate - Annex C.2 server certificates only, trusted, not revoked */
static void test_validate(void **state)
{
    char    err[512];

    (void) state;
    assert_int_equal(cm_peer_validate(trust, cert_a, err, sizeof(err)), 0);
    assert_int_equal(cm_peer_validate(trust, cert_b, err, sizeof(err)), 0);
    assert_int_equal(cm_peer_validate(trust, cert_c, err, sizeof(err)), 0);
    /* A user certificate speaks for its domain but is no server certificate. */
    assert_int_equal(cm_peer_speaks_for(cert_bob, "b.test"), 1);
    assert_int_equal(cm_peer_validate(trust, cert_bob, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "c2"));
    assert_int_equal(cm_peer_validate(trust, cert_d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "path"));
    assert_int_equal(cm_peer_validate(trust, cert_e, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "revo"));
    assert_int_equal(cm_peer_validate(trust, 0, err, sizeof(err)), -1);
    assert_int_equal(cm_peer_validate(0, cert_b, err, sizeof(err)), -1);
}

/* test_peer_cert_none - no TLS, no certificate */
static void test_peer_cert_none(void **state)
{
    X509   *c = (X509 *) 1;

    (void) state;
    assert_int_equal(cm_peer_cert(0, &c), -1);
    assert_null(c);
}

/*
 * The fake peer. Modes: ok, wrongcert (c.test's certificate), untrusted
 * (d.test's), revoked (e.test's), greet554, greet421, silent, chck553,
 * nocert, evlp503, hangup (closes after the 354), norp554.
 */
typedef struct {
    const char *mode;
    const char *cert;			/* PKI directory of the certificate to present */
} FAKE;

/* fake_getline - one command line, -1 on EOF, timeout or a line too long */
static int fake_getline(CM_STREAM *st, char *buf, size_t size)
{
    int     too_long;

    return (cm_stream_getline(st, buf, size, &too_long) < 0 || too_long ? -1 : 0);
}

/* fake_peer - one scripted session; exit status 0 when all was as expected */
/* The fake peer's own objects, freed by fake_exit() (leak checkers follow fork). */
static CM_STREAM *fake_st;
static SSL_CTX *fake_ctx;

/* fake_exit - end the fake peer */
static void fake_exit(int status) __attribute__((noreturn));

static void fake_exit(int status)
{
    cm_stream_close(fake_st);
    SSL_CTX_free(fake_ctx);
    _exit(status);
}

static void fake_peer(int lfd, const FAKE *f)
{
    int     fd = accept(lfd, 0, 0);
    static char line[CM_CMD_LINE_MAX + 1];	/* static: the child fake_exit()s anywhere */
    char    cert[600], key[600], err[512];
    int     tls = 0, status = 10;
    char    envelope[1024];
    size_t  elen = 0;

    alarm(120);
    if (fd < 0 || (fake_st = cm_stream_open(fd, fd, 60)) == 0)
	fake_exit(2);
    if (strcmp(f->mode, "silent") == 0) {
	(void) fake_getline(fake_st, line, CM_CMD_LINE_MAX + 1);	/* until the client gives up */
	fake_exit(0);
    }
    if (strcmp(f->mode, "greet554") == 0 || strcmp(f->mode, "greet421") == 0) {
	cm_reply(fake_st, f->mode[5] == '5' ? 554 : 421, "no service");
	fake_exit(0);
    }
    cm_reply(fake_st, 220, "fake.b.test CMTP");
    while (fake_getline(fake_st, line, CM_CMD_LINE_MAX + 1) == 0) {
	if (strcmp(line, "EHLO mail.a.test") == 0) {
	    cm_stream_printf(fake_st, "250-fake.b.test\r\n250-STARTTLS\r\n");
	    cm_reply(fake_st, 250, "DeliveryType CertifiedMail");
	} else if (strcmp(line, "STARTTLS") == 0 && !tls) {
	    snprintf(cert, sizeof(cert), "%s/%s/server.pem", dir, f->cert);
	    snprintf(key, sizeof(key), "%s/%s/server.key", dir, f->cert);
	    if ((fake_ctx = cm_tls_server_ctx(cert, key, trust_file, err, sizeof(err))) == 0)
		fake_exit(3);
	    cm_reply(fake_st, 220, "2.0.0 Ready to start TLS");
	    if (cm_stream_starttls(fake_st, fake_ctx, 1, 0, err, sizeof(err)) < 0)
		fake_exit(strcmp(f->mode, "ok") == 0 ? 4 : 0);	/* the client may refuse us */
	    tls = 1;
	} else if (strcmp(line, "CELO mail.a.test") == 0 && tls) {
	    X509   *peer = 0;

	    /* The server side of cm_peer, as cmtpd uses it. */
	    if (cm_peer_cert(cm_stream_ssl(fake_st), &peer) < 0
		|| cm_peer_validate(trust, peer, err, sizeof(err)) < 0
		|| !cm_peer_speaks_for(peer, "a.test") || cm_peer_speaks_for(peer, "b.test"))
		fake_exit(5);
	    X509_free(peer);
	    cm_reply(fake_st, 250, "OK");
	} else if (strcmp(line, "CHCK RCPT <" BOB "> CertificateRequested") == 0 && tls) {
	    if (strcmp(f->mode, "chck553") == 0) {
		cm_reply(fake_st, 553, "<%s> Invalid email address", BOB);
	    } else {
		unsigned char *der = 0;
		int     len = i2d_X509(cert_bob, &der);

		if (strcmp(f->mode, "nocert") != 0)
		    cm_reply_object(fake_st, 250, "UserCertificate:", der, (size_t) len);
		OPENSSL_free(der);
		cm_reply(fake_st, 250, "OK");
	    }
	} else if (strncmp(line, "SEND EVLP ", 10) == 0 && tls) {
	    size_t  len;
	    unsigned char *sdn = cm_base64_decode(line + 10, strlen(line + 10), &len);

	    if (sdn == 0 || len != strlen(SDN_TEXT) || memcmp(sdn, SDN_TEXT, len) != 0)
		fake_exit(6);
	    free(sdn);
	    cm_reply(fake_st, 354, "Start mail input; end with <CRLF>.<CRLF>");
	    if (strcmp(f->mode, "hangup") == 0)
		fake_exit(0);
	    elen = 0;
	    for (;;) {
		const char *p = line;
		size_t  n;

		if (fake_getline(fake_st, line, CM_LINE_MAX) < 0)
		    fake_exit(7);
		if (strcmp(line, ".") == 0)
		    break;
		if (*p == '.')
		    p++;
		n = strlen(p);
		if (elen + n + 2 >= sizeof(envelope))
		    fake_exit(8);
		memcpy(envelope + elen, p, n);
		memcpy(envelope + elen + n, "\r\n", 2);
		elen += n + 2;
	    }
	    /* What arrives is the CRLF form, plus the CRLF the last line lacked. */
	    if (elen != strlen(envelope_crlf) + 2 || memcmp(envelope, envelope_crlf, elen - 2) != 0)
		fake_exit(9);
	    if (strcmp(f->mode, "evlp503") == 0) {
		cm_reply(fake_st, 503, "Error: bad transit notice: test");
	    } else {
		cm_reply_object(fake_st, 250, "TransitNotice:", TRANSIT_TEXT, strlen(TRANSIT_TEXT));
		cm_reply(fake_st, 250, "Ok");
	    }
	} else if (strncmp(line, "SEND NORP ", 10) == 0 && tls) {
	    size_t  len;
	    unsigned char *n = cm_base64_decode(line + 10, strlen(line + 10), &len);

	    if (n == 0 || len != strlen(NORP_TEXT) || memcmp(n, NORP_TEXT, len) != 0)
		fake_exit(11);
	    free(n);
	    if (strcmp(f->mode, "norp554") == 0)
		cm_reply(fake_st, 554, "5.7.1 Receipt notice refused: test");
	    else
		cm_reply(fake_st, 250, "OK");
	} else if (strcmp(line, "QUIT") == 0) {
	    cm_reply(fake_st, 221, "2.0.0 Bye");
	    status = 0;
	    break;
	} else {
	    cm_reply(fake_st, 500, "unexpected");
	    status = 12;
	    break;
	}
    }
    /* A client that refused our certificate just goes away. */
    if (status == 10 && strcmp(f->mode, "ok") != 0 && strcmp(f->cert, "b.test") != 0)
	status = 0;
    fake_exit(status);
}

/* Client side of one test. */
typedef struct {
    pid_t   pid;
    CM_CONFIG *cf;
} RUN;

/* start - listen on 127.0.0.1, fork the fake peer, a configuration pointing at it */
static void start(RUN *run, const FAKE *f, int timeout)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    int     lfd = socket(AF_INET, SOCK_STREAM, 0);
    char    conf[4096], err[512];
    int     port = 1;

    assert_true(lfd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *) &sin, &slen), 0);
    port = ntohs(sin.sin_port);
    run->pid = -1;
    if (f == 0) {
	close(lfd);				/* nobody listens there now */
    } else {
	fflush(stdout);
	fflush(stderr);
	if ((run->pid = fork()) == 0)
	    fake_peer(lfd, f);
	assert_true(run->pid > 0);
	close(lfd);
    }
    snprintf(conf, sizeof(conf),
	     "myhostname = mail.a.test\n"
	     "trust_anchors = %s\ncrl_directory = %s\n"
	     "tls_certificate = %s/a.test/server.pem\ntls_key = %s/a.test/server.key\n"
	     "cmail_relay_map = b.test=127.0.0.1:%d\n"
	     "smtp_timeout = %d\n",
	     trust_file, crl_dir, dir, dir, port, timeout);
    run->cf = cm_config_parse(conf, strlen(conf), "test", err, sizeof(err));
    if (run->cf == 0)
	fprintf(stderr, "# config: %s\n", err);
    assert_non_null(run->cf);
}

/* finish - the fake peer's verdict */
static int finish(RUN *run)
{
    int     status = 0;

    cm_config_free(run->cf);
    if (run->pid <= 0)
	return (0);
    if (waitpid(run->pid, &status, 0) != run->pid)
	return (-1);
    return (WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status));
}

/* open_fails - cm_cmtp_open_ex against a mode that must fail */
static void open_fails(const char *mode, const char *cert, int want_fail, const char *want_text)
{
    RUN     run;
    FAKE    f = {mode, cert};
    char    err[1024];
    int     fail = -1, temporary = -1;
    CM_CMTP_CLIENT *c;

    start(&run, &f, 30);
    c = cm_cmtp_open_ex(run.cf, trust, "b.test", err, sizeof(err), &fail);
    assert_null(c);
    if (fail != want_fail || (want_text && strstr(err, want_text) == 0))
	fprintf(stderr, "# %s: fail %d: %s\n", mode, fail, err);
    assert_int_equal(fail, want_fail);
    if (want_text)
	assert_non_null(strstr(err, want_text));
    assert_int_equal(finish(&run), 0);
    /* cm_cmtp_open() says the same as temporary or not. */
    start(&run, &f, 30);
    c = cm_cmtp_open(run.cf, trust, "b.test", err, sizeof(err), &temporary);
    assert_null(c);
    assert_int_equal(temporary, want_fail == CM_CMTP_FAIL_TEMP);
    assert_int_equal(finish(&run), 0);
}

/* test_client_ok - a whole session: CHCK RCPT, SEND EVLP, SEND NORP, QUIT */
static void test_client_ok(void **state)
{
    RUN     run;
    FAKE    f = {"ok", "b.test"};
    CM_CMTP_CLIENT *c;
    char    err[1024], *transit = 0;
    size_t  len;
    int     fail, code = -1;
    X509   *cert = 0;
    FILE   *env = tmpfile();
    char   *b64;

    (void) state;
    assert_non_null(env);
    fputs(envelope_sent, env);
    rewind(env);
    start(&run, &f, 30);
    c = cm_cmtp_open_ex(run.cf, trust, "b.test", err, sizeof(err), &fail);
    if (c == 0)
	fprintf(stderr, "# open: %s\n", err);
    assert_non_null(c);
    assert_string_equal(cm_cmtp_peer_host(c), strchr(cm_config_str(run.cf, "cmail_relay_map"), '=') + 1);
    assert_int_equal(X509_cmp(cm_cmtp_peer_cert(c), cert_b), 0);
    /* CHCK RCPT: bob's certificate, validated */
    assert_int_equal(cm_cmtp_chck_rcpt(c, BOB, &cert, &code, err, sizeof(err)), 0);
    assert_int_equal(code, 250);
    assert_non_null(cert);
    assert_int_equal(X509_cmp(cert, cert_bob), 0);
    X509_free(cert);
    /* an invalid address is refused without asking */
    assert_int_equal(cm_cmtp_chck_rcpt(c, "not an address", &cert, &code, err, sizeof(err)), -1);
    assert_int_equal(code, 501);
    assert_null(cert);
    /* SEND EVLP: the ENVELOPE arrives dot-stuffed and CRLF; the transit notice comes back */
    b64 = cm_base64_encode((const unsigned char *) SDN_TEXT, strlen(SDN_TEXT), 0);
    assert_int_equal(cm_cmtp_send_evlp(c, b64, env, &transit, &len, &code, err, sizeof(err)), 0);
    free(b64);
    assert_int_equal(code, 250);
    assert_int_equal(len, strlen(TRANSIT_TEXT));
    assert_string_equal(transit, TRANSIT_TEXT);
    free(transit);
    /* not base64: refused without sending */
    assert_int_equal(cm_cmtp_send_norp(c, "not base64!", &code, err, sizeof(err)), -1);
    assert_int_equal(code, 501);
    assert_int_equal(cm_cmtp_send_norp(c, "", &code, err, sizeof(err)), -1);
    assert_int_equal(code, 501);
    /* SEND NORP */
    b64 = cm_base64_encode((const unsigned char *) NORP_TEXT, strlen(NORP_TEXT), 0);
    assert_int_equal(cm_cmtp_send_norp(c, b64, &code, err, sizeof(err)), 0);
    assert_int_equal(code, 250);
    free(b64);
    cm_cmtp_close(c);
    fclose(env);
    assert_int_equal(finish(&run), 0);
}

/* test_client_refusals - the peer's 553, 503 and 554; a 250 without certificate */
static void test_client_refusals(void **state)
{
    static const char *modes[] = {"chck553", "nocert", "evlp503", "norp554"};
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
	RUN     run;
	FAKE    f = {modes[i], "b.test"};
	CM_CMTP_CLIENT *c;
	char    err[1024], *transit = (char *) 1, *b64;
	size_t  len;
	int     fail, code = -1;
	X509   *cert = (X509 *) 1;
	FILE   *env = tmpfile();

	assert_non_null(env);
	fputs(envelope_sent, env);
	rewind(env);
	start(&run, &f, 30);
	c = cm_cmtp_open_ex(run.cf, trust, "b.test", err, sizeof(err), &fail);
	assert_non_null(c);
	if (strcmp(modes[i], "chck553") == 0 || strcmp(modes[i], "nocert") == 0) {
	    assert_int_equal(cm_cmtp_chck_rcpt(c, BOB, &cert, &code, err, sizeof(err)), -1);
	    assert_null(cert);
	    assert_int_equal(code, modes[i][0] == 'c' ? 553 : 554);
	    assert_non_null(strstr(err, modes[i][0] == 'c' ? "553 <bob@b.test> Invalid" : "no certificate"));
	} else if (strcmp(modes[i], "evlp503") == 0) {
	    b64 = cm_base64_encode((const unsigned char *) SDN_TEXT, strlen(SDN_TEXT), 0);
	    assert_int_equal(cm_cmtp_send_evlp(c, b64, env, &transit, &len, &code, err, sizeof(err)), -1);
	    free(b64);
	    assert_null(transit);
	    assert_int_equal(code, 503);
	    assert_non_null(strstr(err, "bad transit notice"));
	} else {
	    b64 = cm_base64_encode((const unsigned char *) NORP_TEXT, strlen(NORP_TEXT), 0);
	    assert_int_equal(cm_cmtp_send_norp(c, b64, &code, err, sizeof(err)), -1);
	    free(b64);
	    assert_int_equal(code, 554);
	}
	cm_cmtp_close(c);
	fclose(env);
	assert_int_equal(finish(&run), 0);
    }
}

/* test_client_hangup - the peer vanishes in the middle: code 0, session unusable */
static void test_client_hangup(void **state)
{
    RUN     run;
    FAKE    f = {"hangup", "b.test"};
    CM_CMTP_CLIENT *c;
    char    err[1024], *transit = 0, *b64;
    size_t  len;
    int     fail, code = -1;
    X509   *cert = 0;
    FILE   *env = tmpfile();

    (void) state;
    assert_non_null(env);
    fputs(envelope_sent, env);
    rewind(env);
    start(&run, &f, 30);
    c = cm_cmtp_open_ex(run.cf, trust, "b.test", err, sizeof(err), &fail);
    assert_non_null(c);
    b64 = cm_base64_encode((const unsigned char *) SDN_TEXT, strlen(SDN_TEXT), 0);
    assert_int_equal(cm_cmtp_send_evlp(c, b64, env, &transit, &len, &code, err, sizeof(err)), -1);
    free(b64);
    assert_int_equal(code, 0);
    assert_null(transit);
    code = -1;
    assert_int_equal(cm_cmtp_chck_rcpt(c, BOB, &cert, &code, err, sizeof(err)), -1);
    assert_int_equal(code, 0);
    assert_non_null(strstr(err, "unusable"));
    cm_cmtp_close(c);
    fclose(env);
    assert_int_equal(finish(&run), 0);
}

/* test_client_peer_refused - wrong domain, untrusted CA, revoked certificate */
static void test_client_peer_refused(void **state)
{
    (void) state;
    open_fails("wrongcert", "c.test", CM_CMTP_FAIL_PEER, "does not speak for b.test");
    open_fails("untrusted", "d.test", CM_CMTP_FAIL_PEER, "peer certificate refused");
    open_fails("revoked", "e.test", CM_CMTP_FAIL_PEER, "revo");
}

/* test_client_unavailable - 554 and 421 greetings, nobody listening, silence */
static void test_client_unavailable(void **state)
{
    RUN     run;
    FAKE    f = {"silent", "b.test"};
    char    err[1024];
    int     fail = -1;
    time_t  t0;

    (void) state;
    open_fails("greet554", "b.test", CM_CMTP_FAIL_PERM, "greeting 554");
    open_fails("greet421", "b.test", CM_CMTP_FAIL_TEMP, "greeting 421");
    /* nobody listens on the port */
    start(&run, 0, 30);
    assert_null(cm_cmtp_open_ex(run.cf, trust, "b.test", err, sizeof(err), &fail));
    assert_int_equal(fail, CM_CMTP_FAIL_TEMP);
    assert_non_null(strstr(err, "connect"));
    assert_int_equal(finish(&run), 0);
    /* a peer that never greets: smtp_timeout bounds the wait */
    start(&run, &f, 2);
    t0 = time(0);
    assert_null(cm_cmtp_open_ex(run.cf, trust, "b.test", err, sizeof(err), &fail));
    assert_int_equal(fail, CM_CMTP_FAIL_TEMP);
    assert_true(time(0) - t0 <= 10);
    assert_non_null(strstr(err, "no greeting"));
    assert_int_equal(finish(&run), 0);
    /* no server for an unlisted domain that is not asked in DNS: a bad domain */
    start(&run, 0, 30);
    assert_null(cm_cmtp_open_ex(run.cf, trust, "bad..domain", err, sizeof(err), &fail));
    assert_int_equal(fail, CM_CMTP_FAIL_TEMP);
    assert_non_null(strstr(err, "bad domain"));
    assert_int_equal(finish(&run), 0);
}

/* test_client_failover - the next candidate when one is down */
static void test_client_failover(void **state)
{
    RUN     run, dead;
    FAKE    f = {"ok", "b.test"};
    CM_CMTP_CLIENT *c;
    char    conf[2048], err[1024], map[600], live[100];
    int     fail = -1;

    (void) state;
    start(&dead, 0, 30);			/* a port nobody listens on */
    start(&run, &f, 30);
    snprintf(live, sizeof(live), "%s", strchr(cm_config_str(run.cf, "cmail_relay_map"), '=') + 1);
    snprintf(map, sizeof(map), "%s %s", cm_config_str(dead.cf, "cmail_relay_map"),
	     cm_config_str(run.cf, "cmail_relay_map"));
    snprintf(conf, sizeof(conf), "myhostname = mail.a.test\ntrust_anchors = %s\ncrl_directory = %s\n"
	     "tls_certificate = %s/a.test/server.pem\ntls_key = %s/a.test/server.key\n"
	     "cmail_relay_map = %s\nsmtp_timeout = 30\n", trust_file, crl_dir, dir, dir, map);
    cm_config_free(run.cf);
    run.cf = cm_config_parse(conf, strlen(conf), "test", err, sizeof(err));
    assert_non_null(run.cf);
    c = cm_cmtp_open_ex(run.cf, trust, "b.test", err, sizeof(err), &fail);
    if (c == 0)
	fprintf(stderr, "# failover: %s\n", err);
    assert_non_null(c);
    assert_string_equal(cm_cmtp_peer_host(c), live);
    cm_cmtp_close(c);
    assert_int_equal(finish(&run), 0);
    assert_int_equal(finish(&dead), 0);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_speaks_for),
	cmocka_unit_test(test_validate),
	cmocka_unit_test(test_peer_cert_none),
	cmocka_unit_test(test_client_ok),
	cmocka_unit_test(test_client_refusals),
	cmocka_unit_test(test_client_hangup),
	cmocka_unit_test(test_client_peer_refused),
	cmocka_unit_test(test_client_unavailable),
	cmocka_unit_test(test_client_failover),
    };

    return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
