/*++
 * NAME
 *	cmail-deliver-plugin 8
 * SUMMARY
 *	Dovecot 2.3 lmtp/dovecot-lda plugin: deliver each certified message once
 * SYNOPSIS
 *	protocol lmtp {
 *	  mail_plugins = $mail_plugins cmail_deliver
 *	}
 *	plugin {
 *	  cmail_deliver_keep_days = 30		# optional
 *	}
 * DESCRIPTION
 *	The Postfix -> LMTP hop is at-least-once: when lmtp has saved a
 *	message and its reply is lost (Dovecot's master dies and lmtp
 *	answers "421 Shutting down", a connection breaks after the save),
 *	Postfix delivers the same queue file again. For ordinary mail
 *	that is a harmless duplicate; for certified mail a recipient
 *	would list, and answer, the same stored form twice, and a sender
 *	would get the same receipt notice mail twice.
 *
 *	lib95_cmail_deliver_plugin.so wraps Dovecot's delivery
 *	(mail_deliver_hook_set(), the hook Pigeonhole's Sieve uses too;
 *	it is loaded after Sieve and calls it) and saves a Cmail message
 *	at most once per recipient mailbox:
 *
 *	- a certified message (a stored form: header X-Cmail-Envelope-Id
 *	  [A-Za-z0-9._@-]{1,64}), keyed by its envelope id;
 *	- a notice mail whose Message-ID is fixed per envelope and
 *	  recipient, keyed by that Message-ID: a receipt notice mail
 *	  <cmail-receipt.ENVID.RCPTHASH@domain> (the CPOP plugin,
 *	  cmail-pop3-receipt.c; cmtpd on SEND NORP), a transit or
 *	  non-delivery notice mail <cmail-transit.ENVID.HASH@domain>,
 *	  <cmail-nondelivery.ENVID.HASH@domain> (cmail-relay).
 *
 *	Every other message goes to the next hook (or the default save)
 *	untouched, whatever its Message-ID.
 *
 *	For a keyed message, under a per-user lock (fcntl on
 *	~/cmail-delivered/.lock: deliveries of Cmail messages to one user
 *	take turns; ordinary mail does not wait), with one record file per
 *	key in ~/cmail-delivered/ (named by SHA-256 of the key, holding
 *	the key):
 *
 *	1. HASH exists: the message was saved before; the delivery
 *	   succeeds without saving (250, a log line "duplicate ...
 *	   delivered before, not saved again");
 *	2. HASH.pending exists: a delivery was cut off between "about to
 *	   save" and "saved" (lmtp killed); only then is the default
 *	   mailbox (INBOX) searched for a message with the same header
 *	   value (exact, newest first): found, the record is completed
 *	   and the delivery succeeds without saving ("already in INBOX");
 *	   not found, it is delivered;
 *	3. else HASH.pending is written, the message is delivered (the
 *	   next hook, e.g. Sieve, or the default mailbox) and, once
 *	   saved, HASH.pending is renamed to HASH (atomic); a failed
 *	   delivery removes HASH.pending.
 *
 *	The record outlives the message: a recipient that fetched and
 *	deleted the message does not get it again. Records older than
 *	cmail_deliver_keep_days (default 30: longer than Postfix's
 *	maximal_queue_lifetime, 5 days by default) are removed, at most
 *	once a day per user. The one window left: lmtp killed after the
 *	save's commit and before the rename, AND the message deleted from
 *	INBOX before Postfix delivers it again (or filed by Sieve into
 *	another mailbox). A power failure may lose a record (no fsync):
 *	that can make a duplicate, never a loss.
 *
 *	A lock not obtained in 65 s makes the delivery fail temporarily
 *	(451: Postfix retries). Without a home directory, or when the
 *	record directory cannot be used (logged), the mailbox search
 *	alone decides, for every keyed message.
 * SECURITY
 *	Only the milter lets X-Cmail-Envelope-Id through (on a verified
 *	stored form). A Message-ID <cmail-receipt.*> (or transit,
 *	nondelivery) can be written by anyone: someone who knows an
 *	envelope id and the recipient could send the sender a mail with
 *	that Message-ID first, and the genuine notice mail would then not
 *	be saved; the notary's journal ("receipt-sent", "relayed") keeps
 *	the evidence, and the mail's signed notice is what proves.
 * SEE ALSO
 *	cmail-pop3-plugin(8), cmail-pop3-receipt.c, doc/reliability.md
 *--*/
#include "lib.h"
#include "ioloop.h"
#include "str.h"
#include "str-sanitize.h"
#include "mail-user.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mail-deliver.h"
#include "sha2.h"
#include "hex-binary.h"
#include "file-lock.h"

#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#define CMAIL_DELIVER_DIR		"cmail-delivered"
#define CMAIL_DELIVER_LOCK_SECS		65
#define CMAIL_DELIVER_EXPIRE_EVERY	(24 * 3600)
#define CMAIL_DELIVER_RECORD_MAX	1024	/* entries removed per expiry run */
#define CMAIL_DELIVER_ENVID_HEADER	"X-Cmail-Envelope-Id"
#define CMAIL_DELIVER_MSGID_HEADER	"Message-ID"
#define CMAIL_DELIVER_ENVID_MAX		64	/* CM_ENVELOPE_ID_MAX */
#define CMAIL_DELIVER_MSGID_MAX		250
#define CMAIL_DELIVER_KEEP_DAYS		30
#define CMAIL_DELIVER_KEEP_DAYS_MAX	3650

extern void cmail_deliver_plugin_init(struct module *module);
extern void cmail_deliver_plugin_deinit(void);

const char *cmail_deliver_plugin_version = DOVECOT_ABI_VERSION;
const char cmail_deliver_plugin_binary_dependency[] = "lmtp dovecot-lda";

static deliver_mail_func_t *cmail_deliver_next_hook;

/* What identifies a Cmail message. */
struct cmail_deliver_key {
    const char *header;			/* the header searched in the mailbox */
    const char *value;			/* its exact value */
    const char *key;			/* what the record holds */
    const char *what;			/* for log lines */
};

/* cmail_deliver_trim - a header value without surrounding blanks */
static const char *cmail_deliver_trim(const char *value)
{
    size_t  len;

    while (*value == ' ' || *value == '\t')
	value++;
    len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'
		       || value[len - 1] == '\r' || value[len - 1] == '\n'))
	len--;
    return (t_strndup(value, len));
}

/* cmail_deliver_envid_ok - [A-Za-z0-9._@-]{1,64}, as cm_seal_envelope_id_ok() */
static bool cmail_deliver_envid_ok(const char *id)
{
    size_t  len = strlen(id);

    return (len >= 1 && len <= CMAIL_DELIVER_ENVID_MAX
	    && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._@-") == len);
}

/* The notice mails with a Message-ID fixed per envelope and recipient. */
static const struct cmail_deliver_notice {
    const char *prefix;
    const char *what;
}       cmail_deliver_notices[] = {
    {"<cmail-receipt.", "receipt notice mail"},		/* CPOP plugin, cmtpd (NORP) */
    {"<cmail-transit.", "transit notice mail"},		/* cmail-relay */
    {"<cmail-nondelivery.", "non-delivery notice mail"},	/* cmail-relay */
};

/*
 * cmail_deliver_msgid_kind - which notice mail a Message-ID names, NULL if
 * none: <PREFIX ENVID.HASH@DOMAIN>, printable ASCII, bounded
 */
static const char *cmail_deliver_msgid_kind(const char *id)
{
    const struct cmail_deliver_notice *n, *found = NULL;
    size_t  len = strlen(id), i;

    for (n = cmail_deliver_notices; n < cmail_deliver_notices + N_ELEMENTS(cmail_deliver_notices); n++)
	if (strncasecmp(id, n->prefix, strlen(n->prefix)) == 0)
	    found = n;
    if (found == NULL || len <= strlen(found->prefix) + 1 || len > CMAIL_DELIVER_MSGID_MAX
	|| id[len - 1] != '>' || strchr(id, '@') == NULL)
	return (NULL);
    for (i = 0; i < len; i++)
	if ((unsigned char) id[i] <= 0x20 || (unsigned char) id[i] >= 0x7f)
	    return (NULL);
    return (found->what);
}

/*
 * cmail_deliver_get_key - is this a Cmail message, and under which key?
 * 1: yes (key filled), 0: no, -1: the header could not be read.
 */
static int cmail_deliver_get_key(struct mail *mail, struct cmail_deliver_key *key)
{
    const char *value;
    int     ret;

    if ((ret = mail_get_first_header(mail, CMAIL_DELIVER_ENVID_HEADER, &value)) < 0)
	return (-1);
    if (ret > 0) {
	value = cmail_deliver_trim(value);
	if (!cmail_deliver_envid_ok(value))
	    return (0);
	key->header = CMAIL_DELIVER_ENVID_HEADER;
	key->value = value;
	key->key = t_strconcat("cmail-envelope ", value, NULL);
	key->what = t_strconcat("certified message ", value, NULL);
	return (1);
    }
    if ((ret = mail_get_first_header(mail, CMAIL_DELIVER_MSGID_HEADER, &value)) < 0)
	return (-1);
    if (ret > 0) {
	const char *kind;

	value = cmail_deliver_trim(value);
	if ((kind = cmail_deliver_msgid_kind(value)) == NULL)
	    return (0);
	key->header = CMAIL_DELIVER_MSGID_HEADER;
	key->value = value;
	key->key = t_strconcat("cmail-notice ", value, NULL);
	key->what = t_strconcat(kind, " ", value, NULL);
	return (1);
    }
    return (0);
}

/*
 * cmail_deliver_in_mailbox - does the mailbox hold a message whose header
 * has exactly this value? 1 yes, 0 no (also: no such mailbox), -1 error.
 * Newest first: a redelivery follows its first delivery closely.
 */
static int cmail_deliver_in_mailbox(struct mail_user *user, const char *vname,
				            const struct cmail_deliver_key *key,
				            const char **error_r)
{
    const char *const wanted[] = {key->header, NULL};
    struct mailbox_header_lookup_ctx *headers;
    struct mailbox_transaction_context *t;
    struct mailbox_status status;
    struct mail_namespace *ns;
    struct mailbox *box;
    struct mail *mail;
    enum mail_error error;
    const char *value;
    uint32_t seq;
    int     found = 0, ret;

    if ((ns = mail_namespace_find(user->namespaces, vname)) == NULL) {
	*error_r = t_strdup_printf("no namespace for mailbox %s", vname);
	return (-1);
    }
    box = mailbox_alloc(ns->list, vname, 0);
    if (mailbox_sync(box, 0) < 0) {
	*error_r = t_strdup(mailbox_get_last_internal_error(box, &error));
	mailbox_free(&box);
	return (error == MAIL_ERROR_NOTFOUND ? 0 : -1);
    }
    mailbox_get_open_status(box, STATUS_MESSAGES, &status);
    t = mailbox_transaction_begin(box, 0, "cmail_deliver duplicate search");
    headers = mailbox_header_lookup_init(box, wanted);
    mail = mail_alloc(t, 0, headers);
    for (seq = status.messages; seq >= 1 && found == 0; seq--) {
	mail_set_seq(mail, seq);
	if ((ret = mail_get_first_header(mail, key->header, &value)) < 0) {
	    if (mail->expunged)
		continue;
	    *error_r = t_strdup(mailbox_get_last_internal_error(box, NULL));
	    found = -1;
	} else if (ret > 0 && strcmp(cmail_deliver_trim(value), key->value) == 0) {
	    found = 1;
	}
    }
    mail_free(&mail);
    mailbox_header_lookup_unref(&headers);
    (void) mailbox_transaction_commit(&t);
    mailbox_free(&box);
    return (found);
}

/* cmail_deliver_keep - seconds a record is kept */
static time_t cmail_deliver_keep(struct mail_user *user)
{
    const char *value = mail_user_plugin_getenv(user, "cmail_deliver_keep_days");
    unsigned int days;

    if (value == NULL || *value == '\0' || str_to_uint(value, &days) < 0
	|| days == 0 || days > CMAIL_DELIVER_KEEP_DAYS_MAX)
	days = CMAIL_DELIVER_KEEP_DAYS;
    return ((time_t) days * 24 * 3600);
}

/* The user's record of one key, and the lock held while it is used. */
struct cmail_deliver_record {
    const char *dir;			/* ~/cmail-delivered */
    const char *done;			/* dir/HASH: saved */
    const char *pending;		/* dir/HASH.pending: about to save */
    int     lock_fd;
    struct file_lock *lock;
};

/*
 * cmail_deliver_record_open - lock the user's record directory; 1 locked,
 * 0 no record can be used (logged: the mailbox alone decides), -1 the
 * lock timed out
 */
static int cmail_deliver_record_open(struct mail_user *user, const struct cmail_deliver_key *key,
				             struct cmail_deliver_record *rec)
{
    struct file_lock_settings set;
    unsigned char digest[SHA256_RESULTLEN];
    const char *home, *dir, *path, *error;
    int     fd, ret;

    i_zero(rec);
    rec->lock_fd = -1;
    if (mail_user_get_home(user, &home) <= 0 || home == NULL || *home != '/') {
	i_error("cmail_deliver: %s: user %s has no home directory: no delivery record, "
		"searching the mailbox only", key->what, user->username);
	return (0);
    }
    dir = t_strconcat(home, "/" CMAIL_DELIVER_DIR, NULL);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
	i_error("cmail_deliver: mkdir(%s) failed: %m: searching the mailbox only", dir);
	return (0);
    }
    path = t_strconcat(dir, "/.lock", NULL);
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
	i_error("cmail_deliver: open(%s) failed: %m: searching the mailbox only", path);
	return (0);
    }
    i_zero(&set);
    set.lock_method = FILE_LOCK_METHOD_FCNTL;
    if ((ret = file_wait_lock(fd, path, F_WRLCK, &set, CMAIL_DELIVER_LOCK_SECS,
			      &rec->lock, &error)) <= 0) {
	i_error("cmail_deliver: %s: %s", key->what, error);
	i_close_fd(&fd);
	if (ret == 0)
	    return (-1);
	return (0);
    }
    rec->lock_fd = fd;
    sha256_get_digest(key->key, strlen(key->key), digest);
    rec->dir = dir;
    rec->done = t_strconcat(dir, "/", binary_to_hex(digest, 16), NULL);
    rec->pending = t_strconcat(rec->done, ".pending", NULL);
    return (1);
}

/* cmail_deliver_record_close - unlock */
static void cmail_deliver_record_close(struct cmail_deliver_record *rec)
{
    if (rec->lock != NULL)
	file_unlock(&rec->lock);
    if (rec->lock_fd >= 0)
	i_close_fd(&rec->lock_fd);
}

/* cmail_deliver_exists - 1 the file exists, 0 not, -1 cannot tell (logged) */
static int cmail_deliver_exists(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0)
	return (1);
    if (errno == ENOENT)
	return (0);
    i_error("cmail_deliver: stat(%s) failed: %m", path);
    return (-1);
}

/* cmail_deliver_write - a record file holding the key; 0 or -1 (logged) */
static int cmail_deliver_write(const char *path, const struct cmail_deliver_key *key)
{
    const char *line = t_strconcat(key->key, "\n", NULL);
    int     fd, ret = 0;

    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
	i_error("cmail_deliver: open(%s) failed: %m", path);
	return (-1);
    }
    if (write(fd, line, strlen(line)) != (ssize_t) strlen(line)) {
	i_error("cmail_deliver: write(%s) failed: %m", path);
	ret = -1;
    }
    if (close(fd) < 0) {
	i_error("cmail_deliver: close(%s) failed: %m", path);
	ret = -1;
    }
    return (ret);
}

/* cmail_deliver_done - the message is saved: HASH.pending becomes HASH */
static void cmail_deliver_done(const struct cmail_deliver_record *rec,
			               const struct cmail_deliver_key *key)
{
    if (rename(rec->pending, rec->done) == 0)
	return;
    if (errno != ENOENT)
	i_error("cmail_deliver: rename(%s) failed: %m", rec->pending);
    (void) cmail_deliver_write(rec->done, key);
}

/* cmail_deliver_expire - remove records older than the keep time, once a day */
static void cmail_deliver_expire(struct mail_user *user, const struct cmail_deliver_record *rec)
{
    const char *stamp = t_strconcat(rec->dir, "/.expired", NULL);
    time_t  limit = ioloop_time - cmail_deliver_keep(user);
    struct dirent *d;
    struct stat st;
    unsigned int n = 0;
    DIR    *dp;
    int     fd;

    if (stat(stamp, &st) == 0 && st.st_mtime > ioloop_time - CMAIL_DELIVER_EXPIRE_EVERY)
	return;
    if ((fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0)
	i_close_fd(&fd);
    if ((dp = opendir(rec->dir)) == NULL) {
	i_error("cmail_deliver: opendir(%s) failed: %m", rec->dir);
	return;
    }
    while ((d = readdir(dp)) != NULL && n < CMAIL_DELIVER_RECORD_MAX) {
	if (d->d_name[0] == '.')
	    continue;
	T_BEGIN {
	    const char *path = t_strconcat(rec->dir, "/", d->d_name, NULL);

	    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < limit) {
		if (unlink(path) < 0 && errno != ENOENT)
		    i_error("cmail_deliver: unlink(%s) failed: %m", path);
		n++;
	    }
	} T_END;
    }
    (void) closedir(dp);
}

/*
 * cmail_deliver_save - what Dovecot would do without us: the next hook
 * (Sieve), then the default mailbox if nothing was saved; >0 success
 * (saved or handled by the next hook), <=0 failure (as deliver_mail).
 */
static int cmail_deliver_save(struct mail_deliver_context *ctx, struct mail_storage **storage_r)
{
    int     ret = 0;

    if (cmail_deliver_next_hook != NULL && (ret = cmail_deliver_next_hook(ctx, storage_r)) > 0)
	return (ret);
    if (ctx->saved_mail)
	return (ret);
    if (ctx->tried_default_save || ctx->tempfail_error != NULL)
	return (ret);
    if (*storage_r != NULL) {
	enum mail_error error;

	(void) mail_storage_get_last_error(*storage_r, &error);
	if (error == MAIL_ERROR_TEMP)
	    return (ret);
    }
    return (mail_deliver_save(ctx, ctx->rcpt_default_mailbox, 0, NULL, storage_r) == 0 ? 1 : -1);
}

/* cmail_deliver_mail - the deliver_mail hook */
static int cmail_deliver_mail(struct mail_deliver_context *ctx, struct mail_storage **storage_r)
{
    struct mail_user *user = ctx->rcpt_user;
    struct cmail_deliver_key key;
    struct cmail_deliver_record rec;
    const char *error = NULL;
    int     have_rec, search = 1, pending = 0, ret;

    i_zero(&key);
    if ((ret = cmail_deliver_get_key(ctx->src_mail, &key)) <= 0) {
	if (ret < 0)
	    i_error("cmail_deliver: cannot read the message's header (%s): delivered as is",
		    mailbox_get_last_internal_error(ctx->src_mail->box, NULL));
	return (cmail_deliver_next_hook != NULL ? cmail_deliver_next_hook(ctx, storage_r) : 0);
    }
    if ((have_rec = cmail_deliver_record_open(user, &key, &rec)) < 0) {
	ctx->tempfail_error = "Cmail duplicate check: lock timeout, try again later";
	return (-1);
    }
    if (have_rec) {
	if ((ret = cmail_deliver_exists(rec.done)) > 0) {
	    mail_deliver_log(ctx, "duplicate of %s: delivered before, not saved again", key.what);
	    cmail_deliver_record_close(&rec);
	    return (1);
	}
	/* Search only after a delivery cut off between pending and done. */
	search = ret < 0 || cmail_deliver_exists(rec.pending) != 0;
    }
    if (search) {
	if ((ret = cmail_deliver_in_mailbox(user, ctx->rcpt_default_mailbox, &key, &error)) > 0) {
	    mail_deliver_log(ctx, "duplicate of %s: already in %s, not saved again", key.what,
			     str_sanitize(ctx->rcpt_default_mailbox, 80));
	    if (have_rec)
		cmail_deliver_done(&rec, &key);
	    cmail_deliver_record_close(&rec);
	    return (1);
	}
	if (ret < 0)
	    i_error("cmail_deliver: %s: cannot search %s (%s): delivering it", key.what,
		    str_sanitize(ctx->rcpt_default_mailbox, 80), error);
    }
    if (have_rec)
	pending = cmail_deliver_write(rec.pending, &key) == 0;
    ret = cmail_deliver_save(ctx, storage_r);
    if (have_rec) {
	if (ret > 0 || ctx->saved_mail)
	    cmail_deliver_done(&rec, &key);
	else if (pending && unlink(rec.pending) < 0 && errno != ENOENT)
	    i_error("cmail_deliver: unlink(%s) failed: %m", rec.pending);
	cmail_deliver_expire(user, &rec);
    }
    cmail_deliver_record_close(&rec);
    return (ret);
}

/* cmail_deliver_plugin_init - wrap the delivery hook (Sieve's, if loaded) */
void    cmail_deliver_plugin_init(struct module *module ATTR_UNUSED)
{
    cmail_deliver_next_hook = mail_deliver_hook_set(cmail_deliver_mail);
}

/* cmail_deliver_plugin_deinit - restore the previous hook */
void    cmail_deliver_plugin_deinit(void)
{
    (void) mail_deliver_hook_set(cmail_deliver_next_hook);
}
