/*
 * pg_schema.c — the PostgreSQL schema as ordered migrations, step for step
 * the tables, columns and indexes of SQLite's (sqlite_schema.c), so both
 * backends report the same schema version.  store_pg.c applies the pending
 * steps in one transaction and records each in schema_version.  A migration is
 * never edited once released: a change is a new step appended here.
 *
 * Row-level security: every table with tenant data has ROW LEVEL SECURITY
 * enabled and FORCEd (so it binds the owner too) and the policy "wall": a row
 * is visible and writable only when its tenant equals the transaction's
 * vouch.tenant setting.  Three tables have a second, read-only policy "cross"
 * for the calls that read across tenants (the tenant listing, the token
 * lookup by hash, the SIEM forwarder's list of tenant targets): it holds only
 * while vouch.cross_tenant is 'on', which the driver (store_pg.c) sets for
 * those calls alone.
 */
#include "store/pg_internal.h"

#define TENANT_IS "current_setting('vouch.tenant', true)"
#define WALL(table, column)                                                                        \
    "ALTER TABLE " table " ENABLE ROW LEVEL SECURITY;"                                             \
    "ALTER TABLE " table " FORCE ROW LEVEL SECURITY;"                                              \
    "CREATE POLICY wall ON " table " USING (" column " = " TENANT_IS ") WITH CHECK (" column       \
    " = " TENANT_IS ");"
#define CROSS(table)                                                                               \
    "CREATE POLICY cross_read ON " table " FOR SELECT USING "                                      \
    "(current_setting('vouch.cross_tenant', true) = 'on');"

const char *const pg_migrations[] = {
    /* 1: the foundation */
    "CREATE TABLE tenants (name text PRIMARY KEY, status text NOT NULL,"
    "  created bigint NOT NULL);"
    "CREATE TABLE cas (tenant text NOT NULL, name text NOT NULL, parent text,"
    "  key_id text NOT NULL, key_type text NOT NULL, status text NOT NULL, subject text,"
    "  cert bytea, csr bytea, chain bytea, options text NOT NULL, not_before bigint,"
    "  not_after bigint, created bigint NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE profiles (tenant text NOT NULL, name text NOT NULL, version bigint NOT NULL,"
    "  json text NOT NULL, created bigint NOT NULL, PRIMARY KEY (tenant, name, version));"
    "CREATE TABLE entities (tenant text NOT NULL, id text NOT NULL, name text NOT NULL,"
    "  kind text NOT NULL, email text, manufacturer text, model text, serial_number text,"
    "  metadata text NOT NULL, created bigint NOT NULL, PRIMARY KEY (tenant, id));"
    "CREATE INDEX entities_name ON entities (tenant, name);"
    "CREATE TABLE certs (tenant text NOT NULL, serial text NOT NULL, ca text NOT NULL,"
    "  profile text, profile_version bigint NOT NULL, entity_id text, subject text,"
    "  sans text, status text NOT NULL, not_before bigint NOT NULL,"
    "  not_after bigint NOT NULL, revoked_at bigint NOT NULL, reason bigint NOT NULL,"
    "  invalidity_date bigint NOT NULL, renewed_from text, der bytea NOT NULL,"
    "  created bigint NOT NULL, PRIMARY KEY (tenant, serial));"
    "CREATE INDEX certs_expiry ON certs (tenant, not_after);"
    "CREATE INDEX certs_ca_status ON certs (tenant, ca, status);"
    "CREATE INDEX certs_entity ON certs (tenant, entity_id);"
    "CREATE TABLE crl_numbers (tenant text NOT NULL, ca text NOT NULL,"
    "  last bigint NOT NULL, PRIMARY KEY (tenant, ca));"
    "CREATE TABLE crls (tenant text NOT NULL, ca text NOT NULL, number bigint NOT NULL,"
    "  this_update bigint NOT NULL, next_update bigint NOT NULL, der bytea NOT NULL,"
    "  PRIMARY KEY (tenant, ca, number));"
    "CREATE TABLE tokens (tenant text NOT NULL, id text NOT NULL, name text NOT NULL,"
    "  hash text NOT NULL UNIQUE, role text NOT NULL, expires bigint NOT NULL,"
    "  created bigint NOT NULL, PRIMARY KEY (tenant, id));"
    "CREATE TABLE audit (tenant text NOT NULL, seq bigint NOT NULL, time bigint NOT NULL,"
    "  actor text NOT NULL, action text NOT NULL, object text NOT NULL, result text NOT NULL,"
    "  detail text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL,"
    "  PRIMARY KEY (tenant, seq));" WALL("tenants", "name") CROSS("tenants") WALL("cas", "tenant")
        WALL("profiles", "tenant") WALL("entities", "tenant") WALL("certs", "tenant")
            WALL("crl_numbers", "tenant") WALL("crls", "tenant") WALL("tokens", "tenant")
                CROSS("tokens") WALL("audit", "tenant"),

    /*
     * 2: OCSP.  ocsp_responses holds one row per certificate; the triggers keep
     * it so, as SQLite's do: a new certificate gets a row without a response,
     * and a status change drops the stored response in the same statement.
     * They run with the caller's rights, so row-level security holds in them.
     */
    "CREATE TABLE ocsp_responders (tenant text NOT NULL, ca text NOT NULL, key_id text NOT NULL,"
    "  key_type text NOT NULL, serial text NOT NULL, cert bytea NOT NULL,"
    "  not_after bigint NOT NULL, created bigint NOT NULL, PRIMARY KEY (tenant, ca));"
    "CREATE TABLE ocsp_responses (tenant text NOT NULL, serial text NOT NULL, ca text NOT NULL,"
    "  refresh_at bigint NOT NULL, this_update bigint NOT NULL,"
    "  next_update bigint NOT NULL, der bytea, PRIMARY KEY (tenant, serial));"
    "CREATE INDEX ocsp_responses_due ON ocsp_responses (tenant, ca, refresh_at);" WALL(
        "ocsp_responders", "tenant")
        WALL("ocsp_responses",
             "tenant") "CREATE FUNCTION certs_ocsp_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       "BEGIN"
                       "  INSERT INTO ocsp_responses (tenant, serial, ca, refresh_at, this_update, "
                       "next_update, der)"
                       "    VALUES (NEW.tenant, NEW.serial, NEW.ca, 0, 0, 0, NULL)"
                       "    ON CONFLICT (tenant, serial) DO UPDATE SET ca = EXCLUDED.ca, "
                       "refresh_at = 0,"
                       "      this_update = 0, next_update = 0, der = NULL;"
                       "  RETURN NULL; END $$;"
                       "CREATE TRIGGER certs_ocsp_insert AFTER INSERT ON certs"
                       "  FOR EACH ROW EXECUTE FUNCTION certs_ocsp_insert();"
                       "CREATE FUNCTION certs_ocsp_status() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       "BEGIN"
                       "  UPDATE ocsp_responses SET der = NULL, refresh_at = 0"
                       "    WHERE tenant = NEW.tenant AND serial = NEW.serial;"
                       "  RETURN NULL; END $$;"
                       "CREATE TRIGGER certs_ocsp_status"
                       "  AFTER UPDATE OF status, revoked_at, reason, invalidity_date ON certs"
                       "  FOR EACH ROW EXECUTE FUNCTION certs_ocsp_status();",

    /* 3: CRL publication (issue 3): as SQLite's step 3. */
    "ALTER TABLE certs ADD COLUMN status_changed bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE certs ADD COLUMN crl_shard bigint NOT NULL DEFAULT 0;"
    "UPDATE certs SET status_changed = revoked_at WHERE status IN ('revoked', 'hold');"
    "CREATE INDEX certs_crl ON certs (tenant, ca, crl_shard, serial, status, not_after,"
    "  revoked_at, reason, invalidity_date, status_changed)"
    "  WHERE status IN ('revoked', 'hold');"
    "CREATE INDEX certs_changed ON certs (tenant, ca, status_changed) WHERE status_changed > 0;"
    "ALTER TABLE crls ADD COLUMN shard bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE crls ADD COLUMN delta_base bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX crls_scope ON crls (tenant, ca, shard, number);",

    /* 4: time-stamping units and the tokens they issued (issue 4) */
    "CREATE TABLE tsa_units (tenant text NOT NULL, name text NOT NULL, ca text NOT NULL,"
    "  key_id text NOT NULL, key_type text NOT NULL, status text NOT NULL,"
    "  cert_serial text NOT NULL, cert bytea NOT NULL, chain bytea, policy text NOT NULL,"
    "  policies text NOT NULL, hashes text NOT NULL, accuracy_ms bigint NOT NULL,"
    "  include_chain bigint NOT NULL, created bigint NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE tsa_tokens (tenant text NOT NULL, unit text NOT NULL, serial text NOT NULL,"
    "  gen_time text NOT NULL, time bigint NOT NULL, policy text NOT NULL,"
    "  hash_alg text NOT NULL, imprint text NOT NULL, nonce text, requester text NOT NULL,"
    "  der bytea NOT NULL, PRIMARY KEY (tenant, unit, serial));"
    "CREATE INDEX tsa_tokens_imprint ON tsa_tokens (tenant, unit, imprint);"
    "CREATE INDEX tsa_tokens_time ON tsa_tokens (tenant, unit, time);" WALL("tsa_units", "tenant")
        WALL("tsa_tokens", "tenant"),

    /* 5: audit checkpoints, their signing keys and SIEM forwarding state (issue 5) */
    "CREATE TABLE audit_keys (tenant text NOT NULL PRIMARY KEY, key_id text NOT NULL,"
    "  key_type text NOT NULL, public_pem text NOT NULL, created bigint NOT NULL);"
    "CREATE TABLE audit_checkpoints (tenant text NOT NULL, seq bigint NOT NULL,"
    "  time bigint NOT NULL, head_hash text NOT NULL, key_id text NOT NULL,"
    "  der bytea NOT NULL, sig bytea NOT NULL, PRIMARY KEY (tenant, seq));"
    "CREATE TABLE audit_forwarding (tenant text NOT NULL, target text NOT NULL,"
    "  last_seq bigint NOT NULL, PRIMARY KEY (tenant, target));"
    "CREATE TABLE audit_targets (tenant text NOT NULL PRIMARY KEY, host text NOT NULL,"
    "  port bigint NOT NULL, transport text NOT NULL, ca_pem text, created bigint NOT NULL);" WALL(
        "audit_keys", "tenant") WALL("audit_checkpoints", "tenant")
        WALL("audit_forwarding", "tenant") WALL("audit_targets", "tenant") CROSS("audit_targets"),

    /* 6: leases of scheduled jobs (issue 7) */
    "CREATE TABLE leases (tenant text NOT NULL, job text NOT NULL, holder text NOT NULL,"
    "  until bigint NOT NULL, PRIMARY KEY (tenant, job));" WALL("leases", "tenant"),

    /* 7: tenant lifecycle and limits (issue 5): as SQLite's step 7. */
    "ALTER TABLE tenants ADD COLUMN status_reason text;"
    "ALTER TABLE tenants ADD COLUMN deleted_at bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE tenants ADD COLUMN purge_after bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE tenants ADD COLUMN certs_per_hour bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE tenants ADD COLUMN requests_per_second bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE certs ADD COLUMN counted bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX certs_counted ON certs (tenant, created) WHERE counted = 1;",

    /* 8: the registration authority: approval workflows, requests, webhooks (issue 5) */
    "CREATE TABLE workflows (tenant text NOT NULL, name text NOT NULL,"
    "  required bigint NOT NULL, approvers text, expires_hours bigint NOT NULL,"
    "  created bigint NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE requests (tenant text NOT NULL, id text NOT NULL, kind text NOT NULL,"
    "  object text NOT NULL, params text NOT NULL, requester text NOT NULL,"
    "  status text NOT NULL, required bigint NOT NULL, approvers text,"
    "  approvals text NOT NULL, result text, reason text, created bigint NOT NULL,"
    "  expires bigint NOT NULL, decided bigint NOT NULL, PRIMARY KEY (tenant, id));"
    "CREATE INDEX requests_status ON requests (tenant, status, created);"
    "CREATE TABLE webhooks (tenant text NOT NULL PRIMARY KEY, url text NOT NULL,"
    "  secret text NOT NULL, created bigint NOT NULL);"
    "CREATE TABLE webhook_events (tenant text NOT NULL, id text NOT NULL,"
    "  event text NOT NULL, body text NOT NULL, attempts bigint NOT NULL,"
    "  next_attempt bigint NOT NULL, status text NOT NULL, created bigint NOT NULL,"
    "  PRIMARY KEY (tenant, id));"
    "CREATE INDEX webhook_events_due ON webhook_events (tenant, status, next_attempt);"
    "CREATE UNIQUE INDEX cas_key ON cas (tenant, key_id) WHERE key_id <> '';" WALL("workflows",
                                                                                   "tenant")
        WALL("requests", "tenant") WALL("webhooks", "tenant") WALL("webhook_events", "tenant"),

    /*
     * 9: principals, role bindings, argon2id tokens, certificate requesters
     * (issue 5): as SQLite's step 9.  The existing tokens are moved over with
     * row-level security lifted for the owner in this step only.
     */
    "CREATE TABLE principals (tenant text NOT NULL, id text NOT NULL, name text NOT NULL,"
    "  kind text NOT NULL, allow text NOT NULL, disabled bigint NOT NULL,"
    "  created bigint NOT NULL, cert_issuer text, cert_subject text, cert_sha256 text,"
    "  PRIMARY KEY (tenant, id), UNIQUE (tenant, name));"
    "CREATE TABLE client_cas (tenant text NOT NULL, name text NOT NULL, ca text,"
    "  cert bytea NOT NULL, created bigint NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE role_bindings (tenant text NOT NULL, principal_tenant text NOT NULL,"
    "  principal text NOT NULL, role text NOT NULL, created bigint NOT NULL,"
    "  PRIMARY KEY (tenant, principal_tenant, principal, role));"
    "ALTER TABLE tokens ADD COLUMN principal text NOT NULL DEFAULT '';"
    "ALTER TABLE tokens ADD COLUMN secret text;"
    "ALTER TABLE tokens ADD COLUMN revoked bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE certs ADD COLUMN requester text;"
    "CREATE INDEX certs_requester ON certs (tenant, requester) WHERE requester IS NOT NULL;"
    "ALTER TABLE tokens NO FORCE ROW LEVEL SECURITY;"
    "INSERT INTO principals (tenant, id, name, kind, allow, disabled, created)"
    "  SELECT tenant, id, name || ' (' || id || ')', 'application', '[]', 0, created FROM tokens;"
    "UPDATE tokens SET principal = id;"
    "INSERT INTO role_bindings (tenant, principal_tenant, principal, role, created)"
    "  SELECT t.tenant, t.tenant, t.id, r.role, t.created FROM tokens t,"
    "  (VALUES ('tenant-admin'), ('ca-operator'), ('ra-officer'), ('requester'), ('auditor'))"
    "  AS r(role) WHERE t.role = 'admin';"
    "INSERT INTO role_bindings (tenant, principal_tenant, principal, role, created)"
    "  SELECT '_system', tenant, id, 'system-admin', created FROM tokens WHERE role = 'system';"
    "ALTER TABLE tokens FORCE ROW LEVEL SECURITY;" WALL("principals", "tenant")
        WALL("role_bindings", "tenant") WALL("client_cas", "tenant"),
    /* 10: bundles imported from offline CAs (issue 8): replays and re-imports */
    "CREATE TABLE offline_imports (tenant text NOT NULL, source text NOT NULL,"
    "  seq bigint NOT NULL, digest text NOT NULL, signer text NOT NULL,"
    "  audit_seq bigint NOT NULL, audit_head text NOT NULL, imported bigint NOT NULL, PRIMARY KEY "
    "(tenant, source, seq));" WALL("offline_imports", "tenant"),
    /* 11: a TLS client certificate finds its principal through an index, not a scan */
    ("CREATE INDEX principals_cert_sha256 ON principals (tenant, cert_sha256);"
     "CREATE INDEX principals_cert_name ON principals (tenant, cert_issuer, cert_subject);"),
    /* 12: webhook secrets are derived by the signer: the key and nonce it derives from */
    ("ALTER TABLE webhooks ADD COLUMN key_id text;"
     "ALTER TABLE webhooks ADD COLUMN nonce text;"),
    /* 13: idempotency keys of issuance requests */
    "CREATE TABLE idempotency (tenant text NOT NULL, key text NOT NULL, principal text NOT NULL,"
    "  request_hash text NOT NULL, serial text NOT NULL, created bigint NOT NULL,"
    "  PRIMARY KEY (tenant, key));"
    "CREATE INDEX idempotency_created ON idempotency (tenant, created);" WALL("idempotency",
                                                                              "tenant"),
    /* 14: idempotency keys of every operation: what the key's outcome is */
    ("ALTER TABLE idempotency RENAME COLUMN serial TO object;"
     "ALTER TABLE idempotency ADD COLUMN outcome text NOT NULL DEFAULT 'certificate';"),
    /* 15: ACME (issue 16), shared secrets, renewal windows: as SQLite's step 15. */
    "CREATE TABLE acme_endpoints (tenant text NOT NULL, name text NOT NULL, ca text NOT NULL,"
    "  status text NOT NULL, settings text NOT NULL, created bigint NOT NULL,"
    "  updated bigint NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE acme_eabs (tenant text NOT NULL, endpoint text NOT NULL, kid text NOT NULL,"
    "  key_id text NOT NULL, nonce text NOT NULL, settings text NOT NULL, status text NOT NULL,"
    "  uses bigint NOT NULL, created bigint NOT NULL, updated bigint NOT NULL,"
    "  PRIMARY KEY (tenant, endpoint, kid));"
    "CREATE TABLE acme_accounts (tenant text NOT NULL, endpoint text NOT NULL, id text NOT NULL,"
    "  thumbprint text NOT NULL, jwk text NOT NULL, status text NOT NULL, contact text NOT NULL,"
    "  eab_kid text, created bigint NOT NULL, updated bigint NOT NULL,"
    "  PRIMARY KEY (tenant, endpoint, id));"
    "CREATE UNIQUE INDEX acme_accounts_key ON acme_accounts (tenant, endpoint, thumbprint);"
    "CREATE INDEX acme_accounts_eab ON acme_accounts (tenant, endpoint, eab_kid)"
    "  WHERE eab_kid IS NOT NULL;"
    "CREATE TABLE acme_orders (tenant text NOT NULL, endpoint text NOT NULL, id text NOT NULL,"
    "  account text NOT NULL, status text NOT NULL, identifiers text NOT NULL,"
    "  authzs text NOT NULL, profile text NOT NULL, not_before bigint NOT NULL,"
    "  not_after bigint NOT NULL, expires bigint NOT NULL, error text, serial text,"
    "  request text, replaces text, created bigint NOT NULL, updated bigint NOT NULL,"
    "  PRIMARY KEY (tenant, endpoint, id));"
    "CREATE INDEX acme_orders_account ON acme_orders (tenant, endpoint, account, created);"
    "CREATE TABLE acme_authzs (tenant text NOT NULL, endpoint text NOT NULL, id text NOT NULL,"
    "  account text NOT NULL, ident_type text NOT NULL, ident_value text NOT NULL,"
    "  wildcard bigint NOT NULL, status text NOT NULL, expires bigint NOT NULL,"
    "  challenges text NOT NULL, validating bigint NOT NULL, created bigint NOT NULL,"
    "  updated bigint NOT NULL, PRIMARY KEY (tenant, endpoint, id));"
    "CREATE INDEX acme_authzs_reuse ON acme_authzs (tenant, endpoint, account, ident_type,"
    "  ident_value, wildcard, status, expires);"
    "CREATE INDEX acme_authzs_stalled ON acme_authzs (tenant, validating) WHERE validating > 0;"
    "CREATE TABLE acme_nonces (tenant text NOT NULL, nonce text NOT NULL,"
    "  expires bigint NOT NULL, PRIMARY KEY (tenant, nonce));"
    "CREATE INDEX acme_nonces_expires ON acme_nonces (tenant, expires);"
    "CREATE INDEX acme_orders_expires ON acme_orders (tenant, expires);"
    "CREATE INDEX acme_authzs_expires ON acme_authzs (tenant, expires);"
    "CREATE TABLE secrets (tenant text NOT NULL, name text NOT NULL, value text NOT NULL,"
    "  created bigint NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE renewal_windows (tenant text NOT NULL, serial text NOT NULL,"
    "  window_start bigint NOT NULL, window_end bigint NOT NULL, reason text,"
    "  created bigint NOT NULL, PRIMARY KEY (tenant, serial));" WALL("acme_endpoints", "tenant")
        WALL("acme_eabs", "tenant") WALL("acme_accounts", "tenant") WALL("acme_orders", "tenant")
            WALL("acme_authzs", "tenant") WALL("acme_nonces", "tenant") WALL("secrets", "tenant")
                WALL("renewal_windows", "tenant"),
    /* 16: who stands behind a credential: as SQLite's step 16. */
    "ALTER TABLE tokens ADD COLUMN creators text DEFAULT '[]';"
    "ALTER TABLE role_bindings ADD COLUMN granted_by text;"
    "ALTER TABLE role_bindings ADD COLUMN granted bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE acme_eabs ADD COLUMN creators text;"
    "ALTER TABLE acme_accounts ADD COLUMN creators text;"
    "UPDATE tokens SET creators = COALESCE((SELECT json_build_array(COALESCE(m.principal,"
    "  a.actor))::text FROM audit a LEFT JOIN tokens m ON m.id = a.actor"
    "  WHERE a.tenant = tokens.tenant AND a.action = 'token.create' AND a.object = tokens.id"
    "  AND COALESCE(m.principal, a.actor) <> tokens.principal LIMIT 1), '[]');",
    /* 17: device enrollment endpoints and credentials: as SQLite's step 17. */
    "CREATE TABLE enroll_endpoints (tenant text NOT NULL, name text NOT NULL,"
    "  protocol text NOT NULL, ca text NOT NULL, profile text NOT NULL, status text NOT NULL,"
    "  settings text NOT NULL, created bigint NOT NULL, updated bigint NOT NULL,"
    "  PRIMARY KEY (tenant, name));"
    "CREATE TABLE enroll_credentials (tenant text NOT NULL, endpoint text NOT NULL,"
    "  id text NOT NULL, secret_hash text NOT NULL, reusable bigint NOT NULL,"
    "  status text NOT NULL, uses bigint NOT NULL, creators text, created bigint NOT NULL,"
    "  updated bigint NOT NULL, PRIMARY KEY (tenant, endpoint, id));" WALL(
        "enroll_endpoints", "tenant") WALL("enroll_credentials", "tenant"),
    /* 18: CMP (issue 18): as SQLite's step 18. */
    "CREATE TABLE cmp_endpoints (tenant text NOT NULL, name text NOT NULL, ca text NOT NULL,"
    "  status text NOT NULL, settings text NOT NULL, created bigint NOT NULL,"
    "  updated bigint NOT NULL, key_id text, cert_serial text, PRIMARY KEY (tenant, name));"
    "CREATE TABLE cmp_secrets (tenant text NOT NULL, endpoint text NOT NULL, ref text NOT NULL,"
    "  key_id text NOT NULL, nonce text NOT NULL, settings text NOT NULL, status text NOT NULL,"
    "  uses bigint NOT NULL, created bigint NOT NULL, updated bigint NOT NULL, creators text,"
    "  PRIMARY KEY (tenant, endpoint, ref));"
    "CREATE TABLE cmp_transactions (tenant text NOT NULL, endpoint text NOT NULL,"
    "  txid text NOT NULL, status text NOT NULL, serial text, cert_hash text,"
    "  requester text NOT NULL, protection text NOT NULL, request text, message text,"
    "  server_nonce text, expires bigint NOT NULL, created bigint NOT NULL,"
    "  updated bigint NOT NULL,"
    "  PRIMARY KEY (tenant, endpoint, txid));"
    "CREATE INDEX cmp_transactions_waiting ON cmp_transactions (tenant, status, expires);"
    "CREATE TABLE cmp_nonces (tenant text NOT NULL, nonce text NOT NULL,"
    "  expires bigint NOT NULL, PRIMARY KEY (tenant, nonce));"
    "CREATE INDEX cmp_nonces_expires ON cmp_nonces (tenant, expires);" WALL(
        "cmp_endpoints", "tenant") WALL("cmp_secrets", "tenant") WALL("cmp_transactions", "tenant")
        WALL("cmp_nonces", "tenant"),
    /* 19: expiry notices (issue 21): as SQLite's step 19. */
    "CREATE TABLE notice_settings (tenant text NOT NULL, enabled integer NOT NULL,"
    "  thresholds text NOT NULL, recipients text NOT NULL, updated bigint NOT NULL,"
    "  PRIMARY KEY (tenant));"
    "CREATE TABLE notices (tenant text NOT NULL, serial text NOT NULL,"
    "  threshold bigint NOT NULL, kind text NOT NULL, state text NOT NULL,"
    "  attempts bigint NOT NULL, next_try bigint NOT NULL, created bigint NOT NULL,"
    "  sent_at bigint NOT NULL, PRIMARY KEY (tenant, serial, threshold));"
    "CREATE INDEX notices_retry ON notices (tenant, state, next_try);"
    "CREATE INDEX certs_renewed_from ON certs (tenant, renewed_from);" WALL(
        "notice_settings", "tenant") WALL("notices", "tenant"),
};

const int pg_migration_count = (int)ARRAY_LEN(pg_migrations);
