/*
 * svc_metrics.c — the gauges of /metrics that are read from the database
 * (the approval queue, the webhook and syslog backlogs, per tenant) and the
 * signer's state.  Counters are counted where things happen (svc_cert.c,
 * svc_ocsp.c, svc_tsa.c, svc_crl.c); these are refreshed when /metrics is
 * read, at most once every REFRESH_SECONDS whoever reads it, so that
 * scrapers (several Prometheus servers, a curl loop) cost the database one
 * read transaction and three count queries per tenant per interval at most.
 */
#include "svc/svc_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/metrics.h"

#define REFRESH_SECONDS 5

static pthread_mutex_t refresh_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t refreshed_at;

/* The backlog of tenant's chain to the configured SIEM: events after the last one sent. */
static int syslog_backlog(struct store_tx *tx, const char *tenant, int64_t *n, struct err *e)
{
    struct audit_rec *last = NULL;
    int64_t sent = 0;

    *n = 0;
    if (store_audit_last(tx, tenant, &last, e) != 0)
        return e->kind == ERR_NOT_FOUND ? 0 : -1; /* an empty chain */
    if (store_audit_forward_get(tx, tenant, "system", &sent, e) == 0)
        *n = last->seq > sent ? last->seq - sent : 0;
    audit_rec_free(last);
    return e->kind == ERR_NONE ? 0 : -1;
}

/* Sets the gauges of one tenant; -1 with e set on a database error. */
static int tenant_gauges(struct store_tx *tx, const char *tenant, int syslog, struct err *e)
{
    const char *labels[] = {tenant};
    int64_t pending = 0, webhooks = 0, backlog = 0;

    if (store_request_count(tx, tenant, "pending", &pending, e) != 0 ||
        store_webhook_event_count(tx, tenant, &webhooks, e) != 0 ||
        (syslog && syslog_backlog(tx, tenant, &backlog, e) != 0))
        return -1;
    metrics_set(&metrics_approvals_pending, (double)pending, labels);
    metrics_set(&metrics_webhooks_pending, (double)webhooks, labels);
    if (syslog)
        metrics_set(&metrics_syslog_backlog, (double)backlog, labels);
    return 0;
}

/* Reads every tenant's gauges anew (a deleted tenant's series go); -1 on a database error. */
static int gauges_read(struct svc *s, int syslog, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tenant_rec **tenants = NULL;
    size_t n = 0;
    int rc = 0;

    if (tx == NULL || store_tenant_list(tx, &tenants, &n, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    metrics_clear(&metrics_approvals_pending);
    metrics_clear(&metrics_webhooks_pending);
    metrics_clear(&metrics_syslog_backlog);
    for (size_t i = 0; i < n; i++) {
        err_clear(e);
        if (rc == 0 && tenant_gauges(tx, tenants[i]->name, syslog, e) != 0)
            rc = -1;
        tenant_rec_free(tenants[i]);
    }
    if (rc == 0 && syslog)
        rc = tenant_gauges(tx, "_system", syslog, e) == 0 ? 0 : -1;
    free(tenants);
    store_rollback(tx);
    return rc;
}

/*
 * The key store's gauges from its health line (signer_health: "token LABEL:
 * ok" per PKCS#11 token, as p11_describe and fo_describe write it, and
 * "signing with the backup" after a failover).
 */
static void keystore_gauges(struct svc *s)
{
    char health[1024], label[256];
    const char *p;
    struct err e;
    int up = signer_health(s->signer, health, sizeof(health), &e) == 0;

    metrics_set(&metrics_keystore_up, up, NULL);
    if (!up)
        return; /* the tokens' last known state stays */
    metrics_clear(&metrics_keystore_token_up);
    for (p = health; (p = strstr(p, "token ")) != NULL;) {
        size_t n = strcspn(p + 6, ":");
        const char *labels[] = {label};
        if (p[6 + n] != ':' || n >= sizeof(label))
            break;
        memcpy(label, p + 6, n);
        label[n] = '\0';
        p += 6 + n + 1;
        metrics_set(&metrics_keystore_token_up, strncmp(p, " ok", 3) == 0, labels);
    }
    if (strstr(health, "signing with the ") != NULL)
        metrics_set(&metrics_keystore_on_backup, strstr(health, "signing with the backup") != NULL,
                    NULL);
}

void svc_metrics_refresh(struct svc *s, int syslog)
{
    struct signer_status st;
    struct err e;
    int due;

    signer_status(s->signer, &st);
    metrics_signer_state(st.up, st.restarts, st.failed_restarts);
    keystore_gauges(s);
    pthread_mutex_lock(&refresh_lock);
    due = time_now() - refreshed_at >= REFRESH_SECONDS;
    if (due)
        refreshed_at = time_now();
    pthread_mutex_unlock(&refresh_lock);
    err_clear(&e);
    if (due && gauges_read(s, syslog, &e) != 0)
        log_warn("metrics: the database's gauges were not read: %s", e.msg);
}
