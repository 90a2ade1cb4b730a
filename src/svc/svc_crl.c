/*
 * svc_crl.c — full CRLs per CA, on demand and on a schedule.
 *
 * The number, the list of revoked certificates and the new CRL are read and
 * written in one write transaction, so CRL numbers strictly increase and a
 * CRL always reflects every revocation committed before it.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static long ca_option(const struct ca_rec *ca, const char *key, long fallback)
{
    json_t *o = json_loads(ca->options_json ? ca->options_json : "{}", 0, NULL);
    json_t *v = json_object_get(o, key);
    long n =
        json_is_integer(v) && json_integer_value(v) > 0 ? (long)json_integer_value(v) : fallback;
    json_decref(o);
    return n;
}

/* Builds, signs and inserts the next CRL of ca inside tx; *out set on success. */
static int crl_make(struct svc *s, struct store_tx *tx, const char *tenant, const struct ca_rec *ca,
                    struct crl_rec **out, struct err *e)
{
    int64_t now = time_now(), number;
    int64_t cutoff = now - s->crl_expired_margin_days * 86400;
    long hours = ca_option(ca, "crl_validity_hours", s->crl_validity_hours);
    struct cert_rec **revoked = NULL;
    struct crl_entry *entries = NULL;
    struct crl_rec rec = {0};
    EVP_PKEY *key = NULL;
    X509_CRL *crl = NULL;
    X509 *cert = NULL;
    size_t n = 0;
    int rc = -1;

    if (store_cert_revoked(tx, tenant, ca->name, cutoff, &revoked, &n, e) != 0)
        return -1;
    entries = xcalloc(n ? n : 1, sizeof(*entries));
    for (size_t i = 0; i < n; i++) {
        entries[i].serial = revoked[i]->serial;
        entries[i].revoked_at = revoked[i]->revoked_at;
        entries[i].reason = revoked[i]->reason;
        entries[i].invalidity_date = revoked[i]->invalidity_date;
    }
    if ((cert = svc_ca_cert(s, ca, e)) == NULL ||
        (key = svc_key(s, tenant, ca->key_id, e)) == NULL ||
        store_crl_next_number(tx, tenant, ca->name, &number, e) != 0)
        goto out;
    if (crl_build(cert, key, entries, n, number, now, now + hours * 3600, &crl, e) != 0)
        goto out;
    rec.tenant = (char *)tenant;
    rec.ca = ca->name;
    rec.number = number;
    rec.this_update = now;
    rec.next_update = now + hours * 3600;
    rec.der_len = (size_t)i2d_X509_CRL(crl, &rec.der);
    if (store_crl_insert(tx, tenant, &rec, e) != 0)
        goto out;
    *out = xcalloc(1, sizeof(**out));
    **out = rec;
    (*out)->tenant = xstrdup(tenant);
    (*out)->ca = xstrdup(ca->name);
    (*out)->der = xmalloc(rec.der_len);
    memcpy((*out)->der, rec.der, rec.der_len);
    rc = 0;
out:
    OPENSSL_free(rec.der);
    X509_CRL_free(crl);
    X509_free(cert);
    EVP_PKEY_free(key);
    free(entries);
    cert_rec_list_free(revoked, n);
    return rc;
}

int svc_crl_generate(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                     struct crl_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct ca_rec *rec = NULL;
    char *detail;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_ca_get(tx, tenant, ca, &rec, e) != 0) {
        err_set(e, 404, ERR_NOT_FOUND, "CA %s not found", ca);
        goto out;
    }
    if (rec->cert_der == NULL) {
        err_set(e, 409, ERR_CONFLICT, "CA %s is %s: it has no certificate yet", ca, rec->status);
        goto out;
    }
    if (crl_make(s, tx, tenant, rec, out, e) != 0)
        goto out;
    detail = xasprintf("{\"number\":%lld}", (long long)(*out)->number);
    rc = svc_audit_ok(tx, tenant, a, "crl.generate", ca, detail, e);
    free(detail);
    if (rc != 0) {
        crl_rec_free(*out);
        *out = NULL;
        goto out;
    }
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc != 0) {
        crl_rec_free(*out);
        *out = NULL;
    }
out:
    store_rollback(tx);
    ca_rec_free(rec);
    return rc;
}

/* Whether ca needs a new CRL now. */
static int crl_due(struct svc *s, const char *tenant, const struct ca_rec *ca)
{
    struct store_tx *tx = store_begin_read(s->store, NULL);
    struct crl_rec *latest = NULL;
    int64_t now = time_now();
    long interval = ca_option(ca, "crl_interval_minutes", s->crl_interval_minutes) * 60;
    int due;

    if (tx == NULL)
        return 0;
    if (store_crl_latest(tx, tenant, ca->name, &latest, NULL) != 0)
        due = 1;
    else
        due = now >= latest->this_update + interval ||
              now >= latest->next_update - (latest->next_update - latest->this_update) / 2;
    crl_rec_free(latest);
    store_rollback(tx);
    return due;
}

/* Makes the due CRLs of one tenant; returns how many, -1 on a listing error. */
static int crl_tick_tenant(struct svc *s, const char *tenant, struct err *e)
{
    static const struct actor scheduler = {.id = "scheduler"};
    struct store_tx *tx = store_begin_read(s->store, e);
    struct ca_rec **cas = NULL;
    struct crl_rec *crl;
    struct err ce;
    size_t n = 0;
    int made = 0;

    if (tx == NULL)
        return -1;
    if (store_ca_list(tx, tenant, &cas, &n, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    for (size_t i = 0; i < n; i++) {
        if (cas[i]->cert_der == NULL || !crl_due(s, tenant, cas[i]))
            continue;
        if (svc_crl_generate(s, &scheduler, tenant, cas[i]->name, &crl, &ce) == 0) {
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
