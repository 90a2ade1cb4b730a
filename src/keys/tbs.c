/* tbs.c — what the signer agrees to sign (see tbs.h). */
#include "keys/tbs.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

/*
 * TBSCertList (RFC 5280 §5.1) with revokedCertificates read as one opaque
 * SEQUENCE: X509_CRL_INFO would build objects for every entry, and a large
 * CA's CRL has a million.  The entries are then walked in place
 * (crl_entries_ok), which checks the same structure at a fraction of the cost.
 */
typedef struct {
    ASN1_INTEGER *version;
    X509_ALGOR *signature;
    X509_NAME *issuer;
    ASN1_TIME *this_update;
    ASN1_TIME *next_update;
    ASN1_STRING *revoked;
    STACK_OF(X509_EXTENSION) * extensions;
} TBS_CRL;

// clang-format off
DECLARE_ASN1_FUNCTIONS(TBS_CRL)

ASN1_SEQUENCE(TBS_CRL) = {
    ASN1_OPT(TBS_CRL, version, ASN1_INTEGER),
    ASN1_SIMPLE(TBS_CRL, signature, X509_ALGOR),
    ASN1_SIMPLE(TBS_CRL, issuer, X509_NAME),
    ASN1_SIMPLE(TBS_CRL, this_update, ASN1_TIME),
    ASN1_OPT(TBS_CRL, next_update, ASN1_TIME),
    ASN1_OPT(TBS_CRL, revoked, ASN1_SEQUENCE),
    ASN1_EXP_SEQUENCE_OF_OPT(TBS_CRL, extensions, X509_EXTENSION, 0),
} ASN1_SEQUENCE_END(TBS_CRL)

IMPLEMENT_ASN1_FUNCTIONS(TBS_CRL)
    // clang-format on

    /*
     * Reads one DER element at *p (before end) with definite length: its tag,
     * whether constructed, and its contents [*content, *p).  0 ok, -1 bad.
     */
    static int der_element(const unsigned char **p, const unsigned char *end, int *tag, int *cons,
                           const unsigned char **content)
{
    long len;
    int cls, rc;

    if (*p >= end)
        return -1;
    rc = ASN1_get_object(p, &len, tag, &cls, (long)(end - *p));
    if ((rc & 0x80) || (rc & 0x01) || cls != V_ASN1_UNIVERSAL || len > end - *p)
        return -1; /* an error, indefinite length, or a tag of another class */
    *cons = rc & V_ASN1_CONSTRUCTED;
    *content = *p;
    *p += len;
    return 0;
}

/* One revokedCertificates entry: SEQUENCE { INTEGER, Time, [SEQUENCE of extensions] }. */
static int crl_entry_ok(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *c;
    int tag, cons;

    if (der_element(&p, end, &tag, &cons, &c) != 0 || tag != V_ASN1_INTEGER || cons || p == c)
        return 0;
    if (der_element(&p, end, &tag, &cons, &c) != 0 || cons ||
        (tag != V_ASN1_UTCTIME && tag != V_ASN1_GENERALIZEDTIME))
        return 0;
    if (p < end && (der_element(&p, end, &tag, &cons, &c) != 0 || tag != V_ASN1_SEQUENCE || !cons))
        return 0;
    return p == end;
}

/* Whether the opaque revokedCertificates element holds only well-formed entries. */
static int crl_entries_ok(const ASN1_STRING *revoked)
{
    const unsigned char *p = ASN1_STRING_get0_data(revoked), *c;
    const unsigned char *end = p + ASN1_STRING_length(revoked);
    int tag, cons;

    if (der_element(&p, end, &tag, &cons, &c) != 0 || tag != V_ASN1_SEQUENCE || !cons || p != end)
        return 0;
    for (p = c; p < end;) {
        const unsigned char *entry;
        if (der_element(&p, end, &tag, &cons, &entry) != 0 || tag != V_ASN1_SEQUENCE || !cons ||
            !crl_entry_ok(entry, p))
            return 0;
    }
    return 1;
}

static int is_tbs_crl(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    TBS_CRL *crl = len <= LONG_MAX ? d2i_TBS_CRL(NULL, &p, (long)len) : NULL;
    int whole =
        crl != NULL && p == data + len && (crl->revoked == NULL || crl_entries_ok(crl->revoked));

    TBS_CRL_free(crl);
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

/*
 * A CMP response's ProtectedPart (RFC 4210 §5.1.3): SEQUENCE { header
 * PKIHeader, body PKIBody }, the body one a server sends (ip, cp, kup, rp,
 * pkiconf, genp, error, pollRep), which the signer signs with a CMP
 * endpoint's protection key.  The header is read field by field (its
 * EXPLICIT tags as RFC 4210 has them); generalInfo and freeText as they come.
 */
typedef struct {
    ASN1_INTEGER *pvno;
    GENERAL_NAME *sender;
    GENERAL_NAME *recipient;
    ASN1_GENERALIZEDTIME *message_time;
    X509_ALGOR *protection_alg;
    ASN1_OCTET_STRING *sender_kid;
    ASN1_OCTET_STRING *recip_kid;
    ASN1_OCTET_STRING *txid;
    ASN1_OCTET_STRING *sender_nonce;
    ASN1_OCTET_STRING *recip_nonce;
    STACK_OF(ASN1_UTF8STRING) * free_text;
    STACK_OF(ASN1_TYPE) * general_info;
} TBS_CMP_HEADER;

typedef struct {
    TBS_CMP_HEADER *header;
    ASN1_TYPE *body;
} TBS_CMP_PART;

// clang-format off
DECLARE_ASN1_FUNCTIONS(TBS_CMP_HEADER)
DECLARE_ASN1_FUNCTIONS(TBS_CMP_PART)

ASN1_SEQUENCE(TBS_CMP_HEADER) = {
    ASN1_SIMPLE(TBS_CMP_HEADER, pvno, ASN1_INTEGER),
    ASN1_SIMPLE(TBS_CMP_HEADER, sender, GENERAL_NAME),
    ASN1_SIMPLE(TBS_CMP_HEADER, recipient, GENERAL_NAME),
    ASN1_EXP_OPT(TBS_CMP_HEADER, message_time, ASN1_GENERALIZEDTIME, 0),
    ASN1_EXP_OPT(TBS_CMP_HEADER, protection_alg, X509_ALGOR, 1),
    ASN1_EXP_OPT(TBS_CMP_HEADER, sender_kid, ASN1_OCTET_STRING, 2),
    ASN1_EXP_OPT(TBS_CMP_HEADER, recip_kid, ASN1_OCTET_STRING, 3),
    ASN1_EXP_OPT(TBS_CMP_HEADER, txid, ASN1_OCTET_STRING, 4),
    ASN1_EXP_OPT(TBS_CMP_HEADER, sender_nonce, ASN1_OCTET_STRING, 5),
    ASN1_EXP_OPT(TBS_CMP_HEADER, recip_nonce, ASN1_OCTET_STRING, 6),
    ASN1_EXP_SEQUENCE_OF_OPT(TBS_CMP_HEADER, free_text, ASN1_UTF8STRING, 7),
    ASN1_EXP_SEQUENCE_OF_OPT(TBS_CMP_HEADER, general_info, ASN1_ANY, 8),
} ASN1_SEQUENCE_END(TBS_CMP_HEADER)
IMPLEMENT_ASN1_FUNCTIONS(TBS_CMP_HEADER)

ASN1_SEQUENCE(TBS_CMP_PART) = {
    ASN1_SIMPLE(TBS_CMP_PART, header, TBS_CMP_HEADER),
    ASN1_SIMPLE(TBS_CMP_PART, body, ASN1_ANY),
} ASN1_SEQUENCE_END(TBS_CMP_PART)
IMPLEMENT_ASN1_FUNCTIONS(TBS_CMP_PART)
    // clang-format on

    /* Whether data is the ProtectedPart of a CMP response (a body a server sends). */
    static int is_cmp_response_part(const unsigned char *data, size_t len)
{
    static const int response_bodies[] = {1, 3, 8, 12, 19, 22, 23, 26};
    const unsigned char *p = data, *b;
    TBS_CMP_PART *part = len <= LONG_MAX ? d2i_TBS_CMP_PART(NULL, &p, (long)len) : NULL;
    long blen = 0, pvno;
    int tag = -1, cls = 0, yes = 0;

    if (part != NULL && p == data + len && part->body->type == V_ASN1_OTHER) {
        b = ASN1_STRING_get0_data(part->body->value.asn1_string);
        pvno = ASN1_INTEGER_get(part->header->pvno);
        if (!(ASN1_get_object(&b, &blen, &tag, &cls,
                              ASN1_STRING_length(part->body->value.asn1_string)) &
              0x80) &&
            cls == V_ASN1_CONTEXT_SPECIFIC && pvno >= 2 && pvno <= 3)
            for (size_t i = 0; i < sizeof(response_bodies) / sizeof(*response_bodies); i++)
                yes |= tag == response_bodies[i];
    }
    TBS_CMP_PART_free(part);
    return yes;
}

int tbs_is_tst_info(const unsigned char *data, size_t len)
{
    int yes = is_tst_info(data, len);

    ERR_clear_error();
    return yes;
}

/*
 * AuditCheckpoint ::= SEQUENCE {
 *     type      OBJECT IDENTIFIER,  -- TBS_AUDIT_CHECKPOINT_OID
 *     tenant    UTF8String,
 *     seq       INTEGER,            -- the chain's last row (>= 1)
 *     headHash  OCTET STRING,       -- that row's hash, 32 bytes (SHA-256)
 *     time      GeneralizedTime }
 */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_UTF8STRING *tenant;
    ASN1_INTEGER *seq;
    ASN1_OCTET_STRING *head_hash;
    ASN1_GENERALIZEDTIME *time;
} AUDIT_CHECKPOINT;

// clang-format off
DECLARE_ASN1_FUNCTIONS(AUDIT_CHECKPOINT)

ASN1_SEQUENCE(AUDIT_CHECKPOINT) = {
    ASN1_SIMPLE(AUDIT_CHECKPOINT, type, ASN1_OBJECT),
    ASN1_SIMPLE(AUDIT_CHECKPOINT, tenant, ASN1_UTF8STRING),
    ASN1_SIMPLE(AUDIT_CHECKPOINT, seq, ASN1_INTEGER),
    ASN1_SIMPLE(AUDIT_CHECKPOINT, head_hash, ASN1_OCTET_STRING),
    ASN1_SIMPLE(AUDIT_CHECKPOINT, time, ASN1_GENERALIZEDTIME),
} ASN1_SEQUENCE_END(AUDIT_CHECKPOINT)

IMPLEMENT_ASN1_FUNCTIONS(AUDIT_CHECKPOINT)
    // clang-format on

    /* Whether type is the OID oid. */
    static int checkpoint_type_ok(const ASN1_OBJECT *type, const char *oid)
{
    ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
    int ok = want != NULL && OBJ_cmp(type, want) == 0;

    ASN1_OBJECT_free(want);
    return ok;
}

/*
 * The decoded checkpoint (or offline bundle digest: the same structure under
 * another OID) if all of data is one with the OID oid and sane fields; else NULL.
 */
static AUDIT_CHECKPOINT *checkpoint_decode(const unsigned char *data, size_t len, const char *oid)
{
    const unsigned char *p = data;
    AUDIT_CHECKPOINT *c = len <= LONG_MAX ? d2i_AUDIT_CHECKPOINT(NULL, &p, (long)len) : NULL;
    int64_t seq = 0;

    if (c != NULL && (p != data + len || !checkpoint_type_ok(c->type, oid) ||
                      ASN1_INTEGER_get_int64(&seq, c->seq) != 1 || seq < 1 ||
                      ASN1_STRING_length(c->head_hash) != 32 || ASN1_STRING_length(c->tenant) < 1 ||
                      ASN1_TIME_check(c->time) != 1)) {
        AUDIT_CHECKPOINT_free(c);
        c = NULL;
    }
    return c;
}

/* The DER of a checkpoint-shaped structure of type oid (tbs_checkpoint_encode). */
static int digest_encode(const char *oid, const char *tenant, int64_t seq,
                         const unsigned char hash[32], int64_t when, unsigned char **der,
                         size_t *len)
{
    AUDIT_CHECKPOINT *c = AUDIT_CHECKPOINT_new();
    unsigned char *out = NULL;
    int n = -1;

    if (c != NULL && (c->type = OBJ_txt2obj(oid, 1)) != NULL &&
        ASN1_STRING_set(c->tenant, tenant, -1) == 1 && ASN1_INTEGER_set_int64(c->seq, seq) == 1 &&
        ASN1_OCTET_STRING_set(c->head_hash, hash, 32) == 1 &&
        ASN1_GENERALIZEDTIME_set(c->time, (time_t)when) != NULL)
        n = i2d_AUDIT_CHECKPOINT(c, &out);
    AUDIT_CHECKPOINT_free(c);
    if (n <= 0)
        return -1;
    *der = out;
    *len = (size_t)n;
    return 0;
}

int tbs_checkpoint_encode(const char *tenant, int64_t seq, const unsigned char hash[32],
                          int64_t when, unsigned char **der, size_t *len)
{
    return digest_encode(TBS_AUDIT_CHECKPOINT_OID, tenant, seq, hash, when, der, len);
}

int tbs_bundle_encode(const char *tenant, int64_t seq, const unsigned char hash[32], int64_t when,
                      unsigned char **der, size_t *len)
{
    return digest_encode(TBS_OFFLINE_BUNDLE_OID, tenant, seq, hash, when, der, len);
}

int tbs_webhook_secret_encode(const char *tenant, const unsigned char nonce[32],
                              unsigned char **der, size_t *len)
{
    return digest_encode(TBS_WEBHOOK_SECRET_OID, tenant, 1, nonce, 0, der, len);
}

/*
 * AcmeEabKeyInput ::= SEQUENCE {
 *     purpose   OBJECT IDENTIFIER,  -- TBS_ACME_EAB_KEY_OID
 *     tenant    UTF8String,
 *     endpoint  UTF8String,
 *     kid       UTF8String,
 *     nonce     OCTET STRING }      -- 32 bytes
 *
 * Not the checkpoint's shape (its third element is no INTEGER), so it never
 * decodes as a checkpoint, a bundle digest or a webhook secret's input.
 */
typedef struct {
    ASN1_OBJECT *purpose;
    ASN1_UTF8STRING *tenant;
    ASN1_UTF8STRING *endpoint;
    ASN1_UTF8STRING *kid;
    ASN1_OCTET_STRING *nonce;
} ACME_EAB_KEY_INPUT;

// clang-format off
DECLARE_ASN1_FUNCTIONS(ACME_EAB_KEY_INPUT)

ASN1_SEQUENCE(ACME_EAB_KEY_INPUT) = {
    ASN1_SIMPLE(ACME_EAB_KEY_INPUT, purpose, ASN1_OBJECT),
    ASN1_SIMPLE(ACME_EAB_KEY_INPUT, tenant, ASN1_UTF8STRING),
    ASN1_SIMPLE(ACME_EAB_KEY_INPUT, endpoint, ASN1_UTF8STRING),
    ASN1_SIMPLE(ACME_EAB_KEY_INPUT, kid, ASN1_UTF8STRING),
    ASN1_SIMPLE(ACME_EAB_KEY_INPUT, nonce, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(ACME_EAB_KEY_INPUT)

IMPLEMENT_ASN1_FUNCTIONS(ACME_EAB_KEY_INPUT)
    // clang-format on

    /* The input of a secret named (tenant, endpoint, kid) of purpose oid, with its nonce. */
    static int named_key_encode(const char *oid, const char *tenant, const char *endpoint,
                                const char *kid, const unsigned char nonce[32], unsigned char **der,
                                size_t *len)
{
    ACME_EAB_KEY_INPUT *in = ACME_EAB_KEY_INPUT_new();
    unsigned char *out = NULL;
    int n = -1;

    if (in != NULL && (in->purpose = OBJ_txt2obj(oid, 1)) != NULL &&
        ASN1_STRING_set(in->tenant, tenant, -1) == 1 &&
        ASN1_STRING_set(in->endpoint, endpoint, -1) == 1 &&
        ASN1_STRING_set(in->kid, kid, -1) == 1 && ASN1_OCTET_STRING_set(in->nonce, nonce, 32) == 1)
        n = i2d_ACME_EAB_KEY_INPUT(in, &out);
    ACME_EAB_KEY_INPUT_free(in);
    if (n <= 0)
        return -1;
    *der = out;
    *len = (size_t)n;
    return 0;
}

int tbs_eab_key_encode(const char *tenant, const char *endpoint, const char *kid,
                       const unsigned char nonce[32], unsigned char **der, size_t *len)
{
    return named_key_encode(TBS_ACME_EAB_KEY_OID, tenant, endpoint, kid, nonce, der, len);
}

int tbs_cmp_secret_encode(const char *tenant, const char *endpoint, const char *ref,
                          const unsigned char nonce[32], unsigned char **der, size_t *len)
{
    return named_key_encode(TBS_CMP_SECRET_OID, tenant, endpoint, ref, nonce, der, len);
}

/*
 * Whether data begins with an EAB key's or a CMP secret's input (whatever
 * follows: it is refused either way).
 */
static int is_eab_key_input(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    ACME_EAB_KEY_INPUT *in = len <= LONG_MAX ? d2i_ACME_EAB_KEY_INPUT(NULL, &p, (long)len) : NULL;
    int yes = in != NULL && (checkpoint_type_ok(in->purpose, TBS_ACME_EAB_KEY_OID) ||
                             checkpoint_type_ok(in->purpose, TBS_CMP_SECRET_OID));

    ACME_EAB_KEY_INPUT_free(in);
    return yes;
}

/* The fields of a checkpoint-shaped structure of type oid (tbs_checkpoint_decode). */
static int digest_decode(const char *oid, const unsigned char *der, size_t len, char **tenant,
                         int64_t *seq, unsigned char hash[32], int64_t *when)
{
    AUDIT_CHECKPOINT *c = checkpoint_decode(der, len, oid);
    struct tm tm;
    int rc = -1;

    if (c != NULL && ASN1_TIME_to_tm(c->time, &tm) == 1 &&
        ASN1_INTEGER_get_int64(seq, c->seq) == 1) {
        size_t n = (size_t)ASN1_STRING_length(c->tenant);
        *tenant = malloc(n + 1);
        if (*tenant == NULL)
            abort();
        memcpy(*tenant, ASN1_STRING_get0_data(c->tenant), n);
        (*tenant)[n] = '\0';
        memcpy(hash, ASN1_STRING_get0_data(c->head_hash), 32);
        *when = (int64_t)timegm(&tm);
        rc = 0;
    }
    AUDIT_CHECKPOINT_free(c);
    ERR_clear_error();
    return rc;
}

int tbs_checkpoint_decode(const unsigned char *der, size_t len, char **tenant, int64_t *seq,
                          unsigned char hash[32], int64_t *when)
{
    return digest_decode(TBS_AUDIT_CHECKPOINT_OID, der, len, tenant, seq, hash, when);
}

int tbs_bundle_decode(const unsigned char *der, size_t len, char **tenant, int64_t *seq,
                      unsigned char hash[32], int64_t *when)
{
    return digest_decode(TBS_OFFLINE_BUNDLE_OID, der, len, tenant, seq, hash, when);
}

static int is_checkpoint_of(const unsigned char *data, size_t len, const char *oid)
{
    AUDIT_CHECKPOINT *c = checkpoint_decode(data, len, oid);
    int ok = c != NULL;

    AUDIT_CHECKPOINT_free(c);
    return ok;
}

/*
 * Whether data starts with a SEQUENCE whose first element is an OBJECT
 * IDENTIFIER (as every structure of ours under the 2.25 arc does, and no
 * certificate, CRL, CSR, OCSP or TSTInfo body): a cheap look before decoding.
 */
static int starts_with_oid(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    long n = 0;
    int tag = 0, cls = 0;

    if (len > LONG_MAX || (ASN1_get_object(&p, &n, &tag, &cls, (long)len) & 0x80) ||
        tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
        return 0;
    return p < data + len && *p == V_ASN1_OBJECT;
}

int tbs_is_secret_input(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    AUDIT_CHECKPOINT *c;
    int yes;

    if (!starts_with_oid(data, len))
        return 0;
    c = d2i_AUDIT_CHECKPOINT(NULL, &p, (long)len);
    yes = (c != NULL && checkpoint_type_ok(c->type, TBS_WEBHOOK_SECRET_OID)) ||
          is_eab_key_input(data, len);

    AUDIT_CHECKPOINT_free(c);
    ERR_clear_error();
    return yes;
}

/*
 * The signed attributes of a SCEP CertRep (RFC 8894 §3.3.2), as CMS signs
 * them (RFC 5652 §5.4: SET OF Attribute): among them messageType "3"
 * (CertRep) and pkiStatus, each with one PrintableString value.  What an RA
 * key signs; a request's attributes (PKCSReq...) are not a CertRep's.
 */
typedef STACK_OF(X509_ATTRIBUTE) TBS_ATTR_SET;
DECLARE_ASN1_ITEM(TBS_ATTR_SET)
// clang-format off
ASN1_ITEM_TEMPLATE(TBS_ATTR_SET) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_OF, 0, Attributes, X509_ATTRIBUTE)
ASN1_ITEM_TEMPLATE_END(TBS_ATTR_SET)
    // clang-format on

    /* The one PrintableString value of attribute oid in attrs; NULL if not exactly one. */
    static const ASN1_STRING
    * attr_printable(TBS_ATTR_SET * attrs, const char *oid)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    const ASN1_STRING *v = NULL;
    int found = 0;

    for (int i = 0; obj != NULL && i < sk_X509_ATTRIBUTE_num(attrs); i++) {
        X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(attrs, i);
        ASN1_TYPE *t;
        if (OBJ_cmp(X509_ATTRIBUTE_get0_object(a), obj) != 0)
            continue;
        found++;
        t = X509_ATTRIBUTE_count(a) == 1 ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
        v = t != NULL && t->type == V_ASN1_PRINTABLESTRING ? t->value.printablestring : NULL;
    }
    ASN1_OBJECT_free(obj);
    return found == 1 ? v : NULL;
}

static int is_scep_certrep_attrs(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    TBS_ATTR_SET *attrs =
        len <= LONG_MAX && len > 0 && data[0] == 0x31
            ? (TBS_ATTR_SET *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(TBS_ATTR_SET))
            : NULL;
    const ASN1_STRING *type, *status;
    int yes = 0;

    if (attrs != NULL && p == data + len) {
        type = attr_printable(attrs, "2.16.840.1.113733.1.9.2");   /* messageType */
        status = attr_printable(attrs, "2.16.840.1.113733.1.9.3"); /* pkiStatus */
        yes = type != NULL && status != NULL && ASN1_STRING_length(type) == 1 &&
              ASN1_STRING_get0_data(type)[0] == '3';
    }
    sk_X509_ATTRIBUTE_pop_free(attrs, X509_ATTRIBUTE_free);
    ERR_clear_error();
    return yes;
}

const char *tbs_kind(const unsigned char *data, size_t len)
{
    const char *kind;

    /* Refused before anything else is tried: no kind added later can let these through. */
    if (tbs_is_secret_input(data, len))
        return NULL;
    kind = is_tbs_certificate(data, len)                           ? "certificate"
           : is_tbs_crl(data, len)                                 ? "CRL"
           : is_tbs_csr(data, len)                                 ? "CSR"
           : is_tbs_ocsp(data, len)                                ? "OCSP response"
           : is_tst_info(data, len)                                ? "TSTInfo"
           : is_checkpoint_of(data, len, TBS_AUDIT_CHECKPOINT_OID) ? "audit checkpoint"
           : is_checkpoint_of(data, len, TBS_OFFLINE_BUNDLE_OID)   ? "offline bundle"
           : is_cmp_response_part(data, len)                       ? "CMP response"
           : is_scep_certrep_attrs(data, len)                      ? "SCEP CertRep"
                                                                   : NULL;

    ERR_clear_error();
    return kind;
}

int tbs_issuer(const unsigned char *data, size_t len, X509_NAME **issuer,
               ASN1_OCTET_STRING **key_id)
{
    const unsigned char *p = data;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    TBS_CERT *cert = NULL;
    TBS_CRL *crl = NULL;
    AUTHORITY_KEYID *akid;
    int rc = -1;

    *issuer = NULL;
    *key_id = NULL;
    if ((cert = d2i_TBS_CERT(NULL, &p, (long)len)) != NULL && p == data + len) {
        *issuer = X509_NAME_dup(cert->issuer);
        exts = cert->extensions;
    } else {
        p = data;
        if ((crl = d2i_TBS_CRL(NULL, &p, (long)len)) != NULL && p == data + len) {
            *issuer = X509_NAME_dup(crl->issuer);
            exts = crl->extensions;
        }
    }
    if (*issuer != NULL) {
        akid = X509V3_get_d2i(exts, NID_authority_key_identifier, NULL, NULL);
        if (akid != NULL && akid->keyid != NULL)
            *key_id = ASN1_OCTET_STRING_dup(akid->keyid);
        AUTHORITY_KEYID_free(akid);
        rc = 0;
    }
    TBS_CERT_free(cert);
    TBS_CRL_free(crl);
    ERR_clear_error();
    return rc;
}

/*
 * An OCSP ResponseData (RFC 6960 §4.2.1) read for its responderID only: the responses and
 * extensions as opaque elements.
 */
typedef struct {
    int type; /* 0: byName, 1: byKey */
    union {
        X509_NAME *by_name;
        ASN1_OCTET_STRING *by_key;
    } value;
} TBS_RESPONDER_ID;

typedef struct {
    ASN1_INTEGER *version;
    TBS_RESPONDER_ID *responder_id;
    ASN1_GENERALIZEDTIME *produced_at;
    ASN1_STRING *responses;
    ASN1_STRING *extensions;
} TBS_OCSP_ID;

// clang-format off
DECLARE_ASN1_FUNCTIONS(TBS_RESPONDER_ID)
DECLARE_ASN1_FUNCTIONS(TBS_OCSP_ID)

ASN1_CHOICE(TBS_RESPONDER_ID) = {
    ASN1_EXP(TBS_RESPONDER_ID, value.by_name, X509_NAME, 1),
    ASN1_EXP(TBS_RESPONDER_ID, value.by_key, ASN1_OCTET_STRING, 2),
} ASN1_CHOICE_END(TBS_RESPONDER_ID)

IMPLEMENT_ASN1_FUNCTIONS(TBS_RESPONDER_ID)

ASN1_SEQUENCE(TBS_OCSP_ID) = {
    ASN1_EXP_OPT(TBS_OCSP_ID, version, ASN1_INTEGER, 0),
    ASN1_SIMPLE(TBS_OCSP_ID, responder_id, TBS_RESPONDER_ID),
    ASN1_SIMPLE(TBS_OCSP_ID, produced_at, ASN1_GENERALIZEDTIME),
    ASN1_SIMPLE(TBS_OCSP_ID, responses, ASN1_SEQUENCE),
    ASN1_EXP_OPT(TBS_OCSP_ID, extensions, ASN1_SEQUENCE, 1),
} ASN1_SEQUENCE_END(TBS_OCSP_ID)

IMPLEMENT_ASN1_FUNCTIONS(TBS_OCSP_ID)
    // clang-format on

    int tbs_ocsp_responder_key_hash(const unsigned char *data, size_t len, unsigned char hash[20])
{
    const unsigned char *p = data;
    TBS_OCSP_ID *rd = d2i_TBS_OCSP_ID(NULL, &p, (long)len);
    int rc = -1;

    if (rd != NULL && p == data + len) {
        if (rd->responder_id->type == 1 &&
            ASN1_STRING_length(rd->responder_id->value.by_key) == 20) {
            memcpy(hash, ASN1_STRING_get0_data(rd->responder_id->value.by_key), 20);
            rc = 1;
        } else if (rd->responder_id->type == 0)
            rc = 0;
    }
    TBS_OCSP_ID_free(rd);
    ERR_clear_error();
    return rc;
}
