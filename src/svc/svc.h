/*
 * svc.h — the CA's operations, free of any transport.
 *
 * The REST API calls these today; enrollment protocols (ACME, EST, CMP) and
 * the offline CA will call the same functions.  Each operation checks the
 * tenant and the objects it names, signs through the signer (remote keys),
 * and writes its records together with their audit event in one transaction
 * — so a failed operation leaves nothing but, where the caller records it, a
 * "refused" audit event.
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
    int tsa_clock_check; /* SVC_CLOCK_*: refuse tokens while the clock is unsynced */
    const char *node;    /* this node's name on leases, stable across restarts ("<host>:<pid>") */
};

/* How the TSA checks the system clock before each token. */
enum { SVC_CLOCK_OFF = 0, SVC_CLOCK_KERNEL = 1 /* adjtimex(2): refused while STA_UNSYNC */ };

struct svc;

/* Takes no ownership of store or signer; copies cfg. */
struct svc *svc_new(struct store *store, struct signer *signer, const struct svc_config *cfg);
void svc_free(struct svc *s);
struct store *svc_store(struct svc *s);
struct signer *svc_signer(struct svc *s);

/* Who asks: recorded as the audit actor. */
struct actor {
    const char *id; /* token id, "system", "cli" */
};

/* The tenant's public URLs of CA `ca` (caller frees each with free()). */
char *svc_crl_url(struct svc *s, const char *tenant, const char *ca);
/*
 * The URL of one CRL scope: shard 0 the CA's complete CRL (svc_crl_url), k > 0
 * shard k's; delta: the delta CRLs of that scope.
 */
char *svc_crl_scope_url(struct svc *s, const char *tenant, const char *ca, int shard, int delta);
char *svc_ca_issuers_url(struct svc *s, const char *tenant, const char *ca);

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

/* ---- tenants -------------------------------------------------------- */

/* Creates a tenant with the built-in profiles (version 1 each). */
int svc_tenant_create(struct svc *s, const struct actor *a, const char *tenant, struct err *e);
/* 0 if the tenant exists; 404 otherwise.  *active set to whether it is active. */
int svc_tenant_check(struct svc *s, const char *tenant, int *active, struct err *e);

/* ---- keys (operators, key ceremonies) --------------------------------- */

struct svc_key_info {
    char *key_id;
    char *key_type; /* key_type_name(), or "unknown" */
    char *ca;       /* the CA using the key, NULL if none */
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
/* Deletes a key no CA uses (409 if one does); audited as key.delete. */
int svc_key_delete(struct svc *s, const struct actor *a, const char *tenant, const char *key_id,
                   struct err *e);
/* 0 if no CA of tenant uses key_id; 409 naming the CA if one does. */
int svc_key_in_use(struct svc *s, const char *tenant, const char *key_id, struct err *e);

/* ---- CAs ------------------------------------------------------------ */

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
int svc_ca_create(struct svc *s, const struct actor *a, const char *tenant,
                  const struct ca_create *req, struct ca_rec **out, struct err *e);
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

/* ---- certificates --------------------------------------------------- */

struct issue_params {
    const char *ca;
    const char *profile;
    const char *entity_id;    /* may be NULL */
    long validity_days;       /* 0 = the profile's default */
    const char *renewed_from; /* set by renew */
};

/* Issues from a CSR (PEM or DER). */
int svc_cert_issue(struct svc *s, const struct actor *a, const char *tenant,
                   const struct issue_params *p, const unsigned char *csr, size_t csr_len,
                   struct cert_rec **out, struct err *e);
/*
 * Server-side key generation: the signer makes the key, the CA issues for it,
 * the signer returns a PKCS#12 under password with the key, the certificate
 * and the chain (*p12, caller frees).
 */
int svc_cert_keygen(struct svc *s, const struct actor *a, const char *tenant,
                    const struct issue_params *p, const char *subject, json_t *sans,
                    const char *key_type, const char *password, struct cert_rec **out,
                    unsigned char **p12, size_t *p12_len, struct err *e);
/* Renews: with csr NULL the old public key is reused. Links the new record to the old. */
int svc_cert_renew(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                   const unsigned char *csr, size_t csr_len, struct cert_rec **out, struct err *e);
/* reason: RFC 5280 code (not certificateHold: that is suspend). invalidity_date 0 = none. */
int svc_cert_revoke(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                    int reason, int64_t invalidity_date, struct cert_rec **out, struct err *e);
int svc_cert_suspend(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                     struct cert_rec **out, struct err *e);
int svc_cert_reinstate(struct svc *s, const struct actor *a, const char *tenant, const char *serial,
                       struct cert_rec **out, struct err *e);
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
 * latest complete CRL (409 if the CA publishes no deltas).  *out is the whole
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

/* ---- OCSP (svc_ocsp.c) --------------------------------------------- */

/* An answer to an OCSP request: always an OCSPResponse, maybe an error one. */
struct ocsp_answer {
    unsigned char *der; /* owned: free() */
    size_t len;
    int cacheable;                    /* a successful response without nonce */
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

/* ---- tokens --------------------------------------------------------- */

/*
 * Creates a token of tenant with role ("admin" or "system"): *secret is the
 * token to show once (caller frees); the store keeps its SHA-256.
 */
int svc_token_create(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                     const char *role, long expires_days, struct token_rec **out, char **secret,
                     struct err *e);
/* Hex SHA-256 of a token (caller frees). */
char *svc_token_hash(const char *token);

/* ---- profiles and end entities (svc_misc.c) ------------------------- */

/*
 * Stores a profile document (validated by profile_parse first).  create: the
 * name must be new (version 1, 409 otherwise); else the name must exist and a
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
/* The unit's public URL (caller frees). */
char *svc_tsa_url(struct svc *s, const char *tenant, const char *unit);
/*
 * Answers a DER TimeStampReq for (tenant, unit) from requester (its address).
 * Returns 0 with *resp (a DER TimeStampResp, caller frees with free) — a
 * token, recorded and committed before this returns, or a rejection with
 * its PKIFailureInfo.  -1 with e only when there is no such tenant or unit
 * (404) or no response can be encoded at all (500).
 */
int svc_tsa_respond(struct svc *s, const char *tenant, const char *unit, const unsigned char *req,
                    size_t req_len, const char *requester, unsigned char **resp, size_t *resp_len,
                    struct err *e);

/* ---- audit checkpoints and verification (svc_audit.c) ------------------ */

/*
 * tenant's audit key record (caller frees with audit_key_rec_free); with
 * create, made in the signer (ec-p256) and recorded, audited as
 * audit.key.create in the _system chain, when the tenant has none; else 404
 * if none.
 */
int svc_audit_key(struct svc *s, const char *tenant, int create, struct audit_key_rec **out,
                  struct err *e);
/* Whether key_id is tenant's audit key (which must not be deleted). */
int svc_audit_is_key(struct svc *s, const char *tenant, const char *key_id);
/*
 * Signs tenant's chain head as a checkpoint unless the last checkpoint is
 * already at the head; *seq gets the head's seq.  404 if the chain is empty.
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

#endif
