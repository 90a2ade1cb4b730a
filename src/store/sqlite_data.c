/*
 * sqlite_data.c — the SQLite backend's queries and data calls.  Every query
 * is a prepared statement with bound parameters.  Searches are put together
 * from the fixed fragments below, one per filter that is set; no SQL text
 * ever contains input.  Every query on tenant data has "tenant = ?1" (or
 * ":tenant"); only the tenant listing and the token lookup by hash do not.
 */
#include "store/sqlite_internal.h"
#include "store/store_free.h"

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

const char *const sqlite_queries[Q_COUNT] = {
    [Q_TENANT_INSERT] = "INSERT INTO tenants (name, status, created) VALUES (?1, 'active', ?2)",
    [Q_TENANT_GET] = "SELECT " TENANT_COLS " FROM tenants WHERE name = ?1",
    [Q_TENANT_LIST] = "SELECT " TENANT_COLS " FROM tenants ORDER BY name",
    [Q_WORKFLOW_PUT] = "INSERT OR REPLACE INTO workflows (" WORKFLOW_COLS ") VALUES "
                       "(?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_WORKFLOW_GET] = "SELECT " WORKFLOW_COLS " FROM workflows WHERE tenant = ?1 AND name = ?2",
    [Q_WORKFLOW_LIST] = "SELECT " WORKFLOW_COLS " FROM workflows WHERE tenant = ?1 ORDER BY name",
    [Q_WORKFLOW_DELETE] = "DELETE FROM workflows WHERE tenant = ?1 AND name = ?2",
    [Q_REQUEST_INSERT] = "INSERT INTO requests (" REQUEST_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, "
                         "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [Q_REQUEST_GET] = "SELECT " REQUEST_COLS " FROM requests WHERE tenant = ?1 AND id = ?2",
    [Q_REQUEST_UPDATE] = "UPDATE requests SET status = ?3, approvals = ?4, result = ?5, "
                         "reason = ?6, decided = ?7 WHERE tenant = ?1 AND id = ?2",
    [Q_REQUEST_LIST] = "SELECT " REQUEST_COLS " FROM requests WHERE tenant = ?1"
                       " AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR requester = ?3)"
                       " ORDER BY created DESC, id LIMIT ?4 OFFSET ?5",
    [Q_REQUEST_EXPIRE] = "UPDATE requests SET status = 'expired', decided = ?2"
                         " WHERE tenant = ?1 AND status = 'pending' AND expires <= ?2",
    [Q_WEBHOOK_PUT] =
        "INSERT OR REPLACE INTO webhooks (" WEBHOOK_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_WEBHOOK_GET] = "SELECT " WEBHOOK_COLS " FROM webhooks WHERE tenant = ?1",
    [Q_WEBHOOK_DELETE] = "DELETE FROM webhooks WHERE tenant = ?1",
    [Q_WEBHOOK_EVENT_INSERT] = "INSERT INTO webhook_events (" WEBHOOK_EVENT_COLS ") VALUES "
                               "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_WEBHOOK_EVENT_DUE] = "SELECT " WEBHOOK_EVENT_COLS " FROM webhook_events WHERE tenant = ?1"
                            " AND status = 'pending' AND next_attempt <= ?2"
                            " ORDER BY created, id LIMIT ?3",
    [Q_WEBHOOK_EVENT_DELETE] = "DELETE FROM webhook_events WHERE tenant = ?1 AND id = ?2",
    [Q_WEBHOOK_EVENT_UPDATE] = "UPDATE webhook_events SET attempts = ?3, next_attempt = ?4,"
                               " status = ?5 WHERE tenant = ?1 AND id = ?2",
    [Q_TENANT_UPDATE] = "UPDATE tenants SET status = ?2, status_reason = ?3, deleted_at = ?4,"
                        " purge_after = ?5, certs_per_hour = ?6, requests_per_second = ?7"
                        " WHERE name = ?1",
    /* Every table with a tenant column: what a tenant's purge empties. */
    [Q_TENANT_TABLES] = "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c"
                        " WHERE m.type = 'table' AND c.name = 'tenant' ORDER BY m.name",
    [Q_CERT_COUNT_SINCE] =
        "SELECT count(*) FROM certs WHERE tenant = ?1 AND counted = 1 AND created >= ?2",
    [Q_CA_INSERT] = "INSERT INTO cas (" CA_COLS ") VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [Q_CA_UPDATE] = "UPDATE cas SET status = ?3, subject = ?4, cert = ?5, chain = ?6, "
                    "options = ?7, not_before = ?8, not_after = ?9 "
                    "WHERE tenant = ?1 AND name = ?2",
    [Q_CA_GET] = "SELECT " CA_COLS " FROM cas WHERE tenant = ?1 AND name = ?2",
    [Q_CA_LIST] = "SELECT " CA_COLS " FROM cas WHERE tenant = ?1 ORDER BY created, name",
    [Q_PROFILE_MAXVER] =
        "SELECT COALESCE(MAX(version), 0) FROM profiles WHERE tenant = ?1 AND name = ?2",
    [Q_PROFILE_INSERT] = "INSERT INTO profiles (tenant, name, version, json, created) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_PROFILE_GET_LATEST] = "SELECT tenant, name, version, json, created FROM profiles "
                             "WHERE tenant = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
    [Q_PROFILE_GET_VERSION] = "SELECT tenant, name, version, json, created FROM profiles "
                              "WHERE tenant = ?1 AND name = ?2 AND version = ?3",
    [Q_PROFILE_LIST] = "SELECT p.tenant, p.name, p.version, p.json, p.created FROM profiles p "
                       "WHERE p.tenant = ?1 AND p.version = (SELECT MAX(q.version) FROM profiles q "
                       "WHERE q.tenant = p.tenant AND q.name = p.name) ORDER BY p.name",
    [Q_ENTITY_INSERT] = "INSERT INTO entities (" ENT_COLS ") VALUES "
                        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_ENTITY_UPDATE] = "UPDATE entities SET name = ?3, kind = ?4, email = ?5, "
                        "manufacturer = ?6, model = ?7, serial_number = ?8, metadata = ?9 "
                        "WHERE tenant = ?1 AND id = ?2",
    [Q_ENTITY_GET] = "SELECT " ENT_COLS " FROM entities WHERE tenant = ?1 AND id = ?2",
    [Q_CERT_INSERT] = "INSERT INTO certs (" CERT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                      "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    [Q_CERT_GET] = "SELECT " CERT_COLS " FROM certs WHERE tenant = ?1 AND serial = ?2",
    [Q_CERT_SET_STATUS] =
        "UPDATE certs SET status = ?3, revoked_at = ?4, reason = ?5, "
        "invalidity_date = ?6, status_changed = ?7 WHERE tenant = ?1 AND serial = ?2",
    [Q_CERT_REVOKED] = "SELECT " CERT_COLS " FROM certs WHERE tenant = ?1 AND ca = ?2 "
                       "AND status IN ('revoked', 'hold') AND not_after >= ?3 ORDER BY serial",
    /* The next number follows both the counter and the highest stored CRL, so a lost
       counter row cannot send numbers backwards. */
    [Q_CRLNUM_BUMP] =
        "INSERT INTO crl_numbers (tenant, ca, last) VALUES (?1, ?2, 1 + "
        "(SELECT COALESCE(MAX(number), 0) FROM crls WHERE tenant = ?1 AND ca = ?2)) "
        "ON CONFLICT (tenant, ca) DO UPDATE SET last = MAX(last, excluded.last - 1) + 1",
    [Q_CRLNUM_GET] = "SELECT last FROM crl_numbers WHERE tenant = ?1 AND ca = ?2",
    [Q_CRL_INSERT] = "INSERT INTO crls (tenant, ca, number, this_update, next_update, der, shard, "
                     "delta_base) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_CRL_LATEST] = "SELECT " CRL_COLS " FROM crls WHERE tenant = ?1 AND ca = ?2 "
                     "AND shard = 0 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_LATEST_FULL] = "SELECT " CRL_COLS " FROM crls WHERE tenant = ?1 AND ca = ?2 "
                          "AND shard = ?3 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_LATEST_DELTA] = "SELECT " CRL_COLS " FROM crls WHERE tenant = ?1 AND ca = ?2 "
                           "AND shard = ?3 AND delta_base > 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_PRUNE] = "DELETE FROM crls WHERE tenant = ?1 AND ca = ?2 AND shard = ?3 "
                    "AND (delta_base > 0) = ?4 AND number < (SELECT number FROM crls "
                    "WHERE tenant = ?1 AND ca = ?2 AND shard = ?3 AND (delta_base > 0) = ?4 "
                    "ORDER BY number DESC LIMIT 1 OFFSET ?5)",
    /* CRL entries: the few columns a CRL needs, never the certificates themselves. */
    [Q_CERT_CRL_FULL] = "SELECT " CRL_ENTRY_COLS " FROM certs INDEXED BY certs_crl "
                        "WHERE tenant = ?1 AND ca = ?2 AND status IN ('revoked', 'hold') "
                        "AND not_after >= ?3",
    [Q_CERT_CRL_FULL_SHARD] = "SELECT " CRL_ENTRY_COLS " FROM certs INDEXED BY certs_crl "
                              "WHERE tenant = ?1 AND ca = ?2 AND crl_shard = ?4 "
                              "AND status IN ('revoked', 'hold') AND not_after >= ?3",
    [Q_CERT_CRL_DELTA] = "SELECT " CRL_ENTRY_COLS " FROM certs INDEXED BY certs_changed "
                         "WHERE tenant = ?1 AND ca = ?2 AND status_changed > 0 "
                         "AND status_changed >= ?5 AND not_after >= ?3",
    [Q_CERT_CRL_DELTA_SHARD] = "SELECT " CRL_ENTRY_COLS " FROM certs INDEXED BY certs_changed "
                               "WHERE tenant = ?1 AND ca = ?2 AND status_changed > 0 "
                               "AND status_changed >= ?5 AND crl_shard = ?4 "
                               "AND not_after >= ?3",
    [Q_OCSP_RESPONDER_GET] = "SELECT " RESPONDER_COLS " FROM ocsp_responders "
                             "WHERE tenant = ?1 AND ca = ?2",
    [Q_OCSP_RESPONDER_PUT] = "INSERT OR REPLACE INTO ocsp_responders (" RESPONDER_COLS ") "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_OCSP_GET] = "SELECT " OCSP_COLS " FROM ocsp_responses WHERE tenant = ?1 AND serial = ?2",
    /* Only if the certificate still has the status the response was made from. */
    [Q_OCSP_PUT] = "UPDATE ocsp_responses SET refresh_at = ?3, this_update = ?4, "
                   "next_update = ?5, der = ?6 WHERE tenant = ?1 AND serial = ?2 AND EXISTS "
                   "(SELECT 1 FROM certs WHERE tenant = ?1 AND serial = ?2 AND status = ?7 "
                   "AND revoked_at = ?8 AND reason = ?9 AND invalidity_date = ?10)",
    [Q_OCSP_DUE] =
        "SELECT c.tenant, c.serial, c.ca, c.profile, c.profile_version, c.entity_id, "
        "c.subject, c.sans, c.status, c.not_before, c.not_after, c.revoked_at, "
        "c.reason, c.invalidity_date, c.renewed_from, NULL, c.created, c.status_changed, "
        "c.crl_shard, c.requester "
        "FROM ocsp_responses o JOIN certs c ON c.tenant = o.tenant "
        "AND c.serial = o.serial WHERE o.tenant = ?1 AND o.ca = ?2 "
        "AND o.refresh_at <= ?3 ORDER BY o.refresh_at LIMIT ?4",
    [Q_TOKEN_INSERT] = "INSERT INTO tokens (" TOKEN_COLS ") VALUES "
                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_TOKEN_FIND] = "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1",
    [Q_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM tokens WHERE tenant = ?1 ORDER BY created, id",
    [Q_TOKEN_DELETE] = "DELETE FROM tokens WHERE tenant = ?1 AND id = ?2",
    [Q_TOKEN_REVOKE] =
        "UPDATE tokens SET revoked = ?3 WHERE tenant = ?1 AND id = ?2 AND revoked = 0",
    [Q_PRINCIPAL_INSERT] = "INSERT INTO principals (" PRINCIPAL_COLS ") VALUES "
                           "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_PRINCIPAL_GET] = "SELECT " PRINCIPAL_COLS " FROM principals WHERE tenant = ?1 AND id = ?2",
    [Q_PRINCIPAL_BY_CERT] = "SELECT " PRINCIPAL_COLS " FROM principals WHERE tenant = ?1 AND "
                            "(cert_sha256 = ?2 OR (cert_issuer = ?3 AND cert_subject = ?4)) "
                            "ORDER BY COALESCE(cert_sha256 = ?2, 0) DESC, created, id LIMIT 1",
    [Q_PRINCIPAL_LIST] =
        "SELECT " PRINCIPAL_COLS " FROM principals WHERE tenant = ?1 ORDER BY created, id",
    [Q_PRINCIPAL_DISABLE] = "UPDATE principals SET disabled = ?3 WHERE tenant = ?1 AND id = ?2",
    [Q_CLIENT_CA_INSERT] =
        "INSERT INTO client_cas (" CLIENT_CA_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_CLIENT_CA_LIST] =
        "SELECT " CLIENT_CA_COLS " FROM client_cas WHERE tenant = ?1 ORDER BY created, name",
    [Q_CLIENT_CA_DELETE] = "DELETE FROM client_cas WHERE tenant = ?1 AND name = ?2",
    [Q_BINDING_INSERT] = "INSERT INTO role_bindings (" BINDING_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_BINDING_DELETE] = "DELETE FROM role_bindings WHERE tenant = ?1 AND principal_tenant = ?2 "
                         "AND principal = ?3 AND role = ?4",
    [Q_BINDING_LIST] = "SELECT " BINDING_COLS " FROM role_bindings WHERE tenant = ?1 "
                       "ORDER BY principal_tenant, principal, role",
    [Q_BINDING_LIST_OF] = "SELECT " BINDING_COLS " FROM role_bindings WHERE tenant = ?1 "
                          "AND principal_tenant = ?2 AND principal = ?3 ORDER BY role",
    [Q_AUDIT_LAST] = "SELECT " AUDIT_COLS " FROM audit WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit (" AUDIT_COLS ") VALUES "
                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit WHERE tenant = ?1 AND seq > ?2 "
                     "ORDER BY seq LIMIT ?3",
    [Q_AUDIT_KEY_GET] = "SELECT " AUDIT_KEY_COLS " FROM audit_keys WHERE tenant = ?1",
    [Q_AUDIT_KEY_INSERT] =
        "INSERT INTO audit_keys (" AUDIT_KEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_AUDIT_CHECKPOINT_INSERT] = "INSERT INTO audit_checkpoints (" CHECKPOINT_COLS ") VALUES "
                                  "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_AUDIT_CHECKPOINT_LAST] = "SELECT " CHECKPOINT_COLS " FROM audit_checkpoints "
                                "WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_CHECKPOINT_LIST] = "SELECT " CHECKPOINT_COLS " FROM audit_checkpoints "
                                "WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_AUDIT_FORWARD_GET] =
        "SELECT last_seq FROM audit_forwarding WHERE tenant = ?1 AND target = ?2",
    [Q_AUDIT_FORWARD_SET] = "INSERT OR REPLACE INTO audit_forwarding (tenant, target, last_seq) "
                            "VALUES (?1, ?2, ?3)",
    [Q_AUDIT_TARGET_PUT] = "INSERT OR REPLACE INTO audit_targets (" TARGET_COLS ") VALUES "
                           "(?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_AUDIT_TARGET_GET] = "SELECT " TARGET_COLS " FROM audit_targets WHERE tenant = ?1",
    [Q_AUDIT_TARGET_DELETE] = "DELETE FROM audit_targets WHERE tenant = ?1",
    [Q_AUDIT_TARGET_LIST] = "SELECT " TARGET_COLS " FROM audit_targets ORDER BY tenant",
    [Q_TSA_UNIT_INSERT] = "INSERT INTO tsa_units (" TSA_UNIT_COLS ") VALUES (?1, ?2, ?3, ?4, "
                          "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [Q_TSA_UNIT_UPDATE] = "UPDATE tsa_units SET status = ?3, policy = ?4, policies = ?5, "
                          "hashes = ?6, accuracy_ms = ?7, include_chain = ?8 "
                          "WHERE tenant = ?1 AND name = ?2",
    [Q_TSA_UNIT_GET] = "SELECT " TSA_UNIT_COLS " FROM tsa_units WHERE tenant = ?1 AND name = ?2",
    [Q_TSA_UNIT_LIST] =
        "SELECT " TSA_UNIT_COLS " FROM tsa_units WHERE tenant = ?1 ORDER BY created, name",
    [Q_TSA_TOKEN_INSERT] = "INSERT INTO tsa_tokens (" TSA_TOKEN_COLS ") VALUES (?1, ?2, ?3, ?4, "
                           "?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [Q_TSA_TOKEN_GET] = "SELECT " TSA_TOKEN_COLS " FROM tsa_tokens "
                        "WHERE tenant = ?1 AND unit = ?2 AND serial = ?3",
    [Q_LEASE_TAKE] = "INSERT INTO leases (tenant, job, holder, until) VALUES (?1, ?2, ?3, ?5) "
                     "ON CONFLICT (tenant, job) DO UPDATE SET holder = excluded.holder, "
                     "until = excluded.until WHERE leases.until <= ?4 "
                     "OR leases.holder = excluded.holder",
    [Q_LEASE_PRUNE] = "DELETE FROM leases WHERE tenant = ?1 AND substr(job, 1, length(?2)) = ?2 "
                      "AND until < ?3",
    [Q_LEASE_COUNT] = "SELECT count(*) FROM leases WHERE tenant = ?1 AND "
                      "substr(job, 1, length(?2)) = ?2 AND until > ?3",
    [Q_IDEMPOTENCY_GET] = "SELECT " IDEMPOTENCY_COLS " FROM idempotency WHERE tenant = ?1 AND "
                          "key = ?2",
    [Q_IDEMPOTENCY_PUT] = "INSERT INTO idempotency (" IDEMPOTENCY_COLS ") VALUES (?1, ?2, ?3, ?4, "
                          "?5, ?6, ?8) ON CONFLICT (tenant, key) DO UPDATE SET principal = "
                          "excluded.principal, request_hash = excluded.request_hash, object = "
                          "excluded.object, created = excluded.created, outcome = excluded.outcome "
                          "WHERE idempotency.created < ?7",
    [Q_IDEMPOTENCY_PRUNE] = "DELETE FROM idempotency WHERE tenant = ?1 AND created < ?2",
    [Q_OFFLINE_GET] = "SELECT " OFFLINE_COLS " FROM offline_imports WHERE tenant = ?1 AND "
                      "source = ?2 AND (?3 = 0 OR seq = ?3) ORDER BY seq DESC LIMIT 1",
    [Q_OFFLINE_INSERT] = "INSERT INTO offline_imports (" OFFLINE_COLS ") VALUES (?1, ?2, ?3, ?4, "
                         "?5, ?6, ?7, ?8)",
};

#define TX(base) ((struct sqlite_tx *)(base))

/* ---- binding and reading ------------------------------------------------ */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    if (p != NULL)
        sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? xstrdup((const char *)s) : NULL;
}

static unsigned char *col_blob(sqlite3_stmt *st, int i, size_t *n)
{
    const void *p = sqlite3_column_blob(st, i);
    int len = sqlite3_column_bytes(st, i);
    unsigned char *out;

    *n = 0;
    if (p == NULL)
        return NULL;
    out = xmalloc((size_t)len);
    memcpy(out, p, (size_t)len);
    *n = (size_t)len;
    return out;
}

/* Steps a statement that returns no rows. */
static int step_done(struct store_tx *tx, sqlite3_stmt *st, const char *what, struct err *e)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sqlite_fail(TX(tx), rc, what, e);
}

/* Steps an UPDATE/DELETE that must touch exactly one row (ERR_NOT_FOUND otherwise). */
static int step_one_change(struct store_tx *tx, sqlite3_stmt *st, const char *what, struct err *e)
{
    if (step_done(tx, st, what, e) != 0)
        return -1;
    if (sqlite3_changes(TX(tx)->conn->db) == 0)
        return err_set(e, ERR_NOT_FOUND, "%s: not found", what);
    return 0;
}

/* How to read one row of a query into a record, and how to free that record. */
struct reader {
    void *(*read)(sqlite3_stmt *st);
    void (*free)(void *rec);
};

/* Reads the one row of st into *out (the caller frees it); ERR_NOT_FOUND if none. */
static int read_one(struct store_tx *tx, sqlite3_stmt *st, const struct reader *rd, void **out,
                    const char *what, struct err *e)
{
    int rc = sqlite3_step(st);
    void *rec;

    if (rc == SQLITE_ROW) {
        rec = rd->read(st);
        sqlite3_reset(st);
        *out = rec;
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return err_set(e, ERR_NOT_FOUND, "%s: not found", what);
    return sqlite_fail(TX(tx), rc, what, e);
}

/* Reads every row of st into a new array (the caller frees the records and the array). */
static int read_all(struct store_tx *tx, sqlite3_stmt *st, const struct reader *rd, void ***out,
                    size_t *n, const char *what, struct err *e)
{
    void **list = NULL;
    size_t count = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc(list, cap * sizeof(*list));
        }
        list[count++] = rd->read(st);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < count; i++)
            rd->free(list[i]);
        free(list);
        return sqlite_fail(TX(tx), rc, what, e);
    }
    *out = list;
    *n = count;
    return 0;
}

/* ---- row readers -------------------------------------------------------- */

static void *read_tenant(sqlite3_stmt *st)
{
    struct tenant_rec *r = xcalloc(1, sizeof(*r));
    r->name = col_text(st, 0);
    r->status = col_text(st, 1);
    r->created = sqlite3_column_int64(st, 2);
    r->status_reason = col_text(st, 3);
    r->deleted_at = sqlite3_column_int64(st, 4);
    r->purge_after = sqlite3_column_int64(st, 5);
    r->certs_per_hour = sqlite3_column_int(st, 6);
    r->requests_per_second = sqlite3_column_int(st, 7);
    return r;
}

static void *read_ca(sqlite3_stmt *st)
{
    struct ca_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->name = col_text(st, 1);
    r->parent = col_text(st, 2);
    r->key_id = col_text(st, 3);
    r->key_type = col_text(st, 4);
    r->status = col_text(st, 5);
    r->subject = col_text(st, 6);
    r->cert_der = col_blob(st, 7, &r->cert_len);
    r->csr_der = col_blob(st, 8, &r->csr_len);
    r->chain_der = col_blob(st, 9, &r->chain_len);
    r->options_json = col_text(st, 10);
    r->not_before = sqlite3_column_int64(st, 11);
    r->not_after = sqlite3_column_int64(st, 12);
    r->created = sqlite3_column_int64(st, 13);
    return r;
}

static void *read_profile(sqlite3_stmt *st)
{
    struct profile_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->name = col_text(st, 1);
    r->version = sqlite3_column_int(st, 2);
    r->json = col_text(st, 3);
    r->created = sqlite3_column_int64(st, 4);
    return r;
}

static void *read_entity(sqlite3_stmt *st)
{
    struct entity_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->id = col_text(st, 1);
    r->name = col_text(st, 2);
    r->kind = col_text(st, 3);
    r->email = col_text(st, 4);
    r->manufacturer = col_text(st, 5);
    r->model = col_text(st, 6);
    r->serial_number = col_text(st, 7);
    r->metadata_json = col_text(st, 8);
    r->created = sqlite3_column_int64(st, 9);
    return r;
}

static void *read_cert(sqlite3_stmt *st)
{
    struct cert_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->serial = col_text(st, 1);
    r->ca = col_text(st, 2);
    r->profile = col_text(st, 3);
    r->profile_version = sqlite3_column_int(st, 4);
    r->entity_id = col_text(st, 5);
    r->subject = col_text(st, 6);
    r->sans = col_text(st, 7);
    r->status = col_text(st, 8);
    r->not_before = sqlite3_column_int64(st, 9);
    r->not_after = sqlite3_column_int64(st, 10);
    r->revoked_at = sqlite3_column_int64(st, 11);
    r->reason = sqlite3_column_int(st, 12);
    r->invalidity_date = sqlite3_column_int64(st, 13);
    r->renewed_from = col_text(st, 14);
    r->der = col_blob(st, 15, &r->der_len);
    r->created = sqlite3_column_int64(st, 16);
    r->status_changed = sqlite3_column_int64(st, 17);
    r->crl_shard = sqlite3_column_int(st, 18);
    r->counted = sqlite3_column_int(st, 19);
    r->requester = col_text(st, 20);
    return r;
}

static void *read_crl(sqlite3_stmt *st)
{
    struct crl_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->ca = col_text(st, 1);
    r->number = sqlite3_column_int64(st, 2);
    r->this_update = sqlite3_column_int64(st, 3);
    r->next_update = sqlite3_column_int64(st, 4);
    r->der = col_blob(st, 5, &r->der_len);
    r->shard = sqlite3_column_int(st, 6);
    r->delta_base = sqlite3_column_int64(st, 7);
    return r;
}

static void *read_responder(sqlite3_stmt *st)
{
    struct ocsp_responder_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->ca = col_text(st, 1);
    r->key_id = col_text(st, 2);
    r->key_type = col_text(st, 3);
    r->serial = col_text(st, 4);
    r->cert_der = col_blob(st, 5, &r->cert_len);
    r->not_after = sqlite3_column_int64(st, 6);
    r->created = sqlite3_column_int64(st, 7);
    return r;
}

static void *read_ocsp(sqlite3_stmt *st)
{
    struct ocsp_resp_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->serial = col_text(st, 1);
    r->ca = col_text(st, 2);
    r->refresh_at = sqlite3_column_int64(st, 3);
    r->this_update = sqlite3_column_int64(st, 4);
    r->next_update = sqlite3_column_int64(st, 5);
    r->der = col_blob(st, 6, &r->der_len);
    return r;
}

static void *read_token(sqlite3_stmt *st)
{
    struct token_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->id = col_text(st, 1);
    r->name = col_text(st, 2);
    r->hash = col_text(st, 3);
    r->role = col_text(st, 4);
    r->expires = sqlite3_column_int64(st, 5);
    r->created = sqlite3_column_int64(st, 6);
    r->principal = col_text(st, 7);
    r->secret = col_text(st, 8);
    r->revoked = sqlite3_column_int64(st, 9);
    return r;
}

static void *read_principal(sqlite3_stmt *st)
{
    struct principal_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->id = col_text(st, 1);
    r->name = col_text(st, 2);
    r->kind = col_text(st, 3);
    r->allow = col_text(st, 4);
    r->disabled = sqlite3_column_int(st, 5);
    r->created = sqlite3_column_int64(st, 6);
    r->cert_issuer = col_text(st, 7);
    r->cert_subject = col_text(st, 8);
    r->cert_sha256 = col_text(st, 9);
    return r;
}

static void *read_client_ca(sqlite3_stmt *st)
{
    struct client_ca_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->name = col_text(st, 1);
    r->ca = col_text(st, 2);
    r->cert = col_blob(st, 3, &r->cert_len);
    r->created = sqlite3_column_int64(st, 4);
    return r;
}

static void *read_binding(sqlite3_stmt *st)
{
    struct binding_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->principal_tenant = col_text(st, 1);
    r->principal = col_text(st, 2);
    r->role = col_text(st, 3);
    r->created = sqlite3_column_int64(st, 4);
    return r;
}

static void *read_audit(sqlite3_stmt *st)
{
    struct audit_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->seq = sqlite3_column_int64(st, 1);
    r->time = sqlite3_column_int64(st, 2);
    r->actor = col_text(st, 3);
    r->action = col_text(st, 4);
    r->object = col_text(st, 5);
    r->result = col_text(st, 6);
    r->detail = col_text(st, 7);
    r->prev_hash = col_text(st, 8);
    r->hash = col_text(st, 9);
    return r;
}

static void *read_audit_key(sqlite3_stmt *st)
{
    struct audit_key_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->key_id = col_text(st, 1);
    r->key_type = col_text(st, 2);
    r->public_pem = col_text(st, 3);
    r->created = sqlite3_column_int64(st, 4);
    return r;
}

static void *read_offline_import(sqlite3_stmt *st)
{
    struct offline_import_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->source = col_text(st, 1);
    r->seq = sqlite3_column_int64(st, 2);
    r->digest = col_text(st, 3);
    r->signer = col_text(st, 4);
    r->audit_seq = sqlite3_column_int64(st, 5);
    r->audit_head = col_text(st, 6);
    r->imported = sqlite3_column_int64(st, 7);
    return r;
}

static void *read_idempotency(sqlite3_stmt *st)
{
    struct idempotency_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->key = col_text(st, 1);
    r->principal = col_text(st, 2);
    r->request_hash = col_text(st, 3);
    r->object = col_text(st, 4);
    r->created = sqlite3_column_int64(st, 5);
    r->outcome = col_text(st, 6);
    return r;
}

static void *read_checkpoint(sqlite3_stmt *st)
{
    struct audit_checkpoint_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->seq = sqlite3_column_int64(st, 1);
    r->time = sqlite3_column_int64(st, 2);
    r->head_hash = col_text(st, 3);
    r->key_id = col_text(st, 4);
    r->der = col_blob(st, 5, &r->der_len);
    r->sig = col_blob(st, 6, &r->sig_len);
    return r;
}

static void *read_target(sqlite3_stmt *st)
{
    struct audit_target_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->host = col_text(st, 1);
    r->port = sqlite3_column_int(st, 2);
    r->transport = col_text(st, 3);
    r->ca_pem = col_text(st, 4);
    r->created = sqlite3_column_int64(st, 5);
    return r;
}

static void *read_tsa_unit(sqlite3_stmt *st)
{
    struct tsa_unit_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->name = col_text(st, 1);
    r->ca = col_text(st, 2);
    r->key_id = col_text(st, 3);
    r->key_type = col_text(st, 4);
    r->status = col_text(st, 5);
    r->cert_serial = col_text(st, 6);
    r->cert_der = col_blob(st, 7, &r->cert_len);
    r->chain_der = col_blob(st, 8, &r->chain_len);
    r->policy = col_text(st, 9);
    r->policies_json = col_text(st, 10);
    r->hashes_json = col_text(st, 11);
    r->accuracy_ms = sqlite3_column_int64(st, 12);
    r->include_chain = sqlite3_column_int(st, 13);
    r->created = sqlite3_column_int64(st, 14);
    return r;
}

static void *read_tsa_token(sqlite3_stmt *st)
{
    struct tsa_token_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->unit = col_text(st, 1);
    r->serial = col_text(st, 2);
    r->gen_time = col_text(st, 3);
    r->time = sqlite3_column_int64(st, 4);
    r->policy = col_text(st, 5);
    r->hash_alg = col_text(st, 6);
    r->imprint = col_text(st, 7);
    r->nonce = col_text(st, 8);
    r->requester = col_text(st, 9);
    r->der = col_blob(st, 10, &r->der_len);
    return r;
}

static void *read_workflow(sqlite3_stmt *st)
{
    struct workflow_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->name = col_text(st, 1);
    r->required = sqlite3_column_int(st, 2);
    r->approvers = col_text(st, 3);
    r->expires_hours = sqlite3_column_int(st, 4);
    r->created = sqlite3_column_int64(st, 5);
    return r;
}

static void *read_request(sqlite3_stmt *st)
{
    struct request_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->id = col_text(st, 1);
    r->kind = col_text(st, 2);
    r->object = col_text(st, 3);
    r->params = col_text(st, 4);
    r->requester = col_text(st, 5);
    r->status = col_text(st, 6);
    r->required = sqlite3_column_int(st, 7);
    r->approvers = col_text(st, 8);
    r->approvals = col_text(st, 9);
    r->result = col_text(st, 10);
    r->reason = col_text(st, 11);
    r->created = sqlite3_column_int64(st, 12);
    r->expires = sqlite3_column_int64(st, 13);
    r->decided = sqlite3_column_int64(st, 14);
    return r;
}

static void *read_webhook(sqlite3_stmt *st)
{
    struct webhook_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->url = col_text(st, 1);
    r->secret = col_text(st, 2);
    r->created = sqlite3_column_int64(st, 3);
    r->key_id = col_text(st, 4);
    r->nonce = col_text(st, 5);
    return r;
}

static void *read_webhook_event(sqlite3_stmt *st)
{
    struct webhook_event_rec *r = xcalloc(1, sizeof(*r));
    r->tenant = col_text(st, 0);
    r->id = col_text(st, 1);
    r->event = col_text(st, 2);
    r->body = col_text(st, 3);
    r->attempts = sqlite3_column_int(st, 4);
    r->next_attempt = sqlite3_column_int64(st, 5);
    r->status = col_text(st, 6);
    r->created = sqlite3_column_int64(st, 7);
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
static const struct reader idempotency_reader = {read_idempotency, store_free_idempotency};
static const struct reader checkpoint_reader = {read_checkpoint, store_free_checkpoint};
static const struct reader target_reader = {read_target, store_free_target};
static const struct reader tsa_unit_reader = {read_tsa_unit, store_free_tsa_unit};
static const struct reader tsa_token_reader = {read_tsa_token, store_free_tsa_token};
static const struct reader workflow_reader = {read_workflow, store_free_workflow};
static const struct reader request_reader = {read_request, store_free_request};
static const struct reader webhook_reader = {read_webhook, store_free_webhook};
static const struct reader webhook_event_reader = {read_webhook_event, store_free_webhook_event};

#define STMT(q)                                                                                    \
    sqlite3_stmt *st = sqlite_stmt(TX(tx), (q), e);                                                \
    if (st == NULL)                                                                                \
        return -1;

/* ---- searches ---------------------------------------------------------- */

/*
 * The statement of a search: head, then " AND (<fragment>)" for each bit of
 * mask, then tail.  Only fixed text goes in; it is prepared once per
 * connection and kept in *slot.
 */
static sqlite3_stmt *search_stmt(struct sqlite_tx *tx, sqlite3_stmt **slot, const char *head,
                                 const char *const *filters, unsigned mask, const char *tail,
                                 struct err *e)
{
    struct buf sql = {0};
    sqlite3_stmt *st;

    if (*slot == NULL) {
        buf_append(&sql, head, strlen(head));
        for (unsigned i = 0; mask >> i != 0; i++)
            if (mask & (1u << i)) {
                buf_append(&sql, " AND (", 6);
                buf_append(&sql, filters[i], strlen(filters[i]));
                buf_append(&sql, ")", 1);
            }
        buf_append(&sql, tail, strlen(tail) + 1);
    }
    st = sqlite_stmt_cached(tx, slot, (const char *)sql.data, e);
    buf_free(&sql);
    return st;
}

/* Binds text to the named parameter if the statement has it (a filter that is set). */
static void bind_named(sqlite3_stmt *st, const char *name, const char *value)
{
    int i = sqlite3_bind_parameter_index(st, name);

    if (i > 0 && value != NULL)
        sqlite3_bind_text(st, i, value, -1, SQLITE_STATIC);
}

static int limit_of(int limit)
{
    return limit <= 0 ? 100 : (limit > 1000 ? 1000 : limit);
}

/* Limit 0 (or less) means 100, at most 1000; a negative offset is 0. */
static void bind_page(sqlite3_stmt *st, int limit, int offset)
{
    sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":limit"), limit_of(limit));
    sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":offset"), offset > 0 ? offset : 0);
}

/* ---- tenants ------------------------------------------------------------- */

static int tenant_create(struct store_tx *tx, const char *tenant, struct err *e)
{
    STMT(Q_TENANT_INSERT);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, time_now());
    return step_done(tx, st, "tenant", e);
}

static int tenant_get(struct store_tx *tx, const char *tenant, struct tenant_rec **out,
                      struct err *e)
{
    STMT(Q_TENANT_GET);
    bind_text(st, 1, tenant);
    return read_one(tx, st, &tenant_reader, (void **)out, "tenant", e);
}

static int tenant_list(struct store_tx *tx, struct tenant_rec ***out, size_t *n, struct err *e)
{
    STMT(Q_TENANT_LIST);
    return read_all(tx, st, &tenant_reader, (void ***)out, n, "tenants", e);
}

static int tenant_update(struct store_tx *tx, const char *tenant, const struct tenant_rec *r,
                         struct err *e)
{
    STMT(Q_TENANT_UPDATE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->status);
    bind_text(st, 3, r->status_reason);
    sqlite3_bind_int64(st, 4, r->deleted_at);
    sqlite3_bind_int64(st, 5, r->purge_after);
    sqlite3_bind_int(st, 6, r->certs_per_hour);
    sqlite3_bind_int(st, 7, r->requests_per_second);
    return step_one_change(tx, st, "tenant", e);
}

static int delete_rows(struct sqlite_tx *tx, const char *table, const char *tenant, struct err *e)
{
    char *sql = xasprintf("DELETE FROM \"%s\" WHERE tenant = ?1", table);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(tx->conn->db, sql, -1, &st, NULL);

    free(sql);
    if (rc == SQLITE_OK) {
        bind_text(st, 1, tenant);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sqlite_fail(tx, rc, "tenant purge", e);
}

/*
 * The table names come from the schema itself (sqlite_master), never from
 * input; each is quoted as an identifier, and the tenant is a bound value.
 */
static int tenant_purge(struct store_tx *tx, const char *tenant, struct err *e)
{
    char **tables = NULL;
    size_t n = 0;
    int rc = 0;

    {
        STMT(Q_TENANT_TABLES);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            tables = xrealloc(tables, (n + 1) * sizeof(*tables));
            tables[n++] = col_text(st, 0);
        }
        sqlite3_reset(st);
        rc = rc == SQLITE_DONE ? 0 : sqlite_fail(TX(tx), rc, "tenant tables", e);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = delete_rows(TX(tx), tables[i], tenant, e);
        free(tables[i]);
    }
    free(tables);
    return rc;
}

/* ---- CAs --------------------------------------------------------------- */

static int ca_insert(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e)
{
    STMT(Q_CA_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->name);
    bind_text(st, 3, r->parent);
    bind_text(st, 4, r->key_id);
    bind_text(st, 5, r->key_type);
    bind_text(st, 6, r->status);
    bind_text(st, 7, r->subject);
    bind_blob(st, 8, r->cert_der, r->cert_len);
    bind_blob(st, 9, r->csr_der, r->csr_len);
    bind_blob(st, 10, r->chain_der, r->chain_len);
    bind_text(st, 11, r->options_json ? r->options_json : "{}");
    sqlite3_bind_int64(st, 12, r->not_before);
    sqlite3_bind_int64(st, 13, r->not_after);
    sqlite3_bind_int64(st, 14, r->created);
    return step_done(tx, st, "CA", e);
}

static int ca_update(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e)
{
    STMT(Q_CA_UPDATE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->name);
    bind_text(st, 3, r->status);
    bind_text(st, 4, r->subject);
    bind_blob(st, 5, r->cert_der, r->cert_len);
    bind_blob(st, 6, r->chain_der, r->chain_len);
    bind_text(st, 7, r->options_json ? r->options_json : "{}");
    sqlite3_bind_int64(st, 8, r->not_before);
    sqlite3_bind_int64(st, 9, r->not_after);
    return step_one_change(tx, st, "CA", e);
}

static int ca_get(struct store_tx *tx, const char *tenant, const char *name, struct ca_rec **out,
                  struct err *e)
{
    STMT(Q_CA_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    return read_one(tx, st, &ca_reader, (void **)out, "CA", e);
}

static int ca_list(struct store_tx *tx, const char *tenant, struct ca_rec ***out, size_t *n,
                   struct err *e)
{
    STMT(Q_CA_LIST);
    bind_text(st, 1, tenant);
    return read_all(tx, st, &ca_reader, (void ***)out, n, "CAs", e);
}

/* ---- profiles ------------------------------------------------------------ */

static int profile_put(struct store_tx *tx, const char *tenant, const char *name, const char *json,
                       int *version_out, struct err *e)
{
    int version, rc;
    STMT(Q_PROFILE_MAXVER);
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return sqlite_fail(TX(tx), rc, "profile", e);
    }
    version = sqlite3_column_int(st, 0) + 1;
    sqlite3_reset(st);
    if ((st = sqlite_stmt(TX(tx), Q_PROFILE_INSERT, e)) == NULL)
        return -1;
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    sqlite3_bind_int(st, 3, version);
    bind_text(st, 4, json);
    sqlite3_bind_int64(st, 5, time_now());
    if (step_done(tx, st, "profile", e) != 0)
        return -1;
    *version_out = version;
    return 0;
}

static int profile_get(struct store_tx *tx, const char *tenant, const char *name, int version,
                       struct profile_rec **out, struct err *e)
{
    STMT(version > 0 ? Q_PROFILE_GET_VERSION : Q_PROFILE_GET_LATEST);
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    if (version > 0)
        sqlite3_bind_int(st, 3, version);
    return read_one(tx, st, &profile_reader, (void **)out, "profile", e);
}

static int profile_list(struct store_tx *tx, const char *tenant, struct profile_rec ***out,
                        size_t *n, struct err *e)
{
    STMT(Q_PROFILE_LIST);
    bind_text(st, 1, tenant);
    return read_all(tx, st, &profile_reader, (void ***)out, n, "profiles", e);
}

/* ---- end entities ------------------------------------------------------- */

static void bind_entity(sqlite3_stmt *st, const char *tenant, const struct entity_rec *r)
{
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->name);
    bind_text(st, 4, r->kind);
    bind_text(st, 5, r->email);
    bind_text(st, 6, r->manufacturer);
    bind_text(st, 7, r->model);
    bind_text(st, 8, r->serial_number);
    bind_text(st, 9, r->metadata_json ? r->metadata_json : "{}");
}

static int entity_insert(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                         struct err *e)
{
    STMT(Q_ENTITY_INSERT);
    bind_entity(st, tenant, r);
    sqlite3_bind_int64(st, 10, r->created);
    return step_done(tx, st, "entity", e);
}

static int entity_update(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                         struct err *e)
{
    STMT(Q_ENTITY_UPDATE);
    bind_entity(st, tenant, r);
    return step_one_change(tx, st, "entity", e);
}

static int entity_get(struct store_tx *tx, const char *tenant, const char *id,
                      struct entity_rec **out, struct err *e)
{
    STMT(Q_ENTITY_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    return read_one(tx, st, &entity_reader, (void **)out, "entity", e);
}

static int entity_search(struct store_tx *tx, const char *tenant, const struct entity_query *q,
                         struct entity_rec ***out, size_t *n, struct err *e)
{
    static const char *const filters[ENTITY_FILTERS] = {
        "instr(lower(name), lower(:name)) > 0",
        "kind = :kind",
        "lower(email) = lower(:email)",
    };
    const char *values[ENTITY_FILTERS] = {q->name, q->kind, q->email};
    unsigned mask = 0;
    sqlite3_stmt *st;

    for (int i = 0; i < ENTITY_FILTERS; i++)
        mask |= values[i] != NULL ? 1u << i : 0;
    st = search_stmt(TX(tx), &TX(tx)->conn->entity_search[mask],
                     "SELECT " ENT_COLS " FROM entities WHERE tenant = :tenant", filters, mask,
                     " ORDER BY name, id LIMIT :limit OFFSET :offset", e);
    if (st == NULL)
        return -1;
    bind_named(st, ":tenant", tenant);
    bind_named(st, ":name", q->name);
    bind_named(st, ":kind", q->kind);
    bind_named(st, ":email", q->email);
    bind_page(st, q->limit, q->offset);
    return read_all(tx, st, &entity_reader, (void ***)out, n, "entities", e);
}

/* ---- certificates ------------------------------------------------------- */

static int cert_insert(struct store_tx *tx, const char *tenant, const struct cert_rec *r,
                       struct err *e)
{
    STMT(Q_CERT_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->serial);
    bind_text(st, 3, r->ca);
    bind_text(st, 4, r->profile);
    sqlite3_bind_int(st, 5, r->profile_version);
    bind_text(st, 6, r->entity_id);
    bind_text(st, 7, r->subject);
    bind_text(st, 8, r->sans);
    bind_text(st, 9, r->status);
    sqlite3_bind_int64(st, 10, r->not_before);
    sqlite3_bind_int64(st, 11, r->not_after);
    sqlite3_bind_int64(st, 12, r->revoked_at);
    sqlite3_bind_int(st, 13, r->reason);
    sqlite3_bind_int64(st, 14, r->invalidity_date);
    bind_text(st, 15, r->renewed_from);
    bind_blob(st, 16, r->der, r->der_len);
    sqlite3_bind_int64(st, 17, r->created);
    sqlite3_bind_int64(st, 18, r->status_changed);
    sqlite3_bind_int(st, 19, r->crl_shard);
    sqlite3_bind_int(st, 20, r->counted);
    bind_text(st, 21, r->requester);
    return step_done(tx, st, "certificate serial", e);
}

static int cert_count_since(struct store_tx *tx, const char *tenant, int64_t since, int64_t *n,
                            struct err *e)
{
    STMT(Q_CERT_COUNT_SINCE);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, since);
    if (sqlite3_step(st) != SQLITE_ROW)
        return sqlite_fail(TX(tx), sqlite3_errcode(sqlite3_db_handle(st)), "certificates", e);
    *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int cert_get(struct store_tx *tx, const char *tenant, const char *serial,
                    struct cert_rec **out, struct err *e)
{
    STMT(Q_CERT_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, serial);
    return read_one(tx, st, &cert_reader, (void **)out, "certificate", e);
}

static int cert_set_status(struct store_tx *tx, const char *tenant, const char *serial,
                           const char *status, int64_t revoked_at, int reason,
                           int64_t invalidity_date, int64_t changed, struct err *e)
{
    STMT(Q_CERT_SET_STATUS);
    bind_text(st, 1, tenant);
    bind_text(st, 2, serial);
    bind_text(st, 3, status);
    sqlite3_bind_int64(st, 4, revoked_at);
    sqlite3_bind_int(st, 5, reason);
    sqlite3_bind_int64(st, 6, invalidity_date);
    sqlite3_bind_int64(st, 7, changed);
    return step_one_change(tx, st, "certificate", e);
}

static int cert_search(struct store_tx *tx, const char *tenant, const struct cert_query *q,
                       struct cert_rec ***out, size_t *n, struct err *e)
{
    static const char *const filters[CERT_FILTERS] = {
        "serial = :serial",
        "instr(lower(subject), lower(:subject)) > 0",
        "instr(lower(sans), lower(:san)) > 0",
        "status = :status",
        "ca = :ca",
        "entity_id = :entity_id",
        "profile = :profile",
        "requester = :requester",
        "not_after >= :after",
        "not_after < :before",
    };
    const char *values[CERT_FILTERS - 2] = {q->serial, q->subject,   q->san,     q->status,
                                            q->ca,     q->entity_id, q->profile, q->requester};
    unsigned mask = 0;
    sqlite3_stmt *st;

    for (int i = 0; i < CERT_FILTERS - 2; i++)
        mask |= values[i] != NULL ? 1u << i : 0;
    mask |= q->expires_after != 0 ? 1u << (CERT_FILTERS - 2) : 0;
    mask |= q->expires_before != 0 ? 1u << (CERT_FILTERS - 1) : 0;
    st = search_stmt(TX(tx), &TX(tx)->conn->cert_search[mask],
                     "SELECT " CERT_COLS " FROM certs WHERE tenant = :tenant", filters, mask,
                     " ORDER BY not_after, serial LIMIT :limit OFFSET :offset", e);
    if (st == NULL)
        return -1;
    bind_named(st, ":tenant", tenant);
    bind_named(st, ":serial", q->serial);
    bind_named(st, ":subject", q->subject);
    bind_named(st, ":san", q->san);
    bind_named(st, ":status", q->status);
    bind_named(st, ":ca", q->ca);
    bind_named(st, ":entity_id", q->entity_id);
    bind_named(st, ":profile", q->profile);
    bind_named(st, ":requester", q->requester);
    if (q->expires_after != 0)
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":after"), q->expires_after);
    if (q->expires_before != 0)
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":before"), q->expires_before);
    bind_page(st, q->limit, q->offset);
    return read_all(tx, st, &cert_reader, (void ***)out, n, "certificates", e);
}

static int cert_revoked(struct store_tx *tx, const char *tenant, const char *ca,
                        int64_t expired_cutoff, struct cert_rec ***out, size_t *n, struct err *e)
{
    STMT(Q_CERT_REVOKED);
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    sqlite3_bind_int64(st, 3, expired_cutoff);
    return read_all(tx, st, &cert_reader, (void ***)out, n, "revoked certificates", e);
}

static int cert_crl_entries(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                            int64_t expired_cutoff, int64_t changed_since, store_crl_entry_fn fn,
                            void *arg, struct err *e)
{
    enum query_id q = changed_since > 0 ? (shard > 0 ? Q_CERT_CRL_DELTA_SHARD : Q_CERT_CRL_DELTA)
                                        : (shard > 0 ? Q_CERT_CRL_FULL_SHARD : Q_CERT_CRL_FULL);
    struct crl_entry_rec r;
    int rc;
    STMT(q);

    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    sqlite3_bind_int64(st, 3, expired_cutoff);
    if (shard > 0)
        sqlite3_bind_int(st, 4, shard);
    if (changed_since > 0)
        sqlite3_bind_int64(st, 5, changed_since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r.serial = (const char *)sqlite3_column_text(st, 0);
        r.status = (const char *)sqlite3_column_text(st, 1);
        r.revoked_at = sqlite3_column_int64(st, 2);
        r.reason = sqlite3_column_int(st, 3);
        r.invalidity_date = sqlite3_column_int64(st, 4);
        r.status_changed = sqlite3_column_int64(st, 5);
        if (r.serial == NULL || r.status == NULL) {
            sqlite3_reset(st);
            return err_set(e, ERR_INTERNAL, "CRL entries: a row without serial or status");
        }
        if ((rc = fn(arg, &r, e)) != 0) {
            sqlite3_reset(st);
            return rc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sqlite_fail(TX(tx), rc, "CRL entries", e);
}

/* ---- CRLs ------------------------------------------------------------- */

static int crl_next_number(struct store_tx *tx, const char *tenant, const char *ca, int64_t *out,
                           struct err *e)
{
    int rc;
    STMT(Q_CRLNUM_BUMP);
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    if (step_done(tx, st, "CRL number", e) != 0)
        return -1;
    if ((st = sqlite_stmt(TX(tx), Q_CRLNUM_GET, e)) == NULL)
        return -1;
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sqlite_fail(TX(tx), rc, "CRL number", e);
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int crl_insert(struct store_tx *tx, const char *tenant, const struct crl_rec *r,
                      struct err *e)
{
    STMT(Q_CRL_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->ca);
    sqlite3_bind_int64(st, 3, r->number);
    sqlite3_bind_int64(st, 4, r->this_update);
    sqlite3_bind_int64(st, 5, r->next_update);
    bind_blob(st, 6, r->der, r->der_len);
    sqlite3_bind_int(st, 7, r->shard);
    sqlite3_bind_int64(st, 8, r->delta_base);
    return step_done(tx, st, "CRL", e);
}

static int crl_latest(struct store_tx *tx, const char *tenant, const char *ca, struct crl_rec **out,
                      struct err *e)
{
    STMT(Q_CRL_LATEST);
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    return read_one(tx, st, &crl_reader, (void **)out, "CRL", e);
}

/* ---- OCSP ------------------------------------------------------------- */

static int ocsp_responder_get(struct store_tx *tx, const char *tenant, const char *ca,
                              struct ocsp_responder_rec **out, struct err *e)
{
    STMT(Q_OCSP_RESPONDER_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    return read_one(tx, st, &responder_reader, (void **)out, "OCSP responder", e);
}

static int ocsp_responder_put(struct store_tx *tx, const char *tenant,
                              const struct ocsp_responder_rec *r, struct err *e)
{
    STMT(Q_OCSP_RESPONDER_PUT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->ca);
    bind_text(st, 3, r->key_id);
    bind_text(st, 4, r->key_type);
    bind_text(st, 5, r->serial);
    bind_blob(st, 6, r->cert_der, r->cert_len);
    sqlite3_bind_int64(st, 7, r->not_after);
    sqlite3_bind_int64(st, 8, r->created);
    return step_done(tx, st, "OCSP responder", e);
}

static int ocsp_get(struct store_tx *tx, const char *tenant, const char *serial,
                    struct ocsp_resp_rec **out, struct err *e)
{
    STMT(Q_OCSP_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, serial);
    return read_one(tx, st, &ocsp_reader, (void **)out, "OCSP response", e);
}

static int ocsp_put(struct store_tx *tx, const char *tenant, const struct ocsp_resp_rec *r,
                    const struct cert_rec *seen, struct err *e)
{
    STMT(Q_OCSP_PUT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->serial);
    sqlite3_bind_int64(st, 3, r->refresh_at);
    sqlite3_bind_int64(st, 4, r->this_update);
    sqlite3_bind_int64(st, 5, r->next_update);
    bind_blob(st, 6, r->der, r->der_len);
    bind_text(st, 7, seen->status);
    sqlite3_bind_int64(st, 8, seen->revoked_at);
    sqlite3_bind_int(st, 9, seen->reason);
    sqlite3_bind_int64(st, 10, seen->invalidity_date);
    if (step_done(tx, st, "OCSP response", e) != 0)
        return -1;
    return sqlite3_changes(TX(tx)->conn->db) == 1 ? 0 : 1;
}

static int ocsp_due(struct store_tx *tx, const char *tenant, const char *ca, int64_t now, int limit,
                    struct cert_rec ***out, size_t *n, struct err *e)
{
    STMT(Q_OCSP_DUE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, limit > 0 ? limit : 1000);
    return read_all(tx, st, &cert_reader, (void ***)out, n, "due OCSP responses", e);
}

static int crl_latest_scope(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                            int delta, struct crl_rec **out, struct err *e)
{
    STMT(delta ? Q_CRL_LATEST_DELTA : Q_CRL_LATEST_FULL);
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    sqlite3_bind_int(st, 3, shard);
    return read_one(tx, st, &crl_reader, (void **)out, "CRL", e);
}

static int crl_prune(struct store_tx *tx, const char *tenant, const char *ca, int shard, int delta,
                     int keep, struct err *e)
{
    STMT(Q_CRL_PRUNE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, ca);
    sqlite3_bind_int(st, 3, shard);
    sqlite3_bind_int(st, 4, delta ? 1 : 0);
    sqlite3_bind_int(st, 5, keep > 0 ? keep - 1 : 0);
    return step_done(tx, st, "CRL pruning", e);
}

/* ---- tokens ---------------------------------------------------------- */

static int token_insert(struct store_tx *tx, const char *tenant, const struct token_rec *r,
                        struct err *e)
{
    STMT(Q_TOKEN_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->name);
    bind_text(st, 4, r->hash);
    bind_text(st, 5, r->role);
    sqlite3_bind_int64(st, 6, r->expires);
    sqlite3_bind_int64(st, 7, r->created);
    bind_text(st, 8, r->principal);
    bind_text(st, 9, r->secret);
    sqlite3_bind_int64(st, 10, r->revoked);
    return step_done(tx, st, "token", e);
}

static int token_find(struct store_tx *tx, const char *hash, struct token_rec **out, struct err *e)
{
    STMT(Q_TOKEN_FIND);
    bind_text(st, 1, hash);
    return read_one(tx, st, &token_reader, (void **)out, "token", e);
}

static int token_list(struct store_tx *tx, const char *tenant, struct token_rec ***out, size_t *n,
                      struct err *e)
{
    STMT(Q_TOKEN_LIST);
    bind_text(st, 1, tenant);
    return read_all(tx, st, &token_reader, (void ***)out, n, "tokens", e);
}

static int token_delete(struct store_tx *tx, const char *tenant, const char *id, struct err *e)
{
    STMT(Q_TOKEN_DELETE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    return step_one_change(tx, st, "token", e);
}

static int token_revoke(struct store_tx *tx, const char *tenant, const char *id, int64_t when,
                        struct err *e)
{
    STMT(Q_TOKEN_REVOKE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    sqlite3_bind_int64(st, 3, when);
    return step_one_change(tx, st, "token", e);
}

/* ---- principals and role bindings -------------------------------------- */

static int principal_insert(struct store_tx *tx, const char *tenant, const struct principal_rec *r,
                            struct err *e)
{
    STMT(Q_PRINCIPAL_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->name);
    bind_text(st, 4, r->kind);
    bind_text(st, 5, r->allow);
    sqlite3_bind_int(st, 6, r->disabled);
    sqlite3_bind_int64(st, 7, r->created);
    bind_text(st, 8, r->cert_issuer);
    bind_text(st, 9, r->cert_subject);
    bind_text(st, 10, r->cert_sha256);
    return step_done(tx, st, "principal", e);
}

static int client_ca_insert(struct store_tx *tx, const char *tenant, const struct client_ca_rec *r,
                            struct err *e)
{
    STMT(Q_CLIENT_CA_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->name);
    bind_text(st, 3, r->ca);
    bind_blob(st, 4, r->cert, r->cert_len);
    sqlite3_bind_int64(st, 5, r->created);
    return step_done(tx, st, "client CA", e);
}

static int client_ca_list(struct store_tx *tx, const char *tenant, struct client_ca_rec ***out,
                          size_t *n, struct err *e)
{
    STMT(Q_CLIENT_CA_LIST);
    bind_text(st, 1, tenant);
    return read_all(tx, st, &client_ca_reader, (void ***)out, n, "client CAs", e);
}

static int client_ca_delete(struct store_tx *tx, const char *tenant, const char *name,
                            struct err *e)
{
    STMT(Q_CLIENT_CA_DELETE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    return step_one_change(tx, st, "client CA", e);
}

static int principal_get(struct store_tx *tx, const char *tenant, const char *id,
                         struct principal_rec **out, struct err *e)
{
    STMT(Q_PRINCIPAL_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    return read_one(tx, st, &principal_reader, (void **)out, "principal", e);
}

static int principal_list(struct store_tx *tx, const char *tenant, struct principal_rec ***out,
                          size_t *n, struct err *e)
{
    STMT(Q_PRINCIPAL_LIST);
    bind_text(st, 1, tenant);
    return read_all(tx, st, &principal_reader, (void ***)out, n, "principals", e);
}

static int principal_by_cert(struct store_tx *tx, const char *tenant, const char *sha256,
                             const char *issuer, const char *subject, struct principal_rec **out,
                             struct err *e)
{
    STMT(Q_PRINCIPAL_BY_CERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, sha256);
    bind_text(st, 3, issuer);
    bind_text(st, 4, subject);
    return read_one(tx, st, &principal_reader, (void **)out, "principal", e);
}

static int principal_set_disabled(struct store_tx *tx, const char *tenant, const char *id,
                                  int disabled, struct err *e)
{
    STMT(Q_PRINCIPAL_DISABLE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    sqlite3_bind_int(st, 3, disabled);
    return step_one_change(tx, st, "principal", e);
}

static int binding_insert(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                          struct err *e)
{
    STMT(Q_BINDING_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->principal_tenant);
    bind_text(st, 3, r->principal);
    bind_text(st, 4, r->role);
    sqlite3_bind_int64(st, 5, r->created);
    return step_done(tx, st, "role binding", e);
}

static int binding_delete(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                          struct err *e)
{
    STMT(Q_BINDING_DELETE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->principal_tenant);
    bind_text(st, 3, r->principal);
    bind_text(st, 4, r->role);
    return step_one_change(tx, st, "role binding", e);
}

static int binding_list(struct store_tx *tx, const char *tenant, const char *principal_tenant,
                        const char *principal, struct binding_rec ***out, size_t *n, struct err *e)
{
    STMT(principal != NULL ? Q_BINDING_LIST_OF : Q_BINDING_LIST);
    bind_text(st, 1, tenant);
    if (principal != NULL) {
        bind_text(st, 2, principal_tenant);
        bind_text(st, 3, principal);
    }
    return read_all(tx, st, &binding_reader, (void ***)out, n, "role bindings", e);
}

/* ---- audit ------------------------------------------------------------ */

static int audit_last(struct store_tx *tx, const char *tenant, struct audit_rec **out,
                      struct err *e)
{
    STMT(Q_AUDIT_LAST);
    bind_text(st, 1, tenant);
    return read_one(tx, st, &audit_reader, (void **)out, "audit", e);
}

static int audit_insert(struct store_tx *tx, const char *tenant, const struct audit_rec *r,
                        struct err *e)
{
    STMT(Q_AUDIT_INSERT);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, r->seq);
    sqlite3_bind_int64(st, 3, r->time);
    bind_text(st, 4, r->actor);
    bind_text(st, 5, r->action);
    bind_text(st, 6, r->object ? r->object : "");
    bind_text(st, 7, r->result);
    bind_text(st, 8, r->detail ? r->detail : "{}");
    bind_text(st, 9, r->prev_hash);
    bind_text(st, 10, r->hash);
    return step_done(tx, st, "audit event", e);
}

static int audit_list(struct store_tx *tx, const char *tenant, int64_t after_seq, int limit,
                      struct audit_rec ***out, size_t *n, struct err *e)
{
    STMT(Q_AUDIT_LIST);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, after_seq);
    sqlite3_bind_int(st, 3, limit > 0 ? limit : 1000);
    return read_all(tx, st, &audit_reader, (void ***)out, n, "audit", e);
}

static int audit_key_get(struct store_tx *tx, const char *tenant, struct audit_key_rec **out,
                         struct err *e)
{
    STMT(Q_AUDIT_KEY_GET);
    bind_text(st, 1, tenant);
    return read_one(tx, st, &audit_key_reader, (void **)out, "audit key", e);
}

static int audit_key_insert(struct store_tx *tx, const char *tenant, const struct audit_key_rec *r,
                            struct err *e)
{
    STMT(Q_AUDIT_KEY_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->key_id);
    bind_text(st, 3, r->key_type);
    bind_text(st, 4, r->public_pem);
    sqlite3_bind_int64(st, 5, r->created);
    return step_done(tx, st, "audit key", e);
}

static int audit_checkpoint_insert(struct store_tx *tx, const char *tenant,
                                   const struct audit_checkpoint_rec *r, struct err *e)
{
    STMT(Q_AUDIT_CHECKPOINT_INSERT);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, r->seq);
    sqlite3_bind_int64(st, 3, r->time);
    bind_text(st, 4, r->head_hash);
    bind_text(st, 5, r->key_id);
    bind_blob(st, 6, r->der, r->der_len);
    bind_blob(st, 7, r->sig, r->sig_len);
    return step_done(tx, st, "audit checkpoint", e);
}

static int audit_checkpoint_last(struct store_tx *tx, const char *tenant,
                                 struct audit_checkpoint_rec **out, struct err *e)
{
    STMT(Q_AUDIT_CHECKPOINT_LAST);
    bind_text(st, 1, tenant);
    return read_one(tx, st, &checkpoint_reader, (void **)out, "audit checkpoint", e);
}

static int audit_checkpoint_list(struct store_tx *tx, const char *tenant, int64_t after_seq,
                                 int limit, struct audit_checkpoint_rec ***out, size_t *n,
                                 struct err *e)
{
    STMT(Q_AUDIT_CHECKPOINT_LIST);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, after_seq);
    sqlite3_bind_int(st, 3, limit > 0 ? limit : 1000);
    return read_all(tx, st, &checkpoint_reader, (void ***)out, n, "audit checkpoints", e);
}

static int audit_forward_get(struct store_tx *tx, const char *tenant, const char *target,
                             int64_t *last_seq, struct err *e)
{
    int rc;
    STMT(Q_AUDIT_FORWARD_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, target);
    rc = sqlite3_step(st);
    *last_seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(TX(tx), rc, "audit forwarding", e);
    return 0;
}

static int audit_forward_set(struct store_tx *tx, const char *tenant, const char *target,
                             int64_t last_seq, struct err *e)
{
    STMT(Q_AUDIT_FORWARD_SET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, target);
    sqlite3_bind_int64(st, 3, last_seq);
    return step_done(tx, st, "audit forwarding", e);
}

static int audit_target_put(struct store_tx *tx, const char *tenant,
                            const struct audit_target_rec *r, struct err *e)
{
    STMT(Q_AUDIT_TARGET_PUT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->host);
    sqlite3_bind_int(st, 3, r->port);
    bind_text(st, 4, r->transport);
    bind_text(st, 5, r->ca_pem);
    sqlite3_bind_int64(st, 6, r->created);
    return step_done(tx, st, "audit forwarding target", e);
}

static int audit_target_get(struct store_tx *tx, const char *tenant, struct audit_target_rec **out,
                            struct err *e)
{
    STMT(Q_AUDIT_TARGET_GET);
    bind_text(st, 1, tenant);
    return read_one(tx, st, &target_reader, (void **)out, "audit forwarding target", e);
}

static int audit_target_delete(struct store_tx *tx, const char *tenant, struct err *e)
{
    STMT(Q_AUDIT_TARGET_DELETE);
    bind_text(st, 1, tenant);
    return step_one_change(tx, st, "audit forwarding target", e);
}

static int audit_target_list(struct store_tx *tx, struct audit_target_rec ***out, size_t *n,
                             struct err *e)
{
    STMT(Q_AUDIT_TARGET_LIST);
    return read_all(tx, st, &target_reader, (void ***)out, n, "audit forwarding targets", e);
}

/* ---- time-stamping --------------------------------------------------------- */

static int tsa_unit_insert(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                           struct err *e)
{
    STMT(Q_TSA_UNIT_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->name);
    bind_text(st, 3, r->ca);
    bind_text(st, 4, r->key_id);
    bind_text(st, 5, r->key_type);
    bind_text(st, 6, r->status);
    bind_text(st, 7, r->cert_serial);
    bind_blob(st, 8, r->cert_der, r->cert_len);
    bind_blob(st, 9, r->chain_der, r->chain_len);
    bind_text(st, 10, r->policy);
    bind_text(st, 11, r->policies_json);
    bind_text(st, 12, r->hashes_json);
    sqlite3_bind_int64(st, 13, r->accuracy_ms);
    sqlite3_bind_int(st, 14, r->include_chain);
    sqlite3_bind_int64(st, 15, r->created);
    return step_done(tx, st, "TSA unit", e);
}

static int tsa_unit_update(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                           struct err *e)
{
    STMT(Q_TSA_UNIT_UPDATE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->name);
    bind_text(st, 3, r->status);
    bind_text(st, 4, r->policy);
    bind_text(st, 5, r->policies_json);
    bind_text(st, 6, r->hashes_json);
    sqlite3_bind_int64(st, 7, r->accuracy_ms);
    sqlite3_bind_int(st, 8, r->include_chain);
    return step_one_change(tx, st, "TSA unit", e);
}

static int tsa_unit_get(struct store_tx *tx, const char *tenant, const char *name,
                        struct tsa_unit_rec **out, struct err *e)
{
    STMT(Q_TSA_UNIT_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    return read_one(tx, st, &tsa_unit_reader, (void **)out, "TSA unit", e);
}

static int tsa_unit_list(struct store_tx *tx, const char *tenant, struct tsa_unit_rec ***out,
                         size_t *n, struct err *e)
{
    STMT(Q_TSA_UNIT_LIST);
    bind_text(st, 1, tenant);
    return read_all(tx, st, &tsa_unit_reader, (void ***)out, n, "TSA units", e);
}

static int tsa_token_insert(struct store_tx *tx, const char *tenant, const struct tsa_token_rec *r,
                            struct err *e)
{
    STMT(Q_TSA_TOKEN_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->unit);
    bind_text(st, 3, r->serial);
    bind_text(st, 4, r->gen_time);
    sqlite3_bind_int64(st, 5, r->time);
    bind_text(st, 6, r->policy);
    bind_text(st, 7, r->hash_alg);
    bind_text(st, 8, r->imprint);
    bind_text(st, 9, r->nonce);
    bind_text(st, 10, r->requester);
    bind_blob(st, 11, r->der, r->der_len);
    return step_done(tx, st, "time-stamp token", e);
}

static int tsa_token_get(struct store_tx *tx, const char *tenant, const char *unit,
                         const char *serial, struct tsa_token_rec **out, struct err *e)
{
    STMT(Q_TSA_TOKEN_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, unit);
    bind_text(st, 3, serial);
    return read_one(tx, st, &tsa_token_reader, (void **)out, "time-stamp token", e);
}

static int tsa_token_search(struct store_tx *tx, const char *tenant, const char *unit,
                            const struct tsa_token_query *q, struct tsa_token_rec ***out, size_t *n,
                            struct err *e)
{
    static const char *const filters[TSA_TOKEN_FILTERS] = {
        "imprint = :imprint",
        "time >= :after",
        "time < :before",
    };
    unsigned mask =
        (q->imprint != NULL ? 1u : 0) | (q->after != 0 ? 2u : 0) | (q->before != 0 ? 4u : 0);
    sqlite3_stmt *st;

    st = search_stmt(TX(tx), &TX(tx)->conn->tsa_token_search[mask],
                     "SELECT " TSA_TOKEN_COLS " FROM tsa_tokens WHERE tenant = :tenant AND "
                     "unit = :unit",
                     filters, mask, " ORDER BY time DESC, serial LIMIT :limit OFFSET :offset", e);
    if (st == NULL)
        return -1;
    bind_named(st, ":tenant", tenant);
    bind_named(st, ":unit", unit);
    bind_named(st, ":imprint", q->imprint);
    if (q->after != 0)
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":after"), q->after);
    if (q->before != 0)
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":before"), q->before);
    bind_page(st, q->limit, q->offset);
    return read_all(tx, st, &tsa_token_reader, (void ***)out, n, "time-stamp tokens", e);
}

/* ---- leases ---------------------------------------------------------------- */

static int lease_take(struct store_tx *tx, const char *tenant, const char *job, const char *holder,
                      int64_t now, int64_t until, struct err *e)
{
    STMT(Q_LEASE_TAKE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, job);
    bind_text(st, 3, holder);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, until);
    if (step_done(tx, st, "lease", e) != 0)
        return -1;
    return sqlite3_changes(TX(tx)->conn->db) == 1 ? 0 : 1;
}

static int lease_count(struct store_tx *tx, const char *tenant, const char *prefix, int64_t now,
                       int64_t *n, struct err *e)
{
    sqlite3_stmt *st = sqlite_stmt(TX(tx), Q_LEASE_PRUNE, e);

    if (st == NULL)
        return -1;
    bind_text(st, 1, tenant);
    bind_text(st, 2, prefix);
    sqlite3_bind_int64(st, 3, now - 3600);
    if (step_done(tx, st, "lease", e) != 0)
        return -1;
    if ((st = sqlite_stmt(TX(tx), Q_LEASE_COUNT, e)) == NULL)
        return -1;
    bind_text(st, 1, tenant);
    bind_text(st, 2, prefix);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite3_step(st) != SQLITE_ROW)
        return sqlite_fail(TX(tx), sqlite3_errcode(sqlite3_db_handle(st)), "leases", e);
    *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* ---- registration authority ---------------------------------------------- */

static int workflow_put(struct store_tx *tx, const char *tenant, const struct workflow_rec *r,
                        struct err *e)
{
    STMT(Q_WORKFLOW_PUT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->name);
    sqlite3_bind_int(st, 3, r->required);
    bind_text(st, 4, r->approvers);
    sqlite3_bind_int(st, 5, r->expires_hours);
    sqlite3_bind_int64(st, 6, r->created);
    return step_done(tx, st, "workflow", e);
}

static int workflow_get(struct store_tx *tx, const char *tenant, const char *name,
                        struct workflow_rec **out, struct err *e)
{
    STMT(Q_WORKFLOW_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    return read_one(tx, st, &workflow_reader, (void **)out, "workflow", e);
}

static int workflow_list(struct store_tx *tx, const char *tenant, struct workflow_rec ***out,
                         size_t *n, struct err *e)
{
    STMT(Q_WORKFLOW_LIST);
    bind_text(st, 1, tenant);
    return read_all(tx, st, &workflow_reader, (void ***)out, n, "workflows", e);
}

static int workflow_delete(struct store_tx *tx, const char *tenant, const char *name, struct err *e)
{
    STMT(Q_WORKFLOW_DELETE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, name);
    return step_one_change(tx, st, "workflow", e);
}

static int request_insert(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                          struct err *e)
{
    STMT(Q_REQUEST_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->kind);
    bind_text(st, 4, r->object);
    bind_text(st, 5, r->params);
    bind_text(st, 6, r->requester);
    bind_text(st, 7, r->status);
    sqlite3_bind_int(st, 8, r->required);
    bind_text(st, 9, r->approvers);
    bind_text(st, 10, r->approvals);
    bind_text(st, 11, r->result);
    bind_text(st, 12, r->reason);
    sqlite3_bind_int64(st, 13, r->created);
    sqlite3_bind_int64(st, 14, r->expires);
    sqlite3_bind_int64(st, 15, r->decided);
    return step_done(tx, st, "request", e);
}

static int request_get(struct store_tx *tx, const char *tenant, const char *id,
                       struct request_rec **out, struct err *e)
{
    STMT(Q_REQUEST_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    return read_one(tx, st, &request_reader, (void **)out, "request", e);
}

static int request_update(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                          struct err *e)
{
    STMT(Q_REQUEST_UPDATE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->status);
    bind_text(st, 4, r->approvals);
    bind_text(st, 5, r->result);
    bind_text(st, 6, r->reason);
    sqlite3_bind_int64(st, 7, r->decided);
    return step_one_change(tx, st, "request", e);
}

static int request_list(struct store_tx *tx, const char *tenant, const char *status,
                        const char *requester, int limit, int offset, struct request_rec ***out,
                        size_t *n, struct err *e)
{
    STMT(Q_REQUEST_LIST);
    bind_text(st, 1, tenant);
    bind_text(st, 2, status);
    bind_text(st, 3, requester);
    sqlite3_bind_int(st, 4, limit_of(limit));
    sqlite3_bind_int(st, 5, offset > 0 ? offset : 0);
    return read_all(tx, st, &request_reader, (void ***)out, n, "requests", e);
}

static int request_expire(struct store_tx *tx, const char *tenant, int64_t now, int64_t *n,
                          struct err *e)
{
    STMT(Q_REQUEST_EXPIRE);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, now);
    if (step_done(tx, st, "requests", e) != 0)
        return -1;
    *n = sqlite3_changes(sqlite3_db_handle(st));
    return 0;
}

static int webhook_put(struct store_tx *tx, const char *tenant, const struct webhook_rec *r,
                       struct err *e)
{
    STMT(Q_WEBHOOK_PUT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->url);
    bind_text(st, 3, r->secret ? r->secret : "");
    sqlite3_bind_int64(st, 4, r->created);
    bind_text(st, 5, r->key_id);
    bind_text(st, 6, r->nonce);
    return step_done(tx, st, "webhook", e);
}

static int webhook_get(struct store_tx *tx, const char *tenant, struct webhook_rec **out,
                       struct err *e)
{
    STMT(Q_WEBHOOK_GET);
    bind_text(st, 1, tenant);
    return read_one(tx, st, &webhook_reader, (void **)out, "webhook", e);
}

static int webhook_delete(struct store_tx *tx, const char *tenant, struct err *e)
{
    STMT(Q_WEBHOOK_DELETE);
    bind_text(st, 1, tenant);
    return step_one_change(tx, st, "webhook", e);
}

static int webhook_event_insert(struct store_tx *tx, const char *tenant,
                                const struct webhook_event_rec *r, struct err *e)
{
    STMT(Q_WEBHOOK_EVENT_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->event);
    bind_text(st, 4, r->body);
    sqlite3_bind_int(st, 5, r->attempts);
    sqlite3_bind_int64(st, 6, r->next_attempt);
    bind_text(st, 7, r->status);
    sqlite3_bind_int64(st, 8, r->created);
    return step_done(tx, st, "webhook event", e);
}

static int webhook_event_due(struct store_tx *tx, const char *tenant, int64_t now, int limit,
                             struct webhook_event_rec ***out, size_t *n, struct err *e)
{
    STMT(Q_WEBHOOK_EVENT_DUE);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int(st, 3, limit_of(limit));
    return read_all(tx, st, &webhook_event_reader, (void ***)out, n, "webhook events", e);
}

static int webhook_event_delete(struct store_tx *tx, const char *tenant, const char *id,
                                struct err *e)
{
    STMT(Q_WEBHOOK_EVENT_DELETE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, id);
    return step_one_change(tx, st, "webhook event", e);
}

static int webhook_event_update(struct store_tx *tx, const char *tenant,
                                const struct webhook_event_rec *r, struct err *e)
{
    STMT(Q_WEBHOOK_EVENT_UPDATE);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->id);
    sqlite3_bind_int(st, 3, r->attempts);
    sqlite3_bind_int64(st, 4, r->next_attempt);
    bind_text(st, 5, r->status);
    return step_one_change(tx, st, "webhook event", e);
}

/* ---- offline imports ------------------------------------------------------- */

static int idempotency_get(struct store_tx *tx, const char *tenant, const char *key,
                           struct idempotency_rec **out, struct err *e)
{
    STMT(Q_IDEMPOTENCY_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, key);
    return read_one(tx, st, &idempotency_reader, (void **)out, "idempotency key", e);
}

static int idempotency_put(struct store_tx *tx, const char *tenant, const struct idempotency_rec *r,
                           int64_t expired, struct err *e)
{
    STMT(Q_IDEMPOTENCY_PUT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->key);
    bind_text(st, 3, r->principal);
    bind_text(st, 4, r->request_hash);
    bind_text(st, 5, r->object);
    sqlite3_bind_int64(st, 6, r->created);
    sqlite3_bind_int64(st, 7, expired);
    bind_text(st, 8, r->outcome);
    if (step_done(tx, st, "idempotency key", e) != 0)
        return -1;
    if (sqlite3_changes(TX(tx)->conn->db) != 1)
        return err_set(e, ERR_CONFLICT, "idempotency key: already used");
    return 0;
}

static int idempotency_prune(struct store_tx *tx, const char *tenant, int64_t before, struct err *e)
{
    STMT(Q_IDEMPOTENCY_PRUNE);
    bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, before);
    return step_done(tx, st, "idempotency keys", e);
}

static int offline_import_get(struct store_tx *tx, const char *tenant, const char *source,
                              int64_t seq, struct offline_import_rec **out, struct err *e)
{
    STMT(Q_OFFLINE_GET);
    bind_text(st, 1, tenant);
    bind_text(st, 2, source);
    sqlite3_bind_int64(st, 3, seq);
    return read_one(tx, st, &offline_reader, (void **)out, "offline import", e);
}

static int offline_import_insert(struct store_tx *tx, const char *tenant,
                                 const struct offline_import_rec *r, struct err *e)
{
    STMT(Q_OFFLINE_INSERT);
    bind_text(st, 1, tenant);
    bind_text(st, 2, r->source);
    sqlite3_bind_int64(st, 3, r->seq);
    bind_text(st, 4, r->digest);
    bind_text(st, 5, r->signer);
    sqlite3_bind_int64(st, 6, r->audit_seq);
    bind_text(st, 7, r->audit_head);
    sqlite3_bind_int64(st, 8, r->imported);
    return step_done(tx, st, "offline import", e);
}

const struct store_ops store_sqlite_ops = {
    .scheme = "sqlite:",
    .open = sqlite_open,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .set_max_connections = sqlite_set_max_connections,
    .schema_version = sqlite_schema_version,
    .begin = sqlite_begin,
    .begin_read = sqlite_begin_read,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .savepoint = sqlite_savepoint,
    .savepoint_release = sqlite_savepoint_release,
    .savepoint_rollback = sqlite_savepoint_rollback,
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
