/*++
 * NAME
 *	cm_daemon 3
 * SUMMARY
 *	detach from the terminal, as the Cmail daemons do without -f
 * DESCRIPTION
 *	See cm_daemon.h.
 *--*/
#include "config.h"
#include <fcntl.h>
#include <unistd.h>
#include <sysexits.h>

#include "cm_log.h"
#include "cm_daemon.h"

/* cm_daemon_detach - double fork, new session, stdio on /dev/null */
void    cm_daemon_detach(void)
{
    pid_t   pid;
    int     fd;

    if ((pid = fork()) < 0)
	msg_fatal_status(EX_OSERR, "fork: %m");
    if (pid > 0)
	_exit(0);
    if (setsid() < 0)
	msg_fatal_status(EX_OSERR, "setsid: %m");
    if ((pid = fork()) < 0)
	msg_fatal_status(EX_OSERR, "fork: %m");
    if (pid > 0)
	_exit(0);
    if (chdir("/") < 0)
	msg_fatal_status(EX_OSERR, "chdir /: %m");
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
	    close(fd);
    }
}
