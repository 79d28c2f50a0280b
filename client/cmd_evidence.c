/*++
 * NAME
 *	cmd_evidence 1
 * SUMMARY
 *	cmail evidence show|check: read the evidence journal
 * SYNOPSIS
 *	cmail evidence show ENVELOPE-ID [--db FILE] [-c FILE]
 *	cmail evidence check [--db FILE] [-c FILE]
 *	cmail evidence [show|check] --help
 * DESCRIPTION
 *	The journal is the SQLite file named by evidence_database in
 *	cmail.conf (-c FILE, else $CMAIL_CONFIG or /etc/cmail/cmail.conf;
 *	when that default file does not exist, the built-in default
 *	path); --db FILE overrides. It is opened read-only: cmail-notary
 *	is its only writer.
 *
 *	show prints the rows of one envelope in order: seq, time, event,
 *	details (key=value, blank-separated) and the row hash.
 *
 *	check walks the whole hash chain (cm_evidence_check()) and prints
 *	"evidence: N rows, chain intact" or "evidence: row N broken:
 *	reason".
 * DIAGNOSTICS
 *	Exit 0: rows shown / chain intact; 1: no rows for that envelope,
 *	chain broken, or the journal cannot be read; 2: usage error.
 *--*/
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_config.h"
#include "cm_evidence.h"
#include "cm_seal.h"
#include "cmail.h"

/* evidence_usage - the help text */
static void evidence_usage(FILE *fp)
{
    fprintf(fp,
	    "usage: cmail evidence show ENVELOPE-ID [--db FILE] [-c FILE]\n"
	    "       cmail evidence check [--db FILE] [-c FILE]\n"
	    "\n"
	    "Reads the evidence journal that cmail-notary writes (read-only).\n"
	    "\n"
	    "  show ENVELOPE-ID  the rows of one envelope: seq, time, event, details, hash\n"
	    "  check             walk the whole hash chain, report the first broken row\n"
	    "\n"
	    "  --db FILE         the journal (default: evidence_database in cmail.conf)\n"
	    "  -c, --config FILE cmail.conf to read (default $CMAIL_CONFIG or\n"
	    "                    /etc/cmail/cmail.conf)\n"
	    "\n"
	    "Exit status: 0 ok, 1 no rows / chain broken / unreadable, 2 usage error.\n");
}

/* evidence_db_path - --db, else evidence_database from the config */
static char *evidence_db_path(const char *db, const char *config)
{
    CM_CONFIG *cf;
    char    err[512];
    char   *path;

    if (db)
	return (strdup(db));
    if (config == 0 && access(cm_config_default_path(), F_OK) != 0)
	cf = cm_config_load(0, err, sizeof(err));
    else
	cf = cm_config_load(config ? config : cm_config_default_path(), err, sizeof(err));
    if (cf == 0) {
	fprintf(stderr, "cmail evidence: %s\n", err);
	return (0);
    }
    path = strdup(cm_config_str(cf, "evidence_database"));
    cm_config_free(cf);
    return (path);
}

/* show_row - print one row */
static int show_row(const CM_EVIDENCE_ROW *row, void *ctx)
{
    const char *p = row->details;

    printf("%lld %s %s", row->seq, row->time, row->event);
    while (*p) {
	size_t  n = strcspn(p, "\n");

	printf(" %.*s", (int) n, p);
	p += n + (p[n] ? 1 : 0);
    }
    printf(" hash=%s\n", row->hash);
    return (0);
}

/* cmd_evidence - cmail evidence show|check */
int     cmd_evidence(int argc, char **argv)
{
    static const struct option opts[] = {
	{"db", required_argument, 0, 'd'},
	{"config", required_argument, 0, 'c'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
    };
    const char *sub;
    const char *db = 0;
    const char *config = 0;
    char   *path;
    char    err[512];
    CM_EVIDENCE *ev;
    int     ch;
    int     ret;

    if (argc < 2) {
	evidence_usage(stderr);
	return (CMAIL_EX_USAGE);
    }
    sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
	evidence_usage(stdout);
	return (CMAIL_EX_OK);
    }
    if (strcmp(sub, "show") != 0 && strcmp(sub, "check") != 0) {
	fprintf(stderr, "cmail evidence: unknown subcommand '%s'\n", sub);
	evidence_usage(stderr);
	return (CMAIL_EX_USAGE);
    }
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc - 1, argv + 1, "c:h", opts, 0)) != -1) {
	switch (ch) {
	case 'd':
	    db = optarg;
	    break;
	case 'c':
	    config = optarg;
	    break;
	case 'h':
	    evidence_usage(stdout);
	    return (CMAIL_EX_OK);
	default:
	    fprintf(stderr, "cmail evidence %s: unknown option or missing argument\n", sub);
	    evidence_usage(stderr);
	    return (CMAIL_EX_USAGE);
	}
    }
    argc -= optind + 1;
    argv += optind + 1;
    if (strcmp(sub, "show") == 0 ? argc != 1 : argc != 0) {
	evidence_usage(stderr);
	return (CMAIL_EX_USAGE);
    }
    if (strcmp(sub, "show") == 0 && !cm_seal_envelope_id_ok(argv[0])) {
	fprintf(stderr, "cmail evidence show: bad envelope id (expected [A-Za-z0-9._@-]{1,%d})\n",
		CM_ENVELOPE_ID_MAX);
	return (CMAIL_EX_USAGE);
    }
    if ((path = evidence_db_path(db, config)) == 0)
	return (CMAIL_EX_USAGE);
    if (access(path, R_OK) != 0) {
	fprintf(stderr, "cmail evidence: %s: cannot read the journal\n", path);
	free(path);
	return (CMAIL_EX_FAIL);
    }
    if ((ev = cm_evidence_open(path, CM_EVIDENCE_READ, err, sizeof(err))) == 0) {
	fprintf(stderr, "cmail evidence: %s\n", err);
	free(path);
	return (CMAIL_EX_FAIL);
    }
    if (strcmp(sub, "show") == 0) {
	int     n = cm_evidence_list(ev, argv[0], show_row, 0, err, sizeof(err));

	if (n < 0) {
	    fprintf(stderr, "cmail evidence: %s\n", err);
	    ret = CMAIL_EX_FAIL;
	} else if (n == 0) {
	    fprintf(stderr, "cmail evidence: no rows for envelope %s in %s\n", argv[0], path);
	    ret = CMAIL_EX_FAIL;
	} else {
	    ret = CMAIL_EX_OK;
	}
    } else {
	CM_EVIDENCE_CHECK res;
	int     n = cm_evidence_check(ev, &res, err, sizeof(err));

	if (n < 0) {
	    fprintf(stderr, "cmail evidence: %s\n", err);
	    ret = CMAIL_EX_FAIL;
	} else if (n > 0) {
	    printf("evidence: row %lld broken: %s\n", res.bad_seq, res.reason);
	    ret = CMAIL_EX_FAIL;
	} else {
	    printf("evidence: %lld rows, chain intact\n", res.rows);
	    ret = CMAIL_EX_OK;
	}
    }
    cm_evidence_close(ev);
    free(path);
    return (ret);
}
