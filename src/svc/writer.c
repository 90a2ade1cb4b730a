/* writer.c — group commit (see writer.h). */
#include "svc/writer.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
    writer_fn fn;
    void *arg;
    struct err err;
    int rc;
    int done;
    pthread_cond_t cond; /* signalled when done: only this job's thread wakes */
    struct job *next;
};

struct writer {
    struct store *store;
    int max_batch;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* jobs queued or stopping */
    struct job *head, *tail;
    int stopping;
};

/* Takes up to max_batch queued jobs (in order); NULL when stopping with nothing queued. */
static struct job *writer_take(struct writer *w)
{
    struct job *first, *last;
    int n = 1;

    pthread_mutex_lock(&w->lock);
    while (w->head == NULL && !w->stopping)
        pthread_cond_wait(&w->work, &w->lock);
    first = w->head;
    if (first != NULL) {
        for (last = first; last->next != NULL && n < w->max_batch; last = last->next)
            n++;
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&w->lock);
    return first;
}

static void batch_fail(struct job *batch, const struct err *e)
{
    for (struct job *j = batch; j != NULL; j = j->next)
        if (j->rc == 0) {
            j->rc = -1;
            j->err = *e;
        }
}

/* Runs one batch in one transaction, each job in a savepoint. */
static void writer_batch(struct writer *w, struct job *batch)
{
    struct store_tx *tx;
    struct err e;

    err_clear(&e);
    if ((tx = store_begin(w->store, &e)) == NULL) {
        batch_fail(batch, &e);
        return;
    }
    for (struct job *j = batch; j != NULL; j = j->next) {
        err_clear(&j->err);
        if (store_savepoint(tx, &j->err) != 0) {
            j->rc = -1;
            continue;
        }
        j->rc = j->fn(tx, j->arg, &j->err);
        if (j->rc != 0 ? store_savepoint_rollback(tx, &e) : store_savepoint_release(tx, &e)) {
            /* The transaction itself is broken: nothing of the batch can commit. */
            store_rollback(tx);
            batch_fail(batch, &e);
            return;
        }
    }
    if (store_commit(tx, &e) != 0)
        batch_fail(batch, &e);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct job *batch;

    while ((batch = writer_take(w)) != NULL) {
        writer_batch(w, batch);
        pthread_mutex_lock(&w->lock);
        for (struct job *j = batch, *next; j != NULL; j = next) {
            next = j->next;
            j->done = 1;
            pthread_cond_signal(&j->cond); /* j lives on its waiter's stack: last touch */
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

struct writer *writer_start(struct store *store, int max_batch)
{
    struct writer *w = xcalloc(1, sizeof(*w));

    w->store = store;
    w->max_batch = max_batch > 0 ? max_batch : 64;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        abort(); /* no thread at start-up: nothing can work */
    return w;
}

void writer_stop(struct writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int writer_run(struct writer *w, writer_fn fn, void *arg, struct err *e)
{
    struct job j = {.fn = fn, .arg = arg};

    pthread_cond_init(&j.cond, NULL);
    pthread_mutex_lock(&w->lock);
    if (w->tail != NULL)
        w->tail->next = &j;
    else
        w->head = &j;
    w->tail = &j;
    pthread_cond_signal(&w->work);
    while (!j.done)
        pthread_cond_wait(&j.cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_cond_destroy(&j.cond);
    if (j.rc != 0 && e != NULL)
        *e = j.err;
    return j.rc;
}
