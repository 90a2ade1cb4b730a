/* test_store.c — the SQLite backend and the audit chain, on real database files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "store/store.h"

static char dir[256];
static char url[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vouch-store-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/test.db", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static struct store *open_store(void)
{
    struct err e;
    struct store *s = store_open(url, &e);
    assert_non_null(s);
    return s;
}

static void tenant_make(struct store *s, const char *t)
{
    struct err e;
    struct store_tx *tx = store_begin(s, &e);
    assert_non_null(tx);
    assert_int_equal(store_tenant_create(tx, t, &e), 0);
    assert_int_equal(store_commit(tx, &e), 0);
}

static struct cert_rec cert_of(const char *serial, const char *ca, int64_t not_after)
{
    static unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct cert_rec r = {0};
    r.serial = (char *)serial;
    r.ca = (char *)ca;
    r.profile = "tls-server";
    r.profile_version = 1;
    r.subject = "CN=www.example.com";
    r.sans = "dns:www.example.com";
    r.status = "good";
    r.not_before = 1000;
    r.not_after = not_after;
    r.reason = -1;
    r.der = der;
    r.der_len = sizeof(der);
    r.created = 1000;
    return r;
}

static int cert_put(struct store *s, const char *tenant, const char *serial, int64_t not_after,
                    struct err *e)
{
    struct cert_rec r = cert_of(serial, "issuing", not_after);
    struct store_tx *tx = store_begin(s, e);
    if (tx == NULL)
        return -1;
    if (store_cert_insert(tx, tenant, &r, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

static void migrations_run_once_and_reopen_is_stable(void **state)
{
    struct store *s = open_store();
    int v = store_schema_version(s);
    (void)state;
    assert_true(v >= 1);
    store_close(s);
    s = open_store();
    assert_int_equal(store_schema_version(s), v);
    assert_int_equal(store_ping(s, NULL), 0);
    store_close(s);
}

static void duplicate_serial_is_a_conflict_and_writes_nothing(void **state)
{
    struct store *s = open_store();
    struct cert_rec **list = NULL;
    struct cert_query q = {0};
    struct store_tx *tx;
    struct err e;
    size_t n = 0;
    (void)state;
    tenant_make(s, "a");
    assert_int_equal(cert_put(s, "a", "abc1", 5000, &e), 0);
    assert_int_equal(cert_put(s, "a", "abc1", 6000, &e), -1);
    assert_int_equal(e.status, 409);
    tx = store_begin_read(s, &e);
    assert_int_equal(store_cert_search(tx, "a", &q, &list, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0]->not_after, 5000);
    cert_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

static void another_tenant_sees_nothing(void **state)
{
    struct store *s = open_store();
    struct cert_rec *c = NULL, **list = NULL;
    struct cert_query q = {0};
    struct ca_rec ca = {.name = "root",
                        .key_id = "key-1",
                        .key_type = "ec-p256",
                        .status = "active",
                        .options_json = "{}"};
    struct ca_rec *got = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n = 9;
    (void)state;
    tenant_make(s, "a");
    tenant_make(s, "b");
    assert_int_equal(cert_put(s, "a", "beef", 5000, &e), 0);
    tx = store_begin(s, &e);
    assert_int_equal(store_ca_insert(tx, "a", &ca, &e), 0);
    assert_int_equal(store_commit(tx, &e), 0);
    tx = store_begin_read(s, &e);
    assert_int_equal(store_cert_get(tx, "b", "beef", &c, &e), -1);
    assert_int_equal(e.status, 404);
    assert_int_equal(store_ca_get(tx, "b", "root", &got, &e), -1);
    assert_int_equal(store_cert_search(tx, "b", &q, &list, &n, &e), 0);
    assert_int_equal(n, 0);
    free(list);
    assert_int_equal(store_ca_get(tx, "a", "root", &got, &e), 0);
    assert_string_equal(got->key_id, "key-1");
    ca_rec_free(got);
    store_rollback(tx);
    store_close(s);
}

static void search_filters_and_revoked_cutoff(void **state)
{
    struct store *s = open_store();
    struct cert_rec **list = NULL;
    struct store_tx *tx;
    struct err e;
    size_t n;
    (void)state;
    tenant_make(s, "a");
    assert_int_equal(cert_put(s, "a", "01", 1000, &e), 0);
    assert_int_equal(cert_put(s, "a", "02", 2000, &e), 0);
    assert_int_equal(cert_put(s, "a", "03", 3000, &e), 0);
    tx = store_begin(s, &e);
    assert_int_equal(store_cert_set_status(tx, "a", "01", "revoked", 900, 1, 0, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "03", "hold", 900, 6, 0, &e), 0);
    assert_int_equal(store_cert_set_status(tx, "a", "ff", "hold", 900, 6, 0, &e), -1);
    assert_int_equal(e.status, 404);
    assert_int_equal(store_commit(tx, &e), 0);
    tx = store_begin_read(s, &e);
    {
        struct cert_query q = {.expires_after = 1500, .expires_before = 3500};
        assert_int_equal(store_cert_search(tx, "a", &q, &list, &n, &e), 0);
        assert_int_equal(n, 2);
        assert_string_equal(list[0]->serial, "02");
        cert_rec_list_free(list, n);
    }
    {
        struct cert_query q = {.subject = "WWW.EXAMPLE", .status = "revoked"};
        assert_int_equal(store_cert_search(tx, "a", &q, &list, &n, &e), 0);
        assert_int_equal(n, 1);
        assert_string_equal(list[0]->serial, "01");
        assert_int_equal(list[0]->reason, 1);
        cert_rec_list_free(list, n);
    }
    assert_int_equal(store_cert_revoked(tx, "a", "issuing", 1500, &list, &n, &e), 0);
    assert_int_equal(n, 1); /* 01 expired before the cutoff */
    assert_string_equal(list[0]->serial, "03");
    cert_rec_list_free(list, n);
    store_rollback(tx);
    store_close(s);
}

static void crl_numbers_strictly_increase_across_reopen(void **state)
{
    int64_t last = 0, num;
    struct err e;
    (void)state;
    for (int round = 0; round < 3; round++) {
        struct store *s = open_store();
        for (int i = 0; i < 3; i++) {
            struct store_tx *tx = store_begin(s, &e);
            assert_int_equal(store_crl_next_number(tx, "a", "issuing", &num, &e), 0);
            assert_true(num > last);
            last = num;
            assert_int_equal(store_commit(tx, &e), 0);
        }
        {
            /* A rolled-back number is not handed out twice: the counter moves only on commit,
               and the next commit takes the next value. */
            struct store_tx *tx = store_begin(s, &e);
            assert_int_equal(store_crl_next_number(tx, "a", "issuing", &num, &e), 0);
            store_rollback(tx);
        }
        store_close(s);
    }
    assert_int_equal(last, 9);
}

static void profile_versions_and_latest(void **state)
{
    struct store *s = open_store();
    struct profile_rec *p = NULL, **list = NULL;
    struct store_tx *tx = store_begin(s, NULL);
    struct err e;
    int v;
    size_t n;
    (void)state;
    assert_int_equal(store_profile_put(tx, "a", "web", "{\"v\":1}", &v, &e), 0);
    assert_int_equal(v, 1);
    assert_int_equal(store_profile_put(tx, "a", "web", "{\"v\":2}", &v, &e), 0);
    assert_int_equal(v, 2);
    assert_int_equal(store_profile_put(tx, "a", "mail", "{}", &v, &e), 0);
    assert_int_equal(store_profile_get(tx, "a", "web", 0, &p, &e), 0);
    assert_string_equal(p->json, "{\"v\":2}");
    profile_rec_free(p);
    assert_int_equal(store_profile_get(tx, "a", "web", 1, &p, &e), 0);
    assert_string_equal(p->json, "{\"v\":1}");
    profile_rec_free(p);
    assert_int_equal(store_profile_list(tx, "a", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        profile_rec_free(list[i]);
    free(list);
    assert_int_equal(store_profile_get(tx, "b", "web", 0, &p, &e), -1);
    store_rollback(tx);
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
    tx = store_begin(s, &e);
    assert_int_equal(store_savepoint(tx, &e), 0);
    assert_int_equal(store_cert_insert(tx, "a", &r1, &e), 0);
    assert_int_equal(store_savepoint_release(tx, &e), 0);
    assert_int_equal(store_savepoint(tx, &e), 0);
    assert_int_equal(store_cert_insert(tx, "a", &r2, &e), 0);
    assert_int_equal(store_savepoint_rollback(tx, &e), 0);
    assert_int_equal(store_commit(tx, &e), 0);
    tx = store_begin_read(s, &e);
    assert_int_equal(store_cert_get(tx, "a", "a1", &c, &e), 0);
    cert_rec_free(c);
    assert_int_equal(store_cert_get(tx, "a", "a2", &c, &e), -1);
    store_rollback(tx);
    store_close(s);
}

static void *writer_thread(void *arg)
{
    struct store *s = arg;
    struct err e;
    char serial[32];
    long failures = 0;
    for (int i = 0; i < 50; i++) {
        snprintf(serial, sizeof(serial), "%lx%02d", (unsigned long)pthread_self() & 0xffff, i);
        if (cert_put(s, "a", serial, 100, &e) != 0)
            failures++;
    }
    return (void *)failures;
}

static void concurrent_writers_all_succeed(void **state)
{
    struct store *s = open_store();
    pthread_t t[4];
    void *failed;
    (void)state;
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer_thread, s);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], &failed);
        assert_int_equal((long)failed, 0);
    }
    store_close(s);
}

static void append_events(struct store *s, const char *tenant, int n)
{
    struct audit_event ev = {.actor = "tok-1",
                             .action = "cert.issue",
                             .object = "ab",
                             .result = "ok",
                             .detail = "{\"x\":1}"};
    struct err e;
    for (int i = 0; i < n; i++)
        assert_int_equal(audit_record(s, tenant, &ev, &e), 0);
}

static void tamper(const char *sql)
{
    sqlite3 *db;
    char path[300];
    snprintf(path, sizeof(path), "%s/test.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void audit_chain_verifies_then_detects_an_edit(void **state)
{
    struct store *s = open_store();
    int64_t count, bad;
    char why[256];
    struct err e;
    (void)state;
    append_events(s, "a", 10);
    append_events(s, "b", 3);
    assert_int_equal(audit_verify(s, "a", &count, &bad, why, sizeof(why), &e), 0);
    assert_int_equal(count, 10);
    tamper("UPDATE audit SET object = 'forged' WHERE tenant = 'a' AND seq = 7");
    assert_int_equal(audit_verify(s, "a", &count, &bad, why, sizeof(why), &e), 1);
    assert_int_equal(bad, 7);
    assert_non_null(strstr(why, "edited"));
    /* The other tenant's chain is unaffected. */
    assert_int_equal(audit_verify(s, "b", &count, &bad, why, sizeof(why), &e), 0);
    assert_int_equal(count, 3);
    store_close(s);
}

static void audit_detects_a_removed_and_a_reordered_event(void **state)
{
    struct store *s = open_store();
    int64_t count, bad;
    char why[256];
    (void)state;
    append_events(s, "c", 8);
    tamper("DELETE FROM audit WHERE tenant = 'c' AND seq = 4");
    assert_int_equal(audit_verify(s, "c", &count, &bad, why, sizeof(why), NULL), 1);
    assert_int_equal(bad, 5);
    append_events(s, "d", 6);
    tamper("UPDATE audit SET seq = 100 WHERE tenant = 'd' AND seq = 2;"
           "UPDATE audit SET seq = 2 WHERE tenant = 'd' AND seq = 3;"
           "UPDATE audit SET seq = 3 WHERE tenant = 'd' AND seq = 100;");
    assert_int_equal(audit_verify(s, "d", &count, &bad, why, sizeof(why), NULL), 1);
    assert_int_equal(bad, 2);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(migrations_run_once_and_reopen_is_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_serial_is_a_conflict_and_writes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(another_tenant_sees_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(search_filters_and_revoked_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(crl_numbers_strictly_increase_across_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(profile_versions_and_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(savepoint_rollback_keeps_the_rest_of_the_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers_all_succeed, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_chain_verifies_then_detects_an_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_detects_a_removed_and_a_reordered_event, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
