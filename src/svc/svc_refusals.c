/*
 * svc_refusals.c — refusals of requests that proved no identity.
 *
 * A request with no credential, an unknown, expired or revoked one, a wrong
 * secret, or a forged ACME request can come from anyone, in any number.
 * Each refusal is an audit event, that is a write transaction appending to a
 * hash chain: one event each would let a flood take the database's write
 * capacity and fill the chain (a fuzzing run once wrote 28,577 of them).  So
 * per chain and action, the first such refusal of each second is an event at
 * once, as any refusal; the ones after it in that second are counted, and one
 * event sums them up when the second is over — at the next such refusal of
 * the chain, or at svc_refusals_tick (every second) — with "refused": N in
 * its detail and the last one's reason, actor and object.  Each refusal is
 * also a log line at a bounded rate (log_flood).
 */
#include "svc/svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/audit.h"
#include "lib/log.h"

#define REFUSAL_SLOTS     64   /* chains and actions counted at once; past it, one event each */
#define REFUSAL_WINDOW_MS 1000 /* at most one event per slot in this time, plus its summary */

struct refusal_slot {
    char chain[64];
    char action[32];
    int64_t since_ms; /* when the slot's last event was written */
    int64_t first_held;
    long held; /* refusals counted since, not yet written */
    char actor[128];
    char object[256];
    struct err why; /* the last one's */
};

struct svc_refusals {
    pthread_mutex_t lock;
    struct refusal_slot slots[REFUSAL_SLOTS];
};

/* An event to write once the lock is released. */
struct refusal_event {
    char chain[64], action[32], actor[128], object[256];
    struct err why;
    long count; /* 0: a single refusal; else the sum of that many */
    int64_t since;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct svc_refusals *svc_refusals_new(void)
{
    struct svc_refusals *r = xcalloc(1, sizeof(*r));

    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void svc_refusals_free(struct svc_refusals *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* The chain an event of tenant goes to: the tenant's, or _system for a tenant that does not exist.
 */
static const char *refusal_chain(struct svc *s, const char *tenant)
{
    int active;

    if (tenant == NULL || !name_valid(tenant) || svc_tenant_check(s, tenant, &active, NULL) != 0)
        return "_system";
    return tenant;
}

static void refusal_write(struct svc *s, const struct refusal_event *ev)
{
    json_t *detail = json_pack("{s:s, s:s, s:s}", "error", ev->why.code, "detail", ev->why.msg,
                               "kind", err_kind_word(ev->why.kind));
    char since[32], *text;
    struct audit_event a = {.actor = ev->actor, .action = ev->action, .object = ev->object};
    struct err e;

    if (ev->count > 0) {
        json_object_set_new(detail, "refused", json_integer(ev->count));
        json_object_set_new(detail, "since",
                            json_string(time_format(ev->since, since, sizeof(since))));
    }
    text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    a.result = "refused";
    a.detail = text;
    if (audit_record(s->store, ev->chain, &a, &e) != 0)
        log_error("audit: cannot record refusal of %s in %s: %s", ev->action, ev->chain, e.msg);
    free(text);
    json_decref(detail);
}

/* The summary of slot's held refusals into ev, and the slot starts a new window at now. */
static void slot_drain(struct refusal_slot *slot, int64_t now, struct refusal_event *ev)
{
    snprintf(ev->chain, sizeof(ev->chain), "%s", slot->chain);
    snprintf(ev->action, sizeof(ev->action), "%s", slot->action);
    snprintf(ev->actor, sizeof(ev->actor), "%s", slot->actor);
    snprintf(ev->object, sizeof(ev->object), "%s", slot->object);
    ev->why = slot->why;
    ev->count = slot->held;
    ev->since = slot->first_held;
    slot->held = 0;
    slot->since_ms = now;
}

/* The slot of chain and action: found, or a free or quiet one taken; NULL if all are busy. */
static struct refusal_slot *slot_of(struct svc_refusals *r, const char *chain, const char *action,
                                    int64_t now)
{
    struct refusal_slot *quiet = NULL;

    for (int i = 0; i < REFUSAL_SLOTS; i++) {
        struct refusal_slot *slot = &r->slots[i];
        if (strcmp(slot->chain, chain) == 0 && strcmp(slot->action, action) == 0)
            return slot;
        if (quiet == NULL && slot->held == 0 &&
            (slot->chain[0] == '\0' || now - slot->since_ms >= REFUSAL_WINDOW_MS))
            quiet = slot;
    }
    if (quiet != NULL) {
        memset(quiet, 0, sizeof(*quiet));
        snprintf(quiet->chain, sizeof(quiet->chain), "%s", chain);
        snprintf(quiet->action, sizeof(quiet->action), "%s", action);
    }
    return quiet;
}

void svc_audit_unproven(struct svc *s, const char *tenant, const struct actor *a,
                        const char *action, const char *object, const struct err *why)
{
    const char *chain = refusal_chain(s, tenant), *actor = a && a->id ? a->id : "anonymous";
    struct refusal_event now_ev = {0}, summary = {0};
    int64_t now = now_ms();
    struct refusal_slot *slot;
    int write_now = 1;

    log_flood(LOG_FLOOD_AUTH, LOG_INFO, "refused: %s %s %s by %s: %s", chain, action,
              object ? object : "-", actor, why->msg);
    pthread_mutex_lock(&s->refusals->lock);
    if ((slot = slot_of(s->refusals, chain, action, now)) != NULL) {
        if (slot->since_ms != 0 && now - slot->since_ms < REFUSAL_WINDOW_MS) {
            if (slot->held++ == 0)
                slot->first_held = time_now();
            snprintf(slot->actor, sizeof(slot->actor), "%s", actor);
            snprintf(slot->object, sizeof(slot->object), "%s", object ? object : "");
            slot->why = *why;
            write_now = 0;
        } else {
            if (slot->held > 0)
                slot_drain(slot, now, &summary);
            slot->since_ms = now;
        }
    }
    pthread_mutex_unlock(&s->refusals->lock);
    if (summary.count > 0)
        refusal_write(s, &summary);
    if (!write_now)
        return;
    snprintf(now_ev.chain, sizeof(now_ev.chain), "%s", chain);
    snprintf(now_ev.action, sizeof(now_ev.action), "%s", action);
    snprintf(now_ev.actor, sizeof(now_ev.actor), "%s", actor);
    snprintf(now_ev.object, sizeof(now_ev.object), "%s", object ? object : "");
    now_ev.why = *why;
    refusal_write(s, &now_ev);
}

int svc_refusals_tick(struct svc *s, int all)
{
    struct refusal_event *ev = xcalloc(REFUSAL_SLOTS, sizeof(*ev));
    int64_t now = now_ms();
    int n = 0;

    pthread_mutex_lock(&s->refusals->lock);
    for (int i = 0; i < REFUSAL_SLOTS; i++) {
        struct refusal_slot *slot = &s->refusals->slots[i];
        if (slot->held > 0 && (all || now - slot->since_ms >= REFUSAL_WINDOW_MS))
            slot_drain(slot, now, &ev[n++]);
    }
    pthread_mutex_unlock(&s->refusals->lock);
    for (int i = 0; i < n; i++)
        refusal_write(s, &ev[i]);
    free(ev);
    return n;
}
