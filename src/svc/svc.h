/*
 * svc.h — the CA's operations, free of any transport.
 *
 * Every caller — the REST API, vouchd init, the offline CA, and next the
 * enrollment protocols (ACME, EST, SCEP, CMP) and the console — changes
 * certificates and CAs through one entry point, svc_submit ("operations"
 * below), and reads and changes the rest through the functions here.  Each
 * operation checks the tenant and the objects it names, signs through the
 * signer (remote keys), and writes its records together with their audit
 * event in one transaction — so a failed operation leaves nothing but a
 * "refused" audit event.  Errors are struct err kinds (lib/util.h), never
 * transport statuses.
 *
 * Returned records belong to the caller (free with the store's *_free).
 */
#ifndef VOUCH_SVC_H
#define VOUCH_SVC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "keys/keys.h"
#include "lib/util.h"
#include "store/store.h"

struct svc_config {
    const char *public_url;       /* "http://127.0.0.1:8080": base of CDP/AIA URLs (plain HTTP) */
    long crl_validity_hours;      /* default nextUpdate - thisUpdate of a CA's CRL (168) */
    long crl_interval_minutes;    /* default interval between scheduled CRLs (60) */
    long crl_expired_margin_days; /* revoked entries stay this long past expiry (30) */
    long ocsp_validity_hours;     /* nextUpdate - thisUpdate of OCSP responses (24) */
    int ocsp_refresh_percent;     /* pre-signed responses are renewed after this % (50) */
    const char *ocsp_signer;      /* default: "delegated" responder certificate, or "ca" key */
    long ocsp_responder_days;     /* validity of delegated responder certificates (7) */
    const char *ocsp_responder_key_type; /* their key type (ec-p256) */
    long ocsp_check_seconds;             /* how often responders are reloaded and renewed (30) */
    long ocsp_cache_seconds;             /* stored responses kept in memory (2; -1 = none) */
    long ocsp_outage_seconds; /* database unreachable: responses read this recently served (0) */
    long ocsp_live_signs_per_second; /* responses signed on demand per node (0: no limit) */
    long tenant_retention_days;      /* a deleted tenant's data is kept this long (0: next tick) */
    const char *tenant_export_dir;   /* purged tenants' audit chains are exported here */
    int webhooks_enabled;            /* tenants may set webhooks (vouchd connects to their URLs) */
    int tsa_clock_check;             /* SVC_CLOCK_*: refuse tokens while the clock is unsynced */
    const char *node; /* this node's name on leases, stable across restarts ("<host>:<pid>") */
    /* Expiry notices by e-mail (svc_notice.c); smtp_url NULL: none are mailed. */
    const char *smtp_url, *smtp_from, *smtp_user, *smtp_password, *smtp_ca_file;
    int smtp_starttls;
    /* What this node does not serve, so /readyz does not report it (svc_signing_check). */
    int skip_tsa_units, skip_responders;
};

/* How the TSA checks the system clock before each token. */
enum { SVC_CLOCK_OFF = 0, SVC_CLOCK_KERNEL = 1 /* adjtimex(2): refused while STA_UNSYNC */ };

struct svc;

/* Takes no ownership of store or signer; copies cfg. */
struct svc *svc_new(struct store *store, struct signer *signer, const struct svc_config *cfg);
/*
 * Takes what may change while serving (SIGHUP) from cfg: the OCSP live
 * signing rate and whether tenants may set webhooks.  The rest of cfg is
 * ignored.
 */
void svc_reload(struct svc *s, const struct svc_config *cfg);
void svc_free(struct svc *s);
/*
 * Readiness (/readyz): 0 if the database answers and the signer with its key
 * store is healthy, else -1.  db and signer (the caller's) get each one's
 * failure, kind ERR_NONE when it is well; health the key store's state in one
 * line (keys.h: signer_health) when the signer answers.
 */
int svc_ready(struct svc *s, struct err *db, char *health, size_t health_len, struct err *signer);
/*
 * Looks for active TSA units and OCSP responders whose key the signer's store
 * lacks (svc_health.c), for /readyz: the count found, or -1 with e set (what
 * was found before is kept).
 */
int svc_signing_check(struct svc *s, struct err *e);
/* What the last svc_signing_check found: a new JSON array of texts naming each unit. */
json_t *svc_signing_problems(struct svc *s);
/* How many times the signer was restarted since vouchd started (signer_supervise). */
unsigned long svc_signer_restarts(struct svc *s);
/*
 * Before /metrics is written: the signer's state, and (at most every 5 s)
 * the gauges read from the database: requests pending approval and webhook
 * events pending per tenant, and with syslog the audit events not yet sent
 * to the configured SIEM.  A database error is logged, the old values stay.
 */
void svc_metrics_refresh(struct svc *s, int syslog);

/*
 * Who asks: recorded as the audit actor, and what it may do.  roles are the
 * principal's roles in the tenant acted on (svc_roles.c); NULL for an
 * internal caller (vouchd itself, the scheduler, the offline CA), which is
 * not restricted.  A transport sets them from the credential it checked.
 */
struct actor {
    const char *id;        /* token id, "system", "cli", "scheduler" */
    const char *principal; /* the principal's id when a principal acts, else NULL */
    const char *const *roles;
    size_t nroles;
    /*
     * Who else could hold the token it acts with (a JSON array of principal
     * ids or actor names: the token's creators); NULL = no one (issue 23,
     * svc_persons.c).
     */
    const char *creators;
};

/* ---- roles and permissions (svc_roles.c) -------------------------------- */

/* The permissions a role grants (NULL-terminated; "X:own": X for its own objects only). */
const char *const *svc_role_permissions(const char *role);
/* Whether role grants permission: 2 wholly, 1 for its own objects only, else 0. */
int svc_role_grants(const char *role, const char *permission);
/* Whether some role grants permission. */
int svc_permission_known(const char *permission);
/* svc_role_grants over a's roles (the best of them); 2 for an internal actor. */
int svc_actor_grants(const struct actor *a, const char *permission);
/*
 * The principal whose objects alone a may reach when its roles grant
 * permission for its own objects only (a requester's "cert.read:own"); NULL
 * when they grant it wholly.
 */
const char *svc_actor_own_only(const struct actor *a, const char *permission);

/* The tenant's public URLs of CA `ca` (caller frees each with free()). */
char *svc_crl_url(struct svc *s, const char *tenant, const char *ca);
/*
 * The URL of one CRL scope: shard 0 the CA's complete CRL (svc_crl_url), k > 0
 * shard k's; delta: the delta CRLs of that scope.
 */
char *svc_crl_scope_url(struct svc *s, const char *tenant, const char *ca, int shard, int delta);
char *svc_ca_issuers_url(struct svc *s, const char *tenant, const char *ca);

/* JSON forms of records (svc_json.c; new references): what the API answers and requests keep. */
json_t *svc_cert_json(struct svc *s, const struct cert_rec *r, int der); /* der: base64 DER */
json_t *svc_ca_json(struct svc *s, const struct ca_rec *r);
json_t *svc_time_json(int64_t t); /* RFC 3339, or null for 0 */

/* PEM text (label, base64 lines) of DER bytes, without parsing them; caller frees. */
char *svc_pem(const char *label, const unsigned char *der, size_t len);
/*
 * Appends the PEM of each certificate in der (DER certificates one after
 * another, as stored for chains) to b, without parsing them.  -1 if the DER
 * does not split into whole elements.
 */
int svc_pem_append_certs(struct buf *b, const unsigned char *der, size_t len);

/* Records an event in a transaction of its own ("refused" or "error" results). */
void svc_audit_refusal(struct svc *s, const char *tenant, const struct actor *a, const char *action,
                       const char *object, const struct err *why);
/*
 * The refusal of a request that proved no identity (401; a forged ACME
 * request): audited at a bounded rate (svc_refusals.c) — per chain and
 * action, the first of each second at once, the others summed up in one
 * event ("refused": N) when the second is over.
 */
void svc_audit_unproven(struct svc *s, const char *tenant, const struct actor *a,
                        const char *action, const char *object, const struct err *why);
/* Writes the summaries whose second is over (all: every one, at exit); how many. */
int svc_refusals_tick(struct svc *s, int all);

/* ---- tenants -------------------------------------------------------- */

/* Creates a tenant with the built-in profiles (version 1 each). */
int svc_tenant_create(struct svc *s, const struct actor *a, const char *tenant, struct err *e);
/* 0 if the tenant exists; ERR_NOT_FOUND otherwise.  *active set to whether it is active. */
int svc_tenant_check(struct svc *s, const char *tenant, int *active, struct err *e);

/* ---- tenant lifecycle and limits (svc_tenant.c) ------------------------ */

/* The tenant's record (caller frees with tenant_rec_free); ERR_NOT_FOUND if none. */
int svc_tenant_get(struct svc *s, const char *tenant, struct tenant_rec **out, struct err *e);
/*
 * Every tenant, in name order (the system administrator's listing, the one
 * read across tenants): *out (caller frees each with tenant_rec_free, then
 * the array) and *n.
 */
int svc_tenant_list(struct svc *s, struct tenant_rec ***out, size_t *n, struct err *e);
/* active → suspended: no new certificates, CAs or time-stamps; ERR_CONFLICT from another state. */
int svc_tenant_suspend(struct svc *s, const struct actor *a, const char *tenant, const char *reason,
                       struct err *e);
/* suspended or deleted (not yet purged) → active. */
int svc_tenant_reactivate(struct svc *s, const struct actor *a, const char *tenant, struct err *e);
/* active or suspended → deleted: the API closes, data kept for the retention period. */
int svc_tenant_delete(struct svc *s, const struct actor *a, const char *tenant, const char *reason,
                      struct err *e);
/* Sets the quota and rate limit (0 = none, -1 = unchanged). */
int svc_tenant_set_limits(struct svc *s, const struct actor *a, const char *tenant,
                          int certs_per_hour, int requests_per_second, struct err *e);
/* 0 if tenant t may be issued one more certificate now; ERR_LIMIT past its hourly quota. */
int svc_cert_quota(struct store_tx *tx, const struct tenant_rec *t, struct err *e);
/*
 * The gate of every request to a tenant's API (after authentication): ERR_NOT_FOUND for
 * a deleted tenant, ERR_LIMIT past its rate.  *refused: when > 0, the refusals to
 * audit now in one event (at most one such event a second per tenant).
 */
int svc_tenant_admit(struct svc *s, const char *tenant, long *refused, struct err *e);
/*
 * 0 if tenant may create or sign: ERR_FORBIDDEN "tenant ... is not active"
 * when it is suspended (read now, not from the admission cache).  What a
 * suspended tenant may still do (read, export, revoke) does not ask.
 */
int svc_tenant_creates(struct svc *s, const char *tenant, struct err *e);
/*
 * Called every second or so: every NODE_BEAT_SECONDS this node renews its
 * lease "node/<name>" (of _system) and counts the nodes holding one.  A
 * tenant's API rate is shared by that many nodes: each admits its share.
 * The count (at least 1), or -1 with e set when the database could not be
 * reached (the last count stays).  Hourly (and at the first beat) it also
 * removes the tenants' idempotency keys older than IDEMPOTENCY_KEEP_SECS.
 */
int svc_node_tick(struct svc *s, struct err *e);
/*
 * Purges every deleted tenant whose retention has passed: audit chain
 * checkpointed and exported, keys deleted, rows deleted.  The number purged,
 * or -1 if the tenants could not be listed.
 */
int svc_tenant_purge_tick(struct svc *s, struct err *e);

/* ---- approval workflows and requests (svc_ra.c) -------------------------- */

/*
 * Sets workflow `name` ("profile:<profile>", "cert.revoke", "cert.suspend",
 * "ca.create"): `required` approvals, from `approvers` (a JSON array of
 * principal ids; NULL: any principal allowed to approve), pending requests
 * expiring after expires_hours.  Audited as workflow.put.
 */
int svc_workflow_put(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                     int required, const json_t *approvers, int expires_hours, struct err *e);
int svc_workflow_delete(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                        struct err *e);
/* 0 and *out (caller frees) if tenant has workflow `name`, 1 if not, -1 on error. */
int svc_workflow_find(struct svc *s, const char *tenant, const char *name,
                      struct workflow_rec **out, struct err *e);
/* Tenant's workflows: *out (caller frees with workflow_rec_list_free) and *n. */
int svc_workflow_list(struct svc *s, const char *tenant, struct workflow_rec ***out, size_t *n,
                      struct err *e);
/*
 * Request id of tenant as a may read it (*out, caller frees): ERR_NOT_FOUND if
 * there is none, or if a holds request.read for its own requests only and
 * another principal submitted it.
 */
int svc_request_get(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                    struct request_rec **out, struct err *e);
/*
 * Tenant's requests, newest first, with status and requester when not NULL;
 * when a holds request.read for its own requests only, those a submitted
 * whatever requester says.  *out (caller frees with request_rec_list_free), *n.
 */
int svc_request_list(struct svc *s, const struct actor *a, const char *tenant, const char *status,
                     const char *requester, int limit, int offset, struct request_rec ***out,
                     size_t *n, struct err *e);
/*
 * Adds a's approval to pending request id: ERR_FORBIDDEN for its requester or
 * someone not among its approvers, ERR_CONFLICT for a second approval by a,
 * or a request that is not pending (expired ones are marked so).  The
 * approval that reaches the number required carries the stored operation out
 * on behalf of the requester (with the roles it had when it submitted):
 * the operation's writes, the approval and the request's "done" commit in one
 * transaction; an operation that fails makes the request "failed" with the
 * error (but one that could not reach the database or the signer leaves it
 * pending, the approval unrecorded, and fails with ERR_UNAVAILABLE).  *out:
 * the request as it is now (caller frees).
 */
int svc_request_approve(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                        struct request_rec **out, struct err *e);
int svc_request_reject(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                       const char *reason, struct request_rec **out, struct err *e);
/* Marks every tenant's pending requests past their expiry expired; how many, or -1. */
int svc_request_expire_tick(struct svc *s, struct err *e);
/*
 * The JSON form of a request: its fields, "params" the operation it holds
 * ({"op": svc_op_json, "roles": [...]}, or a request stored before schema 14
 * as it was), "result" what it made ({"certificate": {...}} or {"ca": {...}},
 * svc_cert_json / svc_ca_json) or the error it failed with ({"error": {"kind",
 * "code", "detail"}}).  A new reference.
 */
json_t *svc_request_json(const struct request_rec *r);

/* ---- webhooks (svc_webhook.c) --------------------------------------------- */

/* Sets tenant's webhook URL with a new secret (*secret, caller frees: shown once). */
int svc_webhook_put(struct svc *s, const struct actor *a, const char *tenant, const char *url,
                    char **secret, struct err *e);
int svc_webhook_delete(struct svc *s, const struct actor *a, const char *tenant, struct err *e);
/* Tenant's webhook (*out, caller frees with webhook_rec_free); ERR_NOT_FOUND "no webhook". */
int svc_webhook_get(struct svc *s, const char *tenant, struct webhook_rec **out, struct err *e);
/* Queues event (with data) for tenant's webhook in tx, if it has one. */
int svc_webhook_enqueue(struct svc *s, struct store_tx *tx, const char *tenant, const char *event,
                        json_t *data, struct err *e);
/* The delivery step: POSTs the due events of every tenant; how many were delivered, or -1. */
int svc_webhook_tick(struct svc *s, struct err *e);

/* ---- keys (operators, key ceremonies) --------------------------------- */

struct svc_key_info {
    char *key_id;
    char *key_type; /* key_type_name(), or "unknown" */
    char *ca;       /* the CA using the key, NULL if none */
    char *users;    /* JSON array: "ca:NAME", "ocsp-responder:CA", "tsa:UNIT", "webhook", ... */
    char *purpose;  /* key_purpose_name(): what the signer lets the key sign ("none": not bound) */
};
/* The tenant's keys in the signer's store: *out (svc_key_list_free) and *n. */
int svc_key_list(struct svc *s, const char *tenant, struct svc_key_info **out, int *n,
                 struct err *e);
void svc_key_list_free(struct svc_key_info *keys, int n);
/*
 * Generates a key of key_type (default ec-p256) in the signer's store (in the
 * token with keystore_type pkcs11); audited as key.generate.  *out's strings
 * and *pub_pem (the public key) are the caller's to free.
 */
int svc_key_generate(struct svc *s, const struct actor *a, const char *tenant, const char *key_type,
                     struct svc_key_info *out, char **pub_pem, struct err *e);
/* Deletes a key nothing uses (ERR_CONFLICT naming its users); audited as key.delete. */
int svc_key_delete(struct svc *s, const struct actor *a, const char *tenant, const char *key_id,
                   struct err *e);
/*
 * 0 if nothing of tenant uses key_id: no CA, OCSP responder, TSA unit, ACME
 * EAB credential, webhook secret or audit checkpoint; else ERR_CONFLICT naming
 * each user.
 */
int svc_key_in_use(struct svc *s, const char *tenant, const char *key_id, struct err *e);
/*
 * Binds each key of tenant that something uses to the purpose its users give it (keys.h,
 * enum key_purpose): keys from before the signer kept purposes.  A key already bound keeps its
 * purpose; one whose users disagree stays unbound (logged).  The count bound, or -1 with e set.
 */
int svc_keys_bind(struct svc *s, const char *tenant, struct err *e);
/* svc_keys_bind for every tenant not purged (at start); the count bound, or -1 with e set. */
int svc_keys_bind_all(struct svc *s, struct err *e);

/* ---- CAs ------------------------------------------------------------ */

/* Activates a pending CA with the certificate an outside CA signed (DER). */
int svc_ca_import_cert(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                       const unsigned char *cert, size_t cert_len, STACK_OF(X509) * chain,
                       struct ca_rec **out, struct err *e);
/* Imports an existing CA: format and blob as signer_import; cert/chain for PEM keys. */
int svc_ca_import(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                  enum signer_import_format format, const unsigned char *blob, size_t len,
                  const char *password, X509 *cert, STACK_OF(X509) * chain, struct ca_rec **out,
                  struct err *e);
int svc_ca_disable(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                   struct ca_rec **out, struct err *e);
/* CA `name` of tenant (*out, caller frees with ca_rec_free); ERR_NOT_FOUND if none. */
int svc_ca_get(struct svc *s, const char *tenant, const char *name, struct ca_rec **out,
               struct err *e);
/* Tenant's CAs: *out (caller frees each with ca_rec_free, then the array) and *n. */
int svc_ca_list(struct svc *s, const char *tenant, struct ca_rec ***out, size_t *n, struct err *e);

/* ---- operations: the one door (svc_op.c, svc_door.c) ------------------- */

/*
 * Every state change a caller outside svc asks for on certificates and CAs is
 * an operation: a value of struct svc_op submitted to svc_submit, whoever the
 * caller is (the REST API, an enrollment protocol, the console, vouchd init,
 * the offline CA's tool).  svc_submit applies the tenant's approval
 * workflows, quotas, idempotency keys, the audit event (also of a refusal)
 * and the webhooks.  An operation under a workflow is stored as a pending
 * request holding the operation itself (svc_op_json); the approval that
 * completes it carries it out inside svc, on behalf of its requester, in the
 * transaction that closes the request (svc_request_approve).
 */
enum svc_op_kind {
    SVC_OP_NONE = 0,
    SVC_OP_CERT_ISSUE,     /* "cert.issue": a certificate from a CSR */
    SVC_OP_CERT_KEYGEN,    /* "cert.keygen": the signer makes the key; never waits for approval */
    SVC_OP_CERT_RENEW,     /* "cert.renew": the same CA and profile, a new or the same key */
    SVC_OP_CERT_REVOKE,    /* "cert.revoke" */
    SVC_OP_CERT_SUSPEND,   /* "cert.suspend": on hold (certificateHold) */
    SVC_OP_CERT_REINSTATE, /* "cert.reinstate": off hold */
    SVC_OP_CA_CREATE,      /* "ca.create" */
    SVC_OP_ROLE_BIND,      /* "role.bind": a role bound to a principal (unbinding is not gated) */
};

#define CRL_SHARDS_MAX 256

struct ca_create {
    const char *name;
    const char *subject;       /* "/O=Org/CN=Name" */
    const char *key_type;      /* key_type_name(); default "ec-p256" */
    const char *parent;        /* NULL for a self-signed root (or an external CA) */
    const char *profile;       /* default "root-ca" for roots, "sub-ca" otherwise */
    int external;              /* 1: make a key and CSR; the certificate comes later */
    const char *key_id;        /* an existing key of the tenant (key ceremony), NULL: a new one */
    long validity_days;        /* 0 = the profile's default */
    int path_len;              /* -1 = the profile's */
    long crl_validity_hours;   /* 0 = config default */
    long crl_interval_minutes; /* 0 = config default */
    const char *ocsp_signer;   /* "delegated" or "ca"; NULL = config default */
    long ocsp_validity_hours;  /* 0 = config default */
    int crl_shards;            /* 0 or 1 = one CRL; n > 1: n shards, fixed for the CA's life */
    long delta_crl_interval_minutes; /* 0 = no delta CRLs */
    long delta_crl_validity_hours;   /* 0 = default (24) */
};

/*
 * An operation.  Its strings are borrowed (from the JSON it was parsed from,
 * or the caller's); which fields count depends on kind.
 */
struct svc_op {
    enum svc_op_kind kind;
    const char *ca;       /* issue, keygen: the issuing CA */
    const char *profile;  /* issue, keygen */
    const char *entity;   /* issue, keygen: an end entity of the tenant, or NULL */
    long validity_days;   /* issue, keygen: 0 = the profile's default */
    const char *csr;      /* issue; renew (NULL: the same key again): PEM, or DER */
    size_t csr_len;       /* 0: strlen(csr) */
    const char *subject;  /* keygen: "/CN=..." */
    const json_t *sans;   /* keygen: array of strings, or NULL */
    const char *key_type; /* keygen: NULL = ec-p256 */
    const char *password; /* keygen: the PKCS#12's (never stored, not part of svc_op_hash) */
    int pkcs8; /* keygen: names from csr, the key handed out as PKCS#8 (EST serverkeygen) */
    const char *serial;           /* renew, revoke, suspend, reinstate */
    int reason;                   /* revoke: RFC 5280 CRLReason (not certificateHold) */
    int64_t invalidity_date;      /* revoke: 0 = none */
    struct ca_create ca_req;      /* ca.create */
    const char *principal;        /* role.bind: the principal, of principal_tenant */
    const char *principal_tenant; /* role.bind: the tenant (default) or "_system" */
    const char *role;             /* role.bind */
};

/* "cert.issue", ... for a kind; NULL for SVC_OP_NONE.  The kind of a name, SVC_OP_NONE if none. */
const char *svc_op_name(enum svc_op_kind kind);
enum svc_op_kind svc_op_kind_of(const char *name);
/*
 * Reads an operation of `kind` from o, the JSON object the REST API takes as
 * its body (and svc_op_json writes): field names and value forms as in
 * docs/api.md.  op's strings point into o, which must outlive op.  Fields the
 * operation does not know are ignored; the serial of renew/revoke/suspend/
 * reinstate may be absent (the REST API takes it from the path).  -1 with e
 * naming the field.
 */
int svc_op_parse(enum svc_op_kind kind, const json_t *o, struct svc_op *op, struct err *e);
/* The JSON form of op (as svc_op_parse reads it; without the password); a new reference. */
json_t *svc_op_json(const struct svc_op *op);
/* Hex SHA-256 of the kind and svc_op_json: what an idempotency key is bound to (caller frees). */
char *svc_op_hash(const struct svc_op *op);

#define ERR_IDEMPOTENCY       "idempotency_key_in_use"
#define IDEMPOTENCY_KEEP_SECS 86400 /* a key names its operation for a day */

/* What svc_submit did. Owned by the caller: svc_outcome_clear. */
struct svc_outcome {
    int pending;                 /* 1: waiting for approval; request is the pending request */
    int replayed;                /* 1: the idempotency key named an earlier submission */
    struct request_rec *request; /* when pending */
    struct cert_rec *cert;       /* done: the certificate issued or changed */
    struct ca_rec *ca;           /* done: the CA created */
    struct binding_rec *binding; /* done: the role bound */
    unsigned char *pkcs12;       /* done, keygen: key, certificate and chain under the password */
    size_t pkcs12_len;
    unsigned char *pkcs8; /* done, keygen with pkcs8: the key (unencrypted: wiped on clear) */
    size_t pkcs8_len;
};
void svc_outcome_clear(struct svc_outcome *o);

/*
 * The one door: submits op for tenant on behalf of a.  With an idempotency
 * key (1 to 64 of [A-Za-z0-9._:-]) the outcome is filed under the key in the
 * transaction of the operation's own writes (or of its pending request): the
 * same operation again by the same principal within IDEMPOTENCY_KEEP_SECS
 * gets that outcome again (replayed), another operation under the key is
 * ERR_CONFLICT with code ERR_IDEMPOTENCY.  0 with *out done or pending; -1
 * with e (the refusal is audited here).
 */
int svc_submit(struct svc *s, const struct actor *a, const char *tenant, const struct svc_op *op,
               const char *idempotency_key, struct svc_outcome *out, struct err *e);

/* ---- certificates --------------------------------------------------- */

/*
 * Certificate serial of tenant as a may see it (caller frees): ERR_NOT_FOUND
 * when there is none, or it is another principal's and a reads only its own
 * (a requester's "cert.read:own").
 */
int svc_cert_get(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                 struct cert_rec **out, struct err *e);
/*
 * Tenant's certificates matching q, as a may see them (q's requester is a's
 * principal when a reads only its own).  *out (cert_rec_list_free) and *n.
 */
int svc_cert_search(struct svc *s, const struct actor *a, const char *tenant,
                    const struct cert_query *q, struct cert_rec ***out, size_t *n, struct err *e);
/* ---- reports (svc_report.c) ---- */
struct svc_report_params {
    int64_t from, to; /* [from, to); 0: the last 30 days up to now */
    const char *ca;   /* NULL: every CA */
    int days;         /* expiring: within this many days */
};
/* Whether name is a report: certificates, daily, expiring, revocations, freshness, approvals. */
int svc_report_known(const char *name);
/*
 * Report name of tenant as JSON (*out): {"report", "tenant", "from", "to", "ca", "columns":
 * [names], "rows": [objects with those members]}, computed by the database.
 */
int svc_report(struct svc *s, const struct actor *a, const char *tenant, const char *name,
               const struct svc_report_params *p, json_t **out, struct err *e);

/* How many q finds in all pages, as a may see them (for a list's total): *total. */
int svc_cert_total(struct svc *s, const struct actor *a, const char *tenant,
                   const struct cert_query *q, int64_t *total, struct err *e);

/*
 * Every tenant's certificates whose notAfter passed since the last call (the
 * first call only starts counting): each a "cert.expired" audit event and a
 * "certificate.expired" webhook event.  The number, or -1.
 */
int svc_cert_expiry_tick(struct svc *s, struct err *e);
/*
 * The expiry notice scheduler (svc_notice.c): for every active tenant whose
 * notices are on, decides the notices due (certificates and CAs that crossed
 * a threshold), each with its audit event and webhook event in the
 * transaction that records it, then mails the pending ones.  The number of
 * notices decided, or -1 with e set.
 */
int svc_notice_tick(struct svc *s, struct err *e);
/*
 * A tenant's expiry notice settings as {"enabled", "thresholds" (days, the
 * farthest first), "recipients", "updated"}: the defaults (on; 30, 14, 7, 1;
 * none) when it has set none.  *out: the caller's reference.
 */
int svc_notice_settings_get(struct svc *s, const char *tenant, json_t **out, struct err *e);
/*
 * A page of the tenant's notices, newest first, of one state ("pending",
 * "sent", "failed", "unaddressed"; NULL: all); the caller frees them
 * (notice_rec_list_free).  ERR_INVALID for another state.
 */
int svc_notice_list(struct svc *s, const char *tenant, const char *state, int limit, int offset,
                    struct notice_rec ***out, size_t *n, struct err *e);
/*
 * Replaces a tenant's notice settings with body's {"enabled" (true),
 * "thresholds" (1..8 distinct days, 1..3650: the defaults), "recipients" (at
 * most 16 addresses: none)}, audited as notice.settings; *out as
 * svc_notice_settings_get.  ERR_INVALID naming the member at fault.
 */
int svc_notice_settings_put(struct svc *s, const struct actor *a, const char *tenant,
                            const json_t *body, json_t **out, struct err *e);
/* PEM of the issuing CA certificate followed by the CAs above it (caller frees). */
char *svc_chain_pem(struct svc *s, const char *tenant, const char *ca, struct err *e);

/* ---- CRLs ----------------------------------------------------------- */

/*
 * Makes and stores new complete CRLs of every scope of the CA now (the whole
 * CA and, if sharded, each shard), each followed by a delta on it when the CA
 * publishes deltas.  *out is the whole CA's complete CRL.
 */
int svc_crl_generate(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                     struct crl_rec **out, struct err *e);
/*
 * Makes and stores a new delta CRL of every scope of the CA on that scope's
 * latest complete CRL (ERR_CONFLICT if the CA publishes no deltas).  *out is the whole
 * CA's delta.
 */
int svc_crl_generate_delta(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                           struct crl_rec **out, struct err *e);
/*
 * The scheduler's step: for every tenant's active CA whose latest CRL is
 * older than its interval (or missing, or past half its validity), makes a
 * new one.  Returns the number made, -1 on error.
 */
int svc_crl_tick(struct svc *s, struct err *e);
/*
 * The latest complete (delta 0) or delta CRL of scope (ca, shard) of tenant
 * (*out, caller frees with crl_rec_free).  ERR_NOT_FOUND "CA <ca> not found"
 * for a CA that does not exist (or a name that cannot be one), "CA <ca> has no
 * such CRL" when it has none of that scope (or shard is out of range).
 */
int svc_crl_latest(struct svc *s, const char *tenant, const char *ca, int shard, int delta,
                   struct crl_rec **out, struct err *e);

/* ---- OCSP (svc_ocsp.c) --------------------------------------------- */

/* An answer to an OCSP request: always an OCSPResponse, maybe an error one. */
struct ocsp_answer {
    unsigned char *der; /* owned: free() */
    size_t len;
    int cacheable;                    /* a successful response without nonce */
    int status;                       /* its OCSPResponseStatus (0: successful) */
    int64_t this_update, next_update; /* of a cacheable response */
};
/*
 * Answers an OCSP request (DER) sent to tenant's responder, or to CA `ca`'s
 * (NULL: any CA of the tenant).  A pre-signed response is served when the
 * request allows it (one SHA-1 CertID, no nonce); anything else is signed now.
 * Errors become OCSP error statuses (malformedRequest, unauthorized,
 * tryLater, internalError); nothing here fails.
 */
void svc_ocsp_answer(struct svc *s, const char *tenant, const char *ca, const unsigned char *req,
                     size_t len, struct ocsp_answer *out);
void svc_ocsp_answer_clear(struct ocsp_answer *a);
/*
 * The pre-signer's step: reloads every tenant's responders (creating or
 * renewing delegated responder certificates that need it) and signs up to
 * `budget` due responses.  Returns the number signed, -1 on error.
 */
int svc_ocsp_tick(struct svc *s, int budget, struct err *e);
/*
 * Replaces the pre-signed response of one certificate now (after a status
 * change); failures are logged, and the responder signs on demand meanwhile.
 */
void svc_ocsp_refresh(struct svc *s, const char *tenant, const char *serial);

/* ---- principals, roles, tokens (svc_principal.c) --------------------- */

/* The roles of a tenant ("_system": only "system-admin"); NULL-terminated. */
const char *const *svc_roles(const char *tenant);
/* Whether `role` can be bound in `tenant`. */
int svc_role_valid(const char *tenant, const char *role);

/*
 * Creates a principal: kind "user" or "application", allow a JSON array of
 * CIDRs (NULL or empty: any address; only applications may have one),
 * client_cert (NULL: none) {"issuer", "subject"} or {"sha256"}: the TLS
 * client certificate that authenticates it.
 * Audited as principal.create; *out set.
 */
int svc_principal_create(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                         const char *kind, json_t *allow, json_t *client_cert,
                         struct principal_rec **out, struct err *e);
/*
 * Tenant's principals (*out, caller frees with principal_rec_list_free; *n)
 * and, read in the same transaction, every role binding of tenant (*bindings,
 * caller frees with binding_rec_list_free; *nb), ordered by principal_tenant,
 * principal and role.
 */
int svc_principal_list(struct svc *s, const char *tenant, struct principal_rec ***out, size_t *n,
                       struct binding_rec ***bindings, size_t *nb, struct err *e);
/*
 * Principal id of tenant (*out, caller frees) and its roles in tenant
 * (*bindings, caller frees with binding_rec_list_free; *nb), ordered by role.
 * ERR_NOT_FOUND "principal <id> not found".
 */
int svc_principal_get(struct svc *s, const char *tenant, const char *id, struct principal_rec **out,
                      struct binding_rec ***bindings, size_t *nb, struct err *e);
/*
 * Tenant's role bindings, of its principals and of _system ones (*out, caller
 * frees with binding_rec_list_free; *n).
 */
int svc_binding_list(struct svc *s, const char *tenant, struct binding_rec ***out, size_t *n,
                     struct err *e);
/*
 * Adds a client CA of tenant: its CA `ca` (active), or the uploaded CA
 * certificate der (one of the two).  Audited as client_ca.add.
 */
int svc_client_ca_add(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                      const char *ca, const unsigned char *der, size_t len,
                      struct client_ca_rec **out, struct err *e);
/* Removes a client CA (audited as client_ca.delete); ERR_NOT_FOUND if there is none. */
int svc_client_ca_delete(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                         struct err *e);
/* Tenant's client CAs (*out, caller frees with client_ca_rec_list_free; *n). */
int svc_client_ca_list(struct svc *s, const char *tenant, struct client_ca_rec ***out, size_t *n,
                       struct err *e);
/* Whether addr (text) is in the JSON array of CIDRs allow ("[]": any address). */
int svc_addr_allowed(const char *allow, const char *addr);
/* Disables (disabled 1) or enables a principal: its tokens stop (or start) working at once. */
int svc_principal_set_disabled(struct svc *s, const struct actor *a, const char *tenant,
                               const char *id, int disabled, struct err *e);
/*
 * Binds (bind 1) or unbinds a role of tenant to the principal
 * (principal_tenant, principal) — a principal of tenant itself or of
 * "_system".  ERR_NOT_FOUND if the principal does not exist, ERR_POLICY for an unknown role.
 */
int svc_role_bind(struct svc *s, const struct actor *a, const char *tenant,
                  const char *principal_tenant, const char *principal, const char *role, int bind,
                  struct err *e);
/*
 * Makes the principal `name` of tenant if it does not exist and binds it
 * every role of the tenant: the tenant's first administrator (vouchd init,
 * POST /tenants/{tenant}/tokens).  *id is its id (caller frees).
 */
int svc_principal_bootstrap(struct svc *s, const struct actor *a, const char *tenant,
                            const char *name, char **id, struct err *e);

/*
 * Creates a token of principal (of tenant): *secret is the token to show once
 * (caller frees), "vt_<16 hex>_<43 base64url>"; the store keeps its public
 * part and an argon2id hash of the rest.  ERR_NOT_FOUND for an unknown principal, ERR_CONFLICT
 * for a disabled one.
 */
int svc_token_create(struct svc *s, const struct actor *a, const char *tenant,
                     const char *principal, const char *name, long expires_days,
                     struct token_rec **out, char **secret, struct err *e);
/*
 * Rotates the token a acts with (a bearer token of a's principal in tenant):
 * revokes it and makes a new one in one transaction, audited as token.rotate.
 * A token made by one principal for another counts for both (its creators);
 * the rotated one counts for its principal alone, the token it replaces being
 * gone.  ERR_CONFLICT if that token was rotated or revoked meanwhile.
 */
int svc_token_rotate(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                     long expires_days, struct token_rec **out, char **secret, struct err *e);
/* Revokes a token (audited as token.revoke); ERR_NOT_FOUND if unknown or revoked already. */
int svc_token_revoke(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                     struct err *e);
/* Tenant's tokens, revoked ones too (*out, caller frees each with token_rec_free, then *out). */
int svc_token_list(struct svc *s, const char *tenant, struct token_rec ***out, size_t *n,
                   struct err *e);
/*
 * 0 if tenant is locked out: none of its tokens is live (unrevoked and
 * unexpired).  ERR_CONFLICT otherwise: the system administrator makes a
 * tenant's first token, or one for a tenant locked out, never a second way in
 * while its own people hold tokens.
 */
int svc_token_none_live(struct svc *s, const char *tenant, struct err *e);
/* Hex SHA-256 of a token (caller frees). */
char *svc_token_hash(const char *token);
/*
 * Splits a vt_ token into its lookup key ("vt_<16 hex>", into key[20]) and
 * its secret part (returned, pointing into token); NULL if it is not one.
 */
const char *svc_token_split(const char *token, char key[20]);
/* argon2id of a secret as an encoded string (caller frees); NULL on failure. */
char *svc_token_secret_hash(const char *secret);
/* 1 if secret matches the encoded argon2id hash, else 0. */
int svc_token_secret_verify(const char *encoded, const char *secret);

/* ---- authentication (svc_auth.c) -------------------------------------- */

/*
 * Who a credential proved to be: a principal, and its roles in the tenant a
 * request is about (the target).  The caller's, zeroed before the call;
 * svc_identity_clear frees what it holds.  Filled as far as the check got:
 * when a credential named its principal but is refused (a revoked or expired
 * token, a disabled principal, an address outside its allowlist), tenant,
 * principal and credential are set to name the actor of the refusal, and
 * roles is NULL.
 */
struct svc_identity {
    char *tenant;     /* the principal's own tenant */
    char *principal;  /* its id */
    char *credential; /* what it used: the token's id, or "cert:<16 hex of its SHA-256>" */
    char **roles;     /* the roles bound to it in the target (none without one) */
    size_t nroles;
    char *creators; /* who else could hold the credential (actor.creators); NULL = no one */
};
void svc_identity_clear(struct svc_identity *id);
/*
 * Authenticates a bearer token ("vt_<16 hex>_<secret>", or a token made
 * before schema 7, found by its SHA-256) presented from address addr, for
 * target (NULL: no tenant, no roles).  The token, its principal and the
 * principal's roles in target are read in one read transaction on every call,
 * so a revoked or expired token, a disabled principal or an unbound role is
 * refused at once; only the argon2id check of the secret is cached
 * (node-locally, for a minute).  0 with id filled; -1 with e:
 * ERR_UNAUTHENTICATED for an unknown, wrong, revoked or expired token (and a
 * token id that failed too often lately), ERR_FORBIDDEN for a disabled
 * principal or an address outside its allowlist.
 */
int svc_authenticate_token(struct svc *s, const char *token, const char *addr, const char *target,
                           struct svc_identity *id, struct err *e);
/*
 * Authenticates a TLS client certificate (DER) presented from addr, for
 * target, in one read transaction: it must chain to one of target's client
 * CAs, be within its validity and allow client authentication, and, when the
 * client CA is one of target's own CAs, not be revoked or on hold; it names
 * its principal of target by SHA-256 fingerprint, else by issuer and subject.
 * 0 with id filled; -1 with e: ERR_UNAUTHENTICATED for a certificate that
 * does not hold or maps to nobody, ERR_FORBIDDEN without a target, for a
 * disabled principal or an address outside its allowlist.
 */
int svc_authenticate_cert(struct svc *s, const unsigned char *der, size_t len, const char *addr,
                          const char *target, struct svc_identity *id, struct err *e);
/*
 * The subject of a client CA's certificate as principals' client_cert
 * mappings name an issuer (RFC 2253 one-line; "" if it does not parse);
 * caller frees.
 */
char *svc_client_ca_subject(const struct client_ca_rec *r);

/* ---- profiles and end entities (svc_misc.c) ------------------------- */

/*
 * Stores a profile document (validated by profile_parse first).  create: the
 * name must be new (version 1, ERR_CONFLICT otherwise); else the name must exist and a
 * new version is added.  *version gets the stored version.
 */
int svc_profile_put(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                    const char *json, int create, int *version, struct err *e);
/* Copies the latest version of `from` as version 1 of `to`. */
int svc_profile_clone(struct svc *s, const struct actor *a, const char *tenant, const char *from,
                      const char *to, struct err *e);
/* Creates (r->id NULL: a new id is drawn) or updates an end entity; *out set. */
int svc_entity_put(struct svc *s, const struct actor *a, const char *tenant,
                   const struct entity_rec *r, int create, struct entity_rec **out, struct err *e);
/* Tenant's profiles, the latest version of each (*out, caller frees each with profile_rec_free). */
int svc_profile_list(struct svc *s, const char *tenant, struct profile_rec ***out, size_t *n,
                     struct err *e);
/*
 * Version `version` of tenant's profile `name` (0: the latest; *out, caller
 * frees).  ERR_NOT_FOUND "profile <name> not found" ("... version not found"
 * for a version asked for).
 */
int svc_profile_get(struct svc *s, const char *tenant, const char *name, int version,
                    struct profile_rec **out, struct err *e);
/* Tenant's end entities matching q (*out, caller frees each with entity_rec_free). */
int svc_entity_search(struct svc *s, const char *tenant, const struct entity_query *q,
                      struct entity_rec ***out, size_t *n, struct err *e);
/*
 * End entity id of tenant (*out, caller frees) and the serials of the
 * certificates issued for it, at most 1000, by expiry (*serials, caller frees
 * each and the array; *nserials).  ERR_NOT_FOUND "entity <id> not found".
 */
int svc_entity_get(struct svc *s, const char *tenant, const char *id, struct entity_rec **out,
                   char ***serials, size_t *nserials, struct err *e);

/* ---- time-stamping (svc_tsa.c) ------------------------------------- */

struct tsa_create {
    const char *name;
    const char *ca;       /* the tenant's CA that issues the unit's certificate */
    const char *subject;  /* default "/CN=<name>" */
    const char *key_type; /* default "ec-p256" */
    const char *profile;  /* default "time-stamping" */
    long validity_days;   /* 0 = the profile's default */
    const char *policy;   /* default policy OID (required) */
    const char *policies; /* JSON array of further accepted OIDs; NULL = none */
    const char *hashes;   /* JSON array of hash names; NULL = sha256, sha384, sha512 */
    long accuracy_ms;     /* -1 = default (1000); 0 = no accuracy in tokens */
    int include_chain;    /* tokens with certReq carry the CA chain too */
};
/*
 * Creates a TSA unit: a key in the signer, a certificate for it issued by
 * the CA under the profile (critical EKU id-kp-timeStamping), the unit
 * record and its audit event.  *out set (caller frees).
 */
int svc_tsa_create(struct svc *s, const struct actor *a, const char *tenant,
                   const struct tsa_create *c, struct tsa_unit_rec **out, struct err *e);
/* A change of a unit: NULL / -1 leave a setting as it is. */
struct tsa_update {
    const char *status;   /* "active" or "disabled" (no tokens; its tokens stay searchable) */
    const char *policy;   /* the default policy OID */
    const char *policies; /* JSON array of the further accepted OIDs */
    const char *hashes;   /* JSON array of hash names */
    long accuracy_ms;
    int include_chain;
};
/* Changes unit `name` (audited as tsa.update with what changed); *out the unit (caller frees). */
int svc_tsa_update(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                   const struct tsa_update *u, struct tsa_unit_rec **out, struct err *e);
/* The unit's public URL (caller frees). */
char *svc_tsa_url(struct svc *s, const char *tenant, const char *unit);
/* Tenant's TSA units (*out, caller frees with tsa_unit_rec_list_free; *n). */
int svc_tsa_unit_list(struct svc *s, const char *tenant, struct tsa_unit_rec ***out, size_t *n,
                      struct err *e);
/* Unit `name` of tenant (*out, caller frees); ERR_NOT_FOUND "TSA unit <name> not found". */
int svc_tsa_unit_get(struct svc *s, const char *tenant, const char *name, struct tsa_unit_rec **out,
                     struct err *e);
/*
 * The tokens of tenant's unit matching q, newest first (*out, caller frees
 * with tsa_token_rec_list_free; *n); ERR_NOT_FOUND "TSA unit <unit> not
 * found" if there is no such unit.
 */
int svc_tsa_token_search(struct svc *s, const char *tenant, const char *unit,
                         const struct tsa_token_query *q, struct tsa_token_rec ***out, size_t *n,
                         struct err *e);
/*
 * Token `serial` of tenant's unit (*out, caller frees); ERR_NOT_FOUND "token
 * <serial> of TSA unit <unit> not found".
 */
int svc_tsa_token_get(struct svc *s, const char *tenant, const char *unit, const char *serial,
                      struct tsa_token_rec **out, struct err *e);
/*
 * Answers a DER TimeStampReq for (tenant, unit) from requester (its address).
 * Returns 0 with *resp (a DER TimeStampResp, caller frees with free) — a
 * token, recorded and committed before this returns, or a rejection with
 * its PKIFailureInfo.  -1 with e only when there is no such tenant or unit
 * (ERR_NOT_FOUND) or no response can be encoded at all (ERR_INTERNAL).
 */
int svc_tsa_respond(struct svc *s, const char *tenant, const char *unit, const unsigned char *req,
                    size_t req_len, const char *requester, unsigned char **resp, size_t *resp_len,
                    struct err *e);

/* ---- audit checkpoints and verification (svc_audit.c) ------------------ */

/*
 * tenant's audit key record (caller frees with audit_key_rec_free); with
 * create, made in the signer (ec-p256) and recorded, audited as
 * audit.key.create in the _system chain, when the tenant has none; else ERR_NOT_FOUND
 * if none.
 */
int svc_audit_key(struct svc *s, const char *tenant, int create, struct audit_key_rec **out,
                  struct err *e);
/*
 * Signs tenant's chain head as a checkpoint unless the last checkpoint is
 * already at the head; *seq gets the head's seq.  ERR_NOT_FOUND if the chain is empty.
 */
int svc_audit_checkpoint(struct svc *s, const char *tenant, int64_t *seq, struct err *e);
/* svc_audit_checkpoint for every tenant whose head moved; -1 (e: the first error) if one failed. */
int svc_audit_checkpoint_tick(struct svc *s, struct err *e);

struct svc_audit_verdict {
    int ok;
    int64_t count;           /* rows verified in order from seq 1 */
    int64_t checkpoints;     /* checkpoints checked */
    int64_t last_checkpoint; /* seq of the last one, 0 if none */
    int64_t bad_seq;         /* when !ok: the first seq that does not verify */
    char reason[256];
};
/*
 * Verifies tenant's chain and every checkpoint: its signature (with the audit
 * key, which must be the signer's), its fields, and that the chain still
 * reaches its seq with its hash.  0 with *v filled (v->ok 0 when anything is
 * wrong, bad_seq the earliest seq); -1 on a storage error.
 */
int svc_audit_verify(struct svc *s, const char *tenant, struct svc_audit_verdict *v, struct err *e);
/* Tenant's events with seq > after in seq order, at most limit (*out, caller frees). */
int svc_audit_list(struct svc *s, const char *tenant, int64_t after, int limit,
                   struct audit_rec ***out, size_t *n, struct err *e);
/* Tenant's checkpoints with seq > after in seq order, at most limit (*out, caller frees). */
int svc_audit_checkpoint_list(struct svc *s, const char *tenant, int64_t after, int limit,
                              struct audit_checkpoint_rec ***out, size_t *n, struct err *e);

/* ---- a tenant's own SIEM (svc_audit.c) --------------------------------- */

/* Tenant's forwarding target (*out, caller frees); ERR_NOT_FOUND if it has none. */
int svc_audit_target_get(struct svc *s, const char *tenant, struct audit_target_rec **out,
                         struct err *e);
/*
 * Sets tenant's forwarding target t (host, port, transport "tcp" or "tls"
 * (NULL: tls), ca_pem: the receiver's CA certificates in PEM, required with
 * tls, dropped with tcp): its events go there from seq 1 on (a new target
 * gets the whole chain).  ERR_INVALID naming the field that is wrong.  The row, the restart
 * of forwarding and the audit.forwarding.set event in one transaction; *out
 * the stored target (caller frees).
 */
int svc_audit_target_put(struct svc *s, const struct actor *a, const char *tenant,
                         const struct audit_target_rec *t, struct audit_target_rec **out,
                         struct err *e);
/*
 * Stops forwarding to tenant's target: the row and the
 * audit.forwarding.delete event in one transaction; ERR_NOT_FOUND if it has none.
 */
int svc_audit_target_delete(struct svc *s, const struct actor *a, const char *tenant,
                            struct err *e);

/* ---- audit export (svc_audit_export.c) ----------------------------------- */

/*
 * Appends tenant's events with seq > after (at most limit) to out as JSON
 * lines, each checkpoint after the event it signs (on the last page every
 * later checkpoint too), headed by the audit key's line with with_key.
 * *last_seq: the last event's seq (after if none).  The number of events, or -1.
 */
int svc_audit_export(struct svc *s, const char *tenant, int64_t after, int limit, int with_key,
                     struct buf *out, int64_t *last_seq, struct err *e);
/* The export's lines for an audit key (NULL: none yet) and a checkpoint (new references). */
json_t *svc_audit_key_json(const struct audit_key_rec *k);
json_t *svc_audit_checkpoint_json(const struct audit_checkpoint_rec *c);
/* ---- the offline CA (svc_offline.c, docs/offline.md) ------------------ */

/*
 * Online: the transfer request of pending CA ca (its CSR) as JSON text
 * (*out, caller frees); with root, also a new key in the signer and a CSR
 * for root's delegated OCSP responder.  Audited as offline.request.
 */
int svc_offline_request(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                        const char *root, char **out, struct err *e);
/*
 * Offline: signs a request's CSR by root under a CA profile (NULL: sub-ca; and its
 * responder CSR under ocsp-signing); *responders (caller frees) lists the
 * responders for svc_offline_export.
 */
int svc_offline_sign(struct svc *s, const struct actor *a, const char *tenant, const char *root,
                     const char *request, const char *profile, long validity_days,
                     long responder_days, json_t **responders, struct err *e);
/*
 * Offline: the next bundle of store `source` for CA ca (its certificate
 * records, latest CRL, the responders, the store's whole audit chain), signed
 * by ca's key; *out (caller frees) its JSON text.  Audited as offline.export.
 */
int svc_offline_export(struct svc *s, const struct actor *a, const char *tenant, const char *ca,
                       const char *source, const json_t *responders, char **out, struct err *e);
/*
 * Online: verifies and imports a bundle in one transaction (pin: the SHA-256
 * fingerprint of a root new to the tenant).  *result (caller frees) says what
 * was done; status "unchanged" for a bundle imported before.  Refused
 * bundles change nothing.
 */
int svc_offline_import(struct svc *s, const struct actor *a, const char *tenant, const char *text,
                       size_t len, const char *pin, json_t **result, struct err *e);
/* The profile an offline store certifies online responders under (made by `vouch offline init`). */
#define SVC_OFFLINE_RESPONDER_PROFILE "offline-ocsp-signing"
/*
 * The checks of a bundle's envelope that need no store (what the importer
 * does first; fuzz/fuzz_bundle.c): it parses, its payload is the one its
 * digest names, the digest is for tenant, the signature verifies with the
 * signer CA's certificate it carries.  0 or -1 with e set.
 */
int svc_offline_bundle_check(const char *text, size_t len, const char *tenant, struct err *e);
/* Lowercase hex SHA-256 of a certificate's DER (caller frees). */
char *svc_offline_fingerprint(const unsigned char *der, size_t len);

/* The enrollment protocols: ACME, CMP, EST, SCEP (each header includes this one). */
#include "svc/svc_acme.h"   /* IWYU pragma: export */
#include "svc/svc_enroll.h" /* IWYU pragma: export */

#endif
