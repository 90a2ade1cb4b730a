/*
 * cli_commands.c — the command table: every command of vouch as data, one
 * row per route of docs/api.md (plus `inspect`, which needs no server).
 * A row: group, verb, method, path template, scope, arguments, check,
 * output, and for tables the list member and its columns.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"

/* The table is laid out by hand: one argument or route per line reads best. */
// clang-format off

/* Argument rows.  POS: a path segment; POS_BODY: a positional body member. */
#define POS(label)                   {label, NULL, ARG_STRING, TO_PATH, 1, NULL, NULL}
#define POS_BODY(label, field, type) {label, field, type, TO_BODY, 1, NULL, NULL}
#define OPT(flag, field, type)       {flag, field, type, TO_BODY, 0, NULL, NULL}
#define REQ(flag, field, type)       {flag, field, type, TO_BODY, 1, NULL, NULL}
#define QUERY(flag, field, type)     {flag, field, type, TO_QUERY, 0, NULL, NULL}
#define LOCAL(flag, field, type)     {flag, field, type, TO_LOCAL, 0, NULL, NULL}
#define OUTPUT                       LOCAL("-o", "out", ARG_OUTPUT)
#define DER                          LOCAL("--der", "der", ARG_FLAG)
#define ENTITY_ID                    {"--entity", "entity", ARG_STRING, TO_BODY, 0, NULL, "ID"}
#define END                          {NULL, NULL, ARG_STRING, TO_BODY, 0, NULL, NULL}

/*
 * The options of an operation an approval workflow can hold back (docs/api.md
 * "Approvals"): the server answers 202 with a pending request, and --wait
 * waits for its decision (cli_wait.c).
 */
#define WAIT                                                            \
    LOCAL("--wait", "wait", ARG_FLAG),                                  \
    {"--wait-timeout", "wait_timeout", ARG_INT, TO_LOCAL, 0, NULL, "SECONDS"}

/* The members shared by entity create and update. */
#define ENTITY_FIELDS                                                   \
    OPT("--email", "email", ARG_STRING),                                \
    OPT("--manufacturer", "manufacturer", ARG_STRING),                  \
    OPT("--model", "model", ARG_STRING),                                \
    OPT("--serial-number", "serial_number", ARG_STRING),                \
    {"--meta", "metadata", ARG_META, TO_BODY, 0, NULL, NULL}

/* The filters of cert list. */
#define CERT_FILTERS                                                    \
    QUERY("--serial", "serial", ARG_STRING),                            \
    QUERY("--subject", "subject", ARG_STRING),                          \
    QUERY("--san", "san", ARG_STRING),                                  \
    QUERY("--status", "status", ARG_STRING),                            \
    QUERY("--ca", "ca", ARG_STRING),                                    \
    QUERY("--entity", "entity", ARG_STRING),                            \
    QUERY("--profile", "profile", ARG_STRING),                          \
    QUERY("--expires-before", "expires_before", ARG_TIME),              \
    QUERY("--expires-after", "expires_after", ARG_TIME),                \
    QUERY("--limit", "limit", ARG_INT),                                 \
    QUERY("--offset", "offset", ARG_INT)

#define CERT_COLUMNS "serial status not_after profile subject"

static int check_ca_import(struct cli_call *call, struct err *e);
static int check_password(struct cli_call *call, struct err *e);
static int check_page_size(struct cli_call *call, struct err *e);
static int check_der_output(struct cli_call *call, struct err *e);
static int check_entity_update(struct cli_call *call, struct err *e);
static int check_wait(struct cli_call *call, struct err *e);
static int check_something_given(struct cli_call *call, struct err *e);

/* An ACME endpoint's settings (docs/api.md "ACME"); --settings FILE.json last: options win. */
#define ACME_SETTINGS                                                           \
    OPT("--status", "status", ARG_STRING),                                      \
    {"--profile", "profiles", ARG_LIST, TO_BODY, 0, NULL, "PROFILE"},           \
    OPT("--eab-required", "eab_required", ARG_BOOL),                            \
    {"--challenge", "challenges", ARG_LIST, TO_BODY, 0, NULL, "TYPE"},          \
    OPT("--order-seconds", "order_seconds", ARG_INT),                           \
    OPT("--authz-seconds", "authz_seconds", ARG_INT),                           \
    OPT("--authz-reuse-seconds", "authz_reuse_seconds", ARG_INT),               \
    OPT("--allow-dns", "allow_dns", ARG_BOOL),                                  \
    OPT("--allow-ip", "allow_ip", ARG_BOOL),                                    \
    OPT("--allow-wildcard", "allow_wildcard", ARG_BOOL),                        \
    OPT("--caa-check", "caa_check", ARG_BOOL),                                  \
    {"--caa-identity", "caa_identities", ARG_LIST, TO_BODY, 0, NULL, "DOMAIN"}, \
    {"--terms-of-service", "terms_of_service", ARG_STRING, TO_BODY, 0, NULL, "URL"}, \
    {"--website", "website", ARG_STRING, TO_BODY, 0, NULL, "URL"},             \
    {"--settings", "settings", ARG_JSON_MERGE, TO_BODY, 0, NULL, "FILE.json"}

/* An enrollment endpoint's settings (docs/api.md "EST"). */
#define ENROLL_SETTINGS                                                         \
    OPT("--status", "status", ARG_STRING),                                      \
    {"--auth", "auth", ARG_LIST, TO_BODY, 0, NULL, "METHOD"},                   \
    {"--client-ca", "client_cas", ARG_LIST, TO_BODY, 0, NULL, "CA"},            \
    {"--retry-after", "retry_after", ARG_INT, TO_BODY, 0, NULL, "SECONDS"},     \
    OPT("--legacy-algorithms", "legacy_algorithms", ARG_BOOL)
#define CMP_SETTINGS                                                            \
    OPT("--status", "status", ARG_STRING),                                      \
    {"--profile", "profiles", ARG_LIST, TO_BODY, 0, NULL, "PROFILE"},           \
    {"--protection", "protection", ARG_LIST, TO_BODY, 0, NULL, "mac|signature"}, \
    OPT("--implicit-confirm", "implicit_confirm", ARG_BOOL),                    \
    OPT("--confirm-seconds", "confirm_seconds", ARG_INT),                       \
    OPT("--time-skew-seconds", "time_skew_seconds", ARG_INT),                   \
    {"--client-ca", "client_cas", ARG_LIST, TO_BODY, 0, NULL, "CA"},            \
    {"--settings", "settings", ARG_JSON_MERGE, TO_BODY, 0, NULL, "FILE.json"}

static const struct cli_command commands[] = {
    /* System routes (a system token). */
    {"tenant", "create", "POST", "/api/v1/tenants", SCOPE_SYSTEM,
     {POS_BODY("NAME", "name", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},
    {"tenant", "list", "GET", "/api/v1/tenants", SCOPE_SYSTEM,
     {END},
     NULL, cli_show_table, "tenants", "name status created"},
    {"tenant", "show", "GET", "/api/v1/tenants/{}", SCOPE_SYSTEM,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"tenant", "suspend", "POST", "/api/v1/tenants/{}/suspend", SCOPE_SYSTEM,
     {POS("NAME"), OPT("--reason", "reason", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},
    {"tenant", "reactivate", "POST", "/api/v1/tenants/{}/reactivate", SCOPE_SYSTEM,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"tenant", "delete", "DELETE", "/api/v1/tenants/{}", SCOPE_SYSTEM,
     {POS("NAME"), QUERY("--reason", "reason", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},
    {"tenant", "limits", "PUT", "/api/v1/tenants/{}/limits", SCOPE_SYSTEM,
     {POS("NAME"),
      OPT("--certs-per-hour", "certs_per_hour", ARG_INT),
      OPT("--requests-per-second", "requests_per_second", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},
    {"system", "audit", "GET", "/api/v1/audit", SCOPE_SYSTEM,
     {QUERY("--after", "after", ARG_INT), QUERY("--limit", "limit", ARG_INT), OUTPUT, END},
     NULL, cli_show_audit, NULL, NULL},
    {"system", "verify", "GET", "/api/v1/audit/verify", SCOPE_SYSTEM,
     {END},
     NULL, cli_show_verify, NULL, NULL},
    {"system", "export", "GET", "/api/v1/audit/export", SCOPE_SYSTEM,
     {QUERY("--after", "after", ARG_INT), QUERY("--limit", "limit", ARG_INT),
      LOCAL("--page-size", "page_size", ARG_INT), OUTPUT, END},
     check_page_size, cli_show_export, NULL, NULL},
    {"tenant", "token", "POST", "/api/v1/tenants/{}/tokens", SCOPE_SYSTEM,
     {POS("NAME"),
      {"--name", "name", ARG_STRING, TO_BODY, 0, "admin", NULL},
      OPT("--expires-days", "expires_days", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},

    /* CAs. */
    {"ca", "create", "POST", "/cas", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING),
      REQ("--subject", "subject", ARG_STRING),
      OPT("--key-type", "key_type", ARG_STRING),
      OPT("--key-id", "key_id", ARG_STRING),
      OPT("--parent", "parent", ARG_STRING),
      OPT("--external", "external", ARG_FLAG),
      OPT("--validity-days", "validity_days", ARG_INT),
      OPT("--path-len", "path_len", ARG_INT),
      OPT("--profile", "profile", ARG_STRING),
      OPT("--crl-validity-hours", "crl_validity_hours", ARG_INT),
      OPT("--crl-interval-minutes", "crl_interval_minutes", ARG_INT),
      OPT("--ocsp-signer", "ocsp_signer", ARG_STRING),
      OPT("--ocsp-validity-hours", "ocsp_validity_hours", ARG_INT),
      OPT("--crl-shards", "crl_shards", ARG_INT),
      OPT("--delta-crl-interval-minutes", "delta_crl_interval_minutes", ARG_INT),
      OPT("--delta-crl-validity-hours", "delta_crl_validity_hours", ARG_INT), WAIT, END},
     check_wait, cli_show_object, NULL, NULL},
    {"ca", "list", "GET", "/cas", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "cas", "name status key_type parent not_after subject"},
    {"ca", "show", "GET", "/cas/{}", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"ca", "csr", "GET", "/cas/{}/csr", SCOPE_TENANT,
     {POS("NAME"), OUTPUT, END},
     NULL, cli_show_csr, NULL, NULL},
    {"ca", "import-cert", "POST", "/cas/{}/certificate", SCOPE_TENANT,
     {POS("NAME"),
      POS_BODY("CERT.pem", "certificate", ARG_TEXT_FILE),
      OPT("--chain", "chain", ARG_TEXT_FILE), END},
     NULL, cli_show_object, NULL, NULL},
    {"ca", "import", "POST", "/cas/import", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING),
      OPT("--pkcs12", "pkcs12", ARG_BASE64_FILE),
      OPT("--password", "password", ARG_STRING),
      OPT("--password-file", "password", ARG_SECRET_FILE),
      OPT("--key", "key", ARG_TEXT_FILE),
      OPT("--cert", "certificate", ARG_TEXT_FILE),
      OPT("--chain", "chain", ARG_TEXT_FILE), END},
     check_ca_import, cli_show_object, NULL, NULL},
    {"ca", "offline-request", "POST", "/cas/{}/offline-request", SCOPE_TENANT,
     {POS("NAME"),
      OPT("--root", "root", ARG_STRING),
      {"-o", "out", ARG_OUTPUT, TO_LOCAL, 1, NULL, "REQUEST.json"}, END},
     NULL, cli_show_document, NULL, NULL},
    {"ca", "disable", "POST", "/cas/{}/disable", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},

    /* Profiles. */
    {"profile", "list", "GET", "/profiles", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "profiles", "name version created"},
    {"profile", "show", "GET", "/profiles/{}", SCOPE_TENANT,
     {POS("NAME"), QUERY("--version", "version", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},
    {"profile", "create", "POST", "/profiles", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING),
      POS_BODY("FILE.json", "document", ARG_JSON_FILE), END},
     NULL, cli_show_object, NULL, NULL},
    {"profile", "update", "PUT", "/profiles/{}", SCOPE_TENANT,
     {POS("NAME"), POS_BODY("FILE.json", "document", ARG_JSON_FILE), END},
     NULL, cli_show_object, NULL, NULL},
    {"profile", "clone", "POST", "/profiles/{}/clone", SCOPE_TENANT,
     {POS("NAME"), POS_BODY("NEWNAME", "name", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},

    /* Certificates. */
    {"cert", "issue", "POST", "/certificates", SCOPE_TENANT,
     {REQ("--ca", "ca", ARG_STRING),
      REQ("--profile", "profile", ARG_STRING),
      REQ("--csr", "csr", ARG_TEXT_FILE),
      ENTITY_ID,
      OPT("--validity-days", "validity_days", ARG_INT),
      OUTPUT,
      LOCAL("--chain-out", "chain_out", ARG_OUTPUT), WAIT, END},
     check_wait, cli_show_issued, NULL, NULL},
    {"cert", "keygen", "POST", "/certificates/keygen", SCOPE_TENANT,
     {REQ("--ca", "ca", ARG_STRING),
      REQ("--profile", "profile", ARG_STRING),
      REQ("--subject", "subject", ARG_STRING),
      {"--san", "sans", ARG_LIST, TO_BODY, 0, NULL, "TYPE:VALUE"},
      OPT("--key-type", "key_type", ARG_STRING),
      OPT("--password", "password", ARG_STRING),
      OPT("--password-file", "password", ARG_SECRET_FILE),
      ENTITY_ID,
      OPT("--validity-days", "validity_days", ARG_INT),
      {"-o", "out", ARG_OUTPUT, TO_LOCAL, 1, NULL, "FILE.p12"}, END},
     check_password, cli_show_keygen, NULL, NULL},
    {"cert", "list", "GET", "/certificates", SCOPE_TENANT,
     {CERT_FILTERS, END},
     NULL, cli_show_table, "certificates", CERT_COLUMNS},
    {"cert", "expiring", "GET", "/certificates/expiring", SCOPE_TENANT,
     {QUERY("--days", "days", ARG_INT), QUERY("--limit", "limit", ARG_INT), END},
     NULL, cli_show_table, "certificates", CERT_COLUMNS},
    {"cert", "show", "GET", "/certificates/{}", SCOPE_TENANT,
     {POS("SERIAL"), OUTPUT, END},
     NULL, cli_show_cert, NULL, NULL},
    {"cert", "revoke", "POST", "/certificates/{}/revoke", SCOPE_TENANT,
     {POS("SERIAL"),
      OPT("--reason", "reason", ARG_STRING),
      OPT("--invalidity-date", "invalidity_date", ARG_TIME), WAIT, END},
     check_wait, cli_show_object, NULL, NULL},
    {"cert", "suspend", "POST", "/certificates/{}/suspend", SCOPE_TENANT,
     {POS("SERIAL"), WAIT, END},
     check_wait, cli_show_object, NULL, NULL},
    {"cert", "reinstate", "POST", "/certificates/{}/reinstate", SCOPE_TENANT,
     {POS("SERIAL"), END},
     NULL, cli_show_object, NULL, NULL},
    {"cert", "renew", "POST", "/certificates/{}/renew", SCOPE_TENANT,
     {POS("SERIAL"),
      OPT("--csr", "csr", ARG_TEXT_FILE),
      OUTPUT,
      LOCAL("--chain-out", "chain_out", ARG_OUTPUT), WAIT, END},
     check_wait, cli_show_issued, NULL, NULL},

    /* End entities. */
    {"entity", "create", "POST", "/entities", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING), REQ("--kind", "kind", ARG_STRING), ENTITY_FIELDS, END},
     NULL, cli_show_object, NULL, NULL},
    {"entity", "list", "GET", "/entities", SCOPE_TENANT,
     {QUERY("--name", "name", ARG_STRING),
      QUERY("--kind", "kind", ARG_STRING),
      QUERY("--email", "email", ARG_STRING), END},
     NULL, cli_show_table, "entities", "id name kind email"},
    {"entity", "show", "GET", "/entities/{}", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_object, NULL, NULL},
    {"entity", "update", "PUT", "/entities/{}", SCOPE_TENANT,
     {POS("ID"), OPT("--name", "name", ARG_STRING), OPT("--kind", "kind", ARG_STRING),
      ENTITY_FIELDS, END},
     check_entity_update, cli_show_object, NULL, NULL},

    /* CRLs. */
    {"crl", "generate", "POST", "/cas/{}/crl", SCOPE_TENANT,
     {POS("CA"), OPT("--delta", "delta", ARG_FLAG), OUTPUT, DER, END},
     check_der_output, cli_show_crl, NULL, NULL},
    {"crl", "show", "GET", "/cas/{}/crl", SCOPE_TENANT,
     {POS("CA"), QUERY("--shard", "shard", ARG_INT), QUERY("--delta", "delta", ARG_FLAG), OUTPUT,
      DER, END},
     check_der_output, cli_show_crl, NULL, NULL},

    /* Audit. */
    {"audit", "list", "GET", "/audit", SCOPE_TENANT,
     {QUERY("--after", "after", ARG_INT), QUERY("--limit", "limit", ARG_INT), OUTPUT, END},
     NULL, cli_show_audit, NULL, NULL},
    {"audit", "export", "GET", "/audit/export", SCOPE_TENANT,
     {QUERY("--after", "after", ARG_INT), QUERY("--limit", "limit", ARG_INT),
      LOCAL("--page-size", "page_size", ARG_INT), OUTPUT, END},
     check_page_size, cli_show_export, NULL, NULL},
    {"audit", "verify", "GET", "/audit/verify", SCOPE_TENANT,
     {LOCAL("--offline", "offline", ARG_STRING), END},
     NULL, cli_show_verify, NULL, NULL},
    {"audit", "checkpoint", "POST", "/audit/checkpoints", SCOPE_TENANT,
     {END},
     NULL, cli_show_object, NULL, NULL},
    {"audit", "forward", "PUT", "/audit/forwarding", SCOPE_TENANT,
     {REQ("--host", "host", ARG_STRING),
      REQ("--port", "port", ARG_INT),
      OPT("--transport", "transport", ARG_STRING),
      {"--ca-file", "ca_pem", ARG_TEXT_FILE, TO_BODY, 0, NULL, "FILE"},
      END},
     NULL, cli_show_object, NULL, NULL},
    {"audit", "forwarding", "GET", "/audit/forwarding", SCOPE_TENANT,
     {END},
     NULL, cli_show_object, NULL, NULL},
    {"audit", "unforward", "DELETE", "/audit/forwarding", SCOPE_TENANT,
     {END},
     NULL, cli_show_deleted, NULL, NULL},
    {"audit", "checkpoints", "GET", "/audit/checkpoints", SCOPE_TENANT,
     {QUERY("--after", "after", ARG_INT), QUERY("--limit", "limit", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},

    /* Time-stamping units and their tokens. */
    {"tsa", "create", "POST", "/tsa", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING),
      REQ("--ca", "ca", ARG_STRING),
      REQ("--policy", "policy", ARG_STRING),
      {"--accept-policy", "policies", ARG_LIST, TO_BODY, 0, NULL, "OID"},
      {"--hash", "hashes", ARG_LIST, TO_BODY, 0, NULL, "NAME"},
      OPT("--subject", "subject", ARG_STRING),
      OPT("--key-type", "key_type", ARG_STRING),
      OPT("--profile", "profile", ARG_STRING),
      OPT("--validity-days", "validity_days", ARG_INT),
      OPT("--accuracy-ms", "accuracy_ms", ARG_INT),
      OPT("--include-chain", "include_chain", ARG_FLAG), END},
     NULL, cli_show_object, NULL, NULL},
    {"tsa", "update", "PUT", "/tsa/{}", SCOPE_TENANT,
     {POS("NAME"),
      OPT("--status", "status", ARG_STRING),
      OPT("--policy", "policy", ARG_STRING),
      {"--accept-policy", "policies", ARG_LIST, TO_BODY, 0, NULL, "OID"},
      {"--hash", "hashes", ARG_LIST, TO_BODY, 0, NULL, "NAME"},
      OPT("--accuracy-ms", "accuracy_ms", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},
    {"tsa", "list", "GET", "/tsa", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "units", "name key_type ca policy url"},
    {"tsa", "show", "GET", "/tsa/{}", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"tsa", "tokens", "GET", "/tsa/{}/tokens", SCOPE_TENANT,
     {POS("UNIT"),
      QUERY("--imprint", "imprint", ARG_STRING),
      QUERY("--after", "after", ARG_TIME),
      QUERY("--before", "before", ARG_TIME),
      QUERY("--limit", "limit", ARG_INT),
      QUERY("--offset", "offset", ARG_INT), END},
     NULL, cli_show_table, "tokens", "serial time hash_alg imprint requester"},
    {"tsa", "token", "GET", "/tsa/{}/tokens/{}", SCOPE_TENANT,
     {POS("UNIT"), POS("SERIAL"), END},
     NULL, cli_show_object, NULL, NULL},
    /* Keys in the signer's store (the HSM with keystore_type pkcs11). */
    {"key", "list", "GET", "/keys", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "keys", "key_id key_type purpose users"},
    {"key", "generate", "POST", "/keys", SCOPE_TENANT,
     {OPT("--key-type", "key_type", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},
    {"key", "delete", "DELETE", "/keys/{}", SCOPE_TENANT,
     {POS("KEY_ID"), END},
     NULL, cli_show_deleted, NULL, NULL},

    /* Tokens of the tenant's principals. */
    {"token", "create", "POST", "/tokens", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING), OPT("--principal", "principal", ARG_STRING),
      OPT("--expires-days", "expires_days", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},
    /* The token in use is revoked and replaced by one that no one else has seen. */
    {"token", "rotate", "POST", "/tokens/rotate", SCOPE_TENANT,
     {OPT("--name", "name", ARG_STRING), OPT("--expires-days", "expires_days", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},
    {"token", "list", "GET", "/tokens", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "tokens", "id name principal expires revoked"},
    {"token", "revoke", "DELETE", "/tokens/{}", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_deleted, NULL, NULL},
    {"token", "delete", "DELETE", "/tokens/{}", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_deleted, NULL, NULL},

    /* Approval workflows, requests and the webhook. */
    {"workflow", "list", "GET", "/workflows", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "workflows", "name required expires_hours created"},
    {"workflow", "show", "GET", "/workflows/{}", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"workflow", "set", "PUT", "/workflows/{}", SCOPE_TENANT,
     {POS("NAME"),
      OPT("--required", "required", ARG_INT),
      {"--approver", "approvers", ARG_LIST, TO_BODY, 0, NULL, "PRINCIPAL"},
      OPT("--expires-hours", "expires_hours", ARG_INT), END},
     NULL, cli_show_object, NULL, NULL},
    {"workflow", "delete", "DELETE", "/workflows/{}", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_deleted, NULL, NULL},
    {"request", "list", "GET", "/requests", SCOPE_TENANT,
     {QUERY("--status", "status", ARG_STRING),
      QUERY("--requester", "requester", ARG_STRING),
      QUERY("--limit", "limit", ARG_INT),
      QUERY("--offset", "offset", ARG_INT), END},
     NULL, cli_show_table, "requests", "id kind object status requester required expires"},
    {"request", "show", "GET", "/requests/{}", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_object, NULL, NULL},
    {"request", "approve", "POST", "/requests/{}/approve", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_object, NULL, NULL},
    {"request", "reject", "POST", "/requests/{}/reject", SCOPE_TENANT,
     {POS("ID"), REQ("--reason", "reason", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},
    {"webhook", "show", "GET", "/webhook", SCOPE_TENANT,
     {END},
     NULL, cli_show_object, NULL, NULL},
    {"webhook", "set", "PUT", "/webhook", SCOPE_TENANT,
     {POS_BODY("URL", "url", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},
    {"webhook", "delete", "DELETE", "/webhook", SCOPE_TENANT,
     {END},
     NULL, cli_show_deleted, NULL, NULL},
    /* Expiry notices. */
    {"notice", "list", "GET", "/notices", SCOPE_TENANT,
     {QUERY("--state", "state", ARG_STRING),
      QUERY("--limit", "limit", ARG_INT),
      QUERY("--offset", "offset", ARG_INT), END},
     NULL, cli_show_table, "notices", "serial threshold_days state attempts sent_at"},
    {"notice", "show", "GET", "/notices/settings", SCOPE_TENANT,
     {END},
     NULL, cli_show_object, NULL, NULL},
    {"notice", "set", "PUT", "/notices/settings", SCOPE_TENANT,
     {OPT("--enabled", "enabled", ARG_BOOL),
      {"--threshold", "thresholds", ARG_INT_LIST, TO_BODY, 0, NULL, "DAYS"},
      {"--recipient", "recipients", ARG_LIST, TO_BODY, 0, NULL, "ADDRESS"}, END},
     NULL, cli_show_object, NULL, NULL},
    /* Principals (users, applications) and their roles. */
    {"principal", "create", "POST", "/principals", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING), REQ("--kind", "kind", ARG_STRING),
      {"--allow", "allow", ARG_LIST, TO_BODY, 0, NULL, "CIDR"}, END},
     NULL, cli_show_object, NULL, NULL},
    {"principal", "list", "GET", "/principals", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "principals", "id name kind disabled roles"},
    {"principal", "show", "GET", "/principals/{}", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_object, NULL, NULL},
    {"principal", "disable", "POST", "/principals/{}/disable", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_object, NULL, NULL},
    {"principal", "enable", "POST", "/principals/{}/enable", SCOPE_TENANT,
     {POS("ID"), END},
     NULL, cli_show_object, NULL, NULL},
    {"role", "list", "GET", "/roles", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "bindings", "principal_tenant principal role created"},
    {"role", "bind", "POST", "/roles/bind", SCOPE_TENANT,
     {POS_BODY("PRINCIPAL", "principal", ARG_STRING), POS_BODY("ROLE", "role", ARG_STRING),
      OPT("--principal-tenant", "principal_tenant", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},
    {"role", "unbind", "POST", "/roles/unbind", SCOPE_TENANT,
     {POS_BODY("PRINCIPAL", "principal", ARG_STRING), POS_BODY("ROLE", "role", ARG_STRING),
      OPT("--principal-tenant", "principal_tenant", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},

    /* ACME: endpoints, External Account Binding credentials (docs/api.md "ACME"). */
    {"acme endpoint", "create", "POST", "/acme/endpoints", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING), REQ("--ca", "ca", ARG_STRING), ACME_SETTINGS, END},
     NULL, cli_show_object, NULL, NULL},
    {"acme endpoint", "list", "GET", "/acme/endpoints", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "endpoints", "name ca status eab_required directory"},
    {"acme endpoint", "show", "GET", "/acme/endpoints/{}", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"acme endpoint", "update", "PUT", "/acme/endpoints/{}", SCOPE_TENANT,
     {POS("NAME"), OPT("--ca", "ca", ARG_STRING), ACME_SETTINGS, END},
     check_something_given, cli_show_object, NULL, NULL},
    {"acme eab", "create", "POST", "/acme/endpoints/{}/eab", SCOPE_TENANT,
     {POS("ENDPOINT"),
      OPT("--kid", "kid", ARG_STRING),
      {"--profile", "profiles", ARG_LIST, TO_BODY, 0, NULL, "PROFILE"},
      OPT("--role", "role", ARG_STRING),
      OPT("--reusable", "reusable", ARG_FLAG), END},
     NULL, cli_show_object, NULL, NULL},
    {"acme eab", "list", "GET", "/acme/endpoints/{}/eab", SCOPE_TENANT,
     {POS("ENDPOINT"), END},
     NULL, cli_show_table, "credentials", "kid status uses reusable role created"},
    {"acme eab", "revoke", "POST", "/acme/endpoints/{}/eab/{}/revoke", SCOPE_TENANT,
     {POS("ENDPOINT"), POS("KID"),
      OPT("--deactivate-accounts", "deactivate_accounts", ARG_FLAG), END},
     NULL, cli_show_object, NULL, NULL},
    /* EST and SCEP device enrollment: endpoints, credentials (docs/api.md "EST", "SCEP"). */
    {"est endpoint", "create", "POST", "/enroll/endpoints", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING), OPT("--protocol", "protocol", ARG_STRING),
      REQ("--ca", "ca", ARG_STRING),
      REQ("--profile", "profile", ARG_STRING), ENROLL_SETTINGS, END},
     NULL, cli_show_object, NULL, NULL},
    {"est endpoint", "list", "GET", "/enroll/endpoints", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "endpoints", "name protocol ca profile status label"},
    {"est endpoint", "show", "GET", "/enroll/endpoints/{}", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"est endpoint", "update", "PUT", "/enroll/endpoints/{}", SCOPE_TENANT,
     {POS("NAME"), OPT("--ca", "ca", ARG_STRING), OPT("--profile", "profile", ARG_STRING),
      ENROLL_SETTINGS, END},
     check_something_given, cli_show_object, NULL, NULL},
    {"est credential", "create", "POST", "/enroll/endpoints/{}/credentials", SCOPE_TENANT,
     {POS("ENDPOINT"), OPT("--id", "id", ARG_STRING),
      OPT("--reusable", "reusable", ARG_FLAG), END},
     NULL, cli_show_object, NULL, NULL},
    {"est credential", "list", "GET", "/enroll/endpoints/{}/credentials", SCOPE_TENANT,
     {POS("ENDPOINT"), END},
     NULL, cli_show_table, "credentials", "id status reusable uses created"},
    {"est credential", "revoke", "POST", "/enroll/endpoints/{}/credentials/{}/revoke",
     SCOPE_TENANT,
     {POS("ENDPOINT"), POS("ID"), END},
     NULL, cli_show_object, NULL, NULL},

    /* CMP: endpoints, shared secrets (docs/api.md "CMP"). */
    {"cmp endpoint", "create", "POST", "/cmp/endpoints", SCOPE_TENANT,
     {POS_BODY("NAME", "name", ARG_STRING), REQ("--ca", "ca", ARG_STRING), CMP_SETTINGS, END},
     NULL, cli_show_object, NULL, NULL},
    {"cmp endpoint", "list", "GET", "/cmp/endpoints", SCOPE_TENANT,
     {END},
     NULL, cli_show_table, "endpoints", "name ca status implicit_confirm path"},
    {"cmp endpoint", "show", "GET", "/cmp/endpoints/{}", SCOPE_TENANT,
     {POS("NAME"), END},
     NULL, cli_show_object, NULL, NULL},
    {"cmp endpoint", "update", "PUT", "/cmp/endpoints/{}", SCOPE_TENANT,
     {POS("NAME"), OPT("--ca", "ca", ARG_STRING), CMP_SETTINGS, END},
     check_something_given, cli_show_object, NULL, NULL},
    {"cmp secret", "create", "POST", "/cmp/endpoints/{}/secrets", SCOPE_TENANT,
     {POS("ENDPOINT"),
      OPT("--reference", "reference", ARG_STRING),
      {"--profile", "profiles", ARG_LIST, TO_BODY, 0, NULL, "PROFILE"},
      OPT("--reusable", "reusable", ARG_FLAG), END},
     NULL, cli_show_object, NULL, NULL},
    {"cmp secret", "list", "GET", "/cmp/endpoints/{}/secrets", SCOPE_TENANT,
     {POS("ENDPOINT"), END},
     NULL, cli_show_table, "secrets", "reference status uses reusable created"},
    {"cmp secret", "revoke", "POST", "/cmp/endpoints/{}/secrets/{}/revoke", SCOPE_TENANT,
     {POS("ENDPOINT"), POS("REFERENCE"), END},
     NULL, cli_show_object, NULL, NULL},
    {"cert", "renewal-window", "PUT", "/certificates/{}/renewal-window", SCOPE_TENANT,
     {POS("SERIAL"),
      REQ("--start", "start", ARG_TIME),
      REQ("--end", "end", ARG_TIME),
      OPT("--reason", "reason", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},

    /* The offline CA's bundles (vouch offline ... works with no server: cli_offline.c). */
    {"import", NULL, "POST", "/offline/import", SCOPE_TENANT,
     {POS_BODY("BUNDLE", "bundle", ARG_TEXT_FILE),
      OPT("--pin", "pin", ARG_STRING), END},
     NULL, cli_show_object, NULL, NULL},

    /* Reports, computed by the server's database. */
    {"report", NULL, "GET", "/reports/{}", SCOPE_TENANT,
     {POS("NAME"),
      QUERY("--from", "from", ARG_TIME),
      QUERY("--to", "to", ARG_TIME),
      QUERY("--ca", "ca", ARG_STRING),
      QUERY("--days", "days", ARG_INT),
      QUERY("--format", "format", ARG_STRING), END},
     NULL, cli_show_report, NULL, NULL},

    /* No server. */
    {"inspect", NULL, NULL, NULL, SCOPE_LOCAL,
     {{"FILE", "file", ARG_STRING, TO_LOCAL, 1, NULL, NULL}, END},
     NULL, cli_show_inspect, NULL, NULL},
};

// clang-format on

const struct cli_command *cli_commands(size_t *n)
{
    *n = ARRAY_LEN(commands);
    return commands;
}

const struct cli_command *cli_command_find(const char *group, const char *verb, int *uses_verb)
{
    for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
        const struct cli_command *c = &commands[i];

        if (strcmp(c->group, group) != 0)
            continue;
        if (c->verb == NULL) {
            *uses_verb = 0;
            return c;
        }
        if (verb != NULL && strcmp(c->verb, verb) == 0) {
            *uses_verb = 1;
            return c;
        }
    }
    return NULL;
}

int cli_group_has(const char *group, const char *cmd_group)
{
    size_t n = strlen(group);

    return strncmp(cmd_group, group, n) == 0 && (cmd_group[n] == '\0' || cmd_group[n] == ' ');
}

int cli_group_exists(const char *group)
{
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (cli_group_has(group, commands[i].group))
            return 1;
    return 0;
}

/* At most one of --password and --password-file; with `needed`, one of them. */
static int password_args(struct cli_call *call, int needed, struct err *e)
{
    size_t given = 0;

    for (size_t i = 0; call->cmd->args[i].name != NULL; i++)
        if (call->cmd->args[i].field && strcmp(call->cmd->args[i].field, "password") == 0)
            given += call->count[i];
    if (given > 1)
        return err_set(e, ERR_USAGE, "give --password or --password-file, once");
    if (needed && given == 0)
        return err_set(e, ERR_USAGE, "needs --password-file FILE (or --password P, visible to ps)");
    return 0;
}

static int check_page_size(struct cli_call *call, struct err *e)
{
    const char *v = cli_call_value(call, "page_size");
    long long n = v ? atoll(v) : 10000;

    if (n < 1 || n > 100000)
        return err_set(e, ERR_USAGE, "--page-size: 1 to 100000");
    return 0;
}

static int check_password(struct cli_call *call, struct err *e)
{
    return password_args(call, 1, e);
}

/* Either --pkcs12 with a password, or --key with --cert (and perhaps --chain). */
static int check_ca_import(struct cli_call *call, struct err *e)
{
    int p12 = cli_call_value(call, "pkcs12") != NULL;
    int key = cli_call_value(call, "key") != NULL;
    int cert = cli_call_value(call, "certificate") != NULL;

    if (p12 && (key || cert || cli_call_value(call, "chain") != NULL))
        return err_set(e, ERR_USAGE, "--pkcs12 excludes --key, --cert and --chain");
    if (password_args(call, p12, e) != 0)
        return -1;
    if (!p12 && (!key || !cert))
        return err_set(e, ERR_USAGE, "give --pkcs12 FILE --password P, or --key FILE --cert FILE");
    return 0;
}

/* DER is binary: only into a file. */
static int check_der_output(struct cli_call *call, struct err *e)
{
    const char *out = cli_call_value(call, "out");

    if (cli_call_value(call, "der") != NULL && (out == NULL || strcmp(out, "-") == 0))
        return err_set(e, ERR_USAGE, "--der needs -o FILE");
    return 0;
}

/*
 * PUT /entities/{id} replaces the entity ("same fields as POST"), so the
 * update applies the given fields over the current entity.
 */
static int check_entity_update(struct cli_call *call, struct err *e)
{
    size_t given = 0;

    for (size_t i = 1; call->cmd->args[i].name != NULL; i++)
        given += call->count[i];
    if (given == 0)
        return err_set(e, ERR_USAGE, "entity update: nothing to change");
    call->req.merge_current = 1;
    return 0;
}

/* An update that changes something: some option besides the positionals. */
static int check_something_given(struct cli_call *call, struct err *e)
{
    for (size_t i = 0; call->cmd->args[i].name != NULL; i++)
        if (call->cmd->args[i].name[0] == '-' && call->count[i] > 0)
            return 0;
    return err_set(e, ERR_USAGE, "%s %s: nothing to change", call->cmd->group, call->cmd->verb);
}

/* --wait-timeout: only with --wait, 1 second to CLI_WAIT_TIMEOUT_MAX. */
static int check_wait(struct cli_call *call, struct err *e)
{
    long seconds;

    return cli_wait_timeout(call, &seconds, e);
}
