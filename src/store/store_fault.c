/* store_fault.c — fault injection for tests (see store_fault.h). */
#include "store/store_fault.h"

#include <stdatomic.h>
#include <stdio.h>

static _Atomic long armed_at; /* 0: disarmed */
static _Atomic unsigned armed_kinds;
static _Atomic long seen;
static _Atomic int fired;
static _Atomic int outage;
static char fired_what[200]; /* written once, by the event that fails */

void store_fault_arm(long n, unsigned kinds)
{
    atomic_store(&armed_at, 0);
    atomic_store(&seen, 0);
    atomic_store(&fired, 0);
    atomic_store(&armed_kinds, kinds);
    atomic_store(&armed_at, n > 0 ? n : 0);
}

long store_fault_seen(void)
{
    return atomic_load(&seen);
}

int store_fault_fired(void)
{
    return atomic_load(&fired);
}

const char *store_fault_what(void)
{
    return atomic_load(&fired) ? fired_what : "";
}

int store_fault_hit(unsigned kind, const char *what, struct err *e)
{
    long n = atomic_load_explicit(&armed_at, memory_order_relaxed);

    if (n == 0 || !(atomic_load(&armed_kinds) & kind))
        return 0;
    if (atomic_fetch_add(&seen, 1) + 1 != n)
        return 0;
    snprintf(fired_what, sizeof(fired_what), "%s %s",
             kind == STORE_FAULT_COMMIT ? "commit" : "step", what);
    atomic_store(&fired, 1);
    err_set(e, ERR_UNAVAILABLE, "%s: injected fault (%s %ld)", what,
            kind == STORE_FAULT_COMMIT ? "commit" : "statement", n);
    return 1;
}

void store_fault_outage(int on)
{
    atomic_store(&outage, on != 0);
}

int store_fault_begin(struct err *e)
{
    if (!atomic_load_explicit(&outage, memory_order_relaxed))
        return 0;
    err_set(e, ERR_UNAVAILABLE, "database: cannot connect (injected outage)");
    return 1;
}
