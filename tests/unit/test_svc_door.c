/*
 * test_svc_door.c — the one door (svc_submit) and approvals carried out
 * inside svc, on a real SQLite file and a real signer process: every kind of
 * operation done directly; waiting for approval, then approved (the record
 * and the request's state committed together: a fault injected in either
 * write leaves neither), rejected, expired; idempotent replay of each kind;
 * the same from two store connections (two nodes) at once; requests stored
 * before schema 14 still carried out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "svc/svc.h"

#define T "t1"

static const char *const requester_roles[] = {"requester"};
static const char *const officer_roles[] = {"ra-officer"};
static const char *const admin_roles[] = {"tenant-admin", "ca-operator", "ra-officer"};
static const struct actor internal = {.id = "test"};
static const struct actor requester = {
    .id = "tok-req", .principal = "p-req", .roles = requester_roles, .nroles = 1};
static const struct actor other_requester = {
    .id = "tok-other", .principal = "p-other", .roles = requester_roles, .nroles = 1};
static const struct actor officer1 = {
    .id = "tok-o1", .principal = "p-o1", .roles = officer_roles, .nroles = 1};
static const struct actor officer2 = {
    .id = "tok-o2", .principal = "p-o2", .roles = officer_roles, .nroles = 1};
static const struct actor admin = {
    .id = "tok-adm", .principal = "p-adm", .roles = admin_roles, .nroles = 3};

struct fixture {
    char dir[64];
    char url[128];
    struct signer *signer;
    struct store *store;
    struct svc *svc;
};

static void file_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static struct svc *svc_open(struct fixture *f, struct store **store)
{
    struct svc_config cfg = {.public_url = "http://127.0.0.1:1", .node = "test:1"};
    struct err e;

    if ((*store = store_open(f->url, &e)) == NULL)
        fail_msg("store_open: %s", e.msg);
    return svc_new(*store, f->signer, &cfg);
}

/* A root CA "root" of tenant t1, made through the door. */
static void root_make(struct svc *s)
{
    struct svc_op op = {.kind = SVC_OP_CA_CREATE,
                        .ca_req = {.name = "root", .subject = "/CN=Door Root", .path_len = -1}};
    struct svc_outcome out;
    struct err e;

    if (svc_submit(s, &internal, T, &op, NULL, &out, &e) != 0)
        fail_msg("root: %s", e.msg);
    assert_false(out.pending);
    assert_non_null(out.ca);
    assert_string_equal(out.ca->status, "active");
    svc_outcome_clear(&out);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct signer_config sc = {0};
    char keys[96], kek[96];
    struct err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/vouch-test-door-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(keys, sizeof(keys), "%s/keys", f->dir);
    snprintf(kek, sizeof(kek), "%s/kek", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s/t.db", f->dir);
    file_put(kek, "0123456789abcdef0123456789abcdef0123456789abcdef\n");
    sc.keystore_dir = keys;
    sc.kek_path = kek;
    sc.connections = 4;
    if ((f->signer = signer_start(&sc, &e)) == NULL)
        fail_msg("signer_start: %s", e.msg);
    f->svc = svc_open(f, &f->store);
    if (svc_tenant_create(f->svc, &internal, T, &e) != 0)
        fail_msg("tenant: %s", e.msg);
    root_make(f->svc);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    int rc;

    svc_free(f->svc);
    store_close(f->store);
    signer_stop(f->signer);
    rc = system(cmd);
    free(cmd);
    free(f);
    return rc;
}

/* ---- helpers -------------------------------------------------------------------- */

#include "csr_make.h"

/* An issuance from root under tls-server for cn (csr held by the caller). */
static struct svc_op issue_op(const char *csr)
{
    struct svc_op op = {
        .kind = SVC_OP_CERT_ISSUE, .ca = "root", .profile = "tls-server", .csr = csr};
    return op;
}

static struct svc_outcome submit_ok(struct svc *s, const struct actor *a, const struct svc_op *op,
                                    const char *key)
{
    struct svc_outcome out;
    struct err e;

    if (svc_submit(s, a, T, op, key, &out, &e) != 0)
        fail_msg("%s: %s", svc_op_name(op->kind), e.msg);
    return out;
}

/* Issues for cn now and returns the serial (caller frees). */
static char *issue_now(struct fixture *f, const struct actor *a, const char *cn)
{
    char *csr = csr_make(cn), *serial;
    struct svc_op op = issue_op(csr);
    struct svc_outcome out = submit_ok(f->svc, a, &op, NULL);

    assert_false(out.pending);
    serial = xstrdup(out.cert->serial);
    svc_outcome_clear(&out);
    free(csr);
    return serial;
}

/* How many certificates of the tenant have subject containing cn. */
static int certs_named(struct fixture *f, const char *cn)
{
    struct cert_query q = {.subject = cn, .limit = 1000};
    struct cert_rec **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;

    assert_non_null(tx = store_begin_read(f->store, &e));
    assert_int_equal(store_cert_search(tx, T, &q, &list, &n, &e), 0);
    store_rollback(tx);
    cert_rec_list_free(list, n);
    return (int)n;
}

static char *cert_status(struct fixture *f, const char *serial)
{
    struct cert_rec *r = NULL;
    struct store_tx *tx;
    struct err e;
    char *status;

    assert_non_null(tx = store_begin_read(f->store, &e));
    assert_int_equal(store_cert_get(tx, T, serial, &r, &e), 0);
    store_rollback(tx);
    status = xstrdup(r->status);
    cert_rec_free(r);
    return status;
}

static void status_is(struct fixture *f, const char *serial, const char *want)
{
    char *got = cert_status(f, serial);

    assert_string_equal(got, want);
    free(got);
}

static struct request_rec *request_read(struct fixture *f, const char *id)
{
    struct request_rec *r = NULL;
    struct err e;

    if (svc_request_get(f->svc, &internal, T, id, &r, &e) != 0)
        fail_msg("request %s: %s", id, e.msg);
    return r;
}

/* How many audit events of the tenant have action and result. */
static int audit_count(struct fixture *f, const char *action, const char *result)
{
    struct audit_rec **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    int count = 0;

    assert_non_null(tx = store_begin_read(f->store, &e));
    assert_int_equal(store_audit_list(tx, T, 0, 100000, &list, &n, &e), 0);
    store_rollback(tx);
    for (size_t i = 0; i < n; i++) {
        count += strcmp(list[i]->action, action) == 0 && strcmp(list[i]->result, result) == 0;
        audit_rec_free(list[i]);
    }
    free(list);
    return count;
}

static void workflow(struct fixture *f, const char *name, int required)
{
    struct err e;

    if (svc_workflow_put(f->svc, &admin, T, name, required, NULL, 24, &e) != 0)
        fail_msg("workflow %s: %s", name, e.msg);
}

/* Runs SQL on the database file directly (fault injection); 0 ok. */
static void sql(struct fixture *f, const char *text)
{
    sqlite3 *db = NULL;
    char *msg = NULL, path[128];

    snprintf(path, sizeof(path), "%s/t.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", text, msg);
    sqlite3_close(db);
}

/* ---- done directly ---------------------------------------------------------------- */

/* Each operation kind, with no workflow, is done at once and audited as itself. */
static void every_operation_kind_is_done_directly(void **state)
{
    struct fixture *f = *state;
    char *serial = issue_now(f, &requester, "direct.example");
    struct svc_op op = {.kind = SVC_OP_CERT_RENEW, .serial = serial};
    struct svc_outcome out = submit_ok(f->svc, &requester, &op, NULL);
    char *renewed = xstrdup(out.cert->serial);
    json_t *sans = json_pack("[s]", "dns:kg.example");

    assert_string_equal(out.cert->renewed_from, serial);
    svc_outcome_clear(&out);
    assert_int_equal(certs_named(f, "direct.example"), 2);

    op = (struct svc_op){.kind = SVC_OP_CERT_SUSPEND, .serial = renewed};
    out = submit_ok(f->svc, &officer1, &op, NULL);
    svc_outcome_clear(&out);
    status_is(f, renewed, "hold");
    op.kind = SVC_OP_CERT_REINSTATE;
    out = submit_ok(f->svc, &officer1, &op, NULL);
    svc_outcome_clear(&out);
    status_is(f, renewed, "good");
    op = (struct svc_op){.kind = SVC_OP_CERT_REVOKE, .serial = renewed, .reason = 1};
    out = submit_ok(f->svc, &officer1, &op, NULL);
    assert_int_equal(out.cert->reason, 1);
    svc_outcome_clear(&out);
    status_is(f, renewed, "revoked");

    op = (struct svc_op){.kind = SVC_OP_CERT_KEYGEN,
                         .ca = "root",
                         .profile = "tls-server",
                         .subject = "/CN=kg.example",
                         .sans = sans,
                         .password = "a long password"};
    out = submit_ok(f->svc, &admin, &op, NULL);
    assert_non_null(out.pkcs12);
    assert_true(out.pkcs12_len > 100);
    svc_outcome_clear(&out);

    op = (struct svc_op){
        .kind = SVC_OP_CA_CREATE,
        .ca_req = {.name = "sub", .subject = "/CN=Sub", .parent = "root", .path_len = -1}};
    out = submit_ok(f->svc, &admin, &op, NULL);
    assert_string_equal(out.ca->name, "sub");
    assert_string_equal(out.ca->parent, "root");
    svc_outcome_clear(&out);

    assert_int_equal(audit_count(f, "cert.issue", "ok"), 1);
    assert_int_equal(audit_count(f, "cert.renew", "ok"), 1);
    assert_int_equal(audit_count(f, "cert.suspend", "ok"), 1);
    assert_int_equal(audit_count(f, "cert.reinstate", "ok"), 1);
    assert_int_equal(audit_count(f, "cert.revoke", "ok"), 1);
    assert_int_equal(audit_count(f, "cert.keygen", "ok"), 1);
    assert_int_equal(audit_count(f, "ca.create", "ok"), 2);
    json_decref(sans);
    free(serial);
    free(renewed);
}

/* A suspended tenant makes nothing new through the door, whatever front end submits; it may
 * still revoke, suspend and reinstate, and makes things again once reactivated. */
static void a_suspended_tenant_creates_nothing_and_still_revokes(void **state)
{
    struct fixture *f = *state;
    char *serial = issue_now(f, &requester, "before.example"), *csr = csr_make("during.example");
    struct svc_op op = issue_op(csr);
    struct svc_outcome out;
    struct actor sys = {.id = "system"};
    struct err e;

    assert_int_equal(svc_tenant_suspend(f->svc, &sys, T, "unpaid", &e), 0);
    assert_int_equal(svc_submit(f->svc, &requester, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_non_null(strstr(e.msg, "not active"));
    op = (struct svc_op){.kind = SVC_OP_CERT_RENEW, .serial = serial};
    assert_int_equal(svc_submit(f->svc, &requester, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    op = (struct svc_op){
        .kind = SVC_OP_CA_CREATE,
        .ca_req = {.name = "late", .subject = "/CN=Late", .parent = "root", .path_len = -1}};
    assert_int_equal(svc_submit(f->svc, &admin, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(certs_named(f, "during.example"), 0);
    op = (struct svc_op){.kind = SVC_OP_CERT_REVOKE, .serial = serial, .reason = 1};
    out = submit_ok(f->svc, &officer1, &op, NULL);
    svc_outcome_clear(&out);
    status_is(f, serial, "revoked");
    assert_int_equal(svc_tenant_reactivate(f->svc, &sys, T, &e), 0);
    free(issue_now(f, &requester, "after.example"));
    free(serial);
    free(csr);
}

/* The door refuses for every caller alike, and records each refusal. */
static void refusals_are_checked_and_audited_in_the_door(void **state)
{
    struct fixture *f = *state;
    char *serial = issue_now(f, &requester, "mine.example");
    char *csr = csr_make("quota.example");
    struct svc_op op = {.kind = SVC_OP_CERT_RENEW, .serial = serial};
    struct svc_outcome out;
    struct err e;

    /* Another requester cannot even see it (its own certificates only). */
    assert_int_equal(svc_submit(f->svc, &other_requester, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    /* A serial is required; a bad key is refused before anything is read. */
    op.serial = NULL;
    assert_int_equal(svc_submit(f->svc, &requester, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    op = issue_op(csr);
    assert_int_equal(svc_submit(f->svc, &requester, T, &op, "has space", &out, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    /* The tenant's quota applies to every caller. */
    assert_int_equal(svc_tenant_set_limits(f->svc, &internal, T, 1, -1, &e), 0);
    assert_int_equal(svc_submit(f->svc, &requester, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_LIMIT);
    assert_int_equal(certs_named(f, "quota.example"), 0);
    assert_true(audit_count(f, "cert.renew", "refused") == 2);
    assert_true(audit_count(f, "cert.issue", "refused") == 2);
    free(csr);
    free(serial);
}

/* ---- approvals ------------------------------------------------------------------- */

/*
 * Under a workflow the operation waits; the approval that completes it
 * carries it out as the requester, and the certificate and the request's
 * "done" are there together.
 */
static void pending_then_approved_issues_once_as_the_requester(void **state)
{
    struct fixture *f = *state;
    char *csr = csr_make("wait.example");
    struct svc_op op = issue_op(csr);
    struct svc_outcome out;
    struct request_rec *r = NULL;
    json_t *result;
    struct err e;

    workflow(f, "profile:tls-server", 2);
    out = submit_ok(f->svc, &requester, &op, NULL);
    assert_true(out.pending);
    assert_string_equal(out.request->status, "pending");
    assert_string_equal(out.request->kind, "cert.issue");
    assert_string_equal(out.request->requester, "p-req");
    assert_int_equal(certs_named(f, "wait.example"), 0);

    /* Never by its requester; once per officer. */
    assert_int_equal(svc_request_approve(f->svc, &requester, T, out.request->id, &r, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out.request->id, &r, &e), 0);
    assert_string_equal(r->status, "pending");
    request_rec_free(r);
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out.request->id, &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(certs_named(f, "wait.example"), 0);

    assert_int_equal(svc_request_approve(f->svc, &officer2, T, out.request->id, &r, &e), 0);
    assert_string_equal(r->status, "done");
    result = json_loads(r->result, 0, NULL);
    assert_non_null(json_object_get(json_object_get(result, "certificate"), "serial"));
    assert_int_equal(certs_named(f, "wait.example"), 1);
    assert_int_equal(audit_count(f, "request.done", "ok"), 1);
    assert_int_equal(audit_count(f, "cert.issue", "ok"), 1);
    request_rec_free(r);
    /* Nothing left to approve. */
    assert_int_equal(svc_request_approve(f->svc, &admin, T, out.request->id, &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(certs_named(f, "wait.example"), 1);
    json_decref(result);
    svc_outcome_clear(&out);
    free(csr);
}

/* Server-side key generation never waits (the request would keep the password). */
static void keygen_under_a_workflow_is_refused(void **state)
{
    struct fixture *f = *state;
    struct svc_op op = {.kind = SVC_OP_CERT_KEYGEN,
                        .ca = "root",
                        .profile = "tls-server",
                        .subject = "/CN=kgw.example",
                        .password = "a long password"};
    struct svc_outcome out;
    struct err e;

    workflow(f, "profile:tls-server", 1);
    assert_int_equal(svc_submit(f->svc, &admin, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_non_null(strstr(e.msg, "needs approval"));
    assert_int_equal(certs_named(f, "kgw.example"), 0);
}

/* A bad CSR is refused when it is submitted, not queued for someone to approve. */
static void bad_input_never_waits_for_approval(void **state)
{
    struct fixture *f = *state;
    struct svc_op op = issue_op("not a CSR");
    struct svc_outcome out;
    struct err e;

    workflow(f, "profile:tls-server", 1);
    assert_int_equal(svc_submit(f->svc, &requester, T, &op, NULL, &out, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_string_equal(e.code, ERR_CODE_BAD_CSR);
    assert_int_equal(audit_count(f, "request.submit", "ok"), 0);
}

/* Revocation, suspension and CA creation wait under their workflows, and are done on approval. */
static void status_changes_and_ca_creation_wait_and_are_done(void **state)
{
    struct fixture *f = *state;
    char *serial = issue_now(f, &requester, "gated.example");
    struct svc_op op = {.kind = SVC_OP_CERT_SUSPEND, .serial = serial};
    struct svc_outcome out;
    struct request_rec *r = NULL;
    struct err e;

    workflow(f, "cert.suspend", 1);
    workflow(f, "cert.revoke", 1);
    workflow(f, "ca.create", 1);
    out = submit_ok(f->svc, &admin, &op, NULL);
    assert_true(out.pending);
    status_is(f, serial, "good");
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out.request->id, &r, &e), 0);
    assert_string_equal(r->status, "done");
    status_is(f, serial, "hold");
    request_rec_free(r);
    svc_outcome_clear(&out);

    op = (struct svc_op){.kind = SVC_OP_CERT_REVOKE, .serial = serial, .reason = 4};
    out = submit_ok(f->svc, &admin, &op, NULL);
    assert_true(out.pending);
    status_is(f, serial, "hold");
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out.request->id, &r, &e), 0);
    status_is(f, serial, "revoked");
    request_rec_free(r);
    svc_outcome_clear(&out);

    op = (struct svc_op){.kind = SVC_OP_CA_CREATE,
                         .ca_req = {.name = "gated", .subject = "/CN=Gated", .path_len = -1}};
    out = submit_ok(f->svc, &admin, &op, NULL);
    assert_true(out.pending);
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out.request->id, &r, &e), 0);
    assert_string_equal(r->status, "done");
    assert_non_null(strstr(r->result, "\"gated\""));
    request_rec_free(r);
    svc_outcome_clear(&out);
    free(serial);
}

/*
 * A fault in the request's write rolls the certificate back with it, and a
 * fault in the certificate's write leaves the request undone: never one
 * without the other.
 */
static void a_failed_write_leaves_neither_the_record_nor_the_request_done(void **state)
{
    struct fixture *f = *state;
    char *csr = csr_make("fault.example");
    struct svc_op op = issue_op(csr);
    struct svc_outcome out;
    struct request_rec *r = NULL;
    struct err e;

    workflow(f, "profile:tls-server", 1);
    /* The request's "done" cannot be written. */
    sql(f, "CREATE TRIGGER no_done BEFORE UPDATE ON requests WHEN NEW.status = 'done' "
           "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
    out = submit_ok(f->svc, &requester, &op, NULL);
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out.request->id, &r, &e), 0);
    assert_string_equal(r->status, "failed");
    assert_non_null(strstr(r->result, "injected fault"));
    request_rec_free(r);
    assert_int_equal(certs_named(f, "fault.example"), 0);
    assert_int_equal(audit_count(f, "cert.issue", "ok"), 0);
    svc_outcome_clear(&out);
    sql(f, "DROP TRIGGER no_done;");

    /* The certificate cannot be written. */
    sql(f, "CREATE TRIGGER no_cert BEFORE INSERT ON certs "
           "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
    out = submit_ok(f->svc, &requester, &op, NULL);
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out.request->id, &r, &e), 0);
    assert_string_equal(r->status, "failed");
    request_rec_free(r);
    assert_int_equal(certs_named(f, "fault.example"), 0);
    assert_int_equal(audit_count(f, "request.done", "ok"), 0);
    svc_outcome_clear(&out);
    sql(f, "DROP TRIGGER no_cert;");
    free(csr);
}

static void rejected_and_expired_requests_are_never_carried_out(void **state)
{
    struct fixture *f = *state;
    char *csr = csr_make("no.example");
    struct svc_op op = issue_op(csr);
    struct svc_outcome out, out2;
    struct request_rec *r = NULL;
    struct err e;

    workflow(f, "profile:tls-server", 1);
    out = submit_ok(f->svc, &requester, &op, NULL);
    assert_int_equal(svc_request_reject(f->svc, &officer1, T, out.request->id, "no", &r, &e), 0);
    assert_string_equal(r->status, "rejected");
    request_rec_free(r);
    assert_int_equal(svc_request_approve(f->svc, &officer2, T, out.request->id, &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);

    out2 = submit_ok(f->svc, &requester, &op, NULL);
    sql(f, "UPDATE requests SET expires = 1 WHERE status = 'pending';");
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, out2.request->id, &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_non_null(strstr(e.msg, "expired"));
    r = request_read(f, out2.request->id);
    assert_string_equal(r->status, "expired");
    request_rec_free(r);
    assert_int_equal(certs_named(f, "no.example"), 0);
    svc_outcome_clear(&out);
    svc_outcome_clear(&out2);
    free(csr);
}

/* A request stored before schema 14 (the REST call: path and body) is carried out the same. */
static void a_request_stored_in_the_old_form_is_still_carried_out(void **state)
{
    struct fixture *f = *state;
    char *csr = csr_make("legacy.example");
    char *serial = issue_now(f, &requester, "legacy-revoke.example");
    json_t *params;
    struct request_rec *r = NULL;
    struct store_tx *tx;
    struct err e;
    struct request_rec old = {.id = "req-0000000000000001",
                              .kind = "cert.issue",
                              .object = "tls-server",
                              .requester = "p-req",
                              .status = "pending",
                              .required = 1,
                              .approvals = "[]",
                              .created = time_now(),
                              .expires = time_now() + 3600};

    params = json_pack("{s:{}, s:{s:s, s:s, s:s, s:s}, s:[s]}", "path", "body", "ca", "root",
                       "profile", "tls-server", "csr", csr, "format", "pem", "roles", "requester");
    old.params = json_dumps(params, JSON_COMPACT);
    assert_non_null(tx = store_begin(f->store, &e));
    assert_int_equal(store_request_insert(tx, T, &old, &e), 0);
    json_decref(params);
    free(old.params);
    params = json_pack("{s:{s:s}, s:{s:s}, s:[s]}", "path", "serial", serial, "body", "reason",
                       "superseded", "roles", "ra-officer");
    old.id = "req-0000000000000002";
    old.kind = "cert.revoke";
    old.object = serial;
    old.requester = "p-adm";
    old.params = json_dumps(params, JSON_COMPACT);
    assert_int_equal(store_request_insert(tx, T, &old, &e), 0);
    assert_int_equal(store_commit(tx, &e), 0);

    assert_int_equal(svc_request_approve(f->svc, &officer1, T, "req-0000000000000001", &r, &e), 0);
    assert_string_equal(r->status, "done");
    request_rec_free(r);
    assert_int_equal(certs_named(f, "legacy.example"), 1);
    assert_int_equal(svc_request_approve(f->svc, &officer1, T, "req-0000000000000002", &r, &e), 0);
    assert_string_equal(r->status, "done");
    request_rec_free(r);
    status_is(f, serial, "revoked");
    json_decref(params);
    free(old.params);
    free(serial);
    free(csr);
}

/* ---- idempotency ------------------------------------------------------------------- */

/* The same operation under the same key again: the same outcome, nothing new written. */
static void replay(struct fixture *f, const struct actor *a, const struct svc_op *op,
                   const char *key, const char *cn)
{
    int before = cn ? certs_named(f, cn) : 0;
    struct svc_outcome one = submit_ok(f->svc, a, op, key), two = submit_ok(f->svc, a, op, key);

    assert_false(one.replayed);
    assert_true(two.replayed);
    assert_int_equal(one.pending, two.pending);
    if (one.cert != NULL)
        assert_string_equal(one.cert->serial, two.cert->serial);
    if (one.ca != NULL)
        assert_string_equal(one.ca->name, two.ca->name);
    if (one.request != NULL)
        assert_string_equal(one.request->id, two.request->id);
    if (cn != NULL) /* the first made one, the second none */
        assert_int_equal(certs_named(f, cn), before + 1);
    svc_outcome_clear(&one);
    svc_outcome_clear(&two);
}

static void every_kind_replays_under_its_idempotency_key(void **state)
{
    struct fixture *f = *state;
    char *csr = csr_make("idem.example"), *csr2 = csr_make("idem.example");
    struct svc_op op = issue_op(csr), other = issue_op(csr2);
    struct svc_outcome out;
    struct err e;
    char *serial;

    replay(f, &requester, &op, "k-issue", "idem.example");
    assert_int_equal(certs_named(f, "idem.example"), 1);
    /* The key with another operation, or by another principal: refused, nothing issued. */
    assert_int_equal(svc_submit(f->svc, &requester, T, &other, "k-issue", &out, &e), -1);
    assert_string_equal(e.code, ERR_IDEMPOTENCY);
    assert_int_equal(svc_submit(f->svc, &other_requester, T, &op, "k-issue", &out, &e), -1);
    assert_string_equal(e.code, ERR_IDEMPOTENCY);
    assert_int_equal(certs_named(f, "idem.example"), 1);

    serial = issue_now(f, &requester, "idem-status.example");
    op = (struct svc_op){.kind = SVC_OP_CERT_RENEW, .serial = serial};
    replay(f, &requester, &op, "k-renew", "idem-status.example");
    op.kind = SVC_OP_CERT_SUSPEND;
    replay(f, &officer1, &op, "k-suspend", NULL);
    op.kind = SVC_OP_CERT_REINSTATE;
    replay(f, &officer1, &op, "k-reinstate", NULL);
    op = (struct svc_op){.kind = SVC_OP_CERT_REVOKE, .serial = serial, .reason = 1};
    replay(f, &officer1, &op, "k-revoke", NULL);
    status_is(f, serial, "revoked");
    op = (struct svc_op){.kind = SVC_OP_CA_CREATE,
                         .ca_req = {.name = "idem-ca", .subject = "/CN=Idem", .path_len = -1}};
    replay(f, &admin, &op, "k-ca", NULL);

    /* A pending request: the same request, not a second one. */
    workflow(f, "profile:tls-server", 1);
    op = issue_op(csr2);
    replay(f, &requester, &op, "k-pending", NULL);
    assert_int_equal(audit_count(f, "request.submit", "ok"), 1);
    free(serial);
    free(csr);
    free(csr2);
}

/* A key made on the signer is handed out once: its key's replay is a refusal, not a new key. */
static void keygen_is_never_handed_out_twice(void **state)
{
    struct fixture *f = *state;
    json_t *sans = json_pack("[s]", "dns:kg-idem.example");
    struct svc_op op = {.kind = SVC_OP_CERT_KEYGEN,
                        .ca = "root",
                        .profile = "tls-server",
                        .subject = "/CN=kg-idem.example",
                        .sans = sans,
                        .password = "a long password"};
    struct svc_outcome out = submit_ok(f->svc, &admin, &op, "k-keygen");
    struct err e;

    svc_outcome_clear(&out);
    assert_int_equal(svc_submit(f->svc, &admin, T, &op, "k-keygen", &out, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_string_equal(e.code, ERR_IDEMPOTENCY);
    assert_int_equal(certs_named(f, "kg-idem.example"), 1);
    json_decref(sans);
}

/* ---- two nodes at once ------------------------------------------------------------------ */

struct racer {
    struct svc *svc;
    const struct actor *a;
    const struct svc_op *op;
    const char *key;
    const char *request; /* approve this instead of submitting */
    pthread_barrier_t *go;
    int rc;
    char serial[64];
    struct err e;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct svc_outcome out = {0};
    struct request_rec *req = NULL;

    pthread_barrier_wait(r->go);
    if (r->request != NULL) {
        r->rc = svc_request_approve(r->svc, r->a, T, r->request, &req, &r->e);
        if (r->rc == 0)
            snprintf(r->serial, sizeof(r->serial), "%s", req->status);
        request_rec_free(req);
        return NULL;
    }
    r->rc = svc_submit(r->svc, r->a, T, r->op, r->key, &out, &r->e);
    if (r->rc == 0)
        snprintf(r->serial, sizeof(r->serial), "%s", out.cert->serial);
    svc_outcome_clear(&out);
    return NULL;
}

/*
 * Two svc instances on two connections to one database (two nodes): one key
 * sent to both at once issues once and both get that certificate; two last
 * approvals at once carry the operation out once.
 */
static void two_nodes_at_once_issue_once(void **state)
{
    struct fixture *f = *state;
    struct store *store2;
    struct svc *svc2 = svc_open(f, &store2);
    char *csr = csr_make("race.example");
    struct svc_op op = issue_op(csr);
    pthread_barrier_t go;
    pthread_t t[2];
    struct racer r[2] = {{f->svc, &requester, &op, "k-race", NULL, &go, 0, "", {0}},
                         {svc2, &requester, &op, "k-race", NULL, &go, 0, "", {0}}};
    struct svc_outcome out;
    int done = 0;

    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r[0].rc, 0);
    assert_int_equal(r[1].rc, 0);
    assert_string_equal(r[0].serial, r[1].serial);
    assert_int_equal(certs_named(f, "race.example"), 1);

    /* Two officers' approvals at once, each the last one needed: done once. */
    workflow(f, "profile:tls-server", 1);
    op = issue_op(csr);
    out = submit_ok(f->svc, &requester, &op, NULL);
    r[0] = (struct racer){f->svc, &officer1, NULL, NULL, out.request->id, &go, 0, "", {0}};
    r[1] = (struct racer){svc2, &officer2, NULL, NULL, out.request->id, &go, 0, "", {0}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (r[i].rc == 0)
            done += strcmp(r[i].serial, "done") == 0;
        else
            assert_int_equal(r[i].e.kind, ERR_CONFLICT);
    }
    assert_int_equal(done, 1);
    assert_int_equal(certs_named(f, "race.example"), 2);
    assert_int_equal(audit_count(f, "request.done", "ok"), 1);
    pthread_barrier_destroy(&go);
    svc_outcome_clear(&out);
    svc_free(svc2);
    store_close(store2);
    free(csr);
}

int main(void)
{
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T_(every_operation_kind_is_done_directly),
        T_(a_suspended_tenant_creates_nothing_and_still_revokes),
        T_(refusals_are_checked_and_audited_in_the_door),
        T_(pending_then_approved_issues_once_as_the_requester),
        T_(keygen_under_a_workflow_is_refused),
        T_(bad_input_never_waits_for_approval),
        T_(status_changes_and_ca_creation_wait_and_are_done),
        T_(a_failed_write_leaves_neither_the_record_nor_the_request_done),
        T_(rejected_and_expired_requests_are_never_carried_out),
        T_(a_request_stored_in_the_old_form_is_still_carried_out),
        T_(every_kind_replays_under_its_idempotency_key),
        T_(keygen_is_never_handed_out_twice),
        T_(two_nodes_at_once_issue_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
