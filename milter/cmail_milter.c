/*++
 * NAME
 *	cmail-milter 8
 * SUMMARY
 *	Postfix milter guarding certified mail (ITU-T X.1341)
 * SYNOPSIS
 *	cmail-milter [-p SOCKET] [-c FILE] [-f] [-L LOGFILE] [-n] [-v]
 * DESCRIPTION
 *	On Postfix's injection listener (the smtpd service whose
 *	milter_macro_daemon_name is milter_injection_name) every message
 *	must be a stored form written by cmtpd: the seal must verify with
 *	cmail-notary, the envelope recipients must be the sealed entities,
 *	and the notary journals "queued" with the Postfix queue id before
 *	the message is accepted. On every other listener (smtpd_milters,
 *	non_smtpd_milters) a message with X-Cmail-* header fields or an
 *	application/x-cmail-sealed part is rejected with 550 5.7.1 unless
 *	it is a stored form our notary unseals; other mail passes
 *	untouched. The manual page is doc/cmail-milter.8.
 *
 *	Options:
 * .IP "-p SOCKET"
 *	where to listen, in libmilter syntax: unix:/path, local:/path,
 *	inet:port@host, inet6:port@host (default: milter_socket from
 *	cmail.conf, where host:port is also accepted).
 * .IP "-c FILE"
 *	cmail.conf (default $CMAIL_CONFIG or /etc/cmail/cmail.conf).
 * .IP -f
 *	stay in the foreground and log to stderr as well.
 * .IP "-L LOGFILE"
 *	also append every log line to LOGFILE.
 * .IP -n
 *	check the configuration and the spool directory, then exit.
 * .IP -v
 *	verbose logging (also: verbose = yes in cmail.conf).
 * DIAGNOSTICS
 *	Postfix style to syslog facility mail. Exit status: 0 after
 *	SIGTERM, EX_USAGE, EX_CONFIG, EX_CANTCREAT or EX_OSERR
 *	(sysexits.h) on errors.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <libmilter/mfapi.h>

#include "cm_log.h"
#include "cm_daemon.h"
#include "cm_config.h"
#include "cm_xml.h"
#include "cmail_milter.h"
#include "milter_callbacks.h"

#define CMM_BACKLOG	128

/* usage - complain and exit; with help, to stdout and exit 0 */
static void usage_to(int help)
{
    fprintf(help ? stdout : stderr, "usage: cmail-milter [-p SOCKET] [-c FILE] [-f] [-L LOGFILE] [-n] [-v]\n");
    exit(help ? 0 : EX_USAGE);
}


/* socket_spec - libmilter syntax from -p or milter_socket */
static int socket_spec(const char *in, char *out, size_t outlen)
{
    const char *colon;

    if (strncmp(in, "unix:", 5) == 0 || strncmp(in, "local:", 6) == 0
	|| strncmp(in, "inet:", 5) == 0 || strncmp(in, "inet6:", 6) == 0) {
	if (strchr(in, ':')[1] == 0)
	    return (-1);
	snprintf(out, outlen, "%s", in);
	return (0);
    }
    if (in[0] == '/') {
	snprintf(out, outlen, "unix:%s", in);
	return (0);
    }
    /* host:port or [v6]:port (cmail.conf hostport) */
    if ((colon = strrchr(in, ':')) == 0 || colon == in || colon[1] == 0)
	return (-1);
    if (in[0] == '[' && colon[-1] == ']')
	snprintf(out, outlen, "inet6:%s@%.*s", colon + 1, (int) (colon - in - 2), in + 1);
    else
	snprintf(out, outlen, "inet:%s@%.*s", colon + 1, (int) (colon - in), in);
    return (0);
}

/* socket_path - the file name of a unix-domain spec, or NULL */
static const char *socket_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
	return (spec + 5);
    if (strncmp(spec, "local:", 6) == 0)
	return (spec + 6);
    return (0);
}

/* parse_mode - octal permission bits for the unix socket */
static int parse_mode(const char *text, mode_t *mode)
{
    char   *end;
    unsigned long v;

    errno = 0;
    v = strtoul(text, &end, 8);
    if (errno || end == text || *end || v > 0777)
	return (-1);
    *mode = (mode_t) v;
    return (0);
}

/* check_spool - we can create (unnamed) files in spool_directory */
static int check_spool(char *err, size_t errlen)
{
    FILE   *fp;

    if (cmm_tempfile(&cmm_settings, &fp, err, errlen) < 0)
	return (-1);
    fclose(fp);
    return (0);
}

/* main - options, configuration, socket, then libmilter until SIGTERM */
int     main(int argc, char **argv)
{
    const char *config_path = 0, *log_path = 0, *sock_arg = 0, *path;
    int     foreground = 0, check_only = 0, verbose = 0;
    char    spec[4096];
    char    err[512];
    CM_CONFIG *cf;
    mode_t  mode;
    int     ch;

    cm_log_init("cmail-milter", CM_LOG_STDERR);
    if (argc > 1 && strcmp(argv[1], "--help") == 0)
        usage_to(1);
    while ((ch = getopt(argc, argv, "c:fL:np:v")) != -1) {
	switch (ch) {
	case 'c':
	    config_path = optarg;
	    break;
	case 'f':
	    foreground = 1;
	    break;
	case 'L':
	    log_path = optarg;
	    break;
	case 'n':
	    check_only = 1;
	    break;
	case 'p':
	    sock_arg = optarg;
	    break;
	case 'v':
	    verbose = 1;
	    break;
	default:
	    usage_to(0);
	}
    }
    if (optind != argc)
	usage_to(0);
    if (log_path && cm_log_file(log_path) < 0)
	msg_fatal_status(EX_CANTCREAT, "cannot open log file %s: %m", log_path);
    if (config_path == 0)
	config_path = cm_config_default_path();
    if ((cf = cm_config_load(config_path, err, sizeof(err))) == 0)
	msg_fatal_status(EX_CONFIG, "%s", err);

    /* Settings the callbacks read; never changed once threads run. */
    cmm_settings.injection_name = cm_config_str(cf, "milter_injection_name");
    cmm_settings.notary_socket = cm_config_str(cf, "notary_socket");
    cmm_settings.spool_directory = cm_config_str(cf, "spool_directory");
    cmm_settings.verbose = verbose || cm_config_bool(cf, "verbose");
    /* A stored form is the ENVELOPE in base64 plus a little. */
    cmm_settings.size_limit = cm_config_int(cf, "message_size_limit") / 3 * 4 + 1024 * 1024;
    if (cmm_settings.injection_name[0] == 0)
	msg_fatal_status(EX_CONFIG, "%s: milter_injection_name must not be empty", config_path);
    if (parse_mode(cm_config_str(cf, "milter_socket_mode"), &mode) < 0)
	msg_fatal_status(EX_CONFIG, "%s: milter_socket_mode: not an octal mode: %s",
			 config_path, cm_config_str(cf, "milter_socket_mode"));
    if (socket_spec(sock_arg ? sock_arg : cm_config_str(cf, "milter_socket"),
		    spec, sizeof(spec)) < 0)
	msg_fatal_status(EX_USAGE, "bad milter socket: %s",
			 sock_arg ? sock_arg : cm_config_str(cf, "milter_socket"));
    if (check_spool(err, sizeof(err)) < 0)
	msg_fatal_status(EX_CONFIG, "spool_directory: %s", err);
    if (check_only) {
	printf("cmail-milter: configuration OK: socket %s, injection listener \"%s\", "
	       "notary %s, spool %s\n", spec, cmm_settings.injection_name,
	       cmm_settings.notary_socket, cmm_settings.spool_directory);
	cm_config_free(cf);
	return (0);
    }
    cm_log_init("cmail-milter", CM_LOG_SYSLOG | (foreground ? CM_LOG_STDERR : 0));
    if (cm_xml_init() < 0)
	msg_fatal_status(EX_SOFTWARE, "cannot initialise libxml2/xmlsec1");
    signal(SIGPIPE, SIG_IGN);

    /* Listen before detaching, so that a socket problem is seen. */
    if (smfi_setconn(spec) == MI_FAILURE)
	msg_fatal_status(EX_USAGE, "smfi_setconn %s failed", spec);
    if (smfi_register(cmm_desc) == MI_FAILURE)
	msg_fatal_status(EX_SOFTWARE, "smfi_register failed");
    smfi_setbacklog(CMM_BACKLOG);
    umask(077);
    if (smfi_opensocket(1) == MI_FAILURE)
	msg_fatal_status(EX_OSERR, "cannot listen on %s", spec);
    if ((path = socket_path(spec)) != 0 && chmod(path, mode) < 0)
	msg_fatal_status(EX_OSERR, "chmod %s: %m", path);
    if (!foreground)
	cm_daemon_detach();
    msg_info("starting: listening on %s, injection listener \"%s\", notary %s", spec,
	     cmm_settings.injection_name, cmm_settings.notary_socket);
    if (smfi_main() == MI_FAILURE)
	msg_fatal_status(EX_SOFTWARE, "smfi_main failed");
    msg_info("stopping");
    if ((path = socket_path(spec)) != 0)
	(void) unlink(path);
    cm_config_free(cf);
    return (0);
}
