/*
 * svc_key.c — a tenant's keys in the signer's store, for operators and key
 * ceremonies: list (with the CA each key serves), generate, delete.  A key a
 * CA uses cannot be deleted; every change is audited in the tenant's chain.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "audit/audit.h"
#include "lib/log.h"

void svc_key_list_free(struct svc_key_info *keys, int n)
{
    for (int i = 0; i < n; i++) {
        free(keys[i].key_id);
        free(keys[i].key_type);
        free(keys[i].ca);
    }
    free(keys);
}

/* The name of tenant's CA that uses key_id (caller frees), NULL if none; -1 on a store error. */
static int key_ca(struct svc *s, const char *tenant, const char *key_id, char **ca, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct ca_rec **list = NULL;
    size_t n = 0;

    *ca = NULL;
    if (tx == NULL)
        return -1;
    if (store_ca_list(tx, tenant, &list, &n, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    for (size_t i = 0; i < n; i++) {
        if (*ca == NULL && strcmp(list[i]->key_id, key_id) == 0)
            *ca = xstrdup(list[i]->name);
        ca_rec_free(list[i]);
    }
    free(list);
    return 0;
}

/* Whether key_id is the key tenant's webhook secret is derived from (-1 on a read error). */
static int webhook_is_key(struct svc *s, const char *tenant, const char *key_id, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct webhook_rec *w = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_webhook_get(tx, tenant, &w, e);
    store_rollback(tx);
    if (rc != 0)
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    rc = w->key_id != NULL && strcmp(w->key_id, key_id) == 0;
    webhook_rec_free(w);
    return rc;
}

int svc_key_in_use(struct svc *s, const char *tenant, const char *key_id, struct err *e)
{
    char *ca = NULL;
    int hook;

    if (svc_audit_is_key(s, tenant, key_id))
        return err_set(e, ERR_CONFLICT, "key %s is the tenant's audit key", key_id);
    if ((hook = webhook_is_key(s, tenant, key_id, e)) != 0)
        return hook < 0
                   ? -1
                   : err_set(e, ERR_CONFLICT,
                             "key %s is the key the tenant's webhook secret comes from", key_id);
    if ((hook = svc_acme_eab_key_in_use(s, tenant, key_id, e)) != 0)
        return hook < 0 ? -1
                        : err_set(e, ERR_CONFLICT,
                                  "key %s is the key the tenant's ACME EAB keys come from", key_id);
    if (key_ca(s, tenant, key_id, &ca, e) != 0)
        return -1;
    if (ca != NULL) {
        err_set(e, ERR_CONFLICT, "key %s is the key of CA %s", key_id, ca);
        free(ca);
        return -1;
    }
    return 0;
}

int svc_key_list(struct svc *s, const char *tenant, struct svc_key_info **out, int *n,
                 struct err *e)
{
    struct signer_key_info *keys = NULL;
    struct svc_key_info *r;
    int count = 0;

    if (signer_key_list(s->signer, tenant, &keys, &count, e) != 0)
        return -1;
    r = xcalloc((size_t)count + 1, sizeof(*r));
    for (int i = 0; i < count; i++) {
        r[i].key_id = keys[i].key_id;
        r[i].key_type = keys[i].key_type;
        keys[i].key_id = keys[i].key_type = NULL;
        if (key_ca(s, tenant, r[i].key_id, &r[i].ca, e) != 0) {
            signer_key_list_free(keys, count);
            svc_key_list_free(r, count);
            return -1;
        }
    }
    signer_key_list_free(keys, count);
    *out = r;
    *n = count;
    return 0;
}

/* The PEM SubjectPublicKeyInfo of pub (caller frees); NULL on failure. */
static char *pubkey_pem(EVP_PKEY *pub)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *pem = NULL;
    long n;

    if (bio != NULL && PEM_write_bio_PUBKEY(bio, pub) == 1 &&
        (n = BIO_get_mem_data(bio, &data)) > 0)
        pem = xstrndup(data, (size_t)n);
    BIO_free(bio);
    return pem;
}

int svc_key_generate(struct svc *s, const struct actor *a, const char *tenant, const char *key_type,
                     struct svc_key_info *out, char **pub_pem, struct err *e)
{
    enum key_type t = key_type_parse(key_type ? key_type : "ec-p256");
    struct audit_event ev = {
        .actor = a && a->id ? a->id : "system", .action = "key.generate", .result = "ok"};
    EVP_PKEY *pub = NULL;
    char *id = NULL, *detail;
    int rc;

    if (t == KEY_NONE)
        return err_set(e, ERR_INVALID,
                       "key_type: one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519");
    if (signer_keygen(s->signer, tenant, t, &id, &pub, e) != 0)
        return -1;
    detail = xasprintf("{\"key_type\":\"%s\"}", key_type_name(t));
    ev.object = id;
    ev.detail = detail;
    rc = audit_record(s->store, tenant, &ev, e);
    free(detail);
    if (rc != 0) { /* no key without its event */
        if (signer_delete(s->signer, tenant, id, NULL) != 0)
            log_warn("tenant %s: could not delete unaudited key %s", tenant, id);
        free(id);
        EVP_PKEY_free(pub);
        return -1;
    }
    out->key_id = id;
    out->key_type = xstrdup(key_type_name(t));
    out->ca = NULL;
    *pub_pem = pubkey_pem(pub);
    EVP_PKEY_free(pub);
    return 0;
}

int svc_key_delete(struct svc *s, const struct actor *a, const char *tenant, const char *key_id,
                   struct err *e)
{
    struct audit_event ev = {.actor = a && a->id ? a->id : "system",
                             .action = "key.delete",
                             .object = key_id,
                             .result = "ok"};

    if (svc_key_in_use(s, tenant, key_id, e) != 0 ||
        signer_delete(s->signer, tenant, key_id, e) != 0)
        return -1;
    if (audit_record(s->store, tenant, &ev, e) != 0)
        log_error("tenant %s: key %s deleted but not audited: %s", tenant, key_id, e->msg);
    return 0;
}
