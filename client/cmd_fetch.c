/*++
 * NAME
 *	cmd_fetch 1
 * SUMMARY
 *	cmail fetch: retrieve certified and ordinary mail (CPOP)
 * SYNOPSIS
 *	cmail fetch --server HOST:PORT --user NAME [--password-file FILE]
 *		--cert FILE --key FILE --ca FILE [--crl FILE|DIR]
 *		(--out DIR | --list) [--delete] [--implicit-tls]
 *		[--server-name NAME] [--tls-ca FILE] [--timeout SECONDS]
 * DESCRIPTION
 *	PROFILE.md sections 4-6, steps p1-p4: POP3 (RFC 1939) with STLS
 *	(or implicit TLS with --implicit-tls), the server verified against
 *	--tls-ca (default --ca: the Cmail CA also issues the TLS certificate); CAPA must list "CMAIL CertifiedMail", else only ordinary mail
 *	is fetched; USER/PASS with the first line of --password-file or
 *	the CMAIL_PASSWORD environment variable; LIST.
 *
 *	Each certified message: RETR n gives the server-signed
 *	ReceiptNotice, which is verified (cm_receipt_check()); the
 *	message key is unwrapped with --key, the challenge answered and
 *	the notice signed (cm_receipt_answer()) and sent with CHLG RESP;
 *	the ENVELOPE that comes back is decrypted into a temporary file
 *	and its hashes compared with the notice. Only then are
 *	DIR/ENVID.signed-receipt.xml (what we signed) and DIR/ENVID.eml
 *	(the plaintext message, byte for byte as the sender wrote it)
 *	written; a plaintext that did not verify is removed.
 *
 *	The signed receipt notice is also the only copy of our wrapped
 *	message key once the server has accepted the answer: it is kept
 *	as DIR/.ENVID.pending-receipt.xml from just before CHLG RESP until
 *	the ENVELOPE is in, and left there when the connection is lost
 *	(exit 75). A server answers RETR of an already answered message
 *	with the ENVELOPE itself: cmail fetch then looks in DIR for the
 *	signed or pending receipt notice whose CipheredEnvelopeHash is the
 *	ENVELOPE's, verifies it again and decrypts with it, or reports the
 *	message as already fetched when DIR/ENVID.eml exists.
 *
 *	Each ordinary message: RETR n, written to DIR/n.eml as the server
 *	sent it (dot-unstuffed, CRLF line ends). Nothing is deleted from
 *	the server unless --delete is given: then each message written
 *	(or found already fetched) is marked with DELE, which the server
 *	carries out at QUIT; a message that failed stays.
 *
 *	When the server lists PIPELINING in CAPA (RFC 2449), the RETR of
 *	the next message goes out as soon as the +OK of the one before
 *	arrives, before its body (the ENVELOPE after CHLG RESP, or an
 *	ordinary message after RETR) is read: the server then prepares the
 *	next receipt notice while this client decrypts, checks and writes
 *	the message before. CHLG RESP refers to the last RETR of a
 *	certified message, so the next RETR follows its +OK, never precedes
 *	it; at most one RETR is ahead. Not with --delete (each DELE follows
 *	the replies of its message).
 *
 *	--list prints one line per message: number, size, and
 *	CertifiedMail for certified messages.
 * EXIT STATUS
 *	0 everything fetched; 1 refused or not verifiable (login refused,
 *	a notice, certificate or ENVELOPE did not verify, the server
 *	refused the answer); 2 usage error; 75 temporary failure
 *	(connection, timeout, [SYS/TEMP] or [IN-USE]): try again later.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <signal.h>
#include <dirent.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "cm_log.h"
#include "cm_base64.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cm_tls.h"
#include "cm_connect.h"
#include "cm_stream.h"
#include "cm_hash.h"
#include "cm_xml.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"
#include "cm_receipt_client.h"
#include "cmail.h"

#define FETCH_EX_TEMP	75
#define FETCH_LINE_MAX	(64 * 1024)	/* one line of a message */
#define FETCH_MESSAGE_MAX (2ULL * 1024 * 1024 * 1024)	/* one message */
/* base64 of CM_NOTICE_MAX bytes in 76-character lines with CRLF */
#define FETCH_NOTICE_B64_MAX ((size_t) CM_NOTICE_MAX / 3 * 4 + CM_NOTICE_MAX / 19 + 16)
#define FETCH_REPLY_MAX	512		/* server text kept for messages */
#define FETCH_SCAN_MAX	100000		/* files of DIR looked at */
#define FETCH_CAPA_MAX	1000		/* CAPA lines */
#define SIGNED_SUFFIX	".signed-receipt.xml"
#define PENDING_SUFFIX	".pending-receipt.xml"

typedef struct {
    const char *server, *server_name, *user, *password_file, *cert_file, *key_file, *ca, *crl, *out;
    const char *tls_ca;			/* TLS trust anchors, default ca */
    int     list_only, implicit_tls, timeout, delete;
    char   *password;
    X509   *cert;
    EVP_PKEY *key;
    CM_TRUST *trust;
    CM_STREAM *st;
    int     fd;
    int     cmail;			/* CAPA lists CMAIL CertifiedMail */
    int     pipelining;			/* CAPA lists PIPELINING */
    unsigned long ahead;		/* RETR sent, its reply not read yet */
    CM_RECEIPT_CACHE rcache;		/* --cert validated for an address */
    char   *line;			/* FETCH_LINE_MAX bytes */
    char    reply[FETCH_REPLY_MAX];	/* text of the last status line */
    char    err[1536];
} FETCH;

/* fetch_usage - the synopsis */
static int fetch_usage(FILE *fp, int status)
{
    fprintf(fp, "usage: cmail fetch --server HOST:PORT --user NAME [--password-file FILE]\n"
	    "                   --cert FILE --key FILE --ca FILE [--crl FILE|DIR]\n"
	    "                   (--out DIR | --list) [--delete] [--implicit-tls]\n"
	    "                   [--server-name NAME] [--tls-ca FILE] [--timeout SECONDS]\n\n"
	    "Fetch mail over CPOP (POP3 with TLS, ITU-T X.1341). For each certified\n"
	    "message the server's receipt notice is verified, its challenge answered and\n"
	    "signed with --key; the ENVELOPE is decrypted and checked against the notice,\n"
	    "then DIR/ENVID.eml (the message) and DIR/ENVID.signed-receipt.xml are\n"
	    "written. Ordinary messages go to DIR/N.eml. Messages stay on the server unless\n"
	    "--delete is given (then each one written is deleted at the end of the session).\n"
	    "Messages answered before are decrypted with the receipt notice kept in DIR.\n"
	    "--list only lists: number, size, CertifiedMail.\n"
	    "The password is the first line of --password-file, or $CMAIL_PASSWORD.\n"
	    "STLS is used unless --implicit-tls (POP3S port). The TLS server certificate is\n"
	    "verified against --tls-ca (default: --ca, which verifies the notices).\n"
	    "Exit: 0 fetched, 1 refused/invalid, 2 usage, 75 temporary failure.\n");
    return (status);
}

/* read_password - first line of a file, or $CMAIL_PASSWORD */
static char *read_password(const char *path, char *err, size_t errlen)
{
    char    buf[1024];
    const char *env;
    FILE   *fp;
    char   *pw;

    if (path == 0) {
	if ((env = getenv("CMAIL_PASSWORD")) == 0) {
	    snprintf(err, errlen, "no password: give --password-file or set CMAIL_PASSWORD");
	    return (0);
	}
	return (strdup(env));
    }
    if ((fp = fopen(path, "r")) == 0) {
	snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	return (0);
    }
    if (fgets(buf, sizeof(buf), fp) == 0)
	buf[0] = 0;
    fclose(fp);
    buf[strcspn(buf, "\r\n")] = 0;
    pw = strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return (pw);
}

/* keep_reply - a printable copy of the server's status text */
static void keep_reply(FETCH *f, const char *text)
{
    size_t  i;

    snprintf(f->reply, sizeof(f->reply), "%s", text);
    for (i = 0; f->reply[i]; i++)
	if (!isprint((unsigned char) f->reply[i]))
	    f->reply[i] = '?';
}

/* status_line - read one +OK/-ERR line: 1 +OK, 0 -ERR, -1 lost */
static int status_line(FETCH *f)
{
    int     too_long;

    if (cm_stream_getline(f->st, f->line, FETCH_LINE_MAX, &too_long) < 0) {
	snprintf(f->err, sizeof(f->err), "connection to %s lost%s", f->server,
		 errno == ETIMEDOUT ? " (timeout)" : "");
	return (-1);
    }
    if (strncmp(f->line, "+OK", 3) == 0 && (f->line[3] == 0 || f->line[3] == ' ')) {
	keep_reply(f, f->line[3] ? f->line + 4 : "");
	return (1);
    }
    keep_reply(f, f->line);
    if (strncmp(f->line, "-ERR", 4) == 0)
	return (0);
    snprintf(f->err, sizeof(f->err), "not a POP3 reply: %.100s", f->reply);
    return (-1);
}

/* command - send one command; 1 +OK, 0 -ERR, -1 lost */
static int command(FETCH *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int command(FETCH *f, const char *fmt, ...)
{
    char    cmd[CM_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (cm_stream_write(f->st, cmd, strlen(cmd)) < 0 || cm_stream_write(f->st, "\r\n", 2) < 0
	|| cm_stream_flush(f->st) < 0) {
	OPENSSL_cleanse(cmd, sizeof(cmd));
	snprintf(f->err, sizeof(f->err), "connection to %s lost", f->server);
	return (-1);
    }
    OPENSSL_cleanse(cmd, sizeof(cmd));
    return (status_line(f));
}

/* refused - exit status and reason for a -ERR reply */
static int refused(FETCH *f, const char *step)
{
    snprintf(f->err, sizeof(f->err), "server refused %s: %s", step, f->reply);
    if (strstr(f->reply, "[SYS/TEMP]") || strstr(f->reply, "[IN-USE]"))
	return (FETCH_EX_TEMP);
    return (CMAIL_EX_FAIL);
}

/* body - read a multi-line response to its ".", unstuffed */
static int body(FETCH *f, FILE *fp, CM_HASH *h, char **mem, size_t *mem_len, size_t mem_max)
{
    unsigned long long total = 0;
    ssize_t len;
    char   *p, *nmem;
    int     too_long;

    for (;;) {
	if ((len = cm_stream_getline(f->st, f->line, FETCH_LINE_MAX, &too_long)) < 0) {
	    snprintf(f->err, sizeof(f->err), "connection to %s lost in a multi-line reply", f->server);
	    return (-1);
	}
	if (too_long) {
	    snprintf(f->err, sizeof(f->err), "a line of more than %d bytes from the server", FETCH_LINE_MAX - 1);
	    return (-1);
	}
	p = f->line;
	if (*p == '.') {
	    if (len == 1)
		return (0);
	    p++;
	    len--;
	}
	if ((total += (unsigned long long) len + 2) > FETCH_MESSAGE_MAX) {
	    snprintf(f->err, sizeof(f->err), "a message larger than %llu bytes", FETCH_MESSAGE_MAX);
	    return (-1);
	}
	if (fp && (fwrite(p, 1, (size_t) len, fp) != (size_t) len || fwrite("\r\n", 1, 2, fp) != 2)) {
	    snprintf(f->err, sizeof(f->err), "write: %s", strerror(errno));
	    return (-1);
	}
	if (h && (cm_hash_update(h, p, (size_t) len) < 0 || cm_hash_update(h, "\r\n", 2) < 0)) {
	    snprintf(f->err, sizeof(f->err), "hash failure");
	    return (-1);
	}
	if (mem) {
	    if (*mem_len + (size_t) len + 1 > mem_max) {
		snprintf(f->err, sizeof(f->err), "a receipt notice larger than %zu bytes", mem_max);
		return (-1);
	    }
	    if ((nmem = realloc(*mem, *mem_len + (size_t) len + 2)) == 0) {
		snprintf(f->err, sizeof(f->err), "out of memory");
		return (-1);
	    }
	    *mem = nmem;
	    memcpy(*mem + *mem_len, p, (size_t) len);
	    *mem_len += (size_t) len;
	    (*mem)[(*mem_len)++] = '\n';
	    (*mem)[*mem_len] = 0;
	}
    }
}

/* session_open - connect, TLS, greeting, USER, PASS, CAPA */
static int session_open(FETCH *f)
{
    SSL_CTX *ctx;
    char    host[256];
    const char *name = f->server_name;
    int     ret = 0, r, n;

    if ((f->fd = cm_connect(f->server, f->timeout, f->err, sizeof(f->err))) < 0)
	return (FETCH_EX_TEMP);
    if ((f->st = cm_stream_open(f->fd, f->fd, f->timeout)) == 0) {
	snprintf(f->err, sizeof(f->err), "out of memory");
	return (CMAIL_EX_FAIL);
    }
    if ((ctx = cm_tls_client_ctx(f->tls_ca ? f->tls_ca : f->ca, 0, 0, f->err, sizeof(f->err))) == 0)
	return (CMAIL_EX_FAIL);
    if (name == 0) {
	cm_connect_host(f->server, host, sizeof(host));
	name = host;
    }
    if (f->implicit_tls && cm_stream_starttls(f->st, ctx, 0, name, f->err, sizeof(f->err)) < 0)
	ret = CMAIL_EX_FAIL;
    if (ret == 0 && (r = status_line(f)) != 1)
	ret = r < 0 ? FETCH_EX_TEMP : refused(f, "the connection");
    if (ret == 0 && !f->implicit_tls) {
	if ((r = command(f, "STLS")) != 1)
	    ret = r < 0 ? FETCH_EX_TEMP : refused(f, "STLS");
	else if (cm_stream_buffered(f->st) != 0) {
	    snprintf(f->err, sizeof(f->err), "the server sent data before the TLS handshake");
	    ret = CMAIL_EX_FAIL;
	} else if (cm_stream_starttls(f->st, ctx, 0, name, f->err, sizeof(f->err)) < 0)
	    ret = CMAIL_EX_FAIL;
    }
    SSL_CTX_free(ctx);
    if (ret)
	return (ret);
    if ((r = command(f, "USER %s", f->user)) != 1)
	return (r < 0 ? FETCH_EX_TEMP : refused(f, "USER"));
    if ((r = command(f, "PASS %s", f->password)) != 1)
	return (r < 0 ? FETCH_EX_TEMP : refused(f, "the login (PASS)"));
    /* After login: Dovecot's plugin is not in the pre-login process. */
    if ((r = command(f, "CAPA")) < 0)
	return (FETCH_EX_TEMP);
    if (r == 1) {
	for (n = 0;; n++) {
	    int     too_long;

	    if (cm_stream_getline(f->st, f->line, FETCH_LINE_MAX, &too_long) < 0) {
		snprintf(f->err, sizeof(f->err), "connection to %s lost after CAPA", f->server);
		return (FETCH_EX_TEMP);
	    }
	    if (strcmp(f->line, ".") == 0)
		break;
	    if (n >= FETCH_CAPA_MAX) {
		snprintf(f->err, sizeof(f->err), "more than %d CAPA lines", FETCH_CAPA_MAX);
		return (CMAIL_EX_FAIL);
	    }
	    if (!too_long && cm_pop3_capa_cmail(f->line))
		f->cmail = 1;
	    if (!too_long && strcasecmp(f->line, "PIPELINING") == 0)
		f->pipelining = 1;
	}
    }
    return (0);
}

/* list - LIST: the messages */
static int list(FETCH *f, CM_POP3_LISTING **lp, size_t *np)
{
    CM_POP3_LISTING l, *nl;
    size_t  n = 0, cap = 0;
    int     r, too_long;

    *lp = 0;
    *np = 0;
    if ((r = command(f, "LIST")) != 1)
	return (r < 0 ? FETCH_EX_TEMP : refused(f, "LIST"));
    for (;;) {
	if (cm_stream_getline(f->st, f->line, FETCH_LINE_MAX, &too_long) < 0) {
	    snprintf(f->err, sizeof(f->err), "connection to %s lost during LIST", f->server);
	    return (FETCH_EX_TEMP);
	}
	if (strcmp(f->line, ".") == 0)
	    break;
	if (too_long || cm_pop3_list_parse(f->line, &l) < 0) {
	    keep_reply(f, f->line);
	    snprintf(f->err, sizeof(f->err), "bad LIST line from the server: %.100s", f->reply);
	    return (CMAIL_EX_FAIL);
	}
	if (n >= CM_POP3_MSG_MAX) {
	    snprintf(f->err, sizeof(f->err), "more than %lu messages", CM_POP3_MSG_MAX);
	    return (CMAIL_EX_FAIL);
	}
	if (n == cap) {
	    cap = cap ? cap * 2 : 64;
	    if ((nl = realloc(*lp, cap * sizeof(**lp))) == 0) {
		snprintf(f->err, sizeof(f->err), "out of memory");
		return (CMAIL_EX_FAIL);
	    }
	    *lp = nl;
	}
	(*lp)[n++] = l;
	*np = n;
    }
    return (0);
}

/* out_path - DIR/NAME.SUFFIX */
static void out_path(FETCH *f, char *path, size_t size, const char *name, const char *suffix)
{
    snprintf(path, size, "%s/%s.%s", f->out, name, suffix);
}

/* queue_retr - "RETR num" into the write buffer (sent at the next flush) */
static int queue_retr(FETCH *f, unsigned long num)
{
    char    cmd[48];

    snprintf(cmd, sizeof(cmd), "RETR %lu\r\n", num);
    if (cm_stream_write(f->st, cmd, strlen(cmd)) < 0) {
	snprintf(f->err, sizeof(f->err), "connection to %s lost", f->server);
	return (-1);
    }
    return (0);
}

/*
 * send_ahead - after a +OK status line whose body is still to be read:
 * with pipelining, RETR next (when not 0) goes out now, so that the
 * server works on it while this client reads and handles the body. Its
 * reply follows the body. 0, or -1 lost.
 */
static int send_ahead(FETCH *f, unsigned long next)
{
    if (!f->pipelining || next == 0)
	return (0);
    if (queue_retr(f, next) < 0 || cm_stream_flush(f->st) < 0) {
	snprintf(f->err, sizeof(f->err), "connection to %s lost", f->server);
	return (-1);
    }
    f->ahead = next;
    return (0);
}

/*
 * retr - RETR num, unless it went out ahead already, and its status line:
 * 1 +OK, 0 -ERR, -1 lost. After a +OK, RETR next goes out (send_ahead()).
 */
static int retr(FETCH *f, unsigned long num, unsigned long next)
{
    int     r;

    if (f->ahead == num) {
	f->ahead = 0;
    } else if (queue_retr(f, num) < 0 || cm_stream_flush(f->st) < 0) {
	snprintf(f->err, sizeof(f->err), "connection to %s lost", f->server);
	return (-1);
    }
    if ((r = status_line(f)) == 1 && send_ahead(f, next) < 0)
	return (-1);
    return (r);
}

/* drain_retr - read and drop the reply of a RETR sent ahead; 0, or -1 lost */
static int drain_retr(FETCH *f, unsigned long num)
{
    char    err[sizeof(f->err)];
    int     r;

    if (f->ahead != num)
	return (0);
    memcpy(err, f->err, sizeof(err));		/* keep the reason of the failure */
    f->ahead = 0;
    r = status_line(f);
    if (r == 1 && body(f, 0, 0, 0, 0, 0) < 0)
	r = -1;
    if (r >= 0)
	memcpy(f->err, err, sizeof(err));
    return (r < 0 ? -1 : 0);
}

/* fetch_ordinary - RETR n into DIR/n.eml; next: the message to fetch after it */
static int fetch_ordinary(FETCH *f, unsigned long num, unsigned long next)
{
    char    path[4096], tmp[4200], name[32], why[512];
    FILE   *fp;
    int     r, ok;

    snprintf(name, sizeof(name), "%lu", num);
    out_path(f, path, sizeof(path), name, "eml");
    if ((fp = cm_envelope_tmp_open(path, tmp, sizeof(tmp), f->err, sizeof(f->err))) == 0)
	return (drain_retr(f, num) < 0 ? FETCH_EX_TEMP : CMAIL_EX_FAIL);
    if ((r = retr(f, num, next)) != 1) {
	cm_envelope_tmp_commit(fp, tmp, path, 0, why, sizeof(why));
	return (r < 0 ? FETCH_EX_TEMP : refused(f, "RETR"));
    }
    ok = body(f, fp, 0, 0, 0, 0) == 0;
    if (cm_envelope_tmp_commit(fp, tmp, path, ok, why, sizeof(why)) < 0 && ok) {
	snprintf(f->err, sizeof(f->err), "%s", why);
	return (CMAIL_EX_FAIL);
    }
    if (!ok)
	return (FETCH_EX_TEMP);
    printf("message %lu: wrote %s\n", num, path);
    return (0);
}

/*
 * chlg_resp - send the signed receipt notice; 1 +OK, 0 -ERR, -1 lost.
 * After a +OK, RETR next goes out before the ENVELOPE is read (the
 * next RETR may follow CHLG RESP, never precede it: CHLG RESP refers to
 * the last RETR of a certified message).
 */
static int chlg_resp(FETCH *f, const char *xml, size_t xml_len, unsigned long next)
{
    char   *b64;
    int     bad, r;

    if ((b64 = cm_base64_encode((const unsigned char *) xml, xml_len, 0)) == 0) {
	snprintf(f->err, sizeof(f->err), "out of memory");
	return (-1);
    }
    bad = cm_stream_write(f->st, "CHLG RESP ", 10) < 0 || cm_stream_write(f->st, b64, strlen(b64)) < 0
	|| cm_stream_write(f->st, "\r\n", 2) < 0 || cm_stream_flush(f->st) < 0;
    free(b64);
    if (bad) {
	snprintf(f->err, sizeof(f->err), "connection to %s lost after CHLG RESP", f->server);
	return (-1);
    }
    if ((r = status_line(f)) == 1 && send_ahead(f, next) < 0)
	return (-1);
    return (r);
}

/* open_plain - the plaintext again, for a SHA-1 hash check */
static FILE *open_plain(const CM_NOTICE *n, FILE *tmpfp, const char *tmp)
{
    if (n->content.unciphered.alg == CM_HASH_SHA256 || fflush(tmpfp) != 0)
	return (0);
    return (fopen(tmp, "rb"));
}

/* deliver - decrypt the ENVELOPE, check it, write both files */
static int deliver(FETCH *f, unsigned long num, const CM_NOTICE *n, FILE *env,
		           const unsigned char *rsck, CM_ENVELOPE_ALG alg,
		           const char *xml, size_t xml_len)
{
    char    path[4096], rpath[4096], tmp[4200], why[512];
    CM_ENVELOPE_DIGESTS d;
    FILE   *fp, *plain = 0;
    int     ok;

    out_path(f, path, sizeof(path), n->envelope_id, "eml");
    out_path(f, rpath, sizeof(rpath), n->envelope_id, "signed-receipt.xml");
    if ((fp = cm_envelope_tmp_open(path, tmp, sizeof(tmp), f->err, sizeof(f->err))) == 0)
	return (CMAIL_EX_FAIL);
    rewind(env);
    ok = cm_envelope_mime_decrypt(env, fp, rsck, alg, 0, &d, why, sizeof(why)) == 0;
    if (!ok)
	snprintf(f->err, sizeof(f->err), "message %lu: the ENVELOPE does not decrypt: %s", num, why);
    if (ok) {
	plain = open_plain(n, fp, tmp);
	ok = cm_receipt_envelope_check(n, &d, plain, env, why, sizeof(why)) == 0;
	if (plain)
	    fclose(plain);
	if (!ok)
	    snprintf(f->err, sizeof(f->err), "message %lu: %s", num, why);
    }
    if (ok && cm_write_file_atomic(rpath, xml, xml_len, 0600) < 0) {
	snprintf(f->err, sizeof(f->err), "cannot write %.1000s: %s", rpath, strerror(errno));
	ok = 0;
    }
    if (cm_envelope_tmp_commit(fp, tmp, path, ok, why, sizeof(why)) < 0 && ok) {
	snprintf(f->err, sizeof(f->err), "%s", why);
	unlink(rpath);
	return (CMAIL_EX_FAIL);
    }
    if (!ok)
	return (CMAIL_EX_FAIL);
    printf("message %lu: certified, envelope %s: wrote %s and %s\n", num, n->envelope_id, path, rpath);
    return (0);
}

/* read_small - the whole of a file of at most max bytes, or NULL */
static char *read_small(FILE *fp, size_t max, size_t *len)
{
    long    size;
    char   *buf;

    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || (size_t) size > max
	|| fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t) size + 1)) == 0)
	return (0);
    if (fread(buf, 1, (size_t) size, fp) != (size_t) size) {
	free(buf);
	return (0);
    }
    buf[size] = 0;
    *len = (size_t) size;
    return (buf);
}

/* find_receipt - our signed receipt notice for an ENVELOPE, in DIR */
static CM_NOTICE *find_receipt(FETCH *f, const char *cipher_b64, xmlDocPtr *docp,
			               char **xmlp, size_t *xml_len, char *found, size_t found_len)
{
    DIR    *dir;
    struct dirent *de;
    char    path[4096], why[256];
    CM_NOTICE *n = 0;
    FILE   *fp;
    size_t  len, seen = 0;
    char   *xml;

    if ((dir = opendir(f->out)) == 0)
	return (0);
    while (n == 0 && (de = readdir(dir)) != 0 && seen++ < FETCH_SCAN_MAX) {
	len = strlen(de->d_name);
	if (!((len > sizeof(SIGNED_SUFFIX) && strcmp(de->d_name + len - strlen(SIGNED_SUFFIX), SIGNED_SUFFIX) == 0)
	      || (len > sizeof(PENDING_SUFFIX) && strcmp(de->d_name + len - strlen(PENDING_SUFFIX), PENDING_SUFFIX) == 0)))
	    continue;
	snprintf(path, sizeof(path), "%s/%s", f->out, de->d_name);
	if ((fp = fopen(path, "rb")) == 0)
	    continue;
	xml = read_small(fp, CM_NOTICE_MAX, &len);
	fclose(fp);
	if (xml == 0)
	    continue;
	if ((n = cm_notice_read(xml, len, docp, why, sizeof(why))) != 0
	    && (n->type != CM_NOTICE_SIGNED_RECEIPT || n->content.ciphered.value == 0
		|| !cm_hash_b64_equal(n->content.ciphered.value, cipher_b64))) {
	    cm_notice_free(n);
	    xmlFreeDoc(*docp);
	    n = 0;
	}
	if (n) {
	    *xmlp = xml;
	    *xml_len = len;
	    snprintf(found, found_len, "%s", path);
	} else {
	    free(xml);
	}
    }
    closedir(dir);
    return (n);
}

/* fetch_answered - RETR gave the ENVELOPE: the challenge was answered before */
static int fetch_answered(FETCH *f, unsigned long num, FILE *env)
{
    CM_ENVELOPE_DIGESTS d;
    CM_DSIG_REPORT rep;
    CM_NOTICE *n;
    xmlDocPtr doc = 0;
    unsigned char rsck[CM_ENVELOPE_KEY_LEN];
    CM_ENVELOPE_ALG alg;
    char    why[512], found[4096], path[4096];
    char   *xml = 0;
    size_t  xml_len;
    struct stat sb;
    int     ret = CMAIL_EX_FAIL;

    rewind(env);
    if (cm_envelope_mime_extract(env, 0, 0, &d, why, sizeof(why)) < 0) {
	snprintf(f->err, sizeof(f->err), "message %lu: RETR gave neither a receipt notice nor an ENVELOPE: %s",
		 num, why);
	return (CMAIL_EX_FAIL);
    }
    if ((n = find_receipt(f, d.cipher_b64, &doc, &xml, &xml_len, found, sizeof(found))) == 0) {
	snprintf(f->err, sizeof(f->err), "message %lu: its challenge was answered before (the server sends the"
		 " ENVELOPE) and no signed receipt notice for it is in %.1000s: cannot decrypt it", num, f->out);
	return (CMAIL_EX_FAIL);
    }
    out_path(f, path, sizeof(path), n->envelope_id, "eml");
    if (strstr(found, PENDING_SUFFIX) == 0 && stat(path, &sb) == 0) {
	printf("message %lu: certified, envelope %s: already fetched (%s)\n", num, n->envelope_id, path);
	ret = 0;
    } else if (cm_dsig_verify(doc, f->trust, &rep) < 0) {
	snprintf(f->err, sizeof(f->err), "message %lu: %.1000s does not verify: %s", num, found, rep.reason);
    } else if (cm_receipt_unwrap(n, f->key, rsck, &alg, why, sizeof(why)) < 0) {
	snprintf(f->err, sizeof(f->err), "message %lu: %s", num, why);
    } else {
	ret = deliver(f, num, n, env, rsck, alg, xml, xml_len);
	OPENSSL_cleanse(rsck, sizeof(rsck));
	if (ret == 0 && strstr(found, PENDING_SUFFIX))
	    unlink(found);
    }
    free(xml);
    cm_notice_free(n);
    xmlFreeDoc(doc);
    return (ret);
}

/* fetch_certified - RETR n, verify, answer, CHLG RESP, ENVELOPE; next as fetch_ordinary */
static int fetch_certified(FETCH *f, unsigned long num, unsigned long next)
{
    char   *b64 = 0, *xml = 0, *sxml = 0;
    size_t  b64_len = 0, xml_len, sxml_len;
    xmlDocPtr doc = 0;
    CM_NOTICE *n = 0;
    unsigned char rsck[CM_ENVELOPE_KEY_LEN];
    CM_ENVELOPE_ALG alg;
    char    why[1024], pending[4096];
    FILE   *env = 0;
    int     r, ret = CMAIL_EX_FAIL;

    memset(rsck, 0, sizeof(rsck));
    pending[0] = 0;
    if ((env = tmpfile()) == 0) {
	snprintf(f->err, sizeof(f->err), "temporary file: %s", strerror(errno));
	if (drain_retr(f, num) < 0)
	    ret = FETCH_EX_TEMP;
	goto done;
    }
    if ((r = retr(f, num, 0)) != 1) {
	ret = r < 0 ? FETCH_EX_TEMP : refused(f, "RETR");
	goto done;
    }
    if (body(f, env, 0, 0, 0, 0) < 0 || fflush(env) != 0) {
	ret = FETCH_EX_TEMP;
	goto done;
    }
    if ((b64 = read_small(env, FETCH_NOTICE_B64_MAX, &b64_len)) == 0
	|| (xml = (char *) cm_base64_decode(b64, b64_len, &xml_len)) == 0) {
	ret = fetch_answered(f, num, env);
	goto done;
    }
    if ((n = cm_notice_read(xml, xml_len, &doc, why, sizeof(why))) == 0) {
	snprintf(f->err, sizeof(f->err), "message %lu: bad receipt notice: %s", num, why);
	goto done;
    }
    if (cm_receipt_check_cached(doc, n, f->trust, f->cert, &f->rcache, why, sizeof(why)) < 0
	|| cm_receipt_answer(doc, n, f->key, f->cert, rsck, &alg, why, sizeof(why)) < 0) {
	snprintf(f->err, sizeof(f->err), "message %lu: %s", num, why);
	goto done;
    }
    if ((sxml = cm_xml_serialize(doc, &sxml_len)) == 0) {
	snprintf(f->err, sizeof(f->err), "out of memory");
	goto done;
    }
    /* Kept until the ENVELOPE is in: a lost connection must not lose the key. */
    snprintf(pending, sizeof(pending), "%s/.%s%s", f->out, n->envelope_id, PENDING_SUFFIX);
    if (cm_write_file_atomic(pending, sxml, sxml_len, 0600) < 0) {
	snprintf(f->err, sizeof(f->err), "cannot write %.1000s: %s", pending, strerror(errno));
	pending[0] = 0;
	goto done;
    }
    if ((r = chlg_resp(f, sxml, sxml_len, next)) != 1) {
	if (r < 0) {
	    ret = FETCH_EX_TEMP;
	} else {
	    snprintf(f->err, sizeof(f->err), "message %lu: server refused the answer (CHLG RESP): %s",
		     num, f->reply);
	}
	goto done;
    }
    if (ftruncate(fileno(env), 0) < 0 || fseek(env, 0, SEEK_SET) != 0) {
	snprintf(f->err, sizeof(f->err), "temporary file: %s", strerror(errno));
	goto done;
    }
    if (body(f, env, 0, 0, 0, 0) < 0 || fflush(env) != 0) {
	ret = FETCH_EX_TEMP;
	goto done;
    }
    ret = deliver(f, num, n, env, rsck, alg, sxml, sxml_len);
done:
    if (pending[0] && ret == FETCH_EX_TEMP) {
	size_t  len = strlen(f->err);

	snprintf(f->err + len, sizeof(f->err) - len, "; the signed receipt notice is kept in %.1000s:"
		 " run cmail fetch again", pending);
    } else if (pending[0]) {
	unlink(pending);
    }
    OPENSSL_cleanse(rsck, sizeof(rsck));
    if (env)
	fclose(env);
    free(b64);
    free(xml);
    free(sxml);
    cm_notice_free(n);
    if (doc)
	xmlFreeDoc(doc);
    return (ret);
}

/* worse - combine exit statuses: 75 beats 1 beats 0 */
static int worse(int a, int b)
{
    if (a == FETCH_EX_TEMP || b == FETCH_EX_TEMP)
	return (FETCH_EX_TEMP);
    return (a ? a : b);
}

/* run - the session after login */
static int run(FETCH *f)
{
    CM_POP3_LISTING *l = 0;
    size_t  n = 0, i, j, skipped = 0;
    int     ret, r;

    if (!f->cmail)
	fprintf(stderr, "cmail fetch: note: %s does not support certified mail (no \"CMAIL CertifiedMail\""
		" in CAPA); %s ordinary mail only\n", f->server, f->list_only ? "listing" : "fetching");
    if ((ret = list(f, &l, &n)) != 0) {
	free(l);
	return (ret);
    }
    for (i = 0; i < n; i++) {
	unsigned long next = 0;

	if (l[i].certified && !f->cmail) {
	    skipped++;
	    continue;
	}
	if (f->list_only) {
	    printf("%lu %llu%s\n", l[i].num, l[i].size, l[i].certified ? " CertifiedMail" : "");
	    continue;
	}
	/*
	 * The message fetched after this one: its RETR may go out ahead. Not
	 * with --delete: DELE n must follow message n's own replies.
	 */
	for (j = i + 1; j < n && next == 0 && !f->delete; j++)
	    if (!l[j].certified || f->cmail)
		next = l[j].num;
	r = l[i].certified ? fetch_certified(f, l[i].num, next) : fetch_ordinary(f, l[i].num, next);
	if (r == 0 && f->delete) {
	    if ((r = command(f, "DELE %lu", l[i].num)) < 0) {
		r = FETCH_EX_TEMP;
	    } else if (r == 0) {
		fprintf(stderr, "cmail fetch: note: message %lu stays on the server: %s\n", l[i].num, f->reply);
	    } else {
		r = 0;
	    }
	}
	if (r != 0) {
	    fprintf(stderr, "cmail fetch: %s\n", f->err);
	    f->err[0] = 0;
	    ret = worse(ret, r);
	    if (r == FETCH_EX_TEMP)
		break;
	}
    }
    if (ret != FETCH_EX_TEMP && f->ahead != 0) {	/* cannot happen: only the next one goes ahead */
	snprintf(f->err, sizeof(f->err), "internal error: RETR %lu left unread", f->ahead);
	ret = FETCH_EX_TEMP;
    }
    if (skipped)
	fprintf(stderr, "cmail fetch: note: %zu message%s marked CertifiedMail left on the server\n",
		skipped, skipped == 1 ? "" : "s");
    if (ret != FETCH_EX_TEMP && command(f, "QUIT") < 0)
	f->err[0] = 0;
    free(l);
    return (ret);
}

/* cmd_fetch - the subcommand */
int     cmd_fetch(int argc, char **argv)
{
    static const struct option longopts[] = {
	{"server", required_argument, 0, 's'},
	{"server-name", required_argument, 0, 'N'},
	{"user", required_argument, 0, 'u'},
	{"password-file", required_argument, 0, 'P'},
	{"cert", required_argument, 0, 'C'},
	{"key", required_argument, 0, 'K'},
	{"ca", required_argument, 0, 'A'},
	{"crl", required_argument, 0, 'R'},
	{"tls-ca", required_argument, 0, 'L'},
	{"out", required_argument, 0, 'o'},
	{"list", no_argument, 0, 'l'},
	{"delete", no_argument, 0, 'D'},
	{"implicit-tls", no_argument, 0, 'I'},
	{"timeout", required_argument, 0, 'T'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
    };
    FETCH   f;
    int     ch, ret;
    struct stat sb;

    memset(&f, 0, sizeof(f));
    f.fd = -1;
    f.timeout = 300;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, 0)) != -1) {
	switch (ch) {
	case 's': f.server = optarg; break;
	case 'N': f.server_name = optarg; break;
	case 'u': f.user = optarg; break;
	case 'P': f.password_file = optarg; break;
	case 'C': f.cert_file = optarg; break;
	case 'K': f.key_file = optarg; break;
	case 'A': f.ca = optarg; break;
	case 'R': f.crl = optarg; break;
	case 'L': f.tls_ca = optarg; break;
	case 'o': f.out = optarg; break;
	case 'l': f.list_only = 1; break;
	case 'D': f.delete = 1; break;
	case 'I': f.implicit_tls = 1; break;
	case 'T': f.timeout = atoi(optarg); break;
	case 'h': return (fetch_usage(stdout, CMAIL_EX_OK));
	default: return (fetch_usage(stderr, CMAIL_EX_USAGE));
	}
    }
    if (optind != argc || !f.server || !f.user || !f.cert_file || !f.key_file || !f.ca
	|| f.timeout <= 0 || (!f.out && !f.list_only) || (f.delete && f.list_only))
	return (fetch_usage(stderr, CMAIL_EX_USAGE));
    if (strpbrk(f.user, "\r\n") || strlen(f.user) > 255) {
	fprintf(stderr, "cmail fetch: invalid --user\n");
	return (CMAIL_EX_USAGE);
    }
    if (f.out && (stat(f.out, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
	fprintf(stderr, "cmail fetch: --out %s is not a directory\n", f.out);
	return (CMAIL_EX_USAGE);
    }
    ret = CMAIL_EX_USAGE;
    if ((f.password = read_password(f.password_file, f.err, sizeof(f.err))) == 0
	|| (f.cert = cm_pem_read_cert(f.cert_file, f.err, sizeof(f.err))) == 0
	|| (f.key = cm_pem_read_key(f.key_file, f.err, sizeof(f.err))) == 0
	|| (f.trust = cm_trust_load(f.ca, f.crl, f.err, sizeof(f.err))) == 0)
	goto done;
    if (strpbrk(f.password, "\r\n") || strlen(f.password) > 255) {
	snprintf(f.err, sizeof(f.err), "the password must be one line of at most 255 bytes");
	goto done;
    }
    if (X509_check_private_key(f.cert, f.key) != 1) {
	snprintf(f.err, sizeof(f.err), "--key does not belong to --cert");
	goto done;
    }
    if ((f.line = malloc(FETCH_LINE_MAX)) == 0) {
	snprintf(f.err, sizeof(f.err), "out of memory");
	ret = CMAIL_EX_FAIL;
	goto done;
    }
    /* A server that hangs up must give an error, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if ((ret = session_open(&f)) == 0)
	ret = run(&f);
done:
    if (ret != 0 && f.err[0])
	fprintf(stderr, "cmail fetch: %s\n", f.err);
    if (f.password) {
	OPENSSL_cleanse(f.password, strlen(f.password));
	free(f.password);
    }
    free(f.line);
    cm_stream_close(f.st);
    if (f.fd >= 0)
	close(f.fd);
    X509_free(f.cert);
    EVP_PKEY_free(f.key);
    cm_trust_free(f.trust);
    return (ret);
}
