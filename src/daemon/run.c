/*
 * run.c — serving: the signer is forked first (before any thread or socket),
 * then the store opens, the public listener starts (its port fixes the
 * CDP/AIA base URL when none is configured), then the API listener; the main
 * thread runs the CRL scheduler until SIGINT or SIGTERM.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>
#include <pthread.h>

#include "acme/server.h"
#include "api/api.h"
#include "audit/audit.h"
#include "audit/forward.h"
#include "daemon/backup.h"
#include "daemon/config.h"
#include "daemon/roles.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/metrics.h"

static void set_log_level(const char *name)
{
    if (strcmp(name, "debug") == 0)
        log_set_level(LOG_DEBUG);
    else if (strcmp(name, "warn") == 0)
        log_set_level(LOG_WARN);
    else if (strcmp(name, "error") == 0)
        log_set_level(LOG_ERROR);
    else
        log_set_level(LOG_INFO);
}

struct server {
    struct config cfg;
    pthread_t presigner;
    int presigner_running;
    pthread_t webhooks;
    int webhooks_running;
    pthread_t backups;
    int backups_running;
    pthread_t notices;
    int notices_running;
    int webhooks_stop;       /* the webhook thread alone is to stop (reload), under stop_lock */
    const char *config_path; /* read again on SIGHUP */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stopping;
    struct signer *signer;
    struct store *store;
    struct svc *svc;
    struct api api;
    struct http_server *public_srv, *api_srv, *metrics_srv;
    struct forwarder *forwarder; /* NULL: no SIEM */
    struct acme_server *acme;
    struct roles roles;                            /* services and jobs (daemon/roles.h) */
    struct http_route *public_routes, *api_routes; /* the route tables, cut to the services */
};

#define PRESIGN_BUDGET 2000 /* responses per pre-signer step */

/*
 * The OCSP pre-signer: signs due responses, resting a second when none are
 * left.  It also keeps this node's presence lease (svc_node_tick).
 */
static void *presigner_main(void *arg)
{
    struct server *s = arg;
    struct err e;

    pthread_mutex_lock(&s->stop_lock);
    while (!s->stopping) {
        int made;
        pthread_mutex_unlock(&s->stop_lock);
        if (svc_node_tick(s->svc, &e) < 0)
            log_warn("node presence: %s", e.msg);
        made = s->roles.jobs & JOB_OCSP ? svc_ocsp_tick(s->svc, PRESIGN_BUDGET, &e) : 0;
        if (made < 0)
            log_warn("OCSP pre-signer: %s", e.msg);
        else if (made > 0)
            log_debug("OCSP pre-signer: %d response(s) signed", made);
        pthread_mutex_lock(&s->stop_lock);
        if (made < PRESIGN_BUDGET && !s->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until);
        }
    }
    pthread_mutex_unlock(&s->stop_lock);
    return NULL;
}

/* Delivers the tenants' webhook events every second (a POST may take seconds: not in the loop). */
static void *webhooks_main(void *arg)
{
    struct server *s = arg;
    struct timespec until;
    struct err e;

    pthread_mutex_lock(&s->stop_lock);
    while (!s->stopping && !s->webhooks_stop) {
        pthread_mutex_unlock(&s->stop_lock);
        if (svc_webhook_tick(s->svc, &e) < 0)
            log_warn("webhooks: %s", e.msg);
        pthread_mutex_lock(&s->stop_lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (!s->stopping && !s->webhooks_stop)
            pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until);
    }
    pthread_mutex_unlock(&s->stop_lock);
    return NULL;
}

/*
 * Expiry notices every notice_check_seconds, in a thread of their own: mailing waits for
 * SMTP servers, which must not hold up the CRL scheduler of the main loop.
 */
static void *notices_main(void *arg)
{
    struct server *s = arg;
    struct timespec until;
    struct err e;
    int made;

    pthread_mutex_lock(&s->stop_lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->stop_lock);
        if ((made = svc_notice_tick(s->svc, &e)) < 0)
            log_warn("expiry notices: %s", e.msg);
        else if (made > 0)
            log_info("expiry notices: %d decided", made);
        pthread_mutex_lock(&s->stop_lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->cfg.notice_check_seconds;
        if (!s->stopping)
            pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until);
    }
    pthread_mutex_unlock(&s->stop_lock);
    return NULL;
}

#define BACKUP_RETRY_SECONDS 600 /* after a failed scheduled backup */

/*
 * Scheduled backups (backup_interval_hours): one when the newest in
 * backup_dir is an interval old (at once when there is none), then the
 * oldest past backup_keep removed.  A failed one is tried again ten minutes
 * later.  A backup under way when vouchd stops is finished first.
 */
static void *backups_main(void *arg)
{
    struct server *s = arg;
    struct timespec until;
    int64_t retry_at = 0;
    struct err e;

    pthread_mutex_lock(&s->stop_lock);
    while (!s->stopping) {
        int64_t due;
        pthread_mutex_unlock(&s->stop_lock);
        due = backup_next_due(s->cfg.backup_dir, s->cfg.backup_interval_hours);
        if (due < retry_at)
            due = retry_at;
        if (time_now() >= due) {
            if (backup_scheduled(&s->cfg, s->config_path, s->store, &e) != 0) {
                log_error("backup: %s", e.msg);
                retry_at = time_now() + BACKUP_RETRY_SECONDS;
            }
            due = time_now() + 1;
        }
        pthread_mutex_lock(&s->stop_lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += due - time_now() < 60 ? (due - time_now() > 0 ? due - time_now() : 1) : 60;
        if (!s->stopping)
            pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until);
    }
    pthread_mutex_unlock(&s->stop_lock);
    return NULL;
}

/* Starts the webhook delivery thread if it does not run; -1 with e set if it cannot. */
static int webhooks_start(struct server *s, struct err *e)
{
    if (s->webhooks_running)
        return 0;
    s->webhooks_stop = 0;
    if (pthread_create(&s->webhooks, NULL, webhooks_main, s) != 0)
        return err_set(e, ERR_INTERNAL, "cannot start the webhook thread");
    s->webhooks_running = 1;
    return 0;
}

/* Stops the webhook delivery thread if it runs (a delivery under way ends first). */
static void webhooks_stop(struct server *s)
{
    if (!s->webhooks_running)
        return;
    pthread_mutex_lock(&s->stop_lock);
    s->webhooks_stop = 1;
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->stop_lock);
    pthread_join(s->webhooks, NULL);
    s->webhooks_running = 0;
}

static void server_stop(struct server *s)
{
    pthread_mutex_lock(&s->stop_lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->stop_lock);
    if (s->presigner_running) {
        pthread_join(s->presigner, NULL);
        s->presigner_running = 0;
    }
    webhooks_stop(s);
    if (s->backups_running) {
        pthread_join(s->backups, NULL);
        s->backups_running = 0;
    }
    if (s->notices_running) {
        pthread_join(s->notices, NULL);
        s->notices_running = 0;
    }
    forward_stop(s->forwarder);
    s->forwarder = NULL;
    http_server_stop(s->metrics_srv);
    free(s->api.metrics_allow);
    http_server_stop(s->api_srv);
    http_server_stop(s->public_srv);
    acme_server_free(s->acme);
    free(s->public_routes);
    free(s->api_routes);
    svc_free(s->svc);
    store_close(s->store);
    signer_stop(s->signer);
    config_free(&s->cfg);
}

/* Starts forwarding audit events to the configured SIEM and tenants' own, if any. */
static int forwarder_start(struct server *s, struct err *e)
{
    struct forward_config fc = {.host = s->cfg.syslog_host,
                                .port = s->cfg.syslog_port,
                                .transport = s->cfg.syslog_transport,
                                .ca_file = s->cfg.syslog_ca_file,
                                .facility = s->cfg.syslog_facility,
                                .tenant_targets = s->cfg.syslog_tenant_targets};

    if (s->cfg.syslog_host == NULL && !s->cfg.syslog_tenant_targets)
        return 0;
    s->forwarder = forward_start(s->store, &fc, e);
    return s->forwarder != NULL ? 0 : -1;
}

/* The service settings of the configuration (public_url and node are the caller's). */
static void svc_config_fill(const struct config *c, struct svc_config *sc)
{
    sc->crl_validity_hours = c->crl_validity_hours;
    sc->crl_interval_minutes = c->crl_interval_minutes;
    sc->crl_expired_margin_days = c->crl_expired_margin_days;
    sc->ocsp_signer = c->ocsp_signer;
    sc->ocsp_validity_hours = c->ocsp_validity_hours;
    sc->ocsp_refresh_percent = c->ocsp_refresh_percent;
    sc->ocsp_responder_days = c->ocsp_responder_days;
    sc->ocsp_responder_key_type = c->ocsp_responder_key_type;
    sc->ocsp_check_seconds = c->ocsp_check_seconds;
    sc->ocsp_cache_seconds = c->ocsp_cache_seconds > 0 ? c->ocsp_cache_seconds : -1;
    sc->ocsp_outage_seconds = c->ocsp_outage_seconds;
    sc->ocsp_live_signs_per_second = c->ocsp_live_signs_per_second;
    sc->tsa_clock_check =
        strcmp(c->tsa_clock_check, "kernel") == 0 ? SVC_CLOCK_KERNEL : SVC_CLOCK_OFF;
    sc->tenant_retention_days = c->tenant_retention_days;
    sc->tenant_export_dir = c->tenant_export_dir;
    sc->webhooks_enabled = c->webhooks_enabled;
    sc->smtp_url = c->smtp_url;
    sc->smtp_from = c->smtp_from;
    sc->smtp_user = c->smtp_user;
    sc->smtp_ca_file = c->smtp_ca_file;
    sc->smtp_starttls = c->smtp_starttls;
}

/* The SMTP password from smtp_password_file (its first line), or NULL; the caller frees it. */
static char *smtp_password_read(const struct config *c, struct err *e)
{
    unsigned char *data;
    size_t len;

    if (c->smtp_password_file == NULL)
        return NULL;
    if ((data = file_read(c->smtp_password_file, 4096, &len, e)) == NULL)
        return NULL;
    data = xrealloc(data, len + 1);
    data[len] = '\0';
    data[strcspn((char *)data, "\r\n")] = '\0';
    return (char *)data;
}

/* The service and the ACME server, for a node listening on these ports; -1 with e set. */
static int services_start(struct server *s, int api_port, int public_port, struct err *e)
{
    struct svc_config sc = {0};
    char *url = NULL, *node;
    int rc = 0;

    if (s->cfg.public_url == NULL)
        url = xasprintf("http://%s:%d", s->cfg.public_address, public_port);
    sc.public_url = url ? url : s->cfg.public_url;
    svc_config_fill(&s->cfg, &sc);
    sc.node = node = config_node_name(&s->cfg, api_port, public_port);
    sc.skip_tsa_units = !(s->roles.services & SERVICE_TSA);
    sc.skip_responders = !(s->roles.services & SERVICE_OCSP) && !(s->roles.jobs & JOB_OCSP);
    if (s->cfg.smtp_password_file != NULL &&
        (sc.smtp_password = smtp_password_read(&s->cfg, e)) == NULL) {
        free(url);
        free(node);
        return -1;
    }
    s->svc = svc_new(s->store, s->signer, &sc);
    if (sc.smtp_password != NULL) {
        secure_zero((char *)sc.smtp_password, strlen(sc.smtp_password));
        free((char *)sc.smtp_password);
    }
    s->api.svc = s->svc;
    if (!(s->roles.services & SERVICE_API)) { /* no ACME; keys are bound on the CA nodes */
        free(url);
        free(node);
        return 0;
    }
    { /* keys from before the signer kept purposes get theirs from what uses them */
        struct err be;
        int bound = svc_keys_bind_all(s->svc, &be);
        if (bound < 0)
            log_warn("keys: purposes not checked at start: %s", be.msg);
        else if (bound > 0)
            log_info("keys: %d keys in use checked for their purpose", bound);
    }
    s->api.tls = s->cfg.tls_cert != NULL;
    {
        struct acme_server_config ac = {.validate = {.resolvers = s->cfg.acme_resolvers,
                                                     .http_port = s->cfg.acme_http_port,
                                                     .tls_port = s->cfg.acme_tls_port,
                                                     .timeout_ms = s->cfg.acme_timeout_ms,
                                                     .allow = s->cfg.acme_validation_allow,
                                                     .deny = s->cfg.acme_validation_deny,
                                                     .own_addresses = s->cfg.acme_own_addresses},
                                        .workers = s->cfg.acme_workers};
        if ((s->acme = acme_server_new(s->svc, &ac, e)) == NULL)
            rc = -1;
        s->api.acme = s->acme;
    }
    free(url);
    free(node);
    return rc;
}

/* The metrics listener's settings: one thread, no proxy, few connections. */
static struct http_config metrics_config(const struct config *c)
{
    return (struct http_config){.address = c->metrics_address,
                                .port = c->metrics_port,
                                .threads = 1,
                                .max_connections = 64,
                                .max_connections_per_address = -1,
                                .header_seconds = c->request_header_seconds,
                                .body_seconds = c->request_body_seconds,
                                .name = "metrics",
                                .access_log = c->access_log};
}

/*
 * The metrics listener, if metrics_address is set: GET /metrics to the
 * addresses of metrics_allow (checked by config_check), one thread.
 */
static int metrics_listen(struct server *s, struct err *e)
{
    struct http_config m = metrics_config(&s->cfg);
    const struct http_route *routes;
    size_t n;
    int port;

    if (s->cfg.metrics_address == NULL)
        return 0;
    if (http_proxies_parse(s->cfg.metrics_allow, &s->api.metrics_allow, &s->api.nmetrics_allow,
                           e) != 0)
        return -1;
    if ((m.listen_fd = http_listen(m.address, m.port, s->cfg.listen_reuse_port, &port, e)) < 0)
        return -1;
    routes = api_metrics_routes(&n);
    s->metrics_srv = http_server_start(&m, routes, n, api_metrics_authorize, NULL, &s->api, e);
    return s->metrics_srv != NULL ? 0 : -1;
}

/*
 * Both listeners are bound first (their ports, ephemeral or not, are known
 * before anything is named after them: the public URL, the node), then the
 * services are made, then the listeners served: no request arrives before the
 * service it needs exists.
 */
/* What the public listener and the API listener share of c. */
static void listener_config(const struct config *c, struct http_config *h)
{
    h->threads = c->threads;
    h->body_memory = (size_t)c->request_body_memory_mib << 20;
    h->max_connections = c->max_connections;
    h->max_connections_per_address =
        c->max_connections_per_address > 0 ? c->max_connections_per_address : -1;
    h->header_seconds = c->request_header_seconds;
    h->body_seconds = c->request_body_seconds;
    h->trusted_proxies = c->trusted_proxies;
    h->access_log = c->access_log;
}

static int server_listen(struct server *s, struct err *e)
{
    struct http_config pub = {
        .address = s->cfg.public_address, .port = s->cfg.public_port, .name = "public"};
    struct http_config api = {.tls_client_certs = 1,
                              .address = s->cfg.api_address,
                              .port = s->cfg.api_port,
                              .tls_cert_file = s->cfg.tls_cert,
                              .tls_key_file = s->cfg.tls_key,
                              .tls_priorities = s->cfg.tls_priorities,
                              .security_headers = 1,
                              .name = "api"};
    const struct http_route *routes;
    int public_port, api_port = 0;
    size_t n, npub, napi, serving;

    /* Only the routes of the services this node runs; a listener serving none is not opened. */
    routes = api_public_routes(&n);
    s->public_routes = roles_routes(&s->roles, routes, n, &npub, &serving);
    routes = api_routes(&n);
    s->api_routes = roles_routes(&s->roles, routes, n, &napi, &serving);
    if (serving == 0)
        napi = 0;
    listener_config(&s->cfg, &pub);
    listener_config(&s->cfg, &api);
    pub.listen_fd = http_listen(pub.address, pub.port, s->cfg.listen_reuse_port, &public_port, e);
    if (pub.listen_fd < 0)
        return -1;
    api.listen_fd =
        napi > 0 ? http_listen(api.address, api.port, s->cfg.listen_reuse_port, &api_port, e) : -1;
    if ((napi > 0 && api.listen_fd < 0) || services_start(s, api_port, public_port, e) != 0) {
        close(pub.listen_fd);
        if (api.listen_fd >= 0)
            close(api.listen_fd);
        return -1;
    }
    s->public_srv = http_server_start(&pub, s->public_routes, npub, api_authorize,
                                      api_free_principal, &s->api, e);
    if (s->public_srv == NULL) {
        if (api.listen_fd >= 0)
            close(api.listen_fd);
        return -1;
    }
    if (napi > 0 && (s->api_srv = http_server_start(&api, s->api_routes, napi, api_authorize,
                                                    api_free_principal, &s->api, e)) == NULL)
        return -1;
    if (metrics_listen(s, e) != 0)
        return -1;
    if (pthread_create(&s->presigner, NULL, presigner_main, s) != 0)
        return err_set(e, ERR_INTERNAL, "cannot start the OCSP pre-signer thread");
    s->presigner_running = 1;
    if ((s->roles.services & SERVICE_API) && s->cfg.webhooks_enabled && webhooks_start(s, e) != 0)
        return -1;
    if ((s->roles.jobs & JOB_NOTICES) && pthread_create(&s->notices, NULL, notices_main, s) != 0)
        return err_set(e, ERR_INTERNAL, "cannot start the expiry notice thread");
    s->notices_running = (s->roles.jobs & JOB_NOTICES) != 0;
    if (s->cfg.backup_interval_hours > 0) {
        if (pthread_create(&s->backups, NULL, backups_main, s) != 0)
            return err_set(e, ERR_INTERNAL, "cannot start the backup thread");
        s->backups_running = 1;
    }
    return forwarder_start(s, e);
}

/* Records in the _system chain that the key store did not open (wrong PIN, no token ...). */
static void keystore_failure_audit(struct server *s, const struct err *why)
{
    json_t *d = json_pack("{s:s, s:s}", "keystore_type", s->cfg.keystore_type, "error", why->msg);
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    struct audit_event ev = {.actor = "vouchd",
                             .action = "keystore.open",
                             .object = s->cfg.pkcs11_token_label ? s->cfg.pkcs11_token_label : "",
                             .result = "error",
                             .detail = detail};
    struct store *store;
    struct err e;

    if ((store = store_open(s->cfg.database, &e)) == NULL ||
        audit_record(store, "_system", &ev, &e) != 0)
        log_warn("audit: key-store failure not recorded: %s", e.msg);
    store_close(store);
    free(detail);
    json_decref(d);
}

/*
 * Opens the database.  One that cannot be reached, or that is a standby (both
 * 503), is tried again every second for database_wait_seconds — a node
 * started with its cluster, or while a failover elects the new primary, waits
 * for it — unless SIGINT or SIGTERM (in *stop, blocked) comes first.
 */
static struct store *store_open_waiting(struct server *s, const sigset_t *stop, struct err *e)
{
    int64_t deadline = time_now() + s->cfg.database_wait_seconds, next_log = 0;
    struct timespec second = {1, 0};
    struct store *st;
    int sig;

    while ((st = store_open(s->cfg.database, e)) == NULL && e->kind == ERR_UNAVAILABLE &&
           time_now() < deadline) {
        if (time_now() >= next_log) {
            log_warn("%s; waiting for the database (up to %" PRId64 " more seconds)", e->msg,
                     deadline - time_now());
            next_log = time_now() + 10;
        }
        sig = sigtimedwait(stop, NULL, &second);
        if (sig == SIGINT || sig == SIGTERM) {
            sd_notify(0, "STOPPING=1");
            log_info("signal %d: stopping", sig);
            err_set(e, ERR_UNAVAILABLE, "stopped while waiting for the database");
            return NULL;
        }
    }
    return st;
}

/* A user by name or number: its uid and primary group; -1 with e set if there is none. */
static int user_resolve(const char *setting, const char *name, uid_t *uid, gid_t *gid,
                        struct err *e)
{
    struct passwd *pw = getpwnam(name);
    char *end;
    long n;

    if (pw != NULL) {
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
        return 0;
    }
    n = strtol(name, &end, 10);
    if (*name == '\0' || *end != '\0' || n <= 0 || n > 2147483647)
        return err_set(e, ERR_INVALID, "%s: no user %s", setting, name);
    *uid = (uid_t)n;
    *gid = (gid_t)n; /* a number with no passwd entry: the group of the same number */
    return 0;
}

/*
 * Started as root with user set: the network process becomes that user once
 * the keeper is forked (before it opens the database or a socket), and can
 * no longer read what only the signer's user can.
 */
static int privileges_drop(struct server *s, struct err *e)
{
    uid_t uid;
    gid_t gid;

    if (geteuid() != 0)
        return 0;
    if (s->cfg.user == NULL) {
        log_warn("vouchd: running as root with no user set: the network process can read the key "
                 "store (set user and signer_user, docs/operations.md)");
        return 0;
    }
    if (user_resolve("user", s->cfg.user, &uid, &gid, e) != 0 ||
        process_identity(uid, gid, e) != 0 || process_protect(e) != 0)
        return -1;
    log_info("vouchd: network process runs as user %d", (int)uid);
    return 0;
}

static int server_start(struct server *s, const sigset_t *stop, struct err *e)
{
    struct signer_config sc = {.keystore_dir = s->cfg.keystore,
                               .kek_path = s->cfg.kek_file,
                               .connections = s->cfg.signer_connections,
                               .keystore_type = s->cfg.keystore_type,
                               .pkcs11_module = s->cfg.pkcs11_module,
                               .pkcs11_token_label = s->cfg.pkcs11_token_label,
                               .pkcs11_use_slot = s->cfg.pkcs11_slot >= 0,
                               .pkcs11_slot = (unsigned long)s->cfg.pkcs11_slot,
                               .pkcs11_backup_token_label = s->cfg.pkcs11_backup_token_label,
                               .pkcs11_pin_file = s->cfg.pkcs11_pin_file,
                               .pkcs11_tenant_tokens = s->cfg.pkcs11_tenant_tokens,
                               .pkcs11_tenant_pin_dir = s->cfg.pkcs11_tenant_pin_dir};

    if (roles_parse(s->cfg.services, s->cfg.jobs, &s->roles, e) != 0)
        return -1;
    sc.purposes = roles_key_purposes(&s->roles);
    roles_services_text(s->roles.services, s->api.services, sizeof(s->api.services));
    roles_jobs_text(s->roles.jobs, s->api.jobs, sizeof(s->api.jobs));
    if (geteuid() == 0 && s->cfg.signer_user != NULL) {
        if (user_resolve("signer_user", s->cfg.signer_user, &sc.uid, &sc.gid, e) != 0)
            return -1;
        sc.run_as = 1;
    }
    /* The signer is forked before any thread exists or any socket is open. */
    if ((s->signer = signer_start(&sc, e)) == NULL) {
        keystore_failure_audit(s, e);
        return -1;
    }
    if (privileges_drop(s, e) != 0 ||
        signer_supervise(s->signer, s->cfg.signer_hang_seconds, e) != 0)
        return -1;
    { /* What the network process never needs, it gives up (lib/sandbox.h). */
        unsigned flags = s->cfg.backup_interval_hours > 0 ? SANDBOX_EXEC : 0;
        if (sandbox_network_process(flags, e) != 0)
            return -1;
        log_info("vouchd: %d system calls refused to the network process (seccomp)%s",
                 sandbox_refused_count(flags),
                 flags & SANDBOX_EXEC ? "; programs may run (scheduled backups)" : "");
    }
    if ((s->store = store_open_waiting(s, stop, e)) == NULL)
        return -1;
    store_set_max_connections(s->store, s->cfg.database_connections);
    s->api.tenant_forwarding = s->cfg.syslog_tenant_targets;
    s->api.est_default = s->cfg.est_default_endpoint;
    s->api.syslog_forwarding = s->cfg.syslog_host != NULL;
    return server_listen(s, e);
}

/* Whether a key-store event reports a fault (failure, failover, a missing key). */
static int keystore_event_is_error(const char *action)
{
    return strcmp(action, "keystore.token_failed") == 0 ||
           strcmp(action, "keystore.failover") == 0 || strcmp(action, "keystore.key_missing") == 0;
}

/*
 * Writes the signer supervisor's events (a signer restarted, or down) into
 * the _system audit chain, as vouchd's.
 */
static void supervision_events_audit(struct server *s)
{
    struct signer_event *ev = NULL;
    struct err e;
    int n = 0;

    signer_supervision_events(s->signer, &ev, &n);
    for (int i = 0; i < n; i++) {
        struct audit_event a = {.actor = "vouchd",
                                .action = ev[i].action,
                                .object = ev[i].object,
                                .result =
                                    strcmp(ev[i].action, "signer.restart") == 0 ? "ok" : "error",
                                .detail = ev[i].detail};
        if (audit_record(s->store, "_system", &a, &e) != 0)
            log_error("audit: signer event %s not recorded: %s", ev[i].action, e.msg);
    }
    signer_events_free(ev, n);
}

/*
 * Writes the signer's key-store events (token failures, failover, failback)
 * into the _system audit chain: the signer has no database.
 */
static void keystore_events_audit(struct server *s)
{
    struct signer_event *ev = NULL;
    struct err e;
    int n = 0;

    supervision_events_audit(s);
    if (signer_events(s->signer, &ev, &n, &e) != 0)
        return;
    for (int i = 0; i < n; i++) {
        const char *event =
            strncmp(ev[i].action, "keystore.", 9) == 0 ? ev[i].action + 9 : ev[i].action;
        struct audit_event a = {.actor = "signer",
                                .action = ev[i].action,
                                .object = ev[i].object,
                                .result = keystore_event_is_error(ev[i].action) ? "error" : "ok",
                                .detail = ev[i].detail};
        const char *slash = strchr(ev[i].object, '/');
        char chain[128] = "_system";

        /* A key refused what its purpose does not cover: the key's tenant's chain. */
        if (strcmp(ev[i].action, "key.refused") == 0 && slash != NULL &&
            (size_t)(slash - ev[i].object) < sizeof(chain)) {
            snprintf(chain, sizeof(chain), "%.*s", (int)(slash - ev[i].object), ev[i].object);
            a.result = "refused";
        }
        metrics_add(&metrics_keystore_events, 1, &event);
        if (audit_record(s->store, chain, &a, &e) != 0)
            log_error("audit: key-store event %s not recorded: %s", ev[i].action, e.msg);
    }
    signer_events_free(ev, n);
}

static void log_configure(const struct config *c)
{
    set_log_level(c->log_level);
    log_set_format(strcmp(c->log_format, "json") == 0 ? LOG_JSON : LOG_TEXT);
}

/* Whether any of the syslog_* settings is among the n names. */
static int syslog_changed(const char **names, int n)
{
    for (int i = 0; i < n; i++)
        if (strncmp(names[i], "syslog_", 7) == 0)
            return 1;
    return 0;
}

/*
 * Applies s->cfg's reloadable settings to what runs: the listeners (trusted
 * proxies, limit per address, deadlines, access log; no connection is
 * closed), the log, svc (OCSP live rate, webhooks), the webhook thread and,
 * when a syslog setting changed, the SIEM forwarder (stopped and started
 * anew: the database is its queue, nothing is lost).
 */
static void reload_apply(struct server *s, int syslog)
{
    struct http_config pub = {.name = "public"}, api = {.name = "api"};
    struct http_config m = metrics_config(&s->cfg);
    struct svc_config sc = {0};
    struct err e;

    log_configure(&s->cfg);
    if (s->cfg.tls_cert != NULL) {
        if (http_server_tls_reload(s->api_srv, s->cfg.tls_cert, s->cfg.tls_key, &e) != 0)
            log_error("reload: the API's TLS pair stays the one it was: %s", e.msg);
        else
            log_info("reload: the API's TLS pair read from %s and %s", s->cfg.tls_cert,
                     s->cfg.tls_key);
    }
    listener_config(&s->cfg, &pub);
    listener_config(&s->cfg, &api);
    if (http_server_reload(s->public_srv, &pub, &e) != 0 ||
        (s->api_srv != NULL && http_server_reload(s->api_srv, &api, &e) != 0) ||
        (s->metrics_srv != NULL && http_server_reload(s->metrics_srv, &m, &e) != 0))
        log_error("reload: listeners: %s", e.msg); /* config_check parsed them: not expected */
    svc_config_fill(&s->cfg, &sc);
    svc_reload(s->svc, &sc);
    if (!s->cfg.webhooks_enabled || !(s->roles.services & SERVICE_API))
        webhooks_stop(s);
    else if (webhooks_start(s, &e) != 0)
        log_error("reload: %s", e.msg);
    s->api.tenant_forwarding = s->cfg.syslog_tenant_targets;
    s->api.syslog_forwarding = s->cfg.syslog_host != NULL;
    if (syslog) {
        forward_stop(s->forwarder);
        s->forwarder = NULL;
        if (forwarder_start(s, &e) != 0)
            log_error("reload: audit forwarding not started: %s", e.msg);
    }
}

/* next keeps cur's tls_cert and tls_key (TLS is not turned on or off by a reload). */
static void tls_keep(const struct config *cur, struct config *next)
{
    free(next->tls_cert);
    free(next->tls_key);
    next->tls_cert = cur->tls_cert ? xstrdup(cur->tls_cert) : NULL;
    next->tls_key = cur->tls_key ? xstrdup(cur->tls_key) : NULL;
}

/*
 * SIGHUP: reads the configuration file again.  One that does not load or
 * check changes nothing (the error is logged).  Otherwise the reloadable
 * settings that changed are applied, and each other setting that changed is
 * named in the log as waiting for a restart (the running value stays).
 */
static void server_reload(struct server *s)
{
    const char *changed[128];
    struct config next;
    struct err e;
    int n, later = 0;

    config_defaults(&next);
    if (config_load(&next, s->config_path, &e) != 0 || config_check(&next, &e) != 0 ||
        config_files_check(&next, &e) != 0) {
        log_error("reload: %s: nothing changed", e.msg);
        config_free(&next);
        return;
    }
    if ((s->cfg.tls_cert == NULL) != (next.tls_cert == NULL)) {
        log_warn("reload: TLS on the API listener is turned on or off at the next restart");
        tls_keep(&s->cfg, &next);
    }
    n = config_changed(&s->cfg, &next, changed, (int)ARRAY_LEN(changed));
    for (int i = 0; i < n; i++)
        if (!config_reloadable(changed[i])) {
            log_warn("reload: %s changed: it takes effect at the next restart", changed[i]);
            later++;
        } else {
            log_info("reload: %s changed", changed[i]);
        }
    config_take_reloadable(&s->cfg, &next);
    /* The TLS pair is read again even when its paths are the same (renewed in place). */
    if (n > later || s->cfg.tls_cert != NULL)
        reload_apply(s, syslog_changed(changed, n));
    log_info("reload: %s read: %d setting(s) applied, %d waiting for a restart", s->config_path,
             n - later, later);
    config_free(&next);
}

/*
 * Waits for SIGINT/SIGTERM; every second audits the key-store events, writes
 * the summaries of refusals and log lines held back (svc_refusals_tick,
 * log_floods_flush), signs
 * the audit chain heads every audit_checkpoint_seconds, runs the CRL
 * scheduler (and marks pending requests past their time expired, and
 * announces certificates that expired) every crl_check_seconds and purges deleted tenants
 * past their retention every tenant_purge_check_seconds (expiry notices have a thread of
 * their own: notices_main).
 */
static void server_loop(struct server *s, const sigset_t *stop)
{
    struct timespec wait = {.tv_sec = 1};
    int64_t next_crl = 0, next_checkpoint = time_now() + s->cfg.audit_checkpoint_seconds;
    int64_t next_purge = time_now() + s->cfg.tenant_purge_check_seconds;
    struct err e;
    int sig, made;

    for (;;) {
        keystore_events_audit(s);
        svc_refusals_tick(s->svc, 0);
        log_floods_flush(0);
        if ((s->roles.jobs & JOB_CHECKPOINT) && time_now() >= next_checkpoint) {
            next_checkpoint = time_now() + s->cfg.audit_checkpoint_seconds;
            if (svc_audit_checkpoint_tick(s->svc, &e) != 0)
                log_warn("audit checkpoints: %s", e.msg);
        }
        if (time_now() >= next_crl) {
            next_crl = time_now() + s->cfg.crl_check_seconds;
            if (s->roles.jobs & JOB_EXPIRY) {
                if (svc_request_expire_tick(s->svc, &e) < 0)
                    log_warn("request expiry: %s", e.msg);
                if (svc_cert_expiry_tick(s->svc, &e) < 0)
                    log_warn("certificate expiry: %s", e.msg);
                if (svc_cmp_confirm_tick(s->svc, &e) < 0)
                    log_warn("CMP confirmation: %s", e.msg);
            }
            if (s->acme != NULL)
                acme_server_tick(s->acme);
            if (svc_signing_check(s->svc, &e) < 0)
                log_warn("signing units: not checked: %s", e.msg);
            made = s->roles.jobs & JOB_CRL ? svc_crl_tick(s->svc, &e) : 0;
            if (made < 0)
                log_warn("CRL scheduler: %s", e.msg);
            else if (made > 0)
                log_info("CRL scheduler: %d CRL(s) published", made);
        }
        if ((s->roles.jobs & JOB_PURGE) && time_now() >= next_purge) {
            next_purge = time_now() + s->cfg.tenant_purge_check_seconds;
            if (svc_acme_prune_tick(s->svc, &e) < 0)
                log_warn("ACME pruning: %s", e.msg);
            if (svc_cmp_prune_tick(s->svc, &e) < 0)
                log_warn("CMP pruning: %s", e.msg);
            if (svc_tenant_purge_tick(s->svc, &e) < 0)
                log_warn("tenant purge: %s", e.msg);
        }

        sig = sigtimedwait(stop, NULL, &wait);
        if (sig == SIGHUP) {
            log_info("signal %d: reloading the configuration", sig);
            sd_notify(0, "RELOADING=1");
            server_reload(s);
            sd_notify(0, "READY=1");
        } else if (sig == SIGINT || sig == SIGTERM) {
            sd_notify(0, "STOPPING=1");
            log_info("signal %d: stopping", sig);
            keystore_events_audit(s);
            log_floods_flush(1);
            return;
        }
    }
}

/* Both route tables checked (every permission known to the role map), then printed as JSON. */
static int routes_check(struct err *e)
{
    const struct http_route *r;
    size_t n;

    r = api_routes(&n);
    if (api_routes_check(r, n, e) != 0)
        return -1;
    r = api_public_routes(&n);
    return api_routes_check(r, n, e);
}

static int routes_show(void)
{
    struct err e;

    if (routes_check(&e) != 0) {
        fprintf(stderr, "vouchd: %s\n", e.msg);
        return 1;
    }
    api_routes_print(stdout);
    return 0;
}

static int run_usage(void)
{
    fprintf(stderr,
            "usage: vouchd [-c FILE] [--check] | vouchd --routes | vouchd --settings-json\n");
    return 2;
}

int daemon_run(int argc, char **argv)
{
    struct server s;
    const char *path = "vouchd.conf";
    int check = 0;
    sigset_t stop;
    struct err e;

    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.stop_lock, NULL);
    pthread_cond_init(&s.stop_cond, NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--routes") == 0 && argc == 2)
            return routes_show();
        else if (strcmp(argv[i], "--settings-json") == 0 && argc == 2) {
            config_settings_print(stdout);
            return 0;
        } else
            return run_usage();
    }
    config_defaults(&s.cfg);
    if (config_load(&s.cfg, path, &e) != 0 || config_check(&s.cfg, &e) != 0 ||
        config_files_check(&s.cfg, &e) != 0) {
        fprintf(stderr, "vouchd: %s\n", e.msg);
        config_free(&s.cfg);
        return 1;
    }
    if (check) {
        struct roles r;
        printf("%s: ok\n", path);
        if (roles_parse(s.cfg.services, s.cfg.jobs, &r, &e) == 0) /* config_check parsed them */
            roles_describe(&r, stdout);
        config_free(&s.cfg);
        return 0;
    }
    s.config_path = path;
    log_configure(&s.cfg);
    if (routes_check(&e) != 0) {
        fprintf(stderr, "vouchd: refusing to start: %s\n", e.msg);
        config_free(&s.cfg);
        return 1;
    }
    /* SIGINT/SIGTERM are taken by sigtimedwait in the main thread only. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Before the keeper and the signer are forked: they inherit it (and set it again). */
    if (process_protect(&e) != 0) {
        fprintf(stderr, "vouchd: %s\n", e.msg);
        config_free(&s.cfg);
        return 1;
    }
    if (server_start(&s, &stop, &e) != 0) {
        fprintf(stderr, "vouchd: %s\n", e.msg);
        server_stop(&s);
        return 1;
    }
    if (s.api_srv != NULL)
        printf("{\"api_port\": %d, ", http_server_port(s.api_srv));
    else
        printf("{\"api_port\": null, ");
    printf("\"public_port\": %d, \"tls\": %s", http_server_port(s.public_srv),
           s.cfg.tls_cert ? "true" : "false");
    if (s.metrics_srv != NULL)
        printf(", \"metrics_port\": %d", http_server_port(s.metrics_srv));
    printf("}\n");
    fflush(stdout);
    {
        char services[100], jobs[100];
        roles_services_text(s.roles.services, services, sizeof(services));
        roles_jobs_text(s.roles.jobs, jobs, sizeof(jobs));
        if (s.api_srv != NULL)
            log_info("vouchd: API on %s://%s:%d, public on http://%s:%d; services: %s; jobs: %s",
                     s.cfg.tls_cert ? "https" : "http", s.cfg.api_address,
                     http_server_port(s.api_srv), s.cfg.public_address,
                     http_server_port(s.public_srv), services, jobs);
        else
            log_info("vouchd: no API listener, public on http://%s:%d; services: %s; jobs: %s",
                     s.cfg.public_address, http_server_port(s.public_srv), services, jobs);
        /* Under systemd (Type=notify): serving now.  Nothing happens without NOTIFY_SOCKET. */
        if (s.api_srv != NULL)
            sd_notifyf(
                0, "READY=1\nSTATUS=API on port %d, public on port %d; services: %s\nMAINPID=%lu",
                http_server_port(s.api_srv), http_server_port(s.public_srv), services,
                (unsigned long)getpid());
        else
            sd_notifyf(0, "READY=1\nSTATUS=public on port %d; services: %s\nMAINPID=%lu",
                       http_server_port(s.public_srv), services, (unsigned long)getpid());
    }
    server_loop(&s, &stop);
    server_stop(&s);
    return 0;
}
