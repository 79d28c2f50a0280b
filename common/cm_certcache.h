#ifndef CM_CERTCACHE_H
#define CM_CERTCACHE_H
/*++
 * NAME
 *	cm_certcache 3h
 * SUMMARY
 *	per-process caches of parsed certificates and CRL files
 * SYNOPSIS
 *	#include "cm_certcache.h"
 *
 *	X509	*cm_certcache_d2i(const unsigned char *der, size_t len,
 *				int exact);
 *	int	cm_certcache_add(X509 *x);
 *	int	cm_crlcache_get(const char *path, const struct stat *st,
 *				int in_dir, STACK_OF(X509_CRL) *out,
 *				int room);
 *	void	cm_crlcache_put(const char *path, const struct stat *st,
 *				int in_dir, STACK_OF(X509_CRL) *crls);
 *	void	cm_certcache_stats(CM_CERTCACHE_STATS *stats);
 *	void	cm_certcache_flush(void);
 * DESCRIPTION
 *	Parsing a certificate costs about 1.5 M instructions with OpenSSL
 *	3.0 (its decoder framework for the public key) and the same few
 *	certificates come by again and again in one process: trust
 *	anchors, users' PEM files, the KeyInfo certificates of notices.
 *
 *	cm_certcache_d2i() returns a new reference (X509_free() it) to the
 *	certificate whose DER encoding is exactly der[0..len), parsing it
 *	only when no cached certificate has those bytes (compared in full,
 *	not by digest). With exact non-zero, bytes after the certificate
 *	are an error (NULL); otherwise they are allowed, and such a
 *	certificate is returned but not cached. Cached certificates are
 *	shared: callers must treat them as read-only (as OpenSSL does
 *	with X509_STORE): X509_free() by one holder leaves the others'
 *	object intact. As a guard, a hit whose object no longer encodes
 *	to the cached bytes (someone re-signed or re-encoded it) is
 *	dropped from the cache and the bytes are parsed afresh; OpenSSL
 *	3.0 setters such as X509_set_subject_name() keep the cached
 *	encoding, so that guard cannot see them: never modify.
 *
 *	cm_certcache_add() caches (a new reference to) a certificate that
 *	was parsed elsewhere, e.g. by SSL_CTX_use_certificate_chain_file(),
 *	so that the same bytes met later (a notice's KeyInfo) need no
 *	parsing. It returns 0, or -1 when x cannot be encoded.
 *
 *	The CRL file cache maps a file name and its identity (device,
 *	inode, size, mtime and ctime, nanoseconds) to the CRLs parsed from
 *	it. cm_crlcache_get() appends (new references to) at most room
 *	cached CRLs of the file to out and returns how many, or -1 when
 *	the file is not cached in that identity (the caller parses it and
 *	calls cm_crlcache_put(), which keeps its own references). A file
 *	modified less than CM_CRLCACHE_RACY seconds ago is never cached
 *	(a write in the same timestamp tick could go unseen), so a CRL
 *	replaced or rewritten on disk is read again by the next check.
 *	Only files that parsed are cached (an error is found again by the
 *	next check). in_dir is part of the key (a file of certificates
 *	in a CRL directory is cached as holding no CRL).
 *
 *	Both caches are bounded (CM_CERTCACHE_MAX certificates of at most
 *	CM_CERT_DER_MAX bytes each and CM_CERTCACHE_BYTES in all, so that
 *	certificates sent by peers cannot grow a long-running process
 *	much; CM_CRLCACHE_FILES files, at most
 *	CM_CRLCACHE_BYTES bytes of files in all) and evict the least
 *	recently used entry. They are plain process memory guarded by a
 *	mutex (held across fork() by pthread_atfork handlers), so a
 *	forking daemon that warms them in the parent gives every child a
 *	warm copy.
 *
 *	cm_certcache_stats() reports counters and sizes (for tests and
 *	benchmarks). cm_certcache_flush() empties both caches.
 *--*/
#include <stddef.h>
#include <sys/stat.h>
#include <openssl/x509.h>

#define CM_CERTCACHE_MAX	512	/* certificates */
#define CM_CERTCACHE_BYTES	(2 * 1024 * 1024)	/* sum of their DER sizes */
#define CM_CRLCACHE_FILES	1024	/* CRL files */
#define CM_CRLCACHE_BYTES	(128 * 1024 * 1024)	/* sum of CRL file sizes */
#define CM_CRLCACHE_RACY	2	/* seconds: younger files are not cached */

typedef struct {
    unsigned long cert_parses;		/* certificates parsed (misses) */
    unsigned long cert_hits;		/* certificates served from the cache */
    unsigned long cert_evictions;	/* least recently used dropped */
    unsigned long cert_modified;	/* hits dropped: object was modified */
    int     cert_entries;		/* certificates cached now */
    long long cert_bytes;		/* their DER sizes */
    unsigned long crl_parses;		/* CRL files parsed (misses) */
    unsigned long crl_hits;		/* CRL files served from the cache */
    unsigned long crl_evictions;
    int     crl_entries;		/* CRL files cached now */
    long long crl_bytes;		/* their sizes on disk */
} CM_CERTCACHE_STATS;

extern X509 *cm_certcache_d2i(const unsigned char *der, size_t len, int exact);
extern int cm_certcache_add(X509 *x);
extern int cm_crlcache_get(const char *path, const struct stat *st, int in_dir,
			           STACK_OF(X509_CRL) *out, int room);
extern void cm_crlcache_put(const char *path, const struct stat *st, int in_dir,
			            STACK_OF(X509_CRL) *crls);
extern void cm_certcache_stats(CM_CERTCACHE_STATS *stats);
extern void cm_certcache_flush(void);

#endif
