/*
 * store.h — the one storage interface.  SQLite (store_sqlite.c) and PostgreSQL
 * (store_pg.c): a backend fills struct store_ops and nothing above this header
 * knows which one runs.
 *
 * Rules every backend keeps:
 *  - Every call that touches tenant data takes the tenant name as an explicit
 *    argument and puts it in every WHERE clause; every table with tenant data
 *    has a tenant column.  Only the tenant listing and the token lookup
 *    (store_token_find, which is how a request learns its tenant) read across
 *    tenants.
 *  - Work happens in a transaction: store_begin() .. store_commit().  A commit
 *    is durable (fsync) before it returns.  store_rollback() (or freeing a tx
 *    without commit) leaves nothing behind.  A tx is used by one thread.
 *  - Returned records are owned by the caller and freed with the matching
 *    *_free() function, which accepts NULL.  Out-parameters are set only on
 *    success.
 *  - Return values: 0 ok, -1 error with e set.  "Not found" is -1 with
 *    e->kind ERR_NOT_FOUND; a uniqueness clash is -1 with e->kind ERR_CONFLICT.
 */
#ifndef VOUCH_STORE_H
#define VOUCH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

struct store;
struct store_tx;

/*
 * Opens a store: "sqlite:/path/to/file.db" (created if missing, WAL mode), or
 * "postgresql://user@host:port/db" / "postgres://..." (a libpq URI; the role
 * must not bypass row-level security).  Runs pending schema migrations.  NULL
 * on error with e set.
 */
struct store *store_open(const char *url, struct err *e);
void store_close(struct store *s);
/* 0 if the database answers (for /readyz). */
int store_ping(struct store *s, struct err *e);
/*
 * At most n connections (at least 1) open at once from this process (default
 * 64): past that, store_begin waits up to 10 s for one to be given back, then
 * ERR_UNAVAILABLE.  Set it right after store_open.
 */
void store_set_max_connections(struct store *s, int n);
/* The schema version after migrations. */
int store_schema_version(struct store *s);

/* Begins a write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED). */
struct store_tx *store_begin(struct store *s, struct err *e);
/* Begins a read-only transaction (a consistent snapshot). */
struct store_tx *store_begin_read(struct store *s, struct err *e);
/* Commits and frees tx (also on failure). */
int store_commit(struct store_tx *tx, struct err *e);
/* Rolls back and frees tx; accepts NULL. */
void store_rollback(struct store_tx *tx);

/*
 * Savepoints inside a write transaction (group commit runs each piece of work
 * in one): set one, release the last, or undo back to the last one set.
 */
int store_savepoint(struct store_tx *tx, struct err *e);
int store_savepoint_release(struct store_tx *tx, struct err *e);
int store_savepoint_rollback(struct store_tx *tx, struct err *e);

/* ---- tenants --------------------------------------------------------- */

struct tenant_rec {
    char *name;
    char *status;        /* "active", "suspended", "deleted" (retained), "purged" */
    char *status_reason; /* why it was suspended or deleted; may be NULL */
    int64_t created;
    int64_t deleted_at;      /* 0 unless deleted */
    int64_t purge_after;     /* deleted: its data is purged from then on */
    int certs_per_hour;      /* quota; 0 = none */
    int requests_per_second; /* API rate limit (per node); 0 = none */
};
void tenant_rec_free(struct tenant_rec *r);
int store_tenant_create(struct store_tx *tx, const char *tenant, struct err *e);
int store_tenant_get(struct store_tx *tx, const char *tenant, struct tenant_rec **out,
                     struct err *e);
/* The system administrator's listing: the one query across tenants. */
int store_tenant_list(struct store_tx *tx, struct tenant_rec ***out, size_t *n, struct err *e);
/* Sets status, status_reason, deleted_at, purge_after and the limits of r; ERR_NOT_FOUND if none.
 */
int store_tenant_update(struct store_tx *tx, const char *tenant, const struct tenant_rec *r,
                        struct err *e);
/*
 * Deletes every row of tenant from every table that has a tenant column (the
 * tenants row itself stays): the last step of a tenant's deletion.
 */
int store_tenant_purge(struct store_tx *tx, const char *tenant, struct err *e);

/* ---- certificate authorities ----------------------------------------- */

struct ca_rec {
    char *tenant;
    char *name;              /* unique per tenant, used in URLs */
    char *parent;            /* issuing CA name of the same tenant, NULL for a root/external */
    char *key_id;            /* key in the signer's store */
    char *key_type;          /* key_type_name() */
    char *status;            /* "active", "pending" (CSR out, waiting for cert), "disabled" */
    char *subject;           /* one-line RFC 2253 subject, for display */
    unsigned char *cert_der; /* NULL while pending */
    size_t cert_len;
    unsigned char *csr_der; /* the CSR of a pending (externally signed) CA */
    size_t csr_len;
    unsigned char *chain_der; /* concatenated DER certificates above this CA, may be NULL */
    size_t chain_len;
    char *options_json; /* CRL validity, path length etc. as JSON, never NULL */
    int64_t not_before, not_after;
    int64_t created;
};
void ca_rec_free(struct ca_rec *r);
/* A deep copy (the caller frees it); so are the other *_rec_dup functions. */
struct ca_rec *ca_rec_dup(const struct ca_rec *r);
int store_ca_insert(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e);
/* Replaces status, cert, chain, subject, validity and options of an existing CA. */
int store_ca_update(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e);
int store_ca_get(struct store_tx *tx, const char *tenant, const char *name, struct ca_rec **out,
                 struct err *e);
int store_ca_list(struct store_tx *tx, const char *tenant, struct ca_rec ***out, size_t *n,
                  struct err *e);

/* ---- profiles (versioned JSON documents) ----------------------------- */

struct profile_rec {
    char *tenant;
    char *name;
    int version; /* 1, 2, ... per name */
    char *json;  /* the profile document */
    int64_t created;
};
void profile_rec_free(struct profile_rec *r);
/* Stores a new version (r->version ignored; *version_out gets the new number). */
int store_profile_put(struct store_tx *tx, const char *tenant, const char *name, const char *json,
                      int *version_out, struct err *e);
/* version 0 means the latest. */
int store_profile_get(struct store_tx *tx, const char *tenant, const char *name, int version,
                      struct profile_rec **out, struct err *e);
/* The latest version of each profile. */
int store_profile_list(struct store_tx *tx, const char *tenant, struct profile_rec ***out,
                       size_t *n, struct err *e);

/* ---- end entities ----------------------------------------------------- */

struct entity_rec {
    char *tenant;
    char *id; /* "ent-<hex>" */
    char *name;
    char *kind; /* "user", "device", "service" */
    char *email;
    char *manufacturer, *model, *serial_number; /* devices */
    char *metadata_json;                        /* free JSON object, never NULL ("{}") */
    int64_t created;
};
void entity_rec_free(struct entity_rec *r);
struct entity_rec *entity_rec_dup(const struct entity_rec *r);
int store_entity_insert(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                        struct err *e);
int store_entity_update(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                        struct err *e);
int store_entity_get(struct store_tx *tx, const char *tenant, const char *id,
                     struct entity_rec **out, struct err *e);
struct entity_query {
    const char *name; /* substring, NULL = any */
    const char *kind;
    const char *email;
    int limit, offset; /* limit 0 = 100 */
};
int store_entity_search(struct store_tx *tx, const char *tenant, const struct entity_query *q,
                        struct entity_rec ***out, size_t *n, struct err *e);

/* ---- certificates ---------------------------------------------------- */

/* RFC 5280 CRLReason values; -1 = not revoked. */
enum { REASON_UNSPECIFIED = 0, REASON_CERTIFICATE_HOLD = 6, REASON_REMOVE_FROM_CRL = 8 };

struct cert_rec {
    char *tenant;
    char *serial; /* lowercase hex of the serial's magnitude, no leading zeros */
    char *ca;     /* issuing CA name */
    char *profile;
    int profile_version;
    char *entity_id; /* may be NULL */
    char *subject;   /* one-line RFC 2253 */
    char *sans;      /* "dns:a.example,ip:192.0.2.1,email:x@y" lowercase, for search */
    char *status;    /* "good", "revoked", "hold" */
    int64_t not_before, not_after;
    int64_t revoked_at;      /* 0 if not revoked */
    int reason;              /* CRLReason, -1 if not revoked */
    int64_t invalidity_date; /* 0 if none */
    char *renewed_from;      /* serial of the certificate this one renews, may be NULL */
    int64_t status_changed;  /* when status last changed (deltas); 0 = never since issuance */
    int crl_shard;           /* CRL shard (1..n) chosen at issuance from the serial; 0 = none */
    int counted;             /* 1: issued on a request, counted against the hourly quota */
    unsigned char *der;
    size_t der_len;
    int64_t created;
    char *requester; /* id of the principal that asked for it; NULL if unknown */
};
void cert_rec_free(struct cert_rec *r);
struct cert_rec *cert_rec_dup(const struct cert_rec *r);
void cert_rec_list_free(struct cert_rec **list, size_t n);
/* A serial clash is -1 with e->kind ERR_CONFLICT (the caller draws a new serial). */
int store_cert_insert(struct store_tx *tx, const char *tenant, const struct cert_rec *r,
                      struct err *e);
int store_cert_get(struct store_tx *tx, const char *tenant, const char *serial,
                   struct cert_rec **out, struct err *e);
/* How many counted certificates tenant was issued at or after `since` (the hourly quota). */
int store_cert_count_since(struct store_tx *tx, const char *tenant, int64_t since, int64_t *n,
                           struct err *e);
/*
 * Sets status, revoked_at, reason and invalidity_date of one certificate, and
 * its status_changed to `changed` (what delta CRLs select on).
 */
int store_cert_set_status(struct store_tx *tx, const char *tenant, const char *serial,
                          const char *status, int64_t revoked_at, int reason,
                          int64_t invalidity_date, int64_t changed, struct err *e);
struct cert_query {
    const char *serial;  /* exact */
    const char *subject; /* substring, case-insensitive */
    const char *san;     /* substring of sans */
    const char *status;
    const char *ca;
    const char *entity_id;
    const char *profile;
    const char *requester;
    int64_t expires_after, expires_before; /* 0 = unbounded; not_after in [after, before) */
    int limit, offset;                     /* limit 0 = 100, at most 1000 */
};
/* Ordered by not_after then serial. */
int store_cert_search(struct store_tx *tx, const char *tenant, const struct cert_query *q,
                      struct cert_rec ***out, size_t *n, struct err *e);
/* ---- reports (store_reports.c) ---- */

enum store_report {
    STORE_REPORT_CERTS,         /* ca, profile, status, count: certificates made in [from, to) */
    STORE_REPORT_ISSUED_DAILY,  /* day, count */
    STORE_REPORT_REVOKED_DAILY, /* day, count */
    STORE_REPORT_EXPIRING, /* ca, profile, day, count: good ones whose notAfter is in [from, to) */
    STORE_REPORT_REVOCATIONS,    /* ca, reason, count */
    STORE_REPORT_CRL_FRESHNESS,  /* ca, number, this_update, next_update of its newest CRL */
    STORE_REPORT_OCSP_FRESHNESS, /* ca, responses, unsigned, soonest next_update, oldest this_update
                                  */
    STORE_REPORT_APPROVALS, /* kind, status, count, seconds to decide (sum), decided, longest */
    STORE_REPORT_COUNT
};
/* A report's rows: cell (r, c) is text[r * ncols + c] for a text column, else num[...]. */
struct report_rows {
    const char *types; /* one letter per column: 't' text, 'i' integer */
    int ncols;
    size_t nrows;
    char **text;
    int64_t *num;
};
void report_rows_free(struct report_rows *r);
/* Report r of tenant, computed by the database: times in [from, to), CA ca ("" = all). */
int store_report(struct store_tx *tx, const char *tenant, enum store_report r, int64_t from,
                 int64_t to, const char *ca, int64_t now, struct report_rows *out, struct err *e);

/* How many certificates q finds over all its pages (q's limit and offset aside): *total. */
int store_cert_total(struct store_tx *tx, const char *tenant, const struct cert_query *q,
                     int64_t *total, struct err *e);
/*
 * Revoked and on-hold certificates of one CA whose not_after is at or after
 * `expired_cutoff` (so they stay on CRLs past expiry by a margin).
 */
int store_cert_revoked(struct store_tx *tx, const char *tenant, const char *ca,
                       int64_t expired_cutoff, struct cert_rec ***out, size_t *n, struct err *e);

/* One entry of a CRL scope as store_cert_crl_entries streams it (valid during the call). */
struct crl_entry_rec {
    const char *serial;
    const char *status; /* "revoked", "hold", or "good" (reinstated: removeFromCRL in a delta) */
    int64_t revoked_at;
    int reason;
    int64_t invalidity_date;
    int64_t status_changed; /* when the status last changed (a reinstatement's date) */
};
/* Called per entry; a non-zero return stops the listing and is returned (e set by fn). */
typedef int (*store_crl_entry_fn)(void *arg, const struct crl_entry_rec *r, struct err *e);
/*
 * Streams the entries of one CRL scope of a CA, ordered by serial, without
 * loading certificates: shard 0 = every certificate of the CA, k > 0 = those
 * of shard k.  Only certificates whose not_after >= expired_cutoff.  With
 * changed_since 0 (a complete CRL): the revoked and on-hold ones.  With
 * changed_since > 0 (a delta): every one whose status changed at or after
 * changed_since, including reinstated ones.
 */
int store_cert_crl_entries(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                           int64_t expired_cutoff, int64_t changed_since, store_crl_entry_fn fn,
                           void *arg, struct err *e);

/* ---- CRLs ------------------------------------------------------------- */

/*
 * A CRL's scope is (ca, shard): shard 0 is the CA's complete CRL, k > 0 shard
 * k's.  A delta (delta_base > 0) belongs to the scope of its base.  Numbers
 * come from one sequence per CA, so they strictly increase in every scope
 * and complete and delta CRLs share it (RFC 5280 §5.2.4).
 */
struct crl_rec {
    char *tenant;
    char *ca;
    int shard;          /* 0 = the whole CA */
    int64_t delta_base; /* > 0: a delta CRL on that base number; 0 = a complete CRL */
    int64_t number;
    int64_t this_update, next_update;
    unsigned char *der;
    size_t der_len;
};
void crl_rec_free(struct crl_rec *r);
/* Takes the next CRL number of (tenant, ca): strictly increasing, from 1. */
int store_crl_next_number(struct store_tx *tx, const char *tenant, const char *ca, int64_t *out,
                          struct err *e);
int store_crl_insert(struct store_tx *tx, const char *tenant, const struct crl_rec *r,
                     struct err *e);
/* The complete CRL of the whole CA (shard 0) with the highest number. */
int store_crl_latest(struct store_tx *tx, const char *tenant, const char *ca, struct crl_rec **out,
                     struct err *e);
/* The latest complete (delta 0) or delta (delta 1) CRL of scope (ca, shard). */
int store_crl_latest_scope(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                           int delta, struct crl_rec **out, struct err *e);
/* Deletes the complete (delta 0) or delta CRLs of scope (ca, shard) but the `keep` newest. */
int store_crl_prune(struct store_tx *tx, const char *tenant, const char *ca, int shard, int delta,
                    int keep, struct err *e);

/* ---- OCSP -------------------------------------------------------------- */

/*
 * A CA's delegated OCSP responder: a key in the signer and a certificate the
 * CA issued for it (id-kp-OCSPSigning, id-pkix-ocsp-nocheck).
 */
struct ocsp_responder_rec {
    char *tenant;
    char *ca;
    char *key_id;
    char *key_type;
    char *serial; /* of the responder certificate (also a certificate record of ca) */
    unsigned char *cert_der;
    size_t cert_len;
    int64_t not_after;
    int64_t created;
};
void ocsp_responder_rec_free(struct ocsp_responder_rec *r);
int store_ocsp_responder_get(struct store_tx *tx, const char *tenant, const char *ca,
                             struct ocsp_responder_rec **out, struct err *e);
/* Inserts or replaces the responder of (tenant, r->ca). */
int store_ocsp_responder_put(struct store_tx *tx, const char *tenant,
                             const struct ocsp_responder_rec *r, struct err *e);

/*
 * The pre-signed OCSP response of one certificate (SHA-1 CertID, no nonce).
 * The database keeps one row per certificate: inserting a certificate adds a
 * row without a response, and any change of a certificate's status removes
 * the row's response in the same statement (the backend guarantees both, so
 * no stale response outlives a revocation whatever code path changed it).
 */
struct ocsp_resp_rec {
    char *tenant;
    char *serial;
    char *ca;
    int64_t refresh_at; /* when to re-sign; 0 = as soon as possible */
    int64_t this_update, next_update;
    unsigned char *der; /* the OCSPResponse; NULL while none is signed */
    size_t der_len;
};
void ocsp_resp_rec_free(struct ocsp_resp_rec *r);
/* The row of (tenant, serial); ERR_NOT_FOUND if the certificate is not known. */
int store_ocsp_get(struct store_tx *tx, const char *tenant, const char *serial,
                   struct ocsp_resp_rec **out, struct err *e);
/*
 * Stores a signed response for (tenant, r->serial) if the certificate's status
 * has not changed since `status_seen` (the status, revoked_at and reason read
 * when the response was made): 0 stored, 1 skipped because the status moved
 * on, -1 error.
 */
int store_ocsp_put(struct store_tx *tx, const char *tenant, const struct ocsp_resp_rec *r,
                   const struct cert_rec *status_seen, struct err *e);
/*
 * Certificates of ca whose response is due (refresh_at <= now), earliest
 * first, at most limit; records without der.
 */
int store_ocsp_due(struct store_tx *tx, const char *tenant, const char *ca, int64_t now, int limit,
                   struct cert_rec ***out, size_t *n, struct err *e);

/* ---- API tokens ------------------------------------------------------- */

struct token_rec {
    char *tenant; /* "_system" for the system administrator */
    char *id;     /* "tok-<hex>", shown in listings */
    char *name;
    /*
     * The lookup key, unique: "vt_<hex>" (the public part of a vt_ token,
     * whose secret part is checked against `secret`), or, for a token made
     * before schema 7, the hex SHA-256 of the whole token.
     */
    char *hash;
    char *role;      /* before schema 7: "admin" or "system"; now "" (roles are bound) */
    int64_t expires; /* 0 = never */
    int64_t created;
    char *principal; /* id of the principal of `tenant` the token belongs to */
    char *secret;    /* argon2id encoded hash of the secret part; NULL for old tokens */
    int64_t revoked; /* when it was revoked, 0 = not */
    /*
     * The people besides its principal who could hold it (schema 16): a JSON
     * array of principal ids (or "system"-like actor names) of whoever made it
     * for another principal; "[]" (or NULL) for one its principal made for itself by
     * rotation.  An approval made with it counts for each of them too.
     */
    char *creators;
};
void token_rec_free(struct token_rec *r);
int store_token_insert(struct store_tx *tx, const char *tenant, const struct token_rec *r,
                       struct err *e);
/* Finds a token by hash across tenants: how a request learns who it is. */
int store_token_find(struct store_tx *tx, const char *hash, struct token_rec **out, struct err *e);
int store_token_list(struct store_tx *tx, const char *tenant, struct token_rec ***out, size_t *n,
                     struct err *e);
int store_token_delete(struct store_tx *tx, const char *tenant, const char *id, struct err *e);
/* Marks a token revoked at `when` (ERR_NOT_FOUND if there is none or it is revoked already). */
int store_token_revoke(struct store_tx *tx, const char *tenant, const char *id, int64_t when,
                       struct err *e);

/* ---- principals and role bindings ------------------------------------- */

struct principal_rec {
    char *tenant;
    char *id;    /* "prn-<hex>" (or the id of a token made before schema 7) */
    char *name;  /* unique in the tenant */
    char *kind;  /* "user" or "application" */
    char *allow; /* JSON array of CIDRs a request must come from ("[]" = anywhere) */
    int disabled;
    int64_t created;
    /* a TLS client certificate that authenticates it: by issuer and subject, or by fingerprint */
    char *cert_issuer; /* RFC 2253 one-line, with cert_subject; NULL = none */
    char *cert_subject;
    char *cert_sha256; /* lowercase hex of the DER's SHA-256; NULL = none */
};
void principal_rec_free(struct principal_rec *r);
void principal_rec_list_free(struct principal_rec **list, size_t n);
/* A name clash is ERR_CONFLICT. */
int store_principal_insert(struct store_tx *tx, const char *tenant, const struct principal_rec *r,
                           struct err *e);
int store_principal_get(struct store_tx *tx, const char *tenant, const char *id,
                        struct principal_rec **out, struct err *e);
int store_principal_list(struct store_tx *tx, const char *tenant, struct principal_rec ***out,
                         size_t *n, struct err *e);
/*
 * The principal whose TLS client-certificate mapping matches a certificate:
 * by its SHA-256 fingerprint (lowercase hex) first, else by issuer and subject
 * (RFC 2253 one-line); the oldest if several do.  ERR_NOT_FOUND if none.
 */
int store_principal_by_cert(struct store_tx *tx, const char *tenant, const char *sha256,
                            const char *issuer, const char *subject, struct principal_rec **out,
                            struct err *e);
int store_principal_set_disabled(struct store_tx *tx, const char *tenant, const char *id,
                                 int disabled, struct err *e);

/* An issuer whose certificates the tenant accepts as TLS client certificates. */
struct client_ca_rec {
    char *tenant;
    char *name;
    char *ca; /* the tenant CA it was taken from, NULL for an uploaded certificate */
    unsigned char *cert;
    size_t cert_len;
    int64_t created;
};
void client_ca_rec_free(struct client_ca_rec *r);
void client_ca_rec_list_free(struct client_ca_rec **list, size_t n);
/* A name clash is ERR_CONFLICT. */
int store_client_ca_insert(struct store_tx *tx, const char *tenant, const struct client_ca_rec *r,
                           struct err *e);
int store_client_ca_list(struct store_tx *tx, const char *tenant, struct client_ca_rec ***out,
                         size_t *n, struct err *e);
int store_client_ca_delete(struct store_tx *tx, const char *tenant, const char *name,
                           struct err *e);

/* A role of a principal (of `tenant`, or of "_system") within `tenant`. */
struct binding_rec {
    char *tenant;
    char *principal_tenant;
    char *principal;
    char *role;
    int64_t created;
    char *granted_by; /* who bound it (schema 16): a principal id or actor name; NULL before */
    int64_t granted;  /* when, in microseconds (time_now_us; schema 16, 0 before) */
};
void binding_rec_free(struct binding_rec *r);
void binding_rec_list_free(struct binding_rec **list, size_t n);
/* ERR_CONFLICT if the principal holds the role already. */
int store_binding_insert(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                         struct err *e);
/* ERR_NOT_FOUND if there is no such binding. */
int store_binding_delete(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                         struct err *e);
/* The tenant's bindings; with principal set, only those of (principal_tenant, principal). */
int store_binding_list(struct store_tx *tx, const char *tenant, const char *principal_tenant,
                       const char *principal, struct binding_rec ***out, size_t *n, struct err *e);

/* ---- audit rows (written and chained by audit.c) ---------------------- */

struct audit_rec {
    char *tenant;
    int64_t seq; /* 1, 2, ... per tenant */
    int64_t time;
    char *actor;     /* token id, "system", "anonymous" */
    char *action;    /* "ca.create", "cert.issue", "cert.revoke", "auth.refused", ... */
    char *object;    /* CA name, serial, profile name, ... may be "" */
    char *result;    /* "ok", "refused", "error" */
    char *detail;    /* JSON object text, never NULL */
    char *prev_hash; /* hex */
    char *hash;      /* hex */
};
void audit_rec_free(struct audit_rec *r);
void audit_rec_list_free(struct audit_rec **list, size_t n);
/* The row with the highest seq of tenant; -1/ERR_NOT_FOUND if the chain is empty. */
int store_audit_last(struct store_tx *tx, const char *tenant, struct audit_rec **out,
                     struct err *e);
int store_audit_insert(struct store_tx *tx, const char *tenant, const struct audit_rec *r,
                       struct err *e);
/* Rows with seq > after_seq in seq order, at most limit (0 = 1000). */
int store_audit_list(struct store_tx *tx, const char *tenant, int64_t after_seq, int limit,
                     struct audit_rec ***out, size_t *n, struct err *e);

/* ---- audit checkpoints, keys and forwarding (issue 5) ------------------ */

/* The key (in the signer) that signs a tenant's audit checkpoints. */
struct audit_key_rec {
    char *tenant;
    char *key_id;     /* key in the signer's store */
    char *key_type;   /* key_type_name() */
    char *public_pem; /* SubjectPublicKeyInfo, PEM */
    int64_t created;
};
void audit_key_rec_free(struct audit_key_rec *r);
/* The tenant's audit key; -1/ERR_NOT_FOUND if it has none yet. */
int store_audit_key_get(struct store_tx *tx, const char *tenant, struct audit_key_rec **out,
                        struct err *e);
/* -1/ERR_CONFLICT if the tenant already has one. */
int store_audit_key_insert(struct store_tx *tx, const char *tenant, const struct audit_key_rec *r,
                           struct err *e);

/* A signed checkpoint: the chain's head at seq (see keys/tbs.h). */
struct audit_checkpoint_rec {
    char *tenant;
    int64_t seq;
    int64_t time;
    char *head_hash; /* hex, the hash of row seq when signed */
    char *key_id;
    unsigned char *der; /* the AuditCheckpoint DER that was signed */
    size_t der_len;
    unsigned char *sig; /* signature over der (SHA-256 with the audit key) */
    size_t sig_len;
};
void audit_checkpoint_rec_free(struct audit_checkpoint_rec *r);
void audit_checkpoint_rec_list_free(struct audit_checkpoint_rec **list, size_t n);
/* -1/ERR_CONFLICT if tenant already has a checkpoint at r->seq. */
int store_audit_checkpoint_insert(struct store_tx *tx, const char *tenant,
                                  const struct audit_checkpoint_rec *r, struct err *e);
/* The checkpoint with the highest seq; -1/ERR_NOT_FOUND if none. */
int store_audit_checkpoint_last(struct store_tx *tx, const char *tenant,
                                struct audit_checkpoint_rec **out, struct err *e);
/* Checkpoints with seq > after_seq in seq order, at most limit (0 = 1000). */
int store_audit_checkpoint_list(struct store_tx *tx, const char *tenant, int64_t after_seq,
                                int limit, struct audit_checkpoint_rec ***out, size_t *n,
                                struct err *e);

/*
 * The last seq of tenant's chain sent to forwarding target `target` ("system" for
 * the configured SIEM); 0 if nothing was sent yet.
 */
int store_audit_forward_get(struct store_tx *tx, const char *tenant, const char *target,
                            int64_t *last_seq, struct err *e);
int store_audit_forward_set(struct store_tx *tx, const char *tenant, const char *target,
                            int64_t last_seq, struct err *e);

/* A tenant's own SIEM (audit forwarding target); at most one per tenant. */
struct audit_target_rec {
    char *tenant;
    char *host;
    int port;
    char *transport; /* "tcp" or "tls" */
    char *ca_pem;    /* tls: the CA certificates the receiver must chain to; NULL for tcp */
    int64_t created;
};
void audit_target_rec_free(struct audit_target_rec *r);
void audit_target_rec_list_free(struct audit_target_rec **list, size_t n);
/* Sets (replaces) tenant's target. */
int store_audit_target_put(struct store_tx *tx, const char *tenant,
                           const struct audit_target_rec *r, struct err *e);
/* -1/ERR_NOT_FOUND if the tenant has none. */
int store_audit_target_get(struct store_tx *tx, const char *tenant, struct audit_target_rec **out,
                           struct err *e);
/* -1/ERR_NOT_FOUND if the tenant has none. */
int store_audit_target_delete(struct store_tx *tx, const char *tenant, struct err *e);
/*
 * Every tenant's target, in tenant order: read across tenants, for the
 * forwarding thread only (as store_token_find is for authentication).
 */
int store_audit_target_list(struct store_tx *tx, struct audit_target_rec ***out, size_t *n,
                            struct err *e);

/* ---- time-stamping units and tokens (RFC 3161) ------------------------- */

struct tsa_unit_rec {
    char *tenant;
    char *name;        /* unique per tenant, used in URLs */
    char *ca;          /* the CA that issued the unit's certificate */
    char *key_id;      /* key in the signer's store */
    char *key_type;    /* key_type_name() */
    char *status;      /* "active" or "disabled" (issues no tokens; its tokens stay) */
    char *cert_serial; /* the unit's certificate, also a certificate record of ca */
    unsigned char *cert_der;
    size_t cert_len;
    unsigned char *chain_der; /* the CA certificate and those above it, concatenated DER */
    size_t chain_len;
    char *policy;        /* default policy OID, dotted */
    char *policies_json; /* JSON array of every accepted policy OID (default included) */
    char *hashes_json;   /* JSON array of accepted hash names ("sha256", ...) */
    int64_t accuracy_ms; /* 0 = no accuracy in tokens */
    int include_chain;   /* 1: tokens asked with certReq carry the chain too */
    int64_t created;
};
void tsa_unit_rec_free(struct tsa_unit_rec *r);
void tsa_unit_rec_list_free(struct tsa_unit_rec **list, size_t n);
int store_tsa_unit_insert(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                          struct err *e);
int store_tsa_unit_get(struct store_tx *tx, const char *tenant, const char *name,
                       struct tsa_unit_rec **out, struct err *e);
/* Sets status, policy, policies, hashes, accuracy and include_chain of unit r->name; ERR_NOT_FOUND
 * if none.
 */
int store_tsa_unit_update(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                          struct err *e);
int store_tsa_unit_list(struct store_tx *tx, const char *tenant, struct tsa_unit_rec ***out,
                        size_t *n, struct err *e);

struct tsa_token_rec {
    char *tenant;
    char *unit;
    char *serial;       /* lowercase hex of the serial's magnitude */
    char *gen_time;     /* the token's genTime as encoded ("20261129163000.123Z") */
    int64_t time;       /* genTime in seconds since the epoch */
    char *policy;       /* policy OID of the token */
    char *hash_alg;     /* hash of the message imprint ("sha256") */
    char *imprint;      /* lowercase hex of the hashed message */
    char *nonce;        /* lowercase hex of the nonce, NULL if none */
    char *requester;    /* the client's address */
    unsigned char *der; /* the TimeStampToken (CMS ContentInfo) */
    size_t der_len;
};
void tsa_token_rec_free(struct tsa_token_rec *r);
void tsa_token_rec_list_free(struct tsa_token_rec **list, size_t n);
/* A serial clash is -1 with e->kind ERR_CONFLICT (the caller draws a new serial). */
int store_tsa_token_insert(struct store_tx *tx, const char *tenant, const struct tsa_token_rec *r,
                           struct err *e);
int store_tsa_token_get(struct store_tx *tx, const char *tenant, const char *unit,
                        const char *serial, struct tsa_token_rec **out, struct err *e);
struct tsa_token_query {
    const char *imprint;   /* exact lowercase hex, NULL = any */
    int64_t after, before; /* 0 = unbounded; time in [after, before) */
    int limit, offset;     /* limit 0 = 100, at most 1000 */
};
/* Tokens of one unit, newest first. */
int store_tsa_token_search(struct store_tx *tx, const char *tenant, const char *unit,
                           const struct tsa_token_query *q, struct tsa_token_rec ***out, size_t *n,
                           struct err *e);

/* ---- registration authority: approval workflows, requests, webhooks ------- */

/*
 * A tenant's approval rule for one kind of operation: "profile:<name>"
 * (issuance under that profile), "cert.revoke", "cert.suspend" or
 * "ca.create".  No row: the operation is done at once.
 */
struct workflow_rec {
    char *tenant;
    char *name;
    int required;      /* approvals needed, 1 or more */
    char *approvers;   /* JSON array of the principals who may approve (M-of-N); NULL: any */
    int expires_hours; /* a pending request expires after this long */
    int64_t created;
};
void workflow_rec_free(struct workflow_rec *r);
void workflow_rec_list_free(struct workflow_rec **list, size_t n);
/* Sets (replaces) the workflow r->name of tenant. */
int store_workflow_put(struct store_tx *tx, const char *tenant, const struct workflow_rec *r,
                       struct err *e);
int store_workflow_get(struct store_tx *tx, const char *tenant, const char *name,
                       struct workflow_rec **out, struct err *e);
int store_workflow_list(struct store_tx *tx, const char *tenant, struct workflow_rec ***out,
                        size_t *n, struct err *e);
/* -1/ERR_NOT_FOUND if there is none. */
int store_workflow_delete(struct store_tx *tx, const char *tenant, const char *name, struct err *e);

/* An operation waiting for approvals, and what became of it. */
struct request_rec {
    char *tenant;
    char *id;        /* "req-<hex>" */
    char *kind;      /* "cert.issue", "cert.revoke", "cert.suspend", "ca.create" */
    char *object;    /* the profile, serial or CA name it is about */
    char *params;    /* the request as submitted (JSON) */
    char *requester; /* the principal who submitted it */
    char *status;    /* "pending", "done", "rejected", "expired", "failed" */
    int required;
    char *approvers; /* as the workflow said when it was submitted; NULL: any */
    char *approvals; /* JSON array of {"by", "time"} */
    char *result;    /* JSON: what the operation answered (done) or its error (failed) */
    char *reason;    /* a rejection's reason */
    int64_t created, expires, decided;
};
void request_rec_free(struct request_rec *r);
void request_rec_list_free(struct request_rec **list, size_t n);
int store_request_insert(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                         struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_request_get(struct store_tx *tx, const char *tenant, const char *id,
                      struct request_rec **out, struct err *e);
/* Sets status, approvals, result, reason and decided. */
int store_request_update(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                         struct err *e);
/* Newest first; status and requester filter when not NULL. */
int store_request_list(struct store_tx *tx, const char *tenant, const char *status,
                       const char *requester, int limit, int offset, struct request_rec ***out,
                       size_t *n, struct err *e);
/* How many requests of tenant have status ("pending": the approval queue) into *n. */
int store_request_count(struct store_tx *tx, const char *tenant, const char *status, int64_t *n,
                        struct err *e);
/* Marks tenant's pending requests whose expiry is at or before now expired; *n how many. */
int store_request_expire(struct store_tx *tx, const char *tenant, int64_t now, int64_t *n,
                         struct err *e);

/* A tenant's webhook: events are POSTed to url, signed with HMAC-SHA256 under secret. */
struct webhook_rec {
    char *tenant;
    char *url;
    char *secret; /* before schema 12 only: the secret in clear ("" since: see key_id) */
    int64_t created;
    char *key_id; /* the tenant's RSA key the signer derives the secret with (signer_webhook_new) */
    char *nonce;  /* hex: the derivation's nonce */
};
void webhook_rec_free(struct webhook_rec *r);
int store_webhook_put(struct store_tx *tx, const char *tenant, const struct webhook_rec *r,
                      struct err *e);
int store_webhook_get(struct store_tx *tx, const char *tenant, struct webhook_rec **out,
                      struct err *e);
int store_webhook_delete(struct store_tx *tx, const char *tenant, struct err *e);

/* An event waiting to be delivered (written in the transaction of what it announces). */
struct webhook_event_rec {
    char *tenant;
    char *id;
    char *event; /* "request.pending", "request.approved", "certificate.issued", ... */
    char *body;  /* the JSON POSTed */
    int attempts;
    int64_t next_attempt;
    char *status; /* "pending", or "failed" once it was given up */
    int64_t created;
};
void webhook_event_rec_free(struct webhook_event_rec *r);
void webhook_event_rec_list_free(struct webhook_event_rec **list, size_t n);
int store_webhook_event_insert(struct store_tx *tx, const char *tenant,
                               const struct webhook_event_rec *r, struct err *e);
/* Pending events whose next attempt is due, oldest first. */
int store_webhook_event_due(struct store_tx *tx, const char *tenant, int64_t now, int limit,
                            struct webhook_event_rec ***out, size_t *n, struct err *e);
/* How many events of tenant wait for delivery (pending, due or not) into *n. */
int store_webhook_event_count(struct store_tx *tx, const char *tenant, int64_t *n, struct err *e);
/* Delivered: the row goes. */
int store_webhook_event_delete(struct store_tx *tx, const char *tenant, const char *id,
                               struct err *e);
/* Sets attempts, next_attempt and status of event r->id. */
int store_webhook_event_update(struct store_tx *tx, const char *tenant,
                               const struct webhook_event_rec *r, struct err *e);

/* ---- leases: a scheduled job done by one node at a time ------------------ */

/*
 * Takes the lease on `job` of tenant for `holder` (a node's name) until
 * `until`, if nobody holds it, its holder is `holder` already, or it expired
 * (its until <= now): 0 taken, 1 held by another holder, -1 error.  Nodes
 * sharing a database take a job's lease in a transaction of its own before
 * doing the job, so only one of them does it per period and another takes
 * over once the lease runs out.
 */
int store_lease_take(struct store_tx *tx, const char *tenant, const char *job, const char *holder,
                     int64_t now, int64_t until, struct err *e);
/*
 * How many leases of tenant on jobs whose names start with prefix are held at
 * now (until > now) into *n; those of them that ran out more than an hour
 * before now are removed first.  Nodes hold a lease "node/<name>" while they
 * run (svc_node_tick): this counts the live ones.
 */
int store_lease_count(struct store_tx *tx, const char *tenant, const char *prefix, int64_t now,
                      int64_t *n, struct err *e);

/* ---- idempotency keys: an operation asked again gets the same outcome ------- */

struct idempotency_rec {
    char *tenant;
    char *key;          /* the client's Idempotency-Key */
    char *principal;    /* who asked */
    char *request_hash; /* hex SHA-256 of the operation (svc_op_hash) */
    char *object;       /* the outcome's id: a serial, a CA name or a request id */
    int64_t created;
    char *outcome; /* what object names: "certificate", "ca", "request", "keygen" */
};
void idempotency_rec_free(struct idempotency_rec *r);
/* The record of key; -1/ERR_NOT_FOUND if none. */
int store_idempotency_get(struct store_tx *tx, const char *tenant, const char *key,
                          struct idempotency_rec **out, struct err *e);
/*
 * Files r (key r->key); a record of that key created before `expired` is
 * replaced, a newer one makes it -1/ERR_CONFLICT.
 */
int store_idempotency_put(struct store_tx *tx, const char *tenant, const struct idempotency_rec *r,
                          int64_t expired, struct err *e);
/* Removes tenant's records created before `before`. */
int store_idempotency_prune(struct store_tx *tx, const char *tenant, int64_t before, struct err *e);

/* ---- bundles imported from an offline CA (issue 8) ------------------------ */

struct offline_import_rec {
    char *tenant;
    char *source;      /* the offline store's id ("off-<hex>") */
    int64_t seq;       /* the bundle's sequence number (1, 2, ... per source) */
    char *digest;      /* hex SHA-256 of the bundle's payload */
    char *signer;      /* the CA whose key signed the bundle */
    int64_t audit_seq; /* the offline audit chain's last row imported so far (0: none) */
    char *audit_head;  /* its hash (hex; 64 zeros if none) */
    int64_t imported;
};
void offline_import_rec_free(struct offline_import_rec *r);
/* The import of (source, seq), with seq 0 the one of source with the highest seq; -1/ERR_NOT_FOUND
 * if none.
 */
int store_offline_import_get(struct store_tx *tx, const char *tenant, const char *source,
                             int64_t seq, struct offline_import_rec **out, struct err *e);
/* -1/ERR_CONFLICT if (source, r->seq) was imported already. */
int store_offline_import_insert(struct store_tx *tx, const char *tenant,
                                const struct offline_import_rec *r, struct err *e);

/* ---- ACME (issue 16): endpoints, external account bindings, accounts, orders,
 * authorizations, used nonces, renewal windows ------------------------------ */

/* An ACME endpoint of a tenant (its directory: /acme/{tenant}/{name}/directory). */
struct acme_endpoint_rec {
    char *tenant;
    char *name;     /* 1-63 of [a-z0-9-_.] (name_valid) */
    char *ca;       /* the tenant's CA that issues its certificates */
    char *status;   /* "active", "disabled" (its directory answers, new orders are refused) */
    char *settings; /* JSON: profiles, challenges, EAB, lifetimes, identifiers, CAA (svc_acme.c) */
    int64_t created, updated;
};
void acme_endpoint_rec_free(struct acme_endpoint_rec *r);
void acme_endpoint_rec_list_free(struct acme_endpoint_rec **list, size_t n);
/* -1/ERR_CONFLICT if tenant has an endpoint of that name. */
int store_acme_endpoint_insert(struct store_tx *tx, const char *tenant,
                               const struct acme_endpoint_rec *r, struct err *e);
/* Sets ca, status, settings and updated of endpoint r->name; -1/ERR_NOT_FOUND if none. */
int store_acme_endpoint_update(struct store_tx *tx, const char *tenant,
                               const struct acme_endpoint_rec *r, struct err *e);
int store_acme_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                            struct acme_endpoint_rec **out, struct err *e);
/* Ordered by name. */
int store_acme_endpoint_list(struct store_tx *tx, const char *tenant,
                             struct acme_endpoint_rec ***out, size_t *n, struct err *e);

/*
 * An External Account Binding credential (RFC 8555 section 7.3.4) of an
 * endpoint.  Its HMAC key is not stored: the signer derives it from key_id
 * and nonce (like a webhook secret).
 */
struct acme_eab_rec {
    char *tenant;
    char *endpoint;
    char *kid;      /* the key identifier clients send */
    char *key_id;   /* the tenant's key in the signer the HMAC key is derived with */
    char *nonce;    /* hex: the derivation's nonce */
    char *settings; /* JSON: profiles it may use, role its accounts act with, reusable */
    char *status;   /* "active", "revoked" */
    int64_t uses;   /* accounts made with it */
    int64_t created, updated;
    char *creators; /* who made it (schema 16): a JSON array as token_rec.creators; NULL before */
};
void acme_eab_rec_free(struct acme_eab_rec *r);
void acme_eab_rec_list_free(struct acme_eab_rec **list, size_t n);
/* -1/ERR_CONFLICT if the endpoint has a credential of that kid. */
int store_acme_eab_insert(struct store_tx *tx, const char *tenant, const struct acme_eab_rec *r,
                          struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_acme_eab_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                       const char *kid, struct acme_eab_rec **out, struct err *e);
/* Sets settings, status, uses and updated; -1/ERR_NOT_FOUND if none. */
int store_acme_eab_update(struct store_tx *tx, const char *tenant, const struct acme_eab_rec *r,
                          struct err *e);
/* An endpoint's credentials (all of the tenant's with endpoint NULL), ordered by kid. */
int store_acme_eab_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                        struct acme_eab_rec ***out, size_t *n, struct err *e);

/* ---- device enrollment (issue 17): endpoints and credentials (schema 17) ---- */

/*
 * An enrollment endpoint of a tenant: a protocol ("est"; "scep" later) serving
 * devices certificates of one CA under one profile.
 */
struct enroll_endpoint_rec {
    char *tenant;
    char *name;     /* 1-63 of [a-z0-9-_.] (name_valid) */
    char *protocol; /* "est" */
    char *ca;       /* the tenant's CA that issues */
    char *profile;  /* the leaf profile it issues under */
    char *status;   /* "active", "disabled" (every request refused) */
    char *settings; /* JSON: how devices authenticate, trusted client CAs (svc_enroll.c) */
    int64_t created, updated;
};
void enroll_endpoint_rec_free(struct enroll_endpoint_rec *r);
void enroll_endpoint_rec_list_free(struct enroll_endpoint_rec **list, size_t n);
/* -1/ERR_CONFLICT if tenant has an enrollment endpoint of that name. */
int store_enroll_endpoint_insert(struct store_tx *tx, const char *tenant,
                                 const struct enroll_endpoint_rec *r, struct err *e);
/* Sets ca, profile, status, settings and updated; -1/ERR_NOT_FOUND if none. */
int store_enroll_endpoint_update(struct store_tx *tx, const char *tenant,
                                 const struct enroll_endpoint_rec *r, struct err *e);
int store_enroll_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                              struct enroll_endpoint_rec **out, struct err *e);
/* Ordered by name. */
int store_enroll_endpoint_list(struct store_tx *tx, const char *tenant,
                               struct enroll_endpoint_rec ***out, size_t *n, struct err *e);

/*
 * An enrollment credential of an endpoint: an EST Basic user and password, a
 * SCEP challenge password.  Only an argon2id hash of the secret is stored.
 */
struct enroll_credential_rec {
    char *tenant;
    char *endpoint;
    char *id;          /* the user name devices send (EST Basic) */
    char *secret_hash; /* argon2id (svc_token_secret_hash) */
    int64_t reusable;  /* 0: one enrollment, then "used" */
    char *status;      /* "active", "used", "revoked" */
    int64_t uses;      /* one-time: 1 once used (reusable ones count nothing: no write each) */
    char *creators;    /* who made it: a JSON array as token_rec.creators */
    int64_t created, updated;
};
void enroll_credential_rec_free(struct enroll_credential_rec *r);
void enroll_credential_rec_list_free(struct enroll_credential_rec **list, size_t n);
/* -1/ERR_CONFLICT if the endpoint has a credential of that id. */
int store_enroll_credential_insert(struct store_tx *tx, const char *tenant,
                                   const struct enroll_credential_rec *r, struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_enroll_credential_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                                const char *id, struct enroll_credential_rec **out, struct err *e);
/* Sets status, uses and updated; -1/ERR_NOT_FOUND if none. */
int store_enroll_credential_update(struct store_tx *tx, const char *tenant,
                                   const struct enroll_credential_rec *r, struct err *e);
/* An endpoint's credentials, ordered by id. */
int store_enroll_credential_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                                 struct enroll_credential_rec ***out, size_t *n, struct err *e);
/* ---- CMP (issue 18): endpoints, shared secrets, transactions, used nonces ---- */

/* A CMP endpoint of a tenant (served at /.well-known/cmp/p/{tenant}~{name}). */
struct cmp_endpoint_rec {
    char *tenant;
    char *name;     /* 1-63 of [a-z0-9-_.] (name_valid) */
    char *ca;       /* the tenant's CA that issues its certificates */
    char *status;   /* "active", "disabled" (every request is refused) */
    char *settings; /* JSON: profiles, protection, implicit confirm, ... (svc_cmp_admin.c) */
    int64_t created, updated;
    char *key_id;      /* its protection key in the signer (signature protection); NULL if none */
    char *cert_serial; /* the certificate of that key (the endpoint's CA issued it) */
};
void cmp_endpoint_rec_free(struct cmp_endpoint_rec *r);
void cmp_endpoint_rec_list_free(struct cmp_endpoint_rec **list, size_t n);
/* -1/ERR_CONFLICT if tenant has an endpoint of that name. */
int store_cmp_endpoint_insert(struct store_tx *tx, const char *tenant,
                              const struct cmp_endpoint_rec *r, struct err *e);
/* Sets ca, status, settings, updated, key_id and cert_serial of endpoint r->name. */
int store_cmp_endpoint_update(struct store_tx *tx, const char *tenant,
                              const struct cmp_endpoint_rec *r, struct err *e);
int store_cmp_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                           struct cmp_endpoint_rec **out, struct err *e);
/* Ordered by name. */
int store_cmp_endpoint_list(struct store_tx *tx, const char *tenant, struct cmp_endpoint_rec ***out,
                            size_t *n, struct err *e);

/*
 * A shared secret of a CMP endpoint (MAC protection, RFC 4210 section
 * 5.1.3.1): its reference is the senderKID clients send.  The secret is not
 * stored: the signer derives it from key_id and nonce.
 */
struct cmp_secret_rec {
    char *tenant;
    char *endpoint;
    char *ref;      /* the reference (senderKID) */
    char *key_id;   /* the tenant's key in the signer the secret is derived with */
    char *nonce;    /* hex: the derivation's nonce */
    char *settings; /* JSON: profiles it may use, reusable */
    char *status;   /* "active", "revoked" */
    int64_t uses;   /* certificates requested with it */
    int64_t created, updated;
    char *creators; /* who made it: a JSON array as token_rec.creators */
};
void cmp_secret_rec_free(struct cmp_secret_rec *r);
void cmp_secret_rec_list_free(struct cmp_secret_rec **list, size_t n);
/* -1/ERR_CONFLICT if the endpoint has a secret of that reference. */
int store_cmp_secret_insert(struct store_tx *tx, const char *tenant, const struct cmp_secret_rec *r,
                            struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_cmp_secret_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                         const char *ref, struct cmp_secret_rec **out, struct err *e);
/* Sets settings, status, uses and updated; -1/ERR_NOT_FOUND if none. */
int store_cmp_secret_update(struct store_tx *tx, const char *tenant, const struct cmp_secret_rec *r,
                            struct err *e);
/* An endpoint's secrets (all of the tenant's with endpoint NULL), ordered by reference. */
int store_cmp_secret_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                          struct cmp_secret_rec ***out, size_t *n, struct err *e);

/*
 * A CMP transaction (by its transactionID) of an endpoint: a certificate
 * issued and waiting for certConf, one confirmed, or a request waiting for
 * an approval.
 */
struct cmp_transaction_rec {
    char *tenant;
    char *endpoint;
    char *txid;      /* hex of the transactionID */
    char *status;    /* "waiting" (for certConf), "confirmed", "rejected", "pending", "revoked" */
    char *serial;    /* the certificate issued; NULL while pending */
    char *cert_hash; /* hex of its certHash (RFC 4210 §5.3.18), what certConf must send */
    char *requester; /* who asked: "cmp:<endpoint>:<reference>" or "cmp:<endpoint>:cert:<serial>" */
    char *protection;   /* "mac" or "signature" */
    char *request;      /* the pending request's id (approval workflow); NULL if none */
    char *message;      /* pending: the answer's body kind (1 ip, 3 cp, 8 kup); NULL if none */
    char *server_nonce; /* hex of the senderNonce of our last answer (the next recipNonce) */
    int64_t expires;    /* waiting: when an unconfirmed certificate is revoked */
    int64_t created, updated;
};
void cmp_transaction_rec_free(struct cmp_transaction_rec *r);
void cmp_transaction_rec_list_free(struct cmp_transaction_rec **list, size_t n);
/* -1/ERR_CONFLICT if the endpoint has a transaction of that id (a replay). */
int store_cmp_transaction_insert(struct store_tx *tx, const char *tenant,
                                 const struct cmp_transaction_rec *r, struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_cmp_transaction_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                              const char *txid, struct cmp_transaction_rec **out, struct err *e);
/* Sets status, serial, cert_hash, request, message, server_nonce, expires, updated. */
int store_cmp_transaction_update(struct store_tx *tx, const char *tenant,
                                 const struct cmp_transaction_rec *r, struct err *e);
/* The tenant's transactions in status "waiting" that expired before `before`, at most limit. */
int store_cmp_transaction_expired(struct store_tx *tx, const char *tenant, int64_t before,
                                  int limit, struct cmp_transaction_rec ***out, size_t *n,
                                  struct err *e);
/*
 * Deletes tenant's used nonces expired before now and its transactions settled
 * (neither waiting nor pending) before `before`; *n how many rows.
 */
int store_cmp_prune(struct store_tx *tx, const char *tenant, int64_t now, int64_t before,
                    int64_t *n, struct err *e);
/* Files a senderNonce (hex) as used until expires; -1/ERR_CONFLICT if it was already. */
int store_cmp_nonce_use(struct store_tx *tx, const char *tenant, const char *nonce, int64_t expires,
                        struct err *e);

/* An ACME account: one key (by its RFC 7638 thumbprint) per endpoint. */
struct acme_account_rec {
    char *tenant;
    char *endpoint;
    char *id;         /* "acct-<16 hex>": the account URL's last segment */
    char *thumbprint; /* base64url RFC 7638 thumbprint of the account key */
    char *jwk;        /* the account key as a public JWK (JSON) */
    char *status;     /* "valid", "deactivated", "revoked" */
    char *contact;    /* JSON array of URLs */
    char *eab_kid;    /* the credential it was made with, or NULL */
    int64_t created, updated;
    char *creators; /* its credential's makers (schema 16): who else could hold it; NULL = none */
};
void acme_account_rec_free(struct acme_account_rec *r);
void acme_account_rec_list_free(struct acme_account_rec **list, size_t n);
/* -1/ERR_CONFLICT if the endpoint has an account with that key already. */
int store_acme_account_insert(struct store_tx *tx, const char *tenant,
                              const struct acme_account_rec *r, struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_acme_account_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                           const char *id, struct acme_account_rec **out, struct err *e);
/* The account of endpoint whose key has that thumbprint; -1/ERR_NOT_FOUND if none. */
int store_acme_account_by_key(struct store_tx *tx, const char *tenant, const char *endpoint,
                              const char *thumbprint, struct acme_account_rec **out, struct err *e);
/*
 * Sets thumbprint, jwk, status, contact and updated of account r->id;
 * -1/ERR_CONFLICT if another account of the endpoint has the new key.
 */
int store_acme_account_update(struct store_tx *tx, const char *tenant,
                              const struct acme_account_rec *r, struct err *e);
/* The accounts of endpoint made with credential kid, ordered by id. */
int store_acme_account_by_eab(struct store_tx *tx, const char *tenant, const char *endpoint,
                              const char *kid, struct acme_account_rec ***out, size_t *n,
                              struct err *e);

/* An ACME order (RFC 8555 section 7.1.3). */
struct acme_order_rec {
    char *tenant;
    char *endpoint;
    char *id;          /* "ord-<16 hex>" */
    char *account;     /* the account's id */
    char *status;      /* "pending", "ready", "processing", "valid", "invalid" */
    char *identifiers; /* JSON array of {"type", "value"} as asked */
    char *authzs;      /* JSON array of the authorizations' ids, in the identifiers' order */
    char *profile;     /* the profile it is issued under */
    int64_t not_before, not_after; /* as asked (0: none) */
    int64_t expires;
    char *error;    /* JSON problem document, or NULL */
    char *serial;   /* the certificate, once valid */
    char *request;  /* the approval request it waits for (processing), or NULL */
    char *replaces; /* the ARI certificate identifier it replaces (RFC 9773), or NULL */
    int64_t created, updated;
};
void acme_order_rec_free(struct acme_order_rec *r);
void acme_order_rec_list_free(struct acme_order_rec **list, size_t n);
int store_acme_order_insert(struct store_tx *tx, const char *tenant, const struct acme_order_rec *r,
                            struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_acme_order_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                         const char *id, struct acme_order_rec **out, struct err *e);
/* Sets status, error, serial, request and updated; -1/ERR_NOT_FOUND if none. */
int store_acme_order_update(struct store_tx *tx, const char *tenant, const struct acme_order_rec *r,
                            struct err *e);
/* An account's orders, newest first (limit 0 = 100, at most 1000). */
int store_acme_order_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                          const char *account, int limit, int offset, struct acme_order_rec ***out,
                          size_t *n, struct err *e);

/* An ACME authorization and its challenges. */
struct acme_authz_rec {
    char *tenant;
    char *endpoint;
    char *id;          /* "authz-<16 hex>" */
    char *account;     /* the account's id */
    char *ident_type;  /* "dns", "ip" */
    char *ident_value; /* the name (without "*."), or the address */
    int wildcard;      /* asked for "*.<ident_value>" */
    char *status;      /* "pending", "valid", "invalid", "deactivated", "expired", "revoked" */
    int64_t expires;
    char *challenges;   /* JSON array of {"type", "token", "status", "validated", "error"} */
    int64_t validating; /* when the validation of a challenge began (0: none under way) */
    int64_t created, updated;
};
void acme_authz_rec_free(struct acme_authz_rec *r);
void acme_authz_rec_list_free(struct acme_authz_rec **list, size_t n);
int store_acme_authz_insert(struct store_tx *tx, const char *tenant, const struct acme_authz_rec *r,
                            struct err *e);
/* In a write transaction the row stays locked until commit (PostgreSQL: FOR UPDATE). */
int store_acme_authz_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                         const char *id, struct acme_authz_rec **out, struct err *e);
/* Sets status, expires, challenges, validating and updated; -1/ERR_NOT_FOUND if none. */
int store_acme_authz_update(struct store_tx *tx, const char *tenant, const struct acme_authz_rec *r,
                            struct err *e);
/*
 * A valid authorization of the account for the identifier (type, value,
 * wildcard) that expires after `until`, the one expiring last; -1/
 * ERR_NOT_FOUND if none (authorization reuse, RFC 8555 section 7.1.3).
 */
int store_acme_authz_reusable(struct store_tx *tx, const char *tenant, const char *endpoint,
                              const char *account, const char *ident_type, const char *ident_value,
                              int wildcard, int64_t until, struct acme_authz_rec **out,
                              struct err *e);
/*
 * Tenant's authorizations whose validation began before `before` and never
 * ended (the node doing it stopped): at most limit (0 = 100, at most 1000),
 * oldest first.
 */
int store_acme_authz_stalled(struct store_tx *tx, const char *tenant, int64_t before, int limit,
                             struct acme_authz_rec ***out, size_t *n, struct err *e);

/*
 * Nonces (RFC 8555 section 6.5) are made without the database (svc_acme.c:
 * a MAC under the tenant's nonce key); a nonce used is filed here until it
 * expires, so that it is accepted once on every node.  -1/ERR_CONFLICT if
 * nonce was used already.
 */
int store_acme_nonce_use(struct store_tx *tx, const char *tenant, const char *nonce,
                         int64_t expires, struct err *e);
/*
 * Removes tenant's ACME orders that expired before `before` (but those still
 * waiting for an approval) and authorizations that expired 30 days before
 * that (an order kept may name one); *n how many rows.
 */
int store_acme_prune(struct store_tx *tx, const char *tenant, int64_t before, int64_t *n,
                     struct err *e);
/* Removes tenant's used nonces that expired before `before`; *n how many. */
int store_acme_nonce_prune(struct store_tx *tx, const char *tenant, int64_t before, int64_t *n,
                           struct err *e);

/*
 * A tenant's named secret that every node shares (the ACME nonce key): the
 * stored value of name, or, the first time, value (filed now: a write
 * transaction).  *out (caller frees) is what is stored; of two transactions
 * filing at once, on any nodes, both end with the one value stored.
 */
int store_secret_get_or_put(struct store_tx *tx, const char *tenant, const char *name,
                            const char *value, char **out, struct err *e);

/*
 * A suggested renewal window (RFC 9773) set on a certificate by a tenant
 * admin, earlier than the default; none: the default (the last third of its
 * validity).
 */
struct renewal_window_rec {
    char *tenant;
    char *serial;
    int64_t start, end;
    char *reason; /* shown as the explanation, or NULL */
    int64_t created;
};
void renewal_window_rec_free(struct renewal_window_rec *r);
/* Sets (replaces) the window of r->serial. */
int store_renewal_window_put(struct store_tx *tx, const char *tenant,
                             const struct renewal_window_rec *r, struct err *e);
/* -1/ERR_NOT_FOUND if the certificate has none. */
int store_renewal_window_get(struct store_tx *tx, const char *tenant, const char *serial,
                             struct renewal_window_rec **out, struct err *e);

/* ---- expiry notices (issue 21) ------------------------------------------------ */

/* At most this many thresholds per tenant. */
#define NOTICE_THRESHOLDS_MAX 8

/* A tenant's notice settings; none: on, the default thresholds, no extra recipients. */
struct notice_settings_rec {
    char *tenant;
    int enabled;
    char *thresholds; /* JSON array of days, e.g. [30,14,7,1] */
    char *recipients; /* JSON array of e-mail addresses */
    int64_t updated;
};
void notice_settings_rec_free(struct notice_settings_rec *r);
/* -1/ERR_NOT_FOUND if the tenant has none. */
int store_notice_settings_get(struct store_tx *tx, const char *tenant,
                              struct notice_settings_rec **out, struct err *e);
/* Sets (replaces) the tenant's settings. */
int store_notice_settings_put(struct store_tx *tx, const char *tenant,
                              const struct notice_settings_rec *r, struct err *e);
/*
 * The one query of the notice scheduler: the tenant's certificates that are
 * good, not yet expired at now, not renewed (no certificate renewed_from
 * them) and inside a threshold for which no notice was decided yet; not the
 * delegated OCSP responder certificates vouchd renews itself, nor a CA's own
 * certificate (store_notice_ca_due).  days:
 * n (1..NOTICE_THRESHOLDS_MAX) thresholds in days, ascending; a certificate's
 * threshold is the nearest one it has crossed.  Records without der, soonest
 * expiry first, at most limit; the caller frees them.
 */
int store_notice_due(struct store_tx *tx, const char *tenant, int64_t now, const int *days, int n,
                     int limit, struct cert_rec ***out, size_t *count, struct err *e);
/*
 * Records the decision to send the notice of (serial, threshold) with its
 * state ("sent", "pending": to be mailed); -1/ERR_CONFLICT if a notice of
 * that pair was decided already (by this node or another).
 */
int store_notice_claim(struct store_tx *tx, const char *tenant, const char *serial,
                       int64_t threshold, const char *kind, const char *state, int64_t now,
                       struct err *e);
/* A notice decided; kind "cert" (serial: the certificate's) or "ca" (serial: "ca:<name>"). */
struct notice_rec {
    char *tenant;
    char *serial;
    int64_t threshold; /* days */
    char *kind;
    char *state;      /* "pending" (to be mailed), "sent", "failed" (given up) */
    int64_t attempts; /* mail deliveries tried */
    int64_t next_try; /* when a pending notice is mailed (again) */
    int64_t created, sent_at;
};
void notice_rec_free(struct notice_rec *r);
void notice_rec_list_free(struct notice_rec **list, size_t n);
/* Sets the delivery state of a notice after a try (attempts counts up). */
int store_notice_mark(struct store_tx *tx, const char *tenant, const struct notice_rec *r,
                      struct err *e);
/* The tenant's notices (of one state, or all with NULL), newest first, a page. */
int store_notice_list(struct store_tx *tx, const char *tenant, const char *state, int limit,
                      int offset, struct notice_rec ***out, size_t *n, struct err *e);
/* The tenant's pending notices whose next_try is at or before now, oldest first. */
int store_notice_pending(struct store_tx *tx, const char *tenant, int64_t now, int limit,
                         struct notice_rec ***out, size_t *n, struct err *e);
/*
 * As store_notice_due for the tenant's own active CAs (their certificate's
 * notAfter; a notice's serial is "ca:<name>").
 */
int store_notice_ca_due(struct store_tx *tx, const char *tenant, int64_t now, const int *days,
                        int n, int limit, struct ca_rec ***out, size_t *count, struct err *e);

#endif
