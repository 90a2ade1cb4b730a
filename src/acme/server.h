/*
 * server.h — the ACME server (RFC 8555, RFC 8737, RFC 8738, RFC 9773, the
 * profiles extension) as a protocol module: a request's method, resource and
 * body in; a protocol status, headers and body out.  It knows no HTTP
 * server: src/api/api_acme.c carries requests to it.  State lives behind svc
 * (svc_acme.c), issuance and revocation go through the one door, and
 * validations run on a pool of threads of its own (never in the signer,
 * never inside a database transaction).
 */
#ifndef VOUCH_ACME_SERVER_H
#define VOUCH_ACME_SERVER_H

#include <stddef.h>

#include "acme/validate.h"
#include "svc/svc.h"

struct acme_server_config {
    struct acme_validate_config validate;
    int workers; /* validation threads (default 4) */
};

struct acme_server;

/* Starts the validation threads; NULL with e if the configuration is refused. */
struct acme_server *acme_server_new(struct svc *s, const struct acme_server_config *cfg,
                                    struct err *e);
/* Stops the threads (validations under way are dropped: acme_server_tick takes them up again). */
void acme_server_free(struct acme_server *a);

/* A request to one endpoint. */
struct acme_request {
    const char *method; /* "GET", "HEAD" or "POST" */
    const char *base;   /* "https://host:port", as the client reached the server */
    const char *tenant; /* /acme/{tenant}/{endpoint}/{resource} */
    const char *endpoint;
    const char *resource; /* "directory", "new-nonce", "acct/ID", "chall/AUTHZ/TYPE", ... */
    const unsigned char *body;
    size_t len;
};

/* The answer (free with acme_response_clear). */
struct acme_response {
    int status;               /* the HTTP status RFC 8555 gives the outcome */
    const char *content_type; /* static, or NULL for no body */
    char *body;
    size_t len;
    char *location;
    char *links[4]; /* each "<url>;rel=\"name\"" */
    int nlinks;
    char *nonce;     /* Replay-Nonce */
    int retry_after; /* seconds (0: none) */
    int no_store;    /* Cache-Control: no-store */
};
void acme_response_clear(struct acme_response *r);

/* Answers e as an ACME problem document (a request refused before acme_handle: a rate). */
void acme_refuse(struct acme_response *r, const struct err *e);

/* Answers q (every answer, errors too, carries a fresh nonce where it can). */
void acme_handle(struct acme_server *a, const struct acme_request *q, struct acme_response *r);

/*
 * Takes up validations that a node began and never finished (it stopped):
 * those older than a minute are run again here.  For the scheduler.
 */
void acme_server_tick(struct acme_server *a);

#endif
