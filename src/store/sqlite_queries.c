/*
 * sqlite_queries.c — the SQLite dialect: the queries SQLite writes its own way
 * (the others are store_queries.c's) and the fragments of the searches.
 * Inserts are plain (a clash is a constraint error, ERR_CONFLICT) or INSERT OR
 * REPLACE; there are no row locks to take, so no optional lock queries: a
 * write transaction holds the database's one write lock from its BEGIN
 * IMMEDIATE on.  CRL entries are read straight from their index.
 */
#include "store/sqlite_internal.h"

static const char *const queries[Q_COUNT] = {
    /* tenants */
    [Q_TENANT_INSERT] = "INSERT INTO tenants (name, status, created) VALUES (?1, 'active', ?2)",
    /* Every table with a tenant column: what a tenant's purge empties. */
    [Q_TENANT_TABLES] = "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c"
                        " WHERE m.type = 'table' AND c.name = 'tenant' ORDER BY m.name",

    /* CAs and profiles */
    [Q_CA_INSERT] = "INSERT INTO cas ({ca}) VALUES ({?ca})",
    [Q_PROFILE_INSERT] = "INSERT INTO profiles ({profile}) VALUES ({?profile})",

    /* end entities */
    [Q_ENTITY_INSERT] = "INSERT INTO entities ({entity}) VALUES ({?entity})",

    /* certificates */
    [Q_CERT_INSERT] = "INSERT INTO certs ({cert}) VALUES ({?cert})",
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
    [Q_CRL_PRUNE] = "DELETE FROM crls WHERE tenant = ?1 AND ca = ?2 AND shard = ?3 "
                    "AND (delta_base > 0) = ?4 AND number < (SELECT number FROM crls "
                    "WHERE tenant = ?1 AND ca = ?2 AND shard = ?3 AND (delta_base > 0) = ?4 "
                    "ORDER BY number DESC LIMIT 1 OFFSET ?5)",

    /* OCSP */
    [Q_OCSP_RESPONDER_PUT] = "INSERT OR REPLACE INTO ocsp_responders ({responder}) "
                             "VALUES ({?responder})",
    /* Only if the certificate still has the status the response was made from. */
    [Q_OCSP_PUT] = "UPDATE ocsp_responses SET refresh_at = ?3, this_update = ?4, "
                   "next_update = ?5, der = ?6 WHERE tenant = ?1 AND serial = ?2 AND EXISTS "
                   "(SELECT 1 FROM certs WHERE tenant = ?1 AND serial = ?2 AND status = ?7 "
                   "AND revoked_at = ?8 AND reason = ?9 AND invalidity_date = ?10)",

    /* tokens, principals, client CAs, role bindings */
    [Q_TOKEN_INSERT] = "INSERT INTO tokens ({token}) VALUES ({?token})",
    [Q_PRINCIPAL_INSERT] = "INSERT INTO principals ({principal}) VALUES ({?principal})",
    [Q_PRINCIPAL_BY_CERT] = "SELECT {principal} FROM principals WHERE tenant = ?1 AND "
                            "(cert_sha256 = ?2 OR (cert_issuer = ?3 AND cert_subject = ?4)) "
                            "ORDER BY COALESCE(cert_sha256 = ?2, 0) DESC, created, id LIMIT 1",
    [Q_CLIENT_CA_INSERT] = "INSERT INTO client_cas ({client_ca}) VALUES ({?client_ca})",
    [Q_BINDING_INSERT] = "INSERT INTO role_bindings ({binding}) VALUES ({?binding})",

    /* audit */
    [Q_AUDIT_INSERT] = "INSERT INTO audit ({audit}) VALUES ({?audit})",
    [Q_AUDIT_KEY_INSERT] = "INSERT INTO audit_keys ({audit_key}) VALUES ({?audit_key})",
    [Q_AUDIT_CHECKPOINT_INSERT] =
        "INSERT INTO audit_checkpoints ({checkpoint}) VALUES ({?checkpoint})",
    [Q_AUDIT_FORWARD_SET] = "INSERT OR REPLACE INTO audit_forwarding (tenant, target, last_seq) "
                            "VALUES (?1, ?2, ?3)",
    [Q_AUDIT_TARGET_PUT] = "INSERT OR REPLACE INTO audit_targets ({target}) VALUES ({?target})",

    /* time-stamping */
    [Q_TSA_UNIT_INSERT] = "INSERT INTO tsa_units ({tsa_unit}) VALUES ({?tsa_unit})",
    [Q_TSA_TOKEN_INSERT] = "INSERT INTO tsa_tokens ({tsa_token}) VALUES ({?tsa_token})",

    /* leases, idempotency keys, offline imports */
    [Q_LEASE_TAKE] = "INSERT INTO leases (tenant, job, holder, until) VALUES (?1, ?2, ?3, ?5) "
                     "ON CONFLICT (tenant, job) DO UPDATE SET holder = excluded.holder, "
                     "until = excluded.until WHERE leases.until <= ?4 "
                     "OR leases.holder = excluded.holder",
    [Q_LEASE_PRUNE] = "DELETE FROM leases WHERE tenant = ?1 AND substr(job, 1, length(?2)) = ?2 "
                      "AND until < ?3",
    [Q_LEASE_COUNT] = "SELECT count(*) FROM leases WHERE tenant = ?1 AND "
                      "substr(job, 1, length(?2)) = ?2 AND until > ?3",
    [Q_IDEMPOTENCY_PUT] = "INSERT INTO idempotency ({idempotency}) VALUES ({?idempotency}) "
                          "ON CONFLICT (tenant, key) DO UPDATE SET principal = "
                          "excluded.principal, request_hash = excluded.request_hash, object = "
                          "excluded.object, created = excluded.created, outcome = excluded.outcome "
                          "WHERE idempotency.created < ?8",
    [Q_OFFLINE_INSERT] = "INSERT INTO offline_imports ({offline_import}) VALUES "
                         "({?offline_import})",

    /* registration authority */
    [Q_WORKFLOW_PUT] = "INSERT OR REPLACE INTO workflows ({workflow}) VALUES ({?workflow})",
    [Q_REQUEST_INSERT] = "INSERT INTO requests ({request}) VALUES ({?request})",
    [Q_REQUEST_LIST] = "SELECT {request} FROM requests WHERE tenant = ?1"
                       " AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR requester = ?3)"
                       " ORDER BY created DESC, id LIMIT ?4 OFFSET ?5",
    [Q_WEBHOOK_PUT] = "INSERT OR REPLACE INTO webhooks ({webhook}) VALUES ({?webhook})",
    [Q_WEBHOOK_EVENT_INSERT] = "INSERT INTO webhook_events ({webhook_event}) VALUES "
                               "({?webhook_event})",

    /* ACME */
    [Q_ACME_ENDPOINT_INSERT] =
        "INSERT INTO acme_endpoints ({acme_endpoint}) VALUES ({?acme_endpoint})",
    [Q_ACME_EAB_INSERT] = "INSERT INTO acme_eabs ({acme_eab}) VALUES ({?acme_eab})",
    [Q_ACME_ACCOUNT_INSERT] = "INSERT INTO acme_accounts ({acme_account}) VALUES ({?acme_account})",
    [Q_ACME_ORDER_INSERT] = "INSERT INTO acme_orders ({acme_order}) VALUES ({?acme_order})",
    [Q_ACME_AUTHZ_INSERT] = "INSERT INTO acme_authzs ({acme_authz}) VALUES ({?acme_authz})",
    [Q_ACME_NONCE_USE] = "INSERT INTO acme_nonces (tenant, nonce, expires) VALUES (?1, ?2, ?3)",
    [Q_CMP_ENDPOINT_INSERT] = "INSERT INTO cmp_endpoints ({cmp_endpoint}) VALUES ({?cmp_endpoint})",
    [Q_CMP_SECRET_INSERT] = "INSERT INTO cmp_secrets ({cmp_secret}) VALUES ({?cmp_secret})",
    [Q_CMP_TX_INSERT] =
        "INSERT INTO cmp_transactions ({cmp_transaction}) VALUES ({?cmp_transaction})",
    [Q_CMP_NONCE_USE] = "INSERT INTO cmp_nonces (tenant, nonce, expires) VALUES (?1, ?2, ?3)",
    [Q_RENEWAL_WINDOW_PUT] =
        "INSERT OR REPLACE INTO renewal_windows ({renewal_window}) VALUES ({?renewal_window})",
    [Q_NOTICE_SETTINGS_PUT] =
        "INSERT OR REPLACE INTO notice_settings ({notice_settings}) VALUES ({?notice_settings})",
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

static const char *const *const filters[SEARCH_COUNT] = {
    [SEARCH_CERT] = cert_filters,
    [SEARCH_ENTITY] = entity_filters,
    [SEARCH_TSA_TOKEN] = tsa_token_filters,
    [SEARCH_CERT_TOTAL] = cert_filters,
};

const struct db_dialect sqlite_dialect = {'?', queries, filters};
