/* api_common.c — request parsing, record rendering and audited refusals. */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/profile.h"
#include "lib/json_field.h"
#include "lib/log.h"

const char *api_tenant(const struct http_request *req)
{
    return http_param(req, "tenant");
}

struct actor api_actor(const struct http_request *req)
{
    const struct principal *p = req->principal;
    static const char *const none[] = {NULL};
    struct actor a = {.id = p ? p->token_id : "anonymous",
                      .principal = p ? p->id : NULL,
                      .roles = p && p->roles ? (const char *const *)p->roles : none,
                      .nroles = p ? p->nroles : 0,
                      .creators = p ? p->creators : NULL};
    return a;
}

void api_refused(struct http_request *req, struct http_response *resp, const char *action,
                 const struct err *e)
{
    struct err copy = *e;

    if (copy.kind == ERR_NONE) {
        copy.kind = ERR_INTERNAL;
        snprintf(copy.code, sizeof(copy.code), "%s", err_kind_word(ERR_INTERNAL));
    }
    if (http_status_of(copy.kind) >= 500)
        log_error("req %s tenant %s %s: %s", req->request_id,
                  api_tenant(req) ? api_tenant(req) : "-", action, copy.msg);
    if (copy.kind == ERR_LIMIT) /* a quota: an hour's window, so try again in a minute */
        http_add_header(resp, "Retry-After", "60");
    http_respond_err(resp, &copy);
}

void api_fail(struct api *api, struct http_request *req, struct http_response *resp,
              const char *action, const char *object, const struct err *e)
{
    struct actor a = api_actor(req);
    struct err copy = *e;

    if (copy.kind == ERR_NONE)
        err_set(&copy, ERR_INTERNAL, "%s", e->msg);
    svc_audit_refusal(api->svc, api_tenant(req), &a, action, object, &copy);
    api_refused(req, resp, action, &copy);
}

void api_respond_outcome(struct api *api, struct http_response *resp, const struct svc_outcome *o,
                         int status, int der)
{
    json_t *body;
    char *b64;

    if (o->replayed)
        http_add_header(resp, "Idempotent-Replayed", "true");
    if (o->pending) {
        http_respond_json(resp, 202, api_request_json(o->request));
        return;
    }
    if (o->ca != NULL) {
        http_respond_json(resp, status, api_ca_json(api, o->ca));
        return;
    }
    if (o->binding != NULL) {
        http_respond_json(resp, status,
                          json_pack("{s:s, s:s, s:s, s:b}", "principal_tenant",
                                    o->binding->principal_tenant, "principal",
                                    o->binding->principal, "role", o->binding->role, "bound", 1));
        return;
    }
    body = api_cert_json(api, o->cert, der);
    if (o->pkcs12 != NULL) {
        b64 = base64_encode(o->pkcs12, o->pkcs12_len);
        json_object_set_new(body, "pkcs12", json_string(b64));
        secure_zero(b64, strlen(b64));
        free(b64);
    }
    http_respond_json(resp, status, body);
}

/* The HTTP status an operation answers with when it is done. */
static int done_status(const char *kind)
{
    return strcmp(kind, "cert.revoke") == 0 || strcmp(kind, "cert.suspend") == 0 ||
                   strcmp(kind, "cert.reinstate") == 0
               ? 200
               : 201;
}

json_t *api_request_json(const struct request_rec *r)
{
    json_t *o = svc_request_json(r), *result = json_object_get(o, "result"), *v;
    json_t *error = json_object_get(result, "error");

    /* A request's result in the REST API's terms: {"status", "body"} as the call would answer. */
    if (json_is_object(error)) {
        v = json_pack(
            "{s:i, s:{s:O, s:O}}", "status",
            http_status_of(err_kind_parse(json_string_value(json_object_get(error, "kind")))),
            "body", "error", json_object_get(error, "code"), "detail",
            json_object_get(error, "detail"));
        json_object_set_new(o, "result", v);
    } else if (json_is_object(result) && (v = json_object_get(result, "certificate")) != NULL) {
        json_object_set_new(o, "result",
                            json_pack("{s:i, s:O}", "status", done_status(r->kind), "body", v));
    } else if (json_is_object(result) && ((v = json_object_get(result, "ca")) != NULL ||
                                          (v = json_object_get(result, "binding")) != NULL)) {
        json_object_set_new(o, "result", json_pack("{s:i, s:O}", "status", 201, "body", v));
    }
    return o; /* a result stored before schema 14 is in those terms already */
}

json_t *api_body(struct api *api, struct http_request *req, struct http_response *resp,
                 const char *action)
{
    json_error_t jerr;
    struct err e;
    json_t *o = NULL;

    if (req->body != NULL && req->body_len > 0)
        o = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    else
        snprintf(jerr.text, sizeof(jerr.text), "empty body");
    if (!json_is_object(o)) {
        if (o != NULL)
            snprintf(jerr.text, sizeof(jerr.text), "not a JSON object");
        json_decref(o);
        err_set(&e, ERR_INVALID, "body: %s", jerr.text);
        api_fail(api, req, resp, action, NULL, &e);
        return NULL;
    }
    return o;
}

int api_str(json_t *o, const char *key, int required, const char **out, struct err *e)
{
    return json_field_str(o, key, required, out, e);
}

int api_int(json_t *o, const char *key, long long min, long long max, long long *out, struct err *e)
{
    return json_field_int(o, key, min, max, out, e);
}

int api_bool(json_t *o, const char *key, int *out, struct err *e)
{
    return json_field_bool(o, key, out, e);
}

int api_query_int(struct http_request *req, const char *name, int min, int max, int *out,
                  struct err *e)
{
    const char *v = http_query(req, name);
    char *end;
    long n;

    if (v == NULL)
        return 0;
    n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < min || n > max)
        return err_set(e, ERR_INVALID, "%s: an integer from %d to %d", name, min, max);
    *out = (int)n;
    return 0;
}

json_t *api_time(int64_t t)
{
    return svc_time_json(t);
}

char *api_pem(const char *label, const unsigned char *der, size_t len)
{
    return svc_pem(label, der, len);
}

static json_t *nullable(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *api_ca_json(struct api *api, const struct ca_rec *r)
{
    return svc_ca_json(api->svc, r);
}

json_t *api_cert_json(struct api *api, const struct cert_rec *r, int der)
{
    return svc_cert_json(api->svc, r, der);
}

json_t *api_entity_json(const struct entity_rec *r)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "kind", json_string(r->kind));
    json_object_set_new(o, "email", nullable(r->email));
    json_object_set_new(o, "manufacturer", nullable(r->manufacturer));
    json_object_set_new(o, "model", nullable(r->model));
    json_object_set_new(o, "serial_number", nullable(r->serial_number));
    json_object_set_new(o, "metadata",
                        json_loads(r->metadata_json ? r->metadata_json : "{}", 0, NULL));
    json_object_set_new(o, "created", api_time(r->created));
    return o;
}

/* Appends the PEM of der as the contents of a JSON string (newlines as \n). */
static void pem_json_append(struct buf *b, const char *label, const unsigned char *der, size_t len)
{
    char line[80];
    size_t need = b->len + (len + 47) / 48 * 66 + 128;

    if (b->cap < need) {
        b->data = xrealloc(b->data, need);
        b->cap = need;
    }
    snprintf(line, sizeof(line), "-----BEGIN %s-----\\n", label);
    buf_append(b, line, strlen(line));
    for (size_t i = 0; i < len; i += 48) {
        int n = EVP_EncodeBlock((unsigned char *)line, der + i, (int)(len - i < 48 ? len - i : 48));
        memcpy(line + n, "\\n", 2);
        buf_append(b, line, (size_t)n + 2);
    }
    snprintf(line, sizeof(line), "-----END %s-----\\n", label);
    buf_append(b, line, strlen(line));
}

void api_respond_crl(struct http_response *resp, int status, const struct crl_rec *r)
{
    json_t *o = json_object();
    struct buf b = {0};
    char *head;

    json_object_set_new(o, "ca", json_string(r->ca));
    json_object_set_new(o, "shard", json_integer(r->shard));
    json_object_set_new(o, "delta_base",
                        r->delta_base > 0 ? json_integer(r->delta_base) : json_null());
    json_object_set_new(o, "number", json_integer(r->number));
    json_object_set_new(o, "this_update", api_time(r->this_update));
    json_object_set_new(o, "next_update", api_time(r->next_update));
    head = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    buf_append(&b, head, strlen(head) - 1); /* without its closing brace */
    buf_append(&b, ",\"crl\":\"", 8);
    pem_json_append(&b, "X509 CRL", r->der, r->der_len);
    buf_append(&b, "\"}", 2);
    http_respond(resp, status, "application/json", b.data, b.len);
    buf_free(&b);
    free(head);
}

STACK_OF(X509) * api_parse_certs(const char *text, const char *field, struct err *e)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *bio = BIO_new_mem_buf(text, -1);
    X509 *x;

    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    ERR_clear_error();
    BIO_free(bio);
    if (sk_X509_num(sk) == 0) {
        sk_X509_free(sk);
        err_set(e, ERR_INVALID, "%s: no PEM certificate found", field);
        return NULL;
    }
    return sk;
}
