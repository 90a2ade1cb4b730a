/*
 * store_sqlite.c — the SQLite backend: connections, transactions, migrations,
 * and the driver that runs statements for the data calls.
 *
 * The queries are in sqlite_queries.c, run by the data calls of store_data.c
 * through this file's driver; the schema is in sqlite_schema.c.
 *
 * Every connection runs in WAL mode with synchronous=FULL, so a commit is on
 * disk (the WAL fsynced) before store_commit() returns, and foreign_keys=ON.
 * Threads share a pool of connections (store_pool.c); a transaction holds one
 * connection from begin to commit or rollback.  Write transactions start with
 * BEGIN IMMEDIATE, so they queue on SQLite's write lock (busy_timeout) at
 * their start instead of failing half-way; read transactions use a deferred
 * BEGIN and see one snapshot from their first read on.
 */
#include "store/sqlite_internal.h"
#include "lib/metrics.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Maps rc (an extended result code) on db to e; returns -1. */
static int fail_rc(sqlite3 *db, int rc, const char *what, const char *msg, struct err *e)
{
    int base = rc & 0xff;

    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return err_set(e, ERR_CONFLICT, "%s: already exists", what);
    if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
        return err_set(e, ERR_UNAVAILABLE, "%s: database busy", what);
    if (msg == NULL)
        msg = db != NULL && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db)
                                                             : sqlite3_errstr(rc);
    return err_set(e, ERR_INTERNAL, "%s: %s", what, msg);
}

/*
 * Maps an SQLite result code of tx's connection to e and returns -1: a UNIQUE
 * or PRIMARY KEY clash is ERR_CONFLICT, a busy database ERR_UNAVAILABLE,
 * anything else ERR_INTERNAL with SQLite's message (which names columns, never
 * bound values).
 */
static int sqlite_fail(struct sqlite_tx *tx, int rc, const char *what, struct err *e)
{
    return fail_rc(tx != NULL && tx->conn != NULL ? tx->conn->db : NULL, rc, what, NULL, e);
}

/* Runs SQL text without parameters (fixed statements only); 0 or -1 with e set. */
static int exec(sqlite3 *db, const char *sql, const char *what, struct err *e)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        fail_rc(db, rc, what, msg, e);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static const char *const ctl_sql[CTL_COUNT] = {
    [CTL_BEGIN] = "BEGIN",
    [CTL_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [CTL_COMMIT] = "COMMIT",
    [CTL_ROLLBACK] = "ROLLBACK",
    [CTL_SAVEPOINT] = "SAVEPOINT sp",
    [CTL_RELEASE] = "RELEASE sp",
    [CTL_ROLLBACK_TO] = "ROLLBACK TO sp",
};

/*
 * Runs a transaction control statement on c, prepared on first use and kept
 * (parsing BEGIN, COMMIT and the savepoints again costs more than running
 * them, several times a request).  0 or -1 with e set (e may be NULL).
 */
static int ctl(struct sqlite_conn *c, enum sqlite_ctl which, const char *what, struct err *e)
{
    sqlite3_stmt **st = &c->ctl[which];
    int rc = SQLITE_OK;

    if (*st == NULL)
        rc = sqlite3_prepare_v3(c->db, ctl_sql[which], -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(*st)) == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        fail_rc(c->db, rc, what, NULL, e);
    if (*st != NULL)
        sqlite3_reset(*st);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Runs a one-row, one-column integer query; 0 with *out set, or -1 with e set. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out, struct err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        fail_rc(db, rc, "schema", NULL, e);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- connections -------------------------------------------------------- */

static void conn_close(struct db_conn *link)
{
    struct sqlite_conn *c = (struct sqlite_conn *)link;

    if (c == NULL)
        return;
    for (size_t i = 0; i < ARRAY_LEN(c->ctl); i++)
        sqlite3_finalize(c->ctl[i]);
    for (size_t i = 0; i < ARRAY_LEN(c->stmts); i++)
        sqlite3_finalize(c->stmts[i]);
    for (size_t i = 0; i < ARRAY_LEN(c->cert_search); i++)
        sqlite3_finalize(c->cert_search[i]);
    for (size_t i = 0; i < ARRAY_LEN(c->cert_total); i++)
        sqlite3_finalize(c->cert_total[i]);
    for (size_t i = 0; i < ARRAY_LEN(c->entity_search); i++)
        sqlite3_finalize(c->entity_search[i]);
    for (size_t i = 0; i < ARRAY_LEN(c->tsa_token_search); i++)
        sqlite3_finalize(c->tsa_token_search[i]);
    sqlite3_close(c->db);
    free(c);
}

/* Checks that the connection really runs in WAL mode (a file system may refuse it). */
static int conn_check_wal(sqlite3 *db, const char *path, struct err *e)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ok = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    return ok ? 0 : err_set(e, ERR_INTERNAL, "database %s: WAL mode unavailable", path);
}

/* Opens and configures one connection; NULL with e set. */
static struct db_conn *conn_open(const char *path, struct err *e)
{
    struct sqlite_conn *c = xcalloc(1, sizeof(*c));
    int rc = sqlite3_open_v2(
        path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        err_set(e, ERR_INTERNAL, "database %s: %s", path,
                c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_close(&c->link);
        return NULL;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, DB_BUSY_MS);
    /* Durability rests on synchronous=FULL: never weaken it. */
    if (exec(c->db,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
             "PRAGMA temp_store=MEMORY;",
             "database settings", e) != 0 ||
        conn_check_wal(c->db, path, e) != 0) {
        conn_close(&c->link);
        return NULL;
    }
    return &c->link;
}

/*
 * A connection still inside a transaction (its COMMIT and ROLLBACK both
 * failed) is not handed to the next caller.
 */
static int conn_reusable(struct db_conn *link)
{
    return sqlite3_get_autocommit(((struct sqlite_conn *)link)->db);
}

static const struct db_pool_class sqlite_pool = {conn_open, conn_reusable, conn_close};

/*
 * The statement kept in *slot on tx's connection (prepared from sql on first
 * use and kept until the connection closes), reset and unbound; NULL with e
 * set.
 */
static sqlite3_stmt *stmt_prepare(struct sqlite_tx *tx, sqlite3_stmt **slot, const char *sql,
                                  struct err *e)
{
    int rc;

    /* SQLite ends a transaction by itself on some errors (I/O, disk full): then no later
       statement may run outside it and commit piecemeal. */
    if (sqlite3_get_autocommit(tx->conn->db)) {
        err_set(e, ERR_INTERNAL, "database: the transaction was rolled back after an error");
        return NULL;
    }
    if (*slot == NULL) {
        rc = sqlite3_prepare_v3(tx->conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            sqlite_fail(tx, rc, "prepare", e);
            sqlite3_finalize(*slot);
            *slot = NULL;
            return NULL;
        }
    }
    sqlite3_reset(*slot);
    sqlite3_clear_bindings(*slot);
    return *slot;
}

/* ---- the driver: statements of store_data.c ---------------------------------- */

#define STMT(st)      ((sqlite3_stmt *)(st)->handle)
#define SQLITE_TX(st) ((struct sqlite_tx *)(st)->tx)

static int drv_open(struct db_stmt *st, const char *tenant, enum query_id q, struct err *e)
{
    struct sqlite_tx *tx = SQLITE_TX(st);

    (void)tenant;
    st->handle = stmt_prepare(tx, &tx->conn->stmts[q], tx->db.queries[q], e);
    return st->handle != NULL ? 0 : -1;
}

static sqlite3_stmt **search_slot(struct sqlite_conn *c, enum search_id s, unsigned mask)
{
    switch (s) {
    case SEARCH_CERT:
        return &c->cert_search[mask];
    case SEARCH_CERT_TOTAL:
        return &c->cert_total[mask];
    case SEARCH_ENTITY:
        return &c->entity_search[mask];
    default:
        return &c->tsa_token_search[mask];
    }
}

/* The text of a search is made only when its statement is first prepared on a connection. */
static int drv_open_search(struct db_stmt *st, const char *tenant, enum search_id s, unsigned mask,
                           struct err *e)
{
    struct sqlite_tx *tx = SQLITE_TX(st);
    sqlite3_stmt **slot = search_slot(tx->conn, s, mask);
    char *sql = *slot == NULL ? db_search_text(&sqlite_dialect, s, mask) : NULL;

    (void)tenant;
    st->handle = stmt_prepare(tx, slot, sql, e);
    free(sql);
    return st->handle != NULL ? 0 : -1;
}

/* A text run once (a tenant's purge): prepared for this statement alone. */
static int drv_open_text(struct db_stmt *st, const char *tenant, const char *sql, struct err *e)
{
    struct sqlite_tx *tx = SQLITE_TX(st);
    sqlite3_stmt *h = NULL;
    int rc;

    (void)tenant;
    if (sqlite3_get_autocommit(tx->conn->db))
        return err_set(e, ERR_INTERNAL, "database: the transaction was rolled back after an error");
    if ((rc = sqlite3_prepare_v2(tx->conn->db, sql, -1, &h, NULL)) != SQLITE_OK) {
        sqlite_fail(tx, rc, "prepare", e);
        sqlite3_finalize(h);
        return -1;
    }
    st->handle = h;
    st->adhoc = 1;
    return 0;
}

static void drv_bind_text(struct db_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(STMT(st), i, s, -1, SQLITE_STATIC);
}

static void drv_bind_int64(struct db_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(STMT(st), i, v);
}

static void drv_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
    sqlite3_bind_blob64(STMT(st), i, p, n, SQLITE_STATIC);
}

static void drv_bind_null(struct db_stmt *st, int i)
{
    sqlite3_bind_null(STMT(st), i);
}

static int drv_step(struct db_stmt *st, const char *what, struct err *e)
{
    int rc = sqlite3_step(STMT(st));

    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return sqlite_fail(SQLITE_TX(st), rc, what, e);
}

static const char *drv_read_text(struct db_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(STMT(st), col);
}

static int64_t drv_read_int64(struct db_stmt *st, int col)
{
    return sqlite3_column_int64(STMT(st), col);
}

static unsigned char *drv_read_blob(struct db_stmt *st, int col, size_t *n)
{
    const void *p = sqlite3_column_blob(STMT(st), col);
    int len = sqlite3_column_bytes(STMT(st), col);
    unsigned char *out;

    *n = 0;
    if (p == NULL)
        return NULL;
    out = xmalloc((size_t)len);
    memcpy(out, p, (size_t)len);
    *n = (size_t)len;
    return out;
}

static int64_t drv_changes(struct db_stmt *st)
{
    return sqlite3_changes(SQLITE_TX(st)->conn->db);
}

/* A kept statement is reset (its read ends), one of its own finalized. */
static void drv_close(struct db_stmt *st)
{
    if (st->adhoc)
        sqlite3_finalize(STMT(st));
    else
        sqlite3_reset(STMT(st));
    st->handle = NULL;
}

static const struct db_driver sqlite_driver = {
    .dialect = &sqlite_dialect,
    .open = drv_open,
    .open_search = drv_open_search,
    .open_text = drv_open_text,
    .bind_text = drv_bind_text,
    .bind_int64 = drv_bind_int64,
    .bind_blob = drv_bind_blob,
    .bind_null = drv_bind_null,
    .step = drv_step,
    .read_text = drv_read_text,
    .read_int64 = drv_read_int64,
    .read_blob = drv_read_blob,
    .changes = drv_changes,
    .close = drv_close,
    .cross_tenant = NULL, /* one file, no row-level security */
};

/* ---- migrations ---------------------------------------------------------- */

static int version_record(sqlite3 *db, int64_t version, struct err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO schema_version (version, applied) VALUES (?1, ?2)",
                                -1, &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, version);
        sqlite3_bind_int64(st, 2, time_now());
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_rc(db, rc, "schema_version", NULL, e);
}

/*
 * The schema version of the file: the highest row of schema_version.  A file
 * written before that table existed kept its version in PRAGMA user_version;
 * its versions are recorded as applied.
 */
static int version_current(sqlite3 *db, int64_t *out, struct err *e)
{
    int64_t v = 0, legacy = 0;

    if (exec(db,
             "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
             "  applied INTEGER NOT NULL)",
             "schema_version", e) != 0 ||
        query_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &v, e) != 0)
        return -1;
    if (v == 0) {
        if (query_int(db, "PRAGMA user_version", &legacy, e) != 0)
            return -1;
        for (int64_t i = 1; i <= legacy && i <= sqlite_migration_count; i++)
            if (version_record(db, i, e) != 0)
                return -1;
        v = legacy;
    }
    *out = v;
    return 0;
}

/*
 * Applies the migrations newer than the file's version, forward only, all in
 * one IMMEDIATE transaction: a crash or an error leaves the old schema.  A file
 * newer than this build is refused.  Several processes may open the same file
 * at once; the write lock makes the second one see the first's result.
 */
static int migrate(struct db_store *s, sqlite3 *db, struct err *e)
{
    int64_t version = 0;
    int n = sqlite_migration_count, rc = -1;
    char what[48];

    if (exec(db, "BEGIN IMMEDIATE", "schema", e) != 0)
        return -1;
    if (version_current(db, &version, e) != 0)
        goto out;
    if (version > n) {
        err_set(e, ERR_INTERNAL, "database schema version %lld is newer than this build knows (%d)",
                (long long)version, n);
        goto out;
    }
    for (int64_t i = version; i < n; i++) {
        snprintf(what, sizeof(what), "schema migration %lld", (long long)(i + 1));
        if (exec(db, sqlite_migrations[i], what, e) != 0 || version_record(db, i + 1, e) != 0)
            goto out;
    }
    if (exec(db, "COMMIT", "schema", e) != 0)
        goto out;
    s->schema_version = n;
    rc = 0;
out:
    if (rc != 0 && !sqlite3_get_autocommit(db))
        exec(db, "ROLLBACK", "schema", NULL);
    return rc;
}

/* ---- the store ----------------------------------------------------------- */

static int setup(struct db_store *s, struct db_conn *c, struct err *e)
{
    return migrate(s, ((struct sqlite_conn *)c)->db, e);
}

/*
 * A database file that does not exist yet is made mode 0600 before SQLite
 * opens it, whatever the process's umask: SQLite gives the -wal and -shm
 * files it makes beside it the database's mode.  Any failure is left for
 * SQLite to report.
 */
static void db_file_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd >= 0)
        close(fd);
}

struct store *sqlite_open(const char *url, struct err *e)
{
    const char *path = url + strlen("sqlite:");

    if (*path == '\0') {
        err_set(e, ERR_INTERNAL, "database %s: no file name", url);
        return NULL;
    }
    db_file_create(path);
    return db_store_open(&store_sqlite_ops, &sqlite_dialect, &sqlite_pool, path, setup, e);
}

/* ---- transactions --------------------------------------------------------- */

static struct store_tx *tx_begin(struct store *base, enum sqlite_ctl begin, struct err *e)
{
    struct db_store *s = (struct db_store *)base;
    struct sqlite_tx *tx;
    struct sqlite_conn *c;

    if (store_fault_begin(e)) /* tests only (store_fault.h) */
        return NULL;
    c = (struct sqlite_conn *)db_pool_take(&s->pool, e);

    if (c == NULL)
        return NULL;
    if (ctl(c, begin, "begin", e) != 0) {
        db_pool_give(&s->pool, &c->link);
        return NULL;
    }
    tx = xcalloc(1, sizeof(*tx));
    tx->db.base.ops = &store_sqlite_ops;
    tx->db.drv = &sqlite_driver;
    tx->db.queries = s->queries;
    tx->db.write = begin == CTL_BEGIN_IMMEDIATE;
    tx->store = s;
    tx->conn = c;
    return &tx->db.base;
}

struct store_tx *sqlite_begin(struct store *s, struct err *e)
{
    return tx_begin(s, CTL_BEGIN_IMMEDIATE, e);
}

struct store_tx *sqlite_begin_read(struct store *s, struct err *e)
{
    return tx_begin(s, CTL_BEGIN, e);
}

static void tx_end(struct sqlite_tx *tx)
{
    db_pool_give(&tx->store->pool, &tx->conn->link);
    free(tx);
}

int sqlite_commit(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;
    int64_t start = metrics_now_ns();
    int rc = store_fault_hit(STORE_FAULT_COMMIT, "commit", e)
                 ? -1 /* rolled back below */
                 : ctl(tx->conn, CTL_COMMIT, "commit", e);

    metrics_db_commit(metrics_now_ns() - start, rc == 0);
    if (rc != 0 && !sqlite3_get_autocommit(tx->conn->db))
        ctl(tx->conn, CTL_ROLLBACK, "rollback", NULL);
    tx_end(tx);
    return rc;
}

void sqlite_rollback(struct store_tx *base)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    if (!sqlite3_get_autocommit(tx->conn->db))
        ctl(tx->conn, CTL_ROLLBACK, "rollback", NULL);
    tx_end(tx);
}

int sqlite_ping(struct store *base, struct err *e)
{
    struct store_tx *tx = sqlite_begin_read(base, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = exec(((struct sqlite_tx *)tx)->conn->db, "SELECT 1 FROM tenants LIMIT 1", "ping", e);
    sqlite_rollback(tx);
    return rc;
}

int sqlite_savepoint(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    if (ctl(tx->conn, CTL_SAVEPOINT, "savepoint", e) != 0)
        return -1;
    tx->depth++;
    return 0;
}

int sqlite_savepoint_release(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    if (tx->depth == 0)
        return err_set(e, ERR_INTERNAL, "savepoint: none set");
    tx->depth--;
    return ctl(tx->conn, CTL_RELEASE, "savepoint", e);
}

int sqlite_savepoint_rollback(struct store_tx *base, struct err *e)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    if (tx->depth == 0)
        return err_set(e, ERR_INTERNAL, "savepoint: none set");
    tx->depth--;
    if (ctl(tx->conn, CTL_ROLLBACK_TO, "savepoint", e) != 0)
        return -1;
    return ctl(tx->conn, CTL_RELEASE, "savepoint", e);
}
