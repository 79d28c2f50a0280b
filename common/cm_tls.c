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
#include <openssl/ssl.h>
#include <openssl/err.h>

#include "cm_log.h"
#include "cm_tls.h"

/* tls_policy - versions, ciphers, options common to both sides */
static int tls_policy(SSL_CTX *ctx)
{
    return (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
	    && SSL_CTX_set_cipher_list(ctx, CM_TLS12_CIPHERS)
	    && SSL_CTX_set_ciphersuites(ctx, CM_TLS13_SUITES)
	    && (SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
				    | SSL_OP_CIPHER_SERVER_PREFERENCE), 1));
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
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
	snprintf(err, errlen, "TLS certificate %s: %s", cert, cm_ssl_errors(ebuf, sizeof(ebuf)));
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
    if (ca == 0 || SSL_CTX_load_verify_locations(ctx, ca, 0) != 1) {
	snprintf(err, errlen, "TLS trust anchors %s: %s", ca ? ca : "(none)",
		 cm_ssl_errors(ebuf, sizeof(ebuf)));
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
	if ((names = SSL_load_client_CA_file(anchors)) == 0) {
	    snprintf(err, errlen, "trust anchors %s: %s", anchors, cm_ssl_errors(ebuf, sizeof(ebuf)));
	    return (-1);
	}
	SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_accept_any);
    return (0);
}
