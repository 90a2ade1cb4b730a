/*
 * api_cmp_admin.c — a tenant admin's CMP set-up (docs/api.md "CMP"):
 * endpoints and their settings, and shared secrets.  Transport only: the
 * bodies are parsed here and handed to svc (svc_cmp_admin.c), which checks,
 * writes and audits.  The protocol itself is served at
 * /.well-known/cmp/p/{label} (api_cmp.c).
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- endpoints ----------------------------------------------------------------------- */

/* An endpoint's body: name (create only), ca and status read out; the rest are settings. */
static json_t *endpoint_body(json_t *body, int create, const char **name, const char **ca,
                             const char **status, struct err *e)
{
    json_t *settings;

    if ((create && api_str(body, "name", 1, name, e) != 0) ||
        api_str(body, "ca", create, ca, e) != 0 || api_str(body, "status", 0, status, e) != 0)
        return NULL;
    settings = json_deep_copy(body);
    if (create)
        json_object_del(settings, "name");
    json_object_del(settings, "ca");
    json_object_del(settings, "status");
    return settings;
}

/* POST /cmp/endpoints and PUT /cmp/endpoints/{endpoint}. */
static void endpoint_put(struct api *api, struct http_request *req, struct http_response *resp,
                         int create)
{
    const char *action = create ? "cmp.endpoint.create" : "cmp.endpoint.update";
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, action), *settings;
    const char *name = create ? NULL : http_param(req, "endpoint"), *ca = NULL, *status = NULL;
    struct cmp_endpoint_rec *r = NULL;
    struct err e;

    if (body == NULL)
        return;
    settings = endpoint_body(body, create, &name, &ca, &status, &e);
    if (settings == NULL || svc_cmp_endpoint_put(api->svc, &a, api_tenant(req), name, ca, status,
                                                 settings, create, &r, &e) != 0)
        api_fail(api, req, resp, action, name, &e);
    else
        http_respond_json(resp, create ? 201 : 200, svc_cmp_endpoint_json(r));
    cmp_endpoint_rec_free(r);
    json_decref(settings);
    json_decref(body);
}

void api_cmp_endpoint_create(void *app, struct http_request *req, struct http_response *resp)
{
    endpoint_put(app, req, resp, 1);
}

void api_cmp_endpoint_update(void *app, struct http_request *req, struct http_response *resp)
{
    endpoint_put(app, req, resp, 0);
}

void api_cmp_endpoint_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct cmp_endpoint_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_cmp_endpoint_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "cmp.endpoint.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, svc_cmp_endpoint_json(list[i]));
    cmp_endpoint_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "endpoints", arr));
}

void api_cmp_endpoint_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *name = http_param(req, "endpoint");
    struct cmp_endpoint_rec *r = NULL;
    struct err e;

    if (svc_cmp_endpoint_get(api->svc, api_tenant(req), name, &r, &e) != 0) {
        api_fail(api, req, resp, "cmp.endpoint.read", name, &e);
        return;
    }
    http_respond_json(resp, 200, svc_cmp_endpoint_json(r));
    cmp_endpoint_rec_free(r);
}

/* ---- shared secrets ------------------------------------------------------------------ */

/*
 * POST /cmp/endpoints/{endpoint}/secrets {"reference"?, "profiles"?, "reusable"?}:
 * 201 with the secret, shown in this answer only.
 */
void api_cmp_secret_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *endpoint = http_param(req, "endpoint"), *ref = NULL;
    json_t *body = api_body(api, req, resp, "cmp.secret.create"), *options = NULL, *o;
    struct cmp_secret_rec *r = NULL;
    char *secret = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "reference", 0, &ref, &e) == 0) {
        options = json_deep_copy(body);
        json_object_del(options, "reference");
    }
    if (options == NULL || svc_cmp_secret_create(api->svc, &a, api_tenant(req), endpoint, ref,
                                                 options, &r, &secret, &e) != 0) {
        api_fail(api, req, resp, "cmp.secret.create", ref ? ref : endpoint, &e);
    } else {
        o = svc_cmp_secret_json(r);
        json_object_set_new(o, "secret", json_string(secret));
        http_add_header(resp, "Cache-Control", "no-store");
        http_respond_json(resp, 201, o);
        secure_zero(secret, strlen(secret));
    }
    free(secret);
    cmp_secret_rec_free(r);
    json_decref(options);
    json_decref(body);
}

void api_cmp_secret_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *endpoint = http_param(req, "endpoint");
    struct cmp_secret_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_cmp_secret_list(api->svc, api_tenant(req), endpoint, &list, &n, &e) != 0) {
        api_fail(api, req, resp, "cmp.secret.list", endpoint, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, svc_cmp_secret_json(list[i]));
    cmp_secret_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "secrets", arr));
}

/* POST /cmp/endpoints/{endpoint}/secrets/{reference}/revoke {} */
void api_cmp_secret_revoke(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *endpoint = http_param(req, "endpoint"), *ref = http_param(req, "reference");
    json_t *body = api_body(api, req, resp, "cmp.secret.revoke");
    struct err e;

    if (body == NULL)
        return;
    if (svc_cmp_secret_revoke(api->svc, &a, api_tenant(req), endpoint, ref, &e) != 0)
        api_fail(api, req, resp, "cmp.secret.revoke", ref, &e);
    else
        http_respond_json(resp, 200,
                          json_pack("{s:s, s:s, s:s}", "endpoint", endpoint, "reference", ref,
                                    "status", "revoked"));
    json_decref(body);
}
