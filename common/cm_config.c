/*++
 * NAME
 *	cm_config 3
 * SUMMARY
 *	parse cmail.conf against one table of known parameters
 * DESCRIPTION
 *	See cm_config.h. The table below is the single list of parameters;
 *	doc/cmail.conf.5 describes each. Values are kept as validated
 *	strings and converted by the typed getters.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ctype.h>
#include <strings.h>
#include <limits.h>

#include "cm_limits.h"
#include "cm_log.h"
#include "cm_config.h"

#ifndef CMAIL_SYSCONFDIR
#define CMAIL_SYSCONFDIR "/etc/cmail"
#endif

typedef enum {
    CF_STRING, CF_PATH, CF_INT, CF_SIZE, CF_BOOL, CF_HOSTPORT,
} CF_TYPE;

typedef struct {
    const char *name;
    CF_TYPE type;
    const char *def;
} CF_KEY;

/* The parameters, their types and defaults (keep doc/cmail.conf.5 in step). */
static const CF_KEY cf_keys[] = {
    {"myhostname", CF_STRING, ""},
    {"local_domains", CF_STRING, ""},
    {"server_certificate", CF_PATH, CMAIL_SYSCONFDIR "/server.pem"},
    {"server_key", CF_PATH, CMAIL_SYSCONFDIR "/private/server.key"},
    {"seal_key", CF_PATH, CMAIL_SYSCONFDIR "/private/seal.key"},
    {"seal_key_previous", CF_STRING, ""},
    {"tls_certificate", CF_PATH, CMAIL_SYSCONFDIR "/tls.pem"},
    {"tls_key", CF_PATH, CMAIL_SYSCONFDIR "/tls/tls.key"},
    {"trust_anchors", CF_PATH, CMAIL_SYSCONFDIR "/trust-anchors.pem"},
    {"crl_directory", CF_PATH, CMAIL_SYSCONFDIR "/crl"},
    {"certificate_directory", CF_PATH, CMAIL_SYSCONFDIR "/certs"},
    {"notary_socket", CF_PATH, "/run/cmail/notary.sock"},
    {"notary_user", CF_STRING, "cmail"},
    {"notary_threads", CF_INT, "2"},
    {"notary_allowed_users", CF_STRING, ""},
    {"evidence_database", CF_PATH, "/var/lib/cmail/evidence.db"},
    {"spool_directory", CF_PATH, "/var/spool/cmail"},
    {"message_size_limit", CF_SIZE, "52428800"},
    {"recipient_limit", CF_INT, "100"},
    {"injection_address", CF_HOSTPORT, "127.0.0.1:10026"},
    {"relay_injection_address", CF_HOSTPORT, "127.0.0.1:10027"},
    {"cmail_relay_map", CF_STRING, ""},
    {"cmtp_port", CF_INT, "10587"},
    {"relay_lifetime", CF_INT, "417600"},
    {"notice_submission_address", CF_HOSTPORT, "127.0.0.1:25"},
    {"milter_socket", CF_HOSTPORT, "unix:/run/cmail/milter.sock"},
    {"milter_injection_name", CF_STRING, "cmail-inject"},
    {"milter_socket_mode", CF_STRING, "0660"},
    {"smtp_timeout", CF_INT, "300"},
    {"session_time_limit", CF_INT, "3600"},
    {"schema_directory", CF_STRING, ""},
    {"verbose", CF_BOOL, "no"},
    {0, 0, 0},
};

#define CF_NKEYS (sizeof(cf_keys) / sizeof(cf_keys[0]) - 1)

struct CM_CONFIG {
    char   *value[CF_NKEYS];		/* NULL = default */
    int     line[CF_NKEYS];		/* where it was set */
};

/* cf_find - table index of a key, -1 if unknown */
static int cf_find(const char *name)
{
    size_t  i;

    for (i = 0; i < CF_NKEYS; i++)
	if (strcmp(cf_keys[i].name, name) == 0)
	    return ((int) i);
    return (-1);
}

/* cf_size - parse a size with optional k/m/g suffix */
static int cf_size(const char *s, long long *out)
{
    char   *end;
    unsigned long long v;
    unsigned long long mul = 1;

    if (!isdigit((unsigned char) *s))
	return (-1);
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
	return (-1);
    if (*end && end[1] == 0) {
	switch (tolower((unsigned char) *end)) {
	case 'k':
	    mul = 1024ULL;
	    break;
	case 'm':
	    mul = 1024ULL * 1024;
	    break;
	case 'g':
	    mul = 1024ULL * 1024 * 1024;
	    break;
	default:
	    return (-1);
	}
    } else if (*end) {
	return (-1);
    }
    if (v > (unsigned long long) LLONG_MAX / mul)
	return (-1);
    *out = (long long) (v * mul);
    return (0);
}

/* cf_check - validate a value for its type, reason in why */
static int cf_check(CF_TYPE type, const char *v, const char **why)
{
    long long n;
    const char *colon;

    switch (type) {
    case CF_STRING:
	return (0);
    case CF_PATH:
	if (*v != '/') {
	    *why = "must be an absolute path";
	    return (-1);
	}
	return (0);
    case CF_INT:
	if (strspn(v, "0123456789") != strlen(v) || *v == 0 || strlen(v) > 12) {
	    *why = "must be a decimal number";
	    return (-1);
	}
	return (0);
    case CF_SIZE:
	if (cf_size(v, &n) < 0) {
	    *why = "must be a size in bytes (optional k, m or g suffix)";
	    return (-1);
	}
	return (0);
    case CF_BOOL:
	if (strcasecmp(v, "yes") && strcasecmp(v, "no") && strcasecmp(v, "true")
	    && strcasecmp(v, "false") && strcmp(v, "1") && strcmp(v, "0")
	    && strcasecmp(v, "on") && strcasecmp(v, "off")) {
	    *why = "must be yes or no";
	    return (-1);
	}
	return (0);
    case CF_HOSTPORT:
	if (strncmp(v, "unix:/", 6) == 0)
	    return (0);
	if ((colon = strrchr(v, ':')) == 0 || colon == v || colon[1] == 0
	    || strspn(colon + 1, "0123456789") != strlen(colon + 1)
	    || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535) {
	    *why = "must be host:port or unix:/path";
	    return (-1);
	}
	return (0);
    }
    *why = "unknown type";
    return (-1);
}

/* cf_trim - strip leading and trailing blanks in place */
static char *cf_trim(char *s)
{
    char   *e;

    while (*s == ' ' || *s == '\t')
	s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
	*--e = 0;
    return (s);
}

/* cm_config_parse - parse text; name is used in error messages */
CM_CONFIG *cm_config_parse(const char *text, size_t len, const char *name,
			           char *err, size_t errlen)
{
    CM_CONFIG *cf = calloc(1, sizeof(*cf));
    const char *p = text;
    const char *end = text + len;
    int     lineno = 0;
    char    line[CM_CONFIG_LINE_MAX + 1];

    if (cf == 0) {
	snprintf(err, errlen, "out of memory");
	return (0);
    }
    while (p < end) {
	const char *nl = memchr(p, '\n', (size_t) (end - p));
	size_t  n = nl ? (size_t) (nl - p) : (size_t) (end - p);
	char   *s, *eq, *key, *val;
	const char *why = 0;
	int     k;

	lineno++;
	if (n > CM_CONFIG_LINE_MAX) {
	    snprintf(err, errlen, "%s, line %d: line longer than %d characters",
		     name, lineno, CM_CONFIG_LINE_MAX);
	    goto fail;
	}
	memcpy(line, p, n);
	line[n] = 0;
	p += n + (nl ? 1 : 0);
	if (memchr(line, 0, n) != 0) {
	    snprintf(err, errlen, "%s, line %d: NUL character", name, lineno);
	    goto fail;
	}
	s = cf_trim(line);
	if (*s == 0 || *s == '#')
	    continue;
	if ((eq = strchr(s, '=')) == 0) {
	    snprintf(err, errlen, "%s, line %d: expected 'parameter = value'", name, lineno);
	    goto fail;
	}
	*eq = 0;
	key = cf_trim(s);
	val = cf_trim(eq + 1);
	if ((k = cf_find(key)) < 0) {
	    snprintf(err, errlen, "%s, line %d: unknown parameter '%.64s'", name, lineno, key);
	    goto fail;
	}
	if (cf->value[k]) {
	    snprintf(err, errlen, "%s, line %d: parameter '%s' already set on line %d",
		     name, lineno, key, cf->line[k]);
	    goto fail;
	}
	if (cf_check(cf_keys[k].type, val, &why) < 0) {
	    snprintf(err, errlen, "%s, line %d: bad value '%.64s' for %s: %s",
		     name, lineno, val, key, why);
	    goto fail;
	}
	if ((cf->value[k] = strdup(val)) == 0) {
	    snprintf(err, errlen, "out of memory");
	    goto fail;
	}
	cf->line[k] = lineno;
    }
    return (cf);
fail:
    cm_config_free(cf);
    return (0);
}

/* cm_config_load - read and parse a file; NULL path = defaults */
CM_CONFIG *cm_config_load(const char *path, char *err, size_t errlen)
{
    FILE   *fp;
    char   *buf;
    size_t  len = 0;
    size_t  cap = 1 << 16;
    size_t  n;
    CM_CONFIG *cf;

    if (path == 0)
	return (cm_config_parse("", 0, "(defaults)", err, errlen));
    if ((fp = fopen(path, "r")) == 0) {
	snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	return (0);
    }
    if ((buf = malloc(cap)) == 0) {
	fclose(fp);
	snprintf(err, errlen, "out of memory");
	return (0);
    }
    while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
	len += n;
	if (len == cap) {
	    snprintf(err, errlen, "%s: file larger than %zu bytes", path, cap);
	    free(buf);
	    fclose(fp);
	    return (0);
	}
    }
    if (ferror(fp)) {
	snprintf(err, errlen, "read %s: %s", path, strerror(errno));
	free(buf);
	fclose(fp);
	return (0);
    }
    fclose(fp);
    cf = cm_config_parse(buf, len, path, err, errlen);
    free(buf);
    return (cf);
}

/* cf_get - value or default of a known key */
static const char *cf_get(const CM_CONFIG *cf, const char *key, CF_TYPE *type)
{
    int     k = cf_find(key);

    if (k < 0)
	msg_panic("cm_config: unknown parameter '%s' requested", key);
    if (type)
	*type = cf_keys[k].type;
    return (cf->value[k] ? cf->value[k] : cf_keys[k].def);
}

/* cm_config_str - string value */
const char *cm_config_str(const CM_CONFIG *cf, const char *key)
{
    return (cf_get(cf, key, 0));
}

/* cm_config_int - int or size value */
long long cm_config_int(const CM_CONFIG *cf, const char *key)
{
    CF_TYPE type;
    const char *v = cf_get(cf, key, &type);
    long long n = 0;

    if (type == CF_SIZE) {
	if (cf_size(v, &n) < 0)
	    msg_panic("cm_config: bad default for %s", key);
	return (n);
    }
    if (type != CF_INT)
	msg_panic("cm_config: %s is not a number", key);
    return (strtoll(v, 0, 10));
}

/* cm_config_bool - bool value */
int     cm_config_bool(const CM_CONFIG *cf, const char *key)
{
    CF_TYPE type;
    const char *v = cf_get(cf, key, &type);

    if (type != CF_BOOL)
	msg_panic("cm_config: %s is not a boolean", key);
    return (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0
	    || strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0);
}

/* cm_config_is_set - was the key given in the file */
int     cm_config_is_set(const CM_CONFIG *cf, const char *key)
{
    int     k = cf_find(key);

    if (k < 0)
	msg_panic("cm_config: unknown parameter '%s' requested", key);
    return (cf->value[k] != 0);
}

/* cm_config_free - release */
void    cm_config_free(CM_CONFIG *cf)
{
    size_t  i;

    if (cf == 0)
	return;
    for (i = 0; i < CF_NKEYS; i++)
	free(cf->value[i]);
    free(cf);
}

/* cm_config_default_path - $CMAIL_CONFIG or the installed file */
const char *cm_config_default_path(void)
{
    const char *env = getenv("CMAIL_CONFIG");

    return (env && *env ? env : CMAIL_SYSCONFDIR "/cmail.conf");
}

/* cm_config_print - "key = value" lines, like postconf */
void    cm_config_print(const CM_CONFIG *cf, FILE *fp, int only_set)
{
    size_t  i;

    for (i = 0; i < CF_NKEYS; i++)
	if (!only_set || cf->value[i])
	    fprintf(fp, "%s = %s\n", cf_keys[i].name,
		    cf->value[i] ? cf->value[i] : cf_keys[i].def);
}
