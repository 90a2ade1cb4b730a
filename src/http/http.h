/*
 * http.h — the HTTP server (libmicrohttpd) and the route table.
 *
 * The routes are data: method, path pattern, request content type,
 * permission, body limit and handler.  For every request the server, in this
 * order and before any handler runs: finds the route (404, or 405 with Allow),
 * enforces the body limit while the body arrives (413), checks the content
 * type (415), then calls the application's authorize callback with the
 * route's permission (401/403), then the handler.  Errors are JSON:
 * {"error": "<code>", "detail": "<text>"}.
 *
 * Handlers know nothing of libmicrohttpd: they read a struct http_request and
 * fill a struct http_response.
 */
#ifndef VOUCH_HTTP_H
#define VOUCH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/netaddr.h"
#include "lib/util.h"

#define HTTP_MAX_PARAMS 4

struct http_request {
    const char *method;
    const char *path;         /* without the query string, percent-decoded */
    const char *request_id;   /* a short random id, also in the X-Request-Id header */
    const char *remote_addr;  /* the client: the peer, or whom a trusted proxy forwarded */
    const char *proxy_addr;   /* the trusted proxy that forwarded the request, else NULL */
    const char *content_type; /* media type without parameters, NULL if none */
    const unsigned char *body;
    size_t body_len;
    const char *param_names[HTTP_MAX_PARAMS]; /* from {name} segments of the pattern */
    const char *param_values[HTTP_MAX_PARAMS];
    int nparams;
    const unsigned char *client_cert; /* DER of the TLS client's certificate, NULL if none */
    size_t client_cert_len;           /* (unverified: the application decides) */
    void *conn;                       /* the server's connection, for http_header / http_query */
    void *principal; /* set by authorize for the handler; freed by the app's free_principal */
};

struct http_header {
    char *name;
    char *value;
};

struct http_response {
    int status;
    char *content_type;  /* owned */
    unsigned char *body; /* owned */
    size_t body_len;
    struct http_header headers[8]; /* extra headers, owned */
    int nheaders;
};

struct http_route;
/* Handles one request; fills resp (status 0 is treated as 500). */
typedef void (*http_handler)(void *app, struct http_request *req, struct http_response *resp);

struct http_route {
    const char *method;       /* "GET", "POST", "PUT", "DELETE" */
    const char *pattern;      /* "/api/v1/t/{tenant}/cas/{ca}" */
    const char *content_type; /* required for a body, e.g. "application/json"; NULL = no body */
    const char *permission;   /* passed to authorize; must not be NULL ("public" = anyone) */
    size_t body_limit;        /* bytes; 0 = no body accepted */
    http_handler handler;
};

/*
 * Decides whether req may use route.  Returns 0 to go on to the handler (and
 * may set req->principal); otherwise fills resp with the refusal (401/403).
 */
typedef int (*http_authorize)(void *app, const struct http_route *route, struct http_request *req,
                              struct http_response *resp);
typedef void (*http_free_principal)(void *principal);

struct http_config {
    const char *address;       /* "127.0.0.1" or "::1" or "0.0.0.0" */
    int port;                  /* 0 = ephemeral; see http_server_port() */
    const char *tls_cert_file; /* PEM; NULL together with key = plain HTTP */
    const char *tls_key_file;
    int threads;            /* worker threads, default 2 */
    int connection_timeout; /* seconds idle before a connection is closed, default 30 */
    int max_connections;    /* default 1024 */
    /*
     * Deadlines not reset by each byte (http_guard.h): seconds for a
     * request's line and header fields from the accept (TLS handshake
     * included) or the previous answer, default 10; for its body from the
     * headers' end, default 120.  Open connections of one client address at
     * most (trusted proxies exempt): default 64, -1 no limit.
     */
    int header_seconds;
    int body_seconds;
    int max_connections_per_address;
    int tls_client_certs; /* ask TLS clients for a certificate (requested, not required) */
    /* GnuTLS priority string of the TLS listener; NULL: HTTP_TLS_PRIORITIES_DEFAULT */
    const char *tls_priorities;
    /*
     * Every answer carries X-Content-Type-Options: nosniff, and over TLS
     * Strict-Transport-Security (the API listener; RFC 6797 §7.2: never over
     * plain HTTP).
     */
    int security_headers;
    /*
     * Bytes of request bodies over 64 KiB held at once (each counted at its
     * Content-Length, or at its route's limit when chunked, from its headers
     * to its answer): a request that would pass it is answered 503 with
     * Retry-After before its body is read; one is always let in.  0: 64 MiB.
     */
    size_t body_memory;
    /*
     * Addresses or networks of the proxies in front ("127.0.0.2, 10.0.0.0/8";
     * NULL: none).  A request from one of them is taken to come from the
     * address its X-Forwarded-For header names: the right-most entry that is
     * not itself a trusted proxy.  From anyone else the header is ignored.
     */
    const char *trusted_proxies;
    /*
     * A listening socket from http_listen() to serve instead of binding
     * address:port (> 0), or 0.  http_server_start closes it, whatever happens.
     */
    int listen_fd;
    /* The listener's name in /metrics ("api", "public"; NULL: "http"). */
    const char *name;
    /* Every answer is logged at info level (else at debug). */
    int access_log;
};

struct http_server;

/*
 * TLS 1.3 and 1.2 only, AEAD suites only (AES-GCM, ChaCha20-Poly1305), ECDHE
 * key exchange, no SHA-1 handshake signatures.
 */
#define HTTP_TLS_PRIORITIES_DEFAULT                                                                \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"            \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SIGN-RSA-SHA1:"            \
    "-SIGN-ECDSA-SHA1:%SERVER_PRECEDENCE"

/* Whether GnuTLS takes priorities: 0, or -1 with e naming where it stops parsing. */
int http_tls_priorities_check(const char *priorities, struct err *e);

/*
 * Binds address:port (0 = a port the kernel picks) and listens, before
 * anything is served: the socket for http_config.listen_fd, and *bound the
 * port taken.  With reuse_port the socket has SO_REUSEPORT, so a process of
 * the same user that holds the port with SO_REUSEPORT (a supervisor keeping it
 * between two runs, a test) does not stop the bind.  -1 with e set.
 */
int http_listen(const char *address, int port, int reuse_port, int *bound, struct err *e);

/*
 * The trusted proxies of http_config (addresses or networks separated by
 * commas or spaces) into *out (caller frees) and *n; -1 with e naming the
 * entry that is neither.  NULL or empty text: none.
 */
int http_proxies_parse(const char *text, struct netaddr **out, size_t *n, struct err *e);

/*
 * Validates the route table (every route has a permission, a handler, a known
 * method; a body limit only with a content type) and starts serving.
 * NULL with e set if the table is invalid or the socket cannot be bound.
 */
struct http_server *http_server_start(const struct http_config *cfg,
                                      const struct http_route *routes, size_t nroutes,
                                      http_authorize authorize, http_free_principal free_principal,
                                      void *app, struct err *e);
/*
 * Takes from cfg, while serving and without closing a connection: the
 * trusted proxies, the limit per address, the header and body deadlines and
 * the access log (its other fields are ignored: they need a new server).
 * Requests under way finish with what they started with.  -1 with e set
 * (nothing changed) if the trusted proxies do not parse.
 */
int http_server_reload(struct http_server *srv, const struct http_config *cfg, struct err *e);
/*
 * Reads a TLS listener's certificate chain and key again (checked as at
 * start): the next handshakes use them, connections already open keep theirs.
 * -1 with e set (the old pair stays) if they do not load or do not match.
 */
int http_server_tls_reload(struct http_server *srv, const char *cert_file, const char *key_file,
                           struct err *e);
/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *srv);
void http_server_stop(struct http_server *srv);

/* Checks a route table alone (used at start-up and by tests). */
int http_routes_validate(const struct http_route *routes, size_t nroutes, struct err *e);
/*
 * Matches method+path against the table: returns the route and fills
 * req->param_* (values point into a copy owned by req until the request ends;
 * here: into *storage which the caller frees).  NULL if none; *method_mismatch
 * is set when the path matched with another method.
 */
const struct http_route *http_route_match(const struct http_route *routes, size_t nroutes,
                                          const char *method, const char *path,
                                          struct http_request *req, char **storage,
                                          int *method_mismatch);

/* A request header or query argument (NULL if absent); valid for the request. */
const char *http_header(struct http_request *req, const char *name);
const char *http_query(struct http_request *req, const char *name);
/* A path parameter by name, NULL if absent. */
const char *http_param(const struct http_request *req, const char *name);
/*
 * The value of path parameter name, writable in place for a rewrite that only shortens it (the
 * authorizer's normalising of a serial's notation); NULL if the route has no such parameter.
 */
char *http_param_edit(struct http_request *req, const char *name);

/* Response helpers.  Each replaces any body already set. */
void http_respond(struct http_response *resp, int status, const char *content_type,
                  const void *body, size_t len);
/* Takes ownership of json (a reference is stolen). */
void http_respond_json(struct http_response *resp, int status, json_t *json);
void http_respond_error(struct http_response *resp, int status, const char *code, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
/*
 * The HTTP status of an error kind (the one place below the API where kinds
 * become statuses): ERR_INVALID 400, ERR_UNAUTHENTICATED 401, ERR_FORBIDDEN
 * 403, ERR_NOT_FOUND 404, ERR_CONFLICT 409, ERR_TOO_LARGE 413, ERR_MEDIA_TYPE
 * 415, ERR_POLICY 422, ERR_LIMIT 429, ERR_UNAVAILABLE 503, anything else 500.
 */
int http_status_of(enum err_kind kind);
/* Seconds after which a request refused for want of a service (503) is worth sending again. */
#define HTTP_RETRY_AFTER_UNAVAILABLE "5"
/*
 * An error answer of kind: its status, its word as "error", the formatted
 * detail (and Retry-After when it is 503, ERR_UNAVAILABLE).
 */
void http_respond_kind(struct http_response *resp, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error answer of e: http_status_of(e->kind), its code as "error", its message (as above). */
void http_respond_err(struct http_response *resp, const struct err *e);
void http_add_header(struct http_response *resp, const char *name, const char *value);
void http_response_clear(struct http_response *resp);

#endif
