/*
 * svc_health.c — what cannot sign: active TSA units and OCSP responders whose
 * key the signer's store no longer holds (issue 23, point 4).  The scheduler
 * looks (svc_signing_check) and /readyz reports what it found, naming each
 * unit, until the key is back or the unit replaced (a responder is: the next
 * OCSP signature makes a new one).  A node looks only at what its roles serve:
 * TSA units if it runs the TSA, responders if it answers or pre-signs OCSP.
 */
#include "svc/svc_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static pthread_mutex_t problems_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether the signer lists key_id among keys[0..n-1]. */
static int key_listed(const struct signer_key_info *keys, int n, const char *key_id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i].key_id, key_id) == 0)
            return 1;
    return 0;
}

/* Appends "<what>:<tenant>/<name>: its key <id> is not in the key store" to problems. */
static void problem_add(json_t *problems, const char *what, const char *tenant, const char *name,
                        const char *key_id)
{
    char *text =
        xasprintf("%s:%s/%s: its key %s is not in the key store", what, tenant, name, key_id);

    json_array_append_new(problems, json_string(text));
    free(text);
}

/* The problems of one tenant's units into problems; -1 with e set on a store or signer error. */
static int tenant_check(struct svc *s, const char *tenant, json_t *problems, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct signer_key_info *keys = NULL;
    struct tsa_unit_rec **units = NULL;
    struct ca_rec **cas = NULL;
    size_t nunits = 0, ncas = 0;
    json_t *responders = json_object(); /* CA name -> responder key id */
    const char *ca;
    json_t *v;
    int nkeys = 0, rc = -1;

    if (tx == NULL)
        goto out;
    if ((!s->skip_tsa_units && store_tsa_unit_list(tx, tenant, &units, &nunits, e) != 0) ||
        (!s->skip_responders && store_ca_list(tx, tenant, &cas, &ncas, e) != 0)) {
        store_rollback(tx);
        goto out;
    }
    for (size_t i = 0; i < ncas; i++) {
        struct ocsp_responder_rec *r = NULL;
        struct err re;
        if (store_ocsp_responder_get(tx, tenant, cas[i]->name, &r, &re) == 0)
            json_object_set_new(responders, cas[i]->name, json_string(r->key_id));
        ocsp_responder_rec_free(r);
    }
    store_rollback(tx);
    if ((nunits == 0 && json_object_size(responders) == 0) ||
        signer_key_list(s->signer, tenant, &keys, &nkeys, e) != 0) {
        rc = nunits == 0 && json_object_size(responders) == 0 ? 0 : -1;
        goto out;
    }
    for (size_t i = 0; i < nunits; i++)
        if (strcmp(units[i]->status, "active") == 0 && !key_listed(keys, nkeys, units[i]->key_id))
            problem_add(problems, "tsa", tenant, units[i]->name, units[i]->key_id);
    json_object_foreach(responders, ca, v)
    {
        if (!key_listed(keys, nkeys, json_string_value(v)))
            problem_add(problems, "ocsp-responder", tenant, ca, json_string_value(v));
    }
    rc = 0;
out:
    signer_key_list_free(keys, nkeys);
    tsa_unit_rec_list_free(units, nunits);
    for (size_t i = 0; i < ncas; i++)
        ca_rec_free(cas[i]);
    free(cas);
    json_decref(responders);
    return rc;
}

int svc_signing_check(struct svc *s, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct tenant_rec **tenants = NULL;
    json_t *problems = json_array();
    size_t n = 0;
    int rc;

    if (tx == NULL) {
        json_decref(problems);
        return -1;
    }
    rc = store_tenant_list(tx, &tenants, &n, e);
    store_rollback(tx);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (strcmp(tenants[i]->status, "deleted") != 0 &&
            strcmp(tenants[i]->status, "purged") != 0 &&
            tenant_check(s, tenants[i]->name, problems, e) != 0)
            rc = -1;
    for (size_t i = 0; i < n; i++)
        tenant_rec_free(tenants[i]);
    free(tenants);
    if (rc != 0) { /* keep what was known: a failed look is the database's or signer's story */
        json_decref(problems);
        return -1;
    }
    pthread_mutex_lock(&problems_lock);
    if (s->signing_problems == NULL ? json_array_size(problems) > 0
                                    : !json_equal(problems, s->signing_problems)) {
        if (json_array_size(problems) > 0) {
            char *text = json_dumps(problems, JSON_COMPACT);
            log_warn("signing units: %s", text);
            free(text);
        } else if (s->signing_problems != NULL)
            log_info("signing units: every unit's key is in the key store again");
    }
    json_decref(s->signing_problems);
    s->signing_problems = problems;
    pthread_mutex_unlock(&problems_lock);
    return (int)json_array_size(problems);
}

json_t *svc_signing_problems(struct svc *s)
{
    json_t *copy;

    pthread_mutex_lock(&problems_lock);
    copy = s->signing_problems ? json_deep_copy(s->signing_problems) : json_array();
    pthread_mutex_unlock(&problems_lock);
    return copy;
}
