/*++
 * NAME
 *	cmtp_session 3
 * SUMMARY
 *	CMTP command loop: greeting, EHLO/STARTTLS, CELO, DELV, MAIL, RCPT
 * DESCRIPTION
 *	PROFILE.md section 2. Verbs are case-insensitive; lines follow RFC
 *	5321 (at most CM_LINE_MAX bytes, except DEPO whose base64 argument
 *	may reach CM_CMD_LINE_MAX). TLS is required before CELO. A session
 *	without DELV CertifiedMail cannot send mail: cmtpd is not a general
 *	MTA, and says so, pointing to port 25.
 *
 *	Reply texts are PROFILE.md's, exactly; enhanced status codes are
 *	the ones it gives (including its 6.1.x codes for RCPT syntax).
 *
 *	Bounds: CMTP_ERRORS_MAX bad commands end the session with 421;
 *	so do commands that move no transaction forward (NOOP, RSET, HELP,
 *	EHLO, HELO, CELO, DELV) beyond CMTP_JUNK_MAX in one session: each
 *	one past the limit counts as an error, as with Postfix's
 *	smtpd_junk_command_limit (a deposit needs none of them more than
 *	once per session). session_time_limit bounds the rest.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "cm_log.h"
#include "cm_addr.h"
#include "cm_reply.h"
#include "cm_certdir.h"
#include "cm_pem.h"
#include "cmtpd.h"

/* cmtp_reset - drop the transaction (sender, recipients, data) */
void    cmtp_reset(CMTP_SESSION *s)
{
    int     i;

    for (i = 0; i < s->nrcpt; i++)
	X509_free(s->rcpts[i].cert);
    free(s->rcpts);
    s->rcpts = 0;
    s->nrcpt = 0;
    X509_free(s->sender_cert);
    s->sender_cert = 0;
    s->sender[0] = 0;
    cmtp_discard_data(s);
}

/* verb_is - case-insensitive verb match; *arg after the verb and blanks */
static int verb_is(const char *line, const char *verb, const char **arg)
{
    size_t  n = strlen(verb);

    if (strncasecmp(line, verb, n) != 0 || (line[n] != 0 && line[n] != ' '))
	return (0);
    line += n;
    while (*line == ' ')
	line++;
    *arg = line;
    return (1);
}

/* cmtp_user_cert - a local user's certificate, validated; NULL with reason */
X509   *cmtp_user_cert(CMTP_SESSION *s, const char *addr, char *err, size_t errlen)
{
    X509   *cert;
    CM_CERT_OPTS opts;

    if (!cm_domain_listed(cm_addr_domain(addr), cm_config_str(s->cf, "local_domains"))) {
	snprintf(err, errlen, "not a local domain");
	return (0);
    }
    if ((cert = cm_certdir_lookup(cm_config_str(s->cf, "certificate_directory"), addr, err, errlen)) == 0)
	return (0);
    cm_cert_opts_user(&opts, addr, CM_USE_SIGN | CM_USE_ENCIPHER);
    if (cm_cert_validate(s->trust, cert, &opts, err, errlen) < 0) {
	X509_free(cert);
	return (0);
    }
    return (cert);
}

/* cmtp_cert_requested - parse the parameters: "" or "CertificateRequested" */
int     cmtp_cert_requested(const char *params, int *requested)
{
    *requested = 0;
    if (*params == 0)
	return (0);
    if (strcasecmp(params, "CertificateRequested") == 0) {
	*requested = 1;
	return (0);
    }
    return (-1);
}

/* cmtp_cert_reply - optional UserCertificate object, then 250 OK */
void    cmtp_cert_reply(CMTP_SESSION *s, X509 *cert, int requested)
{
    if (requested) {
	unsigned char *der = 0;
	int     len = i2d_X509(cert, &der);

	if (len > 0)
	    cm_reply_object(s->st, 250, "UserCertificate:", der, (size_t) len);
	OPENSSL_free(der);
    }
    cm_reply(s->st, 250, "OK");
}

/* cmd_ehlo - EHLO/HELO: plain SMTP greeting, advertises STARTTLS */
static void cmd_ehlo(CMTP_SESSION *s, const char *arg, int ehlo)
{
    if (*arg == 0) {
	cm_reply(s->st, 501, "Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
	return;
    }
    cmtp_reset(s);
    s->celo = s->delv = 0;
    if (!ehlo) {
	cm_reply(s->st, 250, "%s", s->hostname);
	return;
    }
    cm_stream_printf(s->st, "250-%s\r\n", s->hostname);
    if (!s->tls_active)
	cm_stream_printf(s->st, "250-STARTTLS\r\n");
    cm_stream_printf(s->st, "250-PIPELINING\r\n250-8BITMIME\r\n");
    cm_reply(s->st, 250, "DeliveryType CertifiedMail");
}

/* cmd_starttls - RFC 3207 */
static int cmd_starttls(CMTP_SESSION *s, const char *arg)
{
    char    err[512];

    if (s->tls_active) {
	cm_reply(s->st, 554, "5.5.1 Error: TLS already active");
	return (0);
    }
    if (*arg) {
	cm_reply(s->st, 501, "5.5.4 Syntax: STARTTLS");
	return (0);
    }
    if (cm_stream_buffered(s->st) > 0) {
	/* Pipelined plaintext after STARTTLS would be injected into TLS. */
	cm_reply(s->st, 554, "5.5.1 Error: data after STARTTLS command");
	msg_warn("%s: plaintext pipelined after STARTTLS, disconnecting", s->client_addr);
	return (-1);
    }
    cm_reply(s->st, 220, "2.0.0 Ready to start TLS");
    if (cm_stream_starttls(s->st, s->tls, 1, 0, err, sizeof(err)) < 0) {
	msg_warn("%s: %s", s->client_addr, err);
	return (-1);
    }
    s->tls_active = 1;
    cmtp_reset(s);
    s->celo = s->delv = 0;
    msg_info("%s: TLS %s with cipher %s%s", s->client_addr,
	     SSL_get_version(cm_stream_ssl(s->st)), SSL_get_cipher_name(cm_stream_ssl(s->st)),
	     SSL_session_reused(cm_stream_ssl(s->st)) ? " (session resumed)" : "");
    cmtp_peer_identify(s);
    return (0);
}

/* cmd_celo - CELO: the CMTP greeting (section 8.1-8.2) */
static void cmd_celo(CMTP_SESSION *s, const char *arg)
{
    if (!s->tls_active) {
	cm_reply(s->st, 530, "5.7.0 Must issue a STARTTLS command first");
	return;
    }
    if (*arg == 0 || strchr(arg, ' ')) {
	cm_reply(s->st, 501, "Syntax: CELO <fqdn>");
	return;
    }
    cmtp_reset(s);
    s->celo = 1;
    s->delv = 0;
    cm_stream_printf(s->st, "250-%s\r\n", s->hostname);
    cm_stream_printf(s->st, "250-8BITMIME\r\n");
    cm_stream_printf(s->st, "250-PIPELINING\r\n");
    cm_stream_printf(s->st, "250-SIZE %lld\r\n", cm_config_int(s->cf, "message_size_limit"));
    cm_stream_printf(s->st, "250-DeliveryType CertifiedMail\r\n");
    cm_reply(s->st, 250, "OK");
}

/* cmd_delv - DELV CertifiedMail (section 8.3-8.4) */
static void cmd_delv(CMTP_SESSION *s, const char *arg)
{
    if (!s->celo) {
	cm_reply(s->st, 501, "Syntax: use CELO first");
	return;
    }
    if (*arg == 0 || strchr(arg, ' ')) {
	cm_reply(s->st, 501, "Syntax: DELV <delivery type>");
	return;
    }
    if (strcasecmp(arg, "CertifiedMail") != 0) {
	cm_reply(s->st, 501, "Unknown delivery type: %.64s", arg);
	return;
    }
    cmtp_reset(s);
    s->delv = 1;
    cm_reply(s->st, 250, "DeliveryType CertifiedMail OK");
}

/* need_delv - refuse mail commands before DELV, pointing to port 25 */
static int need_delv(CMTP_SESSION *s)
{
    if (s->delv)
	return (0);
    cm_reply(s->st, 503, "Error: need DELV command (this is a Cmail CMTP service for "
	     "certified mail only; send ordinary mail to port 25)");
    return (-1);
}

/* cmd_mail - MAIL FROM <addr> [CertificateRequested] (8.5-8.6) */
static void cmd_mail(CMTP_SESSION *s, const char *arg)
{
    char    addr[CM_ADDRESS_MAX + 1];
    const char *params;
    const char *p;
    int     requested;
    char    err[512];

    if (need_delv(s) < 0)
	return;
    if (s->sender[0]) {
	cm_reply(s->st, 503, "5.5.1 Error: nested MAIL command");
	return;
    }
    if (strncasecmp(arg, "FROM", 4) != 0 || (arg[4] != ':' && arg[4] != ' ')) {
	cm_reply(s->st, 501, "5.5.4 Syntax: MAIL FROM <address>");
	return;
    }
    p = arg + 4;
    if (cm_addr_parse_path(p, addr, sizeof(addr), &params) < 0) {
	cm_reply(s->st, 501, "5.5.4 Syntax: MAIL FROM <address>");
	return;
    }
    if (cmtp_cert_requested(params, &requested) < 0) {
	cm_reply(s->st, 501, "5.5.4 Syntax: MAIL FROM <address> Error in parameters: %.200s", params);
	return;
    }
    if ((s->sender_cert = cmtp_user_cert(s, addr, err, sizeof(err))) == 0) {
	msg_info("%s: reject MAIL FROM <%s>: %s", s->client_addr, addr, err);
	cm_reply(s->st, 550, "5.1.1 <%s> Invalid email address", addr);
	return;
    }
    snprintf(s->sender, sizeof(s->sender), "%s", addr);
    cmtp_cert_reply(s, s->sender_cert, requested);
}

/* cmd_rcpt - RCPT TO <addr> [CertificateRequested] (8.7, 8.10) */
static void cmd_rcpt(CMTP_SESSION *s, const char *arg)
{
    char    addr[CM_ADDRESS_MAX + 1];
    const char *params;
    int     requested;
    int     i;
    X509   *cert;
    CMTP_RCPT *nr;
    char    err[512];
    int     remote, code;

    if (need_delv(s) < 0)
	return;
    if (s->sender[0] == 0) {
	cm_reply(s->st, 503, "Error: need MAIL FROM command");
	return;
    }
    if (s->envelope) {
	cm_reply(s->st, 503, "5.5.1 Error: DATA already received, send DEPO or RSET");
	return;
    }
    if (strncasecmp(arg, "TO", 2) != 0 || (arg[2] != ':' && arg[2] != ' ')
	|| cm_addr_parse_path(arg + 2, addr, sizeof(addr), &params) < 0) {
	cm_reply(s->st, 501, "6.1.1 Syntax: RCPT TO <address>");
	return;
    }
    if (cmtp_cert_requested(params, &requested) < 0) {
	cm_reply(s->st, 501, "6.1.2 Syntax: RCPT TO <address> Error in parameters: %.200s", params);
	return;
    }
    if (s->nrcpt >= cm_config_int(s->cf, "recipient_limit") || s->nrcpt >= CM_ENTITIES_MAX) {
	cm_reply(s->st, 452, "Error: too many recipients");
	return;
    }
    for (i = 0; i < s->nrcpt; i++) {
	if (cm_addr_equal(s->rcpts[i].addr, addr)) {
	    cmtp_cert_reply(s, s->rcpts[i].cert, requested);
	    return;
	}
    }
    remote = !cm_domain_listed(cm_addr_domain(addr), cm_config_str(s->cf, "local_domains"));
    if (remote) {
	/* m8-m9: CHCK RCPT at the recipient's Cmail server. */
	if (cmtp_remote_rcpt(s, addr, &cert, &code, err, sizeof(err)) < 0) {
	    msg_info("%s: reject RCPT TO <%s>: %s", s->client_addr, addr, err);
	    if (code == 0 || code / 100 == 4)
		cm_reply(s->st, 451, "4.4.1 <%s> the recipient's Cmail server is not reachable now, "
			 "try again later", addr);
	    else
		cm_reply(s->st, 550, "5.1.1 <%s> Invalid email address", addr);
	    return;
	}
    } else if ((cert = cmtp_user_cert(s, addr, err, sizeof(err))) == 0) {
	msg_info("%s: reject RCPT TO <%s>: %s", s->client_addr, addr, err);
	cm_reply(s->st, 550, "5.1.1 <%s> Invalid email address", addr);
	return;
    }
    if ((nr = realloc(s->rcpts, (size_t) (s->nrcpt + 1) * sizeof(*nr))) == 0) {
	X509_free(cert);
	cm_reply(s->st, 451, "4.3.0 Error: out of memory");
	return;
    }
    s->rcpts = nr;
    snprintf(s->rcpts[s->nrcpt].addr, sizeof(s->rcpts[s->nrcpt].addr), "%s", addr);
    s->rcpts[s->nrcpt].cert = cert;
    s->rcpts[s->nrcpt].remote = remote;
    s->nrcpt++;
    cmtp_cert_reply(s, cert, requested);
}

/* cmd_help - HELP */
static void cmd_help(CMTP_SESSION *s)
{
    cm_stream_printf(s->st, "214-Cmail CMTP (ITU-T X.1341) commands:\r\n");
    cm_stream_printf(s->st, "214-  EHLO STARTTLS CELO DELV MAIL RCPT DATA DEPO RSET NOOP HELP QUIT\r\n");
    cm_stream_printf(s->st, "214-Between Cmail servers (mutual TLS): CHCK RCPT, SEND EVLP, SEND NORP\r\n");
    cm_stream_printf(s->st, "214-Certified mail only; ordinary mail goes to port 25.\r\n");
    cm_reply(s->st, 214, "2.0.0 End of HELP info");
}

/* junk - a command that moves nothing forward: past CMTP_JUNK_MAX, an error */
static void junk(CMTP_SESSION *s)
{
    if (++s->junk > CMTP_JUNK_MAX)
	s->errors++;
}

/* cmtp_session_run - serve one connection until QUIT or EOF */
void    cmtp_session_run(CMTP_SESSION *s)
{
    char   *line = malloc(CM_CMD_LINE_MAX + 1);
    const char *arg;

    if (line == 0)
	msg_fatal("out of memory");
    cm_reply(s->st, 220, "%s CMTP Cmail ready", s->hostname);
    for (;;) {
	int     too_long;
	ssize_t n = cm_stream_getline(s->st, line, CM_CMD_LINE_MAX + 1, &too_long);

	if (n < 0) {
	    msg_info("%s: lost connection", s->client_addr);
	    break;
	}
	if (s->errors >= CMTP_ERRORS_MAX) {
	    cm_reply(s->st, 421, "4.7.0 %s Error: too many errors", s->hostname);
	    msg_warn("%s: too many errors, disconnecting", s->client_addr);
	    break;
	}
	if (too_long || (n > CM_LINE_MAX - 2 && !verb_is(line, "DEPO", &arg)
			 && !verb_is(line, "SEND", &arg))) {
	    cm_reply(s->st, 500, "5.5.2 Error: line too long");
	    s->errors++;
	    continue;
	}
	if (memchr(line, 0, (size_t) n)) {
	    cm_reply(s->st, 500, "5.5.2 Error: NUL character in command");
	    s->errors++;
	    continue;
	}
	if (verb_is(line, "EHLO", &arg)) {
	    junk(s);
	    cmd_ehlo(s, arg, 1);
	} else if (verb_is(line, "HELO", &arg)) {
	    junk(s);
	    cmd_ehlo(s, arg, 0);
	} else if (verb_is(line, "STARTTLS", &arg)) {
	    if (cmd_starttls(s, arg) < 0)
		break;
	} else if (verb_is(line, "CELO", &arg)) {
	    junk(s);
	    cmd_celo(s, arg);
	} else if (verb_is(line, "DELV", &arg)) {
	    junk(s);
	    cmd_delv(s, arg);
	} else if (verb_is(line, "MAIL", &arg)) {
	    cmd_mail(s, arg);
	} else if (verb_is(line, "RCPT", &arg)) {
	    cmd_rcpt(s, arg);
	} else if (verb_is(line, "DATA", &arg)) {
	    if (*arg)
		cm_reply(s->st, 501, "5.5.4 Syntax: DATA");
	    else if (need_delv(s) == 0)
		cmtp_data(s);
	} else if (verb_is(line, "DEPO", &arg)) {
	    if (need_delv(s) == 0)
		cmtp_depo(s, arg);
	} else if (verb_is(line, "RSET", &arg)) {
	    junk(s);
	    cmtp_reset(s);
	    cm_reply(s->st, 250, "2.0.0 OK");
	} else if (verb_is(line, "NOOP", &arg)) {
	    junk(s);
	    cm_reply(s->st, 250, "2.0.0 OK");
	} else if (verb_is(line, "HELP", &arg)) {
	    junk(s);
	    cmd_help(s);
	} else if (verb_is(line, "QUIT", &arg)) {
	    cm_reply(s->st, 221, "2.0.0 Bye");
	    break;
	} else if (verb_is(line, "CHCK", &arg)) {
	    cmtp_chck(s, arg);
	} else if (verb_is(line, "SEND", &arg)) {
	    cmtp_send(s, arg);
	} else {
	    cm_reply(s->st, 500, "5.5.2 Error: command not recognized");
	    s->errors++;
	}
    }
    cmtp_reset(s);
    cmtp_peer_free(s);
    free(line);
}
