/*
 * profile.c — parsing and validating profile documents (docs/profiles.md):
 * the top level, validity, key types, key usage, extended key usage, basic
 * constraints, AIA/CDP and the rules that tie fields together.  The subject,
 * SAN, name-constraint and policy sections are in profile_names.c.
 *
 * Every error is ERR_INVALID "bad_request" and starts with the path of the field.
 */
#include "core/core_internal.h"

#include <stdlib.h>
#include <string.h>

#define PROFILE_TEXT_MAX (256 * 1024)
#define DAYS_MAX         36525L  /* 100 years */
#define BACKDATE_MAX     172800L /* 48 hours, BR §7.1.2.4 */
#define BACKDATE_DEFAULT 300L
#define EKU_MAX          32

/* ---- JSON helpers -------------------------------------------------------- */

int json_check_fields(json_t *obj, const char *path, const char *const *allowed, struct err *e)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL)
            return err_set(e, ERR_INVALID, "%s%s%.64s: unknown field", path, path[0] ? "." : "",
                           key);
    }
    return 0;
}

const char *json_plain_string(json_t *v)
{
    const char *s = json_string_value(v);

    if (s == NULL || strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

int json_get_bool(json_t *obj, const char *key, const char *path, int *out, struct err *e)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return err_set(e, ERR_INVALID, "%s%s%s: must be true or false", path, path[0] ? "." : "",
                       key);
    *out = json_is_true(v);
    return 0;
}

int json_get_long(json_t *obj, const char *key, const char *path, long min, long max, long *out,
                  struct err *e)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_set(e, ERR_INVALID, "%s%s%s: must be an integer from %ld to %ld", path,
                       path[0] ? "." : "", key, min, max);
    *out = (long)json_integer_value(v);
    return 0;
}

/* ---- sections -------------------------------------------------------------- */

static int parse_validity(struct profile *p, json_t *v, struct err *e)
{
    static const char *const fields[] = {"default_days", "max_days", "backdate_seconds", NULL};

    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "validity: required, an object");
    if (json_check_fields(v, "validity", fields, e) != 0)
        return -1;
    if (json_object_get(v, "default_days") == NULL)
        return err_set(e, ERR_INVALID, "validity.default_days: required");
    if (json_get_long(v, "default_days", "validity", 1, DAYS_MAX, &p->default_days, e) != 0)
        return -1;
    p->max_days = p->default_days;
    if (json_get_long(v, "max_days", "validity", p->default_days, DAYS_MAX, &p->max_days, e) != 0)
        return -1;
    p->backdate_seconds = BACKDATE_DEFAULT;
    return json_get_long(v, "backdate_seconds", "validity", 0, BACKDATE_MAX, &p->backdate_seconds,
                         e);
}

static int parse_key_types(struct profile *p, json_t *v, struct err *e)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "key_types: required, a non-empty array");
    json_array_foreach(v, i, item)
    {
        const char *name = json_plain_string(item);
        enum key_kind kind = name ? key_kind_parse(name) : KT_NONE;
        if (kind == KT_NONE)
            return err_set(e, ERR_INVALID,
                           "key_types[%zu]: unknown key type (one of ec-p256, ec-p384, rsa-2048, "
                           "rsa-3072, rsa-4096, ed25519)",
                           i);
        p->key_types |= (unsigned)kind;
    }
    return 0;
}

static const struct {
    const char *name;
    enum ku_bit bit;
} ku_names[] = {
    {"digitalSignature", KU_BIT_DIGITAL_SIGNATURE}, {"nonRepudiation", KU_BIT_NON_REPUDIATION},
    {"contentCommitment", KU_BIT_NON_REPUDIATION},  {"keyEncipherment", KU_BIT_KEY_ENCIPHERMENT},
    {"dataEncipherment", KU_BIT_DATA_ENCIPHERMENT}, {"keyAgreement", KU_BIT_KEY_AGREEMENT},
    {"keyCertSign", KU_BIT_KEY_CERT_SIGN},          {"cRLSign", KU_BIT_CRL_SIGN},
    {"encipherOnly", KU_BIT_ENCIPHER_ONLY},         {"decipherOnly", KU_BIT_DECIPHER_ONLY},
};

static int ku_lookup(const char *name, unsigned *bit)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(ku_names); i++)
        if (strcmp(ku_names[i].name, name) == 0) {
            *bit = KU_MASK(ku_names[i].bit);
            return 0;
        }
    return -1;
}

static int parse_key_usage(struct profile *p, json_t *v, struct err *e)
{
    size_t i;
    json_t *item;
    unsigned bit;

    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "key_usage: must be an array of usage names");
    json_array_foreach(v, i, item)
    {
        const char *name = json_plain_string(item);
        if (ku_lookup(name, &bit) != 0)
            return err_set(e, ERR_INVALID, "key_usage[%zu]: unknown usage \"%.64s\"", i,
                           name ? name : "");
        if (p->key_usage & bit)
            return err_set(e, ERR_INVALID, "key_usage[%zu]: duplicate \"%s\"", i, name);
        p->key_usage |= bit;
    }
    return 0;
}

static const struct {
    const char *name;
    int nid;
} eku_names[] = {
    {"serverAuth", NID_server_auth},        {"clientAuth", NID_client_auth},
    {"emailProtection", NID_email_protect}, {"codeSigning", NID_code_sign},
    {"OCSPSigning", NID_OCSP_sign},         {"timeStamping", NID_time_stamp},
};

ASN1_OBJECT *oid_parse(const char *text)
{
    size_t n = text ? strlen(text) : 0;

    if (n == 0 || n > 200 || strspn(text, "0123456789.") != n || text[0] == '.' ||
        text[n - 1] == '.' || strstr(text, "..") != NULL || strchr(text, '.') == NULL)
        return NULL;
    return OBJ_txt2obj(text, 1);
}

static ASN1_OBJECT *eku_lookup(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(eku_names); i++)
        if (strcmp(eku_names[i].name, name) == 0)
            return OBJ_nid2obj(eku_names[i].nid);
    return oid_parse(name);
}

static int eku_add(struct profile *p, json_t *item, size_t i, struct err *e)
{
    const char *name = json_plain_string(item);
    ASN1_OBJECT *obj = eku_lookup(name);

    if (obj == NULL)
        return err_set(e, ERR_INVALID,
                       "extended_key_usage[%zu]: unknown usage \"%.64s\" (a name or a dotted OID)",
                       i, name ? name : "");
    for (int k = 0; k < sk_ASN1_OBJECT_num(p->eku); k++)
        if (OBJ_cmp(sk_ASN1_OBJECT_value(p->eku, k), obj) == 0) {
            ASN1_OBJECT_free(obj);
            return err_set(e, ERR_INVALID, "extended_key_usage[%zu]: duplicate", i);
        }
    if (sk_ASN1_OBJECT_push(p->eku, obj) <= 0) {
        ASN1_OBJECT_free(obj);
        return err_set(e, ERR_INTERNAL, "extended_key_usage: out of memory");
    }
    return 0;
}

static int parse_eku(struct profile *p, json_t *v, struct err *e)
{
    size_t i;
    json_t *item;

    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > EKU_MAX)
        return err_set(e, ERR_INVALID,
                       "extended_key_usage: must be an array of 1 to %d usages (or absent)",
                       EKU_MAX);
    if ((p->eku = sk_ASN1_OBJECT_new_null()) == NULL)
        return err_set(e, ERR_INTERNAL, "extended_key_usage: out of memory");
    json_array_foreach(v, i, item)
    {
        if (eku_add(p, item, i, e) != 0)
            return -1;
    }
    return 0;
}

static int parse_basic_constraints(struct profile *p, json_t *v, struct err *e)
{
    static const char *const fields[] = {"ca", "path_len", NULL};
    json_t *path_len;

    p->path_len = -1;
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "basic_constraints: must be an object");
    if (json_check_fields(v, "basic_constraints", fields, e) != 0 ||
        json_get_bool(v, "ca", "basic_constraints", &p->ca, e) != 0)
        return -1;
    path_len = json_object_get(v, "path_len");
    if (path_len == NULL || json_is_null(path_len))
        return 0;
    if (!p->ca)
        return err_set(e, ERR_INVALID,
                       "basic_constraints.path_len: only with \"ca\": true (RFC 5280 §4.2.1.9)");
    return json_get_long(v, "path_len", "basic_constraints", 0, 32, &p->path_len, e);
}

static int parse_aia(struct profile *p, json_t *v, struct err *e)
{
    static const char *const fields[] = {"ocsp", "ca_issuers", NULL};

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "aia: must be an object");
    if (json_check_fields(v, "aia", fields, e) != 0 ||
        json_get_bool(v, "ocsp", "aia", &p->aia_ocsp, e) != 0)
        return -1;
    return json_get_bool(v, "ca_issuers", "aia", &p->aia_ca_issuers, e);
}

static int parse_digest(struct profile *p, json_t *v, struct err *e)
{
    static const char *const digests[] = {"auto", "sha256", "sha384", "sha512"};
    const char *name = json_plain_string(v);

    snprintf(p->digest, sizeof(p->digest), "auto");
    if (v == NULL)
        return 0;
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(digests); i++)
        if (strcmp(digests[i], name) == 0) {
            snprintf(p->digest, sizeof(p->digest), "%s", name);
            return 0;
        }
    return err_set(e, ERR_INVALID,
                   "signature_digest: one of \"auto\", \"sha256\", \"sha384\", \"sha512\"");
}

/* ---- rules across fields ------------------------------------------------------ */

static int eku_has(const struct profile *p, int nid)
{
    for (int i = 0; i < sk_ASN1_OBJECT_num(p->eku); i++)
        if (OBJ_obj2nid(sk_ASN1_OBJECT_value(p->eku, i)) == nid)
            return 1;
    return 0;
}

static int check_usages(struct profile *p, struct err *e)
{
    unsigned ca_bits = KU_MASK(KU_BIT_KEY_CERT_SIGN) | KU_MASK(KU_BIT_CRL_SIGN);
    unsigned only = KU_MASK(KU_BIT_ENCIPHER_ONLY) | KU_MASK(KU_BIT_DECIPHER_ONLY);

    if (!p->ca && (p->key_usage & KU_MASK(KU_BIT_KEY_CERT_SIGN)))
        return err_set(e, ERR_INVALID,
                       "key_usage: keyCertSign only with basic_constraints.ca true");
    if (p->ca)
        p->key_usage |= ca_bits;
    if (p->key_usage == 0)
        return err_set(e, ERR_INVALID, "key_usage: required, at least one usage");
    if ((p->key_usage & only) && !(p->key_usage & KU_MASK(KU_BIT_KEY_AGREEMENT)))
        return err_set(e, ERR_INVALID,
                       "key_usage: encipherOnly and decipherOnly need keyAgreement");
    return 0;
}

static int check_eku(const struct profile *p, struct err *e)
{
    int n = sk_ASN1_OBJECT_num(p->eku);

    if (eku_has(p, NID_time_stamp) && (n != 1 || !p->eku_critical))
        return err_set(e, ERR_INVALID,
                       "extended_key_usage: timeStamping must be the only usage, with "
                       "eku_critical true (RFC 3161 §2.3)");
    if (eku_has(p, NID_OCSP_sign) && (n != 1 || p->ca))
        return err_set(e, ERR_INVALID,
                       "extended_key_usage: OCSPSigning only alone, in an OCSP responder profile");
    if (p->ocsp_nocheck && !eku_has(p, NID_OCSP_sign))
        return err_set(e, ERR_INVALID,
                       "ocsp_nocheck: only with extended_key_usage [\"OCSPSigning\"]");
    if (p->eku_critical && p->eku == NULL)
        return err_set(e, ERR_INVALID, "eku_critical: without extended_key_usage");
    return 0;
}

static int check_consistency(struct profile *p, struct err *e)
{
    if (check_usages(p, e) != 0 || check_eku(p, e) != 0)
        return -1;
    if (p->name_constraints != NULL && !p->ca)
        return err_set(e, ERR_INVALID, "name_constraints: only with basic_constraints.ca true");
    if (!p->ca && p->eku == NULL)
        return err_set(e, ERR_INVALID,
                       "extended_key_usage: required in end-entity profiles (the purpose of "
                       "the certificate)");
    return 0;
}

/* ---- the document -------------------------------------------------------------- */

static int parse_flags(struct profile *p, json_t *doc, struct err *e)
{
    json_t *desc = json_object_get(doc, "description");

    if (desc != NULL && json_plain_string(desc) == NULL)
        return err_set(e, ERR_INVALID, "description: must be a string");
    if (json_get_bool(doc, "eku_critical", "", &p->eku_critical, e) != 0 ||
        json_get_bool(doc, "cdp", "", &p->cdp, e) != 0 ||
        json_get_bool(doc, "ocsp_nocheck", "", &p->ocsp_nocheck, e) != 0)
        return -1;
    return parse_digest(p, json_object_get(doc, "signature_digest"), e);
}

static int profile_parse_doc(struct profile *p, json_t *doc, struct err *e)
{
    static const char *const fields[] = {"description",
                                         "validity",
                                         "key_types",
                                         "key_usage",
                                         "extended_key_usage",
                                         "eku_critical",
                                         "basic_constraints",
                                         "subject",
                                         "san",
                                         "name_constraints",
                                         "policies",
                                         "aia",
                                         "cdp",
                                         "signature_digest",
                                         "ocsp_nocheck",
                                         NULL};

    if (json_check_fields(doc, "", fields, e) != 0 || parse_flags(p, doc, e) != 0 ||
        parse_validity(p, json_object_get(doc, "validity"), e) != 0 ||
        parse_key_types(p, json_object_get(doc, "key_types"), e) != 0 ||
        parse_basic_constraints(p, json_object_get(doc, "basic_constraints"), e) != 0 ||
        parse_key_usage(p, json_object_get(doc, "key_usage"), e) != 0 ||
        parse_eku(p, json_object_get(doc, "extended_key_usage"), e) != 0 ||
        profile_parse_subject(p, json_object_get(doc, "subject"), e) != 0 ||
        profile_parse_san(p, json_object_get(doc, "san"), e) != 0 ||
        profile_parse_name_constraints(p, json_object_get(doc, "name_constraints"), e) != 0 ||
        profile_parse_policies(p, json_object_get(doc, "policies"), e) != 0 ||
        parse_aia(p, json_object_get(doc, "aia"), e) != 0)
        return -1;
    return check_consistency(p, e);
}

struct profile *profile_parse(const char *json_text, struct err *e)
{
    json_error_t jerr;
    json_t *doc;
    struct profile *p;

    if (json_text == NULL || strlen(json_text) > PROFILE_TEXT_MAX)
        return err_set(e, ERR_INVALID, "profile: missing or larger than %d bytes",
                       PROFILE_TEXT_MAX),
               NULL;
    doc = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return err_set(e, ERR_INVALID, "profile: invalid JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text),
               NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return err_set(e, ERR_INVALID, "profile: must be a JSON object"), NULL;
    }
    p = xcalloc(1, sizeof(*p));
    p->refs = 1;
    p->path_len = -1;
    if (profile_parse_doc(p, doc, e) != 0) {
        profile_free(p);
        p = NULL;
    }
    json_decref(doc);
    return p;
}

static void value_rule_clear(struct value_rule *r)
{
    if (r->has_regex)
        regfree(&r->regex);
    r->has_regex = 0;
}

struct profile *profile_ref(struct profile *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

void profile_free(struct profile *p)
{
    if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    sk_ASN1_OBJECT_pop_free(p->eku, ASN1_OBJECT_free);
    for (size_t i = 0; i < p->subject_count; i++)
        value_rule_clear(&p->subject[i]);
    free(p->subject);
    value_rule_clear(&p->subject_other);
    for (int i = 0; i < SAN_TYPES; i++)
        value_rule_clear(&p->san[i]);
    NAME_CONSTRAINTS_free(p->name_constraints);
    CERTIFICATEPOLICIES_free(p->policies);
    free(p);
}

int profile_is_ca(const struct profile *p)
{
    return p->ca;
}

long profile_default_days(const struct profile *p)
{
    return p->default_days;
}

long profile_max_days(const struct profile *p)
{
    return p->max_days;
}
