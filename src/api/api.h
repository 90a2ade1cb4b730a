/*
 * api.h — the REST API (docs/api.md): the route tables and the authorization
 * check the HTTP layer runs before every handler.
 *
 * Two tables: the API (/api/v1/..., health) served on the API listener (TLS
 * unless on loopback), and the public endpoints (CRLs, CA certificates,
 * health) served on the plain-HTTP listener named in CDP/AIA URLs.
 */
#ifndef VOUCH_API_H
#define VOUCH_API_H

#include <stddef.h>
#include <stdio.h>

#include "http/http.h"
#include "keys/keys.h"
#include "store/store.h"
#include "svc/svc.h"

/*
 * What the handlers reach: svc alone (they never touch the store, the audit
 * chain or the signer).  The two forwarding switches change on SIGHUP.
 */
struct acme_server;
struct api {
    struct svc *svc;
    struct acme_server *acme;      /* the ACME endpoints' protocol module (NULL: none) */
    int tls;                       /* the API listener speaks TLS (ACME URLs are https) */
    _Atomic int tenant_forwarding; /* tenants may set their own SIEM (syslog_tenant_targets) */
    _Atomic int syslog_forwarding; /* audit events go to a SIEM (syslog_host): backlog measured */
    struct netaddr *metrics_allow; /* who may read /metrics (metrics_allow) */
    size_t nmetrics_allow;
    const char *est_default; /* "tenant~endpoint" of /.well-known/est/<op>, or NULL */
    char services[100];      /* what this node runs, for /readyz ("api, ocsp, ...") */
    char jobs[100];
};

const struct http_route *api_routes(size_t *n);
const struct http_route *api_public_routes(size_t *n);

/* The metrics listener's table (GET /metrics) and its check: the client is in metrics_allow. */
const struct http_route *api_metrics_routes(size_t *n);
int api_metrics_authorize(void *app, const struct http_route *route, struct http_request *req,
                          struct http_response *resp);

/* http_authorize for both tables: bearer token → principal, tenant and permission checks. */
int api_authorize(void *app, const struct http_route *route, struct http_request *req,
                  struct http_response *resp);
void api_free_principal(void *principal);

/*
 * The permissions a role grants (NULL-terminated; "X:own" is X for the
 * principal's own objects only); exposed for tests and docs.
 */
const char *const *api_role_permissions(const char *role);
/* Whether some role grants permission (or it is "public"). */
int api_permission_known(const char *permission);
/* 0 if every route's permission is known; else -1 with e naming the route. */
int api_routes_check(const struct http_route *routes, size_t n, struct err *e);
/* Prints both route tables as JSON ({"routes": [{method, path, permission, listener}]}). */
void api_routes_print(FILE *out);

#endif
