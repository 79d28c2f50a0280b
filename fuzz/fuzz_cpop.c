/*++
 * NAME
 *	fuzz_cpop 1
 * SUMMARY
 *	libFuzzer target: the CPOP/CMTP reply and listing parsers of common/
 * DESCRIPTION
 *	What a client reads from a server it does not trust: the input is
 *	a stream of server lines. Every line goes to cm_pop3_list_parse()
 *	(LIST) and cm_pop3_capa_cmail() (CAPA); then the whole input is
 *	read again as SMTP/CMTP replies with cm_reply_read() over a
 *	CM_STREAM (as `cmail send` reads cmtpd and `cmail fetch` reads
 *	the CPOP server's multi-line answers), and each reply's
 *	UserCertificate and DepositNotice objects are decoded with
 *	cm_reply_get_object().
 *
 *	The server side of CPOP (the Dovecot plugin's command handling)
 *	runs inside Dovecot's pop3 process and is not reachable from here.
 *--*/
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_stream.h"
#include "cm_reply.h"
#include "cm_receipt_client.h"
#include "fuzz_common.h"

/* LLVMFuzzerInitialize - logging */
int     LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init("fuzz_cpop");
    return (0);
}

/* LLVMFuzzerTestOneInput - one server transcript */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char   *text = fuzz_strdup(data, size);
    char   *line, *next;
    CM_POP3_LISTING l;
    CM_STREAM *st;
    CM_REPLY r;
    unsigned char *obj;
    size_t  len;
    int     fd, replies;

    for (line = text; line; line = next) {
	if ((next = strchr(line, '\n')) != 0)
	    *next++ = 0;
	(void) cm_pop3_list_parse(line, &l);
	(void) cm_pop3_capa_cmail(line);
    }
    free(text);

    fd = fuzz_memfd(data, size);
    if ((st = cm_stream_open(fd, fuzz_devnull(), 1)) == 0)
	abort();
    for (replies = 0; replies < 64; replies++) {
	memset(&r, 0, sizeof(r));
	if (cm_reply_read(st, &r) < 0) {
	    cm_reply_free(&r);
	    break;
	}
	if ((obj = cm_reply_get_object(&r, "UserCertificate:", &len)) != 0)
	    free(obj);
	if ((obj = cm_reply_get_object(&r, "DepositNotice", &len)) != 0)
	    free(obj);
	cm_reply_free(&r);
    }
    cm_stream_close(st);
    close(fd);
    return (0);
}
