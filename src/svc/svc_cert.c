/*
 * svc_cert.c — issuance from CSRs, server-side key generation, renewal,
 * revocation, suspension and reinstatement.
 *
 * Issuance reads the CA, profile and entity in a read transaction, builds and
 * signs the certificate outside any transaction (signing goes to the signer),
 * then writes the record and its audit event in one write transaction.  The
 * certificate is returned only after that commit is durable.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "audit/audit.h"
#include "lib/log.h"
#include "lib/metrics.h"

/* What one issuance reads before it signs. */
struct issue_ctx {
    struct ca_rec *ca;
    X509 *ca_cert;
    struct profile *profile;
    int profile_version;
    int certs_per_hour; /* the tenant's quota, checked again where the record is written */
};

static void issue_ctx_clear(struct issue_ctx *c)
{
    ca_rec_free(c->ca);
    X509_free(c->ca_cert);
    profile_free(c->profile);
}

static int issue_load(struct svc *s, const char *tenant, const struct issue_params *p,
                      struct issue_ctx *c, struct err *e)
{
    struct store_tx *tx;
    struct entity_rec *ent = NULL;
    struct tenant_rec *t = NULL;
    int active, rc = -1;

    if (p->ca == NULL || p->profile == NULL)
        return err_set(e, ERR_INVALID, "%s: required", p->ca ? "profile" : "ca");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    /* One read transaction for all of it: each costs SQLite a lock and its page cache. */
    if (!p->internal) {
        if (store_tenant_get(tx, tenant, &t, e) != 0) {
            if (e != NULL && e->kind == ERR_NOT_FOUND)
                err_set(e, ERR_NOT_FOUND, "tenant %s not found", tenant);
            goto out;
        }
        active = strcmp(t->status, "active") == 0;
        rc = active ? svc_cert_quota(tx, t, e) : -1;
        c->certs_per_hour = t->certs_per_hour;
        tenant_rec_free(t);
        if (!active)
            err_set(e, ERR_FORBIDDEN, "tenant %s is not active: no issuance", tenant);
        if (rc != 0)
            goto out;
        rc = -1;
    }
    if (store_ca_get(tx, tenant, p->ca, &c->ca, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "ca: CA %s not found", p->ca);
        goto out;
    }
    if (strcmp(c->ca->status, "active") != 0) {
        err_set(e, ERR_CONFLICT, "ca: CA %s is %s", p->ca, c->ca->status);
        goto out;
    }
    if ((c->ca_cert = svc_ca_cert(s, c->ca, e)) == NULL)
        goto out;
    if ((c->profile = svc_profile_load(s, tx, tenant, p->profile, &c->profile_version, e)) == NULL)
        goto out;
    if (!profile_is_ca(c->profile) && p->ca_profile) {
        err_set(e, ERR_POLICY, "profile: %s is not a CA profile", p->profile);
        goto out;
    }
    if (profile_is_ca(c->profile) && !p->ca_profile) {
        err_set(e, ERR_POLICY, "profile: %s is a CA profile; create CAs with POST /cas",
                p->profile);
        goto out;
    }
    if (p->entity_id != NULL && store_entity_get(tx, tenant, p->entity_id, &ent, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "entity: %s not found", p->entity_id);
        goto out;
    }
    rc = 0;
out:
    entity_rec_free(ent);
    store_rollback(tx);
    return rc;
}

/* The webhook event of a certificate issued or changed, in tx (if the tenant has a webhook). */
static int cert_announce(struct svc *s, struct store_tx *tx, const char *tenant, const char *event,
                         const struct cert_rec *r, struct err *e)
{
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "serial", r->serial, "ca", r->ca, "profile",
                  r->profile ? r->profile : "", "subject", r->subject ? r->subject : "", "status",
                  r->status, "reason", r->reason >= 0 ? crl_reason_name(r->reason) : NULL);
    int rc = svc_webhook_enqueue(s, tx, tenant, event, d, e);

    json_decref(d);
    return rc;
}

struct issue_write {
    struct svc *s;
    const char *tenant;
    const struct actor *actor;
    const char *action;
    const struct cert_rec *rec;
    const char *detail;
    int certs_per_hour;
    const struct issue_params *p;
    int serial_clash; /* the record's serial was taken: worth another serial */
};

/* The hook of the operation (svc_door.c), in the record's transaction. */
static int hook_run(const struct svc_hook *hook, struct store_tx *tx, const struct cert_rec *r,
                    struct err *e)
{
    struct svc_made made = {.cert = r};

    return hook == NULL ? 0 : hook->fn(tx, hook->arg, &made, e);
}

/*
 * Inside the group-commit batch: the certificate record and its audit event.
 * The hourly quota is checked again here, where the certificates of the
 * batch before this one are already counted: issuances that passed the check
 * at their start together cannot overshoot it (the certificate was signed
 * but is never handed out).
 */
static int issue_write_fn(struct store_tx *tx, void *arg, struct err *e)
{
    struct issue_write *w = arg;
    struct tenant_rec quota = {.name = (char *)w->tenant, .certs_per_hour = w->certs_per_hour};

    if (w->rec->counted && svc_cert_quota(tx, &quota, e) != 0)
        return -1;
    if (store_cert_insert(tx, w->tenant, w->rec, e) != 0) {
        w->serial_clash = e != NULL && e->kind == ERR_CONFLICT;
        return -1;
    }
    if (svc_audit_ok(tx, w->tenant, w->actor, w->action, w->rec->serial, w->detail, e) != 0 ||
        (w->rec->counted &&
         cert_announce(w->s, tx, w->tenant, "certificate.issued", w->rec, e) != 0))
        return -1;
    return hook_run(w->p->hook, tx, w->rec, e);
}

/*
 * Stores r and its audit event; returns once the commit holding them is
 * durable.  *clash: it failed because r's serial was taken.
 */
static int issue_store(struct svc *s, const char *tenant, const struct actor *a, const char *action,
                       struct cert_rec *r, const struct issue_params *p, int certs_per_hour,
                       int *clash, struct err *e)
{
    struct issue_write w = {s, tenant, a, action, r, NULL, certs_per_hour, p, 0};
    json_t *d;
    char *detail;
    int rc;

    d = json_pack("{s:s, s:s, s:i, s:s}", "ca", r->ca, "profile", r->profile, "profile_version",
                  r->profile_version, "subject", r->subject ? r->subject : "");
    if (r->renewed_from)
        json_object_set_new(d, "renewed_from", json_string(r->renewed_from));
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    w.detail = detail;
    rc = writer_run(s->writer, issue_write_fn, &w, e);
    *clash = w.serial_clash;
    free(detail);
    return rc;
}

/*
 * Checks r against the profile, signs, stores.  A serial clash (ERR_CONFLICT from the
 * database) draws a new serial; anything else fails the issuance.
 */
static int issue_finish(struct svc *s, const struct actor *a, const char *tenant,
                        const struct issue_params *p, struct issue_ctx *c, struct issue_request *r,
                        const char *action, struct cert_rec **out, X509 **cert_out, struct err *e)
{
    struct ca_urls urls = {0};
    struct cert_rec rec;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc = -1, clash = 0;

    if (profile_check(c->profile, r, e) != 0)
        return -1;
    if ((key = svc_key(s, tenant, c->ca->key_id, e)) == NULL)
        return -1;
    svc_urls_fill(s, tenant, c->ca, &urls);
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
        X509_free(cert);
        cert = NULL;
        if (cert_build(c->profile, r, c->ca_cert, key, &urls, time_now(), &cert, e) != 0)
            break;
        svc_cert_rec_fill(&rec, tenant, c->ca->name, cert);
        rec.crl_shard = crl_shard_of(rec.serial, urls.crl_shards); /* as in its CDP */
        rec.counted = !p->internal;
        rec.profile = (char *)p->profile;
        rec.profile_version = c->profile_version;
        rec.entity_id = (char *)p->entity_id;
        rec.renewed_from = (char *)p->renewed_from;
        rec.requester = a != NULL ? (char *)a->principal : NULL;
        rc = issue_store(s, tenant, a, action, &rec, p, p->internal ? 0 : c->certs_per_hour, &clash,
                         e);
        if (rc == 0)
            *out = cert_rec_dup(&rec);
        free(rec.serial);
        free(rec.subject);
        free(rec.sans);
        OPENSSL_free(rec.der);
        if (rc != 0 && !clash) /* a serial clash draws another serial; nothing else does */
            break;
    }
    if (rc == 0) {
        const char *labels[] = {tenant, c->ca->name, p->profile};
        metrics_add(&metrics_certs_issued, 1, labels);
    }
    if (rc == 0 && cert_out != NULL) {
        *cert_out = cert;
        cert = NULL;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    svc_urls_free(&urls);
    return rc;
}

int svc_cert_issue(struct svc *s, const struct actor *a, const char *tenant,
                   const struct issue_params *p, const unsigned char *csr_data, size_t csr_len,
                   struct cert_rec **out, struct err *e)
{
    struct issue_ctx c = {0};
    struct issue_request r = {0};
    int rc = -1;

    if (p->validity_days < 0)
        return err_set(e, ERR_INVALID, "validity_days: must not be negative");
    if (issue_load(s, tenant, p, &c, e) != 0)
        goto out;
    if (cert_request_read(csr_data, csr_len, &r, e) != 0)
        goto out;
    r.validity_days = p->validity_days;
    rc = issue_finish(s, a, tenant, p, &c, &r, p->renewed_from ? "cert.renew" : "cert.issue", out,
                      NULL, e);
out:
    issue_request_clear(&r);
    issue_ctx_clear(&c);
    return rc;
}

int svc_cert_issue_check(struct svc *s, const char *tenant, const struct issue_params *p,
                         const unsigned char *csr_data, size_t csr_len, struct err *e)
{
    struct issue_ctx c = {0};
    struct issue_request r = {0};
    int rc = -1;

    if (issue_load(s, tenant, p, &c, e) != 0) {
        rc = -1;
    } else if (csr_data == NULL) {
        rc = 0;
    } else if (cert_request_read(csr_data, csr_len, &r, e) == 0) {
        r.validity_days = p->validity_days;
        rc = profile_check(c.profile, &r, e);
    }
    issue_request_clear(&r);
    issue_ctx_clear(&c);
    return rc;
}

int svc_issue_for_key(struct svc *s, const struct actor *a, const char *tenant,
                      const struct issue_params *p, X509_NAME *subject, EVP_PKEY *pub,
                      const char *action, struct cert_rec **out, X509 **cert, struct err *e)
{
    struct issue_ctx c = {0};
    struct issue_request r = {0};
    int rc = -1;

    if (issue_load(s, tenant, p, &c, e) == 0 && (r.subject = X509_NAME_dup(subject)) != NULL &&
        EVP_PKEY_up_ref(pub) == 1) {
        r.pubkey = pub;
        r.validity_days = p->validity_days;
        rc = issue_finish(s, a, tenant, p, &c, &r, action, out, cert, e);
    } else if (e != NULL && e->kind == ERR_NONE) {
        err_ossl(e, ERR_INTERNAL, "issue: out of memory");
    }
    issue_request_clear(&r);
    issue_ctx_clear(&c);
    return rc;
}

int svc_cert_issue_pubkey(struct svc *s, const struct actor *a, const char *tenant,
                          const struct issue_params *p, const char *subject, EVP_PKEY *pub,
                          struct cert_rec **out, X509 **cert, struct err *e)
{
    struct issue_request r = {0};
    int rc = -1;

    if (issue_request_from_json(&r, subject, NULL, e) == 0)
        rc = svc_issue_for_key(s, a, tenant, p, r.subject, pub, "cert.issue", out, cert, e);
    issue_request_clear(&r);
    return rc;
}

static int keygen_validate(const char *key_type, const char *password, struct err *e)
{
    if (key_type_parse(key_type ? key_type : "ec-p256") == KEY_NONE)
        return err_set(e, ERR_INVALID,
                       "key_type: one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519");
    if (password == NULL || strlen(password) < 8 || strlen(password) > 1024)
        return err_set(e, ERR_INVALID, "password: 8 to 1024 characters required");
    return 0;
}

int svc_cert_keygen(struct svc *s, const struct actor *a, const char *tenant,
                    const struct issue_params *p, const char *subject, const json_t *sans,
                    const char *key_type, const char *password, struct cert_rec **out,
                    unsigned char **p12, size_t *p12_len, struct err *e)
{
    struct issue_ctx c = {0};
    struct issue_request r = {0};
    STACK_OF(X509) *chain = NULL;
    uint64_t handle = 0;
    X509 *cert = NULL;
    struct cert_rec *rec = NULL;
    int rc = -1;

    if (keygen_validate(key_type, password, e) != 0)
        return -1;
    if (issue_load(s, tenant, p, &c, e) != 0)
        goto out;
    if (issue_request_from_json(&r, subject ? subject : "", (json_t *)sans, e) != 0)
        goto out;
    r.validity_days = p->validity_days;
    if (signer_ee_keygen(s->signer, tenant, key_type_parse(key_type ? key_type : "ec-p256"),
                         &handle, &r.pubkey, e) != 0)
        goto out;
    if (issue_finish(s, a, tenant, p, &c, &r, "cert.keygen", &rec, &cert, e) != 0)
        goto out;
    chain = sk_X509_new_null();
    sk_X509_push(chain, X509_dup(c.ca_cert));
    if (c.ca->chain_der != NULL && svc_der_chain(c.ca->chain_der, c.ca->chain_len, chain, e) != 0)
        goto out;
    if (signer_ee_pkcs12(s->signer, tenant, handle, password, cert, chain, p12, p12_len, e) != 0)
        goto out;
    *out = rec;
    rec = NULL;
    rc = 0;
out:
    cert_rec_free(rec);
    sk_X509_pop_free(chain, X509_free);
    X509_free(cert);
    issue_request_clear(&r);
    issue_ctx_clear(&c);
    return rc;
}

int svc_cert_keygen_pkcs8(struct svc *s, const struct actor *a, const char *tenant,
                          const struct issue_params *p, const unsigned char *csr, size_t csr_len,
                          struct cert_rec **out, unsigned char **p8, size_t *p8_len, struct err *e)
{
    struct issue_ctx c = {0};
    struct issue_request r = {0};
    enum key_type type;
    uint64_t handle = 0;
    X509 *cert = NULL;
    struct cert_rec *rec = NULL;
    int rc = -1;

    if (issue_load(s, tenant, p, &c, e) != 0 || csr_read(csr, csr_len, 0, &r, e) != 0)
        goto out;
    /* The CSR names the certificate and the key's type; the key is made by the signer. */
    type = key_type_of(r.pubkey);
    EVP_PKEY_free(r.pubkey);
    X509_ALGOR_free(r.spki_alg);
    OPENSSL_free(r.spki_bits);
    r.pubkey = NULL;
    r.spki_alg = NULL;
    r.spki_bits = NULL;
    r.spki_bits_len = 0;
    r.validity_days = p->validity_days;
    if (signer_ee_keygen(s->signer, tenant, type != KEY_NONE ? type : KEY_EC_P256, &handle,
                         &r.pubkey, e) != 0 ||
        issue_finish(s, a, tenant, p, &c, &r, "cert.keygen", &rec, &cert, e) != 0 ||
        signer_ee_pkcs8(s->signer, tenant, handle, cert, p8, p8_len, e) != 0)
        goto out;
    *out = rec;
    rec = NULL;
    rc = 0;
out:
    cert_rec_free(rec);
    X509_free(cert);
    issue_request_clear(&r);
    issue_ctx_clear(&c);
    return rc;
}

/* Subject, SANs and key of an issued certificate, for a same-key renewal. */
static int request_from_cert(struct issue_request *r, X509 *cert)
{
    r->subject = X509_NAME_dup(X509_get_subject_name(cert));
    r->sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    r->pubkey = X509_get_pubkey(cert);
    return r->subject && r->pubkey ? 0 : -1;
}

int svc_cert_renew(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                   const unsigned char *csr_data, size_t csr_len, const struct svc_hook *hook,
                   struct cert_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct cert_rec *old = NULL;
    struct issue_params p = {0};
    struct issue_ctx c = {0};
    struct issue_request r = {0};
    X509 *old_cert = NULL;
    int rc = -1;

    if (tx == NULL)
        return -1;
    rc = store_cert_get(tx, tenant, serial, &old, e);
    store_rollback(tx);
    if (rc != 0) {
        err_set(e, ERR_NOT_FOUND, "certificate %s not found", serial);
        return -1;
    }
    rc = -1;
    if (csr_data != NULL) {
        /* A new key: the same CA, profile and entity as before. */
        struct issue_params np = {.ca = old->ca,
                                  .profile = old->profile,
                                  .entity_id = old->entity_id,
                                  .renewed_from = old->serial,
                                  .hook = hook};
        rc = svc_cert_issue(s, a, tenant, &np, csr_data, csr_len, out, e);
        cert_rec_free(old);
        return rc;
    }
    p.ca = old->ca;
    p.profile = old->profile;
    p.entity_id = old->entity_id;
    p.renewed_from = old->serial;
    p.hook = hook;
    if (issue_load(s, tenant, &p, &c, e) != 0)
        goto out;
    if ((old_cert = svc_der_to_x509(old->der, old->der_len, e)) == NULL)
        goto out;
    if (request_from_cert(&r, old_cert) != 0) {
        err_set(e, ERR_INTERNAL, "certificate %s: cannot read subject or key", serial);
        goto out;
    }
    rc = issue_finish(s, a, tenant, &p, &c, &r, "cert.renew", out, NULL, e);
out:
    issue_request_clear(&r);
    issue_ctx_clear(&c);
    X509_free(old_cert);
    cert_rec_free(old);
    return rc;
}

/* One status change of one certificate, with its audit event. */
struct status_change {
    const char *action;
    const char *event;      /* the webhook's */
    const char *from_ok[2]; /* statuses the change applies to */
    const char *to;
    int reason;
    int64_t invalidity_date;
};

static int cert_change(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                       const struct status_change *ch, const struct svc_hook *hook,
                       struct cert_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct cert_rec *rec = NULL;
    int64_t now = time_now();
    char *detail;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_cert_get(tx, tenant, serial, &rec, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "certificate %s not found", serial);
        goto out;
    }
    if (!(strcmp(rec->status, ch->from_ok[0]) == 0 ||
          (ch->from_ok[1] && strcmp(rec->status, ch->from_ok[1]) == 0))) {
        err_set(e, ERR_CONFLICT, "certificate %s is %s", serial, rec->status);
        goto out;
    }
    rec->revoked_at = strcmp(ch->to, "good") == 0 ? 0 : now;
    rec->reason = strcmp(ch->to, "good") == 0 ? -1 : ch->reason;
    rec->invalidity_date = ch->invalidity_date;
    rec->status_changed = now;
    free(rec->status);
    rec->status = xstrdup(ch->to);
    detail = xasprintf("{\"reason\":\"%s\"}", ch->reason >= 0 ? crl_reason_name(ch->reason) : "");
    rc = store_cert_set_status(tx, tenant, serial, ch->to, rec->revoked_at, rec->reason,
                               rec->invalidity_date, now, e);
    if (rc == 0)
        rc = svc_audit_ok(tx, tenant, a, ch->action, serial, detail, e);
    if (rc == 0)
        rc = cert_announce(s, tx, tenant, ch->event, rec, e);
    if (rc == 0)
        rc = hook_run(hook, tx, rec, e);
    free(detail);
    if (rc == 0) {
        rc = store_commit(tx, e);
        tx = NULL;
    }
out:
    store_rollback(tx);
    if (rc == 0 && strcmp(ch->to, "revoked") == 0) {
        const char *labels[] = {tenant, rec->ca, rec->profile};
        metrics_add(&metrics_certs_revoked, 1, labels);
    }
    if (rc == 0) {
        /* The database dropped the old pre-signed response with the status. */
        svc_ocsp_refresh(s, tenant, serial);
        *out = rec;
    } else {
        cert_rec_free(rec);
    }
    return rc;
}

int svc_cert_revoke(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                    int reason, int64_t invalidity_date, const struct svc_hook *hook,
                    struct cert_rec **out, struct err *e)
{
    struct status_change ch = {"cert.revoke", "certificate.revoked", {"good", "hold"}, "revoked",
                               reason,        invalidity_date};

    if (reason < 0 || reason > 10 || reason == 7 || reason == REASON_REMOVE_FROM_CRL)
        return err_set(e, ERR_INVALID, "reason: not an RFC 5280 revocation reason");
    if (reason == REASON_CERTIFICATE_HOLD)
        return err_set(e, ERR_INVALID, "reason: certificateHold is done by suspend");
    if (invalidity_date < 0 || invalidity_date > time_now())
        return err_set(e, ERR_INVALID, "invalidity_date: must not be in the future");
    return cert_change(s, a, tenant, serial, &ch, hook, out, e);
}

int svc_cert_suspend(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                     const struct svc_hook *hook, struct cert_rec **out, struct err *e)
{
    struct status_change ch = {"cert.suspend", "certificate.suspended", {"good", NULL},
                               "hold",         REASON_CERTIFICATE_HOLD, 0};

    return cert_change(s, a, tenant, serial, &ch, hook, out, e);
}

int svc_cert_reinstate(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                       const struct svc_hook *hook, struct cert_rec **out, struct err *e)
{
    struct status_change ch = {
        "cert.reinstate", "certificate.reinstated", {"hold", NULL}, "good", -1, 0};

    return cert_change(s, a, tenant, serial, &ch, hook, out, e);
}

int svc_pem_append_certs(struct buf *b, const unsigned char *der, size_t len)
{
    const unsigned char *p = der, *end = der + len;

    while (p < end) {
        const unsigned char *start = p;
        long content;
        int tag, cls;
        char *pem;

        /* Only the outer SEQUENCE header is read, to find where each certificate ends. */
        if (ASN1_get_object(&p, &content, &tag, &cls, (long)(end - p)) & 0x80 || content > end - p)
            return -1;
        p += content;
        pem = svc_pem("CERTIFICATE", start, (size_t)(p - start));
        buf_append(b, pem, strlen(pem));
        free(pem);
    }
    return 0;
}

/*
 * An active CA's certificate and chain do not change, and every certificate
 * answer carries them: they are kept CHAIN_PEM_TTL seconds per node rather
 * than read and encoded again for each issuance.  Other CAs are read each time.
 */
#define CHAIN_PEM_TTL 5

static char *chain_cached(struct svc *s, const char *tenant, const char *ca)
{
    char *pem = NULL;

    pthread_mutex_lock(&s->lock);
    for (struct chain_pem_entry *c = s->chains; c != NULL; c = c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->ca, ca) == 0) {
            if (time_now() - c->fetched < CHAIN_PEM_TTL)
                pem = xstrdup(c->pem);
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return pem;
}

static void chain_keep(struct svc *s, const char *tenant, const char *ca, const char *pem)
{
    struct chain_pem_entry *c;

    pthread_mutex_lock(&s->lock);
    for (c = s->chains; c != NULL; c = c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->ca, ca) == 0)
            break;
    if (c == NULL) {
        c = xcalloc(1, sizeof(*c));
        c->tenant = xstrdup(tenant);
        c->ca = xstrdup(ca);
        c->next = s->chains;
        s->chains = c;
    }
    free(c->pem);
    c->pem = xstrdup(pem);
    c->fetched = time_now();
    pthread_mutex_unlock(&s->lock);
}

char *svc_chain_pem(struct svc *s, const char *tenant, const char *ca, struct err *e)
{
    struct store_tx *tx;
    struct ca_rec *rec = NULL;
    struct buf b = {0};
    char *pem;
    int rc;

    if ((pem = chain_cached(s, tenant, ca)) != NULL)
        return pem;
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return NULL;
    rc = store_ca_get(tx, tenant, ca, &rec, e);
    store_rollback(tx);
    if (rc != 0)
        return NULL;
    if ((rec->cert_der != NULL && svc_pem_append_certs(&b, rec->cert_der, rec->cert_len) != 0) ||
        (rec->chain_der != NULL && svc_pem_append_certs(&b, rec->chain_der, rec->chain_len) != 0)) {
        err_set(e, ERR_INTERNAL, "CA %s: stored certificates do not parse", ca);
        buf_free(&b);
        ca_rec_free(rec);
        return NULL;
    }
    buf_append(&b, "", 1);
    if (strcmp(rec->status, "active") == 0 && rec->cert_der != NULL)
        chain_keep(s, tenant, ca, (char *)b.data);
    ca_rec_free(rec);
    return (char *)b.data;
}

/* ---- expiry ------------------------------------------------------------------ */

#define EXPIRY_PAGE 1000

/* The audit event and webhook event of one certificate that expired, in tx. */
static int expired_one(struct svc *s, struct store_tx *tx, const char *tenant,
                       const struct cert_rec *r, struct err *e)
{
    static const struct actor scheduler = {.id = "scheduler"};
    json_t *d = json_pack("{s:s, s:s, s:s, s:I}", "ca", r->ca, "status", r->status, "subject",
                          r->subject ? r->subject : "", "not_after", (json_int_t)r->not_after);
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = svc_audit_ok(tx, tenant, &scheduler, "cert.expired", r->serial, detail, e) == 0 &&
                     cert_announce(s, tx, tenant, "certificate.expired", r, e) == 0
                 ? 0
                 : -1;

    free(detail);
    json_decref(d);
    return rc;
}

/*
 * Tenant's certificates whose notAfter fell in [its last scan, now): each an
 * event, with the new mark, in one transaction, so a scan that fails leaves
 * the mark where it was and no certificate is announced twice.  The first
 * scan only sets the mark: certificates that expired before are not
 * announced.  A scan that finds none leaves the mark (and writes nothing):
 * no certificate is issued with a notAfter in the past.  The number
 * announced, or -1.
 */
static int expiry_scan(struct svc *s, const char *tenant, int64_t now, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct cert_query q = {.expires_before = now, .limit = EXPIRY_PAGE};
    struct cert_rec **list = NULL;
    size_t n = 0;
    int64_t mark = 0;
    int count = 0, rc = 0;

    if (tx == NULL)
        return -1;
    if (store_audit_forward_get(tx, tenant, "cert-expiry", &mark, e) != 0)
        rc = -1;
    for (q.expires_after = mark; rc == 0 && mark > 0; q.offset += EXPIRY_PAGE) {
        if (store_cert_search(tx, tenant, &q, &list, &n, e) != 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (rc == 0 && expired_one(s, tx, tenant, list[i], e) != 0)
                rc = -1;
        count += (int)n;
        cert_rec_list_free(list, n);
        if (n < EXPIRY_PAGE)
            break;
    }
    if (rc == 0 && mark > 0 && count == 0) {
        store_rollback(tx); /* nothing expired: the mark may stay (no write) */
        return 0;
    }
    if (rc != 0 || store_audit_forward_set(tx, tenant, "cert-expiry", now, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e) == 0 ? count : -1;
}

int svc_cert_expiry_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    int64_t now = time_now();
    size_t n = 0;
    int total = 0, made;
    struct err te;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        /* One node scans a tenant at a time; the mark keeps scans from overlapping. */
        if (strcmp(list[i]->status, "deleted") != 0 && strcmp(list[i]->status, "purged") != 0 &&
            svc_lease(s, list[i]->name, "expiry", "scan", 60)) {
            if ((made = expiry_scan(s, list[i]->name, now, &te)) < 0)
                log_warn("tenant %s: certificate expiry: %s", list[i]->name, te.msg);
            else
                total += made;
        }
        tenant_rec_free(list[i]);
    }
    free(list);
    return total;
}

/* ---- reading ------------------------------------------------------------------ */

int svc_cert_get(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                 struct cert_rec **out, struct err *e)
{
    const char *own = svc_actor_own_only(a, "cert.read");
    struct store_tx *tx = store_begin_read(s->store, e);
    struct cert_rec *rec = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_cert_get(tx, tenant, serial, &rec, e);
    store_rollback(tx);
    if (rc == 0 && own != NULL && (rec->requester == NULL || strcmp(rec->requester, own) != 0)) {
        cert_rec_free(rec);
        rc = err_set(e, ERR_NOT_FOUND, "not found");
    }
    if (rc != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "certificate %s not found", serial);
        return -1;
    }
    *out = rec;
    return 0;
}

int svc_cert_search(struct svc *s, const struct actor *a, const char *tenant,
                    const struct cert_query *q, struct cert_rec ***out, size_t *n, struct err *e)
{
    struct cert_query mine = *q;
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    mine.requester = svc_actor_own_only(a, "cert.read");
    rc = store_cert_search(tx, tenant, &mine, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_cert_total(struct svc *s, const struct actor *a, const char *tenant,
                   const struct cert_query *q, int64_t *total, struct err *e)
{
    struct cert_query mine = *q;
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    mine.requester = svc_actor_own_only(a, "cert.read");
    rc = store_cert_total(tx, tenant, &mine, total, e);
    store_rollback(tx);
    return rc;
}
