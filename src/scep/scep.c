/*
 * scep.c — SCEP (RFC 8894) messages: operation names, the GetCACaps and
 * GetCACert answers, and the outer layer of a pkiMessage (scep.h).  OpenSSL
 * does every encoding; nothing here knows HTTP, the store or the signer.
 */
#include "scep/scep.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

/* RFC 8894 §3.2.1: the attributes of a pkiMessage (id-VeriSign pki attributes). */
#define OID_MESSAGE_TYPE  "2.16.840.1.113733.1.9.2"
#define OID_SENDER_NONCE  "2.16.840.1.113733.1.9.5"
#define OID_TRANSACTIONID "2.16.840.1.113733.1.9.7"

enum scep_op scep_op_of(const char *name)
{
    static const struct {
        const char *name;
        enum scep_op op;
    } ops[] = {
        {"GetCACaps", SCEP_OP_GETCACAPS},
        {"GetCACert", SCEP_OP_GETCACERT},
        {"PKIOperation", SCEP_OP_PKIOPERATION},
    };

    for (size_t i = 0; name != NULL && i < ARRAY_LEN(ops); i++)
        if (strcmp(name, ops[i].name) == 0)
            return ops[i].op;
    return SCEP_OP_NONE;
}

char *scep_caps(int legacy)
{
    /* RFC 8894 §3.5.2; SCEPStandard stands for AES, SHA-256 and POSTPKIOperation together.
       SHA-384 is served as well, and listed: strongSwan's pki 5.9.8 tests its capability bits
       by their index (SCEPStandard's is SHA-384's bit), so it goes on only when SHA-384 is
       listed (docs/decisions.md "SCEP"). */
    return xstrdup(legacy ? "AES\nDES3\nPOSTPKIOperation\nRenewal\nSCEPStandard\nSHA-1\n"
                            "SHA-256\nSHA-384\nSHA-512\n"
                          : "AES\nPOSTPKIOperation\nRenewal\nSCEPStandard\nSHA-256\nSHA-384\n"
                            "SHA-512\n");
}

/* Adds each DER certificate of der (concatenated) to p7; -1 if one does not parse. */
static int certs_add(PKCS7 *p7, const unsigned char *der, size_t len)
{
    const unsigned char *p = der, *end = der + len;

    while (p < end) {
        X509 *x = d2i_X509(NULL, &p, (long)(end - p));
        int ok = x != NULL && PKCS7_add_certificate(p7, x) == 1;
        X509_free(x); /* PKCS7_add_certificate took its own reference */
        if (!ok)
            return -1;
    }
    return 0;
}

int scep_ca_ra_certs(const unsigned char *ra, size_t ra_len, const unsigned char *cas,
                     size_t cas_len, unsigned char **out, size_t *len, struct err *e)
{
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL;
    int n, rc = -1;

    if (p7 == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
        PKCS7_content_new(p7, NID_pkcs7_data) != 1)
        abort(); /* out of memory */
    if (certs_add(p7, ra, ra_len) != 0 || certs_add(p7, cas, cas_len) != 0) {
        err_ossl(e, ERR_INTERNAL, "GetCACert: a certificate does not parse");
        goto out;
    }
    if ((n = i2d_PKCS7(p7, &der)) <= 0) {
        err_ossl(e, ERR_INTERNAL, "GetCACert: cannot encode");
        goto out;
    }
    *out = der;
    *len = (size_t)n;
    rc = 0;
out:
    PKCS7_free(p7);
    return rc;
}

int scep_message_decode(const char *b64, unsigned char **der, size_t *len, struct err *e)
{
    size_t n = strlen(b64);
    char *text;
    unsigned char *d;

    if (n == 0 || n > SCEP_MESSAGE_MAX / 3 * 4 + 8 + SCEP_MESSAGE_MAX / 32)
        return err_set(e, ERR_INVALID, "message: empty or over %d bytes", SCEP_MESSAGE_MAX);
    text = xstrdup(b64);
    for (char *p = text; *p != '\0'; p++)
        if (*p == ' ')
            *p = '+'; /* a '+' that went through form decoding */
    d = base64_decode(text, len);
    free(text);
    if (d == NULL || *len == 0 || *len > SCEP_MESSAGE_MAX) {
        free(d);
        return err_set(e, ERR_INVALID, "message: not base64 of a pkiMessage");
    }
    *der = d;
    return 0;
}

void scep_message_clear(struct scep_message *m)
{
    if (m == NULL)
        return;
    free(m->envelope);
    free(m->signer);
    X509_free(m->signer_cert);
    memset(m, 0, sizeof(*m));
}

/* The one value of signed attribute oid of si, of ASN.1 type type; NULL if not exactly one. */
static ASN1_STRING *signed_attr(CMS_SignerInfo *si, const char *oid, int type)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_STRING *v;

    if (obj == NULL)
        abort(); /* a constant OID */
    v = CMS_signed_get0_data_by_OBJ(si, obj, -3, type);
    ASN1_OBJECT_free(obj);
    return v;
}

/* messageType, transactionID and senderNonce of si into m (RFC 8894 §3.2.1). */
static int attrs_read(CMS_SignerInfo *si, struct scep_message *m, struct err *e)
{
    ASN1_STRING *type = signed_attr(si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING);
    ASN1_STRING *txid = signed_attr(si, OID_TRANSACTIONID, V_ASN1_PRINTABLESTRING);
    ASN1_STRING *nonce = signed_attr(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING);
    char num[4] = {0};
    int t;

    if (type == NULL || txid == NULL || nonce == NULL)
        return err_set(e, ERR_INVALID,
                       "pkiMessage: messageType, transactionID and senderNonce "
                       "are required, once each (RFC 8894 §3.2.1)");
    if (ASN1_STRING_length(type) < 1 || ASN1_STRING_length(type) > 2)
        return err_set(e, ERR_INVALID, "pkiMessage: messageType is not one of RFC 8894");
    memcpy(num, ASN1_STRING_get0_data(type), (size_t)ASN1_STRING_length(type));
    t = atoi(num);
    if (strspn(num, "0123456789") != strlen(num) ||
        (t != SCEP_MSG_PKCSREQ && t != SCEP_MSG_RENEWALREQ && t != SCEP_MSG_CERTPOLL &&
         t != SCEP_MSG_GETCERT && t != SCEP_MSG_GETCRL))
        return err_set(e, ERR_INVALID, "pkiMessage: messageType %s is not a request", num);
    if (ASN1_STRING_length(txid) < 1 || ASN1_STRING_length(txid) > SCEP_TXID_MAX)
        return err_set(e, ERR_INVALID, "pkiMessage: transactionID of 1 to %d characters",
                       SCEP_TXID_MAX);
    if (ASN1_STRING_length(nonce) != SCEP_NONCE_LEN)
        return err_set(e, ERR_INVALID, "pkiMessage: senderNonce of %d bytes (RFC 8894 §3.2.1.5)",
                       SCEP_NONCE_LEN);
    m->type = (enum scep_msg_type)t;
    memcpy(m->txid, ASN1_STRING_get0_data(txid), (size_t)ASN1_STRING_length(txid));
    m->txid[ASN1_STRING_length(txid)] = '\0';
    memcpy(m->sender_nonce, ASN1_STRING_get0_data(nonce), SCEP_NONCE_LEN);
    return 0;
}

/* The digest of si's signature: SHA-2, or SHA-1 with legacy; NID_undef otherwise. */
static int digest_of(CMS_SignerInfo *si, int legacy)
{
    X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *obj = NULL;
    int nid;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &alg, NULL);
    if (alg == NULL)
        return NID_undef;
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    nid = OBJ_obj2nid(obj);
    if (nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512 || (legacy && nid == NID_sha1))
        return nid;
    return NID_undef;
}

/* The content of cms (an EnvelopedData's DER) into m; -1 if it is not one. */
static int envelope_read(CMS_ContentInfo *cms, struct scep_message *m, struct err *e)
{
    ASN1_OCTET_STRING **content = CMS_get0_content(cms);
    const unsigned char *p;
    CMS_ContentInfo *env;
    int ok;

    if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data || content == NULL ||
        *content == NULL)
        return err_set(e, ERR_INVALID, "pkiMessage: its content is not data");
    p = ASN1_STRING_get0_data(*content);
    env = d2i_CMS_ContentInfo(NULL, &p, ASN1_STRING_length(*content));
    ok = env != NULL && OBJ_obj2nid(CMS_get0_type(env)) == NID_pkcs7_enveloped &&
         p == ASN1_STRING_get0_data(*content) + ASN1_STRING_length(*content);
    CMS_ContentInfo_free(env);
    if (!ok)
        return err_set(e, ERR_INVALID, "pkiMessage: its content is not an EnvelopedData");
    m->envelope_len = (size_t)ASN1_STRING_length(*content);
    m->envelope = xmalloc(m->envelope_len);
    memcpy(m->envelope, ASN1_STRING_get0_data(*content), m->envelope_len);
    return 0;
}

/* Verifies cms's one signature with the certificate it carries; its DER into m. */
static int signature_check(CMS_ContentInfo *cms, struct scep_message *m, struct err *e)
{
    STACK_OF(X509) *signers = NULL;
    unsigned char *der = NULL;
    int n;

    if (CMS_verify(cms, NULL, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
        return err_ossl(e, ERR_INVALID, "pkiMessage: its signature does not verify");
    signers = CMS_get0_signers(cms);
    if (signers == NULL || sk_X509_num(signers) != 1 ||
        (n = i2d_X509(sk_X509_value(signers, 0), &der)) <= 0) {
        sk_X509_free(signers);
        return err_set(e, ERR_INVALID, "pkiMessage: not one signer certificate");
    }
    m->signer_cert = sk_X509_value(signers, 0);
    X509_up_ref(m->signer_cert);
    sk_X509_free(signers);
    m->signer = der;
    m->signer_len = (size_t)n;
    return 0;
}

int scep_message_parse(const unsigned char *der, size_t len, int legacy, struct scep_message *m,
                       struct err *e)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = NULL;
    struct scep_message r = {0};
    int rc = -1;

    if (len == 0 || len > SCEP_MESSAGE_MAX)
        return err_set(e, ERR_INVALID, "pkiMessage: empty or over %d bytes", SCEP_MESSAGE_MAX);
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    if (cms == NULL || p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
        err_set(e, ERR_INVALID, "pkiMessage: not a CMS SignedData (RFC 8894 §3.2)");
        goto out;
    }
    if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
        err_set(e, ERR_INVALID, "pkiMessage: not one signer");
        goto out;
    }
    {
        CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
        if ((r.digest_nid = digest_of(si, legacy)) == NID_undef) {
            err_set(e, ERR_POLICY, "pkiMessage: signed with a digest refused here%s",
                    legacy ? "" : " (SHA-1 only where legacy algorithms are enabled)");
            goto out;
        }
        if (attrs_read(si, &r, e) != 0)
            goto out;
    }
    if (envelope_read(cms, &r, e) != 0 || signature_check(cms, &r, e) != 0)
        goto out;
    *m = r;
    memset(&r, 0, sizeof(r));
    rc = 0;
out:
    scep_message_clear(&r);
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return rc;
}

/* ---- the envelope (RFC 8894 §3.2.2) ------------------------------------------------ */

/* The content ciphers accepted: AES-CBC, and 3DES-CBC with legacy (RFC 8894 §3.5.2). */
static int cipher_allowed(int nid, int legacy)
{
    return nid == NID_aes_128_cbc || nid == NID_aes_192_cbc || nid == NID_aes_256_cbc ||
           (legacy && nid == NID_des_ede3_cbc);
}

/* The recipient of env that names the RA certificate ra by issuer and serial; NULL if none. */
static PKCS7_RECIP_INFO *recipient_of(PKCS7_ENVELOPE *env, X509 *ra)
{
    for (int i = 0; i < sk_PKCS7_RECIP_INFO_num(env->recipientinfo); i++) {
        PKCS7_RECIP_INFO *ri = sk_PKCS7_RECIP_INFO_value(env->recipientinfo, i);
        if (ri->issuer_and_serial != NULL &&
            X509_NAME_cmp(ri->issuer_and_serial->issuer, X509_get_issuer_name(ra)) == 0 &&
            ASN1_INTEGER_cmp(ri->issuer_and_serial->serial, X509_get0_serialNumber(ra)) == 0)
            return ri;
    }
    return NULL;
}

/* Decrypts the content of enc with key; *out (caller frees).  -1 if it does not decrypt. */
static int content_decrypt(PKCS7_ENC_CONTENT *enc, const EVP_CIPHER *cipher,
                           const unsigned char *key, unsigned char **out, size_t *out_len)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, len = ASN1_STRING_length(enc->enc_data), ok;
    unsigned char *buf = xmalloc((size_t)len + EVP_MAX_BLOCK_LENGTH);

    ok = ctx != NULL && EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_asn1_to_param(ctx, enc->algorithm->parameter) > 0 &&
         EVP_DecryptInit_ex(ctx, NULL, NULL, key, NULL) == 1 &&
         EVP_DecryptUpdate(ctx, buf, &n, ASN1_STRING_get0_data(enc->enc_data), len) == 1 &&
         EVP_DecryptFinal_ex(ctx, buf + n, &fin) == 1 && n + fin > 0;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = (size_t)(n + fin);
    return 0;
}

int scep_envelope_open(const unsigned char *env, size_t len, X509 *ra_cert, int legacy,
                       scep_unwrap_fn unwrap, void *arg, unsigned char **content,
                       size_t *content_len, int *cipher_nid, enum scep_fail *fail, struct err *e)
{
    const unsigned char *p = env;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
    PKCS7_RECIP_INFO *ri;
    PKCS7_ENC_CONTENT *enc;
    const EVP_CIPHER *cipher = NULL;
    unsigned char key[EVP_MAX_KEY_LENGTH];
    int nid = NID_undef, key_len, rc = -1;

    *fail = SCEP_FAIL_BADMESSAGECHECK;
    if (p7 == NULL || p != env + len || !PKCS7_type_is_enveloped(p7) || ra_cert == NULL ||
        (enc = p7->d.enveloped->enc_data) == NULL || enc->enc_data == NULL ||
        enc->algorithm == NULL) {
        err_set(e, ERR_INVALID, "pkiMessage: its envelope does not parse (RFC 8894 §3.2.2)");
        goto out;
    }
    if ((ri = recipient_of(p7->d.enveloped, ra_cert)) == NULL) {
        err_set(e, ERR_INVALID, "pkiMessage: not encrypted for this endpoint's RA certificate");
        goto out;
    }
    nid = OBJ_obj2nid(enc->algorithm->algorithm);
    if (OBJ_obj2nid(ri->key_enc_algor->algorithm) != NID_rsaEncryption ||
        !cipher_allowed(nid, legacy) || (cipher = EVP_get_cipherbynid(nid)) == NULL) {
        *fail = SCEP_FAIL_BADALG;
        err_set(e, ERR_POLICY, "pkiMessage: its envelope uses %s with %s, refused here%s",
                OBJ_nid2sn(OBJ_obj2nid(ri->key_enc_algor->algorithm)), OBJ_nid2sn(nid),
                legacy ? "" : " (3DES only where legacy algorithms are enabled)");
        goto out;
    }
    key_len = EVP_CIPHER_get_key_length(cipher);
    if (unwrap(arg, ASN1_STRING_get0_data(ri->enc_key), (size_t)ASN1_STRING_length(ri->enc_key),
               key, (size_t)key_len, e) != 0) {
        *fail = SCEP_FAIL_BADMESSAGECHECK;
        goto out;
    }
    if (content_decrypt(enc, cipher, key, content, content_len) != 0) {
        err_set(e, ERR_INVALID, "pkiMessage: its envelope does not decrypt");
        goto out;
    }
    *cipher_nid = nid;
    rc = 0;
out:
    secure_zero(key, sizeof(key));
    PKCS7_free(p7);
    ERR_clear_error();
    return rc;
}

/* ---- what a CertPoll, GetCert or GetCRL names ------------------------------------------ */

/* RFC 8894 §3.3.3: IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }. */
typedef struct {
    X509_NAME *issuer;
    X509_NAME *subject;
} SCEP_ISSUER_AND_SUBJECT;

DECLARE_ASN1_FUNCTIONS(SCEP_ISSUER_AND_SUBJECT)
// clang-format off
ASN1_SEQUENCE(SCEP_ISSUER_AND_SUBJECT) = {
    ASN1_SIMPLE(SCEP_ISSUER_AND_SUBJECT, issuer, X509_NAME),
    ASN1_SIMPLE(SCEP_ISSUER_AND_SUBJECT, subject, X509_NAME),
} ASN1_SEQUENCE_END(SCEP_ISSUER_AND_SUBJECT)
IMPLEMENT_ASN1_FUNCTIONS(SCEP_ISSUER_AND_SUBJECT)
    // clang-format on

    void scep_ref_clear(struct scep_ref * r)
{
    if (r == NULL)
        return;
    X509_NAME_free(r->issuer);
    X509_NAME_free(r->subject);
    ASN1_INTEGER_free(r->serial);
    memset(r, 0, sizeof(*r));
}

int scep_ref_parse(enum scep_msg_type t, const unsigned char *der, size_t len, struct scep_ref *r,
                   struct err *e)
{
    const unsigned char *p = der;

    memset(r, 0, sizeof(*r));
    if (t == SCEP_MSG_CERTPOLL) {
        SCEP_ISSUER_AND_SUBJECT *is = d2i_SCEP_ISSUER_AND_SUBJECT(NULL, &p, (long)len);
        if (is != NULL && p == der + len) {
            r->issuer = is->issuer;
            r->subject = is->subject;
            is->issuer = is->subject = NULL;
        }
        SCEP_ISSUER_AND_SUBJECT_free(is);
    } else if (t == SCEP_MSG_GETCERT || t == SCEP_MSG_GETCRL) {
        PKCS7_ISSUER_AND_SERIAL *is = d2i_PKCS7_ISSUER_AND_SERIAL(NULL, &p, (long)len);
        if (is != NULL && p == der + len) {
            r->issuer = is->issuer;
            r->serial = is->serial;
            is->issuer = NULL;
            is->serial = NULL;
        }
        PKCS7_ISSUER_AND_SERIAL_free(is);
    }
    ERR_clear_error();
    if (r->issuer == NULL)
        return err_set(e, ERR_INVALID, "pkiMessage: its content is not an %s (RFC 8894 §3.3)",
                       t == SCEP_MSG_CERTPOLL ? "IssuerAndSubject" : "IssuerAndSerialNumber");
    return 0;
}

/* ---- the CertRep (RFC 8894 §3.3.2) ------------------------------------------------ */

#define OID_PKI_STATUS      "2.16.840.1.113733.1.9.3"
#define OID_FAIL_INFO       "2.16.840.1.113733.1.9.4"
#define OID_RECIPIENT_NONCE "2.16.840.1.113733.1.9.6"

/*
 * The degenerate certificates-only SignedData of a CertRep's content (RFC
 * 8894 §3.3.2), with OpenSSL's templates: its certificates and CRL go in as
 * the DER they are (ANY), so no key of theirs is decoded (OpenSSL 3.0 decodes
 * a certificate's key through its provider decoders, under locks shared by
 * every thread: ~140 µs).
 */
typedef struct {
    ASN1_OBJECT *type;
} SCEP_ENCAP;
typedef struct {
    ASN1_INTEGER *version;
    STACK_OF(X509_ALGOR) * digests;
    SCEP_ENCAP *encap;
    STACK_OF(ASN1_TYPE) * certs;
    STACK_OF(ASN1_TYPE) * crls;
    STACK_OF(ASN1_TYPE) * signers;
} SCEP_CERTS_ONLY;
typedef struct {
    ASN1_OBJECT *type;
    SCEP_CERTS_ONLY *signed_data;
} SCEP_CERTS_INFO;
// clang-format off
ASN1_SEQUENCE(SCEP_ENCAP) = {
    ASN1_SIMPLE(SCEP_ENCAP, type, ASN1_OBJECT),
} static_ASN1_SEQUENCE_END(SCEP_ENCAP)
ASN1_SEQUENCE(SCEP_CERTS_ONLY) = {
    ASN1_SIMPLE(SCEP_CERTS_ONLY, version, ASN1_INTEGER),
    ASN1_SET_OF(SCEP_CERTS_ONLY, digests, X509_ALGOR),
    ASN1_SIMPLE(SCEP_CERTS_ONLY, encap, SCEP_ENCAP),
    ASN1_IMP_SET_OF_OPT(SCEP_CERTS_ONLY, certs, ASN1_ANY, 0),
    ASN1_IMP_SET_OF_OPT(SCEP_CERTS_ONLY, crls, ASN1_ANY, 1),
    ASN1_SET_OF(SCEP_CERTS_ONLY, signers, ASN1_ANY),
} static_ASN1_SEQUENCE_END(SCEP_CERTS_ONLY)
ASN1_SEQUENCE(SCEP_CERTS_INFO) = {
    ASN1_SIMPLE(SCEP_CERTS_INFO, type, ASN1_OBJECT),
    ASN1_EXP(SCEP_CERTS_INFO, signed_data, SCEP_CERTS_ONLY, 0),
} static_ASN1_SEQUENCE_END(SCEP_CERTS_INFO)
    // clang-format on

    /* Pushes each DER element of der (one after another) onto *sk as an ANY; -1 if one is none. */
    static int elements_push(STACK_OF(ASN1_TYPE) * *sk, const unsigned char *der, size_t len)
{
    const unsigned char *p = der, *end = der + len;

    if (*sk == NULL && (*sk = sk_ASN1_TYPE_new_null()) == NULL)
        abort(); /* out of memory */
    while (p < end) {
        ASN1_TYPE *t = d2i_ASN1_TYPE(NULL, &p, (long)(end - p));
        if (t == NULL || t->type != V_ASN1_SEQUENCE || sk_ASN1_TYPE_push(*sk, t) <= 0) {
            ASN1_TYPE_free(t);
            return -1;
        }
    }
    return 0;
}

/* The DER of the certs-only SignedData of r's certificates and CRL; *out OPENSSL_free. */
static int certs_only(const struct scep_reply *r, unsigned char **out, struct err *e)
{
    SCEP_CERTS_INFO *ci = (SCEP_CERTS_INFO *)ASN1_item_new(ASN1_ITEM_rptr(SCEP_CERTS_INFO));
    SCEP_CERTS_ONLY *sd = ci ? ci->signed_data : NULL;
    int n = -1;

    if (sd == NULL)
        abort(); /* out of memory */
    ASN1_OBJECT_free(ci->type);
    ASN1_OBJECT_free(sd->encap->type);
    ci->type = OBJ_nid2obj(NID_pkcs7_signed);
    sd->encap->type = OBJ_nid2obj(NID_pkcs7_data);
    if (sd->digests == NULL)
        sd->digests = sk_X509_ALGOR_new_null();
    if (sd->signers == NULL)
        sd->signers = sk_ASN1_TYPE_new_null();
    if (sd->digests == NULL || sd->signers == NULL || ASN1_INTEGER_set(sd->version, 1) != 1)
        abort(); /* out of memory */
    if ((r->certs_len > 0 && elements_push(&sd->certs, r->certs, r->certs_len) != 0) ||
        (r->crl != NULL && elements_push(&sd->crls, r->crl, r->crl_len) != 0))
        err_set(e, ERR_INTERNAL, "CertRep: a certificate or CRL is not a DER SEQUENCE");
    else if ((n = ASN1_item_i2d((ASN1_VALUE *)ci, out, ASN1_ITEM_rptr(SCEP_CERTS_INFO))) <= 0)
        err_set(e, ERR_INTERNAL, "CertRep: cannot encode its certificates");
    ASN1_item_free((ASN1_VALUE *)ci, ASN1_ITEM_rptr(SCEP_CERTS_INFO));
    return n;
}

/* The certs-only SignedData of r's certificates and CRL, enveloped for the recipient. */
static int certrep_content(const struct scep_reply *r, unsigned char **out, int *out_len,
                           struct err *e)
{
    STACK_OF(X509) *recipients = sk_X509_new_null();
    unsigned char *der = NULL;
    PKCS7 *env = NULL;
    BIO *in = NULL;
    int n, rc = -1;

    if (recipients == NULL)
        abort(); /* out of memory */
    if (r->recipient == NULL || sk_X509_push(recipients, r->recipient) <= 0 ||
        (n = certs_only(r, &der, e)) <= 0)
        goto out;
    if ((in = BIO_new_mem_buf(der, n)) == NULL ||
        (env = PKCS7_encrypt(recipients, in, EVP_get_cipherbynid(r->cipher_nid), PKCS7_BINARY)) ==
            NULL ||
        (*out_len = i2d_PKCS7(env, out)) <= 0) {
        err_ossl(e, ERR_INTERNAL, "CertRep: cannot make its envelope");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(der);
    BIO_free(in);
    PKCS7_free(env);
    sk_X509_free(recipients); /* the recipient is the caller's */
    return rc;
}

/* Adds the SCEP attributes of r (and a new senderNonce) to si. */
static int certrep_attrs(CMS_SignerInfo *si, const struct scep_reply *r)
{
    unsigned char nonce[SCEP_NONCE_LEN];
    char status[2] = {(char)('0' + r->status), 0}, fail[2] = {(char)('0' + r->fail), 0};
    int ok = random_bytes(nonce, sizeof(nonce)) == 0;

    ok = ok &&
         CMS_signed_add1_attr_by_txt(si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "3", 1) == 1 &&
         CMS_signed_add1_attr_by_txt(si, OID_PKI_STATUS, V_ASN1_PRINTABLESTRING, status, 1) == 1 &&
         CMS_signed_add1_attr_by_txt(si, OID_TRANSACTIONID, V_ASN1_PRINTABLESTRING, r->txid,
                                     (int)strlen(r->txid)) == 1 &&
         CMS_signed_add1_attr_by_txt(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING, nonce,
                                     SCEP_NONCE_LEN) == 1 &&
         CMS_signed_add1_attr_by_txt(si, OID_RECIPIENT_NONCE, V_ASN1_OCTET_STRING,
                                     r->recipient_nonce, SCEP_NONCE_LEN) == 1;
    if (ok && r->status == SCEP_FAILURE)
        ok = CMS_signed_add1_attr_by_txt(si, OID_FAIL_INFO, V_ASN1_PRINTABLESTRING, fail, 1) == 1;
    return ok ? 0 : -1;
}

/* The signed attributes as DER signs them (RFC 5652 §5.4); OPENSSL_free. */
static int attrs_der(CMS_SignerInfo *si, unsigned char **der)
{
    STACK_OF(X509_ATTRIBUTE) *attrs = sk_X509_ATTRIBUTE_new_null();
    int n = -1, ok = attrs != NULL;

    for (int i = 0; ok && i < CMS_signed_get_attr_count(si); i++)
        ok = sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)) > 0;
    if (ok)
        n = ASN1_item_i2d((ASN1_VALUE *)attrs, der, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
    sk_X509_ATTRIBUTE_free(attrs); /* the attributes are si's */
    return n;
}

int scep_certrep(const struct scep_reply *r, scep_sign_fn sign, void *arg, unsigned char **out,
                 size_t *len, struct err *e)
{
    const char *md = r->digest_nid == NID_sha512   ? "SHA512"
                     : r->digest_nid == NID_sha384 ? "SHA384"
                                                   : "SHA256";
    unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
    X509 *ra = r->ra;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
    CMS_SignerInfo *si = NULL;
    ASN1_OCTET_STRING **content = cms ? CMS_get0_content(cms) : NULL;
    unsigned char *body = NULL, *attrs = NULL, *sig = NULL, *der = NULL, hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    int body_len = 0, attrs_len, n, rc = -1;
    size_t sig_len = 0;

    if (ra == NULL || cms == NULL || content == NULL) {
        err_ossl(e, ERR_INTERNAL, "CertRep: no RA certificate");
        goto out;
    }
    if (r->status == SCEP_SUCCESS && certrep_content(r, &body, &body_len, e) != 0)
        goto out;
    if ((si = CMS_add1_signer(cms, ra, X509_get0_pubkey(ra), EVP_get_digestbyname(md), flags)) ==
            NULL ||
        certrep_attrs(si, r) != 0 ||
        EVP_Digest(body ? body : (const unsigned char *)"", (size_t)body_len, hash, &hash_len,
                   EVP_get_digestbyname(md), NULL) != 1 ||
        CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                    OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
        CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, hash,
                                    (int)hash_len) != 1 ||
        (attrs_len = attrs_der(si, &attrs)) <= 0) {
        err_ossl(e, ERR_INTERNAL, "CertRep: cannot make its signed attributes");
        goto out;
    }
    if (sign(arg, md, attrs, (size_t)attrs_len, &sig, &sig_len, e) != 0)
        goto out;
    if (*content == NULL)
        *content = ASN1_OCTET_STRING_new();
    if (*content == NULL ||
        ASN1_OCTET_STRING_set(*content, body ? body : (const unsigned char *)"", body_len) != 1 ||
        ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len) != 1 ||
        (n = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
        err_ossl(e, ERR_INTERNAL, "CertRep: cannot be encoded");
        goto out;
    }
    *out = xmalloc((size_t)n);
    memcpy(*out, der, (size_t)n);
    *len = (size_t)n;
    rc = 0;
out:
    OPENSSL_free(body);
    OPENSSL_free(attrs);
    OPENSSL_free(der);
    free(sig);
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return rc;
}
