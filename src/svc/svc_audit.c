/*
 * svc_audit.c — signed checkpoints of a tenant's audit chain, and the
 * verification of chain and checkpoints together.
 *
 * Each tenant gets an audit key (ec-p256) in the signer the first time one of
 * chain is checkpointed; the key is recorded in audit_keys (and its
 * creation is an event of the _system chain).  A checkpoint is the DER AuditCheckpoint of
 * keys/tbs.h over the chain's last row, signed with SHA-256 by that key.  A
 * checkpoint is not itself an audit event (it would move the head it signs).
 */
#include "svc/svc_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "audit/checkpoint.h"
#include "keys/tbs.h"
#include "lib/log.h"

/* PEM text of pub's SubjectPublicKeyInfo (caller frees); NULL on error. */
static char *pubkey_pem(EVP_PKEY *pub)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;

    if (b != NULL && PEM_write_bio_PUBKEY(b, pub) == 1 && (n = BIO_get_mem_data(b, &data)) > 0) {
        out = xmalloc((size_t)n + 1);
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(b);
    return out;
}

/* {"name": "value"} as compact JSON text (caller frees). */
static char *json_dumps_pair(const char *name, const char *value)
{
    json_t *o = json_pack("{s:s}", name, value);
    char *text = json_dumps(o, JSON_COMPACT);

    json_decref(o);
    return text;
}

/*
 * Creates tenant's audit key in the signer and records it, audited in the
 * _system chain (as tenant.create is): an event in the tenant's own chain
 * would appear at an arbitrary point of it.  *out set.
 */
static int audit_key_create(struct svc *s, const char *tenant, struct audit_key_rec **out,
                            struct err *e)
{
    struct actor a = {.id = "vouchd"};
    struct audit_key_rec r = {0};
    struct store_tx *tx;
    EVP_PKEY *pub = NULL;
    char *detail;
    int rc = -1;

    if (signer_keygen_for(s->signer, tenant, KEY_EC_P256, KEY_PURPOSE_AUDIT, &r.key_id, &pub, e) !=
        0)
        return -1;
    detail = json_dumps_pair("key_id", r.key_id);
    r.tenant = (char *)tenant;
    r.key_type = (char *)key_type_name(KEY_EC_P256);
    r.public_pem = pubkey_pem(pub);
    r.created = time_now();
    if (r.public_pem == NULL)
        err_set(e, ERR_INTERNAL, "audit key: cannot encode the public key");
    else if ((tx = store_begin(s->store, e)) != NULL) {
        if (store_audit_key_insert(tx, tenant, &r, e) == 0 &&
            svc_audit_ok(tx, "_system", &a, "audit.key.create", tenant, detail, e) == 0)
            rc = store_commit(tx, e);
        else
            store_rollback(tx);
    }
    if (rc != 0) {
        struct err ignored;
        signer_delete(s->signer, tenant, r.key_id, &ignored);
    } else {
        *out = xcalloc(1, sizeof(**out));
        (*out)->tenant = xstrdup(tenant);
        (*out)->key_id = xstrdup(r.key_id);
        (*out)->key_type = xstrdup(r.key_type);
        (*out)->public_pem = xstrdup(r.public_pem);
        (*out)->created = r.created;
    }
    EVP_PKEY_free(pub);
    free(detail);
    free(r.key_id);
    free(r.public_pem);
    return rc;
}

int svc_audit_key(struct svc *s, const char *tenant, int create, struct audit_key_rec **out,
                  struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct err le;
    int rc;

    if (tx == NULL)
        return -1;
    err_clear(&le);
    rc = store_audit_key_get(tx, tenant, out, &le);
    store_rollback(tx);
    if (rc == 0)
        return 0;
    if (le.kind != ERR_NOT_FOUND || !create) {
        if (e != NULL)
            *e = le;
        return -1;
    }
    if (audit_key_create(s, tenant, out, e) == 0)
        return 0;
    /* Another node (or thread) may have made it first. */
    if ((tx = store_begin_read(s->store, &le)) == NULL)
        return -1;
    rc = store_audit_key_get(tx, tenant, out, &le);
    store_rollback(tx);
    return rc;
}

int svc_sign_der(struct svc *s, const char *tenant, const char *key_id, const unsigned char *der,
                 size_t len, unsigned char **sig, size_t *sig_len, struct err *e)
{
    EVP_PKEY *key = svc_key(s, tenant, key_id, e);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const EVP_MD *digest = key && key_type_of(key) == KEY_ED25519 ? NULL : EVP_sha256();
    size_t n = 0;
    int rc = -1;

    if (key != NULL && md != NULL && EVP_DigestSignInit(md, NULL, digest, NULL, key) == 1 &&
        EVP_DigestSign(md, NULL, &n, der, len) == 1) {
        *sig = xmalloc(n);
        if (EVP_DigestSign(md, *sig, &n, der, len) == 1) {
            *sig_len = n;
            rc = 0;
        } else {
            free(*sig);
            *sig = NULL;
        }
    }
    if (rc != 0 && key != NULL)
        err_ossl(e, ERR_UNAVAILABLE, "%s: signing failed", tbs_kind(der, len));
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return rc;
}

/* Reads the chain's head and the last checkpoint of tenant; ERR_NOT_FOUND head = empty chain. */
static int checkpoint_state(struct svc *s, const char *tenant, struct audit_rec **head,
                            int64_t *last_cp, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct audit_checkpoint_rec *cp = NULL;
    struct err le;
    int rc;

    if (tx == NULL)
        return -1;
    err_clear(&le);
    *last_cp = 0;
    rc = store_audit_checkpoint_last(tx, tenant, &cp, &le);
    if (rc != 0 && le.kind != ERR_NOT_FOUND) {
        store_rollback(tx);
        if (e != NULL)
            *e = le;
        return -1;
    }
    if (cp != NULL)
        *last_cp = cp->seq;
    audit_checkpoint_rec_free(cp);
    rc = store_audit_last(tx, tenant, head, e);
    store_rollback(tx);
    return rc;
}

int svc_audit_checkpoint(struct svc *s, const char *tenant, int64_t *seq, struct err *e)
{
    struct audit_key_rec *key = NULL;
    struct audit_checkpoint_rec cp = {0};
    struct audit_rec *head = NULL;
    unsigned char *hash = NULL, *der = NULL;
    size_t hash_len = 0;
    int64_t last = 0;
    struct store_tx *tx;
    int rc = -1;

    /* The key first (made on first need). */
    if (svc_audit_key(s, tenant, 1, &key, e) != 0 || checkpoint_state(s, tenant, &head, &last, e))
        goto out;
    *seq = head->seq;
    if (head->seq == last) {
        rc = 0; /* nothing new since the last checkpoint */
        goto out;
    }
    if ((hash = hex_decode(head->hash, &hash_len)) == NULL || hash_len != 32) {
        err_set(e, ERR_INTERNAL, "audit: row %" PRId64 " has a malformed hash", head->seq);
        goto out;
    }
    cp.tenant = (char *)tenant;
    cp.seq = head->seq;
    cp.time = time_now();
    cp.head_hash = head->hash;
    cp.key_id = key->key_id;
    if (tbs_checkpoint_encode(tenant, cp.seq, hash, cp.time, &der, &cp.der_len) != 0) {
        err_set(e, ERR_INTERNAL, "audit checkpoint: cannot encode");
        goto out;
    }
    cp.der = der;
    if (svc_sign_der(s, tenant, key->key_id, der, cp.der_len, &cp.sig, &cp.sig_len, e) != 0 ||
        (tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (store_audit_checkpoint_insert(tx, tenant, &cp, e) != 0) {
        store_rollback(tx);
        rc = e != NULL && e->kind == ERR_CONFLICT ? 0 : -1; /* another node signed the same head */
        goto out;
    }
    rc = store_commit(tx, e);
out:
    OPENSSL_free(der);
    free(cp.sig);
    free(hash);
    audit_rec_free(head);
    audit_key_rec_free(key);
    return rc;
}

int svc_audit_checkpoint_tick(struct svc *s, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tenant_rec **tenants = NULL;
    size_t n = 0;
    int failed = 0;

    if (tx == NULL)
        return -1;
    if (store_tenant_list(tx, &tenants, &n, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    /* Every tenant's chain and, last, the _system chain. */
    for (size_t i = 0; i <= n; i++) {
        const char *name = i < n ? tenants[i]->name : "_system";
        int64_t seq = 0;
        struct err te;
        if (i < n && strcmp(tenants[i]->status, "purged") == 0)
            name = NULL;
        if (name != NULL && svc_audit_checkpoint(s, name, &seq, &te) != 0 &&
            te.kind != ERR_NOT_FOUND) {
            log_warn("audit checkpoint of %s: %s", name, te.msg);
            if (!failed && e != NULL)
                *e = te;
            failed = 1;
        }
        if (i < n)
            tenant_rec_free(tenants[i]);
    }
    free(tenants);
    return failed ? -1 : 0;
}

/* ---- verification ---------------------------------------------------------- */

/* Records a problem at seq if it is the earliest so far. */
static void verdict_bad(struct svc_audit_verdict *v, int64_t seq, const char *why)
{
    if (v->ok || seq < v->bad_seq) {
        v->ok = 0;
        v->bad_seq = seq;
        snprintf(v->reason, sizeof(v->reason), "%s", why);
    }
}

/* Whether key's recorded public key is the one the signer holds under its id. */
static EVP_PKEY *audit_public_key(struct svc *s, const struct audit_key_rec *k, char *why,
                                  size_t why_len)
{
    BIO *b = BIO_new_mem_buf(k->public_pem, -1);
    EVP_PKEY *pub = b != NULL ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    unsigned char *a = NULL, *c = NULL;
    int an = -1, cn = -1;
    struct err e;
    EVP_PKEY *remote = svc_key(s, k->tenant, k->key_id, &e);

    BIO_free(b);
    if (pub == NULL)
        snprintf(why, why_len, "the recorded audit public key does not parse");
    else if (remote == NULL)
        snprintf(why, why_len, "the audit key %s is not in the signer", k->key_id);
    else if ((an = i2d_PUBKEY(pub, &a)) <= 0 || (cn = i2d_PUBKEY(remote, &c)) <= 0 || an != cn ||
             memcmp(a, c, (size_t)an) != 0)
        snprintf(why, why_len, "the recorded audit public key is not the signer's key");
    else
        why[0] = '\0';
    OPENSSL_free(a);
    OPENSSL_free(c);
    EVP_PKEY_free(remote);
    if (why[0] != '\0') {
        EVP_PKEY_free(pub);
        return NULL;
    }
    return pub;
}

/*
 * Checks one checkpoint against the chain, verified intact through row
 * `count`: signature, and that row cp->seq still has the signed hash.
 * *good_after is the seq of the last checkpoint that held.
 */
static void checkpoint_verify(struct store_tx *tx, EVP_PKEY *pub,
                              const struct audit_checkpoint_rec *cp, int64_t count,
                              int64_t *good_after, struct svc_audit_verdict *v)
{
    struct audit_rec **rows = NULL;
    char why[256];
    size_t n = 0;
    struct err e;

    if (audit_checkpoint_check(pub, cp->tenant, cp->seq, cp->head_hash, cp->der, cp->der_len,
                               cp->sig, cp->sig_len, why, sizeof(why)) != 0) {
        verdict_bad(v, cp->seq, why);
        return;
    }
    if (cp->seq > count) {
        snprintf(why, sizeof(why),
                 "row %" PRId64 ": missing, but checkpoint %" PRId64 " signed a chain of %" PRId64
                 " rows (rows removed)",
                 count + 1, cp->seq, cp->seq);
        verdict_bad(v, count + 1, why);
        return;
    }
    if (store_audit_list(tx, cp->tenant, cp->seq - 1, 1, &rows, &n, &e) != 0 || n != 1 ||
        rows[0]->seq != cp->seq || strcmp(rows[0]->hash, cp->head_hash) != 0) {
        snprintf(why, sizeof(why),
                 "rows %" PRId64 "..%" PRId64 ": changed since checkpoint %" PRId64
                 " (the chain no longer reaches its signed hash)",
                 *good_after + 1, cp->seq, cp->seq);
        verdict_bad(v, *good_after + 1, why);
    } else {
        *good_after = cp->seq;
    }
    audit_rec_list_free(rows, n);
}

int svc_audit_verify(struct svc *s, const char *tenant, struct svc_audit_verdict *v, struct err *e)
{
    struct audit_checkpoint_rec **cps = NULL;
    struct audit_key_rec *key = NULL;
    struct store_tx *tx = NULL;
    EVP_PKEY *pub = NULL;
    int64_t bad = 0, after = 0, good_after = 0;
    char why[256] = "";
    size_t n = 0;
    struct err le;
    int rc;

    memset(v, 0, sizeof(*v));
    v->ok = 1;
    rc = audit_verify(s->store, tenant, &v->count, &bad, why, sizeof(why), e);
    if (rc < 0)
        return -1;
    if (rc == 1)
        verdict_bad(v, bad, why);
    err_clear(&le);
    if (svc_audit_key(s, tenant, 0, &key, &le) != 0)
        return le.kind == ERR_NOT_FOUND ? 0 : (e != NULL ? (*e = le, -1) : -1);
    if ((pub = audit_public_key(s, key, why, sizeof(why))) == NULL) {
        verdict_bad(v, 1, why);
        audit_key_rec_free(key);
        return 0;
    }
    if ((tx = store_begin_read(s->store, e)) == NULL)
        goto fail;
    do {
        if (store_audit_checkpoint_list(tx, tenant, after, 1000, &cps, &n, e) != 0)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            checkpoint_verify(tx, pub, cps[i], v->count, &good_after, v);
            v->checkpoints++;
            v->last_checkpoint = cps[i]->seq;
            after = cps[i]->seq;
        }
        audit_checkpoint_rec_list_free(cps, n);
    } while (n == 1000);
    store_rollback(tx);
    EVP_PKEY_free(pub);
    audit_key_rec_free(key);
    return 0;
fail:
    store_rollback(tx);
    EVP_PKEY_free(pub);
    audit_key_rec_free(key);
    return -1;
}

/* ---- reading the chain ------------------------------------------------------- */

int svc_audit_list(struct svc *s, const char *tenant, int64_t after, int limit,
                   struct audit_rec ***out, size_t *n, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_audit_list(tx, tenant, after, limit, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_audit_checkpoint_list(struct svc *s, const char *tenant, int64_t after, int limit,
                              struct audit_checkpoint_rec ***out, size_t *n, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_audit_checkpoint_list(tx, tenant, after, limit, out, n, e);
    store_rollback(tx);
    return rc;
}

/* ---- a tenant's own SIEM ------------------------------------------------------- */

/* A host name or address: letters, digits, '.', '-', ':' (IPv6), at most 253. */
static int host_ok(const char *h)
{
    size_t n = h ? strlen(h) : 0;

    if (n == 0 || n > 253 || h[0] == '-')
        return 0;
    return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") == n;
}

/* Whether text holds at least one PEM certificate. */
static int ca_pem_ok(const char *text)
{
    BIO *bio = BIO_new_mem_buf(text, -1);
    X509 *x;
    int n = 0;

    if (bio == NULL)
        abort();
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    ERR_clear_error();
    BIO_free(bio);
    return n > 0;
}

/* The target to store for t (strings borrowed from t), or -1 with e naming what is wrong. */
static int target_check(const struct audit_target_rec *t, struct audit_target_rec *out,
                        struct err *e)
{
    const char *transport = t->transport ? t->transport : "tls";

    if (!host_ok(t->host))
        return err_set(e, ERR_INVALID, "host: a host name or IP address");
    if (t->port == 0)
        return err_set(e, ERR_INVALID, "port: required");
    if (t->port < 0 || t->port > 65535)
        return err_set(e, ERR_INVALID, "port: must be an integer from 1 to 65535");
    if (strcmp(transport, "tcp") != 0 && strcmp(transport, "tls") != 0)
        return err_set(e, ERR_INVALID, "transport: tcp or tls");
    if (strcmp(transport, "tls") == 0 && (t->ca_pem == NULL || !ca_pem_ok(t->ca_pem)))
        return err_set(e, ERR_INVALID,
                       "ca_pem: the receiver's CA certificates (PEM), required with tls");
    *out = (struct audit_target_rec){.host = t->host,
                                     .port = t->port,
                                     .transport = (char *)transport,
                                     .ca_pem = strcmp(transport, "tcp") == 0 ? NULL : t->ca_pem,
                                     .created = time_now()};
    return 0;
}

static struct audit_target_rec *target_dup(const char *tenant, const struct audit_target_rec *t)
{
    struct audit_target_rec *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(tenant);
    c->host = xstrdup(t->host);
    c->port = t->port;
    c->transport = xstrdup(t->transport);
    c->ca_pem = t->ca_pem ? xstrdup(t->ca_pem) : NULL;
    c->created = t->created;
    return c;
}

int svc_audit_target_get(struct svc *s, const char *tenant, struct audit_target_rec **out,
                         struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_audit_target_get(tx, tenant, out, e);
    store_rollback(tx);
    return rc;
}

int svc_audit_target_put(struct svc *s, const struct actor *a, const char *tenant,
                         const struct audit_target_rec *in, struct audit_target_rec **out,
                         struct err *e)
{
    struct audit_target_rec t;
    struct store_tx *tx;
    char *detail;
    json_t *d;
    int rc = -1;

    if (target_check(in, &t, e) != 0)
        return -1;
    d = json_pack("{s:s, s:i, s:s}", "host", t.host, "port", t.port, "transport", t.transport);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    if ((tx = store_begin(s->store, e)) != NULL) {
        if (store_audit_target_put(tx, tenant, &t, e) == 0 &&
            store_audit_forward_set(tx, tenant, "tenant", 0, e) == 0 &&
            svc_audit_ok(tx, tenant, a, "audit.forwarding.set", t.host, detail, e) == 0)
            rc = store_commit(tx, e);
        else
            store_rollback(tx);
    }
    if (rc == 0)
        *out = target_dup(tenant, &t);
    free(detail);
    return rc;
}

int svc_audit_target_delete(struct svc *s, const struct actor *a, const char *tenant, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);

    if (tx == NULL)
        return -1;
    if (store_audit_target_delete(tx, tenant, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "audit.forwarding.delete", "", NULL, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}
