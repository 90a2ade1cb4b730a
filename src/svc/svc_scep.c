/*
 * svc_scep.c — SCEP (RFC 8894) endpoints' state for the transport in
 * src/api/api_scep.c: an endpoint is an enrollment endpoint of protocol
 * "scep" (svc_enroll.c) and has an RA: an RSA key in the tenant's key store
 * (purpose "ra": the signer opens envelopes and signs replies with it, and
 * nothing else) and its certificate from the endpoint's CA.  Both are filed
 * in the endpoint's settings ("ra": key_id and cert_serial) and renewed when
 * the certificate is revoked, gone, issued by another CA than the endpoint's * or in the last third
 * of its life, which is checked at every GetCACert and PKIOperation.  PKIOperation
 * (svc_scep_request): PKCSReq with an enrollment credential as challenge and RenewalReq signed by
 * the certificate renewed go through the one door (svc_submit) as EST's enrollments do; CertPoll
 * collects a request held for approval; GetCert and GetCRL read.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/x509.h>

static const struct actor scep_actor = {.id = "scep"};

/* The SCEP endpoint `name` of tenant, active, and its settings; ERR_NOT_FOUND if none. */
static int endpoint_load(struct svc *s, const char *tenant, const char *name,
                         struct enroll_endpoint_rec **ep, struct svc_enroll_settings *st,
                         struct err *e)
{
    json_t *o;
    int rc;

    if (svc_enroll_endpoint_get(s, tenant, name, ep, e) != 0)
        return err_set(e, ERR_NOT_FOUND, "no such SCEP endpoint");
    if (strcmp((*ep)->protocol, "scep") != 0 || strcmp((*ep)->status, "active") != 0) {
        rc = strcmp((*ep)->protocol, "scep") != 0
                 ? err_set(e, ERR_NOT_FOUND, "no such SCEP endpoint")
                 : err_set(e, ERR_FORBIDDEN, "SCEP endpoint %s is disabled", name);
        enroll_endpoint_rec_free(*ep);
        *ep = NULL;
        return rc;
    }
    o = json_loads((*ep)->settings, 0, NULL);
    rc = svc_enroll_settings_parse(o, (*ep)->ca, st, e);
    json_decref(o);
    if (rc != 0) {
        enroll_endpoint_rec_free(*ep);
        *ep = NULL;
    }
    return rc;
}

int svc_scep_endpoint(struct svc *s, const char *tenant, const char *endpoint, int *legacy,
                      struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct svc_enroll_settings st;

    if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
        return -1;
    *legacy = st.legacy;
    svc_enroll_settings_clear(&st);
    enroll_endpoint_rec_free(ep);
    return 0;
}

/* "<endpoint> SCEP RA" as a subject's CN (at most 64 characters). */
static X509_NAME *ra_subject(const char *endpoint)
{
    X509_NAME *name = X509_NAME_new();
    char cn[65];

    snprintf(cn, sizeof(cn), "%s SCEP RA", endpoint);
    if (name != NULL && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                   (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(name);
        name = NULL;
    }
    return name;
}

/*
 * Files key_id and serial as the RA of endpoint ep in its row, unless the row's
 * RA is no longer `seen` (another node renewed it meanwhile: *lost set, 0).
 */
static int ra_file(struct svc *s, const struct enroll_endpoint_rec *ep, const char *seen,
                   const char *key_id, const char *serial, int *lost, struct err *e)
{
    struct enroll_endpoint_rec *cur = NULL;
    struct store_tx *tx = store_begin(s->store, e);
    json_t *o = NULL, *old_ra, *d = NULL;
    const char *now;
    char *detail = NULL;
    int rc = -1;

    if (tx == NULL || store_enroll_endpoint_get(tx, ep->tenant, ep->name, &cur, e) != 0 ||
        (o = json_loads(cur->settings, 0, NULL)) == NULL)
        goto out;
    old_ra = json_object_get(o, "ra");
    now = json_string_value(json_object_get(old_ra, "key_id"));
    if ((now == NULL) != (seen == NULL) || (now != NULL && strcmp(now, seen) != 0)) {
        *lost = 1;
        rc = 0;
        goto out;
    }
    json_object_set_new(o, "ra", json_pack("{s:s, s:s}", "key_id", key_id, "cert_serial", serial));
    free(cur->settings);
    cur->settings = json_dumps(o, JSON_COMPACT);
    cur->updated = time_now();
    d = json_pack("{s:s, s:s, s:s}", "key_id", key_id, "cert_serial", serial, "ca", cur->ca);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    if (store_enroll_endpoint_update(tx, ep->tenant, cur, e) != 0 ||
        svc_audit_ok(tx, ep->tenant, &scep_actor, "scep.ra", ep->name, detail, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    enroll_endpoint_rec_free(cur);
    json_decref(o);
    json_decref(d);
    free(detail);
    return rc;
}

/* Makes a new RA key and certificate for ep and files them (the old key, seen, deleted). */
static int ra_make(struct svc *s, const struct enroll_endpoint_rec *ep, const char *seen,
                   struct err *e)
{
    struct issue_params p = {.ca = ep->ca, .profile = SCEP_RA_PROFILE, .internal = 1};
    struct cert_rec *issued = NULL;
    X509_NAME *subject = ra_subject(ep->name);
    EVP_PKEY *pub = NULL;
    char *key_id = NULL;
    struct err ignored;
    int rc = -1, lost = 0;

    if (subject == NULL)
        return err_ossl(e, ERR_INTERNAL, "scep: cannot make a subject");
    /* What would refuse the certificate is checked before a key is made: a request from the
       network must not buy an RSA key generation it cannot use (a CA disabled, expired...). */
    if (svc_cert_issue_check(s, ep->tenant, &p, NULL, 0, e) != 0) {
        X509_NAME_free(subject);
        return -1;
    }
    if (signer_keygen_for(s->signer, ep->tenant, KEY_RSA_2048, KEY_PURPOSE_RA, &key_id, &pub, e) !=
            0 ||
        svc_issue_for_key(s, &scep_actor, ep->tenant, &p, subject, pub, "scep.ra.issue", &issued,
                          NULL, e) != 0 ||
        ra_file(s, ep, seen, key_id, issued->serial, &lost, e) != 0)
        goto out;
    rc = 0;
    if (!lost && seen != NULL && signer_delete(s->signer, ep->tenant, seen, &ignored) != 0)
        log_warn("tenant %s: SCEP endpoint %s: old RA key %s left behind: %s", ep->tenant, ep->name,
                 seen, ignored.msg);
out:
    if ((rc != 0 || lost) && key_id != NULL &&
        signer_delete(s->signer, ep->tenant, key_id, &ignored) != 0)
        log_warn("tenant %s: SCEP endpoint %s: unused RA key %s left behind: %s", ep->tenant,
                 ep->name, key_id, ignored.msg);
    free(key_id);
    cert_rec_free(issued);
    EVP_PKEY_free(pub);
    X509_NAME_free(subject);
    return rc;
}

/* The RA certificate serial of ep if good, from ep's CA, with more than a third of its life left.
 */
static struct cert_rec *ra_fresh(struct svc *s, const struct enroll_endpoint_rec *ep,
                                 const char *serial, int *unknown)
{
    struct store_tx *tx;
    struct cert_rec *c = NULL;
    struct err e;

    *unknown = 0;
    if (serial == NULL)
        return NULL;
    if ((tx = store_begin_read(s->store, &e)) == NULL) {
        *unknown = 1; /* cannot tell now */
        return NULL;
    }
    if (store_cert_get(tx, ep->tenant, serial, &c, &e) != 0)
        *unknown = e.kind != ERR_NOT_FOUND;
    store_rollback(tx);
    if (c != NULL && (strcmp(c->status, "good") != 0 || strcmp(c->ca, ep->ca) != 0 ||
                      c->not_after - time_now() <= (c->not_after - c->not_before) / 3)) {
        cert_rec_free(c);
        c = NULL;
    }
    return c;
}

/* The good RA certificate of endpoint (made if needed): *out caller frees. */
static int ra_get(struct svc *s, const char *tenant, const char *endpoint, struct cert_rec **out,
                  struct enroll_endpoint_rec **epp, struct err *e)
{
    for (int round = 0; round < 2; round++) {
        struct enroll_endpoint_rec *ep = NULL;
        struct svc_enroll_settings st;
        struct cert_rec *c;
        int unknown = 0, rc;

        if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
            return -1;
        if ((c = ra_fresh(s, ep, st.ra_cert_serial, &unknown)) != NULL) {
            svc_enroll_settings_clear(&st);
            *out = c;
            if (epp != NULL)
                *epp = ep;
            else
                enroll_endpoint_rec_free(ep);
            return 0;
        }
        rc = unknown      ? err_set(e, ERR_UNAVAILABLE, "scep: the store cannot be read")
             : round == 0 ? ra_make(s, ep, st.ra_key_id, e)
                          : err_set(e, ERR_INTERNAL, "scep: the RA certificate made is not good");
        svc_enroll_settings_clear(&st);
        enroll_endpoint_rec_free(ep);
        if (rc != 0)
            return -1;
    }
    return err_set(e, ERR_INTERNAL, "scep: no RA certificate");
}

int svc_scep_ra_ensure(struct svc *s, const char *tenant, const char *endpoint, struct err *e)
{
    struct cert_rec *c = NULL;
    int rc = ra_get(s, tenant, endpoint, &c, NULL, e);

    cert_rec_free(c);
    return rc;
}

int svc_scep_cacert(struct svc *s, const char *tenant, const char *endpoint, unsigned char **ra,
                    size_t *ra_len, unsigned char **cas, size_t *cas_len, struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct cert_rec *c = NULL;
    struct ca_rec *ca = NULL;
    struct store_tx *tx;
    int rc;

    if (ra_get(s, tenant, endpoint, &c, &ep, e) != 0)
        return -1;
    if ((tx = store_begin_read(s->store, e)) == NULL) {
        rc = -1;
        goto out;
    }
    rc = store_ca_get(tx, tenant, ep->ca, &ca, e);
    store_rollback(tx);
    if (rc != 0 || ca->cert_der == NULL) {
        rc = err_set(e, ERR_UNAVAILABLE, "the endpoint's CA has no certificate");
        goto out;
    }
    *cas_len = ca->cert_len + ca->chain_len;
    *cas = xmalloc(*cas_len);
    memcpy(*cas, ca->cert_der, ca->cert_len);
    if (ca->chain_der != NULL)
        memcpy(*cas + ca->cert_len, ca->chain_der, ca->chain_len);
    *ra = c->der;
    *ra_len = c->der_len;
    c->der = NULL;
out:
    ca_rec_free(ca);
    cert_rec_free(c);
    enroll_endpoint_rec_free(ep);
    return rc;
}

/* ---- PKIOperation ------------------------------------------------------------------- */

void svc_scep_ra_clear(struct svc_scep_ra *ra)
{
    if (ra == NULL)
        return;
    free(ra->tenant);
    free(ra->key_id);
    free(ra->cert);
    memset(ra, 0, sizeof(*ra));
}

int svc_scep_ra_get(struct svc *s, const char *tenant, const char *endpoint, struct svc_scep_ra *ra,
                    struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct svc_enroll_settings st;
    struct cert_rec *c = NULL;
    json_t *o;
    int rc;

    memset(ra, 0, sizeof(*ra));
    if (ra_get(s, tenant, endpoint, &c, &ep, e) != 0)
        return -1;
    o = json_loads(ep->settings, 0, NULL);
    rc = svc_enroll_settings_parse(o, ep->ca, &st, e);
    json_decref(o);
    if (rc == 0 && st.ra_key_id == NULL)
        rc = err_set(e, ERR_INTERNAL, "scep: the endpoint has no RA key");
    if (rc == 0) {
        ra->svc = s;
        ra->tenant = xstrdup(tenant);
        ra->key_id = xstrdup(st.ra_key_id);
        ra->legacy = st.legacy;
        ra->cert = c->der;
        ra->cert_len = c->der_len;
        c->der = NULL;
        svc_enroll_settings_clear(&st);
    }
    cert_rec_free(c);
    enroll_endpoint_rec_free(ep);
    return rc;
}

int svc_scep_unwrap(void *arg, const unsigned char *enc, size_t enc_len, unsigned char *key,
                    size_t key_len, struct err *e)
{
    struct svc_scep_ra *ra = arg;

    return signer_ra_decrypt(ra->svc->signer, ra->tenant, ra->key_id, enc, enc_len, key, key_len,
                             e);
}

int svc_scep_sign(void *arg, const char *md, const unsigned char *tbs, size_t len,
                  unsigned char **sig, size_t *sig_len, struct err *e)
{
    struct svc_scep_ra *ra = arg;
    EVP_PKEY *key = svc_key(ra->svc, ra->tenant, ra->key_id, e);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 0;
    int rc = -1;

    if (key == NULL || ctx == NULL)
        goto out;
    if (EVP_DigestSignInit(ctx, NULL, EVP_get_digestbyname(md), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &n, tbs, len) != 1) {
        err_ossl(e, ERR_UNAVAILABLE, "scep: the RA key cannot sign");
        goto out;
    }
    *sig = xmalloc(n);
    if (EVP_DigestSign(ctx, *sig, &n, tbs, len) != 1) {
        free(*sig);
        *sig = NULL;
        err_ossl(e, ERR_UNAVAILABLE, "scep: the RA key did not sign");
        goto out;
    }
    *sig_len = n;
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}

void svc_scep_answer_clear(struct svc_scep_answer *a)
{
    if (a == NULL)
        return;
    free(a->certs);
    free(a->crl);
    memset(a, 0, sizeof(*a));
}

/* a as FAILURE with fail; 0 (a refusal is an answer). */
static int refuse(struct svc_scep_answer *a, int fail)
{
    a->status = SVC_SCEP_FAILURE;
    a->fail = fail;
    return 0;
}

/* Whether e is the store's or the signer's failure (nothing can be answered) rather than a refusal.
 */
static int infrastructure(const struct err *e)
{
    return e->kind == ERR_UNAVAILABLE || e->kind == ERR_INTERNAL;
}

/*
 * "scep-" and 40 hex digits of SHA-256 over the endpoint, the transactionID
 * and the public key of the certificate that signed the message: a PKCSReq,
 * its repeats and its CertPolls (signed with the same key) share it, and
 * only the holder of that key can collect what it names.
 */
static char *enroll_key(const char *endpoint, const char *txid, X509 *signer)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    /* The key's bits as the certificate has them (no encoder of OpenSSL runs). */
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(signer);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *hex, *key;

    if (bits == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, endpoint, strlen(endpoint) + 1) != 1 ||
        EVP_DigestUpdate(ctx, txid, strlen(txid) + 1) != 1 ||
        EVP_DigestUpdate(ctx, ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits)) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        abort(); /* SHA-256 of bytes in memory does not fail */
    EVP_MD_CTX_free(ctx);
    hex = hex_encode(md, 20);
    key = xasprintf("scep-%s", hex);
    free(hex);
    return key;
}

/*
 * The certificate a direct issuance filed under key (no approval), into a, if
 * it was issued for op (NULL: whatever it was); 1, 0 if none, -1.
 */
static int collect_issued(struct svc *s, const char *tenant, const char *key,
                          const struct svc_op *op, struct svc_scep_answer *a, struct err *e)
{
    char *hash = op != NULL ? svc_op_hash(op) : NULL;
    struct store_tx *tx = store_begin_read(s->store, e);
    struct idempotency_rec *k = NULL;
    struct cert_rec *c = NULL;
    int rc = 0;

    if (tx == NULL)
        return -1;
    if (store_idempotency_get(tx, tenant, key, &k, e) == 0 &&
        strcmp(k->outcome, "certificate") == 0 &&
        (hash == NULL || strcmp(hash, k->request_hash) == 0) &&
        store_cert_get(tx, tenant, k->object, &c, e) == 0) {
        a->status = SVC_SCEP_SUCCESS;
        a->certs = c->der;
        a->certs_len = c->der_len;
        c->der = NULL;
        rc = 1;
    } else if (infrastructure(e)) {
        rc = -1;
    }
    store_rollback(tx);
    idempotency_rec_free(k);
    cert_rec_free(c);
    free(hash);
    return rc;
}

/*
 * What an earlier request under key led to into a: 1 if there was one, 0 if
 * not (*filed: the key names a direct issuance), -1 (e).
 */
static int collect_into(struct svc *s, const char *tenant, const char *key,
                        struct svc_scep_answer *a, int *filed, struct err *e)
{
    struct svc_est_result res = {0};
    int got = svc_enroll_collect(s, tenant, key, 60, &res, filed, e);

    if (got < 0 && infrastructure(e)) {
        svc_est_result_clear(&res);
        return -1;
    }
    if (got < 0) {
        refuse(a, SVC_SCEP_BADREQUEST); /* refused by an approver */
    } else if (got > 0 && res.pending) {
        a->status = SVC_SCEP_PENDING;
    } else if (got > 0) {
        a->status = SVC_SCEP_SUCCESS;
        a->certs = res.der;
        a->certs_len = res.der_len;
        res.der = NULL;
    }
    svc_est_result_clear(&res);
    return got != 0 ? 1 : 0;
}

/* The device behind a message: an actor, and what it renews or the credential it used. */
struct device {
    char *id, *principal;
    struct enroll_credential_rec *cred;
    struct cert_rec *old;
    X509 *cert;
};

static void device_clear(struct device *d)
{
    free(d->id);
    free(d->principal);
    enroll_credential_rec_free(d->cred);
    cert_rec_free(d->old);
    X509_free(d->cert);
    memset(d, 0, sizeof(*d));
}

static const char *const requester_role[] = {"requester"};

static void device_actor(const struct device *d, struct actor *a)
{
    memset(a, 0, sizeof(*a));
    a->id = d->id;
    a->principal = d->principal;
    a->roles = requester_role;
    a->nroles = 1;
    a->creators = d->cred != NULL ? d->cred->creators : NULL;
}

/* The credential "<id>:<secret>" of challenge, checked; ERR_UNAUTHENTICATED if not good. */
static int device_challenge(struct svc *s, const struct enroll_endpoint_rec *ep,
                            const char *challenge, struct device *d, struct err *e)
{
    const char *colon = challenge ? strchr(challenge, ':') : NULL;
    struct store_tx *tx;
    char *id;
    int rc;

    if (colon == NULL || colon == challenge || strlen(challenge) > 512)
        return err_set(e, ERR_UNAUTHENTICATED,
                       "challengePassword: \"<credential>:<secret>\" of an enrollment credential");
    id = xstrndup(challenge, (size_t)(colon - challenge));
    if ((tx = store_begin_read(s->store, e)) == NULL) {
        free(id);
        return -1;
    }
    rc = store_enroll_credential_get(tx, ep->tenant, ep->name, id, &d->cred, e);
    store_rollback(tx);
    if (rc != 0 && infrastructure(e))
        rc = -1;
    else if (rc != 0 ||
             !svc_enroll_secret_verify(ep->tenant, ep->name, id, colon + 1, d->cred->secret_hash))
        rc = err_set(e, ERR_UNAUTHENTICATED,
                     "challengePassword: unknown credential or wrong secret");
    else if (strcmp(d->cred->status, "active") != 0)
        rc = err_set(e, ERR_UNAUTHENTICATED, "credential %s: %s", id, d->cred->status);
    if (rc == 0) {
        d->id = xasprintf("scep:%s/%s", ep->name, id);
        d->principal = xstrdup(d->id);
    }
    free(id);
    return rc;
}

/* The certificate that signed a message, a good one of the endpoint's CA in the tenant's records.
 */
static int device_cert(struct svc *s, const struct enroll_endpoint_rec *ep,
                       const struct svc_scep_request *q, struct device *d, struct err *e)
{
    struct store_tx *tx;
    char *serial = NULL;
    int rc = -1;

    X509_up_ref(q->signer);
    d->cert = q->signer;
    if (X509_cmp_current_time(X509_get0_notBefore(d->cert)) >= 0 ||
        X509_cmp_current_time(X509_get0_notAfter(d->cert)) <= 0)
        return err_set(e, ERR_UNAUTHENTICATED, "signer certificate: not within its validity");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    serial = serial_hex(X509_get0_serialNumber(d->cert));
    if (!svc_enroll_issued_by(s, tx, ep->tenant, ep->ca, d->cert))
        err_set(e, ERR_UNAUTHENTICATED, "signer certificate: not issued by the endpoint's CA");
    else if (serial == NULL || store_cert_get(tx, ep->tenant, serial, &d->old, e) != 0)
        err_set(e, ERR_UNAUTHENTICATED, "signer certificate: not one of the tenant's");
    else if (strcmp(d->old->status, "good") != 0)
        err_set(e, ERR_UNAUTHENTICATED, "signer certificate: %s", d->old->status);
    else
        rc = 0;
    store_rollback(tx);
    if (rc == 0) {
        d->id = xasprintf("scep:%s/cert:%s", ep->name, serial);
        d->principal = xstrdup(d->old->requester ? d->old->requester : d->id);
    }
    free(serial);
    return rc;
}

/* Submits the enrollment through the door; a (SUCCESS, PENDING or FAILURE) or -1. */
static int submit(struct svc *s, const struct enroll_endpoint_rec *ep, const struct device *d,
                  const struct svc_scep_request *q, const char *key, int filed,
                  struct svc_scep_answer *a, struct err *e)
{
    int renew = q->type == SVC_SCEP_RENEWALREQ;
    struct svc_op op = {.kind = renew ? SVC_OP_CERT_RENEW : SVC_OP_CERT_ISSUE,
                        .ca = renew ? NULL : ep->ca,
                        .profile = renew ? NULL : ep->profile,
                        .serial = renew ? d->old->serial : NULL,
                        .csr = (const char *)q->csr,
                        .csr_len = q->csr_len};
    struct svc_outcome out = {0};
    struct actor act;
    int once = d->cred != NULL && !d->cred->reusable, rc;

    /* A key naming a certificate issued at once: the same request again (its answer was
       lost) gets that certificate; another one with the same key pair and transactionID
       (certmonger's resubmit) is a new issuance, filed without the key. */
    if (filed && (rc = collect_issued(s, ep->tenant, key, &op, a, e)) != 0)
        return rc < 0 ? -1 : 0;
    if (filed)
        key = NULL;
    device_actor(d, &act);
    if (once && svc_enroll_credential_move(s, d->cred, "active", "used", 1, e) != 0)
        return infrastructure(e) ? -1 : refuse(a, SVC_SCEP_BADREQUEST);
    rc = svc_submit(s, &act, ep->tenant, &op, key, &out, e);
    if (rc != 0 && once) {
        struct err ignored;
        (void)svc_enroll_credential_move(s, d->cred, "used", "active", -1, &ignored);
    }
    if (rc != 0) {
        rc = infrastructure(e) ? -1 : refuse(a, SVC_SCEP_BADREQUEST); /* audited by the door */
    } else if (out.pending) {
        a->status = SVC_SCEP_PENDING;
    } else {
        a->status = SVC_SCEP_SUCCESS;
        a->certs = out.cert->der;
        a->certs_len = out.cert->der_len;
        out.cert->der = NULL;
    }
    svc_outcome_clear(&out);
    return rc;
}

/*
 * A PKCS#10 request read for its attributes only (RFC 2986 §4): the key is
 * kept as the DER it is (an ANY), so OpenSSL does not decode it (csr_read
 * reads the rest, its own way).
 */
typedef struct {
    ASN1_INTEGER *version;
    X509_NAME *subject;
    ASN1_TYPE *spki;
    STACK_OF(X509_ATTRIBUTE) * attributes;
} SCEP_CSR_INFO;
typedef struct {
    SCEP_CSR_INFO *info;
    ASN1_TYPE *algorithm;
    ASN1_TYPE *signature;
} SCEP_CSR;
DECLARE_ASN1_FUNCTIONS(SCEP_CSR)
// clang-format off
ASN1_SEQUENCE(SCEP_CSR_INFO) = {
    ASN1_SIMPLE(SCEP_CSR_INFO, version, ASN1_INTEGER),
    ASN1_SIMPLE(SCEP_CSR_INFO, subject, X509_NAME),
    ASN1_SIMPLE(SCEP_CSR_INFO, spki, ASN1_ANY),
    ASN1_IMP_SET_OF_OPT(SCEP_CSR_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END(SCEP_CSR_INFO)
ASN1_SEQUENCE(SCEP_CSR) = {
    ASN1_SIMPLE(SCEP_CSR, info, SCEP_CSR_INFO),
    ASN1_SIMPLE(SCEP_CSR, algorithm, ASN1_ANY),
    ASN1_SIMPLE(SCEP_CSR, signature, ASN1_ANY),
} ASN1_SEQUENCE_END(SCEP_CSR)
IMPLEMENT_ASN1_FUNCTIONS(SCEP_CSR)
        // clang-format on

        /*
         * The challengePassword attribute (RFC 2985 §5.4.1: a DirectoryString) of the
         * PKCS#10 request csr, a new string; NULL if it has none (or not one string).
         */
        static char *
        csr_challenge(const unsigned char *csr, size_t len)
{
    const unsigned char *p = csr;
    SCEP_CSR *r = d2i_SCEP_CSR(NULL, &p, (long)len);
    STACK_OF(X509_ATTRIBUTE) *attrs = r != NULL ? r->info->attributes : NULL;
    int i = attrs != NULL ? X509at_get_attr_by_NID(attrs, NID_pkcs9_challengePassword, -1) : -1;
    X509_ATTRIBUTE *attr = i >= 0 ? X509at_get_attr(attrs, i) : NULL;
    ASN1_TYPE *t =
        attr != NULL && X509_ATTRIBUTE_count(attr) == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
    const ASN1_STRING *v = t != NULL ? t->value.asn1_string : NULL;
    char *out = NULL;

    if (v != NULL &&
        (t->type == V_ASN1_PRINTABLESTRING || t->type == V_ASN1_UTF8STRING ||
         t->type == V_ASN1_IA5STRING || t->type == V_ASN1_T61STRING) &&
        memchr(ASN1_STRING_get0_data(v), '\0', (size_t)ASN1_STRING_length(v)) == NULL) {
        out = xmalloc((size_t)ASN1_STRING_length(v) + 1);
        memcpy(out, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
        out[ASN1_STRING_length(v)] = '\0';
    }
    SCEP_CSR_free(r);
    ERR_clear_error();
    return out;
}

/* Whether csr's self-signature fails (a badMessageCheck rather than a badRequest). */
static int csr_signature_fails(const unsigned char *csr, size_t len)
{
    const unsigned char *p = csr;
    X509_REQ *x = d2i_X509_REQ(NULL, &p, (long)len);
    int fails = x == NULL || X509_REQ_verify(x, X509_REQ_get0_pubkey(x)) != 1;

    X509_REQ_free(x);
    ERR_clear_error();
    return fails;
}

/* PKCSReq and RenewalReq. */
static int enroll(struct svc *s, const struct enroll_endpoint_rec *ep,
                  const struct svc_scep_request *q, X509 *signer, struct svc_scep_answer *a,
                  struct err *e)
{
    const char *action = q->type == SVC_SCEP_RENEWALREQ ? "scep.renewalreq" : "scep.pkcsreq";
    struct actor anon = {.id = "scep"}, act;
    struct issue_request req = {0};
    struct device d = {0};
    struct err csr_e;
    char *key = enroll_key(ep->name, q->txid, signer);
    int rc, got, filed = 0, csr_rc = csr_read(q->csr, q->csr_len, 0, &req, &csr_e);

    /* RFC 8894 §3.3.1: the request's own signature first (badMessageCheck), then its content
       (csr_read checks the signature too: only when it refuses is the reason looked for). */
    if (csr_rc != 0 && csr_signature_fails(q->csr, q->csr_len)) {
        err_set(e, ERR_INVALID, "%s: the CSR's signature does not verify", action);
        svc_audit_unproven(s, ep->tenant, &anon, "scep.refused", ep->name, e);
        rc = refuse(a, SVC_SCEP_BADMSGCHECK);
        goto out;
    }
    if ((got = collect_into(s, ep->tenant, key, a, &filed, e)) != 0) { /* a repeat */
        rc = got < 0 ? -1 : 0;
        goto out;
    }
    if (q->type == SVC_SCEP_RENEWALREQ) {
        rc = device_cert(s, ep, q, &d, e);
    } else {
        char *challenge = csr_challenge(q->csr, q->csr_len);
        rc = device_challenge(s, ep, challenge, &d, e);
        if (challenge != NULL)
            secure_zero(challenge, strlen(challenge));
        free(challenge);
    }
    if (rc != 0) {
        if (infrastructure(e))
            goto out;
        svc_audit_unproven(s, ep->tenant, &anon, "scep.refused", ep->name, e);
        rc = refuse(a, SVC_SCEP_BADREQUEST);
        goto out;
    }
    if (csr_rc != 0 || (d.old != NULL && svc_enroll_same_names(&req, d.cert, e) != 0)) {
        if (csr_rc != 0)
            *e = csr_e;
        device_actor(&d, &act);
        svc_audit_refusal(s, ep->tenant, &act, action, ep->name, e);
        rc = refuse(a, SVC_SCEP_BADREQUEST);
        goto out;
    }
    rc = submit(s, ep, &d, q, key, filed, a, e);
out:
    free(key);
    issue_request_clear(&req);
    device_clear(&d);
    ERR_clear_error();
    return rc;
}

/* Whether name is the subject of the endpoint's CA. */
static int names_ca(struct svc *s, const struct enroll_endpoint_rec *ep, const X509_NAME *name,
                    struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct ca_rec *r = NULL;
    X509 *ca = NULL;
    int yes = 0;

    if (tx == NULL)
        return -1;
    if (store_ca_get(tx, ep->tenant, ep->ca, &r, e) == 0 && (ca = svc_ca_cert(s, r, e)) != NULL)
        yes = X509_NAME_cmp(name, X509_get_subject_name(ca)) == 0;
    store_rollback(tx);
    X509_free(ca);
    ca_rec_free(r);
    return yes;
}

/* GetCert: a certificate of the endpoint's CA, to a device holding one of its certificates. */
static int getcert(struct svc *s, const struct enroll_endpoint_rec *ep,
                   const struct svc_scep_request *q, struct svc_scep_answer *a, struct err *e)
{
    struct actor anon = {.id = "scep"};
    struct device d = {0};
    struct cert_rec *c = NULL;
    struct store_tx *tx;
    char *serial = NULL;
    int rc = 0, named;

    if (device_cert(s, ep, q, &d, e) != 0) {
        if (infrastructure(e))
            rc = -1;
        else {
            svc_audit_unproven(s, ep->tenant, &anon, "scep.refused", ep->name, e);
            refuse(a, SVC_SCEP_BADREQUEST);
        }
        goto out;
    }
    if ((named = names_ca(s, ep, q->issuer, e)) < 0) {
        rc = -1;
        goto out;
    }
    serial = serial_hex(q->serial);
    if (!named || serial == NULL || (tx = store_begin_read(s->store, e)) == NULL) {
        rc = named && serial != NULL ? -1 : refuse(a, SVC_SCEP_BADCERTID);
        goto out;
    }
    if (store_cert_get(tx, ep->tenant, serial, &c, e) != 0 || strcmp(c->ca, ep->ca) != 0) {
        rc = c == NULL && infrastructure(e) ? -1 : refuse(a, SVC_SCEP_BADCERTID);
    } else {
        a->status = SVC_SCEP_SUCCESS;
        a->certs = c->der;
        a->certs_len = c->der_len;
        c->der = NULL;
    }
    store_rollback(tx);
out:
    free(serial);
    cert_rec_free(c);
    device_clear(&d);
    return rc;
}

/* GetCRL: the latest complete CRL of the endpoint's CA (a public document: anyone may ask). */
static int getcrl(struct svc *s, const struct enroll_endpoint_rec *ep,
                  const struct svc_scep_request *q, struct svc_scep_answer *a, struct err *e)
{
    struct crl_rec *crl = NULL;
    int named = names_ca(s, ep, q->issuer, e);

    if (named < 0)
        return -1;
    if (!named)
        return refuse(a, SVC_SCEP_BADCERTID);
    if (svc_crl_latest(s, ep->tenant, ep->ca, 0, 0, &crl, e) != 0)
        return infrastructure(e) ? -1 : refuse(a, SVC_SCEP_BADCERTID);
    a->status = SVC_SCEP_SUCCESS;
    a->crl = crl->der;
    a->crl_len = crl->der_len;
    crl->der = NULL;
    crl_rec_free(crl);
    return 0;
}

int svc_scep_request(struct svc *s, const char *tenant, const char *endpoint,
                     const struct svc_scep_request *q, struct svc_scep_answer *a, struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct svc_enroll_settings st;
    X509 *signer = q->signer;
    char *key = NULL;
    int rc = -1, filed = 0;

    memset(a, 0, sizeof(*a));
    if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
        return -1;
    svc_enroll_settings_clear(&st);
    switch (q->type) {
    case SVC_SCEP_PKCSREQ:
    case SVC_SCEP_RENEWALREQ:
        rc = enroll(s, ep, q, signer, a, e);
        break;
    case SVC_SCEP_CERTPOLL:
        key = enroll_key(ep->name, q->txid, signer);
        if ((rc = collect_into(s, tenant, key, a, &filed, e)) == 0 && filed)
            rc = collect_issued(s, tenant, key, NULL, a, e);
        rc = rc < 0 ? -1 : rc == 0 ? refuse(a, SVC_SCEP_BADCERTID) : 0;
        break;
    case SVC_SCEP_GETCERT:
        rc = getcert(s, ep, q, a, e);
        break;
    case SVC_SCEP_GETCRL:
        rc = getcrl(s, ep, q, a, e);
        break;
    default:
        rc = refuse(a, SVC_SCEP_BADREQUEST);
        break;
    }
    free(key);
    enroll_endpoint_rec_free(ep);
    return rc;
}
