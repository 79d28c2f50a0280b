/*++
 * NAME
 *	cm_notary_msg 3
 * SUMMARY
 *	frames of the cmail-notary protocol: build, send, receive, decode
 * DESCRIPTION
 *	See cm_notary.h for the wire format and the decoder's rules. The
 *	same code runs in the notary and in every client, so both sides
 *	refuse exactly the same frames.
 *--*/
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "cm_notary.h"

/* Size limits per tag: min and max value length, text (no NUL). */
static const struct nf_limit {
    int     tag;
    size_t  min;
    size_t  max;
    int     text;
    const char *name;
} nf_limits[] = {
    {CM_NF_ENVELOPE_ID, 1, CM_ENVELOPE_ID_MAX, 1, "ENVELOPE_ID"},
    {CM_NF_PLACE, 1, 16, 1, "PLACE"},
    {CM_NF_NOTICE, 1, CM_NOTICE_MAX, 1, "NOTICE"},
    {CM_NF_EVENT, 1, CM_EVIDENCE_EVENT_MAX, 1, "EVENT"},
    {CM_NF_DETAIL, 2, CM_EVIDENCE_KEY_MAX + 1 + CM_EVIDENCE_VALUE_MAX, 1, "DETAIL"},
    {CM_NF_SEQ, 8, 8, 0, "SEQ"},
    {CM_NF_HASH, CM_EVIDENCE_HASH_LEN, CM_EVIDENCE_HASH_LEN, 1, "HASH"},
    {CM_NF_KEY_ID, CM_SEAL_KEY_ID_LEN, CM_SEAL_KEY_ID_LEN, 1, "KEY_ID"},
    {CM_NF_BYTES_IN, 8, 8, 0, "BYTES_IN"},
    {CM_NF_BYTES_OUT, 8, 8, 0, "BYTES_OUT"},
    {CM_NF_ERROR, 1, CM_NOTARY_ERROR_MAX, 1, "ERROR"},
    {CM_NF_VERSION, 1, 64, 1, "VERSION"},
    {CM_NF_CERT_SHA256, 64, 64, 1, "CERT_SHA256"},
    {CM_NF_CODE, 1, 1, 1, "CODE"},
    {CM_NF_ADDRESS, 1, CM_ADDRESS_MAX, 1, "ADDRESS"},
    {CM_NF_SENDER, 1, CM_ADDRESS_MAX, 1, "SENDER"},
    {CM_NF_COUNT, 8, 8, 0, "COUNT"},
    {0, 0, 0, 0, 0},
};

/* Fields each message type may carry: tag, min and max count. */
typedef struct {
    int     tag;
    int     min;
    int     max;
} NM_ALLOW;

static const struct nm_type {
    int     type;
    const char *name;
    int     nfds;
    NM_ALLOW allow[6];
} nm_types[] = {
    {CM_NOTARY_PING, "PING", 0, {{0, 0, 0}}},
    {CM_NOTARY_SIGN, "SIGN", 0, {{CM_NF_NOTICE, 1, 1}, {CM_NF_PLACE, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_SEAL, "SEAL", 2, {{CM_NF_ENVELOPE_ID, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_UNSEAL, "UNSEAL", 2, {{CM_NF_ENVELOPE_ID, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_RECORD, "RECORD", 0, {{CM_NF_ENVELOPE_ID, 1, 1}, {CM_NF_EVENT, 1, 1},
	    {CM_NF_DETAIL, 0, CM_EVIDENCE_DETAILS_MAX}, {0, 0, 0}}},
    {CM_NOTARY_RECEIPT, "RECEIPT", 1, {{CM_NF_ENVELOPE_ID, 1, 1}, {CM_NF_ADDRESS, 1, 1},
	    {0, 0, 0}}},
    {CM_NOTARY_ANSWER, "ANSWER", 2, {{CM_NF_ENVELOPE_ID, 1, 1}, {CM_NF_ADDRESS, 1, 1},
	    {CM_NF_NOTICE, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_LOOKUP, "LOOKUP", 0, {{CM_NF_ENVELOPE_ID, 1, 1}, {CM_NF_EVENT, 1, 1},
	    {CM_NF_ADDRESS, 0, 1}, {0, 0, 0}}},
    {CM_NOTARY_PING | CM_NOTARY_REPLY, "PING_OK", 0, {{CM_NF_KEY_ID, 1, 1},
	    {CM_NF_CERT_SHA256, 1, 1}, {CM_NF_VERSION, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_SIGN | CM_NOTARY_REPLY, "SIGN_OK", 0, {{CM_NF_NOTICE, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_SEAL | CM_NOTARY_REPLY, "SEAL_OK", 0, {{CM_NF_KEY_ID, 1, 1},
	    {CM_NF_BYTES_IN, 1, 1}, {CM_NF_BYTES_OUT, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_UNSEAL | CM_NOTARY_REPLY, "UNSEAL_OK", 0, {{CM_NF_KEY_ID, 1, 1},
	    {CM_NF_BYTES_IN, 1, 1}, {CM_NF_BYTES_OUT, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_RECORD | CM_NOTARY_REPLY, "RECORD_OK", 0, {{CM_NF_SEQ, 1, 1},
	    {CM_NF_HASH, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_RECEIPT | CM_NOTARY_REPLY, "RECEIPT_OK", 0, {{CM_NF_NOTICE, 1, 1}, {0, 0, 0}}},
    {CM_NOTARY_ANSWER | CM_NOTARY_REPLY, "ANSWER_OK", 0, {{CM_NF_NOTICE, 1, 1},
	    {CM_NF_BYTES_OUT, 1, 1}, {CM_NF_SENDER, 0, 1}, {CM_NF_SEQ, 0, 1}, {0, 0, 0}}},
    {CM_NOTARY_LOOKUP | CM_NOTARY_REPLY, "LOOKUP_OK", 0, {{CM_NF_COUNT, 1, 1},
	    {CM_NF_DETAIL, 0, CM_EVIDENCE_DETAILS_MAX}, {0, 0, 0}}},
    {CM_NOTARY_ERROR, "ERROR", 0, {{CM_NF_ERROR, 1, 1}, {CM_NF_CODE, 0, 1}, {0, 0, 0}}},
    {0, 0, 0, {{0, 0, 0}}},
};

/* nm_type_find - table entry of a type, NULL if unknown */
static const struct nm_type *nm_type_find(int type)
{
    const struct nm_type *t;

    for (t = nm_types; t->name; t++)
	if (t->type == type)
	    return (t);
    return (0);
}

/* nf_limit_find - limits of a tag, NULL if unknown */
static const struct nf_limit *nf_limit_find(int tag)
{
    const struct nf_limit *l;

    for (l = nf_limits; l->name; l++)
	if (l->tag == tag)
	    return (l);
    return (0);
}

/* cm_notary_type_name - printable name of a message type */
const char *cm_notary_type_name(int type)
{
    const struct nm_type *t = nm_type_find(type);

    return (t ? t->name : "unknown");
}

/* nm_put32 - big-endian 32 bits */
static void nm_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

/* nm_get32 - big-endian 32 bits */
static uint32_t nm_get32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3]);
}

/* nm_reserve - room for n more bytes */
static int nm_reserve(CM_NOTARY_OUT *o, size_t n)
{
    unsigned char *nb;
    size_t  ncap;

    if (o->failed)
	return (-1);
    if (o->len + n <= o->cap)
	return (0);
    if (o->len + n > CM_NOTARY_FRAME_MAX + 4) {
	o->failed = 1;
	return (-1);
    }
    ncap = o->cap ? o->cap : 256;
    while (ncap < o->len + n)
	ncap *= 2;
    if ((nb = realloc(o->buf, ncap)) == 0) {
	o->failed = 1;
	return (-1);
    }
    o->buf = nb;
    o->cap = ncap;
    return (0);
}

/* cm_notary_out_init - start a frame */
void    cm_notary_out_init(CM_NOTARY_OUT *o, int type, uint32_t id)
{
    memset(o, 0, sizeof(*o));
    o->fds[0] = o->fds[1] = -1;
    if (nm_reserve(o, 4 + CM_NOTARY_HEADER_LEN) < 0)
	return;
    o->buf[4] = CM_NOTARY_VERSION;
    o->buf[5] = (unsigned char) type;
    nm_put32(o->buf + 6, id);
    o->len = 4 + CM_NOTARY_HEADER_LEN;
}

/* cm_notary_out_add - append one field */
void    cm_notary_out_add(CM_NOTARY_OUT *o, int tag, const void *data, size_t len)
{
    if (len > CM_NOTARY_FRAME_MAX || nm_reserve(o, 5 + len) < 0) {
	o->failed = 1;
	return;
    }
    o->buf[o->len] = (unsigned char) tag;
    nm_put32(o->buf + o->len + 1, (uint32_t) len);
    if (len)
	memcpy(o->buf + o->len + 5, data, len);
    o->len += 5 + len;
}

/* cm_notary_out_str - append a text field */
void    cm_notary_out_str(CM_NOTARY_OUT *o, int tag, const char *s)
{
    cm_notary_out_add(o, tag, s, strlen(s));
}

/* cm_notary_out_u64 - append a big-endian 64-bit field */
void    cm_notary_out_u64(CM_NOTARY_OUT *o, int tag, uint64_t v)
{
    unsigned char b[8];
    int     i;

    for (i = 7; i >= 0; i--) {
	b[i] = (unsigned char) v;
	v >>= 8;
    }
    cm_notary_out_add(o, tag, b, sizeof(b));
}

/* cm_notary_out_fd - attach a descriptor (not closed or owned) */
void    cm_notary_out_fd(CM_NOTARY_OUT *o, int fd)
{
    if (o->nfds >= CM_NOTARY_FDS_MAX || fd < 0) {
	o->failed = 1;
	return;
    }
    o->fds[o->nfds++] = fd;
}

/* cm_notary_out_free - release the frame buffer */
void    cm_notary_out_free(CM_NOTARY_OUT *o)
{
    free(o->buf);
    o->buf = 0;
    o->len = o->cap = 0;
}

/* nm_wait - poll one descriptor; 0 ready, -1 timeout or error */
static int nm_wait(int fd, short events, int timeout_ms)
{
    struct pollfd pfd;
    int     n;

    pfd.fd = fd;
    pfd.events = events;
    pfd.revents = 0;
    do {
	n = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : -1);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
	errno = ETIMEDOUT;
    return (n > 0 ? 0 : -1);
}

/* cm_notary_out_send - send the frame (and descriptors) */
int     cm_notary_out_send(int sock, CM_NOTARY_OUT *o, int timeout_ms, char *err, size_t errlen)
{
    size_t  off = 0;
    ssize_t n;

    if (o->failed || o->buf == 0) {
	snprintf(err, errlen, "notary: message too large or out of memory");
	return (-1);
    }
    nm_put32(o->buf, (uint32_t) (o->len - 4));
    while (off < o->len) {
	if (nm_wait(sock, POLLOUT, timeout_ms) < 0) {
	    snprintf(err, errlen, "notary: send: %s", strerror(errno));
	    return (-1);
	}
	if (off == 0 && o->nfds > 0) {
	    union {
		struct cmsghdr hdr;
		char    buf[CMSG_SPACE(sizeof(int) * CM_NOTARY_FDS_MAX)];
	    }       cbuf;
	    struct msghdr mh;
	    struct iovec iov;
	    struct cmsghdr *c;

	    memset(&mh, 0, sizeof(mh));
	    memset(&cbuf, 0, sizeof(cbuf));
	    iov.iov_base = o->buf;
	    iov.iov_len = o->len;
	    mh.msg_iov = &iov;
	    mh.msg_iovlen = 1;
	    mh.msg_control = cbuf.buf;
	    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) o->nfds);
	    c = CMSG_FIRSTHDR(&mh);
	    c->cmsg_level = SOL_SOCKET;
	    c->cmsg_type = SCM_RIGHTS;
	    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) o->nfds);
	    memcpy(CMSG_DATA(c), o->fds, sizeof(int) * (size_t) o->nfds);
	    n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} else {
	    n = send(sock, o->buf + off, o->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
	    continue;
	if (n <= 0) {
	    snprintf(err, errlen, "notary: send: %s", n < 0 ? strerror(errno) : "connection closed");
	    return (-1);
	}
	off += (size_t) n;
    }
    return (0);
}

/* nm_recv - receive up to len bytes, collecting descriptors into m */
static ssize_t nm_recv(int sock, CM_NOTARY_MSG *m, void *buf, size_t len, int timeout_ms,
		               int *too_many)
{
    union {
	struct cmsghdr hdr;
	char    buf[CMSG_SPACE(sizeof(int) * CM_NOTARY_FDS_MAX)];
    }       cbuf;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *c;
    ssize_t n;

    for (;;) {
	if (nm_wait(sock, POLLIN, timeout_ms) < 0)
	    return (-1);
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
	    continue;
	if (n < 0)
	    return (-1);
	if (mh.msg_flags & MSG_CTRUNC)
	    *too_many = 1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
	    size_t  nfd, i;
	    int     fd;

	    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		continue;
	    nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	    for (i = 0; i < nfd; i++) {
		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		if (m->nfds < CM_NOTARY_FDS_MAX) {
		    m->fds[m->nfds++] = fd;
		} else {
		    close(fd);
		    *too_many = 1;
		}
	    }
	}
	return (n);
    }
}

/* cm_notary_recv - read one frame and its descriptors */
int     cm_notary_recv(int sock, CM_NOTARY_MSG *m, int idle_timeout_ms, int timeout_ms,
		               char *err, size_t errlen)
{
    unsigned char lenbuf[4];
    size_t  got = 0;
    uint32_t len;
    ssize_t n;
    int     too_many = 0;

    memset(m, 0, sizeof(*m));
    m->fds[0] = m->fds[1] = -1;
    while (got < 4) {
	n = nm_recv(sock, m, lenbuf + got, 4 - got, got ? timeout_ms : idle_timeout_ms,
		    &too_many);
	if (n < 0) {
	    snprintf(err, errlen, got ? "truncated frame (%s)" : "receive: %s",
		     errno == ETIMEDOUT ? "timeout" : strerror(errno));
	    return (-1);
	}
	if (n == 0) {
	    if (got == 0 && m->nfds == 0)
		return (0);
	    snprintf(err, errlen, "truncated frame (end of file in the length)");
	    return (-1);
	}
	got += (size_t) n;
    }
    len = nm_get32(lenbuf);
    if (len < CM_NOTARY_HEADER_LEN) {
	snprintf(err, errlen, "short message (%u bytes)", (unsigned) len);
	return (-1);
    }
    if (len > CM_NOTARY_FRAME_MAX) {
	snprintf(err, errlen, "frame too long (%u bytes, limit %d)", (unsigned) len,
		 CM_NOTARY_FRAME_MAX);
	return (-1);
    }
    if ((m->buf = malloc(len)) == 0) {
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    got = 0;
    while (got < len) {
	n = nm_recv(sock, m, m->buf + got, len - got, timeout_ms, &too_many);
	if (n <= 0) {
	    snprintf(err, errlen, "truncated frame (%s after %zu of %u bytes)",
		     n < 0 ? (errno == ETIMEDOUT ? "timeout" : strerror(errno)) : "end of file",
		     got, (unsigned) len);
	    if (got >= CM_NOTARY_HEADER_LEN) {
		m->version = m->buf[0];
		m->type = m->buf[1];
		m->id = nm_get32(m->buf + 2);
		m->have_header = 1;
	    }
	    return (-1);
	}
	got += (size_t) n;
    }
    m->len = len;
    m->version = m->buf[0];
    m->type = m->buf[1];
    m->id = nm_get32(m->buf + 2);
    m->have_header = 1;
    if (too_many) {
	snprintf(err, errlen, "too many file descriptors");
	return (-1);
    }
    return (1);
}

/* cm_notary_decode - check the frame against its type's table */
int     cm_notary_decode(CM_NOTARY_MSG *m, char *err, size_t errlen)
{
    const struct nm_type *t;
    const unsigned char *p, *end;
    int     count[256];
    size_t  i;

    if (m->buf == 0 || m->len < CM_NOTARY_HEADER_LEN) {
	snprintf(err, errlen, "short message");
	return (-1);
    }
    if (m->version != CM_NOTARY_VERSION) {
	snprintf(err, errlen, "unsupported protocol version %d", m->version);
	return (-1);
    }
    if ((t = nm_type_find(m->type)) == 0) {
	snprintf(err, errlen, "unknown message type %d", m->type);
	return (-1);
    }
    memset(count, 0, sizeof(count));
    m->nfields = 0;
    p = m->buf + CM_NOTARY_HEADER_LEN;
    end = m->buf + m->len;
    while (p < end) {
	const struct nf_limit *lim;
	const NM_ALLOW *a;
	int     tag;
	uint32_t flen;

	if (end - p < 5) {
	    snprintf(err, errlen, "%s: truncated field (%d trailing bytes)", t->name,
		     (int) (end - p));
	    return (-1);
	}
	tag = p[0];
	flen = nm_get32(p + 1);
	p += 5;
	for (a = t->allow; a->tag && a->tag != tag; a++)
	     /* void */ ;
	if (a->tag == 0 || (lim = nf_limit_find(tag)) == 0) {
	    snprintf(err, errlen, "%s: unknown field %d", t->name, tag);
	    return (-1);
	}
	if (flen > (size_t) (end - p)) {
	    snprintf(err, errlen, "%s: truncated field %s (%u bytes announced, %d left)",
		     t->name, lim->name, (unsigned) flen, (int) (end - p));
	    return (-1);
	}
	if (++count[tag] > a->max) {
	    snprintf(err, errlen, a->max == 1 ? "%s: duplicate field %s"
		     : "%s: too many %s fields", t->name, lim->name);
	    return (-1);
	}
	if (flen < lim->min || flen > lim->max) {
	    snprintf(err, errlen, "%s: field %s has %u bytes (allowed %zu..%zu)",
		     t->name, lim->name, (unsigned) flen, lim->min, lim->max);
	    return (-1);
	}
	if (lim->text && memchr(p, 0, flen) != 0) {
	    snprintf(err, errlen, "%s: field %s contains NUL", t->name, lim->name);
	    return (-1);
	}
	if (m->nfields >= CM_NOTARY_FIELDS_MAX) {
	    snprintf(err, errlen, "%s: too many fields", t->name);
	    return (-1);
	}
	m->fields[m->nfields].tag = tag;
	m->fields[m->nfields].data = p;
	m->fields[m->nfields].len = flen;
	m->nfields++;
	p += flen;
    }
    for (i = 0; t->allow[i].tag; i++) {
	if (count[t->allow[i].tag] < t->allow[i].min) {
	    const struct nf_limit *lim = nf_limit_find(t->allow[i].tag);

	    snprintf(err, errlen, "%s: missing field %s", t->name, lim ? lim->name : "?");
	    return (-1);
	}
    }
    if (m->nfds != t->nfds) {
	snprintf(err, errlen, "%s: %d file descriptors, expected %d", t->name, m->nfds, t->nfds);
	return (-1);
    }
    return (0);
}

/* cm_notary_get - the nth field with a tag */
const CM_NOTARY_FIELD *cm_notary_get(const CM_NOTARY_MSG *m, int tag, size_t nth)
{
    size_t  i;

    for (i = 0; i < m->nfields; i++)
	if (m->fields[i].tag == tag && nth-- == 0)
	    return (&m->fields[i]);
    return (0);
}

/* cm_notary_get_str - copy a text field; 0, or -1 if absent or too long */
int     cm_notary_get_str(const CM_NOTARY_MSG *m, int tag, char *buf, size_t buflen)
{
    const CM_NOTARY_FIELD *f = cm_notary_get(m, tag, 0);

    if (f == 0 || f->len >= buflen || memchr(f->data, 0, f->len))
	return (-1);
    memcpy(buf, f->data, f->len);
    buf[f->len] = 0;
    return (0);
}

/* cm_notary_get_u64 - a big-endian 64-bit field */
int     cm_notary_get_u64(const CM_NOTARY_MSG *m, int tag, uint64_t *v)
{
    const CM_NOTARY_FIELD *f = cm_notary_get(m, tag, 0);
    size_t  i;

    if (f == 0 || f->len != 8)
	return (-1);
    *v = 0;
    for (i = 0; i < 8; i++)
	*v = *v << 8 | f->data[i];
    return (0);
}

/* cm_notary_take_fd - hand descriptor i to the caller */
int     cm_notary_take_fd(CM_NOTARY_MSG *m, int i)
{
    int     fd;

    if (i < 0 || i >= m->nfds)
	return (-1);
    fd = m->fds[i];
    m->fds[i] = -1;
    return (fd);
}

/* cm_notary_msg_free - release the frame, close descriptors not taken */
void    cm_notary_msg_free(CM_NOTARY_MSG *m)
{
    int     i;

    for (i = 0; i < m->nfds; i++)
	if (m->fds[i] >= 0)
	    close(m->fds[i]);
    m->nfds = 0;
    free(m->buf);
    m->buf = 0;
}
