/*
 * san.c — subject alternative names: syntax of DNS names, e-mail addresses,
 * URIs and IP addresses (RFC 5280 §4.2.1.6, BR §7.1.4.2.1), their text form,
 * and the search summary of a certificate's SANs.
 */
#include "core/core_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_NAME_MAX  253
#define DNS_LABEL_MAX 63
#define EMAIL_MAX     320
#define URI_MAX       2048

const char *const san_type_names[SAN_TYPES] = {"dns", "ip", "email", "uri"};

enum san_type san_type_of(const GENERAL_NAME *gn)
{
    switch (gn->type) {
    case GEN_DNS:
        return SAN_DNS;
    case GEN_IPADD:
        return SAN_IP;
    case GEN_EMAIL:
        return SAN_EMAIL;
    case GEN_URI:
        return SAN_URI;
    default:
        return SAN_TYPES;
    }
}

static char *ia5_text(const ASN1_STRING *s)
{
    const unsigned char *data = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);

    if (data == NULL || len < 0 || memchr(data, '\0', (size_t)len) != NULL)
        return NULL;
    return xstrndup((const char *)data, (size_t)len);
}

static char *ip_text(const ASN1_OCTET_STRING *ip)
{
    char buf[INET6_ADDRSTRLEN];
    int len = ASN1_STRING_length(ip);
    int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;

    if (family < 0 || inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof(buf)) == NULL)
        return NULL;
    return xstrdup(buf);
}

char *san_value_text(const GENERAL_NAME *gn)
{
    switch (gn->type) {
    case GEN_DNS:
    case GEN_EMAIL:
    case GEN_URI:
        return ia5_text(gn->d.ia5);
    case GEN_IPADD:
        return ip_text(gn->d.ip);
    default:
        return NULL;
    }
}

/* One label of a DNS name: 1-63 of [a-z0-9-], no hyphen at either end. */
static int dns_label_check(const char *label, size_t n, char *why, size_t len)
{
    if (n == 0)
        return snprintf(why, len, "empty label"), -1;
    if (n > DNS_LABEL_MAX)
        return snprintf(why, len, "label longer than %d characters", DNS_LABEL_MAX), -1;
    if (label[0] == '-' || label[n - 1] == '-')
        return snprintf(why, len, "label starts or ends with '-'"), -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)label[i];
        if (c >= 'A' && c <= 'Z')
            return snprintf(why, len, "must be lowercase"), -1;
        if (c >= 0x80)
            return snprintf(why, len, "must be an A-label (ASCII, xn-- form)"), -1;
        if (c == '*')
            return snprintf(why, len, "a wildcard must be the whole leftmost label"), -1;
        if (c == '_')
            return snprintf(why, len, "'_' is not allowed in host names"), -1;
        if (!(islower(c) || isdigit(c) || c == '-'))
            return snprintf(why, len, "character '%c' not allowed", isprint(c) ? c : '?'), -1;
    }
    return 0;
}

/* Checks the labels of name; counts them into *labels; the last one must not be numeric. */
static int dns_labels_check(const char *name, int *labels, char *why, size_t len)
{
    const char *p = name, *dot, *last = name;
    size_t n;

    *labels = 0;
    for (;;) {
        dot = strchr(p, '.');
        n = dot ? (size_t)(dot - p) : strlen(p);
        if (dns_label_check(p, n, why, len) != 0)
            return -1;
        (*labels)++;
        last = p;
        if (dot == NULL)
            break;
        p = dot + 1;
    }
    if (strspn(last, "0123456789") == strlen(last))
        return snprintf(why, len, "numeric top-level label (an IP address belongs in ip:)"), -1;
    return 0;
}

int san_check_dns(const char *name, enum dns_mode mode, char *why, size_t len)
{
    size_t n = strlen(name);
    int labels = 0, wildcard = 0;

    if (n == 0)
        return snprintf(why, len, "empty name"), -1;
    if (n > DNS_NAME_MAX)
        return snprintf(why, len, "longer than %d characters", DNS_NAME_MAX), -1;
    if (name[n - 1] == '.')
        return snprintf(why, len, "trailing dot not allowed"), -1;
    if (mode == DNS_CONSTRAINT && name[0] == '.')
        name++;
    else if (mode == DNS_SAN && strncmp(name, "*.", 2) == 0) {
        wildcard = 1;
        name += 2;
    }
    if (dns_labels_check(name, &labels, why, len) != 0)
        return -1;
    if (wildcard && labels < 2)
        return snprintf(why, len, "a wildcard needs at least two labels after it"), -1;
    return 0;
}

int san_check_email(const char *addr, char *why, size_t len)
{
    const char *at = strchr(addr, '@');

    if (strlen(addr) > EMAIL_MAX)
        return snprintf(why, len, "longer than %d characters", EMAIL_MAX), -1;
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return snprintf(why, len, "must contain exactly one '@'"), -1;
    if (at == addr || at - addr > 64)
        return snprintf(why, len, "local part must be 1 to 64 characters"), -1;
    for (const char *c = addr; c < at; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return snprintf(why, len, "local part must be printable ASCII without spaces"), -1;
    if (san_check_dns(at + 1, DNS_HOST, why, len) != 0) {
        char inner[128];
        snprintf(inner, sizeof(inner), "%s", why);
        return snprintf(why, len, "domain: %s", inner), -1;
    }
    return 0;
}

int san_check_uri(const char *uri, char *why, size_t len)
{
    size_t n = strlen(uri), scheme = 0;

    if (n == 0 || n > URI_MAX)
        return snprintf(why, len, "must be 1 to %d characters", URI_MAX), -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)uri[i] <= 0x20 || (unsigned char)uri[i] >= 0x7f)
            return snprintf(why, len, "must be printable ASCII without spaces"), -1;
    if (isalpha((unsigned char)uri[0]))
        scheme = 1 + strspn(uri + 1, "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (scheme == 0 || uri[scheme] != ':' || uri[scheme + 1] == '\0')
        return snprintf(why, len, "must be an absolute URI (scheme:...)"), -1;
    return 0;
}

/* Sets the top prefix bits of mask (len octets). */
static void cidr_mask(unsigned char *mask, int len, long prefix)
{
    for (int i = 0; i < len; i++) {
        long bits = prefix - 8L * i;
        mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
    }
}

int san_parse_cidr(const char *text, unsigned char *out, int *out_len)
{
    char addr[INET6_ADDRSTRLEN + 1], *end;
    const char *slash = strchr(text, '/');
    int len;
    long prefix;

    if (slash == NULL || (size_t)(slash - text) >= sizeof(addr) ||
        !isdigit((unsigned char)slash[1]))
        return -1;
    memcpy(addr, text, (size_t)(slash - text));
    addr[slash - text] = '\0';
    if (inet_pton(AF_INET, addr, out) == 1)
        len = 4;
    else if (inet_pton(AF_INET6, addr, out) == 1)
        len = 16;
    else
        return -1;
    prefix = strtol(slash + 1, &end, 10);
    if (*end != '\0' || prefix < 0 || prefix > 8L * len)
        return -1;
    cidr_mask(out + len, len, prefix);
    for (int i = 0; i < len; i++)
        if ((out[i] & ~out[len + i]) != 0)
            return -1; /* host bits set */
    *out_len = 2 * len;
    return 0;
}

GENERAL_NAME *san_new_ia5(int type, const char *value)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

    if (gn == NULL || ia5 == NULL || ASN1_STRING_set(ia5, value, (int)strlen(value)) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(ia5);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, type, ia5);
    return gn;
}

GENERAL_NAME *san_new_ip(const unsigned char *octets, int len)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_OCTET_STRING *ip = ASN1_OCTET_STRING_new();

    if (gn == NULL || ip == NULL || ASN1_OCTET_STRING_set(ip, octets, len) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_OCTET_STRING_free(ip);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    return gn;
}

/* "type:value" of one SAN for the summary; NULL to leave it out. Caller frees. */
static char *san_summary_item(const GENERAL_NAME *gn)
{
    enum san_type t = san_type_of(gn);
    char oid[128], *text, *item = NULL;

    if (t != SAN_TYPES) {
        if ((text = san_value_text(gn)) != NULL)
            item = xasprintf("%s:%s", san_type_names[t], text);
        free(text);
    } else if (gn->type == GEN_DIRNAME) {
        text = name_oneline(gn->d.directoryName);
        item = xasprintf("dirname:%s", text);
        free(text);
    } else if (gn->type == GEN_RID) {
        item = xasprintf("rid:%s", name_attr_label(gn->d.registeredID, oid, sizeof(oid)));
    } else if (gn->type == GEN_OTHERNAME) {
        item =
            xasprintf("othername:%s", name_attr_label(gn->d.otherName->type_id, oid, sizeof(oid)));
    }
    return item;
}

char *sans_summary(const X509 *cert)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    struct buf b = {0};

    for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
        char *item = san_summary_item(sk_GENERAL_NAME_value(sans, i));
        if (item == NULL)
            continue;
        if (b.len > 0)
            buf_append(&b, ",", 1);
        buf_append(&b, item, strlen(item));
        free(item);
    }
    buf_append(&b, "", 1);
    GENERAL_NAMES_free(sans);
    for (unsigned char *c = b.data; *c != '\0'; c++)
        *c = (unsigned char)tolower(*c);
    return (char *)b.data;
}
