/*++
 * NAME
 *	cmtp_peer 3
 * SUMMARY
 *	CMTP between Cmail servers: CHCK RCPT, SEND EVLP, SEND NORP, and
 *	the remote recipients of a deposit
 * DESCRIPTION
 *	PROFILE.md sections 2 and 5, steps m8-m9, m16-m17 and p5-p6. A peer
 *	is another Cmail server: it presents its Annex C.2 certificate as
 *	the TLS client certificate (cm_tls_server_ask_peer()), which
 *	cmtp_peer_identify() validates after the handshake (cm_peer). The
 *	three peer verbs need such a peer, and CELO after TLS; otherwise
 *	"530 5.7.0 Must authenticate as a Cmail server first".
 *
 *	CHCK RCPT <addr> [CertificateRequested]: the certificate of one of
 *	our users, as RCPT TO gives it to a depositing client.
 *
 *	SEND EVLP <base64 SignedDepositNotice>, 354, the ENVELOPE: the
 *	notice must verify (two signatures), its sender's domain must be
 *	the peer's, the postmark signer a server certificate of that
 *	domain, MimeMessageHash and CipheredEnvelopeHash those of the
 *	ENVELOPE received, and every Entity of ours must carry the
 *	certificate of our certificate directory. The message is sealed
 *	and handed to Postfix for the local recipients exactly like a
 *	deposit, journalled "transit", and answered with a TransitNotice
 *	signed by this server. A SEND EVLP of an envelope already received
 *	(journalled "transit") gets a new TransitNotice but is not
 *	delivered again. Killed between the submission and that row, cmtpd
 *	takes the retried SEND EVLP as new and submits it again (never the
 *	other way round: journalling first could lose it); the delivery
 *	plugin (cmail-deliver-plugin) saves that second copy not, by its
 *	X-Cmail-Envelope-Id.
 *
 *	SEND NORP <base64 SignedReceiptNotice>: a receipt notice for a
 *	message deposited here. Three signatures (the recipient's server,
 *	the recipient, the server again), the recipient's domain the
 *	peer's, the journal must hold the deposit (LOOKUP "deposited"
 *	gives the sender). The notice reaches the sender as a notice mail
 *	(notice_submission_address), then "receipt-received" is
 *	journalled; a repeated SEND NORP is answered 250 without a second
 *	mail. Killed between the two, cmtpd gets the SEND NORP again and
 *	mails again: the mail's Message-ID is the one the CPOP plugin
 *	gives this receipt notice, <cmail-receipt.ENVID.RCPTHASH@domain>
 *	(cm_cmtp_notice_msgid()), so the delivery plugin saves it once.
 *
 *	cmtp_remote_rcpt() is RCPT TO for an address of another domain:
 *	CHCK RCPT at that domain's Cmail server (cm_cmtp_client), one
 *	connection per domain and session, the certificate validated
 *	here as a user certificate for that address.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cm_log.h"
#include "cm_addr.h"
#include "cm_reply.h"
#include "cm_base64.h"
#include "cm_hash.h"
#include "cm_xml.h"
#include "cm_dsig.h"
#include "cm_peer.h"
#include "cm_seal.h"
#include "cm_submit.h"
#include "cm_noticemail.h"
#include "cm_cmtp_client.h"
#include "cmtpd.h"

#define PEER_DOMAIN(a)	cm_addr_domain(a)

/* cmtp_peer_identify - after the TLS handshake: is the client a Cmail server */
void    cmtp_peer_identify(CMTP_SESSION *s)
{
    X509   *cert;
    char    err[256];
    char    subject[256];

    X509_free(s->peer_cert);
    s->peer_cert = 0;
    s->peer_error[0] = 0;
    if (cm_peer_cert(cm_stream_ssl(s->st), &cert) < 0)
	return;
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    if (cm_peer_validate(s->trust, cert, err, sizeof(err)) < 0) {
	snprintf(s->peer_error, sizeof(s->peer_error), "%s", err);
	msg_warn("%s: client certificate %s refused: %s", s->client_addr, subject, err);
	X509_free(cert);
	return;
    }
    s->peer_cert = cert;
    msg_info("%s: Cmail server certificate %s", s->client_addr, subject);
}

/* cmtp_peer_free - session end: peer state and the remote link */
void    cmtp_peer_free(CMTP_SESSION *s)
{
    int     i;

    X509_free(s->peer_cert);
    s->peer_cert = 0;
    for (i = 0; i < s->nchecked; i++)
	free(s->checked[i]);
    free(s->checked);
    s->checked = 0;
    s->nchecked = 0;
    if (s->peer_link)
	cm_cmtp_close(s->peer_link);
    s->peer_link = 0;
    s->peer_link_domain[0] = 0;
}

/* need_peer - the peer verbs need CELO over TLS from a Cmail server */
static int need_peer(CMTP_SESSION *s)
{
    if (!s->celo) {
	cm_reply(s->st, 501, "Syntax: use CELO first");
	return (-1);
    }
    if (s->peer_cert == 0) {
	if (s->peer_error[0])
	    cm_reply(s->st, 530, "5.7.0 Must authenticate as a Cmail server first: "
		     "certificate refused: %.200s", s->peer_error);
	else
	    cm_reply(s->st, 530, "5.7.0 Must authenticate as a Cmail server first");
	return (-1);
    }
    return (0);
}

/* cmtp_chck - CHCK RCPT <addr> [CertificateRequested] (8.8-8.9) */
void    cmtp_chck(CMTP_SESSION *s, const char *arg)
{
    char    addr[CM_ADDRESS_MAX + 1];
    const char *params;
    int     requested, i;
    X509   *cert;
    char  **nc;
    char    err[512];

    if (need_peer(s) < 0)
	return;
    if (strncasecmp(arg, "RCPT", 4) != 0 || (arg[4] != ' ' && arg[4] != ':')
	|| cm_addr_parse_path(arg + 4, addr, sizeof(addr), &params) < 0) {
	cm_reply(s->st, 501, "Syntax: CHCK RCPT <address>");
	return;
    }
    if (cmtp_cert_requested(params, &requested) < 0) {
	cm_reply(s->st, 501, "Syntax: CHCK RCPT <address> Error in parameters: %.200s", params);
	return;
    }
    for (i = 0; i < s->nchecked; i++) {
	if (cm_addr_equal(s->checked[i], addr)) {
	    cm_reply(s->st, 503, "Sender already specified");
	    return;
	}
    }
    if (s->nchecked >= CM_ENTITIES_MAX) {
	cm_reply(s->st, 452, "Error: too many recipients");
	return;
    }
    if ((cert = cmtp_user_cert(s, addr, err, sizeof(err))) == 0) {
	msg_info("%s: reject CHCK RCPT <%s>: %s", s->client_addr, addr, err);
	cm_reply(s->st, 553, "<%s> Invalid email address", addr);
	return;
    }
    if ((nc = realloc(s->checked, (size_t) (s->nchecked + 1) * sizeof(*nc))) == 0
	|| (nc[s->nchecked] = strdup(addr)) == 0) {
	if (nc)
	    s->checked = nc;
	X509_free(cert);
	cm_reply(s->st, 451, "4.3.0 Error: out of memory");
	return;
    }
    s->checked = nc;
    s->nchecked++;
    msg_info("%s: CHCK RCPT <%s>: ok", s->client_addr, addr);
    cmtp_cert_reply(s, cert, requested);
    X509_free(cert);
}

/* decode_notice - base64 argument to a parsed notice of one type */
static CM_NOTICE *decode_notice(const char *arg, CM_NOTICE_TYPE want, xmlDocPtr *doc,
				        char **xml_r, size_t *len_r, char *err, size_t errlen)
{
    unsigned char *xml;
    size_t  len;
    CM_NOTICE *n;

    if ((xml = cm_base64_decode(arg, strlen(arg), &len)) == 0 || len == 0) {
	free(xml);
	snprintf(err, errlen, "argument is not base64");
	return (0);
    }
    if ((n = cm_notice_read((char *) xml, len, doc, err, errlen)) == 0) {
	free(xml);
	return (0);
    }
    if (n->type != want) {
	snprintf(err, errlen, "not a %s", cm_notice_type_name(want));
	xmlFreeDoc(*doc);
	*doc = 0;
	cm_notice_free(n);
	free(xml);
	return (0);
    }
    *xml_r = (char *) xml;
    *len_r = len;
    return (n);
}

/* postmark_signers_speak_for - every postmark signature by a server of domain */
static int postmark_signers_speak_for(xmlDocPtr doc, int count, const char *domain,
				              CM_TRUST *trust, char *err, size_t errlen)
{
    X509   *c;
    int     i;
    char    why[256];

    for (i = 0; i < count; i++) {
	if ((c = cm_dsig_place_cert(doc, CM_DSIG_POSTMARK, i)) == 0) {
	    snprintf(err, errlen, "postmark signature %d has no certificate", i + 1);
	    return (-1);
	}
	if (cm_peer_validate(trust, c, why, sizeof(why)) < 0) {
	    snprintf(err, errlen, "postmark signer is not a Cmail server: %s", why);
	    X509_free(c);
	    return (-1);
	}
	if (!cm_peer_speaks_for(c, domain)) {
	    snprintf(err, errlen, "postmark signed by a server that does not speak for %s", domain);
	    X509_free(c);
	    return (-1);
	}
	X509_free(c);
    }
    return (0);
}

/* sha256_hex - "notice_sha256=..." detail of a document */
static void sha256_detail(const char *data, size_t len, char *buf, size_t size)
{
    unsigned char md[32];
    size_t  mdlen = 0, i, n;
    CM_HASH *h = cm_hash_new(CM_HASH_SHA256);

    n = (size_t) snprintf(buf, size, "notice_sha256=");
    if (h && cm_hash_update(h, data, len) == 0 && cm_hash_final_raw(h, md, &mdlen) == 0)
	for (i = 0; i < mdlen && n + 3 <= size; i++, n += 2)
	    snprintf(buf + n, 3, "%02x", md[i]);
    cm_hash_free(h);
}

/* evlp_check - the SignedDepositNotice of a SEND EVLP; our recipients into s->rcpts */
static int evlp_check(CMTP_SESSION *s, xmlDocPtr doc, const CM_NOTICE *n, char *sender,
		              size_t sender_len, int *none_local, char *err, size_t errlen)
{
    CM_DSIG_REPORT rep;
    const char *domain;
    size_t  e;
    X509   *cert;
    CMTP_RCPT *nr;
    CM_HASH_ALG alg;
    char    why[256];

    *none_local = 0;
    if (cm_dsig_verify(doc, s->trust, &rep) < 0) {
	snprintf(err, errlen, "signatures do not verify: %s", rep.reason);
	return (-1);
    }
    if (rep.n != 2 || rep.sigs[0].place != CM_DSIG_POSTMARK || rep.sigs[1].place != CM_DSIG_INFO) {
	snprintf(err, errlen, "expected the server's and the sender's signature, found %d", rep.n);
	return (-1);
    }
    if (!cm_addr_valid(rep.sigs[1].address)) {
	snprintf(err, errlen, "the sender's certificate has no address");
	return (-1);
    }
    domain = PEER_DOMAIN(rep.sigs[1].address);
    if (!cm_peer_speaks_for(s->peer_cert, domain)) {
	snprintf(err, errlen, "the peer does not speak for the sender's domain %s", domain);
	return (-1);
    }
    if (postmark_signers_speak_for(doc, 1, domain, s->trust, err, errlen) < 0)
	return (-1);
    if (n->envelope_id == 0 || !cm_seal_envelope_id_ok(n->envelope_id)) {
	snprintf(err, errlen, "unusable EnvelopeId");
	return (-1);
    }
    snprintf(sender, sender_len, "%s", rep.sigs[1].address);
    for (e = 0; e < n->entity_count; e++) {
	const CM_NOTICE_ENTITY *en = n->entities + e;

	if (en->type != CM_ENTITY_TO && en->type != CM_ENTITY_CC)
	    continue;
	if (en->address == 0 || !cm_addr_valid(en->address)) {
	    snprintf(err, errlen, "an Entity without a valid address");
	    return (-1);
	}
	if (!cm_domain_listed(cm_addr_domain(en->address), cm_config_str(s->cf, "local_domains")))
	    continue;
	if ((cert = cmtp_user_cert(s, en->address, why, sizeof(why))) == 0) {
	    snprintf(err, errlen, "<%s> is not a Cmail user here: %s", en->address, why);
	    return (-1);
	}
	if (!cmtp_same_cert(en->certificate, cert)) {
	    X509_free(cert);
	    snprintf(err, errlen, "Entity <%s> does not carry the recipient's certificate", en->address);
	    return (-1);
	}
	if (en->question.random_number == 0 || strlen(en->question.random_number) < 39
	    || en->question.response == 0 || en->question.response[0] == 0
	    || cm_hash_from_oid(en->question.response_alg, &alg) < 0 || alg != CM_HASH_SHA256
	    || en->wrapped_key == 0 || en->wrapped_key[0] == 0) {
	    X509_free(cert);
	    snprintf(err, errlen, "Entity <%s> lacks a challenge, its answer or the wrapped key",
		     en->address);
	    return (-1);
	}
	if (s->nrcpt >= CM_ENTITIES_MAX
	    || (nr = realloc(s->rcpts, (size_t) (s->nrcpt + 1) * sizeof(*nr))) == 0) {
	    X509_free(cert);
	    snprintf(err, errlen, "too many recipients");
	    return (-1);
	}
	s->rcpts = nr;
	snprintf(nr[s->nrcpt].addr, sizeof(nr[s->nrcpt].addr), "%s", en->address);
	nr[s->nrcpt].cert = cert;
	nr[s->nrcpt].remote = 0;
	s->nrcpt++;
    }
    if (s->nrcpt == 0) {
	*none_local = 1;
	snprintf(err, errlen, "no Entity is a recipient of this server");
	return (-1);
    }
    return (0);
}

/* already - how many journal rows of event (and recipient) this envelope has */
static long long already(CMTP_SESSION *s, const char *envelope_id, const char *event,
			         const char *address, char *details, size_t dlen,
			         char *err, size_t errlen)
{
    CM_NOTARY *nc;
    long long count = -1;

    if ((nc = cmtp_notary(s, err, errlen)) == 0)
	return (-1);
    if (cm_notary_lookup(nc, envelope_id, event, address, &count, details, dlen, err, errlen) < 0)
	count = -1;
    cm_notary_close(nc);
    return (count);
}

/* send_evlp - SEND EVLP <base64 SignedDepositNotice> (8.16-8.17) */
static void send_evlp(CMTP_SESSION *s, const char *arg)
{
    xmlDocPtr doc = 0;
    CM_NOTICE *n;
    char   *xml = 0, *transit = 0;
    size_t  len = 0, transit_len = 0;
    char    sender[CM_ADDRESS_MAX + 1];
    char    err[512];
    int     none_local, temporary;
    long long seen;

    cmtp_reset(s);
    if ((n = decode_notice(arg, CM_NOTICE_SIGNED_DEPOSIT, &doc, &xml, &len, err, sizeof(err))) == 0) {
	msg_info("%s: SEND EVLP refused: %s", s->client_addr, err);
	cm_reply(s->st, 503, "Error: bad transit notice: %s", err);
	return;
    }
    if (evlp_check(s, doc, n, sender, sizeof(sender), &none_local, err, sizeof(err)) < 0) {
	msg_info("%s: SEND EVLP %s refused: %s", s->client_addr,
		 n->envelope_id ? n->envelope_id : "?", err);
	if (none_local)
	    cm_reply(s->st, 550, "5.1.1 No local recipient: %s", err);
	else
	    cm_reply(s->st, 503, "Error: bad transit notice: %s", err);
	goto done;
    }
    snprintf(s->sender, sizeof(s->sender), "%s", sender);
    if (cmtp_read_envelope(s) < 0)
	goto done;				/* replied */
    snprintf(s->envelope_id, sizeof(s->envelope_id), "%s", n->envelope_id);
    if (n->mime_hash_count != 1 || n->mime_hashes[0].alg != CM_HASH_SHA256
	|| !cm_hash_b64_equal(n->mime_hashes[0].value, s->mime_hash)) {
	snprintf(err, sizeof(err), "MimeMessageHash does not match the ENVELOPE received");
    } else if (cmtp_check_ciphered_hash(s, n, err, sizeof(err)) == 0) {
	err[0] = 0;
    }
    if (err[0]) {
	msg_info("%s: SEND EVLP refused: %s", s->envelope_id, err);
	cm_reply(s->st, 503, "Error: bad transit notice: %s", err);
	goto done;
    }
    if ((seen = already(s, s->envelope_id, "transit", 0, 0, 0, err, sizeof(err))) < 0
	|| (transit = cmtp_postmark_notice(s, CM_NOTICE_TRANSIT, &transit_len,
					       err, sizeof(err))) == 0) {
	msg_warn("%s: SEND EVLP: %s", s->envelope_id, err);
	cm_reply(s->st, 451, "4.3.0 Error: cannot take the envelope now, try again later");
	goto done;
    }
    if (seen > 0) {
	msg_info("%s: SEND EVLP from %s again: already received, not delivered twice",
		 s->envelope_id, PEER_DOMAIN(sender));
    } else if (cmtp_store_and_submit(s, xml, len, "transit", PEER_DOMAIN(sender), &temporary,
				     err, sizeof(err)) < 0) {
	msg_warn("%s: SEND EVLP: %s", s->envelope_id, err);
	if (temporary)
	    cm_reply(s->st, 451, "4.3.0 Error: envelope not taken, try again later: %s", err);
	else
	    cm_reply(s->st, 554, "5.3.0 Error: envelope refused: %s", err);
	goto done;
    }
    msg_info("%s: SEND EVLP from=<%s> nrcpt=%d: transit notice issued", s->envelope_id,
	     s->sender, s->nrcpt);
    cm_reply_object(s->st, 250, "TransitNotice:", transit, transit_len);
    cm_reply(s->st, 250, "Ok");
done:
    cmtp_reset(s);
    free(transit);
    if (doc)
	xmlFreeDoc(doc);
    cm_notice_free(n);
    free(xml);
}

/* detail_value - the value of key= in newline-separated details */
static int detail_value(const char *details, const char *key, char *buf, size_t size)
{
    size_t  klen = strlen(key);
    const char *p;

    for (p = details; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : 0) {
	if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
	    size_t  n = strcspn(p + klen + 1, "\n");

	    if (n >= size)
		return (-1);
	    memcpy(buf, p + klen + 1, n);
	    buf[n] = 0;
	    return (0);
	}
    }
    return (-1);
}

/* norp_mail - the receipt notice mail to our sender */
static int norp_mail(CMTP_SESSION *s, const char *sender, const char *recipient,
		             const char *envelope_id, const char *xml, size_t len,
		             int *temporary, char *err, size_t errlen)
{
    CM_NOTICEMAIL m;
    FILE   *fp;
    char    from[CM_ADDRESS_MAX + 1];
    char    subject[CM_ADDRESS_MAX + 64];
    char    summary[2048];
    char    qid[64];
    char    msgid[256];
    char   *rcpt[1];
    const char *dom = strchr(s->hostname, '.');
    int     ret;

    *temporary = 1;
    snprintf(from, sizeof(from), "postmaster@%s", dom ? dom + 1 : s->hostname);
    snprintf(subject, sizeof(subject), "Receipt notice: read by %s", recipient);
    snprintf(summary, sizeof(summary),
	     "Your certified message %s was received by %s.\n\n"
	     "The recipient proved with its private key that it received the message;\n"
	     "the attached receiptNotice.xml is signed by the recipient's mail server,\n"
	     "the recipient and that server again. Keep it: it is your proof of receipt.\n"
	     "Check it with: cmail verify receiptNotice.xml\n", envelope_id, recipient);
    memset(&m, 0, sizeof(m));
    m.from = from;
    m.to = sender;
    m.subject = subject;
    m.summary = summary;
    m.envelope_id = envelope_id;
    m.nattach = 1;
    m.attach[0].filename = "receiptNotice.xml";
    m.attach[0].data = xml;
    m.attach[0].len = len;
    if ((fp = tmpfile()) == 0) {
	snprintf(err, errlen, "cannot create a temporary file");
	return (-1);
    }
    /*
     * The Message-ID the CPOP plugin gives this receipt notice: a second
     * mail (killed before "receipt-received", the peer retries) is saved
     * once by the delivery plugin.
     */
    m.message_id = msgid;
    if (cm_cmtp_notice_msgid(msgid, sizeof(msgid), "receipt", envelope_id, recipient,
			     PEER_DOMAIN(recipient)) < 0
	|| cm_noticemail_write(fp, &m, err, errlen) < 0) {
	if (msgid[0] == 0)
	    snprintf(err, errlen, "cannot make the notice mail's Message-ID");
	*temporary = 0;
	fclose(fp);
	return (-1);
    }
    rcpt[0] = (char *) sender;
    ret = cm_submit(cm_config_str(s->cf, "notice_submission_address"),
		    (int) cm_config_int(s->cf, "smtp_timeout"), s->hostname, "",
		    rcpt, 1, fp, qid, sizeof(qid), temporary, err, errlen);
    fclose(fp);
    if (ret == 0)
	msg_info("%s: receipt notice mail for <%s> queued as %s, message-id=%s", envelope_id,
		 sender, qid, msgid);
    return (ret);
}

/* send_norp - SEND NORP <base64 SignedReceiptNotice> (p5-p6) */
static void send_norp(CMTP_SESSION *s, const char *arg)
{
    xmlDocPtr doc = 0;
    CM_NOTICE *n;
    CM_DSIG_REPORT rep;
    CM_NOTARY *nc = 0;
    char   *xml = 0;
    size_t  len = 0;
    char    recipient[CM_ADDRESS_MAX + 1], sender[CM_ADDRESS_MAX + 1];
    char    details[2048];
    char    d_rcpt[CM_ADDRESS_MAX + 16], d_sender[CM_ADDRESS_MAX + 16];
    char    d_peer[CM_ADDRESS_MAX + 16], d_notice[96];
    const char *kv[4];
    char    err[512];
    const char *domain;
    long long count;
    int     temporary, attempt;

    cmtp_reset(s);
    if ((n = decode_notice(arg, CM_NOTICE_SIGNED_RECEIPT, &doc, &xml, &len, err, sizeof(err))) == 0) {
	msg_info("%s: SEND NORP refused: %s", s->client_addr, err);
	cm_reply(s->st, 554, "5.7.1 Receipt notice refused: %s", err);
	return;
    }
    if (cm_dsig_verify(doc, s->trust, &rep) < 0) {
	snprintf(err, sizeof(err), "signatures do not verify: %s", rep.reason);
    } else if (rep.n != 3 || rep.sigs[0].place != CM_DSIG_POSTMARK
	       || rep.sigs[1].place != CM_DSIG_CHALLENGE || rep.sigs[2].place != CM_DSIG_POSTMARK) {
	snprintf(err, sizeof(err), "expected the server's, the recipient's and the server's "
		 "signatures, found %d", rep.n);
    } else if (!cm_addr_valid(rep.sigs[1].address)) {
	snprintf(err, sizeof(err), "the recipient's certificate has no address");
    } else if (!cm_peer_speaks_for(s->peer_cert, domain = PEER_DOMAIN(rep.sigs[1].address))) {
	snprintf(err, sizeof(err), "the peer does not speak for the recipient's domain %s", domain);
    } else if (postmark_signers_speak_for(doc, 2, domain, s->trust, err, sizeof(err)) == 0) {
	err[0] = 0;
    }
    if (err[0] == 0 && (n->envelope_id == 0 || !cm_seal_envelope_id_ok(n->envelope_id)))
	snprintf(err, sizeof(err), "unusable EnvelopeId");
    if (err[0]) {
	msg_info("%s: SEND NORP refused: %s", s->client_addr, err);
	cm_reply(s->st, 554, "5.7.1 Receipt notice refused: %s", err);
	goto done;
    }
    snprintf(recipient, sizeof(recipient), "%s", rep.sigs[1].address);
    if ((count = already(s, n->envelope_id, "deposited", 0, details, sizeof(details),
			 err, sizeof(err))) < 0) {
	msg_warn("%s: SEND NORP: %s", n->envelope_id, err);
	cm_reply(s->st, 451, "4.3.0 Error: cannot take the receipt notice now, try again later");
	goto done;
    }
    if (count == 0 || detail_value(details, "sender", sender, sizeof(sender)) < 0
	|| !cm_addr_valid(sender)) {
	msg_info("%s: SEND NORP refused: not deposited here", n->envelope_id);
	cm_reply(s->st, 554, "5.7.1 Receipt notice refused: envelope %s was not deposited here",
		 n->envelope_id);
	goto done;
    }
    if ((count = already(s, n->envelope_id, "receipt-received", recipient, 0, 0,
			 err, sizeof(err))) < 0) {
	msg_warn("%s: SEND NORP: %s", n->envelope_id, err);
	cm_reply(s->st, 451, "4.3.0 Error: cannot take the receipt notice now, try again later");
	goto done;
    }
    if (count > 0) {
	msg_info("%s: SEND NORP for <%s> again: already received", n->envelope_id, recipient);
	cm_reply(s->st, 250, "OK");
	goto done;
    }
    if (norp_mail(s, sender, recipient, n->envelope_id, xml, len, &temporary, err, sizeof(err)) < 0) {
	msg_warn("%s: SEND NORP: receipt notice mail: %s", n->envelope_id, err);
	if (temporary)
	    cm_reply(s->st, 451, "4.3.0 Error: cannot deliver the receipt notice now, try again later");
	else
	    cm_reply(s->st, 554, "5.3.0 Error: receipt notice not deliverable: %s", err);
	goto done;
    }
    snprintf(d_rcpt, sizeof(d_rcpt), "recipient=%s", recipient);
    snprintf(d_sender, sizeof(d_sender), "sender=%s", sender);
    snprintf(d_peer, sizeof(d_peer), "peer=%s", PEER_DOMAIN(recipient));
    sha256_detail(xml, len, d_notice, sizeof(d_notice));
    kv[0] = d_rcpt;
    kv[1] = d_sender;
    kv[2] = d_peer;
    kv[3] = d_notice;
    /* The mail is queued: a 451 now would send it twice. Try hard. */
    for (attempt = 1;; attempt++) {
	if ((nc = cmtp_notary(s, err, sizeof(err))) != 0
	    && cm_notary_record(nc, n->envelope_id, "receipt-received", kv, 4, 0,
				err, sizeof(err)) == 0)
	    break;
	msg_warn("%s: journalling \"receipt-received\" failed (attempt %d): %s",
		 n->envelope_id, attempt, err);
	cm_notary_close(nc);
	nc = 0;
	if (attempt == 5) {
	    cm_reply(s->st, 451, "4.3.0 Error: cannot journal the receipt notice, try again later");
	    goto done;
	}
	sleep(1);
    }
    msg_info("%s: SEND NORP: receipt of <%s> for <%s> received", n->envelope_id, recipient, sender);
    cm_reply(s->st, 250, "OK");
done:
    cm_notary_close(nc);
    if (doc)
	xmlFreeDoc(doc);
    cm_notice_free(n);
    free(xml);
}

/* cmtp_send - SEND EVLP | SEND NORP */
void    cmtp_send(CMTP_SESSION *s, const char *arg)
{
    if (need_peer(s) < 0)
	return;
    if (strncasecmp(arg, "EVLP ", 5) == 0 && arg[5] != 0) {
	send_evlp(s, arg + 5);
    } else if (strncasecmp(arg, "NORP ", 5) == 0 && arg[5] != 0) {
	send_norp(s, arg + 5);
    } else {
	cm_reply(s->st, 501, "Syntax: SEND EVLP <base64 SignedDepositNotice> | SEND NORP <base64>");
    }
}

/* cmtp_remote_rcpt - CHCK RCPT at the recipient's Cmail server (m8-m9) */
int     cmtp_remote_rcpt(CMTP_SESSION *s, const char *addr, X509 **cert_r,
			         int *code_r, char *err, size_t errlen)
{
    const char *domain = cm_addr_domain(addr);
    int     fail = CM_CMTP_FAIL_TEMP;

    *cert_r = 0;
    *code_r = 0;
    if (s->peer_link && strcasecmp(s->peer_link_domain, domain) != 0) {
	cm_cmtp_close(s->peer_link);
	s->peer_link = 0;
    }
    if (s->peer_link == 0) {
	if ((s->peer_link = cm_cmtp_open_ex(s->cf, s->trust, domain, err, errlen, &fail)) == 0) {
	    *code_r = fail == CM_CMTP_FAIL_TEMP ? 0 : 550;
	    return (-1);
	}
	snprintf(s->peer_link_domain, sizeof(s->peer_link_domain), "%s", domain);
    }
    /* cm_cmtp_chck_rcpt() validates the certificate for addr (C.3). */
    if (cm_cmtp_chck_rcpt(s->peer_link, addr, cert_r, code_r, err, errlen) < 0) {
	if (*code_r == 0) {			/* the link is gone */
	    cm_cmtp_close(s->peer_link);
	    s->peer_link = 0;
	}
	return (-1);
    }
    return (0);
}
