#ifndef CM_DAEMON_H
#define CM_DAEMON_H
/*++
 * NAME
 *	cm_daemon 3h
 * SUMMARY
 *	become a background daemon
 * SYNOPSIS
 *	#include "cm_daemon.h"
 *
 *	void	cm_daemon_detach(void);
 * DESCRIPTION
 *	Forks twice with setsid() in between (no controlling terminal can be
 *	acquired again), changes to /, and points standard input, output and
 *	error at /dev/null. The parents exit; failures are fatal (EX_OSERR).
 *	Used by cmail-notary and cmail-milter unless run with -f.
 *--*/

extern void cm_daemon_detach(void);

#endif
