/*++
 * NAME
 *	fuzz_seeds 1
 * SUMMARY
 *	write the generated seed corpora of the fuzz targets
 * SYNOPSIS
 *	fuzz_seeds OUTDIR
 * DESCRIPTION
 *	Makes, with the project's own writers, one small valid input per
 *	format so that the fuzzers start past the first checks: OUTDIR/seal
 *	(a blob sealed with FUZZ_SEAL_KEY_HEX), OUTDIR/stored (a container
 *	and a stored form), OUTDIR/mime (an ENVELOPE encrypted with
 *	FUZZ_ENVELOPE_KEY), OUTDIR/notary (one frame of each request type
 *	and a reply), OUTDIR/cpop (server transcripts), OUTDIR/cmtp (client
 *	sessions) and OUTDIR/cert (base64 text). The directories must
 *	exist. Certificates, CRLs and signed notices come from the test
 *	PKI and test/tools/notice_tool (fuzz/run.sh). No private key is
 *	written. Exit status 0, or 1 on any failure.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_seal.h"
#include "cm_container.h"
#include "cm_storedform.h"
#include "cm_headers.h"
#include "cm_envelope_mime.h"
#include "cm_notary.h"
#include "cm_base64.h"
#include "fuzz_common.h"

static const char *outdir;
static int failed;

/* put - write one seed file */
static void put(const char *sub, const char *name, const void *data, size_t len)
{
    char    path[4096];
    FILE   *fp;

    snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
    if ((fp = fopen(path, "w")) == 0 || fwrite(data, 1, len, fp) != len || fclose(fp) != 0) {
	fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
	failed = 1;
    }
}

/* put_file - write the contents of a stream as a seed */
static void put_file(const char *sub, const char *name, FILE *fp)
{
    char   *buf;
    long    len;

    if (fflush(fp) != 0 || fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0
	|| fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t) len + 1)) == 0) {
	failed = 1;
	return;
    }
    if (fread(buf, 1, (size_t) len, fp) != (size_t) len)
	failed = 1;
    else
	put(sub, name, buf, (size_t) len);
    free(buf);
    rewind(fp);
}

/* put_str - a text seed */
static void put_str(const char *sub, const char *name, const char *text)
{
    put(sub, name, text, strlen(text));
}

/* fail - report and remember a failure */
static void fail(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_seeds: %s: %s\n", what, err);
    failed = 1;
}

static const char notice[] =
    "<DepositNotice xmlns=\"http://www.itu.int/xml-namespace/itu-t/x.1341/x-cmail-notices\">"
    "<EnvelopeID>" FUZZ_ENVELOPE_ID "</EnvelopeID></DepositNotice>";

static const char plain[] = "Subject: hello\r\n\r\nHello, Bob.\r\n";

/* session_with - a CMTP session that deposits the ENVELOPE in env */
static void session_with(FILE *env)
{
    static const char head[] =
	"\1EHLO c.example.org\r\nCELO c.example.org\r\nDELV CertifiedMail\r\n"
	"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n";
    static const char tail[] = ".\r\nDEPO PERlcG9zaXQvPg==\r\nQUIT\r\n";
    FILE   *fp = tmpfile();
    int     ch;

    if (fp == 0) {
	failed = 1;
	return;
    }
    fwrite(head, 1, sizeof(head) - 1, fp);
    rewind(env);
    while ((ch = getc(env)) != EOF)
	putc(ch, fp);
    fwrite(tail, 1, sizeof(tail) - 1, fp);
    put_file("cmtp", "deposit", fp);
    fclose(fp);
    rewind(env);
}

/* storage - container, seal, stored form, ENVELOPE */
static void storage(void)
{
    FILE   *env = tmpfile(), *cfp = tmpfile(), *sfp = tmpfile(), *sf = tmpfile();
    FILE   *pfp = tmpfile();
    CM_SEAL_KEY key;
    CM_SEAL_STATS st;
    CM_HEADERS hdrs;
    CM_STORED_INFO info;
    CM_ENVELOPE_HEADERS eh;
    CM_ENVELOPE_MIME_DIGESTS d;
    char    err[512];

    memset(&hdrs, 0, sizeof(hdrs));
    if (!env || !cfp || !sfp || !sf || !pfp) {
	fail("tmpfile", "cannot create");
	return;
    }
    /* The ENVELOPE. */
    memset(&eh, 0, sizeof(eh));
    eh.from = "alice@example.org";
    eh.to = "bob@example.org";
    eh.date = "Wed, 25 Nov 2026 08:00:00 +0000";
    eh.message_id = "<1@example.org>";
    eh.subject = "test";
    fputs(plain, pfp);
    rewind(pfp);
    if (cm_envelope_mime_write(env, &eh, pfp, (const unsigned char *) FUZZ_ENVELOPE_KEY, &d,
			       err, sizeof(err)) < 0) {
	fail("envelope", err);
	goto done;
    }
    put_file("mime", "envelope-gcm", env);
    session_with(env);
    /* Container, seal, stored form. */
    if (cm_container_write(cfp, FUZZ_ENVELOPE_ID, notice, strlen(notice), env, err, sizeof(err)) < 0) {
	fail("container", err);
	goto done;
    }
    put_file("stored", "container", cfp);
    if (cm_seal_key_parse(FUZZ_SEAL_KEY_HEX, strlen(FUZZ_SEAL_KEY_HEX), &key, err, sizeof(err)) < 0
	|| cm_seal_stream(&key, FUZZ_ENVELOPE_ID, fileno(cfp), fileno(sfp), 10000, 0, &st,
			  err, sizeof(err)) < 0) {
	fail("seal", err);
	goto done;
    }
    cm_seal_key_clear(&key);
    if (lseek(fileno(sfp), 0, SEEK_SET) != 0)
	failed = 1;
    put_file("seal", "sealed", sfp);
    rewind(env);
    if (cm_headers_read(env, &hdrs, err, sizeof(err)) < 0) {
	fail("headers", err);
	goto done;
    }
    memset(&info, 0, sizeof(info));
    info.headers = &hdrs;
    info.envelope_id = FUZZ_ENVELOPE_ID;
    info.sender = "alice@example.org";
    info.server = "mail.example.org";
    info.date = "Wed, 25 Nov 2026 08:00:00 +0000";
    if (cm_storedform_write(sf, &info, sfp, err, sizeof(err)) < 0) {
	fail("stored form", err);
	goto done;
    }
    put_file("stored", "stored-form", sf);
done:
    cm_headers_free(&hdrs);
    fclose(env);
    fclose(cfp);
    fclose(sfp);
    fclose(sf);
    fclose(pfp);
}

/* frame - one notary frame as a seed */
static void frame(const char *name, int type, const char *const *strs, const int *tags, int n)
{
    CM_NOTARY_OUT o;
    int     i;

    cm_notary_out_init(&o, type, 7);
    for (i = 0; i < n; i++)
	cm_notary_out_str(&o, tags[i], strs[i]);
    if (o.failed)
	failed = 1;
    else
	put("notary", name, o.buf, o.len);
    cm_notary_out_free(&o);
}

/* notary - one frame per request type */
static void notary(void)
{
    const char *sign[] = {"postmark", notice};
    const int sign_t[] = {CM_NF_PLACE, CM_NF_NOTICE};
    const char *seal[] = {FUZZ_ENVELOPE_ID};
    const int seal_t[] = {CM_NF_ENVELOPE_ID};
    const char *rec[] = {FUZZ_ENVELOPE_ID, "deposited", "size=10", "rcpt=bob@example.org"};
    const int rec_t[] = {CM_NF_ENVELOPE_ID, CM_NF_EVENT, CM_NF_DETAIL, CM_NF_DETAIL};
    const char *rcp[] = {FUZZ_ENVELOPE_ID, "bob@example.org"};
    const int rcp_t[] = {CM_NF_ENVELOPE_ID, CM_NF_ADDRESS};
    const char *ans[] = {FUZZ_ENVELOPE_ID, "bob@example.org", notice};
    const int ans_t[] = {CM_NF_ENVELOPE_ID, CM_NF_ADDRESS, CM_NF_NOTICE};
    const char *err[] = {"no such envelope", "p"};
    const int err_t[] = {CM_NF_ERROR, CM_NF_CODE};
    const char *pong[] = {"0123456789abcdef", "1.0"};
    const int pong_t[] = {CM_NF_KEY_ID, CM_NF_VERSION};

    frame("ping", CM_NOTARY_PING, 0, 0, 0);
    frame("sign", CM_NOTARY_SIGN, sign, sign_t, 2);
    frame("seal", CM_NOTARY_SEAL, seal, seal_t, 1);
    frame("unseal", CM_NOTARY_UNSEAL, seal, seal_t, 1);
    frame("record", CM_NOTARY_RECORD, rec, rec_t, 4);
    frame("receipt", CM_NOTARY_RECEIPT, rcp, rcp_t, 2);
    frame("answer", CM_NOTARY_ANSWER, ans, ans_t, 3);
    frame("lookup", CM_NOTARY_LOOKUP, seal, seal_t, 1);
    frame("error", CM_NOTARY_ERROR, err, err_t, 2);
    frame("pong", CM_NOTARY_PING | CM_NOTARY_REPLY, pong, pong_t, 2);
}

static const char plain_session[] =
    "\0EHLO client.example.org\r\nNOOP\r\nHELP\r\nSTARTTLS\r\n";

/* transcripts - CPOP/CMTP server replies, CMTP client sessions */
static void transcripts(void)
{
    char   *b64 = cm_base64_encode((const unsigned char *) notice, strlen(notice), 76);
    char    buf[8192], *p, *line;
    size_t  off;

    put_str("cpop", "capa", "+OK\r\nUSER\r\nCMAIL CertifiedMail\r\nUIDL\r\n.\r\n");
    put_str("cpop", "list", "+OK 2 messages\r\n1 120\r\n2 4000 CertifiedMail\r\n.\r\n");
    put_str("cpop", "ehlo", "250-mail.example.org\r\n250-STARTTLS\r\n250 DeliveryType CertifiedMail\r\n");
    if (b64) {
	off = (size_t) snprintf(buf, sizeof(buf), "250-DepositNotice\r\n");
	for (line = b64; (p = strchr(line, '\n')) != 0 && off < sizeof(buf) - 100; line = p + 1)
	    off += (size_t) snprintf(buf + off, sizeof(buf) - off, "250-%.*s\r\n", (int) (p - line), line);
	snprintf(buf + off, sizeof(buf) - off, "250 OK\r\n");
	put_str("cpop", "deposit-notice", buf);
	snprintf(buf, sizeof(buf), "%c%s", 0, b64);
	put("cert", "base64", buf, strlen(b64) + 1);
	free(b64);
    }
    put("cmtp", "plain", plain_session, sizeof(plain_session) - 1);
    put_str("cmtp", "session",
	    "\x01" "EHLO client.example.org\r\nCELO client.example.org\r\nDELV CertifiedMail\r\n"
	    "MAIL FROM:<alice@example.org> CertificateRequested\r\n"
	    "RCPT TO:<bob@example.org> CertificateRequested\r\n"
	    "RCPT TO:<carol@example.org>\r\nRCPT TO:<x@remote.example>\r\n"
	    "DATA\r\nFrom: alice@example.org\r\nTo: bob@example.org\r\n\r\nhi\r\n..dot\r\n.\r\n"
	    "DEPO PERlcG9zaXQvPg==\r\nRSET\r\nCHCK\r\nQUIT\r\n");
}

int     main(int argc, char **argv)
{
    if (argc != 2) {
	fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
	return (2);
    }
    outdir = argv[1];
    fuzz_init("fuzz_seeds");
    storage();
    notary();
    transcripts();
    return (failed);
}
