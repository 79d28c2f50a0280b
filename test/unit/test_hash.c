/*++
 * NAME
 *	test_hash 1
 * SUMMARY
 *	unit tests of cm_hash
 * DESCRIPTION
 *	FIPS 180 "abc" vectors for SHA-256 and SHA-1, streaming equals
 *	one-shot, OID mapping, constant-time equality of base64 digests.
 *--*/
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_hash.h"

/* test_vectors - SHA-256("abc") and SHA-1("abc") in base64 */
static void test_vectors(void **state)
{
    char   *h;

    h = cm_hash_b64(CM_HASH_SHA256, "abc", 3);
    assert_string_equal(h, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    free(h);
    h = cm_hash_b64(CM_HASH_SHA1, "abc", 3);
    assert_string_equal(h, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    free(h);
}

/* test_stream - chunked update equals one shot */
static void test_stream(void **state)
{
    static char data[100000];
    CM_HASH *ctx = cm_hash_new(CM_HASH_SHA256);
    char   *a, *b;
    size_t  i;

    for (i = 0; i < sizeof(data); i++)
	data[i] = (char) (i % 251);
    for (i = 0; i < sizeof(data); i += 4099)
	assert_int_equal(cm_hash_update(ctx, data + i, i + 4099 > sizeof(data) ? sizeof(data) - i : 4099), 0);
    a = cm_hash_final_b64(ctx);
    b = cm_hash_b64(CM_HASH_SHA256, data, sizeof(data));
    assert_string_equal(a, b);
    cm_hash_free(ctx);
    free(a);
    free(b);
}

/* test_oid - OID text both ways, unknown refused */
static void test_oid(void **state)
{
    CM_HASH_ALG alg;

    assert_string_equal(cm_hash_oid(CM_HASH_SHA256), "2.16.840.1.101.3.4.2.1");
    assert_int_equal(cm_hash_from_oid("1.3.14.3.2.26", &alg), 0);
    assert_int_equal(alg, CM_HASH_SHA1);
    assert_int_equal(cm_hash_from_oid("2.16.840.1.101.3.4.2.1", &alg), 0);
    assert_int_equal(alg, CM_HASH_SHA256);
    assert_int_equal(cm_hash_from_oid("2.16.840.1.101.3.4.2.3", &alg), -1);
    assert_int_equal(cm_hash_from_oid(0, &alg), -1);
    assert_int_equal(cm_hash_size(CM_HASH_SHA1), 20);
}

/* test_equal - decoded comparison; whitespace irrelevant, one bit matters */
static void test_equal(void **state)
{
    const char *a = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

    assert_true(cm_hash_b64_equal(a, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\n"));
    assert_false(cm_hash_b64_equal(a, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFb0="));
    assert_false(cm_hash_b64_equal(a, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="));
    assert_false(cm_hash_b64_equal(a, "!!!"));
    assert_false(cm_hash_b64_equal(a, ""));
    assert_false(cm_hash_b64_equal(0, a));
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_vectors),
	cmocka_unit_test(test_stream),
	cmocka_unit_test(test_oid),
	cmocka_unit_test(test_equal),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
