/* api_ca.c — CA and CRL routes (docs/api.md "CAs"). */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "core/profile.h"

static void respond_ca(struct api *api, struct http_response *resp, int status, struct ca_rec *rec)
{
    http_respond_json(resp, status, api_ca_json(api, rec));
    ca_rec_free(rec);
}

/* POST /cas: the operation goes to svc_submit (approval, audit); 201 with the CA or 202. */
void api_ca_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "ca.create");
    struct svc_outcome out;
    struct svc_op op;
    struct err e;

    if (body == NULL)
        return;
    if (svc_op_parse(SVC_OP_CA_CREATE, body, &op, &e) != 0) {
        api_fail(api, req, resp, "ca.create", op.ca_req.name, &e);
    } else if (svc_submit(api->svc, &a, api_tenant(req), &op, http_header(req, "Idempotency-Key"),
                          &out, &e) != 0) {
        api_refused(req, resp, "ca.create", &e);
    } else {
        api_respond_outcome(api, resp, &out, 201, 0);
        svc_outcome_clear(&out);
    }
    json_decref(body);
}

static void ca_list_respond(struct api *api, struct http_request *req, struct http_response *resp)
{
    struct ca_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_ca_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "ca.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, api_ca_json(api, list[i]));
        ca_rec_free(list[i]);
    }
    free(list);
    http_respond_json(resp, 200, json_pack("{s:o}", "cas", arr));
}

void api_ca_list(void *app, struct http_request *req, struct http_response *resp)
{
    ca_list_respond(app, req, resp);
}

/* Reads the CA of the path; answers 404 (audited) and returns NULL if absent. */
static struct ca_rec *ca_of_path(struct api *api, struct http_request *req,
                                 struct http_response *resp, const char *action)
{
    const char *name = http_param(req, "ca");
    struct ca_rec *rec = NULL;
    struct err e;

    if (svc_ca_get(api->svc, api_tenant(req), name, &rec, &e) != 0) {
        api_fail(api, req, resp, action, name, &e);
        return NULL;
    }
    return rec;
}

void api_ca_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct ca_rec *rec = ca_of_path(app, req, resp, "ca.read");

    if (rec != NULL)
        respond_ca(app, resp, 200, rec);
}

void api_ca_csr(void *app, struct http_request *req, struct http_response *resp)
{
    struct ca_rec *rec = ca_of_path(app, req, resp, "ca.read");
    struct err e;
    char *pem;

    if (rec == NULL)
        return;
    if (rec->csr_der == NULL) {
        err_set(&e, ERR_NOT_FOUND, "CA %s has no CSR (it was not created as external)", rec->name);
        api_fail(app, req, resp, "ca.csr", rec->name, &e);
    } else {
        pem = api_pem("CERTIFICATE REQUEST", rec->csr_der, rec->csr_len);
        http_respond_json(resp, 200, json_pack("{s:s, s:s}", "name", rec->name, "csr", pem));
        free(pem);
    }
    ca_rec_free(rec);
}

void api_ca_import_cert(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *name = http_param(req, "ca"), *cert_pem, *chain_pem;
    json_t *body = api_body(api, req, resp, "ca.import_certificate");
    STACK_OF(X509) *certs = NULL, *chain = NULL;
    unsigned char *der = NULL;
    struct ca_rec *rec = NULL;
    struct err e;
    int len;

    if (body == NULL)
        return;
    if (api_str(body, "certificate", 1, &cert_pem, &e) != 0 ||
        api_str(body, "chain", 0, &chain_pem, &e) != 0 ||
        (certs = api_parse_certs(cert_pem, "certificate", &e)) == NULL ||
        (chain_pem != NULL && (chain = api_parse_certs(chain_pem, "chain", &e)) == NULL))
        goto fail;
    len = i2d_X509(sk_X509_value(certs, 0), &der);
    if (svc_ca_import_cert(api->svc, &a, api_tenant(req), name, der, (size_t)len, chain, &rec,
                           &e) != 0)
        goto fail;
    respond_ca(api, resp, 200, rec);
    goto out;
fail:
    api_fail(api, req, resp, "ca.import_certificate", name, &e);
out:
    OPENSSL_free(der);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(chain, X509_free);
    json_decref(body);
}

void api_ca_disable(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *name = http_param(req, "ca");
    struct ca_rec *rec = NULL;
    struct err e;

    if (svc_ca_disable(api->svc, &a, api_tenant(req), name, &rec, &e) != 0)
        api_fail(api, req, resp, "ca.disable", name, &e);
    else
        respond_ca(api, resp, 200, rec);
}

/* The import body: a PKCS#12 (base64) with password, or a PEM key + certificate. */
void api_ca_import(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "ca.import");
    const char *name = NULL, *p12_b64, *password, *key_pem, *cert_pem, *chain_pem;
    STACK_OF(X509) *certs = NULL, *chain = NULL;
    unsigned char *p12 = NULL;
    size_t p12_len = 0;
    struct ca_rec *rec = NULL;
    struct err e;
    int rc;

    if (body == NULL)
        return;
    if (api_str(body, "name", 1, &name, &e) || api_str(body, "pkcs12", 0, &p12_b64, &e) ||
        api_str(body, "password", 0, &password, &e) || api_str(body, "key", 0, &key_pem, &e) ||
        api_str(body, "certificate", 0, &cert_pem, &e) || api_str(body, "chain", 0, &chain_pem, &e))
        goto fail;
    if (p12_b64 != NULL) {
        if ((p12 = base64_decode(p12_b64, &p12_len)) == NULL) {
            err_set(&e, ERR_INVALID, "pkcs12: not base64");
            goto fail;
        }
        rc = svc_ca_import(api->svc, &a, api_tenant(req), name, SIGNER_IMPORT_PKCS12, p12, p12_len,
                           password ? password : "", NULL, NULL, &rec, &e);
    } else if (key_pem != NULL && cert_pem != NULL) {
        if ((certs = api_parse_certs(cert_pem, "certificate", &e)) == NULL ||
            (chain_pem && (chain = api_parse_certs(chain_pem, "chain", &e)) == NULL))
            goto fail;
        rc = svc_ca_import(api->svc, &a, api_tenant(req), name, SIGNER_IMPORT_PEM_KEY,
                           (const unsigned char *)key_pem, strlen(key_pem), password,
                           sk_X509_value(certs, 0), chain, &rec, &e);
    } else {
        err_set(&e, ERR_INVALID, "pkcs12 (with password), or key and certificate: required");
        goto fail;
    }
    if (rc != 0)
        goto fail;
    respond_ca(api, resp, 201, rec);
    goto out;
fail:
    api_fail(api, req, resp, "ca.import", name, &e);
out:
    if (p12 != NULL)
        secure_zero(p12, p12_len);
    free(p12);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(chain, X509_free);
    json_decref(body);
}

/* POST /cas/{ca}/crl: every scope's complete CRL (and deltas); {"delta": true}: deltas only. */
void api_crl_generate(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *name = http_param(req, "ca");
    json_t *body = NULL;
    struct crl_rec *crl = NULL;
    struct err e;
    int delta = 0, rc;

    if (req->body_len > 0 && (body = api_body(api, req, resp, "crl.generate")) == NULL)
        return;
    rc = body != NULL ? api_bool(body, "delta", &delta, &e) : 0;
    json_decref(body);
    if (rc == 0)
        rc = delta ? svc_crl_generate_delta(api->svc, &a, api_tenant(req), name, &crl, &e)
                   : svc_crl_generate(api->svc, &a, api_tenant(req), name, &crl, &e);
    if (rc != 0) {
        api_fail(api, req, resp, delta ? "crl.delta" : "crl.generate", name, &e);
        return;
    }
    api_respond_crl(resp, 201, crl);
    crl_rec_free(crl);
}

/* ?shard=k (0 = the whole CA) and ?delta=true|false select the scope and kind. */
static int crl_selection(struct http_request *req, int *shard, int *delta, struct err *e)
{
    const char *s = http_query(req, "shard"), *d = http_query(req, "delta");
    char *end = NULL;
    long k = s ? strtol(s, &end, 10) : 0;

    if (s != NULL && (*s == '\0' || *end != '\0' || k < 0 || k > CRL_SHARDS_MAX))
        return err_set(e, ERR_INVALID, "shard: 0 to %d", CRL_SHARDS_MAX);
    if (d != NULL && strcmp(d, "true") != 0 && strcmp(d, "false") != 0)
        return err_set(e, ERR_INVALID, "delta: true or false");
    *shard = (int)k;
    *delta = d != NULL && strcmp(d, "true") == 0;
    return 0;
}

void api_crl_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *name = http_param(req, "ca");
    struct crl_rec *crl = NULL;
    struct err e;
    int shard = 0, delta = 0;

    if (crl_selection(req, &shard, &delta, &e) != 0 ||
        svc_crl_latest(api->svc, api_tenant(req), name, shard, delta, &crl, &e) != 0) {
        api_fail(api, req, resp, "crl.read", name, &e);
        return;
    }
    api_respond_crl(resp, 200, crl);
    crl_rec_free(crl);
}
