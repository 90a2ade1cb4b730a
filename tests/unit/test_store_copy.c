/*
 * test_store_copy.c — a SQLite database copied while a connection of vouch's
 * store holds it open (WAL): the copy opens as a store with the same rows and
 * passes its integrity check; what is not a readable SQLite database is refused.
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

#include "store/store.h"
#include "store/store_copy.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vouch-test-copy-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* How many tenants the store at url lists. */
static size_t tenants(struct store *s)
{
    struct store_tx *tx;
    struct tenant_rec **list = NULL;
    size_t n = 0;
    struct err e;

    tx = store_begin_read(s, &e);
    assert_non_null(tx);
    assert_int_equal(store_tenant_list(tx, &list, &n, &e), 0);
    store_rollback(tx);
    for (size_t i = 0; i < n; i++)
        tenant_rec_free(list[i]);
    free(list);
    return n;
}

static void a_database_in_use_is_copied_whole(void **state)
{
    char src[128], dest[128], dest_url[140];
    struct store *s, *copy;
    struct store_tx *tx;
    struct err e;

    (void)state;
    snprintf(src, sizeof(src), "sqlite:%s/vouch.db", dir);
    snprintf(dest, sizeof(dest), "%s/copy.db", dir);
    snprintf(dest_url, sizeof(dest_url), "sqlite:%s", dest);
    s = store_open(src, &e);
    assert_non_null(s);
    tx = store_begin(s, &e);
    assert_non_null(tx);
    assert_int_equal(store_tenant_create(tx, "alpha", &e), 0);
    assert_int_equal(store_tenant_create(tx, "beta", &e), 0);
    assert_int_equal(store_commit(tx, &e), 0);
    /* s stays open (its WAL not checkpointed): the copy still holds both tenants. */
    assert_int_equal(store_sqlite_copy(src, dest, &e), 0);
    copy = store_open(dest_url, &e);
    assert_non_null(copy);
    assert_int_equal(tenants(copy), tenants(s));
    assert_int_equal(tenants(copy), 2);
    store_close(copy);
    store_close(s);
}

static void what_is_not_a_readable_sqlite_database_is_refused(void **state)
{
    char dest[128], bad[128], bad_url[140];
    FILE *f;
    struct err e;

    (void)state;
    snprintf(dest, sizeof(dest), "%s/copy.db", dir);
    assert_int_equal(store_sqlite_copy("postgresql://x/y", dest, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(store_sqlite_copy("sqlite:/nonexistent/vouch.db", dest, &e), -1);
    assert_non_null(strstr(e.msg, "cannot be read"));
    snprintf(bad, sizeof(bad), "%s/junk.db", dir);
    snprintf(bad_url, sizeof(bad_url), "sqlite:%s", bad);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("this is not a database, but it is long enough to be read as one's header......\n", f);
    fclose(f);
    assert_int_equal(store_sqlite_copy(bad_url, dest, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_database_in_use_is_copied_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(what_is_not_a_readable_sqlite_database_is_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
