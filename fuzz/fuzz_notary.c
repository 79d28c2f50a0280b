/*++
 * NAME
 *	fuzz_notary 1
 * SUMMARY
 *	libFuzzer target: the notary request protocol (cm_notary_msg)
 * DESCRIPTION
 *	What cmail-notary reads from a client (and a client from the
 *	notary): the input is written to one end of a Unix stream
 *	socketpair, whose other end cm_notary_recv() reads as frames;
 *	each frame goes through cm_notary_decode() and, when it decodes,
 *	through the field getters the notary's handlers use. Descriptor
 *	passing (SCM_RIGHTS) is not fuzzed: the input is bytes only, at
 *	most 100000 of them (what fits in the socket buffer at once).
 *--*/
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "cm_notary.h"
#include "fuzz_common.h"

/* LLVMFuzzerInitialize - logging */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init("fuzz_notary");
    return (0);
}

/* LLVMFuzzerTestOneInput - a byte stream of frames */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int     sv[2], frames;
    size_t  done = 0;
    CM_NOTARY_MSG m;
    char    err[512], buf[CM_NOTICE_MAX + 1];
    uint64_t v;
    int     sz = 4 << 20;

    if (size > 100000)
	return (0);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
	abort();
    (void) setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    (void) setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    while (done < size) {
	ssize_t n = write(sv[0], data + done, size - done);

	if (n <= 0)
	    break;				/* the socket buffer is full */
	done += (size_t) n;
    }
    close(sv[0]);
    for (frames = 0; frames < 16; frames++) {
	if (cm_notary_recv(sv[1], &m, 100, 100, err, sizeof(err)) < 0) {
	    cm_notary_msg_free(&m);
	    break;
	}
	if (cm_notary_decode(&m, err, sizeof(err)) == 0) {
	    int     tag;

	    (void) cm_notary_type_name(m.type);
	    for (tag = 1; tag <= CM_NF_SENDER; tag++) {
		(void) cm_notary_get(&m, tag, 0);
		(void) cm_notary_get(&m, tag, 1);
		(void) cm_notary_get_str(&m, tag, buf, sizeof(buf));
		(void) cm_notary_get_u64(&m, tag, &v);
	    }
	}
	cm_notary_msg_free(&m);
    }
    close(sv[1]);
    return (0);
}
