/*
 * svc_crl.c — CRLs per CA, on demand and on a schedule: the complete CRL of
 * the whole CA, one per shard of a sharded CA, and delta CRLs on each.
 *
 * The number, the entries and the new CRL are read and written in one write
 * transaction, so CRL numbers strictly increase (one sequence per CA, shared
 * by every scope and by complete and delta CRLs, RFC 5280 §5.2.4) and a CRL
 * always reflects every status change committed before it.  Entries stream
 * from the store into the encoder: a million of them never exist as records.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/metrics.h"

#define DELTA_VALIDITY_HOURS 24
#define CRLS_KEPT            2 /* per scope and kind: the current one and the one before */

/* A CA's CRL settings: its options over the configured defaults. */
struct crl_opts {
    long validity_hours, interval_minutes;
    long delta_interval_minutes, delta_validity_hours; /* interval 0: no deltas */
    int shards;                                        /* 0: not sharded */
};

static void crl_opts_of(struct svc *s, const struct ca_rec *ca, struct crl_opts *o)
{
    o->validity_hours = svc_ca_option(ca, "crl_validity_hours", s->crl_validity_hours);
    o->interval_minutes = svc_ca_option(ca, "crl_interval_minutes", s->crl_interval_minutes);
    o->delta_interval_minutes = svc_ca_option(ca, "delta_crl_interval_minutes", 0);
    o->delta_validity_hours = svc_ca_option(ca, "delta_crl_validity_hours", DELTA_VALIDITY_HOURS);
    o->shards = svc_ca_crl_shards(ca);
}

/* Feeds one stored entry to the CRL encoder; a reinstated one is removeFromCRL (§5.3.1). */
static int entry_add(void *arg, const struct crl_entry_rec *r, struct err *e)
{
    struct crl_entry en = {r->serial, r->revoked_at, r->reason, r->invalidity_date};

    if (strcmp(r->status, "good") == 0) {
        en.revoked_at = r->status_changed;
        en.reason = REASON_REMOVE_FROM_CRL;
        en.invalidity_date = 0;
    }
    return crl_writer_add(arg, &en, e);
}

/* What one publication needs: the CA, its certificate and key, and the time. */
struct crl_job {
    struct svc *s;
    struct store_tx *tx;
    const char *tenant;
    const struct ca_rec *ca;
    struct crl_opts opts;
    X509 *cert;
    EVP_PKEY *key;
    int64_t now;
};

/* Signs the entries in w as CRL `sc` of scope shard and stores it; *out set on success. */
static int crl_store(struct crl_job *j, struct crl_writer *w, struct crl_scope *sc, int shard,
                     struct crl_rec **out, struct err *e)
{
    struct crl_rec rec = {0};

    if (store_crl_next_number(j->tx, j->tenant, j->ca->name, &sc->number, e) != 0 ||
        crl_writer_finish(w, j->cert, j->key, sc, &rec.der, &rec.der_len, e) != 0)
        return -1;
    rec.tenant = (char *)j->tenant;
    rec.ca = j->ca->name;
    rec.shard = shard;
    rec.delta_base = sc->delta_base;
    rec.number = sc->number;
    rec.this_update = sc->this_update;
    rec.next_update = sc->next_update;
    if (store_crl_insert(j->tx, j->tenant, &rec, e) != 0 ||
        store_crl_prune(j->tx, j->tenant, j->ca->name, shard, sc->delta_base > 0, CRLS_KEPT, e) !=
            0) {
        free(rec.der);
        return -1;
    }
    *out = xcalloc(1, sizeof(**out));
    **out = rec; /* takes the DER */
    (*out)->tenant = xstrdup(j->tenant);
    (*out)->ca = xstrdup(j->ca->name);
    return 0;
}

/*
 * Publishes one CRL of scope `shard` inside j->tx: complete, or (delta) the
 * changes since the scope's latest complete CRL.  *out set on success.
 */
static int crl_publish(struct crl_job *j, int shard, int delta, struct crl_rec **out, struct err *e)
{
    int64_t cutoff = j->now - j->s->crl_expired_margin_days * 86400;
    long hours = delta ? j->opts.delta_validity_hours : j->opts.validity_hours;
    struct crl_scope sc = {.this_update = j->now, .next_update = j->now + hours * 3600};
    struct crl_writer *w = crl_writer_new();
    struct crl_rec *base = NULL;
    char *idp = NULL, *freshest = NULL;
    int rc = -1;

    if (delta && store_crl_latest_scope(j->tx, j->tenant, j->ca->name, shard, 0, &base, e) != 0) {
        err_set(e, ERR_CONFLICT, "CA %s: no complete CRL to base a delta on", j->ca->name);
        goto out;
    }
    if (store_cert_crl_entries(j->tx, j->tenant, j->ca->name, shard, cutoff,
                               base ? base->this_update : 0, entry_add, w, e) != 0)
        goto out;
    sc.delta_base = base ? base->number : 0;
    if (shard > 0)
        sc.idp_url = idp = svc_crl_scope_url(j->s, j->tenant, j->ca->name, shard, 0);
    if (!delta && j->opts.delta_interval_minutes > 0)
        sc.freshest_url = freshest = svc_crl_scope_url(j->s, j->tenant, j->ca->name, shard, 1);
    rc = crl_store(j, w, &sc, shard, out, e);
out:
    free(idp);
    free(freshest);
    crl_rec_free(base);
    crl_writer_free(w);
    return rc;
}

/* The scopes' CRLs (complete and delta, or deltas only) of j's CA; *out is scope 0's last. */
static int crl_publish_all(struct crl_job *j, int deltas_only, json_t *made, struct crl_rec **out,
                           struct err *e)
{
    int with_deltas = j->opts.delta_interval_minutes > 0;
    struct crl_rec *rec = NULL;

    for (int shard = 0; shard <= j->opts.shards; shard++) {
        for (int delta = deltas_only; delta <= with_deltas; delta++) {
            if (crl_publish(j, shard, delta, &rec, e) != 0)
                return -1;
            json_array_append_new(made, json_pack("{s:i, s:I, s:I}", "shard", shard, "number",
                                                  (json_int_t)rec->number, "delta_base",
                                                  (json_int_t)rec->delta_base));
            if (shard == 0 && delta == deltas_only) {
                crl_rec_free(*out);
                *out = rec;
            } else {
                crl_rec_free(rec);
            }
            rec = NULL;
        }
    }
    return 0;
}

/* Loads the CA inside tx and checks it can publish. */
static int crl_job_load(struct crl_job *j, const char *ca, struct ca_rec **rec, struct err *e)
{
    if (store_ca_get(j->tx, j->tenant, ca, rec, e) != 0)
        return err_set(e, ERR_NOT_FOUND, "CA %s not found", ca);
    if ((*rec)->cert_der == NULL)
        return err_set(e, ERR_CONFLICT, "CA %s is %s: it has no certificate yet", ca,
                       (*rec)->status);
    j->ca = *rec;
    crl_opts_of(j->s, *rec, &j->opts);
    if ((j->cert = svc_ca_cert(j->s, *rec, e)) == NULL ||
        (j->key = svc_key(j->s, j->tenant, (*rec)->key_id, e)) == NULL)
        return -1;
    return 0;
}

/* Sets the CRL gauges of /metrics from r, the latest complete CRL of (tenant, ca). */
static void crl_gauges(const char *tenant, const char *ca, const struct crl_rec *r)
{
    const char *labels[] = {tenant, ca};

    metrics_set(&metrics_crl_this_update, (double)r->this_update, labels);
    metrics_set(&metrics_crl_next_update, (double)r->next_update, labels);
    metrics_set(&metrics_crl_age, (double)r->this_update, labels);
    metrics_set(&metrics_crl_size, (double)r->der_len, labels);
}

static int crl_run(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                   int deltas_only, struct crl_rec **out, struct err *e)
{
    struct crl_job j = {.s = s, .tenant = tenant, .now = time_now()};
    const char *action = deltas_only ? "crl.delta" : "crl.generate";
    struct ca_rec *rec = NULL;
    json_t *made = json_array(), *detail;
    char *text;
    int rc = -1;

    *out = NULL;
    if ((j.tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (crl_job_load(&j, ca, &rec, e) != 0)
        goto out;
    if (deltas_only && j.opts.delta_interval_minutes <= 0) {
        err_set(e, ERR_CONFLICT, "CA %s publishes no delta CRLs", ca);
        goto out;
    }
    if (crl_publish_all(&j, deltas_only, made, out, e) != 0)
        goto out;
    detail = json_pack("{s:I, s:O}", "number", (json_int_t)(*out)->number, "published", made);
    text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(detail);
    rc = svc_audit_ok(j.tx, tenant, a, action, ca, text, e);
    free(text);
    if (rc == 0) {
        rc = store_commit(j.tx, e);
        j.tx = NULL;
    }
    if (rc == 0 && !deltas_only)
        crl_gauges(tenant, ca, *out);
out:
    if (rc != 0) {
        crl_rec_free(*out);
        *out = NULL;
    }
    store_rollback(j.tx);
    json_decref(made);
    X509_free(j.cert);
    EVP_PKEY_free(j.key);
    ca_rec_free(rec);
    return rc;
}

int svc_crl_generate(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                     struct crl_rec **out, struct err *e)
{
    return crl_run(s, a, tenant, ca, 0, out, e);
}

int svc_crl_generate_delta(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                           struct crl_rec **out, struct err *e)
{
    return crl_run(s, a, tenant, ca, 1, out, e);
}

/*
 * Whether the latest CRL of scope 0 of this kind is due for renewal (or
 * missing); a complete one read sets the CRL gauges.
 */
static int scope_due(struct store_tx *tx, const char *tenant, const char *ca, int delta,
                     long interval_minutes, int64_t now)
{
    struct crl_rec *latest = NULL;
    int due;

    if (store_crl_latest_scope(tx, tenant, ca, 0, delta, &latest, NULL) != 0)
        return 1;
    if (!delta)
        crl_gauges(tenant, ca, latest);
    due = now >= latest->this_update + interval_minutes * 60 ||
          now >= latest->next_update - (latest->next_update - latest->this_update) / 2;
    crl_rec_free(latest);
    return due;
}

/* How long after its creation a CA is left to its creator for its first CRL. */
#define NEW_CA_SECONDS 3

/* What ca needs now: 2 complete CRLs (with their deltas), 1 deltas only, 0 nothing. */
static int crl_due(struct svc *s, const char *tenant, const struct ca_rec *ca)
{
    struct store_tx *tx;
    struct crl_opts o;
    int64_t now = time_now();
    int due = 0;

    /* A CA made moments ago: its creator publishes (may still be publishing) its first CRL. */
    if (now - ca->created < NEW_CA_SECONDS || (tx = store_begin_read(s->store, NULL)) == NULL)
        return 0;
    crl_opts_of(s, ca, &o);
    if (scope_due(tx, tenant, ca->name, 0, o.interval_minutes, now))
        due = 2;
    else if (o.delta_interval_minutes > 0 &&
             scope_due(tx, tenant, ca->name, 1, o.delta_interval_minutes, now))
        due = 1;
    store_rollback(tx);
    return due;
}

/* How long a node holds a CA's CRL job: another node takes it over after that. */

#define CRL_LEASE_SECONDS 120

/* Makes the due CRLs of one tenant; returns how many CAs published, -1 on a listing error. */
static int crl_tick_tenant(struct svc *s, const char *tenant, struct err *e)
{
    static const struct actor scheduler = {.id = "scheduler"};
    struct store_tx *tx = store_begin_read(s->store, e);
    struct ca_rec **cas = NULL;
    struct crl_rec *crl;
    struct err ce;
    size_t n = 0;
    int made = 0, due;

    if (tx == NULL)
        return -1;
    if (store_ca_list(tx, tenant, &cas, &n, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    for (size_t i = 0; i < n; i++) {
        const char *labels[] = {tenant, cas[i]->name};
        if (cas[i]->cert_der != NULL)
            metrics_set(&metrics_ca_not_after, (double)cas[i]->not_after, labels);
        /* An offline CA's CRLs come from its bundles (svc_offline.c): its key is not here. */
        if (cas[i]->cert_der == NULL || strcmp(cas[i]->status, "offline") == 0 ||
            (due = crl_due(s, tenant, cas[i])) == 0 ||
            !svc_lease(s, tenant, "crl", cas[i]->name, CRL_LEASE_SECONDS))
            continue;
        if (crl_run(s, &scheduler, tenant, cas[i]->name, due == 1, &crl, &ce) == 0) {
            made++;
            crl_rec_free(crl);
        } else {
            log_warn("tenant %s: scheduled CRL of CA %s failed: %s", tenant, cas[i]->name, ce.msg);
        }
    }
    for (size_t i = 0; i < n; i++)
        ca_rec_free(cas[i]);
    free(cas);
    return made;
}

int svc_crl_tick(struct svc *s, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tenant_rec **tenants = NULL;
    size_t n = 0;
    int made = 0, k;

    if (tx == NULL)
        return -1;
    if (store_tenant_list(tx, &tenants, &n, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    for (size_t i = 0; i < n; i++) {
        /* Suspended tenants keep their CRLs fresh too. */
        k = crl_tick_tenant(s, tenants[i]->name, e);
        if (k > 0)
            made += k;
        tenant_rec_free(tenants[i]);
    }
    free(tenants);
    return made;
}

int svc_crl_latest(struct svc *s, const char *tenant, const char *ca, int shard, int delta,
                   struct crl_rec **out, struct err *e)
{
    struct store_tx *tx;
    struct ca_rec *rec = NULL;
    int rc;

    if (!name_valid(tenant) || !name_valid(ca))
        return err_set(e, ERR_NOT_FOUND, "CA %s not found", ca ? ca : "");
    if (shard < 0 || shard > CRL_SHARDS_MAX)
        return err_set(e, ERR_NOT_FOUND, "CA %s has no such CRL", ca);
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    /* The CRL first: the public endpoints read nothing else when it is there. */
    rc = store_crl_latest_scope(tx, tenant, ca, shard, delta, out, e);
    if (rc != 0 && e->kind == ERR_NOT_FOUND) {
        if (store_ca_get(tx, tenant, ca, &rec, e) != 0)
            err_set(e, ERR_NOT_FOUND, "CA %s not found", ca);
        else
            err_set(e, ERR_NOT_FOUND, "CA %s has no such CRL", ca);
    }
    store_rollback(tx);
    ca_rec_free(rec);
    return rc;
}
