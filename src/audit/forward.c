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
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/log.h"

#define BATCH       500
#define IO_TIMEOUT  5                   /* seconds for connect and each write */
#define SD_ID       "vouch-audit@32473" /* 32473: the documentation PEN (RFC 5612) */
#define MAX_BACKOFF 30

/* A receiver: the configured SIEM (every chain) or one tenant's own. */
struct target {
    char *progress; /* audit_forwarding.target: "system" or "tenant" */
    char *tenant;   /* NULL: every chain */
    char *host;
    int port;
    char *transport; /* "tcp" or "tls" */
    char *ca_pem;    /* tenant targets: what ctx was made from */
    SSL_CTX *ctx;    /* tls only */
    int fd;
    SSL *ssl;
    int backoff;      /* seconds to wait after a failure */
    int64_t next_try; /* time_now() before which the target rests */
};

struct forwarder {
    struct store *store;
    int facility;
    int tenant_targets; /* whether tenants' own targets are served */
    char hostname[256];
    struct target *system; /* NULL: no configured SIEM */
    struct target **tenants;
    size_t ntenants;
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

static void conn_close(struct target *t)
{
    if (t->ssl != NULL) {
        SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

/* A TCP connection to host:port, with IO_TIMEOUT for connect; -1 on failure, with errno
 * from the last connect(2) tried (EHOSTUNREACH when the name did not resolve). */
static int tcp_connect(const char *host, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    struct timeval tv = {IO_TIMEOUT, 0};
    char service[16];
    int fd = -1, saved = EHOSTUNREACH;

    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* On Linux SO_SNDTIMEO bounds connect(2) too. */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    errno = saved;
    return fd;
}

/* TLS on t->fd, checking the receiver's certificate against the CAs and the host name. */
static int tls_start(struct target *t)
{
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, t->host, addr) == 1 || inet_pton(AF_INET6, t->host, addr) == 1;
    X509_VERIFY_PARAM *vp;

    if ((t->ssl = SSL_new(t->ctx)) == NULL || SSL_set_fd(t->ssl, t->fd) != 1)
        return -1;
    vp = SSL_get0_param(t->ssl);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) != 1
              : (SSL_set_tlsext_host_name(t->ssl, t->host) != 1 ||
                 X509_VERIFY_PARAM_set1_host(vp, t->host, 0) != 1))
        return -1;
    if (SSL_connect(t->ssl) != 1) {
        char msg[256];
        ERR_error_string_n(ERR_peek_last_error(), msg, sizeof(msg));
        log_warn("audit forwarding%s%s: TLS with %s:%d failed: %s (verify: %s)",
                 t->tenant ? " of " : "", t->tenant ? t->tenant : "", t->host, t->port, msg,
                 X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
        ERR_clear_error();
        return -1;
    }
    return 0;
}

static int conn_open(struct target *t)
{
    if (t->fd >= 0)
        return 0;
    if ((t->fd = tcp_connect(t->host, t->port)) < 0) {
        /* Said at each try, which backs off: the receiver's operator sees why nothing comes. */
        log_warn("audit forwarding%s%s: cannot connect to %s:%d: %s", t->tenant ? " of " : "",
                 t->tenant ? t->tenant : "", t->host, t->port, strerror(errno));
        return -1;
    }
    if (t->ctx != NULL && tls_start(t) != 0) {
        conn_close(t);
        return -1;
    }
    log_info("audit forwarding%s%s: connected to %s:%d (%s)", t->tenant ? " of " : "",
             t->tenant ? t->tenant : "", t->host, t->port, t->transport);
    return 0;
}

/* Writes all of data on the connection; -1 on failure. */
static int conn_write(struct target *t, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (t->ssl != NULL) {
            size_t w = 0;
            n = SSL_write_ex(t->ssl, data, len, &w) == 1 ? (ssize_t)w : -1;
        } else {
            n = send(t->fd, data, len, MSG_NOSIGNAL);
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
static int conn_dead(struct target *t)
{
    struct pollfd p = {.fd = t->fd, .events = POLLIN};
    char c;

    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (t->ssl != NULL)
        return 1; /* a TLS close_notify or anything else: start over */
    return recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

/* ---- targets --------------------------------------------------------------- */

/* A TLS client context trusting the CA certificates of ca_file or (else) ca_pem. */
static SSL_CTX *tls_context(const char *ca_file, const char *ca_pem, struct err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    BIO *b = ca_pem != NULL ? BIO_new_mem_buf(ca_pem, -1) : NULL;
    X509 *x;
    int ok = ctx != NULL && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, n = 0;

    if (ok && ca_file != NULL)
        ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL) == 1;
    else if (ok && b != NULL) {
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            ok = ok && X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x) == 1;
            X509_free(x);
            n++;
        }
        ERR_clear_error();
        ok = ok && n > 0;
    } else
        ok = 0;
    BIO_free(b);
    if (!ok) {
        SSL_CTX_free(ctx);
        err_ossl(e, ERR_INVALID, "audit forwarding: cannot load CA certificates from %s",
                 ca_file != NULL ? ca_file : "ca_pem");
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

static void target_free(struct target *t)
{
    if (t == NULL)
        return;
    conn_close(t);
    SSL_CTX_free(t->ctx);
    free(t->progress);
    free(t->tenant);
    free(t->host);
    free(t->transport);
    free(t->ca_pem);
    free(t);
}

/* A target (not connected); NULL with e set if its CA certificates do not load. */
static struct target *target_new(const char *progress, const char *tenant, const char *host,
                                 int port, const char *transport, const char *ca_file,
                                 const char *ca_pem, struct err *e)
{
    struct target *t = xcalloc(1, sizeof(*t));

    t->fd = -1;
    t->backoff = 1;
    t->progress = xstrdup(progress);
    t->tenant = tenant != NULL ? xstrdup(tenant) : NULL;
    t->host = xstrdup(host);
    t->port = port;
    t->transport = xstrdup(strcmp(transport, "tls") == 0 ? "tls" : "tcp");
    t->ca_pem = ca_pem != NULL ? xstrdup(ca_pem) : NULL;
    if (strcmp(t->transport, "tls") == 0 && (t->ctx = tls_context(ca_file, ca_pem, e)) == NULL) {
        target_free(t);
        return NULL;
    }
    return t;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The target of r, kept from *old (with its connection) when unchanged. */
static struct target *target_reuse(struct target **old, size_t n, const struct audit_target_rec *r)
{
    for (size_t i = 0; i < n; i++) {
        struct target *t = old[i];
        if (t != NULL && strcmp(t->tenant, r->tenant) == 0 && strcmp(t->host, r->host) == 0 &&
            t->port == r->port && strcmp(t->transport, r->transport) == 0 &&
            same_text(t->ca_pem, r->ca_pem)) {
            old[i] = NULL;
            return t;
        }
    }
    return NULL;
}

/* Re-reads the tenants' targets, keeping the connections of unchanged ones. */
static void targets_reload(struct forwarder *f)
{
    struct audit_target_rec **recs = NULL;
    struct store_tx *tx = store_begin_read(f->store, NULL);
    struct target **next;
    size_t n = 0, k = 0;
    struct err e;

    if (tx == NULL)
        return;
    if (store_audit_target_list(tx, &recs, &n, &e) != 0) {
        store_rollback(tx);
        return;
    }
    store_rollback(tx);
    next = xcalloc(n + 1, sizeof(*next));
    for (size_t i = 0; i < n; i++) {
        struct target *t = target_reuse(f->tenants, f->ntenants, recs[i]);
        if (t == NULL)
            t = target_new("tenant", recs[i]->tenant, recs[i]->host, recs[i]->port,
                           recs[i]->transport, NULL, recs[i]->ca_pem, &e);
        if (t != NULL)
            next[k++] = t;
    }
    for (size_t i = 0; i < f->ntenants; i++)
        target_free(f->tenants[i]);
    free(f->tenants);
    f->tenants = next;
    f->ntenants = k;
    audit_target_rec_list_free(recs, n);
}

/* ---- the sender ---------------------------------------------------------- */

/*
 * Sends the due events of tenant's chain to t, a batch at a time, recording
 * the last seq sent after each.  Returns the number sent, -1 if the receiver
 * or store failed.
 */
static int forward_chain(struct forwarder *f, struct target *t, const char *tenant)
{
    struct audit_rec **rows = NULL;
    struct store_tx *tx;
    int64_t last = 0;
    size_t n = 0, sent = 0;
    struct err e;
    int rc = 0;

    if ((tx = store_begin_read(f->store, &e)) == NULL)
        return -1;
    if (store_audit_forward_get(tx, tenant, t->progress, &last, &e) != 0 ||
        store_audit_list(tx, tenant, last, BATCH, &rows, &n, &e) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    if (n > 0 && conn_open(t) != 0)
        rc = -1;
    for (; rc == 0 && sent < n; sent++) {
        char *msg = forward_format(rows[sent], f->facility, f->hostname);
        char *frame = xasprintf("%zu %s", strlen(msg), msg);
        if (conn_write(t, frame, strlen(frame)) != 0)
            rc = -1;
        free(frame);
        free(msg);
    }
    if (rc != 0 && sent > 0)
        sent--; /* the event whose write failed was not sent */
    if (sent > 0) {
        if ((tx = store_begin(f->store, &e)) == NULL ||
            store_audit_forward_set(tx, tenant, t->progress, rows[sent - 1]->seq, &e) != 0 ||
            store_commit(tx, &e) != 0) {
            store_rollback(tx);
            log_warn("audit forwarding: progress of %s not recorded: %s", tenant, e.msg);
            rc = -1;
        }
    }
    audit_rec_list_free(rows, n);
    return rc != 0 ? -1 : (int)sent;
}

/* Every chain due to t (all of them, or its tenant's); -1 if the receiver failed. */
static int forward_target(struct forwarder *f, struct target *t, int *sent)
{
    struct tenant_rec **tenants = NULL;
    struct store_tx *tx;
    size_t n = 0;
    int rc = 0, k = 0;

    if (t->tenant != NULL) {
        while ((k = forward_chain(f, t, t->tenant)) == BATCH)
            *sent += k;
        return k < 0 ? -1 : (*sent += k, 0);
    }
    if ((tx = store_begin_read(f->store, NULL)) == NULL)
        return -1;
    if (store_tenant_list(tx, &tenants, &n, NULL) != 0) {
        store_rollback(tx);
        return -1;
    }
    store_rollback(tx);
    for (size_t i = 0; i <= n && rc == 0; i++) {
        const char *tenant = i < n ? tenants[i]->name : "_system";
        while ((k = forward_chain(f, t, tenant)) == BATCH)
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

/* Serves t unless it rests after a failure; a failure closes it and doubles its rest. */
static void target_serve(struct forwarder *f, struct target *t, int *sent)
{
    if (time_now() < t->next_try)
        return;
    if (t->fd >= 0 && conn_dead(t))
        conn_close(t);
    if (forward_target(f, t, sent) != 0) {
        conn_close(t);
        t->next_try = time_now() + t->backoff;
        t->backoff = t->backoff * 2 > MAX_BACKOFF ? MAX_BACKOFF : t->backoff * 2;
    } else {
        t->backoff = 1;
    }
}

static void *forward_main(void *arg)
{
    struct forwarder *f = arg;
    int sent;

    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        struct timespec until;
        pthread_mutex_unlock(&f->lock);
        sent = 0;
        if (f->system != NULL)
            target_serve(f, f->system, &sent);
        if (f->tenant_targets)
            targets_reload(f);
        for (size_t i = 0; i < f->ntenants; i++)
            target_serve(f, f->tenants[i], &sent);
        if (sent > 0)
            log_debug("audit forwarding: %d event(s) sent", sent);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&f->lock);
        if (!f->stopping)
            pthread_cond_timedwait(&f->cond, &f->lock, &until);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

struct forwarder *forward_start(struct store *store, const struct forward_config *cfg,
                                struct err *e)
{
    struct forwarder *f = xcalloc(1, sizeof(*f));

    if (cfg->host != NULL &&
        (f->system = target_new("system", NULL, cfg->host, cfg->port,
                                cfg->transport != NULL ? cfg->transport : "tls", cfg->ca_file, NULL,
                                e)) == NULL) {
        free(f);
        return NULL;
    }
    f->store = store;
    f->facility = cfg->facility;
    f->tenant_targets = cfg->tenant_targets;
    if (cfg->hostname != NULL)
        snprintf(f->hostname, sizeof(f->hostname), "%s", cfg->hostname);
    else if (gethostname(f->hostname, sizeof(f->hostname) - 1) != 0)
        snprintf(f->hostname, sizeof(f->hostname), "-");
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (pthread_create(&f->thread, NULL, forward_main, f) != 0) {
        err_set(e, ERR_INTERNAL, "cannot start the audit forwarding thread");
        target_free(f->system);
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
    target_free(f->system);
    for (size_t i = 0; i < f->ntenants; i++)
        target_free(f->tenants[i]);
    free(f->tenants);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}
