/*
 * api_auth.c — who is asking, and may they.
 *
 * A bearer token is looked up by its SHA-256; it names one tenant and one
 * role.  Tenant routes require the token's tenant to be the path's tenant
 * and its role to grant the route's permission; "system" routes require the
 * system role, which grants no tenant permission at all.  Every refusal is an
 * audit event of the tenant the request was aimed at.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Permissions of the tenant-admin role (every tenant permission). */
static const char *const admin_permissions[] = {
    "ca.read",
    "ca.write",
    "cert.read",
    "cert.issue",
    "cert.revoke",
    "profile.read",
    "profile.write",
    "entity.read",
    "entity.write",
    "crl.write",
    "audit.read",
    "audit.write",
    "token.read",
    "token.write",
    "tsa.read",
    "tsa.write",
    "request.read",
    "request.approve",
    "workflow.read",
    "workflow.write",
    "webhook.read",
    "webhook.write",
    NULL,
};
static const char *const system_permissions[] = {"system", NULL};
static const char *const no_permissions[] = {NULL};

const char *const *api_role_permissions(const char *role)
{
    if (strcmp(role, "admin") == 0)
        return admin_permissions;
    if (strcmp(role, "system") == 0)
        return system_permissions;
    return no_permissions;
}

static int role_grants(const char *role, const char *permission)
{
    for (const char *const *p = api_role_permissions(role); *p != NULL; p++)
        if (strcmp(*p, permission) == 0)
            return 1;
    return 0;
}

void api_free_principal(void *principal)
{
    struct principal *p = principal;

    if (p == NULL)
        return;
    free(p->tenant);
    free(p->token_id);
    free(p->role);
    free(p);
}

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

static struct principal *principal_find(struct api *api, const char *token, struct err *e)
{
    struct store_tx *tx;
    struct token_rec *t = NULL;
    struct principal *p;
    char *hash;
    int rc;

    if (strlen(token) > 256)
        return err_set(e, 401, ERR_UNAUTHORIZED, "invalid token"), NULL;
    hash = svc_token_hash(token);
    tx = store_begin_read(api->store, e);
    if (tx == NULL) {
        free(hash);
        return NULL;
    }
    rc = store_token_find(tx, hash, &t, e);
    store_rollback(tx);
    free(hash);
    if (rc != 0) {
        if (e->status == 404)
            err_set(e, 401, ERR_UNAUTHORIZED, "invalid token");
        return NULL;
    }
    if (t->expires != 0 && t->expires <= time_now()) {
        token_rec_free(t);
        return err_set(e, 401, ERR_UNAUTHORIZED, "token expired"), NULL;
    }
    p = xcalloc(1, sizeof(*p));
    p->tenant = xstrdup(t->tenant);
    p->token_id = xstrdup(t->id);
    p->role = xstrdup(t->role);
    token_rec_free(t);
    return p;
}

/* Whether principal p may use a route needing `permission` on the path's tenant. */
static int principal_allows(const struct principal *p, const char *permission,
                            const char *path_tenant, struct err *e)
{
    if (strcmp(permission, "system") == 0) {
        if (strcmp(p->role, "system") != 0)
            return err_set(e, 403, ERR_FORBIDDEN, "this route needs the system administrator");
        return 0;
    }
    if (path_tenant == NULL || strcmp(p->tenant, path_tenant) != 0)
        return err_set(e, 403, ERR_FORBIDDEN, "token is not valid for this tenant");
    if (!role_grants(p->role, permission))
        return err_set(e, 403, ERR_FORBIDDEN, "role %s lacks permission %s", p->role, permission);
    return 0;
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
    if (e.status != 429) {
        api_fail(api, req, resp, "auth.refused", req->path, &e);
        return -1;
    }
    if (refused > 0) {
        err_set(&ae, 429, ERR_TOO_MANY, "%ld API request(s) refused over the rate limit: %s",
                refused, e.msg);
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
    const char *token;
    struct err e;

    err_clear(&e);
    if (strcmp(route->permission, "public") == 0)
        return 0;
    token = bearer(req);
    if (token == NULL) {
        err_set(&e, 401, ERR_UNAUTHORIZED, "missing bearer token");
        goto refuse;
    }
    if ((p = principal_find(api, token, &e)) == NULL)
        goto refuse;
    req->principal = p;
    if (principal_allows(p, route->permission, api_tenant(req), &e) != 0)
        goto refuse;
    if (strcmp(route->permission, "system") != 0 && tenant_admit(api, req, resp) != 0)
        return -1;
    return 0;
refuse:
    http_add_header(resp, "WWW-Authenticate", "Bearer");
    api_fail(api, req, resp, "auth.refused", req->path, &e);
    return -1;
}
