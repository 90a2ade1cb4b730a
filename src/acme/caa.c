/*
 * caa.c — Certification Authority Authorization (RFC 8659) with the ACME
 * account and method parameters (RFC 8657).
 *
 * The relevant RRset is the first non-empty CAA RRset found climbing from the
 * name (a wildcard's base name) towards the root, the resolver following
 * CNAMEs at each name (RFC 8659 §3).  Of it, "issue" decides for a name and
 * "issuewild" for a wildcard when the set has any issuewild property, else
 * "issue" (§4.2, §4.3); a set without the deciding property does not restrict.
 * A record authorizes this CA when its issuer domain name is one of the
 * caller's and its accounturi and validationmethods parameters, where
 * present, name the account and the method used; other parameters are
 * ignored.  A critical record whose tag we do not know refuses issuance
 * (§4.1).  A value that does not follow the grammar of §4.2 authorizes no one.
 */
#include "acme/validate_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CAA_CRITICAL 0x80 /* the Issuer Critical Flag, bit 0 of the flags octet (§4.1) */

/* Tags this CA understands: the properties of RFC 8659 and those others registered with IANA. */
static const char *const known_tags[] = {"issue",        "issuewild",    "iodef",   "issuemail",
                                         "contactemail", "contactphone", "issuevmc"};

int caa_record_read(const unsigned char *rdata, size_t len, struct caa_record *r)
{
    size_t tag_len;

    memset(r, 0, sizeof(*r));
    if (len < 2)
        return -1;
    r->flags = rdata[0];
    tag_len = rdata[1];
    if (tag_len == 0 || tag_len >= sizeof(r->tag) || 2 + tag_len > len)
        return -1;
    for (size_t i = 0; i < tag_len; i++) {
        if (!isalnum(rdata[2 + i])) {
            r->tag[0] = '\0';
            break;
        }
        r->tag[i] = (char)tolower(rdata[2 + i]);
    }
    r->value_len = len - 2 - tag_len;
    r->value = xstrndup((const char *)rdata + 2 + tag_len, r->value_len);
    return 0;
}

void caa_record_clear(struct caa_record *r)
{
    free(r->value);
    memset(r, 0, sizeof(*r));
}

static int tag_known(const char *tag)
{
    for (size_t i = 0; i < ARRAY_LEN(known_tags); i++)
        if (strcmp(tag, known_tags[i]) == 0)
            return 1;
    return 0;
}

/* ---- the issue / issuewild value (RFC 8659 §4.2) --------------------------------- */

struct slice {
    const char *p;
    size_t len;
};

struct issue_value {
    struct slice domain;              /* empty: no CA may issue */
    struct slice accounturi, methods; /* RFC 8657; p NULL when absent */
};

static const char *wsp_skip(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT) ); returns the end, or NULL. */
static const char *label_read(const char *p)
{
    if (!isalnum((unsigned char)*p))
        return NULL;
    while (isalnum((unsigned char)*p) || *p == '-')
        p++;
    return p[-1] == '-' ? NULL : p;
}

/* issuer-domain-name = label *("." label); an empty name is allowed. */
static const char *domain_read(const char *p, struct slice *out)
{
    const char *start = p;

    if (!isalnum((unsigned char)*p)) {
        *out = (struct slice){p, 0};
        return p;
    }
    while ((p = label_read(p)) != NULL && *p == '.')
        p++;
    if (p == NULL)
        return NULL;
    *out = (struct slice){start, (size_t)(p - start)};
    return p;
}

/* parameter = tag *WSP "=" *WSP value; value = *(%x21-3A / %x3C-7E). */
static const char *parameter_read(const char *p, struct issue_value *v, int *dup)
{
    const char *tag = p, *end;
    struct slice value, *slot = NULL;
    size_t tag_len;

    if ((end = label_read(p)) == NULL)
        return NULL;
    tag_len = (size_t)(end - tag);
    p = wsp_skip(end);
    if (*p != '=')
        return NULL;
    p = wsp_skip(p + 1);
    value.p = p;
    while (*p >= 0x21 && *p <= 0x7e && *p != ';')
        p++;
    value.len = (size_t)(p - value.p);
    if (tag_len == 10 && strncasecmp(tag, "accounturi", 10) == 0)
        slot = &v->accounturi;
    else if (tag_len == 17 && strncasecmp(tag, "validationmethods", 17) == 0)
        slot = &v->methods;
    if (slot != NULL) {
        *dup |= slot->p != NULL;
        *slot = value;
    }
    return p;
}

/* Parses an issue or issuewild value; 0, or -1 if it does not follow the grammar. */
static int issue_value_read(const char *text, size_t len, struct issue_value *v)
{
    const char *p = wsp_skip(text);
    int dup = 0;

    memset(v, 0, sizeof(*v));
    if (strlen(text) != len || (p = domain_read(p, &v->domain)) == NULL)
        return -1;
    p = wsp_skip(p);
    if (*p == ';') {
        p = wsp_skip(p + 1);
        while (*p != '\0') {
            if ((p = parameter_read(p, v, &dup)) == NULL)
                return -1;
            p = wsp_skip(p);
            if (*p == ';')
                p = wsp_skip(p + 1);
            else if (*p != '\0')
                return -1;
        }
    }
    /* RFC 8657 gives each parameter once; a record naming one twice is not trusted. */
    return *p == '\0' && !dup ? 0 : -1;
}

static int slice_eq(struct slice s, const char *text, int nocase)
{
    return s.len == strlen(text) &&
           (nocase ? strncasecmp(s.p, text, s.len) : strncmp(s.p, text, s.len)) == 0;
}

/* validationmethods = label *("," label) (RFC 8657 §4): does it list method? */
static int methods_list(struct slice s, const char *method)
{
    const char *p = s.p, *end = s.p + s.len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct slice one = {p, (size_t)((comma ? comma : end) - p)};
        if (slice_eq(one, method, 0))
            return 1;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

/* Whether record value v authorizes q; 0 with why otherwise. */
static int record_authorizes(const struct caa_record *r, const struct acme_caa_query *q, char *why,
                             size_t why_len)
{
    struct issue_value v;
    int ours = 0;

    if (issue_value_read(r->value, r->value_len, &v) != 0)
        return snprintf(why, why_len, "malformed, authorizes no one"), 0;
    if (v.domain.len == 0)
        return snprintf(why, why_len, "no CA may issue"), 0;
    for (size_t i = 0; q->issuers[i] != NULL && !ours; i++)
        ours = slice_eq(v.domain, q->issuers[i], 1);
    if (!ours)
        return snprintf(why, why_len, "another CA"), 0;
    if (v.accounturi.p != NULL &&
        (q->account_uri == NULL || !slice_eq(v.accounturi, q->account_uri, 0)))
        return snprintf(why, why_len, "only for account %.*s, not %.100s", (int)v.accounturi.len,
                        v.accounturi.p, q->account_uri ? q->account_uri : "(none)"),
               0;
    if (v.methods.p != NULL && (q->method == NULL || !methods_list(v.methods, q->method)))
        return snprintf(why, why_len, "only by validation methods %.*s, not %.20s",
                        (int)v.methods.len, v.methods.p, q->method ? q->method : "(none)"),
               0;
    return 1;
}

int caa_decide(const struct caa_record *recs, size_t n, const char *owner,
               const struct acme_caa_query *q, struct err *e)
{
    int wildcard = strncmp(q->name, "*.", 2) == 0, any_wild = 0, deciding = 0;
    char reasons[360] = "", why[200];
    size_t used = 0;
    const char *prop;

    for (size_t i = 0; i < n; i++) {
        if ((recs[i].flags & CAA_CRITICAL) && !tag_known(recs[i].tag))
            return acme_fail(e, ACME_ERR_CAA,
                             "the CAA record \"%u %s %.60s\" at %s is critical and its tag is "
                             "unknown to this CA: issuance refused (RFC 8659 §4.1)",
                             recs[i].flags, recs[i].tag[0] ? recs[i].tag : "(malformed)",
                             recs[i].value ? recs[i].value : "", owner);
        any_wild |= strcmp(recs[i].tag, "issuewild") == 0;
    }
    prop = wildcard && any_wild ? "issuewild" : "issue";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(recs[i].tag, prop) != 0)
            continue;
        deciding++;
        if (record_authorizes(&recs[i], q, why, sizeof(why)))
            return 0;
        if (used < sizeof(reasons))
            used += (size_t)snprintf(reasons + used, sizeof(reasons) - used, "%s\"%.80s\": %s",
                                     used ? "; " : "", recs[i].value, why);
    }
    if (deciding == 0)
        return 0; /* no issue (issuewild) property: the set does not restrict issuance */
    used = 0;
    for (size_t i = 0; q->issuers[i] != NULL && used < sizeof(why); i++)
        used +=
            (size_t)snprintf(why + used, sizeof(why) - used, "%s%s", i ? ", " : "", q->issuers[i]);
    return acme_fail(e, ACME_ERR_CAA, "CAA at %s does not let this CA (%s) issue for %s: %s %s",
                     owner, why, q->name, prop, reasons);
}

/* ---- the relevant RRset ---------------------------------------------------------- */

/* Decides with the CAA RRset in set, found when asking at asked. */
static int rrset_decide(const struct dns_rrset *set, const char *asked,
                        const struct acme_caa_query *q, struct err *e)
{
    struct caa_record *recs = xcalloc(set->n, sizeof(*recs));
    char *owner = set->aliases ? xasprintf("%s (alias of %s)", asked, set->name) : xstrdup(asked);
    int rc;

    for (size_t i = 0; i < set->n; i++)
        if (caa_record_read(set->rr[i].data, set->rr[i].len, &recs[i]) != 0)
            recs[i].flags = set->rr[i].len > 0 ? set->rr[i].data[0] : 0; /* tag "": unknown */
    rc = caa_decide(recs, set->n, owner, q, e);
    for (size_t i = 0; i < set->n; i++)
        caa_record_clear(&recs[i]);
    free(recs);
    free(owner);
    return rc;
}

int acme_caa_check(const struct acme_validator *v, const struct acme_caa_query *q, struct err *e)
{
    static const int caa = DNS_TYPE_CAA;
    const char *base, *cur;
    struct netaddr ip;
    struct vctx x;

    if (q == NULL || q->name == NULL || q->issuers == NULL || q->issuers[0] == NULL)
        return acme_fail(e, ACME_ERR_MALFORMED, "CAA: a name and issuer domain names required");
    base = q->name + (strncmp(q->name, "*.", 2) == 0 ? 2 : 0);
    if (strchr(base, '/') == NULL && netaddr_parse(base, &ip) == 0)
        return 0; /* CAA is defined for DNS names only (RFC 8659 §3) */
    if (!dns_name_valid(base))
        return acme_fail(e, ACME_ERR_MALFORMED, "CAA: \"%.100s\" is not a DNS name", q->name);
    vctx_start(&x, v);
    for (cur = base; cur != NULL; cur = strchr(cur, '.') ? strchr(cur, '.') + 1 : NULL) {
        struct dns_rrset set = {0};
        int rc = dns_lookup(&x, cur, &caa, 1, &set, e);
        if (rc == 0 && set.n > 0)
            rc = rrset_decide(&set, cur, q, e);
        else if (rc == 0)
            rc = 1; /* empty: climb */
        dns_rrset_clear(&set);
        if (rc <= 0)
            return rc;
    }
    return 0;
}
