/*
 * roles.h — what a node runs (issue 26): the services it answers (settings
 * `services`) and the scheduled jobs it may take (`jobs`), and what follows
 * from them: which routes exist, which listeners open, which key purposes its
 * signer may use.  The default is everything, as a single node needs.
 */
#ifndef VOUCH_DAEMON_ROLES_H
#define VOUCH_DAEMON_ROLES_H

#include <stddef.h>
#include <stdio.h>

#include "http/http.h"
#include "lib/util.h"

enum {
    SERVICE_API = 1u << 0,     /* the REST API (and console), ACME, EST, SCEP, CMP */
    SERVICE_OCSP = 1u << 1,    /* /ocsp/... */
    SERVICE_PUBLISH = 1u << 2, /* /crl/... and /ca/...: CRLs and CA certificates */
    SERVICE_TSA = 1u << 3,     /* /tsa/... */
    SERVICE_ALL = (1u << 4) - 1,
};

enum {
    JOB_CRL = 1u << 0,        /* CRL publication */
    JOB_OCSP = 1u << 1,       /* OCSP pre-signing and responder renewal */
    JOB_EXPIRY = 1u << 2,     /* requests past their time, certificates that expired, CMP grace */
    JOB_NOTICES = 1u << 3,    /* expiry notices (mail, webhooks) */
    JOB_PURGE = 1u << 4,      /* deleted tenants past retention; old ACME and CMP state */
    JOB_CHECKPOINT = 1u << 5, /* signed audit-chain checkpoints */
    JOB_ALL = (1u << 6) - 1,
};

struct roles {
    unsigned services; /* SERVICE_* */
    unsigned jobs;     /* JOB_* */
};

/* The settings' values ("api,ocsp", "all", "none"; NULL: all) into r; -1 with e set. */
int roles_parse(const char *services, const char *jobs, struct roles *r, struct err *e);

/* The service a route's path belongs to; 0 for /healthz and /readyz (every node has them). */
unsigned roles_route_service(const char *pattern);

/*
 * The routes of table[0..n-1] this node serves, in a new array (freed by the
 * caller) with their count in *kept; how many of them belong to a service
 * (not /healthz, /readyz) in *serving: a listener with none is not opened.
 */
struct http_route *roles_routes(const struct roles *r, const struct http_route *table, size_t n,
                                size_t *kept, size_t *serving);

/* The key purposes (1u << KEY_PURPOSE_*) the node's signer may use; 0 = every purpose. */
unsigned roles_key_purposes(const struct roles *r);

/* "api, ocsp" (or "none") for the services or jobs bits, into buf. */
const char *roles_services_text(unsigned services, char *buf, size_t len);
const char *roles_jobs_text(unsigned jobs, char *buf, size_t len);

/* What --check says a configuration will run: services, jobs, key purposes. */
void roles_describe(const struct roles *r, FILE *f);

#endif
