/* api_key.c — a tenant's keys in the signer's store (docs/api.md "Keys"). */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

static json_t *key_json(const struct svc_key_info *k)
{
    json_t *users = k->users ? json_loads(k->users, 0, NULL) : NULL;

    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "key_id", k->key_id, "key_type", k->key_type,
                     "purpose", k->purpose ? k->purpose : "none", "ca",
                     k->ca ? json_string(k->ca) : json_null(), "users",
                     users ? users : json_array());
}

void api_key_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct svc_key_info *keys = NULL;
    json_t *arr;
    struct err e;
    int n = 0;

    if (svc_key_list(api->svc, api_tenant(req), &keys, &n, &e) != 0) {
        api_fail(api, req, resp, "key.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, key_json(&keys[i]));
    svc_key_list_free(keys, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "keys", arr));
}

void api_key_generate(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "key.generate"), *o;
    struct svc_key_info k = {0};
    const char *type = NULL;
    char *pem = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "key_type", 0, &type, &e) != 0 ||
        svc_key_generate(api->svc, &a, api_tenant(req), type, &k, &pem, &e) != 0) {
        api_fail(api, req, resp, "key.generate", NULL, &e);
    } else {
        o = key_json(&k);
        json_object_set_new(o, "public_key", pem ? json_string(pem) : json_null());
        http_respond_json(resp, 201, o);
    }
    free(k.key_id);
    free(k.key_type);
    free(pem);
    json_decref(body);
}

void api_key_delete(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *id = http_param(req, "key");
    struct err e;

    if (svc_key_delete(api->svc, &a, api_tenant(req), id, &e) != 0) {
        if (e.kind == ERR_NOT_FOUND)
            err_set(&e, ERR_NOT_FOUND, "key %s not found", id);
        api_fail(api, req, resp, "key.delete", id, &e);
        return;
    }
    http_respond(resp, 204, NULL, NULL, 0);
}
