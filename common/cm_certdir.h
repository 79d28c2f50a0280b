#ifndef CM_CERTDIR_H
#define CM_CERTDIR_H
/*++
 * NAME
 *	cm_certdir 3h
 * SUMMARY
 *	the certificate directory: local users' certificates by address
 * SYNOPSIS
 *	#include "cm_certdir.h"
 *
 *	X509	*cm_certdir_lookup(const char *dir, const char *addr,
 *				char *err, size_t errlen);
 *	int	cm_certdir_preload(const char *dir, int max,
 *				char *err, size_t errlen);
 * DESCRIPTION
 *	The certificate directory of cmail.conf (certificate_directory)
 *	holds one PEM file per user, named ADDRESS.pem (the layout of
 *	`cmail pki init DIR/users`). cm_certdir_lookup() checks the address
 *	syntax before it becomes a file name, tries the address as given
 *	and then with the domain in lower case, and returns the
 *	certificate, or NULL with a reason ("no certificate for <a@b>").
 *	The caller validates the certificate (cm_cert_validate) before use.
 *	Certificates are parsed once per process (cm_certcache(3)): a
 *	lookup reads the file and compares its DER bytes with the cache.
 *
 *	cm_certdir_preload() parses up to max (0: CM_CERTCACHE_MAX / 2)
 *	ADDRESS.pem files of dir into the certificate cache, for a daemon
 *	that forks per connection to call once in the parent. Files that
 *	do not parse are skipped (the lookup will report them). Returns
 *	the number of certificates cached, or -1 with a reason in err
 *	when dir cannot be opened.
 *--*/
#include <stddef.h>
#include <openssl/x509.h>

extern X509 *cm_certdir_lookup(const char *dir, const char *addr, char *err, size_t errlen);
extern int cm_certdir_preload(const char *dir, int max, char *err, size_t errlen);

#endif
