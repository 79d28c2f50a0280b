#ifndef CM_PKI_H
#define CM_PKI_H
/*++
 * NAME
 *	cm_pki 3h
 * SUMMARY
 *	a test PKI for Cmail: CA, v2 CRL, Annex C.2 server and C.3 user certificates
 * SYNOPSIS
 *	#include "cm_pki.h"
 *
 *	void	cm_pki_opts_init(CM_PKI_OPTS *opts);
 *	int	cm_pki_init(const char *dir, const CM_PKI_OPTS *opts,
 *				char *err, size_t errlen);
 *	int	cm_pki_exists(const char *dir);
 *	int	cm_pki_issue_user(const char *dir, const char *addr,
 *				const char *name, const CM_PKI_OPTS *opts,
 *				char *err, size_t errlen);
 *	int	cm_pki_revoke(const char *dir, const char *addr, int reason,
 *				char *err, size_t errlen);
 *	int	cm_pki_refresh_crl(const char *dir, char *err, size_t errlen);
 *	int	cm_pki_opts_check(const CM_PKI_OPTS *opts, int need_domain,
 *				char *err, size_t errlen);
 *	int	cm_pki_address_ok(const char *addr, char *err, size_t errlen);
 *	int	cm_pki_name_ok(const char *name, char *err, size_t errlen);
 *	int	cm_pki_hostname_ok(const char *name);
 *	int	cm_pki_reason_from_name(const char *name);
 *	const char *cm_pki_reason_name(int reason);
 *	int	cm_pki_nid_dns_name(void);
 *	int	cm_pki_nid_country3c(void);
 * DESCRIPTION
 *	A PKI directory DIR holds ca.pem, ca.key, crl.pem, server.pem,
 *	server.key and users/ADDR.pem, users/ADDR.key. Keys are RSA 2048,
 *	unencrypted PEM, mode 0600; every file is written atomically.
 *
 *	cm_pki_init() creates DIR (0755) and DIR/users, a self-signed CA
 *	(CN "Cmail Test CA <domain>"), an empty v2 CRL (CRLNumber 1,
 *	nextUpdate in 30 days) and the server certificate of Annex C.2
 *	(subject O, CN and the X.520 dnsName attribute 2.5.4.100 = the
 *	server FQDN; SAN rfc822Name postmaster@domain, a directoryName
 *	with countryCode3c, O, street, L, postalCode, and a dNSName for
 *	TLS; policy 0.0.24.1341.2.1). It refuses when DIR/ca.pem exists.
 *
 *	cm_pki_issue_user() issues the Annex C.3 certificate of a person
 *	(surname, givenName, initials, street, L, postalCode,
 *	countryCode3c, CN; SAN rfc822Name addr; policy 0.0.24.1341.2.2)
 *	with the CA in DIR. name is "Given Surname" or NULL to derive one
 *	from the local part (alice -> Alice Test, john.smith -> John
 *	Smith). It refuses when users/ADDR.pem exists (errno EEXIST).
 *
 *	cm_pki_revoke() adds the serial of users/ADDR.pem to crl.pem
 *	(reason code CRL_REASON_* or CRL_REASON_NONE for none), with
 *	CRLNumber + 1 and fresh thisUpdate/nextUpdate, signed by ca.key.
 *	Revoking a revoked certificate is an error; so is a certificate
 *	or a CRL that the CA in DIR did not sign.
 *
 *	cm_pki_refresh_crl() re-issues crl.pem with the same entries,
 *	CRLNumber + 1, thisUpdate now and nextUpdate in 30 days (a CRL
 *	past its nextUpdate makes every check fail).
 *
 *	cm_pki_opts_check() checks options without doing anything: those
 *	of cm_pki_init() when need_domain, else those used for a user
 *	(country, street, locality, postal code, days).
 *
 *	cm_pki_address_ok() accepts a mail address that is safe as a file
 *	name: one '@', a dot-atom local part without '/', a host name
 *	domain, CM_ADDRESS_MAX bytes at most. cm_pki_hostname_ok() checks
 *	a DNS host name (LDH labels). cm_pki_name_ok() accepts a person's
 *	name: at least two words separated by single spaces, no control
 *	characters, 64 bytes at most; the last word is the surname.
 *
 *	cm_pki_reason_from_name() maps an RFC 5280 reason name (case
 *	insensitive) to its code, -1 if unknown; removeFromCRL is
 *	refused. cm_pki_nid_dns_name() and cm_pki_nid_country3c() return
 *	the NIDs of X.520 id-at-dnsName (2.5.4.100) and id-at-countryCode3c
 *	(2.5.4.98), registered with OBJ_create() when OpenSSL lacks them.
 * DIAGNOSTICS
 *	Functions return 0 on success, -1 with a one-line reason in err.
 *--*/
#include <stddef.h>

#define CM_PKI_OID_SERVER_POLICY	"0.0.24.1341.2.1"
#define CM_PKI_OID_CLIENT_POLICY	"0.0.24.1341.2.2"
#define CM_PKI_OID_DNS_NAME		"2.5.4.100"
#define CM_PKI_OID_COUNTRY3C		"2.5.4.98"

#define CM_PKI_DAYS_DEFAULT	825	/* end-entity certificates */
#define CM_PKI_CA_DAYS_MIN	3650	/* the CA lives at least this */
#define CM_PKI_DAYS_MAX		36500
#define CM_PKI_CRL_DAYS		30	/* nextUpdate - thisUpdate */
#define CM_PKI_RSA_BITS		2048

typedef struct {
    const char *domain;			/* mail domain (required for init) */
    const char *server_name;		/* server FQDN; NULL: "mail." domain */
    const char *org;			/* organizationName */
    const char *country;		/* ISO 3166-1 alpha-3 */
    const char *street;			/* streetAddress */
    const char *locality;		/* localityName */
    const char *postal_code;		/* postalCode */
    int     days;			/* end-entity validity */
    int     ca_days;			/* 0: max(days, CM_PKI_CA_DAYS_MIN) */
} CM_PKI_OPTS;

extern void cm_pki_opts_init(CM_PKI_OPTS *opts);
extern int cm_pki_init(const char *dir, const CM_PKI_OPTS *opts, char *err, size_t errlen);
extern int cm_pki_exists(const char *dir);
extern int cm_pki_issue_user(const char *dir, const char *addr, const char *name,
			             const CM_PKI_OPTS *opts, char *err, size_t errlen);
extern int cm_pki_revoke(const char *dir, const char *addr, int reason, char *err, size_t errlen);
extern int cm_pki_refresh_crl(const char *dir, char *err, size_t errlen);
extern int cm_pki_opts_check(const CM_PKI_OPTS *opts, int need_domain, char *err, size_t errlen);
extern int cm_pki_address_ok(const char *addr, char *err, size_t errlen);
extern int cm_pki_hostname_ok(const char *name);
extern int cm_pki_name_ok(const char *name, char *err, size_t errlen);
extern int cm_pki_reason_from_name(const char *name);
extern const char *cm_pki_reason_name(int reason);
extern int cm_pki_nid_dns_name(void);
extern int cm_pki_nid_country3c(void);

#endif
