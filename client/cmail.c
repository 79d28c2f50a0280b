/*++
 * NAME
 *	cmail 1
 * SUMMARY
 *	Cmail command line: dispatch to subcommands
 * SYNOPSIS
 *	cmail SUBCOMMAND [options] [arguments]
 *	cmail --help | --version
 * DESCRIPTION
 *	Finds the subcommand and hands it argc/argv; see cmail(1).
 *--*/
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <signal.h>

#include "cm_log.h"
#include "cm_xml.h"
#include "cmail.h"

static const struct subcommand {
    const char *name;
    int     (*fn) (int, char **);
    const char *summary;
} subcommands[] = {
    {"send", cmd_send, "deposit a certified message with a Cmail server (CMTP)"},
    {"fetch", cmd_fetch, "retrieve certified and ordinary mail, answering receipt challenges (CPOP)"},
    {"pki", cmd_pki, "make a test PKI (init) or revoke a user's certificate (revoke)"},
    {"cert", cmd_cert, "check a certificate against RFC 3850 and Annex C (cert check)"},
    {"verify", cmd_verify, "verify a notice or a notice mail offline"},
    {"evidence", cmd_evidence, "show the evidence journal of an envelope, check the hash chain"},
    {"check-config", cmd_checkconfig, "check cmail.conf, keys, certificates, Postfix and Dovecot lines"},
    {0, 0, 0},
};

/* usage - the list of subcommands */
static void usage(FILE *fp)
{
    const struct subcommand *sc;

    fprintf(fp, "usage: cmail SUBCOMMAND [options] [arguments]\n\n"
	    "Certified mail (ITU-T X.1341) for Postfix and Dovecot.\n\nSubcommands:\n");
    for (sc = subcommands; sc->name; sc++)
	fprintf(fp, "  %-12s %s\n", sc->name, sc->summary);
    fprintf(fp, "\n'cmail SUBCOMMAND --help' describes each; see also cmail(1).\n");
}

int     main(int argc, char **argv)
{
    const struct subcommand *sc;

    cm_log_init("cmail", CM_LOG_STDERR);
    signal(SIGPIPE, SIG_IGN);		/* a peer that hangs up is an error, not a kill */
    if (argc < 2) {
	usage(stderr);
	return (CMAIL_EX_USAGE);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
	usage(stdout);
	return (CMAIL_EX_OK);
    }
    if (strcmp(argv[1], "--version") == 0) {
	printf("cmail %s\n", PACKAGE_VERSION);
	return (CMAIL_EX_OK);
    }
    for (sc = subcommands; sc->name; sc++) {
	if (strcmp(argv[1], sc->name) == 0) {
	    if (cm_xml_init() < 0)
		msg_fatal("cannot initialise libxml2/xmlsec1");
	    return (sc->fn(argc - 1, argv + 1));
	}
    }
    fprintf(stderr, "cmail: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return (CMAIL_EX_USAGE);
}
