/*
 * svc_cmp.c — the CMP server (RFC 4210/9480, Lightweight CMP Profile RFC
 * 9483): bytes in, a PKIMessage out, no HTTP (api_cmp.c is its transport).
 *
 * OpenSSL's CMP server (OSSL_CMP_SRV_CTX) parses, checks the protection and
 * proof of possession and makes the answers; a context lives for one request
 * only, because the cluster keeps no state in a node: what a transaction is
 * (a certificate waiting for its certConf) is a row of cmp_transactions, and
 * every senderNonce seen is a row of cmp_nonces.  Before OpenSSL sees a
 * message, vouch reads its header itself (core/cmp.h: cmp_peek) to find the
 * endpoint's shared secret by the senderKID, and refuses, with the
 * PKIFailureInfo the failure calls for (cmp_error_new), a messageTime out of
 * the endpoint's skew, a protection it does not take, an unknown or revoked
 * reference, a MAC that does not verify, a transactionID or nonce used
 * before.  Issuance goes through the door (svc_submit) as a cert.issue of
 * the certificate request (a CertReqMsg, whose proof of possession svc
 * checks again, or the p10cr's CSR), on behalf of an actor named after the
 * secret with the requester role.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/cmp.h"
#include "lib/log.h"

#define NONCE_KEEP_SECONDS 86400         /* a senderNonce is remembered this long */
#define CMP_POLL_SECONDS   1             /* checkAfter while a request waits for approval */
#define CMP_KEEP_SECONDS   (30L * 86400) /* a settled transaction's row is kept a month */

static const char *const requester_role[] = {"requester"};

static void sk_X509_pop_free_all(STACK_OF(X509) * sk)
{
    sk_X509_pop_free(sk, X509_free);
}

/* One request being answered: what the callbacks need. */
struct cmp_call {
    struct svc *s;
    const char *tenant;
    struct cmp_endpoint_rec *ep;
    struct svc_cmp_settings st;
    struct cmp_peek peek;
    struct cmp_secret_rec *secret; /* MAC protection: the secret named by senderKID */
    char ref[CMP_ID_MAX + 1];
    char *txid_hex;
    char actor_id[CMP_ID_MAX + 80];
    struct actor actor;
    char *mac_key;               /* MAC protection: the secret as the client has it (text) */
    X509 *signer;                /* signature protection: the requester's certificate ... */
    struct cert_rec *signer_rec; /* ... and its record (this tenant's, not revoked) */
    EVP_PKEY *prot_key;          /* the endpoint's protection key (a remote key) ... */
    X509 *prot_cert;             /* ... its certificate ... */
    STACK_OF(X509) * prot_chain; /* ... and the CA's chain */
    const char *protection;      /* "mac" or "signature" */
    int proven;                  /* the protection verified: the requester is who it says */
    int pbmac1;   /* PBMAC1: checked and made by vouch, OpenSSL's server told to let it be */
    int fail_bit; /* an early refusal's PKIFailureInfo bit, or -1 */
    const char *settle_message;   /* what transaction_settle files as the row's message */
    const unsigned char *req_der; /* the request as it came */
    size_t req_len;
    char why[256];
};

static void call_clear(struct cmp_call *c)
{
    cmp_endpoint_rec_free(c->ep);
    svc_cmp_settings_clear(&c->st);
    cmp_peek_clear(&c->peek);
    cmp_secret_rec_free(c->secret);
    if (c->mac_key != NULL)
        secure_zero(c->mac_key, strlen(c->mac_key));
    free(c->mac_key);
    free(c->txid_hex);
    X509_free(c->signer);
    cert_rec_free(c->signer_rec);
    EVP_PKEY_free(c->prot_key);
    X509_free(c->prot_cert);
    sk_X509_pop_free(c->prot_chain, X509_free);
}

/* Refuses the request with fail_bit (why: the statusString); returns -1 for the caller's flow. */
static int refuse(struct cmp_call *c, int fail_bit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(struct cmp_call *c, int fail_bit, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    c->fail_bit = fail_bit;
    return -1;
}

/* ---- the endpoint and the requester --------------------------------------------------- */

/* Splits label "<tenant>~<endpoint>" and loads the endpoint; ERR_NOT_FOUND if none. */
static int endpoint_load(struct cmp_call *c, const char *label, char *tenant, size_t tlen,
                         struct err *e)
{
    const char *sep = strstr(label, CMP_LABEL_SEP);
    struct store_tx *tx;
    json_t *o;
    int rc;

    if (sep == NULL || (size_t)(sep - label) >= tlen)
        return err_set(e, ERR_NOT_FOUND, "CMP endpoint not found");
    memcpy(tenant, label, (size_t)(sep - label));
    tenant[sep - label] = '\0';
    sep += strlen(CMP_LABEL_SEP);
    if (!name_valid(tenant) || !name_valid(sep))
        return err_set(e, ERR_NOT_FOUND, "CMP endpoint not found");
    c->tenant = tenant;
    if ((tx = store_begin_read(c->s->store, e)) == NULL)
        return -1;
    rc = store_cmp_endpoint_get(tx, tenant, sep, &c->ep, e);
    store_rollback(tx);
    if (rc != 0) {
        if (e != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "CMP endpoint not found");
        return -1;
    }
    o = json_loads(c->ep->settings, 0, NULL);
    rc = svc_cmp_settings_parse(o, &c->st, e);
    json_decref(o);
    return rc;
}

/* The secret named by the senderKID, with its value set in ctx; -1 and a refusal if none. */
static int secret_use(struct cmp_call *c, OSSL_CMP_CTX *ctx, struct err *e)
{
    unsigned char secret[SIGNER_CMP_SECRET_LEN];
    char *text;
    struct signer_eab ref;
    struct store_tx *tx;
    json_t *o;
    int rc, reusable,
        new_tx = c->peek.body != CMP_BODY_CERTCONF && c->peek.body != CMP_BODY_POLLREQ &&
                 c->peek.body != CMP_BODY_ERROR;

    memcpy(c->ref, c->peek.sender_kid, c->peek.sender_kid_len);
    c->ref[c->peek.sender_kid_len] = '\0';
    if (c->peek.sender_kid_len == 0 || strlen(c->ref) != c->peek.sender_kid_len)
        return refuse(c, CMP_FAIL_NOT_AUTHORIZED, "senderKID: the reference of a shared secret");
    if ((tx = store_begin_read(c->s->store, e)) == NULL)
        return -1;
    rc = store_cmp_secret_get(tx, c->tenant, c->ep->name, c->ref, &c->secret, e);
    store_rollback(tx);
    if (rc != 0)
        return e->kind == ERR_NOT_FOUND
                   ? refuse(c, CMP_FAIL_NOT_AUTHORIZED, "unknown reference %s", c->ref)
                   : -1;
    o = json_loads(c->secret->settings, 0, NULL);
    reusable = json_is_true(json_object_get(o, "reusable"));
    json_decref(o);
    if (strcmp(c->secret->status, "active") != 0)
        return refuse(c, CMP_FAIL_NOT_AUTHORIZED, "reference %s is revoked", c->ref);
    if (new_tx && c->peek.body != CMP_BODY_GENM && !reusable && c->secret->uses > 0)
        return refuse(c, CMP_FAIL_NOT_AUTHORIZED, "reference %s was used already", c->ref);
    ref = (struct signer_eab){c->secret->key_id, c->secret->endpoint, c->secret->ref,
                              c->secret->nonce};
    if (signer_cmp_secret(c->s->signer, c->tenant, &ref, NULL, secret, e) != 0)
        return -1;
    /* What a client is given and types (-secret pass:...) is the text: it is the MAC's key. */
    text = base64url_encode(secret, sizeof(secret));
    secure_zero(secret, sizeof(secret));
    rc = OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)text, strlen(text)) == 1 &&
         OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)c->ref, strlen(c->ref)) == 1;
    c->mac_key = text;
    if (!rc)
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot set the secret");
    snprintf(c->actor_id, sizeof(c->actor_id), "cmp:%s:%s", c->ep->name, c->ref);
    c->actor = (struct actor){.id = c->actor_id,
                              .principal = c->actor_id,
                              .roles = requester_role,
                              .nroles = 1,
                              .creators = c->secret->creators};
    return 0;
}

/* ---- the early checks ---------------------------------------------------------------- */

/* messageTime within the endpoint's skew (RFC 9483 section 3.5: badTime otherwise). */
static int time_check(struct cmp_call *c)
{
    int64_t now = time_now(), t = c->peek.message_time;

    if (t != 0 && (t > now + c->st.time_skew_seconds || t < now - c->st.time_skew_seconds))
        return refuse(c, CMP_FAIL_BAD_TIME, "messageTime is more than %ld s from ours",
                      c->st.time_skew_seconds);
    return 0;
}

/* Files the senderNonce as used; a second use is badSenderNonce (a replay). */
/* Files the request's senderNonce in tx; ERR_CONFLICT if it was filed before. */
static int nonce_file(struct cmp_call *c, struct store_tx *tx, struct err *e)
{
    char *hex = hex_encode(c->peek.sender_nonce, c->peek.sender_nonce_len);
    int rc = store_cmp_nonce_use(tx, c->tenant, hex, time_now() + NONCE_KEEP_SECONDS, e);

    free(hex);
    return rc;
}

/* Whether the request continues a transaction (certConf, pollReq, error). */
static int continues(const struct cmp_call *c)
{
    return c->peek.body == CMP_BODY_CERTCONF || c->peek.body == CMP_BODY_POLLREQ ||
           c->peek.body == CMP_BODY_ERROR;
}

/*
 * A request continuing a transaction has its senderNonce filed here (a new
 * one's is filed with its transaction: transaction_check); a second use is
 * badSenderNonce (a replay).
 */
static int nonce_check(struct cmp_call *c, struct err *e)
{
    struct store_tx *tx;
    int rc;

    if (!continues(c))
        return 0;
    if ((tx = store_begin(c->s->store, e)) == NULL)
        return -1;
    rc = nonce_file(c, tx, e);
    rc = rc == 0 ? store_commit(tx, e) : (store_rollback(tx), -1);
    if (rc != 0 && e != NULL && e->kind == ERR_CONFLICT)
        return refuse(c, CMP_FAIL_BAD_SENDER_NONCE, "senderNonce was used before (a replay)");
    return rc;
}

/*
 * A new transaction's row (ir, cr, p10cr, kur, rr, genm): a transactionID
 * used before is transactionIdInUse.  certConf, pollReq and error continue
 * one: it must exist (badRequest otherwise).
 */
static int transaction_check(struct cmp_call *c, OSSL_CMP_CTX *ctx, struct err *e)
{
    struct cmp_transaction_rec r = {.tenant = (char *)c->tenant,
                                    .endpoint = c->ep->name,
                                    .txid = c->txid_hex,
                                    .status = "open",
                                    .requester = c->actor_id,
                                    .protection = (char *)c->protection,
                                    .created = time_now()},
                               *old = NULL;
    struct store_tx *tx;
    ASN1_OCTET_STRING *id;
    int rc;

    r.updated = r.created;
    if (c->peek.body == CMP_BODY_CERTCONF || c->peek.body == CMP_BODY_POLLREQ ||
        c->peek.body == CMP_BODY_ERROR) {
        if ((tx = store_begin_read(c->s->store, e)) == NULL)
            return -1;
        rc = store_cmp_transaction_get(tx, c->tenant, c->ep->name, c->txid_hex, &old, e);
        store_rollback(tx);
        if (rc != 0)
            return e->kind == ERR_NOT_FOUND
                       ? refuse(c, CMP_FAIL_BAD_REQUEST, "no transaction of this transactionID")
                       : -1;
        rc = strcmp(old->requester, c->actor_id) != 0
                 ? refuse(c, CMP_FAIL_NOT_AUTHORIZED, "the transaction is another requester's")
                 : 0;
        cmp_transaction_rec_free(old);
        if (rc != 0)
            return -1;
        /* OpenSSL's server continues the transaction it knows: this one. */
        id = ASN1_OCTET_STRING_new();
        rc = id != NULL && ASN1_OCTET_STRING_set(id, c->peek.txid, (int)c->peek.txid_len) == 1 &&
             OSSL_CMP_CTX_set1_transactionID(ctx, id) == 1;
        ASN1_OCTET_STRING_free(id);
        return rc ? 0 : err_ossl(e, ERR_INTERNAL, "CMP: cannot set the transactionID");
    }
    /* The senderNonce and the transactionID filed in one write. */
    if ((tx = store_begin(c->s->store, e)) == NULL)
        return -1;
    if (nonce_file(c, tx, e) != 0) {
        store_rollback(tx);
        return e->kind == ERR_CONFLICT
                   ? refuse(c, CMP_FAIL_BAD_SENDER_NONCE, "senderNonce was used before (a replay)")
                   : -1;
    }
    rc = store_cmp_transaction_insert(tx, c->tenant, &r, e);
    rc = rc == 0 ? store_commit(tx, e) : (store_rollback(tx), -1);
    if (rc != 0 && e != NULL && e->kind == ERR_CONFLICT)
        return refuse(c, CMP_FAIL_TRANSACTION_ID_IN_USE, "transactionID was used before");
    return rc;
}

static STACK_OF(X509) * ca_chain(struct cmp_call *c, struct err *e);

/* The certificate of tenant's CA name (NULL with e set). */
static X509 *ca_cert(struct cmp_call *c, const char *name, struct err *e)
{
    struct store_tx *tx = store_begin_read(c->s->store, e);
    struct ca_rec *ca = NULL;
    X509 *x = NULL;

    if (tx != NULL && store_ca_get(tx, c->tenant, name, &ca, e) == 0 && ca->cert_der != NULL)
        x = svc_ca_cert(c->s, ca, e); /* parsed once per node while its DER stays the same */
    store_rollback(tx);
    ca_rec_free(ca);
    return x;
}

/* Whether cert chains to one of the endpoint's client CAs (its own CA if it names none). */
static int signer_trusted(struct cmp_call *c, X509 *cert, struct err *e)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    int ok = store != NULL && vctx != NULL;

    for (int i = 0; ok && i < (c->st.nclient_cas ? c->st.nclient_cas : 1); i++) {
        X509 *ca = ca_cert(c, c->st.nclient_cas ? c->st.client_cas[i] : c->ep->ca, e);

        ok = ca != NULL && X509_STORE_add_cert(store, ca) == 1;
        X509_free(ca);
    }
    if (ok) {
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
        ok = X509_STORE_CTX_init(vctx, store, cert, NULL) == 1 && X509_verify_cert(vctx) == 1;
    }
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return ok;
}

/* The endpoint's protection key and certificate in ctx: answers to signed requests are signed. */
static int protection_sign(struct cmp_call *c, OSSL_CMP_CTX *ctx, struct err *e)
{
    struct store_tx *tx;
    struct cert_rec *r = NULL;
    X509 *plain;
    int rc;

    if (svc_cmp_protection_ensure(c->s, c->ep, e) != 0 ||
        (c->prot_key = svc_key(c->s, c->tenant, c->ep->key_id, e)) == NULL ||
        (tx = store_begin_read(c->s->store, e)) == NULL)
        return -1;
    rc = store_cert_get(tx, c->tenant, c->ep->cert_serial, &r, e);
    store_rollback(tx);
    plain = rc == 0 ? svc_der_to_x509(r->der, r->der_len, e) : NULL;
    cert_rec_free(r);
    /* OpenSSL checks the key against the certificate: a copy whose key is the remote one. */
    c->prot_cert = plain ? signer_key_cert(c->prot_key, plain, e) : NULL;
    X509_free(plain);
    if (c->prot_cert == NULL || (c->prot_chain = ca_chain(c, e)) == NULL)
        return -1;
    /* OpenSSL answers unprotected; cmp_sign signs the answer (svc_cmp_answer). */
    if (OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1) != 1 ||
        OSSL_CMP_CTX_set1_subjectName(ctx, X509_get_subject_name(c->prot_cert)) != 1)
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot set the protection");
    return 0;
}

/*
 * Signature protection (RFC 9483 section 3.2): the first extraCert signs;
 * it must verify the message, chain to a client CA of the endpoint, be a
 * certificate of this tenant and not revoked.  The requester is then the one
 * who requested that certificate.
 */
static int signature_use(struct cmp_call *c, OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *msg,
                         struct err *e)
{
    const unsigned char *q = c->peek.first_cert_der;
    struct store_tx *tx;
    char *serial;
    int rc;

    if (q == NULL || (c->signer = d2i_X509(NULL, &q, (long)c->peek.first_cert_der_len)) == NULL)
        return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK,
                      "extraCerts: the protection certificate first (RFC 9483 section 3.3)");
    if (OSSL_CMP_CTX_set1_srvCert(ctx, c->signer) != 1 || OSSL_CMP_validate_msg(ctx, msg) != 1) {
        ERR_clear_error();
        return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "the signature does not verify");
    }
    c->proven = 1; /* the key's holder signed; whether its certificate counts, below */
    if (!signer_trusted(c, c->signer, e))
        return refuse(c, CMP_FAIL_SIGNER_NOT_TRUSTED,
                      "the protection certificate is not of a CA this endpoint trusts");
    serial = serial_hex(X509_get0_serialNumber(c->signer));
    if ((tx = store_begin_read(c->s->store, e)) == NULL) {
        free(serial);
        return -1;
    }
    rc = store_cert_get(tx, c->tenant, serial, &c->signer_rec, e);
    store_rollback(tx);
    snprintf(c->ref, sizeof(c->ref), "cert:%.56s", serial);
    free(serial);
    if (rc != 0)
        return e->kind == ERR_NOT_FOUND
                   ? refuse(c, CMP_FAIL_SIGNER_NOT_TRUSTED, "the protection certificate is unknown")
                   : -1;
    if (strcmp(c->signer_rec->status, "good") != 0)
        return refuse(c, CMP_FAIL_CERT_REVOKED, "the protection certificate is %s",
                      c->signer_rec->status);
    snprintf(c->actor_id, sizeof(c->actor_id), "cmp:%s:%s", c->ep->name, c->ref);
    c->actor = (struct actor){.id = c->actor_id,
                              .principal =
                                  c->signer_rec->requester ? c->signer_rec->requester : c->actor_id,
                              .roles = requester_role,
                              .nroles = 1};
    return protection_sign(c, ctx, e);
}

/* The protection: of a kind the endpoint takes, and (MAC) with a secret that verifies. */
static int protection_check(struct cmp_call *c, OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *msg,
                            struct err *e)
{
    if (c->peek.protection == CMP_PROT_MAC) {
        c->protection = "mac";
        if (!(c->st.protection & CMP_PROTECTION_MAC))
            return refuse(c, CMP_FAIL_WRONG_INTEGRITY,
                          "this endpoint takes no MAC-protected requests");
        if (secret_use(c, ctx, e) != 0)
            return -1;
        if (OSSL_CMP_validate_msg(ctx, msg) != 1) {
            ERR_clear_error();
            return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK, "the MAC does not verify");
        }
        c->proven = 1;
        return 0;
    }
    if (c->peek.protection == CMP_PROT_PBMAC1) {
        c->protection = "pbmac1";
        if (!(c->st.protection & CMP_PROTECTION_MAC))
            return refuse(c, CMP_FAIL_WRONG_INTEGRITY,
                          "this endpoint takes no MAC-protected requests");
        if (secret_use(c, ctx, e) != 0)
            return -1;
        if (cmp_pbmac1_verify(c->req_der, c->req_len, (const unsigned char *)c->mac_key,
                              strlen(c->mac_key), e) != 0)
            return refuse(c,
                          e->kind == ERR_FORBIDDEN ? CMP_FAIL_BAD_MESSAGE_CHECK : CMP_FAIL_BAD_ALG,
                          "%s", e->msg);
        c->proven = c->pbmac1 = 1;
        /* OpenSSL's server cannot check PBMAC1: it is told the request's protection holds */
        return OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1) == 1
                   ? 0
                   : err_ossl(e, ERR_INTERNAL, "CMP: cannot set the protection");
    }
    if (c->peek.protection == CMP_PROT_SIG) {
        c->protection = "signature";
        if (!(c->st.protection & CMP_PROTECTION_SIGNATURE))
            return refuse(c, CMP_FAIL_WRONG_INTEGRITY,
                          "this endpoint takes no signature-protected requests");
        return signature_use(c, ctx, msg, e);
    }
    if (c->peek.protection == CMP_PROT_OTHER)
        return refuse(c, CMP_FAIL_BAD_ALG,
                      "protection algorithm not taken: PasswordBasedMac or a signature");
    return refuse(c, CMP_FAIL_BAD_MESSAGE_CHECK,
                  "a request must be protected (PasswordBasedMac or a signature)");
}

/* ---- issuance (OpenSSL's callback) ------------------------------------------------- */

/* The PKIFailureInfo bit of an issuance refused by svc. */
static int fail_bit_of(const struct err *e)
{
    if (strcmp(e->code, CMP_ERR_BAD_POP) == 0)
        return CMP_FAIL_BAD_POP;
    switch (e->kind) {
    case ERR_INVALID:
    case ERR_POLICY:
        return CMP_FAIL_BAD_CERT_TEMPLATE;
    case ERR_FORBIDDEN:
    case ERR_UNAUTHENTICATED:
        return CMP_FAIL_NOT_AUTHORIZED;
    case ERR_LIMIT:
    case ERR_UNAVAILABLE:
        return CMP_FAIL_SYSTEM_UNAVAIL;
    default:
        return CMP_FAIL_SYSTEM_FAILURE;
    }
}

/* The request as cert.issue takes it (caller frees): the CSR's DER, or the CertReqMsg as PEM. */
static char *request_text(const OSSL_CRMF_MSG *crm, const X509_REQ *p10cr, size_t *len)
{
    unsigned char *der = NULL;
    char *text = NULL;
    int n = crm != NULL ? i2d_OSSL_CRMF_MSG(crm, &der) : i2d_X509_REQ(p10cr, &der);

    if (n <= 0)
        return NULL;
    if (crm != NULL) {
        text = svc_pem(CRMF_PEM_LABEL, der, (size_t)n);
        *len = strlen(text);
    } else {
        text = xmalloc((size_t)n);
        memcpy(text, der, (size_t)n);
        *len = (size_t)n;
    }
    OPENSSL_free(der);
    return text;
}

/* The issuing CA's certificate and those above it (caller frees), or NULL. */
static STACK_OF(X509) * ca_chain(struct cmp_call *c, struct err *e)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    struct store_tx *tx = store_begin_read(c->s->store, e);
    struct ca_rec *ca = NULL;
    X509 *own = NULL;
    int ok = tx != NULL && sk != NULL && store_ca_get(tx, c->tenant, c->ep->ca, &ca, e) == 0 &&
             ca->cert_der != NULL && (own = svc_ca_cert(c->s, ca, e)) != NULL &&
             sk_X509_push(sk, own) > 0 &&
             (ca->chain_der == NULL || svc_der_chain(ca->chain_der, ca->chain_len, sk, e) == 0);

    if (!ok && own != NULL && sk_X509_num(sk) == 0)
        X509_free(own);
    store_rollback(tx);
    ca_rec_free(ca);
    if (!ok) {
        sk_X509_pop_free_all(sk);
        return NULL;
    }
    return sk;
}

/* SHA-256 style certHash (RFC 4210 §5.3.18: the hash of the certificate's signature). */
static char *cert_hash_hex(X509 *cert)
{
    ASN1_OCTET_STRING *md = X509_digest_sig(cert, NULL, NULL);
    char *hex =
        md != NULL ? hex_encode(ASN1_STRING_get0_data(md), (size_t)ASN1_STRING_length(md)) : NULL;

    ASN1_OCTET_STRING_free(md);
    return hex;
}

/* The transaction's row after an answer; audited as cmp.<what> with the protection used. */
static int transaction_settle(struct cmp_call *c, const char *what, const char *status,
                              const char *serial, const char *cert_hash, const char *request,
                              int count_use, struct err *e)
{
    struct store_tx *tx = store_begin(c->s->store, e);
    struct cmp_transaction_rec *r = NULL;
    struct cmp_secret_rec *sec = NULL;
    json_t *d;
    char *detail;
    int rc = -1;

    if (tx == NULL)
        return -1;
    if (store_cmp_transaction_get(tx, c->tenant, c->ep->name, c->txid_hex, &r, e) != 0)
        goto out;
    free(r->status);
    r->status = xstrdup(status);
    if (serial != NULL) {
        free(r->serial);
        r->serial = xstrdup(serial);
    }
    if (cert_hash != NULL) {
        free(r->cert_hash);
        r->cert_hash = xstrdup(cert_hash);
    }
    if (request != NULL) {
        free(r->request);
        r->request = xstrdup(request);
    }
    if (c->settle_message != NULL) {
        free(r->message);
        r->message = xstrdup(c->settle_message);
    }
    r->updated = time_now();
    r->expires = strcmp(status, "waiting") == 0 ? r->updated + c->st.confirm_seconds : 0;
    if (store_cmp_transaction_update(tx, c->tenant, r, e) != 0)
        goto out;
    if (count_use && c->secret != NULL) {
        if (store_cmp_secret_get(tx, c->tenant, c->ep->name, c->ref, &sec, e) != 0)
            goto out;
        sec->uses++;
        sec->updated = r->updated;
        if (store_cmp_secret_update(tx, c->tenant, sec, e) != 0)
            goto out;
    }
    d = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s}", "endpoint", c->ep->name, "transaction",
                  c->txid_hex, "protection", c->protection, "reference", c->ref, "serial",
                  r->serial, "status", status);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    rc = svc_audit_ok(tx, c->tenant, &c->actor, what, r->serial ? r->serial : c->txid_hex, detail,
                      e);
    free(detail);
    if (rc == 0)
        rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    cmp_transaction_rec_free(r);
    cmp_secret_rec_free(sec);
    return rc;
}

/* The certificate of a done issuance for OpenSSL (certOut, chainOut; caPubs for ir). */
static OSSL_CMP_PKISI *issued(struct cmp_call *c, const struct svc_outcome *out, X509 **cert_out,
                              STACK_OF(X509) * *chain_out, STACK_OF(X509) * *ca_pubs)
{
    int implicit = c->st.implicit_confirm && c->peek.implicit_confirm;
    X509 *cert = svc_der_to_x509(out->cert->der, out->cert->der_len, NULL);
    STACK_OF(X509) *chain = cert ? ca_chain(c, NULL) : NULL;
    char *hash = cert ? cert_hash_hex(cert) : NULL;
    struct err e;

    if (chain == NULL || hash == NULL ||
        transaction_settle(c, "cmp.issue", implicit ? "confirmed" : "waiting", out->cert->serial,
                           hash, NULL, 1, &e) != 0) {
        X509_free(cert);
        sk_X509_pop_free_all(chain);
        free(hash);
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
                                       1 << OSSL_CMP_PKIFAILUREINFO_systemFailure, NULL);
    }
    free(hash);
    *cert_out = cert;
    if (c->peek.body == CMP_BODY_IR && sk_X509_num(chain) > 0) {
        *ca_pubs = sk_X509_new_null();
        if (*ca_pubs != NULL)
            sk_X509_push(*ca_pubs, X509_dup(sk_X509_value(chain, sk_X509_num(chain) - 1)));
    }
    *chain_out = chain;
    return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

/*
 * A kur (RFC 9483 section 4.1.3) updates the certificate that signs it: an
 * oldCertID, if given, must name it; op becomes its renewal.
 */
static int kur_check(struct cmp_call *c, const OSSL_CRMF_MSG *crm, struct svc_op *op, struct err *e)
{
    const OSSL_CRMF_CERTID *old = crm ? OSSL_CRMF_MSG_get0_regCtrl_oldCertID(crm) : NULL;

    if (c->signer == NULL)
        return err_setc(e, ERR_FORBIDDEN, "", "kur: signed by the certificate it updates");
    if (old != NULL &&
        (ASN1_INTEGER_cmp(OSSL_CRMF_CERTID_get0_serialNumber(old),
                          X509_get0_serialNumber(c->signer)) != 0 ||
         X509_NAME_cmp(OSSL_CRMF_CERTID_get0_issuer(old), X509_get_issuer_name(c->signer)) != 0))
        return err_setc(e, ERR_FORBIDDEN, "",
                        "kur: oldCertID is not the certificate that signs the request");
    op->kind = SVC_OP_CERT_RENEW;
    op->serial = c->signer_rec->serial;
    op->ca = NULL;
    op->profile = NULL;
    return 0;
}

/* Whether name is in the JSON array of strings list. */
static int listed(const json_t *list, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return 1;
    }
    return 0;
}

/*
 * The profile an issuance is under (into name): the certProfile the request
 * names (RFC 9483 section 3.1; one of the endpoint's), else the endpoint's
 * first; a shared secret limited to some profiles allows only those (its
 * first when the request names none).  ERR_POLICY naming the rule otherwise.
 */
static int profile_choose(struct cmp_call *c, char name[CMP_PROFILE_MAX + 1], struct err *e)
{
    json_t *st = c->secret ? json_loads(c->secret->settings, 0, NULL) : NULL;
    const json_t *allowed = json_object_get(st, "profiles");
    const char *asked = c->peek.profile[0] ? c->peek.profile : NULL, *pick = asked;
    int offered = 0, rc = 0;

    for (int i = 0; asked != NULL && i < c->st.nprofiles; i++)
        offered |= strcmp(c->st.profiles[i], asked) == 0;
    if (asked != NULL && !offered)
        rc = err_set(e, ERR_POLICY, "certProfile %s is not a profile of this endpoint", asked);
    else if (asked != NULL && json_is_array(allowed) && !listed(allowed, asked))
        rc = err_set(e, ERR_POLICY, "certProfile %s is not one this secret may use", asked);
    else if (asked == NULL)
        pick = json_is_array(allowed) && json_array_size(allowed) > 0
                   ? json_string_value(json_array_get(allowed, 0))
                   : c->st.profiles[0];
    if (rc == 0)
        snprintf(name, CMP_PROFILE_MAX + 1, "%s", pick ? pick : c->st.profiles[0]);
    json_decref(st);
    return rc;
}

static OSSL_CMP_PKISI *cert_request_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req,
                                       int cert_req_id, const OSSL_CRMF_MSG *crm,
                                       const X509_REQ *p10cr, X509 **cert_out,
                                       STACK_OF(X509) * *chain_out, STACK_OF(X509) * *ca_pubs)
{
    struct cmp_call *c = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
    struct svc_op op = {.kind = SVC_OP_CERT_ISSUE, .ca = c->ep->ca};
    struct svc_outcome out = {0};
    OSSL_CMP_PKISI *si;
    char *text, profile[CMP_PROFILE_MAX + 1];
    struct err e;

    (void)req;
    (void)cert_req_id;
    if (c->peek.body != CMP_BODY_KUR && profile_choose(c, profile, &e) != 0) {
        transaction_settle(c, "cmp.refused", "rejected", NULL, NULL, NULL, 0, NULL);
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
                                       1 << OSSL_CMP_PKIFAILUREINFO_badCertTemplate, e.msg);
    }
    op.profile = profile;
    if ((text = request_text(crm, p10cr, &op.csr_len)) == NULL)
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
                                       1 << OSSL_CMP_PKIFAILUREINFO_badDataFormat, NULL);
    op.csr = text;
    if (c->peek.body == CMP_BODY_KUR && kur_check(c, crm, &op, &e) != 0) {
        transaction_settle(c, "cmp.refused", "rejected", NULL, NULL, NULL, 0, NULL);
        si = OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit_of(&e), e.msg);
    } else if (svc_submit(c->s, &c->actor, c->tenant, &op, NULL, &out, &e) != 0) {
        transaction_settle(c, "cmp.refused", "rejected", NULL, NULL, NULL, 0, NULL);
        si = OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit_of(&e), e.msg);
    } else if (out.pending) {
        /* The answer's body kind, for the pollReq that finds the request issued. */
        c->settle_message = c->peek.body == CMP_BODY_IR    ? "1"
                            : c->peek.body == CMP_BODY_KUR ? "8"
                                                           : "3";
        transaction_settle(c, "cmp.pending", "pending", NULL, NULL, out.request->id, 1, NULL);
        c->settle_message = NULL;
        si = OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_waiting, 0, "waiting for approval");
    } else {
        si = issued(c, &out, cert_out, chain_out, ca_pubs);
    }
    svc_outcome_clear(&out);
    free(text);
    return si;
}

/* ---- confirmation ------------------------------------------------------------------ */

/* Revokes serial (a certificate its requester did not accept), as vouchd itself. */
static void unconfirmed_revoke(struct cmp_call *c, const char *serial)
{
    static const struct actor cmp_actor = {.id = "cmp"};
    struct svc_op op = {.kind = SVC_OP_CERT_REVOKE, .serial = serial, .reason = 5};
    struct svc_outcome out = {0};
    struct err e;

    /* cessationOfOperation: the certificate was never taken into use */
    if (svc_submit(c->s, &cmp_actor, c->tenant, &op, NULL, &out, &e) != 0)
        log_warn("tenant %s: CMP: certificate %s not revoked: %s", c->tenant, serial, e.msg);
    svc_outcome_clear(&out);
}

/* recipNonce of a request continuing a transaction: our last answer's senderNonce. */
static int recip_nonce_check(struct cmp_call *c, const struct cmp_transaction_rec *r)
{
    char *hex;
    int same;

    if (r->server_nonce == NULL)
        return 0;
    hex = hex_encode(c->peek.recip_nonce, c->peek.recip_nonce_len);
    same = strcmp(hex, r->server_nonce) == 0;
    free(hex);
    return same ? 0
                : refuse(c, CMP_FAIL_BAD_RECIPIENT_NONCE,
                         "recipNonce is not the senderNonce of our last answer");
}

/* Files the senderNonce of answer der when its transaction goes on (waiting, pending). */
static void server_nonce_file(struct cmp_call *c, const unsigned char *der, size_t len)
{
    struct cmp_transaction_rec *r = NULL;
    struct cmp_peek p;
    struct store_tx *tx;
    struct err e;

    if (cmp_peek(der, len, &p, &e) != 0)
        return;
    if ((tx = store_begin(c->s->store, &e)) != NULL &&
        store_cmp_transaction_get(tx, c->tenant, c->ep->name, c->txid_hex, &r, &e) == 0 &&
        (strcmp(r->status, "waiting") == 0 || strcmp(r->status, "pending") == 0)) {
        free(r->server_nonce);
        r->server_nonce = hex_encode(p.sender_nonce, p.sender_nonce_len);
        if (store_cmp_transaction_update(tx, c->tenant, r, &e) == 0 && store_commit(tx, &e) == 0)
            tx = NULL;
        else
            log_warn("tenant %s: CMP: the answer's nonce not filed: %s", c->tenant, e.msg);
    }
    store_rollback(tx);
    cmp_transaction_rec_free(r);
    cmp_peek_clear(&p);
}

/*
 * certConf (RFC 4210 §5.3.18), answered here: OpenSSL 3.0's server checks
 * the certReqId against its own context's, which a fresh context does not
 * have.  The certHash must be the one of the certificate waiting; an
 * accepted certificate becomes final, a rejected one is revoked.
 */
static int certconf_answer(struct cmp_call *c, const unsigned char *req, size_t len,
                           unsigned char **out, size_t *out_len, struct err *e)
{
    struct cmp_transaction_rec *r = NULL;
    struct cmp_certconf cc;
    struct store_tx *tx;
    char *hex = NULL;
    int rc = -1;

    if (cmp_certconf_read(req, len, &cc, e) != 0)
        return refuse(c, CMP_FAIL_BAD_REQUEST, "certConf: %s", e->msg);
    if ((tx = store_begin_read(c->s->store, e)) == NULL)
        return -1;
    rc = store_cmp_transaction_get(tx, c->tenant, c->ep->name, c->txid_hex, &r, e);
    store_rollback(tx);
    if (rc != 0)
        return -1;
    rc = -1;
    if (recip_nonce_check(c, r) != 0)
        ;
    else if (strcmp(r->status, "confirmed") == 0)
        refuse(c, CMP_FAIL_CERT_CONFIRMED, "the certificate was confirmed already");
    else if (strcmp(r->status, "waiting") != 0 || r->serial == NULL || r->cert_hash == NULL)
        refuse(c, CMP_FAIL_BAD_REQUEST, "no certificate of this transaction waits for certConf");
    else if (!cc.rejected && (cc.cert_req_id != 0 ||
                              strcmp(hex = hex_encode(cc.hash, cc.hash_len), r->cert_hash) != 0))
        refuse(c, CMP_FAIL_BAD_CERT_ID, "certHash or certReqId is not the certificate's");
    if (c->fail_bit >= 0)
        goto out;
    if (cc.rejected)
        unconfirmed_revoke(c, r->serial);
    if (transaction_settle(c, "cmp.confirm", cc.rejected ? "rejected" : "confirmed", NULL, NULL,
                           NULL, 0, e) != 0)
        goto out;
    rc = c->mac_key != NULL ? cmp_pkiconf_new(&c->peek, (const unsigned char *)c->mac_key,
                                              strlen(c->mac_key), c->ref, out, out_len, e)
                            : cmp_pkiconf_signed(&c->peek, c->prot_key, c->prot_cert, c->prot_chain,
                                                 out, out_len, e);
out:
    cmp_transaction_rec_free(r);
    free(hex);
    return rc;
}

/* Protects an answer vouch made: as the request was (MAC or the endpoint's signature). */
static int answer_protect(struct cmp_call *c, unsigned char *der, size_t len, unsigned char **out,
                          size_t *out_len, struct err *e)
{
    int rc = c->pbmac1 ? cmp_pbmac1_protect(der, len, (const unsigned char *)c->mac_key,
                                            strlen(c->mac_key), c->ref, out, out_len, e)
             : c->mac_key != NULL
                 ? cmp_mac(der, len, (const unsigned char *)c->mac_key, strlen(c->mac_key), c->ref,
                           out, out_len, e)
                 : cmp_sign(der, len, c->prot_key, c->prot_cert, c->prot_chain, out, out_len, e);

    free(der);
    return rc;
}

/* The certificate response that ends polling: the request was approved and issued serial. */
static int polled_issued(struct cmp_call *c, const struct cmp_transaction_rec *r,
                         const char *serial, unsigned char **out, size_t *out_len, struct err *e)
{
    struct store_tx *tx = store_begin_read(c->s->store, e);
    struct cert_rec *rec = NULL;
    STACK_OF(X509) *chain = NULL;
    X509 *cert = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    char *hash = NULL;
    int rc = -1, body = r->message ? atoi(r->message) : 3;

    if (tx == NULL)
        return -1;
    if (store_cert_get(tx, c->tenant, serial, &rec, e) != 0 ||
        (cert = svc_der_to_x509(rec->der, rec->der_len, e)) == NULL ||
        (chain = ca_chain(c, e)) == NULL || (hash = cert_hash_hex(cert)) == NULL)
        goto out;
    store_rollback(tx);
    tx = NULL;
    /* Not implicitly confirmed: the client confirms what it got after polling. */
    if (transaction_settle(c, "cmp.issue", "waiting", serial, hash, NULL, 0, e) != 0 ||
        cmp_certrep_new(&c->peek, body, 0, cert, chain, NULL, &der, &len, e) != 0)
        goto out;
    rc = answer_protect(c, der, len, out, out_len, e);
out:
    store_rollback(tx);
    cert_rec_free(rec);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    free(hash);
    return rc;
}

/*
 * pollReq (RFC 4210 §5.3.22), answered here (OpenSSL 3.0's server keeps
 * polling state in its context): pollRep while the request waits for
 * approval, the certificate response once it is issued, an error when it
 * was rejected, expired or failed.
 */
static int pollreq_answer(struct cmp_call *c, unsigned char **out, size_t *out_len, struct err *e)
{
    static const struct actor cmp_actor = {.id = "cmp"};
    struct cmp_transaction_rec *r = NULL;
    struct request_rec *req = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    json_t *result = NULL;
    const char *serial;
    struct store_tx *tx;
    int rc = -1;

    if ((tx = store_begin_read(c->s->store, e)) == NULL)
        return -1;
    rc = store_cmp_transaction_get(tx, c->tenant, c->ep->name, c->txid_hex, &r, e);
    store_rollback(tx);
    if (rc != 0)
        return -1;
    rc = -1;
    if (recip_nonce_check(c, r) != 0) {
        ;
    } else if (strcmp(r->status, "pending") != 0 || r->request == NULL) {
        refuse(c, CMP_FAIL_BAD_REQUEST, "no request of this transaction waits");
    } else if (svc_request_get(c->s, &cmp_actor, c->tenant, r->request, &req, e) == 0) {
        if (strcmp(req->status, "pending") == 0) {
            if (cmp_pollrep_new(&c->peek, 0, CMP_POLL_SECONDS, &der, &len, e) == 0)
                rc = answer_protect(c, der, len, out, out_len, e);
        } else if (strcmp(req->status, "done") == 0 &&
                   (result = json_loads(req->result ? req->result : "", 0, NULL)) != NULL &&
                   (serial = json_string_value(json_object_get(
                        json_object_get(result, "certificate"), "serial"))) != NULL) {
            rc = polled_issued(c, r, serial, out, out_len, e);
        } else {
            transaction_settle(c, "cmp.refused", "rejected", NULL, NULL, NULL, 0, NULL);
            refuse(c, CMP_FAIL_NOT_AUTHORIZED, "the request was %s", req->status);
        }
    }
    json_decref(result);
    request_rec_free(req);
    cmp_transaction_rec_free(r);
    return rc;
}

static void error_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req,
                     const OSSL_CMP_PKISI *status_info, const ASN1_INTEGER *code,
                     const OSSL_CMP_PKIFREETEXT *details)
{
    struct cmp_call *c = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
    struct cmp_transaction_rec *r = NULL;
    struct store_tx *tx;
    struct err e;

    (void)req;
    (void)status_info;
    (void)code;
    (void)details;
    if ((tx = store_begin_read(c->s->store, &e)) == NULL)
        return;
    if (store_cmp_transaction_get(tx, c->tenant, c->ep->name, c->txid_hex, &r, &e) == 0 &&
        strcmp(r->status, "waiting") == 0 && r->serial != NULL) {
        store_rollback(tx);
        tx = NULL;
        unconfirmed_revoke(c, r->serial);
        transaction_settle(c, "cmp.confirm", "rejected", NULL, NULL, NULL, 0, &e);
    }
    store_rollback(tx);
    cmp_transaction_rec_free(r);
}

/* ---- rr and genm ------------------------------------------------------------------- */

static OSSL_CMP_PKISI *rejection(int fail_bit, const char *text)
{
    return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit, text);
}

/*
 * rr (RFC 9483 section 4.2): signed by the certificate it revokes, with the
 * reason its crlEntryDetails name; revoked through the door, as vouchd on
 * behalf of that certificate (a requester may not revoke through the REST
 * API; proving the key is what RFC 9483 asks).
 */
static OSSL_CMP_PKISI *rr_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req,
                             const X509_NAME *issuer, const ASN1_INTEGER *serial)
{
    struct cmp_call *c = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
    struct actor a = {.id = c->actor_id};
    struct svc_op op = {.kind = SVC_OP_CERT_REVOKE};
    struct svc_outcome out = {0};
    OSSL_CMP_PKISI *si;
    struct err e;
    int reason, done = 0;

    (void)req;
    if (c->signer == NULL)
        si = rejection(CMP_FAIL_NOT_AUTHORIZED, "rr: signed by the certificate it revokes");
    else if (issuer == NULL || serial == NULL ||
             ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(c->signer)) != 0 ||
             X509_NAME_cmp(issuer, X509_get_issuer_name(c->signer)) != 0)
        si = rejection(CMP_FAIL_BAD_CERT_ID, "rr: the certificate must be the one that signs");
    else if ((reason = cmp_rr_reason(c->req_der, c->req_len, &e)) < 0)
        si = rejection(CMP_FAIL_BAD_REQUEST, e.msg);
    else {
        op.serial = c->signer_rec->serial;
        op.reason = reason;
        if (svc_submit(c->s, &a, c->tenant, &op, NULL, &out, &e) != 0)
            si = rejection(fail_bit_of(&e), e.msg);
        else if (out.pending)
            si = rejection(CMP_FAIL_NOT_AUTHORIZED, "the revocation waits for approval");
        else {
            si = OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
            done = 1;
        }
        svc_outcome_clear(&out);
    }
    transaction_settle(c, "cmp.revoke", done ? "revoked" : "rejected",
                       c->signer_rec ? c->signer_rec->serial : NULL, NULL, NULL, 0, NULL);
    return si;
}

/* genm (RFC 9483 section 4.3): CA certificates; other info types answered without a value. */
static int genm_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req,
                   const STACK_OF(OSSL_CMP_ITAV) * in, STACK_OF(OSSL_CMP_ITAV) * *out)
{
    struct cmp_call *c = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
    STACK_OF(X509) *chain = ca_chain(c, NULL);
    int n = sk_OSSL_CMP_ITAV_num(in), ok = chain != NULL;

    (void)req;
    *out = ok ? sk_OSSL_CMP_ITAV_new_null() : NULL;
    ok = *out != NULL;
    for (int i = 0; ok && i < (n > 0 ? n : 1); i++) {
        ASN1_OBJECT *type = n > 0 ? OSSL_CMP_ITAV_get0_type(sk_OSSL_CMP_ITAV_value(in, i)) : NULL;
        OSSL_CMP_ITAV *itav = type == NULL || OBJ_obj2nid(type) == NID_id_it_caCerts
                                  ? cmp_ca_certs_itav(chain)
                                  : OSSL_CMP_ITAV_create(OBJ_dup(type), NULL);

        ok = itav != NULL && sk_OSSL_CMP_ITAV_push(*out, itav) > 0;
        if (!ok)
            OSSL_CMP_ITAV_free(itav);
    }
    sk_X509_pop_free(chain, X509_free);
    if (!ok && *out != NULL) {
        sk_OSSL_CMP_ITAV_pop_free(*out, OSSL_CMP_ITAV_free);
        *out = NULL;
    }
    transaction_settle(c, "cmp.genm", ok ? "done" : "rejected", NULL, NULL, NULL, 0, NULL);
    return ok;
}

/* ---- the server ---------------------------------------------------------------------- */

/* OpenSSL's CMP log lines: at debug level only (the outcome is logged once by the caller). */
static int cmp_log(const char *func, const char *file, int line, OSSL_CMP_severity level,
                   const char *msg)
{
    (void)func;
    (void)file;
    (void)line;
    if (level <= OSSL_CMP_LOG_ERR)
        log_debug("cmp: %s", msg);
    return 1;
}

/* DER of msg into *out (caller frees with free()). */
static int msg_der(const OSSL_CMP_MSG *msg, unsigned char **out, size_t *len, struct err *e)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    if (b == NULL || i2d_OSSL_CMP_MSG_bio(b, msg) != 1 || (n = BIO_get_mem_data(b, &p)) <= 0) {
        BIO_free(b);
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot encode the answer");
    }
    *out = xmalloc((size_t)n);
    memcpy(*out, p, (size_t)n);
    *len = (size_t)n;
    BIO_free(b);
    return 0;
}

static OSSL_CMP_MSG *msg_parse(const unsigned char *der, size_t len)
{
    BIO *b = BIO_new_mem_buf(der, (int)len);
    OSSL_CMP_MSG *m = b ? d2i_OSSL_CMP_MSG_bio(b, NULL) : NULL;

    BIO_free(b);
    ERR_clear_error();
    return m;
}

/* A server context for c: its callbacks, implicit confirm as the endpoint grants it. */
static OSSL_CMP_SRV_CTX *server_new(struct cmp_call *c)
{
    OSSL_CMP_SRV_CTX *srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
    OSSL_CMP_CTX *ctx = srv ? OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv) : NULL;

    if (ctx == NULL ||
        OSSL_CMP_SRV_CTX_init(srv, c, cert_request_cb, rr_cb, genm_cb, error_cb, NULL, NULL) != 1 ||
        OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, c->st.implicit_confirm) != 1 ||
        OSSL_CMP_SRV_CTX_set_accept_raverified(srv, 0) != 1 ||
        OSSL_CMP_SRV_CTX_set_accept_unprotected(srv, 0) != 1 ||
        OSSL_CMP_SRV_CTX_set_send_unprotected_errors(srv, 0) != 1 ||
        OSSL_CMP_CTX_set_log_cb(ctx, cmp_log) != 1) {
        OSSL_CMP_SRV_CTX_free(srv);
        return NULL;
    }
    return srv;
}

/* The early refusal of c as an error message (audited when it is a security event). */
static int refusal_answer(struct cmp_call *c, unsigned char **out, size_t *len, struct err *e)
{
    struct err why;

    err_set(&why, ERR_FORBIDDEN, "%s", c->why);
    /* Who proved nothing is audited at a bounded rate (svc_refusals.c): anyone can send. */
    if (c->proven)
        svc_audit_refusal(c->s, c->tenant, &c->actor, "cmp.refused", c->ep->name, &why);
    else if (c->fail_bit != CMP_FAIL_BAD_TIME)
        svc_audit_unproven(c->s, c->tenant, NULL, "cmp.refused", c->ep->name, &why);
    return cmp_error_new(&c->peek, c->fail_bit, c->why, out, len, e);
}

int svc_cmp_answer(struct svc *s, const char *label, const unsigned char *req, size_t len,
                   unsigned char **out, size_t *out_len, struct err *e)
{
    struct cmp_call c = {
        .s = s, .fail_bit = -1, .protection = "none", .req_der = req, .req_len = len};
    char tenant[64];
    OSSL_CMP_SRV_CTX *srv = NULL;
    OSSL_CMP_MSG *msg = NULL, *rsp = NULL;
    int active = 0, rc = -1;

    if (endpoint_load(&c, label, tenant, sizeof(tenant), e) != 0 ||
        svc_tenant_check(s, tenant, &active, e) != 0)
        goto out;
    if (cmp_peek(req, len, &c.peek, e) != 0 || (msg = msg_parse(req, len)) == NULL) {
        if (e != NULL && e->kind == ERR_NONE)
            err_set(e, ERR_INVALID, "PKIMessage: does not parse");
        goto out;
    }
    c.txid_hex = hex_encode(c.peek.txid, c.peek.txid_len);
    snprintf(c.actor_id, sizeof(c.actor_id), "cmp:%s", c.ep->name);
    if ((srv = server_new(&c)) == NULL) {
        err_ossl(e, ERR_INTERNAL, "CMP: cannot make a server context");
        goto out;
    }
    if (!active || strcmp(c.ep->status, "active") != 0)
        refuse(&c, CMP_FAIL_NOT_AUTHORIZED, "this endpoint is disabled");
    if (c.fail_bit < 0 &&
        (time_check(&c) != 0 ||
         protection_check(&c, OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv), msg, e) != 0 ||
         nonce_check(&c, e) != 0 ||
         transaction_check(&c, OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv), e) != 0) &&
        c.fail_bit < 0)
        goto out;
    if (c.fail_bit >= 0) {
        rc = refusal_answer(&c, out, out_len, e);
        goto out;
    }
    if (c.peek.body == CMP_BODY_CERTCONF || c.peek.body == CMP_BODY_POLLREQ) {
        rc = c.peek.body == CMP_BODY_CERTCONF ? certconf_answer(&c, req, len, out, out_len, e)
                                              : pollreq_answer(&c, out, out_len, e);
        if (rc != 0 && c.fail_bit >= 0)
            rc = refusal_answer(&c, out, out_len, e);
        goto out;
    }
    if (c.pbmac1 && OSSL_CMP_SRV_CTX_set_accept_unprotected(srv, 1) != 1) {
        err_ossl(e, ERR_INTERNAL, "CMP: cannot set the protection");
        goto out;
    }
    if ((rsp = OSSL_CMP_SRV_process_request(srv, msg)) == NULL) {
        err_ossl(e, ERR_INTERNAL, "CMP: no answer");
        goto out;
    }
    rc = msg_der(rsp, out, out_len, e);
    if (rc == 0 && c.pbmac1) {
        unsigned char *plain = *out;

        rc = cmp_pbmac1_protect(plain, *out_len, (const unsigned char *)c.mac_key,
                                strlen(c.mac_key), c.ref, out, out_len, e);
        free(plain);
    } else if (rc == 0 && c.prot_key != NULL) {
        unsigned char *unsigned_der = *out;

        rc = cmp_sign(unsigned_der, *out_len, c.prot_key, c.prot_cert, c.prot_chain, out, out_len,
                      e);
        free(unsigned_der);
    }
out:
    if (rc == 0 && c.fail_bit < 0 && c.txid_hex != NULL)
        server_nonce_file(&c, *out, *out_len); /* the next request's recipNonce */
    ERR_clear_error();
    OSSL_CMP_MSG_free(rsp);
    OSSL_CMP_MSG_free(msg);
    OSSL_CMP_SRV_CTX_free(srv);
    call_clear(&c);
    return rc;
}

/* ---- certificates never confirmed ----------------------------------------------------- */

/* Revokes the certificate of expired transaction r and settles it as "revoked", audited. */
static int unconfirmed_settle(struct svc *s, const char *tenant, struct cmp_transaction_rec *r,
                              struct err *e)
{
    static const struct actor cmp_actor = {.id = "cmp"};
    struct svc_op op = {.kind = SVC_OP_CERT_REVOKE, .serial = r->serial, .reason = 5};
    struct svc_outcome out = {0};
    struct store_tx *tx;
    json_t *d;
    char *detail;
    int rc;

    /* cessationOfOperation: the certificate was never taken into use (RFC 4210 §5.3.18) */
    rc = svc_submit(s, &cmp_actor, tenant, &op, NULL, &out, e);
    svc_outcome_clear(&out);
    if (rc != 0 && (e == NULL || e->kind != ERR_CONFLICT)) /* revoked already: settle it */
        return -1;
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    free(r->status);
    r->status = xstrdup("revoked");
    r->updated = time_now();
    d = json_pack("{s:s, s:s, s:s}", "endpoint", r->endpoint, "transaction", r->txid, "requester",
                  r->requester);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    rc = store_cmp_transaction_update(tx, tenant, r, e) == 0 &&
                 svc_audit_ok(tx, tenant, &cmp_actor, "cmp.unconfirmed", r->serial, detail, e) == 0
             ? store_commit(tx, e)
             : (store_rollback(tx), -1);
    free(detail);
    return rc;
}

int svc_cmp_confirm_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    struct cmp_transaction_rec **due = NULL;
    struct store_tx *tx;
    size_t n = 0, ndue = 0;
    int total = 0;
    struct err te;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *tenant = list[i]->name;

        if ((tx = store_begin_read(s->store, &te)) != NULL &&
            store_cmp_transaction_expired(tx, tenant, time_now(), 100, &due, &ndue, &te) == 0 &&
            ndue > 0 && svc_lease(s, tenant, "cmp", "confirm", 30)) {
            store_rollback(tx);
            tx = NULL;
            for (size_t k = 0; k < ndue; k++) {
                if (due[k]->serial != NULL && unconfirmed_settle(s, tenant, due[k], &te) == 0)
                    total++;
                else if (due[k]->serial != NULL)
                    log_warn("tenant %s: CMP: certificate %s unconfirmed, not revoked: %s", tenant,
                             due[k]->serial, te.msg);
            }
        }
        store_rollback(tx);
        cmp_transaction_rec_list_free(due, ndue);
        due = NULL;
        ndue = 0;
        tenant_rec_free(list[i]);
    }
    free(list);
    return total;
}

int svc_cmp_prune_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    struct store_tx *tx;
    size_t n = 0;
    int64_t pruned, total = 0;
    struct err te;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        pruned = 0;
        if ((tx = store_begin(s->store, &te)) != NULL) {
            if (store_cmp_prune(tx, list[i]->name, time_now(), time_now() - CMP_KEEP_SECONDS,
                                &pruned, &te) != 0)
                store_rollback(tx);
            else if (store_commit(tx, &te) == 0)
                total += pruned;
        }
        tenant_rec_free(list[i]);
    }
    free(list);
    return (int)total;
}
