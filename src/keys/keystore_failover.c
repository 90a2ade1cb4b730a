/*
 * keystore_failover.c — two key stores holding the same keys, and the
 * signer's queue of key-store events (see keystore.h).
 *
 * One store is active.  A request that fails on it because the store failed
 * (ERR_UNAVAILABLE) or lacks a key it should hold (ERR_NOT_FOUND) is tried
 * once on the other; if that works the other becomes active and a
 * "keystore.failover" event is queued.  A store that lacks a key the other
 * holds has failed as surely as one that answers with an error (its token's
 * objects may be gone while its sessions still answer): it is marked so
 * (keystore_p11_fail), which opens it afresh, module and all, before it is
 * tried again.  While the backup is active, one request a second is tried on
 * the primary first; when it works the primary is active again
 * ("keystore.failback").  The events go to the network process, which writes
 * them into the _system audit chain.
 */
#include "keys/keystore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/log.h"

#define PROBE_INTERVAL 1   /* seconds between tries of a failed primary */
#define EVENTS_MAX     256 /* events kept until the network process takes them */

/* ---- events ------------------------------------------------------------------- */

struct event {
    char *action, *object, *detail;
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static struct event events[EVENTS_MAX];
static int events_head, events_count;

static void event_free(struct event *ev)
{
    free(ev->action);
    free(ev->object);
    free(ev->detail);
    memset(ev, 0, sizeof(*ev));
}

void keystore_event(const char *action, const char *object, const char *detail_json)
{
    struct event *ev;

    pthread_mutex_lock(&events_lock);
    if (events_count == EVENTS_MAX) { /* the oldest goes: the log line below stays */
        event_free(&events[events_head]);
        events_head = (events_head + 1) % EVENTS_MAX;
        events_count--;
    }
    ev = &events[(events_head + events_count) % EVENTS_MAX];
    ev->action = xstrdup(action);
    ev->object = xstrdup(object ? object : "");
    ev->detail = xstrdup(detail_json ? detail_json : "{}");
    events_count++;
    pthread_mutex_unlock(&events_lock);
}

int keystore_events_take(char **actions, char **objects, char **details, int max)
{
    int n = 0;

    pthread_mutex_lock(&events_lock);
    while (events_count > 0 && n < max) {
        struct event *ev = &events[events_head];
        actions[n] = ev->action;
        objects[n] = ev->object;
        details[n] = ev->detail;
        memset(ev, 0, sizeof(*ev));
        events_head = (events_head + 1) % EVENTS_MAX;
        events_count--;
        n++;
    }
    pthread_mutex_unlock(&events_lock);
    return n;
}

/* ---- the failover store ------------------------------------------------------ */

static const char *const role[2] = {"primary", "backup"};

struct fo_store {
    struct keystore base;
    struct keystore *st[2];
    pthread_mutex_t lock;
    int active;
    int64_t last_probe;
    int lacking[2]; /* keys the other token has and this one lacks, found on opening */
};

/* Whether e means the store failed (or lost a key) rather than the request being wrong. */
static int store_failed(const struct err *e)
{
    return e->kind == ERR_UNAVAILABLE || e->kind == ERR_NOT_FOUND || e->kind == ERR_INTERNAL;
}

/* Store i lacked (tenant, key_id), which the other store holds: i has failed. */
static void lacked(struct fo_store *s, int i, const char *tenant, const char *key_id)
{
    char why[200];

    snprintf(why, sizeof(why), "key %s/%s not found, which the %s token holds", tenant, key_id,
             role[1 - i]);
    keystore_p11_fail(s->st[i], why);
}

/* Makes `to` active after `from` failed with e (or healed); queues the event. */
static void switch_to(struct fo_store *s, int from, int to, const char *tenant, const char *key_id,
                      const struct err *e)
{
    json_t *d;
    char *text, desc[300];
    int changed;

    pthread_mutex_lock(&s->lock);
    changed = s->active == from;
    s->active = to;
    pthread_mutex_unlock(&s->lock);
    if (!changed)
        return;
    s->st[to]->ops->describe(s->st[to], desc, sizeof(desc));
    d = json_pack("{s:s, s:s, s:s, s:s, s:s}", "from", role[from], "to", role[to], "tenant", tenant,
                  "key_id", key_id, "now_using", desc);
    if (e != NULL)
        json_object_set_new(d, "reason", json_string(e->msg));
    text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    if (to == 1)
        log_warn("key store: failover to the backup token (%s)", e ? e->msg : "");
    else
        log_info("key store: the primary token is back; signing returns to it");
    keystore_event(to == 1 ? "keystore.failover" : "keystore.failback", role[to], text);
    free(text);
    json_decref(d);
}

/* Which store to try first: the active one, or the primary when a probe is due. */
static int first_choice(struct fo_store *s, int *probing)
{
    int64_t now = time_now();
    int first;

    pthread_mutex_lock(&s->lock);
    first = s->active;
    *probing = 0;
    if (first == 1 && now - s->last_probe >= PROBE_INTERVAL) {
        s->last_probe = now;
        first = 0;
        *probing = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return first;
}

static int fo_sign(struct keystore *ks, const char *tenant, const char *key_id, const char *md,
                   const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
                   struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    int probing, first = first_choice(s, &probing), other = 1 - first;
    struct err first_e;

    err_clear(&first_e);
    if (s->st[first]->ops->sign(s->st[first], tenant, key_id, md, data, len, sig, sig_len,
                                &first_e) == 0) {
        if (probing)
            switch_to(s, 1, 0, tenant, key_id, NULL);
        return 0;
    }
    if (!store_failed(&first_e)) {
        *e = first_e;
        return -1;
    }
    if (s->st[other]->ops->sign(s->st[other], tenant, key_id, md, data, len, sig, sig_len, e) !=
        0) {
        if (e->kind == ERR_NOT_FOUND && first_e.kind != ERR_NOT_FOUND)
            *e = first_e;
        return -1;
    }
    if (first_e.kind == ERR_NOT_FOUND)
        lacked(s, first, tenant, key_id);
    if (!probing)
        switch_to(s, first, other, tenant, key_id, &first_e);
    return 0;
}

/* As fo_sign: the primary, else (it failed) the backup. */
static int fo_decrypt(struct keystore *ks, const char *tenant, const char *key_id,
                      const unsigned char *in, size_t len, unsigned char **out, size_t *out_len,
                      struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    int probing, first = first_choice(s, &probing), other = 1 - first;
    struct err first_e;

    err_clear(&first_e);
    if (s->st[first]->ops->decrypt(s->st[first], tenant, key_id, in, len, out, out_len, &first_e) ==
        0) {
        if (probing)
            switch_to(s, 1, 0, tenant, key_id, NULL);
        return 0;
    }
    if (!store_failed(&first_e)) {
        *e = first_e;
        return -1;
    }
    if (s->st[other]->ops->decrypt(s->st[other], tenant, key_id, in, len, out, out_len, e) != 0) {
        if (e->kind == ERR_NOT_FOUND && first_e.kind != ERR_NOT_FOUND)
            *e = first_e;
        return -1;
    }
    if (first_e.kind == ERR_NOT_FOUND)
        lacked(s, first, tenant, key_id);
    if (!probing)
        switch_to(s, first, other, tenant, key_id, &first_e);
    return 0;
}

static EVP_PKEY *fo_load(struct keystore *ks, const char *tenant, const char *key_id, struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    int active;
    EVP_PKEY *k;
    struct err first_e;

    pthread_mutex_lock(&s->lock);
    active = s->active;
    pthread_mutex_unlock(&s->lock);
    err_clear(&first_e);
    if ((k = s->st[active]->ops->load(s->st[active], tenant, key_id, &first_e)) != NULL)
        return k;
    if (!store_failed(&first_e)) {
        *e = first_e;
        return NULL;
    }
    k = s->st[1 - active]->ops->load(s->st[1 - active], tenant, key_id, e);
    if (k == NULL && e->kind == ERR_NOT_FOUND && first_e.kind != ERR_NOT_FOUND)
        *e = first_e;
    if (k != NULL && first_e.kind == ERR_NOT_FOUND)
        lacked(s, active, tenant, key_id);
    return k;
}

/* The keys of the active store (the other if it fails). */
static int fo_list(struct keystore *ks, const char *tenant, char **ids, int max, struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    int active, n;

    pthread_mutex_lock(&s->lock);
    active = s->active;
    pthread_mutex_unlock(&s->lock);
    if ((n = s->st[active]->ops->list(s->st[active], tenant, ids, max, e)) >= 0 ||
        e->kind == ERR_INVALID)
        return n;
    return s->st[1 - active]->ops->list(s->st[1 - active], tenant, ids, max, e);
}

/* Files key in both stores under a new id; on any failure neither keeps it. */
static int put_both(struct fo_store *s, const char *tenant, EVP_PKEY *key, char **key_id,
                    struct err *e)
{
    for (int tries = 0; tries < 4; tries++) {
        char *id = random_id("key");
        struct err ignore;

        if (id == NULL)
            return err_set(e, ERR_INTERNAL, "CSPRNG failure");
        if (keystore_p11_put(s->st[0], tenant, id, key, e) == 0) {
            if (keystore_p11_put(s->st[1], tenant, id, key, e) == 0) {
                *key_id = id;
                return 0;
            }
            s->st[0]->ops->destroy(s->st[0], tenant, id, &ignore);
        }
        free(id);
        if (e->kind != ERR_CONFLICT)
            return -1;
    }
    return err_set(e, ERR_INTERNAL, "key store: no free key id");
}

/*
 * Two tokens cannot share a key generated inside one of them (it is not
 * extractable): the pair is made here, filed in both tokens as sensitive and
 * not extractable, and the private half is freed (OpenSSL clears it).
 */
static int fo_generate(struct keystore *ks, const char *tenant, enum key_type type, char **key_id,
                       EVP_PKEY **pub, struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    EVP_PKEY *key = key_generate(type, e), *p = NULL;
    int rc = -1;

    if (key != NULL && (p = keystore_public_copy(key, e)) != NULL &&
        put_both(s, tenant, key, key_id, e) == 0) {
        *pub = p;
        p = NULL;
        rc = 0;
    }
    EVP_PKEY_free(p);
    EVP_PKEY_free(key);
    return rc;
}

static int fo_import(struct keystore *ks, const char *tenant, EVP_PKEY *key, char **key_id,
                     struct err *e)
{
    return put_both((struct fo_store *)ks, tenant, key, key_id, e);
}

/* Deletes from both; ERR_NOT_FOUND only if neither had it, ERR_UNAVAILABLE if one could not be
 * asked. */
static int fo_destroy(struct keystore *ks, const char *tenant, const char *key_id, struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    struct err e2[2];
    int gone = 0, failed = -1;

    for (int i = 0; i < 2; i++) {
        err_clear(&e2[i]);
        if (s->st[i]->ops->destroy(s->st[i], tenant, key_id, &e2[i]) == 0)
            gone = 1;
        else if (e2[i].kind != ERR_NOT_FOUND)
            failed = i;
    }
    if (failed >= 0) {
        *e = e2[failed];
        return -1;
    }
    if (!gone) {
        *e = e2[0];
        return -1;
    }
    return 0;
}

/* Usable if either store is. */
static int fo_ping(struct keystore *ks, struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    int ok0 = s->st[0]->ops->ping(s->st[0], e) == 0;
    int ok1 = s->st[1]->ops->ping(s->st[1], ok0 ? NULL : e) == 0;

    return ok0 || ok1 ? 0 : -1;
}

static void fo_describe(struct keystore *ks, char *buf, size_t len)
{
    struct fo_store *s = (struct fo_store *)ks;
    char d[2][300];
    int active;

    pthread_mutex_lock(&s->lock);
    active = s->active;
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < 2; i++) {
        size_t used;
        s->st[i]->ops->describe(s->st[i], d[i], sizeof(d[i]));
        used = strlen(d[i]);
        if (s->lacking[i] > 0 && used + 1 < sizeof(d[i]))
            snprintf(d[i] + used, sizeof(d[i]) - used, " (lacks %d keys of the %s)", s->lacking[i],
                     role[1 - i]);
    }
    snprintf(buf, len, "primary %s; backup %s; signing with the %s", d[0], d[1], role[active]);
}

static void fo_close(struct keystore *ks)
{
    struct fo_store *s = (struct fo_store *)ks;

    for (int i = 0; i < 2; i++)
        s->st[i]->ops->close(s->st[i]);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/*
 * A key's binding from the active store, or from the other if the active one failed or has
 * none: a binding is only ever added (signer_bind.c), so the one either store holds applies.
 * If one store has none and the other cannot be asked, the key has none (signing goes on while
 * a token is down).
 */
static int fo_meta_get(struct keystore *ks, const char *tenant, const char *key_id, char *buf,
                       size_t len, struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    struct err first_e;
    int active;

    pthread_mutex_lock(&s->lock);
    active = s->active;
    pthread_mutex_unlock(&s->lock);
    err_clear(&first_e);
    if (s->st[active]->ops->meta_get(s->st[active], tenant, key_id, buf, len, &first_e) == 0)
        return 0;
    if (first_e.kind == ERR_INVALID || first_e.kind == ERR_INTERNAL) {
        *e = first_e;
        return -1;
    }
    if (s->st[1 - active]->ops->meta_get(s->st[1 - active], tenant, key_id, buf, len, e) == 0)
        return 0;
    /* One store answered that the key has none: bindings go to both, so it has none. */
    if (e->kind != ERR_NOT_FOUND && first_e.kind == ERR_NOT_FOUND)
        *e = first_e;
    return -1;
}

/* Into both stores; done if either took it (the other is read as well, fo_meta_get). */
static int fo_meta_set(struct keystore *ks, const char *tenant, const char *key_id,
                       const char *text, struct err *e)
{
    struct fo_store *s = (struct fo_store *)ks;
    struct err e2[2];
    int done = 0;

    for (int i = 0; i < 2; i++) {
        err_clear(&e2[i]);
        if (s->st[i]->ops->meta_set(s->st[i], tenant, key_id, text, &e2[i]) == 0)
            done = 1;
    }
    if (done)
        return 0;
    *e = e2[0].kind == ERR_NOT_FOUND ? e2[1] : e2[0];
    return -1;
}

static const struct keystore_ops fo_ops = {
    .generate = fo_generate,
    .import = fo_import,
    .load = fo_load,
    .destroy = fo_destroy,
    .ping = fo_ping,
    .close = fo_close,
    .sign = fo_sign,
    .decrypt = fo_decrypt,
    .describe = fo_describe,
    .list = fo_list,
    .meta_get = fo_meta_get,
    .meta_set = fo_meta_set,
};

#define COMPARE_MAX 65536

static int label_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Compares the keys of the two tokens: every key one lacks is logged and
 * queued as a keystore.key_missing event, and counted for the health line.
 */
static void keys_compare(struct fo_store *s)
{
    char **l[2];
    int n[2], i = 0, j = 0;
    struct err e;

    for (int k = 0; k < 2; k++) {
        l[k] = xcalloc(COMPARE_MAX, sizeof(char *));
        if ((n[k] = keystore_p11_labels(s->st[k], l[k], COMPARE_MAX, &e)) < 0) {
            log_warn("key store: cannot compare the tokens' keys: %s", e.msg);
            n[k] = 0;
        }
        qsort(l[k], (size_t)n[k], sizeof(char *), label_compare);
    }
    while (i < n[0] || j < n[1]) {
        int c = i == n[0] ? 1 : j == n[1] ? -1 : strcmp(l[0][i], l[1][j]);
        int lacks = c < 0 ? 1 : 0; /* which token lacks the key */
        const char *label = c < 0 ? l[0][i] : l[1][j];

        if (c == 0) {
            i++, j++;
            continue;
        }
        s->lacking[lacks]++;
        log_warn("key store: the %s token lacks key %s", role[lacks], label);
        {
            json_t *d = json_pack("{s:s, s:s}", "token", role[lacks], "key", label);
            char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
            keystore_event("keystore.key_missing", role[lacks], text);
            free(text);
            json_decref(d);
        }
        if (c < 0)
            i++;
        else
            j++;
    }
    for (int k = 0; k < 2; k++) {
        for (int m = 0; m < n[k]; m++)
            free(l[k][m]);
        free(l[k]);
    }
}

struct keystore *keystore_failover_open(struct keystore *primary, struct keystore *backup)
{
    struct fo_store *s = xcalloc(1, sizeof(*s));

    s->base.ops = &fo_ops;
    s->st[0] = primary;
    s->st[1] = backup;
    pthread_mutex_init(&s->lock, NULL);
    keys_compare(s);
    return &s->base;
}
