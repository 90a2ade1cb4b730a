/*
 * keystore_soft.c — the encrypted software key store (see keystore.h).
 * Loaded keys are cached in memory (the signer process only).
 */
#include "keys/keystore.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

struct cached_key {
    char *tenant, *key_id;
    EVP_PKEY *key;
    struct cached_key *next;
};

struct soft_store {
    struct keystore base;
    char *dir;
    char *kek; /* the passphrase; wiped on close */
    pthread_mutex_t lock;
    struct cached_key *cache;
};

int keystore_id_valid(const char *id)
{
    if (id == NULL || strlen(id) != 20 || strncmp(id, "key-", 4) != 0)
        return 0;
    for (const char *p = id + 4; *p; p++)
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
            return 0;
    return 1;
}

static char *key_path(struct soft_store *s, const char *tenant, const char *key_id)
{
    return xasprintf("%s/%s/%s.pem", s->dir, tenant, key_id);
}

static int args_valid(const char *tenant, const char *key_id, struct err *e)
{
    if (!name_valid(tenant) && strcmp(tenant, "_system") != 0)
        return err_set(e, 400, ERR_BAD_REQUEST, "invalid tenant");
    if (key_id != NULL && !keystore_id_valid(key_id))
        return err_set(e, 404, ERR_NOT_FOUND, "key not found");
    return 0;
}

static void cache_add(struct soft_store *s, const char *tenant, const char *key_id, EVP_PKEY *k)
{
    struct cached_key *c = xcalloc(1, sizeof(*c));

    c->tenant = xstrdup(tenant);
    c->key_id = xstrdup(key_id);
    c->key = k;
    EVP_PKEY_up_ref(k);
    pthread_mutex_lock(&s->lock);
    c->next = s->cache;
    s->cache = c;
    pthread_mutex_unlock(&s->lock);
}

static EVP_PKEY *cache_find(struct soft_store *s, const char *tenant, const char *key_id)
{
    EVP_PKEY *k = NULL;

    pthread_mutex_lock(&s->lock);
    for (struct cached_key *c = s->cache; c != NULL; c = c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->key_id, key_id) == 0) {
            k = c->key;
            EVP_PKEY_up_ref(k);
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return k;
}

static int soft_put(struct keystore *ks, const char *tenant, EVP_PKEY *key, char **key_id,
                    struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    char *id, *dir, *path;
    BIO *bio;
    char *pem;
    long n;
    int rc;

    if (args_valid(tenant, NULL, e) != 0)
        return -1;
    if ((id = random_id("key")) == NULL)
        return err_set(e, 500, ERR_INTERNAL, "CSPRNG failure");
    dir = xasprintf("%s/%s", s->dir, tenant);
    mkdir_p(dir, 0700);
    free(dir);
    bio = BIO_new(BIO_s_mem());
    if (PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), s->kek, (int)strlen(s->kek),
                                      NULL, NULL) != 1) {
        BIO_free(bio);
        free(id);
        return err_ossl(e, 500, ERR_INTERNAL, "key encryption failed");
    }
    n = BIO_get_mem_data(bio, &pem);
    path = key_path(s, tenant, id);
    rc = file_write_atomic(path, pem, (size_t)n, 0600, e);
    BIO_free(bio);
    free(path);
    if (rc != 0) {
        free(id);
        return -1;
    }
    cache_add(s, tenant, id, key);
    *key_id = id;
    return 0;
}

static EVP_PKEY *soft_get(struct keystore *ks, const char *tenant, const char *key_id,
                          struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    EVP_PKEY *k;
    char *path;
    BIO *bio;

    if (args_valid(tenant, key_id, e) != 0)
        return NULL;
    if ((k = cache_find(s, tenant, key_id)) != NULL)
        return k;
    path = key_path(s, tenant, key_id);
    bio = BIO_new_file(path, "r");
    free(path);
    if (bio == NULL) {
        ERR_clear_error();
        err_set(e, 404, ERR_NOT_FOUND, "key not found");
        return NULL;
    }
    k = PEM_read_bio_PrivateKey(bio, NULL, NULL, s->kek);
    BIO_free(bio);
    if (k == NULL) {
        err_ossl(e, 500, ERR_INTERNAL, "key %s does not decrypt", key_id);
        return NULL;
    }
    cache_add(s, tenant, key_id, k);
    return k;
}

static int soft_delete(struct keystore *ks, const char *tenant, const char *key_id, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    struct cached_key **pp, *c;
    char *path;
    int rc;

    if (args_valid(tenant, key_id, e) != 0)
        return -1;
    pthread_mutex_lock(&s->lock);
    for (pp = &s->cache; (c = *pp) != NULL; pp = &c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->key_id, key_id) == 0) {
            *pp = c->next;
            EVP_PKEY_free(c->key);
            free(c->tenant);
            free(c->key_id);
            free(c);
            break;
        }
    pthread_mutex_unlock(&s->lock);
    path = key_path(s, tenant, key_id);
    rc = unlink(path);
    free(path);
    if (rc != 0)
        return err_set(e, 404, ERR_NOT_FOUND, "key not found");
    return 0;
}

static int soft_ping(struct keystore *ks, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;

    if (access(s->dir, R_OK | W_OK | X_OK) != 0)
        return err_set(e, 503, ERR_UNAVAILABLE, "key store %s: %s", s->dir, strerror(errno));
    return 0;
}

static void soft_close(struct keystore *ks)
{
    struct soft_store *s = (struct soft_store *)ks;
    struct cached_key *c, *next;

    for (c = s->cache; c != NULL; c = next) {
        next = c->next;
        EVP_PKEY_free(c->key);
        free(c->tenant);
        free(c->key_id);
        free(c);
    }
    secure_zero(s->kek, strlen(s->kek));
    free(s->kek);
    free(s->dir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct keystore_ops soft_ops = {soft_put, soft_get, soft_delete, soft_ping,
                                             soft_close};

struct keystore *keystore_soft_open(const char *dir, const char *kek_path, struct err *e)
{
    struct soft_store *s;
    unsigned char *kek;
    size_t len;

    if ((kek = file_read(kek_path, 4096, &len, e)) == NULL)
        return NULL;
    while (len > 0 && isspace(kek[len - 1]))
        kek[--len] = '\0';
    if (len < 16) {
        secure_zero(kek, len);
        free(kek);
        err_set(e, 500, ERR_INTERNAL, "%s: the key-encryption secret is shorter than 16 bytes",
                kek_path);
        return NULL;
    }
    if (mkdir_p(dir, 0700) != 0) {
        secure_zero(kek, len);
        free(kek);
        err_set(e, 500, ERR_INTERNAL, "key store %s: %s", dir, strerror(errno));
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->base.ops = &soft_ops;
    s->dir = xstrdup(dir);
    s->kek = (char *)kek;
    pthread_mutex_init(&s->lock, NULL);
    return &s->base;
}
