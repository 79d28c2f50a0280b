/*++
 * NAME
 *	cm_cmtp_client 3
 * SUMMARY
 *	CMTP client towards another Cmail server (CHCK RCPT, SEND EVLP, SEND NORP)
 * DESCRIPTION
 *	See cm_cmtp_client.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <unistd.h>
#include <errno.h>
#include <poll.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cm_log.h"
#include "cm_limits.h"
#include "cm_addr.h"
#include "cm_cert.h"
#include "cm_config.h"
#include "cm_connect.h"
#include "cm_stream.h"
#include "cm_reply.h"
#include "cm_tls.h"
#include "cm_peer.h"
#include "cm_relay_map.h"
#include "cm_hash.h"
#include "cm_noticemail.h"
#include "cm_cmtp_client.h"

#define CMTP_QUIT_TIMEOUT	5	/* seconds for the QUIT answer */
/* Characters kept in a notice mail's Message-ID (as cmail-pop3-receipt.c). */
#define CMTP_MSGID_CHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define CMTP_HOSTNAME_MAX	256

struct CM_CMTP_CLIENT {
    int     fd;
    CM_STREAM *st;
    CM_TRUST *trust;			/* not owned */
    X509   *peer;			/* validated peer certificate */
    char    host[CM_HOSTPORT_MAX];	/* connected to */
    int     broken;			/* transport failed */
};

/* last_text - the text of a reply's last line */
static const char *last_text(const CM_REPLY *r)
{
    return (r->nlines ? r->lines[r->nlines - 1] : "");
}

/* my_hostname - cmail.conf myhostname, else the system's */
static void my_hostname(const CM_CONFIG *cf, char *buf, size_t size)
{
    const char *name = cm_config_str(cf, "myhostname");

    if (*name) {
	snprintf(buf, size, "%s", name);
	return;
    }
    if (gethostname(buf, size) < 0 || *buf == 0)
	snprintf(buf, size, "localhost");
    buf[size - 1] = 0;
}

/* command - send one command line, read the reply; -1 on transport failure */
static int command(CM_STREAM *st, CM_REPLY *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int command(CM_STREAM *st, CM_REPLY *r, const char *fmt, ...)
{
    char    line[CM_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    memset(r, 0, sizeof(*r));
    if (cm_stream_printf(st, "%s\r\n", line) < 0 || cm_stream_flush(st) < 0
	|| cm_reply_read(st, r) < 0)
	return (-1);
    return (0);
}

/* fail_of_code - failure class of an unexpected reply code */
static int fail_of_code(int code)
{
    return (code / 100 == 5 ? CM_CMTP_FAIL_PERM : CM_CMTP_FAIL_TEMP);
}

/* reply_fail - failure class of a reply, which is freed */
static int reply_fail(CM_REPLY *r)
{
    int     code = r->code;

    cm_reply_free(r);
    return (fail_of_code(code));
}

/* session_start - greeting, EHLO, STARTTLS, peer check, CELO on one connection */
static int session_start(CM_CMTP_CLIENT *c, SSL_CTX *ctx, const char *helo,
			         const char *domain, char *err, size_t errlen)
{
    CM_REPLY r;
    char    why[512];
    SSL    *ssl;
    long    vr;

    memset(&r, 0, sizeof(r));
    if (cm_reply_read(c->st, &r) < 0) {
	snprintf(err, errlen, "%s: no greeting", c->host);
	return (CM_CMTP_FAIL_TEMP);
    }
    if (r.code != 220) {
	snprintf(err, errlen, "%s: greeting %d %.200s", c->host, r.code, last_text(&r));
	return (reply_fail(&r));
    }
    cm_reply_free(&r);
    if (command(c->st, &r, "EHLO %s", helo) < 0) {
	snprintf(err, errlen, "%s: connection lost after EHLO", c->host);
	return (CM_CMTP_FAIL_TEMP);
    }
    if (r.code != 250) {
	snprintf(err, errlen, "%s: EHLO refused: %d %.200s", c->host, r.code, last_text(&r));
	return (reply_fail(&r));
    }
    cm_reply_free(&r);
    if (command(c->st, &r, "STARTTLS") < 0) {
	snprintf(err, errlen, "%s: connection lost after STARTTLS", c->host);
	return (CM_CMTP_FAIL_TEMP);
    }
    if (r.code != 220) {
	snprintf(err, errlen, "%s: STARTTLS refused: %d %.200s", c->host, r.code, last_text(&r));
	return (reply_fail(&r));
    }
    cm_reply_free(&r);
    if (cm_stream_buffered(c->st) > 0) {
	snprintf(err, errlen, "%s: server sent data before the TLS handshake", c->host);
	return (CM_CMTP_FAIL_TEMP);
    }
    /* No host name check by OpenSSL: the peer must speak for the mail domain. */
    if (cm_stream_starttls(c->st, ctx, 0, 0, why, sizeof(why)) < 0) {
	ssl = cm_stream_ssl(c->st);
	if (ssl && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
	    snprintf(err, errlen, "%s: peer certificate refused: %s", c->host,
		     X509_verify_cert_error_string(vr));
	    return (CM_CMTP_FAIL_PEER);
	}
	snprintf(err, errlen, "%s: %.400s", c->host, why);
	return (CM_CMTP_FAIL_TEMP);
    }
    if (cm_peer_cert(cm_stream_ssl(c->st), &c->peer) < 0) {
	snprintf(err, errlen, "%s: peer sent no certificate", c->host);
	return (CM_CMTP_FAIL_PEER);
    }
    if (cm_peer_validate(c->trust, c->peer, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "%s: peer certificate refused: %.400s", c->host, why);
	return (CM_CMTP_FAIL_PEER);
    }
    if (!cm_peer_speaks_for(c->peer, domain)) {
	snprintf(err, errlen, "%s: peer certificate refused: it does not speak for %.200s",
		 c->host, domain);
	return (CM_CMTP_FAIL_PEER);
    }
    if (command(c->st, &r, "CELO %s", helo) < 0) {
	snprintf(err, errlen, "%s: connection lost after CELO", c->host);
	return (CM_CMTP_FAIL_TEMP);
    }
    if (r.code != 250) {
	snprintf(err, errlen, "%s: CELO refused: %d %.200s", c->host, r.code, last_text(&r));
	return (reply_fail(&r));
    }
    cm_reply_free(&r);
    return (-1);
}

/* client_free - close and free without QUIT */
static void client_free(CM_CMTP_CLIENT *c)
{
    if (c == 0)
	return;
    cm_stream_close(c->st);
    if (c->fd >= 0)
	close(c->fd);
    X509_free(c->peer);
    free(c);
}

/* cm_cmtp_open_ex - a session with the Cmail server of domain */
CM_CMTP_CLIENT *cm_cmtp_open_ex(const CM_CONFIG *cf, CM_TRUST *trust, const char *domain,
				        char *err, size_t errlen, int *fail_r)
{
    char    (*hosts)[CM_HOSTPORT_MAX];
    char    helo[CMTP_HOSTNAME_MAX];
    int     timeout = (int) cm_config_int(cf, "smtp_timeout");
    int     ctimeout;
    int     n, i, fail, any_temp = 0, any_peer = 0;
    SSL_CTX *ctx = 0;
    CM_CMTP_CLIENT *c = 0;

    *fail_r = CM_CMTP_FAIL_TEMP;
    if (timeout <= 0)
	timeout = 300;
    ctimeout = timeout < CM_CMTP_CONNECT_TIMEOUT ? timeout : CM_CMTP_CONNECT_TIMEOUT;
    if ((hosts = calloc(CM_RELAY_HOSTS_MAX, sizeof(*hosts))) == 0) {
	snprintf(err, errlen, "out of memory");
	return (0);
    }
    n = cm_relay_lookup(cf, domain, hosts, CM_RELAY_HOSTS_MAX, err, errlen);
    if (n <= 0) {
	if (n == 0) {
	    char    why[256];

	    snprintf(why, sizeof(why), "%s", err);
	    snprintf(err, errlen, "no Cmail server for %.200s: %s", domain, why);
	    *fail_r = CM_CMTP_FAIL_PERM;
	}
	free(hosts);
	return (0);
    }
    if ((ctx = cm_tls_client_ctx(cm_config_str(cf, "trust_anchors"),
				 cm_config_str(cf, "tls_certificate"),
				 cm_config_str(cf, "tls_key"), err, errlen)) == 0) {
	free(hosts);
	return (0);
    }
    my_hostname(cf, helo, sizeof(helo));
    for (i = 0; i < n; i++) {
	if ((c = calloc(1, sizeof(*c))) == 0) {
	    snprintf(err, errlen, "out of memory");
	    any_temp = 1;
	    break;
	}
	c->trust = trust;
	snprintf(c->host, sizeof(c->host), "%s", hosts[i]);
	if ((c->fd = cm_connect(hosts[i], ctimeout, err, errlen)) < 0) {
	    fail = CM_CMTP_FAIL_TEMP;
	} else if ((c->st = cm_stream_open(c->fd, c->fd, timeout)) == 0) {
	    snprintf(err, errlen, "out of memory");
	    fail = CM_CMTP_FAIL_TEMP;
	} else {
	    fail = session_start(c, ctx, helo, domain, err, errlen);
	}
	if (fail < 0)
	    break;
	msg_info("%s: %s", domain, err);
	if (fail == CM_CMTP_FAIL_TEMP)
	    any_temp = 1;
	else if (fail == CM_CMTP_FAIL_PEER)
	    any_peer = 1;
	client_free(c);
	c = 0;
    }
    SSL_CTX_free(ctx);
    free(hosts);
    if (c == 0)
	*fail_r = any_temp ? CM_CMTP_FAIL_TEMP : any_peer ? CM_CMTP_FAIL_PEER : CM_CMTP_FAIL_PERM;
    return (c);
}

/* cm_cmtp_open - the same, temporary or not */
CM_CMTP_CLIENT *cm_cmtp_open(const CM_CONFIG *cf, CM_TRUST *trust, const char *domain,
			             char *err, size_t errlen, int *temporary)
{
    int     fail;
    CM_CMTP_CLIENT *c = cm_cmtp_open_ex(cf, trust, domain, err, errlen, &fail);

    *temporary = (c == 0 && fail == CM_CMTP_FAIL_TEMP);
    return (c);
}

/* broken - the session is unusable */
static int broken(CM_CMTP_CLIENT *c, int *code_r, char *err, size_t errlen, const char *what)
{
    c->broken = 1;
    *code_r = 0;
    snprintf(err, errlen, "%s: connection lost %s", c->host, what);
    return (-1);
}

/* refused - the peer's reply as a failure */
static int refused(CM_CMTP_CLIENT *c, CM_REPLY *r, int *code_r, char *err, size_t errlen,
		           const char *what)
{
    *code_r = r->code;
    snprintf(err, errlen, "%s said %d %.300s (%s)", c->host, r->code, last_text(r), what);
    cm_reply_free(r);
    return (-1);
}

/* usable - fail early on a broken session */
static int usable(CM_CMTP_CLIENT *c, int *code_r, char *err, size_t errlen)
{
    if (c == 0 || c->broken) {
	*code_r = 0;
	snprintf(err, errlen, "%s: session unusable after an earlier failure", c ? c->host : "CMTP");
	return (0);
    }
    return (1);
}

/* cm_cmtp_chck_rcpt - CHCK RCPT: the validated certificate of a remote user */
int     cm_cmtp_chck_rcpt(CM_CMTP_CLIENT *c, const char *addr, X509 **cert_r, int *code_r,
			          char *err, size_t errlen)
{
    CM_REPLY r;
    CM_CERT_OPTS opts;
    X509   *cert;
    char    why[512];

    *cert_r = 0;
    if (!usable(c, code_r, err, errlen))
	return (-1);
    if (addr == 0 || !cm_addr_valid(addr)) {
	*code_r = 501;
	snprintf(err, errlen, "invalid address '%.100s'", addr ? addr : "");
	return (-1);
    }
    if (command(c->st, &r, "CHCK RCPT <%s> CertificateRequested", addr) < 0)
	return (broken(c, code_r, err, errlen, "after CHCK RCPT"));
    if (r.code != 250)
	return (refused(c, &r, code_r, err, errlen, "CHCK RCPT"));
    cert = cm_reply_get_cert(&r, "UserCertificate");
    cm_reply_free(&r);
    *code_r = 554;
    if (cert == 0) {
	snprintf(err, errlen, "%s: no certificate for <%s> in the CHCK RCPT reply", c->host, addr);
	return (-1);
    }
    memset(&opts, 0, sizeof(opts));
    opts.role = CM_ROLE_CLIENT;
    opts.purpose = CM_PURPOSE_SMIME;
    opts.usage = CM_USE_ENCIPHER;
    opts.addresses[0] = addr;
    opts.n_addresses = 1;
    if (cm_cert_validate(c->trust, cert, &opts, why, sizeof(why)) < 0) {
	X509_free(cert);
	snprintf(err, errlen, "%s: certificate of <%.100s> refused: %.300s", c->host, addr, why);
	return (-1);
    }
    *code_r = 250;
    *cert_r = cert;
    return (0);
}

/* send_long - a command with a long argument (base64 notice) */
static int send_long(CM_CMTP_CLIENT *c, const char *verb, const char *b64, CM_REPLY *r,
		             int *code_r, char *err, size_t errlen)
{
    size_t  len = b64 ? strlen(b64) : 0;

    memset(r, 0, sizeof(*r));
    if (len == 0 || len + strlen(verb) + 3 > CM_CMD_LINE_MAX
	|| strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len) {
	*code_r = 501;
	snprintf(err, errlen, "%s: the notice is empty, not base64, or too long (%zu bytes)", verb, len);
	return (-1);
    }
    if (cm_stream_printf(c->st, "%s ", verb) < 0 || cm_stream_write(c->st, b64, len) < 0
	|| cm_stream_write(c->st, "\r\n", 2) < 0 || cm_stream_flush(c->st) < 0
	|| cm_reply_read(c->st, r) < 0)
	return (broken(c, code_r, err, errlen, verb));
    return (0);
}

/* send_envelope - the ENVELOPE as CRLF lines, dot-stuffed, then "." */
static int send_envelope(CM_CMTP_CLIENT *c, FILE *fp)
{
    char    line[CM_LINE_MAX + 2];
    int     at_bol = 1;

    while (fgets(line, sizeof(line), fp)) {
	size_t  n = strlen(line);
	int     eol = n > 0 && line[n - 1] == '\n';

	if (eol) {
	    n--;
	    if (n > 0 && line[n - 1] == '\r')
		n--;
	}
	if (at_bol && line[0] == '.' && cm_stream_write(c->st, ".", 1) < 0)
	    return (-1);
	if (cm_stream_write(c->st, line, n) < 0)
	    return (-1);
	if (eol && cm_stream_write(c->st, "\r\n", 2) < 0)
	    return (-1);
	at_bol = eol;
    }
    if (ferror(fp))
	return (-1);
    if (!at_bol && cm_stream_write(c->st, "\r\n", 2) < 0)
	return (-1);
    if (cm_stream_write(c->st, ".\r\n", 3) < 0 || cm_stream_flush(c->st) < 0)
	return (-1);
    return (0);
}

/* cm_cmtp_send_evlp - SEND EVLP, the ENVELOPE, the TransitNotice */
int     cm_cmtp_send_evlp(CM_CMTP_CLIENT *c, const char *sdn_b64, FILE *envelope,
			          char **transit_xml_r, size_t *len_r, int *code_r,
			          char *err, size_t errlen)
{
    CM_REPLY r;
    unsigned char *xml;
    size_t  len;

    *transit_xml_r = 0;
    *len_r = 0;
    if (!usable(c, code_r, err, errlen))
	return (-1);
    if (send_long(c, "SEND EVLP", sdn_b64, &r, code_r, err, errlen) < 0)
	return (-1);
    if (r.code != 354)
	return (refused(c, &r, code_r, err, errlen, "SEND EVLP"));
    cm_reply_free(&r);
    if (send_envelope(c, envelope) < 0) {
	if (ferror(envelope)) {
	    c->broken = 1;
	    *code_r = 0;
	    snprintf(err, errlen, "read error on the ENVELOPE");
	    return (-1);
	}
	return (broken(c, code_r, err, errlen, "while sending the ENVELOPE"));
    }
    if (cm_reply_read(c->st, &r) < 0)
	return (broken(c, code_r, err, errlen, "after the ENVELOPE"));
    if (r.code != 250)
	return (refused(c, &r, code_r, err, errlen, "ENVELOPE"));
    xml = cm_reply_get_object(&r, "TransitNotice", &len);
    cm_reply_free(&r);
    *code_r = 250;
    if (xml == 0 || len == 0 || len > CM_NOTICE_MAX) {
	free(xml);
	snprintf(err, errlen, "%s accepted the ENVELOPE without a TransitNotice", c->host);
	return (-1);
    }
    if ((*transit_xml_r = malloc(len + 1)) == 0) {
	free(xml);
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    memcpy(*transit_xml_r, xml, len);
    (*transit_xml_r)[len] = 0;
    *len_r = len;
    free(xml);
    return (0);
}

/* cm_cmtp_send_norp - SEND NORP: a receipt notice for a sender of the peer */
int     cm_cmtp_send_norp(CM_CMTP_CLIENT *c, const char *receipt_b64, int *code_r,
			          char *err, size_t errlen)
{
    CM_REPLY r;

    if (!usable(c, code_r, err, errlen))
	return (-1);
    if (send_long(c, "SEND NORP", receipt_b64, &r, code_r, err, errlen) < 0)
	return (-1);
    if (r.code != 250)
	return (refused(c, &r, code_r, err, errlen, "SEND NORP"));
    cm_reply_free(&r);
    *code_r = 250;
    return (0);
}

/* cm_cmtp_peer_host - host:port of the session */
const char *cm_cmtp_peer_host(const CM_CMTP_CLIENT *c)
{
    return (c->host);
}

/* cm_cmtp_peer_cert - the peer's validated certificate */
X509   *cm_cmtp_peer_cert(const CM_CMTP_CLIENT *c)
{
    return (c->peer);
}

/* cm_cmtp_close - QUIT, close, free */
void    cm_cmtp_close(CM_CMTP_CLIENT *c)
{
    CM_REPLY r;

    if (c == 0)
	return;
    if (!c->broken && c->st) {
	struct pollfd pfd;
	SSL    *ssl = cm_stream_ssl(c->st);
	int     n;

	/* Wait a little for 221 (a peer that never answers QUIT costs seconds, not minutes). */
	if (cm_stream_printf(c->st, "QUIT\r\n") == 0 && cm_stream_flush(c->st) == 0) {
	    pfd.fd = c->fd;
	    pfd.events = POLLIN;
	    do {
		n = (cm_stream_buffered(c->st) > 0 || (ssl && SSL_pending(ssl) > 0)) ? 1
		    : poll(&pfd, 1, CMTP_QUIT_TIMEOUT * 1000);
	    } while (n < 0 && errno == EINTR);
	    if (n > 0 && cm_reply_read(c->st, &r) == 0)
		cm_reply_free(&r);
	}
    }
    client_free(c);
}

/* cm_cmtp_notice_msgid - <cmail-KIND.ENVID.HASH@DOMAIN>, fixed per notice */
int     cm_cmtp_notice_msgid(char *buf, size_t size, const char *kind,
			             const char *envelope_id, const char *key, const char *domain)
{
    char    lkey[CM_ADDRESS_MAX + 1], env[CM_ENVELOPE_ID_MAX + 1], dom[CM_ADDRESS_MAX + 1];
    char    hex[17];
    unsigned char md[32];
    size_t  mdlen = 0, i, n;
    CM_HASH *h;
    int     ok;

    if (size > 0)
	buf[0] = 0;
    if (kind == 0 || envelope_id == 0 || key == 0 || (n = strlen(key)) >= sizeof(lkey)
	|| strlen(envelope_id) >= sizeof(env) || strspn(kind, CMTP_MSGID_CHARS) != strlen(kind))
	return (-1);
    for (i = 0; i < n; i++)
	lkey[i] = (char) ((key[i] >= 'A' && key[i] <= 'Z') ? key[i] - 'A' + 'a' : key[i]);
    lkey[n] = 0;
    if ((h = cm_hash_new(CM_HASH_SHA256)) == 0)
	return (-1);
    ok = cm_hash_update(h, lkey, n) == 0 && cm_hash_final_raw(h, md, &mdlen) == 0 && mdlen >= 8;
    cm_hash_free(h);
    if (!ok)
	return (-1);
    for (i = 0; i < 8; i++)
	snprintf(hex + 2 * i, 3, "%02x", md[i]);
    for (i = 0; envelope_id[i]; i++)
	env[i] = strchr(CMTP_MSGID_CHARS, envelope_id[i]) ? envelope_id[i] : '=';
    env[i] = 0;
    if (domain == 0 || *domain == 0 || strlen(domain) >= sizeof(dom)
	|| strspn(domain, CMTP_MSGID_CHARS) != strlen(domain) || strchr(domain, '_'))
	domain = "invalid";
    for (i = 0; domain[i]; i++)
	dom[i] = (char) ((domain[i] >= 'A' && domain[i] <= 'Z') ? domain[i] - 'A' + 'a' : domain[i]);
    dom[i] = 0;
    n = (size_t) snprintf(buf, size, "<cmail-%s.%s.%s@%s>", kind, env, hex, dom);
    if (n >= size || n > CM_NOTICEMAIL_MSGID_MAX) {
	if (size > 0)
	    buf[0] = 0;
	return (-1);
    }
    return (0);
}
