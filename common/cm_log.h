#ifndef CM_LOG_H
#define CM_LOG_H
/*++
 * NAME
 *	cm_log 3h
 * SUMMARY
 *	one logging layer for every Cmail program
 * SYNOPSIS
 *	#include "cm_log.h"
 *
 *	void	cm_log_init(const char *progname, int flags);
 *	void	msg_info(const char *fmt, ...);
 *	void	msg_warn(const char *fmt, ...);
 *	void	msg_fatal(const char *fmt, ...);
 *	void	msg_panic(const char *fmt, ...);
 * DESCRIPTION
 *	Postfix-style diagnostics. msg_info() and msg_warn() report;
 *	msg_fatal() is for a bad environment or configuration and exits
 *	with status 1 (EX_ value via msg_fatal_status); msg_panic() is
 *	for a broken invariant and aborts for a core dump.
 *
 *	Messages go to stderr ("progname: warning: text") and, with
 *	CM_LOG_SYSLOG, to syslog(3) facility mail, as Postfix does.
 *	cm_log_quiet() suppresses info lines on stderr (the client).
 *	cm_log_file() also appends every message, with a time stamp and
 *	the process id, to a file (tests, and hosts without syslog).
 *--*/
#include <stdarg.h>
#include <stddef.h>

#define CM_LOG_STDERR	(1 << 0)
#define CM_LOG_SYSLOG	(1 << 1)

extern void cm_log_init(const char *progname, int flags);
extern void cm_log_quiet(int quiet);
extern int cm_log_file(const char *path);
extern const char *cm_log_progname(void);
extern void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern void msg_fatal_status(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
extern void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
extern void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* cm_ssl_errors - append OpenSSL's error queue to buf, clear the queue */
extern const char *cm_ssl_errors(char *buf, size_t len);

#endif
