/*
 * pg_data.c — the PostgreSQL backend's queries and data calls, one for one
 * those of sqlite_data.c.  Every query has bound parameters; searches are put
 * together from fixed fragments, so no SQL text ever contains input.  Every
 * call on tenant data first sets vouch.tenant for row-level security
 * (pg_tenant_set) and also names the tenant in its WHERE clause: the policy
 * is the second wall, not the first.  Only the tenant listing and the token
 * lookup by hash read across tenants, under vouch.cross_tenant.
 *
 * Inserts use ON CONFLICT DO NOTHING: a clash is ERR_CONFLICT without aborting the
 * transaction, so a caller may draw a new serial and try again in the same
 * transaction, as with SQLite.
 */
#include "store/pg_internal.h"
#include "store/store_free.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT_COLS                                                                                \
    "name, status, created, status_reason, deleted_at, purge_after, certs_per_hour, "              \
    "requests_per_second"
#define CA_COLS                                                                                    \
    "tenant, name, parent, key_id, key_type, status, subject, cert, csr, chain, options, "         \
    "not_before, not_after, created"
#define ENT_COLS                                                                                   \
    "tenant, id, name, kind, email, manufacturer, model, serial_number, metadata, created"
#define CERT_COLS                                                                                  \
    "tenant, serial, ca, profile, profile_version, entity_id, subject, sans, status, "             \
    "not_before, not_after, revoked_at, reason, invalidity_date, renewed_from, der, created, "     \
    "status_changed, crl_shard, counted, requester"
#define CRL_COLS       "tenant, ca, number, this_update, next_update, der, shard, delta_base"
#define CRL_ENTRY_COLS "serial, status, revoked_at, reason, invalidity_date, status_changed"
#define TOKEN_COLS     "tenant, id, name, hash, role, expires, created, principal, secret, revoked"
#define PRINCIPAL_COLS                                                                             \
    "tenant, id, name, kind, allow, disabled, created, cert_issuer, cert_subject, cert_sha256"
#define CLIENT_CA_COLS  "tenant, name, ca, cert, created"
#define BINDING_COLS    "tenant, principal_tenant, principal, role, created"
#define RESPONDER_COLS  "tenant, ca, key_id, key_type, serial, cert, not_after, created"
#define OCSP_COLS       "tenant, serial, ca, refresh_at, this_update, next_update, der"
#define AUDIT_COLS      "tenant, seq, time, actor, action, object, result, detail, prev_hash, hash"
#define AUDIT_KEY_COLS  "tenant, key_id, key_type, public_pem, created"
#define OFFLINE_COLS    "tenant, source, seq, digest, signer, audit_seq, audit_head, imported"
#define TARGET_COLS     "tenant, host, port, transport, ca_pem, created"
#define CHECKPOINT_COLS "tenant, seq, time, head_hash, key_id, der, sig"
#define TSA_UNIT_COLS                                                                              \
    "tenant, name, ca, key_id, key_type, status, cert_serial, cert, chain, policy, policies, "     \
    "hashes, accuracy_ms, include_chain, created"
#define TSA_TOKEN_COLS                                                                             \
    "tenant, unit, serial, gen_time, time, policy, hash_alg, imprint, nonce, requester, der"

#define WORKFLOW_COLS "tenant, name, required, approvers, expires_hours, created"
#define REQUEST_COLS                                                                               \
    "tenant, id, kind, object, params, requester, status, required, approvers, approvals, "        \
    "result, reason, created, expires, decided"
#define WEBHOOK_COLS       "tenant, url, secret, created, key_id, nonce"
#define IDEMPOTENCY_COLS   "tenant, key, principal, request_hash, object, created, outcome"
#define WEBHOOK_EVENT_COLS "tenant, id, event, body, attempts, next_attempt, status, created"

#define TX(base) ((struct pg_tx *)(base))

#define CERT_FILTERS   10
#define ENTITY_FILTERS 3

/* ---- reading columns ------------------------------------------------------ */

static char *col_text(const PGresult *res, int row, int i)
{
    return PQgetisnull(res, row, i) ? NULL : xstrdup(PQgetvalue(res, row, i));
}

static int64_t col_int(const PGresult *res, int row, int i)
{
    return PQgetisnull(res, row, i) ? 0 : strtoll(PQgetvalue(res, row, i), NULL, 10);
}

/* A bytea column (text format, hex); NULL for SQL NULL and, as SQLite does, for no bytes. */
static unsigned char *col_blob(const PGresult *res, int row, int i, size_t *n)
{
    unsigned char *raw, *out = NULL;
    size_t len = 0;

    *n = 0;
    if (PQgetisnull(res, row, i))
        return NULL;
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, i), &len);
    if (raw == NULL)
        abort(); /* out of memory */
    if (len > 0) {
        out = xmalloc(len);
        memcpy(out, raw, len);
        *n = len;
    }
    PQfreemem(raw);
    return out;
}

/* How to read one row of a result into a record, and how to free that record. */
struct reader {
    void *(*read)(const PGresult *res, int row);
    void (*free)(void *rec);
};

/* ---- running statements ---------------------------------------------------- */

/* Runs sql for tenant (NULL: the tenant setting is left as it is); the result or NULL. */
static PGresult *run(struct store_tx *tx, const char *tenant, const char *sql,
                     const struct pg_params *p, const char *what, struct err *e)
{
    if (tenant != NULL && pg_tenant_set(TX(tx), tenant, e) != 0)
        return NULL;
    return pg_exec(TX(tx), sql, p, what, e);
}

/* Runs a statement whose rows are not wanted; 0 or -1. */
static int run_done(struct store_tx *tx, const char *tenant, const char *sql,
                    const struct pg_params *p, const char *what, struct err *e)
{
    PGresult *res = run(tx, tenant, sql, p, what, e);

    PQclear(res);
    return res != NULL ? 0 : -1;
}

/* The number of rows a statement changed (-1 with e set on error). */
static int64_t run_changes(struct store_tx *tx, const char *tenant, const char *sql,
                           const struct pg_params *p, const char *what, struct err *e)
{
    PGresult *res = run(tx, tenant, sql, p, what, e);
    int64_t n;

    if (res == NULL)
        return -1;
    n = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return n;
}

/* An UPDATE/DELETE that must touch exactly one row (ERR_NOT_FOUND otherwise). */
static int run_one_change(struct store_tx *tx, const char *tenant, const char *sql,
                          const struct pg_params *p, const char *what, struct err *e)
{
    int64_t n = run_changes(tx, tenant, sql, p, what, e);

    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "%s: not found", what) : 0;
}

/* An INSERT ... ON CONFLICT DO NOTHING: no row inserted is a clash (ERR_CONFLICT). */
static int run_insert(struct store_tx *tx, const char *tenant, const char *sql,
                      const struct pg_params *p, const char *what, struct err *e)
{
    int64_t n = run_changes(tx, tenant, sql, p, what, e);

    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_CONFLICT, "%s: already exists", what) : 0;
}

/* Reads the one row of a query into *out (the caller frees it); ERR_NOT_FOUND if none. */
static int read_one(struct store_tx *tx, const char *tenant, const char *sql,
                    const struct pg_params *p, const struct reader *rd, void **out,
                    const char *what, struct err *e)
{
    PGresult *res = run(tx, tenant, sql, p, what, e);
    int rc = 0;

    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0)
        rc = err_set(e, ERR_NOT_FOUND, "%s: not found", what);
    else
        *out = rd->read(res, 0);
    PQclear(res);
    return rc;
}

/* Reads every row of a query into a new array (the caller frees the records and the array). */
static int read_all(struct store_tx *tx, const char *tenant, const char *sql,
                    const struct pg_params *p, const struct reader *rd, void ***out, size_t *n,
                    const char *what, struct err *e)
{
    PGresult *res = run(tx, tenant, sql, p, what, e);
    void **list = NULL;
    int rows;

    if (res == NULL)
        return -1;
    rows = PQntuples(res);
    if (rows > 0) {
        list = xcalloc((size_t)rows, sizeof(*list));
        for (int i = 0; i < rows; i++)
            list[i] = rd->read(res, i);
    }
    PQclear(res);
    *out = list;
    *n = (size_t)rows;
    return 0;
}

/* ---- row readers -------------------------------------------------------- */

static void *read_tenant(const PGresult *res, int row)
{
    struct tenant_rec *r = xcalloc(1, sizeof(*r));
    r->name = col_text(res, row, 0);
    r->status = col_text(res, row, 1);
    r->created = col_int(res, row, 2);
    r->status_reason = col_text(res, row, 3);
    r->deleted_at = col_int(res, row, 4);
    r->purge_after = col_int(res, row, 5);
    r->certs_per_hour = (int)col_int(res, row, 6);
    r->requests_per_second = (int)col_int(res, row, 7);
    return r;
}

static void *read_ca(const PGresult *res, int row)
{
    struct ca_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->name = col_text(res, row, 1);
    r->parent = col_text(res, row, 2);
    r->key_id = col_text(res, row, 3);
    r->key_type = col_text(res, row, 4);
    r->status = col_text(res, row, 5);
    r->subject = col_text(res, row, 6);
    r->cert_der = col_blob(res, row, 7, &r->cert_len);
    r->csr_der = col_blob(res, row, 8, &r->csr_len);
    r->chain_der = col_blob(res, row, 9, &r->chain_len);
    r->options_json = col_text(res, row, 10);
    r->not_before = col_int(res, row, 11);
    r->not_after = col_int(res, row, 12);
    r->created = col_int(res, row, 13);
    return r;
}

static void *read_profile(const PGresult *res, int row)
{
    struct profile_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->name = col_text(res, row, 1);
    r->version = (int)col_int(res, row, 2);
    r->json = col_text(res, row, 3);
    r->created = col_int(res, row, 4);
    return r;
}

static void *read_entity(const PGresult *res, int row)
{
    struct entity_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->id = col_text(res, row, 1);
    r->name = col_text(res, row, 2);
    r->kind = col_text(res, row, 3);
    r->email = col_text(res, row, 4);
    r->manufacturer = col_text(res, row, 5);
    r->model = col_text(res, row, 6);
    r->serial_number = col_text(res, row, 7);
    r->metadata_json = col_text(res, row, 8);
    r->created = col_int(res, row, 9);
    return r;
}

static void *read_cert(const PGresult *res, int row)
{
    struct cert_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->serial = col_text(res, row, 1);
    r->ca = col_text(res, row, 2);
    r->profile = col_text(res, row, 3);
    r->profile_version = (int)col_int(res, row, 4);
    r->entity_id = col_text(res, row, 5);
    r->subject = col_text(res, row, 6);
    r->sans = col_text(res, row, 7);
    r->status = col_text(res, row, 8);
    r->not_before = col_int(res, row, 9);
    r->not_after = col_int(res, row, 10);
    r->revoked_at = col_int(res, row, 11);
    r->reason = (int)col_int(res, row, 12);
    r->invalidity_date = col_int(res, row, 13);
    r->renewed_from = col_text(res, row, 14);
    r->der = col_blob(res, row, 15, &r->der_len);
    r->created = col_int(res, row, 16);
    r->status_changed = col_int(res, row, 17);
    r->crl_shard = (int)col_int(res, row, 18);
    r->counted = (int)col_int(res, row, 19);
    r->requester = col_text(res, row, 20);
    return r;
}

static void *read_crl(const PGresult *res, int row)
{
    struct crl_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->ca = col_text(res, row, 1);
    r->number = col_int(res, row, 2);
    r->this_update = col_int(res, row, 3);
    r->next_update = col_int(res, row, 4);
    r->der = col_blob(res, row, 5, &r->der_len);
    r->shard = (int)col_int(res, row, 6);
    r->delta_base = col_int(res, row, 7);
    return r;
}

static void *read_audit_key(const PGresult *res, int row)
{
    struct audit_key_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->key_id = col_text(res, row, 1);
    r->key_type = col_text(res, row, 2);
    r->public_pem = col_text(res, row, 3);
    r->created = col_int(res, row, 4);
    return r;
}

static void *read_offline_import(const PGresult *res, int row)
{
    struct offline_import_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->source = col_text(res, row, 1);
    r->seq = col_int(res, row, 2);
    r->digest = col_text(res, row, 3);
    r->signer = col_text(res, row, 4);
    r->audit_seq = col_int(res, row, 5);
    r->audit_head = col_text(res, row, 6);
    r->imported = col_int(res, row, 7);
    return r;
}

static void *read_idempotency(const PGresult *res, int row)
{
    struct idempotency_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->key = col_text(res, row, 1);
    r->principal = col_text(res, row, 2);
    r->request_hash = col_text(res, row, 3);
    r->object = col_text(res, row, 4);
    r->created = col_int(res, row, 5);
    r->outcome = col_text(res, row, 6);
    return r;
}

static void *read_checkpoint(const PGresult *res, int row)
{
    struct audit_checkpoint_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->seq = col_int(res, row, 1);
    r->time = col_int(res, row, 2);
    r->head_hash = col_text(res, row, 3);
    r->key_id = col_text(res, row, 4);
    r->der = col_blob(res, row, 5, &r->der_len);
    r->sig = col_blob(res, row, 6, &r->sig_len);
    return r;
}

static void *read_target(const PGresult *res, int row)
{
    struct audit_target_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->host = col_text(res, row, 1);
    r->port = (int)col_int(res, row, 2);
    r->transport = col_text(res, row, 3);
    r->ca_pem = col_text(res, row, 4);
    r->created = col_int(res, row, 5);
    return r;
}

static void *read_responder(const PGresult *res, int row)
{
    struct ocsp_responder_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->ca = col_text(res, row, 1);
    r->key_id = col_text(res, row, 2);
    r->key_type = col_text(res, row, 3);
    r->serial = col_text(res, row, 4);
    r->cert_der = col_blob(res, row, 5, &r->cert_len);
    r->not_after = col_int(res, row, 6);
    r->created = col_int(res, row, 7);
    return r;
}

static void *read_ocsp(const PGresult *res, int row)
{
    struct ocsp_resp_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->serial = col_text(res, row, 1);
    r->ca = col_text(res, row, 2);
    r->refresh_at = col_int(res, row, 3);
    r->this_update = col_int(res, row, 4);
    r->next_update = col_int(res, row, 5);
    r->der = col_blob(res, row, 6, &r->der_len);
    return r;
}

static void *read_token(const PGresult *res, int row)
{
    struct token_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->id = col_text(res, row, 1);
    r->name = col_text(res, row, 2);
    r->hash = col_text(res, row, 3);
    r->role = col_text(res, row, 4);
    r->expires = col_int(res, row, 5);
    r->created = col_int(res, row, 6);
    r->principal = col_text(res, row, 7);
    r->secret = col_text(res, row, 8);
    r->revoked = col_int(res, row, 9);
    return r;
}

static void *read_principal(const PGresult *res, int row)
{
    struct principal_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->id = col_text(res, row, 1);
    r->name = col_text(res, row, 2);
    r->kind = col_text(res, row, 3);
    r->allow = col_text(res, row, 4);
    r->disabled = (int)col_int(res, row, 5);
    r->created = col_int(res, row, 6);
    r->cert_issuer = col_text(res, row, 7);
    r->cert_subject = col_text(res, row, 8);
    r->cert_sha256 = col_text(res, row, 9);
    return r;
}

static void *read_client_ca(const PGresult *res, int row)
{
    struct client_ca_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->name = col_text(res, row, 1);
    r->ca = col_text(res, row, 2);
    r->cert = col_blob(res, row, 3, &r->cert_len);
    r->created = col_int(res, row, 4);
    return r;
}

static void *read_binding(const PGresult *res, int row)
{
    struct binding_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->principal_tenant = col_text(res, row, 1);
    r->principal = col_text(res, row, 2);
    r->role = col_text(res, row, 3);
    r->created = col_int(res, row, 4);
    return r;
}

static void *read_audit(const PGresult *res, int row)
{
    struct audit_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->seq = col_int(res, row, 1);
    r->time = col_int(res, row, 2);
    r->actor = col_text(res, row, 3);
    r->action = col_text(res, row, 4);
    r->object = col_text(res, row, 5);
    r->result = col_text(res, row, 6);
    r->detail = col_text(res, row, 7);
    r->prev_hash = col_text(res, row, 8);
    r->hash = col_text(res, row, 9);
    return r;
}

static void *read_tsa_unit(const PGresult *res, int row)
{
    struct tsa_unit_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->name = col_text(res, row, 1);
    r->ca = col_text(res, row, 2);
    r->key_id = col_text(res, row, 3);
    r->key_type = col_text(res, row, 4);
    r->status = col_text(res, row, 5);
    r->cert_serial = col_text(res, row, 6);
    r->cert_der = col_blob(res, row, 7, &r->cert_len);
    r->chain_der = col_blob(res, row, 8, &r->chain_len);
    r->policy = col_text(res, row, 9);
    r->policies_json = col_text(res, row, 10);
    r->hashes_json = col_text(res, row, 11);
    r->accuracy_ms = col_int(res, row, 12);
    r->include_chain = (int)col_int(res, row, 13);
    r->created = col_int(res, row, 14);
    return r;
}

static void *read_tsa_token(const PGresult *res, int row)
{
    struct tsa_token_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->unit = col_text(res, row, 1);
    r->serial = col_text(res, row, 2);
    r->gen_time = col_text(res, row, 3);
    r->time = col_int(res, row, 4);
    r->policy = col_text(res, row, 5);
    r->hash_alg = col_text(res, row, 6);
    r->imprint = col_text(res, row, 7);
    r->nonce = col_text(res, row, 8);
    r->requester = col_text(res, row, 9);
    r->der = col_blob(res, row, 10, &r->der_len);
    return r;
}

static void *read_workflow(const PGresult *res, int row)
{
    struct workflow_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->name = col_text(res, row, 1);
    r->required = (int)col_int(res, row, 2);
    r->approvers = col_text(res, row, 3);
    r->expires_hours = (int)col_int(res, row, 4);
    r->created = col_int(res, row, 5);
    return r;
}

static void *read_request(const PGresult *res, int row)
{
    struct request_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->id = col_text(res, row, 1);
    r->kind = col_text(res, row, 2);
    r->object = col_text(res, row, 3);
    r->params = col_text(res, row, 4);
    r->requester = col_text(res, row, 5);
    r->status = col_text(res, row, 6);
    r->required = (int)col_int(res, row, 7);
    r->approvers = col_text(res, row, 8);
    r->approvals = col_text(res, row, 9);
    r->result = col_text(res, row, 10);
    r->reason = col_text(res, row, 11);
    r->created = col_int(res, row, 12);
    r->expires = col_int(res, row, 13);
    r->decided = col_int(res, row, 14);
    return r;
}

static void *read_webhook(const PGresult *res, int row)
{
    struct webhook_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->url = col_text(res, row, 1);
    r->secret = col_text(res, row, 2);
    r->created = col_int(res, row, 3);
    r->key_id = col_text(res, row, 4);
    r->nonce = col_text(res, row, 5);
    return r;
}

static void *read_webhook_event(const PGresult *res, int row)
{
    struct webhook_event_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(res, row, 0);
    r->id = col_text(res, row, 1);
    r->event = col_text(res, row, 2);
    r->body = col_text(res, row, 3);
    r->attempts = (int)col_int(res, row, 4);
    r->next_attempt = col_int(res, row, 5);
    r->status = col_text(res, row, 6);
    r->created = col_int(res, row, 7);
    return r;
}

static const struct reader tenant_reader = {read_tenant, store_free_tenant};
static const struct reader ca_reader = {read_ca, store_free_ca};
static const struct reader profile_reader = {read_profile, store_free_profile};
static const struct reader entity_reader = {read_entity, store_free_entity};
static const struct reader cert_reader = {read_cert, store_free_cert};
static const struct reader crl_reader = {read_crl, store_free_crl};
static const struct reader token_reader = {read_token, store_free_token};
static const struct reader principal_reader = {read_principal, store_free_principal};
static const struct reader binding_reader = {read_binding, store_free_binding};
static const struct reader client_ca_reader = {read_client_ca, store_free_client_ca};
static const struct reader responder_reader = {read_responder, store_free_responder};
static const struct reader ocsp_reader = {read_ocsp, store_free_ocsp};
static const struct reader audit_reader = {read_audit, store_free_audit};
static const struct reader audit_key_reader = {read_audit_key, store_free_audit_key};
static const struct reader offline_reader = {read_offline_import, store_free_offline_import};
static const struct reader checkpoint_reader = {read_checkpoint, store_free_checkpoint};
static const struct reader target_reader = {read_target, store_free_target};
static const struct reader tsa_unit_reader = {read_tsa_unit, store_free_tsa_unit};
static const struct reader tsa_token_reader = {read_tsa_token, store_free_tsa_token};
static const struct reader workflow_reader = {read_workflow, store_free_workflow};
static const struct reader request_reader = {read_request, store_free_request};
static const struct reader webhook_reader = {read_webhook, store_free_webhook};
static const struct reader idempotency_reader = {read_idempotency, store_free_idempotency};
static const struct reader webhook_event_reader = {read_webhook_event, store_free_webhook_event};

#define PARAMS struct pg_params p = {0}

/* ---- searches ---------------------------------------------------------- */

/* Appends text to sql with each "$?" replaced by the next parameter number $n. */
static void append_numbered(struct buf *sql, const char *text, int *next)
{
    char num[16];

    for (const char *f = text; *f != '\0'; f++) {
        if (f[0] == '$' && f[1] == '?') {
            snprintf(num, sizeof(num), "$%d", (*next)++);
            buf_append(sql, num, strlen(num));
            f++;
        } else {
            buf_append(sql, f, 1);
        }
    }
}

/*
 * A search statement (the caller frees it): head, then " AND (<fragment>)"
 * for each filter set in mask, then tail.  Fragments and tail name their
 * parameters "$?", numbered from `first` in the order they appear, so the
 * caller adds the parameters in that order.  Only fixed text goes in.
 */
static char *search_sql(const char *head, const char *const *filters, unsigned mask,
                        const char *tail, int first)
{
    struct buf sql = {0};
    int next = first;

    buf_append(&sql, head, strlen(head));
    for (unsigned i = 0; mask >> i != 0; i++) {
        if (!(mask & (1u << i)))
            continue;
        buf_append(&sql, " AND (", 6);
        append_numbered(&sql, filters[i], &next);
        buf_append(&sql, ")", 1);
    }
    append_numbered(&sql, tail, &next);
    buf_append(&sql, "", 1);
    return (char *)sql.data;
}

static int limit_of(int limit)
{
    return limit <= 0 ? 100 : (limit > 1000 ? 1000 : limit);
}

/* Limit 0 (or less) means 100, at most 1000; a negative offset is 0. */
static void param_page(struct pg_params *p, int limit, int offset)
{
    pg_param_int(p, limit_of(limit));
    pg_param_int(p, offset > 0 ? offset : 0);
}

/* ---- tenants ------------------------------------------------------------- */

static int tenant_create(struct store_tx *tx, const char *tenant, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, time_now());
    return run_insert(tx, tenant,
                      "INSERT INTO tenants (name, status, created) VALUES ($1, 'active', $2) "
                      "ON CONFLICT DO NOTHING",
                      &p, "tenant", e);
}

static int tenant_get(struct store_tx *tx, const char *tenant, struct tenant_rec **out,
                      struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_one(tx, tenant, "SELECT " TENANT_COLS " FROM tenants WHERE name = $1", &p,
                    &tenant_reader, (void **)out, "tenant", e);
}

/* Across tenants, deliberately: the read policy "cross_read" holds for this query alone. */
static int tenant_list(struct store_tx *tx, struct tenant_rec ***out, size_t *n, struct err *e)
{
    int rc;

    if (pg_cross_tenant(TX(tx), 1, e) != 0)
        return -1;
    rc = read_all(tx, NULL, "SELECT " TENANT_COLS " FROM tenants ORDER BY name", NULL,
                  &tenant_reader, (void ***)out, n, "tenants", e);
    if (pg_cross_tenant(TX(tx), 0, rc == 0 ? e : NULL) != 0 && rc == 0) {
        for (size_t i = 0; i < *n; i++)
            tenant_rec_free((*out)[i]);
        free(*out);
        rc = -1;
    }
    return rc;
}

static int tenant_update(struct store_tx *tx, const char *tenant, const struct tenant_rec *r,
                         struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->status);
    pg_param_text(&p, r->status_reason);
    pg_param_int(&p, r->deleted_at);
    pg_param_int(&p, r->purge_after);
    pg_param_int(&p, r->certs_per_hour);
    pg_param_int(&p, r->requests_per_second);
    return run_one_change(tx, tenant,
                          "UPDATE tenants SET status = $2, status_reason = $3, deleted_at = $4,"
                          " purge_after = $5, certs_per_hour = $6, requests_per_second = $7"
                          " WHERE name = $1",
                          &p, "tenant", e);
}

/*
 * The table names come from the catalogue (every table of this schema with a
 * tenant column), never from input; each is quoted as an identifier, the
 * tenant is a bound value, and row-level security holds it to that tenant.
 */
static int tenant_purge(struct store_tx *tx, const char *tenant, struct err *e)
{
    PGresult *res = run(tx, tenant,
                        "SELECT c.table_name FROM information_schema.columns c"
                        " JOIN information_schema.tables t ON t.table_schema = c.table_schema"
                        " AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'"
                        " WHERE c.table_schema = current_schema() AND c.column_name = 'tenant'"
                        " ORDER BY 1",
                        NULL, "tenant tables", e);
    int rc = res != NULL ? 0 : -1;

    for (int i = 0; res != NULL && i < PQntuples(res) && rc == 0; i++) {
        char *sql = xasprintf("DELETE FROM \"%s\" WHERE tenant = $1", PQgetvalue(res, i, 0));
        PARAMS;
        pg_param_text(&p, tenant);
        rc = run_done(tx, tenant, sql, &p, "tenant purge", e);
        free(sql);
    }
    PQclear(res);
    return rc;
}

/* ---- CAs --------------------------------------------------------------- */

static int ca_insert(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->name);
    pg_param_text(&p, r->parent);
    pg_param_text(&p, r->key_id);
    pg_param_text(&p, r->key_type);
    pg_param_text(&p, r->status);
    pg_param_text(&p, r->subject);
    pg_param_blob(&p, r->cert_der, r->cert_len);
    pg_param_blob(&p, r->csr_der, r->csr_len);
    pg_param_blob(&p, r->chain_der, r->chain_len);
    pg_param_text(&p, r->options_json ? r->options_json : "{}");
    pg_param_int(&p, r->not_before);
    pg_param_int(&p, r->not_after);
    pg_param_int(&p, r->created);
    return run_insert(tx, tenant,
                      "INSERT INTO cas (" CA_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                      "$10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
                      &p, "CA", e);
}

static int ca_update(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->name);
    pg_param_text(&p, r->status);
    pg_param_text(&p, r->subject);
    pg_param_blob(&p, r->cert_der, r->cert_len);
    pg_param_blob(&p, r->chain_der, r->chain_len);
    pg_param_text(&p, r->options_json ? r->options_json : "{}");
    pg_param_int(&p, r->not_before);
    pg_param_int(&p, r->not_after);
    return run_one_change(tx, tenant,
                          "UPDATE cas SET status = $3, subject = $4, cert = $5, chain = $6, "
                          "options = $7, not_before = $8, not_after = $9 "
                          "WHERE tenant = $1 AND name = $2",
                          &p, "CA", e);
}

static int ca_get(struct store_tx *tx, const char *tenant, const char *name, struct ca_rec **out,
                  struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, name);
    return read_one(tx, tenant, "SELECT " CA_COLS " FROM cas WHERE tenant = $1 AND name = $2", &p,
                    &ca_reader, (void **)out, "CA", e);
}

static int ca_list(struct store_tx *tx, const char *tenant, struct ca_rec ***out, size_t *n,
                   struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_all(tx, tenant,
                    "SELECT " CA_COLS " FROM cas WHERE tenant = $1 ORDER BY created, name", &p,
                    &ca_reader, (void ***)out, n, "CAs", e);
}

/* ---- profiles ------------------------------------------------------------ */

/*
 * The next version of (tenant, name), under a transaction-scoped advisory
 * lock on that pair, so writers on several nodes number versions in turn.
 */
static int profile_put(struct store_tx *tx, const char *tenant, const char *name, const char *json,
                       int *version_out, struct err *e)
{
    PGresult *res;
    int version;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, name);
    if (run_done(tx, tenant,
                 "SELECT pg_advisory_xact_lock(hashtextextended('profile/' || $1 || '/' || $2, 0))",
                 &p, "profile", e) != 0)
        return -1;
    res = run(tx, tenant,
              "SELECT COALESCE(MAX(version), 0) FROM profiles WHERE tenant = $1 AND name = $2", &p,
              "profile", e);
    if (res == NULL)
        return -1;
    version = (int)col_int(res, 0, 0) + 1;
    PQclear(res);
    pg_param_int(&p, version);
    pg_param_text(&p, json);
    pg_param_int(&p, time_now());
    if (run_insert(tx, tenant,
                   "INSERT INTO profiles (tenant, name, version, json, created) "
                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                   &p, "profile", e) != 0)
        return -1;
    *version_out = version;
    return 0;
}

static int profile_get(struct store_tx *tx, const char *tenant, const char *name, int version,
                       struct profile_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, name);
    if (version > 0)
        pg_param_int(&p, version);
    return read_one(tx, tenant,
                    version > 0 ? "SELECT tenant, name, version, json, created FROM profiles "
                                  "WHERE tenant = $1 AND name = $2 AND version = $3"
                                : "SELECT tenant, name, version, json, created FROM profiles "
                                  "WHERE tenant = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
                    &p, &profile_reader, (void **)out, "profile", e);
}

static int profile_list(struct store_tx *tx, const char *tenant, struct profile_rec ***out,
                        size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_all(tx, tenant,
                    "SELECT p.tenant, p.name, p.version, p.json, p.created FROM profiles p "
                    "WHERE p.tenant = $1 AND p.version = (SELECT MAX(q.version) FROM profiles q "
                    "WHERE q.tenant = p.tenant AND q.name = p.name) ORDER BY p.name",
                    &p, &profile_reader, (void ***)out, n, "profiles", e);
}

/* ---- end entities ------------------------------------------------------- */

static void param_entity(struct pg_params *p, const char *tenant, const struct entity_rec *r)
{
    pg_param_text(p, tenant);
    pg_param_text(p, r->id);
    pg_param_text(p, r->name);
    pg_param_text(p, r->kind);
    pg_param_text(p, r->email);
    pg_param_text(p, r->manufacturer);
    pg_param_text(p, r->model);
    pg_param_text(p, r->serial_number);
    pg_param_text(p, r->metadata_json ? r->metadata_json : "{}");
}

static int entity_insert(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                         struct err *e)
{
    PARAMS;
    param_entity(&p, tenant, r);
    pg_param_int(&p, r->created);
    return run_insert(tx, tenant,
                      "INSERT INTO entities (" ENT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, "
                      "$8, $9, $10) ON CONFLICT DO NOTHING",
                      &p, "entity", e);
}

static int entity_update(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                         struct err *e)
{
    PARAMS;
    param_entity(&p, tenant, r);
    return run_one_change(tx, tenant,
                          "UPDATE entities SET name = $3, kind = $4, email = $5, "
                          "manufacturer = $6, model = $7, serial_number = $8, metadata = $9 "
                          "WHERE tenant = $1 AND id = $2",
                          &p, "entity", e);
}

static int entity_get(struct store_tx *tx, const char *tenant, const char *id,
                      struct entity_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, id);
    return read_one(tx, tenant, "SELECT " ENT_COLS " FROM entities WHERE tenant = $1 AND id = $2",
                    &p, &entity_reader, (void **)out, "entity", e);
}

static int entity_search(struct store_tx *tx, const char *tenant, const struct entity_query *q,
                         struct entity_rec ***out, size_t *n, struct err *e)
{
    static const char *const filters[ENTITY_FILTERS] = {
        "strpos(lower(name), lower($?)) > 0",
        "kind = $?",
        "lower(email) = lower($?)",
    };
    const char *values[ENTITY_FILTERS] = {q->name, q->kind, q->email};
    unsigned mask = 0;
    char *sql;
    int rc;
    PARAMS;

    pg_param_text(&p, tenant);
    for (int i = 0; i < ENTITY_FILTERS; i++)
        if (values[i] != NULL) {
            mask |= 1u << i;
            pg_param_text(&p, values[i]);
        }
    param_page(&p, q->limit, q->offset);
    sql = search_sql("SELECT " ENT_COLS " FROM entities WHERE tenant = $1", filters, mask,
                     " ORDER BY name, id LIMIT $? OFFSET $?", 2);
    rc = read_all(tx, tenant, sql, &p, &entity_reader, (void ***)out, n, "entities", e);
    free(sql);
    return rc;
}

/* ---- certificates ------------------------------------------------------- */

static int cert_insert(struct store_tx *tx, const char *tenant, const struct cert_rec *r,
                       struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->serial);
    pg_param_text(&p, r->ca);
    pg_param_text(&p, r->profile);
    pg_param_int(&p, r->profile_version);
    pg_param_text(&p, r->entity_id);
    pg_param_text(&p, r->subject);
    pg_param_text(&p, r->sans);
    pg_param_text(&p, r->status);
    pg_param_int(&p, r->not_before);
    pg_param_int(&p, r->not_after);
    pg_param_int(&p, r->revoked_at);
    pg_param_int(&p, r->reason);
    pg_param_int(&p, r->invalidity_date);
    pg_param_text(&p, r->renewed_from);
    pg_param_blob(&p, r->der, r->der_len);
    pg_param_int(&p, r->created);
    pg_param_int(&p, r->status_changed);
    pg_param_int(&p, r->crl_shard);
    pg_param_int(&p, r->counted);
    pg_param_text(&p, r->requester);
    return run_insert(tx, tenant,
                      "INSERT INTO certs (" CERT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                      "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) "
                      "ON CONFLICT DO NOTHING",
                      &p, "certificate serial", e);
}

/*
 * In a write transaction the row is locked (FOR UPDATE) until commit, so a
 * read-then-change of one certificate (revoke, hold, release) is not
 * interleaved with another node's, as SQLite's single writer guarantees.
 */
static int cert_count_since(struct store_tx *tx, const char *tenant, int64_t since, int64_t *n,
                            struct err *e)
{
    PGresult *res;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_int(&p, since);
    res = run(tx, tenant,
              "SELECT count(*) FROM certs WHERE tenant = $1 AND counted = 1 AND created >= $2", &p,
              "certificates", e);
    if (res == NULL)
        return -1;
    *n = col_int(res, 0, 0);
    PQclear(res);
    return 0;
}

static int cert_get(struct store_tx *tx, const char *tenant, const char *serial,
                    struct cert_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, serial);
    return read_one(tx, tenant,
                    TX(tx)->write
                        ? "SELECT " CERT_COLS " FROM certs WHERE tenant = $1 AND serial = $2 "
                          "FOR UPDATE"
                        : "SELECT " CERT_COLS " FROM certs WHERE tenant = $1 AND serial = $2",
                    &p, &cert_reader, (void **)out, "certificate", e);
}

static int cert_set_status(struct store_tx *tx, const char *tenant, const char *serial,
                           const char *status, int64_t revoked_at, int reason,
                           int64_t invalidity_date, int64_t changed, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, serial);
    pg_param_text(&p, status);
    pg_param_int(&p, revoked_at);
    pg_param_int(&p, reason);
    pg_param_int(&p, invalidity_date);
    pg_param_int(&p, changed);
    return run_one_change(tx, tenant,
                          "UPDATE certs SET status = $3, revoked_at = $4, reason = $5, "
                          "invalidity_date = $6, status_changed = $7 "
                          "WHERE tenant = $1 AND serial = $2",
                          &p, "certificate", e);
}

static int cert_search(struct store_tx *tx, const char *tenant, const struct cert_query *q,
                       struct cert_rec ***out, size_t *n, struct err *e)
{
    static const char *const filters[CERT_FILTERS] = {
        "serial = $?",
        "strpos(lower(subject), lower($?)) > 0",
        "strpos(lower(sans), lower($?)) > 0",
        "status = $?",
        "ca = $?",
        "entity_id = $?",
        "profile = $?",
        "requester = $?",
        "not_after >= $?",
        "not_after < $?",
    };
    const char *values[CERT_FILTERS - 2] = {q->serial, q->subject,   q->san,     q->status,
                                            q->ca,     q->entity_id, q->profile, q->requester};
    unsigned mask = 0;
    char *sql;
    int rc;
    PARAMS;

    pg_param_text(&p, tenant);
    for (int i = 0; i < CERT_FILTERS - 2; i++)
        if (values[i] != NULL) {
            mask |= 1u << i;
            pg_param_text(&p, values[i]);
        }
    if (q->expires_after != 0) {
        mask |= 1u << (CERT_FILTERS - 2);
        pg_param_int(&p, q->expires_after);
    }
    if (q->expires_before != 0) {
        mask |= 1u << (CERT_FILTERS - 1);
        pg_param_int(&p, q->expires_before);
    }
    param_page(&p, q->limit, q->offset);
    sql = search_sql("SELECT " CERT_COLS " FROM certs WHERE tenant = $1", filters, mask,
                     " ORDER BY not_after, serial LIMIT $? OFFSET $?", 2);
    rc = read_all(tx, tenant, sql, &p, &cert_reader, (void ***)out, n, "certificates", e);
    free(sql);
    return rc;
}

static int cert_revoked(struct store_tx *tx, const char *tenant, const char *ca,
                        int64_t expired_cutoff, struct cert_rec ***out, size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    pg_param_int(&p, expired_cutoff);
    return read_all(tx, tenant,
                    "SELECT " CERT_COLS " FROM certs WHERE tenant = $1 AND ca = $2 "
                    "AND status IN ('revoked', 'hold') AND not_after >= $3 ORDER BY serial",
                    &p, &cert_reader, (void ***)out, n, "revoked certificates", e);
}

/*
 * Streams the entries in pages of CRL_PAGE through a cursor, so a CRL of a
 * million entries never sits in memory as one result.
 */
#define CRL_PAGE "10000"

static int crl_entries_page(PGresult *res, store_crl_entry_fn fn, void *arg, struct err *e)
{
    struct crl_entry_rec r;
    int rc;

    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1))
            return err_set(e, ERR_INTERNAL, "CRL entries: a row without serial or status");
        r.serial = PQgetvalue(res, i, 0);
        r.status = PQgetvalue(res, i, 1);
        r.revoked_at = col_int(res, i, 2);
        r.reason = (int)col_int(res, i, 3);
        r.invalidity_date = col_int(res, i, 4);
        r.status_changed = col_int(res, i, 5);
        if ((rc = fn(arg, &r, e)) != 0)
            return rc;
    }
    return 0;
}

static int cert_crl_entries(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                            int64_t expired_cutoff, int64_t changed_since, store_crl_entry_fn fn,
                            void *arg, struct err *e)
{
    const char *sql =
        changed_since > 0
            ? (shard > 0 ? "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLS
                           " FROM certs WHERE tenant = $1 AND ca = $2 AND status_changed > 0 "
                           "AND status_changed >= $5 AND crl_shard = $4 AND not_after >= $3 "
                           "ORDER BY serial"
                         : "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLS
                           " FROM certs WHERE tenant = $1 AND ca = $2 AND status_changed > 0 "
                           "AND status_changed >= $4 AND not_after >= $3 ORDER BY serial")
            : (shard > 0 ? "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLS
                           " FROM certs WHERE tenant = $1 AND ca = $2 AND crl_shard = $4 "
                           "AND status IN ('revoked', 'hold') AND not_after >= $3 "
                           "ORDER BY serial"
                         : "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLS
                           " FROM certs WHERE tenant = $1 AND ca = $2 "
                           "AND status IN ('revoked', 'hold') AND not_after >= $3 "
                           "ORDER BY serial");
    PGresult *res;
    int rc = 0, rows;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    pg_param_int(&p, expired_cutoff);
    if (shard > 0)
        pg_param_int(&p, shard);
    if (changed_since > 0)
        pg_param_int(&p, changed_since);
    if (run_done(tx, tenant, sql, &p, "CRL entries", e) != 0)
        return -1;
    do {
        res = run(tx, NULL, "FETCH " CRL_PAGE " FROM crl_entries", NULL, "CRL entries", e);
        if (res == NULL)
            return -1;
        rows = PQntuples(res);
        rc = crl_entries_page(res, fn, arg, e);
        PQclear(res);
    } while (rc == 0 && rows > 0);
    if (run_done(tx, NULL, "CLOSE crl_entries", NULL, "CRL entries", rc == 0 ? e : NULL) != 0 &&
        rc == 0)
        rc = -1;
    return rc;
}

/* ---- CRLs ------------------------------------------------------------- */

/*
 * The counter row is taken by an upsert, which keeps it locked until commit:
 * a second node's call waits and then reads the committed number, so numbers
 * strictly increase in commit order.  The number also follows the highest
 * stored CRL, so a lost counter row cannot send numbers backwards.
 */
static int crl_next_number(struct store_tx *tx, const char *tenant, const char *ca, int64_t *out,
                           struct err *e)
{
    PGresult *res;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    res = run(tx, tenant,
              "INSERT INTO crl_numbers AS n (tenant, ca, last) VALUES ($1, $2, 1 + "
              "(SELECT COALESCE(MAX(number), 0) FROM crls WHERE tenant = $1 AND ca = $2)) "
              "ON CONFLICT (tenant, ca) DO UPDATE SET last = GREATEST(n.last, "
              "(SELECT COALESCE(MAX(number), 0) FROM crls WHERE tenant = $1 AND ca = $2)) + 1 "
              "RETURNING last",
              &p, "CRL number", e);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return err_set(e, ERR_INTERNAL, "CRL number: no row");
    }
    *out = col_int(res, 0, 0);
    PQclear(res);
    return 0;
}

static int crl_insert(struct store_tx *tx, const char *tenant, const struct crl_rec *r,
                      struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->ca);
    pg_param_int(&p, r->number);
    pg_param_int(&p, r->this_update);
    pg_param_int(&p, r->next_update);
    pg_param_blob(&p, r->der, r->der_len);
    pg_param_int(&p, r->shard);
    pg_param_int(&p, r->delta_base);
    return run_insert(tx, tenant,
                      "INSERT INTO crls (tenant, ca, number, this_update, next_update, der, shard, "
                      "delta_base) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                      &p, "CRL", e);
}

static int crl_latest(struct store_tx *tx, const char *tenant, const char *ca, struct crl_rec **out,
                      struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    return read_one(tx, tenant,
                    "SELECT " CRL_COLS " FROM crls WHERE tenant = $1 AND ca = $2 "
                    "AND shard = 0 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
                    &p, &crl_reader, (void **)out, "CRL", e);
}

static int crl_latest_scope(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                            int delta, struct crl_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    pg_param_int(&p, shard);
    return read_one(tx, tenant,
                    delta ? "SELECT " CRL_COLS " FROM crls WHERE tenant = $1 AND ca = $2 "
                            "AND shard = $3 AND delta_base > 0 ORDER BY number DESC LIMIT 1"
                          : "SELECT " CRL_COLS " FROM crls WHERE tenant = $1 AND ca = $2 "
                            "AND shard = $3 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
                    &p, &crl_reader, (void **)out, "CRL", e);
}

static int crl_prune(struct store_tx *tx, const char *tenant, const char *ca, int shard, int delta,
                     int keep, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    pg_param_int(&p, shard);
    pg_param_text(&p, delta ? "t" : "f");
    pg_param_int(&p, keep > 0 ? keep - 1 : 0);
    return run_done(tx, tenant,
                    "DELETE FROM crls WHERE tenant = $1 AND ca = $2 AND shard = $3 "
                    "AND (delta_base > 0) = $4::boolean AND number < (SELECT number FROM crls "
                    "WHERE tenant = $1 AND ca = $2 AND shard = $3 AND (delta_base > 0) = "
                    "$4::boolean ORDER BY number DESC LIMIT 1 OFFSET $5)",
                    &p, "CRL pruning", e);
}

/* ---- OCSP ------------------------------------------------------------- */

static int ocsp_responder_get(struct store_tx *tx, const char *tenant, const char *ca,
                              struct ocsp_responder_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    return read_one(tx, tenant,
                    "SELECT " RESPONDER_COLS " FROM ocsp_responders WHERE tenant = $1 AND ca = $2",
                    &p, &responder_reader, (void **)out, "OCSP responder", e);
}

static int ocsp_responder_put(struct store_tx *tx, const char *tenant,
                              const struct ocsp_responder_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->ca);
    pg_param_text(&p, r->key_id);
    pg_param_text(&p, r->key_type);
    pg_param_text(&p, r->serial);
    pg_param_blob(&p, r->cert_der, r->cert_len);
    pg_param_int(&p, r->not_after);
    pg_param_int(&p, r->created);
    return run_done(tx, tenant,
                    "INSERT INTO ocsp_responders (" RESPONDER_COLS ") VALUES ($1, $2, $3, $4, "
                    "$5, $6, $7, $8) ON CONFLICT (tenant, ca) DO UPDATE SET key_id = $3, "
                    "key_type = $4, serial = $5, cert = $6, not_after = $7, created = $8",
                    &p, "OCSP responder", e);
}

static int ocsp_get(struct store_tx *tx, const char *tenant, const char *serial,
                    struct ocsp_resp_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, serial);
    return read_one(tx, tenant,
                    "SELECT " OCSP_COLS " FROM ocsp_responses WHERE tenant = $1 AND serial = $2",
                    &p, &ocsp_reader, (void **)out, "OCSP response", e);
}

/*
 * Stores the response only if the certificate still has the status it was
 * made from.  The certificate row is share-locked first (FOR SHARE re-reads
 * the newest committed version), so a revocation either committed before
 * (the status differs: skipped) or waits for this transaction (and its
 * trigger then drops the response again).
 */
static int ocsp_put(struct store_tx *tx, const char *tenant, const struct ocsp_resp_rec *r,
                    const struct cert_rec *seen, struct err *e)
{
    int64_t n;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, r->serial);
    pg_param_int(&p, r->refresh_at);
    pg_param_int(&p, r->this_update);
    pg_param_int(&p, r->next_update);
    pg_param_blob(&p, r->der, r->der_len);
    pg_param_text(&p, seen->status);
    pg_param_int(&p, seen->revoked_at);
    pg_param_int(&p, seen->reason);
    pg_param_int(&p, seen->invalidity_date);
    n = run_changes(tx, tenant,
                    "WITH c AS (SELECT 1 FROM certs WHERE tenant = $1 AND serial = $2 "
                    "AND status = $7 AND revoked_at = $8 AND reason = $9 "
                    "AND invalidity_date = $10 FOR SHARE) "
                    "UPDATE ocsp_responses SET refresh_at = $3, this_update = $4, "
                    "next_update = $5, der = $6 WHERE tenant = $1 AND serial = $2 "
                    "AND EXISTS (SELECT 1 FROM c)",
                    &p, "OCSP response", e);
    if (n < 0)
        return -1;
    return n == 1 ? 0 : 1;
}

static int ocsp_due(struct store_tx *tx, const char *tenant, const char *ca, int64_t now, int limit,
                    struct cert_rec ***out, size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, ca);
    pg_param_int(&p, now);
    pg_param_int(&p, limit > 0 ? limit : 1000);
    return read_all(tx, tenant,
                    "SELECT c.tenant, c.serial, c.ca, c.profile, c.profile_version, c.entity_id, "
                    "c.subject, c.sans, c.status, c.not_before, c.not_after, c.revoked_at, "
                    "c.reason, c.invalidity_date, c.renewed_from, NULL, c.created, "
                    "c.status_changed, c.crl_shard, c.requester "
                    "FROM ocsp_responses o JOIN certs c ON c.tenant = o.tenant "
                    "AND c.serial = o.serial WHERE o.tenant = $1 AND o.ca = $2 "
                    "AND o.refresh_at <= $3 ORDER BY o.refresh_at LIMIT $4",
                    &p, &cert_reader, (void ***)out, n, "due OCSP responses", e);
}

/* ---- tokens ---------------------------------------------------------- */

static int token_insert(struct store_tx *tx, const char *tenant, const struct token_rec *r,
                        struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->id);
    pg_param_text(&p, r->name);
    pg_param_text(&p, r->hash);
    pg_param_text(&p, r->role);
    pg_param_int(&p, r->expires);
    pg_param_int(&p, r->created);
    pg_param_text(&p, r->principal);
    pg_param_text(&p, r->secret);
    pg_param_int(&p, r->revoked);
    return run_insert(tx, tenant,
                      "INSERT INTO tokens (" TOKEN_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                      "$9, $10) "
                      "ON CONFLICT DO NOTHING",
                      &p, "token", e);
}

/* Across tenants, deliberately: how a request learns its tenant (policy "cross_read"). */
static int token_find(struct store_tx *tx, const char *hash, struct token_rec **out, struct err *e)
{
    int rc;
    PARAMS;

    pg_param_text(&p, hash);
    if (pg_cross_tenant(TX(tx), 1, e) != 0)
        return -1;
    rc = read_one(tx, NULL, "SELECT " TOKEN_COLS " FROM tokens WHERE hash = $1", &p, &token_reader,
                  (void **)out, "token", e);
    if (pg_cross_tenant(TX(tx), 0, rc == 0 ? e : NULL) != 0 && rc == 0) {
        token_rec_free(*out);
        *out = NULL;
        rc = -1;
    }
    return rc;
}

static int token_list(struct store_tx *tx, const char *tenant, struct token_rec ***out, size_t *n,
                      struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_all(tx, tenant,
                    "SELECT " TOKEN_COLS " FROM tokens WHERE tenant = $1 ORDER BY created, id", &p,
                    &token_reader, (void ***)out, n, "tokens", e);
}

static int token_delete(struct store_tx *tx, const char *tenant, const char *id, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, id);
    return run_one_change(tx, tenant, "DELETE FROM tokens WHERE tenant = $1 AND id = $2", &p,
                          "token", e);
}

static int token_revoke(struct store_tx *tx, const char *tenant, const char *id, int64_t when,
                        struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, id);
    pg_param_int(&p, when);
    return run_one_change(tx, tenant,
                          "UPDATE tokens SET revoked = $3 WHERE tenant = $1 AND id = $2 "
                          "AND revoked = 0",
                          &p, "token", e);
}

/* ---- principals and role bindings -------------------------------------- */

static int principal_insert(struct store_tx *tx, const char *tenant, const struct principal_rec *r,
                            struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->id);
    pg_param_text(&p, r->name);
    pg_param_text(&p, r->kind);
    pg_param_text(&p, r->allow);
    pg_param_int(&p, r->disabled);
    pg_param_int(&p, r->created);
    pg_param_text(&p, r->cert_issuer);
    pg_param_text(&p, r->cert_subject);
    pg_param_text(&p, r->cert_sha256);
    return run_insert(tx, tenant,
                      "INSERT INTO principals (" PRINCIPAL_COLS ") VALUES ($1, $2, $3, $4, $5, "
                      "$6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                      &p, "principal", e);
}

static int client_ca_insert(struct store_tx *tx, const char *tenant, const struct client_ca_rec *r,
                            struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->name);
    pg_param_text(&p, r->ca);
    pg_param_blob(&p, r->cert, r->cert_len);
    pg_param_int(&p, r->created);
    return run_insert(tx, tenant,
                      "INSERT INTO client_cas (" CLIENT_CA_COLS ") VALUES ($1, $2, $3, $4, $5) "
                      "ON CONFLICT DO NOTHING",
                      &p, "client CA", e);
}

static int client_ca_list(struct store_tx *tx, const char *tenant, struct client_ca_rec ***out,
                          size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_all(tx, tenant,
                    "SELECT " CLIENT_CA_COLS " FROM client_cas WHERE tenant = $1 "
                    "ORDER BY created, name",
                    &p, &client_ca_reader, (void ***)out, n, "client CAs", e);
}

static int client_ca_delete(struct store_tx *tx, const char *tenant, const char *name,
                            struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, name);
    return run_one_change(tx, tenant, "DELETE FROM client_cas WHERE tenant = $1 AND name = $2", &p,
                          "client CA", e);
}

static int principal_get(struct store_tx *tx, const char *tenant, const char *id,
                         struct principal_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, id);
    return read_one(tx, tenant,
                    "SELECT " PRINCIPAL_COLS " FROM principals WHERE tenant = $1 AND id = $2", &p,
                    &principal_reader, (void **)out, "principal", e);
}

static int principal_list(struct store_tx *tx, const char *tenant, struct principal_rec ***out,
                          size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_all(tx, tenant,
                    "SELECT " PRINCIPAL_COLS " FROM principals WHERE tenant = $1 "
                    "ORDER BY created, id",
                    &p, &principal_reader, (void ***)out, n, "principals", e);
}

static int principal_by_cert(struct store_tx *tx, const char *tenant, const char *sha256,
                             const char *issuer, const char *subject, struct principal_rec **out,
                             struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, sha256);
    pg_param_text(&p, issuer);
    pg_param_text(&p, subject);
    return read_one(tx, tenant,
                    "SELECT " PRINCIPAL_COLS " FROM principals WHERE tenant = $1 AND "
                    "(cert_sha256 = $2 OR (cert_issuer = $3 AND cert_subject = $4)) "
                    "ORDER BY COALESCE(cert_sha256 = $2, false) DESC, created, id LIMIT 1",
                    &p, &principal_reader, (void **)out, "principal", e);
}

static int principal_set_disabled(struct store_tx *tx, const char *tenant, const char *id,
                                  int disabled, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, id);
    pg_param_int(&p, disabled);
    return run_one_change(tx, tenant,
                          "UPDATE principals SET disabled = $3 WHERE tenant = $1 AND id = $2", &p,
                          "principal", e);
}

static int binding_insert(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                          struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->principal_tenant);
    pg_param_text(&p, r->principal);
    pg_param_text(&p, r->role);
    pg_param_int(&p, r->created);
    return run_insert(tx, tenant,
                      "INSERT INTO role_bindings (" BINDING_COLS ") VALUES ($1, $2, $3, $4, $5) "
                      "ON CONFLICT DO NOTHING",
                      &p, "role binding", e);
}

static int binding_delete(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                          struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->principal_tenant);
    pg_param_text(&p, r->principal);
    pg_param_text(&p, r->role);
    return run_one_change(tx, tenant,
                          "DELETE FROM role_bindings WHERE tenant = $1 AND principal_tenant = $2 "
                          "AND principal = $3 AND role = $4",
                          &p, "role binding", e);
}

static int binding_list(struct store_tx *tx, const char *tenant, const char *principal_tenant,
                        const char *principal, struct binding_rec ***out, size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    if (principal == NULL)
        return read_all(tx, tenant,
                        "SELECT " BINDING_COLS " FROM role_bindings WHERE tenant = $1 "
                        "ORDER BY principal_tenant, principal, role",
                        &p, &binding_reader, (void ***)out, n, "role bindings", e);
    pg_param_text(&p, principal_tenant);
    pg_param_text(&p, principal);
    return read_all(tx, tenant,
                    "SELECT " BINDING_COLS " FROM role_bindings WHERE tenant = $1 "
                    "AND principal_tenant = $2 AND principal = $3 ORDER BY role",
                    &p, &binding_reader, (void ***)out, n, "role bindings", e);
}

/* ---- audit ------------------------------------------------------------ */

/*
 * In a write transaction, first takes the tenant's chain lock (a
 * transaction-scoped advisory lock): the row read stays the last until this
 * transaction ends, on every node, as audit_append needs.
 */
static int audit_last(struct store_tx *tx, const char *tenant, struct audit_rec **out,
                      struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    if (TX(tx)->write &&
        run_done(tx, tenant, "SELECT pg_advisory_xact_lock(hashtextextended('audit/' || $1, 0))",
                 &p, "audit", e) != 0)
        return -1;
    return read_one(tx, tenant,
                    "SELECT " AUDIT_COLS " FROM audit WHERE tenant = $1 ORDER BY seq DESC LIMIT 1",
                    &p, &audit_reader, (void **)out, "audit", e);
}

static int audit_insert(struct store_tx *tx, const char *tenant, const struct audit_rec *r,
                        struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, r->seq);
    pg_param_int(&p, r->time);
    pg_param_text(&p, r->actor);
    pg_param_text(&p, r->action);
    pg_param_text(&p, r->object ? r->object : "");
    pg_param_text(&p, r->result);
    pg_param_text(&p, r->detail ? r->detail : "{}");
    pg_param_text(&p, r->prev_hash);
    pg_param_text(&p, r->hash);
    return run_insert(tx, tenant,
                      "INSERT INTO audit (" AUDIT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                      "$9, $10) ON CONFLICT DO NOTHING",
                      &p, "audit event", e);
}

static int audit_list(struct store_tx *tx, const char *tenant, int64_t after_seq, int limit,
                      struct audit_rec ***out, size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, after_seq);
    pg_param_int(&p, limit > 0 ? limit : 1000);
    return read_all(tx, tenant,
                    "SELECT " AUDIT_COLS " FROM audit WHERE tenant = $1 AND seq > $2 "
                    "ORDER BY seq LIMIT $3",
                    &p, &audit_reader, (void ***)out, n, "audit", e);
}

static int audit_key_get(struct store_tx *tx, const char *tenant, struct audit_key_rec **out,
                         struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_one(tx, tenant, "SELECT " AUDIT_KEY_COLS " FROM audit_keys WHERE tenant = $1", &p,
                    &audit_key_reader, (void **)out, "audit key", e);
}

static int audit_key_insert(struct store_tx *tx, const char *tenant, const struct audit_key_rec *r,
                            struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->key_id);
    pg_param_text(&p, r->key_type);
    pg_param_text(&p, r->public_pem);
    pg_param_int(&p, r->created);
    return run_insert(tx, tenant,
                      "INSERT INTO audit_keys (" AUDIT_KEY_COLS ") VALUES ($1, $2, $3, $4, $5) "
                      "ON CONFLICT DO NOTHING",
                      &p, "audit key", e);
}

static int audit_checkpoint_insert(struct store_tx *tx, const char *tenant,
                                   const struct audit_checkpoint_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, r->seq);
    pg_param_int(&p, r->time);
    pg_param_text(&p, r->head_hash);
    pg_param_text(&p, r->key_id);
    pg_param_blob(&p, r->der, r->der_len);
    pg_param_blob(&p, r->sig, r->sig_len);
    return run_insert(tx, tenant,
                      "INSERT INTO audit_checkpoints (" CHECKPOINT_COLS ") VALUES ($1, $2, $3, "
                      "$4, $5, $6, $7) ON CONFLICT DO NOTHING",
                      &p, "audit checkpoint", e);
}

static int audit_checkpoint_last(struct store_tx *tx, const char *tenant,
                                 struct audit_checkpoint_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_one(tx, tenant,
                    "SELECT " CHECKPOINT_COLS " FROM audit_checkpoints WHERE tenant = $1 "
                    "ORDER BY seq DESC LIMIT 1",
                    &p, &checkpoint_reader, (void **)out, "audit checkpoint", e);
}

static int audit_checkpoint_list(struct store_tx *tx, const char *tenant, int64_t after_seq,
                                 int limit, struct audit_checkpoint_rec ***out, size_t *n,
                                 struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, after_seq);
    pg_param_int(&p, limit > 0 ? limit : 1000);
    return read_all(tx, tenant,
                    "SELECT " CHECKPOINT_COLS " FROM audit_checkpoints WHERE tenant = $1 "
                    "AND seq > $2 ORDER BY seq LIMIT $3",
                    &p, &checkpoint_reader, (void ***)out, n, "audit checkpoints", e);
}

static int audit_forward_get(struct store_tx *tx, const char *tenant, const char *target,
                             int64_t *last_seq, struct err *e)
{
    PGresult *res;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, target);
    res = run(tx, tenant, "SELECT last_seq FROM audit_forwarding WHERE tenant = $1 AND target = $2",
              &p, "audit forwarding", e);
    if (res == NULL)
        return -1;
    *last_seq = PQntuples(res) > 0 ? col_int(res, 0, 0) : 0;
    PQclear(res);
    return 0;
}

static int audit_forward_set(struct store_tx *tx, const char *tenant, const char *target,
                             int64_t last_seq, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, target);
    pg_param_int(&p, last_seq);
    return run_done(tx, tenant,
                    "INSERT INTO audit_forwarding (tenant, target, last_seq) VALUES ($1, $2, $3) "
                    "ON CONFLICT (tenant, target) DO UPDATE SET last_seq = EXCLUDED.last_seq",
                    &p, "audit forwarding", e);
}

static int audit_target_put(struct store_tx *tx, const char *tenant,
                            const struct audit_target_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->host);
    pg_param_int(&p, r->port);
    pg_param_text(&p, r->transport);
    pg_param_text(&p, r->ca_pem);
    pg_param_int(&p, r->created);
    return run_done(tx, tenant,
                    "INSERT INTO audit_targets (" TARGET_COLS ") VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (tenant) DO UPDATE SET host = EXCLUDED.host, "
                    "port = EXCLUDED.port, transport = EXCLUDED.transport, "
                    "ca_pem = EXCLUDED.ca_pem, created = EXCLUDED.created",
                    &p, "audit forwarding target", e);
}

static int audit_target_get(struct store_tx *tx, const char *tenant, struct audit_target_rec **out,
                            struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_one(tx, tenant, "SELECT " TARGET_COLS " FROM audit_targets WHERE tenant = $1", &p,
                    &target_reader, (void **)out, "audit forwarding target", e);
}

static int audit_target_delete(struct store_tx *tx, const char *tenant, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return run_one_change(tx, tenant, "DELETE FROM audit_targets WHERE tenant = $1", &p,
                          "audit forwarding target", e);
}

/* Across tenants, deliberately: the forwarder's list of tenant SIEMs (policy "cross_read"). */
static int audit_target_list(struct store_tx *tx, struct audit_target_rec ***out, size_t *n,
                             struct err *e)
{
    int rc;

    if (pg_cross_tenant(TX(tx), 1, e) != 0)
        return -1;
    rc = read_all(tx, NULL, "SELECT " TARGET_COLS " FROM audit_targets ORDER BY tenant", NULL,
                  &target_reader, (void ***)out, n, "audit forwarding targets", e);
    if (pg_cross_tenant(TX(tx), 0, rc == 0 ? e : NULL) != 0 && rc == 0) {
        audit_target_rec_list_free(*out, *n);
        *out = NULL;
        rc = -1;
    }
    return rc;
}

/* ---- time-stamping --------------------------------------------------------- */

static int tsa_unit_insert(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                           struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->name);
    pg_param_text(&p, r->ca);
    pg_param_text(&p, r->key_id);
    pg_param_text(&p, r->key_type);
    pg_param_text(&p, r->status);
    pg_param_text(&p, r->cert_serial);
    pg_param_blob(&p, r->cert_der, r->cert_len);
    pg_param_blob(&p, r->chain_der, r->chain_len);
    pg_param_text(&p, r->policy);
    pg_param_text(&p, r->policies_json);
    pg_param_text(&p, r->hashes_json);
    pg_param_int(&p, r->accuracy_ms);
    pg_param_int(&p, r->include_chain);
    pg_param_int(&p, r->created);
    return run_insert(tx, tenant,
                      "INSERT INTO tsa_units (" TSA_UNIT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, "
                      "$7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING",
                      &p, "TSA unit", e);
}

static int tsa_unit_update(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                           struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->name);
    pg_param_text(&p, r->status);
    pg_param_text(&p, r->policy);
    pg_param_text(&p, r->policies_json);
    pg_param_text(&p, r->hashes_json);
    pg_param_int(&p, r->accuracy_ms);
    pg_param_int(&p, r->include_chain);
    return run_one_change(tx, tenant,
                          "UPDATE tsa_units SET status = $3, policy = $4, policies = $5, "
                          "hashes = $6, accuracy_ms = $7, include_chain = $8 "
                          "WHERE tenant = $1 AND name = $2",
                          &p, "TSA unit", e);
}

static int tsa_unit_get(struct store_tx *tx, const char *tenant, const char *name,
                        struct tsa_unit_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, name);
    return read_one(tx, tenant,
                    "SELECT " TSA_UNIT_COLS " FROM tsa_units WHERE tenant = $1 AND name = $2", &p,
                    &tsa_unit_reader, (void **)out, "TSA unit", e);
}

static int tsa_unit_list(struct store_tx *tx, const char *tenant, struct tsa_unit_rec ***out,
                         size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_all(tx, tenant,
                    "SELECT " TSA_UNIT_COLS " FROM tsa_units WHERE tenant = $1 "
                    "ORDER BY created, name",
                    &p, &tsa_unit_reader, (void ***)out, n, "TSA units", e);
}

static int tsa_token_insert(struct store_tx *tx, const char *tenant, const struct tsa_token_rec *r,
                            struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->unit);
    pg_param_text(&p, r->serial);
    pg_param_text(&p, r->gen_time);
    pg_param_int(&p, r->time);
    pg_param_text(&p, r->policy);
    pg_param_text(&p, r->hash_alg);
    pg_param_text(&p, r->imprint);
    pg_param_text(&p, r->nonce);
    pg_param_text(&p, r->requester);
    pg_param_blob(&p, r->der, r->der_len);
    return run_insert(tx, tenant,
                      "INSERT INTO tsa_tokens (" TSA_TOKEN_COLS ") VALUES ($1, $2, $3, $4, $5, "
                      "$6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
                      &p, "time-stamp token", e);
}

static int tsa_token_get(struct store_tx *tx, const char *tenant, const char *unit,
                         const char *serial, struct tsa_token_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, unit);
    pg_param_text(&p, serial);
    return read_one(tx, tenant,
                    "SELECT " TSA_TOKEN_COLS " FROM tsa_tokens "
                    "WHERE tenant = $1 AND unit = $2 AND serial = $3",
                    &p, &tsa_token_reader, (void **)out, "time-stamp token", e);
}

static int tsa_token_search(struct store_tx *tx, const char *tenant, const char *unit,
                            const struct tsa_token_query *q, struct tsa_token_rec ***out, size_t *n,
                            struct err *e)
{
    static const char *const filters[] = {
        "imprint = $?",
        "time >= $?",
        "time < $?",
    };
    unsigned mask = 0;
    char *sql;
    int rc;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, unit);
    if (q->imprint != NULL) {
        mask |= 1;
        pg_param_text(&p, q->imprint);
    }
    if (q->after != 0) {
        mask |= 2;
        pg_param_int(&p, q->after);
    }
    if (q->before != 0) {
        mask |= 4;
        pg_param_int(&p, q->before);
    }
    param_page(&p, q->limit, q->offset);
    sql = search_sql("SELECT " TSA_TOKEN_COLS " FROM tsa_tokens WHERE tenant = $1 AND unit = $2",
                     filters, mask, " ORDER BY time DESC, serial LIMIT $? OFFSET $?", 3);
    rc = read_all(tx, tenant, sql, &p, &tsa_token_reader, (void ***)out, n, "time-stamp tokens", e);
    free(sql);
    return rc;
}

/* ---- leases ---------------------------------------------------------------- */

/* One upsert: the row lock it takes orders nodes racing for the same lease. */
static int lease_take(struct store_tx *tx, const char *tenant, const char *job, const char *holder,
                      int64_t now, int64_t until, struct err *e)
{
    int64_t n;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, job);
    pg_param_text(&p, holder);
    pg_param_int(&p, now);
    pg_param_int(&p, until);
    n = run_changes(tx, tenant,
                    "INSERT INTO leases AS l (tenant, job, holder, until) VALUES ($1, $2, $3, $5) "
                    "ON CONFLICT (tenant, job) DO UPDATE SET holder = EXCLUDED.holder, "
                    "until = EXCLUDED.until WHERE l.until <= $4 OR l.holder = EXCLUDED.holder",
                    &p, "lease", e);
    if (n < 0)
        return -1;
    return n == 1 ? 0 : 1;
}

static int lease_count(struct store_tx *tx, const char *tenant, const char *prefix, int64_t now,
                       int64_t *n, struct err *e)
{
    struct pg_params q = {0};
    PGresult *res;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, prefix);
    pg_param_int(&p, now - 3600);
    if (run_changes(tx, tenant,
                    "DELETE FROM leases WHERE tenant = $1 AND left(job, length($2)) = $2 "
                    "AND until < $3",
                    &p, "lease", e) < 0)
        return -1;
    pg_param_text(&q, tenant);
    pg_param_text(&q, prefix);
    pg_param_int(&q, now);
    res = run(tx, tenant,
              "SELECT count(*) FROM leases WHERE tenant = $1 AND left(job, length($2)) = $2 "
              "AND until > $3",
              &q, "leases", e);
    if (res == NULL)
        return -1;
    *n = col_int(res, 0, 0);
    PQclear(res);
    return 0;
}

/* ---- offline imports ------------------------------------------------------- */

static int idempotency_get(struct store_tx *tx, const char *tenant, const char *key,
                           struct idempotency_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, key);
    return read_one(tx, tenant,
                    "SELECT " IDEMPOTENCY_COLS " FROM idempotency WHERE tenant = $1 AND key = $2",
                    &p, &idempotency_reader, (void **)out, "idempotency key", e);
}

/* One upsert: of two nodes filing the same key at once, the row lock lets one win. */
static int idempotency_put(struct store_tx *tx, const char *tenant, const struct idempotency_rec *r,
                           int64_t expired, struct err *e)
{
    int64_t n;
    PARAMS;

    pg_param_text(&p, tenant);
    pg_param_text(&p, r->key);
    pg_param_text(&p, r->principal);
    pg_param_text(&p, r->request_hash);
    pg_param_text(&p, r->object);
    pg_param_int(&p, r->created);
    pg_param_int(&p, expired);
    pg_param_text(&p, r->outcome);
    n = run_changes(tx, tenant,
                    "INSERT INTO idempotency AS i (" IDEMPOTENCY_COLS ") VALUES ($1, $2, $3, $4, "
                    "$5, $6, $8) ON CONFLICT (tenant, key) DO UPDATE SET principal = "
                    "EXCLUDED.principal, request_hash = EXCLUDED.request_hash, object = "
                    "EXCLUDED.object, created = EXCLUDED.created, outcome = EXCLUDED.outcome "
                    "WHERE i.created < $7",
                    &p, "idempotency key", e);
    if (n < 0)
        return -1;
    return n == 1 ? 0 : err_set(e, ERR_CONFLICT, "idempotency key: already used");
}

static int idempotency_prune(struct store_tx *tx, const char *tenant, int64_t before, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, before);
    return run_done(tx, tenant, "DELETE FROM idempotency WHERE tenant = $1 AND created < $2", &p,
                    "idempotency keys", e);
}

static int offline_import_get(struct store_tx *tx, const char *tenant, const char *source,
                              int64_t seq, struct offline_import_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, source);
    pg_param_int(&p, seq);
    return read_one(tx, tenant,
                    "SELECT " OFFLINE_COLS " FROM offline_imports WHERE tenant = $1 AND "
                    "source = $2 AND ($3 = 0 OR seq = $3) ORDER BY seq DESC LIMIT 1",
                    &p, &offline_reader, (void **)out, "offline import", e);
}

static int offline_import_insert(struct store_tx *tx, const char *tenant,
                                 const struct offline_import_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->source);
    pg_param_int(&p, r->seq);
    pg_param_text(&p, r->digest);
    pg_param_text(&p, r->signer);
    pg_param_int(&p, r->audit_seq);
    pg_param_text(&p, r->audit_head);
    pg_param_int(&p, r->imported);
    return run_insert(tx, tenant,
                      "INSERT INTO offline_imports (" OFFLINE_COLS ") VALUES ($1, $2, $3, $4, $5, "
                      "$6, $7, $8) ON CONFLICT DO NOTHING",
                      &p, "offline import", e);
}

/*
 * "postgres" matches both URL schemes libpq knows, postgresql:// and
 * postgres://; pg_open checks which.
 */
/* ---- registration authority ---------------------------------------------- */

static int workflow_put(struct store_tx *tx, const char *tenant, const struct workflow_rec *r,
                        struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->name);
    pg_param_int(&p, r->required);
    pg_param_text(&p, r->approvers);
    pg_param_int(&p, r->expires_hours);
    pg_param_int(&p, r->created);
    return run_done(tx, tenant,
                    "INSERT INTO workflows (" WORKFLOW_COLS ") VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (tenant, name) DO UPDATE SET required = EXCLUDED.required, "
                    "approvers = EXCLUDED.approvers, expires_hours = EXCLUDED.expires_hours, "
                    "created = EXCLUDED.created",
                    &p, "workflow", e);
}

static int workflow_get(struct store_tx *tx, const char *tenant, const char *name,
                        struct workflow_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, name);
    return read_one(tx, tenant,
                    "SELECT " WORKFLOW_COLS " FROM workflows WHERE tenant = $1 AND name = $2", &p,
                    &workflow_reader, (void **)out, "workflow", e);
}

static int workflow_list(struct store_tx *tx, const char *tenant, struct workflow_rec ***out,
                         size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_all(tx, tenant,
                    "SELECT " WORKFLOW_COLS " FROM workflows WHERE tenant = $1 ORDER BY name", &p,
                    &workflow_reader, (void ***)out, n, "workflows", e);
}

static int workflow_delete(struct store_tx *tx, const char *tenant, const char *name, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, name);
    return run_one_change(tx, tenant, "DELETE FROM workflows WHERE tenant = $1 AND name = $2", &p,
                          "workflow", e);
}

static int request_insert(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                          struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->id);
    pg_param_text(&p, r->kind);
    pg_param_text(&p, r->object);
    pg_param_text(&p, r->params);
    pg_param_text(&p, r->requester);
    pg_param_text(&p, r->status);
    pg_param_int(&p, r->required);
    pg_param_text(&p, r->approvers);
    pg_param_text(&p, r->approvals);
    pg_param_text(&p, r->result);
    pg_param_text(&p, r->reason);
    pg_param_int(&p, r->created);
    pg_param_int(&p, r->expires);
    pg_param_int(&p, r->decided);
    return run_insert(tx, tenant,
                      "INSERT INTO requests (" REQUEST_COLS ") VALUES ($1, $2, $3, $4, $5, $6, "
                      "$7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING",
                      &p, "request", e);
}

static int request_get(struct store_tx *tx, const char *tenant, const char *id,
                       struct request_rec **out, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, id);
    return read_one(tx, tenant,
                    TX(tx)->write
                        ? "SELECT " REQUEST_COLS " FROM requests WHERE tenant = $1 AND id = $2 "
                          "FOR UPDATE"
                        : "SELECT " REQUEST_COLS " FROM requests WHERE tenant = $1 AND id = $2",
                    &p, &request_reader, (void **)out, "request", e);
}

static int request_update(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                          struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->id);
    pg_param_text(&p, r->status);
    pg_param_text(&p, r->approvals);
    pg_param_text(&p, r->result);
    pg_param_text(&p, r->reason);
    pg_param_int(&p, r->decided);
    return run_one_change(tx, tenant,
                          "UPDATE requests SET status = $3, approvals = $4, result = $5, "
                          "reason = $6, decided = $7 WHERE tenant = $1 AND id = $2",
                          &p, "request", e);
}

static int request_list(struct store_tx *tx, const char *tenant, const char *status,
                        const char *requester, int limit, int offset, struct request_rec ***out,
                        size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, status);
    pg_param_text(&p, requester);
    param_page(&p, limit, offset);
    return read_all(
        tx, tenant,
        "SELECT " REQUEST_COLS " FROM requests WHERE tenant = $1"
        " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR requester = $3)"
        " ORDER BY created DESC, id LIMIT $4 OFFSET $5",
        &p, &request_reader, (void ***)out, n, "requests", e);
}

static int request_expire(struct store_tx *tx, const char *tenant, int64_t now, int64_t *n,
                          struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, now);
    *n = run_changes(tx, tenant,
                     "UPDATE requests SET status = 'expired', decided = $2"
                     " WHERE tenant = $1 AND status = 'pending' AND expires <= $2",
                     &p, "requests", e);
    return *n < 0 ? -1 : 0;
}

static int webhook_put(struct store_tx *tx, const char *tenant, const struct webhook_rec *r,
                       struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->url);
    pg_param_text(&p, r->secret ? r->secret : "");
    pg_param_int(&p, r->created);
    pg_param_text(&p, r->key_id);
    pg_param_text(&p, r->nonce);
    return run_done(tx, tenant,
                    "INSERT INTO webhooks (" WEBHOOK_COLS ") VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (tenant) DO UPDATE SET url = EXCLUDED.url, "
                    "secret = EXCLUDED.secret, created = EXCLUDED.created, "
                    "key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce",
                    &p, "webhook", e);
}

static int webhook_get(struct store_tx *tx, const char *tenant, struct webhook_rec **out,
                       struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return read_one(tx, tenant, "SELECT " WEBHOOK_COLS " FROM webhooks WHERE tenant = $1", &p,
                    &webhook_reader, (void **)out, "webhook", e);
}

static int webhook_delete(struct store_tx *tx, const char *tenant, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    return run_one_change(tx, tenant, "DELETE FROM webhooks WHERE tenant = $1", &p, "webhook", e);
}

static int webhook_event_insert(struct store_tx *tx, const char *tenant,
                                const struct webhook_event_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->id);
    pg_param_text(&p, r->event);
    pg_param_text(&p, r->body);
    pg_param_int(&p, r->attempts);
    pg_param_int(&p, r->next_attempt);
    pg_param_text(&p, r->status);
    pg_param_int(&p, r->created);
    return run_insert(tx, tenant,
                      "INSERT INTO webhook_events (" WEBHOOK_EVENT_COLS ") VALUES ($1, $2, $3, "
                      "$4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                      &p, "webhook event", e);
}

static int webhook_event_due(struct store_tx *tx, const char *tenant, int64_t now, int limit,
                             struct webhook_event_rec ***out, size_t *n, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_int(&p, now);
    pg_param_int(&p, limit_of(limit));
    return read_all(tx, tenant,
                    "SELECT " WEBHOOK_EVENT_COLS " FROM webhook_events WHERE tenant = $1"
                    " AND status = 'pending' AND next_attempt <= $2 ORDER BY created, id LIMIT $3",
                    &p, &webhook_event_reader, (void ***)out, n, "webhook events", e);
}

static int webhook_event_delete(struct store_tx *tx, const char *tenant, const char *id,
                                struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, id);
    return run_one_change(tx, tenant, "DELETE FROM webhook_events WHERE tenant = $1 AND id = $2",
                          &p, "webhook event", e);
}

static int webhook_event_update(struct store_tx *tx, const char *tenant,
                                const struct webhook_event_rec *r, struct err *e)
{
    PARAMS;
    pg_param_text(&p, tenant);
    pg_param_text(&p, r->id);
    pg_param_int(&p, r->attempts);
    pg_param_int(&p, r->next_attempt);
    pg_param_text(&p, r->status);
    return run_one_change(tx, tenant,
                          "UPDATE webhook_events SET attempts = $3, next_attempt = $4, "
                          "status = $5 WHERE tenant = $1 AND id = $2",
                          &p, "webhook event", e);
}

const struct store_ops store_pg_ops = {
    .scheme = "postgres",
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .set_max_connections = pg_set_max_connections,
    .schema_version = pg_schema_version,
    .begin = pg_begin,
    .begin_read = pg_begin_read,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .savepoint_release = pg_savepoint_release,
    .savepoint_rollback = pg_savepoint_rollback,
    .tenant_create = tenant_create,
    .tenant_get = tenant_get,
    .tenant_list = tenant_list,
    .workflow_put = workflow_put,
    .workflow_get = workflow_get,
    .workflow_list = workflow_list,
    .workflow_delete = workflow_delete,
    .request_insert = request_insert,
    .request_get = request_get,
    .request_update = request_update,
    .request_list = request_list,
    .request_expire = request_expire,
    .webhook_put = webhook_put,
    .webhook_get = webhook_get,
    .webhook_delete = webhook_delete,
    .webhook_event_insert = webhook_event_insert,
    .webhook_event_due = webhook_event_due,
    .webhook_event_delete = webhook_event_delete,
    .webhook_event_update = webhook_event_update,
    .tenant_update = tenant_update,
    .tenant_purge = tenant_purge,
    .cert_count_since = cert_count_since,
    .ca_insert = ca_insert,
    .ca_update = ca_update,
    .ca_get = ca_get,
    .ca_list = ca_list,
    .profile_put = profile_put,
    .profile_get = profile_get,
    .profile_list = profile_list,
    .entity_insert = entity_insert,
    .entity_update = entity_update,
    .entity_get = entity_get,
    .entity_search = entity_search,
    .cert_insert = cert_insert,
    .cert_get = cert_get,
    .cert_set_status = cert_set_status,
    .cert_search = cert_search,
    .cert_revoked = cert_revoked,
    .crl_next_number = crl_next_number,
    .crl_insert = crl_insert,
    .crl_latest = crl_latest,
    .ocsp_responder_get = ocsp_responder_get,
    .ocsp_responder_put = ocsp_responder_put,
    .ocsp_get = ocsp_get,
    .ocsp_put = ocsp_put,
    .ocsp_due = ocsp_due,
    .crl_latest_scope = crl_latest_scope,
    .crl_prune = crl_prune,
    .cert_crl_entries = cert_crl_entries,
    .token_insert = token_insert,
    .token_find = token_find,
    .token_list = token_list,
    .token_delete = token_delete,
    .token_revoke = token_revoke,
    .principal_insert = principal_insert,
    .principal_get = principal_get,
    .principal_list = principal_list,
    .principal_by_cert = principal_by_cert,
    .principal_set_disabled = principal_set_disabled,
    .client_ca_insert = client_ca_insert,
    .client_ca_list = client_ca_list,
    .client_ca_delete = client_ca_delete,
    .binding_insert = binding_insert,
    .binding_delete = binding_delete,
    .binding_list = binding_list,
    .audit_last = audit_last,
    .audit_insert = audit_insert,
    .audit_list = audit_list,
    .audit_key_get = audit_key_get,
    .audit_key_insert = audit_key_insert,
    .audit_checkpoint_insert = audit_checkpoint_insert,
    .audit_checkpoint_last = audit_checkpoint_last,
    .audit_checkpoint_list = audit_checkpoint_list,
    .audit_forward_get = audit_forward_get,
    .audit_forward_set = audit_forward_set,
    .audit_target_put = audit_target_put,
    .audit_target_get = audit_target_get,
    .audit_target_delete = audit_target_delete,
    .audit_target_list = audit_target_list,
    .tsa_unit_insert = tsa_unit_insert,
    .tsa_unit_get = tsa_unit_get,
    .tsa_unit_update = tsa_unit_update,
    .tsa_unit_list = tsa_unit_list,
    .tsa_token_insert = tsa_token_insert,
    .tsa_token_get = tsa_token_get,
    .tsa_token_search = tsa_token_search,
    .lease_take = lease_take,
    .lease_count = lease_count,
    .idempotency_get = idempotency_get,
    .idempotency_put = idempotency_put,
    .idempotency_prune = idempotency_prune,
    .offline_import_get = offline_import_get,
    .offline_import_insert = offline_import_insert,
};
