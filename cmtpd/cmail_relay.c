/*++
 * NAME
 *	cmail-relay 8
 * SUMMARY
 *	Postfix pipe(8) transport: certified mail to another Cmail server
 * SYNOPSIS
 *	cmail-relay [-c config] [-L logfile] [-v] -f sender -d nexthop
 *		[--] recipient...
 * DESCRIPTION
 *	cmail-relay is the CMTP client between Cmail servers (ITU-T X.1341
 *	steps m16-m18 and p5-p6, notes/s2s.md). Postfix runs it as a
 *	pipe(8) service with the message on standard input. Two kinds of
 *	message are relayed:
 *
 *	A stored form (cm_storedform(3h)) whose recipients are on another
 *	Cmail server: the notary unseals it (UNSEAL); every recipient must
 *	be an Entity of its SignedDepositNotice; cmail-relay opens
 *	CMTP over mutual TLS to the server of the nexthop domain
 *	(cm_cmtp_client(3h)), sends SEND EVLP with the SignedDepositNotice
 *	and the ENVELOPE, verifies the TransitNotice it gets (one
 *	signature, by a server certificate that speaks for the domain;
 *	EnvelopeId and MimeMessageHash those of the deposit), promotes it
 *	to a SignedTransitNotice with the deposit's EnvelopeInformation,
 *	has the notary sign it at "info" (SIGN), journals "relayed"
 *	(RECORD) and mails it, with the SignedDepositNotice, to the sender
 *	(the address of the deposit's signature 2, else -f).
 *
 *	A receipt notice mail (an attachment receiptNotice.xml holding a
 *	SignedReceiptNotice) for a sender on another Cmail server: the
 *	notice must verify (cm_dsig_verify()) with exactly three
 *	signatures, the first and the third by this server's certificate
 *	(cmail.conf server_certificate); then SEND NORP to the server of
 *	the nexthop domain.
 *
 *	Non-delivery: on a permanent failure (5xx from the peer, no Cmail
 *	server for the domain, the peer's certificate refused), or a
 *	temporary one when the message is older than relay_lifetime
 *	(its age is taken from the first Received: header, written by the
 *	relay injection smtpd), cmail-relay builds a NonDeliveryNotice,
 *	has the notary sign it, journals "non-delivery", mails it to the
 *	sender and exits with a bounce status, so that Postfix bounces the
 *	message as well. Receipt notices get no non-delivery notice.
 * OPTIONS
 *	-c config  cmail.conf (default /etc/cmail/cmail.conf or
 *		$CMAIL_CONFIG).
 *	-L logfile also log to this file (besides syslog, facility mail).
 *	-f sender  the envelope sender (Postfix ${sender}).
 *	-d nexthop Postfix ${nexthop} (with content_filter=cmail-relay: and
 *		an empty default_filter_nexthop, the recipient domain). The
 *		peer must speak for the recipients' domain, whatever -d says
 *		(a difference is logged); recipients in several domains are
 *		deferred as a configuration error.
 *	-v	   log more.
 * EXIT STATUS
 *	0 relayed; 75 (EX_TEMPFAIL) try again later (connection failure,
 *	4xx, notary down); 69 (EX_UNAVAILABLE) refused for good (5xx,
 *	non-delivery); 77 (EX_NOPERM) the peer's certificate was refused;
 *	65 (EX_DATAERR) not a stored form or receipt notice mail, or one
 *	that cannot be relayed; 64 (EX_USAGE) bad arguments. A bad
 *	configuration exits 75 too, with a line starting "configuration:":
 *	Postfix counts EX_CONFIG (78) as permanent and would bounce
 *	certified mail because of an admin's typo; deferred, the mail
 *	waits in the queue until the configuration is fixed. On failure
 *	one line on standard error says why (Postfix puts it into the
 *	bounce or the log).
 * LIMITS
 *	Every wait is bounded: connect min(smtp_timeout, 30) s, each read
 *	and write smtp_timeout, DNS 5 s x 2 tries, the notary 30 s; the
 *	whole run session_time_limit (SIGALRM: exit 75; a retry after the
 *	peer accepted the message is answered with a new TransitNotice and
 *	not delivered again, see CRASHES).
 * CRASHES
 *	Killed at any point, cmail-relay leaves Postfix's queue file
 *	deferred, and the retry does the work again. That is safe because
 *	SEND EVLP is idempotent at the peer (an envelope it journalled as
 *	"transit" is answered with a new TransitNotice and not delivered
 *	again), and because a stored form whose "relayed" row (for this
 *	domain) is in the journal is done: the transit notice mail is
 *	submitted before "relayed" is journalled, so the row means the mail
 *	is queued, and a retry then exits 0 at once. A failure after the
 *	peer accepted the message (the notary cannot countersign, Postfix
 *	refuses the notice mail) is temporary (75) for the same reason. One
 *	window remains: killed between the notice mail's submission and the
 *	"relayed" row, the retry mails a second transit notice. Both mails
 *	carry one Message-ID, <cmail-transit.ENVID.HASH@DOMAIN> (fixed per
 *	envelope and destination domain, cm_cmtp_notice_msgid()), and the
 *	delivery plugin (cmail-deliver-plugin) saves the second one not.
 *	test/shell/crash_s2s.sh kills cmail-relay at each of these points.
 * FILES
 *	No temporary file is ever named: the message and the unsealed
 *	container live in unnamed files (O_TMPFILE in spool_directory,
 *	else tmpfile(3)) that vanish with the process.
 * SEE ALSO
 *	cmail.conf(5), cmtpd(8), cmail-notary(8), pipe(8)
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

#include "cm_log.h"
#include "cm_tmpfile.h"
#include "cm_limits.h"
#include "cm_config.h"
#include "cm_addr.h"
#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cm_xml.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_headers.h"
#include "cm_storedform.h"
#include "cm_container.h"
#include "cm_notary.h"
#include "cm_submit.h"
#include "cm_noticemail.h"
#include "cm_peer.h"
#include "cm_relay_map.h"
#include "cm_cmtp_client.h"

#define RELAY_NOTARY_TIMEOUT_MS	30000
#define RELAY_RCPT_MAX		CM_ENTITIES_MAX
#define RELAY_RECORD_TRIES	3
#define RELAY_DETAIL_MAX	512	/* one evidence detail value */
#define RELAY_B64_MAX		((CM_NOTICE_MAX / 3 + 1) * 4 + 4096)


/* A configuration problem defers (see EXIT STATUS). */
#define RELAY_EX_CONFIG EX_TEMPFAIL

/* Everything one run needs; no globals beyond the program name. */
typedef struct {
    CM_CONFIG *cf;
    CM_TRUST *trust;
    const char *sender;			/* -f */
    char    domain[CM_HOSTPORT_MAX];	/* -d, or the first recipient's */
    char  **rcpts;			/* the pipe recipients */
    int     nrcpt;
    FILE   *msg;			/* stdin, copied */
    time_t  arrival;			/* first Received:, 0 if unknown */
    char    subject[CM_HEADER_MAX + 1];
    char    hostname[256];
    int     verbose;
    char    err[1024];
} RELAY;

/* Per stored form. */
typedef struct {
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    CM_CONTAINER box;
    FILE   *plain;			/* the unsealed container */
    CM_NOTICE *sdn;			/* the SignedDepositNotice model */
    xmlDocPtr sdn_doc;
    char    sender[CM_ADDRESS_MAX + 1];	/* the depositor */
} STORED;

/*
 * The watchdog (session_time_limit): every wait is bounded on its own, this
 * bounds their sum: 75, Postfix tries again. After the peer accepted the
 * message too: the retry gets a new TransitNotice, the peer does not deliver
 * it again (exiting 0 there would lose the transit notice mail).
 */
static volatile sig_atomic_t relay_accepted;

/* watchdog - SIGALRM: one line, and out */
static void watchdog(int sig)
{
    static const char before[] = "cmail-relay: time limit (session_time_limit) reached, try again later\n";
    static const char after[] = "cmail-relay: time limit reached after the peer accepted the message, "
	"try again later (the peer will not deliver it twice)\n";

    ssize_t ignored;

    (void) sig;
    if (relay_accepted) {
	ignored = write(2, after, sizeof(after) - 1);
	(void) ignored;
	_exit(EX_TEMPFAIL);
    }
    ignored = write(2, before, sizeof(before) - 1);
    (void) ignored;
    _exit(EX_TEMPFAIL);
}

/* finish - one line on stderr, the log, and the exit status */
static void finish(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void finish(int status, const char *fmt, ...)
{
    char    line[1024];
    va_list ap;
    char   *p;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (p = line; *p; p++)
	if (*p == '\n' || *p == '\r')
	    *p = ' ';
    if (status == 0) {
	msg_info("%s", line);
    } else {
	msg_warn("%s (exit %d)", line, status);
	fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
    exit(status);
}

/* usage - bad arguments */
static void usage(void)
{
    finish(EX_USAGE, "usage: cmail-relay [-c config] [-L logfile] [-v] -f sender -d nexthop [--] recipient...");
}

/* unnamed_file - a temporary file without a name */
static FILE *unnamed_file(const RELAY *r)
{
    char    err[256];
    FILE   *fp = 0;

    if (r->cf)
	fp = cm_tmpfile(cm_config_str(r->cf, "spool_directory"), err, sizeof(err));
    return (fp ? fp : tmpfile());
}

/* read_stdin - copy the message into an unnamed file, bounded */
static void read_stdin(RELAY *r)
{
    char    buf[65536];
    size_t  n;
    unsigned long long total = 0;
    unsigned long long limit = 2ULL * (unsigned long long) cm_config_int(r->cf, "message_size_limit")
	+ 16ULL * 1024 * 1024;

    if ((r->msg = unnamed_file(r)) == 0)
	finish(EX_TEMPFAIL, "cannot create a temporary file: %s", strerror(errno));
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
	total += n;
	if (total > limit)
	    finish(EX_DATAERR, "message larger than %llu bytes", limit);
	if (fwrite(buf, 1, n, r->msg) != n)
	    finish(EX_TEMPFAIL, "write error on a temporary file: %s", strerror(errno));
    }
    if (ferror(stdin))
	finish(EX_TEMPFAIL, "read error on standard input: %s", strerror(errno));
    if (fflush(r->msg) != 0)
	finish(EX_TEMPFAIL, "write error on a temporary file: %s", strerror(errno));
    rewind(r->msg);
}

/* received_time - the date after the last ';' of a Received: field */
static time_t received_time(const char *value)
{
    const char *semi = value ? strrchr(value, ';') : 0;
    const char *p, *end;
    struct tm tm;

    if (semi == 0)
	return (0);
    for (p = semi + 1; *p == ' ' || *p == '\t'; p++)
	;
    memset(&tm, 0, sizeof(tm));
    if ((end = strptime(p, "%a, %d %b %Y %H:%M:%S %z", &tm)) == 0) {
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(p, "%d %b %Y %H:%M:%S %z", &tm)) == 0)
	    return (0);
    }
    return (timegm(&tm) - tm.tm_gmtoff);
}

/* read_headers - arrival time and subject of the message */
static void read_headers(RELAY *r)
{
    CM_HEADERS h;
    const char *v;
    char    why[256];

    rewind(r->msg);
    if (cm_headers_read(r->msg, &h, why, sizeof(why)) < 0)
	finish(EX_DATAERR, "not a Cmail stored form or receipt notice mail: %s", why);
    r->arrival = received_time(cm_headers_get(&h, "Received"));
    if ((v = cm_headers_get(&h, "Subject")) != 0)
	snprintf(r->subject, sizeof(r->subject), "%s", v);
    cm_headers_free(&h);
    rewind(r->msg);
}

/* expired - older than relay_lifetime? */
static int expired(const RELAY *r)
{
    return (r->arrival > 0 && time(0) - r->arrival > (time_t) cm_config_int(r->cf, "relay_lifetime"));
}

/* notary - connect to the notary, exit 75 when it is down */
static CM_NOTARY *notary(RELAY *r)
{
    CM_NOTARY *nc = cm_notary_connect(cm_config_str(r->cf, "notary_socket"),
				      RELAY_NOTARY_TIMEOUT_MS, r->err, sizeof(r->err));

    if (nc == 0)
	finish(EX_TEMPFAIL, "%s", r->err);
    return (nc);
}

/* sha256_hex - hex SHA-256 of bytes */
static void sha256_hex(const void *data, size_t len, char *hex)
{
    CM_HASH *h = cm_hash_new(CM_HASH_SHA256);
    unsigned char md[32];
    size_t  mdlen = 0, i;

    hex[0] = 0;
    if (h && cm_hash_update(h, data, len) == 0 && cm_hash_final_raw(h, md, &mdlen) == 0)
	for (i = 0; i < mdlen; i++)
	    sprintf(hex + 2 * i, "%02x", md[i]);
    cm_hash_free(h);
}

/* detail - one "key=value" evidence detail, value cleaned and bounded */
static void detail(char *buf, size_t size, const char *key, const char *value)
{
    size_t  n = (size_t) snprintf(buf, size, "%s=", key);
    const char *p;

    for (p = value; *p && n + 1 < size && n < strlen(key) + 1 + RELAY_DETAIL_MAX; p++)
	buf[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : ' ';
    buf[n] = 0;
}

/* join_rcpts - the recipients as "a,b,c" */
static void join_rcpts(const RELAY *r, char *buf, size_t size)
{
    size_t  n = 0;
    int     i;

    buf[0] = 0;
    for (i = 0; i < r->nrcpt && n + 1 < size; i++)
	n += (size_t) snprintf(buf + n, size - n, "%s%s", i ? "," : "", r->rcpts[i]);
    if (n >= size)
	buf[size - 1] = 0;
}

/* record - journal one event, retried; 0 or -1 (warned) */
static int record(RELAY *r, CM_NOTARY **nc, const char *envid, const char *event,
		          const char *const *details, size_t ndetails)
{
    CM_NOTARY_RECORD_RESULT rec;
    int     attempt;

    for (attempt = 1; attempt <= RELAY_RECORD_TRIES; attempt++) {
	if (*nc && cm_notary_record(*nc, envid, event, details, ndetails, &rec,
				    r->err, sizeof(r->err)) == 0) {
	    msg_info("%s: journalled %s, evidence row %lld", envid, event, rec.seq);
	    return (0);
	}
	msg_warn("%s: journalling %s failed (attempt %d): %s", envid, event, attempt, r->err);
	if (attempt < RELAY_RECORD_TRIES) {
	    sleep(1);
	    cm_notary_close(*nc);
	    *nc = cm_notary_connect(cm_config_str(r->cf, "notary_socket"), RELAY_NOTARY_TIMEOUT_MS,
				    r->err, sizeof(r->err));
	}
    }
    return (-1);
}

/* postmaster - postmaster@<the domain of myhostname> */
static void postmaster(const RELAY *r, char *buf, size_t size)
{
    const char *dot = strchr(r->hostname, '.');

    snprintf(buf, size, "postmaster@%s", dot && dot[1] ? dot + 1 : r->hostname);
}

/*
 * mail_notice - the notice mail to the sender (cm_noticemail), submitted
 * to notice_submission_address with the null sender. Its Message-ID is
 * fixed per envelope, kind and destination domain (cm_cmtp_notice_msgid()):
 * the mail of a retry after a crash is the same mail. 0 or -1 (warned).
 */
static int mail_notice(RELAY *r, const char *kind, const char *to, const char *envid,
		               const char *subject, const char *summary,
		               const CM_NOTICEMAIL_ATTACH *att, size_t natt)
{
    char    msgid[256];
    CM_NOTICEMAIL m;
    FILE   *fp;
    char    from[CM_ADDRESS_MAX + 16];
    char    queue_id[64];
    char   *rcpt[1];
    int     temporary, ret = -1;
    size_t  i;

    memset(&m, 0, sizeof(m));
    postmaster(r, from, sizeof(from));
    m.from = from;
    m.to = to;
    m.subject = subject;
    m.summary = summary;
    m.envelope_id = envid;
    m.message_id = msgid;		/* made below */
    m.nattach = natt;
    for (i = 0; i < natt && i < CM_NOTICEMAIL_ATTACH_MAX; i++)
	m.attach[i] = att[i];
    if ((fp = unnamed_file(r)) == 0) {
	msg_warn("%s: notice mail to <%s>: cannot create a temporary file: %m", envid, to);
	return (-1);
    }
    rcpt[0] = (char *) to;
    if (cm_cmtp_notice_msgid(msgid, sizeof(msgid), kind, envid, r->domain, r->domain) < 0) {
	snprintf(r->err, sizeof(r->err), "cannot make the notice mail's Message-ID");
	msg_warn("%s: notice mail to <%s>: %s", envid, to, r->err);
    } else if (cm_noticemail_write(fp, &m, r->err, sizeof(r->err)) < 0) {
	msg_warn("%s: notice mail to <%s>: %s", envid, to, r->err);
    } else if (cm_submit(cm_config_str(r->cf, "notice_submission_address"),
			 (int) cm_config_int(r->cf, "smtp_timeout"), r->hostname, "",
			 rcpt, 1, fp, queue_id, sizeof(queue_id), &temporary,
			 r->err, sizeof(r->err)) < 0) {
	msg_warn("%s: notice mail to <%s> not submitted: %s", envid, to, r->err);
    } else {
	msg_info("%s: notice mail \"%s\" to <%s> queued as %s, message-id=%s", envid, subject, to,
		 queue_id, msgid);
	ret = 0;
    }
    fclose(fp);
    return (ret);
}

/*
 * build_nondelivery - the unsigned NonDeliveryNotice of a stored form
 * (cm_notice_nondelivery_build()), serialised; NULL with r->err.
 */
static char *build_nondelivery(RELAY *r, STORED *s, const char *reason, size_t *len)
{
    xmlDocPtr doc;
    char   *xml;

    if ((doc = cm_notice_nondelivery_build(s->sdn, r->rcpts, (size_t) r->nrcpt, reason, 0,
					   r->err, sizeof(r->err))) == 0)
	return (0);
    if ((xml = cm_xml_serialize(doc, len)) == 0)
	snprintf(r->err, sizeof(r->err), "out of memory");
    xmlFreeDoc(doc);
    return (xml);
}

/* nondelivery - signed non-delivery notice to the sender, then exit */
static void nondelivery(RELAY *r, STORED *s, int status, const char *reason)
    __attribute__((noreturn));

static void nondelivery(RELAY *r, STORED *s, int status, const char *reason)
{
    CM_NOTARY *nc;
    char   *xml, *signed_xml = 0;
    size_t  len, signed_len;
    char    hex[65], rcpts[RELAY_DETAIL_MAX + 1];
    char    d_domain[RELAY_DETAIL_MAX + 16], d_rcpts[RELAY_DETAIL_MAX + 16];
    char    d_reason[RELAY_DETAIL_MAX + 16], d_notice[96];
    const char *details[4];
    char    subject[CM_NOTICEMAIL_SUBJECT_MAX + 400], summary[4096];
    CM_NOTICEMAIL_ATTACH att[2];

    msg_info("%s: not delivered to %s: %s", s->envelope_id, r->domain, reason);
    if ((xml = build_nondelivery(r, s, reason, &len)) == 0)
	finish(EX_TEMPFAIL, "%s: cannot build the non-delivery notice: %s", s->envelope_id, r->err);
    nc = notary(r);
    if (cm_notary_sign(nc, xml, len, CM_NOTARY_PLACE_POSTMARK, &signed_xml, &signed_len,
		       r->err, sizeof(r->err)) < 0) {
	free(xml);
	finish(EX_TEMPFAIL, "%s: the notary did not sign the non-delivery notice: %s",
	       s->envelope_id, r->err);
    }
    free(xml);
    sha256_hex(signed_xml, signed_len, hex);
    join_rcpts(r, rcpts, sizeof(rcpts));
    detail(d_domain, sizeof(d_domain), "domain", r->domain);
    detail(d_rcpts, sizeof(d_rcpts), "recipients", rcpts);
    detail(d_reason, sizeof(d_reason), "reason", reason);
    snprintf(d_notice, sizeof(d_notice), "notice_sha256=%s", hex);
    details[0] = d_domain;
    details[1] = d_rcpts;
    details[2] = d_reason;
    details[3] = d_notice;
    if (record(r, &nc, s->envelope_id, "non-delivery", details, 4) < 0) {
	cm_notary_close(nc);
	free(signed_xml);
	finish(EX_TEMPFAIL, "%s: cannot journal the non-delivery: %s", s->envelope_id, r->err);
    }
    cm_notary_close(nc);
    snprintf(subject, sizeof(subject), "Non-delivery notice: %.*s not delivered to %s",
	     CM_NOTICEMAIL_SUBJECT_MAX / 2, r->subject[0] ? r->subject : "certified message",
	     r->domain);
    snprintf(summary, sizeof(summary),
	     "Your certified message \"%.200s\" (envelope %s) could not be delivered\n"
	     "to %s on the Cmail server of %s.\n\nReason: %.900s\n\n"
	     "The signed non-delivery notice is attached as nonDeliveryNotice.xml,\n"
	     "your signed deposit notice as depositNotice.xml; check them with:\n"
	     "cmail verify nonDeliveryNotice.xml\n",
	     r->subject, s->envelope_id, rcpts, r->domain, reason);
    att[0].filename = cm_noticemail_filename(CM_NOTICE_NONDELIVERY);
    att[0].data = signed_xml;
    att[0].len = signed_len;
    att[1].filename = cm_noticemail_filename(CM_NOTICE_SIGNED_DEPOSIT);
    att[1].data = s->box.notice;
    att[1].len = s->box.notice_len;
    mail_notice(r, "nondelivery", s->sender, s->envelope_id, subject, summary, att, 2);
    free(signed_xml);
    finish(status, "%s: %s", s->envelope_id, reason);
}

/* failed - a failure while relaying a stored form: retry, or give up */
static void failed(RELAY *r, STORED *s, int fail, const char *reason)
    __attribute__((noreturn));

static void failed(RELAY *r, STORED *s, int fail, const char *reason)
{
    if (fail == CM_CMTP_FAIL_TEMP) {
	if (!expired(r))
	    finish(EX_TEMPFAIL, "%s: %s", s->envelope_id, reason);
	{
	    char    why[1024];

	    snprintf(why, sizeof(why), "undeliverable for more than %lld seconds, last problem: %.800s",
		     cm_config_int(r->cf, "relay_lifetime"), reason);
	    nondelivery(r, s, EX_UNAVAILABLE, why);
	}
    }
    nondelivery(r, s, fail == CM_CMTP_FAIL_PEER ? EX_NOPERM : EX_UNAVAILABLE, reason);
}

/* unseal - the container of a stored form */
static void unseal(RELAY *r, STORED *s, FILE *sealed)
{
    CM_NOTARY *nc = notary(r);
    CM_SEAL_STATS stats;
    int     temporary;

    if ((s->plain = unnamed_file(r)) == 0)
	finish(EX_TEMPFAIL, "cannot create a temporary file: %s", strerror(errno));
    rewind(sealed);
    if (cm_notary_unseal(nc, s->envelope_id, fileno(sealed), fileno(s->plain), &stats,
			 r->err, sizeof(r->err)) < 0) {
	temporary = cm_notary_error_temporary(nc);
	cm_notary_close(nc);
	finish(temporary ? EX_TEMPFAIL : EX_DATAERR, "%s: %s", s->envelope_id, r->err);
    }
    cm_notary_close(nc);
    /* The notary wrote through its own descriptor: re-read from the start. */
    if (lseek(fileno(s->plain), 0, SEEK_SET) < 0 || fseek(s->plain, 0, SEEK_SET) != 0)
	finish(EX_TEMPFAIL, "seek on a temporary file: %s", strerror(errno));
    if (cm_container_read(s->plain, &s->box, r->err, sizeof(r->err)) < 0)
	finish(EX_DATAERR, "%s: %s", s->envelope_id, r->err);
    if (strcmp(s->box.envelope_id, s->envelope_id) != 0)
	finish(EX_DATAERR, "%s: the sealed container is of envelope %s", s->envelope_id,
	       s->box.envelope_id);
}

/* parse_deposit - the SignedDepositNotice of the container, and the depositor */
static void parse_deposit(RELAY *r, STORED *s)
{
    CM_DSIG_REPORT rep;
    struct stat st;
    long    pos;
    int     i;

    if ((s->sdn = cm_notice_read(s->box.notice, s->box.notice_len, &s->sdn_doc,
				 r->err, sizeof(r->err))) == 0)
	finish(EX_DATAERR, "%s: sealed deposit notice: %s", s->envelope_id, r->err);
    if (s->sdn->type != CM_NOTICE_SIGNED_DEPOSIT || s->sdn->envelope_id == 0
	|| strcmp(s->sdn->envelope_id, s->envelope_id) != 0)
	finish(EX_DATAERR, "%s: the sealed notice is not this message's SignedDepositNotice",
	       s->envelope_id);
    /* The ENVELOPE follows the notice to the end of the container. */
    if ((pos = ftell(s->plain)) < 0 || fstat(fileno(s->plain), &st) < 0
	|| (unsigned long long) (st.st_size - pos) != s->box.envelope_len)
	finish(EX_DATAERR, "%s: the sealed container is truncated", s->envelope_id);
    /* The depositor: signature 2's certificate (cmtpd checked it at DEPO). */
    snprintf(s->sender, sizeof(s->sender), "%s", r->sender);
    (void) cm_dsig_verify(s->sdn_doc, r->trust, &rep);
    if (rep.n >= 2 && rep.sigs[1].place == CM_DSIG_INFO && cm_addr_valid(rep.sigs[1].address))
	snprintf(s->sender, sizeof(s->sender), "%s", rep.sigs[1].address);
    else if (!rep.valid)
	msg_warn("%s: the sealed deposit notice does not verify now: %s", s->envelope_id, rep.reason);
    for (i = 0; i < r->nrcpt; i++) {
	size_t  e;
	int     found = 0;

	for (e = 0; e < s->sdn->entity_count; e++)
	    if (s->sdn->entities[e].address && cm_addr_equal(s->sdn->entities[e].address, r->rcpts[i]))
		found = 1;
	/* Only the message's own recipients: nothing else may take it elsewhere. */
	if (!found)
	    finish(EX_DATAERR, "%s: recipient <%s> is not an Entity of the deposit notice",
		   s->envelope_id, r->rcpts[i]);
    }
}

/* check_transit - the TransitNotice S2 returned is the one for this message */
static int check_transit(RELAY *r, STORED *s, xmlDocPtr doc, const CM_NOTICE *t,
			         char *err, size_t errlen)
{
    CM_DSIG_REPORT rep;
    X509   *signer;
    char    why[512];
    size_t  i;

    if (t->type != CM_NOTICE_TRANSIT) {
	snprintf(err, errlen, "not a TransitNotice but a %s", cm_notice_type_name(t->type));
	return (-1);
    }
    if (cm_dsig_verify(doc, r->trust, &rep) < 0) {
	snprintf(err, errlen, "its signature does not verify: %s", rep.reason);
	return (-1);
    }
    if (rep.n != 1 || rep.sigs[0].place != CM_DSIG_POSTMARK) {
	snprintf(err, errlen, "%d signatures, expected the receiving server's only", rep.n);
	return (-1);
    }
    signer = cm_dsig_place_cert(doc, CM_DSIG_POSTMARK, 0);
    if (signer == 0 || cm_peer_validate(r->trust, signer, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "not signed with a server certificate: %s", signer ? why : "none found");
	X509_free(signer);
	return (-1);
    }
    if (!cm_peer_speaks_for(signer, r->domain)) {
	X509_free(signer);
	snprintf(err, errlen, "signed by a server that does not speak for %s", r->domain);
	return (-1);
    }
    X509_free(signer);
    if (t->envelope_id == 0 || strcmp(t->envelope_id, s->envelope_id) != 0) {
	snprintf(err, errlen, "EnvelopeId %.64s is not %s", t->envelope_id ? t->envelope_id : "(none)",
		 s->envelope_id);
	return (-1);
    }
    if (t->mime_hash_count != s->sdn->mime_hash_count) {
	snprintf(err, errlen, "MimeMessageHash differs from the deposit's");
	return (-1);
    }
    for (i = 0; i < t->mime_hash_count; i++) {
	if (t->mime_hashes[i].alg != s->sdn->mime_hashes[i].alg
	    || !cm_hash_b64_equal(t->mime_hashes[i].value, s->sdn->mime_hashes[i].value)) {
	    snprintf(err, errlen, "MimeMessageHash differs from the deposit's");
	    return (-1);
	}
    }
    return (0);
}

/*
 * countersign - SignedTransitNotice: promote, notary signs at "info"; NULL
 * with r->err and *temporary (1: the notary is down or busy)
 */
static char *countersign(RELAY *r, STORED *s, xmlDocPtr doc, size_t *len, int *temporary)
{
    CM_NOTARY *nc;
    char   *xml, *signed_xml = 0;
    size_t  xml_len;

    *temporary = 0;
    if (cm_notice_promote(doc, s->sdn, r->err, sizeof(r->err)) < 0)
	return (0);
    if ((xml = cm_xml_serialize(doc, &xml_len)) == 0) {
	snprintf(r->err, sizeof(r->err), "out of memory");
	*temporary = 1;
	return (0);
    }
    if ((nc = cm_notary_connect(cm_config_str(r->cf, "notary_socket"), RELAY_NOTARY_TIMEOUT_MS,
				r->err, sizeof(r->err))) == 0) {
	free(xml);
	*temporary = 1;
	return (0);
    }
    if (cm_notary_sign(nc, xml, xml_len, CM_NOTARY_PLACE_INFO, &signed_xml, len,
		       r->err, sizeof(r->err)) < 0) {
	*temporary = cm_notary_error_temporary(nc);
	signed_xml = 0;
	msg_warn("%s: countersigning the transit notice failed (%s): %s", s->envelope_id,
		 *temporary ? "temporary" : "permanent", r->err);
    }
    cm_notary_close(nc);
    free(xml);
    return (signed_xml);
}

/*
 * already_relayed - does the journal hold "relayed" for this envelope and
 * domain? An earlier run then got the transit notice and queued its mail
 * (that comes first) and was killed before it could exit 0. LOOKUP gives
 * the details of the first row only: a stored form relayed to several
 * domains may be relayed again (no loss, at worst a second notice mail).
 */
static int already_relayed(RELAY *r, STORED *s)
{
    CM_NOTARY *nc = notary(r);
    char    details[2048], want[CM_HOSTPORT_MAX + 16];
    long long count = 0;
    const char *p;
    size_t  n;

    if (cm_notary_lookup(nc, s->envelope_id, "relayed", 0, &count, details, sizeof(details),
			 r->err, sizeof(r->err)) < 0) {
	cm_notary_close(nc);
	finish(EX_TEMPFAIL, "%s: journal lookup: %s", s->envelope_id, r->err);
    }
    cm_notary_close(nc);
    if (count <= 0)
	return (0);
    n = (size_t) snprintf(want, sizeof(want), "domain=%s", r->domain);
    for (p = details; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : 0)
	if (strncasecmp(p, want, n) == 0 && (p[n] == '\n' || p[n] == 0))
	    return (1);
    return (0);
}

/* relay_stored - a stored form: SEND EVLP and the transit notice */
static void relay_stored(RELAY *r, STORED *s, FILE *sealed)
{
    CM_CMTP_CLIENT *c;
    char   *sdn_b64, *transit = 0, *stn;
    size_t  transit_len, stn_len;
    int     fail, code, temporary;
    xmlDocPtr tdoc = 0;
    CM_NOTICE *t;
    char    why[1024], host[CM_HOSTPORT_MAX];
    CM_NOTARY *nc;
    char    hex[65], rcpts[RELAY_DETAIL_MAX + 1];
    char    d_domain[RELAY_DETAIL_MAX + 16], d_peer[RELAY_DETAIL_MAX + 16];
    char    d_rcpts[RELAY_DETAIL_MAX + 16], d_notice[96];
    const char *details[4];
    char    subject[CM_NOTICEMAIL_SUBJECT_MAX + 400], summary[4096];
    CM_NOTICEMAIL_ATTACH att[2];

    unseal(r, s, sealed);
    parse_deposit(r, s);
    if (already_relayed(r, s))
	finish(0, "%s: already relayed to %s and its transit notice mailed (journal): "
	       "not sent again", s->envelope_id, r->domain);
    if ((sdn_b64 = cm_base64_encode((unsigned char *) s->box.notice, s->box.notice_len, 0)) == 0)
	finish(EX_TEMPFAIL, "out of memory");
    if ((c = cm_cmtp_open_ex(r->cf, r->trust, r->domain, why, sizeof(why), &fail)) == 0) {
	free(sdn_b64);
	failed(r, s, fail, why);
    }
    snprintf(host, sizeof(host), "%s", cm_cmtp_peer_host(c));
    if (cm_cmtp_send_evlp(c, sdn_b64, s->plain, &transit, &transit_len, &code,
			  why, sizeof(why)) < 0) {
	free(sdn_b64);
	cm_cmtp_close(c);
	if (code == 250)
	    finish(EX_UNAVAILABLE, "%s: %s: accepted by %s, but there is no transit notice",
		   s->envelope_id, why, r->domain);
	failed(r, s, code / 100 == 5 ? CM_CMTP_FAIL_PERM : CM_CMTP_FAIL_TEMP, why);
    }
    free(sdn_b64);
    cm_cmtp_close(c);
    msg_info("%s: SEND EVLP to %s (%s) accepted, transit notice of %zu bytes",
	     s->envelope_id, r->domain, host, transit_len);

    /*
     * From here on the peer holds the message: never a non-delivery notice.
     * A temporary failure still exits 75: the retry sends SEND EVLP again,
     * and the peer answers with a new TransitNotice without delivering the
     * message again (it is journalled there as "transit").
     */
    relay_accepted = 1;
    if ((t = cm_notice_read(transit, transit_len, &tdoc, why, sizeof(why))) == 0
	|| check_transit(r, s, tdoc, t, why, sizeof(why)) < 0) {
	cm_notice_free(t);
	if (tdoc)
	    xmlFreeDoc(tdoc);
	free(transit);
	finish(EX_UNAVAILABLE, "%s: accepted by %s (%s), but its transit notice is refused: %s",
	       s->envelope_id, r->domain, host, why);
    }
    cm_notice_free(t);
    free(transit);
    stn = countersign(r, s, tdoc, &stn_len, &temporary);
    xmlFreeDoc(tdoc);
    if (stn == 0)
	finish(temporary ? EX_TEMPFAIL : EX_UNAVAILABLE,
	       "%s: accepted by %s (%s), but the transit notice could not be countersigned: %s",
	       s->envelope_id, r->domain, host, r->err);
    sha256_hex(stn, stn_len, hex);
    join_rcpts(r, rcpts, sizeof(rcpts));
    detail(d_domain, sizeof(d_domain), "domain", r->domain);
    detail(d_peer, sizeof(d_peer), "peer", host);
    detail(d_rcpts, sizeof(d_rcpts), "recipients", rcpts);
    snprintf(d_notice, sizeof(d_notice), "notice_sha256=%s", hex);
    details[0] = d_domain;
    details[1] = d_peer;
    details[2] = d_rcpts;
    details[3] = d_notice;
    snprintf(subject, sizeof(subject), "Transit notice: %.*s reached %s",
	     CM_NOTICEMAIL_SUBJECT_MAX / 2, r->subject[0] ? r->subject : "certified message",
	     r->domain);
    snprintf(summary, sizeof(summary),
	     "Your certified message (envelope %s) reached the Cmail server of %s\n"
	     "for %s.\n\n"
	     "That server signed a transit notice; this server countersigned it. The\n"
	     "signed transit notice (ITU-T X.1341 SignedTransitNotice) is attached as\n"
	     "transitNotice.xml, your signed deposit notice as depositNotice.xml;\n"
	     "check them with: cmail verify transitNotice.xml\n",
	     s->envelope_id, r->domain, rcpts);
    att[0].filename = cm_noticemail_filename(CM_NOTICE_SIGNED_TRANSIT);
    att[0].data = stn;
    att[0].len = stn_len;
    att[1].filename = cm_noticemail_filename(CM_NOTICE_SIGNED_DEPOSIT);
    att[1].data = s->box.notice;
    att[1].len = s->box.notice_len;
    /*
     * The mail first, then "relayed": a journalled "relayed" means the mail
     * is queued (a retry finds the row and stops). A mail that cannot be
     * queued is retried with everything else (75).
     */
    if (mail_notice(r, "transit", s->sender, s->envelope_id, subject, summary, att, 2) < 0) {
	free(stn);
	finish(EX_TEMPFAIL, "%s: relayed to %s via %s, but the transit notice mail was not "
	       "queued: %s", s->envelope_id, r->domain, host, r->err);
    }
    free(stn);
    nc = cm_notary_connect(cm_config_str(r->cf, "notary_socket"), RELAY_NOTARY_TIMEOUT_MS,
			   r->err, sizeof(r->err));
    if (record(r, &nc, s->envelope_id, "relayed", details, 4) < 0)
	msg_warn("%s: relayed to %s and mailed, but NOT journalled: %s", s->envelope_id,
		 r->domain, r->err);
    cm_notary_close(nc);
    finish(0, "%s: relayed to %s via %s for %s, transit notice %s", s->envelope_id, r->domain,
	   host, rcpts, hex);
}

/* names_receipt - a MIME header line names the receipt notice attachment */
static int names_receipt(const char *line)
{
    const char *p;

    for (p = line; (p = strcasestr(p, "receiptNotice.xml")) != 0; p++)
	if (p > line && (p[-1] == '"' || p[-1] == '='))
	    return (1);
    return (0);
}

/* line_get - one line without CR/LF; -1 at EOF, -2 too long */
static int line_get(FILE *fp, char *buf, size_t size)
{
    size_t  n;

    if (fgets(buf, (int) size, fp) == 0)
	return (-1);
    n = strlen(buf);
    if (n > 0 && buf[n - 1] != '\n' && !feof(fp))
	return (-2);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
	buf[--n] = 0;
    return ((int) n);
}

/* boundary_of - the boundary parameter of a multipart Content-Type */
static int boundary_of(const char *ctype, char *buf, size_t size)
{
    const char *p = ctype ? strcasestr(ctype, "boundary=") : 0;
    size_t  n;

    if (ctype == 0 || strncasecmp(ctype, "multipart/", 10) != 0 || p == 0)
	return (-1);
    p += 9;
    if (*p == '"') {
	p++;
	n = strcspn(p, "\"");
    } else {
	n = strcspn(p, "; \t");
    }
    if (n == 0 || n > 70 || n + 3 > size)
	return (-1);
    snprintf(buf, size, "--%.*s", (int) n, p);
    return (0);
}

/* receipt_attachment - the decoded receiptNotice.xml of a notice mail */
static char *receipt_attachment(RELAY *r, size_t *len)
{
    CM_HEADERS h;
    char    boundary[80], line[CM_LINE_MAX + 2];
    char   *b64 = 0;
    size_t  blen = 0, bl;
    int     n, in_headers = 0, is_receipt = 0, is_base64 = 0, in_body = 0, done = 0;
    unsigned char *xml;

    *len = 0;
    rewind(r->msg);
    if (cm_headers_read(r->msg, &h, r->err, sizeof(r->err)) < 0)
	return (0);
    n = boundary_of(cm_headers_get(&h, "Content-Type"), boundary, sizeof(boundary));
    cm_headers_free(&h);
    if (n < 0)
	return (0);
    bl = strlen(boundary);
    if ((b64 = malloc(RELAY_B64_MAX + 1)) == 0)
	return (0);
    while (!done && (n = line_get(r->msg, line, sizeof(line))) != -1) {
	if (n == -2)
	    break;
	if (strncmp(line, boundary, bl) == 0 && (line[bl] == 0 || strcmp(line + bl, "--") == 0)) {
	    if (in_body)
		done = 1;
	    in_headers = line[bl] == 0;
	    is_receipt = is_base64 = 0;
	    continue;
	}
	if (in_headers) {
	    if (n == 0) {
		in_headers = 0;
		in_body = is_receipt && is_base64;
	    } else {
		if (names_receipt(line))
		    is_receipt = 1;
		if (strncasecmp(line, "Content-Transfer-Encoding:", 26) == 0 && strcasestr(line, "base64"))
		    is_base64 = 1;
	    }
	    continue;
	}
	if (in_body) {
	    if (blen + (size_t) n > RELAY_B64_MAX)
		break;
	    memcpy(b64 + blen, line, (size_t) n);
	    blen += (size_t) n;
	}
    }
    xml = done && blen ? cm_base64_decode(b64, blen, len) : 0;
    free(b64);
    if (xml && (*len == 0 || *len > CM_NOTICE_MAX)) {
	free(xml);
	xml = 0;
    }
    return ((char *) xml);
}

/*
 * check_receipt - only receipt notices this server countersigned leave:
 * three valid signatures, the first and the third by our server
 * certificate (cmail.conf server_certificate), the second the recipient's.
 */
static int check_receipt(RELAY *r, xmlDocPtr doc, char *err, size_t errlen)
{
    CM_DSIG_REPORT rep;
    X509   *ours;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char    why[512];

    if ((ours = cm_pem_read_cert(cm_config_str(r->cf, "server_certificate"), why, sizeof(why))) == 0)
	finish(RELAY_EX_CONFIG, "configuration: server certificate: %s", why);
    if (!X509_digest(ours, EVP_sha256(), md, &mdlen) || mdlen != 32) {
	X509_free(ours);
	finish(EX_TEMPFAIL, "cannot hash the server certificate");
    }
    X509_free(ours);
    if (cm_dsig_verify(doc, r->trust, &rep) < 0) {
	snprintf(err, errlen, "%s", rep.reason);
	return (-1);
    }
    if (rep.n != 3 || rep.sigs[0].place != CM_DSIG_POSTMARK || rep.sigs[1].place != CM_DSIG_CHALLENGE
	|| rep.sigs[2].place != CM_DSIG_POSTMARK) {
	snprintf(err, errlen, "%d signatures, expected server, recipient and countersignature", rep.n);
	return (-1);
    }
    if (memcmp(rep.sigs[0].cert_sha256, md, 32) != 0 || memcmp(rep.sigs[2].cert_sha256, md, 32) != 0) {
	snprintf(err, errlen, "not signed and countersigned by this server");
	return (-1);
    }
    return (0);
}

/* relay_receipt - a receipt notice for a sender elsewhere: SEND NORP */
static void relay_receipt(RELAY *r, char *xml, size_t len)
{
    CM_CMTP_CLIENT *c;
    char   *b64;
    char    why[1024], host[CM_HOSTPORT_MAX], envid[CM_ENVELOPE_ID_MAX + 1];
    int     fail, code, status;
    CM_NOTICE *n;
    xmlDocPtr doc = 0;

    if ((n = cm_notice_read(xml, len, &doc, r->err, sizeof(r->err))) == 0
	|| n->type != CM_NOTICE_SIGNED_RECEIPT) {
	int     parsed = n != 0;

	cm_notice_free(n);
	if (doc)
	    xmlFreeDoc(doc);
	free(xml);
	finish(EX_DATAERR, "receiptNotice.xml is not a SignedReceiptNotice%s%s",
	       parsed ? "" : ": ", parsed ? "" : r->err);
    }
    snprintf(envid, sizeof(envid), "%s", n->envelope_id);
    cm_notice_free(n);
    if (check_receipt(r, doc, why, sizeof(why)) < 0) {
	xmlFreeDoc(doc);
	free(xml);
	finish(EX_DATAERR, "%s: receipt notice refused: %s", envid, why);
    }
    xmlFreeDoc(doc);
    msg_info("%s: receipt notice for %s", envid, r->domain);
    b64 = cm_base64_encode((unsigned char *) xml, len, 0);
    free(xml);
    if (b64 == 0)
	finish(EX_TEMPFAIL, "out of memory");
    if ((c = cm_cmtp_open_ex(r->cf, r->trust, r->domain, why, sizeof(why), &fail)) == 0) {
	free(b64);
	if (fail == CM_CMTP_FAIL_TEMP && !expired(r))
	    finish(EX_TEMPFAIL, "%s: receipt notice: %s", envid, why);
	finish(fail == CM_CMTP_FAIL_PEER ? EX_NOPERM : EX_UNAVAILABLE, "%s: receipt notice%s: %s",
	       envid, fail == CM_CMTP_FAIL_TEMP ? " undeliverable for too long" : "", why);
    }
    snprintf(host, sizeof(host), "%s", cm_cmtp_peer_host(c));
    status = cm_cmtp_send_norp(c, b64, &code, why, sizeof(why));
    cm_cmtp_close(c);
    free(b64);
    if (status < 0) {
	if (code / 100 != 5 && !expired(r))
	    finish(EX_TEMPFAIL, "%s: receipt notice: %s", envid, why);
	finish(EX_UNAVAILABLE, "%s: receipt notice refused: %s", envid, why);
    }
    finish(0, "%s: receipt notice delivered to %s via %s", envid, r->domain, host);
}

/*
 * nexthop_domain - the recipients' domain. The peer must speak for it,
 * whatever the nexthop: -d only cross-checks ("[host]:port" reduced to
 * host; empty allowed). Recipients in several domains are a Postfix
 * set-up error (default_filter_nexthop must stay empty).
 */
static void nexthop_domain(RELAY *r, const char *d)
{
    const char *dom = cm_addr_domain(r->rcpts[0]);
    const char *p = d;
    size_t  n;
    int     i;

    for (i = 1; i < r->nrcpt; i++)
	if (strcasecmp(cm_addr_domain(r->rcpts[i]), dom) != 0)
	    finish(RELAY_EX_CONFIG, "configuration: recipients in several domains (%.100s, %.100s): Postfix must leave "
		   "default_filter_nexthop empty", dom, cm_addr_domain(r->rcpts[i]));
    snprintf(r->domain, sizeof(r->domain), "%s", dom);
    if (*p == '[')
	p++;
    n = strcspn(p, "]:");
    if (n > 0 && (n != strlen(dom) || strncasecmp(p, dom, n) != 0))
	msg_info("nexthop %.100s is not the recipients' domain %s: relaying to %s", d, dom, dom);
}

int     main(int argc, char **argv)
{
    RELAY   r;
    STORED  s;
    const char *conf = 0, *logfile = 0, *nexthop = 0;
    FILE   *sealed;
    char   *xml;
    size_t  len;
    int     ch, i;

    cm_log_init("cmail-relay", CM_LOG_SYSLOG);
    memset(&r, 0, sizeof(r));
    memset(&s, 0, sizeof(s));
    opterr = 0;					/* one line on stderr, ours */
    while ((ch = getopt(argc, argv, "c:d:f:L:v")) != -1) {
	switch (ch) {
	case 'c':
	    conf = optarg;
	    break;
	case 'd':
	    nexthop = optarg;
	    break;
	case 'f':
	    r.sender = optarg;
	    break;
	case 'L':
	    logfile = optarg;
	    break;
	case 'v':
	    r.verbose = 1;
	    break;
	default:
	    usage();
	}
    }
    if (logfile && cm_log_file(logfile) < 0)
	finish(RELAY_EX_CONFIG, "configuration: open log file %s: %s", logfile, strerror(errno));
    if (r.sender == 0 || nexthop == 0 || optind >= argc)
	usage();
    /* pipe(8) writes the null sender as MAILER-DAEMON (null_sender). */
    if (!cm_addr_valid(r.sender))
	r.sender = "";
    r.rcpts = argv + optind;
    r.nrcpt = argc - optind;
    if (r.nrcpt > RELAY_RCPT_MAX)
	finish(EX_USAGE, "more than %d recipients", RELAY_RCPT_MAX);
    for (i = 0; i < r.nrcpt; i++)
	if (!cm_addr_valid(r.rcpts[i]))
	    finish(EX_USAGE, "bad recipient address '%.100s'", r.rcpts[i]);
    nexthop_domain(&r, nexthop);
    signal(SIGPIPE, SIG_IGN);

    /* Configuration problems: deferred (RELAY_EX_CONFIG), never a bounce. */
    if (conf == 0)
	conf = cm_config_default_path();
    if ((r.cf = cm_config_load(conf, r.err, sizeof(r.err))) == 0)
	finish(RELAY_EX_CONFIG, "configuration: %s", r.err);
    if (cm_relay_map_check(cm_config_str(r.cf, "cmail_relay_map"), r.err, sizeof(r.err)) < 0)
	finish(RELAY_EX_CONFIG, "configuration: %s: %s", conf, r.err);
    if (*cm_config_str(r.cf, "schema_directory"))
	cm_schema_set_dir(cm_config_str(r.cf, "schema_directory"));
    snprintf(r.hostname, sizeof(r.hostname), "%s", cm_config_str(r.cf, "myhostname"));
    if (r.hostname[0] == 0 && (gethostname(r.hostname, sizeof(r.hostname)) < 0 || !r.hostname[0]))
	snprintf(r.hostname, sizeof(r.hostname), "localhost");
    r.hostname[sizeof(r.hostname) - 1] = 0;
    if (cm_xml_init() < 0)
	finish(EX_TEMPFAIL, "cannot initialise libxml2/xmlsec1");
    signal(SIGALRM, watchdog);
    alarm((unsigned) cm_config_int(r.cf, "session_time_limit"));

    if (r.verbose)
	msg_info("sender=<%s> nexthop=%s domain=%s nrcpt=%d config=%s", r.sender, nexthop,
		 r.domain, r.nrcpt, conf);

    /* What came in? */
    read_stdin(&r);
    read_headers(&r);
    if ((sealed = unnamed_file(&r)) == 0)
	finish(EX_TEMPFAIL, "cannot create a temporary file: %s", strerror(errno));
    if (cm_storedform_extract(r.msg, s.envelope_id, sizeof(s.envelope_id), sealed,
			      r.err, sizeof(r.err)) == 0) {
	if (fflush(sealed) != 0)
	    finish(EX_TEMPFAIL, "write error on a temporary file: %s", strerror(errno));
	if ((r.trust = cm_trust_load(cm_config_str(r.cf, "trust_anchors"),
				     cm_config_str(r.cf, "crl_directory"), r.err, sizeof(r.err))) == 0)
	    finish(RELAY_EX_CONFIG, "configuration: trust anchors: %s", r.err);
	if (*r.sender == 0)
	    finish(EX_DATAERR, "%s: a stored form with the null sender", s.envelope_id);
	relay_stored(&r, &s, sealed);
    }
    fclose(sealed);
    if ((xml = receipt_attachment(&r, &len)) != 0) {
	if ((r.trust = cm_trust_load(cm_config_str(r.cf, "trust_anchors"),
				     cm_config_str(r.cf, "crl_directory"), r.err, sizeof(r.err))) == 0)
	    finish(RELAY_EX_CONFIG, "configuration: trust anchors: %s", r.err);
	relay_receipt(&r, xml, len);
    }
    finish(EX_DATAERR, "not a Cmail stored form or receipt notice mail");
}
