/*
 * svc_enroll.c — device enrollment endpoints and their credentials (issue
 * 17), what a tenant admin sets up for EST (svc_est.c) and, later, SCEP.
 *
 * An endpoint names its protocol, one active CA of the tenant, one leaf
 * profile, and in its settings how devices authenticate: "auth" (any of
 * "basic" — an enrollment credential as HTTP Basic user and password — and
 * "certificate" — a TLS client certificate issued by one of "client_cas",
 * CAs of the tenant, the endpoint's own CA by default) and "retry_after", the
 * seconds a client is told to wait while its request awaits approval.
 *
 * An enrollment credential (an EST Basic password, a SCEP challenge password)
 * belongs to one endpoint; its secret is shown once, at creation, and only an
 * argon2id hash of it is stored (svc_token_secret_hash).  A one-time
 * credential serves one enrollment (then "used"); a reusable one any number
 * until it is revoked.  Every change is audited in the tenant's chain.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define RETRY_AFTER_DEFAULT 60
#define SECRET_BYTES        18 /* 24 characters of base64url */

void svc_enroll_settings_clear(struct svc_enroll_settings *st)
{
    for (int i = 0; i < st->nclient_cas; i++)
        free(st->client_cas[i]);
    free(st->ra_key_id);
    free(st->ra_cert_serial);
    memset(st, 0, sizeof(*st));
}

/*
 * The SCEP members of settings o into st: "legacy_algorithms" (a boolean) and
 * "ra" ({"key_id", "cert_serial"}: set by svc_scep.c, never by a client);
 * st cleared on failure.
 */
static int settings_scep_parse(const json_t *o, struct svc_enroll_settings *st, struct err *e)
{
    const json_t *legacy = json_object_get(o, "legacy_algorithms"), *ra = json_object_get(o, "ra");
    const char *key_id = json_string_value(json_object_get(ra, "key_id"));
    const char *serial = json_string_value(json_object_get(ra, "cert_serial"));

    if (legacy != NULL && !json_is_boolean(legacy)) {
        svc_enroll_settings_clear(st);
        return err_set(e, ERR_INVALID, "legacy_algorithms: true or false");
    }
    st->legacy = json_is_true(legacy);
    if (ra != NULL && (key_id == NULL || serial == NULL)) {
        svc_enroll_settings_clear(st);
        return err_set(e, ERR_INVALID, "ra: {\"key_id\", \"cert_serial\"}");
    }
    if (ra != NULL) {
        st->ra_key_id = xstrdup(key_id);
        st->ra_cert_serial = xstrdup(serial);
    }
    return 0;
}

/* st from the settings object o (NULL: the defaults), ca the endpoint's CA. */
int svc_enroll_settings_parse(const json_t *o, const char *ca, struct svc_enroll_settings *st,
                              struct err *e)
{
    const json_t *auth = json_object_get(o, "auth"), *cas = json_object_get(o, "client_cas");
    const json_t *retry = json_object_get(o, "retry_after"), *v;
    size_t i;

    const char *key;
    json_t *value;

    memset(st, 0, sizeof(*st));
    st->retry_after = RETRY_AFTER_DEFAULT;
    if (o != NULL && !json_is_object(o))
        return err_set(e, ERR_INVALID, "settings: a JSON object");
    json_object_foreach((json_t *)o, key, value)
    {
        if (strcmp(key, "auth") != 0 && strcmp(key, "client_cas") != 0 &&
            strcmp(key, "retry_after") != 0 && strcmp(key, "legacy_algorithms") != 0 &&
            strcmp(key, "ra") != 0)
            return err_set(e, ERR_INVALID, "%.64s: not a setting of an enrollment endpoint", key);
    }
    if (auth == NULL) {
        st->auth = SVC_ENROLL_AUTH_BASIC | SVC_ENROLL_AUTH_CERT;
    } else if (!json_is_array(auth) || json_array_size(auth) == 0) {
        return err_set(e, ERR_INVALID, "auth: an array of \"basic\" and \"certificate\"");
    }
    json_array_foreach(auth, i, v)
    {
        const char *t = json_string_value(v);
        if (t != NULL && strcmp(t, "basic") == 0)
            st->auth |= SVC_ENROLL_AUTH_BASIC;
        else if (t != NULL && strcmp(t, "certificate") == 0)
            st->auth |= SVC_ENROLL_AUTH_CERT;
        else
            return err_set(e, ERR_INVALID, "auth[%zu]: \"basic\" or \"certificate\"", i);
    }
    if (cas != NULL && (!json_is_array(cas) || json_array_size(cas) > SVC_ENROLL_CAS_MAX))
        return err_set(e, ERR_INVALID, "client_cas: an array of at most %d CA names",
                       SVC_ENROLL_CAS_MAX);
    json_array_foreach(cas, i, v)
    {
        if (!json_is_string(v) || !name_valid(json_string_value(v))) {
            svc_enroll_settings_clear(st);
            return err_set(e, ERR_INVALID, "client_cas[%zu]: a CA name of the tenant", i);
        }
        st->client_cas[st->nclient_cas++] = xstrdup(json_string_value(v));
    }
    if (cas == NULL && ca != NULL)
        st->client_cas[st->nclient_cas++] = xstrdup(ca);
    if (retry != NULL && (!json_is_integer(retry) || json_integer_value(retry) < 1 ||
                          json_integer_value(retry) > 86400)) {
        svc_enroll_settings_clear(st);
        return err_set(e, ERR_INVALID, "retry_after: seconds, 1 to 86400");
    }
    if (retry != NULL)
        st->retry_after = (int)json_integer_value(retry);
    return settings_scep_parse(o, st, e);
}

json_t *svc_enroll_settings_json(const struct svc_enroll_settings *st)
{
    json_t *auth = json_array(), *cas = json_array();

    if (st->auth & SVC_ENROLL_AUTH_BASIC)
        json_array_append_new(auth, json_string("basic"));
    if (st->auth & SVC_ENROLL_AUTH_CERT)
        json_array_append_new(auth, json_string("certificate"));
    for (int i = 0; i < st->nclient_cas; i++)
        json_array_append_new(cas, json_string(st->client_cas[i]));
    json_t *o = json_pack("{s:o, s:o, s:i}", "auth", auth, "client_cas", cas, "retry_after",
                          st->retry_after);

    if (st->legacy)
        json_object_set_new(o, "legacy_algorithms", json_true());
    if (st->ra_key_id != NULL)
        json_object_set_new(
            o, "ra",
            json_pack("{s:s, s:s}", "key_id", st->ra_key_id, "cert_serial", st->ra_cert_serial));
    return o;
}

/* ---- endpoints ------------------------------------------------------------------------ */

/* 0 if name is an active CA of tenant (in tx); `what` names the field. */
static int ca_active(struct store_tx *tx, const char *tenant, const char *name, const char *what,
                     struct err *e)
{
    struct ca_rec *r = NULL;
    int rc = 0;

    if (!name_valid(name) || store_ca_get(tx, tenant, name, &r, e) != 0)
        return err_set(e, ERR_NOT_FOUND, "%s: CA %.64s not found", what, name);
    if (strcmp(r->status, "active") != 0)
        rc = err_set(e, ERR_CONFLICT, "%s: CA %s is %s", what, name, r->status);
    ca_rec_free(r);
    return rc;
}

/* 0 if profile is a leaf profile of tenant (in tx). */
static int profile_leaf(struct svc *s, struct store_tx *tx, const char *tenant, const char *profile,
                        struct err *e)
{
    int version, ca;
    struct profile *p = svc_profile_load(s, tx, tenant, profile, &version, e);

    if (p == NULL)
        return err_set(e, ERR_NOT_FOUND, "profile: %.64s not found", profile);
    ca = profile_is_ca(p);
    profile_free(p);
    return ca ? err_set(e, ERR_POLICY,
                        "profile: %s is a CA profile; an enrollment endpoint issues leaf "
                        "certificates only",
                        profile)
              : 0;
}

static int endpoint_audit(struct store_tx *tx, const struct actor *a,
                          const struct enroll_endpoint_rec *r, const char *action, struct err *e)
{
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:s, s:o}", "protocol", r->protocol, "ca", r->ca, "profile",
                  r->profile, "status", r->status, "settings", json_loads(r->settings, 0, NULL));
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = svc_audit_ok(tx, r->tenant, a, action, r->name, detail, e);

    free(detail);
    json_decref(d);
    return rc;
}

static struct enroll_endpoint_rec *endpoint_copy(const struct enroll_endpoint_rec *r)
{
    struct enroll_endpoint_rec *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(r->tenant);
    c->name = xstrdup(r->name);
    c->protocol = xstrdup(r->protocol);
    c->ca = xstrdup(r->ca);
    c->profile = xstrdup(r->profile);
    c->status = xstrdup(r->status);
    c->settings = xstrdup(r->settings);
    c->created = r->created;
    c->updated = r->updated;
    return c;
}

/* The settings the endpoint will have: body's members over the stored ones; *text caller frees. */
static int settings_make(const char *stored, const json_t *body, const char *ca, char **text,
                         struct err *e)
{
    json_t *o = stored ? json_loads(stored, 0, NULL) : json_object(), *norm;
    struct svc_enroll_settings st;
    int rc;

    if (o == NULL)
        return err_set(e, ERR_INTERNAL, "stored endpoint settings do not parse");
    if (body != NULL && !json_is_object(body)) {
        json_decref(o);
        return err_set(e, ERR_INVALID, "settings: a JSON object");
    }
    if (json_object_get(body, "ra") != NULL) {
        json_decref(o);
        return err_set(e, ERR_INVALID, "ra: the RA key and certificate are made by the server");
    }
    if (body != NULL)
        json_object_update(o, (json_t *)body);
    rc = svc_enroll_settings_parse(o, ca, &st, e);
    json_decref(o);
    if (rc != 0)
        return -1;
    norm = svc_enroll_settings_json(&st);
    *text = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    svc_enroll_settings_clear(&st);
    return 0;
}

static int endpoint_args_check(const struct svc_enroll_put *q, int create, struct err *e)
{
    if (q->name == NULL || !name_valid(q->name))
        return err_set(e, create ? ERR_INVALID : ERR_NOT_FOUND,
                       "name: 1 to 63 of [a-z0-9-_.], starting with a letter or digit");
    if (create && (q->protocol == NULL ||
                   (strcmp(q->protocol, "est") != 0 && strcmp(q->protocol, "scep") != 0)))
        return err_set(e, ERR_INVALID, "protocol: \"est\" or \"scep\"");
    if (create && (q->ca == NULL || q->profile == NULL))
        return err_set(e, ERR_INVALID, "%s: required", q->ca ? "profile" : "ca");
    if (q->status != NULL && strcmp(q->status, "active") != 0 && strcmp(q->status, "disabled") != 0)
        return err_set(e, ERR_INVALID, "status: active or disabled");
    return 0;
}

/* The checks of what changes (a CA disabled since may not block disabling its endpoint). */
static int endpoint_refs_check(struct svc *s, struct store_tx *tx, const char *tenant,
                               const struct svc_enroll_put *q, const char *settings, struct err *e)
{
    json_t *o = json_loads(settings, 0, NULL);
    json_t *cas = json_object_get(o, "client_cas"), *v;
    size_t i;
    int rc = 0;

    if (q->ca != NULL)
        rc = ca_active(tx, tenant, q->ca, "ca", e);
    if (rc == 0 && q->profile != NULL)
        rc = profile_leaf(s, tx, tenant, q->profile, e);
    if (q->settings != NULL && json_object_get(q->settings, "client_cas") != NULL)
        json_array_foreach(cas, i, v)
        {
            char what[48];
            snprintf(what, sizeof(what), "client_cas[%zu]", i);
            if (rc == 0)
                rc = ca_active(tx, tenant, json_string_value(v), what, e);
        }
    json_decref(o);
    return rc;
}

/*
 * A SCEP endpoint r just written gets its RA (made, or renewed for a new CA)
 * and *out is its row as it is then.  Its RA failing is reported, not undone:
 * the endpoint exists and its next GetCACert tries again.
 */
static int scep_ra_settle(struct svc *s, const struct enroll_endpoint_rec *r,
                          struct enroll_endpoint_rec **out, struct err *e)
{
    struct err ra;

    if (strcmp(r->status, "active") == 0 && svc_scep_ra_ensure(s, r->tenant, r->name, &ra) != 0)
        log_warn("tenant %s: SCEP endpoint %s: no RA yet: %s", r->tenant, r->name, ra.msg);
    if (svc_enroll_endpoint_get(s, r->tenant, r->name, out, e) != 0)
        return -1;
    return 0;
}

int svc_enroll_endpoint_put(struct svc *s, const struct actor *a, const char *tenant,
                            const struct svc_enroll_put *q, int create,
                            struct enroll_endpoint_rec **out, struct err *e)
{
    struct enroll_endpoint_rec *old = NULL, r = {0};
    struct store_tx *tx = NULL;
    int active = 0, rc = -1;

    if (endpoint_args_check(q, create, e) != 0 || svc_tenant_check(s, tenant, &active, e) != 0)
        return -1;
    if (create && !active)
        return err_set(e, ERR_FORBIDDEN, "tenant %s is not active", tenant);
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (!create && store_enroll_endpoint_get(tx, tenant, q->name, &old, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "enrollment endpoint %s not found", q->name);
        goto out;
    }
    r.tenant = (char *)tenant;
    r.name = (char *)q->name;
    r.protocol = (char *)(old ? old->protocol : q->protocol);
    r.ca = (char *)(q->ca ? q->ca : old->ca);
    r.profile = (char *)(q->profile ? q->profile : old->profile);
    r.status = (char *)(q->status ? q->status : old ? old->status : "active");
    r.updated = time_now();
    r.created = old ? old->created : r.updated;
    if (settings_make(old ? old->settings : NULL, q->settings, r.ca, &r.settings, e) != 0 ||
        endpoint_refs_check(s, tx, tenant, q, r.settings, e) != 0)
        goto out;
    if (create ? store_enroll_endpoint_insert(tx, tenant, &r, e)
               : store_enroll_endpoint_update(tx, tenant, &r, e)) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "enrollment endpoint %s exists already", q->name);
        goto out;
    }
    if (endpoint_audit(tx, a, &r, create ? "enroll.endpoint.create" : "enroll.endpoint.update",
                       e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0 && strcmp(r.protocol, "scep") == 0)
        rc = scep_ra_settle(s, &r, out, e);
    else if (rc == 0)
        *out = endpoint_copy(&r);
out:
    store_rollback(tx);
    enroll_endpoint_rec_free(old);
    free(r.settings);
    return rc;
}

int svc_enroll_endpoint_get(struct svc *s, const char *tenant, const char *name,
                            struct enroll_endpoint_rec **out, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant) || name == NULL || !name_valid(name))
        return err_set(e, ERR_NOT_FOUND, "enrollment endpoint %.64s not found", name ? name : "");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_enroll_endpoint_get(tx, tenant, name, out, e);
    store_rollback(tx);
    if (rc != 0 && e != NULL && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "enrollment endpoint %s not found", name);
    return rc;
}

int svc_enroll_endpoint_list(struct svc *s, const char *tenant, struct enroll_endpoint_rec ***out,
                             size_t *n, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant))
        return err_set(e, ERR_NOT_FOUND, "tenant not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_enroll_endpoint_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}

json_t *svc_enroll_endpoint_json(const struct enroll_endpoint_rec *r)
{
    json_t *urls =
        strcmp(r->protocol, "scep") == 0
            ? json_pack("{s:o}", "scep", json_sprintf("/scep/%s/%s", r->tenant, r->name))
            : json_pack("{s:o, s:o}", "well_known",
                        json_sprintf("/.well-known/est/%s~%s", r->tenant, r->name), "prefix",
                        json_sprintf("/est/%s/%s/.well-known/est", r->tenant, r->name));

    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "name", r->name,
                     "protocol", r->protocol, "ca", r->ca, "profile", r->profile, "status",
                     r->status, "settings", json_loads(r->settings, 0, NULL), "label", r->name,
                     "urls", urls, "created", svc_time_json(r->created), "updated",
                     svc_time_json(r->updated));
}

/* ---- credentials ------------------------------------------------------------------------ */

/* A credential id: given (1 to 64 of [A-Za-z0-9._-]) or "cred-<16 hex>". */
static char *credential_id(const char *given, struct err *e)
{
    unsigned char rnd[8];

    if (given != NULL) {
        size_t n = strlen(given);
        if (n == 0 || n > 64 ||
            strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                n) {
            err_set(e, ERR_INVALID, "id: 1 to 64 of [A-Za-z0-9._-]");
            return NULL;
        }
        return xstrdup(given);
    }
    if (random_bytes(rnd, sizeof(rnd)) != 0) {
        err_set(e, ERR_INTERNAL, "no randomness");
        return NULL;
    }
    {
        char *hex = hex_encode(rnd, sizeof(rnd)), *id = xasprintf("cred-%s", hex);
        free(hex);
        return id;
    }
}

/* A fresh secret: base64url of SECRET_BYTES random bytes (caller frees); NULL on failure. */
static char *secret_new(void)
{
    unsigned char rnd[SECRET_BYTES];
    char *out;

    if (random_bytes(rnd, sizeof(rnd)) != 0)
        return NULL;
    out = base64url_encode(rnd, sizeof(rnd));
    secure_zero(rnd, sizeof(rnd));
    return out;
}

static int credential_audit(struct store_tx *tx, const struct actor *a,
                            const struct enroll_credential_rec *r, const char *action,
                            struct err *e)
{
    json_t *d = json_pack("{s:s, s:s, s:b, s:s}", "endpoint", r->endpoint, "id", r->id, "reusable",
                          (int)r->reusable, "status", r->status);
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS), *object;
    int rc;

    object = xasprintf("%s/%s", r->endpoint, r->id);
    rc = svc_audit_ok(tx, r->tenant, a, action, object, detail, e);
    free(object);
    free(detail);
    json_decref(d);
    return rc;
}

static struct enroll_credential_rec *credential_copy(const struct enroll_credential_rec *r)
{
    struct enroll_credential_rec *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(r->tenant);
    c->endpoint = xstrdup(r->endpoint);
    c->id = xstrdup(r->id);
    c->secret_hash = xstrdup(r->secret_hash);
    c->reusable = r->reusable;
    c->status = xstrdup(r->status);
    c->uses = r->uses;
    c->creators = r->creators ? xstrdup(r->creators) : NULL;
    c->created = r->created;
    c->updated = r->updated;
    return c;
}

int svc_enroll_credential_create(struct svc *s, const struct actor *a, const char *tenant,
                                 const char *endpoint, const char *id, int reusable,
                                 struct enroll_credential_rec **out, char **secret, struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct enroll_credential_rec r = {0};
    struct store_tx *tx = NULL;
    char *sec = NULL;
    int rc = -1;

    if (svc_enroll_endpoint_get(s, tenant, endpoint, &ep, e) != 0)
        return -1;
    enroll_endpoint_rec_free(ep);
    if ((r.id = credential_id(id, e)) == NULL)
        return -1;
    if ((sec = secret_new()) == NULL || (r.secret_hash = svc_token_secret_hash(sec)) == NULL) {
        err_set(e, ERR_INTERNAL, "credential: cannot make its secret");
        goto out;
    }
    r.tenant = (char *)tenant;
    r.endpoint = (char *)endpoint;
    r.reusable = reusable ? 1 : 0;
    r.status = "active";
    r.creators = svc_creators_for(a, "");
    r.created = r.updated = time_now();
    if ((tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (store_enroll_credential_insert(tx, tenant, &r, e) != 0) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "credential %s of %s exists already", r.id, endpoint);
        goto out;
    }
    if (credential_audit(tx, a, &r, "enroll.credential.create", e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        *out = credential_copy(&r);
        *secret = sec;
        sec = NULL;
    }
out:
    store_rollback(tx);
    if (sec != NULL) {
        secure_zero(sec, strlen(sec));
        free(sec);
    }
    free(r.id);
    free(r.secret_hash);
    free(r.creators);
    return rc;
}

int svc_enroll_credential_revoke(struct svc *s, const struct actor *a, const char *tenant,
                                 const char *endpoint, const char *id,
                                 struct enroll_credential_rec **out, struct err *e)
{
    struct enroll_credential_rec *r = NULL;
    struct store_tx *tx;
    int rc = -1;

    if (!name_valid(tenant) || endpoint == NULL || !name_valid(endpoint) || id == NULL)
        return err_set(e, ERR_NOT_FOUND, "credential not found");
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (store_enroll_credential_get(tx, tenant, endpoint, id, &r, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "credential %.64s of %s not found", id, endpoint);
        goto out;
    }
    free(r->status);
    r->status = xstrdup("revoked");
    r->updated = time_now();
    if (store_enroll_credential_update(tx, tenant, r, e) != 0 ||
        credential_audit(tx, a, r, "enroll.credential.revoke", e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        *out = r;
        r = NULL;
    }
out:
    store_rollback(tx);
    enroll_credential_rec_free(r);
    return rc;
}

int svc_enroll_credential_list(struct svc *s, const char *tenant, const char *endpoint,
                               struct enroll_credential_rec ***out, size_t *n, struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct store_tx *tx;
    int rc;

    if (svc_enroll_endpoint_get(s, tenant, endpoint, &ep, e) != 0)
        return -1;
    enroll_endpoint_rec_free(ep);
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_enroll_credential_list(tx, tenant, endpoint, out, n, e);
    store_rollback(tx);
    return rc;
}

json_t *svc_enroll_credential_json(const struct enroll_credential_rec *r)
{
    return json_pack("{s:s, s:s, s:b, s:s, s:I, s:o, s:o}", "id", r->id, "endpoint", r->endpoint,
                     "reusable", (int)r->reusable, "status", r->status, "uses", (json_int_t)r->uses,
                     "created", svc_time_json(r->created), "updated", svc_time_json(r->updated));
}
