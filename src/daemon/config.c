/* config.c — the configuration table and its file format (see config.h). */
#include "daemon/config.h"
#include "daemon/roles.h"

#include "keys/keystore.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "http/http.h"
#include "keys/keys.h"
#include "lib/mail.h"

enum config_type { CONF_STRING, CONF_INT, CONF_BOOL, CONF_PATH };

struct config_item {
    const char *name;
    enum config_type type;
    size_t offset;
    long min, max;
    const char *def;
    const char *help;
};

#define F(field) offsetof(struct config, field)

static const struct config_item items[] = {
    {"api_address", CONF_STRING, F(api_address), 0, 0, "127.0.0.1", "API listen address"},
    {"api_port", CONF_INT, F(api_port), 0, 65535, "8443", "API port (0 = ephemeral)"},
    {"tls_cert", CONF_PATH, F(tls_cert), 0, 0, NULL, "API TLS certificate chain (PEM)"},
    {"tls_key", CONF_PATH, F(tls_key), 0, 0, NULL, "API TLS private key (PEM)"},
    {"tls_priorities", CONF_STRING, F(tls_priorities), 0, 0, HTTP_TLS_PRIORITIES_DEFAULT,
     "GnuTLS priority string of the API's TLS (default: TLS 1.3 and 1.2, AEAD suites, ECDHE)"},
    {"api_allow_plain", CONF_BOOL, F(api_allow_plain), 0, 1, "no",
     "allow a plain-HTTP API off loopback"},
    {"trusted_proxies", CONF_STRING, F(trusted_proxies), 0, 0, NULL,
     "addresses or networks of the load balancers in front (comma-separated): a request from one "
     "is taken to come from the address its X-Forwarded-For names (unset: the header is "
     "ignored)"},
    {"public_address", CONF_STRING, F(public_address), 0, 0, "127.0.0.1",
     "plain-HTTP listener for CRLs and CA certificates"},
    {"public_port", CONF_INT, F(public_port), 0, 65535, "8080", "public port (0 = ephemeral)"},
    {"public_url", CONF_STRING, F(public_url), 0, 0, NULL, "base URL written into CDP/AIA"},
    {"listen_reuse_port", CONF_BOOL, F(listen_reuse_port), 0, 0, "no",
     "bind both listeners with SO_REUSEPORT: another process of the same user holding the port "
     "so (a supervisor keeping it between two runs, a test harness) does not stop the start"},
    {"services", CONF_STRING, F(services), 0, 0, "all",
     "services this node runs (comma-separated): api (the REST API, console, ACME, EST, SCEP, "
     "CMP), ocsp, publish (CRLs and CA certificates), tsa; or all"},
    {"jobs", CONF_STRING, F(jobs), 0, 0, "all",
     "scheduled jobs this node may take (comma-separated): crl, ocsp (pre-signing, responder "
     "renewal), expiry, notices, purge, checkpoint; all or none"},
    {"database", CONF_STRING, F(database), 0, 0, "sqlite:vouch.db", "storage URL"},
    {"database_wait_seconds", CONF_INT, F(database_wait_seconds), 0, 3600, "60",
     "at start, how long to wait for a database that cannot be reached or is not the primary "
     "(0 = exit at once)"},
    {"database_connections", CONF_INT, F(database_connections), 1, 1000, "64",
     "at most this many database connections from this node (PostgreSQL: keep the nodes' sum "
     "under max_connections)"},
    {"keystore", CONF_PATH, F(keystore), 0, 0, "keys", "software key store directory"},
    {"kek_file", CONF_PATH, F(kek_file), 0, 0, "kek", "key-encryption secret file"},
    {"keystore_type", CONF_STRING, F(keystore_type), 0, 0, "soft",
     "soft (encrypted files in keystore) or pkcs11 (keys in a PKCS#11 token)"},
    {"pkcs11_module", CONF_PATH, F(pkcs11_module), 0, 0, NULL,
     "PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so"},
    {"pkcs11_token_label", CONF_STRING, F(pkcs11_token_label), 0, 0, NULL,
     "label of the token holding the keys"},
    {"pkcs11_slot", CONF_INT, F(pkcs11_slot), -1, 2147483647, "-1",
     "or: the slot id of the token (-1: find it by label)"},
    {"pkcs11_backup_token_label", CONF_STRING, F(pkcs11_backup_token_label), 0, 0, NULL,
     "label of a second token holding the same keys (failover)"},
    {"pkcs11_pin_file", CONF_PATH, F(pkcs11_pin_file), 0, 0, NULL,
     "file with the token's user PIN (else env VOUCH_PKCS11_PIN)"},
    {"pkcs11_tenant_tokens", CONF_STRING, F(pkcs11_tenant_tokens), 0, 0, NULL,
     "tenants with a token of their own: tenant=LABEL,..."},
    {"pkcs11_tenant_pin_dir", CONF_PATH, F(pkcs11_tenant_pin_dir), 0, 0, NULL,
     "directory of those tenants' PIN files, one per tenant, named after it"},
    {"threads", CONF_INT, F(threads), 1, 256, "2", "HTTP worker threads"},
    {"max_connections", CONF_INT, F(max_connections), 16, 1000000, "1024",
     "open connections per listener at most (past it new ones are refused at once)"},
    {"max_connections_per_address", CONF_INT, F(max_connections_per_address), 0, 1000000, "64",
     "open connections of one client address per listener at most (0 = no limit; trusted "
     "proxies are not counted)"},
    {"request_header_seconds", CONF_INT, F(request_header_seconds), 1, 600, "10",
     "seconds a connection has to send a request's line and headers, from its accept (TLS "
     "handshake included) or its previous answer; not reset by each byte"},
    {"request_body_seconds", CONF_INT, F(request_body_seconds), 1, 86400, "120",
     "seconds a request's body has to arrive, from the end of its headers"},
    {"request_body_memory_mib", CONF_INT, F(request_body_memory_mib), 1, 65536, "64",
     "MiB of large request bodies (over 64 KiB) a listener holds at once; a request past it is "
     "answered 503 with Retry-After before its body is read (one is always let in)"},
    {"signer_connections", CONF_INT, F(signer_connections), 1, 64, "4",
     "connections (threads) to the signer"},
    {"signer_hang_seconds", CONF_INT, F(signer_hang_seconds), 1, 3600, "10",
     "a signer that does not answer vouchd's check within this many seconds is restarted (as "
     "is one that died)"},
    {"crl_check_seconds", CONF_INT, F(crl_check_seconds), 1, 86400, "30",
     "how often the CRL scheduler looks for due CRLs"},
    {"crl_validity_hours", CONF_INT, F(crl_validity_hours), 1, 87600, "168",
     "default CRL nextUpdate - thisUpdate"},
    {"crl_interval_minutes", CONF_INT, F(crl_interval_minutes), 1, 525600, "60",
     "default interval between scheduled CRLs"},
    {"crl_expired_margin_days", CONF_INT, F(crl_expired_margin_days), 1, 3650, "30",
     "days revoked entries stay on CRLs past expiry"},
    {"ocsp_signer", CONF_STRING, F(ocsp_signer), 0, 0, "delegated",
     "default OCSP signer of a CA: delegated (responder certificate) or ca (the CA key)"},
    {"ocsp_validity_hours", CONF_INT, F(ocsp_validity_hours), 1, 8760, "24",
     "OCSP response nextUpdate - thisUpdate"},
    {"ocsp_refresh_percent", CONF_INT, F(ocsp_refresh_percent), 1, 99, "50",
     "pre-signed OCSP responses are re-signed after this % of their validity"},
    {"ocsp_responder_days", CONF_INT, F(ocsp_responder_days), 1, 31, "7",
     "validity of delegated OCSP responder certificates (renewed at half)"},
    {"ocsp_check_seconds", CONF_INT, F(ocsp_check_seconds), 1, 3600, "30",
     "how often OCSP responders are reloaded and renewed"},
    {"ocsp_cache_seconds", CONF_INT, F(ocsp_cache_seconds), 0, 3600, "2",
     "seconds a node serves a stored OCSP response from memory (0 = always read the database)"},
    {"ocsp_outage_seconds", CONF_INT, F(ocsp_outage_seconds), 0, 86400, "300",
     "while the database cannot be reached, OCSP responses read this recently are answered from "
     "memory (never past their nextUpdate), the rest tryLater (0 = none)"},
    {"ocsp_live_signs_per_second", CONF_INT, F(ocsp_live_signs_per_second), 0, 10000000, "5000",
     "OCSP responses a node signs on demand per second (unknown serials, nonces); over it, "
     "tryLater or the stored response (0 = no limit)"},
    {"ocsp_responder_key_type", CONF_STRING, F(ocsp_responder_key_type), 0, 0, "ec-p256",
     "key type of delegated OCSP responders"},
    {"log_level", CONF_STRING, F(log_level), 0, 0, "info", "debug, info, warn or error"},
    {"log_format", CONF_STRING, F(log_format), 0, 0, "text",
     "text (\"time level [request tenant] message\") or json (one object per line: time, level, "
     "request_id, tenant, message)"},
    {"access_log", CONF_BOOL, F(access_log), 0, 0, "no",
     "log every answer of both listeners at info level (else at debug): request id, client, "
     "method, path, status, milliseconds"},
    {"metrics_address", CONF_STRING, F(metrics_address), 0, 0, NULL,
     "plain-HTTP listener serving GET /metrics in Prometheus's format (unset: none)"},
    {"metrics_port", CONF_INT, F(metrics_port), 0, 65535, "9464",
     "port of the metrics listener (0 = ephemeral)"},
    {"metrics_allow", CONF_STRING, F(metrics_allow), 0, 0, "127.0.0.0/8, ::1",
     "addresses or networks that may read /metrics (comma-separated); others are answered 403"},
    {"user", CONF_STRING, F(user), 0, 0, NULL,
     "started as root: the network process becomes this user (name or number; it must be able "
     "to read the database and the TLS key, and must not be able to read the key store)"},
    {"signer_user", CONF_STRING, F(signer_user), 0, 0, NULL,
     "started as root: the signer (and its keeper) become this user, the only one that reads the "
     "key store, its secret and the PINs"},
    {"tsa_clock_check", CONF_STRING, F(tsa_clock_check), 0, 0, "off",
     "TSA: off, or kernel (refuse tokens while adjtimex(2) flags the clock unsynchronised)"},
    {"audit_checkpoint_seconds", CONF_INT, F(audit_checkpoint_seconds), 1, 86400, "300",
     "how often each tenant's audit chain head is signed (when it moved)"},
    {"syslog_host", CONF_STRING, F(syslog_host), 0, 0, NULL,
     "SIEM receiving every tenant's audit events as RFC 5424 syslog (unset: none)"},
    {"syslog_port", CONF_INT, F(syslog_port), 1, 65535, "6514", "the SIEM's TCP port"},
    {"syslog_transport", CONF_STRING, F(syslog_transport), 0, 0, "tls",
     "tls (RFC 5425) or tcp (RFC 6587 octet counting, plain)"},
    {"syslog_ca_file", CONF_PATH, F(syslog_ca_file), 0, 0, NULL,
     "tls: CA certificates (PEM) the SIEM's certificate must chain to"},
    {"syslog_facility", CONF_INT, F(syslog_facility), 0, 23, "13",
     "syslog facility of audit messages (13: log audit)"},
    {"syslog_tenant_targets", CONF_BOOL, F(syslog_tenant_targets), 0, 0, "no",
     "tenant admins may have their own audit events sent to their SIEM (vouchd connects there)"},
    {"tenant_retention_days", CONF_INT, F(tenant_retention_days), 0, 36500, "30",
     "a deleted tenant's data is kept this many days, then purged (0: at the next check)"},
    {"tenant_export_dir", CONF_PATH, F(tenant_export_dir), 0, 0, "exports",
     "a purged tenant's audit chain is exported here first (JSON lines)"},
    {"acme_resolvers", CONF_STRING, F(acme_resolvers), 0, 0, NULL,
     "DNS resolvers ACME validation asks, addr[:port] comma-separated (unset: /etc/resolv.conf)"},
    {"acme_http_port", CONF_INT, F(acme_http_port), 1, 65535, "80",
     "port ACME http-01 validation connects to"},
    {"acme_tls_port", CONF_INT, F(acme_tls_port), 1, 65535, "443",
     "port ACME tls-alpn-01 validation connects to"},
    {"acme_timeout_ms", CONF_INT, F(acme_timeout_ms), 100, 600000, "10000",
     "how long one ACME validation may take"},
    {"acme_validation_allow", CONF_STRING, F(acme_validation_allow), 0, 0, NULL,
     "addresses or networks ACME validation may reach although they are special-purpose "
     "(loopback, private, link-local: refused by default)"},
    {"acme_validation_deny", CONF_STRING, F(acme_validation_deny), 0, 0, NULL,
     "addresses or networks ACME validation never reaches"},
    {"acme_own_addresses", CONF_STRING, F(acme_own_addresses), 0, 0, NULL,
     "this installation's own addresses (never reached by ACME validation)"},
    {"est_default_endpoint", CONF_STRING, F(est_default_endpoint), 0, 0, NULL,
     "the EST endpoint (tenant~endpoint) that /.well-known/est/<operation> serves, without a "
     "label (RFC 7030 section 3.2.2)"},
    {"acme_workers", CONF_INT, F(acme_workers), 1, 256, "4", "ACME validation threads"},
    {"webhooks_enabled", CONF_BOOL, F(webhooks_enabled), 0, 0, "no",
     "tenant admins may set a webhook URL that vouchd POSTs RA events to (it connects there)"},
    {"tenant_purge_check_seconds", CONF_INT, F(tenant_purge_check_seconds), 1, 86400, "300",
     "how often deleted tenants past their retention are looked for"},
    {"backup_dir", CONF_PATH, F(backup_dir), 0, 0, NULL,
     "directory of scheduled backups (vouch-backup-<time>.tar.age files)"},
    {"backup_interval_hours", CONF_INT, F(backup_interval_hours), 0, 8760, "0",
     "hours between scheduled backups into backup_dir (0 = none)"},
    {"backup_keep", CONF_INT, F(backup_keep), 1, 100000, "7",
     "scheduled backups kept in backup_dir: past this many the oldest are removed"},
    {"backup_recipients", CONF_STRING, F(backup_recipients), 0, 0, NULL,
     "age recipients (age1... public keys, comma-separated) scheduled backups are encrypted to"},
    {"backup_database", CONF_STRING, F(backup_database), 0, 0, NULL,
     "PostgreSQL: the URL pg_dump connects with, of a role that reads every tenant's rows "
     "(BYPASSRLS; unset: database, whose role cannot)"},
    {"notice_check_seconds", CONF_INT, F(notice_check_seconds), 1, 86400, "3600",
     "how often certificates and CAs crossing an expiry notice threshold are looked for"},
    {"smtp_url", CONF_STRING, F(smtp_url), 0, 0, NULL,
     "SMTP server expiry notices are mailed through: smtp://host[:port] or smtps://host[:port] "
     "(unset: no e-mail, notices go to the audit log and webhooks only)"},
    {"smtp_from", CONF_STRING, F(smtp_from), 0, 0, "vouch@localhost",
     "sender address of expiry notice mail"},
    {"smtp_user", CONF_STRING, F(smtp_user), 0, 0, NULL,
     "user name vouchd authenticates to the SMTP server with (unset: no authentication)"},
    {"smtp_password_file", CONF_PATH, F(smtp_password_file), 0, 0, NULL,
     "file holding the SMTP password (readable by vouchd's user only)"},
    {"smtp_ca_file", CONF_PATH, F(smtp_ca_file), 0, 0, NULL,
     "CA certificates (PEM) that verify the SMTP server's certificate (unset: the system's)"},
    {"smtp_starttls", CONF_BOOL, F(smtp_starttls), 0, 0, "yes",
     "with smtp://, STARTTLS is required before the mail is sent (no: plain text, for a local "
     "MTA)"},
};

/*
 * The settings SIGHUP applies to a running vouchd (daemon/run.c,
 * server_reload); a change to any other is named in the log as needing a
 * restart.  tls_cert and tls_key: a new pair, not TLS turned on or off.
 */
static const char *const reloadable[] = {
    "log_level",
    "log_format",
    "access_log",
    "tls_cert",
    "tls_key",
    "trusted_proxies",
    "max_connections_per_address",
    "request_header_seconds",
    "request_body_seconds",
    "ocsp_live_signs_per_second",
    "webhooks_enabled",
    "syslog_host",
    "syslog_port",
    "syslog_transport",
    "syslog_ca_file",
    "syslog_facility",
    "syslog_tenant_targets",
};

static char **str_field(struct config *c, const struct config_item *it)
{
    return (char **)((char *)c + it->offset);
}

static int *int_field(struct config *c, const struct config_item *it)
{
    return (int *)((char *)c + it->offset);
}

static int item_set(struct config *c, const struct config_item *it, const char *value,
                    const char *base_dir, struct err *e)
{
    char *end;
    long n;

    switch (it->type) {
    case CONF_STRING:
    case CONF_PATH:
        free(*str_field(c, it));
        if (it->type == CONF_PATH && base_dir != NULL && value[0] != '/')
            *str_field(c, it) = xasprintf("%s/%s", base_dir, value);
        else if (strncmp(value, "sqlite:", 7) == 0 && value[7] != '/' && base_dir != NULL)
            *str_field(c, it) = xasprintf("sqlite:%s/%s", base_dir, value + 7);
        else
            *str_field(c, it) = xstrdup(value);
        return 0;
    case CONF_BOOL:
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
            *int_field(c, it) = 1;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
            *int_field(c, it) = 0;
        else
            return err_set(e, ERR_INVALID, "%s: yes or no", it->name);
        return 0;
    case CONF_INT:
        errno = 0;
        n = strtol(value, &end, 10);
        if (errno != 0 || *value == '\0' || *end != '\0' || n < it->min || n > it->max)
            return err_set(e, ERR_INVALID, "%s: an integer from %ld to %ld", it->name, it->min,
                           it->max);
        *int_field(c, it) = (int)n;
        return 0;
    }
    return -1;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < ARRAY_LEN(items); i++)
        if (items[i].def != NULL)
            item_set(c, &items[i], items[i].def, NULL, NULL);
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static const struct config_item *item_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(items); i++)
        if (strcmp(items[i].name, name) == 0)
            return &items[i];
    return NULL;
}

int config_load(struct config *c, const char *path, struct err *e)
{
    FILE *f = fopen(path, "r");
    char line[4096], *dir, *slash;
    int lineno = 0, rc = 0;
    unsigned char seen[ARRAY_LEN(items)] = {0};
    struct err ie;

    if (f == NULL)
        return err_set(e, ERR_INVALID, "%s: %s", path, strerror(errno));
    dir = xstrdup(path);
    slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        strcpy(dir, ".");
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *s = trim(line), *eq;
        const struct config_item *it;
        lineno++;
        if (*s == '\0' || *s == '#')
            continue;
        if ((eq = strchr(s, '=')) == NULL) {
            rc = err_set(e, ERR_INVALID, "%s:%d: expected name = value", path, lineno);
            break;
        }
        *eq = '\0';
        if ((it = item_find(trim(s))) == NULL)
            rc = err_set(e, ERR_INVALID, "%s:%d: unknown setting \"%s\"", path, lineno, trim(s));
        else if (item_set(c, it, trim(eq + 1), dir, &ie) != 0)
            rc = err_set(e, ERR_INVALID, "%s:%d: %s", path, lineno, ie.msg);
        else
            seen[it - items] = 1;
    }
    /* Paths the file leaves at a relative default are taken from its directory too. */
    for (size_t i = 0; rc == 0 && i < ARRAY_LEN(items); i++)
        if (!seen[i] && items[i].type == CONF_PATH && items[i].def != NULL &&
            items[i].def[0] != '/')
            rc = item_set(c, &items[i], items[i].def, dir, e);
    fclose(f);
    free(dir);
    return rc;
}

static int is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strcmp(addr, "localhost") == 0;
}

/* The tenant token map parses, and has the PIN directory it needs. */
static int tenant_tokens_check(const struct config *c, struct err *e)
{
    char **tenants, **labels;
    int n = keystore_tenant_map_parse(c->pkcs11_tenant_tokens, &tenants, &labels, e);

    for (int i = 0; i < n; i++) {
        free(tenants[i]);
        free(labels[i]);
    }
    if (n < 0)
        return -1;
    free(tenants);
    free(labels);
    if (strcmp(c->keystore_type, "pkcs11") != 0 || c->pkcs11_tenant_pin_dir == NULL)
        return err_set(e, ERR_INVALID,
                       "pkcs11_tenant_tokens: needs keystore_type pkcs11 and "
                       "pkcs11_tenant_pin_dir");
    return 0;
}

/* services and jobs, and what they need of the other settings. */
static int roles_check(const struct config *c, struct err *e)
{
    struct roles r;
    unsigned keys;

    if (roles_parse(c->services, c->jobs, &r, e) != 0)
        return -1;
    keys = roles_key_purposes(&r);
    if ((r.services & SERVICE_OCSP) && keys != 0 && !(keys & (1u << KEY_PURPOSE_CA)) &&
        strcmp(c->ocsp_signer, "ca") == 0)
        return err_set(e, ERR_INVALID,
                       "ocsp_signer ca: this node's roles use no CA keys; its OCSP answers are "
                       "signed by delegated responders (ocsp_signer = delegated)");
    if ((r.services & SERVICE_API) && !(r.services & SERVICE_PUBLISH) && c->public_url == NULL)
        return err_set(e, ERR_INVALID,
                       "public_url: required when this node issues without the publish service "
                       "(the CRL and CA certificate URLs written into certificates must reach the "
                       "nodes that publish them)");
    return 0;
}

int config_check(const struct config *c, struct err *e)
{
    struct netaddr *proxies = NULL;
    size_t nproxies;

    if (http_proxies_parse(c->trusted_proxies, &proxies, &nproxies, e) != 0) {
        e->kind = ERR_INVALID; /* a configuration error, as the others here */
        return -1;
    }
    free(proxies);
    if (http_proxies_parse(c->metrics_allow, &proxies, &nproxies, e) != 0) {
        char why[sizeof(e->msg)];
        snprintf(why, sizeof(why), "%s", e->msg);
        return err_set(e, ERR_INVALID, "metrics_allow: %s", why);
    }
    free(proxies);
    if (strcmp(c->log_format, "text") != 0 && strcmp(c->log_format, "json") != 0)
        return err_set(e, ERR_INVALID, "log_format: text or json");
    if (http_tls_priorities_check(c->tls_priorities, e) != 0)
        return -1;
    if ((c->tls_cert == NULL) != (c->tls_key == NULL))
        return err_set(e, ERR_INVALID, "tls_cert and tls_key: set both or neither");
    if (c->tls_cert == NULL && !is_loopback(c->api_address) && !c->api_allow_plain)
        return err_set(e, ERR_INVALID,
                       "api_address %s is not loopback: set tls_cert/tls_key (or "
                       "api_allow_plain = yes behind a TLS-terminating proxy)",
                       c->api_address);
    if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") &&
        strcmp(c->log_level, "warn") && strcmp(c->log_level, "error"))
        return err_set(e, ERR_INVALID, "log_level: debug, info, warn or error");
    if (strcmp(c->ocsp_signer, "delegated") != 0 && strcmp(c->ocsp_signer, "ca") != 0)
        return err_set(e, ERR_INVALID, "ocsp_signer: delegated or ca");
    if (key_type_parse(c->ocsp_responder_key_type) == KEY_NONE)
        return err_set(e, ERR_INVALID,
                       "ocsp_responder_key_type: ec-p256, ec-p384, rsa-2048/3072/4096 or ed25519");
    if (strcmp(c->tsa_clock_check, "off") != 0 && strcmp(c->tsa_clock_check, "kernel") != 0)
        return err_set(e, ERR_INVALID, "tsa_clock_check: off or kernel");
    if (strcmp(c->syslog_transport, "tcp") != 0 && strcmp(c->syslog_transport, "tls") != 0)
        return err_set(e, ERR_INVALID, "syslog_transport: tcp or tls");
    if (c->syslog_host != NULL && strcmp(c->syslog_transport, "tls") == 0 &&
        c->syslog_ca_file == NULL)
        return err_set(e, ERR_INVALID, "syslog_ca_file: required with syslog_transport tls");
    if (c->smtp_url != NULL && strncmp(c->smtp_url, "smtp://", 7) != 0 &&
        strncmp(c->smtp_url, "smtps://", 8) != 0)
        return err_set(e, ERR_INVALID, "smtp_url: smtp://host[:port] or smtps://host[:port]");
    if (c->smtp_url != NULL && !mail_address_valid(c->smtp_from))
        return err_set(e, ERR_INVALID, "smtp_from: an e-mail address (local@domain)");
    if ((c->smtp_user == NULL) != (c->smtp_password_file == NULL))
        return err_set(e, ERR_INVALID, "smtp_user and smtp_password_file: both or neither");
    if (strcmp(c->keystore_type, "soft") != 0 && strcmp(c->keystore_type, "pkcs11") != 0)
        return err_set(e, ERR_INVALID, "keystore_type: soft or pkcs11");
    if (strcmp(c->keystore_type, "pkcs11") == 0 &&
        (c->pkcs11_module == NULL || (c->pkcs11_token_label == NULL && c->pkcs11_slot < 0)))
        return err_set(e, ERR_INVALID,
                       "keystore_type pkcs11: set pkcs11_module and pkcs11_token_label (or "
                       "pkcs11_slot)");
    if (c->pkcs11_tenant_tokens != NULL && tenant_tokens_check(c, e) != 0)
        return -1;
    if (c->pkcs11_backup_token_label != NULL && c->pkcs11_token_label != NULL &&
        strcmp(c->pkcs11_backup_token_label, c->pkcs11_token_label) == 0)
        return err_set(e, ERR_INVALID, "pkcs11_backup_token_label: must name another token");
    if (c->backup_interval_hours > 0 && (c->backup_dir == NULL || c->backup_recipients == NULL))
        return err_set(e, ERR_INVALID,
                       "backup_interval_hours: needs backup_dir and backup_recipients");
    if (c->public_url != NULL && strncmp(c->public_url, "http://", 7) != 0)
        return err_set(e, ERR_INVALID,
                       "public_url: must be http:// (CDP/AIA over HTTPS would loop)");
    return roles_check(c, e);
}

int config_paths(const struct config *c, const char **names, const char **values, int max)
{
    int n = 0;

    for (size_t i = 0; i < ARRAY_LEN(items) && n < max; i++) {
        const char *v;
        if (items[i].type != CONF_PATH)
            continue;
        if ((v = *str_field((struct config *)c, &items[i])) != NULL) {
            names[n] = items[i].name;
            values[n++] = v;
        }
    }
    return n;
}

void config_write(const struct config *c, FILE *f)
{
    struct config *cc = (struct config *)c;

    fprintf(f, "# vouchd configuration (see docs/operations.md)\n");
    for (size_t i = 0; i < ARRAY_LEN(items); i++) {
        const struct config_item *it = &items[i];
        if (it->type == CONF_INT)
            fprintf(f, "# %s\n%s = %d\n", it->help, it->name, *int_field(cc, it));
        else if (it->type == CONF_BOOL)
            fprintf(f, "# %s\n%s = %s\n", it->help, it->name, *int_field(cc, it) ? "yes" : "no");
        else if (*str_field(cc, it) != NULL)
            fprintf(f, "# %s\n%s = %s\n", it->help, it->name, *str_field(cc, it));
    }
}

static const char *const type_names[] = {
    [CONF_STRING] = "string", [CONF_INT] = "int", [CONF_BOOL] = "bool", [CONF_PATH] = "path"};

void config_settings_print(FILE *f)
{
    json_t *all = json_array(), *doc;

    for (size_t i = 0; i < ARRAY_LEN(items); i++) {
        const struct config_item *it = &items[i];
        json_t *row = json_pack("{s:s, s:s, s:s?, s:s}", "name", it->name, "type",
                                type_names[it->type], "default", it->def, "help", it->help);

        json_object_set_new(row, "reload", json_boolean(config_reloadable(it->name)));
        if (it->type == CONF_INT) {
            json_object_set_new(row, "min", json_integer(it->min));
            json_object_set_new(row, "max", json_integer(it->max));
        }
        json_array_append_new(all, row);
    }
    doc = json_pack("{s:s, s:o}", "program", "vouchd", "settings", all);
    json_dumpf(doc, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    fputc('\n', f);
    json_decref(doc);
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < ARRAY_LEN(items); i++)
        if (items[i].type == CONF_STRING || items[i].type == CONF_PATH) {
            free(*str_field(c, &items[i]));
            *str_field(c, &items[i]) = NULL;
        }
}

int config_reloadable(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(reloadable); i++)
        if (strcmp(reloadable[i], name) == 0)
            return 1;
    return 0;
}

static int item_differs(struct config *a, struct config *b, const struct config_item *it)
{
    const char *x, *y;

    if (it->type == CONF_INT || it->type == CONF_BOOL)
        return *int_field(a, it) != *int_field(b, it);
    x = *str_field(a, it);
    y = *str_field(b, it);
    return (x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0);
}

int config_changed(const struct config *a, const struct config *b, const char **names, int max)
{
    int n = 0;

    for (size_t i = 0; i < ARRAY_LEN(items); i++)
        if (item_differs((struct config *)a, (struct config *)b, &items[i]) && n < max)
            names[n++] = items[i].name;
    return n;
}

void config_take_reloadable(struct config *cur, struct config *next)
{
    for (size_t i = 0; i < ARRAY_LEN(items); i++) {
        const struct config_item *it = &items[i];
        if (!config_reloadable(it->name))
            continue;
        if (it->type == CONF_INT || it->type == CONF_BOOL) {
            int v = *int_field(cur, it);
            *int_field(cur, it) = *int_field(next, it);
            *int_field(next, it) = v;
        } else {
            char *v = *str_field(cur, it);
            *str_field(cur, it) = *str_field(next, it);
            *str_field(next, it) = v;
        }
    }
}

char *config_node_name(const struct config *c, int api_port, int public_port)
{
    char host[256] = "node";

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "node");
    host[sizeof(host) - 1] = '\0';
    (void)c;
    return xasprintf("%s:%d:%d", host, api_port, public_port);
}
