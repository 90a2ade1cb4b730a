/* api_tsa.c — time-stamping: units, token look-up, and the RFC 3161 endpoint (docs/api.md "TSA").
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

static json_t *json_text(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;

    return v ? v : json_array();
}

static json_t *unit_json(struct api *api, const struct tsa_unit_rec *r)
{
    char *pem = api_pem("CERTIFICATE", r->cert_der, r->cert_len);
    char *url = svc_tsa_url(api->svc, r->tenant, r->name);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:b, s:s, s:s, s:o}", "name",
                          r->name, "ca", r->ca, "key_type", r->key_type, "status", r->status,
                          "policy", r->policy, "policies", json_text(r->policies_json), "hashes",
                          json_text(r->hashes_json), "accuracy_ms", (json_int_t)r->accuracy_ms,
                          "include_chain", r->include_chain, "certificate_serial", r->cert_serial,
                          "certificate", pem, "created", api_time(r->created));

    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "key_id", json_string(r->key_id));
    free(pem);
    free(url);
    return o;
}

static json_t *token_json(const struct tsa_token_rec *r, int der)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:s}", "unit", r->unit, "serial",
                  r->serial, "gen_time", r->gen_time, "time", api_time(r->time), "policy",
                  r->policy, "hash_alg", r->hash_alg, "imprint", r->imprint, "nonce",
                  r->nonce ? json_string(r->nonce) : json_null(), "requester", r->requester);

    if (der) {
        char *b64 = base64_encode(r->der, r->der_len);
        json_object_set_new(o, "token", json_string(b64));
        free(b64);
    }
    return o;
}

static int create_parse(json_t *b, struct tsa_create *c, char **policies, char **hashes,
                        struct err *e)
{
    long long validity = 0, accuracy = -1;
    json_t *v;

    memset(c, 0, sizeof(*c));
    *policies = *hashes = NULL;
    if (api_str(b, "name", 1, &c->name, e) || api_str(b, "ca", 1, &c->ca, e) ||
        api_str(b, "subject", 0, &c->subject, e) || api_str(b, "key_type", 0, &c->key_type, e) ||
        api_str(b, "profile", 0, &c->profile, e) || api_str(b, "policy", 1, &c->policy, e) ||
        api_int(b, "validity_days", 1, 36500, &validity, e) ||
        api_int(b, "accuracy_ms", 0, 86400000, &accuracy, e) ||
        api_bool(b, "include_chain", &c->include_chain, e))
        return -1;
    if ((v = json_object_get(b, "policies")) != NULL && !json_is_null(v)) {
        if (!json_is_array(v))
            return err_set(e, ERR_INVALID, "policies: must be an array of OIDs");
        c->policies = *policies = json_dumps(v, JSON_COMPACT);
    }
    if ((v = json_object_get(b, "hashes")) != NULL && !json_is_null(v)) {
        if (!json_is_array(v))
            return err_set(e, ERR_INVALID, "hashes: must be an array");
        c->hashes = *hashes = json_dumps(v, JSON_COMPACT);
    }
    c->validity_days = (long)validity;
    c->accuracy_ms = (long)accuracy;
    return 0;
}

void api_tsa_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "tsa.create");
    struct tsa_unit_rec *rec = NULL;
    char *policies = NULL, *hashes = NULL;
    struct tsa_create c;
    struct err e;

    if (body == NULL)
        return;
    if (create_parse(body, &c, &policies, &hashes, &e) != 0 ||
        svc_tsa_create(api->svc, &a, api_tenant(req), &c, &rec, &e) != 0) {
        api_fail(api, req, resp, "tsa.create", c.name, &e);
    } else {
        http_respond_json(resp, 201, unit_json(api, rec));
        tsa_unit_rec_free(rec);
    }
    free(policies);
    free(hashes);
    json_decref(body);
}

/* PUT .../tsa/{unit} {"status"?, "policy"?, "policies"?, "hashes"?, "accuracy_ms"?,
 * "include_chain"?} */
void api_tsa_update(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *unit = http_param(req, "unit");
    json_t *body = api_body(api, req, resp, "tsa.update"), *v;
    struct tsa_update u = {.accuracy_ms = -1, .include_chain = -1};
    struct tsa_unit_rec *rec = NULL;
    char *policies = NULL, *hashes = NULL;
    long long accuracy = -1;
    struct err e;
    int rc;

    if (body == NULL)
        return;
    rc = api_str(body, "status", 0, &u.status, &e) || api_str(body, "policy", 0, &u.policy, &e) ||
         api_int(body, "accuracy_ms", 0, 86400000, &accuracy, &e);
    if (rc == 0 && json_object_get(body, "include_chain") != NULL)
        rc = api_bool(body, "include_chain", &u.include_chain, &e);
    if (rc == 0 && (v = json_object_get(body, "policies")) != NULL && !json_is_null(v))
        rc = json_is_array(v) ? (u.policies = policies = json_dumps(v, JSON_COMPACT), 0)
                              : err_set(&e, ERR_INVALID, "policies: an array of OIDs");
    if (rc == 0 && (v = json_object_get(body, "hashes")) != NULL && !json_is_null(v))
        rc = json_is_array(v) ? (u.hashes = hashes = json_dumps(v, JSON_COMPACT), 0)
                              : err_set(&e, ERR_INVALID, "hashes: must be an array");
    u.accuracy_ms = (long)accuracy;
    if (rc != 0 || svc_tsa_update(api->svc, &a, api_tenant(req), unit, &u, &rec, &e) != 0) {
        api_fail(api, req, resp, "tsa.update", unit, &e);
    } else {
        http_respond_json(resp, 200, unit_json(api, rec));
        tsa_unit_rec_free(rec);
    }
    free(policies);
    free(hashes);
    json_decref(body);
}

void api_tsa_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct tsa_unit_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_tsa_unit_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "tsa.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, unit_json(api, list[i]));
    tsa_unit_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "units", arr));
}

void api_tsa_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *name = http_param(req, "unit");
    struct tsa_unit_rec *rec = NULL;
    struct err e;

    if (svc_tsa_unit_get(api->svc, api_tenant(req), name, &rec, &e) != 0) {
        api_fail(api, req, resp, "tsa.read", name, &e);
        return;
    }
    http_respond_json(resp, 200, unit_json(api, rec));
    tsa_unit_rec_free(rec);
}

static int query_time(struct http_request *req, const char *name, int64_t *out, struct err *e)
{
    const char *v = http_query(req, name);

    if (v != NULL && time_parse(v, out) != 0)
        return err_set(e, ERR_INVALID, "%s: not an RFC 3339 UTC time", name);
    return 0;
}

void api_tsa_token_search(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *unit = http_param(req, "unit");
    struct tsa_token_query q = {0};
    struct tsa_token_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    q.imprint = http_query(req, "imprint");
    if (query_time(req, "after", &q.after, &e) != 0 ||
        query_time(req, "before", &q.before, &e) != 0 ||
        api_query_int(req, "limit", 1, 1000, &q.limit, &e) != 0 ||
        api_query_int(req, "offset", 0, 1000000000, &q.offset, &e) != 0 ||
        svc_tsa_token_search(api->svc, api_tenant(req), unit, &q, &list, &n, &e) != 0) {
        api_fail(api, req, resp, "tsa.token.search", unit, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, token_json(list[i], 0));
    tsa_token_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "tokens", arr));
}

void api_tsa_token_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *unit = http_param(req, "unit"), *serial = http_param(req, "serial");
    struct tsa_token_rec *rec = NULL;
    struct err e;

    if (svc_tsa_token_get(api->svc, api_tenant(req), unit, serial, &rec, &e) != 0) {
        api_fail(api, req, resp, "tsa.token.read", serial, &e);
        return;
    }
    http_respond_json(resp, 200, token_json(rec, 1));
    tsa_token_rec_free(rec);
}

/*
 * POST /tsa/{tenant}/{unit} (RFC 3161 §3.4): a TimeStampResp for every
 * request that reaches a unit — tokens and rejections alike are 200.  An
 * unknown tenant or unit is 404 (the same for both: nothing to learn).
 */
void api_public_tsa(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    unsigned char *der = NULL;
    size_t len = 0;
    struct err e;

    if (svc_tsa_respond(api->svc, api_tenant(req), http_param(req, "unit"), req->body,
                        req->body_len, req->remote_addr, &der, &len, &e) != 0) {
        if (e.kind == ERR_NOT_FOUND)
            http_respond_kind(resp, ERR_NOT_FOUND, "no such TSA");
        else
            http_respond_err(resp, &e);
        return;
    }
    http_respond(resp, 200, "application/timestamp-reply", der, len);
    free(der);
}
