/* sqlite_internal.h — shared by the SQLite backend's files (store_sqlite.c, sqlite_*.c). */
#ifndef VOUCH_SQLITE_INTERNAL_H
#define VOUCH_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store_backend.h"
#include "store/store_pool.h"

/*
 * The schema as ordered migrations (sqlite_schema.c): step i brings the schema
 * from version i to version i + 1.  Released steps are never edited.
 */
extern const char *const sqlite_migrations[];
extern const int sqlite_migration_count;

/* Prepared statements, one slot per query text of sqlite_queries[] (sqlite_data.c). */
enum query_id {
    Q_TENANT_INSERT,
    Q_TENANT_GET,
    Q_TENANT_LIST,
    Q_TENANT_UPDATE,
    Q_WORKFLOW_PUT,
    Q_WORKFLOW_GET,
    Q_WORKFLOW_LIST,
    Q_WORKFLOW_DELETE,
    Q_REQUEST_INSERT,
    Q_REQUEST_GET,
    Q_REQUEST_UPDATE,
    Q_REQUEST_LIST,
    Q_REQUEST_EXPIRE,
    Q_WEBHOOK_PUT,
    Q_WEBHOOK_GET,
    Q_WEBHOOK_DELETE,
    Q_WEBHOOK_EVENT_INSERT,
    Q_WEBHOOK_EVENT_DUE,
    Q_WEBHOOK_EVENT_DELETE,
    Q_WEBHOOK_EVENT_UPDATE,
    Q_TENANT_TABLES,
    Q_CERT_COUNT_SINCE,
    Q_CA_INSERT,
    Q_CA_UPDATE,
    Q_CA_GET,
    Q_CA_LIST,
    Q_PROFILE_MAXVER,
    Q_PROFILE_INSERT,
    Q_PROFILE_GET_LATEST,
    Q_PROFILE_GET_VERSION,
    Q_PROFILE_LIST,
    Q_ENTITY_INSERT,
    Q_ENTITY_UPDATE,
    Q_ENTITY_GET,
    Q_CERT_INSERT,
    Q_CERT_GET,
    Q_CERT_SET_STATUS,
    Q_CERT_REVOKED,
    Q_CRLNUM_BUMP,
    Q_CRLNUM_GET,
    Q_CRL_INSERT,
    Q_CRL_LATEST,
    Q_OCSP_RESPONDER_GET,
    Q_OCSP_RESPONDER_PUT,
    Q_OCSP_GET,
    Q_OCSP_PUT,
    Q_OCSP_DUE,
    Q_CRL_LATEST_FULL,
    Q_CRL_LATEST_DELTA,
    Q_CRL_PRUNE,
    Q_CERT_CRL_FULL,
    Q_CERT_CRL_FULL_SHARD,
    Q_CERT_CRL_DELTA,
    Q_CERT_CRL_DELTA_SHARD,
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
    Q_TSA_UNIT_INSERT,
    Q_TSA_UNIT_GET,
    Q_TSA_UNIT_UPDATE,
    Q_TSA_UNIT_LIST,
    Q_TSA_TOKEN_INSERT,
    Q_TSA_TOKEN_GET,
    Q_LEASE_TAKE,
    Q_LEASE_PRUNE,
    Q_LEASE_COUNT,
    Q_IDEMPOTENCY_GET,
    Q_IDEMPOTENCY_PUT,
    Q_IDEMPOTENCY_PRUNE,
    Q_OFFLINE_GET,
    Q_OFFLINE_INSERT,
    Q_COUNT
};
extern const char *const sqlite_queries[Q_COUNT];

/*
 * Searches are composed from fixed fragments, one per filter that is set (the
 * bit mask of set filters picks the text); each text is prepared once per
 * connection and cached in these slots.
 */
#define CERT_FILTERS      10
#define ENTITY_FILTERS    3
#define TSA_TOKEN_FILTERS 3

/* One database connection with its prepared statements; used by one tx at a time. */
/* Transaction control statements, prepared once per connection (see store_sqlite.c). */
enum sqlite_ctl {
    CTL_BEGIN,
    CTL_BEGIN_IMMEDIATE,
    CTL_COMMIT,
    CTL_ROLLBACK,
    CTL_SAVEPOINT,
    CTL_RELEASE,
    CTL_ROLLBACK_TO,
    CTL_COUNT
};

struct sqlite_conn {
    struct db_conn link; /* in the pool */
    sqlite3 *db;
    sqlite3_stmt *ctl[CTL_COUNT];
    sqlite3_stmt *stmts[Q_COUNT];
    sqlite3_stmt *cert_search[1 << CERT_FILTERS];
    sqlite3_stmt *entity_search[1 << ENTITY_FILTERS];
    sqlite3_stmt *tsa_token_search[1 << TSA_TOKEN_FILTERS];
};

struct sqlite_store {
    struct store base;
    struct db_pool pool; /* of struct sqlite_conn, on the file */
    int schema_version;
};

struct sqlite_tx {
    struct store_tx base;
    struct sqlite_store *store;
    struct sqlite_conn *conn;
    int depth; /* savepoints set */
};

/*
 * The cached statement for q (or for sql, cached in *slot) on tx's connection,
 * reset and unbound; NULL with e set.  The connection owns it.
 */
sqlite3_stmt *sqlite_stmt(struct sqlite_tx *tx, enum query_id q, struct err *e);
sqlite3_stmt *sqlite_stmt_cached(struct sqlite_tx *tx, sqlite3_stmt **slot, const char *sql,
                                 struct err *e);
/*
 * Maps an SQLite result code to e and returns -1: a UNIQUE or PRIMARY KEY
 * clash is ERR_CONFLICT, a busy database ERR_UNAVAILABLE, anything else ERR_INTERNAL with SQLite's
 * message (which names columns, never bound values).
 */
int sqlite_fail(struct sqlite_tx *tx, int rc, const char *what, struct err *e);

/* Lifecycle calls (store_sqlite.c), referenced by the ops table (sqlite_data.c). */
struct store *sqlite_open(const char *url, struct err *e);
void sqlite_close(struct store *s);
int sqlite_ping(struct store *s, struct err *e);
void sqlite_set_max_connections(struct store *s, int n);
int sqlite_schema_version(struct store *s);
struct store_tx *sqlite_begin(struct store *s, struct err *e);
struct store_tx *sqlite_begin_read(struct store *s, struct err *e);
int sqlite_commit(struct store_tx *tx, struct err *e);
void sqlite_rollback(struct store_tx *tx);
int sqlite_savepoint(struct store_tx *tx, struct err *e);
int sqlite_savepoint_release(struct store_tx *tx, struct err *e);
int sqlite_savepoint_rollback(struct store_tx *tx, struct err *e);

#endif
