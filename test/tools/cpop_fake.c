/*++
 * NAME
 *	cpop_fake 1
 * SUMMARY
 *	test tool: a scripted CPOP server for one session of cmail fetch
 * SYNOPSIS
 *	cpop_fake --cert FILE --key FILE --ca FILE --crl FILE
 *		--port-file FILE --user NAME --pass PASSWORD
 *		--rcpt ADDR --rcpt-cert FILE --message FILE
 *		[--ordinary FILE]... [--implicit-tls] [--no-capa]
 *		[--sign-cert FILE --sign-key FILE] [--mode MODE]
 *		[--envid ID] [--save-signed FILE] [--log FILE] [--state DIR]
 * DESCRIPTION
 *	Listens on 127.0.0.1 on a free port (written to --port-file once
 *	listening), serves ONE connection and exits: 0 after QUIT, 1 on
 *	any other end. TLS with --cert/--key: STLS, or at once with
 *	--implicit-tls.
 *
 *	Message 1 is certified: at start-up the tool does what cmail send
 *	and the server do, with the library: it encrypts --message into an
 *	ENVELOPE under a fresh key, builds the SignedDepositNotice model
 *	with one Entity for --rcpt (key wrapped to --rcpt-cert, challenge
 *	number, expected answer), derives the ReceiptNotice with
 *	cm_notice_receipt_model() and signs it as the server
 *	(--sign-cert/--sign-key, default --cert/--key). Messages 2.. are
 *	the --ordinary files, served as plain POP3 (CRLF, dot-stuffed).
 *
 *	RETR 1 gives the base64 receipt notice. CHLG RESP is checked like
 *	the real plugin: a SignedReceiptNotice that cm_dsig_verify()
 *	accepts against --ca/--crl, with the expected answer
 *	(cm_challenge_answer_equal()); then "+OK" and the ENVELOPE, else
 *	"-ERR 503 Error: unable to send ENVELOPE". --save-signed keeps
 *	the accepted SignedReceiptNotice.
 *
 *	--mode: ok (default); tamper (one ciphertext character of the
 *	ENVELOPE changed); swap (a different, valid ENVELOPE under the same
 *	key: the hashes do not match); err503 (CHLG RESP always refused);
 *	answered (RETR 1 gives the ENVELOPE at once, as a server does once
 *	the challenge was answered); hangup (the connection is closed in
 *	the middle of the ENVELOPE after an accepted CHLG RESP); silent
 *	(no greeting: the client must time out); garbage (RETR 1 gives
 *	text that is neither); badlist (a malformed LIST line).
 *	CAPA lists "CMAIL CertifiedMail" only after the login, as with
 *	Dovecot, whose plugin lives in the post-login process.
 *	--no-capa: CAPA without "CMAIL CertifiedMail" (LIST still marks
 *	message 1). --state DIR keeps the message key and the ENVELOPE of
 *	the first run in DIR and serves the same ones in later runs (a
 *	mailbox seen again). --log appends each command line received (PASS and CHLG RESP
 *	without their arguments).
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <openssl/crypto.h>

#include "cm_log.h"
#include "cm_base64.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cm_tls.h"
#include "cm_stream.h"
#include "cm_headers.h"
#include "cm_xml.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"
#include "cm_keywrap.h"
#include "cm_challenge.h"
#include "cm_limits.h"

#define FAKE_ORD_MAX	8

static const char *opt_cert, *opt_key, *opt_ca, *opt_crl, *opt_port_file, *opt_user, *opt_pass;
static const char *opt_rcpt, *opt_rcpt_cert, *opt_message, *opt_sign_cert, *opt_sign_key;
static const char *opt_mode = "ok", *opt_envid = "cpopfake.0001", *opt_save, *opt_log, *opt_state;
static const char *opt_ord[FAKE_ORD_MAX];
static int opt_nord, opt_implicit, opt_no_capa;

static FILE *envelope;			/* the ENVELOPE served */
static FILE *swapped;			/* --mode swap: another one */
static char *notice_b64;		/* base64 ReceiptNotice, 76-char lines */
static char *expected;			/* the expected answer */

/* usage - complain and exit */
static void usage(void)
{
    msg_fatal("usage: cpop_fake --cert F --key F --ca F --crl F --port-file F --user U --pass P"
	      " --rcpt ADDR --rcpt-cert F --message F [--ordinary F]... [--implicit-tls] [--no-capa]"
	      " [--sign-cert F --sign-key F] [--mode ok|tamper|swap|err503|answered|hangup|silent|garbage|badlist] [--envid ID]"
	      " [--save-signed F] [--log F] [--state DIR]");
}

/* make_envelope - encrypt a message under rsck into a temporary file */
static FILE *make_envelope(FILE *in, const unsigned char *rsck, CM_ENVELOPE_MIME_DIGESTS *d)
{
    CM_HEADERS h;
    CM_ENVELOPE_HEADERS eh;
    FILE   *out;
    char    err[512];

    if (cm_headers_read(in, &h, err, sizeof(err)) < 0)
	msg_fatal("message: %s", err);
    memset(&eh, 0, sizeof(eh));
    eh.from = cm_headers_get(&h, "From") ? cm_headers_get(&h, "From") : "alice@example.org";
    eh.to = cm_headers_get(&h, "To") ? cm_headers_get(&h, "To") : opt_rcpt;
    eh.cc = cm_headers_get(&h, "Cc");
    eh.date = cm_headers_get(&h, "Date") ? cm_headers_get(&h, "Date") : "Thu, 1 Jan 2026 00:00:00 +0000";
    eh.message_id = cm_headers_get(&h, "Message-ID") ? cm_headers_get(&h, "Message-ID") : "<fake@cmail>";
    eh.subject = cm_headers_get(&h, "Subject");
    rewind(in);
    if ((out = tmpfile()) == 0 || cm_envelope_mime_write(out, &eh, in, rsck, d, err, sizeof(err)) < 0)
	msg_fatal("ENVELOPE: %s", out ? err : "tmpfile");
    cm_headers_free(&h);
    rewind(out);
    return (out);
}

/* state_path - a file of --state */
static void state_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", opt_state, name);
}

/* load_state - key, digests and ENVELOPE of an earlier run; 0 if none */
static int load_state(unsigned char *rsck, CM_ENVELOPE_MIME_DIGESTS *d)
{
    char    path[1024];
    FILE   *fp;
    int     ok;

    state_path(path, sizeof(path), "key");
    if ((fp = fopen(path, "rb")) == 0)
	return (0);
    ok = fread(rsck, 1, CM_ENVELOPE_KEY_LEN, fp) == CM_ENVELOPE_KEY_LEN && fread(d, sizeof(*d), 1, fp) == 1;
    fclose(fp);
    state_path(path, sizeof(path), "envelope");
    if (!ok || (envelope = fopen(path, "rb")) == 0)
	msg_fatal("bad --state %s", opt_state);
    return (1);
}

/* save_state - keep key, digests and ENVELOPE for a later run */
static void save_state(const unsigned char *rsck, const CM_ENVELOPE_MIME_DIGESTS *d)
{
    char    path[1024], buf[4096];
    FILE   *fp;
    size_t  n;

    state_path(path, sizeof(path), "envelope");
    if ((fp = fopen(path, "wb")) == 0)
	msg_fatal("open %s: %m", path);
    rewind(envelope);
    while ((n = fread(buf, 1, sizeof(buf), envelope)) > 0)
	fwrite(buf, 1, n, fp);
    rewind(envelope);
    if (fclose(fp) != 0)
	msg_fatal("write %s: %m", path);
    state_path(path, sizeof(path), "key");
    if ((fp = fopen(path, "wb")) == 0)
	msg_fatal("open %s: %m", path);
    fwrite(rsck, 1, CM_ENVELOPE_KEY_LEN, fp);
    fwrite(d, sizeof(*d), 1, fp);
    if (fclose(fp) != 0)
	msg_fatal("write %s: %m", path);
}

/* prepare - the ENVELOPE, the deposit model, the signed ReceiptNotice */
static void prepare(void)
{
    unsigned char rsck[CM_ENVELOPE_KEY_LEN];
    CM_ENVELOPE_MIME_DIGESTS d, d2;
    CM_NOTICE *dep, *rn;
    CM_NOTICE_ENTITY *e;
    X509   *rcert, *scert;
    EVP_PKEY *skey;
    xmlDocPtr doc;
    char    err[1024];
    char   *number, *wrapped, *certb64, *xml;
    size_t  xml_len;
    FILE   *in;

    if (opt_state == 0 || !load_state(rsck, &d)) {
	if ((in = fopen(opt_message, "r")) == 0)
	    msg_fatal("open %s: %m", opt_message);
	if (cm_envelope_key_new(rsck) < 0)
	    msg_fatal("no randomness");
	envelope = make_envelope(in, rsck, &d);
	fclose(in);
	if (opt_state)
	    save_state(rsck, &d);
    }
    if (strcmp(opt_mode, "swap") == 0) {
	static char other[] = "From: mallory@example.org\r\nTo: bob@example.org\r\n"
	    "Subject: not what was deposited\r\n\r\nswapped body\r\n";

	if ((in = fmemopen(other, strlen(other), "r")) == 0)
	    msg_fatal("fmemopen: %m");
	swapped = make_envelope(in, rsck, &d2);
	fclose(in);
    }
    if ((rcert = cm_pem_read_cert(opt_rcpt_cert, err, sizeof(err))) == 0
	|| (scert = cm_pem_read_cert(opt_sign_cert, err, sizeof(err))) == 0
	|| (skey = cm_pem_read_key(opt_sign_key, err, sizeof(err))) == 0)
	msg_fatal("%s", err);
    if ((dep = cm_notice_new(CM_NOTICE_SIGNED_DEPOSIT)) == 0
	|| cm_notice_set_str(&dep->envelope_id, opt_envid) < 0
	|| cm_notice_add_mime_hash(dep, CM_HASH_SHA256, d.mime_b64) < 0
	|| cm_notice_set_str(&dep->content.message_id, "<fake@cmail>") < 0
	|| cm_notice_set_str(&dep->content.unciphered.value, d.envelope.plain_b64) < 0
	|| cm_notice_set_str(&dep->content.ciphered.value, d.envelope.cipher_b64) < 0
	|| (e = cm_notice_add_entity(dep)) == 0)
	msg_fatal("out of memory");
    number = cm_challenge_number_new();
    expected = number ? cm_challenge_answer(CM_HASH_SHA256, number, rsck) : 0;
    wrapped = cm_keywrap_wrap_cert(rcert, rsck, err, sizeof(err));
    certb64 = cm_cert_to_b64(rcert, 0);
    if (!number || !expected || !wrapped || !certb64)
	msg_fatal("entity: %s", err);
    e->type = CM_ENTITY_TO;
    e->key_size = 256;
    if (cm_notice_set_str(&e->address, opt_rcpt) < 0
	|| cm_notice_set_str(&e->question.random_number, number) < 0
	|| cm_notice_set_str(&e->question.response_alg, CM_HASH_OID_SHA256) < 0
	|| cm_notice_set_str(&e->question.response, expected) < 0
	|| cm_notice_set_str(&e->key_algorithm, CM_ENVELOPE_ALG_GCM_NAME) < 0
	|| cm_notice_set_str(&e->key_wrap, CM_KEYWRAP_OAEP) < 0
	|| cm_notice_set_str(&e->key_encoding, "base64") < 0
	|| cm_notice_set_str(&e->wrapped_key, wrapped) < 0
	|| cm_notice_set_str(&e->cert_encoding, "base64") < 0
	|| cm_notice_set_str(&e->certificate, certb64) < 0)
	msg_fatal("out of memory");
    if ((rn = cm_notice_receipt_model(dep, opt_rcpt, err, sizeof(err))) == 0
	|| (doc = cm_notice_build(rn, err, sizeof(err))) == 0
	|| cm_dsig_sign(doc, CM_DSIG_POSTMARK, skey, scert, 0, err, sizeof(err)) < 0)
	msg_fatal("receipt notice: %s", err);
    if ((xml = cm_xml_serialize(doc, &xml_len)) == 0
	|| (notice_b64 = cm_base64_encode((unsigned char *) xml, xml_len, 76)) == 0)
	msg_fatal("out of memory");
    OPENSSL_cleanse(rsck, sizeof(rsck));
    free(xml);
    xmlFreeDoc(doc);
    cm_notice_free(rn);
    cm_notice_free(dep);
    free(number);
    free(wrapped);
    free(certb64);
    X509_free(rcert);
    X509_free(scert);
    EVP_PKEY_free(skey);
}

/* logcmd - append a command verb to --log */
static void logcmd(const char *what)
{
    FILE   *fp;

    if (opt_log && (fp = fopen(opt_log, "a")) != 0) {
	fprintf(fp, "%s\n", what);
	fclose(fp);
    }
}

/* file_size - bytes of a file as served (CRLF line ends) */
static long file_size(FILE *fp, int crlf)
{
    long    n = 0;
    int     c;

    rewind(fp);
    while ((c = getc(fp)) != EOF)
	n += (crlf && c == '\n') ? 2 : 1;
    rewind(fp);
    return (n);
}

/* serve_file - dot-stuffed lines with CRLF, then "."; tamper one char */
static void serve_file(CM_STREAM *st, FILE *fp, int tamper)
{
    char    line[CM_LINE_MAX * 4];
    int     in_b64 = 0, done_tamper = 0;
    size_t  n;

    rewind(fp);
    while (fgets(line, sizeof(line), fp)) {
	n = strcspn(line, "\r\n");
	line[n] = 0;
	if (tamper && !done_tamper && in_b64 == 1 && n > 10 && line[0] != '-') {
	    line[5] = line[5] == 'A' ? 'B' : 'A';
	    done_tamper = 1;
	}
	if (strncasecmp(line, "Content-Transfer-Encoding: base64", 33) == 0)
	    in_b64 = -1;
	else if (in_b64 == -1 && n == 0)
	    in_b64 = 1;
	cm_stream_printf(st, "%s%s\r\n", line[0] == '.' ? "." : "", line);
    }
    cm_stream_printf(st, ".\r\n");
}

/* chlg_resp - check a SignedReceiptNotice like the plugin does */
static int chlg_resp(const char *arg)
{
    unsigned char *xml;
    size_t  len;
    xmlDocPtr doc = 0;
    CM_NOTICE *n = 0;
    CM_TRUST *trust;
    CM_DSIG_REPORT rep;
    char    err[1024];
    int     ok = 0;

    if ((xml = cm_base64_decode(arg, strlen(arg), &len)) == 0) {
	msg_warn("CHLG RESP: bad base64");
	return (0);
    }
    if ((trust = cm_trust_load(opt_ca, opt_crl, err, sizeof(err))) == 0)
	msg_fatal("%s", err);
    if ((n = cm_notice_read((char *) xml, len, &doc, err, sizeof(err))) == 0)
	msg_warn("CHLG RESP: %s", err);
    else if (n->type != CM_NOTICE_SIGNED_RECEIPT)
	msg_warn("CHLG RESP: not a SignedReceiptNotice");
    else if (cm_dsig_verify(doc, trust, &rep) < 0 || rep.n != 2)
	msg_warn("CHLG RESP: signatures: %s (%d)", rep.reason, rep.n);
    else if (!cm_challenge_answer_equal(expected, n->challenge.response))
	msg_warn("CHLG RESP: wrong answer");
    else
	ok = 1;
    if (ok && opt_save && cm_write_file_atomic(opt_save, xml, len, 0644) < 0)
	msg_fatal("write %s: %m", opt_save);
    cm_trust_free(trust);
    cm_notice_free(n);
    if (doc)
	xmlFreeDoc(doc);
    free(xml);
    return (ok);
}

/* session - one POP3 session */
static int session(CM_STREAM *st, SSL_CTX *ctx)
{
    char   *line = malloc(CM_CMD_LINE_MAX + 64);
    char    user[256] = "", err[512];
    char   *p, *nl;
    int     too_long, authed = 0, i, num;
    int     nmsg = 1 + opt_nord;

    if (line == 0)
	msg_fatal("out of memory");
    if (opt_implicit && cm_stream_starttls(st, ctx, 1, 0, err, sizeof(err)) < 0)
	msg_fatal("TLS: %s", err);
    if (strcmp(opt_mode, "silent") == 0) {
	sleep(30);
	free(line);
	return (1);
    }
    cm_stream_printf(st, "+OK cpop_fake ready\r\n");
    for (;;) {
	if (cm_stream_flush(st) < 0 || cm_stream_getline(st, line, CM_CMD_LINE_MAX + 64, &too_long) < 0) {
	    free(line);
	    return (1);
	}
	if (strncasecmp(line, "CHLG RESP ", 10) == 0) {
	    logcmd("CHLG RESP");
	} else if (strncasecmp(line, "PASS ", 5) == 0) {
	    logcmd("PASS");
	} else {
	    logcmd(line);
	}
	if (strcasecmp(line, "STLS") == 0) {
	    cm_stream_printf(st, "+OK Begin TLS negotiation\r\n");
	    if (cm_stream_flush(st) < 0 || cm_stream_starttls(st, ctx, 1, 0, err, sizeof(err)) < 0)
		msg_fatal("TLS: %s", err);
	} else if (strcasecmp(line, "CAPA") == 0) {
	    cm_stream_printf(st, "+OK Capability list follows\r\nUSER\r\nUIDL\r\n%s.\r\n",
			     opt_no_capa || !authed ? "" : "CMAIL CertifiedMail\r\n");
	} else if (strncasecmp(line, "USER ", 5) == 0) {
	    snprintf(user, sizeof(user), "%s", line + 5);
	    cm_stream_printf(st, "+OK\r\n");
	} else if (strncasecmp(line, "PASS ", 5) == 0) {
	    authed = strcmp(user, opt_user) == 0 && strcmp(line + 5, opt_pass) == 0;
	    cm_stream_printf(st, authed ? "+OK Logged in.\r\n" : "-ERR [AUTH] Authentication failed.\r\n");
	} else if (strcasecmp(line, "QUIT") == 0) {
	    cm_stream_printf(st, "+OK Logging out.\r\n");
	    cm_stream_flush(st);
	    free(line);
	    return (0);
	} else if (!authed) {
	    cm_stream_printf(st, "-ERR Unknown command or not logged in.\r\n");
	} else if (strcasecmp(line, "LIST") == 0) {
	    cm_stream_printf(st, "+OK %d messages\r\n", nmsg);
	    if (strcmp(opt_mode, "badlist") == 0)
		cm_stream_printf(st, "1 12x CertifiedMail\r\n");
	    else
		cm_stream_printf(st, "1 %ld CertifiedMail\r\n", file_size(envelope, 0));
	    for (i = 0; i < opt_nord; i++) {
		FILE   *fp = fopen(opt_ord[i], "r");

		if (fp == 0)
		    msg_fatal("open %s: %m", opt_ord[i]);
		cm_stream_printf(st, "%d %ld\r\n", i + 2, file_size(fp, 1));
		fclose(fp);
	    }
	    cm_stream_printf(st, ".\r\n");
	} else if (strncasecmp(line, "RETR ", 5) == 0) {
	    num = atoi(line + 5);
	    if (num == 1 && strcmp(opt_mode, "garbage") == 0) {
		cm_stream_printf(st, "+OK 42 octets\r\nthis is not a notice\r\n..nor an ENVELOPE\r\n.\r\n");
	    } else if (num == 1 && strcmp(opt_mode, "answered") == 0) {
		cm_stream_printf(st, "+OK %ld octets\r\n", file_size(envelope, 0));
		serve_file(st, envelope, 0);
	    } else if (num == 1) {
		cm_stream_printf(st, "+OK %zu octets\r\n", strlen(notice_b64));
		for (p = notice_b64; *p; p = nl + 1) {
		    nl = strchr(p, '\n');
		    cm_stream_write(st, p, (size_t) (nl - p));
		    cm_stream_write(st, "\r\n", 2);
		}
		cm_stream_printf(st, ".\r\n");
	    } else if (num >= 2 && num < 2 + opt_nord) {
		FILE   *fp = fopen(opt_ord[num - 2], "r");

		if (fp == 0)
		    msg_fatal("open %s: %m", opt_ord[num - 2]);
		cm_stream_printf(st, "+OK %ld octets\r\n", file_size(fp, 1));
		serve_file(st, fp, 0);
		fclose(fp);
	    } else {
		cm_stream_printf(st, "-ERR There's no message %d.\r\n", num);
	    }
	} else if (strncasecmp(line, "DELE ", 5) == 0) {
	    num = atoi(line + 5);
	    cm_stream_printf(st, num >= 1 && num < 2 + opt_nord ? "+OK Marked to be deleted.\r\n"
			     : "-ERR There's no message %d.\r\n", num);
	} else if (strncasecmp(line, "CHLG RESP ", 10) == 0) {
	    if (too_long || strcmp(opt_mode, "err503") == 0 || !chlg_resp(line + 10)) {
		cm_stream_printf(st, "-ERR 503 Error: unable to send ENVELOPE\r\n");
	    } else if (strcmp(opt_mode, "hangup") == 0) {
		cm_stream_printf(st, "+OK\r\nFrom: alice@example.org\r\n");
		cm_stream_flush(st);
		free(line);
		return (1);
	    } else {
		cm_stream_printf(st, "+OK\r\n");
		serve_file(st, swapped ? swapped : envelope, strcmp(opt_mode, "tamper") == 0);
	    }
	} else {
	    cm_stream_printf(st, "-ERR Unknown command.\r\n");
	}
    }
}

/* main - prepare, listen, serve one session */
int     main(int argc, char **argv)
{
    static const struct option longopts[] = {
	{"cert", required_argument, 0, 'c'}, {"key", required_argument, 0, 'k'},
	{"ca", required_argument, 0, 'a'}, {"crl", required_argument, 0, 'r'},
	{"port-file", required_argument, 0, 'p'}, {"user", required_argument, 0, 'u'},
	{"pass", required_argument, 0, 'P'}, {"rcpt", required_argument, 0, 'R'},
	{"rcpt-cert", required_argument, 0, 'C'}, {"message", required_argument, 0, 'm'},
	{"ordinary", required_argument, 0, 'o'}, {"implicit-tls", no_argument, 0, 'I'},
	{"no-capa", no_argument, 0, 'n'}, {"sign-cert", required_argument, 0, 's'},
	{"sign-key", required_argument, 0, 'S'}, {"mode", required_argument, 0, 'M'},
	{"envid", required_argument, 0, 'e'}, {"save-signed", required_argument, 0, 'w'},
	{"log", required_argument, 0, 'l'}, {"state", required_argument, 0, 'x'}, {0, 0, 0, 0},
    };
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    SSL_CTX *ctx;
    CM_STREAM *st;
    char    err[512], tmp[1024];
    FILE   *fp;
    int     ch, lfd, fd, ret;

    cm_log_init("cpop_fake", CM_LOG_STDERR);
    while ((ch = getopt_long(argc, argv, "", longopts, 0)) != -1) {
	switch (ch) {
	case 'c': opt_cert = optarg; break;
	case 'k': opt_key = optarg; break;
	case 'a': opt_ca = optarg; break;
	case 'r': opt_crl = optarg; break;
	case 'p': opt_port_file = optarg; break;
	case 'u': opt_user = optarg; break;
	case 'P': opt_pass = optarg; break;
	case 'R': opt_rcpt = optarg; break;
	case 'C': opt_rcpt_cert = optarg; break;
	case 'm': opt_message = optarg; break;
	case 'o':
	    if (opt_nord >= FAKE_ORD_MAX)
		usage();
	    opt_ord[opt_nord++] = optarg;
	    break;
	case 'I': opt_implicit = 1; break;
	case 'n': opt_no_capa = 1; break;
	case 's': opt_sign_cert = optarg; break;
	case 'S': opt_sign_key = optarg; break;
	case 'M': opt_mode = optarg; break;
	case 'e': opt_envid = optarg; break;
	case 'w': opt_save = optarg; break;
	case 'l': opt_log = optarg; break;
	case 'x': opt_state = optarg; break;
	default: usage();
	}
    }
    if (!opt_cert || !opt_key || !opt_ca || !opt_crl || !opt_port_file || !opt_user || !opt_pass
	|| !opt_rcpt || !opt_rcpt_cert || !opt_message)
	usage();
    if (!opt_sign_cert)
	opt_sign_cert = opt_cert;
    if (!opt_sign_key)
	opt_sign_key = opt_key;
    signal(SIGPIPE, SIG_IGN);
    if (cm_xml_init() < 0)
	msg_fatal("cannot initialise libxml2/xmlsec1");
    prepare();
    if ((ctx = cm_tls_server_ctx(opt_cert, opt_key, 0, err, sizeof(err))) == 0)
	msg_fatal("TLS: %s", err);
    if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
	msg_fatal("socket: %m");
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) < 0 || listen(lfd, 1) < 0
	|| getsockname(lfd, (struct sockaddr *) &sin, &slen) < 0)
	msg_fatal("bind: %m");
    snprintf(tmp, sizeof(tmp), "%s.tmp", opt_port_file);
    if ((fp = fopen(tmp, "w")) == 0)
	msg_fatal("open %s: %m", tmp);
    fprintf(fp, "%d\n", ntohs(sin.sin_port));
    if (fclose(fp) != 0 || rename(tmp, opt_port_file) < 0)
	msg_fatal("write %s: %m", opt_port_file);
    alarm(60);
    if ((fd = accept(lfd, 0, 0)) < 0)
	msg_fatal("accept: %m");
    close(lfd);
    st = cm_stream_open(fd, fd, 30);
    ret = session(st, ctx);
    cm_stream_close(st);
    close(fd);
    SSL_CTX_free(ctx);
    fclose(envelope);
    if (swapped)
	fclose(swapped);
    free(notice_b64);
    if (expected)
	OPENSSL_cleanse(expected, strlen(expected));
    free(expected);
    return (ret);
}
