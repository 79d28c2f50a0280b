/*++
 * NAME
 *	crypto_tool 1
 * SUMMARY
 *	test-only driver of cm_envelope, cm_keywrap and cm_challenge
 * SYNOPSIS
 *	crypto_tool number
 *	crypto_tool answer NUMBER KEYFILE [OID]
 *	crypto_tool compare EXPECTED SUBMITTED
 *	crypto_tool wrap CERT.pem KEYFILE
 *	crypto_tool unwrap KEY.pem ALG B64FILE OUTFILE
 *	crypto_tool encrypt KEYFILE IN OUT
 *	crypto_tool decrypt KEYFILE ALG IN OUT
 *	crypto_tool mime-write KEYFILE IN OUT FROM TO DATE MSGID SUBJECT
 *	crypto_tool mime-decrypt KEYFILE ALG IN OUT
 *	crypto_tool mime-extract IN OUT
 * DESCRIPTION
 *	Lets test/shell/crypto_openssl.sh check our code against the
 *	openssl command. KEYFILE holds exactly 32 raw key bytes.
 *
 *	encrypt and decrypt stream through the file interface and print
 *	"plain <base64 SHA-256>", "cipher <base64 SHA-256>" and
 *	"maxrss_kb <peak resident set size>". Output goes to a temporary
 *	file (cm_envelope_tmp_open) renamed to OUT only after the tag (or
 *	padding) checked out, removed otherwise, as cm_envelope(3) asks.
 *
 *	mime-write writes an ENVELOPE MIME message (cm_envelope_mime) and
 *	also prints "mime <base64 SHA-256>"; mime-decrypt (same temporary
 *	file rule) prints the clear Subject as "subject <text>";
 *	mime-extract writes the decoded ciphertext and prints its digest.
 *
 *	Exit status 0 on success, 1 on failure (reason on stderr), 2 on
 *	a usage error. Not installed.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <openssl/crypto.h>

#include "cm_log.h"
#include "cm_pem.h"
#include "cm_envelope.h"
#include "cm_envelope_mime.h"
#include "cm_keywrap.h"
#include "cm_challenge.h"

/* usage - print the synopsis and exit 2 */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr, "usage: crypto_tool number | answer NUMBER KEYFILE [OID]"
	    " | compare EXPECTED SUBMITTED | wrap CERT KEYFILE"
	    " | unwrap KEY ALG B64FILE OUT | encrypt KEYFILE IN OUT"
	    " | decrypt KEYFILE ALG IN OUT"
	    " | mime-write KEYFILE IN OUT FROM TO DATE MSGID SUBJECT"
	    " | mime-decrypt KEYFILE ALG IN OUT | mime-extract IN OUT\n");
    exit(2);
}

/* die - reason on stderr, exit 1 */
static void __attribute__((noreturn)) die(const char *what, const char *why)
{
    fprintf(stderr, "crypto_tool: %s: %s\n", what, why);
    exit(1);
}

/* read_key - exactly 32 raw bytes */
static void read_key(const char *path, unsigned char *key)
{
    FILE   *fp = fopen(path, "rb");
    unsigned char extra;

    if (fp == 0)
	die(path, "cannot open");
    if (fread(key, 1, 32, fp) != 32 || fread(&extra, 1, 1, fp) != 0)
	die(path, "key file must hold exactly 32 bytes");
    fclose(fp);
}

/* read_text - small text file into a malloc()ed string */
static char *read_text(const char *path, size_t max)
{
    FILE   *fp = fopen(path, "rb");
    char   *buf = malloc(max + 1);
    size_t  n;

    if (fp == 0 || buf == 0)
	die(path, "cannot open");
    n = fread(buf, 1, max, fp);
    if (!feof(fp) && fgetc(fp) != EOF)
	die(path, "file too large");
    buf[n] = 0;
    fclose(fp);
    return (buf);
}

/* write_raw - bytes to a file */
static void write_raw(const char *path, const unsigned char *data, size_t len)
{
    FILE   *fp = fopen(path, "wb");

    if (fp == 0 || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
	die(path, "cannot write");
}

/* report - digests and peak memory */
static void report(const CM_ENVELOPE_DIGESTS *d)
{
    struct rusage ru;

    printf("plain %s\ncipher %s\n", d->plain_b64, d->cipher_b64);
    printf("plain_len %llu\ncipher_len %llu\n",
	   (unsigned long long) d->plain_len, (unsigned long long) d->cipher_len);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
	printf("maxrss_kb %ld\n", ru.ru_maxrss);
}

/* do_crypt - encrypt or decrypt a file */
static int do_crypt(int encrypt, const char *keyfile, const char *alg_name,
		            const char *in_path, const char *out_path)
{
    unsigned char key[32];
    CM_ENVELOPE_ALG alg = CM_ENVELOPE_AES256_GCM;
    CM_ENVELOPE_DIGESTS d;
    char    err[256];
    char    err2[256];
    char    tmp[4096];
    FILE   *in, *out;
    int     ret;

    read_key(keyfile, key);
    if (alg_name && cm_envelope_alg_from_name(alg_name, &alg) < 0)
	die(alg_name, "unknown algorithm");
    if ((in = fopen(in_path, "rb")) == 0)
	die(in_path, "cannot open");
    if ((out = cm_envelope_tmp_open(out_path, tmp, sizeof(tmp), err, sizeof(err))) == 0)
	die(out_path, err);
    ret = (encrypt ? cm_envelope_encrypt_file(in, out, key, &d, err, sizeof(err))
	   : cm_envelope_decrypt_file(in, out, key, alg, &d, err, sizeof(err)));
    OPENSSL_cleanse(key, sizeof(key));
    fclose(in);
    if (cm_envelope_tmp_commit(out, tmp, out_path, ret == 0, err2, sizeof(err2)) < 0)
	die(out_path, err2);
    if (ret < 0)
	die(encrypt ? "encrypt" : "decrypt", err);
    report(&d);
    return (0);
}

/* do_mime - ENVELOPE MIME message commands */
static int do_mime(int argc, char **argv)
{
    unsigned char key[32];
    CM_ENVELOPE_ALG alg = CM_ENVELOPE_AES256_GCM;
    CM_ENVELOPE_DIGESTS d;
    CM_HEADERS clear;
    char    err[256];
    char    tmp[4096];
    FILE   *in, *out;
    int     ret;

    if (strcmp(argv[1], "mime-write") == 0 && argc == 10) {
	CM_ENVELOPE_HEADERS h = {argv[5], argv[6], 0, argv[7], argv[8], argv[9]};
	CM_ENVELOPE_MIME_DIGESTS dm;

	read_key(argv[2], key);
	if ((in = fopen(argv[3], "rb")) == 0 || (out = fopen(argv[4], "wb")) == 0)
	    die(argv[3], "cannot open input or output");
	ret = cm_envelope_mime_write(out, &h, in, key, &dm, err, sizeof(err));
	fclose(in);
	if (fclose(out) != 0 || ret < 0) {
	    remove(argv[4]);
	    die("mime-write", ret < 0 ? err : "write error");
	}
	report(&dm.envelope);
	printf("mime %s\nmime_len %llu\n", dm.mime_b64, (unsigned long long) dm.mime_len);
	return (0);
    }
    if (strcmp(argv[1], "mime-decrypt") == 0 && argc == 6) {
	char    err2[256];

	read_key(argv[2], key);
	if (cm_envelope_alg_from_name(argv[3], &alg) < 0)
	    die(argv[3], "unknown algorithm");
	if ((in = fopen(argv[4], "rb")) == 0)
	    die(argv[4], "cannot open");
	if ((out = cm_envelope_tmp_open(argv[5], tmp, sizeof(tmp), err, sizeof(err))) == 0)
	    die(argv[5], err);
	ret = cm_envelope_mime_decrypt(in, out, key, alg, &clear, &d, err, sizeof(err));
	OPENSSL_cleanse(key, sizeof(key));
	fclose(in);
	if (cm_envelope_tmp_commit(out, tmp, argv[5], ret == 0, err2, sizeof(err2)) < 0) {
	    cm_headers_free(&clear);
	    die(argv[5], err2);
	}
	if (ret < 0) {
	    cm_headers_free(&clear);
	    die("mime-decrypt", err);
	}
	report(&d);
	printf("subject %s\n", cm_headers_get(&clear, "Subject") ?
	       cm_headers_get(&clear, "Subject") : "");
	cm_headers_free(&clear);
	return (0);
    }
    if (strcmp(argv[1], "mime-extract") == 0 && argc == 4) {
	if ((in = fopen(argv[2], "rb")) == 0 || (out = fopen(argv[3], "wb")) == 0)
	    die(argv[2], "cannot open input or output");
	ret = cm_envelope_mime_extract(in, out, 0, &d, err, sizeof(err));
	fclose(in);
	if (fclose(out) != 0 || ret < 0)
	    die("mime-extract", ret < 0 ? err : "write error");
	printf("cipher %s\ncipher_len %llu\n", d.cipher_b64, (unsigned long long) d.cipher_len);
	return (0);
    }
    usage();
}

int     main(int argc, char **argv)
{
    unsigned char key[32];
    char    err[256];

    cm_log_init("crypto_tool", CM_LOG_STDERR);
    if (argc < 2)
	usage();
    if (strcmp(argv[1], "number") == 0 && argc == 2) {
	char   *n = cm_challenge_number_new();

	if (n == 0)
	    die("number", "random generator failed");
	printf("%s\n", n);
	free(n);
	return (0);
    }
    if (strcmp(argv[1], "answer") == 0 && (argc == 4 || argc == 5)) {
	char   *a;

	read_key(argv[3], key);
	a = (argc == 5 ? cm_challenge_answer_oid(argv[4], argv[2], key)
	     : cm_challenge_answer(CM_HASH_SHA256, argv[2], key));
	if (a == 0)
	    die("answer", "bad number or algorithm");
	printf("%s\n", a);
	free(a);
	return (0);
    }
    if (strcmp(argv[1], "compare") == 0 && argc == 4)
	return (cm_challenge_answer_equal(argv[2], argv[3]) ? 0 : 1);
    if (strcmp(argv[1], "wrap") == 0 && argc == 4) {
	X509   *cert = cm_pem_read_cert(argv[2], err, sizeof(err));
	char   *w;

	if (cert == 0)
	    die(argv[2], err);
	read_key(argv[3], key);
	if ((w = cm_keywrap_wrap_cert(cert, key, err, sizeof(err))) == 0)
	    die("wrap", err);
	printf("%s\n", w);
	free(w);
	X509_free(cert);
	return (0);
    }
    if (strcmp(argv[1], "unwrap") == 0 && argc == 6) {
	EVP_PKEY *pkey = cm_pem_read_key(argv[2], err, sizeof(err));
	char   *b64;

	if (pkey == 0)
	    die(argv[2], err);
	b64 = read_text(argv[4], CM_KEYWRAP_B64_MAX);
	if (cm_keywrap_unwrap(pkey, argv[3], b64, strlen(b64), key, err, sizeof(err)) < 0)
	    die("unwrap", err);
	write_raw(argv[5], key, sizeof(key));
	free(b64);
	EVP_PKEY_free(pkey);
	return (0);
    }
    if (strcmp(argv[1], "encrypt") == 0 && argc == 5)
	return (do_crypt(1, argv[2], 0, argv[3], argv[4]));
    if (strcmp(argv[1], "decrypt") == 0 && argc == 6)
	return (do_crypt(0, argv[2], argv[3], argv[4], argv[5]));
    if (strncmp(argv[1], "mime-", 5) == 0)
	return (do_mime(argc, argv));
    usage();
}
