/*
 * test_svc_faults.c — fault injection in the SQLite tradition (issue 22,
 * point 8): every state-changing operation of the door (and approvals and CRL
 * generation) is run again and again with the Nth statement step or commit of
 * a write transaction failing (store_fault.h), for N = 1, 2, ... until the
 * operation runs without reaching the fault.  After each failed run the
 * database holds exactly what it held before (every table's rows hashed; the
 * audit chain may only have gained events that record a failure), the audit
 * chain verifies and SQLite's foreign keys hold; after the last run the
 * operation is there, whole.  On a real SQLite file with a real signer; under
 * make unit-pg on the run's PostgreSQL server (VOUCH_TEST_STORE_URL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/store_fault.h"
#include "svc/svc.h"

#define T        "t1"
#define MAX_RUNS 400 /* faults tried per operation at most: an operation has far fewer events */

static const char *const admin_roles[] = {"tenant-admin", "ca-operator", "ra-officer"};
static const char *const requester_roles[] = {"requester"};
static const char *const officer_roles[] = {"ra-officer"};
static const struct actor internal = {.id = "test"};
static const struct actor admin = {
    .id = "tok-adm", .principal = "p-adm", .roles = admin_roles, .nroles = 3};
static const struct actor requester = {
    .id = "tok-req", .principal = "p-req", .roles = requester_roles, .nroles = 1};
static const struct actor officer = {
    .id = "tok-o1", .principal = "p-o1", .roles = officer_roles, .nroles = 1};

static char dir[64], db_path[128];
static const char *pg_url, *pg_admin_url; /* set (make unit-pg): the store is PostgreSQL */
static struct signer *signer;
static struct store *store;
static struct svc *svc;

/* ---- the database as it is ----------------------------------------------------- */

/* Tables whose rows a failed operation may change: none but the audit log (checked apart). */
static int table_skipped(const char *name)
{
    return strcmp(name, "audit") == 0 || strncmp(name, "sqlite_", 7) == 0;
}

/* Runs sql as PostgreSQL's superuser (past row-level security); the result (caller clears). */
static PGresult *pg_admin(const char *sql)
{
    PGconn *db = PQconnectdb(pg_admin_url);
    PGresult *res;

    if (PQstatus(db) != CONNECTION_OK)
        fail_msg("%s", PQerrorMessage(db));
    res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQfinish(db);
    return res;
}

/* The same digest on PostgreSQL: each table's rows as text, sorted, hashed by the server. */
static void pg_digest(unsigned char out[32])
{
    PGresult *tables = pg_admin("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                "AND tablename <> 'audit' ORDER BY 1");
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (int i = 0; i < PQntuples(tables); i++) {
        const char *name = PQgetvalue(tables, i, 0);
        char *sql = xasprintf("SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY "
                              "t::text)), '') FROM \"%s\" t",
                              name);
        PGresult *r = pg_admin(sql);
        EVP_DigestUpdate(md, name, strlen(name) + 1);
        EVP_DigestUpdate(md, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)) + 1);
        EVP_DigestUpdate(md, PQgetvalue(r, 0, 1), strlen(PQgetvalue(r, 0, 1)) + 1);
        PQclear(r);
        free(sql);
    }
    PQclear(tables);
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
}

/* SHA-256 of every row of every table (but the audit log), in one digest. */
static void db_digest(unsigned char out[32])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *tables = NULL;
    EVP_MD_CTX *md;

    if (pg_url != NULL) {
        pg_digest(out);
        return;
    }
    md = EVP_MD_CTX_new();
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "ORDER BY name",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        sqlite3_stmt *rows = NULL;
        char *sql;
        if (table_skipped(name))
            continue;
        sql = xasprintf("SELECT * FROM \"%s\" ORDER BY rowid", name);
        if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK) { /* WITHOUT ROWID */
            free(sql);
            sql = xasprintf("SELECT * FROM \"%s\" ORDER BY 1, 2", name);
            assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
        }
        EVP_DigestUpdate(md, name, strlen(name) + 1);
        while (sqlite3_step(rows) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                int type = sqlite3_column_type(rows, c), n = sqlite3_column_bytes(rows, c);
                const void *p = sqlite3_column_blob(rows, c);
                EVP_DigestUpdate(md, &type, sizeof(type));
                EVP_DigestUpdate(md, &n, sizeof(n));
                if (p != NULL && n > 0)
                    EVP_DigestUpdate(md, p, (size_t)n);
            }
        sqlite3_finalize(rows);
        free(sql);
    }
    sqlite3_finalize(tables);
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    sqlite3_close(db);
}

/* How many of the tenant's audit events there are; and of them, how many have result "ok". */
static void audit_counts(int64_t *all, int64_t *ok)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    if (pg_url != NULL) {
        PGresult *r =
            pg_admin("SELECT count(*), coalesce(sum((result = 'ok')::int), 0) FROM audit");
        *all = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        *ok = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        return;
    }
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), coalesce(sum(result = 'ok'), 0) FROM "
                                        "audit",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *all = sqlite3_column_int64(st, 0);
    *ok = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Foreign keys hold, and the tenant's audit chain (with its checkpoints) verifies. */
static void integrity_holds(const char *what, long n)
{
    struct svc_audit_verdict v;
    struct err e;

    if (pg_url == NULL) { /* PostgreSQL checks its foreign keys at every statement */
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 10000);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL),
                         SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
            fail_msg("%s, fault %ld: table %s row %lld points at a missing %s row", what, n,
                     sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1),
                     sqlite3_column_text(st, 2));
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    if (svc_audit_verify(svc, T, &v, &e) != 0)
        fail_msg("%s, fault %ld: audit verify: %s", what, n, e.msg);
    if (!v.ok)
        fail_msg("%s, fault %ld: the audit chain does not verify at %lld: %s", what, n,
                 (long long)v.bad_seq, v.reason);
}

/* ---- the runs -------------------------------------------------------------------- */

/* An operation under test: runs once, 0 when it was done (its result checked by itself). */
typedef int (*op_fn)(void *arg, struct err *e);

/*
 * Runs op with the Nth event failing for N = 1, 2, ... until a run reaches no
 * fault; every failed run must have changed nothing but failure records.  The
 * number of runs with a fault.
 */
static long faults_over(const char *what, op_fn op, void *arg)
{
    long n;

    for (n = 1; n <= MAX_RUNS; n++) {
        unsigned char before[32], after[32];
        int64_t all0, ok0, all1, ok1;
        char hit[200];
        struct err e;
        int rc, fired;

        db_digest(before);
        audit_counts(&all0, &ok0);
        err_clear(&e);
        store_fault_arm(n, STORE_FAULT_ANY);
        rc = op(arg, &e);
        fired = store_fault_fired();
        snprintf(hit, sizeof(hit), "%s", store_fault_what());
        store_fault_arm(0, 0);
        if (!fired) {
            if (rc != 0)
                fail_msg("%s: fails with no fault: %s", what, e.msg);
            integrity_holds(what, n);
            print_message("%s: %ld faults, each left nothing\n", what, n - 1);
            return n - 1;
        }
        if (rc == 0) {
            /* Done, and the fault came after: in work that follows the operation's commit and
               may fail without harm (an OCSP response re-signed at once rather than on demand,
               say).  The operation checked itself whole; every later fault is later still. */
            integrity_holds(what, n);
            print_message("%s: %ld faults left nothing; fault %ld hit %s after it was done\n", what,
                          n - 1, n, hit);
            return n;
        }
        db_digest(after);
        audit_counts(&all1, &ok1);
        if (memcmp(before, after, 32) != 0)
            fail_msg("%s, fault %ld (%s): the failed operation changed the database", what, n,
                     e.msg);
        if (ok1 != ok0)
            fail_msg("%s, fault %ld (%s): %lld event(s) audited as done", what, n, e.msg,
                     (long long)(ok1 - ok0));
        integrity_holds(what, n);
    }
    fail_msg("%s: still reaching a fault after %d runs", what, MAX_RUNS);
    return -1;
}

#include "csr_make.h"

/* One door operation; its outcome's main record checked to be there. */
struct door_run {
    const struct actor *actor;
    struct svc_op op;
    char *serial; /* a certificate made: its serial (caller frees) */
    int pending;  /* it waits for approval: its request id in request */
    char *request;
};

/* The operation's record as it must be once it is done: 0, or -1 with e set. */
static int door_whole(const struct door_run *d, struct err *e)
{
    static const struct {
        enum svc_op_kind kind;
        const char *status;
    } statuses[] = {{SVC_OP_CERT_ISSUE, "good"},     {SVC_OP_CERT_KEYGEN, "good"},
                    {SVC_OP_CERT_RENEW, "good"},     {SVC_OP_CERT_SUSPEND, "hold"},
                    {SVC_OP_CERT_REINSTATE, "good"}, {SVC_OP_CERT_REVOKE, "revoked"}};
    struct store_tx *tx = store_begin_read(store, e);
    struct cert_rec *c = NULL;
    struct ca_rec *ca = NULL;
    int rc = 0;

    if (tx == NULL)
        return -1;
    if (d->pending) {
        store_rollback(tx);
        return 0;
    }
    if (d->op.kind == SVC_OP_CA_CREATE) {
        if (store_ca_get(tx, T, d->op.ca_req.name, &ca, e) != 0)
            rc = -1;
        else if (strcmp(ca->status, "active") != 0)
            rc = err_set(e, ERR_INTERNAL, "CA %s is %s", ca->name, ca->status);
    } else {
        const char *serial = d->op.kind == SVC_OP_CERT_ISSUE || d->op.kind == SVC_OP_CERT_KEYGEN ||
                                     d->op.kind == SVC_OP_CERT_RENEW
                                 ? d->serial
                                 : d->op.serial;
        if (serial == NULL || store_cert_get(tx, T, serial, &c, e) != 0)
            rc = serial == NULL ? err_set(e, ERR_INTERNAL, "no certificate") : -1;
        for (size_t i = 0; rc == 0 && i < ARRAY_LEN(statuses); i++)
            if (statuses[i].kind == d->op.kind && strcmp(c->status, statuses[i].status) != 0)
                rc = err_set(e, ERR_INTERNAL, "certificate %s is %s, not %s", serial, c->status,
                             statuses[i].status);
    }
    store_rollback(tx);
    cert_rec_free(c);
    ca_rec_free(ca);
    return rc;
}

static int door(void *arg, struct err *e)
{
    struct door_run *d = arg;
    struct svc_outcome out;

    if (svc_submit(svc, d->actor, T, &d->op, NULL, &out, e) != 0)
        return -1;
    d->pending = out.pending;
    if (out.cert != NULL) {
        free(d->serial);
        d->serial = xstrdup(out.cert->serial);
    }
    if (out.request != NULL) {
        free(d->request);
        d->request = xstrdup(out.request->id);
    }
    svc_outcome_clear(&out);
    if (door_whole(d, e) != 0)
        fail_msg("%s done but not whole: %s", svc_op_name(d->op.kind), e->msg);
    return 0;
}

static char *issue(const char *cn)
{
    char *csr = csr_make(cn);
    struct door_run d = {
        .actor = &admin,
        .op = {.kind = SVC_OP_CERT_ISSUE, .ca = "root", .profile = "tls-server", .csr = csr}};
    struct err e;

    if (door(&d, &e) != 0)
        fail_msg("issue: %s", e.msg);
    free(csr);
    return d.serial;
}

static int group_setup(void **state)
{
    struct signer_config sc = {0};
    struct svc_config cfg = {
        .public_url = "http://127.0.0.1:1", .node = "test:1", .ocsp_outage_seconds = 6};
    char keys[96], kek[96], url[512];
    struct svc_outcome out;
    struct svc_op root = {.kind = SVC_OP_CA_CREATE,
                          .ca_req = {.name = "root", .subject = "/CN=Fault Root", .path_len = -1}};
    struct err e;
    FILE *f;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vouch-test-faults-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    snprintf(kek, sizeof(kek), "%s/kek", dir);
    snprintf(db_path, sizeof(db_path), "%s/t.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", db_path);
    pg_url = getenv("VOUCH_TEST_STORE_URL");
    pg_admin_url = getenv("VOUCH_TEST_STORE_ADMIN_URL");
    if (pg_url != NULL) { /* make unit-pg: a database of the run's PostgreSQL server */
        if (pg_admin_url == NULL)
            fail_msg("VOUCH_TEST_STORE_ADMIN_URL: needed with a PostgreSQL store URL");
        PQclear(pg_admin("DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION vouch"));
        snprintf(url, sizeof(url), "%s", pg_url);
    }
    if ((f = fopen(kek, "w")) == NULL)
        return -1;
    fputs("0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    sc.keystore_dir = keys;
    sc.kek_path = kek;
    sc.connections = 2;
    if ((signer = signer_start(&sc, &e)) == NULL || (store = store_open(url, &e)) == NULL)
        fail_msg("start: %s", e.msg);
    svc = svc_new(store, signer, &cfg);
    if (svc_tenant_create(svc, &internal, T, &e) != 0 ||
        svc_submit(svc, &internal, T, &root, NULL, &out, &e) != 0)
        fail_msg("setup: %s", e.msg);
    svc_outcome_clear(&out);
    return 0;
}

static int group_teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    int rc;

    (void)state;
    svc_free(svc);
    store_close(store);
    signer_stop(signer);
    rc = system(cmd);
    free(cmd);
    return rc;
}

/* ---- the operations ------------------------------------------------------------- */

static void issuance_is_whole_or_nothing(void **state)
{
    char *csr = csr_make("fault-issue.example");
    struct door_run d = {
        .actor = &admin,
        .op = {.kind = SVC_OP_CERT_ISSUE, .ca = "root", .profile = "tls-server", .csr = csr}};
    (void)state;
    assert_true(faults_over("cert.issue", door, &d) > 0);
    assert_non_null(d.serial);
    free(d.serial);
    free(csr);
}

static void keygen_is_whole_or_nothing(void **state)
{
    json_t *sans = json_pack("[s]", "dns:fault-kg.example");
    struct door_run d = {.actor = &admin,
                         .op = {.kind = SVC_OP_CERT_KEYGEN,
                                .ca = "root",
                                .profile = "tls-server",
                                .subject = "/CN=fault-kg.example",
                                .sans = sans,
                                .password = "a long password"}};
    (void)state;
    assert_true(faults_over("cert.keygen", door, &d) > 0);
    assert_non_null(d.serial);
    free(d.serial);
    json_decref(sans);
}

static void renewal_is_whole_or_nothing(void **state)
{
    char *old = issue("fault-renew.example");
    struct door_run d = {.actor = &admin, .op = {.kind = SVC_OP_CERT_RENEW, .serial = old}};
    (void)state;
    assert_true(faults_over("cert.renew", door, &d) > 0);
    assert_non_null(d.serial);
    assert_string_not_equal(d.serial, old);
    free(d.serial);
    free(old);
}

static void lifecycle_changes_are_whole_or_nothing(void **state)
{
    char *serial = issue("fault-life.example");
    struct door_run d = {.actor = &officer, .op = {.kind = SVC_OP_CERT_SUSPEND, .serial = serial}};
    (void)state;
    assert_true(faults_over("cert.suspend", door, &d) > 0);
    d.op.kind = SVC_OP_CERT_REINSTATE;
    assert_true(faults_over("cert.reinstate", door, &d) > 0);
    d.op = (struct svc_op){.kind = SVC_OP_CERT_REVOKE, .serial = serial, .reason = 1};
    assert_true(faults_over("cert.revoke", door, &d) > 0);
    free(d.serial);
    free(serial);
}

static void a_sub_ca_is_whole_or_nothing(void **state)
{
    struct door_run d = {.actor = &admin,
                         .op = {.kind = SVC_OP_CA_CREATE,
                                .ca_req = {.name = "fault-sub",
                                           .subject = "/CN=Fault Sub",
                                           .parent = "root",
                                           .path_len = -1}}};
    (void)state;
    assert_true(faults_over("ca.create", door, &d) > 0);
}

struct approval_run {
    const char *id;
};

static int approve(void *arg, struct err *e)
{
    struct approval_run *a = arg;
    struct request_rec *r = NULL;
    int rc = svc_request_approve(svc, &officer, T, a->id, &r, e);

    if (rc == 0 && strcmp(r->status, "done") != 0)
        rc = err_set(e, ERR_INTERNAL, "approved, but the request is %s", r->status);
    request_rec_free(r);
    return rc;
}

static void an_approval_carried_out_is_whole_or_nothing(void **state)
{
    char *csr = csr_make("fault-approved.example");
    struct door_run d = {
        .actor = &requester,
        .op = {.kind = SVC_OP_CERT_ISSUE, .ca = "root", .profile = "tls-server", .csr = csr}};
    struct approval_run a;
    struct err e;
    (void)state;
    if (svc_workflow_put(svc, &admin, T, "profile:tls-server", 1, NULL, 24, &e) != 0)
        fail_msg("workflow: %s", e.msg);
    assert_int_equal(door(&d, &e), 0);
    assert_true(d.pending);
    a.id = d.request;
    assert_true(faults_over("request.approve", approve, &a) > 0);
    if (svc_workflow_delete(svc, &admin, T, "profile:tls-server", &e) != 0)
        fail_msg("workflow delete: %s", e.msg);
    free(d.request);
    free(csr);
}

static int crl(void *arg, struct err *e)
{
    struct crl_rec *c = NULL;
    int rc = svc_crl_generate(svc, &admin, T, arg, &c, e);

    crl_rec_free(c);
    return rc;
}

static void a_crl_is_whole_or_nothing(void **state)
{
    (void)state;
    assert_true(faults_over("crl.generate", crl, "root") > 0);
}

/* ---- an outage of the database: OCSP from memory ----------------------------------- */

/* A DER OCSP request (one SHA-1 CertID) for the certificate serial of CA root. */
static unsigned char *ocsp_request_for(const char *serial, size_t *len)
{
    struct store_tx *tx;
    struct cert_rec *c = NULL;
    struct ca_rec *ca = NULL;
    const unsigned char *p;
    X509 *leaf, *issuer;
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    unsigned char *der = NULL;
    struct err e;
    int n;

    assert_non_null(tx = store_begin_read(store, &e));
    assert_int_equal(store_cert_get(tx, T, serial, &c, &e), 0);
    assert_int_equal(store_ca_get(tx, T, "root", &ca, &e), 0);
    store_rollback(tx);
    p = c->der;
    assert_non_null(leaf = d2i_X509(NULL, &p, (long)c->der_len));
    p = ca->cert_der;
    assert_non_null(issuer = d2i_X509(NULL, &p, (long)ca->cert_len));
    assert_non_null(OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha1(), leaf, issuer)));
    assert_true((n = i2d_OCSP_REQUEST(req, &der)) > 0);
    *len = (size_t)n;
    OCSP_REQUEST_free(req);
    X509_free(leaf);
    X509_free(issuer);
    cert_rec_free(c);
    ca_rec_free(ca);
    return der;
}

/* The answer's responseStatus, and its bytes (caller frees) in *der if asked. */
static int ocsp_ask(const unsigned char *req, size_t len, unsigned char **der, size_t *der_len)
{
    struct ocsp_answer a;
    int status;

    svc_ocsp_answer(svc, T, "root", req, len, &a);
    status = a.status;
    if (der != NULL) {
        *der = xmalloc(a.len);
        memcpy(*der, a.der, a.len);
        *der_len = a.len;
    }
    svc_ocsp_answer_clear(&a);
    return status;
}

/*
 * While the database cannot be reached OCSP answers from memory what it read
 * within ocsp_outage_seconds (the same bytes), tryLater for what it never read
 * and for all of it once the window has passed; answers from the database again
 * when it is back.
 */
static void ocsp_answers_from_memory_through_a_database_outage(void **state)
{
    char *read = issue("outage-read.example"), *unread = issue("outage-unread.example");
    size_t len1, len2, first_len, again_len;
    unsigned char *req1 = ocsp_request_for(read, &len1), *req2 = ocsp_request_for(unread, &len2);
    unsigned char *first = NULL, *again = NULL;
    struct err e;
    (void)state;
    assert_true(svc_ocsp_tick(svc, 1000, &e) >= 0);                /* both pre-signed */
    assert_int_equal(ocsp_ask(req1, len1, &first, &first_len), 0); /* read: now in memory */

    store_fault_outage(1);
    sleep(3); /* past ocsp_cache_seconds (2): only the outage lets it be served from memory */
    assert_int_equal(ocsp_ask(req1, len1, &again, &again_len), 0);
    assert_int_equal(again_len, first_len);
    assert_memory_equal(again, first, first_len);
    assert_int_equal(ocsp_ask(req2, len2, NULL, NULL), OCSP_RESPONSE_STATUS_TRYLATER);
    sleep(4); /* past ocsp_outage_seconds (6) since it was read */
    assert_int_equal(ocsp_ask(req1, len1, NULL, NULL), OCSP_RESPONSE_STATUS_TRYLATER);
    store_fault_outage(0);

    assert_int_equal(ocsp_ask(req1, len1, NULL, NULL), 0);
    assert_int_equal(ocsp_ask(req2, len2, NULL, NULL), 0);
    free(first);
    free(again);
    OPENSSL_free(req1);
    OPENSSL_free(req2);
    free(read);
    free(unread);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(issuance_is_whole_or_nothing),
        cmocka_unit_test(keygen_is_whole_or_nothing),
        cmocka_unit_test(renewal_is_whole_or_nothing),
        cmocka_unit_test(lifecycle_changes_are_whole_or_nothing),
        cmocka_unit_test(a_sub_ca_is_whole_or_nothing),
        cmocka_unit_test(an_approval_carried_out_is_whole_or_nothing),
        cmocka_unit_test(a_crl_is_whole_or_nothing),
        cmocka_unit_test(ocsp_answers_from_memory_through_a_database_outage),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
