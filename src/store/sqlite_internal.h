/* sqlite_internal.h — shared by the SQLite backend's files (store_sqlite.c, sqlite_*.c). */
#ifndef VOUCH_SQLITE_INTERNAL_H
#define VOUCH_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store/store_driver.h"

/*
 * The schema as ordered migrations (sqlite_schema.c): step i brings the schema
 * from version i to version i + 1.  Released steps are never edited.
 */
extern const char *const sqlite_migrations[];
extern const int sqlite_migration_count;

/* The SQLite dialect (sqlite_queries.c). */
extern const struct db_dialect sqlite_dialect;

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

/*
 * One database connection with its prepared statements, each prepared on
 * first use and kept: one per query, one per search and set of filters.
 * Used by one tx at a time.
 */
struct sqlite_conn {
    struct db_conn link; /* in the pool */
    sqlite3 *db;
    sqlite3_stmt *ctl[CTL_COUNT];
    sqlite3_stmt *stmts[Q_COUNT];
    sqlite3_stmt *cert_search[1 << CERT_FILTERS];
    sqlite3_stmt *cert_total[1 << CERT_FILTERS];
    sqlite3_stmt *entity_search[1 << ENTITY_FILTERS];
    sqlite3_stmt *tsa_token_search[1 << TSA_TOKEN_FILTERS];
};

struct sqlite_tx {
    struct db_tx db;
    struct db_store *store; /* its pool holds struct sqlite_conn, on the file */
    struct sqlite_conn *conn;
    int depth; /* savepoints set */
};

#endif
