/*
 * ocsp.c — OCSP requests in, BasicOCSPResponses out (RFC 6960 §4.1, §4.2;
 * RFC 5019 for the profile of pre-signed responses; RFC 8954 for nonces).
 * OpenSSL does every encoding; this file decides what goes in.
 */
#include "core/ocsp.h"

#include <string.h>

#include <openssl/err.h>

#include "core/core_internal.h"

/* Serials longer than RFC 5280's 20 octets are not ours: "unknown". */
#define SERIAL_MAX_OCTETS 20

void ocsp_query_clear(struct ocsp_query *q)
{
    for (int i = 0; i < q->n; i++)
        free(q->ids[i].serial);
    OCSP_REQUEST_free(q->req);
    memset(q, 0, sizeof(*q));
}

/* The serial of a CertID in serial_hex() form, NULL if it cannot be one of ours. */
static char *id_serial(const ASN1_INTEGER *serial)
{
    if (serial == NULL || ASN1_STRING_type(serial) != V_ASN1_INTEGER ||
        ASN1_STRING_length(serial) < 1 || ASN1_STRING_length(serial) > SERIAL_MAX_OCTETS)
        return NULL;
    if (ASN1_STRING_length(serial) == 1 && ASN1_STRING_get0_data(serial)[0] == 0)
        return NULL; /* zero */
    return serial_hex(serial);
}

/*
 * The length of the request's nonce: the extension's value is an OCTET
 * STRING holding the nonce (RFC 8954 §2.1); a bare value (old clients) counts
 * whole.  0 if there is no nonce extension.
 */
static int nonce_length(OCSP_REQUEST *req)
{
    int idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    const ASN1_OCTET_STRING *value;
    const unsigned char *p, *start;
    ASN1_OCTET_STRING *inner;
    int len;

    if (idx < 0)
        return 0;
    value = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, idx));
    start = p = ASN1_STRING_get0_data(value);
    len = ASN1_STRING_length(value);
    inner = d2i_ASN1_OCTET_STRING(NULL, &p, len);
    if (inner != NULL && p == start + len)
        len = ASN1_STRING_length(inner);
    ASN1_OCTET_STRING_free(inner);
    ERR_clear_error();
    return len;
}

int ocsp_query_parse(const unsigned char *der, size_t len, struct ocsp_query *q, struct err *e)
{
    const unsigned char *p = der;
    int n, nonce;

    memset(q, 0, sizeof(*q));
    if (len > 0 && len <= 64 * 1024 && der_check(der, len) != 0)
        return err_set(e, ERR_INVALID,
                       "ocsp: the request is not DER (RFC 6960 §4.1.1: BER lengths, a "
                       "constructed string or bytes after it)");
    if (len == 0 || len > 64 * 1024 || (q->req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL ||
        p != der + len) {
        ERR_clear_error();
        ocsp_query_clear(q);
        return err_set(e, ERR_INVALID, "ocsp: not an OCSPRequest (DER)");
    }
    n = OCSP_request_onereq_count(q->req);
    if (n < 1 || n > OCSP_MAX_IDS) {
        ocsp_query_clear(q);
        return err_set(e, ERR_INVALID, "ocsp: %d CertIDs (1 to %d accepted)", n, OCSP_MAX_IDS);
    }
    nonce = nonce_length(q->req);
    if (OCSP_REQUEST_get_ext_by_NID(q->req, NID_id_pkix_OCSP_Nonce, -1) >= 0 &&
        (nonce < 1 || nonce > OCSP_NONCE_MAX)) {
        ocsp_query_clear(q);
        return err_set(e, ERR_INVALID, "ocsp: nonce of %d octets (1 to %d, RFC 8954)", nonce,
                       OCSP_NONCE_MAX);
    }
    q->has_nonce = nonce > 0;
    for (int i = 0; i < n; i++) {
        struct ocsp_id *id = &q->ids[q->n++];
        ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
        ASN1_OBJECT *md = NULL;
        ASN1_INTEGER *serial = NULL;

        id->cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(q->req, i));
        if (id->cid == NULL ||
            OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, id->cid) != 1) {
            ocsp_query_clear(q);
            return err_set(e, ERR_INVALID, "ocsp: CertID %d is malformed", i);
        }
        id->hash_nid = OBJ_obj2nid(md);
        id->name_hash = ASN1_STRING_get0_data(name_hash);
        id->name_hash_len = ASN1_STRING_length(name_hash);
        id->key_hash = ASN1_STRING_get0_data(key_hash);
        id->key_hash_len = ASN1_STRING_length(key_hash);
        id->serial = id_serial(serial);
    }
    return 0;
}

int ocsp_issuer_hash(X509 *ca, int nid, struct ocsp_issuer_hash *out)
{
    const EVP_MD *md = EVP_get_digestbynid(nid);
    const ASN1_BIT_STRING *key = X509_get0_pubkey_bitstr(ca);

    memset(out, 0, sizeof(*out));
    out->nid = nid;
    if (md == NULL || key == NULL ||
        X509_NAME_digest(X509_get_subject_name(ca), md, out->name, &out->name_len) != 1 ||
        EVP_Digest(ASN1_STRING_get0_data(key), (size_t)ASN1_STRING_length(key), out->key,
                   &out->key_len, md, NULL) != 1) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

int ocsp_id_matches(const struct ocsp_id *id, const struct ocsp_issuer_hash *h)
{
    return id->hash_nid == h->nid && id->name_hash_len == (int)h->name_len &&
           id->key_hash_len == (int)h->key_len &&
           memcmp(id->name_hash, h->name, h->name_len) == 0 &&
           memcmp(id->key_hash, h->key, h->key_len) == 0;
}

/* Adds one SingleResponse for st to bs. */
static int add_status(OCSP_BASICRESP *bs, const struct ocsp_status *st, ASN1_TIME *this_upd,
                      ASN1_TIME *next_upd)
{
    ASN1_TIME *revoked = NULL;
    ASN1_GENERALIZEDTIME *invalidity = NULL;
    OCSP_SINGLERESP *single;
    int ok = 0;

    if (st->status == V_OCSP_CERTSTATUS_REVOKED &&
        (revoked = ASN1_TIME_set(NULL, (time_t)st->revoked_at)) == NULL)
        return -1;
    single = OCSP_basic_add1_status(bs, (OCSP_CERTID *)st->cid, st->status,
                                    st->reason > 0 ? st->reason : OCSP_REVOKED_STATUS_NOSTATUS,
                                    revoked, this_upd, next_upd);
    if (single != NULL) {
        ok = 1;
        /* RFC 6960 §4.4: CRL entry extensions may go into singleExtensions. */
        if (st->status == V_OCSP_CERTSTATUS_REVOKED && st->invalidity_date > 0)
            ok = (invalidity = ASN1_GENERALIZEDTIME_set(NULL, (time_t)st->invalidity_date)) !=
                     NULL &&
                 OCSP_SINGLERESP_add1_ext_i2d(single, NID_invalidity_date, invalidity, 0, 0) == 1;
    }
    ASN1_GENERALIZEDTIME_free(invalidity);
    ASN1_TIME_free(revoked);
    return ok ? 0 : -1;
}

int ocsp_response_sign(const struct ocsp_signer *sg, const struct ocsp_status *st, int n,
                       const OCSP_REQUEST *nonce_from, int64_t now, int64_t next_update,
                       unsigned char **der, size_t *len, struct err *e)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    ASN1_TIME *this_upd = ASN1_TIME_set(NULL, (time_t)now);
    ASN1_TIME *next_upd = ASN1_TIME_set(NULL, (time_t)next_update);
    OCSP_RESPONSE *resp = NULL;
    unsigned char *out = NULL;
    int rc = -1, out_len;

    if (bs == NULL || this_upd == NULL || next_upd == NULL) {
        err_ossl(e, ERR_INTERNAL, "ocsp: out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (add_status(bs, &st[i], this_upd, next_upd) != 0) {
            err_ossl(e, ERR_INTERNAL, "ocsp: cannot encode SingleResponse %d", i);
            goto out;
        }
    if (nonce_from != NULL && OCSP_copy_nonce(bs, (OCSP_REQUEST *)nonce_from) == 0) {
        err_ossl(e, ERR_INTERNAL, "ocsp: cannot copy the nonce");
        goto out;
    }
    /* ResponderID byKey (RFC 5019 §2.2.3); the certificate is added below if wanted. */
    if (OCSP_basic_sign(bs, sg->bound, sg->key, sg->md, NULL, OCSP_RESPID_KEY | OCSP_NOCERTS) !=
        1) {
        err_ossl(e, ERR_UNAVAILABLE, "ocsp: signing failed");
        goto out;
    }
    if (sg->include_cert && OCSP_basic_add1_cert(bs, sg->cert) != 1) {
        err_ossl(e, ERR_INTERNAL, "ocsp: cannot add the responder certificate");
        goto out;
    }
    if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) == NULL ||
        (out_len = i2d_OCSP_RESPONSE(resp, &out)) <= 0) {
        err_ossl(e, ERR_INTERNAL, "ocsp: cannot encode the response");
        goto out;
    }
    *der = out;
    *len = (size_t)out_len;
    rc = 0;
out:
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(bs);
    ASN1_TIME_free(this_upd);
    ASN1_TIME_free(next_upd);
    return rc;
}

OCSP_CERTID *ocsp_certid_sha1(X509 *issuer, const char *serial)
{
    ASN1_INTEGER *sn = serial_from_hex(serial);
    OCSP_CERTID *cid = sn ? OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
                                             X509_get0_pubkey_bitstr(issuer), sn)
                          : NULL;

    ASN1_INTEGER_free(sn);
    return cid;
}

const unsigned char *ocsp_error_der(int status, size_t *len)
{
    /* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } with no responseBytes */
    static const unsigned char der[][5] = {
        {0x30, 0x03, 0x0a, 0x01, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST},
        {0x30, 0x03, 0x0a, 0x01, OCSP_RESPONSE_STATUS_INTERNALERROR},
        {0x30, 0x03, 0x0a, 0x01, OCSP_RESPONSE_STATUS_TRYLATER},
        {0x30, 0x03, 0x0a, 0x01, OCSP_RESPONSE_STATUS_UNAUTHORIZED},
    };

    *len = sizeof(der[0]);
    switch (status) {
    case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST:
        return der[0];
    case OCSP_RESPONSE_STATUS_TRYLATER:
        return der[2];
    case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
        return der[3];
    default:
        return der[1];
    }
}
