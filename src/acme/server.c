/*
 * server.c — the ACME server's requests: the directory, nonces, the JWS
 * checks every POST goes through (RFC 8555 section 6), accounts and key
 * rollover, problem documents; and the pool of threads validating
 * challenges.  Orders, authorizations, challenges and certificates:
 * server_order.c.
 */
#include "acme/server_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* ---- answers ------------------------------------------------------------------------- */

void acme_response_clear(struct acme_response *r)
{
    free(r->body);
    free(r->location);
    for (int i = 0; i < r->nlinks; i++)
        free(r->links[i]);
    free(r->nonce);
    memset(r, 0, sizeof(*r));
}

void acme_link(struct acme_response *r, const char *url, const char *rel)
{
    if (r->nlinks < (int)ARRAY_LEN(r->links))
        r->links[r->nlinks++] = xasprintf("<%s>;rel=\"%s\"", url, rel);
}

void acme_json(struct acme_response *r, int status, json_t *o)
{
    free(r->body);
    r->status = status;
    r->content_type = "application/json";
    r->body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    r->len = r->body ? strlen(r->body) : 0;
    json_decref(o);
}

/* The HTTP status of an ACME error (RFC 8555 section 6.7; 404 for what is not there). */
static int problem_status(const struct err *e, const char *code)
{
    static const char *const forbidden[] = {"unauthorized", "orderNotReady",
                                            "externalAccountRequired", "userActionRequired", NULL};

    switch (e->kind) {
    case ERR_NOT_FOUND:
        return 404;
    case ERR_LIMIT:
        return 429;
    case ERR_TOO_LARGE:
        return 413;
    case ERR_UNAVAILABLE:
        return 503;
    case ERR_INTERNAL:
    case ERR_NONE:
        return 500;
    default:
        break;
    }
    for (size_t i = 0; forbidden[i] != NULL; i++)
        if (strcmp(code, forbidden[i]) == 0)
            return 403;
    return 400;
}

void acme_problem(struct acme_response *r, const struct err *e)
{
    const char *code = svc_acme_problem_code(e);
    int status = problem_status(e, code);
    char *type = xasprintf("urn:ietf:params:acme:error:%s", code);
    json_t *o = json_pack("{s:s, s:s, s:i}", "type", type, "detail", e->msg, "status", status);

    if (o == NULL) /* a detail that is not UTF-8 */
        o = json_pack("{s:s, s:s, s:i}", "type", type, "detail", "(not UTF-8)", "status", status);
    if (strcmp(code, "badSignatureAlgorithm") == 0)
        json_object_set_new(o, "algorithms", acme_jws_algorithms());
    if (status == 503 || status == 429)
        r->retry_after = 10;
    acme_json(r, status, o);
    r->content_type = "application/problem+json";
    free(type);
}

void acme_refuse(struct acme_response *r, const struct err *e)
{
    memset(r, 0, sizeof(*r));
    acme_problem(r, e);
}

/* ---- the directory and nonces --------------------------------------------------------- */

char *acme_url(const struct ctx *c, const char *fmt, ...)
{
    char tail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    return xasprintf("%s/%s", c->prefix, tail);
}

static void directory(struct ctx *c)
{
    static const char *const resources[][2] = {
        {"newNonce", "new-nonce"},   {"newAccount", "new-account"},
        {"newOrder", "new-order"},   {"revokeCert", "revoke-cert"},
        {"keyChange", "key-change"}, {"renewalInfo", "renewal-info"},
    };
    json_t *o = json_object(), *meta = json_object(), *profiles = json_object(),
           *caa = json_array();

    for (size_t i = 0; i < ARRAY_LEN(resources); i++) {
        char *url = acme_url(c, "%s", resources[i][1]);
        json_object_set_new(o, resources[i][0], json_string(url));
        free(url);
    }
    for (int i = 0; i < c->st.nprofiles; i++)
        json_object_set_new(profiles, c->st.profiles[i].name,
                            json_string(c->st.profiles[i].description
                                            ? c->st.profiles[i].description
                                            : c->st.profiles[i].name));
    for (int i = 0; i < c->st.ncaa_identities; i++)
        json_array_append_new(caa, json_string(c->st.caa_identities[i]));
    json_object_set_new(meta, "profiles", profiles);
    json_object_set_new(meta, "caaIdentities", caa);
    json_object_set_new(meta, "externalAccountRequired", json_boolean(c->st.eab_required));
    if (c->st.terms_of_service != NULL)
        json_object_set_new(meta, "termsOfService", json_string(c->st.terms_of_service));
    if (c->st.website != NULL)
        json_object_set_new(meta, "website", json_string(c->st.website));
    json_object_set_new(o, "meta", meta);
    acme_json(c->r, 200, o);
}

/* ---- the checks of a POST (RFC 8555 section 6.2-6.5) ------------------------------------ */

/* The account a "kid" names (an account URL of this endpoint); accountDoesNotExist if none. */
static int kid_account(struct ctx *c, struct err *e)
{
    char *acct_prefix = acme_url(c, "acct/");
    size_t n = strlen(acct_prefix);
    int rc;

    if (strncmp(c->jws->kid, acct_prefix, n) != 0 || !name_valid(c->jws->kid + n)) {
        free(acct_prefix);
        return err_setc(e, ERR_FORBIDDEN, "accountDoesNotExist",
                        "kid: not an account URL of this endpoint");
    }
    rc =
        svc_acme_account_get(c->a->svc, c->q->tenant, c->q->endpoint, c->jws->kid + n, &c->acct, e);
    free(acct_prefix);
    if (rc == 0 && strcmp(c->acct->status, "valid") != 0)
        rc = err_setc(e, ERR_FORBIDDEN, "unauthorized", "account %s is %s", c->acct->id,
                      c->acct->status);
    return rc;
}

/*
 * The key of a stored account JWK (a new reference: the caller frees it).
 * Every POST of an account needs it: this node keeps the keys it made, one
 * per slot of a table indexed by a hash of the JWK's text (a key change
 * stores another text).  Sharing one EVP_PKEY between threads for
 * verification is safe in OpenSSL 3.
 */
static int account_key(struct acme_server *a, const char *jwk_text, EVP_PKEY **out, struct err *e)
{
    struct account_key_slot *slot;
    uint32_t h = 2166136261u; /* FNV-1a */
    EVP_PKEY *key = NULL;
    json_t *jwk;
    int rc;

    for (const char *p = jwk_text; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    slot = &a->keys[h % ACCOUNT_KEY_SLOTS];
    pthread_mutex_lock(&a->keys_lock);
    if (slot->jwk != NULL && strcmp(slot->jwk, jwk_text) == 0 && EVP_PKEY_up_ref(slot->key) == 1)
        key = slot->key;
    pthread_mutex_unlock(&a->keys_lock);
    if (key != NULL) {
        *out = key;
        return 0;
    }
    jwk = json_loads(jwk_text, 0, NULL);
    rc = acme_jwk_to_pkey(jwk, &key, e);
    json_decref(jwk);
    if (rc != 0)
        return -1;
    if (EVP_PKEY_up_ref(key) == 1) {
        pthread_mutex_lock(&a->keys_lock);
        EVP_PKEY_free(slot->key);
        free(slot->jwk);
        slot->key = key;
        slot->jwk = xstrdup(jwk_text);
        pthread_mutex_unlock(&a->keys_lock);
    }
    *out = key;
    return 0;
}

/*
 * Parses and checks the request's JWS: the url is this request's, the nonce
 * fresh and used up now, the key the "jwk" (only where jwk_ok) or the kid's
 * account's, the signature good.  c->jws (and c->acct for a kid) set.
 */
static int authenticate(struct ctx *c, int jwk_ok, struct err *e)
{
    EVP_PKEY *key = NULL;
    int rc;

    if (acme_jws_parse(c->q->body, c->q->len, &c->jws, e) != 0)
        return -1;
    if (strcmp(c->jws->url, c->url) != 0)
        return err_setc(e, ERR_FORBIDDEN, "unauthorized",
                        "url: the protected header names %.200s, not this resource "
                        "(RFC 8555 section 6.4)",
                        c->jws->url);
    if (svc_acme_nonce_use(c->a->svc, c->q->tenant, c->jws->nonce, e) != 0)
        return -1;
    if (c->jws->kid == NULL) {
        if (!jwk_ok)
            return err_setc(e, ERR_INVALID, "malformed",
                            "this resource needs a \"kid\" (RFC 8555 section 6.2)");
        return acme_jws_verify(c->jws, c->jws->jwk, e);
    }
    if (jwk_ok == 2) /* newAccount */
        return err_setc(e, ERR_INVALID, "malformed", "newAccount needs a \"jwk\", not a \"kid\"");
    if (kid_account(c, e) != 0)
        return -1;
    rc = account_key(c->a, c->acct->jwk, &key, e);
    if (rc == 0)
        rc = acme_jws_verify(c->jws, key, e);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- accounts ------------------------------------------------------------------------- */

static json_t *account_json(const struct ctx *c, const struct acme_account_rec *r)
{
    char *orders = acme_url(c, "acct/%s/orders", r->id);
    json_t *o = json_pack("{s:s, s:o, s:s}", "status", r->status, "contact",
                          json_loads(r->contact ? r->contact : "[]", 0, NULL), "orders", orders);

    free(orders);
    return o;
}

static void account_answer(struct ctx *c, int status, const struct acme_account_rec *r)
{
    free(c->r->location);
    c->r->location = acme_url(c, "acct/%s", r->id);
    acme_json(c->r, status, account_json(c, r));
}

/* The key's JWK text and thumbprint (caller frees both). */
static int key_texts(EVP_PKEY *key, char **jwk, char **thumbprint, struct err *e)
{
    json_t *j = acme_jwk_from_pkey(key, e);

    if (j == NULL)
        return -1;
    *jwk = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (acme_jwk_thumbprint(key, thumbprint, e) != 0) {
        free(*jwk);
        return -1;
    }
    return 0;
}

static int new_account(struct ctx *c, struct err *e)
{
    const json_t *p = c->jws->payload, *eab_json = json_object_get(p, "externalAccountBinding");
    struct acme_account_rec *r = NULL;
    struct acme_eab *eab = NULL;
    struct svc_acme_eab binding;
    char *jwk = NULL, *thumb = NULL;
    int rc = -1;

    if (p == NULL)
        return err_setc(e, ERR_INVALID, "malformed", "newAccount: a payload object is required");
    if (key_texts(c->jws->jwk, &jwk, &thumb, e) != 0)
        return -1;
    if (svc_acme_account_by_key(c->a->svc, c->q->tenant, c->q->endpoint, thumb, &r, NULL) == 0) {
        account_answer(c, 200, r); /* RFC 8555 section 7.3.1: the existing account */
        rc = 0;
    } else if (json_is_true(json_object_get(p, "onlyReturnExisting"))) {
        err_setc(e, ERR_INVALID, "accountDoesNotExist", "no account has this key");
    } else if (c->st.terms_of_service != NULL &&
               !json_is_true(json_object_get(p, "termsOfServiceAgreed"))) {
        err_setc(e, ERR_FORBIDDEN, "userActionRequired",
                 "termsOfServiceAgreed: the terms of service (%s) must be agreed to",
                 c->st.terms_of_service);
    } else if (c->st.eab_required && eab_json == NULL) {
        err_setc(e, ERR_FORBIDDEN, "externalAccountRequired",
                 "this endpoint needs an externalAccountBinding (RFC 8555 section 7.3.4)");
    } else if (eab_json == NULL || acme_eab_parse(eab_json, c->url, c->jws->jwk, &eab, e) == 0) {
        if (eab != NULL)
            binding = (struct svc_acme_eab){eab->kid,           acme_alg_name(eab->alg),
                                            eab->signing_input, eab->signing_input_len,
                                            eab->mac,           eab->mac_len};
        rc = svc_acme_account_new(c->a->svc, c->q->tenant, c->q->endpoint, jwk, thumb,
                                  json_object_get(p, "contact"), eab ? &binding : NULL, &r, e);
        if (rc == 0)
            account_answer(c, 201, r);
    }
    acme_eab_free(eab);
    acme_account_rec_free(r);
    free(jwk);
    free(thumb);
    return rc;
}

/* POST to the account's URL: read it, change its contact, or deactivate it. */
static int account_post(struct ctx *c, const char *id, struct err *e)
{
    const json_t *p = c->jws->payload, *status = json_object_get(p, "status");
    struct acme_account_rec *r = NULL;
    int deactivate = 0;

    if (strcmp(id, c->acct->id) != 0)
        return err_setc(e, ERR_FORBIDDEN, "unauthorized",
                        "the request is signed by another account");
    if (p == NULL) {
        account_answer(c, 200, c->acct);
        return 0;
    }
    if (status != NULL) {
        if (!json_is_string(status) || strcmp(json_string_value(status), "deactivated") != 0)
            return err_setc(e, ERR_INVALID, "malformed", "status: only \"deactivated\" is taken");
        deactivate = 1;
    }
    if (svc_acme_account_update(c->a->svc, c->acct, json_object_get(p, "contact"), deactivate, NULL,
                                NULL, &r, e) != 0)
        return -1;
    account_answer(c, 200, r);
    acme_account_rec_free(r);
    return 0;
}

/* keyChange (RFC 8555 section 7.3.5): an inner JWS by the new key names the account and its old
 * key. */
static int key_change(struct ctx *c, struct err *e)
{
    struct acme_jws *inner = NULL;
    struct acme_account_rec *r = NULL;
    EVP_PKEY *old = NULL;
    char *acct_url = acme_url(c, "acct/%s", c->acct->id), *jwk = NULL, *thumb = NULL;
    const char *account;
    json_t *old_jwk;
    int rc = -1;

    if (c->jws->payload == NULL || acme_jws_parse_inner(c->jws->payload, &inner, e) != 0)
        goto out;
    if (strcmp(inner->url, c->jws->url) != 0) {
        err_setc(e, ERR_INVALID, "malformed", "keyChange: the inner url differs from the outer");
        goto out;
    }
    if (acme_jws_verify(inner, inner->jwk, e) != 0)
        goto out;
    account = json_string_value(json_object_get(inner->payload, "account"));
    old_jwk = json_object_get(inner->payload, "oldKey");
    if (account == NULL || strcmp(account, acct_url) != 0 || old_jwk == NULL ||
        acme_jwk_to_pkey(old_jwk, &old, e) != 0 || acme_jwk_thumbprint(old, &thumb, e) != 0 ||
        strcmp(thumb, c->acct->thumbprint) != 0) {
        err_setc(e, ERR_FORBIDDEN, "unauthorized",
                 "keyChange: account and oldKey must be this account and its key");
        goto out;
    }
    free(thumb);
    thumb = NULL;
    if (key_texts(inner->jwk, &jwk, &thumb, e) != 0 ||
        svc_acme_account_update(c->a->svc, c->acct, NULL, 0, jwk, thumb, &r, e) != 0)
        goto out;
    account_answer(c, 200, r);
    rc = 0;
out:
    acme_jws_free(inner);
    acme_account_rec_free(r);
    EVP_PKEY_free(old);
    free(acct_url);
    free(jwk);
    free(thumb);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------- */

/* The part of a resource after prefix ("acct/"), or NULL; it may hold no further '/'. */
static const char *resource_id(const char *resource, const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix), m = suffix ? strlen(suffix) : 0, len = strlen(resource);
    static __thread char id[128];

    if (strncmp(resource, prefix, n) != 0 || len <= n + m ||
        (m > 0 && strcmp(resource + len - m, suffix) != 0) || len - n - m >= sizeof(id))
        return NULL;
    memcpy(id, resource + n, len - n - m);
    id[len - n - m] = '\0';
    return strchr(id, '/') == NULL && id[0] != '\0' ? id : NULL;
}

static int post(struct ctx *c, struct err *e)
{
    const char *res = c->q->resource, *id;

    if (strcmp(res, "new-account") == 0)
        return authenticate(c, 2, e) == 0 ? new_account(c, e) : -1;
    if (strcmp(res, "revoke-cert") == 0)
        return authenticate(c, 1, e) == 0 ? acme_revoke_cert(c, e) : -1;
    if (authenticate(c, 0, e) != 0)
        return -1;
    if (strcmp(res, "key-change") == 0)
        return key_change(c, e);
    if (strcmp(res, "new-order") == 0)
        return acme_new_order(c, e);
    if ((id = resource_id(res, "acct/", "/orders")) != NULL)
        return acme_orders_list(c, id, e);
    if ((id = resource_id(res, "acct/", NULL)) != NULL)
        return account_post(c, id, e);
    if ((id = resource_id(res, "order/", "/finalize")) != NULL)
        return acme_finalize(c, id, e);
    if ((id = resource_id(res, "order/", NULL)) != NULL)
        return acme_order_post(c, id, e);
    if ((id = resource_id(res, "authz/", NULL)) != NULL)
        return acme_authz_post(c, id, e);
    if (strncmp(res, "chall/", 6) == 0)
        return acme_challenge_post(c, res + 6, e);
    if ((id = resource_id(res, "cert/", NULL)) != NULL)
        return acme_cert_post(c, id, e);
    return err_setc(e, ERR_NOT_FOUND, "malformed", "no such resource");
}

static int dispatch(struct ctx *c, struct err *e)
{
    const char *m = c->q->method, *res = c->q->resource, *id;

    if (strcmp(res, "directory") == 0 && strcmp(m, "GET") == 0) {
        directory(c);
        return 0;
    }
    if (strcmp(res, "new-nonce") == 0 && (strcmp(m, "HEAD") == 0 || strcmp(m, "GET") == 0)) {
        c->r->status = strcmp(m, "HEAD") == 0 ? 200 : 204;
        c->r->no_store = 1;
        return 0;
    }
    if ((id = resource_id(res, "renewal-info/", NULL)) != NULL && strcmp(m, "GET") == 0)
        return acme_renewal_info(c, id, e);
    if (strcmp(m, "POST") == 0)
        return post(c, e);
    return err_setc(e, ERR_NOT_FOUND, "malformed", "no such resource for %s", m);
}

void acme_handle(struct acme_server *a, const struct acme_request *q, struct acme_response *r)
{
    struct ctx c = {.a = a, .q = q, .r = r};
    char *index;
    struct err e;

    memset(r, 0, sizeof(*r));
    err_clear(&e);
    c.prefix = xasprintf("%s/acme/%s/%s", q->base, q->tenant, q->endpoint);
    c.url = xasprintf("%s/%s", c.prefix, q->resource);
    if (svc_acme_endpoint_load(a->svc, q->tenant, q->endpoint, &c.ep, &c.st, &e) != 0) {
        acme_problem(r, &e); /* no endpoint: nothing to make a nonce for */
        goto out;
    }
    if (dispatch(&c, &e) != 0) {
        /* A forged or misdirected request is a security event of the tenant: audited. */
        /* (at a bounded rate when no account proved itself: anyone can send those) */
        if (e.kind == ERR_UNAUTHENTICATED || (e.kind == ERR_FORBIDDEN && c.acct == NULL)) {
            struct actor who = {.id = c.acct ? c.acct->id : "acme"};
            svc_audit_unproven(a->svc, q->tenant, &who, "acme.refused", q->resource, &e);
        } else if (e.kind == ERR_FORBIDDEN) {
            struct actor who = {.id = c.acct->id};
            svc_audit_refusal(a->svc, q->tenant, &who, "acme.refused", q->resource, &e);
        }
        acme_problem(r, &e);
        if (c.subproblems != NULL) { /* the problem document again, with its subproblems */
            json_t *doc = json_loadb(r->body, r->len, 0, NULL);
            int status = r->status;
            json_object_set(doc, "subproblems", c.subproblems);
            acme_json(r, status, doc);
            r->content_type = "application/problem+json";
        }
    }
    /* Every answer of the endpoint, errors too, carries a fresh nonce (section 6.5). */
    if ((r->nonce = svc_acme_nonce_new(a->svc, q->tenant, &e)) == NULL)
        log_warn("acme %s/%s: no nonce: %s", q->tenant, q->endpoint, e.msg);
    index = acme_url(&c, "directory");
    if (strcmp(q->resource, "directory") != 0)
        acme_link(r, index, "index");
    free(index);
out:
    json_decref(c.subproblems);
    acme_jws_free(c.jws);
    acme_account_rec_free(c.acct);
    acme_endpoint_rec_free(c.ep);
    svc_acme_settings_clear(&c.st);
    free(c.prefix);
    free(c.url);
}

/* ---- validations -------------------------------------------------------------------- */

struct job {
    char *tenant, *endpoint, *authz, *type;
    char *ident_type, *ident_value, *token, *thumbprint, *account_url;
    int wildcard;
    long valid_for;
    int caa_check;
    char *issuers[ACME_ISSUERS_MAX + 1];
    struct job *next;
};

static void job_free(struct job *j)
{
    free(j->tenant);
    free(j->endpoint);
    free(j->authz);
    free(j->type);
    free(j->ident_type);
    free(j->ident_value);
    free(j->token);
    free(j->thumbprint);
    free(j->account_url);
    for (int i = 0; j->issuers[i] != NULL; i++)
        free(j->issuers[i]);
    free(j);
}

/* Validates one challenge (and CAA, when the endpoint checks it) and records the outcome. */
static void job_run(struct acme_server *a, struct job *j)
{
    struct acme_challenge ch = {j->type, j->ident_type, j->ident_value, j->token, j->thumbprint};
    struct acme_validation_record rec;
    struct err e, e2;
    int rc;

    err_clear(&e);
    rc = acme_validate(a->validator, &ch, &rec, &e);
    if (rc == 0 && j->caa_check && strcmp(j->ident_type, "dns") == 0) {
        char *name = xasprintf("%s%s", j->wildcard ? "*." : "", j->ident_value);
        struct acme_caa_query cq = {name, (const char *const *)j->issuers, j->account_url, j->type};
        rc = acme_caa_check(a->validator, &cq, &e);
        free(name);
    }
    if (svc_acme_challenge_finish(a->svc, j->tenant, j->endpoint, j->authz, j->type,
                                  rc == 0 ? NULL : &e, j->valid_for, &e2) != 0)
        log_warn("acme %s/%s: authorization %s: outcome not recorded: %s", j->tenant, j->endpoint,
                 j->authz, e2.msg);
}

static void *worker_main(void *arg)
{
    struct acme_server *a = arg;
    struct job *j;

    for (;;) {
        pthread_mutex_lock(&a->lock);
        while (a->head == NULL && !a->stop)
            pthread_cond_wait(&a->cond, &a->lock);
        if (a->stop) {
            pthread_mutex_unlock(&a->lock);
            return NULL;
        }
        j = a->head;
        a->head = j->next;
        if (a->head == NULL)
            a->tail = NULL;
        pthread_mutex_unlock(&a->lock);
        job_run(a, j);
        job_free(j);
    }
}

void acme_validation_queue(struct acme_server *a, const struct ctx *c,
                           const struct acme_authz_rec *z, const char *type,
                           const struct acme_account_rec *acct)
{
    struct job *j = xcalloc(1, sizeof(*j));
    json_t *list = json_loads(z->challenges, 0, NULL), *ch;
    size_t i;

    j->tenant = xstrdup(z->tenant ? z->tenant : c->q->tenant);
    j->endpoint = xstrdup(z->endpoint);
    j->authz = xstrdup(z->id);
    j->type = xstrdup(type);
    j->ident_type = xstrdup(z->ident_type);
    j->ident_value = xstrdup(z->ident_value);
    j->wildcard = z->wildcard;
    j->thumbprint = xstrdup(acct->thumbprint);
    j->account_url = c ? acme_url(c, "acct/%s", acct->id) : NULL;
    json_array_foreach(list, i, ch)
    {
        if (strcmp(json_string_value(json_object_get(ch, "type")), type) == 0)
            j->token = xstrdup(json_string_value(json_object_get(ch, "token")));
    }
    json_decref(list);
    if (c != NULL) {
        j->caa_check = c->st.caa_check;
        j->valid_for =
            c->st.authz_reuse_seconds > 0 ? c->st.authz_reuse_seconds : c->st.authz_seconds;
        for (int k = 0; k < c->st.ncaa_identities; k++)
            j->issuers[k] = xstrdup(c->st.caa_identities[k]);
    }
    if (j->token == NULL) {
        job_free(j);
        return;
    }
    pthread_mutex_lock(&a->lock);
    if (a->tail != NULL)
        a->tail->next = j;
    else
        a->head = j;
    a->tail = j;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

struct acme_server *acme_server_new(struct svc *s, const struct acme_server_config *cfg,
                                    struct err *e)
{
    struct acme_server *a = xcalloc(1, sizeof(*a));

    a->svc = s;
    if ((a->validator = acme_validator_new(cfg ? &cfg->validate : NULL, e)) == NULL) {
        free(a);
        return NULL;
    }
    a->nthreads = cfg && cfg->workers > 0 ? cfg->workers : 4;
    a->threads = xcalloc((size_t)a->nthreads, sizeof(*a->threads));
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->keys_lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    for (int i = 0; i < a->nthreads; i++)
        if (pthread_create(&a->threads[i], NULL, worker_main, a) != 0) {
            a->nthreads = i;
            acme_server_free(a);
            err_set(e, ERR_INTERNAL, "acme: cannot start the validation threads");
            return NULL;
        }
    return a;
}

void acme_server_free(struct acme_server *a)
{
    struct job *j;

    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    for (int i = 0; i < a->nthreads; i++)
        pthread_join(a->threads[i], NULL);
    while ((j = a->head) != NULL) {
        a->head = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->keys_lock);
    pthread_cond_destroy(&a->cond);
    for (int i = 0; i < ACCOUNT_KEY_SLOTS; i++) {
        EVP_PKEY_free(a->keys[i].key);
        free(a->keys[i].jwk);
    }
    acme_validator_free(a->validator);
    free(a->threads);
    free(a);
}
