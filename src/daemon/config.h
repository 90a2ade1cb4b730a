/*
 * config.h — vouchd's configuration: one declarative table (config.c) of
 * name, type, bounds and default; files of "name = value" lines with '#'
 * comments; errors reported as "file:line: message".
 */
#ifndef VOUCH_CONFIG_H
#define VOUCH_CONFIG_H

#include <stdio.h>

#include "lib/util.h"

struct config {
    char *api_address;
    int api_port;
    char *tls_cert;
    char *tls_key;
    char *tls_priorities;  /* GnuTLS priority string of the API listener */
    int api_allow_plain;   /* plain-HTTP API on a non-loopback address */
    char *trusted_proxies; /* load balancers whose X-Forwarded-For is believed (http.h) */
    char *public_address;
    int public_port;
    char *public_url;      /* base of CDP/AIA URLs; default http://<public_address>:<public_port> */
    int listen_reuse_port; /* both listeners with SO_REUSEPORT */
    char *database;
    int database_wait_seconds;
    int database_connections; /* store_set_max_connections */
    char *keystore;
    char *kek_file;
    char *keystore_type; /* "soft" or "pkcs11" */
    char *pkcs11_module;
    char *pkcs11_token_label;
    int pkcs11_slot; /* -1: the token is found by label */
    char *pkcs11_backup_token_label;
    char *pkcs11_pin_file;
    char *pkcs11_tenant_tokens;  /* "tenant=LABEL,..." */
    char *pkcs11_tenant_pin_dir; /* <dir>/<tenant> holds that tenant's PIN */
    int threads;
    int request_body_memory_mib;     /* http_config.body_memory, in MiB */
    int max_connections;             /* http_config, per listener */
    int max_connections_per_address; /* 0: no limit */
    int request_header_seconds;
    int request_body_seconds;
    int signer_connections;
    int signer_hang_seconds; /* signer_supervise */
    int crl_check_seconds;
    int crl_validity_hours;
    int crl_interval_minutes;
    int crl_expired_margin_days;
    char *ocsp_signer;
    int ocsp_validity_hours;
    int ocsp_refresh_percent;
    int ocsp_responder_days;
    char *ocsp_responder_key_type;
    int ocsp_check_seconds;
    int ocsp_cache_seconds;
    int ocsp_outage_seconds;
    int ocsp_live_signs_per_second;
    char *log_level;
    char *log_format;      /* "text" or "json" */
    int access_log;        /* answers logged at info level */
    char *metrics_address; /* NULL: no metrics listener */
    int metrics_port;
    char *metrics_allow;   /* who may read /metrics */
    char *user;            /* started as root: the network process's user */
    char *signer_user;     /* started as root: the signer's user */
    char *tsa_clock_check; /* "off" or "kernel" */
    int audit_checkpoint_seconds;
    char *syslog_host; /* NULL: no SIEM forwarding */
    int syslog_port;
    char *syslog_transport; /* "tcp" or "tls" */
    char *syslog_ca_file;
    int syslog_facility;
    int syslog_tenant_targets; /* tenants may set their own SIEM */
    int tenant_retention_days;
    char *tenant_export_dir;
    int tenant_purge_check_seconds;
    int webhooks_enabled;
    int notice_check_seconds;
    char *smtp_url;
    char *smtp_from;
    char *smtp_user;
    char *smtp_password_file;
    char *smtp_ca_file;
    int smtp_starttls;
    /* ACME validation (src/acme/validate.h) */
    char *acme_resolvers;
    int acme_http_port;
    int acme_tls_port;
    int acme_timeout_ms;
    char *acme_validation_allow;
    char *acme_validation_deny;
    char *acme_own_addresses;
    char *est_default_endpoint; /* "tenant~endpoint" served without a label, or NULL */
    int acme_workers;
    /* scheduled backups (daemon/backup.h); backup_interval_hours 0: none */
    char *backup_dir;
    int backup_interval_hours;
    int backup_keep;
    char *backup_recipients; /* age recipients, comma-separated */
    char *backup_database;   /* PostgreSQL: pg_dump's URL (a role reading every row) */
    /* what this node runs (daemon/roles.h): lists of names, "all" or "none" */
    char *services;
    char *jobs;
};

/* Sets every field to its default. */
void config_defaults(struct config *c);
/* Reads a file over the defaults; relative paths are taken from the file's directory. */
int config_load(struct config *c, const char *path, struct err *e);
/* Checks cross-field rules (TLS pair, plain HTTP off loopback). */
int config_check(const struct config *c, struct err *e);
/*
 * The files of c that hold secrets (kek_file and the key store, PIN files,
 * tls_key, a SQLite database with its -wal and -shm) are the owner's alone
 * (files.c): 0, or -1 with e naming the first that is not and how to fix it.
 * Files that do not exist yet pass.
 */
int config_files_check(const struct config *c, struct err *e);
/*
 * The path settings of c that are set, in the table's order: their names
 * into names and values into values (c's strings), at most max; returns how
 * many.
 */
int config_paths(const struct config *c, const char **names, const char **values, int max);
/* Writes c as a config file. */
void config_write(const struct config *c, FILE *f);
/*
 * Prints the table itself as JSON ({"settings": [{name, type, default, min,
 * max, help}]}): what vouchd.conf(5) and the example configuration are
 * generated from (`vouchd --settings-json`).
 */
void config_settings_print(FILE *f);
void config_free(struct config *c);
/* Whether setting name is applied by SIGHUP to a running vouchd (else it needs a restart). */
int config_reloadable(const char *name);
/*
 * The names of the settings whose values differ between a and b, at most max
 * of them, into names (static strings); returns how many.
 */
int config_changed(const struct config *a, const struct config *b, const char **names, int max);
/* Moves the reloadable settings of next into cur (cur's old values go to next, for config_free). */
void config_take_reloadable(struct config *cur, struct config *next);
/*
 * This node's name among the nodes of a cluster: "<host>:<api port>:<public
 * port>" with the ports it listens on (bound, so ephemeral ports of two nodes
 * on one host never give one name), the same for `vouchd init` and every
 * later start of the same configuration with fixed ports, so a restarted
 * node takes its own leases back at once (the caller frees it).
 */
char *config_node_name(const struct config *c, int api_port, int public_port);

#endif
