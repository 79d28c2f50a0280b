/*++
 * NAME
 *	cm_cert 3
 * SUMMARY
 *	RFC 3850 / RFC 5280 certificate validation for Cmail
 * DESCRIPTION
 *	See cm_cert.h. Path validation is OpenSSL's X509_verify_cert() run
 *	once per candidate path that we build ourselves (bounded depth-first
 *	enumeration over the anchors and the untrusted certificates,
 *	matching issuer name and AKI/SKI with X509_check_issued()), each run
 *	with exactly one anchor and that path's intermediates, so a failing
 *	path does not hide a good one. Flags: PARTIAL_CHAIN (every
 *	configured certificate is an anchor), X509_STRICT, POLICY_CHECK,
 *	CRL_CHECK and CRL_CHECK_ALL. A verify callback makes notAfter (and
 *	a CRL's nextUpdate) inclusive, skips revocation of the trust anchor
 *	itself (RFC 5280 section 6.1) and records the first error of each
 *	rule (path, validity, revocation) with a readable reason.
 *
 *	CRL files are looked at on every check (stat, and readdir for a
 *	directory) and parsed again when they changed (cm_crlcache_get():
 *	same device, inode, size, mtime and ctime); their signatures,
 *	times and entries are checked by every validation as before.
 *	Certificates are parsed once per process (cm_certcache_d2i()).
 *	CRL_CHECK_ALL is set only when the chain has intermediates: with
 *	leaf and anchor alone it would only add the anchor's own check,
 *	which RFC 5280 leaves out (one CRL signature verification less).
 *	Passed path checks are memoized (see PATH_MEMO below and cm_cert.h).
 *	Per issuer (name and
 *	authority key identifier) only the newest CRL issued at or before
 *	the verification time is used: highest CRLNumber, else latest
 *	thisUpdate. Refused: v2 CRLs without CRLNumber, delta CRLs. A file
 *	that holds no CRL makes the revocation rule fail (fail closed: it
 *	might be the newest CRL), except that in a directory dot files,
 *	subdirectories and files holding PEM certificates are skipped.
 *	OpenSSL itself refuses a CRL whose issuer has keyUsage without
 *	cRLSign.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <errno.h>
#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/err.h>

#include "cm_limits.h"
#include "cm_log.h"
#include "cm_pem.h"
#include "cm_certcache.h"
#include "cm_profile.h"
#include "cm_cert.h"

#define CM_ANCHORS_MAX		1000	/* certificates in the anchors file */
#define CM_UNTRUSTED_MAX	256	/* untrusted certificates considered */
#define CM_CRL_FILES_MAX	1000	/* files in a CRL directory */
#define CM_CRLS_MAX		1000	/* CRLs read per check */
#define CM_CRL_FILE_MAX	(32 * 1024 * 1024)	/* one CRL file */
#define CM_CRL_TOTAL_MAX	(128 * 1024 * 1024)	/* all CRL files of a check */
#define CM_ANCHORS_FILE_MAX	(16 * 1024 * 1024)	/* the anchors file */
#define CM_PATH_WORK_MAX	2000	/* issuer lookups per path search */
#define CM_SAN_MAX		256	/* subjectAltName entries examined */

struct CM_TRUST {
    STACK_OF(X509) *anchors;		/* every one an anchor */
    char   *crl_path;			/* file or directory, or null */
};

 /*
  * Memo of path checks that passed (path, validity and revocation), per
  * leaf DER and the very anchor and CRL objects checked against (held by
  * reference, so the same pointers mean the same certificates and CRLs:
  * trust stores loaded from the same files share the cached objects, a
  * CRL file that changed gives new ones, see cm_certcache(3)). A memo serves a
  * later check only while its time is on the same side of every time
  * that can change the outcome (notBefore/notAfter of the leaf and every
  * anchor, thisUpdate/nextUpdate of every CRL), or is the same second:
  * OpenSSL would then do exactly what it did. Failures are not memoized.
  * Only checks without untrusted certificates.
  */
#define CM_MEMO_MAX	64

typedef struct {
    STACK_OF(X509) *anchors;		/* referenced */
    unsigned char *der;			/* the leaf */
    size_t  len;
    STACK_OF(X509_CRL) *crls;		/* referenced */
    time_t  at;				/* the check's time */
    int     exact;			/* a boundary at 'at': that second only */
    int     has_lo, has_hi;
    time_t  lo, hi;			/* else valid for lo < t < hi */
    char    path_reason[sizeof(((CM_CERT_RULE *) 0)->reason)];
    char    rev_reason[sizeof(((CM_CERT_RULE *) 0)->reason)];
    unsigned long long used;
} PATH_MEMO;

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;
static PATH_MEMO memo[CM_MEMO_MAX];
static int nmemo;
static unsigned long long memo_tick;
static unsigned long memo_hits, memo_misses;

 /*
  * Rule categories of OpenSSL's errors.
  */
#define CAT_PATH	0
#define CAT_VALIDITY	1
#define CAT_REVOCATION	2
#define CAT_COUNT	3

typedef struct {
    time_t  at;				/* verification time */
    int     anchor_top;			/* chain top is the anchor */
    int     nerr[CAT_COUNT];		/* errors per category */
    char    reason[CAT_COUNT][256];	/* first error per category */
    int     crls_used;			/* certificates checked against CRLs */
} VFY_STATE;

/* bfmt - snprintf that truncates silently (reasons are bounded) */
static void bfmt(char *buf, size_t len, const char *fmt,...)
    __attribute__((format(printf, 3, 4)));

static void bfmt(char *buf, size_t len, const char *fmt,...)
{
    va_list ap;

    va_start(ap, fmt);
    (void) vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* sanitize - no control characters from certificates in our output */
static void sanitize(char *s)
{
    for (; *s; s++)
	if ((unsigned char) *s < 0x20 || *s == 0x7f)
	    *s = '?';
}

/* cm_cert_rule_add - append one rule to a report */
void    cm_cert_rule_add(CM_CERT_REPORT *rep, const char *rule, int ok, const char *fmt,...)
{
    CM_CERT_RULE *r;
    va_list ap;

    if (rep->n >= CM_CERT_RULES_MAX) {
	r = rep->rules + CM_CERT_RULES_MAX - 1;
	bfmt(r->rule, sizeof(r->rule), "report-full");
	r->ok = 0;
	bfmt(r->reason, sizeof(r->reason), "more than %d rules", CM_CERT_RULES_MAX);
	return;
    }
    r = rep->rules + rep->n++;
    bfmt(r->rule, sizeof(r->rule), "%s", rule);
    r->ok = ok ? 1 : 0;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    sanitize(r->rule);
    sanitize(r->reason);
}

/* cm_cert_report_ok - 1 when every rule passed */
int     cm_cert_report_ok(const CM_CERT_REPORT *rep)
{
    int     i;

    for (i = 0; i < rep->n; i++)
	if (!rep->rules[i].ok)
	    return (0);
    return (1);
}

/* fmt_time - ASN1_TIME as ISO 8601 UTC */
static const char *fmt_time(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;

    if (t == 0 || !ASN1_TIME_to_tm(t, &tm)
	|| strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
	bfmt(buf, len, "(invalid time)");
    return (buf);
}

/* fmt_time_t - time_t as ISO 8601 UTC */
static const char *fmt_time_t(time_t t, char *buf, size_t len)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == 0 || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
	bfmt(buf, len, "(invalid time)");
    return (buf);
}

/* fmt_name - one-line RFC 2253 distinguished name */
static const char *fmt_name(const X509_NAME *name, char *buf, size_t len)
{
    BIO    *bio = BIO_new(BIO_s_mem());
    char   *data;
    long    n;

    bfmt(buf, len, "(unknown)");
    if (bio == 0)
	return (buf);
    if (name && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_DN_REV) >= 0
	&& (n = BIO_get_mem_data(bio, &data)) > 0)
	bfmt(buf, len, "%.*s", (int) (n > 200 ? 200 : n), data);
    BIO_free(bio);
    return (buf);
}

/* crl_number_text - CRLNumber as decimal text, or null */
static char *crl_number_text(X509_CRL *crl)
{
    ASN1_INTEGER *num;
    BIGNUM *bn;
    char   *dec = 0;

    if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, 0, 0)) == 0)
	return (0);
    if ((bn = ASN1_INTEGER_to_BN(num, 0)) != 0) {
	char   *s = BN_bn2dec(bn);

	if (s) {
	    dec = strdup(s);
	    OPENSSL_free(s);
	}
	BN_free(bn);
    }
    ASN1_INTEGER_free(num);
    return (dec);
}

/* fmt_crl - "CRL from ISSUER, number N" */
static const char *fmt_crl(X509_CRL *crl, char *buf, size_t len)
{
    char    nbuf[256];
    char    tbuf[32];
    char   *num;

    if (crl == 0) {
	bfmt(buf, len, "CRL");
	return (buf);
    }
    fmt_name(X509_CRL_get_issuer(crl), nbuf, sizeof(nbuf));
    if ((num = crl_number_text(crl)) != 0) {
	bfmt(buf, len, "CRL from %s, number %.40s", nbuf, num);
	free(num);
    } else {
	bfmt(buf, len, "CRL from %s, v%ld of %s", nbuf, X509_CRL_get_version(crl) + 1,
		 fmt_time(X509_CRL_get0_lastUpdate(crl), tbuf, sizeof(tbuf)));
    }
    return (buf);
}

/* reason_name - RFC 5280 CRLReason as text */
static const char *reason_name(long code)
{
    static const char *const names[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", "(7)",
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
    };

    if (code >= 0 && code < (long) (sizeof(names) / sizeof(names[0])))
	return (names[code]);
    return ("(unknown reason)");
}

/* err_category - which rule an X509_V_ERR belongs to */
static int err_category(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
	return (CAT_VALIDITY);
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_CERT_REVOKED:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
	return (CAT_REVOCATION);
    default:
	return (CAT_PATH);
    }
}

/* who - "" for the end-entity, "CA certificate NAME " above it */
static const char *who(X509 *cert, int depth, char *buf, size_t len)
{
    char    nbuf[256];

    if (depth <= 0 || cert == 0)
	bfmt(buf, len, "%s", "");
    else
	bfmt(buf, len, "CA certificate %s ", fmt_name(X509_get_subject_name(cert), nbuf, sizeof(nbuf)));
    return (buf);
}

/* fmt_error - readable reason for one verification error */
static void fmt_error(X509_STORE_CTX *ctx, int err, int depth, X509 *cert, char *out, size_t len)
{
    X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);
    char    wbuf[300];
    char    sbuf[300];
    char    nbuf[256];
    char    cbuf[300];
    char    tbuf[32];

    who(cert, depth, wbuf, sizeof(wbuf));
    /* subject of a sentence: "certificate" or "CA certificate NAME" */
    bfmt(sbuf, sizeof(sbuf), "%s", wbuf[0] ? wbuf : "certificate ");
    sbuf[strlen(sbuf) - 1] = 0;
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
	bfmt(out, len, "%sexpired %s", wbuf,
		 fmt_time(cert ? X509_get0_notAfter(cert) : 0, tbuf, sizeof(tbuf)));
	break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
	bfmt(out, len, "%snot yet valid: notBefore %s", wbuf,
		 fmt_time(cert ? X509_get0_notBefore(cert) : 0, tbuf, sizeof(tbuf)));
	break;
    case X509_V_ERR_CERT_REVOKED:{
	    X509_REVOKED *rev = 0;
	    ASN1_ENUMERATED *code = 0;
	    const char *rname = "no reason given";

	    if (crl && cert && X509_CRL_get0_by_cert(crl, &rev, cert) > 0 && rev
	     && (code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, 0, 0)) != 0)
		rname = reason_name(ASN1_ENUMERATED_get(code));
	    bfmt(out, len, "%s revoked (%s, reason %s)", sbuf,
		 fmt_crl(crl, cbuf, sizeof(cbuf)), rname);
	    ASN1_ENUMERATED_free(code);
	    break;
	}
    case X509_V_ERR_UNABLE_TO_GET_CRL:
	bfmt(out, len, "%s: no usable CRL from its issuer %s", sbuf,
		 fmt_name(cert ? X509_get_issuer_name(cert) : 0, nbuf, sizeof(nbuf)));
	break;
    case X509_V_ERR_CRL_HAS_EXPIRED:
	bfmt(out, len, "%s expired: nextUpdate %s", fmt_crl(crl, cbuf, sizeof(cbuf)),
		 fmt_time(crl ? X509_CRL_get0_nextUpdate(crl) : 0, tbuf, sizeof(tbuf)));
	break;
    case X509_V_ERR_CRL_NOT_YET_VALID:
	bfmt(out, len, "%s not yet valid: thisUpdate %s", fmt_crl(crl, cbuf, sizeof(cbuf)),
		 fmt_time(crl ? X509_CRL_get0_lastUpdate(crl) : 0, tbuf, sizeof(tbuf)));
	break;
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	bfmt(out, len, "%s refused: its issuer's keyUsage lacks cRLSign",
		 fmt_crl(crl, cbuf, sizeof(cbuf)));
	break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	bfmt(out, len, "no path to a trust anchor: issuer %s of %s not found",
		 fmt_name(cert ? X509_get_issuer_name(cert) : 0, nbuf, sizeof(nbuf)),
		 depth > 0 ? "a CA certificate" : "the certificate");
	break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	bfmt(out, len, "no path to a trust anchor: self-signed %s is not a trust anchor",
		 fmt_name(cert ? X509_get_subject_name(cert) : 0, nbuf, sizeof(nbuf)));
	break;
    default:
	if (X509_STORE_CTX_get0_current_crl(ctx) && err_category(err) == CAT_REVOCATION)
	    bfmt(out, len, "%s: %s", fmt_crl(crl, cbuf, sizeof(cbuf)),
		     X509_verify_cert_error_string(err));
	else
	    bfmt(out, len, "%s%s%s", wbuf, wbuf[0] ? ": " : "",
		     X509_verify_cert_error_string(err));
	break;
    }
}

/* verify_cb - record errors by rule, apply our corrections, go on */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    VFY_STATE *st = X509_STORE_CTX_get_app_data(ctx);
    STACK_OF(X509) *chain;
    X509   *cert;
    X509_CRL *crl;
    int     err, depth, cat;

    if (ok || st == 0)
	return (ok);
    err = X509_STORE_CTX_get_error(ctx);
    depth = X509_STORE_CTX_get_error_depth(ctx);
    cert = X509_STORE_CTX_get_current_cert(ctx);
    crl = X509_STORE_CTX_get0_current_crl(ctx);

    /*
     * RFC 5280 4.1.2.5: the validity period includes notAfter. OpenSSL
     * treats time == notAfter as expired; so is a CRL at nextUpdate.
     */
    if (err == X509_V_ERR_CERT_HAS_EXPIRED && cert
	&& ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), st->at) == 0)
	return (1);
    if (err == X509_V_ERR_CRL_HAS_EXPIRED && crl && X509_CRL_get0_nextUpdate(crl)
	&& ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), st->at) == 0)
	return (1);
    cat = err_category(err);

    /*
     * RFC 5280 6.1: the trust anchor is not part of the path; its own
     * revocation status is not checked (OpenSSL's CRL_CHECK_ALL does).
     */
    chain = X509_STORE_CTX_get0_chain(ctx);
    if (cat == CAT_REVOCATION && st->anchor_top && chain
	&& depth == sk_X509_num(chain) - 1)
	return (1);
    if (st->nerr[cat]++ == 0)
	fmt_error(ctx, err, depth, cert, st->reason[cat], sizeof(st->reason[cat]));
    return (1);
}

/* crl_parse_fp - every CRL in an open file (PEM, else one DER) */
static int crl_parse_fp(FILE *fp, int in_dir, STACK_OF(X509_CRL) *got, int *is_certs)
{
    BIO    *bio;
    X509_CRL *crl;
    int     n = 0;

    *is_certs = 0;
    if ((bio = BIO_new_fp(fp, BIO_NOCLOSE)) == 0)
	return (-1);
    while (sk_X509_CRL_num(got) < CM_CRLS_MAX
	   && (crl = PEM_read_bio_X509_CRL(bio, 0, 0, 0)) != 0) {
	if (!sk_X509_CRL_push(got, crl)) {
	    X509_CRL_free(crl);
	    break;
	}
	n++;
    }
    ERR_clear_error();
    if (n == 0 && BIO_seek(bio, 0) == 0 && (crl = d2i_X509_CRL_bio(bio, 0)) != 0) {
	if (sk_X509_CRL_push(got, crl))
	    n++;
	else
	    X509_CRL_free(crl);
    }
    ERR_clear_error();
    if (n == 0 && in_dir && BIO_seek(bio, 0) == 0) {
	X509   *cert = PEM_read_bio_X509(bio, 0, 0, 0);

	/* An OpenSSL hashed directory may hold certificates too. */
	ERR_clear_error();
	if (cert) {
	    X509_free(cert);
	    *is_certs = 1;
	}
    }
    BIO_free(bio);
    return (n);
}

/* crl_add_file - CRLs of one file (parsed once per file generation), appended */
static int crl_add_file(const char *path, int in_dir, STACK_OF(X509_CRL) *sk, off_t *total,
			        char *err, size_t errlen)
{
    struct stat stb;
    STACK_OF(X509_CRL) *got;
    FILE   *fp;
    int     fd, n, i, is_certs;

    if (stat(path, &stb) < 0) {
	bfmt(err, errlen, "CRL %s: %s", path, strerror(errno));
	return (-1);
    }
    if (!S_ISREG(stb.st_mode) || stb.st_size > CM_CRL_FILE_MAX) {
	bfmt(err, errlen, "CRL %s: not a regular file of at most %d bytes", path, CM_CRL_FILE_MAX);
	return (-1);
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
	bfmt(err, errlen, "CRL %s: %s", path, strerror(errno));
	return (-1);
    }
    /* The identity of what we read: a file replaced meanwhile is another. */
    if (fstat(fd, &stb) < 0 || !S_ISREG(stb.st_mode) || stb.st_size > CM_CRL_FILE_MAX) {
	bfmt(err, errlen, "CRL %s: not a regular file of at most %d bytes", path, CM_CRL_FILE_MAX);
	close(fd);
	return (-1);
    }
    if ((*total += stb.st_size) > CM_CRL_TOTAL_MAX) {
	bfmt(err, errlen, "CRL %s: CRLs larger than %d bytes in all", path, CM_CRL_TOTAL_MAX);
	close(fd);
	return (-1);
    }
    if (cm_crlcache_get(path, &stb, in_dir, sk, CM_CRLS_MAX - sk_X509_CRL_num(sk)) >= 0) {
	close(fd);
	return (0);
    }
    if ((fp = fdopen(fd, "rb")) == 0) {
	bfmt(err, errlen, "CRL %s: %s", path, strerror(errno));
	close(fd);
	return (-1);
    }
    if ((got = sk_X509_CRL_new_null()) == 0) {
	bfmt(err, errlen, "out of memory");
	fclose(fp);
	return (-1);
    }
    n = crl_parse_fp(fp, in_dir, got, &is_certs);
    fclose(fp);
    if (n <= 0 && !is_certs) {
	bfmt(err, errlen, "CRL %s: no PEM or DER CRL in it", path);
	sk_X509_CRL_pop_free(got, X509_CRL_free);
	return (-1);
    }
    cm_crlcache_put(path, &stb, in_dir, got);
    for (i = 0; i < sk_X509_CRL_num(got) && sk_X509_CRL_num(sk) < CM_CRLS_MAX; i++) {
	X509_CRL *crl = sk_X509_CRL_value(got, i);

	if (!X509_CRL_up_ref(crl))
	    break;
	if (!sk_X509_CRL_push(sk, crl)) {
	    X509_CRL_free(crl);
	    break;
	}
    }
    sk_X509_CRL_pop_free(got, X509_CRL_free);
    return (0);
}

/* crl_read_all - every CRL in a file or directory */
static STACK_OF(X509_CRL) *crl_read_all(const char *path, char *err, size_t errlen)
{
    STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
    struct stat stb;
    DIR    *dir;
    struct dirent *de;
    char    fpath[4096];
    int     nfiles = 0;
    off_t   total = 0;

    if (sk == 0) {
	bfmt(err, errlen, "out of memory");
	return (0);
    }
    if (stat(path, &stb) < 0) {
	bfmt(err, errlen, "CRL %s: %s", path, strerror(errno));
	goto fail;
    }
    if (!S_ISDIR(stb.st_mode)) {
	if (crl_add_file(path, 0, sk, &total, err, errlen) < 0)
	    goto fail;
	return (sk);
    }
    if ((dir = opendir(path)) == 0) {
	bfmt(err, errlen, "CRL directory %s: %s", path, strerror(errno));
	goto fail;
    }
    while ((de = readdir(dir)) != 0) {
	if (de->d_name[0] == '.')
	    continue;
	if (++nfiles > CM_CRL_FILES_MAX) {
	    bfmt(err, errlen, "CRL directory %s: more than %d files", path, CM_CRL_FILES_MAX);
	    closedir(dir);
	    goto fail;
	}
	if (snprintf(fpath, sizeof(fpath), "%s/%s", path, de->d_name) >= (int) sizeof(fpath)) {
	    bfmt(err, errlen, "CRL directory %s: name too long", path);
	    closedir(dir);
	    goto fail;
	}
	/* Fail closed: an unreadable file might be the newest CRL. */
	if (stat(fpath, &stb) == 0 && S_ISDIR(stb.st_mode))
	    continue;
	if (crl_add_file(fpath, 1, sk, &total, err, errlen) < 0) {
	    closedir(dir);
	    goto fail;
	}
    }
    closedir(dir);
    return (sk);
fail:
    sk_X509_CRL_pop_free(sk, X509_CRL_free);
    return (0);
}

/* crl_same_issuer - same issuer name and authority key identifier */
static int crl_same_issuer(X509_CRL *a, X509_CRL *b)
{
    AUTHORITY_KEYID *ka, *kb;
    int     same;

    if (X509_NAME_cmp(X509_CRL_get_issuer(a), X509_CRL_get_issuer(b)) != 0)
	return (0);
    ka = X509_CRL_get_ext_d2i(a, NID_authority_key_identifier, 0, 0);
    kb = X509_CRL_get_ext_d2i(b, NID_authority_key_identifier, 0, 0);
    if (ka && kb && ka->keyid && kb->keyid)
	same = (ASN1_OCTET_STRING_cmp(ka->keyid, kb->keyid) == 0);
    else
	same = 1;			/* no key id to tell them apart */
    AUTHORITY_KEYID_free(ka);
    AUTHORITY_KEYID_free(kb);
    return (same);
}

/* crl_newer - is a newer than b? */
static int crl_newer(X509_CRL *a, X509_CRL *b)
{
    ASN1_INTEGER *na = X509_CRL_get_ext_d2i(a, NID_crl_number, 0, 0);
    ASN1_INTEGER *nb = X509_CRL_get_ext_d2i(b, NID_crl_number, 0, 0);
    int     cmp = 0;

    /* Highest CRLNumber, else latest thisUpdate. */
    if (na && nb)
	cmp = ASN1_INTEGER_cmp(na, nb);
    if (cmp == 0)
	cmp = ASN1_TIME_compare(X509_CRL_get0_lastUpdate(a), X509_CRL_get0_lastUpdate(b));
    /* Ties, whatever the order of the files: numbered, then more entries. */
    if (cmp == 0)
	cmp = (na != 0) - (nb != 0);
    if (cmp == 0)
	cmp = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(a)) - sk_X509_REVOKED_num(X509_CRL_get_REVOKED(b));
    ASN1_INTEGER_free(na);
    ASN1_INTEGER_free(nb);
    return (cmp > 0);
}

/* note_add - append to a bounded note */
static void note_add(char *note, size_t len, const char *text)
{
    size_t  used = strlen(note);

    if (used + 1 < len)
	bfmt(note + used, len - used, "%s%s", used ? "; " : "", text);
}

/* crl_select - newest acceptable CRL per issuer */
static STACK_OF(X509_CRL) *crl_select(STACK_OF(X509_CRL) *all, time_t at, char *note, size_t notelen)
{
    STACK_OF(X509_CRL) *sel = sk_X509_CRL_new_null();
    char    cbuf[300];
    char    text[400];
    int     i, j;

    if (sel == 0)
	return (0);
    for (i = 0; i < sk_X509_CRL_num(all); i++) {
	X509_CRL *crl = sk_X509_CRL_value(all, i);
	ASN1_INTEGER *num;
	int     has_num, is_delta;
	int     crit = -1;

	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, 0);
	has_num = (num != 0);		/* malformed or duplicated: none */
	ASN1_INTEGER_free(num);
	is_delta = (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0);
	if (X509_CRL_get_version(crl) >= 1 && !has_num) {
	    bfmt(text, sizeof(text), "refused v2 %s: no CRLNumber", fmt_crl(crl, cbuf, sizeof(cbuf)));
	    note_add(note, notelen, text);
	    continue;
	}
	if (X509_CRL_get_version(crl) == 0 && X509_CRL_get_ext_count(crl) > 0) {
	    bfmt(text, sizeof(text), "refused %s: v1 CRL with extensions", fmt_crl(crl, cbuf, sizeof(cbuf)));
	    note_add(note, notelen, text);
	    continue;
	}
	if (is_delta) {
	    bfmt(text, sizeof(text), "ignored delta %s", fmt_crl(crl, cbuf, sizeof(cbuf)));
	    note_add(note, notelen, text);
	    continue;
	}
	if (X509_CRL_get0_lastUpdate(crl) == 0
	    || ASN1_TIME_cmp_time_t(X509_CRL_get0_lastUpdate(crl), at) > 0)
	    continue;			/* issued after the verification time */
	for (j = 0; j < sk_X509_CRL_num(sel); j++)
	    if (crl_same_issuer(crl, sk_X509_CRL_value(sel, j)))
		break;
	if (j < sk_X509_CRL_num(sel)) {
	    if (crl_newer(crl, sk_X509_CRL_value(sel, j)))
		(void) sk_X509_CRL_set(sel, j, crl);
	} else if (!sk_X509_CRL_push(sel, crl)) {
	    sk_X509_CRL_free(sel);
	    return (0);
	}
    }
    return (sel);
}

/* cm_trust_load - read anchors, check the CRL source */
CM_TRUST *cm_trust_load(const char *anchors, const char *crls, char *err, size_t errlen)
{
    CM_TRUST *trust;
    STACK_OF(X509_CRL) *sk;

    if ((trust = calloc(1, sizeof(*trust))) == 0) {
	bfmt(err, errlen, "out of memory");
	return (0);
    }
    if (anchors) {
	struct stat stb;

	if (stat(anchors, &stb) == 0 && stb.st_size > CM_ANCHORS_FILE_MAX) {
	    bfmt(err, errlen, "%s: larger than %d bytes", anchors, CM_ANCHORS_FILE_MAX);
	    goto fail;
	}
	if ((trust->anchors = cm_pem_read_certs(anchors, err, errlen)) == 0)
	    goto fail;
	if (sk_X509_num(trust->anchors) > CM_ANCHORS_MAX) {
	    bfmt(err, errlen, "%s: more than %d certificates", anchors, CM_ANCHORS_MAX);
	    goto fail;
	}
    } else if ((trust->anchors = sk_X509_new_null()) == 0) {
	bfmt(err, errlen, "out of memory");
	goto fail;
    }
    if (crls) {
	/* Read once now so that a bad setting shows at startup. */
	if ((sk = crl_read_all(crls, err, errlen)) == 0)
	    goto fail;
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	if ((trust->crl_path = strdup(crls)) == 0) {
	    bfmt(err, errlen, "out of memory");
	    goto fail;
	}
    }
    return (trust);
fail:
    cm_trust_free(trust);
    return (0);
}

/* cm_trust_anchors - the anchors, borrowed */
STACK_OF(X509) *cm_trust_anchors(const CM_TRUST *trust)
{
    return (trust ? trust->anchors : 0);
}

/* cm_trust_anchor_names - the anchors' subject names, without duplicates */
STACK_OF(X509_NAME) *cm_trust_anchor_names(const CM_TRUST *trust)
{
    if (trust == 0 || sk_X509_num(trust->anchors) <= 0)
	return (0);
    return (cm_cert_subject_names(trust->anchors));
}

/* cm_cert_subject_names - the distinct subject names of certificates */
STACK_OF(X509_NAME) *cm_cert_subject_names(const STACK_OF(X509) *certs)
{
    STACK_OF(X509_NAME) *names;
    X509_NAME *name;
    int     i, j;

    if ((names = sk_X509_NAME_new_null()) == 0)
	return (0);
    for (i = 0; i < sk_X509_num(certs); i++) {
	const X509_NAME *subj = X509_get_subject_name(sk_X509_value(certs, i));

	for (j = 0; j < sk_X509_NAME_num(names); j++)
	    if (X509_NAME_cmp(sk_X509_NAME_value(names, j), subj) == 0)
		break;
	if (j < sk_X509_NAME_num(names))
	    continue;
	if ((name = X509_NAME_dup(subj)) == 0 || !sk_X509_NAME_push(names, name)) {
	    X509_NAME_free(name);
	    sk_X509_NAME_pop_free(names, X509_NAME_free);
	    return (0);
	}
    }
    return (names);
}

/* cm_trust_free - release a trust store */
void    cm_trust_free(CM_TRUST *trust)
{
    if (trust == 0)
	return;
    sk_X509_pop_free(trust->anchors, X509_free);
    free(trust->crl_path);
    free(trust);
}

 /*
  * Candidate path enumeration.
  */
typedef struct {
    int     len;
    X509   *certs[CM_CHAIN_MAX];	/* [0] leaf .. [len-1] anchor */
} CM_PATH;

typedef struct {
    STACK_OF(X509) *anchors;
    X509   *untrusted[CM_UNTRUSTED_MAX];	/* not anchors themselves */
    int     nuntrusted;
    int     work;
    int     npaths;
    CM_PATH paths[CM_PATHS_MAX];
    CM_PATH cur;
} PATH_SEARCH;

/* is_anchor - is this certificate in the anchors? */
static int is_anchor(STACK_OF(X509) *anchors, X509 *cert)
{
    int     i;

    for (i = 0; i < sk_X509_num(anchors); i++)
	if (X509_cmp(sk_X509_value(anchors, i), cert) == 0)
	    return (1);
    return (0);
}

/* in_path - is this certificate already on the current path? */
static int in_path(const CM_PATH *p, X509 *cert)
{
    int     i;

    for (i = 0; i < p->len; i++)
	if (X509_cmp(p->certs[i], cert) == 0)
	    return (1);
    return (0);
}

static void path_extend(PATH_SEARCH *ps);

/* path_try - follow one issuer candidate */
static void path_try(PATH_SEARCH *ps, X509 *issuer)
{
    X509   *subject = ps->cur.certs[ps->cur.len - 1];

    if (ps->npaths >= CM_PATHS_MAX || ps->work >= CM_PATH_WORK_MAX)
	return;
    ps->work++;
    if (in_path(&ps->cur, issuer) || X509_check_issued(issuer, subject) != X509_V_OK)
	return;
    ps->cur.certs[ps->cur.len++] = issuer;
    path_extend(ps);
    ps->cur.len--;
}

/* path_extend - record the path if it ends at an anchor, else go up */
static void path_extend(PATH_SEARCH *ps)
{
    X509   *top = ps->cur.certs[ps->cur.len - 1];
    int     i;

    if (is_anchor(ps->anchors, top)) {
	if (ps->npaths < CM_PATHS_MAX)
	    ps->paths[ps->npaths++] = ps->cur;
	return;
    }
    if (ps->cur.len >= CM_CHAIN_MAX)
	return;
    for (i = 0; i < sk_X509_num(ps->anchors); i++)
	path_try(ps, sk_X509_value(ps->anchors, i));
    for (i = 0; i < ps->nuntrusted; i++)
	path_try(ps, ps->untrusted[i]);
}

/* verify_run - X509_verify_cert with our flags, errors into st */
static int verify_run(X509 *leaf, STACK_OF(X509) *trusted, STACK_OF(X509) *chain,
		              STACK_OF(X509_CRL) *crls, VFY_STATE *st)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *param;
    unsigned long flags;
    int     i, ret = -1;

    if (store == 0 || ctx == 0)
	goto done;
    for (i = 0; i < sk_X509_num(trusted); i++)
	if (!X509_STORE_add_cert(store, sk_X509_value(trusted, i)))
	    goto done;
    if (!X509_STORE_CTX_init(ctx, store, leaf, chain))
	goto done;
    flags = X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT | X509_V_FLAG_POLICY_CHECK;
    if (crls)
	flags |= X509_V_FLAG_CRL_CHECK;

    /*
     * CRL_CHECK_ALL checks every certificate of the chain, the anchor
     * too, whose revocation RFC 5280 6.1 leaves out (verify_cb ignores
     * it): with one anchor and no intermediates the chain is the leaf
     * and that anchor, so checking the leaf alone is the same decision
     * with one CRL signature verification less.
     */
    if (crls && (sk_X509_num(chain) > 0 || sk_X509_num(trusted) != 1))
	flags |= X509_V_FLAG_CRL_CHECK_ALL;
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, flags);
    X509_VERIFY_PARAM_set_time(param, st->at);
    X509_VERIFY_PARAM_set_depth(param, CM_CHAIN_MAX);
    if (crls)
	X509_STORE_CTX_set0_crls(ctx, crls);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    X509_STORE_CTX_set_app_data(ctx, st);
    if (X509_verify_cert(ctx) <= 0 && st->nerr[CAT_PATH] + st->nerr[CAT_VALIDITY]
	+ st->nerr[CAT_REVOCATION] == 0) {
	st->nerr[CAT_PATH]++;
	bfmt(st->reason[CAT_PATH], sizeof(st->reason[CAT_PATH]), "%s",
		 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    ret = 0;
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return (ret);
}

/* st_fails - number of rules a run failed */
static int st_fails(const VFY_STATE *st)
{
    int     i, n = 0;

    for (i = 0; i < CAT_COUNT; i++)
	n += (st->nerr[i] > 0);
    return (n);
}

/* memo_prefork - hold the memo mutex across fork() */
static void memo_prefork(void)
{
    pthread_mutex_lock(&memo_lock);
}

/* memo_postfork - release it in parent and child */
static void memo_postfork(void)
{
    pthread_mutex_unlock(&memo_lock);
}

/* memo_init - once per process */
static void memo_init(void)
{
    (void) pthread_atfork(memo_prefork, memo_postfork, memo_postfork);
}

/* memo_enter - lock the memo */
static void memo_enter(void)
{
    (void) pthread_once(&memo_once, memo_init);
    pthread_mutex_lock(&memo_lock);
}

/* memo_drop - remove entry i (locked) */
static void memo_drop(int i)
{
    free(memo[i].der);
    sk_X509_pop_free(memo[i].anchors, X509_free);
    sk_X509_CRL_pop_free(memo[i].crls, X509_CRL_free);
    memo[i] = memo[--nmemo];
    memset(&memo[nmemo], 0, sizeof(memo[nmemo]));
}

/* memo_same_crls - the very same CRL objects, in the same order */
static int memo_same_crls(STACK_OF(X509_CRL) *a, STACK_OF(X509_CRL) *b)
{
    int     i;

    if (sk_X509_CRL_num(a) != sk_X509_CRL_num(b))
	return (0);
    for (i = 0; i < sk_X509_CRL_num(a); i++)
	if (sk_X509_CRL_value(a, i) != sk_X509_CRL_value(b, i))
	    return (0);
    return (1);
}

/* memo_same_anchors - the very same anchor objects, in the same order */
static int memo_same_anchors(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
    int     i;

    if (sk_X509_num(a) != sk_X509_num(b))
	return (0);
    for (i = 0; i < sk_X509_num(a); i++)
	if (sk_X509_value(a, i) != sk_X509_value(b, i))
	    return (0);
    return (1);
}

/* memo_bound - narrow the interval around at by one time */
static int memo_bound(const ASN1_TIME *t, PATH_MEMO *m)
{
    struct tm tm;
    time_t  b;

    if (t == 0)
	return (0);				/* absent (no nextUpdate) */
    if (!ASN1_TIME_to_tm(t, &tm))
	return (-1);
    b = timegm(&tm);
    if (b == m->at)
	m->exact = 1;
    else if (b < m->at && (!m->has_lo || b > m->lo)) {
	m->lo = b;
	m->has_lo = 1;
    } else if (b > m->at && (!m->has_hi || b < m->hi)) {
	m->hi = b;
	m->has_hi = 1;
    }
    return (0);
}

/* memo_valid_at - may a memo serve a check at this time? */
static int memo_valid_at(const PATH_MEMO *m, time_t at)
{
    if (at == m->at)
	return (1);
    return (!m->exact && (!m->has_lo || m->lo < at) && (!m->has_hi || at < m->hi));
}

/* memo_get - the memoized reasons of a passed check, 1 if found */
static int memo_get(CM_TRUST *trust, X509 *cert, STACK_OF(X509_CRL) *all, time_t at,
		            char *path_reason, char *rev_reason, size_t len)
{
    unsigned char *der = 0;
    int     n, i, found = 0;

    if ((n = i2d_X509(cert, &der)) <= 0) {
	ERR_clear_error();
	return (0);
    }
    memo_enter();
    for (i = 0; i < nmemo; i++) {
	PATH_MEMO *m = memo + i;

	if (m->len == (size_t) n && memcmp(m->der, der, m->len) == 0
	    && memo_same_anchors(m->anchors, trust->anchors)
	    && memo_same_crls(m->crls, all) && memo_valid_at(m, at)) {
	    bfmt(path_reason, len, "%s", m->path_reason);
	    bfmt(rev_reason, len, "%s", m->rev_reason);
	    m->used = ++memo_tick;
	    found = 1;
	    break;
	}
    }
    if (found)
	memo_hits++;
    else
	memo_misses++;
    pthread_mutex_unlock(&memo_lock);
    OPENSSL_free(der);
    return (found);
}

/* memo_put - remember a check that passed */
static void memo_put(CM_TRUST *trust, X509 *cert, STACK_OF(X509_CRL) *all, time_t at,
		             const char *path_reason, const char *rev_reason)
{
    PATH_MEMO m;
    int     i, j = 0, n, lru;

    memset(&m, 0, sizeof(m));
    m.at = at;
    if (memo_bound(X509_get0_notBefore(cert), &m) < 0 || memo_bound(X509_get0_notAfter(cert), &m) < 0)
	return;
    for (i = 0; i < sk_X509_num(trust->anchors); i++) {
	X509   *a = sk_X509_value(trust->anchors, i);

	if (memo_bound(X509_get0_notBefore(a), &m) < 0 || memo_bound(X509_get0_notAfter(a), &m) < 0)
	    return;
    }
    for (i = 0; i < sk_X509_CRL_num(all); i++) {
	X509_CRL *c = sk_X509_CRL_value(all, i);

	if (memo_bound(X509_CRL_get0_lastUpdate(c), &m) < 0
	    || memo_bound(X509_CRL_get0_nextUpdate(c), &m) < 0)
	    return;
    }
    bfmt(m.path_reason, sizeof(m.path_reason), "%s", path_reason);
    bfmt(m.rev_reason, sizeof(m.rev_reason), "%s", rev_reason);
    if ((n = i2d_X509(cert, &m.der)) <= 0 || (m.crls = sk_X509_CRL_new_null()) == 0
	|| (m.anchors = sk_X509_new_null()) == 0) {
	ERR_clear_error();
	OPENSSL_free(m.der);
	sk_X509_CRL_free(m.crls);
	return;
    }
    m.len = (size_t) n;
    for (i = 0; i < sk_X509_CRL_num(all); i++) {
	X509_CRL *c = sk_X509_CRL_value(all, i);

	if (!X509_CRL_up_ref(c))
	    break;
	if (!sk_X509_CRL_push(m.crls, c)) {
	    X509_CRL_free(c);
	    break;
	}
    }
    for (j = 0; i == sk_X509_CRL_num(all) && j < sk_X509_num(trust->anchors); j++) {
	X509   *a = sk_X509_value(trust->anchors, j);

	if (!X509_up_ref(a))
	    break;
	if (!sk_X509_push(m.anchors, a)) {
	    X509_free(a);
	    break;
	}
    }
    if (i < sk_X509_CRL_num(all) || j < sk_X509_num(trust->anchors)) {
	OPENSSL_free(m.der);
	sk_X509_CRL_pop_free(m.crls, X509_CRL_free);
	sk_X509_pop_free(m.anchors, X509_free);
	return;
    }
    /* memo_drop() frees with free(): keep the DER in malloc()ed memory */
    {
	unsigned char *copy = malloc(m.len);

	if (copy == 0) {
	    OPENSSL_free(m.der);
	    sk_X509_CRL_pop_free(m.crls, X509_CRL_free);
	    sk_X509_pop_free(m.anchors, X509_free);
	    return;
	}
	memcpy(copy, m.der, m.len);
	OPENSSL_free(m.der);
	m.der = copy;
    }
    memo_enter();
    if (nmemo >= CM_MEMO_MAX) {
	for (lru = 0, i = 1; i < nmemo; i++)
	    if (memo[i].used < memo[lru].used)
		lru = i;
	memo_drop(lru);
    }
    m.used = ++memo_tick;
    memo[nmemo++] = m;
    pthread_mutex_unlock(&memo_lock);
}

/* cm_cert_memo_stats - memo hits and misses so far */
void    cm_cert_memo_stats(unsigned long *hits, unsigned long *misses, int *entries)
{
    memo_enter();
    *hits = memo_hits;
    *misses = memo_misses;
    *entries = nmemo;
    pthread_mutex_unlock(&memo_lock);
}

/* cm_cert_memo_flush - forget every memoized check */
void    cm_cert_memo_flush(void)
{
    memo_enter();
    while (nmemo > 0)
	memo_drop(nmemo - 1);
    pthread_mutex_unlock(&memo_lock);
}

/* check_path - path, validity and revocation rules */
static void check_path(CM_TRUST *trust, X509 *cert, const CM_CERT_OPTS *opts, time_t at,
		               CM_CERT_REPORT *rep)
{
    PATH_SEARCH *ps = 0;
    STACK_OF(X509_CRL) *all = 0;
    STACK_OF(X509_CRL) *sel = 0;
    STACK_OF(X509) *trusted = 0;
    STACK_OF(X509) *chain = 0;
    VFY_STATE best, st;
    int     best_i = -1;
    int     i, j;
    char    crlerr[300] = "";
    char    note[600] = "";
    char    nbuf[256];
    char    tbuf[32], tbuf2[32], tbuf3[32];
    int     have_anchors = trust && sk_X509_num(trust->anchors) > 0;
    int     memoizable = have_anchors && (opts->untrusted == 0 || sk_X509_num(opts->untrusted) <= 0);
    char    path_reason[sizeof(rep->rules[0].reason)];
    char    rev_reason[sizeof(rep->rules[0].reason)];
    int     n0 = rep->n;

    memset(&best, 0, sizeof(best));
    if (trust && trust->crl_path) {
	if ((all = crl_read_all(trust->crl_path, crlerr, sizeof(crlerr))) != 0) {
	    if (memoizable && memo_get(trust, cert, all, at, path_reason, rev_reason,
				       sizeof(path_reason))) {
		cm_cert_rule_add(rep, "path", 1, "%s", path_reason);
		cm_cert_rule_add(rep, "validity", 1, "valid %s to %s inclusive, checked at %s",
				 fmt_time(X509_get0_notBefore(cert), tbuf, sizeof(tbuf)),
				 fmt_time(X509_get0_notAfter(cert), tbuf2, sizeof(tbuf2)),
				 fmt_time_t(at, tbuf3, sizeof(tbuf3)));
		cm_cert_rule_add(rep, "revocation", 1, "%s", rev_reason);
		goto done;
	    }
	    sel = crl_select(all, at, note, sizeof(note));
	}
	if (sel == 0 && crlerr[0] == 0)
	    bfmt(crlerr, sizeof(crlerr), "out of memory");
    }
    if ((ps = calloc(1, sizeof(*ps))) == 0 || (trusted = sk_X509_new_null()) == 0
	|| (chain = sk_X509_new_null()) == 0) {
	cm_cert_rule_add(rep, "path", 0, "out of memory");
	goto done;
    }
    if (have_anchors) {
	ps->anchors = trust->anchors;
	for (i = 0; opts->untrusted && i < sk_X509_num(opts->untrusted) && i < 4 * CM_UNTRUSTED_MAX
	     && ps->nuntrusted < CM_UNTRUSTED_MAX; i++)
	    if (!is_anchor(trust->anchors, sk_X509_value(opts->untrusted, i)))
		ps->untrusted[ps->nuntrusted++] = sk_X509_value(opts->untrusted, i);
	ps->cur.certs[0] = cert;
	ps->cur.len = 1;
	path_extend(ps);
    }
    for (i = 0; i < ps->npaths; i++) {
	CM_PATH *p = ps->paths + i;

	memset(&st, 0, sizeof(st));
	st.at = at;
	st.anchor_top = 1;
	while (sk_X509_num(trusted) > 0)
	    (void) sk_X509_pop(trusted);
	while (sk_X509_num(chain) > 0)
	    (void) sk_X509_pop(chain);
	if (!sk_X509_push(trusted, p->certs[p->len - 1]))
	    continue;
	for (j = 1; j < p->len - 1; j++)
	    if (!sk_X509_push(chain, p->certs[j]))
		break;
	if (verify_run(cert, trusted, chain, sel, &st) < 0)
	    continue;
	if (best_i < 0 || st_fails(&st) < st_fails(&best)) {
	    best = st;
	    best_i = i;
	}
	if (st_fails(&st) == 0)
	    break;
    }
    if (best_i < 0) {
	/* No candidate path: let OpenSSL say why, for validity too. */
	memset(&best, 0, sizeof(best));
	best.at = at;
	(void) verify_run(cert, trust ? trust->anchors : 0, opts->untrusted, sel, &best);
	if (!have_anchors) {
	    bfmt(best.reason[CAT_PATH], sizeof(best.reason[CAT_PATH]),
		     "no trust anchors given (--ca)");
	} else if (best.nerr[CAT_PATH] == 0) {
	    bfmt(best.reason[CAT_PATH], sizeof(best.reason[CAT_PATH]),
		     "no candidate path to a trust anchor within %d certificates", CM_CHAIN_MAX);
	}
	best.nerr[CAT_PATH]++;
    }

    /*
     * The three rules.
     */
    if (best.nerr[CAT_PATH])
	cm_cert_rule_add(rep, "path", 0, "%s", best.reason[CAT_PATH]);
    else
	cm_cert_rule_add(rep, "path", 1, "%d certificate%s to anchor %s (candidate %d of %d)",
			 ps->paths[best_i].len, ps->paths[best_i].len > 1 ? "s" : "",
			 fmt_name(X509_get_subject_name(ps->paths[best_i].certs[ps->paths[best_i].len - 1]),
				  nbuf, sizeof(nbuf)), best_i + 1, ps->npaths);
    if (best.nerr[CAT_VALIDITY])
	cm_cert_rule_add(rep, "validity", 0, "%s", best.reason[CAT_VALIDITY]);
    else
	cm_cert_rule_add(rep, "validity", 1, "valid %s to %s inclusive, checked at %s",
			 fmt_time(X509_get0_notBefore(cert), tbuf, sizeof(tbuf)),
			 fmt_time(X509_get0_notAfter(cert), tbuf2, sizeof(tbuf2)),
			 fmt_time_t(at, tbuf3, sizeof(tbuf3)));
    if (trust == 0 || trust->crl_path == 0)
	cm_cert_rule_add(rep, "revocation", 0, "no CRLs given (--crl): revocation not checked");
    else if (sel == 0)
	cm_cert_rule_add(rep, "revocation", 0, "cannot read CRLs: %s", crlerr);
    else if (best_i < 0)
	cm_cert_rule_add(rep, "revocation", 0, "not checked: no path to a trust anchor");
    else if (best.nerr[CAT_REVOCATION] && note[0])
	cm_cert_rule_add(rep, "revocation", 0, "%s [%.*s]", best.reason[CAT_REVOCATION],
			 (int) (sizeof(rep->rules[0].reason) / 2), note);
    else if (best.nerr[CAT_REVOCATION])
	cm_cert_rule_add(rep, "revocation", 0, "%s", best.reason[CAT_REVOCATION]);
    else
	cm_cert_rule_add(rep, "revocation", 1, "not revoked: %d certificate%s checked against %d current CRL%s",
			 ps->paths[best_i].len - 1, ps->paths[best_i].len - 1 == 1 ? "" : "s",
			 sk_X509_CRL_num(sel), sk_X509_CRL_num(sel) == 1 ? "" : "s");
    if (memoizable && all && sel && best_i >= 0 && st_fails(&best) == 0 && rep->n == n0 + 3
	&& rep->rules[rep->n - 3].ok && rep->rules[rep->n - 2].ok && rep->rules[rep->n - 1].ok)
	memo_put(trust, cert, all, at, rep->rules[rep->n - 3].reason, rep->rules[rep->n - 1].reason);
done:
    sk_X509_free(trusted);
    sk_X509_free(chain);
    sk_X509_CRL_free(sel);
    sk_X509_CRL_pop_free(all, X509_CRL_free);
    free(ps);
}

/* check_key_usage - keyUsage for opts->usage */
static void check_key_usage(X509 *cert, const CM_CERT_OPTS *opts, CM_CERT_REPORT *rep)
{
    uint32_t ku = X509_get_key_usage(cert);
    int     ok = 1;
    char    need[128] = "";

    if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0) {
	cm_cert_rule_add(rep, "key-usage", 1, "no keyUsage extension: every use allowed");
	return;
    }
    if ((opts->usage & CM_USE_SIGN) && (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0) {
	ok = 0;
	note_add(need, sizeof(need), "digitalSignature or nonRepudiation");
    }
    if ((opts->usage & CM_USE_ENCIPHER) && (ku & KU_KEY_ENCIPHERMENT) == 0) {
	ok = 0;
	note_add(need, sizeof(need), "keyEncipherment");
    }
    if (ok)
	cm_cert_rule_add(rep, "key-usage", 1, "keyUsage allows %s%s%s",
			 (opts->usage & CM_USE_SIGN) ? "signing" : "",
			 (opts->usage & CM_USE_SIGN) && (opts->usage & CM_USE_ENCIPHER) ? " and " : "",
			 (opts->usage & CM_USE_ENCIPHER) ? "keyEncipherment" :
			 (opts->usage & CM_USE_SIGN) ? "" : "what is required (nothing)");
    else
	cm_cert_rule_add(rep, "key-usage", 0, "keyUsage lacks %s", need);
}

/* check_end_entity - a user or server certificate must not be a CA */
static void check_end_entity(X509 *cert, CM_CERT_REPORT *rep)
{
    uint32_t flags = X509_get_extension_flags(cert);
    int     ca = (flags & EXFLAG_CA) != 0;
    int     sign = (flags & EXFLAG_KUSAGE) && (X509_get_key_usage(cert) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN));

    if (ca || sign)
	cm_cert_rule_add(rep, "end-entity", 0, "a CA certificate (%s) is not a user or server certificate",
			 ca && sign ? "basicConstraints cA, keyCertSign or cRLSign"
			 : ca ? "basicConstraints cA" : "keyCertSign or cRLSign");
    else
	cm_cert_rule_add(rep, "end-entity", 1, "not a CA certificate");
}

/* check_eku - extendedKeyUsage for opts->purpose */
static void check_eku(X509 *cert, const CM_CERT_OPTS *opts, CM_CERT_REPORT *rep)
{
    static const struct {
	uint32_t bit;
	const char *name;
    } purposes[] = {
	{XKU_SMIME, "emailProtection"},
	{XKU_SSL_CLIENT, "clientAuth"},
	{XKU_SSL_SERVER, "serverAuth"},
	{0, "(any)"},
    };
    uint32_t xku;
    int     p = opts->purpose;

    if (p < CM_PURPOSE_SMIME || p > CM_PURPOSE_ANY)
	p = CM_PURPOSE_SMIME;
    if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0) {
	cm_cert_rule_add(rep, "ext-key-usage", 1, "no extendedKeyUsage extension: no restriction");
	return;
    }
    xku = X509_get_extended_key_usage(cert);
    if (p == CM_PURPOSE_ANY)
	cm_cert_rule_add(rep, "ext-key-usage", 1, "no extendedKeyUsage required (purpose any)");
    else if (xku & purposes[p].bit)
	cm_cert_rule_add(rep, "ext-key-usage", 1, "extendedKeyUsage contains %s", purposes[p].name);
    else if (xku & XKU_ANYEKU)
	cm_cert_rule_add(rep, "ext-key-usage", 1, "extendedKeyUsage contains anyExtendedKeyUsage");
    else
	cm_cert_rule_add(rep, "ext-key-usage", 0, "extendedKeyUsage lacks %s and anyExtendedKeyUsage",
			 purposes[p].name);
}

/* addr_equal - local part exact, domain case-insensitive */
static int addr_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    const char *at_a, *at_b;
    size_t  la, lb;

    if (memchr(a, '@', alen) == 0 || memchr(b, '@', blen) == 0)
	return (0);
    if (memchr(a, 0, alen) != 0 || memchr(b, 0, blen) != 0)
	return (0);			/* embedded NUL: never a match */
    /* The domain follows the last '@' (a quoted local part may hold one). */
    at_a = a + alen;
    while (at_a > a && at_a[-1] != '@')
	at_a--;
    at_b = b + blen;
    while (at_b > b && at_b[-1] != '@')
	at_b--;
    la = (size_t) (at_a - a);
    lb = (size_t) (at_b - b);
    if (la != lb || memcmp(a, b, la) != 0)
	return (0);
    if (alen - la != blen - lb)
	return (0);
    return (strncasecmp(at_a, at_b, alen - la) == 0);
}

/* check_address - every required address is one the certificate carries */
static void check_address(X509 *cert, const CM_CERT_OPTS *opts, CM_CERT_REPORT *rep)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, 0, 0);
    X509_NAME *subj = X509_get_subject_name(cert);
    const char *cert_addr[CM_SAN_MAX];
    size_t  cert_len[CM_SAN_MAX];
    int     ncert = 0;
    int     i, j;

    for (i = 0; san && i < sk_GENERAL_NAME_num(san) && i < CM_SAN_MAX; i++) {
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);

	if (gn->type == GEN_EMAIL && ncert < CM_SAN_MAX) {
	    cert_addr[ncert] = (const char *) ASN1_STRING_get0_data(gn->d.rfc822Name);
	    cert_len[ncert++] = (size_t) ASN1_STRING_length(gn->d.rfc822Name);
	}
    }
    for (i = -1; ncert < CM_SAN_MAX
	 && (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
	ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));

	cert_addr[ncert] = (const char *) ASN1_STRING_get0_data(s);
	cert_len[ncert++] = (size_t) ASN1_STRING_length(s);
    }
    if (opts->n_addresses > CM_CERT_ADDR_MAX) {
	cm_cert_rule_add(rep, "address", 0, "more than %d addresses to match", CM_CERT_ADDR_MAX);
    } else if (opts->n_addresses <= 0) {
	cm_cert_rule_add(rep, "address", 1, "no address to match (certificate carries %d)", ncert);
    } else if (ncert == 0) {
	cm_cert_rule_add(rep, "address", 0, "certificate carries no mail address, %.200s required",
			 opts->addresses[0] ? opts->addresses[0] : "(null)");
    } else {
	for (j = 0; j < opts->n_addresses; j++) {
	    const char *want = opts->addresses[j];
	    size_t  wlen = want ? strlen(want) : 0;

	    for (i = 0; i < ncert; i++)
		if (wlen > 0 && wlen <= CM_ADDRESS_MAX
		    && addr_equal(want, wlen, cert_addr[i], cert_len[i]))
		    break;
	    if (i == ncert) {
		cm_cert_rule_add(rep, "address", 0, "%.200s not among the certificate's %d address%s",
				 want ? want : "(null)", ncert, ncert == 1 ? "" : "es");
		break;
	    }
	}
	if (j == opts->n_addresses)
	    cm_cert_rule_add(rep, "address", 1, "%d address%s matched (domain case-insensitive)",
			     j, j == 1 ? "" : "es");
    }
    GENERAL_NAMES_free(san);
}

/* cm_cert_check - every rule, into rep */
int     cm_cert_check(CM_TRUST *trust, X509 *cert, const CM_CERT_OPTS *opts, CM_CERT_REPORT *rep)
{
    static const CM_CERT_OPTS no_opts;
    time_t  at;

    rep->n = 0;
    if (opts == 0)
	opts = &no_opts;
    if (cert == 0) {
	cm_cert_rule_add(rep, "path", 0, "no certificate");
	return (-1);
    }
    at = opts->at ? opts->at : time((time_t *) 0);
    check_path(trust, cert, opts, at, rep);
    if (opts->role != CM_ROLE_NONE)
	check_key_usage(cert, opts, rep);
    if (opts->role != CM_ROLE_NONE)
	check_end_entity(cert, rep);
    check_eku(cert, opts, rep);
    check_address(cert, opts, rep);
    if (opts->role != CM_ROLE_NONE)
	(void) cm_profile_check(cert, opts->role, rep);
    return (cm_cert_report_ok(rep) ? 0 : -1);
}

/* cm_cert_validate - 0, or -1 with the first failure in err */
int     cm_cert_validate(CM_TRUST *trust, X509 *cert, const CM_CERT_OPTS *opts, char *err, size_t errlen)
{
    CM_CERT_REPORT *rep = calloc(1, sizeof(*rep));
    int     i;

    if (rep == 0) {
	bfmt(err, errlen, "out of memory");
	return (-1);
    }
    if (cm_cert_check(trust, cert, opts, rep) == 0) {
	free(rep);
	return (0);
    }
    bfmt(err, errlen, "certificate check failed");
    for (i = 0; i < rep->n; i++) {
	if (!rep->rules[i].ok) {
	    bfmt(err, errlen, "%s: %s", rep->rules[i].rule, rep->rules[i].reason);
	    break;
	}
    }
    free(rep);
    return (-1);
}

/* cm_cert_opts_user - the options for a user certificate of one address */
void    cm_cert_opts_user(CM_CERT_OPTS *opts, const char *address, int usage)
{
    memset(opts, 0, sizeof(*opts));
    opts->role = CM_ROLE_CLIENT;
    opts->purpose = CM_PURPOSE_SMIME;
    opts->usage = usage;
    opts->addresses[0] = address;
    opts->n_addresses = 1;
}
