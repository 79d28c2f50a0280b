/*++
 * NAME
 *	cmail-notary 8
 * SUMMARY
 *	holder of the server key, the seal key and the evidence journal
 * SYNOPSIS
 *	cmail-notary [-f] [-c FILE] [-n]
 *	cmail-notary -G FILE
 * DESCRIPTION
 *	The only Cmail process that reads the server signing key and the
 *	seal key, and the only writer of the evidence journal. Other
 *	programs ask it over a unix socket (protocol: cm_notary.h).
 *
 *	Start-up, in this order: read cmail.conf; open each key file
 *	without following links and refuse it unless it is a regular file
 *	owned by root, the notary user or the invoking user, with no group
 *	or other permission bits; load the server certificate and key
 *	(they must match) and the seal key; drop privileges to
 *	notary_user (setgroups, setresgid, setresuid; skipped with a
 *	warning when not started as root or when notary_user is root);
 *	make the process non-dumpable; open the evidence journal; create
 *	the socket (mode 0660); detach unless -f; serve with
 *	notary_threads worker threads until SIGTERM or SIGINT.
 *
 *	Options:
 * .IP "-c FILE"
 *	cmail.conf to read (default $CMAIL_CONFIG or /etc/cmail/cmail.conf).
 * .IP -f
 *	stay in the foreground, log to stderr as well as syslog.
 * .IP -n
 *	check the configuration and keys (and that the journal opens),
 *	print the seal key id and certificate hash, and exit.
 * .IP "-G FILE"
 *	generate a new seal key into FILE (mode 0600, never overwritten).
 * CONFIGURATION PARAMETERS
 *	server_certificate, server_key, seal_key, notary_socket,
 *	notary_user, notary_threads, notary_allowed_users (user names or
 *	uids, separated by commas or blanks; empty: any peer the socket
 *	mode lets in), evidence_database. See cmail.conf(5).
 * DIAGNOSTICS
 *	Postfix style, to syslog facility mail (and stderr with -f). Exit
 *	status 0 on SIGTERM, 1 on a configuration or environment error.
 * SEE ALSO
 *	cmail-notary(8), cm_notary(3h), cm_seal(3h), cm_evidence(3h)
 *--*/
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cm_log.h"
#include "cm_daemon.h"
#include "cm_config.h"
#include "cm_pem.h"
#include "cm_xml.h"
#include "cm_seal.h"
#include "cm_evidence.h"
#include "cm_notary.h"
#include "notary.h"

#define SECRET_FILE_MAX	(64 * 1024)

NOTARY  notary;
volatile sig_atomic_t notary_stop;

/* usage - complain and exit; with help, to stdout and exit 0 */
static void usage_to(int help)
{
    fprintf(help ? stdout : stderr, "usage: cmail-notary [-f] [-c FILE] [-n]\n"
	    "       cmail-notary -G FILE\n");
    exit(help ? 0 : 2);
}


/* on_signal - ask the main loop to stop */
static void on_signal(int sig)
{
    notary_stop = 1;
}

/* read_secret - read a key file after checking owner and mode */
static char *read_secret(const char *what, const char *path, uid_t notary_uid, size_t *len)
{
    struct stat st;
    char   *buf;
    size_t  got = 0;
    ssize_t n;
    int     fd;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) < 0)
	msg_fatal("%s %s: cannot open: %m", what, path);
    if (fstat(fd, &st) < 0)
	msg_fatal("%s %s: fstat: %m", what, path);
    if (!S_ISREG(st.st_mode))
	msg_fatal("%s %s: not a regular file", what, path);
    if (st.st_mode & 077)
	msg_fatal("%s %s: mode %04o is group- or world-accessible; "
		  "run chmod 600 %s", what, path, (unsigned) (st.st_mode & 07777), path);
    if (st.st_uid != 0 && st.st_uid != notary_uid && st.st_uid != geteuid())
	msg_fatal("%s %s: owned by uid %lu, not by root or the notary user",
		  what, path, (unsigned long) st.st_uid);
    if (st.st_size > SECRET_FILE_MAX)
	msg_fatal("%s %s: larger than %d bytes", what, path, SECRET_FILE_MAX);
    if ((buf = malloc(SECRET_FILE_MAX + 1)) == 0)
	msg_fatal("out of memory");
    while ((n = read(fd, buf + got, SECRET_FILE_MAX - got)) != 0) {
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0)
	    msg_fatal("%s %s: read: %m", what, path);
	got += (size_t) n;
	if (got == SECRET_FILE_MAX)
	    msg_fatal("%s %s: larger than %d bytes", what, path, SECRET_FILE_MAX - 1);
    }
    close(fd);
    buf[got] = 0;
    *len = got;
    return (buf);
}

/* free_secret - wipe and free */
static void free_secret(char *buf, size_t len)
{
    OPENSSL_cleanse(buf, len);
    free(buf);
}

/* load_previous_seal_keys - seal_key_previous: keys that only unseal (rotation) */
static void load_previous_seal_keys(CM_CONFIG *cf, uid_t notary_uid)
{
    char   *list = strdup(cm_config_str(cf, "seal_key_previous"));
    char   *path, *save = 0;
    char    err[256];
    char   *text;
    size_t  len, i;

    if (list == 0)
	msg_fatal("out of memory");
    for (path = strtok_r(list, ", \t", &save); path; path = strtok_r(0, ", \t", &save)) {
	if (notary.nseal >= NOTARY_SEAL_KEYS_MAX)
	    msg_fatal("seal_key_previous: more than %d keys", NOTARY_SEAL_KEYS_MAX - 1);
	if (*path != '/')
	    msg_fatal("seal_key_previous: %s is not an absolute path", path);
	text = read_secret("seal_key_previous", path, notary_uid, &len);
	if (cm_seal_key_parse(text, len, &notary.seal[notary.nseal], err, sizeof(err)) < 0)
	    msg_fatal("seal_key_previous %s: %s", path, err);
	free_secret(text, len);
	for (i = 0; i < notary.nseal; i++)
	    if (strcmp(notary.seal[i].key_id, notary.seal[notary.nseal].key_id) == 0)
		msg_fatal("seal_key_previous %s: key id %s is listed twice (or is the seal key)",
			  path, notary.seal[i].key_id);
	notary.nseal++;
    }
    free(list);
}

/* load_keys - server certificate and key, seal key */
static void load_keys(CM_CONFIG *cf, uid_t notary_uid)
{
    const char *key_path = cm_config_str(cf, "server_key");
    const char *cert_path = cm_config_str(cf, "server_certificate");
    const char *seal_path = cm_config_str(cf, "seal_key");
    STACK_OF(X509) *all;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen, i;
    char    err[512];
    char   *text;
    size_t  len;
    BIO    *bio;

    text = read_secret("server_key", key_path, notary_uid, &len);
    if ((bio = BIO_new_mem_buf(text, (int) len)) == 0)
	msg_fatal("out of memory");
    notary.server_key = PEM_read_bio_PrivateKey(bio, 0, 0, (void *) "");
    BIO_free(bio);
    free_secret(text, len);
    if (notary.server_key == 0)
	msg_fatal("server_key %s: not a PEM private key (or encrypted): %s", key_path,
		  cm_ssl_errors(err, sizeof(err)));

    if ((all = cm_pem_read_certs(cert_path, err, sizeof(err))) == 0
	|| sk_X509_num(all) < 1)
	msg_fatal("server_certificate %s: %s", cert_path, all ? "no certificate" : err);
    notary.server_cert = sk_X509_shift(all);
    if (sk_X509_num(all) > 0)
	notary.chain = all;
    else
	sk_X509_free(all);
    if (X509_check_private_key(notary.server_cert, notary.server_key) != 1)
	msg_fatal("server_certificate %s does not match server_key %s", cert_path, key_path);
    if (!X509_digest(notary.server_cert, EVP_sha256(), md, &mdlen))
	msg_fatal("server_certificate %s: cannot hash it", cert_path);
    for (i = 0; i < mdlen && i < 32; i++)
	snprintf(notary.cert_sha256 + 2 * i, 3, "%02x", md[i]);

    text = read_secret("seal_key", seal_path, notary_uid, &len);
    if (cm_seal_key_parse(text, len, &notary.seal[0], err, sizeof(err)) < 0)
	msg_fatal("seal_key %s: %s", seal_path, err);
    free_secret(text, len);
    notary.nseal = 1;
    load_previous_seal_keys(cf, notary_uid);
}

/* resolve_allowed - notary_allowed_users to uids */
static void resolve_allowed(CM_CONFIG *cf)
{
    char   *list = strdup(cm_config_str(cf, "notary_allowed_users"));
    char   *tok, *save = 0;

    if (list == 0)
	msg_fatal("out of memory");
    for (tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(0, ", \t", &save)) {
	struct passwd *pw;
	char   *end;
	unsigned long uid;

	if (notary.nallowed >= NOTARY_ALLOWED_MAX)
	    msg_fatal("notary_allowed_users: more than %d entries", NOTARY_ALLOWED_MAX);
	if ((pw = getpwnam(tok)) != 0) {
	    notary.allowed[notary.nallowed++] = pw->pw_uid;
	    continue;
	}
	errno = 0;
	uid = strtoul(tok, &end, 10);
	if (*tok < '0' || *tok > '9' || *end || errno || uid > 0x7fffffffUL)
	    msg_fatal("notary_allowed_users: unknown user '%.64s'", tok);
	notary.allowed[notary.nallowed++] = (uid_t) uid;
    }
    free(list);
}

/* drop_privileges - become notary_user when started as root */
static void drop_privileges(const struct passwd *pw, const char *user)
{
    /* pw is our own copy: getpwnam()'s static result is gone by now. */
    if (geteuid() != 0) {
	msg_warn("not started as root: keeping uid %lu (notary_user %s not applied)",
		 (unsigned long) geteuid(), user);
	return;
    }
    if (pw == 0)
	msg_fatal("notary_user %s: no such user", user);
    if (pw->pw_uid == 0) {
	msg_warn("notary_user %s is root: not dropping privileges", user);
	return;
    }
    if (setgroups(1, &pw->pw_gid) < 0)
	msg_fatal("setgroups: %m");
    if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0)
	msg_fatal("setresgid %lu: %m", (unsigned long) pw->pw_gid);
    if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
	msg_fatal("setresuid %lu: %m", (unsigned long) pw->pw_uid);
    if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getegid() != pw->pw_gid
	|| setuid(0) == 0)
	msg_fatal("could not drop privileges to %s", user);
    msg_info("running as %s (uid %lu gid %lu)", user, (unsigned long) pw->pw_uid,
	     (unsigned long) pw->pw_gid);
}

/* open_socket - the listening unix socket, mode 0660 */
static int open_socket(const char *path)
{
    struct sockaddr_un sun;
    struct stat st;
    mode_t  old;
    int     fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path))
	msg_fatal("notary_socket %s: path too long", path);
    memcpy(sun.sun_path, path, strlen(path));
    if (lstat(path, &st) == 0) {
	if (!S_ISSOCK(st.st_mode))
	    msg_fatal("notary_socket %s: exists and is not a socket", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
	    msg_fatal("socket: %m");
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0)
	    msg_fatal("notary_socket %s: another notary is listening there", path);
	close(fd);
	if (unlink(path) < 0)
	    msg_fatal("notary_socket %s: cannot remove the stale socket: %m", path);
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
	msg_fatal("socket: %m");
    old = umask(0117);
    if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0)
	msg_fatal("notary_socket %s: bind: %m", path);
    umask(old);
    if (chmod(path, 0660) < 0)
	msg_fatal("notary_socket %s: chmod: %m", path);
    if (listen(fd, 128) < 0)
	msg_fatal("notary_socket %s: listen: %m", path);
    return (fd);
}

/* main - start-up, then serve until SIGTERM */
int     main(int argc, char **argv)
{
    const char *config_path = 0;
    const char *generate = 0;
    const char *user;
    struct passwd *pw;
    struct passwd pw_copy;
    struct sigaction sa;
    CM_CONFIG *cf;
    char    err[512];
    int     foreground = 0;
    int     check_only = 0;
    long long threads;
    uid_t   notary_uid;
    int     listen_fd;
    int     ch;

    cm_log_init(argv[0], CM_LOG_STDERR);
    if (argc > 1 && strcmp(argv[1], "--help") == 0)
        usage_to(1);
    while ((ch = getopt(argc, argv, "c:fnG:h")) != -1) {
	switch (ch) {
	case 'c':
	    config_path = optarg;
	    break;
	case 'f':
	    foreground = 1;
	    break;
	case 'n':
	    check_only = 1;
	    break;
	case 'G':
	    generate = optarg;
	    break;
	default:
	    usage_to(0);
	}
    }
    if (optind != argc)
	usage_to(0);
    if (generate) {
	CM_SEAL_KEY key;

	if (cm_seal_key_generate(generate, err, sizeof(err)) < 0)
	    msg_fatal("%s", err);
	if (cm_seal_key_load(generate, &key, err, sizeof(err)) < 0)
	    msg_fatal("%s", err);
	printf("seal key written to %s (mode 0600), key id %s\n", generate, key.key_id);
	cm_seal_key_clear(&key);
	return (0);
    }
    if (!check_only)
	cm_log_init(argv[0], CM_LOG_STDERR | CM_LOG_SYSLOG);
    if (config_path == 0)
	config_path = cm_config_default_path();
    if ((cf = cm_config_load(config_path, err, sizeof(err))) == 0)
	msg_fatal("%s", err);
    if (*cm_config_str(cf, "schema_directory"))
	cm_schema_set_dir(cm_config_str(cf, "schema_directory"));
    notary.cf = cf;
    if ((threads = cm_config_int(cf, "notary_threads")) < 1 || threads > 64)
	msg_fatal("notary_threads must be 1..64, not %lld", threads);
    /* A stored form holds the ENVELOPE (base64 at worst) and the notices. */
    notary.seal_limit = 2ULL * (unsigned long long) cm_config_int(cf, "message_size_limit")
	+ 16ULL * 1024 * 1024;
    user = cm_config_str(cf, "notary_user");
    if ((pw = getpwnam(user)) != 0) {
	/* Keep only the ids: later getpwnam() calls reuse the static result. */
	memset(&pw_copy, 0, sizeof(pw_copy));
	pw_copy.pw_uid = pw->pw_uid;
	pw_copy.pw_gid = pw->pw_gid;
	pw = &pw_copy;
    }
    notary_uid = pw ? pw->pw_uid : 0;
    resolve_allowed(cf);
    if (cm_xml_init() < 0)
	msg_fatal("cannot initialise libxml2/xmlsec1");

    load_keys(cf, notary_uid);

    if (check_only) {
	const char *db = cm_config_str(cf, "evidence_database");
	CM_EVIDENCE *ev;

	if (access(db, F_OK) == 0) {
	    if ((ev = cm_evidence_open(db, CM_EVIDENCE_READ, err, sizeof(err))) == 0)
		msg_fatal("evidence_database: %s", err);
	    cm_evidence_close(ev);
	} else {
	    msg_warn("evidence_database %s does not exist yet (created at start)", db);
	}
	if (geteuid() == 0 && pw == 0)
	    msg_fatal("notary_user %s: no such user", user);
	printf("cmail-notary: %s OK: seal key id %s, server certificate sha256 %s\n",
	       config_path, notary.seal[0].key_id, notary.cert_sha256);
	for (size_t k = 1; k < notary.nseal; k++)
	    printf("cmail-notary: previous seal key id %s (unseals only)\n", notary.seal[k].key_id);
	return (0);
    }

    drop_privileges(pw, user);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
	msg_warn("prctl(PR_SET_DUMPABLE): %m");

    if ((notary.evidence = cm_evidence_open(cm_config_str(cf, "evidence_database"),
					    CM_EVIDENCE_WRITE, err, sizeof(err))) == 0)
	msg_fatal("evidence_database: %s", err);
    listen_fd = open_socket(cm_config_str(cf, "notary_socket"));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, 0);
    sigaction(SIGINT, &sa, 0);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, 0);
    sigaction(SIGHUP, &sa, 0);

    msg_info("starting: socket %s, seal key id %s, server certificate sha256 %s, journal %s",
	     cm_config_str(cf, "notary_socket"), notary.seal[0].key_id, notary.cert_sha256,
	     cm_config_str(cf, "evidence_database"));
    if (!foreground) {
	cm_daemon_detach();
	cm_log_init(argv[0], CM_LOG_SYSLOG);
    }
    notary_pool_run(listen_fd, (int) threads);

    close(listen_fd);
    unlink(cm_config_str(cf, "notary_socket"));
    cm_evidence_close(notary.evidence);
    EVP_PKEY_free(notary.server_key);
    X509_free(notary.server_cert);
    sk_X509_pop_free(notary.chain, X509_free);
    for (size_t k = 0; k < notary.nseal; k++)
	cm_seal_key_clear(&notary.seal[k]);
    cm_config_free(cf);
    msg_info("stopped");
    return (0);
}
