/*
 * keystore_tenant.c — tenants with a token of their own (see keystore.h).
 *
 * Every operation names its tenant; a tenant listed in the map goes to its
 * own store (its token, logged in with its own PIN), every other tenant to
 * the shared store, where it has its own label namespace.  The stores never
 * see each other's requests, so one tenant's token cannot serve another.
 */
#include "keys/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route {
    char *tenant;
    struct keystore *ks;
};

struct tenant_store {
    struct keystore base;
    struct keystore *shared;
    struct route *routes;
    int n;
};

/* The store that holds tenant's keys. */
static struct keystore *route(struct keystore *ks, const char *tenant)
{
    struct tenant_store *s = (struct tenant_store *)ks;

    for (int i = 0; tenant != NULL && i < s->n; i++)
        if (strcmp(s->routes[i].tenant, tenant) == 0)
            return s->routes[i].ks;
    return s->shared;
}

static int t_generate(struct keystore *ks, const char *tenant, enum key_type type, char **key_id,
                      EVP_PKEY **pub, struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->generate(r, tenant, type, key_id, pub, e);
}

static int t_import(struct keystore *ks, const char *tenant, EVP_PKEY *key, char **key_id,
                    struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->import(r, tenant, key, key_id, e);
}

static EVP_PKEY *t_load(struct keystore *ks, const char *tenant, const char *key_id, struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->load(r, tenant, key_id, e);
}

static int t_destroy(struct keystore *ks, const char *tenant, const char *key_id, struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->destroy(r, tenant, key_id, e);
}

static int t_sign(struct keystore *ks, const char *tenant, const char *key_id, const char *md,
                  const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
                  struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->sign(r, tenant, key_id, md, data, len, sig, sig_len, e);
}

static int t_decrypt(struct keystore *ks, const char *tenant, const char *key_id,
                     const unsigned char *in, size_t len, unsigned char **out, size_t *out_len,
                     struct err *e)
{
    struct keystore *r = route(ks, tenant);

    if (r->ops->decrypt == NULL)
        return err_set(e, ERR_INTERNAL, "this key store does not decrypt");
    return r->ops->decrypt(r, tenant, key_id, in, len, out, out_len, e);
}

static int t_list(struct keystore *ks, const char *tenant, char **ids, int max, struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->list(r, tenant, ids, max, e);
}

static int t_meta_get(struct keystore *ks, const char *tenant, const char *key_id, char *buf,
                      size_t len, struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->meta_get(r, tenant, key_id, buf, len, e);
}

static int t_meta_set(struct keystore *ks, const char *tenant, const char *key_id, const char *text,
                      struct err *e)
{
    struct keystore *r = route(ks, tenant);

    return r->ops->meta_set(r, tenant, key_id, text, e);
}

/* Usable if the shared store is: a tenant's failed token is reported, not fatal to all. */
static int t_ping(struct keystore *ks, struct err *e)
{
    struct tenant_store *s = (struct tenant_store *)ks;

    for (int i = 0; i < s->n; i++)
        s->routes[i].ks->ops->ping(s->routes[i].ks, NULL);
    return s->shared->ops->ping(s->shared, e);
}

static void t_describe(struct keystore *ks, char *buf, size_t len)
{
    struct tenant_store *s = (struct tenant_store *)ks;
    size_t used;

    s->shared->ops->describe(s->shared, buf, len);
    for (int i = 0; i < s->n && (used = strlen(buf)) + 1 < len; i++) {
        char d[300];
        s->routes[i].ks->ops->describe(s->routes[i].ks, d, sizeof(d));
        snprintf(buf + used, len - used, "; tenant %s %s", s->routes[i].tenant, d);
    }
}

static void t_close(struct keystore *ks)
{
    struct tenant_store *s = (struct tenant_store *)ks;

    for (int i = 0; i < s->n; i++) {
        s->routes[i].ks->ops->close(s->routes[i].ks);
        free(s->routes[i].tenant);
    }
    s->shared->ops->close(s->shared);
    free(s->routes);
    free(s);
}

static const struct keystore_ops tenant_ops = {
    .generate = t_generate,
    .import = t_import,
    .load = t_load,
    .destroy = t_destroy,
    .ping = t_ping,
    .close = t_close,
    .sign = t_sign,
    .decrypt = t_decrypt,
    .describe = t_describe,
    .list = t_list,
    .meta_get = t_meta_get,
    .meta_set = t_meta_set,
};

struct keystore *keystore_tenant_open(struct keystore *shared)
{
    struct tenant_store *s = xcalloc(1, sizeof(*s));

    s->base.ops = &tenant_ops;
    s->shared = shared;
    return &s->base;
}

void keystore_tenant_add(struct keystore *ks, const char *tenant, struct keystore *own)
{
    struct tenant_store *s = (struct tenant_store *)ks;

    s->routes = xrealloc(s->routes, (size_t)(s->n + 1) * sizeof(*s->routes));
    s->routes[s->n].tenant = xstrdup(tenant);
    s->routes[s->n].ks = own;
    s->n++;
}

int keystore_tenant_map_parse(const char *map, char ***tenants, char ***labels, struct err *e)
{
    char *copy = xstrdup(map), *save = NULL, *item;
    int n = 0;

    *tenants = NULL;
    *labels = NULL;
    for (item = strtok_r(copy, " ,", &save); item != NULL; item = strtok_r(NULL, " ,", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL || eq == item || eq[1] == '\0') {
            err_set(e, ERR_INVALID, "pkcs11_tenant_tokens: \"%s\" is not TENANT=LABEL", item);
            goto fail;
        }
        *eq = '\0';
        if (!name_valid(item) || strlen(eq + 1) > 32) {
            err_set(e, ERR_INVALID,
                    "pkcs11_tenant_tokens: %s: a tenant name and a token label of at most 32 "
                    "bytes",
                    item);
            goto fail;
        }
        for (int i = 0; i < n; i++)
            if (strcmp((*tenants)[i], item) == 0) {
                err_set(e, ERR_INVALID, "pkcs11_tenant_tokens: tenant %s twice", item);
                goto fail;
            }
        *tenants = xrealloc(*tenants, (size_t)(n + 1) * sizeof(char *));
        *labels = xrealloc(*labels, (size_t)(n + 1) * sizeof(char *));
        (*tenants)[n] = xstrdup(item);
        (*labels)[n] = xstrdup(eq + 1);
        n++;
    }
    free(copy);
    return n;
fail:
    for (int i = 0; i < n; i++) {
        free((*tenants)[i]);
        free((*labels)[i]);
    }
    free(*tenants);
    free(*labels);
    *tenants = *labels = NULL;
    free(copy);
    return -1;
}
