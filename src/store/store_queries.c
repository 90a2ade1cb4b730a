/*
 * store_queries.c — the SQL both dialects share: the queries whose text is
 * the same in SQLite and PostgreSQL, written with ?1, ?2 ... (PostgreSQL's
 * $1, $2 ... when its texts are expanded), and the searches' heads and tails.
 * What a dialect writes its own way, and the queries only one of them has,
 * are in sqlite_queries.c and pg_queries.c, whose texts win over these.
 */
#include "store/store_driver.h"

const char *const store_queries[Q_COUNT] = {
    /* tenants */
    [Q_TENANT_GET] = "SELECT {tenant} FROM tenants WHERE name = ?1",
    [Q_TENANT_LIST] = "SELECT {tenant} FROM tenants ORDER BY name",
    [Q_TENANT_UPDATE] = "UPDATE tenants SET status = ?2, status_reason = ?3, deleted_at = ?4,"
                        " purge_after = ?5, certs_per_hour = ?6, requests_per_second = ?7"
                        " WHERE name = ?1",

    /* CAs and profiles */
    [Q_CA_UPDATE] = "UPDATE cas SET status = ?3, subject = ?4, cert = ?5, chain = ?6, "
                    "options = ?7, not_before = ?8, not_after = ?9 "
                    "WHERE tenant = ?1 AND name = ?2",
    [Q_CA_GET] = "SELECT {ca} FROM cas WHERE tenant = ?1 AND name = ?2",
    [Q_CA_LIST] = "SELECT {ca} FROM cas WHERE tenant = ?1 ORDER BY created, name",
    [Q_PROFILE_MAXVER] =
        "SELECT COALESCE(MAX(version), 0) FROM profiles WHERE tenant = ?1 AND name = ?2",
    [Q_PROFILE_GET_LATEST] = "SELECT {profile} FROM profiles "
                             "WHERE tenant = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
    [Q_PROFILE_GET_VERSION] = "SELECT {profile} FROM profiles "
                              "WHERE tenant = ?1 AND name = ?2 AND version = ?3",
    [Q_PROFILE_LIST] = "SELECT {profile} FROM profiles p "
                       "WHERE p.tenant = ?1 AND p.version = (SELECT MAX(q.version) FROM profiles q "
                       "WHERE q.tenant = p.tenant AND q.name = p.name) ORDER BY p.name",

    /* end entities */
    [Q_ENTITY_UPDATE] = "UPDATE entities SET name = ?3, kind = ?4, email = ?5, "
                        "manufacturer = ?6, model = ?7, serial_number = ?8, metadata = ?9 "
                        "WHERE tenant = ?1 AND id = ?2",
    [Q_ENTITY_GET] = "SELECT {entity} FROM entities WHERE tenant = ?1 AND id = ?2",

    /* certificates */
    [Q_CERT_GET] = "SELECT {cert} FROM certs WHERE tenant = ?1 AND serial = ?2",
    [Q_CERT_COUNT_SINCE] =
        "SELECT count(*) FROM certs WHERE tenant = ?1 AND counted = 1 AND created >= ?2",
    [Q_CERT_SET_STATUS] =
        "UPDATE certs SET status = ?3, revoked_at = ?4, reason = ?5, "
        "invalidity_date = ?6, status_changed = ?7 WHERE tenant = ?1 AND serial = ?2",
    [Q_CERT_REVOKED] = "SELECT {cert} FROM certs WHERE tenant = ?1 AND ca = ?2 "
                       "AND status IN ('revoked', 'hold') AND not_after >= ?3 ORDER BY serial",

    /* CRLs */
    [Q_CRL_LATEST] = "SELECT {crl} FROM crls WHERE tenant = ?1 AND ca = ?2 "
                     "AND shard = 0 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_LATEST_FULL] = "SELECT {crl} FROM crls WHERE tenant = ?1 AND ca = ?2 "
                          "AND shard = ?3 AND delta_base = 0 ORDER BY number DESC LIMIT 1",
    [Q_CRL_LATEST_DELTA] = "SELECT {crl} FROM crls WHERE tenant = ?1 AND ca = ?2 "
                           "AND shard = ?3 AND delta_base > 0 ORDER BY number DESC LIMIT 1",

    /* OCSP */
    [Q_OCSP_RESPONDER_GET] = "SELECT {responder} FROM ocsp_responders "
                             "WHERE tenant = ?1 AND ca = ?2",
    [Q_OCSP_GET] = "SELECT {ocsp} FROM ocsp_responses WHERE tenant = ?1 AND serial = ?2",
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
    [Q_TOKEN_FIND] = "SELECT {token} FROM tokens WHERE hash = ?1",
    [Q_TOKEN_LIST] = "SELECT {token} FROM tokens WHERE tenant = ?1 ORDER BY created, id",
    [Q_TOKEN_DELETE] = "DELETE FROM tokens WHERE tenant = ?1 AND id = ?2",
    [Q_TOKEN_REVOKE] =
        "UPDATE tokens SET revoked = ?3 WHERE tenant = ?1 AND id = ?2 AND revoked = 0",
    [Q_PRINCIPAL_GET] = "SELECT {principal} FROM principals WHERE tenant = ?1 AND id = ?2",
    [Q_PRINCIPAL_LIST] =
        "SELECT {principal} FROM principals WHERE tenant = ?1 ORDER BY created, id",
    [Q_PRINCIPAL_DISABLE] = "UPDATE principals SET disabled = ?3 WHERE tenant = ?1 AND id = ?2",
    [Q_CLIENT_CA_LIST] =
        "SELECT {client_ca} FROM client_cas WHERE tenant = ?1 ORDER BY created, name",
    [Q_CLIENT_CA_DELETE] = "DELETE FROM client_cas WHERE tenant = ?1 AND name = ?2",
    [Q_BINDING_DELETE] = "DELETE FROM role_bindings WHERE tenant = ?1 AND principal_tenant = ?2 "
                         "AND principal = ?3 AND role = ?4",
    [Q_BINDING_LIST] = "SELECT {binding} FROM role_bindings WHERE tenant = ?1 "
                       "ORDER BY principal_tenant, principal, role",
    [Q_BINDING_LIST_OF] = "SELECT {binding} FROM role_bindings WHERE tenant = ?1 "
                          "AND principal_tenant = ?2 AND principal = ?3 ORDER BY role",

    /* audit */
    [Q_AUDIT_LAST] = "SELECT {audit} FROM audit WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_LIST] = "SELECT {audit} FROM audit WHERE tenant = ?1 AND seq > ?2 "
                     "ORDER BY seq LIMIT ?3",
    [Q_AUDIT_KEY_GET] = "SELECT {audit_key} FROM audit_keys WHERE tenant = ?1",
    [Q_AUDIT_CHECKPOINT_LAST] = "SELECT {checkpoint} FROM audit_checkpoints "
                                "WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_CHECKPOINT_LIST] = "SELECT {checkpoint} FROM audit_checkpoints "
                                "WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_AUDIT_FORWARD_GET] =
        "SELECT last_seq FROM audit_forwarding WHERE tenant = ?1 AND target = ?2",
    [Q_AUDIT_TARGET_GET] = "SELECT {target} FROM audit_targets WHERE tenant = ?1",
    [Q_AUDIT_TARGET_DELETE] = "DELETE FROM audit_targets WHERE tenant = ?1",
    [Q_AUDIT_TARGET_LIST] = "SELECT {target} FROM audit_targets ORDER BY tenant",

    /* time-stamping */
    [Q_TSA_UNIT_GET] = "SELECT {tsa_unit} FROM tsa_units WHERE tenant = ?1 AND name = ?2",
    [Q_TSA_UNIT_UPDATE] = "UPDATE tsa_units SET status = ?3, policy = ?4, policies = ?5, "
                          "hashes = ?6, accuracy_ms = ?7, include_chain = ?8 "
                          "WHERE tenant = ?1 AND name = ?2",
    [Q_TSA_UNIT_LIST] = "SELECT {tsa_unit} FROM tsa_units WHERE tenant = ?1 ORDER BY created, name",
    [Q_TSA_TOKEN_GET] = "SELECT {tsa_token} FROM tsa_tokens "
                        "WHERE tenant = ?1 AND unit = ?2 AND serial = ?3",

    /* leases, idempotency keys, offline imports */
    [Q_IDEMPOTENCY_GET] = "SELECT {idempotency} FROM idempotency WHERE tenant = ?1 AND "
                          "key = ?2",
    [Q_IDEMPOTENCY_PRUNE] = "DELETE FROM idempotency WHERE tenant = ?1 AND created < ?2",
    [Q_OFFLINE_GET] = "SELECT {offline_import} FROM offline_imports WHERE tenant = ?1 AND "
                      "source = ?2 AND (?3 = 0 OR seq = ?3) ORDER BY seq DESC LIMIT 1",

    /* registration authority */
    [Q_WORKFLOW_GET] = "SELECT {workflow} FROM workflows WHERE tenant = ?1 AND name = ?2",
    [Q_WORKFLOW_LIST] = "SELECT {workflow} FROM workflows WHERE tenant = ?1 ORDER BY name",
    [Q_WORKFLOW_DELETE] = "DELETE FROM workflows WHERE tenant = ?1 AND name = ?2",
    [Q_REQUEST_GET] = "SELECT {request} FROM requests WHERE tenant = ?1 AND id = ?2",
    [Q_REQUEST_UPDATE] = "UPDATE requests SET status = ?3, approvals = ?4, result = ?5, "
                         "reason = ?6, decided = ?7 WHERE tenant = ?1 AND id = ?2",
    [Q_REQUEST_EXPIRE] = "UPDATE requests SET status = 'expired', decided = ?2"
                         " WHERE tenant = ?1 AND status = 'pending' AND expires <= ?2",
    [Q_REQUEST_COUNT] = "SELECT count(*) FROM requests WHERE tenant = ?1 AND status = ?2",
    [Q_WEBHOOK_GET] = "SELECT {webhook} FROM webhooks WHERE tenant = ?1",
    [Q_WEBHOOK_DELETE] = "DELETE FROM webhooks WHERE tenant = ?1",
    [Q_WEBHOOK_EVENT_DUE] = "SELECT {webhook_event} FROM webhook_events WHERE tenant = ?1"
                            " AND status = 'pending' AND next_attempt <= ?2"
                            " ORDER BY created, id LIMIT ?3",
    [Q_WEBHOOK_EVENT_COUNT] =
        "SELECT count(*) FROM webhook_events WHERE tenant = ?1 AND status = 'pending'",
    [Q_WEBHOOK_EVENT_DELETE] = "DELETE FROM webhook_events WHERE tenant = ?1 AND id = ?2",
    [Q_WEBHOOK_EVENT_UPDATE] = "UPDATE webhook_events SET attempts = ?3, next_attempt = ?4,"
                               " status = ?5 WHERE tenant = ?1 AND id = ?2",

    /* ACME endpoints, EAB credentials, accounts, orders, authorizations */
    [Q_ACME_ENDPOINT_UPDATE] = "UPDATE acme_endpoints SET ca = ?3, status = ?4, settings = ?5,"
                               " updated = ?6 WHERE tenant = ?1 AND name = ?2",
    [Q_ACME_ENDPOINT_GET] =
        "SELECT {acme_endpoint} FROM acme_endpoints WHERE tenant = ?1 AND name = ?2",
    [Q_ACME_ENDPOINT_LIST] =
        "SELECT {acme_endpoint} FROM acme_endpoints WHERE tenant = ?1 ORDER BY name",
    [Q_ACME_EAB_GET] =
        "SELECT {acme_eab} FROM acme_eabs WHERE tenant = ?1 AND endpoint = ?2 AND kid = ?3",
    [Q_ACME_EAB_UPDATE] = "UPDATE acme_eabs SET settings = ?4, status = ?5, uses = ?6,"
                          " updated = ?7 WHERE tenant = ?1 AND endpoint = ?2 AND kid = ?3",
    [Q_ACME_EAB_LIST] =
        "SELECT {acme_eab} FROM acme_eabs WHERE tenant = ?1 AND endpoint = ?2 ORDER BY kid",
    [Q_ACME_EAB_LIST_ALL] =
        "SELECT {acme_eab} FROM acme_eabs WHERE tenant = ?1 ORDER BY kid, endpoint",

    /* enrollment endpoints and credentials */
    [Q_ENROLL_ENDPOINT_INSERT] =
        "INSERT INTO enroll_endpoints ({enroll_endpoint}) VALUES ({?enroll_endpoint})",
    [Q_ENROLL_ENDPOINT_UPDATE] = "UPDATE enroll_endpoints SET ca = ?3, profile = ?4, status = ?5,"
                                 " settings = ?6, updated = ?7 WHERE tenant = ?1 AND name = ?2",
    [Q_ENROLL_ENDPOINT_GET] =
        "SELECT {enroll_endpoint} FROM enroll_endpoints WHERE tenant = ?1 AND name = ?2",
    [Q_ENROLL_ENDPOINT_LIST] =
        "SELECT {enroll_endpoint} FROM enroll_endpoints WHERE tenant = ?1 ORDER BY name",
    [Q_ENROLL_CREDENTIAL_INSERT] =
        "INSERT INTO enroll_credentials ({enroll_credential}) VALUES ({?enroll_credential})",
    [Q_ENROLL_CREDENTIAL_GET] = "SELECT {enroll_credential} FROM enroll_credentials"
                                " WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3",
    [Q_ENROLL_CREDENTIAL_UPDATE] = "UPDATE enroll_credentials SET status = ?4, uses = ?5,"
                                   " updated = ?6 WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3",
    [Q_ENROLL_CREDENTIAL_LIST] = "SELECT {enroll_credential} FROM enroll_credentials"
                                 " WHERE tenant = ?1 AND endpoint = ?2 ORDER BY id",
    [Q_ACME_ACCOUNT_GET] = "SELECT {acme_account} FROM acme_accounts"
                           " WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3",
    [Q_ACME_ACCOUNT_BY_KEY] = "SELECT {acme_account} FROM acme_accounts"
                              " WHERE tenant = ?1 AND endpoint = ?2 AND thumbprint = ?3",
    /*
     * Not when another account of the endpoint has the new key (then no row
     * changes), so that a clash does not abort a PostgreSQL transaction; the
     * unique index still refuses one that commits meanwhile.
     */
    [Q_ACME_ACCOUNT_UPDATE] =
        "UPDATE acme_accounts SET thumbprint = ?4, jwk = ?5, status = ?6, contact = ?7,"
        " updated = ?8 WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3 AND NOT EXISTS"
        " (SELECT 1 FROM acme_accounts o WHERE o.tenant = ?1 AND o.endpoint = ?2"
        " AND o.thumbprint = ?4 AND o.id <> ?3)",
    [Q_ACME_ACCOUNT_BY_EAB] = "SELECT {acme_account} FROM acme_accounts"
                              " WHERE tenant = ?1 AND endpoint = ?2 AND eab_kid = ?3 ORDER BY id",
    [Q_ACME_ORDER_GET] =
        "SELECT {acme_order} FROM acme_orders WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3",
    [Q_ACME_ORDER_UPDATE] = "UPDATE acme_orders SET status = ?4, error = ?5, serial = ?6,"
                            " request = ?7, updated = ?8"
                            " WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3",
    [Q_ACME_ORDER_LIST] = "SELECT {acme_order} FROM acme_orders"
                          " WHERE tenant = ?1 AND endpoint = ?2 AND account = ?3"
                          " ORDER BY created DESC, id LIMIT ?4 OFFSET ?5",
    [Q_ACME_AUTHZ_GET] =
        "SELECT {acme_authz} FROM acme_authzs WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3",
    [Q_ACME_AUTHZ_UPDATE] = "UPDATE acme_authzs SET status = ?4, expires = ?5, challenges = ?6,"
                            " validating = ?7, updated = ?8"
                            " WHERE tenant = ?1 AND endpoint = ?2 AND id = ?3",
    [Q_ACME_AUTHZ_REUSABLE] =
        "SELECT {acme_authz} FROM acme_authzs WHERE tenant = ?1 AND endpoint = ?2"
        " AND account = ?3 AND ident_type = ?4 AND ident_value = ?5 AND wildcard = ?6"
        " AND status = 'valid' AND expires > ?7 ORDER BY expires DESC, id LIMIT 1",
    [Q_ACME_AUTHZ_STALLED] = "SELECT {acme_authz} FROM acme_authzs WHERE tenant = ?1"
                             " AND validating > 0 AND validating < ?2"
                             " ORDER BY validating, id LIMIT ?3",

    /* used ACME nonces, shared secrets, renewal windows */
    [Q_ACME_NONCE_PRUNE] = "DELETE FROM acme_nonces WHERE tenant = ?1 AND expires < ?2",
    [Q_ACME_ORDER_PRUNE] = "DELETE FROM acme_orders WHERE tenant = ?1 AND expires < ?2 AND "
                           "status <> 'processing'",
    [Q_ACME_AUTHZ_PRUNE] = "DELETE FROM acme_authzs WHERE tenant = ?1 AND expires < ?2",
    /* Of two transactions filing a name at once, the second waits for the first and skips. */
    [Q_SECRET_PUT] = "INSERT INTO secrets (tenant, name, value, created) VALUES (?1, ?2, ?3, ?4)"
                     " ON CONFLICT (tenant, name) DO NOTHING",
    [Q_SECRET_GET] = "SELECT value FROM secrets WHERE tenant = ?1 AND name = ?2",
    /*
     * Reports: every one takes the same five parameters, each cast where it is used so that
     * PostgreSQL knows its type; days are Unix days ((t / 86400) * 86400, UTC), the same
     * integer arithmetic in both dialects.  A good certificate past notAfter counts as expired.
     */
    [Q_REPORT_CERTS] =
        "SELECT ca, COALESCE(profile, ''), CASE WHEN status = 'good' AND not_after <= "
        "CAST(?5 AS BIGINT) THEN 'expired' ELSE status END AS st, count(*) FROM certs"
        " WHERE tenant = ?1 AND created >= CAST(?2 AS BIGINT) AND created < CAST(?3 AS BIGINT)"
        " AND (CAST(?4 AS TEXT) = '' OR ca = CAST(?4 AS TEXT))"
        " GROUP BY ca, COALESCE(profile, ''), st ORDER BY ca, 2, st",
    [Q_REPORT_ISSUED_DAILY] =
        "SELECT (created / 86400) * 86400 AS day, count(*) FROM certs"
        " WHERE tenant = ?1 AND created >= CAST(?2 AS BIGINT) AND created < CAST(?3 AS BIGINT)"
        " AND (CAST(?4 AS TEXT) = '' OR ca = CAST(?4 AS TEXT)) AND CAST(?5 AS BIGINT) >= 0"
        " GROUP BY day ORDER BY day",
    [Q_REPORT_REVOKED_DAILY] =
        "SELECT (revoked_at / 86400) * 86400 AS day, count(*) FROM certs"
        " WHERE tenant = ?1 AND status = 'revoked' AND revoked_at >= CAST(?2 AS BIGINT)"
        " AND revoked_at < CAST(?3 AS BIGINT) AND (CAST(?4 AS TEXT) = '' OR ca = CAST(?4 AS TEXT))"
        " AND CAST(?5 AS BIGINT) >= 0 GROUP BY day ORDER BY day",
    /* ?2 .. ?3 is the window notAfter falls in (now .. now + N days). */
    [Q_REPORT_EXPIRING] =
        "SELECT ca, COALESCE(profile, ''), (not_after / 86400) * 86400 AS day, count(*)"
        " FROM certs WHERE tenant = ?1 AND status = 'good' AND not_after >= CAST(?2 AS BIGINT)"
        " AND not_after < CAST(?3 AS BIGINT) AND (CAST(?4 AS TEXT) = '' OR ca = CAST(?4 AS TEXT))"
        " AND CAST(?5 AS BIGINT) >= 0 GROUP BY ca, COALESCE(profile, ''), day ORDER BY day, ca, 2",
    [Q_REPORT_REVOCATIONS] =
        "SELECT ca, reason, count(*) FROM certs WHERE tenant = ?1 AND status = 'revoked'"
        " AND revoked_at >= CAST(?2 AS BIGINT) AND revoked_at < CAST(?3 AS BIGINT)"
        " AND (CAST(?4 AS TEXT) = '' OR ca = CAST(?4 AS TEXT)) AND CAST(?5 AS BIGINT) >= 0"
        " GROUP BY ca, reason ORDER BY ca, reason",
    /* The newest complete CRL of the whole CA (shard 0, no delta base). */
    [Q_REPORT_CRL_FRESHNESS] =
        "SELECT ca, max(number), max(this_update), max(next_update) FROM crls"
        " WHERE tenant = ?1 AND shard = 0 AND delta_base = 0"
        " AND (CAST(?4 AS TEXT) = '' OR ca = CAST(?4 AS TEXT)) AND CAST(?2 AS BIGINT) <= "
        "CAST(?3 AS BIGINT) + CAST(?5 AS BIGINT) GROUP BY ca ORDER BY ca",
    /* Per CA: stored responses, those not signed yet, the soonest nextUpdate and the oldest
       thisUpdate of the signed ones. */
    [Q_REPORT_OCSP_FRESHNESS] =
        "SELECT ca, count(*), sum(CASE WHEN der IS NULL THEN 1 ELSE 0 END),"
        " COALESCE(min(CASE WHEN der IS NOT NULL THEN next_update END), 0),"
        " COALESCE(min(CASE WHEN der IS NOT NULL THEN this_update END), 0)"
        " FROM ocsp_responses WHERE tenant = ?1"
        " AND (CAST(?4 AS TEXT) = '' OR ca = CAST(?4 AS TEXT)) AND CAST(?2 AS BIGINT) <= "
        "CAST(?3 AS BIGINT) + CAST(?5 AS BIGINT) GROUP BY ca ORDER BY ca",
    /* By kind and outcome: how many, and the seconds to a decision (sum over the decided, how
       many were decided, the longest). */
    [Q_REPORT_APPROVALS] =
        "SELECT kind, status, count(*),"
        " COALESCE(sum(CASE WHEN decided > 0 THEN decided - created ELSE 0 END), 0),"
        " sum(CASE WHEN decided > 0 THEN 1 ELSE 0 END),"
        " COALESCE(max(CASE WHEN decided > 0 THEN decided - created END), 0)"
        " FROM requests WHERE tenant = ?1 AND created >= CAST(?2 AS BIGINT)"
        " AND created < CAST(?3 AS BIGINT) AND CAST(?4 AS TEXT) IS NOT NULL"
        " AND CAST(?5 AS BIGINT) >= 0"
        " GROUP BY kind, status ORDER BY kind, status",
    [Q_RENEWAL_WINDOW_GET] =
        "SELECT {renewal_window} FROM renewal_windows WHERE tenant = ?1 AND serial = ?2",
    /* CMP endpoints, shared secrets, transactions */
    [Q_CMP_ENDPOINT_UPDATE] = "UPDATE cmp_endpoints SET ca = ?3, status = ?4, settings = ?5,"
                              " updated = ?6, key_id = ?7, cert_serial = ?8"
                              " WHERE tenant = ?1 AND name = ?2",
    [Q_CMP_ENDPOINT_GET] =
        "SELECT {cmp_endpoint} FROM cmp_endpoints WHERE tenant = ?1 AND name = ?2",
    [Q_CMP_ENDPOINT_LIST] =
        "SELECT {cmp_endpoint} FROM cmp_endpoints WHERE tenant = ?1 ORDER BY name",
    [Q_CMP_SECRET_GET] =
        "SELECT {cmp_secret} FROM cmp_secrets WHERE tenant = ?1 AND endpoint = ?2 AND ref = ?3",
    [Q_CMP_SECRET_UPDATE] = "UPDATE cmp_secrets SET settings = ?4, status = ?5, uses = ?6,"
                            " updated = ?7 WHERE tenant = ?1 AND endpoint = ?2 AND ref = ?3",
    [Q_CMP_SECRET_LIST] =
        "SELECT {cmp_secret} FROM cmp_secrets WHERE tenant = ?1 AND endpoint = ?2 ORDER BY ref",
    [Q_CMP_SECRET_LIST_ALL] =
        "SELECT {cmp_secret} FROM cmp_secrets WHERE tenant = ?1 ORDER BY ref, endpoint",
    [Q_CMP_TX_GET] = "SELECT {cmp_transaction} FROM cmp_transactions"
                     " WHERE tenant = ?1 AND endpoint = ?2 AND txid = ?3",
    [Q_CMP_TX_UPDATE] = "UPDATE cmp_transactions SET status = ?4, serial = ?5, cert_hash = ?6,"
                        " request = ?7, message = ?8, expires = ?9, updated = ?10,"
                        " server_nonce = ?11"
                        " WHERE tenant = ?1 AND endpoint = ?2 AND txid = ?3",
    [Q_CMP_NONCE_PRUNE] = "DELETE FROM cmp_nonces WHERE tenant = ?1 AND expires < ?2",
    /* Settled transactions (a waiting or pending one stays until it settles) */
    [Q_CMP_TX_PRUNE] = "DELETE FROM cmp_transactions WHERE tenant = ?1 AND updated < ?2"
                       " AND status NOT IN ('waiting', 'pending')",
    [Q_CMP_TX_EXPIRED] = "SELECT {cmp_transaction} FROM cmp_transactions WHERE tenant = ?1"
                         " AND status = 'waiting' AND expires < ?2 ORDER BY expires LIMIT ?3",

    /* expiry notices */
    [Q_NOTICE_SETTINGS_GET] = "SELECT {notice_settings} FROM notice_settings WHERE tenant = ?1",
    /*
     * ?3..?10: the thresholds in seconds, ascending, the last repeated; the
     * CASE is the nearest threshold crossed (in days), the one a notice is for;
     * a notice for it or a nearer one (thresholds changed since) means done.
     * Not the certificates vouchd renews itself (delegated OCSP responders:
     * profile ocsp-signing, no requester), nor a CA's own certificate (its CA
     * has notices of its own, Q_NOTICE_CA_DUE).
     */
    [Q_NOTICE_DUE] =
        "SELECT c.tenant, c.serial, c.ca, c.profile, c.profile_version, c.entity_id, "
        "c.subject, c.sans, c.status, c.not_before, c.not_after, c.revoked_at, "
        "c.reason, c.invalidity_date, c.renewed_from, NULL, c.created, c.status_changed, "
        "c.crl_shard, c.counted, c.requester FROM certs c "
        "WHERE c.tenant = ?1 AND c.status = 'good' AND c.not_after > ?2 "
        "AND c.not_after - ?2 <= ?10 "
        "AND NOT (c.profile = 'ocsp-signing' AND c.requester IS NULL) "
        "AND NOT EXISTS (SELECT 1 FROM certs r WHERE r.tenant = c.tenant "
        "AND r.renewed_from = c.serial) "
        "AND NOT EXISTS (SELECT 1 FROM cas a WHERE a.tenant = c.tenant AND a.cert = c.der) "
        "AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.tenant = c.tenant "
        "AND n.serial = c.serial AND n.threshold * 86400 <= CASE "
        "WHEN c.not_after - ?2 <= ?3 THEN ?3 WHEN c.not_after - ?2 <= ?4 THEN ?4 "
        "WHEN c.not_after - ?2 <= ?5 THEN ?5 WHEN c.not_after - ?2 <= ?6 THEN ?6 "
        "WHEN c.not_after - ?2 <= ?7 THEN ?7 WHEN c.not_after - ?2 <= ?8 THEN ?8 "
        "WHEN c.not_after - ?2 <= ?9 THEN ?9 ELSE ?10 END) "
        "ORDER BY c.not_after LIMIT ?11",
    [Q_NOTICE_MARK] = "UPDATE notices SET state = ?4, attempts = ?5, next_try = ?6, sent_at = ?7"
                      " WHERE tenant = ?1 AND serial = ?2 AND threshold = ?3",
    [Q_NOTICE_PENDING] = "SELECT {notice} FROM notices WHERE tenant = ?1 AND state = 'pending'"
                         " AND next_try <= ?2 ORDER BY next_try LIMIT ?3",
    [Q_NOTICE_LIST] =
        "SELECT {notice} FROM notices WHERE tenant = ?1 AND state = COALESCE(?2, state)"
        " ORDER BY created DESC, serial, threshold LIMIT ?3 OFFSET ?4",
    /* As Q_NOTICE_DUE, for the tenant's active CAs. */
    [Q_NOTICE_CA_DUE] = "SELECT {ca} FROM cas c WHERE c.tenant = ?1 AND c.status = 'active' "
                        "AND c.not_after > ?2 AND c.not_after - ?2 <= ?10 "
                        "AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.tenant = c.tenant "
                        "AND n.serial = 'ca:' || c.name AND n.threshold * 86400 <= CASE "
                        "WHEN c.not_after - ?2 <= ?3 THEN ?3 WHEN c.not_after - ?2 <= ?4 THEN ?4 "
                        "WHEN c.not_after - ?2 <= ?5 THEN ?5 WHEN c.not_after - ?2 <= ?6 THEN ?6 "
                        "WHEN c.not_after - ?2 <= ?7 THEN ?7 WHEN c.not_after - ?2 <= ?8 THEN ?8 "
                        "WHEN c.not_after - ?2 <= ?9 THEN ?9 ELSE ?10 END) "
                        "ORDER BY c.not_after LIMIT ?11",
    [Q_NOTICE_CLAIM] = "INSERT INTO notices (tenant, serial, threshold, kind, state, attempts,"
                       " next_try, created, sent_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6, ?7)",
};

const struct db_search store_searches[SEARCH_COUNT] = {
    [SEARCH_CERT] = {"SELECT {cert} FROM certs WHERE tenant = ?", CERT_FILTERS,
                     " ORDER BY not_after, serial LIMIT ? OFFSET ?"},
    [SEARCH_ENTITY] = {"SELECT {entity} FROM entities WHERE tenant = ?", ENTITY_FILTERS,
                       " ORDER BY name, id LIMIT ? OFFSET ?"},
    [SEARCH_TSA_TOKEN] = {"SELECT {tsa_token} FROM tsa_tokens WHERE tenant = ? AND unit = ?",
                          TSA_TOKEN_FILTERS, " ORDER BY time DESC, serial LIMIT ? OFFSET ?"},
    /* How many SEARCH_CERT finds in all pages (the filters are the same). */
    [SEARCH_CERT_TOTAL] = {"SELECT count(*) FROM certs WHERE tenant = ?", CERT_FILTERS, ""},
};
