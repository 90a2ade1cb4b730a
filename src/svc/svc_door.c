/*
 * svc_door.c — the one door (DESIGN.md "One door"): every operation on
 * certificates and CAs that a caller outside svc asks for comes in through
 * svc_submit.
 *
 * In order: the operation's own fields are checked; one read transaction
 * finds the certificate it is about (which a requester may touch only if it
 * is its own), the tenant's workflow for it and the record of its
 * idempotency key; a key that names an earlier submission answers with that
 * submission's outcome; under a workflow the operation, checked as far as its
 * input goes, is stored as a pending request (server-side key generation is
 * refused: the request would have to keep the password); otherwise it is
 * carried out.  The key is filed by a hook in the transaction of whatever the
 * submission wrote, so a retry that races the first submission finds the
 * first one's outcome, never a second certificate.  A refusal is audited
 * here, once, for every caller.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

void svc_outcome_clear(struct svc_outcome *o)
{
    if (o == NULL)
        return;
    request_rec_free(o->request);
    cert_rec_free(o->cert);
    ca_rec_free(o->ca);
    binding_rec_free(o->binding);
    if (o->pkcs12 != NULL) {
        secure_zero(o->pkcs12, o->pkcs12_len);
        free(o->pkcs12);
    }
    if (o->pkcs8 != NULL) {
        secure_zero(o->pkcs8, o->pkcs8_len);
        free(o->pkcs8);
    }
    memset(o, 0, sizeof(*o));
}

const char *svc_actor_who(const struct actor *a)
{
    return a == NULL ? "anonymous" : a->principal ? a->principal : a->id ? a->id : "anonymous";
}

/* ---- carrying an operation out ------------------------------------------------ */

static size_t csr_length(const struct svc_op *op)
{
    return op->csr == NULL ? 0 : op->csr_len ? op->csr_len : strlen(op->csr);
}

int svc_op_execute(struct svc *s, const struct actor *a, const char *tenant,
                   const struct svc_op *op, const struct svc_hook *hook, struct svc_outcome *out,
                   struct err *e)
{
    struct issue_params p = {.ca = op->ca,
                             .profile = op->profile,
                             .entity_id = op->entity,
                             .validity_days = op->validity_days,
                             .hook = hook};
    const unsigned char *csr = (const unsigned char *)op->csr;

    switch (op->kind) {
    case SVC_OP_CERT_ISSUE:
        return svc_cert_issue(s, a, tenant, &p, csr, csr_length(op), &out->cert, e);
    case SVC_OP_CERT_KEYGEN:
        if (op->pkcs8)
            return svc_cert_keygen_pkcs8(s, a, tenant, &p, csr, csr_length(op), &out->cert,
                                         &out->pkcs8, &out->pkcs8_len, e);
        return svc_cert_keygen(s, a, tenant, &p, op->subject, op->sans, op->key_type, op->password,
                               &out->cert, &out->pkcs12, &out->pkcs12_len, e);
    case SVC_OP_CERT_RENEW:
        return svc_cert_renew(s, a, tenant, op->serial, csr, csr_length(op), hook, &out->cert, e);
    case SVC_OP_CERT_REVOKE:
        return svc_cert_revoke(s, a, tenant, op->serial, op->reason, op->invalidity_date, hook,
                               &out->cert, e);
    case SVC_OP_CERT_SUSPEND:
        return svc_cert_suspend(s, a, tenant, op->serial, hook, &out->cert, e);
    case SVC_OP_CERT_REINSTATE:
        return svc_cert_reinstate(s, a, tenant, op->serial, hook, &out->cert, e);
    case SVC_OP_CA_CREATE:
        return svc_ca_create(s, a, tenant, &op->ca_req, hook, &out->ca, e);
    case SVC_OP_ROLE_BIND:
        return svc_role_bind_op(s, a, tenant, op, hook, &out->binding, e);
    case SVC_OP_NONE:
        break;
    }
    return err_set(e, ERR_INVALID, "operation: unknown kind");
}

/* ---- what a submission is about ------------------------------------------------- */

struct door {
    struct svc *s;
    const struct actor *a;
    const char *tenant;
    const struct svc_op *op;
    const char *key;               /* the idempotency key, or NULL */
    char *hash;                    /* svc_op_hash(op) when there is a key */
    struct cert_rec *cert;         /* renew, revoke, suspend, reinstate: the certificate */
    struct workflow_rec *wf;       /* the tenant's workflow over op, or NULL */
    struct idempotency_rec *filed; /* what the key names (fresh), or NULL */
};

static void door_clear(struct door *d)
{
    free(d->hash);
    cert_rec_free(d->cert);
    workflow_rec_free(d->wf);
    idempotency_rec_free(d->filed);
}

static int op_about_serial(enum svc_op_kind kind)
{
    return kind == SVC_OP_CERT_RENEW || kind == SVC_OP_CERT_REVOKE || kind == SVC_OP_CERT_SUSPEND ||
           kind == SVC_OP_CERT_REINSTATE;
}

/* The object a refusal or a request names: the profile, the serial or the CA. */
static const char *door_object(const struct door *d)
{
    switch (d->op->kind) {
    case SVC_OP_CERT_ISSUE:
    case SVC_OP_CERT_KEYGEN:
        return d->op->profile;
    case SVC_OP_CERT_RENEW:
        return d->cert != NULL ? d->cert->profile : d->op->serial;
    case SVC_OP_CA_CREATE:
        return d->op->ca_req.name;
    case SVC_OP_ROLE_BIND:
        return d->op->principal;
    default:
        return d->op->serial;
    }
}

/* The workflow that gates the operation (caller frees), NULL if none can. */
static char *workflow_name(const struct door *d)
{
    switch (d->op->kind) {
    case SVC_OP_CERT_ISSUE:
    case SVC_OP_CERT_KEYGEN:
        return xasprintf("profile:%s", d->op->profile);
    case SVC_OP_CERT_RENEW:
        return xasprintf("profile:%s", d->cert->profile ? d->cert->profile : "");
    case SVC_OP_CERT_REVOKE:
    case SVC_OP_CERT_SUSPEND:
    case SVC_OP_CA_CREATE:
    case SVC_OP_ROLE_BIND:
        return xstrdup(svc_op_name(d->op->kind));
    default:
        return NULL;
    }
}

/* An idempotency key: 1 to 64 letters, digits, '.', '_', ':' or '-'. */
static int key_valid(const char *k)
{
    size_t n = strlen(k);

    return n >= 1 && n <= 64 &&
           strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

/* The fields every operation of its kind needs, and the key's form. */
/* The operations that make something new: refused for a tenant that is not active. */
static int op_creates(enum svc_op_kind kind)
{
    return kind == SVC_OP_CERT_ISSUE || kind == SVC_OP_CERT_KEYGEN || kind == SVC_OP_CERT_RENEW ||
           kind == SVC_OP_CA_CREATE;
}

static int door_check(const struct door *d, struct err *e)
{
    if (svc_op_name(d->op->kind) == NULL)
        return err_set(e, ERR_INVALID, "operation: unknown kind");
    if (op_about_serial(d->op->kind) && (d->op->serial == NULL || d->op->serial[0] == '\0'))
        return err_set(e, ERR_INVALID, "serial: required");
    if ((d->op->kind == SVC_OP_CERT_ISSUE || d->op->kind == SVC_OP_CERT_KEYGEN) &&
        (d->op->ca == NULL || d->op->profile == NULL))
        return err_set(e, ERR_INVALID, "%s: required", d->op->ca ? "profile" : "ca");
    if (d->op->kind == SVC_OP_ROLE_BIND && (d->op->principal == NULL || d->op->role == NULL))
        return err_set(e, ERR_INVALID, "%s: required", d->op->principal ? "role" : "principal");
    if (d->key != NULL && d->op->kind == SVC_OP_ROLE_BIND)
        return err_set(e, ERR_INVALID, "Idempotency-Key: not taken for role bindings");
    if (d->key != NULL && !key_valid(d->key))
        return err_set(e, ERR_INVALID,
                       "Idempotency-Key: 1 to 64 letters, digits, '.', '_', ':' or '-'");
    return 0;
}

/*
 * One read transaction: the certificate (a requester's own only), the
 * workflow and the key's record (an expired one counts as none).
 */
static int door_read(struct door *d, struct err *e)
{
    struct store_tx *tx = store_begin_read(d->s->store, e);
    const char *own = svc_actor_own_only(d->a, "cert.read");
    char *wf_name = NULL;
    int rc = -1;

    if (tx == NULL)
        return -1;
    /* A tenant that is not active makes nothing new, whoever asks and through whatever
       protocol (REST, ACME, EST, CMP): it may still revoke, suspend and reinstate. */
    if (op_creates(d->op->kind)) {
        struct tenant_rec *t = NULL;
        int refused = 0;
        if (store_tenant_get(tx, d->tenant, &t, e) != 0)
            goto out;
        if (strcmp(t->status, "active") != 0)
            refused = err_set(e, ERR_FORBIDDEN,
                              "tenant %s is not active (%s): it may read, export and revoke only",
                              d->tenant, t->status);
        tenant_rec_free(t);
        if (refused)
            goto out;
    }
    if (op_about_serial(d->op->kind)) {
        if (store_cert_get(tx, d->tenant, d->op->serial, &d->cert, e) != 0 ||
            (own != NULL && (d->cert->requester == NULL || strcmp(d->cert->requester, own) != 0))) {
            err_set(e, ERR_NOT_FOUND, "certificate %s not found", d->op->serial);
            goto out;
        }
    }
    if ((wf_name = workflow_name(d)) != NULL &&
        store_workflow_get(tx, d->tenant, wf_name, &d->wf, e) != 0 && e->kind != ERR_NOT_FOUND)
        goto out;
    if (d->key != NULL) {
        if (store_idempotency_get(tx, d->tenant, d->key, &d->filed, e) != 0 &&
            e->kind != ERR_NOT_FOUND)
            goto out;
        if (d->filed != NULL && d->filed->created < time_now() - IDEMPOTENCY_KEEP_SECS) {
            idempotency_rec_free(d->filed);
            d->filed = NULL;
        }
    }
    rc = 0;
out:
    store_rollback(tx);
    free(wf_name);
    return rc;
}

/* ---- idempotency ------------------------------------------------------------------ */

/* What a key names, read again for its replay: the certificate, the CA or the request. */
static int replay_load(struct door *d, const char *outcome, const char *object,
                       struct svc_outcome *out, struct err *e)
{
    struct store_tx *tx = store_begin_read(d->s->store, e);
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (strcmp(outcome, "certificate") == 0)
        rc = store_cert_get(tx, d->tenant, object, &out->cert, e);
    else if (strcmp(outcome, "ca") == 0)
        rc = store_ca_get(tx, d->tenant, object, &out->ca, e);
    else if (strcmp(outcome, "request") == 0)
        rc = store_request_get(tx, d->tenant, object, &out->request, e);
    else
        err_set(e, ERR_INTERNAL, "idempotency key %s: names an unknown outcome %s", d->key,
                outcome);
    store_rollback(tx);
    return rc;
}

/*
 * A pending request the key named may be done by now: its outcome is what it
 * made (its result names it), else the request as it stands.
 */
static int replay_request(struct door *d, struct svc_outcome *out, struct err *e)
{
    json_t *result = out->request->result ? json_loads(out->request->result, 0, NULL) : NULL;
    const char *serial =
        json_string_value(json_object_get(json_object_get(result, "certificate"), "serial"));
    const char *ca = json_string_value(json_object_get(json_object_get(result, "ca"), "name"));
    int rc = 0;

    if (strcmp(out->request->status, "done") == 0 && (serial != NULL || ca != NULL)) {
        rc = replay_load(d, serial ? "certificate" : "ca", serial ? serial : ca, out, e);
        if (rc == 0) {
            request_rec_free(out->request);
            out->request = NULL;
        }
    } else {
        out->pending = 1;
    }
    json_decref(result);
    return rc;
}

/* Answers with what d->filed names: 0 (out set, replayed), or -1 (another operation's key). */
static int replay(struct door *d, struct svc_outcome *out, struct err *e)
{
    const struct idempotency_rec *r = d->filed;

    if (strcmp(r->principal, svc_actor_who(d->a)) != 0 || strcmp(r->request_hash, d->hash) != 0)
        return err_setc(e, ERR_CONFLICT, ERR_IDEMPOTENCY,
                        "Idempotency-Key %s was used for another operation: use a new key", d->key);
    if (strcmp(r->outcome, "keygen") == 0)
        return err_setc(e, ERR_CONFLICT, ERR_IDEMPOTENCY,
                        "Idempotency-Key %s: certificate %s was issued with a key made here, "
                        "handed out once: it cannot be handed out again",
                        d->key, r->object);
    if (replay_load(d, r->outcome, r->object, out, e) != 0 ||
        (out->request != NULL && replay_request(d, out, e) != 0)) {
        svc_outcome_clear(out);
        return -1;
    }
    out->replayed = 1;
    return 0;
}

/* The hook that files the key with what the submission wrote, in its transaction. */
static int key_file(struct store_tx *tx, void *arg, const struct svc_made *made, struct err *e)
{
    struct door *d = arg;
    struct idempotency_rec r = {.key = (char *)d->key,
                                .principal = (char *)svc_actor_who(d->a),
                                .request_hash = d->hash,
                                .created = time_now()};

    if (made->request != NULL) {
        r.object = made->request->id;
        r.outcome = "request";
    } else if (made->ca != NULL) {
        r.object = made->ca->name;
        r.outcome = "ca";
    } else if (made->cert != NULL) {
        r.object = made->cert->serial;
        r.outcome = d->op->kind == SVC_OP_CERT_KEYGEN ? "keygen" : "certificate";
    } else {
        return err_set(e, ERR_INTERNAL, "idempotency key %s: nothing to file", d->key);
    }
    if (store_idempotency_put(tx, d->tenant, &r, r.created - IDEMPOTENCY_KEEP_SECS, e) == 0)
        return 0;
    if (e != NULL && e->kind == ERR_CONFLICT)
        err_setc(e, ERR_CONFLICT, ERR_IDEMPOTENCY,
                 "Idempotency-Key %s: another submission filed it first", d->key);
    return -1;
}

/*
 * After a submission lost the race to file its key: the winner's outcome
 * (1, out set), 0 if there is none to give, -1 on an error.
 */
static int replay_winner(struct door *d, struct svc_outcome *out, struct err *e)
{
    struct store_tx *tx;
    int rc;

    idempotency_rec_free(d->filed);
    d->filed = NULL;
    if ((tx = store_begin_read(d->s->store, e)) == NULL)
        return -1;
    rc = store_idempotency_get(tx, d->tenant, d->key, &d->filed, e);
    store_rollback(tx);
    if (rc != 0)
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    return replay(d, out, e) == 0 ? 1 : -1;
}

/* ---- the door ------------------------------------------------------------------------ */

/* What can be checked of an operation before it waits for approval: its input. */
static int precheck(const struct door *d, struct err *e)
{
    const struct svc_op *op = d->op;
    struct issue_params p = {
        .ca = op->ca, .profile = op->profile, .entity_id = op->entity, .validity_days = 0};

    switch (op->kind) {
    case SVC_OP_CERT_ISSUE:
        p.validity_days = op->validity_days;
        return svc_cert_issue_check(d->s, d->tenant, &p, (const unsigned char *)op->csr,
                                    csr_length(op), e);
    case SVC_OP_CERT_RENEW:
        p.ca = d->cert->ca;
        p.profile = d->cert->profile;
        p.entity_id = d->cert->entity_id;
        return svc_cert_issue_check(d->s, d->tenant, &p, (const unsigned char *)op->csr,
                                    csr_length(op), e);
    case SVC_OP_CA_CREATE:
        return svc_ca_create_check(&op->ca_req, e);
    case SVC_OP_ROLE_BIND:
        return svc_role_bind_check(d->s, d->a, d->tenant, op, e);
    default:
        return 0;
    }
}

static int submit(struct door *d, struct svc_outcome *out, struct err *e)
{
    struct svc_hook filing = {key_file, d};
    const struct svc_hook *hook = d->key != NULL ? &filing : NULL;
    int rc;

    if (door_check(d, e) != 0)
        return -1;
    if (d->key != NULL)
        d->hash = svc_op_hash(d->op);
    if (door_read(d, e) != 0)
        return -1;
    if (d->filed != NULL)
        return replay(d, out, e);
    if (d->wf != NULL) {
        if (d->op->kind == SVC_OP_CERT_KEYGEN)
            return err_set(e, ERR_CONFLICT,
                           "%s needs approval: request it with a CSR (cert.issue): a waiting "
                           "request would have to keep the PKCS#12 password",
                           door_object(d));
        if (precheck(d, e) != 0)
            return -1;
        rc = svc_request_open(d->s, d->a, d->tenant, d->op, door_object(d), d->wf, hook,
                              &out->request, e);
        out->pending = rc == 0;
    } else {
        rc = svc_op_execute(d->s, d->a, d->tenant, d->op, hook, out, e);
    }
    /* The same key filed at the same moment by a submission that won: its outcome. */
    if (rc != 0 && d->key != NULL && e != NULL && strcmp(e->code, ERR_IDEMPOTENCY) == 0) {
        struct err e2;
        svc_outcome_clear(out);
        if (replay_winner(d, out, &e2) == 1)
            return 0;
    }
    return rc;
}

int svc_submit(struct svc *s, const struct actor *a, const char *tenant, const struct svc_op *op,
               const char *idempotency_key, struct svc_outcome *out, struct err *e)
{
    struct door d = {.s = s, .a = a, .tenant = tenant, .op = op, .key = idempotency_key};
    struct err local;
    int rc;

    if (e == NULL)
        e = &local;
    memset(out, 0, sizeof(*out));
    err_clear(e);
    rc = submit(&d, out, e);
    if (rc != 0) {
        svc_outcome_clear(out);
        svc_audit_refusal(s, tenant, a, svc_op_name(op->kind) ? svc_op_name(op->kind) : "op",
                          op_about_serial(op->kind)      ? op->serial
                          : op->kind == SVC_OP_CA_CREATE ? op->ca_req.name
                          : op->kind == SVC_OP_ROLE_BIND ? op->principal
                                                         : NULL,
                          e);
    }
    door_clear(&d);
    return rc;
}
