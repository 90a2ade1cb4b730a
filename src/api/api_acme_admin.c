/*
 * api_acme_admin.c — a tenant admin's ACME set-up (docs/api.md "ACME"):
 * endpoints and their settings, External Account Binding credentials, and
 * suggested renewal windows of certificates.  Transport only: the bodies are
 * parsed here and handed to svc (svc_acme_admin.c), which checks, writes and
 * audits.  The protocol itself is served elsewhere (/acme/{tenant}/{endpoint}).
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- endpoints ----------------------------------------------------------------------- */

/*
 * An endpoint's body as svc takes it: name (create only), ca and status read
 * out; every other member is a setting (a copy of the body without those).
 */
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

/* POST /acme/endpoints {"name", "ca", "status"?, settings...} */
void api_acme_endpoint_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "acme.endpoint.create"), *settings;
    const char *name = NULL, *ca = NULL, *status = NULL;
    struct acme_endpoint_rec *r = NULL;
    struct err e;

    if (body == NULL)
        return;
    settings = endpoint_body(body, 1, &name, &ca, &status, &e);
    if (settings == NULL || svc_acme_endpoint_put(api->svc, &a, api_tenant(req), name, ca, status,
                                                  settings, 1, &r, &e) != 0)
        api_fail(api, req, resp, "acme.endpoint.create", name, &e);
    else
        http_respond_json(resp, 201, svc_acme_endpoint_json(api->svc, r));
    acme_endpoint_rec_free(r);
    json_decref(settings);
    json_decref(body);
}

void api_acme_endpoint_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct acme_endpoint_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_acme_endpoint_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "acme.endpoint.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, svc_acme_endpoint_json(api->svc, list[i]));
    acme_endpoint_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "endpoints", arr));
}

void api_acme_endpoint_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *name = http_param(req, "endpoint");
    struct acme_endpoint_rec *r = NULL;
    struct err e;

    if (svc_acme_endpoint_get(api->svc, api_tenant(req), name, &r, &e) != 0) {
        api_fail(api, req, resp, "acme.endpoint.read", name, &e);
        return;
    }
    http_respond_json(resp, 200, svc_acme_endpoint_json(api->svc, r));
    acme_endpoint_rec_free(r);
}

/* PUT /acme/endpoints/{endpoint} {"ca"?, "status"?, settings...}: the members given change. */
void api_acme_endpoint_update(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *name = http_param(req, "endpoint"), *ca = NULL, *status = NULL;
    json_t *body = api_body(api, req, resp, "acme.endpoint.update"), *settings;
    struct acme_endpoint_rec *r = NULL;
    struct err e;

    if (body == NULL)
        return;
    settings = endpoint_body(body, 0, NULL, &ca, &status, &e);
    if (settings == NULL || svc_acme_endpoint_put(api->svc, &a, api_tenant(req), name, ca, status,
                                                  settings, 0, &r, &e) != 0)
        api_fail(api, req, resp, "acme.endpoint.update", name, &e);
    else
        http_respond_json(resp, 200, svc_acme_endpoint_json(api->svc, r));
    acme_endpoint_rec_free(r);
    json_decref(settings);
    json_decref(body);
}

/* ---- External Account Binding credentials ----------------------------------------------- */

/*
 * POST /acme/endpoints/{endpoint}/eab {"kid"?, "profiles"?, "role"?, "reusable"?}:
 * 201 with the credential and its HMAC key (base64url), shown in this answer only.
 */
void api_acme_eab_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *endpoint = http_param(req, "endpoint"), *kid = NULL;
    json_t *body = api_body(api, req, resp, "acme.eab.create"), *options = NULL, *o;
    struct acme_eab_rec *r = NULL;
    char *key = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "kid", 0, &kid, &e) == 0) {
        options = json_deep_copy(body);
        json_object_del(options, "kid");
    }
    if (options == NULL || svc_acme_eab_create(api->svc, &a, api_tenant(req), endpoint, kid,
                                               options, &r, &key, &e) != 0) {
        api_fail(api, req, resp, "acme.eab.create", kid ? kid : endpoint, &e);
    } else {
        o = svc_acme_eab_json(r);
        json_object_set_new(o, "hmac_key", json_string(key));
        http_add_header(resp, "Cache-Control", "no-store");
        http_respond_json(resp, 201, o);
        secure_zero(key, strlen(key));
    }
    free(key);
    acme_eab_rec_free(r);
    json_decref(options);
    json_decref(body);
}

void api_acme_eab_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *endpoint = http_param(req, "endpoint");
    struct acme_eab_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_acme_eab_list(api->svc, api_tenant(req), endpoint, &list, &n, &e) != 0) {
        api_fail(api, req, resp, "acme.eab.list", endpoint, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, svc_acme_eab_json(list[i]));
    acme_eab_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "credentials", arr));
}

/* POST /acme/endpoints/{endpoint}/eab/{kid}/revoke {"deactivate_accounts"?: bool} */
void api_acme_eab_revoke(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *endpoint = http_param(req, "endpoint"), *kid = http_param(req, "kid");
    json_t *body = api_body(api, req, resp, "acme.eab.revoke");
    int deactivate = 0;
    struct err e;

    if (body == NULL)
        return;
    if (api_bool(body, "deactivate_accounts", &deactivate, &e) != 0 ||
        svc_acme_eab_revoke(api->svc, &a, api_tenant(req), endpoint, kid, deactivate, &e) != 0)
        api_fail(api, req, resp, "acme.eab.revoke", kid, &e);
    else
        http_respond_json(resp, 200,
                          json_pack("{s:s, s:s, s:s, s:b}", "endpoint", endpoint, "kid", kid,
                                    "status", "revoked", "deactivate_accounts", deactivate));
    json_decref(body);
}

/* ---- renewal windows ------------------------------------------------------------------- */

/* The suggested window of a certificate as both routes answer it. */
static void window_respond(struct api *api, struct http_request *req, struct http_response *resp,
                           const char *action)
{
    const char *serial = http_param(req, "serial");
    int64_t start = 0, end = 0;
    char *reason = NULL;
    struct err e;

    if (svc_renewal_window(api->svc, api_tenant(req), serial, &start, &end, &reason, &e) != 0) {
        api_fail(api, req, resp, action, serial, &e);
        return;
    }
    http_respond_json(resp, 200,
                      json_pack("{s:s, s:o, s:o, s:s?}", "serial", serial, "start", api_time(start),
                                "end", api_time(end), "reason", reason));
    free(reason);
}

void api_cert_renewal_window_get(void *app, struct http_request *req, struct http_response *resp)
{
    window_respond(app, req, resp, "cert.renewal_window.read");
}

/* A required RFC 3339 time member. */
static int time_member(json_t *body, const char *key, int64_t *out, struct err *e)
{
    const char *text = NULL;

    if (api_str(body, key, 1, &text, e) != 0)
        return -1;
    if (time_parse(text, out) != 0)
        return err_set(e, ERR_INVALID, "%s: an RFC 3339 UTC time", key);
    return 0;
}

/* PUT /certificates/{serial}/renewal-window {"start", "end", "reason"?} */
void api_cert_renewal_window_put(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *serial = http_param(req, "serial"), *reason = NULL;
    json_t *body = api_body(api, req, resp, "cert.renewal_window");
    int64_t start = 0, end = 0;
    struct err e;

    if (body == NULL)
        return;
    if (time_member(body, "start", &start, &e) != 0 || time_member(body, "end", &end, &e) != 0 ||
        api_str(body, "reason", 0, &reason, &e) != 0 ||
        svc_renewal_window_set(api->svc, &a, api_tenant(req), serial, start, end, reason, &e) != 0)
        api_fail(api, req, resp, "cert.renewal_window", serial, &e);
    else
        window_respond(api, req, resp, "cert.renewal_window");
    json_decref(body);
}
