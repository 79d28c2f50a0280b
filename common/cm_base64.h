#ifndef CM_BASE64_H
#define CM_BASE64_H
/*++
 * NAME
 *	cm_base64 3h
 * SUMMARY
 *	base64 through OpenSSL's EVP codec
 * SYNOPSIS
 *	#include "cm_base64.h"
 *
 *	char	*cm_base64_encode(const unsigned char *data, size_t len,
 *				size_t line_len);
 *	unsigned char *cm_base64_decode(const char *text, size_t len,
 *				size_t *out_len);
 * DESCRIPTION
 *	cm_base64_encode() returns a malloc()ed NUL-terminated string;
 *	with line_len > 0 (a multiple of 4) a newline follows every
 *	line_len characters and the last line.
 *
 *	cm_base64_decode() skips CR, LF, space and tab, and returns a
 *	malloc()ed buffer (NUL-terminated for convenience, not counted in
 *	*out_len), or NULL on any other character, bad padding or a length
 *	that is not a multiple of 4. No hand-written codec: OpenSSL's
 *	EVP_Encode/EVP_Decode do the work.
 *--*/
#include <stddef.h>

extern char *cm_base64_encode(const unsigned char *data, size_t len, size_t line_len);
extern unsigned char *cm_base64_decode(const char *text, size_t len, size_t *out_len);

#endif
