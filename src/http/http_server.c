/*
 * http_server.c — the libmicrohttpd daemon and the request pipeline.
 *
 * libmicrohttpd calls request_access several times per request: once when the
 * headers are in, once per chunk of body, and once when the request is
 * complete.  The checks of http.h run in that order:
 *
 *   headers in:  the request target's length (414) and the header fields'
 *                (431), decode the path (400), find the route (404, 405 +
 *                Allow), body limit by Content-Length (413), content type
 *                (415), authorize (its refusal, 401/403 usually), room for
 *                a large body (503)
 *   each chunk:  count the bytes; past the limit stop keeping them (413)
 *   complete:    the handler, then the response
 *
 * A refusal at "headers in" is answered at once when a body is on its way
 * (libmicrohttpd then skips the body and closes the connection), otherwise
 * when the request completes (the connection stays open).  authorize runs
 * before the body is read, so an unauthorized client never has its body
 * buffered; req->body is therefore NULL inside authorize.
 *
 * libmicrohttpd answers on its own, with a fixed HTML text, a request line
 * or header section that does not fit the connection's memory
 * (CONNECTION_MEMORY): it has no hook for that answer.  The limits checked
 * here (TARGET_MAX, HEADERS_MAX) are well below it, so that every request up
 * to that size gets the JSON error instead.
 *
 * A body of unknown length (chunked) cannot be answered while it arrives
 * (libmicrohttpd queues an answer only before the body or after it): once
 * past the route's limit it is read to its end and dropped, then answered
 * 413, unless it goes on for more than the connection timeout after the
 * limit, when the connection is closed.
 *
 * Per-request state (struct request_ctx) is created by the URI log callback,
 * which also keeps the request target as sent (before libmicrohttpd decodes
 * it, so that an encoded '/' can be told from a real one), and freed by the
 * completion callback, which runs however the request ended.
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <pthread.h>

#include "http/http_guard.h"
#include "lib/log.h"
#include "lib/metrics.h"

#define DEFAULT_THREADS         2
#define DEFAULT_TIMEOUT_SECONDS 30
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_BODY_MEMORY     (64 * 1024 * 1024)
#define DEFAULT_HEADER_SECONDS  10
#define DEFAULT_BODY_SECONDS    120
#define DEFAULT_PER_ADDRESS     64

/* What libmicrohttpd may hold of one connection: request line, header fields, buffers. */
#define CONNECTION_MEMORY (64 * 1024)
/* The request target (path and query) and the header fields (names and values) at most. */
#define TARGET_MAX  (8 * 1024)
#define HEADERS_MAX (16 * 1024)
/* Bodies up to this size are not counted against http_config.body_memory. */
#define SMALL_BODY (64 * 1024)
/* A request id taken from a trusted proxy's X-Request-Id: at most this long, of ID_CHARS. */
#define REQUEST_ID_MAX 64
#define ID_CHARS       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"

/*
 * The statuses counted one by one per route in /metrics; any other is
 * counted under the last slot, written as its class ("2xx" .. "5xx").
 */
static const int counted_statuses[] = {200, 201, 202, 204, 206, 301, 302, 304, 400, 401,
                                       403, 404, 405, 406, 409, 410, 412, 413, 414, 415,
                                       422, 429, 431, 500, 501, 502, 503, 504};
#define STATUS_SLOTS (ARRAY_LEN(counted_statuses) + 5) /* + one per class 1xx..5xx */

/*
 * What /metrics says of one route (or of the requests that matched none).
 * A server keeps STATS_SHARDS copies, a worker thread counting in its own
 * (by a number it draws once), so that the threads of a busy route do not
 * fight over one cache line; /metrics sums them.
 */
struct route_stats {
    _Atomic uint64_t by_status[STATUS_SLOTS];
    struct metrics_histogram latency;
};
#define STATS_SHARDS 8

/* The shard of the calling thread. */
static unsigned stats_shard(void)
{
    static _Atomic unsigned next;
    static _Thread_local unsigned mine = ~0u;

    if (mine == ~0u)
        mine = atomic_fetch_add(&next, 1) % STATS_SHARDS;
    return mine;
}

struct http_server {
    struct MHD_Daemon *daemon;
    const struct http_route *routes; /* the caller's table; must outlive the server */
    size_t nroutes;
    http_authorize authorize;
    http_free_principal free_principal;
    void *app;
    int port;
    _Atomic(struct proxy_list *) proxies; /* trusted proxies (http_config.trusted_proxies) */
    int nosniff;        /* X-Content-Type-Options on every answer (http_config.security_headers) */
    int hsts;           /* Strict-Transport-Security too: security_headers over TLS */
    int drain_seconds;  /* how long an over-limit chunked body is read and dropped */
    size_t body_memory; /* http_config.body_memory */
    pthread_mutex_t bodies_lock; /* guards bodies_held */
    size_t bodies_held;          /* bytes reserved by the large bodies of requests in progress */
    struct http_guard *guard;    /* deadlines and per-address limits (http_guard.c) */
    char *name;                  /* http_config.name: the listener label of its metrics */
    int tls;                     /* serves TLS (the credentials of http_tls_serve) */
    _Atomic int access_log;      /* http_config.access_log */
    struct route_stats *stats;   /* STATS_SHARDS x (per route, and [nroutes] for those of none) */
    struct http_server *next;    /* the list of running servers, for /metrics */
};

/*
 * The trusted proxies.  http_server_reload swaps in a new list; the old ones
 * are kept (a request may be reading one) until the server stops.
 */
struct proxy_list {
    struct netaddr *v;
    size_t n;
    struct proxy_list *older;
};

/* The state of one request, from its request line to its completion. */
struct request_ctx {
    struct http_server *srv;
    char *target;       /* the request target as sent, query included */
    char *path;         /* decoded; req.path */
    char *params;       /* storage of req.param_* */
    char *content_type; /* lowercase media type; req.content_type */
    const struct http_route *route;
    struct http_request req;
    struct http_response resp;
    struct buf body;
    unsigned long long received; /* body bytes seen, kept or not */
    int begun;                   /* the header-stage checks ran */
    int expects_body;            /* Content-Length > 0 or Transfer-Encoding */
    int refused;                 /* resp holds a refusal; no handler runs */
    int too_large;               /* the body passed the limit while arriving */
    int64_t drain_since_ms;      /* when it did (monotonic) */
    size_t body_reserved;        /* bytes of srv->bodies_held this request holds */
    int64_t start_ns;            /* when the request line came (monotonic) */
    char request_id[REQUEST_ID_MAX + 1];
    char remote_addr[INET6_ADDRSTRLEN];
    char proxy_addr[INET6_ADDRSTRLEN]; /* the peer, when it is a trusted proxy that forwarded */
    unsigned char *client_cert;        /* req.client_cert */
};

union listen_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

/* ---- request state ---------------------------------------------------------- */

/* URI log callback: the first thing seen of a request. Returns its new state. */
static void *request_new(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct request_ctx *r = xcalloc(1, sizeof(*r));

    (void)conn;
    r->srv = cls;
    r->target = xstrdup(uri ? uri : "");
    r->start_ns = metrics_now_ns();
    return r;
}

static void body_release(struct request_ctx *r);

static void request_free(struct request_ctx *r)
{
    body_release(r);
    if (r->req.principal != NULL && r->srv->free_principal != NULL)
        r->srv->free_principal(r->req.principal);
    http_response_clear(&r->resp);
    buf_free(&r->body);
    free(r->content_type);
    free(r->client_cert);
    free(r->params);
    free(r->path);
    free(r->target);
    free(r);
}

/* Completion callback: runs once per request however it ended. */
static void request_done(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    if (*req_cls != NULL)
        request_free(*req_cls);
    *req_cls = NULL;
    http_guard_request_done(conn); /* a kept-alive connection's next headers are timed */
}

static const char *header_get(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Parses a decimal Content-Length; 0 ok, -1 if not a plain number. */
static int length_parse(const char *s, unsigned long long *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

/* The media type of a Content-Type value: parameters and spaces cut, lowercased. */
static char *media_type_parse(const char *value)
{
    size_t start = strspn(value, " \t"), len = strcspn(value + start, ";");
    char *type;
    size_t i;

    while (len > 0 && (value[start + len - 1] == ' ' || value[start + len - 1] == '\t'))
        len--;
    type = xstrndup(value + start, len);
    for (i = 0; i < len; i++)
        if (type[i] >= 'A' && type[i] <= 'Z')
            type[i] = (char)(type[i] - 'A' + 'a');
    return type;
}

static void remote_addr_fill(struct request_ctx *r, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(r->remote_addr, sizeof(r->remote_addr), "-");
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  r->remote_addr, sizeof(r->remote_addr));
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  r->remote_addr, sizeof(r->remote_addr));
}

/* Appends each X-Forwarded-For header's value to the list in cls, comma-separated. */
static enum MHD_Result xff_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct buf *b = cls;

    (void)kind;
    if (key != NULL && value != NULL && strcasecmp(key, "X-Forwarded-For") == 0) {
        if (b->len > 0)
            buf_append(b, ",", 1);
        buf_append(b, value, strlen(value));
    }
    return MHD_YES;
}

/*
 * A trusted proxy's X-Request-Id (1 to REQUEST_ID_MAX of ID_CHARS) becomes
 * the request's id, so that its log lines and ours name the request alike;
 * one that is not of that form is ignored (our own id stays).
 */
static void request_id_forwarded(struct request_ctx *r, struct MHD_Connection *conn)
{
    const char *id = header_get(conn, "X-Request-Id");
    size_t n = id ? strlen(id) : 0;

    if (n > 0 && n <= REQUEST_ID_MAX && strspn(id, ID_CHARS) == n)
        memcpy(r->request_id, id, n + 1);
}

/*
 * A request from a trusted proxy comes from whom its X-Forwarded-For names
 * (http_forwarded.c); -1 with resp holding 400 if that header is malformed.
 */
static int remote_forwarded(struct request_ctx *r, struct MHD_Connection *conn)
{
    const struct proxy_list *proxies = atomic_load(&r->srv->proxies);
    char client[sizeof(r->remote_addr)];
    struct netaddr peer;
    struct buf xff = {0};
    struct err e = {0};
    size_t i = 0;
    int rc;

    if (proxies->n == 0 || netaddr_parse(r->remote_addr, &peer) != 0)
        return 0;
    while (i < proxies->n && !netaddr_within(&peer, &proxies->v[i]))
        i++;
    if (i == proxies->n)
        return 0; /* not a trusted proxy: its X-Forwarded-For means nothing */
    request_id_forwarded(r, conn);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, xff_collect, &xff);
    if (xff.len == 0)
        return 0;
    buf_append(&xff, "", 1);
    rc = http_forwarded_client(proxies->v, proxies->n, (const char *)xff.data, client,
                               sizeof(client), &e);
    buf_free(&xff);
    if (rc < 0) {
        http_respond_kind(&r->resp, ERR_INVALID, "%s", e.msg);
        return -1;
    }
    if (rc == 0) { /* the client is whom the header names; the peer is the proxy */
        memcpy(r->proxy_addr, r->remote_addr, sizeof(r->proxy_addr));
        memcpy(r->remote_addr, client, sizeof(r->remote_addr));
        r->req.proxy_addr = r->proxy_addr;
    }
    return 0;
}

/*
 * Fills what every request has (method, id, client address, content type);
 * -1 with resp holding the refusal if the CSPRNG failed or a trusted proxy's
 * X-Forwarded-For is malformed.
 */
static int request_fill(struct request_ctx *r, struct MHD_Connection *conn, const char *method)
{
    unsigned char raw[6];
    const char *ct = header_get(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
    unsigned long long len = 0;
    size_t i;

    r->req.method = method;
    r->req.conn = conn;
    r->req.request_id = r->request_id;
    r->req.remote_addr = r->remote_addr;
    remote_addr_fill(r, conn);
    r->req.client_cert = r->client_cert = http_tls_peer_cert(conn, &r->req.client_cert_len);
    if (ct != NULL)
        r->req.content_type = r->content_type = media_type_parse(ct);
    r->expects_body =
        header_get(conn, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
        (length_parse(header_get(conn, MHD_HTTP_HEADER_CONTENT_LENGTH), &len) == 0 && len > 0);
    snprintf(r->request_id, sizeof(r->request_id), "-");
    if (random_bytes(raw, sizeof(raw)) != 0) {
        http_respond_kind(&r->resp, ERR_INTERNAL, "random number generator failed");
        return -1;
    }
    for (i = 0; i < sizeof(raw); i++)
        snprintf(r->request_id + 2 * i, 3, "%02x", raw[i]);
    return remote_forwarded(r, conn);
}

/* ---- the checks before any handler ----------------------------------------- */

/* Adds the size of one header field ("name: value" and its CRLF) to the total in cls. */
static enum MHD_Result header_bytes_add(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    size_t *total = cls;

    (void)kind;
    *total += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* The request target and the header fields within their limits; -1 with resp holding 414 or 431. */
static int request_check_size(struct request_ctx *r, struct MHD_Connection *conn)
{
    size_t target = strlen(r->target), fields = 0;

    if (target > TARGET_MAX) {
        http_respond_error(&r->resp, 414, "uri_too_long",
                           "the request target is %zu bytes long (at most %d)", target, TARGET_MAX);
        return -1;
    }
    MHD_get_connection_values(conn, MHD_HEADER_KIND, header_bytes_add, &fields);
    if (fields > HEADERS_MAX) {
        http_respond_error(&r->resp, 431, "header_fields_too_large",
                           "the header fields are %zu bytes long (at most %d)", fields,
                           HEADERS_MAX);
        return -1;
    }
    return 0;
}

/* Decodes the path and finds the route; -1 with resp holding 400, 404 or 405. */
static int request_route(struct request_ctx *r)
{
    const struct http_server *srv = r->srv;
    char allow[64];
    struct err e;
    int mismatch = 0;

    if (http_path_decode(r->target, &r->path, &e) != 0) {
        http_respond_err(&r->resp, &e);
        return -1;
    }
    r->req.path = r->path;
    r->route = http_route_match(srv->routes, srv->nroutes, r->req.method, r->path, &r->req,
                                &r->params, &mismatch);
    if (r->route != NULL)
        return 0;
    if (!mismatch) {
        http_respond_kind(&r->resp, ERR_NOT_FOUND, "no such resource");
        return -1;
    }
    http_route_allow(srv->routes, srv->nroutes, r->path, allow, sizeof(allow));
    http_respond_error(&r->resp, 405, "method_not_allowed", "method %s is not allowed here",
                       r->req.method);
    http_add_header(&r->resp, "Allow", allow);
    return -1;
}

/*
 * Media types a body may be sent as without a Content-Type: strongSwan's pki
 * posts its SCEP pkiMessages with none (RFC 8894 §4.1 asks for
 * application/x-pki-message, which a client that names a type must still use).
 */
static const char *const untyped_ok[] = {"application/x-pki-message"};

/* Whether a body without a Content-Type is taken as the route's type. */
static int untyped_allowed(const struct http_route *rt)
{
    for (size_t i = 0; i < sizeof(untyped_ok) / sizeof(*untyped_ok); i++)
        if (strcasecmp(rt->content_type, untyped_ok[i]) == 0)
            return 1;
    return 0;
}

/* Checks the announced body against the route; -1 with resp holding 413 or 415. */
static int request_check_body(struct request_ctx *r, struct MHD_Connection *conn)
{
    const struct http_route *rt = r->route;
    unsigned long long len;

    if (!r->expects_body)
        return 0;
    if (rt->body_limit == 0) {
        http_respond_kind(&r->resp, ERR_TOO_LARGE, "this resource takes no request body");
        return -1;
    }
    if (length_parse(header_get(conn, MHD_HTTP_HEADER_CONTENT_LENGTH), &len) == 0 &&
        len > rt->body_limit) {
        http_respond_kind(&r->resp, ERR_TOO_LARGE,
                          "request body of %llu bytes is over the limit of %zu", len,
                          rt->body_limit);
        return -1;
    }
    if (r->content_type == NULL ? !untyped_allowed(rt)
                                : strcasecmp(r->content_type, rt->content_type) != 0) {
        http_respond_kind(&r->resp, ERR_MEDIA_TYPE, "request body must be %s", rt->content_type);
        return -1;
    }
    return 0;
}

/* Calls the application's authorize; -1 with resp holding its refusal. */
static int request_authorize(struct request_ctx *r)
{
    const struct http_server *srv = r->srv;

    if (srv->authorize == NULL || srv->authorize(srv->app, r->route, &r->req, &r->resp) == 0)
        return 0;
    if (r->resp.status == 0)
        http_respond_kind(&r->resp, ERR_FORBIDDEN, "access denied");
    return -1;
}

/*
 * Room for a large body (a route whose limit is over SMALL_BODY): its
 * Content-Length, or when chunked the route's limit, is counted against the
 * server's body_memory until the request ends; -1 with resp holding 503 and
 * Retry-After when it would pass it.  A request is always let in when no
 * other holds room, so one body up to its route's limit always fits.  The
 * buffer of a body of known length is made at that length.
 */
static int body_reserve(struct request_ctx *r, struct MHD_Connection *conn)
{
    struct http_server *srv = r->srv;
    unsigned long long announced = 0;
    size_t want = r->route->body_limit, held;
    int ok, known;

    if (!r->expects_body)
        return 0;
    known = length_parse(header_get(conn, MHD_HTTP_HEADER_CONTENT_LENGTH), &announced) == 0;
    if (known)
        want = (size_t)announced; /* at most the limit: request_check_body saw to it */
    if (want > SMALL_BODY) {
        pthread_mutex_lock(&srv->bodies_lock);
        held = srv->bodies_held;
        ok = held == 0 || held + want <= srv->body_memory;
        if (ok)
            srv->bodies_held += want;
        pthread_mutex_unlock(&srv->bodies_lock);
        if (!ok) {
            http_respond_kind(&r->resp, ERR_UNAVAILABLE,
                              "too many large request bodies at once (%zu of %zu KiB held): retry",
                              held >> 10, srv->body_memory >> 10);
            return -1;
        }
        r->body_reserved = want;
    }
    if (known && announced > 0)
        buf_reserve(&r->body, (size_t)announced);
    return 0;
}

static void body_release(struct request_ctx *r)
{
    if (r->body_reserved == 0)
        return;
    pthread_mutex_lock(&r->srv->bodies_lock);
    r->srv->bodies_held -= r->body_reserved;
    pthread_mutex_unlock(&r->srv->bodies_lock);
    r->body_reserved = 0;
}

/* ---- responses -------------------------------------------------------------- */

static int header_set_by_handler(const struct http_response *resp, const char *name)
{
    int i;

    for (i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return 1;
    return 0;
}

/* One year: clients keep to HTTPS for the API's host (RFC 6797 §6.1.1). */
#define HSTS_VALUE "max-age=31536000"

/*
 * Adds content type, the handler's headers, X-Request-Id, Cache-Control and
 * the listener's security headers to mr.
 */
static void response_headers(const struct request_ctx *r, struct MHD_Response *mr)
{
    const struct http_response *resp = &r->resp;
    const char *path = r->path ? r->path : r->target;
    int i;

    if (r->srv->nosniff)
        MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->srv->hsts)
        MHD_add_response_header(mr, "Strict-Transport-Security", HSTS_VALUE);
    if (resp->content_type != NULL)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (i = 0; i < resp->nheaders; i++)
        if (MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value) != MHD_YES)
            log_warn("req %s: response header %s refused", r->request_id, resp->headers[i].name);
    MHD_add_response_header(mr, "X-Request-Id", r->request_id);
    if (strncmp(path, "/api/", 5) == 0 && !header_set_by_handler(resp, "Cache-Control"))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/* The path for log lines: decoded (no control characters) or, if it could not be, a mark. */
static const char *request_log_path(const struct request_ctx *r)
{
    return r->path ? r->path : "(bad path)";
}

/* The slot of status in route_stats.by_status. */
static size_t status_slot(int status)
{
    for (size_t i = 0; i < ARRAY_LEN(counted_statuses); i++)
        if (counted_statuses[i] == status)
            return i;
    return ARRAY_LEN(counted_statuses) + (size_t)(status / 100 - 1);
}

/*
 * Counts the answer of r in its route's metrics (atomics only) and writes the
 * access log line: at info level with http_config.access_log, else at debug.
 */
static void request_account(struct request_ctx *r)
{
    struct http_server *srv = r->srv;
    size_t i = r->route ? (size_t)(r->route - srv->routes) : srv->nroutes;
    struct route_stats *st = &srv->stats[stats_shard() * (srv->nroutes + 1) + i];
    int64_t ns = metrics_now_ns() - r->start_ns;
    struct log_access a = {.request_id = r->request_id,
                           .tenant = http_param(&r->req, "tenant"),
                           .method = r->req.method,
                           .path = request_log_path(r),
                           .status = r->resp.status,
                           .duration_ms = (double)ns / 1e6,
                           .remote_addr = r->remote_addr,
                           .proxy_addr = r->req.proxy_addr,
                           .listener = srv->name};

    atomic_fetch_add_explicit(&st->by_status[status_slot(r->resp.status)], 1, memory_order_relaxed);
    metrics_histogram_observe(&st->latency, ns);
    log_access(atomic_load_explicit(&srv->access_log, memory_order_relaxed) ? LOG_INFO : LOG_DEBUG,
               &a);
}

/* Queues r->resp; the body moves to libmicrohttpd. */
static enum MHD_Result response_send(struct request_ctx *r, struct MHD_Connection *conn)
{
    struct http_response *resp = &r->resp;
    struct MHD_Response *mr;
    enum MHD_Result ret;

    if (resp->status < 100 || resp->status > 599) {
        log_warn("req %s: %s %s left status %d; answering 500", r->request_id, r->req.method,
                 request_log_path(r), resp->status);
        http_response_clear(resp);
        http_respond_kind(resp, ERR_INTERNAL, "the handler gave no response");
    }
    if (resp->body_len == 0) {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        mr = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (mr != NULL)
            resp->body = NULL;
    }
    if (mr == NULL)
        return MHD_NO;
    response_headers(r, mr);
    ret = MHD_queue_response(conn, (unsigned int)resp->status, mr);
    MHD_destroy_response(mr);
    request_account(r);
    return ret;
}

/* ---- the access handler ----------------------------------------------------- */

/* Keeps a refusal: answered now if a body is coming, else once the request is complete. */
static enum MHD_Result request_refuse(struct request_ctx *r, struct MHD_Connection *conn)
{
    r->refused = 1;
    return r->expects_body ? response_send(r, conn) : MHD_YES;
}

/* The headers are in: every check before the body. */
static enum MHD_Result request_begin(struct request_ctx *r, struct MHD_Connection *conn,
                                     const char *method)
{
    enum MHD_Result ret = MHD_YES;
    int refused;

    r->begun = 1;
    refused = request_fill(r, conn, method) != 0;
    log_context_set(r->request_id, NULL);
    refused = refused || request_check_size(r, conn) != 0 || request_route(r) != 0;
    if (!refused) { /* the route names the tenant, if any, for the lines logged from here */
        log_context_set(r->request_id, http_param(&r->req, "tenant"));
        refused = request_check_body(r, conn) != 0 || request_authorize(r) != 0 ||
                  body_reserve(r, conn) != 0;
    }
    if (refused)
        ret = request_refuse(r, conn);
    log_context_clear();
    return ret;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * One chunk of body: kept while under the limit, then dropped until the body
 * ends (413 then); MHD_NO closes a client that goes on past drain_seconds.
 */
static enum MHD_Result request_body(struct request_ctx *r, const char *data, size_t len)
{
    size_t limit = r->route ? r->route->body_limit : 0;

    r->received += len;
    if (r->refused)
        return MHD_YES;
    if (r->received > limit) {
        if (!r->too_large) {
            buf_free(&r->body);
            body_release(r);
            r->too_large = 1;
            r->drain_since_ms = monotonic_ms();
        }
        if (monotonic_ms() - r->drain_since_ms <= (int64_t)r->srv->drain_seconds * 1000)
            return MHD_YES;
        log_flood(LOG_FLOOD_HTTP, LOG_WARN,
                  "req %s %s: body still coming %d s past the route's limit; connection closed",
                  r->request_id, r->remote_addr, r->srv->drain_seconds);
        return MHD_NO;
    }
    buf_append(&r->body, data, len);
    return MHD_YES;
}

/* The request is complete: run the handler (unless refused) and answer. */
static enum MHD_Result request_finish(struct request_ctx *r, struct MHD_Connection *conn)
{
    const struct http_server *srv = r->srv;
    enum MHD_Result ret;

    log_context_set(r->request_id, http_param(&r->req, "tenant"));
    if (r->refused) {
        /* resp already holds the refusal */
    } else if (r->too_large) {
        http_respond_kind(&r->resp, ERR_TOO_LARGE, "request body is over the limit of %zu",
                          r->route->body_limit);
    } else {
        r->req.body = r->body.data;
        r->req.body_len = r->body.len;
        r->route->handler(srv->app, &r->req, &r->resp);
    }
    ret = response_send(r, conn);
    log_context_clear();
    return ret;
}

static enum MHD_Result request_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct request_ctx *r = *req_cls;
    size_t len = *upload_data_size;

    (void)cls;
    (void)url;
    (void)version;
    if (r == NULL)
        return MHD_NO;
    if (!r->begun) {
        http_guard_headers_done(conn); /* the body's deadline starts */
        return request_begin(r, conn, method);
    }
    if (len > 0) {
        *upload_data_size = 0;
        return request_body(r, upload_data, len);
    }
    http_guard_body_done(conn);
    return request_finish(r, conn);
}

/* ---- metrics ------------------------------------------------------------------ */

/* The running servers, for /metrics (all servers of the process in one family each). */
static pthread_mutex_t servers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_server *servers;
static int collector_added;

/* The labels of route i of srv (the requests that matched none: route ""). */
static void route_labels(struct buf *b, const struct http_server *srv, size_t i)
{
    metrics_label(b, "listener", srv->name, 1);
    metrics_label(b, "method", i < srv->nroutes ? srv->routes[i].method : "", 0);
    metrics_label(b, "route", i < srv->nroutes ? srv->routes[i].pattern : "", 0);
}

static void status_label(struct buf *b, size_t slot)
{
    char text[8];
    size_t n = ARRAY_LEN(counted_statuses);

    if (slot < n)
        snprintf(text, sizeof(text), "%d", counted_statuses[slot]);
    else
        snprintf(text, sizeof(text), "%dxx", (int)(slot - n + 1));
    metrics_label(b, "status", text, 0);
}

/* Route i of srv, its shards summed. */
static void route_sum(const struct http_server *srv, size_t i, uint64_t by_status[STATUS_SLOTS],
                      struct metrics_histogram *latency)
{
    memset(by_status, 0, STATUS_SLOTS * sizeof(*by_status));
    memset(latency, 0, sizeof(*latency));
    for (size_t s = 0; s < STATS_SHARDS; s++) {
        const struct route_stats *st = &srv->stats[s * (srv->nroutes + 1) + i];
        for (size_t k = 0; k < STATUS_SLOTS; k++)
            by_status[k] += atomic_load_explicit(&st->by_status[k], memory_order_relaxed);
        for (size_t k = 0; k <= METRICS_BUCKETS; k++)
            latency->counts[k] +=
                atomic_load_explicit(&st->latency.counts[k], memory_order_relaxed);
        latency->sum_ns += atomic_load_explicit(&st->latency.sum_ns, memory_order_relaxed);
    }
}

/* vouch_http_requests_total: one series per route and status seen (under servers_lock). */
static void requests_write(struct buf *b)
{
    metrics_header(b, "vouch_http_requests_total", "counter",
                   "HTTP requests answered, by listener, route (its pattern; \"\" when none "
                   "matched) and status.");
    for (struct http_server *srv = servers; srv != NULL; srv = srv->next)
        for (size_t i = 0; i <= srv->nroutes; i++) {
            uint64_t n[STATUS_SLOTS];
            struct metrics_histogram latency;
            route_sum(srv, i, n, &latency);
            for (size_t k = 0; k < STATUS_SLOTS; k++) {
                struct buf lbl = {0};
                if (n[k] == 0)
                    continue;
                route_labels(&lbl, srv, i);
                status_label(&lbl, k);
                buf_append(&lbl, "", 1);
                metrics_sample(b, "vouch_http_requests_total", (const char *)lbl.data,
                               (double)n[k]);
                buf_free(&lbl);
            }
        }
}

/* vouch_http_request_duration_seconds of the routes that were asked (under servers_lock). */
static void latency_write(struct buf *b)
{
    metrics_header(b, "vouch_http_request_duration_seconds", "histogram",
                   "Time from a request's first line to its answer being queued, by listener and "
                   "route.");
    for (struct http_server *srv = servers; srv != NULL; srv = srv->next)
        for (size_t i = 0; i <= srv->nroutes; i++) {
            uint64_t n[STATUS_SLOTS], any = 0;
            struct metrics_histogram latency;
            struct buf lbl = {0};
            route_sum(srv, i, n, &latency);
            for (int k = 0; k <= METRICS_BUCKETS; k++)
                any |= latency.counts[k];
            if (any == 0)
                continue;
            route_labels(&lbl, srv, i);
            buf_append(&lbl, "", 1);
            metrics_histogram_write(b, "vouch_http_request_duration_seconds",
                                    (const char *)lbl.data, &latency);
            buf_free(&lbl);
        }
}

static void servers_metrics_write(struct buf *b, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&servers_lock);
    requests_write(b);
    latency_write(b);
    pthread_mutex_unlock(&servers_lock);
}

static void server_list_add(struct http_server *srv)
{
    pthread_mutex_lock(&servers_lock);
    srv->next = servers;
    servers = srv;
    if (!collector_added++)
        metrics_collector_add(servers_metrics_write, NULL);
    pthread_mutex_unlock(&servers_lock);
}

static void server_list_remove(struct http_server *srv)
{
    pthread_mutex_lock(&servers_lock);
    for (struct http_server **p = &servers; *p != NULL; p = &(*p)->next)
        if (*p == srv) {
            *p = srv->next;
            break;
        }
    pthread_mutex_unlock(&servers_lock);
}

/* ---- the daemon ------------------------------------------------------------- */

/*
 * libmicrohttpd's own messages: nearly all are about one client's request or
 * connection (malformed, too large, a failed TLS handshake), which anyone can
 * cause in any number, so they are logged at a bounded rate.
 */
__attribute__((format(printf, 2, 0))) static void server_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_flood(LOG_FLOOD_HTTP, LOG_WARN, "http: %s", line);
}

/* Parses a numeric IPv4 or IPv6 address; adds the IPv6 flags it needs. */
static int address_parse(const char *address, int port, union listen_addr *out, unsigned int *flags,
                         struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (address == NULL)
        return err_set(e, ERR_INTERNAL, "http: no listen address");
    if (port < 0 || port > 65535)
        return err_set(e, ERR_INTERNAL, "http: port %d out of range", port);
    if (inet_pton(AF_INET, address, &out->in4.sin_addr) == 1) {
        out->in4.sin_family = AF_INET;
        out->in4.sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, address, &out->in6.sin6_addr) == 1) {
        out->in6.sin6_family = AF_INET6;
        out->in6.sin6_port = htons((uint16_t)port);
        *flags |= strcmp(address, "::") == 0 ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
        return 0;
    }
    return err_set(e, ERR_INTERNAL, "http: %s is not a numeric IPv4 or IPv6 address", address);
}

static void option_add(struct MHD_OptionItem *opts, size_t *n, enum MHD_OPTION option,
                       intptr_t value, void *ptr)
{
    opts[*n].option = option;
    opts[*n].value = value;
    opts[*n].ptr_value = ptr;
    (*n)++;
    opts[*n].option = MHD_OPTION_END;
}

static unsigned int positive_or(int value, int fallback)
{
    return (unsigned int)(value > 0 ? value : fallback);
}

int http_listen(const char *address, int port, int reuse_port, int *bound, struct err *e)
{
    union listen_addr addr;
    unsigned int flags = 0;
    socklen_t len;
    int fd, one = 1, v6only;

    if (address_parse(address, port, &addr, &flags, e) != 0)
        return -1;
    if ((fd = socket(addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return err_set(e, ERR_INTERNAL, "http: socket: %s", strerror(errno));
    v6only = !(flags & MHD_USE_DUAL_STACK);
    len = addr.sa.sa_family == AF_INET6 ? sizeof(addr.in6) : sizeof(addr.in4);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        (addr.sa.sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) ||
        bind(fd, &addr.sa, len) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, &addr.sa, &len) != 0) {
        err_set(e, ERR_INTERNAL, "http: cannot listen on %s port %d: %s", address, port,
                strerror(errno));
        close(fd);
        return -1;
    }
    *bound = ntohs(addr.sa.sa_family == AF_INET6 ? addr.in6.sin6_port : addr.in4.sin_port);
    return fd;
}

/*
 * Starts libmicrohttpd with cfg's limits on fd (a listening socket it takes)
 * or, if fd is -1, on addr; NULL on failure (errno kept).
 */
static struct MHD_Daemon *daemon_start(struct http_server *srv, const struct http_config *cfg,
                                       int fd, union listen_addr *addr, unsigned int flags,
                                       const struct http_tls *tls)
{
    unsigned int threads = positive_or(cfg->threads, DEFAULT_THREADS);
    struct MHD_OptionItem opts[16];
    size_t n = 0;

    if (fd >= 0)
        option_add(opts, &n, MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    else
        option_add(opts, &n, MHD_OPTION_SOCK_ADDR, 0, &addr->sa);
    if (threads > 1) /* one thread is the polling thread itself, without a pool */
        option_add(opts, &n, MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    option_add(opts, &n, MHD_OPTION_CONNECTION_TIMEOUT,
               positive_or(cfg->connection_timeout, DEFAULT_TIMEOUT_SECONDS), NULL);
    option_add(opts, &n, MHD_OPTION_CONNECTION_LIMIT,
               positive_or(cfg->max_connections, DEFAULT_MAX_CONNECTIONS), NULL);
    option_add(opts, &n, MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
    option_add(opts, &n, MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL);
    option_add(opts, &n, MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_guard_notify, srv->guard);
    if (tls->cert_pem != NULL) {
        flags |= MHD_USE_TLS;
        option_add(
            opts, &n, MHD_OPTION_HTTPS_PRIORITIES, 0,
            (void *)(cfg->tls_priorities ? cfg->tls_priorities : HTTP_TLS_PRIORITIES_DEFAULT));
        /* The pair comes from http_tls_retrieve at each handshake: a reload replaces it. */
        option_add(opts, &n, MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)http_tls_retrieve);
        /* A trust list makes GnuTLS ask for a client certificate; the application verifies it. */
        if (cfg->tls_client_certs)
            option_add(opts, &n, MHD_OPTION_HTTPS_MEM_TRUST, 0, tls->cert_pem);
    }
    /* The logger goes first so that libmicrohttpd logs nothing on its own. */
    return MHD_start_daemon(
        flags, (uint16_t)cfg->port, http_guard_accept, srv->guard, request_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, server_log, srv, MHD_OPTION_URI_LOG_CALLBACK, request_new, srv,
        MHD_OPTION_NOTIFY_COMPLETED, request_done, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

/* The guard's settings of cfg: deadlines, per-address limit, proxies exempt from it. */
static struct http_guard_config guard_config(const struct http_config *cfg,
                                             const struct proxy_list *proxies)
{
    return (struct http_guard_config){
        .header_seconds = (int)positive_or(cfg->header_seconds, DEFAULT_HEADER_SECONDS),
        .body_seconds = (int)positive_or(cfg->body_seconds, DEFAULT_BODY_SECONDS),
        .per_address = cfg->max_connections_per_address < 0   ? 0
                       : cfg->max_connections_per_address > 0 ? cfg->max_connections_per_address
                                                              : DEFAULT_PER_ADDRESS,
        .exempt = proxies->v,
        .nexempt = proxies->n};
}

/* Serves the pair of t from the next handshake (first: a new listener's); -1 with e set. */
static int tls_serve(const struct http_tls *t, int first, struct err *e)
{
    struct http_tls_creds *c;

    if (http_tls_creds_new(t, &c, e) != 0)
        return -1;
    if (http_tls_serve(c, first, e) != 0) {
        http_tls_creds_free(c);
        return -1;
    }
    return 0;
}

/* The trusted proxies of text (http_proxies_parse) as a list; NULL with e set. */
static struct proxy_list *proxy_list_new(const char *text, struct err *e)
{
    struct proxy_list *l = xcalloc(1, sizeof(*l));

    if (http_proxies_parse(text, &l->v, &l->n, e) != 0) {
        free(l);
        return NULL;
    }
    return l;
}

/* Frees l and every older list; accepts NULL. */
static void proxy_list_free(struct proxy_list *l)
{
    while (l != NULL) {
        struct proxy_list *older = l->older;
        free(l->v);
        free(l);
        l = older;
    }
}

/* Checks what start needs of cfg and loads the TLS pair; 0 or -1 with e set. */
static int config_prepare(const struct http_config *cfg, union listen_addr *addr,
                          unsigned int *flags, struct http_tls *tls, struct err *e)
{
    if (cfg == NULL)
        return err_set(e, ERR_INTERNAL, "http: no configuration");
    if (address_parse(cfg->address, cfg->port, addr, flags, e) != 0)
        return -1;
    if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL))
        return err_set(e, ERR_INTERNAL, "http: tls_cert_file and tls_key_file go together");
    if (cfg->tls_cert_file == NULL)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return err_set(e, ERR_INTERNAL, "http: this libmicrohttpd has no TLS support");
    if (cfg->tls_priorities != NULL && http_tls_priorities_check(cfg->tls_priorities, e) != 0)
        return -1;
    return http_tls_load(cfg->tls_cert_file, cfg->tls_key_file, tls, e);
}

struct http_server *http_server_start(const struct http_config *cfg,
                                      const struct http_route *routes, size_t nroutes,
                                      http_authorize authorize, http_free_principal free_principal,
                                      void *app, struct err *e)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    struct http_tls tls = {0};
    struct http_server *srv;
    union listen_addr addr;
    struct proxy_list *proxies;
    struct http_guard_config gc;
    int saved_errno, fd, bound = 0;

    if (http_routes_validate(routes, nroutes, e) != 0 ||
        (proxies = proxy_list_new(cfg->trusted_proxies, e)) == NULL)
        return NULL;
    if (config_prepare(cfg, &addr, &flags, &tls, e) != 0) {
        proxy_list_free(proxies);
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    srv = xcalloc(1, sizeof(*srv));
    *srv = (struct http_server){
        .routes = routes,
        .nroutes = nroutes,
        .authorize = authorize,
        .free_principal = free_principal,
        .app = app,
        .proxies = proxies,
        .nosniff = cfg->security_headers,
        .hsts = cfg->security_headers && tls.cert_pem != NULL,
        .drain_seconds = (int)positive_or(cfg->connection_timeout, DEFAULT_TIMEOUT_SECONDS),
        .body_memory = cfg->body_memory > 0 ? cfg->body_memory : DEFAULT_BODY_MEMORY,
        .name = xstrdup(cfg->name ? cfg->name : "http"),
        .access_log = cfg->access_log,
        .stats = xcalloc(STATS_SHARDS * (nroutes + 1), sizeof(struct route_stats))};
    pthread_mutex_init(&srv->bodies_lock, NULL);
    errno = 0;
    if (tls.cert_pem != NULL && tls_serve(&tls, 1, e) != 0) {
        http_tls_free(&tls);
        pthread_mutex_destroy(&srv->bodies_lock);
        proxy_list_free(proxies);
        free(srv->stats);
        free(srv->name);
        free(srv);
        if (cfg->listen_fd > 0)
            close(cfg->listen_fd);
        return NULL;
    }
    srv->tls = tls.cert_pem != NULL;
    gc = guard_config(cfg, proxies);
    srv->guard = http_guard_new(&gc);
    /* libmicrohttpd closes the socket it serves; the caller's is closed here, whatever happens. */
    fd = cfg->listen_fd > 0 ? fcntl(cfg->listen_fd, F_DUPFD_CLOEXEC, 3) : -1;
    srv->daemon = srv->guard == NULL || (cfg->listen_fd > 0 && fd < 0)
                      ? NULL
                      : daemon_start(srv, cfg, fd, &addr, flags, &tls);
    saved_errno = errno;
    http_tls_free(&tls);
    if (cfg->listen_fd > 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (srv->daemon != NULL && getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
            bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
        close(cfg->listen_fd);
    }
    if (srv->daemon == NULL) {
        if (srv->tls)
            http_tls_unserve();
        http_guard_free(srv->guard);
        pthread_mutex_destroy(&srv->bodies_lock);
        proxy_list_free(proxies);
        free(srv->stats);
        free(srv->name);
        free(srv);
        err_set(e, ERR_INTERNAL, "http: cannot serve on %s port %d%s%s (see the log)", cfg->address,
                cfg->port, saved_errno ? ": " : "", saved_errno ? strerror(saved_errno) : "");
        return NULL;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = bound ? bound : info && info->port ? info->port : cfg->port;
    server_list_add(srv);
    return srv;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

/* Stops accepting, waits for the worker threads to finish, frees srv; accepts NULL. */
void http_server_stop(struct http_server *srv)
{
    if (srv == NULL)
        return;
    server_list_remove(srv);
    MHD_stop_daemon(srv->daemon);
    if (srv->tls)
        http_tls_unserve();
    http_guard_free(srv->guard);
    pthread_mutex_destroy(&srv->bodies_lock);
    proxy_list_free(atomic_load(&srv->proxies));
    free(srv->stats);
    free(srv->name);
    free(srv);
}

int http_server_tls_reload(struct http_server *srv, const char *cert_file, const char *key_file,
                           struct err *e)
{
    struct http_tls t = {0};
    int rc;

    if (!srv->tls)
        return err_set(e, ERR_INTERNAL, "http: this listener does not serve TLS");
    if (http_tls_load(cert_file, key_file, &t, e) != 0)
        return -1;
    rc = tls_serve(&t, 0, e);
    http_tls_free(&t);
    return rc;
}

int http_server_reload(struct http_server *srv, const struct http_config *cfg, struct err *e)
{
    struct proxy_list *proxies = proxy_list_new(cfg->trusted_proxies, e);
    struct http_guard_config gc;

    if (proxies == NULL)
        return -1;
    proxies->older = atomic_load(&srv->proxies); /* only the main thread reloads */
    atomic_store(&srv->proxies, proxies);
    gc = guard_config(cfg, proxies);
    http_guard_set(srv->guard, &gc);
    atomic_store(&srv->access_log, cfg->access_log);
    return 0;
}

const char *http_header(struct http_request *req, const char *name)
{
    return req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name) : NULL;
}

const char *http_query(struct http_request *req, const char *name)
{
    return req->conn ? MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}
