/*
 * name.c — distinguished names: the "/C=DE/O=Org/CN=name" form of the API,
 * the RFC 2253 form for display and search, and attribute values as UTF-8.
 */
#include "core/core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#define NAME_TEXT_MAX    4096
#define NAME_ENTRIES_MAX 64

/* Two upper-case ASCII letters (ISO 3166-1 alpha-2). */
static int country_valid(const char *v)
{
    return strlen(v) == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z';
}

static int has_control(const char *v)
{
    for (const unsigned char *c = (const unsigned char *)v; *c != '\0'; c++)
        if (*c < 0x20 || *c == 0x7f)
            return 1;
    return 0;
}

/* Adds "key=value" (value already unescaped) to name. */
static int name_add(X509_NAME *name, const char *key, const char *value, struct err *e)
{
    int nid = OBJ_txt2nid(key);
    const char *label;

    if (nid == NID_undef)
        return err_set(e, ERR_INVALID, "subject: unknown attribute \"%.64s\"", key);
    label = OBJ_nid2sn(nid);
    if (value[0] == '\0')
        return err_set(e, ERR_INVALID, "subject.%s: empty value", label);
    if (has_control(value))
        return err_set(e, ERR_INVALID, "subject.%s: control character in value", label);
    if (nid == NID_countryName && !country_valid(value))
        return err_set(e, ERR_INVALID, "subject.C: must be two upper-case letters (ISO 3166)");
    if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (const unsigned char *)value, -1, -1,
                                   0) != 1)
        return err_ossl(e, ERR_INVALID, "subject.%s: bad value", label);
    return 0;
}

/* Splits off one "/key=value" component starting at *pos; unescapes "\x" into out. */
static int name_component(const char **pos, char *out, char **value, struct err *e)
{
    const char *p = *pos;
    char *o = out;

    *value = NULL;
    while (*p != '\0' && *p != '/') {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '=' && *value == NULL) {
            *o++ = '\0';
            *value = o;
            p++;
            continue;
        }
        *o++ = *p++;
    }
    *o = '\0';
    *pos = p;
    if (*value == NULL || out[0] == '\0')
        return err_set(e, ERR_INVALID,
                       "subject: \"%.64s\" is not key=value (form: /C=DE/O=Org/CN=name)", out);
    return 0;
}

/* Adds the components of text ("/k=v/k=v") to name. */
static int name_parse_components(X509_NAME *name, const char *text, struct err *e)
{
    char *work = xmalloc(strlen(text) + 1), *value;
    const char *pos = text;
    int count = 0, rc = 0;

    while (rc == 0 && *pos == '/') {
        pos++;
        if (++count > NAME_ENTRIES_MAX)
            rc = err_set(e, ERR_INVALID, "subject: more than %d attributes", NAME_ENTRIES_MAX);
        else if (name_component(&pos, work, &value, e) != 0 || name_add(name, work, value, e) != 0)
            rc = -1;
    }
    free(work);
    return rc;
}

X509_NAME *name_parse(const char *text, struct err *e)
{
    X509_NAME *name;

    if (text == NULL || strlen(text) > NAME_TEXT_MAX)
        return err_set(e, ERR_INVALID, "subject: missing or longer than %d bytes", NAME_TEXT_MAX),
               NULL;
    if (text[0] != '\0' && text[0] != '/')
        return err_set(e, ERR_INVALID, "subject: must start with '/' (/C=DE/O=Org/CN=name)"), NULL;
    if ((name = X509_NAME_new()) == NULL)
        return err_ossl(e, ERR_INTERNAL, "subject: out of memory"), NULL;
    if (strcmp(text, "/") != 0 && name_parse_components(name, text, e) != 0) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

char *name_oneline(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    char *data = NULL, *out;
    long len;

    if (bio == NULL || X509_NAME_print_ex(bio, name, 0, flags) < 0) {
        BIO_free(bio);
        ERR_clear_error();
        return xstrdup("");
    }
    len = BIO_get_mem_data(bio, &data);
    out = xstrndup(data ? data : "", len > 0 ? (size_t)len : 0);
    BIO_free(bio);
    return out;
}

char *name_entry_utf8(const X509_NAME_ENTRY *entry)
{
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    char *out = NULL;

    if (len >= 0 && memchr(utf8, '\0', (size_t)len) == NULL)
        out = xstrndup((const char *)utf8, (size_t)len);
    OPENSSL_free(utf8);
    ERR_clear_error();
    return out;
}

const char *name_attr_label(const ASN1_OBJECT *obj, char *buf, size_t len)
{
    int nid = OBJ_obj2nid(obj);
    const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;

    if (sn != NULL)
        snprintf(buf, len, "%s", sn);
    else if (OBJ_obj2txt(buf, (int)len, obj, 1) <= 0)
        snprintf(buf, len, "unknown");
    return buf;
}

/* Adds entry to out, in the same RDN as the previous entry if same_rdn. */
static int name_copy_entry(X509_NAME *out, const X509_NAME_ENTRY *entry, int same_rdn)
{
    const ASN1_STRING *data = X509_NAME_ENTRY_get_data(entry);
    int set = same_rdn ? -1 : 0;

    if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)) == NID_countryName &&
        ASN1_STRING_type(data) != V_ASN1_PRINTABLESTRING)
        return X509_NAME_add_entry_by_NID(out, NID_countryName, V_ASN1_PRINTABLESTRING,
                                          ASN1_STRING_get0_data(data), ASN1_STRING_length(data), -1,
                                          set);
    return X509_NAME_add_entry(out, entry, -1, set);
}

/* 1 if a countryName of name is not a PrintableString. */
static int name_country_needs_fix(const X509_NAME *name)
{
    int pos = -1;

    while ((pos = X509_NAME_get_index_by_NID(name, NID_countryName, pos)) >= 0) {
        const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, pos);
        if (ASN1_STRING_type(X509_NAME_ENTRY_get_data(entry)) != V_ASN1_PRINTABLESTRING)
            return 1;
    }
    return 0;
}

X509_NAME *name_with_printable_country(const X509_NAME *name)
{
    X509_NAME *out;
    int n = X509_NAME_entry_count(name), prev_set = -1;

    if (!name_country_needs_fix(name))
        return X509_NAME_dup(name); /* keeps the encoding byte for byte */
    out = X509_NAME_new();

    for (int i = 0; out != NULL && i < n; i++) {
        const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, i);
        int set = X509_NAME_ENTRY_set(entry);
        if (name_copy_entry(out, entry, i > 0 && set == prev_set) != 1) {
            X509_NAME_free(out);
            out = NULL;
        }
        prev_set = set;
    }
    return out;
}
