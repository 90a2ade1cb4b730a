/*
 * svc_ra.c — the registration authority: approval workflows and the requests
 * waiting for them.
 *
 * A workflow names an operation ("profile:<name>" for issuance and renewal
 * under a profile, "cert.revoke", "cert.suspend", "ca.create", "role.bind") and how many
 * approvals it needs, optionally from a named set of approvers (M-of-N).  An
 * operation under a workflow is stored as a pending request instead of being
 * done; approvals are added one by one, each by a different principal who is
 * not the requester; the one that reaches the number carries the stored
 * operation out (svc_op_execute, as the requester) with the approval and the
 * request's "done" in the operation's own transaction, or records "failed"
 * with the error.  A pending request expires after the workflow's time.
 * Every step is audited and announced to the tenant's webhook in the
 * transaction that makes it.
 */
#include "svc/svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/log.h"

#define APPROVERS_MAX 50

/* ---- workflows ------------------------------------------------------------- */

/* Whether name is a workflow name: "profile:<profile name>" or one of the operations. */
static int workflow_name_ok(const char *name)
{
    static const char *const ops[] = {"cert.revoke", "cert.suspend", "ca.create", "role.bind",
                                      NULL};

    if (strncmp(name, "profile:", 8) == 0)
        return name_valid(name + 8);
    for (size_t i = 0; ops[i] != NULL; i++)
        if (strcmp(name, ops[i]) == 0)
            return 1;
    return 0;
}

/* approvers: NULL, or a JSON array of 1..APPROVERS_MAX distinct strings, at least `required`. */
static int approvers_check(const json_t *approvers, int required, struct err *e)
{
    size_t i, j, n;

    if (approvers == NULL || json_is_null(approvers))
        return 0;
    if (!json_is_array(approvers) || (n = json_array_size(approvers)) == 0 || n > APPROVERS_MAX)
        return err_set(e, ERR_INVALID, "approvers: an array of 1 to %d principal ids",
                       APPROVERS_MAX);
    for (i = 0; i < n; i++) {
        const json_t *v = json_array_get(approvers, i);
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128)
            return err_set(e, ERR_INVALID, "approvers: principal ids (strings)");
        for (j = 0; j < i; j++)
            if (json_equal(v, json_array_get(approvers, j)))
                return err_set(e, ERR_INVALID, "approvers: %s is listed twice",
                               json_string_value(v));
    }
    if ((size_t)required > n)
        return err_set(e, ERR_INVALID, "required: %d approvals cannot come from %zu approvers",
                       required, n);
    return 0;
}

/* Every approver named is a principal of tenant (not a token id, not a typo). */
static int approvers_exist(struct store_tx *tx, const char *tenant, const json_t *approvers,
                           struct err *e)
{
    size_t i;
    json_t *v;

    json_array_foreach(approvers, i, v)
    {
        struct principal_rec *p = NULL;
        int rc = store_principal_get(tx, tenant, json_string_value(v), &p, e);
        principal_rec_free(p);
        if (rc != 0 && e->kind == ERR_NOT_FOUND)
            return err_set(e, ERR_INVALID,
                           "approvers: %s is not a principal of tenant %s (approvers are "
                           "principal ids, as `vouch principal list` shows them, not tokens)",
                           json_string_value(v), tenant);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int svc_workflow_put(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                     int required, const json_t *approvers, int expires_hours, struct err *e)
{
    struct workflow_rec r = {.name = (char *)name,
                             .required = required,
                             .expires_hours = expires_hours,
                             .created = time_now()};
    struct profile_rec *p = NULL;
    struct store_tx *tx;
    char *detail = NULL;
    json_t *d;
    int rc = -1;

    if (!workflow_name_ok(name))
        return err_set(
            e, ERR_INVALID,
            "name: profile:<profile>, cert.revoke, cert.suspend, ca.create or role.bind");
    if (required < 1 || required > APPROVERS_MAX)
        return err_set(e, ERR_INVALID, "required: 1 to %d", APPROVERS_MAX);
    if (expires_hours < 1 || expires_hours > 24 * 90)
        return err_set(e, ERR_INVALID, "expires_hours: 1 to %d", 24 * 90);
    if (approvers_check(approvers, required, e) != 0)
        return -1;
    if (approvers != NULL && !json_is_null(approvers))
        r.approvers = json_dumps(approvers, JSON_COMPACT);
    d = json_pack("{s:i, s:O?, s:i}", "required", required, "approvers",
                  approvers && !json_is_null(approvers) ? approvers : NULL, "expires_hours",
                  expires_hours);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    if ((tx = store_begin(s->store, e)) == NULL)
        goto out;
    if (strncmp(name, "profile:", 8) == 0 && store_profile_get(tx, tenant, name + 8, 0, &p, e)) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "profile %s not found", name + 8);
        goto out;
    }
    if (approvers_exist(tx, tenant, approvers, e) != 0)
        goto out;
    if (store_workflow_put(tx, tenant, &r, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "workflow.put", name, detail, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    profile_rec_free(p);
    free(r.approvers);
    free(detail);
    return rc;
}

int svc_workflow_delete(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                        struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);

    if (tx == NULL)
        return -1;
    if (store_workflow_delete(tx, tenant, name, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "workflow.delete", name, NULL, e) != 0) {
        store_rollback(tx);
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "workflow %s not found", name);
        return -1;
    }
    return store_commit(tx, e);
}

int svc_workflow_find(struct svc *s, const char *tenant, const char *name,
                      struct workflow_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    *out = NULL;
    rc = store_workflow_get(tx, tenant, name, out, e);
    store_rollback(tx);
    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        return 1;
    return rc;
}

int svc_workflow_list(struct svc *s, const char *tenant, struct workflow_rec ***out, size_t *n,
                      struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_workflow_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_workflow_refuses(struct store_tx *tx, const char *tenant, const char *name, const char *why,
                         struct err *e)
{
    struct workflow_rec *wf = NULL;

    if (store_workflow_get(tx, tenant, name, &wf, e) != 0)
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    workflow_rec_free(wf);
    return err_set(e, ERR_CONFLICT, "%s needs approval (workflow %s): %s", name, name, why);
}

/* ---- requests ------------------------------------------------------------------ */

#define who_of svc_actor_who

json_t *svc_request_json(const struct request_rec *r)
{
    json_error_t je;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o}", "id", r->id, "kind", r->kind,
                  "object", r->object, "requester", r->requester, "status", r->status, "required",
                  r->required, "created", svc_time_json(r->created), "expires",
                  svc_time_json(r->expires), "decided", svc_time_json(r->decided));
    json_t *approvals = json_loads(r->approvals, 0, &je), *v;
    size_t i;

    /* Times in RFC 3339, as everywhere in the API (stored as seconds). */
    json_array_foreach(approvals, i, v)
    {
        json_t *t = json_object_get(v, "time");
        if (json_is_integer(t))
            json_object_set_new(v, "time", svc_time_json((int64_t)json_integer_value(t)));
    }
    json_object_set_new(o, "approvers",
                        r->approvers ? json_loads(r->approvers, 0, &je) : json_null());
    json_object_set_new(o, "approvals", approvals);
    json_object_set_new(o, "params", json_loads(r->params, 0, &je));
    json_object_set_new(o, "result", r->result ? json_loads(r->result, 0, &je) : json_null());
    json_object_set_new(o, "reason", r->reason ? json_string(r->reason) : json_null());
    return o;
}

/* The request's audit event and webhook event, in tx. */
static int request_note(struct svc *s, struct store_tx *tx, const char *tenant,
                        const struct actor *a, const char *action, const char *hook_event,
                        const struct request_rec *r, struct err *e)
{
    json_t *d =
        json_pack("{s:s, s:s, s:s}", "kind", r->kind, "object", r->object, "status", r->status);
    char *detail;
    int rc;

    if (r->reason)
        json_object_set_new(d, "reason", json_string(r->reason));
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    rc = svc_audit_ok(tx, tenant, a, action, r->id, detail, e);
    free(detail);
    if (rc == 0 && hook_event != NULL) {
        json_t *data = svc_request_json(r);
        json_object_del(data, "params"); /* a CSR, maybe; the receiver can ask for it */
        rc = svc_webhook_enqueue(s, tx, tenant, hook_event, data, e);
        json_decref(data);
    }
    return rc;
}

static struct request_rec *request_rec_dup(const struct request_rec *r, const char *tenant)
{
    struct request_rec *c = xcalloc(1, sizeof(*c));

    *c = *r;
    c->tenant = xstrdup(tenant);
    c->id = xstrdup(r->id);
    c->kind = xstrdup(r->kind);
    c->object = xstrdup(r->object);
    c->params = xstrdup(r->params);
    c->requester = xstrdup(r->requester);
    c->status = xstrdup(r->status);
    c->approvers = r->approvers ? xstrdup(r->approvers) : NULL;
    c->approvals = xstrdup(r->approvals);
    c->result = r->result ? xstrdup(r->result) : NULL;
    c->reason = r->reason ? xstrdup(r->reason) : NULL;
    return c;
}

/*
 * The stored form of an operation: {"op": svc_op_json, "roles": the
 * requester's, "persons": whom its request counts for (svc_actor_persons)} (text).
 */
static char *request_params(const struct actor *a, const struct svc_op *op)
{
    json_t *o = json_pack("{s:o, s:o, s:I}", "op", svc_op_json(op), "persons", svc_actor_persons(a),
                          "opened_us", (json_int_t)time_now_us()),
           *roles;
    char *text;

    if (a != NULL && a->roles != NULL) {
        roles = json_array();
        for (size_t i = 0; i < a->nroles; i++)
            json_array_append_new(roles, json_string(a->roles[i]));
        json_object_set_new(o, "roles", roles);
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

int svc_request_open(struct svc *s, const struct actor *a, const char *tenant,
                     const struct svc_op *op, const char *object, const struct workflow_rec *wf,
                     const struct svc_hook *hook, struct request_rec **out, struct err *e)
{
    struct request_rec r = {.id = random_id("req"),
                            .kind = (char *)svc_op_name(op->kind),
                            .object = (char *)(object ? object : ""),
                            .params = request_params(a, op),
                            .requester = (char *)who_of(a),
                            .status = "pending",
                            .required = wf->required,
                            .approvers = wf->approvers,
                            .approvals = "[]",
                            .created = time_now()};
    struct svc_made made = {.request = &r};
    struct store_tx *tx = NULL;
    int rc = -1;

    r.expires = r.created + (int64_t)wf->expires_hours * 3600;
    if (r.id == NULL || r.params == NULL) {
        err_set(e, ERR_INTERNAL, "request: out of memory or randomness");
        goto out;
    }
    if ((tx = store_begin(s->store, e)) == NULL || store_request_insert(tx, tenant, &r, e) != 0 ||
        request_note(s, tx, tenant, a, "request.submit", "request.pending", &r, e) != 0 ||
        (hook != NULL && hook->fn(tx, hook->arg, &made, e) != 0))
        goto out;
    if ((rc = store_commit(tx, e)) == 0)
        *out = request_rec_dup(&r, tenant);
    tx = NULL;
out:
    store_rollback(tx);
    free(r.id);
    free(r.params);
    return rc;
}

int svc_request_get(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                    struct request_rec **out, struct err *e)
{
    const char *own = svc_actor_own_only(a, "request.read");
    struct store_tx *tx = store_begin_read(s->store, e);
    struct request_rec *r = NULL;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_request_get(tx, tenant, id, &r, e);
    store_rollback(tx);
    if (rc == 0 && own != NULL && strcmp(own, r->requester) != 0) {
        /* another principal's request: as if there were none */
        request_rec_free(r);
        rc = err_set(e, ERR_NOT_FOUND, "request %s not found", id);
    } else if (rc != 0 && e->kind == ERR_NOT_FOUND) {
        err_set(e, ERR_NOT_FOUND, "request %s not found", id);
    }
    if (rc == 0)
        *out = r;
    return rc;
}

int svc_request_list(struct svc *s, const struct actor *a, const char *tenant, const char *status,
                     const char *requester, int limit, int offset, struct request_rec ***out,
                     size_t *n, struct err *e)
{
    const char *own = svc_actor_own_only(a, "request.read");
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_request_list(tx, tenant, status, own ? own : requester, limit, offset, out, n, e);
    store_rollback(tx);
    return rc;
}

/* Whether approvals (a JSON array of {"by"}) has one by `who`. */
static int approved_by(const json_t *approvals, const char *who)
{
    size_t i;
    json_t *v;

    json_array_foreach(approvals, i, v)
    {
        const char *by = json_string_value(json_object_get(v, "by"));
        if (by != NULL && strcmp(by, who) == 0)
            return 1;
    }
    return 0;
}

/* Whether `who` may decide on r: not its requester, and one of its approvers if it names them. */
static int decider_check(const struct request_rec *r, const char *who, struct err *e)
{
    json_error_t je;
    json_t *list;
    size_t i;
    json_t *v;
    int listed = 0;

    if (strcmp(r->requester, who) == 0)
        return err_set(e, ERR_FORBIDDEN, "the requester cannot decide on its own request");
    if (r->approvers == NULL)
        return 0;
    list = json_loads(r->approvers, 0, &je);
    json_array_foreach(list, i, v) listed |=
        json_is_string(v) && !strcmp(json_string_value(v), who);
    json_decref(list);
    return listed ? 0 : err_set(e, ERR_FORBIDDEN, "%s is not one of this request's approvers", who);
}

/*
 * Reads request id of tenant for a decision in tx (the row locked): ERR_CONFLICT if it
 * is not pending; a pending request past its expiry is marked expired first
 * (in *expired_now, for the caller to commit) and is ERR_CONFLICT too.
 */
static int decision_load(struct store_tx *tx, const char *tenant, const char *id,
                         struct request_rec **out, int *expired_now, struct err *e)
{
    struct request_rec *r = NULL;

    *expired_now = 0;
    if (store_request_get(tx, tenant, id, &r, e) != 0) {
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "request %s not found", id);
        return -1;
    }
    *out = r;
    if (strcmp(r->status, "pending") == 0 && r->expires <= time_now()) {
        free(r->status);
        r->status = xstrdup("expired");
        r->decided = time_now();
        *expired_now = 1;
    }
    if (strcmp(r->status, "pending") != 0)
        return err_set(e, ERR_CONFLICT, "request %s is %s", id, r->status);
    return 0;
}

/* Commits the expiry decision_load found (the refusal itself is the caller's to report). */
static void expiry_commit(struct store_tx *tx, const char *tenant, const struct request_rec *r)
{
    static const struct actor scheduler = {.id = "scheduler"};
    struct err e2;

    if (store_request_update(tx, tenant, r, &e2) != 0 ||
        svc_audit_ok(tx, tenant, &scheduler, "request.expire", r->id, NULL, &e2) != 0 ||
        store_commit(tx, &e2) != 0)
        log_warn("tenant %s: request %s: expiry not recorded: %s", tenant, r->id, e2.msg);
}

/*
 * Opens the write transaction of a's decision on request id: *tx and *r set
 * (the row held) when a may decide on it now; else -1 with e set and nothing
 * left open (an expiry found on the way is committed).
 */
static int decision_begin(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                          struct store_tx **tx, struct request_rec **r, struct err *e)
{
    int expired = 0;

    *r = NULL;
    if ((*tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (decision_load(*tx, tenant, id, r, &expired, e) == 0 && decider_check(*r, who_of(a), e) == 0)
        return 0;
    if (expired)
        expiry_commit(*tx, tenant, *r);
    else
        store_rollback(*tx);
    *tx = NULL;
    request_rec_free(*r);
    *r = NULL;
    return -1;
}

/*
 * Whom request r counts for and when it was made (microseconds): as stored
 * with it, or (stored before schema 16) its requester and its second.
 */
static json_t *requester_persons(const struct request_rec *r, int64_t *opened_us)
{
    json_t *params = json_loads(r->params, 0, NULL);
    json_t *persons = json_object_get(params, "persons");
    json_t *at = json_object_get(params, "opened_us");

    persons = json_is_array(persons) ? json_incref(persons) : json_pack("[s]", r->requester);
    *opened_us = json_is_integer(at) ? (int64_t)json_integer_value(at) : r->created * 1000000;
    json_decref(params);
    return persons;
}

/*
 * Adds a's approval to r (its approvals replaced), in tx: refused
 * (ERR_FORBIDDEN) when a person it counts for (svc_approver_persons: a's
 * principal, whoever made its credential, whoever bound it a role since the
 * request was made) made the request or gave one of its approvals already;
 * ERR_CONFLICT if a approved it already.
 */
static int approval_add(struct store_tx *tx, const char *tenant, struct request_rec *r,
                        const struct actor *a, struct err *e)
{
    json_t *approvals = json_loads(r->approvals, 0, NULL), *persons = NULL, *theirs, *v;
    const char *who = who_of(a), *both;
    int64_t opened_us;
    size_t i;
    int rc = -1;

    if (!json_is_array(approvals)) {
        json_decref(approvals);
        return err_set(e, ERR_INTERNAL, "request %s: stored approvals do not parse", r->id);
    }
    if (approved_by(approvals, who)) {
        err_set(e, ERR_CONFLICT, "request %s is already approved by %s", r->id, who);
        goto out;
    }
    theirs = requester_persons(r, &opened_us);
    if (svc_approver_persons(tx, tenant, a, opened_us, &persons, e) != 0) {
        json_decref(theirs);
        goto out;
    }
    both = svc_persons_meet(persons, theirs);
    if (both != NULL) {
        err_set(e, ERR_FORBIDDEN,
                "an approval by %s counts for %s, who stands behind the request too "
                "(a credential made or a role bound by the same person)",
                who, both);
        json_decref(theirs);
        goto out;
    }
    json_decref(theirs);
    json_array_foreach(approvals, i, v)
    {
        theirs = json_object_get(v, "persons");
        if (json_is_array(theirs))
            json_incref(theirs);
        else if ((theirs = json_array()) != NULL && json_is_string(json_object_get(v, "by")))
            json_array_append(theirs, json_object_get(v, "by")); /* given before schema 16 */
        both = svc_persons_meet(persons, theirs);
        if (both != NULL) {
            err_set(e, ERR_FORBIDDEN,
                    "an approval by %s counts for %s, who stands behind an approval given "
                    "already: two approvals must come from two persons",
                    who, both);
            json_decref(theirs);
            goto out;
        }
        json_decref(theirs);
    }
    json_array_append_new(approvals, json_pack("{s:s, s:I, s:O}", "by", who, "time",
                                               (json_int_t)time_now(), "persons", persons));
    free(r->approvals);
    r->approvals = json_dumps(approvals, JSON_COMPACT);
    rc = 0;
out:
    json_decref(persons);
    json_decref(approvals);
    return rc;
}

/* Whether r has all the approvals it needs. */
static int approvals_complete(const struct request_rec *r)
{
    json_t *approvals = json_loads(r->approvals, 0, NULL);
    int done = json_is_array(approvals) && (int)json_array_size(approvals) >= r->required;

    json_decref(approvals);
    return done;
}

/* How an approval closes its request (the hook of the operation it carries out). */
struct closing {
    struct svc *s;
    const struct actor *approver;
    const struct actor *requester;
    const char *tenant;
    const char *id;
    struct request_rec *r; /* the request as closed */
    int refused;           /* it could not be closed: decided on meanwhile */
};

/*
 * Reads request c->id again in tx (the row held) and adds c->approver's
 * approval: the checks of svc_request_approve once more, against any
 * decision taken since.  0 with c->r set, else -1 (c->refused).
 */
static int closing_load(struct closing *c, struct store_tx *tx, struct err *e)
{
    int expired = 0;

    if (decision_load(tx, c->tenant, c->id, &c->r, &expired, e) == 0 &&
        decider_check(c->r, who_of(c->approver), e) == 0 &&
        approval_add(tx, c->tenant, c->r, c->approver, e) == 0)
        return 0;
    c->refused = 1;
    request_rec_free(c->r);
    c->r = NULL;
    return -1;
}

/* Records the closing: the request, the approval's event and the outcome's event. */
static int closing_write(struct closing *c, struct store_tx *tx, const char *status, json_t *result,
                         struct err *e)
{
    free(c->r->status);
    c->r->status = xstrdup(status);
    c->r->decided = time_now();
    free(c->r->result);
    c->r->result = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(result);
    if (store_request_update(tx, c->tenant, c->r, e) != 0 ||
        request_note(c->s, tx, c->tenant, c->approver, "request.approve", "request.approved", c->r,
                     e) != 0 ||
        request_note(c->s, tx, c->tenant, c->requester,
                     strcmp(status, "done") == 0 ? "request.done" : "request.failed", NULL, c->r,
                     e) != 0)
        return -1;
    return 0;
}

/* The hook: in the operation's transaction, the request becomes "done" with what it made. */
static int closing_done(struct store_tx *tx, void *arg, const struct svc_made *made, struct err *e)
{
    struct closing *c = arg;
    json_t *result =
        made->cert != NULL ? json_pack("{s:o}", "certificate", svc_cert_json(c->s, made->cert, 0))
        : made->ca != NULL ? json_pack("{s:o}", "ca", svc_ca_json(c->s, made->ca))
        : made->binding != NULL
            ? json_pack("{s:{s:s, s:s, s:s, s:b}}", "binding", "principal_tenant",
                        made->binding->principal_tenant, "principal", made->binding->principal,
                        "role", made->binding->role, "bound", 1)
            : json_object();

    if (closing_load(c, tx, e) != 0) {
        json_decref(result);
        return -1;
    }
    return closing_write(c, tx, "done", result, e);
}

/* The operation failed with why: the request becomes "failed" in a transaction of its own. */
static int closing_failed(struct closing *c, const struct err *why, struct err *e)
{
    struct store_tx *tx = store_begin(c->s->store, e);
    json_t *result = json_pack("{s:{s:s, s:s, s:s}}", "error", "kind", err_kind_word(why->kind),
                               "code", why->code, "detail", why->msg);

    if (tx == NULL || closing_load(c, tx, e) != 0 ||
        closing_write(c, tx, "failed", result, e) != 0) {
        if (tx == NULL)
            json_decref(result);
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

/*
 * Carries out the operation of request r (all its approvals but a's given)
 * on behalf of its requester, a's approval closing it (closing_done).
 */
static int carry_out(struct svc *s, const struct actor *a, const char *tenant,
                     const struct request_rec *r, struct request_rec **out, struct err *e)
{
    const char *roles[16];
    size_t nroles = 0;
    json_t *holder = NULL;
    struct svc_op op;
    struct actor requester = {.id = r->requester, .principal = r->requester};
    struct closing c = {s, a, &requester, tenant, r->id, NULL, 0};
    struct svc_hook hook = {closing_done, &c};
    struct svc_outcome made = {0};
    struct err why;
    int rc = svc_op_from_request(r, &holder, &op, roles, ARRAY_LEN(roles), &nroles, &why);

    if (rc == 0) {
        /* The roles it had when it asked (none kept: it was vouch itself). */
        if (json_is_array(json_object_get(holder, "roles"))) {
            requester.roles = roles;
            requester.nroles = nroles;
        }
        rc = svc_op_execute(s, &requester, tenant, &op, &hook, &made, &why);
    }
    svc_outcome_clear(&made);
    json_decref(holder);
    if (rc == 0) {
        *out = c.r;
        return 0;
    }
    request_rec_free(c.r);
    c.r = NULL;
    if (c.refused || why.kind == ERR_UNAVAILABLE) {
        if (e != NULL)
            *e = why;
        return -1;
    }
    if (closing_failed(&c, &why, e) != 0)
        return -1;
    *out = c.r;
    return 0;
}

int svc_request_approve(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                        struct request_rec **out, struct err *e)
{
    struct store_tx *tx;
    struct request_rec *r;
    int rc;

    if (decision_begin(s, a, tenant, id, &tx, &r, e) != 0)
        return -1;
    if (approval_add(tx, tenant, r, a, e) != 0) {
        store_rollback(tx);
        request_rec_free(r);
        return -1;
    }
    if (approvals_complete(r)) {
        /* Signing waits for no lock: the operation's transaction reads the request again. */
        store_rollback(tx);
        request_rec_free(r);
        if ((tx = store_begin_read(s->store, e)) == NULL)
            return -1;
        rc = store_request_get(tx, tenant, id, &r, e);
        store_rollback(tx);
        if (rc == 0)
            rc = carry_out(s, a, tenant, r, out, e);
        request_rec_free(r);
        return rc;
    }
    if (store_request_update(tx, tenant, r, e) != 0 ||
        request_note(s, tx, tenant, a, "request.approve", NULL, r, e) != 0) {
        store_rollback(tx);
        request_rec_free(r);
        return -1;
    }
    if ((rc = store_commit(tx, e)) == 0)
        *out = r;
    else
        request_rec_free(r);
    return rc;
}

int svc_request_reject(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                       const char *reason, struct request_rec **out, struct err *e)
{
    struct store_tx *tx;
    struct request_rec *r;
    int rc = -1;

    if (reason == NULL || reason[0] == '\0' || strlen(reason) > 1000)
        return err_set(e, ERR_INVALID, "reason: required, at most 1000 characters");
    if (decision_begin(s, a, tenant, id, &tx, &r, e) != 0)
        return -1;
    free(r->status);
    r->status = xstrdup("rejected");
    r->reason = xstrdup(reason);
    r->decided = time_now();
    if (store_request_update(tx, tenant, r, e) != 0 ||
        request_note(s, tx, tenant, a, "request.reject", "request.rejected", r, e) != 0)
        goto out;
    if ((rc = store_commit(tx, e)) == 0) {
        *out = r;
        r = NULL;
    }
    tx = NULL;
out:
    store_rollback(tx);
    request_rec_free(r);
    return rc;
}

/* One event for the requests of a tenant that expired together. */
static int expire_audit(struct store_tx *tx, const char *tenant, int64_t n, struct err *e)
{
    static const struct actor scheduler = {.id = "scheduler"};
    char detail[64];

    snprintf(detail, sizeof(detail), "{\"expired\":%lld}", (long long)n);
    return svc_audit_ok(tx, tenant, &scheduler, "request.expire", "pending", detail, e);
}

int svc_request_expire_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    struct store_tx *tx;
    size_t n = 0;
    int64_t expired, total = 0;
    struct err te;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        expired = 0;
        tx = store_begin(s->store, &te);
        if (tx != NULL &&
            (store_request_expire(tx, list[i]->name, time_now(), &expired, &te) != 0 ||
             (expired != 0 && expire_audit(tx, list[i]->name, expired, &te) != 0)))
            store_rollback(tx);
        else if (tx != NULL && store_commit(tx, &te) == 0) /* a commit frees tx, also on failure */
            total += expired;
        tenant_rec_free(list[i]);
    }
    free(list);
    return (int)total;
}
