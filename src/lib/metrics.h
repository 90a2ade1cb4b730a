/*
 * metrics.h — this node's metrics, written in Prometheus's text format
 * (version 0.0.4) for GET /metrics (docs/operations.md lists them).
 *
 * The hot paths (every HTTP request, every OCSP answer, every signer call)
 * touch fixed counters and histograms with relaxed atomics only: no lock, no
 * allocation.  Counters keyed by names that are data (tenant, CA, profile,
 * TSA unit) are a family of series made on first use under one lock: they
 * count what costs a signature and a commit anyway.  A family holds at most
 * METRICS_SERIES_MAX series; past it, new label sets count in one series
 * whose labels are all "_other" (a tenant creating CAs cannot grow it
 * without bound).
 */
#ifndef VOUCH_METRICS_H
#define VOUCH_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "lib/util.h"

/* Upper bounds (seconds) of the latency histograms' buckets; +Inf is implicit. */
#define METRICS_BUCKETS 14
extern const double metrics_bucket_bounds[METRICS_BUCKETS];

struct metrics_histogram {
    _Atomic uint64_t counts[METRICS_BUCKETS + 1]; /* per bucket (not cumulative), last: +Inf */
    _Atomic uint64_t sum_ns;
};

/* Counts one observation of ns nanoseconds. */
void metrics_histogram_observe(struct metrics_histogram *h, int64_t ns);
/*
 * Writes the _bucket, _sum and _count samples of h as metric `name` with
 * `labels` ("a=\"x\",b=\"y\"" or "" for none) before le.
 */
void metrics_histogram_write(struct buf *b, const char *name, const char *labels,
                             const struct metrics_histogram *h);

/* The monotonic clock in nanoseconds, for latencies. */
int64_t metrics_now_ns(void);

/* "# HELP" and "# TYPE" lines of a family. */
void metrics_header(struct buf *b, const char *name, const char *type, const char *help);
/* One sample: name{labels} value (labels "" for none). */
void metrics_sample(struct buf *b, const char *name, const char *labels, double value);
/* Appends label="value" (escaped as the format wants) to b, a comma first unless first. */
void metrics_label(struct buf *b, const char *label, const char *value, int first);

#define METRICS_LABELS_MAX 4
#define METRICS_SERIES_MAX 10000

/* A counter or gauge family whose series are keyed by label values. */
struct metrics_family;
enum metrics_kind {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_AGE /* a gauge holding a time: written as the seconds since then */
};

/*
 * One of the families below; labels is a NULL-terminated list of at most
 * METRICS_LABELS_MAX names.
 */
struct metrics_family {
    const char *name;
    enum metrics_kind kind;
    const char *help;
    const char *labels[METRICS_LABELS_MAX + 1];
    struct metrics_series *series; /* guarded by the module's lock */
    struct metrics_series **index; /* hash buckets of the same series */
    long nseries;
};

/* Adds v to the series of values (one per label, in order). */
void metrics_add(struct metrics_family *f, double v, const char *const *values);
/* Sets the series of values to v. */
void metrics_set(struct metrics_family *f, double v, const char *const *values);
/* Drops every series of f (a gauge family about to be set anew). */
void metrics_clear(struct metrics_family *f);

/* The families of svc and the daemon (their labels in metrics.c). */
extern struct metrics_family metrics_certs_issued;       /* tenant, ca, profile */
extern struct metrics_family metrics_certs_revoked;      /* tenant, ca, profile */
extern struct metrics_family metrics_tsa_responses;      /* tenant, unit, status */
extern struct metrics_family metrics_crl_this_update;    /* tenant, ca: a timestamp */
extern struct metrics_family metrics_crl_age;            /* tenant, ca: the same, as an age */
extern struct metrics_family metrics_crl_next_update;    /* tenant, ca: a timestamp */
extern struct metrics_family metrics_ca_not_after;       /* tenant, ca: a timestamp */
extern struct metrics_family metrics_crl_size;           /* tenant, ca */
extern struct metrics_family metrics_keystore_events;    /* event */
extern struct metrics_family metrics_keystore_up;        /* (none) */
extern struct metrics_family metrics_keystore_token_up;  /* token */
extern struct metrics_family metrics_keystore_on_backup; /* (none) */
extern struct metrics_family metrics_approvals_pending;  /* tenant */
extern struct metrics_family metrics_webhooks_pending;   /* tenant */
extern struct metrics_family metrics_syslog_backlog;     /* tenant */

/* OCSP answers by where they came from and the responseStatus (or certStatus) given. */
enum metrics_ocsp_source {
    METRICS_OCSP_PRESIGNED, /* the stored response, read from the database */
    METRICS_OCSP_CACHE,     /* the stored response, from this node's cache */
    METRICS_OCSP_LIVE,      /* signed on demand */
    METRICS_OCSP_NONE,      /* an error status: nothing signed */
    METRICS_OCSP_SOURCES
};
enum metrics_ocsp_status {
    METRICS_OCSP_SUCCESSFUL,
    METRICS_OCSP_MALFORMED,
    METRICS_OCSP_INTERNAL_ERROR,
    METRICS_OCSP_TRY_LATER,
    METRICS_OCSP_UNAUTHORIZED,
    METRICS_OCSP_STATUSES
};
void metrics_ocsp_count(enum metrics_ocsp_source source, enum metrics_ocsp_status status);

/* A signer round trip of ns; failed: the signer did not answer (0: it answered, even refusing). */
void metrics_signer_call(int64_t ns, int unavailable, int refused);
/* The signer supervisor's state, set when /metrics is written. */
void metrics_signer_state(int up, unsigned long restarts, unsigned long failed_restarts);

/* Database: a connection taken (+1) or given back (-1); a wait for one; a wait that timed out. */
void metrics_db_in_use(int delta);
void metrics_db_open(int delta);
void metrics_db_max(int max);
void metrics_db_waited(int timed_out);
/* One commit of ns (ok 0: it failed). */
void metrics_db_commit(int64_t ns, int ok);

/* vouch_build_info's labels (set once at start). */
void metrics_build_info(const char *version, const char *commit);

/*
 * A writer of families kept elsewhere (the HTTP servers'): called by
 * metrics_write after the families here.  At most 8; fn is called with arg.
 */
void metrics_collector_add(void (*fn)(struct buf *b, void *arg), void *arg);
void metrics_collector_remove(void (*fn)(struct buf *b, void *arg), void *arg);

/* Writes every metric of this process into b (the body of GET /metrics). */
void metrics_write(struct buf *b);

#endif
