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
 * DESCRIPTION
 *	Lets test/shell/crypto_openssl.sh check our code against the
 *	openssl command. KEYFILE holds exactly 32 raw key bytes.
 *
 *	encrypt and decrypt stream through the file interface and print
 *	"plain <base64 SHA-256>", "cipher <base64 SHA-256>" and
 *	"maxrss_kb <peak resident set size>". decrypt writes to OUT.tmp
 *	and renames it to OUT only after the tag (or padding) checked
 *	out, removing it otherwise, as cm_envelope(3) asks callers to.
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
#include "cm_keywrap.h"
#include "cm_challenge.h"

/* usage - print the synopsis and exit 2 */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr, "usage: crypto_tool number | answer NUMBER KEYFILE [OID]"
	    " | compare EXPECTED SUBMITTED | wrap CERT KEYFILE"
	    " | unwrap KEY ALG B64FILE OUT | encrypt KEYFILE IN OUT"
	    " | decrypt KEYFILE ALG IN OUT\n");
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
    char    tmp[4096];
    FILE   *in, *out;
    int     ret;

    read_key(keyfile, key);
    if (alg_name && cm_envelope_alg_from_name(alg_name, &alg) < 0)
	die(alg_name, "unknown algorithm");
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", out_path) >= (int) sizeof(tmp))
	die(out_path, "name too long");
    if ((in = fopen(in_path, "rb")) == 0)
	die(in_path, "cannot open");
    if ((out = fopen(encrypt ? out_path : tmp, "wb")) == 0)
	die(out_path, "cannot create");
    ret = (encrypt ? cm_envelope_encrypt_file(in, out, key, &d, err, sizeof(err))
	   : cm_envelope_decrypt_file(in, out, key, alg, &d, err, sizeof(err)));
    OPENSSL_cleanse(key, sizeof(key));
    fclose(in);
    if (fclose(out) != 0 && ret == 0) {
	ret = -1;
	snprintf(err, sizeof(err), "write error");
    }
    if (ret < 0) {
	remove(encrypt ? out_path : tmp);
	die(encrypt ? "encrypt" : "decrypt", err);
    }
    if (!encrypt && rename(tmp, out_path) != 0)
	die(out_path, "cannot rename");
    report(&d);
    return (0);
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
    usage();
}
