/*
 * svc_cmp_admin.c — what a tenant admin sets up for CMP (RFC 4210/9480,
 * Lightweight CMP Profile RFC 9483): the endpoints and their settings, and
 * the shared secrets clients protect their messages with (MAC protection).
 *
 * An endpoint issues from one active CA of its tenant under leaf profiles of
 * its tenant; its settings are one JSON object, checked member by member here
 * (svc_cmp_settings_parse) whoever reads them: the admin API, and the
 * protocol front end each time it loads the endpoint.  Every change is
 * audited in the tenant's chain in the transaction of its row.
 *
 * A shared secret is never stored: the signer derives it from an RSA key of
 * the tenant (made with its first CMP secret, reused by the next), the
 * endpoint, the reference and a nonce (keys.h: signer_cmp_secret), hands it
 * out once to be shown, and again to the protocol front end for each request
 * that names its reference.  The row keeps the key id and the nonce.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/json_field.h"
#include "lib/log.h"

#define REF_MAX         64
#define CONFIRM_MIN     10L    /* the grace for a certConf: 10 s ... */
#define CONFIRM_MAX     86400L /* ... to a day */
#define CONFIRM_DEF     300L
#define TIME_SKEW_MAX   86400L /* how far a messageTime may be from ours */
#define TIME_SKEW_DEF   300L
#define DEFAULT_PROFILE "tls-client" /* a built-in leaf profile of every tenant */

/* ---- settings ------------------------------------------------------------------------ */

static const char *const settings_members[] = {
    "profiles",        "protection",        "implicit_confirm",
    "confirm_seconds", "time_skew_seconds", "client_cas",
};

static const struct {
    const char *name;
    int bit;
} protection_kinds[] = {
    {"mac", CMP_PROTECTION_MAC},
    {"signature", CMP_PROTECTION_SIGNATURE},
};

void svc_cmp_settings_clear(struct svc_cmp_settings *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < st->nprofiles; i++)
        free(st->profiles[i]);
    for (int i = 0; i < st->nclient_cas; i++)
        free(st->client_cas[i]);
    memset(st, 0, sizeof(*st));
}

/* 0 if every member of o is known; else ERR_INVALID naming it. */
static int members_known(const json_t *o, const char *const *known, size_t n, struct err *e)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)o, key, v)
    {
        size_t i = 0;

        while (i < n && strcmp(known[i], key) != 0)
            i++;
        if (i == n)
            return err_set(e, ERR_INVALID, "%.64s: unknown member", key);
    }
    return 0;
}

/*
 * A list of names (member key of o: 1 to max of name_valid, none twice) into
 * names[], *n set; absent or null: dflt (or none if dflt is NULL).
 */
static int names_read(const json_t *o, const char *key, const char *dflt, int min, int max,
                      char **names, int *n, struct err *e)
{
    const json_t *list = json_object_get(o, key), *v;
    size_t i;

    *n = 0;
    if (list == NULL || json_is_null(list)) {
        if (dflt != NULL)
            names[(*n)++] = xstrdup(dflt);
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) < (size_t)min ||
        json_array_size(list) > (size_t)max)
        return err_set(e, ERR_INVALID, "%s: an array of %d to %d names", key, min, max);
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(v);

        if (name == NULL || !name_valid(name))
            return err_set(e, ERR_INVALID, "%s[%zu]: a name", key, i);
        for (int k = 0; k < *n; k++)
            if (strcmp(names[k], name) == 0)
                return err_set(e, ERR_INVALID, "%s[%zu]: %s given twice", key, i, name);
        names[(*n)++] = xstrdup(name);
    }
    return 0;
}

static int protection_read(const json_t *o, int *bits, struct err *e)
{
    const json_t *list = json_object_get(o, "protection"), *v;
    size_t i, k;

    if (list == NULL || json_is_null(list)) {
        *bits = CMP_PROTECTION_MAC | CMP_PROTECTION_SIGNATURE;
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) < 1)
        return err_set(e, ERR_INVALID, "protection: a non-empty array of mac, signature");
    *bits = 0;
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(v);

        for (k = 0; name != NULL && k < ARRAY_LEN(protection_kinds); k++)
            if (strcmp(protection_kinds[k].name, name) == 0)
                break;
        if (name == NULL || k == ARRAY_LEN(protection_kinds))
            return err_set(e, ERR_INVALID, "protection[%zu]: mac or signature", i);
        if (*bits & protection_kinds[k].bit)
            return err_set(e, ERR_INVALID, "protection[%zu]: %s given twice", i, name);
        *bits |= protection_kinds[k].bit;
    }
    return 0;
}

int svc_cmp_settings_parse(const json_t *o, struct svc_cmp_settings *st, struct err *e)
{
    long long confirm = CONFIRM_DEF, skew = TIME_SKEW_DEF;

    memset(st, 0, sizeof(*st));
    if (!json_is_object(o))
        return err_set(e, ERR_INVALID, "settings: a JSON object");
    if (members_known(o, settings_members, ARRAY_LEN(settings_members), e) != 0 ||
        names_read(o, "profiles", DEFAULT_PROFILE, 1, CMP_PROFILES_MAX, st->profiles,
                   &st->nprofiles, e) != 0 ||
        names_read(o, "client_cas", NULL, 0, CMP_CLIENT_CAS_MAX, st->client_cas, &st->nclient_cas,
                   e) != 0 ||
        protection_read(o, &st->protection, e) != 0 ||
        json_field_bool(o, "implicit_confirm", &st->implicit_confirm, e) != 0 ||
        json_field_int(o, "confirm_seconds", CONFIRM_MIN, CONFIRM_MAX, &confirm, e) != 0 ||
        json_field_int(o, "time_skew_seconds", 0, TIME_SKEW_MAX, &skew, e) != 0) {
        svc_cmp_settings_clear(st);
        return -1;
    }
    st->confirm_seconds = (long)confirm;
    st->time_skew_seconds = (long)skew;
    return 0;
}

json_t *svc_cmp_settings_json(const struct svc_cmp_settings *st)
{
    json_t *profiles = json_array(), *protection = json_array(), *cas = json_array();

    for (int i = 0; i < st->nprofiles; i++)
        json_array_append_new(profiles, json_string(st->profiles[i]));
    for (int i = 0; i < st->nclient_cas; i++)
        json_array_append_new(cas, json_string(st->client_cas[i]));
    for (size_t k = 0; k < ARRAY_LEN(protection_kinds); k++)
        if (st->protection & protection_kinds[k].bit)
            json_array_append_new(protection, json_string(protection_kinds[k].name));
    return json_pack("{s:o, s:o, s:b, s:I, s:I, s:o}", "profiles", profiles, "protection",
                     protection, "implicit_confirm", st->implicit_confirm, "confirm_seconds",
                     (json_int_t)st->confirm_seconds, "time_skew_seconds",
                     (json_int_t)st->time_skew_seconds, "client_cas", cas);
}

/* ---- endpoints ------------------------------------------------------------------------ */

/* 0 if ca is a CA of tenant (read in tx), active if `active`; ERR_NOT_FOUND or ERR_CONFLICT. */
static int ca_usable(struct store_tx *tx, const char *tenant, const char *what, const char *ca,
                     int active, struct err *e)
{
    struct ca_rec *r = NULL;
    int rc = 0;

    if (!name_valid(ca) || store_ca_get(tx, tenant, ca, &r, e) != 0) {
        if (e != NULL && (e->kind == ERR_NOT_FOUND || !name_valid(ca)))
            err_set(e, ERR_NOT_FOUND, "%s: CA %.64s not found", what, ca);
        return -1;
    }
    if (active && strcmp(r->status, "active") != 0)
        rc = err_set(e, ERR_CONFLICT, "%s: CA %s is %s: an endpoint issues from an active CA", what,
                     ca, r->status);
    ca_rec_free(r);
    return rc;
}

/* 0 if every profile of st is a leaf profile of tenant (read in tx). */
static int profiles_usable(struct svc *s, struct store_tx *tx, const char *tenant,
                           const struct svc_cmp_settings *st, struct err *e)
{
    for (int i = 0; i < st->nprofiles; i++) {
        int version, ca;
        struct profile *p = svc_profile_load(s, tx, tenant, st->profiles[i], &version, e);

        if (p == NULL) {
            if (e != NULL && e->kind == ERR_NOT_FOUND)
                err_set(e, ERR_NOT_FOUND, "profiles[%d]: profile %s not found", i, st->profiles[i]);
            return -1;
        }
        ca = profile_is_ca(p);
        profile_free(p);
        if (ca)
            return err_set(e, ERR_POLICY,
                           "profiles[%d]: %s is a CA profile; a CMP endpoint issues leaf "
                           "certificates only",
                           i, st->profiles[i]);
    }
    return 0;
}

/* 0 if every CA of client_cas is a CA of tenant. */
static int client_cas_usable(struct store_tx *tx, const char *tenant,
                             const struct svc_cmp_settings *st, struct err *e)
{
    char what[32];

    for (int i = 0; i < st->nclient_cas; i++) {
        snprintf(what, sizeof(what), "client_cas[%d]", i);
        if (ca_usable(tx, tenant, what, st->client_cas[i], 0, e) != 0)
            return -1;
    }
    return 0;
}

/* The settings an endpoint will have: body over stored, parsed (*st) and stored (*text). */
static int settings_make(const char *stored, const json_t *body, struct svc_cmp_settings *st,
                         char **text, struct err *e)
{
    json_t *o = stored ? json_loads(stored, 0, NULL) : json_object(), *norm;
    const char *key;
    json_t *v;
    int rc;

    if (o == NULL)
        return err_set(e, ERR_INTERNAL, "stored endpoint settings do not parse");
    if (body != NULL && !json_is_object(body)) {
        json_decref(o);
        return err_set(e, ERR_INVALID, "settings: a JSON object");
    }
    json_object_foreach((json_t *)body, key, v)
    {
        if (json_is_null(v))
            json_object_del(o, key); /* back to its default */
        else
            json_object_set(o, key, v);
    }
    rc = svc_cmp_settings_parse(o, st, e);
    json_decref(o);
    if (rc != 0)
        return -1;
    norm = svc_cmp_settings_json(st);
    *text = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    return 0;
}

static int endpoint_audit(struct store_tx *tx, const struct actor *a,
                          const struct cmp_endpoint_rec *r, const char *action, struct err *e)
{
    json_t *d = json_pack("{s:s, s:s, s:o}", "ca", r->ca, "status", r->status, "settings",
                          json_loads(r->settings, 0, NULL));
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = svc_audit_ok(tx, r->tenant, a, action, r->name, detail, e);

    free(detail);
    json_decref(d);
    return rc;
}

static struct cmp_endpoint_rec *endpoint_copy(const struct cmp_endpoint_rec *r)
{
    struct cmp_endpoint_rec *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(r->tenant);
    c->name = xstrdup(r->name);
    c->ca = xstrdup(r->ca);
    c->status = xstrdup(r->status);
    c->settings = xstrdup(r->settings);
    c->created = r->created;
    c->updated = r->updated;
    c->key_id = r->key_id ? xstrdup(r->key_id) : NULL;
    c->cert_serial = r->cert_serial ? xstrdup(r->cert_serial) : NULL;
    return c;
}

/* "<endpoint> CMP" as a subject's CN (at most 64 characters). */
static X509_NAME *protection_subject(const char *endpoint)
{
    X509_NAME *name = X509_NAME_new();
    char cn[65];

    snprintf(cn, sizeof(cn), "%s CMP", endpoint);
    if (name != NULL && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                   (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(name);
        name = NULL;
    }
    return name;
}

/*
 * Makes the protection key (in the signer) and certificate (from the
 * endpoint's CA) of endpoint r, and files them in its row; r updated.
 */
static int protection_make(struct svc *s, struct cmp_endpoint_rec *r, struct err *e)
{
    static const struct actor cmp_actor = {.id = "cmp"};
    struct issue_params p = {.ca = r->ca, .profile = CMP_PROTECTION_PROFILE, .internal = 1};
    struct cmp_endpoint_rec *cur = NULL;
    struct cert_rec *issued = NULL;
    struct store_tx *tx = NULL;
    X509_NAME *subject = protection_subject(r->name);
    EVP_PKEY *pub = NULL;
    char *key_id = NULL;
    int rc = -1;

    if (subject == NULL)
        return err_ossl(e, ERR_INTERNAL, "cmp: cannot make a subject");
    if (signer_keygen_for(s->signer, r->tenant, KEY_EC_P256, KEY_PURPOSE_RA, &key_id, &pub, e) !=
            0 ||
        svc_issue_for_key(s, &cmp_actor, r->tenant, &p, subject, pub, "cmp.protection.issue",
                          &issued, NULL, e) != 0 ||
        (tx = store_begin(s->store, e)) == NULL ||
        store_cmp_endpoint_get(tx, r->tenant, r->name, &cur, e) != 0)
        goto out;
    free(cur->key_id);
    free(cur->cert_serial);
    cur->key_id = xstrdup(key_id);
    cur->cert_serial = xstrdup(issued->serial);
    if (store_cmp_endpoint_update(tx, r->tenant, cur, e) != 0 ||
        svc_audit_ok(tx, r->tenant, &cmp_actor, "cmp.protection", r->name, NULL, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        free(r->key_id);
        free(r->cert_serial);
        r->key_id = key_id;
        r->cert_serial = xstrdup(issued->serial);
        key_id = NULL;
    }
out:
    store_rollback(tx);
    if (rc != 0 && key_id != NULL) {
        struct err ignored;
        signer_delete(s->signer, r->tenant, key_id, &ignored);
    }
    free(key_id);
    cmp_endpoint_rec_free(cur);
    cert_rec_free(issued);
    EVP_PKEY_free(pub);
    X509_NAME_free(subject);
    return rc;
}

/* Whether the protection certificate serial is good with more than a third of its life left. */
static int protection_fresh(struct svc *s, const char *tenant, const char *serial)
{
    struct store_tx *tx;
    struct cert_rec *c = NULL;
    struct err e;
    int fresh = 0;

    if ((tx = store_begin_read(s->store, &e)) == NULL)
        return 1; /* cannot tell now: keep it (the answer fails if it is really gone) */
    if (store_cert_get(tx, tenant, serial, &c, &e) == 0)
        fresh = strcmp(c->status, "good") == 0 &&
                c->not_after - time_now() > (c->not_after - c->not_before) / 3;
    else
        fresh = e.kind != ERR_NOT_FOUND;
    store_rollback(tx);
    cert_rec_free(c);
    return fresh;
}

int svc_cmp_protection_ensure(struct svc *s, struct cmp_endpoint_rec *r, struct err *e)
{
    char *old = NULL;
    struct err ignored;
    int rc;

    if (r->key_id != NULL && r->cert_serial != NULL &&
        protection_fresh(s, r->tenant, r->cert_serial))
        return 0;
    /* none yet, or revoked, gone or in the last third of its life: a new key and certificate */
    old = r->key_id ? xstrdup(r->key_id) : NULL;
    rc = protection_make(s, r, e);
    if (rc == 0 && old != NULL && signer_delete(s->signer, r->tenant, old, &ignored) != 0)
        log_warn("tenant %s: CMP endpoint %s: old protection key %s left behind: %s", r->tenant,
                 r->name, old, ignored.msg);
    free(old);
    return rc;
}

/* The checks of put that need no store. */
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

int svc_cmp_endpoint_put(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                         const char *ca, const char *status, const json_t *body, int create,
                         struct cmp_endpoint_rec **out, struct err *e)
{
    struct cmp_endpoint_rec *old = NULL, r = {0};
    struct svc_cmp_settings st = {0};
    struct store_tx *tx = NULL;
    int active = 0, rc = -1;

    if (endpoint_args_check(name, ca, status, create, e) != 0 ||
        svc_tenant_check(s, tenant, &active, e) != 0)
        return -1;
    if (create && !active)
        return err_set(e, ERR_FORBIDDEN, "tenant %s is not active", tenant);
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (!create && store_cmp_endpoint_get(tx, tenant, name, &old, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "CMP endpoint %s not found", name);
        goto out;
    }
    r.tenant = (char *)tenant;
    r.name = (char *)name;
    r.ca = (char *)(ca ? ca : old->ca);
    r.status = (char *)(status ? status : old ? old->status : "active");
    r.updated = time_now();
    r.created = old ? old->created : r.updated;
    r.key_id = old ? old->key_id : NULL;
    r.cert_serial = old ? old->cert_serial : NULL;
    /* What changes is checked: a CA disabled since may not block disabling its endpoint. */
    if (settings_make(old ? old->settings : NULL, body, &st, &r.settings, e) != 0 ||
        (ca != NULL && ca_usable(tx, tenant, "ca", ca, 1, e) != 0) ||
        ((create || json_object_get(body, "profiles") != NULL) &&
         profiles_usable(s, tx, tenant, &st, e) != 0) ||
        ((create || json_object_get(body, "client_cas") != NULL) &&
         client_cas_usable(tx, tenant, &st, e) != 0))
        goto out;
    if (create ? store_cmp_endpoint_insert(tx, tenant, &r, e)
               : store_cmp_endpoint_update(tx, tenant, &r, e)) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "CMP endpoint %s exists already", name);
        goto out;
    }
    if (endpoint_audit(tx, a, &r, create ? "cmp.endpoint.create" : "cmp.endpoint.update", e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        struct err pe;

        *out = endpoint_copy(&r);
        /* Its signature protection's key and certificate, made now or at the first request. */
        if ((st.protection & CMP_PROTECTION_SIGNATURE) &&
            svc_cmp_protection_ensure(s, *out, &pe) != 0)
            log_warn("tenant %s: CMP endpoint %s: no protection certificate yet: %s", tenant, name,
                     pe.msg);
    }
out:
    store_rollback(tx);
    cmp_endpoint_rec_free(old);
    svc_cmp_settings_clear(&st);
    free(r.settings);
    return rc;
}

int svc_cmp_endpoint_get(struct svc *s, const char *tenant, const char *name,
                         struct cmp_endpoint_rec **out, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant) || name == NULL || !name_valid(name))
        return err_set(e, ERR_NOT_FOUND, "CMP endpoint %.64s not found", name ? name : "");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_cmp_endpoint_get(tx, tenant, name, out, e);
    store_rollback(tx);
    if (rc != 0 && e != NULL && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "CMP endpoint %s not found", name);
    return rc;
}

int svc_cmp_endpoint_list(struct svc *s, const char *tenant, struct cmp_endpoint_rec ***out,
                          size_t *n, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant))
        return err_set(e, ERR_NOT_FOUND, "tenant not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_cmp_endpoint_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}

json_t *svc_cmp_endpoint_json(const struct cmp_endpoint_rec *r)
{
    struct svc_cmp_settings st;
    json_t *o, *settings = NULL, *stored;
    struct err e;

    o = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:o}", "name", r->name, "ca", r->ca, "status",
                  r->status, "protection_certificate", r->cert_serial, "path",
                  json_sprintf("/.well-known/cmp/p/%s" CMP_LABEL_SEP "%s", r->tenant, r->name),
                  "created", svc_time_json(r->created), "updated", svc_time_json(r->updated));
    stored = json_loads(r->settings ? r->settings : "", 0, NULL);
    if (svc_cmp_settings_parse(stored, &st, &e) == 0) {
        settings = svc_cmp_settings_json(&st);
        svc_cmp_settings_clear(&st);
    } else {
        log_warn("tenant %s: CMP endpoint %s: stored settings: %s", r->tenant, r->name, e.msg);
    }
    if (settings != NULL || stored != NULL)
        json_object_update(o, settings ? settings : stored);
    json_decref(settings);
    json_decref(stored);
    return o;
}

/* ---- shared secrets ------------------------------------------------------------------ */

static const char *const secret_option_members[] = {"profiles", "reusable"};

/* 1 to REF_MAX of [A-Za-z0-9._-] (a senderKID clients type, and a URL segment). */
static int ref_valid(const char *ref)
{
    size_t n = strlen(ref);

    return n > 0 && n <= REF_MAX &&
           strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Whether the endpoint's settings offer profile name. */
static int offers_profile(const struct svc_cmp_settings *st, const char *name)
{
    for (int i = 0; i < st->nprofiles; i++)
        if (strcmp(st->profiles[i], name) == 0)
            return 1;
    return 0;
}

/*
 * A secret's options (NULL: defaults) checked against its endpoint's
 * settings, in stored form (*text, caller frees): {"profiles"?: a subset of
 * the endpoint's (absent: all), "reusable"}.
 */
static int secret_options_make(const json_t *options, const struct svc_cmp_settings *ep,
                               char **text, struct err *e)
{
    const json_t *profiles = json_object_get(options, "profiles"), *v;
    int reusable = 0;
    json_t *o;
    size_t i;

    if (options != NULL && !json_is_object(options))
        return err_set(e, ERR_INVALID, "options: a JSON object");
    if (members_known(options, secret_option_members, ARRAY_LEN(secret_option_members), e) != 0 ||
        json_field_bool(options, "reusable", &reusable, e) != 0)
        return -1;
    o = json_pack("{s:b}", "reusable", reusable);
    if (profiles != NULL && !json_is_null(profiles)) {
        if (!json_is_array(profiles) || json_array_size(profiles) < 1 ||
            json_array_size(profiles) > CMP_PROFILES_MAX) {
            json_decref(o);
            return err_set(e, ERR_INVALID, "profiles: an array of 1 to %d of the endpoint's",
                           CMP_PROFILES_MAX);
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
                         struct cmp_endpoint_rec **out, struct svc_cmp_settings *st, struct err *e)
{
    json_t *o;
    int rc;

    if (name == NULL || !name_valid(name) ||
        store_cmp_endpoint_get(tx, tenant, name, out, e) != 0) {
        if (e != NULL && (name == NULL || !name_valid(name) || e->kind == ERR_NOT_FOUND))
            err_set(e, ERR_NOT_FOUND, "CMP endpoint %.64s not found", name ? name : "");
        return -1;
    }
    o = json_loads((*out)->settings, 0, NULL);
    rc = svc_cmp_settings_parse(o, st, e);
    json_decref(o);
    if (rc != 0) {
        cmp_endpoint_rec_free(*out);
        *out = NULL;
        return err_set(e, ERR_INTERNAL, "CMP endpoint %s: stored settings do not parse", name);
    }
    return 0;
}

/*
 * What a new secret needs first, read in one transaction: the endpoint (its
 * settings checking the options), the reference free, and the tenant's CMP
 * secret key (*key_id, caller frees: NULL when it has none yet).
 */
static int secret_prepare(struct svc *s, const char *tenant, const char *endpoint, const char *ref,
                          const json_t *options, char **settings, char **key_id, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct cmp_endpoint_rec *ep = NULL;
    struct svc_cmp_settings st = {0};
    struct cmp_secret_rec *old = NULL, **list = NULL;
    size_t n = 0;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (endpoint_read(tx, tenant, endpoint, &ep, &st, e) != 0 ||
        secret_options_make(options, &st, settings, e) != 0)
        goto out;
    if (store_cmp_secret_get(tx, tenant, endpoint, ref, &old, e) == 0) {
        err_set(e, ERR_CONFLICT, "reference: %s exists already on endpoint %s", ref, endpoint);
        goto out;
    }
    if (e != NULL && e->kind != ERR_NOT_FOUND)
        goto out;
    if (store_cmp_secret_list(tx, tenant, NULL, &list, &n, e) != 0)
        goto out;
    *key_id = n > 0 ? xstrdup(list[0]->key_id) : NULL;
    rc = 0;
out:
    if (rc != 0) {
        free(*settings);
        *settings = NULL;
    }
    store_rollback(tx);
    cmp_secret_rec_list_free(list, n);
    cmp_secret_rec_free(old);
    cmp_endpoint_rec_free(ep);
    svc_cmp_settings_clear(&st);
    return rc;
}

static int secret_audit(struct store_tx *tx, const struct actor *a, const struct cmp_secret_rec *r,
                        const char *action, struct err *e)
{
    json_t *d = json_pack("{s:s, s:s, s:o}", "endpoint", r->endpoint, "key_id", r->key_id,
                          "settings", json_loads(r->settings, 0, NULL));
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = svc_audit_ok(tx, r->tenant, a, action, r->ref, detail, e);

    free(detail);
    json_decref(d);
    return rc;
}

static struct cmp_secret_rec *secret_copy(const struct cmp_secret_rec *r)
{
    struct cmp_secret_rec *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(r->tenant);
    c->endpoint = xstrdup(r->endpoint);
    c->ref = xstrdup(r->ref);
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

/* The reference of a new secret: the one given (checked), or a drawn one; caller frees. */
static char *secret_ref(const char *ref, struct err *e)
{
    char *k;

    if (ref == NULL) {
        if ((k = random_id("cmp")) == NULL)
            err_set(e, ERR_INTERNAL, "the CSPRNG failed");
        return k;
    }
    if (!ref_valid(ref)) {
        err_set(e, ERR_INVALID, "reference: 1 to %d of [A-Za-z0-9._-]", REF_MAX);
        return NULL;
    }
    return xstrdup(ref);
}

int svc_cmp_secret_create(struct svc *s, const struct actor *a, const char *tenant,
                          const char *endpoint, const char *ref, const json_t *options,
                          struct cmp_secret_rec **out, char **secret, struct err *e)
{
    struct cmp_secret_rec r = {
        .tenant = (char *)tenant, .endpoint = (char *)endpoint, .status = "active"};
    unsigned char key[SIGNER_CMP_SECRET_LEN];
    struct store_tx *tx = NULL;
    struct signer_eab sref;
    EVP_PKEY *pub = NULL;
    int active = 0, made = 0, rc = -1;
    struct err e2;

    if (svc_tenant_check(s, tenant, &active, e) != 0)
        return -1;
    if (!active)
        return err_set(e, ERR_FORBIDDEN, "tenant %s is not active", tenant);
    if ((r.ref = secret_ref(ref, e)) == NULL ||
        secret_prepare(s, tenant, endpoint, r.ref, options, &r.settings, &r.key_id, e) != 0)
        goto out;
    if (r.key_id == NULL) { /* the tenant's first CMP secret: its key */
        if (signer_keygen_for(s->signer, tenant, KEY_RSA_2048, KEY_PURPOSE_CMP_SECRET, &r.key_id,
                              &pub, e) != 0)
            goto out;
        made = 1;
    }
    sref = (struct signer_eab){.key_id = r.key_id, .endpoint = endpoint, .kid = r.ref};
    if (signer_cmp_secret(s->signer, tenant, &sref, &r.nonce, key, e) != 0)
        goto out;
    r.created = r.updated = time_now();
    r.creators = svc_creators_for(a, "");
    if ((tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (store_cmp_secret_insert(tx, tenant, &r, e) != 0) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "reference: %s exists already on endpoint %s", r.ref,
                    endpoint);
        goto out;
    }
    if (secret_audit(tx, a, &r, "cmp.secret.create", e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        *out = secret_copy(&r);
        *secret = base64url_encode(key, sizeof(key));
    }
out:
    store_rollback(tx);
    secure_zero(key, sizeof(key));
    if (rc != 0 && made && signer_delete(s->signer, tenant, r.key_id, &e2) != 0)
        log_warn("tenant %s: CMP secret key %s left behind: %s", tenant, r.key_id, e2.msg);
    EVP_PKEY_free(pub);
    free(r.ref);
    free(r.key_id);
    free(r.nonce);
    free(r.settings);
    free(r.creators);
    return rc;
}

int svc_cmp_secret_revoke(struct svc *s, const struct actor *a, const char *tenant,
                          const char *endpoint, const char *ref, struct err *e)
{
    struct cmp_secret_rec *r = NULL;
    struct store_tx *tx;
    int rc = -1;

    if (!name_valid(tenant) || endpoint == NULL || !name_valid(endpoint) || ref == NULL ||
        !ref_valid(ref))
        return err_set(e, ERR_NOT_FOUND, "CMP shared secret %.64s not found", ref ? ref : "");
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (store_cmp_secret_get(tx, tenant, endpoint, ref, &r, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "CMP shared secret %s of endpoint %s not found", ref,
                    endpoint);
        goto out;
    }
    if (strcmp(r->status, "active") != 0) {
        err_set(e, ERR_CONFLICT, "CMP shared secret %s is %s already", ref, r->status);
        goto out;
    }
    free(r->status);
    r->status = xstrdup("revoked");
    r->updated = time_now();
    if (store_cmp_secret_update(tx, tenant, r, e) != 0 ||
        secret_audit(tx, a, r, "cmp.secret.revoke", e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    cmp_secret_rec_free(r);
    return rc;
}

int svc_cmp_secret_list(struct svc *s, const char *tenant, const char *endpoint,
                        struct cmp_secret_rec ***out, size_t *n, struct err *e)
{
    struct cmp_endpoint_rec *ep = NULL;
    struct store_tx *tx;
    int rc = 0;

    if (!name_valid(tenant))
        return err_set(e, ERR_NOT_FOUND, "tenant not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    if (endpoint != NULL &&
        (!name_valid(endpoint) || store_cmp_endpoint_get(tx, tenant, endpoint, &ep, e) != 0)) {
        if (e != NULL && (!name_valid(endpoint) || e->kind == ERR_NOT_FOUND))
            err_set(e, ERR_NOT_FOUND, "CMP endpoint %.64s not found", endpoint);
        rc = -1;
    }
    if (rc == 0)
        rc = store_cmp_secret_list(tx, tenant, endpoint, out, n, e);
    store_rollback(tx);
    cmp_endpoint_rec_free(ep);
    return rc;
}

json_t *svc_cmp_secret_json(const struct cmp_secret_rec *r)
{
    json_t *st = json_loads(r->settings ? r->settings : "", 0, NULL);
    json_t *profiles = json_object_get(st, "profiles");
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:O, s:b, s:I, s:s, s:o, s:o}", "reference", r->ref, "endpoint",
        r->endpoint, "status", r->status, "profiles", profiles ? profiles : json_null(), "reusable",
        json_is_true(json_object_get(st, "reusable")), "uses", (json_int_t)r->uses, "key_id",
        r->key_id, "created", svc_time_json(r->created), "updated", svc_time_json(r->updated));

    json_decref(st);
    return o;
}
