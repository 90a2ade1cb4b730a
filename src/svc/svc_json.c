/*
 * svc_json.c — the JSON forms of certificate and CA records: what the REST
 * API answers, what a completed request keeps as its result, and what the
 * console and the enrollment protocols show.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

json_t *svc_time_json(int64_t t)
{
    char buf[32];

    if (t == 0)
        return json_null();
    return json_string(time_format(t, buf, sizeof(buf)));
}

static json_t *nullable(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The URLs a CA publishes (CRL, its certificate, delta CRLs when it makes them). */
static void ca_urls_json(struct svc *s, json_t *o, const struct ca_rec *r)
{
    char *crl = svc_crl_url(s, r->tenant, r->name);
    char *aia = svc_ca_issuers_url(s, r->tenant, r->name);
    json_t *delta = json_object_get(json_object_get(o, "options"), "delta_crl_interval_minutes");

    json_object_set_new(o, "crl_url", json_string(crl));
    json_object_set_new(o, "ca_issuers_url", json_string(aia));
    free(crl);
    free(aia);
    if (json_is_integer(delta) && json_integer_value(delta) > 0) {
        char *url = svc_crl_scope_url(s, r->tenant, r->name, 0, 1);
        json_object_set_new(o, "delta_crl_url", json_string(url));
        free(url);
    }
}

json_t *svc_ca_json(struct svc *s, const struct ca_rec *r)
{
    json_t *o = json_object();
    char *pem = r->cert_der ? svc_pem("CERTIFICATE", r->cert_der, r->cert_len) : NULL;
    struct buf chain = {0};

    if (r->chain_der != NULL)
        svc_pem_append_certs(&chain, r->chain_der, r->chain_len);
    buf_append(&chain, "", 1);
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "subject", nullable(r->subject));
    json_object_set_new(o, "key_type", nullable(r->key_type));
    json_object_set_new(o, "parent", nullable(r->parent));
    json_object_set_new(o, "not_before", svc_time_json(r->not_before));
    json_object_set_new(o, "not_after", svc_time_json(r->not_after));
    json_object_set_new(o, "certificate", nullable(pem));
    json_object_set_new(o, "chain", json_string((char *)chain.data));
    json_object_set_new(o, "created", svc_time_json(r->created));
    json_object_set_new(o, "options",
                        json_loads(r->options_json ? r->options_json : "{}", 0, NULL));
    ca_urls_json(s, o, r);
    free(pem);
    buf_free(&chain);
    return o;
}

/* "a,b" as ["a", "b"]. */
static json_t *sans_array(const char *sans)
{
    json_t *a = json_array();
    char *copy, *tok, *save = NULL;

    if (sans == NULL || sans[0] == '\0')
        return a;
    copy = xstrdup(sans);
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(tok));
    free(copy);
    return a;
}

json_t *svc_cert_json(struct svc *s, const struct cert_rec *r, int der)
{
    json_t *o = json_object();
    char *text, *chain;

    json_object_set_new(o, "serial", json_string(r->serial));
    json_object_set_new(o, "ca", json_string(r->ca));
    json_object_set_new(o, "profile", nullable(r->profile));
    json_object_set_new(o, "profile_version", json_integer(r->profile_version));
    json_object_set_new(o, "entity", nullable(r->entity_id));
    json_object_set_new(o, "subject", nullable(r->subject));
    json_object_set_new(o, "sans", sans_array(r->sans));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "not_before", svc_time_json(r->not_before));
    json_object_set_new(o, "not_after", svc_time_json(r->not_after));
    json_object_set_new(o, "revoked_at", svc_time_json(r->revoked_at));
    json_object_set_new(o, "reason",
                        r->reason >= 0 ? json_string(crl_reason_name(r->reason)) : json_null());
    json_object_set_new(o, "invalidity_date", svc_time_json(r->invalidity_date));
    json_object_set_new(o, "renewed_from", nullable(r->renewed_from));
    json_object_set_new(o, "requester", nullable(r->requester));
    text = der ? base64_encode(r->der, r->der_len) : svc_pem("CERTIFICATE", r->der, r->der_len);
    json_object_set_new(o, "certificate", json_string(text));
    free(text);
    chain = svc_chain_pem(s, r->tenant, r->ca, NULL);
    json_object_set_new(o, "chain", nullable(chain));
    free(chain);
    return o;
}
