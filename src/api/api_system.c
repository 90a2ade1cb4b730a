/* api_system.c — health, public CRL and CA certificate downloads. */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

void api_healthz(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    http_respond_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /readyz on the API listener: ready or not, and the state of the database, signer and keys. */
void api_readyz(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct err db, signer;
    json_t *o = json_object(), *units;
    char health[1024];
    int ok, degraded;

    (void)req;
    ok = svc_ready(api->svc, &db, health, sizeof(health), &signer) == 0;
    json_object_set_new(o, "database", json_string(db.kind == ERR_NONE ? "ok" : db.msg));
    if (signer.kind != ERR_NONE) {
        json_object_set_new(o, "signer", json_string(signer.msg));
        json_object_set_new(o, "keystore", json_string(signer.msg));
    } else {
        json_object_set_new(o, "signer", json_string("ok"));
        json_object_set_new(o, "keystore", json_string(health));
    }
    json_object_set_new(o, "signer_restarts",
                        json_integer((json_int_t)svc_signer_restarts(api->svc)));
    /* Units that cannot sign make the node "degraded", still 200: every node shares the key
     * store, so taking this one out of the balancer would not help. */
    units = svc_signing_problems(api->svc);
    degraded = json_array_size(units) > 0;
    json_object_set_new(o, "signing_units", units);
    if (api->services[0] != '\0') { /* what this node runs: the rest is other nodes' */
        json_object_set_new(o, "services", json_string(api->services));
        json_object_set_new(o, "jobs", json_string(api->jobs));
    }
    json_object_set_new(o, "status",
                        json_string(!ok        ? "not ready"
                                    : degraded ? "degraded"
                                               : "ready"));
    http_respond_json(resp, ok ? 200 : 503, o);
}

/*
 * GET /readyz on the public listener: ready or not ready, nothing more.  What
 * failed (a database error, the key store's tokens) is for the API listener's
 * /readyz: the public one is reachable by anyone.
 */
void api_public_readyz(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct err db, signer;
    char health[1024];
    int ok;

    (void)req;
    ok = svc_ready(api->svc, &db, health, sizeof(health), &signer) == 0;
    http_respond_json(resp, ok ? 200 : 503,
                      json_pack("{s:s}", "status", ok ? "ready" : "not ready"));
}

/* Public downloads answer 404 alike for an unknown tenant or CA: nothing to learn. */
static void public_crl_respond(struct api *api, struct http_response *resp, const char *tenant,
                               const char *ca, int shard, int delta)
{
    struct crl_rec *crl = NULL;
    char max_age[64];
    struct err e;
    long left;

    if (svc_crl_latest(api->svc, tenant, ca, shard, delta, &crl, &e) != 0) {
        http_respond_kind(resp, e.kind == ERR_NOT_FOUND ? ERR_NOT_FOUND : ERR_UNAVAILABLE,
                          "no such CRL");
        return;
    }
    http_respond(resp, 200, "application/pkix-crl", crl->der, crl->der_len);
    left = (long)(crl->next_update - time_now());
    snprintf(max_age, sizeof(max_age), "max-age=%ld", left > 0 ? (left < 3600 ? left : 3600) : 0);
    http_add_header(resp, "Cache-Control", max_age);
    crl_rec_free(crl);
}

/* GET /crl/{tenant}/{ca}.crl: the CA's complete CRL. */
void api_public_crl(void *app, struct http_request *req, struct http_response *resp)
{
    public_crl_respond(app, resp, api_tenant(req), http_param(req, "ca"), 0, 0);
}

/*
 * GET /crl/{tenant}/{ca}/{file}: "delta.crl" (the CA's delta), "<k>.crl"
 * (shard k's complete CRL) or "<k>-delta.crl" (shard k's delta).
 */
void api_public_crl_scope(void *app, struct http_request *req, struct http_response *resp)
{
    const char *file = http_param(req, "file");
    char *end = NULL;
    long k = -1;
    int delta = 0;

    if (strcmp(file, "delta.crl") == 0) {
        k = 0;
        delta = 1;
    } else if (file[0] >= '1' && file[0] <= '9') {
        k = strtol(file, &end, 10);
        delta = strcmp(end, "-delta.crl") == 0;
        if ((!delta && strcmp(end, ".crl") != 0) || k > CRL_SHARDS_MAX)
            k = -1;
    }
    public_crl_respond(app, resp, api_tenant(req), http_param(req, "ca"), (int)k, delta);
}

void api_public_ca(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *tenant = api_tenant(req), *ca = http_param(req, "ca");
    struct ca_rec *rec = NULL;
    struct err e;

    if (svc_ca_get(api->svc, tenant, ca, &rec, &e) != 0 || rec->cert_der == NULL) {
        http_respond_kind(resp, ERR_NOT_FOUND, "no such CA");
        ca_rec_free(rec);
        return;
    }
    http_respond(resp, 200, "application/pkix-cert", rec->cert_der, rec->cert_len);
    ca_rec_free(rec);
}
