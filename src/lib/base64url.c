/*
 * b64url.c — base64url without padding (RFC 7515 §2, RFC 4648 §5), the
 * encoding of every binary field of JWS and ACME.  Decoding is strict: one
 * text per value (RFC 8555 §6.1: "values that include trailing '='
 * characters MUST be rejected").
 */
#include "lib/util.h"

#include <stdlib.h>

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *base64url_encode(const unsigned char *data, size_t len)
{
    char *out = xmalloc(len / 3 * 4 + 4);
    size_t i = 0, o = 0;
    uint32_t v;

    for (; len - i >= 3; i += 3) {
        v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i > 0) {
        v = (uint32_t)data[i] << 16 | (len - i == 2 ? (uint32_t)data[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (len - i == 2)
            out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

/* The 6-bit value of c in the base64url alphabet; -1 for any other byte. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int base64url_decode(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *buf;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    int v;

    if (len % 4 == 1) /* 6 bits cannot end a byte */
        return -1;
    buf = xmalloc(len / 4 * 3 + 3);
    for (size_t i = 0; i < len; i++) {
        if ((v = b64url_value((unsigned char)text[i])) < 0) {
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* RFC 4648 §3.5: the pad bits of a canonical encoding are zero */
        free(buf);
        return -1;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}
