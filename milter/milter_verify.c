/*++
 * NAME
 *	milter_verify 3
 * SUMMARY
 *	does a message hold a genuine stored form of this server
 * DESCRIPTION
 *	See cmail_milter.h. The order of the checks matters for the
 *	outcome: everything that depends only on the message (syntax,
 *	which seal key, which envelope) is a rejection; a notary that does
 *	not answer, or an I/O error on our side, is a temporary failure,
 *	so that a genuine message is never refused because of a hiccup.
 *	The notary is asked for its seal key id first (PING), so a blob
 *	sealed under another key is refused with that reason before any
 *	UNSEAL; an UNSEAL that the notary then refuses permanently (ERROR
 *	with CODE 'p', cm_notary_error_temporary() == 0) means the blob was
 *	edited (authentication failed); a temporary ERROR (I/O on the
 *	descriptors, resources) or a transport failure is a tempfail. The recipients are compared with the
 *	Entity elements of Type "to" and "cc" (PROFILE.md: one per
 *	recipient; a "from" Entity is not a recipient).
 *--*/
#include "config.h"
#include <stdio.h>
#ifdef __GLIBC__
#include <stdio_ext.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <stdarg.h>

#include "cm_log.h"
#include "cm_tmpfile.h"
#include "cm_seal.h"
#include "cm_notary.h"
#include "cm_storedform.h"
#include "cm_container.h"
#include "cm_notice.h"
#include "cmail_milter.h"

/* outcome - set the action and the reason */
static void __attribute__((format(printf, 3, 4)))
	outcome(CMM_RESULT *res, CMM_ACTION action, const char *fmt,...)
{
    va_list ap;

    res->action = action;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

/* cmm_tempfile - unnamed temporary file in the spool directory */
int     cmm_tempfile(const CMM_SETTINGS *set, FILE **fp_r, char *err, size_t errlen)
{
    FILE   *fp;

    if ((*fp_r = fp = cm_tmpfile(set->spool_directory, err, errlen)) == 0)
	return (-1);
#ifdef __GLIBC__

    /*
     * One message's file is used by one callback at a time: no stdio lock.
     * In this threaded process every stdio call would otherwise take and
     * drop a lock (once per byte when the stored form was read with
     * getc(): 10% of the server CPU of a 1 MB deposit; now once per line).
     */
    (void) __fsetlocking(fp, FSETLOCKING_BYCALLER);
#endif
    *fp_r = fp;
    return (0);
}

/* check_seal_header - the blob's clear header names our key and envelope */
static int check_seal_header(FILE *sealed, const char *our_key_id, const char *envelope_id,
			             CMM_RESULT *res)
{
    unsigned char head[CM_SEAL_HEADER_MAX];
    char    key_id[CM_SEAL_KEY_ID_LEN + 1];
    char    blob_id[CM_ENVELOPE_ID_MAX + 1];
    size_t  n;

    n = fread(head, 1, sizeof(head), sealed);
    if (ferror(sealed)) {
	outcome(res, CMM_TEMPFAIL, "read error on the sealed blob");
	return (-1);
    }
    if (cm_seal_peek(head, n, key_id, blob_id) <= 0) {
	outcome(res, CMM_REJECT, "the sealed part is not a Cmail sealed blob");
	return (-1);
    }
    if (strcmp(key_id, our_key_id) != 0) {
	outcome(res, CMM_REJECT, "sealed under another seal key (key id %s)", key_id);
	return (-1);
    }
    if (strcmp(blob_id, envelope_id) != 0) {
	outcome(res, CMM_REJECT, "the sealed part belongs to another envelope");
	return (-1);
    }
    return (0);
}

/* check_container - the unsealed container and its notice */
static CM_NOTICE *check_container(FILE *plain, const char *envelope_id, CMM_RESULT *res)
{
    CM_CONTAINER c;
    CM_NOTICE *n;
    char    err[256];

    if (fseek(plain, 0, SEEK_SET) != 0) {
	outcome(res, CMM_TEMPFAIL, "cannot rewind the unsealed container");
	return (0);
    }
    memset(&c, 0, sizeof(c));
    if (cm_container_read(plain, &c, err, sizeof(err)) < 0) {
	outcome(res, ferror(plain) ? CMM_TEMPFAIL : CMM_REJECT, "sealed container: %s", err);
	return (0);
    }
    if (strcmp(c.envelope_id, envelope_id) != 0) {
	cm_container_free(&c);
	outcome(res, CMM_REJECT, "sealed container is for another envelope");
	return (0);
    }
    n = cm_notice_read(c.notice, c.notice_len, 0, err, sizeof(err));
    cm_container_free(&c);
    if (n == 0) {
	outcome(res, CMM_REJECT, "sealed notice: %s", err);
	return (0);
    }
    if (n->type != CM_NOTICE_SIGNED_DEPOSIT || n->envelope_id == 0
	|| strcmp(n->envelope_id, envelope_id) != 0) {
	cm_notice_free(n);
	outcome(res, CMM_REJECT, "sealed notice is not the SignedDepositNotice of this envelope");
	return (0);
    }
    return (n);
}

/* journal_queued - the notary records "queued" with the queue id */
static int journal_queued(CM_NOTARY *nc, const CMM_VERIFY_REQ *req, CMM_RESULT *res)
{
    char    d_queue[96], d_nrcpt[32];
    const char *details[2];
    CM_NOTARY_RECORD_RESULT rec;
    char    err[CM_NOTARY_ERROR_MAX + 64];

    if (req->queue_id == 0 || req->queue_id[0] == 0
	|| strspn(req->queue_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	!= strlen(req->queue_id) || strlen(req->queue_id) > 64) {
	outcome(res, CMM_TEMPFAIL, "no usable queue id from the MTA (milter macro i)");
	return (-1);
    }
    snprintf(d_queue, sizeof(d_queue), "queue_id=%s", req->queue_id);
    snprintf(d_nrcpt, sizeof(d_nrcpt), "nrcpt=%zu", req->nrcpt);
    details[0] = d_queue;
    details[1] = d_nrcpt;
    if (cm_notary_record(nc, res->envelope_id, "queued", details, 2, &rec, err, sizeof(err)) < 0) {
	outcome(res, CMM_TEMPFAIL, "cannot journal the message: %s", err);
	return (-1);
    }
    res->seq = rec.seq;
    return (0);
}

/* cmm_verify - the whole check of a rebuilt message */
void    cmm_verify(const CMM_SETTINGS *set, FILE *msg, const CMM_VERIFY_REQ *req,
		           CMM_RESULT *res)
{
    FILE   *sealed = 0, *plain = 0;
    CM_NOTARY *nc = 0;
    CM_NOTARY_INFO info;
    CM_NOTICE *n = 0;
    CM_SEAL_STATS stats;
    const char **entities = 0;
    char    err[CM_NOTARY_ERROR_MAX + 64];
    char    why[CMM_REASON_MAX];
    size_t  i, nent;

    memset(res, 0, sizeof(*res));
    res->action = CMM_TEMPFAIL;

    /* The stored form: X-Cmail headers and the decoded sealed part. */
    if (cmm_tempfile(set, &sealed, err, sizeof(err)) < 0) {
	outcome(res, CMM_TEMPFAIL, "%s", err);
	goto done;
    }
    if (fseek(msg, 0, SEEK_SET) != 0) {
	outcome(res, CMM_TEMPFAIL, "cannot rewind the message file");
	goto done;
    }
    if (cm_storedform_extract(msg, res->envelope_id, sizeof(res->envelope_id), sealed,
			      err, sizeof(err)) < 0) {
	res->envelope_id[0] = 0;
	if (ferror(sealed) || ferror(msg))
	    outcome(res, CMM_TEMPFAIL, "I/O error while reading the stored form");
	else
	    outcome(res, CMM_REJECT, "not a valid Cmail stored form: %s", err);
	goto done;
    }

    /* Our notary, our seal key, our envelope. */
    if ((nc = cm_notary_connect(set->notary_socket, CMM_NOTARY_TIMEOUT, err, sizeof(err))) == 0
	|| cm_notary_ping(nc, &info, err, sizeof(err)) < 0) {
	outcome(res, CMM_TEMPFAIL, "%s", err);
	goto done;
    }
    if (fseek(sealed, 0, SEEK_SET) != 0) {
	outcome(res, CMM_TEMPFAIL, "cannot rewind the sealed blob");
	goto done;
    }
    if (check_seal_header(sealed, info.key_id, res->envelope_id, res) < 0)
	goto done;
    if (cmm_tempfile(set, &plain, err, sizeof(err)) < 0) {
	outcome(res, CMM_TEMPFAIL, "%s", err);
	goto done;
    }
    if (fflush(sealed) != 0 || lseek(fileno(sealed), 0, SEEK_SET) != 0) {
	outcome(res, CMM_TEMPFAIL, "cannot rewind the sealed blob");
	goto done;
    }
    if (cm_notary_unseal(nc, res->envelope_id, fileno(sealed), fileno(plain), &stats,
			 err, sizeof(err)) < 0) {
	/* Permanent: the notary refused the blob itself (CODE 'p'). */
	if (cm_notary_error_temporary(nc))
	    outcome(res, CMM_TEMPFAIL, "%s", err);
	else
	    outcome(res, CMM_REJECT, "the seal does not verify: %s", err);
	goto done;
    }
    if ((n = check_container(plain, res->envelope_id, res)) == 0)
	goto done;

    /* Injection listener: the envelope must be the sealed one. */
    if (req->injection) {
	if ((entities = calloc(n->entity_count ? n->entity_count : 1, sizeof(*entities))) == 0) {
	    outcome(res, CMM_TEMPFAIL, "out of memory");
	    goto done;
	}
	for (nent = 0, i = 0; i < n->entity_count; i++)
	    if (n->entities[i].type == CM_ENTITY_TO || n->entities[i].type == CM_ENTITY_CC)
		entities[nent++] = n->entities[i].address;
	if (!cmm_match_recipients(req->rcpts, req->nrcpt, entities, nent, why, sizeof(why))) {
	    outcome(res, CMM_REJECT, "recipients do not match the sealed entities (%s)", why);
	    goto done;
	}
	if (journal_queued(nc, req, res) < 0)
	    goto done;
    }
    outcome(res, CMM_ACCEPT, "verified");

done:
    free(entities);
    cm_notice_free(n);
    cm_notary_close(nc);
    if (plain)
	fclose(plain);				/* unnamed: discarded */
    if (sealed)
	fclose(sealed);
}
