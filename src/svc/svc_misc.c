/* svc_misc.c — profile documents and end entities, each change audited. */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

int svc_profile_put(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                    const char *json, int create, int *version, struct err *e)
{
    struct profile *parsed;
    struct profile_rec *existing = NULL;
    struct store_tx *tx;
    char *detail;
    int exists, rc = -1;

    if (!name_valid(name))
        return err_set(e, ERR_INVALID,
                       "name: 1-63 characters of a-z 0-9 - _ . starting with a letter or digit");
    if ((parsed = profile_parse(json, e)) == NULL)
        return -1;
    profile_free(parsed);
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    exists = store_profile_get(tx, tenant, name, 0, &existing, NULL) == 0;
    profile_rec_free(existing);
    if (create && exists) {
        err_set(e, ERR_CONFLICT, "profile %s exists (use PUT for a new version)", name);
        goto out;
    }
    if (!create && !exists) {
        err_set(e, ERR_NOT_FOUND, "profile %s not found", name);
        goto out;
    }
    if (store_profile_put(tx, tenant, name, json, version, e) != 0)
        goto out;
    detail = xasprintf("{\"version\":%d}", *version);
    rc = svc_audit_ok(tx, tenant, a, create ? "profile.create" : "profile.update", name, detail, e);
    free(detail);
    if (rc == 0) {
        rc = store_commit(tx, e);
        tx = NULL;
    }
out:
    store_rollback(tx);
    return rc;
}

int svc_profile_clone(struct svc *s, const struct actor *a, const char *tenant, const char *from,
                      const char *to, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct profile_rec *src = NULL;
    int version, rc;

    if (tx == NULL)
        return -1;
    rc = store_profile_get(tx, tenant, from, 0, &src, e);
    store_rollback(tx);
    if (rc != 0)
        return err_set(e, ERR_NOT_FOUND, "profile %s not found", from);
    rc = svc_profile_put(s, a, tenant, to, src->json, 1, &version, e);
    profile_rec_free(src);
    return rc;
}

static int entity_validate(const struct entity_rec *r, struct err *e)
{
    if (r->name == NULL || r->name[0] == '\0' || strlen(r->name) > 256)
        return err_set(e, ERR_INVALID, "name: required, at most 256 characters");
    if (r->kind == NULL || (strcmp(r->kind, "user") != 0 && strcmp(r->kind, "device") != 0 &&
                            strcmp(r->kind, "service") != 0))
        return err_set(e, ERR_INVALID, "kind: one of user, device, service");
    if (r->email != NULL && (strchr(r->email, '@') == NULL || strlen(r->email) > 256))
        return err_set(e, ERR_INVALID, "email: not an e-mail address");
    return 0;
}

int svc_entity_put(struct svc *s, const struct actor *a, const char *tenant,
                   const struct entity_rec *in, int create, struct entity_rec **out, struct err *e)
{
    struct entity_rec r = *in, *old = NULL;
    struct store_tx *tx;
    char *id = NULL;
    int rc = -1;

    if (entity_validate(in, e) != 0)
        return -1;
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    r.tenant = (char *)tenant;
    r.metadata_json = in->metadata_json ? in->metadata_json : "{}";
    if (create) {
        r.id = id = random_id("ent");
        r.created = time_now();
        rc = store_entity_insert(tx, tenant, &r, e);
    } else if (store_entity_get(tx, tenant, in->id, &old, e) != 0) {
        err_set(e, ERR_NOT_FOUND, "entity %s not found", in->id);
    } else {
        r.created = old->created;
        rc = store_entity_update(tx, tenant, &r, e);
    }
    if (rc == 0)
        rc = svc_audit_ok(tx, tenant, a, create ? "entity.create" : "entity.update", r.id, NULL, e);
    if (rc == 0) {
        rc = store_commit(tx, e);
        tx = NULL;
    }
    store_rollback(tx);
    if (rc == 0)
        *out = entity_rec_dup(&r);
    entity_rec_free(old);
    free(id);
    return rc;
}

/* ---- reading profiles and end entities --------------------------------- */

int svc_profile_list(struct svc *s, const char *tenant, struct profile_rec ***out, size_t *n,
                     struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_profile_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_profile_get(struct svc *s, const char *tenant, const char *name, int version,
                    struct profile_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_profile_get(tx, tenant, name, version, out, e);
    store_rollback(tx);
    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "profile %s%s not found", name, version > 0 ? " version" : "");
    return rc;
}

int svc_entity_search(struct svc *s, const char *tenant, const struct entity_query *q,
                      struct entity_rec ***out, size_t *n, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_entity_search(tx, tenant, q, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_entity_get(struct svc *s, const char *tenant, const char *id, struct entity_rec **out,
                   char ***serials, size_t *nserials, struct err *e)
{
    struct cert_query q = {.entity_id = id, .limit = 1000};
    struct store_tx *tx = store_begin_read(s->store, e);
    struct entity_rec *rec = NULL;
    struct cert_rec **certs = NULL;
    size_t n = 0;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_entity_get(tx, tenant, id, &rec, e);
    if (rc == 0)
        rc = store_cert_search(tx, tenant, &q, &certs, &n, e);
    store_rollback(tx);
    if (rc != 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "entity %s not found", id);
        entity_rec_free(rec);
        return -1;
    }
    *serials = xcalloc(n + 1, sizeof(**serials));
    for (size_t i = 0; i < n; i++)
        (*serials)[i] = xstrdup(certs[i]->serial);
    *nserials = n;
    *out = rec;
    cert_rec_list_free(certs, n);
    return 0;
}
