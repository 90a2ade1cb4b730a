/*
 * svc_auth.c — who is asking: a bearer token or a TLS client certificate
 * proves a principal, and the roles bound to it in the tenant a request is
 * about are what it may do there (svc_roles.c).
 *
 * A bearer token is "vt_<id>_<secret>" (the row found by its public part, the
 * secret checked with argon2id) or, for tokens made before schema 7,
 * "vouch_..." found by its SHA-256.  The token row, its principal and the
 * principal's role bindings in the target tenant are read on every request,
 * in one read transaction, so a revoked or expired token, a disabled
 * principal or an unbound role is refused at once; only the argon2id
 * verification is cached (node-locally, keyed by the token's SHA-256,
 * bounded, for a minute).
 *
 * A TLS client certificate is checked with OpenSSL against the client CAs of
 * the target tenant: it must chain to one of them, be within its validity,
 * allow client authentication, and — when the client CA is one of the
 * tenant's own CAs — not be revoked or on hold.  It then names its principal
 * by SHA-256 fingerprint, or by issuer and subject.
 */
#include "svc/svc_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define TOKEN_MAX 256 /* longer bearer tokens are refused unread */

/* ---- the verification cache ------------------------------------------------ */

#define CACHE_SLOTS 1024
#define CACHE_TTL   60

struct cache_slot {
    unsigned char key[32]; /* SHA-256 of the whole token */
    char *encoded;         /* the argon2id hash the token verified against */
    int64_t until;
};
static struct cache_slot cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void token_digest(const char *token, unsigned char md[32])
{
    unsigned int len = 0;

    if (EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL) != 1)
        abort(); /* SHA-256 is always there */
}

static struct cache_slot *cache_slot_of(const unsigned char md[32])
{
    return &cache[((size_t)md[0] << 8 | md[1]) % CACHE_SLOTS];
}

/* Whether token was verified against `encoded` within the last CACHE_TTL seconds. */
static int cache_hit(const unsigned char md[32], const char *encoded)
{
    struct cache_slot *c = cache_slot_of(md);
    int hit;

    pthread_mutex_lock(&cache_lock);
    hit = c->encoded != NULL && c->until > time_now() && memcmp(c->key, md, 32) == 0 &&
          strcmp(c->encoded, encoded) == 0;
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const unsigned char md[32], const char *encoded)
{
    struct cache_slot *c = cache_slot_of(md);

    pthread_mutex_lock(&cache_lock);
    free(c->encoded);
    memcpy(c->key, md, 32);
    c->encoded = xstrdup(encoded);
    c->until = time_now() + CACHE_TTL;
    pthread_mutex_unlock(&cache_lock);
}

/*
 * Wrong secrets cost an argon2id run each (~20 ms and ~19 MiB): per token id
 * (its public part, which listings show), FAIL_MAX failures within FAIL_WINDOW
 * seconds refuse that id without running argon2id until the window has
 * passed; and at most VERIFY_MAX runs go on at once on a node.
 */
#define FAIL_SLOTS  1024
#define FAIL_MAX    5
#define FAIL_WINDOW 60
#define VERIFY_MAX  4

struct fail_slot {
    char key[20];
    int count;
    int64_t since;
};
static struct fail_slot fails[FAIL_SLOTS];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t verify_cond = PTHREAD_COND_INITIALIZER;
static int verifying;

static struct fail_slot *fail_slot_of(const char *key)
{
    size_t h = 5381;

    for (const char *p = key; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return &fails[h % FAIL_SLOTS];
}

/* Whether key has failed too often lately (then no argon2id run for it). */
static int fail_blocked(const char *key)
{
    struct fail_slot *f = fail_slot_of(key);
    int blocked;

    pthread_mutex_lock(&fail_lock);
    blocked =
        strcmp(f->key, key) == 0 && f->count >= FAIL_MAX && time_now() - f->since < FAIL_WINDOW;
    pthread_mutex_unlock(&fail_lock);
    return blocked;
}

static void fail_note(const char *key)
{
    struct fail_slot *f = fail_slot_of(key);

    pthread_mutex_lock(&fail_lock);
    if (strcmp(f->key, key) != 0 || time_now() - f->since >= FAIL_WINDOW) {
        snprintf(f->key, sizeof(f->key), "%s", key);
        f->count = 0;
        f->since = time_now();
    }
    f->count++;
    pthread_mutex_unlock(&fail_lock);
}

/* Digests of the tokens whose argon2id runs now (verifying of them in use); fail_lock held. */
static unsigned char inflight[VERIFY_MAX][32];

static int inflight_has(const unsigned char md[32])
{
    for (int i = 0; i < verifying; i++)
        if (memcmp(inflight[i], md, 32) == 0)
            return 1;
    return 0;
}

/*
 * svc_token_secret_verify with at most VERIFY_MAX at once on this node, and
 * one at a time per token: requests that arrive together with a token not
 * yet in the cache (a client opening many connections, or the cache entry
 * expiring under load) wait for the first one's result instead of each
 * running argon2id.
 */
static int secret_verify(const unsigned char md[32], const char *encoded, const char *secret)
{
    int ok, i;

    pthread_mutex_lock(&fail_lock);
    for (;;) {
        if (inflight_has(md)) {
            pthread_cond_wait(&verify_cond, &fail_lock);
            continue;
        }
        if (cache_hit(md, encoded)) {
            pthread_mutex_unlock(&fail_lock);
            return 1;
        }
        if (verifying < VERIFY_MAX)
            break;
        pthread_cond_wait(&verify_cond, &fail_lock);
    }
    memcpy(inflight[verifying++], md, 32);
    pthread_mutex_unlock(&fail_lock);
    ok = svc_token_secret_verify(encoded, secret);
    if (ok)
        cache_put(md, encoded); /* before the waiters look */
    pthread_mutex_lock(&fail_lock);
    for (i = 0; i < verifying && memcmp(inflight[i], md, 32) != 0; i++)
        ;
    verifying--;
    if (i < verifying)
        memcpy(inflight[i], inflight[verifying], 32); /* the last one takes its place */
    pthread_cond_broadcast(&verify_cond);
    pthread_mutex_unlock(&fail_lock);
    return ok;
}

/* ---- identities ------------------------------------------------------------ */

void svc_identity_clear(struct svc_identity *id)
{
    if (id == NULL)
        return;
    free(id->tenant);
    free(id->principal);
    free(id->credential);
    free(id->creators);
    for (size_t i = 0; i < id->nroles; i++)
        free(id->roles[i]);
    free(id->roles);
    memset(id, 0, sizeof(*id));
}

/* Names the principal (tenant, id) and the credential it used in id. */
static void identity_name(struct svc_identity *id, const char *tenant, const char *principal,
                          char *credential)
{
    id->tenant = xstrdup(tenant);
    id->principal = xstrdup(principal);
    id->credential = credential;
}

/*
 * Admits principal pr, found by a credential, for target: refuses a disabled
 * one or a request from outside its allowlist (ERR_FORBIDDEN), else fills
 * id->roles with its roles in target (none without a target).
 */
static int principal_admit(struct store_tx *tx, const struct principal_rec *pr, const char *addr,
                           const char *target, struct svc_identity *id, struct err *e)
{
    struct binding_rec **b = NULL;
    size_t nb = 0;

    if (pr->disabled)
        return err_set(e, ERR_FORBIDDEN, "principal %s is disabled", pr->id);
    if (!svc_addr_allowed(pr->allow, addr))
        return err_set(e, ERR_FORBIDDEN, "address %s is not allowed for principal %s",
                       addr ? addr : "?", pr->id);
    if (target != NULL && store_binding_list(tx, target, id->tenant, pr->id, &b, &nb, e) != 0)
        return -1;
    id->roles = xcalloc(nb + 1, sizeof(*id->roles));
    for (size_t i = 0; i < nb; i++)
        id->roles[id->nroles++] = xstrdup(b[i]->role);
    binding_rec_list_free(b, nb);
    return 0;
}

/* ---- bearer tokens --------------------------------------------------------- */

/* The token row of token, its secret verified; ERR_UNAUTHENTICATED if none or it does not. */
static int token_lookup(struct store_tx *tx, const char *token, struct token_rec **out,
                        struct err *e)
{
    unsigned char md[32];
    char key[20], *hash = NULL;
    const char *secret = svc_token_split(token, key);
    struct token_rec *t = NULL;
    int ok;

    if (secret == NULL)
        hash = svc_token_hash(token); /* a token made before schema 7 */
    if (store_token_find(tx, secret ? key : hash, &t, e) != 0) {
        free(hash);
        return e->kind == ERR_NOT_FOUND ? err_set(e, ERR_UNAUTHENTICATED, "invalid token") : -1;
    }
    free(hash);
    if (secret == NULL) {
        ok = t->secret == NULL;
    } else {
        token_digest(token, md);
        if (t->secret != NULL && !cache_hit(md, t->secret) && fail_blocked(key)) {
            token_rec_free(t);
            return err_set(e, ERR_UNAUTHENTICATED,
                           "too many failed attempts with this token: try again later");
        }
        ok =
            t->secret != NULL && (cache_hit(md, t->secret) || secret_verify(md, t->secret, secret));
        if (ok)
            cache_put(md, t->secret);
        else
            fail_note(key);
    }
    if (!ok) {
        token_rec_free(t);
        return err_set(e, ERR_UNAUTHENTICATED, "invalid token");
    }
    *out = t;
    return 0;
}

/* The token's checks once found, its principal and its admission, in tx. */
static int token_admit(struct store_tx *tx, const struct token_rec *t, const char *addr,
                       const char *target, struct svc_identity *id, struct err *e)
{
    struct principal_rec *pr = NULL;
    int rc;

    if (t->revoked != 0)
        return err_set(e, ERR_UNAUTHENTICATED, "token revoked");
    if (t->expires != 0 && t->expires <= time_now())
        return err_set(e, ERR_UNAUTHENTICATED, "token expired");
    if (store_principal_get(tx, t->tenant, t->principal, &pr, e) != 0)
        return err_set(e, ERR_UNAUTHENTICATED, "invalid token");
    rc = principal_admit(tx, pr, addr, target, id, e);
    principal_rec_free(pr);
    return rc;
}

int svc_authenticate_token(struct svc *s, const char *token, const char *addr, const char *target,
                           struct svc_identity *id, struct err *e)
{
    struct store_tx *tx;
    struct token_rec *t = NULL;
    int rc;

    if (strlen(token) > TOKEN_MAX)
        return err_set(e, ERR_UNAUTHENTICATED, "invalid token");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = token_lookup(tx, token, &t, e);
    if (rc == 0) {
        /* names the actor of a refusal from here on */
        identity_name(id, t->tenant, t->principal, xstrdup(t->id));
        id->creators = t->creators ? xstrdup(t->creators) : NULL;
        rc = token_admit(tx, t, addr, target, id, e);
    }
    store_rollback(tx);
    token_rec_free(t);
    return rc;
}

/* ---- TLS client certificates ----------------------------------------------- */

/* An RFC 2253 one-line form of name (caller frees). */
static char *name_line(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long len;

    if (b == NULL)
        abort();
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    len = BIO_get_mem_data(b, &data);
    out = xstrndup(data ? data : "", len > 0 ? (size_t)len : 0);
    BIO_free(b);
    return out;
}

char *svc_client_ca_subject(const struct client_ca_rec *r)
{
    const unsigned char *p = r->cert;
    X509 *c = d2i_X509(NULL, &p, (long)r->cert_len);
    char *subject = c ? name_line(X509_get_subject_name(c)) : xstrdup("");

    X509_free(c);
    ERR_clear_error();
    return subject;
}

static char *cert_sha256(const unsigned char *der, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) != 1)
        abort();
    return hex_encode(md, n);
}

/* Verifies leaf against the client CAs; 0, or ERR_UNAUTHENTICATED saying why. */
static int cert_verify(X509 *leaf, struct client_ca_rec **cas, size_t n, struct err *e)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;

    if (store == NULL || ctx == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = cas[i]->cert;
        X509 *ca = d2i_X509(NULL, &p, (long)cas[i]->cert_len);

        if (ca != NULL)
            X509_STORE_add_cert(store, ca);
        X509_free(ca);
    }
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT);
    if (X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1)
        abort();
    if (X509_verify_cert(ctx) == 1)
        rc = 0;
    else
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: %s",
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

/*
 * ERR_UNAUTHENTICATED if leaf was issued by one of the tenant's own CAs (a
 * client CA with `ca`) and is not good.
 */
static int cert_status_check(struct store_tx *tx, const char *tenant, X509 *leaf,
                             struct client_ca_rec **cas, size_t n, struct err *e)
{
    char *serial = serial_hex(X509_get0_serialNumber(leaf));
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0 && serial != NULL; i++) {
        const unsigned char *p = cas[i]->cert;
        X509 *ca = cas[i]->ca ? d2i_X509(NULL, &p, (long)cas[i]->cert_len) : NULL;
        struct cert_rec *c = NULL;

        if (ca != NULL && X509_check_issued(ca, leaf) == X509_V_OK &&
            store_cert_get(tx, tenant, serial, &c, e) == 0 && strcmp(c->status, "good") != 0)
            rc = err_set(e, ERR_UNAUTHENTICATED, "client certificate: revoked");
        cert_rec_free(c);
        X509_free(ca);
    }
    free(serial);
    return rc;
}

/* The principal of target that the certificate maps to (an index look-up); 401 if none. */
static int cert_map(struct store_tx *tx, const char *target, X509 *leaf, const char *sha,
                    struct principal_rec **out, struct err *e)
{
    char *issuer = name_line(X509_get_issuer_name(leaf));
    char *subject = name_line(X509_get_subject_name(leaf));
    int rc = store_principal_by_cert(tx, target, sha, issuer, subject, out, e);

    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: no principal for it");
    free(issuer);
    free(subject);
    return rc;
}

/* The checks of leaf against target's client CAs, its principal and its admission, in tx. */
static int cert_admit(struct store_tx *tx, X509 *leaf, const char *sha, const char *addr,
                      const char *target, struct svc_identity *id, struct err *e)
{
    struct client_ca_rec **cas = NULL;
    struct principal_rec *pr = NULL;
    size_t n = 0;
    int rc = -1;

    if (store_client_ca_list(tx, target, &cas, &n, e) != 0)
        return -1;
    if (n == 0)
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: the tenant trusts no issuer");
    else if (cert_verify(leaf, cas, n, e) == 0 &&
             cert_status_check(tx, target, leaf, cas, n, e) == 0 &&
             cert_map(tx, target, leaf, sha, &pr, e) == 0) {
        /* names the actor of a refusal from here on */
        identity_name(id, target, pr->id, xasprintf("cert:%.16s", sha));
        rc = principal_admit(tx, pr, addr, target, id, e);
    }
    client_ca_rec_list_free(cas, n);
    principal_rec_free(pr);
    return rc;
}

int svc_authenticate_cert(struct svc *s, const unsigned char *der, size_t len, const char *addr,
                          const char *target, struct svc_identity *id, struct err *e)
{
    const unsigned char *p = der;
    X509 *leaf = d2i_X509(NULL, &p, (long)len);
    struct store_tx *tx = NULL;
    char *sha = NULL;
    int rc = -1;

    if (leaf == NULL) {
        ERR_clear_error();
        return err_set(e, ERR_UNAUTHENTICATED, "client certificate: does not parse");
    }
    if (target == NULL)
        err_set(e, ERR_FORBIDDEN, "token is not valid for this tenant");
    else if ((tx = store_begin_read(s->store, e)) != NULL) {
        sha = cert_sha256(der, len);
        rc = cert_admit(tx, leaf, sha, addr, target, id, e);
    }
    store_rollback(tx);
    X509_free(leaf);
    free(sha);
    return rc;
}
