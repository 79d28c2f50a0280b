/*++
 * NAME
 *	cmail-pop3-commands 3
 * SUMMARY
 *	CPOP commands: CAPA, LIST, RETR, TOP and CHLG RESP
 * SYNOPSIS
 *	#include "cmail-pop3-plugin.h"
 *
 *	int	cmail_pop3_command(struct client *client, const char *name,
 *				const char *args);
 *	void	cmail_pop3_client_free(struct cmail_pop3_client *cctx);
 * DESCRIPTION
 *	PROFILE.md section 5. A message is certified when its header
 *	X-Cmail-Delivery-Type is CertifiedMail (the milter keeps outsiders
 *	from injecting that header). The header is read once per session
 *	for all messages, as a wanted header (Dovecot's cache), never the
 *	body. Every reply to something that is not certified, and every
 *	syntax error, is Dovecot's own: such commands are handed back
 *	(return 0) and pop3 answers them byte for byte as without the
 *	plugin.
 *
 *	CAPA: pop3's capability list plus "CMAIL CertifiedMail".
 *
 *	LIST, LIST n: pop3's lines; " CertifiedMail" is appended to the
 *	lines of certified messages.
 *
 *	RETR n of a certified message not yet answered: the notary builds
 *	and signs the ReceiptNotice of the mailbox owner (RECEIPT), the
 *	reply is "+OK <size> octets" (size: the octets of the lines that
 *	follow, CRLFs included, before dot-stuffing), the base64 notice in
 *	lines of 76 characters, ".". Failure: "-ERR 503 Error: unable to
 *	send receipt notice" and a log line. The message becomes the one
 *	CHLG RESP refers to: the certified message of the last such RETR
 *	in this session.
 *
 *	RETR n of an answered certified message (keyword $CmailAnswered):
 *	the plugin kept the recipient's SignedReceiptNotice of the
 *	successful CHLG RESP in the user's home directory
 *	(cmail-receipts/<envelope id>.xml); it submits it again (notary
 *	ANSWER, idempotent: nothing is journalled or signed twice), mails
 *	the receipt notice if the journal has no "receipt-sent" for it
 *	(as CHLG RESP below) and replies "+OK <size> octets", the ENVELOPE
 *	dot-stuffed, ".". When
 *	that file is gone the reply is the receipt notice again, as for an
 *	unanswered message (answering it again releases the ENVELOPE).
 *
 *	TOP n m of a certified message: the header only (as TOP n 0):
 *	the body holds only the note for people and the sealed part,
 *	which TOP never shows.
 *
 *	CHLG RESP <base64 SignedReceiptNotice>: the notary checks the
 *	notice and the answer (ANSWER) and, when they are right,
 *	countersigns, journals "answered" and writes the ENVELOPE; the
 *	reply is "+OK", the ENVELOPE dot-stuffed, ".". The message gets
 *	the keyword $CmailAnswered (committed at once), the notice is kept
 *	for later RETR, and, before the ENVELOPE is released, the receipt
 *	notice mail goes to the sender (cmail-pop3-receipt.c) and the
 *	notary journals "receipt-sent": for a first answer, and for a
 *	repeated one when the journal has no "receipt-sent" of this
 *	recipient (or cannot be asked). When the MTA does not take the
 *	mail for now, the reply is "-ERR 503 Error: unable to send
 *	ENVELOPE" (not a bad command): the client's next RETR mails it and
 *	releases the ENVELOPE, so a released ENVELOPE means a submitted
 *	receipt notice mail. A crash between the submission and
 *	"receipt-sent" makes the next answer submit it again: the mail's
 *	Message-ID is the same, and cmail_deliver (cmail-deliver-plugin.c,
 *	in lmtp) saves it once. Any failure (no RETR before, syntax, wrong answer,
 *	bad signature, another recipient, another message, notary down):
 *	"-ERR 503 Error: unable to send ENVELOPE", a log line; the
 *	notary journals refused answers ("answer-refused"). A refused
 *	answer counts as a bad command: after pop3's limit (20 in a row)
 *	the session is disconnected, so one session cannot flood the
 *	journal.
 *
 *	The sealed blob is copied from the message to a temporary file
 *	(tmpfile(3)) and passed to the notary as a descriptor; the ENVELOPE
 *	comes back through another temporary file, unlinked from the
 *	start, and is queued to the client's output stream in one go (its
 *	size is bounded by message_size_limit; no continuation callback),
 *	after which input waits until the output has drained.
 *
 *	These files include Dovecot's lib.h, which brings Dovecot's own
 *	config.h; they do not include ours (the two would clash).
 *--*/
#include "lib.h"
#include "ioloop.h"
#include "istream.h"
#include "ostream.h"
#include "str.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "pop3-common.h"
#include "pop3-client.h"
#include "pop3-capability.h"
#include "pop3-commands.h"
#include "write-full.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "cm_config.h"
#include "cm_addr.h"
#include "cm_base64.h"
#include "cm_notary.h"
#include "cm_storedform.h"
#include "cmail-pop3-plugin.h"

#define CMAIL_ERR_RECEIPT	"-ERR 503 Error: unable to send receipt notice"
#define CMAIL_ERR_ENVELOPE	"-ERR 503 Error: unable to send ENVELOPE"
#define CMAIL_RECEIPTS_DIR	"cmail-receipts"

/* cmail_msgnum_to_seq - pop3's msgnum (0..n-1) to the storage sequence */
static uint32_t cmail_msgnum_to_seq(struct client *client, uint32_t msgnum)
{
    return (msgnum < client->msgnum_to_seq_map_count ?
	    client->msgnum_to_seq_map[msgnum] : msgnum + 1);
}

/* cmail_deleted - was msgnum DELEted in this session */
static bool cmail_deleted(struct client *client, uint32_t msgnum)
{
    return (client->deleted
	    && (client->deleted_bitmask[msgnum / CHAR_BIT] & (1 << (msgnum % CHAR_BIT))) != 0);
}

/* cmail_parse_msgnum - "n" (then a space when thenspace) naming a live message */
static bool cmail_parse_msgnum(struct client *client, const char *args, bool thenspace,
			               uint32_t *msgnum_r, const char **rest_r)
{
    unsigned int num;

    if (*args < '0' || *args > '9' || str_parse_uint(args, &num, &args) < 0)
	return (FALSE);
    if (*args != (thenspace ? ' ' : '\0'))
	return (FALSE);
    if (num == 0 || num > client->messages_count || cmail_deleted(client, num - 1))
	return (FALSE);
    while (*args == ' ')
	args++;
    *msgnum_r = num - 1;
    if (rest_r != NULL)
	*rest_r = args;
    return (TRUE);
}

/* cmail_is_certified_value - the header value names the certified type */
static bool cmail_is_certified_value(const char *value)
{
    while (*value == ' ' || *value == '\t')
	value++;
    return (strncasecmp(value, "CertifiedMail", 13) == 0
	    && (value[13] == '\0' || value[13] == ' ' || value[13] == '\t'));
}

/* cmail_scan - find the certified messages once per session (headers only) */
static void cmail_scan(struct client *client, struct cmail_pop3_client *cctx)
{
    const char *const wanted[] = {CMAIL_POP3_HEADER, NULL};
    struct mailbox_header_lookup_ctx *headers;
    struct mail *mail;
    const char *value;
    uint32_t msgnum;

    if (cctx->certified_known)
	return;
    cctx->certified = p_malloc(client->pool, MSGS_BITMASK_SIZE(client) + 1);
    cctx->certified_known = 1;
    if (client->messages_count == 0)
	return;
    headers = mailbox_header_lookup_init(client->mailbox, wanted);
    mail = mail_alloc(client->trans, 0, headers);
    for (msgnum = 0; msgnum < client->messages_count; msgnum++) {
	int     ret;

	mail_set_seq(mail, cmail_msgnum_to_seq(client, msgnum));
	if ((ret = mail_get_first_header(mail, CMAIL_POP3_HEADER, &value)) > 0
	    && cmail_is_certified_value(value))
	    cctx->certified[msgnum / CHAR_BIT] |= 1 << (msgnum % CHAR_BIT);
	else if (ret < 0)
	    i_error("cmail: message %u: cannot read its %s header (%s): listed as ordinary",
		    msgnum + 1, CMAIL_POP3_HEADER, mailbox_get_last_internal_error(client->mailbox, NULL));
    }
    mail_free(&mail);
    mailbox_header_lookup_unref(&headers);
}

/* cmail_certified - is msgnum a certified message */
static bool cmail_certified(struct client *client, uint32_t msgnum)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);

    cmail_scan(client, cctx);
    return ((cctx->certified[msgnum / CHAR_BIT] & (1 << (msgnum % CHAR_BIT))) != 0);
}

/* cmail_cmd_capa - pop3's capabilities plus ours */
static int cmail_cmd_capa(struct client *client)
{
    client_send_line(client, "+OK\r\n" POP3_CAPABILITY_REPLY CMAIL_POP3_CAPABILITY "\r\n.");
    return (1);
}

struct cmail_list_context {
    uint32_t msgnum;
};

/* cmail_list_callback - the LIST scan listing, continued as output drains */
static void cmail_list_callback(struct client *client)
{
    struct cmail_list_context *ctx = client->cmd_context;

    for (; ctx->msgnum != client->messages_count; ctx->msgnum++) {
	if (client->output->closed)
	    break;
	if (POP3_CLIENT_OUTPUT_FULL(client))
	    return;				/* buffer full */
	if (cmail_deleted(client, ctx->msgnum))
	    continue;
	client_send_line(client, "%u %" PRIuUOFF_T "%s", ctx->msgnum + 1,
			 client->message_sizes[ctx->msgnum],
			 cmail_certified(client, ctx->msgnum) ? " CertifiedMail" : "");
    }
    client_send_line(client, ".");
    i_free(ctx);
    client->cmd = NULL;
}

/* cmail_cmd_list - LIST and LIST n */
static int cmail_cmd_list(struct client *client, const char *args)
{
    struct cmail_list_context *ctx;
    uint32_t msgnum;

    if (*args == '\0') {
	cmail_scan(client, cmail_pop3_client_get(client));
	ctx = i_new(struct cmail_list_context, 1);
	client_send_line(client, "+OK %u messages:",
			 client->messages_count - client->deleted_count);
	client->cmd = cmail_list_callback;
	client->cmd_context = ctx;
	cmail_list_callback(client);
	return (1);
    }
    if (!cmail_parse_msgnum(client, args, FALSE, &msgnum, NULL) || !cmail_certified(client, msgnum))
	return (0);
    client_send_line(client, "+OK %u %" PRIuUOFF_T " CertifiedMail", msgnum + 1,
		     client->message_sizes[msgnum]);
    return (1);
}

/* cmail_cmd_top - TOP n m of a certified message: the header only */
static int cmail_cmd_top(struct client *client, const char *args)
{
    uint32_t msgnum;
    const char *rest;

    if (!cmail_parse_msgnum(client, args, TRUE, &msgnum, &rest) || !cmail_certified(client, msgnum))
	return (0);
    if (*rest < '0' || *rest > '9' || rest[strspn(rest, "0123456789")] != '\0')
	return (0);				/* pop3 reports the bad size */
    return (client_command_execute(client, "TOP", t_strdup_printf("%u 0", msgnum + 1)));
}

/* cmail_notary - connect to the notary of the configuration */
static CM_NOTARY *cmail_notary(struct cmail_pop3_client *cctx, const char **error_r)
{
    char    err[512];
    CM_NOTARY *nc;

    if ((nc = cm_notary_connect(cm_config_str(cctx->cf, "notary_socket"),
				CMAIL_POP3_NOTARY_TIMEOUT, err, sizeof(err))) == NULL)
	*error_r = t_strdup(err);
    return (nc);
}

/* cmail_sealed - the sealed blob of a stored form, in a rewound temporary file */
static FILE *cmail_sealed(struct client *client, uint32_t msgnum, char *envelope_id,
			          size_t idlen, const char **subject_r, const char **error_r)
{
    struct mail *mail;
    struct istream *input;
    const unsigned char *data;
    const char *subject;
    size_t  size;
    char    err[512];
    FILE   *msg = NULL, *sealed = NULL;
    int     ret;

    mail = mail_alloc(client->trans, MAIL_FETCH_STREAM_HEADER | MAIL_FETCH_STREAM_BODY, NULL);
    mail_set_seq(mail, cmail_msgnum_to_seq(client, msgnum));
    if (subject_r != NULL) {
	*subject_r = "";
	if (mail_get_first_header(mail, "Subject", &subject) > 0)
	    *subject_r = t_strdup(subject);
    }
    if (mail_get_stream_because(mail, NULL, NULL, "cmail", &input) < 0) {
	*error_r = t_strdup_printf("cannot read message %u: %s", msgnum + 1,
				   mailbox_get_last_internal_error(client->mailbox, NULL));
	goto fail;
    }
    if ((msg = tmpfile()) == NULL || (sealed = tmpfile()) == NULL) {
	*error_r = t_strdup_printf("tmpfile: %m");
	goto fail;
    }
    while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
	if (fwrite(data, 1, size, msg) != size) {
	    *error_r = t_strdup_printf("write temporary file: %m");
	    goto fail;
	}
	i_stream_skip(input, size);
    }
    if (input->stream_errno != 0) {
	*error_r = t_strdup_printf("read message %u: %s", msgnum + 1, i_stream_get_error(input));
	goto fail;
    }
    if (fflush(msg) != 0 || fseek(msg, 0, SEEK_SET) != 0) {
	*error_r = t_strdup_printf("temporary file: %m");
	goto fail;
    }
    if (cm_storedform_extract(msg, envelope_id, idlen, sealed, err, sizeof(err)) < 0) {
	*error_r = t_strdup_printf("message %u: %s", msgnum + 1, err);
	goto fail;
    }
    if (fflush(sealed) != 0 || fseek(sealed, 0, SEEK_SET) != 0) {
	*error_r = t_strdup_printf("temporary file: %m");
	goto fail;
    }
    fclose(msg);
    mail_free(&mail);
    return (sealed);
fail:
    if (msg != NULL)
	fclose(msg);
    if (sealed != NULL)
	fclose(sealed);
    mail_free(&mail);
    return (NULL);
}

/* cmail_forget_sealed - drop the sealed blob kept from a RETR */
static void cmail_forget_sealed(struct cmail_pop3_client *cctx)
{
    if (cctx->sealed != NULL) {
	fclose(cctx->sealed);
	cctx->sealed = NULL;
    }
    cctx->sealed_msgnum = 0;
}

/* cmail_answered - does the message carry our keyword */
static bool cmail_answered(struct client *client, uint32_t msgnum)
{
    const char *const *kw;
    struct mail *mail;
    bool    found = FALSE;

    mail = mail_alloc(client->trans, MAIL_FETCH_FLAGS, NULL);
    mail_set_seq(mail, cmail_msgnum_to_seq(client, msgnum));
    for (kw = mail_get_keywords(mail); kw != NULL && *kw != NULL; kw++)
	if (strcasecmp(*kw, CMAIL_POP3_KEYWORD) == 0)
	    found = TRUE;
    mail_free(&mail);
    return (found);
}

/* cmail_mark_answered - add the keyword, committed at once */
static void cmail_mark_answered(struct client *client, uint32_t msgnum)
{
    const char *const names[] = {CMAIL_POP3_KEYWORD, NULL};
    struct mailbox_transaction_context *t;
    struct mail_keywords *kw;
    struct mail *mail;

    t = mailbox_transaction_begin(client->mailbox, 0, "cmail answered");
    if (mailbox_keywords_create(client->mailbox, names, &kw) < 0) {
	i_error("cmail: keyword %s: %s", CMAIL_POP3_KEYWORD,
		mailbox_get_last_internal_error(client->mailbox, NULL));
	mailbox_transaction_rollback(&t);
	return;
    }
    mail = mail_alloc(t, 0, NULL);
    mail_set_seq(mail, cmail_msgnum_to_seq(client, msgnum));
    mail_update_keywords(mail, MODIFY_ADD, kw);
    mail_free(&mail);
    mailbox_keywords_unref(&kw);
    if (mailbox_transaction_commit(&t) < 0)
	i_error("cmail: keyword %s: %s", CMAIL_POP3_KEYWORD,
		mailbox_get_last_internal_error(client->mailbox, NULL));
}

/* cmail_notice_path - where the recipient's notice of an envelope is kept */
static const char *cmail_notice_path(struct client *client, const char *envelope_id,
				             bool create_dir)
{
    const char *home, *dir;

    if (!cm_seal_envelope_id_ok(envelope_id))
	return (NULL);
    if (mail_user_get_home(client->user, &home) <= 0 || home == NULL || *home != '/')
	return (NULL);
    dir = t_strconcat(home, "/" CMAIL_RECEIPTS_DIR, NULL);
    if (create_dir && mkdir(dir, 0700) < 0 && errno != EEXIST) {
	i_error("cmail: mkdir %s: %m", dir);
	return (NULL);
    }
    return (t_strconcat(dir, "/", envelope_id, ".xml", NULL));
}

/* cmail_keep_notice - store the accepted notice for later RETR */
static void cmail_keep_notice(struct client *client, const char *envelope_id,
			              const char *notice, size_t len)
{
    const char *path = cmail_notice_path(client, envelope_id, TRUE);
    const char *tmp;
    int     fd;

    if (path == NULL)
	return;
    tmp = t_strconcat(path, ".tmp", NULL);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
	i_error("cmail: create %s: %m", tmp);
	return;
    }
    if (write_full(fd, notice, len) < 0 || fsync(fd) < 0) {
	i_error("cmail: write %s: %m", tmp);
	i_close_fd(&fd);
	i_unlink(tmp);
	return;
    }
    i_close_fd(&fd);
    if (rename(tmp, path) < 0) {
	i_error("cmail: rename %s: %m", tmp);
	i_unlink(tmp);
    }
}

/* cmail_read_notice - the kept notice, NULL if there is none */
static char *cmail_read_notice(struct client *client, const char *envelope_id, size_t *len_r)
{
    const char *path = cmail_notice_path(client, envelope_id, FALSE);
    struct stat st;
    char   *buf;
    FILE   *fp;

    if (path == NULL || (fp = fopen(path, "re")) == NULL)
	return (NULL);
    if (fstat(fileno(fp), &st) < 0 || st.st_size <= 0 || st.st_size > CM_NOTICE_MAX) {
	fclose(fp);
	return (NULL);
    }
    buf = i_malloc((size_t) st.st_size + 1);
    if (fread(buf, 1, (size_t) st.st_size, fp) != (size_t) st.st_size) {
	i_free(buf);
	fclose(fp);
	return (NULL);
    }
    fclose(fp);
    *len_r = (size_t) st.st_size;
    return (buf);
}

/* cmail_throttle - after a large reply: no input until the client read it */
static void cmail_throttle(struct client *client)
{
    if (POP3_CLIENT_OUTPUT_FULL(client) && client->io != NULL) {
	io_remove(&client->io);
	/* The flush callback gives the input handler back. */
	o_stream_set_flush_pending(client->output, TRUE);
    } else {
	client->last_output = ioloop_time;
    }
}

struct cmail_envelope_context {
    FILE   *env;
    char   *line;
    size_t  cap;
};

/*
 * cmail_envelope_callback - the ENVELOPE, dot-stuffed, continued as output
 * drains (as Dovecot's own RETR does): a 100 MB ENVELOPE never sits in the
 * output buffer. Also called by client_destroy() with the output closed.
 */
static void cmail_envelope_callback(struct client *client)
{
    struct cmail_envelope_context *ctx = client->cmd_context;
    ssize_t n;

    while (!client->output->closed) {
	if (POP3_CLIENT_OUTPUT_FULL(client))
	    return;				/* buffer full: the flush callback resumes */
	if ((n = getline(&ctx->line, &ctx->cap, ctx->env)) <= 0) {
	    o_stream_nsend(client->output, ".\r\n", 3);
	    break;
	}
	if (ctx->line[0] == '.')
	    o_stream_nsend(client->output, ".", 1);
	if (ctx->line[n - 1] == '\n') {
	    n--;
	    if (n > 0 && ctx->line[n - 1] == '\r')
		n--;
	}
	o_stream_nsend(client->output, ctx->line, (size_t) n);
	o_stream_nsend(client->output, "\r\n", 2);
    }
    free(ctx->line);
    fclose(ctx->env);
    i_free(ctx);
    client->cmd_context = NULL;
    client->cmd = NULL;
}

/* cmail_send_envelope - "+OK ...", then the ENVELOPE in env (which it takes over) */
static void cmail_send_envelope(struct client *client, FILE *env, const char *first)
{
    struct cmail_envelope_context *ctx = i_new(struct cmail_envelope_context, 1);

    ctx->env = env;
    o_stream_nsend_str(client->output, first);
    o_stream_nsend(client->output, "\r\n", 2);
    client->cmd = cmail_envelope_callback;
    client->cmd_context = ctx;
    cmail_envelope_callback(client);
}

/* cmail_envelope_size - octets of the ENVELOPE as sent (LF as CRLF), before dot-stuffing */
static uoff_t cmail_envelope_size(FILE *env)
{
    char    buf[65536];
    const char *p, *end;
    uoff_t  size = 0;
    size_t  n;
    int     prev = 0;

    while ((n = fread(buf, 1, sizeof(buf), env)) > 0) {
	size += n;
	end = buf + n;
	for (p = buf; (p = memchr(p, '\n', (size_t) (end - p))) != NULL; p++)
	    if ((p == buf ? prev : p[-1]) != '\r')
		size++;
	prev = (unsigned char) buf[n - 1];
    }
    rewind(env);
    return (size);
}

/* cmail_release - notary ANSWER; on success the ENVELOPE in a rewound file */
static FILE *cmail_release(struct client *client, uint32_t msgnum, const char *notice,
			           size_t len, CM_NOTARY_ANSWER_RESULT *res, char *envelope_id,
			           size_t idlen, const char **subject_r, CM_NOTARY **nc_r,
			           const char **error_r)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);
    char    err[512];
    CM_NOTARY *nc;
    FILE   *sealed, *env;

    *nc_r = NULL;
    if (cctx->sealed != NULL && cctx->sealed_msgnum == msgnum + 1
	&& strlen(cctx->sealed_id) < idlen) {
	/* The blob of this session's RETR of the message: taken over. */
	sealed = cctx->sealed;
	cctx->sealed = NULL;
	cctx->sealed_msgnum = 0;
	i_strocpy(envelope_id, cctx->sealed_id, idlen);
	if (subject_r != NULL)
	    *subject_r = cctx->sealed_subject;
    } else if ((sealed = cmail_sealed(client, msgnum, envelope_id, idlen, subject_r,
				      error_r)) == NULL) {
	return (NULL);
    }
    if ((env = tmpfile()) == NULL) {
	*error_r = t_strdup_printf("tmpfile: %m");
	fclose(sealed);
	return (NULL);
    }
    if ((nc = cmail_notary(cctx, error_r)) == NULL) {
	fclose(sealed);
	fclose(env);
	return (NULL);
    }
    if (cm_notary_answer(nc, envelope_id, cctx->address, notice, len, fileno(sealed),
			 fileno(env), res, err, sizeof(err)) < 0) {
	*error_r = t_strdup(err);
	cm_notary_close(nc);
	fclose(sealed);
	fclose(env);
	return (NULL);
    }
    fclose(sealed);
    if (fseek(env, 0, SEEK_SET) != 0) {
	*error_r = t_strdup_printf("temporary file: %m");
	free(res->notice);
	res->notice = NULL;
	cm_notary_close(nc);
	fclose(env);
	return (NULL);
    }
    *nc_r = nc;
    return (env);
}

/*
 * cmail_receipt_sent - was the receipt notice mail of this answer journalled?
 * An answer interrupted by a crash (pop3 or the notary) after "answered"
 * left no "receipt-sent": the next answer sends the mail then. On a
 * journal error, assume not sent: mailing twice is harmless (the mail's
 * Message-ID is derived from the envelope id and the recipient, and
 * cmail_deliver saves it once), never mailing it loses the notice.
 */
static bool cmail_receipt_sent(CM_NOTARY *nc, const char *envelope_id, const char *address)
{
    long long count = 0;
    char    err[512];

    if (cm_notary_lookup(nc, envelope_id, "receipt-sent", address, &count, NULL, 0,
			 err, sizeof(err)) < 0) {
	i_error("cmail: %s: cannot tell whether the receipt notice was mailed (%s): "
		"mailing it (again)", envelope_id, err);
	return (FALSE);
    }
    if (count == 0)
	i_info("cmail: %s: answered before, but the receipt notice was never mailed: "
	       "mailing it now", envelope_id);
    return (count > 0);
}

/*
 * cmail_after_answer - receipt notice mail to the sender, then journal it.
 * 1: mailed (or nothing can be mailed: no sender), 0: refused for good by
 * the MTA, -1: temporary failure (the caller keeps the ENVELOPE back, so
 * that the client answers again and the mail goes out then).
 */
static int cmail_after_answer(struct client *client, CM_NOTARY *nc, const char *envelope_id,
			              const char *subject, const CM_NOTARY_ANSWER_RESULT *res)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);
    const char *error;
    const char *kv[3];
    const char *relay_host = NULL;
    char    err[512];
    int     ret;

    if (res->sender[0] == '\0') {
	i_error("cmail: %s: sender unknown, no receipt notice mail", envelope_id);
	return (1);
    }
    /*
     * A sender on another Cmail server: the notice goes to the relay
     * injection listener, where cmail-relay sends it on as SEND NORP.
     */
    if (!cm_domain_listed(cm_addr_domain(res->sender), cm_config_str(cctx->cf, "local_domains")))
	relay_host = cm_config_str(cctx->cf, "relay_injection_address");
    if ((ret = cmail_pop3_send_receipt(client, envelope_id, res->sender, cctx->address, subject,
				       res->notice, res->notice_len, relay_host, &error)) <= 0) {
	i_error("cmail: %s: receipt notice mail to <%s> failed%s: %s", envelope_id,
		res->sender, ret < 0 ? " (temporarily)" : "", error);
	return (ret < 0 ? -1 : 0);
    }
    kv[0] = t_strdup_printf("recipient=%s", cctx->address);
    kv[1] = t_strdup_printf("sender=%s", res->sender);
    kv[2] = relay_host != NULL ? "route=relay" : "route=local";
    if (cm_notary_record(nc, envelope_id, "receipt-sent", kv, 3, NULL, err, sizeof(err)) < 0)
	i_error("cmail: %s: receipt notice mailed but not journalled: %s", envelope_id, err);
    else
	i_info("cmail: %s: receipt notice mailed to <%s>", envelope_id, res->sender);
    return (1);
}

/* cmail_retr_receipt - RETR n: the signed receipt notice with the challenge */
static int cmail_retr_receipt(struct client *client, uint32_t msgnum)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    err[512];
    const char *error, *subject = "";
    CM_NOTARY *nc;
    FILE   *sealed;
    char   *notice = NULL, *b64;
    size_t  len = 0;

    if ((sealed = cmail_sealed(client, msgnum, envelope_id, sizeof(envelope_id), &subject,
			       &error)) == NULL) {
	i_error("cmail: RETR %u: %s", msgnum + 1, error);
	client_send_line(client, CMAIL_ERR_RECEIPT);
	return (1);
    }
    if ((nc = cmail_notary(cctx, &error)) == NULL) {
	i_error("cmail: RETR %u: %s", msgnum + 1, error);
	fclose(sealed);
	client_send_line(client, CMAIL_ERR_RECEIPT);
	return (1);
    }
    if (cm_notary_receipt(nc, envelope_id, cctx->address, fileno(sealed), &notice, &len,
			  err, sizeof(err)) < 0) {
	i_error("cmail: RETR %u (%s) for <%s>: %s", msgnum + 1, envelope_id, cctx->address, err);
	cm_notary_close(nc);
	fclose(sealed);
	client_send_line(client, CMAIL_ERR_RECEIPT);
	return (1);
    }
    cm_notary_close(nc);
    /* Kept for the CHLG RESP that follows: no second copy and extraction. */
    cmail_forget_sealed(cctx);
    if (fseek(sealed, 0, SEEK_SET) == 0) {
	cctx->sealed = sealed;
	cctx->sealed_msgnum = msgnum + 1;
	i_strocpy(cctx->sealed_id, envelope_id, sizeof(cctx->sealed_id));
	cctx->sealed_subject = p_strdup(client->pool, subject);
    } else {
	fclose(sealed);
    }
    if ((b64 = cm_base64_encode((const unsigned char *) notice, len, 76)) == NULL) {
	free(notice);
	client_send_line(client, CMAIL_ERR_RECEIPT);
	return (1);
    }
    free(notice);
    T_BEGIN {
	string_t *out = t_str_new(strlen(b64) * 2 + 64);
	const char *p;
	size_t  size = 0;

	for (p = b64; *p; p++)
	    size += (*p == '\n') ? 2 : 1;
	str_printfa(out, "+OK %zu octets\r\n", size);
	for (p = b64; *p; p++) {
	    if (*p == '\n')
		str_append(out, "\r\n");
	    else
		str_append_c(out, *p);
	}
	str_append(out, ".\r\n");
	o_stream_nsend(client->output, str_data(out), str_len(out));
    } T_END;
    cmail_throttle(client);
    free(b64);
    cctx->chlg_msgnum = msgnum + 1;
    client->retr_count++;
    i_info("cmail: RETR %u: receipt notice of %s for <%s>", msgnum + 1, envelope_id,
	   cctx->address);
    return (1);
}

/* cmail_cmd_retr - RETR n */
static int cmail_cmd_retr(struct client *client, const char *args)
{
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    CM_NOTARY_ANSWER_RESULT res;
    const char *error;
    CM_NOTARY *nc;
    uint32_t msgnum;
    char   *notice = NULL;
    const char *subject = "";
    size_t  len = 0;
    FILE   *env;
    int     ret = -1;

    if (!cmail_parse_msgnum(client, args, FALSE, &msgnum, NULL) || !cmail_certified(client, msgnum))
	return (0);
    if (!cmail_answered(client, msgnum))
	return (cmail_retr_receipt(client, msgnum));
    /* Answered: the envelope id is needed to find the kept notice. */
    T_BEGIN {
	FILE   *sealed = cmail_sealed(client, msgnum, envelope_id, sizeof(envelope_id), NULL,
				      &error);

	if (sealed != NULL) {
	    fclose(sealed);
	    notice = cmail_read_notice(client, envelope_id, &len);
	}
    } T_END;
    if (notice == NULL)
	return (cmail_retr_receipt(client, msgnum));
    memset(&res, 0, sizeof(res));
    if ((env = cmail_release(client, msgnum, notice, len, &res, envelope_id,
			     sizeof(envelope_id), &subject, &nc, &error)) == NULL) {
	i_error("cmail: RETR %u (answered): %s", msgnum + 1, error);
	i_free(notice);
	return (cmail_retr_receipt(client, msgnum));
    }
    /* A crash may have come between the answer and its receipt notice mail. */
    if (!cmail_receipt_sent(nc, envelope_id, cmail_pop3_client_get(client)->address)
	&& cmail_after_answer(client, nc, envelope_id, subject, &res) < 0) {
	/* Not yet: the client asks again later, and the mail goes out then. */
	cm_notary_close(nc);
	fclose(env);
	free(res.notice);
	i_free(notice);
	client_send_line(client, CMAIL_ERR_RECEIPT);
	return (1);
    }
    cm_notary_close(nc);
    cmail_send_envelope(client, env, t_strdup_printf("+OK %" PRIuUOFF_T " octets",
						      cmail_envelope_size(env)));
    free(res.notice);
    i_free(notice);
    /* A CHLG RESP may still follow (a client that raced another session). */
    cmail_pop3_client_get(client)->chlg_msgnum = msgnum + 1;
    client->retr_count++;
    ret = 1;
    return (ret);
}

/* cmail_cmd_chlg - CHLG RESP <base64 SignedReceiptNotice> */
static int cmail_cmd_chlg(struct client *client, const char *args)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    CM_NOTARY_ANSWER_RESULT res;
    const char *error, *subject = "";
    CM_NOTARY *nc = NULL;
    unsigned char *notice;
    uint32_t msgnum;
    size_t  len = 0;
    FILE   *env;

    if (strncasecmp(args, "RESP ", 5) != 0 || args[5] == '\0') {
	i_info("cmail: CHLG: syntax error (expected CHLG RESP <base64>)");
	client_send_line(client, CMAIL_ERR_ENVELOPE);
	return (-1);
    }
    if (cctx->chlg_msgnum == 0) {
	i_info("cmail: CHLG RESP without a RETR of a certified message");
	client_send_line(client, CMAIL_ERR_ENVELOPE);
	return (1);
    }
    msgnum = cctx->chlg_msgnum - 1;
    if (cmail_deleted(client, msgnum)) {
	i_info("cmail: CHLG RESP for deleted message %u", msgnum + 1);
	client_send_line(client, CMAIL_ERR_ENVELOPE);
	return (1);
    }
    args += 5;
    if ((notice = cm_base64_decode(args, strlen(args), &len)) == NULL || len == 0
	|| len > CM_NOTICE_MAX) {
	free(notice);
	i_info("cmail: CHLG RESP: argument is not base64 of a notice");
	client_send_line(client, CMAIL_ERR_ENVELOPE);
	return (-1);
    }
    memset(&res, 0, sizeof(res));
    if ((env = cmail_release(client, msgnum, (const char *) notice, len, &res, envelope_id,
			     sizeof(envelope_id), &subject, &nc, &error)) == NULL) {
	i_error("cmail: CHLG RESP for message %u by <%s> refused: %s", msgnum + 1,
		cctx->address, error);
	free(notice);
	client_send_line(client, CMAIL_ERR_ENVELOPE);
	return (-1);				/* counts towards the bad-command limit */
    }
    /* The notary journalled "answered" before writing a single byte. */
    cmail_mark_answered(client, msgnum);
    cmail_keep_notice(client, envelope_id, (const char *) notice, len);
    free(notice);
    i_info("cmail: CHLG RESP: %s answered by <%s>%s", envelope_id, cctx->address,
	   res.seq > 0 ? "" : " (again)");
    /*
     * The receipt notice mail goes out before the ENVELOPE: a crash in
     * between leaves a client without the ENVELOPE, which answers again,
     * and that answer mails what is not journalled as mailed yet.
     */
    if ((res.seq > 0 || !cmail_receipt_sent(nc, envelope_id, cctx->address))
	&& cmail_after_answer(client, nc, envelope_id, subject, &res) < 0) {
	/*
	 * The MTA did not take the mail (down?): no ENVELOPE yet. The
	 * answer is journalled, the keyword set and the notice kept: the
	 * client's next RETR mails the notice, then gets the ENVELOPE.
	 */
	cm_notary_close(nc);
	fclose(env);
	free(res.notice);
	client_send_line(client, CMAIL_ERR_ENVELOPE);
	return (1);
    }
    cm_notary_close(nc);
    cmail_send_envelope(client, env, "+OK");
    free(res.notice);
    return (1);
}

/* cmail_pop3_command - our commands; 0 hands the command to pop3 */
int     cmail_pop3_command(struct client *client, const char *name, const char *args)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);

    if (cctx == NULL || cctx->cf == NULL || client->mailbox == NULL)
	return (0);
    while (*args == ' ')			/* as client_command_execute() */
	args++;
    if (strcasecmp(name, "CAPA") == 0)
	return (cmail_cmd_capa(client));
    if (strcasecmp(name, "LIST") == 0)
	return (cmail_cmd_list(client, args));
    if (strcasecmp(name, "RETR") == 0)
	return (cmail_cmd_retr(client, args));
    if (strcasecmp(name, "TOP") == 0)
	return (cmail_cmd_top(client, args));
    if (strcasecmp(name, "CHLG") == 0)
	return (cmail_cmd_chlg(client, args));
    return (0);
}

/* cmail_pop3_client_free - release what the session holds outside its pool */
void    cmail_pop3_client_free(struct cmail_pop3_client *cctx)
{
    cmail_forget_sealed(cctx);
    if (cctx->cf != NULL) {
	cm_config_free(cctx->cf);
	cctx->cf = NULL;
    }
}
