/*
 * store_driver.h — what a backend provides below the data calls, which are
 * written once for both (store_data.c): its dialect (a text for each query
 * of enum query_id, the fragments of each search) and a driver that opens
 * one of those queries on a transaction's connection, binds parameters by
 * number, runs it and reads the columns of its rows by number.  The row
 * mapping (store_rows.h) is bound and read through the driver, so neither
 * backend has a record type of its own.
 *
 * Query texts are templates: {name} stands for the column list of record
 * type name (row_type_find), {?name} for as many parameters numbered from 1;
 * ?1, ?2 ... are written in the dialect's style (?1 or $1), and a bare ? (in
 * search fragments) is the next parameter, numbered in the order the
 * fragments appear.
 */
#ifndef VOUCH_STORE_DRIVER_H
#define VOUCH_STORE_DRIVER_H

#include "store/store_fault.h"
#include "store/store_backend.h"
#include "store/store_pool.h"
#include "store/store_rows.h"

/* The queries every backend has a text for (NULL: the dialect needs no such statement). */
enum query_id {
    /* tenants */
    Q_TENANT_INSERT,
    Q_TENANT_GET,
    Q_TENANT_LIST,
    Q_TENANT_UPDATE,
    Q_TENANT_TABLES, /* the tables with a tenant column, one name a row */
    /* CAs and profiles */
    Q_CA_INSERT,
    Q_CA_UPDATE,
    Q_CA_GET,
    Q_CA_LIST,
    Q_PROFILE_LOCK, /* taken before a new version is numbered; optional */
    Q_PROFILE_MAXVER,
    Q_PROFILE_INSERT,
    Q_PROFILE_GET_LATEST,
    Q_PROFILE_GET_VERSION,
    Q_PROFILE_LIST,
    /* end entities */
    Q_ENTITY_INSERT,
    Q_ENTITY_UPDATE,
    Q_ENTITY_GET,
    /* certificates */
    Q_CERT_INSERT,
    Q_CERT_GET,
    Q_CERT_GET_LOCKED, /* in a write transaction, instead of Q_CERT_GET; optional */
    Q_CERT_COUNT_SINCE,
    Q_CERT_SET_STATUS,
    Q_CERT_REVOKED,
    Q_CERT_CRL_FULL, /* CRL entries: tenant, ca, cutoff, [shard], [changed since] */
    Q_CERT_CRL_FULL_SHARD,
    Q_CERT_CRL_DELTA,
    Q_CERT_CRL_DELTA_SHARD,
    Q_CRL_ENTRIES_FETCH, /* optional: the entries queries declare a cursor read in pages */
    Q_CRL_ENTRIES_CLOSE,
    /* CRLs */
    Q_CRLNUM_BUMP, /* answers the number where the dialect can, else ... */
    Q_CRLNUM_GET,  /* ... it is read with this */
    Q_CRL_INSERT,
    Q_CRL_LATEST,
    Q_CRL_LATEST_FULL,
    Q_CRL_LATEST_DELTA,
    Q_CRL_PRUNE,
    /* OCSP */
    Q_OCSP_RESPONDER_GET,
    Q_OCSP_RESPONDER_PUT,
    Q_OCSP_GET,
    Q_OCSP_PUT,
    Q_OCSP_DUE,
    /* tokens, principals, client CAs, role bindings */
    Q_TOKEN_INSERT,
    Q_TOKEN_FIND,
    Q_TOKEN_LIST,
    Q_TOKEN_DELETE,
    Q_TOKEN_REVOKE,
    Q_PRINCIPAL_INSERT,
    Q_PRINCIPAL_GET,
    Q_PRINCIPAL_LIST,
    Q_PRINCIPAL_BY_CERT,
    Q_PRINCIPAL_DISABLE,
    Q_CLIENT_CA_INSERT,
    Q_CLIENT_CA_LIST,
    Q_CLIENT_CA_DELETE,
    Q_BINDING_INSERT,
    Q_BINDING_DELETE,
    Q_BINDING_LIST,
    Q_BINDING_LIST_OF,
    /* audit */
    Q_AUDIT_LOCK, /* a write transaction's hold on the tenant's chain; optional */
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_AUDIT_LIST,
    Q_AUDIT_KEY_GET,
    Q_AUDIT_KEY_INSERT,
    Q_AUDIT_CHECKPOINT_INSERT,
    Q_AUDIT_CHECKPOINT_LAST,
    Q_AUDIT_CHECKPOINT_LIST,
    Q_AUDIT_FORWARD_GET,
    Q_AUDIT_FORWARD_SET,
    Q_AUDIT_TARGET_PUT,
    Q_AUDIT_TARGET_GET,
    Q_AUDIT_TARGET_DELETE,
    Q_AUDIT_TARGET_LIST,
    /* time-stamping */
    Q_TSA_UNIT_INSERT,
    Q_TSA_UNIT_GET,
    Q_TSA_UNIT_UPDATE,
    Q_TSA_UNIT_LIST,
    Q_TSA_TOKEN_INSERT,
    Q_TSA_TOKEN_GET,
    /* leases, idempotency keys, offline imports */
    Q_LEASE_TAKE,
    Q_LEASE_PRUNE,
    Q_LEASE_COUNT,
    Q_IDEMPOTENCY_GET,
    Q_IDEMPOTENCY_PUT,
    Q_IDEMPOTENCY_PRUNE,
    Q_OFFLINE_GET,
    Q_OFFLINE_INSERT,
    /* registration authority */
    Q_WORKFLOW_PUT,
    Q_WORKFLOW_GET,
    Q_WORKFLOW_LIST,
    Q_WORKFLOW_DELETE,
    Q_REQUEST_INSERT,
    Q_REQUEST_GET,
    Q_REQUEST_GET_LOCKED, /* in a write transaction, instead of Q_REQUEST_GET; optional */
    Q_REQUEST_UPDATE,
    Q_REQUEST_LIST,
    Q_REQUEST_EXPIRE,
    Q_REQUEST_COUNT,
    Q_WEBHOOK_PUT,
    Q_WEBHOOK_GET,
    Q_WEBHOOK_DELETE,
    Q_WEBHOOK_EVENT_INSERT,
    Q_WEBHOOK_EVENT_DUE,
    Q_WEBHOOK_EVENT_COUNT,
    Q_WEBHOOK_EVENT_DELETE,
    Q_WEBHOOK_EVENT_UPDATE,
    /* ACME endpoints, EAB credentials, accounts, orders, authorizations */
    Q_ACME_ENDPOINT_INSERT,
    Q_ACME_ENDPOINT_UPDATE,
    Q_ACME_ENDPOINT_GET,
    Q_ACME_ENDPOINT_LIST,
    Q_ACME_EAB_INSERT,
    Q_ACME_EAB_GET,
    Q_ACME_EAB_GET_LOCKED, /* in a write transaction, instead of Q_ACME_EAB_GET; optional */
    Q_ACME_EAB_UPDATE,
    Q_ACME_EAB_LIST,     /* of one endpoint */
    Q_ACME_EAB_LIST_ALL, /* of every endpoint of the tenant */
    Q_ACME_ACCOUNT_INSERT,
    Q_ACME_ACCOUNT_GET,
    Q_ACME_ACCOUNT_GET_LOCKED, /* in a write transaction, instead of Q_ACME_ACCOUNT_GET; optional */
    Q_ACME_ACCOUNT_BY_KEY,
    Q_ACME_ACCOUNT_UPDATE,
    Q_ACME_ACCOUNT_BY_EAB,
    Q_ACME_ORDER_INSERT,
    Q_ACME_ORDER_GET,
    Q_ACME_ORDER_GET_LOCKED, /* in a write transaction, instead of Q_ACME_ORDER_GET; optional */
    Q_ACME_ORDER_UPDATE,
    Q_ACME_ORDER_LIST,
    Q_ACME_AUTHZ_INSERT,
    Q_ACME_AUTHZ_GET,
    Q_ACME_AUTHZ_GET_LOCKED, /* in a write transaction, instead of Q_ACME_AUTHZ_GET; optional */
    Q_ACME_AUTHZ_UPDATE,
    Q_ACME_AUTHZ_REUSABLE,
    Q_ACME_AUTHZ_STALLED,
    /* used ACME nonces, shared secrets, renewal windows */
    Q_ACME_NONCE_USE,
    Q_ACME_NONCE_PRUNE,
    Q_ACME_ORDER_PRUNE,
    Q_ACME_AUTHZ_PRUNE,
    Q_SECRET_PUT, /* files the value unless the name has one: never a clash */
    Q_SECRET_GET,
    Q_RENEWAL_WINDOW_PUT,
    Q_RENEWAL_WINDOW_GET,
    /* reports (store_reports.c): ?1 tenant, ?2 from, ?3 to, ?4 CA ('' = all), ?5 now */
    Q_REPORT_CERTS,
    Q_REPORT_ISSUED_DAILY,
    Q_REPORT_REVOKED_DAILY,
    Q_REPORT_EXPIRING,
    Q_REPORT_REVOCATIONS,
    Q_REPORT_CRL_FRESHNESS,
    Q_REPORT_OCSP_FRESHNESS,
    Q_REPORT_APPROVALS,
    /* enrollment endpoints and credentials (EST, SCEP) */
    Q_ENROLL_ENDPOINT_INSERT,
    Q_ENROLL_ENDPOINT_UPDATE,
    Q_ENROLL_ENDPOINT_GET,
    Q_ENROLL_ENDPOINT_LIST,
    Q_ENROLL_CREDENTIAL_INSERT,
    Q_ENROLL_CREDENTIAL_GET,
    Q_ENROLL_CREDENTIAL_GET_LOCKED, /* in a write transaction; optional */
    Q_ENROLL_CREDENTIAL_UPDATE,
    Q_ENROLL_CREDENTIAL_LIST,
    Q_CMP_ENDPOINT_INSERT,
    Q_CMP_ENDPOINT_UPDATE,
    Q_CMP_ENDPOINT_GET,
    Q_CMP_ENDPOINT_LIST,
    Q_CMP_SECRET_INSERT,
    Q_CMP_SECRET_GET,
    Q_CMP_SECRET_GET_LOCKED, /* in a write transaction, instead of Q_CMP_SECRET_GET; optional */
    Q_CMP_SECRET_UPDATE,
    Q_CMP_SECRET_LIST,     /* of one endpoint */
    Q_CMP_SECRET_LIST_ALL, /* of every endpoint of the tenant */
    Q_CMP_TX_INSERT,
    Q_CMP_TX_GET,
    Q_CMP_TX_GET_LOCKED, /* optional */
    Q_CMP_TX_UPDATE,
    Q_CMP_TX_EXPIRED,
    Q_CMP_NONCE_USE,
    Q_CMP_NONCE_PRUNE,
    Q_CMP_TX_PRUNE,
    Q_NOTICE_SETTINGS_GET,
    Q_NOTICE_SETTINGS_PUT,
    Q_NOTICE_DUE,
    Q_NOTICE_CLAIM,
    Q_NOTICE_MARK,
    Q_NOTICE_PENDING,
    Q_NOTICE_LIST,
    Q_NOTICE_CA_DUE,
    Q_COUNT
};

/* The few columns of certs a CRL entry needs (struct crl_entry_rec), in that order. */
#define CRL_ENTRY_COLUMNS "serial, status, revoked_at, reason, invalidity_date, status_changed"

/*
 * Searches: head, then " AND (<fragment>)" for each filter that is set (bit
 * i of a mask: the dialect's filters[s][i]), then tail.  Parameters are the
 * tenant (and what else the head names), the set filters' values in filter
 * order, then the limit and offset of the tail.  Only fixed text goes in; no
 * SQL text ever contains input.
 */
enum search_id { SEARCH_CERT, SEARCH_ENTITY, SEARCH_TSA_TOKEN, SEARCH_CERT_TOTAL, SEARCH_COUNT };
#define CERT_FILTERS      10
#define ENTITY_FILTERS    3
#define TSA_TOKEN_FILTERS 3

struct db_search {
    const char *head;
    int nfilters;
    const char *tail;
};

/* The queries and searches' heads and tails both dialects share (store_queries.c). */
extern const char *const store_queries[Q_COUNT];
extern const struct db_search store_searches[SEARCH_COUNT];

/*
 * A backend's SQL: its own text of a query where it has one, else the shared
 * one; a query neither has does not exist in that dialect (db_has).
 */
struct db_dialect {
    char param;                        /* how parameters are numbered: '?' (?1) or '$' ($1) */
    const char *const *queries;        /* Q_COUNT templates; NULL: the shared text, if any */
    const char *const *const *filters; /* SEARCH_COUNT: each search's filter fragments */
};

struct db_driver;

/* Every backend's store: a pool of its connections and its dialect's texts. */
struct db_store {
    struct store base;
    struct db_pool pool;
    char *const *queries; /* the dialect's query texts (db_queries) */
    int schema_version;
};

/*
 * Opens a store with table ops: a pool of cls's connections to target, the
 * texts of dialect d, and setup (checks, migrations: it sets schema_version)
 * run on the first connection.  NULL with e set.
 */
struct store *db_store_open(const struct store_ops *ops, const struct db_dialect *d,
                            const struct db_pool_class *cls, const char *target,
                            int (*setup)(struct db_store *s, struct db_conn *c, struct err *e),
                            struct err *e);
/* Closes the pool.  Every tx must have ended: connections held by a tx are not closed. */
void db_store_close(struct store *s);
void db_store_set_max_connections(struct store *s, int n);
int db_store_schema_version(struct store *s);

/* The start of every backend's transaction struct. */
struct db_tx {
    struct store_tx base;
    const struct db_driver *drv;
    char *const *queries; /* the store's query texts (db_queries) */
    int write;            /* a write transaction rather than a read snapshot */
};

/*
 * A statement in flight, on the caller's stack: opened (db_open*), bound,
 * run and read, then closed (each db_run* and db_read* closes it, also on
 * error).  Bind a statement before opening the next one on the same tx.  The
 * members past tx are the driver's.
 */
struct db_stmt {
    struct db_tx *tx;
    void *handle;    /* the backend's statement, or its result */
    const char *sql; /* the text, for a backend that sends it when the statement runs */
    char *own;       /* a text made for this statement alone, freed when it is closed */
    int row;         /* the current row, for a backend that holds the whole result */
    int adhoc;       /* handle prepared for this statement alone: not kept when closed */
};

/*
 * A backend's driver.  Parameters are numbered from 1, columns from 0; the
 * reads are of the current row (after a step that answered 1).
 */
struct db_driver {
    const struct db_dialect *dialect;
    /* Opens query q, or a search, or text sql (which must outlive st), on st->tx for
       tenant's rows (NULL: not tenant data, or the tenant is left as it is): 0 or -1. */
    int (*open)(struct db_stmt *st, const char *tenant, enum query_id q, struct err *e);
    int (*open_search)(struct db_stmt *st, const char *tenant, enum search_id s, unsigned mask,
                       struct err *e);
    int (*open_text)(struct db_stmt *st, const char *tenant, const char *sql, struct err *e);
    void (*bind_text)(struct db_stmt *st, int i, const char *s); /* s is not NULL */
    void (*bind_int64)(struct db_stmt *st, int i, int64_t v);
    void (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t n); /* p is not NULL */
    void (*bind_null)(struct db_stmt *st, int i);
    /* Runs st on the first call, then moves on a row: 1 a row, 0 no more, -1 with e set. */
    int (*step)(struct db_stmt *st, const char *what, struct err *e);
    /* NULL for SQL NULL; valid until the next step. */
    const char *(*read_text)(struct db_stmt *st, int col);
    int64_t (*read_int64)(struct db_stmt *st, int col); /* 0 for SQL NULL */
    /* A copy the caller frees, or NULL (and *n 0) for SQL NULL and for no bytes. */
    unsigned char *(*read_blob)(struct db_stmt *st, int col, size_t *n);
    int64_t (*changes)(struct db_stmt *st); /* rows written by st, after it ran */
    void (*close)(struct db_stmt *st);
    /* Lifts (on) or restores the wall between tenants for the next reads; NULL: none to lift. */
    int (*cross_tenant)(struct db_tx *tx, int on, struct err *e);
};

/*
 * Dialect d's query texts by query_id, their templates expanded (NULL: none
 * in this dialect); made on first use and kept until the process exits.
 */
char *const *db_queries(const struct db_dialect *d);
/* The text of search s with the filters of mask (the caller frees it). */
char *db_search_text(const struct db_dialect *d, enum search_id s, unsigned mask);

/* Opening a statement: 0, or -1 with e set. */
int db_open(struct db_stmt *st, struct db_tx *tx, const char *tenant, enum query_id q,
            struct err *e);
int db_open_search(struct db_stmt *st, struct db_tx *tx, const char *tenant, enum search_id s,
                   unsigned mask, struct err *e);
int db_open_text(struct db_stmt *st, struct db_tx *tx, const char *tenant, const char *sql,
                 struct err *e);
/* Whether tx's dialect has query q (the optional ones). */
static inline int db_has(const struct db_tx *tx, enum query_id q)
{
    return tx->queries[q] != NULL;
}

/* Runs st on the first call, then moves to the next row: 1 a row, 0 no more, -1 with e set. */
static inline int db_step(struct db_stmt *st, const char *what, struct err *e)
{
    if (st->tx->write && store_fault_hit(STORE_FAULT_STEP, what, e))
        return -1; /* tests only (store_fault.h) */
    return st->tx->drv->step(st, what, e);
}
/* Done with st (on every path, unless a db_run* or db_read* call closed it). */
static inline void db_close(struct db_stmt *st)
{
    st->tx->drv->close(st);
}

/* Binding: a NULL text or blob is SQL NULL. */
static inline void db_bind_text(struct db_stmt *st, int i, const char *s)
{
    if (s != NULL)
        st->tx->drv->bind_text(st, i, s);
    else
        st->tx->drv->bind_null(st, i);
}
static inline void db_bind_int(struct db_stmt *st, int i, int64_t v)
{
    st->tx->drv->bind_int64(st, i, v);
}
static inline void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
    if (p != NULL)
        st->tx->drv->bind_blob(st, i, p, n);
    else
        st->tx->drv->bind_null(st, i);
}
/*
 * Binds the first n columns of record rec of type t (n < 0: all) as
 * parameters 1..n, a text field's fallback in place of NULL; with tenant
 * set, parameter 1 is tenant rather than the record's first (tenant) column.
 */
void db_bind_row(struct db_stmt *st, const struct row_type *t, const void *rec, const char *tenant,
                 int n);

/* Running; each closes st.  0, or -1 with e set. */
int db_run(struct db_stmt *st, const char *what, struct err *e);
/* The number of rows written, or -1 with e set. */
int64_t db_run_changes(struct db_stmt *st, const char *what, struct err *e);
/* An UPDATE or DELETE that must touch a row: ERR_NOT_FOUND if none. */
int db_run_one_change(struct db_stmt *st, const char *what, struct err *e);
/* An INSERT: a row not written (a clash the dialect skipped) is ERR_CONFLICT. */
int db_run_insert(struct db_stmt *st, const char *what, struct err *e);

/* Reading; each closes st. */
/* The one row as a new record of type t into *out (the caller frees it); ERR_NOT_FOUND if none. */
int db_read_one(struct db_stmt *st, const struct row_type *t, void **out, const char *what,
                struct err *e);
/* Every row as a new array of records (the caller frees the records and the array). */
int db_read_all(struct db_stmt *st, const struct row_type *t, void ***out, size_t *n,
                const char *what, struct err *e);
/* The integer in the first column of the first row; ERR_INTERNAL if there is no row. */
int db_read_int(struct db_stmt *st, int64_t *out, const char *what, struct err *e);
/* The current row as a new record of type t (the caller frees it). */
void *db_read_row(struct db_stmt *st, const struct row_type *t);

/* Each backend's own calls (store_sqlite.c, store_pg.c), in its table in store_data.c. */
struct store *sqlite_open(const char *url, struct err *e);
int sqlite_ping(struct store *s, struct err *e);
struct store_tx *sqlite_begin(struct store *s, struct err *e);
struct store_tx *sqlite_begin_read(struct store *s, struct err *e);
int sqlite_commit(struct store_tx *tx, struct err *e);
void sqlite_rollback(struct store_tx *tx);
int sqlite_savepoint(struct store_tx *tx, struct err *e);
int sqlite_savepoint_release(struct store_tx *tx, struct err *e);
int sqlite_savepoint_rollback(struct store_tx *tx, struct err *e);
struct store *pg_open(const char *url, struct err *e);
int pg_ping(struct store *s, struct err *e);
struct store_tx *pg_begin(struct store *s, struct err *e);
struct store_tx *pg_begin_read(struct store *s, struct err *e);
int pg_commit(struct store_tx *tx, struct err *e);
void pg_rollback(struct store_tx *tx);
int pg_savepoint(struct store_tx *tx, struct err *e);
int pg_savepoint_release(struct store_tx *tx, struct err *e);
int pg_savepoint_rollback(struct store_tx *tx, struct err *e);

#endif
