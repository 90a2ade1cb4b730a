/*
 * svc_tsa.c — time-stamping units and the RFC 3161 responder.
 *
 * A request is parsed and checked here (network input never reaches the
 * signer), the TSTInfo is built here, and the signer wraps it in the CMS
 * SignedData of the token.  Each token is recorded with its audit event
 * through the group-commit writer and returned only after that commit.
 * Anything that goes wrong after the request was accepted is answered with
 * a rejection (systemFailure), never with a token that was not recorded.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include <openssl/evp.h>

#include "lib/log.h"
#include "lib/metrics.h"

#define DEFAULT_HASHES   "[\"sha256\", \"sha384\", \"sha512\"]"
#define DEFAULT_ACCURACY 1000

static void cache_entry_free(struct tsa_cache_entry *c)
{
    if (c == NULL)
        return;
    tsa_unit_rec_free(c->rec);
    tsa_policy_clear(&c->policy);
    X509_NAME_free(c->subject);
    free(c);
}

void svc_tsa_cache_free(struct svc *s)
{
    for (struct tsa_cache_entry *c = s->tsa_units, *next; c != NULL; c = next) {
        next = c->next;
        cache_entry_free(c);
    }
    s->tsa_units = NULL;
}

char *svc_tsa_url(struct svc *s, const char *tenant, const char *unit)
{
    return xasprintf("%s/tsa/%s/%s", s->public_url, tenant, unit);
}

static const char *digest_of(const char *key_type)
{
    switch (key_type_parse(key_type)) {
    case KEY_EC_P384:
        return "sha384";
    case KEY_ED25519:
        return "";
    default:
        return "sha256";
    }
}

/* A cache entry made from a unit record (taken over); NULL with e set. */
static struct tsa_cache_entry *cache_entry_new(struct tsa_unit_rec *rec, struct err *e)
{
    struct tsa_cache_entry *c = xcalloc(1, sizeof(*c));
    const unsigned char *p = rec->cert_der;
    X509 *cert = d2i_X509(NULL, &p, (long)rec->cert_len);

    c->rec = rec;
    c->digest = digest_of(rec->key_type);
    if (cert == NULL || (c->subject = X509_NAME_dup(X509_get_subject_name(cert))) == NULL) {
        err_ossl(e, ERR_INTERNAL, "TSA unit %s: stored certificate does not parse", rec->name);
        X509_free(cert);
        cache_entry_free(c);
        return NULL;
    }
    /* A validity that does not read leaves [0, 0): no token is made. */
    if (asn1_time_to_epoch(X509_get0_notBefore(cert), &c->not_before) != 0 ||
        asn1_time_to_epoch(X509_get0_notAfter(cert), &c->not_after) != 0)
        c->not_before = c->not_after = 0;
    X509_free(cert);
    if (tsa_policy_init(&c->policy, rec->policy, rec->policies_json, rec->hashes_json,
                        rec->accuracy_ms, e) != 0) {
        err_set(e, ERR_INTERNAL, "TSA unit %s: stored settings are invalid", rec->name);
        cache_entry_free(c);
        return NULL;
    }
    return c;
}

static struct tsa_cache_entry *cache_find(struct svc *s, const char *tenant, const char *unit)
{
    struct tsa_cache_entry *c;

    pthread_mutex_lock(&s->lock);
    for (c = s->tsa_units; c != NULL; c = c->next)
        if (!c->stale && strcmp(c->rec->tenant, tenant) == 0 && strcmp(c->rec->name, unit) == 0)
            break;
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* Whether the unit's stored settings differ from those the cache entry was made from. */
static int settings_changed(const struct tsa_unit_rec *a, const struct tsa_unit_rec *b)
{
    return strcmp(a->status, b->status) != 0 || strcmp(a->policy, b->policy) != 0 ||
           strcmp(a->policies_json, b->policies_json) != 0 ||
           strcmp(a->hashes_json, b->hashes_json) != 0 || a->accuracy_ms != b->accuracy_ms ||
           a->include_chain != b->include_chain;
}

/* This node loads (tenant, unit) again at its next request. */
static void cache_forget(struct svc *s, const char *tenant, const char *unit)
{
    pthread_mutex_lock(&s->lock);
    for (struct tsa_cache_entry *c = s->tsa_units; c != NULL; c = c->next)
        if (strcmp(c->rec->tenant, tenant) == 0 && strcmp(c->rec->name, unit) == 0)
            c->stale = 1;
    pthread_mutex_unlock(&s->lock);
}

/*
 * Whether the unit may issue now: it is active, its tenant is active and its
 * certificate is neither revoked nor on hold.  Read again at most once a
 * second, so a suspension, a revocation or a change of the unit reaches every
 * node within a second (a changed unit is loaded again at the next request).
 */
static int unit_usable(struct svc *s, struct tsa_cache_entry *c, struct err *e)
{
    int64_t now = time_now();
    struct cert_rec *cert = NULL;
    struct tsa_unit_rec *unit = NULL;
    struct store_tx *tx;
    int active = 0, usable;

    pthread_mutex_lock(&s->lock);
    usable = c->usable;
    if (now - c->checked_at < 1) {
        pthread_mutex_unlock(&s->lock);
        return usable ? 0 : err_set(e, ERR_UNAVAILABLE, "the unit cannot issue now");
    }
    pthread_mutex_unlock(&s->lock);
    if (svc_tenant_check(s, c->rec->tenant, &active, e) != 0 ||
        (tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    usable = active && store_cert_get(tx, c->rec->tenant, c->rec->cert_serial, &cert, e) == 0 &&
             strcmp(cert->status, "good") == 0 &&
             store_tsa_unit_get(tx, c->rec->tenant, c->rec->name, &unit, e) == 0 &&
             strcmp(unit->status, "active") == 0;
    store_rollback(tx);
    if (unit != NULL && settings_changed(unit, c->rec))
        cache_forget(s, c->rec->tenant, c->rec->name);
    tsa_unit_rec_free(unit);
    if (!usable)
        log_warn("tsa %s/%s: not issuing: %s", c->rec->tenant, c->rec->name,
                 !active                             ? "the tenant is not active"
                 : !cert                             ? "the unit certificate is not found"
                 : strcmp(cert->status, "good") != 0 ? "the unit certificate is revoked or on hold"
                                                     : "the unit is disabled");
    cert_rec_free(cert);
    pthread_mutex_lock(&s->lock);
    c->usable = usable;
    c->checked_at = now;
    pthread_mutex_unlock(&s->lock);
    return usable ? 0 : err_set(e, ERR_UNAVAILABLE, "the unit cannot issue now");
}

/*
 * The unit (tenant, unit), from the cache or the store (entries live as long
 * as the svc; a changed unit gets a new one).  NULL with e (ERR_NOT_FOUND).
 */
static struct tsa_cache_entry *unit_get(struct svc *s, const char *tenant, const char *unit,
                                        struct err *e)
{
    struct tsa_cache_entry *c = cache_find(s, tenant, unit);
    struct tsa_unit_rec *rec = NULL;
    struct store_tx *tx;
    int active = 0, rc;

    if (c != NULL)
        return c;
    if (!name_valid(unit) || svc_tenant_check(s, tenant, &active, e) != 0 || !active) {
        err_set(e, ERR_NOT_FOUND, "no such TSA");
        return NULL;
    }
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return NULL;
    rc = store_tsa_unit_get(tx, tenant, unit, &rec, e);
    store_rollback(tx);
    if (rc != 0 || (c = cache_entry_new(rec, e)) == NULL) {
        if (rc != 0 && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "no such TSA");
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    for (struct tsa_cache_entry *o = s->tsa_units; o != NULL; o = o->next)
        if (!o->stale && strcmp(o->rec->tenant, tenant) == 0 && strcmp(o->rec->name, unit) == 0) {
            /* Another thread loaded it meanwhile: keep one. */
            pthread_mutex_unlock(&s->lock);
            cache_entry_free(c);
            return o;
        }
    c->next = s->tsa_units;
    s->tsa_units = c;
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* Whether the kernel says the clock is synchronised (adjtimex(2), read-only). */
static int clock_synced(void)
{
    struct timex tx = {0};
    int state = adjtimex(&tx);

    return state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

/* ---- answering ------------------------------------------------------- */

/* What one token writes: its record and its audit event. */
struct token_write {
    const struct tsa_token_rec *rec;
    const char *detail;
};

static int token_write_fn(struct store_tx *tx, void *arg, struct err *e)
{
    struct token_write *w = arg;
    struct actor a = {.id = "anonymous"};
    char *object = xasprintf("%s/%s", w->rec->unit, w->rec->serial);
    int rc = store_tsa_token_insert(tx, w->rec->tenant, w->rec, e);

    if (rc == 0)
        rc = svc_audit_ok(tx, w->rec->tenant, &a, "tsa.token", object, w->detail, e);
    free(object);
    return rc;
}

/* Stores the token record with its audit event; returns once the commit is durable. */
static int token_store(struct svc *s, const struct tsa_token_rec *rec, struct err *e)
{
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "policy", rec->policy, "hash_alg", rec->hash_alg,
                          "imprint", rec->imprint, "requester", rec->requester);
    struct token_write w = {rec, NULL};
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    int rc;

    w.detail = detail;
    rc = writer_run(s->writer, token_write_fn, &w, e);
    free(detail);
    json_decref(d);
    return rc;
}

/* One attempt: a fresh serial, the TSTInfo, the signer's token, the record. */
static int token_make(struct svc *s, struct tsa_cache_entry *u, const struct tsa_query *q,
                      struct tsa_token_rec *rec, struct err *e)
{
    ASN1_INTEGER *serial = serial_random(e);
    unsigned char *tst = NULL;
    size_t tst_len = 0;
    struct timespec now;
    int certs = q->cert_req, rc = -1;

    if (serial == NULL)
        return -1;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        err_set(e, ERR_INTERNAL, "the clock cannot be read");
        goto out;
    }
    /* No token outside the validity of the unit certificate: it would not verify. */
    if ((int64_t)now.tv_sec < u->not_before || (int64_t)now.tv_sec >= u->not_after) {
        err_set(e, ERR_UNAVAILABLE, "the unit's certificate is not valid now");
        goto out;
    }
    if (tsa_tst_build(q, &u->policy, serial, &now, u->subject, &tst, &tst_len, &rec->gen_time, e) !=
        0)
        goto out;
    rec->serial = serial_hex(serial);
    rec->time = (int64_t)now.tv_sec;
    if (signer_sign_tst(
            s->signer, u->rec->tenant, u->rec->key_id, u->digest, tst, tst_len, u->rec->cert_der,
            u->rec->cert_len, certs && u->rec->include_chain ? u->rec->chain_der : NULL,
            u->rec->chain_len, certs ? SIGNER_TST_CERTS : 0, &rec->der, &rec->der_len, e) != 0)
        goto out;
    rc = token_store(s, rec, e);
out:
    OPENSSL_free(tst);
    ASN1_INTEGER_free(serial);
    return rc;
}

/* Frees what token_make() filled in, for another attempt. */
static void token_rec_reset(struct tsa_token_rec *rec)
{
    free(rec->serial);
    free(rec->gen_time);
    free(rec->der);
    rec->serial = rec->gen_time = NULL;
    rec->der = NULL;
    rec->der_len = 0;
}

/* Issues, records and encodes a granted response for q; -1 with e on any failure. */
static int token_issue(struct svc *s, struct tsa_cache_entry *u, const struct tsa_query *q,
                       const char *requester, unsigned char **out, size_t *out_len, struct err *e)
{
    char policy[128];
    struct tsa_token_rec rec = {
        .tenant = u->rec->tenant,
        .unit = u->rec->name,
        .policy = policy,
        .hash_alg = (char *)tsa_hash_name(q->hash_nid),
        .requester = (char *)(requester ? requester : ""),
    };
    int rc = -1;

    OBJ_obj2txt(policy, sizeof(policy), q->policy, 1);
    rec.imprint = tsa_query_imprint_hex(q);
    rec.nonce = tsa_query_nonce_hex(q);
    /* A serial clash (ERR_CONFLICT) draws a new serial; anything else fails the request. */
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
        token_rec_reset(&rec);
        rc = token_make(s, u, q, &rec, e);
        if (rc != 0 && e->kind != ERR_CONFLICT)
            break;
    }
    if (rc == 0 && tsa_resp_granted(rec.der, rec.der_len, out, out_len) != 0)
        rc = err_set(e, ERR_INTERNAL, "the response cannot be encoded");
    token_rec_reset(&rec);
    free(rec.imprint);
    free(rec.nonce);
    return rc;
}

/* A rejection response; -1 (e set) if even that cannot be encoded. */
static int refusal(enum tsa_failure f, const char *text, unsigned char **out, size_t *out_len,
                   struct err *e)
{
    if (tsa_resp_refusal(f, text, out, out_len) != 0)
        return err_set(e, ERR_INTERNAL, "the TSA response cannot be encoded");
    return 0;
}

int svc_tsa_respond(struct svc *s, const char *tenant, const char *unit, const unsigned char *req,
                    size_t req_len, const char *requester, unsigned char **resp, size_t *resp_len,
                    struct err *e)
{
    struct tsa_cache_entry *u = unit_get(s, tenant, unit, e);
    struct tsa_query q = {0};
    enum tsa_failure f;
    unsigned char *der = NULL;
    const char *status = "rejection";
    size_t len = 0;
    char why[128];
    int rc;

    if (u == NULL)
        return -1;
    if (tsa_query_parse(&u->policy, req, req_len, &q, &f, why, sizeof(why)) != 0) {
        log_info("tsa %s/%s: refused a request from %s: %s", tenant, unit,
                 requester ? requester : "-", why);
        rc = refusal(f, why, &der, &len, e);
    } else if (unit_usable(s, u, e) != 0) {
        rc = refusal(TSA_FAIL_SYSTEM_FAILURE,
                     "the unit cannot issue: it is disabled, its tenant is not active or its "
                     "certificate is revoked",
                     &der, &len, e);
    } else if (s->tsa_clock_check == SVC_CLOCK_KERNEL && !clock_synced()) {
        log_error("tsa %s/%s: refused: the system clock is not synchronised", tenant, unit);
        rc = refusal(TSA_FAIL_SYSTEM_FAILURE, "the time source is not available", &der, &len, e);
    } else if (token_issue(s, u, &q, requester, &der, &len, e) != 0) {
        log_error("tsa %s/%s: no token: %s", tenant, unit, e->msg);
        rc = refusal(TSA_FAIL_SYSTEM_FAILURE, "the TSA cannot answer now", &der, &len, e);
    } else {
        status = "granted";
        rc = 0;
    }
    tsa_query_clear(&q);
    if (rc == 0) {
        const char *labels[] = {tenant, unit, status};
        metrics_add(&metrics_tsa_responses, 1, labels);
        /* Hand out a malloc'd copy: callers free with free(). */
        *resp = xmalloc(len);
        memcpy(*resp, der, len);
        *resp_len = len;
    }
    OPENSSL_free(der);
    return rc;
}

/* ---- units ------------------------------------------------------------ */

/* The JSON array of p's accepted policies, the default first (caller frees). */
static char *policies_text(const struct tsa_policy *p)
{
    json_t *arr = json_array();
    char oid[128], *text;

    for (int i = 0; i < sk_ASN1_OBJECT_num(p->policies); i++) {
        OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(p->policies, i), 1);
        json_array_append_new(arr, json_string(oid));
    }
    text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

/*
 * Checks c; sets the canonical default policy (*policy) and the JSON array of
 * every accepted policy (*policies) to store (caller frees both).  -1 with e
 * (ERR_INVALID) naming the field.
 */
static int create_check(const struct tsa_create *c, char **policy, char **policies, struct err *e)
{
    enum key_type type = key_type_parse(c->key_type ? c->key_type : "ec-p256");
    struct tsa_policy p;
    char oid[128];

    if (c->name == NULL || !name_valid(c->name))
        return err_set(e, ERR_INVALID,
                       "name: 1-63 characters of a-z 0-9 - _ . starting with a letter or digit");
    if (c->ca == NULL)
        return err_set(e, ERR_INVALID, "ca: required");
    /* OpenSSL 3.0's CMS cannot sign with Ed25519 ("no default digest"): not offered. */
    if (type == KEY_NONE || type == KEY_ED25519)
        return err_set(e, ERR_INVALID,
                       "key_type: one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096");
    if (tsa_policy_init(&p, c->policy, c->policies, c->hashes ? c->hashes : DEFAULT_HASHES,
                        c->accuracy_ms < 0 ? DEFAULT_ACCURACY : c->accuracy_ms, e) != 0)
        return -1;
    OBJ_obj2txt(oid, sizeof(oid), p.default_policy, 1);
    *policy = xstrdup(oid);
    *policies = policies_text(&p);
    tsa_policy_clear(&p);
    return 0;
}

/* ERR_CONFLICT if tenant already has a unit called name (checked before a key is made). */
static int unit_absent(struct svc *s, const char *tenant, const char *name, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tsa_unit_rec *r = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_tsa_unit_get(tx, tenant, name, &r, e);
    store_rollback(tx);
    tsa_unit_rec_free(r);
    if (rc == 0)
        return err_set(e, ERR_CONFLICT, "TSA unit %s exists", name);
    return e->kind == ERR_NOT_FOUND ? 0 : -1;
}

/* The unit's CA certificate and those above it, concatenated DER (caller frees). */
static int chain_of_ca(struct svc *s, const char *tenant, const char *ca, unsigned char **out,
                       size_t *out_len, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct ca_rec *rec = NULL;
    struct buf b = {0};
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_ca_get(tx, tenant, ca, &rec, e);
    store_rollback(tx);
    if (rc != 0)
        return -1;
    if (rec->cert_der != NULL)
        buf_append(&b, rec->cert_der, rec->cert_len);
    if (rec->chain_der != NULL)
        buf_append(&b, rec->chain_der, rec->chain_len);
    ca_rec_free(rec);
    *out = b.data;
    *out_len = b.len;
    return 0;
}

static int unit_insert(struct svc *s, const struct actor *a, const char *tenant,
                       const struct tsa_unit_rec *r, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    json_t *d;
    char *detail;
    int rc;

    if (tx == NULL)
        return -1;
    d = json_pack("{s:s, s:s, s:s, s:s}", "ca", r->ca, "certificate", r->cert_serial, "policy",
                  r->policy, "key_type", r->key_type);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    rc = store_tsa_unit_insert(tx, tenant, r, e);
    if (rc == 0)
        rc = svc_audit_ok(tx, tenant, a, "tsa.create", r->name, detail, e);
    free(detail);
    if (rc != 0) {
        store_rollback(tx);
        if (e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "TSA unit %s exists", r->name);
        return -1;
    }
    return store_commit(tx, e);
}

/* Makes the key and certificate of a new unit into r (key_id, cert, chain). */
static int unit_key_cert(struct svc *s, const struct actor *a, const char *tenant,
                         const struct tsa_create *c, struct tsa_unit_rec *r, struct err *e)
{
    struct issue_params p = {.ca = c->ca,
                             .profile = c->profile ? c->profile : "time-stamping",
                             .validity_days = c->validity_days};
    char *subject = c->subject ? xstrdup(c->subject) : xasprintf("/CN=%s", c->name);
    struct cert_rec *cert_rec = NULL;
    EVP_PKEY *pub = NULL;
    X509 *cert = NULL;
    int rc = -1;

    if (signer_keygen_for(s->signer, tenant, key_type_parse(r->key_type), KEY_PURPOSE_TSA,
                          &r->key_id, &pub, e) != 0)
        goto out;
    if (svc_cert_issue_pubkey(s, a, tenant, &p, subject, pub, &cert_rec, &cert, e) != 0 ||
        chain_of_ca(s, tenant, c->ca, &r->chain_der, &r->chain_len, e) != 0)
        goto out;
    r->cert_serial = xstrdup(cert_rec->serial);
    r->cert_der = xmalloc(cert_rec->der_len);
    memcpy(r->cert_der, cert_rec->der, cert_rec->der_len);
    r->cert_len = cert_rec->der_len;
    rc = 0;
out:
    cert_rec_free(cert_rec);
    X509_free(cert);
    EVP_PKEY_free(pub);
    free(subject);
    return rc;
}

/* The stored unit (tenant, name) into *out; -1 with e. */
static int unit_read(struct svc *s, const char *tenant, const char *name, struct tsa_unit_rec **out,
                     struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc = tx ? store_tsa_unit_get(tx, tenant, name, out, e) : -1;

    store_rollback(tx);
    return rc;
}

/* Applies u to r (strings replaced are owned by r afterwards); -1 with e (ERR_INVALID) if bad. */
static int update_apply(struct tsa_unit_rec *r, const struct tsa_update *u, json_t *changed,
                        struct err *e)
{
    struct tsa_policy p;
    char oid[128];
    const char *policy = u->policy ? u->policy : r->policy;
    const char *hashes = u->hashes ? u->hashes : r->hashes_json;
    long accuracy = u->accuracy_ms >= 0 ? u->accuracy_ms : (long)r->accuracy_ms;

    if (u->status && strcmp(u->status, "active") != 0 && strcmp(u->status, "disabled") != 0)
        return err_set(e, ERR_INVALID, "status: active or disabled");
    /* Without new policies the accepted ones stay (the default among them). */
    if (tsa_policy_init(&p, policy, u->policies ? u->policies : r->policies_json, hashes, accuracy,
                        e) != 0)
        return -1;
    OBJ_obj2txt(oid, sizeof(oid), p.default_policy, 1);
#define SET(field, value, key)                                                                     \
    do {                                                                                           \
        char *v_ = (value);                                                                        \
        if (strcmp(r->field, v_) != 0)                                                             \
            json_object_set_new(changed, key, json_string(v_));                                    \
        free(r->field);                                                                            \
        r->field = v_;                                                                             \
    } while (0)
    SET(policy, xstrdup(oid), "policy");
    SET(policies_json, policies_text(&p), "policies");
    SET(hashes_json, xstrdup(hashes), "hashes");
    if (u->status)
        SET(status, xstrdup(u->status), "status");
#undef SET
    tsa_policy_clear(&p);
    if (r->accuracy_ms != accuracy)
        json_object_set_new(changed, "accuracy_ms", json_integer(accuracy));
    r->accuracy_ms = accuracy;
    if (u->include_chain >= 0 && r->include_chain != u->include_chain)
        json_object_set_new(changed, "include_chain", json_boolean(u->include_chain));
    if (u->include_chain >= 0)
        r->include_chain = u->include_chain;
    return 0;
}

int svc_tsa_update(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                   const struct tsa_update *u, struct tsa_unit_rec **out, struct err *e)
{
    struct tsa_unit_rec *r = NULL;
    struct store_tx *tx = store_begin(s->store, e);
    json_t *changed = json_object();
    char *detail = NULL;
    int rc = -1;

    if (tx == NULL)
        goto out;
    if (store_tsa_unit_get(tx, tenant, name, &r, e) != 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "TSA unit %s not found", name);
        goto out;
    }
    if (update_apply(r, u, changed, e) != 0)
        goto out;
    detail = json_dumps(changed, JSON_COMPACT | JSON_SORT_KEYS);
    if (store_tsa_unit_update(tx, tenant, r, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "tsa.update", name, detail, e) != 0)
        goto out;
    if ((rc = store_commit(tx, e)) == 0) {
        cache_forget(s, tenant, name);
        *out = r;
        r = NULL;
    }
    tx = NULL;
out:
    store_rollback(tx);
    tsa_unit_rec_free(r);
    json_decref(changed);
    free(detail);
    return rc;
}

int svc_tsa_create(struct svc *s, const struct actor *a, const char *tenant,
                   const struct tsa_create *c, struct tsa_unit_rec **out, struct err *e)
{
    struct tsa_unit_rec r = {0};
    char *policy = NULL, *policies = NULL;
    int active = 0, rc = -1;
    struct err ignored;

    if (create_check(c, &policy, &policies, e) != 0)
        return -1;
    if (svc_tenant_check(s, tenant, &active, e) != 0 || unit_absent(s, tenant, c->name, e) != 0)
        goto out;
    if (!active) {
        err_set(e, ERR_FORBIDDEN, "tenant %s is suspended", tenant);
        goto out;
    }
    r.tenant = (char *)tenant;
    r.name = (char *)c->name;
    r.ca = (char *)c->ca;
    r.key_type = (char *)(c->key_type ? c->key_type : "ec-p256");
    r.status = "active";
    r.policy = policy;
    r.policies_json = policies;
    r.hashes_json = (char *)(c->hashes ? c->hashes : DEFAULT_HASHES);
    r.accuracy_ms = c->accuracy_ms < 0 ? DEFAULT_ACCURACY : c->accuracy_ms;
    r.include_chain = c->include_chain;
    r.created = time_now();
    if (unit_key_cert(s, a, tenant, c, &r, e) != 0 || unit_insert(s, a, tenant, &r, e) != 0) {
        /* The key goes; an issued certificate stays on record (it has its audit event). */
        if (r.key_id != NULL)
            signer_delete(s->signer, tenant, r.key_id, &ignored);
        goto out;
    }
    rc = unit_read(s, tenant, c->name, out, e);
out:
    free(r.key_id);
    free(r.cert_serial);
    free(r.cert_der);
    free(r.chain_der);
    free(policy);
    free(policies);
    return rc;
}

/* ---- reading units and tokens ------------------------------------------------- */

int svc_tsa_unit_list(struct svc *s, const char *tenant, struct tsa_unit_rec ***out, size_t *n,
                      struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_tsa_unit_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}

/* Unit name of tenant in tx; ERR_NOT_FOUND naming it. */
static int unit_read_tx(struct store_tx *tx, const char *tenant, const char *name,
                        struct tsa_unit_rec **out, struct err *e)
{
    if (store_tsa_unit_get(tx, tenant, name, out, e) == 0)
        return 0;
    if (e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "TSA unit %s not found", name);
    return -1;
}

int svc_tsa_unit_get(struct svc *s, const char *tenant, const char *name, struct tsa_unit_rec **out,
                     struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = unit_read_tx(tx, tenant, name, out, e);
    store_rollback(tx);
    return rc;
}

int svc_tsa_token_search(struct svc *s, const char *tenant, const char *unit,
                         const struct tsa_token_query *q, struct tsa_token_rec ***out, size_t *n,
                         struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tsa_unit_rec *u = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    rc = unit_read_tx(tx, tenant, unit, &u, e);
    if (rc == 0)
        rc = store_tsa_token_search(tx, tenant, unit, q, out, n, e);
    store_rollback(tx);
    tsa_unit_rec_free(u);
    return rc;
}

int svc_tsa_token_get(struct svc *s, const char *tenant, const char *unit, const char *serial,
                      struct tsa_token_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_tsa_token_get(tx, tenant, unit, serial, out, e);
    store_rollback(tx);
    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "token %s of TSA unit %s not found", serial, unit);
    return rc;
}
