/*++
 * NAME
 *	cmtp_deposit 3
 * SUMMARY
 *	DATA (the ENVELOPE, the deposit notice) and DEPO (the deposit)
 * DESCRIPTION
 *	DATA (PROFILE.md section 2, steps m11-m14): the ENVELOPE is read
 *	dot-unstuffed into an unnamed spool file (O_TMPFILE) and hashed on the fly
 *	(MimeMessageHash: the bytes with CRLF line ends); the notary signs
 *	a DepositNotice for it, sent back as a base64 object in the 250
 *	reply.
 *
 *	DEPO (m15): the SignedDepositNotice must be schema-valid, carry
 *	exactly our server signature (1, DigitalPostmark) and the sender's
 *	(2, EnvelopeInformation), both verifying with certificates valid
 *	now; the postmark must be the one we issued for this ENVELOPE;
 *	the sender's certificate must be for MAIL FROM; there must be one
 *	Entity per recipient, with the certificate we handed out for it and
 *	a challenge (random number and expected answer). Then the notary
 *	seals the container (notice + ENVELOPE), the stored form goes to
 *	Postfix's injection listener, and only when Postfix has queued it
 *	(its milter had the notary journal "queued") and the notary has
 *	journalled "deposited" do we answer 250. Any failure: 4xx/5xx,
 *	every spool file removed.
 *
 *	Per process (a cmtpd -l worker serves many connections), two
 *	things are kept between deposits: the connection to the notary
 *	(the notary keeps idle connections without holding a thread; a
 *	request that fails on a connection that served before is tried
 *	once more on a new one, with new spool files for a seal), and up
 *	to SPOOL_KEEP unnamed spool files, emptied (ftruncate) for reuse
 *	instead of a new inode per file (4 per deposit). A spool file is
 *	kept only when nothing else can still hold it: the ENVELOPE file,
 *	and the seal's files after the notary answered.
 *	cmtp_deposit_cleanup() closes both at exit.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

#include "cm_log.h"
#include "cm_tmpfile.h"
#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_addr.h"
#include "cm_reply.h"
#include "cm_xml.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_pem.h"
#include "cm_headers.h"
#include "cm_container.h"
#include "cm_storedform.h"
#include "cm_envelope_mime.h"
#include "cm_notary.h"
#include "cm_submit.h"
#include "cmtpd.h"

#define NOTARY_TIMEOUT_MS 30000
#define SPOOL_KEEP	4		/* emptied spool files kept for reuse */
#define ENVELOPE_BUF	65536		/* DATA: bytes written and hashed at once */

static FILE *spool_kept[SPOOL_KEEP];
static int spool_nkept;
static CM_NOTARY *notary_kept;		/* this process's notary connection */
static unsigned long notary_kept_used;	/* requests answered on it */

/* cmtp_watchdog - SIGALRM: the session outlived session_time_limit */
void    cmtp_watchdog(int sig)
{
    /* The spool files are unnamed (O_TMPFILE): they go with the process. */
    _exit(1);
}

/* spool_release - empty an unnamed spool file and keep it for reuse, or close it */
static void spool_release(FILE *fp, int reuse)
{
    if (fp == 0)
	return;
    /* Unwritten buffer dropped, then the file emptied: no byte survives. */
    __fpurge(fp);
    if (reuse && spool_nkept < SPOOL_KEEP && ftruncate(fileno(fp), 0) == 0
	&& fseek(fp, 0, SEEK_SET) == 0) {
	clearerr(fp);
	spool_kept[spool_nkept++] = fp;
	return;
    }
    fclose(fp);
}

/* cmtp_discard_data - forget the ENVELOPE of this transaction */
void    cmtp_discard_data(CMTP_SESSION *s)
{
    if (s->envelope) {
	/* Never handed to another process: reusable. */
	spool_release(s->envelope, 1);
	s->envelope = 0;
    }
    free(s->mime_hash);
    s->mime_hash = 0;
    s->envelope_id[0] = 0;
    s->size = 0;
}

/* spool_anon - an empty unnamed file in the spool directory: a kept one, or a new one */
static FILE *spool_anon(CMTP_SESSION *s)
{
    char    err[256];
    FILE   *fp;

    if (spool_nkept > 0)
	return (spool_kept[--spool_nkept]);
    if ((fp = cm_tmpfile(cm_config_str(s->cf, "spool_directory"), err, sizeof(err))) == 0)
	msg_warn("%s", err);
    return (fp);
}

/* new_envelope_id - time and 64 random bits: 20261125T073600Z.0123456789abcdef */
static int new_envelope_id(char *buf, size_t size)
{
    unsigned char rnd[8];
    time_t  now = time(0);
    struct tm tm;
    size_t  n;
    int     i;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
	return (-1);
    gmtime_r(&now, &tm);
    n = strftime(buf, size, "%Y%m%dT%H%M%SZ.", &tm);
    for (i = 0; i < 8 && n + 2 < size; i++, n += 2)
	snprintf(buf + n, 3, "%02x", rnd[i]);
    return (0);
}

/* cmtp_notary - connect to the notary for one request */
CM_NOTARY *cmtp_notary(CMTP_SESSION *s, char *err, size_t errlen)
{
    return (cm_notary_connect(cm_config_str(s->cf, "notary_socket"), NOTARY_TIMEOUT_MS, err, errlen));
}

/* notary_get - the kept notary connection (connected on first use); *reused: it served before */
static CM_NOTARY *notary_get(CMTP_SESSION *s, int *reused, char *err, size_t errlen)
{
    if (notary_kept == 0) {
	notary_kept = cmtp_notary(s, err, errlen);
	notary_kept_used = 0;
    }
    *reused = notary_kept_used > 0;
    return (notary_kept);
}

/* notary_done - after a request on the kept connection: keep it, or drop it after a failure */
static void notary_done(int ok)
{
    if (ok) {
	notary_kept_used++;
    } else {
	cm_notary_close(notary_kept);
	notary_kept = 0;
    }
}

/* cmtp_deposit_cleanup - close the kept notary connection and spool files */
void    cmtp_deposit_cleanup(void)
{
    cm_notary_close(notary_kept);
    notary_kept = 0;
    while (spool_nkept > 0)
	fclose(spool_kept[--spool_nkept]);
}

/* cmtp_postmark_notice - a Deposit- or TransitNotice of this ENVELOPE, signed by us */
char   *cmtp_postmark_notice(CMTP_SESSION *s, CM_NOTICE_TYPE type, size_t *len,
			             char *err, size_t errlen)
{
    CM_NOTICE *n = cm_notice_new(type);
    xmlDocPtr doc = 0;
    char   *xml = 0, *signed_xml = 0;
    size_t  xml_len;
    CM_NOTARY *nc;
    int     reused, attempt, rc;

    if (n == 0 || cm_notice_set_str(&n->envelope_id, s->envelope_id) < 0
	|| cm_notice_add_mime_hash(n, CM_HASH_SHA256, s->mime_hash) < 0) {
	snprintf(err, errlen, "out of memory");
	goto done;
    }
    if ((doc = cm_notice_build(n, err, errlen)) == 0
	|| (xml = cm_xml_serialize(doc, &xml_len)) == 0)
	goto done;
    /* Signing has no side effect: a kept connection that failed is worth one retry. */
    for (attempt = 0; signed_xml == 0 && attempt < 2; attempt++) {
	if ((nc = notary_get(s, &reused, err, errlen)) == 0)
	    break;
	if ((rc = cm_notary_sign(nc, xml, xml_len, CM_NOTARY_PLACE_POSTMARK, &signed_xml, len,
				 err, errlen)) != 0)
	    signed_xml = 0;
	notary_done(rc == 0);
	if (rc != 0 && !reused)
	    break;
    }
done:
    free(xml);
    if (doc)
	xmlFreeDoc(doc);
    cm_notice_free(n);
    return (signed_xml);
}

/* envelope_flush - write and hash the buffered ENVELOPE bytes; -1 on a write error */
static int envelope_flush(FILE *fp, CM_HASH *h, const char *buf, size_t *used)
{
    int     ret = 0;

    if (*used == 0)
	return (0);
    if (fwrite(buf, 1, *used, fp) != *used)
	ret = -1;
    cm_hash_update(h, buf, *used);
    *used = 0;
    return (ret);
}

/* cmtp_read_envelope - 354, the ENVELOPE to an unnamed spool file, hashed */
int     cmtp_read_envelope(CMTP_SESSION *s)
{
    char    line[CM_LINE_MAX + 1];
    FILE   *fp;
    CM_HASH *h = 0;
    long long limit = cm_config_int(s->cf, "message_size_limit");
    int     too_long_seen = 0, too_big = 0;
    CM_HEADERS hdrs;
    char    err[512];
    char   *buf = 0;			/* lines with CRLF, written and hashed per ENVELOPE_BUF */
    size_t  used = 0;

    if ((fp = s->envelope = spool_anon(s)) == 0 || (h = cm_hash_new(CM_HASH_SHA256)) == 0
	|| (buf = malloc(ENVELOPE_BUF)) == 0) {
	free(buf);
	cm_hash_free(h);
	cmtp_discard_data(s);
	cm_reply(s->st, 451, "4.3.0 Error: cannot create spool file");
	return (-1);
    }
    cm_reply(s->st, 354, "Start mail input; end with <CRLF>.<CRLF>");
    for (;;) {
	int     too_long;
	ssize_t n = cm_stream_getline(s->st, line, sizeof(line), &too_long);
	const char *p = line;

	if (n < 0) {
	    /* Truncated DATA: nothing is kept. */
	    msg_warn("%s: lost connection in DATA after %lld bytes", s->client_addr, s->size);
	    free(buf);
	    cm_hash_free(h);
	    cmtp_discard_data(s);
	    s->errors = CMTP_ERRORS_MAX;	/* the session ends */
	    return (-1);
	}
	if (too_long)
	    too_long_seen = 1;
	if (strcmp(line, ".") == 0)
	    break;
	if (*p == '.') {
	    p++;
	    n--;
	}
	s->size += n + 2;
	if (s->size > limit)
	    too_big = 1;
	if (too_big || too_long_seen)
	    continue;
	/* n <= CM_LINE_MAX: a line with its CRLF always fits an empty buffer. */
	if (used + (size_t) n + 2 > ENVELOPE_BUF && envelope_flush(fp, h, buf, &used) < 0)
	    too_big = 2;
	memcpy(buf + used, p, (size_t) n);
	memcpy(buf + used + n, "\r\n", 2);
	used += (size_t) n + 2;
    }
    if (!too_big && !too_long_seen && envelope_flush(fp, h, buf, &used) < 0)
	too_big = 2;
    free(buf);
    s->mime_hash = cm_hash_final_b64(h);
    cm_hash_free(h);
    if (fflush(fp) != 0)
	too_big = 2;
    if (too_big || too_long_seen || s->mime_hash == 0) {
	cmtp_discard_data(s);
	if (too_big == 1)
	    cm_reply(s->st, 552, "5.3.4 Error: message size exceeds fixed limit");
	else if (too_long_seen)
	    cm_reply(s->st, 500, "5.5.2 Error: line too long in message data");
	else
	    cm_reply(s->st, 451, "4.3.0 Error: cannot write spool file");
	return (-1);
    }
    rewind(fp);
    if (cm_headers_read(fp, &hdrs, err, sizeof(err)) < 0) {
	cmtp_discard_data(s);
	cm_reply(s->st, 554, "5.6.0 Error: the ENVELOPE is not a MIME message: %s", err);
	return (-1);
    }
    cm_headers_free(&hdrs);
    return (0);
}

/* cmtp_data - DATA: read the ENVELOPE, answer with the deposit notice */
void    cmtp_data(CMTP_SESSION *s)
{
    char   *notice;
    size_t  notice_len;
    char    err[512];

    if (s->sender[0] == 0) {
	cm_reply(s->st, 503, "Error: need MAIL FROM command");
	return;
    }
    if (s->nrcpt == 0) {
	cm_reply(s->st, 503, "Error: need RCPT TO command");
	return;
    }
    if (s->envelope) {
	cm_reply(s->st, 503, "5.5.1 Error: DATA already received, send DEPO or RSET");
	return;
    }
    if (cmtp_read_envelope(s) < 0)
	return;
    if (new_envelope_id(s->envelope_id, sizeof(s->envelope_id)) < 0
	|| (notice = cmtp_postmark_notice(s, CM_NOTICE_DEPOSIT, &notice_len,
						 err, sizeof(err))) == 0) {
	msg_warn("%s: deposit notice: %s", s->client_addr, s->envelope_id[0] ? err : "no randomness");
	cmtp_discard_data(s);
	cm_reply(s->st, 451, "4.3.0 Error: cannot issue the deposit notice, try again later");
	return;
    }
    msg_info("%s: from=<%s>, nrcpt=%d, size=%lld, deposit notice issued", s->envelope_id,
	     s->sender, s->nrcpt, s->size);
    cm_reply_object(s->st, 250, "DepositNotice", notice, notice_len);
    cm_reply(s->st, 250, "OK");
    free(notice);
}

/* cmtp_same_cert - base64 DER in a notice equals a certificate */
int     cmtp_same_cert(const char *b64, X509 *cert)
{
    X509   *c;
    int     eq;

    if (b64 == 0 || (c = cm_cert_from_b64(b64, strlen(b64))) == 0)
	return (0);
    eq = X509_cmp(c, cert) == 0;
    X509_free(c);
    return (eq);
}

/* cmtp_check_ciphered_hash - CipheredEnvelopeHash of the ENVELOPE we hold */
int     cmtp_check_ciphered_hash(CMTP_SESSION *s, const CM_NOTICE *n, char *err, size_t errlen)
{
    CM_ENVELOPE_DIGESTS d;
    char    why[256];
    int     ret;

    rewind(s->envelope);
    ret = cm_envelope_mime_extract(s->envelope, 0, 0, &d, why, sizeof(why));
    if (ret < 0) {
	snprintf(err, errlen, "the ENVELOPE has no readable envelop part: %s", why);
	return (-1);
    }
    if (n->content.ciphered.alg != CM_HASH_SHA256
	|| !cm_hash_b64_equal(n->content.ciphered.value, d.cipher_b64)) {
	snprintf(err, errlen, "CipheredEnvelopeHash does not match the ENVELOPE received");
	return (-1);
    }
    return (0);
}

/* check_deposit - everything DEPO requires of the signed notice */
static int check_deposit(CMTP_SESSION *s, xmlDocPtr doc, const CM_NOTICE *n,
			         char *err, size_t errlen)
{
    CM_DSIG_REPORT rep;
    X509   *signer;
    int     i;
    size_t  e;
    CM_HASH_ALG alg;

    if (n->type != CM_NOTICE_SIGNED_DEPOSIT) {
	snprintf(err, errlen, "not a SignedDepositNotice");
	return (-1);
    }
    if (cm_dsig_verify(doc, s->trust, &rep) < 0) {
	snprintf(err, errlen, "signatures do not verify: %s", rep.reason);
	return (-1);
    }
    if (rep.n != 2 || rep.sigs[0].place != CM_DSIG_POSTMARK || rep.sigs[1].place != CM_DSIG_INFO) {
	snprintf(err, errlen, "expected the server's and the sender's signature, found %d", rep.n);
	return (-1);
    }
    /* cm_dsig_verify() proved signature 1 made with the key of this certificate. */
    if ((signer = cm_dsig_place_cert(doc, CM_DSIG_POSTMARK, 0)) == 0 || X509_cmp(signer, s->server_cert) != 0) {
	X509_free(signer);
	snprintf(err, errlen, "postmark not signed by this server");
	return (-1);
    }
    X509_free(signer);
    if (!cm_addr_equal(rep.sigs[1].address, s->sender)) {
	snprintf(err, errlen, "signed by <%.100s>, not by the sender <%.100s>", rep.sigs[1].address, s->sender);
	return (-1);
    }
    if (n->envelope_id == 0 || strcmp(n->envelope_id, s->envelope_id) != 0) {
	snprintf(err, errlen, "EnvelopeId is not the one of this deposit");
	return (-1);
    }
    if (n->mime_hash_count != 1 || n->mime_hashes[0].alg != CM_HASH_SHA256
	|| !cm_hash_b64_equal(n->mime_hashes[0].value, s->mime_hash)) {
	snprintf(err, errlen, "MimeMessageHash does not match the ENVELOPE received");
	return (-1);
    }
    if (n->entity_count != (size_t) s->nrcpt) {
	snprintf(err, errlen, "%zu Entity elements for %d recipients", n->entity_count, s->nrcpt);
	return (-1);
    }
    for (i = 0; i < s->nrcpt; i++) {
	const CM_NOTICE_ENTITY *found = 0;

	for (e = 0; e < n->entity_count; e++) {
	    if (n->entities[e].address && cm_addr_equal(n->entities[e].address, s->rcpts[i].addr)) {
		if (found) {
		    snprintf(err, errlen, "two Entity elements for <%s>", s->rcpts[i].addr);
		    return (-1);
		}
		found = n->entities + e;
	    }
	}
	if (found == 0) {
	    snprintf(err, errlen, "no Entity for recipient <%s>", s->rcpts[i].addr);
	    return (-1);
	}
	if (found->type != CM_ENTITY_TO && found->type != CM_ENTITY_CC) {
	    snprintf(err, errlen, "Entity <%s> has Type %s", found->address,
		     cm_entity_type_name(found->type));
	    return (-1);
	}
	if (!cmtp_same_cert(found->certificate, s->rcpts[i].cert)) {
	    snprintf(err, errlen, "Entity <%s> does not carry the recipient's certificate", found->address);
	    return (-1);
	}
	if (found->question.random_number == 0 || strlen(found->question.random_number) < 39
	    || strspn(found->question.random_number, "0123456789") != strlen(found->question.random_number)) {
	    snprintf(err, errlen, "Entity <%s>: RandomNumber missing or under 128 bits", found->address);
	    return (-1);
	}
	if (found->question.response == 0 || found->question.response[0] == 0
	    || cm_hash_from_oid(found->question.response_alg, &alg) < 0 || alg != CM_HASH_SHA256) {
	    snprintf(err, errlen, "Entity <%s>: no SHA-256 challenge answer", found->address);
	    return (-1);
	}
	if (found->wrapped_key == 0 || found->wrapped_key[0] == 0) {
	    snprintf(err, errlen, "Entity <%s>: no CipherEnvelopeKey", found->address);
	    return (-1);
	}
    }
    return (cmtp_check_ciphered_hash(s, n, err, errlen));
}


/*
 * submit_stored_form - hand the stored form to Postfix: the recipients on
 * other Cmail servers to the relay injection listener (content_filter
 * cmail-relay), then the local ones to the injection listener. A failure
 * of the second after the first succeeded leaves the first share queued
 * (and the client told 451): logged loudly, see cmtpd(8).
 */
static int submit_stored_form(CMTP_SESSION *s, FILE *ffp, char *queue_id, size_t qlen,
			              int *temporary, char *err, size_t errlen)
{
    char  **rcpts;
    int     i, pass, n, ret = 0, done = 0;
    char    qid[64];
    size_t  used = 0;

    if ((rcpts = calloc((size_t) s->nrcpt + 1, sizeof(*rcpts))) == 0) {
	snprintf(err, errlen, "out of memory");
	*temporary = 1;
	return (-1);
    }
    queue_id[0] = 0;
    for (pass = 1; pass >= 0 && ret == 0; pass--) {
	for (n = 0, i = 0; i < s->nrcpt; i++)
	    if (s->rcpts[i].remote == pass)
		rcpts[n++] = s->rcpts[i].addr;
	if (n == 0)
	    continue;
	ret = cm_submit(cm_config_str(s->cf, pass ? "relay_injection_address" : "injection_address"),
			(int) cm_config_int(s->cf, "smtp_timeout"), s->hostname, s->sender,
			rcpts, (size_t) n, ffp, qid, sizeof(qid), temporary, err, errlen);
	if (ret == 0) {
	    used += (size_t) snprintf(queue_id + used, used < qlen ? qlen - used : 0, "%s%s",
				      used ? "," : "", qid);
	    done++;
	} else if (done) {
	    msg_warn("%s: the remote share is queued as %s but the local share failed; "
		     "a retried deposit will relay it twice", s->envelope_id, queue_id);
	}
    }
    free(rcpts);
    return (ret);
}

/* cmtp_store_and_submit - seal, write the stored form, queue it, journal event */
int     cmtp_store_and_submit(CMTP_SESSION *s, const char *notice, size_t notice_len,
			              const char *event, const char *peer,
			              int *temporary, char *err, size_t errlen)
{
    FILE   *cfp = 0, *sfp = 0, *ffp = 0, *env = 0;
    CM_NOTARY *nc = 0;
    CM_SEAL_STATS stats;
    CM_STORED_INFO info;
    CM_HEADERS hdrs;
    CM_NOTARY_RECORD_RESULT rec;
    char    queue_id[160];
    char    date[64];
    char    d_queue[192], d_sender[CM_ADDRESS_MAX + 16], d_nrcpt[32], d_notice[96];
    char    d_peer[CM_ADDRESS_MAX + 16];
    const char *details[5];
    size_t  ndetails = 4;
    char   *notice_hash;
    unsigned char md[32];
    size_t  mdlen;
    CM_HASH *h;
    int     ret = -1;
    int     attempt, reused, rc;
    int     reuse_files = 0;		/* nothing else holds cfp, sfp */
    time_t  now = time(0);
    struct tm tm;

    memset(&hdrs, 0, sizeof(hdrs));
    *temporary = 1;
    env = s->envelope;
    /* Unnamed files: nothing to remove, nothing left behind by a crash. */
    if ((ffp = spool_anon(s)) == 0) {
	snprintf(err, errlen, "cannot create spool files");
	goto done;
    }

    /*
     * Sealing has no side effect: when it fails on a kept connection
     * that served before (the notary restarted, or closed it as idle), try
     * once more on a new connection, with new files (a notary still busy
     * with the first request may hold the old ones).
     */
    for (attempt = 0; attempt < 2; attempt++) {
	if (attempt > 0) {
	    spool_release(cfp, 0);
	    spool_release(sfp, 0);
	    cfp = sfp = 0;
	}
	rewind(env);
	if ((cfp = spool_anon(s)) == 0 || (sfp = spool_anon(s)) == 0) {
	    snprintf(err, errlen, "cannot create spool files");
	    goto done;
	}
	if (cm_container_write(cfp, s->envelope_id, notice, notice_len, env, err, errlen) < 0)
	    goto done;
	rewind(cfp);
	if ((nc = notary_get(s, &reused, err, errlen)) == 0)
	    goto done;
	rc = cm_notary_seal(nc, s->envelope_id, fileno(cfp), fileno(sfp), &stats, err, errlen);
	notary_done(rc == 0);
	if (rc == 0)
	    break;
	if (!reused || attempt > 0)
	    goto done;
	msg_info("%s: seal on a kept notary connection failed (%s): trying a new one",
		 s->envelope_id, err);
    }
    reuse_files = 1;			/* the notary answered: it let go of them */
    rewind(env);
    if (cm_headers_read(env, &hdrs, err, errlen) < 0)
	goto done;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    info.headers = &hdrs;
    info.envelope_id = s->envelope_id;
    info.sender = s->sender;
    info.server = s->hostname;
    info.date = date;
    if (fseek(sfp, 0, SEEK_SET) != 0 || cm_storedform_write(ffp, &info, sfp, err, errlen) < 0)
	goto done;
    if (submit_stored_form(s, ffp, queue_id, sizeof(queue_id), temporary, err, errlen) < 0)
	goto done;
    /* Queued by Postfix; its milter journalled "queued". Now "deposited". */
    h = cm_hash_new(CM_HASH_SHA256);
    if (h == 0 || cm_hash_update(h, notice, notice_len) < 0 || cm_hash_final_raw(h, md, &mdlen) < 0) {
	cm_hash_free(h);
	snprintf(err, errlen, "hash failure");
	goto done;
    }
    cm_hash_free(h);
    notice_hash = d_notice + snprintf(d_notice, sizeof(d_notice), "notice_sha256=");
    for (size_t i = 0; i < mdlen; i++)
	notice_hash += sprintf(notice_hash, "%02x", md[i]);
    snprintf(d_queue, sizeof(d_queue), "queue_id=%s", queue_id);
    snprintf(d_sender, sizeof(d_sender), "sender=%s", s->sender);
    snprintf(d_nrcpt, sizeof(d_nrcpt), "nrcpt=%d", s->nrcpt);
    details[0] = d_queue;
    details[1] = d_sender;
    details[2] = d_nrcpt;
    details[3] = d_notice;
    if (peer) {
	snprintf(d_peer, sizeof(d_peer), "peer=%s", peer);
	details[ndetails++] = d_peer;
    }
    /*
     * The message is in Postfix's queue now: a 451 would make the client
     * deposit it again. Try hard (a new connection each time) before giving up.
     */
    for (attempt = 1;; attempt++) {
	if ((nc = notary_get(s, &reused, err, errlen)) != 0) {
	    rc = cm_notary_record(nc, s->envelope_id, event, details, ndetails, &rec, err, errlen);
	    notary_done(rc == 0);
	    if (rc == 0)
		break;
	}
	msg_warn("%s: queued as %s, journalling \"%s\" failed (attempt %d): %s",
		 s->envelope_id, queue_id, event, attempt, err);
	if (attempt == 5)
	    goto done;
	/* A kept connection that failed at once: no wait before a new one. */
	if (!(attempt == 1 && reused))
	    sleep(1);
    }
    msg_info("%s: %s, queued as %s, evidence row %lld", s->envelope_id, event, queue_id, rec.seq);
    ret = 0;
done:
    cm_headers_free(&hdrs);
    spool_release(cfp, reuse_files);
    spool_release(sfp, reuse_files);
    /* Read by this process only (cm_submit). */
    spool_release(ffp, 1);
    return (ret);
}

/* cmtp_depo - DEPO <base64 SignedDepositNotice> */
void    cmtp_depo(CMTP_SESSION *s, const char *arg)
{
    unsigned char *xml;
    size_t  len;
    xmlDocPtr doc = 0;
    CM_NOTICE *n;
    char    err[512];
    int     temporary;

    if (s->envelope == 0) {
	cm_reply(s->st, 503, "5.5.1 Error: need DATA command");
	return;
    }
    if (*arg == 0) {
	cm_reply(s->st, 501, "5.5.4 Syntax: DEPO <base64 SignedDepositNotice>");
	return;
    }
    if ((xml = cm_base64_decode(arg, strlen(arg), &len)) == 0 || len == 0) {
	free(xml);
	cm_reply(s->st, 501, "5.5.4 Error: DEPO argument is not base64");
	return;
    }
    if ((n = cm_notice_read((char *) xml, len, &doc, err, sizeof(err))) == 0) {
	free(xml);
	msg_info("%s: DEPO refused: %s", s->envelope_id, err);
	cm_reply(s->st, 554, "5.6.0 Error: signed deposit notice refused: %s", err);
	return;
    }
    if (check_deposit(s, doc, n, err, sizeof(err)) < 0) {
	msg_info("%s: DEPO refused: %s", s->envelope_id, err);
	cm_reply(s->st, 554, "5.7.1 Error: signed deposit notice refused: %s", err);
    } else if (cmtp_store_and_submit(s, (char *) xml, len, "deposited", 0, &temporary,
				     err, sizeof(err)) < 0) {
	msg_warn("%s: deposit failed: %s", s->envelope_id, err);
	if (temporary)
	    cm_reply(s->st, 451, "4.3.0 Error: deposit not completed, try again later: %s", err);
	else
	    cm_reply(s->st, 554, "5.3.0 Error: deposit refused: %s", err);
    } else {
	cm_reply(s->st, 250, "OK");
	cmtp_reset(s);
    }
    xmlFreeDoc(doc);
    cm_notice_free(n);
    free(xml);
}
