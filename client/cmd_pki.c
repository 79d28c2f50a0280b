/*++
 * NAME
 *	cmail-pki 1
 * SUMMARY
 *	make a test PKI for Cmail, add users, revoke users
 * SYNOPSIS
 *	cmail pki init DIR --domain D [--server-name FQDN]
 *		[--user ADDR [--name "Given Surname"]]... [--days N]
 *		[--ca-days N] [--org NAME] [--country AAA] [--street S]
 *		[--locality L] [--postal-code P]
 *	cmail pki add-user DIR ADDR [--name "Given Surname"] [--days N]
 *		[--country AAA] [--street S] [--locality L] [--postal-code P]
 *	cmail pki revoke DIR ADDR [--reason REASON]
 *	cmail pki refresh-crl DIR
 * DESCRIPTION
 *	init creates DIR with ca.pem, ca.key, crl.pem (an empty v2 CRL),
 *	server.pem, server.key (Annex C.2) and users/ADDR.pem,
 *	users/ADDR.key (Annex C.3) per --user. On a DIR that already holds
 *	a PKI (ca.pem and ca.key) it only adds the --user certificates
 *	that are missing, with the existing CA; without --user it refuses.
 *
 *	add-user issues one user certificate with the existing CA.
 *
 *	revoke adds the user's certificate to crl.pem (CRLNumber + 1).
 *
 *	refresh-crl re-issues crl.pem with the same entries and new dates
 *	(the CRL is valid for 30 days).
 * DIAGNOSTICS
 *	Exit 0 on success, 1 when the operation failed, 2 on a usage error.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <openssl/x509v3.h>

#include "cm_pki.h"
#include "cmail.h"

/* The options shared by init and add-user. */
typedef struct {
    CM_PKI_OPTS pki;
    const char **users;
    const char **names;
    int     n_users;
    const char *reason;
    int     have_domain_opts;		/* --domain/--server-name/--org seen */
} PKI_ARGS;

/* usage_main - cmail pki --help */
static void usage_main(FILE *fp)
{
    fprintf(fp,
	    "usage: cmail pki init DIR --domain D [--user ADDR [--name N]]... [options]\n"
	    "       cmail pki add-user DIR ADDR [--name \"Given Surname\"] [options]\n"
	    "       cmail pki revoke DIR ADDR [--reason REASON]\n"
	    "       cmail pki refresh-crl DIR\n\n"
	    "A test PKI for trying Cmail out: a CA, a v2 CRL, an ITU-T X.1341 Annex C.2\n"
	    "server certificate and Annex C.3 user certificates (RSA 2048, SHA-256).\n"
	    "Private keys are written unencrypted with mode 0600. Not for production.\n\n"
	    "'cmail pki init --help' and 'cmail pki revoke --help' give the details.\n");
}

/* usage_init - cmail pki init --help */
static void usage_init(FILE *fp)
{
    fprintf(fp,
	    "usage: cmail pki init DIR --domain D [--server-name FQDN]\n"
	    "           [--user ADDR [--name \"Given Surname\"]]... [--days N] [--ca-days N]\n"
	    "           [--org NAME] [--country AAA] [--street S] [--locality L]\n"
	    "           [--postal-code P]\n"
	    "       cmail pki add-user DIR ADDR [--name \"Given Surname\"] [--days N]\n"
	    "           [--country AAA] [--street S] [--locality L] [--postal-code P]\n\n"
	    "init creates DIR (0755) and writes:\n"
	    "  DIR/ca.pem, DIR/ca.key        self-signed CA \"Cmail Test CA D\"\n"
	    "  DIR/crl.pem                   empty v2 CRL, CRLNumber 1, next update in 30 days\n"
	    "  DIR/server.pem, server.key    Annex C.2 server certificate: subject O, CN and\n"
	    "                                X.520 dnsName (2.5.4.100) = FQDN; SAN postmaster@D,\n"
	    "                                a directoryName (countryCode3c, O, street, L,\n"
	    "                                postalCode) and DNS:FQDN; policy 0.0.24.1341.2.1\n"
	    "  DIR/users/ADDR.pem, .key      Annex C.3 user certificate per --user: surname,\n"
	    "                                givenName, initials, street, L, postalCode,\n"
	    "                                countryCode3c, CN; SAN ADDR; policy 0.0.24.1341.2.2\n\n"
	    "If DIR already holds a PKI (ca.pem and ca.key), init does not touch the CA,\n"
	    "the CRL or the server certificate: it adds the --user certificates that do\n"
	    "not exist yet, signed by the existing CA, and says which ones it kept.\n"
	    "Without --user it refuses to overwrite DIR/ca.pem.\n"
	    "add-user issues one user certificate with the existing CA.\n\n"
	    "Options:\n"
	    "  --domain D          mail domain (required for init)\n"
	    "  --server-name FQDN  server host name (default mail.D)\n"
	    "  --user ADDR         issue a user certificate (repeatable)\n"
	    "  --name \"G S\"        given name(s) and surname of the preceding --user\n"
	    "                      (default from the local part: alice -> Alice Test,\n"
	    "                      john.smith -> John Smith)\n"
	    "  --days N            end-entity validity in days (default %d)\n"
	    "  --ca-days N         CA validity in days (default max(days, %d))\n"
	    "  --org NAME          organizationName (default \"Cmail Test Organisation\")\n"
	    "  --country AAA       ISO 3166-1 alpha-3 country code (default FRA)\n"
	    "  --street S          streetAddress (default \"1 Test Street\")\n"
	    "  --locality L        localityName (default Testville)\n"
	    "  --postal-code P     postalCode (default 00000)\n",
	    CM_PKI_DAYS_DEFAULT, CM_PKI_CA_DAYS_MIN);
}

/* usage_revoke - cmail pki revoke --help */
static void usage_revoke(FILE *fp)
{
    fprintf(fp,
	    "usage: cmail pki revoke DIR ADDR [--reason REASON]\n\n"
	    "Adds the serial number of DIR/users/ADDR.pem to DIR/crl.pem with the\n"
	    "revocation date now, increments the CRLNumber, sets a new thisUpdate and a\n"
	    "nextUpdate 30 days later, and signs the CRL with DIR/ca.key. Revoking a\n"
	    "certificate twice is an error.\n\n"
	    "The CRL is valid for 30 days; 'cmail pki refresh-crl DIR' re-issues it with\n"
	    "the same entries, the next CRLNumber and new dates.\n\n"
	    "REASON (RFC 5280 CRLReason; default: no reason code): unspecified,\n"
	    "keyCompromise, cACompromise, affiliationChanged, superseded,\n"
	    "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise.\n");
}

/* parse_int - a decimal day count, -1 if bad */
static int parse_int(const char *s)
{
    char   *end;
    long    v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > CM_PKI_DAYS_MAX)
	return (-1);
    return ((int) v);
}

/* is_help - --help or -h */
static int is_help(const char *arg)
{
    return (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0);
}

/*
 * parse_args - options and positional arguments after the verb. Returns
 * the number of positional arguments stored in pos, or -1 (usage error,
 * already reported), or -2 (--help).
 */
static int parse_args(const char *verb, int argc, char **argv, PKI_ARGS *a,
		              const char **pos, int max_pos)
{
    int     i, n_pos = 0;
    const char *opt, *val;
    char    optbuf[32];

    for (i = 2; i < argc; i++) {
	opt = argv[i];
	if (is_help(opt))
	    return (-2);
	if (strcmp(opt, "--") == 0) {
	    while (++i < argc) {
		if (n_pos >= max_pos)
		    goto extra;
		pos[n_pos++] = argv[i];
	    }
	    break;
	}
	if (strncmp(opt, "--", 2) != 0 || opt[2] == 0) {
	    if (n_pos >= max_pos)
		goto extra;
	    pos[n_pos++] = opt;
	    continue;
	}
	/* --opt=value or --opt value */
	if ((val = strchr(opt, '=')) != 0) {
	    if ((size_t) (val - opt) >= sizeof(optbuf)) {
		fprintf(stderr, "cmail pki %s: unknown option %s\n", verb, opt);
		return (-1);
	    }
	    memcpy(optbuf, opt, (size_t) (val - opt));
	    optbuf[val - opt] = 0;
	    opt = optbuf;
	    val++;
	} else if (i + 1 < argc) {
	    val = argv[++i];
	} else {
	    fprintf(stderr, "cmail pki %s: option %s needs a value\n", verb, opt);
	    return (-1);
	}
	if (strcmp(opt, "--reason") == 0 && strcmp(verb, "revoke") == 0) {
	    a->reason = val;
	} else if (strcmp(verb, "revoke") == 0 || strcmp(verb, "refresh-crl") == 0) {
	    fprintf(stderr, "cmail pki %s: unknown option %s\n", verb, opt);
	    return (-1);
	} else if (strcmp(opt, "--domain") == 0) {
	    a->pki.domain = val;
	    a->have_domain_opts = 1;
	} else if (strcmp(opt, "--server-name") == 0) {
	    a->pki.server_name = val;
	    a->have_domain_opts = 1;
	} else if (strcmp(opt, "--org") == 0) {
	    a->pki.org = val;
	    a->have_domain_opts = 1;
	} else if (strcmp(opt, "--user") == 0 && strcmp(verb, "init") == 0) {
	    a->users[a->n_users] = val;
	    a->names[a->n_users++] = 0;
	} else if (strcmp(opt, "--name") == 0) {
	    if (strcmp(verb, "init") == 0) {
		if (a->n_users == 0 || a->names[a->n_users - 1] != 0) {
		    fprintf(stderr, "cmail pki init: --name must follow its --user\n");
		    return (-1);
		}
		a->names[a->n_users - 1] = val;
	    } else
		a->names[0] = val;
	} else if (strcmp(opt, "--days") == 0 || strcmp(opt, "--ca-days") == 0) {
	    int     d = parse_int(val);

	    if (d < 0) {
		fprintf(stderr, "cmail pki %s: %s must be a number of days from 1 to %d\n",
			verb, opt, CM_PKI_DAYS_MAX);
		return (-1);
	    }
	    if (opt[2] == 'd')
		a->pki.days = d;
	    else
		a->pki.ca_days = d;
	} else if (strcmp(opt, "--country") == 0) {
	    a->pki.country = val;
	} else if (strcmp(opt, "--street") == 0) {
	    a->pki.street = val;
	} else if (strcmp(opt, "--locality") == 0) {
	    a->pki.locality = val;
	} else if (strcmp(opt, "--postal-code") == 0) {
	    a->pki.postal_code = val;
	} else {
	    fprintf(stderr, "cmail pki %s: unknown option %s\n", verb, opt);
	    return (-1);
	}
    }
    return (n_pos);
extra:
    fprintf(stderr, "cmail pki %s: unexpected argument '%s'\n", verb, argv[i]);
    return (-1);
}

/* issue_users - the --user certificates that do not exist yet */
static int issue_users(const char *dir, PKI_ARGS *a, int existing_pki)
{
    char    err[512];
    int     i, failed = 0;

    for (i = 0; i < a->n_users; i++) {
	if (cm_pki_issue_user(dir, a->users[i], a->names[i], &a->pki, err, sizeof(err)) == 0) {
	    printf("%s/users/%s.pem: issued\n", dir, a->users[i]);
	} else if (errno == EEXIST && existing_pki) {
	    printf("%s/users/%s.pem: exists, kept\n", dir, a->users[i]);
	} else {
	    fprintf(stderr, "cmail pki: %s: %s\n", a->users[i], err);
	    failed = 1;
	}
    }
    return (failed ? CMAIL_EX_FAIL : CMAIL_EX_OK);
}

/* pki_init - cmail pki init */
static int pki_init(int argc, char **argv, PKI_ARGS *a)
{
    const char *pos[1];
    char    err[512];
    int     n, i, j;

    if ((n = parse_args("init", argc, argv, a, pos, 1)) == -2) {
	usage_init(stdout);
	return (CMAIL_EX_OK);
    }
    if (n != 1) {
	if (n == 0)
	    fprintf(stderr, "cmail pki init: missing DIR\n");
	usage_init(stderr);
	return (CMAIL_EX_USAGE);
    }
    if (a->pki.domain == 0) {
	fprintf(stderr, "cmail pki init: --domain is required\n");
	return (CMAIL_EX_USAGE);
    }
    /* Check every argument before anything is written. */
    if (cm_pki_opts_check(&a->pki, 1, err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki init: %s\n", err);
	return (CMAIL_EX_USAGE);
    }
    for (i = 0; i < a->n_users; i++) {
	if (cm_pki_address_ok(a->users[i], err, sizeof(err)) < 0) {
	    fprintf(stderr, "cmail pki init: bad address '%s': %s\n", a->users[i], err);
	    return (CMAIL_EX_USAGE);
	}
	if (a->names[i] && cm_pki_name_ok(a->names[i], err, sizeof(err)) < 0) {
	    fprintf(stderr, "cmail pki init: bad --name for %s: %s\n", a->users[i], err);
	    return (CMAIL_EX_USAGE);
	}
	for (j = 0; j < i; j++) {
	    if (strcmp(a->users[i], a->users[j]) == 0) {
		fprintf(stderr, "cmail pki init: --user %s given twice\n", a->users[i]);
		return (CMAIL_EX_USAGE);
	    }
	}
    }
    if (cm_pki_exists(pos[0])) {
	if (a->n_users == 0) {
	    fprintf(stderr, "cmail pki init: %s/ca.pem exists: refusing to overwrite a PKI"
		    " (use --user ADDR to add users to it)\n", pos[0]);
	    return (CMAIL_EX_FAIL);
	}
	printf("%s: existing PKI, CA, CRL and server certificate kept\n", pos[0]);
	return (issue_users(pos[0], a, 1));
    }
    if (cm_pki_init(pos[0], &a->pki, err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki init: %s\n", err);
	return (CMAIL_EX_FAIL);
    }
    printf("%s: CA, CRL and server certificate written\n", pos[0]);
    return (issue_users(pos[0], a, 0));
}

/* pki_add_user - cmail pki add-user */
static int pki_add_user(int argc, char **argv, PKI_ARGS *a)
{
    const char *pos[2];
    char    err[512];
    int     n;

    if ((n = parse_args("add-user", argc, argv, a, pos, 2)) == -2) {
	usage_init(stdout);
	return (CMAIL_EX_OK);
    }
    if (n != 2) {
	fprintf(stderr, "usage: cmail pki add-user DIR ADDR [--name \"Given Surname\"] [options]\n");
	return (CMAIL_EX_USAGE);
    }
    if (a->have_domain_opts) {
	fprintf(stderr, "cmail pki add-user: --domain, --server-name and --org belong to init\n");
	return (CMAIL_EX_USAGE);
    }
    if (cm_pki_address_ok(pos[1], err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki add-user: bad address '%s': %s\n", pos[1], err);
	return (CMAIL_EX_USAGE);
    }
    if ((a->names[0] && cm_pki_name_ok(a->names[0], err, sizeof(err)) < 0)
	|| cm_pki_opts_check(&a->pki, 0, err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki add-user: %s\n", err);
	return (CMAIL_EX_USAGE);
    }
    if (!cm_pki_exists(pos[0])) {
	fprintf(stderr, "cmail pki add-user: %s/ca.pem not found: run cmail pki init first\n",
		pos[0]);
	return (CMAIL_EX_FAIL);
    }
    if (cm_pki_issue_user(pos[0], pos[1], a->names[0], &a->pki, err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki add-user: %s\n", err);
	return (CMAIL_EX_FAIL);
    }
    printf("%s/users/%s.pem: issued\n", pos[0], pos[1]);
    return (CMAIL_EX_OK);
}

/* pki_revoke - cmail pki revoke */
static int pki_revoke(int argc, char **argv, PKI_ARGS *a)
{
    const char *pos[2];
    char    err[512];
    int     n, reason = CRL_REASON_NONE;

    if ((n = parse_args("revoke", argc, argv, a, pos, 2)) == -2) {
	usage_revoke(stdout);
	return (CMAIL_EX_OK);
    }
    if (n != 2) {
	usage_revoke(stderr);
	return (CMAIL_EX_USAGE);
    }
    if (a->reason && (reason = cm_pki_reason_from_name(a->reason)) < 0) {
	fprintf(stderr, "cmail pki revoke: unknown reason '%s'\n", a->reason);
	return (CMAIL_EX_USAGE);
    }
    if (cm_pki_address_ok(pos[1], err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki revoke: bad address '%s': %s\n", pos[1], err);
	return (CMAIL_EX_USAGE);
    }
    if (cm_pki_revoke(pos[0], pos[1], reason, err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki revoke: %s\n", err);
	return (CMAIL_EX_FAIL);
    }
    printf("%s: revoked (reason %s); %s/crl.pem rewritten\n", pos[1],
	   cm_pki_reason_name(reason), pos[0]);
    return (CMAIL_EX_OK);
}

/* pki_refresh_crl - cmail pki refresh-crl */
static int pki_refresh_crl(int argc, char **argv, PKI_ARGS *a)
{
    const char *pos[1];
    char    err[512];
    int     n;

    if ((n = parse_args("refresh-crl", argc, argv, a, pos, 1)) == -2) {
	usage_revoke(stdout);
	return (CMAIL_EX_OK);
    }
    if (n != 1) {
	fprintf(stderr, "usage: cmail pki refresh-crl DIR\n");
	return (CMAIL_EX_USAGE);
    }
    if (cm_pki_refresh_crl(pos[0], err, sizeof(err)) < 0) {
	fprintf(stderr, "cmail pki refresh-crl: %s\n", err);
	return (CMAIL_EX_FAIL);
    }
    printf("%s/crl.pem: re-issued\n", pos[0]);
    return (CMAIL_EX_OK);
}

/* cmd_pki - cmail pki VERB ... */
int     cmd_pki(int argc, char **argv)
{
    PKI_ARGS a;
    int     ret;

    if (argc < 2) {
	usage_main(stderr);
	return (CMAIL_EX_USAGE);
    }
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
	usage_main(stdout);
	return (CMAIL_EX_OK);
    }
    memset(&a, 0, sizeof(a));
    cm_pki_opts_init(&a.pki);
    a.users = calloc((size_t) argc, sizeof(*a.users));
    a.names = calloc((size_t) argc, sizeof(*a.names));
    if (a.users == 0 || a.names == 0) {
	fprintf(stderr, "cmail pki: out of memory\n");
	ret = CMAIL_EX_FAIL;
    } else if (strcmp(argv[1], "init") == 0) {
	ret = pki_init(argc, argv, &a);
    } else if (strcmp(argv[1], "add-user") == 0) {
	ret = pki_add_user(argc, argv, &a);
    } else if (strcmp(argv[1], "revoke") == 0) {
	ret = pki_revoke(argc, argv, &a);
    } else if (strcmp(argv[1], "refresh-crl") == 0) {
	ret = pki_refresh_crl(argc, argv, &a);
    } else {
	fprintf(stderr, "cmail pki: unknown command '%s'\n", argv[1]);
	usage_main(stderr);
	ret = CMAIL_EX_USAGE;
    }
    free(a.users);
    free(a.names);
    return (ret);
}
