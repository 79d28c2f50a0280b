/*++
 * NAME
 *	bytes 1
 * SUMMARY
 *	per-byte cost of large certified messages (issue 8): a driver
 * SYNOPSIS
 *	bytes sf-write MB OUT
 *	bytes sf-extract IN
 *	bytes mime-write MB OUT
 *	bytes mime-extract IN
 *	bytes mime-decrypt IN
 * DESCRIPTION
 *	A benchmark aid, not a test and not installed. Each command runs
 *	one library function on a large input, so that callgrind (or perf
 *	stat) can count its instructions alone:
 * .nf
 *	sf-write	cm_storedform_write() of a random sealed blob of MB MiB
 *	sf-extract	cm_storedform_extract() of IN (the milter, the relay,
 *			the POP3 plugin)
 *	mime-write	cm_envelope_mime_write() of MB MiB of text (cmail send)
 *	mime-extract	cm_envelope_mime_extract() of IN without output file
 *			(cmtpd: CipheredEnvelopeHash)
 *	mime-decrypt	cm_envelope_mime_decrypt() of IN (cmail fetch)
 * .fi
 *	The ENVELOPE key is fixed (32 bytes of 0x42): test data only.
 *
 *	Build (after make) and measure, e.g.:
 * .nf
 *	cc -O2 -g -I. -Icommon -I/usr/include/libxml2 bench/bytes.c \
 *	    common/.libs/libcmail.a -lxmlsec1-openssl -lxmlsec1 -lxslt \
 *	    -lxml2 -lsqlite3 -lssl -lcrypto -o /tmp/bytes
 *	/tmp/bytes sf-write 1 /tmp/sf1
 *	valgrind --tool=callgrind --toggle-collect=cm_storedform_extract \
 *	    /tmp/bytes sf-extract /tmp/sf1
 * .fi
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_limits.h"
#include "cm_headers.h"
#include "cm_storedform.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"

static const unsigned char bench_key[CM_ENVELOPE_KEY_LEN] = {
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
};

/* usage - complain and exit */
static void usage(void)
{
    fprintf(stderr, "usage: bytes sf-write MB OUT | sf-extract IN | mime-write MB OUT\n"
	    "       | mime-extract IN | mime-decrypt IN\n");
    exit(2);
}

/* input - MB MiB of pseudo-random bytes (text: printable lines) in a temporary file */
static FILE *input(long mb, int text)
{
    FILE   *fp = tmpfile();
    unsigned long x = 88172645463325252UL;
    long    i;

    if (fp == 0)
	return (0);
    for (i = 0; i < mb * 1024 * 1024; i++) {
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	if (text)
	    putc(i % 72 == 71 ? '\n' : ' ' + (int) (x % 95), fp);
	else
	    putc((int) (x & 0xff), fp);
    }
    if (fflush(fp) != 0 || fseek(fp, 0, SEEK_SET) != 0) {
	fclose(fp);
	return (0);
    }
    return (fp);
}

/* main - one command */
int     main(int argc, char **argv)
{
    char    err[512];
    char    id[CM_ENVELOPE_ID_MAX + 1];
    FILE   *in = 0, *out = 0;
    int     ret = -1;

    if (argc < 3)
	usage();
    if (strcmp(argv[1], "sf-write") == 0 || strcmp(argv[1], "mime-write") == 0) {
	int     mime = argv[1][0] == 'm';

	if (argc != 4)
	    usage();
	if ((in = input(atol(argv[2]), mime)) == 0 || (out = fopen(argv[3], "w")) == 0) {
	    perror("bytes");
	    return (1);
	}
	if (mime) {
	    CM_ENVELOPE_HEADERS hdr = {
		"alice@example.org", "bob@example.org", 0, "Thu, 01 Jan 2026 00:00:00 +0000",
		"<bench@example.org>", "bench",
	    };

	    ret = cm_envelope_mime_write(out, &hdr, in, bench_key, 0, err, sizeof(err));
	} else {
	    CM_HEADERS h;
	    CM_STORED_INFO info;
	    static char hdrs[] = "From: alice@example.org\r\nTo: bob@example.org\r\n"
		"Subject: bench\r\n\r\n";
	    FILE   *hf = fmemopen(hdrs, strlen(hdrs), "r");

	    if (hf == 0 || cm_headers_read(hf, &h, err, sizeof(err)) < 0) {
		fprintf(stderr, "bytes: headers: %s\n", err);
		return (1);
	    }
	    fclose(hf);
	    info.headers = &h;
	    info.envelope_id = "20260101T000000Z.0011223344556677";
	    info.sender = "alice@example.org";
	    info.server = "mail.example.org";
	    info.date = "Thu, 01 Jan 2026 00:00:00 +0000";
	    ret = cm_storedform_write(out, &info, in, err, sizeof(err));
	    cm_headers_free(&h);
	}
    } else {
	if (argc != 3)
	    usage();
	if ((in = fopen(argv[2], "r")) == 0 || (out = tmpfile()) == 0) {
	    perror("bytes");
	    return (1);
	}
	if (strcmp(argv[1], "sf-extract") == 0)
	    ret = cm_storedform_extract(in, id, sizeof(id), out, err, sizeof(err));
	else if (strcmp(argv[1], "mime-extract") == 0)
	    ret = cm_envelope_mime_extract(in, 0, 0, 0, err, sizeof(err));
	else if (strcmp(argv[1], "mime-decrypt") == 0)
	    ret = cm_envelope_mime_decrypt(in, out, bench_key, CM_ENVELOPE_AES256_GCM, 0, 0,
					   err, sizeof(err));
	else
	    usage();
	if (ret == 0)
	    printf("%s: %ld bytes out\n", argv[1], ftell(out));
    }
    if (ret < 0)
	fprintf(stderr, "bytes: %s: %s\n", argv[1], err);
    fclose(in);
    if (out && fclose(out) != 0)
	ret = -1;
    return (ret < 0 ? 1 : 0);
}
