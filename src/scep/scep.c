/*
 * scep.c — SCEP (RFC 8894) messages: operation names, the GetCACaps and
 * GetCACert answers, and the outer layer of a pkiMessage (scep.h).  OpenSSL
 * does every encoding; nothing here knows HTTP, the store or the signer.
 */
#include "scep/scep.h"

#include <stdlib.h>
#include <string.h>

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
    /* RFC 8894 §3.5.2; SCEPStandard stands for AES, SHA-256 and POSTPKIOperation together. */
    return xstrdup(legacy ? "AES\nDES3\nPOSTPKIOperation\nRenewal\nSCEPStandard\nSHA-1\n"
                            "SHA-256\nSHA-512\n"
                          : "AES\nPOSTPKIOperation\nRenewal\nSCEPStandard\nSHA-256\nSHA-512\n");
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
