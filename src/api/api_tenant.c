/*
 * api_tenant.c — the system administrator's tenant routes: create, list,
 * show, suspend, reactivate, delete, and set a tenant's limits.  None of them
 * reads the tenant's own data (CAs, certificates, audit events): the system
 * role grants no tenant permission.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

static json_t *tenant_json(const struct tenant_rec *t)
{
    return json_pack("{s:s, s:s, s:s?, s:o, s:o, s:o, s:i, s:i}", "name", t->name, "status",
                     t->status, "status_reason", t->status_reason, "created", api_time(t->created),
                     "deleted_at", api_time(t->deleted_at), "purge_after", api_time(t->purge_after),
                     "certs_per_hour", t->certs_per_hour, "requests_per_second",
                     t->requests_per_second);
}

void api_tenant_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "tenant.create");
    struct tenant_rec *t = NULL;
    const char *name;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "name", 1, &name, &e) != 0 ||
        svc_tenant_create(api->svc, &a, name, &e) != 0 ||
        svc_tenant_get(api->svc, name, &t, &e) != 0)
        goto fail;
    http_respond_json(resp, 201, tenant_json(t));
    tenant_rec_free(t);
    json_decref(body);
    return;
fail:
    /* Refusals of the system administrator are recorded in the system chain. */
    svc_audit_refusal(api->svc, "_system", &a, "tenant.create", NULL, &e);
    http_respond_err(resp, &e);
    json_decref(body);
}

void api_tenant_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct tenant_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_tenant_list(api->svc, &list, &n, &e) != 0) {
        api_fail(api, req, resp, "tenant.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, tenant_json(list[i]));
        tenant_rec_free(list[i]);
    }
    free(list);
    http_respond_json(resp, 200, json_pack("{s:o}", "tenants", arr));
}

/* Answers the tenant's record after a change (200), or the failure of the change. */
static void respond_tenant(struct api *api, struct http_request *req, struct http_response *resp,
                           const char *action, int rc, struct err *e)
{
    struct tenant_rec *t = NULL;

    if (rc == 0 && svc_tenant_get(api->svc, api_tenant(req), &t, e) == 0) {
        http_respond_json(resp, 200, tenant_json(t));
        tenant_rec_free(t);
        return;
    }
    api_fail(api, req, resp, action, api_tenant(req), e);
}

void api_tenant_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct err e;

    respond_tenant(app, req, resp, "tenant.show", 0, &e);
}

/* POST /api/v1/tenants/{tenant}/suspend {"reason": ...} */
void api_tenant_suspend(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "tenant.suspend");
    const char *reason = NULL;
    struct err e;
    int rc;

    if (body == NULL)
        return;
    rc = api_str(body, "reason", 0, &reason, &e) != 0 ||
                 svc_tenant_suspend(api->svc, &a, api_tenant(req), reason, &e) != 0
             ? -1
             : 0;
    respond_tenant(api, req, resp, "tenant.suspend", rc, &e);
    json_decref(body);
}

/* POST /api/v1/tenants/{tenant}/reactivate {} */
void api_tenant_reactivate(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct err e;
    int rc = svc_tenant_reactivate(api->svc, &a, api_tenant(req), &e);

    respond_tenant(api, req, resp, "tenant.reactivate", rc, &e);
}

/* DELETE /api/v1/tenants/{tenant}[?reason=...] */
void api_tenant_delete(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct err e;
    int rc = svc_tenant_delete(api->svc, &a, api_tenant(req), http_query(req, "reason"), &e);

    respond_tenant(api, req, resp, "tenant.delete", rc, &e);
}

/* PUT /api/v1/tenants/{tenant}/limits {"certs_per_hour": n, "requests_per_second": n} */
void api_tenant_limits(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "tenant.limits");
    long long cph = -1, rps = -1;
    struct err e;
    int rc;

    if (body == NULL)
        return;
    rc = api_int(body, "certs_per_hour", 0, 100000000, &cph, &e) != 0 ||
                 api_int(body, "requests_per_second", 0, 1000000, &rps, &e) != 0 ||
                 svc_tenant_set_limits(api->svc, &a, api_tenant(req), (int)cph, (int)rps, &e) != 0
             ? -1
             : 0;
    respond_tenant(api, req, resp, "tenant.limits", rc, &e);
    json_decref(body);
}
