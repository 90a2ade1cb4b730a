/*
 * svc_ocsp.c — the OCSP responder (RFC 6960, RFC 5019).
 *
 * For every tenant it keeps the CAs it answers for in memory: the CA
 * certificate, its CertID hashes (SHA-1 and SHA-256) and how responses are
 * signed — by a delegated responder (a key in the signer and a short-lived
 * certificate the CA issued with id-kp-OCSPSigning and ocsp-nocheck, renewed
 * at half its life) or by the CA key itself.  The tenant's entry is loaded on
 * first use, reloaded on a CertID it does not know (at most once a second) and
 * by the pre-signer every ocsp_check_seconds.
 *
 * Certificate status is always read from the database, so every node of a
 * cluster answers alike.  Each certificate has a pre-signed response (one
 * SHA-1 CertID, no nonce: what RFC 5019 clients send); the database drops it
 * in the same statement that changes the certificate's status, a status
 * change re-signs it before the API call returns, and the pre-signer re-signs
 * responses past a fraction of their validity.  Other requests (nonce,
 * SHA-256 CertIDs, several CertIDs) are signed when they arrive.
 *
 * Stored responses read from the database are kept in memory for
 * ocsp_cache_seconds (see cache_get); a status change through this node is
 * seen at once, one through another node of a cluster within that time.
 */
#include "svc/svc_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "core/ocsp.h"
#include "lib/log.h"
#include "lib/metrics.h"

#define RELOAD_AFTER_MISS  1   /* seconds between reloads caused by unknown CertIDs */
#define BATCH              256 /* pre-signed responses per write transaction */
#define OCSP_LEASE_SECONDS 60  /* how long a node holds a CA's pre-signing (or responder) job */

/* One CA as the responder sees it; shared by reference count. */
struct ocsp_ca {
    int refs; /* guarded by ocsp_state.lock */
    char *tenant;
    char *name;
    X509 *cert;
    struct ocsp_issuer_hash sha1, sha256;
    struct ocsp_signer sg; /* cert, bound and key owned */
    char *key_id;          /* sg's key in the signer */
    int64_t signer_not_after;
    long validity_hours;
    struct ocsp_ca *next;
};

struct ocsp_tenant {
    char *name;
    int64_t loaded_at;
    struct ocsp_ca *cas;
    struct ocsp_tenant *next;
};

/*
 * A node-local cache of stored responses, in front of the database: a
 * direct-mapped table of CACHE_SLOTS slots under CACHE_STRIPES locks.  An
 * entry is served for at most ocsp_cache_seconds after it was read; a status
 * change made through this node empties its slot at once, and bumps the
 * slot's generation so that a read racing with the change cannot put the old
 * response back.
 */
#define CACHE_SLOTS   (1 << 16)
#define CACHE_STRIPES 64

struct cache_slot {
    uint64_t gen;
    char *tenant;
    char *serial;
    char *ca;
    unsigned char *der;
    size_t len;
    int64_t this_update, next_update, read_at;
};

struct ocsp_state {
    pthread_mutex_t live; /* guards the live-signing bucket */
    double live_tokens;
    int64_t live_refill_ms, live_logged;
    long live_refused;
    pthread_mutex_t lock; /* guards the lists and reference counts */
    pthread_mutex_t load; /* one load (which may create a responder) at a time */
    struct ocsp_tenant *tenants;
    struct cache_slot *slots;
    pthread_mutex_t stripes[CACHE_STRIPES];
};

static const struct actor system_actor = {.id = "system"};

struct ocsp_state *svc_ocsp_state_new(void)
{
    struct ocsp_state *st = xcalloc(1, sizeof(*st));

    pthread_mutex_init(&st->live, NULL);

    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->load, NULL);
    st->slots = xcalloc(CACHE_SLOTS, sizeof(*st->slots));
    for (int i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_init(&st->stripes[i], NULL);
    return st;
}

static void slot_clear(struct cache_slot *sl)
{
    free(sl->tenant);
    free(sl->serial);
    free(sl->ca);
    free(sl->der);
    sl->tenant = sl->serial = sl->ca = NULL;
    sl->der = NULL;
    sl->len = 0;
}

/* The slot of (tenant, serial) and its stripe lock (FNV-1a over both). */
static unsigned slot_of(const char *tenant, const char *serial)
{
    uint32_t h = 2166136261u;

    for (const char *p = tenant; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *p = serial; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % CACHE_SLOTS;
}

static pthread_mutex_t *stripe_of(struct ocsp_state *st, unsigned slot)
{
    return &st->stripes[slot % CACHE_STRIPES];
}

/*
 * Serves (tenant, serial) of CA ca from the cache into out; 1 if served.
 * Otherwise *gen gets the slot's generation, for cache_put.
 */
static int cache_get_within(struct svc *s, const char *tenant, const char *serial, const char *ca,
                            long max_age, struct ocsp_answer *out, uint64_t *gen)
{
    unsigned i = slot_of(tenant, serial);
    struct cache_slot *sl = &s->ocsp->slots[i];
    int64_t now = time_now();
    int served = 0;

    pthread_mutex_lock(stripe_of(s->ocsp, i));
    if (sl->der != NULL && strcmp(sl->tenant, tenant) == 0 && strcmp(sl->serial, serial) == 0 &&
        strcmp(sl->ca, ca) == 0 && now - sl->read_at < max_age && sl->this_update <= now &&
        now < sl->next_update) {
        out->der = xmalloc(sl->len);
        memcpy(out->der, sl->der, sl->len);
        out->len = sl->len;
        out->cacheable = 1;
        out->this_update = sl->this_update;
        out->next_update = sl->next_update;
        served = 1;
    }
    *gen = sl->gen;
    pthread_mutex_unlock(stripe_of(s->ocsp, i));
    return served;
}

static int cache_get(struct svc *s, const char *tenant, const char *serial, const char *ca,
                     struct ocsp_answer *out, uint64_t *gen)
{
    return cache_get_within(s, tenant, serial, ca, s->ocsp_cache_seconds, out, gen);
}

/*
 * The database cannot be reached: a response read within ocsp_outage_seconds
 * is served from memory (a nonce ignored, as RFC 8954 allows), never one past
 * its nextUpdate; a source for answer_count, or -1 (then: tryLater).  Logged
 * once a minute at most.
 */
static int answer_outage(struct svc *s, const char *tenant, const struct ocsp_ca *c,
                         const struct ocsp_query *q, const struct err *why, struct ocsp_answer *out)
{
    static _Atomic int64_t logged;
    int64_t now = time_now(), last = atomic_load(&logged);
    uint64_t gen;
    int served;

    if (s->ocsp_outage_seconds <= 0 || q->n != 1 || q->ids[0].hash_nid != NID_sha1 ||
        q->ids[0].serial == NULL)
        return -1;
    served =
        cache_get_within(s, tenant, q->ids[0].serial, c->name, s->ocsp_outage_seconds, out, &gen);
    if (now - last >= 60 && atomic_compare_exchange_strong(&logged, &last, now))
        log_warn("ocsp: the database cannot be reached (%s): answering from memory what was read "
                 "in the last %ld s, tryLater for the rest",
                 why->msg, s->ocsp_outage_seconds);
    return served ? METRICS_OCSP_CACHE : -1;
}

/* Keeps a response read from the database, unless the slot changed since gen. */
static void cache_put(struct svc *s, const struct ocsp_resp_rec *r, const char *tenant,
                      uint64_t gen)
{
    unsigned i = slot_of(tenant, r->serial);
    struct cache_slot *sl = &s->ocsp->slots[i];

    if (s->ocsp_cache_seconds <= 0)
        return;
    pthread_mutex_lock(stripe_of(s->ocsp, i));
    if (sl->gen == gen) {
        slot_clear(sl);
        sl->tenant = xstrdup(tenant);
        sl->serial = xstrdup(r->serial);
        sl->ca = xstrdup(r->ca);
        sl->der = xmalloc(r->der_len);
        memcpy(sl->der, r->der, r->der_len);
        sl->len = r->der_len;
        sl->this_update = r->this_update;
        sl->next_update = r->next_update;
        sl->read_at = time_now();
    }
    pthread_mutex_unlock(stripe_of(s->ocsp, i));
}

/* Forgets (tenant, serial): its status is changing. */
static void cache_forget(struct svc *s, const char *tenant, const char *serial)
{
    unsigned i = slot_of(tenant, serial);
    struct cache_slot *sl = &s->ocsp->slots[i];

    pthread_mutex_lock(stripe_of(s->ocsp, i));
    sl->gen++;
    slot_clear(sl);
    pthread_mutex_unlock(stripe_of(s->ocsp, i));
}

static void ca_free(struct ocsp_ca *c)
{
    X509_free(c->cert);
    X509_free(c->sg.cert);
    X509_free(c->sg.bound);
    EVP_PKEY_free(c->sg.key);
    free(c->key_id);
    free(c->tenant);
    free(c->name);
    free(c);
}

/* Drops one reference (call with st->lock held). */
static void ca_unref_locked(struct ocsp_ca *c)
{
    if (--c->refs == 0)
        ca_free(c);
}

static void ca_unref(struct ocsp_state *st, struct ocsp_ca *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    ca_unref_locked(c);
    pthread_mutex_unlock(&st->lock);
}

static void cas_unref_locked(struct ocsp_ca *list)
{
    for (struct ocsp_ca *c = list, *next; c != NULL; c = next) {
        next = c->next;
        ca_unref_locked(c);
    }
}

void svc_ocsp_state_free(struct ocsp_state *st)
{
    if (st == NULL)
        return;
    for (struct ocsp_tenant *t = st->tenants, *next; t != NULL; t = next) {
        next = t->next;
        cas_unref_locked(t->cas);
        free(t->name);
        free(t);
    }
    for (int i = 0; i < CACHE_SLOTS; i++)
        slot_clear(&st->slots[i]);
    free(st->slots);
    for (int i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_destroy(&st->stripes[i]);
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->live);
    pthread_mutex_destroy(&st->load);
    free(st);
}

void svc_ocsp_answer_clear(struct ocsp_answer *a)
{
    free(a->der);
    memset(a, 0, sizeof(*a));
}

/* A string option of the CA's options JSON (caller frees); fallback if absent. */
static char *ca_option_str(const struct ca_rec *ca, const char *key, const char *fallback)
{
    json_t *o = json_loads(ca->options_json ? ca->options_json : "{}", 0, NULL);
    const char *v = json_string_value(json_object_get(o, key));
    char *out = xstrdup(v ? v : fallback);

    json_decref(o);
    return out;
}

/* ---- delegated responders ------------------------------------------------ */

/* The subject of CA ca's responder: "CN=<ca> OCSP responder" (CN at most 64 chars). */
static X509_NAME *responder_subject(const char *ca)
{
    char cn[65];
    X509_NAME *name = X509_NAME_new();

    snprintf(cn, sizeof(cn), "%s OCSP responder", ca);
    if (name != NULL && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                   (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(name);
        name = NULL;
    }
    return name;
}

/*
 * Makes a new delegated responder for ca: a key in the signer and a
 * certificate under the tenant's ocsp-signing profile; stored and audited.
 */
static int responder_create(struct svc *s, const struct ca_rec *ca, struct ocsp_responder_rec **out,
                            struct err *e)
{
    struct issue_params p = {.ca = ca->name,
                             .profile = "ocsp-signing",
                             .validity_days = s->ocsp_responder_days,
                             .internal = 1};
    enum key_type kt = key_type_parse(s->ocsp_responder_key_type);
    struct ocsp_responder_rec r = {0};
    struct cert_rec *issued = NULL;
    struct store_tx *tx = NULL;
    X509_NAME *subject = NULL;
    EVP_PKEY *pub = NULL;
    char *key_id = NULL, *detail = NULL;
    int rc = -1;

    if (signer_keygen_for(s->signer, ca->tenant, kt, KEY_PURPOSE_OCSP, &key_id, &pub, e) != 0)
        return -1;
    if ((subject = responder_subject(ca->name)) == NULL) {
        err_ossl(e, ERR_INTERNAL, "ocsp: cannot make the responder's subject");
        goto out;
    }
    if (svc_issue_for_key(s, &system_actor, ca->tenant, &p, subject, pub, "ocsp.responder.issue",
                          &issued, NULL, e) != 0)
        goto out;
    r.tenant = ca->tenant;
    r.ca = ca->name;
    r.key_id = key_id;
    r.key_type = (char *)key_type_name(kt);
    r.serial = issued->serial;
    r.cert_der = issued->der;
    r.cert_len = issued->der_len;
    r.not_after = issued->not_after;
    r.created = time_now();
    detail = xasprintf("{\"serial\":\"%s\",\"key_id\":\"%s\"}", issued->serial, key_id);
    if ((tx = store_begin(s->store, e)) == NULL ||
        store_ocsp_responder_put(tx, ca->tenant, &r, e) != 0 ||
        svc_audit_ok(tx, ca->tenant, &system_actor, "ocsp.responder", ca->name, detail, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        *out = xcalloc(1, sizeof(**out));
        (*out)->tenant = xstrdup(r.tenant);
        (*out)->ca = xstrdup(r.ca);
        (*out)->key_id = key_id;
        key_id = NULL;
        (*out)->key_type = xstrdup(r.key_type);
        (*out)->serial = xstrdup(r.serial);
        (*out)->cert_der = xmalloc(r.cert_len);
        memcpy((*out)->cert_der, r.cert_der, r.cert_len);
        (*out)->cert_len = r.cert_len;
        (*out)->not_after = r.not_after;
        (*out)->created = r.created;
        log_info("ocsp: tenant %s CA %s: new responder certificate %s", ca->tenant, ca->name,
                 issued->serial);
    }
out:
    store_rollback(tx);
    if (rc != 0 && key_id != NULL) {
        struct err ignored;
        err_clear(&ignored);
        signer_delete(s->signer, ca->tenant, key_id, &ignored);
    }
    free(detail);
    free(key_id);
    cert_rec_free(issued);
    X509_NAME_free(subject);
    EVP_PKEY_free(pub);
    return rc;
}

/* Whether a responder certificate is past half its life (or gone). */
static int responder_stale(const struct ocsp_responder_rec *r, int64_t now)
{
    return r == NULL || r->not_after - now < (r->not_after - r->created) / 2 ||
           r->not_after <= now + 3600;
}

/* Fills c->sg for CA ca: the delegated responder (made or renewed if needed) or the CA key. */
static int ca_signer_setup(struct svc *s, const struct ca_rec *ca, struct ocsp_ca *c, struct err *e)
{
    char *mode = ca_option_str(ca, "ocsp_signer", s->ocsp_signer);
    struct ocsp_responder_rec *r = NULL;
    struct store_tx *tx;
    const char *key_id = ca->key_id, *key_type = ca->key_type;
    int rc = -1, missing = 0;

    if (strcmp(mode, "delegated") == 0) {
        if ((tx = store_begin_read(s->store, e)) == NULL)
            goto out;
        if (store_ocsp_responder_get(tx, ca->tenant, ca->name, &r, e) != 0 &&
            e->kind != ERR_NOT_FOUND) {
            store_rollback(tx);
            goto out;
        }
        store_rollback(tx);
        /* A responder whose key the signer no longer holds is replaced, not left failing. */
        if (r != NULL && !responder_stale(r, time_now())) {
            struct err ke;
            EVP_PKEY *k = svc_key(s, ca->tenant, r->key_id, &ke);

            if (k == NULL && ke.kind == ERR_NOT_FOUND) {
                log_warn("ocsp: tenant %s CA %s: the responder's key %s is gone: replacing it",
                         ca->tenant, ca->name, r->key_id);
                missing = 1;
            }
            EVP_PKEY_free(k);
        }
        /* Of several nodes, the one holding the lease renews; the others use what is there. */
        if ((responder_stale(r, time_now()) || missing) && strcmp(ca->status, "active") == 0 &&
            svc_lease(s, ca->tenant, "ocsp-responder", ca->name, OCSP_LEASE_SECONDS)) {
            struct ocsp_responder_rec *fresh = NULL;
            struct err ce;

            err_clear(&ce);
            if (responder_create(s, ca, &fresh, &ce) == 0) {
                ocsp_responder_rec_free(r);
                r = fresh;
                missing = 0;
            } else {
                log_warn("ocsp: tenant %s CA %s: cannot renew the responder: %s", ca->tenant,
                         ca->name, ce.msg);
            }
        }
        /* No usable delegated responder (a disabled CA cannot issue one): the CA key signs. */
        if (r != NULL && r->not_after > time_now() && !missing) {
            if ((c->sg.cert = svc_der_to_x509(r->cert_der, r->cert_len, e)) == NULL)
                goto out;
            c->sg.include_cert = 1;
            key_id = r->key_id;
            key_type = r->key_type;
        }
    }
    if (c->sg.cert == NULL) {
        c->sg.cert = c->cert;
        X509_up_ref(c->cert);
    }
    c->key_id = xstrdup(key_id);
    if ((c->sg.key = svc_key(s, ca->tenant, key_id, e)) == NULL ||
        (c->sg.bound = signer_key_cert(c->sg.key, c->sg.cert, e)) == NULL)
        goto out;
    c->sg.md = key_type_parse(key_type) == KEY_ED25519 ? NULL : EVP_sha256();
    if (asn1_time_to_epoch(X509_get0_notAfter(c->sg.cert), &c->signer_not_after) != 0)
        c->signer_not_after = 0;
    rc = 0;
out:
    ocsp_responder_rec_free(r);
    free(mode);
    return rc;
}

/* The responder's view of one CA record; NULL (logged) if it cannot answer for it. */
static struct ocsp_ca *ca_load(struct svc *s, const struct ca_rec *ca)
{
    struct ocsp_ca *c = xcalloc(1, sizeof(*c));
    struct err e;

    err_clear(&e);
    c->refs = 1;
    c->tenant = xstrdup(ca->tenant);
    c->name = xstrdup(ca->name);
    c->validity_hours = svc_ca_option(ca, "ocsp_validity_hours", s->ocsp_validity_hours);
    if ((c->cert = svc_ca_cert(s, ca, &e)) == NULL ||
        ocsp_issuer_hash(c->cert, NID_sha1, &c->sha1) != 0 ||
        ocsp_issuer_hash(c->cert, NID_sha256, &c->sha256) != 0 ||
        ca_signer_setup(s, ca, c, &e) != 0) {
        log_warn("ocsp: tenant %s CA %s: not answering for it: %s", ca->tenant, ca->name,
                 e.msg[0] ? e.msg : "cannot hash its certificate");
        ca_free(c);
        return NULL;
    }
    return c;
}

/* (Re)loads tenant's CAs into the state.  0 ok (also for a tenant without CAs). */
static int tenant_load(struct svc *s, const char *tenant, struct err *e)
{
    struct ocsp_state *st = s->ocsp;
    struct store_tx *tx;
    struct ca_rec **cas = NULL;
    struct ocsp_ca *list = NULL, *old = NULL;
    struct ocsp_tenant *t;
    size_t n = 0;

    pthread_mutex_lock(&st->load);
    if ((tx = store_begin_read(s->store, e)) == NULL) {
        pthread_mutex_unlock(&st->load);
        return -1;
    }
    if (store_ca_list(tx, tenant, &cas, &n, e) != 0) {
        store_rollback(tx);
        pthread_mutex_unlock(&st->load);
        return -1;
    }
    store_rollback(tx);
    for (size_t i = 0; i < n; i++) {
        struct ocsp_ca *c;

        if (cas[i]->cert_der != NULL && (c = ca_load(s, cas[i])) != NULL) {
            c->next = list;
            list = c;
        }
        ca_rec_free(cas[i]);
    }
    free(cas);
    pthread_mutex_lock(&st->lock);
    for (t = st->tenants; t != NULL && strcmp(t->name, tenant) != 0; t = t->next)
        ;
    if (t == NULL) {
        t = xcalloc(1, sizeof(*t));
        t->name = xstrdup(tenant);
        t->next = st->tenants;
        st->tenants = t;
    }
    old = t->cas;
    t->cas = list;
    t->loaded_at = time_now();
    cas_unref_locked(old);
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_unlock(&st->load);
    return 0;
}

/* Whether CertID id names CA c (SHA-1 and SHA-256 precomputed, others hashed now). */
static int ca_matches(struct ocsp_ca *c, const struct ocsp_id *id)
{
    struct ocsp_issuer_hash h;

    if (id->hash_nid == NID_sha1)
        return ocsp_id_matches(id, &c->sha1);
    if (id->hash_nid == NID_sha256)
        return ocsp_id_matches(id, &c->sha256);
    return ocsp_issuer_hash(c->cert, id->hash_nid, &h) == 0 && ocsp_id_matches(id, &h);
}

/*
 * The CA of tenant that id names, with a reference; NULL if none.  *loaded_at
 * gets when the tenant was last loaded (0 if never).
 */
static struct ocsp_ca *ca_find(struct ocsp_state *st, const char *tenant, const struct ocsp_id *id,
                               const char *by_name, int64_t *loaded_at)
{
    struct ocsp_tenant *t;
    struct ocsp_ca *found = NULL;

    pthread_mutex_lock(&st->lock);
    for (t = st->tenants; t != NULL && strcmp(t->name, tenant) != 0; t = t->next)
        ;
    *loaded_at = t ? t->loaded_at : 0;
    for (struct ocsp_ca *c = t ? t->cas : NULL; c != NULL && found == NULL; c = c->next)
        if (by_name ? strcmp(c->name, by_name) == 0 : ca_matches(c, id))
            found = c;
    if (found != NULL)
        found->refs++;
    pthread_mutex_unlock(&st->lock);
    return found;
}

/* ca_find, loading the tenant first if it was never loaded or a miss allows a reload. */
static struct ocsp_ca *ca_lookup(struct svc *s, const char *tenant, const struct ocsp_id *id,
                                 const char *by_name)
{
    int64_t loaded_at;
    struct ocsp_ca *c = ca_find(s->ocsp, tenant, id, by_name, &loaded_at);
    struct err e;

    if (c != NULL || time_now() - loaded_at < RELOAD_AFTER_MISS)
        return c;
    err_clear(&e);
    if (loaded_at == 0) {
        int active;
        if (svc_tenant_check(s, tenant, &active, &e) != 0)
            return NULL; /* no such tenant: nothing is loaded for it */
    }
    if (tenant_load(s, tenant, &e) != 0) {
        log_warn("ocsp: tenant %s: cannot load its CAs: %s", tenant, e.msg);
        return NULL;
    }
    return ca_find(s->ocsp, tenant, id, by_name, &loaded_at);
}

void svc_ocsp_ca_changed(struct svc *s, const char *tenant)
{
    struct err e;

    /* Loading makes the delegated responder of a new CA now, not on first use. */
    err_clear(&e);
    if (tenant_load(s, tenant, &e) != 0)
        log_warn("ocsp: tenant %s: cannot load its CAs: %s", tenant, e.msg);
}

/* ---- signing ------------------------------------------------------------- */

/* The SingleResponse status of a certificate record. */
static void status_of(const struct cert_rec *r, struct ocsp_status *st)
{
    st->reason = -1;
    st->revoked_at = 0;
    st->invalidity_date = 0;
    if (strcmp(r->status, "good") == 0) {
        st->status = V_OCSP_CERTSTATUS_GOOD;
        return;
    }
    st->status = V_OCSP_CERTSTATUS_REVOKED;
    st->revoked_at = r->revoked_at;
    st->reason = strcmp(r->status, "hold") == 0 ? REASON_CERTIFICATE_HOLD : r->reason;
    st->invalidity_date = r->invalidity_date;
}

/* nextUpdate of a response made now by c: its validity, never past the signer's notAfter. */
static int64_t next_update_of(const struct ocsp_ca *c, int64_t now)
{
    int64_t next = now + (int64_t)c->validity_hours * 3600;

    return c->signer_not_after > now && c->signer_not_after < next ? c->signer_not_after : next;
}

/*
 * Makes the pre-signed response of certificate r (of CA c) into *out; a
 * certificate long expired gets none and is not refreshed again.
 */
static int presign(struct svc *s, struct ocsp_ca *c, const struct cert_rec *r, int64_t now,
                   struct ocsp_resp_rec *out, struct err *e)
{
    struct ocsp_status st;
    unsigned char *der = NULL;
    size_t len = 0;
    int64_t next;
    int rc;

    memset(out, 0, sizeof(*out));
    out->serial = r->serial;
    out->ca = c->name;
    if (r->not_after < now - s->crl_expired_margin_days * 86400) {
        out->refresh_at = INT64_MAX; /* answered on demand, if ever asked */
        return 0;
    }
    if ((st.cid = ocsp_certid_sha1(c->cert, r->serial)) == NULL)
        return err_ossl(e, ERR_INTERNAL, "ocsp: cannot make a CertID for %s", r->serial);
    status_of(r, &st);
    next = next_update_of(c, now);
    rc = ocsp_response_sign(&c->sg, &st, 1, NULL, now, next, &der, &len, e);
    OCSP_CERTID_free((OCSP_CERTID *)st.cid);
    if (rc != 0)
        return -1;
    out->this_update = now;
    out->next_update = next;
    out->refresh_at = now + (next - now) * s->ocsp_refresh_percent / 100;
    out->der = der;
    out->der_len = len;
    return 0;
}

/* Stores the responses made for recs[0..n) in one transaction. */
static int presigned_store(struct svc *s, const char *tenant, struct ocsp_resp_rec *resp,
                           struct cert_rec **recs, size_t n, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);

    if (tx == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (resp[i].serial != NULL && store_ocsp_put(tx, tenant, &resp[i], recs[i], e) < 0) {
            store_rollback(tx);
            return -1;
        }
    return store_commit(tx, e);
}

/* Signs and stores up to budget due responses of CA c; the number signed, -1 on error. */
static int ca_presign(struct svc *s, struct ocsp_ca *c, int budget, struct err *e)
{
    int done = 0;

    while (done < budget) {
        int64_t now = time_now();
        int limit = budget - done < BATCH ? budget - done : BATCH;
        struct store_tx *tx = store_begin_read(s->store, e);
        struct cert_rec **due = NULL;
        struct ocsp_resp_rec *resp;
        size_t n = 0, made = 0;
        int rc = 0;

        if (tx == NULL)
            return -1;
        rc = store_ocsp_due(tx, c->tenant, c->name, now, limit, &due, &n, e);
        store_rollback(tx);
        if (rc != 0)
            return -1;
        /* Another node pre-signs this CA's responses: leave them to it. */
        if (n > 0 && done == 0 && !svc_lease(s, c->tenant, "ocsp", c->name, OCSP_LEASE_SECONDS)) {
            cert_rec_list_free(due, n);
            break;
        }
        resp = xcalloc(n ? n : 1, sizeof(*resp));
        for (made = 0; made < n && rc == 0; made++)
            rc = presign(s, c, due[made], now, &resp[made], e);
        if (rc == 0)
            rc = presigned_store(s, c->tenant, resp, due, n, e);
        for (size_t i = 0; i < made; i++)
            OPENSSL_free(resp[i].der);
        free(resp);
        cert_rec_list_free(due, n);
        if (rc != 0)
            return -1;
        done += (int)n;
        if ((int)n < limit)
            break;
    }
    return done;
}

int svc_ocsp_tick(struct svc *s, int budget, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tenant_rec **tenants = NULL;
    size_t nt = 0;
    int done = 0;

    if (tx == NULL)
        return -1;
    if (store_tenant_list(tx, &tenants, &nt, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    for (size_t i = 0; i < nt && done < budget; i++) {
        struct ocsp_ca **refs = NULL;
        struct ocsp_tenant *t;
        int64_t loaded_at = 0;
        int nref = 0, cap = 0;

        pthread_mutex_lock(&s->ocsp->lock);
        for (t = s->ocsp->tenants; t != NULL && strcmp(t->name, tenants[i]->name) != 0; t = t->next)
            ;
        loaded_at = t ? t->loaded_at : 0;
        pthread_mutex_unlock(&s->ocsp->lock);
        if (time_now() - loaded_at >= s->ocsp_check_seconds &&
            tenant_load(s, tenants[i]->name, e) != 0)
            log_warn("ocsp: tenant %s: cannot load its CAs: %s", tenants[i]->name, e->msg);
        pthread_mutex_lock(&s->ocsp->lock);
        for (t = s->ocsp->tenants; t != NULL && strcmp(t->name, tenants[i]->name) != 0; t = t->next)
            ;
        for (struct ocsp_ca *c = t ? t->cas : NULL; c != NULL; c = c->next) {
            if (nref == cap)
                refs = xrealloc(refs, (size_t)(cap = cap ? 2 * cap : 8) * sizeof(*refs));
            c->refs++;
            refs[nref++] = c;
        }
        pthread_mutex_unlock(&s->ocsp->lock);
        for (int k = 0; k < nref; k++) {
            int made = done < budget ? ca_presign(s, refs[k], budget - done, e) : 0;
            if (made < 0) {
                log_warn("ocsp: tenant %s CA %s: pre-signing failed: %s", refs[k]->tenant,
                         refs[k]->name, e->msg);
                /* a key gone from the signer: the next load of the tenant replaces it */
                if (e->kind == ERR_NOT_FOUND)
                    svc_key_forget(s, refs[k]->tenant, refs[k]->key_id);
            } else
                done += made;
            ca_unref(s->ocsp, refs[k]);
        }
        free(refs);
    }
    for (size_t i = 0; i < nt; i++)
        tenant_rec_free(tenants[i]);
    free(tenants);
    return done;
}

void svc_ocsp_refresh(struct svc *s, const char *tenant, const char *serial)
{
    struct store_tx *tx;
    struct cert_rec *r = NULL;
    struct ocsp_resp_rec resp = {0};
    struct ocsp_ca *c = NULL;
    struct err e;

    err_clear(&e);
    cache_forget(s, tenant, serial);
    if ((tx = store_begin_read(s->store, &e)) == NULL)
        goto out;
    if (store_cert_get(tx, tenant, serial, &r, &e) != 0) {
        store_rollback(tx);
        goto out;
    }
    store_rollback(tx);
    if ((c = ca_lookup(s, tenant, NULL, r->ca)) == NULL) {
        err_set(&e, ERR_NOT_FOUND, "CA %s is not answered for", r->ca);
        goto out;
    }
    if (presign(s, c, r, time_now(), &resp, &e) == 0)
        presigned_store(s, tenant, &resp, &r, 1, &e);
    OPENSSL_free(resp.der);
out:
    if (e.kind != ERR_NONE)
        log_warn("ocsp: tenant %s: serial %s: response not re-signed (signed on demand): %s",
                 tenant, serial, e.msg);
    ca_unref(s->ocsp, c);
    cert_rec_free(r);
}

/* ---- answering ----------------------------------------------------------- */

static void answer_error(struct ocsp_answer *out, int status)
{
    size_t len;
    const unsigned char *der = ocsp_error_der(status, &len);

    memset(out, 0, sizeof(*out));
    out->status = status;
    out->der = xmalloc(len);
    memcpy(out->der, der, len);
    out->len = len;
}

/*
 * Serves the stored response of the request's one CertID if it may be:
 * METRICS_OCSP_CACHE or METRICS_OCSP_PRESIGNED (from the database) if
 * served, else -1.
 */
static int answer_presigned(struct svc *s, const char *tenant, const struct ocsp_ca *c,
                            const struct ocsp_query *q, int ignore_nonce, struct ocsp_answer *out)
{
    struct store_tx *tx;
    struct ocsp_resp_rec *r = NULL;
    int64_t now = time_now();
    uint64_t gen = 0;
    struct err e;
    int served = -1;

    if (q->n != 1 || (q->has_nonce && !ignore_nonce) || q->ids[0].hash_nid != NID_sha1 ||
        q->ids[0].serial == NULL)
        return -1;
    if (cache_get(s, tenant, q->ids[0].serial, c->name, out, &gen))
        return METRICS_OCSP_CACHE;
    err_clear(&e);
    if ((tx = store_begin_read(s->store, &e)) == NULL)
        return answer_outage(s, tenant, c, q, &e, out);
    if (store_ocsp_get(tx, tenant, q->ids[0].serial, &r, &e) == 0 && r->der != NULL &&
        strcmp(r->ca, c->name) == 0 && r->this_update <= now && now < r->next_update) {
        cache_put(s, r, tenant, gen);
        out->der = r->der;
        out->len = r->der_len;
        r->der = NULL;
        out->cacheable = 1;
        out->this_update = r->this_update;
        out->next_update = r->next_update;
        served = METRICS_OCSP_PRESIGNED;
    }
    store_rollback(tx);
    ocsp_resp_rec_free(r);
    if (served < 0 && e.kind != ERR_NONE && e.kind != ERR_NOT_FOUND)
        return answer_outage(s, tenant, c, q, &e, out);
    return served;
}

/*
 * Whether this node may sign one more response on demand now: a token bucket
 * of ocsp_live_signs_per_second (0: no limit).  Requests for serials nobody
 * pre-signed (unknown ones, several CertIDs, nonces, SHA-256 CertIDs) cost a
 * signature each; random serials must not buy all of a node's CPU.
 */
static int live_admit(struct svc *s)
{
    struct ocsp_state *st = s->ocsp;
    long rate = s->ocsp_live_rate; /* one read: svc_reload may change it */
    struct timespec ts;
    int64_t now;
    int ok;

    if (rate <= 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    pthread_mutex_lock(&st->live);
    if (st->live_refill_ms == 0)
        st->live_tokens = (double)rate;
    else
        st->live_tokens += (double)(now - st->live_refill_ms) * (double)rate / 1000.0;
    if (st->live_tokens > (double)rate)
        st->live_tokens = (double)rate;
    st->live_refill_ms = now;
    ok = st->live_tokens >= 1.0;
    if (ok) {
        st->live_tokens -= 1.0;
    } else if (st->live_refused++, now - st->live_logged >= 10000) {
        log_warn("ocsp: over %ld live signatures a second: %ld request(s) answered tryLater "
                 "or from a stored response",
                 rate, st->live_refused);
        st->live_logged = now;
        st->live_refused = 0;
    }
    pthread_mutex_unlock(&st->live);
    return ok;
}

/* Signs a response for every CertID of q (all of CA c) now. */
static void answer_live(struct svc *s, const char *tenant, struct ocsp_ca *c,
                        const struct ocsp_query *q, struct ocsp_answer *out)
{
    struct ocsp_status st[OCSP_MAX_IDS];
    struct cert_rec *recs[OCSP_MAX_IDS] = {0};
    struct store_tx *tx;
    unsigned char *der = NULL;
    int64_t now = time_now(), next = next_update_of(c, now);
    size_t len = 0;
    struct err e;
    int i;

    err_clear(&e);
    if ((tx = store_begin_read(s->store, &e)) == NULL) {
        if (answer_outage(s, tenant, c, q, &e, out) < 0)
            answer_error(out, OCSP_RESPONSE_STATUS_TRYLATER);
        return;
    }
    for (i = 0; i < q->n; i++) {
        memset(&st[i], 0, sizeof(st[i]));
        st[i].cid = q->ids[i].cid;
        st[i].status = V_OCSP_CERTSTATUS_UNKNOWN;
        st[i].reason = -1;
        if (q->ids[i].serial == NULL)
            continue;
        if (store_cert_get(tx, tenant, q->ids[i].serial, &recs[i], &e) != 0) {
            if (e.kind != ERR_NOT_FOUND)
                break;
            err_clear(&e);
            continue;
        }
        if (strcmp(recs[i]->ca, c->name) == 0)
            status_of(recs[i], &st[i]);
    }
    store_rollback(tx);
    if (i == q->n && ocsp_response_sign(&c->sg, st, q->n, q->has_nonce ? q->req : NULL, now, next,
                                        &der, &len, &e) == 0) {
        memset(out, 0, sizeof(*out));
        out->der = xmalloc(len);
        memcpy(out->der, der, len);
        out->len = len;
        out->cacheable = !q->has_nonce;
        out->this_update = now;
        out->next_update = next;
        OPENSSL_free(der);
    } else {
        log_warn("ocsp: tenant %s CA %s: cannot answer: %s", tenant, c->name, e.msg);
        answer_error(out, e.kind == ERR_UNAVAILABLE || e.kind == ERR_NOT_FOUND
                              ? OCSP_RESPONSE_STATUS_TRYLATER
                              : OCSP_RESPONSE_STATUS_INTERNALERROR);
        if (e.kind == ERR_NOT_FOUND) /* the key is gone: the next tick replaces the responder */
            svc_key_forget(s, tenant, c->key_id);
    }
    for (i = 0; i < q->n; i++)
        cert_rec_free(recs[i]);
}

/* Counts an answer in /metrics by where it came from and its responseStatus. */
static void answer_count(int source, const struct ocsp_answer *out)
{
    enum metrics_ocsp_status st;

    switch (out->status) {
    case OCSP_RESPONSE_STATUS_SUCCESSFUL:
        st = METRICS_OCSP_SUCCESSFUL;
        break;
    case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST:
        st = METRICS_OCSP_MALFORMED;
        break;
    case OCSP_RESPONSE_STATUS_TRYLATER:
        st = METRICS_OCSP_TRY_LATER;
        break;
    case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
        st = METRICS_OCSP_UNAUTHORIZED;
        break;
    default:
        st = METRICS_OCSP_INTERNAL_ERROR;
        break;
    }
    metrics_ocsp_count((enum metrics_ocsp_source)source, st);
}

void svc_ocsp_answer(struct svc *s, const char *tenant, const char *ca, const unsigned char *req,
                     size_t len, struct ocsp_answer *out)
{
    struct ocsp_query q;
    struct ocsp_ca *c = NULL;
    int source = METRICS_OCSP_NONE;
    struct err e;

    memset(out, 0, sizeof(*out));
    err_clear(&e);
    if (ocsp_query_parse(req, len, &q, &e) != 0) {
        answer_error(out, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
        answer_count(METRICS_OCSP_NONE, out);
        return;
    }
    /* One responder signs the whole response: every CertID must name the same CA of ours. */
    if (name_valid(tenant) && (c = ca_lookup(s, tenant, &q.ids[0], NULL)) != NULL &&
        (ca == NULL || strcmp(ca, c->name) == 0)) {
        int i;
        for (i = 1; i < q.n && ca_matches(c, &q.ids[i]); i++)
            ;
        /* Over the live-signing rate a nonce is ignored (RFC 8954 allows it) or: tryLater. */
        if (i == q.n && (source = answer_presigned(s, tenant, c, &q, 0, out)) < 0) {
            source = METRICS_OCSP_LIVE;
            if (live_admit(s))
                answer_live(s, tenant, c, &q, out);
            else if ((source = answer_presigned(s, tenant, c, &q, 1, out)) < 0)
                answer_error(out, OCSP_RESPONSE_STATUS_TRYLATER);
        }
    }
    if (out->der == NULL)
        answer_error(out, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    answer_count(out->status != OCSP_RESPONSE_STATUS_SUCCESSFUL || source < 0 ? METRICS_OCSP_NONE
                                                                              : source,
                 out);
    ca_unref(s->ocsp, c);
    ocsp_query_clear(&q);
}
