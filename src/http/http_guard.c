/*
 * http_guard.c — deadlines and per-address limits for one listener.
 *
 * libmicrohttpd's own timeout is an idle timeout: every byte restarts it, so
 * a client sending a header a byte every few seconds keeps a connection for
 * ever, and a thousand such clients fill the listener.  Here every
 * connection is known from its start to its close (MHD_OPTION_NOTIFY_CONNECTION)
 * with a deadline that only the request's progress moves: header_seconds from
 * the accept (the TLS handshake counts) or from the previous answer, then
 * body_seconds from the headers' end, none while the handler and the answer
 * run.  A sweeper thread shuts down the socket of a connection past its
 * deadline (five times a second); libmicrohttpd then sees the end and closes
 * it.  The registry's lock is held while it does, and libmicrohttpd reports a
 * connection closed (which takes the lock) before it closes the descriptor,
 * so a descriptor number is never shut down after it was reused.
 *
 * Connections are counted per client address, the peer (a trusted proxy
 * carries many clients and is not counted); the accept policy refuses an
 * address that has per_address open.  The count is exact (kept from start to
 * close); the check at accept may let a few more in when several threads
 * accept at once.
 */
#include "http/http_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define BUCKETS  1024
#define SWEEP_MS 200

/* The open connections of one client address. */
struct address_count {
    struct netaddr addr;
    int open;
    struct address_count *next;
};

/* One connection: the socket_context libmicrohttpd keeps for it. */
struct guarded {
    struct http_guard *guard;
    int fd;
    int64_t deadline_ms; /* 0: none now */
    int cut;             /* shut down by the sweeper */
    struct address_count *count;
    struct guarded *prev, *next;
};

struct http_guard {
    pthread_mutex_t lock;         /* guards all below */
    struct http_guard_config cfg; /* its exempt list is the guard's own copy */
    pthread_cond_t wake;
    struct guarded *conns;
    struct address_count *buckets[BUCKETS];
    int stopping;
    pthread_t sweeper;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket address as a netaddr (an IPv4-mapped IPv6 one as IPv4); -1 if neither. */
static int address_of(const struct sockaddr *sa, struct netaddr *out)
{
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(out, 0, sizeof(*out));
    if (sa == NULL)
        return -1;
    if (sa->sa_family == AF_INET) {
        memcpy(out->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        out->bits = 32;
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    memcpy(out->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    if (memcmp(out->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->bits = 32;
        return 0;
    }
    out->v6 = 1;
    out->bits = 128;
    return 0;
}

static unsigned bucket_of(const struct netaddr *a)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (int i = 0; i < 16; i++)
        h = (h ^ a->addr[i]) * 16777619u;
    return (h ^ (uint32_t)a->v6) % BUCKETS;
}

/* The count of address a, or NULL; under the lock. */
static struct address_count *count_find(struct http_guard *g, const struct netaddr *a)
{
    struct address_count *c = g->buckets[bucket_of(a)];

    while (c != NULL && (c->addr.v6 != a->v6 || memcmp(c->addr.addr, a->addr, 16) != 0))
        c = c->next;
    return c;
}

static int exempt(const struct http_guard *g, const struct netaddr *a)
{
    for (size_t i = 0; i < g->cfg.nexempt; i++)
        if (netaddr_within(a, &g->cfg.exempt[i]))
            return 1;
    return 0;
}

enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct http_guard *g = cls;
    struct address_count *c;
    struct netaddr a;
    int full, per_address;
    char text[INET6_ADDRSTRLEN] = "?";

    (void)addrlen;
    if (address_of(addr, &a) != 0)
        return MHD_YES;
    pthread_mutex_lock(&g->lock);
    per_address = g->cfg.per_address;
    c = per_address > 0 && !exempt(g, &a) ? count_find(g, &a) : NULL;
    full = c != NULL && c->open >= per_address;
    pthread_mutex_unlock(&g->lock);
    if (!full)
        return MHD_YES;
    inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.addr, text, sizeof(text));
    log_flood(LOG_FLOOD_HTTP, LOG_WARN,
              "http: %s has %d connections open (per address at most): "
              "connection refused",
              text, per_address);
    return MHD_NO;
}

/* Counts a new connection of address a (unless exempt); its count, or NULL. Under the lock. */
static struct address_count *count_add(struct http_guard *g, const struct netaddr *a)
{
    struct address_count *c;
    unsigned b;

    if (g->cfg.per_address <= 0 || exempt(g, a))
        return NULL;
    if ((c = count_find(g, a)) == NULL) {
        b = bucket_of(a);
        c = xcalloc(1, sizeof(*c));
        c->addr = *a;
        c->next = g->buckets[b];
        g->buckets[b] = c;
    }
    c->open++;
    return c;
}

/* Uncounts a connection; a count that reaches 0 is freed.  Under the lock. */
static void count_drop(struct http_guard *g, struct address_count *c)
{
    struct address_count **p;

    if (c == NULL || --c->open > 0)
        return;
    for (p = &g->buckets[bucket_of(&c->addr)]; *p != NULL; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            free(c);
            return;
        }
}

static void conn_started(struct http_guard *g, struct MHD_Connection *conn, void **socket_context)
{
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn,
                                                                 MHD_CONNECTION_INFO_CONNECTION_FD),
                                   *peer = MHD_get_connection_info(
                                       conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct guarded *c = xcalloc(1, sizeof(*c));
    struct netaddr a;

    c->guard = g;
    c->fd = fd != NULL ? fd->connect_fd : -1;
    pthread_mutex_lock(&g->lock);
    c->deadline_ms = monotonic_ms() + (int64_t)g->cfg.header_seconds * 1000;
    if (peer != NULL && address_of(peer->client_addr, &a) == 0)
        c->count = count_add(g, &a);
    c->next = g->conns;
    if (g->conns != NULL)
        g->conns->prev = c;
    g->conns = c;
    pthread_mutex_unlock(&g->lock);
    *socket_context = c;
}

static void conn_closed(struct http_guard *g, void **socket_context)
{
    struct guarded *c = *socket_context;

    if (c == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    count_drop(g, c->count);
    pthread_mutex_unlock(&g->lock);
    free(c);
    *socket_context = NULL;
}

void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    struct http_guard *g = cls;

    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        conn_started(g, conn, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        conn_closed(g, socket_context);
}

enum deadline { DEADLINE_NONE, DEADLINE_HEADERS, DEADLINE_BODY };

/* Sets the deadline of conn's connection: none, or the headers' or the body's from now. */
static void deadline_set(struct MHD_Connection *conn, enum deadline which)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct guarded *c = info != NULL ? info->socket_context : NULL;
    struct http_guard *g;
    int seconds;

    if (c == NULL)
        return;
    g = c->guard;
    pthread_mutex_lock(&g->lock);
    seconds = which == DEADLINE_HEADERS ? g->cfg.header_seconds
              : which == DEADLINE_BODY  ? g->cfg.body_seconds
                                        : 0;
    c->deadline_ms = seconds > 0 ? monotonic_ms() + (int64_t)seconds * 1000 : 0;
    pthread_mutex_unlock(&g->lock);
}

void http_guard_headers_done(struct MHD_Connection *conn)
{
    deadline_set(conn, DEADLINE_BODY);
}

void http_guard_body_done(struct MHD_Connection *conn)
{
    deadline_set(conn, DEADLINE_NONE);
}

void http_guard_request_done(struct MHD_Connection *conn)
{
    deadline_set(conn, DEADLINE_HEADERS);
}

/* Shuts down the connections past their deadline; how many. Under the lock. */
static int sweep(struct http_guard *g, int64_t now)
{
    int n = 0;

    for (struct guarded *c = g->conns; c != NULL; c = c->next) {
        if (c->cut || c->deadline_ms == 0 || now < c->deadline_ms || c->fd < 0)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        n++;
    }
    return n;
}

static void *sweeper_main(void *arg)
{
    struct http_guard *g = arg;
    struct timespec until;
    int n;

    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        if (g->stopping)
            break;
        if ((n = sweep(g, monotonic_ms())) > 0)
            log_flood(LOG_FLOOD_HTTP, LOG_WARN,
                      "http: %d connection(s) closed: request headers not in within %d s or "
                      "body not within %d s",
                      n, g->cfg.header_seconds, g->cfg.body_seconds);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Sets g->cfg to a copy of cfg (its exempt list copied); under the lock or before any thread. */
static void config_copy(struct http_guard *g, const struct http_guard_config *cfg)
{
    struct netaddr *exempt = NULL;

    if (cfg->nexempt > 0) {
        exempt = xmalloc(cfg->nexempt * sizeof(*exempt));
        memcpy(exempt, cfg->exempt, cfg->nexempt * sizeof(*exempt));
    }
    free((void *)g->cfg.exempt);
    g->cfg = *cfg;
    g->cfg.exempt = exempt;
}

void http_guard_set(struct http_guard *g, const struct http_guard_config *cfg)
{
    pthread_mutex_lock(&g->lock);
    config_copy(g, cfg);
    pthread_mutex_unlock(&g->lock);
}

struct http_guard *http_guard_new(const struct http_guard_config *cfg)
{
    struct http_guard *g = xcalloc(1, sizeof(*g));

    config_copy(g, cfg);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->sweeper, NULL, sweeper_main, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free((void *)g->cfg.exempt);
        free(g);
        return NULL;
    }
    return g;
}

void http_guard_free(struct http_guard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = 1;
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->sweeper, NULL);
    for (int b = 0; b < BUCKETS; b++)
        while (g->buckets[b] != NULL) {
            struct address_count *c = g->buckets[b];
            g->buckets[b] = c->next;
            free(c);
        }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free((void *)g->cfg.exempt);
    free(g);
}
