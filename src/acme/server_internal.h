/* server_internal.h — what server.c and server_order.c share; not for other modules. */
#ifndef VOUCH_ACME_SERVER_INTERNAL_H
#define VOUCH_ACME_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include <jansson.h>

#include "acme/jws.h"
#include "acme/server.h"

struct job;

/* A stored account JWK and its key (server.c: account_key). */
struct account_key_slot {
    char *jwk;
    EVP_PKEY *key;
};
#define ACCOUNT_KEY_SLOTS 1024

struct acme_server {
    struct svc *svc;
    struct acme_validator *validator;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t lock; /* guards the queue and stop */
    pthread_cond_t cond;
    struct job *head, *tail;
    int stop;
    pthread_mutex_t keys_lock; /* guards keys */
    struct account_key_slot keys[ACCOUNT_KEY_SLOTS];
};

/* One request being answered. */
struct ctx {
    struct acme_server *a;
    const struct acme_request *q;
    struct acme_response *r;
    char *prefix; /* "<base>/acme/<tenant>/<endpoint>" */
    char *url;    /* this request's URL */
    struct acme_endpoint_rec *ep;
    struct svc_acme_settings st;
    struct acme_jws *jws;          /* POST: the checked JWS */
    struct acme_account_rec *acct; /* POST with a kid: its account */
    json_t *subproblems;           /* an error\'s subproblems (RFC 8555 section 6.7.1), or NULL */
};

/* A URL of the endpoint: prefix "/" fmt (caller frees). */
char *acme_url(const struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Answers status with o (reference stolen) as application/json. */
void acme_json(struct acme_response *r, int status, json_t *o);
/* Answers e as a problem document (RFC 7807) of its ACME error type. */
void acme_problem(struct acme_response *r, const struct err *e);
void acme_link(struct acme_response *r, const char *url, const char *rel);
/* Queues the validation of challenge type of authorization z for acct (c: the endpoint's settings).
 */
void acme_validation_queue(struct acme_server *a, const struct ctx *c,
                           const struct acme_authz_rec *z, const char *type,
                           const struct acme_account_rec *acct);

/* server_order.c: the resources of orders, authorizations, challenges and certificates. */
int acme_new_order(struct ctx *c, struct err *e);
int acme_orders_list(struct ctx *c, const char *account, struct err *e);
int acme_order_post(struct ctx *c, const char *id, struct err *e);
int acme_finalize(struct ctx *c, const char *id, struct err *e);
int acme_authz_post(struct ctx *c, const char *id, struct err *e);
int acme_challenge_post(struct ctx *c, const char *rest, struct err *e);
int acme_cert_post(struct ctx *c, const char *serial, struct err *e);
int acme_revoke_cert(struct ctx *c, struct err *e);
int acme_renewal_info(struct ctx *c, const char *certid, struct err *e);

#endif
