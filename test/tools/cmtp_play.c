/*++
 * NAME
 *	cmtp_play 1
 * SUMMARY
 *	test tool: play a CMTP transcript against a server on stdin/stdout
 * SYNOPSIS
 *	cmtp_play --ca FILE [--name HOST] [--cert FILE --key FILE]
 *		-- SERVER-COMMAND [ARGS...] < SCRIPT
 *	cmtp_play --ca FILE [--name HOST] [--cert FILE --key FILE]
 *		--connect HOST:PORT < SCRIPT
 * DESCRIPTION
 *	Starts SERVER-COMMAND with its standard input and output on one end
 *	of a socketpair (as Postfix spawn(8) or inetd would) and plays the
 *	script against it, no network involved; or, with --connect, plays
 *	it against a server listening on HOST:PORT. With --cert and --key
 *	the TLS handshakes present that client certificate (a Cmail peer
 *	server in mutual TLS). Script lines:
 * .IP "> TEXT"
 *	send TEXT and CRLF; "@{FILE}" in TEXT is replaced by the content of
 *	FILE with line breaks removed (a base64 DEPO argument).
 * .IP "< CODE [REGEX]"
 *	read one reply; its code must be CODE and, when given, one of its
 *	lines must match the extended regular expression REGEX.
 * .IP "= CODE [REGEX]"
 *	check the last reply again (no read), as "<" does.
 * .IP "send-if CODE FILE"
 *	read one reply; when its code is CODE, send FILE (already
 *	dot-stuffed and terminated) and read the next reply. Either way the
 *	reply read last is checked by a following "=" line (a server may
 *	refuse a SEND EVLP at once or only after the data).
 * .IP "save LABEL FILE"
 *	decode the base64 object LABEL of the last reply into FILE.
 * .IP "tls"
 *	TLS handshake as a client, server verified against --ca and --name.
 * .IP "send FILE"
 *	send FILE as it is (a DATA body, already dot-stuffed).
 * .IP "! COMMAND"
 *	run COMMAND with bash -c; it must exit 0.
 * .IP "eof"
 *	expect the server to close the connection.
 * .IP "hangup"
 *	close our side and wait for the server to exit.
 * .PP
 *	Lines starting with # and empty lines are ignored. The first failed
 *	expectation ends the run with exit status 1 and a line
 *	"cmtp_play: line N: ..." saying what was expected and what came.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cm_log.h"
#include "cm_connect.h"
#include "cm_stream.h"
#include "cm_reply.h"
#include "cm_tls.h"

static int lineno;

/* die - report a failed step */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "cmtp_play: line %d: ", lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* expand - replace @{FILE} by the file's content without line breaks */
static char *expand(const char *text)
{
    const char *at = strstr(text, "@{");
    const char *end;
    char    path[1024];
    FILE   *fp;
    char   *out;
    size_t  cap, len;
    int     c;

    if (at == 0 || (end = strchr(at, '}')) == 0)
	return (strdup(text));
    snprintf(path, sizeof(path), "%.*s", (int) (end - at - 2), at + 2);
    if ((fp = fopen(path, "r")) == 0)
	die("open %s: %s", path, strerror(errno));
    cap = strlen(text) + 1024;
    out = malloc(cap);
    len = (size_t) (at - text);
    memcpy(out, text, len);
    while ((c = getc(fp)) != EOF) {
	if (c == '\r' || c == '\n')
	    continue;
	if (len + 2 >= cap)
	    out = realloc(out, cap *= 2);
	out[len++] = (char) c;
    }
    fclose(fp);
    out = realloc(out, len + strlen(end + 1) + 1);
    strcpy(out + len, end + 1);
    return (out);
}

/* check_reply - the last reply must have the code and match the regex */
static void check_reply(const CM_REPLY *last, int code, const char *re)
{
    size_t  k;
    int     matched = 0;

    if (last->code != code)
	die("expected %d, got %d %s", code, last->code,
	    last->nlines ? last->lines[last->nlines - 1] : "");
    if (re) {
	regex_t rx;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
	    die("bad regex");
	for (k = 0; k < last->nlines && !matched; k++)
	    matched = regexec(&rx, last->lines[k], 0, 0, 0) == 0;
	regfree(&rx);
	if (!matched)
	    die("reply %d does not match /%s/: last line '%s'", code, re,
		last->nlines ? last->lines[last->nlines - 1] : "");
    }
}

/* send_file - send a file as it is */
static void send_file(CM_STREAM *st, const char *path)
{
    FILE   *fp = fopen(path, "r");
    char    buf[8192];
    size_t  k;

    if (fp == 0)
	die("open %s", path);
    while ((k = fread(buf, 1, sizeof(buf), fp)) > 0)
	if (cm_stream_write(st, buf, k) < 0)
	    die("cannot send: connection closed");
    fclose(fp);
    if (cm_stream_flush(st) < 0)
	die("cannot send: connection closed");
}

#define USAGE	"usage: cmtp_play --ca FILE [--name HOST] [--cert FILE --key FILE] " \
		"{-- COMMAND [ARGS...] | --connect HOST:PORT} < SCRIPT"

int     main(int argc, char **argv)
{
    const char *ca = 0, *name = "mail.example.org";
    const char *cert = 0, *key = 0, *connect_to = 0;
    int     sv[2];
    pid_t   pid = -1;
    CM_STREAM *st;
    CM_REPLY last;
    char   *line = 0;
    size_t  cap = 0;
    ssize_t n;
    int     i, status;
    char    err[512];

    cm_log_init("cmtp_play", CM_LOG_STDERR);
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
	if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
	    ca = argv[++i];
	else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
	    name = argv[++i];
	else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc)
	    cert = argv[++i];
	else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
	    key = argv[++i];
	else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
	    connect_to = argv[++i];
	else
	    msg_fatal(USAGE);
    }
    if (ca == 0 || (cert == 0) != (key == 0)
	|| (connect_to ? i < argc : i + 1 >= argc))
	msg_fatal(USAGE);
    signal(SIGPIPE, SIG_IGN);
    if (connect_to) {
	if ((sv[0] = cm_connect(connect_to, 10, err, sizeof(err))) < 0)
	    msg_fatal("connect %s: %s", connect_to, err);
    } else {
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
	    msg_fatal("socketpair: %m");
	if ((pid = fork()) < 0)
	    msg_fatal("fork: %m");
	if (pid == 0) {
	    close(sv[0]);
	    dup2(sv[1], 0);
	    dup2(sv[1], 1);
	    close(sv[1]);
	    execv(argv[i + 1], argv + i + 1);
	    _exit(127);
	}
	close(sv[1]);
    }
    st = cm_stream_open(sv[0], sv[0], 30);
    memset(&last, 0, sizeof(last));
    while ((n = getline(&line, &cap, stdin)) >= 0) {
	lineno++;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
	    line[--n] = 0;
	if (n == 0 || line[0] == '#')
	    continue;
	if (strncmp(line, "> ", 2) == 0) {
	    char   *text = expand(line + 2);

	    if (cm_stream_write(st, text, strlen(text)) < 0 || cm_stream_write(st, "\r\n", 2) < 0
		|| cm_stream_flush(st) < 0)
		die("cannot send: connection closed");
	    free(text);
	} else if (strncmp(line, "< ", 2) == 0) {
	    int     code = atoi(line + 2);
	    const char *re = strchr(line + 2, ' ');

	    cm_reply_free(&last);
	    if (cm_reply_read(st, &last) < 0)
		die("expected %d, got no reply (connection closed or malformed)", code);
	    check_reply(&last, code, re ? re + 1 : 0);
	} else if (strncmp(line, "= ", 2) == 0) {
	    const char *re = strchr(line + 2, ' ');

	    check_reply(&last, atoi(line + 2), re ? re + 1 : 0);
	} else if (strncmp(line, "send-if ", 8) == 0) {
	    int     code = atoi(line + 8);
	    const char *path = strchr(line + 8, ' ');

	    if (path == 0)
		die("usage: send-if CODE FILE");
	    cm_reply_free(&last);
	    if (cm_reply_read(st, &last) < 0)
		die("expected a reply, got none (connection closed or malformed)");
	    if (last.code == code) {
		send_file(st, path + 1);
		cm_reply_free(&last);
		if (cm_reply_read(st, &last) < 0)
		    die("expected a reply after the data, got none");
	    }
	} else if (strncmp(line, "save ", 5) == 0) {
	    char    label[128], path[1024];
	    unsigned char *obj;
	    size_t  len;
	    FILE   *fp;

	    if (sscanf(line + 5, "%127s %1023s", label, path) != 2)
		die("usage: save LABEL FILE");
	    if ((obj = cm_reply_get_object(&last, label, &len)) == 0)
		die("no %s object in the last reply", label);
	    if ((fp = fopen(path, "w")) == 0 || fwrite(obj, 1, len, fp) != len || fclose(fp) != 0)
		die("write %s", path);
	    free(obj);
	} else if (strcmp(line, "tls") == 0) {
	    SSL_CTX *ctx = cm_tls_client_ctx(ca, cert, key, err, sizeof(err));

	    if (ctx == 0 || cm_stream_starttls(st, ctx, 0, name, err, sizeof(err)) < 0)
		die("TLS: %s", err);
	    SSL_CTX_free(ctx);
	} else if (strncmp(line, "send ", 5) == 0) {
	    send_file(st, line + 5);
	} else if (strncmp(line, "! ", 2) == 0) {
	    pid_t   cpid;
	    int     rc;

	    fflush(stdout);
	    if ((cpid = fork()) == 0) {
		close(sv[0]);
		execl("/bin/bash", "bash", "-c", line + 2, (char *) 0);
		_exit(127);
	    }
	    if (cpid < 0 || waitpid(cpid, &rc, 0) < 0 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
		die("command failed: %s", line + 2);
	} else if (strcmp(line, "eof") == 0) {
	    char    buf[1024];
	    int     tl;

	    if (cm_stream_getline(st, buf, sizeof(buf), &tl) >= 0)
		die("expected the connection to close, got '%s'", buf);
	} else if (strcmp(line, "hangup") == 0) {
	    shutdown(sv[0], SHUT_RDWR);
	} else {
	    die("unknown script line '%s'", line);
	}
    }
    free(line);
    cm_reply_free(&last);
    cm_stream_close(st);
    shutdown(sv[0], SHUT_WR);
    if (pid < 0)
	return (0);
    if (waitpid(pid, &status, 0) < 0)
	msg_fatal("waitpid: %m");
    if (WIFSIGNALED(status))
	die("server killed by signal %d", WTERMSIG(status));
    return (0);
}
