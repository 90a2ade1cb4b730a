/*
 * api_acme.c — the transport of the ACME endpoints (/acme/{tenant}/{endpoint}/...
 * on the API listener, which is TLS as RFC 8555 section 6.1 asks): the
 * request handed to the ACME protocol module (src/acme/server.c), its answer
 * turned into HTTP.  Nothing else happens here.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/server.h"

/* The Host a client reached us by, if it is a plain host[:port] (else NULL). */
static const char *host_of(struct http_request *req)
{
    const char *h = http_header(req, "Host");

    if (h == NULL || *h == '\0' || strlen(h) > 255 ||
        strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
            strlen(h))
        return NULL;
    return h;
}

/*
 * The tenant's gate, as for its REST API: a deleted tenant, or a request over
 * its rate (the refusals of a second audited as one event), is answered with
 * a problem document in *r (-1).
 */
static int admit(struct api *api, struct http_request *req, const char *tenant,
                 struct acme_response *r)
{
    long refused = 0;
    struct err e, ae;

    err_clear(&e);
    if (svc_tenant_admit(api->svc, tenant, &refused, &e) == 0)
        return 0;
    if (e.kind == ERR_LIMIT && refused > 0) {
        struct actor a = {.id = "acme"};
        err_set(&ae, ERR_LIMIT, "%ld ACME request(s) refused over the rate limit: %s", refused,
                e.msg);
        svc_audit_refusal(api->svc, tenant, &a, "ratelimit.refused", req->path, &ae);
    }
    if (e.kind != ERR_LIMIT)
        err_setc(&e, ERR_NOT_FOUND, "malformed", "no such ACME endpoint");
    else
        err_recode(&e, ERR_LIMIT, "rateLimited");
    acme_refuse(r, &e);
    return -1;
}

void api_acme(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *tenant = http_param(req, "tenant"), *ep = http_param(req, "endpoint");
    const char *host = host_of(req);
    struct acme_response r;
    char *prefix, *base, *links = NULL, num[32];
    size_t n;

    if (api->acme == NULL || tenant == NULL || ep == NULL) {
        http_respond_kind(resp, ERR_NOT_FOUND, "no such resource");
        return;
    }
    if (host == NULL) {
        http_respond_kind(resp, ERR_INVALID, "Host: a host name or address, with a port or not");
        return;
    }
    prefix = xasprintf("/acme/%s/%s/", tenant, ep);
    n = strlen(prefix);
    if (strncmp(req->path, prefix, n) != 0) {
        free(prefix);
        http_respond_kind(resp, ERR_NOT_FOUND, "no such resource");
        return;
    }
    base = xasprintf("%s://%s", api->tls ? "https" : "http", host);
    if (admit(api, req, tenant, &r) == 0) {
        struct acme_request q = {req->method,   base,      tenant,       ep,
                                 req->path + n, req->body, req->body_len};
        acme_handle(api->acme, &q, &r);
    }
    http_respond(resp, r.status, r.content_type, r.body, r.body ? r.len : 0);
    if (r.nonce != NULL)
        http_add_header(resp, "Replay-Nonce", r.nonce);
    if (r.location != NULL)
        http_add_header(resp, "Location", r.location);
    for (int i = 0; i < r.nlinks; i++) { /* one Link header, its values comma-separated */
        char *joined = links ? xasprintf("%s, %s", links, r.links[i]) : xstrdup(r.links[i]);
        free(links);
        links = joined;
    }
    if (links != NULL)
        http_add_header(resp, "Link", links);
    if (r.retry_after > 0) {
        snprintf(num, sizeof(num), "%d", r.retry_after);
        http_add_header(resp, "Retry-After", num);
    }
    if (r.no_store)
        http_add_header(resp, "Cache-Control", "no-store");
    free(links);
    acme_response_clear(&r);
    free(prefix);
    free(base);
}
