#ifndef CM_CERT_H
#define CM_CERT_H
/*++
 * NAME
 *	cm_cert 3h
 * SUMMARY
 *	RFC 3850 / RFC 5280 certificate validation for Cmail
 * SYNOPSIS
 *	#include "cm_cert.h"
 *
 *	CM_TRUST *cm_trust_load(const char *anchors, const char *crls,
 *				char *err, size_t errlen);
 *	void	cm_trust_free(CM_TRUST *trust);
 *	STACK_OF(X509) *cm_trust_anchors(const CM_TRUST *trust);
 *	STACK_OF(X509_NAME) *cm_trust_anchor_names(const CM_TRUST *trust);
 *
 *	STACK_OF(X509_NAME) *cm_cert_subject_names(const STACK_OF(X509) *certs);
 *	int	cm_cert_check(CM_TRUST *trust, X509 *cert,
 *				const CM_CERT_OPTS *opts, CM_CERT_REPORT *rep);
 *	void	cm_cert_opts_user(CM_CERT_OPTS *opts, const char *address,
 *				int usage);
 *	int	cm_cert_validate(CM_TRUST *trust, X509 *cert,
 *				const CM_CERT_OPTS *opts, char *err, size_t errlen);
 *
 *	void	cm_cert_rule_add(CM_CERT_REPORT *rep, const char *rule,
 *				int ok, const char *fmt, ...);
 *	int	cm_cert_report_ok(const CM_CERT_REPORT *rep);
 *
 *	void	cm_cert_memo_stats(unsigned long *hits, unsigned long *misses,
 *				int *entries);
 *	void	cm_cert_memo_flush(void);
 * DESCRIPTION
 *	cm_trust_load() reads the trust anchors (a PEM file; every
 *	certificate in it is an anchor, self-signed or not) and the CRLs
 *	(a PEM/DER file, or a directory of them; NULL for none). Each
 *	check looks at the CRL files again and parses a file again when
 *	it changed on disk (another inode, size, mtime or ctime: see
 *	cm_certcache(3)), so revocation is current without a restart;
 *	every check verifies the CRLs' signatures and times anew. Per
 *	issuer only the newest CRL issued at or before the verification
 *	time counts (highest CRLNumber, else latest thisUpdate); v2 CRLs
 *	without CRLNumber and CRLs whose issuer lacks cRLSign are refused.
 *	A CRL file that does not parse fails the revocation rule; in a
 *	directory, dot files and files of certificates are skipped.
 *
 *	cm_cert_check() runs every rule that applies (PROFILE.md section 7:
 *	path validation, validity with notAfter inclusive, revocation,
 *	keyUsage for opts->usage, extendedKeyUsage per opts->purpose,
 *	address match, and the Annex C.2/C.3 profile for opts->role) and
 *	records one CM_CERT_RULE per rule in rep. It returns 0 when all
 *	pass, -1 otherwise.
 *
 *	cm_cert_validate() is the same for programs: 0, or -1 with the
 *	first failed rule and its reason in err.
 *
 *	cm_cert_opts_user() sets opts for a Cmail user's certificate of
 *	one address (Annex C.3, role client, purpose S/MIME) with the
 *	keyUsage bits usage (CM_USE_SIGN, CM_USE_ENCIPHER).
 *
 *	Verification time is opts->at when non-zero (the auditor's --at),
 *	else the clock. Servers never set opts->at.
 *
 *	Revocation is mandatory: with no CRL source (crls NULL) the
 *	"revocation" rule fails ("no CRLs given"). With trust NULL or no
 *	anchors, "path" fails ("no trust anchors given (--ca)") and the
 *	other rules still run. Rule names: path, validity, revocation,
 *	key-usage and end-entity (not for CM_ROLE_NONE: a user or server
 *	certificate must not be a CA: no basicConstraints cA, no
 *	keyCertSign or cRLSign), ext-key-usage, address, then
 *	the c2-* or c3-* rules of cm_profile_check().
 *
 *	Mail addresses: the local part is compared case-sensitively
 *	(RFC 5321 section 2.4), the domain case-insensitively.
 *
 *	cm_trust_anchors() returns the anchors (borrowed: do not free or
 *	modify; up-ref what you keep), an empty stack without anchors file,
 *	NULL when trust is NULL.
 *
 *	cm_trust_anchor_names() returns the anchors' subject names
 *	(duplicates once), e.g. for SSL_CTX_set_client_CA_list() instead
 *	of SSL_load_client_CA_file(), which parses the anchors again; NULL
 *	without anchors or memory. The caller frees the stack
 *	(sk_X509_NAME_pop_free(names, X509_NAME_free)) or hands it over.
 *	cm_cert_subject_names() does the same for any certificates (an
 *	empty stack for none).
 *
 *	A path check that passed (path, validity and revocation rules,
 *	no opts->untrusted) is memoized per process (at most 64, least
 *	recently used out): a later check of the same certificate (DER)
 *	against the very same anchor and CRL objects (trust stores loaded
 *	from the same files share them through the cache; a CRL file that
 *	changed is parsed into new ones) reuses the three
 *	results when its time lies on the same side of every notBefore,
 *	notAfter, thisUpdate and nextUpdate of the certificate, the
 *	anchors and the CRLs (or is the same second): then OpenSSL's path
 *	validation would decide the same. Failures are never memoized; the
 *	other rules always run. cm_cert_memo_stats() and
 *	cm_cert_memo_flush() are for tests and benchmarks.
 *
 *	cm_cert_rule_add() appends one rule (reason printf-formatted and
 *	truncated to fit); when the report is full the last slot becomes
 *	a failed "report-full" rule. cm_cert_report_ok() is 1 when every
 *	rule passed.
 *--*/
#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

typedef struct CM_TRUST CM_TRUST;

typedef enum {
    CM_ROLE_NONE = 0,			/* RFC 5280 only, no Annex C, no keyUsage */
    CM_ROLE_CLIENT,			/* Annex C.3 user certificate */
    CM_ROLE_SERVER,			/* Annex C.2 server certificate */
} CM_CERT_ROLE;

typedef enum {
    CM_PURPOSE_SMIME = 0,		/* EKU, if present: emailProtection */
    CM_PURPOSE_CLIENT,			/* clientAuth */
    CM_PURPOSE_SERVER,			/* serverAuth */
    CM_PURPOSE_ANY,			/* no EKU requirement */
} CM_CERT_PURPOSE;

#define CM_USE_SIGN	(1 << 0)	/* digitalSignature or nonRepudiation */
#define CM_USE_ENCIPHER	(1 << 1)	/* keyEncipherment (wraps RSCK) */

#define CM_CERT_ADDR_MAX 16

typedef struct {
    CM_CERT_ROLE role;
    CM_CERT_PURPOSE purpose;
    int     usage;			/* CM_USE_* bits required */
    const char *addresses[CM_CERT_ADDR_MAX];	/* all must match */
    int     n_addresses;
    time_t  at;				/* 0 = now */
    STACK_OF(X509) *untrusted;		/* path-building help, never trusted */
} CM_CERT_OPTS;

typedef struct {
    char    rule[64];			/* e.g. "path", "not-after", "c3-surname" */
    int     ok;
    char    reason[256];
} CM_CERT_RULE;

#define CM_CERT_RULES_MAX 64

typedef struct {
    int     n;
    CM_CERT_RULE rules[CM_CERT_RULES_MAX];
} CM_CERT_REPORT;

extern CM_TRUST *cm_trust_load(const char *anchors, const char *crls, char *err, size_t errlen);
extern void cm_trust_free(CM_TRUST *trust);
extern STACK_OF(X509) *cm_trust_anchors(const CM_TRUST *trust);
extern STACK_OF(X509_NAME) *cm_trust_anchor_names(const CM_TRUST *trust);
extern STACK_OF(X509_NAME) *cm_cert_subject_names(const STACK_OF(X509) *certs);
extern int cm_cert_check(CM_TRUST *trust, X509 *cert, const CM_CERT_OPTS *opts, CM_CERT_REPORT *rep);
extern int cm_cert_validate(CM_TRUST *trust, X509 *cert, const CM_CERT_OPTS *opts, char *err, size_t errlen);
extern void cm_cert_opts_user(CM_CERT_OPTS *opts, const char *address, int usage);
extern void cm_cert_rule_add(CM_CERT_REPORT *rep, const char *rule, int ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
extern int cm_cert_report_ok(const CM_CERT_REPORT *rep);
extern void cm_cert_memo_stats(unsigned long *hits, unsigned long *misses, int *entries);
extern void cm_cert_memo_flush(void);

#endif
