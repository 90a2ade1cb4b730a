/*
 * signer_proc.c — the signer process: holds the key store and answers typed
 * requests from the network process, one thread per connection.
 *
 * Every request names its tenant and the key store files keys per tenant, so
 * another tenant's key is simply not found.  Refusals are logged here, with
 * no secrets and no unvalidated strings.  A request that is well framed but
 * wrong gets an error reply; a frame that does not parse, or is larger than
 * any request may be, closes that connection only.
 */
#include "keys/keystore.h"
#include "keys/tbs.h"
#include "keys/signer_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>

#include "lib/log.h"

#define EE_TTL 300  /* seconds an end-entity key waits for its PKCS#12 */
#define EE_MAX 4096 /* end-entity keys waiting at once, over all tenants */

/* An end-entity key generated for a tenant, waiting for its certificate. */
struct ee_key {
    uint64_t handle;
    char *tenant;
    EVP_PKEY *key;
    int64_t expires;
    struct ee_key *next;
};

static struct keystore *ks;
static pthread_mutex_t ee_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ee_key *ee_keys;
static int ee_count;

/* A string field of the request, or NULL with a ERR_INVALID naming it. Caller frees. */
static char *req_str(struct req *r, enum wire_tag tag, const char *name)
{
    char *s = wire_get_str(r->body, r->len, tag, 1024);

    if (s == NULL)
        err_set(&r->err, ERR_INVALID, "signer: %s missing or invalid", name);
    return s;
}

/* A key id fit for a log line (the id the peer sent may be anything). */
static const char *log_id(const char *key_id)
{
    return keystore_id_valid(key_id) ? key_id : "(malformed id)";
}

static void put_pubkey(struct req *r, EVP_PKEY *k)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);

    if (n > 0)
        wire_put(&r->out, T_PUBKEY, der, (size_t)n);
    OPENSSL_free(der);
}

/* The key type the request names; KEY_NONE with a ERR_INVALID if none is valid. */
static enum key_type req_key_type(struct req *r)
{
    char *name = req_str(r, T_KEY_TYPE, "key type");
    enum key_type t = key_type_parse(name);

    if (name != NULL && t == KEY_NONE)
        err_set(&r->err, ERR_INVALID,
                "unsupported key type (ec-p256, ec-p384, rsa-2048/3072/4096, ed25519)");
    free(name);
    return t;
}

static int h_ping(struct req *r)
{
    char health[700];

    if (ks->ops->ping(ks, &r->err) != 0)
        return -1;
    if (ks->ops->describe != NULL)
        ks->ops->describe(ks, health, sizeof(health));
    else
        snprintf(health, sizeof(health), "software key store: ok");
    wire_put_str(&r->out, T_HEALTH, health);
    return 0;
}

#define EVENTS_PER_REPLY 64

/* Hands the queued key-store events to the network process (which audits them). */
static int h_events(struct req *r)
{
    char *action[EVENTS_PER_REPLY], *object[EVENTS_PER_REPLY], *detail[EVENTS_PER_REPLY];
    int n = keystore_events_take(action, object, detail, EVENTS_PER_REPLY);

    for (int i = 0; i < n; i++) {
        wire_put_str(&r->out, T_EVENT_ACTION, action[i]);
        wire_put_str(&r->out, T_EVENT_OBJECT, object[i]);
        wire_put_str(&r->out, T_EVENT_DETAIL, detail[i]);
        free(action[i]);
        free(object[i]);
        free(detail[i]);
    }
    return 0;
}

struct keystore *signer_keystore(void)
{
    return ks;
}

/* The purpose a KEYGEN or IMPORT request asks for: KEY_PURPOSE_NONE if none; -1 if unknown. */
static int req_purpose(struct req *r, enum key_purpose *p)
{
    char *name = wire_get_str(r->body, r->len, T_PURPOSE, 32);

    *p = KEY_PURPOSE_NONE;
    if (name != NULL && (*p = key_purpose_parse(name)) == KEY_PURPOSE_NONE) {
        free(name);
        return err_set(&r->err, ERR_INVALID, "signer: unknown key purpose");
    }
    free(name);
    if (!signer_node_allows(*p))
        return err_set(&r->err, ERR_FORBIDDEN,
                       "signer: this node's roles (settings services and jobs) use no %s keys",
                       key_purpose_name(*p));
    return 0;
}

/* Binds a key just made to the purpose asked for; on failure the key goes again. */
static int bind_new(struct req *r, const char *tenant, const char *id, enum key_purpose p)
{
    struct err ignore;

    if (p == KEY_PURPOSE_NONE || signer_bind_set(ks, tenant, id, p, &r->err) == 0)
        return 0;
    ks->ops->destroy(ks, tenant, id, &ignore);
    return -1;
}

static int h_keygen(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"), *id = NULL;
    enum key_type type = tenant ? req_key_type(r) : KEY_NONE;
    enum key_purpose purpose;
    EVP_PKEY *pub = NULL;
    int rc = -1;

    if (type != KEY_NONE && req_purpose(r, &purpose) == 0 &&
        ks->ops->generate(ks, tenant, type, &id, &pub, &r->err) == 0 &&
        bind_new(r, tenant, id, purpose) == 0) {
        wire_put_str(&r->out, T_KEY_ID, id);
        put_pubkey(r, pub);
        rc = 0;
    }
    EVP_PKEY_free(pub);
    free(id);
    free(tenant);
    return rc;
}

static int h_bind(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"),
         *id = tenant ? req_str(r, T_KEY_ID, "key id") : NULL;
    enum key_purpose purpose = KEY_PURPOSE_NONE;
    EVP_PKEY *k = NULL;
    int rc = -1;

    /* The key must exist here (load: also the public half of a token's key). */
    if (id != NULL && req_purpose(r, &purpose) == 0 && (k = signer_req_key(r)) != NULL)
        rc = signer_bind_set(ks, tenant, id, purpose, &r->err);
    EVP_PKEY_free(k);
    free(tenant);
    free(id);
    return rc;
}

int signer_req_bind_check(struct req *r, const char *kind, const unsigned char *data, size_t len)
{
    char *tenant = req_str(r, T_TENANT, "tenant"),
         *id = tenant ? req_str(r, T_KEY_ID, "key id") : NULL;
    int rc = -1;

    if (id != NULL && keystore_id_valid(id))
        rc = signer_bind_check(ks, tenant, id, kind, data, len, &r->err);
    else if (id != NULL)
        err_set(&r->err, ERR_NOT_FOUND, "key not found");
    free(tenant);
    free(id);
    return rc;
}

EVP_PKEY *signer_req_key(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"),
         *id = tenant ? req_str(r, T_KEY_ID, "key id") : NULL;
    EVP_PKEY *k = NULL;

    if (id != NULL && !signer_node_allows(KEY_PURPOSE_NONE)) {
        /* Roles limit this node's keys: one of another purpose is not even opened. */
        enum key_purpose p;
        int refused = -1;
        if (!keystore_id_valid(id))
            err_set(&r->err, ERR_NOT_FOUND, "key not found");
        else if (signer_bind_purpose(ks, tenant, id, &p, &r->err) == 0 &&
                 (refused = !signer_node_allows(p)) != 0)
            err_set(&r->err, ERR_FORBIDDEN,
                    "signer: key %s is a %s key, which this node's roles (settings services and "
                    "jobs) do not use",
                    id, key_purpose_name(p));
        if (refused != 0) {
            free(tenant);
            free(id);
            return NULL;
        }
    }
    if (id != NULL) {
        k = ks->ops->load(ks, tenant, id, &r->err);
        if (k == NULL && r->err.kind == ERR_NOT_FOUND)
            log_warn("signer: refused: tenant %s has no key %s", tenant, log_id(id));
    }
    free(tenant);
    free(id);
    return k;
}

static int h_pubkey(struct req *r)
{
    EVP_PKEY *k = signer_req_key(r);

    if (k == NULL)
        return -1;
    put_pubkey(r, k);
    EVP_PKEY_free(k);
    return 0;
}

int signer_digest_allowed(const char *md)
{
    EVP_MD *m;
    int nid;

    if (md[0] == '\0')
        return 1;
    if ((m = EVP_MD_fetch(NULL, md, NULL)) == NULL)
        return 0;
    nid = EVP_MD_get_type(m);
    EVP_MD_free(m);
    return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512;
}

/* Signs data with k and digest md ("" for none); the signature goes into the reply. */
static int sign_data(struct req *r, EVP_PKEY *k, const char *md, const unsigned char *data,
                     size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = -1;

    if (ctx == NULL ||
        EVP_DigestSignInit_ex(ctx, NULL, md[0] ? md : NULL, NULL, NULL, k, NULL) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1) {
        err_ossl(&r->err, ERR_INVALID, "signer: this key cannot sign with digest %s",
                 md[0] ? md : "(none)");
        goto out;
    }
    sig = xmalloc(siglen);
    if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1) {
        err_ossl(&r->err, ERR_INTERNAL, "signer: signing failed");
        goto out;
    }
    wire_put(&r->out, T_SIGNATURE, sig, siglen);
    rc = 0;
out:
    free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Signs in the key store itself (PKCS#11: the key never leaves the token). */
int signer_store_signs(void)
{
    return ks->ops->sign != NULL;
}

int signer_store_sign(struct req *r, const char *md, const unsigned char *data, size_t len,
                      unsigned char **sig, size_t *sig_len)
{
    char *tenant = req_str(r, T_TENANT, "tenant"),
         *id = tenant ? req_str(r, T_KEY_ID, "key id") : NULL;
    int rc = -1;

    if (id != NULL) {
        rc = ks->ops->sign(ks, tenant, id, md, data, len, sig, sig_len, &r->err);
        if (rc != 0 && r->err.kind == ERR_NOT_FOUND)
            log_warn("signer: refused: tenant %s has no key %s", tenant, log_id(id));
    }
    free(tenant);
    free(id);
    return rc;
}

static int store_sign(struct req *r, const char *md, const unsigned char *data, size_t len)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc = signer_store_sign(r, md, data, len, &sig, &sig_len);

    if (rc == 0)
        wire_put(&r->out, T_SIGNATURE, sig, sig_len);
    free(sig);
    return rc;
}

/*
 * Signs a certificate, CRL, CSR, OCSP or audit checkpoint body.  Only a CRL may make a request
 * larger than WIRE_MAX_SMALL (up to WIRE_MAX_SIGN): a large CA's CRL.
 */
static int h_sign(struct req *r)
{
    const unsigned char *data = NULL;
    size_t len = 0;
    char *md = wire_get_str(r->body, r->len, T_DIGEST, 32);
    int have = wire_get(r->body, r->len, T_DATA, 0, &data, &len) == 0;
    const char *kind = have ? tbs_kind(data, len) : NULL;
    EVP_PKEY *k = NULL;
    int rc = -1;

    if (r->len > WIRE_MAX_SMALL && (kind == NULL || strcmp(kind, "CRL") != 0)) {
        err_set(&r->err, ERR_TOO_LARGE, "signer: request too large (only a CRL may be)");
    } else if (!have || md == NULL) {
        err_set(&r->err, ERR_INVALID, "signer: digest or data missing");
    } else if (!signer_digest_allowed(md)) {
        err_set(&r->err, ERR_INVALID, "signer: digest must be SHA-256, -384 or -512");
        log_warn("signer: refused to sign with a digest other than SHA-2");
    } else if (kind == NULL || strcmp(kind, "TSTInfo") == 0) {
        /* A TSTInfo is signed only as a whole token (W_SIGN_TST, signer_tst.c). */
        err_set(&r->err, ERR_INVALID,
                "signer: refusing to sign data that is not a certificate, CRL, CSR, OCSP "
                "response or audit checkpoint body");
        log_warn("signer: refused to sign %zu bytes of an unknown kind", len);
    } else if (signer_req_bind_check(r, kind, data, len) != 0) {
        /* refused: logged and queued for the audit log (signer_bind.c) */
    } else if (ks->ops->sign != NULL) {
        rc = store_sign(r, md, data, len);
    } else if ((k = signer_req_key(r)) != NULL) {
        rc = sign_data(r, k, md, data, len);
    }
    EVP_PKEY_free(k);
    free(md);
    return rc;
}

/* Whether password opens the PKCS#12's MAC (no password: "" or absent, as PKCS12_parse). */
static int pkcs12_mac_ok(PKCS12 *p12, const char *password)
{
    if (PKCS12_verify_mac(p12, password, -1) == 1)
        return 1;
    return password[0] == '\0' && PKCS12_verify_mac(p12, NULL, 0) == 1;
}

/* The key of a PKCS#12, and its certificates (leaf first) in *certs. NULL with r->err set. */
static EVP_PKEY *import_pkcs12(struct req *r, const unsigned char *blob, size_t len,
                               const char *password, STACK_OF(X509) * *certs)
{
    const unsigned char *p = blob;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    STACK_OF(X509) *ca = NULL;
    EVP_PKEY *k = NULL;
    X509 *leaf = NULL;
    int ok = 0;

    if (p12 == NULL)
        err_set(&r->err, ERR_INVALID, "pkcs12: not a PKCS#12 file (DER)");
    else if (PKCS12_mac_present(p12) && !pkcs12_mac_ok(p12, password))
        err_set(&r->err, ERR_INVALID, "pkcs12: wrong password");
    else if (PKCS12_parse(p12, password, &k, &leaf, &ca) != 1)
        err_ossl(&r->err, ERR_INVALID, "pkcs12: cannot be decrypted");
    else if (k == NULL)
        err_set(&r->err, ERR_INVALID, "pkcs12: contains no private key");
    else
        ok = 1;
    if (ok) {
        *certs = ca != NULL ? ca : sk_X509_new_null();
        ca = NULL;
        if (leaf != NULL && sk_X509_unshift(*certs, leaf) > 0)
            leaf = NULL;
    } else {
        EVP_PKEY_free(k);
        k = NULL;
    }
    X509_free(leaf);
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
    return k;
}

/* A PEM private key (any of OpenSSL's PEM key forms); NULL with r->err set. */
static EVP_PKEY *import_pem(struct req *r, const unsigned char *blob, size_t len,
                            const char *password)
{
    BIO *bio = BIO_new_mem_buf(blob, (int)len);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)password) : NULL;

    BIO_free(bio);
    if (k == NULL)
        err_ossl(&r->err, ERR_INVALID, "key: not a PEM private key, or the password is wrong");
    return k;
}

/* Parses an import blob into a key (and, for PKCS#12, its certificates). */
static EVP_PKEY *import_parse(struct req *r, const char *format, STACK_OF(X509) * *certs)
{
    const unsigned char *blob;
    char *password = wire_get_str(r->body, r->len, T_PASSWORD, 1024);
    const char *pass = password ? password : "";
    EVP_PKEY *k = NULL;
    size_t len;

    *certs = NULL;
    if (wire_get(r->body, r->len, T_BLOB, 0, &blob, &len) != 0 || len == 0)
        err_set(&r->err, ERR_INVALID, "import: no key given");
    else if (strcmp(format, "pkcs12") == 0)
        k = import_pkcs12(r, blob, len, pass, certs);
    else if (strcmp(format, "pem") == 0)
        k = import_pem(r, blob, len, pass);
    else
        err_set(&r->err, ERR_INVALID, "import: unknown format");
    if (password != NULL)
        secure_zero(password, strlen(password));
    free(password);
    return k;
}

static int h_import(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant");
    char *format = tenant ? req_str(r, T_FORMAT, "format") : NULL;
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *k = NULL;
    enum key_purpose purpose = KEY_PURPOSE_NONE;
    char *id = NULL;
    int rc = -1;

    if (format == NULL || req_purpose(r, &purpose) != 0 ||
        (k = import_parse(r, format, &certs)) == NULL)
        goto out;
    if (key_type_of(k) == KEY_NONE) {
        err_set(&r->err, ERR_INVALID,
                "key: unsupported type (ec-p256, ec-p384, rsa-2048/3072/4096, ed25519)");
        goto out;
    }
    if (ks->ops->import(ks, tenant, k, &id, &r->err) != 0 || bind_new(r, tenant, id, purpose) != 0)
        goto out;
    wire_put_str(&r->out, T_KEY_ID, id);
    put_pubkey(r, k);
    for (int i = 0; i < sk_X509_num(certs); i++)
        wire_put_x509(&r->out, T_CHAIN, sk_X509_value(certs, i));
    rc = 0;
out:
    sk_X509_pop_free(certs, X509_free);
    EVP_PKEY_free(k);
    free(id);
    free(tenant);
    free(format);
    return rc;
}

static int h_delete(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"),
         *id = tenant ? req_str(r, T_KEY_ID, "key id") : NULL;
    int rc = id ? ks->ops->destroy(ks, tenant, id, &r->err) : -1;

    if (rc == 0)
        signer_bind_forget(tenant, id);
    if (rc != 0 && r->err.kind == ERR_NOT_FOUND)
        log_warn("signer: refused to delete: tenant %s has no key %s", tenant, log_id(id));
    free(tenant);
    free(id);
    return rc;
}

static void ee_free(struct ee_key *k)
{
    EVP_PKEY_free(k->key);
    free(k->tenant);
    free(k);
}

/* Forgets end-entity keys past their time (call with ee_lock held). */
static void ee_expire(int64_t now)
{
    struct ee_key **pp = &ee_keys, *k;

    while ((k = *pp) != NULL) {
        if (k->expires <= now) {
            *pp = k->next;
            ee_free(k);
            ee_count--;
        } else {
            pp = &k->next;
        }
    }
}

/* Keeps key for tenant under a new random handle; 0 ok, -1 (e set) if full. */
static int ee_add(const char *tenant, EVP_PKEY *key, uint64_t *handle, struct err *e)
{
    struct ee_key *k;
    uint64_t h;

    if (random_bytes((unsigned char *)&h, sizeof(h)) != 0)
        return err_set(e, ERR_INTERNAL, "CSPRNG failure");
    pthread_mutex_lock(&ee_lock);
    ee_expire(time_now());
    if (ee_count >= EE_MAX) {
        pthread_mutex_unlock(&ee_lock);
        return err_set(e, ERR_UNAVAILABLE, "signer: too many generated keys waiting");
    }
    k = xcalloc(1, sizeof(*k));
    k->handle = h;
    k->tenant = xstrdup(tenant);
    k->key = key;
    EVP_PKEY_up_ref(key);
    k->expires = time_now() + EE_TTL;
    k->next = ee_keys;
    ee_keys = k;
    ee_count++;
    pthread_mutex_unlock(&ee_lock);
    *handle = h;
    return 0;
}

/* Takes the end-entity key of (tenant, handle) out of the table; NULL if none. */
static EVP_PKEY *ee_take(const char *tenant, uint64_t handle)
{
    struct ee_key **pp, *k;
    EVP_PKEY *key = NULL;

    pthread_mutex_lock(&ee_lock);
    ee_expire(time_now());
    for (pp = &ee_keys; (k = *pp) != NULL; pp = &k->next)
        if (k->handle == handle && strcmp(k->tenant, tenant) == 0) {
            *pp = k->next;
            key = k->key;
            k->key = NULL;
            ee_free(k);
            ee_count--;
            break;
        }
    pthread_mutex_unlock(&ee_lock);
    return key;
}

static int h_ee_keygen(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant");
    enum key_type type = KEY_NONE;
    EVP_PKEY *key = NULL;
    uint64_t handle = 0;
    int rc = -1;

    if (tenant != NULL && !name_valid(tenant))
        err_set(&r->err, ERR_INVALID, "invalid tenant name");
    else if (tenant != NULL)
        type = req_key_type(r);
    if (type != KEY_NONE && (key = key_generate(type, &r->err)) != NULL &&
        ee_add(tenant, key, &handle, &r->err) == 0) {
        wire_put_u64(&r->out, T_HANDLE, handle);
        put_pubkey(r, key);
        rc = 0;
    }
    EVP_PKEY_free(key);
    free(tenant);
    return rc;
}

static X509 *x509_field(struct req *r, enum wire_tag tag, int index)
{
    const unsigned char *d;
    size_t n;

    if (wire_get(r->body, r->len, tag, index, &d, &n) != 0)
        return NULL;
    return d2i_X509(NULL, &d, (long)n);
}

/*
 * The PKCS#12 of key, cert and chain under password: AES-256-CBC with PBKDF2
 * for key and certificates, a SHA-256 MAC (OpenSSL 3.0 would pick SHA-1).
 */
static int pkcs12_build(struct req *r, const char *password, EVP_PKEY *key, X509 *cert,
                        STACK_OF(X509) * chain)
{
    PKCS12 *p12 = PKCS12_create_ex(password, NULL, key, cert, chain, NID_aes_256_cbc,
                                   NID_aes_256_cbc, PKCS12_DEFAULT_ITER, -1, 0, NULL, NULL);
    unsigned char *der = NULL;
    int n = 0;

    if (p12 == NULL ||
        PKCS12_set_mac(p12, password, -1, NULL, 0, PKCS12_DEFAULT_ITER, EVP_sha256()) != 1 ||
        (n = i2d_PKCS12(p12, &der)) <= 0) {
        PKCS12_free(p12);
        return err_ossl(&r->err, ERR_INTERNAL, "signer: PKCS#12 creation failed");
    }
    wire_put(&r->out, T_PKCS12, der, (size_t)n);
    OPENSSL_free(der);
    PKCS12_free(p12);
    return 0;
}

static int h_ee_pkcs12(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant");
    char *password = tenant ? req_str(r, T_PASSWORD, "password") : NULL;
    STACK_OF(X509) *chain = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    X509 *cert = NULL, *c;
    uint64_t handle = 0;
    int rc = -1;

    if (password == NULL)
        goto out;
    if (wire_get_u64(r->body, r->len, T_HANDLE, &handle) != 0 ||
        (key = ee_take(tenant, handle)) == NULL) {
        err_set(&r->err, ERR_NOT_FOUND, "signer: no such generated key (expired?)");
        log_warn("signer: refused: tenant %s has no generated key under that handle",
                 name_valid(tenant) ? tenant : "(invalid)");
        goto out;
    }
    if ((cert = x509_field(r, T_CERT, 0)) == NULL || X509_check_private_key(cert, key) != 1) {
        err_set(&r->err, ERR_INVALID, "signer: certificate does not match the key");
        goto out;
    }
    for (int i = 0; (c = x509_field(r, T_CHAIN, i)) != NULL; i++)
        sk_X509_push(chain, c);
    rc = pkcs12_build(r, password, key, cert, chain);
out:
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    if (password)
        secure_zero(password, strlen(password));
    free(password);
    free(tenant);
    return rc;
}

/*
 * W_EE_PKCS8: the generated key as unencrypted PKCS#8 DER (RFC 7030 §4.4.2:
 * TLS protects it on its way to the device), once, for the certificate issued
 * to it; the key is forgotten here as for W_EE_PKCS12.
 */
static int h_ee_pkcs8(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant");
    EVP_PKEY *key = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    X509 *cert = NULL;
    uint64_t handle = 0;
    unsigned char *der = NULL;
    int n, rc = -1;

    if (tenant == NULL)
        return -1;
    if (wire_get_u64(r->body, r->len, T_HANDLE, &handle) != 0 ||
        (key = ee_take(tenant, handle)) == NULL) {
        err_set(&r->err, ERR_NOT_FOUND, "signer: no such generated key (expired?)");
        log_warn("signer: refused: tenant %s has no generated key under that handle",
                 name_valid(tenant) ? tenant : "(invalid)");
        goto out;
    }
    if ((cert = x509_field(r, T_CERT, 0)) == NULL || X509_check_private_key(cert, key) != 1) {
        err_set(&r->err, ERR_INVALID, "signer: certificate does not match the key");
        goto out;
    }
    if ((p8 = EVP_PKEY2PKCS8(key)) == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
        err_ossl(&r->err, ERR_INTERNAL, "signer: PKCS#8 encoding failed");
        goto out;
    }
    wire_put(&r->out, T_PKCS8, der, (size_t)n);
    secure_zero(der, (size_t)n);
    rc = 0;
out:
    OPENSSL_free(der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    X509_free(cert);
    EVP_PKEY_free(key);
    free(tenant);
    return rc;
}

#define KEYLIST_MAX 4096

/* The tenant's key ids and types (a key that does not load is listed as "unknown"). */
static int h_keylist(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant");
    char **ids = xcalloc(KEYLIST_MAX, sizeof(*ids));
    int n = tenant ? ks->ops->list(ks, tenant, ids, KEYLIST_MAX, &r->err) : -1;

    for (int i = 0; i < n; i++) {
        struct err ignore;
        EVP_PKEY *k = ks->ops->load(ks, tenant, ids[i], &ignore);
        enum key_type t = k ? key_type_of(k) : KEY_NONE;

        enum key_purpose p = KEY_PURPOSE_NONE;

        if (signer_bind_purpose(ks, tenant, ids[i], &p, &ignore) != 0)
            p = KEY_PURPOSE_NONE;
        wire_put_str(&r->out, T_KEY_ID, ids[i]);
        wire_put_str(&r->out, T_KEY_TYPE, t != KEY_NONE ? key_type_name(t) : "unknown");
        wire_put_str(&r->out, T_PURPOSE, key_purpose_name(p));
        EVP_PKEY_free(k);
        free(ids[i]);
    }
    free(ids);
    free(tenant);
    return n < 0 ? -1 : 0;
}

static int dispatch(uint32_t type, struct req *r)
{
    switch (type) {
    case W_PING:
        return h_ping(r);
    case W_ALIVE:
        return 0; /* the process answers: the supervisor's check, no key store involved */
    case W_KEYGEN:
        return h_keygen(r);
    case W_PUBKEY:
        return h_pubkey(r);
    case W_SIGN:
        return h_sign(r);
    case W_IMPORT:
        return h_import(r);
    case W_DELETE:
        return h_delete(r);
    case W_EE_KEYGEN:
        return h_ee_keygen(r);
    case W_EE_PKCS12:
        return h_ee_pkcs12(r);
    case W_EE_PKCS8:
        return h_ee_pkcs8(r);
    case W_SIGN_TST:
        return signer_h_sign_tst(r);
    case W_WEBHOOK_NEW:
        return signer_h_webhook_new(r);
    case W_WEBHOOK_MAC:
        return signer_h_webhook_mac(r);
    case W_EAB_NEW:
        return signer_h_eab_new(r);
    case W_EAB_MAC:
        return signer_h_eab_mac(r);
    case W_CMP_SECRET:
        return signer_h_cmp_secret(r);
    case W_RA_DECRYPT:
        return signer_h_ra_decrypt(r);
    case W_EVENTS:
        return h_events(r);
    case W_KEYLIST:
        return h_keylist(r);
    case W_BIND:
        return h_bind(r);
    default:
        return err_set(&r->err, ERR_INVALID, "signer: unknown request type %u", type);
    }
}

/* Sends the error reply for e; 0 ok, -1 if the connection failed. */
static int reply_error(int fd, const struct err *e)
{
    struct buf body = {0};
    int rc;

    /* The wire carries the kind as its word: the client maps it back (reply_error there). */
    wire_put_str(&body, T_STATUS, err_kind_word(e->kind != ERR_NONE ? e->kind : ERR_INTERNAL));
    wire_put_str(&body, T_MESSAGE, e->kind != ERR_NONE ? e->msg : "signer: internal error");
    rc = wire_send(fd, W_REPLY_ERR, &body);
    buf_free(&body);
    return rc;
}

/* Answers one well-framed request; 0 ok, -1 if the connection failed. */
static int answer(int fd, uint32_t type, const unsigned char *body, size_t len)
{
    struct req r = {.body = body, .len = len};
    int rc;

    err_clear(&r.err);
    if (type != W_IMPORT && type != W_SIGN && len > WIRE_MAX_SMALL)
        rc = err_set(&r.err, ERR_TOO_LARGE, "signer: request too large");
    else
        rc = dispatch(type, &r);
    rc = rc == 0 ? wire_send(fd, W_REPLY_OK, &r.out) : reply_error(fd, &r.err);
    secure_zero(r.out.data, r.out.len);
    buf_free(&r.out);
    ERR_clear_error();
    return rc;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char *body;
    uint32_t type;
    size_t len;
    int rc;

    while ((rc = wire_recv(fd, &type, &body, &len, WIRE_MAX_SIGN)) == 0) {
        rc = answer(fd, type, body, len);
        secure_zero(body, len);
        free(body);
        if (rc != 0)
            break;
    }
    if (rc == -2)
        log_warn("signer: malformed or oversized frame; connection closed");
    close(fd);
    return NULL;
}

static int fd_compare(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Closes descriptors lo..hi. */
static void fds_close(unsigned lo, unsigned hi)
{
    long max;

    if (lo > hi || close_range(lo, hi, 0) == 0)
        return;
    max = sysconf(_SC_OPEN_MAX); /* no close_range(2): close them one by one */
    if (max < 0 || max > 65536)
        max = 65536;
    for (unsigned fd = lo; fd <= hi && fd < (unsigned)max; fd++)
        close((int)fd);
}

void signer_fds_close_others(const int *keep, int n)
{
    int *sorted = xcalloc((size_t)n, sizeof(int));
    unsigned lo = 3;

    memcpy(sorted, keep, (size_t)n * sizeof(int));
    qsort(sorted, (size_t)n, sizeof(int), fd_compare);
    for (int i = 0; i < n; i++) {
        if (sorted[i] < (int)lo)
            continue;
        fds_close(lo, (unsigned)sorted[i] - 1);
        lo = (unsigned)sorted[i] + 1;
    }
    fds_close(lo, ~0U);
    free(sorted);
}

/* Answers the first request on fd with e (the reason the signer cannot serve). */
static void refuse_first_request(int fd, const struct err *e)
{
    unsigned char *body;
    uint32_t type;
    size_t len;

    if (wire_recv(fd, &type, &body, &len, WIRE_MAX_LARGE) == 0) {
        free(body);
        reply_error(fd, e);
    }
}

#define PIN_MAX 256

/* The user PIN: the first line of pkcs11_pin_file, or $VOUCH_PKCS11_PIN. Caller frees. */
static char *pin_read(const struct signer_config *cfg, struct err *e)
{
    char buf[PIN_MAX + 2], *env;
    FILE *f;
    size_t n;

    if (cfg->pkcs11_pin_file == NULL) {
        if ((env = getenv("VOUCH_PKCS11_PIN")) == NULL || env[0] == '\0') {
            err_set(e, ERR_INTERNAL,
                    "PKCS#11 key store: no PIN (set pkcs11_pin_file or VOUCH_PKCS11_PIN)");
            return NULL;
        }
        env = xstrdup(env);
        unsetenv("VOUCH_PKCS11_PIN");
        return env;
    }
    if ((f = fopen(cfg->pkcs11_pin_file, "r")) == NULL) {
        err_set(e, ERR_INTERNAL, "pkcs11_pin_file %s: %s", cfg->pkcs11_pin_file, strerror(errno));
        return NULL;
    }
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    if (n == 0 || n > PIN_MAX) {
        secure_zero(buf, sizeof(buf));
        err_set(e, ERR_INTERNAL, "pkcs11_pin_file %s: empty or longer than %d bytes",
                cfg->pkcs11_pin_file, PIN_MAX);
        return NULL;
    }
    env = xstrdup(buf);
    secure_zero(buf, sizeof(buf));
    return env;
}

/* The first line of path: a tenant's PIN. Caller frees; NULL with e set. */
static char *tenant_pin_read(const char *dir, const char *tenant, struct err *e)
{
    struct signer_config one = {0};
    char *path, *pin;

    if (dir == NULL) {
        err_set(e, ERR_INTERNAL, "pkcs11_tenant_tokens: set pkcs11_tenant_pin_dir");
        return NULL;
    }
    path = xasprintf("%s/%s", dir, tenant);
    one.pkcs11_pin_file = path;
    pin = pin_read(&one, e);
    free(path);
    return pin;
}

/*
 * Wraps shared in the tenant router and opens each mapped tenant's token
 * with that tenant's PIN; NULL (e set, every store closed) if one fails.
 */
static struct keystore *tenant_tokens_open(const struct signer_config *cfg, struct keystore *shared,
                                           int sessions, struct err *e)
{
    struct keystore *router = keystore_tenant_open(shared), *own;
    char **tenants = NULL, **labels = NULL;
    int n = keystore_tenant_map_parse(cfg->pkcs11_tenant_tokens, &tenants, &labels, e);

    for (int i = 0; i < n && router != NULL; i++) {
        struct keystore_p11_config pc = {
            .module = cfg->pkcs11_module, .token_label = labels[i], .sessions = sessions};
        char *pin = tenant_pin_read(cfg->pkcs11_tenant_pin_dir, tenants[i], e);

        pc.pin = pin;
        if (pin == NULL || (own = keystore_p11_open(&pc, e)) == NULL) {
            router->ops->close(router);
            router = NULL;
        } else {
            keystore_tenant_add(router, tenants[i], own);
        }
        if (pin != NULL)
            secure_zero(pin, strlen(pin));
        free(pin);
    }
    for (int i = 0; i < n; i++) {
        free(tenants[i]);
        free(labels[i]);
    }
    free(tenants);
    free(labels);
    if (n < 0) {
        router->ops->close(router);
        return NULL;
    }
    return router;
}

/* The key store cfg names: software, one PKCS#11 token, or two (failover). */
static struct keystore *keystore_open(const struct signer_config *cfg, int sessions, struct err *e)
{
    struct keystore_p11_config pc = {.module = cfg->pkcs11_module,
                                     .token_label = cfg->pkcs11_token_label,
                                     .use_slot = cfg->pkcs11_use_slot,
                                     .slot = cfg->pkcs11_slot,
                                     .sessions = sessions};
    struct keystore *primary, *backup;
    char *pin;

    if (cfg->keystore_type == NULL || strcmp(cfg->keystore_type, "soft") == 0)
        return keystore_soft_open(cfg->keystore_dir, cfg->kek_path, e);
    if ((pin = pin_read(cfg, e)) == NULL)
        return NULL;
    pc.pin = pin;
    primary = keystore_p11_open(&pc, e);
    if (primary != NULL && cfg->pkcs11_backup_token_label != NULL) {
        pc.token_label = cfg->pkcs11_backup_token_label;
        pc.use_slot = 0;
        if ((backup = keystore_p11_open(&pc, e)) == NULL) {
            primary->ops->close(primary);
            primary = NULL;
        } else {
            primary = keystore_failover_open(primary, backup);
        }
    }
    secure_zero(pin, strlen(pin));
    free(pin);
    if (primary != NULL && cfg->pkcs11_tenant_tokens != NULL)
        primary = tenant_tokens_open(cfg, primary, sessions, e);
    return primary;
}

void signer_child_main(const struct signer_config *cfg, int *fds, int n)
{
    pthread_t *threads = xcalloc((size_t)n, sizeof(*threads));
    int *running = xcalloc((size_t)n, sizeof(int));
    struct err e;

    signal(SIGINT, SIG_IGN); /* the parent decides when we stop: by closing the sockets */
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_NAME, "vouch-signer"); /* what ps and top show the operator */
    signer_bind_roles(cfg->purposes);
    signer_fds_close_others(fds, n);
    if (process_protect(&e) != 0) { /* no other process of the user reads our keys */
        log_error("signer: %s", e.msg);
        refuse_first_request(fds[0], &e);
        _exit(1);
    }
    /* Older PKCS#12 files (RC2, 3DES) need the legacy provider; keep default too. */
    if (OSSL_PROVIDER_try_load(NULL, "legacy", 1) == NULL)
        ERR_clear_error();
    if ((ks = keystore_open(cfg, n, &e)) == NULL) {
        log_error("signer: %s", e.msg);
        refuse_first_request(fds[0], &e);
        _exit(1);
    }
    for (int i = 0; i < n; i++) {
        running[i] = pthread_create(&threads[i], NULL, serve, (void *)(intptr_t)fds[i]) == 0;
        if (!running[i]) {
            log_error("signer: cannot start a thread; connection %d closed", i);
            close(fds[i]);
        }
    }
    for (int i = 0; i < n; i++)
        if (running[i])
            pthread_join(threads[i], NULL);
    ks->ops->close(ks);
    _exit(0);
}
