/*
 * store_fault.h — fault injection for tests (issue 22, point 8), in the
 * SQLite tradition: armed with n, the nth statement step or commit of a write
 * transaction (counted across the process from the arming) fails as the
 * database failing would: a step answers an error, a commit rolls the
 * transaction back and answers an error (what a failed fsync leaves).  Both
 * backends.  Disarmed (the default) it costs one relaxed atomic load.
 */
#ifndef VOUCH_STORE_FAULT_H
#define VOUCH_STORE_FAULT_H

#include "lib/util.h"

enum store_fault_kind {
    STORE_FAULT_STEP = 1u << 0,   /* a statement step in a write transaction */
    STORE_FAULT_COMMIT = 1u << 1, /* the commit of a write transaction */
    STORE_FAULT_ANY = STORE_FAULT_STEP | STORE_FAULT_COMMIT,
};

/* Arms the nth (from 1) event of kinds to fail; n 0 disarms.  Resets the count. */
void store_fault_arm(long n, unsigned kinds);
/* Events of the armed kinds seen since the arming, and whether the nth failed yet. */
long store_fault_seen(void);
int store_fault_fired(void);
/* What the failed event was ("step <what>", "commit commit"), "" before it. */
const char *store_fault_what(void);

/*
 * The database unreachable (on 1) or back (0): every transaction begun
 * meanwhile fails with ERR_UNAVAILABLE, as when the server is gone.
 */
void store_fault_outage(int on);
/* For the backends: 1 if a transaction may not begin now (store_fault_outage), e set. */
int store_fault_begin(struct err *e);

/* For the backends: 1 if this event (one of kind) is to fail, e set. */
int store_fault_hit(unsigned kind, const char *what, struct err *e);

#endif
