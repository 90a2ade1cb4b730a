/* test_audit.c — the per-tenant audit hash chain, and verification catching edits made
   directly in the database file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "audit/forward.h"
#include "store/store.h"

static char dir[256];
static char path[300];
static char url[320];
static struct store *st;

static int setup(void **state)
{
    struct err e;
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vouch-audit-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/test.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    st = store_open(url, &e);
    return st != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    store_close(st);
    st = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* Appends n events to tenant's chain, each in a transaction of its own. */
static void append_events(const char *tenant, int n)
{
    struct err e;
    for (int i = 0; i < n; i++) {
        char object[32];
        struct audit_event ev = {.actor = "tok-1",
                                 .action = "cert.issue",
                                 .object = object,
                                 .result = "ok",
                                 .detail = "{\"x\":1}"};
        snprintf(object, sizeof(object), "%s-%d", tenant, i + 1);
        if (audit_record(st, tenant, &ev, &e) != 0)
            fail_msg("audit_record: %s", e.msg);
    }
}

/* Edits the database file behind the store's back, as an attacker with file access would. */
static void tamper(const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    assert_true(sqlite3_changes(db) > 0);
    sqlite3_close(db);
}

struct verdict {
    int rc;
    int64_t count, bad;
    char why[256];
};

static struct verdict verify(const char *tenant)
{
    struct verdict v = {.bad = -999};
    struct err e;
    v.rc = audit_verify(st, tenant, &v.count, &v.bad, v.why, sizeof(v.why), &e);
    if (v.rc < 0)
        fail_msg("audit_verify: %s", e.msg);
    return v;
}

static void assert_broken_at(const char *tenant, int64_t seq, const char *why)
{
    struct verdict v = verify(tenant);
    if (v.rc != 1 || v.bad != seq || strstr(v.why, why) == NULL)
        fail_msg("want broken at %" PRId64 " (%s); got rc %d at %" PRId64 ": %s", seq, why, v.rc,
                 v.bad, v.why);
}

static void assert_intact(const char *tenant, int64_t count)
{
    struct verdict v = verify(tenant);
    if (v.rc != 0)
        fail_msg("want intact; got rc %d at %" PRId64 ": %s", v.rc, v.bad, v.why);
    assert_int_equal(v.count, count);
}

static struct audit_rec **chain_of(const char *tenant, size_t *n)
{
    struct store_tx *tx = store_begin_read(st, NULL);
    struct audit_rec **rows = NULL;
    struct err e;
    assert_non_null(tx);
    assert_int_equal(store_audit_list(tx, tenant, 0, 0, &rows, n, &e), 0);
    store_rollback(tx);
    return rows;
}

/* ---- the chain ------------------------------------------------------------ */

static void appended_events_form_a_chain_that_verifies(void **state)
{
    struct audit_rec **rows;
    size_t n = 0;
    (void)state;
    assert_intact("a", 0); /* an empty chain is intact */
    append_events("a", 25);
    assert_intact("a", 25);
    rows = chain_of("a", &n);
    assert_int_equal(n, 25);
    assert_string_equal(rows[0]->prev_hash,
                        "0000000000000000000000000000000000000000000000000000000000000000");
    for (size_t i = 0; i < n; i++) {
        char *h = audit_hash(rows[i]);
        assert_int_equal(rows[i]->seq, (int64_t)i + 1);
        assert_string_equal(rows[i]->tenant, "a");
        assert_string_equal(rows[i]->actor, "tok-1");
        assert_true(rows[i]->time > 1700000000);
        assert_int_equal(strlen(rows[i]->hash), 64);
        assert_string_equal(rows[i]->hash, h);
        if (i > 0)
            assert_string_equal(rows[i]->prev_hash, rows[i - 1]->hash);
        free(h);
    }
    audit_rec_list_free(rows, n);
}

static void events_appended_in_one_transaction_chain_and_roll_back_together(void **state)
{
    struct audit_event ev = {.action = "ca.create"}; /* defaults: system, ok, "", {} */
    struct store_tx *tx;
    struct audit_rec **rows;
    struct err e;
    size_t n = 0;
    (void)state;
    append_events("a", 2);
    tx = store_begin(st, &e);
    assert_non_null(tx);
    assert_int_equal(audit_append(tx, "a", &ev, &e), 0);
    assert_int_equal(audit_append(tx, "a", &ev, &e), 0);
    store_rollback(tx);
    assert_intact("a", 2);

    tx = store_begin(st, &e);
    assert_int_equal(audit_append(tx, "a", &ev, &e), 0);
    assert_int_equal(audit_append(tx, "a", &ev, &e), 0);
    assert_int_equal(store_commit(tx, &e), 0);
    assert_intact("a", 4);
    rows = chain_of("a", &n);
    assert_int_equal(n, 4);
    assert_string_equal(rows[3]->actor, "system");
    assert_string_equal(rows[3]->result, "ok");
    assert_string_equal(rows[3]->object, "");
    assert_string_equal(rows[3]->detail, "{}");
    assert_string_equal(rows[3]->prev_hash, rows[2]->hash);
    audit_rec_list_free(rows, n);

    ev.action = NULL;
    tx = store_begin(st, &e);
    assert_int_equal(audit_append(tx, "a", &ev, &e), -1);
    store_rollback(tx);
}

static void the_hash_is_sha256_of_the_documented_encoding(void **state)
{
    struct audit_rec r = {.tenant = "acme",
                          .seq = 12,
                          .time = 1700000000,
                          .actor = "tok-9",
                          .action = "cert.revoke",
                          .object = "",
                          .result = "ok",
                          .detail = "{\"reason\":1}",
                          .prev_hash = "ab"};
    const char *canon = "vouch-audit-v1\n4:acme\n2:12\n10:1700000000\n5:tok-9\n11:cert.revoke\n"
                        "0:\n2:ok\n12:{\"reason\":1}\n2:ab\n";
    unsigned char md[32];
    unsigned int len = 0;
    char *want, *got, *shifted;
    (void)state;
    assert_int_equal(EVP_Digest(canon, strlen(canon), md, &len, EVP_sha256(), NULL), 1);
    want = hex_encode(md, len);
    got = audit_hash(&r);
    assert_string_equal(got, want);
    /* Moving bytes between neighbouring fields changes the hash (length prefixes). */
    r.actor = "tok-9cert";
    r.action = ".revoke";
    shifted = audit_hash(&r);
    assert_string_not_equal(shifted, got);
    free(want);
    free(got);
    free(shifted);
}

/* ---- tampering ------------------------------------------------------------- */

static void an_edited_row_is_reported_whatever_field_changed(void **state)
{
    static const char *const edits[] = {
        "actor = 'someone-else'", "action = 'cert.revoke'", "object = 'forged'",
        "result = 'refused'",     "detail = '{\"x\":2}'",   "time = time + 1",
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(edits); i++) {
        char tenant[16], sql[256];
        snprintf(tenant, sizeof(tenant), "t%zu", i);
        append_events(tenant, 10);
        snprintf(sql, sizeof(sql), "UPDATE audit SET %s WHERE tenant = '%s' AND seq = 7", edits[i],
                 tenant);
        tamper(sql);
        assert_broken_at(tenant, 7, "row 7: hash mismatch (row edited)");
    }
}

static void an_edited_hash_or_prev_hash_is_reported(void **state)
{
    (void)state;
    append_events("a", 10);
    /* A row whose stored hash changed no longer matches its fields. */
    tamper("UPDATE audit SET hash = replace(hash, substr(hash, 1, 1), 'x')"
           " WHERE tenant = 'a' AND seq = 7");
    assert_broken_at("a", 7, "row 7: hash mismatch");
    append_events("b", 10);
    tamper("UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE tenant = 'b' AND seq = 3)"
           " WHERE tenant = 'b' AND seq = 9");
    assert_broken_at("b", 9, "row 9: prev_hash does not match row 8");
}

static void a_row_edited_with_its_hash_recomputed_breaks_the_next_link(void **state)
{
    struct audit_rec **rows;
    size_t n = 0;
    char *h, sql[256];
    (void)state;
    append_events("a", 10);
    rows = chain_of("a", &n);
    free(rows[4]->object);
    rows[4]->object = xstrdup("forged");
    h = audit_hash(rows[4]);
    snprintf(sql, sizeof(sql),
             "UPDATE audit SET object = 'forged', hash = '%s' WHERE tenant = 'a' AND seq = 5", h);
    tamper(sql);
    assert_broken_at("a", 6, "row 6: prev_hash does not match row 5");
    free(h);
    audit_rec_list_free(rows, n);
}

static void a_removed_row_is_reported(void **state)
{
    (void)state;
    append_events("a", 8);
    tamper("DELETE FROM audit WHERE tenant = 'a' AND seq = 4");
    assert_broken_at("a", 5, "row 5: expected seq 4 (row removed or reordered)");
    append_events("b", 8);
    tamper("DELETE FROM audit WHERE tenant = 'b' AND seq = 1");
    assert_broken_at("b", 2, "row 2: expected seq 1");
}

static void swapped_rows_are_reported(void **state)
{
    struct verdict v;
    (void)state;
    append_events("a", 6);
    tamper("UPDATE audit SET seq = 100 WHERE tenant = 'a' AND seq = 2;"
           "UPDATE audit SET seq = 2 WHERE tenant = 'a' AND seq = 3;"
           "UPDATE audit SET seq = 3 WHERE tenant = 'a' AND seq = 100;");
    v = verify("a");
    assert_int_equal(v.rc, 1);
    assert_int_equal(v.bad, 2);
    assert_int_equal(v.count, 1); /* row 1 verified before the break */
    assert_non_null(strstr(v.why, "row 2: prev_hash does not match row 1"));
}

static void a_row_slipped_in_before_the_first_is_reported(void **state)
{
    (void)state;
    append_events("a", 3);
    tamper("INSERT INTO audit SELECT tenant, 0, time, actor, action, object, result, detail,"
           " prev_hash, hash FROM audit WHERE tenant = 'a' AND seq = 1");
    assert_broken_at("a", 0, "row 0: expected seq 1");
}

static void a_row_moved_to_another_tenant_breaks_both_chains(void **state)
{
    (void)state;
    append_events("a", 5);
    append_events("b", 5);
    tamper("UPDATE audit SET tenant = 'b', seq = 6 WHERE tenant = 'a' AND seq = 3");
    assert_broken_at("a", 4, "row 4: expected seq 3");
    assert_broken_at("b", 6, "row 6: prev_hash does not match row 5");
}

static void chains_of_two_tenants_are_independent(void **state)
{
    (void)state;
    append_events("a", 10);
    append_events("b", 3);
    append_events("a", 2);
    assert_intact("a", 12);
    assert_intact("b", 3);
    tamper("UPDATE audit SET object = 'forged' WHERE tenant = 'a' AND seq = 7");
    assert_broken_at("a", 7, "hash mismatch");
    assert_intact("b", 3);
    /* b's chain grows on, intact, while a's stays broken. */
    append_events("b", 2);
    assert_intact("b", 5);
    assert_broken_at("a", 7, "hash mismatch");
}

static void a_chain_longer_than_a_page_verifies_and_breaks_past_the_page(void **state)
{
    struct audit_event ev = {.actor = "tok-1", .action = "cert.issue", .object = "x"};
    struct store_tx *tx = store_begin(st, NULL);
    struct err e;
    (void)state;
    assert_non_null(tx);
    for (int i = 0; i < 1205; i++)
        assert_int_equal(audit_append(tx, "a", &ev, &e), 0);
    assert_int_equal(store_commit(tx, &e), 0);
    assert_intact("a", 1205);
    tamper("UPDATE audit SET result = 'refused' WHERE tenant = 'a' AND seq = 1100");
    assert_broken_at("a", 1100, "row 1100: hash mismatch");
}

/* The RFC 5424 form of an event: PRI by result, header fields, escaped structured data. */
static void an_event_formats_as_rfc5424_syslog(void **state)
{
    struct audit_rec r = {.tenant = "acme",
                          .seq = 7,
                          .time = 1800000000,
                          .actor = "tok-1",
                          .action = "cert.revoke",
                          .object = "a\"b]c\\d",
                          .result = "refused",
                          .detail = "{\"why\":\"x\"}",
                          .prev_hash = "00",
                          .hash = "ff"};
    char *m, want[512];
    (void)state;
    m = forward_format(&r, 13, "node 1");
    snprintf(want, sizeof(want),
             "<108>1 2027-01-15T08:00:00Z node_1 vouchd %ld cert.revoke [vouch-audit@32473 "
             "tenant=\"acme\" seq=\"7\" actor=\"tok-1\" object=\"a\\\"b\\]c\\\\d\" "
             "result=\"refused\" hash=\"ff\"] \xef\xbb\xbf{\"why\":\"x\"}",
             (long)getpid());
    assert_string_equal(m, want);
    free(m);
    r.result = "ok";
    r.action = "";
    m = forward_format(&r, 4, NULL);
    assert_non_null(strstr(m, "<38>1 "));
    assert_non_null(strstr(m, " - [vouch-audit@32473 "));
    free(m);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(appended_events_form_a_chain_that_verifies),
        T(events_appended_in_one_transaction_chain_and_roll_back_together),
        T(the_hash_is_sha256_of_the_documented_encoding),
        T(an_edited_row_is_reported_whatever_field_changed),
        T(an_edited_hash_or_prev_hash_is_reported),
        T(a_row_edited_with_its_hash_recomputed_breaks_the_next_link),
        T(a_removed_row_is_reported),
        T(swapped_rows_are_reported),
        T(a_row_slipped_in_before_the_first_is_reported),
        T(a_row_moved_to_another_tenant_breaks_both_chains),
        T(chains_of_two_tenants_are_independent),
        T(a_chain_longer_than_a_page_verifies_and_breaks_past_the_page),
        cmocka_unit_test(an_event_formats_as_rfc5424_syslog),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
