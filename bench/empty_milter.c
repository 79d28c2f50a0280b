/*++
 * NAME
 *	empty_milter 1
 * SUMMARY
 *	pass-through milters that do nothing, for bench/milter
 * SYNOPSIS
 *	empty_milter unix:/path/to/socket [content]
 * DESCRIPTION
 *	Without "content": the floor of any milter. libmilter with no
 *	callback at all, so that libmilter itself tells the MTA to send no
 *	connect, HELO, MAIL, RCPT, header or body event (SMFIP_NO* for
 *	each missing callback) and the only round trips left are the
 *	option negotiation and the end of message, which libmilter
 *	answers with "continue".
 *
 *	With "content": the same protocol steps as cmail-milter negotiates
 *	(MAIL, RCPT, every header field and the body, all without a reply,
 *	then the end of message), with callbacks that do nothing: what
 *	looking at a message through libmilter costs, whatever the filter
 *	then does with it.
 *
 *	Built by bench/milter with cc -o empty_milter empty_milter.c
 *	-lmilter -lpthread. Runs in the foreground until SIGTERM.
 *--*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <libmilter/mfapi.h>

/* nothing - a no-reply event */
static sfsistat nothing(SMFICTX *ctx, char **argv)
{
    (void) ctx;
    (void) argv;
    return (SMFIS_NOREPLY);
}

/* header - a no-reply header event */
static sfsistat header(SMFICTX *ctx, char *name, char *value)
{
    (void) ctx;
    (void) name;
    (void) value;
    return (SMFIS_NOREPLY);
}

/* body - a no-reply body chunk */
static sfsistat body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
    (void) ctx;
    (void) buf;
    (void) len;
    return (SMFIS_NOREPLY);
}

/* negotiate - the steps cmail-milter asks for, without its macro list */
static sfsistat negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			          unsigned long f2, unsigned long f3, unsigned long *pf0,
			          unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    unsigned long want = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA
    | SMFIP_NOEOH | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_BODY;

    (void) ctx;
    (void) f0;
    (void) f2;
    (void) f3;
    *pf0 = 0;
    *pf1 = want & f1;
    *pf2 = 0;
    *pf3 = 0;
    return (SMFIS_CONTINUE);			/* Postfix >= 2.6 grants them all */
}

static struct smfiDesc empty = {
    .xxfi_name = "empty",
    .xxfi_version = SMFI_VERSION,
};

static struct smfiDesc content = {
    .xxfi_name = "empty-content",
    .xxfi_version = SMFI_VERSION,
    .xxfi_envfrom = nothing,
    .xxfi_envrcpt = nothing,
    .xxfi_header = header,
    .xxfi_body = body,
    .xxfi_negotiate = negotiate,
};

/* main - listen on argv[1] and pass everything */
int     main(int argc, char **argv)
{
    struct smfiDesc *desc = &empty;

    if (argc == 3 && strcmp(argv[2], "content") == 0)
	desc = &content;
    else if (argc != 2) {
	fprintf(stderr, "usage: empty_milter unix:/path [content]\n");
	return (2);
    }
    umask(0);
    if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(*desc) == MI_FAILURE
	|| smfi_opensocket(1) == MI_FAILURE)
	return (1);
    smfi_setbacklog(128);
    return (smfi_main() == MI_SUCCESS ? 0 : 1);
}
