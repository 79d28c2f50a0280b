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
 *	is a failure, whichever process wrote it. Leaks are checked
 *	(LeakSanitizer) at every exit, and the first error ends the process.
 *
 *	Not used by the fuzz targets (libFuzzer reports on its own) nor by
 *	any normal build.
 *--*/
#ifndef CMAIL_SANITIZER_LOG
#define CMAIL_SANITIZER_LOG "/tmp/cmail-sanitizer"
#endif

extern const char *__asan_default_options(void);
extern const char *__ubsan_default_options(void);
extern const char *__lsan_default_options(void);

/* __asan_default_options - AddressSanitizer (and LeakSanitizer) settings */
const char *__asan_default_options(void)
{
    return ("detect_leaks=1:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1"
	    ":log_path=" CMAIL_SANITIZER_LOG);
}

/* __ubsan_default_options - UndefinedBehaviorSanitizer settings */
const char *__ubsan_default_options(void)
{
    return ("print_stacktrace=1:halt_on_error=1:log_path=" CMAIL_SANITIZER_LOG);
}

/* __lsan_default_options - LeakSanitizer settings */
const char *__lsan_default_options(void)
{
    return ("print_suppressions=0");
}
