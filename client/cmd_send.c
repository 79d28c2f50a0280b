/*++
 * NAME
 *	cmd_send 1
 * SUMMARY
 *	cmail send: deposit a certified message with a Cmail server (CMTP)
 * SYNOPSIS
 *	cmail send --server HOST:PORT --from ADDR --cert FILE --key FILE
 *		--ca FILE [--crl FILE|DIR] [--to ADDR]... [--cc ADDR]...
 *		[--out DIR] [--server-name NAME] [--implicit-tls]
 *		[--timeout SECONDS] [--tls-ca FILE] [--tls-session FILE]
 *		[--repeat N] MESSAGE.eml
 * DESCRIPTION
 *	PROFILE.md sections 2-4, steps m1-m15: STARTTLS (or implicit TLS)
 *	with the server verified against --ca, CELO, DELV CertifiedMail,
 *	MAIL FROM and one RCPT TO per recipient with CertificateRequested;
 *	each recipient certificate is validated (RFC 3850, keyEncipherment,
 *	address) before use. The message (a complete RFC 5322 message) is
 *	encrypted under a fresh AES-256-GCM key into the ENVELOPE, whose key
 *	is wrapped with RSA-OAEP to each recipient; DATA sends it. The
 *	server's DepositNotice is verified (signature, certificate, hash of
 *	what we sent); we add EnvelopeInformation with one Entity per
 *	recipient (challenge number and answer, wrapped key, certificate),
 *	sign as the sender and send DEPO. --out DIR receives
 *	ENVID.deposit.xml and ENVID.signed-deposit.xml.
 *
 *	--repeat N deposits the message N times over one CMTP session, each
 *	a complete deposit with its own key (benchmarks, load tests). A
 *	recipient certificate the server hands out again, byte for byte,
 *	is not parsed and validated again within one run.
 *
 *	--tls-session FILE resumes the TLS session saved in FILE (when the
 *	server still honours its ticket: no RSA signature, no certificate
 *	chain in the handshake) and saves the session the server grants
 *	there, mode 0600; a missing or stale file means a full handshake.
 *
 *	Without --to/--cc the recipients are the addresses of the message's
 *	To and Cc header fields.
 * EXIT STATUS
 *	0 deposited; 1 refused or not verifiable (the server said 5xx, a
 *	certificate or the deposit notice did not verify); 2 usage error;
 *	75 temporary failure (connection, timeout, 4xx): try again later.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "cm_log.h"
#include "cm_addr.h"
#include "cm_base64.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cm_certcache.h"
#include "cm_tls.h"
#include "cm_connect.h"
#include "cm_stream.h"
#include "cm_reply.h"
#include "cm_headers.h"
#include "cm_xml.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"
#include "cm_keywrap.h"
#include "cm_challenge.h"
#include "cmail.h"

#define SEND_EX_TEMP	75
#define SEND_RCPT_MAX	CM_ENTITIES_MAX

typedef struct {
    char    addr[CM_ADDRESS_MAX + 1];
    CM_ENTITY_TYPE type;
    X509   *cert;			/* validated */
    unsigned char *der;			/* as the server sent it */
    size_t  der_len;
} SEND_RCPT;

typedef struct {
    const char *server, *server_name, *from, *cert_file, *key_file, *ca, *crl, *out, *tls_ca;
    const char *tls_session;
    int     implicit_tls, timeout, repeat;
    SEND_RCPT rcpt[SEND_RCPT_MAX];
    int     nrcpt;
    X509   *cert;
    unsigned char *cert_der;		/* --cert, DER */
    int     cert_der_len;
    EVP_PKEY *key;
    CM_TRUST *trust;
    CM_STREAM *st;
    int     fd;
    char    err[1024];
} SEND;

/* send_usage - the synopsis */
static int send_usage(FILE *fp, int status)
{
    fprintf(fp, "usage: cmail send --server HOST:PORT --from ADDR --cert FILE --key FILE --ca FILE\n"
	    "                  [--crl FILE|DIR] [--to ADDR]... [--cc ADDR]... [--out DIR]\n"
	    "                  [--server-name NAME] [--implicit-tls] [--timeout SECONDS]\n"
	    "                  [--tls-ca FILE] [--tls-session FILE] [--repeat N] MESSAGE.eml\n\n"
	    "Deposit MESSAGE.eml as certified mail (ITU-T X.1341 CMTP). The message is\n"
	    "encrypted for each recipient; the server's deposit notice is verified and\n"
	    "countersigned. --out DIR keeps the deposit notices. --repeat N deposits\n"
	    "the message N times over one session (each with its own key and notices).\n"
	    "The server's TLS certificate is verified against --tls-ca (default: --ca,\n"
	    "which verifies the notices and the recipients' certificates). --tls-session\n"
	    "FILE resumes the TLS session saved there and saves the new one (0600).\n"
	    "Exit: 0 deposited, 1 refused/invalid, 2 usage, 75 temporary failure.\n");
    return (status);
}

/* add_rcpt - one recipient, deduplicated */
static int add_rcpt(SEND *s, const char *addr, CM_ENTITY_TYPE type)
{
    int     i;

    if (!cm_addr_valid(addr)) {
	snprintf(s->err, sizeof(s->err), "invalid recipient address '%s'", addr);
	return (-1);
    }
    for (i = 0; i < s->nrcpt; i++)
	if (cm_addr_equal(s->rcpt[i].addr, addr))
	    return (0);
    if (s->nrcpt >= SEND_RCPT_MAX) {
	snprintf(s->err, sizeof(s->err), "too many recipients");
	return (-1);
    }
    snprintf(s->rcpt[s->nrcpt].addr, sizeof(s->rcpt[0].addr), "%s", addr);
    s->rcpt[s->nrcpt].type = type;
    s->nrcpt++;
    return (0);
}

/* rcpts_from_header - addresses of a To/Cc field: <a@b> or bare a@b */
static int rcpts_from_header(SEND *s, const char *value, CM_ENTITY_TYPE type)
{
    char    buf[CM_HEADER_MAX + 1];
    char   *tok, *save = 0;

    snprintf(buf, sizeof(buf), "%s", value);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(0, ",", &save)) {
	char   *lt = strchr(tok, '<'), *gt;
	char   *a = tok;

	if (lt && (gt = strchr(lt, '>')) != 0) {
	    *gt = 0;
	    a = lt + 1;
	} else {
	    while (isspace((unsigned char) *a))
		a++;
	    a[strcspn(a, " \t")] = 0;
	}
	if (*a && add_rcpt(s, a, type) < 0)
	    return (-1);
    }
    return (0);
}

/* command - send one command line and read the reply */
static int command(SEND *s, CM_REPLY *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int command(SEND *s, CM_REPLY *r, const char *fmt, ...)
{
    char    line[CM_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (cm_stream_printf(s->st, "%s\r\n", line) < 0 || cm_stream_flush(s->st) < 0
	|| cm_reply_read(s->st, r) < 0) {
	snprintf(s->err, sizeof(s->err), "connection lost after '%.40s'", line);
	return (-1);
    }
    return (0);
}

/* reply_status - exit status for an unexpected reply, and the reason */
static int reply_status(SEND *s, const CM_REPLY *r, const char *step)
{
    snprintf(s->err, sizeof(s->err), "server refused %s: %d %s", step, r->code,
	     r->nlines ? r->lines[r->nlines - 1] : "");
    return (r->code / 100 == 4 ? SEND_EX_TEMP : CMAIL_EX_FAIL);
}

/* session_open - connect, TLS, CELO, DELV */
static int session_open(SEND *s)
{
    CM_REPLY r;
    SSL_CTX *ctx;
    char    host[256];
    const char *name = s->server_name;
    int     ret;

    if ((s->fd = cm_connect(s->server, s->timeout, s->err, sizeof(s->err))) < 0)
	return (SEND_EX_TEMP);
    s->st = cm_stream_open(s->fd, s->fd, s->timeout);
    if ((ctx = cm_tls_client_ctx(s->tls_ca ? s->tls_ca : s->ca, 0, 0, s->err, sizeof(s->err))) == 0)
	return (CMAIL_EX_FAIL);
    if (s->tls_session
	&& cm_tls_client_session_file(ctx, s->tls_session, s->err, sizeof(s->err)) < 0) {
	SSL_CTX_free(ctx);
	return (CMAIL_EX_FAIL);
    }
    if (name == 0) {
	cm_connect_host(s->server, host, sizeof(host));
	name = host;
    }
    if (s->implicit_tls) {
	if (cm_stream_starttls(s->st, ctx, 0, name, s->err, sizeof(s->err)) < 0) {
	    SSL_CTX_free(ctx);
	    return (CMAIL_EX_FAIL);
	}
    }
    if (cm_reply_read(s->st, &r) < 0) {
	snprintf(s->err, sizeof(s->err), "no greeting from %s", s->server);
	SSL_CTX_free(ctx);
	return (SEND_EX_TEMP);
    }
    ret = r.code == 220 ? 0 : reply_status(s, &r, "the connection");
    cm_reply_free(&r);
    if (ret == 0 && !s->implicit_tls) {
	if (command(s, &r, "EHLO %s", "cmail-client") < 0)
	    ret = SEND_EX_TEMP;
	else if (r.code != 250)
	    ret = reply_status(s, &r, "EHLO");
	cm_reply_free(&r);
	if (ret == 0 && command(s, &r, "STARTTLS") < 0)
	    ret = SEND_EX_TEMP;
	else if (ret == 0 && r.code != 220)
	    ret = reply_status(s, &r, "STARTTLS");
	cm_reply_free(&r);
	if (ret == 0 && cm_stream_buffered(s->st) > 0) {
	    snprintf(s->err, sizeof(s->err), "server sent data before the TLS handshake");
	    ret = CMAIL_EX_FAIL;
	}
	if (ret == 0 && cm_stream_starttls(s->st, ctx, 0, name, s->err, sizeof(s->err)) < 0)
	    ret = CMAIL_EX_FAIL;
    }
    SSL_CTX_free(ctx);
    if (ret)
	return (ret);
    /*
     * The server's TLS certificate is usually its postmark certificate
     * too: cached now, the KeyInfo copy in the deposit notice is not
     * parsed again.
     */
    if (cm_stream_ssl(s->st) && SSL_get0_peer_certificate(cm_stream_ssl(s->st)))
	(void) cm_certcache_add(SSL_get0_peer_certificate(cm_stream_ssl(s->st)));
    if (command(s, &r, "CELO %s", "cmail-client") < 0)
	return (SEND_EX_TEMP);
    ret = r.code == 250 ? 0 : reply_status(s, &r, "CELO");
    cm_reply_free(&r);
    if (ret)
	return (ret);
    if (command(s, &r, "DELV CertifiedMail") < 0)
	return (SEND_EX_TEMP);
    ret = r.code == 250 ? 0 : reply_status(s, &r, "DELV CertifiedMail");
    cm_reply_free(&r);
    return (ret);
}

/* rcpt_forget - drop a recipient's certificate */
static void rcpt_forget(SEND_RCPT *rc)
{
    X509_free(rc->cert);
    rc->cert = 0;
    free(rc->der);
    rc->der = 0;
    rc->der_len = 0;
}

/* envelope_commands - MAIL FROM and RCPT TO with certificates */
static int envelope_commands(SEND *s)
{
    CM_REPLY r;
    CM_CERT_OPTS opts;
    unsigned char *der;
    size_t  der_len;
    int     i, ret = 0;

    if (command(s, &r, "MAIL FROM:<%s> CertificateRequested", s->from) < 0)
	return (SEND_EX_TEMP);
    if (r.code != 250) {
	ret = reply_status(s, &r, "MAIL FROM");
	cm_reply_free(&r);
	return (ret);
    }
    /* Our own certificate: compared as DER bytes, not decoded. */
    der = cm_reply_get_object(&r, "UserCertificate", &der_len);
    cm_reply_free(&r);
    if (der == 0 || s->cert_der_len <= 0 || der_len != (size_t) s->cert_der_len
	|| memcmp(der, s->cert_der, der_len) != 0) {
	free(der);
	snprintf(s->err, sizeof(s->err), "the server holds another certificate for <%s> than --cert", s->from);
	return (CMAIL_EX_FAIL);
    }
    free(der);
    for (i = 0; i < s->nrcpt; i++) {
	if (command(s, &r, "RCPT TO:<%s> CertificateRequested", s->rcpt[i].addr) < 0)
	    return (SEND_EX_TEMP);
	if (r.code != 250) {
	    ret = reply_status(s, &r, "RCPT TO");
	    cm_reply_free(&r);
	    return (ret);
	}
	der = cm_reply_get_object(&r, "UserCertificate", &der_len);
	cm_reply_free(&r);
	if (der == 0) {
	    snprintf(s->err, sizeof(s->err), "no certificate for <%s> in the server's reply", s->rcpt[i].addr);
	    return (CMAIL_EX_FAIL);
	}
	/* The same bytes as in the previous deposit of this run: validated already. */
	if (s->rcpt[i].cert && s->rcpt[i].der_len == der_len
	    && memcmp(s->rcpt[i].der, der, der_len) == 0) {
	    free(der);
	    continue;
	}
	rcpt_forget(&s->rcpt[i]);
	s->rcpt[i].der = der;
	s->rcpt[i].der_len = der_len;
	/* Through the process's certificate cache; trailing bytes refused. */
	if (der_len <= CM_CERT_DER_MAX)
	    s->rcpt[i].cert = cm_certcache_d2i(der, der_len, 1);
	if (s->rcpt[i].cert == 0) {
	    rcpt_forget(&s->rcpt[i]);
	    snprintf(s->err, sizeof(s->err), "no certificate for <%s> in the server's reply", s->rcpt[i].addr);
	    return (CMAIL_EX_FAIL);
	}
	cm_cert_opts_user(&opts, s->rcpt[i].addr, CM_USE_ENCIPHER);
	if (cm_cert_validate(s->trust, s->rcpt[i].cert, &opts, s->err, sizeof(s->err)) < 0) {
	    char    why[sizeof(s->err)];

	    rcpt_forget(&s->rcpt[i]);
	    snprintf(why, sizeof(why), "%s", s->err);
	    snprintf(s->err, sizeof(s->err), "certificate of <%.64s> refused: %.900s", s->rcpt[i].addr, why);
	    return (CMAIL_EX_FAIL);
	}
    }
    return (0);
}

/* build_envelope - encrypt the message into a temporary ENVELOPE file */
static FILE *build_envelope(SEND *s, const char *path, unsigned char *rsck,
			            CM_ENVELOPE_MIME_DIGESTS *d, char **message_id)
{
    FILE   *in = fopen(path, "r");
    FILE   *out = 0;
    CM_HEADERS h;
    CM_ENVELOPE_HEADERS eh;
    char    date[64], msgid[128];
    time_t  now = time(0);
    struct tm tm;

    if (in == 0) {
	snprintf(s->err, sizeof(s->err), "open %s: %s", path, strerror(errno));
	return (0);
    }
    if (cm_headers_read(in, &h, s->err, sizeof(s->err)) < 0) {
	fclose(in);
	return (0);
    }
    memset(&eh, 0, sizeof(eh));
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(msgid, sizeof(msgid), "<%ld.%ld@cmail>", (long) now, (long) getpid());
    eh.from = cm_headers_get(&h, "From") ? cm_headers_get(&h, "From") : s->from;
    eh.to = cm_headers_get(&h, "To") ? cm_headers_get(&h, "To") : s->rcpt[0].addr;
    eh.cc = cm_headers_get(&h, "Cc");
    eh.date = cm_headers_get(&h, "Date") ? cm_headers_get(&h, "Date") : date;
    eh.message_id = cm_headers_get(&h, "Message-ID") ? cm_headers_get(&h, "Message-ID") : msgid;
    eh.subject = cm_headers_get(&h, "Subject");
    *message_id = strdup(eh.message_id);
    rewind(in);
    if ((out = tmpfile()) == 0) {
	snprintf(s->err, sizeof(s->err), "temporary file: %s", strerror(errno));
    } else if (cm_envelope_key_new(rsck) < 0
	       || cm_envelope_mime_write(out, &eh, in, rsck, d, s->err, sizeof(s->err)) < 0) {
	if (s->err[0] == 0)
	    snprintf(s->err, sizeof(s->err), "no randomness for the message key");
	fclose(out);
	out = 0;
    }
    cm_headers_free(&h);
    fclose(in);
    if (out)
	rewind(out);
    return (out);
}

/* send_data - DATA, the ENVELOPE dot-stuffed, and the deposit notice */
static int send_data(SEND *s, FILE *env, char **notice, size_t *notice_len)
{
    CM_REPLY r;
    char    line[CM_LINE_MAX + 2];
    int     ret, at_bol = 1;

    if (command(s, &r, "DATA") < 0)
	return (SEND_EX_TEMP);
    if (r.code != 354) {
	ret = reply_status(s, &r, "DATA");
	cm_reply_free(&r);
	return (ret);
    }
    cm_reply_free(&r);
    while (fgets(line, sizeof(line), env)) {
	size_t  n = strlen(line);

	if (at_bol && line[0] == '.')
	    cm_stream_write(s->st, ".", 1);
	if (cm_stream_write(s->st, line, n) < 0)
	    break;
	at_bol = line[n - 1] == '\n';
    }
    if (cm_stream_write(s->st, ".\r\n", 3) < 0 || cm_stream_flush(s->st) < 0
	|| cm_reply_read(s->st, &r) < 0) {
	snprintf(s->err, sizeof(s->err), "connection lost during DATA");
	return (SEND_EX_TEMP);
    }
    if (r.code != 250) {
	ret = reply_status(s, &r, "the ENVELOPE");
	cm_reply_free(&r);
	return (ret);
    }
    *notice = (char *) cm_reply_get_object(&r, "DepositNotice", notice_len);
    cm_reply_free(&r);
    if (*notice == 0) {
	snprintf(s->err, sizeof(s->err), "no DepositNotice in the server's reply");
	return (CMAIL_EX_FAIL);
    }
    return (0);
}

/* write_out - save a notice into --out */
static void write_out(SEND *s, const char *envid, const char *what, const char *data, size_t len)
{
    char    path[4096];

    if (s->out == 0)
	return;
    snprintf(path, sizeof(path), "%s/%s.%s.xml", s->out, envid, what);
    if (cm_write_file_atomic(path, data, len, 0644) < 0)
	msg_warn("cannot write %s: %m", path);
    else
	printf("wrote %s\n", path);
}

/* countersign - verify the deposit notice, add the entities, sign, DEPO */
static int countersign(SEND *s, const char *notice, size_t notice_len,
		               const unsigned char *rsck, const CM_ENVELOPE_MIME_DIGESTS *d,
		               const char *message_id)
{
    xmlDocPtr doc = 0;
    CM_NOTICE *n = 0, *info = 0;
    CM_DSIG_REPORT rep;
    char   *xml = 0, *b64 = 0;
    size_t  xml_len;
    CM_REPLY r;
    int     i, ret = CMAIL_EX_FAIL;

    if ((n = cm_notice_read(notice, notice_len, &doc, s->err, sizeof(s->err))) == 0)
	goto done;
    if (n->type != CM_NOTICE_DEPOSIT || cm_dsig_verify(doc, s->trust, &rep) < 0) {
	snprintf(s->err, sizeof(s->err), "the deposit notice does not verify: %s",
		 n->type != CM_NOTICE_DEPOSIT ? "not a DepositNotice" : rep.reason);
	goto done;
    }
    if (n->mime_hash_count < 1 || !cm_hash_b64_equal(n->mime_hashes[0].value, d->mime_b64)) {
	snprintf(s->err, sizeof(s->err), "the deposit notice does not hold the hash of the ENVELOPE sent");
	goto done;
    }
    write_out(s, n->envelope_id, "deposit", notice, notice_len);
    if ((info = cm_notice_new(CM_NOTICE_SIGNED_DEPOSIT)) == 0)
	goto oom;
    if (cm_notice_set_str(&info->content.message_id, message_id) < 0
	|| cm_notice_set_str(&info->content.unciphered.value, d->envelope.plain_b64) < 0
	|| cm_notice_set_str(&info->content.ciphered.value, d->envelope.cipher_b64) < 0)
	goto oom;
    info->content.unciphered.alg = CM_HASH_SHA256;
    info->content.ciphered.alg = CM_HASH_SHA256;
    for (i = 0; i < s->nrcpt; i++) {
	CM_NOTICE_ENTITY *e = cm_notice_add_entity(info);
	char   *number = cm_challenge_number_new();
	char   *answer = number ? cm_challenge_answer(CM_HASH_SHA256, number, rsck) : 0;
	char   *wrapped = cm_keywrap_wrap_cert(s->rcpt[i].cert, rsck, s->err, sizeof(s->err));
	char   *certb64 = cm_cert_to_b64(s->rcpt[i].cert, 0);
	int     bad = e == 0 || answer == 0 || wrapped == 0 || certb64 == 0;

	if (!bad) {
	    e->type = s->rcpt[i].type;
	    e->key_size = 256;
	    bad = cm_notice_set_str(&e->address, s->rcpt[i].addr) < 0
		|| cm_notice_set_str(&e->question.random_number, number) < 0
		|| cm_notice_set_str(&e->question.response_alg, CM_HASH_OID_SHA256) < 0
		|| cm_notice_set_str(&e->question.response, answer) < 0
		|| cm_notice_set_str(&e->key_algorithm, CM_ENVELOPE_ALG_GCM_NAME) < 0
		|| cm_notice_set_str(&e->key_wrap, CM_KEYWRAP_OAEP) < 0
		|| cm_notice_set_str(&e->key_encoding, "base64") < 0
		|| cm_notice_set_str(&e->wrapped_key, wrapped) < 0
		|| cm_notice_set_str(&e->cert_encoding, "base64") < 0
		|| cm_notice_set_str(&e->certificate, certb64) < 0;
	}
	free(number);
	if (answer)
	    OPENSSL_cleanse(answer, strlen(answer));
	free(answer);
	free(wrapped);
	free(certb64);
	if (bad) {
	    if (s->err[0] == 0)
		snprintf(s->err, sizeof(s->err), "cannot build the Entity of <%s>", s->rcpt[i].addr);
	    goto done;
	}
    }
    if (cm_notice_promote(doc, info, s->err, sizeof(s->err)) < 0
	|| cm_dsig_sign(doc, CM_DSIG_INFO, s->key, s->cert, 0, s->err, sizeof(s->err)) < 0)
	goto done;
    if ((xml = cm_xml_serialize(doc, &xml_len)) == 0 || (b64 = cm_base64_encode((unsigned char *) xml, xml_len, 0)) == 0)
	goto oom;
    if (cm_stream_printf(s->st, "DEPO ") < 0 || cm_stream_write(s->st, b64, strlen(b64)) < 0
	|| cm_stream_write(s->st, "\r\n", 2) < 0 || cm_stream_flush(s->st) < 0
	|| cm_reply_read(s->st, &r) < 0) {
	snprintf(s->err, sizeof(s->err), "connection lost after DEPO: the deposit state is unknown");
	ret = SEND_EX_TEMP;
	goto done;
    }
    if (r.code != 250) {
	ret = reply_status(s, &r, "DEPO");
	cm_reply_free(&r);
	goto done;
    }
    cm_reply_free(&r);
    write_out(s, n->envelope_id, "signed-deposit", xml, xml_len);
    printf("deposited: envelope %s, %d recipient%s\n", n->envelope_id, s->nrcpt, s->nrcpt == 1 ? "" : "s");
    ret = 0;
    goto done;
oom:
    snprintf(s->err, sizeof(s->err), "out of memory");
done:
    free(b64);
    free(xml);
    cm_notice_free(info);
    cm_notice_free(n);
    if (doc)
	xmlFreeDoc(doc);
    return (ret);
}

/* cmd_send - the subcommand */
int     cmd_send(int argc, char **argv)
{
    static const struct option longopts[] = {
	{"server", required_argument, 0, 's'},
	{"server-name", required_argument, 0, 'N'},
	{"from", required_argument, 0, 'f'},
	{"cert", required_argument, 0, 'C'},
	{"key", required_argument, 0, 'K'},
	{"ca", required_argument, 0, 'A'},
	{"crl", required_argument, 0, 'R'},
	{"to", required_argument, 0, 't'},
	{"cc", required_argument, 0, 'c'},
	{"out", required_argument, 0, 'o'},
	{"implicit-tls", no_argument, 0, 'I'},
	{"timeout", required_argument, 0, 'T'},
	{"repeat", required_argument, 0, 'r'},
	{"tls-ca", required_argument, 0, 'L'},
	{"tls-session", required_argument, 0, 'S'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
    };
    SEND    s;
    int     ch, i, n, ret;
    unsigned char rsck[CM_ENVELOPE_KEY_LEN];
    CM_ENVELOPE_MIME_DIGESTS d;
    FILE   *env = 0;
    char   *notice = 0, *message_id = 0;
    size_t  notice_len;
    struct stat sb;

    memset(&s, 0, sizeof(s));
    s.fd = -1;
    s.timeout = 300;
    s.repeat = 1;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, 0)) != -1) {
	switch (ch) {
	case 's': s.server = optarg; break;
	case 'N': s.server_name = optarg; break;
	case 'f': s.from = optarg; break;
	case 'C': s.cert_file = optarg; break;
	case 'K': s.key_file = optarg; break;
	case 'A': s.ca = optarg; break;
	case 'R': s.crl = optarg; break;
	case 'o': s.out = optarg; break;
	case 'I': s.implicit_tls = 1; break;
	case 'T': s.timeout = atoi(optarg); break;
	case 'r': s.repeat = atoi(optarg); break;
	case 'L': s.tls_ca = optarg; break;
	case 'S': s.tls_session = optarg; break;
	case 't':
	case 'c':
	    if (add_rcpt(&s, optarg, ch == 't' ? CM_ENTITY_TO : CM_ENTITY_CC) < 0) {
		fprintf(stderr, "cmail send: %s\n", s.err);
		return (CMAIL_EX_USAGE);
	    }
	    break;
	case 'h': return (send_usage(stdout, CMAIL_EX_OK));
	default: return (send_usage(stderr, CMAIL_EX_USAGE));
	}
    }
    if (optind != argc - 1 || !s.server || !s.from || !s.cert_file || !s.key_file || !s.ca
	|| s.timeout <= 0 || s.repeat < 1 || s.repeat > 1000000)
	return (send_usage(stderr, CMAIL_EX_USAGE));
    if (!cm_addr_valid(s.from)) {
	fprintf(stderr, "cmail send: invalid --from address '%s'\n", s.from);
	return (CMAIL_EX_USAGE);
    }
    if (s.out && (stat(s.out, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
	fprintf(stderr, "cmail send: --out %s is not a directory\n", s.out);
	return (CMAIL_EX_USAGE);
    }
    if ((s.cert = cm_pem_read_cert(s.cert_file, s.err, sizeof(s.err))) == 0
	|| (s.key = cm_pem_read_key(s.key_file, s.err, sizeof(s.err))) == 0
	|| (s.trust = cm_trust_load(s.ca, s.crl, s.err, sizeof(s.err))) == 0) {
	fprintf(stderr, "cmail send: %s\n", s.err);
	ret = CMAIL_EX_USAGE;
	goto done;
    }
    if (X509_check_private_key(s.cert, s.key) != 1) {
	fprintf(stderr, "cmail send: --key does not belong to --cert\n");
	ret = CMAIL_EX_USAGE;
	goto done;
    }
    if ((s.cert_der_len = i2d_X509(s.cert, &s.cert_der)) <= 0) {
	fprintf(stderr, "cmail send: --cert cannot be encoded\n");
	ret = CMAIL_EX_USAGE;
	goto done;
    }
    if (s.nrcpt == 0) {
	FILE   *fp = fopen(argv[optind], "r");
	CM_HEADERS h;

	if (fp == 0 || cm_headers_read(fp, &h, s.err, sizeof(s.err)) < 0) {
	    fprintf(stderr, "cmail send: %s: %s\n", argv[optind], fp ? s.err : strerror(errno));
	    if (fp)
		fclose(fp);
	    ret = CMAIL_EX_USAGE;
	    goto done;
	}
	fclose(fp);
	ret = 0;
	if (cm_headers_get(&h, "To"))
	    ret = rcpts_from_header(&s, cm_headers_get(&h, "To"), CM_ENTITY_TO);
	if (ret == 0 && cm_headers_get(&h, "Cc"))
	    ret = rcpts_from_header(&s, cm_headers_get(&h, "Cc"), CM_ENTITY_CC);
	cm_headers_free(&h);
	if (ret < 0 || s.nrcpt == 0) {
	    fprintf(stderr, "cmail send: %s\n", ret < 0 ? s.err : "no recipients (--to, --cc, or To/Cc in the message)");
	    ret = CMAIL_EX_USAGE;
	    goto done;
	}
    }
    if ((ret = session_open(&s)) != 0)
	goto done;
    for (n = 0; n < s.repeat; n++) {
	if ((ret = envelope_commands(&s)) != 0)
	    goto done;
	if ((env = build_envelope(&s, argv[optind], rsck, &d, &message_id)) == 0) {
	    ret = CMAIL_EX_FAIL;
	    goto done;
	}
	if ((ret = send_data(&s, env, &notice, &notice_len)) != 0)
	    goto done;
	ret = countersign(&s, notice, notice_len, rsck, &d, message_id);
	free(notice);
	notice = 0;
	free(message_id);
	message_id = 0;
	fclose(env);
	env = 0;
	if (ret != 0)
	    goto done;
    }
    if (ret == 0) {
	CM_REPLY r;

	if (command(&s, &r, "QUIT") == 0)
	    cm_reply_free(&r);
    }
done:
    OPENSSL_cleanse(rsck, sizeof(rsck));
    if (ret != 0)
	fprintf(stderr, "cmail send: %s\n", s.err[0] ? s.err : "failed");
    free(notice);
    free(message_id);
    if (env)
	fclose(env);
    cm_stream_close(s.st);
    if (s.fd >= 0)
	close(s.fd);
    for (i = 0; i < s.nrcpt; i++)
	rcpt_forget(&s.rcpt[i]);
    OPENSSL_free(s.cert_der);
    X509_free(s.cert);
    EVP_PKEY_free(s.key);
    cm_trust_free(s.trust);
    return (ret);
}
