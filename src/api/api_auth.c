/*
 * api_auth.c — who is asking, and may they.
 *
 * A request carries a bearer token of a principal or, with none, a TLS
 * client certificate; svc_auth.c checks the credential and finds the
 * principal with its roles in the tenant the route is about (one read
 * transaction a request).
 *
 * The tenant a route is about is its {tenant}, or "_system" for the system
 * routes.  A principal's permissions there are the union of the roles bound to
 * it there (svc_roles.c); "X:own" grants X for the principal's own
 * objects only.  Every refusal is an audit event of the tenant the request
 * was aimed at; those of requests that proved no identity (401) at a bounded
 * rate (svc_audit_unproven).
 */
#include "api/api_internal.h"
#include "core/profile.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const *api_role_permissions(const char *role)
{
    return svc_role_permissions(role);
}

int api_permission_known(const char *permission)
{
    /* token.rotate: every principal of the tenant, its own token, whatever its roles */
    return strcmp(permission, "public") == 0 || strcmp(permission, "token.rotate") == 0 ||
           svc_permission_known(permission);
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

void api_free_principal(void *principal)
{
    struct principal *p = principal;

    if (p == NULL)
        return;
    free(p->tenant);
    free(p->id);
    free(p->token_id);
    free(p->creators);
    for (size_t i = 0; i < p->nroles; i++)
        free(p->roles[i]);
    free(p->roles);
    free(p);
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

/*
 * The request's principal from what svc found (id emptied): NULL when it was
 * refused, and then, if the credential named a principal, that one is the
 * request's principal still, to name the actor of the refusal.
 */
static struct principal *principal_of(struct http_request *req, struct svc_identity *id, int rc)
{
    struct principal *p;

    if (id->principal == NULL)
        return NULL;
    p = xcalloc(1, sizeof(*p));
    p->tenant = id->tenant;
    p->id = id->principal;
    p->token_id = id->credential;
    p->roles = id->roles;
    p->nroles = id->nroles;
    p->creators = id->creators;
    memset(id, 0, sizeof(*id));
    if (rc == 0)
        return p;
    req->principal = p;
    return NULL;
}

/*
 * The principal behind the request's credential (a bearer token, else its
 * TLS client certificate) with its roles in `target` (the tenant the route is
 * about): NULL with e set (ERR_UNAUTHENTICATED for a bad, expired or revoked
 * credential, ERR_FORBIDDEN for a disabled principal or an address outside
 * its allowlist).
 */
static struct principal *principal_find(struct api *api, struct http_request *req,
                                        const char *token, const char *target, struct err *e)
{
    struct svc_identity id = {0};
    struct principal *p;
    int rc;

    if (token != NULL)
        rc = svc_authenticate_token(api->svc, token, req->remote_addr, target, &id, e);
    else
        rc = svc_authenticate_cert(api->svc, req->client_cert, req->client_cert_len,
                                   req->remote_addr, target, &id, e);
    p = principal_of(req, &id, rc);
    svc_identity_clear(&id);
    return p;
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

/*
 * The changes a tenant that is not active may still make (issue 23): revoking
 * (certificates, tokens, principals, roles, client CAs, EAB credentials,
 * keys, a CA), publishing its CRLs and audit checkpoints, exporting its audit,
 * refusing requests.  Every other change creates or signs and is refused.
 */
static const struct {
    const char *method, *path;
} while_suspended[] = {
    {"POST", "/api/v1/t/{tenant}/certificates/{serial}/revoke"},
    {"POST", "/api/v1/t/{tenant}/certificates/{serial}/suspend"},
    {"POST", "/api/v1/t/{tenant}/cas/{ca}/crl"},
    {"POST", "/api/v1/t/{tenant}/cas/{ca}/disable"},
    {"DELETE", "/api/v1/t/{tenant}/keys/{key}"},
    {"POST", "/api/v1/t/{tenant}/audit/checkpoints"},
    {"PUT", "/api/v1/t/{tenant}/audit/forwarding"},
    {"DELETE", "/api/v1/t/{tenant}/audit/forwarding"},
    {"POST", "/api/v1/t/{tenant}/requests/{request}/reject"},
    {"DELETE", "/api/v1/t/{tenant}/webhook"},
    {"POST", "/api/v1/t/{tenant}/acme/endpoints/{endpoint}/eab/{kid}/revoke"},
    {"DELETE", "/api/v1/t/{tenant}/tokens/{token}"},
    {"POST", "/api/v1/t/{tenant}/principals/{principal}/disable"},
    {"POST", "/api/v1/t/{tenant}/roles/unbind"},
    {"DELETE", "/api/v1/t/{tenant}/client-cas/{client_ca}"},
};

int api_route_allowed_while_suspended(const struct http_route *route)
{
    if (strcmp(route->method, "GET") == 0 || strcmp(route->method, "HEAD") == 0)
        return 1;
    for (size_t i = 0; i < ARRAY_LEN(while_suspended); i++)
        if (strcmp(route->method, while_suspended[i].method) == 0 &&
            strcmp(route->pattern, while_suspended[i].path) == 0)
            return 1;
    return 0;
}

int api_authorize(void *app, const struct http_route *route, struct http_request *req,
                  struct http_response *resp)
{
    struct api *api = app;
    struct principal *p = NULL;
    const char *token, *target;
    char *serial = http_param_edit(req, "serial");
    int own_rotation;
    struct err e;

    err_clear(&e);
    /* A serial as openssl prints it (upper case, colons, a leading zero) names the same one. */
    if (serial != NULL)
        serial_canonicalize(serial);
    if (strcmp(route->permission, "public") == 0)
        return 0;
    target = strcmp(route->permission, "system") == 0 ? "_system" : api_tenant(req);
    token = bearer(req);
    if (token == NULL && req->client_cert == NULL)
        err_set(&e, ERR_UNAUTHENTICATED, "missing bearer token");
    else
        p = principal_find(api, req, token, target, &e);
    if (p == NULL)
        goto refuse;
    req->principal = p;
    /* A principal of the tenant takes over its token before it is given a role (issue 23). */
    own_rotation = strcmp(route->permission, "token.rotate") == 0 && target != NULL &&
                   strcmp(p->tenant, target) == 0;
    if (!own_rotation && (target == NULL || p->nroles == 0)) {
        err_set(&e, ERR_FORBIDDEN,
                strcmp(route->permission, "system") == 0
                    ? "this route needs the system administrator"
                    : "token is not valid for this tenant");
        goto refuse;
    }
    if (!own_rotation && api_principal_grants(p, route->permission) == 0) {
        err_set(&e, ERR_FORBIDDEN, "the roles of %s lack permission %s", p->id, route->permission);
        goto refuse;
    }
    if (strcmp(route->permission, "system") != 0 && tenant_admit(api, req, resp) != 0)
        return -1;
    if (strcmp(route->permission, "system") != 0 && !api_route_allowed_while_suspended(route) &&
        svc_tenant_creates(api->svc, api_tenant(req), &e) != 0)
        goto refuse;
    return 0;
refuse:
    if (e.kind != ERR_UNAUTHENTICATED) {
        api_fail(api, req, resp, "auth.refused", req->path, &e);
        return -1;
    }
    /* No identity proven: anyone can send these, so they are audited at a bounded rate. */
    {
        struct actor a = api_actor(req);

        http_add_header(resp, "WWW-Authenticate", "Bearer");
        svc_audit_unproven(api->svc, api_tenant(req), &a, "auth.refused", req->path, &e);
        api_refused(req, resp, "auth.refused", &e);
    }
    return -1;
}
