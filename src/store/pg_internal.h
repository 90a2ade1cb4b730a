/* pg_internal.h — shared by the PostgreSQL backend's files (store_pg.c, pg_*.c). */
#ifndef VOUCH_PG_INTERNAL_H
#define VOUCH_PG_INTERNAL_H

#include <libpq-fe.h>

#include "store/store_driver.h"

/*
 * The schema as ordered migrations (pg_schema.c), numbered like SQLite's:
 * step i brings the schema from version i to version i + 1.  Released steps
 * are never edited.
 */
extern const char *const pg_migrations[];
extern const int pg_migration_count;

/* The PostgreSQL dialect (pg_queries.c). */
extern const struct db_dialect pg_dialect;

/* A statement prepared on a connection ("v<index>"), found by its text. */
struct pg_prepared {
    uint64_t hash;
    char *sql;
};

/* One server connection; used by one tx at a time. */
struct pg_conn {
    struct db_conn link; /* in the pool */
    PGconn *db;
    int broken;                   /* the connection failed: closed when given back, never reused */
    struct pg_prepared *prepared; /* PG_PREPARED_MAX at most; parameterised SQL only */
    int nprepared;
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

struct pg_tx {
    struct db_tx db;        /* db.write: READ COMMITTED rather than a read snapshot */
    struct db_store *store; /* its pool holds struct pg_conn, on the URL */
    struct pg_conn *conn;
    int depth;    /* savepoints set */
    char *tenant; /* the tenant vouch.tenant is set to in this tx, NULL = unknown */
    /*
     * The parameters of the statement being bound (the driver's), and that
     * statement; last, as tx_begin clears only what comes before them.
     */
    struct pg_params params;
    const struct db_stmt *binding;
};

#endif
