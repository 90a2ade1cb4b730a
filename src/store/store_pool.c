/* store_pool.c — the connection pool of both backends (see store_pool.h). */
#include "store/store_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "lib/metrics.h"

void db_pool_init(struct db_pool *p, const struct db_pool_class *cls, const char *target)
{
    pthread_condattr_t attr;

    p->cls = cls;
    p->target = xstrdup(target);
    p->idle = NULL;
    p->open = 0;
    p->max = DB_POOL_MAX;
    metrics_db_max(p->max);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->released, &attr);
    pthread_condattr_destroy(&attr);
}

void db_pool_destroy(struct db_pool *p)
{
    struct db_conn *c, *next;

    for (c = p->idle; c != NULL; c = next) {
        next = c->next;
        p->cls->close(c);
        metrics_db_open(-1);
    }
    p->idle = NULL;
    pthread_cond_destroy(&p->released);
    pthread_mutex_destroy(&p->lock);
    free(p->target);
    p->target = NULL;
}

void db_pool_set_max(struct db_pool *p, int n)
{
    pthread_mutex_lock(&p->lock);
    p->max = n > 0 ? n : 1;
    metrics_db_max(p->max);
    pthread_cond_broadcast(&p->released);
    pthread_mutex_unlock(&p->lock);
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

struct db_conn *db_pool_take(struct db_pool *p, struct err *e)
{
    struct db_conn *c = NULL;
    struct timespec deadline;
    int waited = 0;

    pthread_mutex_lock(&p->lock);
    while (p->idle == NULL && p->open >= p->max) {
        if (!waited++) {
            deadline_in(&deadline, DB_BUSY_MS);
            metrics_db_waited(0);
        }
        if (pthread_cond_timedwait(&p->released, &p->lock, &deadline) == ETIMEDOUT &&
            p->idle == NULL && p->open >= p->max) {
            pthread_mutex_unlock(&p->lock);
            metrics_db_waited(1);
            err_set(e, ERR_UNAVAILABLE, "database busy: all %d connections in use", p->max);
            return NULL;
        }
    }
    if (p->idle != NULL) {
        c = p->idle;
        p->idle = c->next;
        c->next = NULL;
    } else {
        p->open++; /* reserved before opening, outside the lock */
    }
    pthread_mutex_unlock(&p->lock);
    if (c != NULL) {
        metrics_db_in_use(1);
        return c;
    }
    if ((c = p->cls->open(p->target, e)) == NULL) {
        pthread_mutex_lock(&p->lock);
        p->open--;
        pthread_cond_signal(&p->released);
        pthread_mutex_unlock(&p->lock);
        return NULL;
    }
    metrics_db_open(1);
    metrics_db_in_use(1);
    return c;
}

/*
 * A connection that may not serve again is closed rather than handed to the
 * next caller, so no transaction inherits another's half-done work or a dead
 * socket.
 */
void db_pool_give(struct db_pool *p, struct db_conn *c)
{
    int keep = p->cls->reusable(c);

    metrics_db_in_use(-1);
    if (!keep) {
        p->cls->close(c);
        metrics_db_open(-1);
    }
    pthread_mutex_lock(&p->lock);
    if (keep) {
        c->next = p->idle;
        p->idle = c;
    } else {
        p->open--;
    }
    pthread_cond_signal(&p->released);
    pthread_mutex_unlock(&p->lock);
}
