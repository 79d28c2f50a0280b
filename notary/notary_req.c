/*++
 * NAME
 *	notary_req 3
 * SUMMARY
 *	cmail-notary: read one request, check it, answer it
 * DESCRIPTION
 *	The requests of cm_notary.h: PING, SIGN, SEAL, UNSEAL, RECORD.
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
#include <libxml/tree.h>

#include "cm_log.h"
#include "cm_xml.h"
#include "cm_notice.h"
#include "cm_dsig.h"
#include "cm_notary.h"
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
    cm_notary_out_str(o, CM_NF_KEY_ID, notary.seal.key_id);
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
		cm_seal_stream(&notary.seal, envelope_id, in_fd, out_fd, NOTARY_FD_TIMEOUT,
			       notary.seal_limit, &st, why, sizeof(why)) :
		cm_unseal_stream(&notary.seal, envelope_id, in_fd, out_fd, NOTARY_FD_TIMEOUT,
				 notary.seal_limit, &st, why, sizeof(why))) < 0) {
	snprintf(err, errlen, "%s envelope=%s: %s", name, envelope_id, why);
	ret = rc == -2 ? -2 : -1;
    } else {
	cm_notary_out_str(o, CM_NF_KEY_ID, notary.seal.key_id);
	cm_notary_out_u64(o, CM_NF_BYTES_IN, st.in_bytes);
	cm_notary_out_u64(o, CM_NF_BYTES_OUT, st.out_bytes);
	msg_info("pid=%ld uid=%lu: %s id=%u envelope=%s key=%s in=%llu out=%llu",
		 (long) c->pid, (unsigned long) c->uid, name, (unsigned) m->id, envelope_id,
		 notary.seal.key_id, st.in_bytes, st.out_bytes);
	ret = 0;
    }
    if (in_fd >= 0)
	close(in_fd);
    if (out_fd >= 0)
	close(out_fd);
    return (ret);
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
    if (cm_evidence_append(notary.evidence, envelope_id, event, details, &row,
			   why, sizeof(why)) < 0) {
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
