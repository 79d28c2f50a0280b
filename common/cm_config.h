#ifndef CM_CONFIG_H
#define CM_CONFIG_H
/*++
 * NAME
 *	cm_config 3h
 * SUMMARY
 *	the cmail.conf parser shared by every program
 * SYNOPSIS
 *	#include "cm_config.h"
 *
 *	CM_CONFIG *cm_config_load(const char *path, char *err, size_t errlen);
 *	CM_CONFIG *cm_config_parse(const char *text, size_t len,
 *				const char *name, char *err, size_t errlen);
 *	const char *cm_config_str(const CM_CONFIG *cf, const char *key);
 *	long long cm_config_int(const CM_CONFIG *cf, const char *key);
 *	int	cm_config_bool(const CM_CONFIG *cf, const char *key);
 *	int	cm_config_is_set(const CM_CONFIG *cf, const char *key);
 *	void	cm_config_free(CM_CONFIG *cf);
 *	const char *cm_config_default_path(void);
 *	void	cm_config_print(const CM_CONFIG *cf, FILE *fp, int only_set);
 * DESCRIPTION
 *	cmail.conf holds "key = value" lines; blank lines and lines whose
 *	first non-blank character is '#' are ignored, as in Postfix's
 *	main.cf. Every key is declared in one table (cm_config.c) with its
 *	type and default; an unknown key, a value of the wrong type, a
 *	duplicate key, a line without '=' or a line longer than
 *	CM_CONFIG_LINE_MAX is an error naming file and line, e.g.
 *	"/etc/cmail/cmail.conf, line 7: unknown parameter 'tls_keyfile'".
 *
 *	Types: string; path (absolute); int (decimal, >= 0); size (bytes,
 *	with an optional k, m or g suffix); bool (yes/no, true/false, 1/0,
 *	on/off); hostport (host:port or [ipv6]:port, or unix:/path).
 *
 *	cm_config_load(NULL, ...) gives the defaults. Getters panic on a
 *	key that is not in the table (a programming error).
 *	cm_config_default_path() is $CMAIL_CONFIG or /etc/cmail/cmail.conf.
 *--*/
#include <stdio.h>
#include <stddef.h>

typedef struct CM_CONFIG CM_CONFIG;

extern CM_CONFIG *cm_config_load(const char *path, char *err, size_t errlen);
extern CM_CONFIG *cm_config_parse(const char *text, size_t len, const char *name,
				          char *err, size_t errlen);
extern const char *cm_config_str(const CM_CONFIG *cf, const char *key);
extern long long cm_config_int(const CM_CONFIG *cf, const char *key);
extern int cm_config_bool(const CM_CONFIG *cf, const char *key);
extern int cm_config_is_set(const CM_CONFIG *cf, const char *key);
extern void cm_config_free(CM_CONFIG *cf);
extern const char *cm_config_default_path(void);
extern void cm_config_print(const CM_CONFIG *cf, FILE *fp, int only_set);

#endif
