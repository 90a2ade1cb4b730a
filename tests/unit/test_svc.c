/*
 * test_svc.c — the group commit (svc/writer.c) on a real SQLite file: many
 * threads' writes, each committed durably and returned its own result, a
 * failing piece rolling back only itself, nothing lost and nobody left
 * waiting.
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

#include "store/store.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit_from_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_write_alone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
