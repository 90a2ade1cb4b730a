/* api_cert.c — certificate routes (docs/api.md "Certificates"). */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/profile.h"

static int issue_params_parse(json_t *b, struct issue_params *p, struct err *e)
{
    long long days = 0;

    memset(p, 0, sizeof(*p));
    if (api_str(b, "ca", 1, &p->ca, e) || api_str(b, "profile", 1, &p->profile, e) ||
        api_str(b, "entity", 0, &p->entity_id, e) ||
        api_int(b, "validity_days", 1, 36500, &days, e))
        return -1;
    p->validity_days = (long)days;
    return 0;
}

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

/* The approval gate of issuance under `profile` (api_gate). */
static int profile_gate(struct api *api, struct http_request *req, struct http_response *resp,
                        const char *kind, const char *profile, json_t *body)
{
    char *workflow = xasprintf("profile:%s", profile ? profile : "");
    int rc = api_gate(api, req, resp, kind, workflow, profile, body);

    free(workflow);
    return rc;
}

/* The certificate `serial` of the request's tenant; 404 if none. */
static int cert_read(struct api *api, struct http_request *req, const char *serial,
                     struct cert_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(api->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_cert_get(tx, api_tenant(req), serial, out, e);
    store_rollback(tx);
    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "certificate %s not found", serial);
    return rc;
}

/* The approval gate of a status change of certificate `serial` (which must exist). */
static int serial_gate(struct api *api, struct http_request *req, struct http_response *resp,
                       const char *kind, const char *serial, json_t *body)
{
    struct cert_rec *rec = NULL;
    struct err e;

    if (cert_read(api, req, serial, &rec, &e) != 0) {
        api_fail(api, req, resp, kind, serial, &e);
        return -1;
    }
    cert_rec_free(rec);
    return api_gate(api, req, resp, kind, kind, serial, body);
}

static void respond_cert(struct api *api, struct http_response *resp, int status,
                         struct cert_rec *rec, int der)
{
    http_respond_json(resp, status, api_cert_json(api, rec, der));
    cert_rec_free(rec);
}

/* An Idempotency-Key: 1 to 64 letters, digits, '.', '_', ':' or '-'. */
static int idempotency_key_ok(const char *k)
{
    size_t n = strlen(k);

    return n >= 1 && n <= 64 &&
           strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

/*
 * The issuance that Idempotency-Key `key` already names, answered again (the
 * same certificate, 201, Idempotent-Replayed: true): 1 if answered, 0 if the
 * key names none (or one older than IDEMPOTENCY_KEEP_SECS), -1 with e set if
 * it names another request or another principal's (409) or on an error.
 */
static int idempotency_replay(struct api *api, struct http_request *req, struct http_response *resp,
                              const char *key, const char *hash, const char *who, int der,
                              struct err *e)
{
    struct store_tx *tx = store_begin_read(api->store, e);
    struct idempotency_rec *r = NULL;
    struct cert_rec *cert = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    if (store_idempotency_get(tx, api_tenant(req), key, &r, e) != 0) {
        store_rollback(tx);
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    }
    if (r->created < time_now() - IDEMPOTENCY_KEEP_SECS) {
        rc = 0;
    } else if (strcmp(r->principal, who) != 0 || strcmp(r->request_hash, hash) != 0) {
        rc = err_setc(e, ERR_CONFLICT, ERR_IDEMPOTENCY,
                      "Idempotency-Key %s was used for another request: use a new key", key);
    } else if (store_cert_get(tx, api_tenant(req), r->serial, &cert, e) != 0) {
        rc = -1;
    } else {
        http_add_header(resp, "Idempotent-Replayed", "true");
        respond_cert(api, resp, 201, cert, der);
        rc = 1;
    }
    store_rollback(tx);
    idempotency_rec_free(r);
    return rc;
}

/*
 * POST /certificates.  With an Idempotency-Key header the issuance is filed
 * under that key in the transaction of its certificate: the same request with
 * the same key (a client retrying after a lost answer) gets that certificate
 * again instead of a second one, for a day.
 */
void api_cert_issue(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "cert.issue");
    const char *key = http_header(req, "Idempotency-Key"), *who = a.principal ? a.principal : a.id;
    struct issue_params p;
    struct cert_rec *rec = NULL;
    unsigned char md[32];
    char *hash = NULL;
    const char *csr;
    struct err e, e2;
    int der, rc = 0;

    if (body == NULL)
        return;
    if (issue_params_parse(body, &p, &e) != 0 || api_str(body, "csr", 1, &csr, &e) != 0 ||
        (der = format_der(body, &e)) < 0 ||
        (key != NULL && !idempotency_key_ok(key) &&
         err_set(&e, ERR_INVALID,
                 "Idempotency-Key: 1 to 64 letters, digits, '.', '_', ':' or '-'"))) {
        api_fail(api, req, resp, "cert.issue", NULL, &e);
        goto out;
    }
    if (key != NULL) {
        SHA256(req->body, req->body_len, md);
        hash = hex_encode(md, sizeof(md));
        p.idempotency_key = key;
        p.request_hash = hash;
        if ((rc = idempotency_replay(api, req, resp, key, hash, who ? who : "", der, &e)) != 0)
            goto out;
    }
    if (profile_gate(api, req, resp, "cert.issue", p.profile, body) != 0)
        goto out;
    if (svc_cert_issue(api->svc, &a, api_tenant(req), &p, (const unsigned char *)csr, strlen(csr),
                       &rec, &e) == 0) {
        respond_cert(api, resp, 201, rec, der);
        goto out;
    }
    /* The same key filed at the same moment by a retry that won: answer with its certificate. */
    if (strcmp(e.code, ERR_IDEMPOTENCY) == 0 &&
        idempotency_replay(api, req, resp, key, hash, who ? who : "", der, &e2) == 1)
        goto out;
    api_fail(api, req, resp, "cert.issue", NULL, &e);
out:
    if (rc < 0)
        api_fail(api, req, resp, "cert.issue", NULL, &e);
    free(hash);
    json_decref(body);
}

void api_cert_keygen(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "cert.keygen");
    const char *subject, *key_type, *password;
    struct issue_params p;
    struct cert_rec *rec = NULL;
    unsigned char *p12 = NULL;
    size_t p12_len = 0;
    json_t *sans, *o;
    char *b64;
    struct err e;

    if (body == NULL)
        return;
    sans = json_object_get(body, "sans");
    if (issue_params_parse(body, &p, &e) || api_str(body, "subject", 0, &subject, &e) ||
        api_str(body, "key_type", 0, &key_type, &e) ||
        api_str(body, "password", 1, &password, &e) ||
        (sans != NULL && !json_is_array(sans) &&
         err_set(&e, ERR_INVALID, "sans: must be an array of strings"))) {
        api_fail(api, req, resp, "cert.keygen", NULL, &e);
        json_decref(body);
        return;
    }
    if (profile_gate(api, req, resp, "cert.keygen", p.profile, NULL) != 0 ||
        svc_cert_keygen(api->svc, &a, api_tenant(req), &p, subject, sans, key_type, password, &rec,
                        &p12, &p12_len, &e) != 0) {
        if (resp->status == 0)
            api_fail(api, req, resp, "cert.keygen", NULL, &e);
        json_decref(body);
        return;
    }
    o = api_cert_json(api, rec, 0);
    b64 = base64_encode(p12, p12_len);
    json_object_set_new(o, "pkcs12", json_string(b64));
    http_respond_json(resp, 201, o);
    free(b64);
    free(p12);
    cert_rec_free(rec);
    json_decref(body);
}

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
    struct store_tx *tx;
    struct cert_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if ((tx = store_begin_read(api->store, &e)) == NULL ||
        store_cert_search(tx, api_tenant(req), q, &list, &n, &e) != 0) {
        store_rollback(tx);
        api_fail(api, req, resp, action, NULL, &e);
        return;
    }
    store_rollback(tx);
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_cert_json(api, list[i], 0));
    cert_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "certificates", arr));
}

void api_cert_search(void *app, struct http_request *req, struct http_response *resp)
{
    struct cert_query q = {0};
    struct err e;

    q.serial = http_query(req, "serial");
    q.subject = http_query(req, "subject");
    q.san = http_query(req, "san");
    q.status = http_query(req, "status");
    q.ca = http_query(req, "ca");
    q.entity_id = http_query(req, "entity");
    q.profile = http_query(req, "profile");
    q.requester = api_own_only(req, "cert.read");
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
    q.requester = api_own_only(req, "cert.read");
    q.expires_after = time_now();
    q.expires_before = time_now() + (int64_t)days * 86400;
    respond_list(app, req, resp, &q, "cert.expiring");
}

/* Whether the request may see rec: always, unless it reads only its own certificates. */
static int cert_mine(const struct http_request *req, const struct cert_rec *rec)
{
    const char *own = api_own_only(req, "cert.read");

    return own == NULL || (rec->requester != NULL && strcmp(rec->requester, own) == 0);
}

/* 0 if the request may act on certificate serial (its own, for a requester); 404 otherwise. */
static int cert_check_mine(struct api *api, struct http_request *req, const char *serial,
                           struct err *e)
{
    struct store_tx *tx;
    struct cert_rec *rec = NULL;
    int rc;

    if (api_own_only(req, "cert.read") == NULL)
        return 0;
    if ((tx = store_begin_read(api->store, e)) == NULL)
        return -1;
    rc = store_cert_get(tx, api_tenant(req), serial, &rec, e);
    store_rollback(tx);
    if (rc == 0 && !cert_mine(req, rec))
        rc = -1;
    cert_rec_free(rec);
    return rc == 0 ? 0 : err_set(e, ERR_NOT_FOUND, "certificate %s not found", serial);
}

void api_cert_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *serial = http_param(req, "serial"), *format = http_query(req, "format");
    struct store_tx *tx;
    struct cert_rec *rec = NULL;
    struct err e;
    int rc;

    if ((tx = store_begin_read(api->store, &e)) == NULL) {
        api_fail(api, req, resp, "cert.read", serial, &e);
        return;
    }
    rc = store_cert_get(tx, api_tenant(req), serial, &rec, &e);
    store_rollback(tx);
    if (rc == 0 && !cert_mine(req, rec)) {
        cert_rec_free(rec);
        rc = err_set(&e, ERR_NOT_FOUND, "not found");
    }
    if (rc != 0) {
        if (e.kind == ERR_NOT_FOUND)
            err_set(&e, ERR_NOT_FOUND, "certificate %s not found", serial);
        api_fail(api, req, resp, "cert.read", serial, &e);
        return;
    }
    respond_cert(api, resp, 200, rec, format && strcmp(format, "der") == 0);
}

void api_cert_revoke(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *serial = http_param(req, "serial"), *reason_s = NULL, *inv_s = NULL;
    json_t *body = api_body(api, req, resp, "cert.revoke");
    struct cert_rec *rec = NULL;
    int64_t invalidity = 0;
    int reason = 0, rc;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "reason", 0, &reason_s, &e) ||
        api_str(body, "invalidity_date", 0, &inv_s, &e))
        goto fail;
    if (reason_s != NULL && (reason = crl_reason_parse(reason_s)) < 0) {
        err_set(&e, ERR_INVALID, "reason: unknown reason \"%s\"", reason_s);
        goto fail;
    }
    if (inv_s != NULL && time_parse(inv_s, &invalidity) != 0) {
        err_set(&e, ERR_INVALID, "invalidity_date: not an RFC 3339 UTC time");
        goto fail;
    }
    if ((rc = serial_gate(api, req, resp, "cert.revoke", serial, body)) != 0) {
        json_decref(body);
        return;
    }
    if (svc_cert_revoke(api->svc, &a, api_tenant(req), serial, reason, invalidity, &rec, &e) != 0)
        goto fail;
    respond_cert(api, resp, 200, rec, 0);
    json_decref(body);
    return;
fail:
    api_fail(api, req, resp, "cert.revoke", serial, &e);
    json_decref(body);
}

typedef int (*status_fn)(struct svc *, const struct actor *, const char *, const char *,
                         struct cert_rec **, struct err *);

static void status_route(struct api *api, struct http_request *req, struct http_response *resp,
                         status_fn fn, const char *action)
{
    struct actor a = api_actor(req);
    const char *serial = http_param(req, "serial");
    struct cert_rec *rec = NULL;
    struct err e;

    if (strcmp(action, "cert.suspend") == 0 &&
        serial_gate(api, req, resp, action, serial, NULL) != 0)
        return;
    if (fn(api->svc, &a, api_tenant(req), serial, &rec, &e) != 0)
        api_fail(api, req, resp, action, serial, &e);
    else
        respond_cert(api, resp, 200, rec, 0);
}

void api_cert_suspend(void *app, struct http_request *req, struct http_response *resp)
{
    status_route(app, req, resp, svc_cert_suspend, "cert.suspend");
}

void api_cert_reinstate(void *app, struct http_request *req, struct http_response *resp)
{
    status_route(app, req, resp, svc_cert_reinstate, "cert.reinstate");
}

void api_cert_renew(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *serial = http_param(req, "serial"), *csr = NULL;
    json_t *body = api_body(api, req, resp, "cert.renew");
    struct cert_rec *rec = NULL;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "csr", 0, &csr, &e) != 0 || cert_check_mine(api, req, serial, &e) != 0 ||
        cert_read(api, req, serial, &rec, &e) != 0) {
        api_fail(api, req, resp, "cert.renew", serial, &e);
    } else if (profile_gate(api, req, resp, "cert.renew", rec->profile, body) == 0) {
        cert_rec_free(rec);
        rec = NULL;
        if (svc_cert_renew(api->svc, &a, api_tenant(req), serial, (const unsigned char *)csr,
                           csr ? strlen(csr) : 0, &rec, &e) != 0)
            api_fail(api, req, resp, "cert.renew", serial, &e);
        else
            respond_cert(api, resp, 201, rec, 0), rec = NULL;
    }
    cert_rec_free(rec);
    json_decref(body);
}
