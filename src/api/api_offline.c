/*
 * api_offline.c — the online side of the offline CA (docs/offline.md): the
 * transfer request of a pending CA, and the import of an offline bundle.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

/* POST /cas/{ca}/offline-request {"root": NAME}: the request document to carry offline. */
void api_offline_request(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *name = http_param(req, "ca"), *root = NULL;
    json_t *body = api_body(api, req, resp, "offline.request"), *doc;
    char *text = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "root", 0, &root, &e) != 0 ||
        svc_offline_request(api->svc, &a, api_tenant(req), name, root, &text, &e) != 0) {
        api_fail(api, req, resp, "offline.request", name, &e);
    } else {
        doc = json_loads(text, 0, NULL);
        http_respond_json(resp, 200, doc);
    }
    free(text);
    json_decref(body);
}

/* POST /offline/import {"bundle": TEXT, "pin": FINGERPRINT}: imports an offline bundle. */
void api_offline_import(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "offline.import"), *result = NULL;
    const char *bundle = NULL, *pin = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "bundle", 1, &bundle, &e) != 0 || api_str(body, "pin", 0, &pin, &e) != 0 ||
        svc_offline_import(api->svc, &a, api_tenant(req), bundle, strlen(bundle), pin, &result,
                           &e) != 0)
        api_fail(api, req, resp, "offline.import", "", &e);
    else
        http_respond_json(resp, 200, result);
    json_decref(body);
}
