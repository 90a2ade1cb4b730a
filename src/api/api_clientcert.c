/*
 * api_clientcert.c — the issuers a tenant trusts for TLS client certificates
 * (its client CAs).  The certificates themselves are checked, and mapped to
 * their principal, by svc_auth.c when a request brings one and no bearer
 * token (api_auth.c).
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

/* ---- client CAs of a tenant ------------------------------------------------ */

static json_t *client_ca_json(const struct client_ca_rec *r)
{
    char *subject = svc_client_ca_subject(r);
    json_t *o = json_pack("{s:s, s:s?, s:s, s:o}", "name", r->name, "ca", r->ca, "subject", subject,
                          "created", api_time(r->created));

    free(subject);
    return o;
}

void api_client_ca_create(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    json_t *body = api_body(api, req, resp, "client_ca.add");
    struct client_ca_rec *r = NULL;
    const char *name, *ca = NULL, *pem = NULL;
    STACK_OF(X509) *certs = NULL;
    unsigned char *der = NULL;
    int len = 0;
    struct err e;

    if (body == NULL)
        return;
    if (api_str(body, "name", 1, &name, &e) != 0 || api_str(body, "ca", 0, &ca, &e) != 0 ||
        api_str(body, "certificate", 0, &pem, &e) != 0)
        goto fail;
    if ((ca == NULL) == (pem == NULL)) {
        err_set(&e, ERR_INVALID, "one of ca (a CA of the tenant) or certificate");
        goto fail;
    }
    if (pem != NULL) {
        if ((certs = api_parse_certs(pem, "certificate", &e)) == NULL)
            goto fail;
        if ((len = i2d_X509(sk_X509_value(certs, 0), &der)) <= 0) {
            err_set(&e, ERR_INVALID, "certificate: cannot encode");
            goto fail;
        }
    }
    if (svc_client_ca_add(api->svc, &a, api_tenant(req), name, ca, der, (size_t)len, &r, &e) != 0)
        goto fail;
    http_respond_json(resp, 201, client_ca_json(r));
    client_ca_rec_free(r);
    goto out;
fail:
    api_fail(api, req, resp, "client_ca.add", NULL, &e);
out:
    OPENSSL_free(der);
    sk_X509_pop_free(certs, X509_free);
    json_decref(body);
}

void api_client_ca_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct client_ca_rec **list = NULL;
    size_t n = 0;
    json_t *arr;
    struct err e;

    if (svc_client_ca_list(api->svc, api_tenant(req), &list, &n, &e) != 0) {
        api_fail(api, req, resp, "client_ca.list", NULL, &e);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, client_ca_json(list[i]));
    client_ca_rec_list_free(list, n);
    http_respond_json(resp, 200, json_pack("{s:o}", "client_cas", arr));
}

void api_client_ca_delete(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    const char *name = http_param(req, "client_ca");
    struct err e;

    if (svc_client_ca_delete(api->svc, &a, api_tenant(req), name, &e) != 0) {
        if (e.kind == ERR_NOT_FOUND)
            err_set(&e, ERR_NOT_FOUND, "client CA %s not found", name);
        api_fail(api, req, resp, "client_ca.delete", name, &e);
        return;
    }
    http_respond(resp, 204, NULL, NULL, 0);
}
