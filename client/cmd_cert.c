/*++
 * NAME
 *	cmd_cert 1
 * SUMMARY
 *	cmail cert check: RFC 3850 and Annex C rules for one certificate
 * SYNOPSIS
 *	cmail cert check CERT [--role server|client|none] [--ca FILE]
 *		[--crl FILE|DIR] [--address ADDR]... [--untrusted FILE]
 *		[--at TIME] [--purpose smime|client|server|any]
 *	cmail cert --help
 *	cmail cert check --help
 * DESCRIPTION
 *	Prints one line per rule, "PASS rule: reason" or "FAIL rule:
 *	reason", then a summary line. The default role is client (Annex
 *	C.3, keyUsage for signing and keyEncipherment, purpose smime);
 *	role server means Annex C.2, keyUsage for signing and purpose
 *	server unless --purpose says otherwise; role none checks RFC 5280
 *	path validation, validity, revocation, extendedKeyUsage and the
 *	addresses only. TIME is ISO 8601 UTC (2026-01-01T00:00:00Z) or
 *	@epoch seconds. CERT is PEM or DER.
 *
 *	Without --ca there is no trust anchor and the path rule fails;
 *	without --crl the revocation rule fails; the other rules still run.
 * DIAGNOSTICS
 *	Exit 0 when every rule passes, 1 when one fails, 2 on a usage error
 *	(bad option, unreadable file).
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <getopt.h>
#include <sys/stat.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <openssl/err.h>

#include "cm_limits.h"
#include "cm_log.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cmail.h"

/* cert_usage - the help text */
static void cert_usage(FILE *fp)
{
    fprintf(fp,
	    "usage: cmail cert check CERT [--role server|client|none] [--ca FILE]\n"
	    "                  [--crl FILE|DIR] [--address ADDR]... [--untrusted FILE]\n"
	    "                  [--at TIME] [--purpose smime|client|server|any]\n"
	    "\n"
	    "Checks CERT (PEM or DER) against RFC 3850 / RFC 5280 and X.1341 Annex C\n"
	    "and prints one line per rule: PASS rule: reason, or FAIL rule: reason.\n"
	    "\n"
	    "  --role ROLE       client (default: Annex C.3, keyUsage signing and\n"
	    "                    keyEncipherment), server (Annex C.2, keyUsage signing,\n"
	    "                    purpose server), none (RFC 5280 rules only)\n"
	    "  --ca FILE         trust anchors: every certificate in FILE is one\n"
	    "  --crl FILE|DIR    CRLs (PEM or DER), re-read at every check; newest per issuer\n"
	    "  --address ADDR    a mail address the certificate must carry (repeatable;\n"
	    "                    local part case-sensitive, domain case-insensitive)\n"
	    "  --untrusted FILE  intermediate certificates to build paths with\n"
	    "  --at TIME         verify as of TIME: 2026-01-01T00:00:00Z or @EPOCH\n"
	    "  --purpose P       extendedKeyUsage required if present: smime\n"
	    "                    (emailProtection, default), client, server, any\n"
	    "\n"
	    "Exit status: 0 all rules pass, 1 a rule fails, 2 usage error.\n");
}

/* parse_time - ISO 8601 UTC or @epoch, 0 on success */
static int parse_time(const char *s, time_t *t)
{
    struct tm tm;
    int     n = 0;
    char   *end;
    long long v;

    if (s[0] == '@') {
	if (s[1] == 0 || s[1] == '-')
	    return (-1);
	v = strtoll(s + 1, &end, 10);
	if (*end != 0 || v <= 0 || v > 253402300799LL)
	    return (-1);
	*t = (time_t) v;
	return (0);
    }
    memset(&tm, 0, sizeof(tm));
    if (strlen(s) != 20
	|| sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 20)
	return (-1);
    if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31
	|| tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
	return (-1);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if ((*t = timegm(&tm)) == (time_t) -1)
	return (-1);
    return (0);
}

/* read_cert - one certificate, PEM or DER, bounded */
static X509 *read_cert(const char *path, char *err, size_t errlen)
{
    struct stat stb;
    BIO    *bio;
    X509   *cert;

    if (stat(path, &stb) < 0 || !S_ISREG(stb.st_mode)) {
	snprintf(err, errlen, "%s: not a readable file", path);
	return (0);
    }
    if (stb.st_size > 4 * CM_CERT_DER_MAX) {
	snprintf(err, errlen, "%s: larger than %d bytes", path, 4 * CM_CERT_DER_MAX);
	return (0);
    }
    if ((bio = BIO_new_file(path, "rb")) == 0) {
	snprintf(err, errlen, "%s: cannot open", path);
	ERR_clear_error();
	return (0);
    }
    if ((cert = PEM_read_bio_X509(bio, 0, 0, 0)) == 0 && BIO_seek(bio, 0) == 0)
	cert = d2i_X509_bio(bio, 0);
    BIO_free(bio);
    ERR_clear_error();
    if (cert == 0)
	snprintf(err, errlen, "%s: no PEM or DER certificate", path);
    return (cert);
}

/* cert_check - cmail cert check */
static int cert_check(int argc, char **argv)
{
    static const struct option longopts[] = {
	{"role", required_argument, 0, 'r'},
	{"ca", required_argument, 0, 'c'},
	{"crl", required_argument, 0, 'l'},
	{"address", required_argument, 0, 'a'},
	{"untrusted", required_argument, 0, 'u'},
	{"at", required_argument, 0, 't'},
	{"purpose", required_argument, 0, 'p'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
    };
    CM_CERT_OPTS opts;
    CM_CERT_REPORT *rep = 0;
    CM_TRUST *trust = 0;
    X509   *cert = 0;
    const char *ca = 0, *crl = 0, *untrusted = 0;
    int     purpose = -1;
    int     ch, i, npass = 0, ret = CMAIL_EX_USAGE;
    char    err[512];

    memset(&opts, 0, sizeof(opts));
    opts.role = CM_ROLE_CLIENT;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, 0)) != -1) {
	switch (ch) {
	case 'h':
	    cert_usage(stdout);
	    return (CMAIL_EX_OK);
	case 'r':
	    if (strcmp(optarg, "server") == 0)
		opts.role = CM_ROLE_SERVER;
	    else if (strcmp(optarg, "client") == 0)
		opts.role = CM_ROLE_CLIENT;
	    else if (strcmp(optarg, "none") == 0)
		opts.role = CM_ROLE_NONE;
	    else {
		fprintf(stderr, "cmail cert check: bad --role '%s' (server, client or none)\n", optarg);
		return (CMAIL_EX_USAGE);
	    }
	    break;
	case 'c':
	    ca = optarg;
	    break;
	case 'l':
	    crl = optarg;
	    break;
	case 'u':
	    untrusted = optarg;
	    break;
	case 'a':
	    if (opts.n_addresses >= CM_CERT_ADDR_MAX || strlen(optarg) > CM_ADDRESS_MAX
		|| strchr(optarg, '@') == 0) {
		fprintf(stderr, "cmail cert check: bad or too many --address '%.300s' (at most %d)\n",
			optarg, CM_CERT_ADDR_MAX);
		return (CMAIL_EX_USAGE);
	    }
	    opts.addresses[opts.n_addresses++] = optarg;
	    break;
	case 't':
	    if (parse_time(optarg, &opts.at) < 0) {
		fprintf(stderr, "cmail cert check: bad --at '%s' (2026-01-01T00:00:00Z or @EPOCH)\n", optarg);
		return (CMAIL_EX_USAGE);
	    }
	    break;
	case 'p':
	    if (strcmp(optarg, "smime") == 0)
		purpose = CM_PURPOSE_SMIME;
	    else if (strcmp(optarg, "client") == 0)
		purpose = CM_PURPOSE_CLIENT;
	    else if (strcmp(optarg, "server") == 0)
		purpose = CM_PURPOSE_SERVER;
	    else if (strcmp(optarg, "any") == 0)
		purpose = CM_PURPOSE_ANY;
	    else {
		fprintf(stderr, "cmail cert check: bad --purpose '%s' (smime, client, server or any)\n", optarg);
		return (CMAIL_EX_USAGE);
	    }
	    break;
	default:
	    fprintf(stderr, "cmail cert check: bad option '%s'\n", argv[optind - 1]);
	    cert_usage(stderr);
	    return (CMAIL_EX_USAGE);
	}
    }
    if (argc - optind != 1) {
	fprintf(stderr, "cmail cert check: exactly one CERT file expected\n");
	cert_usage(stderr);
	return (CMAIL_EX_USAGE);
    }
    opts.purpose = (purpose >= 0 ? (CM_CERT_PURPOSE) purpose
		    : opts.role == CM_ROLE_SERVER ? CM_PURPOSE_SERVER : CM_PURPOSE_SMIME);
    opts.usage = (opts.role == CM_ROLE_CLIENT ? CM_USE_SIGN | CM_USE_ENCIPHER
		  : opts.role == CM_ROLE_SERVER ? CM_USE_SIGN : 0);

    if ((cert = read_cert(argv[optind], err, sizeof(err))) == 0) {
	fprintf(stderr, "cmail cert check: %s\n", err);
	goto done;
    }
    if (untrusted && (opts.untrusted = cm_pem_read_certs(untrusted, err, sizeof(err))) == 0) {
	fprintf(stderr, "cmail cert check: --untrusted %s\n", err);
	goto done;
    }
    if ((ca || crl) && (trust = cm_trust_load(ca, crl, err, sizeof(err))) == 0) {
	fprintf(stderr, "cmail cert check: %s\n", err);
	goto done;
    }
    if ((rep = calloc(1, sizeof(*rep))) == 0) {
	fprintf(stderr, "cmail cert check: out of memory\n");
	goto done;
    }
    (void) cm_cert_check(trust, cert, &opts, rep);
    for (i = 0; i < rep->n; i++) {
	printf("%s %s: %s\n", rep->rules[i].ok ? "PASS" : "FAIL", rep->rules[i].rule, rep->rules[i].reason);
	npass += rep->rules[i].ok;
    }
    printf("%s: %d rules, %d passed, %d failed\n",
	   npass == rep->n ? "VALID" : "INVALID", rep->n, npass, rep->n - npass);
    ret = (npass == rep->n ? CMAIL_EX_OK : CMAIL_EX_FAIL);
done:
    free(rep);
    cm_trust_free(trust);
    sk_X509_pop_free(opts.untrusted, X509_free);
    X509_free(cert);
    return (ret);
}

/* cmd_cert - cmail cert SUBCOMMAND */
int     cmd_cert(int argc, char **argv)
{
    if (argc < 2) {
	cert_usage(stderr);
	return (CMAIL_EX_USAGE);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
	cert_usage(stdout);
	return (CMAIL_EX_OK);
    }
    if (strcmp(argv[1], "check") == 0)
	return (cert_check(argc - 1, argv + 1));
    fprintf(stderr, "cmail cert: unknown subcommand '%s'\n", argv[1]);
    cert_usage(stderr);
    return (CMAIL_EX_USAGE);
}
