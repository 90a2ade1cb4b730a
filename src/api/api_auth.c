/*
 * api_auth.c — who is asking, and may they.
 *
 * A request carries a bearer token of a principal: "vt_<id>_<secret>" (the
 * row found by its public part, the secret checked with argon2id) or, for
 * tokens made before schema 7, "vouch_..." found by its SHA-256.  The token
 * row, its principal and the principal's role bindings in the tenant the
 * route is about are read on every request, so a revoked or expired token, a
 * disabled principal or an unbound role is refused at once; only the argon2id
 * verification is cached (node-locally, keyed by the token's SHA-256, bounded,
 * for a minute).
 *
 * The tenant a route is about is its {tenant}, or "_system" for the system
 * routes.  A principal's permissions there are the union of the roles bound to
 * it there (svc_roles.c); "X:own" grants X for the principal's own
 * objects only.  Every refusal is an audit event of the tenant the request
 * was aimed at.
 */
#include "api/api_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

const char *const *api_role_permissions(const char *role)
{
    return svc_role_permissions(role);
}

int api_permission_known(const char *permission)
{
    return strcmp(permission, "public") == 0 || svc_permission_known(permission);
}

int api_routes_check(const struct http_route *routes, size_t n, struct err *e)
{
    for (size_t i = 0; i < n; i++)
        if (routes[i].permission == NULL || !api_permission_known(routes[i].permission))
            return err_set(e, ERR_INTERNAL, "route %s %s: unknown permission \"%s\"",
                           routes[i].method, routes[i].pattern,
                           routes[i].permission ? routes[i].permission : "(none)");
    return 0;
}

int api_principal_grants(const struct principal *p, const char *permission)
{
    int best = 0, g;

    for (size_t i = 0; p != NULL && i < p->nroles; i++)
        if ((g = svc_role_grants(p->roles[i], permission)) > best)
            best = g;
    return best;
}

const char *api_own_only(const struct http_request *req, const char *permission)
{
    const struct principal *p = req->principal;

    return p != NULL && api_principal_grants(p, permission) < 2 ? p->id : NULL;
}

void api_free_principal(void *principal)
{
    struct principal *p = principal;

    if (p == NULL)
        return;
    free(p->tenant);
    free(p->id);
    free(p->token_id);
    for (size_t i = 0; i < p->nroles; i++)
        free(p->roles[i]);
    free(p->roles);
    free(p);
}

/* ---- the verification cache ------------------------------------------------ */

#define CACHE_SLOTS 1024
#define CACHE_TTL   60

struct cache_slot {
    unsigned char key[32]; /* SHA-256 of the whole token */
    char *encoded;         /* the argon2id hash the token verified against */
    int64_t until;
};
static struct cache_slot cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void token_digest(const char *token, unsigned char md[32])
{
    unsigned int len = 0;

    if (EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL) != 1)
        abort(); /* SHA-256 is always there */
}

static struct cache_slot *cache_slot_of(const unsigned char md[32])
{
    return &cache[((size_t)md[0] << 8 | md[1]) % CACHE_SLOTS];
}

/* Whether token was verified against `encoded` within the last CACHE_TTL seconds. */
static int cache_hit(const unsigned char md[32], const char *encoded)
{
    struct cache_slot *c = cache_slot_of(md);
    int hit;

    pthread_mutex_lock(&cache_lock);
    hit = c->encoded != NULL && c->until > time_now() && memcmp(c->key, md, 32) == 0 &&
          strcmp(c->encoded, encoded) == 0;
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const unsigned char md[32], const char *encoded)
{
    struct cache_slot *c = cache_slot_of(md);

    pthread_mutex_lock(&cache_lock);
    free(c->encoded);
    memcpy(c->key, md, 32);
    c->encoded = xstrdup(encoded);
    c->until = time_now() + CACHE_TTL;
    pthread_mutex_unlock(&cache_lock);
}

/*
 * Wrong secrets cost an argon2id run each (~20 ms and ~19 MiB): per token id
 * (its public part, which listings show), FAIL_MAX failures within FAIL_WINDOW
 * seconds refuse that id without running argon2id until the window has
 * passed; and at most VERIFY_MAX runs go on at once on a node.
 */
#define FAIL_SLOTS  1024
#define FAIL_MAX    5
#define FAIL_WINDOW 60
#define VERIFY_MAX  4

struct fail_slot {
    char key[20];
    int count;
    int64_t since;
};
static struct fail_slot fails[FAIL_SLOTS];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t verify_cond = PTHREAD_COND_INITIALIZER;
static int verifying;

static struct fail_slot *fail_slot_of(const char *key)
{
    size_t h = 5381;

    for (const char *p = key; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return &fails[h % FAIL_SLOTS];
}

/* Whether key has failed too often lately (then no argon2id run for it). */
static int fail_blocked(const char *key)
{
    struct fail_slot *f = fail_slot_of(key);
    int blocked;

    pthread_mutex_lock(&fail_lock);
    blocked =
        strcmp(f->key, key) == 0 && f->count >= FAIL_MAX && time_now() - f->since < FAIL_WINDOW;
    pthread_mutex_unlock(&fail_lock);
    return blocked;
}

static void fail_note(const char *key)
{
    struct fail_slot *f = fail_slot_of(key);

    pthread_mutex_lock(&fail_lock);
    if (strcmp(f->key, key) != 0 || time_now() - f->since >= FAIL_WINDOW) {
        snprintf(f->key, sizeof(f->key), "%s", key);
        f->count = 0;
        f->since = time_now();
    }
    f->count++;
    pthread_mutex_unlock(&fail_lock);
}

/* Digests of the tokens whose argon2id runs now (verifying of them in use); fail_lock held. */
static unsigned char inflight[VERIFY_MAX][32];

static int inflight_has(const unsigned char md[32])
{
    for (int i = 0; i < verifying; i++)
        if (memcmp(inflight[i], md, 32) == 0)
            return 1;
    return 0;
}

/*
 * svc_token_secret_verify with at most VERIFY_MAX at once on this node, and
 * one at a time per token: requests that arrive together with a token not
 * yet in the cache (a client opening many connections, or the cache entry
 * expiring under load) wait for the first one's result instead of each
 * running argon2id.
 */
static int secret_verify(const unsigned char md[32], const char *encoded, const char *secret)
{
    int ok, i;

    pthread_mutex_lock(&fail_lock);
    for (;;) {
        if (inflight_has(md)) {
            pthread_cond_wait(&verify_cond, &fail_lock);
            continue;
        }
        if (cache_hit(md, encoded)) {
            pthread_mutex_unlock(&fail_lock);
            return 1;
        }
        if (verifying < VERIFY_MAX)
            break;
        pthread_cond_wait(&verify_cond, &fail_lock);
    }
    memcpy(inflight[verifying++], md, 32);
    pthread_mutex_unlock(&fail_lock);
    ok = svc_token_secret_verify(encoded, secret);
    if (ok)
        cache_put(md, encoded); /* before the waiters look */
    pthread_mutex_lock(&fail_lock);
    for (i = 0; i < verifying && memcmp(inflight[i], md, 32) != 0; i++)
        ;
    verifying--;
    if (i < verifying)
        memcpy(inflight[i], inflight[verifying], 32); /* the last one takes its place */
    pthread_cond_broadcast(&verify_cond);
    pthread_mutex_unlock(&fail_lock);
    return ok;
}

/* ---- authentication -------------------------------------------------------- */

/* The bearer token of the request, or NULL. */
static const char *bearer(struct http_request *req)
{
    const char *h = http_header(req, "Authorization");

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

/* The token row of token, its secret verified; 401 if there is none or it does not verify. */
static int token_lookup(struct store_tx *tx, const char *token, struct token_rec **out,
                        struct err *e)
{
    unsigned char md[32];
    char key[20], *hash = NULL;
    const char *secret = svc_token_split(token, key);
    struct token_rec *t = NULL;
    int ok;

    if (secret == NULL)
        hash = svc_token_hash(token); /* a token made before schema 7 */
    if (store_token_find(tx, secret ? key : hash, &t, e) != 0) {
        free(hash);
        return e->kind == ERR_NOT_FOUND ? err_set(e, ERR_UNAUTHENTICATED, "invalid token") : -1;
    }
    free(hash);
    if (secret == NULL) {
        ok = t->secret == NULL;
    } else {
        token_digest(token, md);
        if (t->secret != NULL && !cache_hit(md, t->secret) && fail_blocked(key)) {
            token_rec_free(t);
            return err_set(e, ERR_UNAUTHENTICATED,
                           "too many failed attempts with this token: try again later");
        }
        ok =
            t->secret != NULL && (cache_hit(md, t->secret) || secret_verify(md, t->secret, secret));
        if (ok)
            cache_put(md, t->secret);
        else
            fail_note(key);
    }
    if (!ok) {
        token_rec_free(t);
        return err_set(e, ERR_UNAUTHENTICATED, "invalid token");
    }
    *out = t;
    return 0;
}

int api_principal_admit(struct store_tx *tx, struct http_request *req,
                        const struct principal_rec *pr, const char *target, struct principal *p,
                        struct err *e)
{
    struct binding_rec **b = NULL;
    size_t nb = 0;

    if (pr->disabled)
        return err_set(e, ERR_FORBIDDEN, "principal %s is disabled", pr->id);
    if (!svc_addr_allowed(pr->allow, req->remote_addr))
        return err_set(e, ERR_FORBIDDEN, "address %s is not allowed for principal %s",
                       req->remote_addr ? req->remote_addr : "?", pr->id);
    if (target != NULL && store_binding_list(tx, target, p->tenant, pr->id, &b, &nb, e) != 0)
        return -1;
    p->roles = xcalloc(nb + 1, sizeof(*p->roles));
    for (size_t i = 0; i < nb; i++)
        p->roles[p->nroles++] = xstrdup(b[i]->role);
    binding_rec_list_free(b, nb);
    return 0;
}

/*
 * The principal behind token with its roles in `target` (the tenant the route
 * is about): NULL with e set (401 for a bad, expired or revoked token, 403 for
 * a disabled principal or an address outside its allowlist).
 */
static struct principal *principal_find(struct api *api, struct http_request *req,
                                        const char *token, const char *target, struct err *e)
{
    struct store_tx *tx;
    struct token_rec *t = NULL;
    struct principal_rec *pr = NULL;
    struct principal *p = NULL;

    if (strlen(token) > 256)
        return err_set(e, ERR_UNAUTHENTICATED, "invalid token"), NULL;
    if ((tx = store_begin_read(api->store, e)) == NULL)
        return NULL;
    if (token_lookup(tx, token, &t, e) != 0)
        goto out;
    p = xcalloc(1, sizeof(*p)); /* names the actor of a refusal from here on */
    p->tenant = xstrdup(t->tenant);
    p->id = xstrdup(t->principal);
    p->token_id = xstrdup(t->id);
    if (t->revoked != 0) {
        err_set(e, ERR_UNAUTHENTICATED, "token revoked");
        goto out;
    }
    if (t->expires != 0 && t->expires <= time_now()) {
        err_set(e, ERR_UNAUTHENTICATED, "token expired");
        goto out;
    }
    if (store_principal_get(tx, t->tenant, t->principal, &pr, e) != 0) {
        err_set(e, ERR_UNAUTHENTICATED, "invalid token");
        goto out;
    }
    if (api_principal_admit(tx, req, pr, target, p, e) != 0)
        goto out;
    store_rollback(tx);
    token_rec_free(t);
    principal_rec_free(pr);
    return p;
out:
    store_rollback(tx);
    token_rec_free(t);
    principal_rec_free(pr);
    /* a principal that was found (to name the actor) but is refused */
    if (p != NULL)
        req->principal = p;
    return NULL;
}

/*
 * The tenant's own gate, after authentication (so nobody else's requests use
 * up a tenant's rate): a deleted tenant's API is closed (404), and a tenant
 * past its API rate gets 429 with Retry-After.  Rate refusals are audited at
 * most once a second per tenant, counting the refusals since the last event.
 */
static int tenant_admit(struct api *api, struct http_request *req, struct http_response *resp)
{
    struct actor a = api_actor(req);
    long refused = 0;
    struct err e, ae;

    err_clear(&e);
    if (svc_tenant_admit(api->svc, api_tenant(req), &refused, &e) == 0)
        return 0;
    if (e.kind != ERR_LIMIT) {
        api_fail(api, req, resp, "auth.refused", req->path, &e);
        return -1;
    }
    if (refused > 0) {
        err_set(&ae, ERR_LIMIT, "%ld API request(s) refused over the rate limit: %s", refused,
                e.msg);
        svc_audit_refusal(api->svc, api_tenant(req), &a, "ratelimit.refused", req->path, &ae);
    }
    http_add_header(resp, "Retry-After", "1");
    http_respond_err(resp, &e);
    return -1;
}

int api_authorize(void *app, const struct http_route *route, struct http_request *req,
                  struct http_response *resp)
{
    struct api *api = app;
    struct principal *p = NULL;
    const char *token, *target;
    struct err e;

    err_clear(&e);
    if (strcmp(route->permission, "public") == 0)
        return 0;
    target = strcmp(route->permission, "system") == 0 ? "_system" : api_tenant(req);
    token = bearer(req);
    if (token == NULL && req->client_cert != NULL)
        p = api_cert_principal(api, req, target, &e);
    else if (token == NULL)
        err_set(&e, ERR_UNAUTHENTICATED, "missing bearer token");
    else
        p = principal_find(api, req, token, target, &e);
    if (p == NULL)
        goto refuse;
    req->principal = p;
    if (target == NULL || p->nroles == 0) {
        err_set(&e, ERR_FORBIDDEN,
                strcmp(route->permission, "system") == 0
                    ? "this route needs the system administrator"
                    : "token is not valid for this tenant");
        goto refuse;
    }
    if (api_principal_grants(p, route->permission) == 0) {
        err_set(&e, ERR_FORBIDDEN, "the roles of %s lack permission %s", p->id, route->permission);
        goto refuse;
    }
    if (strcmp(route->permission, "system") != 0 && tenant_admit(api, req, resp) != 0)
        return -1;
    return 0;
refuse:
    if (e.kind == ERR_UNAUTHENTICATED)
        http_add_header(resp, "WWW-Authenticate", "Bearer");
    api_fail(api, req, resp, "auth.refused", req->path, &e);
    return -1;
}
