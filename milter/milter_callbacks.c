/*++
 * NAME
 *	milter_callbacks 3
 * SUMMARY
 *	the libmilter callbacks of cmail-milter
 * DESCRIPTION
 *	Negotiation asks Postfix for as little as possible: no connect
 *	(when Postfix can send {daemon_name} with MAIL FROM instead:
 *	SMFIF_SETSYMLIST), no HELO, DATA, unknown command or end of
 *	header events, and no reply for MAIL, RCPT, header and body
 *	events, so that an ordinary message costs one round trip per
 *	event plus the end of message (the only event we answer).
 *
 *	The mode of each message comes from the {daemon_name} macro:
 *	equal to milter_injection_name, the message must be a stored form
 *	from cmtpd whose sealed entities are the envelope recipients, and
 *	the notary journals "queued" before we accept; anything else is an
 *	ordinary listener, where a message passes untouched unless it has
 *	an X-Cmail-* header field or mentions application/x-cmail-sealed
 *	(in a Content-Type field or anywhere in the body), in which case it
 *	must be a stored form that our notary unseals.
 *
 *	Only a message that may be a stored form is written to a
 *	temporary file (its X-Cmail-* fields, an empty line and the body as
 *	it streams in); an ordinary message is scanned and forgotten chunk
 *	by chunk. State lives in a connection context (smfi_setpriv) that
 *	holds the message state, reset (not allocated) for each message;
 *	xxfi_abort and the end of message release what a message owns
 *	(recipients, X-Cmail fields, the temporary file), xxfi_close the
 *	connection context.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libmilter/mfapi.h>

#include "cm_log.h"
#include "cm_addr.h"
#include "cm_storedform.h"
#include "cm_headers.h"
#include "cmail_milter.h"
#include "milter_callbacks.h"

CMM_SETTINGS cmm_settings;

typedef struct {
    char   *name;
    char   *value;
} CMM_FIELD;

/* Per-message state. */
typedef struct {
    int     injection;			/* {daemon_name} is the injection name */
    char    client[64];			/* {client_addr}, for the log */
    int     failed;			/* internal error: tempfail at the end */
    char    why_failed[128];
    char  **rcpts;			/* injection: bare envelope recipients */
    size_t  nrcpt;
    size_t  rcpt_cap;
    char    bad_rcpt[CMM_REASON_MAX];	/* injection: first unusable RCPT */
    CMM_FIELD fields[CMM_CMAIL_HEADERS_MAX];	/* X-Cmail-* fields */
    size_t  nfields;
    char    bad_header[CMM_REASON_MAX];	/* first X-Cmail-* problem */
    int     seen_cmail;			/* an X-Cmail-* field */
    int     seen_sealed;		/* application/x-cmail-sealed */
    CMM_SCAN scan;			/* body scanner */
    FILE   *fp;				/* rebuilt message, unnamed file */
    long long size;
    int     too_big;
} CMM_MSG;

/* Per-connection state; the message state lives in it (no allocation per message). */
typedef struct {
    unsigned long pflags;		/* negotiated protocol flags */
    int     active;			/* msg holds a message (MAIL seen) */
    CMM_MSG msg;
} CMM_CONN;

/* msg_end - forget the connection's message, if any */
static void msg_end(CMM_CONN *c)
{
    CMM_MSG *m = &c->msg;
    size_t  i;

    if (!c->active)
	return;
    for (i = 0; i < m->nrcpt; i++)
	free(m->rcpts[i]);
    free(m->rcpts);
    for (i = 0; i < m->nfields; i++) {
	free(m->fields[i].name);
	free(m->fields[i].value);
    }
    if (m->fp)
	fclose(m->fp);				/* unnamed: the data goes with it */
    memset(m, 0, sizeof(*m));
    c->active = 0;
}

/* msg_get - the connection's current message, or NULL */
static CMM_MSG *msg_get(CMM_CONN *c)
{
    return (c && c->active ? &c->msg : 0);
}

/* conn_get - the connection context, created on first use */
static CMM_CONN *conn_get(SMFICTX *ctx)
{
    CMM_CONN *c = smfi_getpriv(ctx);

    if (c == 0 && (c = calloc(1, sizeof(*c))) != 0 && smfi_setpriv(ctx, c) != MI_SUCCESS) {
	free(c);
	c = 0;
    }
    return (c);
}

/* no_reply - what a callback for a no-reply event returns */
static sfsistat no_reply(const CMM_CONN *c, unsigned long nr_flag)
{
    return (c && (c->pflags & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE);
}

/* msg_fail - remember an internal error for the end of message */
static void msg_fail(CMM_MSG *m, const char *why)
{
    if (!m->failed) {
	m->failed = 1;
	snprintf(m->why_failed, sizeof(m->why_failed), "%s", why);
    }
}

/* cmm_negotiate - ask for the fewest events and replies */
static sfsistat cmm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			              unsigned long f2, unsigned long f3,
			              unsigned long *pf0, unsigned long *pf1,
			              unsigned long *pf2, unsigned long *pf3)
{
    CMM_CONN *c = conn_get(ctx);
    unsigned long want;
    int     symlist = 0;

    (void) f2;
    (void) f3;
    *pf0 = 0;
    *pf2 = 0;
    *pf3 = 0;
    want = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH
	| SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_BODY;
    if ((f0 & SMFIF_SETSYMLIST)
	&& smfi_setsymlist(ctx, SMFIM_ENVFROM, "{daemon_name} {client_addr}") == MI_SUCCESS
	&& smfi_setsymlist(ctx, SMFIM_EOM, "i") == MI_SUCCESS) {
	*pf0 |= SMFIF_SETSYMLIST;
	want |= SMFIP_NOCONNECT;
	symlist = 1;
    }
    *pf1 = want & f1;
    if (c)
	c->pflags = *pf1;
    if (cmm_settings.verbose)
	msg_info("negotiate: MTA actions %#lx steps %#lx; ours actions %#lx steps %#lx%s",
		 f0, f1, *pf0, *pf1, symlist ? ", macros by MAIL FROM" : "");
    return (SMFIS_CONTINUE);
}

/* cmm_connect - only when the MTA cannot send {daemon_name} with MAIL */
static sfsistat cmm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void) host;
    (void) addr;
    return (no_reply(conn_get(ctx), SMFIP_NR_CONN));
}

/* cmm_envfrom - a new message: its mode */
static sfsistat cmm_envfrom(SMFICTX *ctx, char **argv)
{
    CMM_CONN *c = conn_get(ctx);
    const char *daemon = smfi_getsymval(ctx, "{daemon_name}");
    const char *client = smfi_getsymval(ctx, "{client_addr}");

    (void) argv;
    if (c == 0)
	return (no_reply(c, SMFIP_NR_MAIL));
    msg_end(c);
    c->active = 1;
    c->msg.injection = daemon != 0 && strcmp(daemon, cmm_settings.injection_name) == 0;
    cmm_scan_init(&c->msg.scan, CM_SEALED_TYPE);
    cmm_reply_text(c->msg.client, sizeof(c->msg.client), client ? client : "local");
    return (no_reply(c, SMFIP_NR_MAIL));
}

/* cmm_envrcpt - injection listener: collect the envelope recipients */
static sfsistat cmm_envrcpt(SMFICTX *ctx, char **argv)
{
    CMM_CONN *c = smfi_getpriv(ctx);
    CMM_MSG *m = msg_get(c);
    char    addr[CM_ADDRESS_MAX + 1];
    const char *params;
    char  **grown;

    if (m == 0 || !m->injection || m->failed || m->bad_rcpt[0])
	return (no_reply(c, SMFIP_NR_RCPT));
    if (argv == 0 || argv[0] == 0
	|| cm_addr_parse_path(argv[0], addr, sizeof(addr), &params) < 0) {
	snprintf(m->bad_rcpt, sizeof(m->bad_rcpt), "envelope recipient %.256s is not a valid address",
		 argv && argv[0] ? argv[0] : "(none)");
	return (no_reply(c, SMFIP_NR_RCPT));
    }
    if (m->nrcpt >= CM_ENTITIES_MAX) {
	snprintf(m->bad_rcpt, sizeof(m->bad_rcpt), "more than %d envelope recipients",
		 CM_ENTITIES_MAX);
	return (no_reply(c, SMFIP_NR_RCPT));
    }
    if (m->nrcpt == m->rcpt_cap) {
	size_t  cap = m->rcpt_cap ? 2 * m->rcpt_cap : 8;

	if ((grown = realloc(m->rcpts, cap * sizeof(*grown))) == 0) {
	    msg_fail(m, "out of memory");
	    return (no_reply(c, SMFIP_NR_RCPT));
	}
	m->rcpts = grown;
	m->rcpt_cap = cap;
    }
    if ((m->rcpts[m->nrcpt] = strdup(addr)) == 0) {
	msg_fail(m, "out of memory");
	return (no_reply(c, SMFIP_NR_RCPT));
    }
    m->nrcpt++;
    return (no_reply(c, SMFIP_NR_RCPT));
}

/* cmm_header - look for X-Cmail-* fields and a sealed Content-Type */
static sfsistat cmm_header(SMFICTX *ctx, char *name, char *value)
{
    CMM_CONN *c = smfi_getpriv(ctx);
    CMM_MSG *m = msg_get(c);
    CMM_FIELD *f;

    if (m == 0 || m->failed || name == 0 || value == 0)
	return (no_reply(c, SMFIP_NR_HDR));
    if (strcasecmp(name, "Content-Type") == 0 && cmm_contains_nocase(value, CM_SEALED_TYPE))
	m->seen_sealed = 1;
    if (!cmm_header_is_cmail(name))
	return (no_reply(c, SMFIP_NR_HDR));
    m->seen_cmail = 1;
    if (m->bad_header[0])
	return (no_reply(c, SMFIP_NR_HDR));
    if (strcasecmp(name, "X-Cmail-Delivery-Type") != 0
	&& strcasecmp(name, "X-Cmail-Envelope-Id") != 0) {
	snprintf(m->bad_header, sizeof(m->bad_header), "unexpected header field %.64s", name);
	return (no_reply(c, SMFIP_NR_HDR));
    }
    if (m->nfields >= CMM_CMAIL_HEADERS_MAX) {
	snprintf(m->bad_header, sizeof(m->bad_header), "too many X-Cmail header fields");
	return (no_reply(c, SMFIP_NR_HDR));
    }
    if (strlen(name) > 64 || strlen(value) > CM_HEADER_MAX / 2) {
	snprintf(m->bad_header, sizeof(m->bad_header), "oversized X-Cmail header field");
	return (no_reply(c, SMFIP_NR_HDR));
    }
    f = m->fields + m->nfields;
    if ((f->name = strdup(name)) == 0 || (f->value = strdup(value)) == 0) {
	free(f->name);
	f->name = 0;
	msg_fail(m, "out of memory");
	return (no_reply(c, SMFIP_NR_HDR));
    }
    m->nfields++;
    return (no_reply(c, SMFIP_NR_HDR));
}

/* put_field - one header field with CRLF line ends (the MTA may send LF) */
static void put_field(FILE *fp, const CMM_FIELD *f)
{
    const char *p;

    fprintf(fp, "%s: ", f->name);
    for (p = f->value; *p; p++) {
	if (*p == '\r')
	    continue;
	if (*p == '\n')
	    fputs("\r\n", fp);
	else
	    putc(*p, fp);
    }
    fputs("\r\n", fp);
}

/* start_file - the rebuilt message: X-Cmail fields, empty line */
static int start_file(CMM_MSG *m)
{
    char    err[256];
    size_t  i;

    if (m->fp)
	return (0);
    if (cmm_tempfile(&cmm_settings, &m->fp, err, sizeof(err)) < 0) {
	msg_warn("%s", err);
	msg_fail(m, "cannot create a temporary file");
	return (-1);
    }
    for (i = 0; i < m->nfields; i++)
	put_field(m->fp, m->fields + i);
    fputs("\r\n", m->fp);
    return (0);
}

/* cmm_body - scan, and keep only what may be a stored form */
static sfsistat cmm_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
    CMM_CONN *c = smfi_getpriv(ctx);
    CMM_MSG *m = msg_get(c);

    if (m == 0 || m->failed || m->too_big || m->bad_header[0] || m->bad_rcpt[0])
	return (no_reply(c, SMFIP_NR_BODY));	/* the verdict is known */
    if (!m->injection && !m->seen_cmail) {
	/* Without X-Cmail fields it cannot be a stored form: scan only. */
	if (!m->seen_sealed && cmm_scan(&m->scan, buf, len))
	    m->seen_sealed = 1;
	return (no_reply(c, SMFIP_NR_BODY));
    }
    if (start_file(m) < 0)
	return (no_reply(c, SMFIP_NR_BODY));
    m->size += (long long) len;
    if (m->size > cmm_settings.size_limit) {
	m->too_big = 1;
	return (no_reply(c, SMFIP_NR_BODY));
    }
    if (fwrite(buf, 1, len, m->fp) != len)
	msg_fail(m, "write error on a temporary file");
    return (no_reply(c, SMFIP_NR_BODY));
}

/* set_reply - 550 5.7.1 or 451 4.3.0 with a cleaned-up reason */
static sfsistat set_reply(SMFICTX *ctx, CMM_ACTION action, const char *reason)
{
    char    text[CMM_REASON_MAX + 16];
    char    clean[CMM_REASON_MAX + 16];

    snprintf(text, sizeof(text), "Cmail: %s", reason);
    cmm_reply_text(clean, sizeof(clean), text);
    if (action == CMM_REJECT) {
	if (smfi_setreply(ctx, "550", "5.7.1", clean) != MI_SUCCESS)
	    msg_warn("smfi_setreply failed");
	return (SMFIS_REJECT);
    }
    if (smfi_setreply(ctx, "451", "4.3.0", clean) != MI_SUCCESS)
	msg_warn("smfi_setreply failed");
    return (SMFIS_TEMPFAIL);
}

/* precheck - problems known before any verification; 0 when none */
static int precheck(CMM_MSG *m, CMM_ACTION *action, char *why, size_t whylen)
{
    size_t  i, ntype = 0, nid = 0;

    if (m->failed) {
	*action = CMM_TEMPFAIL;
	snprintf(why, whylen, "internal error: %s", m->why_failed);
	return (-1);
    }
    *action = CMM_REJECT;
    if (m->bad_header[0]) {
	snprintf(why, whylen, "%s", m->bad_header);
	return (-1);
    }
    for (i = 0; i < m->nfields; i++) {
	if (strcasecmp(m->fields[i].name, "X-Cmail-Delivery-Type") == 0)
	    ntype++;
	else if (strcasecmp(m->fields[i].name, "X-Cmail-Envelope-Id") == 0)
	    nid++;
	else
	    msg_panic("unexpected header field %s kept", m->fields[i].name);
    }
    if (ntype > 1 || nid > 1) {
	snprintf(why, whylen, "duplicate X-Cmail header fields");
	return (-1);
    }
    if (m->injection && m->bad_rcpt[0]) {
	snprintf(why, whylen, "%s", m->bad_rcpt);
	return (-1);
    }
    if (m->too_big) {
	snprintf(why, whylen, "message too large to verify");
	return (-1);
    }
    return (0);
}

/* cmm_eom - the decision */
static sfsistat cmm_eom(SMFICTX *ctx)
{
    CMM_CONN *c = smfi_getpriv(ctx);
    CMM_MSG *m = msg_get(c);
    const char *qid = smfi_getsymval(ctx, "i");
    const char *q = qid && *qid ? qid : "NOQUEUE";
    CMM_VERIFY_REQ req;
    CMM_RESULT res;
    CMM_ACTION action;
    char    why[CMM_REASON_MAX];
    sfsistat ret;

    if (m == 0) {
	msg_warn("%s: tempfail: no message context (out of memory?)", q);
	return (set_reply(ctx, CMM_TEMPFAIL, "internal error, try again later"));
    }
    if (!m->injection && !m->seen_cmail && !m->failed) {
	if (!m->seen_sealed) {
	    ret = SMFIS_CONTINUE;		/* ordinary mail: untouched */
	} else {
	    msg_info("%s: reject: sealed Cmail part in a message without Cmail headers; "
		     "client=%s", q, m->client);
	    ret = set_reply(ctx, CMM_REJECT, "sealed Cmail part in a message that is not "
			    "a Cmail stored form");
	}
	goto done;
    }
    if (precheck(m, &action, why, sizeof(why)) < 0) {
	msg_info("%s: %s: %s; client=%s", q, action == CMM_REJECT ? "reject" : "tempfail", why,
		 m->client);
	ret = set_reply(ctx, action, why);
	goto done;
    }
    if (start_file(m) < 0 || fflush(m->fp) != 0 || ferror(m->fp)) {
	msg_info("%s: tempfail: cannot write the message to a temporary file", q);
	ret = set_reply(ctx, CMM_TEMPFAIL, "internal error, try again later");
	goto done;
    }
    req.injection = m->injection;
    req.queue_id = qid;
    req.rcpts = m->rcpts;
    req.nrcpt = m->nrcpt;
    cmm_verify(&cmm_settings, m->fp, &req, &res);
    switch (res.action) {
    case CMM_ACCEPT:
	if (m->injection)
	    msg_info("%s: envelope %s: queued, %zu recipient%s, evidence row %lld", q,
		     res.envelope_id, m->nrcpt, m->nrcpt == 1 ? "" : "s", res.seq);
	else
	    msg_info("%s: envelope %s: verified stored form passed", q, res.envelope_id);
	ret = SMFIS_ACCEPT;
	break;
    case CMM_REJECT:
	msg_info("%s: %s%s%sreject: %s; client=%s", q, res.envelope_id[0] ? "envelope " : "",
		 res.envelope_id, res.envelope_id[0] ? ": " : "", res.reason, m->client);
	ret = set_reply(ctx, CMM_REJECT, res.reason);
	break;
    default:
	msg_warn("%s: %s%s%stempfail: %s", q, res.envelope_id[0] ? "envelope " : "",
		 res.envelope_id, res.envelope_id[0] ? ": " : "", res.reason);
	ret = set_reply(ctx, CMM_TEMPFAIL, res.reason);
	break;
    }
done:
    msg_end(c);
    return (ret);
}

/* cmm_abort - the message was given up */
static sfsistat cmm_abort(SMFICTX *ctx)
{
    CMM_CONN *c = smfi_getpriv(ctx);

    if (c)
	msg_end(c);
    return (SMFIS_CONTINUE);
}

/* cmm_close - the connection is gone */
static sfsistat cmm_close(SMFICTX *ctx)
{
    CMM_CONN *c = smfi_getpriv(ctx);

    if (c) {
	msg_end(c);
	free(c);
	smfi_setpriv(ctx, 0);
    }
    return (SMFIS_CONTINUE);
}

struct smfiDesc cmm_desc = {
    .xxfi_name = "cmail-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_SETSYMLIST,
    .xxfi_connect = cmm_connect,
    .xxfi_helo = 0,
    .xxfi_envfrom = cmm_envfrom,
    .xxfi_envrcpt = cmm_envrcpt,
    .xxfi_header = cmm_header,
    .xxfi_eoh = 0,
    .xxfi_body = cmm_body,
    .xxfi_eom = cmm_eom,
    .xxfi_abort = cmm_abort,
    .xxfi_close = cmm_close,
    .xxfi_unknown = 0,
    .xxfi_data = 0,
    .xxfi_negotiate = cmm_negotiate,
};
