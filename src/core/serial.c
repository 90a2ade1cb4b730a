/*
 * serial.c — certificate serial numbers: drawn from the CSPRNG (RFC 5280
 * §4.1.2.2, BR §7.1: positive, at most 20 octets, at least 64 random bits)
 * and their hex form used as the key in storage and URLs.
 */
#include "core/core_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>

#define SERIAL_OCTETS  16
#define SERIAL_MAX_HEX 64 /* lookups of foreign serials; we issue 32 */

ASN1_INTEGER *serial_random(struct err *e)
{
    unsigned char raw[SERIAL_OCTETS];
    ASN1_INTEGER *serial = NULL;
    BIGNUM *bn = NULL;

    for (int attempt = 0; attempt < 4; attempt++) {
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            err_ossl(e, ERR_INTERNAL, "serial: the CSPRNG failed");
            return NULL;
        }
        raw[0] &= 0x7f; /* positive, and DER needs no 0x00 prefix */
        bn = BN_bin2bn(raw, sizeof(raw), NULL);
        if (bn != NULL && !BN_is_zero(bn))
            break;
        BN_free(bn);
        bn = NULL;
    }
    if (bn != NULL)
        serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (serial == NULL)
        err_ossl(e, ERR_INTERNAL, "serial: cannot draw a serial number");
    return serial;
}

char *serial_hex(const ASN1_INTEGER *serial)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    const char *digits;
    char *out;

    BN_free(bn);
    if (hex == NULL)
        return xstrdup("0");
    digits = hex[0] == '-' ? hex + 1 : hex;
    while (digits[0] == '0' && digits[1] != '\0')
        digits++;
    out = xstrdup(digits);
    OPENSSL_free(hex);
    for (char *c = out; *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    return out;
}

ASN1_INTEGER *serial_from_hex(const char *hex)
{
    size_t n = hex ? strlen(hex) : 0;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial;

    if (n == 0 || n > SERIAL_MAX_HEX)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)hex[i]))
            return NULL;
    if (BN_hex2bn(&bn, hex) != (int)n)
        serial = NULL;
    else
        serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    return serial;
}

int serial_canonicalize(char *s)
{
    const char *p = s;
    char *out = s;
    size_t digits = 0;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    for (const char *q = p; *q != '\0'; q++) {
        if (isxdigit((unsigned char)*q))
            digits++;
        else if (*q != ':' && *q != ' ')
            return 0;
    }
    if (digits == 0 || digits > SERIAL_MAX_HEX + 2)
        return 0;
    for (; *p != '\0'; p++) {
        if (*p == ':' || *p == ' ' || (out == s && *p == '0'))
            continue; /* separators, and zeros before the first significant digit */
        *out++ = (char)tolower((unsigned char)*p);
    }
    if (out == s) /* the serial 0 */
        *out++ = '0';
    *out = '\0';
    return 1;
}
