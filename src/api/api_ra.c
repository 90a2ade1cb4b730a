/*
 * api_ra.c — approval workflows, the requests waiting for them, and the
 * tenant's webhook (docs/api.md "Approvals").
 *
 * An operation under a workflow (issuance or renewal under a profile,
 * revocation, suspension, CA creation) is answered 202 with a pending request
 * by svc_submit instead of being done.  The approval that completes a request
 * carries the stored operation out inside svc (svc_request_approve); these
 * handlers only read, decide and answer.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* ---- requests ---------------------------------------------------------------- */

void api_request_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct request_rec **list = NULL;
    int limit = 100, offset = 0;
    size_t n = 0;
    json_t *arr;
    struct err e;

    /* A requester sees its own requests only (svc_request_list). */
    if (api_query_int(req, "limit", 1, 1000, &limit, &e) != 0 ||
        api_query_int(req, "offset", 0, 1000000000, &offset, &e) != 0 ||
        svc_request_list(api->svc, &a, api_tenant(req), http_query(req, "status"),
                         http_query(req, "requester"), limit, offset, &list, &n, &e) != 0) {
        api_fail(api, req, resp, "request.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_request_json(list[i]));
    request_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "requests", arr));
}

void api_request_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *id = http_param(req, "request");
    struct request_rec *r = NULL;
    struct err e;

    /* A requester sees its own requests only (svc_request_get). */
    if (svc_request_get(api->svc, &a, api_tenant(req), id, &r, &e) != 0) {
        api_fail(api, req, resp, "request.read", id, &e);
        return;
    }
    http_respond_json(resp, 200, api_request_json(r));
    request_rec_free(r);
}

void api_request_approve(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *id = http_param(req, "request");
    struct request_rec *r = NULL;
    struct err e;

    if (svc_request_approve(api->svc, &a, api_tenant(req), id, &r, &e) != 0) {
        api_fail(api, req, resp, "request.approve", id, &e);
        return;
    }
    http_respond_json(resp, 200, api_request_json(r));
    request_rec_free(r);
}

void api_request_reject(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *id = http_param(req, "request"), *reason = NULL;
    json_t *body = api_body(api, req, resp, "request.reject");
    struct request_rec *r = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "reason", 1, &reason, &e) != 0 ||
        svc_request_reject(api->svc, &a, api_tenant(req), id, reason, &r, &e) != 0)
        api_fail(api, req, resp, "request.reject", id, &e);
    else
        http_respond_json(resp, 200, api_request_json(r));
    request_rec_free(r);
    json_decref(body);
}

/* ---- workflows ----------------------------------------------------------------- */

static json_t *workflow_json(const struct workflow_rec *w)
{
    json_error_t je;
    json_t *o = json_pack("{s:s, s:i, s:i, s:o}", "name", w->name, "required", w->required,
                          "expires_hours", w->expires_hours, "created", api_time(w->created));

    json_object_set_new(o, "approvers",
                        w->approvers ? json_loads(w->approvers, 0, &je) : json_null());
    return o;
}

void api_workflow_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct workflow_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_workflow_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "workflow.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, workflow_json(list[i]));
    workflow_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "workflows", arr));
}

void api_workflow_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *name = http_param(req, "workflow");
    struct workflow_rec *w = NULL;
    struct err e;
    int rc = svc_workflow_find(api->svc, api_tenant(req), name, &w, &e);

    if (rc == 1)
        err_set(&e, ERR_NOT_FOUND, "workflow %s not found", name);
    if (rc != 0) {
        api_fail(api, req, resp, "workflow.read", name, &e);
        return;
    }
    http_respond_json(resp, 200, workflow_json(w));
    workflow_rec_free(w);
}

/* PUT .../workflows/{name} {"required": N, "approvers": [...], "expires_hours": H} */
void api_workflow_put(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *name = http_param(req, "workflow");
    json_t *body = api_body(api, req, resp, "workflow.put");
    long long required = 1, hours = 72;
    struct err e;

    if (body == NULL)
        return;
    if (api_int(body, "required", 1, 1000, &required, &e) != 0 ||
        api_int(body, "expires_hours", 1, 100000, &hours, &e) != 0 ||
        svc_workflow_put(api->svc, &a, api_tenant(req), name, (int)required,
                         json_object_get(body, "approvers"), (int)hours, &e) != 0) {
        api_fail(api, req, resp, "workflow.put", name, &e);
        json_decref(body);
        return;
    }
    json_decref(body);
    api_workflow_show(app, req, resp);
}

void api_workflow_delete(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct err e;

    if (svc_workflow_delete(api->svc, &a, api_tenant(req), http_param(req, "workflow"), &e) != 0)
        api_fail(api, req, resp, "workflow.delete", http_param(req, "workflow"), &e);
    else
        http_respond(resp, 204, NULL, NULL, 0);
}

/* ---- the webhook ------------------------------------------------------------------ */

void api_webhook_get(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct webhook_rec *w = NULL;
    struct err e;

    if (svc_webhook_get(api->svc, api_tenant(req), &w, &e) != 0) {
        api_fail(api, req, resp, "webhook.read", NULL, &e);
        return;
    }
    /* The secret was shown once, when it was made. */
    http_respond_json(resp, 200,
                      json_pack("{s:s, s:o}", "url", w->url, "created", api_time(w->created)));
    webhook_rec_free(w);
}

/* PUT .../webhook {"url": ...}: a new secret each time, shown in this answer only. */
void api_webhook_put(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "webhook.put");
    const char *url = NULL;
    char *secret = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "url", 1, &url, &e) != 0 ||
        svc_webhook_put(api->svc, &a, api_tenant(req), url, &secret, &e) != 0) {
        api_fail(api, req, resp, "webhook.put", NULL, &e);
    } else {
        http_respond_json(resp, 200, json_pack("{s:s, s:s}", "url", url, "secret", secret));
        secure_zero(secret, strlen(secret));
        free(secret);
    }
    json_decref(body);
}

void api_webhook_delete(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct err e;

    if (svc_webhook_delete(api->svc, &a, api_tenant(req), &e) != 0)
        api_fail(api, req, resp, "webhook.delete", NULL, &e);
    else
        http_respond(resp, 204, NULL, NULL, 0);
}

/* The updated member as RFC 3339 (null: never set), then the settings as the answer. */
static void notice_settings_respond(struct http_response *resp, json_t *settings)
{
    json_int_t t = json_integer_value(json_object_get(settings, "updated"));

    json_object_set_new(settings, "updated", t > 0 ? api_time(t) : json_null());
    http_respond_json(resp, 200, settings);
}

/* GET .../notices/settings: the tenant's expiry notice settings (docs/api.md). */
void api_notice_settings_get(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    json_t *out = NULL;
    struct err e;

    if (svc_notice_settings_get(api->svc, api_tenant(req), &out, &e) != 0)
        api_fail(api, req, resp, "notice.read", NULL, &e);
    else
        notice_settings_respond(resp, out);
}

/* PUT .../notices/settings {"enabled", "thresholds", "recipients"}: replaces them. */
void api_notice_settings_put(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "notice.settings"), *out = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (svc_notice_settings_put(api->svc, &a, api_tenant(req), body, &out, &e) != 0)
        api_fail(api, req, resp, "notice.settings", NULL, &e);
    else
        notice_settings_respond(resp, out);
    json_decref(body);
}

/* GET .../notices?state=&limit=&offset=: the notices decided, newest first. */
void api_notice_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct notice_rec **list = NULL;
    int limit = 100, offset = 0;
    json_t *rows = json_array();
    size_t n = 0;
    struct err e;

    if (api_query_int(req, "limit", 1, 1000, &limit, &e) != 0 ||
        api_query_int(req, "offset", 0, 1000000000, &offset, &e) != 0 ||
        svc_notice_list(api->svc, api_tenant(req), http_query(req, "state"), limit, offset, &list,
                        &n, &e) != 0) {
        json_decref(rows);
        api_fail(api, req, resp, "notice.read", NULL, &e);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct notice_rec *r = list[i];
        json_array_append_new(
            rows,
            json_pack("{s:s, s:s, s:I, s:s, s:I, s:o, s:o, s:o}", "serial", r->serial, "kind",
                      r->kind, "threshold_days", (json_int_t)r->threshold, "state", r->state,
                      "attempts", (json_int_t)r->attempts, "created", api_time(r->created),
                      "sent_at", r->sent_at > 0 ? api_time(r->sent_at) : json_null(), "next_try",
                      strcmp(r->state, "pending") == 0 ? api_time(r->next_try) : json_null()));
    }
    notice_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "notices", rows));
}
