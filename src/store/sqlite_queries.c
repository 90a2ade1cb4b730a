/*
 * sqlite_queries.c — the SQLite dialect: the text of every query of
 * store_driver.h and the fragments of the searches.  Every query on tenant
 * data has "tenant = ?1"; only the tenant listing, the token lookup by hash
 * and the forwarding targets' list do not.  Writes are plain INSERTs (a
 * clash is a constraint error, ERR_CONFLICT) or INSERT OR REPLACE; there are
 * no row locks to take: a write transaction holds the database's one write
 * lock from its BEGIN IMMEDIATE on.
 */
#include "store/sqlite_internal.h"

static const char *const queries[Q_COUNT] = {
    /* tenants */
    [Q_TENANT_INSERT] = "INSERT INTO tenants (name, status, created) VALUES (?1, 'active', ?2)",
    [Q_TENANT_GET] = "SELECT {tenant} FROM tenants WHERE name = ?1",
    [Q_TENANT_LIST] = "SELECT {tenant} FROM tenants ORDER BY name",
    [Q_TENANT_UPDATE] = "UPDATE tenants SET status = ?2, status_reason = ?3, deleted_at = ?4,"
                        " purge_after = ?5, certs_per_hour = ?6, requests_per_second = ?7"
                        " WHERE name = ?1",
    /* Every table with a tenant column: what a tenant's purge empties. */
    [Q_TENANT_TABLES] = "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c"
                        " WHERE m.type = 'table' AND c.name = 'tenant' ORDER BY m.name",

    /* CAs and profiles */
    [Q_CA_INSERT] = "INSERT INTO cas ({ca}) VALUES ({?ca})",
    [Q_CA_UPDATE] = "UPDATE cas SET status = ?3, subject = ?4, cert = ?5, chain = ?6, "
                    "options = ?7, not_before = ?8, not_after = ?9 "
                    "WHERE tenant = ?1 AND name = ?2",
    [Q_CA_GET] = "SELECT {ca} FROM cas WHERE tenant = ?1 AND name = ?2",
    [Q_CA_LIST] = "SELECT {ca} FROM cas WHERE tenant = ?1 ORDER BY created, name",
    [Q_PROFILE_MAXVER] =
        "SELECT COALESCE(MAX(version), 0) FROM profiles WHERE tenant = ?1 AND name = ?2",
    [Q_PROFILE_INSERT] = "INSERT INTO profiles ({profile}) VALUES ({?profile})",
    [Q_PROFILE_GET_LATEST] = "SELECT {profile} FROM profiles "
                             "WHERE tenant = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
    [Q_PROFILE_GET_VERSION] = "SELECT {profile} FROM profiles "
                              "WHERE tenant = ?1 AND name = ?2 AND version = ?3",
    [Q_PROFILE_LIST] = "SELECT {profile} FROM profiles p "
                       "WHERE p.tenant = ?1 AND p.version = (SELECT MAX(q.version) FROM profiles q "
                       "WHERE q.tenant = p.tenant AND q.name = p.name) ORDER BY p.name",

    /* end entities */
    [Q_ENTITY_INSERT] = "INSERT INTO entities ({entity}) VALUES ({?entity})",
    [Q_ENTITY_UPDATE] = "UPDATE entities SET name = ?3, kind = ?4, email = ?5, "
                        "manufacturer = ?6, model = ?7, serial_number = ?8, metadata = ?9 "
                        "WHERE tenant = ?1 AND id = ?2",
    [Q_ENTITY_GET] = "SELECT {entity} FROM entities WHERE tenant = ?1 AND id = ?2",

    /* certificates */
    [Q_CERT_INSERT] = "INSERT INTO certs ({cert}) VALUES ({?cert})",
    [Q_CERT_GET] = "SELECT {cert} FROM certs WHERE tenant = ?1 AND serial = ?2",
    [Q_CERT_COUNT_SINCE] =
        "SELECT count(*) FROM certs WHERE tenant = ?1 AND counted = 1 AND created >= ?2",
    [Q_CERT_SET_STATUS] =
        "UPDATE certs SET status = ?3, revoked_at = ?4, reason = ?5, "
        "invalidity_date = ?6, status_changed = ?7 WHERE tenant = ?1 AND serial = ?2",
    [Q_CERT_REVOKED] = "SELECT {cert} FROM certs WHERE tenant = ?1 AND ca = ?2 "
                       "AND status IN ('revoked', 'hold') AND not_after >= ?3 ORDER BY serial",
    /* CRL entries: the few columns a CRL needs, never the certificates themselves. */
    [Q_CERT_CRL_FULL] = "SELECT " CRL_ENTRY_COLUMNS " FROM certs INDEXED BY certs_crl "
                        "WHERE tenant = ?1 AND ca = ?2 AND status IN ('revoked', 'hold') "
                        "AND not_after >= ?3",
    [Q_CERT_CRL_FULL_SHARD] = "SELECT " CRL_ENTRY_COLUMNS " FROM certs INDEXED BY certs_crl "
                              "WHERE tenant = ?1 AND ca = ?2 AND crl_shard = ?4 "
                              "AND status IN ('revoked', 'hold') AND not_after >= ?3",
    [Q_CERT_CRL_DELTA] = "SELECT " CRL_ENTRY_COLUMNS " FROM certs INDEXED BY certs_changed "
                         "WHERE tenant = ?1 AND ca = ?2 AND status_changed > 0 "
                         "AND status_changed >= ?4 AND not_after >= ?3",
    [Q_CERT_CRL_DELTA_SHARD] = "SELECT " CRL_ENTRY_COLUMNS " FROM certs INDEXED BY certs_changed "
                               "WHERE tenant = ?1 AND ca = ?2 AND status_changed > 0 "
                               "AND status_changed >= ?5 AND crl_shard = ?4 "
                               "AND not_after >= ?3",

    /* CRLs */
    /* The next number follows both the counter and the highest stored CRL, so a lost
       counter row cannot send numbers backwards. */
    [Q_CRLNUM_BUMP] =
        "INSERT INTO crl_numbers (tenant, ca, last) VALUES (?1, ?2, 1 + "
        "(SELECT COALESCE(MAX(number), 0) FROM crls WHERE tenant = ?1 AND ca = ?2)) "
        "ON CONFLICT (tenant, ca) DO UPDATE SET last = MAX(last, excluded.last - 1) + 1",
    [Q_CRLNUM_GET] = "SELECT last FROM crl_numbers WHERE tenant = ?1 AND ca = ?2",
    [Q_CRL_INSERT] = "INSERT INTO crls ({crl}) VALUES ({?crl})",
    [Q_CRL_LATEST] = "SELECT {crl} FROM crls WHERE tenant = ?1 AND ca = ?2 "
                     "AND shard = 0 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_LATEST_FULL] = "SELECT {crl} FROM crls WHERE tenant = ?1 AND ca = ?2 "
                          "AND shard = ?3 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_LATEST_DELTA] = "SELECT {crl} FROM crls WHERE tenant = ?1 AND ca = ?2 "
                           "AND shard = ?3 AND delta_base > 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_PRUNE] = "DELETE FROM crls WHERE tenant = ?1 AND ca = ?2 AND shard = ?3 "
                    "AND (delta_base > 0) = ?4 AND number < (SELECT number FROM crls "
                    "WHERE tenant = ?1 AND ca = ?2 AND shard = ?3 AND (delta_base > 0) = ?4 "
                    "ORDER BY number DESC LIMIT 1 OFFSET ?5)",

    /* OCSP */
    [Q_OCSP_RESPONDER_GET] = "SELECT {responder} FROM ocsp_responders "
                             "WHERE tenant = ?1 AND ca = ?2",
    [Q_OCSP_RESPONDER_PUT] = "INSERT OR REPLACE INTO ocsp_responders ({responder}) "
                             "VALUES ({?responder})",
    [Q_OCSP_GET] = "SELECT {ocsp} FROM ocsp_responses WHERE tenant = ?1 AND serial = ?2",
    /* Only if the certificate still has the status the response was made from. */
    [Q_OCSP_PUT] = "UPDATE ocsp_responses SET refresh_at = ?3, this_update = ?4, "
                   "next_update = ?5, der = ?6 WHERE tenant = ?1 AND serial = ?2 AND EXISTS "
                   "(SELECT 1 FROM certs WHERE tenant = ?1 AND serial = ?2 AND status = ?7 "
                   "AND revoked_at = ?8 AND reason = ?9 AND invalidity_date = ?10)",
    /* The columns of {cert}, without der. */
    [Q_OCSP_DUE] =
        "SELECT c.tenant, c.serial, c.ca, c.profile, c.profile_version, c.entity_id, "
        "c.subject, c.sans, c.status, c.not_before, c.not_after, c.revoked_at, "
        "c.reason, c.invalidity_date, c.renewed_from, NULL, c.created, c.status_changed, "
        "c.crl_shard, c.counted, c.requester "
        "FROM ocsp_responses o JOIN certs c ON c.tenant = o.tenant "
        "AND c.serial = o.serial WHERE o.tenant = ?1 AND o.ca = ?2 "
        "AND o.refresh_at <= ?3 ORDER BY o.refresh_at LIMIT ?4",

    /* tokens, principals, client CAs, role bindings */
    [Q_TOKEN_INSERT] = "INSERT INTO tokens ({token}) VALUES ({?token})",
    [Q_TOKEN_FIND] = "SELECT {token} FROM tokens WHERE hash = ?1",
    [Q_TOKEN_LIST] = "SELECT {token} FROM tokens WHERE tenant = ?1 ORDER BY created, id",
    [Q_TOKEN_DELETE] = "DELETE FROM tokens WHERE tenant = ?1 AND id = ?2",
    [Q_TOKEN_REVOKE] =
        "UPDATE tokens SET revoked = ?3 WHERE tenant = ?1 AND id = ?2 AND revoked = 0",
    [Q_PRINCIPAL_INSERT] = "INSERT INTO principals ({principal}) VALUES ({?principal})",
    [Q_PRINCIPAL_GET] = "SELECT {principal} FROM principals WHERE tenant = ?1 AND id = ?2",
    [Q_PRINCIPAL_LIST] =
        "SELECT {principal} FROM principals WHERE tenant = ?1 ORDER BY created, id",
    [Q_PRINCIPAL_BY_CERT] = "SELECT {principal} FROM principals WHERE tenant = ?1 AND "
                            "(cert_sha256 = ?2 OR (cert_issuer = ?3 AND cert_subject = ?4)) "
                            "ORDER BY COALESCE(cert_sha256 = ?2, 0) DESC, created, id LIMIT 1",
    [Q_PRINCIPAL_DISABLE] = "UPDATE principals SET disabled = ?3 WHERE tenant = ?1 AND id = ?2",
    [Q_CLIENT_CA_INSERT] = "INSERT INTO client_cas ({client_ca}) VALUES ({?client_ca})",
    [Q_CLIENT_CA_LIST] =
        "SELECT {client_ca} FROM client_cas WHERE tenant = ?1 ORDER BY created, name",
    [Q_CLIENT_CA_DELETE] = "DELETE FROM client_cas WHERE tenant = ?1 AND name = ?2",
    [Q_BINDING_INSERT] = "INSERT INTO role_bindings ({binding}) VALUES ({?binding})",
    [Q_BINDING_DELETE] = "DELETE FROM role_bindings WHERE tenant = ?1 AND principal_tenant = ?2 "
                         "AND principal = ?3 AND role = ?4",
    [Q_BINDING_LIST] = "SELECT {binding} FROM role_bindings WHERE tenant = ?1 "
                       "ORDER BY principal_tenant, principal, role",
    [Q_BINDING_LIST_OF] = "SELECT {binding} FROM role_bindings WHERE tenant = ?1 "
                          "AND principal_tenant = ?2 AND principal = ?3 ORDER BY role",

    /* audit */
    [Q_AUDIT_LAST] = "SELECT {audit} FROM audit WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit ({audit}) VALUES ({?audit})",
    [Q_AUDIT_LIST] = "SELECT {audit} FROM audit WHERE tenant = ?1 AND seq > ?2 "
                     "ORDER BY seq LIMIT ?3",
    [Q_AUDIT_KEY_GET] = "SELECT {audit_key} FROM audit_keys WHERE tenant = ?1",
    [Q_AUDIT_KEY_INSERT] = "INSERT INTO audit_keys ({audit_key}) VALUES ({?audit_key})",
    [Q_AUDIT_CHECKPOINT_INSERT] =
        "INSERT INTO audit_checkpoints ({checkpoint}) VALUES ({?checkpoint})",
    [Q_AUDIT_CHECKPOINT_LAST] = "SELECT {checkpoint} FROM audit_checkpoints "
                                "WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_CHECKPOINT_LIST] = "SELECT {checkpoint} FROM audit_checkpoints "
                                "WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_AUDIT_FORWARD_GET] =
        "SELECT last_seq FROM audit_forwarding WHERE tenant = ?1 AND target = ?2",
    [Q_AUDIT_FORWARD_SET] = "INSERT OR REPLACE INTO audit_forwarding (tenant, target, last_seq) "
                            "VALUES (?1, ?2, ?3)",
    [Q_AUDIT_TARGET_PUT] = "INSERT OR REPLACE INTO audit_targets ({target}) VALUES ({?target})",
    [Q_AUDIT_TARGET_GET] = "SELECT {target} FROM audit_targets WHERE tenant = ?1",
    [Q_AUDIT_TARGET_DELETE] = "DELETE FROM audit_targets WHERE tenant = ?1",
    [Q_AUDIT_TARGET_LIST] = "SELECT {target} FROM audit_targets ORDER BY tenant",

    /* time-stamping */
    [Q_TSA_UNIT_INSERT] = "INSERT INTO tsa_units ({tsa_unit}) VALUES ({?tsa_unit})",
    [Q_TSA_UNIT_GET] = "SELECT {tsa_unit} FROM tsa_units WHERE tenant = ?1 AND name = ?2",
    [Q_TSA_UNIT_UPDATE] = "UPDATE tsa_units SET status = ?3, policy = ?4, policies = ?5, "
                          "hashes = ?6, accuracy_ms = ?7, include_chain = ?8 "
                          "WHERE tenant = ?1 AND name = ?2",
    [Q_TSA_UNIT_LIST] = "SELECT {tsa_unit} FROM tsa_units WHERE tenant = ?1 ORDER BY created, name",
    [Q_TSA_TOKEN_INSERT] = "INSERT INTO tsa_tokens ({tsa_token}) VALUES ({?tsa_token})",
    [Q_TSA_TOKEN_GET] = "SELECT {tsa_token} FROM tsa_tokens "
                        "WHERE tenant = ?1 AND unit = ?2 AND serial = ?3",

    /* leases, idempotency keys, offline imports */
    [Q_LEASE_TAKE] = "INSERT INTO leases (tenant, job, holder, until) VALUES (?1, ?2, ?3, ?5) "
                     "ON CONFLICT (tenant, job) DO UPDATE SET holder = excluded.holder, "
                     "until = excluded.until WHERE leases.until <= ?4 "
                     "OR leases.holder = excluded.holder",
    [Q_LEASE_PRUNE] = "DELETE FROM leases WHERE tenant = ?1 AND substr(job, 1, length(?2)) = ?2 "
                      "AND until < ?3",
    [Q_LEASE_COUNT] = "SELECT count(*) FROM leases WHERE tenant = ?1 AND "
                      "substr(job, 1, length(?2)) = ?2 AND until > ?3",
    [Q_IDEMPOTENCY_GET] = "SELECT {idempotency} FROM idempotency WHERE tenant = ?1 AND "
                          "key = ?2",
    [Q_IDEMPOTENCY_PUT] = "INSERT INTO idempotency ({idempotency}) VALUES ({?idempotency}) "
                          "ON CONFLICT (tenant, key) DO UPDATE SET principal = "
                          "excluded.principal, request_hash = excluded.request_hash, object = "
                          "excluded.object, created = excluded.created, outcome = excluded.outcome "
                          "WHERE idempotency.created < ?8",
    [Q_IDEMPOTENCY_PRUNE] = "DELETE FROM idempotency WHERE tenant = ?1 AND created < ?2",
    [Q_OFFLINE_GET] = "SELECT {offline_import} FROM offline_imports WHERE tenant = ?1 AND "
                      "source = ?2 AND (?3 = 0 OR seq = ?3) ORDER BY seq DESC LIMIT 1",
    [Q_OFFLINE_INSERT] = "INSERT INTO offline_imports ({offline_import}) VALUES "
                         "({?offline_import})",

    /* registration authority */
    [Q_WORKFLOW_PUT] = "INSERT OR REPLACE INTO workflows ({workflow}) VALUES ({?workflow})",
    [Q_WORKFLOW_GET] = "SELECT {workflow} FROM workflows WHERE tenant = ?1 AND name = ?2",
    [Q_WORKFLOW_LIST] = "SELECT {workflow} FROM workflows WHERE tenant = ?1 ORDER BY name",
    [Q_WORKFLOW_DELETE] = "DELETE FROM workflows WHERE tenant = ?1 AND name = ?2",
    [Q_REQUEST_INSERT] = "INSERT INTO requests ({request}) VALUES ({?request})",
    [Q_REQUEST_GET] = "SELECT {request} FROM requests WHERE tenant = ?1 AND id = ?2",
    [Q_REQUEST_UPDATE] = "UPDATE requests SET status = ?3, approvals = ?4, result = ?5, "
                         "reason = ?6, decided = ?7 WHERE tenant = ?1 AND id = ?2",
    [Q_REQUEST_LIST] = "SELECT {request} FROM requests WHERE tenant = ?1"
                       " AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR requester = ?3)"
                       " ORDER BY created DESC, id LIMIT ?4 OFFSET ?5",
    [Q_REQUEST_EXPIRE] = "UPDATE requests SET status = 'expired', decided = ?2"
                         " WHERE tenant = ?1 AND status = 'pending' AND expires <= ?2",
    [Q_WEBHOOK_PUT] = "INSERT OR REPLACE INTO webhooks ({webhook}) VALUES ({?webhook})",
    [Q_WEBHOOK_GET] = "SELECT {webhook} FROM webhooks WHERE tenant = ?1",
    [Q_WEBHOOK_DELETE] = "DELETE FROM webhooks WHERE tenant = ?1",
    [Q_WEBHOOK_EVENT_INSERT] = "INSERT INTO webhook_events ({webhook_event}) VALUES "
                               "({?webhook_event})",
    [Q_WEBHOOK_EVENT_DUE] = "SELECT {webhook_event} FROM webhook_events WHERE tenant = ?1"
                            " AND status = 'pending' AND next_attempt <= ?2"
                            " ORDER BY created, id LIMIT ?3",
    [Q_WEBHOOK_EVENT_DELETE] = "DELETE FROM webhook_events WHERE tenant = ?1 AND id = ?2",
    [Q_WEBHOOK_EVENT_UPDATE] = "UPDATE webhook_events SET attempts = ?3, next_attempt = ?4,"
                               " status = ?5 WHERE tenant = ?1 AND id = ?2",
};

static const char *const cert_filters[CERT_FILTERS] = {
    "serial = ?",
    "instr(lower(subject), lower(?)) > 0",
    "instr(lower(sans), lower(?)) > 0",
    "status = ?",
    "ca = ?",
    "entity_id = ?",
    "profile = ?",
    "requester = ?",
    "not_after >= ?",
    "not_after < ?",
};

static const char *const entity_filters[ENTITY_FILTERS] = {
    "instr(lower(name), lower(?)) > 0",
    "kind = ?",
    "lower(email) = lower(?)",
};

static const char *const tsa_token_filters[TSA_TOKEN_FILTERS] = {
    "imprint = ?",
    "time >= ?",
    "time < ?",
};

static const struct db_search searches[SEARCH_COUNT] = {
    [SEARCH_CERT] = {"SELECT {cert} FROM certs WHERE tenant = ?", cert_filters, CERT_FILTERS,
                     " ORDER BY not_after, serial LIMIT ? OFFSET ?"},
    [SEARCH_ENTITY] = {"SELECT {entity} FROM entities WHERE tenant = ?", entity_filters,
                       ENTITY_FILTERS, " ORDER BY name, id LIMIT ? OFFSET ?"},
    [SEARCH_TSA_TOKEN] = {"SELECT {tsa_token} FROM tsa_tokens WHERE tenant = ? AND unit = ?",
                          tsa_token_filters, TSA_TOKEN_FILTERS,
                          " ORDER BY time DESC, serial LIMIT ? OFFSET ?"},
};

const struct db_dialect sqlite_dialect = {'?', queries, searches};
