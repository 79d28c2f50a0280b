/*++
 * NAME
 *	storedform_tool 1
 * SUMMARY
 *	test-only maker of Cmail stored forms
 * SYNOPSIS
 *	storedform_tool make --envelope-id ID --notice FILE --envelope FILE
 *		--from ADDR (--notary SOCKET | --seal-key FILE) OUT
 *	storedform_tool genkey FILE
 * DESCRIPTION
 *	make writes the stored form cmtpd would submit to Postfix, with
 *	the project's own code: cm_container_write() (the notice FILE and
 *	the ENVELOPE FILE, an RFC 5322 message), sealed either by a running
 *	cmail-notary (--notary: cm_notary_seal()) or locally under the seal
 *	key in FILE (--seal-key: cm_seal_stream(), e.g. a key that is not
 *	the notary's, to make a forgery), then cm_storedform_write() into
 *	OUT with CRLF line ends. genkey writes a new seal key
 *	(cm_seal_key_generate()). Exit status 0, 1 on failure, 2 on a
 *	usage error. Not installed.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cm_log.h"
#include "cm_headers.h"
#include "cm_container.h"
#include "cm_storedform.h"
#include "cm_seal.h"
#include "cm_notary.h"

/* usage - complain and exit */
static void usage(void)
{
    fprintf(stderr, "usage: storedform_tool make --envelope-id ID --notice FILE --envelope FILE\n"
	    "           --from ADDR (--notary SOCKET | --seal-key FILE) OUT\n"
	    "       storedform_tool genkey FILE\n");
    exit(2);
}

/* slurp - read a whole (small) file */
static char *slurp(const char *path, size_t *len)
{
    FILE   *fp = fopen(path, "r");
    char   *buf = 0;
    long    n;

    if (fp == 0 || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0
	|| fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t) n + 1)) == 0
	|| fread(buf, 1, (size_t) n, fp) != (size_t) n) {
	free(buf);
	if (fp)
	    fclose(fp);
	return (0);
    }
    buf[n] = 0;
    *len = (size_t) n;
    fclose(fp);
    return (buf);
}

/* make - container, seal, stored form */
static int make(int argc, char **argv)
{
    const char *id = 0, *notice_path = 0, *env_path = 0, *from = 0, *sock = 0, *keyf = 0;
    const char *out_path;
    char   *notice = 0;
    size_t  notice_len = 0;
    FILE   *env = 0, *cfp = 0, *sfp = 0, *out = 0;
    CM_NOTARY *nc = 0;
    CM_SEAL_KEY key;
    CM_SEAL_STATS st;
    CM_HEADERS hdrs;
    CM_STORED_INFO info;
    char    err[1024];
    int     i, ret = 1;

    memset(&hdrs, 0, sizeof(hdrs));
    for (i = 2; i + 1 < argc; i += 2) {
	if (strcmp(argv[i], "--envelope-id") == 0)
	    id = argv[i + 1];
	else if (strcmp(argv[i], "--notice") == 0)
	    notice_path = argv[i + 1];
	else if (strcmp(argv[i], "--envelope") == 0)
	    env_path = argv[i + 1];
	else if (strcmp(argv[i], "--from") == 0)
	    from = argv[i + 1];
	else if (strcmp(argv[i], "--notary") == 0)
	    sock = argv[i + 1];
	else if (strcmp(argv[i], "--seal-key") == 0)
	    keyf = argv[i + 1];
	else
	    usage();
    }
    if (i != argc - 1 || !id || !notice_path || !env_path || !from || (!sock == !keyf))
	usage();
    out_path = argv[i];
    if ((notice = slurp(notice_path, &notice_len)) == 0) {
	fprintf(stderr, "storedform_tool: cannot read %s\n", notice_path);
	goto done;
    }
    if ((env = fopen(env_path, "r")) == 0 || (cfp = tmpfile()) == 0 || (sfp = tmpfile()) == 0) {
	fprintf(stderr, "storedform_tool: %s: %s\n", env_path, strerror(errno));
	goto done;
    }
    if (cm_container_write(cfp, id, notice, notice_len, env, err, sizeof(err)) < 0
	|| fflush(cfp) != 0) {
	fprintf(stderr, "storedform_tool: container: %s\n", err);
	goto done;
    }
    if (lseek(fileno(cfp), 0, SEEK_SET) != 0)
	goto done;
    if (sock) {
	if ((nc = cm_notary_connect(sock, 10000, err, sizeof(err))) == 0
	    || cm_notary_seal(nc, id, fileno(cfp), fileno(sfp), &st, err, sizeof(err)) < 0) {
	    fprintf(stderr, "storedform_tool: %s\n", err);
	    goto done;
	}
    } else {
	if (cm_seal_key_load(keyf, &key, err, sizeof(err)) < 0
	    || cm_seal_stream(&key, id, fileno(cfp), fileno(sfp), 10000, 0, &st,
			      err, sizeof(err)) < 0) {
	    cm_seal_key_clear(&key);
	    fprintf(stderr, "storedform_tool: %s\n", err);
	    goto done;
	}
	cm_seal_key_clear(&key);
    }
    if (lseek(fileno(sfp), 0, SEEK_SET) != 0 || fseek(sfp, 0, SEEK_SET) != 0)
	goto done;
    rewind(env);
    if (cm_headers_read(env, &hdrs, err, sizeof(err)) < 0) {
	fprintf(stderr, "storedform_tool: envelope headers: %s\n", err);
	goto done;
    }
    info.headers = &hdrs;
    info.envelope_id = id;
    info.sender = from;
    info.server = "mail.example.org";
    info.date = "Wed, 25 Nov 2026 08:00:00 +0000";
    if ((out = fopen(out_path, "w")) == 0
	|| cm_storedform_write(out, &info, sfp, err, sizeof(err)) < 0) {
	fprintf(stderr, "storedform_tool: %s: %s\n", out_path, out ? err : strerror(errno));
	goto done;
    }
    if (fclose(out) != 0) {
	out = 0;
	fprintf(stderr, "storedform_tool: write error on %s\n", out_path);
	goto done;
    }
    out = 0;
    ret = 0;
done:
    cm_headers_free(&hdrs);
    cm_notary_close(nc);
    free(notice);
    if (env)
	fclose(env);
    if (cfp)
	fclose(cfp);
    if (sfp)
	fclose(sfp);
    if (out)
	fclose(out);
    return (ret);
}

/* main - dispatch make or genkey */
int     main(int argc, char **argv)
{
    char    err[512];

    cm_log_init("storedform_tool", CM_LOG_STDERR);
    if (argc < 2)
	usage();
    if (strcmp(argv[1], "make") == 0)
	return (make(argc, argv));
    if (strcmp(argv[1], "genkey") == 0 && argc == 3) {
	if (cm_seal_key_generate(argv[2], err, sizeof(err)) < 0) {
	    fprintf(stderr, "storedform_tool: %s\n", err);
	    return (1);
	}
	return (0);
    }
    usage();
}
