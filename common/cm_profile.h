#ifndef CM_PROFILE_H
#define CM_PROFILE_H
/*++
 * NAME
 *	cm_profile 3h
 * SUMMARY
 *	X.1341 Annex C.2/C.3 certificate profile rules
 * SYNOPSIS
 *	#include "cm_profile.h"
 *
 *	int	cm_profile_check(X509 *cert, CM_CERT_ROLE role,
 *				CM_CERT_REPORT *rep);
 * DESCRIPTION
 *	cm_profile_check() appends one CM_CERT_RULE per Annex C item for
 *	role (CM_ROLE_SERVER: C.2, rules "c2-*"; CM_ROLE_CLIENT: C.3,
 *	rules "c3-*"; CM_ROLE_NONE: nothing) and returns 0 when all pass,
 *	-1 otherwise.
 *
 *	Server (C.2): v3; serial of at least 64 bits (our stand-in for
 *	"non-sequential"); subject with an X.520 dnsName attribute
 *	(id-at-dnsName 2.5.4.100) holding a DNS name, and CN equal to it;
 *	subjectAltName with an rfc822Name (the administrator) and a
 *	directoryName with countryCode3c (2.5.4.98, or a 3-letter
 *	countryName), organizationName, streetAddress, localityName,
 *	postalCode (stateOrProvinceName optional); certificatePolicies
 *	with 0.0.24.1341.2.1. Other SAN entries (a dNSName for TLS) are
 *	allowed.
 *
 *	Client (C.3): v3; serial of at least 64 bits; subject: a person
 *	(surname, givenName, initials, optional generationQualifier, no
 *	organizationName) or an organisation (organizationName and none of
 *	those), streetAddress, localityName, postalCode, countryCode3c
 *	(alpha-3); subjectAltName with an rfc822Name; certificatePolicies
 *	with 0.0.24.1341.2.2, or 0.0.24.1341.2.1 (the C.3 erratum).
 *
 *	Country codes are checked for syntax (three letters) only.
 *--*/
#include <openssl/x509.h>
#include "cm_cert.h"

#define CM_OID_POLICY_SERVER	"0.0.24.1341.2.1"
#define CM_OID_POLICY_CLIENT	"0.0.24.1341.2.2"
#define CM_OID_AT_DNSNAME	"2.5.4.100"	/* X.520 id-at-dnsName */
#define CM_OID_AT_COUNTRYCODE3C	"2.5.4.98"	/* X.520 id-at-countryCode3c */
#define CM_SERIAL_BITS_MIN	64

extern int cm_profile_check(X509 *cert, CM_CERT_ROLE role, CM_CERT_REPORT *rep);

#endif
