/*
 * api_clientcert.c — TLS client certificates: the issuers a tenant trusts
 * for them (its client CAs), and the principal a verified certificate maps
 * to.
 *
 * The API listener asks every TLS client for a certificate without requiring
 * one (http.h: tls_client_certs).  A request with no bearer token but a
 * certificate is authenticated here, with OpenSSL, against the client CAs of
 * the tenant the route is about: the certificate must chain to one of them,
 * be within its validity, allow client authentication, and — when the client
 * CA is one of the tenant's own CAs — not be revoked or on hold.  It then
 * names its principal by SHA-256 fingerprint, or by issuer and subject.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/profile.h"

/* An RFC 2253 one-line form of name (caller frees). */
static char *name_line(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long len;

    if (b == NULL)
        abort();
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    len = BIO_get_mem_data(b, &data);
    out = xstrndup(data ? data : "", len > 0 ? (size_t)len : 0);
    BIO_free(b);
    return out;
}

static char *cert_sha256(const unsigned char *der, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) != 1)
        abort();
    return hex_encode(md, n);
}

/* Verifies leaf against the client CAs; 0, or 401 with e saying why. */
static int cert_verify(X509 *leaf, struct client_ca_rec **cas, size_t n, struct err *e)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;

    if (store == NULL || ctx == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = cas[i]->cert;
        X509 *ca = d2i_X509(NULL, &p, (long)cas[i]->cert_len);

        if (ca != NULL)
            X509_STORE_add_cert(store, ca);
        X509_free(ca);
    }
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT);
    if (X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1)
        abort();
    if (X509_verify_cert(ctx) == 1)
        rc = 0;
    else
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: %s",
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

/* 401 if leaf was issued by one of the tenant's own CAs (a client CA with `ca`) and is not good. */
static int cert_status_check(struct store_tx *tx, const char *tenant, X509 *leaf,
                             struct client_ca_rec **cas, size_t n, struct err *e)
{
    char *serial = serial_hex(X509_get0_serialNumber(leaf));
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0 && serial != NULL; i++) {
        const unsigned char *p = cas[i]->cert;
        X509 *ca = cas[i]->ca ? d2i_X509(NULL, &p, (long)cas[i]->cert_len) : NULL;
        struct cert_rec *c = NULL;

        if (ca != NULL && X509_check_issued(ca, leaf) == X509_V_OK &&
            store_cert_get(tx, tenant, serial, &c, e) == 0 && strcmp(c->status, "good") != 0)
            rc = err_set(e, ERR_UNAUTHENTICATED, "client certificate: revoked");
        cert_rec_free(c);
        X509_free(ca);
    }
    free(serial);
    return rc;
}

/* The principal of target that the certificate maps to (an index look-up); 401 if none. */
static int cert_map(struct store_tx *tx, const char *target, X509 *leaf, const char *sha,
                    struct principal_rec **out, struct err *e)
{
    char *issuer = name_line(X509_get_issuer_name(leaf));
    char *subject = name_line(X509_get_subject_name(leaf));
    int rc = store_principal_by_cert(tx, target, sha, issuer, subject, out, e);

    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: no principal for it");
    free(issuer);
    free(subject);
    return rc;
}

struct principal *api_cert_principal(struct api *api, struct http_request *req, const char *target,
                                     struct err *e)
{
    const unsigned char *p = req->client_cert;
    X509 *leaf = d2i_X509(NULL, &p, (long)req->client_cert_len);
    struct client_ca_rec **cas = NULL;
    struct principal_rec *pr = NULL;
    struct principal *out = NULL;
    struct store_tx *tx = NULL;
    char *sha = cert_sha256(req->client_cert, req->client_cert_len);
    size_t n = 0;

    if (leaf == NULL) {
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: does not parse");
        goto done;
    }
    if (target == NULL) {
        err_set(e, ERR_FORBIDDEN, "token is not valid for this tenant");
        goto done;
    }
    if ((tx = store_begin_read(api->store, e)) == NULL ||
        store_client_ca_list(tx, target, &cas, &n, e) != 0)
        goto done;
    if (n == 0) {
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: the tenant trusts no issuer");
        goto done;
    }
    if (cert_verify(leaf, cas, n, e) != 0 || cert_status_check(tx, target, leaf, cas, n, e) != 0 ||
        cert_map(tx, target, leaf, sha, &pr, e) != 0)
        goto done;
    out = xcalloc(1, sizeof(*out));
    out->tenant = xstrdup(target);
    out->id = xstrdup(pr->id);
    out->token_id = xasprintf("cert:%.16s", sha);
    if (api_principal_admit(tx, req, pr, target, out, e) != 0) {
        req->principal = out; /* names the actor of the refusal */
        out = NULL;
    }
done:
    store_rollback(tx);
    client_ca_rec_list_free(cas, n);
    principal_rec_free(pr);
    X509_free(leaf);
    free(sha);
    return out;
}

/* ---- client CAs of a tenant ------------------------------------------------ */

static json_t *client_ca_json(const struct client_ca_rec *r)
{
    const unsigned char *p = r->cert;
    X509 *c = d2i_X509(NULL, &p, (long)r->cert_len);
    char *subject = c ? name_line(X509_get_subject_name(c)) : xstrdup("");
    json_t *o = json_pack("{s:s, s:s?, s:s, s:o}", "name", r->name, "ca", r->ca, "subject", subject,
                          "created", api_time(r->created));

    free(subject);
    X509_free(c);
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
