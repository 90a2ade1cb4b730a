/*
 * pg_queries.c — the PostgreSQL dialect: the queries PostgreSQL writes its own
 * way or alone has (the others are store_queries.c's, with $1 for ?1) and the
 * fragments of the searches.  Every query on tenant data names the tenant in
 * its WHERE clause, and runs with vouch.tenant set to it (row-level security
 * is the second wall, not the first); only the tenant listing, the token
 * lookup by hash and the forwarding targets' list read across tenants, under
 * vouch.cross_tenant.
 *
 * Inserts use ON CONFLICT DO NOTHING: a clash is ERR_CONFLICT (no row
 * written) without aborting the transaction, so a caller may draw a new
 * serial and try again in the same transaction, as with SQLite.  What must
 * not race is serialized by the database (see docs/decisions.md): the
 * optional queries here take advisory locks (profile versions, the audit
 * chain) and row locks (a certificate, request, EAB credential, ACME
 * account, order or authorization read in a write transaction), and CRL
 * entries are read through a cursor, in pages.
 */
#include "store/pg_internal.h"

static const char *const queries[Q_COUNT] = {
    /* tenants */
    [Q_TENANT_INSERT] = "INSERT INTO tenants (name, status, created) VALUES ($1, 'active', $2) "
                        "ON CONFLICT DO NOTHING",
    /* Every table of this schema with a tenant column: what a tenant's purge empties. */
    [Q_TENANT_TABLES] = "SELECT c.table_name FROM information_schema.columns c"
                        " JOIN information_schema.tables t ON t.table_schema = c.table_schema"
                        " AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'"
                        " WHERE c.table_schema = current_schema() AND c.column_name = 'tenant'"
                        " ORDER BY 1",

    /* CAs and profiles */
    [Q_CA_INSERT] = "INSERT INTO cas ({ca}) VALUES ({?ca}) ON CONFLICT DO NOTHING",
    /* A transaction-scoped advisory lock on (tenant, name): writers number versions in turn. */
    [Q_PROFILE_LOCK] =
        "SELECT pg_advisory_xact_lock(hashtextextended('profile/' || $1 || '/' || $2, 0))",
    [Q_PROFILE_INSERT] =
        "INSERT INTO profiles ({profile}) VALUES ({?profile}) ON CONFLICT DO NOTHING",

    /* end entities */
    [Q_ENTITY_INSERT] = "INSERT INTO entities ({entity}) VALUES ({?entity}) ON CONFLICT DO NOTHING",

    /* certificates */
    [Q_CERT_INSERT] = "INSERT INTO certs ({cert}) VALUES ({?cert}) ON CONFLICT DO NOTHING",
    /* Locked until commit, as SQLite's single writer guarantees. */
    [Q_CERT_GET_LOCKED] = "SELECT {cert} FROM certs WHERE tenant = $1 AND serial = $2 FOR UPDATE",
    /* CRL entries: a cursor, read in pages of 10000 rows. */
    [Q_CERT_CRL_FULL] = "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLUMNS
                        " FROM certs WHERE tenant = $1 AND ca = $2 "
                        "AND status IN ('revoked', 'hold') AND not_after >= $3 "
                        "ORDER BY serial",
    [Q_CERT_CRL_FULL_SHARD] = "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLUMNS
                              " FROM certs WHERE tenant = $1 AND ca = $2 AND crl_shard = $4 "
                              "AND status IN ('revoked', 'hold') AND not_after >= $3 "
                              "ORDER BY serial",
    [Q_CERT_CRL_DELTA] = "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLUMNS
                         " FROM certs WHERE tenant = $1 AND ca = $2 AND status_changed > 0 "
                         "AND status_changed >= $4 AND not_after >= $3 ORDER BY serial",
    [Q_CERT_CRL_DELTA_SHARD] = "DECLARE crl_entries NO SCROLL CURSOR FOR SELECT " CRL_ENTRY_COLUMNS
                               " FROM certs WHERE tenant = $1 AND ca = $2 AND status_changed > 0 "
                               "AND status_changed >= $5 AND crl_shard = $4 AND not_after >= $3 "
                               "ORDER BY serial",
    [Q_CRL_ENTRIES_FETCH] = "FETCH 10000 FROM crl_entries",
    [Q_CRL_ENTRIES_CLOSE] = "CLOSE crl_entries",

    /* CRLs */
    /*
     * The counter row is taken by an upsert, which keeps it locked until
     * commit: a second node's call waits and then reads the committed number.
     * The number also follows the highest stored CRL, so a lost counter row
     * cannot send numbers backwards.  No Q_CRLNUM_GET: this answers it.
     */
    [Q_CRLNUM_BUMP] =
        "INSERT INTO crl_numbers AS n (tenant, ca, last) VALUES ($1, $2, 1 + "
        "(SELECT COALESCE(MAX(number), 0) FROM crls WHERE tenant = $1 AND ca = $2)) "
        "ON CONFLICT (tenant, ca) DO UPDATE SET last = GREATEST(n.last, "
        "(SELECT COALESCE(MAX(number), 0) FROM crls WHERE tenant = $1 AND ca = $2)) + 1 "
        "RETURNING last",
    [Q_CRL_INSERT] = "INSERT INTO crls ({crl}) VALUES ({?crl}) ON CONFLICT DO NOTHING",
    /* $4 is 1 or 0, which boolean input reads as true or false. */
    [Q_CRL_PRUNE] = "DELETE FROM crls WHERE tenant = $1 AND ca = $2 AND shard = $3 "
                    "AND (delta_base > 0) = $4::boolean AND number < (SELECT number FROM crls "
                    "WHERE tenant = $1 AND ca = $2 AND shard = $3 AND (delta_base > 0) = "
                    "$4::boolean ORDER BY number DESC LIMIT 1 OFFSET $5)",

    /* OCSP */
    [Q_OCSP_RESPONDER_PUT] = "INSERT INTO ocsp_responders ({responder}) VALUES ({?responder}) "
                             "ON CONFLICT (tenant, ca) DO UPDATE SET key_id = $3, "
                             "key_type = $4, serial = $5, cert = $6, not_after = $7, created = $8",
    /*
     * Only if the certificate still has the status the response was made
     * from.  Its row is share-locked first (FOR SHARE re-reads the newest
     * committed version), so a revocation either committed before (the status
     * differs: skipped) or waits for this transaction (and its trigger then
     * drops the response again).
     */
    [Q_OCSP_PUT] = "WITH c AS (SELECT 1 FROM certs WHERE tenant = $1 AND serial = $2 "
                   "AND status = $7 AND revoked_at = $8 AND reason = $9 "
                   "AND invalidity_date = $10 FOR SHARE) "
                   "UPDATE ocsp_responses SET refresh_at = $3, this_update = $4, "
                   "next_update = $5, der = $6 WHERE tenant = $1 AND serial = $2 "
                   "AND EXISTS (SELECT 1 FROM c)",

    /* tokens, principals, client CAs, role bindings */
    [Q_TOKEN_INSERT] = "INSERT INTO tokens ({token}) VALUES ({?token}) ON CONFLICT DO NOTHING",
    [Q_PRINCIPAL_INSERT] =
        "INSERT INTO principals ({principal}) VALUES ({?principal}) ON CONFLICT DO NOTHING",
    [Q_PRINCIPAL_BY_CERT] = "SELECT {principal} FROM principals WHERE tenant = $1 AND "
                            "(cert_sha256 = $2 OR (cert_issuer = $3 AND cert_subject = $4)) "
                            "ORDER BY COALESCE(cert_sha256 = $2, false) DESC, created, id LIMIT 1",
    [Q_CLIENT_CA_INSERT] =
        "INSERT INTO client_cas ({client_ca}) VALUES ({?client_ca}) ON CONFLICT DO NOTHING",
    [Q_BINDING_INSERT] =
        "INSERT INTO role_bindings ({binding}) VALUES ({?binding}) ON CONFLICT DO NOTHING",

    /* audit */
    /* A transaction-scoped advisory lock on the tenant's chain. */
    [Q_AUDIT_LOCK] = "SELECT pg_advisory_xact_lock(hashtextextended('audit/' || $1, 0))",
    [Q_AUDIT_INSERT] = "INSERT INTO audit ({audit}) VALUES ({?audit}) ON CONFLICT DO NOTHING",
    [Q_AUDIT_KEY_INSERT] =
        "INSERT INTO audit_keys ({audit_key}) VALUES ({?audit_key}) ON CONFLICT DO NOTHING",
    [Q_AUDIT_CHECKPOINT_INSERT] = "INSERT INTO audit_checkpoints ({checkpoint}) VALUES "
                                  "({?checkpoint}) ON CONFLICT DO NOTHING",
    [Q_AUDIT_FORWARD_SET] =
        "INSERT INTO audit_forwarding (tenant, target, last_seq) VALUES ($1, $2, $3) "
        "ON CONFLICT (tenant, target) DO UPDATE SET last_seq = EXCLUDED.last_seq",
    [Q_AUDIT_TARGET_PUT] = "INSERT INTO audit_targets ({target}) VALUES ({?target}) "
                           "ON CONFLICT (tenant) DO UPDATE SET host = EXCLUDED.host, "
                           "port = EXCLUDED.port, transport = EXCLUDED.transport, "
                           "ca_pem = EXCLUDED.ca_pem, created = EXCLUDED.created",

    /* time-stamping */
    [Q_TSA_UNIT_INSERT] =
        "INSERT INTO tsa_units ({tsa_unit}) VALUES ({?tsa_unit}) ON CONFLICT DO NOTHING",
    [Q_TSA_TOKEN_INSERT] =
        "INSERT INTO tsa_tokens ({tsa_token}) VALUES ({?tsa_token}) ON CONFLICT DO NOTHING",

    /* leases, idempotency keys, offline imports */
    /* One upsert: the row lock it takes orders nodes racing for the same lease. */
    [Q_LEASE_TAKE] = "INSERT INTO leases AS l (tenant, job, holder, until) VALUES ($1, $2, $3, $5) "
                     "ON CONFLICT (tenant, job) DO UPDATE SET holder = EXCLUDED.holder, "
                     "until = EXCLUDED.until WHERE l.until <= $4 OR l.holder = EXCLUDED.holder",
    [Q_LEASE_PRUNE] = "DELETE FROM leases WHERE tenant = $1 AND left(job, length($2)) = $2 "
                      "AND until < $3",
    [Q_LEASE_COUNT] =
        "SELECT count(*) FROM leases WHERE tenant = $1 AND left(job, length($2)) = $2 "
        "AND until > $3",
    /* One upsert: of two nodes filing the same key at once, the row lock lets one win. */
    [Q_IDEMPOTENCY_PUT] = "INSERT INTO idempotency AS i ({idempotency}) VALUES ({?idempotency}) "
                          "ON CONFLICT (tenant, key) DO UPDATE SET principal = "
                          "EXCLUDED.principal, request_hash = EXCLUDED.request_hash, object = "
                          "EXCLUDED.object, created = EXCLUDED.created, outcome = EXCLUDED.outcome "
                          "WHERE i.created < $8",
    [Q_OFFLINE_INSERT] = "INSERT INTO offline_imports ({offline_import}) VALUES "
                         "({?offline_import}) ON CONFLICT DO NOTHING",

    /* registration authority */
    [Q_WORKFLOW_PUT] = "INSERT INTO workflows ({workflow}) VALUES ({?workflow}) "
                       "ON CONFLICT (tenant, name) DO UPDATE SET required = EXCLUDED.required, "
                       "approvers = EXCLUDED.approvers, expires_hours = EXCLUDED.expires_hours, "
                       "created = EXCLUDED.created",
    [Q_REQUEST_INSERT] =
        "INSERT INTO requests ({request}) VALUES ({?request}) ON CONFLICT DO NOTHING",
    [Q_REQUEST_GET_LOCKED] =
        "SELECT {request} FROM requests WHERE tenant = $1 AND id = $2 FOR UPDATE",
    [Q_REQUEST_LIST] =
        "SELECT {request} FROM requests WHERE tenant = $1"
        " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR requester = $3)"
        " ORDER BY created DESC, id LIMIT $4 OFFSET $5",
    [Q_WEBHOOK_PUT] = "INSERT INTO webhooks ({webhook}) VALUES ({?webhook}) "
                      "ON CONFLICT (tenant) DO UPDATE SET url = EXCLUDED.url, "
                      "secret = EXCLUDED.secret, created = EXCLUDED.created, "
                      "key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce",
    [Q_WEBHOOK_EVENT_INSERT] = "INSERT INTO webhook_events ({webhook_event}) VALUES "
                               "({?webhook_event}) ON CONFLICT DO NOTHING",

    /* ACME: the rows a write transaction reads to change stay locked until commit. */
    [Q_ACME_ENDPOINT_INSERT] = "INSERT INTO acme_endpoints ({acme_endpoint}) VALUES "
                               "({?acme_endpoint}) ON CONFLICT DO NOTHING",
    [Q_ACME_EAB_INSERT] =
        "INSERT INTO acme_eabs ({acme_eab}) VALUES ({?acme_eab}) ON CONFLICT DO NOTHING",
    /* enrollment: a clash changes no row (ERR_CONFLICT), the transaction going on */
    [Q_ENROLL_ENDPOINT_INSERT] = "INSERT INTO enroll_endpoints ({enroll_endpoint}) VALUES "
                                 "({?enroll_endpoint}) ON CONFLICT DO NOTHING",
    [Q_ENROLL_CREDENTIAL_INSERT] = "INSERT INTO enroll_credentials ({enroll_credential}) VALUES "
                                   "({?enroll_credential}) ON CONFLICT DO NOTHING",
    [Q_ENROLL_CREDENTIAL_GET_LOCKED] = "SELECT {enroll_credential} FROM enroll_credentials"
                                       " WHERE tenant = $1 AND endpoint = $2 AND id = $3"
                                       " FOR UPDATE",
    [Q_ACME_EAB_GET_LOCKED] = "SELECT {acme_eab} FROM acme_eabs"
                              " WHERE tenant = $1 AND endpoint = $2 AND kid = $3 FOR UPDATE",
    [Q_ACME_ACCOUNT_INSERT] = "INSERT INTO acme_accounts ({acme_account}) VALUES "
                              "({?acme_account}) ON CONFLICT DO NOTHING",
    [Q_ACME_ACCOUNT_GET_LOCKED] = "SELECT {acme_account} FROM acme_accounts"
                                  " WHERE tenant = $1 AND endpoint = $2 AND id = $3 FOR UPDATE",
    [Q_ACME_ORDER_INSERT] =
        "INSERT INTO acme_orders ({acme_order}) VALUES ({?acme_order}) ON CONFLICT DO NOTHING",
    [Q_ACME_ORDER_GET_LOCKED] = "SELECT {acme_order} FROM acme_orders"
                                " WHERE tenant = $1 AND endpoint = $2 AND id = $3 FOR UPDATE",
    [Q_ACME_AUTHZ_INSERT] =
        "INSERT INTO acme_authzs ({acme_authz}) VALUES ({?acme_authz}) ON CONFLICT DO NOTHING",
    [Q_ACME_AUTHZ_GET_LOCKED] = "SELECT {acme_authz} FROM acme_authzs"
                                " WHERE tenant = $1 AND endpoint = $2 AND id = $3 FOR UPDATE",
    /* A nonce used twice changes no row: ERR_CONFLICT, the transaction going on. */
    [Q_ACME_NONCE_USE] = "INSERT INTO acme_nonces (tenant, nonce, expires) VALUES ($1, $2, $3) "
                         "ON CONFLICT DO NOTHING",
    /* CMP: as ACME's */
    [Q_CMP_ENDPOINT_INSERT] = "INSERT INTO cmp_endpoints ({cmp_endpoint}) VALUES "
                              "({?cmp_endpoint}) ON CONFLICT DO NOTHING",
    [Q_CMP_SECRET_INSERT] =
        "INSERT INTO cmp_secrets ({cmp_secret}) VALUES ({?cmp_secret}) ON CONFLICT DO NOTHING",
    [Q_CMP_SECRET_GET_LOCKED] = "SELECT {cmp_secret} FROM cmp_secrets"
                                " WHERE tenant = $1 AND endpoint = $2 AND ref = $3 FOR UPDATE",
    [Q_CMP_TX_INSERT] = "INSERT INTO cmp_transactions ({cmp_transaction}) VALUES "
                        "({?cmp_transaction}) ON CONFLICT DO NOTHING",
    [Q_CMP_TX_GET_LOCKED] = "SELECT {cmp_transaction} FROM cmp_transactions"
                            " WHERE tenant = $1 AND endpoint = $2 AND txid = $3 FOR UPDATE",
    [Q_CMP_NONCE_USE] = "INSERT INTO cmp_nonces (tenant, nonce, expires) VALUES ($1, $2, $3) "
                        "ON CONFLICT DO NOTHING",
    [Q_RENEWAL_WINDOW_PUT] = "INSERT INTO renewal_windows ({renewal_window}) VALUES "
                             "({?renewal_window}) ON CONFLICT (tenant, serial) DO UPDATE SET "
                             "window_start = EXCLUDED.window_start, window_end = "
                             "EXCLUDED.window_end, reason = EXCLUDED.reason, "
                             "created = EXCLUDED.created",
    [Q_NOTICE_SETTINGS_PUT] =
        "INSERT INTO notice_settings ({notice_settings}) VALUES ({?notice_settings}) "
        "ON CONFLICT (tenant) DO UPDATE SET enabled = EXCLUDED.enabled, "
        "thresholds = EXCLUDED.thresholds, recipients = EXCLUDED.recipients, "
        "updated = EXCLUDED.updated",
    [Q_NOTICE_CLAIM] = "INSERT INTO notices (tenant, serial, threshold, kind, state, attempts,"
                       " next_try, created, sent_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7)"
                       " ON CONFLICT DO NOTHING",
};

static const char *const cert_filters[CERT_FILTERS] = {
    "serial = ?",
    "strpos(lower(subject), lower(?)) > 0",
    "strpos(lower(sans), lower(?)) > 0",
    "status = ?",
    "ca = ?",
    "entity_id = ?",
    "profile = ?",
    "requester = ?",
    "not_after >= ?",
    "not_after < ?",
};

static const char *const entity_filters[ENTITY_FILTERS] = {
    "strpos(lower(name), lower(?)) > 0",
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

const struct db_dialect pg_dialect = {'$', queries, filters};
