/*
 * server_order.c — the ACME resources of orders, authorizations, challenges
 * and certificates (RFC 8555 sections 7.1-7.6), renewal information (RFC
 * 9773) and the profiles extension; their JSON forms with their URLs.
 */
#include "acme/server_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/log.h"

#define ORDERS_PAGE 1000

/* ---- the JSON forms -------------------------------------------------------------------- */

static json_t *challenge_json(const struct ctx *c, const struct acme_authz_rec *z, json_t *ch)
{
    const char *type = json_string_value(json_object_get(ch, "type"));
    char *url = acme_url(c, "chall/%s/%s", z->id, type);
    json_t *o = json_pack("{s:s, s:s, s:O, s:O}", "type", type, "url", url, "status",
                          json_object_get(ch, "status"), "token", json_object_get(ch, "token"));

    if (json_object_get(ch, "validated") != NULL)
        json_object_set(o, "validated", json_object_get(ch, "validated"));
    if (json_object_get(ch, "error") != NULL)
        json_object_set(o, "error", json_object_get(ch, "error"));
    free(url);
    return o;
}

/*
 * While a challenge is being validated, its answer and its authorization's
 * say when to look again (RFC 8555 section 8.2: Retry-After).  A second:
 * validation on loopback takes milliseconds, and lego without the header waits
 * five seconds before its second look (bench/README.md, ACME).
 */
static void retry_while_processing(const struct ctx *c, const json_t *ch)
{
    const char *status = json_string_value(json_object_get(ch, "status"));

    if (status != NULL && strcmp(status, "processing") == 0)
        c->r->retry_after = 1;
}

static json_t *authz_json(const struct ctx *c, const struct acme_authz_rec *z)
{
    json_t *list = json_loads(z->challenges, 0, NULL), *out = json_array(), *ch;
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "status", z->status, "expires", "",
                          "identifier", "type", z->ident_type, "value", z->ident_value);
    size_t i;

    json_object_set_new(o, "expires", svc_time_json(z->expires));
    json_array_foreach(list, i, ch)
    {
        json_array_append_new(out, challenge_json(c, z, ch));
        retry_while_processing(c, ch);
    }
    json_object_set_new(o, "challenges", out);
    if (z->wildcard)
        json_object_set_new(o, "wildcard", json_true());
    json_decref(list);
    return o;
}

static json_t *order_json(const struct ctx *c, const struct acme_order_rec *r)
{
    json_t *ids = json_loads(r->authzs, 0, NULL), *authzs = json_array(), *v;
    char *finalize = acme_url(c, "order/%s/finalize", r->id);
    json_t *o =
        json_pack("{s:s, s:o, s:o, s:s, s:s}", "status", r->status, "expires",
                  svc_time_json(r->expires), "identifiers", json_loads(r->identifiers, 0, NULL),
                  "finalize", finalize, "profile", r->profile);
    size_t i;

    json_array_foreach(ids, i, v)
    {
        char *url = acme_url(c, "authz/%s", json_string_value(v));
        json_array_append_new(authzs, json_string(url));
        free(url);
    }
    json_object_set_new(o, "authorizations", authzs);
    if (r->serial != NULL && strcmp(r->status, "valid") == 0) {
        char *cert = acme_url(c, "cert/%s", r->serial);
        json_object_set_new(o, "certificate", json_string(cert));
        free(cert);
    }
    if (r->error != NULL)
        json_object_set_new(o, "error", json_loads(r->error, 0, NULL));
    if (r->replaces != NULL)
        json_object_set_new(o, "replaces", json_string(r->replaces));
    json_decref(ids);
    free(finalize);
    return o;
}

/* Answers the order (and where it is; Retry-After while it is processing). */
static void order_answer(struct ctx *c, int status, const struct acme_order_rec *r)
{
    free(c->r->location);
    c->r->location = acme_url(c, "order/%s", r->id);
    if (strcmp(r->status, "processing") == 0)
        c->r->retry_after = 2;
    acme_json(c->r, status, order_json(c, r));
}

/* ---- orders --------------------------------------------------------------------------- */

/* An RFC 3339 time field of a payload (0 when absent). */
static int payload_time(const json_t *p, const char *key, int64_t *out, struct err *e)
{
    const json_t *v = json_object_get(p, key);

    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || time_parse(json_string_value(v), out) != 0)
        return err_setc(e, ERR_INVALID, "malformed", "%s: an RFC 3339 time", key);
    return 0;
}

int acme_new_order(struct ctx *c, struct err *e)
{
    const json_t *p = c->jws->payload;
    struct svc_acme_order_req q = {0};
    struct acme_order_rec *r = NULL;
    const json_t *profile = json_object_get(p, "profile"),
                 *replaces = json_object_get(p, "replaces");

    if (p == NULL)
        return err_setc(e, ERR_INVALID, "malformed", "newOrder: a payload object is required");
    if (strcmp(c->ep->status, "active") != 0)
        return err_setc(e, ERR_FORBIDDEN, "unauthorized", "this endpoint takes no new orders");
    if ((profile != NULL && !json_is_string(profile)) ||
        (replaces != NULL && !json_is_string(replaces)))
        return err_setc(e, ERR_INVALID, "malformed", "profile and replaces: strings");
    q.identifiers = json_object_get(p, "identifiers");
    q.profile = json_string_value(profile);
    q.replaces = json_string_value(replaces);
    q.subproblems = &c->subproblems;
    if (payload_time(p, "notBefore", &q.not_before, e) != 0 ||
        payload_time(p, "notAfter", &q.not_after, e) != 0 ||
        svc_acme_order_new(c->a->svc, c->acct, &c->st, &q, &r, e) != 0)
        return -1;
    order_answer(c, 201, r);
    acme_order_rec_free(r);
    return 0;
}

int acme_order_post(struct ctx *c, const char *id, struct err *e)
{
    struct acme_order_rec *r = NULL;

    if (svc_acme_order_get(c->a->svc, c->acct, id, &r, e) != 0)
        return -1;
    order_answer(c, 200, r);
    acme_order_rec_free(r);
    return 0;
}

int acme_orders_list(struct ctx *c, const char *account, struct err *e)
{
    struct acme_order_rec **list = NULL;
    json_t *urls = json_array();
    size_t n = 0;

    if (strcmp(account, c->acct->id) != 0) {
        json_decref(urls);
        return err_setc(e, ERR_FORBIDDEN, "unauthorized", "another account's orders");
    }
    if (svc_acme_order_list(c->a->svc, c->acct, ORDERS_PAGE, 0, &list, &n, e) != 0) {
        json_decref(urls);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char *url = acme_url(c, "order/%s", list[i]->id);
        json_array_append_new(urls, json_string(url));
        free(url);
    }
    acme_order_rec_list_free(list, n);
    acme_json(c->r, 200, json_pack("{s:o}", "orders", urls));
    return 0;
}

int acme_finalize(struct ctx *c, const char *id, struct err *e)
{
    const char *csr = json_string_value(json_object_get(c->jws->payload, "csr"));
    struct acme_order_rec *r = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    int rc;

    if (csr == NULL || base64url_decode(csr, strlen(csr), &der, &len) != 0 || len == 0)
        return err_setc(e, ERR_INVALID, "malformed", "csr: base64url of a DER PKCS#10 request");
    rc = svc_acme_order_finalize(c->a->svc, c->acct, c->ep, id, der, len, &r, e);
    free(der);
    if (rc != 0)
        return -1;
    order_answer(c, 200, r);
    acme_order_rec_free(r);
    return 0;
}

/* ---- authorizations and challenges ----------------------------------------------------------- */

int acme_authz_post(struct ctx *c, const char *id, struct err *e)
{
    const json_t *status = json_object_get(c->jws->payload, "status");
    struct acme_authz_rec *z = NULL;
    int rc;

    if (status != NULL &&
        (!json_is_string(status) || strcmp(json_string_value(status), "deactivated") != 0))
        return err_setc(e, ERR_INVALID, "malformed", "status: only \"deactivated\" is taken");
    rc = status ? svc_acme_authz_deactivate(c->a->svc, c->acct, id, &z, e)
                : svc_acme_authz_get(c->a->svc, c->acct, id, &z, e);
    if (rc != 0)
        return -1;
    acme_json(c->r, 200, authz_json(c, z));
    acme_authz_rec_free(z);
    return 0;
}

/* POST to chall/<authz>/<type>: {} asks for validation, POST-as-GET reads it. */
int acme_challenge_post(struct ctx *c, const char *rest, struct err *e)
{
    const char *slash = strchr(rest, '/');
    struct acme_authz_rec *z = NULL;
    char authz[128], *up;
    json_t *list = NULL, *ch;
    int started = 0, rc;
    size_t i;

    if (slash == NULL || (size_t)(slash - rest) >= sizeof(authz) || strchr(slash + 1, '/'))
        return err_setc(e, ERR_NOT_FOUND, "malformed", "no such challenge");
    memcpy(authz, rest, (size_t)(slash - rest));
    authz[slash - rest] = '\0';
    if (c->jws->payload != NULL)
        rc = svc_acme_challenge_start(c->a->svc, c->acct, authz, slash + 1, &z, &started, e);
    else
        rc = svc_acme_authz_get(c->a->svc, c->acct, authz, &z, e);
    if (rc != 0)
        return -1;
    if (started)
        acme_validation_queue(c->a, c, z, slash + 1, c->acct);
    list = json_loads(z->challenges, 0, NULL);
    rc = err_setc(e, ERR_NOT_FOUND, "malformed", "no such challenge");
    json_array_foreach(list, i, ch)
    {
        if (strcmp(json_string_value(json_object_get(ch, "type")), slash + 1) == 0) {
            acme_json(c->r, 200, challenge_json(c, z, ch));
            retry_while_processing(c, ch);
            rc = 0;
        }
    }
    up = acme_url(c, "authz/%s", z->id);
    acme_link(c->r, up, "up");
    free(up);
    json_decref(list);
    acme_authz_rec_free(z);
    return rc;
}

/* ---- certificates ----------------------------------------------------------------------- */

int acme_cert_post(struct ctx *c, const char *serial, struct err *e)
{
    char *pem = NULL;

    if (svc_acme_cert_pem(c->a->svc, c->acct, serial, &pem, e) != 0)
        return -1;
    free(c->r->body);
    c->r->status = 200;
    c->r->content_type = "application/pem-certificate-chain";
    c->r->body = pem;
    c->r->len = strlen(pem);
    return 0;
}

int acme_revoke_cert(struct ctx *c, struct err *e)
{
    const json_t *p = c->jws->payload, *reason = json_object_get(p, "reason");
    const char *cert = json_string_value(json_object_get(p, "certificate"));
    unsigned char *der = NULL;
    const unsigned char *q;
    size_t len = 0;
    X509 *x = NULL;
    int rc = -1;

    if (cert == NULL || base64url_decode(cert, strlen(cert), &der, &len) != 0)
        return err_setc(e, ERR_INVALID, "malformed", "certificate: base64url of a DER certificate");
    if (reason != NULL && !json_is_integer(reason)) {
        err_setc(e, ERR_INVALID, "badRevocationReason", "reason: an integer (RFC 5280 CRLReason)");
        goto out;
    }
    if (c->acct == NULL) {
        /* Signed by the certificate's own key (RFC 8555 section 7.6). */
        q = der;
        if ((x = d2i_X509(NULL, &q, (long)len)) == NULL ||
            EVP_PKEY_eq(X509_get0_pubkey(x), c->jws->jwk) != 1) {
            err_setc(e, ERR_FORBIDDEN, "unauthorized",
                     "the request is signed neither by an account nor by the certificate's key");
            goto out;
        }
    }
    rc = svc_acme_revoke(c->a->svc, c->q->tenant, c->q->endpoint, c->acct, der, len,
                         reason ? (int)json_integer_value(reason) : 0, e);
    if (rc == 0)
        c->r->status = 200;
out:
    X509_free(x);
    free(der);
    return rc;
}

/* GET renewal-info/<certID> (RFC 9773 section 4.2). */
int acme_renewal_info(struct ctx *c, const char *certid, struct err *e)
{
    int64_t start = 0, end = 0;
    char *reason = NULL;
    json_t *o;

    if (svc_acme_renewal_info(c->a->svc, c->q->tenant, c->ep, certid, &start, &end, &reason, e) !=
        0)
        return -1;
    o = json_pack("{s:{s:o, s:o}}", "suggestedWindow", "start", svc_time_json(start), "end",
                  svc_time_json(end));
    if (reason != NULL)
        json_object_set_new(o, "explanation", json_string(reason));
    free(reason);
    c->r->retry_after = 21600; /* six hours (RFC 9773 section 4.3) */
    acme_json(c->r, 200, o);
    return 0;
}

/* ---- validations that stalled ------------------------------------------------------------ */

void acme_server_tick(struct acme_server *a)
{
    struct tenant_rec **tenants = NULL;
    size_t nt = 0;
    struct err e;

    if (svc_tenant_list(a->svc, &tenants, &nt, &e) != 0)
        return;
    for (size_t t = 0; t < nt; t++) {
        struct acme_authz_rec **list = NULL;
        size_t n = 0;
        if (svc_acme_stalled(a->svc, tenants[t]->name, time_now() - 60, 100, &list, &n, &e) != 0)
            n = 0;
        for (size_t i = 0; i < n; i++) {
            struct acme_request q = {.tenant = tenants[t]->name, .endpoint = list[i]->endpoint};
            struct ctx c = {.a = a, .q = &q};
            struct acme_account_rec *acct = NULL;
            json_t *chs = json_loads(list[i]->challenges, 0, NULL), *ch;
            size_t k;
            if (svc_acme_endpoint_load(a->svc, q.tenant, q.endpoint, &c.ep, &c.st, &e) == 0 &&
                svc_acme_account_get(a->svc, q.tenant, q.endpoint, list[i]->account, &acct, &e) ==
                    0) {
                c.prefix = xstrdup("");
                json_array_foreach(chs, k, ch)
                {
                    if (strcmp(json_string_value(json_object_get(ch, "status")), "processing") == 0)
                        acme_validation_queue(a, &c, list[i],
                                              json_string_value(json_object_get(ch, "type")), acct);
                }
                free(c.prefix);
            }
            json_decref(chs);
            acme_account_rec_free(acct);
            acme_endpoint_rec_free(c.ep);
            svc_acme_settings_clear(&c.st);
        }
        acme_authz_rec_list_free(list, n);
        tenant_rec_free(tenants[t]);
    }
    free(tenants);
}
