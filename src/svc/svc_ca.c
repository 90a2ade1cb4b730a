/*
 * svc_ca.c — CA hierarchy: self-signed roots, intermediates signed by a CA of
 * the same tenant, CAs whose CSR goes to an outside CA, imported CAs, disable.
 *
 * A CA's key is made (or imported) in the signer first; if any later step
 * fails the key is deleted again, so no half-created CA is left behind.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "audit/audit.h"
#include "lib/log.h"

/* What the CA-creation steps share. */
struct ca_work {
    const struct ca_create *req;
    struct ca_rec *parent; /* NULL for a root */
    X509 *parent_cert;
    EVP_PKEY *parent_key;
    struct profile *profile;
    char *key_id;
    EVP_PKEY *pub;
    EVP_PKEY *key; /* remote key of the new CA */
};

static void ca_work_clear(struct ca_work *w)
{
    ca_rec_free(w->parent);
    X509_free(w->parent_cert);
    EVP_PKEY_free(w->parent_key);
    profile_free(w->profile);
    free(w->key_id);
    EVP_PKEY_free(w->pub);
    EVP_PKEY_free(w->key);
}

/* The profile document with basic_constraints.path_len replaced (if path_len >= 0). */
static struct profile *ca_profile(struct store_tx *tx, const char *tenant, const char *name,
                                  int path_len, struct err *e)
{
    struct profile_rec *rec = NULL;
    struct profile *p = NULL;
    json_t *doc, *bc;
    char *text;

    if (store_profile_get(tx, tenant, name, 0, &rec, e) != 0) {
        if (e && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "profile %s not found", name);
        return NULL;
    }
    doc = json_loads(rec->json, 0, NULL);
    if (doc != NULL && path_len >= 0) {
        bc = json_object_get(doc, "basic_constraints");
        if (json_is_object(bc))
            json_object_set_new(bc, "path_len", json_integer(path_len));
    }
    text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text != NULL)
        p = profile_parse(text, e);
    else
        err_set(e, ERR_INTERNAL, "stored profile %s is not JSON", name);
    free(text);
    json_decref(doc);
    profile_rec_free(rec);
    if (p != NULL && !profile_is_ca(p)) {
        profile_free(p);
        return err_set(e, ERR_POLICY, "profile: %s is not a CA profile", name), NULL;
    }
    return p;
}

static int ca_validate(const struct ca_create *req, struct err *e)
{
    if (!name_valid(req->name))
        return err_set(e, ERR_INVALID,
                       "name: 1-63 characters of a-z 0-9 - _ . starting with a letter or digit");
    if (req->subject == NULL)
        return err_set(e, ERR_INVALID, "subject: required");
    if (key_type_parse(req->key_type ? req->key_type : "ec-p256") == KEY_NONE)
        return err_set(e, ERR_INVALID,
                       "key_type: one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519");
    if (req->external && req->parent != NULL)
        return err_set(e, ERR_INVALID, "external: not with parent");
    if (req->validity_days < 0 || req->validity_days > 36500)
        return err_set(e, ERR_INVALID, "validity_days: 0 to 36500");
    if (req->crl_validity_hours < 0 || req->crl_validity_hours > 24 * 3650)
        return err_set(e, ERR_INVALID, "crl_validity_hours: 0 to 87600");
    if (req->crl_interval_minutes < 0 || req->crl_interval_minutes > 60 * 24 * 365)
        return err_set(e, ERR_INVALID, "crl_interval_minutes: 0 to 525600");
    if (req->ocsp_signer != NULL && strcmp(req->ocsp_signer, "delegated") != 0 &&
        strcmp(req->ocsp_signer, "ca") != 0)
        return err_set(e, ERR_INVALID, "ocsp_signer: \"delegated\" or \"ca\"");
    if (req->ocsp_validity_hours < 0 || req->ocsp_validity_hours > 24 * 365)
        return err_set(e, ERR_INVALID, "ocsp_validity_hours: 0 to 8760");
    if (req->crl_shards < 0 || req->crl_shards > CRL_SHARDS_MAX)
        return err_set(e, ERR_INVALID, "crl_shards: 0 to %d", CRL_SHARDS_MAX);
    if (req->delta_crl_interval_minutes < 0 || req->delta_crl_interval_minutes > 60 * 24 * 365)
        return err_set(e, ERR_INVALID, "delta_crl_interval_minutes: 0 to 525600");
    if (req->delta_crl_validity_hours < 0 || req->delta_crl_validity_hours > 24 * 3650)
        return err_set(e, ERR_INVALID, "delta_crl_validity_hours: 0 to 87600");
    return 0;
}

/* Reads what creation needs: the tenant is active, the name is free, the parent and profile. */
static int ca_prepare(struct svc *s, const char *tenant, struct ca_work *w, struct err *e)
{
    const struct ca_create *req = w->req;
    const char *profile = req->profile ? req->profile : (req->parent ? "sub-ca" : "root-ca");
    struct store_tx *tx;
    struct ca_rec *existing = NULL;
    int rc = -1, active = 0;

    if (svc_tenant_check(s, tenant, &active, e) != 0)
        return -1;
    if (!active)
        return err_set(e, ERR_FORBIDDEN, "tenant %s is not active: no new CAs", tenant);
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    if (store_ca_get(tx, tenant, req->name, &existing, NULL) == 0) {
        err_set(e, ERR_CONFLICT, "CA %s exists", req->name);
        goto out;
    }
    if (req->parent != NULL) {
        if (store_ca_get(tx, tenant, req->parent, &w->parent, e) != 0) {
            err_set(e, ERR_NOT_FOUND, "parent: CA %s not found", req->parent);
            goto out;
        }
        if (strcmp(w->parent->status, "active") != 0) {
            err_set(e, ERR_CONFLICT, "parent: CA %s is %s", req->parent, w->parent->status);
            goto out;
        }
        w->parent_cert = svc_der_to_x509(w->parent->cert_der, w->parent->cert_len, e);
        if (w->parent_cert == NULL)
            goto out;
    }
    w->profile = ca_profile(tx, tenant, profile, req->path_len, e);
    rc = w->profile ? 0 : -1;
out:
    ca_rec_free(existing);
    store_rollback(tx);
    return rc;
}

/* Signs the new CA's certificate (by its parent, or by itself for a root). */
static X509 *ca_sign(struct svc *s, const char *tenant, struct ca_work *w, X509_NAME *subject,
                     struct err *e)
{
    struct issue_request r = {0};
    struct ca_urls urls = {0};
    EVP_PKEY *signing = w->key;
    X509 *cert = NULL;

    r.subject = X509_NAME_dup(subject);
    r.pubkey = w->pub;
    EVP_PKEY_up_ref(w->pub);
    r.validity_days = w->req->validity_days;
    if (profile_check(w->profile, &r, e) != 0)
        goto out;
    if (w->parent != NULL) {
        w->parent_key = svc_key(s, tenant, w->parent->key_id, e);
        if (w->parent_key == NULL)
            goto out;
        signing = w->parent_key;
        svc_urls_fill(s, tenant, w->parent, &urls);
    }
    cert_build(w->profile, &r, w->parent_cert, signing, w->parent ? &urls : NULL, time_now(), &cert,
               e);
out:
    svc_urls_free(&urls);
    issue_request_clear(&r);
    return cert;
}

static void der_append_x509(struct buf *b, X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);

    if (len > 0)
        buf_append(b, der, (size_t)len);
    OPENSSL_free(der);
}

static char *ca_options(const struct ca_create *req)
{
    json_t *o = json_object();
    char *text;

    if (req->crl_validity_hours > 0)
        json_object_set_new(o, "crl_validity_hours", json_integer(req->crl_validity_hours));
    if (req->crl_interval_minutes > 0)
        json_object_set_new(o, "crl_interval_minutes", json_integer(req->crl_interval_minutes));
    if (req->ocsp_signer != NULL)
        json_object_set_new(o, "ocsp_signer", json_string(req->ocsp_signer));
    if (req->ocsp_validity_hours > 0)
        json_object_set_new(o, "ocsp_validity_hours", json_integer(req->ocsp_validity_hours));
    if (req->crl_shards > 1)
        json_object_set_new(o, "crl_shards", json_integer(req->crl_shards));
    if (req->delta_crl_interval_minutes > 0)
        json_object_set_new(o, "delta_crl_interval_minutes",
                            json_integer(req->delta_crl_interval_minutes));
    if (req->delta_crl_validity_hours > 0)
        json_object_set_new(o, "delta_crl_validity_hours",
                            json_integer(req->delta_crl_validity_hours));
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

static void ca_rec_set_cert(struct ca_rec *r, X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);

    free(r->cert_der);
    r->cert_der = xmalloc(len > 0 ? (size_t)len : 1);
    memcpy(r->cert_der, der, len > 0 ? (size_t)len : 0);
    r->cert_len = len > 0 ? (size_t)len : 0;
    OPENSSL_free(der);
    free(r->subject);
    r->subject = name_oneline(X509_get_subject_name(cert));
    asn1_time_to_epoch(X509_get0_notBefore(cert), &r->not_before);
    asn1_time_to_epoch(X509_get0_notAfter(cert), &r->not_after);
}

/* Writes the CA record, its certificate record at the parent (if any) and the audit event. */
static int ca_store(struct svc *s, const char *tenant, const struct actor *a, struct ca_work *w,
                    struct ca_rec *rec, X509 *cert, const struct svc_hook *hook, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct cert_rec cr;
    char *detail;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_ca_insert(tx, tenant, rec, e) != 0) {
        if (e && e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "CA %s exists, or key %s is another CA's", rec->name,
                    rec->key_id);
        goto out;
    }
    if (cert != NULL && w->parent != NULL) {
        svc_cert_rec_fill(&cr, tenant, w->parent->name, cert);
        cr.crl_shard = crl_shard_of(cr.serial, svc_ca_crl_shards(w->parent));
        cr.profile = w->req->profile ? (char *)w->req->profile : "sub-ca";
        cr.profile_version = 0;
        rc = store_cert_insert(tx, tenant, &cr, e);
        free(cr.serial);
        free(cr.subject);
        free(cr.sans);
        OPENSSL_free(cr.der);
        if (rc != 0)
            goto out;
        rc = -1;
    }
    detail = xasprintf("{\"key_type\":\"%s\",\"status\":\"%s\",\"parent\":\"%s\"}", rec->key_type,
                       rec->status, rec->parent ? rec->parent : "");
    rc = svc_audit_ok(tx, tenant, a, "ca.create", rec->name, detail, e);
    free(detail);
    if (rc == 0 && hook != NULL) {
        struct svc_made made = {.ca = rec};
        rc = hook->fn(tx, hook->arg, &made, e);
    }
out:
    if (rc != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

/*
 * Publishes the first CRL of a CA that just became active, so its CDP URL
 * answers at once.  Best effort: the CA exists either way, and the scheduler
 * publishes any CA that has no CRL.
 */
static void ca_first_crl(struct svc *s, const struct actor *a, const char *tenant, const char *name)
{
    struct crl_rec *crl = NULL;
    struct err e;

    /* The CRL first: loading the CA into the OCSP responder may make its delegated
       responder (a key and a certificate), and meanwhile the scheduler would publish the
       CA's first CRL itself, making this one number 2. */
    if (svc_crl_generate(s, a, tenant, name, &crl, &e) != 0)
        log_warn("tenant %s: first CRL of CA %s: %s", tenant, name, e.msg);
    crl_rec_free(crl);
    svc_ocsp_ca_changed(s, tenant);
}

/*
 * Takes the existing key req->key_id of tenant for the new CA (a key
 * ceremony: the key was generated first): no other CA may use it, and its
 * type must be the one asked for, if one was.  The key is not the CA's to
 * delete if creation fails.
 */
static int ca_existing_key(struct svc *s, const char *tenant, struct ca_work *w, struct err *e)
{
    const char *want = w->req->key_type;
    enum key_type t;

    if (svc_key_in_use(s, tenant, w->req->key_id, e) != 0)
        return -1;
    if ((w->key = svc_key(s, tenant, w->req->key_id, e)) == NULL) {
        if (e && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "key_id: tenant has no key %s", w->req->key_id);
        return -1;
    }
    /* From now on the key signs only as a CA (a key bound to another purpose: 409). */
    if (signer_bind(s->signer, tenant, w->req->key_id, KEY_PURPOSE_CA, e) != 0)
        return -1;
    t = key_type_of(w->key);
    if (want != NULL && key_type_parse(want) != t)
        return err_set(e, ERR_POLICY, "key_id: key %s is %s, not %s", w->req->key_id,
                       key_type_name(t), want);
    w->key_id = xstrdup(w->req->key_id);
    { /* an ordinary public key: OpenSSL's CSR and certificate code wants one */
        unsigned char *der = NULL;
        const unsigned char *p;
        int n = i2d_PUBKEY(w->key, &der);

        p = der;
        w->pub = n > 0 ? d2i_PUBKEY(NULL, &p, n) : NULL;
        OPENSSL_free(der);
    }
    if (w->pub == NULL)
        return err_ossl(e, ERR_INTERNAL, "key_id: public key of %s unreadable", w->req->key_id);
    return 0;
}

int svc_ca_create_check(const struct ca_create *req, struct err *e)
{
    X509_NAME *subject = NULL;

    if (ca_validate(req, e) != 0 || (subject = name_parse(req->subject, e)) == NULL)
        return -1;
    X509_NAME_free(subject);
    return 0;
}

int svc_ca_create(struct svc *s, const struct actor *a, const char *tenant,
                  const struct ca_create *req, const struct svc_hook *hook, struct ca_rec **out,
                  struct err *e)
{
    struct ca_work w = {.req = req};
    struct ca_rec rec = {0};
    X509_NAME *subject = NULL;
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    struct buf chain = {0};
    const char *key_type = req->key_type ? req->key_type : "ec-p256";
    int rc = -1, owned = 0;

    if (ca_validate(req, e) != 0 || (subject = name_parse(req->subject, e)) == NULL)
        return -1;
    if (ca_prepare(s, tenant, &w, e) != 0)
        goto out;
    if (req->key_id != NULL) {
        if (ca_existing_key(s, tenant, &w, e) != 0)
            goto out;
        key_type = key_type_name(key_type_of(w.key));
    } else {
        if (signer_keygen_for(s->signer, tenant, key_type_parse(key_type), KEY_PURPOSE_CA,
                              &w.key_id, &w.pub, e) != 0)
            goto out;
        owned = 1;
        if ((w.key = svc_key(s, tenant, w.key_id, e)) == NULL)
            goto out;
    }

    rec.tenant = (char *)tenant;
    rec.name = (char *)req->name;
    rec.parent = (char *)req->parent;
    rec.key_id = w.key_id;
    rec.key_type = (char *)key_type;
    rec.options_json = ca_options(req);
    rec.created = time_now();
    if (req->external) {
        if ((csr = csr_build(subject, w.pub, w.key, e)) == NULL)
            goto out;
        rec.status = "pending";
        rec.subject = name_oneline(subject);
        rec.csr_len = (size_t)i2d_X509_REQ(csr, &rec.csr_der);
    } else {
        if ((cert = ca_sign(s, tenant, &w, subject, e)) == NULL)
            goto out;
        rec.status = "active";
        ca_rec_set_cert(&rec, cert);
        if (w.parent != NULL) {
            der_append_x509(&chain, w.parent_cert);
            if (w.parent->chain_der != NULL)
                buf_append(&chain, w.parent->chain_der, w.parent->chain_len);
            rec.chain_der = chain.data;
            rec.chain_len = chain.len;
        }
    }
    if (ca_store(s, tenant, a, &w, &rec, cert, hook, e) != 0)
        goto out;
    *out = ca_rec_dup(&rec);
    rc = 0;
    if (!req->external)
        ca_first_crl(s, a, tenant, req->name);
out:
    if (rc != 0 && owned && signer_delete(s->signer, tenant, w.key_id, NULL) != 0)
        log_warn("tenant %s: could not delete key %s of failed CA %s", tenant, w.key_id, req->name);
    free(rec.options_json);
    free(rec.subject);
    free(rec.cert_der);
    OPENSSL_free(rec.csr_der);
    buf_free(&chain);
    X509_free(cert);
    X509_REQ_free(csr);
    X509_NAME_free(subject);
    ca_work_clear(&w);
    return rc;
}

/* Checks that cert is a CA certificate for pub, and (if given) signed by chain[0]. */
static int ca_cert_check(X509 *cert, EVP_PKEY *pub, STACK_OF(X509) * chain, struct err *e)
{
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1)
        return err_set(e, ERR_INVALID, "certificate: does not match the CA's key");
    if (X509_check_ca(cert) == 0)
        return err_set(e, ERR_INVALID, "certificate: not a CA certificate");
    if (chain != NULL && sk_X509_num(chain) > 0 &&
        X509_verify(cert, X509_get0_pubkey(sk_X509_value(chain, 0))) != 1)
        return err_set(e, ERR_INVALID,
                       "chain: the first certificate did not sign the CA certificate");
    return 0;
}

static void chain_to_der(STACK_OF(X509) * chain, int from, struct buf *b)
{
    for (int i = from; chain != NULL && i < sk_X509_num(chain); i++)
        der_append_x509(b, sk_X509_value(chain, i));
}

int svc_ca_import_cert(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                       const unsigned char *cert_der, size_t cert_len, STACK_OF(X509) * chain,
                       struct ca_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct ca_rec *rec = NULL;
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    struct buf cb = {0};
    const unsigned char *p;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_ca_get(tx, tenant, name, &rec, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "CA %s not found", name);
        goto out;
    }
    if (strcmp(rec->status, "pending") != 0) {
        err_set(e, ERR_CONFLICT, "CA %s is %s, not pending", name, rec->status);
        goto out;
    }
    p = cert_der;
    if ((cert = d2i_X509(NULL, &p, (long)cert_len)) == NULL) {
        err_ossl(e, ERR_INVALID, "certificate: does not parse");
        goto out;
    }
    p = rec->csr_der;
    csr = d2i_X509_REQ(NULL, &p, (long)rec->csr_len);
    if (csr == NULL || ca_cert_check(cert, X509_REQ_get0_pubkey(csr), chain, e) != 0)
        goto out;
    ca_rec_set_cert(rec, cert);
    chain_to_der(chain, 0, &cb);
    free(rec->chain_der);
    rec->chain_der = cb.data;
    rec->chain_len = cb.len;
    cb.data = NULL;
    free(rec->status);
    rec->status = xstrdup("active");
    if (store_ca_update(tx, tenant, rec, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "ca.import_certificate", name, NULL, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    if (rc == 0) {
        ca_first_crl(s, a, tenant, name);
        *out = rec;
    } else {
        ca_rec_free(rec);
    }
    X509_free(cert);
    X509_REQ_free(csr);
    buf_free(&cb);
    return rc;
}

/* A CA imported with its key is a CA created: refused while ca.create waits for approval. */
static int import_allowed(struct svc *s, const char *tenant, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = svc_workflow_refuses(tx, tenant, "ca.create",
                              "a CA imported with its key cannot wait in a request (the key would "
                              "have to); make it in vouch (POST /cas, or with key_id after a key "
                              "ceremony), which waits for approval",
                              e);
    store_rollback(tx);
    return rc;
}

int svc_ca_import(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                  enum signer_import_format format, const unsigned char *blob, size_t len,
                  const char *password, X509 *cert, STACK_OF(X509) * chain, struct ca_rec **out,
                  struct err *e)
{
    struct ca_create req = {.name = name, .subject = "/CN=import", .profile = "root-ca"};
    struct ca_work w = {.req = &req};
    STACK_OF(X509) *certs = NULL;
    struct ca_rec rec = {0};
    struct buf cb = {0};
    X509 *leaf = cert;
    int rc = -1;

    if (ca_validate(&req, e) != 0 || import_allowed(s, tenant, e) != 0 ||
        ca_prepare(s, tenant, &w, e) != 0)
        goto out;
    if (signer_import(s->signer, tenant, format, blob, len, password, &w.key_id, &w.pub, &certs,
                      e) != 0)
        goto out;
    if (signer_bind(s->signer, tenant, w.key_id, KEY_PURPOSE_CA, e) != 0)
        goto out;
    if (format == SIGNER_IMPORT_PKCS12) {
        if (certs == NULL || sk_X509_num(certs) == 0) {
            err_set(e, ERR_INVALID, "pkcs12: holds no certificate");
            goto out;
        }
        leaf = sk_X509_value(certs, 0);
        chain = certs;
        chain_to_der(chain, 1, &cb);
    } else {
        chain_to_der(chain, 0, &cb);
    }
    if (leaf == NULL) {
        err_set(e, ERR_INVALID, "certificate: required");
        goto out;
    }
    if (ca_cert_check(leaf, w.pub, NULL, e) != 0)
        goto out;
    rec.tenant = (char *)tenant;
    rec.name = (char *)name;
    rec.key_id = w.key_id;
    rec.key_type = (char *)key_type_name(key_type_of(w.pub));
    rec.status = "active";
    rec.options_json = "{}";
    rec.created = time_now();
    rec.chain_der = cb.data;
    rec.chain_len = cb.len;
    ca_rec_set_cert(&rec, leaf);
    if (ca_store(s, tenant, a, &w, &rec, NULL, NULL, e) != 0)
        goto out;
    *out = ca_rec_dup(&rec);
    rc = 0;
    ca_first_crl(s, a, tenant, name);
out:
    if (rc != 0 && w.key_id != NULL)
        signer_delete(s->signer, tenant, w.key_id, NULL);
    free(rec.subject);
    free(rec.cert_der);
    buf_free(&cb);
    sk_X509_pop_free(certs, X509_free);
    ca_work_clear(&w);
    return rc;
}

int svc_ca_disable(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                   struct ca_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct ca_rec *rec = NULL;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_ca_get(tx, tenant, name, &rec, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "CA %s not found", name);
        goto out;
    }
    if (strcmp(rec->status, "disabled") == 0) {
        err_set(e, ERR_CONFLICT, "CA %s is already disabled", name);
        goto out;
    }
    free(rec->status);
    rec->status = xstrdup("disabled");
    if (store_ca_update(tx, tenant, rec, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "ca.disable", name, NULL, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    if (rc == 0)
        *out = rec;
    else
        ca_rec_free(rec);
    return rc;
}

/* ---- reading CAs --------------------------------------------------------- */

int svc_ca_get(struct svc *s, const char *tenant, const char *name, struct ca_rec **out,
               struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!name_valid(tenant) || !name_valid(name))
        return err_set(e, ERR_NOT_FOUND, "CA %s not found", name ? name : "");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_ca_get(tx, tenant, name, out, e);
    store_rollback(tx);
    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "CA %s not found", name);
    return rc;
}

int svc_ca_list(struct svc *s, const char *tenant, struct ca_rec ***out, size_t *n, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_ca_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}
