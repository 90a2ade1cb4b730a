/* svc.c — the service handle, key cache, URLs, audit helpers, tenants, tokens. */
#include "svc/svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit/audit.h"
#include "lib/log.h"

/* This process's name among the nodes of a cluster (the caller frees it). */
static char *svc_node_name(void)
{
    char host[256] = "node";

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "node");
    host[sizeof(host) - 1] = '\0';
    return xasprintf("%s:%ld", host, (long)getpid());
}

int svc_lease(struct svc *s, const char *tenant, const char *kind, const char *object, long seconds)
{
    struct err e;
    struct store_tx *tx = store_begin(s->store, &e);
    char *job = xasprintf("%s/%s", kind, object);
    int64_t now = time_now();
    int rc = -1;

    if (tx != NULL) {
        rc = store_lease_take(tx, tenant, job, s->node, now, now + seconds, &e);
        if (rc < 0)
            store_rollback(tx);
        else if (store_commit(tx, &e) != 0)
            rc = -1;
    }
    if (rc < 0)
        log_warn("tenant %s: lease %s: %s", tenant, job, e.msg);
    free(job);
    return rc == 0;
}

struct svc *svc_new(struct store *store, struct signer *signer, const struct svc_config *cfg)
{
    struct svc *s = xcalloc(1, sizeof(*s));

    s->store = store;
    s->signer = signer;
    s->public_url = xstrdup(cfg->public_url ? cfg->public_url : "http://127.0.0.1:8080");
    s->crl_validity_hours = cfg->crl_validity_hours > 0 ? cfg->crl_validity_hours : 168;
    s->crl_interval_minutes = cfg->crl_interval_minutes > 0 ? cfg->crl_interval_minutes : 60;
    s->crl_expired_margin_days =
        cfg->crl_expired_margin_days > 0 ? cfg->crl_expired_margin_days : 30;
    s->ocsp_validity_hours = cfg->ocsp_validity_hours > 0 ? cfg->ocsp_validity_hours : 24;
    s->ocsp_refresh_percent = cfg->ocsp_refresh_percent > 0 && cfg->ocsp_refresh_percent < 100
                                  ? cfg->ocsp_refresh_percent
                                  : 50;
    s->ocsp_signer = xstrdup(cfg->ocsp_signer ? cfg->ocsp_signer : "delegated");
    s->ocsp_responder_days = cfg->ocsp_responder_days > 0 ? cfg->ocsp_responder_days : 7;
    s->ocsp_responder_key_type =
        xstrdup(cfg->ocsp_responder_key_type ? cfg->ocsp_responder_key_type : "ec-p256");
    s->ocsp_check_seconds = cfg->ocsp_check_seconds > 0 ? cfg->ocsp_check_seconds : 30;
    s->ocsp_cache_seconds = cfg->ocsp_cache_seconds > 0   ? cfg->ocsp_cache_seconds
                            : cfg->ocsp_cache_seconds < 0 ? 0
                                                          : 2;
    s->ocsp_outage_seconds = cfg->ocsp_outage_seconds > 0 ? cfg->ocsp_outage_seconds : 0;
    s->ocsp = svc_ocsp_state_new();
    s->ocsp_live_rate = cfg->ocsp_live_signs_per_second > 0 ? cfg->ocsp_live_signs_per_second : 0;
    s->tsa_clock_check = cfg->tsa_clock_check;
    s->skip_tsa_units = cfg->skip_tsa_units;
    s->skip_responders = cfg->skip_responders;
    s->node = cfg->node != NULL ? xstrdup(cfg->node) : svc_node_name();
    pthread_mutex_init(&s->lock, NULL);
    s->writer = writer_start(store, 64);
    s->gates = svc_tenant_gates_new();
    s->refusals = svc_refusals_new();
    s->tenant_retention_days = cfg->tenant_retention_days >= 0 ? cfg->tenant_retention_days : 30;
    s->tenant_export_dir = xstrdup(cfg->tenant_export_dir ? cfg->tenant_export_dir : "exports");
    s->webhooks_enabled = cfg->webhooks_enabled;
    svc_notice_mail_set(s, cfg);
    return s;
}

void svc_free(struct svc *s)
{
    struct key_cache_entry *k, *next;

    if (s == NULL)
        return;
    svc_refusals_tick(s, 1); /* the refusals still being counted are written */
    svc_refusals_free(s->refusals);
    json_decref(s->signing_problems);
    writer_stop(s->writer);
    svc_ocsp_state_free(s->ocsp);
    free(s->ocsp_signer);
    free(s->ocsp_responder_key_type);
    free(s->node);
    svc_notice_mail_set(s, NULL);
    for (k = s->keys; k != NULL; k = next) {
        next = k->next;
        EVP_PKEY_free(k->key);
        free(k->tenant);
        free(k->key_id);
        free(k);
    }
    for (struct ca_cache_entry *c = s->ca_certs, *cn; c != NULL; c = cn) {
        cn = c->next;
        X509_free(c->cert);
        free(c->tenant);
        free(c->name);
        free(c->der);
        free(c);
    }
    for (struct profile_cache_entry *c = s->profiles, *cn; c != NULL; c = cn) {
        cn = c->next;
        profile_free(c->profile);
        free(c->tenant);
        free(c->name);
        free(c->json);
        free(c);
    }
    for (struct chain_pem_entry *c = s->chains, *cn; c != NULL; c = cn) {
        cn = c->next;
        free(c->tenant);
        free(c->ca);
        free(c->pem);
        free(c);
    }
    svc_tsa_cache_free(s);
    svc_acme_endpoints_free(s);
    for (struct acme_secret_entry *ak = s->acme_secrets, *an; ak != NULL; ak = an) {
        an = ak->next;
        EVP_MAC_CTX_free(ak->mac); /* clears the key */
        free(ak->tenant);
        free(ak);
    }
    svc_tenant_gates_free(s->gates);
    free(s->tenant_export_dir);
    pthread_mutex_destroy(&s->lock);
    free(s->public_url);
    free(s);
}

int svc_ready(struct svc *s, struct err *db, char *health, size_t health_len, struct err *signer)
{
    err_clear(db);
    err_clear(signer);
    if (store_ping(s->store, db) == 0)
        err_clear(db);
    else if (db->kind == ERR_NONE)
        err_set(db, ERR_UNAVAILABLE, "the database does not answer");
    if (signer_health(s->signer, health, health_len, signer) == 0)
        err_clear(signer);
    else if (signer->kind == ERR_NONE)
        err_set(signer, ERR_UNAVAILABLE, "the signer does not answer");
    return db->kind == ERR_NONE && signer->kind == ERR_NONE ? 0 : -1;
}

void svc_reload(struct svc *s, const struct svc_config *cfg)
{
    s->ocsp_live_rate = cfg->ocsp_live_signs_per_second > 0 ? cfg->ocsp_live_signs_per_second : 0;
    s->webhooks_enabled = cfg->webhooks_enabled;
}

unsigned long svc_signer_restarts(struct svc *s)
{
    struct signer_status st;

    signer_status(s->signer, &st);
    return st.restarts;
}

EVP_PKEY *svc_key(struct svc *s, const char *tenant, const char *key_id, struct err *e)
{
    struct key_cache_entry *k;
    EVP_PKEY *key;

    pthread_mutex_lock(&s->lock);
    for (k = s->keys; k != NULL; k = k->next) {
        if (strcmp(k->tenant, tenant) == 0 && strcmp(k->key_id, key_id) == 0) {
            EVP_PKEY_up_ref(k->key);
            pthread_mutex_unlock(&s->lock);
            return k->key;
        }
    }
    pthread_mutex_unlock(&s->lock);

    key = signer_key(s->signer, tenant, key_id, e);
    if (key == NULL)
        return NULL;
    k = xcalloc(1, sizeof(*k));
    k->tenant = xstrdup(tenant);
    k->key_id = xstrdup(key_id);
    k->key = key;
    EVP_PKEY_up_ref(key);
    pthread_mutex_lock(&s->lock);
    k->next = s->keys;
    s->keys = k;
    pthread_mutex_unlock(&s->lock);
    return key;
}

void svc_key_forget(struct svc *s, const char *tenant, const char *key_id)
{
    struct key_cache_entry **pk, *k;

    pthread_mutex_lock(&s->lock);
    for (pk = &s->keys; (k = *pk) != NULL; pk = &k->next)
        if (strcmp(k->tenant, tenant) == 0 && strcmp(k->key_id, key_id) == 0) {
            *pk = k->next;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    if (k != NULL) {
        EVP_PKEY_free(k->key);
        free(k->tenant);
        free(k->key_id);
        free(k);
    }
}

char *svc_crl_url(struct svc *s, const char *tenant, const char *ca)
{
    return xasprintf("%s/crl/%s/%s.crl", s->public_url, tenant, ca);
}

char *svc_crl_scope_url(struct svc *s, const char *tenant, const char *ca, int shard, int delta)
{
    if (shard <= 0)
        return delta ? xasprintf("%s/crl/%s/%s/delta.crl", s->public_url, tenant, ca)
                     : svc_crl_url(s, tenant, ca);
    return xasprintf("%s/crl/%s/%s/%d%s.crl", s->public_url, tenant, ca, shard,
                     delta ? "-delta" : "");
}

long svc_ca_option(const struct ca_rec *ca, const char *key, long fallback)
{
    json_t *o = json_loads(ca->options_json ? ca->options_json : "{}", 0, NULL);
    json_t *v = json_object_get(o, key);
    long n =
        json_is_integer(v) && json_integer_value(v) > 0 ? (long)json_integer_value(v) : fallback;
    json_decref(o);
    return n;
}

int svc_ca_crl_shards(const struct ca_rec *ca)
{
    long n = svc_ca_option(ca, "crl_shards", 0);
    return n > 1 ? (int)n : 0;
}

char *svc_ca_issuers_url(struct svc *s, const char *tenant, const char *ca)
{
    return xasprintf("%s/ca/%s/%s.crt", s->public_url, tenant, ca);
}

void svc_urls_fill(struct svc *s, const char *tenant, const struct ca_rec *ca, struct ca_urls *urls)
{
    urls->ocsp = xasprintf("%s/ocsp/%s/%s", s->public_url, tenant, ca->name);
    urls->ca_issuers = svc_ca_issuers_url(s, tenant, ca->name);
    urls->crl = svc_crl_url(s, tenant, ca->name);
    urls->crl_shards = svc_ca_crl_shards(ca);
    urls->crl_shard_base =
        urls->crl_shards ? xasprintf("%s/crl/%s/%s/", s->public_url, tenant, ca->name) : NULL;
}

void svc_urls_free(struct ca_urls *urls)
{
    free((char *)urls->ocsp);
    free((char *)urls->ca_issuers);
    free((char *)urls->crl);
    free((char *)urls->crl_shard_base);
    memset(urls, 0, sizeof(*urls));
}

int svc_audit_ok(struct store_tx *tx, const char *tenant, const struct actor *a, const char *action,
                 const char *object, const char *detail, struct err *e)
{
    struct audit_event ev = {
        .actor = a && a->id ? a->id : "system",
        .action = action,
        .object = object,
        .result = "ok",
        .detail = detail,
    };
    return audit_append(tx, tenant, &ev, e);
}

void svc_audit_refusal(struct svc *s, const char *tenant, const struct actor *a, const char *action,
                       const char *object, const struct err *why)
{
    json_t *detail = json_pack("{s:s, s:s, s:s}", "error", why->code, "detail", why->msg, "kind",
                               err_kind_word(why->kind));
    char *text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    struct audit_event ev = {
        .actor = a && a->id ? a->id : "anonymous",
        .action = action,
        .object = object,
        .result = why->kind == ERR_INTERNAL || why->kind == ERR_UNAVAILABLE || why->kind == ERR_NONE
                      ? "error"
                      : "refused",
        .detail = text,
    };
    struct err e2;
    int active;

    /* Events of tenants that do not exist go to the system chain. */
    if (tenant == NULL || !name_valid(tenant) || svc_tenant_check(s, tenant, &active, NULL) != 0)
        tenant = "_system";
    if (audit_record(s->store, tenant, &ev, &e2) != 0)
        log_error("audit: cannot record refusal of %s in %s: %s", action, tenant, e2.msg);
    free(text);
    json_decref(detail);
}

X509 *svc_ca_cert(struct svc *s, const struct ca_rec *r, struct err *e)
{
    struct ca_cache_entry *c;
    X509 *x;

    pthread_mutex_lock(&s->lock);
    for (c = s->ca_certs; c != NULL; c = c->next)
        if (strcmp(c->tenant, r->tenant) == 0 && strcmp(c->name, r->name) == 0 &&
            c->der_len == r->cert_len && memcmp(c->der, r->cert_der, r->cert_len) == 0) {
            X509_up_ref(c->cert);
            pthread_mutex_unlock(&s->lock);
            return c->cert;
        }
    pthread_mutex_unlock(&s->lock);
    if ((x = svc_der_to_x509(r->cert_der, r->cert_len, e)) == NULL)
        return NULL;
    c = xcalloc(1, sizeof(*c));
    c->tenant = xstrdup(r->tenant);
    c->name = xstrdup(r->name);
    c->der = xmalloc(r->cert_len);
    memcpy(c->der, r->cert_der, r->cert_len);
    c->der_len = r->cert_len;
    c->cert = x;
    X509_up_ref(x);
    pthread_mutex_lock(&s->lock);
    c->next = s->ca_certs;
    s->ca_certs = c;
    pthread_mutex_unlock(&s->lock);
    return x;
}

X509 *svc_der_to_x509(const unsigned char *der, size_t len, struct err *e)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);

    if (x == NULL)
        err_ossl(e, ERR_INTERNAL, "stored certificate does not parse");
    return x;
}

int svc_der_chain(const unsigned char *der, size_t len, STACK_OF(X509) * sk, struct err *e)
{
    const unsigned char *p = der, *end = der + len;

    while (p < end) {
        X509 *x = d2i_X509(NULL, &p, (long)(end - p));
        if (x == NULL)
            return err_ossl(e, ERR_INTERNAL, "stored chain does not parse");
        sk_X509_push(sk, x);
    }
    return 0;
}

/*
 * The parsed form of a stored profile text: the one kept for (tenant, name)
 * if the text is the same (a new version with another text replaces it), else
 * parsed and kept (up to PROFILE_CACHE_MAX profiles per node).  Parsing is a
 * JSON document and its regular expressions: ~5% of an issuance.
 */
static struct profile *profile_cached(struct svc *s, const char *tenant, const char *name,
                                      const char *json, struct err *e)
{
    struct profile_cache_entry *c;
    struct profile *p = NULL;

    pthread_mutex_lock(&s->lock);
    for (c = s->profiles; c != NULL; c = c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->name, name) == 0) {
            if (strcmp(c->json, json) == 0)
                p = profile_ref(c->profile);
            break;
        }
    pthread_mutex_unlock(&s->lock);
    if (p != NULL || (p = profile_parse(json, e)) == NULL)
        return p;
    pthread_mutex_lock(&s->lock);
    for (c = s->profiles; c != NULL; c = c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->name, name) == 0)
            break;
    if (c == NULL && s->profiles_kept < PROFILE_CACHE_MAX) {
        c = xcalloc(1, sizeof(*c));
        c->tenant = xstrdup(tenant);
        c->name = xstrdup(name);
        c->next = s->profiles;
        s->profiles = c;
        s->profiles_kept++;
    }
    if (c != NULL) {
        profile_free(c->profile);
        free(c->json);
        c->profile = profile_ref(p);
        c->json = xstrdup(json);
    }
    pthread_mutex_unlock(&s->lock);
    return p;
}

struct profile *svc_profile_load(struct svc *s, struct store_tx *tx, const char *tenant,
                                 const char *name, int *version, struct err *e)
{
    struct profile_rec *rec = NULL;
    struct profile *p;

    if (store_profile_get(tx, tenant, name, 0, &rec, e) != 0) {
        if (e && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "profile %s not found", name);
        return NULL;
    }
    p = profile_cached(s, tenant, name, rec->json, e);
    if (p == NULL)
        err_set(e, ERR_INTERNAL, "stored profile %s does not parse", name);
    else if (version)
        *version = rec->version;
    profile_rec_free(rec);
    return p;
}

char *svc_pem(const char *label, const unsigned char *der, size_t len)
{
    /* Straight into one buffer: a mem BIO grows by copying, and a CRL can be 50 MB. */
    size_t lines = (len + 47) / 48, label_len = strlen(label);
    size_t cap = lines * 65 + 2 * label_len + 64, n;
    char *out = xmalloc(cap);

    n = (size_t)snprintf(out, cap, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < len; i += 48) {
        n += (size_t)EVP_EncodeBlock((unsigned char *)out + n, der + i,
                                     (int)(len - i < 48 ? len - i : 48));
        out[n++] = '\n';
    }
    snprintf(out + n, cap - n, "-----END %s-----\n", label);
    return out;
}

void svc_cert_rec_fill(struct cert_rec *r, const char *tenant, const char *ca, X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);

    memset(r, 0, sizeof(*r));
    r->tenant = (char *)tenant;
    r->ca = (char *)ca;
    r->serial = serial_hex(X509_get0_serialNumber(cert));
    r->subject = name_oneline(X509_get_subject_name(cert));
    r->sans = sans_summary(cert);
    r->status = "good";
    asn1_time_to_epoch(X509_get0_notBefore(cert), &r->not_before);
    asn1_time_to_epoch(X509_get0_notAfter(cert), &r->not_after);
    r->reason = -1;
    r->der = der;
    r->der_len = len > 0 ? (size_t)len : 0;
    r->created = time_now();
}

/* ---- tenants -------------------------------------------------------- */

int svc_tenant_check(struct svc *s, const char *tenant, int *active, struct err *e)
{
    struct store_tx *tx;
    struct tenant_rec *t = NULL;
    int rc;

    if (!name_valid(tenant))
        return err_set(e, ERR_NOT_FOUND, "tenant not found");
    tx = store_begin_read(s->store, e);
    if (tx == NULL)
        return -1;
    rc = store_tenant_get(tx, tenant, &t, e);
    store_rollback(tx);
    if (rc != 0) {
        if (e && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "tenant %s not found", tenant);
        return -1;
    }
    if (active)
        *active = strcmp(t->status, "active") == 0;
    tenant_rec_free(t);
    return 0;
}

int svc_tenant_create(struct svc *s, const struct actor *a, const char *tenant, struct err *e)
{
    const char *const *names = profile_builtin_names();
    struct store_tx *tx;
    int version;

    if (!name_valid(tenant) || tenant[0] == '_')
        return err_set(e, ERR_INVALID,
                       "name: 1-63 characters of a-z 0-9 - _ . starting with a letter or digit");
    tx = store_begin(s->store, e);
    if (tx == NULL)
        return -1;
    if (store_tenant_create(tx, tenant, e) != 0) {
        if (e && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "tenant %s exists", tenant);
        goto fail;
    }
    for (size_t i = 0; names[i] != NULL; i++)
        if (store_profile_put(tx, tenant, names[i], profile_builtin_json(names[i]), &version, e) !=
            0)
            goto fail;
    if (svc_audit_ok(tx, tenant, a, "tenant.create", tenant, NULL, e) != 0)
        goto fail;
    if (svc_audit_ok(tx, "_system", a, "tenant.create", tenant, NULL, e) != 0)
        goto fail;
    return store_commit(tx, e);
fail:
    store_rollback(tx);
    return -1;
}

/* ---- tokens --------------------------------------------------------- */

char *svc_token_hash(const char *token)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL) != 1)
        abort(); /* SHA-256 is always there; failure means a broken library */
    return hex_encode(md, len);
}
