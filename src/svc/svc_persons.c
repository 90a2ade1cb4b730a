/*
 * svc_persons.c - who stands behind a credential (issue 23).
 *
 * An approval is worth what the people behind it are.  A token made by one
 * principal for another can be used by either; a role bound by one principal
 * to another after a request was made lets the binder pick its approvers.  So
 * an actor counts here as a set of persons: its principal (or, for vouch
 * itself, its actor name), the creators recorded on the token it used
 * (token_rec.creators) and, when it approves, whoever bound one of its roles
 * in the tenant since the request was made.  (A TLS client certificate is
 * proven with a private key that whoever mapped it to the principal never
 * sees: it counts for its principal alone.)
 * svc_ra.c refuses an approval whose persons meet the requester's or those of
 * an approval given already.
 */
#include <string.h>

#include "svc/svc_internal.h"

/* Adds string v to array set unless it is there already (or empty). */
static void set_add(json_t *set, const char *v)
{
    size_t i;
    json_t *x;

    if (v == NULL || v[0] == '\0')
        return;
    json_array_foreach(set, i, x) if (strcmp(json_string_value(x), v) == 0) return;
    json_array_append_new(set, json_string(v));
}

/* Adds the strings of JSON array text `creators` (NULL or not an array: none). */
static void set_add_text(json_t *set, const char *creators)
{
    json_t *list = creators ? json_loads(creators, 0, NULL) : NULL;
    size_t i;
    json_t *x;

    json_array_foreach(list, i, x) if (json_is_string(x)) set_add(set, json_string_value(x));
    json_decref(list);
}

json_t *svc_actor_persons(const struct actor *a)
{
    json_t *set = json_array();

    set_add(set, svc_actor_who(a));
    if (a != NULL)
        set_add_text(set, a->creators);
    return set;
}

char *svc_creators_for(const struct actor *a, const char *principal)
{
    json_t *set = svc_actor_persons(a), *out = json_array();
    size_t i;
    json_t *x;
    char *text;

    json_array_foreach(set, i, x) if (strcmp(json_string_value(x), principal) != 0)
        json_array_append(out, x);
    json_decref(set);
    text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

int svc_approver_persons(struct store_tx *tx, const char *tenant, const struct actor *a,
                         int64_t since_us, json_t **out, struct err *e)
{
    static const char *const homes[] = {NULL, "_system"};
    json_t *set = svc_actor_persons(a);
    struct binding_rec **b = NULL;
    size_t nb = 0;

    for (size_t h = 0; a != NULL && a->principal != NULL && h < ARRAY_LEN(homes); h++) {
        if (store_binding_list(tx, tenant, homes[h] ? homes[h] : tenant, a->principal, &b, &nb,
                               e) != 0) {
            json_decref(set);
            return -1;
        }
        for (size_t i = 0; i < nb; i++)
            if (b[i]->granted >= since_us)
                set_add(set, b[i]->granted_by);
        binding_rec_list_free(b, nb);
        b = NULL;
    }
    *out = set;
    return 0;
}

const char *svc_persons_meet(const json_t *x, const json_t *y)
{
    size_t i, j;
    json_t *u, *v;

    json_array_foreach(x, i, u)
        json_array_foreach(y, j, v) if (json_equal(u, v)) return json_string_value(u);
    return NULL;
}
