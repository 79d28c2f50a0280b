/*++
 * NAME
 *	cm_tls 3
 * SUMMARY
 *	server and client TLS contexts with Cmail's protocol and cipher policy
 * DESCRIPTION
 *	See cm_tls.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cm_log.h"
#include "cm_pem.h"
#include "cm_cert.h"
#include "cm_tls.h"

#define CM_TLS_TICKET_KEYS_LEN	80	/* key name 16, HMAC key 32, AES key 32 */
#define CM_TLS_SESSION_FILE_MAX	(64 * 1024)	/* a saved session, PEM */

/*
 * A client context's session file (cm_tls_client_session_file()), kept
 * in the context's ex_data and freed with it.
 */
typedef struct {
    char   *path;
    SSL_SESSION *offer;			/* read from path, offered to each handshake */
} CM_TLS_SESSFILE;

static int cm_tls_sessfile_index = -1;
static pthread_once_t cm_tls_sessfile_once = PTHREAD_ONCE_INIT;

/* tls_policy - versions, ciphers, options common to both sides */
static int tls_policy(SSL_CTX *ctx)
{
    return (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
	    && SSL_CTX_set_cipher_list(ctx, CM_TLS12_CIPHERS)
	    && SSL_CTX_set_ciphersuites(ctx, CM_TLS13_SUITES)
	    && (SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
				    | SSL_OP_CIPHER_SERVER_PREFERENCE), 1));
}

/* use_chain - leaf and chain of a PEM file, through cm_pem's certificate cache */
static int use_chain(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *sk;
    int     i, ok;

    /*
     * Parsed once per process: the same certificate comes back in the
     * KeyInfo of our own postmark signature, and cmtpd's idea of its
     * server certificate is this leaf when the files are the same.
     */
    if ((sk = cm_pem_read_certs(path, err, errlen)) == 0)
	return (-1);
    ok = SSL_CTX_use_certificate(ctx, sk_X509_value(sk, 0)) == 1 && SSL_CTX_clear_chain_certs(ctx) == 1;
    for (i = 1; ok && i < sk_X509_num(sk); i++)
	ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(sk, i)) == 1;
    if (!ok)
	cm_ssl_errors(err, errlen);
    sk_X509_pop_free(sk, X509_free);
    return (ok ? 0 : -1);
}

/* cm_tls_server_ctx - context for the server side */
SSL_CTX *cm_tls_server_ctx(const char *cert, const char *key, const char *client_ca,
			           char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    char    ebuf[512];

    if (ctx == 0 || !tls_policy(ctx)) {
	snprintf(err, errlen, "TLS context: %s", cm_ssl_errors(ebuf, sizeof(ebuf)));
	goto fail;
    }
    if (use_chain(ctx, cert, ebuf, sizeof(ebuf)) < 0) {
	snprintf(err, errlen, "TLS certificate %s: %s", cert, ebuf);
	goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
	|| SSL_CTX_check_private_key(ctx) != 1) {
	snprintf(err, errlen, "TLS key %s: %s", key, cm_ssl_errors(ebuf, sizeof(ebuf)));
	goto fail;
    }
    if (client_ca) {
	if (SSL_CTX_load_verify_locations(ctx, client_ca, 0) != 1) {
	    snprintf(err, errlen, "TLS client CA %s: %s", client_ca, cm_ssl_errors(ebuf, sizeof(ebuf)));
	    goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, 0);
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return (ctx);
fail:
    SSL_CTX_free(ctx);
    return (0);
}

/* load_anchors - a PEM file's certificates into the verify store */
static int load_anchors(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *sk;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int     i, ok;

    /*
     * Through cm_pem (its certificate cache): the anchors a process has
     * parsed already, e.g. for cm_trust_load(), are not parsed again.
     */
    if ((sk = cm_pem_read_certs(path, err, errlen)) == 0)
	return (-1);
    for (ok = 1, i = 0; ok && i < sk_X509_num(sk); i++)
	ok = X509_STORE_add_cert(store, sk_X509_value(sk, i)) == 1;
    if (!ok)
	cm_ssl_errors(err, errlen);
    sk_X509_pop_free(sk, X509_free);
    return (ok ? 0 : -1);
}

/* anchor_names - the distinct subject names of a PEM file's certificates */
static STACK_OF(X509_NAME) *anchor_names(const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *sk;
    STACK_OF(X509_NAME) *names;

    if ((sk = cm_pem_read_certs(path, err, errlen)) == 0)
	return (0);
    if ((names = cm_cert_subject_names(sk)) == 0)
	snprintf(err, errlen, "out of memory");
    sk_X509_pop_free(sk, X509_free);
    return (names);
}

/* cm_tls_client_ctx - context for the client side, server always verified */
SSL_CTX *cm_tls_client_ctx(const char *ca, const char *cert, const char *key,
			           char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char    ebuf[512];

    if (ctx == 0 || !tls_policy(ctx)) {
	snprintf(err, errlen, "TLS context: %s", cm_ssl_errors(ebuf, sizeof(ebuf)));
	goto fail;
    }
    if (ca == 0 || load_anchors(ctx, ca, ebuf, sizeof(ebuf)) < 0) {
	snprintf(err, errlen, "TLS trust anchors %s: %s", ca ? ca : "(none)",
		 ca ? ebuf : "none given");
	goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, 0);
    if (cert && key) {
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1
	    || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
	    || SSL_CTX_check_private_key(ctx) != 1) {
	    snprintf(err, errlen, "TLS client certificate %s / key %s: %s", cert, key,
		     cm_ssl_errors(ebuf, sizeof(ebuf)));
	    goto fail;
	}
    }
    return (ctx);
fail:
    SSL_CTX_free(ctx);
    return (0);
}

/* tls_accept_any - leave the decision to cm_peer (stricter than OpenSSL) */
static int tls_accept_any(int ok, X509_STORE_CTX *ctx)
{
    (void) ok;
    (void) ctx;
    return (1);
}

/* cm_tls_server_ask_peer - request, not require, a client certificate */
int     cm_tls_server_ask_peer(SSL_CTX *ctx, const char *anchors, char *err, size_t errlen)
{
    STACK_OF(X509_NAME) *names;
    char    ebuf[256];

    if (anchors && *anchors) {
	if ((names = anchor_names(anchors, ebuf, sizeof(ebuf))) == 0) {
	    snprintf(err, errlen, "trust anchors %s: %s", anchors, ebuf);
	    return (-1);
	}
	SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_accept_any);
    return (0);
}

/* cm_tls_server_ticket_rotate - fresh random session ticket keys */
int     cm_tls_server_ticket_rotate(SSL_CTX *ctx)
{
    unsigned char keys[CM_TLS_TICKET_KEYS_LEN];
    int     ok;

    if (RAND_priv_bytes(keys, sizeof(keys)) != 1)
	return (-1);
    ok = SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys)) == 1;
    OPENSSL_cleanse(keys, sizeof(keys));
    return (ok ? 0 : -1);
}

/* cm_tls_server_tickets - stateless session tickets, or none */
int     cm_tls_server_tickets(SSL_CTX *ctx, long lifetime, char *err, size_t errlen)
{
    char    ebuf[256];

    if (lifetime <= 0) {
	/* No ticket is issued, none is accepted: nothing to resume. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
	    goto fail;
	return (0);
    }
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    /* Resumption with SSL_VERIFY_PEER needs a session id context. */
    if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *) "cmail", 5) != 1
	|| SSL_CTX_set_num_tickets(ctx, 1) != 1
	|| cm_tls_server_ticket_rotate(ctx) < 0)
	goto fail;
    SSL_CTX_set_timeout(ctx, lifetime);
    return (0);
fail:
    snprintf(err, errlen, "TLS session tickets: %s", cm_ssl_errors(ebuf, sizeof(ebuf)));
    return (-1);
}

/* sessfile_free - ex_data destructor: the context is being freed */
static void sessfile_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			          long argl, void *argp)
{
    CM_TLS_SESSFILE *sf = ptr;

    (void) parent;
    (void) ad;
    (void) idx;
    (void) argl;
    (void) argp;
    if (sf == 0)
	return;
    SSL_SESSION_free(sf->offer);
    free(sf->path);
    free(sf);
}

/* sessfile_index_once - the ex_data index, allocated once */
static void sessfile_index_once(void)
{
    cm_tls_sessfile_index = SSL_CTX_get_ex_new_index(0, 0, 0, 0, sessfile_free);
}

/* same_name - both absent, or equal ignoring case */
static int same_name(const char *a, const char *b)
{
    return ((a == 0 && b == 0) || (a != 0 && b != 0 && strcasecmp(a, b) == 0));
}

/* sessfile_info - handshake start: offer the saved session (same server name) */
static void sessfile_info(const SSL *cssl, int where, int ret)
{
    CM_TLS_SESSFILE *sf;
    SSL    *ssl = (SSL *) cssl;		/* ours; OpenSSL passes it const */

    (void) ret;
    if ((where & SSL_CB_HANDSHAKE_START) == 0 || SSL_is_server(ssl)
	|| SSL_get_session(ssl) != 0
	|| (sf = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cm_tls_sessfile_index)) == 0
	|| sf->offer == 0)
	return;

    /*
     * Called before the ClientHello is built: the session set now is
     * offered. A session of another server name is not.
     */
    if (same_name(SSL_SESSION_get0_hostname(sf->offer),
		  SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name))
	&& SSL_SESSION_is_resumable(sf->offer))
	SSL_set_session(ssl, sf->offer);
}

/* sessfile_new - a new session (TLS 1.3: a ticket after the handshake): save it */
static int sessfile_new(SSL *ssl, SSL_SESSION *sess)
{
    CM_TLS_SESSFILE *sf = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cm_tls_sessfile_index);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    SSL_SESSION *copy;
    BIO    *bio = 0;
    char   *data;
    long    len;

    if (sf == 0 || !SSL_SESSION_is_resumable(sess) || (copy = SSL_SESSION_dup(sess)) == 0)
	return (0);
    /* A client session does not record the SNI name: the copy saved does. */
    if ((name == 0 || SSL_SESSION_set1_hostname(copy, name) == 1)
	&& (bio = BIO_new(BIO_s_mem())) != 0
	&& PEM_write_bio_SSL_SESSION(bio, copy) == 1 && (len = BIO_get_mem_data(bio, &data)) > 0
	&& cm_write_file_atomic(sf->path, data, (size_t) len, 0600) < 0)
	msg_warn("cannot save the TLS session in %s: %m", sf->path);
    BIO_free(bio);
    SSL_SESSION_free(copy);
    ERR_clear_error();
    return (0);				/* we keep no reference to sess */
}

/* sessfile_read - the session saved in path (PEM, bounded), or NULL */
static SSL_SESSION *sessfile_read(const char *path)
{
    FILE   *fp = fopen(path, "r");
    char   *buf;
    size_t  n;
    BIO    *bio;
    SSL_SESSION *sess = 0;

    if (fp == 0)
	return (0);
    if ((buf = malloc(CM_TLS_SESSION_FILE_MAX)) != 0) {
	n = fread(buf, 1, CM_TLS_SESSION_FILE_MAX, fp);
	if (n > 0 && n < CM_TLS_SESSION_FILE_MAX && !ferror(fp)
	    && (bio = BIO_new_mem_buf(buf, (int) n)) != 0) {
	    sess = PEM_read_bio_SSL_SESSION(bio, 0, 0, 0);
	    BIO_free(bio);
	}
	OPENSSL_cleanse(buf, CM_TLS_SESSION_FILE_MAX);
	free(buf);
    }
    fclose(fp);
    ERR_clear_error();
    return (sess);
}

/* cm_tls_client_session_file - resume the session saved in path, save new ones */
int     cm_tls_client_session_file(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    CM_TLS_SESSFILE *sf;

    if (pthread_once(&cm_tls_sessfile_once, sessfile_index_once) != 0
	|| cm_tls_sessfile_index < 0) {
	snprintf(err, errlen, "TLS session file: no ex_data index");
	return (-1);
    }
    if ((sf = calloc(1, sizeof(*sf))) == 0 || (sf->path = strdup(path)) == 0) {
	free(sf);
	snprintf(err, errlen, "out of memory");
	return (-1);
    }
    /* A missing, unreadable, oversized or stale file: a full handshake. */
    sf->offer = sessfile_read(path);
    if (SSL_CTX_set_ex_data(ctx, cm_tls_sessfile_index, sf) != 1) {
	sessfile_free(0, sf, 0, 0, 0, 0);
	snprintf(err, errlen, "TLS session file: cannot attach it to the context");
	return (-1);
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, sessfile_new);
    SSL_CTX_set_info_callback(ctx, sessfile_info);
    return (0);
}
