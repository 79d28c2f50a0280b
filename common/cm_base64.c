/*++
 * NAME
 *	cm_base64 3
 * SUMMARY
 *	base64 encode and decode with OpenSSL EVP_Encode/EVP_Decode
 * DESCRIPTION
 *	See cm_base64.h.
 *--*/
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <openssl/evp.h>

#include "cm_base64.h"

/* cm_base64_encode - base64 text, optionally folded */
char   *cm_base64_encode(const unsigned char *data, size_t len, size_t line_len)
{
    size_t  raw_len;
    size_t  out_len;
    char   *raw;
    char   *out;
    size_t  i, o;

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
    for (i = o = 0; i < raw_len; i++) {
	out[o++] = raw[i];
	if ((i + 1) % line_len == 0 || i + 1 == raw_len)
	    out[o++] = '\n';
    }
    out[o] = 0;
    free(raw);
    return (out);
}

/* cm_base64_decode - strict decode, whitespace ignored */
unsigned char *cm_base64_decode(const char *text, size_t len, size_t *out_len)
{
    char   *clean;
    size_t  n = 0;
    size_t  i;
    unsigned char *out;
    EVP_ENCODE_CTX *ctx;
    int     part = 0;
    int     fin = 0;

    if (len > INT_MAX)
	return (0);
    if ((clean = malloc(len + 1)) == 0)
	return (0);
    for (i = 0; i < len; i++) {
	unsigned char c = (unsigned char) text[i];

	if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
	    continue;
	if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
	      || c == '+' || c == '/' || c == '=')) {
	    free(clean);
	    return (0);
	}
	/* Padding only at the end. */
	if (n > 0 && clean[n - 1] == '=' && c != '=') {
	    free(clean);
	    return (0);
	}
	clean[n++] = (char) c;
    }
    if (n % 4 != 0 || (n >= 3 && clean[n - 3] == '=')) {
	free(clean);
	return (0);
    }
    if ((out = malloc(n / 4 * 3 + 1)) == 0 || (ctx = EVP_ENCODE_CTX_new()) == 0) {
	free(out);
	free(clean);
	return (0);
    }
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, out, &part, (unsigned char *) clean, (int) n) < 0
	|| EVP_DecodeFinal(ctx, out + part, &fin) < 0) {
	EVP_ENCODE_CTX_free(ctx);
	free(out);
	free(clean);
	return (0);
    }
    EVP_ENCODE_CTX_free(ctx);
    free(clean);
    *out_len = (size_t) part + (size_t) fin;
    out[*out_len] = 0;
    return (out);
}
