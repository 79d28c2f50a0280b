#ifndef CMAIL_H
#define CMAIL_H
/*++
 * NAME
 *	cmail 1h
 * SUMMARY
 *	subcommands of the cmail command
 * DESCRIPTION
 *	Each subcommand is int cmd_NAME(int argc, char **argv) with argv[0]
 *	the subcommand name. Exit codes: 0 success, 1 the thing checked is
 *	invalid or the operation failed, 2 usage error (CMAIL_EX_USAGE).
 *--*/
#define CMAIL_EX_OK	0
#define CMAIL_EX_FAIL	1
#define CMAIL_EX_USAGE	2

extern int cmd_pki(int argc, char **argv);
extern int cmd_cert(int argc, char **argv);
extern int cmd_verify(int argc, char **argv);
extern int cmd_evidence(int argc, char **argv);
extern int cmd_send(int argc, char **argv);
extern int cmd_fetch(int argc, char **argv);
extern int cmd_checkconfig(int argc, char **argv);

#endif
