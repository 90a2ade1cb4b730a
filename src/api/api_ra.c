/*
 * api_ra.c — approval workflows, the requests waiting for them, and the
 * tenant's webhook (docs/api.md "Approvals").
 *
 * An operation under a workflow (issuance or renewal under a profile,
 * revocation, suspension, CA creation) is answered 202 with a pending request
 * instead of being done: api_gate, called by its handler once the input
 * checked out.  The approval that completes a request carries the operation
 * out by calling the same handler again with the request as it was submitted,
 * on behalf of its requester, and records what it answered.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* The operations that can wait for approval, and their handlers. */
static const struct {
    const char *kind;
    http_handler handler;
} gated[] = {
    {"cert.issue", api_cert_issue},   {"cert.renew", api_cert_renew},
    {"cert.revoke", api_cert_revoke}, {"cert.suspend", api_cert_suspend},
    {"ca.create", api_ca_create},
};

int api_gate(struct api *api, struct http_request *req, struct http_response *resp,
             const char *kind, const char *workflow, const char *object, json_t *body)
{
    const struct principal *p = req->principal;
    struct actor a = api_actor(req);
    struct workflow_rec *wf = NULL;
    struct request_rec *r = NULL;
    json_t *path, *params, *roles;
    struct err e;
    int rc;

    if (p != NULL && p->approved)
        return 0; /* the approved request, being carried out */
    rc = svc_workflow_find(api->svc, api_tenant(req), workflow, &wf, &e);
    if (rc == 1)
        return 0;
    if (rc == 0 && strcmp(kind, "cert.keygen") == 0) {
        /* A waiting request would have to keep the PKCS#12 password. */
        err_set(&e, ERR_CONFLICT, "%s needs approval: request it with a CSR (POST /certificates)",
                object);
        rc = -1;
    }
    if (rc == 0) {
        path = json_object();
        for (int i = 0; i < req->nparams && i < HTTP_MAX_PARAMS; i++)
            if (strcmp(req->param_names[i], "tenant") != 0)
                json_object_set_new(path, req->param_names[i], json_string(req->param_values[i]));
        /* The requester's roles now: the request is carried out with them. */
        roles = json_array();
        for (size_t i = 0; p != NULL && i < p->nroles; i++)
            json_array_append_new(roles, json_string(p->roles[i]));
        params = json_pack("{s:o, s:O, s:o}", "path", path, "body", body ? body : json_null(),
                           "roles", roles);
        rc = svc_request_submit(api->svc, &a, api_tenant(req), kind, object, params, wf, &r, &e);
        json_decref(params);
    }
    workflow_rec_free(wf);
    if (rc != 0) {
        api_fail(api, req, resp, kind, object, &e);
        return -1;
    }
    http_respond_json(resp, 202, svc_request_json(r));
    request_rec_free(r);
    return 1;
}

/*
 * Carries out approved request r: its handler with the request as submitted,
 * on behalf of its requester; *result: {"status", "body"} of the answer.
 */
static int request_execute(struct api *api, struct http_request *orig, const struct request_rec *r,
                           json_t **result)
{
    struct principal who = {.tenant = (char *)api_tenant(orig),
                            .id = r->requester,
                            .token_id = r->requester,
                            .approved = 1};
    char *roles[16];
    struct http_request q = {.method = "POST",
                             .path = orig->path,
                             .request_id = orig->request_id,
                             .remote_addr = orig->remote_addr,
                             .content_type = "application/json",
                             .principal = &who};
    struct http_response out = {0};
    http_handler handler = NULL;
    json_error_t je;
    json_t *params = json_loads(r->params, 0, &je), *v;
    const char *name;
    char *body;
    int status;
    size_t i;

    for (i = 0; i < ARRAY_LEN(gated); i++)
        if (strcmp(gated[i].kind, r->kind) == 0)
            handler = gated[i].handler;
    if (handler == NULL || !json_is_object(params)) {
        json_decref(params);
        *result = json_pack("{s:s}", "error", "the stored request cannot be carried out");
        return -1;
    }
    json_array_foreach(json_object_get(params, "roles"), i, v)
    {
        if (who.nroles < ARRAY_LEN(roles) && json_is_string(v))
            roles[who.nroles++] = (char *)json_string_value(v);
    }
    who.roles = roles;
    q.param_names[0] = "tenant";
    q.param_values[0] = who.tenant;
    q.nparams = 1;
    json_object_foreach(json_object_get(params, "path"), name, v)
    {
        if (q.nparams < HTTP_MAX_PARAMS && json_is_string(v)) {
            q.param_names[q.nparams] = name;
            q.param_values[q.nparams++] = json_string_value(v);
        }
    }
    body = json_dumps(json_object_get(params, "body"), JSON_COMPACT | JSON_ENCODE_ANY);
    q.body = (const unsigned char *)body;
    q.body_len = strlen(body);
    handler(api, &q, &out);
    status = out.status;
    v = out.body_len ? json_loadb((const char *)out.body, out.body_len, 0, &je) : NULL;
    *result = json_pack("{s:i, s:o}", "status", status, "body", v ? v : json_null());
    free(body);
    json_decref(params);
    http_response_clear(&out);
    return status >= 200 && status < 300 ? 0 : -1;
}

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
        json_array_append_new(arr, svc_request_json(list[i]));
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
    http_respond_json(resp, 200, svc_request_json(r));
    request_rec_free(r);
}

void api_request_approve(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req), requester = {0};
    const char *id = http_param(req, "request");
    struct request_rec *r = NULL;
    json_t *result = NULL;
    struct err e;
    int ready = 0, ok;

    if (svc_request_approve(api->svc, &a, api_tenant(req), id, &r, &ready, &e) != 0) {
        api_fail(api, req, resp, "request.approve", id, &e);
        return;
    }
    if (ready) {
        ok = request_execute(api, req, r, &result) == 0;
        requester.id = r->requester;
        requester.principal = r->requester;
        if (svc_request_finish(api->svc, &requester, api_tenant(req), r, ok, result, NULL, &e))
            log_error("tenant %s: request %s carried out, outcome not recorded: %s",
                      api_tenant(req), id, e.msg);
        json_decref(result);
    }
    http_respond_json(resp, 200, svc_request_json(r));
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
        http_respond_json(resp, 200, svc_request_json(r));
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
