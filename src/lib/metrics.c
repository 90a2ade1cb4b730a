/* metrics.c — counters, gauges and histograms in Prometheus's text format (see metrics.h). */
#include "lib/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double metrics_bucket_bounds[METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/* One series of a family: its labels as written, and its value. */
struct metrics_series {
    char *key;
    double value;
    struct metrics_series *next;  /* the family's list, newest first */
    struct metrics_series *chain; /* the same bucket of the family's index */
};

#define INDEX_BUCKETS 1024

/* FNV-1a of key, modulo INDEX_BUCKETS. */
static unsigned bucket_of(const char *key)
{
    uint32_t h = 2166136261u;

    for (const char *p = key; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % INDEX_BUCKETS;
}

static pthread_mutex_t families_lock = PTHREAD_MUTEX_INITIALIZER;

#define FAMILY(var, metric, kind_, help_, ...)                                                     \
    struct metrics_family var = {                                                                  \
        .name = metric, .kind = kind_, .help = help_, .labels = {__VA_ARGS__}}

FAMILY(metrics_certs_issued, "vouch_certificates_issued_total", METRICS_COUNTER,
       "Certificates issued through this node (OCSP responders' excluded).", "tenant", "ca",
       "profile", NULL);
FAMILY(metrics_certs_revoked, "vouch_certificates_revoked_total", METRICS_COUNTER,
       "Certificates revoked through this node.", "tenant", "ca", "profile", NULL);
FAMILY(metrics_tsa_responses, "vouch_tsa_responses_total", METRICS_COUNTER,
       "Time-stamp responses of this node by PKIStatus (granted: a token).", "tenant", "unit",
       "status", NULL);
FAMILY(metrics_crl_this_update, "vouch_crl_this_update_timestamp_seconds", METRICS_GAUGE,
       "thisUpdate of the latest complete CRL of each CA, as this node's CRL scheduler last read "
       "it.",
       "tenant", "ca", NULL);
FAMILY(metrics_crl_next_update, "vouch_crl_next_update_timestamp_seconds", METRICS_GAUGE,
       "nextUpdate of the latest complete CRL of each CA.", "tenant", "ca", NULL);
FAMILY(metrics_ca_not_after, "vouch_ca_not_after_timestamp_seconds", METRICS_GAUGE,
       "notAfter of each CA's certificate (CAs with a certificate; offline ones too).", "tenant",
       "ca", NULL);
FAMILY(metrics_crl_age, "vouch_crl_age_seconds", METRICS_AGE,
       "Seconds since the thisUpdate of the latest complete CRL of each CA.", "tenant", "ca", NULL);
FAMILY(metrics_crl_size, "vouch_crl_size_bytes", METRICS_GAUGE,
       "DER size of the latest complete CRL of each CA.", "tenant", "ca", NULL);
FAMILY(metrics_keystore_events, "vouch_keystore_events_total", METRICS_COUNTER,
       "Key-store events reported by the signer (token_failed, failover, failback, ...).", "event",
       NULL);
FAMILY(metrics_keystore_up, "vouch_keystore_up", METRICS_GAUGE,
       "1 when the signer answers and its key store can sign, else 0.", NULL);
FAMILY(metrics_keystore_token_up, "vouch_keystore_token_up", METRICS_GAUGE,
       "1 while a PKCS#11 token of the key store is connected, else 0.", "token", NULL);
FAMILY(metrics_keystore_on_backup, "vouch_keystore_signing_with_backup", METRICS_GAUGE,
       "With two tokens: 1 while signing moved to the backup token.", NULL);
FAMILY(metrics_approvals_pending, "vouch_approval_requests_pending", METRICS_GAUGE,
       "Requests waiting for approval.", "tenant", NULL);
FAMILY(metrics_webhooks_pending, "vouch_webhook_events_pending", METRICS_GAUGE,
       "Webhook events not yet delivered.", "tenant", NULL);
FAMILY(metrics_syslog_backlog, "vouch_syslog_events_pending", METRICS_GAUGE,
       "Audit events not yet forwarded to the configured SIEM.", "tenant", NULL);

static struct metrics_family *const families[] = {
    &metrics_certs_issued,      &metrics_certs_revoked,     &metrics_tsa_responses,
    &metrics_crl_this_update,   &metrics_crl_next_update,   &metrics_crl_age,
    &metrics_crl_size,          &metrics_ca_not_after,      &metrics_keystore_events,
    &metrics_keystore_up,       &metrics_keystore_token_up, &metrics_keystore_on_backup,
    &metrics_approvals_pending, &metrics_webhooks_pending,  &metrics_syslog_backlog,
};

static _Atomic uint64_t ocsp_counts[METRICS_OCSP_SOURCES][METRICS_OCSP_STATUSES];
static struct metrics_histogram signer_latency;
static _Atomic uint64_t signer_unavailable, signer_refused;
static _Atomic long signer_up = 1, signer_restarts, signer_failed_restarts;
static _Atomic long db_in_use, db_open, db_max;
static _Atomic uint64_t db_waits, db_timeouts, db_commit_failures;
static struct metrics_histogram db_commit;
static char build_version[64] = "unknown", build_commit[64] = "unknown";

struct collector {
    void (*fn)(struct buf *b, void *arg);
    void *arg;
};
static pthread_mutex_t collectors_lock = PTHREAD_MUTEX_INITIALIZER;
static struct collector collectors[8];

/* ---- writing ------------------------------------------------------------- */

static void puts_buf(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void metrics_header(struct buf *b, const char *name, const char *type, const char *help)
{
    char line[512];

    snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    puts_buf(b, line);
}

void metrics_label(struct buf *b, const char *label, const char *value, int first)
{
    if (!first)
        puts_buf(b, ",");
    puts_buf(b, label);
    puts_buf(b, "=\"");
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\')
            puts_buf(b, "\\\\");
        else if (*p == '"')
            puts_buf(b, "\\\"");
        else if (*p == '\n')
            puts_buf(b, "\\n");
        else
            buf_append(b, p, 1);
    }
    puts_buf(b, "\"");
}

void metrics_sample(struct buf *b, const char *name, const char *labels, double value)
{
    char num[64];

    puts_buf(b, name);
    if (labels[0] != '\0') {
        puts_buf(b, "{");
        puts_buf(b, labels);
        puts_buf(b, "}");
    }
    if (value == (double)(int64_t)value)
        snprintf(num, sizeof(num), " %" PRId64 "\n", (int64_t)value);
    else
        snprintf(num, sizeof(num), " %.9g\n", value);
    puts_buf(b, num);
}

int64_t metrics_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void metrics_histogram_observe(struct metrics_histogram *h, int64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;

    if (ns < 0)
        ns = 0;
    while (i < METRICS_BUCKETS && s > metrics_bucket_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
}

void metrics_histogram_write(struct buf *b, const char *name, const char *labels,
                             const struct metrics_histogram *h)
{
    char metric[160], lbl[512], le[32];
    uint64_t total = 0;

    snprintf(metric, sizeof(metric), "%s_bucket", name);
    for (int i = 0; i <= METRICS_BUCKETS; i++) {
        total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < METRICS_BUCKETS)
            snprintf(le, sizeof(le), "%g", metrics_bucket_bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        snprintf(lbl, sizeof(lbl), "%s%sle=\"%s\"", labels, labels[0] ? "," : "", le);
        metrics_sample(b, metric, lbl, (double)total);
    }
    snprintf(metric, sizeof(metric), "%s_sum", name);
    metrics_sample(b, metric, labels,
                   (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    snprintf(metric, sizeof(metric), "%s_count", name);
    metrics_sample(b, metric, labels, (double)total);
}

/* ---- families -------------------------------------------------------------- */

/* The labels of values as written (name="value",... escaped): the series' key. */
static char *key_of(const struct metrics_family *f, const char *const *values)
{
    struct buf k = {0};

    for (int i = 0; f->labels[i] != NULL; i++)
        metrics_label(&k, f->labels[i], values[i] ? values[i] : "", i == 0);
    buf_append(&k, "", 1);
    return (char *)k.data;
}

/* The series of key, made if new (or the overflow series); under families_lock. */
static struct metrics_series *series_get(struct metrics_family *f, const char *key)
{
    static const char *const other[] = {"_other", "_other", "_other", "_other"};
    unsigned i = bucket_of(key);
    struct metrics_series *s;

    if (f->index == NULL)
        f->index = xcalloc(INDEX_BUCKETS, sizeof(*f->index));
    for (s = f->index[i]; s != NULL; s = s->chain)
        if (strcmp(s->key, key) == 0)
            return s;
    if (f->nseries >= METRICS_SERIES_MAX) {
        char *k = key_of(f, other);
        if (strcmp(k, key) != 0)
            s = series_get(f, k);
        free(k);
        if (s != NULL)
            return s;
    }
    s = xcalloc(1, sizeof(*s));
    s->key = xstrdup(key);
    s->next = f->series;
    f->series = s;
    s->chain = f->index[i];
    f->index[i] = s;
    f->nseries++;
    return s;
}

static void family_update(struct metrics_family *f, double v, const char *const *values, int add)
{
    char *key = key_of(f, values);
    struct metrics_series *s;

    pthread_mutex_lock(&families_lock);
    s = series_get(f, key);
    s->value = add ? s->value + v : v;
    pthread_mutex_unlock(&families_lock);
    free(key);
}

void metrics_add(struct metrics_family *f, double v, const char *const *values)
{
    family_update(f, v, values, 1);
}

void metrics_set(struct metrics_family *f, double v, const char *const *values)
{
    family_update(f, v, values, 0);
}

void metrics_clear(struct metrics_family *f)
{
    struct metrics_series *s, *next;

    pthread_mutex_lock(&families_lock);
    for (s = f->series; s != NULL; s = next) {
        next = s->next;
        free(s->key);
        free(s);
    }
    f->series = NULL;
    f->nseries = 0;
    free(f->index);
    f->index = NULL;
    pthread_mutex_unlock(&families_lock);
}

static void family_write(struct buf *b, struct metrics_family *f, double now)
{
    static const char *const types[] = {"counter", "gauge", "gauge"};

    metrics_header(b, f->name, types[f->kind], f->help);
    pthread_mutex_lock(&families_lock);
    for (struct metrics_series *s = f->series; s != NULL; s = s->next)
        metrics_sample(b, f->name, s->key, f->kind == METRICS_AGE ? now - s->value : s->value);
    pthread_mutex_unlock(&families_lock);
}

/* ---- fixed instruments ------------------------------------------------------- */

void metrics_ocsp_count(enum metrics_ocsp_source source, enum metrics_ocsp_status status)
{
    if ((unsigned)source < METRICS_OCSP_SOURCES && (unsigned)status < METRICS_OCSP_STATUSES)
        atomic_fetch_add_explicit(&ocsp_counts[source][status], 1, memory_order_relaxed);
}

void metrics_signer_call(int64_t ns, int unavailable, int refused)
{
    metrics_histogram_observe(&signer_latency, ns);
    if (unavailable)
        atomic_fetch_add_explicit(&signer_unavailable, 1, memory_order_relaxed);
    if (refused)
        atomic_fetch_add_explicit(&signer_refused, 1, memory_order_relaxed);
}

void metrics_signer_state(int up, unsigned long restarts, unsigned long failed_restarts)
{
    atomic_store(&signer_up, up);
    atomic_store(&signer_restarts, (long)restarts);
    atomic_store(&signer_failed_restarts, (long)failed_restarts);
}

void metrics_db_in_use(int delta)
{
    atomic_fetch_add_explicit(&db_in_use, delta, memory_order_relaxed);
}

void metrics_db_open(int delta)
{
    atomic_fetch_add_explicit(&db_open, delta, memory_order_relaxed);
}

void metrics_db_max(int max)
{
    atomic_store(&db_max, max);
}

void metrics_db_waited(int timed_out)
{
    atomic_fetch_add_explicit(timed_out ? &db_timeouts : &db_waits, 1, memory_order_relaxed);
}

void metrics_db_commit(int64_t ns, int ok)
{
    metrics_histogram_observe(&db_commit, ns);
    if (!ok)
        atomic_fetch_add_explicit(&db_commit_failures, 1, memory_order_relaxed);
}

void metrics_build_info(const char *version, const char *commit)
{
    snprintf(build_version, sizeof(build_version), "%s", version);
    snprintf(build_commit, sizeof(build_commit), "%s", commit);
}

void metrics_collector_add(void (*fn)(struct buf *b, void *arg), void *arg)
{
    pthread_mutex_lock(&collectors_lock);
    for (size_t i = 0; i < ARRAY_LEN(collectors); i++)
        if (collectors[i].fn == NULL) {
            collectors[i] = (struct collector){fn, arg};
            break;
        }
    pthread_mutex_unlock(&collectors_lock);
}

void metrics_collector_remove(void (*fn)(struct buf *b, void *arg), void *arg)
{
    pthread_mutex_lock(&collectors_lock);
    for (size_t i = 0; i < ARRAY_LEN(collectors); i++)
        if (collectors[i].fn == fn && collectors[i].arg == arg)
            collectors[i] = (struct collector){0};
    pthread_mutex_unlock(&collectors_lock);
}

static void ocsp_write(struct buf *b)
{
    static const char *const sources[] = {"presigned", "cache", "live", "none"};
    static const char *const statuses[] = {"successful", "malformedRequest", "internalError",
                                           "tryLater", "unauthorized"};

    metrics_header(b, "vouch_ocsp_responses_total", "counter",
                   "OCSP responses by source (presigned: stored, read from the database; cache: "
                   "stored, from this node's memory; live: signed on demand; none: an error "
                   "status) and responseStatus.");
    for (int s = 0; s < METRICS_OCSP_SOURCES; s++)
        for (int t = 0; t < METRICS_OCSP_STATUSES; t++) {
            uint64_t n = atomic_load_explicit(&ocsp_counts[s][t], memory_order_relaxed);
            struct buf lbl = {0};
            /* Impossible pairs (a presigned malformedRequest) are left out; zeros of the rest are
             * written so that rates start at 0. */
            if ((s == METRICS_OCSP_NONE) == (t == METRICS_OCSP_SUCCESSFUL) && n == 0)
                continue;
            metrics_label(&lbl, "source", sources[s], 1);
            metrics_label(&lbl, "status", statuses[t], 0);
            buf_append(&lbl, "", 1);
            metrics_sample(b, "vouch_ocsp_responses_total", (const char *)lbl.data, (double)n);
            buf_free(&lbl);
        }
}

static void gauge(struct buf *b, const char *name, const char *type, const char *help, double v)
{
    metrics_header(b, name, type, help);
    metrics_sample(b, name, "", v);
}

static void signer_write(struct buf *b)
{
    metrics_header(b, "vouch_signer_request_duration_seconds", "histogram",
                   "Round trips of requests to the signer process (signatures, key operations).");
    metrics_histogram_write(b, "vouch_signer_request_duration_seconds", "", &signer_latency);
    metrics_header(b, "vouch_signer_errors_total", "counter",
                   "Signer requests that failed: unavailable (no answer), refused (an error "
                   "answer).");
    metrics_sample(b, "vouch_signer_errors_total", "reason=\"unavailable\"",
                   (double)atomic_load(&signer_unavailable));
    metrics_sample(b, "vouch_signer_errors_total", "reason=\"refused\"",
                   (double)atomic_load(&signer_refused));
    gauge(b, "vouch_signer_up", "gauge", "1 while the signer answers, 0 while it is restarted.",
          (double)atomic_load(&signer_up));
    gauge(b, "vouch_signer_restarts_total", "counter", "Signers started again since vouchd began.",
          (double)atomic_load(&signer_restarts));
    gauge(b, "vouch_signer_failed_restarts_total", "counter", "Signer restarts that failed.",
          (double)atomic_load(&signer_failed_restarts));
}

static void db_write(struct buf *b)
{
    gauge(b, "vouch_db_connections_in_use", "gauge",
          "Database connections held by a transaction now.", (double)atomic_load(&db_in_use));
    gauge(b, "vouch_db_connections_open", "gauge", "Database connections open (idle or in use).",
          (double)atomic_load(&db_open));
    gauge(b, "vouch_db_connections_max", "gauge", "Database connections this node opens at most.",
          (double)atomic_load(&db_max));
    gauge(b, "vouch_db_connection_waits_total", "counter",
          "Transactions that waited for a connection (all were in use).",
          (double)atomic_load(&db_waits));
    gauge(b, "vouch_db_connection_timeouts_total", "counter",
          "Transactions refused after waiting 10 s for a connection.",
          (double)atomic_load(&db_timeouts));
    metrics_header(b, "vouch_db_commit_duration_seconds", "histogram",
                   "Commits of write transactions (durable when they return).");
    metrics_histogram_write(b, "vouch_db_commit_duration_seconds", "", &db_commit);
    gauge(b, "vouch_db_commit_failures_total", "counter", "Commits that failed.",
          (double)atomic_load(&db_commit_failures));
}

void metrics_write(struct buf *b)
{
    struct collector copy[ARRAY_LEN(collectors)];
    struct buf lbl = {0};
    double now = (double)time_now();

    metrics_label(&lbl, "version", build_version, 1);
    metrics_label(&lbl, "commit", build_commit, 0);
    buf_append(&lbl, "", 1);
    metrics_header(b, "vouch_build_info", "gauge", "The version and commit vouchd was built from.");
    metrics_sample(b, "vouch_build_info", (const char *)lbl.data, 1);
    buf_free(&lbl);
    for (size_t i = 0; i < ARRAY_LEN(families); i++)
        family_write(b, families[i], now);
    ocsp_write(b);
    signer_write(b);
    db_write(b);
    pthread_mutex_lock(&collectors_lock);
    memcpy(copy, collectors, sizeof(copy));
    pthread_mutex_unlock(&collectors_lock);
    for (size_t i = 0; i < ARRAY_LEN(copy); i++)
        if (copy[i].fn != NULL)
            copy[i].fn(b, copy[i].arg);
}
