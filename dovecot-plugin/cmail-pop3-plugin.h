#ifndef CMAIL_POP3_PLUGIN_H
#define CMAIL_POP3_PLUGIN_H
/*++
 * NAME
 *	cmail-pop3-plugin 3h
 * SUMMARY
 *	CPOP (X.1341 section 7.2) for Dovecot 2.3's pop3: shared declarations
 * SYNOPSIS
 *	#include "cmail-pop3-plugin.h"
 *
 *	Module (cmail-pop3-plugin.c):
 *	extern const char *cmail_plugin_version;
 *	extern const char cmail_plugin_binary_dependency[];
 *	void	cmail_plugin_init(struct module *module);
 *	void	cmail_plugin_deinit(void);
 *	struct cmail_pop3_client *cmail_pop3_client_get(struct client *client);
 *
 *	Glue with pop3's internals (cmail-pop3-glue.c):
 *	void	cmail_pop3_glue_attach(struct client *client);
 *	void	cmail_pop3_glue_detach(struct client *client);
 *	void	cmail_pop3_glue_namespaces(struct mail_user *user);
 *
 *	Commands (cmail-pop3-commands.c):
 *	int	cmail_pop3_command(struct client *client, const char *name,
 *				const char *args);
 *	void	cmail_pop3_client_free(struct cmail_pop3_client *cctx);
 *
 *	Receipt notice mail (cmail-pop3-receipt.c):
 *	int	cmail_pop3_send_receipt(struct client *client,
 *				const char *envelope_id,
 *				const char *sender, const char *recipient,
 *				const char *subject, const char *notice,
 *				size_t notice_len, const char *relay_host,
 *				const char **error_r);
 * DESCRIPTION
 *	Dovecot's POP3 has no command registry. The plugin hooks client
 *	creation (pop3_client_created_hook_set()), then owns the input
 *	callback and the output flush callback of each session (see
 *	cmail-pop3-glue.c and ARCHITECTURE.md), answers CAPA, LIST, RETR,
 *	TOP and CHLG itself and hands every other command to Dovecot's
 *	client_command_execute().
 *
 *	cmail_pop3_command() returns 1 when it handled the command (as
 *	Dovecot's commands do: 1 done, -1 a bad command that counts
 *	towards the bad-command limit), or 0 when Dovecot must run it.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct client;
struct mail_user;
struct module;
struct timeout;
struct CM_CONFIG;

#define CMAIL_POP3_KEYWORD	"$CmailAnswered"
#define CMAIL_POP3_HEADER	"X-Cmail-Delivery-Type"
#define CMAIL_POP3_CAPABILITY	"CMAIL CertifiedMail"
#define CMAIL_POP3_LINE_MAX	(1024 * 1024)	/* CHLG RESP line (CM_CMD_LINE_MAX) */
#define CMAIL_POP3_NOTARY_TIMEOUT 30000	/* ms */

/* Per-session state, allocated from the client's pool. */
struct cmail_pop3_client {
    union pop3_module_context module_ctx;
    struct CM_CONFIG *cf;		/* NULL: plugin disabled or broken */
    const char *config_error;		/* set: refuse the session */
    const char *address;		/* the mailbox owner's mail address */
    struct timeout *to_attach;		/* takes over input after creation */
    unsigned char *certified;		/* [msgnum/8] bit: certified */
    int     certified_known;		/* the bitmask was computed */
    int     input_taken;		/* our input handler is installed */
    uint32_t chlg_msgnum;		/* last RETR of a certified message, +1 */
    FILE   *sealed;			/* that RETR's sealed blob, for CHLG RESP */
    uint32_t sealed_msgnum;		/* its msgnum + 1 */
    char    sealed_id[64 + 1];		/* its envelope id (CM_ENVELOPE_ID_MAX) */
    const char *sealed_subject;		/* its Subject (client pool) */
};

extern struct cmail_pop3_client *cmail_pop3_client_get(struct client *client);
extern void cmail_pop3_glue_attach(struct client *client);
extern void cmail_pop3_glue_detach(struct client *client);
extern void cmail_pop3_glue_namespaces(struct mail_user *user);
extern int cmail_pop3_command(struct client *client, const char *name, const char *args);
extern void cmail_pop3_client_free(struct cmail_pop3_client *cctx);
extern int cmail_pop3_send_receipt(struct client *client, const char *envelope_id,
				           const char *sender,
				           const char *recipient, const char *subject,
				           const char *notice, size_t notice_len,
				           const char *relay_host, const char **error_r);

#endif
