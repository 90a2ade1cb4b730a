/*
 * signer_bind.c — keys bound to their purpose, and a CA key to the issuer it
 * signs as (keys.h, enum key_purpose; docs/decisions.md, "Keys bound to their
 * purpose").  This code runs only in the signer.
 *
 * A key's binding is a short text the key store keeps beside the key
 * (keystore.h, meta_get), a line per field:
 *
 *     purpose ca
 *     issuer <hex of the issuer Name's DER>
 *     keyid <hex of the authority key identifier>
 *
 * A binding is only ever added to: a purpose once set never changes, and a
 * CA key's issuer and key identifier are set by the first certificate or CRL
 * it signs (trust on first use: the name a CA signs as is known only when its
 * own certificate is made, and keys from before purposes existed get theirs
 * here).  A key with no purpose signs as before; the network process binds
 * every key it gives a use (at its creation, and at start for keys made
 * before), so only keys no CA, responder, unit or secret uses stay unbound.
 *
 * Bound keys are cached; an unbound key is read again each time (another
 * node's signer may bind it).
 */
#include "keys/keystore.h"
#include "keys/tbs.h"
#include "keys/signer_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "lib/log.h"

#define FIELD_MAX 900 /* bytes of an issuer name or key identifier we keep */

struct binding {
    enum key_purpose purpose;
    unsigned char *issuer; /* DER of the issuer Name, or NULL */
    size_t issuer_len;
    unsigned char *keyid; /* the authority key identifier, or NULL */
    size_t keyid_len;
    unsigned char key_hash[20]; /* SHA-1 of the key's subjectPublicKey (OCSP byKey), */
    int have_key_hash;          /* known once computed (kept in the cache only) */
};

struct cached {
    char *tenant, *key_id;
    struct binding b;
    struct cached *next;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t first_use_lock = PTHREAD_MUTEX_INITIALIZER; /* issuer_check's binding */
static struct cached *cache;

static void binding_clear(struct binding *b)
{
    free(b->issuer);
    free(b->keyid);
    memset(b, 0, sizeof(*b));
}

static unsigned char *dup_bytes(const unsigned char *p, size_t len)
{
    unsigned char *d = xmalloc(len ? len : 1);

    memcpy(d, p, len);
    return d;
}

static void binding_copy(struct binding *to, const struct binding *from)
{
    *to = *from;
    to->issuer = from->issuer ? dup_bytes(from->issuer, from->issuer_len) : NULL;
    to->keyid = from->keyid ? dup_bytes(from->keyid, from->keyid_len) : NULL;
}

/* Hex of a field's value into *out (malloc'd bytes, *len); -1 if it is not hex or too long. */
static int hex_field(const char *hex, unsigned char **out, size_t *len)
{
    long n = 0;
    unsigned char *b;

    if (strlen(hex) > 2 * FIELD_MAX || (b = OPENSSL_hexstr2buf(hex, &n)) == NULL)
        return -1;
    *out = dup_bytes(b, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(b);
    return 0;
}

/* Parses a binding's text; -1 if it is not one (the caller refuses to use the key). */
static int binding_parse(char *text, struct binding *b)
{
    char *save = NULL;

    memset(b, 0, sizeof(*b));
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *value = strchr(line, ' ');
        if (value == NULL)
            goto bad;
        *value++ = '\0';
        if (strcmp(line, "purpose") == 0)
            b->purpose = key_purpose_parse(value);
        else if (strcmp(line, "issuer") == 0 && b->issuer == NULL) {
            if (hex_field(value, &b->issuer, &b->issuer_len) != 0)
                goto bad;
        } else if (strcmp(line, "keyid") == 0 && b->keyid == NULL) {
            if (hex_field(value, &b->keyid, &b->keyid_len) != 0)
                goto bad;
        } else
            goto bad;
    }
    if (b->purpose != KEY_PURPOSE_NONE)
        return 0;
bad:
    binding_clear(b);
    return -1;
}

/* Appends " <hex>" of a field to a text being built. */
static void hex_append(char *text, size_t size, const char *name, const unsigned char *v,
                       size_t len)
{
    char *hex = OPENSSL_buf2hexstr(v, (long)len);
    size_t used = strlen(text);

    if (hex != NULL) {
        for (char *p = hex, *q = hex;; p++) /* "AB:CD" -> "ABCD" */
            if (*p != ':' && (*q++ = *p) == '\0')
                break;
        snprintf(text + used, size - used, "%s %s\n", name, hex);
    }
    OPENSSL_free(hex);
}

static struct cached *cache_find(const char *tenant, const char *key_id)
{
    for (struct cached *c = cache; c != NULL; c = c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->key_id, key_id) == 0)
            return c;
    return NULL;
}

/* Keeps b as (tenant, key_id)'s binding in the cache (a copy). */
static void cache_put(const char *tenant, const char *key_id, const struct binding *b)
{
    struct cached *c;

    pthread_mutex_lock(&cache_lock);
    if ((c = cache_find(tenant, key_id)) == NULL) {
        c = xcalloc(1, sizeof(*c));
        c->tenant = xstrdup(tenant);
        c->key_id = xstrdup(key_id);
        c->next = cache;
        cache = c;
    } else
        binding_clear(&c->b);
    binding_copy(&c->b, b);
    pthread_mutex_unlock(&cache_lock);
}

/* Notes the key's hash in its cached binding (only that: other fields may have moved on). */
static void cache_put_key_hash(const char *tenant, const char *key_id, const unsigned char h[20])
{
    struct cached *c;

    pthread_mutex_lock(&cache_lock);
    if ((c = cache_find(tenant, key_id)) != NULL) {
        memcpy(c->b.key_hash, h, 20);
        c->b.have_key_hash = 1;
    }
    pthread_mutex_unlock(&cache_lock);
}

/* SHA-1 of the subjectPublicKey of (tenant, key_id), as an OCSP responderID byKey holds it. */
static int key_hash_of(struct keystore *ks, const char *tenant, const char *key_id,
                       unsigned char h[20], struct err *e)
{
    EVP_PKEY *k = ks->ops->load(ks, tenant, key_id, e);
    X509_PUBKEY *xp = NULL;
    const unsigned char *pk;
    int pklen, rc = -1;

    if (k != NULL && X509_PUBKEY_set(&xp, k) == 1 &&
        X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xp) == 1 &&
        SHA1(pk, (size_t)pklen, h) != NULL)
        rc = 0;
    else if (k != NULL)
        err_set(e, ERR_INTERNAL, "signer: key %s: its public key does not encode", key_id);
    X509_PUBKEY_free(xp);
    EVP_PKEY_free(k);
    return rc;
}

void signer_bind_forget(const char *tenant, const char *key_id)
{
    struct cached **pp, *c;

    pthread_mutex_lock(&cache_lock);
    for (pp = &cache; (c = *pp) != NULL; pp = &c->next)
        if (strcmp(c->tenant, tenant) == 0 && strcmp(c->key_id, key_id) == 0) {
            *pp = c->next;
            binding_clear(&c->b);
            free(c->tenant);
            free(c->key_id);
            free(c);
            break;
        }
    pthread_mutex_unlock(&cache_lock);
}

/* The binding of (tenant, key_id) into *b (purpose NONE if it has none); -1 with e set. */
static int binding_read(struct keystore *ks, const char *tenant, const char *key_id,
                        struct binding *b, struct err *e)
{
    char text[KEYSTORE_META_MAX];
    struct cached *c;

    memset(b, 0, sizeof(*b));
    pthread_mutex_lock(&cache_lock);
    if ((c = cache_find(tenant, key_id)) != NULL)
        binding_copy(b, &c->b);
    pthread_mutex_unlock(&cache_lock);
    if (c != NULL)
        return 0;
    if (ks->ops->meta_get == NULL)
        return 0;
    if (ks->ops->meta_get(ks, tenant, key_id, text, sizeof(text), e) != 0)
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    if (binding_parse(text, b) != 0)
        return err_set(e, ERR_INTERNAL, "signer: key %s: its binding is unreadable", key_id);
    cache_put(tenant, key_id, b);
    return 0;
}

static int binding_write(struct keystore *ks, const char *tenant, const char *key_id,
                         const struct binding *b, struct err *e)
{
    char text[KEYSTORE_META_MAX];

    if (ks->ops->meta_set == NULL)
        return err_set(e, ERR_INTERNAL, "signer: this key store cannot bind keys");
    if (b->issuer_len > FIELD_MAX || b->keyid_len > FIELD_MAX)
        return err_set(e, ERR_INVALID, "signer: issuer name or key identifier too long");
    snprintf(text, sizeof(text), "purpose %s\n", key_purpose_name(b->purpose));
    if (b->issuer != NULL)
        hex_append(text, sizeof(text), "issuer", b->issuer, b->issuer_len);
    if (b->keyid != NULL)
        hex_append(text, sizeof(text), "keyid", b->keyid, b->keyid_len);
    if (ks->ops->meta_set(ks, tenant, key_id, text, e) != 0)
        return -1;
    cache_put(tenant, key_id, b);
    return 0;
}

/* A refusal: logged here, queued for the tenant's audit chain, and the error for the peer. */
static int refuse(struct err *e, const char *tenant, const char *key_id, const char *why,
                  const char *kind, enum key_purpose purpose)
{
    char object[300], detail[400];

    snprintf(object, sizeof(object), "%s/%s", tenant, key_id);
    snprintf(detail, sizeof(detail), "{\"purpose\":\"%s\",\"refused\":\"%s\",\"why\":\"%s\"}",
             key_purpose_name(purpose), kind, why);
    log_warn("signer: refused: key %s of tenant %s (purpose %s) to sign a %s: %s", key_id, tenant,
             key_purpose_name(purpose), kind, why);
    keystore_event("key.refused", object, detail);
    return err_set(e, ERR_FORBIDDEN, "signer: key %s is bound to purpose %s: %s", key_id,
                   key_purpose_name(purpose), why);
}

/* The purposes this node's roles use (keys.h, KEY_PURPOSES_LIMITED); 0: every one. */
static unsigned node_purposes;

void signer_bind_roles(unsigned purposes)
{
    node_purposes = purposes;
}

int signer_node_allows(enum key_purpose p)
{
    return node_purposes == 0 || (p != KEY_PURPOSE_NONE && ((node_purposes >> p) & 1u));
}

int signer_bind_set(struct keystore *ks, const char *tenant, const char *key_id,
                    enum key_purpose purpose, struct err *e)
{
    struct binding b;
    int rc;

    if (purpose == KEY_PURPOSE_NONE)
        return err_set(e, ERR_INVALID, "signer: unknown key purpose");
    if (!signer_node_allows(purpose))
        return err_set(e, ERR_FORBIDDEN,
                       "signer: this node's roles (settings services and jobs) use no %s keys",
                       key_purpose_name(purpose));
    if (binding_read(ks, tenant, key_id, &b, e) != 0)
        return -1;
    if (b.purpose == purpose) {
        binding_clear(&b);
        return 0;
    }
    if (b.purpose != KEY_PURPOSE_NONE) {
        enum key_purpose had = b.purpose;
        binding_clear(&b);
        return err_set(e, ERR_CONFLICT, "key %s is bound to purpose %s, not %s", key_id,
                       key_purpose_name(had), key_purpose_name(purpose));
    }
    b.purpose = purpose;
    rc = binding_write(ks, tenant, key_id, &b, e);
    if (rc == 0)
        log_info("signer: key %s of tenant %s bound to purpose %s", key_id, tenant,
                 key_purpose_name(purpose));
    binding_clear(&b);
    return rc;
}

/* Which purposes may sign a kind (tbs_kind(), or the signer's own kinds). */
static int purpose_allows(enum key_purpose p, const char *kind)
{
    static const struct {
        const char *kind;
        unsigned purposes;
    } table[] = {
        {"certificate", 1u << KEY_PURPOSE_CA},
        {"CRL", 1u << KEY_PURPOSE_CA},
        {"offline bundle", 1u << KEY_PURPOSE_CA},
        {"OCSP response", 1u << KEY_PURPOSE_CA | 1u << KEY_PURPOSE_OCSP},
        /* A CSR is signed by the key it asks a certificate for. */
        {"CSR", 1u << KEY_PURPOSE_CA | 1u << KEY_PURPOSE_OCSP | 1u << KEY_PURPOSE_TSA |
                    1u << KEY_PURPOSE_RA},
        {"TSTInfo", 1u << KEY_PURPOSE_TSA},
        {"audit checkpoint", 1u << KEY_PURPOSE_AUDIT},
        {"webhook secret", 1u << KEY_PURPOSE_WEBHOOK},
        {"EAB key", 1u << KEY_PURPOSE_EAB},
        {"CMP response", 1u << KEY_PURPOSE_RA},
        {"SCEP CertRep", 1u << KEY_PURPOSE_RA},
        {"SCEP envelope key", 1u << KEY_PURPOSE_RA},
        {"CMP secret", 1u << KEY_PURPOSE_CMP_SECRET},
    };

    for (size_t i = 0; i < ARRAY_LEN(table); i++)
        if (strcmp(table[i].kind, kind) == 0)
            return (table[i].purposes >> p) & 1u;
    return 0;
}

/* Whether a CA key's certificate or CRL fits the issuer it signs as; binds it the first time. */
static int issuer_check(struct keystore *ks, const char *tenant, const char *key_id,
                        struct binding *b, const char *kind, const unsigned char *data, size_t len,
                        struct err *e)
{
    X509_NAME *issuer = NULL, *bound = NULL;
    ASN1_OCTET_STRING *keyid = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    int n, changed = 0, rc = -1;

    if (tbs_issuer(data, len, &issuer, &keyid) != 0 || (n = i2d_X509_NAME(issuer, &der)) <= 0) {
        err_set(e, ERR_INVALID, "signer: the %s's issuer does not decode", kind);
        goto out;
    }
    if (b->issuer == NULL) {
        b->issuer = dup_bytes(der, (size_t)n);
        b->issuer_len = (size_t)n;
        changed = 1;
    } else {
        p = b->issuer;
        bound = d2i_X509_NAME(NULL, &p, (long)b->issuer_len);
        if (bound == NULL || X509_NAME_cmp(bound, issuer) != 0) {
            refuse(e, tenant, key_id, "its issuer is not the CA this key signs as", kind,
                   b->purpose);
            goto out;
        }
    }
    if (keyid != NULL) {
        const unsigned char *k = ASN1_STRING_get0_data(keyid);
        size_t klen = (size_t)ASN1_STRING_length(keyid);
        if (b->keyid == NULL) {
            b->keyid = dup_bytes(k, klen);
            b->keyid_len = klen;
            changed = 1;
        } else if (b->keyid_len != klen || memcmp(b->keyid, k, klen) != 0) {
            refuse(e, tenant, key_id, "its authority key identifier is not this CA key's", kind,
                   b->purpose);
            goto out;
        }
    }
    rc = changed ? binding_write(ks, tenant, key_id, b, e) : 0;
    if (rc == 0 && changed)
        log_info("signer: CA key %s of tenant %s bound to the issuer it signs as", key_id, tenant);
out:
    X509_NAME_free(issuer);
    X509_NAME_free(bound);
    ASN1_OCTET_STRING_free(keyid);
    OPENSSL_free(der);
    return rc;
}

int signer_bind_check(struct keystore *ks, const char *tenant, const char *key_id, const char *kind,
                      const unsigned char *data, size_t len, struct err *e)
{
    struct binding b;
    int rc = 0;

    if (binding_read(ks, tenant, key_id, &b, e) != 0)
        return -1;
    if (!signer_node_allows(b.purpose)) {
        rc = refuse(e, tenant, key_id,
                    "this node's roles (settings services and jobs) use no keys of this purpose",
                    kind, b.purpose);
        binding_clear(&b);
        return rc;
    }
    if (b.purpose == KEY_PURPOSE_NONE)
        return 0;
    if (!purpose_allows(b.purpose, kind))
        rc = refuse(e, tenant, key_id, "not what its purpose signs", kind, b.purpose);
    else if (strcmp(kind, "OCSP response") == 0 && data != NULL) {
        /* A response naming its responder by key must name this key. */
        unsigned char named[20];
        if (tbs_ocsp_responder_key_hash(data, len, named) == 1) {
            if (!b.have_key_hash && (rc = key_hash_of(ks, tenant, key_id, b.key_hash, e)) == 0) {
                b.have_key_hash = 1;
                cache_put_key_hash(tenant, key_id, b.key_hash);
            }
            if (rc == 0 && memcmp(named, b.key_hash, 20) != 0)
                rc =
                    refuse(e, tenant, key_id, "its responderID names another key", kind, b.purpose);
        }
    } else if (b.purpose == KEY_PURPOSE_CA && data != NULL &&
               (strcmp(kind, "certificate") == 0 || strcmp(kind, "CRL") == 0)) {
        if (b.issuer != NULL && b.keyid != NULL) {
            rc = issuer_check(ks, tenant, key_id, &b, kind, data, len, e);
        } else {
            /* It may bind: one signature at a time, each on the binding the one before left
               (two first signatures at once must not each take their own issuer). */
            pthread_mutex_lock(&first_use_lock);
            binding_clear(&b);
            rc = binding_read(ks, tenant, key_id, &b, e);
            if (rc == 0)
                rc = issuer_check(ks, tenant, key_id, &b, kind, data, len, e);
            pthread_mutex_unlock(&first_use_lock);
        }
    }
    binding_clear(&b);
    return rc;
}

int signer_bind_purpose(struct keystore *ks, const char *tenant, const char *key_id,
                        enum key_purpose *purpose, struct err *e)
{
    struct binding b;

    if (binding_read(ks, tenant, key_id, &b, e) != 0)
        return -1;
    *purpose = b.purpose;
    binding_clear(&b);
    return 0;
}
