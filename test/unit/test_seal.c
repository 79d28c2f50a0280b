/*++
 * NAME
 *	test_seal 1
 * SUMMARY
 *	unit tests of cm_seal: the sealed stored-form blob
 * DESCRIPTION
 *	Round trips through files (1 MB and empty), the clear header,
 *	and every refusal: another seal key, a forged key id, another
 *	envelope id (asked for, or edited into the header), a flipped byte
 *	in IV, ciphertext or tag, truncated blobs. Seal key files: parse,
 *	generate (mode 0600, no overwrite). A reader that stalls times out.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/rand.h>

#include "cm_seal.h"

#define PLAIN_LEN	(1024 * 1024 + 17)

static char dir[64];
static char path_plain[128], path_blob[128], path_out[128], path_key[128];
static unsigned char *plain;
static CM_SEAL_KEY key_a, key_b;

/* write_file - whole buffer to path */
static void write_file(const char *path, const void *data, size_t len)
{
    FILE   *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* read_file - whole file, malloc()ed */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE   *fp = fopen(path, "rb");
    struct stat st;
    unsigned char *buf;

    assert_non_null(fp);
    assert_int_equal(fstat(fileno(fp), &st), 0);
    buf = malloc((size_t) st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t) st.st_size, fp), (size_t) st.st_size);
    fclose(fp);
    *len = (size_t) st.st_size;
    return (buf);
}

/* do_seal - seal path_plain (len bytes of plain) into path_blob */
static void do_seal(const CM_SEAL_KEY *key, const char *id, size_t len)
{
    CM_SEAL_STATS st;
    char    err[256];
    int     in, out;

    write_file(path_plain, plain, len);
    in = open(path_plain, O_RDONLY);
    out = open(path_blob, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(in >= 0 && out >= 0);
    assert_int_equal(cm_seal_stream(key, id, in, out, 5000, 0, &st, err, sizeof(err)), 0);
    assert_int_equal(st.in_bytes, len);
    assert_int_equal(st.out_bytes, 7 + 16 + 1 + strlen(id) + 12 + len + 16);
    close(in);
    close(out);
}

/* do_unseal - unseal path_blob into path_out; the return value, err filled */
static int do_unseal(const CM_SEAL_KEY *key, const char *id, char *err, size_t errlen)
{
    int     in = open(path_blob, O_RDONLY);
    int     out = open(path_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int     ret;

    assert_true(in >= 0 && out >= 0);
    err[0] = 0;
    ret = cm_unseal_stream(key, id, in, out, 5000, 0, 0, err, errlen);
    close(in);
    close(out);
    return (ret);
}

/* patch_blob - overwrite bytes of path_blob at offset (negative: from the end) */
static void patch_blob(long off, const void *data, size_t len)
{
    size_t  blen;
    unsigned char *b = read_file(path_blob, &blen);

    if (off < 0)
	off += (long) blen;
    assert_true(off >= 0 && (size_t) off + len <= blen);
    memcpy(b + off, data, len);
    write_file(path_blob, b, blen);
    free(b);
}

/* truncate_blob - keep the first len bytes */
static void truncate_blob(size_t len)
{
    assert_int_equal(truncate(path_blob, (off_t) len), 0);
}

static int setup(void **state)
{
    char    err[256];
    unsigned char raw[32];
    char    hex[65];
    int     i;

    snprintf(dir, sizeof(dir), "/tmp/test_seal.XXXXXX");
    if (mkdtemp(dir) == 0)
	return (-1);
    snprintf(path_plain, sizeof(path_plain), "%s/plain", dir);
    snprintf(path_blob, sizeof(path_blob), "%s/blob", dir);
    snprintf(path_out, sizeof(path_out), "%s/out", dir);
    snprintf(path_key, sizeof(path_key), "%s/seal.key", dir);
    if ((plain = malloc(PLAIN_LEN)) == 0 || RAND_bytes(plain, PLAIN_LEN) != 1)
	return (-1);
    for (i = 0; i < 32; i++)
	raw[i] = (unsigned char) i;
    for (i = 0; i < 32; i++)
	snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    if (cm_seal_key_parse(hex, 64, &key_a, err, sizeof(err)) < 0)
	return (-1);
    hex[0] = 'f';
    if (cm_seal_key_parse(hex, 64, &key_b, err, sizeof(err)) < 0)
	return (-1);
    return (0);
}

static int teardown(void **state)
{
    unlink(path_plain);
    unlink(path_blob);
    unlink(path_out);
    unlink(path_key);
    rmdir(dir);
    free(plain);
    return (0);
}

/* test_roundtrip - 1 MB through seal and unseal, same bytes back */
static void test_roundtrip(void **state)
{
    char    err[256];
    unsigned char *out;
    size_t  len;

    do_seal(&key_a, "env-1.a@example.org", PLAIN_LEN);
    assert_int_equal(do_unseal(&key_a, "env-1.a@example.org", err, sizeof(err)), 0);
    out = read_file(path_out, &len);
    assert_int_equal(len, PLAIN_LEN);
    assert_memory_equal(out, plain, PLAIN_LEN);
    free(out);
    /* NULL envelope id: accept whatever the blob names. */
    assert_int_equal(do_unseal(&key_a, 0, err, sizeof(err)), 0);
}

/* test_empty - an empty plaintext seals and unseals */
static void test_empty(void **state)
{
    char    err[256];
    size_t  len;
    unsigned char *out;

    do_seal(&key_a, "E", 0);
    assert_int_equal(do_unseal(&key_a, "E", err, sizeof(err)), 0);
    out = read_file(path_out, &len);
    assert_int_equal(len, 0);
    free(out);
}

/* test_header - magic, key id and envelope id in the clear; ciphertext is not plaintext */
static void test_header(void **state)
{
    char    kid[CM_SEAL_KEY_ID_LEN + 1], eid[CM_ENVELOPE_ID_MAX + 1];
    unsigned char *b;
    size_t  len;

    do_seal(&key_a, "ABC123", 4096);
    b = read_file(path_blob, &len);
    assert_memory_equal(b, "CMSEAL1", 7);
    assert_int_equal(cm_seal_peek(b, len, kid, eid), 7 + 16 + 1 + 6 + 12);
    assert_string_equal(kid, key_a.key_id);
    assert_string_equal(eid, "ABC123");
    assert_int_equal(strlen(key_a.key_id), 16);
    assert_string_not_equal(key_a.key_id, key_b.key_id);
    assert_true(memcmp(b + 7 + 16 + 1 + 6 + 12, plain, 4096) != 0);
    assert_int_equal(cm_seal_peek(b, 10, kid, eid), 0);
    assert_int_equal(cm_seal_peek("CMSEAL2xxxxxxxxxxxxxxxxxxxxxxxxx", 32, kid, eid), -1);
    free(b);
}

/* test_wrong_key - another seal key, or a key id forged to match it */
static void test_wrong_key(void **state)
{
    char    err[256];

    do_seal(&key_a, "ENV", 1000);
    assert_int_equal(do_unseal(&key_b, "ENV", err, sizeof(err)), -2);
    assert_non_null(strstr(err, "key id"));
    patch_blob(7, key_b.key_id, 16);
    assert_int_equal(do_unseal(&key_b, "ENV", err, sizeof(err)), -2);
    assert_non_null(strstr(err, "authentication failed"));
}

/* test_wrong_envelope - asked for another id, or id edited in the header */
static void test_wrong_envelope(void **state)
{
    char    err[256];

    do_seal(&key_a, "ENV-A", 1000);
    assert_int_equal(do_unseal(&key_a, "ENV-B", err, sizeof(err)), -2);
    assert_non_null(strstr(err, "envelope id"));
    patch_blob(7 + 16 + 1, "ENV-B", 5);
    assert_int_equal(do_unseal(&key_a, "ENV-B", err, sizeof(err)), -2);
    assert_non_null(strstr(err, "authentication failed"));
}

/* test_flipped - one flipped bit in IV, ciphertext or tag */
static void test_flipped(void **state)
{
    static const long where[] = {7 + 16 + 1 + 3 + 5, 7 + 16 + 1 + 3 + 12 + 500, -1, -16};
    char    err[256];
    size_t  i;

    for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
	unsigned char *b;
	size_t  len;
	long    off;
	unsigned char c;

	do_seal(&key_a, "ENV", 70000);
	b = read_file(path_blob, &len);
	off = where[i] < 0 ? (long) len + where[i] : where[i];
	c = b[off] ^ 0x01;
	free(b);
	patch_blob(off, &c, 1);
	assert_int_equal(do_unseal(&key_a, "ENV", err, sizeof(err)), -2);
	assert_non_null(strstr(err, "authentication failed"));
    }
}

/* test_truncated - shortened blobs are refused */
static void test_truncated(void **state)
{
    char    err[256];
    size_t  full = 7 + 16 + 1 + 3 + 12 + 70000 + 16;

    do_seal(&key_a, "ENV", 70000);
    truncate_blob(full - 1);
    assert_int_equal(do_unseal(&key_a, "ENV", err, sizeof(err)), -2);
    assert_non_null(strstr(err, "authentication failed"));
    do_seal(&key_a, "ENV", 70000);
    truncate_blob(full - 70000 - 16);	/* header only */
    assert_int_equal(do_unseal(&key_a, "ENV", err, sizeof(err)), -2);
    assert_non_null(strstr(err, "truncated"));
    truncate_blob(10);
    assert_int_equal(do_unseal(&key_a, "ENV", err, sizeof(err)), -2);
    assert_non_null(strstr(err, "not a sealed blob"));
    truncate_blob(0);
    assert_int_equal(do_unseal(&key_a, "ENV", err, sizeof(err)), -2);
}

/* test_bad_envelope_id - seal refuses ids outside [A-Za-z0-9._@-]{1,64} */
static void test_bad_envelope_id(void **state)
{
    char    err[256];
    char    longid[80];

    memset(longid, 'a', 65);
    longid[65] = 0;
    assert_int_equal(cm_seal_envelope_id_ok("a/b"), 0);
    assert_int_equal(cm_seal_envelope_id_ok(""), 0);
    assert_int_equal(cm_seal_envelope_id_ok(longid), 0);
    longid[64] = 0;
    assert_int_equal(cm_seal_envelope_id_ok(longid), 1);
    assert_int_equal(cm_seal_stream(&key_a, "x y", 0, 1, 100, 0, 0, err, sizeof(err)), -2);
}

/* test_key_files - parse rules, generate with mode 0600, no overwrite */
static void test_key_files(void **state)
{
    CM_SEAL_KEY k, k2;
    struct stat st;
    char    err[256];
    const char *hex = "000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f";

    assert_int_equal(cm_seal_key_parse(hex, 64, &k, err, sizeof(err)), 0);
    assert_memory_equal(k.key, key_a.key, 32);
    assert_string_equal(k.key_id, key_a.key_id);
    assert_int_equal(cm_seal_key_parse("00\n", 3, &k, err, sizeof(err)), -1);
    assert_int_equal(cm_seal_key_parse(hex, 63, &k, err, sizeof(err)), -1);
    write_file(path_key, "0001020304050607080g0a0b0c0d0e0f000102030405060708090a0b0c0d0e0f", 64);
    assert_int_equal(cm_seal_key_load(path_key, &k, err, sizeof(err)), -1);
    write_file(path_key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n junk", 70);
    assert_int_equal(cm_seal_key_load(path_key, &k, err, sizeof(err)), -1);
    write_file(path_key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \n", 66);
    assert_int_equal(cm_seal_key_load(path_key, &k, err, sizeof(err)), 0);
    assert_string_equal(k.key_id, key_a.key_id);
    unlink(path_key);

    assert_int_equal(cm_seal_key_generate(path_key, err, sizeof(err)), 0);
    assert_int_equal(stat(path_key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(cm_seal_key_load(path_key, &k, err, sizeof(err)), 0);
    assert_int_equal(cm_seal_key_generate(path_key, err, sizeof(err)), -1);
    assert_int_equal(cm_seal_key_load(path_key, &k2, err, sizeof(err)), 0);
    assert_memory_equal(k.key, k2.key, 32);
    cm_seal_key_clear(&k);
    cm_seal_key_clear(&k2);
    unlink(path_key);
}

/* test_timeout - a writer that never writes does not hang the sealer (-1: retry) */
static void test_timeout(void **state)
{
    int     p[2];
    int     out = open(path_blob, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char    err[256];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(cm_seal_stream(&key_a, "ENV", p[0], out, 200, 0, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "read"));
    close(p[0]);
    close(p[1]);
    close(out);
}

/* test_limit - an endless input stops at the limit */
static void test_limit(void **state)
{
    int     in = open("/dev/zero", O_RDONLY);
    int     out = open("/dev/null", O_WRONLY);
    CM_SEAL_STATS st;
    char    err[256];

    assert_true(in >= 0 && out >= 0);
    assert_int_equal(cm_seal_stream(&key_a, "ENV", in, out, 1000, 1000000, &st,
				    err, sizeof(err)), -2);
    assert_non_null(strstr(err, "input longer than 1000000 bytes"));
    assert_true(st.in_bytes <= 1000000 + CM_SEAL_CHUNK);
    close(in);
    close(out);
    do_seal(&key_a, "ENV", 200000);
    in = open(path_blob, O_RDONLY);
    out = open("/dev/null", O_WRONLY);
    assert_int_equal(cm_unseal_stream(&key_a, "ENV", in, out, 1000, 100000, 0,
				      err, sizeof(err)), -2);
    assert_non_null(strstr(err, "input longer than"));
    close(in);
    close(out);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_roundtrip),
	cmocka_unit_test(test_empty),
	cmocka_unit_test(test_header),
	cmocka_unit_test(test_wrong_key),
	cmocka_unit_test(test_wrong_envelope),
	cmocka_unit_test(test_flipped),
	cmocka_unit_test(test_truncated),
	cmocka_unit_test(test_bad_envelope_id),
	cmocka_unit_test(test_key_files),
	cmocka_unit_test(test_timeout),
	cmocka_unit_test(test_limit),
    };

    return (cmocka_run_group_tests(tests, setup, teardown));
}
