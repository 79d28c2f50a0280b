/*++
 * NAME
 *	cm_base64 3
 * SUMMARY
 *	base64 encode and decode with OpenSSL EVP_EncodeBlock/EVP_DecodeBlock
 * DESCRIPTION
 *	See cm_base64.h. The decoders hand whole 4-character groups to
 *	EVP_DecodeBlock(), which refuses any byte outside the alphabet
 *	but has no padding rules of its own: it decodes "=" as a zero
 *	sextet, so the padding is checked here and its bytes subtracted,
 *	and it skips white space at both ends, which the length of its
 *	result reveals. White space inside the text is removed first
 *	(b64_clean(), one table look-up per byte). No allocation or EVP context per call of
 *	the block decoder: the stored form and the ENVELOPE are decoded a
 *	line at a time.
 *--*/
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <openssl/evp.h>

#include "cm_base64.h"

 /*
  * 0 CR LF space tab, 1 A-Z a-z 0-9 + /, 2 =, 3 anything else.
  */
const unsigned char cm_base64_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 3, 3, 0, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 3, 3, 3, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 2, 3, 3,
    3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3,
    3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

/* cm_base64_encode - base64 text, optionally folded */
char   *cm_base64_encode(const unsigned char *data, size_t len, size_t line_len)
{
    size_t  raw_len;
    size_t  out_len;
    char   *raw;
    char   *out;
    size_t  i, o, take;

    if (len > (SIZE_MAX / 4) * 3 - 3 || len > INT_MAX)
	return (0);
    raw_len = 4 * ((len + 2) / 3);
    if ((raw = malloc(raw_len + 1)) == 0)
	return (0);
    if (len > 0)
	EVP_EncodeBlock((unsigned char *) raw, data, (int) len);
    raw[raw_len] = 0;
    if (line_len == 0)
	return (raw);
    out_len = raw_len + raw_len / line_len + 2;
    if ((out = malloc(out_len + 1)) == 0) {
	free(raw);
	return (0);
    }
    /* A newline after every line_len characters and after the last. */
    for (i = o = 0; i < raw_len; i += take) {
	take = raw_len - i < line_len ? raw_len - i : line_len;
	memcpy(out + o, raw + i, take);
	o += take;
	out[o++] = '\n';
    }
    out[o] = 0;
    free(raw);
    return (out);
}

/* b64_clean - check text, copy it without white space; count or -1 */
static ssize_t b64_clean(const char *text, size_t len, char *clean)
{
    size_t  n = 0;
    size_t  i;
    int     padded = 0;

    for (i = 0; i < len; i++) {
	unsigned char c = (unsigned char) text[i];

	switch (cm_base64_class[c]) {
	case CM_BASE64_SPACE:
	    continue;
	case CM_BASE64_CHAR:
	    /* Padding only at the end. */
	    if (padded)
		return (-1);
	    break;
	case CM_BASE64_PAD:
	    padded = 1;
	    break;
	default:
	    return (-1);
	}
	clean[n++] = (char) c;
    }
    if (n % 4 != 0 || (n >= 3 && clean[n - 3] == '='))
	return (-1);
    return ((ssize_t) n);
}

/* cm_base64_decode_block - whole groups, padding only at the end */
ssize_t cm_base64_decode_block(const char *text, size_t len, unsigned char *out)
{
    size_t  pads = 0;
    int     n;

    if (len % 4 != 0 || len > INT_MAX)
	return (-1);
    if (len == 0)
	return (0);
    while (pads < 2 && text[len - 1 - pads] == '=')
	pads++;
    if (memchr(text, '=', len - pads) != 0)
	return (-1);
    /* EVP_DecodeBlock() skips leading and trailing white space: refuse it. */
    n = EVP_DecodeBlock(out, (const unsigned char *) text, (int) len);
    if (n < 0 || (size_t) n != len / 4 * 3)
	return (-1);
    return ((ssize_t) ((size_t) n - pads));
}

/* cm_base64_decode_inplace - strict decode of a line, white space removed in place */
ssize_t cm_base64_decode_inplace(char *text, size_t len, unsigned char *out)
{
    ssize_t n;

    /* The usual line has no white space: EVP_DecodeBlock() checks it all. */
    if ((n = cm_base64_decode_block(text, len, out)) >= 0)
	return (n);
    if (len > INT_MAX || (n = b64_clean(text, len, text)) < 0)
	return (-1);
    return (cm_base64_decode_block(text, (size_t) n, out));
}

/* cm_base64_decode - strict decode, whitespace ignored */
unsigned char *cm_base64_decode(const char *text, size_t len, size_t *out_len)
{
    char   *clean;
    unsigned char *out;
    ssize_t n;

    if (len > INT_MAX)
	return (0);
    if ((clean = malloc(len + 1)) == 0)
	return (0);
    if ((n = b64_clean(text, len, clean)) < 0
	|| (out = malloc((size_t) n / 4 * 3 + 1)) == 0) {
	free(clean);
	return (0);
    }
    if ((n = cm_base64_decode_block(clean, (size_t) n, out)) < 0) {
	free(out);
	free(clean);
	return (0);
    }
    free(clean);
    *out_len = (size_t) n;
    out[*out_len] = 0;
    return (out);
}
