/*++
 * NAME
 *	test_config 1
 * SUMMARY
 *	unit tests of the cmail.conf parser
 * DESCRIPTION
 *	Defaults, comments and blanks, typed values, and every error naming
 *	file and line: unknown key, bad value, duplicate, missing '=', long
 *	line.
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
#include <cmocka.h>

#include "cm_config.h"

/* parse - helper over a string */
static CM_CONFIG *parse(const char *text, char *err, size_t len)
{
    return (cm_config_parse(text, strlen(text), "test.conf", err, len));
}

/* test_defaults - no file gives the documented defaults */
static void test_defaults(void **state)
{
    char    err[256];
    CM_CONFIG *cf = cm_config_load(0, err, sizeof(err));

    assert_non_null(cf);
    assert_int_equal(cm_config_int(cf, "message_size_limit"), 52428800);
    assert_int_equal(cm_config_int(cf, "recipient_limit"), 100);
    assert_false(cm_config_bool(cf, "verbose"));
    assert_false(cm_config_is_set(cf, "verbose"));
    assert_string_equal(cm_config_str(cf, "notary_socket"), "/run/cmail/notary.sock");
    cm_config_free(cf);
}

/* test_values - comments, blanks, spacing, typed getters */
static void test_values(void **state)
{
    char    err[256];
    CM_CONFIG *cf = parse("# Cmail\n\n  message_size_limit=10m\r\n"
			  "verbose = yes   \n\t# indented comment\n"
			  "injection_address = [::1]:10026\n"
			  "milter_socket = unix:/run/x.sock\n"
			  "server_key = /etc/cmail/private/k.pem", err, sizeof(err));

    assert_non_null(cf);
    assert_int_equal(cm_config_int(cf, "message_size_limit"), 10 * 1024 * 1024);
    assert_true(cm_config_bool(cf, "verbose"));
    assert_true(cm_config_is_set(cf, "verbose"));
    assert_string_equal(cm_config_str(cf, "injection_address"), "[::1]:10026");
    assert_string_equal(cm_config_str(cf, "server_key"), "/etc/cmail/private/k.pem");
    cm_config_free(cf);
}

/* expect_error - the text fails with a message holding want */
static void expect_error(const char *text, const char *want)
{
    char    err[256] = "";
    CM_CONFIG *cf = parse(text, err, sizeof(err));

    assert_null(cf);
    if (strstr(err, want) == 0)
	fail_msg("error '%s' does not contain '%s'", err, want);
}

/* test_errors - each error names file and line */
static void test_errors(void **state)
{
    char    longline[5000];

    expect_error("verbose = yes\ntls_keyfile = /x\n", "test.conf, line 2: unknown parameter 'tls_keyfile'");
    expect_error("recipient_limit = ten\n", "test.conf, line 1: bad value 'ten' for recipient_limit");
    expect_error("message_size_limit = 10q\n", "line 1: bad value");
    expect_error("verbose = maybe\n", "must be yes or no");
    expect_error("server_key = relative/path\n", "absolute path");
    expect_error("injection_address = localhost\n", "host:port");
    expect_error("injection_address = localhost:99999\n", "host:port");
    expect_error("verbose = no\n\nverbose = yes\n", "line 3: parameter 'verbose' already set on line 1");
    expect_error("just words\n", "line 1: expected 'parameter = value'");
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = 0;
    expect_error(longline, "line 1: line longer than");
}

/* test_file - load from a file, and a missing file is an error */
static void test_file(void **state)
{
    char    path[] = "/tmp/cmail-conf-XXXXXX";
    int     fd = mkstemp(path);
    char    err[256];
    CM_CONFIG *cf;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "recipient_limit = 7\n", 20), 20);
    close(fd);
    cf = cm_config_load(path, err, sizeof(err));
    assert_non_null(cf);
    assert_int_equal(cm_config_int(cf, "recipient_limit"), 7);
    cm_config_free(cf);
    unlink(path);
    assert_null(cm_config_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, path));
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_defaults),
	cmocka_unit_test(test_values),
	cmocka_unit_test(test_errors),
	cmocka_unit_test(test_file),
    };

    return (cmocka_run_group_tests(tests, 0, 0));
}
