/*++
 * NAME
 *	cmail-pop3-receipt 3
 * SUMMARY
 *	the receipt notice mail to the sender (PROFILE.md section 6)
 * SYNOPSIS
 *	#include "cmail-pop3-plugin.h"
 *
 *	int	cmail_pop3_send_receipt(struct client *client,
 *				const char *envelope_id,
 *				const char *sender, const char *recipient,
 *				const char *subject, const char *notice,
 *				size_t notice_len, const char *relay_host,
 *				const char **error_r);
 * DESCRIPTION
 *	After a successful CHLG RESP the countersigned SignedReceiptNotice
 *	reaches the sender as a mail (Appendix I): From the postmaster
 *	(Dovecot's postmaster_address), To the sender, Subject "Receipt
 *	notice: <original subject> read by <recipient>", a readable
 *	text/plain summary and the notice as the base64
 *	application/octet-stream attachment receiptNotice.xml.
 *
 *	The Message-ID is the same each time the notice of one answer is
 *	mailed: <cmail-receipt.ENVID.RCPT@DOMAIN>, ENVID the envelope id
 *	with '@' written '=', RCPT the first 16 hex digits of SHA-256 of
 *	the recipient's address in lower case, DOMAIN the recipient's
 *	domain. A second submission (a crash before "receipt-sent", two
 *	sessions answering at once) is then the same mail, and the
 *	delivery plugin (cmail-deliver-plugin.c) saves it once.
 *
 *	It is submitted with Dovecot's smtp-submit: to the SMTP server
 *	plugin { cmail_submission_host = host:port } when set, else
 *	through plugin { cmail_sendmail_path } (default
 *	/usr/sbin/sendmail). The envelope sender is the postmaster.
 *	relay_host (cmail.conf relay_injection_address), when not NULL,
 *	overrides both: the sender is on another Cmail server and the
 *	notice goes to cmail-relay, which sends it on as SEND NORP.
 *
 *	Returns 1 when the MTA accepted the mail, 0 on a permanent and -1
 *	on a temporary failure, with *error_r.
 *--*/
#include "lib.h"
#include "ioloop.h"
#include "ostream.h"
#include "str.h"
#include "hostpid.h"
#include "sha2.h"
#include "hex-binary.h"
#include "message-date.h"
#include "smtp-address.h"
#include "smtp-submit.h"
#include "mail-user.h"
#include "pop3-common.h"
#include "pop3-client.h"

#include "cm_base64.h"
#include "cmail-pop3-plugin.h"

/* Characters kept in the Message-ID (an envelope id is [A-Za-z0-9._@-]). */
#define CMAIL_RECEIPT_ID_CHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* cmail_header_text - a header value without line breaks or controls */
static const char *cmail_header_text(const char *value, size_t max)
{
    string_t *str = t_str_new(128);
    const char *p;

    for (p = value; *p != '\0' && str_len(str) < max; p++) {
	if ((unsigned char) *p < 0x20 || *p == 0x7f)
	    str_append_c(str, ' ');
	else
	    str_append_c(str, *p);
    }
    return (str_c(str));
}

/* cmail_receipt_message_id - <cmail-receipt.ENVID.RCPTHASH@domain>, fixed per answer */
static const char *cmail_receipt_message_id(const char *envelope_id, const char *recipient)
{
    unsigned char digest[SHA256_RESULTLEN];
    const char *domain = strrchr(recipient, '@');
    string_t *id = t_str_new(160);
    const char *p;

    sha256_get_digest(t_str_lcase(recipient), strlen(recipient), digest);
    str_append(id, "<cmail-receipt.");
    for (p = envelope_id; *p != '\0'; p++)
	str_append_c(id, *p != '@' && strchr(CMAIL_RECEIPT_ID_CHARS, *p) != NULL ? *p : '=');
    str_printfa(id, ".%s@", binary_to_hex(digest, 8));
    domain = domain != NULL ? domain + 1 : "";
    if (*domain == '\0' || strspn(domain, CMAIL_RECEIPT_ID_CHARS) != strlen(domain)
	|| strchr(domain, '_') != NULL)
	domain = my_hostname;
    str_printfa(id, "%s>", t_str_lcase(domain));
    return (str_c(id));
}

/* cmail_pop3_send_receipt - build and submit the notice mail */
int     cmail_pop3_send_receipt(struct client *client, const char *envelope_id,
				        const char *sender,
				        const char *recipient, const char *subject,
				        const char *notice, size_t notice_len,
				        const char *relay_host, const char **error_r)
{
    struct mail_user *user = client->user;
    struct smtp_submit_settings set;
    struct smtp_submit_input input;
    struct smtp_submit *submit;
    struct smtp_address *rcpt;
    const struct smtp_address *postmaster;
    struct ostream *output;
    const char *host, *sendmail, *error, *boundary, *from;
    string_t *msg;
    char   *b64;
    int     ret;

    if (smtp_address_parse_mailbox(pool_datastack_create(), sender, 0, &rcpt, &error) < 0) {
	*error_r = t_strdup_printf("bad sender address: %s", error);
	return (0);
    }
    if (!mail_user_get_postmaster_smtp(user, &postmaster, &error)) {
	*error_r = t_strdup_printf("postmaster_address: %s", error);
	return (0);
    }
    if ((b64 = cm_base64_encode((const unsigned char *) notice, notice_len, 76)) == NULL) {
	*error_r = "out of memory";
	return (-1);
    }
    from = smtp_address_encode(postmaster);
    boundary = t_strdup_printf("=_cmail_%s_%ld", my_pid, (long) ioloop_time);
    msg = t_str_new(notice_len * 2 + 2048);
    str_printfa(msg, "From: Certified mail <%s>\r\n", from);
    str_printfa(msg, "To: <%s>\r\n", sender);
    str_printfa(msg, "Subject: Receipt notice: %s read by %s\r\n",
		cmail_header_text(subject, 400), recipient);
    str_printfa(msg, "Date: %s\r\n", message_date_create(ioloop_time));
    str_printfa(msg, "Message-ID: %s\r\n", cmail_receipt_message_id(envelope_id, recipient));
    str_append(msg, "Auto-Submitted: auto-generated\r\n");
    str_append(msg, "MIME-Version: 1.0\r\n");
    str_printfa(msg, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
    str_printfa(msg, "--%s\r\n", boundary);
    str_append(msg, "Content-Type: text/plain; charset=utf-8\r\n");
    str_append(msg, "Content-Transfer-Encoding: 8bit\r\n\r\n");
    str_printfa(msg, "Your certified message \"%s\" was received and read by <%s>.\r\n",
		cmail_header_text(subject, 400), recipient);
    str_append(msg, "\r\nThe recipient answered the challenge of the message and signed the\r\n"
	       "receipt notice; the server countersigned it. The signed receipt notice\r\n"
	       "(ITU-T X.1341 SignedReceiptNotice) is attached as receiptNotice.xml;\r\n"
	       "check it with: cmail verify receiptNotice.xml\r\n\r\n");
    str_printfa(msg, "--%s\r\n", boundary);
    str_append(msg, "Content-Type: application/octet-stream; name=\"receiptNotice.xml\"\r\n");
    str_append(msg, "Content-Disposition: attachment; filename=\"receiptNotice.xml\"\r\n");
    str_append(msg, "Content-Transfer-Encoding: base64\r\n\r\n");
    {
	const char *p;

	for (p = b64; *p != '\0'; p++) {
	    if (*p == '\n')
		str_append(msg, "\r\n");
	    else
		str_append_c(msg, *p);
	}
    }
    free(b64);
    str_printfa(msg, "--%s--\r\n", boundary);

    i_zero(&set);
    host = relay_host != NULL ? relay_host : mail_user_plugin_getenv(user, "cmail_submission_host");
    sendmail = mail_user_plugin_getenv(user, "cmail_sendmail_path");
    set.hostname = my_hostname;
    set.mail_debug = user->mail_debug;
    set.submission_host = host != NULL ? host : "";
    set.sendmail_path = sendmail != NULL && *sendmail != '\0' ? sendmail : "/usr/sbin/sendmail";
    set.submission_timeout = 30;
    set.submission_ssl = "no";
    i_zero(&input);
    submit = smtp_submit_init_simple(&input, &set, postmaster);
    smtp_submit_add_rcpt(submit, rcpt);
    output = smtp_submit_send(submit);
    o_stream_nsend(output, str_data(msg), str_len(msg));
    ret = smtp_submit_run(submit, &error);
    if (ret <= 0)
	*error_r = t_strdup(error);
    smtp_submit_deinit(&submit);
    return (ret);
}
