/*
 * api_est.c — the transport of EST (RFC 7030, RFC 8951) on the API listener
 * (TLS, as RFC 7030 §3.3 asks): /.well-known/est/<tenant>~<endpoint>/<op>
 * and /est/<tenant>/<endpoint>/.well-known/est/<op> (docs/api.md "EST").  The
 * body goes to the EST module (src/est) and the enrollment to svc
 * (svc_est.c); their answers become HTTP here.  Nothing else happens here.
 *
 * Errors are text/plain reasons (RFC 7030 §4.2.3): 400 bad input, 401 (with
 * WWW-Authenticate: Basic) no or wrong credentials, 403 refused, 404 no such
 * endpoint, 501 for fullcmc, 503 with Retry-After when busy.  serverkeygen's
 * key is made by the signer (svc_est.c); it passes here on its way out only.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "est/est.h"
#include "lib/log.h"

#define CERTS_ONLY "application/pkcs7-mime; smime-type=certs-only"

/* The OIDs csrattrs names: sign the CSR with ecdsa-with-SHA256; put names in extensionRequest. */
static const char *const csr_oids[] = {"1.2.840.10045.4.3.2", "1.2.840.113549.1.9.14"};

static void respond_text(struct http_response *resp, int status, const char *text)
{
    char *line = xasprintf("%s\n", text);

    http_respond(resp, status, "text/plain; charset=utf-8", line, strlen(line));
    free(line);
}

static int status_of(const struct err *e)
{
    switch (e->kind) {
    case ERR_INVALID:
    case ERR_POLICY:
    case ERR_CONFLICT:
        return 400;
    case ERR_LIMIT:
        return 503; /* RFC 7030 §4.2.3: busy, with Retry-After */
    default:
        return http_status_of(e->kind);
    }
}

static void respond_err(struct http_request *req, struct http_response *resp, const char *label,
                        const struct err *e)
{
    int status = status_of(e);
    char *realm;

    if (status >= 500 && e->kind != ERR_LIMIT && e->kind != ERR_UNAVAILABLE)
        log_error("req %s est %s: %s", req->request_id, label, e->msg); /* a fault of ours */
    respond_text(resp, status, e->kind == ERR_NONE ? "internal error" : e->msg);
    if (status == 401) {
        realm = xasprintf("Basic realm=\"EST %s\"", label);
        http_add_header(resp, "WWW-Authenticate", realm);
        free(realm);
    } else if (status == 503) {
        http_add_header(resp, "Retry-After",
                        e->kind == ERR_LIMIT ? "60" : HTTP_RETRY_AFTER_UNAVAILABLE);
    }
}

/*
 * The tenant and endpoint the path names (caller frees both), or without a
 * label est_default_endpoint's; -1 if it names none.
 */
static int target_of(struct api *api, struct http_request *req, char **tenant, char **endpoint)
{
    const char *t = http_param(req, "tenant"), *label = http_param(req, "label"), *tilde;

    if (t == NULL && label == NULL)
        label = api->est_default;
    if (t != NULL && http_param(req, "endpoint") != NULL) {
        *tenant = xstrdup(t);
        *endpoint = xstrdup(http_param(req, "endpoint"));
        return 0;
    }
    if (label == NULL || (tilde = strchr(label, '~')) == NULL || tilde == label || tilde[1] == '\0')
        return -1;
    *tenant = xstrndup(label, (size_t)(tilde - label));
    *endpoint = xstrdup(tilde + 1);
    return 0;
}

/* The tenant's gate, as for its REST API (a deleted tenant, a request over its rate). */
static int admit(struct api *api, struct http_request *req, const char *tenant, struct err *e)
{
    long refused = 0;

    if (svc_tenant_admit(api->svc, tenant, &refused, e) == 0)
        return 0;
    if (e->kind == ERR_LIMIT && refused > 0) {
        struct actor a = {.id = "est"};
        struct err ae;
        err_set(&ae, ERR_LIMIT, "%ld EST request(s) refused over the rate limit: %s", refused,
                e->msg);
        svc_audit_refusal(api->svc, tenant, &a, "ratelimit.refused", req->path, &ae);
    }
    if (e->kind != ERR_LIMIT)
        err_set(e, ERR_NOT_FOUND, "no such EST endpoint");
    return -1;
}

static void answer_certs(struct http_response *resp, const unsigned char *der, size_t len,
                         struct err *e, int *failed)
{
    char *b64 = NULL;
    size_t n = 0;

    if (est_certs_only(der, len, &b64, &n, e) != 0) {
        *failed = 1;
        return;
    }
    http_respond(resp, 200, CERTS_ONLY, b64, n);
    free(b64);
}

static int cacerts(struct api *api, const char *tenant, const char *endpoint,
                   struct http_response *resp, struct err *e)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int failed = 0;

    if (svc_est_cacerts(api->svc, tenant, endpoint, &der, &len, e) != 0)
        return -1;
    answer_certs(resp, der, len, e, &failed);
    free(der);
    return failed ? -1 : 0;
}

static int csrattrs(struct api *api, const char *tenant, const char *endpoint,
                    struct http_response *resp, struct err *e)
{
    char *b64 = NULL;
    size_t n = 0;

    if (svc_est_csrattrs(api->svc, tenant, endpoint, e) != 0 ||
        est_csrattrs(csr_oids, ARRAY_LEN(csr_oids), &b64, &n, e) != 0)
        return -1;
    http_respond(resp, 200, "application/csrattrs", b64, n);
    free(b64);
    return 0;
}

static int enroll(struct api *api, struct http_request *req, const char *tenant,
                  const char *endpoint, int reenroll, struct http_response *resp, struct err *e)
{
    const char *auth = http_header(req, "Authorization");
    struct svc_est_client c = {.cert = req->client_cert, .cert_len = req->client_cert_len};
    struct svc_est_result res = {0};
    char *user = NULL, *password = NULL, num[16];
    unsigned char *csr = NULL;
    size_t csr_len = 0;
    int rc = -1, failed = 0;

    if (auth != NULL && est_basic_parse(auth, &user, &password, e) != 0)
        return -1;
    c.user = user;
    c.password = password;
    if (est_body_decode(req->body, req->body_len, &csr, &csr_len, e) == 0 &&
        svc_est_enroll(api->svc, tenant, endpoint, &c, reenroll, csr, csr_len, &res, e) == 0) {
        rc = 0;
        if (res.pending) {
            snprintf(num, sizeof(num), "%d", res.retry_after);
            respond_text(resp, 202, "the request awaits approval: ask again after Retry-After");
            http_add_header(resp, "Retry-After", num);
        } else {
            answer_certs(resp, res.der, res.der_len, e, &failed);
            rc = failed ? -1 : 0;
        }
    }
    if (password != NULL)
        secure_zero(password, strlen(password));
    free(user);
    free(password);
    free(csr);
    svc_est_result_clear(&res);
    return rc;
}

/* serverkeygen: the key the signer made and its certificate, multipart (RFC 7030 §4.4.2). */
static int serverkeygen(struct api *api, struct http_request *req, const char *tenant,
                        const char *endpoint, struct http_response *resp, struct err *e)
{
    const char *auth = http_header(req, "Authorization");
    struct svc_est_client c = {.cert = req->client_cert, .cert_len = req->client_cert_len};
    struct svc_est_result res = {0};
    char *user = NULL, *password = NULL, *body = NULL, *ctype = NULL;
    unsigned char *csr = NULL;
    size_t csr_len = 0, len = 0;
    int rc = -1;

    if (auth != NULL && est_basic_parse(auth, &user, &password, e) != 0)
        return -1;
    c.user = user;
    c.password = password;
    if (est_body_decode(req->body, req->body_len, &csr, &csr_len, e) == 0 &&
        svc_est_serverkeygen(api->svc, tenant, endpoint, &c, csr, csr_len, &res, e) == 0 &&
        est_serverkeygen_answer(res.key, res.key_len, res.der, res.der_len, &body, &len, &ctype,
                                e) == 0) {
        http_respond(resp, 200, ctype, body, len);
        http_add_header(resp, "Cache-Control", "no-store");
        rc = 0;
    }
    if (body != NULL)
        secure_zero(body, len);
    if (password != NULL)
        secure_zero(password, strlen(password));
    free(body);
    free(ctype);
    free(user);
    free(password);
    free(csr);
    svc_est_result_clear(&res);
    return rc;
}

void api_est(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *slash = strrchr(req->path, '/');
    enum est_op op = est_op_of(slash ? slash + 1 : NULL);
    char *tenant = NULL, *endpoint = NULL, *label;
    struct err e;
    int rc = -1;

    err_clear(&e);
    if (op == EST_OP_NONE || target_of(api, req, &tenant, &endpoint) != 0) {
        respond_text(resp, 404, "no such EST endpoint");
        return;
    }
    label = xasprintf("%s~%s", tenant, endpoint);
    if (admit(api, req, tenant, &e) == 0) {
        switch (op) {
        case EST_OP_CACERTS:
            rc = cacerts(api, tenant, endpoint, resp, &e);
            break;
        case EST_OP_CSRATTRS:
            rc = csrattrs(api, tenant, endpoint, resp, &e);
            break;
        case EST_OP_SIMPLEENROLL:
        case EST_OP_SIMPLEREENROLL:
            rc = enroll(api, req, tenant, endpoint, op == EST_OP_SIMPLEREENROLL, resp, &e);
            break;
        case EST_OP_SERVERKEYGEN:
            rc = serverkeygen(api, req, tenant, endpoint, resp, &e);
            break;
        default: /* fullcmc */
            respond_text(resp, 501, "full CMC is not served here: use simpleenroll");
            rc = 0;
            break;
        }
    }
    if (rc != 0)
        respond_err(req, resp, label, &e);
    free(label);
    free(tenant);
    free(endpoint);
}
