/* api_misc.c — profile, end-entity and audit routes. */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- profiles ------------------------------------------------------- */

static json_t *profile_json(const struct profile_rec *r)
{
    return json_pack("{s:s, s:i, s:o, s:o}", "name", r->name, "version", r->version, "created",
                     api_time(r->created), "document", json_loads(r->json, 0, NULL));
}

void api_profile_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct profile_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_profile_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "profile.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, profile_json(list[i]));
        profile_rec_free(list[i]);
    }
    free(list);
    http_respond_json(resp, 200, json_pack("{s:o}", "profiles", arr));
}

void api_profile_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *name = http_param(req, "profile"), *v = http_query(req, "version");
    struct profile_rec *rec = NULL;
    int version = 0;
    struct err e;

    if (v != NULL && (version = atoi(v)) <= 0) {
        err_set(&e, ERR_INVALID, "version: a positive integer");
        api_fail(api, req, resp, "profile.read", name, &e);
        return;
    }
    if (svc_profile_get(api->svc, api_tenant(req), name, version, &rec, &e) != 0) {
        api_fail(api, req, resp, "profile.read", name, &e);
        return;
    }
    http_respond_json(resp, 200, profile_json(rec));
    profile_rec_free(rec);
}

/* Stores body.document under name; create: a new profile, else a new version. */
static void profile_put(struct api *api, struct http_request *req, struct http_response *resp,
                        const char *name, json_t *body, int create)
{
    struct actor a = api_actor(req);
    const char *action = create ? "profile.create" : "profile.update";
    json_t *doc = json_object_get(body, "document");
    char *text = NULL;
    int version;
    struct err e;

    if (name == NULL)
        err_set(&e, ERR_INVALID, "name: required");
    else if (!json_is_object(doc))
        err_set(&e, ERR_INVALID, "document: required, a JSON object");
    else
        text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL ||
        svc_profile_put(api->svc, &a, api_tenant(req), name, text, create, &version, &e) != 0) {
        api_fail(api, req, resp, action, name, &e);
    } else {
        http_respond_json(
            resp, create ? 201 : 200,
            json_pack("{s:s, s:i, s:O}", "name", name, "version", version, "document", doc));
    }
    free(text);
}

void api_profile_create(void *app, struct http_request *req, struct http_response *resp)
{
    json_t *body = api_body(app, req, resp, "profile.create");
    const char *name = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "name", 1, &name, &e) != 0)
        api_fail(app, req, resp, "profile.create", NULL, &e);
    else
        profile_put(app, req, resp, name, body, 1);
    json_decref(body);
}

void api_profile_update(void *app, struct http_request *req, struct http_response *resp)
{
    json_t *body = api_body(app, req, resp, "profile.update");

    if (body == NULL)
        return;
    profile_put(app, req, resp, http_param(req, "profile"), body, 0);
    json_decref(body);
}

void api_profile_clone(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *from = http_param(req, "profile"), *to = NULL;
    json_t *body = api_body(api, req, resp, "profile.clone");
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "name", 1, &to, &e) != 0 ||
        svc_profile_clone(api->svc, &a, api_tenant(req), from, to, &e) != 0)
        api_fail(api, req, resp, "profile.clone", from, &e);
    else
        http_respond_json(
            resp, 201, json_pack("{s:s, s:i, s:s}", "name", to, "version", 1, "cloned_from", from));
    json_decref(body);
}

/* ---- end entities --------------------------------------------------- */

static int entity_parse(json_t *b, struct entity_rec *r, char **meta, struct err *e)
{
    json_t *m = json_object_get(b, "metadata");

    memset(r, 0, sizeof(*r));
    *meta = NULL;
    if (api_str(b, "name", 1, (const char **)&r->name, e) ||
        api_str(b, "kind", 1, (const char **)&r->kind, e) ||
        api_str(b, "email", 0, (const char **)&r->email, e) ||
        api_str(b, "manufacturer", 0, (const char **)&r->manufacturer, e) ||
        api_str(b, "model", 0, (const char **)&r->model, e) ||
        api_str(b, "serial_number", 0, (const char **)&r->serial_number, e))
        return -1;
    if (m != NULL && !json_is_object(m))
        return err_set(e, ERR_INVALID, "metadata: must be a JSON object");
    *meta = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
    r->metadata_json = *meta;
    return 0;
}

static void entity_put(struct api *api, struct http_request *req, struct http_response *resp,
                       int create)
{
    struct actor a = api_actor(req);
    const char *action = create ? "entity.create" : "entity.update";
    json_t *body = api_body(api, req, resp, action);
    struct entity_rec r, *out = NULL;
    char *meta = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (entity_parse(body, &r, &meta, &e) != 0) {
        api_fail(api, req, resp, action, NULL, &e);
    } else {
        r.id = create ? NULL : (char *)http_param(req, "entity");
        if (svc_entity_put(api->svc, &a, api_tenant(req), &r, create, &out, &e) != 0)
            api_fail(api, req, resp, action, r.id, &e);
        else
            http_respond_json(resp, create ? 201 : 200, api_entity_json(out));
    }
    entity_rec_free(out);
    free(meta);
    json_decref(body);
}

void api_entity_create(void *app, struct http_request *req, struct http_response *resp)
{
    entity_put(app, req, resp, 1);
}

void api_entity_update(void *app, struct http_request *req, struct http_response *resp)
{
    entity_put(app, req, resp, 0);
}

void api_entity_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct entity_query q = {0};
    struct entity_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    q.name = http_query(req, "name");
    q.kind = http_query(req, "kind");
    q.email = http_query(req, "email");
    if (svc_entity_search(api->svc, api_tenant(req), &q, &list, &n, &e) != 0) {
        api_fail(api, req, resp, "entity.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, api_entity_json(list[i]));
        entity_rec_free(list[i]);
    }
    free(list);
    http_respond_json(resp, 200, json_pack("{s:o}", "entities", arr));
}

void api_entity_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *id = http_param(req, "entity");
    struct entity_rec *rec = NULL;
    char **serials = NULL;
    size_t n = 0;
    json_t *o, *arr;
    struct err e;

    if (svc_entity_get(api->svc, api_tenant(req), id, &rec, &serials, &n, &e) != 0) {
        api_fail(api, req, resp, "entity.read", id, &e);
        return;
    }
    o = api_entity_json(rec);
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(serials[i]));
        free(serials[i]);
    }
    free(serials);
    json_object_set_new(o, "certificates", arr);
    entity_rec_free(rec);
    http_respond_json(resp, 200, o);
}

/* ---- audit ---------------------------------------------------------- */

/* Answers with tenant's audit events as JSON lines (?after, ?limit). */
static void audit_list_respond(struct api *api, struct http_request *req,
                               struct http_response *resp, const char *tenant)
{
    int after = 0, limit = 1000;
    struct audit_rec **rows = NULL;
    struct buf out = {0};
    size_t n = 0;
    struct err e;

    if (api_query_int(req, "after", 0, 2000000000, &after, &e) != 0 ||
        api_query_int(req, "limit", 1, 10000, &limit, &e) != 0 ||
        svc_audit_list(api->svc, tenant, after, limit, &rows, &n, &e) != 0) {
        api_fail(api, req, resp, "audit.read", NULL, &e);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct audit_rec *r = rows[i];
        json_t *o =
            json_pack("{s:s, s:I, s:o, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "tenant", r->tenant,
                      "seq", (json_int_t)r->seq, "time", api_time(r->time), "actor", r->actor,
                      "action", r->action, "object", r->object, "result", r->result, "detail",
                      json_loads(r->detail, 0, NULL), "prev_hash", r->prev_hash, "hash", r->hash);
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        buf_append(&out, line, strlen(line));
        buf_append(&out, "\n", 1);
        free(line);
        json_decref(o);
    }
    audit_rec_list_free(rows, n);
    http_respond(resp, 200, "application/x-ndjson", out.data, out.len);
    buf_free(&out);
}

void api_audit_list(void *app, struct http_request *req, struct http_response *resp)
{
    audit_list_respond(app, req, resp, api_tenant(req));
}

/*
 * The _system chain, for the system administrator: tenant creation,
 * requests for tenants that do not exist, key-store events (HSM failover).
 */
void api_system_audit(void *app, struct http_request *req, struct http_response *resp)
{
    audit_list_respond(app, req, resp, "_system");
}
