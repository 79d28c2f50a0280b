/*++
 * NAME
 *	cmail-pop3-plugin 8
 * SUMMARY
 *	Dovecot 2.3 pop3 plugin: CPOP, the retrieval side of X.1341
 * SYNOPSIS
 *	protocol pop3 {
 *	  mail_plugins = $mail_plugins cmail
 *	}
 *	plugin {
 *	  cmail_config = /etc/cmail/cmail.conf
 *	  cmail_submission_host = 127.0.0.1:25	# optional
 *	  cmail_sendmail_path = /usr/sbin/sendmail	# optional
 *	  cmail_address = %u			# optional
 *	}
 * DESCRIPTION
 *	lib95_cmail_plugin.so adds to Dovecot's POP3 server the CPOP
 *	commands of PROFILE.md section 5 (CAPA "CMAIL CertifiedMail",
 *	LIST annotations, RETR of a certified message giving the signed
 *	receipt notice with the challenge, CHLG RESP releasing the
 *	ENVELOPE, TOP never showing sealed content). It holds no key: the
 *	receipt notice, the answer check, the countersignature and the
 *	evidence are cmail-notary's (RECEIPT and ANSWER requests of
 *	cm_notary(3h)); the plugin only carries sealed blobs to it through
 *	file descriptors.
 * CONFIGURATION
 *	cmail_config: the cmail.conf to read (notary_socket is used).
 *	Missing, empty or "no" (e.g. userdb_cmail_config=no for one user):
 *	the plugin is disabled for the user (a debug log line),
 *	pop3 behaves exactly as without it. Unreadable or invalid: the
 *	session is refused ("-ERR [SYS/TEMP] ...") with an error log line.
 *
 *	cmail_address: the mailbox owner's mail address as the sealed
 *	Entity names it; default: the user name (%u), which must then be
 *	a full address such as bob@example.org.
 *
 *	cmail_submission_host / cmail_sendmail_path: how the receipt
 *	notice mail to the sender is submitted (Dovecot's smtp-submit);
 *	default: sendmail_path /usr/sbin/sendmail.
 *
 *	For fast LIST on large mailboxes add the header to Dovecot's
 *	cache: mail_always_cache_fields = hdr.x-cmail-delivery-type
 *	(the plugin asks for it as a wanted header, so Dovecot's cache
 *	decisions pick it up by themselves after first use).
 *
 *	The delivery side belongs with it: load cmail_deliver in lmtp
 *	(protocol lmtp { mail_plugins = $mail_plugins cmail_deliver },
 *	cmail-deliver-plugin.c), so that a receipt notice mail submitted
 *	twice, or a certified message Postfix delivers again, is saved once.
 * SEE ALSO
 *	cmail-deliver-plugin.c,
 *	cmail-pop3-glue.c, cmail-pop3-commands.c, cmail-pop3-receipt.c,
 *	cmail-notary(8), PROFILE.md sections 4-6
 *--*/
#include "lib.h"
#include "ioloop.h"
#include "module-context.h"
#include "mail-user.h"
#include "mail-storage-hooks.h"
#include "mail-namespace.h"
#include "pop3-common.h"
#include "pop3-client.h"

#include "cm_config.h"
#include "cmail-pop3-plugin.h"

#define CMAIL_POP3_CONTEXT(obj) \
	MODULE_CONTEXT(obj, cmail_pop3_client_module)

extern void cmail_plugin_init(struct module *module);
extern void cmail_plugin_deinit(void);

const char *cmail_plugin_version = DOVECOT_ABI_VERSION;
const char cmail_plugin_binary_dependency[] = "pop3";

static MODULE_CONTEXT_DEFINE_INIT(cmail_pop3_client_module, &pop3_module_register);
static pop3_client_created_func_t *cmail_pop3_next_hook_client_created;

/* cmail_pop3_client_get - the plugin's state of a session, NULL if none */
struct cmail_pop3_client *cmail_pop3_client_get(struct client *client)
{
    return (CMAIL_POP3_CONTEXT(client));
}

/* cmail_pop3_client_destroy - detach from pop3, free, chain */
static void cmail_pop3_client_destroy(struct client *client, const char *reason)
{
    struct cmail_pop3_client *cctx = CMAIL_POP3_CONTEXT(client);

    cmail_pop3_glue_detach(client);
    cmail_pop3_client_free(cctx);
    cctx->module_ctx.super.destroy(client, reason);
}

/* cmail_pop3_load_config - read cmail.conf; NULL with *error_r */
static struct CM_CONFIG *cmail_pop3_load_config(const char *path, const char **error_r)
{
    char    err[512];
    CM_CONFIG *cf;

    if ((cf = cm_config_load(path, err, sizeof(err))) == NULL) {
	*error_r = t_strdup(err);
	return (NULL);
    }
    return (cf);
}

/* cmail_pop3_client_created - per-session set-up */
static void cmail_pop3_client_created(struct client **clientp)
{
    struct client *client = *clientp;
    struct mail_user *user = client->user;
    struct cmail_pop3_client *cctx;
    const char *path, *address, *error;

    path = mail_user_plugin_getenv(user, "cmail_config");
    if (path == NULL || *path == '\0' || strcmp(path, "no") == 0) {
	if (user->mail_debug)
	    i_debug("cmail: no cmail_config setting - plugin disabled for this user");
    } else {
	cctx = p_new(client->pool, struct cmail_pop3_client, 1);
	cctx->module_ctx.super = client->v;
	client->v.destroy = cmail_pop3_client_destroy;
	address = mail_user_plugin_getenv(user, "cmail_address");
	cctx->address = p_strdup(client->pool, address != NULL && *address != '\0' ?
				 address : user->username);
	if ((cctx->cf = cmail_pop3_load_config(path, &error)) == NULL) {
	    cctx->config_error = p_strdup_printf(client->pool, "cmail_config %s: %s",
						 path, error);
	} else if (strchr(cctx->address, '@') == NULL) {
	    cctx->config_error = p_strdup_printf(client->pool,
		  "user name '%s' is not a mail address: set plugin { cmail_address }",
						 cctx->address);
	}
	MODULE_CONTEXT_SET(client, cmail_pop3_client_module, cctx);
	cmail_pop3_glue_attach(client);
	if (user->mail_debug && cctx->config_error == NULL)
	    i_debug("cmail: CPOP enabled for <%s> (cmail_config %s)", cctx->address, path);
    }
    if (cmail_pop3_next_hook_client_created != NULL)
	cmail_pop3_next_hook_client_created(clientp);
}

/* cmail_pop3_namespaces_created - pop3's session is set up: take its input */
static void cmail_pop3_namespaces_created(struct mail_namespace *namespaces)
{
    cmail_pop3_glue_namespaces(namespaces->user);
}

static struct mail_storage_hooks cmail_pop3_storage_hooks = {
    .mail_namespaces_created = cmail_pop3_namespaces_created,
};

/* cmail_plugin_init - register the client-created and namespace hooks */
void    cmail_plugin_init(struct module *module)
{
    cmail_pop3_next_hook_client_created =
	pop3_client_created_hook_set(cmail_pop3_client_created);
    mail_storage_hooks_add(module, &cmail_pop3_storage_hooks);
}

/* cmail_plugin_deinit - restore the previous hook */
void    cmail_plugin_deinit(void)
{
    mail_storage_hooks_remove(&cmail_pop3_storage_hooks);
    (void) pop3_client_created_hook_set(cmail_pop3_next_hook_client_created);
}
