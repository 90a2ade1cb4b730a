/*
 * svc_enroll.h — the device and equipment enrollment protocols in svc: CMP
 * endpoints and shared secrets (svc_cmp_admin.c, svc_cmp.c), enrollment
 * endpoints and credentials (svc_enroll.c) and what the EST and SCEP front ends
 * call (svc_est.c, svc_scep.c).  Included by svc.h.
 */
#ifndef VOUCH_SVC_ENROLL_H
#define VOUCH_SVC_ENROLL_H

#include "svc/svc.h"

/* ---- CMP (issue 18): endpoints and shared secrets (svc_cmp_admin.c) ------ */

/*
 * The CMP server (svc_cmp.c): the answer (*out, DER, caller frees) to the
 * PKIMessage req sent to the endpoint of label "<tenant>~<endpoint>".  0
 * with an answer, which may be an error message; -1 with e where no
 * PKIMessage can be formed: ERR_NOT_FOUND for no such endpoint, ERR_INVALID
 * for a body that is no PKIMessage, ERR_INTERNAL / ERR_UNAVAILABLE.
 */
int svc_cmp_answer(struct svc *s, const char *label, const unsigned char *req, size_t len,
                   unsigned char **out, size_t *out_len, struct err *e);
/*
 * Revokes every certificate issued through CMP that waited for its certConf
 * past its endpoint's confirm_seconds (RFC 4210 §5.3.18), as vouchd itself
 * (cessationOfOperation), audited cmp.unconfirmed; per tenant under a lease,
 * so one node of a cluster does it.  How many, or -1.
 */
int svc_cmp_confirm_tick(struct svc *s, struct err *e);
/*
 * Deletes used senderNonces once they expire (a day) and transactions a month
 * after they settled (a waiting or pending one stays); how many rows, or -1.
 */
int svc_cmp_prune_tick(struct svc *s, struct err *e);

#define CMP_PROFILES_MAX         16
#define CMP_CLIENT_CAS_MAX       8
#define CMP_PROTECTION_MAC       1 /* protection kinds an endpoint accepts, as a bit set */
#define CMP_PROTECTION_SIGNATURE 2
/* Between tenant and endpoint in the URL's label: /.well-known/cmp/p/<tenant>~<endpoint>. */
#define CMP_LABEL_SEP "~"

/* An endpoint's settings (cmp_endpoint_rec.settings, parsed; strings owned). */
struct svc_cmp_settings {
    char *profiles[CMP_PROFILES_MAX]; /* leaf profiles of the tenant; [0] the default */
    int nprofiles;
    int protection;         /* CMP_PROTECTION_* accepted (default both) */
    int implicit_confirm;   /* implicitConfirm granted when asked (default no) */
    long confirm_seconds;   /* an unconfirmed certificate is revoked after this (default 300) */
    long time_skew_seconds; /* how far a messageTime may be from ours (default 300) */
    char *client_cas[CMP_CLIENT_CAS_MAX]; /* CAs whose certificates may sign requests */
    int nclient_cas;                      /* 0: the endpoint's own CA */
};
void svc_cmp_settings_clear(struct svc_cmp_settings *st);
/*
 * Reads settings from JSON (a JSON object): unknown members and values out
 * of range refused (ERR_INVALID naming the member); defaults filled in
 * (profiles ["tls-client"], protection mac and signature, no implicit
 * confirm, confirm_seconds 300 (10 to 86400), time_skew_seconds 300 (0 to
 * 86400), client_cas none).  On success *st is the caller's to clear.
 */
int svc_cmp_settings_parse(const json_t *o, struct svc_cmp_settings *st, struct err *e);
/* The JSON form of st (every member, defaults included); a new reference. */
json_t *svc_cmp_settings_json(const struct svc_cmp_settings *st);
/*
 * Creates (create 1: ERR_CONFLICT if it exists; the tenant must be active) or
 * changes (ERR_NOT_FOUND if it does not) tenant's CMP endpoint `name`, as
 * svc_acme_endpoint_put does an ACME endpoint: ca (NULL on a change: kept)
 * an active CA of the tenant, status "active" or "disabled", settings in
 * body (svc_cmp_settings_parse; a change merges, null restores a default);
 * profiles must be leaf profiles and client_cas CAs of the tenant.  Audited
 * as cmp.endpoint.create / cmp.endpoint.update.  *out (caller frees).
 */
int svc_cmp_endpoint_put(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                         const char *ca, const char *status, const json_t *body, int create,
                         struct cmp_endpoint_rec **out, struct err *e);
int svc_cmp_endpoint_get(struct svc *s, const char *tenant, const char *name,
                         struct cmp_endpoint_rec **out, struct err *e);
int svc_cmp_endpoint_list(struct svc *s, const char *tenant, struct cmp_endpoint_rec ***out,
                          size_t *n, struct err *e);
/*
 * The endpoint as the admin API shows it (a new reference): name, ca,
 * status, "path" (/.well-known/cmp/p/<tenant>~<name>, on the public and the
 * API listener), created, updated and every member of its settings.
 */
json_t *svc_cmp_endpoint_json(const struct cmp_endpoint_rec *r);
/*
 * The endpoint's signature protection: a key in the signer (EC P-256) and
 * its certificate from the endpoint's CA under CMP_PROTECTION_PROFILE, made
 * when the endpoint is created (or at its first signed request), and made
 * again (the old key deleted) when the certificate is revoked, gone or in
 * the last third of its life; filed in its row (r updated); audited
 * cmp.protection.
 */
#define CMP_PROTECTION_PROFILE "tls-client"
int svc_cmp_protection_ensure(struct svc *s, struct cmp_endpoint_rec *r, struct err *e);
/*
 * A new shared secret of endpoint: ref (NULL: drawn, "cmp-<16 hex>"; else 1
 * to 64 of [A-Za-z0-9._-]) is the reference (senderKID) clients send;
 * options (NULL or an object) {"profiles": a subset of the endpoint's (none:
 * all), "reusable": bool (default false: one certificate)}.  The secret is
 * derived in the signer from the tenant's CMP secret key (RSA, made with its
 * first secret), the endpoint, the reference and a nonce; *secret
 * (base64url of 32 bytes, caller frees) is shown once and stored nowhere.
 * Audited as cmp.secret.create (without the secret).
 */
int svc_cmp_secret_create(struct svc *s, const struct actor *a, const char *tenant,
                          const char *endpoint, const char *ref, const json_t *options,
                          struct cmp_secret_rec **out, char **secret, struct err *e);
/* Revokes an active secret (ERR_CONFLICT if revoked already).  Audited as cmp.secret.revoke. */
int svc_cmp_secret_revoke(struct svc *s, const struct actor *a, const char *tenant,
                          const char *endpoint, const char *ref, struct err *e);
/* An endpoint's secrets by reference (endpoint NULL: every endpoint's). */
int svc_cmp_secret_list(struct svc *s, const char *tenant, const char *endpoint,
                        struct cmp_secret_rec ***out, size_t *n, struct err *e);
json_t *svc_cmp_secret_json(const struct cmp_secret_rec *r); /* without any secret */

/*
 * Suggests that certificate serial of tenant be renewed between start and
 * end (RFC 9773 renewalInfo; e.g. before a planned revocation), reason the
 * explanation shown (NULL: none); end after start, in the future and not
 * after the certificate expires; ERR_CONFLICT for a revoked certificate.
 * Replaces a window set before.  Audited as cert.renewal_window.
 */
int svc_renewal_window_set(struct svc *s, const struct actor *a, const char *tenant,
                           const char *serial, int64_t start, int64_t end, const char *reason,
                           struct err *e);
/*
 * The suggested renewal window of a certificate: for a revoked one a window
 * wholly past (renew now), else the one set, else the last third of its
 * validity (*reason NULL).  *reason (caller frees) the explanation.
 * ERR_NOT_FOUND if the certificate is unknown.
 */
int svc_renewal_window(struct svc *s, const char *tenant, const char *serial, int64_t *start,
                       int64_t *end, char **reason, struct err *e);

/* ---- device enrollment (issue 17): endpoints, credentials (svc_enroll.c) ---- */

#define SVC_ENROLL_AUTH_BASIC 1 /* an enrollment credential as HTTP Basic user and password */
#define SVC_ENROLL_AUTH_CERT  2 /* a TLS client certificate of a client CA */
#define SVC_ENROLL_CAS_MAX    8

/* An endpoint's settings (enroll_endpoint_rec.settings, parsed; strings owned). */
struct svc_enroll_settings {
    int auth;                             /* SVC_ENROLL_AUTH_* (default both) */
    char *client_cas[SVC_ENROLL_CAS_MAX]; /* CAs of the tenant (default: the endpoint's) */
    int nclient_cas;
    int retry_after;      /* seconds a client waits while its request awaits approval (60) */
    int legacy;           /* SCEP: DES/3DES envelopes and SHA-1 accepted ("legacy_algorithms") */
    char *ra_key_id;      /* SCEP: the RA key in the signer, set by svc (settings "ra"); or NULL */
    char *ra_cert_serial; /* SCEP: the RA certificate (the endpoint's CA issued it); or NULL */
};
void svc_enroll_settings_clear(struct svc_enroll_settings *st);
/* st from a settings object (NULL: defaults); ca: the endpoint's (the default client CA). */
int svc_enroll_settings_parse(const json_t *o, const char *ca, struct svc_enroll_settings *st,
                              struct err *e);
json_t *svc_enroll_settings_json(const struct svc_enroll_settings *st);

/* An endpoint to make (every field) or change (name, and what is not NULL). */
struct svc_enroll_put {
    const char *name;
    const char *protocol; /* "est" or "scep" (creation only) */
    const char *ca;
    const char *profile;
    const char *status;     /* "active", "disabled" */
    const json_t *settings; /* members replace the stored ones; NULL: none */
};
/*
 * Creates (create) or changes an enrollment endpoint of tenant: an active CA,
 * a leaf profile and client CAs that are active CAs of the tenant.  Audited
 * as enroll.endpoint.create / enroll.endpoint.update.  *out (caller frees).
 */
int svc_enroll_endpoint_put(struct svc *s, const struct actor *a, const char *tenant,
                            const struct svc_enroll_put *q, int create,
                            struct enroll_endpoint_rec **out, struct err *e);
int svc_enroll_endpoint_get(struct svc *s, const char *tenant, const char *name,
                            struct enroll_endpoint_rec **out, struct err *e);
int svc_enroll_endpoint_list(struct svc *s, const char *tenant, struct enroll_endpoint_rec ***out,
                             size_t *n, struct err *e);
/* The endpoint as the API shows it, with its URLs (paths on the API listener). */
json_t *svc_enroll_endpoint_json(const struct enroll_endpoint_rec *r);
/*
 * A credential of endpoint: id given or "cred-<16 hex>", one-time unless
 * reusable; *secret (caller frees) is shown once and stored nowhere (an
 * argon2id hash of it is).  Audited as enroll.credential.create.
 */
int svc_enroll_credential_create(struct svc *s, const struct actor *a, const char *tenant,
                                 const char *endpoint, const char *id, int reusable,
                                 struct enroll_credential_rec **out, char **secret, struct err *e);
/* Revokes it (no enrollment with it from now on); audited as enroll.credential.revoke. */
int svc_enroll_credential_revoke(struct svc *s, const struct actor *a, const char *tenant,
                                 const char *endpoint, const char *id,
                                 struct enroll_credential_rec **out, struct err *e);
int svc_enroll_credential_list(struct svc *s, const char *tenant, const char *endpoint,
                               struct enroll_credential_rec ***out, size_t *n, struct err *e);
json_t *svc_enroll_credential_json(const struct enroll_credential_rec *r); /* no secret */

/* ---- EST (RFC 7030) enrollment (svc_est.c), for the front end in src/api/api_est.c ---- */

/* What a device presented. */
struct svc_est_client {
    const char *user, *password; /* HTTP Basic, or NULL */
    const unsigned char *cert;   /* the TLS client certificate (DER, unverified), or NULL */
    size_t cert_len;
};
/* What an enrollment gave: the certificate, or a pending request. */
struct svc_est_result {
    unsigned char *der; /* the certificate (DER) */
    size_t der_len;
    int pending;        /* 1: waiting for approval; come back after retry_after seconds */
    int retry_after;    /* seconds */
    char *request;      /* the pending request's id */
    unsigned char *key; /* serverkeygen: the key made by the signer, PKCS#8 DER (wiped on clear) */
    size_t key_len;
};
void svc_est_result_clear(struct svc_est_result *r);
/*
 * The certificates of the endpoint's CA: its own then those above it (DER one
 * after another, *der caller frees).  ERR_NOT_FOUND when tenant has no active
 * EST endpoint of that name.
 */
int svc_est_cacerts(struct svc *s, const char *tenant, const char *endpoint, unsigned char **der,
                    size_t *len, struct err *e);
/* 0 if the endpoint is an active EST endpoint (its CSR attributes are the same for all). */
int svc_est_csrattrs(struct svc *s, const char *tenant, const char *endpoint, struct err *e);
/*
 * simpleenroll (reenroll 0) or simplereenroll (1) with the CSR (DER): the
 * device authenticated as the endpoint allows (ERR_UNAUTHENTICATED, audited),
 * the CSR read (ERR_INVALID) and, for reenroll, with the subject and SANs of
 * the client certificate being renewed; then submitted through svc_submit
 * (its refusals as it gives them: ERR_POLICY for the profile, ERR_LIMIT...).
 * A repeat of a pending enrollment collects its outcome.  0 with *res.
 */
int svc_est_enroll(struct svc *s, const char *tenant, const char *endpoint,
                   const struct svc_est_client *c, int reenroll, const unsigned char *csr,
                   size_t csr_len, struct svc_est_result *res, struct err *e);
/*
 * serverkeygen (RFC 7030 §4.4): as simpleenroll, but the signer makes the key
 * (of the CSR key's type) and res->key is it, PKCS#8.  Under a workflow it
 * is refused (ERR_CONFLICT): a waiting request would have to keep the key.
 */
int svc_est_serverkeygen(struct svc *s, const char *tenant, const char *endpoint,
                         const struct svc_est_client *c, const unsigned char *csr, size_t csr_len,
                         struct svc_est_result *res, struct err *e);

/* ---- SCEP (svc_scep.c), for the front end in src/api/api_scep.c ---- */

#define SCEP_RA_PROFILE                                                                            \
    "tls-client" /* the built-in leaf profile the RA certificate is issued under */

/*
 * 0 if tenant has an active SCEP endpoint of that name (ERR_NOT_FOUND, or
 * ERR_FORBIDDEN for a disabled one); *legacy: whether it accepts DES3 and
 * SHA-1.
 */
int svc_scep_endpoint(struct svc *s, const char *tenant, const char *endpoint, int *legacy,
                      struct err *e);
/*
 * GetCACert: the endpoint's RA certificate (*ra) and the certificates of its
 * CA, its own then those above it (*cas, DER one after another); both caller
 * frees.  The RA key and certificate are made first if the endpoint has none
 * good with more than a third of its life left (svc_scep_ra_ensure).
 */
int svc_scep_cacert(struct svc *s, const char *tenant, const char *endpoint, unsigned char **ra,
                    size_t *ra_len, unsigned char **cas, size_t *cas_len, struct err *e);
/*
 * Makes the RA key of a SCEP endpoint (RSA-2048, in the tenant's key store,
 * purpose "ra") and its certificate (from the endpoint's CA under
 * SCEP_RA_PROFILE), filed in the endpoint's settings ("ra") and audited
 * ("scep.ra"), unless it has a good one from its CA with more than a third
 * of its life left.  The replaced key is deleted.
 */
int svc_scep_ra_ensure(struct svc *s, const char *tenant, const char *endpoint, struct err *e);

/*
 * PKIOperation (RFC 8894 §3.3) as svc sees it: the transport reads the
 * pkiMessage (src/scep), has its envelope opened with svc_scep_unwrap, hands
 * what the device asked for to svc_scep_request, and signs the CertRep with
 * svc_scep_sign.  The RA key never leaves the signer.
 */
struct svc_scep_ra {
    struct svc *svc;
    char *tenant, *key_id; /* the RA key in the signer */
    unsigned char *cert;   /* the RA certificate (DER) */
    size_t cert_len;
    int legacy; /* DES3 and SHA-1 accepted */
};
void svc_scep_ra_clear(struct svc_scep_ra *ra);
/* The endpoint's RA (made first if it has none good: svc_scep_ra_ensure) and settings. */
int svc_scep_ra_get(struct svc *s, const char *tenant, const char *endpoint, struct svc_scep_ra *ra,
                    struct err *e);
/* scep_unwrap_fn with arg a struct svc_scep_ra: the signer's RA decryption (signer_ra_decrypt). */
int svc_scep_unwrap(void *arg, const unsigned char *enc, size_t enc_len, unsigned char *key,
                    size_t key_len, struct err *e);
/* scep_sign_fn with arg a struct svc_scep_ra: the RA key signs a CertRep's attributes. */
int svc_scep_sign(void *arg, const char *md, const unsigned char *tbs, size_t len,
                  unsigned char **sig, size_t *sig_len, struct err *e);

/* RFC 8894's numbers: messageType, pkiStatus, failInfo. */
#define SVC_SCEP_RENEWALREQ  17
#define SVC_SCEP_PKCSREQ     19
#define SVC_SCEP_CERTPOLL    20
#define SVC_SCEP_GETCERT     21
#define SVC_SCEP_GETCRL      22
#define SVC_SCEP_SUCCESS     0
#define SVC_SCEP_FAILURE     2
#define SVC_SCEP_PENDING     3
#define SVC_SCEP_BADALG      0
#define SVC_SCEP_BADMSGCHECK 1
#define SVC_SCEP_BADREQUEST  2
#define SVC_SCEP_BADTIME     3
#define SVC_SCEP_BADCERTID   4

/* What a device asked for (its pkiMessage opened). */
struct svc_scep_request {
    int type;                 /* SVC_SCEP_PKCSREQ ... */
    const char *txid;         /* transactionID */
    X509 *signer;             /* the certificate that signed the message */
    const unsigned char *csr; /* PKCSReq, RenewalReq: the PKCS#10 request (DER) */
    size_t csr_len;
    const X509_NAME *issuer;    /* CertPoll, GetCert, GetCRL: the issuer named */
    const ASN1_INTEGER *serial; /* GetCert, GetCRL: the serial named */
};
/* The answer: pkiStatus, failInfo, and on success certificates (DER one after another) or a CRL. */
struct svc_scep_answer {
    int status, fail;
    unsigned char *certs, *crl;
    size_t certs_len, crl_len;
};
void svc_scep_answer_clear(struct svc_scep_answer *a);
/*
 * Answers q for the endpoint (RFC 8894 §3.3): PKCSReq with a challenge
 * password "<credential id>:<secret>" of one of the endpoint's enrollment
 * credentials, RenewalReq signed by a good certificate of the endpoint's CA
 * with its subject and SANs, both submitted through svc_submit (PENDING
 * under a workflow; the request filed under the idempotency key
 * "scep-<hash of endpoint, transactionID and the signer's public key>", which
 * CertPoll and a repeat collect); GetCert (a certificate of the endpoint's
 * CA, for a device holding one) and GetCRL (the CA's latest CRL).  Refusals
 * are answers (FAILURE with failInfo), audited as scep.refused; -1 with e
 * only where nothing can be answered (the store or the signer down).
 */
int svc_scep_request(struct svc *s, const char *tenant, const char *endpoint,
                     const struct svc_scep_request *q, struct svc_scep_answer *a, struct err *e);

#endif
