/*++
 * NAME
 *	empty_milter 1
 * SUMMARY
 *	a pass-through milter that does nothing, for bench/milter
 * SYNOPSIS
 *	empty_milter unix:/path/to/socket
 * DESCRIPTION
 *	The floor of any milter: libmilter with no callback at all, so
 *	that libmilter itself tells the MTA to send no connect, HELO,
 *	MAIL, RCPT, header or body event (SMFIP_NO* for each missing
 *	callback) and the only round trips left are the option
 *	negotiation, the macros and the end of message, which libmilter
 *	answers with "continue". Built by bench/milter with
 *	cc -o empty_milter empty_milter.c -lmilter -lpthread. Runs in the
 *	foreground until SIGTERM.
 *--*/
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <libmilter/mfapi.h>

static struct smfiDesc desc = {
    .xxfi_name = "empty",
    .xxfi_version = SMFI_VERSION,
};

/* main - listen on argv[1] and pass everything */
int     main(int argc, char **argv)
{
    if (argc != 2) {
	fprintf(stderr, "usage: empty_milter unix:/path\n");
	return (2);
    }
    umask(0);
    if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE
	|| smfi_opensocket(1) == MI_FAILURE)
	return (1);
    smfi_setbacklog(128);
    return (smfi_main() == MI_SUCCESS ? 0 : 1);
}
