/*
 * signer_proc.c — the signer process: holds the key store and answers typed
 * requests from the network process, one thread per connection.
 *
 * Every request names its tenant and the key store files keys per tenant, so
 * another tenant's key is simply not found.  Refusals are logged here without
 * secrets; a frame that does not parse closes that connection only.
 */
#include "keys/keystore.h"
#include "keys/tbs.h"
#include "keys/signer_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "lib/log.h"

#define EE_TTL 300 /* seconds an end-entity key waits for its PKCS#12 */

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

/* A request being answered: its body, and the reply being built. */
struct req {
    const unsigned char *body;
    size_t len;
    struct buf out;
    struct err err;
};

static char *req_str(struct req *r, enum wire_tag tag, const char *name)
{
    char *s = wire_get_str(r->body, r->len, tag, 1024);

    if (s == NULL)
        err_set(&r->err, 400, ERR_BAD_REQUEST, "signer: %s missing or invalid", name);
    return s;
}

static void put_pubkey(struct req *r, EVP_PKEY *k)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);

    if (n > 0)
        wire_put(&r->out, T_PUBKEY, der, (size_t)n);
    OPENSSL_free(der);
}

static int h_ping(struct req *r)
{
    return ks->ops->ping(ks, &r->err);
}

static int h_keygen(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"), *type = req_str(r, T_KEY_TYPE, "key type");
    char *id = NULL;
    EVP_PKEY *k = NULL;
    int rc = -1;

    if (tenant && type && (k = key_generate(key_type_parse(type), &r->err)) != NULL &&
        ks->ops->put(ks, tenant, k, &id, &r->err) == 0) {
        wire_put_str(&r->out, T_KEY_ID, id);
        put_pubkey(r, k);
        rc = 0;
    }
    EVP_PKEY_free(k);
    free(id);
    free(tenant);
    free(type);
    return rc;
}

/* The key named by the request's tenant and key id, or NULL (refusal logged). */
static EVP_PKEY *req_key(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"), *id = req_str(r, T_KEY_ID, "key id");
    EVP_PKEY *k = NULL;

    if (tenant && id) {
        k = ks->ops->get(ks, tenant, id, &r->err);
        if (k == NULL && r->err.status == 404)
            log_warn("signer: tenant %s asked for key %s, which it does not have", tenant, id);
    }
    free(tenant);
    free(id);
    return k;
}

static int h_pubkey(struct req *r)
{
    EVP_PKEY *k = req_key(r);

    if (k == NULL)
        return -1;
    put_pubkey(r, k);
    EVP_PKEY_free(k);
    return 0;
}

static int h_sign(struct req *r)
{
    const unsigned char *data;
    size_t len, siglen = 0;
    char *md = wire_get_str(r->body, r->len, T_DIGEST, 32);
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *ctx = NULL;
    unsigned char *sig = NULL;
    int rc = -1;

    if (wire_get(r->body, r->len, T_DATA, 0, &data, &len) != 0) {
        err_set(&r->err, 400, ERR_BAD_REQUEST, "signer: nothing to sign");
        goto out;
    }
    if (tbs_kind(data, len) == NULL) {
        err_set(&r->err, 400, ERR_BAD_REQUEST,
                "signer: refusing to sign data that is not a certificate, CRL or CSR body");
        log_warn("signer: refused to sign %zu bytes of an unknown kind", len);
        goto out;
    }
    if ((k = req_key(r)) == NULL)
        goto out;
    ctx = EVP_MD_CTX_new();
    if (EVP_DigestSignInit_ex(ctx, NULL, md && md[0] ? md : NULL, NULL, NULL, k, NULL) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1) {
        err_ossl(&r->err, 400, ERR_BAD_REQUEST, "signer: cannot sign with digest %s",
                 md && md[0] ? md : "(none)");
        goto out;
    }
    sig = xmalloc(siglen);
    if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1) {
        err_ossl(&r->err, 500, ERR_INTERNAL, "signer: signing failed");
        goto out;
    }
    wire_put(&r->out, T_SIGNATURE, sig, siglen);
    rc = 0;
out:
    free(sig);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    free(md);
    return rc;
}

/* Parses an import blob into a key (and, for PKCS#12, its certificates). */
static EVP_PKEY *import_parse(struct req *r, const char *format, STACK_OF(X509) * *certs)
{
    const unsigned char *blob, *p;
    char *password = wire_get_str(r->body, r->len, T_PASSWORD, 1024);
    EVP_PKEY *k = NULL;
    X509 *leaf = NULL;
    PKCS12 *p12;
    size_t len;

    if (wire_get(r->body, r->len, T_BLOB, 0, &blob, &len) != 0) {
        err_set(&r->err, 400, ERR_BAD_REQUEST, "import: no key given");
    } else if (strcmp(format, "pkcs12") == 0) {
        p = blob;
        p12 = d2i_PKCS12(NULL, &p, (long)len);
        *certs = NULL;
        if (p12 == NULL || PKCS12_parse(p12, password ? password : "", &k, &leaf, certs) != 1) {
            err_ossl(&r->err, 400, ERR_BAD_REQUEST, "pkcs12: does not parse (or wrong password)");
            k = NULL;
        } else {
            if (*certs == NULL)
                *certs = sk_X509_new_null();
            if (leaf != NULL)
                sk_X509_unshift(*certs, leaf);
        }
        PKCS12_free(p12);
    } else {
        BIO *bio = BIO_new_mem_buf(blob, (int)len);
        k = PEM_read_bio_PrivateKey(bio, NULL, NULL, password ? password : (char *)"");
        BIO_free(bio);
        if (k == NULL)
            err_ossl(&r->err, 400, ERR_BAD_REQUEST,
                     "key: not a PEM private key (or wrong password)");
    }
    if (password != NULL)
        secure_zero(password, strlen(password));
    free(password);
    return k;
}

static int h_import(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"), *format = req_str(r, T_FORMAT, "format");
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *k = NULL;
    char *id = NULL;
    int rc = -1;

    if (tenant == NULL || format == NULL || (k = import_parse(r, format, &certs)) == NULL)
        goto out;
    if (key_type_of(k) == KEY_NONE) {
        err_set(&r->err, 400, ERR_BAD_REQUEST,
                "key: unsupported type (ec-p256, ec-p384, rsa-2048/3072/4096, ed25519)");
        goto out;
    }
    if (ks->ops->put(ks, tenant, k, &id, &r->err) != 0)
        goto out;
    wire_put_str(&r->out, T_KEY_ID, id);
    put_pubkey(r, k);
    for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++)
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
    char *tenant = req_str(r, T_TENANT, "tenant"), *id = req_str(r, T_KEY_ID, "key id");
    int rc = tenant && id ? ks->ops->delete (ks, tenant, id, &r->err) : -1;

    free(tenant);
    free(id);
    return rc;
}

/* Forgets end-entity keys past their time (call with ee_lock held). */
static void ee_expire(int64_t now)
{
    struct ee_key **pp = &ee_keys, *k;

    while ((k = *pp) != NULL) {
        if (k->expires <= now) {
            *pp = k->next;
            EVP_PKEY_free(k->key);
            free(k->tenant);
            free(k);
        } else {
            pp = &k->next;
        }
    }
}

static int h_ee_keygen(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant"), *type = req_str(r, T_KEY_TYPE, "key type");
    struct ee_key *k;
    EVP_PKEY *key = NULL;
    uint64_t handle;

    if (tenant == NULL || type == NULL ||
        (key = key_generate(key_type_parse(type), &r->err)) == NULL ||
        random_bytes((unsigned char *)&handle, sizeof(handle)) != 0) {
        EVP_PKEY_free(key);
        free(tenant);
        free(type);
        return r->err.status ? -1 : err_set(&r->err, 500, ERR_INTERNAL, "CSPRNG failure");
    }
    k = xcalloc(1, sizeof(*k));
    k->handle = handle;
    k->tenant = tenant;
    k->key = key;
    k->expires = time_now() + EE_TTL;
    pthread_mutex_lock(&ee_lock);
    ee_expire(time_now());
    k->next = ee_keys;
    ee_keys = k;
    pthread_mutex_unlock(&ee_lock);
    wire_put_u64(&r->out, T_HANDLE, handle);
    put_pubkey(r, key);
    free(type);
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
            free(k->tenant);
            free(k);
            break;
        }
    pthread_mutex_unlock(&ee_lock);
    return key;
}

static X509 *x509_field(struct req *r, enum wire_tag tag, int index)
{
    const unsigned char *d;
    size_t n;

    if (wire_get(r->body, r->len, tag, index, &d, &n) != 0)
        return NULL;
    return d2i_X509(NULL, &d, (long)n);
}

static int h_ee_pkcs12(struct req *r)
{
    char *tenant = req_str(r, T_TENANT, "tenant");
    char *password = req_str(r, T_PASSWORD, "password");
    STACK_OF(X509) *chain = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    X509 *cert = NULL, *c;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    uint64_t handle;
    int n, rc = -1;

    if (tenant == NULL || password == NULL)
        goto out;
    if (wire_get_u64(r->body, r->len, T_HANDLE, &handle) != 0 ||
        (key = ee_take(tenant, handle)) == NULL) {
        err_set(&r->err, 404, ERR_NOT_FOUND, "signer: no such generated key (expired?)");
        goto out;
    }
    if ((cert = x509_field(r, T_CERT, 0)) == NULL || X509_check_private_key(cert, key) != 1) {
        err_set(&r->err, 400, ERR_BAD_REQUEST, "signer: certificate does not match the key");
        goto out;
    }
    for (int i = 0; (c = x509_field(r, T_CHAIN, i)) != NULL; i++)
        sk_X509_push(chain, c);
    p12 = PKCS12_create_ex(password, NULL, key, cert, chain, NID_aes_256_cbc, NID_aes_256_cbc,
                           PKCS12_DEFAULT_ITER, -1, 0, NULL, NULL);
    /* A SHA-256 MAC (OpenSSL 3.0 would default to SHA-1). */
    if (p12 == NULL ||
        PKCS12_set_mac(p12, password, -1, NULL, 0, PKCS12_DEFAULT_ITER, EVP_sha256()) != 1 ||
        (n = i2d_PKCS12(p12, &der)) <= 0) {
        err_ossl(&r->err, 500, ERR_INTERNAL, "signer: PKCS#12 creation failed");
        goto out;
    }
    wire_put(&r->out, T_PKCS12, der, (size_t)n);
    rc = 0;
out:
    OPENSSL_free(der);
    PKCS12_free(p12);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    if (password)
        secure_zero(password, strlen(password));
    free(password);
    free(tenant);
    return rc;
}

static int dispatch(uint32_t type, struct req *r)
{
    switch (type) {
    case W_PING:
        return h_ping(r);
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
    default:
        return err_set(&r->err, 400, ERR_BAD_REQUEST, "signer: unknown request type %u", type);
    }
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char *body;
    uint32_t type;
    size_t len;
    int rc;

    while ((rc = wire_recv(fd, &type, &body, &len, WIRE_MAX_LARGE)) == 0) {
        struct req r = {.body = body, .len = len};
        struct buf status = {0};
        err_clear(&r.err);
        if (type != W_IMPORT && len > WIRE_MAX_SMALL)
            err_set(&r.err, 413, ERR_TOO_LARGE, "signer: request too large");
        if (r.err.status != 0 || dispatch(type, &r) != 0) {
            char code[16];
            snprintf(code, sizeof(code), "%d", r.err.status ? r.err.status : 500);
            wire_put_str(&status, T_STATUS, code);
            wire_put_str(&status, T_MESSAGE, r.err.msg);
            rc = wire_send(fd, W_REPLY_ERR, &status);
        } else {
            rc = wire_send(fd, W_REPLY_OK, &r.out);
        }
        secure_zero(body, len);
        free(body);
        secure_zero(r.out.data, r.out.len);
        buf_free(&r.out);
        buf_free(&status);
        ERR_clear_error();
        if (rc != 0)
            break;
    }
    if (rc == -2)
        log_warn("signer: malformed or oversized frame; connection closed");
    close(fd);
    return NULL;
}

void signer_child_main(const struct signer_config *cfg, int *fds, int n)
{
    pthread_t *threads = xcalloc((size_t)n, sizeof(*threads));
    struct err e;

    signal(SIGINT, SIG_IGN); /* the parent decides when we stop: by closing the sockets */
    signal(SIGPIPE, SIG_IGN);
    if ((ks = keystore_soft_open(cfg->keystore_dir, cfg->kek_path, &e)) == NULL) {
        log_error("signer: %s", e.msg);
        _exit(1);
    }
    for (int i = 0; i < n; i++)
        pthread_create(&threads[i], NULL, serve, (void *)(intptr_t)fds[i]);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    ks->ops->close(ks);
    _exit(0);
}
