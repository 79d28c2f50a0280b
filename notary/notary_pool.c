/*++
 * NAME
 *	notary_pool 3
 * SUMMARY
 *	cmail-notary: accept loop, idle connections, worker threads
 * DESCRIPTION
 *	The main thread polls the listening socket, a wake-up pipe and
 *	every idle connection. A connection with input goes to the work
 *	queue; one of notary_threads workers serves ONE request on it
 *	(notary_serve_one()) and hands it back through the wake-up pipe,
 *	so a client that keeps its connection open between requests never
 *	holds a worker, and both cores sign at once. New connections are
 *	identified with SO_PEERCRED, logged, and refused when
 *	notary_allowed_users is set and does not name the peer's uid.
 *	Idle connections are closed after NOTARY_IDLE_TIMEOUT seconds.
 *--*/
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "cm_log.h"
#include "notary.h"

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static NOTARY_CONN *pool_work[NOTARY_CONN_MAX];	/* FIFO of ready connections */
static int pool_work_head, pool_work_count;
static NOTARY_CONN *pool_done[NOTARY_CONN_MAX];	/* served, back to the main loop */
static int pool_done_count;
static int pool_shutdown;
static int pool_open;			/* open connections */
static int pool_wake[2] = {-1, -1};

/* pool_conn_close - log and close one connection */
static void pool_conn_close(NOTARY_CONN *c, const char *why)
{
    msg_info("disconnect pid=%ld uid=%lu requests=%lu%s%s", (long) c->pid,
	     (unsigned long) c->uid, c->requests, why ? ": " : "", why ? why : "");
    close(c->fd);
    free(c);
    pthread_mutex_lock(&pool_lock);
    pool_open--;
    pthread_mutex_unlock(&pool_lock);
}

/* pool_worker - serve one request per dequeued connection */
static void *pool_worker(void *arg)
{
    NOTARY_CONN *c;
    char    b = 1;

    for (;;) {
	pthread_mutex_lock(&pool_lock);
	while (pool_work_count == 0 && !pool_shutdown)
	    pthread_cond_wait(&pool_cond, &pool_lock);
	if (pool_work_count == 0 && pool_shutdown) {
	    pthread_mutex_unlock(&pool_lock);
	    return (0);
	}
	c = pool_work[pool_work_head];
	pool_work_head = (pool_work_head + 1) % NOTARY_CONN_MAX;
	pool_work_count--;
	pthread_mutex_unlock(&pool_lock);

	if (notary_serve_one(c) == 0) {
	    pool_conn_close(c, 0);
	    continue;
	}
	c->last = time(0);
	pthread_mutex_lock(&pool_lock);
	pool_done[pool_done_count++] = c;	/* room: every conn is in one place */
	pthread_mutex_unlock(&pool_lock);
	if (write(pool_wake[1], &b, 1) < 0 && errno != EAGAIN)
	    msg_warn("wake-up pipe: %m");
    }
}

/* pool_peer_allowed - may this uid talk to the notary */
static int pool_peer_allowed(uid_t uid)
{
    int     i;

    if (notary.nallowed == 0 || uid == 0 || uid == geteuid())
	return (1);
    for (i = 0; i < notary.nallowed; i++)
	if (notary.allowed[i] == uid)
	    return (1);
    return (0);
}

/* pool_accept - take a new connection; NULL if refused */
static NOTARY_CONN *pool_accept(int listen_fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    NOTARY_CONN *c;
    int     fd;

    if ((fd = accept4(listen_fd, 0, 0, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0) {
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
	    msg_warn("accept: %m");
	return (0);
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
	msg_warn("SO_PEERCRED: %m");
	close(fd);
	return (0);
    }
    if (!pool_peer_allowed(cred.uid)) {
	msg_warn("refused connection from pid=%ld uid=%lu gid=%lu: uid not in "
		 "notary_allowed_users", (long) cred.pid, (unsigned long) cred.uid,
		 (unsigned long) cred.gid);
	close(fd);
	return (0);
    }
    if ((c = calloc(1, sizeof(*c))) == 0) {
	msg_warn("out of memory");
	close(fd);
	return (0);
    }
    c->fd = fd;
    c->pid = cred.pid;
    c->uid = cred.uid;
    c->gid = cred.gid;
    c->last = time(0);
    pthread_mutex_lock(&pool_lock);
    pool_open++;
    pthread_mutex_unlock(&pool_lock);
    msg_info("connect from pid=%ld uid=%lu gid=%lu", (long) c->pid,
	     (unsigned long) c->uid, (unsigned long) c->gid);
    return (c);
}

/* notary_pool_run - serve until notary_stop */
void    notary_pool_run(int listen_fd, int threads)
{
    static NOTARY_CONN *idle[NOTARY_CONN_MAX];
    static struct pollfd pfd[NOTARY_CONN_MAX + 2];
    pthread_t *tids;
    sigset_t all, old;
    int     nidle = 0;
    int     total = 0;
    int     i, n;

    if (pipe2(pool_wake, O_CLOEXEC | O_NONBLOCK) < 0)
	msg_fatal("pipe: %m");
    if ((tids = calloc((size_t) threads, sizeof(*tids))) == 0)
	msg_fatal("out of memory");
    /* Workers never take signals; the main thread gets SIGTERM and friends. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (i = 0; i < threads; i++)
	if ((errno = pthread_create(&tids[i], 0, pool_worker, 0)) != 0)
	    msg_fatal("pthread_create: %m");
    pthread_sigmask(SIG_SETMASK, &old, 0);
    msg_info("ready: %d worker threads", threads);

    while (!notary_stop) {
	time_t  now;

	pfd[0].fd = listen_fd;
	pfd[0].events = total < NOTARY_CONN_MAX ? POLLIN : 0;
	pfd[1].fd = pool_wake[0];
	pfd[1].events = POLLIN;
	for (i = 0; i < nidle; i++) {
	    pfd[i + 2].fd = idle[i]->fd;
	    pfd[i + 2].events = POLLIN;
	    pfd[i + 2].revents = 0;
	}
	pfd[0].revents = pfd[1].revents = 0;
	n = poll(pfd, (nfds_t) nidle + 2, 10000);
	if (n < 0 && errno != EINTR)
	    msg_fatal("poll: %m");
	if (notary_stop)
	    break;
	now = time(0);

	/* Idle connections with input (or hang-up) go to the workers. */
	pthread_mutex_lock(&pool_lock);
	for (i = nidle - 1; n > 0 && i >= 0; i--) {
	    if (pfd[i + 2].revents) {
		pool_work[(pool_work_head + pool_work_count) % NOTARY_CONN_MAX] = idle[i];
		pool_work_count++;
		idle[i] = idle[--nidle];
		pfd[i + 2] = pfd[nidle + 2];
	    }
	}
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);

	/* Connections handed back by workers. */
	if (n > 0 && (pfd[1].revents & POLLIN)) {
	    char    buf[256];

	    while (read(pool_wake[0], buf, sizeof(buf)) > 0)
		 /* void */ ;
	}
	pthread_mutex_lock(&pool_lock);
	for (i = 0; i < pool_done_count; i++)
	    idle[nidle++] = pool_done[i];
	pool_done_count = 0;
	pthread_mutex_unlock(&pool_lock);

	/* Idle too long. */
	for (i = nidle - 1; i >= 0; i--) {
	    if (now - idle[i]->last > NOTARY_IDLE_TIMEOUT) {
		pool_conn_close(idle[i], "idle timeout");
		idle[i] = idle[--nidle];
	    }
	}

	/* New connections. */
	if (n > 0 && (pfd[0].revents & POLLIN)) {
	    NOTARY_CONN *c;

	    if (total < NOTARY_CONN_MAX && (c = pool_accept(listen_fd)) != 0)
		idle[nidle++] = c;
	}

	/* Count what is open: idle, queued, or in a worker. */
	pthread_mutex_lock(&pool_lock);
	if (total < NOTARY_CONN_MAX && pool_open >= NOTARY_CONN_MAX)
	    msg_warn("%d connections open: not accepting more for now", pool_open);
	total = pool_open;
	pthread_mutex_unlock(&pool_lock);
    }

    msg_info("stopping");
    pthread_mutex_lock(&pool_lock);
    pool_shutdown = 1;
    pthread_cond_broadcast(&pool_cond);
    pthread_mutex_unlock(&pool_lock);
    for (i = 0; i < threads; i++)
	pthread_join(tids[i], 0);
    for (i = 0; i < pool_work_count; i++)
	pool_conn_close(pool_work[(pool_work_head + i) % NOTARY_CONN_MAX], "shutdown");
    for (i = 0; i < pool_done_count; i++)
	pool_conn_close(pool_done[i], "shutdown");
    for (i = 0; i < nidle; i++)
	pool_conn_close(idle[i], "shutdown");
    free(tids);
    close(pool_wake[0]);
    close(pool_wake[1]);
}
