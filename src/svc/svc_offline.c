/*
 * svc_offline.c — the offline CA's transfer by file (issue 8; docs/offline.md).
 *
 * The online side asks (svc_offline_request: a pending CA's CSR, and a CSR
 * for the root's delegated OCSP responder whose key stays online), the
 * offline side signs (svc_offline_sign) and answers with a bundle of one CA's
 * records signed by that CA's key (svc_offline_export), and the online side
 * imports it (svc_offline_import): verified first, then written in one
 * transaction with its audit events.
 *
 * A bundle is a JSON object {format, payload, digest, signature}: payload the
 * base64 of a JSON document (tenant, source, seq, signer CA, its certificate
 * records, its latest CRL, responders, the offline audit chain), digest the
 * DER of an OfflineBundle (keys/tbs.h: tenant, seq, SHA-256 of the payload,
 * time), signature the signer CA's signature over digest.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "keys/tbs.h"
#include "lib/log.h"

#define BUNDLE_FORMAT  "vouch-offline-bundle/1"
#define REQUEST_FORMAT "vouch-offline-request/1"
#define ZERO_HASH      "0000000000000000000000000000000000000000000000000000000000000000"
#define PAGE           1000

/* ---- small helpers ------------------------------------------------------ */

static json_t *json_b64(const unsigned char *der, size_t len)
{
    char *b = base64_encode(der, len);
    json_t *j = json_string(b);

    free(b);
    return j;
}

/* The bytes of base64 member key of o (caller frees); NULL if absent or not base64. */
static unsigned char *json_get_b64(const json_t *o, const char *key, size_t *len)
{
    const char *t = json_string_value(json_object_get(o, key));

    return t != NULL ? base64_decode(t, len) : NULL;
}

static const char *json_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t json_int(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

static X509 *der_x509(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = der != NULL ? d2i_X509(NULL, &p, (long)len) : NULL;

    if (x != NULL && p != der + len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* Lowercase hex SHA-256 of a certificate's DER, the fingerprint operators pin; caller frees. */
char *svc_offline_fingerprint(const unsigned char *der, size_t len)
{
    unsigned char md[32];

    SHA256(der, len, md);
    return hex_encode(md, sizeof(md));
}

/* A pin as typed ("AB:CD..." or "abcd...") normalised to lowercase hex; caller frees. */
static char *pin_normalise(const char *pin)
{
    char *out = xmalloc(strlen(pin) + 1), *o = out;

    for (const char *p = pin; *p; p++)
        if (*p != ':' && *p != ' ')
            *o++ = (char)((*p >= 'A' && *p <= 'F') ? *p - 'A' + 'a' : *p);
    *o = '\0';
    return out;
}

/* ---- the online side asks ------------------------------------------------ */

/* A CSR for root's delegated responder, for a new key in the signer: {ca, key_id, csr}. */
static json_t *responder_request(struct svc *s, const char *tenant, const char *root, char **key_id,
                                 struct err *e)
{
    char *subject_text = xasprintf("/CN=%s OCSP responder", root);
    X509_NAME *subject = name_parse(subject_text, e);
    EVP_PKEY *pub = NULL, *key = NULL;
    X509_REQ *csr = NULL;
    unsigned char *der = NULL;
    json_t *out = NULL;
    int len;

    free(subject_text);
    if (subject == NULL ||
        signer_keygen_for(s->signer, tenant, key_type_parse(s->ocsp_responder_key_type),
                          KEY_PURPOSE_OCSP, key_id, &pub, e) != 0)
        goto out;
    if ((key = svc_key(s, tenant, *key_id, e)) == NULL ||
        (csr = csr_build(subject, pub, key, e)) == NULL)
        goto out;
    if ((len = i2d_X509_REQ(csr, &der)) <= 0) {
        err_ossl(e, ERR_INTERNAL, "responder CSR: cannot encode");
        goto out;
    }
    {
        char *pem = svc_pem("CERTIFICATE REQUEST", der, (size_t)len);
        out = json_pack("{s:s, s:s, s:s}", "ca", root, "key_id", *key_id, "csr", pem);
        free(pem);
    }
out:
    OPENSSL_free(der);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
    X509_NAME_free(subject);
    return out;
}

int svc_offline_request(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                        const char *root, char **out, struct err *e)
{
    struct store_tx *tx = NULL;
    struct ca_rec *rec = NULL;
    char *key_id = NULL, *pem = NULL, *detail = NULL;
    json_t *req = NULL, *responder = NULL;
    int rc = -1;

    if (root != NULL && !name_valid(root))
        return err_set(e, ERR_INVALID, "root: not a CA name");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    if (store_ca_get(tx, tenant, ca, &rec, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "CA %s not found", ca);
        goto out;
    }
    store_rollback(tx);
    tx = NULL;
    if (strcmp(rec->status, "pending") != 0 || rec->csr_der == NULL) {
        err_set(e, ERR_CONFLICT, "CA %s is %s: only a pending CA's CSR goes offline", ca,
                rec->status);
        goto out;
    }
    pem = svc_pem("CERTIFICATE REQUEST", rec->csr_der, rec->csr_len);
    req = json_pack("{s:s, s:s, s:s, s:s}", "format", REQUEST_FORMAT, "tenant", tenant, "ca", ca,
                    "csr", pem);
    if (root != NULL) {
        if ((responder = responder_request(s, tenant, root, &key_id, e)) == NULL)
            goto out;
        json_object_set_new(req, "root", json_string(root));
        json_object_set_new(req, "responder", responder);
    }
    detail = xasprintf("{\"root\":\"%s\",\"responder_key\":\"%s\"}", root ? root : "",
                       key_id ? key_id : "");
    if ((tx = store_begin(s->store, e)) == NULL ||
        svc_audit_ok(tx, tenant, a, "offline.request", ca, detail, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0)
        *out = json_dumps(req, JSON_INDENT(2) | JSON_SORT_KEYS);
out:
    store_rollback(tx);
    if (rc != 0 && key_id != NULL)
        signer_delete(s->signer, tenant, key_id, NULL);
    json_decref(req);
    ca_rec_free(rec);
    free(key_id);
    free(pem);
    free(detail);
    return rc;
}

/* ---- the offline side signs ------------------------------------------------ */

int svc_offline_sign(struct svc *s, const struct actor *a, const char *tenant, const char *root,
                     const char *request, const char *profile, long validity_days,
                     long responder_days, json_t **responders, struct err *e)
{
    json_t *req = json_loads(request, 0, NULL), *resp;
    const char *csr, *rcsr;
    struct cert_rec *sub = NULL, *resp_cert = NULL;
    int rc = -1;

    if (req == NULL || json_str(req, "format") == NULL ||
        strcmp(json_str(req, "format"), REQUEST_FORMAT) != 0 ||
        (csr = json_str(req, "csr")) == NULL)
        return json_decref(req),
               err_set(e, ERR_INVALID, "request: not a %s document (truncated?)", REQUEST_FORMAT);
    if (json_str(req, "tenant") == NULL || strcmp(json_str(req, "tenant"), tenant) != 0) {
        err_set(e, ERR_FORBIDDEN, "request: for tenant %s, not %s",
                json_str(req, "tenant") ? json_str(req, "tenant") : "(none)", tenant);
        goto out;
    }
    if (json_str(req, "root") != NULL && strcmp(json_str(req, "root"), root) != 0) {
        err_set(e, ERR_CONFLICT, "request: for root %s, this offline CA is %s",
                json_str(req, "root"), root);
        goto out;
    }
    {
        struct issue_params p = {.ca = root,
                                 .profile = profile ? profile : "sub-ca",
                                 .validity_days = validity_days,
                                 .ca_profile = 1};
        if (svc_cert_issue(s, a, tenant, &p, (const unsigned char *)csr, strlen(csr), &sub, e) != 0)
            goto out;
    }
    *responders = json_array();
    resp = json_object_get(req, "responder");
    if (json_is_object(resp) && (rcsr = json_str(resp, "csr")) != NULL) {
        struct issue_params p = {
            .ca = root, .profile = SVC_OFFLINE_RESPONDER_PROFILE, .validity_days = responder_days};
        if (svc_cert_issue(s, a, tenant, &p, (const unsigned char *)rcsr, strlen(rcsr), &resp_cert,
                           e) != 0) {
            json_decref(*responders);
            *responders = NULL;
            goto out;
        }
        json_array_append_new(*responders,
                              json_pack("{s:s, s:s?, s:s}", "ca", root, "key_id",
                                        json_str(resp, "key_id"), "serial", resp_cert->serial));
    }
    log_info("offline: tenant %s: %s signed the certificate %s of CA %s", tenant, root, sub->serial,
             json_str(req, "ca") ? json_str(req, "ca") : "?");
    rc = 0;
out:
    cert_rec_free(sub);
    cert_rec_free(resp_cert);
    json_decref(req);
    return rc;
}

/* ---- the offline side answers: a signed bundle ------------------------------ */

static json_t *cert_to_json(const struct cert_rec *r)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s?, s:i, s:s?, s:s, s:I, s:I, s:i, s:I, s:s?, s:I, s:I}", "serial", r->serial,
        "ca", r->ca, "profile", r->profile, "profile_version", r->profile_version, "entity_id",
        r->entity_id, "status", r->status, "revoked_at", (json_int_t)r->revoked_at,
        "invalidity_date", (json_int_t)r->invalidity_date, "reason", r->reason, "status_changed",
        (json_int_t)r->status_changed, "renewed_from", r->renewed_from, "created",
        (json_int_t)r->created, "crl_shard", (json_int_t)r->crl_shard);

    json_object_set_new(o, "der", json_b64(r->der, r->der_len));
    return o;
}

/* Every certificate record of ca, as JSON. */
static int certs_json(struct store_tx *tx, const char *tenant, const char *ca, json_t *arr,
                      struct err *e)
{
    for (int offset = 0;; offset += PAGE) {
        struct cert_query q = {.ca = ca, .limit = PAGE, .offset = offset};
        struct cert_rec **list = NULL;
        size_t n = 0;

        if (store_cert_search(tx, tenant, &q, &list, &n, e) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, cert_to_json(list[i]));
        cert_rec_list_free(list, n);
        if (n < PAGE)
            return 0;
    }
}

/* The whole audit chain of tenant, as JSON rows with every hashed field. */
static int audit_json(struct store_tx *tx, const char *tenant, json_t *arr, struct err *e)
{
    int64_t after = 0;

    for (;;) {
        struct audit_rec **list = NULL;
        size_t n = 0;

        if (store_audit_list(tx, tenant, after, PAGE, &list, &n, e) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            struct audit_rec *r = list[i];
            json_array_append_new(
                arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
                               (json_int_t)r->seq, "time", (json_int_t)r->time, "actor", r->actor,
                               "action", r->action, "object", r->object, "result", r->result,
                               "detail", r->detail, "prev_hash", r->prev_hash, "hash", r->hash));
            after = r->seq;
        }
        audit_rec_list_free(list, n);
        if (n < PAGE)
            return 0;
    }
}

/* The payload of a bundle of CA rec's records (the audit event of the export included). */
static json_t *payload_build(struct store_tx *tx, const char *tenant, const struct ca_rec *rec,
                             const char *source, int64_t seq, const json_t *responders,
                             struct err *e)
{
    json_t *p = json_pack("{s:s, s:s, s:I, s:I}", "tenant", tenant, "source", source, "seq",
                          (json_int_t)seq, "created", (json_int_t)time_now());
    json_t *signer = json_pack("{s:s}", "ca", rec->name);
    json_t *certs = json_array(), *crls = json_array(), *audit = json_array();
    struct crl_rec *crl = NULL;

    json_object_set_new(signer, "cert", json_b64(rec->cert_der, rec->cert_len));
    json_object_set_new(signer, "chain", json_b64(rec->chain_der, rec->chain_len));
    json_object_set_new(p, "signer", signer);
    json_object_set_new(p, "certs", certs);
    json_object_set_new(p, "crls", crls);
    json_object_set_new(p, "audit", audit);
    json_object_set_new(p, "responders", responders ? json_deep_copy(responders) : json_array());
    if (certs_json(tx, tenant, rec->name, certs, e) != 0 || audit_json(tx, tenant, audit, e) != 0)
        return json_decref(p), NULL;
    if (store_crl_latest(tx, tenant, rec->name, &crl, e) == 0) {
        json_t *c =
            json_pack("{s:I, s:I, s:I}", "number", (json_int_t)crl->number, "this_update",
                      (json_int_t)crl->this_update, "next_update", (json_int_t)crl->next_update);
        json_object_set_new(c, "der", json_b64(crl->der, crl->der_len));
        json_array_append_new(crls, c);
        crl_rec_free(crl);
    } else if (e->kind != ERR_NOT_FOUND) {
        return json_decref(p), NULL;
    }
    return p;
}

/* Signs payload text for tenant with the key of rec: the bundle's JSON text (caller frees). */
static char *bundle_seal(struct svc *s, const char *tenant, const struct ca_rec *rec, int64_t seq,
                         const char *payload, struct err *e)
{
    unsigned char hash[32], *der = NULL, *sig = NULL;
    size_t der_len = 0, sig_len = 0;
    json_t *b = NULL;
    char *out = NULL;

    SHA256((const unsigned char *)payload, strlen(payload), hash);
    if (tbs_bundle_encode(tenant, seq, hash, time_now(), &der, &der_len) != 0) {
        err_ossl(e, ERR_INTERNAL, "bundle: cannot encode its digest");
        return NULL;
    }
    if (svc_sign_der(s, tenant, rec->key_id, der, der_len, &sig, &sig_len, e) == 0) {
        b = json_pack("{s:s}", "format", BUNDLE_FORMAT);
        json_object_set_new(b, "payload",
                            json_b64((const unsigned char *)payload, strlen(payload)));
        json_object_set_new(b, "digest", json_b64(der, der_len));
        json_object_set_new(b, "signature", json_b64(sig, sig_len));
        out = json_dumps(b, JSON_INDENT(2) | JSON_SORT_KEYS);
    }
    json_decref(b);
    OPENSSL_free(der);
    free(sig);
    return out;
}

int svc_offline_export(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                       const char *source, const json_t *responders, char **out, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct ca_rec *rec = NULL;
    json_t *payload = NULL;
    char *text = NULL, *detail = NULL, *bundle = NULL;
    int64_t seq = 0;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_ca_get(tx, tenant, ca, &rec, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "CA %s not found", ca);
        goto out;
    }
    if (rec->cert_der == NULL || rec->key_id == NULL || rec->key_id[0] == '\0') {
        err_set(e, ERR_CONFLICT, "CA %s has no certificate or key here", ca);
        goto out;
    }
    /* The bundle sequence of this store: one counter row, next to the SIEM positions. */
    if (store_audit_forward_get(tx, tenant, "offline-bundle", &seq, e) != 0 ||
        store_audit_forward_set(tx, tenant, "offline-bundle", ++seq, e) != 0)
        goto out;
    detail = xasprintf("{\"seq\":%lld,\"source\":\"%s\"}", (long long)seq, source);
    if (svc_audit_ok(tx, tenant, a, "offline.export", ca, detail, e) != 0 ||
        (payload = payload_build(tx, tenant, rec, source, seq, responders, e)) == NULL)
        goto out;
    text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    if ((bundle = bundle_seal(s, tenant, rec, seq, text, e)) == NULL)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
    if (rc == 0) {
        *out = bundle;
        bundle = NULL;
    }
out:
    store_rollback(tx);
    ca_rec_free(rec);
    json_decref(payload);
    free(text);
    free(detail);
    free(bundle);
    return rc;
}

/* ---- the online side imports ------------------------------------------------- */

struct bundle {
    json_t *payload;
    char *digest_hex; /* SHA-256 of the payload */
    char *tenant;
    int64_t seq;
    const char *source, *ca; /* in payload */
    unsigned char *cert_der, *chain_der;
    size_t cert_len, chain_len;
    X509 *cert; /* the signer CA's certificate */
};

static void bundle_clear(struct bundle *b)
{
    json_decref(b->payload);
    free(b->digest_hex);
    free(b->tenant);
    free(b->cert_der);
    free(b->chain_der);
    X509_free(b->cert);
}

static int signature_ok(X509 *cert, const unsigned char *der, size_t len, const unsigned char *sig,
                        size_t sig_len)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const EVP_MD *digest = key_type_of(pub) == KEY_ED25519 ? NULL : EVP_sha256();
    int ok = md != NULL && pub != NULL && EVP_DigestVerifyInit(md, NULL, digest, NULL, pub) == 1 &&
             EVP_DigestVerify(md, sig, sig_len, der, len) == 1;

    EVP_MD_CTX_free(md);
    return ok;
}

/* Decodes and verifies a bundle's envelope for tenant: digest, signature, payload. */
static int bundle_open(const char *text, size_t len, const char *tenant, struct bundle *b,
                       struct err *e)
{
    json_t *outer = json_loadb(text, len, 0, NULL);
    unsigned char *payload = NULL, *der = NULL, *sig = NULL, hash[32], want[32];
    size_t payload_len = 0, der_len = 0, sig_len = 0;
    int64_t when = 0;
    int rc = -1;

    if (outer == NULL || json_str(outer, "format") == NULL ||
        strcmp(json_str(outer, "format"), BUNDLE_FORMAT) != 0 ||
        (payload = json_get_b64(outer, "payload", &payload_len)) == NULL ||
        (der = json_get_b64(outer, "digest", &der_len)) == NULL ||
        (sig = json_get_b64(outer, "signature", &sig_len)) == NULL) {
        err_set(e, ERR_INVALID, "bundle: not a %s document (truncated?)", BUNDLE_FORMAT);
        goto out;
    }
    if (tbs_bundle_decode(der, der_len, &b->tenant, &b->seq, want, &when) != 0) {
        err_set(e, ERR_INVALID, "bundle: its digest is not an OfflineBundle structure");
        goto out;
    }
    SHA256(payload, payload_len, hash);
    if (memcmp(hash, want, 32) != 0) {
        err_set(e, ERR_INVALID,
                "bundle: the payload does not match its signed digest (tampered or truncated)");
        goto out;
    }
    if (strcmp(b->tenant, tenant) != 0) {
        err_set(e, ERR_FORBIDDEN, "bundle: it is for tenant %s, not %s", b->tenant, tenant);
        goto out;
    }
    b->digest_hex = hex_encode(hash, 32);
    b->payload = json_loadb((const char *)payload, payload_len, 0, NULL);
    b->source = json_str(b->payload, "source");
    b->ca = json_str(json_object_get(b->payload, "signer"), "ca");
    b->cert_der = json_get_b64(json_object_get(b->payload, "signer"), "cert", &b->cert_len);
    b->chain_der = json_get_b64(json_object_get(b->payload, "signer"), "chain", &b->chain_len);
    if (b->payload == NULL || b->source == NULL || b->ca == NULL || !name_valid(b->ca) ||
        json_str(b->payload, "tenant") == NULL ||
        strcmp(json_str(b->payload, "tenant"), b->tenant) != 0 ||
        json_int(b->payload, "seq") != b->seq ||
        (b->cert = der_x509(b->cert_der, b->cert_len)) == NULL) {
        err_set(e, ERR_INVALID, "bundle: its payload is not a bundle of one CA");
        goto out;
    }
    if (!signature_ok(b->cert, der, der_len, sig, sig_len)) {
        err_set(e, ERR_INVALID, "bundle: the signature does not verify with CA %s's certificate",
                b->ca);
        goto out;
    }
    rc = 0;
out:
    json_decref(outer);
    free(payload);
    free(der);
    free(sig);
    return rc;
}

int svc_offline_bundle_check(const char *text, size_t len, const char *tenant, struct err *e)
{
    struct bundle b = {0};
    int rc = bundle_open(text, len, tenant, &b, e);

    bundle_clear(&b);
    return rc;
}

/*
 * Whether the tenant trusts the bundle's signer: a CA of the tenant with the
 * very certificate (*ca set), or a self-signed root not seen before whose
 * SHA-256 fingerprint the operator pinned (*ca NULL: to be created).
 */
static int bundle_trust(struct store_tx *tx, const char *tenant, const struct bundle *b,
                        const char *pin, struct ca_rec **ca, struct err *e)
{
    char *fpr, *want;
    int rc;

    if (store_ca_get(tx, tenant, b->ca, ca, e) == 0) {
        if ((*ca)->cert_der == NULL || (*ca)->cert_len != b->cert_len ||
            memcmp((*ca)->cert_der, b->cert_der, b->cert_len) != 0)
            return err_set(e, ERR_INVALID,
                           "bundle: signed as CA %s, but not with the certificate the tenant "
                           "has for it",
                           b->ca);
        return 0;
    }
    if (e->kind != ERR_NOT_FOUND)
        return -1;
    *ca = NULL;
    if (X509_check_issued(b->cert, b->cert) != X509_V_OK ||
        X509_verify(b->cert, X509_get0_pubkey(b->cert)) != 1 || X509_check_ca(b->cert) == 0)
        return err_set(e, ERR_INVALID,
                       "bundle: signed by CA %s, which the tenant does not have and which is not "
                       "a self-signed root",
                       b->ca);
    fpr = svc_offline_fingerprint(b->cert_der, b->cert_len);
    if (pin == NULL) {
        rc = err_set(e, ERR_INVALID,
                     "bundle: root %s is new to this tenant: pin its SHA-256 fingerprint %s "
                     "(compare it with the ceremony's record)",
                     b->ca, fpr);
    } else {
        want = pin_normalise(pin);
        rc = strcmp(want, fpr) == 0
                 ? 0
                 : err_set(e, ERR_INVALID, "bundle: root %s has fingerprint %s, not the pinned %s",
                           b->ca, fpr, want);
        free(want);
    }
    free(fpr);
    return rc;
}

/* What an import did, for its answer and its audit event. */
struct import_work {
    struct svc *s;
    struct store_tx *tx;
    const char *tenant;
    const struct actor *a;
    struct bundle *b;
    int new_root;
    int offline_ca; /* the signer is an offline CA (its CRLs come from bundles) */
    json_t *added, *updated, *activated, *responders, *crl;
    int64_t audit_seq;
    char *audit_head;
    int64_t audit_appended;
};

static int root_create(struct import_work *w, struct err *e)
{
    struct ca_rec r = {0};
    int rc;

    r.tenant = (char *)w->tenant;
    r.name = (char *)w->b->ca;
    r.key_id = ""; /* the key is offline */
    r.key_type = (char *)key_type_name(key_type_of(X509_get0_pubkey(w->b->cert)));
    r.status = "offline";
    r.subject = name_oneline(X509_get_subject_name(w->b->cert));
    r.cert_der = w->b->cert_der;
    r.cert_len = w->b->cert_len;
    r.options_json = "{\"offline\":true,\"ocsp_signer\":\"delegated\"}"; /* no key here */
    asn1_time_to_epoch(X509_get0_notBefore(w->b->cert), &r.not_before);
    asn1_time_to_epoch(X509_get0_notAfter(w->b->cert), &r.not_after);
    r.created = time_now();
    rc = store_ca_insert(w->tx, w->tenant, &r, e);
    free(r.subject);
    return rc;
}

/* One certificate record of the bundle: new, a newer status, the same, or a clash. */
static int import_cert(struct import_work *w, const json_t *j, struct err *e)
{
    size_t len = 0;
    unsigned char *der = json_get_b64(j, "der", &len);
    X509 *cert = der_x509(der, len);
    struct cert_rec r, *old = NULL;
    const char *status = json_str(j, "status");
    int rc = -1;

    memset(&r, 0, sizeof(r));
    if (cert == NULL || status == NULL ||
        (strcmp(status, "good") != 0 && strcmp(status, "revoked") != 0 &&
         strcmp(status, "hold") != 0)) {
        err_set(e, ERR_INVALID, "bundle: a certificate record does not parse");
        goto out;
    }
    if (X509_check_issued(w->b->cert, cert) != X509_V_OK ||
        X509_verify(cert, X509_get0_pubkey(w->b->cert)) != 1) {
        err_set(e, ERR_INVALID, "bundle: certificate %s was not issued by CA %s",
                json_str(j, "serial") ? json_str(j, "serial") : "?", w->b->ca);
        goto out;
    }
    svc_cert_rec_fill(&r, w->tenant, w->b->ca, cert);
    if (store_cert_get(w->tx, w->tenant, r.serial, &old, e) == 0) {
        if (old->der_len != r.der_len || memcmp(old->der, r.der, r.der_len) != 0 ||
            strcmp(old->ca, r.ca) != 0) {
            err_set(e, ERR_CONFLICT,
                    "bundle: duplicate serial %s: the tenant has another certificate with it",
                    r.serial);
            goto out;
        }
        /* A status is taken only when it changed later offline than here. */
        if (json_int(j, "status_changed") > old->status_changed &&
            strcmp(old->status, status) != 0) {
            if (store_cert_set_status(w->tx, w->tenant, r.serial, status, json_int(j, "revoked_at"),
                                      (int)json_int(j, "reason"), json_int(j, "invalidity_date"),
                                      json_int(j, "status_changed"), e) != 0)
                goto out;
            json_array_append_new(w->updated, json_string(r.serial));
        }
        rc = 0;
        goto out;
    }
    if (e->kind != ERR_NOT_FOUND)
        goto out;
    r.profile = (char *)json_str(j, "profile");
    r.profile_version = (int)json_int(j, "profile_version");
    r.entity_id = NULL; /* end entities of the offline store are not known here */
    r.renewed_from = (char *)json_str(j, "renewed_from");
    r.status = (char *)status;
    r.revoked_at = json_int(j, "revoked_at");
    r.reason = (int)json_int(j, "reason");
    r.invalidity_date = json_int(j, "invalidity_date");
    r.status_changed = json_int(j, "status_changed");
    r.crl_shard = (int)json_int(j, "crl_shard");
    r.created = json_int(j, "created");
    if ((rc = store_cert_insert(w->tx, w->tenant, &r, e)) != 0) {
        if (e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "bundle: duplicate serial %s", r.serial);
        goto out;
    }
    json_array_append_new(w->added, json_string(r.serial));
out:
    cert_rec_free(old);
    free(r.serial);
    free(r.subject);
    free(r.sans);
    OPENSSL_free(r.der);
    X509_free(cert);
    free(der);
    return rc;
}

/* The offline CA's CRL, if newer than the one served. */
static int import_crl(struct import_work *w, const json_t *j, struct err *e)
{
    size_t len = 0;
    unsigned char *der = json_get_b64(j, "der", &len);
    const unsigned char *p = der;
    X509_CRL *crl = der ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
    struct crl_rec r = {0}, *latest = NULL;
    int rc = -1;

    if (crl == NULL || X509_CRL_verify(crl, X509_get0_pubkey(w->b->cert)) != 1) {
        err_set(e, ERR_INVALID, "bundle: its CRL is not one of CA %s", w->b->ca);
        goto out;
    }
    r.tenant = (char *)w->tenant;
    r.ca = (char *)w->b->ca;
    r.number = json_int(j, "number");
    r.this_update = json_int(j, "this_update");
    r.next_update = json_int(j, "next_update");
    r.der = der;
    r.der_len = len;
    if (store_crl_latest(w->tx, w->tenant, w->b->ca, &latest, e) != 0 && e->kind != ERR_NOT_FOUND)
        goto out;
    if (latest == NULL || latest->number < r.number) {
        if (store_crl_insert(w->tx, w->tenant, &r, e) != 0)
            goto out;
        w->crl = json_integer(r.number);
    }
    rc = 0;
out:
    crl_rec_free(latest);
    X509_CRL_free(crl);
    free(der);
    return rc;
}

/* A delegated responder of the offline CA whose key is in this signer (it asked for it). */
static int import_responder(struct import_work *w, const json_t *j, struct err *e)
{
    const char *key_id = json_str(j, "key_id"), *serial = json_str(j, "serial");
    struct ocsp_responder_rec r = {0};
    struct cert_rec *c = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL, *bound = NULL;
    int rc = -1;

    if (key_id == NULL || serial == NULL || json_str(j, "ca") == NULL ||
        strcmp(json_str(j, "ca"), w->b->ca) != 0) {
        err_set(e, ERR_INVALID, "bundle: a responder entry is incomplete");
        goto out;
    }
    if (store_cert_get(w->tx, w->tenant, serial, &c, e) != 0 ||
        (cert = der_x509(c->der, c->der_len)) == NULL) {
        err_set(e, ERR_INVALID, "bundle: responder certificate %s is not in it", serial);
        goto out;
    }
    if ((key = svc_key(w->s, w->tenant, key_id, e)) == NULL ||
        (bound = signer_key_cert(key, cert, e)) == NULL) {
        err_set(e, ERR_INVALID, "bundle: responder certificate %s is not for key %s of this tenant",
                serial, key_id);
        goto out;
    }
    r.tenant = (char *)w->tenant;
    r.ca = (char *)w->b->ca;
    r.key_id = (char *)key_id;
    r.key_type = (char *)key_type_name(key_type_of(key));
    r.serial = (char *)serial;
    r.cert_der = c->der;
    r.cert_len = c->der_len;
    r.not_after = c->not_after;
    r.created = time_now();
    if (store_ocsp_responder_put(w->tx, w->tenant, &r, e) != 0)
        goto out;
    json_array_append_new(w->responders, json_string(serial));
    rc = 0;
out:
    EVP_PKEY_free(key);
    X509_free(bound);
    X509_free(cert);
    cert_rec_free(c);
    return rc;
}

/* Pending CAs of the tenant whose CSR key got a CA certificate in the bundle become active. */
static int import_pending(struct import_work *w, struct err *e)
{
    const json_t *certs = json_object_get(w->b->payload, "certs");
    struct ca_rec **cas = NULL;
    size_t n = 0;
    int rc = 0;

    if (store_ca_list(w->tx, w->tenant, &cas, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const unsigned char *p = cas[i]->csr_der;
        X509_REQ *csr;
        size_t k;
        json_t *j;

        if (strcmp(cas[i]->status, "pending") != 0 || p == NULL ||
            (csr = d2i_X509_REQ(NULL, &p, (long)cas[i]->csr_len)) == NULL)
            continue;
        json_array_foreach(certs, k, j)
        {
            size_t len = 0;
            unsigned char *der = json_get_b64(j, "der", &len);
            X509 *cert = der_x509(der, len);
            struct buf chain = {0};

            if (cert != NULL && X509_check_ca(cert) != 0 &&
                EVP_PKEY_eq(X509_get0_pubkey(cert), X509_REQ_get0_pubkey(csr)) == 1 &&
                json_str(j, "status") != NULL && strcmp(json_str(j, "status"), "good") == 0) {
                struct ca_rec *r = cas[i];
                buf_append(&chain, w->b->cert_der, w->b->cert_len);
                if (w->b->chain_len > 0)
                    buf_append(&chain, w->b->chain_der, w->b->chain_len);
                free(r->cert_der);
                r->cert_der = der;
                r->cert_len = len;
                der = NULL;
                free(r->chain_der);
                r->chain_der = chain.data;
                r->chain_len = chain.len;
                free(r->subject);
                r->subject = name_oneline(X509_get_subject_name(cert));
                asn1_time_to_epoch(X509_get0_notBefore(cert), &r->not_before);
                asn1_time_to_epoch(X509_get0_notAfter(cert), &r->not_after);
                free(r->parent);
                r->parent = xstrdup(w->b->ca);
                free(r->status);
                r->status = xstrdup("active");
                rc = store_ca_update(w->tx, w->tenant, r, e);
                if (rc == 0)
                    rc = svc_audit_ok(w->tx, w->tenant, w->a, "ca.import_certificate", r->name,
                                      "{\"from\":\"offline bundle\"}", e);
                json_array_append_new(w->activated, json_string(r->name));
            }
            X509_free(cert);
            free(der);
            if (rc != 0 || strcmp(cas[i]->status, "active") == 0)
                break;
        }
        X509_REQ_free(csr);
    }
    for (size_t i = 0; i < n; i++)
        ca_rec_free(cas[i]);
    free(cas);
    return rc;
}

/* Fills r from a bundle's audit row (borrowed strings). */
static int audit_row(const json_t *j, const char *tenant, struct audit_rec *r)
{
    r->tenant = (char *)tenant;
    r->seq = json_int(j, "seq");
    r->time = json_int(j, "time");
    r->actor = (char *)json_str(j, "actor");
    r->action = (char *)json_str(j, "action");
    r->object = (char *)json_str(j, "object");
    r->result = (char *)json_str(j, "result");
    r->detail = (char *)json_str(j, "detail");
    r->prev_hash = (char *)json_str(j, "prev_hash");
    r->hash = (char *)json_str(j, "hash");
    return r->actor && r->action && r->object && r->result && r->detail && r->prev_hash && r->hash
               ? 0
               : -1;
}

/*
 * Verifies the offline store's whole audit chain in the bundle (it must still
 * hold the row imported last, unchanged) and appends its new rows to the
 * tenant's chain, each as an "offline.<action>" event carrying the original.
 */
static int import_audit(struct import_work *w, const struct offline_import_rec *prev, struct err *e)
{
    const json_t *rows = json_object_get(w->b->payload, "audit");
    const char *prev_hash = ZERO_HASH;
    int seen_prev = prev == NULL || prev->audit_seq == 0;
    size_t i;
    json_t *j;

    json_array_foreach(rows, i, j)
    {
        struct audit_rec r = {0};
        char *h;
        int ok;

        if (audit_row(j, w->tenant, &r) != 0 || r.seq != (int64_t)i + 1 ||
            strcmp(r.prev_hash, prev_hash) != 0)
            return err_set(e, ERR_INVALID, "bundle: the offline audit chain is broken at row %zu",
                           i + 1);
        h = audit_hash(&r);
        ok = strcmp(h, r.hash) == 0;
        free(h);
        if (!ok)
            return err_set(e, ERR_INVALID, "bundle: offline audit row %lld does not verify",
                           (long long)r.seq);
        if (prev != NULL && r.seq == prev->audit_seq) {
            if (strcmp(r.hash, prev->audit_head) != 0)
                return err_set(e, ERR_INVALID,
                               "bundle: offline audit row %lld differs from the one imported "
                               "before (the offline chain was rewritten)",
                               (long long)r.seq);
            seen_prev = 1;
        }
        prev_hash = r.hash;
    }
    if (!seen_prev)
        return err_set(e, ERR_INVALID,
                       "bundle: the offline audit chain is shorter than the one imported before");
    json_array_foreach(rows, i, j)
    {
        struct audit_rec r = {0};
        struct audit_event ev = {0};
        char *action, *detail;
        json_t *d;
        int rc;

        audit_row(j, w->tenant, &r);
        if (prev != NULL && r.seq <= prev->audit_seq)
            continue;
        action = xasprintf("offline.%s", r.action);
        d = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}", "source", w->b->source, "seq",
                      (json_int_t)r.seq, "time", (json_int_t)r.time, "hash", r.hash, "prev_hash",
                      r.prev_hash, "detail", r.detail);
        detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        ev.actor = r.actor;
        ev.action = action;
        ev.object = r.object;
        ev.result = r.result;
        ev.detail = detail;
        rc = audit_append(w->tx, w->tenant, &ev, e);
        free(action);
        free(detail);
        json_decref(d);
        if (rc != 0)
            return -1;
        w->audit_appended++;
    }
    w->audit_seq = (int64_t)json_array_size(rows);
    free(w->audit_head);
    w->audit_head = xstrdup(prev_hash);
    return 0;
}

/* The bundle's sequence against what was imported from its source: 0 new, 1 the same again. */
static int import_sequence(struct import_work *w, struct offline_import_rec **prev, struct err *e)
{
    struct offline_import_rec *same = NULL;

    if (store_offline_import_get(w->tx, w->tenant, w->b->source, w->b->seq, &same, e) == 0) {
        int again = strcmp(same->digest, w->b->digest_hex) == 0;
        offline_import_rec_free(same);
        if (again)
            return 1;
        return err_set(e, ERR_CONFLICT,
                       "bundle: replay refused: bundle %lld of %s was imported before with other "
                       "content",
                       (long long)w->b->seq, w->b->source);
    }
    if (e->kind != ERR_NOT_FOUND)
        return -1;
    if (store_offline_import_get(w->tx, w->tenant, w->b->source, 0, prev, e) == 0) {
        if ((*prev)->seq > w->b->seq)
            return err_set(e, ERR_CONFLICT,
                           "bundle: replay refused: bundle %lld of %s is older than bundle %lld, "
                           "imported already",
                           (long long)w->b->seq, w->b->source, (long long)(*prev)->seq);
        return 0;
    }
    return e->kind == ERR_NOT_FOUND ? 0 : -1;
}

/* Everything of the import inside w->tx. */
static int import_apply(struct import_work *w, const char *pin, int *again, struct err *e)
{
    struct offline_import_rec *prev = NULL, rec = {0};
    struct ca_rec *ca = NULL;
    json_t *j, *summary;
    char *detail;
    size_t i;
    int rc = -1;

    if (bundle_trust(w->tx, w->tenant, w->b, pin, &ca, e) != 0)
        goto out;
    if ((*again = import_sequence(w, &prev, e)) != 0) {
        rc = *again == 1 ? 0 : -1;
        goto out;
    }
    w->new_root = ca == NULL;
    w->offline_ca = ca == NULL || strcmp(ca->status, "offline") == 0;
    if (w->new_root &&
        (svc_workflow_refuses(w->tx, w->tenant, "ca.create",
                              "a new offline root's bundle cannot wait in a request; import it "
                              "before the workflow is set, or have the workflow removed for it",
                              e) != 0 ||
         root_create(w, e) != 0))
        goto out;
    json_array_foreach(json_object_get(w->b->payload, "certs"), i, j)
    {
        if (import_cert(w, j, e) != 0)
            goto out;
    }
    /* An online CA publishes its own CRLs (with the imported revocations on the next one). */
    json_array_foreach(json_object_get(w->b->payload, "crls"), i, j)
    {
        if (w->offline_ca && import_crl(w, j, e) != 0)
            goto out;
    }
    json_array_foreach(json_object_get(w->b->payload, "responders"), i, j)
    {
        if (w->offline_ca && import_responder(w, j, e) != 0)
            goto out;
    }
    if (import_pending(w, e) != 0 || import_audit(w, prev, e) != 0)
        goto out;
    rec.source = (char *)w->b->source;
    rec.seq = w->b->seq;
    rec.digest = w->b->digest_hex;
    rec.signer = (char *)w->b->ca;
    rec.audit_seq = w->audit_seq;
    rec.audit_head = w->audit_head;
    rec.imported = time_now();
    if (store_offline_import_insert(w->tx, w->tenant, &rec, e) != 0)
        goto out;
    summary = json_pack("{s:s, s:I, s:s, s:s, s:b, s:O, s:O, s:O, s:O, s:I}", "source",
                        w->b->source, "seq", (json_int_t)w->b->seq, "digest", w->b->digest_hex,
                        "signer", w->b->ca, "new_root", w->new_root, "added", w->added, "updated",
                        w->updated, "activated", w->activated, "responders", w->responders,
                        "audit_rows", (json_int_t)w->audit_appended);
    detail = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(summary);
    rc = svc_audit_ok(w->tx, w->tenant, w->a, "offline.import", w->b->ca, detail, e);
    free(detail);
out:
    offline_import_rec_free(prev);
    ca_rec_free(ca);
    return rc;
}

/* After the commit: the responder reloads, new CAs publish, changed statuses are re-signed. */
static void import_after(struct import_work *w)
{
    size_t i;
    json_t *j;

    svc_ocsp_ca_changed(w->s, w->tenant);
    json_array_foreach(w->activated, i, j)
    {
        struct crl_rec *crl = NULL;
        struct err e;

        err_clear(&e);
        if (svc_crl_generate(w->s, w->a, w->tenant, json_string_value(j), &crl, &e) != 0)
            log_warn("tenant %s: first CRL of CA %s: %s", w->tenant, json_string_value(j), e.msg);
        crl_rec_free(crl);
    }
    json_array_foreach(w->updated, i, j)
    {
        svc_ocsp_refresh(w->s, w->tenant, json_string_value(j));
    }
}

int svc_offline_import(struct svc *s, const struct actor *a, const char *tenant, const char *text,
                       size_t len, const char *pin, json_t **result, struct err *e)
{
    struct bundle b = {0};
    struct import_work w = {.s = s, .tenant = tenant, .a = a, .b = &b};
    int rc = -1, again = 0;

    if (bundle_open(text, len, tenant, &b, e) != 0)
        goto out;
    w.added = json_array();
    w.updated = json_array();
    w.activated = json_array();
    w.responders = json_array();
    if ((w.tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (import_apply(&w, pin, &again, e) != 0) {
        store_rollback(w.tx);
        goto out;
    }
    if (again) {
        store_rollback(w.tx);
        *result = json_pack("{s:s, s:s, s:I, s:s}", "status", "unchanged", "source", b.source,
                            "seq", (json_int_t)b.seq, "signer", b.ca);
        rc = 0;
        goto out;
    }
    if (store_commit(w.tx, e) != 0)
        goto out;
    import_after(&w);
    *result =
        json_pack("{s:s, s:s, s:I, s:s, s:b, s:O, s:O, s:O, s:O, s:I}", "status", "imported",
                  "source", b.source, "seq", (json_int_t)b.seq, "signer", b.ca, "new_root",
                  w.new_root, "added", w.added, "updated", w.updated, "activated", w.activated,
                  "responders", w.responders, "audit_rows", (json_int_t)w.audit_appended);
    if (w.crl != NULL)
        json_object_set(*result, "crl_number", w.crl);
    rc = 0;
out:
    json_decref(w.added);
    json_decref(w.updated);
    json_decref(w.activated);
    json_decref(w.responders);
    json_decref(w.crl);
    free(w.audit_head);
    bundle_clear(&b);
    return rc;
}
