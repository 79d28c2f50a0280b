/*++
 * NAME
 *	cmail-pop3-glue 3
 * SUMMARY
 *	own the input and output-flush callbacks of a Dovecot 2.3 pop3 session
 * SYNOPSIS
 *	#include "cmail-pop3-plugin.h"
 *
 *	void	cmail_pop3_glue_attach(struct client *client);
 *	void	cmail_pop3_glue_detach(struct client *client);
 * DESCRIPTION
 *	This is the only file that depends on the internals of
 *	src/pop3/pop3-client.c (Dovecot 2.3.19, Debian 12); see
 *	ARCHITECTURE.md, "Hooking Dovecot 2.3's POP3".
 *
 *	pop3 dispatches every command line through client_handle_input()
 *	and client_command_execute(). Its output flush callback
 *	(client_output) re-installs pop3's own input handler once a large
 *	reply has drained and then calls client_handle_input() itself, so
 *	replacing client->io alone would be undone after the first long
 *	reply. The plugin therefore owns both:
 *
 *	cmail_pop3_glue_attach() (from the client-created hook, before
 *	pop3 adds its input handler) installs cmail_pop3_output() as the
 *	flush callback. The input handler does not exist yet at that
 *	point; pop3 adds it in client_create_finish() and may run it in
 *	the same ioloop pass (input that pop3-login handed over is marked
 *	pending). The swap for cmail_pop3_input() (and the larger input
 *	line limit CHLG RESP needs) is therefore done by
 *	cmail_pop3_glue_namespaces(), called from the
 *	mail_namespaces_created hook, which pop3 runs after
 *	client_create_finish() and before it returns to the ioloop; a zero
 *	timeout does the same as a fallback and refuses a session whose
 *	configuration is broken.
 *
 *	cmail_pop3_input(), cmail_pop3_handle_input() and
 *	cmail_pop3_output() mirror pop3's client_input(),
 *	client_handle_input() and client_output(): the bad-command
 *	counter, the client->cmd continuation of long replies, output
 *	throttling (input stops while POP3_OUTBUF_THROTTLE_SIZE bytes wait
 *	and resumes below half of it). Commands go to cmail_pop3_command()
 *	first, then to client_command_execute().
 *
 *	cmail_pop3_glue_detach() removes the timeout (client destroy).
 *--*/
#include "lib.h"
#include "ioloop.h"
#include "istream.h"
#include "ostream.h"
#include "str.h"
#include "mail-user.h"
#include "pop3-common.h"
#include "pop3-client.h"
#include "pop3-commands.h"

#include "cmail-pop3-plugin.h"

/* Mirrors pop3-client.c */
#define CMAIL_POP3_MAX_BAD_COMMANDS 20

static void cmail_pop3_input(struct client *client);

/* cmail_pop3_handle_input - run the complete command lines buffered */
static bool cmail_pop3_handle_input(struct client *client)
{
    char   *line, *args;
    int     ret;

    o_stream_cork(client->output);
    while (!client->output->closed && (line = i_stream_next_line(client->input)) != NULL) {
	args = strchr(line, ' ');
	if (args != NULL)
	    *args++ = '\0';
	if (*line == '\0') {
	    client_send_line(client, "-ERR Unknown command.");
	    ret = -1;
	} else T_BEGIN {
	    ret = cmail_pop3_command(client, line, args != NULL ? args : "");
	    if (ret == 0)
		ret = client_command_execute(client, line, args != NULL ? args : "");
	} T_END;
	if (ret >= 0) {
	    client->bad_counter = 0;
	    if (client->cmd != NULL) {
		o_stream_set_flush_pending(client->output, TRUE);
		client->waiting_input = TRUE;
		break;
	    }
	} else if (++client->bad_counter > CMAIL_POP3_MAX_BAD_COMMANDS) {
	    client_send_line(client, "-ERR Too many bad commands.");
	    client_disconnect(client, "Too many bad commands.");
	}
    }
    o_stream_uncork(client->output);
    if (client->output->closed) {
	client_destroy(client, NULL);
	return (FALSE);
    }
    return (TRUE);
}

/* cmail_pop3_input - input callback */
static void cmail_pop3_input(struct client *client)
{
    if (client->cmd != NULL) {
	/* Still processing a command: wait until it finishes. */
	io_remove(&client->io);
	client->waiting_input = TRUE;
	return;
    }
    client->waiting_input = FALSE;
    client->last_input = ioloop_time;
    timeout_reset(client->to_idle);
    if (client->to_commit != NULL)
	timeout_reset(client->to_commit);
    switch (i_stream_read(client->input)) {
    case -1:
	client_destroy(client, NULL);
	return;
    case -2:
	client_send_line(client, "-ERR Input line too long.");
	client_destroy(client, "Input line too long");
	return;
    }
    (void) cmail_pop3_handle_input(client);
}

/* cmail_pop3_output - output flush callback */
static int cmail_pop3_output(struct client *client)
{
    if (o_stream_flush(client->output) < 0) {
	client_destroy(client, NULL);
	return (1);
    }
    client->last_output = ioloop_time;
    timeout_reset(client->to_idle);
    if (client->to_commit != NULL)
	timeout_reset(client->to_commit);
    if (client->cmd != NULL)
	client->cmd(client);
    if (client->cmd == NULL) {
	if (o_stream_get_buffer_used_size(client->output) < POP3_OUTBUF_THROTTLE_SIZE / 2
	    && client->io == NULL && !client->input->closed) {
	    /* Enable input again: ours, not pop3's. */
	    client->io = io_add_istream(client->input, cmail_pop3_input, client);
	}
	if (client->io != NULL && client->waiting_input) {
	    if (!cmail_pop3_handle_input(client))
		return (1);			/* destroyed */
	}
    }
    if (client->cmd != NULL)
	return (0);
    if (client->io == NULL)
	return (0);
    return (1);
}

/* cmail_pop3_take_input - swap pop3's input handler for ours */
static void cmail_pop3_take_input(struct client *client)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);

    timeout_remove(&cctx->to_attach);
    if (cctx->input_taken)
	return;
    cctx->input_taken = 1;
    if (cctx->config_error != NULL) {
	i_error("cmail: %s", cctx->config_error);
	client_send_line(client, "-ERR [SYS/TEMP] Certified mail is not available: "
			 "server configuration error.");
	client_disconnect(client, "cmail: configuration error");
	return;
    }
    if (client->user->mail_debug)
	i_debug("cmail: taking over pop3 input (io %s)", client->io != NULL ? "set" : "throttled");
    i_stream_set_max_buffer_size(client->input, CMAIL_POP3_LINE_MAX);
    /* client_create_finish() may have wrapped the streams (rawlog). */
    o_stream_set_flush_callback(client->output, cmail_pop3_output, client);
    if (client->io != NULL) {
	io_remove(&client->io);
	client->io = io_add_istream(client->input, cmail_pop3_input, client);
	/* Input handed over by pop3-login (client_add_input() marked it
	 * pending on pop3's io) must not wait for more network input. */
	i_stream_set_input_pending(client->input, TRUE);
    }
    /* When client->io is NULL, output is throttled: cmail_pop3_output()
     * adds our handler once it drains. */
}

/* cmail_pop3_glue_attach - from the client-created hook */
void    cmail_pop3_glue_attach(struct client *client)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);

    o_stream_set_flush_callback(client->output, cmail_pop3_output, client);
    cctx->to_attach = timeout_add_short(0, cmail_pop3_take_input, client);
}

/* cmail_pop3_glue_namespaces - the user's namespaces exist: take over now */
void    cmail_pop3_glue_namespaces(struct mail_user *user)
{
    struct client *client;

    for (client = pop3_clients; client != NULL; client = client->next)
	if (client->user == user && cmail_pop3_client_get(client) != NULL)
	    cmail_pop3_take_input(client);
}

/* cmail_pop3_glue_detach - at client destroy */
void    cmail_pop3_glue_detach(struct client *client)
{
    struct cmail_pop3_client *cctx = cmail_pop3_client_get(client);

    if (cctx != NULL)
	timeout_remove(&cctx->to_attach);
}
