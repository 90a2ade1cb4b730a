/*
 * http_guard.h — what keeps slow or numerous clients of one listener from
 * starving the others (http_guard.c): deadlines per connection that no byte
 * resets, and a limit on the connections of each client address.
 */
#ifndef VOUCH_HTTP_GUARD_H
#define VOUCH_HTTP_GUARD_H

#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "lib/netaddr.h"

struct http_guard_config {
    /*
     * Seconds a connection has, from its accept (TLS handshake included) or
     * from the end of its previous request, to send a request's line and
     * header fields; then its body, from the headers' end.  Past either, the
     * connection is closed, however steadily bytes trickle in.
     */
    int header_seconds;
    int body_seconds;
    int per_address; /* open connections of one client address at most (0: no limit) */
    /* Peers exempt from per_address: the trusted proxies, which carry many clients. */
    const struct netaddr *exempt;
    size_t nexempt;
};

struct http_guard;

/* A guard with its sweeper thread (it closes connections past their deadline); NULL on error. */
struct http_guard *http_guard_new(const struct http_guard_config *cfg);
/*
 * Takes cfg (copied) anew while serving: new connections and new deadlines
 * follow it; open connections keep the deadline they have and stay counted.
 */
void http_guard_set(struct http_guard *g, const struct http_guard_config *cfg);
/* Stops the sweeper; call after the daemon stopped (every connection closed). Accepts NULL. */
void http_guard_free(struct http_guard *g);

/* MHD_OPTION_ACCEPT_POLICY: refuses an address that has per_address connections open. */
enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* MHD_OPTION_NOTIFY_CONNECTION: counts and times connections from their start to their close. */
void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);
/* A request's header fields are in: its body's deadline starts. */
void http_guard_headers_done(struct MHD_Connection *conn);
/* A request's body is in: no deadline while its handler and its answer run. */
void http_guard_body_done(struct MHD_Connection *conn);
/* A request is answered: the next request's header deadline starts. */
void http_guard_request_done(struct MHD_Connection *conn);

#endif
