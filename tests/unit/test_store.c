/*
 * test_store.c — the storage interface on a real database: SQLite files by
 * default; with VOUCH_TEST_STORE_URL=postgresql://... (make unit-pg) the same
 * tests on PostgreSQL, whose schema is emptied before each test through
 * VOUCH_TEST_STORE_ADMIN_URL (a superuser on the same database, which
 * row-level security does not bind: what raw_exec and raw_int use).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pg_internal.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

static char dir[256];
static char path[300];
static char url[320];
static const char *pg_url, *pg_admin_url; /* set: the tests run on PostgreSQL */

static void pg_admin_exec(const char *sql);

static int setup(void **state)
{
    (void)state;
    if (pg_url != NULL) {
        snprintf(url, sizeof(url), "%s", pg_url);
        pg_admin_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION vouch");
    }
    snprintf(dir, sizeof(dir), "/tmp/vouch-store-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/test.db", dir);
    if (pg_url == NULL)
        snprintf(url, sizeof(url), "sqlite:%s", path);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* ---- helpers -------------------------------------------------------------- */

static struct store *open_store(void)
{
    struct err e;
    struct store *s = store_open(url, &e);
    if (s == NULL)
        fail_msg("store_open: %s", e.msg);
    return s;
}

static struct store_tx *begin(struct store *s)
{
    struct err e;
    struct store_tx *tx = store_begin(s, &e);
    if (tx == NULL)
        fail_msg("store_begin: %s", e.msg);
    return tx;
}

static struct store_tx *begin_read(struct store *s)
{
    struct err e;
    struct store_tx *tx = store_begin_read(s, &e);
    if (tx == NULL)
        fail_msg("store_begin_read: %s", e.msg);
    return tx;
}

static void commit(struct store_tx *tx)
{
    struct err e;
    if (store_commit(tx, &e) != 0)
        fail_msg("store_commit: %s", e.msg);
}

static void notice_ignore(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Runs SQL on PostgreSQL as the superuser (past row-level security). */
static PGresult *pg_admin_run(const char *conninfo, const char *sql)
{
    PGconn *db = PQconnectdb(conninfo);
    PGresult *res;

    if (PQstatus(db) != CONNECTION_OK)
        fail_msg("%s: %s", conninfo, PQerrorMessage(db));
    PQsetNoticeProcessor(db, notice_ignore, NULL);
    res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQfinish(db);
    return res;
}

static void pg_admin_exec(const char *sql)
{
    PQclear(pg_admin_run(pg_admin_url, sql));
}

/* Runs SQL on the file through a connection of its own (not the store's). */
static void raw_exec(const char *sql)
{
    sqlite3 *db;
    if (pg_url != NULL) {
        pg_admin_exec(sql);
        return;
    }
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* One integer from the file, read through a connection of its own. */
static int64_t raw_int(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v;
    if (pg_url != NULL) {
        PGresult *res = pg_admin_run(pg_admin_url, sql);
        assert_int_equal(PQntuples(res), 1);
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        return v;
    }
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void tenant_make(struct store *s, const char *t)
{
    struct err e;
    struct store_tx *tx = begin(s);
    assert_int_equal(store_tenant_create(tx, t, &e), 0);
    commit(tx);
}

static unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};

static struct cert_rec cert_of(const char *serial, const char *ca, int64_t not_after)
{
    struct cert_rec r = {0};
    r.serial = (char *)serial;
    r.ca = (char *)ca;
    r.profile = "tls-server";
    r.profile_version = 1;
    r.subject = "CN=www.example.com,O=Example";
    r.sans = "dns:www.example.com,ip:192.0.2.1";
    r.status = "good";
    r.not_before = 1000;
    r.not_after = not_after;
    r.reason = -1;
    r.der = der;
    r.der_len = sizeof(der);
    r.created = 1000;
    return r;
}

static int cert_put_rec(struct store *s, const char *tenant, const struct cert_rec *r,
                        struct err *e)
{
    struct store_tx *tx = store_begin(s, e);
    if (tx == NULL)
        return -1;
    if (store_cert_insert(tx, tenant, r, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

static int cert_put(struct store *s, const char *tenant, const char *serial, int64_t not_after,
                    struct err *e)
{
    struct cert_rec r = cert_of(serial, "issuing", not_after);
    return cert_put_rec(s, tenant, &r, e);
}

/* The serials a search returns, comma-separated ("" for none). */
static char *search_serials(struct store *s, const char *tenant, const struct cert_query *q)
{
    struct store_tx *tx = begin_read(s);
    struct cert_rec **list = NULL;
    struct err e;
    size_t n = 0;
    char *out = xstrdup("");
    if (store_cert_search(tx, tenant, q, &list, &n, &e) != 0)
        fail_msg("store_cert_search: %s", e.msg);
    for (size_t i = 0; i < n; i++) {
        char *next = xasprintf("%s%s%s", out, i ? "," : "", list[i]->serial);
        free(out);
        out = next;
    }
    cert_rec_list_free(list, n);
    store_rollback(tx);
    return out;
}

static void assert_search(struct store *s, const char *tenant, const struct cert_query *q,
                          const char *want)
{
    char *got = search_serials(s, tenant, q);
    assert_string_equal(got, want);
    free(got);
}

static struct ca_rec ca_of(const char *name)
{
    static unsigned char csr[] = {0x30, 0x01, 0xbb};
    struct ca_rec r = {0};
    r.name = (char *)name;
    r.key_id = "key-1";
    r.key_type = "ec-p256";
    r.status = "pending";
    r.subject = "CN=Root";
    r.csr_der = csr;
    r.csr_len = sizeof(csr);
    r.options_json = "{\"crl_days\":7}";
    r.created = 50;
    return r;
}

static struct token_rec token_of(const char *id, const char *hash)
{
    struct token_rec r = {0};
    r.id = (char *)id;
    r.name = "ci";
    r.hash = (char *)hash;
    r.role = "admin";
    r.expires = 0;
    r.created = 77;
    r.principal = (char *)id;
    return r;
}

static struct entity_rec entity_of(const char *id, const char *name, const char *kind,
                                   const char *email)
{
    struct entity_rec r = {0};
    r.id = (char *)id;
    r.name = (char *)name;
    r.kind = (char *)kind;
    r.email = (char *)email;
    r.metadata_json = "{}";
    r.created = 5;
    return r;
}

/* ---- opening and migrations ----------------------------------------------- */

static void migrations_run_on_a_new_file_and_reopen_is_stable(void **state)
{
    struct store *s = open_store();
    int v = store_schema_version(s);
    (void)state;
    assert_true(v >= 1);
    assert_int_equal(raw_int("SELECT MAX(version) FROM schema_version"), v);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM schema_version"), v);
    if (pg_url != NULL) {
        assert_int_equal(raw_int("SELECT COUNT(*) FROM pg_tables WHERE tablename = 'certs' "
                                 "AND rowsecurity"),
                         1);
    } else {
        assert_int_equal(raw_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'certs'"), 1);
        assert_int_equal(
            raw_int("SELECT COUNT(*) FROM pragma_journal_mode WHERE journal_mode='wal'"), 1);
    }
    assert_int_equal(store_ping(s, NULL), 0);
    store_close(s);
    s = open_store();
    assert_int_equal(store_schema_version(s), v);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM schema_version"), v);
    store_close(s);
}

static void data_survives_close_and_reopen(void **state)
{
    struct store *s = open_store();
    struct cert_rec *c = NULL;
    struct store_tx *tx;
    struct err e;
    (void)state;
    tenant_make(s, "a");
    assert_int_equal(cert_put(s, "a", "0a", 5000, &e), 0);
    store_close(s);
    s = open_store();
    tx = begin_read(s);
    assert_int_equal(store_cert_get(tx, "a", "0a", &c, &e), 0);
    assert_int_equal(c->not_after, 5000);
    cert_rec_free(c);
    store_rollback(tx);
    store_close(s);
}

/*
 * A file of schema 6 with an admin and a system token: migration 7 makes each
 * token a principal of its own with the roles of its old role, and the tokens
 * are still found by their SHA-256.  (SQLite: the PostgreSQL step was run
 * against a database of the schema-6 build by hand.)
 */
static void schema_6_tokens_become_principals_with_their_roles(void **state)
{
    struct binding_rec **b = NULL;
    struct token_rec *t = NULL;
    struct store_tx *tx;
    struct store *s;
    struct err e;
    size_t n = 0;
    char sql[64];

    (void)state;
    if (pg_url != NULL)
        skip();
    raw_exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)");
    for (int i = 0; i < 6; i++) {
        raw_exec(sqlite_migrations[i]);
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 0)", i + 1);
        raw_exec(sql);
    }
    raw_exec("INSERT INTO tokens VALUES ('default', 'tok-a', 'demo admin', 'aa11', 'admin', 0, 1);"
             "INSERT INTO tokens VALUES ('_system', 'tok-s', 'sys', 'ss22', 'system', 0, 1);");
    s = open_store();
    assert_true(store_schema_version(s) >= 7);
    tx = begin_read(s);
    assert_int_equal(store_token_find(tx, "aa11", &t, &e), 0);
    assert_string_equal(t->principal, "tok-a");
    assert_null(t->secret);
    token_rec_free(t);
    assert_int_equal(store_binding_list(tx, "default", "default", "tok-a", &b, &n, &e), 0);
    assert_int_equal(n, 5);
    binding_rec_list_free(b, n);
    assert_int_equal(store_binding_list(tx, "_system", "_system", "tok-s", &b, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(b[0]->role, "system-admin");
    binding_rec_list_free(b, n);
    assert_int_equal(store_binding_list(tx, "default", "_system", "tok-s", &b, &n, &e), 0);
    assert_int_equal(n, 0); /* the system administrator reads no tenant */
    binding_rec_list_free(b, n);
    store_rollback(tx);
    store_close(s);
}

/*
 * A file of schema 15 where an administrator made a token for another
 * principal, one for itself, and `vouchd init` made the first: migration 16
 * gives each token the maker its token.create event names, unless that is
 * its own principal.
 */
static void schema_16_tokens_get_their_makers_from_the_audit(void **state)
{
    struct token_rec *t = NULL;
    struct store_tx *tx;
    struct store *s;
    struct err e;
    char sql[64];

    (void)state;
    if (pg_url != NULL)
        skip();
    raw_exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)");
    for (int i = 0; i < 15; i++) {
        raw_exec(sqlite_migrations[i]);
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 0)", i + 1);
        raw_exec(sql);
    }
    raw_exec("INSERT INTO tokens (tenant, id, name, hash, role, expires, created, principal) VALUES"
             " ('t', 'tok-admin', 'a', 'h1', '', 0, 1, 'prn-admin'),"
             " ('t', 'tok-other', 'o', 'h2', '', 0, 2, 'prn-other'),"
             " ('t', 'tok-self', 's', 'h3', '', 0, 3, 'prn-admin'),"
             " ('t', 'tok-quiet', 'q', 'h4', '', 0, 4, 'prn-quiet');"
             "INSERT INTO audit VALUES ('t', 1, 1, 'init', 'token.create', 'tok-admin', 'ok', '',"
             " '', 'x1'), ('t', 2, 2, 'tok-admin', 'token.create', 'tok-other', 'ok', '', 'x1',"
             " 'x2'), ('t', 3, 3, 'tok-admin', 'token.create', 'tok-self', 'ok', '', 'x2', 'x3');");
    s = open_store();
    assert_true(store_schema_version(s) >= 16);
    tx = begin_read(s);
    assert_int_equal(store_token_find(tx, "h1", &t, &e), 0);
    assert_string_equal(t->creators, "[\"init\"]");
    token_rec_free(t);
    assert_int_equal(store_token_find(tx, "h2", &t, &e), 0);
    assert_string_equal(t->creators, "[\"prn-admin\"]");
    token_rec_free(t);
    assert_int_equal(store_token_find(tx, "h3", &t, &e), 0);
    assert_string_equal(t->creators, "[]"); /* its own principal made it */
    token_rec_free(t);
    assert_int_equal(store_token_find(tx, "h4", &t, &e), 0);
    assert_string_equal(t->creators, "[]"); /* no event names a maker */
    token_rec_free(t);
    store_rollback(tx);
    store_close(s);
}

static void a_file_from_a_newer_build_is_refused(void **state)
{
    struct store *s = open_store();
    struct err e;
    int v = store_schema_version(s);
    char sql[128];
    (void)state;
    store_close(s);
    snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 0)", v + 1);
    raw_exec(sql);
    assert_null(store_open(url, &e));
    assert_int_equal(e.kind, ERR_INTERNAL);
    assert_non_null(strstr(e.msg, "newer"));
}

static void a_file_versioned_by_user_version_is_adopted(void **state)
{
    struct store *s;
    int v;
    (void)state;
    if (pg_url != NULL)
        skip(); /* the SQLite files of the first builds */
    s = open_store();
    v = store_schema_version(s);
    store_close(s);
    unlink(path);
    /* A file of the first builds: the first schema, its version in user_version. */
    raw_exec(sqlite_migrations[0]);
    raw_exec("PRAGMA user_version = 1;");
    s = open_store();
    assert_int_equal(store_schema_version(s), v);
    assert_int_equal(raw_int("SELECT MIN(version) FROM schema_version"), 1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM schema_version"), v);
    tenant_make(s, "a");
    store_close(s);
}

static void bad_urls_are_refused(void **state)
{
    struct err e;
    char bad[400];
    (void)state;
    assert_null(store_open("mysql://localhost/x", &e));
    assert_non_null(strstr(e.msg, "unknown scheme"));
    assert_null(store_open("sqlite:", &e));
    snprintf(bad, sizeof(bad), "sqlite:%s/no/such/dir/x.db", dir);
    assert_null(store_open(bad, &e));
    assert_int_equal(e.kind, ERR_INTERNAL);
}

/* ---- tenants -------------------------------------------------------------- */

static void tenants_create_get_and_list(void **state)
{
    struct store *s = open_store();
    struct tenant_rec *t = NULL, **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tenant_make(s, "zeta");
    tenant_make(s, "alpha");
    tx = begin(s);
    assert_int_equal(store_tenant_create(tx, "alpha", &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(e.kind, ERR_CONFLICT);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_tenant_get(tx, "alpha", &t, &e), 0);
    assert_string_equal(t->name, "alpha");
    assert_string_equal(t->status, "active");
    assert_true(t->created > 0);
    tenant_rec_free(t);
    t = NULL;
    assert_int_equal(store_tenant_get(tx, "beta", &t, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(t);
    assert_int_equal(store_tenant_list(tx, &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->name, "alpha");
    assert_string_equal(list[1]->name, "zeta");
    for (size_t i = 0; i < n; i++)
        tenant_rec_free(list[i]);
    free(list);
    store_rollback(tx);
    store_close(s);
}

/* ---- CAs ------------------------------------------------------------------ */

static void cas_insert_get_update_and_list(void **state)
{
    static unsigned char cert[] = {0x30, 0x02, 0x05, 0x00}, chain[] = {0x30, 0x00, 0x30, 0x00};
    struct store *s = open_store();
    struct ca_rec root = ca_of("root"), sub = ca_of("sub"), *got = NULL, **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    sub.parent = "root";
    sub.created = 60;
    sub.key_id = "key-2";
    tx = begin(s);
    assert_int_equal(store_ca_insert(tx, "a", &root, &e), 0);
    assert_int_equal(store_ca_insert(tx, "a", &sub, &e), 0);
    assert_int_equal(store_ca_insert(tx, "a", &root, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    commit(tx);
    /* One key, one CA: another CA with root's key is a clash; offline CAs ("") are not. */
    {
        struct ca_rec twin = ca_of("twin"), off1 = ca_of("off1"), off2 = ca_of("off2");
        off1.key_id = off2.key_id = "";
        tx = begin(s);
        assert_int_equal(store_ca_insert(tx, "a", &twin, &e), -1);
        assert_int_equal(e.kind, ERR_CONFLICT);
        store_rollback(tx);
        tx = begin(s);
        assert_int_equal(store_ca_insert(tx, "b", &twin, &e), 0); /* another tenant's key */
        assert_int_equal(store_ca_insert(tx, "a", &off1, &e), 0);
        assert_int_equal(store_ca_insert(tx, "a", &off2, &e), 0);
        store_rollback(tx);
    }

    tx = begin_read(s);
    assert_int_equal(store_ca_get(tx, "a", "sub", &got, &e), 0);
    assert_string_equal(got->tenant, "a");
    assert_string_equal(got->parent, "root");
    assert_string_equal(got->status, "pending");
    assert_string_equal(got->options_json, "{\"crl_days\":7}");
    assert_null(got->cert_der);
    assert_int_equal(got->csr_len, 3);
    assert_memory_equal(got->csr_der, sub.csr_der, 3);
    ca_rec_free(got);
    store_rollback(tx);

    root.status = "active";
    root.cert_der = cert;
    root.cert_len = sizeof(cert);
    root.chain_der = chain;
    root.chain_len = sizeof(chain);
    root.subject = "CN=Root CA";
    root.not_before = 100;
    root.not_after = 200;
    tx = begin(s);
    assert_int_equal(store_ca_update(tx, "a", &root, &e), 0);
    {
        struct ca_rec ghost = ca_of("ghost");
        assert_int_equal(store_ca_update(tx, "a", &ghost, &e), -1);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
    }
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_ca_get(tx, "a", "root", &got, &e), 0);
    assert_string_equal(got->status, "active");
    assert_string_equal(got->subject, "CN=Root CA");
    assert_int_equal(got->cert_len, sizeof(cert));
    assert_memory_equal(got->cert_der, cert, sizeof(cert));
    assert_int_equal(got->chain_len, sizeof(chain));
    assert_int_equal(got->not_before, 100);
    assert_int_equal(got->not_after, 200);
    assert_null(got->parent);
    ca_rec_free(got);
    assert_int_equal(store_ca_list(tx, "a", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->name, "root");
    assert_string_equal(list[1]->name, "sub");
    for (size_t i = 0; i < n; i++)
        ca_rec_free(list[i]);
    free(list);
    store_rollback(tx);
    store_close(s);
}

/* ---- profiles ------------------------------------------------------------- */

static void profile_versions_and_latest(void **state)
{
    struct store *s = open_store();
    struct profile_rec *p = NULL, **list = NULL;
    struct store_tx *tx = begin(s);
    struct err e;
    int v = 0;
    size_t n;
    (void)state;
    assert_int_equal(store_profile_put(tx, "a", "web", "{\"v\":1}", &v, &e), 0);
    assert_int_equal(v, 1);
    assert_int_equal(store_profile_put(tx, "a", "web", "{\"v\":2}", &v, &e), 0);
    assert_int_equal(v, 2);
    assert_int_equal(store_profile_put(tx, "a", "mail", "{}", &v, &e), 0);
    assert_int_equal(v, 1);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_profile_get(tx, "a", "web", 0, &p, &e), 0);
    assert_int_equal(p->version, 2);
    assert_string_equal(p->json, "{\"v\":2}");
    profile_rec_free(p);
    assert_int_equal(store_profile_get(tx, "a", "web", 1, &p, &e), 0);
    assert_int_equal(p->version, 1);
    assert_string_equal(p->json, "{\"v\":1}");
    profile_rec_free(p);
    p = NULL;
    assert_int_equal(store_profile_get(tx, "a", "web", 3, &p, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(p);
    assert_int_equal(store_profile_list(tx, "a", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->name, "mail");
    assert_string_equal(list[1]->name, "web");
    assert_int_equal(list[1]->version, 2);
    for (size_t i = 0; i < n; i++)
        profile_rec_free(list[i]);
    free(list);
    store_rollback(tx);
    store_close(s);
}

/* ---- entities ------------------------------------------------------------- */

static char *entity_ids(struct store *s, const char *tenant, const struct entity_query *q)
{
    struct store_tx *tx = begin_read(s);
    struct entity_rec **list = NULL;
    struct err e;
    size_t n = 0;
    char *out = xstrdup("");
    assert_int_equal(store_entity_search(tx, tenant, q, &list, &n, &e), 0);
    for (size_t i = 0; i < n; i++) {
        char *next = xasprintf("%s%s%s", out, i ? "," : "", list[i]->id);
        free(out);
        out = next;
        entity_rec_free(list[i]);
    }
    free(list);
    store_rollback(tx);
    return out;
}

static void entities_insert_update_and_search(void **state)
{
    struct store *s = open_store();
    struct entity_rec alice = entity_of("ent-1", "Alice Smith", "user", "alice@example.com");
    struct entity_rec bob = entity_of("ent-2", "Bob", "user", "bob@example.com");
    struct entity_rec cam = entity_of("ent-3", "camera-7", "device", NULL);
    struct entity_rec *got = NULL;
    struct store_tx *tx = begin(s);
    struct err e;
    char *ids;
    (void)state;
    cam.manufacturer = "Acme";
    cam.model = "C7";
    cam.serial_number = "SN-77";
    cam.metadata_json = "{\"site\":\"north\"}";
    assert_int_equal(store_entity_insert(tx, "a", &alice, &e), 0);
    assert_int_equal(store_entity_insert(tx, "a", &bob, &e), 0);
    assert_int_equal(store_entity_insert(tx, "a", &cam, &e), 0);
    assert_int_equal(store_entity_insert(tx, "a", &bob, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_entity_get(tx, "a", "ent-3", &got, &e), 0);
    assert_string_equal(got->manufacturer, "Acme");
    assert_string_equal(got->serial_number, "SN-77");
    assert_string_equal(got->metadata_json, "{\"site\":\"north\"}");
    assert_null(got->email);
    entity_rec_free(got);
    store_rollback(tx);

    {
        struct entity_query q = {0};
        ids = entity_ids(s, "a", &q);
        assert_string_equal(ids, "ent-1,ent-2,ent-3"); /* by name */
        free(ids);
    }
    {
        struct entity_query q = {.name = "SMITH"};
        ids = entity_ids(s, "a", &q);
        assert_string_equal(ids, "ent-1");
        free(ids);
    }
    {
        struct entity_query q = {.kind = "user"};
        ids = entity_ids(s, "a", &q);
        assert_string_equal(ids, "ent-1,ent-2");
        free(ids);
    }
    {
        struct entity_query q = {.email = "BOB@example.com", .kind = "user"};
        ids = entity_ids(s, "a", &q);
        assert_string_equal(ids, "ent-2");
        free(ids);
    }
    {
        struct entity_query q = {.kind = "user", .name = "o"};
        ids = entity_ids(s, "a", &q);
        assert_string_equal(ids, "ent-2");
        free(ids);
    }
    {
        struct entity_query q = {.limit = 1, .offset = 1};
        ids = entity_ids(s, "a", &q);
        assert_string_equal(ids, "ent-2");
        free(ids);
    }

    bob.name = "Robert";
    bob.email = "robert@example.com";
    tx = begin(s);
    assert_int_equal(store_entity_update(tx, "a", &bob, &e), 0);
    {
        struct entity_rec ghost = entity_of("ent-9", "x", "user", NULL);
        assert_int_equal(store_entity_update(tx, "a", &ghost, &e), -1);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
    }
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_entity_get(tx, "a", "ent-2", &got, &e), 0);
    assert_string_equal(got->name, "Robert");
    assert_string_equal(got->email, "robert@example.com");
    entity_rec_free(got);
    store_rollback(tx);
    store_close(s);
}

/* ---- certificates --------------------------------------------------------- */

static void certificate_round_trips_and_status_changes(void **state)
{
    struct store *s = open_store();
    struct cert_rec r = cert_of("7f01", "issuing", 9000), *c = NULL;
    struct store_tx *tx;
    struct err e;
    (void)state;
    r.entity_id = "ent-1";
    r.renewed_from = "7f00";
    assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    tx = begin_read(s);
    assert_int_equal(store_cert_get(tx, "a", "7f01", &c, &e), 0);
    assert_string_equal(c->tenant, "a");
    assert_string_equal(c->ca, "issuing");
    assert_string_equal(c->profile, "tls-server");
    assert_int_equal(c->profile_version, 1);
    assert_string_equal(c->entity_id, "ent-1");
    assert_string_equal(c->subject, r.subject);
    assert_string_equal(c->sans, r.sans);
    assert_string_equal(c->status, "good");
    assert_int_equal(c->not_before, 1000);
    assert_int_equal(c->not_after, 9000);
    assert_int_equal(c->revoked_at, 0);
    assert_int_equal(c->reason, -1);
    assert_string_equal(c->renewed_from, "7f00");
    assert_int_equal(c->der_len, sizeof(der));
    assert_memory_equal(c->der, der, sizeof(der));
    cert_rec_free(c);
    c = NULL;
    assert_int_equal(store_cert_get(tx, "a", "7f02", &c, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(c);
    store_rollback(tx);

    tx = begin(s);
    assert_int_equal(store_cert_set_status(tx, "a", "7f01", "revoked", 4000, 1, 3900, 1000, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "7f02", "revoked", 4000, 1, 0, 1000, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_cert_get(tx, "a", "7f01", &c, &e), 0);
    assert_string_equal(c->status, "revoked");
    assert_int_equal(c->revoked_at, 4000);
    assert_int_equal(c->reason, 1);
    assert_int_equal(c->invalidity_date, 3900);
    cert_rec_free(c);
    store_rollback(tx);
    store_close(s);
}

/* The serials of store_notice_due for tenant at now, space-separated, into out. */
static void notices_due(struct store *s, const char *tenant, int64_t now, char *out, size_t len)
{
    static const int days[] = {1, 7, 30};
    struct store_tx *tx = begin_read(s);
    struct cert_rec **list = NULL;
    size_t n = 0;
    struct err e;

    if (store_notice_due(tx, tenant, now, days, 3, 100, &list, &n, &e) != 0)
        fail_msg("store_notice_due: %s", e.msg);
    store_rollback(tx);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", list[i]->serial);
    cert_rec_list_free(list, n);
}

static void notices_are_due_once_per_nearest_threshold_and_stop_at_renewal(void **state)
{
    const int64_t now = 1000000, day = 86400;
    struct store *s = open_store();
    struct cert_rec soon = cert_of("a1", "issuing", now + 3 * day);
    struct cert_rec far = cert_of("a2", "issuing", now + 40 * day);
    struct cert_rec revoked = cert_of("a3", "issuing", now + 2 * day);
    struct cert_rec old = cert_of("a4", "issuing", now + 2 * day);
    struct cert_rec renewal = cert_of("a5", "issuing", now + 300 * day);
    struct cert_rec other = cert_of("a1", "issuing", now + 3 * day);
    struct notice_rec **pending = NULL;
    struct store_tx *tx;
    char due[256];
    size_t n = 0;
    struct err e;
    (void)state;

    revoked.status = "revoked";
    renewal.renewed_from = "a4";
    assert_int_equal(cert_put_rec(s, "a", &soon, &e), 0);
    assert_int_equal(cert_put_rec(s, "a", &far, &e), 0);
    assert_int_equal(cert_put_rec(s, "a", &revoked, &e), 0);
    assert_int_equal(cert_put_rec(s, "a", &old, &e), 0);
    assert_int_equal(cert_put_rec(s, "a", &renewal, &e), 0);
    assert_int_equal(cert_put_rec(s, "b", &other, &e), 0);
    notices_due(s, "a", now, due, sizeof(due));
    assert_string_equal(due, "a1"); /* not far, revoked, renewed, nor the renewal */

    /* Decided once for its nearest threshold (7 days): then no longer due. */
    tx = begin(s);
    assert_int_equal(store_notice_claim(tx, "a", "a1", 7, "cert", "pending", now, &e), 0);
    assert_int_equal(store_notice_claim(tx, "a", "a1", 7, "cert", "pending", now, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    commit(tx);
    notices_due(s, "a", now + day, due, sizeof(due));
    assert_string_equal(due, "");
    { /* thresholds changed to a farther one: no notice backwards */
        static const int ten[] = {10};
        struct cert_rec **list = NULL;
        tx = begin_read(s);
        assert_int_equal(store_notice_due(tx, "a", now, ten, 1, 10, &list, &n, &e), 0);
        store_rollback(tx);
        assert_int_equal(n, 0);
        free(list);
    }
    notices_due(s, "b", now, due, sizeof(due)); /* the other tenant's own */
    assert_string_equal(due, "a1");
    /* Under a day left: due again, for 1 day; expired: never. */
    notices_due(s, "a", now + 3 * day - 3600, due, sizeof(due));
    assert_string_equal(due, "a1");
    notices_due(s, "a", now + 3 * day, due, sizeof(due));
    assert_string_equal(due, "");

    /* Pending until marked. */
    tx = begin_read(s);
    assert_int_equal(store_notice_pending(tx, "a", now, 10, &pending, &n, &e), 0);
    store_rollback(tx);
    assert_int_equal(n, 1);
    assert_string_equal(pending[0]->serial, "a1");
    assert_int_equal(pending[0]->threshold, 7);
    assert_string_equal(pending[0]->state, "pending");
    free(pending[0]->state);
    pending[0]->state = strdup("sent");
    pending[0]->attempts = 1;
    pending[0]->sent_at = now;
    tx = begin(s);
    assert_int_equal(store_notice_mark(tx, "a", pending[0], &e), 0);
    commit(tx);
    notice_rec_list_free(pending, n);
    tx = begin_read(s);
    assert_int_equal(store_notice_pending(tx, "a", now, 10, &pending, &n, &e), 0);
    store_rollback(tx);
    assert_int_equal(n, 0);
    free(pending);
    store_close(s);
}

static void duplicate_serial_is_a_conflict_and_writes_nothing(void **state)
{
    struct store *s = open_store();
    struct cert_rec r = cert_of("abc1", "issuing", 6000), *c = NULL;
    struct cert_query q = {0};
    struct store_tx *tx;
    struct err e;
    (void)state;
    assert_int_equal(cert_put(s, "a", "abc1", 5000, &e), 0);
    tx = begin(s);
    r.subject = "CN=forged";
    assert_int_equal(store_cert_insert(tx, "a", &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(e.kind, ERR_CONFLICT);
    /* The transaction goes on: the caller draws a new serial. */
    r.serial = "abc2";
    assert_int_equal(store_cert_insert(tx, "a", &r, &e), 0);
    commit(tx);
    assert_search(s, "a", &q, "abc1,abc2");
    tx = begin_read(s);
    assert_int_equal(store_cert_get(tx, "a", "abc1", &c, &e), 0);
    assert_int_equal(c->not_after, 5000);
    assert_string_equal(c->subject, "CN=www.example.com,O=Example");
    cert_rec_free(c);
    store_rollback(tx);
    /* The same serial under another tenant is another certificate. */
    assert_int_equal(cert_put(s, "b", "abc1", 5000, &e), 0);
    store_close(s);
}

static void other_constraint_failures_are_internal_errors(void **state)
{
    struct store *s = open_store();
    struct cert_rec r = cert_of("01", "issuing", 6000);
    struct err e;
    (void)state;
    r.status = NULL; /* NOT NULL column: a caller's bug, not a clash */
    assert_int_equal(cert_put_rec(s, "a", &r, &e), -1);
    assert_int_equal(e.kind, ERR_INTERNAL);
    assert_int_equal(e.kind, ERR_INTERNAL);
    /* The database's own words: SQLite's "NOT NULL", PostgreSQL's "not-null". */
    assert_true(strstr(e.msg, "NOT NULL") != NULL || strstr(e.msg, "not-null") != NULL);
    store_close(s);
}

static void search_by_each_field_and_expiry_window(void **state)
{
    struct store *s = open_store();
    struct cert_rec r;
    struct err e;
    (void)state;
    r = cert_of("01", "issuing", 3000);
    r.subject = "CN=Alpha Server,O=Example";
    r.sans = "dns:alpha.example.com";
    r.entity_id = "ent-1";
    assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    r = cert_of("02", "issuing", 1000);
    r.subject = "CN=beta";
    r.sans = "dns:beta.example.org,ip:192.0.2.7";
    r.profile = "tls-client";
    assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    r = cert_of("03", "other-ca", 2000);
    r.subject = "CN=gamma";
    r.sans = "email:gamma@example.com";
    r.entity_id = "ent-1";
    assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    r = cert_of("00", "issuing", 2000); /* same expiry as 03: ordered by serial */
    r.subject = "CN=delta";
    r.sans = "dns:delta.example.net";
    assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    {
        struct store_tx *tx = begin(s);
        assert_int_equal(store_cert_set_status(tx, "a", "03", "revoked", 1500, 4, 0, 1000, &e), 0);
        commit(tx);
    }
    {
        struct cert_query q = {0};
        assert_search(s, "a", &q, "02,00,03,01"); /* not_after, then serial */
    }
    {
        struct cert_query q = {.serial = "03"};
        assert_search(s, "a", &q, "03");
    }
    {
        struct cert_query q = {.subject = "alpha SERVER"};
        assert_search(s, "a", &q, "01");
    }
    {
        struct cert_query q = {.san = "example.org"};
        assert_search(s, "a", &q, "02");
    }
    {
        struct cert_query q = {.san = "192.0.2.7"};
        assert_search(s, "a", &q, "02");
    }
    {
        struct cert_query q = {.status = "revoked"};
        assert_search(s, "a", &q, "03");
    }
    {
        struct cert_query q = {.status = "good"};
        assert_search(s, "a", &q, "02,00,01");
    }
    {
        struct cert_query q = {.ca = "other-ca"};
        assert_search(s, "a", &q, "03");
    }
    {
        struct cert_query q = {.entity_id = "ent-1"};
        assert_search(s, "a", &q, "03,01");
    }
    {
        struct cert_query q = {.profile = "tls-client"};
        assert_search(s, "a", &q, "02");
    }
    {
        struct cert_query q = {.expires_after = 2000};
        assert_search(s, "a", &q, "00,03,01"); /* at or after */
    }
    {
        struct cert_query q = {.expires_before = 2000};
        assert_search(s, "a", &q, "02"); /* strictly before */
    }
    {
        struct cert_query q = {.expires_after = 1001, .expires_before = 3000};
        assert_search(s, "a", &q, "00,03");
    }
    {
        struct cert_query q = {.ca = "issuing", .entity_id = "ent-1", .subject = "alpha"};
        assert_search(s, "a", &q, "01");
    }
    {
        struct cert_query q = {.ca = "issuing", .status = "revoked"};
        assert_search(s, "a", &q, "");
    }
    {
        /* Filter text is data, never SQL. */
        struct cert_query q = {.subject = "' OR 1=1 --", .serial = "01' OR '1'='1"};
        assert_search(s, "a", &q, "");
    }
    {
        struct cert_query q = {.limit = 2, .offset = 1};
        assert_search(s, "a", &q, "00,03");
    }
    store_close(s);
}

static void search_limit_defaults_to_100_and_stops_at_1000(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx = begin(s);
    struct cert_rec **list = NULL;
    struct err e;
    size_t n = 0;
    (void)state;
    for (int i = 0; i < 1005; i++) {
        char serial[16];
        struct cert_rec r;
        snprintf(serial, sizeof(serial), "%04x", i + 1);
        r = cert_of(serial, "issuing", 10000 + i);
        assert_int_equal(store_cert_insert(tx, "a", &r, &e), 0);
    }
    commit(tx);
    tx = begin_read(s);
    {
        struct cert_query q = {0};
        assert_int_equal(store_cert_search(tx, "a", &q, &list, &n, &e), 0);
        assert_int_equal(n, 100);
        assert_string_equal(list[0]->serial, "0001");
        cert_rec_list_free(list, n);
    }
    {
        struct cert_query q = {.limit = 5000};
        assert_int_equal(store_cert_search(tx, "a", &q, &list, &n, &e), 0);
        assert_int_equal(n, 1000);
        cert_rec_list_free(list, n);
    }
    {
        struct cert_query q = {.limit = 1000, .offset = 1000};
        assert_int_equal(store_cert_search(tx, "a", &q, &list, &n, &e), 0);
        assert_int_equal(n, 5);
        assert_string_equal(list[4]->serial, "03ed");
        cert_rec_list_free(list, n);
    }
    store_rollback(tx);
    store_close(s);
}

static void revoked_list_honours_the_expiry_cutoff(void **state)
{
    struct store *s = open_store();
    struct cert_rec **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n;
    (void)state;
    assert_int_equal(cert_put(s, "a", "01", 1000, &e), 0); /* revoked, expired before cutoff */
    assert_int_equal(cert_put(s, "a", "02", 2000, &e), 0); /* good */
    assert_int_equal(cert_put(s, "a", "03", 3000, &e), 0); /* on hold */
    assert_int_equal(cert_put(s, "a", "04", 1500, &e), 0); /* revoked, expires at the cutoff */
    {
        struct cert_rec r = cert_of("05", "other-ca", 3000); /* revoked, another CA */
        assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    }
    tx = begin(s);
    assert_int_equal(store_cert_set_status(tx, "a", "01", "revoked", 900, 1, 0, 1000, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "03", "hold", 900, 6, 0, 1000, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "04", "revoked", 900, 0, 0, 1000, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "05", "revoked", 900, 0, 0, 1000, &e), 0);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_cert_revoked(tx, "a", "issuing", 1500, &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->serial, "03");
    assert_string_equal(list[0]->status, "hold");
    assert_int_equal(list[0]->reason, 6);
    assert_string_equal(list[1]->serial, "04");
    cert_rec_list_free(list, n);
    assert_int_equal(store_cert_revoked(tx, "a", "issuing", 0, &list, &n, &e), 0);
    assert_int_equal(n, 3);
    cert_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

/* ---- CRLs ----------------------------------------------------------------- */
/* Collects what store_cert_crl_entries streams, as "serial:status" in serial order. */
static int collect_entry(void *arg, const struct crl_entry_rec *r, struct err *e)
{
    char **out = arg, *next = xasprintf("%s%s%s:%s", *out, **out ? "," : "", r->serial, r->status);
    (void)e;
    free(*out);
    *out = next;
    return 0;
}

static int stop_entry(void *arg, const struct crl_entry_rec *r, struct err *e)
{
    (void)arg;
    (void)r;
    return err_set(e, ERR_INTERNAL, "stopped");
}

static int serial_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of one scope, sorted ("" if none). */
static char *crl_entries(struct store *s, int shard, int64_t cutoff, int64_t since)
{
    struct store_tx *tx = begin_read(s);
    char *all = xstrdup(""), *parts[16], *save = NULL, *out = xstrdup("");
    struct err e;
    size_t n = 0;

    if (store_cert_crl_entries(tx, "a", "issuing", shard, cutoff, since, collect_entry, &all, &e) !=
        0)
        fail_msg("store_cert_crl_entries: %s", e.msg);
    store_rollback(tx);
    for (char *t = strtok_r(all, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
        parts[n++] = t;
    qsort(parts, n, sizeof(*parts), serial_cmp);
    for (size_t i = 0; i < n; i++) {
        char *next = xasprintf("%s%s%s", out, i ? "," : "", parts[i]);
        free(out);
        out = next;
    }
    free(all);
    return out;
}

static void crl_entries_follow_scope_cutoff_and_changes(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx;
    struct err e;
    char *got;
    (void)state;
    for (int i = 1; i <= 6; i++) {
        char serial[16];
        struct cert_rec r;
        snprintf(serial, sizeof(serial), "0%d", i);
        r = cert_of(serial, "issuing", i == 6 ? 1000 : 9000);
        r.crl_shard = 1 + i % 2;
        assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    }
    tx = begin(s);
    assert_int_equal(store_cert_set_status(tx, "a", "01", "revoked", 100, 1, 0, 100, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "02", "hold", 200, 6, 0, 200, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "03", "revoked", 300, 4, 0, 300, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "04", "good", 0, -1, 0, 400, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "06", "revoked", 300, 4, 0, 300, &e), 0);
    commit(tx);
    /* 06 expired before the cutoff; 04 was reinstated; 05 never changed. */
    got = crl_entries(s, 0, 5000, 0);
    assert_string_equal(got, "01:revoked,02:hold,03:revoked");
    free(got);
    got = crl_entries(s, 2, 5000, 0); /* odd serials are in shard 2 */
    assert_string_equal(got, "01:revoked,03:revoked");
    free(got);
    got = crl_entries(s, 0, 0, 0); /* no cutoff: the expired one too */
    assert_string_equal(got, "01:revoked,02:hold,03:revoked,06:revoked");
    free(got);
    got = crl_entries(s, 0, 5000, 200); /* a delta on a base of time 200 */
    assert_string_equal(got, "02:hold,03:revoked,04:good");
    free(got);
    got = crl_entries(s, 1, 5000, 200);
    assert_string_equal(got, "02:hold,04:good");
    free(got);
    tx = begin_read(s);
    assert_int_equal(store_cert_crl_entries(tx, "a", "issuing", 0, 0, 0, stop_entry, NULL, &e), -1);
    assert_string_equal(e.msg, "stopped");
    got = xstrdup("");
    assert_int_equal(store_cert_crl_entries(tx, "b", "issuing", 0, 0, 0, collect_entry, &got, &e),
                     0);
    assert_string_equal(got, ""); /* another tenant sees nothing */
    free(got);
    store_rollback(tx);
    store_close(s);
}

static void crl_scopes_have_their_own_latest(void **state)
{
    static unsigned char der1[] = {0x30, 0x00};
    struct store *s = open_store();
    struct crl_rec r = {.ca = "issuing",
                        .this_update = 1,
                        .next_update = 2,
                        .der = der1,
                        .der_len = sizeof(der1)},
                   *got = NULL;
    struct store_tx *tx = begin(s);
    struct err e;
    (void)state;
    struct {
        int shard;
        int64_t base, number;
    } rows[] = {{0, 0, 1}, {1, 0, 2}, {0, 1, 3}, {1, 2, 4}, {1, 0, 5}, {0, 0, 6}, {0, 6, 7}};
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        r.shard = rows[i].shard;
        r.delta_base = rows[i].base;
        r.number = rows[i].number;
        assert_int_equal(store_crl_insert(tx, "a", &r, &e), 0);
    }
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_crl_latest(tx, "a", "issuing", &got, &e), 0);
    assert_int_equal(got->number, 6);
    crl_rec_free(got);
    assert_int_equal(store_crl_latest_scope(tx, "a", "issuing", 0, 1, &got, &e), 0);
    assert_int_equal(got->number, 7);
    assert_int_equal(got->delta_base, 6);
    crl_rec_free(got);
    assert_int_equal(store_crl_latest_scope(tx, "a", "issuing", 1, 0, &got, &e), 0);
    assert_int_equal(got->number, 5);
    assert_int_equal(got->shard, 1);
    crl_rec_free(got);
    assert_int_equal(store_crl_latest_scope(tx, "a", "issuing", 1, 1, &got, &e), 0);
    assert_int_equal(got->number, 4);
    crl_rec_free(got);
    assert_int_equal(store_crl_latest_scope(tx, "a", "issuing", 2, 0, &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_crl_latest_scope(tx, "b", "issuing", 0, 0, &got, &e), -1);
    store_rollback(tx);
    /* Pruning keeps the newest of one scope and kind and touches no other. */
    tx = begin(s);
    assert_int_equal(store_crl_prune(tx, "a", "issuing", 0, 0, 1, &e), 0);
    assert_int_equal(store_crl_prune(tx, "a", "issuing", 1, 1, 5, &e), 0);
    assert_int_equal(store_crl_prune(tx, "b", "issuing", 1, 0, 1, &e), 0);
    commit(tx);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM crls WHERE tenant = 'a' AND shard = 0 "
                             "AND delta_base = 0"),
                     1);
    assert_int_equal(raw_int("SELECT number FROM crls WHERE tenant = 'a' AND shard = 0 "
                             "AND delta_base = 0"),
                     6);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM crls WHERE tenant = 'a'"), 6);
    store_close(s);
}

/* A file of schema 1 with revoked certificates and CRLs: the later steps keep them. */
static void crl_migration_keeps_existing_rows(void **state)
{
    struct store *s;
    struct store_tx *tx;
    struct crl_rec *crl = NULL;
    struct err e;
    char *got;
    (void)state;
    if (pg_url != NULL)
        skip(); /* the SQLite files of the first builds */
    /* Schema 1 only, versioned the way the first builds did (adopted, then migrated). */
    raw_exec(sqlite_migrations[0]);
    raw_exec("PRAGMA user_version = 1;"
             "INSERT INTO tenants (name, status, created) VALUES ('a', 'active', 1);"
             "INSERT INTO certs (tenant, serial, ca, profile, profile_version, status, not_before,"
             "  not_after, revoked_at, reason, invalidity_date, der, created) VALUES"
             "  ('a', '0a', 'issuing', 'p', 1, 'revoked', 1, 9000, 700, 1, 0, x'00', 1),"
             "  ('a', '0b', 'issuing', 'p', 1, 'good', 1, 9000, 0, -1, 0, x'00', 1);"
             "INSERT INTO crls (tenant, ca, number, this_update, next_update, der) VALUES"
             "  ('a', 'issuing', 4, 1, 2, x'3000');");
    s = open_store();
    assert_int_equal(store_schema_version(s), sqlite_migration_count);
    got = crl_entries(s, 0, 0, 0);
    assert_string_equal(got, "0a:revoked");
    free(got);
    got = crl_entries(s, 0, 0, 700); /* revoked before the migration: changed when revoked */
    assert_string_equal(got, "0a:revoked");
    free(got);
    tx = begin_read(s);
    assert_int_equal(store_crl_latest_scope(tx, "a", "issuing", 0, 0, &crl, &e), 0);
    assert_int_equal(crl->number, 4);
    assert_int_equal(crl->shard, 0);
    assert_int_equal(crl->delta_base, 0);
    crl_rec_free(crl);
    store_rollback(tx);
    store_close(s);
}

static void crl_numbers_strictly_increase_across_reopen(void **state)
{
    int64_t last = 0, num, other;
    struct err e;
    (void)state;
    for (int round = 0; round < 3; round++) {
        struct store *s = open_store();
        struct store_tx *tx;
        for (int i = 0; i < 3; i++) {
            tx = begin(s);
            assert_int_equal(store_crl_next_number(tx, "a", "issuing", &num, &e), 0);
            assert_int_equal(num, last + 1);
            last = num;
            commit(tx);
        }
        /* Counters are per (tenant, CA). */
        tx = begin(s);
        assert_int_equal(store_crl_next_number(tx, "b", "issuing", &other, &e), 0);
        assert_int_equal(other, round + 1);
        assert_int_equal(store_crl_next_number(tx, "a", "root", &other, &e), 0);
        assert_int_equal(other, round + 1);
        commit(tx);
        store_close(s);
    }
    assert_int_equal(last, 9);
}

static void crl_insert_and_latest(void **state)
{
    static unsigned char crl1[] = {0x30, 0x01, 0x01}, crl2[] = {0x30, 0x01, 0x02};
    struct store *s = open_store();
    struct crl_rec r = {.ca = "issuing", .this_update = 10, .next_update = 20}, *got = NULL;
    struct store_tx *tx = begin(s);
    struct err e;
    (void)state;
    assert_int_equal(store_crl_latest(tx, "a", "issuing", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_crl_next_number(tx, "a", "issuing", &r.number, &e), 0);
    r.der = crl1;
    r.der_len = sizeof(crl1);
    assert_int_equal(store_crl_insert(tx, "a", &r, &e), 0);
    assert_int_equal(store_crl_next_number(tx, "a", "issuing", &r.number, &e), 0);
    r.der = crl2;
    r.this_update = 15;
    r.next_update = 25;
    assert_int_equal(store_crl_insert(tx, "a", &r, &e), 0);
    assert_int_equal(store_crl_insert(tx, "a", &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_crl_latest(tx, "a", "issuing", &got, &e), 0);
    assert_int_equal(got->number, 2);
    assert_int_equal(got->this_update, 15);
    assert_int_equal(got->next_update, 25);
    assert_int_equal(got->der_len, sizeof(crl2));
    assert_memory_equal(got->der, crl2, sizeof(crl2));
    assert_string_equal(got->ca, "issuing");
    crl_rec_free(got);
    store_rollback(tx);
    /* Even with its counter row lost or set back, a CA's next number follows its highest
       stored CRL. */
    raw_exec("DELETE FROM crl_numbers");
    tx = begin(s);
    assert_int_equal(store_crl_next_number(tx, "a", "issuing", &r.number, &e), 0);
    assert_int_equal(r.number, 3);
    r.der = crl1;
    assert_int_equal(store_crl_insert(tx, "a", &r, &e), 0);
    commit(tx);
    raw_exec("UPDATE crl_numbers SET last = 1");
    tx = begin(s);
    assert_int_equal(store_crl_next_number(tx, "a", "issuing", &r.number, &e), 0);
    assert_int_equal(r.number, 4);
    commit(tx);
    store_close(s);
}

/* A client certificate finds its principal: fingerprint first, then issuer + subject, per tenant.
 */
static void a_client_certificate_maps_to_its_principal(void **state)
{
    struct store *s = open_store();
    struct principal_rec by_name = {.id = "prn-n",
                                    .name = "by-name",
                                    .kind = "application",
                                    .allow = "[]",
                                    .created = 1,
                                    .cert_issuer = "CN=Partner CA",
                                    .cert_subject = "CN=robot"},
                         by_sha = {.id = "prn-s",
                                   .name = "by-sha",
                                   .kind = "application",
                                   .allow = "[]",
                                   .created = 2,
                                   .cert_sha256 = "0123abcd"},
                         plain = {.id = "prn-p",
                                  .name = "plain",
                                  .kind = "user",
                                  .allow = "[]",
                                  .created = 0},
                         *got = NULL;
    struct store_tx *tx = begin(s);
    struct err e;

    (void)state;
    assert_int_equal(store_principal_insert(tx, "a", &plain, &e), 0);
    assert_int_equal(store_principal_insert(tx, "a", &by_name, &e), 0);
    assert_int_equal(store_principal_insert(tx, "a", &by_sha, &e), 0);
    commit(tx);
    tx = begin_read(s);
    /* issuer and subject */
    assert_int_equal(
        store_principal_by_cert(tx, "a", "ffff", "CN=Partner CA", "CN=robot", &got, &e), 0);
    assert_string_equal(got->id, "prn-n");
    principal_rec_free(got);
    /* the fingerprint wins over an older issuer + subject mapping */
    assert_int_equal(
        store_principal_by_cert(tx, "a", "0123abcd", "CN=Partner CA", "CN=robot", &got, &e), 0);
    assert_string_equal(got->id, "prn-s");
    principal_rec_free(got);
    /* the subject alone, another issuer, another tenant: none */
    assert_int_equal(store_principal_by_cert(tx, "a", "ffff", "CN=Other CA", "CN=robot", &got, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(
        store_principal_by_cert(tx, "b", "0123abcd", "CN=Partner CA", "CN=robot", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    store_rollback(tx);
    store_close(s);
}

/* ---- tokens --------------------------------------------------------------- */

static void principals_bindings_and_token_revocation_stay_in_their_tenant(void **state)
{
    struct store *s = open_store();
    struct principal_rec p = {.id = "prn-1",
                              .name = "alice",
                              .kind = "user",
                              .allow = "[]",
                              .created = 5,
                              .cert_sha256 = "ab"},
                         *got = NULL, **list = NULL;
    struct binding_rec b = {.principal_tenant = "a", .principal = "prn-1", .role = "auditor"},
                       sys = {.principal_tenant = "_system",
                              .principal = "prn-9",
                              .role = "auditor"},
                       **bl = NULL;
    struct token_rec t = token_of("tok-9", "vt_0000000000000009");
    struct store_tx *tx = begin(s);
    struct err e;
    size_t n = 0;

    (void)state;
    t.secret = "$argon2id$x";
    assert_int_equal(store_principal_insert(tx, "a", &p, &e), 0);
    assert_int_equal(store_principal_insert(tx, "a", &p, &e), -1); /* same name */
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_principal_insert(tx, "b", &p, &e), 0); /* another tenant: fine */
    assert_int_equal(store_binding_insert(tx, "a", &b, &e), 0);
    assert_int_equal(store_binding_insert(tx, "a", &b, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_binding_insert(tx, "a", &sys, &e), 0);
    assert_int_equal(store_token_insert(tx, "a", &t, &e), 0);
    commit(tx);
    tx = begin(s);
    assert_int_equal(store_principal_set_disabled(tx, "a", "prn-1", 1, &e), 0);
    assert_int_equal(store_principal_set_disabled(tx, "c", "prn-1", 1, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_token_revoke(tx, "b", "tok-9", 50, &e), -1); /* not b's */
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_token_revoke(tx, "a", "tok-9", 50, &e), 0);
    assert_int_equal(store_token_revoke(tx, "a", "tok-9", 51, &e), -1); /* once */
    b.role = "requester";
    assert_int_equal(store_binding_delete(tx, "a", &b, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_principal_get(tx, "a", "prn-1", &got, &e), 0);
    assert_true(got->disabled);
    assert_string_equal(got->allow, "[]");
    assert_string_equal(got->cert_sha256, "ab");
    assert_null(got->cert_issuer);
    principal_rec_free(got);
    assert_int_equal(store_principal_get(tx, "b", "prn-1", &got, &e), 0);
    assert_false(got->disabled);
    principal_rec_free(got);
    assert_int_equal(store_principal_list(tx, "c", &list, &n, &e), 0);
    assert_int_equal(n, 0);
    principal_rec_list_free(list, n);
    assert_int_equal(store_binding_list(tx, "a", "a", "prn-1", &bl, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(bl[0]->role, "auditor");
    binding_rec_list_free(bl, n);
    assert_int_equal(store_binding_list(tx, "b", "a", "prn-1", &bl, &n, &e), 0);
    assert_int_equal(n, 0);
    binding_rec_list_free(bl, n);
    assert_int_equal(store_binding_list(tx, "a", NULL, NULL, &bl, &n, &e), 0);
    assert_int_equal(n, 2);
    binding_rec_list_free(bl, n);
    {
        struct client_ca_rec ca = {.name = "partner",
                                   .cert = (unsigned char *)"\x30\x00",
                                   .cert_len = 2,
                                   .created = 3},
                             **cas = NULL;
        struct store_tx *w = begin(s);
        assert_int_equal(store_client_ca_insert(w, "a", &ca, &e), 0);
        assert_int_equal(store_client_ca_insert(w, "a", &ca, &e), -1);
        assert_int_equal(e.kind, ERR_CONFLICT);
        commit(w);
        w = begin(s);
        assert_int_equal(store_client_ca_delete(w, "b", "partner", &e), -1);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
        commit(w);
        w = begin_read(s);
        assert_int_equal(store_client_ca_list(w, "b", &cas, &n, &e), 0);
        assert_int_equal(n, 0);
        client_ca_rec_list_free(cas, n);
        assert_int_equal(store_client_ca_list(w, "a", &cas, &n, &e), 0);
        assert_int_equal(n, 1);
        assert_null(cas[0]->ca);
        assert_int_equal(cas[0]->cert_len, 2);
        client_ca_rec_list_free(cas, n);
        store_rollback(w);
    }
    {
        struct token_rec *tok = NULL;
        assert_int_equal(store_token_find(tx, "vt_0000000000000009", &tok, &e), 0);
        assert_int_equal(tok->revoked, 50);
        assert_string_equal(tok->secret, "$argon2id$x");
        assert_string_equal(tok->principal, "tok-9");
        token_rec_free(tok);
    }
    store_rollback(tx);
    store_close(s);
}

static void tokens_insert_find_list_and_delete(void **state)
{
    struct store *s = open_store();
    struct token_rec t1 = token_of("tok-1", "aa11"), t2 = token_of("tok-2", "bb22");
    struct token_rec t3 = token_of("tok-3", "cc33"), *got = NULL, **list = NULL;
    struct store_tx *tx = begin(s);
    struct err e;
    size_t n = 0;
    (void)state;
    t2.created = 78;
    t3.role = "system";
    assert_int_equal(store_token_insert(tx, "a", &t1, &e), 0);
    assert_int_equal(store_token_insert(tx, "a", &t2, &e), 0);
    assert_int_equal(store_token_insert(tx, "_system", &t3, &e), 0);
    {
        /* A hash is unique across tenants; the message does not repeat it. */
        struct token_rec dup = token_of("tok-4", "aa11");
        assert_int_equal(store_token_insert(tx, "b", &dup, &e), -1);
        assert_int_equal(e.kind, ERR_CONFLICT);
        assert_null(strstr(e.msg, "aa11"));
    }
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_token_find(tx, "cc33", &got, &e), 0);
    assert_string_equal(got->tenant, "_system");
    assert_string_equal(got->id, "tok-3");
    assert_string_equal(got->role, "system");
    token_rec_free(got);
    assert_int_equal(store_token_find(tx, "bb22", &got, &e), 0);
    assert_string_equal(got->tenant, "a");
    assert_string_equal(got->name, "ci");
    assert_int_equal(got->created, 78);
    token_rec_free(got);
    got = NULL;
    assert_int_equal(store_token_find(tx, "dd44", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(got);
    assert_int_equal(store_token_list(tx, "a", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->id, "tok-1");
    assert_string_equal(list[1]->id, "tok-2");
    for (size_t i = 0; i < n; i++)
        token_rec_free(list[i]);
    free(list);
    store_rollback(tx);

    tx = begin(s);
    assert_int_equal(store_token_delete(tx, "a", "tok-1", &e), 0);
    assert_int_equal(store_token_delete(tx, "a", "tok-1", &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_token_find(tx, "aa11", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_token_list(tx, "a", &list, &n, &e), 0);
    assert_int_equal(n, 1);
    token_rec_free(list[0]);
    free(list);
    store_rollback(tx);
    store_close(s);
}

/* ---- isolation and transactions ------------------------------------------- */

/* Fills tenant t with one of everything. */
static void populate(struct store *s, const char *t)
{
    struct store_tx *tx = begin(s);
    struct ca_rec ca = ca_of("root");
    struct entity_rec ent = entity_of("ent-1", "Alice", "user", "alice@example.com");
    struct cert_rec cert = cert_of("beef", "root", 5000);
    struct token_rec tok = token_of("tok-1", t[0] == 'a' ? "hash-a" : "hash-other");
    struct audit_rec ar = {.seq = 1,
                           .time = 1,
                           .actor = "system",
                           .action = "ca.create",
                           .object = "root",
                           .result = "ok",
                           .detail = "{}",
                           .prev_hash = "00",
                           .hash = "11"};
    struct crl_rec crl = {.ca = "root", .number = 1, .der = der, .der_len = sizeof(der)};
    struct err e;
    int v;
    cert.entity_id = "ent-1";
    cert.counted = 1;
    assert_int_equal(store_tenant_create(tx, t, &e), 0);
    assert_int_equal(store_ca_insert(tx, t, &ca, &e), 0);
    assert_int_equal(store_profile_put(tx, t, "web", "{}", &v, &e), 0);
    assert_int_equal(store_entity_insert(tx, t, &ent, &e), 0);
    assert_int_equal(store_cert_insert(tx, t, &cert, &e), 0);
    assert_int_equal(store_cert_set_status(tx, t, "beef", "revoked", 10, 1, 0, 1000, &e), 0);
    assert_int_equal(store_crl_insert(tx, t, &crl, &e), 0);
    assert_int_equal(store_token_insert(tx, t, &tok, &e), 0);
    assert_int_equal(store_audit_insert(tx, t, &ar, &e), 0);
    commit(tx);
}

/* Every read of tenant t finds nothing (404 or an empty list). */
static void assert_tenant_sees_nothing(struct store *s, const char *t)
{
    struct store_tx *tx = begin_read(s);
    struct ca_rec *ca = NULL, **cas = NULL;
    struct profile_rec *p = NULL, **ps = NULL;
    struct entity_rec *ent = NULL, **ents = NULL;
    struct cert_rec *cert = NULL, **certs = NULL;
    struct crl_rec *crl = NULL;
    struct token_rec **toks = NULL;
    struct audit_rec *ar = NULL, **ars = NULL;
    struct entity_query eq = {0};
    struct cert_query cq = {0};
    struct err e;
    size_t n;
    assert_int_equal(store_ca_get(tx, t, "root", &ca, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_profile_get(tx, t, "web", 0, &p, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_profile_get(tx, t, "web", 1, &p, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_entity_get(tx, t, "ent-1", &ent, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_cert_get(tx, t, "beef", &cert, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_crl_latest(tx, t, "root", &crl, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_audit_last(tx, t, &ar, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_true(ca == NULL && p == NULL && ent == NULL && cert == NULL && crl == NULL &&
                ar == NULL);
    n = 9;
    assert_int_equal(store_ca_list(tx, t, &cas, &n, &e), 0);
    assert_int_equal(n, 0);
    free(cas);
    n = 9;
    assert_int_equal(store_profile_list(tx, t, &ps, &n, &e), 0);
    assert_int_equal(n, 0);
    free(ps);
    n = 9;
    assert_int_equal(store_entity_search(tx, t, &eq, &ents, &n, &e), 0);
    assert_int_equal(n, 0);
    free(ents);
    n = 9;
    assert_int_equal(store_cert_search(tx, t, &cq, &certs, &n, &e), 0);
    assert_int_equal(n, 0);
    free(certs);
    n = 9;
    assert_int_equal(store_cert_revoked(tx, t, "root", 0, &certs, &n, &e), 0);
    assert_int_equal(n, 0);
    free(certs);
    n = 9;
    assert_int_equal(store_token_list(tx, t, &toks, &n, &e), 0);
    assert_int_equal(n, 0);
    free(toks);
    n = 9;
    assert_int_equal(store_audit_list(tx, t, 0, 0, &ars, &n, &e), 0);
    assert_int_equal(n, 0);
    free(ars);
    store_rollback(tx);
}

static void another_tenant_sees_and_changes_nothing(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx;
    struct ca_rec ca = ca_of("root");
    struct entity_rec ent = entity_of("ent-1", "Mallory", "user", NULL);
    struct cert_rec *cert = NULL;
    struct err e;
    int64_t num = 0;
    (void)state;
    populate(s, "a");
    tenant_make(s, "b");
    assert_tenant_sees_nothing(s, "b");
    assert_tenant_sees_nothing(s, "c"); /* not even a tenant */

    /* Writes of b cannot reach a's rows. */
    ca.status = "disabled";
    tx = begin(s);
    assert_int_equal(store_ca_update(tx, "b", &ca, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_entity_update(tx, "b", &ent, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_cert_set_status(tx, "b", "beef", "good", 0, -1, 0, 1000, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_token_delete(tx, "b", "tok-1", &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_crl_next_number(tx, "b", "root", &num, &e), 0);
    assert_int_equal(num, 1);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_cert_get(tx, "a", "beef", &cert, &e), 0);
    assert_string_equal(cert->status, "revoked");
    cert_rec_free(cert);
    store_rollback(tx);
    /* And a second full tenant still sees only its own rows. */
    populate(s, "b2");
    tx = begin_read(s);
    {
        struct token_rec *tok = NULL;
        assert_int_equal(store_token_find(tx, "hash-a", &tok, &e), 0);
        assert_string_equal(tok->tenant, "a");
        token_rec_free(tok);
    }
    store_rollback(tx);
    store_close(s);
}

static void rollback_leaves_nothing(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx;
    struct tenant_rec **list = NULL;
    struct err e;
    int64_t num = 0;
    size_t n = 9;
    (void)state;
    populate(s, "a");
    tx = begin(s);
    {
        struct cert_rec r = cert_of("cafe", "root", 1);
        assert_int_equal(store_tenant_create(tx, "x", &e), 0);
        assert_int_equal(store_cert_insert(tx, "a", &r, &e), 0);
        assert_int_equal(store_cert_set_status(tx, "a", "beef", "good", 0, -1, 0, 1000, &e), 0);
        assert_int_equal(store_token_delete(tx, "a", "tok-1", &e), 0);
    }
    store_rollback(tx);
    store_rollback(NULL); /* accepted */
    populate(s, "x");     /* tenant x does not exist, so it can be created */
    tx = begin_read(s);
    {
        struct cert_rec *c = NULL;
        struct token_rec *tok = NULL;
        assert_int_equal(store_cert_get(tx, "a", "cafe", &c, &e), -1);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
        assert_int_equal(store_cert_get(tx, "a", "beef", &c, &e), 0);
        assert_string_equal(c->status, "revoked");
        cert_rec_free(c);
        assert_int_equal(store_token_find(tx, "hash-a", &tok, &e), 0);
        token_rec_free(tok);
    }
    assert_int_equal(store_tenant_list(tx, &list, &n, &e), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        tenant_rec_free(list[i]);
    free(list);
    store_rollback(tx);
    /* A rolled-back CRL number is taken again by the next commit: it was never used.  (CRL 1
       of root is stored, so the numbers go on from 2.) */
    tx = begin(s);
    assert_int_equal(store_crl_next_number(tx, "a", "root", &num, &e), 0);
    assert_int_equal(num, 2);
    store_rollback(tx);
    tx = begin(s);
    assert_int_equal(store_crl_next_number(tx, "a", "root", &num, &e), 0);
    assert_int_equal(num, 2);
    commit(tx);
    store_close(s);
}

static void savepoint_rollback_keeps_the_rest_of_the_transaction(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx;
    struct cert_rec *c = NULL;
    struct cert_rec r1 = cert_of("a1", "issuing", 10), r2 = cert_of("a2", "issuing", 10);
    struct err e;
    (void)state;
    tx = begin(s);
    assert_int_equal(store_savepoint_release(tx, &e), -1); /* none set */
    assert_int_equal(store_savepoint(tx, &e), 0);
    assert_int_equal(store_cert_insert(tx, "a", &r1, &e), 0);
    assert_int_equal(store_savepoint_release(tx, &e), 0);
    assert_int_equal(store_savepoint(tx, &e), 0);
    assert_int_equal(store_cert_insert(tx, "a", &r2, &e), 0);
    assert_int_equal(store_savepoint_rollback(tx, &e), 0);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_cert_get(tx, "a", "a1", &c, &e), 0);
    cert_rec_free(c);
    assert_int_equal(store_cert_get(tx, "a", "a2", &c, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    store_rollback(tx);
    store_close(s);
}

static void a_read_transaction_sees_one_snapshot(void **state)
{
    struct store *s = open_store();
    struct store_tx *rd;
    struct cert_query q = {0};
    struct cert_rec **list = NULL;
    struct err e;
    size_t n = 0;
    (void)state;
    assert_int_equal(cert_put(s, "a", "01", 10, &e), 0);
    rd = begin_read(s);
    assert_int_equal(store_cert_search(rd, "a", &q, &list, &n, &e), 0);
    assert_int_equal(n, 1);
    cert_rec_list_free(list, n);
    /* A writer is not blocked by the reader, and the reader does not see its commit. */
    assert_int_equal(cert_put(s, "a", "02", 10, &e), 0);
    assert_int_equal(store_cert_search(rd, "a", &q, &list, &n, &e), 0);
    assert_int_equal(n, 1);
    cert_rec_list_free(list, n);
    store_rollback(rd);
    assert_search(s, "a", &q, "01,02");
    store_close(s);
}

/* ---- threads --------------------------------------------------------------- */

struct writer_arg {
    struct store *s;
    int id;
    int failures;
    struct err last;
    int64_t numbers[50];
};

/* One write transaction that reads before it writes, as issuance and audit_append do. */
static int write_one(struct writer_arg *a, int i)
{
    struct store_tx *tx = store_begin(a->s, &a->last);
    struct cert_rec *c = NULL;
    struct cert_rec r;
    char serial[32];
    if (tx == NULL)
        return -1;
    snprintf(serial, sizeof(serial), "%x%03x", a->id + 1, i);
    r = cert_of(serial, "issuing", 100 + i);
    if (store_cert_get(tx, "a", serial, &c, &a->last) != -1 || a->last.kind != ERR_NOT_FOUND ||
        store_cert_insert(tx, "a", &r, &a->last) != 0 ||
        store_crl_next_number(tx, "a", "issuing", &a->numbers[i], &a->last) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, &a->last);
}

static void *writer_thread(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < 50; i++)
        if (write_one(a, i) != 0)
            a->failures++;
    return NULL;
}

static void concurrent_writers_all_succeed(void **state)
{
    struct store *s = open_store();
    struct writer_arg args[4];
    pthread_t t[4];
    struct store_tx *tx;
    struct cert_query q = {.limit = 1000};
    struct cert_rec **list = NULL;
    struct err e;
    size_t n = 0;
    char seen[201] = {0};
    (void)state;
    for (int i = 0; i < 4; i++) {
        args[i] = (struct writer_arg){.s = s, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (args[i].failures != 0)
            fail_msg("writer %d: %d failures, last: %s", i, args[i].failures, args[i].last.msg);
    }
    tx = begin_read(s);
    assert_int_equal(store_cert_search(tx, "a", &q, &list, &n, &e), 0);
    assert_int_equal(n, 200);
    cert_rec_list_free(list, n);
    store_rollback(tx);
    /* The 200 CRL numbers taken concurrently are 1..200, each once. */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 50; j++) {
            int64_t num = args[i].numbers[j];
            assert_true(num >= 1 && num <= 200);
            assert_int_equal(seen[num], 0);
            seen[num] = 1;
        }
    store_close(s);
}

struct third_begin {
    struct store *s;
    struct store_tx *tx;
    atomic_int done;
};

static void *third_begin(void *p)
{
    struct third_begin *t = p;
    struct err e;

    t->tx = store_begin_read(t->s, &e);
    atomic_store(&t->done, 1);
    return NULL;
}

/* With a limit of 2 connections, a third transaction waits until one of two ends. */
static void a_third_transaction_waits_for_one_of_two_connections(void **state)
{
    struct store *s = open_store();
    struct third_begin t = {.s = s};
    struct store_tx *a, *b;
    pthread_t th;
    (void)state;
    store_set_max_connections(s, 2);
    a = begin_read(s);
    b = begin(s);
    assert_int_equal(pthread_create(&th, NULL, third_begin, &t), 0);
    usleep(300 * 1000);
    assert_int_equal(atomic_load(&t.done), 0); /* still waiting */
    store_rollback(a);
    pthread_join(th, NULL);
    assert_non_null(t.tx);
    store_rollback(t.tx);
    store_rollback(b);
    store_close(s);
}

#define MANY_THREADS 80 /* more than the pool's connections */

static pthread_barrier_t all_started;

static void *reader_thread(void *p)
{
    struct store *s = p;
    struct store_tx *tx;
    struct cert_rec *c = NULL;
    struct err e;
    long bad = 0;
    pthread_barrier_wait(&all_started);
    for (int i = 0; i < 3; i++) {
        if ((tx = store_begin_read(s, &e)) == NULL) {
            bad++;
            continue;
        }
        if (store_cert_get(tx, "a", "01", &c, &e) != 0)
            bad++;
        cert_rec_free(c);
        c = NULL;
        usleep(2000); /* hold the connection a while */
        store_rollback(tx);
    }
    return (void *)bad;
}

static void more_threads_than_connections_wait_their_turn(void **state)
{
    struct store *s = open_store();
    pthread_t t[MANY_THREADS];
    struct err e;
    void *bad;
    (void)state;
    assert_int_equal(cert_put(s, "a", "01", 10, &e), 0);
    pthread_barrier_init(&all_started, NULL, MANY_THREADS);
    for (int i = 0; i < MANY_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader_thread, s), 0);
    for (int i = 0; i < MANY_THREADS; i++) {
        pthread_join(t[i], &bad);
        assert_int_equal((long)bad, 0);
    }
    pthread_barrier_destroy(&all_started);
    store_close(s);
}

/* ---- OCSP ----------------------------------------------------------------- */

static void ocsp_response_rows_follow_certificates_and_their_status(void **state)
{
    struct store *s = open_store();
    struct cert_rec r = cert_of("7f31", "issuing", 9000), *c = NULL, **due = NULL;
    struct ocsp_resp_rec *o = NULL, put = {0};
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    assert_int_equal(cert_put_rec(s, "a", &r, &e), 0);
    /* A new certificate has a row without a response, due at once. */
    tx = begin_read(s);
    assert_int_equal(store_ocsp_get(tx, "a", "7f31", &o, &e), 0);
    assert_null(o->der);
    assert_int_equal(o->refresh_at, 0);
    assert_string_equal(o->ca, "issuing");
    ocsp_resp_rec_free(o);
    assert_int_equal(store_ocsp_get(tx, "b", "7f31", &o, &e), -1); /* another tenant's */
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_ocsp_due(tx, "a", "issuing", 10, 100, &due, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(due[0]->serial, "7f31");
    assert_string_equal(due[0]->status, "good");
    cert_rec_list_free(due, n);
    assert_int_equal(store_cert_get(tx, "a", "7f31", &c, &e), 0);
    store_rollback(tx);
    /* Stored while the status is the one it was made from. */
    put.serial = "7f31";
    put.refresh_at = 500;
    put.this_update = 100;
    put.next_update = 900;
    put.der = der;
    put.der_len = sizeof(der);
    tx = begin(s);
    assert_int_equal(store_ocsp_put(tx, "a", &put, c, &e), 0);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_ocsp_due(tx, "a", "issuing", 499, 100, &due, &n, &e), 0);
    assert_int_equal(n, 0);
    free(due);
    assert_int_equal(store_ocsp_get(tx, "a", "7f31", &o, &e), 0);
    assert_int_equal(o->der_len, sizeof(der));
    assert_int_equal(o->next_update, 900);
    ocsp_resp_rec_free(o);
    store_rollback(tx);
    /* A status change drops it in the same statement ... */
    tx = begin(s);
    assert_int_equal(store_cert_set_status(tx, "a", "7f31", "revoked", 2000, 1, 0, 2000, &e), 0);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_ocsp_get(tx, "a", "7f31", &o, &e), 0);
    assert_null(o->der);
    assert_int_equal(o->refresh_at, 0);
    ocsp_resp_rec_free(o);
    store_rollback(tx);
    /* ... and a response made from the old status is not stored any more. */
    tx = begin(s);
    assert_int_equal(store_ocsp_put(tx, "a", &put, c, &e), 1);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_ocsp_get(tx, "a", "7f31", &o, &e), 0);
    assert_null(o->der);
    ocsp_resp_rec_free(o);
    store_rollback(tx);
    cert_rec_free(c);
    store_close(s);
}

static void ocsp_responder_put_replaces(void **state)
{
    struct store *s = open_store();
    struct ocsp_responder_rec r = {0}, *got = NULL;
    struct store_tx *tx;
    struct err e;
    (void)state;
    r.ca = "issuing";
    r.key_id = "key-0123456789abcdef";
    r.key_type = "ec-p256";
    r.serial = "7f41";
    r.cert_der = der;
    r.cert_len = sizeof(der);
    r.not_after = 5000;
    r.created = 1000;
    tx = begin(s);
    assert_int_equal(store_ocsp_responder_put(tx, "a", &r, &e), 0);
    r.serial = "7f42";
    assert_int_equal(store_ocsp_responder_put(tx, "a", &r, &e), 0);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_ocsp_responder_get(tx, "a", "issuing", &got, &e), 0);
    assert_string_equal(got->serial, "7f42");
    assert_string_equal(got->key_id, "key-0123456789abcdef");
    ocsp_responder_rec_free(got);
    assert_int_equal(store_ocsp_responder_get(tx, "b", "issuing", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    store_rollback(tx);
    store_close(s);
}

/* ---- time-stamping ------------------------------------------------------------ */

static struct tsa_unit_rec unit_of(const char *name)
{
    static unsigned char cert[] = {0x30, 0x00}, chain[] = {0x30, 0x01, 0x00};
    struct tsa_unit_rec r = {
        .name = (char *)name,
        .ca = "issuing",
        .key_id = "k1",
        .key_type = "ec-p256",
        .status = "active",
        .cert_serial = "c1",
        .cert_der = cert,
        .cert_len = sizeof(cert),
        .chain_der = chain,
        .chain_len = sizeof(chain),
        .policy = "1.2.3",
        .policies_json = "[\"1.2.3\"]",
        .hashes_json = "[\"sha256\"]",
        .accuracy_ms = 1500,
        .include_chain = 1,
        .created = 77,
    };
    return r;
}

static int token_put(struct store *s, const char *tenant, const char *serial, int64_t t,
                     const char *imprint, struct err *e)
{
    static unsigned char token[] = {0x30, 0x02, 0x05, 0x00};
    struct tsa_token_rec r = {
        .unit = "ts",
        .serial = (char *)serial,
        .gen_time = "20261129120000.5Z",
        .time = t,
        .policy = "1.2.3",
        .hash_alg = "sha256",
        .imprint = (char *)imprint,
        .requester = "192.0.2.1",
        .der = token,
        .der_len = sizeof(token),
    };
    struct store_tx *tx = begin(s);
    int rc = store_tsa_token_insert(tx, tenant, &r, e);

    if (rc == 0)
        commit(tx);
    else
        store_rollback(tx);
    return rc;
}

static void tsa_units_round_trip_per_tenant(void **state)
{
    struct store *s = open_store();
    struct tsa_unit_rec r = unit_of("ts"), *got = NULL, **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tx = begin(s);
    assert_int_equal(store_tsa_unit_insert(tx, "a", &r, &e), 0);
    assert_int_equal(store_tsa_unit_insert(tx, "a", &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_tsa_unit_get(tx, "a", "ts", &got, &e), 0);
    assert_string_equal(got->tenant, "a");
    assert_string_equal(got->hashes_json, "[\"sha256\"]");
    assert_int_equal(got->chain_len, 3);
    assert_int_equal(got->accuracy_ms, 1500);
    assert_int_equal(got->include_chain, 1);
    assert_int_equal(store_tsa_unit_get(tx, "b", "ts", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_tsa_unit_list(tx, "a", &list, &n, &e), 0);
    assert_int_equal(n, 1);
    tsa_unit_rec_list_free(list, n);
    assert_int_equal(store_tsa_unit_list(tx, "b", &list, &n, &e), 0);
    assert_int_equal(n, 0);
    tsa_unit_rec_list_free(list, n);
    store_rollback(tx);
    tsa_unit_rec_free(got);
    store_close(s);
}

static void tsa_tokens_are_unique_per_unit_and_searchable(void **state)
{
    struct store *s = open_store();
    struct tsa_token_query q = {0};
    struct tsa_token_rec *got = NULL, **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    assert_int_equal(token_put(s, "a", "01", 100, "aa", &e), 0);
    assert_int_equal(token_put(s, "a", "02", 200, "bb", &e), 0);
    assert_int_equal(token_put(s, "a", "03", 300, "aa", &e), 0);
    assert_int_equal(token_put(s, "a", "02", 400, "cc", &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(token_put(s, "b", "02", 400, "cc", &e), 0); /* another tenant */
    tx = begin_read(s);
    assert_int_equal(store_tsa_token_get(tx, "a", "ts", "02", &got, &e), 0);
    assert_string_equal(got->imprint, "bb");
    assert_null(got->nonce);
    assert_int_equal(got->der_len, 4);
    tsa_token_rec_free(got);
    assert_int_equal(store_tsa_token_get(tx, "a", "other", "02", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    q.imprint = "aa";
    assert_int_equal(store_tsa_token_search(tx, "a", "ts", &q, &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->serial, "03"); /* newest first */
    tsa_token_rec_list_free(list, n);
    q.imprint = NULL;
    q.after = 150;
    q.before = 300;
    assert_int_equal(store_tsa_token_search(tx, "a", "ts", &q, &list, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->serial, "02");
    tsa_token_rec_list_free(list, n);
    memset(&q, 0, sizeof(q));
    assert_int_equal(store_tsa_token_search(tx, "b", "ts", &q, &list, &n, &e), 0);
    assert_int_equal(n, 1);
    tsa_token_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

/* ---- tenant lifecycle ---------------------------------------------------------- */

static void a_tenant_is_updated_counted_and_purged_alone(void **state)
{
    struct store *s = open_store();
    struct tenant_rec upd = {.status = "deleted",
                             .status_reason = "contract ended",
                             .deleted_at = 100,
                             .purge_after = 200,
                             .certs_per_hour = 50,
                             .requests_per_second = 7};
    struct tenant_rec *t = NULL;
    struct cert_rec *c = NULL;
    struct store_tx *tx;
    int64_t n = -1;
    struct err e;
    (void)state;
    populate(s, "a");
    populate(s, "b");
    tx = begin(s);
    assert_int_equal(store_tenant_update(tx, "a", &upd, &e), 0);
    assert_int_equal(store_tenant_update(tx, "nope", &upd, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_tenant_get(tx, "a", &t, &e), 0);
    assert_string_equal(t->status, "deleted");
    assert_string_equal(t->status_reason, "contract ended");
    assert_true(t->deleted_at == 100 && t->purge_after == 200);
    assert_true(t->certs_per_hour == 50 && t->requests_per_second == 7);
    tenant_rec_free(t);
    assert_int_equal(store_tenant_get(tx, "b", &t, &e), 0);
    assert_string_equal(t->status, "active");
    assert_null(t->status_reason);
    assert_true(t->certs_per_hour == 0 && t->requests_per_second == 0);
    tenant_rec_free(t);
    /* populate's certificate was created at 1000 */
    assert_int_equal(store_cert_count_since(tx, "a", 1000, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_cert_count_since(tx, "a", 1001, &n, &e), 0);
    assert_int_equal(n, 0);
    store_rollback(tx);

    tx = begin(s);
    assert_int_equal(store_tenant_purge(tx, "a", &e), 0);
    commit(tx);
    assert_tenant_sees_nothing(s, "a");
    tx = begin_read(s);
    assert_int_equal(store_tenant_get(tx, "a", &t, &e), 0); /* the name stays taken */
    tenant_rec_free(t);
    assert_int_equal(store_cert_get(tx, "b", "beef", &c, &e), 0); /* b keeps everything */
    cert_rec_free(c);
    assert_int_equal(store_cert_count_since(tx, "b", 0, &n, &e), 0);
    assert_int_equal(n, 1);
    store_rollback(tx);
    store_close(s);
}

/* ---- registration authority ----------------------------------------------------- */

static void workflows_requests_and_webhook_events_round_trip_per_tenant(void **state)
{
    struct store *s = open_store();
    struct workflow_rec wf = {.name = "profile:tls-server",
                              .required = 2,
                              .approvers = "[\"p1\",\"p2\",\"p3\"]",
                              .expires_hours = 24,
                              .created = 5};
    struct request_rec rq = {.id = "req-1",
                             .kind = "cert.issue",
                             .object = "tls-server",
                             .params = "{}",
                             .requester = "p9",
                             .status = "pending",
                             .required = 2,
                             .approvals = "[]",
                             .created = 100,
                             .expires = 200};
    struct webhook_rec wh = {.url = "http://127.0.0.1:1/hook", .secret = "s3cret", .created = 1};
    struct webhook_event_rec ev = {.id = "ev-1",
                                   .event = "request.pending",
                                   .body = "{}",
                                   .next_attempt = 50,
                                   .status = "pending",
                                   .created = 10};
    struct workflow_rec *w = NULL, **ws = NULL;
    struct request_rec *r = NULL, **rs = NULL;
    struct webhook_rec *h = NULL;
    struct webhook_event_rec **evs = NULL;
    struct store_tx *tx;
    int64_t expired = -1, count = -1;
    size_t n = 9;
    struct err e;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = begin(s);
    assert_int_equal(store_workflow_put(tx, "a", &wf, &e), 0);
    wf.required = 3; /* replaced */
    assert_int_equal(store_workflow_put(tx, "a", &wf, &e), 0);
    assert_int_equal(store_request_insert(tx, "a", &rq, &e), 0);
    assert_int_equal(store_request_insert(tx, "a", &rq, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    rq.id = "req-2";
    rq.created = 300;
    rq.expires = 400;
    rq.requester = "p8";
    assert_int_equal(store_request_insert(tx, "a", &rq, &e), 0);
    assert_int_equal(store_webhook_put(tx, "a", &wh, &e), 0);
    assert_int_equal(store_webhook_event_insert(tx, "a", &ev, &e), 0);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_workflow_get(tx, "a", "profile:tls-server", &w, &e), 0);
    assert_int_equal(w->required, 3);
    assert_string_equal(w->approvers, "[\"p1\",\"p2\",\"p3\"]");
    workflow_rec_free(w);
    assert_int_equal(store_workflow_get(tx, "b", "profile:tls-server", &w, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_workflow_list(tx, "b", &ws, &n, &e), 0);
    assert_int_equal(n, 0);
    free(ws);
    assert_int_equal(store_request_list(tx, "a", NULL, NULL, 0, 0, &rs, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rs[0]->id, "req-2"); /* newest first */
    request_rec_list_free(rs, n);
    assert_int_equal(store_request_list(tx, "a", "pending", "p9", 0, 0, &rs, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rs[0]->id, "req-1");
    request_rec_list_free(rs, n);
    assert_int_equal(store_request_get(tx, "b", "req-1", &r, &e), -1);
    assert_int_equal(store_webhook_get(tx, "b", &h, &e), -1);
    assert_int_equal(store_webhook_get(tx, "a", &h, &e), 0);
    assert_string_equal(h->secret, "s3cret");
    webhook_rec_free(h);
    assert_int_equal(store_webhook_event_due(tx, "a", 49, 10, &evs, &n, &e), 0);
    assert_int_equal(n, 0);
    free(evs);
    assert_int_equal(store_webhook_event_due(tx, "b", 50, 10, &evs, &n, &e), 0);
    assert_int_equal(n, 0);
    free(evs);
    assert_int_equal(store_webhook_event_due(tx, "a", 50, 10, &evs, &n, &e), 0);
    assert_int_equal(n, 1);
    webhook_event_rec_list_free(evs, n);
    /* the gauges of /metrics: the approval queue and the webhook backlog, per tenant */
    assert_int_equal(store_request_count(tx, "a", "pending", &count, &e), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_request_count(tx, "a", "done", &count, &e), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_request_count(tx, "b", "pending", &count, &e), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_webhook_event_count(tx, "a", &count, &e), 0);
    assert_int_equal(count, 1); /* pending, due or not */
    assert_int_equal(store_webhook_event_count(tx, "b", &count, &e), 0);
    assert_int_equal(count, 0);
    store_rollback(tx);

    tx = begin(s);
    assert_int_equal(store_request_get(tx, "a", "req-1", &r, &e), 0);
    free(r->status);
    r->status = xstrdup("done");
    free(r->approvals);
    r->approvals = xstrdup("[{\"by\":\"p1\"}]");
    r->result = xstrdup("{\"serial\":\"ab\"}");
    r->decided = 150;
    assert_int_equal(store_request_update(tx, "a", r, &e), 0);
    assert_int_equal(store_request_update(tx, "b", r, &e), -1); /* not b's */
    request_rec_free(r);
    assert_int_equal(store_request_expire(tx, "a", 400, &expired, &e), 0);
    assert_int_equal(expired, 1); /* req-2 only: req-1 is done */
    ev.attempts = 3;
    ev.status = "failed";
    assert_int_equal(store_webhook_event_update(tx, "a", &ev, &e), 0);
    assert_int_equal(store_webhook_event_delete(tx, "b", "ev-1", &e), -1);
    assert_int_equal(store_webhook_event_delete(tx, "a", "ev-1", &e), 0);
    assert_int_equal(store_webhook_event_count(tx, "a", &count, &e), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_workflow_delete(tx, "a", "profile:tls-server", &e), 0);
    assert_int_equal(store_workflow_delete(tx, "a", "profile:tls-server", &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_webhook_delete(tx, "a", &e), 0);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_request_get(tx, "a", "req-2", &r, &e), 0);
    assert_string_equal(r->status, "expired");
    assert_int_equal(r->decided, 400);
    request_rec_free(r);
    assert_int_equal(store_request_get(tx, "a", "req-1", &r, &e), 0);
    assert_string_equal(r->result, "{\"serial\":\"ab\"}");
    request_rec_free(r);
    store_rollback(tx);
    store_close(s);
}

/* ---- leases ------------------------------------------------------------------ */

static int lease(struct store *s, const char *tenant, const char *job, const char *holder,
                 int64_t now, int64_t until)
{
    struct err e;
    struct store_tx *tx = begin(s);
    int rc = store_lease_take(tx, tenant, job, holder, now, until, &e);
    if (rc < 0)
        fail_msg("store_lease_take: %s", e.msg);
    commit(tx);
    return rc;
}

static void a_lease_is_held_by_one_node_until_it_runs_out(void **state)
{
    struct store *s = open_store();
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    assert_int_equal(lease(s, "a", "crl/issuing", "node1", 100, 160), 0);
    assert_int_equal(lease(s, "a", "crl/issuing", "node2", 120, 180), 1); /* held */
    assert_int_equal(lease(s, "a", "crl/issuing", "node1", 130, 190), 0); /* renewed */
    assert_int_equal(lease(s, "a", "crl/root", "node2", 130, 190), 0);    /* another job */
    assert_int_equal(lease(s, "b", "crl/issuing", "node2", 130, 190), 0); /* another tenant */
    assert_int_equal(lease(s, "a", "crl/issuing", "node2", 189, 250), 1);
    assert_int_equal(lease(s, "a", "crl/issuing", "node2", 190, 250), 0); /* ran out */
    assert_int_equal(lease(s, "a", "crl/issuing", "node1", 200, 260), 1);
    store_close(s);
}

static int64_t leases_held(struct store *s, const char *tenant, const char *prefix, int64_t now)
{
    struct err e;
    struct store_tx *tx = begin(s);
    int64_t n = -1;

    if (store_lease_count(tx, tenant, prefix, now, &n, &e) != 0)
        fail_msg("store_lease_count: %s", e.msg);
    commit(tx);
    return n;
}

/* Live nodes: leases "node/<name>" not run out; those long run out are removed. */
static void live_node_leases_are_counted_by_prefix(void **state)
{
    struct store *s = open_store();
    (void)state;
    tenant_make(s, "_system");
    tenant_make(s, "a");
    assert_int_equal(lease(s, "_system", "node/h:1", "h:1", 1000, 1015), 0);
    assert_int_equal(lease(s, "_system", "node/h:2", "h:2", 1002, 1017), 0);
    assert_int_equal(lease(s, "_system", "node_x/h:3", "h:3", 1002, 1017), 0); /* not the prefix */
    assert_int_equal(lease(s, "_system", "nodes/h:4", "h:4", 1002, 1017), 0);
    assert_int_equal(lease(s, "a", "node/h:5", "h:5", 1002, 1017), 0); /* another tenant */
    assert_int_equal(leases_held(s, "_system", "node/", 1010), 2);
    assert_int_equal(leases_held(s, "_system", "node/", 1016), 1); /* h:1 ran out */
    assert_int_equal(leases_held(s, "_system", "node/", 1017), 0);
    /* An hour on, h:1 is removed; a lease run out can be taken by another node. */
    assert_int_equal(leases_held(s, "_system", "node/", 1015 + 3601), 0);
    assert_int_equal(lease(s, "_system", "node/h:2", "other", 1015 + 3601, 1015 + 3700), 0);
    assert_int_equal(leases_held(s, "_system", "node/", 1015 + 3602), 1);
    assert_int_equal(leases_held(s, "_system", "node_x/", 1010), 1);
    assert_int_equal(leases_held(s, "a", "node/", 1010), 1);
    store_close(s);
}

/* ---- idempotency keys ------------------------------------------------------------ */

static int idem_put(struct store *s, const char *tenant, const char *key, const char *serial,
                    int64_t created, int64_t expired, struct err *e)
{
    struct idempotency_rec r = {.key = (char *)key,
                                .principal = "p1",
                                .request_hash = "h1",
                                .object = (char *)serial,
                                .created = created,
                                .outcome = serial[0] == 'r' ? "request" : "certificate"};
    struct store_tx *tx = begin(s);
    int rc = store_idempotency_put(tx, tenant, &r, expired, e);

    if (rc == 0)
        commit(tx);
    else
        store_rollback(tx);
    return rc;
}

static const char *idem_serial(struct store *s, const char *tenant, const char *key, char *buf)
{
    struct idempotency_rec *r = NULL;
    struct store_tx *tx = begin_read(s);
    struct err e;

    if (store_idempotency_get(tx, tenant, key, &r, &e) != 0) {
        store_rollback(tx);
        return e.kind == ERR_NOT_FOUND ? NULL : "error";
    }
    store_rollback(tx);
    snprintf(buf, 64, "%s%s", strcmp(r->outcome, "request") == 0 ? "request " : "", r->object);
    idempotency_rec_free(r);
    return buf;
}

/* A key names one issuance per tenant until it expires; then it may name another. */
static void idempotency_keys_are_unique_per_tenant_until_they_expire(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx;
    char buf[64];
    struct err e;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    assert_int_equal(idem_put(s, "a", "k1", "01", 1000, 1000 - 86400, &e), 0);
    assert_int_equal(idem_put(s, "a", "k1", "02", 1001, 1001 - 86400, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_string_equal(idem_serial(s, "a", "k1", buf), "01");
    assert_int_equal(idem_put(s, "b", "k1", "03", 1001, 1001 - 86400, &e), 0); /* b's own */
    assert_null(idem_serial(s, "a", "k2", buf));
    /* Expired: taken over. */
    assert_int_equal(idem_put(s, "a", "k1", "04", 90000, 90000 - 86400, &e), 0);
    assert_string_equal(idem_serial(s, "a", "k1", buf), "04");
    assert_string_equal(idem_serial(s, "b", "k1", buf), "03");
    /* Any outcome: here a pending request (what a key names is kept with it). */
    assert_int_equal(idem_put(s, "b", "k2", "req-1", 1001, 1001 - 86400, &e), 0);
    assert_string_equal(idem_serial(s, "b", "k2", buf), "request req-1");
    tx = begin(s);
    assert_int_equal(store_idempotency_prune(tx, "b", 5000, &e), 0);
    commit(tx);
    assert_null(idem_serial(s, "b", "k1", buf));
    assert_string_equal(idem_serial(s, "a", "k1", buf), "04");
    store_close(s);
}

/* ---- offline imports ----------------------------------------------------------- */

static void offline_imports_are_found_by_sequence_and_unique_per_source(void **state)
{
    struct store *s = open_store();
    struct offline_import_rec r = {.source = "off-1",
                                   .digest = "d1",
                                   .signer = "root",
                                   .audit_seq = 4,
                                   .audit_head = "h4",
                                   .imported = 100},
                              *got = NULL;
    struct store_tx *tx;
    struct err e;

    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = store_begin(s, &e);
    assert_int_equal(store_offline_import_get(tx, "a", "off-1", 0, &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    r.seq = 1;
    assert_int_equal(store_offline_import_insert(tx, "a", &r, &e), 0);
    r.seq = 3;
    r.digest = "d3";
    assert_int_equal(store_offline_import_insert(tx, "a", &r, &e), 0);
    assert_int_equal(store_offline_import_insert(tx, "a", &r, &e), -1); /* (source, seq) again */
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_commit(tx, &e), 0);
    tx = store_begin_read(s, &e);
    assert_int_equal(store_offline_import_get(tx, "a", "off-1", 0, &got, &e), 0); /* the latest */
    assert_int_equal(got->seq, 3);
    assert_string_equal(got->digest, "d3");
    assert_string_equal(got->audit_head, "h4");
    assert_int_equal(got->audit_seq, 4);
    offline_import_rec_free(got);
    assert_int_equal(store_offline_import_get(tx, "a", "off-1", 1, &got, &e), 0);
    assert_string_equal(got->digest, "d1");
    offline_import_rec_free(got);
    assert_int_equal(store_offline_import_get(tx, "a", "off-1", 2, &got, &e), -1);
    assert_int_equal(store_offline_import_get(tx, "b", "off-1", 0, &got, &e), -1); /* tenant */
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    store_rollback(tx);
    store_close(s);
}

/* ---- ACME ------------------------------------------------------------------------ */

/* Appends id to the comma-separated list in buf. */
static void ids_add(char *buf, size_t size, const char *id)
{
    size_t len = strlen(buf);

    snprintf(buf + len, size - len, "%s%s", len > 0 ? "," : "", id);
}

/* The `member` of the n records of list, comma-separated, is want. */
#define assert_ids(list, n, member, want)                                                          \
    do {                                                                                           \
        char got_[512] = "";                                                                       \
        for (size_t i_ = 0; i_ < (n); i_++)                                                        \
            ids_add(got_, sizeof(got_), (list)[i_]->member);                                       \
        assert_string_equal(got_, want);                                                           \
    } while (0)

static struct acme_endpoint_rec endpoint_of(const char *name)
{
    struct acme_endpoint_rec r = {0};
    r.name = (char *)name;
    r.ca = "issuing";
    r.status = "active";
    r.settings = "{\"profiles\":[\"tls-server\"]}";
    r.created = 10;
    r.updated = 10;
    return r;
}

static struct acme_eab_rec eab_of(const char *endpoint, const char *kid)
{
    struct acme_eab_rec r = {0};
    r.endpoint = (char *)endpoint;
    r.kid = (char *)kid;
    r.key_id = "key-eab";
    r.nonce = "00ff";
    r.settings = "{\"reusable\":false}";
    r.status = "active";
    r.created = 20;
    r.updated = 20;
    return r;
}

static struct acme_account_rec account_of(const char *endpoint, const char *id,
                                          const char *thumbprint, const char *eab_kid)
{
    struct acme_account_rec r = {0};
    r.endpoint = (char *)endpoint;
    r.id = (char *)id;
    r.thumbprint = (char *)thumbprint;
    r.jwk = "{\"kty\":\"EC\"}";
    r.status = "valid";
    r.contact = "[\"mailto:a@example.com\"]";
    r.eab_kid = (char *)eab_kid;
    r.created = 30;
    r.updated = 30;
    return r;
}

static struct acme_order_rec order_of(const char *endpoint, const char *id, const char *account,
                                      int64_t created)
{
    struct acme_order_rec r = {0};
    r.endpoint = (char *)endpoint;
    r.id = (char *)id;
    r.account = (char *)account;
    r.status = "pending";
    r.identifiers = "[{\"type\":\"dns\",\"value\":\"www.example.com\"}]";
    r.authzs = "[\"authz-1\"]";
    r.profile = "tls-server";
    r.expires = created + 3600;
    r.created = created;
    r.updated = created;
    return r;
}

static struct acme_authz_rec authz_of(const char *endpoint, const char *id, const char *account,
                                      const char *value, int wildcard, const char *status,
                                      int64_t expires)
{
    struct acme_authz_rec r = {0};
    r.endpoint = (char *)endpoint;
    r.id = (char *)id;
    r.account = (char *)account;
    r.ident_type = "dns";
    r.ident_value = (char *)value;
    r.wildcard = wildcard;
    r.status = (char *)status;
    r.expires = expires;
    r.challenges = "[{\"type\":\"http-01\",\"token\":\"t\",\"status\":\"pending\"}]";
    r.created = 40;
    r.updated = 40;
    return r;
}

/* Fills tenant t with one ACME record of each kind (populate's, for the isolation tests). */
static void populate_acme(struct store *s, const char *t)
{
    struct store_tx *tx = begin(s);
    struct acme_endpoint_rec ep = endpoint_of("ep");
    struct acme_eab_rec eab = eab_of("ep", "kid-1");
    struct acme_account_rec acct = account_of("ep", "acct-1", "thumb-1", "kid-1");
    struct acme_order_rec ord = order_of("ep", "ord-1", "acct-1", 100);
    struct acme_authz_rec az =
        authz_of("ep", "authz-1", "acct-1", "www.example.com", 0, "valid", 9000);
    struct renewal_window_rec rw = {.serial = "beef", .start = 100, .end = 200, .created = 5};
    struct err e;
    char *secret = NULL;

    az.validating = 50;
    assert_int_equal(store_acme_endpoint_insert(tx, t, &ep, &e), 0);
    assert_int_equal(store_acme_eab_insert(tx, t, &eab, &e), 0);
    assert_int_equal(store_acme_account_insert(tx, t, &acct, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, t, &ord, &e), 0);
    assert_int_equal(store_acme_authz_insert(tx, t, &az, &e), 0);
    assert_int_equal(store_acme_nonce_use(tx, t, "nonce-1", 5000, &e), 0);
    assert_int_equal(store_secret_get_or_put(tx, t, "acme-nonce", "s3cret", &secret, &e), 0);
    free(secret);
    assert_int_equal(store_renewal_window_put(tx, t, &rw, &e), 0);
    commit(tx);
}

/* Every ACME read of tenant t finds nothing (populate_acme's records of another tenant). */
static void assert_tenant_sees_no_acme(struct store *s, const char *t)
{
    struct store_tx *tx = begin_read(s);
    struct acme_endpoint_rec *ep = NULL, **eps = NULL;
    struct acme_eab_rec *eab = NULL, **eabs = NULL;
    struct acme_account_rec *acct = NULL, **accts = NULL;
    struct acme_order_rec *ord = NULL, **ords = NULL;
    struct acme_authz_rec *az = NULL, **azs = NULL;
    struct renewal_window_rec *rw = NULL;
    struct err e;
    size_t n;

    assert_int_equal(store_acme_endpoint_get(tx, t, "ep", &ep, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_eab_get(tx, t, "ep", "kid-1", &eab, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_account_get(tx, t, "ep", "acct-1", &acct, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_account_by_key(tx, t, "ep", "thumb-1", &acct, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_order_get(tx, t, "ep", "ord-1", &ord, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_authz_get(tx, t, "ep", "authz-1", &az, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(
        store_acme_authz_reusable(tx, t, "ep", "acct-1", "dns", "www.example.com", 0, 0, &az, &e),
        -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_renewal_window_get(tx, t, "beef", &rw, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_true(ep == NULL && eab == NULL && acct == NULL && ord == NULL && az == NULL &&
                rw == NULL);
    n = 9;
    assert_int_equal(store_acme_endpoint_list(tx, t, &eps, &n, &e), 0);
    assert_int_equal(n, 0);
    free(eps);
    n = 9;
    assert_int_equal(store_acme_eab_list(tx, t, NULL, &eabs, &n, &e), 0);
    assert_int_equal(n, 0);
    free(eabs);
    n = 9;
    assert_int_equal(store_acme_account_by_eab(tx, t, "ep", "kid-1", &accts, &n, &e), 0);
    assert_int_equal(n, 0);
    free(accts);
    n = 9;
    assert_int_equal(store_acme_order_list(tx, t, "ep", "acct-1", 0, 0, &ords, &n, &e), 0);
    assert_int_equal(n, 0);
    free(ords);
    n = 9;
    assert_int_equal(store_acme_authz_stalled(tx, t, 1000, 0, &azs, &n, &e), 0);
    assert_int_equal(n, 0);
    free(azs);
    store_rollback(tx);
}

static void acme_endpoints_round_trip_and_names_are_unique_per_tenant(void **state)
{
    struct store *s = open_store();
    struct acme_endpoint_rec a = endpoint_of("prod"), b = endpoint_of("lab"), *got = NULL;
    struct acme_endpoint_rec **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = begin(s);
    assert_int_equal(store_acme_endpoint_insert(tx, "a", &a, &e), 0);
    assert_int_equal(store_acme_endpoint_insert(tx, "a", &b, &e), 0);
    assert_int_equal(store_acme_endpoint_insert(tx, "a", &a, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_acme_endpoint_insert(tx, "b", &a, &e), 0); /* b's own "prod" */
    a.ca = "other-ca";
    a.status = "disabled";
    a.settings = "{}";
    a.updated = 99;
    a.created = 77; /* not changed by an update */
    assert_int_equal(store_acme_endpoint_update(tx, "a", &a, &e), 0);
    a.name = "nope";
    assert_int_equal(store_acme_endpoint_update(tx, "a", &a, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_acme_endpoint_get(tx, "a", "prod", &got, &e), 0);
    assert_string_equal(got->tenant, "a");
    assert_string_equal(got->ca, "other-ca");
    assert_string_equal(got->status, "disabled");
    assert_string_equal(got->settings, "{}");
    assert_true(got->created == 10 && got->updated == 99);
    acme_endpoint_rec_free(got);
    assert_int_equal(store_acme_endpoint_get(tx, "b", "prod", &got, &e), 0);
    assert_string_equal(got->ca, "issuing");
    assert_string_equal(got->settings, "{\"profiles\":[\"tls-server\"]}");
    acme_endpoint_rec_free(got);
    assert_int_equal(store_acme_endpoint_get(tx, "b", "lab", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_endpoint_list(tx, "a", &list, &n, &e), 0);
    assert_ids(list, n, name, "lab,prod");
    acme_endpoint_rec_list_free(list, n);
    assert_int_equal(store_acme_endpoint_list(tx, "c", &list, &n, &e), 0);
    assert_int_equal(n, 0);
    acme_endpoint_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

/* Enrollment endpoints (EST; SCEP later) and credentials: per tenant, updated, listed. */
static void enrollment_endpoints_and_credentials_round_trip_per_tenant(void **state)
{
    struct store *s = open_store();
    struct enroll_endpoint_rec ep = {.name = "routers",
                                     .protocol = "est",
                                     .ca = "issuing",
                                     .profile = "tls-server",
                                     .status = "active",
                                     .settings = "{\"auth\":[\"basic\"]}",
                                     .created = 10,
                                     .updated = 10},
                               *got = NULL, **eps = NULL;
    struct enroll_credential_rec c1 = {.endpoint = "routers",
                                       .id = "r-1",
                                       .secret_hash = "$argon2id$x",
                                       .status = "active",
                                       .creators = "[\"admin\"]",
                                       .created = 20,
                                       .updated = 20},
                                 c2 = c1, *cred = NULL, **creds = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    c2.id = "r-0";
    c2.reusable = 1;
    tx = begin(s);
    assert_int_equal(store_enroll_endpoint_insert(tx, "a", &ep, &e), 0);
    assert_int_equal(store_enroll_endpoint_insert(tx, "a", &ep, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_enroll_credential_insert(tx, "a", &c1, &e), 0);
    assert_int_equal(store_enroll_credential_insert(tx, "a", &c2, &e), 0);
    assert_int_equal(store_enroll_credential_insert(tx, "a", &c1, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    ep.profile = "tls-client";
    ep.status = "disabled";
    ep.updated = 30;
    assert_int_equal(store_enroll_endpoint_update(tx, "a", &ep, &e), 0);
    c1.status = "used";
    c1.uses = 1;
    c1.updated = 40;
    assert_int_equal(store_enroll_credential_get(tx, "a", "routers", "r-1", &cred, &e), 0);
    enroll_credential_rec_free(cred);
    assert_int_equal(store_enroll_credential_update(tx, "a", &c1, &e), 0);
    assert_int_equal(store_enroll_endpoint_update(tx, "b", &ep, &e), -1); /* not b's */
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_enroll_endpoint_get(tx, "a", "routers", &got, &e), 0);
    assert_true(strcmp(got->profile, "tls-client") == 0 && strcmp(got->status, "disabled") == 0 &&
                strcmp(got->protocol, "est") == 0 && got->created == 10 && got->updated == 30);
    enroll_endpoint_rec_free(got);
    assert_int_equal(store_enroll_credential_get(tx, "a", "routers", "r-1", &cred, &e), 0);
    assert_true(strcmp(cred->status, "used") == 0 && cred->uses == 1 && !cred->reusable &&
                strcmp(cred->secret_hash, "$argon2id$x") == 0 &&
                strcmp(cred->creators, "[\"admin\"]") == 0);
    enroll_credential_rec_free(cred);
    assert_int_equal(store_enroll_credential_list(tx, "a", "routers", &creds, &n, &e), 0);
    assert_ids(creds, n, id, "r-0,r-1");
    enroll_credential_rec_list_free(creds, n);
    assert_int_equal(store_enroll_endpoint_get(tx, "b", "routers", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_enroll_credential_get(tx, "b", "routers", "r-1", &cred, &e), -1);
    assert_int_equal(store_enroll_endpoint_list(tx, "b", &eps, &n, &e), 0);
    assert_int_equal(n, 0);
    enroll_endpoint_rec_list_free(eps, n);
    assert_int_equal(store_enroll_credential_list(tx, "b", "routers", &creds, &n, &e), 0);
    assert_int_equal(n, 0);
    enroll_credential_rec_list_free(creds, n);
    store_rollback(tx);
    store_close(s);
}

static void eab_credentials_are_unique_per_endpoint_and_listed_by_kid(void **state)
{
    struct store *s = open_store();
    struct acme_eab_rec k2 = eab_of("prod", "k2"), k1 = eab_of("prod", "k1"),
                        lab = eab_of("lab", "k1"), *got = NULL, **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = begin(s);
    assert_int_equal(store_acme_eab_insert(tx, "a", &k2, &e), 0);
    assert_int_equal(store_acme_eab_insert(tx, "a", &k1, &e), 0);
    assert_int_equal(store_acme_eab_insert(tx, "a", &lab, &e), 0); /* another endpoint's k1 */
    assert_int_equal(store_acme_eab_insert(tx, "a", &k1, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_acme_eab_insert(tx, "b", &k1, &e), 0); /* another tenant's */
    assert_int_equal(store_acme_eab_get(tx, "a", "prod", "k1", &got, &e), 0);
    got->uses++;
    got->status = (free(got->status), xstrdup("revoked"));
    got->settings = (free(got->settings), xstrdup("{\"reusable\":true}"));
    got->updated = 25;
    assert_int_equal(store_acme_eab_update(tx, "a", got, &e), 0);
    acme_eab_rec_free(got);
    k1.kid = "k9";
    assert_int_equal(store_acme_eab_update(tx, "a", &k1, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_acme_eab_get(tx, "a", "prod", "k1", &got, &e), 0);
    assert_string_equal(got->endpoint, "prod");
    assert_string_equal(got->key_id, "key-eab");
    assert_string_equal(got->nonce, "00ff");
    assert_string_equal(got->status, "revoked");
    assert_string_equal(got->settings, "{\"reusable\":true}");
    assert_true(got->uses == 1 && got->created == 20 && got->updated == 25);
    acme_eab_rec_free(got);
    assert_int_equal(store_acme_eab_get(tx, "b", "prod", "k1", &got, &e), 0);
    assert_string_equal(got->status, "active");
    assert_int_equal(got->uses, 0);
    acme_eab_rec_free(got);
    assert_int_equal(store_acme_eab_get(tx, "b", "prod", "k2", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_eab_list(tx, "a", "prod", &list, &n, &e), 0);
    assert_ids(list, n, kid, "k1,k2");
    acme_eab_rec_list_free(list, n);
    assert_int_equal(store_acme_eab_list(tx, "a", NULL, &list, &n, &e), 0);
    assert_ids(list, n, kid, "k1,k1,k2");
    assert_ids(list, n, endpoint, "lab,prod,prod");
    acme_eab_rec_list_free(list, n);
    assert_int_equal(store_acme_eab_list(tx, "b", NULL, &list, &n, &e), 0);
    assert_ids(list, n, kid, "k1");
    acme_eab_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

static void an_account_key_is_one_accounts_per_endpoint(void **state)
{
    struct store *s = open_store();
    struct acme_account_rec a1 = account_of("prod", "acct-1", "T1", "k1"),
                            a2 = account_of("prod", "acct-2", "T1", NULL),
                            a3 = account_of("prod", "acct-3", "T3", "k1"),
                            a4 = account_of("prod", "acct-0", "T4", "k1"), *got = NULL,
                            **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = begin(s);
    assert_int_equal(store_acme_account_insert(tx, "a", &a1, &e), 0);
    assert_int_equal(store_acme_account_insert(tx, "a", &a2, &e), -1); /* the same key */
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_acme_account_insert(tx, "a", &a1, &e), -1); /* the same id */
    assert_int_equal(e.kind, ERR_CONFLICT);
    a2.endpoint = "lab"; /* the same key on another endpoint, */
    assert_int_equal(store_acme_account_insert(tx, "a", &a2, &e), 0);
    assert_int_equal(store_acme_account_insert(tx, "b", &a1, &e), 0); /* or of another tenant */
    assert_int_equal(store_acme_account_insert(tx, "a", &a3, &e), 0);
    assert_int_equal(store_acme_account_insert(tx, "a", &a4, &e), 0);
    commit(tx);

    tx = begin(s);
    /* A key change to another account's key: refused, and the transaction goes on. */
    assert_int_equal(store_acme_account_get(tx, "a", "prod", "acct-3", &got, &e), 0);
    got->thumbprint = (free(got->thumbprint), xstrdup("T1"));
    assert_int_equal(store_acme_account_update(tx, "a", got, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    got->thumbprint = (free(got->thumbprint), xstrdup("T3b"));
    got->jwk = (free(got->jwk), xstrdup("{\"kty\":\"OKP\"}"));
    got->status = (free(got->status), xstrdup("deactivated"));
    got->contact = (free(got->contact), xstrdup("[]"));
    got->updated = 31;
    assert_int_equal(store_acme_account_update(tx, "a", got, &e), 0);
    acme_account_rec_free(got);
    a1.id = "acct-9";
    assert_int_equal(store_acme_account_update(tx, "a", &a1, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    a1.id = "acct-1"; /* an update keeping its own key */
    assert_int_equal(store_acme_account_update(tx, "a", &a1, &e), 0);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_acme_account_by_key(tx, "a", "prod", "T3b", &got, &e), 0);
    assert_string_equal(got->id, "acct-3");
    assert_string_equal(got->jwk, "{\"kty\":\"OKP\"}");
    assert_string_equal(got->status, "deactivated");
    assert_string_equal(got->contact, "[]");
    assert_string_equal(got->eab_kid, "k1");
    assert_true(got->created == 30 && got->updated == 31);
    acme_account_rec_free(got);
    assert_int_equal(store_acme_account_by_key(tx, "a", "prod", "T3", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_account_by_key(tx, "a", "lab", "T1", &got, &e), 0);
    assert_string_equal(got->id, "acct-2");
    assert_null(got->eab_kid);
    acme_account_rec_free(got);
    assert_int_equal(store_acme_account_get(tx, "a", "prod", "acct-1", &got, &e), 0);
    assert_string_equal(got->thumbprint, "T1");
    assert_string_equal(got->contact, "[\"mailto:a@example.com\"]");
    acme_account_rec_free(got);
    assert_int_equal(store_acme_account_get(tx, "a", "lab", "acct-1", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_account_by_eab(tx, "a", "prod", "k1", &list, &n, &e), 0);
    assert_ids(list, n, id, "acct-0,acct-1,acct-3");
    acme_account_rec_list_free(list, n);
    assert_int_equal(store_acme_account_by_eab(tx, "b", "prod", "k1", &list, &n, &e), 0);
    assert_ids(list, n, id, "acct-1");
    acme_account_rec_list_free(list, n);
    assert_int_equal(store_acme_account_by_eab(tx, "a", "lab", "k1", &list, &n, &e), 0);
    assert_int_equal(n, 0);
    acme_account_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

static void acme_orders_round_trip_and_list_newest_first(void **state)
{
    struct store *s = open_store();
    struct acme_order_rec o1 = order_of("prod", "ord-1", "acct-1", 100),
                          o2 = order_of("prod", "ord-2", "acct-1", 300),
                          o3 = order_of("prod", "ord-3", "acct-1", 200),
                          o4 = order_of("prod", "ord-4", "acct-2", 400),
                          o5 = order_of("lab", "ord-5", "acct-1", 500), *got = NULL, **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    o1.not_before = 1000;
    o1.not_after = 2000;
    o1.replaces = "aki.serial";
    tx = begin(s);
    assert_int_equal(store_acme_order_insert(tx, "a", &o1, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "a", &o2, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "a", &o3, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "a", &o4, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "a", &o5, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "a", &o1, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_acme_order_insert(tx, "b", &o1, &e), 0);
    o1.status = "processing";
    o1.error = "{\"type\":\"urn:ietf:params:acme:error:badCSR\"}";
    o1.serial = "beef";
    o1.request = "req-1";
    o1.updated = 150;
    o1.profile = "changed"; /* not changed by an update */
    assert_int_equal(store_acme_order_update(tx, "a", &o1, &e), 0);
    o2.id = "ord-9";
    assert_int_equal(store_acme_order_update(tx, "a", &o2, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);

    tx = begin_read(s);
    assert_int_equal(store_acme_order_get(tx, "a", "prod", "ord-1", &got, &e), 0);
    assert_string_equal(got->account, "acct-1");
    assert_string_equal(got->status, "processing");
    assert_string_equal(got->identifiers, "[{\"type\":\"dns\",\"value\":\"www.example.com\"}]");
    assert_string_equal(got->authzs, "[\"authz-1\"]");
    assert_string_equal(got->profile, "tls-server");
    assert_true(got->not_before == 1000 && got->not_after == 2000 && got->expires == 3700);
    assert_string_equal(got->error, "{\"type\":\"urn:ietf:params:acme:error:badCSR\"}");
    assert_string_equal(got->serial, "beef");
    assert_string_equal(got->request, "req-1");
    assert_string_equal(got->replaces, "aki.serial");
    assert_true(got->created == 100 && got->updated == 150);
    acme_order_rec_free(got);
    assert_int_equal(store_acme_order_get(tx, "b", "prod", "ord-1", &got, &e), 0);
    assert_string_equal(got->status, "pending");
    assert_null(got->error);
    assert_null(got->serial);
    assert_null(got->request);
    acme_order_rec_free(got);
    assert_int_equal(store_acme_order_get(tx, "a", "lab", "ord-1", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_order_list(tx, "a", "prod", "acct-1", 0, 0, &list, &n, &e), 0);
    assert_ids(list, n, id, "ord-2,ord-3,ord-1");
    acme_order_rec_list_free(list, n);
    assert_int_equal(store_acme_order_list(tx, "a", "prod", "acct-1", 1, 1, &list, &n, &e), 0);
    assert_ids(list, n, id, "ord-3");
    acme_order_rec_list_free(list, n);
    assert_int_equal(store_acme_order_list(tx, "b", "prod", "acct-1", 0, 0, &list, &n, &e), 0);
    assert_ids(list, n, id, "ord-1");
    acme_order_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

/*
 * Pruning takes orders that expired before the mark (but one waiting for an
 * approval) and authorizations that expired a month before it; other
 * tenants' rows stay.
 */
static void acme_orders_and_authorizations_are_pruned_after_they_expired(void **state)
{
    struct store *s = open_store();
    struct acme_order_rec old = order_of("prod", "ord-old", "acct-1", 100),
                          waiting = order_of("prod", "ord-wait", "acct-1", 100),
                          young = order_of("prod", "ord-young", "acct-1", 100000000);
    struct acme_authz_rec a_old = authz_of("prod", "authz-old", "acct-1", "a.example", 0, "valid",
                                           1000),
                          a_month = authz_of("prod", "authz-month", "acct-1", "b.example", 0,
                                             "valid", 5000000);
    struct acme_order_rec *got = NULL;
    struct acme_authz_rec *z = NULL;
    struct store_tx *tx;
    struct err e;
    int64_t n = 0;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    waiting.status = "processing";
    tx = begin(s);
    assert_int_equal(store_acme_order_insert(tx, "a", &old, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "a", &waiting, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "a", &young, &e), 0);
    assert_int_equal(store_acme_order_insert(tx, "b", &old, &e), 0);
    assert_int_equal(store_acme_authz_insert(tx, "a", &a_old, &e), 0);
    assert_int_equal(store_acme_authz_insert(tx, "a", &a_month, &e), 0);
    commit(tx);
    /* The mark at 5,000,000: the old order (expires 3,700) and the authorization that expired a
     * month before the mark go; the one expiring at the mark stays. */
    tx = begin(s);
    assert_int_equal(store_acme_prune(tx, "a", 5000000, &n, &e), 0);
    assert_int_equal(n, 2);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_acme_order_get(tx, "a", "prod", "ord-old", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_acme_order_get(tx, "a", "prod", "ord-wait", &got, &e), 0);
    acme_order_rec_free(got);
    assert_int_equal(store_acme_order_get(tx, "a", "prod", "ord-young", &got, &e), 0);
    acme_order_rec_free(got);
    assert_int_equal(store_acme_order_get(tx, "b", "prod", "ord-old", &got, &e), 0);
    acme_order_rec_free(got);
    assert_int_equal(store_acme_authz_get(tx, "a", "prod", "authz-old", &z, &e), -1);
    assert_int_equal(store_acme_authz_get(tx, "a", "prod", "authz-month", &z, &e), 0);
    acme_authz_rec_free(z);
    store_rollback(tx);
    store_close(s);
}

/* The ids of the authorizations stalled before `before` (at most limit), comma-separated. */
static void assert_stalled(struct store *s, const char *tenant, int64_t before, int limit,
                           const char *want)
{
    struct store_tx *tx = begin_read(s);
    struct acme_authz_rec **list = NULL;
    struct err e;
    size_t n = 0;

    assert_int_equal(store_acme_authz_stalled(tx, tenant, before, limit, &list, &n, &e), 0);
    assert_ids(list, n, id, want);
    acme_authz_rec_list_free(list, n);
    store_rollback(tx);
}

/* The id of the authorization reusable for www.example.com (wildcard or not) after until. */
static const char *reusable(struct store *s, const char *account, int wildcard, int64_t until,
                            char *buf)
{
    struct store_tx *tx = begin_read(s);
    struct acme_authz_rec *r = NULL;
    struct err e;

    if (store_acme_authz_reusable(tx, "a", "prod", account, "dns", "www.example.com", wildcard,
                                  until, &r, &e) != 0) {
        store_rollback(tx);
        assert_int_equal(e.kind, ERR_NOT_FOUND);
        return NULL;
    }
    store_rollback(tx);
    snprintf(buf, 64, "%s", r->id);
    acme_authz_rec_free(r);
    return buf;
}

static void acme_authorizations_are_reused_and_stalled_ones_found(void **state)
{
    const char *www = "www.example.com";
    struct store *s = open_store();
    struct acme_authz_rec list[] = {
        authz_of("prod", "authz-1", "acct-1", www, 0, "valid", 5000),
        authz_of("prod", "authz-2", "acct-1", www, 0, "valid", 9000), /* the one expiring last */
        authz_of("prod", "authz-3", "acct-1", www, 0, "pending", 20000),
        authz_of("prod", "authz-4", "acct-1", www, 1, "valid", 30000), /* a wildcard */
        authz_of("prod", "authz-5", "acct-2", www, 0, "valid", 30000), /* another account */
        authz_of("prod", "authz-6", "acct-1", "example.com", 0, "valid", 30000),
        authz_of("lab", "authz-7", "acct-1", www, 0, "valid", 30000), /* another endpoint */
        authz_of("prod", "authz-8", "acct-1", www, 0, "invalid", 40000),
    };
    struct acme_authz_rec ip = authz_of("prod", "authz-9", "acct-1", www, 0, "valid", 50000);
    struct acme_authz_rec *got = NULL;
    struct store_tx *tx;
    struct err e;
    char buf[64];
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    ip.ident_type = "ip"; /* another identifier type */
    list[0].validating = 100;
    list[2].validating = 200;
    list[5].validating = 300;
    tx = begin(s);
    for (size_t i = 0; i < ARRAY_LEN(list); i++)
        assert_int_equal(store_acme_authz_insert(tx, "a", &list[i], &e), 0);
    assert_int_equal(store_acme_authz_insert(tx, "a", &ip, &e), 0);
    assert_int_equal(store_acme_authz_insert(tx, "a", &list[0], &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_acme_authz_insert(tx, "b", &list[0], &e), 0);
    commit(tx);

    assert_string_equal(reusable(s, "acct-1", 0, 4000, buf), "authz-2");
    assert_string_equal(reusable(s, "acct-1", 0, 8999, buf), "authz-2");
    assert_null(reusable(s, "acct-1", 0, 9000, buf)); /* expiring after until, not at it */
    assert_string_equal(reusable(s, "acct-1", 1, 4000, buf), "authz-4");
    assert_string_equal(reusable(s, "acct-2", 0, 4000, buf), "authz-5");
    assert_null(reusable(s, "acct-3", 0, 0, buf));

    assert_stalled(s, "a", 250, 0, "authz-1,authz-3");
    assert_stalled(s, "a", 1000, 0, "authz-1,authz-3,authz-6");
    assert_stalled(s, "a", 1000, 2, "authz-1,authz-3");
    assert_stalled(s, "a", 100, 0, "");
    assert_stalled(s, "b", 1000, 0, "authz-1");

    /* Validation ended on authz-1: valid until 60000, no longer stalled, reused first. */
    tx = begin(s);
    assert_int_equal(store_acme_authz_get(tx, "a", "prod", "authz-1", &got, &e), 0);
    got->status = (free(got->status), xstrdup("valid"));
    got->expires = 60000;
    got->challenges = (free(got->challenges), xstrdup("[{\"status\":\"valid\"}]"));
    got->validating = 0;
    got->updated = 41;
    got->ident_value = (free(got->ident_value), xstrdup("changed")); /* not changed by an update */
    assert_int_equal(store_acme_authz_update(tx, "a", got, &e), 0);
    acme_authz_rec_free(got);
    ip.id = "authz-0";
    assert_int_equal(store_acme_authz_update(tx, "a", &ip, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    commit(tx);
    assert_stalled(s, "a", 1000, 0, "authz-3,authz-6");
    assert_string_equal(reusable(s, "acct-1", 0, 4000, buf), "authz-1");
    tx = begin_read(s);
    assert_int_equal(store_acme_authz_get(tx, "a", "prod", "authz-1", &got, &e), 0);
    assert_string_equal(got->account, "acct-1");
    assert_string_equal(got->ident_type, "dns");
    assert_string_equal(got->ident_value, www);
    assert_int_equal(got->wildcard, 0);
    assert_string_equal(got->challenges, "[{\"status\":\"valid\"}]");
    assert_true(got->expires == 60000 && got->validating == 0);
    assert_true(got->created == 40 && got->updated == 41);
    acme_authz_rec_free(got);
    assert_int_equal(store_acme_authz_get(tx, "a", "prod", "authz-4", &got, &e), 0);
    assert_int_equal(got->wildcard, 1);
    acme_authz_rec_free(got);
    assert_int_equal(store_acme_authz_get(tx, "b", "prod", "authz-4", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    store_rollback(tx);
    store_close(s);
}

/* A nonce is used once per tenant, also inside a batch's savepoints, until it is pruned. */
static void a_nonce_is_used_once_per_tenant_until_pruned(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx;
    struct err e;
    int64_t n = -1;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = begin(s);
    assert_int_equal(store_acme_nonce_use(tx, "a", "n1", 1000, &e), 0);
    assert_int_equal(store_acme_nonce_use(tx, "a", "n1", 1000, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    /* The clash did not end the transaction. */
    assert_int_equal(store_acme_nonce_use(tx, "a", "n2", 2000, &e), 0);
    assert_int_equal(store_acme_nonce_use(tx, "b", "n1", 1000, &e), 0);
    commit(tx);

    /* As the group-commit batch runs it: each use under a savepoint. */
    tx = begin(s);
    assert_int_equal(store_savepoint(tx, &e), 0);
    assert_int_equal(store_acme_nonce_use(tx, "a", "n2", 2000, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_savepoint_rollback(tx, &e), 0);
    assert_int_equal(store_savepoint(tx, &e), 0);
    assert_int_equal(store_acme_nonce_use(tx, "a", "n3", 3000, &e), 0);
    assert_int_equal(store_savepoint_release(tx, &e), 0);
    commit(tx);

    tx = begin(s);
    assert_int_equal(store_acme_nonce_prune(tx, "a", 2000, &n, &e), 0);
    assert_int_equal(n, 1); /* n1: expired before 2000 */
    assert_int_equal(store_acme_nonce_prune(tx, "a", 2000, &n, &e), 0);
    assert_int_equal(n, 0);
    commit(tx);
    tx = begin(s);
    assert_int_equal(store_acme_nonce_use(tx, "a", "n1", 1000, &e), 0); /* pruned: filed anew */
    assert_int_equal(store_acme_nonce_use(tx, "a", "n3", 3000, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_acme_nonce_use(tx, "b", "n1", 1000, &e), -1); /* b's kept */
    assert_int_equal(e.kind, ERR_CONFLICT);
    store_rollback(tx);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM acme_nonces"), 3);
    store_close(s);
}

/*
 * CMP: a transactionID is filed once per endpoint, a senderNonce once per tenant; settled
 * transactions and expired nonces are pruned, one waiting for its certConf is kept.
 */
static void cmp_transactions_and_nonces_are_filed_once_until_pruned(void **state)
{
    struct store *s = open_store();
    struct cmp_transaction_rec r = {.endpoint = "plant",
                                    .txid = "aa",
                                    .status = "waiting",
                                    .requester = "cmp:plant:r",
                                    .protection = "mac",
                                    .expires = 500,
                                    .created = 100,
                                    .updated = 100},
                               *got = NULL, **due = NULL;
    struct store_tx *tx;
    struct err e;
    int64_t n = -1;
    size_t ndue = 0;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = begin(s);
    assert_int_equal(store_cmp_transaction_insert(tx, "a", &r, &e), 0);
    assert_int_equal(store_cmp_transaction_insert(tx, "a", &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_cmp_transaction_insert(tx, "b", &r, &e), 0);
    r.txid = "bb";
    r.status = "confirmed";
    assert_int_equal(store_cmp_transaction_insert(tx, "a", &r, &e), 0);
    assert_int_equal(store_cmp_nonce_use(tx, "a", "n1", 1000, &e), 0);
    assert_int_equal(store_cmp_nonce_use(tx, "a", "n1", 1000, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(store_cmp_nonce_use(tx, "b", "n1", 1000, &e), 0);
    commit(tx);

    tx = begin(s);
    assert_int_equal(store_cmp_transaction_expired(tx, "a", 600, 10, &due, &ndue, &e), 0);
    assert_int_equal(ndue, 1); /* "aa": waiting past its deadline; "bb" is confirmed */
    assert_string_equal(due[0]->txid, "aa");
    cmp_transaction_rec_list_free(due, ndue);
    assert_int_equal(store_cmp_prune(tx, "a", 2000, 200, &n, &e), 0);
    assert_int_equal(n, 2); /* nonce n1 and the settled "bb"; the waiting "aa" stays */
    commit(tx);
    tx = begin(s);
    assert_int_equal(store_cmp_transaction_get(tx, "a", "plant", "aa", &got, &e), 0);
    cmp_transaction_rec_free(got);
    assert_int_equal(store_cmp_transaction_get(tx, "a", "plant", "bb", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_cmp_nonce_use(tx, "b", "n1", 1000, &e), -1); /* b's kept */
    store_rollback(tx);
    store_close(s);
}

/* store_secret_get_or_put in a transaction of its own: the stored value (the caller frees it). */
static char *secret_of(struct store *s, const char *tenant, const char *name, const char *value)
{
    struct store_tx *tx = begin(s);
    char *out = NULL;
    struct err e;

    if (store_secret_get_or_put(tx, tenant, name, value, &out, &e) != 0)
        fail_msg("store_secret_get_or_put: %s", e.msg);
    commit(tx);
    return out;
}

struct secret_race {
    struct store *s;
    const char *value;
    pthread_barrier_t *go;
    char *got[20];
    struct err e;
    int failed;
};

/* Both threads file a secret of the same name at once, 20 names in turn. */
static void *secret_racer(void *p)
{
    struct secret_race *r = p;
    struct store_tx *tx;
    char name[32];

    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "race-%d", i);
        pthread_barrier_wait(r->go);
        if ((tx = store_begin(r->s, &r->e)) == NULL ||
            store_secret_get_or_put(tx, "a", name, r->value, &r->got[i], &r->e) != 0) {
            store_rollback(tx);
            r->failed++;
            continue;
        }
        if (store_commit(tx, &r->e) != 0)
            r->failed++;
    }
    return NULL;
}

struct secret_holder {
    struct store *s;
    char *got;
    atomic_int filed, done;
};

/* Files "late" once the first transaction has filed its value, not yet committed. */
static void *secret_second(void *p)
{
    struct secret_holder *h = p;

    struct store_tx *tx;
    struct err e;

    while (!atomic_load(&h->filed))
        usleep(1000);
    if ((tx = store_begin(h->s, &e)) != NULL &&
        store_secret_get_or_put(tx, "a", "held", "late", &h->got, &e) == 0)
        store_commit(tx, &e);
    else
        store_rollback(tx);
    atomic_store(&h->done, 1);
    return NULL;
}

static void a_secret_is_the_first_value_filed_from_any_connection(void **state)
{
    struct store *s = open_store(), *s2 = open_store();
    struct secret_race r1 = {.s = s, .value = "one"}, r2 = {.s = s2, .value = "two"};
    struct secret_holder h = {.s = s2};
    pthread_barrier_t go;
    pthread_t t1, t2;
    struct store_tx *tx;
    struct err e;
    int waited;
    char *v;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    v = secret_of(s, "a", "acme-nonce", "first");
    assert_string_equal(v, "first");
    free(v);
    v = secret_of(s, "a", "acme-nonce", "second");
    assert_string_equal(v, "first");
    free(v);
    v = secret_of(s2, "b", "acme-nonce", "b's");
    assert_string_equal(v, "b's");
    free(v);

    /* One transaction has filed its value and not committed: the other ends with it. */
    tx = begin(s);
    assert_int_equal(store_secret_get_or_put(tx, "a", "held", "early", &v, &e), 0);
    assert_string_equal(v, "early");
    free(v);
    assert_int_equal(pthread_create(&t2, NULL, secret_second, &h), 0);
    atomic_store(&h.filed, 1);
    usleep(300 * 1000);
    waited = !atomic_load(&h.done);
    commit(tx);
    pthread_join(t2, NULL);
    assert_true(waited); /* for the first */
    assert_non_null(h.got);
    assert_string_equal(h.got, "early");
    free(h.got);

    /* Two connections racing: each name ends with one value, the one both were given. */
    pthread_barrier_init(&go, NULL, 2);
    r1.go = r2.go = &go;
    assert_int_equal(pthread_create(&t1, NULL, secret_racer, &r1), 0);
    assert_int_equal(pthread_create(&t2, NULL, secret_racer, &r2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&go);
    if (r1.failed || r2.failed)
        fail_msg("secret race: %s / %s", r1.e.msg, r2.e.msg);
    for (int i = 0; i < 20; i++) {
        char name[32];

        snprintf(name, sizeof(name), "race-%d", i);
        assert_string_equal(r1.got[i], r2.got[i]);
        v = secret_of(s, "a", name, "three");
        assert_string_equal(v, r1.got[i]);
        free(v);
        free(r1.got[i]);
        free(r2.got[i]);
    }
    assert_int_equal(raw_int("SELECT COUNT(*) FROM secrets"), 23);
    store_close(s2);
    store_close(s);
}

static void a_renewal_window_is_set_replaced_and_per_tenant(void **state)
{
    struct store *s = open_store();
    struct renewal_window_rec w = {.serial = "0a", .start = 100, .end = 200, .created = 1},
                              *got = NULL;
    struct store_tx *tx;
    struct err e;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    tx = begin(s);
    assert_int_equal(store_renewal_window_get(tx, "a", "0a", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_renewal_window_put(tx, "a", &w, &e), 0);
    assert_int_equal(store_renewal_window_get(tx, "a", "0a", &got, &e), 0);
    assert_true(got->start == 100 && got->end == 200 && got->created == 1);
    assert_null(got->reason);
    renewal_window_rec_free(got);
    w.start = 50;
    w.end = 60;
    w.reason = "key compromise suspected";
    w.created = 2;
    assert_int_equal(store_renewal_window_put(tx, "a", &w, &e), 0);
    commit(tx);
    tx = begin_read(s);
    assert_int_equal(store_renewal_window_get(tx, "a", "0a", &got, &e), 0);
    assert_string_equal(got->tenant, "a");
    assert_string_equal(got->serial, "0a");
    assert_true(got->start == 50 && got->end == 60 && got->created == 2);
    assert_string_equal(got->reason, "key compromise suspected");
    renewal_window_rec_free(got);
    assert_int_equal(store_renewal_window_get(tx, "a", "0b", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(store_renewal_window_get(tx, "b", "0a", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    store_rollback(tx);
    store_close(s);
}

/* One of the ACME gets that hold their row in a write transaction, by kind 0..3. */
static int acme_get_held(struct store_tx *tx, int kind, struct err *e)
{
    struct acme_eab_rec *eab = NULL;
    struct acme_account_rec *acct = NULL;
    struct acme_order_rec *ord = NULL;
    struct acme_authz_rec *az = NULL;
    int rc;

    switch (kind) {
    case 0:
        rc = store_acme_eab_get(tx, "a", "ep", "kid-1", &eab, e);
        break;
    case 1:
        rc = store_acme_account_get(tx, "a", "ep", "acct-1", &acct, e);
        break;
    case 2:
        rc = store_acme_order_get(tx, "a", "ep", "ord-1", &ord, e);
        break;
    default:
        rc = store_acme_authz_get(tx, "a", "ep", "authz-1", &az, e);
        break;
    }
    acme_eab_rec_free(eab);
    acme_account_rec_free(acct);
    acme_order_rec_free(ord);
    acme_authz_rec_free(az);
    return rc;
}

struct held_get {
    struct store *s;
    int kind, rc;
    atomic_int done;
};

static void *second_get(void *p)
{
    struct held_get *h = p;
    struct store_tx *tx;
    struct err e;

    h->rc = (tx = store_begin(h->s, &e)) != NULL ? acme_get_held(tx, h->kind, &e) : -1;
    store_rollback(tx);
    atomic_store(&h->done, 1);
    return NULL;
}

/*
 * An EAB credential, account, order or authorization read in a write
 * transaction stays held until it ends: another write transaction reading it
 * waits (PostgreSQL: FOR UPDATE; SQLite: its one writer).
 */
static void acme_rows_read_to_change_are_held_until_commit(void **state)
{
    struct store *s = open_store();
    pthread_t th;
    (void)state;
    tenant_make(s, "a");
    populate_acme(s, "a");
    for (int kind = 0; kind < 4; kind++) {
        struct held_get h = {.s = s, .kind = kind};
        struct store_tx *tx = begin(s);
        struct err e;

        int waited;

        assert_int_equal(acme_get_held(tx, kind, &e), 0);
        assert_int_equal(pthread_create(&th, NULL, second_get, &h), 0);
        usleep(300 * 1000);
        waited = !atomic_load(&h.done);
        commit(tx); /* before any assertion, which would leave it open */
        pthread_join(th, NULL);
        assert_true(waited);
        assert_int_equal(h.rc, 0);
    }
    /* A read transaction does not wait. */
    {
        struct store_tx *tx = begin(s), *rd;
        struct err e;

        assert_int_equal(acme_get_held(tx, 0, &e), 0);
        rd = begin_read(s);
        for (int kind = 0; kind < 4; kind++)
            assert_int_equal(acme_get_held(rd, kind, &e), 0);
        store_rollback(rd);
        store_rollback(tx);
    }
    store_close(s);
}

static void another_tenant_sees_no_acme_records_and_a_purge_removes_them(void **state)
{
    struct store *s = open_store();
    struct store_tx *tx;
    struct err e;
    char *v;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    populate_acme(s, "a");
    assert_tenant_sees_no_acme(s, "b");
    assert_tenant_sees_no_acme(s, "c");
    populate_acme(s, "b"); /* b's own records of the same names */
    tx = begin(s);
    assert_int_equal(store_tenant_purge(tx, "a", &e), 0);
    commit(tx);
    assert_tenant_sees_no_acme(s, "a");
    v = secret_of(s, "a", "acme-nonce", "new");
    assert_string_equal(v, "new");
    free(v);
    v = secret_of(s, "b", "acme-nonce", "new");
    assert_string_equal(v, "s3cret");
    free(v);
    tx = begin(s);
    assert_int_equal(store_acme_nonce_use(tx, "a", "nonce-1", 5000, &e), 0);
    assert_int_equal(store_acme_nonce_use(tx, "b", "nonce-1", 5000, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    store_rollback(tx);
    store_close(s);
}

/* ---- PostgreSQL: row-level security ------------------------------------------ */

/* One integer through the application role's own connection, after `set` (may be ""). */
static int64_t app_int(const char *set, const char *sql)
{
    PGconn *db = PQconnectdb(pg_url);
    PGresult *res;
    int64_t v = -1;

    if (PQstatus(db) != CONNECTION_OK)
        fail_msg("%s", PQerrorMessage(db));
    PQclear(PQexec(db, "BEGIN"));
    PQclear(PQexec(db, set));
    res = PQexec(db, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(db);
    return v;
}

static void a_query_with_another_tenants_setting_sees_nothing(void **state)
{
    struct store *s;
    struct err e;
    (void)state;
    if (pg_url == NULL)
        skip();
    s = open_store();
    tenant_make(s, "a");
    tenant_make(s, "b");
    assert_int_equal(cert_put(s, "a", "0a", 5000, &e), 0);
    assert_int_equal(cert_put(s, "a", "0b", 5000, &e), 0);
    assert_int_equal(cert_put(s, "b", "0c", 5000, &e), 0);
    /* The same queries without "WHERE tenant": the policy alone decides. */
    assert_int_equal(app_int("SET LOCAL vouch.tenant = 'a'", "SELECT COUNT(*) FROM certs"), 2);
    assert_int_equal(app_int("SET LOCAL vouch.tenant = 'b'", "SELECT COUNT(*) FROM certs"), 1);
    assert_int_equal(app_int("SET LOCAL vouch.tenant = 'c'", "SELECT COUNT(*) FROM certs"), 0);
    assert_int_equal(app_int("", "SELECT COUNT(*) FROM certs"), 0);
    assert_int_equal(app_int("SET LOCAL vouch.tenant = 'b'", "SELECT COUNT(*) FROM ocsp_responses"),
                     1);
    assert_int_equal(app_int("SET LOCAL vouch.tenant = 'b'", "SELECT COUNT(*) FROM tenants"), 1);
    /* The cross-tenant exemption reads tenants and tokens only, and writes nothing. */
    assert_int_equal(app_int("SET LOCAL vouch.cross_tenant = 'on'", "SELECT COUNT(*) FROM tenants"),
                     2);
    assert_int_equal(app_int("SET LOCAL vouch.cross_tenant = 'on'", "SELECT COUNT(*) FROM certs"),
                     0);
    /* Writing another tenant's row, or changing one, is refused or touches nothing. */
    assert_int_equal(app_int("SET LOCAL vouch.tenant = 'b'",
                             "WITH u AS (UPDATE certs SET status = 'revoked' WHERE tenant = 'a' "
                             "RETURNING 1) SELECT COUNT(*) FROM u"),
                     0);
    assert_int_equal(app_int("SET LOCAL vouch.tenant = 'b'",
                             "WITH i AS (INSERT INTO tenants VALUES ('a2', 'active', 1) "
                             "RETURNING 1) SELECT COUNT(*) FROM i"),
                     -1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM certs WHERE status = 'revoked'"), 0);
    store_close(s);
}

/*
 * Every table with a tenant column has it first in its primary key and every
 * index, but the token hash's (the one lookup across tenants), and on
 * PostgreSQL has the wall of row-level security, enabled and forced.
 */
static void every_tenant_table_leads_its_indexes_with_tenant_and_has_the_wall(void **state)
{
    struct store *s = open_store();
    (void)state;
    if (pg_url == NULL) {
        assert_int_equal(
            raw_int("SELECT COUNT(*) FROM sqlite_master m, pragma_index_list(m.name) l,"
                    " pragma_index_info(l.name) i WHERE m.type = 'table' AND i.seqno = 0"
                    " AND i.name <> 'tenant' AND EXISTS (SELECT 1 FROM"
                    " pragma_table_info(m.name) c WHERE c.name = 'tenant')"),
            1);
        assert_int_equal(
            raw_int("SELECT COUNT(*) FROM sqlite_master m, pragma_index_list(m.name) l,"
                    " pragma_index_info(l.name) i WHERE m.name = 'tokens'"
                    " AND i.seqno = 0 AND i.name = 'hash'"),
            1);
        store_close(s);
        return;
    }
    assert_int_equal(
        raw_int("SELECT COUNT(*) FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
                " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]"
                " WHERE t.relnamespace = 'public'::regnamespace AND a.attname <> 'tenant'"
                " AND EXISTS (SELECT 1 FROM pg_attribute c WHERE c.attrelid = t.oid"
                " AND c.attname = 'tenant' AND NOT c.attisdropped)"),
        1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
                             " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]"
                             " WHERE t.relname = 'tokens' AND a.attname = 'hash'"),
                     1);
    assert_true(raw_int("SELECT COUNT(*) FROM pg_class t WHERE t.relkind = 'r'"
                        " AND t.relnamespace = 'public'::regnamespace AND EXISTS (SELECT 1 FROM"
                        " pg_attribute c WHERE c.attrelid = t.oid AND c.attname = 'tenant')") >=
                30);
    assert_int_equal(
        raw_int("SELECT COUNT(*) FROM pg_class t WHERE t.relkind = 'r'"
                " AND t.relnamespace = 'public'::regnamespace AND EXISTS (SELECT 1 FROM"
                " pg_attribute c WHERE c.attrelid = t.oid AND c.attname = 'tenant')"
                " AND NOT (t.relrowsecurity AND t.relforcerowsecurity AND EXISTS"
                " (SELECT 1 FROM pg_policy p WHERE p.polrelid = t.oid"
                " AND p.polname = 'wall'))"),
        0);
    store_close(s);
}

/* A connection of the test's own to the database, for raw_prepare. */
struct raw_db {
    PGconn *pg;
    sqlite3 *lite;
};

/* Prepares sql on db; fails the test if it does not. */
static void raw_prepare(struct raw_db *db, const char *sql)
{
    if (db->pg != NULL) {
        PGresult *res = PQprepare(db->pg, "", sql, 0, NULL);

        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            fail_msg("%s: %s", sql, PQerrorMessage(db->pg));
        PQclear(res);
    } else {
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL) != SQLITE_OK)
            fail_msg("%s: %s", sql, sqlite3_errmsg(db->lite));
        sqlite3_finalize(st);
    }
}

/*
 * Every query text of the backend's dialect, its record column lists
 * expanded, and every search with no filter and with all of them, compiles
 * against the migrated schema: a column of a record type that its table
 * lacks shows here, whether or not a test runs that query.
 */
static void every_query_of_the_dialect_compiles_against_the_schema(void **state)
{
    const struct db_dialect *d = pg_url != NULL ? &pg_dialect : &sqlite_dialect;
    struct raw_db db = {0};
    struct store *s;
    char *const *queries;
    char *text;
    unsigned all;
    (void)state;
    s = open_store();
    if (pg_url != NULL)
        assert_int_equal(PQstatus(db.pg = PQconnectdb(pg_url)), CONNECTION_OK);
    else
        assert_int_equal(sqlite3_open(path, &db.lite), SQLITE_OK);
    queries = db_queries(d);
    for (int q = 0; q < Q_COUNT; q++)
        /* FETCH and CLOSE name a cursor that exists only inside a transaction. */
        if (queries[q] != NULL && q != Q_CRL_ENTRIES_FETCH && q != Q_CRL_ENTRIES_CLOSE)
            raw_prepare(&db, queries[q]);
    for (int i = 0; i < SEARCH_COUNT; i++) {
        all = (1u << store_searches[i].nfilters) - 1;
        text = db_search_text(d, (enum search_id)i, 0);
        raw_prepare(&db, text);
        free(text);
        text = db_search_text(d, (enum search_id)i, all);
        raw_prepare(&db, text);
        free(text);
    }
    PQfinish(db.pg);
    sqlite3_close(db.lite);
    store_close(s);
}

static void a_role_that_bypasses_row_level_security_is_refused(void **state)
{
    struct err e;
    (void)state;
    if (pg_url == NULL)
        skip();
    assert_null(store_open(pg_admin_url, &e));
    assert_non_null(strstr(e.msg, "BYPASSRLS"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(migrations_run_on_a_new_file_and_reopen_is_stable),
        T(schema_6_tokens_become_principals_with_their_roles),
        T(schema_16_tokens_get_their_makers_from_the_audit),
        T(data_survives_close_and_reopen),
        T(a_file_from_a_newer_build_is_refused),
        T(a_file_versioned_by_user_version_is_adopted),
        T(crl_entries_follow_scope_cutoff_and_changes),
        T(crl_scopes_have_their_own_latest),
        T(crl_migration_keeps_existing_rows),
        T(bad_urls_are_refused),
        T(tenants_create_get_and_list),
        T(cas_insert_get_update_and_list),
        T(profile_versions_and_latest),
        T(entities_insert_update_and_search),
        T(certificate_round_trips_and_status_changes),
        T(ocsp_response_rows_follow_certificates_and_their_status),
        T(ocsp_responder_put_replaces),
        T(tsa_units_round_trip_per_tenant),
        T(tsa_tokens_are_unique_per_unit_and_searchable),
        T(duplicate_serial_is_a_conflict_and_writes_nothing),
        T(notices_are_due_once_per_nearest_threshold_and_stop_at_renewal),
        T(other_constraint_failures_are_internal_errors),
        T(search_by_each_field_and_expiry_window),
        T(search_limit_defaults_to_100_and_stops_at_1000),
        T(revoked_list_honours_the_expiry_cutoff),
        T(crl_numbers_strictly_increase_across_reopen),
        T(crl_insert_and_latest),
        T(tokens_insert_find_list_and_delete),
        T(principals_bindings_and_token_revocation_stay_in_their_tenant),
        T(a_client_certificate_maps_to_its_principal),
        T(another_tenant_sees_and_changes_nothing),
        T(rollback_leaves_nothing),
        T(savepoint_rollback_keeps_the_rest_of_the_transaction),
        T(a_read_transaction_sees_one_snapshot),
        T(concurrent_writers_all_succeed),
        T(a_third_transaction_waits_for_one_of_two_connections),
        T(more_threads_than_connections_wait_their_turn),
        T(a_lease_is_held_by_one_node_until_it_runs_out),
        T(live_node_leases_are_counted_by_prefix),
        T(idempotency_keys_are_unique_per_tenant_until_they_expire),
        T(a_tenant_is_updated_counted_and_purged_alone),
        T(workflows_requests_and_webhook_events_round_trip_per_tenant),
        T(offline_imports_are_found_by_sequence_and_unique_per_source),
        T(acme_endpoints_round_trip_and_names_are_unique_per_tenant),
        T(eab_credentials_are_unique_per_endpoint_and_listed_by_kid),
        T(enrollment_endpoints_and_credentials_round_trip_per_tenant),
        T(an_account_key_is_one_accounts_per_endpoint),
        T(acme_orders_round_trip_and_list_newest_first),
        T(acme_orders_and_authorizations_are_pruned_after_they_expired),
        T(acme_authorizations_are_reused_and_stalled_ones_found),
        T(a_nonce_is_used_once_per_tenant_until_pruned),
        T(cmp_transactions_and_nonces_are_filed_once_until_pruned),
        T(a_secret_is_the_first_value_filed_from_any_connection),
        T(a_renewal_window_is_set_replaced_and_per_tenant),
        T(acme_rows_read_to_change_are_held_until_commit),
        T(another_tenant_sees_no_acme_records_and_a_purge_removes_them),
        T(a_query_with_another_tenants_setting_sees_nothing),
        T(every_query_of_the_dialect_compiles_against_the_schema),
        T(every_tenant_table_leads_its_indexes_with_tenant_and_has_the_wall),
        T(a_role_that_bypasses_row_level_security_is_refused),
    };
#undef T
    pg_url = getenv("VOUCH_TEST_STORE_URL");
    pg_admin_url = getenv("VOUCH_TEST_STORE_ADMIN_URL");
    if (pg_url != NULL && strncmp(pg_url, "sqlite:", 7) == 0)
        pg_url = NULL;
    if (pg_url != NULL && pg_admin_url == NULL) {
        fprintf(stderr, "VOUCH_TEST_STORE_ADMIN_URL: needed with a PostgreSQL store URL\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
