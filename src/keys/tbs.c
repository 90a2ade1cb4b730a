/* tbs.c — what the signer agrees to sign (see tbs.h). */
#include "keys/tbs.h"

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

/*
 * TBSCertificate (RFC 5280 §4.1) with the subject public key read as an
 * opaque element: OpenSSL's own X509_CINF would decode the key through its
 * provider decoders (~100 us) on every signature, for a check that needs only
 * the structure.
 */
typedef struct {
    ASN1_INTEGER *version;
    ASN1_INTEGER *serial;
    X509_ALGOR *signature;
    X509_NAME *issuer;
    X509_VAL *validity;
    X509_NAME *subject;
    ASN1_TYPE *subject_public_key_info;
    ASN1_BIT_STRING *issuer_uid;
    ASN1_BIT_STRING *subject_uid;
    STACK_OF(X509_EXTENSION) * extensions;
} TBS_CERT;

// clang-format off
DECLARE_ASN1_FUNCTIONS(TBS_CERT)

ASN1_SEQUENCE(TBS_CERT) = {
    ASN1_EXP_OPT(TBS_CERT, version, ASN1_INTEGER, 0),
    ASN1_SIMPLE(TBS_CERT, serial, ASN1_INTEGER),
    ASN1_SIMPLE(TBS_CERT, signature, X509_ALGOR),
    ASN1_SIMPLE(TBS_CERT, issuer, X509_NAME),
    ASN1_SIMPLE(TBS_CERT, validity, X509_VAL),
    ASN1_SIMPLE(TBS_CERT, subject, X509_NAME),
    ASN1_SIMPLE(TBS_CERT, subject_public_key_info, ASN1_ANY),
    ASN1_IMP_OPT(TBS_CERT, issuer_uid, ASN1_BIT_STRING, 1),
    ASN1_IMP_OPT(TBS_CERT, subject_uid, ASN1_BIT_STRING, 2),
    ASN1_EXP_SEQUENCE_OF_OPT(TBS_CERT, extensions, X509_EXTENSION, 3),
} ASN1_SEQUENCE_END(TBS_CERT)

IMPLEMENT_ASN1_FUNCTIONS(TBS_CERT)
    // clang-format on

    /* Whether all of data decodes as a TBSCertificate whose key is a SEQUENCE. */
    static int is_tbs_certificate(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    TBS_CERT *cert = d2i_TBS_CERT(NULL, &p, (long)len);
    int whole = cert != NULL && p == data + len &&
                ASN1_TYPE_get(cert->subject_public_key_info) == V_ASN1_SEQUENCE;

    TBS_CERT_free(cert);
    return whole;
}

static int is_tbs_crl(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    X509_CRL_INFO *crl = d2i_X509_CRL_INFO(NULL, &p, (long)len);
    int whole = crl != NULL && p == data + len;

    X509_CRL_INFO_free(crl);
    return whole;
}

static int is_tbs_csr(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    X509_REQ_INFO *req = d2i_X509_REQ_INFO(NULL, &p, (long)len);
    int whole = req != NULL && p == data + len;

    X509_REQ_INFO_free(req);
    return whole;
}

/* An OCSP ResponseData (RFC 6960 §4.2.1), the signed part of a BasicOCSPResponse. */
static int is_tbs_ocsp(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    OCSP_RESPDATA *rd = d2i_OCSP_RESPDATA(NULL, &p, (long)len);
    int whole = rd != NULL && p == data + len;

    OCSP_RESPDATA_free(rd);
    return whole;
}

/* An RFC 3161 TSTInfo (§2.4.2), the content of a time-stamp token. */
static int is_tst_info(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    TS_TST_INFO *tst = d2i_TS_TST_INFO(NULL, &p, (long)len);
    int whole = tst != NULL && p == data + len;

    TS_TST_INFO_free(tst);
    return whole;
}

const char *tbs_kind(const unsigned char *data, size_t len)
{
    const char *kind = is_tbs_certificate(data, len) ? "certificate"
                       : is_tbs_crl(data, len)       ? "CRL"
                       : is_tbs_csr(data, len)       ? "CSR"
                       : is_tbs_ocsp(data, len)      ? "OCSP response"
                       : is_tst_info(data, len)      ? "TSTInfo"
                                                     : NULL;

    ERR_clear_error();
    return kind;
}
