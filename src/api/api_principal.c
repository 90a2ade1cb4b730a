/* api_principal.c — principals, role bindings and API tokens of a tenant. */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

json_t *api_token_json(const struct token_rec *t, const char *secret)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:o}", "id", t->id, "tenant", t->tenant, "name",
                  t->name, "principal", t->principal, "expires", api_time(t->expires), "created",
                  api_time(t->created), "revoked", api_time(t->revoked));
    if (secret != NULL)
        json_object_set_new(o, "token", json_string(secret));
    /* who else could hold it: the approvals made with it count for them too */
    json_object_set_new(o, "creators",
                        t->creators ? json_loads(t->creators, 0, NULL) : json_array());
    return o;
}

static json_t *principal_json(const struct principal_rec *r, struct binding_rec **b, size_t nb)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:o}", "id", r->id, "name", r->name, "kind",
                          r->kind, "allow", json_loads(r->allow, 0, NULL), "disabled", r->disabled,
                          "created", api_time(r->created));
    json_t *roles = json_array();

    if (r->cert_sha256 != NULL)
        json_object_set_new(o, "client_cert", json_pack("{s:s}", "sha256", r->cert_sha256));
    else if (r->cert_issuer != NULL)
        json_object_set_new(
            o, "client_cert",
            json_pack("{s:s, s:s}", "issuer", r->cert_issuer, "subject", r->cert_subject));

    for (size_t i = 0; i < nb; i++)
        json_array_append_new(roles, json_string(b[i]->role));
    json_object_set_new(o, "roles", roles);
    return o;
}

static json_t *binding_json(const struct binding_rec *b)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "principal_tenant", b->principal_tenant, "principal",
                     b->principal, "role", b->role, "created", api_time(b->created));
}

/*
 * Creates a token.  On the system route (tenant given) for the tenant's first
 * administrator, the principal "admin" holding every role of the tenant, and
 * only while the tenant is locked out (409 if it has a live token); on the
 * tenant route for body.principal (default: the caller, if it is of this
 * tenant).
 */
static void token_create(struct api *api, struct http_request *req, struct http_response *resp,
                         int bootstrap)
{
    struct actor a = api_actor(req);
    const struct principal *me = req->principal;
    const char *tenant = api_tenant(req), *name, *principal = NULL;
    json_t *body = api_body(api, req, resp, "token.create");
    struct token_rec *t = NULL;
    long long days = 0;
    char *secret = NULL, *boot = NULL;
    struct err e;
    int active;

    if (body == NULL)
        return;
    if (svc_tenant_check(api->svc, tenant, &active, &e) != 0 ||
        api_str(body, "name", 1, &name, &e) != 0 ||
        api_int(body, "expires_days", 0, 3650, &days, &e) != 0 ||
        api_str(body, "principal", 0, &principal, &e) != 0)
        goto fail;
    if (bootstrap) {
        if (svc_token_none_live(api->svc, tenant, &e) != 0 ||
            svc_principal_bootstrap(api->svc, &a, tenant, "admin", &boot, &e) != 0)
            goto fail;
        principal = boot;
    } else if (principal == NULL) {
        if (me == NULL || strcmp(me->tenant, tenant) != 0) {
            err_set(&e, ERR_INVALID, "principal: required");
            goto fail;
        }
        principal = me->id;
    }
    if (svc_token_create(api->svc, &a, tenant, principal, name, (long)days, &t, &secret, &e) != 0)
        goto fail;
    http_respond_json(resp, 201, api_token_json(t, secret));
    secure_zero(secret, strlen(secret));
    free(secret);
    token_rec_free(t);
    free(boot);
    json_decref(body);
    return;
fail:
    api_fail(api, req, resp, "token.create", NULL, &e);
    free(boot);
    json_decref(body);
}

void api_tenant_token(void *app, struct http_request *req, struct http_response *resp)
{
    token_create(app, req, resp, 1);
}

void api_token_create(void *app, struct http_request *req, struct http_response *resp)
{
    token_create(app, req, resp, 0);
}

void api_token_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct token_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_token_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "token.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, api_token_json(list[i], NULL));
        token_rec_free(list[i]);
    }
    free(list);
    http_respond_json(resp, 200, json_pack("{s:o}", "tokens", arr));
}

/*
 * POST /tokens/rotate {"name"?, "expires_days"?}: the caller's own bearer
 * token is revoked and a new one returned, which no one else ever saw (the
 * way a principal takes over a token someone made for it).
 */
void api_token_rotate(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const struct principal *me = req->principal;
    const char *tenant = api_tenant(req), *name = NULL;
    json_t *body = api_body(api, req, resp, "token.rotate");
    struct token_rec *t = NULL;
    char *secret = NULL;
    json_int_t days = 0;
    struct err e;

    if (body == NULL)
        return;
    if (tenant == NULL && me != NULL)
        tenant = me->tenant; /* the system route: the system administrator's own token */
    if (api_str(body, "name", 0, &name, &e) != 0 ||
        api_int(body, "expires_days", 0, 3650, &days, &e) != 0)
        goto fail;
    if (me == NULL || tenant == NULL || strcmp(me->tenant, tenant) != 0) {
        err_set(&e, ERR_FORBIDDEN, "a token is rotated in its own tenant");
        goto fail;
    }
    if (svc_token_rotate(api->svc, &a, tenant, name ? name : "rotated", (long)days, &t, &secret,
                         &e) != 0)
        goto fail;
    http_respond_json(resp, 201, api_token_json(t, secret));
    secure_zero(secret, strlen(secret));
    free(secret);
    token_rec_free(t);
    json_decref(body);
    return;
fail:
    api_fail(api, req, resp, "token.rotate", NULL, &e);
    json_decref(body);
}

/* DELETE revokes: the row stays (listed as revoked), and the token is refused from now on. */
void api_token_delete(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *id = http_param(req, "token");
    struct err e;

    if (svc_token_revoke(api->svc, &a, api_tenant(req), id, &e) != 0) {
        api_fail(api, req, resp, "token.revoke", id, &e);
        return;
    }
    http_respond(resp, 204, NULL, NULL, 0);
}

void api_principal_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "principal.create");
    struct principal_rec *r = NULL;
    const char *name, *kind;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "name", 1, &name, &e) != 0 || api_str(body, "kind", 1, &kind, &e) != 0 ||
        svc_principal_create(api->svc, &a, api_tenant(req), name, kind,
                             json_object_get(body, "allow"), json_object_get(body, "client_cert"),
                             &r, &e) != 0) {
        api_fail(api, req, resp, "principal.create", NULL, &e);
        json_decref(body);
        return;
    }
    http_respond_json(resp, 201, principal_json(r, NULL, 0));
    principal_rec_free(r);
    json_decref(body);
}

void api_principal_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *tenant = api_tenant(req);
    struct principal_rec **list = NULL;
    struct binding_rec **b = NULL, **mine;
    size_t n = 0, nb = 0, nmine;
    json_t *arr;
    struct err e;

    if (svc_principal_list(api->svc, tenant, &list, &n, &b, &nb, &e) != 0) {
        api_fail(api, req, resp, "principal.list", NULL, &e);
        return;
    }
    arr = json_array();
    mine = xcalloc(nb + 1, sizeof(*mine));
    for (size_t i = 0; i < n; i++) {
        /* its roles: the tenant's bindings of (tenant, its id), in role order */
        nmine = 0;
        for (size_t j = 0; j < nb; j++)
            if (strcmp(b[j]->principal_tenant, tenant) == 0 &&
                strcmp(b[j]->principal, list[i]->id) == 0)
                mine[nmine++] = b[j];
        json_array_append_new(arr, principal_json(list[i], mine, nmine));
    }
    free(mine);
    binding_rec_list_free(b, nb);
    principal_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "principals", arr));
}

void api_principal_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *tenant = api_tenant(req), *id = http_param(req, "principal");
    struct principal_rec *r = NULL;
    struct binding_rec **b = NULL;
    size_t nb = 0;
    struct err e;

    if (svc_principal_get(api->svc, tenant, id, &r, &b, &nb, &e) != 0) {
        api_fail(api, req, resp, "principal.show", id, &e);
        return;
    }
    http_respond_json(resp, 200, principal_json(r, b, nb));
    binding_rec_list_free(b, nb);
    principal_rec_free(r);
}

static void principal_disable(struct api *api, struct http_request *req, struct http_response *resp,
                              int disabled)
{
    struct actor a = api_actor(req);
    const struct principal *me = req->principal;
    const char *tenant = api_tenant(req), *id = http_param(req, "principal");
    struct err e;

    if (me != NULL && strcmp(me->tenant, tenant) == 0 && strcmp(me->id, id) == 0)
        err_set(&e, ERR_FORBIDDEN, "a principal cannot disable or enable itself");
    else if (svc_principal_set_disabled(api->svc, &a, tenant, id, disabled, &e) == 0) {
        http_respond_json(resp, 200, json_pack("{s:s, s:b}", "id", id, "disabled", disabled));
        return;
    }
    if (e.kind == ERR_NOT_FOUND)
        err_set(&e, ERR_NOT_FOUND, "principal %s not found", id);
    api_fail(api, req, resp, disabled ? "principal.disable" : "principal.enable", id, &e);
}

void api_principal_disable(void *app, struct http_request *req, struct http_response *resp)
{
    principal_disable(app, req, resp, 1);
}

void api_principal_enable(void *app, struct http_request *req, struct http_response *resp)
{
    principal_disable(app, req, resp, 0);
}

void api_role_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct binding_rec **b = NULL;
    size_t nb = 0;
    json_t *arr;
    struct err e;

    if (svc_binding_list(api->svc, api_tenant(req), &b, &nb, &e) != 0) {
        api_fail(api, req, resp, "role.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < nb; i++)
        json_array_append_new(arr, binding_json(b[i]));
    binding_rec_list_free(b, nb);
    http_respond_json(resp, 200, json_pack("{s:o}", "bindings", arr));
}

/* {"principal", "role", "principal_tenant"?}: binds or unbinds; nobody changes its own roles. */
static void role_bind(struct api *api, struct http_request *req, struct http_response *resp,
                      int bind)
{
    struct actor a = api_actor(req);
    const struct principal *me = req->principal;
    const char *action = bind ? "role.bind" : "role.unbind";
    const char *tenant = api_tenant(req), *principal, *role, *ptenant = NULL;
    json_t *body = api_body(api, req, resp, action);
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "principal", 1, &principal, &e) != 0 ||
        api_str(body, "role", 1, &role, &e) != 0 ||
        api_str(body, "principal_tenant", 0, &ptenant, &e) != 0)
        goto fail;
    if (ptenant == NULL)
        ptenant = tenant;
    if (me != NULL && strcmp(me->tenant, ptenant) == 0 && strcmp(me->id, principal) == 0) {
        err_set(&e, ERR_FORBIDDEN, "a principal cannot change its own roles");
        goto fail;
    }
    if (bind) { /* through the door: a role.bind workflow makes it wait for approval */
        struct svc_op op = {.kind = SVC_OP_ROLE_BIND,
                            .principal = principal,
                            .principal_tenant = ptenant,
                            .role = role};
        struct svc_outcome out;

        if (svc_submit(api->svc, &a, tenant, &op, NULL, &out, &e) != 0) {
            api_refused(req, resp, action, &e);
        } else {
            api_respond_outcome(api, resp, &out, 201, 0);
            svc_outcome_clear(&out);
        }
        json_decref(body);
        return;
    }
    if (svc_role_bind(api->svc, &a, tenant, ptenant, principal, role, bind, &e) != 0)
        goto fail;
    http_respond_json(resp, bind ? 201 : 200,
                      json_pack("{s:s, s:s, s:s, s:b}", "principal_tenant", ptenant, "principal",
                                principal, "role", role, "bound", bind));
    json_decref(body);
    return;
fail:
    api_fail(api, req, resp, action, NULL, &e);
    json_decref(body);
}

void api_role_bind(void *app, struct http_request *req, struct http_response *resp)
{
    role_bind(app, req, resp, 1);
}

void api_role_unbind(void *app, struct http_request *req, struct http_response *resp)
{
    role_bind(app, req, resp, 0);
}

/* ---- the caller itself ---------------------------------------------------- */

/*
 * GET /api/v1/t/{tenant}/me: who the caller is in the tenant, its roles there,
 * the permissions they grant (":own" when only for its own objects) and the
 * API routes of the tenant it may call; what the web console shows and hides
 * by.  It changes nothing and reads only the request's own principal.
 */
void api_me(void *app, struct http_request *req, struct http_response *resp)
{
    const struct principal *p = req->principal;
    const struct http_route *routes;
    json_t *roles = json_array(), *perms = json_array(), *allowed = json_array();
    size_t n;

    (void)app;
    for (size_t i = 0; i < p->nroles; i++) {
        json_array_append_new(roles, json_string(p->roles[i]));
        for (const char *const *q = api_role_permissions(p->roles[i]); *q != NULL; q++) {
            int dup = 0;
            size_t k;
            json_t *v;

            json_array_foreach(perms, k, v) dup |= strcmp(json_string_value(v), *q) == 0;
            if (!dup)
                json_array_append_new(perms, json_string(*q));
        }
    }
    routes = api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        int g;

        if (strncmp(routes[i].pattern, "/api/v1/t/{tenant}/", 19) != 0 ||
            strcmp(routes[i].permission, "public") == 0 ||
            (g = api_principal_grants(p, routes[i].permission)) == 0)
            continue;
        json_array_append_new(allowed, json_pack("{s:s, s:s, s:s, s:b}", "method", routes[i].method,
                                                 "path", routes[i].pattern, "permission",
                                                 routes[i].permission, "own_only", g == 1));
    }
    http_respond_json(resp, 200,
                      json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:o}", "tenant", api_tenant(req),
                                "principal", p->id, "principal_tenant", p->tenant, "credential",
                                p->token_id, "roles", roles, "permissions", perms, "routes",
                                allowed));
}
