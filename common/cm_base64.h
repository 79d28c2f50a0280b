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
 *	ssize_t	cm_base64_decode_inplace(char *text, size_t len,
 *				unsigned char *out);
 *	ssize_t	cm_base64_decode_block(const char *text, size_t len,
 *				unsigned char *out);
 *
 *	extern const unsigned char cm_base64_class[256];
 * DESCRIPTION
 *	cm_base64_encode() returns a malloc()ed NUL-terminated string;
 *	with line_len > 0 (a multiple of 4) a newline follows every
 *	line_len characters and the last line.
 *
 *	cm_base64_decode() skips CR, LF, space and tab, and returns a
 *	malloc()ed buffer (NUL-terminated for convenience, not counted in
 *	*out_len), or NULL on any other character, bad padding or a length
 *	that is not a multiple of 4. No hand-written codec: OpenSSL's
 *	EVP_EncodeBlock/EVP_DecodeBlock do the work.
 *
 *	cm_base64_decode_inplace() applies the rules of cm_base64_decode()
 *	without allocating: it removes the white space from text itself
 *	(len bytes, modified) and writes the decoded bytes to out, which
 *	must have room for len / 4 * 3 bytes. It returns their number, or
 *	-1 where cm_base64_decode() returns NULL. For streams decoded a
 *	line at a time (the stored form).
 *
 *	cm_base64_decode_block() decodes len bytes of base64 text without
 *	white space: len a multiple of 4, "=" padding (at most two) only at
 *	the end. out needs room for len / 4 * 3 bytes. It returns the
 *	number of decoded bytes, or -1 on any other input. The building
 *	block of a streaming decoder that keeps its own carry of fewer
 *	than 4 characters between lines (the ENVELOPE reader).
 *
 *	cm_base64_class[] classifies a byte for decoders: CM_BASE64_SPACE
 *	(CR, LF, space, tab), CM_BASE64_CHAR (A-Z a-z 0-9 + /),
 *	CM_BASE64_PAD ("="), CM_BASE64_BAD (anything else).
 *--*/
#include <stddef.h>
#include <sys/types.h>

#define CM_BASE64_SPACE	0
#define CM_BASE64_CHAR	1
#define CM_BASE64_PAD	2
#define CM_BASE64_BAD	3

extern const unsigned char cm_base64_class[256];

extern char *cm_base64_encode(const unsigned char *data, size_t len, size_t line_len);
extern unsigned char *cm_base64_decode(const char *text, size_t len, size_t *out_len);
extern ssize_t cm_base64_decode_inplace(char *text, size_t len, unsigned char *out);
extern ssize_t cm_base64_decode_block(const char *text, size_t len, unsigned char *out);

#endif
