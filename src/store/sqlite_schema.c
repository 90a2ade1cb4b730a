/*
 * sqlite_schema.c — the SQLite schema as ordered migrations.  Step i (from 0)
 * takes the schema from version i to version i + 1; store_sqlite.c applies the
 * pending steps in one transaction and records each in schema_version.  A
 * migration is never edited once released: a change is a new step appended
 * here.  Every table holding tenant data has a `tenant` column that leads its
 * primary key and every index.
 */
#include "store/sqlite_internal.h"

const char *const sqlite_migrations[] = {
    /* 1: the foundation */
    "CREATE TABLE tenants (name TEXT PRIMARY KEY, status TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE cas (tenant TEXT NOT NULL, name TEXT NOT NULL, parent TEXT,"
    "  key_id TEXT NOT NULL, key_type TEXT NOT NULL, status TEXT NOT NULL, subject TEXT,"
    "  cert BLOB, csr BLOB, chain BLOB, options TEXT NOT NULL, not_before INTEGER,"
    "  not_after INTEGER, created INTEGER NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE profiles (tenant TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  json TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (tenant, name, version));"
    "CREATE TABLE entities (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
    "  kind TEXT NOT NULL, email TEXT, manufacturer TEXT, model TEXT, serial_number TEXT,"
    "  metadata TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (tenant, id));"
    "CREATE INDEX entities_name ON entities (tenant, name);"
    "CREATE TABLE certs (tenant TEXT NOT NULL, serial TEXT NOT NULL, ca TEXT NOT NULL,"
    "  profile TEXT, profile_version INTEGER NOT NULL, entity_id TEXT, subject TEXT,"
    "  sans TEXT, status TEXT NOT NULL, not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL, revoked_at INTEGER NOT NULL, reason INTEGER NOT NULL,"
    "  invalidity_date INTEGER NOT NULL, renewed_from TEXT, der BLOB NOT NULL,"
    "  created INTEGER NOT NULL, PRIMARY KEY (tenant, serial));"
    "CREATE INDEX certs_expiry ON certs (tenant, not_after);"
    "CREATE INDEX certs_ca_status ON certs (tenant, ca, status);"
    "CREATE INDEX certs_entity ON certs (tenant, entity_id);"
    "CREATE TABLE crl_numbers (tenant TEXT NOT NULL, ca TEXT NOT NULL,"
    "  last INTEGER NOT NULL, PRIMARY KEY (tenant, ca));"
    "CREATE TABLE crls (tenant TEXT NOT NULL, ca TEXT NOT NULL, number INTEGER NOT NULL,"
    "  this_update INTEGER NOT NULL, next_update INTEGER NOT NULL, der BLOB NOT NULL,"
    "  PRIMARY KEY (tenant, ca, number));"
    "CREATE TABLE tokens (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, expires INTEGER NOT NULL,"
    "  created INTEGER NOT NULL, PRIMARY KEY (tenant, id));"
    "CREATE TABLE audit (tenant TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,"
    "  actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, result TEXT NOT NULL,"
    "  detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,"
    "  PRIMARY KEY (tenant, seq));",

    /*
     * 2: OCSP.  ocsp_responses holds one row per certificate; the triggers keep
     * it so: a new certificate gets a row without a response, and a status
     * change drops the stored response in the same statement.
     */
    "CREATE TABLE ocsp_responders (tenant TEXT NOT NULL, ca TEXT NOT NULL, key_id TEXT NOT NULL,"
    "  key_type TEXT NOT NULL, serial TEXT NOT NULL, cert BLOB NOT NULL,"
    "  not_after INTEGER NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (tenant, ca));"
    "CREATE TABLE ocsp_responses (tenant TEXT NOT NULL, serial TEXT NOT NULL, ca TEXT NOT NULL,"
    "  refresh_at INTEGER NOT NULL, this_update INTEGER NOT NULL,"
    "  next_update INTEGER NOT NULL, der BLOB, PRIMARY KEY (tenant, serial));"
    "CREATE INDEX ocsp_responses_due ON ocsp_responses (tenant, ca, refresh_at);"
    "INSERT INTO ocsp_responses (tenant, serial, ca, refresh_at, this_update, next_update)"
    "  SELECT tenant, serial, ca, 0, 0, 0 FROM certs;"
    "CREATE TRIGGER certs_ocsp_insert AFTER INSERT ON certs BEGIN"
    "  INSERT OR REPLACE INTO ocsp_responses"
    "    (tenant, serial, ca, refresh_at, this_update, next_update, der)"
    "    VALUES (new.tenant, new.serial, new.ca, 0, 0, 0, NULL);"
    "  END;"
    "CREATE TRIGGER certs_ocsp_status"
    "  AFTER UPDATE OF status, revoked_at, reason, invalidity_date ON certs BEGIN"
    "  UPDATE ocsp_responses SET der = NULL, refresh_at = 0"
    "    WHERE tenant = new.tenant AND serial = new.serial;"
    "  END;",
    /* 3: CRL publication (issue 3): when a certificate's status last changed (for
       delta CRLs) and its CRL shard; the scope of each CRL.  Existing revoked
       and held certificates count as changed when they were revoked. */
    "ALTER TABLE certs ADD COLUMN status_changed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE certs ADD COLUMN crl_shard INTEGER NOT NULL DEFAULT 0;"
    "UPDATE certs SET status_changed = revoked_at WHERE status IN ('revoked', 'hold');"
    /* What a CRL reads, in an index of the revoked and held ones only. */
    "CREATE INDEX certs_crl ON certs (tenant, ca, crl_shard, serial, status, not_after,"
    "  revoked_at, reason, invalidity_date, status_changed)"
    "  WHERE status IN ('revoked', 'hold');"
    "CREATE INDEX certs_changed ON certs (tenant, ca, status_changed) WHERE status_changed > 0;"
    "ALTER TABLE crls ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE crls ADD COLUMN delta_base INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX crls_scope ON crls (tenant, ca, shard, number);",
    /* 4: time-stamping units and the tokens they issued (issue 4) */
    "CREATE TABLE tsa_units (tenant TEXT NOT NULL, name TEXT NOT NULL, ca TEXT NOT NULL,"
    "  key_id TEXT NOT NULL, key_type TEXT NOT NULL, status TEXT NOT NULL,"
    "  cert_serial TEXT NOT NULL, cert BLOB NOT NULL, chain BLOB, policy TEXT NOT NULL,"
    "  policies TEXT NOT NULL, hashes TEXT NOT NULL, accuracy_ms INTEGER NOT NULL,"
    "  include_chain INTEGER NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE tsa_tokens (tenant TEXT NOT NULL, unit TEXT NOT NULL, serial TEXT NOT NULL,"
    "  gen_time TEXT NOT NULL, time INTEGER NOT NULL, policy TEXT NOT NULL,"
    "  hash_alg TEXT NOT NULL, imprint TEXT NOT NULL, nonce TEXT, requester TEXT NOT NULL,"
    "  der BLOB NOT NULL, PRIMARY KEY (tenant, unit, serial));"
    "CREATE INDEX tsa_tokens_imprint ON tsa_tokens (tenant, unit, imprint);"
    "CREATE INDEX tsa_tokens_time ON tsa_tokens (tenant, unit, time);",
    /* 5: audit checkpoints, their signing keys and SIEM forwarding state (issue 5) */
    "CREATE TABLE audit_keys (tenant TEXT NOT NULL PRIMARY KEY, key_id TEXT NOT NULL,"
    "  key_type TEXT NOT NULL, public_pem TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE audit_checkpoints (tenant TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  time INTEGER NOT NULL, head_hash TEXT NOT NULL, key_id TEXT NOT NULL,"
    "  der BLOB NOT NULL, sig BLOB NOT NULL, PRIMARY KEY (tenant, seq));"
    "CREATE TABLE audit_forwarding (tenant TEXT NOT NULL, target TEXT NOT NULL,"
    "  last_seq INTEGER NOT NULL, PRIMARY KEY (tenant, target));"
    "CREATE TABLE audit_targets (tenant TEXT NOT NULL PRIMARY KEY, host TEXT NOT NULL,"
    "  port INTEGER NOT NULL, transport TEXT NOT NULL, ca_pem TEXT, created INTEGER NOT NULL);",
    /* 6: leases of scheduled jobs (issue 7) */
    ("CREATE TABLE leases (tenant TEXT NOT NULL, job TEXT NOT NULL, holder TEXT NOT NULL,"
     "  until INTEGER NOT NULL, PRIMARY KEY (tenant, job));"),
    /* 7: tenant lifecycle and limits (issue 5) */
    "ALTER TABLE tenants ADD COLUMN status_reason TEXT;"
    "ALTER TABLE tenants ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tenants ADD COLUMN purge_after INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tenants ADD COLUMN certs_per_hour INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tenants ADD COLUMN requests_per_second INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE certs ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX certs_counted ON certs (tenant, created) WHERE counted = 1;",
    /* 8: the registration authority: approval workflows, requests, webhooks (issue 5) */
    "CREATE TABLE workflows (tenant TEXT NOT NULL, name TEXT NOT NULL,"
    "  required INTEGER NOT NULL, approvers TEXT, expires_hours INTEGER NOT NULL,"
    "  created INTEGER NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE requests (tenant TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL,"
    "  object TEXT NOT NULL, params TEXT NOT NULL, requester TEXT NOT NULL,"
    "  status TEXT NOT NULL, required INTEGER NOT NULL, approvers TEXT,"
    "  approvals TEXT NOT NULL, result TEXT, reason TEXT, created INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL, decided INTEGER NOT NULL, PRIMARY KEY (tenant, id));"
    "CREATE INDEX requests_status ON requests (tenant, status, created);"
    "CREATE TABLE webhooks (tenant TEXT NOT NULL PRIMARY KEY, url TEXT NOT NULL,"
    "  secret TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE webhook_events (tenant TEXT NOT NULL, id TEXT NOT NULL,"
    "  event TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL,"
    "  next_attempt INTEGER NOT NULL, status TEXT NOT NULL, created INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, id));"
    "CREATE INDEX webhook_events_due ON webhook_events (tenant, status, next_attempt);"
    /* A key is one CA's (of two concurrent creations with one key, one fails); '' = offline. */
    "CREATE UNIQUE INDEX cas_key ON cas (tenant, key_id) WHERE key_id <> '';",

    /*
     * 9: principals, their role bindings, argon2id tokens and the requester of
     * each certificate (issue 5).  Every existing token becomes a principal of
     * its own (same id) holding what its old role granted: "admin" every
     * tenant role, "system" the system administrator's role in _system.
     */
    "CREATE TABLE principals (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
    "  kind TEXT NOT NULL, allow TEXT NOT NULL, disabled INTEGER NOT NULL,"
    "  created INTEGER NOT NULL, cert_issuer TEXT, cert_subject TEXT, cert_sha256 TEXT,"
    "  PRIMARY KEY (tenant, id), UNIQUE (tenant, name));"
    "CREATE TABLE client_cas (tenant TEXT NOT NULL, name TEXT NOT NULL, ca TEXT,"
    "  cert BLOB NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (tenant, name));"
    "CREATE TABLE role_bindings (tenant TEXT NOT NULL, principal_tenant TEXT NOT NULL,"
    "  principal TEXT NOT NULL, role TEXT NOT NULL, created INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, principal_tenant, principal, role));"
    "ALTER TABLE tokens ADD COLUMN principal TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tokens ADD COLUMN secret TEXT;"
    "ALTER TABLE tokens ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE certs ADD COLUMN requester TEXT;"
    "CREATE INDEX certs_requester ON certs (tenant, requester) WHERE requester IS NOT NULL;"
    "INSERT INTO principals (tenant, id, name, kind, allow, disabled, created)"
    "  SELECT tenant, id, name || ' (' || id || ')', 'application', '[]', 0, created FROM tokens;"
    "UPDATE tokens SET principal = id;"
    "INSERT INTO role_bindings (tenant, principal_tenant, principal, role, created)"
    "  SELECT t.tenant, t.tenant, t.id, r.role, t.created FROM tokens t,"
    "  (SELECT 'tenant-admin' AS role UNION ALL SELECT 'ca-operator' UNION ALL"
    "   SELECT 'ra-officer' UNION ALL SELECT 'requester' UNION ALL SELECT 'auditor') r"
    "  WHERE t.role = 'admin';"
    "INSERT INTO role_bindings (tenant, principal_tenant, principal, role, created)"
    "  SELECT '_system', tenant, id, 'system-admin', created FROM tokens WHERE role = 'system';",
    /* 10: bundles imported from offline CAs (issue 8): replays and re-imports */
    ("CREATE TABLE offline_imports (tenant TEXT NOT NULL, source TEXT NOT NULL,"
     "  seq INTEGER NOT NULL, digest TEXT NOT NULL, signer TEXT NOT NULL,"
     "  audit_seq INTEGER NOT NULL, audit_head TEXT NOT NULL, imported INTEGER NOT NULL, PRIMARY "
     "KEY (tenant, source, seq));"),
    /* 11: a TLS client certificate finds its principal through an index, not a scan */
    ("CREATE INDEX principals_cert_sha256 ON principals (tenant, cert_sha256);"
     "CREATE INDEX principals_cert_name ON principals (tenant, cert_issuer, cert_subject);"),
    /* 12: webhook secrets are derived by the signer: the key and nonce it derives from */
    ("ALTER TABLE webhooks ADD COLUMN key_id TEXT;"
     "ALTER TABLE webhooks ADD COLUMN nonce TEXT;"),
    /* 13: idempotency keys of issuance requests */
    ("CREATE TABLE idempotency (tenant TEXT NOT NULL, key TEXT NOT NULL, principal TEXT NOT NULL,"
     "  request_hash TEXT NOT NULL, serial TEXT NOT NULL, created INTEGER NOT NULL,"
     "  PRIMARY KEY (tenant, key));"
     "CREATE INDEX idempotency_created ON idempotency (tenant, created);"),
    /* 14: idempotency keys of every operation: what the key's outcome is */
    ("ALTER TABLE idempotency RENAME COLUMN serial TO object;"
     "ALTER TABLE idempotency ADD COLUMN outcome TEXT NOT NULL DEFAULT 'certificate';"),
    /*
     * 15: ACME (issue 16): endpoints, EAB credentials, accounts (one per key and
     * endpoint), orders, authorizations, used nonces; the secrets every node
     * shares; renewal windows set on certificates (RFC 9773)
     */
    ("CREATE TABLE acme_endpoints (tenant TEXT NOT NULL, name TEXT NOT NULL, ca TEXT NOT NULL,"
     "  status TEXT NOT NULL, settings TEXT NOT NULL, created INTEGER NOT NULL,"
     "  updated INTEGER NOT NULL, PRIMARY KEY (tenant, name));"
     "CREATE TABLE acme_eabs (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, kid TEXT NOT NULL,"
     "  key_id TEXT NOT NULL, nonce TEXT NOT NULL, settings TEXT NOT NULL, status TEXT NOT NULL,"
     "  uses INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
     "  PRIMARY KEY (tenant, endpoint, kid));"
     "CREATE TABLE acme_accounts (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, id TEXT NOT NULL,"
     "  thumbprint TEXT NOT NULL, jwk TEXT NOT NULL, status TEXT NOT NULL, contact TEXT NOT NULL,"
     "  eab_kid TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
     "  PRIMARY KEY (tenant, endpoint, id));"
     "CREATE UNIQUE INDEX acme_accounts_key ON acme_accounts (tenant, endpoint, thumbprint);"
     "CREATE INDEX acme_accounts_eab ON acme_accounts (tenant, endpoint, eab_kid)"
     "  WHERE eab_kid IS NOT NULL;"
     "CREATE TABLE acme_orders (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, id TEXT NOT NULL,"
     "  account TEXT NOT NULL, status TEXT NOT NULL, identifiers TEXT NOT NULL,"
     "  authzs TEXT NOT NULL, profile TEXT NOT NULL, not_before INTEGER NOT NULL,"
     "  not_after INTEGER NOT NULL, expires INTEGER NOT NULL, error TEXT, serial TEXT,"
     "  request TEXT, replaces TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
     "  PRIMARY KEY (tenant, endpoint, id));"
     "CREATE INDEX acme_orders_account ON acme_orders (tenant, endpoint, account, created);"
     "CREATE TABLE acme_authzs (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, id TEXT NOT NULL,"
     "  account TEXT NOT NULL, ident_type TEXT NOT NULL, ident_value TEXT NOT NULL,"
     "  wildcard INTEGER NOT NULL, status TEXT NOT NULL, expires INTEGER NOT NULL,"
     "  challenges TEXT NOT NULL, validating INTEGER NOT NULL, created INTEGER NOT NULL,"
     "  updated INTEGER NOT NULL, PRIMARY KEY (tenant, endpoint, id));"
     "CREATE INDEX acme_authzs_reuse ON acme_authzs (tenant, endpoint, account, ident_type,"
     "  ident_value, wildcard, status, expires);"
     "CREATE INDEX acme_authzs_stalled ON acme_authzs (tenant, validating) WHERE validating > 0;"
     "CREATE TABLE acme_nonces (tenant TEXT NOT NULL, nonce TEXT NOT NULL,"
     "  expires INTEGER NOT NULL, PRIMARY KEY (tenant, nonce));"
     "CREATE INDEX acme_nonces_expires ON acme_nonces (tenant, expires);"
     "CREATE INDEX acme_orders_expires ON acme_orders (tenant, expires);"
     "CREATE INDEX acme_authzs_expires ON acme_authzs (tenant, expires);"
     "CREATE TABLE secrets (tenant TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
     "  created INTEGER NOT NULL, PRIMARY KEY (tenant, name));"
     "CREATE TABLE renewal_windows (tenant TEXT NOT NULL, serial TEXT NOT NULL,"
     "  window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, reason TEXT,"
     "  created INTEGER NOT NULL, PRIMARY KEY (tenant, serial));"),
    /*
     * 16: who stands behind a credential (issue 23): the people besides its
     * principal who made a token, and who bound each role when.  A token made before is given the
     * maker its token.create event names (when that is not its own principal).
     */
    ("ALTER TABLE tokens ADD COLUMN creators TEXT DEFAULT '[]';"
     "ALTER TABLE role_bindings ADD COLUMN granted_by TEXT;"
     "ALTER TABLE role_bindings ADD COLUMN granted INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE acme_eabs ADD COLUMN creators TEXT;"
     "ALTER TABLE acme_accounts ADD COLUMN creators TEXT;"
     "UPDATE tokens SET creators = COALESCE((SELECT json_array(COALESCE(m.principal, a.actor))"
     "  FROM audit a LEFT JOIN tokens m ON m.id = a.actor WHERE a.tenant = tokens.tenant"
     "  AND a.action = 'token.create' AND a.object = tokens.id"
     "  AND COALESCE(m.principal, a.actor) <> tokens.principal LIMIT 1), '[]');"),
    /*
     * 17: device enrollment (issue 17): endpoints of a protocol (EST now, SCEP
     * later) naming a CA and a profile, and their enrollment credentials (EST
     * Basic passwords, SCEP challenge passwords: an argon2id hash, one-time or
     * reusable)
     */
    ("CREATE TABLE enroll_endpoints (tenant TEXT NOT NULL, name TEXT NOT NULL,"
     "  protocol TEXT NOT NULL, ca TEXT NOT NULL, profile TEXT NOT NULL, status TEXT NOT NULL,"
     "  settings TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
     "  PRIMARY KEY (tenant, name));"
     "CREATE TABLE enroll_credentials (tenant TEXT NOT NULL, endpoint TEXT NOT NULL,"
     "  id TEXT NOT NULL, secret_hash TEXT NOT NULL, reusable INTEGER NOT NULL,"
     "  status TEXT NOT NULL, uses INTEGER NOT NULL, creators TEXT, created INTEGER NOT NULL,"
     "  updated INTEGER NOT NULL, PRIMARY KEY (tenant, endpoint, id));"),
    /*
     * 18: CMP (issue 18): endpoints, shared secrets (derived in the signer, as
     * EAB keys), transactions by transactionID (a certificate waiting for its
     * certConf, a request waiting for an approval) and used senderNonces
     */
    ("CREATE TABLE cmp_endpoints (tenant TEXT NOT NULL, name TEXT NOT NULL, ca TEXT NOT NULL,"
     "  status TEXT NOT NULL, settings TEXT NOT NULL, created INTEGER NOT NULL,"
     "  updated INTEGER NOT NULL, key_id TEXT, cert_serial TEXT, PRIMARY KEY (tenant, name));"
     "CREATE TABLE cmp_secrets (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, ref TEXT NOT NULL,"
     "  key_id TEXT NOT NULL, nonce TEXT NOT NULL, settings TEXT NOT NULL, status TEXT NOT NULL,"
     "  uses INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, creators TEXT,"
     "  PRIMARY KEY (tenant, endpoint, ref));"
     "CREATE TABLE cmp_transactions (tenant TEXT NOT NULL, endpoint TEXT NOT NULL,"
     "  txid TEXT NOT NULL, status TEXT NOT NULL, serial TEXT, cert_hash TEXT,"
     "  requester TEXT NOT NULL, protection TEXT NOT NULL, request TEXT, message TEXT,"
     "  server_nonce TEXT, expires INTEGER NOT NULL, created INTEGER NOT NULL,"
     "  updated INTEGER NOT NULL,"
     "  PRIMARY KEY (tenant, endpoint, txid));"
     "CREATE INDEX cmp_transactions_waiting ON cmp_transactions (tenant, status, expires);"
     "CREATE TABLE cmp_nonces (tenant TEXT NOT NULL, nonce TEXT NOT NULL,"
     "  expires INTEGER NOT NULL, PRIMARY KEY (tenant, nonce));"
     "CREATE INDEX cmp_nonces_expires ON cmp_nonces (tenant, expires);"),
    /*
     * 19: expiry notices (issue 21): a tenant's notice settings (thresholds in
     * days, extra recipients, on/off) and one row per notice decided (unique
     * per tenant, serial, threshold: two nodes never both send), with its
     * delivery state for retries
     */
    ("CREATE TABLE notice_settings (tenant TEXT NOT NULL, enabled INTEGER NOT NULL,"
     "  thresholds TEXT NOT NULL, recipients TEXT NOT NULL, updated INTEGER NOT NULL,"
     "  PRIMARY KEY (tenant));"
     "CREATE TABLE notices (tenant TEXT NOT NULL, serial TEXT NOT NULL,"
     "  threshold INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,"
     "  attempts INTEGER NOT NULL, next_try INTEGER NOT NULL, created INTEGER NOT NULL,"
     "  sent_at INTEGER NOT NULL, PRIMARY KEY (tenant, serial, threshold));"
     "CREATE INDEX notices_retry ON notices (tenant, state, next_try);"
     "CREATE INDEX certs_renewed_from ON certs (tenant, renewed_from);"),
};

const int sqlite_migration_count = (int)ARRAY_LEN(sqlite_migrations);
