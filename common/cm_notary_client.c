/*++
 * NAME
 *	cm_notary_client 3
 * SUMMARY
 *	client side of the cmail-notary protocol
 * DESCRIPTION
 *	See cm_notary.h. One handle is one connection; requests on it are
 *	sequential (one thread at a time). Every wait is bounded.
 *--*/
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cm_notary.h"

struct CM_NOTARY {
    int     sock;
    int     timeout_ms;
    uint32_t next_id;
    int     broken;			/* transport or protocol failure */
    int     temporary;			/* the last failure was temporary */
};

/* cm_notary_connect - connect to the notary socket */
CM_NOTARY *cm_notary_connect(const char *path, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    struct timespec start, now;
    CM_NOTARY *nc;
    int     sock;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (path == 0 || strlen(path) >= sizeof(sun.sun_path)) {
	snprintf(err, errlen, "notary: socket path too long");
	return (0);
    }
    memcpy(sun.sun_path, path, strlen(path));
    if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
	snprintf(err, errlen, "notary: socket: %s", strerror(errno));
	return (0);
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
	long    ms;

	if (connect(sock, (struct sockaddr *) &sun, sizeof(sun)) == 0)
	    break;
	if (errno == EINTR)
	    continue;
	/* A full listen queue gives EAGAIN on unix sockets: retry. */
	if (errno != EAGAIN && errno != EINPROGRESS) {
	    snprintf(err, errlen, "notary: connect %s: %s", path, strerror(errno));
	    close(sock);
	    return (0);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
	if (timeout_ms > 0 && ms >= timeout_ms) {
	    snprintf(err, errlen, "notary: connect %s: timeout", path);
	    close(sock);
	    return (0);
	}
	usleep(10000);
    }
    if ((nc = calloc(1, sizeof(*nc))) == 0) {
	snprintf(err, errlen, "notary: out of memory");
	close(sock);
	return (0);
    }
    nc->sock = sock;
    nc->timeout_ms = timeout_ms;
    nc->next_id = 1;
    return (nc);
}

/* cm_notary_close - disconnect */
void    cm_notary_close(CM_NOTARY *nc)
{
    if (nc) {
	close(nc->sock);
	free(nc);
    }
}

/*
 * nc_call - send a request, read and decode its reply. Returns 0 with
 * the success reply in *reply, 1 with an ERROR reply (reason copied to
 * err, *reply freed), -1 on a transport or protocol failure.
 */
static int nc_call(CM_NOTARY *nc, CM_NOTARY_OUT *o, int reply_timeout_ms,
		           CM_NOTARY_MSG *reply, char *err, size_t errlen)
{
    char    why[256];
    int     type = o->buf ? o->buf[5] : 0;
    uint32_t id = o->buf ? (uint32_t) o->buf[6] << 24 | (uint32_t) o->buf[7] << 16
	| (uint32_t) o->buf[8] << 8 | o->buf[9] : 0;
    int     n;

    memset(reply, 0, sizeof(*reply));
    reply->fds[0] = reply->fds[1] = -1;
    nc->temporary = 1;
    if (nc->broken) {
	snprintf(err, errlen, "notary: connection unusable after an earlier failure");
	return (-1);
    }
    if (cm_notary_out_send(nc->sock, o, nc->timeout_ms, err, errlen) < 0) {
	nc->broken = 1;
	return (-1);
    }
    n = cm_notary_recv(nc->sock, reply, reply_timeout_ms, nc->timeout_ms, why, sizeof(why));
    if (n <= 0) {
	snprintf(err, errlen, "notary: %s", n == 0 ? "connection closed by the notary" : why);
	cm_notary_msg_free(reply);
	nc->broken = 1;
	return (-1);
    }
    if (cm_notary_decode(reply, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "notary: bad reply: %s", why);
	cm_notary_msg_free(reply);
	nc->broken = 1;
	return (-1);
    }
    if (reply->type == CM_NOTARY_ERROR) {
	char    text[CM_NOTARY_ERROR_MAX + 1];

	const CM_NOTARY_FIELD *code = cm_notary_get(reply, CM_NF_CODE, 0);

	if (cm_notary_get_str(reply, CM_NF_ERROR, text, sizeof(text)) < 0)
	    snprintf(text, sizeof(text), "(no reason)");
	nc->temporary = code == 0 || code->data[0] != CM_NOTARY_PERMANENT;
	snprintf(err, errlen, "notary: %s", text);
	/* An ERROR for a frame it could not read ends the connection. */
	if (reply->id != id)
	    nc->broken = 1;
	cm_notary_msg_free(reply);
	return (1);
    }
    if (reply->id != id || reply->type != (type | CM_NOTARY_REPLY)) {
	snprintf(err, errlen, "notary: reply %s id %u does not match request %s id %u",
		 cm_notary_type_name(reply->type), (unsigned) reply->id,
		 cm_notary_type_name(type), (unsigned) id);
	cm_notary_msg_free(reply);
	nc->broken = 1;
	return (-1);
    }
    return (0);
}

/* cm_notary_error_temporary - was the last failure on nc worth a retry */
int     cm_notary_error_temporary(const CM_NOTARY *nc)
{
    return (nc->temporary);
}

/* nc_refuse - a bad argument, refused before it reaches the notary */
static int nc_refuse(CM_NOTARY *nc, char *err, size_t errlen, const char *text)
{
    nc->temporary = 0;
    snprintf(err, errlen, "notary: %s", text);
    return (-1);
}

/* nc_hex_ok - exactly len lowercase hex digits */
static int nc_hex_ok(const char *s, size_t len)
{
    return (strlen(s) == len && strspn(s, "0123456789abcdef") == len);
}

/* cm_notary_ping - is the notary alive; its key id and certificate hash */
int     cm_notary_ping(CM_NOTARY *nc, CM_NOTARY_INFO *info, char *err, size_t errlen)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG r;
    CM_NOTARY_INFO tmp;
    int     ret;

    cm_notary_out_init(&o, CM_NOTARY_PING, nc->next_id++);
    ret = nc_call(nc, &o, nc->timeout_ms, &r, err, errlen);
    cm_notary_out_free(&o);
    if (ret != 0)
	return (-1);
    if (info == 0)
	info = &tmp;
    if (cm_notary_get_str(&r, CM_NF_KEY_ID, info->key_id, sizeof(info->key_id)) < 0
	|| cm_notary_get_str(&r, CM_NF_CERT_SHA256, info->cert_sha256,
			     sizeof(info->cert_sha256)) < 0
	|| cm_notary_get_str(&r, CM_NF_VERSION, info->version, sizeof(info->version)) < 0) {
	snprintf(err, errlen, "notary: bad PING reply");
	ret = -1;
    }
    cm_notary_msg_free(&r);
    return (ret);
}

/* cm_notary_sign - have the notary sign a notice at a place */
int     cm_notary_sign(CM_NOTARY *nc, const char *xml, size_t len, CM_NOTARY_PLACE place,
		               char **signed_r, size_t *signed_len_r, char *err, size_t errlen)
{
    const CM_NOTARY_FIELD *f;
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG r;
    int     ret;

    *signed_r = 0;
    if (len == 0 || len > CM_NOTICE_MAX)
	return (nc_refuse(nc, err, errlen, "notice empty or longer than CM_NOTICE_MAX"));
    if (place != CM_NOTARY_PLACE_POSTMARK && place != CM_NOTARY_PLACE_INFO)
	return (nc_refuse(nc, err, errlen, "bad signature place"));
    cm_notary_out_init(&o, CM_NOTARY_SIGN, nc->next_id++);
    cm_notary_out_add(&o, CM_NF_NOTICE, xml, len);
    cm_notary_out_str(&o, CM_NF_PLACE, place == CM_NOTARY_PLACE_INFO ? "info" : "postmark");
    ret = nc_call(nc, &o, nc->timeout_ms, &r, err, errlen);
    cm_notary_out_free(&o);
    if (ret != 0)
	return (-1);
    f = cm_notary_get(&r, CM_NF_NOTICE, 0);
    if ((*signed_r = malloc(f->len + 1)) == 0) {
	snprintf(err, errlen, "notary: out of memory");
	cm_notary_msg_free(&r);
	return (-1);
    }
    memcpy(*signed_r, f->data, f->len);
    (*signed_r)[f->len] = 0;
    if (signed_len_r)
	*signed_len_r = f->len;
    cm_notary_msg_free(&r);
    return (0);
}

/* nc_bulk - SEAL or UNSEAL: descriptors to the notary, counts back */
static int nc_bulk(CM_NOTARY *nc, int type, const char *envelope_id, int in_fd, int out_fd,
		           CM_SEAL_STATS *stats, char *err, size_t errlen)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG r;
    struct stat st;
    uint64_t in = 0, out = 0;
    int     wait_ms = nc->timeout_ms;
    int     ret;

    if (!cm_seal_envelope_id_ok(envelope_id))
	return (nc_refuse(nc, err, errlen, "bad envelope id"));
    /* Allow one second per 10 MB of a regular input file. */
    if (wait_ms > 0 && fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
	wait_ms += (int) (st.st_size / (10 * 1024 * 1024) + 1) * 1000;
    cm_notary_out_init(&o, type, nc->next_id++);
    cm_notary_out_str(&o, CM_NF_ENVELOPE_ID, envelope_id);
    cm_notary_out_fd(&o, in_fd);
    cm_notary_out_fd(&o, out_fd);
    ret = nc_call(nc, &o, wait_ms, &r, err, errlen);
    cm_notary_out_free(&o);
    if (ret != 0)
	return (-1);
    if (cm_notary_get_u64(&r, CM_NF_BYTES_IN, &in) < 0
	|| cm_notary_get_u64(&r, CM_NF_BYTES_OUT, &out) < 0) {
	snprintf(err, errlen, "notary: bad %s reply", cm_notary_type_name(r.type));
	ret = -1;
    }
    if (stats) {
	stats->in_bytes = in;
	stats->out_bytes = out;
    }
    cm_notary_msg_free(&r);
    return (ret);
}

/* cm_notary_seal - seal in_fd into out_fd */
int     cm_notary_seal(CM_NOTARY *nc, const char *envelope_id, int in_fd, int out_fd,
		               CM_SEAL_STATS *stats, char *err, size_t errlen)
{
    return (nc_bulk(nc, CM_NOTARY_SEAL, envelope_id, in_fd, out_fd, stats, err, errlen));
}

/* cm_notary_unseal - unseal in_fd into out_fd; discard out_fd on failure */
int     cm_notary_unseal(CM_NOTARY *nc, const char *envelope_id, int in_fd, int out_fd,
			         CM_SEAL_STATS *stats, char *err, size_t errlen)
{
    return (nc_bulk(nc, CM_NOTARY_UNSEAL, envelope_id, in_fd, out_fd, stats, err, errlen));
}

/* cm_notary_record - journal one evidence event */
int     cm_notary_record(CM_NOTARY *nc, const char *envelope_id, const char *event,
			         const char *const *details, size_t ndetails,
			         CM_NOTARY_RECORD_RESULT *res, char *err, size_t errlen)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG r;
    uint64_t seq = 0;
    char    hash[CM_EVIDENCE_HASH_LEN + 1];
    size_t  i;
    int     ret;

    if (!cm_seal_envelope_id_ok(envelope_id))
	return (nc_refuse(nc, err, errlen, "bad envelope id"));
    if (!cm_evidence_event_ok(event)) {
	nc->temporary = 0;
	snprintf(err, errlen, "notary: unknown evidence event '%.32s'", event ? event : "");
	return (-1);
    }
    if (ndetails > CM_EVIDENCE_DETAILS_MAX)
	return (nc_refuse(nc, err, errlen, "more than 16 details"));
    cm_notary_out_init(&o, CM_NOTARY_RECORD, nc->next_id++);
    cm_notary_out_str(&o, CM_NF_ENVELOPE_ID, envelope_id);
    cm_notary_out_str(&o, CM_NF_EVENT, event);
    for (i = 0; i < ndetails; i++)
	cm_notary_out_str(&o, CM_NF_DETAIL, details[i]);
    ret = nc_call(nc, &o, nc->timeout_ms, &r, err, errlen);
    cm_notary_out_free(&o);
    if (ret != 0)
	return (-1);
    if (cm_notary_get_u64(&r, CM_NF_SEQ, &seq) < 0 || seq == 0 || seq > INT64_MAX
	|| cm_notary_get_str(&r, CM_NF_HASH, hash, sizeof(hash)) < 0
	|| !nc_hex_ok(hash, CM_EVIDENCE_HASH_LEN)) {
	snprintf(err, errlen, "notary: bad RECORD reply");
	ret = -1;
    } else if (res) {
	res->seq = (long long) seq;
	memcpy(res->hash, hash, sizeof(res->hash));
    }
    cm_notary_msg_free(&r);
    return (ret);
}

/* nc_address_ok - a plausible address argument: printable, bounded */
static int nc_address_ok(const char *address)
{
    size_t  len = address ? strlen(address) : 0;
    size_t  i;

    if (len == 0 || len > CM_ADDRESS_MAX)
	return (0);
    for (i = 0; i < len; i++)
	if ((unsigned char) address[i] <= 0x20 || (unsigned char) address[i] >= 0x7f)
	    return (0);
    return (1);
}

/* nc_copy_notice - malloc()ed NUL-terminated copy of the NOTICE field */
static char *nc_copy_notice(const CM_NOTARY_MSG *r, size_t *len_r)
{
    const CM_NOTARY_FIELD *f = cm_notary_get(r, CM_NF_NOTICE, 0);
    char   *copy;

    if (f == 0 || (copy = malloc(f->len + 1)) == 0)
	return (0);
    memcpy(copy, f->data, f->len);
    copy[f->len] = 0;
    if (len_r)
	*len_r = f->len;
    return (copy);
}

/* nc_wait_for - reply wait for a request that reads a regular input file */
static int nc_wait_for(CM_NOTARY *nc, int in_fd)
{
    struct stat st;
    int     wait_ms = nc->timeout_ms;

    if (wait_ms > 0 && fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
	wait_ms += (int) (st.st_size / (10 * 1024 * 1024) + 1) * 1000;
    return (wait_ms);
}

/* cm_notary_receipt - the signed ReceiptNotice of address for a sealed blob */
int     cm_notary_receipt(CM_NOTARY *nc, const char *envelope_id, const char *address,
			          int sealed_fd, char **notice_r, size_t *notice_len_r,
			          char *err, size_t errlen)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG r;
    int     ret;

    *notice_r = 0;
    if (!cm_seal_envelope_id_ok(envelope_id))
	return (nc_refuse(nc, err, errlen, "bad envelope id"));
    if (!nc_address_ok(address))
	return (nc_refuse(nc, err, errlen, "bad address"));
    cm_notary_out_init(&o, CM_NOTARY_RECEIPT, nc->next_id++);
    cm_notary_out_str(&o, CM_NF_ENVELOPE_ID, envelope_id);
    cm_notary_out_str(&o, CM_NF_ADDRESS, address);
    cm_notary_out_fd(&o, sealed_fd);
    ret = nc_call(nc, &o, nc_wait_for(nc, sealed_fd), &r, err, errlen);
    cm_notary_out_free(&o);
    if (ret != 0)
	return (-1);
    if ((*notice_r = nc_copy_notice(&r, notice_len_r)) == 0) {
	snprintf(err, errlen, "notary: out of memory");
	ret = -1;
    }
    cm_notary_msg_free(&r);
    return (ret);
}

/* cm_notary_answer - submit a SignedReceiptNotice; ENVELOPE to envelope_fd */
int     cm_notary_answer(CM_NOTARY *nc, const char *envelope_id, const char *address,
			         const char *notice, size_t notice_len, int sealed_fd,
			         int envelope_fd, CM_NOTARY_ANSWER_RESULT *res,
			         char *err, size_t errlen)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG r;
    uint64_t bytes = 0, seq = 0;
    int     ret;

    memset(res, 0, sizeof(*res));
    if (!cm_seal_envelope_id_ok(envelope_id))
	return (nc_refuse(nc, err, errlen, "bad envelope id"));
    if (!nc_address_ok(address))
	return (nc_refuse(nc, err, errlen, "bad address"));
    if (notice_len == 0 || notice_len > CM_NOTICE_MAX)
	return (nc_refuse(nc, err, errlen, "notice empty or longer than CM_NOTICE_MAX"));
    cm_notary_out_init(&o, CM_NOTARY_ANSWER, nc->next_id++);
    cm_notary_out_str(&o, CM_NF_ENVELOPE_ID, envelope_id);
    cm_notary_out_str(&o, CM_NF_ADDRESS, address);
    cm_notary_out_add(&o, CM_NF_NOTICE, notice, notice_len);
    cm_notary_out_fd(&o, sealed_fd);
    cm_notary_out_fd(&o, envelope_fd);
    ret = nc_call(nc, &o, nc_wait_for(nc, sealed_fd), &r, err, errlen);
    cm_notary_out_free(&o);
    if (ret != 0)
	return (-1);
    if (cm_notary_get_u64(&r, CM_NF_BYTES_OUT, &bytes) < 0
	|| (cm_notary_get(&r, CM_NF_SEQ, 0) != 0
	    && (cm_notary_get_u64(&r, CM_NF_SEQ, &seq) < 0 || seq == 0 || seq > INT64_MAX))
	|| (cm_notary_get(&r, CM_NF_SENDER, 0) != 0
	    && cm_notary_get_str(&r, CM_NF_SENDER, res->sender, sizeof(res->sender)) < 0)) {
	snprintf(err, errlen, "notary: bad ANSWER reply");
	cm_notary_msg_free(&r);
	return (-1);
    }
    if ((res->notice = nc_copy_notice(&r, &res->notice_len)) == 0) {
	snprintf(err, errlen, "notary: out of memory");
	cm_notary_msg_free(&r);
	return (-1);
    }
    res->envelope_bytes = bytes;
    res->seq = (long long) seq;
    cm_notary_msg_free(&r);
    return (0);
}

/* cm_notary_lookup - how many rows of an event, and the first one's details */
int     cm_notary_lookup(CM_NOTARY *nc, const char *envelope_id, const char *event,
			         const char *address, long long *count, char *details,
			         size_t dlen, char *err, size_t errlen)
{
    CM_NOTARY_OUT o;
    CM_NOTARY_MSG r;
    const CM_NOTARY_FIELD *f;
    uint64_t n = 0;
    size_t  i, used = 0;
    int     ret;

    if (!cm_seal_envelope_id_ok(envelope_id))
	return (nc_refuse(nc, err, errlen, "bad envelope id"));
    if (!cm_evidence_event_ok(event))
	return (nc_refuse(nc, err, errlen, "unknown evidence event"));
    if (address && !nc_address_ok(address))
	return (nc_refuse(nc, err, errlen, "bad address"));
    cm_notary_out_init(&o, CM_NOTARY_LOOKUP, nc->next_id++);
    cm_notary_out_str(&o, CM_NF_ENVELOPE_ID, envelope_id);
    cm_notary_out_str(&o, CM_NF_EVENT, event);
    if (address)
	cm_notary_out_str(&o, CM_NF_ADDRESS, address);
    ret = nc_call(nc, &o, nc->timeout_ms, &r, err, errlen);
    cm_notary_out_free(&o);
    if (ret != 0)
	return (-1);
    if (cm_notary_get_u64(&r, CM_NF_COUNT, &n) < 0 || n > INT64_MAX) {
	snprintf(err, errlen, "notary: bad LOOKUP reply");
	cm_notary_msg_free(&r);
	return (-1);
    }
    *count = (long long) n;
    if (details && dlen)
	details[0] = 0;
    for (i = 0; details && (f = cm_notary_get(&r, CM_NF_DETAIL, i)) != 0; i++) {
	if (used + f->len + 2 > dlen)
	    break;
	if (used)
	    details[used++] = '\n';
	memcpy(details + used, f->data, f->len);
	used += f->len;
	details[used] = 0;
    }
    cm_notary_msg_free(&r);
    return (0);
}
