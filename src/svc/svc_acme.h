/*
 * svc_acme.h — ACME in svc: the endpoints and their settings a tenant admin
 * manages (svc_acme_admin.c) and the protocol state the front end in src/acme
 * works on (svc_acme.c, svc_acme_order.c).  Included by svc.h.
 */
#ifndef VOUCH_SVC_ACME_H
#define VOUCH_SVC_ACME_H

#include "svc/svc.h"

/* ---- ACME (issue 16): endpoints and their settings (svc_acme_admin.c) ----- */

#define ACME_PROFILES_MAX   16
#define ACME_ISSUERS_MAX    8
#define ACME_CHALLENGE_HTTP 1 /* challenge types, as a bit set */
#define ACME_CHALLENGE_DNS  2
#define ACME_CHALLENGE_ALPN 4

/* An endpoint's settings (acme_endpoint_rec.settings, parsed; strings owned). */
struct svc_acme_settings {
    struct {
        char *name;        /* a profile of the tenant (a leaf profile) */
        char *description; /* shown in the directory's meta.profiles */
    } profiles[ACME_PROFILES_MAX];
    int nprofiles;            /* at least 1; profiles[0] is the default */
    int eab_required;         /* newAccount needs an External Account Binding */
    int challenges;           /* ACME_CHALLENGE_* allowed (default all three) */
    long authz_reuse_seconds; /* a valid authorization is reused this long (0: never) */
    long order_seconds;       /* a pending order's lifetime (default 7 days) */
    long authz_seconds;       /* a pending authorization's lifetime (default 7 days) */
    int allow_dns, allow_ip, allow_wildcard; /* identifier kinds allowed (default dns + wildcard) */
    int caa_check;                           /* CAA checked before issuance (default on) */
    char *caa_identities[ACME_ISSUERS_MAX];  /* issuer domain names CAA must name */
    int ncaa_identities;
    char *terms_of_service; /* URL shown as meta.termsOfService, or NULL */
    char *website;          /* meta.website, or NULL */
};
void svc_acme_settings_clear(struct svc_acme_settings *st);
/*
 * Reads settings from JSON (the admin API's body, or a stored endpoint's
 * settings; a JSON object, NULL refused): unknown members and out-of-range
 * values refused (ERR_INVALID naming the field); defaults filled in (profiles
 * ["tls-server"], challenges all three, orders and authorizations 7 days,
 * no reuse, dns and wildcards but not ip, CAA checked).  caa_identities must
 * name at least one issuer domain while caa_check is on; every identifier
 * kind allowed must have a challenge that validates it (a wildcard dns-01, an
 * IP address http-01 or tls-alpn-01).  On success *st is the caller's to
 * clear; on failure it is cleared.
 */
int svc_acme_settings_parse(const json_t *o, struct svc_acme_settings *st, struct err *e);
/* The JSON form of st (every member, defaults included); a new reference. */
json_t *svc_acme_settings_json(const struct svc_acme_settings *st);

/*
 * Creates (create 1: ERR_CONFLICT if it exists; the tenant must be active) or
 * changes (ERR_NOT_FOUND if it does not) tenant's endpoint `name` issuing
 * from CA ca (NULL on a change: kept) with status "active" or "disabled"
 * (NULL: active, or kept) and the settings in body (NULL: none given;
 * svc_acme_settings_parse; for a change, the members given replace the
 * stored ones, a member given as null goes back to its default).  The CA
 * must be an active CA of the tenant and every profile a leaf profile of the
 * tenant: checked when they are set (a CA disabled since does not keep its
 * endpoint from being disabled).  Audited as acme.endpoint.create /
 * acme.endpoint.update, with the result, in the transaction of the row.
 * *out (caller frees) the endpoint.
 */
int svc_acme_endpoint_put(struct svc *s, const struct actor *a, const char *tenant,
                          const char *name, const char *ca, const char *status, const json_t *body,
                          int create, struct acme_endpoint_rec **out, struct err *e);
int svc_acme_endpoint_get(struct svc *s, const char *tenant, const char *name,
                          struct acme_endpoint_rec **out, struct err *e);
int svc_acme_endpoint_list(struct svc *s, const char *tenant, struct acme_endpoint_rec ***out,
                           size_t *n, struct err *e);
/*
 * The endpoint as the admin API shows it (a new reference): name, ca, status,
 * "directory" — its directory's path, "/acme/<tenant>/<name>/directory",
 * relative to the API's base URL (the API listener serves ACME; only the
 * transport knows the host a client reaches it by) —, created, updated, and
 * every member of its settings (svc_acme_settings_json).
 */
json_t *svc_acme_endpoint_json(struct svc *s, const struct acme_endpoint_rec *r);

/*
 * A new External Account Binding credential of endpoint: kid (NULL: drawn,
 * "eab-<16 hex>"; else 1 to 64 of [A-Za-z0-9._-]), options (NULL or an
 * object; other members refused) {"profiles": [...] (a subset of the
 * endpoint's; none: all), "role": the role its accounts act with (one that
 * grants cert.issue; default "requester"), "reusable": bool (default false:
 * one account)}.  The HMAC key is derived in the signer from the tenant's
 * EAB key (RSA, made with its first credential), the endpoint, the kid and a
 * nonce; *hmac_key (base64url of 32 bytes, caller frees) is shown once and
 * stored nowhere.  Audited as acme.eab.create (without the key).  The tenant
 * must be active.
 */
int svc_acme_eab_create(struct svc *s, const struct actor *a, const char *tenant,
                        const char *endpoint, const char *kid, const json_t *options,
                        struct acme_eab_rec **out, char **hmac_key, struct err *e);
/*
 * Revokes an active credential (ERR_CONFLICT if it is revoked already): no
 * new account can use it; with deactivate, the valid accounts made with it
 * are deactivated too, in the same transaction.  Audited as acme.eab.revoke
 * (naming the accounts deactivated).
 */
int svc_acme_eab_revoke(struct svc *s, const struct actor *a, const char *tenant,
                        const char *endpoint, const char *kid, int deactivate, struct err *e);
/* An endpoint's credentials by kid (endpoint NULL: every endpoint's); ERR_NOT_FOUND for no such
 * endpoint. */
int svc_acme_eab_list(struct svc *s, const char *tenant, const char *endpoint,
                      struct acme_eab_rec ***out, size_t *n, struct err *e);
json_t *svc_acme_eab_json(const struct acme_eab_rec *r); /* without any secret */
/*
 * The MAC of data under credential (endpoint, kid)'s HMAC key with alg
 * ("HS256", "HS384", "HS512"), computed by the signer: *mac (caller frees).
 * ERR_NOT_FOUND for an unknown kid; ERR_FORBIDDEN (code "unauthorized") for
 * a revoked one, or a single-use one used already.
 */
int svc_acme_eab_mac(struct svc *s, const char *tenant, const char *endpoint, const char *kid,
                     const char *alg, const unsigned char *data, size_t len, unsigned char **mac,
                     size_t *mac_len, struct err *e);

/* ---- ACME protocol state (svc_acme.c), for the front end in src/acme ---- */

/*
 * A new nonce of tenant (base64url, caller frees): a MAC under the tenant's
 * nonce key over the time and random bits, made without a database write.
 */
char *svc_acme_nonce_new(struct svc *s, const char *tenant, struct err *e);
/*
 * Accepts a nonce once on any node (filed as used until it expires): 0, or
 * ERR_INVALID with code "badNonce" for one not made here, expired or used.
 */
int svc_acme_nonce_use(struct svc *s, const char *tenant, const char *nonce, struct err *e);
/*
 * Removes every tenant's used nonces that expired, and its orders and
 * authorizations a month after they expired; how many rows, or -1.
 */
int svc_acme_prune_tick(struct svc *s, struct err *e);

/*
 * Endpoint name of tenant and its settings (*st the caller's to clear);
 * ERR_NOT_FOUND if none.  Kept per node for a second: a change made through
 * another node may take that long to show here.
 */
int svc_acme_endpoint_load(struct svc *s, const char *tenant, const char *name,
                           struct acme_endpoint_rec **out, struct svc_acme_settings *st,
                           struct err *e);
/* The ACME error type (the suffix of urn:ietf:params:acme:error:) for an error of svc. */
const char *svc_acme_problem_code(const struct err *e);

/* The actor an account acts as (pointers into acct; valid while acct lives). */
void svc_acme_actor(const struct acme_account_rec *acct, struct actor *a);

/* An External Account Binding as the front end read it (acme_eab_parse): what the MAC is over. */
struct svc_acme_eab {
    const char *kid;
    const char *alg; /* "HS256", "HS384", "HS512" */
    const unsigned char *input;
    size_t input_len;
    const unsigned char *mac;
    size_t mac_len;
};
/*
 * A new account of endpoint for the key (its public JWK text and RFC 7638
 * thumbprint), contact (NULL or an array of mailto: URLs), eab (NULL or the
 * binding: its MAC checked by the signer, its credential counted in the same
 * transaction).  Audited as acme.account.create.  *out (caller frees).
 * ERR_CONFLICT if the key has an account already.
 */
int svc_acme_account_new(struct svc *s, const char *tenant, const char *endpoint, const char *jwk,
                         const char *thumbprint, const json_t *contact,
                         const struct svc_acme_eab *eab, struct acme_account_rec **out,
                         struct err *e);
/* An account by id, or by its key's thumbprint: ERR_FORBIDDEN "accountDoesNotExist" if none. */
int svc_acme_account_get(struct svc *s, const char *tenant, const char *endpoint, const char *id,
                         struct acme_account_rec **out, struct err *e);
int svc_acme_account_by_key(struct svc *s, const char *tenant, const char *endpoint,
                            const char *thumbprint, struct acme_account_rec **out, struct err *e);
/*
 * Changes a valid account: contact (NULL: kept), deactivate, or a new key
 * (jwk and thumbprint; ERR_CONFLICT if another account has it).  Audited.
 */
int svc_acme_account_update(struct svc *s, const struct acme_account_rec *acct,
                            const json_t *contact, int deactivate, const char *jwk,
                            const char *thumbprint, struct acme_account_rec **out, struct err *e);

/* newOrder as the front end read it. */
struct svc_acme_order_req {
    const json_t *identifiers; /* [{"type": "dns"|"ip", "value"}] */
    const char *profile;       /* NULL: the endpoint's default */
    int64_t not_before, not_after;
    const char *replaces; /* an ARI certificate identifier, or NULL */
    /* NULL, or where the problems go when several identifiers are refused (a new reference) */
    json_t **subproblems;
};
/*
 * A new order of acct under the endpoint's settings: identifiers allowed by
 * the endpoint and by the profile's name rules (rejectedIdentifier), an
 * authorization per identifier (a valid one reused when the endpoint
 * allows), "ready" at once if all are valid.  Audited as acme.order.create.
 */
int svc_acme_order_new(struct svc *s, const struct acme_account_rec *acct,
                       const struct svc_acme_settings *st, const struct svc_acme_order_req *q,
                       struct acme_order_rec **out, struct err *e);
/* Order id of acct as it stands now (its status settled and saved); ERR_NOT_FOUND otherwise. */
int svc_acme_order_get(struct svc *s, const struct acme_account_rec *acct, const char *id,
                       struct acme_order_rec **out, struct err *e);
int svc_acme_order_list(struct svc *s, const struct acme_account_rec *acct, int limit, int offset,
                        struct acme_order_rec ***out, size_t *n, struct err *e);
/*
 * Finalizes a ready order with a CSR (DER) naming exactly its identifiers
 * (badCSR otherwise): the issuance is submitted through svc_submit as the
 * account (idempotency key "acme-<order>"), so workflows, quotas and audit
 * apply: the order becomes valid, processing (waiting for approval) or
 * invalid.  A quota or an unreachable database leaves it ready (the error
 * returned).  orderNotReady for an order not ready.
 */
int svc_acme_order_finalize(struct svc *s, const struct acme_account_rec *acct,
                            const struct acme_endpoint_rec *ep, const char *id,
                            const unsigned char *csr, size_t csr_len, struct acme_order_rec **out,
                            struct err *e);
int svc_acme_authz_get(struct svc *s, const struct acme_account_rec *acct, const char *id,
                       struct acme_authz_rec **out, struct err *e);
int svc_acme_authz_deactivate(struct svc *s, const struct acme_account_rec *acct, const char *id,
                              struct acme_authz_rec **out, struct err *e);
/*
 * The client's "validate now" for challenge type of an authorization: a
 * pending one becomes processing (*started 1: the caller runs the
 * validation and reports it with svc_acme_challenge_finish); any other
 * state is left as it is.  *out the authorization.
 */
int svc_acme_challenge_start(struct svc *s, const struct acme_account_rec *acct, const char *authz,
                             const char *type, struct acme_authz_rec **out, int *started,
                             struct err *e);
/*
 * Records a validation's outcome (failure NULL: met; the authorization is
 * valid for valid_for seconds), if the challenge is still processing.
 */
int svc_acme_challenge_finish(struct svc *s, const char *tenant, const char *endpoint,
                              const char *authz, const char *type, const struct err *failure,
                              long valid_for, struct err *e);
/* Authorizations whose validation began before `before` and never ended (a node stopped). */
int svc_acme_stalled(struct svc *s, const char *tenant, int64_t before, int limit,
                     struct acme_authz_rec ***out, size_t *n, struct err *e);
/* The certificate serial of acct and its chain as PEM (*pem, caller frees). */
int svc_acme_cert_pem(struct svc *s, const struct acme_account_rec *acct, const char *serial,
                      char **pem, struct err *e);
/*
 * Revokes certificate der (RFC 8555 section 7.6) for reason: by acct (NULL:
 * the request was signed by the certificate's own key, which the caller
 * checked), through svc_submit.  alreadyRevoked, badRevocationReason,
 * unauthorized (another account's; or the revocation waits for approval).
 */
int svc_acme_revoke(struct svc *s, const char *tenant, const char *endpoint,
                    const struct acme_account_rec *acct, const unsigned char *der, size_t len,
                    int reason, struct err *e);
/*
 * The suggested renewal window of the certificate an ARI certID names
 * (RFC 9773 section 4.1), issued by the endpoint's CA: svc_renewal_window.
 */
int svc_acme_renewal_info(struct svc *s, const char *tenant, const struct acme_endpoint_rec *ep,
                          const char *certid, int64_t *start, int64_t *end, char **reason,
                          struct err *e);

#endif
