/* svc_internal.h — what the svc_*.c files share; not for other modules. */
#ifndef VOUCH_SVC_INTERNAL_H
#define VOUCH_SVC_INTERNAL_H

#include <pthread.h>

#include "core/profile.h"
#include "core/tsa.h"
#include "svc/svc.h"
#include "lib/mail.h"
#include "svc/writer.h"

struct key_cache_entry {
    char *tenant;
    char *key_id;
    EVP_PKEY *key;
    struct key_cache_entry *next;
};

struct ca_cache_entry {
    char *tenant;
    char *name;
    unsigned char *der; /* the DER the parsed certificate came from */
    size_t der_len;
    X509 *cert;
    struct ca_cache_entry *next;
};

/* A stored profile's parsed form, kept while the stored text stays the same (svc_profile_load). */
struct profile_cache_entry {
    char *tenant;
    char *name;
    char *json;
    struct profile *profile;
    struct profile_cache_entry *next;
};
#define PROFILE_CACHE_MAX 1024

/* The PEM chain of an active CA (svc_chain_pem), kept CHAIN_PEM_TTL seconds. */
struct chain_pem_entry {
    char *tenant;
    char *ca;
    char *pem;
    int64_t fetched;
    struct chain_pem_entry *next;
};

/* A TSA unit as the responder uses it: record, parsed policy, signing digest. */
struct tsa_cache_entry {
    struct tsa_unit_rec *rec;
    struct tsa_policy policy;
    X509_NAME *subject;            /* the unit certificate's subject: the token's tsa name */
    int64_t not_before, not_after; /* the unit certificate's validity */
    const char *digest;            /* "sha256", "sha384", "" (Ed25519) */
    int64_t checked_at;            /* when tenant and certificate status were last read */
    int usable;                    /* tenant active and unit certificate not revoked or held */
    int stale; /* the unit's settings changed: the next request loads it again (kept until
                  svc_free, as a request may still be using it) */
    struct tsa_cache_entry *next;
};

/*
 * An ACME endpoint as its protocol front end reads it (svc_acme_endpoint_load),
 * kept ACME_ENDPOINT_TTL_MS per node.
 */
struct acme_endpoint_entry {
    struct acme_endpoint_rec *rec;
    struct svc_acme_settings st;
    int64_t fetched_ms; /* CLOCK_MONOTONIC */
    struct acme_endpoint_entry *next;
};
#define ACME_ENDPOINT_TTL_MS    1000
#define ACME_ENDPOINT_CACHE_MAX 256

/* A tenant's ACME nonce key, kept per node as a keyed HMAC context (svc_acme.c). */
struct acme_secret_entry {
    char *tenant;
    EVP_MAC_CTX *mac;
    struct acme_secret_entry *next;
};

struct svc {
    struct store *store;
    struct signer *signer;
    char *public_url;
    long crl_validity_hours;
    long crl_interval_minutes;
    long crl_expired_margin_days;
    struct writer *writer; /* group commit of issuance records */
    pthread_mutex_t lock;  /* guards keys */
    struct key_cache_entry *keys;
    struct ca_cache_entry *ca_certs;      /* parsed CA certificates, guarded by lock */
    struct chain_pem_entry *chains;       /* active CAs' PEM chains, guarded by lock */
    struct profile_cache_entry *profiles; /* parsed profiles, guarded by lock */
    int profiles_kept;
    long ocsp_validity_hours;
    int ocsp_refresh_percent;
    char *ocsp_signer; /* default responder: "delegated" or "ca" */
    long ocsp_responder_days;
    char *ocsp_responder_key_type;
    long ocsp_check_seconds;
    long ocsp_cache_seconds;
    long ocsp_outage_seconds;
    _Atomic long ocsp_live_rate; /* signatures on demand a second per node (0: no limit) */
    struct ocsp_state *ocsp;
    struct tsa_cache_entry *tsa_units; /* units answering requests, guarded by lock */
    int tsa_clock_check;               /* SVC_CLOCK_* */
    char *node;                        /* "<host>:<pid>": this node's name on leases */
    struct tenant_gates *gates;        /* tenants' status and API rate buckets (svc_tenant.c) */
    long tenant_retention_days;
    char *tenant_export_dir;
    int skip_tsa_units, skip_responders;        /* not this node's to check (svc_health.c) */
    _Atomic int webhooks_enabled;               /* svc_reload may change these two while serving */
    struct acme_secret_entry *acme_secrets;     /* guarded by lock */
    struct acme_endpoint_entry *acme_endpoints; /* guarded by lock */
    struct svc_refusals *refusals; /* unproven refusals being counted (svc_refusals.c) */
    json_t *signing_problems;      /* units that cannot sign (svc_health.c), or NULL */
    struct mail_server mail;       /* expiry notices' SMTP server; mail.url NULL: none */
};

/* Copies the SMTP settings of cfg into s->mail (svc_notice.c); frees them with NULL. */
void svc_notice_mail_set(struct svc *s, const struct svc_config *cfg);
/*
 * Notice thresholds from a JSON array of 1..NOTICE_THRESHOLDS_MAX distinct
 * numbers of days (1..3650) into days[], ascending, and their count into *n.
 */
int svc_notice_thresholds_parse(const json_t *arr, int *days, int *n, struct err *e);

struct svc_refusals *svc_refusals_new(void);
void svc_refusals_free(struct svc_refusals *r);

/* ---- the operations behind the door (svc_door.c calls them) ------------------------ */

/* What an operation wrote, as a hook sees it inside the operation's transaction. */
struct svc_made {
    const struct cert_rec *cert;       /* the certificate issued or changed */
    const struct ca_rec *ca;           /* the CA created */
    const struct binding_rec *binding; /* the role bound */
    const struct request_rec *request; /* the request made to wait for approval */
};
/*
 * Writes that commit with an operation's own, in its transaction, after its
 * record and audit event: an idempotency key filed, an approval closing its
 * request.  fn's failure rolls the operation back.
 */
struct svc_hook {
    int (*fn)(struct store_tx *tx, void *arg, const struct svc_made *made, struct err *e);
    void *arg;
};

struct issue_params {
    const char *ca;
    const char *profile;
    const char *entity_id;    /* may be NULL */
    long validity_days;       /* 0 = the profile's default */
    const char *renewed_from; /* set by renew */
    int internal;             /* vouch's own (OCSP responders): not refused for a tenant that is not
                                 active, not counted against its quota */
    int ca_profile;           /* 1: a CA profile is required (the offline root signing a sub-CA) */
    const struct svc_hook *hook; /* NULL, or run in the transaction of the record */
};

/* Issues from a CSR (PEM or DER). */
int svc_cert_issue(struct svc *s, const struct actor *a, const char *tenant,
                   const struct issue_params *p, const unsigned char *csr, size_t csr_len,
                   struct cert_rec **out, struct err *e);
/*
 * What svc_cert_issue would check before signing (tenant, quota, CA, profile,
 * entity, the CSR and the profile's rules), without signing: 0 if it would
 * issue now.  An operation is checked so before it waits for approval.  With
 * csr NULL only what comes before the CSR.
 */
int svc_cert_issue_check(struct svc *s, const char *tenant, const struct issue_params *p,
                         const unsigned char *csr, size_t csr_len, struct err *e);
/*
 * EST serverkeygen (RFC 7030 §4.4): the CSR (checked as for issuance) names
 * the subject, the SANs and the key's type; the signer makes the key, the CA
 * issues for it, and the signer hands it out once as PKCS#8 (*p8, caller
 * frees, wiping it).
 */
int svc_cert_keygen_pkcs8(struct svc *s, const struct actor *a, const char *tenant,
                          const struct issue_params *p, const unsigned char *csr, size_t csr_len,
                          struct cert_rec **out, unsigned char **p8, size_t *p8_len, struct err *e);
/*
 * Server-side key generation: the signer makes the key, the CA issues for it,
 * the signer returns a PKCS#12 under password with the key, the certificate
 * and the chain (*p12, caller frees).
 */
int svc_cert_keygen(struct svc *s, const struct actor *a, const char *tenant,
                    const struct issue_params *p, const char *subject, const json_t *sans,
                    const char *key_type, const char *password, struct cert_rec **out,
                    unsigned char **p12, size_t *p12_len, struct err *e);
/* Renews: with csr NULL the old public key is reused. Links the new record to the old. */
int svc_cert_renew(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                   const unsigned char *csr, size_t csr_len, const struct svc_hook *hook,
                   struct cert_rec **out, struct err *e);
/* reason: RFC 5280 code (not certificateHold: that is suspend). invalidity_date 0 = none. */
int svc_cert_revoke(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                    int reason, int64_t invalidity_date, const struct svc_hook *hook,
                    struct cert_rec **out, struct err *e);
int svc_cert_suspend(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                     const struct svc_hook *hook, struct cert_rec **out, struct err *e);
int svc_cert_reinstate(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                       const struct svc_hook *hook, struct cert_rec **out, struct err *e);
/* Creates a CA (a root, a sub-CA of parent, or a pending external one); *out set. */
int svc_ca_create(struct svc *s, const struct actor *a, const char *tenant,
                  const struct ca_create *req, const struct svc_hook *hook, struct ca_rec **out,
                  struct err *e);
/* What svc_ca_create checks of req's own fields (not of the tenant's state): 0 if they hold. */
int svc_ca_create_check(const struct ca_create *req, struct err *e);

/* role.bind carried out (svc_principal.c): hook runs in its transaction; *out the binding. */
int svc_role_bind_op(struct svc *s, const struct actor *a, const char *tenant,
                     const struct svc_op *op, const struct svc_hook *hook, struct binding_rec **out,
                     struct err *e);
/* What role.bind checks before it waits for approval: role, principal, not one's own. */
int svc_role_bind_check(struct svc *s, const struct actor *a, const char *tenant,
                        const struct svc_op *op, struct err *e);

/* Who a acts as on requests and idempotency keys: its principal (one person, whatever token). */
const char *svc_actor_who(const struct actor *a);

/*
 * ERR_CONFLICT "<name> needs approval: <why>" when tenant has workflow name,
 * in tx: for a way to an operation's effect that cannot wait in a request
 * (a CA imported with its key, an offline root's first bundle).  0 if none.
 */
int svc_workflow_refuses(struct store_tx *tx, const char *tenant, const char *name, const char *why,
                         struct err *e);

/* ---- the persons behind a credential (svc_persons.c) ----------------------------- */

/* The persons a stands for: svc_actor_who(a) and its credential's creators (a new array). */
json_t *svc_actor_persons(const struct actor *a);
/* What a token a makes for principal records as its creators: a's persons but the principal. */
char *svc_creators_for(const struct actor *a, const char *principal);
/*
 * The persons an approval by a counts for, in tx: svc_actor_persons(a) and
 * whoever bound one of a's roles in tenant at or after since_us (the
 * request's creation, in microseconds).  *out a new array.
 */
int svc_approver_persons(struct store_tx *tx, const char *tenant, const struct actor *a,
                         int64_t since_us, json_t **out, struct err *e);
/* A person in both arrays of strings, or NULL. */
const char *svc_persons_meet(const json_t *x, const json_t *y);
/*
 * Carries op out now on behalf of a (no workflow, no idempotency: the door's
 * and the approval's own step); hook (or NULL) runs in the transaction of
 * its writes.  *out filled.
 */
int svc_op_execute(struct svc *s, const struct actor *a, const char *tenant,
                   const struct svc_op *op, const struct svc_hook *hook, struct svc_outcome *out,
                   struct err *e);
/*
 * Stores op as a request pending under workflow wf (svc_ra.c): the operation
 * and a's roles, its audit event and webhook, and hook's writes (made.request
 * the request) in one transaction.  *out the request (caller frees).
 */
int svc_request_open(struct svc *s, const struct actor *a, const char *tenant,
                     const struct svc_op *op, const char *object, const struct workflow_rec *wf,
                     const struct svc_hook *hook, struct request_rec **out, struct err *e);
/*
 * The operation request r holds, and the roles its requester had: params
 * {"op": {...}, "roles": [...]}, or as stored before schema 14 {"path": {...},
 * "body": {...}, "roles": [...]}.  op's strings and roles[] (at most max, *n
 * set) point into *holder, which the caller releases (json_decref) after.
 */
int svc_op_from_request(const struct request_rec *r, json_t **holder, struct svc_op *op,
                        const char **roles, size_t max, size_t *n, struct err *e);

/* 1 if an ACME EAB credential of tenant derives its key with key_id, 0 if none, -1 on error. */
/* A copy of r, its strings duplicated (the caller frees it). */
struct acme_endpoint_rec *svc_acme_endpoint_copy(const struct acme_endpoint_rec *r);
/* *to: a deep copy of from (the caller clears it). */
void svc_acme_settings_copy(struct svc_acme_settings *to, const struct svc_acme_settings *from);
/* Drops this node's copy of tenant's endpoint name (it changed); frees all of them (svc_free). */
void svc_acme_endpoint_forget(struct svc *s, const char *tenant, const char *name);
void svc_acme_endpoints_free(struct svc *s);
int svc_acme_eab_key_in_use(struct svc *s, const char *tenant, const char *key_id, struct err *e);

/* Every tenant (the scheduler's listing, across tenants); caller frees each and the array. */
int svc_tenants(struct svc *s, struct tenant_rec ***out, size_t *n, struct err *e);
struct tenant_gates *svc_tenant_gates_new(void);
void svc_tenant_gates_free(struct tenant_gates *g);

/* A remote key of tenant (cached; the caller frees its reference). */
EVP_PKEY *svc_key(struct svc *s, const char *tenant, const char *key_id, struct err *e);
/* Drops key_id of tenant from the node's cache of signer keys (it is gone from the signer). */
void svc_key_forget(struct svc *s, const char *tenant, const char *key_id);

/*
 * Whether this node does the job "<kind>/<object>" of tenant now: it takes
 * the job's lease in the database for `seconds` (renewing its own), so of
 * several nodes on one database one does the job and another takes it over
 * once the lease runs out.  0 when another node holds it or on an error
 * (logged).
 */
int svc_lease(struct svc *s, const char *tenant, const char *kind, const char *object,
              long seconds);

/* Writes one audit event inside tx with result "ok". */
int svc_audit_ok(struct store_tx *tx, const char *tenant, const struct actor *a, const char *action,
                 const char *object, const char *detail, struct err *e);

/*
 * The parsed certificate of CA record r (a new reference): from the cache
 * when the stored DER is unchanged, else parsed and cached.  NULL with e set.
 */
X509 *svc_ca_cert(struct svc *s, const struct ca_rec *r, struct err *e);

/* Parses DER into an X509; NULL with e set (ERR_INTERNAL: our own stored data is bad). */
X509 *svc_der_to_x509(const unsigned char *der, size_t len, struct err *e);
/* Appends DER certificates in blob (concatenated) to sk; 0 ok. */
int svc_der_chain(const unsigned char *der, size_t len, STACK_OF(X509) * sk, struct err *e);

/* The parsed latest version of tenant's profile (kept per node while its text is the same; release
 * with profile_free); *version set. */
struct profile *svc_profile_load(struct svc *s, struct store_tx *tx, const char *tenant,
                                 const char *name, int *version, struct err *e);

/* Fills the AIA/CDP URLs of CA `ca` (sharded CDPs too) into urls; free with svc_urls_free. */
void svc_urls_fill(struct svc *s, const char *tenant, const struct ca_rec *ca,
                   struct ca_urls *urls);
/* An integer option of the CA's options JSON; fallback if absent or not positive. */
long svc_ca_option(const struct ca_rec *ca, const char *key, long fallback);
/* The number of CRL shards of the CA (0 = not sharded). */
int svc_ca_crl_shards(const struct ca_rec *ca);
void svc_urls_free(struct ca_urls *urls);

/*
 * Issues a certificate for a key the signer holds (pub is its public half)
 * under p->profile of p->ca, recorded and audited as `action`; *cert (if not
 * NULL) gets the certificate.
 */
int svc_issue_for_key(struct svc *s, const struct actor *a, const char *tenant,
                      const struct issue_params *p, X509_NAME *subject, EVP_PKEY *pub,
                      const char *action, struct cert_rec **out, X509 **cert, struct err *e);

/* The OCSP responder's state (svc_ocsp.c). */
struct ocsp_state;
struct ocsp_state *svc_ocsp_state_new(void);
void svc_ocsp_state_free(struct ocsp_state *st);
/* A CA of tenant became active: the responder loads it (and makes its delegated responder). */
void svc_ocsp_ca_changed(struct svc *s, const char *tenant);

/*
 * svc_issue_for_key with a subject given as text ("/CN=...") and action
 * "cert.issue".
 */
int svc_cert_issue_pubkey(struct svc *s, const struct actor *a, const char *tenant,
                          const struct issue_params *p, const char *subject, EVP_PKEY *pub,
                          struct cert_rec **out, X509 **cert, struct err *e);

/*
 * Signs der (a kind the signer signs: keys/tbs.h) with tenant's key key_id:
 * SHA-256, or pure Ed25519.  *sig (caller frees) and *sig_len.
 */
int svc_sign_der(struct svc *s, const char *tenant, const char *key_id, const unsigned char *der,
                 size_t len, unsigned char **sig, size_t *sig_len, struct err *e);

/* Frees the TSA unit cache (svc_tsa.c). */
void svc_tsa_cache_free(struct svc *s);

/* Fills the common fields of a cert_rec from an issued certificate. */
void svc_cert_rec_fill(struct cert_rec *r, const char *tenant, const char *ca, X509 *cert);

/* ---- shared by the EST and SCEP front ends (svc_est.c) ---- */

/* Whether secret verifies against encoded (argon2id; cached, failures rate-limited). */
int svc_enroll_secret_verify(const char *tenant, const char *endpoint, const char *id,
                             const char *secret, const char *encoded);
/*
 * What the enrollment filed under idempotency key led to, if it waited for approval: 1 with
 * res set (pending, or its certificate), -1 with e (refused, or an error), 0 if there is no
 * such request (*filed: the key names an outcome of another kind).
 */
int svc_enroll_collect(struct svc *s, const char *tenant, const char *key, int retry_after,
                       struct svc_est_result *res, int *filed, struct err *e);
/* Moves a credential from `from` to `to` (a use counted with delta); 0 if it was in `from`. */
int svc_enroll_credential_move(struct svc *s, const struct enroll_credential_rec *c,
                               const char *from, const char *to, int delta, struct err *e);
/* A renewal's subject and SANs are the old certificate's; ERR_INVALID if not. */
int svc_enroll_same_names(const struct issue_request *r, X509 *old, struct err *e);
/* Whether leaf is issued and signed by the certificate of CA ca of tenant (read in tx). */
int svc_enroll_issued_by(struct svc *s, struct store_tx *tx, const char *tenant, const char *ca,
                         X509 *leaf);

#endif
