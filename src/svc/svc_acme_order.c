/*
 * svc_acme_order.c — ACME orders, authorizations and their challenges,
 * finalization through the one door, certificate download, revocation and
 * renewal information (RFC 8555 sections 7.1-7.6, RFC 9773), behind the
 * front end in src/acme.  Nothing here waits on the network: the front end
 * runs validations and reports them (svc_acme_challenge_finish).
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <sys/socket.h>

/* ---- orders and authorizations ------------------------------------------------------ */

#define IDENTIFIERS_MAX 100

/* A token for a challenge: 256 random bits, base64url (RFC 8555 section 8.1). */
static char *token_new(void)
{
    unsigned char raw[32];

    if (random_bytes(raw, sizeof(raw)) != 0)
        return NULL;
    return base64url_encode(raw, sizeof(raw));
}

/* One identifier of newOrder: its type and value as allowed by the endpoint. */
static int identifier_read(const struct svc_acme_settings *st, const json_t *o, size_t i,
                           const char **type, const char **value, int *wildcard, struct err *e)
{
    *type = json_string_value(json_object_get(o, "type"));
    *value = json_string_value(json_object_get(o, "value"));
    *wildcard = 0;
    if (!json_is_object(o) || *type == NULL || *value == NULL || **value == '\0' ||
        strlen(*value) > 253)
        return err_setc(e, ERR_INVALID, "malformed", "identifiers[%zu]: {\"type\", \"value\"}", i);
    if (strcmp(*type, "dns") == 0) {
        if (!st->allow_dns)
            return err_setc(e, ERR_POLICY, "rejectedIdentifier",
                            "identifiers[%zu]: this endpoint issues for no DNS name", i);
        if (strspn(*value, "abcdefghijklmnopqrstuvwxyz0123456789-.*") != strlen(*value))
            return err_setc(e, ERR_INVALID, "rejectedIdentifier",
                            "identifiers[%zu]: \"%.64s\" is not a lower-case DNS name", i, *value);
        if (strncmp(*value, "*.", 2) == 0) {
            if (!st->allow_wildcard)
                return err_setc(e, ERR_POLICY, "rejectedIdentifier",
                                "identifiers[%zu]: this endpoint issues no wildcard names", i);
            *wildcard = 1;
        }
        return 0;
    }
    if (strcmp(*type, "ip") == 0) {
        if (!st->allow_ip)
            return err_setc(e, ERR_POLICY, "rejectedIdentifier",
                            "identifiers[%zu]: this endpoint issues for no IP address (RFC 8738)",
                            i);
        return 0;
    }
    return err_setc(e, ERR_INVALID, "unsupportedIdentifier",
                    "identifiers[%zu]: type \"%.32s\": dns or ip", i, *type);
}

/* A subproblem (RFC 8555 section 6.7.1) of the identifier o, from e. */
static json_t *subproblem(const json_t *o, const struct err *e)
{
    char *type = xasprintf("urn:ietf:params:acme:error:%s", svc_acme_problem_code(e));
    json_t *p = json_pack("{s:s, s:s}", "type", type, "detail", e->msg);

    if (json_is_object(o))
        json_object_set_new(p, "identifier", json_deep_copy(o));
    free(type);
    return p;
}

/*
 * One identifier against the endpoint and the profile's name rules: 0 and its
 * SAN text appended to sans, or -1 with e.
 */
static int identifier_check(const struct svc_acme_settings *st, const struct profile *p,
                            const json_t *ids, size_t i, json_t *sans, struct err *e)
{
    const json_t *v = json_array_get(ids, i);
    struct issue_request r = {0};
    const char *type, *value;
    json_t *one;
    int wildcard, rc;

    if (identifier_read(st, v, i, &type, &value, &wildcard, e) != 0)
        return -1;
    for (size_t j = 0; j < i; j++)
        if (json_equal(v, json_array_get(ids, j)))
            return err_setc(e, ERR_INVALID, "malformed", "identifiers[%zu]: given twice", i);
    one = json_pack("[o]", json_sprintf("%s:%s", type, value));
    rc = issue_request_from_json(&r, "", one, e) == 0 && profile_check_sans(p, r.sans, e) == 0
             ? 0
             : err_recode(e, ERR_POLICY, "rejectedIdentifier");
    if (rc == 0)
        json_array_extend(sans, one);
    json_decref(one);
    issue_request_clear(&r);
    return rc;
}

/*
 * The identifiers of newOrder checked against the endpoint and the profile's
 * name rules (as the certificate will be), each alone and then together:
 * *sans their SAN texts ("dns:a.example", "ip:192.0.2.1"), a new reference.
 * When several are refused, e says how many and *subs (if not NULL) gets
 * their problems (a new reference).
 */
static int identifiers_check(struct svc *s, const char *tenant, const struct svc_acme_settings *st,
                             const char *profile, const json_t *ids, json_t **sans, json_t **subs,
                             struct err *e)
{
    struct issue_request r = {0};
    struct profile *p = NULL;
    json_t *problems = json_array();
    struct store_tx *tx;
    struct err one;
    int version, rc = -1;

    *sans = NULL;
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > IDENTIFIERS_MAX) {
        json_decref(problems);
        return err_setc(e, ERR_INVALID, "malformed", "identifiers: an array of 1 to %d",
                        IDENTIFIERS_MAX);
    }
    if ((tx = store_begin_read(s->store, e)) == NULL)
        goto out;
    p = svc_profile_load(s, tx, tenant, profile, &version, e);
    store_rollback(tx);
    if (p == NULL)
        goto out;
    *sans = json_array();
    for (size_t i = 0; i < json_array_size(ids); i++)
        if (identifier_check(st, p, ids, i, *sans, &one) != 0) {
            json_array_append_new(problems, subproblem(json_array_get(ids, i), &one));
            if (e != NULL && json_array_size(problems) == 1)
                *e = one;
        }
    if (json_array_size(problems) > 1) {
        err_setc(e, ERR_POLICY, "rejectedIdentifier", "%zu of the %zu identifiers are refused",
                 json_array_size(problems), json_array_size(ids));
        if (subs != NULL) {
            *subs = problems;
            problems = NULL;
        }
        goto out;
    }
    if (json_array_size(problems) == 1)
        goto out;
    /* Together (how many names a certificate may have, and the like). */
    if (issue_request_from_json(&r, "", *sans, e) != 0 || profile_check_sans(p, r.sans, e) != 0) {
        err_recode(e, ERR_POLICY, "rejectedIdentifier");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        json_decref(*sans);
        *sans = NULL;
    }
    json_decref(problems);
    issue_request_clear(&r);
    profile_free(p);
    return rc;
}

/* The challenges offered for an identifier (wildcards: dns-01 only; IPs: no dns-01). */
static json_t *challenges_new(const struct svc_acme_settings *st, const char *type, int wildcard)
{
    static const struct {
        int bit;
        const char *name;
    } kinds[] = {{ACME_CHALLENGE_HTTP, "http-01"},
                 {ACME_CHALLENGE_DNS, "dns-01"},
                 {ACME_CHALLENGE_ALPN, "tls-alpn-01"}};
    json_t *list = json_array();
    int ip = strcmp(type, "ip") == 0;

    for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
        char *token;
        if (!(st->challenges & kinds[i].bit) || (wildcard && kinds[i].bit != ACME_CHALLENGE_DNS) ||
            (ip && kinds[i].bit == ACME_CHALLENGE_DNS) || (token = token_new()) == NULL)
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "type", kinds[i].name, "token",
                                              token, "status", "pending"));
        free(token);
    }
    return list;
}

/* The authorization of one identifier for the new order: reused if allowed, else new. */
static int authz_for(struct store_tx *tx, const struct acme_account_rec *acct,
                     const struct svc_acme_settings *st, const char *type, const char *value,
                     int wildcard, json_t *ids_out, int *all_valid, struct err *e)
{
    const char *bare = wildcard ? value + 2 : value;
    struct acme_authz_rec *old = NULL;
    struct acme_authz_rec r = {.endpoint = acct->endpoint,
                               .account = acct->id,
                               .ident_type = (char *)type,
                               .ident_value = (char *)bare,
                               .wildcard = wildcard,
                               .status = "pending",
                               .created = time_now()};
    int rc;

    if (st->authz_reuse_seconds > 0 &&
        store_acme_authz_reusable(tx, acct->tenant, acct->endpoint, acct->id, type, bare, wildcard,
                                  time_now() + 3600, &old, NULL) == 0) {
        json_array_append_new(ids_out, json_string(old->id));
        acme_authz_rec_free(old);
        return 0;
    }
    *all_valid = 0;
    r.id = random_id("authz");
    r.updated = r.created;
    r.expires = r.created + st->authz_seconds;
    {
        json_t *list = challenges_new(st, type, wildcard);
        r.challenges = json_dumps(list, JSON_COMPACT);
        json_decref(list);
    }
    if (r.id == NULL || r.challenges == NULL || strcmp(r.challenges, "[]") == 0)
        rc = err_setc(e, ERR_POLICY, "rejectedIdentifier",
                      "%s: no challenge of this endpoint can prove it", value);
    else
        rc = store_acme_authz_insert(tx, acct->tenant, &r, e);
    if (rc == 0)
        json_array_append_new(ids_out, json_string(r.id));
    free(r.id);
    free(r.challenges);
    return rc;
}

/* The order's audit event (actor: its account), in tx. */
static int order_audit(struct store_tx *tx, const struct acme_account_rec *acct,
                       const struct acme_order_rec *o, const char *action, struct err *e)
{
    struct actor a;
    json_t *d = json_pack("{s:s, s:s, s:s, s:s?}", "endpoint", o->endpoint, "status", o->status,
                          "profile", o->profile, "serial", o->serial);
    char *detail;
    int rc;

    json_object_set_new(d, "identifiers", json_loads(o->identifiers, 0, NULL));
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    svc_acme_actor(acct, &a);
    rc = svc_audit_ok(tx, acct->tenant, &a, action, o->id, detail, e);
    free(detail);
    json_decref(d);
    return rc;
}

/*
 * Whether an account bound to an EAB credential may order under profile: the
 * credential's profiles, when it names some (docs/api.md, "External Account
 * Binding").
 */
static int eab_profile_check(struct svc *s, const struct acme_account_rec *acct,
                             const char *profile, struct err *e)
{
    struct acme_eab_rec *r = NULL;
    struct store_tx *tx;
    json_t *st, *list, *v;
    int ok = 1, rc;
    size_t i;

    if (acct->eab_kid == NULL)
        return 0;
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_acme_eab_get(tx, acct->tenant, acct->endpoint, acct->eab_kid, &r, e);
    store_rollback(tx);
    if (rc != 0)
        return e != NULL && e->kind == ERR_NOT_FOUND ? 0 : -1;
    st = json_loads(r->settings, 0, NULL);
    list = json_object_get(st, "profiles");
    if (json_is_array(list) && json_array_size(list) > 0) {
        ok = 0;
        json_array_foreach(list, i, v) ok |=
            json_is_string(v) && strcmp(json_string_value(v), profile) == 0;
    }
    json_decref(st);
    acme_eab_rec_free(r);
    return ok ? 0
              : err_setc(e, ERR_FORBIDDEN, "invalidProfile",
                         "profile %s: not one this account's external binding allows", profile);
}

/* A new order with its authorizations and audit event, filed in the group commit's tx. */
struct order_write {
    const struct acme_account_rec *acct;
    const struct svc_acme_settings *st;
    const json_t *identifiers;
    struct acme_order_rec *o; /* status and authzs set here (authzs: caller frees) */
};

static int order_new_fn(struct store_tx *tx, void *arg, struct err *e)
{
    struct order_write *w = arg;
    json_t *authzs = json_array(), *v;
    const char *type, *value;
    int wildcard, all_valid = 1, rc = -1;
    size_t i;

    json_array_foreach(w->identifiers, i, v)
    {
        identifier_read(w->st, v, i, &type, &value, &wildcard, NULL);
        if (authz_for(tx, w->acct, w->st, type, value, wildcard, authzs, &all_valid, e) != 0)
            goto out;
    }
    w->o->status = all_valid ? "ready" : "pending";
    free(w->o->authzs);
    w->o->authzs = json_dumps(authzs, JSON_COMPACT);
    if (store_acme_order_insert(tx, w->acct->tenant, w->o, e) == 0 &&
        order_audit(tx, w->acct, w->o, "acme.order.create", e) == 0)
        rc = 0;
out:
    json_decref(authzs);
    return rc;
}

int svc_acme_order_new(struct svc *s, const struct acme_account_rec *acct,
                       const struct svc_acme_settings *st, const struct svc_acme_order_req *q,
                       struct acme_order_rec **out, struct err *e)
{
    struct acme_order_rec o = {.endpoint = acct->endpoint,
                               .id = random_id("ord"),
                               .account = acct->id,
                               .created = time_now()};
    struct order_write w = {acct, st, q->identifiers, &o};
    json_t *sans = NULL;
    int rc = -1;
    size_t i;

    o.profile = (char *)(q->profile ? q->profile : st->profiles[0].name);
    for (i = 0; q->profile != NULL && i < (size_t)st->nprofiles; i++)
        if (strcmp(st->profiles[i].name, q->profile) == 0)
            break;
    if (q->profile != NULL && i == (size_t)st->nprofiles) {
        err_setc(e, ERR_INVALID, "invalidProfile", "profile \"%.64s\" is not offered here",
                 q->profile);
        goto out;
    }
    if (q->not_before != 0 || q->not_after != 0) {
        err_setc(e, ERR_INVALID, "malformed",
                 "notBefore/notAfter: not taken here; the profile sets the validity");
        goto out;
    }
    if (o.id == NULL || eab_profile_check(s, acct, o.profile, e) != 0 ||
        identifiers_check(s, acct->tenant, st, o.profile, q->identifiers, &sans, q->subproblems,
                          e) != 0)
        goto out;
    o.identifiers = json_dumps(q->identifiers, JSON_COMPACT);
    o.expires = o.created + st->order_seconds;
    o.replaces = (char *)q->replaces;
    o.updated = o.created;
    if (writer_run(s->writer, order_new_fn, &w, e) == 0)
        rc = svc_acme_order_get(s, acct, o.id, out, e);
out:
    json_decref(sans);
    free(o.id);
    free(o.identifiers);
    free(o.authzs);
    return rc;
}

/* A problem document (RFC 7807) of an ACME error type, as JSON text (caller frees). */
static char *problem_text(const char *code, const char *detail)
{
    json_t *p = json_pack("{s:s, s:s}", "type", "", "detail", detail ? detail : "");
    char *type =
        xasprintf("urn:ietf:params:acme:error:%s", code && *code ? code : "serverInternal");
    char *text;

    json_object_set_new(p, "type", json_string(type));
    text = json_dumps(p, JSON_COMPACT);
    free(type);
    json_decref(p);
    return text;
}

/* The ACME error type of an error that did not come with one. */
static const char *problem_code(const struct err *e)
{
    static const char *const acme_codes[] = {"badCSR",
                                             "badNonce",
                                             "badPublicKey",
                                             "badRevocationReason",
                                             "badSignatureAlgorithm",
                                             "caa",
                                             "compound",
                                             "connection",
                                             "dns",
                                             "externalAccountRequired",
                                             "incorrectResponse",
                                             "invalidContact",
                                             "malformed",
                                             "orderNotReady",
                                             "rateLimited",
                                             "rejectedIdentifier",
                                             "serverInternal",
                                             "tls",
                                             "unauthorized",
                                             "unsupportedContact",
                                             "unsupportedIdentifier",
                                             "userActionRequired",
                                             "alreadyRevoked",
                                             "invalidProfile",
                                             "accountDoesNotExist",
                                             NULL};

    for (size_t i = 0; acme_codes[i] != NULL; i++)
        if (strcmp(e->code, acme_codes[i]) == 0)
            return acme_codes[i];
    if (strcmp(e->code, ERR_CODE_BAD_CSR) == 0)
        return "badCSR";
    switch (e->kind) {
    case ERR_INVALID:
        return "malformed";
    case ERR_UNAUTHENTICATED:
    case ERR_FORBIDDEN:
        return "unauthorized";
    case ERR_POLICY:
        return "rejectedIdentifier";
    case ERR_LIMIT:
        return "rateLimited";
    default:
        return "serverInternal";
    }
}

const char *svc_acme_problem_code(const struct err *e)
{
    return problem_code(e);
}

/*
 * The status an order has now (r->status updated, 1 if it changed): pending
 * → ready once every authorization is valid, → invalid if one failed or the
 * order expired; processing → valid or invalid once its approval request
 * was decided.  Reads in tx.
 */
static int order_settle(struct store_tx *tx, struct acme_order_rec *r, struct err *e)
{
    json_t *ids = NULL, *v;
    char *why = NULL;
    int changed = 0;
    size_t i;

    if (strcmp(r->status, "pending") == 0 || strcmp(r->status, "ready") == 0) {
        int all_valid = 1;
        ids = json_loads(r->authzs, 0, NULL);
        json_array_foreach(ids, i, v)
        {
            struct acme_authz_rec *a = NULL;
            if (store_acme_authz_get(tx, r->tenant, r->endpoint, json_string_value(v), &a, e) != 0)
                break;
            if (strcmp(a->status, "valid") != 0)
                all_valid = 0;
            if (strcmp(a->status, "pending") == 0 && a->expires <= time_now())
                why = xasprintf("authorization %s expired", a->id);
            else if (strcmp(a->status, "valid") != 0 && strcmp(a->status, "pending") != 0)
                why = xasprintf("authorization %s is %s", a->id, a->status);
            acme_authz_rec_free(a);
            if (why != NULL)
                break;
        }
        json_decref(ids);
        if (why == NULL && strcmp(r->status, "pending") == 0 && r->expires <= time_now())
            why = xstrdup("the order expired");
        if (why != NULL) {
            free(r->status);
            r->status = xstrdup("invalid");
            free(r->error);
            r->error = problem_text("unauthorized", why);
            changed = 1;
        } else if (all_valid && strcmp(r->status, "pending") == 0) {
            free(r->status);
            r->status = xstrdup("ready");
            changed = 1;
        }
    } else if (strcmp(r->status, "processing") == 0 && r->request != NULL) {
        struct request_rec *q = NULL;
        if (store_request_get(tx, r->tenant, r->request, &q, e) == 0 &&
            strcmp(q->status, "pending") != 0) {
            json_t *result = q->result ? json_loads(q->result, 0, NULL) : NULL;
            const char *serial = json_string_value(
                json_object_get(json_object_get(result, "certificate"), "serial"));
            free(r->status);
            if (strcmp(q->status, "done") == 0 && serial != NULL) {
                r->status = xstrdup("valid");
                r->serial = xstrdup(serial);
            } else {
                const char *detail =
                    json_string_value(json_object_get(json_object_get(result, "error"), "detail"));
                why = xasprintf("the issuance was %s%s%s", q->status, detail ? ": " : "",
                                detail ? detail : "");
                r->status = xstrdup("invalid");
                free(r->error);
                r->error = problem_text("unauthorized", why);
            }
            changed = 1;
            json_decref(result);
        }
        request_rec_free(q);
    }
    free(why);
    return changed;
}

static int order_save_fn(struct store_tx *tx, void *arg, struct err *e)
{
    const struct acme_order_rec *r = arg;

    return store_acme_order_update(tx, r->tenant, r, e);
}

/* Writes r's new state (status, error, serial, request) through the group commit. */
static int order_save(struct svc *s, struct acme_order_rec *r, struct err *e)
{
    r->updated = time_now();
    return writer_run(s->writer, order_save_fn, r, e);
}

int svc_acme_order_get(struct svc *s, const struct acme_account_rec *acct, const char *id,
                       struct acme_order_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct acme_order_rec *r = NULL;
    int rc, changed = 0;

    if (tx == NULL)
        return -1;
    rc = store_acme_order_get(tx, acct->tenant, acct->endpoint, id, &r, e);
    if (rc == 0 && strcmp(r->account, acct->id) != 0) {
        acme_order_rec_free(r);
        r = NULL;
        rc = err_set(e, ERR_NOT_FOUND, "not found");
    }
    if (rc == 0)
        changed = order_settle(tx, r, e);
    store_rollback(tx);
    if (rc != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_setc(e, ERR_NOT_FOUND, "malformed", "no such order");
        return -1;
    }
    if (changed && order_save(s, r, e) != 0) {
        acme_order_rec_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int svc_acme_order_list(struct svc *s, const struct acme_account_rec *acct, int limit, int offset,
                        struct acme_order_rec ***out, size_t *n, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc =
        store_acme_order_list(tx, acct->tenant, acct->endpoint, acct->id, limit, offset, out, n, e);
    store_rollback(tx);
    return rc;
}

/* Reads authorization id of the account (expired ones marked so); ERR_NOT_FOUND if another's. */
int svc_acme_authz_get(struct svc *s, const struct acme_account_rec *acct, const char *id,
                       struct acme_authz_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct acme_authz_rec *r = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_acme_authz_get(tx, acct->tenant, acct->endpoint, id, &r, e);
    store_rollback(tx);
    if (rc == 0 && strcmp(r->account, acct->id) != 0) {
        acme_authz_rec_free(r);
        rc = err_set(e, ERR_NOT_FOUND, "not found");
    }
    if (rc != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_setc(e, ERR_NOT_FOUND, "malformed", "no such authorization");
        return -1;
    }
    if ((strcmp(r->status, "pending") == 0 || strcmp(r->status, "valid") == 0) &&
        r->expires <= time_now()) {
        free(r->status);
        r->status = xstrdup("expired");
    }
    *out = r;
    return 0;
}

struct authz_write {
    const char *tenant, *endpoint, *id;
    const char *account; /* NULL: the validation's own change */
    int (*fn)(struct acme_authz_rec *, void *);
    void *arg;
    const char *action;
    struct acme_authz_rec *r; /* as read and changed (the caller frees) */
};

/* Reads the authorization, lets fn edit it, and files it with its audit event if it changed. */
static int authz_change_fn(struct store_tx *tx, void *arg, struct err *e)
{
    static const struct actor validation = {.id = "acme-validation"};
    struct authz_write *w = arg;
    struct actor a = validation;
    int changed;

    acme_authz_rec_free(w->r);
    w->r = NULL;
    if (store_acme_authz_get(tx, w->tenant, w->endpoint, w->id, &w->r, e) != 0 ||
        (w->account != NULL && strcmp(w->r->account, w->account) != 0))
        return err_setc(e, ERR_NOT_FOUND, "malformed", "no such authorization");
    if ((changed = w->fn(w->r, w->arg)) < 0)
        return err_setc(e, ERR_CONFLICT, "malformed", "authorization %s is %s", w->r->id,
                        w->r->status);
    if (!changed)
        return 0;
    w->r->updated = time_now();
    if (w->account != NULL) {
        a.id = w->account;
        a.principal = w->account;
    }
    if (store_acme_authz_update(tx, w->tenant, w->r, e) != 0 ||
        svc_audit_ok(tx, w->tenant, &a, w->action, w->r->id, w->r->challenges, e) != 0)
        return -1;
    return 0;
}

/*
 * A change of an authorization of account (NULL: any) through the group
 * commit: fn(r) edits it (1 changed, 0 not, -1 refused).  *out the result.
 */
static int authz_change(struct svc *s, const char *tenant, const char *endpoint, const char *id,
                        const char *account, int (*fn)(struct acme_authz_rec *, void *), void *arg,
                        const char *action, struct acme_authz_rec **out, struct err *e)
{
    struct authz_write w = {tenant, endpoint, id, account, fn, arg, action, NULL};
    int rc = writer_run(s->writer, authz_change_fn, &w, e);

    if (rc == 0 && out != NULL) {
        *out = w.r;
        w.r = NULL;
    }
    acme_authz_rec_free(w.r);
    return rc;
}

static int deactivate_fn(struct acme_authz_rec *r, void *arg)
{
    (void)arg;
    if (strcmp(r->status, "pending") != 0 && strcmp(r->status, "valid") != 0)
        return -1;
    free(r->status);
    r->status = xstrdup("deactivated");
    return 1;
}

int svc_acme_authz_deactivate(struct svc *s, const struct acme_account_rec *acct, const char *id,
                              struct acme_authz_rec **out, struct err *e)
{
    return authz_change(s, acct->tenant, acct->endpoint, id, acct->id, deactivate_fn, NULL,
                        "acme.authz.deactivate", out, e);
}

/* The challenge of type in r's challenges (a borrowed member of *list, which the caller frees). */
static json_t *challenge_of(const struct acme_authz_rec *r, const char *type, json_t **list)
{
    size_t i;
    json_t *c;

    *list = json_loads(r->challenges, 0, NULL);
    json_array_foreach(*list, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
            return c;
    }
    return NULL;
}

struct challenge_step {
    const char *type;
    const struct err *failure; /* finish: NULL when the challenge was met */
    int64_t valid_for;         /* finish: how long a valid authorization lasts */
    int started;               /* start: the validation is to be run now */
};

static int start_fn(struct acme_authz_rec *r, void *arg)
{
    struct challenge_step *st = arg;
    json_t *list, *c = challenge_of(r, st->type, &list);
    int rc = 0;

    if (c == NULL) {
        rc = -1;
    } else if (strcmp(r->status, "pending") == 0 && r->expires > time_now() &&
               strcmp(json_string_value(json_object_get(c, "status")), "pending") == 0) {
        json_object_set_new(c, "status", json_string("processing"));
        free(r->challenges);
        r->challenges = json_dumps(list, JSON_COMPACT);
        r->validating = time_now();
        st->started = rc = 1;
    }
    json_decref(list);
    return rc;
}

int svc_acme_challenge_start(struct svc *s, const struct acme_account_rec *acct, const char *authz,
                             const char *type, struct acme_authz_rec **out, int *started,
                             struct err *e)
{
    struct challenge_step st = {.type = type};
    int rc = authz_change(s, acct->tenant, acct->endpoint, authz, acct->id, start_fn, &st,
                          "acme.challenge.start", out, e);

    if (rc != 0 && e != NULL && e->kind == ERR_CONFLICT)
        err_setc(e, ERR_NOT_FOUND, "malformed", "no %s challenge in authorization %s", type, authz);
    *started = rc == 0 && st.started;
    return rc;
}

static int finish_fn(struct acme_authz_rec *r, void *arg)
{
    struct challenge_step *st = arg;
    json_t *list, *c = challenge_of(r, st->type, &list);
    char when[32];

    if (c == NULL || strcmp(json_string_value(json_object_get(c, "status")), "processing") != 0) {
        json_decref(list);
        return 0; /* finished before, or not started: nothing to record */
    }
    if (st->failure == NULL) {
        json_object_set_new(c, "status", json_string("valid"));
        json_object_set_new(c, "validated",
                            json_string(time_format(time_now(), when, sizeof(when))));
        free(r->status);
        r->status = xstrdup("valid");
        r->expires = time_now() + st->valid_for;
    } else {
        char *problem = problem_text(problem_code(st->failure), st->failure->msg);
        json_object_set_new(c, "status", json_string("invalid"));
        json_object_set_new(c, "error", json_loads(problem, 0, NULL));
        free(problem);
        free(r->status);
        r->status = xstrdup("invalid");
    }
    free(r->challenges);
    r->challenges = json_dumps(list, JSON_COMPACT);
    r->validating = 0;
    json_decref(list);
    return 1;
}

int svc_acme_challenge_finish(struct svc *s, const char *tenant, const char *endpoint,
                              const char *authz, const char *type, const struct err *failure,
                              long valid_for, struct err *e)
{
    struct challenge_step st = {.type = type, .failure = failure, .valid_for = valid_for};

    return authz_change(s, tenant, endpoint, authz, NULL, finish_fn, &st,
                        failure ? "acme.challenge.invalid" : "acme.challenge.valid", NULL, e);
}

/* ---- finalize, certificates, revocation ------------------------------------------------- */

/* Whether the name texts of csr's SANs (and CN) are exactly the order's identifiers. */
static int csr_matches(const struct issue_request *csr, const json_t *ids, struct err *e)
{
    int n = sk_GENERAL_NAME_num(csr->sans), seen = 0;
    size_t i;
    json_t *v;

    for (int k = 0; k < n; k++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(csr->sans, k);
        char text[INET6_ADDRSTRLEN + 8], *t = NULL;
        const char *type = NULL;
        int found = 0;
        if (gn->type == GEN_DNS) {
            type = "dns";
            t = xstrndup((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                         (size_t)ASN1_STRING_length(gn->d.dNSName));
        } else if (gn->type == GEN_IPADD) {
            int len = ASN1_STRING_length(gn->d.iPAddress);
            type = "ip";
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(gn->d.iPAddress),
                          text, sizeof(text));
            else
                snprintf(text, sizeof(text), "?");
            t = xstrdup(text);
        } else {
            return err_setc(e, ERR_INVALID, "badCSR",
                            "csr: subjectAltName[%d] is neither a DNS name nor an IP address", k);
        }
        for (char *p = t; type[0] == 'd' && *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        json_array_foreach(ids, i, v)
        {
            found |= strcmp(json_string_value(json_object_get(v, "type")), type) == 0 &&
                     strcmp(json_string_value(json_object_get(v, "value")), t) == 0;
        }
        if (!found) {
            err_setc(e, ERR_INVALID, "badCSR", "csr: %s \"%.64s\" is not in the order", type, t);
            free(t);
            return -1;
        }
        free(t);
        seen++;
    }
    /* Every identifier once (the order has no duplicates, the CSR may repeat one). */
    json_array_foreach(ids, i, v)
    {
        int found = 0;
        for (int k = 0; k < n && !found; k++) {
            const GENERAL_NAME *gn = sk_GENERAL_NAME_value(csr->sans, k);
            const char *value = json_string_value(json_object_get(v, "value"));
            if (gn->type == GEN_DNS)
                found = (size_t)ASN1_STRING_length(gn->d.dNSName) == strlen(value) &&
                        strncasecmp((const char *)ASN1_STRING_get0_data(gn->d.dNSName), value,
                                    strlen(value)) == 0;
            else if (gn->type == GEN_IPADD) {
                unsigned char bin[16];
                int len = ASN1_STRING_length(gn->d.iPAddress);
                found = (len == 4 && inet_pton(AF_INET, value, bin) == 1 &&
                         memcmp(bin, ASN1_STRING_get0_data(gn->d.iPAddress), 4) == 0) ||
                        (len == 16 && inet_pton(AF_INET6, value, bin) == 1 &&
                         memcmp(bin, ASN1_STRING_get0_data(gn->d.iPAddress), 16) == 0);
            }
        }
        if (!found)
            return err_setc(e, ERR_INVALID, "badCSR",
                            "csr: the order's %s is not among its subject alternative names",
                            json_string_value(json_object_get(v, "value")));
    }
    return seen > 0 ? 0
                    : err_setc(e, ERR_INVALID, "badCSR",
                               "csr: no subjectAltName (RFC 8555 section 7.4)");
}

/* Records the outcome of svc_submit for the order (valid, processing, or invalid with why). */
static void order_outcome(struct acme_order_rec *r, int rc, const struct svc_outcome *out,
                          const struct err *why)
{
    free(r->status);
    if (rc == 0 && out->pending) {
        r->status = xstrdup("processing");
        free(r->request);
        r->request = xstrdup(out->request->id);
    } else if (rc == 0) {
        r->status = xstrdup("valid");
        free(r->serial);
        r->serial = xstrdup(out->cert->serial);
    } else {
        r->status = xstrdup("invalid");
        free(r->error);
        r->error = problem_text(problem_code(why), why->msg);
    }
}

int svc_acme_order_finalize(struct svc *s, const struct acme_account_rec *acct,
                            const struct acme_endpoint_rec *ep, const char *id,
                            const unsigned char *csr, size_t csr_len, struct acme_order_rec **out,
                            struct err *e)
{
    struct acme_order_rec *r = NULL;
    struct issue_request req = {0};
    struct svc_outcome made = {0};
    struct actor a;
    json_t *ids = NULL;
    char key[64];
    int rc;

    if (svc_acme_order_get(s, acct, id, &r, e) != 0)
        return -1;
    if (strcmp(r->status, "ready") != 0) {
        rc = strcmp(r->status, "valid") == 0 || strcmp(r->status, "processing") == 0
                 ? 0 /* finalized before: the order as it stands */
                 : err_setc(e, ERR_FORBIDDEN, "orderNotReady", "order %s is %s", r->id, r->status);
        goto out;
    }
    ids = json_loads(r->identifiers, 0, NULL);
    if ((rc = csr_read(csr, csr_len, 0, &req, e)) != 0 || (rc = csr_matches(&req, ids, e)) != 0) {
        if (e != NULL)
            err_recode(e, ERR_INVALID, "badCSR");
        goto out;
    }
    {
        struct svc_op op = {.kind = SVC_OP_CERT_ISSUE,
                            .ca = ep->ca,
                            .profile = r->profile,
                            .csr = (const char *)csr,
                            .csr_len = csr_len};
        struct err why;
        svc_acme_actor(acct, &a);
        snprintf(key, sizeof(key), "acme-%s", r->id); /* a finalize asked twice issues once */
        rc = svc_submit(s, &a, acct->tenant, &op, key, &made, &why);
        if (rc != 0 && (why.kind == ERR_LIMIT || why.kind == ERR_UNAVAILABLE)) {
            if (e != NULL) /* the order stays ready: the client may try again */
                err_setc(e, why.kind, problem_code(&why), "%s", why.msg);
            goto out;
        }
        order_outcome(r, rc, &made, &why);
        rc = order_save(s, r, e);
    }
out:
    json_decref(ids);
    issue_request_clear(&req);
    svc_outcome_clear(&made);
    if (rc == 0)
        *out = r;
    else
        acme_order_rec_free(r);
    return rc;
}

int svc_acme_cert_pem(struct svc *s, const struct acme_account_rec *acct, const char *serial,
                      char **pem, struct err *e)
{
    struct cert_rec *c = NULL;
    struct actor a;
    char *leaf, *chain;

    svc_acme_actor(acct, &a);
    if (svc_cert_get(s, &a, acct->tenant, serial, &c, e) != 0) {
        err_setc(e, ERR_NOT_FOUND, "malformed", "no such certificate");
        return -1;
    }
    leaf = svc_pem("CERTIFICATE", c->der, c->der_len);
    chain = svc_chain_pem(s, acct->tenant, c->ca, e);
    cert_rec_free(c);
    if (chain == NULL) {
        free(leaf);
        return -1;
    }
    *pem = xasprintf("%s%s", leaf, chain);
    free(leaf);
    free(chain);
    return 0;
}

int svc_acme_revoke(struct svc *s, const char *tenant, const char *endpoint,
                    const struct acme_account_rec *acct, const unsigned char *der, size_t len,
                    int reason, struct err *e)
{
    static const char *const none[] = {NULL};
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    struct svc_op op = {.kind = SVC_OP_CERT_REVOKE, .reason = reason};
    struct svc_outcome out = {0};
    struct actor a = {.id = "acme-certificate-key", .roles = none};
    struct cert_rec *c = NULL;
    struct store_tx *tx;
    char *serial = NULL;
    int rc = -1;

    (void)endpoint;
    if (x == NULL || p != der + len) {
        X509_free(x);
        return err_setc(e, ERR_INVALID, "malformed", "certificate: not one DER certificate");
    }
    if (reason < 0 || reason > 10 || reason == 6 || reason == 7 || reason == 8)
        rc = err_setc(e, ERR_INVALID, "badRevocationReason",
                      "reason %d: not taken (RFC 5280 section 5.3.1; hold is not ACME's)", reason);
    else if ((serial = serial_hex(X509_get0_serialNumber(x))) == NULL ||
             (tx = store_begin_read(s->store, e)) == NULL)
        goto out;
    else {
        rc = store_cert_get(tx, tenant, serial, &c, e);
        store_rollback(tx);
    }
    if (rc != 0)
        goto out;
    rc = -1;
    if (c->der_len != len || memcmp(c->der, der, len) != 0) {
        err_setc(e, ERR_NOT_FOUND, "malformed", "certificate: not one this CA issued");
        goto out;
    }
    if (acct != NULL && (c->requester == NULL || strcmp(c->requester, acct->id) != 0)) {
        err_setc(e, ERR_FORBIDDEN, "unauthorized",
                 "the account did not order this certificate: sign with the certificate's key");
        goto out;
    }
    if (strcmp(c->status, "revoked") == 0) {
        err_setc(e, ERR_INVALID, "alreadyRevoked", "certificate %s is revoked", serial);
        goto out;
    }
    if (acct != NULL)
        svc_acme_actor(acct, &a);
    op.serial = serial;
    if ((rc = svc_submit(s, &a, tenant, &op, NULL, &out, e)) == 0 && out.pending)
        rc = err_setc(e, ERR_FORBIDDEN, "unauthorized",
                      "the revocation waits for approval as request %s", out.request->id);
out:
    svc_outcome_clear(&out);
    cert_rec_free(c);
    free(serial);
    X509_free(x);
    return rc;
}

/* ---- renewal information (RFC 9773) ------------------------------------------------ */

int svc_acme_renewal_info(struct svc *s, const char *tenant, const struct acme_endpoint_rec *ep,
                          const char *certid, int64_t *start, int64_t *end, char **reason,
                          struct err *e)
{
    const char *dot = certid ? strchr(certid, '.') : NULL;
    unsigned char *aki = NULL, *sn = NULL;
    size_t aki_len = 0, sn_len = 0;
    ASN1_INTEGER *ai = NULL;
    char *serial = NULL;
    struct store_tx *tx;
    struct cert_rec *c = NULL;
    struct ca_rec *ca = NULL;
    X509 *ca_cert = NULL;
    int rc = -1;

    if (dot == NULL || base64url_decode(certid, (size_t)(dot - certid), &aki, &aki_len) != 0 ||
        base64url_decode(dot + 1, strlen(dot + 1), &sn, &sn_len) != 0 || sn_len == 0 ||
        sn_len > 20) {
        err_setc(e, ERR_INVALID, "malformed",
                 "renewalInfo: base64url(keyIdentifier) \".\" base64url(serial) (RFC 9773)");
        goto out;
    }
    if (sn[0] & 0x80) { /* a negative INTEGER: no certificate has one (RFC 5280 4.1.2.2) */
        err_setc(e, ERR_NOT_FOUND, "malformed", "renewalInfo: no certificate of this endpoint");
        goto out;
    }
    ai = ASN1_INTEGER_new(); /* the DER content octets, without the sign octet */
    ASN1_STRING_set(ai, sn + (sn_len > 1 && sn[0] == 0), (int)sn_len - (sn_len > 1 && sn[0] == 0));
    serial = serial_hex(ai);
    if (serial == NULL || (tx = store_begin_read(s->store, e)) == NULL)
        goto out;
    rc = store_cert_get(tx, tenant, serial, &c, e);
    if (rc == 0)
        rc = store_ca_get(tx, tenant, c->ca, &ca, e);
    store_rollback(tx);
    if (rc == 0 && (strcmp(c->ca, ep->ca) != 0 || (ca_cert = svc_ca_cert(s, ca, e)) == NULL))
        rc = -1;
    if (rc == 0) {
        const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca_cert);
        if (ski == NULL || (size_t)ASN1_STRING_length(ski) != aki_len ||
            memcmp(ASN1_STRING_get0_data(ski), aki, aki_len) != 0)
            rc = -1;
    }
    if (rc != 0) {
        err_setc(e, ERR_NOT_FOUND, "malformed", "renewalInfo: no certificate of this endpoint");
        goto out;
    }
    rc = svc_renewal_window(s, tenant, serial, start, end, reason, e);
out:
    X509_free(ca_cert);
    ca_rec_free(ca);
    cert_rec_free(c);
    ASN1_INTEGER_free(ai);
    free(serial);
    free(aki);
    free(sn);
    return rc;
}

/* ---- housekeeping ----------------------------------------------------------------- */

int svc_acme_stalled(struct svc *s, const char *tenant, int64_t before, int limit,
                     struct acme_authz_rec ***out, size_t *n, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    /* Claimed: their validation counts as begun now, so they are taken up once. */
    rc = store_acme_authz_stalled(tx, tenant, before, limit, out, n, e);
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        (*out)[i]->validating = time_now();
        rc = store_acme_authz_update(tx, tenant, (*out)[i], e);
    }
    if (rc == 0)
        return store_commit(tx, e) == 0 ? 0 : (acme_authz_rec_list_free(*out, *n), -1);
    store_rollback(tx);
    if (*out != NULL)
        acme_authz_rec_list_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

int svc_acme_prune_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    struct store_tx *tx;
    size_t n = 0;
    int64_t pruned, total = 0;
    struct err te;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        pruned = 0;
        if ((tx = store_begin(s->store, &te)) != NULL) {
            int64_t more = 0;
            /* Orders and authorizations a month after they expired; nonces when they do. */
            if (store_acme_nonce_prune(tx, list[i]->name, time_now(), &pruned, &te) != 0 ||
                store_acme_prune(tx, list[i]->name, time_now() - 30 * 86400, &more, &te) != 0)
                store_rollback(tx);
            else if (store_commit(tx, &te) == 0)
                total += pruned + more;
        }
        tenant_rec_free(list[i]);
    }
    free(list);
    return (int)total;
}
