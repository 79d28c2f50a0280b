/*++
 * NAME
 *	cmd_checkconfig 1
 * SUMMARY
 *	cmail check-config: report every problem of a Cmail installation
 * SYNOPSIS
 *	cmail check-config [-c FILE] [--postfix-config DIR]
 *		[--dovecot-config FILE] [--no-postfix] [--no-dovecot] [-v]
 * DESCRIPTION
 *	Like `postfix check` and `doveconf -n`: reads cmail.conf (every
 *	line, not only up to the first error), the files it names, and
 *	the Postfix (postconf -n, -M, -P) and Dovecot (doveconf) settings
 *	Cmail depends on, and prints one line per problem:
 *	"error: TEXT" or "warning: TEXT", then a summary line
 *	"cmail check-config: N errors, M warnings". With -v a line
 *	"ok: TEXT" is printed for each check that passed.
 *
 *	cmail.conf: every line that cm_config_parse() refuses (unknown
 *	parameter, bad value, duplicate, no '='), as "FILE:LINE: reason";
 *	the server key, the seal key and the seal_key_previous keys
 *	(present, regular, not a link, no group or other permission
 *	bits, owned by root or notary_user, parse, no key id twice, the
 *	server key matches the certificate); the TLS key (not
 *	world-accessible, matches its certificate); the trust anchors and
 *	CRLs (load; expired CRLs); the server certificate (Annex C.2 with
 *	cm_cert_validate()); every ADDRESS.pem of certificate_directory
 *	(Annex C.3 and its address); notary_user; schema_directory;
 *	cmail_relay_map. Unreachable notary and milter sockets, a notary
 *	running with other keys (PING), a TLS certificate that is not
 *	C.2, missing directories and certificates close to expiry are
 *	warnings.
 *
 *	Postfix: smtpd_milters and non_smtpd_milters name the cmail
 *	milter (milter_socket; a chroot-relative path counts);
 *	milter_default_action is not accept; no smtpd service overrides
 *	smtpd_milters without it; a spawn service runs cmtpd (or the
 *	systemd unit cmtpd.service or cmtpd.socket is enabled, or a
 *	standalone cmtpd -l runs); the injection listener
 *	(injection_address) exists, is loopback, runs smtpd with the
 *	milter and milter_macro_daemon_name = milter_injection_name; the
 *	relay injection listener (relay_injection_address) exists, is
 *	loopback and has content_filter naming the cmail-relay pipe
 *	service, which exists, runs as a non-root user and passes
 *	${nexthop} and ${recipient}; the relay listener runs no cmail
 *	milter. Warnings: no smtpd on notice_submission_address,
 *	relay_lifetime not below maximal_queue_lifetime, a daemon started
 *	with another cmail.conf than the one checked.
 *
 *	Dovecot: pop3 is in protocols, protocol pop3 loads the cmail
 *	plugin, the plugin file is in mail_plugin_dir, plugin {
 *	cmail_config } names this cmail.conf; mail_always_cache_fields and
 *	an unreachable cmail_submission_host are warnings.
 * DIAGNOSTICS
 *	Exit 0 when there is no error (warnings allowed), 1 when there is
 *	one, 2 on a usage error.
 * SEE ALSO
 *	cmail(1), cmail.conf(5), postconf(1), doveconf(1)
 *--*/
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "cm_limits.h"
#include "cm_log.h"
#include "cm_addr.h"
#include "cm_config.h"
#include "cm_connect.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cm_seal.h"
#include "cm_notary.h"
#include "cm_relay_map.h"
#include "cmail.h"

#define CC_CONF_MAX	(1 << 16)	/* cmail.conf size, as cm_config_load() */
#define CC_OUTPUT_MAX	(4 << 20)	/* postconf/doveconf output */
#define CC_RUN_TIMEOUT	30		/* seconds for one postconf/doveconf run */
#define CC_KEYS_MAX	64		/* distinct keys seen in cmail.conf */
#define CC_SERVICES_MAX	1024		/* master.cf services */
#define CC_PARAMS_MAX	4096		/* main.cf and -o parameters */
#define CC_ARGV_MAX	64		/* words of a spawn/pipe argv= */
#define CC_EXPIRY_WARN	(30 * 86400)	/* warn when a certificate expires sooner */
#define CC_PLUGIN_FILE	"lib95_cmail_plugin.so"
#define CC_DELIVER_PLUGIN_FILE	"lib95_cmail_deliver_plugin.so"

typedef struct {
    int     errors;
    int     warnings;
    int     verbose;
} CC_STATE;

typedef struct {
    char   *name;			/* "name = value" from postconf */
    char   *value;
} CC_PARAM;

typedef struct {
    char   *name;			/* master.cf service name */
    char   *type;			/* inet, unix, pass, ... */
    char   *command;			/* smtpd, spawn, pipe, ... */
    char   *args;			/* the rest of the line */
} CC_SERVICE;

typedef struct {
    CC_PARAM main[CC_PARAMS_MAX];	/* postconf -xn */
    int     nmain;
    CC_PARAM over[CC_PARAMS_MAX];	/* postconf -xP: "name/type/param" */
    int     nover;
    CC_SERVICE svc[CC_SERVICES_MAX];	/* postconf -M */
    int     nsvc;
} CC_POSTFIX;

/* cc_report - one problem line */
static void __attribute__((format(printf, 3, 4))) cc_report(CC_STATE *cc, int error, const char *fmt, ...)
{
    va_list ap;

    printf("%s: ", error ? "error" : "warning");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (error)
	cc->errors++;
    else
	cc->warnings++;
}

#define cc_error(cc, ...)	cc_report((cc), 1, __VA_ARGS__)
#define cc_warn(cc, ...)	cc_report((cc), 0, __VA_ARGS__)

/* cc_ok - a passed check, shown with -v */
static void __attribute__((format(printf, 2, 3))) cc_ok(CC_STATE *cc, const char *fmt, ...)
{
    va_list ap;

    if (!cc->verbose)
	return;
    printf("ok: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* checkconfig_usage - the help text */
static void checkconfig_usage(FILE *fp)
{
    fprintf(fp,
	    "usage: cmail check-config [-c FILE] [--postfix-config DIR]\n"
	    "                          [--dovecot-config FILE] [--no-postfix] [--no-dovecot] [-v]\n"
	    "\n"
	    "Checks a Cmail server installation like `postfix check` and `doveconf -n`:\n"
	    "every line of cmail.conf, the keys and certificates it names (modes, owners,\n"
	    "Annex C.2/C.3 validation, the certificate directory), the notary and milter\n"
	    "sockets, the Postfix main.cf and master.cf lines (milters, cmtpd, the\n"
	    "injection and relay listeners, the cmail-relay pipe service) and the Dovecot\n"
	    "lines (the cmail plugin for pop3, plugin { cmail_config }). Prints one line\n"
	    "per problem, \"error: ...\" or \"warning: ...\", then a summary line.\n"
	    "Run it as root, like the notary, to read the keys.\n"
	    "\n"
	    "  -c, --config FILE        cmail.conf to check (default $CMAIL_CONFIG or\n"
	    "                           /etc/cmail/cmail.conf)\n"
	    "  --postfix-config DIR     Postfix configuration directory (default\n"
	    "                           /etc/postfix), read with postconf -c DIR\n"
	    "  --dovecot-config FILE    dovecot.conf (default /etc/dovecot/dovecot.conf),\n"
	    "                           read with doveconf -c FILE\n"
	    "  --no-postfix             skip the Postfix checks\n"
	    "  --no-dovecot             skip the Dovecot checks\n"
	    "  -v, --verbose            also print \"ok: ...\" for each check passed\n"
	    "\n"
	    "Exit status: 0 no errors (warnings allowed), 1 errors, 2 usage error.\n");
}

/* cc_trim - strip leading and trailing blanks in place */
static char *cc_trim(char *s)
{
    char   *e;

    while (*s == ' ' || *s == '\t')
	s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
	*--e = 0;
    return (s);
}

/* cc_same_file - do two paths name the same file */
static int cc_same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
	return (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
    return (strcmp(a, b) == 0);
}

/* cc_read_file - a whole small file, NUL-terminated */
static char *cc_read_file(const char *path, size_t max, size_t *len_r, char *err, size_t errlen)
{
    FILE   *fp;
    char   *buf;
    size_t  len = 0, n;

    if ((fp = fopen(path, "r")) == 0) {
	snprintf(err, errlen, "%s", strerror(errno));
	return (0);
    }
    if ((buf = malloc(max + 1)) == 0) {
	fclose(fp);
	snprintf(err, errlen, "out of memory");
	return (0);
    }
    while ((n = fread(buf + len, 1, max + 1 - len, fp)) > 0)
	if ((len += n) > max)
	    break;
    if (ferror(fp) || len > max) {
	snprintf(err, errlen, "%s", len > max ? "file too large" : strerror(errno));
	fclose(fp);
	free(buf);
	return (0);
    }
    fclose(fp);
    buf[len] = 0;
    *len_r = len;
    return (buf);
}

/*
 * cmail.conf: every line on its own.
 */

/* cc_load_config - check each line, then parse the good ones */
static CM_CONFIG *cc_load_config(CC_STATE *cc, const char *path)
{
    char   *text, *clean, *p, *nl, *eq;
    char    err[512], prefix[1100];
    char   *seen[CC_KEYS_MAX];
    int     seen_line[CC_KEYS_MAX];
    int     nseen = 0, lineno = 0, bad = 0, i;
    size_t  len, n;
    CM_CONFIG *cf = 0, *one;

    if ((text = cc_read_file(path, CC_CONF_MAX, &len, err, sizeof(err))) == 0) {
	cc_error(cc, "%s: cannot read: %s", path, err);
	return (0);
    }
    if ((clean = malloc(len + 2)) == 0) {	/* + a newline after the last line */
	free(text);
	cc_error(cc, "out of memory");
	return (0);
    }
    *clean = 0;
    snprintf(prefix, sizeof(prefix), "%s, line 1: ", path);
    for (p = text; p < text + len; p = nl ? nl + 1 : text + len) {
	char    line[CM_CONFIG_LINE_MAX + 2], *key;
	size_t  room = strlen(clean);

	lineno++;
	nl = memchr(p, '\n', (size_t) (text + len - p));
	n = nl ? (size_t) (nl - p) : (size_t) (text + len - p);
	if ((one = cm_config_parse(p, n, path, err, sizeof(err))) == 0) {
	    cc_error(cc, "%s:%d: %s", path, lineno,
		     strncmp(err, prefix, strlen(prefix)) == 0 ? err + strlen(prefix) : err);
	    bad++;
	    clean[room++] = '\n';
	    clean[room] = 0;
	    continue;
	}
	cm_config_free(one);
	/* A valid line: a comment, a blank line, or a known key. */
	memcpy(line, p, n);
	line[n] = 0;
	key = cc_trim(line);
	if (*key && *key != '#' && (eq = strchr(key, '=')) != 0) {
	    *eq = 0;
	    key = cc_trim(key);
	    for (i = 0; i < nseen; i++)
		if (strcmp(seen[i], key) == 0)
		    break;
	    if (i < nseen) {
		cc_error(cc, "%s:%d: parameter '%s' already set on line %d", path, lineno,
			 key, seen_line[i]);
		bad++;
		clean[room++] = '\n';
		clean[room] = 0;
		continue;
	    }
	    if (nseen < CC_KEYS_MAX && (seen[nseen] = strdup(key)) != 0)
		seen_line[nseen++] = lineno;
	}
	memcpy(clean + room, p, n);
	clean[room + n] = '\n';
	clean[room + n + 1] = 0;
    }
    if ((cf = cm_config_parse(clean, strlen(clean), path, err, sizeof(err))) == 0)
	cc_error(cc, "%s", err);
    else if (bad == 0)
	cc_ok(cc, "%s: %d lines, syntax", path, lineno);
    for (i = 0; i < nseen; i++)
	free(seen[i]);
    free(clean);
    free(text);
    return (cf);
}

/*
 * Keys, certificates, trust.
 */

static int cc_key_known(const char *);

/* cc_check_key_file - mode/owner checks; strict: no group bits either */
static int cc_check_key_file(CC_STATE *cc, const char *param, const char *path,
			             int strict, uid_t notary_uid)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
	if (errno == ENOENT && strcmp(param, "seal_key") == 0)
	    cc_error(cc, "seal_key missing: %s does not exist (cmail-notary -G %s makes one)",
		     path, path);
	else
	    cc_error(cc, "%s %s: %s", param, path, strerror(errno));
	return (-1);
    }
    if (S_ISLNK(st.st_mode)) {
	cc_error(cc, "%s %s: a symbolic link (cmail-notary opens keys with O_NOFOLLOW)", param, path);
	return (-1);
    }
    if (!S_ISREG(st.st_mode)) {
	cc_error(cc, "%s %s: not a regular file", param, path);
	return (-1);
    }
    if (st.st_mode & (strict ? 077 : 007)) {
	cc_error(cc, "key file %s (%s) is %s readable or writable (mode %04o): chmod %s %s",
		 path, param, strict ? "group/world" : "world",
		 (unsigned) (st.st_mode & 07777), strict ? "600" : "640", path);
	return (-1);
    }
    if (strict && st.st_uid != 0 && st.st_uid != notary_uid) {
	cc_error(cc, "key file %s (%s) is owned by uid %lu, not by root or notary_user",
		 path, param, (unsigned long) st.st_uid);
	return (-1);
    }
    cc_ok(cc, "%s %s: mode %04o", param, path, (unsigned) (st.st_mode & 07777));
    return (0);
}

/* cc_time_text - an ASN1 time as text */
static void cc_time_text(const ASN1_TIME *t, char *buf, size_t len)
{
    BIO    *bio = BIO_new(BIO_s_mem());
    int     n = 0;

    *buf = 0;
    if (bio && t && ASN1_TIME_print(bio, t))
	n = BIO_read(bio, buf, (int) len - 1);
    buf[n > 0 ? n : 0] = 0;
    BIO_free(bio);
}

/* cc_expiry - warn about a certificate that expires soon */
static void cc_expiry(CC_STATE *cc, const char *what, X509 *cert)
{
    char    tbuf[64];
    time_t  soon = time(0) + CC_EXPIRY_WARN;

    if (X509_cmp_time(X509_get0_notAfter(cert), &soon) < 0 && X509_cmp_current_time(X509_get0_notAfter(cert)) > 0) {
	cc_time_text(X509_get0_notAfter(cert), tbuf, sizeof(tbuf));
	cc_warn(cc, "%s expires soon (notAfter %s)", what, tbuf);
    }
}

/* cc_check_crl_file - expired CRLs in one file */
static void cc_check_crl_file(CC_STATE *cc, const char *path)
{
    BIO    *bio;
    X509_CRL *crl;
    char    tbuf[64], name[256];
    int     n = 0;

    if ((bio = BIO_new_file(path, "rb")) == 0) {
	ERR_clear_error();
	cc_error(cc, "crl_directory: %s: cannot open", path);
	return;
    }
    while ((crl = PEM_read_bio_X509_CRL(bio, 0, 0, 0)) != 0) {
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

	n++;
	X509_NAME_oneline(X509_CRL_get_issuer(crl), name, sizeof(name));
	if (next && X509_cmp_current_time(next) <= 0) {
	    cc_time_text(next, tbuf, sizeof(tbuf));
	    cc_error(cc, "crl_directory: %s: the CRL of %s expired (nextUpdate %s): "
		     "refresh it from the CA", path, name, tbuf);
	}
	X509_CRL_free(crl);
    }
    if (n == 0 && BIO_seek(bio, 0) == 0 && (crl = d2i_X509_CRL_bio(bio, 0)) != 0) {
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

	n++;
	if (next && X509_cmp_current_time(next) <= 0) {
	    cc_time_text(next, tbuf, sizeof(tbuf));
	    cc_error(cc, "crl_directory: %s: the CRL expired (nextUpdate %s): refresh it from the CA",
		     path, tbuf);
	}
	X509_CRL_free(crl);
    }
    ERR_clear_error();
    BIO_free(bio);
    if (n == 0)
	cc_warn(cc, "crl_directory: %s holds no CRL", path);
}

/* cc_check_crls - every CRL file of crl_directory (a file or a directory) */
static void cc_check_crls(CC_STATE *cc, const char *path)
{
    struct stat st;
    DIR    *dir;
    struct dirent *de;
    char    file[4096];
    int     n = 0;

    if (stat(path, &st) < 0) {
	cc_error(cc, "crl_directory %s: %s (revocation cannot be checked: every certificate is refused)",
		 path, strerror(errno));
	return;
    }
    if (!S_ISDIR(st.st_mode)) {
	cc_check_crl_file(cc, path);
	return;
    }
    if ((dir = opendir(path)) == 0) {
	cc_error(cc, "crl_directory %s: %s", path, strerror(errno));
	return;
    }
    while ((de = readdir(dir)) != 0) {
	if (de->d_name[0] == '.')
	    continue;
	snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
	if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
	    n++;
	    cc_check_crl_file(cc, file);
	}
    }
    closedir(dir);
    if (n == 0)
	cc_error(cc, "crl_directory %s holds no CRL (every certificate is refused)", path);
}

/* cc_check_previous_seals - seal_key_previous: readable keys, no id twice */
static void cc_check_previous_seals(CC_STATE *cc, const CM_CONFIG *cf, uid_t notary_uid,
				            const char *seal_id)
{
    char   *list, *path, *save = 0;
    char    ids[CC_KEYS_MAX][CM_SEAL_KEY_ID_LEN + 1], id[CM_SEAL_KEY_ID_LEN + 1], err[512];
    int     n = 0, i;
    CM_SEAL_KEY key;

    if (!cc_key_known("seal_key_previous"))
	return;
    if ((list = strdup(cm_config_str(cf, "seal_key_previous"))) == 0) {
	cc_error(cc, "out of memory");
	return;
    }
    for (path = strtok_r(list, ", \t", &save); path; path = strtok_r(0, ", \t", &save)) {
	if (*path != '/') {
	    cc_error(cc, "seal_key_previous: %s is not an absolute path", path);
	    continue;
	}
	if (cc_check_key_file(cc, "seal_key_previous", path, 1, notary_uid) < 0)
	    continue;
	if (cm_seal_key_load(path, &key, err, sizeof(err)) < 0) {
	    cc_error(cc, "seal_key_previous %s: %s", path, err);
	    continue;
	}
	memcpy(id, key.key_id, sizeof(id));
	cm_seal_key_clear(&key);
	if (*seal_id && strcmp(id, seal_id) == 0)
	    cc_error(cc, "seal_key_previous %s: key id %s is the seal_key itself", path, id);
	for (i = 0; i < n; i++)
	    if (strcmp(ids[i], id) == 0)
		cc_error(cc, "seal_key_previous %s: key id %s is listed twice", path, id);
	if (n < CC_KEYS_MAX)
	    memcpy(ids[n++], id, sizeof(id));
	cc_ok(cc, "seal_key_previous %s: key id %s (unseals only)", path, id);
    }
    free(list);
}

/* cc_check_keys - server certificate and key, seal keys, TLS pair */
static void cc_check_keys(CC_STATE *cc, const CM_CONFIG *cf, CM_TRUST *trust,
			          char seal_id[CM_SEAL_KEY_ID_LEN + 1], char cert_sha256[65])
{
    const char *cert_path = cm_config_str(cf, "server_certificate");
    const char *key_path = cm_config_str(cf, "server_key");
    const char *seal_path = cm_config_str(cf, "seal_key");
    const char *tls_cert = cm_config_str(cf, "tls_certificate");
    const char *tls_key = cm_config_str(cf, "tls_key");
    struct passwd *pw = getpwnam(cm_config_str(cf, "notary_user"));
    uid_t   notary_uid = pw ? pw->pw_uid : 0;
    X509   *cert = 0, *tcert = 0;
    EVP_PKEY *key = 0, *tkey = 0;
    CM_SEAL_KEY seal;
    CM_CERT_OPTS opts;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char    err[512];

    *seal_id = 0;
    *cert_sha256 = 0;
    if (pw == 0)
	cc_error(cc, "notary_user %s: no such user", cm_config_str(cf, "notary_user"));

    /* The Annex C.2 server certificate. */
    if ((cert = cm_pem_read_cert(cert_path, err, sizeof(err))) == 0) {
	cc_error(cc, "server_certificate %s: %s", cert_path, err);
    } else {
	memset(&opts, 0, sizeof(opts));
	opts.role = CM_ROLE_SERVER;
	opts.purpose = CM_PURPOSE_ANY;
	opts.usage = CM_USE_SIGN;
	if (trust == 0)
	    cc_error(cc, "server certificate %s not validated: no trust anchors", cert_path);
	else if (cm_cert_validate(trust, cert, &opts, err, sizeof(err)) < 0)
	    cc_error(cc, "server certificate does not validate: %s (%s)", err, cert_path);
	else
	    cc_ok(cc, "server certificate %s: Annex C.2, path, revocation", cert_path);
	cc_expiry(cc, "server certificate", cert);
	if (X509_digest(cert, EVP_sha256(), md, &mdlen))
	    for (i = 0; i < mdlen && i < 32; i++)
		snprintf(cert_sha256 + 2 * i, 3, "%02x", md[i]);
    }
    if (cc_check_key_file(cc, "server_key", key_path, 1, notary_uid) == 0) {
	if ((key = cm_pem_read_key(key_path, err, sizeof(err))) == 0)
	    cc_error(cc, "server_key %s: %s", key_path, err);
	else if (cert && X509_check_private_key(cert, key) != 1)
	    cc_error(cc, "server_key %s does not match server_certificate %s", key_path, cert_path);
	ERR_clear_error();
    }
    if (cc_check_key_file(cc, "seal_key", seal_path, 1, notary_uid) == 0) {
	if (cm_seal_key_load(seal_path, &seal, err, sizeof(err)) < 0) {
	    cc_error(cc, "seal_key %s: %s", seal_path, err);
	} else {
	    cc_ok(cc, "seal_key %s: key id %s", seal_path, seal.key_id);
	    memcpy(seal_id, seal.key_id, CM_SEAL_KEY_ID_LEN + 1);
	    cm_seal_key_clear(&seal);
	}
    }

    /* Previous seal keys (rotation): they only unseal; each a key file of its own. */
    cc_check_previous_seals(cc, cf, notary_uid, seal_id);

    /* cmtpd's TLS pair: the key is read by the cmail user, never world-readable. */
    if ((tcert = cm_pem_read_cert(tls_cert, err, sizeof(err))) == 0) {
	cc_error(cc, "tls_certificate %s: %s", tls_cert, err);
    } else {
	cc_expiry(cc, "tls_certificate", tcert);
	if (X509_cmp_current_time(X509_get0_notAfter(tcert)) <= 0)
	    cc_error(cc, "tls_certificate %s has expired", tls_cert);
	memset(&opts, 0, sizeof(opts));
	opts.role = CM_ROLE_SERVER;
	opts.purpose = CM_PURPOSE_ANY;
	opts.usage = CM_USE_SIGN;
	if (trust && cm_cert_validate(trust, tcert, &opts, err, sizeof(err)) < 0)
	    cc_warn(cc, "tls_certificate %s is not a valid Annex C.2 server certificate (peer Cmail "
		    "servers refuse it for server-to-server TLS): %s", tls_cert, err);
    }
    if (cc_check_key_file(cc, "tls_key", tls_key, 0, notary_uid) == 0) {
	if ((tkey = cm_pem_read_key(tls_key, err, sizeof(err))) == 0)
	    cc_error(cc, "tls_key %s: %s", tls_key, err);
	else if (tcert && X509_check_private_key(tcert, tkey) != 1)
	    cc_error(cc, "tls_key %s does not match tls_certificate %s", tls_key, tls_cert);
	ERR_clear_error();
    }
    if (strcmp(tls_key, key_path) == 0 || cc_same_file(tls_key, key_path))
	cc_warn(cc, "tls_key is the server_key: the signing key should be read by cmail-notary only");
    EVP_PKEY_free(key);
    EVP_PKEY_free(tkey);
    X509_free(cert);
    X509_free(tcert);
}

/* cc_check_certdir - every ADDRESS.pem: Annex C.3, its own address */
static void cc_check_certdir(CC_STATE *cc, const CM_CONFIG *cf, CM_TRUST *trust)
{
    const char *path = cm_config_str(cf, "certificate_directory");
    const char *domains = cm_config_str(cf, "local_domains");
    CM_CERT_REPORT *rep;
    CM_CERT_OPTS opts;
    DIR    *dir;
    struct dirent *de;
    char    file[4096], addr[CM_ADDRESS_MAX + 1], err[512];
    size_t  n;
    int     count = 0, good = 0, i, addr_bad;
    X509   *cert;

    if ((dir = opendir(path)) == 0) {
	cc_error(cc, "certificate_directory %s: %s", path, strerror(errno));
	return;
    }
    if ((rep = malloc(sizeof(*rep))) == 0) {
	closedir(dir);
	cc_error(cc, "out of memory");
	return;
    }
    while ((de = readdir(dir)) != 0) {
	if (de->d_name[0] == '.')
	    continue;
	n = strlen(de->d_name);
	if (n > 4 && strcmp(de->d_name + n - 4, ".key") == 0) {
	    cc_warn(cc, "certificate_directory: %s is a private key: users' keys belong to the users, "
		    "not on the server", de->d_name);
	    continue;
	}
	if (n <= 4 || strcmp(de->d_name + n - 4, ".pem") != 0 || n - 4 > CM_ADDRESS_MAX) {
	    cc_warn(cc, "certificate_directory: %s is not ADDRESS.pem (ignored)", de->d_name);
	    continue;
	}
	memcpy(addr, de->d_name, n - 4);
	addr[n - 4] = 0;
	if (!cm_addr_valid(addr)) {
	    cc_warn(cc, "certificate_directory: %s: '%s' is not a mail address (ignored)", de->d_name, addr);
	    continue;
	}
	count++;
	snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
	if ((cert = cm_pem_read_cert(file, err, sizeof(err))) == 0) {
	    cc_error(cc, "certificate_directory: %s: %s", de->d_name, err);
	    continue;
	}
	cm_cert_opts_user(&opts, addr, CM_USE_SIGN | CM_USE_ENCIPHER);
	memset(rep, 0, sizeof(*rep));
	(void) cm_cert_check(trust, cert, &opts, rep);
	addr_bad = 0;
	for (i = 0; i < rep->n; i++) {
	    if (rep->rules[i].ok)
		continue;
	    if (strcmp(rep->rules[i].rule, "address") == 0) {
		cc_error(cc, "certificate_directory: %s does not match its address: %s",
			 de->d_name, rep->rules[i].reason);
		addr_bad = 1;
	    } else {
		cc_warn(cc, "certificate_directory: %s: %s: %s (certified mail to <%s> is refused)",
			de->d_name, rep->rules[i].rule, rep->rules[i].reason, addr);
	    }
	}
	if (!addr_bad && !cm_domain_listed(cm_addr_domain(addr), domains))
	    cc_warn(cc, "certificate_directory: %s: %s is not in local_domains", de->d_name,
		    cm_addr_domain(addr));
	if (cm_cert_report_ok(rep)) {
	    good++;
	    cc_expiry(cc, de->d_name, cert);
	}
	X509_free(cert);
    }
    closedir(dir);
    free(rep);
    if (count == 0)
	cc_warn(cc, "certificate_directory %s holds no user certificate (ADDRESS.pem)", path);
    else
	cc_ok(cc, "certificate_directory %s: %d certificates, %d valid", path, count, good);
}

/* cc_check_sockets - the notary answers PING with our keys; the milter listens */
static void cc_check_sockets(CC_STATE *cc, const CM_CONFIG *cf, const char *seal_id,
			             const char *cert_sha256)
{
    const char *sock = cm_config_str(cf, "notary_socket");
    const char *milter = cm_config_str(cf, "milter_socket");
    CM_NOTARY *nc;
    CM_NOTARY_INFO info;
    char    err[512];
    int     fd;

    if ((nc = cm_notary_connect(sock, 3000, err, sizeof(err))) == 0) {
	cc_warn(cc, "notary socket %s not reachable: %s (is cmail-notary running?)", sock, err);
    } else {
	memset(&info, 0, sizeof(info));
	if (cm_notary_ping(nc, &info, err, sizeof(err)) < 0) {
	    cc_warn(cc, "notary socket %s: PING failed: %s", sock, err);
	} else {
	    cc_ok(cc, "cmail-notary %s answers on %s", info.version, sock);
	    if (*seal_id && strcmp(info.key_id, seal_id) != 0)
		cc_warn(cc, "cmail-notary runs with seal key id %s, seal_key %s has %s: restart it",
			info.key_id, cm_config_str(cf, "seal_key"), seal_id);
	    if (*cert_sha256 && strcmp(info.cert_sha256, cert_sha256) != 0)
		cc_warn(cc, "cmail-notary runs with another server certificate than %s: restart it",
			cm_config_str(cf, "server_certificate"));
	}
	cm_notary_close(nc);
    }
    if ((fd = cm_connect(milter, 3, err, sizeof(err))) < 0) {
	cc_warn(cc, "milter_socket %s not reachable: %s (is cmail-milter running? With "
		"milter_default_action = tempfail Postfix defers all mail meanwhile)", milter, err);
    } else {
	cc_ok(cc, "cmail-milter answers on %s", milter);
	close(fd);
    }
}

/* cc_check_dirs - directories the daemons need */
static void cc_check_dirs(CC_STATE *cc, const CM_CONFIG *cf)
{
    struct stat st;
    const char *spool = cm_config_str(cf, "spool_directory");
    const char *db = cm_config_str(cf, "evidence_database");
    const char *schema = cm_config_str(cf, "schema_directory");
    const char *slash = strrchr(db, '/');
    char    dir[4096], file[4200];

    if (stat(spool, &st) < 0 || !S_ISDIR(st.st_mode))
	cc_warn(cc, "spool_directory %s: not a directory (cmtpd needs it)", spool);
    snprintf(dir, sizeof(dir), "%.*s", slash && slash != db ? (int) (slash - db) : 1, db);
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
	cc_warn(cc, "evidence_database %s: directory %s does not exist", db, dir);
    if (*schema) {
	snprintf(file, sizeof(file), "%s/x1341-notices.xsd", schema);
	if (access(file, R_OK) != 0)
	    cc_error(cc, "schema_directory %s: no readable x1341-notices.xsd", schema);
    }
    if (*cm_config_str(cf, "local_domains") == 0)
	cc_warn(cc, "local_domains is empty: no recipient is local");
    if (cc_key_known("cmail_relay_map")
	&& cm_relay_map_check(cm_config_str(cf, "cmail_relay_map"), dir, sizeof(dir)) < 0)
	cc_error(cc, "%s", dir);
}

/* cc_check_cmail - everything cmail.conf names */
static void cc_check_cmail(CC_STATE *cc, const CM_CONFIG *cf)
{
    const char *anchors = cm_config_str(cf, "trust_anchors");
    const char *crls = cm_config_str(cf, "crl_directory");
    CM_TRUST *trust = 0, *t0;
    char    err[512], seal_id[CM_SEAL_KEY_ID_LEN + 1], cert_sha256[65];

    if (access(anchors, R_OK) != 0) {
	cc_error(cc, "trust_anchors %s unreadable: %s", anchors, strerror(errno));
    } else if ((t0 = cm_trust_load(anchors, 0, err, sizeof(err))) == 0) {
	cc_error(cc, "trust_anchors %s unreadable: %s", anchors, err);
    } else {
	cm_trust_free(t0);
	cc_ok(cc, "trust_anchors %s", anchors);
	if ((trust = cm_trust_load(anchors, crls, err, sizeof(err))) == 0)
	    cc_error(cc, "crl_directory %s: %s", crls, err);
    }
    ERR_clear_error();
    cc_check_crls(cc, crls);
    cc_check_keys(cc, cf, trust, seal_id, cert_sha256);
    cc_check_certdir(cc, cf, trust);
    cc_check_dirs(cc, cf);
    cc_check_sockets(cc, cf, seal_id, cert_sha256);
    cm_trust_free(trust);
}

/*
 * Running postconf and doveconf.
 */

/* cc_run - run argv (argv[0] looked up in /usr/sbin, /usr/bin, then $PATH); capture output */
static int cc_run(char *const argv[], char **out_r, char *errline, size_t errlen)
{
    int     out[2], errp[2], status, open_fds = 2;
    pid_t   pid;
    char   *buf, ebuf[1024], path[256];
    size_t  len = 0, elen = 0;
    time_t  deadline = time(0) + CC_RUN_TIMEOUT;
    int     truncated = 0;

    *errline = 0;
    *out_r = 0;
    if ((buf = malloc(CC_OUTPUT_MAX + 1)) == 0) {
	snprintf(errline, errlen, "out of memory");
	return (-1);
    }
    if (pipe(out) < 0 || pipe(errp) < 0) {
	snprintf(errline, errlen, "pipe: %s", strerror(errno));
	free(buf);
	return (-1);
    }
    fflush(stdout);
    if ((pid = fork()) < 0) {
	snprintf(errline, errlen, "fork: %s", strerror(errno));
	close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
	free(buf);
	return (-1);
    }
    if (pid == 0) {
	dup2(out[1], 1);
	dup2(errp[1], 2);
	close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
	snprintf(path, sizeof(path), "/usr/sbin/%s", argv[0]);
	execv(path, argv);
	snprintf(path, sizeof(path), "/usr/bin/%s", argv[0]);
	execv(path, argv);
	execvp(argv[0], argv);
	fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
    }
    close(out[1]);
    close(errp[1]);
    while (open_fds > 0) {
	struct pollfd pfd[2];
	int     np = 0, left = (int) (deadline - time(0)), k;
	ssize_t n;

	if (left <= 0) {
	    kill(pid, SIGKILL);
	    snprintf(ebuf, sizeof(ebuf), "timed out after %d s", CC_RUN_TIMEOUT);
	    elen = strlen(ebuf);
	    break;
	}
	if (out[0] >= 0)
	    pfd[np].fd = out[0], pfd[np++].events = POLLIN;
	if (errp[0] >= 0)
	    pfd[np].fd = errp[0], pfd[np++].events = POLLIN;
	if (poll(pfd, (nfds_t) np, left * 1000) < 0 && errno != EINTR)
	    break;
	for (k = 0; k < np; k++) {
	    char    tmp[4096];

	    if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
		continue;
	    n = read(pfd[k].fd, tmp, sizeof(tmp));
	    if (n <= 0) {
		close(pfd[k].fd);
		if (pfd[k].fd == out[0])
		    out[0] = -1;
		else
		    errp[0] = -1;
		open_fds--;
		continue;
	    }
	    if (pfd[k].fd == out[0]) {
		if (len + (size_t) n > CC_OUTPUT_MAX)
		    truncated = 1;
		else
		    memcpy(buf + len, tmp, (size_t) n), len += (size_t) n;
	    } else if (elen < sizeof(ebuf) - 1) {
		size_t  m = (size_t) n < sizeof(ebuf) - 1 - elen ? (size_t) n : sizeof(ebuf) - 1 - elen;

		memcpy(ebuf + elen, tmp, m);
		elen += m;
	    }
	}
    }
    if (out[0] >= 0)
	close(out[0]);
    if (errp[0] >= 0)
	close(errp[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
	 /* void */ ;
    ebuf[elen] = 0;
    /* The first line of stderr that says something (skip blank lines). */
    {
	char   *s = ebuf, *e;

	while (*s == '\n')
	    s++;
	if ((e = strchr(s, '\n')) != 0)
	    *e = 0;
	snprintf(errline, errlen, "%s", s);
    }
    buf[len] = 0;
    if (truncated) {
	snprintf(errline, errlen, "output larger than %d bytes", CC_OUTPUT_MAX);
	free(buf);
	return (-1);
    }
    *out_r = buf;
    return (WIFEXITED(status) ? WEXITSTATUS(status) : 128);
}

/* cc_split_assign - "name = value" line into two trimmed strings */
static int cc_split_assign(char *line, char **name, char **value)
{
    char   *eq = strstr(line, " = ");

    if (eq == 0) {
	if ((eq = strstr(line, " =")) == 0 || eq[2] != 0)
	    return (-1);
	*eq = 0;
	*name = cc_trim(line);
	*value = eq + 2;
	return (0);
    }
    *eq = 0;
    *name = cc_trim(line);
    *value = cc_trim(eq + 3);
    return (0);
}

/*
 * Postfix.
 */

/* cc_postfix_free - release the parsed postconf output */
static void cc_postfix_free(CC_POSTFIX *pf)
{
    int     i;

    for (i = 0; i < pf->nmain; i++)
	free(pf->main[i].name), free(pf->main[i].value);
    for (i = 0; i < pf->nover; i++)
	free(pf->over[i].name), free(pf->over[i].value);
    for (i = 0; i < pf->nsvc; i++)
	free(pf->svc[i].name), free(pf->svc[i].type), free(pf->svc[i].command), free(pf->svc[i].args);
    free(pf);
}

/* cc_postconf - run postconf -c DIR FLAG, parse into pf; -1 on failure */
static int cc_postconf(CC_STATE *cc, CC_POSTFIX *pf, const char *dir, const char *flag)
{
    char   *argv[] = {"postconf", "-c", (char *) dir, (char *) flag, 0};
    char   *out, *line, *next, *name, *value;
    char    err[1024];
    int     rc;

    if ((rc = cc_run(argv, &out, err, sizeof(err))) != 0) {
	cc_error(cc, "postfix: postconf -c %s %s failed: %s", dir, flag,
		 *err ? err : "non-zero exit status");
	free(out);
	return (-1);
    }
    if (*err)
	cc_warn(cc, "postfix: postconf -c %s %s: %s", dir, flag, err);
    for (line = out; line && *line; line = next) {
	if ((next = strchr(line, '\n')) != 0)
	    *next++ = 0;
	if (strcmp(flag, "-M") == 0) {
	    char   *f[8], *save = 0;
	    int     k;
	    CC_SERVICE *s;

	    for (k = 0; k < 8; k++)
		if ((f[k] = strtok_r(k ? 0 : line, " \t", &save)) == 0)
		    break;
	    if (k < 8 || pf->nsvc >= CC_SERVICES_MAX)
		continue;
	    s = pf->svc + pf->nsvc++;
	    s->name = strdup(f[0]);
	    s->type = strdup(f[1]);
	    s->command = strdup(f[7]);
	    s->args = strdup(save ? cc_trim(save) : "");
	    if (!s->name || !s->type || !s->command || !s->args)
		msg_fatal("out of memory");
	} else {
	    CC_PARAM *p;

	    if (cc_split_assign(line, &name, &value) < 0)
		continue;
	    if (strcmp(flag, "-xn") == 0) {
		if (pf->nmain >= CC_PARAMS_MAX)
		    continue;
		p = pf->main + pf->nmain++;
	    } else {
		if (pf->nover >= CC_PARAMS_MAX)
		    continue;
		p = pf->over + pf->nover++;
	    }
	    if ((p->name = strdup(name)) == 0 || (p->value = strdup(value)) == 0)
		msg_fatal("out of memory");
	}
    }
    free(out);
    return (0);
}

/* cc_main - a main.cf value (explicitly set), or the default */
static const char *cc_main(const CC_POSTFIX *pf, const char *name, const char *def)
{
    int     i;

    for (i = 0; i < pf->nmain; i++)
	if (strcmp(pf->main[i].name, name) == 0)
	    return (pf->main[i].value);
    return (def);
}

/* cc_override - a service's -o value, or NULL */
static const char *cc_override(const CC_POSTFIX *pf, const CC_SERVICE *s, const char *param)
{
    char    key[1024];
    int     i;

    snprintf(key, sizeof(key), "%s/%s/%s", s->name, s->type, param);
    for (i = 0; i < pf->nover; i++)
	if (strcmp(pf->over[i].name, key) == 0)
	    return (pf->over[i].value);
    return (0);
}

/* cc_effective - a parameter as a service sees it */
static const char *cc_effective(const CC_POSTFIX *pf, const CC_SERVICE *s, const char *param,
				        const char *def)
{
    const char *v = cc_override(pf, s, param);

    return (v ? v : cc_main(pf, param, def));
}

/* cc_milter_has - does a Postfix milter list name the cmail milter */
static int cc_milter_has(const char *list, const char *milter, const char *queue_dir)
{
    char    want[4096], copy[8192], *tok, *save = 0;
    const char *rel = 0;
    size_t  qlen = strlen(queue_dir);

    /* cmail.conf says unix:/path or host:port; Postfix unix:/path or inet:host:port. */
    if (strncmp(milter, "unix:", 5) == 0)
	snprintf(want, sizeof(want), "%s", milter + 5);
    else
	snprintf(want, sizeof(want), "inet:%s", milter);
    /* A chrooted smtpd names the socket relative to queue_directory. */
    if (*want == '/' && qlen > 1 && strncmp(want, queue_dir, qlen) == 0 && want[qlen] == '/')
	rel = want + qlen;
    snprintf(copy, sizeof(copy), "%s", list);
    for (tok = strtok_r(copy, " \t,{}", &save); tok; tok = strtok_r(0, " \t,{}", &save)) {
	const char *t = tok;

	if (strchr(t, '=') && strncmp(t, "inet:", 5) != 0)
	    continue;				/* connect_timeout=10s etc. */
	if (strncmp(t, "unix:", 5) == 0)
	    t += 5;
	else if (strncmp(t, "local:", 6) == 0)
	    t += 6;
	if (strcmp(t, want) == 0 || (rel && strcmp(t, rel) == 0))
	    return (1);
    }
    return (0);
}

/* cc_argv - the words after argv= of a spawn/pipe service; count */
static int cc_argv(const char *args, char *copy, size_t copylen, char *words[CC_ARGV_MAX])
{
    char   *p, *save = 0, *tok;
    int     n = 0;

    snprintf(copy, copylen, "%s", args);
    if ((p = strstr(copy, "argv=")) == 0)
	return (0);
    if (p != copy && p[-1] != ' ' && p[-1] != '\t')
	return (0);
    for (tok = strtok_r(p + 5, " \t", &save); tok && n < CC_ARGV_MAX; tok = strtok_r(0, " \t", &save))
	words[n++] = tok;
    return (n);
}

/* cc_user - the user= of a spawn/pipe service (empty if none) */
static void cc_user(const char *args, char *user, size_t len)
{
    const char *p = args;

    *user = 0;
    while ((p = strstr(p, "user=")) != 0) {
	if (p == args || p[-1] == ' ' || p[-1] == '\t') {
	    size_t  n = strcspn(p + 5, " \t:");

	    snprintf(user, len, "%.*s", (int) n, p + 5);
	    return;
	}
	p += 5;
    }
}

/* cc_base_is - is the last path component of path name */
static int cc_base_is(const char *path, const char *name)
{
    const char *b = strrchr(path, '/');

    return (strcmp(b ? b + 1 : path, name) == 0);
}

/* cc_builtin_conf_path - the cmail.conf a daemon reads without -c and $CMAIL_CONFIG */
static const char *cc_builtin_conf_path(void)
{
    static char path[4096];
    const char *env = getenv("CMAIL_CONFIG");
    char    saved[4096];

    if (*path)
	return (path);
    if (env) {
	snprintf(saved, sizeof(saved), "%s", env);
	unsetenv("CMAIL_CONFIG");
    }
    snprintf(path, sizeof(path), "%s", cm_config_default_path());
    if (env)
	setenv("CMAIL_CONFIG", saved, 1);
    return (path);
}

/* cc_argv_conf - the cmail.conf a daemon's argv makes it read (the last -c, as getopt) */
static const char *cc_argv_conf(char **words, int n)
{
    const char *used = 0;
    int     i;

    for (i = 1; i < n; i++) {
	if (strcmp(words[i], "--") == 0)
	    break;
	if (strcmp(words[i], "-c") == 0 && i + 1 < n)
	    used = words[++i];
    }
    return (used ? used : cc_builtin_conf_path());
}

/* cc_argv_listens - does a cmtpd argv have -l (standalone) */
static int cc_argv_listens(char **words, int n)
{
    int     i;

    for (i = 1; i < n && strcmp(words[i], "--") != 0; i++)
	if (strncmp(words[i], "-l", 2) == 0)
	    return (1);
    return (0);
}

/* cc_conf_arg - warn when a daemon reads another cmail.conf than this check */
static void cc_conf_arg(CC_STATE *cc, const char *what, char **words, int n, const char *conf)
{
    const char *used = cc_argv_conf(words, n);

    if (!cc_same_file(used, conf))
	cc_warn(cc, "master.cf: %s reads %s, not %s (the file checked here)", what, used, conf);
}

/* cc_port_is - does an inet service listen on the port of host:port */
static int cc_port_is(const CC_SERVICE *s, const char *hostport)
{
    const char *want = strrchr(hostport, ':');
    const char *sp = strrchr(s->name, ':');
    const char *port = sp ? sp + 1 : s->name;

    if (strcmp(s->type, "inet") != 0 || want == 0 || strncmp(hostport, "unix:", 5) == 0)
	return (0);
    want++;
    if (strcmp(port, "smtp") == 0)
	port = "25";
    else if (strcmp(port, "submission") == 0)
	port = "587";
    else if (strcmp(port, "smtps") == 0 || strcmp(port, "submissions") == 0)
	port = "465";
    return (strcmp(port, want) == 0);
}

/* cc_key_known - does this build's cmail.conf know a parameter */
static int cc_key_known(const char *key)
{
    char    line[256], err[512];
    CM_CONFIG *cf;

    snprintf(line, sizeof(line), "%s = 127.0.0.1:25", key);
    if ((cf = cm_config_parse(line, strlen(line), "probe", err, sizeof(err))) == 0)
	return (strstr(err, "unknown parameter") == 0);
    cm_config_free(cf);
    return (1);
}

/* cc_is_loopback - is a master.cf host part a loopback address */
static int cc_is_loopback(const char *host, size_t len)
{
    if (len == 0)
	return (0);				/* all inet_interfaces */
    if ((len == 9 && strncmp(host, "localhost", 9) == 0)
	|| (len == 5 && strncmp(host, "[::1]", 5) == 0)
	|| (len == 3 && strncmp(host, "::1", 3) == 0))
	return (1);
    return (len >= 4 && strncmp(host, "127.", 4) == 0);
}

/* cc_check_listener - the injection or relay injection listener */
static void cc_check_listener(CC_STATE *cc, const CM_CONFIG *cf, const CC_POSTFIX *pf,
			              const char *param, const char *what, int relay,
			              const char *queue_dir)
{
    const char *addr = cm_config_str(cf, param);
    const char *milter = cm_config_str(cf, "milter_socket");
    const char *inj_name = cm_config_str(cf, "milter_injection_name");
    const char *port = strrchr(addr, ':');
    int     i, j, found = 0, has_milter;

    if (strncmp(addr, "unix:", 5) == 0 || port == 0) {
	cc_warn(cc, "%s = %s: not a host:port, cannot find its master.cf listener", param, addr);
	return;
    }
    port++;
    for (i = 0; i < pf->nsvc; i++) {
	const CC_SERVICE *s = pf->svc + i;
	const char *sp = strrchr(s->name, ':');
	const char *sport = sp ? sp + 1 : s->name;
	const char *v;
	size_t  hlen = sp ? (size_t) (sp - s->name) : 0;

	if (strcmp(s->type, "inet") != 0 || strcmp(sport, port) != 0)
	    continue;
	found++;
	if (!cc_is_loopback(s->name, hlen))
	    cc_error(cc, "master.cf: the %s on %s (cmail.conf %s) is not loopback (service %s)",
		     what, addr, param, s->name);
	if (strcmp(s->command, "smtpd") != 0) {
	    cc_error(cc, "master.cf: the %s on %s (cmail.conf %s) runs %s, not smtpd",
		     what, addr, param, s->command);
	    continue;
	}
	has_milter = cc_milter_has(cc_effective(pf, s, "smtpd_milters", ""), milter, queue_dir);
	if (relay && has_milter)
	    cc_error(cc, "master.cf: the %s on %s (cmail.conf %s) runs the cmail milter, which "
		     "refuses what cmail-relay must get (add -o smtpd_milters=)", what, addr, param);
	if (!relay && !has_milter)
	    cc_error(cc, "master.cf: the %s on %s (cmail.conf %s) has no milter (add "
		     "-o smtpd_milters=%s)", what, addr, param, milter);
	v = cc_effective(pf, s, "milter_macro_daemon_name", "$myname");
	if (!relay && strcmp(v, inj_name) != 0)
	    cc_error(cc, "master.cf: the %s on %s (cmail.conf %s) has milter_macro_daemon_name = %s, "
		     "not cmail.conf milter_injection_name %s (the milter refuses the stored forms)",
		     what, addr, param, v, inj_name);
	if (!relay && strcmp(cc_effective(pf, s, "milter_default_action", "tempfail"), "accept") == 0)
	    cc_error(cc, "master.cf: the %s on %s (cmail.conf %s) has milter_default_action = accept",
		     what, addr, param);
	if (relay) {
	    const char *filter = cc_override(pf, s, "content_filter");
	    size_t  tlen = filter ? strcspn(filter, ":") : 0;
	    int     ok = 0;

	    for (j = 0; filter && filter[tlen] == ':' && j < pf->nsvc; j++) {
		char    copy[4096], *words[CC_ARGV_MAX];
		int     n;

		if (strlen(pf->svc[j].name) != tlen || strncmp(pf->svc[j].name, filter, tlen) != 0
		    || strcmp(pf->svc[j].command, "pipe") != 0)
		    continue;
		n = cc_argv(pf->svc[j].args, copy, sizeof(copy), words);
		ok = (n > 0 && cc_base_is(words[0], "cmail-relay"));
	    }
	    if (!ok)
		cc_error(cc, "master.cf: relay injection listener on %s lacks content_filter=cmail-relay: "
			 "(content_filter %s)", addr, filter ? filter : "not set");
	} else if (cc_override(pf, s, "content_filter") && *cc_override(pf, s, "content_filter")) {
	    cc_error(cc, "master.cf: the %s on %s has a content_filter: stored forms for local "
		     "users must be delivered, not filtered", what, addr);
	}
	cc_ok(cc, "master.cf: %s %s", what, s->name);
    }
    if (found == 0)
	cc_error(cc, "master.cf: the %s on %s (cmail.conf %s) is missing", what, addr, param);
}

/* cc_postfix_time - a Postfix time value in seconds (-1 when unparsable) */
static long long cc_postfix_time(const char *v, int def_unit)
{
    char   *end;
    long long n;
    int     unit;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || n < 0 || n > 1000000000LL)
	return (-1);
    unit = *end ? *end : def_unit;
    if (*end && end[1])
	return (-1);
    switch (unit) {
    case 's':
	return (n);
    case 'm':
	return (n * 60);
    case 'h':
	return (n * 3600);
    case 'd':
	return (n * 86400);
    case 'w':
	return (n * 7 * 86400);
    default:
	return (-1);
    }
}


/* cc_standalone_cmtpd - pid of a running "cmtpd -l" that reads conf, or 0 */
static long cc_standalone_cmtpd(const char *conf)
{
    DIR    *d;
    struct dirent *de;
    long    found = 0;

    if ((d = opendir("/proc")) == 0)
	return (0);
    while (found == 0 && (de = readdir(d)) != 0) {
	char    path[300], argv[4096], *words[CC_ARGV_MAX], *p, *base;
	ssize_t len;
	int     fd, n;

	if (de->d_name[0] < '1' || de->d_name[0] > '9')
	    continue;
	snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
	    continue;
	len = read(fd, argv, sizeof(argv) - 1);
	close(fd);
	if (len <= 0)
	    continue;
	argv[len] = 0;
	for (n = 0, p = argv; p < argv + len && n < CC_ARGV_MAX; p += strlen(p) + 1)
	    words[n++] = p;
	base = strrchr(words[0], '/') ? strrchr(words[0], '/') + 1 : words[0];
	if (strcmp(base, "cmtpd") == 0 && cc_argv_listens(words, n)
	    && cc_same_file(cc_argv_conf(words, n), conf))
	    found = strtol(de->d_name, 0, 10);
    }
    closedir(d);
    return (found);
}

/* cc_check_postfix - main.cf and master.cf */
static void cc_check_postfix(CC_STATE *cc, const CM_CONFIG *cf, const char *dir, const char *conf)
{
    CC_POSTFIX *pf = calloc(1, sizeof(*pf));
    const char *milter = cm_config_str(cf, "milter_socket");
    const char *relay_addr = cm_config_str(cf, "relay_injection_address");
    const char *queue_dir, *v;
    char    copy[4096], user[256], *words[CC_ARGV_MAX], tbuf[1100];
    int     i, n, cmtpd = 0, relay = 0;

    if (pf == 0) {
	cc_error(cc, "out of memory");
	return;
    }
    if (access(dir, F_OK) != 0) {
	cc_error(cc, "postfix: %s: %s", dir, strerror(errno));
	free(pf);
	return;
    }
    if (cc_postconf(cc, pf, dir, "-xn") < 0 || cc_postconf(cc, pf, dir, "-M") < 0
	|| cc_postconf(cc, pf, dir, "-xP") < 0) {
	cc_postfix_free(pf);
	return;
    }
    queue_dir = cc_main(pf, "queue_directory", "/var/spool/postfix");

    /* main.cf */
    if (!cc_milter_has(cc_main(pf, "smtpd_milters", ""), milter, queue_dir))
	cc_error(cc, "main.cf: smtpd_milters lacks the cmail milter (%s): forged certified "
		 "mail would pass", milter);
    else
	cc_ok(cc, "main.cf: smtpd_milters has %s", milter);
    if (!cc_milter_has(cc_main(pf, "non_smtpd_milters", ""), milter, queue_dir))
	cc_error(cc, "main.cf: non_smtpd_milters lacks the cmail milter (%s): sendmail(1) "
		 "could inject forged certified mail", milter);
    if (cc_key_known("relay_lifetime")) {
	long long mql = cc_postfix_time(cc_main(pf, "maximal_queue_lifetime", "5d"), 'd');
	long long rl = cm_config_int(cf, "relay_lifetime");

	if (mql > 0 && rl >= mql)
	    cc_warn(cc, "cmail.conf relay_lifetime (%llds) is not below main.cf maximal_queue_lifetime "
		    "(%llds): Postfix may bounce a relayed message before cmail-relay sends the "
		    "signed non-delivery notice", rl, mql);
    }
    /* The stored form carries the ENVELOPE in base64 (4/3) plus headers and the notice. */
    {
	long long pf_limit = strtoll(cc_main(pf, "message_size_limit", "10240000"), 0, 10);
	long long need = cm_config_int(cf, "message_size_limit") / 3 * 4 + (1 << 20);

	if (pf_limit > 0 && pf_limit < need)
	    cc_warn(cc, "main.cf: message_size_limit = %lld is below what the largest deposit "
		    "cmail.conf allows needs (about %lld: message_size_limit %lld, base64, notice); "
		    "lower cmail.conf message_size_limit or raise Postfix's", pf_limit, need,
		    cm_config_int(cf, "message_size_limit"));
    }
    if (strcmp((v = cc_main(pf, "milter_default_action", "tempfail")), "accept") == 0)
	cc_error(cc, "main.cf: milter_default_action = %s: mail passes unchecked while the "
		 "cmail milter is down (use tempfail)", v);

    /* master.cf */
    for (i = 0; i < pf->nsvc; i++) {
	const CC_SERVICE *s = pf->svc + i;

	if (strcmp(s->command, "smtpd") == 0 && (v = cc_override(pf, s, "smtpd_milters")) != 0
	    && !cc_milter_has(v, milter, queue_dir) && !cc_port_is(s, relay_addr))
	    cc_error(cc, "master.cf: service %s overrides smtpd_milters without the cmail milter", s->name);
	if (strcmp(s->command, "smtpd") == 0 && (v = cc_override(pf, s, "milter_default_action")) != 0
	    && strcmp(v, "accept") == 0)
	    cc_error(cc, "master.cf: service %s has milter_default_action = accept", s->name);
	if ((n = cc_argv(s->args, copy, sizeof(copy), words)) == 0)
	    continue;
	if (strcmp(s->command, "spawn") == 0 && cc_base_is(words[0], "cmtpd")) {
	    cmtpd++;
	    snprintf(tbuf, sizeof(tbuf), "service %s (cmtpd)", s->name);
	    cc_user(s->args, user, sizeof(user));
	    if (*user == 0 || strcmp(user, "root") == 0)
		cc_error(cc, "master.cf: %s runs as %s: use user=cmail", tbuf, *user ? user : "root");
	    if (access(words[0], X_OK) != 0)
		cc_error(cc, "master.cf: %s: %s is not executable", tbuf, words[0]);
	    cc_conf_arg(cc, tbuf, words, n, conf);
	    cc_ok(cc, "master.cf: %s", tbuf);
	}
	if (strcmp(s->command, "pipe") == 0 && cc_base_is(words[0], "cmail-relay")) {
	    relay++;
	    snprintf(tbuf, sizeof(tbuf), "pipe service %s (cmail-relay)", s->name);
	    cc_user(s->args, user, sizeof(user));
	    if (*user == 0 || strcmp(user, "root") == 0)
		cc_error(cc, "master.cf: %s runs as %s: use user=cmail", tbuf, *user ? user : "root");
	    if (!strstr(s->args, "${nexthop}") || !strstr(s->args, "${recipient}"))
		cc_error(cc, "master.cf: %s: argv lacks -d ${nexthop} or ${recipient}", tbuf);
	    if (access(words[0], X_OK) != 0)
		cc_warn(cc, "master.cf: %s: %s is not executable", tbuf, words[0]);
	    cc_conf_arg(cc, tbuf, words, n, conf);
	    cc_ok(cc, "master.cf: %s", tbuf);
	}
    }
    if (cmtpd == 0) {
	long    pid;

	if (access("/etc/systemd/system/sockets.target.wants/cmtpd.socket", F_OK) == 0)
	    cc_ok(cc, "cmtpd runs from systemd's cmtpd.socket");
	else if (access("/etc/systemd/system/multi-user.target.wants/cmtpd.service", F_OK) == 0)
	    cc_ok(cc, "cmtpd runs standalone from systemd's cmtpd.service");
	else if ((pid = cc_standalone_cmtpd(conf)) > 0)
	    cc_ok(cc, "a standalone cmtpd -l with this cmail.conf is running (pid %ld)", pid);
	else
	    cc_error(cc, "master.cf: no service runs cmtpd (a spawn service with argv=/usr/sbin/cmtpd, "
		     "enable cmtpd.service or cmtpd.socket, or start cmtpd -l)");
    }
    if (relay == 0)
	cc_error(cc, "master.cf: no cmail-relay pipe service (certified mail to other domains "
		 "cannot leave)");
    if (cc_key_known("notice_submission_address")) {
	v = cm_config_str(cf, "notice_submission_address");
	for (i = 0; i < pf->nsvc; i++)
	    if (strcmp(pf->svc[i].type, "inet") == 0 && strcmp(pf->svc[i].command, "smtpd") == 0
		&& cc_port_is(pf->svc + i, v))
		break;
	if (i == pf->nsvc)
	    cc_warn(cc, "master.cf: no smtpd listens on notice_submission_address %s (notice mails "
		    "to local users cannot be submitted)", v);
    }
    cc_check_listener(cc, cf, pf, "injection_address", "injection listener", 0, queue_dir);
    cc_check_listener(cc, cf, pf, "relay_injection_address", "relay injection listener", 1, queue_dir);
    cc_postfix_free(pf);
}

/*
 * Dovecot.
 */

/* cc_word_in - is word one of the blank-separated words of list */
static int cc_word_in(const char *list, const char *word)
{
    size_t  n = strlen(word);
    const char *p = list;

    while ((p = strstr(p, word)) != 0) {
	if ((p == list || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '"' || p[-1] == ',')
	    && (p[n] == 0 || p[n] == ' ' || p[n] == '\t' || p[n] == '"' || p[n] == ','))
	    return (1);
	p += n;
    }
    return (0);
}

/* cc_check_dovecot_deliver - lmtp (or dovecot-lda) loads cmail_deliver */
static void cc_check_dovecot_deliver(CC_STATE *cc, const char *file, const char *proto,
				             const char *plugin_dir)
{
    char    filter[32], err[1024], plugin[4200];
    char   *argv[] = {"doveconf", "-c", (char *) file, "-f", filter, "-h", "mail_plugins", 0};
    char   *out = 0, *nl;

    /*
     * Postfix delivers at least once: without cmail_deliver a certified
     * message delivered again after a crash is saved twice. A warning, not
     * an error: certified mail still works, exactly-once delivery does not.
     */
    snprintf(filter, sizeof(filter), "protocol=%s", proto);
    if (cc_run(argv, &out, err, sizeof(err)) != 0) {
	cc_warn(cc, "dovecot: doveconf -f %s mail_plugins failed: %s", filter,
		*err ? err : "non-zero exit status");
    } else {
	if ((nl = strchr(out, '\n')) != 0)
	    *nl = 0;
	if (!cc_word_in(out, "cmail_deliver"))
	    cc_warn(cc, "dovecot: protocol %s does not load the cmail_deliver plugin (mail_plugins =%s%s): "
		    "a certified message Postfix delivers again after a crash is saved twice",
		    proto, *out ? " " : "", out);
	else
	    cc_ok(cc, "dovecot: protocol %s loads the cmail_deliver plugin", proto);
    }
    free(out);
    snprintf(plugin, sizeof(plugin), "%s/%s", plugin_dir, CC_DELIVER_PLUGIN_FILE);
    if (access(plugin, R_OK) != 0)
	cc_warn(cc, "dovecot: the cmail_deliver plugin is not installed: %s: %s", plugin, strerror(errno));
}

/* cc_check_dovecot - the CPOP plugin lines */
static void cc_check_dovecot(CC_STATE *cc, const char *file, const char *conf)
{
    char   *argv[] = {"doveconf", "-c", (char *) file, "-f", "protocol=pop3",
	"protocols", "mail_plugins", "mail_plugin_dir", "mail_always_cache_fields",
	"plugin/cmail_config", "plugin/cmail_submission_host", "plugin/cmail_sendmail_path", 0};
    char   *out, *line, *next, *name, *value, err[1024], plugin[4200];
    const char *protocols = "", *plugins = "", *plugin_dir = "/usr/lib/dovecot/modules";
    const char *cache = "", *cmail_config = 0, *submission = 0;
    int     rc, fd;

    if (access(file, F_OK) != 0) {
	cc_error(cc, "dovecot: %s: %s", file, strerror(errno));
	return;
    }
    if ((rc = cc_run(argv, &out, err, sizeof(err))) != 0) {
	cc_error(cc, "dovecot: doveconf -c %s failed: %s", file, *err ? err : "non-zero exit status");
	free(out);
	return;
    }
    for (line = out; line && *line; line = next) {
	if ((next = strchr(line, '\n')) != 0)
	    *next++ = 0;
	if (cc_split_assign(line, &name, &value) < 0)
	    continue;
	if (strcmp(name, "protocols") == 0)
	    protocols = value;
	else if (strcmp(name, "mail_plugins") == 0)
	    plugins = value;
	else if (strcmp(name, "mail_plugin_dir") == 0)
	    plugin_dir = value;
	else if (strcmp(name, "mail_always_cache_fields") == 0)
	    cache = value;
	else if (strcmp(name, "plugin/cmail_config") == 0)
	    cmail_config = value;
	else if (strcmp(name, "plugin/cmail_submission_host") == 0)
	    submission = value;
    }
    if (!cc_word_in(protocols, "pop3"))
	cc_error(cc, "dovecot: pop3 is not in protocols (%s)", protocols);
    if (!cc_word_in(plugins, "cmail"))
	cc_error(cc, "dovecot: protocol pop3 does not load the cmail plugin (mail_plugins =%s%s)",
		 *plugins ? " " : "", plugins);
    else
	cc_ok(cc, "dovecot: protocol pop3 loads the cmail plugin");
    snprintf(plugin, sizeof(plugin), "%s/%s", plugin_dir, CC_PLUGIN_FILE);
    if (access(plugin, R_OK) != 0)
	cc_error(cc, "dovecot: the cmail plugin is not installed: %s: %s", plugin, strerror(errno));
    if (cmail_config == 0 || *cmail_config == 0)
	cc_error(cc, "dovecot: plugin { cmail_config } is not set (CPOP is off)");
    else if (!cc_same_file(cmail_config, conf))
	cc_error(cc, "dovecot: plugin { cmail_config } points elsewhere: %s, not %s",
		 cmail_config, conf);
    else
	cc_ok(cc, "dovecot: plugin { cmail_config = %s }", cmail_config);
    if (!cc_word_in(cache, "hdr.x-cmail-delivery-type"))
	cc_warn(cc, "dovecot: mail_always_cache_fields lacks hdr.x-cmail-delivery-type "
		"(LIST reads every message body)");
    if (submission && *submission) {
	if ((fd = cm_connect(submission, 3, err, sizeof(err))) < 0)
	    cc_warn(cc, "dovecot: plugin { cmail_submission_host = %s } not reachable: %s "
		    "(receipt notices cannot be sent)", submission, err);
	else
	    close(fd);
    }
    cc_check_dovecot_deliver(cc, file, cc_word_in(protocols, "lmtp") ? "lmtp" : "lda",
			     plugin_dir);
    free(out);
}

/* cmd_checkconfig - cmail check-config */
int     cmd_checkconfig(int argc, char **argv)
{
    static const struct option longopts[] = {
	{"config", required_argument, 0, 'c'},
	{"postfix-config", required_argument, 0, 'P'},
	{"dovecot-config", required_argument, 0, 'D'},
	{"no-postfix", no_argument, 0, 'p'},
	{"no-dovecot", no_argument, 0, 'd'},
	{"verbose", no_argument, 0, 'v'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
    };
    const char *conf = cm_config_default_path();
    const char *postfix_dir = "/etc/postfix";
    const char *dovecot_file = "/etc/dovecot/dovecot.conf";
    int     do_postfix = 1, do_dovecot = 1, ch;
    CC_STATE cc;
    CM_CONFIG *cf;

    memset(&cc, 0, sizeof(cc));
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "c:vh", longopts, 0)) != -1) {
	switch (ch) {
	case 'c':
	    conf = optarg;
	    break;
	case 'P':
	    postfix_dir = optarg;
	    break;
	case 'D':
	    dovecot_file = optarg;
	    break;
	case 'p':
	    do_postfix = 0;
	    break;
	case 'd':
	    do_dovecot = 0;
	    break;
	case 'v':
	    cc.verbose = 1;
	    break;
	case 'h':
	    checkconfig_usage(stdout);
	    return (CMAIL_EX_OK);
	default:
	    fprintf(stderr, "cmail check-config: bad option '%s'\n", argv[optind - 1]);
	    checkconfig_usage(stderr);
	    return (CMAIL_EX_USAGE);
	}
    }
    if (optind != argc) {
	fprintf(stderr, "cmail check-config: unexpected argument '%s'\n", argv[optind]);
	checkconfig_usage(stderr);
	return (CMAIL_EX_USAGE);
    }
    if ((cf = cc_load_config(&cc, conf)) != 0) {
	cc_check_cmail(&cc, cf);
	if (do_postfix)
	    cc_check_postfix(&cc, cf, postfix_dir, conf);
	if (do_dovecot)
	    cc_check_dovecot(&cc, dovecot_file, conf);
	cm_config_free(cf);
    }
    printf("cmail check-config: %s: %d error%s, %d warning%s\n", conf,
	   cc.errors, cc.errors == 1 ? "" : "s", cc.warnings, cc.warnings == 1 ? "" : "s");
    return (cc.errors ? CMAIL_EX_FAIL : CMAIL_EX_OK);
}
