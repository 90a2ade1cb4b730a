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
        free(keys[i].users);
        free(keys[i].purpose);
    }
    free(keys);
}

/* The name of tenant's CA that uses key_id (caller frees), NULL if none; -1 on a store error. */
/* Adds user to users[key_id] (an object of arrays). */
static void user_add(json_t *users, const char *key_id, const char *fmt, const char *name)
{
    json_t *list;
    char *u;

    if (key_id == NULL || key_id[0] == '\0')
        return;
    if ((list = json_object_get(users, key_id)) == NULL) {
        list = json_array();
        json_object_set_new(users, key_id, list);
    }
    u = xasprintf(fmt, name);
    json_array_append_new(list, json_string(u));
    free(u);
}

/*
 * Who uses each key of tenant, in one read: {"key-...": ["ca:root",
 * "ocsp-responder:root", "tsa:unit", "webhook", "acme-eab:endpoint", "audit"]}
 * (*out, a new object).
 */
/* A SCEP endpoint's RA key (its settings' "ra", svc_scep.c) as "scep-ra:<endpoint>". */
static void enroll_ra_user_add(json_t *users, const struct enroll_endpoint_rec *ep)
{
    json_t *o = json_loads(ep->settings, 0, NULL);
    const char *key_id = json_string_value(json_object_get(json_object_get(o, "ra"), "key_id"));

    if (key_id != NULL)
        user_add(users, key_id, "scep-ra:%s", ep->name);
    json_decref(o);
}

static int key_users(struct svc *s, const char *tenant, json_t **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    json_t *users = json_object();
    struct ca_rec **cas = NULL;
    struct tsa_unit_rec **units = NULL;
    struct acme_eab_rec **eabs = NULL;
    struct cmp_secret_rec **secrets = NULL;
    struct cmp_endpoint_rec **cmps = NULL;
    struct enroll_endpoint_rec **enrolls = NULL;
    struct ocsp_responder_rec *r = NULL;
    struct webhook_rec *w = NULL;
    struct audit_key_rec *ak = NULL;
    size_t ncas = 0, nunits = 0, neabs = 0, nsecrets = 0, ncmps = 0, nenrolls = 0;
    struct err ae;
    int rc = -1;

    if (tx == NULL) {
        json_decref(users);
        return -1;
    }
    if (store_ca_list(tx, tenant, &cas, &ncas, e) != 0 ||
        store_tsa_unit_list(tx, tenant, &units, &nunits, e) != 0 ||
        store_acme_eab_list(tx, tenant, NULL, &eabs, &neabs, e) != 0 ||
        store_cmp_secret_list(tx, tenant, NULL, &secrets, &nsecrets, e) != 0 ||
        store_cmp_endpoint_list(tx, tenant, &cmps, &ncmps, e) != 0 ||
        store_enroll_endpoint_list(tx, tenant, &enrolls, &nenrolls, e) != 0)
        goto out;
    for (size_t i = 0; i < ncas; i++) {
        user_add(users, cas[i]->key_id, "ca:%s", cas[i]->name);
        if (store_ocsp_responder_get(tx, tenant, cas[i]->name, &r, e) == 0)
            user_add(users, r->key_id, "ocsp-responder:%s", cas[i]->name);
        else if (e->kind != ERR_NOT_FOUND)
            goto out;
        ocsp_responder_rec_free(r);
        r = NULL;
    }
    for (size_t i = 0; i < nunits; i++)
        user_add(users, units[i]->key_id, "tsa:%s", units[i]->name);
    for (size_t i = 0; i < neabs; i++)
        user_add(users, eabs[i]->key_id, "acme-eab:%s", eabs[i]->endpoint);
    for (size_t i = 0; i < nsecrets; i++)
        user_add(users, secrets[i]->key_id, "cmp-secret:%s", secrets[i]->endpoint);
    for (size_t i = 0; i < ncmps; i++)
        user_add(users, cmps[i]->key_id, "cmp-protection:%s", cmps[i]->name);
    for (size_t i = 0; i < nenrolls; i++)
        enroll_ra_user_add(users, enrolls[i]);
    if (store_webhook_get(tx, tenant, &w, e) == 0)
        user_add(users, w->key_id, "%s", "webhook");
    else if (e->kind != ERR_NOT_FOUND)
        goto out;
    rc = 0;
out:
    store_rollback(tx);
    if (rc == 0 && svc_audit_key(s, tenant, 0, &ak, &ae) == 0)
        user_add(users, ak->key_id, "%s", "audit");
    audit_key_rec_free(ak);
    webhook_rec_free(w);
    for (size_t i = 0; i < ncas; i++)
        ca_rec_free(cas[i]);
    free(cas);
    tsa_unit_rec_list_free(units, nunits);
    acme_eab_rec_list_free(eabs, neabs);
    cmp_secret_rec_list_free(secrets, nsecrets);
    cmp_endpoint_rec_list_free(cmps, ncmps);
    enroll_endpoint_rec_list_free(enrolls, nenrolls);
    if (rc == 0)
        *out = users;
    else
        json_decref(users);
    return rc;
}

/* A JSON array's strings joined with ", " (caller frees). */
static char *users_text(const json_t *list)
{
    char *text = xstrdup(""), *next;
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
    {
        next = xasprintf("%s%s%s", text, i ? ", " : "", json_string_value(v));
        free(text);
        text = next;
    }
    return text;
}

int svc_key_in_use(struct svc *s, const char *tenant, const char *key_id, struct err *e)
{
    json_t *users = NULL, *list;
    char *text;
    int rc = 0;

    if (key_users(s, tenant, &users, e) != 0)
        return -1;
    if ((list = json_object_get(users, key_id)) != NULL) {
        text = users_text(list);
        rc = err_set(e, ERR_CONFLICT, "key %s is in use by %s", key_id, text);
        free(text);
    }
    json_decref(users);
    return rc;
}

/* The purpose a key's users give it (keys.h); KEY_PURPOSE_NONE if they disagree. */
static enum key_purpose users_purpose(const json_t *list)
{
    static const struct {
        const char *prefix;
        enum key_purpose purpose;
    } map[] = {
        {"ca:", KEY_PURPOSE_CA},
        {"ocsp-responder:", KEY_PURPOSE_OCSP},
        {"tsa:", KEY_PURPOSE_TSA},
        {"acme-eab:", KEY_PURPOSE_EAB},
        {"webhook", KEY_PURPOSE_WEBHOOK},
        {"audit", KEY_PURPOSE_AUDIT},
        {"cmp-secret:", KEY_PURPOSE_CMP_SECRET},
        {"cmp-protection:", KEY_PURPOSE_RA},
        {"scep-ra:", KEY_PURPOSE_RA},
    };
    enum key_purpose p = KEY_PURPOSE_NONE;
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
    {
        enum key_purpose this = KEY_PURPOSE_NONE;
        for (size_t j = 0; j < ARRAY_LEN(map); j++)
            if (strncmp(json_string_value(v), map[j].prefix, strlen(map[j].prefix)) == 0)
                this = map[j].purpose;
        if (this == KEY_PURPOSE_NONE || (p != KEY_PURPOSE_NONE && p != this))
            return KEY_PURPOSE_NONE;
        p = this;
    }
    return p;
}

int svc_keys_bind(struct svc *s, const char *tenant, struct err *e)
{
    json_t *users = NULL, *list;
    const char *key_id;
    int bound = 0;

    if (key_users(s, tenant, &users, e) != 0)
        return -1;
    json_object_foreach(users, key_id, list)
    {
        enum key_purpose p = users_purpose(list);
        struct err be;
        if (p == KEY_PURPOSE_NONE) {
            char *text = users_text(list);
            log_warn("keys: tenant %s key %s has users of different purposes (%s): left unbound",
                     tenant, key_id, text);
            free(text);
        } else if (signer_bind(s->signer, tenant, key_id, p, &be) == 0)
            bound++;
        else if (be.kind != ERR_NOT_FOUND) /* a key gone from the store is /readyz's business */
            log_warn("keys: tenant %s key %s: %s", tenant, key_id, be.msg);
    }
    json_decref(users);
    return bound;
}

int svc_keys_bind_all(struct svc *s, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tenant_rec **tenants = NULL;
    size_t n = 0;
    int bound = 0, rc = 0;

    if (tx == NULL)
        return -1;
    rc = store_tenant_list(tx, &tenants, &n, e);
    store_rollback(tx);
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct err te;
        int b =
            strcmp(tenants[i]->status, "purged") == 0 ? 0 : svc_keys_bind(s, tenants[i]->name, &te);
        if (b < 0)
            log_warn("keys: tenant %s: keys not bound: %s", tenants[i]->name, te.msg);
        else
            bound += b;
        tenant_rec_free(tenants[i]);
    }
    free(tenants);
    return bound;
}

int svc_key_list(struct svc *s, const char *tenant, struct svc_key_info **out, int *n,
                 struct err *e)
{
    struct signer_key_info *keys = NULL;
    struct svc_key_info *r;
    json_t *users = NULL, *list;
    size_t j;
    json_t *v;
    int count = 0;

    if (key_users(s, tenant, &users, e) != 0)
        return -1;
    if (signer_key_list(s->signer, tenant, &keys, &count, e) != 0) {
        json_decref(users);
        return -1;
    }
    r = xcalloc((size_t)count + 1, sizeof(*r));
    for (int i = 0; i < count; i++) {
        r[i].key_id = keys[i].key_id;
        r[i].key_type = keys[i].key_type;
        r[i].purpose = keys[i].purpose;
        keys[i].key_id = keys[i].key_type = keys[i].purpose = NULL;
        list = json_object_get(users, r[i].key_id);
        r[i].users = list ? json_dumps(list, JSON_COMPACT) : xstrdup("[]");
        json_array_foreach(list, j, v) if (strncmp(json_string_value(v), "ca:", 3) == 0 &&
                                           r[i].ca == NULL) r[i]
            .ca = xstrdup(json_string_value(v) + 3);
    }
    signer_key_list_free(keys, count);
    json_decref(users);
    *out = r;
    *n = count;
    return 0;
}

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
