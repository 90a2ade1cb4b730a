/*
 * writer.h — group commit.
 *
 * Writers hand their work to one committer thread, which runs everything
 * queued since its last commit in one transaction — each piece of work in a
 * savepoint of its own, so one failure rolls back only itself — and commits
 * once (one fsync for the whole batch).  writer_run() returns only after the
 * commit that holds its work is durable.  This keeps full durability
 * (synchronous=FULL) while the commit rate stops bounding the issuance rate.
 */
#ifndef VOUCH_WRITER_H
#define VOUCH_WRITER_H

#include "lib/util.h"
#include "store/store.h"

/* Work done inside the batch transaction; 0 ok, -1 (e set) rolls back this piece only. */
typedef int (*writer_fn)(struct store_tx *tx, void *arg, struct err *e);

struct writer;

/* Starts the committer thread; batches hold at most max_batch pieces (default 64). */
struct writer *writer_start(struct store *store, int max_batch);
/* Finishes queued work, stops the thread, frees w; accepts NULL. */
void writer_stop(struct writer *w);
/* Runs fn(tx, arg) in the next batch and waits for its commit.  0 ok, -1 with e set. */
int writer_run(struct writer *w, writer_fn fn, void *arg, struct err *e);

#endif
