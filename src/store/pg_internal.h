/* pg_internal.h — shared by the PostgreSQL backend's files (store_pg.c, pg_*.c). */
#ifndef VOUCH_PG_INTERNAL_H
#define VOUCH_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>

#include "store/store_backend.h"
#include "store/store_pool.h"

/*
 * The schema as ordered migrations (pg_schema.c), numbered like SQLite's:
 * step i brings the schema from version i to version i + 1.  Released steps
 * are never edited.
 */
extern const char *const pg_migrations[];
extern const int pg_migration_count;

/* One server connection; used by one tx at a time. */
/* A statement prepared on a connection ("v<index>"), found by its text. */
struct pg_prepared {
    uint64_t hash;
    char *sql;
};

struct pg_conn {
    struct db_conn link; /* in the pool */
    PGconn *db;
    int broken;                   /* the connection failed: closed when given back, never reused */
    struct pg_prepared *prepared; /* PG_PREPARED_MAX at most; parameterised SQL only */
    int nprepared;
};

struct pg_store {
    struct store base;
    struct db_pool pool; /* of struct pg_conn, on the URL */
    int schema_version;
};

struct pg_tx {
    struct store_tx base;
    struct pg_store *store;
    struct pg_conn *conn;
    int write;    /* a write transaction (READ COMMITTED) rather than a read snapshot */
    int depth;    /* savepoints set */
    char *tenant; /* the tenant vouch.tenant is set to in this tx, NULL = unknown */
};

/* Up to this many parameters per statement. */
#define PG_PARAMS 24

/* The parameters of one statement: text, integers (as text) and bytea (binary). */
struct pg_params {
    const char *values[PG_PARAMS];
    int lengths[PG_PARAMS];
    int formats[PG_PARAMS];
    char numbers[PG_PARAMS][24];
    int n;
};

/* Appends a parameter ($n is its position from 1); NULL text or blob is SQL NULL. */
void pg_param_text(struct pg_params *p, const char *s);
void pg_param_int(struct pg_params *p, int64_t v);
void pg_param_blob(struct pg_params *p, const void *data, size_t len);

/*
 * Makes vouch.tenant of tx's transaction `tenant` (the row-level security
 * policies compare every row's tenant with it); a no-op if it already is.
 */
int pg_tenant_set(struct pg_tx *tx, const char *tenant, struct err *e);
/* Turns the cross-tenant read policy (vouch.cross_tenant) of tenants and tokens on or off. */
int pg_cross_tenant(struct pg_tx *tx, int on, struct err *e);

/*
 * Runs sql with p on tx's connection: a result (the caller PQclear()s it)
 * whose status is PGRES_TUPLES_OK or PGRES_COMMAND_OK, or NULL with e set
 * (unique_violation ERR_CONFLICT, lock or serialization failures and a lost
 * connection ERR_UNAVAILABLE, anything else ERR_INTERNAL).
 */
PGresult *pg_exec(struct pg_tx *tx, const char *sql, const struct pg_params *p, const char *what,
                  struct err *e);

/* Lifecycle calls (store_pg.c), referenced by the ops table (pg_data.c). */
struct store *pg_open(const char *url, struct err *e);
void pg_close(struct store *s);
int pg_ping(struct store *s, struct err *e);
void pg_set_max_connections(struct store *s, int n);
int pg_schema_version(struct store *s);
struct store_tx *pg_begin(struct store *s, struct err *e);
struct store_tx *pg_begin_read(struct store *s, struct err *e);
int pg_commit(struct store_tx *tx, struct err *e);
void pg_rollback(struct store_tx *tx);
int pg_savepoint(struct store_tx *tx, struct err *e);
int pg_savepoint_release(struct store_tx *tx, struct err *e);
int pg_savepoint_rollback(struct store_tx *tx, struct err *e);

#endif
