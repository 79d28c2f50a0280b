/*++
 * NAME
 *	cm_certcache 3
 * SUMMARY
 *	per-process caches of parsed certificates and CRL files
 * DESCRIPTION
 *	See cm_certcache.h. Two small tables searched linearly (a 64-bit
 *	FNV-1a hash of the DER bytes or of the path first, then the full
 *	comparison), least recently used eviction by a use counter. Parsing
 *	happens outside the mutex; the result is inserted unless another
 *	thread inserted the same bytes meanwhile.
 *--*/
#include "config.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <openssl/x509.h>
#include <openssl/err.h>

#include "cm_limits.h"
#include "cm_certcache.h"

typedef struct {
    unsigned long long hash;		/* FNV-1a of der */
    size_t  len;
    unsigned char *der;
    X509   *x;				/* our reference */
    unsigned long long used;		/* last use (tick) */
} CERT_ENTRY;

typedef struct {
    char   *path;
    unsigned long long hash;		/* FNV-1a of path */
    int     in_dir;
    dev_t   dev;
    ino_t   ino;
    off_t   size;
    struct timespec mtim;
    struct timespec ctim;
    STACK_OF(X509_CRL) *crls;		/* our references */
    unsigned long long used;
} CRL_ENTRY;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static CERT_ENTRY certs[CM_CERTCACHE_MAX];
static int ncerts;
static long long cert_bytes;
static CRL_ENTRY crls[CM_CRLCACHE_FILES];
static int ncrls;
static long long crl_bytes;
static unsigned long long tick;
static CM_CERTCACHE_STATS stats;

/* cache_prefork - hold the mutex across fork() */
static void cache_prefork(void)
{
    pthread_mutex_lock(&cache_lock);
}

/* cache_postfork - release it in parent and child */
static void cache_postfork(void)
{
    pthread_mutex_unlock(&cache_lock);
}

/* cache_init - once per process */
static void cache_init(void)
{
    (void) pthread_atfork(cache_prefork, cache_postfork, cache_postfork);
}

/* cache_enter - lock the caches */
static void cache_enter(void)
{
    (void) pthread_once(&cache_once, cache_init);
    pthread_mutex_lock(&cache_lock);
}

/* cache_leave - unlock the caches */
static void cache_leave(void)
{
    pthread_mutex_unlock(&cache_lock);
}

/* fnv1a - 64-bit FNV-1a hash */
static unsigned long long fnv1a(const unsigned char *p, size_t len)
{
    unsigned long long h = 14695981039346656037ULL;

    while (len-- > 0) {
	h ^= *p++;
	h *= 1099511628211ULL;
    }
    return (h);
}

/* cert_drop - remove certificate entry i (locked) */
static void cert_drop(int i)
{
    cert_bytes -= (long long) certs[i].len;
    X509_free(certs[i].x);
    free(certs[i].der);
    certs[i] = certs[--ncerts];
    memset(&certs[ncerts], 0, sizeof(certs[ncerts]));
}

/* cert_find - index of the entry with these bytes, or -1 (locked) */
static int cert_find(const unsigned char *der, size_t len, unsigned long long h)
{
    int     i;

    for (i = 0; i < ncerts; i++)
	if (certs[i].hash == h && certs[i].len == len && memcmp(certs[i].der, der, len) == 0)
	    return (i);
    return (-1);
}

/* cert_intact - does the cached object still encode to its bytes? */
static int cert_intact(const CERT_ENTRY *e)
{
    unsigned char *enc = 0;
    int     n = i2d_X509(e->x, &enc);
    int     same = (n > 0 && (size_t) n == e->len && memcmp(enc, e->der, e->len) == 0);

    OPENSSL_free(enc);
    ERR_clear_error();
    return (same);
}

/* cert_lookup - new reference to a cached certificate, or null (locked) */
static X509 *cert_lookup(const unsigned char *der, size_t len, unsigned long long h)
{
    int     i;

    if ((i = cert_find(der, len, h)) < 0)
	return (0);
    if (!cert_intact(&certs[i])) {
	stats.cert_modified++;
	cert_drop(i);
	return (0);
    }
    if (!X509_up_ref(certs[i].x))
	return (0);
    certs[i].used = ++tick;
    stats.cert_hits++;
    return (certs[i].x);
}

/* cert_insert - cache a parsed certificate (locked) */
static void cert_insert(const unsigned char *der, size_t len, unsigned long long h, X509 *x)
{
    CERT_ENTRY *e;
    unsigned char *copy;
    int     i, lru;

    if (len == 0 || len > CM_CERT_DER_MAX || cert_find(der, len, h) >= 0)
	return;
    if ((copy = malloc(len)) == 0)
	return;
    if (!X509_up_ref(x)) {
	free(copy);
	return;
    }
    memcpy(copy, der, len);
    while (ncerts > 0 && (ncerts >= CM_CERTCACHE_MAX
			  || cert_bytes + (long long) len > CM_CERTCACHE_BYTES)) {
	for (lru = 0, i = 1; i < ncerts; i++)
	    if (certs[i].used < certs[lru].used)
		lru = i;
	cert_drop(lru);
	stats.cert_evictions++;
    }
    cert_bytes += (long long) len;
    e = &certs[ncerts++];
    e->hash = h;
    e->len = len;
    e->der = copy;
    e->x = x;
    e->used = ++tick;
}

/* cm_certcache_d2i - a certificate from DER, parsed once per process */
X509   *cm_certcache_d2i(const unsigned char *der, size_t len, int exact)
{
    const unsigned char *p = der;
    unsigned long long h;
    X509   *x;

    if (der == 0 || len == 0 || len > (size_t) LONG_MAX)
	return (0);
    h = fnv1a(der, len);
    cache_enter();
    x = cert_lookup(der, len, h);
    if (x == 0)
	stats.cert_parses++;
    cache_leave();
    if (x != 0)
	return (x);
    if ((x = d2i_X509(0, &p, (long) len)) == 0)
	return (0);
    if (p != der + len) {
	/* Bytes after the certificate: an error, or not cached. */
	if (exact) {
	    X509_free(x);
	    return (0);
	}
	return (x);
    }
    cache_enter();
    cert_insert(der, len, h, x);
    cache_leave();
    return (x);
}

/* cm_certcache_add - cache a certificate parsed elsewhere */
int     cm_certcache_add(X509 *x)
{
    unsigned char *der = 0;
    int     len;

    if (x == 0 || (len = i2d_X509(x, &der)) <= 0) {
	ERR_clear_error();
	return (-1);
    }
    cache_enter();
    cert_insert(der, (size_t) len, fnv1a(der, (size_t) len), x);
    cache_leave();
    OPENSSL_free(der);
    return (0);
}

/* crl_drop - remove CRL file entry i (locked) */
static void crl_drop(int i)
{
    crl_bytes -= (long long) crls[i].size;
    free(crls[i].path);
    sk_X509_CRL_pop_free(crls[i].crls, X509_CRL_free);
    crls[i] = crls[--ncrls];
    memset(&crls[ncrls], 0, sizeof(crls[ncrls]));
}

/* crl_find - index of the entry for a path, or -1 (locked) */
static int crl_find(const char *path, unsigned long long h, int in_dir)
{
    int     i;

    for (i = 0; i < ncrls; i++)
	if (crls[i].hash == h && crls[i].in_dir == in_dir && strcmp(crls[i].path, path) == 0)
	    return (i);
    return (-1);
}

/* same_time - equal timestamps */
static int same_time(const struct timespec *a, const struct timespec *b)
{
    return (a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec);
}

/* same_file - is the cached entry this file generation? */
static int same_file(const CRL_ENTRY *e, const struct stat *st)
{
    return (e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size
	    && same_time(&e->mtim, &st->st_mtim) && same_time(&e->ctim, &st->st_ctim));
}

/* racy - modified too recently to trust its timestamps */
static int racy(const struct stat *st)
{
    struct timespec now;
    time_t  limit;

    if (clock_gettime(CLOCK_REALTIME, &now) < 0)
	return (1);
    limit = now.tv_sec - CM_CRLCACHE_RACY;
    return (st->st_mtim.tv_sec >= limit || st->st_ctim.tv_sec >= limit);
}

/* cm_crlcache_get - the cached CRLs of a file in this generation */
int     cm_crlcache_get(const char *path, const struct stat *st, int in_dir,
			        STACK_OF(X509_CRL) *out, int room)
{
    unsigned long long h = fnv1a((const unsigned char *) path, strlen(path));
    int     i, j, n = 0;

    cache_enter();
    if ((i = crl_find(path, h, in_dir)) >= 0 && !same_file(&crls[i], st)) {
	crl_drop(i);				/* a new generation */
	i = -1;
    }
    if (i < 0) {
	stats.crl_parses++;
	cache_leave();
	return (-1);
    }
    for (j = 0; j < sk_X509_CRL_num(crls[i].crls) && n < room; j++) {
	X509_CRL *crl = sk_X509_CRL_value(crls[i].crls, j);

	if (!X509_CRL_up_ref(crl))
	    break;
	if (!sk_X509_CRL_push(out, crl)) {
	    X509_CRL_free(crl);
	    break;
	}
	n++;
    }
    crls[i].used = ++tick;
    stats.crl_hits++;
    cache_leave();
    return (n);
}

/* cm_crlcache_put - remember the CRLs parsed from a file */
void    cm_crlcache_put(const char *path, const struct stat *st, int in_dir,
			        STACK_OF(X509_CRL) *list)
{
    unsigned long long h = fnv1a((const unsigned char *) path, strlen(path));
    STACK_OF(X509_CRL) *copy;
    CRL_ENTRY *e;
    char   *pcopy;
    int     i, lru;

    if (st->st_size < 0 || st->st_size > CM_CRLCACHE_BYTES || racy(st))
	return;
    if ((copy = sk_X509_CRL_new_null()) == 0)
	return;
    for (i = 0; i < sk_X509_CRL_num(list); i++) {
	X509_CRL *crl = sk_X509_CRL_value(list, i);

	if (!X509_CRL_up_ref(crl)) {
	    sk_X509_CRL_pop_free(copy, X509_CRL_free);
	    return;
	}
	if (!sk_X509_CRL_push(copy, crl)) {
	    X509_CRL_free(crl);
	    sk_X509_CRL_pop_free(copy, X509_CRL_free);
	    return;
	}
    }
    if ((pcopy = strdup(path)) == 0) {
	sk_X509_CRL_pop_free(copy, X509_CRL_free);
	return;
    }
    cache_enter();
    if ((i = crl_find(path, h, in_dir)) >= 0)
	crl_drop(i);
    while (ncrls > 0 && (ncrls >= CM_CRLCACHE_FILES
			 || crl_bytes + (long long) st->st_size > CM_CRLCACHE_BYTES)) {
	for (lru = 0, i = 1; i < ncrls; i++)
	    if (crls[i].used < crls[lru].used)
		lru = i;
	crl_drop(lru);
	stats.crl_evictions++;
    }
    e = &crls[ncrls++];
    e->path = pcopy;
    e->hash = h;
    e->in_dir = in_dir;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtim = st->st_mtim;
    e->ctim = st->st_ctim;
    e->crls = copy;
    e->used = ++tick;
    crl_bytes += (long long) st->st_size;
    cache_leave();
}

/* cm_certcache_stats - counters and sizes */
void    cm_certcache_stats(CM_CERTCACHE_STATS *out)
{
    cache_enter();
    *out = stats;
    out->cert_entries = ncerts;
    out->cert_bytes = cert_bytes;
    out->crl_entries = ncrls;
    out->crl_bytes = crl_bytes;
    cache_leave();
}

/* cm_certcache_flush - empty both caches */
void    cm_certcache_flush(void)
{
    cache_enter();
    while (ncerts > 0)
	cert_drop(ncerts - 1);
    while (ncrls > 0)
	crl_drop(ncrls - 1);
    cache_leave();
}
