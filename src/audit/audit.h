/*
 * audit.h — the per-tenant hash-chained, append-only audit log.
 *
 * Each event is a row (seq, time, actor, action, object, result, detail,
 * prev_hash, hash) with hash = SHA-256 over prev_hash and the canonical
 * encoding of the other fields (see audit.c).  The first row's prev_hash is
 * 64 zeros.  An event is written in the same transaction as the change it
 * records, so a change without its event (or the reverse) cannot exist.
 */
#ifndef VOUCH_AUDIT_H
#define VOUCH_AUDIT_H

#include <stdint.h>

#include "lib/util.h"
#include "store/store.h"

struct audit_event {
    const char *actor;
    const char *action;
    const char *object; /* NULL = "" */
    const char *result; /* "ok", "refused", "error" */
    const char *detail; /* JSON object text, NULL = "{}" */
};

/* Appends one event to tenant's chain inside tx. */
int audit_append(struct store_tx *tx, const char *tenant, const struct audit_event *ev,
                 struct err *e);

/*
 * Appends one event in a transaction of its own (for refused requests, where
 * nothing else is written).
 */
int audit_record(struct store *s, const char *tenant, const struct audit_event *ev, struct err *e);

/* The hash a row must carry, given its fields (hex, caller frees). */
char *audit_hash(const struct audit_rec *r);

/*
 * Verifies tenant's whole chain.  Returns 0 if intact; 1 if broken, with
 * *bad_seq set to the first row that does not verify (a changed row, a gap
 * from a removed row, or a row out of order) and why[] describing it; -1 on a
 * storage error.  *count gets the number of rows checked.
 */
int audit_verify(struct store *s, const char *tenant, int64_t *count, int64_t *bad_seq, char *why,
                 size_t why_len, struct err *e);

#endif
