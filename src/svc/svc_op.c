/*
 * svc_op.c — operations as values: their names, their JSON form (what the
 * REST API takes as a body and a pending request stores) and the hash an
 * idempotency key is bound to.
 *
 * The JSON form is the REST body of the operation (docs/api.md), so one
 * reader serves both: a transport parses its input with svc_op_parse, and an
 * approval reads the stored operation back with the same function.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lib/json_field.h"

static const char *const op_names[] = {
    [SVC_OP_NONE] = NULL,
    [SVC_OP_CERT_ISSUE] = "cert.issue",
    [SVC_OP_CERT_KEYGEN] = "cert.keygen",
    [SVC_OP_CERT_RENEW] = "cert.renew",
    [SVC_OP_CERT_REVOKE] = "cert.revoke",
    [SVC_OP_CERT_SUSPEND] = "cert.suspend",
    [SVC_OP_CERT_REINSTATE] = "cert.reinstate",
    [SVC_OP_CA_CREATE] = "ca.create",
    [SVC_OP_ROLE_BIND] = "role.bind",
};

const char *svc_op_name(enum svc_op_kind kind)
{
    return (size_t)kind < ARRAY_LEN(op_names) ? op_names[kind] : NULL;
}

enum svc_op_kind svc_op_kind_of(const char *name)
{
    for (size_t i = 1; name != NULL && i < ARRAY_LEN(op_names); i++)
        if (strcmp(op_names[i], name) == 0)
            return (enum svc_op_kind)i;
    return SVC_OP_NONE;
}

/* ---- reading ------------------------------------------------------------------ */

#define field_str  json_field_str
#define field_bool json_field_bool

/* An optional integer field in [min, max] as a long (left as it is when absent). */
static int field_long(const json_t *o, const char *key, long long min, long long max, long *out,
                      struct err *e)
{
    long long v = *out;

    if (json_field_int(o, key, min, max, &v, e) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

static int field_int(const json_t *o, const char *key, int min, int max, int *out, struct err *e)
{
    long long v = *out;

    if (json_field_int(o, key, min, max, &v, e) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* Where to issue and under what: ca, profile, entity, validity_days. */
static int parse_issuance(const json_t *o, struct svc_op *op, struct err *e)
{
    return json_field_str(o, "ca", 1, &op->ca, e) ||
                   json_field_str(o, "profile", 1, &op->profile, e) ||
                   json_field_str(o, "entity", 0, &op->entity, e) ||
                   field_long(o, "validity_days", 1, 36500, &op->validity_days, e)
               ? -1
               : 0;
}

static int parse_keygen(const json_t *o, struct svc_op *op, struct err *e)
{
    const json_t *sans = json_object_get(o, "sans");

    if (parse_issuance(o, op, e) || json_field_str(o, "subject", 0, &op->subject, e) ||
        json_field_str(o, "key_type", 0, &op->key_type, e) ||
        json_field_str(o, "password", 1, &op->password, e))
        return -1;
    if (sans != NULL && !json_is_null(sans) && !json_is_array(sans))
        return err_set(e, ERR_INVALID, "sans: must be an array of strings");
    op->sans = json_is_array(sans) ? sans : NULL;
    return 0;
}

/* reason (a CRLReason name) and invalidity_date (RFC 3339). */
static int parse_revocation(const json_t *o, struct svc_op *op, struct err *e)
{
    const char *reason = NULL, *when = NULL;

    if (json_field_str(o, "reason", 0, &reason, e) ||
        json_field_str(o, "invalidity_date", 0, &when, e))
        return -1;
    if (reason != NULL && (op->reason = crl_reason_parse(reason)) < 0)
        return err_set(e, ERR_INVALID, "reason: unknown reason \"%s\"", reason);
    if (when != NULL && time_parse(when, &op->invalidity_date) != 0)
        return err_set(e, ERR_INVALID, "invalidity_date: not an RFC 3339 UTC time");
    return 0;
}

static int parse_ca_create(const json_t *b, struct ca_create *c, struct err *e)
{
    c->path_len = -1;
    return json_field_str(b, "name", 1, &c->name, e) ||
                   json_field_str(b, "subject", 1, &c->subject, e) ||
                   json_field_str(b, "key_type", 0, &c->key_type, e) ||
                   json_field_str(b, "parent", 0, &c->parent, e) ||
                   json_field_str(b, "profile", 0, &c->profile, e) ||
                   json_field_bool(b, "external", &c->external, e) ||
                   json_field_str(b, "key_id", 0, &c->key_id, e) ||
                   field_long(b, "validity_days", 1, 36500, &c->validity_days, e) ||
                   field_int(b, "path_len", 0, 16, &c->path_len, e) ||
                   field_long(b, "crl_validity_hours", 1, 87600, &c->crl_validity_hours, e) ||
                   field_long(b, "crl_interval_minutes", 1, 525600, &c->crl_interval_minutes, e) ||
                   field_int(b, "crl_shards", 0, CRL_SHARDS_MAX, &c->crl_shards, e) ||
                   field_long(b, "delta_crl_interval_minutes", 0, 525600,
                              &c->delta_crl_interval_minutes, e) ||
                   field_long(b, "delta_crl_validity_hours", 1, 87600, &c->delta_crl_validity_hours,
                              e) ||
                   json_field_str(b, "ocsp_signer", 0, &c->ocsp_signer, e) ||
                   field_long(b, "ocsp_validity_hours", 1, 8760, &c->ocsp_validity_hours, e)
               ? -1
               : 0;
}

int svc_op_parse(enum svc_op_kind kind, const json_t *o, struct svc_op *op, struct err *e)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    if (!json_is_object(o))
        return err_set(e, ERR_INVALID, "body: not a JSON object");
    if (kind != SVC_OP_CA_CREATE && kind != SVC_OP_CERT_ISSUE && kind != SVC_OP_CERT_KEYGEN &&
        kind != SVC_OP_ROLE_BIND && json_field_str(o, "serial", 0, &op->serial, e) != 0)
        return -1;
    switch (kind) {
    case SVC_OP_CERT_ISSUE:
        return parse_issuance(o, op, e) || json_field_str(o, "csr", 1, &op->csr, e) ? -1 : 0;
    case SVC_OP_CERT_KEYGEN:
        return parse_keygen(o, op, e);
    case SVC_OP_CERT_RENEW:
        return json_field_str(o, "csr", 0, &op->csr, e);
    case SVC_OP_CERT_REVOKE:
        return parse_revocation(o, op, e);
    case SVC_OP_CERT_SUSPEND:
    case SVC_OP_CERT_REINSTATE:
        return 0;
    case SVC_OP_CA_CREATE:
        return parse_ca_create(o, &op->ca_req, e);
    case SVC_OP_ROLE_BIND:
        return json_field_str(o, "principal", 1, &op->principal, e) ||
                       json_field_str(o, "role", 1, &op->role, e) ||
                       json_field_str(o, "principal_tenant", 0, &op->principal_tenant, e)
                   ? -1
                   : 0;
    case SVC_OP_NONE:
        break;
    }
    return err_set(e, ERR_INVALID, "operation: unknown kind");
}

/* ---- writing ------------------------------------------------------------------ */

static void put_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, key, json_string(v));
}

static void put_long(json_t *o, const char *key, long v)
{
    if (v != 0)
        json_object_set_new(o, key, json_integer(v));
}

/* A CSR as text: PEM as given, DER (a file the offline tool read) turned into PEM. */
static void put_csr(json_t *o, const struct svc_op *op)
{
    size_t len = op->csr_len ? op->csr_len : op->csr ? strlen(op->csr) : 0;
    char *pem;

    if (op->csr == NULL)
        return;
    if (len > 0 && (unsigned char)op->csr[0] == 0x30) {
        pem = svc_pem("CERTIFICATE REQUEST", (const unsigned char *)op->csr, len);
        json_object_set_new(o, "csr", json_string(pem));
        free(pem);
    } else {
        json_object_set_new(o, "csr", json_stringn(op->csr, len));
    }
}

static void put_ca_create(json_t *o, const struct ca_create *c)
{
    put_str(o, "name", c->name);
    put_str(o, "subject", c->subject);
    put_str(o, "key_type", c->key_type);
    put_str(o, "parent", c->parent);
    put_str(o, "profile", c->profile);
    if (c->external)
        json_object_set_new(o, "external", json_true());
    put_str(o, "key_id", c->key_id);
    put_long(o, "validity_days", c->validity_days);
    if (c->path_len >= 0)
        json_object_set_new(o, "path_len", json_integer(c->path_len));
    put_long(o, "crl_validity_hours", c->crl_validity_hours);
    put_long(o, "crl_interval_minutes", c->crl_interval_minutes);
    put_long(o, "crl_shards", c->crl_shards);
    put_long(o, "delta_crl_interval_minutes", c->delta_crl_interval_minutes);
    put_long(o, "delta_crl_validity_hours", c->delta_crl_validity_hours);
    put_str(o, "ocsp_signer", c->ocsp_signer);
    put_long(o, "ocsp_validity_hours", c->ocsp_validity_hours);
}

json_t *svc_op_json(const struct svc_op *op)
{
    json_t *o = json_object();
    char when[32];

    if (op->kind == SVC_OP_CERT_ISSUE || op->kind == SVC_OP_CERT_KEYGEN) {
        put_str(o, "ca", op->ca);
        put_str(o, "profile", op->profile);
        put_str(o, "entity", op->entity);
        put_long(o, "validity_days", op->validity_days);
    }
    if (op->kind == SVC_OP_CERT_KEYGEN) {
        put_str(o, "subject", op->subject);
        put_str(o, "key_type", op->key_type);
        if (op->sans != NULL)
            json_object_set(o, "sans", (json_t *)op->sans);
    }
    if (op->kind == SVC_OP_CERT_ISSUE || op->kind == SVC_OP_CERT_RENEW)
        put_csr(o, op);
    if (op->kind == SVC_OP_CERT_REVOKE) {
        json_object_set_new(o, "reason", json_string(crl_reason_name(op->reason)));
        if (op->invalidity_date != 0)
            put_str(o, "invalidity_date", time_format(op->invalidity_date, when, sizeof(when)));
    }
    if (op->kind == SVC_OP_CERT_RENEW || op->kind == SVC_OP_CERT_REVOKE ||
        op->kind == SVC_OP_CERT_SUSPEND || op->kind == SVC_OP_CERT_REINSTATE)
        put_str(o, "serial", op->serial);
    if (op->kind == SVC_OP_CA_CREATE)
        put_ca_create(o, &op->ca_req);
    if (op->kind == SVC_OP_ROLE_BIND) {
        put_str(o, "principal", op->principal);
        put_str(o, "role", op->role);
        put_str(o, "principal_tenant", op->principal_tenant);
    }
    return o;
}

char *svc_op_hash(const struct svc_op *op)
{
    json_t *j = svc_op_json(op);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    const char *name = svc_op_name(op->kind);
    char *input = xasprintf("%s\n%s", name ? name : "", text);
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)input, strlen(input), md);
    free(input);
    free(text);
    json_decref(j);
    return hex_encode(md, sizeof(md));
}

/* ---- operations stored in requests ---------------------------------------------- */

/*
 * A request stored before schema 14 kept the REST call: the path's
 * parameters (the serial) and its body.  The operation is the body with the
 * path's parameters over it; it is kept in params (under "_op") for op's
 * strings to point into.
 */
static const json_t *legacy_op(json_t *params)
{
    const json_t *body = json_object_get(params, "body");
    json_t *merged = json_is_object(body) ? json_deep_copy(body) : json_object();

    json_object_update(merged, json_object_get(params, "path"));
    json_object_set_new(params, "_op", merged);
    return merged;
}

int svc_op_from_request(const struct request_rec *r, json_t **holder, struct svc_op *op,
                        const char **roles, size_t max, size_t *n, struct err *e)
{
    enum svc_op_kind kind = svc_op_kind_of(r->kind);
    json_t *params = json_loads(r->params, 0, NULL), *v;
    const json_t *o;
    size_t i;

    *n = 0;
    if (kind == SVC_OP_NONE || !json_is_object(params)) {
        json_decref(params);
        return err_set(e, ERR_INTERNAL, "request %s: the stored %s cannot be carried out", r->id,
                       r->kind);
    }
    o = json_object_get(params, "op") ? json_object_get(params, "op") : legacy_op(params);
    if (svc_op_parse(kind, o, op, e) != 0) {
        json_decref(params);
        return -1;
    }
    json_array_foreach(json_object_get(params, "roles"), i, v)
    {
        if (*n < max && json_is_string(v))
            roles[(*n)++] = json_string_value(v);
    }
    *holder = params;
    return 0;
}
