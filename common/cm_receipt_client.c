/*++
 * NAME
 *	cm_receipt_client 3
 * SUMMARY
 *	the recipient's side of CPOP
 * DESCRIPTION
 *	See cm_receipt_client.h.
 *--*/
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <openssl/crypto.h>

#include "cm_log.h"
#include "cm_addr.h"
#include "cm_hash.h"
#include "cm_pem.h"
#include "cm_dsig.h"
#include "cm_keywrap.h"
#include "cm_challenge.h"
#include "cm_envelope_mime.h"
#include "cm_receipt_client.h"

#define LIST_SIZE_DIGITS	15

/* parse_decimal - a run of 1..max digits; returns the end or NULL */
static const char *parse_decimal(const char *p, size_t max, unsigned long long *v)
{
    size_t  n = 0;

    *v = 0;
    while (isdigit((unsigned char) p[n])) {
	if (++n > max)
	    return (0);
	*v = *v * 10 + (unsigned) (p[n - 1] - '0');
    }
    return (n ? p + n : 0);
}

/* cm_pop3_list_parse - "n size [CertifiedMail]" */
int     cm_pop3_list_parse(const char *line, CM_POP3_LISTING *l)
{
    unsigned long long num, size;
    const char *p = line;
    size_t  len;

    memset(l, 0, sizeof(*l));
    if ((p = parse_decimal(p, 7, &num)) == 0 || *p != ' ' || num == 0 || num > CM_POP3_MSG_MAX)
	return (-1);
    while (*p == ' ')
	p++;
    if ((p = parse_decimal(p, LIST_SIZE_DIGITS, &size)) == 0 || (*p != 0 && *p != ' '))
	return (-1);
    l->num = (unsigned long) num;
    l->size = size;
    while (*p) {
	while (*p == ' ')
	    p++;
	len = strcspn(p, " ");
	if (len == strlen(CM_POP3_DELIVERY_TYPE) && strncmp(p, CM_POP3_DELIVERY_TYPE, len) == 0)
	    l->certified = 1;
	p += len;
    }
    return (0);
}

/* cm_pop3_capa_cmail - "CMAIL ... CertifiedMail ..." */
int     cm_pop3_capa_cmail(const char *line)
{
    const char *p = line;
    size_t  len;

    if (strncasecmp(p, "CMAIL", 5) != 0 || (p[5] != ' ' && p[5] != 0))
	return (0);
    p += 5;
    while (*p) {
	while (*p == ' ')
	    p++;
	len = strcspn(p, " ");
	if (len == strlen(CM_POP3_DELIVERY_TYPE) && strncmp(p, CM_POP3_DELIVERY_TYPE, len) == 0)
	    return (1);
	p += len;
    }
    return (0);
}

/* cm_receipt_check - the server-signed ReceiptNotice of RETR n */
int     cm_receipt_check(xmlDocPtr doc, const CM_NOTICE *n, CM_TRUST *trust, X509 *cert,
			         char *err, size_t errlen)
{
    return (cm_receipt_check_cached(doc, n, trust, cert, 0, err, errlen));
}

/* cm_receipt_check_cached - the same, cert validated once per address */
int     cm_receipt_check_cached(xmlDocPtr doc, const CM_NOTICE *n, CM_TRUST *trust, X509 *cert,
				        CM_RECEIPT_CACHE *cache, char *err, size_t errlen)
{
    CM_DSIG_REPORT rep;
    CM_CERT_OPTS opts;
    const CM_NOTICE_ENTITY *e;
    X509   *ecert;
    char    why[512];
    int     same;

    if (n->type != CM_NOTICE_RECEIPT || cm_notice_type_of(doc) != CM_NOTICE_RECEIPT) {
	snprintf(err, errlen, "not a ReceiptNotice but a %s", cm_notice_type_name(n->type));
	return (-1);
    }
    if (cm_dsig_verify(doc, trust, &rep) < 0) {
	snprintf(err, errlen, "the receipt notice does not verify: %s", rep.reason);
	return (-1);
    }
    if (rep.n != 1 || rep.sigs[0].place != CM_DSIG_POSTMARK || rep.sigs[0].role != CM_ROLE_SERVER) {
	snprintf(err, errlen, "the receipt notice must carry exactly the server's signature (%d found)", rep.n);
	return (-1);
    }
    if (n->entity_count != 1 || n->entities[0].address == 0) {
	snprintf(err, errlen, "the receipt notice must hold exactly one Entity");
	return (-1);
    }
    e = &n->entities[0];
    if (cache == 0 || cache->address[0] == 0 || strcmp(cache->address, e->address) != 0) {
	if (cache)
	    cache->address[0] = 0;
	cm_cert_opts_user(&opts, e->address, CM_USE_SIGN | CM_USE_ENCIPHER);
	if (cm_cert_validate(trust, cert, &opts, why, sizeof(why)) < 0) {
	    snprintf(err, errlen, "the receipt notice is for <%.254s>, and --cert cannot answer for it: %.200s",
		     e->address, why);
	    return (-1);
	}
	if (cache && strlen(e->address) < sizeof(cache->address))
	    memcpy(cache->address, e->address, strlen(e->address) + 1);
    }
    if (e->certificate == 0 || (ecert = cm_cert_from_b64(e->certificate, strlen(e->certificate))) == 0) {
	snprintf(err, errlen, "the Entity of <%.254s> holds no readable certificate", e->address);
	return (-1);
    }
    same = X509_cmp(ecert, cert) == 0;
    X509_free(ecert);
    if (!same) {
	snprintf(err, errlen, "the message key of <%.254s> was wrapped for another certificate than --cert",
		 e->address);
	return (-1);
    }
    if (e->question.random_number == 0 || n->challenge.random_number == 0
	|| !cm_challenge_number_ok(n->challenge.random_number)
	|| strcmp(e->question.random_number, n->challenge.random_number) != 0) {
	snprintf(err, errlen, "the receipt notice's challenge number is missing or inconsistent");
	return (-1);
    }
    if ((n->challenge.response && *n->challenge.response)
	|| (e->question.response && *e->question.response)) {
	snprintf(err, errlen, "the receipt notice already holds a Response");
	return (-1);
    }
    return (0);
}

/* cm_receipt_unwrap - RSCK and the ENVELOPE algorithm of the Entity */
int     cm_receipt_unwrap(const CM_NOTICE *n, EVP_PKEY *key, unsigned char *rsck,
			          CM_ENVELOPE_ALG *alg, char *err, size_t errlen)
{
    const CM_NOTICE_ENTITY *e;
    char    why[512];

    memset(rsck, 0, CM_ENVELOPE_KEY_LEN);
    if (n->entity_count != 1) {
	snprintf(err, errlen, "the receipt notice must hold exactly one Entity");
	return (-1);
    }
    e = &n->entities[0];
    if (e->key_algorithm == 0 || cm_envelope_alg_from_name(e->key_algorithm, alg) < 0) {
	snprintf(err, errlen, "unknown ENVELOPE algorithm '%.64s'", e->key_algorithm ? e->key_algorithm : "");
	return (-1);
    }
    if (e->wrapped_key == 0
	|| cm_keywrap_unwrap(key, e->key_wrap ? e->key_wrap : CM_KEYWRAP_OAEP, e->wrapped_key,
			     strlen(e->wrapped_key), rsck, why, sizeof(why)) < 0) {
	snprintf(err, errlen, "cannot unwrap the message key with --key: %.400s",
		 e->wrapped_key ? why : "no CipherEnvelopeKey");
	return (-1);
    }
    return (0);
}

/* cm_receipt_answer - unwrap RSCK, answer, promote, sign */
int     cm_receipt_answer(xmlDocPtr doc, const CM_NOTICE *n, EVP_PKEY *key, X509 *cert,
			          unsigned char *rsck, CM_ENVELOPE_ALG *alg,
			          char *err, size_t errlen)
{
    const char *oid;
    char   *answer = 0;
    int     ret = -1;

    if (cm_receipt_unwrap(n, key, rsck, alg, err, errlen) < 0)
	goto done;
    oid = n->challenge.response_alg ? n->challenge.response_alg : CM_HASH_OID_SHA256;
    if ((answer = cm_challenge_answer_oid(oid, n->challenge.random_number, rsck)) == 0) {
	snprintf(err, errlen, "cannot compute the answer (hash %.64s)", oid);
	goto done;
    }
    if (cm_notice_set_response(doc, answer, err, errlen) < 0
	|| cm_notice_promote(doc, 0, err, errlen) < 0
	|| cm_dsig_sign(doc, CM_DSIG_CHALLENGE, key, cert, 0, err, errlen) < 0)
	goto done;
    ret = 0;
done:
    if (answer) {
	OPENSSL_cleanse(answer, strlen(answer));
	free(answer);
    }
    if (ret < 0)
	OPENSSL_cleanse(rsck, CM_ENVELOPE_KEY_LEN);
    return (ret);
}

/* hash_file - base64 digest of a file from its start */
static char *hash_file(CM_HASH_ALG alg, FILE *fp)
{
    CM_HASH *h;
    unsigned char buf[16384];
    size_t  len;
    char   *b64 = 0;

    if (fp == 0 || fseek(fp, 0, SEEK_SET) != 0 || (h = cm_hash_new(alg)) == 0)
	return (0);
    while ((len = fread(buf, 1, sizeof(buf), fp)) > 0)
	if (cm_hash_update(h, buf, len) < 0)
	    break;
    if (!ferror(fp) && feof(fp))
	b64 = cm_hash_final_b64(h);
    cm_hash_free(h);
    return (b64);
}

/* cipher_hash_sha1 - SHA-1 of the ciphertext carried by an ENVELOPE */
static char *cipher_hash_sha1(FILE *envelope)
{
    FILE   *tmp;
    CM_ENVELOPE_DIGESTS d;
    char    why[256];
    char   *b64 = 0;

    if (envelope == 0 || fseek(envelope, 0, SEEK_SET) != 0 || (tmp = tmpfile()) == 0)
	return (0);
    if (cm_envelope_mime_extract(envelope, tmp, 0, &d, why, sizeof(why)) == 0 && fflush(tmp) == 0)
	b64 = hash_file(CM_HASH_SHA1, tmp);
    fclose(tmp);
    return (b64);
}

/* cm_receipt_envelope_check - ENVELOPE digests against BodyEnvelopeInformation */
int     cm_receipt_envelope_check(const CM_NOTICE *n, const CM_ENVELOPE_DIGESTS *d,
				          FILE *plain, FILE *envelope,
				          char *err, size_t errlen)
{
    const CM_NOTICE_HASH *u = &n->content.unciphered;
    const CM_NOTICE_HASH *c = &n->content.ciphered;
    char   *sha1;
    int     ok;

    if (u->value == 0 || c->value == 0) {
	snprintf(err, errlen, "the receipt notice holds no envelope hashes");
	return (-1);
    }
    if (u->alg == CM_HASH_SHA256) {
	ok = cm_hash_b64_equal(u->value, d->plain_b64);
    } else {
	sha1 = hash_file(CM_HASH_SHA1, plain);
	ok = sha1 && cm_hash_b64_equal(u->value, sha1);
	free(sha1);
    }
    if (!ok) {
	snprintf(err, errlen, "the decrypted message does not match the UncipheredEnvelopeHash of the receipt notice");
	return (-1);
    }
    if (c->alg == CM_HASH_SHA256) {
	ok = cm_hash_b64_equal(c->value, d->cipher_b64);
    } else {
	sha1 = cipher_hash_sha1(envelope);
	ok = sha1 && cm_hash_b64_equal(c->value, sha1);
	free(sha1);
    }
    if (!ok) {
	snprintf(err, errlen, "the ENVELOPE does not match the CipheredEnvelopeHash of the receipt notice");
	return (-1);
    }
    return (0);
}
