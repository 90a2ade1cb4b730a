/*
 * svc_tenant.c — a tenant's life after creation, and its limits.
 *
 * States: active → suspended (no new issuance: certificates, CAs, TSA tokens;
 * OCSP, CRLs, revocation and reads go on) → active again; active or suspended
 * → deleted (the tenant's API is closed, OCSP and CRLs are still served, its
 * data is kept for the retention period and it can still be reactivated) →
 * purged (the audit chain is checkpointed and exported to a file, the keys
 * are deleted from the signer, every row of the tenant is deleted; the name
 * stays taken).  Every change is an event of the tenant's chain and of the
 * _system chain, in the transaction that makes it.
 *
 * Limits: certificates per hour, counted in the database (so across nodes),
 * and API requests per second, a token bucket per tenant on each node.  Both
 * refuse with ERR_LIMIT; rate-limit refusals are audited at most once a second per
 * tenant, with the number refused since the last such event, so a flood does
 * not become a flood of audit writes.
 */
#include "svc/svc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "lib/log.h"

/* How long a node trusts what it read of a tenant's status and limits. */
#define GATE_TTL_MS 1000
/* A node renews its presence this often; its lease runs out after NODE_LEASE_SECONDS. */
#define NODE_BEAT_SECONDS  5
#define NODE_LEASE_SECONDS 15

struct gate {
    char *tenant;
    char status[16];
    int rps;
    int64_t fetched_ms; /* when status and rps were read */
    double tokens;      /* the bucket: up to rps */
    int64_t refill_ms;
    long refused;       /* refusals not yet audited */
    int64_t audited_ms; /* the last refusal event */
    struct gate *next;
};

struct tenant_gates {
    pthread_mutex_t lock;
    struct gate *list;
    int nodes;      /* live nodes sharing each tenant's rate (svc_node_tick), at least 1 */
    int64_t beat;   /* when this node last renewed its presence (time_now) */
    int64_t pruned; /* when this node last removed expired idempotency keys (time_now) */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct tenant_gates *svc_tenant_gates_new(void)
{
    struct tenant_gates *g = xcalloc(1, sizeof(*g));

    pthread_mutex_init(&g->lock, NULL);
    g->nodes = 1;
    g->beat = INT64_MIN / 2;
    return g;
}

void svc_tenant_gates_free(struct tenant_gates *g)
{
    if (g == NULL)
        return;
    for (struct gate *x = g->list, *next; x != NULL; x = next) {
        next = x->next;
        free(x->tenant);
        free(x);
    }
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* This node rereads the tenant at its next request (other nodes within GATE_TTL_MS). */
static void gate_forget(struct svc *s, const char *tenant)
{
    pthread_mutex_lock(&s->gates->lock);
    for (struct gate *g = s->gates->list; g != NULL; g = g->next)
        if (strcmp(g->tenant, tenant) == 0)
            g->fetched_ms = INT64_MIN / 2;
    pthread_mutex_unlock(&s->gates->lock);
}

/* ---- reading and changing a tenant ------------------------------------------- */

int svc_tenants(struct svc *s, struct tenant_rec ***out, size_t *n, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_tenant_list(tx, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_tenant_list(struct svc *s, struct tenant_rec ***out, size_t *n, struct err *e)
{
    return svc_tenants(s, out, n, e);
}

int svc_tenant_get(struct svc *s, const char *tenant, struct tenant_rec **out, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant))
        return err_set(e, ERR_NOT_FOUND, "tenant not found");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_tenant_get(tx, tenant, out, e);
    store_rollback(tx);
    if (rc != 0 && e != NULL && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "tenant %s not found", tenant);
    return rc;
}

/* Whether status is one of the space-separated words of `allowed`. */
static int status_in(const char *status, const char *allowed)
{
    size_t n = strlen(status);

    for (const char *p = allowed; (p = strstr(p, status)) != NULL; p += n)
        if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* A change of a tenant: a move between states, or new limits (to == NULL). */
struct tenant_change {
    const char *from;                        /* the states it may be in, space-separated */
    const char *to;                          /* the new state, or NULL */
    const char *reason;                      /* with a new state; may be NULL */
    int certs_per_hour, requests_per_second; /* without: -1 unchanged */
};

/* Applies c to t; the event's detail in *detail (caller frees); -1/ERR_CONFLICT if t's state
 * refuses it. */
static int change_apply(struct svc *s, struct tenant_rec *t, const struct tenant_change *c,
                        char **detail, struct err *e)
{
    json_t *d;

    if (!status_in(t->status, c->from))
        return err_set(e, ERR_CONFLICT, "tenant %s is %s", t->name, t->status);
    if (c->to == NULL) {
        if (c->certs_per_hour >= 0)
            t->certs_per_hour = c->certs_per_hour;
        if (c->requests_per_second >= 0)
            t->requests_per_second = c->requests_per_second;
        d = json_pack("{s:i, s:i}", "certs_per_hour", t->certs_per_hour, "requests_per_second",
                      t->requests_per_second);
    } else {
        d = json_pack("{s:s, s:s, s:s?}", "from", t->status, "to", c->to, "reason", c->reason);
        free(t->status);
        t->status = xstrdup(c->to);
        free(t->status_reason);
        t->status_reason = c->reason ? xstrdup(c->reason) : NULL;
        t->deleted_at = strcmp(c->to, "deleted") == 0 ? time_now() : 0;
        t->purge_after = t->deleted_at ? t->deleted_at + s->tenant_retention_days * 86400 : 0;
        if (t->purge_after)
            json_object_set_new(d, "purge_after", json_integer(t->purge_after));
    }
    *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    return 0;
}

/* Applies c to tenant, audited as `action` in its chain and the _system chain, in one transaction.
 */
static int change(struct svc *s, const struct actor *a, const char *tenant,
                  const struct tenant_change *c, const char *action, struct err *e)
{
    struct store_tx *tx;
    struct tenant_rec *t = NULL;
    char *detail = NULL;
    int rc = -1;

    if (c->reason != NULL && strlen(c->reason) > 1000)
        return err_set(e, ERR_INVALID, "reason: at most 1000 characters");
    if (!name_valid(tenant) || tenant[0] == '_')
        return err_set(e, ERR_NOT_FOUND, "tenant %s not found", tenant);
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (store_tenant_get(tx, tenant, &t, e) != 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "tenant %s not found", tenant);
        goto out;
    }
    if (change_apply(s, t, c, &detail, e) != 0 || store_tenant_update(tx, tenant, t, e) != 0 ||
        svc_audit_ok(tx, tenant, a, action, tenant, detail, e) != 0 ||
        svc_audit_ok(tx, "_system", a, action, tenant, detail, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    gate_forget(s, tenant);
out:
    store_rollback(tx);
    tenant_rec_free(t);
    free(detail);
    return rc;
}

int svc_tenant_suspend(struct svc *s, const struct actor *a, const char *tenant, const char *reason,
                       struct err *e)
{
    struct tenant_change c = {.from = "active", .to = "suspended", .reason = reason};

    return change(s, a, tenant, &c, "tenant.suspend", e);
}

int svc_tenant_reactivate(struct svc *s, const struct actor *a, const char *tenant, struct err *e)
{
    struct tenant_change c = {.from = "suspended deleted", .to = "active"};

    return change(s, a, tenant, &c, "tenant.reactivate", e);
}

int svc_tenant_delete(struct svc *s, const struct actor *a, const char *tenant, const char *reason,
                      struct err *e)
{
    struct tenant_change c = {.from = "active suspended", .to = "deleted", .reason = reason};

    return change(s, a, tenant, &c, "tenant.delete", e);
}

int svc_tenant_set_limits(struct svc *s, const struct actor *a, const char *tenant,
                          int certs_per_hour, int requests_per_second, struct err *e)
{
    struct tenant_change c = {.from = "active suspended deleted",
                              .certs_per_hour = certs_per_hour,
                              .requests_per_second = requests_per_second};

    return change(s, a, tenant, &c, "tenant.limits", e);
}

/* ---- limits ------------------------------------------------------------------ */

int svc_cert_quota(struct store_tx *tx, const struct tenant_rec *t, struct err *e)
{
    int64_t n = 0;
    int rc;

    if (t->certs_per_hour <= 0)
        return 0;
    rc = store_cert_count_since(tx, t->name, time_now() - 3600, &n, e);
    if (rc == 0 && n >= t->certs_per_hour)
        rc = err_set(e, ERR_LIMIT,
                     "tenant %s has issued %" PRId64 " certificates in the last hour: its quota "
                     "is %d an hour",
                     t->name, n, t->certs_per_hour);
    return rc;
}

/* The gate of tenant (made if new), its status and rate at most GATE_TTL_MS old; lock held. */
static struct gate *gate_of(struct svc *s, const char *tenant, int64_t now, struct err *e)
{
    struct gate *g;
    struct tenant_rec *t = NULL;

    for (g = s->gates->list; g != NULL && strcmp(g->tenant, tenant) != 0; g = g->next)
        ;
    if (g != NULL && now - g->fetched_ms < GATE_TTL_MS)
        return g;
    /* A short read under the lock: once a second per tenant. */
    if (svc_tenant_get(s, tenant, &t, e) != 0)
        return NULL;
    if (g == NULL) {
        g = xcalloc(1, sizeof(*g));
        g->tenant = xstrdup(tenant);
        g->rps = -1;
        g->next = s->gates->list;
        s->gates->list = g;
    }
    if (g->rps != t->requests_per_second) { /* a new rate starts with a full bucket */
        g->rps = t->requests_per_second;
        g->tokens = g->rps;
        g->refill_ms = now;
    }
    snprintf(g->status, sizeof(g->status), "%s", t->status);
    g->fetched_ms = now;
    tenant_rec_free(t);
    return g;
}

/*
 * Takes a token from g's bucket: 1 if there was one.  The bucket fills at
 * this node's share of the rate and holds at most that share (at least one
 * token, so that a rate below the number of nodes still admits requests).
 */
static int bucket_take(struct gate *g, int nodes, int64_t now)
{
    double rate = (double)g->rps / nodes, cap = rate < 1.0 ? 1.0 : rate;

    g->tokens += (double)(now - g->refill_ms) * rate / 1000.0;
    if (g->tokens > cap)
        g->tokens = cap;
    g->refill_ms = now;
    if (g->tokens < 1.0)
        return 0;
    g->tokens -= 1.0;
    return 1;
}

int svc_tenant_creates(struct svc *s, const char *tenant, struct err *e)
{
    struct tenant_rec *t = NULL;
    int rc;

    if (svc_tenant_get(s, tenant, &t, e) != 0)
        return -1;
    rc = strcmp(t->status, "active") == 0
             ? 0
             : err_set(e, ERR_FORBIDDEN,
                       "tenant %s is not active (%s): it may read, export and revoke only", tenant,
                       t->status);
    tenant_rec_free(t);
    return rc;
}

int svc_tenant_admit(struct svc *s, const char *tenant, long *refused, struct err *e)
{
    int64_t now = now_ms();
    struct gate *g;
    int rc = 0;

    *refused = 0;
    pthread_mutex_lock(&s->gates->lock);
    if ((g = gate_of(s, tenant, now, e)) == NULL) {
        rc = -1;
    } else if (strcmp(g->status, "deleted") == 0 || strcmp(g->status, "purged") == 0) {
        rc = err_set(e, ERR_NOT_FOUND, "tenant %s is deleted", tenant);
    } else if (g->rps > 0 && !bucket_take(g, s->gates->nodes, now)) {
        rc = err_set(e, ERR_LIMIT,
                     "tenant %s is limited to %d API requests a second (shared by %d node%s): "
                     "retry later",
                     tenant, g->rps, s->gates->nodes, s->gates->nodes == 1 ? "" : "s");
        g->refused++;
        if (now - g->audited_ms >= 1000) {
            g->audited_ms = now;
            *refused = g->refused;
            g->refused = 0;
        }
    }
    pthread_mutex_unlock(&s->gates->lock);
    return rc;
}

/* Removes every tenant's idempotency keys older than IDEMPOTENCY_KEEP_SECS (hourly). */
static void idempotency_prune(struct svc *s, int64_t now)
{
    struct tenant_rec **list = NULL;
    struct store_tx *tx;
    size_t n = 0;
    struct err e;

    if (svc_tenants(s, &list, &n, &e) != 0) {
        log_warn("idempotency keys: %s", e.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if ((tx = store_begin(s->store, &e)) == NULL) {
            log_warn("tenant %s: idempotency keys: %s", list[i]->name, e.msg);
        } else if (store_idempotency_prune(tx, list[i]->name, now - IDEMPOTENCY_KEEP_SECS, &e) !=
                   0) {
            store_rollback(tx);
            log_warn("tenant %s: idempotency keys: %s", list[i]->name, e.msg);
        } else if (store_commit(tx, &e) != 0) {
            log_warn("tenant %s: idempotency keys: %s", list[i]->name, e.msg);
        }
        tenant_rec_free(list[i]);
    }
    free(list);
}

int svc_node_tick(struct svc *s, struct err *e)
{
    int64_t now = time_now(), n = 0, beat;
    struct store_tx *tx;
    char *job;
    int rc, prune;

    pthread_mutex_lock(&s->gates->lock);
    beat = s->gates->beat;
    rc = s->gates->nodes;
    pthread_mutex_unlock(&s->gates->lock);
    if (now - beat < NODE_BEAT_SECONDS)
        return rc;
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    job = xasprintf("node/%s", s->node);
    if (store_lease_take(tx, "_system", job, s->node, now, now + NODE_LEASE_SECONDS, e) < 0 ||
        store_lease_count(tx, "_system", "node/", now, &n, e) != 0) {
        store_rollback(tx);
        rc = -1;
    } else {
        rc = store_commit(tx, e);
    }
    free(job);
    if (rc != 0)
        return -1;
    pthread_mutex_lock(&s->gates->lock);
    rc = n > 0 ? (int)n : 1;
    if (s->gates->nodes != rc)
        log_info("nodes: %d share the tenants' API rates", rc);
    s->gates->nodes = rc;
    s->gates->beat = now;
    if ((prune = now - s->gates->pruned >= 3600))
        s->gates->pruned = now;
    pthread_mutex_unlock(&s->gates->lock);
    if (prune)
        idempotency_prune(s, now);
    return rc;
}

/* ---- purge --------------------------------------------------------------------- */

/*
 * Writes tenant's whole audit chain as JSON lines to a new file in the export
 * directory (fsync'd, then renamed into place); *path and *sha256 (hex) set.
 */
static int chain_export(struct svc *s, const char *tenant, char **path, char **sha256,
                        int64_t *events, struct err *e)
{
    char stamp[32], *tmp;
    time_t now = (time_t)time_now();
    struct tm tm;
    unsigned char md[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int64_t after = 0, last = 0;
    int fd, n, rc = -1;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    if (mkdir(s->tenant_export_dir, 0700) != 0 && errno != EEXIST)
        return err_set(e, ERR_INTERNAL, "audit export: cannot make %s: %s", s->tenant_export_dir,
                       strerror(errno));
    *path = xasprintf("%s/%s-%s.audit.jsonl", s->tenant_export_dir, tenant, stamp);
    tmp = xasprintf("%s.tmp", *path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(e, ERR_INTERNAL, "audit export: cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    *events = 0;
    do {
        struct buf b = {0};
        n = svc_audit_export(s, tenant, after, 10000, after == 0, &b, &last, e);
        if (n >= 0 && b.len > 0 && write_all(fd, b.data, b.len) != 0)
            n = err_set(e, ERR_INTERNAL, "audit export: write: %s", strerror(errno));
        if (n > 0)
            EVP_DigestUpdate(ctx, b.data, b.len);
        buf_free(&b);
        after = last;
        *events += n > 0 ? n : 0;
    } while (n == 10000);
    if (n >= 0 && fsync(fd) != 0)
        n = err_set(e, ERR_INTERNAL, "audit export: fsync: %s", strerror(errno));
    close(fd);
    if (n >= 0 && rename(tmp, *path) != 0)
        n = err_set(e, ERR_INTERNAL, "audit export: rename: %s", strerror(errno));
    if (n < 0) {
        unlink(tmp);
        goto out;
    }
    EVP_DigestFinal_ex(ctx, md, NULL);
    *sha256 = hex_encode(md, sizeof(md));
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(tmp);
    return rc;
}

/*
 * Deletes every key of a purged tenant left in the signer (the CAs', the
 * responders', the units' and the audit key), audited in the _system chain.
 * Run after the rows are gone and again at every tick: a key a node made for
 * the tenant while it was being purged goes at the next one.
 */
static int keys_delete(struct svc *s, const char *tenant, struct err *e)
{
    static const struct actor scheduler = {.id = "scheduler"};
    struct signer_key_info *keys = NULL;
    struct store_tx *tx;
    char *detail;
    int n = 0, deleted = 0, rc = 0;

    if (signer_key_list(s->signer, tenant, &keys, &n, e) != 0)
        return -1;
    for (int i = 0; i < n && rc == 0; i++)
        if ((rc = signer_delete(s->signer, tenant, keys[i].key_id, e)) == 0)
            deleted++;
    signer_key_list_free(keys, n);
    if (deleted == 0)
        return rc;
    detail = xasprintf("{\"keys_deleted\":%d}", deleted);
    if ((tx = store_begin(s->store, e)) == NULL ||
        svc_audit_ok(tx, "_system", &scheduler, "tenant.purge.keys", tenant, detail, e) != 0 ||
        store_commit(tx, e) != 0) {
        store_rollback(tx);
        log_error("tenant %s: %d key(s) deleted but not audited: %s", tenant, deleted, e->msg);
    }
    free(detail);
    return rc;
}

/*
 * Purges one deleted tenant: a last checkpoint and the chain exported, then
 * every row of the tenant deleted and the tenant marked purged with the
 * export's name and digest in the _system chain, in one transaction; then its
 * keys.  A purge cut short is finished by the next tick.
 */
static int purge_one(struct svc *s, const char *tenant, struct err *e)
{
    static const struct actor scheduler = {.id = "scheduler"};
    char *sha256 = NULL, *path = NULL, *detail = NULL;
    struct tenant_rec *t = NULL;
    struct store_tx *tx = NULL;
    int64_t seq = 0, events = 0;
    int rc = -1;

    if (svc_audit_checkpoint(s, tenant, &seq, e) != 0 && e->kind != ERR_NOT_FOUND)
        log_warn("tenant %s: last audit checkpoint before purge: %s", tenant, e->msg);
    if (chain_export(s, tenant, &path, &sha256, &events, e) != 0 ||
        (tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (store_tenant_get(tx, tenant, &t, e) != 0)
        goto out;
    if (strcmp(t->status, "deleted") != 0) { /* reactivated meanwhile, or purged by another node */
        rc = 0;
        goto out;
    }
    free(t->status);
    t->status = xstrdup("purged");
    detail =
        xasprintf("{\"audit_export\":\"%s\",\"audit_events\":%" PRId64 ",\"export_sha256\":\"%s\"}",
                  path, events, sha256);
    if (store_tenant_purge(tx, tenant, e) != 0 || store_tenant_update(tx, tenant, t, e) != 0 ||
        svc_audit_ok(tx, "_system", &scheduler, "tenant.purge", tenant, detail, e) != 0)
        goto out;
    if ((rc = store_commit(tx, e)) != 0)
        goto out;
    tx = NULL;
    gate_forget(s, tenant);
    log_info("tenant %s purged; its audit chain (%" PRId64 " events) is in %s", tenant, events,
             path);
    if (keys_delete(s, tenant, e) != 0)
        log_warn("tenant %s: keys not yet deleted (next tick): %s", tenant, e->msg);
out:
    store_rollback(tx);
    tenant_rec_free(t);
    free(detail);
    free(path);
    free(sha256);
    return rc;
}

int svc_tenant_purge_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    size_t n = 0;
    int64_t now = time_now();
    int purged = 0;
    struct err pe;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i]->status, "deleted") == 0 && list[i]->purge_after <= now &&
            svc_lease(s, list[i]->name, "purge", "tenant", 600)) {
            if (purge_one(s, list[i]->name, &pe) == 0)
                purged++;
            else
                log_error("tenant %s: purge failed: %s", list[i]->name, pe.msg);
        } else if (strcmp(list[i]->status, "purged") == 0 && keys_delete(s, list[i]->name, &pe)) {
            log_warn("tenant %s: keys of the purged tenant: %s", list[i]->name, pe.msg);
        }
        tenant_rec_free(list[i]);
    }
    free(list);
    return purged;
}
