/*
 * test_svc.c — svc on a real SQLite file.
 *
 * The group commit (svc/writer.c): many threads' writes, each committed
 * durably and returned its own result, a failing piece rolling back only
 * itself, nothing lost and nobody left waiting.
 *
 * The reads the API makes through svc: one tenant's reads never return
 * another tenant's rows; a requester reads its own requests only; a bearer
 * token proves its principal and its roles in the tenant asked about, and
 * nothing once revoked or disabled; a tenant's forwarding target is checked,
 * written with its audit event, and read back.
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

#include <openssl/bio.h>
#include <openssl/cmp.h>
#include <openssl/err.h>

#include "core/cmp.h"
#include "keys/tbs.h"
#include "store/store.h"
#include "svc/svc.h"
#include "svc/writer.h"

#define THREADS  8
#define WRITES   40
#define DUP_1_IN 7 /* every 7th write creates an existing tenant: refused alone */

struct fixture {
    char dir[64];
    struct store *store;
    struct writer *writer;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char url[128];
    struct err e = {0};
    struct store_tx *tx;

    snprintf(f->dir, sizeof(f->dir), "/tmp/vouch-test-svc-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/t.db", f->dir);
    if ((f->store = store_open(url, &e)) == NULL)
        fail_msg("store_open: %s", e.msg);
    if ((tx = store_begin(f->store, &e)) == NULL || store_tenant_create(tx, "dup", &e) != 0 ||
        store_commit(tx, &e) != 0)
        fail_msg("dup: %s", e.msg);
    f->writer = writer_start(f->store, 8);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    writer_stop(f->writer);
    store_close(f->store);
    for (const char *const *x = (const char *const[]){"t.db", "t.db-wal", "t.db-shm", NULL}; *x;
         x++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, *x);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int create_tenant(struct store_tx *tx, void *arg, struct err *e)
{
    return store_tenant_create(tx, arg, e);
}

struct worker {
    struct fixture *f;
    int id;
    int ok, refused, wrong;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[32];
    struct err e;

    for (int i = 0; i < WRITES; i++) {
        int dup = (w->id * WRITES + i) % DUP_1_IN == 0;
        snprintf(name, sizeof(name), dup ? "dup" : "t%d-%d", w->id, i);
        err_clear(&e);
        if (writer_run(w->f->writer, create_tenant, name, &e) == 0)
            dup ? w->wrong++ : w->ok++;
        else if (dup && e.kind == ERR_CONFLICT)
            w->refused++;
        else
            w->wrong++;
    }
    return NULL;
}

static void test_group_commit_from_many_threads(void **state)
{
    struct fixture *f = *state;
    struct worker w[THREADS];
    pthread_t t[THREADS];
    struct tenant_rec **list = NULL;
    struct store_tx *tx;
    struct err e = {0};
    size_t n = 0;
    int ok = 0, refused = 0;

    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.f = f, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].wrong, 0);
        ok += w[i].ok;
        refused += w[i].refused;
    }
    assert_int_equal(ok + refused, THREADS * WRITES);
    assert_true(refused > 0);
    /* Every write that said it committed is there, and nothing else. */
    assert_non_null(tx = store_begin_read(f->store, &e));
    assert_int_equal(store_tenant_list(tx, &list, &n, &e), 0);
    store_rollback(tx);
    assert_int_equal((int)n, ok + 1 /* dup */);
    for (size_t i = 0; i < n; i++)
        tenant_rec_free(list[i]);
    free(list);
}

/* A lone writer leads its own batch at once. */
static void test_one_write_alone(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};

    assert_int_equal(writer_run(f->writer, create_tenant, "alone", &e), 0);
    assert_int_equal(writer_run(f->writer, create_tenant, "alone", &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
}

/* ---- reads through svc ------------------------------------------------------ */

struct svc_fixture {
    char dir[64];
    struct store *store;
    struct svc *svc;
};

static const struct actor internal = {.id = "test"};

static int svc_setup(void **state)
{
    struct svc_fixture *f = calloc(1, sizeof(*f));
    struct svc_config cfg = {.node = "test:1"};
    char url[128];
    struct err e = {0};

    snprintf(f->dir, sizeof(f->dir), "/tmp/vouch-test-svc-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/t.db", f->dir);
    if ((f->store = store_open(url, &e)) == NULL)
        fail_msg("store_open: %s", e.msg);
    f->svc = svc_new(f->store, NULL, &cfg); /* no signer: nothing here signs */
    if (svc_tenant_create(f->svc, &internal, "alpha", &e) != 0 ||
        svc_tenant_create(f->svc, &internal, "beta", &e) != 0)
        fail_msg("tenants: %s", e.msg);
    *state = f;
    return 0;
}

static int svc_teardown(void **state)
{
    struct svc_fixture *f = *state;
    char path[128];

    svc_free(f->svc);
    store_close(f->store);
    for (const char *const *x = (const char *const[]){"t.db", "t.db-wal", "t.db-shm", NULL}; *x;
         x++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, *x);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Rows of alpha that svc does not write without a signer, written straight to the store. */
static void alpha_rows(struct svc_fixture *f, const char *entity)
{
    static unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct ca_rec ca = {.name = "ca1",
                        .key_id = "key-1",
                        .key_type = "ec-p256",
                        .status = "pending",
                        .subject = "CN=CA 1",
                        .csr_der = der,
                        .csr_len = sizeof(der),
                        .options_json = "{}",
                        .created = 1};
    struct cert_rec cert = {.serial = "0a1b",
                            .ca = "ca1",
                            .profile = "tls-server",
                            .profile_version = 1,
                            .entity_id = (char *)entity,
                            .subject = "CN=x",
                            .sans = "",
                            .status = "good",
                            .not_before = 1,
                            .not_after = 4000000000,
                            .reason = -1,
                            .der = der,
                            .der_len = sizeof(der),
                            .created = 1};
    struct crl_rec crl = {.ca = "ca1",
                          .number = 1,
                          .this_update = 1,
                          .next_update = 2,
                          .der = der,
                          .der_len = sizeof(der)};
    struct tsa_unit_rec unit = {.name = "tsa1",
                                .ca = "ca1",
                                .key_id = "key-2",
                                .key_type = "ec-p256",
                                .status = "active",
                                .cert_serial = "0c",
                                .cert_der = der,
                                .cert_len = sizeof(der),
                                .policy = "1.2.3",
                                .policies_json = "[\"1.2.3\"]",
                                .hashes_json = "[\"sha256\"]",
                                .accuracy_ms = 1000,
                                .created = 1};
    struct tsa_token_rec token = {.unit = "tsa1",
                                  .serial = "0d",
                                  .gen_time = "20260101000000Z",
                                  .time = 1767225600,
                                  .policy = "1.2.3",
                                  .hash_alg = "sha256",
                                  .imprint = "00ff",
                                  .requester = "127.0.0.1",
                                  .der = der,
                                  .der_len = sizeof(der)};
    struct client_ca_rec cca = {.name = "cca1", .cert = der, .cert_len = sizeof(der), .created = 1};
    struct webhook_rec hook = {.url = "https://hooks.example/x", .secret = "", .created = 1};
    struct store_tx *tx;
    struct err e = {0};

    if ((tx = store_begin(f->store, &e)) == NULL || store_ca_insert(tx, "alpha", &ca, &e) != 0 ||
        store_cert_insert(tx, "alpha", &cert, &e) != 0 ||
        store_crl_insert(tx, "alpha", &crl, &e) != 0 ||
        store_tsa_unit_insert(tx, "alpha", &unit, &e) != 0 ||
        store_tsa_token_insert(tx, "alpha", &token, &e) != 0 ||
        store_client_ca_insert(tx, "alpha", &cca, &e) != 0 ||
        store_webhook_put(tx, "alpha", &hook, &e) != 0 || store_commit(tx, &e) != 0)
        fail_msg("alpha's rows: %s", e.msg);
}

/* Makes a pending request of alpha submitted by principal `who`; its id (caller frees). */
static char *request_by(struct svc_fixture *f, const char *who)
{
    static int made;
    char *id = xasprintf("req-%016x", ++made);
    struct request_rec r = {.id = id,
                            .kind = "cert.revoke",
                            .object = "0a1b",
                            .params = "{\"op\":{\"reason\":\"unspecified\",\"serial\":\"0a1b\"}}",
                            .requester = (char *)who,
                            .status = "pending",
                            .required = 1,
                            .approvals = "[]",
                            .created = time_now(),
                            .expires = time_now() + 3600};
    struct store_tx *tx;
    struct err e = {0};

    if ((tx = store_begin(f->store, &e)) == NULL ||
        store_request_insert(tx, "alpha", &r, &e) != 0 || store_commit(tx, &e) != 0)
        fail_msg("request: %s", e.msg);
    return id;
}

/* Gives alpha one of most kinds of rows; beta's reads see none of them. */
static void test_reads_of_one_tenant_never_return_another_tenants_rows(void **state)
{
    struct svc_fixture *f = *state;
    struct entity_rec ent = {.name = "printer", .kind = "device"}, *made = NULL, *got = NULL;
    struct audit_target_rec target = {.host = "siem.example", .port = 514, .transport = "tcp"};
    struct principal_rec *p = NULL, *other = NULL, **principals = NULL;
    struct binding_rec **bindings = NULL;
    struct token_rec *t = NULL, **tokens = NULL;
    struct ca_rec **cas = NULL, *ca = NULL;
    struct tsa_unit_rec **units = NULL, *unit = NULL;
    struct tsa_token_rec **tsa_tokens = NULL, *tsa_token = NULL;
    struct client_ca_rec **ccas = NULL;
    struct profile_rec **profiles = NULL, *profile = NULL;
    struct entity_rec **entities = NULL;
    struct workflow_rec **workflows = NULL;
    struct request_rec **requests = NULL, *request = NULL;
    struct webhook_rec *hook = NULL;
    struct crl_rec *crl = NULL;
    struct audit_rec **events = NULL;
    struct audit_target_rec *target_out = NULL;
    struct entity_query any = {0};
    struct tsa_token_query all = {0};
    char *secret = NULL, *req_id, **serials = NULL;
    size_t n = 0, nb = 0;
    struct err e = {0};

    assert_int_equal(svc_profile_clone(f->svc, &internal, "alpha", "tls-server", "alpha-only", &e),
                     0);
    assert_int_equal(svc_entity_put(f->svc, &internal, "alpha", &ent, 1, &made, &e), 0);
    alpha_rows(f, made->id);
    assert_int_equal(
        svc_principal_create(f->svc, &internal, "alpha", "alice", "user", NULL, NULL, &p, &e), 0);
    assert_int_equal(svc_role_bind(f->svc, &internal, "alpha", "alpha", p->id, "auditor", 1, &e),
                     0);
    assert_int_equal(svc_token_create(f->svc, &internal, "alpha", p->id, "t", 0, &t, &secret, &e),
                     0);
    assert_int_equal(svc_workflow_put(f->svc, &internal, "alpha", "cert.revoke", 1, NULL, 24, &e),
                     0);
    req_id = request_by(f, p->id);
    assert_int_equal(svc_audit_target_put(f->svc, &internal, "alpha", &target, &target_out, &e), 0);
    audit_target_rec_free(target_out);
    target_out = NULL;

    /* alpha sees its own rows ... */
    assert_int_equal(svc_ca_get(f->svc, "alpha", "ca1", &ca, &e), 0);
    ca_rec_free(ca);
    assert_int_equal(svc_crl_latest(f->svc, "alpha", "ca1", 0, 0, &crl, &e), 0);
    crl_rec_free(crl);
    assert_int_equal(svc_entity_get(f->svc, "alpha", made->id, &got, &serials, &n, &e), 0);
    assert_int_equal((int)n, 1);
    assert_string_equal(serials[0], "0a1b");
    free(serials[0]);
    free(serials);
    entity_rec_free(got);
    assert_int_equal(svc_request_get(f->svc, NULL, "alpha", req_id, &request, &e), 0);
    request_rec_free(request);

    /* ... and beta none of them, listed or named. */
    assert_int_equal(svc_ca_list(f->svc, "beta", &cas, &n, &e), 0);
    assert_int_equal((int)n, 0);
    free(cas);
    assert_int_equal(svc_ca_get(f->svc, "beta", "ca1", &ca, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_crl_latest(f->svc, "beta", "ca1", 0, 0, &crl, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_profile_list(f->svc, "beta", &profiles, &n, &e), 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(profiles[i]->name, "alpha-only");
        assert_string_equal(profiles[i]->tenant, "beta");
        profile_rec_free(profiles[i]);
    }
    free(profiles);
    assert_int_equal(svc_profile_get(f->svc, "beta", "alpha-only", 0, &profile, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_entity_search(f->svc, "beta", &any, &entities, &n, &e), 0);
    assert_int_equal((int)n, 0);
    free(entities);
    assert_int_equal(svc_entity_get(f->svc, "beta", made->id, &got, &serials, &n, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_principal_list(f->svc, "beta", &principals, &n, &bindings, &nb, &e), 0);
    assert_int_equal((int)n, 0);
    assert_int_equal((int)nb, 0);
    free(principals);
    free(bindings);
    assert_int_equal(svc_principal_get(f->svc, "beta", p->id, &other, &bindings, &nb, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_binding_list(f->svc, "beta", &bindings, &nb, &e), 0);
    assert_int_equal((int)nb, 0);
    free(bindings);
    assert_int_equal(svc_token_list(f->svc, "beta", &tokens, &n, &e), 0);
    assert_int_equal((int)n, 0);
    free(tokens);
    assert_int_equal(svc_token_none_live(f->svc, "beta", &e), 0);
    assert_int_equal(svc_token_none_live(f->svc, "alpha", &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(svc_client_ca_list(f->svc, "beta", &ccas, &n, &e), 0);
    assert_int_equal((int)n, 0);
    free(ccas);
    assert_int_equal(svc_tsa_unit_list(f->svc, "beta", &units, &n, &e), 0);
    assert_int_equal((int)n, 0);
    free(units);
    assert_int_equal(svc_tsa_unit_get(f->svc, "beta", "tsa1", &unit, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_tsa_token_search(f->svc, "beta", "tsa1", &all, &tsa_tokens, &n, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_tsa_token_get(f->svc, "beta", "tsa1", "0d", &tsa_token, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_workflow_list(f->svc, "beta", &workflows, &n, &e), 0);
    assert_int_equal((int)n, 0);
    free(workflows);
    assert_int_equal(svc_request_list(f->svc, NULL, "beta", NULL, NULL, 100, 0, &requests, &n, &e),
                     0);
    assert_int_equal((int)n, 0);
    free(requests);
    assert_int_equal(svc_request_get(f->svc, NULL, "beta", req_id, &request, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_webhook_get(f->svc, "beta", &hook, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_audit_target_get(f->svc, "beta", &target_out, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_audit_list(f->svc, "beta", 0, 1000, &events, &n, &e), 0);
    assert_true(n > 0); /* tenant.create */
    for (size_t i = 0; i < n; i++)
        assert_string_equal(events[i]->tenant, "beta");
    audit_rec_list_free(events, n);

    free(secret);
    free(req_id);
    token_rec_free(t);
    principal_rec_free(p);
    entity_rec_free(made);
}

/* A requester (request.read for its own requests only) sees its own requests, nobody else's. */
static void test_requester_reads_its_own_requests_only(void **state)
{
    struct svc_fixture *f = *state;
    static const char *const requester_roles[] = {"requester"};
    static const char *const officer_roles[] = {"ra-officer"};
    struct actor ann = {
        .id = "tok-ann", .principal = "prn-ann", .roles = requester_roles, .nroles = 1};
    struct actor officer = {
        .id = "tok-off", .principal = "prn-off", .roles = officer_roles, .nroles = 1};
    char *mine = request_by(f, "prn-ann"), *theirs = request_by(f, "prn-bob");
    struct request_rec **list = NULL, *r = NULL;
    size_t n = 0;
    struct err e = {0};

    assert_int_equal(svc_request_list(f->svc, &ann, "alpha", NULL, NULL, 100, 0, &list, &n, &e), 0);
    assert_int_equal((int)n, 1);
    assert_string_equal(list[0]->id, mine);
    request_rec_list_free(list, n);
    /* asking for another requester's changes nothing */
    assert_int_equal(
        svc_request_list(f->svc, &ann, "alpha", NULL, "prn-bob", 100, 0, &list, &n, &e), 0);
    assert_int_equal((int)n, 1);
    assert_string_equal(list[0]->requester, "prn-ann");
    request_rec_list_free(list, n);
    assert_int_equal(svc_request_get(f->svc, &ann, "alpha", mine, &r, &e), 0);
    request_rec_free(r);
    r = NULL;
    assert_int_equal(svc_request_get(f->svc, &ann, "alpha", theirs, &r, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(r);

    /* an RA officer reads them all, and filters by requester when asked */
    assert_int_equal(svc_request_list(f->svc, &officer, "alpha", NULL, NULL, 100, 0, &list, &n, &e),
                     0);
    assert_int_equal((int)n, 2);
    request_rec_list_free(list, n);
    assert_int_equal(
        svc_request_list(f->svc, &officer, "alpha", NULL, "prn-bob", 100, 0, &list, &n, &e), 0);
    assert_int_equal((int)n, 1);
    assert_string_equal(list[0]->id, theirs);
    request_rec_list_free(list, n);
    assert_int_equal(svc_request_get(f->svc, &officer, "alpha", theirs, &r, &e), 0);
    request_rec_free(r);
    free(mine);
    free(theirs);
}

/* A token proves its principal and the roles bound to it in the tenant asked about. */
static void test_token_proves_its_principal_and_roles_in_the_target(void **state)
{
    struct svc_fixture *f = *state;
    struct principal_rec *p = NULL, *sys = NULL;
    struct token_rec *t = NULL, *sys_t = NULL;
    struct svc_identity id = {0};
    char *secret = NULL, *sys_secret = NULL, *wrong;
    struct err e = {0};

    assert_int_equal(
        svc_principal_create(f->svc, &internal, "alpha", "app", "application", NULL, NULL, &p, &e),
        0);
    assert_int_equal(svc_role_bind(f->svc, &internal, "alpha", "alpha", p->id, "requester", 1, &e),
                     0);
    assert_int_equal(svc_token_create(f->svc, &internal, "alpha", p->id, "t", 0, &t, &secret, &e),
                     0);

    assert_int_equal(svc_authenticate_token(f->svc, secret, "192.0.2.1", "alpha", &id, &e), 0);
    assert_string_equal(id.tenant, "alpha");
    assert_string_equal(id.principal, p->id);
    assert_string_equal(id.credential, t->id);
    assert_int_equal((int)id.nroles, 1);
    assert_string_equal(id.roles[0], "requester");
    svc_identity_clear(&id);
    /* no role in beta: authenticated, with nothing to do there */
    assert_int_equal(svc_authenticate_token(f->svc, secret, "192.0.2.1", "beta", &id, &e), 0);
    assert_int_equal((int)id.nroles, 0);
    svc_identity_clear(&id);

    /* a wrong secret of the same token id */
    wrong = strdup(secret);
    wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(svc_authenticate_token(f->svc, wrong, "192.0.2.1", "alpha", &id, &e), -1);
    assert_int_equal(e.kind, ERR_UNAUTHENTICATED);
    assert_null(id.principal);
    free(wrong);

    /* disabled: refused, the principal named as the refusal's actor */
    assert_int_equal(svc_principal_set_disabled(f->svc, &internal, "alpha", p->id, 1, &e), 0);
    assert_int_equal(svc_authenticate_token(f->svc, secret, "192.0.2.1", "alpha", &id, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_string_equal(id.principal, p->id);
    assert_null(id.roles);
    svc_identity_clear(&id);
    assert_int_equal(svc_principal_set_disabled(f->svc, &internal, "alpha", p->id, 0, &e), 0);

    /* a _system principal bound in alpha has its roles there */
    assert_int_equal(svc_principal_create(f->svc, &internal, "_system", "operator", "user", NULL,
                                          NULL, &sys, &e),
                     0);
    assert_int_equal(
        svc_role_bind(f->svc, &internal, "alpha", "_system", sys->id, "auditor", 1, &e), 0);
    assert_int_equal(
        svc_token_create(f->svc, &internal, "_system", sys->id, "t", 0, &sys_t, &sys_secret, &e),
        0);
    assert_int_equal(svc_authenticate_token(f->svc, sys_secret, "192.0.2.1", "alpha", &id, &e), 0);
    assert_string_equal(id.tenant, "_system");
    assert_int_equal((int)id.nroles, 1);
    assert_string_equal(id.roles[0], "auditor");
    svc_identity_clear(&id);
    assert_int_equal(svc_authenticate_token(f->svc, sys_secret, "192.0.2.1", "beta", &id, &e), 0);
    assert_int_equal((int)id.nroles, 0);
    svc_identity_clear(&id);

    /* revoked: refused at once, whatever the cache holds */
    assert_int_equal(svc_token_revoke(f->svc, &internal, "alpha", t->id, &e), 0);
    assert_int_equal(svc_authenticate_token(f->svc, secret, "192.0.2.1", "alpha", &id, &e), -1);
    assert_int_equal(e.kind, ERR_UNAUTHENTICATED);
    assert_string_equal(id.credential, t->id);
    svc_identity_clear(&id);

    free(secret);
    free(sys_secret);
    token_rec_free(t);
    token_rec_free(sys_t);
    principal_rec_free(p);
    principal_rec_free(sys);
}

/* A forwarding target is checked, stored with its event in the tenant's chain, and removed. */
static void test_forwarding_target_put_get_delete(void **state)
{
    struct svc_fixture *f = *state;
    struct audit_target_rec bad_host = {.host = "-x", .port = 514, .transport = "tcp"};
    struct audit_target_rec no_ca = {.host = "siem.example", .port = 6514}; /* tls by default */
    struct audit_target_rec tcp = {
        .host = "siem.example", .port = 514, .transport = "tcp", .ca_pem = "ignored"};
    struct audit_target_rec *out = NULL;
    struct audit_rec **events = NULL;
    size_t n = 0;
    struct err e = {0};

    assert_int_equal(svc_audit_target_put(f->svc, &internal, "alpha", &bad_host, &out, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(svc_audit_target_put(f->svc, &internal, "alpha", &no_ca, &out, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_non_null(strstr(e.msg, "ca_pem"));
    assert_int_equal(svc_audit_target_put(f->svc, &internal, "alpha", &tcp, &out, &e), 0);
    assert_string_equal(out->transport, "tcp");
    assert_null(out->ca_pem);
    audit_target_rec_free(out);
    assert_int_equal(svc_audit_target_get(f->svc, "alpha", &out, &e), 0);
    assert_string_equal(out->host, "siem.example");
    assert_int_equal(out->port, 514);
    audit_target_rec_free(out);
    assert_int_equal(svc_audit_list(f->svc, "alpha", 0, 1000, &events, &n, &e), 0);
    assert_string_equal(events[n - 1]->action, "audit.forwarding.set");
    assert_string_equal(events[n - 1]->object, "siem.example");
    audit_rec_list_free(events, n);

    assert_int_equal(svc_audit_target_delete(f->svc, &internal, "alpha", &e), 0);
    assert_int_equal(svc_audit_target_get(f->svc, "alpha", &out, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_audit_target_delete(f->svc, &internal, "alpha", &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_audit_list(f->svc, "alpha", 0, 1000, &events, &n, &e), 0);
    assert_string_equal(events[n - 1]->action, "audit.forwarding.delete");
    audit_rec_list_free(events, n);
}

/* ---- the signer signs CMP responses, not requests (keys/tbs.c) ------------------------- */

static unsigned char cmp_req[8192];
static size_t cmp_req_len;

static OSSL_CMP_MSG *cmp_capture(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    (void)ctx;
    assert_int_equal(i2d_OSSL_CMP_MSG_bio(b, req), 1);
    n = BIO_get_mem_data(b, &p);
    assert_true(n > 0 && (size_t)n <= sizeof(cmp_req));
    memcpy(cmp_req, p, (size_t)n);
    cmp_req_len = (size_t)n;
    BIO_free(b);
    return NULL;
}

static void test_the_signer_signs_a_cmp_response_part_and_never_a_request(void **state)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
    X509_NAME *name = X509_NAME_new();
    unsigned char *rsp = NULL;
    size_t rsp_len = 0;
    struct cmp_peek p;
    struct err e;

    (void)state;
    /* An unprotected ir is SEQUENCE { header, body }: a request's ProtectedPart. */
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"d", -1, -1, 0);
    assert_int_equal(OSSL_CMP_CTX_set1_recipient(ctx, name), 1);
    assert_int_equal(OSSL_CMP_CTX_set1_subjectName(ctx, name), 1);
    assert_int_equal(OSSL_CMP_CTX_set0_newPkey(ctx, 1, EVP_EC_gen("P-256")), 1);
    assert_int_equal(OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1), 1);
    assert_int_equal(OSSL_CMP_CTX_set_transfer_cb(ctx, cmp_capture), 1);
    assert_null(OSSL_CMP_exec_IR_ses(ctx));
    ERR_clear_error();
    assert_true(cmp_req_len > 0);
    assert_null(tbs_kind(cmp_req, cmp_req_len));
    /* vouch's unprotected pollRep answering it: a response's ProtectedPart. */
    assert_int_equal(cmp_peek(cmp_req, cmp_req_len, &p, &e), 0);
    assert_int_equal(cmp_pollrep_new(&p, 0, 1, &rsp, &rsp_len, &e), 0);
    assert_string_equal(tbs_kind(rsp, rsp_len), "CMP response");
    assert_null(tbs_kind(rsp, rsp_len - 1)); /* in whole only */
    free(rsp);
    cmp_peek_clear(&p);
    X509_NAME_free(name);
    OSSL_CMP_CTX_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit_from_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_write_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_of_one_tenant_never_return_another_tenants_rows,
                                        svc_setup, svc_teardown),
        cmocka_unit_test_setup_teardown(test_requester_reads_its_own_requests_only, svc_setup,
                                        svc_teardown),
        cmocka_unit_test_setup_teardown(test_token_proves_its_principal_and_roles_in_the_target,
                                        svc_setup, svc_teardown),
        cmocka_unit_test_setup_teardown(test_forwarding_target_put_get_delete, svc_setup,
                                        svc_teardown),
        cmocka_unit_test(test_the_signer_signs_a_cmp_response_part_and_never_a_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
