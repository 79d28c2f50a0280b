#ifndef NOTARY_H
#define NOTARY_H
/*++
 * NAME
 *	notary 3h
 * SUMMARY
 *	cmail-notary internals: the key holder's state and its parts
 * SYNOPSIS
 *	#include "notary.h"
 *
 *	extern NOTARY notary;
 *	int	notary_serve_one(NOTARY_CONN *conn);
 *	void	notary_pool_run(int listen_fd, int threads);
 * DESCRIPTION
 *	notary.c loads the configuration and the keys, drops privileges,
 *	opens the journal and the socket, then hands the listening socket
 *	to notary_pool_run() (notary_pool.c): the main thread accepts and
 *	watches idle connections, a pool of worker threads serves one
 *	request at a time each (notary_serve_one(), notary_req.c) and hands
 *	the connection back. Nothing in NOTARY changes after start-up, so
 *	workers share it without locks (the journal handle has its own).
 *
 *	notary_serve_one() reads one frame from a connection that is
 *	ready, answers it, and returns 1 to keep the connection or 0 to
 *	close it (end of file, or a frame it refused).
 *--*/
#include <signal.h>
#include <sys/types.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cm_config.h"
#include "cm_seal.h"
#include "cm_evidence.h"

#define NOTARY_ALLOWED_MAX	32	/* notary_allowed_users entries */
#define NOTARY_CONN_MAX		512	/* open connections */
#define NOTARY_IDLE_TIMEOUT	300	/* s, idle connection closed */
#define NOTARY_SEAL_KEYS_MAX	8	/* the seal key and up to 7 previous ones */
#define NOTARY_FD_TIMEOUT	60000	/* ms, one read/write on a passed fd */

typedef struct {
    CM_CONFIG *cf;
    EVP_PKEY *server_key;
    X509   *server_cert;
    STACK_OF(X509) *chain;		/* further certificates, may be NULL */
    char    cert_sha256[65];
    CM_SEAL_KEY seal[NOTARY_SEAL_KEYS_MAX];	/* [0] seals; all unseal */
    size_t  nseal;
    unsigned long long seal_limit;	/* bytes read from a SEAL/UNSEAL input */
    CM_EVIDENCE *evidence;
    uid_t   allowed[NOTARY_ALLOWED_MAX];
    int     nallowed;			/* 0: any peer the socket mode admits */
} NOTARY;

typedef struct {
    int     fd;
    pid_t   pid;			/* SO_PEERCRED */
    uid_t   uid;
    gid_t   gid;
    time_t  last;			/* last activity */
    unsigned long requests;
} NOTARY_CONN;

extern NOTARY notary;
extern volatile sig_atomic_t notary_stop;

extern int notary_serve_one(NOTARY_CONN *conn);
extern void notary_pool_run(int listen_fd, int threads);

#endif
