/*
 * profile_names.c — the name sections of a profile document: subject
 * attribute rules, SAN rules, name constraints (CA profiles) and certificate
 * policies.  See docs/profiles.md.
 */
#include "core/core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_RULES_MAX 64
#define SUBJECT_MAX_LIMIT 16
#define SAN_MAX_DEFAULT   100
#define SAN_MAX_LIMIT     1000
#define SUBTREES_MAX      256
#define POLICIES_MAX      32
#define CPS_MAX           512

/* The attributes a subject rule may name (RFC 5280 §4.1.2.4, RFC 4519, EV guidelines). */
static const int subject_nids[] = {
    NID_countryName,
    NID_stateOrProvinceName,
    NID_localityName,
    NID_organizationName,
    NID_organizationalUnitName,
    NID_commonName,
    NID_pkcs9_emailAddress,
    NID_serialNumber,
    NID_domainComponent,
    NID_userId,
    NID_streetAddress,
    NID_title,
    NID_givenName,
    NID_surname,
    NID_initials,
    NID_pseudonym,
    NID_postalCode,
    NID_businessCategory,
    NID_organizationIdentifier,
    NID_jurisdictionCountryName,
    NID_jurisdictionStateOrProvinceName,
    NID_jurisdictionLocalityName,
    NID_name,
    NID_dnQualifier,
    NID_generationQualifier,
    NID_description,
};

static int subject_attr_nid(const char *name)
{
    int nid = OBJ_sn2nid(name);

    if (nid == NID_undef)
        nid = OBJ_ln2nid(name);
    for (size_t i = 0; nid != NID_undef && i < ARRAY_LEN(subject_nids); i++)
        if (subject_nids[i] == nid)
            return nid;
    return NID_undef;
}

int value_rule_match(const struct value_rule *r, const char *value)
{
    return !r->has_regex || regexec(&r->regex, value, 0, NULL, 0) == 0;
}

static int pattern_compile(struct value_rule *r, json_t *v, const char *path, struct err *e)
{
    const char *pattern = json_plain_string(v);
    char *anchored, msg[128];
    int rc;

    if (pattern == NULL || pattern[0] == '\0')
        return err_set(e, ERR_INVALID, "%s.pattern: a non-empty regular expression", path);
    if (pattern_check(pattern, msg, sizeof(msg)) != 0)
        return err_set(e, ERR_INVALID, "%s.pattern: %s", path, msg);
    /* Compiled alone first, so that "a)|(b" cannot undo the anchoring below. */
    rc = regcomp(&r->regex, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
        regfree(&r->regex);
        anchored = xasprintf("^(%s)$", pattern); /* the whole value must match */
        rc = regcomp(&r->regex, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
    }
    if (rc != 0) {
        regerror(rc, &r->regex, msg, sizeof(msg));
        regfree(&r->regex);
        return err_set(e, ERR_INVALID, "%s.pattern: bad regular expression: %s", path, msg);
    }
    r->has_regex = 1;
    return 0;
}

static int rule_name_parse(json_t *v, enum rule *out)
{
    static const char *const names[] = {"forbidden", "optional", "required"};
    const char *name = json_plain_string(v);

    for (int i = 0; name != NULL && i < (int)ARRAY_LEN(names); i++)
        if (strcmp(names[i], name) == 0) {
            *out = (enum rule)i;
            return 0;
        }
    return -1;
}

/*
 * Parses v at path into r: a rule name, or {"rule", "pattern", "max"}.
 * max defaults to def_max and may not exceed max_limit.
 */
static int value_rule_parse(json_t *v, const char *path, long def_max, long max_limit,
                            struct value_rule *r, struct err *e)
{
    static const char *const fields[] = {"rule", "pattern", "max", NULL};
    json_t *rule = json_is_object(v) ? json_object_get(v, "rule") : v;
    long max = def_max;

    if (!json_is_object(v) && !json_is_string(v))
        return err_set(e, ERR_INVALID,
                       "%s: a rule (\"required\", \"optional\", \"forbidden\") or an object "
                       "{\"rule\", \"pattern\", \"max\"}",
                       path);
    if (json_is_object(v) && json_check_fields(v, path, fields, e) != 0)
        return -1;
    if (rule_name_parse(rule, &r->rule) != 0)
        return err_set(e, ERR_INVALID, "%s%s: one of \"required\", \"optional\", \"forbidden\"",
                       path, json_is_object(v) ? ".rule" : "");
    if (json_is_object(v) && json_get_long(v, "max", path, 1, max_limit, &max, e) != 0)
        return -1;
    r->max = (int)max;
    if (json_is_object(v) && json_object_get(v, "pattern") != NULL)
        return pattern_compile(r, json_object_get(v, "pattern"), path, e);
    return 0;
}

static int subject_rule_add(struct profile *p, const char *key, json_t *item, struct err *e)
{
    char path[96];
    int nid = subject_attr_nid(key);
    struct value_rule *r;

    snprintf(path, sizeof(path), "subject.%.64s", key);
    if (strcmp(key, "other") == 0) {
        if (value_rule_parse(item, path, 1, SUBJECT_MAX_LIMIT, &p->subject_other, e) != 0)
            return -1;
        if (p->subject_other.rule == RULE_REQUIRED)
            return err_set(e, ERR_INVALID, "subject.other: \"required\" not possible");
        return 0;
    }
    if (nid == NID_undef)
        return err_set(e, ERR_INVALID, "%s: unknown attribute", path);
    for (size_t i = 0; i < p->subject_count; i++)
        if (p->subject[i].nid == nid)
            return err_set(e, ERR_INVALID, "%s: %s listed twice", path, OBJ_nid2sn(nid));
    r = &p->subject[p->subject_count++];
    r->nid = nid;
    return value_rule_parse(item, path, 1, SUBJECT_MAX_LIMIT, r, e);
}

int profile_parse_subject(struct profile *p, json_t *v, struct err *e)
{
    const char *key;
    json_t *item;

    p->subject_other.rule = RULE_FORBIDDEN;
    p->subject_other.max = 1;
    if (v == NULL)
        return 0;
    if (!json_is_object(v) || json_object_size(v) > SUBJECT_RULES_MAX)
        return err_set(e, ERR_INVALID, "subject: an object of at most %d rules", SUBJECT_RULES_MAX);
    p->subject = xcalloc(json_object_size(v), sizeof(*p->subject));
    json_object_foreach(v, key, item)
    {
        if (subject_rule_add(p, key, item, e) != 0)
            return -1;
    }
    return 0;
}

static int san_any_allowed(const struct profile *p)
{
    for (int t = 0; t < SAN_TYPES; t++)
        if (p->san[t].rule != RULE_FORBIDDEN)
            return 1;
    return 0;
}

int profile_parse_san(struct profile *p, json_t *v, struct err *e)
{
    static const char *const fields[] = {"dns",       "ip",       "email", "uri",
                                         "cn_in_san", "required", NULL};
    char path[32];

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "san: must be an object");
    if (json_check_fields(v, "san", fields, e) != 0 ||
        json_get_bool(v, "cn_in_san", "san", &p->cn_in_san, e) != 0 ||
        json_get_bool(v, "required", "san", &p->san_required, e) != 0)
        return -1;
    for (int t = 0; t < SAN_TYPES; t++) {
        json_t *item = json_object_get(v, san_type_names[t]);
        snprintf(path, sizeof(path), "san.%s", san_type_names[t]);
        if (item != NULL &&
            value_rule_parse(item, path, SAN_MAX_DEFAULT, SAN_MAX_LIMIT, &p->san[t], e) != 0)
            return -1;
    }
    if ((p->cn_in_san || p->san_required) && !san_any_allowed(p))
        return err_set(e, ERR_INVALID, "san: %s with every SAN type forbidden",
                       p->cn_in_san ? "cn_in_san" : "required");
    return 0;
}

/* ---- name constraints ------------------------------------------------------ */

/* One subtree base of type "dns", "ip" or "email"; NULL with why set. */
static GENERAL_NAME *subtree_name(const char *type, const char *text, char *why, size_t len)
{
    unsigned char ip[32];
    int ip_len;

    if (strcmp(type, "ip") == 0) {
        if (san_parse_cidr(text, ip, &ip_len) != 0) {
            snprintf(why, len, "must be address/prefix (10.0.0.0/8) without host bits");
            return NULL;
        }
        return san_new_ip(ip, ip_len);
    }
    if (strcmp(type, "email") == 0 && strchr(text, '@') != NULL) {
        if (san_check_email(text, why, len) != 0)
            return NULL;
    } else if (san_check_dns(text, DNS_CONSTRAINT, why, len) != 0) {
        return NULL;
    }
    return san_new_ia5(strcmp(type, "dns") == 0 ? GEN_DNS : GEN_EMAIL, text);
}

static int subtree_add(STACK_OF(GENERAL_SUBTREE) * *list, GENERAL_NAME *gn)
{
    GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();

    if (*list == NULL)
        *list = sk_GENERAL_SUBTREE_new_null();
    if (st == NULL || *list == NULL || sk_GENERAL_SUBTREE_push(*list, st) <= 0) {
        GENERAL_SUBTREE_free(st);
        GENERAL_NAME_free(gn);
        return -1;
    }
    GENERAL_NAME_free(st->base);
    st->base = gn;
    return 0;
}

static int subtrees_of_type(json_t *v, const char *path, const char *type,
                            STACK_OF(GENERAL_SUBTREE) * *list, struct err *e)
{
    size_t i;
    json_t *item;
    char why[160] = "cannot be encoded";

    if (!json_is_array(v) || json_array_size(v) > SUBTREES_MAX)
        return err_set(e, ERR_INVALID, "%s.%s: an array of at most %d names", path, type,
                       SUBTREES_MAX);
    json_array_foreach(v, i, item)
    {
        const char *text = json_plain_string(item);
        GENERAL_NAME *gn = text ? subtree_name(type, text, why, sizeof(why)) : NULL;
        if (text == NULL)
            return err_set(e, ERR_INVALID, "%s.%s[%zu]: must be a string", path, type, i);
        if (gn == NULL)
            return err_set(e, ERR_INVALID, "%s.%s[%zu] \"%.64s\": %s", path, type, i, text, why);
        if (subtree_add(list, gn) != 0)
            return err_set(e, ERR_INTERNAL, "%s: out of memory", path);
    }
    return 0;
}

static int subtrees_parse(json_t *v, const char *path, STACK_OF(GENERAL_SUBTREE) * *list,
                          struct err *e)
{
    static const char *const fields[] = {"dns", "ip", "email", NULL};

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "%s: must be an object {dns, ip, email}", path);
    if (json_check_fields(v, path, fields, e) != 0)
        return -1;
    for (int i = 0; fields[i] != NULL; i++) {
        json_t *names = json_object_get(v, fields[i]);
        if (names != NULL && subtrees_of_type(names, path, fields[i], list, e) != 0)
            return -1;
    }
    return 0;
}

int profile_parse_name_constraints(struct profile *p, json_t *v, struct err *e)
{
    static const char *const fields[] = {"critical", "permitted", "excluded", NULL};
    NAME_CONSTRAINTS *nc;

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "name_constraints: must be an object");
    p->name_constraints_critical = 1;
    if (json_check_fields(v, "name_constraints", fields, e) != 0 ||
        json_get_bool(v, "critical", "name_constraints", &p->name_constraints_critical, e) != 0)
        return -1;
    if ((nc = p->name_constraints = NAME_CONSTRAINTS_new()) == NULL)
        return err_set(e, ERR_INTERNAL, "name_constraints: out of memory");
    if (subtrees_parse(json_object_get(v, "permitted"), "name_constraints.permitted",
                       &nc->permittedSubtrees, e) != 0 ||
        subtrees_parse(json_object_get(v, "excluded"), "name_constraints.excluded",
                       &nc->excludedSubtrees, e) != 0)
        return -1;
    if (nc->permittedSubtrees == NULL && nc->excludedSubtrees == NULL)
        return err_set(e, ERR_INVALID,
                       "name_constraints: needs at least one permitted or excluded name");
    return 0;
}

/* ---- certificate policies ------------------------------------------------ */

static int cps_valid(const char *cps)
{
    size_t n = cps ? strlen(cps) : 0;

    if (n == 0 || n > CPS_MAX ||
        (strncmp(cps, "http://", 7) != 0 && strncmp(cps, "https://", 8) != 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)cps[i] <= 0x20 || (unsigned char)cps[i] >= 0x7f)
            return 0;
    return 1;
}

/* Adds a CPS pointer qualifier (RFC 5280 §4.2.1.4) to pi. */
static int policy_add_cps(POLICYINFO *pi, const char *cps)
{
    POLICYQUALINFO *q = POLICYQUALINFO_new();

    if (pi->qualifiers == NULL)
        pi->qualifiers = sk_POLICYQUALINFO_new_null();
    if (q == NULL || pi->qualifiers == NULL || sk_POLICYQUALINFO_push(pi->qualifiers, q) <= 0) {
        POLICYQUALINFO_free(q);
        return -1;
    }
    q->pqualid = OBJ_nid2obj(NID_id_qt_cps);
    q->d.cpsuri = ASN1_IA5STRING_new();
    if (q->d.cpsuri == NULL || ASN1_STRING_set(q->d.cpsuri, cps, (int)strlen(cps)) != 1)
        return -1;
    return 0;
}

static int policy_duplicate(const struct profile *p, const ASN1_OBJECT *oid)
{
    for (int i = 0; i < sk_POLICYINFO_num(p->policies); i++)
        if (OBJ_cmp(sk_POLICYINFO_value(p->policies, i)->policyid, oid) == 0)
            return 1;
    return 0;
}

static int policy_parse(struct profile *p, json_t *item, size_t i, struct err *e)
{
    static const char *const fields[] = {"oid", "cps", NULL};
    char path[32];
    json_t *oid_v = json_is_object(item) ? json_object_get(item, "oid") : item;
    json_t *cps_v = json_is_object(item) ? json_object_get(item, "cps") : NULL;
    ASN1_OBJECT *oid;
    POLICYINFO *pi;

    snprintf(path, sizeof(path), "policies[%zu]", i);
    if (json_is_object(item) && json_check_fields(item, path, fields, e) != 0)
        return -1;
    if ((oid = oid_parse(json_plain_string(oid_v))) == NULL)
        return err_set(e, ERR_INVALID, "%s: a dotted OID or {\"oid\", \"cps\"}", path);
    if (policy_duplicate(p, oid)) {
        ASN1_OBJECT_free(oid);
        return err_set(e, ERR_INVALID, "%s: duplicate policy (RFC 5280 §4.2.1.4)", path);
    }
    if (cps_v != NULL && !cps_valid(json_plain_string(cps_v))) {
        ASN1_OBJECT_free(oid);
        return err_set(e, ERR_INVALID, "%s.cps: an http:// or https:// URL", path);
    }
    if ((pi = POLICYINFO_new()) == NULL || sk_POLICYINFO_push(p->policies, pi) <= 0) {
        POLICYINFO_free(pi);
        ASN1_OBJECT_free(oid);
        return err_set(e, ERR_INTERNAL, "%s: out of memory", path);
    }
    ASN1_OBJECT_free(pi->policyid);
    pi->policyid = oid;
    if (cps_v != NULL && policy_add_cps(pi, json_plain_string(cps_v)) != 0)
        return err_set(e, ERR_INTERNAL, "%s: out of memory", path);
    return 0;
}

int profile_parse_policies(struct profile *p, json_t *v, struct err *e)
{
    size_t i;
    json_t *item;

    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > POLICIES_MAX)
        return err_set(e, ERR_INVALID, "policies: an array of 1 to %d policies", POLICIES_MAX);
    if ((p->policies = sk_POLICYINFO_new_null()) == NULL)
        return err_set(e, ERR_INTERNAL, "policies: out of memory");
    json_array_foreach(v, i, item)
    {
        if (policy_parse(p, item, i, e) != 0)
            return -1;
    }
    return 0;
}
