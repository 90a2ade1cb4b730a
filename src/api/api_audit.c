/*
 * api_audit.c — the audit routes an auditor uses: verification with the
 * signed checkpoints, the checkpoints with their public key, an on-demand
 * checkpoint, and the export as JSON lines.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

static void verify_respond(struct api *api, struct http_request *req, struct http_response *resp,
                           const char *tenant)
{
    struct svc_audit_verdict v;
    struct err e;
    json_t *o;

    if (svc_audit_verify(api->svc, tenant, &v, &e) != 0) {
        api_fail(api, req, resp, "audit.verify", NULL, &e);
        return;
    }
    o = json_pack("{s:b, s:I, s:I, s:I}", "ok", v.ok, "count", (json_int_t)v.count, "checkpoints",
                  (json_int_t)v.checkpoints, "last_checkpoint", (json_int_t)v.last_checkpoint);
    if (!v.ok) {
        json_object_set_new(o, "first_bad_seq", json_integer(v.bad_seq));
        json_object_set_new(o, "reason", json_string(v.reason));
    }
    http_respond_json(resp, 200, o);
}

void api_audit_verify(void *app, struct http_request *req, struct http_response *resp)
{
    verify_respond(app, req, resp, api_tenant(req));
}

/* GET /api/v1/audit/verify: the _system chain (the system administrator's). */
void api_system_audit_verify(void *app, struct http_request *req, struct http_response *resp)
{
    verify_respond(app, req, resp, "_system");
}

/* POST .../audit/checkpoints: signs the chain head now. */
void api_audit_checkpoint(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    int64_t seq = 0;
    struct err e;

    if (svc_audit_checkpoint(api->svc, api_tenant(req), &seq, &e) != 0) {
        api_fail(api, req, resp, "audit.checkpoint", NULL, &e);
        return;
    }
    http_respond_json(resp, 200, json_pack("{s:I}", "seq", (json_int_t)seq));
}

/* Reads the audit key (NULL if none yet); -1 on a storage error, answered. */
static int key_read(struct api *api, struct http_request *req, struct http_response *resp,
                    struct audit_key_rec **key)
{
    struct err e;

    *key = NULL;
    if (svc_audit_key(api->svc, api_tenant(req), 0, key, &e) == 0 || e.kind == ERR_NOT_FOUND)
        return 0;
    api_fail(api, req, resp, "audit.read", NULL, &e);
    return -1;
}

/* GET .../audit/checkpoints: the public key and the checkpoints (?after, ?limit). */
void api_audit_checkpoints(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct audit_checkpoint_rec **cps = NULL;
    struct audit_key_rec *key = NULL;
    int after = 0, limit = 1000;
    size_t n = 0;
    struct err e;
    json_t *o, *list;

    if (api_query_int(req, "after", 0, 2000000000, &after, &e) != 0 ||
        api_query_int(req, "limit", 1, 10000, &limit, &e) != 0 ||
        svc_audit_checkpoint_list(api->svc, api_tenant(req), after, limit, &cps, &n, &e) != 0) {
        api_fail(api, req, resp, "audit.read", NULL, &e);
        return;
    }
    if (key_read(api, req, resp, &key) != 0) {
        audit_checkpoint_rec_list_free(cps, n);
        return;
    }
    o = svc_audit_key_json(key);
    json_object_del(o, "type");
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = svc_audit_checkpoint_json(cps[i]);
        json_object_del(c, "type");
        json_array_append_new(list, c);
    }
    json_object_set_new(o, "checkpoints", list);
    audit_checkpoint_rec_list_free(cps, n);
    audit_key_rec_free(key);
    http_respond_json(resp, 200, o);
}

/*
 * GET .../audit/export: JSON lines — the audit key first, then the events
 * with seq > after (at most limit), each checkpoint right after the event it
 * signs (the last page: every later checkpoint too, so one whose rows were
 * removed still shows).  The next page starts after the last event's seq.
 */
static void export_respond(struct api *api, struct http_request *req, struct http_response *resp,
                           const char *tenant)
{
    int after = 0, limit = 10000;
    int64_t last = 0;
    struct buf out = {0};
    struct err e;

    if (api_query_int(req, "after", 0, 2000000000, &after, &e) != 0 ||
        api_query_int(req, "limit", 1, 100000, &limit, &e) != 0 ||
        svc_audit_export(api->svc, tenant, after, limit, 1, &out, &last, &e) < 0)
        api_fail(api, req, resp, "audit.read", NULL, &e);
    else
        http_respond(resp, 200, "application/x-ndjson", out.data, out.len);
    buf_free(&out);
}

void api_audit_export(void *app, struct http_request *req, struct http_response *resp)
{
    export_respond(app, req, resp, api_tenant(req));
}

/* GET /api/v1/audit/export: the _system chain with its checkpoints, as a tenant's export. */
void api_system_audit_export(void *app, struct http_request *req, struct http_response *resp)
{
    export_respond(app, req, resp, "_system");
}

/* ---- a tenant's own SIEM ----------------------------------------------------- */

static json_t *target_json(const struct audit_target_rec *t)
{
    return json_pack("{s:s, s:i, s:s, s:s?, s:o}", "host", t->host, "port", t->port, "transport",
                     t->transport, "ca_pem", t->ca_pem, "created", api_time(t->created));
}

/*
 * The target of body into *t (pointers into body); -1 with e set if a field
 * is of the wrong type (svc_audit_target_put checks the values).
 */
static int target_parse(json_t *body, struct audit_target_rec *t, struct err *e)
{
    long long port = 0;

    if (api_str(body, "host", 1, (const char **)&t->host, e) != 0 ||
        api_int(body, "port", 1, 65535, &port, e) != 0 ||
        api_str(body, "transport", 0, (const char **)&t->transport, e) != 0 ||
        api_str(body, "ca_pem", 0, (const char **)&t->ca_pem, e) != 0)
        return -1;
    t->port = (int)port;
    return 0;
}

/*
 * PUT .../audit/forwarding: the tenant's events go to its own SIEM from seq 1
 * on (a new target gets the whole chain); audited as audit.forwarding.set.
 */
void api_audit_forwarding_put(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct audit_target_rec t = {0}, *out = NULL;
    json_t *body = api_body(api, req, resp, "audit.forwarding.set");
    struct err e;

    if (body == NULL)
        return;
    if (!api->tenant_forwarding)
        err_set(&e, ERR_FORBIDDEN,
                "forwarding to a tenant's own SIEM is not enabled here (syslog_tenant_targets)");
    if (!api->tenant_forwarding || target_parse(body, &t, &e) != 0 ||
        svc_audit_target_put(api->svc, &a, api_tenant(req), &t, &out, &e) != 0)
        api_fail(api, req, resp, "audit.forwarding.set", NULL, &e);
    else
        http_respond_json(resp, 200, target_json(out));
    audit_target_rec_free(out);
    json_decref(body);
}

void api_audit_forwarding_get(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct audit_target_rec *t = NULL;
    struct err e;

    if (svc_audit_target_get(api->svc, api_tenant(req), &t, &e) != 0) {
        api_fail(api, req, resp, "audit.read", NULL, &e);
        return;
    }
    http_respond_json(resp, 200, target_json(t));
    audit_target_rec_free(t);
}

/* DELETE .../audit/forwarding: stops forwarding to the tenant's SIEM; audited. */
void api_audit_forwarding_delete(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct err e;

    if (svc_audit_target_delete(api->svc, &a, api_tenant(req), &e) != 0) {
        api_fail(api, req, resp, "audit.forwarding.delete", NULL, &e);
        return;
    }
    http_respond(resp, 204, NULL, NULL, 0);
}
