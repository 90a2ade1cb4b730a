/*
 * store_pg.c — the PostgreSQL backend: connections, transactions, migrations,
 * the tenant setting of row-level security, and the driver that runs
 * statements for the data calls (store_data.c).  The queries are in
 * pg_queries.c, the schema in pg_schema.c.
 *
 * The URL is a libpq connection URI ("postgresql://user@host:port/db?..."),
 * multi-host with target_session_attrs=read-write for a cluster.  Threads
 * share a pool of connections (store_pool.c) as in the SQLite backend.  A
 * connection that failed (the server went away, a failover) is closed when
 * its tx ends and a new one is opened on next use, so vouchd follows a new
 * primary without a restart.
 *
 * Transactions: writes run READ COMMITTED; what must not race is serialized
 * by the database itself, never by this process (see docs/decisions.md):
 * primary keys (serials: a clash is ERR_CONFLICT), the CRL counter row (an upsert that
 * holds the row lock until commit, so numbers strictly increase in commit
 * order across nodes), transaction-scoped advisory locks for the per-tenant
 * audit chain and profile versions, and row locks on a certificate read in a
 * write tx and on the certificate an OCSP response is stored for.  Reads run
 * REPEATABLE READ, READ ONLY: one snapshot from the first statement on.
 *
 * Row-level security: every tenant table has a policy comparing its tenant
 * column with the transaction-local setting vouch.tenant, which each data call
 * sets from its tenant argument (pg_tenant_set).  The application role must
 * not be a superuser nor have BYPASSRLS; pg_open refuses such a role.
 */
#include "store/pg_internal.h"
#include "lib/metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock key that serializes migrations of one database ("vouchmig"). */
#define MIGRATION_LOCK "7670756368"

/* ---- parameters ------------------------------------------------------------ */

/*
 * Parameter i (from 1) of p, those before it that were not set being NULL;
 * the index of its slot.
 */
static int param_slot(struct pg_params *p, int i)
{
    if (i == p->n + 1 && i <= PG_PARAMS) /* the next one, as statements mostly bind */
        return p->n++;
    if (i < 1 || i > PG_PARAMS)
        abort(); /* a programming error: the statement table is fixed */
    for (; p->n < i; p->n++) {
        p->values[p->n] = NULL;
        p->lengths[p->n] = 0;
        p->formats[p->n] = 0;
    }
    return i - 1;
}

/* Sets parameter i ($i) of p; NULL text or blob is SQL NULL. */
static void param_text(struct pg_params *p, int i, const char *s)
{
    int k = param_slot(p, i);

    p->values[k] = s;
    p->lengths[k] = 0;
    p->formats[k] = 0;
}

static void param_int(struct pg_params *p, int i, int64_t v)
{
    int k = param_slot(p, i);

    snprintf(p->numbers[k], sizeof(p->numbers[k]), "%lld", (long long)v);
    p->values[k] = p->numbers[k];
    p->lengths[k] = 0;
    p->formats[k] = 0;
}

static void param_blob(struct pg_params *p, int i, const void *data, size_t len)
{
    int k = param_slot(p, i);

    p->values[k] = data;
    p->lengths[k] = (int)len;
    p->formats[k] = 1;
}

/* ---- errors and statements --------------------------------------------------- */

/*
 * Whether an error came from a server that is no longer the primary (the old
 * primary came back as a standby, or a pooled connection outlived a
 * switchover): such a connection is of no use; a new one finds the primary.
 */
static int conn_on_standby(struct pg_conn *c, const char *state)
{
    const char *standby = PQparameterStatus(c->db, "in_hot_standby");

    return (state != NULL && strcmp(state, "25006") == 0) ||
           (standby != NULL && strcmp(standby, "on") == 0);
}

/* Maps a failed result (or a lost connection) to e; returns -1. */
static int fail_result(struct pg_conn *c, const PGresult *res, const char *what, struct err *e)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (PQstatus(c->db) != CONNECTION_OK) {
        c->broken = 1;
        return err_set(e, ERR_UNAVAILABLE, "%s: database connection lost: %s", what,
                       PQerrorMessage(c->db));
    }
    if (conn_on_standby(c, state)) {
        c->broken = 1;
        return err_set(e, ERR_UNAVAILABLE, "%s: database is read-only (not the primary)", what);
    }
    if (state != NULL && strcmp(state, "23505") == 0)
        return err_set(e, ERR_CONFLICT, "%s: already exists", what);
    if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                          strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0))
        return err_set(e, ERR_UNAVAILABLE, "%s: database busy (%s)", what, state);
    if (msg == NULL)
        msg = PQerrorMessage(c->db);
    return err_set(e, ERR_INTERNAL, "%s: %s%s%s", what, msg, state ? " " : "", state ? state : "");
}

/*
 * Each connection prepares a parameterised statement the first time it runs
 * it and executes the prepared one after: PostgreSQL then parses, analyses
 * and (after a few runs, with a generic plan) plans it once per connection
 * instead of once per call.  The statements are the store's own, a few
 * dozen texts (searches compose theirs from a fixed set of filters); past
 * PG_PREPARED_MAX a connection runs new texts unprepared.
 */
#define PG_PREPARED_MAX 512

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/*
 * The name of sql prepared on c into name: 1 if it is (prepared now if new),
 * 0 if c has no room for it, -1 with e set if PostgreSQL refused to prepare it.
 */
static int conn_prepared(struct pg_conn *c, const char *sql, int nparams, char *name, size_t len,
                         const char *what, struct err *e)
{
    uint64_t h = sql_hash(sql);
    PGresult *res;
    int i;

    for (i = 0; i < c->nprepared; i++)
        if (c->prepared[i].hash == h && strcmp(c->prepared[i].sql, sql) == 0) {
            snprintf(name, len, "v%d", i);
            return 1;
        }
    if (c->nprepared == PG_PREPARED_MAX)
        return 0;
    snprintf(name, len, "v%d", c->nprepared);
    res = PQprepare(c->db, name, sql, nparams, NULL);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail_result(c, res, what, e);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    c->prepared = xrealloc(c->prepared, (size_t)(c->nprepared + 1) * sizeof(*c->prepared));
    c->prepared[c->nprepared].hash = h;
    c->prepared[c->nprepared].sql = xstrdup(sql);
    c->nprepared++;
    return 1;
}

/* Runs sql with p on c: the result, or NULL with e set. */
static PGresult *conn_exec(struct pg_conn *c, const char *sql, const struct pg_params *p,
                           const char *what, struct err *e)
{
    PGresult *res;
    ExecStatusType st;
    char name[16];
    int prepared = 0;

    if (p != NULL && (prepared = conn_prepared(c, sql, p->n, name, sizeof(name), what, e)) < 0)
        return NULL;
    if (prepared)
        res = PQexecPrepared(c->db, name, p->n, p->values, p->lengths, p->formats, 0);
    else if (p != NULL)
        res = PQexecParams(c->db, sql, p->n, NULL, p->values, p->lengths, p->formats, 0);
    else
        res = PQexec(c->db, sql);
    st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    fail_result(c, res, what, e);
    PQclear(res);
    return NULL;
}

/* Runs fixed SQL without parameters and no rows wanted: 0 or -1 with e set. */
static int conn_run(struct pg_conn *c, const char *sql, const char *what, struct err *e)
{
    PGresult *res = conn_exec(c, sql, NULL, what, e);

    PQclear(res);
    return res != NULL ? 0 : -1;
}

/*
 * Runs sql with p on tx's connection: a result (the caller PQclear()s it)
 * whose status is PGRES_TUPLES_OK or PGRES_COMMAND_OK, or NULL with e set
 * (unique_violation ERR_CONFLICT, lock or serialization failures and a lost
 * connection ERR_UNAVAILABLE, anything else ERR_INTERNAL).
 */
static PGresult *pg_exec(struct pg_tx *tx, const char *sql, const struct pg_params *p,
                         const char *what, struct err *e)
{
    return conn_exec(tx->conn, sql, p, what, e);
}

/*
 * Makes vouch.tenant of tx's transaction `tenant` (the row-level security
 * policies compare every row's tenant with it); a no-op if it already is.
 */
static int pg_tenant_set(struct pg_tx *tx, const char *tenant, struct err *e)
{
    struct pg_params p;
    PGresult *res;

    p.n = 0; /* the parameters are set as they are bound: no need to clear them */
    if (tenant == NULL)
        return err_set(e, ERR_INTERNAL, "database: a call on tenant data without a tenant");
    if (tx->tenant != NULL && strcmp(tx->tenant, tenant) == 0)
        return 0;
    param_text(&p, 1, tenant);
    res = pg_exec(tx, "SELECT set_config('vouch.tenant', $1, true)", &p, "tenant", e);
    if (res == NULL)
        return -1;
    PQclear(res);
    free(tx->tenant);
    tx->tenant = xstrdup(tenant);
    return 0;
}

/* Turns the cross-tenant read policy (vouch.cross_tenant) on or off: the driver's cross_tenant. */
static int pg_cross_tenant(struct db_tx *tx, int on, struct err *e)
{
    return conn_run(((struct pg_tx *)tx)->conn,
                    on ? "SELECT set_config('vouch.cross_tenant', 'on', true)"
                       : "SELECT set_config('vouch.cross_tenant', 'off', true)",
                    "cross-tenant read", e);
}

/* ---- the driver: statements of store_data.c ---------------------------------- */

#define PG_TX(st)  ((struct pg_tx *)(st)->tx)
#define RESULT(st) ((PGresult *)(st)->handle)

/*
 * Starts statement sql on st for tenant's rows (vouch.tenant is set first, if
 * it is not already), and gives it the tx's parameters until it runs.
 */
static int stmt_start(struct db_stmt *st, const char *tenant, const char *sql, struct err *e)
{
    struct pg_tx *tx = PG_TX(st);

    if (tenant != NULL && pg_tenant_set(tx, tenant, e) != 0)
        return -1;
    tx->params.n = 0;
    tx->binding = st;
    st->sql = sql;
    return 0;
}

static int drv_open(struct db_stmt *st, const char *tenant, enum query_id q, struct err *e)
{
    return stmt_start(st, tenant, PG_TX(st)->db.queries[q], e);
}

/* The text of a search is made for each call; the connection keeps it prepared by its text. */
static int drv_open_search(struct db_stmt *st, const char *tenant, enum search_id s, unsigned mask,
                           struct err *e)
{
    char *sql = db_search_text(&pg_dialect, s, mask);

    if (stmt_start(st, tenant, sql, e) != 0) {
        free(sql);
        return -1;
    }
    st->own = sql;
    return 0;
}

static int drv_open_text(struct db_stmt *st, const char *tenant, const char *sql, struct err *e)
{
    return stmt_start(st, tenant, sql, e);
}

/* The parameters st binds: only the statement opened last, before it runs. */
static struct pg_params *params_of(struct db_stmt *st)
{
    if (PG_TX(st)->binding != st)
        abort(); /* a programming error: bind a statement before opening the next */
    return &PG_TX(st)->params;
}

static void drv_bind_text(struct db_stmt *st, int i, const char *s)
{
    param_text(params_of(st), i, s);
}

static void drv_bind_int64(struct db_stmt *st, int i, int64_t v)
{
    param_int(params_of(st), i, v);
}

static void drv_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
    param_blob(params_of(st), i, p, n);
}

static void drv_bind_null(struct db_stmt *st, int i)
{
    param_text(params_of(st), i, NULL);
}

/* The first step runs the statement and holds its whole result; the next ones move on a row. */
static int drv_step(struct db_stmt *st, const char *what, struct err *e)
{
    PGresult *res;

    if (st->handle == NULL) {
        res = pg_exec(PG_TX(st), st->sql, params_of(st), what, e);
        PG_TX(st)->binding = NULL;
        if (res == NULL)
            return -1;
        st->handle = res;
        st->row = -1;
    }
    return ++st->row < PQntuples(RESULT(st)) ? 1 : 0;
}

static const char *drv_read_text(struct db_stmt *st, int col)
{
    return PQgetisnull(RESULT(st), st->row, col) ? NULL : PQgetvalue(RESULT(st), st->row, col);
}

static int64_t drv_read_int64(struct db_stmt *st, int col)
{
    return PQgetisnull(RESULT(st), st->row, col)
               ? 0
               : strtoll(PQgetvalue(RESULT(st), st->row, col), NULL, 10);
}

/* A bytea column (text format, hex); NULL for SQL NULL and, as SQLite does, for no bytes. */
static unsigned char *drv_read_blob(struct db_stmt *st, int col, size_t *n)
{
    unsigned char *raw, *out = NULL;
    size_t len = 0;

    *n = 0;
    if (PQgetisnull(RESULT(st), st->row, col))
        return NULL;
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(RESULT(st), st->row, col), &len);
    if (raw == NULL)
        abort(); /* out of memory */
    if (len > 0) {
        out = xmalloc(len);
        memcpy(out, raw, len);
        *n = len;
    }
    PQfreemem(raw);
    return out;
}

static int64_t drv_changes(struct db_stmt *st)
{
    return strtoll(PQcmdTuples(RESULT(st)), NULL, 10);
}

static void drv_close(struct db_stmt *st)
{
    if (PG_TX(st)->binding == st)
        PG_TX(st)->binding = NULL;
    PQclear(RESULT(st));
    st->handle = NULL;
    free(st->own);
    st->own = NULL;
}

static const struct db_driver pg_driver = {
    .dialect = &pg_dialect,
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
    .cross_tenant = pg_cross_tenant,
};

/* ---- connections ------------------------------------------------------------ */

static void conn_close(struct db_conn *link)
{
    struct pg_conn *c = (struct pg_conn *)link;

    if (c == NULL)
        return;
    PQfinish(c->db);
    for (int i = 0; i < c->nprepared; i++)
        free(c->prepared[i].sql);
    free(c->prepared);
    free(c);
}

/*
 * Opens one connection: the URL's settings win over these defaults (a connect
 * timeout, so /readyz answers; a lock timeout as SQLite's busy timeout).
 */
static struct db_conn *conn_open(const char *url, struct err *e)
{
    static const char *const keys[] = {"connect_timeout", "options", "application_name", "dbname",
                                       NULL};
    const char *values[] = {"5", "-c lock_timeout=10000 -c client_min_messages=warning", "vouchd",
                            url, NULL};
    struct pg_conn *c = xcalloc(1, sizeof(*c));

    c->db = PQconnectdbParams(keys, values, 1);
    if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK) {
        err_set(e, ERR_UNAVAILABLE, "database: cannot connect: %s",
                c->db ? PQerrorMessage(c->db) : "out of memory");
        conn_close(&c->link);
        return NULL;
    }
    return &c->link;
}

/* A broken connection, or one still inside a transaction, is not kept: the next tx opens one. */
static int conn_reusable(struct db_conn *link)
{
    struct pg_conn *c = (struct pg_conn *)link;

    return !c->broken && PQstatus(c->db) == CONNECTION_OK &&
           PQtransactionStatus(c->db) == PQTRANS_IDLE;
}

static const struct db_pool_class pg_pool = {conn_open, conn_reusable, conn_close};

/* ---- migrations ---------------------------------------------------------------- */

static int query_int(struct pg_conn *c, const char *sql, int64_t *out, struct err *e)
{
    PGresult *res = conn_exec(c, sql, NULL, "schema", e);

    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return err_set(e, ERR_INTERNAL, "schema: %s: no value", sql);
    }
    *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/*
 * Refuses a role that row-level security does not hold (a superuser or a
 * role with BYPASSRLS): the policies would be silently void.
 */
static int role_check(struct pg_conn *c, struct err *e)
{
    int64_t bypass = 0;

    if (query_int(c,
                  "SELECT (rolsuper OR rolbypassrls)::int FROM pg_roles "
                  "WHERE rolname = current_user",
                  &bypass, e) != 0)
        return -1;
    if (bypass)
        return err_set(e, ERR_INTERNAL,
                       "database role %s is a superuser or has BYPASSRLS: row-level security "
                       "would not apply; connect as an ordinary role (docs/operations.md)",
                       PQuser(c->db));
    return 0;
}

/*
 * Applies the migrations newer than the database's version in one
 * transaction, under an advisory lock so several nodes starting at once
 * migrate once.  A database newer than this build is refused.
 */
static int migrate(struct db_store *s, struct pg_conn *c, struct err *e)
{
    int64_t version = 0;
    int n = pg_migration_count, rc = -1;
    char what[48], sql[160];

    if (conn_run(c, "BEGIN", "schema", e) != 0)
        return -1;
    if (conn_run(c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", "schema", e) != 0 ||
        conn_run(c,
                 "CREATE TABLE IF NOT EXISTS schema_version (version bigint PRIMARY KEY,"
                 "  applied bigint NOT NULL)",
                 "schema_version", e) != 0 ||
        query_int(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &version, e) != 0)
        goto out;
    if (version > n) {
        err_set(e, ERR_INTERNAL, "database schema version %lld is newer than this build knows (%d)",
                (long long)version, n);
        goto out;
    }
    for (int64_t i = version; i < n; i++) {
        snprintf(what, sizeof(what), "schema migration %lld", (long long)(i + 1));
        snprintf(sql, sizeof(sql),
                 "INSERT INTO schema_version (version, applied) VALUES (%lld, %lld)",
                 (long long)(i + 1), (long long)time_now());
        if (conn_run(c, pg_migrations[i], what, e) != 0 || conn_run(c, sql, what, e) != 0)
            goto out;
    }
    if (conn_run(c, "COMMIT", "schema", e) != 0)
        goto out;
    s->schema_version = n;
    rc = 0;
out:
    if (rc != 0 && PQtransactionStatus(c->db) != PQTRANS_IDLE)
        conn_run(c, "ROLLBACK", "schema", NULL);
    return rc;
}

/* ---- the store ------------------------------------------------------------------ */

static int setup(struct db_store *s, struct db_conn *link, struct err *e)
{
    struct pg_conn *c = (struct pg_conn *)link;

    return role_check(c, e) != 0 || migrate(s, c, e) != 0 ? -1 : 0;
}

struct store *pg_open(const char *url, struct err *e)
{
    if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0) {
        err_set(e, ERR_INTERNAL,
                "database: a PostgreSQL URL starts with postgresql:// or postgres://");
        return NULL;
    }
    return db_store_open(&store_pg_ops, &pg_dialect, &pg_pool, url, setup, e);
}

/* ---- transactions ------------------------------------------------------------------ */

/*
 * Begins a transaction on a pooled connection.  Idle connections that turn
 * out dead (the server restarted, a failover happened) are dropped one by one
 * and the begin is tried again, at last on a new connection: the first
 * request after an outage does not fail for the pool's stale state.
 */
static struct store_tx *tx_begin(struct store *base, const char *sql, int write, struct err *e)
{
    struct db_store *s = (struct db_store *)base;
    struct pg_tx *tx;
    struct pg_conn *c = NULL;

    if (store_fault_begin(e)) /* tests only (store_fault.h) */
        return NULL;
    for (int attempt = 0; attempt <= DB_POOL_MAX && c == NULL; attempt++) {
        if ((c = (struct pg_conn *)db_pool_take(&s->pool, e)) == NULL)
            return NULL;
        if (conn_run(c, sql, "begin", e) != 0) {
            int dead = c->broken || PQstatus(c->db) != CONNECTION_OK;

            c->broken = dead;
            db_pool_give(&s->pool, &c->link);
            c = NULL;
            if (!dead)
                return NULL;
        }
    }
    if (c == NULL)
        return NULL;
    /* Cleared but for its parameters, which are set as they are bound. */
    tx = xmalloc(sizeof(*tx));
    memset(tx, 0, offsetof(struct pg_tx, params));
    tx->params.n = 0;
    tx->binding = NULL;
    tx->db.base.ops = &store_pg_ops;
    tx->db.drv = &pg_driver;
    tx->db.queries = s->queries;
    tx->db.write = write;
    tx->store = s;
    tx->conn = c;
    return &tx->db.base;
}

struct store_tx *pg_begin(struct store *s, struct err *e)
{
    return tx_begin(s, "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE", 1, e);
}

struct store_tx *pg_begin_read(struct store *s, struct err *e)
{
    return tx_begin(s, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, e);
}

static void tx_end(struct pg_tx *tx)
{
    db_pool_give(&tx->store->pool, &tx->conn->link);
    free(tx->tenant);
    free(tx);
}

int pg_commit(struct store_tx *base, struct err *e)
{
    struct pg_tx *tx = (struct pg_tx *)base;
    int64_t start = metrics_now_ns();
    PGresult *res = NULL;
    int rc;

    if (store_fault_hit(STORE_FAULT_COMMIT, "commit", e)) { /* tests only (store_fault.h) */
        conn_run(tx->conn, "ROLLBACK", "rollback", NULL);
        tx_end(tx);
        return -1;
    }
    res = conn_exec(tx->conn, "COMMIT", NULL, "commit", e);
    rc = res != NULL ? 0 : -1;

    /* COMMIT of a transaction that failed earlier answers ROLLBACK, not an error. */
    if (res != NULL && strcmp(PQcmdStatus(res), "COMMIT") != 0)
        rc = err_set(e, ERR_INTERNAL,
                     "commit: the transaction was rolled back after an "
                     "error");
    metrics_db_commit(metrics_now_ns() - start, rc == 0);
    PQclear(res);
    tx_end(tx);
    return rc;
}

void pg_rollback(struct store_tx *base)
{
    struct pg_tx *tx = (struct pg_tx *)base;

    if (PQtransactionStatus(tx->conn->db) != PQTRANS_IDLE)
        conn_run(tx->conn, "ROLLBACK", "rollback", NULL);
    tx_end(tx);
}

int pg_ping(struct store *base, struct err *e)
{
    struct store_tx *tx = pg_begin_read(base, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = conn_run(((struct pg_tx *)tx)->conn, "SELECT 1", "ping", e);
    pg_rollback(tx);
    return rc;
}

int pg_savepoint(struct store_tx *base, struct err *e)
{
    struct pg_tx *tx = (struct pg_tx *)base;

    if (conn_run(tx->conn, "SAVEPOINT sp", "savepoint", e) != 0)
        return -1;
    tx->depth++;
    return 0;
}

int pg_savepoint_release(struct store_tx *base, struct err *e)
{
    struct pg_tx *tx = (struct pg_tx *)base;

    if (tx->depth == 0)
        return err_set(e, ERR_INTERNAL, "savepoint: none set");
    tx->depth--;
    return conn_run(tx->conn, "RELEASE SAVEPOINT sp", "savepoint", e);
}

/* Undoing a savepoint also undoes a vouch.tenant set after it: it is set again on next use. */
int pg_savepoint_rollback(struct store_tx *base, struct err *e)
{
    struct pg_tx *tx = (struct pg_tx *)base;

    if (tx->depth == 0)
        return err_set(e, ERR_INTERNAL, "savepoint: none set");
    tx->depth--;
    free(tx->tenant);
    tx->tenant = NULL;
    return conn_run(tx->conn, "ROLLBACK TO SAVEPOINT sp; RELEASE SAVEPOINT sp", "savepoint", e);
}
