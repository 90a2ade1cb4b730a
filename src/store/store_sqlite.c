/*
 * store_sqlite.c — the SQLite backend: connections, transactions, migrations.
 *
 * WAL mode with synchronous=FULL: a commit is on disk before it returns.
 * Threads share a pool of connections; a transaction holds one from begin to
 * commit or rollback.  Write transactions start with BEGIN IMMEDIATE so they
 * queue on SQLite's lock (busy_timeout) instead of failing mid-way.
 */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *const sqlite_queries[Q_COUNT];

int sqlite_fail(struct sqlite_tx *tx, int rc, const char *what, struct err *e)
{
    int base = rc & 0xff;

    if (base == SQLITE_CONSTRAINT)
        return err_set(e, 409, ERR_CONFLICT, "%s: already exists", what);
    if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
        return err_set(e, 503, ERR_UNAVAILABLE, "%s: database busy", what);
    return err_set(e, 500, ERR_INTERNAL, "%s: %s", what,
                   tx && tx->conn ? sqlite3_errmsg(tx->conn->db) : sqlite3_errstr(rc));
}

static int exec(sqlite3 *db, const char *sql, struct err *e)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(e, 500, ERR_INTERNAL, "database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static struct sqlite_conn *conn_open(const char *path, struct err *e)
{
    struct sqlite_conn *c = xcalloc(1, sizeof(*c));
    int rc = sqlite3_open_v2(
        path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        err_set(e, 500, ERR_INTERNAL, "database %s: %s", path, sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, 10000);
    if (exec(c->db,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
             "PRAGMA temp_store=MEMORY;",
             e) != 0) {
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_close(struct sqlite_conn *c)
{
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
    free(c);
}

static struct sqlite_conn *conn_take(struct sqlite_store *s, struct err *e)
{
    struct sqlite_conn *c;

    pthread_mutex_lock(&s->lock);
    c = s->idle;
    if (c != NULL)
        s->idle = c->next;
    pthread_mutex_unlock(&s->lock);
    return c ? c : conn_open(s->path, e);
}

static void conn_give(struct sqlite_store *s, struct sqlite_conn *c)
{
    pthread_mutex_lock(&s->lock);
    c->next = s->idle;
    s->idle = c;
    pthread_mutex_unlock(&s->lock);
}

sqlite3_stmt *sqlite_stmt(struct sqlite_tx *tx, enum query_id q, struct err *e)
{
    struct sqlite_conn *c = tx->conn;
    int rc;

    if (c->stmts[q] == NULL) {
        rc = sqlite3_prepare_v3(c->db, sqlite_queries[q], -1, SQLITE_PREPARE_PERSISTENT,
                                &c->stmts[q], NULL);
        if (rc != SQLITE_OK) {
            sqlite_fail(tx, rc, "prepare", e);
            return NULL;
        }
    }
    sqlite3_reset(c->stmts[q]);
    sqlite3_clear_bindings(c->stmts[q]);
    return c->stmts[q];
}

/* Applies the migrations newer than the file's user_version, in one transaction. */
static int migrate(struct sqlite_store *s, sqlite3 *db, struct err *e)
{
    sqlite3_stmt *st;
    int version = 0, n = 0;
    char sql[64];

    if (exec(db, "BEGIN IMMEDIATE", e) != 0)
        return -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    while (sqlite_migrations[n] != NULL)
        n++;
    if (version > n) {
        exec(db, "ROLLBACK", NULL);
        return err_set(e, 500, ERR_INTERNAL,
                       "database schema version %d is newer than this vouchd (%d)", version, n);
    }
    for (int i = version; i < n; i++)
        if (exec(db, sqlite_migrations[i], e) != 0) {
            exec(db, "ROLLBACK", NULL);
            return -1;
        }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", n);
    if (exec(db, sql, e) != 0 || exec(db, "COMMIT", e) != 0) {
        exec(db, "ROLLBACK", NULL);
        return -1;
    }
    s->schema_version = n;
    return 0;
}

struct store *sqlite_open(const char *url, struct err *e)
{
    struct sqlite_store *s = xcalloc(1, sizeof(*s));
    struct sqlite_conn *c;

    s->base.ops = &store_sqlite_ops;
    s->path = xstrdup(url + strlen("sqlite:"));
    pthread_mutex_init(&s->lock, NULL);
    if ((c = conn_open(s->path, e)) == NULL || migrate(s, c->db, e) != 0) {
        if (c != NULL)
            conn_close(c);
        sqlite_close(&s->base);
        return NULL;
    }
    conn_give(s, c);
    return &s->base;
}

void sqlite_close(struct store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct sqlite_conn *c, *next;

    for (c = s->idle; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

int sqlite_schema_version(struct store *base)
{
    return ((struct sqlite_store *)base)->schema_version;
}

static struct store_tx *tx_begin(struct store *base, const char *sql, struct err *e)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct sqlite_tx *tx;
    struct sqlite_conn *c = conn_take(s, e);

    if (c == NULL)
        return NULL;
    if (exec(c->db, sql, e) != 0) {
        conn_give(s, c);
        return NULL;
    }
    tx = xcalloc(1, sizeof(*tx));
    tx->base.ops = &store_sqlite_ops;
    tx->store = s;
    tx->conn = c;
    return &tx->base;
}

struct store_tx *sqlite_begin(struct store *s, struct err *e)
{
    return tx_begin(s, "BEGIN IMMEDIATE", e);
}

struct store_tx *sqlite_begin_read(struct store *s, struct err *e)
{
    return tx_begin(s, "BEGIN", e);
}

static void tx_end(struct sqlite_tx *tx)
{
    conn_give(tx->store, tx->conn);
    free(tx);
}

int sqlite_commit(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;
    int rc = exec(tx->conn->db, "COMMIT", e);

    if (rc != 0)
        exec(tx->conn->db, "ROLLBACK", NULL);
    tx_end(tx);
    return rc;
}

void sqlite_rollback(struct store_tx *base)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    exec(tx->conn->db, "ROLLBACK", NULL);
    tx_end(tx);
}

int sqlite_ping(struct store *base, struct err *e)
{
    struct store_tx *tx = sqlite_begin_read(base, e);
    struct sqlite_tx *t = (struct sqlite_tx *)tx;
    int rc;

    if (tx == NULL)
        return -1;
    rc = exec(t->conn->db, "SELECT 1 FROM tenants LIMIT 1", e);
    sqlite_rollback(tx);
    return rc;
}

int sqlite_savepoint(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    if (exec(tx->conn->db, "SAVEPOINT sp", e) != 0)
        return -1;
    tx->depth++;
    return 0;
}

int sqlite_savepoint_release(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    if (tx->depth == 0)
        return err_set(e, 500, ERR_INTERNAL, "savepoint: none set");
    tx->depth--;
    return exec(tx->conn->db, "RELEASE sp", e);
}

int sqlite_savepoint_rollback(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    if (tx->depth == 0)
        return err_set(e, 500, ERR_INTERNAL, "savepoint: none set");
    tx->depth--;
    return exec(tx->conn->db, "ROLLBACK TO sp; RELEASE sp", e);
}
