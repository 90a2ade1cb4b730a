/*
 * api_cert.c — certificate routes (docs/api.md "Certificates").
 *
 * Transport only: each handler reads its operation from the body (and the
 * serial from the path), submits it to svc (svc_submit: workflows, quotas,
 * the Idempotency-Key, audit) and answers what came back — the certificate,
 * or 202 with the request waiting for approval.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/profile.h"

/* "der" (base64 DER in JSON) or "pem" (default). */
static int format_der(json_t *b, struct err *e)
{
    const char *f = NULL;

    if (api_str(b, "format", 0, &f, e) != 0)
        return -1;
    if (f == NULL || strcmp(f, "pem") == 0)
        return 0;
    if (strcmp(f, "der") == 0)
        return 1;
    return err_set(e, ERR_INVALID, "format: pem or der");
}

/*
 * Submits op for the request's tenant and principal and answers: `status`
 * with the certificate, 202 with a pending request, the error otherwise (svc
 * audited the refusal).  With an Idempotency-Key header the operation is
 * filed under the key: the same request again gets the same outcome, marked
 * Idempotent-Replayed.
 */
static void submit(struct api *api, struct http_request *req, struct http_response *resp,
                   const struct svc_op *op, int status, int der)
{
    struct actor a = api_actor(req);
    struct svc_outcome out;
    struct err e;

    if (svc_submit(api->svc, &a, api_tenant(req), op, http_header(req, "Idempotency-Key"), &out,
                   &e) != 0) {
        api_refused(req, resp, svc_op_name(op->kind), &e);
        return;
    }
    api_respond_outcome(api, resp, &out, status, der);
    svc_outcome_clear(&out);
}

/* Reads the body as an operation of kind (serial from the path); NULL answered if it is not one. */
static json_t *op_read(struct api *api, struct http_request *req, struct http_response *resp,
                       enum svc_op_kind kind, struct svc_op *op)
{
    const char *action = svc_op_name(kind);
    json_t *body = api_body(api, req, resp, action);
    struct err e;

    if (body == NULL)
        return NULL;
    if (svc_op_parse(kind, body, op, &e) != 0) {
        api_fail(api, req, resp, action, http_param(req, "serial"), &e);
        json_decref(body);
        return NULL;
    }
    if (http_param(req, "serial") != NULL)
        op->serial = http_param(req, "serial");
    return body;
}

void api_cert_issue(void *app, struct http_request *req, struct http_response *resp)
{
    struct svc_op op;
    json_t *body = op_read(app, req, resp, SVC_OP_CERT_ISSUE, &op);
    struct err e;
    int der;

    if (body == NULL)
        return;
    if ((der = format_der(body, &e)) < 0)
        api_fail(app, req, resp, "cert.issue", NULL, &e);
    else
        submit(app, req, resp, &op, 201, der);
    json_decref(body);
}

void api_cert_keygen(void *app, struct http_request *req, struct http_response *resp)
{
    struct svc_op op;
    json_t *body = op_read(app, req, resp, SVC_OP_CERT_KEYGEN, &op);

    if (body == NULL)
        return;
    submit(app, req, resp, &op, 201, 0);
    json_decref(body);
}

void api_cert_renew(void *app, struct http_request *req, struct http_response *resp)
{
    struct svc_op op;
    json_t *body = op_read(app, req, resp, SVC_OP_CERT_RENEW, &op);

    if (body == NULL)
        return;
    submit(app, req, resp, &op, 201, 0);
    json_decref(body);
}

void api_cert_revoke(void *app, struct http_request *req, struct http_response *resp)
{
    struct svc_op op;
    json_t *body = op_read(app, req, resp, SVC_OP_CERT_REVOKE, &op);

    if (body == NULL)
        return;
    submit(app, req, resp, &op, 200, 0);
    json_decref(body);
}

/* Suspension and reinstatement name the certificate only; a body, if any, is not read. */
static void status_route(struct api *api, struct http_request *req, struct http_response *resp,
                         enum svc_op_kind kind)
{
    struct svc_op op = {.kind = kind, .serial = http_param(req, "serial")};

    submit(api, req, resp, &op, 200, 0);
}

void api_cert_suspend(void *app, struct http_request *req, struct http_response *resp)
{
    status_route(app, req, resp, SVC_OP_CERT_SUSPEND);
}

void api_cert_reinstate(void *app, struct http_request *req, struct http_response *resp)
{
    status_route(app, req, resp, SVC_OP_CERT_REINSTATE);
}

/* ---- reading -------------------------------------------------------------------- */

static int query_time(struct http_request *req, const char *name, int64_t *out, struct err *e)
{
    const char *v = http_query(req, name);

    if (v == NULL)
        return 0;
    if (time_parse(v, out) != 0)
        return err_set(e, ERR_INVALID, "%s: not an RFC 3339 UTC time", name);
    return 0;
}

static void respond_list(struct api *api, struct http_request *req, struct http_response *resp,
                         const struct cert_query *q, const char *action)
{
    struct actor a = api_actor(req);
    struct cert_rec **list = NULL;
    int64_t total = 0, next;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_cert_search(api->svc, &a, api_tenant(req), q, &list, &n, &e) != 0 ||
        svc_cert_total(api->svc, &a, api_tenant(req), q, &total, &e) != 0) {
        cert_rec_list_free(list, n);
        api_fail(api, req, resp, action, NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_cert_json(api, list[i], 0));
    cert_rec_list_free(list, n);
    /* The page's place in the whole: how many there are, and where the next page starts. */
    next = (int64_t)q->offset + (int64_t)n;
    http_respond_json(resp, 200,
                      json_pack("{s:o, s:I, s:o}", "certificates", arr, "total", (json_int_t)total,
                                "next_offset",
                                n > 0 && next < total ? json_integer(next) : json_null()));
}

void api_cert_search(void *app, struct http_request *req, struct http_response *resp)
{
    struct cert_query q = {0};
    char serial[160];
    struct err e;

    q.serial = http_query(req, "serial");
    if (q.serial != NULL && strlen(q.serial) < sizeof(serial)) { /* any notation, as in paths */
        snprintf(serial, sizeof(serial), "%s", q.serial);
        if (serial_canonicalize(serial))
            q.serial = serial;
    }
    q.subject = http_query(req, "subject");
    q.san = http_query(req, "san");
    q.status = http_query(req, "status");
    q.ca = http_query(req, "ca");
    q.entity_id = http_query(req, "entity");
    q.profile = http_query(req, "profile");
    if (query_time(req, "expires_after", &q.expires_after, &e) != 0 ||
        query_time(req, "expires_before", &q.expires_before, &e) != 0 ||
        api_query_int(req, "limit", 1, 1000, &q.limit, &e) != 0 ||
        api_query_int(req, "offset", 0, 1000000000, &q.offset, &e) != 0) {
        api_fail(app, req, resp, "cert.search", NULL, &e);
        return;
    }
    respond_list(app, req, resp, &q, "cert.search");
}

void api_cert_expiring(void *app, struct http_request *req, struct http_response *resp)
{
    struct cert_query q = {0};
    int days = 30;
    struct err e;

    if (api_query_int(req, "days", 1, 3650, &days, &e) != 0 ||
        api_query_int(req, "limit", 1, 1000, &q.limit, &e) != 0) {
        api_fail(app, req, resp, "cert.expiring", NULL, &e);
        return;
    }
    q.status = "good";
    q.expires_after = time_now();
    q.expires_before = time_now() + (int64_t)days * 86400;
    respond_list(app, req, resp, &q, "cert.expiring");
}

void api_cert_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *serial = http_param(req, "serial"), *format = http_query(req, "format");
    struct cert_rec *rec = NULL;
    struct err e;

    if (svc_cert_get(api->svc, &a, api_tenant(req), serial, &rec, &e) != 0) {
        api_fail(api, req, resp, "cert.read", serial, &e);
        return;
    }
    http_respond_json(resp, 200, api_cert_json(api, rec, format && strcmp(format, "der") == 0));
    cert_rec_free(rec);
}
