/*
 * keystore_soft.c — the encrypted software key store (see keystore.h).
 *
 * Keys are PKCS#8 PEM files encrypted with AES-256-CBC under a passphrase
 * (PBES2 with PBKDF2, as OpenSSL's PKCS#8 writer does it).  Loaded keys are
 * cached in memory, per (tenant, key id); this code runs only in the signer.
 */
#include "keys/keystore.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define KEK_MAX 4096 /* bytes of key-encryption secret we read */
#define KEK_MIN 16

struct cached_key {
    char *tenant, *key_id;
    EVP_PKEY *key;
    struct cached_key *next;
};

struct soft_store {
    struct keystore base;
    char *dir;
    char *passphrase; /* the key-encryption secret; wiped on close */
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

static int tenant_check(const char *tenant, struct err *e)
{
    if (tenant == NULL || (!name_valid(tenant) && strcmp(tenant, "_system") != 0))
        return err_set(e, ERR_INVALID, "invalid tenant name");
    return 0;
}

/* Checks tenant and key id; an id that is not ours cannot name a key: ERR_NOT_FOUND. */
static int args_check(const char *tenant, const char *key_id, struct err *e)
{
    if (tenant_check(tenant, e) != 0)
        return -1;
    if (!keystore_id_valid(key_id))
        return err_set(e, ERR_NOT_FOUND, "key not found");
    return 0;
}

static char *key_path(const struct soft_store *s, const char *tenant, const char *key_id)
{
    return xasprintf("%s/%s/%s.pem", s->dir, tenant, key_id);
}

/* The key's text beside it (keystore.h, meta_get): <key id>.meta, 0600, not encrypted. */
static char *meta_path(const struct soft_store *s, const char *tenant, const char *key_id)
{
    return xasprintf("%s/%s/%s.meta", s->dir, tenant, key_id);
}

static void cached_key_free(struct cached_key *c)
{
    EVP_PKEY_free(c->key);
    free(c->tenant);
    free(c->key_id);
    free(c);
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

/* A new reference to the cached key of (tenant, key_id), or NULL. */
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

static void cache_remove(struct soft_store *s, const char *tenant, const char *key_id)
{
    struct cached_key **pp, *c;

    pthread_mutex_lock(&s->lock);
    for (pp = &s->cache; (c = *pp) != NULL; pp = &c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->key_id, key_id) == 0) {
            *pp = c->next;
            cached_key_free(c);
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

/* fsync()s a directory so that a rename or mkdir in it survives a power loss. */
static int dir_sync(const char *path, struct err *e)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "%s: %s", path, strerror(errno));
    rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return err_set(e, ERR_INTERNAL, "%s: fsync: %s", path, strerror(errno));
    return 0;
}

/* Makes <dir>/<tenant> (0700) if it does not exist yet. */
static int tenant_dir(const struct soft_store *s, const char *tenant, struct err *e)
{
    char *dir = xasprintf("%s/%s", s->dir, tenant);
    int rc = 0;

    if (mkdir(dir, 0700) == 0)
        rc = dir_sync(s->dir, e);
    else if (errno != EEXIST)
        rc = err_set(e, ERR_INTERNAL, "key store %s: %s", dir, strerror(errno));
    free(dir);
    return rc;
}

/* The encrypted PKCS#8 PEM of key in a memory BIO (caller frees); NULL with e set. */
static BIO *key_encrypt(const struct soft_store *s, EVP_PKEY *key, struct err *e)
{
    BIO *bio = BIO_new(BIO_s_mem());

    if (bio == NULL || PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), s->passphrase,
                                                     (int)strlen(s->passphrase), NULL, NULL) != 1) {
        BIO_free(bio);
        err_ossl(e, ERR_INTERNAL, "key encryption failed");
        return NULL;
    }
    return bio;
}

/* A fresh key id with no file yet under tenant; NULL with e set. Caller frees. */
static char *new_key_id(const struct soft_store *s, const char *tenant, struct err *e)
{
    for (int tries = 0; tries < 4; tries++) {
        char *id = random_id("key"), *path;
        int taken;

        if (id == NULL)
            break;
        path = key_path(s, tenant, id);
        taken = access(path, F_OK) == 0;
        free(path);
        if (!taken)
            return id;
        free(id);
    }
    err_set(e, ERR_INTERNAL, "CSPRNG failure");
    return NULL;
}

/* Encrypts key and files it for tenant under a new id; sets *key_id (caller frees). */
static int key_write(struct soft_store *s, const char *tenant, EVP_PKEY *key, char **key_id,
                     struct err *e)
{
    char *id = NULL, *path = NULL, *dir = NULL, *pem;
    BIO *bio = NULL;
    long n;
    int rc = -1;

    if (tenant_check(tenant, e) != 0 || tenant_dir(s, tenant, e) != 0 ||
        (bio = key_encrypt(s, key, e)) == NULL || (id = new_key_id(s, tenant, e)) == NULL)
        goto out;
    n = BIO_get_mem_data(bio, &pem);
    path = key_path(s, tenant, id);
    dir = xasprintf("%s/%s", s->dir, tenant);
    if (file_write_atomic(path, pem, (size_t)n, 0600, e) != 0 || dir_sync(dir, e) != 0)
        goto out;
    cache_add(s, tenant, id, key);
    *key_id = id;
    id = NULL;
    rc = 0;
out:
    free(id);
    free(path);
    free(dir);
    BIO_free(bio);
    return rc;
}

EVP_PKEY *keystore_public_copy(EVP_PKEY *key, struct err *e)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int n = i2d_PUBKEY(key, &der);
    EVP_PKEY *pub = NULL;

    if (n > 0) {
        p = der;
        pub = d2i_PUBKEY(NULL, &p, n);
    }
    OPENSSL_free(der);
    if (pub == NULL)
        err_ossl(e, ERR_INTERNAL, "public key encoding failed");
    return pub;
}

static int soft_generate(struct keystore *ks, const char *tenant, enum key_type type, char **key_id,
                         EVP_PKEY **pub, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    EVP_PKEY *key = NULL, *p = NULL;
    char *id = NULL;
    int rc = -1;

    if (tenant_check(tenant, e) != 0 || (key = key_generate(type, e)) == NULL ||
        (p = keystore_public_copy(key, e)) == NULL || key_write(s, tenant, key, &id, e) != 0)
        goto out;
    *key_id = id;
    *pub = p;
    p = NULL;
    rc = 0;
out:
    EVP_PKEY_free(p);
    EVP_PKEY_free(key);
    return rc;
}

static int soft_import(struct keystore *ks, const char *tenant, EVP_PKEY *key, char **key_id,
                       struct err *e)
{
    return key_write((struct soft_store *)ks, tenant, key, key_id, e);
}

static EVP_PKEY *soft_load(struct keystore *ks, const char *tenant, const char *key_id,
                           struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    EVP_PKEY *k;
    char *path;
    BIO *bio;

    if (args_check(tenant, key_id, e) != 0)
        return NULL;
    if ((k = cache_find(s, tenant, key_id)) != NULL)
        return k;
    path = key_path(s, tenant, key_id);
    bio = BIO_new_file(path, "r");
    free(path);
    if (bio == NULL) {
        ERR_clear_error();
        err_set(e, ERR_NOT_FOUND, "key not found");
        return NULL;
    }
    k = PEM_read_bio_PrivateKey(bio, NULL, NULL, s->passphrase);
    BIO_free(bio);
    if (k == NULL) {
        err_ossl(e, ERR_INTERNAL, "key %s does not decrypt with this key-encryption secret",
                 key_id);
        return NULL;
    }
    cache_add(s, tenant, key_id, k);
    return k;
}

static int soft_destroy(struct keystore *ks, const char *tenant, const char *key_id, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    char *path;
    int rc;

    if (args_check(tenant, key_id, e) != 0)
        return -1;
    cache_remove(s, tenant, key_id);
    path = key_path(s, tenant, key_id);
    rc = unlink(path);
    free(path);
    if (rc != 0)
        return err_set(e, ERR_NOT_FOUND, "key not found");
    path = meta_path(s, tenant, key_id);
    unlink(path); /* a key may have none */
    free(path);
    return 0;
}

static int soft_meta_get(struct keystore *ks, const char *tenant, const char *key_id, char *buf,
                         size_t len, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    char *path;
    ssize_t n = -1;
    int fd;

    if (args_check(tenant, key_id, e) != 0)
        return -1;
    path = meta_path(s, tenant, key_id);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0) {
        if (errno == ENOENT)
            return err_set(e, ERR_NOT_FOUND, "key has no binding");
        return err_set(e, ERR_UNAVAILABLE, "key store: %s", strerror(errno));
    }
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return err_set(e, ERR_UNAVAILABLE, "key store: %s", strerror(errno));
    buf[n] = '\0';
    return 0;
}

static int soft_meta_set(struct keystore *ks, const char *tenant, const char *key_id,
                         const char *text, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    char *path, *dir;
    int rc = -1;

    if (args_check(tenant, key_id, e) != 0)
        return -1;
    path = key_path(s, tenant, key_id);
    rc = access(path, F_OK);
    free(path);
    if (rc != 0)
        return err_set(e, ERR_NOT_FOUND, "key not found");
    path = meta_path(s, tenant, key_id);
    dir = xasprintf("%s/%s", s->dir, tenant);
    rc =
        file_write_atomic(path, text, strlen(text), 0600, e) == 0 && dir_sync(dir, e) == 0 ? 0 : -1;
    free(path);
    free(dir);
    return rc;
}

static int soft_list(struct keystore *ks, const char *tenant, char **ids, int max, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;
    char *path, name[32];
    struct dirent *de;
    DIR *d;
    int n = 0;

    if (tenant_check(tenant, e) != 0)
        return -1;
    path = xasprintf("%s/%s", s->dir, tenant);
    d = opendir(path);
    free(path);
    while (d != NULL && n < max && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len != 24 || strcmp(de->d_name + 20, ".pem") != 0)
            continue;
        memcpy(name, de->d_name, 20);
        name[20] = '\0';
        if (keystore_id_valid(name))
            ids[n++] = xstrdup(name);
    }
    if (d != NULL)
        closedir(d);
    return n;
}

static int soft_ping(struct keystore *ks, struct err *e)
{
    struct soft_store *s = (struct soft_store *)ks;

    if (access(s->dir, R_OK | W_OK | X_OK) != 0)
        return err_set(e, ERR_UNAVAILABLE, "key store %s: %s", s->dir, strerror(errno));
    return 0;
}

static void soft_close(struct keystore *ks)
{
    struct soft_store *s = (struct soft_store *)ks;
    struct cached_key *c, *next;

    for (c = s->cache; c != NULL; c = next) {
        next = c->next;
        cached_key_free(c);
    }
    secure_zero(s->passphrase, strlen(s->passphrase));
    free(s->passphrase);
    free(s->dir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct keystore_ops soft_ops = {
    .generate = soft_generate,
    .import = soft_import,
    .load = soft_load,
    .destroy = soft_destroy,
    .ping = soft_ping,
    .close = soft_close,
    .list = soft_list,
    .meta_get = soft_meta_get,
    .meta_set = soft_meta_set,
};

/* Reads at most KEK_MAX bytes of path into buf; the length, or -1 with e set. */
static ssize_t kek_read(const char *path, char *buf, size_t size, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    ssize_t n;

    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "key-encryption secret %s: %s", path, strerror(errno));
    while ((n = read(fd, buf + len, size - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (len += (size_t)n) == size) {
            close(fd);
            return err_set(e, ERR_INTERNAL, "key-encryption secret %s: %s", path,
                           n < 0 ? strerror(errno) : "larger than 4096 bytes");
        }
    }
    close(fd);
    return (ssize_t)len;
}

/* The passphrase in the secret file: text, trailing white space dropped. Caller frees. */
static char *kek_load(const char *path, struct err *e)
{
    char buf[KEK_MAX + 1];
    ssize_t n = kek_read(path, buf, sizeof(buf), e);
    char *kek = NULL;

    if (n < 0)
        return NULL;
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    if (memchr(buf, '\0', (size_t)n) != NULL)
        err_set(e, ERR_INTERNAL,
                "key-encryption secret %s: contains a NUL byte (use text, e.g. "
                "openssl rand -hex 32)",
                path);
    else if (n < KEK_MIN)
        err_set(e, ERR_INTERNAL, "key-encryption secret %s: shorter than %d bytes", path, KEK_MIN);
    else
        kek = xstrndup(buf, (size_t)n);
    secure_zero(buf, sizeof(buf));
    return kek;
}

struct keystore *keystore_soft_open(const char *dir, const char *kek_path, struct err *e)
{
    struct soft_store *s;
    char *kek;

    if (dir == NULL || kek_path == NULL) {
        err_set(e, ERR_INTERNAL, "key store: directory or key-encryption secret not set");
        return NULL;
    }
    if ((kek = kek_load(kek_path, e)) == NULL)
        return NULL;
    if (mkdir_p(dir, 0700) != 0) {
        err_set(e, ERR_INTERNAL, "key store %s: %s", dir, strerror(errno));
        secure_zero(kek, strlen(kek));
        free(kek);
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->base.ops = &soft_ops;
    s->dir = xstrdup(dir);
    s->passphrase = kek;
    pthread_mutex_init(&s->lock, NULL);
    return &s->base;
}
