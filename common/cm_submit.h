#ifndef CM_SUBMIT_H
#define CM_SUBMIT_H
/*++
 * NAME
 *	cm_submit 3h
 * SUMMARY
 *	hand a message to a Postfix smtpd listener over SMTP
 * SYNOPSIS
 *	#include "cm_submit.h"
 * DESCRIPTION
 *	See cm_submit.c.
 *--*/
#include <stdio.h>
#include <stddef.h>

extern int cm_submit(const char *address, int timeout, const char *helo,
		             const char *sender, char *const *rcpts, size_t nrcpt,
		             FILE *fp, char *queue_id, size_t qlen, int *temporary,
		             char *err, size_t errlen);

#endif
