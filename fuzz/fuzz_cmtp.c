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
 *	notary socket that does not exist (DATA reads and hashes the whole
 *	ENVELOPE, then fails "cannot issue the deposit notice"; DEPO is
 *	refused for want of DATA). Without $CMAIL_FUZZ_PKI every MAIL is
 *	refused (no certificate).
 *
 *	With $FUZZ_CMTP_TRACE set the replies go to standard error (to
 *	check what a seed reaches: fuzz_cmtp SEED).
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

#include "cm_log.h"
#include "cm_config.h"
#include "cm_pem.h"
#include "cm_tls.h"
#include "cmtpd.h"
#include "fuzz_common.h"

static CMTP_SESSION proto;
static char spool[] = "/tmp/fuzz_cmtp.XXXXXX";

/* cleanup - remove the private spool directory at exit */
static void cleanup(void)
{
    (void) rmdir(spool);
}

/* LLVMFuzzerInitialize - configuration, trust, TLS context */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char    conf[16384], err[512];
    int     n;
    const char *dir = getenv("CMAIL_FUZZ_PKI");

    fuzz_init("fuzz_cmtp");
    if (mkdtemp(spool) == 0)
	abort();
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
		 "notary_socket = %s/no-notary.sock\n"
		 "message_size_limit = 65536\n"
		 "recipient_limit = 4\n"
		 "smtp_timeout = 1\n",
		 dir, dir, dir, dir, spool, spool);
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
