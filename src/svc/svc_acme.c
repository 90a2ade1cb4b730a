/*
 * svc_acme.c — the state of ACME (RFC 8555) behind the protocol front end
 * (src/acme/server.c): nonces, accounts, orders, authorizations and their
 * challenges, and issuance and revocation through the one door.
 *
 * Nothing here parses JWS or speaks HTTP, and nothing waits on the network:
 * the front end checks signatures and runs validations (src/acme/validate.c)
 * and reports their outcome here.  An account acts as an actor of its own
 * (svc_acme_actor): its id, the role of its credential (requester by
 * default); its certificates are those whose requester it is.
 *
 * Errors carry the ACME problem type's suffix as code ("badNonce",
 * "accountDoesNotExist", "orderNotReady", "badCSR", "rejectedIdentifier", ...).
 * Orders, authorizations and certificates: svc_acme_order.c.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "lib/log.h"

#define NONCE_TTL      3600 /* a nonce is good for an hour */
#define NONCE_RAW      40   /* 8 time + 16 random + 16 MAC */
#define NONCE_KEY_NAME "acme-nonce"

static const char *const requester_role[] = {"requester"};

/* ---- nonces ------------------------------------------------------------------------ */

/* An HMAC-SHA256 context keyed with key, ready for data (caller frees), or NULL. */
static EVP_MAC_CTX *nonce_mac_new(const unsigned char key[32])
{
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;

    EVP_MAC_free(mac); /* the context holds its own reference */
    if (ctx != NULL && EVP_MAC_init(ctx, key, 32, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/*
 * A copy of the tenant's keyed nonce MAC context (caller frees): the key is
 * read once per node and kept as a context ready for data (fetching HMAC and
 * SHA-256 anew for each nonce was ~2% of an ACME request's CPU); the first
 * node to need the key files one for all.
 */
static EVP_MAC_CTX *nonce_key(struct svc *s, const char *tenant, struct err *e)
{
    struct acme_secret_entry *k;
    struct store_tx *tx;
    unsigned char fresh[32], key[32];
    char *hex = NULL, *stored = NULL;
    EVP_MAC_CTX *ctx = NULL;
    unsigned char *raw;
    size_t len = 0;
    int rc;

    pthread_mutex_lock(&s->lock);
    for (k = s->acme_secrets; k != NULL; k = k->next)
        if (strcmp(k->tenant, tenant) == 0) {
            ctx = EVP_MAC_CTX_dup(k->mac);
            pthread_mutex_unlock(&s->lock);
            if (ctx == NULL)
                err_setc(e, ERR_INTERNAL, "serverInternal", "HMAC-SHA256: cannot copy a context");
            return ctx;
        }
    pthread_mutex_unlock(&s->lock);
    if (random_bytes(fresh, sizeof(fresh)) != 0) {
        err_setc(e, ERR_INTERNAL, "serverInternal", "the CSPRNG failed");
        return NULL;
    }
    hex = hex_encode(fresh, sizeof(fresh));
    secure_zero(fresh, sizeof(fresh));
    if ((tx = store_begin(s->store, e)) == NULL) {
        free(hex);
        return NULL;
    }
    rc = store_secret_get_or_put(tx, tenant, NONCE_KEY_NAME, hex, &stored, e);
    rc = rc == 0 ? store_commit(tx, e) : (store_rollback(tx), -1);
    free(hex);
    if (rc != 0)
        return NULL;
    raw = hex_decode(stored, &len);
    free(stored);
    if (raw == NULL || len != 32) {
        free(raw);
        err_setc(e, ERR_INTERNAL, "serverInternal", "tenant %s: bad ACME nonce key", tenant);
        return NULL;
    }
    memcpy(key, raw, 32);
    secure_zero(raw, len);
    free(raw);
    k = xcalloc(1, sizeof(*k));
    k->mac = nonce_mac_new(key);
    secure_zero(key, sizeof(key));
    if (k->mac == NULL || (ctx = EVP_MAC_CTX_dup(k->mac)) == NULL) {
        EVP_MAC_CTX_free(k->mac);
        free(k);
        err_setc(e, ERR_INTERNAL, "serverInternal", "HMAC-SHA256: cannot make a context");
        return NULL;
    }
    k->tenant = xstrdup(tenant);
    pthread_mutex_lock(&s->lock);
    k->next = s->acme_secrets;
    s->acme_secrets = k;
    pthread_mutex_unlock(&s->lock);
    return ctx;
}

/* The MAC of a nonce's first 24 bytes with ctx (nonce_key's; freed here), 16 bytes into mac. */
static int nonce_mac(EVP_MAC_CTX *ctx, const unsigned char *data, unsigned char mac[16],
                     struct err *e)
{
    unsigned char full[EVP_MAX_MD_SIZE];
    size_t len = 0;
    int ok = EVP_MAC_update(ctx, data, 24) == 1 &&
             EVP_MAC_final(ctx, full, &len, sizeof(full)) == 1 && len >= 16;

    EVP_MAC_CTX_free(ctx);
    if (!ok)
        return err_setc(e, ERR_INTERNAL, "serverInternal", "HMAC-SHA256 failed");
    memcpy(mac, full, 16);
    return 0;
}

char *svc_acme_nonce_new(struct svc *s, const char *tenant, struct err *e)
{
    unsigned char raw[NONCE_RAW];
    uint64_t now = (uint64_t)time_now();
    EVP_MAC_CTX *ctx;

    if ((ctx = nonce_key(s, tenant, e)) == NULL)
        return NULL;
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)(now >> (56 - 8 * i));
    if (random_bytes(raw + 8, 16) != 0) {
        EVP_MAC_CTX_free(ctx);
        err_setc(e, ERR_INTERNAL, "serverInternal", "the CSPRNG failed");
        return NULL;
    }
    if (nonce_mac(ctx, raw, raw + 24, e) != 0)
        return NULL;
    return base64url_encode(raw, sizeof(raw));
}

struct nonce_use {
    const char *tenant;
    const char *nonce;
    int64_t expires;
};

static int nonce_file(struct store_tx *tx, void *arg, struct err *e)
{
    struct nonce_use *u = arg;

    return store_acme_nonce_use(tx, u->tenant, u->nonce, u->expires, e);
}

int svc_acme_nonce_use(struct svc *s, const char *tenant, const char *nonce, struct err *e)
{
    unsigned char mac[16], *raw = NULL;
    struct nonce_use u = {tenant, nonce, 0};
    EVP_MAC_CTX *ctx;
    size_t len = 0;
    int64_t made = 0;
    int ok;

    if (nonce == NULL || base64url_decode(nonce, strlen(nonce), &raw, &len) != 0 ||
        len != NONCE_RAW) {
        free(raw);
        return err_setc(e, ERR_INVALID, "badNonce", "nonce: not one of this server's");
    }
    if ((ctx = nonce_key(s, tenant, e)) == NULL || nonce_mac(ctx, raw, mac, e) != 0) {
        free(raw);
        return -1;
    }
    ok = CRYPTO_memcmp(mac, raw + 24, 16) == 0;
    for (int i = 0; i < 8; i++)
        made = made << 8 | raw[i];
    free(raw);
    if (!ok)
        return err_setc(e, ERR_INVALID, "badNonce", "nonce: not one of this server's");
    if (made + NONCE_TTL < time_now() || made > time_now() + 60)
        return err_setc(e, ERR_INVALID, "badNonce", "nonce: expired (they last %d s)", NONCE_TTL);
    u.expires = made + NONCE_TTL;
    if (writer_run(s->writer, nonce_file, &u, e) != 0) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_setc(e, ERR_INVALID, "badNonce", "nonce: used already (RFC 8555 section 6.5)");
        return -1;
    }
    return 0;
}

/* ---- endpoints as the protocol reads them ----------------------------------------- */

/*
 * Every ACME request reads its endpoint: this node keeps what it read for
 * ACME_ENDPOINT_TTL_MS (a change made on another node shows within that
 * time, as a tenant's status does; one made here at once).
 */
static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void endpoint_entry_free(struct acme_endpoint_entry *c)
{
    acme_endpoint_rec_free(c->rec);
    svc_acme_settings_clear(&c->st);
    free(c);
}

/* Copies of tenant's endpoint name and its settings if kept and fresh (1), else 0. */
static int endpoint_cached(struct svc *s, const char *tenant, const char *name,
                           struct acme_endpoint_rec **out, struct svc_acme_settings *st)
{
    int64_t now = monotonic_ms();
    int found = 0;

    pthread_mutex_lock(&s->lock);
    for (struct acme_endpoint_entry *c = s->acme_endpoints; c != NULL; c = c->next)
        if (strcmp(c->rec->tenant, tenant) == 0 && strcmp(c->rec->name, name) == 0) {
            if (now - c->fetched_ms < ACME_ENDPOINT_TTL_MS) {
                *out = svc_acme_endpoint_copy(c->rec);
                svc_acme_settings_copy(st, &c->st);
                found = 1;
            }
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* Keeps copies of r and st, in place of any older ones (the oldest goes past the maximum). */
static void endpoint_keep(struct svc *s, const struct acme_endpoint_rec *r,
                          const struct svc_acme_settings *st)
{
    struct acme_endpoint_entry *c = xcalloc(1, sizeof(*c)), **p;
    int n = 0;

    c->rec = svc_acme_endpoint_copy(r);
    svc_acme_settings_copy(&c->st, st);
    c->fetched_ms = monotonic_ms();
    pthread_mutex_lock(&s->lock);
    for (p = &s->acme_endpoints; *p != NULL;) {
        struct acme_endpoint_entry *old = *p;
        if ((strcmp(old->rec->tenant, r->tenant) == 0 && strcmp(old->rec->name, r->name) == 0) ||
            ++n >= ACME_ENDPOINT_CACHE_MAX) {
            *p = old->next;
            endpoint_entry_free(old);
        } else {
            p = &old->next;
        }
    }
    c->next = s->acme_endpoints;
    s->acme_endpoints = c;
    pthread_mutex_unlock(&s->lock);
}

void svc_acme_endpoint_forget(struct svc *s, const char *tenant, const char *name)
{
    pthread_mutex_lock(&s->lock);
    for (struct acme_endpoint_entry **p = &s->acme_endpoints; *p != NULL; p = &(*p)->next)
        if (strcmp((*p)->rec->tenant, tenant) == 0 && strcmp((*p)->rec->name, name) == 0) {
            struct acme_endpoint_entry *old = *p;
            *p = old->next;
            endpoint_entry_free(old);
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

void svc_acme_endpoints_free(struct svc *s)
{
    for (struct acme_endpoint_entry *c = s->acme_endpoints, *next; c != NULL; c = next) {
        next = c->next;
        endpoint_entry_free(c);
    }
    s->acme_endpoints = NULL;
}

int svc_acme_endpoint_load(struct svc *s, const char *tenant, const char *name,
                           struct acme_endpoint_rec **out, struct svc_acme_settings *st,
                           struct err *e)
{
    struct acme_endpoint_rec *r = NULL;
    json_t *o;
    int rc;

    if (!name_valid(tenant) || !name_valid(name))
        return err_setc(e, ERR_NOT_FOUND, "malformed", "no such ACME endpoint");
    if (endpoint_cached(s, tenant, name, out, st))
        return 0;
    if (svc_acme_endpoint_get(s, tenant, name, &r, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_setc(e, ERR_NOT_FOUND, "malformed", "no such ACME endpoint");
        return -1;
    }
    o = json_loads(r->settings, 0, NULL);
    rc = svc_acme_settings_parse(o, st, e);
    json_decref(o);
    if (rc != 0) {
        acme_endpoint_rec_free(r);
        return err_recode(e, ERR_INTERNAL,
                          "serverInternal"); /* stored settings that do not parse */
    }
    endpoint_keep(s, r, st);
    *out = r;
    return 0;
}

/* ---- accounts ------------------------------------------------------------------------- */

void svc_acme_actor(const struct acme_account_rec *acct, struct actor *a)
{
    a->id = acct->id;
    a->principal = acct->id;
    a->roles = requester_role;
    a->nroles = 1;
    a->creators = acct->creators; /* the makers of its EAB credential */
}

/* An account's audit event, in tx. */
static int account_audit(struct store_tx *tx, const struct acme_account_rec *r, const char *action,
                         struct err *e)
{
    struct actor a;
    json_t *d = json_pack("{s:s, s:s, s:s?}", "endpoint", r->endpoint, "status", r->status, "eab",
                          r->eab_kid);
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    int rc;

    svc_acme_actor(r, &a);
    rc = svc_audit_ok(tx, r->tenant, &a, action, r->id, detail, e);
    free(detail);
    json_decref(d);
    return rc;
}

/* contact: NULL, or an array of at most 8 "mailto:" URLs (RFC 8555 section 7.3). */
static int contact_check(const json_t *contact, struct err *e)
{
    size_t i;
    json_t *v;

    if (contact == NULL || json_is_null(contact))
        return 0;
    if (!json_is_array(contact) || json_array_size(contact) > 8)
        return err_setc(e, ERR_INVALID, "malformed", "contact: an array of at most 8 URLs");
    json_array_foreach(contact, i, v)
    {
        const char *c = json_string_value(v);
        if (c == NULL || strncmp(c, "mailto:", 7) != 0 || strlen(c) > 256 || strlen(c) < 8 ||
            strpbrk(c, ",?\r\n ") != NULL)
            return err_setc(e, ERR_INVALID, "unsupportedContact",
                            "contact[%zu]: a mailto: URL of one address, without hfields", i);
    }
    return 0;
}

/*
 * Checks the binding's MAC with the signer (outside any transaction: the
 * signer derives the key with an RSA signature).
 */
static int eab_check(struct svc *s, const char *tenant, const char *endpoint,
                     const struct svc_acme_eab *eab, struct err *e)
{
    unsigned char *mac = NULL;
    size_t mac_len = 0;
    int ok;

    if (svc_acme_eab_mac(s, tenant, endpoint, eab->kid, eab->alg, eab->input, eab->input_len, &mac,
                         &mac_len, e) != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_setc(e, ERR_FORBIDDEN, "unauthorized", "externalAccountBinding: unknown kid");
        return -1;
    }
    ok = mac_len == eab->mac_len && CRYPTO_memcmp(mac, eab->mac, mac_len) == 0;
    free(mac);
    return ok ? 0
              : err_setc(e, ERR_FORBIDDEN, "unauthorized",
                         "externalAccountBinding: the MAC does not verify (RFC 8555 section "
                         "7.3.4)");
}

/* Counts the credential's use in tx (the row held): still active, and single use kept. */
static int eab_use(struct store_tx *tx, const char *tenant, const char *endpoint,
                   const struct svc_acme_eab *eab, char **creators, struct err *e)
{
    struct acme_eab_rec *r = NULL;
    json_t *st;
    int reusable, rc = -1;

    if (store_acme_eab_get(tx, tenant, endpoint, eab->kid, &r, e) != 0)
        return -1;
    st = json_loads(r->settings, 0, NULL);
    reusable = json_is_true(json_object_get(st, "reusable"));
    json_decref(st);
    if (strcmp(r->status, "active") != 0 || (!reusable && r->uses > 0)) {
        rc = err_setc(e, ERR_FORBIDDEN, "unauthorized", "externalAccountBinding: %s %s", eab->kid,
                      strcmp(r->status, "active") != 0 ? "is revoked" : "was used already");
        goto out;
    }
    r->uses++;
    r->updated = time_now();
    rc = store_acme_eab_update(tx, tenant, r, e);
    if (rc == 0 && r->creators != NULL) {
        free(*creators); /* a group commit may run this again */
        *creators = xstrdup(r->creators);
    }
out:
    acme_eab_rec_free(r);
    return rc;
}

struct account_write {
    const char *tenant, *endpoint;
    const struct svc_acme_eab *eab;
    struct acme_account_rec *r; /* its creators are the credential's, read in the transaction */
};

/* Files a new account, its credential's use and its audit event, in the group commit's tx. */
static int account_new_fn(struct store_tx *tx, void *arg, struct err *e)
{
    const struct account_write *w = arg;

    if (w->eab != NULL && eab_use(tx, w->tenant, w->endpoint, w->eab, &w->r->creators, e) != 0)
        return -1;
    if (store_acme_account_insert(tx, w->tenant, w->r, e) != 0)
        return -1;
    return account_audit(tx, w->r, "acme.account.create", e);
}

int svc_acme_account_new(struct svc *s, const char *tenant, const char *endpoint, const char *jwk,
                         const char *thumbprint, const json_t *contact,
                         const struct svc_acme_eab *eab, struct acme_account_rec **out,
                         struct err *e)
{
    struct acme_account_rec r = {.tenant = (char *)tenant,
                                 .endpoint = (char *)endpoint,
                                 .id = random_id("acct"),
                                 .thumbprint = (char *)thumbprint,
                                 .jwk = (char *)jwk,
                                 .status = "valid",
                                 .eab_kid = eab ? (char *)eab->kid : NULL,
                                 .created = time_now()};
    struct account_write w = {tenant, endpoint, eab, &r};
    int rc = -1;

    r.updated = r.created;
    r.contact = contact ? json_dumps(contact, JSON_COMPACT) : xstrdup("[]");
    if (r.id == NULL) {
        err_setc(e, ERR_INTERNAL, "serverInternal", "the CSPRNG failed");
        goto out;
    }
    if (contact_check(contact, e) != 0 ||
        (eab != NULL && eab_check(s, tenant, endpoint, eab, e) != 0) ||
        writer_run(s->writer, account_new_fn, &w, e) != 0)
        goto out;
    rc = svc_acme_account_get(s, tenant, endpoint, r.id, out, e);
out:
    free(r.id);
    free(r.contact);
    free(r.creators);
    return rc;
}

/* Reads an account in its own read transaction; accountDoesNotExist if none. */
static int account_read(struct svc *s, const char *tenant, const char *endpoint, const char *id,
                        const char *thumbprint, struct acme_account_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = id ? store_acme_account_get(tx, tenant, endpoint, id, out, e)
            : store_acme_account_by_key(tx, tenant, endpoint, thumbprint, out, e);
    store_rollback(tx);
    if (rc != 0 && e != NULL && e->kind == ERR_NOT_FOUND)
        err_setc(e, ERR_FORBIDDEN, "accountDoesNotExist", "no such account");
    return rc;
}

int svc_acme_account_get(struct svc *s, const char *tenant, const char *endpoint, const char *id,
                         struct acme_account_rec **out, struct err *e)
{
    return account_read(s, tenant, endpoint, id, NULL, out, e);
}

int svc_acme_account_by_key(struct svc *s, const char *tenant, const char *endpoint,
                            const char *thumbprint, struct acme_account_rec **out, struct err *e)
{
    return account_read(s, tenant, endpoint, NULL, thumbprint, out, e);
}

int svc_acme_account_update(struct svc *s, const struct acme_account_rec *acct,
                            const json_t *contact, int deactivate, const char *jwk,
                            const char *thumbprint, struct acme_account_rec **out, struct err *e)
{
    struct store_tx *tx;
    struct acme_account_rec *r = NULL;
    const char *action = deactivate ? "acme.account.deactivate"
                         : jwk      ? "acme.account.key_change"
                                    : "acme.account.update";
    int rc = -1;

    if (contact_check(contact, e) != 0 || (tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (store_acme_account_get(tx, acct->tenant, acct->endpoint, acct->id, &r, e) != 0)
        goto out;
    if (strcmp(r->status, "valid") != 0) {
        err_setc(e, ERR_FORBIDDEN, "unauthorized", "account %s is %s", r->id, r->status);
        goto out;
    }
    if (contact != NULL) {
        free(r->contact);
        r->contact = json_dumps(contact, JSON_COMPACT);
    }
    if (deactivate) {
        free(r->status);
        r->status = xstrdup("deactivated");
    }
    if (jwk != NULL) {
        free(r->jwk);
        free(r->thumbprint);
        r->jwk = xstrdup(jwk);
        r->thumbprint = xstrdup(thumbprint);
    }
    r->updated = time_now();
    if (store_acme_account_update(tx, acct->tenant, r, e) != 0) {
        if (e != NULL && e->kind == ERR_CONFLICT)
            err_setc(e, ERR_CONFLICT, "malformed",
                     "the new key is another account's (RFC 8555 section 7.3.5)");
        goto out;
    }
    if (account_audit(tx, r, action, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        *out = r;
        r = NULL;
    }
out:
    store_rollback(tx);
    acme_account_rec_free(r);
    return rc;
}
