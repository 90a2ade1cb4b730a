/*
 * svc_acme_admin.c — what a tenant admin sets up for ACME (RFC 8555): the
 * endpoints and their settings, External Account Binding credentials, and
 * suggested renewal windows (RFC 9773).
 *
 * An endpoint issues from one active CA of its tenant under leaf profiles of
 * its tenant; its settings are one JSON object, checked member by member here
 * (svc_acme_settings_parse) whoever reads them: the admin API, and the
 * protocol front end each time it loads the endpoint.  Every change is
 * audited in the tenant's chain in the transaction of its row.
 *
 * An EAB credential's HMAC key is never stored: the signer derives it from an
 * RSA key of the tenant (made at its first credential, reused by the next),
 * the endpoint, the kid and a nonce (keys.h: signer_eab_new), hands it out
 * once to be shown, and computes each binding's MAC itself (svc_acme_eab_mac).
 * The row keeps the key id and the nonce.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/json_field.h"
#include "lib/log.h"

#define DAY             86400L
#define LIFETIME_MIN    60L          /* an order's or authorization's lifetime: a minute ... */
#define LIFETIME_MAX    (30L * DAY)  /* ... to 30 days */
#define LIFETIME_DEF    (7L * DAY)   /* default 7 days */
#define REUSE_MAX       (398L * DAY) /* the longest reuse of a validation the CA/B BR allowed */
#define DESCRIPTION_MAX 256
#define URL_MAX         2000
#define KID_MAX         64
#define REASON_MAX      1000
#define DEFAULT_PROFILE "tls-server" /* a built-in leaf profile of every tenant */
#define DEFAULT_ROLE    "requester"

/* ---- settings ------------------------------------------------------------------------ */

static const char *const settings_members[] = {
    "profiles",       "eab_required",     "challenges", "authz_reuse_seconds", "order_seconds",
    "authz_seconds",  "allow_dns",        "allow_ip",   "allow_wildcard",      "caa_check",
    "caa_identities", "terms_of_service", "website",
};

static const struct {
    const char *name;
    int bit;
} challenge_kinds[] = {
    {"http-01", ACME_CHALLENGE_HTTP},
    {"dns-01", ACME_CHALLENGE_DNS},
    {"tls-alpn-01", ACME_CHALLENGE_ALPN},
};

void svc_acme_settings_clear(struct svc_acme_settings *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < st->nprofiles; i++) {
        free(st->profiles[i].name);
        free(st->profiles[i].description);
    }
    for (int i = 0; i < st->ncaa_identities; i++)
        free(st->caa_identities[i]);
    free(st->terms_of_service);
    free(st->website);
    memset(st, 0, sizeof(*st));
}

void svc_acme_settings_copy(struct svc_acme_settings *to, const struct svc_acme_settings *from)
{
    *to = *from;
    for (int i = 0; i < from->nprofiles; i++) {
        to->profiles[i].name = xstrdup(from->profiles[i].name);
        to->profiles[i].description =
            from->profiles[i].description ? xstrdup(from->profiles[i].description) : NULL;
    }
    for (int i = 0; i < from->ncaa_identities; i++)
        to->caa_identities[i] = xstrdup(from->caa_identities[i]);
    to->terms_of_service = from->terms_of_service ? xstrdup(from->terms_of_service) : NULL;
    to->website = from->website ? xstrdup(from->website) : NULL;
}

/* 0 if every member of o is one of known[n]; else ERR_INVALID naming it (prefix: where). */
static int members_known(const json_t *o, const char *const *known, size_t n, const char *where,
                         struct err *e)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)o, key, v)
    {
        size_t i = 0;

        while (i < n && strcmp(known[i], key) != 0)
            i++;
        if (i == n)
            return err_set(e, ERR_INVALID, "%s%.64s: unknown member", where, key);
    }
    return 0;
}

/* 1 to max bytes, none of them a control character. */
static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* An http:// or https:// URL of printable ASCII without spaces, at most URL_MAX bytes. */
static int url_ok(const char *s)
{
    const char *host = strncmp(s, "https://", 8) == 0  ? s + 8
                       : strncmp(s, "http://", 7) == 0 ? s + 7
                                                       : NULL;

    if (host == NULL || *host == '\0' || *host == '/' || strlen(s) > URL_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return 0;
    return 1;
}

/* A lower-case DNS name: labels of 1-63 of [a-z0-9-] not starting or ending with '-'. */
static int dns_name_ok(const char *s)
{
    size_t label = 0, n = strlen(s);

    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

/* One entry of "profiles": a name, or {"name", "description"?}. */
static int profile_read(const json_t *v, size_t i, struct svc_acme_settings *st, struct err *e)
{
    static const char *const members[] = {"name", "description"};
    const char *name = json_string_value(v), *description = NULL;
    char where[32];

    snprintf(where, sizeof(where), "profiles[%zu].", i);
    if (json_is_object(v) && (members_known(v, members, ARRAY_LEN(members), where, e) != 0 ||
                              json_field_str(v, "name", 1, &name, e) != 0 ||
                              json_field_str(v, "description", 0, &description, e) != 0))
        return -1;
    if (name == NULL || !name_valid(name))
        return err_set(e, ERR_INVALID,
                       "profiles[%zu]: a profile name, or {\"name\", \"description\"}", i);
    if (description != NULL && !text_ok(description, DESCRIPTION_MAX))
        return err_set(e, ERR_INVALID,
                       "profiles[%zu].description: 1 to %d characters, no control characters", i,
                       DESCRIPTION_MAX);
    for (int k = 0; k < st->nprofiles; k++)
        if (strcmp(st->profiles[k].name, name) == 0)
            return err_set(e, ERR_INVALID, "profiles[%zu]: %s given twice", i, name);
    st->profiles[st->nprofiles].name = xstrdup(name);
    st->profiles[st->nprofiles].description = description ? xstrdup(description) : NULL;
    st->nprofiles++;
    return 0;
}

static int profiles_read(const json_t *o, struct svc_acme_settings *st, struct err *e)
{
    const json_t *list = json_object_get(o, "profiles"), *v;
    size_t i;

    if (list == NULL || json_is_null(list)) {
        st->profiles[0].name = xstrdup(DEFAULT_PROFILE);
        st->nprofiles = 1;
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) < 1 ||
        json_array_size(list) > ACME_PROFILES_MAX)
        return err_set(e, ERR_INVALID,
                       "profiles: an array of 1 to %d profiles (the first: the "
                       "default)",
                       ACME_PROFILES_MAX);
    json_array_foreach(list, i, v)
    {
        if (profile_read(v, i, st, e) != 0)
            return -1;
    }
    return 0;
}

static int challenges_read(const json_t *o, int *bits, struct err *e)
{
    const json_t *list = json_object_get(o, "challenges"), *v;
    size_t i, k;

    if (list == NULL || json_is_null(list)) {
        *bits = ACME_CHALLENGE_HTTP | ACME_CHALLENGE_DNS | ACME_CHALLENGE_ALPN;
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) < 1)
        return err_set(e, ERR_INVALID,
                       "challenges: a non-empty array of http-01, dns-01, tls-alpn-01");
    *bits = 0;
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(v);

        for (k = 0; name != NULL && k < ARRAY_LEN(challenge_kinds); k++)
            if (strcmp(challenge_kinds[k].name, name) == 0)
                break;
        if (name == NULL || k == ARRAY_LEN(challenge_kinds))
            return err_set(e, ERR_INVALID, "challenges[%zu]: http-01, dns-01 or tls-alpn-01", i);
        if (*bits & challenge_kinds[k].bit)
            return err_set(e, ERR_INVALID, "challenges[%zu]: %s given twice", i, name);
        *bits |= challenge_kinds[k].bit;
    }
    return 0;
}

static int caa_identities_read(const json_t *o, struct svc_acme_settings *st, struct err *e)
{
    const json_t *list = json_object_get(o, "caa_identities"), *v;
    size_t i;

    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_array(list) || json_array_size(list) > ACME_ISSUERS_MAX)
        return err_set(e, ERR_INVALID, "caa_identities: an array of at most %d issuer domain names",
                       ACME_ISSUERS_MAX);
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(v);

        if (name == NULL || !dns_name_ok(name))
            return err_set(e, ERR_INVALID,
                           "caa_identities[%zu]: a lower-case domain name (RFC 8659 issuer "
                           "domain name)",
                           i);
        for (int k = 0; k < st->ncaa_identities; k++)
            if (strcmp(st->caa_identities[k], name) == 0)
                return err_set(e, ERR_INVALID, "caa_identities[%zu]: %s given twice", i, name);
        st->caa_identities[st->ncaa_identities++] = xstrdup(name);
    }
    return 0;
}

static int url_read(const json_t *o, const char *key, char **out, struct err *e)
{
    const char *v = NULL;

    if (json_field_str(o, key, 0, &v, e) != 0)
        return -1;
    if (v != NULL && !url_ok(v))
        return err_set(e, ERR_INVALID, "%s: an http:// or https:// URL of at most %d characters",
                       key, URL_MAX);
    *out = v ? xstrdup(v) : NULL;
    return 0;
}

/* The numbers and switches, defaults first. */
static int scalars_read(const json_t *o, struct svc_acme_settings *st, struct err *e)
{
    long long reuse = 0, order = LIFETIME_DEF, authz = LIFETIME_DEF;

    st->allow_dns = st->allow_wildcard = st->caa_check = 1;
    if (json_field_bool(o, "eab_required", &st->eab_required, e) != 0 ||
        json_field_int(o, "authz_reuse_seconds", 0, REUSE_MAX, &reuse, e) != 0 ||
        json_field_int(o, "order_seconds", LIFETIME_MIN, LIFETIME_MAX, &order, e) != 0 ||
        json_field_int(o, "authz_seconds", LIFETIME_MIN, LIFETIME_MAX, &authz, e) != 0 ||
        json_field_bool(o, "allow_dns", &st->allow_dns, e) != 0 ||
        json_field_bool(o, "allow_ip", &st->allow_ip, e) != 0 ||
        json_field_bool(o, "allow_wildcard", &st->allow_wildcard, e) != 0 ||
        json_field_bool(o, "caa_check", &st->caa_check, e) != 0)
        return -1;
    st->authz_reuse_seconds = (long)reuse;
    st->order_seconds = (long)order;
    st->authz_seconds = (long)authz;
    return 0;
}

/* The rules across members: every identifier kind allowed can be validated. */
static int settings_coherent(const struct svc_acme_settings *st, struct err *e)
{
    if (!st->allow_dns && !st->allow_ip)
        return err_set(e, ERR_INVALID, "allow_dns, allow_ip: at least one identifier type");
    if (st->allow_wildcard && !st->allow_dns)
        return err_set(e, ERR_INVALID, "allow_wildcard: wildcards are DNS names (allow_dns)");
    if (st->allow_wildcard && !(st->challenges & ACME_CHALLENGE_DNS))
        return err_set(e, ERR_INVALID,
                       "allow_wildcard: a wildcard is validated by dns-01 only (RFC 8555 section "
                       "7.1.3): add dns-01 to challenges, or set allow_wildcard false");
    if (st->allow_dns &&
        !(st->challenges & (ACME_CHALLENGE_HTTP | ACME_CHALLENGE_DNS | ACME_CHALLENGE_ALPN)))
        return err_set(e, ERR_INVALID, "challenges: none validates a DNS name");
    if (st->allow_ip && !(st->challenges & (ACME_CHALLENGE_HTTP | ACME_CHALLENGE_ALPN)))
        return err_set(e, ERR_INVALID,
                       "allow_ip: an IP address is validated by http-01 or tls-alpn-01 only "
                       "(RFC 8738 section 7)");
    if (st->caa_check && st->ncaa_identities == 0)
        return err_set(e, ERR_INVALID,
                       "caa_identities: required while caa_check is on (the issuer domain names "
                       "CAA records must name for this CA, RFC 8659 section 4.2)");
    return 0;
}

int svc_acme_settings_parse(const json_t *o, struct svc_acme_settings *st, struct err *e)
{
    memset(st, 0, sizeof(*st));
    if (!json_is_object(o))
        return err_set(e, ERR_INVALID, "settings: a JSON object");
    if (members_known(o, settings_members, ARRAY_LEN(settings_members), "", e) != 0 ||
        profiles_read(o, st, e) != 0 || challenges_read(o, &st->challenges, e) != 0 ||
        scalars_read(o, st, e) != 0 || caa_identities_read(o, st, e) != 0 ||
        url_read(o, "terms_of_service", &st->terms_of_service, e) != 0 ||
        url_read(o, "website", &st->website, e) != 0 || settings_coherent(st, e) != 0) {
        svc_acme_settings_clear(st);
        return -1;
    }
    return 0;
}

json_t *svc_acme_settings_json(const struct svc_acme_settings *st)
{
    json_t *profiles = json_array(), *challenges = json_array(), *caa = json_array();

    for (int i = 0; i < st->nprofiles; i++)
        json_array_append_new(profiles, json_pack("{s:s, s:s?}", "name", st->profiles[i].name,
                                                  "description", st->profiles[i].description));
    for (size_t k = 0; k < ARRAY_LEN(challenge_kinds); k++)
        if (st->challenges & challenge_kinds[k].bit)
            json_array_append_new(challenges, json_string(challenge_kinds[k].name));
    for (int i = 0; i < st->ncaa_identities; i++)
        json_array_append_new(caa, json_string(st->caa_identities[i]));
    return json_pack(
        "{s:o, s:b, s:o, s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:o, s:s?, s:s?}", "profiles", profiles,
        "eab_required", st->eab_required, "challenges", challenges, "authz_reuse_seconds",
        (json_int_t)st->authz_reuse_seconds, "order_seconds", (json_int_t)st->order_seconds,
        "authz_seconds", (json_int_t)st->authz_seconds, "allow_dns", st->allow_dns, "allow_ip",
        st->allow_ip, "allow_wildcard", st->allow_wildcard, "caa_check", st->caa_check,
        "caa_identities", caa, "terms_of_service", st->terms_of_service, "website", st->website);
}

/* ---- endpoints ------------------------------------------------------------------------ */

/* 0 if ca is an active CA of tenant (read in tx); ERR_NOT_FOUND or ERR_CONFLICT. */
static int ca_usable(struct store_tx *tx, const char *tenant, const char *ca, struct err *e)
{
    struct ca_rec *r = NULL;
    int rc = 0;

    if (!name_valid(ca) || store_ca_get(tx, tenant, ca, &r, e) != 0) {
        if (e != NULL && (e->kind == ERR_NOT_FOUND || !name_valid(ca)))
            err_set(e, ERR_NOT_FOUND, "ca: CA %.64s not found", ca);
        return -1;
    }
    if (strcmp(r->status, "active") != 0)
        rc = err_set(e, ERR_CONFLICT, "ca: CA %s is %s: an endpoint issues from an active CA", ca,
                     r->status);
    ca_rec_free(r);
    return rc;
}

/* 0 if every profile of st is a leaf profile of tenant (read in tx). */
static int profiles_usable(struct svc *s, struct store_tx *tx, const char *tenant,
                           const struct svc_acme_settings *st, struct err *e)
{
    for (int i = 0; i < st->nprofiles; i++) {
        int version, ca;
        struct profile *p = svc_profile_load(s, tx, tenant, st->profiles[i].name, &version, e);

        if (p == NULL) {
            if (e != NULL && e->kind == ERR_NOT_FOUND)
                err_set(e, ERR_NOT_FOUND, "profiles[%d]: profile %s not found", i,
                        st->profiles[i].name);
            return -1;
        }
        ca = profile_is_ca(p);
        profile_free(p);
        if (ca)
            return err_set(e, ERR_POLICY,
                           "profiles[%d]: %s is a CA profile; an ACME endpoint issues leaf "
                           "certificates only",
                           i, st->profiles[i].name);
    }
    return 0;
}

/*
 * The settings an endpoint will have: body over stored (NULL: none), parsed
 * (*st) and in their stored form (*text, caller frees).
 */
static int settings_make(const char *stored, const json_t *body, struct svc_acme_settings *st,
                         char **text, struct err *e)
{
    json_t *o = stored ? json_loads(stored, 0, NULL) : json_object(), *norm;
    int rc;

    if (o == NULL)
        return err_set(e, ERR_INTERNAL, "stored endpoint settings do not parse");
    if (body != NULL && !json_is_object(body)) {
        json_decref(o);
        return err_set(e, ERR_INVALID, "settings: a JSON object");
    }
    if (body != NULL)
        json_object_update(o, (json_t *)body);
    rc = svc_acme_settings_parse(o, st, e);
    json_decref(o);
    if (rc != 0)
        return -1;
    norm = svc_acme_settings_json(st);
    *text = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    return 0;
}

static int endpoint_audit(struct store_tx *tx, const struct actor *a,
                          const struct acme_endpoint_rec *r, const char *action, struct err *e)
{
    json_t *d = json_pack("{s:s, s:s, s:o}", "ca", r->ca, "status", r->status, "settings",
                          json_loads(r->settings, 0, NULL));
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = svc_audit_ok(tx, r->tenant, a, action, r->name, detail, e);

    free(detail);
    json_decref(d);
    return rc;
}

struct acme_endpoint_rec *svc_acme_endpoint_copy(const struct acme_endpoint_rec *r)
{
    struct acme_endpoint_rec *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(r->tenant);
    c->name = xstrdup(r->name);
    c->ca = xstrdup(r->ca);
    c->status = xstrdup(r->status);
    c->settings = xstrdup(r->settings);
    c->created = r->created;
    c->updated = r->updated;
    return c;
}

/* The checks of put that need no store: name, status; settings for a new endpoint. */
static int endpoint_args_check(const char *name, const char *ca, const char *status, int create,
                               struct err *e)
{
    if (name == NULL || !name_valid(name))
        return err_set(e, create ? ERR_INVALID : ERR_NOT_FOUND,
                       "name: 1 to 63 of [a-z0-9-_.], starting with a letter or digit");
    if (create && ca == NULL)
        return err_set(e, ERR_INVALID, "ca: required");
    if (status != NULL && strcmp(status, "active") != 0 && strcmp(status, "disabled") != 0)
        return err_set(e, ERR_INVALID, "status: active or disabled");
    return 0;
}

int svc_acme_endpoint_put(struct svc *s, const struct actor *a, const char *tenant,
                          const char *name, const char *ca, const char *status, const json_t *body,
                          int create, struct acme_endpoint_rec **out, struct err *e)
{
    struct acme_endpoint_rec *old = NULL, r = {0};
    struct svc_acme_settings st = {0};
    struct store_tx *tx = NULL;
    int active = 0, rc = -1;

    if (endpoint_args_check(name, ca, status, create, e) != 0 ||
        svc_tenant_check(s, tenant, &active, e) != 0)
        return -1;
    if (create && !active)
        return err_set(e, ERR_FORBIDDEN, "tenant %s is not active", tenant);
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (!create && store_acme_endpoint_get(tx, tenant, name, &old, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "ACME endpoint %s not found", name);
        goto out;
    }
    r.tenant = (char *)tenant;
    r.name = (char *)name;
    r.ca = (char *)(ca ? ca : old->ca);
    r.status = (char *)(status ? status : old ? old->status : "active");
    r.updated = time_now();
    r.created = old ? old->created : r.updated;
    /* What changes is checked: a CA disabled since may not block disabling its endpoint. */
    if (settings_make(old ? old->settings : NULL, body, &st, &r.settings, e) != 0 ||
        (ca != NULL && ca_usable(tx, tenant, ca, e) != 0) ||
        ((create || json_object_get(body, "profiles") != NULL) &&
         profiles_usable(s, tx, tenant, &st, e) != 0))
        goto out;
    if (create ? store_acme_endpoint_insert(tx, tenant, &r, e)
               : store_acme_endpoint_update(tx, tenant, &r, e)) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "ACME endpoint %s exists already", name);
        goto out;
    }
    if (endpoint_audit(tx, a, &r, create ? "acme.endpoint.create" : "acme.endpoint.update", e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        svc_acme_endpoint_forget(s, tenant, name); /* this node's next request reads it */
        *out = svc_acme_endpoint_copy(&r);
    }
out:
    store_rollback(tx);
    acme_endpoint_rec_free(old);
    svc_acme_settings_clear(&st);
    free(r.settings);
    return rc;
}

int svc_acme_endpoint_get(struct svc *s, const char *tenant, const char *name,
                          struct acme_endpoint_rec **out, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant) || name == NULL || !name_valid(name))
        return err_set(e, ERR_NOT_FOUND, "ACME endpoint %.64s not found", name ? name : "");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_acme_endpoint_get(tx, tenant, name, out, e);
    store_rollback(tx);
    if (rc != 0 && e != NULL && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "ACME endpoint %s not found", name);
    return rc;
}

int svc_acme_endpoint_list(struct svc *s, const char *tenant, struct acme_endpoint_rec ***out,
                           size_t *n, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant))
        return err_set(e, ERR_NOT_FOUND, "tenant not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_acme_endpoint_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}

json_t *svc_acme_endpoint_json(struct svc *s, const struct acme_endpoint_rec *r)
{
    struct svc_acme_settings st;
    json_t *o, *settings = NULL, *stored;
    struct err e;

    (void)s;
    o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", r->name, "ca", r->ca, "status",
                  r->status, "directory", json_sprintf("/acme/%s/%s/directory", r->tenant, r->name),
                  "created", svc_time_json(r->created), "updated", svc_time_json(r->updated));
    stored = json_loads(r->settings ? r->settings : "", 0, NULL);
    if (svc_acme_settings_parse(stored, &st, &e) == 0) {
        settings = svc_acme_settings_json(&st);
        svc_acme_settings_clear(&st);
    } else {
        log_warn("tenant %s: ACME endpoint %s: stored settings: %s", r->tenant, r->name, e.msg);
    }
    json_object_update(o, settings ? settings : stored);
    json_decref(settings);
    json_decref(stored);
    return o;
}

/* ---- External Account Binding credentials ---------------------------------------------- */

static const char *const eab_option_members[] = {"profiles", "role", "reusable"};

/* 1 to KID_MAX of [A-Za-z0-9._-] (what a JWS kid and a URL segment both carry). */
static int kid_valid(const char *kid)
{
    size_t n = strlen(kid);

    return n > 0 && n <= KID_MAX &&
           strspn(kid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Whether the endpoint's settings offer profile name. */
static int offers_profile(const struct svc_acme_settings *st, const char *name)
{
    for (int i = 0; i < st->nprofiles; i++)
        if (strcmp(st->profiles[i].name, name) == 0)
            return 1;
    return 0;
}

/*
 * A credential's options (NULL: defaults) checked against its endpoint's
 * settings, in stored form (*text, caller frees): {"profiles"?: a subset of
 * the endpoint's (absent: all), "role", "reusable"}.
 */
static int eab_options_make(const json_t *options, const struct svc_acme_settings *ep, char **text,
                            struct err *e)
{
    const json_t *profiles = json_object_get(options, "profiles"), *v;
    const char *role = NULL;
    int reusable = 0;
    json_t *o;
    size_t i;

    if (options != NULL && !json_is_object(options))
        return err_set(e, ERR_INVALID, "options: a JSON object");
    if (members_known(options, eab_option_members, ARRAY_LEN(eab_option_members), "", e) != 0 ||
        json_field_str(options, "role", 0, &role, e) != 0 ||
        json_field_bool(options, "reusable", &reusable, e) != 0)
        return -1;
    /* Its accounts issue, and only issue: the role must grant cert.issue (today: requester). */
    if (role != NULL && svc_role_grants(role, "cert.issue") != 2)
        return err_set(e, ERR_INVALID, "role: a role that grants cert.issue (requester)");
    o = json_pack("{s:s, s:b}", "role", role ? role : DEFAULT_ROLE, "reusable", reusable);
    if (profiles != NULL && !json_is_null(profiles)) {
        if (!json_is_array(profiles) || json_array_size(profiles) < 1 ||
            json_array_size(profiles) > ACME_PROFILES_MAX) {
            json_decref(o);
            return err_set(e, ERR_INVALID, "profiles: an array of 1 to %d of the endpoint's",
                           ACME_PROFILES_MAX);
        }
        json_array_foreach(profiles, i, v)
        {
            if (!json_is_string(v) || !offers_profile(ep, json_string_value(v))) {
                json_decref(o);
                return err_set(e, ERR_INVALID, "profiles[%zu]: not a profile of the endpoint", i);
            }
        }
        json_object_set(o, "profiles", (json_t *)profiles);
    }
    *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return 0;
}

/* The endpoint's record and parsed settings (*st the caller's to clear), in tx. */
static int endpoint_read(struct store_tx *tx, const char *tenant, const char *name,
                         struct acme_endpoint_rec **out, struct svc_acme_settings *st,
                         struct err *e)
{
    json_t *o;
    int rc;

    if (name == NULL || !name_valid(name) ||
        store_acme_endpoint_get(tx, tenant, name, out, e) != 0) {
        if (e != NULL && (name == NULL || !name_valid(name) || e->kind == ERR_NOT_FOUND))
            err_set(e, ERR_NOT_FOUND, "ACME endpoint %.64s not found", name ? name : "");
        return -1;
    }
    o = json_loads((*out)->settings, 0, NULL);
    rc = svc_acme_settings_parse(o, st, e);
    json_decref(o);
    if (rc != 0) {
        acme_endpoint_rec_free(*out);
        *out = NULL;
        return err_set(e, ERR_INTERNAL, "ACME endpoint %s: stored settings do not parse", name);
    }
    return 0;
}

/*
 * What a new credential needs first, read in one transaction: the endpoint
 * (its settings checking the options), the kid free, and the tenant's EAB
 * key (*key_id, caller frees: NULL when it has none yet).
 */
static int eab_prepare(struct svc *s, const char *tenant, const char *endpoint, const char *kid,
                       const json_t *options, char **settings, char **key_id, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct acme_endpoint_rec *ep = NULL;
    struct svc_acme_settings st = {0};
    struct acme_eab_rec *old = NULL, **list = NULL;
    size_t n = 0;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (endpoint_read(tx, tenant, endpoint, &ep, &st, e) != 0 ||
        eab_options_make(options, &st, settings, e) != 0)
        goto out;
    if (store_acme_eab_get(tx, tenant, endpoint, kid, &old, e) == 0) {
        err_set(e, ERR_CONFLICT, "kid: %s exists already on endpoint %s", kid, endpoint);
        goto out;
    }
    if (e != NULL && e->kind != ERR_NOT_FOUND)
        goto out;
    if (store_acme_eab_list(tx, tenant, NULL, &list, &n, e) != 0)
        goto out;
    *key_id = n > 0 ? xstrdup(list[0]->key_id) : NULL;
    rc = 0;
out:
    if (rc != 0) {
        free(*settings);
        *settings = NULL;
    }
    store_rollback(tx);
    acme_eab_rec_list_free(list, n);
    acme_eab_rec_free(old);
    acme_endpoint_rec_free(ep);
    svc_acme_settings_clear(&st);
    return rc;
}

static int eab_audit(struct store_tx *tx, const struct actor *a, const struct acme_eab_rec *r,
                     const char *action, json_t *extra, struct err *e)
{
    json_t *d = json_pack("{s:s, s:s, s:o}", "endpoint", r->endpoint, "key_id", r->key_id,
                          "settings", json_loads(r->settings, 0, NULL));
    char *detail;
    int rc;

    if (extra != NULL)
        json_object_update(d, extra);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    rc = svc_audit_ok(tx, r->tenant, a, action, r->kid, detail, e);
    free(detail);
    json_decref(d);
    return rc;
}

static struct acme_eab_rec *eab_copy(const struct acme_eab_rec *r)
{
    struct acme_eab_rec *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(r->tenant);
    c->endpoint = xstrdup(r->endpoint);
    c->kid = xstrdup(r->kid);
    c->key_id = xstrdup(r->key_id);
    c->nonce = xstrdup(r->nonce);
    c->settings = xstrdup(r->settings);
    c->status = xstrdup(r->status);
    c->uses = r->uses;
    c->created = r->created;
    c->updated = r->updated;
    c->creators = r->creators ? xstrdup(r->creators) : NULL;
    return c;
}

/* The kid of a new credential: the one given (checked), or a drawn one; caller frees. */
static char *eab_kid(const char *kid, struct err *e)
{
    char *k;

    if (kid == NULL) {
        if ((k = random_id("eab")) == NULL)
            err_set(e, ERR_INTERNAL, "the CSPRNG failed");
        return k;
    }
    if (!kid_valid(kid)) {
        err_set(e, ERR_INVALID, "kid: 1 to %d of [A-Za-z0-9._-]", KID_MAX);
        return NULL;
    }
    return xstrdup(kid);
}

int svc_acme_eab_create(struct svc *s, const struct actor *a, const char *tenant,
                        const char *endpoint, const char *kid, const json_t *options,
                        struct acme_eab_rec **out, char **hmac_key, struct err *e)
{
    struct acme_eab_rec r = {
        .tenant = (char *)tenant, .endpoint = (char *)endpoint, .status = "active"};
    unsigned char key[SIGNER_EAB_KEY_LEN];
    struct store_tx *tx = NULL;
    struct signer_eab ref;
    EVP_PKEY *pub = NULL;
    int active = 0, made = 0, rc = -1;
    struct err e2;

    if (svc_tenant_check(s, tenant, &active, e) != 0)
        return -1;
    if (!active)
        return err_set(e, ERR_FORBIDDEN, "tenant %s is not active", tenant);
    if ((r.kid = eab_kid(kid, e)) == NULL ||
        eab_prepare(s, tenant, endpoint, r.kid, options, &r.settings, &r.key_id, e) != 0)
        goto out;
    if (r.key_id == NULL) { /* the tenant's first credential: its EAB key */
        if (signer_keygen_for(s->signer, tenant, KEY_RSA_2048, KEY_PURPOSE_EAB, &r.key_id, &pub,
                              e) != 0)
            goto out;
        made = 1;
    }
    ref = (struct signer_eab){.key_id = r.key_id, .endpoint = endpoint, .kid = r.kid};
    if (signer_eab_new(s->signer, tenant, &ref, &r.nonce, key, e) != 0)
        goto out;
    r.created = r.updated = time_now();
    /* whoever made it could register an account with it: that account's requests count for them */
    r.creators = svc_creators_for(a, "");
    if ((tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (store_acme_eab_insert(tx, tenant, &r, e) != 0) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "kid: %s exists already on endpoint %s", r.kid, endpoint);
        goto out;
    }
    if (eab_audit(tx, a, &r, "acme.eab.create", NULL, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        *out = eab_copy(&r);
        *hmac_key = base64url_encode(key, sizeof(key));
    }
out:
    store_rollback(tx);
    secure_zero(key, sizeof(key));
    if (rc != 0 && made && signer_delete(s->signer, tenant, r.key_id, &e2) != 0)
        log_warn("tenant %s: EAB key %s left behind: %s", tenant, r.key_id, e2.msg);
    EVP_PKEY_free(pub);
    free(r.kid);
    free(r.key_id);
    free(r.nonce);
    free(r.settings);
    free(r.creators);
    return rc;
}

/* Deactivates the valid accounts made with credential r, in tx; their ids appended to ids. */
static int eab_accounts_deactivate(struct store_tx *tx, const struct acme_eab_rec *r, json_t *ids,
                                   struct err *e)
{
    struct acme_account_rec **list = NULL;
    size_t n = 0;
    int rc;

    if ((rc = store_acme_account_by_eab(tx, r->tenant, r->endpoint, r->kid, &list, &n, e)) != 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(list[i]->status, "valid") != 0)
            continue;
        free(list[i]->status);
        list[i]->status = xstrdup("deactivated");
        list[i]->updated = time_now();
        rc = store_acme_account_update(tx, r->tenant, list[i], e);
        json_array_append_new(ids, json_string(list[i]->id));
    }
    acme_account_rec_list_free(list, n);
    return rc;
}

int svc_acme_eab_revoke(struct svc *s, const struct actor *a, const char *tenant,
                        const char *endpoint, const char *kid, int deactivate, struct err *e)
{
    struct acme_eab_rec *r = NULL;
    json_t *ids = json_array(), *extra;
    struct store_tx *tx;
    int rc = -1;

    if (!name_valid(tenant) || endpoint == NULL || !name_valid(endpoint) || kid == NULL ||
        !kid_valid(kid)) {
        json_decref(ids);
        return err_set(e, ERR_NOT_FOUND, "EAB credential %.64s not found", kid ? kid : "");
    }
    if ((tx = store_begin(s->store, e)) == NULL) {
        json_decref(ids);
        return -1;
    }
    if (store_acme_eab_get(tx, tenant, endpoint, kid, &r, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "EAB credential %s of endpoint %s not found", kid, endpoint);
        goto out;
    }
    if (strcmp(r->status, "active") != 0) {
        err_set(e, ERR_CONFLICT, "EAB credential %s is %s already", kid, r->status);
        goto out;
    }
    free(r->status);
    r->status = xstrdup("revoked");
    r->updated = time_now();
    if (store_acme_eab_update(tx, tenant, r, e) != 0 ||
        (deactivate && eab_accounts_deactivate(tx, r, ids, e) != 0))
        goto out;
    extra = json_pack("{s:b, s:O}", "deactivate_accounts", deactivate, "accounts", ids);
    rc = eab_audit(tx, a, r, "acme.eab.revoke", extra, e);
    json_decref(extra);
    if (rc == 0)
        rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    acme_eab_rec_free(r);
    json_decref(ids);
    return rc;
}

int svc_acme_eab_list(struct svc *s, const char *tenant, const char *endpoint,
                      struct acme_eab_rec ***out, size_t *n, struct err *e)
{
    struct acme_endpoint_rec *ep = NULL;
    struct store_tx *tx;
    int rc = 0;

    if (!name_valid(tenant))
        return err_set(e, ERR_NOT_FOUND, "tenant not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    if (endpoint != NULL &&
        (!name_valid(endpoint) || store_acme_endpoint_get(tx, tenant, endpoint, &ep, e) != 0)) {
        if (e != NULL && (!name_valid(endpoint) || e->kind == ERR_NOT_FOUND))
            err_set(e, ERR_NOT_FOUND, "ACME endpoint %.64s not found", endpoint);
        rc = -1;
    }
    if (rc == 0)
        rc = store_acme_eab_list(tx, tenant, endpoint, out, n, e);
    store_rollback(tx);
    acme_endpoint_rec_free(ep);
    return rc;
}

json_t *svc_acme_eab_json(const struct acme_eab_rec *r)
{
    json_t *st = json_loads(r->settings ? r->settings : "", 0, NULL);
    json_t *profiles = json_object_get(st, "profiles");
    json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:s, s:b, s:I, s:s, s:o, s:o}", "kid", r->kid,
                          "endpoint", r->endpoint, "status", r->status, "profiles",
                          profiles ? profiles : json_null(), "role",
                          json_string_value(json_object_get(st, "role"))
                              ? json_string_value(json_object_get(st, "role"))
                              : DEFAULT_ROLE,
                          "reusable", json_is_true(json_object_get(st, "reusable")), "uses",
                          (json_int_t)r->uses, "key_id", r->key_id, "created",
                          svc_time_json(r->created), "updated", svc_time_json(r->updated));

    json_decref(st);
    return o;
}

/* The HMAC digest of a JWS MAC algorithm (RFC 7518 section 3.2); NULL if none. */
static const char *eab_digest(const char *alg)
{
    if (alg == NULL)
        return NULL;
    if (strcmp(alg, "HS256") == 0)
        return "SHA256";
    if (strcmp(alg, "HS384") == 0)
        return "SHA384";
    if (strcmp(alg, "HS512") == 0)
        return "SHA512";
    return NULL;
}

/* Credential (endpoint, kid) of tenant as it stands, in a read transaction of its own. */
static int eab_read(struct svc *s, const char *tenant, const char *endpoint, const char *kid,
                    struct acme_eab_rec **out, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant) || endpoint == NULL || !name_valid(endpoint) || kid == NULL ||
        !kid_valid(kid))
        return err_set(e, ERR_NOT_FOUND, "EAB credential not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_acme_eab_get(tx, tenant, endpoint, kid, out, e);
    store_rollback(tx);
    if (rc != 0 && e != NULL && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "EAB credential %s of endpoint %s not found", kid, endpoint);
    return rc;
}

int svc_acme_eab_mac(struct svc *s, const char *tenant, const char *endpoint, const char *kid,
                     const char *alg, const unsigned char *data, size_t len, unsigned char **mac,
                     size_t *mac_len, struct err *e)
{
    const char *digest = eab_digest(alg);
    struct acme_eab_rec *r = NULL;
    struct signer_eab ref;
    json_t *st;
    int reusable, rc = -1;

    if (digest == NULL)
        return err_setc(e, ERR_INVALID, "badSignatureAlgorithm",
                        "externalAccountBinding: alg HS256, HS384 or HS512");
    if (eab_read(s, tenant, endpoint, kid, &r, e) != 0)
        return -1;
    st = json_loads(r->settings, 0, NULL);
    reusable = json_is_true(json_object_get(st, "reusable"));
    json_decref(st);
    if (strcmp(r->status, "active") != 0 || (!reusable && r->uses > 0)) {
        err_setc(e, ERR_FORBIDDEN, "unauthorized", "externalAccountBinding: %s %s", kid,
                 strcmp(r->status, "active") != 0 ? "is revoked" : "was used already");
        goto out;
    }
    ref = (struct signer_eab){r->key_id, r->endpoint, r->kid, r->nonce};
    rc = signer_eab_mac(s->signer, tenant, &ref, digest, data, len, mac, mac_len, e);
out:
    acme_eab_rec_free(r);
    return rc;
}

int svc_acme_eab_key_in_use(struct svc *s, const char *tenant, const char *key_id, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct acme_eab_rec **list = NULL;
    size_t n = 0;
    int used = 0;

    if (tx == NULL)
        return -1;
    if (store_acme_eab_list(tx, tenant, NULL, &list, &n, e) != 0)
        used = -1;
    for (size_t i = 0; i < n && used == 0; i++)
        used = strcmp(list[i]->key_id, key_id) == 0;
    store_rollback(tx);
    acme_eab_rec_list_free(list, n);
    return used;
}

/* ---- renewal windows (RFC 9773) -------------------------------------------------------- */

int svc_renewal_window_set(struct svc *s, const struct actor *a, const char *tenant,
                           const char *serial, int64_t start, int64_t end, const char *reason,
                           struct err *e)
{
    struct renewal_window_rec w = {.tenant = (char *)tenant,
                                   .serial = (char *)serial,
                                   .start = start,
                                   .end = end,
                                   .reason = (char *)reason,
                                   .created = time_now()};
    struct cert_rec *c = NULL;
    struct store_tx *tx;
    char from[32], to[32], *detail = NULL;
    json_t *d;
    int rc = -1;

    if (end <= start)
        return err_set(e, ERR_INVALID, "end: after start");
    if (end <= w.created)
        return err_set(e, ERR_INVALID, "end: in the future");
    if (reason != NULL && !text_ok(reason, REASON_MAX))
        return err_set(e, ERR_INVALID, "reason: 1 to %d characters, no control characters",
                       REASON_MAX);
    if (!name_valid(tenant) || serial == NULL || *serial == '\0' || strlen(serial) > 64)
        return err_set(e, ERR_NOT_FOUND, "certificate not found");
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (store_cert_get(tx, tenant, serial, &c, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "certificate %.64s not found", serial);
        goto out;
    }
    if (strcmp(c->status, "revoked") == 0) {
        err_set(e, ERR_CONFLICT, "certificate %s is revoked: its renewal is due now", serial);
        goto out;
    }
    if (end > c->not_after) {
        err_set(e, ERR_INVALID, "end: after the certificate expires (%s)",
                time_format(c->not_after, to, sizeof(to)));
        goto out;
    }
    d = json_pack("{s:s, s:s, s:s?}", "start", time_format(start, from, sizeof(from)), "end",
                  time_format(end, to, sizeof(to)), "reason", reason);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    if (store_renewal_window_put(tx, tenant, &w, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "cert.renewal_window", serial, detail, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    cert_rec_free(c);
    free(detail);
    return rc;
}

int svc_renewal_window(struct svc *s, const char *tenant, const char *serial, int64_t *start,
                       int64_t *end, char **reason, struct err *e)
{
    struct renewal_window_rec *w = NULL;
    struct cert_rec *c = NULL;
    struct store_tx *tx;
    struct err we;
    int rc;

    if (!name_valid(tenant) || serial == NULL || *serial == '\0' || strlen(serial) > 64)
        return err_set(e, ERR_NOT_FOUND, "certificate not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    if ((rc = store_cert_get(tx, tenant, serial, &c, e)) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "certificate %.64s not found", serial);
    } else if (strcmp(c->status, "revoked") == 0) {
        /* A window wholly past: renew now (RFC 9773 section 4.2). */
        *start = c->revoked_at - 1;
        *end = c->revoked_at;
        *reason = NULL;
    } else if (store_renewal_window_get(tx, tenant, serial, &w, &we) == 0) {
        *start = w->start;
        *end = w->end;
        *reason = w->reason ? xstrdup(w->reason) : NULL;
    } else if (we.kind != ERR_NOT_FOUND) {
        if (e != NULL)
            *e = we;
        rc = -1;
    } else { /* the default: the last third of its validity */
        *start = c->not_after - (c->not_after - c->not_before) / 3;
        *end = c->not_after;
        *reason = NULL;
    }
    store_rollback(tx);
    renewal_window_rec_free(w);
    cert_rec_free(c);
    return rc;
}
