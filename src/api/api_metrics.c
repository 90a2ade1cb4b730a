/*
 * api_metrics.c — the metrics listener (metrics_address): GET /metrics in
 * Prometheus's text format, to the addresses of metrics_allow only.  It is a
 * listener of its own, apart from the API's tokens and roles: a scraper
 * holds no credential of the CA, and reads nothing of a tenant's but counts.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"

static void api_metrics(void *app, struct http_request *req, struct http_response *resp);

static const struct http_route metrics_routes[] = {
    {"GET", "/metrics", NULL, "public", 0, api_metrics},
};

const struct http_route *api_metrics_routes(size_t *n)
{
    *n = ARRAY_LEN(metrics_routes);
    return metrics_routes;
}

int api_metrics_authorize(void *app, const struct http_route *route, struct http_request *req,
                          struct http_response *resp)
{
    const struct api *api = app;
    struct netaddr peer;

    (void)route;
    if (netaddr_parse(req->remote_addr, &peer) == 0)
        for (size_t i = 0; i < api->nmetrics_allow; i++)
            if (netaddr_within(&peer, &api->metrics_allow[i]))
                return 0;
    http_respond_kind(resp, ERR_FORBIDDEN, "%s may not read the metrics (metrics_allow)",
                      req->remote_addr);
    return -1;
}

/* GET /metrics: this node's counters, and the gauges svc reads from the database (cached). */
static void api_metrics(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct buf b = {0};

    (void)req;
    svc_metrics_refresh(api->svc, api->syslog_forwarding);
    metrics_write(&b);
    http_respond(resp, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_free(&b);
}
