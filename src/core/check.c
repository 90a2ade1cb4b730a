/*
 * check.c — profile_check(): does a request obey every rule of a profile?
 * Errors are ERR_POLICY "profile_violation" and start with the field they concern.
 */
#include "core/core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAN_TOTAL_MAX       1000
#define SUBJECT_ENTRIES_MAX 64

/* ---- key and validity ------------------------------------------------------- */

static int check_key(const struct profile *p, EVP_PKEY *key, struct err *e)
{
    struct key_info ki;
    char why[160];

    if (key == NULL)
        return err_set(e, ERR_POLICY, "key: missing");
    key_describe(key, &ki);
    if (ki.kind == KT_NONE || (p->key_types & (unsigned)ki.kind) == 0) {
        char *allowed = key_kinds_list(p->key_types);
        err_set(e, ERR_POLICY, "key: %s not allowed (allowed: %s)", ki.name, allowed);
        free(allowed);
        return -1;
    }
    if (key_check_strength(key, &ki, why, sizeof(why)) != 0)
        return err_set(e, ERR_POLICY, "key: %s", why);
    return 0;
}

static int check_validity(const struct profile *p, const struct issue_request *r, struct err *e)
{
    if (r->validity_days < 0)
        return err_set(e, ERR_POLICY, "validity_days: must not be negative");
    if (r->validity_days > p->max_days)
        return err_set(e, ERR_POLICY, "validity_days: %ld exceeds the profile's max_days %ld",
                       r->validity_days, p->max_days);
    return 0;
}

/* ---- subject ---------------------------------------------------------------- */

static const struct value_rule *subject_rule(const struct profile *p, int nid)
{
    for (size_t i = 0; i < p->subject_count; i++)
        if (p->subject[i].nid == nid)
            return &p->subject[i];
    return &p->subject_other;
}

static int printable_string_valid(const ASN1_STRING *s)
{
    static const char extra[] = " '()+,-./:=?";
    const unsigned char *d = ASN1_STRING_get0_data(s);

    for (int i = 0; i < ASN1_STRING_length(s); i++)
        if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
              (d[i] >= '0' && d[i] <= '9') || (d[i] != '\0' && strchr(extra, d[i]) != NULL)))
            return 0;
    return 1;
}

/*
 * The string types an attribute value may have (RFC 5280 §4.1.2.4, Appendix
 * A): PrintableString (valid characters only) or UTF8String; IA5String for
 * emailAddress and domainComponent.  BMPString, TeletexString and
 * UniversalString are refused.
 */
static const char *string_type_problem(int nid, const ASN1_STRING *s)
{
    int type = ASN1_STRING_type(s);

    if (nid == NID_pkcs9_emailAddress || nid == NID_domainComponent)
        return type == V_ASN1_IA5STRING ? NULL : "must be an IA5String";
    if (type == V_ASN1_PRINTABLESTRING)
        return printable_string_valid(s) ? NULL : "PrintableString with characters it cannot hold";
    if (type == V_ASN1_UTF8STRING)
        return NULL; /* a UTF8String countryName is re-encoded by cert_build */
    return "must be a PrintableString or UTF8String";
}

static long utf8_chars(const char *s)
{
    long n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Checks one value's encoding and content; label is "C", "CN", ... */
static int check_value(int nid, const char *label, const ASN1_STRING *data, const char *value,
                       struct err *e)
{
    const char *problem = string_type_problem(nid, data);
    const ASN1_STRING_TABLE *table = ASN1_STRING_TABLE_get(nid);
    char why[64];

    if (problem != NULL)
        return err_set(e, ERR_POLICY, "subject.%s: %s", label, problem);
    if (value[0] == '\0')
        return err_set(e, ERR_POLICY, "subject.%s: %s", label, "empty value");
    for (const unsigned char *c = (const unsigned char *)value; *c != '\0'; c++)
        if (*c < 0x20 || *c == 0x7f)
            return err_set(e, ERR_POLICY, "subject.%s: %s", label, "control character in value");
    if (nid == NID_countryName && !(strlen(value) == 2 && value[0] >= 'A' && value[0] <= 'Z' &&
                                    value[1] >= 'A' && value[1] <= 'Z'))
        return err_set(e, ERR_POLICY, "subject.%s: %s", label,
                       "must be two upper-case letters (ISO 3166)");
    if (table != NULL && table->maxsize > 0 && utf8_chars(value) > table->maxsize) {
        snprintf(why, sizeof(why), "longer than %ld characters", table->maxsize);
        return err_set(e, ERR_POLICY, "subject.%s: %s", label, why);
    }
    return 0;
}

/* How often entry i's attribute occurs in entries 0..i. */
static int occurrences(const X509_NAME *name, int i)
{
    const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, i));
    int n = 0;

    for (int j = 0; j <= i; j++)
        if (OBJ_cmp(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, j)), obj) == 0)
            n++;
    return n;
}

static int check_entry(const struct profile *p, const X509_NAME *name, int i, struct err *e)
{
    const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    const struct value_rule *rule = subject_rule(p, nid);
    char label[80], *value;
    int rc = 0;

    name_attr_label(X509_NAME_ENTRY_get_object(entry), label, sizeof(label));
    if (nid == NID_undef || rule->rule == RULE_FORBIDDEN)
        return err_set(e, ERR_POLICY, "subject.%s: forbidden", label);
    if ((value = name_entry_utf8(entry)) == NULL)
        return err_set(e, ERR_POLICY, "subject.%s: %s", label, "value is not a valid string");
    if (check_value(nid, label, X509_NAME_ENTRY_get_data(entry), value, e) != 0)
        rc = -1;
    else if (!value_rule_match(rule, value))
        rc = err_set(e, ERR_POLICY, "subject.%s \"%.64s\": does not match pattern", label, value);
    else if (occurrences(name, i) > rule->max)
        rc = err_set(e, ERR_POLICY, "subject.%s: at most %d allowed", label, rule->max);
    free(value);
    return rc;
}

static int check_subject(const struct profile *p, const X509_NAME *name, struct err *e)
{
    int n = name ? X509_NAME_entry_count(name) : 0;

    if (n > SUBJECT_ENTRIES_MAX)
        return err_set(e, ERR_POLICY, "subject: more than %d attributes", SUBJECT_ENTRIES_MAX);
    for (int i = 0; i < n; i++)
        if (check_entry(p, name, i, e) != 0)
            return -1;
    for (size_t k = 0; k < p->subject_count; k++)
        if (p->subject[k].rule == RULE_REQUIRED &&
            (n == 0 || X509_NAME_get_index_by_NID(name, p->subject[k].nid, -1) < 0))
            return err_set(e, ERR_POLICY, "subject.%s: required", OBJ_nid2sn(p->subject[k].nid));
    if (p->ca && n == 0)
        return err_set(e, ERR_POLICY, "subject: a CA certificate needs a subject");
    return 0;
}

/* ---- subject alternative names --------------------------------------------------------- */

static int check_san_syntax(enum san_type t, const char *text, char *why, size_t len)
{
    switch (t) {
    case SAN_DNS:
        return san_check_dns(text, DNS_SAN, why, len);
    case SAN_EMAIL:
        return san_check_email(text, why, len);
    case SAN_URI:
        return san_check_uri(text, why, len);
    default:
        return 0;
    }
}

static int san_duplicate(const GENERAL_NAMES *sans, int i)
{
    for (int j = 0; j < i; j++)
        if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(sans, j), sk_GENERAL_NAME_value(sans, i)) == 0)
            return 1;
    return 0;
}

/* Checks SAN i; index is its position among the SANs of its type. */
static int check_san(const struct profile *p, const GENERAL_NAMES *sans, int i, int index,
                     struct err *e)
{
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
    enum san_type t = san_type_of(gn);
    const char *type = san_type_names[t];
    char why[160], *text;
    int rc = -1;

    if (p->san[t].rule == RULE_FORBIDDEN)
        return err_set(e, ERR_POLICY, "san.%s[%d]: forbidden", type, index);
    if (index >= p->san[t].max)
        return err_set(e, ERR_POLICY, "san.%s: at most %d allowed", type, p->san[t].max);
    if ((text = san_value_text(gn)) == NULL)
        return err_set(e, ERR_POLICY, "san.%s[%d]: %s", type, index,
                       t == SAN_IP ? "IP address must be 4 or 16 octets" : "not a valid string");
    if (check_san_syntax(t, text, why, sizeof(why)) != 0)
        err_set(e, ERR_POLICY, "san.%s[%d] \"%.64s\": %s", type, index, text, why);
    else if (!value_rule_match(&p->san[t], text))
        err_set(e, ERR_POLICY, "san.%s[%d] \"%.64s\": does not match pattern", type, index, text);
    else if (san_duplicate(sans, i))
        err_set(e, ERR_POLICY, "san.%s[%d] \"%.64s\": duplicate", type, index, text);
    else
        rc = 0;
    free(text);
    return rc;
}

static int check_sans(const struct profile *p, const struct issue_request *r, struct err *e)
{
    int n = sk_GENERAL_NAME_num(r->sans), count[SAN_TYPES] = {0};

    if (n > SAN_TOTAL_MAX)
        return err_set(e, ERR_POLICY, "san: more than %d names", SAN_TOTAL_MAX);
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(r->sans, i);
        enum san_type t = san_type_of(gn);
        if (t == SAN_TYPES)
            return err_set(e, ERR_POLICY, "san[%d]: only dns, ip, email and uri names are possible",
                           i);
        if (check_san(p, r->sans, i, count[t]++, e) != 0)
            return -1;
    }
    for (int t = 0; t < SAN_TYPES; t++)
        if (p->san[t].rule == RULE_REQUIRED && count[t] == 0)
            return err_set(e, ERR_POLICY, "san.%s: required", san_type_names[t]);
    if (n <= 0 && p->san_required)
        return err_set(e, ERR_POLICY, "san: at least one subject alternative name required");
    if (n <= 0 && (r->subject == NULL || X509_NAME_entry_count(r->subject) == 0))
        return err_set(e, ERR_POLICY,
                       "san: required when the subject is empty (RFC 5280 §4.2.1.6)");
    return 0;
}

static int cn_in_sans(const char *cn, const GENERAL_NAMES *sans)
{
    int found = 0;

    for (int i = 0; !found && i < sk_GENERAL_NAME_num(sans); i++) {
        char *text = san_value_text(sk_GENERAL_NAME_value(sans, i));
        found = text != NULL && strcmp(text, cn) == 0;
        free(text);
    }
    return found;
}

/* BR §7.1.4.3: a CN, if present, repeats one SAN value. */
static int check_cn_in_san(const struct profile *p, const struct issue_request *r, struct err *e)
{
    int pos = -1;

    if (!p->cn_in_san || r->subject == NULL)
        return 0;
    while ((pos = X509_NAME_get_index_by_NID(r->subject, NID_commonName, pos)) >= 0) {
        char *cn = name_entry_utf8(X509_NAME_get_entry(r->subject, pos));
        int ok = cn != NULL && cn_in_sans(cn, r->sans);
        if (!ok)
            err_set(e, ERR_POLICY,
                    "subject.CN \"%.64s\": must also be a subject alternative name "
                    "(BR §7.1.4.3)",
                    cn ? cn : "");
        free(cn);
        if (!ok)
            return -1;
    }
    return 0;
}

int profile_check_sans(const struct profile *p, const GENERAL_NAMES *sans, struct err *e)
{
    struct issue_request r = {.sans = (GENERAL_NAMES *)sans};

    return check_sans(p, &r, e);
}

int profile_check(const struct profile *p, const struct issue_request *r, struct err *e)
{
    if (check_key(p, r->pubkey, e) != 0 || check_validity(p, r, e) != 0 ||
        check_subject(p, r->subject, e) != 0 || check_sans(p, r, e) != 0 ||
        check_cn_in_san(p, r, e) != 0)
        return -1;
    return 0;
}
