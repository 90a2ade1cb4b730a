/*
 * store_pool.h — the pool of database connections both backends share: a
 * mutex-protected free list that opens connections on demand up to a limit
 * (store_set_max_connections, DB_POOL_MAX by default); past it, a caller waits
 * for one to be given back, at most DB_BUSY_MS, then ERR_UNAVAILABLE.  A
 * connection that may not serve again (broken, or left inside a transaction)
 * is closed when given back and a new one is opened on next use, so a node
 * follows a restarted or failed-over database without a restart of its own.
 * What a connection is, the backend says through struct db_pool_class.
 */
#ifndef VOUCH_STORE_POOL_H
#define VOUCH_STORE_POOL_H

#include <pthread.h>

#include "lib/util.h"

#define DB_POOL_MAX 64    /* connections open at once from one process, by default */
#define DB_BUSY_MS  10000 /* how long a caller waits for a connection (or a lock) */

/* The start of every backend's connection struct. */
struct db_conn {
    struct db_conn *next; /* the free list */
};

/* How a backend opens, checks and closes its connections. */
struct db_pool_class {
    /* Opens a connection to target (a file name, a URL); NULL with e set. */
    struct db_conn *(*open)(const char *target, struct err *e);
    /* Whether c may serve the next transaction: 0 closes it instead of keeping it. */
    int (*reusable)(struct db_conn *c);
    void (*close)(struct db_conn *c);
};

struct db_pool {
    const struct db_pool_class *cls;
    char *target;
    pthread_mutex_t lock;    /* guards idle, open, max */
    pthread_cond_t released; /* a connection went back to the pool */
    struct db_conn *idle;
    int open; /* connections open, idle or held by a transaction */
    int max;  /* store_set_max_connections */
};

/* Sets up an empty pool of connections to target (copied). */
void db_pool_init(struct db_pool *p, const struct db_pool_class *cls, const char *target);
/* Closes the idle connections; every connection must have been given back. */
void db_pool_destroy(struct db_pool *p);
/* At most n (at least 1) connections open at once. */
void db_pool_set_max(struct db_pool *p, int n);
/*
 * An idle connection, or a new one while fewer than the limit are open, or
 * one given back within DB_BUSY_MS; NULL with e set.  The caller gives it back.
 */
struct db_conn *db_pool_take(struct db_pool *p, struct err *e);
/* Gives c back: kept for the next caller if reusable, else closed. */
void db_pool_give(struct db_pool *p, struct db_conn *c);

#endif
