#ifndef CM_ADDR_H
#define CM_ADDR_H
/*++
 * NAME
 *	cm_addr 3h
 * SUMMARY
 *	mail addresses: syntax, SMTP paths, comparison, local domains
 * SYNOPSIS
 *	#include "cm_addr.h"
 *
 *	int	cm_addr_valid(const char *addr);
 *	int	cm_addr_parse_path(const char *arg, char *addr, size_t size,
 *				const char **params);
 *	const char *cm_addr_domain(const char *addr);
 *	int	cm_addr_equal(const char *a, const char *b);
 *	int	cm_domain_listed(const char *domain, const char *list);
 * DESCRIPTION
 *	cm_addr_valid() accepts local@domain with a dot-atom local part of
 *	at most 64 characters (RFC 5322 atext and dots, no leading,
 *	trailing or double dot) and a domain of LDH labels, at most
 *	CM_ADDRESS_MAX characters in all. Quoted local parts, address
 *	literals and non-ASCII are refused: the address also names
 *	certificate files. Returns 1 when valid.
 *
 *	cm_addr_parse_path() parses the argument of MAIL FROM / RCPT TO /
 *	CHCK RCPT as the Recommendation writes it ("<a@b>") and as RFC
 *	5321 does (":<a@b>"), with blanks allowed before '<'. It copies the
 *	address into addr, points *params at what follows '>' (blanks
 *	skipped), and returns 0; -1 on a syntax error or an invalid address.
 *
 *	cm_addr_equal() compares local parts exactly and domains without
 *	regard to case. cm_domain_listed() looks a domain up in a list
 *	separated by blanks or commas, case-insensitively.
 *--*/
#include <stddef.h>

extern int cm_addr_valid(const char *addr);
extern int cm_addr_parse_path(const char *arg, char *addr, size_t size, const char **params);
extern const char *cm_addr_domain(const char *addr);
extern int cm_addr_equal(const char *a, const char *b);
extern int cm_domain_listed(const char *domain, const char *list);

#endif
