/*
 * der.c — whether an input that a protocol defines as DER is DER.
 *
 * OCSP requests (RFC 6960 §4.1.1), time-stamp queries (RFC 3161 §2.4.1) and
 * PKCS#10 requests (RFC 2986 §4) are DER, but OpenSSL's decoders take BER
 * too: indefinite lengths, lengths in more octets than needed, strings split
 * into constructed pieces, any non-zero octet as TRUE.  d2i also stops at the
 * end of the first value and leaves what follows to the caller.  The walk
 * below reads every TLV's header with OpenSSL (ASN1_get_object) and refuses
 * any of these before the decoders run, so that one request has one
 * encoding and bad input gets the protocol's own error.
 */
#include "core/core_internal.h"

#include <limits.h>

#include <openssl/asn1.h>
#include <openssl/err.h>

#define DER_MAX_DEPTH 32 /* OpenSSL's own decoder stops at 30 nested values */

/*
 * Of the universal types in these protocols only SEQUENCE and SET are
 * constructed; DER encodes strings and times primitive (X.690 §10.2).
 */
static int universal_constructed(int tag)
{
    return tag == V_ASN1_SEQUENCE || tag == V_ASN1_SET;
}

/* The content rules of X.690 §11.1 (BOOLEAN) and §8.3.2 (INTEGER, ENUMERATED) for DER. */
static int primitive_ok(int tag, const unsigned char *c, long len)
{
    if (tag == V_ASN1_BOOLEAN)
        return len == 1 && (c[0] == 0x00 || c[0] == 0xff);
    if (tag == V_ASN1_INTEGER || tag == V_ASN1_ENUMERATED)
        return len >= 1 &&
               !(len > 1 && ((c[0] == 0x00 && !(c[1] & 0x80)) || (c[0] == 0xff && (c[1] & 0x80))));
    return 1;
}

/* Every TLV of the len bytes at der, and of their contents, is DER; 0 or -1. */
static int der_walk(const unsigned char *der, long len, int depth)
{
    const unsigned char *p = der, *end = der + len;

    if (depth > DER_MAX_DEPTH)
        return -1;
    while (p < end) {
        const unsigned char *start = p;
        long content;
        int tag, class, ret = ASN1_get_object(&p, &content, &tag, &class, end - start);

        if ((ret & 0x80) != 0 || (ret & 0x01) != 0) /* malformed or too long; indefinite */
            return -1;
        /* The header in as few octets as the tag and length need (X.690 §10.1). */
        if (content > INT_MAX || p - start != ASN1_object_size(0, (int)content, tag) - content)
            return -1;
        if ((ret & V_ASN1_CONSTRUCTED) != 0) {
            if ((class == V_ASN1_UNIVERSAL && !universal_constructed(tag)) ||
                der_walk(p, content, depth + 1) != 0)
                return -1;
        } else if (class == V_ASN1_UNIVERSAL && !primitive_ok(tag, p, content)) {
            return -1;
        }
        p += content;
    }
    return 0;
}

int der_check(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    long content;
    int tag, class, ret;

    if (der == NULL || len == 0 || len > INT_MAX)
        return -1;
    ret = ASN1_get_object(&p, &content, &tag, &class, (long)len);
    ERR_clear_error();
    if ((ret & 0x80) != 0 || (size_t)(p - der) + (size_t)content != len)
        return -1; /* not one value, or something after it */
    if (der_walk(der, (long)len, 0) != 0) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}
