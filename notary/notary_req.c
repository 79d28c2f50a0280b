/*++
 * NAME
 *	notary_req 3
 * SUMMARY
 *	cmail-notary: read one request, check it, answer it
 * DESCRIPTION
 *	The requests of cm_notary.h: PING, SIGN, SEAL, UNSEAL, RECORD,
 *	and RECEIPT and ANSWER for the CPOP plugin (see cm_notary.h; the
 *	expected challenge answers never leave this process).
 *	A frame the decoder refuses gets an ERROR reply and the connection
 *	is closed; a well-formed request that fails gets an ERROR reply and
 *	the connection stays open. Nothing a client sends can stop the
 *	notary. Handlers return 0, -2 when the request is refused (ERROR
 *	with CODE 'p') or -1 on a temporary failure (CODE 't').
 *--*/
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cm_log.h"
#include "cm_xml.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_notary.h"
#include "cm_container.h"
#include "cm_challenge.h"
#include "cm_addr.h"
#include "cm_cert.h"
#include "notary.h"

#define REQ_ERR_MAX	CM_NOTARY_ERROR_MAX

/* req_printable - replace control and non-ASCII bytes before logging or replying */
static void req_printable(char *s)
{
    for (; *s; s++)
	if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
	    *s = '?';
}

/* req_send_error - ERROR reply with a CODE; 0 or -1 */
static int req_send_error(NOTARY_CONN *c, uint32_t id, int code, const char *text)
{
    CM_NOTARY_OUT o;
    char    why[256];
    char    clip[CM_NOTARY_ERROR_MAX + 1];
    int     ret;

    snprintf(clip, sizeof(clip), "%s", *text ? text : "error");
    cm_notary_out_init(&o, CM_NOTARY_ERROR, id);
    cm_notary_out_str(&o, CM_NF_ERROR, clip);
    {
	char    c1 = (char) code;

	cm_notary_out_add(&o, CM_NF_CODE, &c1, 1);
    }
    if ((ret = cm_notary_out_send(c->fd, &o, CM_NOTARY_IO_TIMEOUT, why, sizeof(why))) < 0)
	msg_warn("pid=%ld uid=%lu: %s", (long) c->pid, (unsigned long) c->uid, why);
    cm_notary_out_free(&o);
    return (ret);
}

/* req_ping - key id, certificate hash, version */
static int req_ping(NOTARY_CONN *c, CM_NOTARY_MSG *m, CM_NOTARY_OUT *o, char *err, size_t errlen)
{
    cm_notary_out_str(o, CM_NF_KEY_ID, notary.seal[0].key_id);
    cm_notary_out_str(o, CM_NF_CERT_SHA256, notary.cert_sha256);
    cm_notary_out_str(o, CM_NF_VERSION, PACKAGE_VERSION);
    return (0);
}

/* req_sign - parse the notice, sign it at the place, return it */
static int req_sign(NOTARY_CONN *c, CM_NOTARY_MSG *m, CM_NOTARY_OUT *o, char *err, size_t errlen)
{
    const CM_NOTARY_FIELD *xml = cm_notary_get(m, CM_NF_NOTICE, 0);
    char    place_text[17];
    char    why[REQ_ERR_MAX];
    CM_DSIG_PLACE place;
    CM_NOTICE *model;
    xmlDocPtr doc = 0;
    char   *out = 0;
    size_t  outlen = 0;
    int     ret = -2;
    int     n;

    if (cm_notary_get_str(m, CM_NF_PLACE, place_text, sizeof(place_text)) < 0) {
	snprintf(err, errlen, "SIGN: bad PLACE");
	return (-2);
    }
    if (strcmp(place_text, "postmark") == 0) {
	place = CM_DSIG_POSTMARK;
    } else if (strcmp(place_text, "info") == 0) {
	place = CM_DSIG_INFO;
    } else {
	snprintf(err, errlen, "SIGN: PLACE must be postmark or info");
	return (-2);
    }
    if ((model = cm_notice_read((const char *) xml->data, xml->len, &doc, why,
				sizeof(why))) == 0) {
	snprintf(err, errlen, "SIGN: %s", why);
	return (-2);
    }
    if ((n = cm_dsig_sign(doc, place, notary.server_key, notary.server_cert, notary.chain,
			  why, sizeof(why))) < 0) {
	snprintf(err, errlen, "SIGN: %s", why);
	goto fail;
    }
    if ((out = cm_xml_serialize(doc, &outlen)) == 0) {
	snprintf(err, errlen, "SIGN: cannot serialise the signed notice");
	ret = -1;
	goto fail;
    }
    if (outlen > CM_NOTICE_MAX) {
	snprintf(err, errlen, "SIGN: signed notice longer than %d bytes", CM_NOTICE_MAX);
	goto fail;
    }
    cm_notary_out_add(o, CM_NF_NOTICE, out, outlen);
    msg_info("pid=%ld uid=%lu: SIGN id=%u %s envelope=%s place=%s signature=%d",
	     (long) c->pid, (unsigned long) c->uid, (unsigned) m->id,
	     cm_notice_type_name(model->type),
	     model->envelope_id ? model->envelope_id : "?", place_text, n);
    free(out);
    xmlFreeDoc(doc);
    cm_notice_free(model);
    return (0);
fail:
    if (out)
	free(out);
    xmlFreeDoc(doc);
    cm_notice_free(model);
    return (ret);
}

/* req_fd_mode_ok - is fd open for reading (want_write 0) or writing */
static int req_fd_mode_ok(int fd, int want_write)
{
    int     fl = fcntl(fd, F_GETFL);

    if (fl < 0)
	return (0);
    fl &= O_ACCMODE;
    return (fl == O_RDWR || fl == (want_write ? O_WRONLY : O_RDONLY));
}

/* req_bulk - SEAL or UNSEAL between the two passed descriptors */
static int req_bulk(NOTARY_CONN *c, CM_NOTARY_MSG *m, CM_NOTARY_OUT *o, char *err, size_t errlen)
{
    const char *name = cm_notary_type_name(m->type);
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    why[REQ_ERR_MAX];
    CM_SEAL_STATS st;
    int     in_fd = cm_notary_take_fd(m, 0);
    int     out_fd = cm_notary_take_fd(m, 1);
    int     ret = -2;
    int     rc;

    if (cm_notary_get_str(m, CM_NF_ENVELOPE_ID, envelope_id, sizeof(envelope_id)) < 0
	|| !cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "%s: bad envelope id", name);
    } else if (!req_fd_mode_ok(in_fd, 0)) {
	snprintf(err, errlen, "%s: descriptor 0 is not open for reading", name);
    } else if (!req_fd_mode_ok(out_fd, 1)) {
	snprintf(err, errlen, "%s: descriptor 1 is not open for writing", name);
    } else if ((rc = m->type == CM_NOTARY_SEAL ?
		cm_seal_stream(&notary.seal[0], envelope_id, in_fd, out_fd, NOTARY_FD_TIMEOUT,
			       notary.seal_limit, &st, why, sizeof(why)) :
		cm_unseal_stream_ring(notary.seal, notary.nseal, envelope_id, in_fd, out_fd,
				      NOTARY_FD_TIMEOUT, notary.seal_limit, &st, why,
				      sizeof(why))) < 0) {
	snprintf(err, errlen, "%s envelope=%s: %s", name, envelope_id, why);
	ret = rc == -2 ? -2 : -1;
    } else {
	const char *key_id = notary.seal[st.key_index < notary.nseal ? st.key_index : 0].key_id;

	cm_notary_out_str(o, CM_NF_KEY_ID, key_id);
	cm_notary_out_u64(o, CM_NF_BYTES_IN, st.in_bytes);
	cm_notary_out_u64(o, CM_NF_BYTES_OUT, st.out_bytes);
	msg_info("pid=%ld uid=%lu: %s id=%u envelope=%s key=%s in=%llu out=%llu",
		 (long) c->pid, (unsigned long) c->uid, name, (unsigned) m->id, envelope_id,
		 key_id, st.in_bytes, st.out_bytes);
	ret = 0;
    }
    if (in_fd >= 0)
	close(in_fd);
    if (out_fd >= 0)
	close(out_fd);
    return (ret);
}

/*
 * Events that happen once per envelope and set of details: a RECORD that
 * repeats one (a client that retried after losing the reply of a commit)
 * gets the existing row back instead of a second one. The check and the
 * append are serialised within this notary.
 */
static const char *const req_once_events[] = {
    "deposited", "queued", "transit", "relayed", "receipt-sent", "receipt-received",
    "non-delivery", 0,
};
static pthread_mutex_t req_record_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    const char *event;
    const char *details;
    CM_EVIDENCE_ROW *row;
    int     found;
} REQ_SAME;

/* req_same_row - cm_evidence_list() callback: the same event and details */
static int req_same_row(const CM_EVIDENCE_ROW *row, void *ctx)
{
    REQ_SAME *q = ctx;

    if (strcmp(row->event, q->event) != 0 || strcmp(row->details ? row->details : "", q->details) != 0)
	return (0);
    *q->row = *row;
    q->row->details = 0;			/* not valid after the walk */
    q->found = 1;
    return (1);
}

/* req_record_once - is event one of req_once_events */
static int req_record_once(const char *event)
{
    const char *const *e;

    for (e = req_once_events; *e; e++)
	if (strcmp(*e, event) == 0)
	    return (1);
    return (0);
}

/* req_record - append one evidence row, durable before the reply */
static int req_record(NOTARY_CONN *c, CM_NOTARY_MSG *m, CM_NOTARY_OUT *o, char *err, size_t errlen)
{
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    event[CM_EVIDENCE_EVENT_MAX + 1];
    char    kvbuf[CM_EVIDENCE_DETAILS_MAX][CM_EVIDENCE_KEY_MAX + CM_EVIDENCE_VALUE_MAX + 2];
    const char *kv[CM_EVIDENCE_DETAILS_MAX];
    char    why[REQ_ERR_MAX];
    CM_EVIDENCE_ROW row;
    char   *details;
    size_t  n;
    int     once, rc;

    if (cm_notary_get_str(m, CM_NF_ENVELOPE_ID, envelope_id, sizeof(envelope_id)) < 0
	|| !cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "RECORD: bad envelope id");
	return (-2);
    }
    if (cm_notary_get_str(m, CM_NF_EVENT, event, sizeof(event)) < 0
	|| !cm_evidence_event_ok(event)) {
	snprintf(err, errlen, "RECORD: unknown event");
	return (-2);
    }
    for (n = 0; n < CM_EVIDENCE_DETAILS_MAX; n++) {
	const CM_NOTARY_FIELD *f = cm_notary_get(m, CM_NF_DETAIL, n);

	if (f == 0)
	    break;
	if (f->len >= sizeof(kvbuf[n])) {
	    snprintf(err, errlen, "RECORD: detail too long");
	    return (-2);
	}
	memcpy(kvbuf[n], f->data, f->len);
	kvbuf[n][f->len] = 0;
	kv[n] = kvbuf[n];
    }
    if ((details = cm_evidence_details_canon(kv, n, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "RECORD: %s", why);
	return (-2);
    }
    once = req_record_once(event);
    if (once) {
	REQ_SAME q;

	pthread_mutex_lock(&req_record_lock);
	q.event = event;
	q.details = details;
	q.row = &row;
	q.found = 0;
	if (cm_evidence_list(notary.evidence, envelope_id, req_same_row, &q, why, sizeof(why)) < 0) {
	    pthread_mutex_unlock(&req_record_lock);
	    snprintf(err, errlen, "RECORD: %s", why);
	    free(details);
	    return (-1);
	}
	if (q.found) {
	    pthread_mutex_unlock(&req_record_lock);
	    free(details);
	    cm_notary_out_u64(o, CM_NF_SEQ, (uint64_t) row.seq);
	    cm_notary_out_str(o, CM_NF_HASH, row.hash);
	    msg_info("pid=%ld uid=%lu: RECORD id=%u envelope=%s event=%s: already journalled "
		     "as seq=%lld, not appended again", (long) c->pid, (unsigned long) c->uid,
		     (unsigned) m->id, envelope_id, event, row.seq);
	    return (0);
	}
    }
    rc = cm_evidence_append(notary.evidence, envelope_id, event, details, &row, why, sizeof(why));
    if (once)
	pthread_mutex_unlock(&req_record_lock);
    if (rc < 0) {
	msg_warn("RECORD envelope=%s event=%s: %s", envelope_id, event, why);
	snprintf(err, errlen, "RECORD: %s", why);
	free(details);
	return (-1);
    }
    free(details);
    cm_notary_out_u64(o, CM_NF_SEQ, (uint64_t) row.seq);
    cm_notary_out_str(o, CM_NF_HASH, row.hash);
    /* The syslog copy of the chain head: see cm_evidence.h. */
    msg_info("pid=%ld uid=%lu: RECORD id=%u evidence seq=%lld envelope=%s event=%s hash=%s",
	     (long) c->pid, (unsigned long) c->uid, (unsigned) m->id, row.seq,
	     envelope_id, event, row.hash);
    return (0);
}

/*
 * RECEIPT and ANSWER (CPOP). One mutex serialises every ANSWER, so the
 * check for an earlier "answered" row and the append of a new one are
 * atomic within this notary (two sessions answering the same message
 * at once produce exactly one "answered" row and one countersignature).
 */
static pthread_mutex_t req_answer_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    CM_CONTAINER ct;			/* header and the SignedDepositNotice */
    FILE   *fp;				/* positioned at the ENVELOPE */
    xmlDocPtr doc;			/* the SignedDepositNotice */
    CM_NOTICE *deposit;			/* its model (with expected answers) */
} REQ_SEALED;

/* req_sealed_free - forget an unsealed container */
static void req_sealed_free(REQ_SEALED *sd)
{
    if (sd->fp)
	fclose(sd->fp);
    cm_container_free(&sd->ct);
    if (sd->doc)
	xmlFreeDoc(sd->doc);
    cm_notice_free(sd->deposit);
    memset(sd, 0, sizeof(*sd));
}

/* req_sealed_open - unseal a blob into memory, parse container and notice */
static int req_sealed_open(const char *name, const char *envelope_id, int in_fd,
			           REQ_SEALED *sd, char *err, size_t errlen)
{
    char    why[REQ_ERR_MAX];
    CM_SEAL_STATS st;
    int     mfd;
    int     rc;

    memset(sd, 0, sizeof(*sd));
    if (!req_fd_mode_ok(in_fd, 0)) {
	snprintf(err, errlen, "%s: descriptor 0 is not open for reading", name);
	return (-2);
    }
    /* The plaintext stays in this process: an anonymous memory file. */
    if ((mfd = memfd_create("cmail-unsealed", MFD_CLOEXEC)) < 0) {
	snprintf(err, errlen, "%s: memfd_create: %s", name, strerror(errno));
	return (-1);
    }
    if ((rc = cm_unseal_stream_ring(notary.seal, notary.nseal, envelope_id, in_fd, mfd,
				    NOTARY_FD_TIMEOUT, notary.seal_limit, &st, why, sizeof(why))) < 0) {
	snprintf(err, errlen, "%s envelope=%s: %s", name, envelope_id, why);
	close(mfd);
	return (rc == -2 ? -2 : -1);
    }
    if (lseek(mfd, 0, SEEK_SET) != 0 || (sd->fp = fdopen(mfd, "r")) == 0) {
	snprintf(err, errlen, "%s: cannot read the unsealed container", name);
	close(mfd);
	return (-1);
    }
    if (cm_container_read(sd->fp, &sd->ct, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "%s envelope=%s: container: %s", name, envelope_id, why);
	req_sealed_free(sd);
	return (-2);
    }
    if (strcmp(sd->ct.envelope_id, envelope_id) != 0) {
	snprintf(err, errlen, "%s envelope=%s: container is for another envelope", name, envelope_id);
	req_sealed_free(sd);
	return (-2);
    }
    if ((sd->deposit = cm_notice_read(sd->ct.notice, sd->ct.notice_len, &sd->doc,
				      why, sizeof(why))) == 0) {
	snprintf(err, errlen, "%s envelope=%s: sealed notice: %s", name, envelope_id, why);
	req_sealed_free(sd);
	return (-2);
    }
    if (sd->deposit->type != CM_NOTICE_SIGNED_DEPOSIT
	&& sd->deposit->type != CM_NOTICE_SIGNED_TRANSIT) {
	snprintf(err, errlen, "%s envelope=%s: sealed notice is a %s", name, envelope_id,
		 cm_notice_type_name(sd->deposit->type));
	req_sealed_free(sd);
	return (-2);
    }
    return (0);
}

/* req_sha256_hex - lowercase hex SHA-256 of a buffer */
static void req_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    unsigned int i;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), 0))
	mdlen = 0;
    for (i = 0; i < mdlen && i < 32; i++)
	snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * i] = 0;
}

/* req_journal - append one evidence row; 0, or -1 with err */
static int req_journal(const char *envelope_id, const char *event, const char *const *kv,
		               size_t n, CM_EVIDENCE_ROW *row, char *err, size_t errlen)
{
    char    why[REQ_ERR_MAX];
    char   *details;

    if ((details = cm_evidence_details_canon(kv, n, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "journal: %s", why);
	return (-1);
    }
    if (cm_evidence_append(notary.evidence, envelope_id, event, details, row,
			   why, sizeof(why)) < 0) {
	snprintf(err, errlen, "journal: %s", why);
	free(details);
	return (-1);
    }
    free(details);
    msg_info("evidence seq=%lld envelope=%s event=%s hash=%s", row->seq, envelope_id, event,
	     row->hash);
    return (0);
}

/* req_serialize_checked - serialise a notice that must fit a reply */
static char *req_serialize_checked(xmlDocPtr doc, size_t *len, char *err, size_t errlen)
{
    char   *out;

    if ((out = cm_xml_serialize(doc, len)) == 0) {
	snprintf(err, errlen, "cannot serialise the notice");
	return (0);
    }
    if (*len > CM_NOTICE_MAX) {
	snprintf(err, errlen, "notice longer than %d bytes", CM_NOTICE_MAX);
	free(out);
	return (0);
    }
    return (out);
}

/* req_get_address - the ADDRESS field, checked */
static int req_get_address(CM_NOTARY_MSG *m, char *address, size_t len)
{
    return (cm_notary_get_str(m, CM_NF_ADDRESS, address, len) == 0 && cm_addr_valid(address));
}

/* req_receipt - the signed ReceiptNotice of one recipient (CPOP RETR) */
static int req_receipt(NOTARY_CONN *c, CM_NOTARY_MSG *m, CM_NOTARY_OUT *o, char *err,
		               size_t errlen)
{
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    address[CM_ADDRESS_MAX + 1];
    char    why[REQ_ERR_MAX];
    char    d_rcpt[CM_ADDRESS_MAX + 16], d_hash[96];
    const char *kv[2];
    char    hex[65];
    REQ_SEALED sd;
    CM_NOTICE *model = 0;
    CM_EVIDENCE_ROW row;
    xmlDocPtr doc = 0;
    char   *out = 0;
    size_t  outlen = 0;
    int     in_fd = cm_notary_take_fd(m, 0);
    int     ret;

    if (cm_notary_get_str(m, CM_NF_ENVELOPE_ID, envelope_id, sizeof(envelope_id)) < 0
	|| !cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "RECEIPT: bad envelope id");
	close(in_fd);
	return (-2);
    }
    if (!req_get_address(m, address, sizeof(address))) {
	snprintf(err, errlen, "RECEIPT: bad address");
	close(in_fd);
	return (-2);
    }
    ret = req_sealed_open("RECEIPT", envelope_id, in_fd, &sd, err, errlen);
    close(in_fd);
    if (ret < 0)
	return (ret);
    ret = -2;
    if ((model = cm_notice_receipt_model(sd.deposit, address, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "RECEIPT envelope=%s: %s", envelope_id, why);
	goto done;
    }
    if ((doc = cm_notice_build(model, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "RECEIPT envelope=%s: %s", envelope_id, why);
	goto done;
    }
    if (cm_dsig_sign(doc, CM_DSIG_POSTMARK, notary.server_key, notary.server_cert,
		     notary.chain, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "RECEIPT envelope=%s: sign: %s", envelope_id, why);
	goto done;
    }
    if ((out = req_serialize_checked(doc, &outlen, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "RECEIPT envelope=%s: %s", envelope_id, why);
	ret = -1;
	goto done;
    }
    req_sha256_hex(out, outlen, hex);
    snprintf(d_rcpt, sizeof(d_rcpt), "recipient=%s", address);
    snprintf(d_hash, sizeof(d_hash), "notice_sha256=%s", hex);
    kv[0] = d_rcpt;
    kv[1] = d_hash;
    if (req_journal(envelope_id, "challenged", kv, 2, &row, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "RECEIPT envelope=%s: %s", envelope_id, why);
	ret = -1;
	goto done;
    }
    cm_notary_out_add(o, CM_NF_NOTICE, out, outlen);
    msg_info("pid=%ld uid=%lu: RECEIPT id=%u envelope=%s recipient=%s",
	     (long) c->pid, (unsigned long) c->uid, (unsigned) m->id, envelope_id, address);
    ret = 0;
done:
    free(out);
    if (doc)
	xmlFreeDoc(doc);
    cm_notice_free(model);
    req_sealed_free(&sd);
    return (ret);
}

typedef struct {
    const char *address;
    int     found;
} REQ_ANSWERED;

/* req_row_recipient - does a row's recipient= detail equal address */
static int req_row_recipient(const char *details, const char *address)
{
    const char *p;

    for (p = details; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : 0) {
	if (strncmp(p, "recipient=", 10) == 0) {
	    char    v[CM_ADDRESS_MAX + 1];
	    size_t  n = strcspn(p + 10, "\n");

	    if (n < sizeof(v)) {
		memcpy(v, p + 10, n);
		v[n] = 0;
		return (cm_addr_equal(v, address));
	    }
	}
    }
    return (0);
}

/* req_answered_row - cm_evidence_list() callback: an "answered" row for the address */
static int req_answered_row(const CM_EVIDENCE_ROW *row, void *ctx)
{
    REQ_ANSWERED *a = ctx;

    if (strcmp(row->event, "answered") != 0 || !req_row_recipient(row->details, a->address))
	return (0);
    a->found = 1;
    return (1);
}

typedef struct {
    const char *event;
    const char *address;		/* NULL: any row of the event */
    long long count;
    char   *first;			/* details of the first match, malloc()ed */
} REQ_LOOKUP;

/* req_lookup_row - cm_evidence_list() callback for LOOKUP */
static int req_lookup_row(const CM_EVIDENCE_ROW *row, void *ctx)
{
    REQ_LOOKUP *l = ctx;

    if (strcmp(row->event, l->event) != 0)
	return (0);
    if (l->address && !req_row_recipient(row->details, l->address))
	return (0);
    if (l->count++ == 0 && (l->first = strdup(row->details ? row->details : "")) == 0)
	return (1);
    return (0);
}

/* req_lookup - count the rows of an event, details of the first */
static int req_lookup(NOTARY_CONN *c, CM_NOTARY_MSG *m, CM_NOTARY_OUT *o, char *err, size_t errlen)
{
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    event[CM_EVIDENCE_EVENT_MAX + 1];
    char    address[CM_ADDRESS_MAX + 1];
    char    why[REQ_ERR_MAX];
    REQ_LOOKUP l;
    char   *p, *nl;

    if (cm_notary_get_str(m, CM_NF_ENVELOPE_ID, envelope_id, sizeof(envelope_id)) < 0
	|| !cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "LOOKUP: bad envelope id");
	return (-2);
    }
    if (cm_notary_get_str(m, CM_NF_EVENT, event, sizeof(event)) < 0
	|| !cm_evidence_event_ok(event)) {
	snprintf(err, errlen, "LOOKUP: unknown event");
	return (-2);
    }
    memset(&l, 0, sizeof(l));
    l.event = event;
    if (cm_notary_get(m, CM_NF_ADDRESS, 0)) {
	if (!req_get_address(m, address, sizeof(address))) {
	    snprintf(err, errlen, "LOOKUP: bad address");
	    return (-2);
	}
	l.address = address;
    }
    if (cm_evidence_list(notary.evidence, envelope_id, req_lookup_row, &l, why, sizeof(why)) < 0) {
	free(l.first);
	snprintf(err, errlen, "LOOKUP: %s", why);
	return (-1);
    }
    if (l.count > 0 && l.first == 0) {
	snprintf(err, errlen, "LOOKUP: out of memory");
	return (-1);
    }
    cm_notary_out_u64(o, CM_NF_COUNT, (uint64_t) l.count);
    for (p = l.first; p && *p; p = nl ? nl + 1 : 0) {
	if ((nl = strchr(p, '\n')) != 0)
	    *nl = 0;
	if (*p)
	    cm_notary_out_str(o, CM_NF_DETAIL, p);
    }
    free(l.first);
    msg_info("pid=%ld uid=%lu: LOOKUP id=%u envelope=%s event=%s count=%lld",
	     (long) c->pid, (unsigned long) c->uid, (unsigned) m->id, envelope_id, event, l.count);
    return (0);
}

/* req_receipt_text - the canonical text of a receipt's content, Response emptied */
static char *req_receipt_text(CM_NOTICE *model, size_t *len, char *err, size_t errlen)
{
    CM_NOTICE_TYPE type = model->type;
    char   *response = model->challenge.response;
    xmlDocPtr doc;
    char   *out;

    model->type = CM_NOTICE_RECEIPT;
    model->challenge.response = 0;
    doc = cm_notice_build(model, err, errlen);
    model->type = type;
    model->challenge.response = response;
    if (doc == 0)
	return (0);
    out = cm_xml_serialize(doc, len);
    xmlFreeDoc(doc);
    if (out == 0)
	snprintf(err, errlen, "cannot serialise");
    return (out);
}

/* req_check_answer - everything ANSWER requires of the recipient's notice */
static int req_check_answer(const REQ_SEALED *sd, const char *address, xmlDocPtr doc,
			            CM_NOTICE *given, char *err, size_t errlen)
{
    CM_DSIG_REPORT rep;
    CM_TRUST *trust;
    CM_NOTICE *expected = 0;
    const CM_NOTICE_ENTITY *ent = 0;
    char    why[REQ_ERR_MAX];
    char    hex[65];
    char   *want = 0, *got = 0;
    size_t  want_len = 0, got_len = 0;
    size_t  i;
    int     ret = -1;

    if (given->type != CM_NOTICE_SIGNED_RECEIPT) {
	snprintf(err, errlen, "not a SignedReceiptNotice");
	return (-1);
    }
    if ((trust = cm_trust_load(cm_config_str(notary.cf, "trust_anchors"),
			       cm_config_str(notary.cf, "crl_directory"), why, sizeof(why))) == 0) {
	snprintf(err, errlen, "trust anchors: %.400s", why);
	return (-2);
    }
    if (cm_dsig_verify(doc, trust, &rep) < 0) {
	snprintf(err, errlen, "signatures do not verify: %s", rep.reason);
	goto done;
    }
    if (rep.n != 2 || rep.sigs[0].place != CM_DSIG_POSTMARK
	|| rep.sigs[1].place != CM_DSIG_CHALLENGE) {
	snprintf(err, errlen, "expected the server's and the recipient's signature, found %d",
		 rep.n);
	goto done;
    }
    for (i = 0; i < 32; i++)
	snprintf(hex + 2 * i, 3, "%02x", rep.sigs[0].cert_sha256[i]);
    if (strcmp(hex, notary.cert_sha256) != 0) {
	snprintf(err, errlen, "signature 1 is not this server's");
	goto done;
    }
    if (!cm_addr_equal(rep.sigs[1].address, address)) {
	snprintf(err, errlen, "signed by <%.100s>, not by <%.100s>", rep.sigs[1].address, address);
	goto done;
    }
    if (given->entity_count != 1 || given->entities[0].address == 0
	|| !cm_addr_equal(given->entities[0].address, address)) {
	snprintf(err, errlen, "the notice is not for <%.100s>", address);
	goto done;
    }
    /* Content equality with the receipt of THIS sealed message: no replay. */
    if ((expected = cm_notice_receipt_model(sd->deposit, address, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "%s", why);
	goto done;
    }
    if ((want = req_receipt_text(expected, &want_len, why, sizeof(why))) == 0
	|| (got = req_receipt_text(given, &got_len, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "%s", why);
	goto done;
    }
    if (want_len != got_len || CRYPTO_memcmp(want, got, want_len) != 0) {
	snprintf(err, errlen, "the notice is not the receipt of this message");
	goto done;
    }
    for (i = 0; i < sd->deposit->entity_count; i++)
	if (sd->deposit->entities[i].address
	    && cm_addr_equal(sd->deposit->entities[i].address, address))
	    ent = sd->deposit->entities + i;
    if (ent == 0 || ent->question.response == 0 || ent->question.response[0] == 0) {
	snprintf(err, errlen, "no sealed answer for <%.100s>", address);
	goto done;
    }
    if (!cm_challenge_answer_equal(ent->question.response, given->challenge.response)) {
	snprintf(err, errlen, "wrong answer");
	goto done;
    }
    ret = 0;
done:
    free(want);
    free(got);
    cm_notice_free(expected);
    cm_trust_free(trust);
    return (ret);
}

/* req_deposit_sender - the address of the sealed deposit notice's signature 2 */
static void req_deposit_sender(const REQ_SEALED *sd, char *sender, size_t len)
{
    CM_DSIG_REPORT rep;

    sender[0] = 0;
    (void) cm_dsig_verify(sd->doc, 0, &rep);
    if (rep.n >= 2 && rep.sigs[1].n == 2 && rep.sigs[1].crypto_ok && rep.sigs[1].address[0])
	snprintf(sender, len, "%s", rep.sigs[1].address);
}

/* req_copy_envelope - the ENVELOPE bytes of the container to out_fd */
static int req_copy_envelope(REQ_SEALED *sd, int out_fd, unsigned long long *bytes,
			             char *err, size_t errlen)
{
    char    buf[65536];
    unsigned long long left = sd->ct.envelope_len;
    size_t  n;
    size_t  off;
    ssize_t w;

    *bytes = 0;
    while (left > 0) {
	n = fread(buf, 1, left < sizeof(buf) ? (size_t) left : sizeof(buf), sd->fp);
	if (n == 0) {
	    snprintf(err, errlen, "ENVELOPE cut short in the container");
	    return (-1);
	}
	for (off = 0; off < n; off += (size_t) w) {
	    struct pollfd pfd;

	    pfd.fd = out_fd;
	    pfd.events = POLLOUT;
	    if (poll(&pfd, 1, NOTARY_FD_TIMEOUT) <= 0) {
		snprintf(err, errlen, "write ENVELOPE: timeout");
		return (-1);
	    }
	    if ((w = write(out_fd, buf + off, n - off)) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
		    w = 0;
		    continue;
		}
		snprintf(err, errlen, "write ENVELOPE: %s", strerror(errno));
		return (-1);
	    }
	}
	left -= n;
	*bytes += n;
    }
    return (0);
}

/* req_answer - check a SignedReceiptNotice, countersign, journal, release */
static int req_answer(NOTARY_CONN *c, CM_NOTARY_MSG *m, CM_NOTARY_OUT *o, char *err,
		              size_t errlen)
{
    const CM_NOTARY_FIELD *xml = cm_notary_get(m, CM_NF_NOTICE, 0);
    char    envelope_id[CM_ENVELOPE_ID_MAX + 1];
    char    address[CM_ADDRESS_MAX + 1];
    char    sender[CM_ADDRESS_MAX + 1];
    char    why[REQ_ERR_MAX];
    char    d_rcpt[CM_ADDRESS_MAX + 16], d_sender[CM_ADDRESS_MAX + 16], d_hash[96];
    char    d_reason[CM_EVIDENCE_VALUE_MAX + 16];
    const char *kv[3];
    char    hex[65];
    REQ_SEALED sd;
    REQ_ANSWERED seen;
    CM_EVIDENCE_ROW row;
    CM_NOTICE *given = 0;
    xmlDocPtr doc = 0;
    char   *out = 0;
    size_t  outlen = 0;
    unsigned long long bytes = 0;
    int     in_fd = cm_notary_take_fd(m, 0);
    int     out_fd = cm_notary_take_fd(m, 1);
    int     locked = 0;
    int     chk;
    int     ret;

    memset(&sd, 0, sizeof(sd));
    if (cm_notary_get_str(m, CM_NF_ENVELOPE_ID, envelope_id, sizeof(envelope_id)) < 0
	|| !cm_seal_envelope_id_ok(envelope_id)) {
	snprintf(err, errlen, "ANSWER: bad envelope id");
	ret = -2;
	goto done;
    }
    if (!req_get_address(m, address, sizeof(address))) {
	snprintf(err, errlen, "ANSWER: bad address");
	ret = -2;
	goto done;
    }
    if (!req_fd_mode_ok(out_fd, 1)) {
	snprintf(err, errlen, "ANSWER: descriptor 1 is not open for writing");
	ret = -2;
	goto done;
    }
    if ((ret = req_sealed_open("ANSWER", envelope_id, in_fd, &sd, err, errlen)) < 0)
	goto done;
    ret = -2;
    pthread_mutex_lock(&req_answer_lock);
    locked = 1;
    if ((given = cm_notice_read((const char *) xml->data, xml->len, &doc, why,
				sizeof(why))) == 0) {
	chk = -1;
    } else {
	chk = req_check_answer(&sd, address, doc, given, why, sizeof(why));
    }
    if (chk < 0) {
	snprintf(d_reason, sizeof(d_reason), "reason=%s", why);
	if (chk == -2) {			/* our configuration, not the client */
	    snprintf(err, errlen, "ANSWER envelope=%s: %s", envelope_id, why);
	    ret = -1;
	    goto done;
	}
	req_printable(d_reason);
	snprintf(d_rcpt, sizeof(d_rcpt), "recipient=%s", address);
	kv[0] = d_rcpt;
	kv[1] = d_reason;
	if (req_journal(envelope_id, "answer-refused", kv, 2, &row, err, errlen) < 0)
	    msg_warn("ANSWER envelope=%s: refusal not journalled: %s", envelope_id, err);
	snprintf(err, errlen, "ANSWER envelope=%s recipient=%s refused: %s", envelope_id, address,
		 d_reason + 7);
	ret = -2;
	goto done;
    }
    seen.address = address;
    seen.found = 0;
    if (cm_evidence_list(notary.evidence, envelope_id, req_answered_row, &seen,
			 why, sizeof(why)) < 0) {
	snprintf(err, errlen, "ANSWER envelope=%s: journal: %s", envelope_id, why);
	ret = -1;
	goto done;
    }
    req_deposit_sender(&sd, sender, sizeof(sender));
    /*
     * Countersign, also when answered before: the caller may have lost the
     * first reply before it mailed the receipt notice (RSA PKCS#1 v1.5 is
     * deterministic, so the same recipient notice gives the same document).
     */
    if (cm_dsig_sign(doc, CM_DSIG_POSTMARK, notary.server_key, notary.server_cert,
		     notary.chain, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "ANSWER envelope=%s: countersign: %s", envelope_id, why);
	ret = -1;
	goto done;
    }
    if ((out = req_serialize_checked(doc, &outlen, why, sizeof(why))) == 0) {
	snprintf(err, errlen, "ANSWER envelope=%s: %s", envelope_id, why);
	ret = -1;
	goto done;
    }
    if (seen.found) {
	/* Answered before: release again, journal nothing. */
	row.seq = 0;
    } else {
	req_sha256_hex(out, outlen, hex);
	snprintf(d_rcpt, sizeof(d_rcpt), "recipient=%s", address);
	snprintf(d_hash, sizeof(d_hash), "notice_sha256=%s", hex);
	snprintf(d_sender, sizeof(d_sender), "sender=%s", sender[0] ? sender : "unknown");
	kv[0] = d_rcpt;
	kv[1] = d_hash;
	kv[2] = d_sender;
	/* Durable before a single ENVELOPE byte is released. */
	if (req_journal(envelope_id, "answered", kv, 3, &row, why, sizeof(why)) < 0) {
	    snprintf(err, errlen, "ANSWER envelope=%s: %s", envelope_id, why);
	    ret = -1;
	    goto done;
	}
    }
    pthread_mutex_unlock(&req_answer_lock);
    locked = 0;
    if (req_copy_envelope(&sd, out_fd, &bytes, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "ANSWER envelope=%s: %s", envelope_id, why);
	ret = -1;
	goto done;
    }
    cm_notary_out_add(o, CM_NF_NOTICE, out, outlen);
    cm_notary_out_u64(o, CM_NF_BYTES_OUT, bytes);
    if (sender[0])
	cm_notary_out_str(o, CM_NF_SENDER, sender);
    if (row.seq > 0)
	cm_notary_out_u64(o, CM_NF_SEQ, (uint64_t) row.seq);
    msg_info("pid=%ld uid=%lu: ANSWER id=%u envelope=%s recipient=%s %s bytes=%llu",
	     (long) c->pid, (unsigned long) c->uid, (unsigned) m->id, envelope_id, address,
	     row.seq > 0 ? "answered" : "answered before", bytes);
    ret = 0;
done:
    if (locked)
	pthread_mutex_unlock(&req_answer_lock);
    free(out);
    if (doc)
	xmlFreeDoc(doc);
    cm_notice_free(given);
    req_sealed_free(&sd);
    if (in_fd >= 0)
	close(in_fd);
    if (out_fd >= 0)
	close(out_fd);
    return (ret);
}

/* notary_serve_one - read, check and answer one request */
int     notary_serve_one(NOTARY_CONN *c)
{
    CM_NOTARY_MSG m;
    CM_NOTARY_OUT o;
    char    err[REQ_ERR_MAX];
    char    why[256];
    int     (*fn) (NOTARY_CONN *, CM_NOTARY_MSG *, CM_NOTARY_OUT *, char *, size_t);
    int     n;
    int     rc;
    int     keep = 1;

    n = cm_notary_recv(c->fd, &m, CM_NOTARY_IO_TIMEOUT, CM_NOTARY_IO_TIMEOUT, err, sizeof(err));
    if (n == 0) {
	cm_notary_msg_free(&m);
	return (0);
    }
    if (n < 0 || cm_notary_decode(&m, err, sizeof(err)) < 0) {
	req_printable(err);
	msg_warn("pid=%ld uid=%lu: refused frame%s: %s; closing", (long) c->pid,
		 (unsigned long) c->uid, m.have_header ? "" : " (no header)", err);
	req_send_error(c, m.have_header ? m.id : 0, CM_NOTARY_PERMANENT, err);
	cm_notary_msg_free(&m);
	return (0);
    }
    c->requests++;
    switch (m.type) {
    case CM_NOTARY_PING:
	fn = req_ping;
	break;
    case CM_NOTARY_SIGN:
	fn = req_sign;
	break;
    case CM_NOTARY_SEAL:
    case CM_NOTARY_UNSEAL:
	fn = req_bulk;
	break;
    case CM_NOTARY_RECORD:
	fn = req_record;
	break;
    case CM_NOTARY_RECEIPT:
	fn = req_receipt;
	break;
    case CM_NOTARY_ANSWER:
	fn = req_answer;
	break;
    case CM_NOTARY_LOOKUP:
	fn = req_lookup;
	break;
    default:
	snprintf(err, sizeof(err), "unexpected message type %s from a client",
		 cm_notary_type_name(m.type));
	msg_warn("pid=%ld uid=%lu: %s; closing", (long) c->pid, (unsigned long) c->uid, err);
	req_send_error(c, m.id, CM_NOTARY_PERMANENT, err);
	cm_notary_msg_free(&m);
	return (0);
    }
    cm_notary_out_init(&o, m.type | CM_NOTARY_REPLY, m.id);
    err[0] = 0;
    if ((rc = fn(c, &m, &o, err, sizeof(err))) < 0) {
	req_printable(err);
	msg_warn("pid=%ld uid=%lu: %s id=%u failed (%s): %s", (long) c->pid,
		 (unsigned long) c->uid, cm_notary_type_name(m.type), (unsigned) m.id,
		 rc == -2 ? "refused" : "temporary", err);
	if (req_send_error(c, m.id, rc == -2 ? CM_NOTARY_PERMANENT : CM_NOTARY_TEMPORARY,
			   err) < 0)
	    keep = 0;
    } else if (cm_notary_out_send(c->fd, &o, CM_NOTARY_IO_TIMEOUT, why, sizeof(why)) < 0) {
	msg_warn("pid=%ld uid=%lu: %s id=%u: reply: %s", (long) c->pid, (unsigned long) c->uid,
		 cm_notary_type_name(m.type), (unsigned) m.id, why);
	keep = 0;
    }
    cm_notary_out_free(&o);
    cm_notary_msg_free(&m);
    return (keep);
}
