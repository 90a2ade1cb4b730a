/* sqlite_internal.h — shared by the SQLite backend's files. */
#ifndef VOUCH_SQLITE_INTERNAL_H
#define VOUCH_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store_backend.h"

/* The schema migrations, oldest first, NULL-terminated (sqlite_schema.c). */
extern const char *const sqlite_migrations[];

/* Prepared statements, one slot per query text of sqlite_queries[]. */
enum query_id {
    Q_TENANT_INSERT,
    Q_TENANT_GET,
    Q_TENANT_LIST,
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
    Q_ENTITY_SEARCH,
    Q_CERT_INSERT,
    Q_CERT_GET,
    Q_CERT_SET_STATUS,
    Q_CERT_SEARCH,
    Q_CERT_REVOKED,
    Q_CRLNUM_BUMP,
    Q_CRLNUM_GET,
    Q_CRL_INSERT,
    Q_CRL_LATEST,
    Q_TOKEN_INSERT,
    Q_TOKEN_FIND,
    Q_TOKEN_LIST,
    Q_TOKEN_DELETE,
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_AUDIT_LIST,
    Q_COUNT
};

struct sqlite_conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[Q_COUNT];
    struct sqlite_conn *next;
};

struct sqlite_store {
    struct store base;
    char *path;
    pthread_mutex_t lock;
    struct sqlite_conn *idle;
    int schema_version;
};

struct sqlite_tx {
    struct store_tx base;
    struct sqlite_store *store;
    struct sqlite_conn *conn;
    int depth; /* savepoints set */
};

/* The statement for q on tx's connection, reset and unbound; NULL with e set. */
sqlite3_stmt *sqlite_stmt(struct sqlite_tx *tx, enum query_id q, struct err *e);
/* Maps an SQLite result code to e (409 for constraint violations); returns -1. */
int sqlite_fail(struct sqlite_tx *tx, int rc, const char *what, struct err *e);

/* Lifecycle calls (store_sqlite.c), referenced by the ops table (sqlite_data.c). */
struct store *sqlite_open(const char *url, struct err *e);
void sqlite_close(struct store *s);
int sqlite_ping(struct store *s, struct err *e);
int sqlite_schema_version(struct store *s);
struct store_tx *sqlite_begin(struct store *s, struct err *e);
struct store_tx *sqlite_begin_read(struct store *s, struct err *e);
int sqlite_commit(struct store_tx *tx, struct err *e);
void sqlite_rollback(struct store_tx *tx);
int sqlite_savepoint(struct store_tx *tx, struct err *e);
int sqlite_savepoint_release(struct store_tx *tx, struct err *e);
int sqlite_savepoint_rollback(struct store_tx *tx, struct err *e);

#endif
