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
    /* 7: bundles imported from offline CAs (issue 8): replays and re-imports */
    ("CREATE TABLE offline_imports (tenant TEXT NOT NULL, source TEXT NOT NULL,"
     "  seq INTEGER NOT NULL, digest TEXT NOT NULL, signer TEXT NOT NULL,"
     "  audit_seq INTEGER NOT NULL, audit_head TEXT NOT NULL, imported INTEGER NOT NULL, PRIMARY "
     "KEY (tenant, source, seq));"),
};

const int sqlite_migration_count = (int)ARRAY_LEN(sqlite_migrations);
