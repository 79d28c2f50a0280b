/*++
 * NAME
 *	fuzz_cmtp 1
 * SUMMARY
 *	libFuzzer target: cmtpd's command handling, in-process
 * DESCRIPTION
 *	Links cmtpd's own session code (cmtpd/cmtp_session.c and
 *	cmtpd/cmtp_deposit.c, unchanged; not cmtpd.c, which holds main())
 *	and runs cmtp_session_run() as cmtpd's serve() does, on a
 *	CM_STREAM that reads the input from a memory file and writes the
 *	replies to /dev/null: no fork, no socket, no Postfix.
 *
 *	Configuration: the fixed test PKI of $CMAIL_FUZZ_PKI (trust
 *	anchors, CRL, users/ as the certificate directory, server.pem for
 *	TLS), local domain example.org, a private spool directory, and a
 *	stand-in notary: a thread of this process on a Unix socket in the
 *	spool directory that answers SIGN as cmail-notary does (the
 *	server's signature with the test PKI's server key, through
 *	cm_dsig_sign()) and every other request with a permanent error. So
 *	DATA ends with a real DepositNotice and DEPO's argument goes through
 *	base64, cm_notice_read() and the deposit checks; sealing and
 *	submission are refused. Without $CMAIL_FUZZ_PKI every MAIL is
 *	refused (no certificate) and there is no notary.
 *
 *	With $FUZZ_CMTP_TRACE set the replies and cmtpd's log go to
 *	standard error (to check what a seed reaches: fuzz_cmtp SEED).
 *
 *	The first input byte is not sent: its low bit set means the
 *	session starts with TLS already active (as after STARTTLS, so that
 *	the fuzzer reaches CELO, DELV, MAIL, RCPT and DATA without a
 *	handshake); clear, and with a TLS context, the session starts in
 *	plaintext and STARTTLS runs a real handshake over the input bytes.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <libxml/tree.h>

#include "cm_log.h"
#include "cm_xml.h"
#include "cm_dsig.h"
#include "cm_notary.h"
#include "cm_config.h"
#include "cm_pem.h"
#include "cm_tls.h"
#include "cmtpd.h"
#include "fuzz_common.h"

static CMTP_SESSION proto;
static char spool[] = "/tmp/fuzz_cmtp.XXXXXX";
static char notary_path[sizeof(spool) + 32];
static EVP_PKEY *notary_key;

/* cleanup - remove the private spool directory at exit */
static void cleanup(void)
{
    (void) unlink(notary_path);
    (void) rmdir(spool);
}

/* notary_reply - answer one request: SIGN signs, the rest is refused */
static void notary_reply(int fd, CM_NOTARY_MSG *m)
{
    CM_NOTARY_OUT o;
    const CM_NOTARY_FIELD *f;
    xmlDocPtr doc = 0;
    char   *xml = 0;
    size_t  len;
    char    err[512];

    err[0] = 0;
    if (m->type == CM_NOTARY_SIGN && (f = cm_notary_get(m, CM_NF_NOTICE, 0)) != 0
	&& (doc = cm_xml_parse((const char *) f->data, f->len, err, sizeof(err))) != 0
	&& cm_dsig_sign(doc, CM_DSIG_POSTMARK, notary_key, proto.server_cert, 0, err, sizeof(err)) > 0
	&& (xml = cm_xml_serialize(doc, &len)) != 0) {
	cm_notary_out_init(&o, CM_NOTARY_SIGN | CM_NOTARY_REPLY, m->id);
	cm_notary_out_add(&o, CM_NF_NOTICE, xml, len);
    } else {
	cm_notary_out_init(&o, CM_NOTARY_ERROR, m->id);
	cm_notary_out_str(&o, CM_NF_ERROR, err[0] ? err : "fuzz notary: request refused");
	cm_notary_out_add(&o, CM_NF_CODE, "p", 1);
    }
    (void) cm_notary_out_send(fd, &o, 5000, err, sizeof(err));
    cm_notary_out_free(&o);
    free(xml);
    if (doc)
	xmlFreeDoc(doc);
}

/* notary_thread - the stand-in notary: one connection at a time */
static void *notary_thread(void *arg)
{
    int     lfd = *(int *) arg;
    CM_NOTARY_MSG m;
    char    err[256];

    for (;;) {
	int     fd = accept4(lfd, 0, 0, SOCK_CLOEXEC);

	if (fd < 0)
	    continue;
	while (cm_notary_recv(fd, &m, 5000, 5000, err, sizeof(err)) > 0) {
	    if (cm_notary_decode(&m, err, sizeof(err)) == 0)
		notary_reply(fd, &m);
	    cm_notary_msg_free(&m);
	}
	cm_notary_msg_free(&m);
	close(fd);
    }
    return (0);
}

/* notary_start - listen on the spool directory's notary socket */
static void notary_start(const char *key_path)
{
    static int lfd;
    struct sockaddr_un sun;
    pthread_t tid;
    char    err[512];

    if ((notary_key = cm_pem_read_key(key_path, err, sizeof(err))) == 0) {
	fprintf(stderr, "fuzz_cmtp: %s\n", err);
	abort();
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", notary_path);
    if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	|| bind(lfd, (struct sockaddr *) &sun, sizeof(sun)) < 0 || listen(lfd, 8) < 0
	|| pthread_create(&tid, 0, notary_thread, &lfd) != 0)
	abort();
    pthread_detach(tid);
}

/* LLVMFuzzerInitialize - configuration, trust, TLS context */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char    conf[16384], err[512];
    int     n;
    const char *dir = getenv("CMAIL_FUZZ_PKI");

    fuzz_init("fuzz_cmtp");
    if (getenv("FUZZ_CMTP_TRACE"))
	cm_log_init("fuzz_cmtp", CM_LOG_STDERR);
    if (mkdtemp(spool) == 0)
	abort();
    snprintf(notary_path, sizeof(notary_path), "%s/notary.sock", spool);
    atexit(cleanup);
    if (dir == 0 || *dir == 0)
	dir = "/nonexistent";
    n = snprintf(conf, sizeof(conf),
		 "myhostname = mail.example.org\n"
		 "local_domains = example.org\n"
		 "trust_anchors = %s/ca.pem\n"
		 "crl_directory = %s/crl.pem\n"
		 "certificate_directory = %s/users\n"
		 "server_certificate = %s/server.pem\n"
		 "spool_directory = %s\n"
		 "notary_socket = %s\n"
		 "message_size_limit = 65536\n"
		 "recipient_limit = 4\n"
		 "smtp_timeout = 1\n",
		 dir, dir, dir, dir, spool, notary_path);
    if (n < 0 || (size_t) n >= sizeof(conf))
	abort();
    if ((proto.cf = cm_config_parse(conf, (size_t) n, "fuzz", err, sizeof(err))) == 0) {
	fprintf(stderr, "fuzz_cmtp: config: %s\n", err);
	abort();
    }
    proto.hostname = "mail.example.org";
    proto.client_addr = "fuzz";
    proto.trust = fuzz_trust();
    if (fuzz_pki("server.pem")) {
	char    cert[4096], key[4096];

	snprintf(cert, sizeof(cert), "%s", fuzz_pki("server.pem"));
	snprintf(key, sizeof(key), "%s", fuzz_pki("server.key"));
	if ((proto.server_cert = cm_pem_read_cert(cert, err, sizeof(err))) == 0
	    || (proto.tls = cm_tls_server_ctx(cert, key, 0, err, sizeof(err))) == 0) {
	    fprintf(stderr, "fuzz_cmtp: %s\n", err);
	    abort();
	}
	notary_start(key);
    }
    return (0);
}

/* LLVMFuzzerTestOneInput - one client session */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    CMTP_SESSION s = proto;
    int     fd;

    if (size < 1)
	return (0);
    s.tls_active = (data[0] & 1) || s.tls == 0;
    fd = fuzz_memfd(data + 1, size - 1);
    if ((s.st = cm_stream_open(fd, getenv("FUZZ_CMTP_TRACE") ? 2 : fuzz_devnull(), 1)) == 0)
	abort();
    cmtp_session_run(&s);
    cm_stream_close(s.st);
    close(fd);
    return (0);
}
