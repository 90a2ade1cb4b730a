/* forward.c — audit events to a SIEM over syslog (see forward.h). */
#include "audit/forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/log.h"

#define TARGET      "system"
#define BATCH       500
#define IO_TIMEOUT  10000               /* ms for connect and each write */
#define SD_ID       "vouch-audit@32473" /* 32473: the documentation PEN (RFC 5612) */
#define MAX_BACKOFF 30

struct forwarder {
    struct store *store;
    struct forward_config cfg; /* strings owned */
    char hostname[256];
    SSL_CTX *ctx; /* tls only */
    int fd;
    SSL *ssl;
    int backoff; /* seconds to wait after a failure */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
};

/* ---- message format ------------------------------------------------------ */

static int severity(const char *result)
{
    if (result != NULL && strcmp(result, "refused") == 0)
        return 4;
    if (result != NULL && strcmp(result, "error") == 0)
        return 3;
    return 6;
}

/* An SD-PARAM value: '"', '\' and ']' escaped (RFC 5424 §6.3.3). */
static void sd_param(struct buf *b, const char *name, const char *value)
{
    buf_append(b, " ", 1);
    buf_append(b, name, strlen(name));
    buf_append(b, "=\"", 2);
    for (const char *p = value != NULL ? value : ""; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\' || *p == ']')
            buf_append(b, "\\", 1);
        buf_append(b, p, 1);
    }
    buf_append(b, "\"", 1);
}

/* A header field of printable US-ASCII, no spaces, at most max chars; "-" if empty. */
static void header_field(struct buf *b, const char *value, size_t max)
{
    size_t n = 0;

    for (const char *p = value != NULL ? value : ""; *p != '\0' && n < max; p++, n++) {
        char c = *p >= 33 && *p <= 126 ? *p : '_';
        buf_append(b, &c, 1);
    }
    if (n == 0)
        buf_append(b, "-", 1);
}

char *forward_format(const struct audit_rec *r, int facility, const char *hostname)
{
    struct buf b = {0};
    char head[96], stamp[32], seq[32];
    time_t t = (time_t)r->time;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(head, sizeof(head), "<%d>1 %s ", facility * 8 + severity(r->result), stamp);
    buf_append(&b, head, strlen(head));
    header_field(&b, hostname, 255);
    snprintf(head, sizeof(head), " vouchd %ld ", (long)getpid());
    buf_append(&b, head, strlen(head));
    header_field(&b, r->action, 32);
    buf_append(&b, " [" SD_ID, strlen(" [" SD_ID));
    snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
    sd_param(&b, "tenant", r->tenant);
    sd_param(&b, "seq", seq);
    sd_param(&b, "actor", r->actor);
    sd_param(&b, "object", r->object);
    sd_param(&b, "result", r->result);
    sd_param(&b, "hash", r->hash);
    buf_append(&b, "] \xef\xbb\xbf", 5);
    buf_append(&b, r->detail != NULL ? r->detail : "{}",
               strlen(r->detail != NULL ? r->detail : "{}"));
    buf_append(&b, "", 1);
    return (char *)b.data;
}

/* ---- connection ---------------------------------------------------------- */

static void conn_close(struct forwarder *f)
{
    if (f->ssl != NULL) {
        SSL_shutdown(f->ssl);
        SSL_free(f->ssl);
        f->ssl = NULL;
    }
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* A TCP connection to host:port, with IO_TIMEOUT for connect; -1 on failure. */
static int tcp_connect(const char *host, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    struct timeval tv = {IO_TIMEOUT / 1000, 0};
    char service[16];
    int fd = -1;

    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -1;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* TLS on f->fd, checking the receiver's certificate against the CA file and the host name. */
static int tls_start(struct forwarder *f)
{
    unsigned char addr[16];
    int is_ip =
        inet_pton(AF_INET, f->cfg.host, addr) == 1 || inet_pton(AF_INET6, f->cfg.host, addr) == 1;
    X509_VERIFY_PARAM *vp;

    if ((f->ssl = SSL_new(f->ctx)) == NULL || SSL_set_fd(f->ssl, f->fd) != 1)
        return -1;
    vp = SSL_get0_param(f->ssl);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, f->cfg.host) != 1
              : (SSL_set_tlsext_host_name(f->ssl, f->cfg.host) != 1 ||
                 X509_VERIFY_PARAM_set1_host(vp, f->cfg.host, 0) != 1))
        return -1;
    if (SSL_connect(f->ssl) != 1) {
        char msg[256];
        ERR_error_string_n(ERR_peek_last_error(), msg, sizeof(msg));
        log_warn("audit forwarding: TLS with %s:%d failed: %s (verify: %s)", f->cfg.host,
                 f->cfg.port, msg, X509_verify_cert_error_string(SSL_get_verify_result(f->ssl)));
        ERR_clear_error();
        return -1;
    }
    return 0;
}

static int conn_open(struct forwarder *f)
{
    if (f->fd >= 0)
        return 0;
    if ((f->fd = tcp_connect(f->cfg.host, f->cfg.port)) < 0)
        return -1;
    if (f->ctx != NULL && tls_start(f) != 0) {
        conn_close(f);
        return -1;
    }
    log_info("audit forwarding: connected to %s:%d (%s)", f->cfg.host, f->cfg.port,
             f->cfg.transport);
    return 0;
}

/* Writes all of data on the connection; -1 on failure. */
static int conn_write(struct forwarder *f, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (f->ssl != NULL) {
            size_t w = 0;
            n = SSL_write_ex(f->ssl, data, len, &w) == 1 ? (ssize_t)w : -1;
        } else {
            n = send(f->fd, data, len, MSG_NOSIGNAL);
        }
        if (n <= 0) {
            ERR_clear_error();
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Whether the receiver closed the connection (it never sends on a syslog stream). */
static int conn_dead(struct forwarder *f)
{
    struct pollfd p = {.fd = f->fd, .events = POLLIN};
    char c;

    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (f->ssl != NULL)
        return 1; /* a TLS close_notify or anything else: start over */
    return recv(f->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

/* ---- the sender ---------------------------------------------------------- */

/*
 * Sends tenant's due events, a batch at a time, recording the last seq sent
 * after each.  Returns the number sent, -1 if the receiver or store failed.
 */
static int forward_tenant(struct forwarder *f, const char *tenant)
{
    struct audit_rec **rows = NULL;
    struct store_tx *tx;
    int64_t last = 0;
    size_t n = 0, sent = 0;
    struct err e;
    int rc = 0;

    if ((tx = store_begin_read(f->store, &e)) == NULL)
        return -1;
    if (store_audit_forward_get(tx, tenant, TARGET, &last, &e) != 0 ||
        store_audit_list(tx, tenant, last, BATCH, &rows, &n, &e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    if (n > 0 && conn_open(f) != 0)
        rc = -1;
    for (; rc == 0 && sent < n; sent++) {
        char *msg = forward_format(rows[sent], f->cfg.facility, f->hostname);
        char *frame = xasprintf("%zu %s", strlen(msg), msg);
        if (conn_write(f, frame, strlen(frame)) != 0)
            rc = -1;
        free(frame);
        free(msg);
    }
    if (rc != 0 && sent > 0)
        sent--; /* the event whose write failed was not sent */
    if (sent > 0) {
        if ((tx = store_begin(f->store, &e)) == NULL ||
            store_audit_forward_set(tx, tenant, TARGET, rows[sent - 1]->seq, &e) != 0 ||
            store_commit(tx, &e) != 0) {
            store_rollback(tx);
            log_warn("audit forwarding: progress of %s not recorded: %s", tenant, e.msg);
            rc = -1;
        }
    }
    audit_rec_list_free(rows, n);
    return rc != 0 ? -1 : (int)sent;
}

/* One pass over every chain; -1 if the receiver failed. */
static int forward_pass(struct forwarder *f, int *sent)
{
    struct tenant_rec **tenants = NULL;
    struct store_tx *tx = store_begin_read(f->store, NULL);
    size_t n = 0;
    int rc = 0, k = 0;

    *sent = 0;
    if (tx == NULL)
        return -1;
    if (store_tenant_list(tx, &tenants, &n, NULL) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    if (f->fd >= 0 && conn_dead(f))
        conn_close(f);
    for (size_t i = 0; i <= n && rc == 0; i++) {
        const char *tenant = i < n ? tenants[i]->name : "_system";
        while ((k = forward_tenant(f, tenant)) == BATCH)
            *sent += k;
        if (k < 0)
            rc = -1;
        else
            *sent += k;
    }
    for (size_t i = 0; i < n; i++)
        tenant_rec_free(tenants[i]);
    free(tenants);
    return rc;
}

static void *forward_main(void *arg)
{
    struct forwarder *f = arg;
    int wait = 1, sent = 0;

    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        struct timespec until;
        pthread_mutex_unlock(&f->lock);
        if (forward_pass(f, &sent) != 0) {
            conn_close(f);
            wait = f->backoff;
            f->backoff = f->backoff * 2 > MAX_BACKOFF ? MAX_BACKOFF : f->backoff * 2;
        } else {
            wait = 1;
            f->backoff = 1;
        }
        if (sent > 0)
            log_debug("audit forwarding: %d event(s) sent", sent);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait;
        pthread_mutex_lock(&f->lock);
        if (!f->stopping)
            pthread_cond_timedwait(&f->cond, &f->lock, &until);
    }
    pthread_mutex_unlock(&f->lock);
    conn_close(f);
    return NULL;
}

static SSL_CTX *tls_context(const char *ca_file, struct err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || ca_file == NULL ||
        SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        SSL_CTX_free(ctx);
        err_ossl(e, 0, ERR_BAD_REQUEST, "syslog_ca_file: cannot load CA certificates from %s",
                 ca_file != NULL ? ca_file : "(not set)");
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

struct forwarder *forward_start(struct store *store, const struct forward_config *cfg,
                                struct err *e)
{
    struct forwarder *f = xcalloc(1, sizeof(*f));
    int tls = cfg->transport != NULL && strcmp(cfg->transport, "tls") == 0;

    if (tls && (f->ctx = tls_context(cfg->ca_file, e)) == NULL) {
        free(f);
        return NULL;
    }
    f->store = store;
    f->cfg = *cfg;
    f->cfg.host = xstrdup(cfg->host);
    f->cfg.transport = xstrdup(tls ? "tls" : "tcp");
    f->cfg.ca_file = NULL;
    f->cfg.hostname = NULL;
    if (cfg->hostname != NULL)
        snprintf(f->hostname, sizeof(f->hostname), "%s", cfg->hostname);
    else if (gethostname(f->hostname, sizeof(f->hostname) - 1) != 0)
        snprintf(f->hostname, sizeof(f->hostname), "-");
    f->fd = -1;
    f->backoff = 1;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (pthread_create(&f->thread, NULL, forward_main, f) != 0) {
        err_set(e, 500, ERR_INTERNAL, "cannot start the audit forwarding thread");
        SSL_CTX_free(f->ctx);
        free((char *)f->cfg.host);
        free((char *)f->cfg.transport);
        free(f);
        return NULL;
    }
    return f;
}

void forward_stop(struct forwarder *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    SSL_CTX_free(f->ctx);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free((char *)f->cfg.host);
    free((char *)f->cfg.transport);
    free(f);
}
