/*
 * svc_est.c — EST enrollment (RFC 7030) for the transport in
 * src/api/api_est.c: an endpoint's CA certificates, and simpleenroll /
 * simplereenroll submitted through the one door (svc_submit) on behalf of the
 * device, so that workflows, quotas, audit and webhooks apply as to any other
 * issuance.
 *
 * Who the device is: an enrollment credential of the endpoint (HTTP Basic,
 * argon2id-checked), or a TLS client certificate issued by one of the
 * endpoint's client CAs, good in the tenant's records.  Its actor is
 * "est:<endpoint>/<credential>" or "est:<endpoint>/cert:<serial>" (a
 * requester), so the audit chain names the endpoint and the credential of
 * every enrollment.  simplereenroll needs the certificate being renewed as
 * the TLS client certificate (issued by the endpoint's CA) and a CSR with its
 * subject and subject alternative names; it is a renewal of that certificate
 * (cert.renew: same CA and profile), on behalf of its requester.
 *
 * Approval: every enrollment is submitted with the idempotency key
 * "est-<hash of endpoint, actor and public key>".  Under a workflow the door
 * stores a pending request under it; the client's repeat (the same key pair
 * from the same credential, RFC 7030 §4.2.3) finds the request through the
 * key, before anything is submitted again: still pending (202 again), done
 * (its certificate), or refused.  A one-time credential is claimed before
 * its enrollment is submitted (given back if the door refuses) and may then
 * only collect what it asked for.
 */
#include "svc/svc_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char *const requester_role[] = {"requester"};

/* ---- the verification cache of Basic credentials ------------------------------------ */

/*
 * argon2id costs ~20 ms and ~19 MiB a run: a device's credential that
 * verified is remembered (node-locally, by SHA-256 of endpoint, user and
 * password and tenant, with the hash it verified against) for CACHE_TTL seconds, as
 * bearer tokens are (svc_auth.c).  The credential's row is still read for
 * every request: a revoked or used credential is refused at once.
 */
#define CACHE_SLOTS 256
#define CACHE_TTL   60

struct cache_slot {
    unsigned char key[32];
    char *encoded;
    int64_t until;
};
static struct cache_slot cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
/* At most VERIFY_MAX argon2id runs at once on a node (wrong passwords cost memory each). */
#define VERIFY_MAX 4
static pthread_cond_t verify_cond = PTHREAD_COND_INITIALIZER;
static int verifying;

static void cache_key(const char *tenant, const char *endpoint, const char *user,
                      const char *password, unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, tenant, strlen(tenant) + 1) != 1 ||
        EVP_DigestUpdate(ctx, endpoint, strlen(endpoint) + 1) != 1 ||
        EVP_DigestUpdate(ctx, user, strlen(user) + 1) != 1 ||
        EVP_DigestUpdate(ctx, password, strlen(password)) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &n) != 1)
        abort(); /* SHA-256 of bytes in memory does not fail */
    EVP_MD_CTX_free(ctx);
}

/*
 * Failures per credential: FAIL_MAX wrong passwords within FAIL_WINDOW
 * seconds refuse that credential without running argon2id until the window
 * has passed (a known credential id must not buy anyone argon2id runs at
 * will).  Slots are shared by hash; a collision only locks out sooner.
 */
#define FAIL_SLOTS  256
#define FAIL_MAX    5
#define FAIL_WINDOW 60

struct fail_slot {
    unsigned char key[32];
    int count;
    int64_t since;
};
static struct fail_slot fails[FAIL_SLOTS];

/* The slot of a credential (by SHA-256 of tenant, endpoint and id); cache_lock held. */
static struct fail_slot *fail_slot_of(const unsigned char md[32])
{
    return &fails[(md[2] << 8 | md[3]) % FAIL_SLOTS];
}

/* Whether the credential md failed FAIL_MAX times within the window. */
static int fail_blocked(const unsigned char md[32])
{
    struct fail_slot *f;
    int blocked;

    pthread_mutex_lock(&cache_lock);
    f = fail_slot_of(md);
    blocked =
        memcmp(f->key, md, 32) == 0 && f->count >= FAIL_MAX && f->since > time_now() - FAIL_WINDOW;
    pthread_mutex_unlock(&cache_lock);
    return blocked;
}

static void fail_count(const unsigned char md[32])
{
    struct fail_slot *f;

    pthread_mutex_lock(&cache_lock);
    f = fail_slot_of(md);
    if (memcmp(f->key, md, 32) != 0 || f->since <= time_now() - FAIL_WINDOW) {
        memcpy(f->key, md, 32);
        f->count = 0;
        f->since = time_now();
    }
    f->count++;
    pthread_mutex_unlock(&cache_lock);
}

/* Whether the secret verified against encoded within CACHE_TTL (else runs argon2id). */
static int secret_verify(const char *tenant, const char *endpoint, const char *user,
                         const char *password, const char *encoded)
{
    unsigned char md[32], id[32];
    struct cache_slot *c;
    int hit, ok;

    cache_key(tenant, endpoint, user, password, md);
    c = &cache[(md[0] << 8 | md[1]) % CACHE_SLOTS];
    pthread_mutex_lock(&cache_lock);
    hit = c->encoded != NULL && c->until > time_now() && memcmp(c->key, md, 32) == 0 &&
          strcmp(c->encoded, encoded) == 0;
    pthread_mutex_unlock(&cache_lock);
    if (hit)
        return 1;
    cache_key(tenant, endpoint, user, "", id);
    if (fail_blocked(id))
        return 0;
    pthread_mutex_lock(&cache_lock);
    while (verifying >= VERIFY_MAX)
        pthread_cond_wait(&verify_cond, &cache_lock);
    verifying++;
    pthread_mutex_unlock(&cache_lock);
    ok = svc_token_secret_verify(encoded, password);
    pthread_mutex_lock(&cache_lock);
    verifying--;
    pthread_cond_signal(&verify_cond);
    pthread_mutex_unlock(&cache_lock);
    if (!ok) {
        fail_count(id);
        return 0;
    }
    pthread_mutex_lock(&cache_lock);
    free(c->encoded);
    memcpy(c->key, md, 32);
    c->encoded = xstrdup(encoded);
    c->until = time_now() + CACHE_TTL;
    pthread_mutex_unlock(&cache_lock);
    return 1;
}

void svc_est_result_clear(struct svc_est_result *r)
{
    if (r == NULL)
        return;
    if (r->key != NULL)
        secure_zero(r->key, r->key_len);
    free(r->key);
    free(r->der);
    free(r->request);
    memset(r, 0, sizeof(*r));
}

/* The EST endpoint `name` of tenant, active, and its settings; ERR_NOT_FOUND if none. */
static int endpoint_load(struct svc *s, const char *tenant, const char *name,
                         struct enroll_endpoint_rec **ep, struct svc_enroll_settings *st,
                         struct err *e)
{
    json_t *o;
    int rc;

    if (svc_enroll_endpoint_get(s, tenant, name, ep, e) != 0)
        return err_set(e, ERR_NOT_FOUND, "no such EST endpoint");
    if (strcmp((*ep)->protocol, "est") != 0 || strcmp((*ep)->status, "active") != 0) {
        rc = strcmp((*ep)->protocol, "est") != 0
                 ? err_set(e, ERR_NOT_FOUND, "no such EST endpoint")
                 : err_set(e, ERR_FORBIDDEN, "EST endpoint %s is disabled", name);
        enroll_endpoint_rec_free(*ep);
        *ep = NULL;
        return rc;
    }
    o = json_loads((*ep)->settings, 0, NULL);
    rc = svc_enroll_settings_parse(o, (*ep)->ca, st, e);
    json_decref(o);
    if (rc != 0) {
        enroll_endpoint_rec_free(*ep);
        *ep = NULL;
    }
    return rc;
}

int svc_est_cacerts(struct svc *s, const char *tenant, const char *endpoint, unsigned char **der,
                    size_t *len, struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct svc_enroll_settings st;
    struct store_tx *tx;
    struct ca_rec *ca = NULL;
    int rc;

    if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
        return -1;
    svc_enroll_settings_clear(&st);
    if ((tx = store_begin_read(s->store, e)) == NULL) {
        enroll_endpoint_rec_free(ep);
        return -1;
    }
    rc = store_ca_get(tx, tenant, ep->ca, &ca, e);
    store_rollback(tx);
    enroll_endpoint_rec_free(ep);
    if (rc != 0 || ca->cert_der == NULL) {
        ca_rec_free(ca);
        return err_set(e, ERR_UNAVAILABLE, "the endpoint's CA has no certificate");
    }
    *len = ca->cert_len + ca->chain_len;
    *der = xmalloc(*len);
    memcpy(*der, ca->cert_der, ca->cert_len);
    if (ca->chain_der != NULL)
        memcpy(*der + ca->cert_len, ca->chain_der, ca->chain_len);
    ca_rec_free(ca);
    return 0;
}

int svc_est_csrattrs(struct svc *s, const char *tenant, const char *endpoint, struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct svc_enroll_settings st;

    if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
        return -1;
    svc_enroll_settings_clear(&st);
    enroll_endpoint_rec_free(ep);
    return 0;
}

/* ---- who the device is ------------------------------------------------------------ */

struct device {
    char *id;                           /* the actor's id */
    char *principal;                    /* the actor's principal */
    struct enroll_credential_rec *cred; /* Basic: the credential */
    struct cert_rec *old;               /* certificate: its record */
    X509 *cert;                         /* certificate: parsed */
};

static void device_clear(struct device *d)
{
    free(d->id);
    free(d->principal);
    enroll_credential_rec_free(d->cred);
    cert_rec_free(d->old);
    X509_free(d->cert);
    memset(d, 0, sizeof(*d));
}

static void device_actor(const struct device *d, struct actor *a)
{
    memset(a, 0, sizeof(*a));
    a->id = d->id;
    a->principal = d->principal;
    a->roles = requester_role;
    a->nroles = 1;
    a->creators = d->cred != NULL ? d->cred->creators : NULL;
}

/* The credential user/password of endpoint ep, checked; ERR_UNAUTHENTICATED if not good. */
static int device_basic(struct svc *s, const struct enroll_endpoint_rec *ep, const char *user,
                        const char *password, struct device *d, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_enroll_credential_get(tx, ep->tenant, ep->name, user, &d->cred, e);
    store_rollback(tx);
    if (rc != 0)
        return err_set(e, ERR_UNAUTHENTICATED, "credential: unknown user or wrong password");
    if (!secret_verify(ep->tenant, ep->name, user, password, d->cred->secret_hash))
        return err_set(e, ERR_UNAUTHENTICATED, "credential: unknown user or wrong password");
    if (strcmp(d->cred->status, "revoked") == 0)
        return err_set(e, ERR_UNAUTHENTICATED, "credential %s: revoked", user);
    d->id = xasprintf("est:%s/%s", ep->name, user);
    d->principal = xstrdup(d->id);
    return 0;
}

/* Whether leaf is issued and signed by the certificate of CA `name` of tenant (read in tx). */
static int issued_by(struct svc *s, struct store_tx *tx, const char *tenant, const char *name,
                     X509 *leaf)
{
    struct ca_rec *r = NULL;
    X509 *ca = NULL;
    int ok = 0;
    struct err ignored;

    if (store_ca_get(tx, tenant, name, &r, &ignored) == 0 && r->cert_der != NULL &&
        (ca = svc_ca_cert(s, r, &ignored)) != NULL)
        ok = X509_check_issued(ca, leaf) == X509_V_OK &&
             X509_verify(leaf, X509_get0_pubkey(ca)) == 1;
    X509_free(ca);
    ca_rec_free(r);
    ERR_clear_error();
    return ok;
}

/*
 * The TLS client certificate of a device: issued by one of cas (n), within
 * its validity, good in the tenant's records (which must have it when
 * `known` is set); ERR_UNAUTHENTICATED saying why not.
 */
static int device_cert(struct svc *s, const struct enroll_endpoint_rec *ep, char *const *cas, int n,
                       int known, const unsigned char *der, size_t len, struct device *d,
                       struct err *e)
{
    const unsigned char *p = der;
    struct store_tx *tx;
    char *serial = NULL;
    int found = 0, rc = -1;

    if ((d->cert = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
        ERR_clear_error();
        return err_set(e, ERR_UNAUTHENTICATED, "client certificate: does not parse");
    }
    if (X509_cmp_current_time(X509_get0_notBefore(d->cert)) >= 0 ||
        X509_cmp_current_time(X509_get0_notAfter(d->cert)) <= 0)
        return err_set(e, ERR_UNAUTHENTICATED, "client certificate: not within its validity");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    for (int i = 0; i < n && !found; i++)
        found = issued_by(s, tx, ep->tenant, cas[i], d->cert);
    serial = serial_hex(X509_get0_serialNumber(d->cert));
    if (!found)
        err_set(e, ERR_UNAUTHENTICATED,
                "client certificate: not issued by a CA the endpoint trusts");
    else if (serial == NULL || (store_cert_get(tx, ep->tenant, serial, &d->old, e) != 0 &&
                                (known || e->kind != ERR_NOT_FOUND)))
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: not one of the tenant's");
    else if (d->old != NULL && strcmp(d->old->status, "good") != 0)
        err_set(e, ERR_UNAUTHENTICATED, "client certificate: %s", d->old->status);
    else
        rc = 0;
    store_rollback(tx);
    if (rc == 0) {
        d->id = xasprintf("est:%s/cert:%s", ep->name, serial);
        d->principal = xstrdup(d->old && d->old->requester ? d->old->requester : d->id);
    }
    free(serial);
    return rc;
}

/* Who the device is, by what the endpoint accepts; simplereenroll needs the certificate. */
static int device_find(struct svc *s, const struct enroll_endpoint_rec *ep,
                       const struct svc_enroll_settings *st, const struct svc_est_client *c,
                       int reenroll, struct device *d, struct err *e)
{
    char *own_ca[1] = {ep->ca};

    if (reenroll) {
        if (c->cert == NULL)
            return err_set(e, ERR_UNAUTHENTICATED,
                           "simplereenroll: the certificate being renewed is the TLS client "
                           "certificate (RFC 7030 section 3.3.2)");
        return device_cert(s, ep, own_ca, 1, 1, c->cert, c->cert_len, d, e);
    }
    if (c->cert != NULL && (st->auth & SVC_ENROLL_AUTH_CERT) &&
        (c->user == NULL || !(st->auth & SVC_ENROLL_AUTH_BASIC)))
        return device_cert(s, ep, st->client_cas, st->nclient_cas, 0, c->cert, c->cert_len, d, e);
    if (c->user != NULL && (st->auth & SVC_ENROLL_AUTH_BASIC))
        return device_basic(s, ep, c->user, c->password ? c->password : "", d, e);
    return err_set(e, ERR_UNAUTHENTICATED, "%s required",
                   st->auth & SVC_ENROLL_AUTH_BASIC ? "Basic credentials"
                                                    : "a TLS client certificate");
}

/* ---- the CSR ------------------------------------------------------------------------ */

/* Whether every name of a is in b. */
static int names_in(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(a); i++) {
        int found = 0;
        for (int k = 0; k < sk_GENERAL_NAME_num(b) && !found; k++)
            found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i), sk_GENERAL_NAME_value(b, k)) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

/* RFC 7030 §4.2.2: the renewal's subject and SANs are the old certificate's; ERR_INVALID if not. */
static int csr_same_names(const struct issue_request *r, X509 *old, struct err *e)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(old, NID_subject_alt_name, NULL, NULL);
    GENERAL_NAMES *none = sk_GENERAL_NAME_new_null();
    const GENERAL_NAMES *mine = r->sans ? r->sans : none;
    int same;

    if (none == NULL)
        abort();
    if (X509_NAME_cmp(r->subject, X509_get_subject_name(old)) != 0) {
        same = err_set(e, ERR_INVALID, "csr: the subject is not the certificate's being renewed");
    } else {
        same = names_in(mine, sans ? sans : none) && names_in(sans ? sans : none, mine)
                   ? 0
                   : err_set(e, ERR_INVALID,
                             "csr: the subject alternative names are not the certificate's "
                             "being renewed");
    }
    GENERAL_NAMES_free(sans);
    sk_GENERAL_NAME_free(none);
    ERR_clear_error();
    return same;
}

/*
 * "est-" and 40 hex digits of SHA-256 over the endpoint, the actor and the
 * CSR's public key bits (as the CSR gave them: no encoder of OpenSSL runs).
 */
static char *enroll_key(const char *endpoint, const char *actor, const struct issue_request *r)
{
    unsigned char md[EVP_MAX_MD_SIZE], *spki = NULL;
    unsigned int mdlen = 0;
    int n = r->spki_bits != NULL ? r->spki_bits_len : i2d_PUBKEY(r->pubkey, &spki);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *hex, *key;

    if (n <= 0 || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, endpoint, strlen(endpoint) + 1) != 1 ||
        EVP_DigestUpdate(ctx, actor, strlen(actor) + 1) != 1 ||
        EVP_DigestUpdate(ctx, r->spki_bits != NULL ? r->spki_bits : spki, (size_t)n) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        abort(); /* SHA-256 of bytes in memory does not fail */
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(spki);
    hex = hex_encode(md, 20);
    key = xasprintf("est-%s", hex);
    free(hex);
    return key;
}

/* ---- collecting what an earlier enrollment asked for ------------------------------- */

/* The certificate serial of tenant as the result (its DER). */
static int result_cert(struct svc *s, const char *tenant, const char *serial,
                       struct svc_est_result *res, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct cert_rec *c = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_cert_get(tx, tenant, serial, &c, e);
    store_rollback(tx);
    if (rc != 0)
        return -1;
    res->der = c->der;
    res->der_len = c->der_len;
    c->der = NULL;
    cert_rec_free(c);
    return 0;
}

/*
 * What the enrollment filed under key led to, if it waited for approval: 1
 * with res set (pending, or its certificate), -1 with e (refused, or an
 * error), 0 if there is no such request (*filed: the key names an outcome of
 * another kind).
 */
static int collect(struct svc *s, const char *tenant, const char *key, int retry_after,
                   struct svc_est_result *res, int *filed, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct idempotency_rec *k = NULL;
    struct request_rec *r = NULL;
    json_t *result = NULL;
    const char *serial;
    int rc = 0;

    *filed = 0;
    if (tx == NULL)
        return -1;
    if (store_idempotency_get(tx, tenant, key, &k, e) != 0) {
        store_rollback(tx);
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    }
    *filed = 1;
    if (strcmp(k->outcome, "request") != 0 || store_request_get(tx, tenant, k->object, &r, e) != 0)
        goto out;
    rc = 1;
    result = r->result ? json_loads(r->result, 0, NULL) : NULL;
    serial = json_string_value(json_object_get(json_object_get(result, "certificate"), "serial"));
    if (strcmp(r->status, "pending") == 0) {
        res->pending = 1;
        res->retry_after = retry_after;
        res->request = xstrdup(r->id);
    } else if (strcmp(r->status, "done") == 0 && serial != NULL) {
        rc = result_cert(s, tenant, serial, res, e) == 0 ? 1 : -1;
    } else {
        rc = err_set(e, ERR_FORBIDDEN, "request %s: %s%s%s", r->id, r->status,
                     r->reason ? ": " : "", r->reason ? r->reason : "");
    }
out:
    store_rollback(tx);
    json_decref(result);
    idempotency_rec_free(k);
    request_rec_free(r);
    return rc;
}

/* ---- one-time credentials -------------------------------------------------------------- */

/* Moves the credential from `from` to `to` (counting a use when to is "used"); 0 if it was. */
static int credential_move(struct svc *s, const struct enroll_credential_rec *c, const char *from,
                           const char *to, int delta, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct enroll_credential_rec *r = NULL;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_enroll_credential_get(tx, c->tenant, c->endpoint, c->id, &r, e) != 0)
        goto out;
    if (from != NULL && strcmp(r->status, from) != 0) {
        err_set(e, ERR_UNAUTHENTICATED, "credential %s: %s", c->id, r->status);
        goto out;
    }
    free(r->status);
    r->status = xstrdup(to);
    r->uses += delta;
    r->updated = time_now();
    if (store_enroll_credential_update(tx, c->tenant, r, e) == 0)
        rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    enroll_credential_rec_free(r);
    return rc;
}

/* ---- enrollment ---------------------------------------------------------------------- */

enum mode { MODE_ENROLL, MODE_REENROLL, MODE_KEYGEN };

static int submit(struct svc *s, const struct enroll_endpoint_rec *ep,
                  const struct svc_enroll_settings *st, const struct device *d, enum mode mode,
                  const unsigned char *csr, size_t csr_len, const char *key,
                  struct svc_est_result *res, struct err *e)
{
    static const enum svc_op_kind kinds[] = {SVC_OP_CERT_ISSUE, SVC_OP_CERT_RENEW,
                                             SVC_OP_CERT_KEYGEN};
    struct svc_op op = {.kind = kinds[mode],
                        .ca = ep->ca,
                        .profile = ep->profile,
                        .serial = mode == MODE_REENROLL ? d->old->serial : NULL,
                        .csr = (const char *)csr,
                        .csr_len = csr_len,
                        .pkcs8 = mode == MODE_KEYGEN};
    struct svc_outcome out = {0};
    struct actor a;
    int once = d->cred != NULL && !d->cred->reusable, rc;

    device_actor(d, &a);
    if (once && credential_move(s, d->cred, "active", "used", 1, e) != 0)
        return -1;
    rc = svc_submit(s, &a, ep->tenant, &op, key, &out, e);
    if (rc != 0 && once) {
        struct err ignored;
        (void)credential_move(s, d->cred, "used", "active", -1, &ignored);
    }
    if (rc == 0 && out.pending) {
        res->pending = 1;
        res->retry_after = st->retry_after;
        res->request = xstrdup(out.request->id);
    } else if (rc == 0) {
        res->der = out.cert->der;
        res->der_len = out.cert->der_len;
        out.cert->der = NULL;
        res->key = out.pkcs8;
        res->key_len = out.pkcs8_len;
        out.pkcs8 = NULL;
    }
    svc_outcome_clear(&out);
    return rc;
}

/* simpleenroll, simplereenroll or serverkeygen (no approval: nothing to collect later). */
static int est_run(struct svc *s, const char *tenant, const char *endpoint,
                   const struct svc_est_client *c, enum mode mode, const unsigned char *csr,
                   size_t csr_len, struct svc_est_result *res, struct err *e)
{
    static const char *const actions[] = {"est.simpleenroll", "est.simplereenroll",
                                          "est.serverkeygen"};
    int reenroll = mode == MODE_REENROLL;
    struct enroll_endpoint_rec *ep = NULL;
    struct svc_enroll_settings st = {0};
    struct device d = {0};
    struct issue_request req = {0};
    struct actor anon = {.id = "est"};
    char *key = NULL;
    int rc = -1, filed = 0, got;

    memset(res, 0, sizeof(*res));
    if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
        return -1;
    if (device_find(s, ep, &st, c, reenroll, &d, e) != 0) {
        svc_audit_unproven(s, tenant, &anon, "est.refused", endpoint, e);
        goto out;
    }
    if (csr_read(csr, csr_len, 0, &req, e) != 0 ||
        (reenroll && csr_same_names(&req, d.cert, e) != 0)) {
        struct actor a;
        device_actor(&d, &a);
        svc_audit_refusal(s, tenant, &a, actions[mode], endpoint, e);
        goto out;
    }
    key = mode == MODE_KEYGEN ? NULL : enroll_key(ep->name, d.id, &req);
    if (key != NULL && (got = collect(s, tenant, key, st.retry_after, res, &filed, e)) != 0) {
        rc = got > 0 ? 0 : -1;
        goto out;
    }
    if (d.cred != NULL && strcmp(d.cred->status, "active") != 0) {
        err_set(e, ERR_UNAUTHENTICATED, "credential %s: used", d.cred->id);
        svc_audit_unproven(s, tenant, &anon, "est.refused", endpoint, e);
        goto out;
    }
    rc = submit(s, ep, &st, &d, mode, csr, csr_len, filed ? NULL : key, res, e);
out:
    free(key);
    issue_request_clear(&req);
    device_clear(&d);
    svc_enroll_settings_clear(&st);
    enroll_endpoint_rec_free(ep);
    return rc;
}

int svc_est_enroll(struct svc *s, const char *tenant, const char *endpoint,
                   const struct svc_est_client *c, int reenroll, const unsigned char *csr,
                   size_t csr_len, struct svc_est_result *res, struct err *e)
{
    return est_run(s, tenant, endpoint, c, reenroll ? MODE_REENROLL : MODE_ENROLL, csr, csr_len,
                   res, e);
}

int svc_est_serverkeygen(struct svc *s, const char *tenant, const char *endpoint,
                         const struct svc_est_client *c, const unsigned char *csr, size_t csr_len,
                         struct svc_est_result *res, struct err *e)
{
    return est_run(s, tenant, endpoint, c, MODE_KEYGEN, csr, csr_len, res, e);
}

/* ---- shared with SCEP (svc_scep.c): the same credentials, collection and renewal checks ---- */

int svc_enroll_secret_verify(const char *tenant, const char *endpoint, const char *id,
                             const char *secret, const char *encoded)
{
    return secret_verify(tenant, endpoint, id, secret, encoded);
}

int svc_enroll_collect(struct svc *s, const char *tenant, const char *key, int retry_after,
                       struct svc_est_result *res, int *filed, struct err *e)
{
    return collect(s, tenant, key, retry_after, res, filed, e);
}

int svc_enroll_credential_move(struct svc *s, const struct enroll_credential_rec *c,
                               const char *from, const char *to, int delta, struct err *e)
{
    return credential_move(s, c, from, to, delta, e);
}

int svc_enroll_same_names(const struct issue_request *r, X509 *old, struct err *e)
{
    return csr_same_names(r, old, e);
}

int svc_enroll_issued_by(struct svc *s, struct store_tx *tx, const char *tenant, const char *ca,
                         X509 *leaf)
{
    return issued_by(s, tx, tenant, ca, leaf);
}
