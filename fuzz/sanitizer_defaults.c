/*++
 * NAME
 *	sanitizer_defaults 3
 * SUMMARY
 *	ASan/UBSan/LSan settings compiled into the sanitized test build
 * SYNOPSIS
 *	cc -c -DCMAIL_SANITIZER_LOG='"/dir/san"' sanitizer_defaults.c
 * DESCRIPTION
 *	test/run's second pass (build-asan/) links this object into every
 *	program through LIBS. Postfix starts cmtpd and the other spawn(8)
 *	services with an environment of its own (import_environment), and
 *	their standard error goes nowhere, so the settings cannot come
 *	from ASAN_OPTIONS: the sanitizer runtimes ask these functions
 *	instead (an ASAN_OPTIONS or UBSAN_OPTIONS in the environment still
 *	overrides them).
 *
 *	Every report goes to CMAIL_SANITIZER_LOG.PID (a world-writable
 *	directory made by test/run, as spawn(8) services run as other
 *	users), which test/run reads after `make check`: any report there
 *	is a failure, whichever process wrote it (the file name carries the
 *	program's name). Leaks are checked (LeakSanitizer) at every exit of
 *	the project's programs and unit tests; not in the test helpers of
 *	test/tools/, which exit without freeing (they are harness, not
 *	product; their memory errors are still reported). The first error
 *	ends the process.
 *
 *	Not used by the fuzz targets (libFuzzer reports on its own) nor by
 *	any normal build.
 *--*/
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#ifndef CMAIL_SANITIZER_LOG
#define CMAIL_SANITIZER_LOG "/tmp/cmail-sanitizer"
#endif

extern const char *__asan_default_options(void);
extern const char *__ubsan_default_options(void);
extern const char *__lsan_default_options(void);

#define COMMON_OPTIONS \
	"halt_on_error=1:abort_on_error=0:allocator_may_return_null=1:log_exe_name=1" \
	":log_path=" CMAIL_SANITIZER_LOG

/* test_tool - whether this program is a test helper of test/tools/ */
static int test_tool(void)
{
    static char path[4096];
    ssize_t n;

    /* Called before the runtime is up: a raw system call, no malloc. */
    n = syscall(SYS_readlink, "/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
	return (0);
    path[n] = 0;
    return (strstr(path, "/test/tools/") != 0);
}

/* __asan_default_options - AddressSanitizer (and LeakSanitizer) settings */
const char *__asan_default_options(void)
{
    if (test_tool())
	return ("detect_leaks=0:" COMMON_OPTIONS);
    return ("detect_leaks=1:" COMMON_OPTIONS);
}

/* __ubsan_default_options - UndefinedBehaviorSanitizer settings */
const char *__ubsan_default_options(void)
{
    return ("print_stacktrace=1:halt_on_error=1:log_exe_name=1:log_path=" CMAIL_SANITIZER_LOG);
}

/* __lsan_default_options - LeakSanitizer settings */
const char *__lsan_default_options(void)
{
    return ("print_suppressions=0");
}
