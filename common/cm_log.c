/*++
 * NAME
 *	cm_log 3
 * SUMMARY
 *	diagnostics to stderr and syslog, Postfix style
 * DESCRIPTION
 *	See cm_log.h. The program name defaults to "cmail" until
 *	cm_log_init() is called.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>

#include "cm_log.h"

static const char *log_progname = "cmail";
static int log_flags = CM_LOG_STDERR;
static int log_quiet;
static FILE *log_fp;

/* cm_log_init - set program name and destinations */
void cm_log_init(const char *progname, int flags)
{
    const char *slash = strrchr(progname, '/');

    log_progname = slash ? slash + 1 : progname;
    log_flags = flags;
    if (flags & CM_LOG_SYSLOG)
	openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* cm_log_file - also log to a file */
int     cm_log_file(const char *path)
{
    FILE   *fp = fopen(path, "a");

    if (fp == 0)
	return (-1);
    setvbuf(fp, 0, _IOLBF, 0);
    if (log_fp)
	fclose(log_fp);
    log_fp = fp;
    return (0);
}

/* cm_log_quiet - suppress info lines on stderr */
void cm_log_quiet(int quiet)
{
    log_quiet = quiet;
}

/* cm_log_progname - the name messages carry */
const char *cm_log_progname(void)
{
    return (log_progname);
}

/* log_emit - one message to every destination */
static void log_emit(int level, const char *tag, const char *fmt, va_list ap)
{
    char    buf[2048];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    if ((log_flags & CM_LOG_STDERR) && !(level == LOG_INFO && log_quiet)) {
	if (tag)
	    fprintf(stderr, "%s: %s: %s\n", log_progname, tag, buf);
	else
	    fprintf(stderr, "%s: %s\n", log_progname, buf);
	fflush(stderr);
    }
    if (log_fp) {
	time_t  now = time(0);
	struct tm tm;
	char    stamp[32];

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	fprintf(log_fp, "%s %s[%ld]: %s%s%s\n", stamp, log_progname, (long) getpid(),
		tag ? tag : "", tag ? ": " : "", buf);
    }
    if (log_flags & CM_LOG_SYSLOG) {
	if (tag)
	    syslog(level, "%s: %s", tag, buf);
	else
	    syslog(level, "%s", buf);
    }
}

/* msg_info - informational message */
void msg_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_INFO, (const char *) 0, fmt, ap);
    va_end(ap);
}

/* msg_warn - report a problem and carry on */
void msg_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_WARNING, "warning", fmt, ap);
    va_end(ap);
}

/* msg_fatal_status - bad environment or configuration: exit with status */
void msg_fatal_status(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, "fatal", fmt, ap);
    va_end(ap);
    exit(status);
}

/* msg_fatal - bad environment or configuration: exit 1 */
void msg_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, "fatal", fmt, ap);
    va_end(ap);
    exit(1);
}

/* msg_panic - broken invariant: abort for a core */
void msg_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, "panic", fmt, ap);
    va_end(ap);
    abort();
}

/* cm_ssl_errors - OpenSSL's error queue as text, queue cleared */
const char *cm_ssl_errors(char *buf, size_t len)
{
    unsigned long e;
    size_t  used = 0;

    if (len == 0)
	return (buf);
    buf[0] = 0;
    while ((e = ERR_get_error()) != 0 && used + 1 < len) {
	char    one[256];

	ERR_error_string_n(e, one, sizeof(one));
	used += (size_t) snprintf(buf + used, len - used, "%s%s", used ? "; " : "", one);
    }
    ERR_clear_error();
    if (buf[0] == 0)
	snprintf(buf, len, "no OpenSSL error detail");
    return (buf);
}
