/*
 * api_est_admin.c — a tenant admin's device enrollment set-up (docs/api.md
 * "EST"): enrollment endpoints and their credentials.  Transport only: the
 * bodies are parsed here and handed to svc (svc_enroll.c), which checks,
 * writes and audits.  The protocol itself is served by api_est.c.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * The body as svc takes it: name, protocol, ca, profile and status read out;
 * every other member is a setting (auth, client_cas, retry_after), and so
 * are the members of "settings" if it is given.  *settings (caller frees).
 */
static int endpoint_body(json_t *body, int create, struct svc_enroll_put *q, json_t **settings,
                         struct err *e)
{
    static const char *const fields[] = {"name", "protocol", "ca", "profile", "status", "settings"};
    json_t *nested = json_object_get(body, "settings");

    if ((create && api_str(body, "name", 1, &q->name, e) != 0) ||
        (create && api_str(body, "protocol", 0, &q->protocol, e) != 0) ||
        api_str(body, "ca", create, &q->ca, e) != 0 ||
        api_str(body, "profile", create, &q->profile, e) != 0 ||
        api_str(body, "status", 0, &q->status, e) != 0)
        return -1;
    if (create && q->protocol == NULL)
        q->protocol = "est";
    if (nested != NULL && !json_is_object(nested))
        return err_set(e, ERR_INVALID, "settings: a JSON object");
    *settings = json_deep_copy(body);
    for (size_t i = 0; i < ARRAY_LEN(fields); i++)
        json_object_del(*settings, fields[i]);
    if (nested != NULL)
        json_object_update(*settings, nested);
    q->settings = *settings;
    return 0;
}

/* POST /enroll/endpoints {"name", "protocol"?, "ca", "profile", "status"?, settings...} */
void api_enroll_endpoint_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "enroll.endpoint.create"), *settings = NULL;
    struct svc_enroll_put q = {0};
    struct enroll_endpoint_rec *r = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (endpoint_body(body, 1, &q, &settings, &e) != 0 ||
        svc_enroll_endpoint_put(api->svc, &a, api_tenant(req), &q, 1, &r, &e) != 0)
        api_fail(api, req, resp, "enroll.endpoint.create", q.name, &e);
    else
        http_respond_json(resp, 201, svc_enroll_endpoint_json(r));
    enroll_endpoint_rec_free(r);
    json_decref(settings);
    json_decref(body);
}

/* PUT /enroll/endpoints/{endpoint} {"ca"?, "profile"?, "status"?, settings...} */
void api_enroll_endpoint_update(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "enroll.endpoint.update"), *settings = NULL;
    struct svc_enroll_put q = {.name = http_param(req, "endpoint")};
    struct enroll_endpoint_rec *r = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (endpoint_body(body, 0, &q, &settings, &e) != 0 ||
        svc_enroll_endpoint_put(api->svc, &a, api_tenant(req), &q, 0, &r, &e) != 0)
        api_fail(api, req, resp, "enroll.endpoint.update", q.name, &e);
    else
        http_respond_json(resp, 200, svc_enroll_endpoint_json(r));
    enroll_endpoint_rec_free(r);
    json_decref(settings);
    json_decref(body);
}

void api_enroll_endpoint_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct enroll_endpoint_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_enroll_endpoint_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "enroll.endpoint.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, svc_enroll_endpoint_json(list[i]));
    enroll_endpoint_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "endpoints", arr));
}

void api_enroll_endpoint_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *name = http_param(req, "endpoint");
    struct enroll_endpoint_rec *r = NULL;
    struct err e;

    if (svc_enroll_endpoint_get(api->svc, api_tenant(req), name, &r, &e) != 0) {
        api_fail(api, req, resp, "enroll.endpoint.show", name, &e);
        return;
    }
    http_respond_json(resp, 200, svc_enroll_endpoint_json(r));
    enroll_endpoint_rec_free(r);
}

/* POST /enroll/endpoints/{endpoint}/credentials {"id"?, "reusable"?}: the secret shown once */
void api_enroll_credential_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *endpoint = http_param(req, "endpoint"), *id = NULL;
    json_t *body = api_body(api, req, resp, "enroll.credential.create"), *o;
    struct enroll_credential_rec *r = NULL;
    char *secret = NULL;
    int reusable = 0;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "id", 0, &id, &e) != 0 || api_bool(body, "reusable", &reusable, &e) != 0 ||
        svc_enroll_credential_create(api->svc, &a, api_tenant(req), endpoint, id, reusable, &r,
                                     &secret, &e) != 0) {
        api_fail(api, req, resp, "enroll.credential.create", endpoint, &e);
    } else {
        o = svc_enroll_credential_json(r);
        json_object_set_new(o, "secret", json_string(secret));
        http_respond_json(resp, 201, o);
        secure_zero(secret, strlen(secret));
    }
    free(secret);
    enroll_credential_rec_free(r);
    json_decref(body);
}

void api_enroll_credential_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *endpoint = http_param(req, "endpoint");
    struct enroll_credential_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_enroll_credential_list(api->svc, api_tenant(req), endpoint, &list, &n, &e) != 0) {
        api_fail(api, req, resp, "enroll.credential.list", endpoint, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, svc_enroll_credential_json(list[i]));
    enroll_credential_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "credentials", arr));
}

/* POST /enroll/endpoints/{endpoint}/credentials/{credential}/revoke {} */
void api_enroll_credential_revoke(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *endpoint = http_param(req, "endpoint"), *id = http_param(req, "credential");
    struct enroll_credential_rec *r = NULL;
    struct err e;

    if (svc_enroll_credential_revoke(api->svc, &a, api_tenant(req), endpoint, id, &r, &e) != 0) {
        api_fail(api, req, resp, "enroll.credential.revoke", id, &e);
        return;
    }
    http_respond_json(resp, 200, svc_enroll_credential_json(r));
    enroll_credential_rec_free(r);
}
