/*
 * cmp.c — the PKIHeader of a CMP message read with templates of our own, and
 * the error messages vouch makes itself (cmp.h says why OpenSSL's do not
 * serve).  The templates follow RFC 4210 §5.1 (the PKIXCMP module has
 * EXPLICIT TAGS); the body is kept as it came (its tag names its kind).
 */
#include "core/cmp.h"
#include "core/core_internal.h"
#include "core/profile.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* InfoTypeAndValue ::= SEQUENCE { infoType OBJECT IDENTIFIER, infoValue ANY OPTIONAL } */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *value;
} CMP_ITAV_RAW;
DEFINE_STACK_OF(CMP_ITAV_RAW)

/* PKIHeader (RFC 4210 §5.1.1) */
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
    STACK_OF(CMP_ITAV_RAW) * general_info;
} CMP_HDR;

/* PKIMessage, its body as it came */
typedef struct {
    CMP_HDR *header;
    ASN1_TYPE *body;
    ASN1_BIT_STRING *protection;
    STACK_OF(ASN1_TYPE) * extra_certs;
} CMP_RAW;

/* PKIStatusInfo (§5.2.3) */
typedef struct {
    ASN1_INTEGER *status;
    STACK_OF(ASN1_UTF8STRING) * status_string;
    ASN1_BIT_STRING *fail_info;
} CMP_SI;

/* ErrorMsgContent (§5.3.21) */
typedef struct {
    CMP_SI *si;
    ASN1_INTEGER *code;
    STACK_OF(ASN1_UTF8STRING) * details;
} CMP_ERRC;

/* A PKIMessage whose body is error [23] and that carries no protection */
typedef struct {
    CMP_HDR *header;
    CMP_ERRC *body;
} CMP_ERRMSG;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CMP_ITAV_RAW)
DECLARE_ASN1_FUNCTIONS(CMP_HDR)
DECLARE_ASN1_FUNCTIONS(CMP_RAW)
DECLARE_ASN1_FUNCTIONS(CMP_SI)
DECLARE_ASN1_FUNCTIONS(CMP_ERRC)
DECLARE_ASN1_FUNCTIONS(CMP_ERRMSG)

ASN1_SEQUENCE(CMP_ITAV_RAW) = {
    ASN1_SIMPLE(CMP_ITAV_RAW, type, ASN1_OBJECT),
    ASN1_OPT(CMP_ITAV_RAW, value, ASN1_ANY),
} ASN1_SEQUENCE_END(CMP_ITAV_RAW)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ITAV_RAW)

ASN1_SEQUENCE(CMP_HDR) = {
    ASN1_SIMPLE(CMP_HDR, pvno, ASN1_INTEGER),
    ASN1_SIMPLE(CMP_HDR, sender, GENERAL_NAME),
    ASN1_SIMPLE(CMP_HDR, recipient, GENERAL_NAME),
    ASN1_EXP_OPT(CMP_HDR, message_time, ASN1_GENERALIZEDTIME, 0),
    ASN1_EXP_OPT(CMP_HDR, protection_alg, X509_ALGOR, 1),
    ASN1_EXP_OPT(CMP_HDR, sender_kid, ASN1_OCTET_STRING, 2),
    ASN1_EXP_OPT(CMP_HDR, recip_kid, ASN1_OCTET_STRING, 3),
    ASN1_EXP_OPT(CMP_HDR, txid, ASN1_OCTET_STRING, 4),
    ASN1_EXP_OPT(CMP_HDR, sender_nonce, ASN1_OCTET_STRING, 5),
    ASN1_EXP_OPT(CMP_HDR, recip_nonce, ASN1_OCTET_STRING, 6),
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_HDR, free_text, ASN1_UTF8STRING, 7),
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_HDR, general_info, CMP_ITAV_RAW, 8),
} ASN1_SEQUENCE_END(CMP_HDR)
IMPLEMENT_ASN1_FUNCTIONS(CMP_HDR)

ASN1_SEQUENCE(CMP_RAW) = {
    ASN1_SIMPLE(CMP_RAW, header, CMP_HDR),
    ASN1_SIMPLE(CMP_RAW, body, ASN1_ANY),
    ASN1_EXP_OPT(CMP_RAW, protection, ASN1_BIT_STRING, 0),
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_RAW, extra_certs, ASN1_ANY, 1),
} ASN1_SEQUENCE_END(CMP_RAW)
IMPLEMENT_ASN1_FUNCTIONS(CMP_RAW)

ASN1_SEQUENCE(CMP_SI) = {
    ASN1_SIMPLE(CMP_SI, status, ASN1_INTEGER),
    ASN1_SEQUENCE_OF_OPT(CMP_SI, status_string, ASN1_UTF8STRING),
    ASN1_OPT(CMP_SI, fail_info, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CMP_SI)
IMPLEMENT_ASN1_FUNCTIONS(CMP_SI)

ASN1_SEQUENCE(CMP_ERRC) = {
    ASN1_SIMPLE(CMP_ERRC, si, CMP_SI),
    ASN1_OPT(CMP_ERRC, code, ASN1_INTEGER),
    ASN1_SEQUENCE_OF_OPT(CMP_ERRC, details, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(CMP_ERRC)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ERRC)

ASN1_SEQUENCE(CMP_ERRMSG) = {
    ASN1_SIMPLE(CMP_ERRMSG, header, CMP_HDR),
    ASN1_EXP(CMP_ERRMSG, body, CMP_ERRC, 23),
} ASN1_SEQUENCE_END(CMP_ERRMSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ERRMSG)
    // clang-format on

    void cmp_peek_clear(struct cmp_peek * p)
{
    if (p == NULL)
        return;
    free(p->sender_der);
    free(p->first_cert_der);
    memset(p, 0, sizeof(*p));
}

/* Copies octet string s (absent: nothing) into buf of CMP_ID_MAX bytes; -1 if longer. */
static int id_copy(const ASN1_OCTET_STRING *s, unsigned char *buf, size_t *len)
{
    int n;

    *len = 0;
    if (s == NULL)
        return 0;
    n = ASN1_STRING_length(s);
    if (n < 0 || n > CMP_ID_MAX)
        return -1;
    memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
    *len = (size_t)n;
    return 0;
}

/* The PKIBody's tag (a context-specific constructed element); -1 if it is not one. */
static int body_tag(const ASN1_TYPE *body)
{
    const unsigned char *p;
    long len = 0;
    int tag = 0, cls = 0;

    if (body == NULL || body->type != V_ASN1_OTHER || body->value.asn1_string == NULL)
        return -1;
    p = ASN1_STRING_get0_data(body->value.asn1_string);
    if ((ASN1_get_object(&p, &len, &tag, &cls, ASN1_STRING_length(body->value.asn1_string)) &
         0x80) ||
        cls != V_ASN1_CONTEXT_SPECIFIC)
        return -1;
    return tag;
}

/* CMP_PROT_* of a protectionAlg (absent: 0). */
static int protection_kind(const X509_ALGOR *alg)
{
    const ASN1_OBJECT *obj;
    int nid, md = NID_undef, pk = NID_undef;

    if (alg == NULL)
        return 0;
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    nid = OBJ_obj2nid(obj);
    if (nid == NID_id_PasswordBasedMAC)
        return CMP_PROT_MAC;
    if (nid == NID_pbmac1)
        return CMP_PROT_PBMAC1;
    if (nid != NID_undef && OBJ_find_sigid_algs(nid, &md, &pk))
        return CMP_PROT_SIG;
    return CMP_PROT_OTHER;
}

/* CertProfileValue ::= SEQUENCE SIZE (1..MAX) OF UTF8String */
typedef STACK_OF(ASN1_UTF8STRING) CMP_PROFILE_NAMES;
// clang-format off
DECLARE_ASN1_ITEM(CMP_PROFILE_NAMES)
ASN1_ITEM_TEMPLATE(CMP_PROFILE_NAMES) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, names, ASN1_UTF8STRING)
ASN1_ITEM_TEMPLATE_END(CMP_PROFILE_NAMES)
    // clang-format on

    /*
     * The first name of an id-it-certProfile in info into name ("" if none);
     * -1 if its value is malformed or the name is longer than CMP_PROFILE_MAX.
     */
    static int cert_profile_read(const STACK_OF(CMP_ITAV_RAW) * info,
                                 char name[CMP_PROFILE_MAX + 1])
{
    ASN1_OBJECT *oid = OBJ_txt2obj(CMP_OID_CERT_PROFILE, 1);
    int rc = 0;

    name[0] = '\0';
    for (int i = 0; oid != NULL && i < sk_CMP_ITAV_RAW_num(info); i++) {
        const CMP_ITAV_RAW *itav = sk_CMP_ITAV_RAW_value(info, i);
        STACK_OF(ASN1_UTF8STRING) * names;
        const ASN1_UTF8STRING *first;

        if (OBJ_cmp(itav->type, oid) != 0)
            continue;
        names = itav->value
                    ? ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(CMP_PROFILE_NAMES), itav->value)
                    : NULL;
        first = sk_ASN1_UTF8STRING_value(names, 0);
        if (first == NULL || ASN1_STRING_length(first) < 1 ||
            ASN1_STRING_length(first) > CMP_PROFILE_MAX) {
            rc = -1;
        } else {
            memcpy(name, ASN1_STRING_get0_data(first), (size_t)ASN1_STRING_length(first));
            name[ASN1_STRING_length(first)] = '\0';
            rc = strlen(name) == (size_t)ASN1_STRING_length(first) ? 0 : -1;
        }
        sk_ASN1_UTF8STRING_pop_free(names, ASN1_UTF8STRING_free);
        break;
    }
    ASN1_OBJECT_free(oid);
    ERR_clear_error();
    return rc;
}

static int implicit_confirm_asked(const STACK_OF(CMP_ITAV_RAW) * info)
{
    for (int i = 0; i < sk_CMP_ITAV_RAW_num(info); i++)
        if (OBJ_obj2nid(sk_CMP_ITAV_RAW_value(info, i)->type) == NID_id_it_implicitConfirm)
            return 1;
    return 0;
}

/* The header fields of h into p (whose sender_der is set by the caller). */
static int peek_header(const CMP_HDR *h, struct cmp_peek *p, struct err *e)
{
    struct tm tm;
    long pvno = ASN1_INTEGER_get(h->pvno);

    if (pvno < 1 || pvno > 3)
        return err_set(e, ERR_INVALID, "PKIMessage: pvno %ld", pvno);
    p->pvno = (int)pvno;
    if (id_copy(h->sender_kid, p->sender_kid, &p->sender_kid_len) != 0 ||
        id_copy(h->txid, p->txid, &p->txid_len) != 0 ||
        id_copy(h->sender_nonce, p->sender_nonce, &p->sender_nonce_len) != 0 ||
        id_copy(h->recip_nonce, p->recip_nonce, &p->recip_nonce_len) != 0)
        return err_set(e, ERR_INVALID, "PKIMessage: an identifier over %d bytes", CMP_ID_MAX);
    if (p->txid_len == 0 || p->sender_nonce_len == 0)
        return err_set(e, ERR_INVALID,
                       "PKIMessage: transactionID and senderNonce are required (RFC 9483 "
                       "section 3.1)");
    if (h->message_time != NULL) {
        if (ASN1_TIME_to_tm(h->message_time, &tm) != 1)
            return err_set(e, ERR_INVALID, "PKIMessage: messageTime does not read");
        p->message_time = (int64_t)timegm(&tm);
    }
    p->protection = protection_kind(h->protection_alg);
    p->implicit_confirm = implicit_confirm_asked(h->general_info);
    if (cert_profile_read(h->general_info, p->profile) != 0)
        return err_set(e, ERR_INVALID, "PKIMessage: certProfile is no profile name");
    return 0;
}

int cmp_peek(const unsigned char *der, size_t len, struct cmp_peek *p, struct err *e)
{
    const unsigned char *q = der;
    unsigned char *sender = NULL;
    CMP_RAW *m;
    int n, rc = -1;

    memset(p, 0, sizeof(*p));
    if (der == NULL || len == 0 || len > CMP_MSG_MAX)
        return err_set(e, ERR_INVALID, "PKIMessage: empty or over %d bytes", CMP_MSG_MAX);
    if (der_check(der, len) != 0)
        return err_set(e, ERR_INVALID, "PKIMessage: not DER (RFC 4210 section 5.1)");
    m = d2i_CMP_RAW(NULL, &q, (long)len);
    if (m == NULL || q != der + len) {
        err_set(e, ERR_INVALID, "PKIMessage: does not parse");
        goto out;
    }
    if ((p->body = body_tag(m->body)) < 0) {
        err_set(e, ERR_INVALID, "PKIMessage: the body is no PKIBody");
        goto out;
    }
    if (peek_header(m->header, p, e) != 0)
        goto out;
    if ((n = i2d_GENERAL_NAME(m->header->sender, &sender)) <= 0) {
        err_set(e, ERR_INVALID, "PKIMessage: sender does not encode");
        goto out;
    }
    p->sender_der = xmalloc((size_t)n);
    memcpy(p->sender_der, sender, (size_t)n);
    p->sender_der_len = (size_t)n;
    if (sk_ASN1_TYPE_num(m->extra_certs) > 0) {
        const ASN1_TYPE *c = sk_ASN1_TYPE_value(m->extra_certs, 0);

        if (c->type == V_ASN1_SEQUENCE && ASN1_STRING_length(c->value.sequence) > 0) {
            p->first_cert_der_len = (size_t)ASN1_STRING_length(c->value.sequence);
            p->first_cert_der = xmalloc(p->first_cert_der_len);
            memcpy(p->first_cert_der, ASN1_STRING_get0_data(c->value.sequence),
                   p->first_cert_der_len);
        }
    }
    rc = 0;
out:
    OPENSSL_free(sender);
    CMP_RAW_free(m);
    ERR_clear_error();
    if (rc != 0)
        cmp_peek_clear(p);
    return rc;
}

/* The header of an answer to req: sender NULL-DN, recipient req's sender, fresh senderNonce. */
static CMP_HDR *answer_header(const struct cmp_peek *req)
{
    CMP_HDR *h = CMP_HDR_new();
    const unsigned char *q = req->sender_der;
    unsigned char nonce[16];
    X509_NAME *null_dn = X509_NAME_new();
    int ok;

    if (h == NULL || null_dn == NULL || RAND_bytes(nonce, sizeof(nonce)) != 1)
        goto fail;
    GENERAL_NAME_free(h->recipient);
    h->recipient = req->sender_der ? d2i_GENERAL_NAME(NULL, &q, (long)req->sender_der_len) : NULL;
    ok = h->recipient != NULL && ASN1_INTEGER_set(h->pvno, req->pvno ? req->pvno : 2) == 1;
    GENERAL_NAME_set0_value(h->sender, GEN_DIRNAME, null_dn);
    null_dn = NULL;
    ok = ok && (h->message_time = ASN1_GENERALIZEDTIME_set(NULL, time(NULL))) != NULL &&
         (h->txid = ASN1_OCTET_STRING_new()) != NULL &&
         ASN1_OCTET_STRING_set(h->txid, req->txid, (int)req->txid_len) == 1 &&
         (h->sender_nonce = ASN1_OCTET_STRING_new()) != NULL &&
         ASN1_OCTET_STRING_set(h->sender_nonce, nonce, sizeof(nonce)) == 1 &&
         (h->recip_nonce = ASN1_OCTET_STRING_new()) != NULL &&
         ASN1_OCTET_STRING_set(h->recip_nonce, req->sender_nonce, (int)req->sender_nonce_len) == 1;
    if (ok)
        return h;
fail:
    X509_NAME_free(null_dn);
    CMP_HDR_free(h);
    return NULL;
}

static CMP_ERRC *error_content(int fail_bit, const char *text)
{
    CMP_ERRC *c = CMP_ERRC_new();
    ASN1_UTF8STRING *s = NULL;
    int ok = c != NULL && ASN1_INTEGER_set(c->si->status, 2) == 1 && /* rejection */
             (c->si->fail_info = ASN1_BIT_STRING_new()) != NULL &&
             ASN1_BIT_STRING_set_bit(c->si->fail_info, fail_bit, 1) == 1;

    if (ok && text != NULL) {
        ok = (c->si->status_string = sk_ASN1_UTF8STRING_new_null()) != NULL &&
             (s = ASN1_UTF8STRING_new()) != NULL && ASN1_STRING_set(s, text, -1) == 1 &&
             sk_ASN1_UTF8STRING_push(c->si->status_string, s) > 0;
        if (!ok)
            ASN1_UTF8STRING_free(s);
    }
    if (ok)
        return c;
    CMP_ERRC_free(c);
    return NULL;
}

int cmp_error_new(const struct cmp_peek *req, int fail_bit, const char *text, unsigned char **out,
                  size_t *len, struct err *e)
{
    CMP_ERRMSG *m = CMP_ERRMSG_new();
    unsigned char *der = NULL;
    int n = -1;

    if (m != NULL) {
        CMP_HDR_free(m->header);
        CMP_ERRC_free(m->body);
        m->header = answer_header(req);
        m->body = error_content(fail_bit, text);
        if (m->header != NULL && m->body != NULL)
            n = i2d_CMP_ERRMSG(m, &der);
    }
    CMP_ERRMSG_free(m);
    if (n <= 0)
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot make an error message");
    *out = xmalloc((size_t)n);
    memcpy(*out, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

/* ---- certificate requests in CRMF (RFC 4211) ------------------------------------------ */

/* OptionalValidity ::= SEQUENCE { notBefore [0] Time OPTIONAL, notAfter [1] Time OPTIONAL } */
typedef struct {
    ASN1_TIME *not_before;
    ASN1_TIME *not_after;
} CRMF_VALIDITY_RAW;

/* CertTemplate (RFC 4211 §5; the CRMF module has IMPLICIT TAGS, a CHOICE stays explicit) */
typedef struct {
    ASN1_INTEGER *version;
    ASN1_INTEGER *serial;
    X509_ALGOR *signing_alg;
    X509_NAME *issuer;
    CRMF_VALIDITY_RAW *validity;
    X509_NAME *subject;
    X509_PUBKEY *public_key;
    ASN1_BIT_STRING *issuer_uid;
    ASN1_BIT_STRING *subject_uid;
    STACK_OF(X509_EXTENSION) * extensions;
} CRMF_TEMPLATE_RAW;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CRMF_VALIDITY_RAW)
DECLARE_ASN1_FUNCTIONS(CRMF_TEMPLATE_RAW)

ASN1_SEQUENCE(CRMF_VALIDITY_RAW) = {
    ASN1_EXP_OPT(CRMF_VALIDITY_RAW, not_before, ASN1_TIME, 0),
    ASN1_EXP_OPT(CRMF_VALIDITY_RAW, not_after, ASN1_TIME, 1),
} ASN1_SEQUENCE_END(CRMF_VALIDITY_RAW)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_VALIDITY_RAW)

ASN1_SEQUENCE(CRMF_TEMPLATE_RAW) = {
    ASN1_IMP_OPT(CRMF_TEMPLATE_RAW, version, ASN1_INTEGER, 0),
    ASN1_IMP_OPT(CRMF_TEMPLATE_RAW, serial, ASN1_INTEGER, 1),
    ASN1_IMP_OPT(CRMF_TEMPLATE_RAW, signing_alg, X509_ALGOR, 2),
    ASN1_EXP_OPT(CRMF_TEMPLATE_RAW, issuer, X509_NAME, 3),
    ASN1_IMP_OPT(CRMF_TEMPLATE_RAW, validity, CRMF_VALIDITY_RAW, 4),
    ASN1_EXP_OPT(CRMF_TEMPLATE_RAW, subject, X509_NAME, 5),
    ASN1_IMP_OPT(CRMF_TEMPLATE_RAW, public_key, X509_PUBKEY, 6),
    ASN1_IMP_OPT(CRMF_TEMPLATE_RAW, issuer_uid, ASN1_BIT_STRING, 7),
    ASN1_IMP_OPT(CRMF_TEMPLATE_RAW, subject_uid, ASN1_BIT_STRING, 8),
    ASN1_IMP_SEQUENCE_OF_OPT(CRMF_TEMPLATE_RAW, extensions, X509_EXTENSION, 9),
} ASN1_SEQUENCE_END(CRMF_TEMPLATE_RAW)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_TEMPLATE_RAW)
            // clang-format on

            /* The template of crm, read with our template (OpenSSL 3.0 exports no getter for its
               key). */
            static CRMF_TEMPLATE_RAW
            * template_of(const OSSL_CRMF_MSG *crm)
{
    unsigned char *der = NULL;
    const unsigned char *q;
    CRMF_TEMPLATE_RAW *t = NULL;
    int n = i2d_OSSL_CRMF_CERTTEMPLATE(OSSL_CRMF_MSG_get0_tmpl(crm), &der);

    if (n > 0) {
        q = der;
        t = d2i_CRMF_TEMPLATE_RAW(NULL, &q, n);
    }
    OPENSSL_free(der);
    return t;
}

/* The proof of possession of crm, checked by OpenSSL: a signature (raVerified is refused). */
static int crmf_pop_check(const OSSL_CRMF_MSG *crm, struct err *e)
{
    STACK_OF(OSSL_CRMF_MSG) *msgs = sk_OSSL_CRMF_MSG_new_null();
    OSSL_CRMF_MSG *copy = OSSL_CRMF_MSG_dup(crm);
    int ok = msgs != NULL && copy != NULL && sk_OSSL_CRMF_MSG_push(msgs, copy) > 0;

    if (!ok)
        OSSL_CRMF_MSG_free(copy);
    ok = ok &&
         OSSL_CRMF_MSGS_verify_popo(msgs, OSSL_CRMF_MSG_get_certReqId(crm), 0, NULL, NULL) == 1;
    sk_OSSL_CRMF_MSG_pop_free(msgs, OSSL_CRMF_MSG_free);
    if (!ok)
        return err_osslc(e, ERR_INVALID, CMP_ERR_BAD_POP,
                         "crmf: the proof of possession does not verify");
    return 0;
}

/* The subjectAltName of a template's extensions (NULL if none); -1 if malformed or twice. */
static int template_sans(const STACK_OF(X509_EXTENSION) * exts, GENERAL_NAMES **out, struct err *e)
{
    int pos = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);

    *out = NULL;
    if (pos < 0)
        return 0;
    if (X509v3_get_ext_by_NID(exts, NID_subject_alt_name, pos) >= 0)
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR,
                        "crmf: more than one subjectAltName extension");
    if ((*out = X509V3_EXT_d2i(X509v3_get_ext(exts, pos))) == NULL)
        return err_osslc(e, ERR_INVALID, ERR_CODE_BAD_CSR,
                         "crmf: malformed subjectAltName extension");
    return 0;
}

/* The public key of t, checked for strength; NULL with e set. */
static EVP_PKEY *template_key(const CRMF_TEMPLATE_RAW *t, struct err *e)
{
    EVP_PKEY *key = t->public_key ? X509_PUBKEY_get(t->public_key) : NULL;
    struct key_info ki;
    char why[160];

    if (key == NULL) {
        err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "crmf: the template has no usable public key");
        return NULL;
    }
    key_describe(key, &ki);
    if (key_check_strength(key, &ki, why, sizeof(why)) != 0) {
        err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "crmf: key: %s", why);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

int crmf_read(const unsigned char *der, size_t len, struct issue_request *r, struct err *e)
{
    const unsigned char *q = der;
    OSSL_CRMF_MSG *crm = NULL;
    CRMF_TEMPLATE_RAW *t = NULL;
    GENERAL_NAMES *sans = NULL;
    EVP_PKEY *key = NULL;
    X509_NAME *subject = NULL;
    int rc = -1;

    if (der == NULL || len == 0 || len > CMP_MSG_MAX || der_check(der, len) != 0 ||
        (crm = d2i_OSSL_CRMF_MSG(NULL, &q, (long)len)) == NULL || q != der + len ||
        (t = template_of(crm)) == NULL) {
        err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "crmf: not a CertReqMsg in DER");
        goto out;
    }
    if (crmf_pop_check(crm, e) != 0 || (key = template_key(t, e)) == NULL ||
        template_sans(t->extensions, &sans, e) != 0)
        goto out;
    subject = t->subject ? X509_NAME_dup(t->subject) : X509_NAME_new();
    if (subject == NULL) {
        err_ossl(e, ERR_INTERNAL, "crmf: out of memory");
        goto out;
    }
    issue_request_clear(r);
    r->subject = subject;
    r->sans = sans;
    r->pubkey = key;
    subject = NULL;
    sans = NULL;
    key = NULL;
    rc = 0;
out:
    X509_NAME_free(subject);
    GENERAL_NAMES_free(sans);
    EVP_PKEY_free(key);
    CRMF_TEMPLATE_RAW_free(t);
    OSSL_CRMF_MSG_free(crm);
    ERR_clear_error();
    return rc;
}

int cert_request_read(const unsigned char *data, size_t len, struct issue_request *r, struct err *e)
{
    static const char begin[] = "-----BEGIN " CRMF_PEM_LABEL "-----";
    unsigned char *der = NULL;
    long der_len = 0;
    char *name = NULL, *header = NULL;
    BIO *b;
    int rc;

    if (data == NULL || len < sizeof(begin) - 1 || memcmp(data, begin, sizeof(begin) - 1) != 0)
        return csr_read(data, len, 0, r, e);
    if (len > 2 * CMP_MSG_MAX)
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "crmf: larger than %d bytes",
                        2 * CMP_MSG_MAX);
    if ((b = BIO_new_mem_buf(data, (int)len)) == NULL)
        return err_ossl(e, ERR_INTERNAL, "crmf: out of memory");
    rc = PEM_read_bio(b, &name, &header, &der, &der_len) == 1 && strcmp(name, CRMF_PEM_LABEL) == 0
             ? crmf_read(der, (size_t)der_len, r, e)
             : err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "crmf: malformed PEM");
    BIO_free(b);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    ERR_clear_error();
    return rc;
}

int cmp_status_of(const unsigned char *der, size_t len)
{
    const unsigned char *q = der;
    CMP_SI *si = len <= INT_MAX ? d2i_CMP_SI(NULL, &q, (long)len) : NULL;
    long status = si != NULL ? ASN1_INTEGER_get(si->status) : -1;

    CMP_SI_free(si);
    ERR_clear_error();
    return status >= 0 && status <= 6 ? (int)status : -1;
}

/* ---- certConf and pkiConf (OpenSSL 3.0's server cannot continue a transaction it did not
 * start: its certReqId is private) ------------------------------------------------------ */

/* CertStatus (RFC 4210 §5.3.18; hashAlg from RFC 9480) */
typedef struct {
    ASN1_OCTET_STRING *cert_hash;
    ASN1_INTEGER *cert_req_id;
    CMP_SI *status_info;
    X509_ALGOR *hash_alg;
} CMP_CERTSTATUS;
DEFINE_STACK_OF(CMP_CERTSTATUS)

/* A PKIMessage whose body is certConf [24] */
typedef struct {
    CMP_HDR *header;
    STACK_OF(CMP_CERTSTATUS) * statuses;
    ASN1_BIT_STRING *protection;
    STACK_OF(ASN1_TYPE) * extra_certs;
} CMP_CERTCONF_MSG;

/* ProtectedPart of a pkiConf [19] (RFC 4210 §5.1.3) */
typedef struct {
    CMP_HDR *header;
    ASN1_NULL *body;
} CMP_PKICONF_PART;

/* A pkiConf with its protection and extraCerts */
typedef struct {
    CMP_HDR *header;
    ASN1_NULL *body;
    ASN1_BIT_STRING *protection;
    STACK_OF(X509) * extra_certs;
} CMP_PKICONF_MSG;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CMP_CERTSTATUS)
DECLARE_ASN1_FUNCTIONS(CMP_CERTCONF_MSG)
DECLARE_ASN1_FUNCTIONS(CMP_PKICONF_PART)
DECLARE_ASN1_FUNCTIONS(CMP_PKICONF_MSG)

ASN1_SEQUENCE(CMP_CERTSTATUS) = {
    ASN1_SIMPLE(CMP_CERTSTATUS, cert_hash, ASN1_OCTET_STRING),
    ASN1_SIMPLE(CMP_CERTSTATUS, cert_req_id, ASN1_INTEGER),
    ASN1_OPT(CMP_CERTSTATUS, status_info, CMP_SI),
    ASN1_EXP_OPT(CMP_CERTSTATUS, hash_alg, X509_ALGOR, 0),
} ASN1_SEQUENCE_END(CMP_CERTSTATUS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTSTATUS)

ASN1_SEQUENCE(CMP_CERTCONF_MSG) = {
    ASN1_SIMPLE(CMP_CERTCONF_MSG, header, CMP_HDR),
    ASN1_EXP_SEQUENCE_OF(CMP_CERTCONF_MSG, statuses, CMP_CERTSTATUS, 24),
    ASN1_EXP_OPT(CMP_CERTCONF_MSG, protection, ASN1_BIT_STRING, 0),
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_CERTCONF_MSG, extra_certs, ASN1_ANY, 1),
} ASN1_SEQUENCE_END(CMP_CERTCONF_MSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTCONF_MSG)

ASN1_SEQUENCE(CMP_PKICONF_PART) = {
    ASN1_SIMPLE(CMP_PKICONF_PART, header, CMP_HDR),
    ASN1_EXP(CMP_PKICONF_PART, body, ASN1_NULL, 19),
} ASN1_SEQUENCE_END(CMP_PKICONF_PART)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKICONF_PART)

ASN1_SEQUENCE(CMP_PKICONF_MSG) = {
    ASN1_SIMPLE(CMP_PKICONF_MSG, header, CMP_HDR),
    ASN1_EXP(CMP_PKICONF_MSG, body, ASN1_NULL, 19),
    ASN1_EXP_OPT(CMP_PKICONF_MSG, protection, ASN1_BIT_STRING, 0),
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_PKICONF_MSG, extra_certs, X509, 1),
} ASN1_SEQUENCE_END(CMP_PKICONF_MSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKICONF_MSG)
    // clang-format on

    int cmp_certconf_read(const unsigned char *der, size_t len, struct cmp_certconf *out,
                          struct err *e)
{
    const unsigned char *q = der;
    CMP_CERTCONF_MSG *m = len <= CMP_MSG_MAX ? d2i_CMP_CERTCONF_MSG(NULL, &q, (long)len) : NULL;
    CMP_CERTSTATUS *st;
    int rc = -1, n;

    memset(out, 0, sizeof(*out));
    if (m == NULL || q != der + len) {
        err_set(e, ERR_INVALID, "certConf: does not parse");
        goto out;
    }
    if (sk_CMP_CERTSTATUS_num(m->statuses) == 0) { /* an empty certConf rejects (RFC 9483 4.1.1) */
        out->rejected = 1;
        rc = 0;
        goto out;
    }
    if (sk_CMP_CERTSTATUS_num(m->statuses) != 1) {
        err_set(e, ERR_INVALID, "certConf: one CertStatus (RFC 9483 section 4.1.1)");
        goto out;
    }
    st = sk_CMP_CERTSTATUS_value(m->statuses, 0);
    n = ASN1_STRING_length(st->cert_hash);
    if (n <= 0 || n > (int)sizeof(out->hash)) {
        err_set(e, ERR_INVALID, "certConf: certHash of %d bytes", n);
        goto out;
    }
    memcpy(out->hash, ASN1_STRING_get0_data(st->cert_hash), (size_t)n);
    out->hash_len = (size_t)n;
    out->cert_req_id = ASN1_INTEGER_get(st->cert_req_id);
    out->rejected =
        st->status_info != NULL && ASN1_INTEGER_get(st->status_info->status) != 0; /* accepted */
    rc = 0;
out:
    CMP_CERTCONF_MSG_free(m);
    ERR_clear_error();
    return rc;
}

/* The protectionAlg of a PasswordBasedMac with fresh salt (RFC 4210 §5.1.3.1). */
static X509_ALGOR *pbm_alg(OSSL_CRMF_PBMPARAMETER **params)
{
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_STRING *seq = NULL;

    *params = OSSL_CRMF_pbmp_new(NULL, 16, NID_sha256, CMP_PBM_ITERATIONS, NID_hmacWithSHA256);
    if (alg == NULL || *params == NULL ||
        ASN1_item_pack(*params, ASN1_ITEM_rptr(OSSL_CRMF_PBMPARAMETER), &seq) == NULL ||
        X509_ALGOR_set0(alg, OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE, seq) != 1) {
        ASN1_STRING_free(seq);
        X509_ALGOR_free(alg);
        return NULL;
    }
    return alg;
}

/* Sets the header's protectionAlg and senderKID, and the MAC of the ProtectedPart into m. */
static int pkiconf_protect(CMP_PKICONF_MSG *m, const unsigned char *secret, size_t secret_len,
                           const char *ref)
{
    OSSL_CRMF_PBMPARAMETER *params = NULL;
    CMP_PKICONF_PART part = {m->header, m->body};
    unsigned char *der = NULL, *mac = NULL;
    size_t mac_len = 0;
    int n, ok = 0;

    if ((m->header->protection_alg = pbm_alg(&params)) == NULL ||
        (m->header->sender_kid = ASN1_OCTET_STRING_new()) == NULL ||
        ASN1_OCTET_STRING_set(m->header->sender_kid, (const unsigned char *)ref,
                              (int)strlen(ref)) != 1 ||
        (n = i2d_CMP_PKICONF_PART(&part, &der)) <= 0)
        goto out;
    ok = OSSL_CRMF_pbm_new(NULL, NULL, params, der, (size_t)n, secret, secret_len, &mac,
                           &mac_len) == 1 &&
         (m->protection = ASN1_BIT_STRING_new()) != NULL &&
         ASN1_BIT_STRING_set(m->protection, mac, (int)mac_len) == 1;
    if (ok) {
        m->protection->flags &= ~0x07;
        m->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    }
out:
    OSSL_CRMF_PBMPARAMETER_free(params);
    OPENSSL_free(der);
    OPENSSL_free(mac);
    return ok;
}

int cmp_pkiconf_new(const struct cmp_peek *req, const unsigned char *secret, size_t secret_len,
                    const char *ref, unsigned char **out, size_t *len, struct err *e)
{
    CMP_PKICONF_MSG *m = CMP_PKICONF_MSG_new();
    unsigned char *der = NULL;
    int n = -1;

    if (m != NULL) {
        CMP_HDR_free(m->header);
        if ((m->header = answer_header(req)) != NULL && pkiconf_protect(m, secret, secret_len, ref))
            n = i2d_CMP_PKICONF_MSG(m, &der);
    }
    CMP_PKICONF_MSG_free(m);
    if (n <= 0)
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot make a pkiConf");
    *out = xmalloc((size_t)n);
    memcpy(*out, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

/* The digest a signature by key uses: none for Ed25519, SHA-384 for P-384, else SHA-256. */
static const EVP_MD *sign_md(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "ED25519"))
        return NULL;
    return EVP_PKEY_get_bits(key) >= 384 && EVP_PKEY_is_a(key, "EC") ? EVP_sha384() : EVP_sha256();
}

/* The header's sender: the subject of cert. */
static int sender_set(CMP_HDR *h, X509 *cert)
{
    X509_NAME *name = X509_NAME_dup(X509_get_subject_name(cert));
    GENERAL_NAME *gn = name ? GENERAL_NAME_new() : NULL;

    if (gn == NULL) {
        X509_NAME_free(name);
        return 0;
    }
    GENERAL_NAME_set0_value(gn, GEN_DIRNAME, name);
    GENERAL_NAME_free(h->sender);
    h->sender = gn;
    return 1;
}

int cmp_pkiconf_signed(const struct cmp_peek *req, EVP_PKEY *key, X509 *cert,
                       STACK_OF(X509) * chain, unsigned char **out, size_t *len, struct err *e)
{
    CMP_PKICONF_MSG *m = CMP_PKICONF_MSG_new();
    CMP_PKICONF_PART part;
    unsigned char *der = NULL;
    int n = -1, ok;

    if (m == NULL)
        return err_ossl(e, ERR_INTERNAL, "CMP: out of memory");
    CMP_HDR_free(m->header);
    ok = (m->header = answer_header(req)) != NULL && sender_set(m->header, cert) &&
         (m->header->protection_alg = X509_ALGOR_new()) != NULL &&
         (m->protection = ASN1_BIT_STRING_new()) != NULL &&
         (m->extra_certs = sk_X509_new_null()) != NULL && X509_up_ref(cert) == 1;
    if (ok && sk_X509_push(m->extra_certs, cert) <= 0) {
        X509_free(cert);
        ok = 0;
    }
    for (int i = 0; ok && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);

        ok = X509_up_ref(c) == 1;
        if (ok && sk_X509_push(m->extra_certs, c) <= 0) {
            X509_free(c);
            ok = 0;
        }
    }
    part = (CMP_PKICONF_PART){m->header, m->body};
    /* The algorithm goes into the header before the ProtectedPart is encoded and signed. */
    if (ok && ASN1_item_sign(ASN1_ITEM_rptr(CMP_PKICONF_PART), m->header->protection_alg, NULL,
                             m->protection, &part, key, sign_md(key)) > 0)
        n = i2d_CMP_PKICONF_MSG(m, &der);
    CMP_PKICONF_MSG_free(m);
    if (n <= 0)
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot make a signed pkiConf");
    *out = xmalloc((size_t)n);
    memcpy(*out, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

/* ---- signing an answer OpenSSL made unprotected ------------------------------------------ */

/* A PKIMessage with its extraCerts read as certificates */
typedef struct {
    CMP_HDR *header;
    ASN1_TYPE *body;
    ASN1_BIT_STRING *protection;
    STACK_OF(X509) * extra_certs;
} CMP_MSG_CERTS;

/* Its ProtectedPart */
typedef struct {
    CMP_HDR *header;
    ASN1_TYPE *body;
} CMP_PART_ANY;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CMP_MSG_CERTS)
DECLARE_ASN1_FUNCTIONS(CMP_PART_ANY)

ASN1_SEQUENCE(CMP_MSG_CERTS) = {
    ASN1_SIMPLE(CMP_MSG_CERTS, header, CMP_HDR),
    ASN1_SIMPLE(CMP_MSG_CERTS, body, ASN1_ANY),
    ASN1_EXP_OPT(CMP_MSG_CERTS, protection, ASN1_BIT_STRING, 0),
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_MSG_CERTS, extra_certs, X509, 1),
} ASN1_SEQUENCE_END(CMP_MSG_CERTS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_MSG_CERTS)

ASN1_SEQUENCE(CMP_PART_ANY) = {
    ASN1_SIMPLE(CMP_PART_ANY, header, CMP_HDR),
    ASN1_SIMPLE(CMP_PART_ANY, body, ASN1_ANY),
} ASN1_SEQUENCE_END(CMP_PART_ANY)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PART_ANY)
    // clang-format on

    /* extraCerts of m: cert, then chain, then what it had (RFC 9483 §3.3: the signer's first). */
    static int extra_certs_lead(CMP_MSG_CERTS * m, X509 *cert, STACK_OF(X509) * chain)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    int ok = sk != NULL;

    for (int i = -1; ok && i < sk_X509_num(chain); i++) {
        X509 *c = i < 0 ? cert : sk_X509_value(chain, i);

        ok = X509_up_ref(c) == 1;
        if (ok && sk_X509_push(sk, c) <= 0) {
            X509_free(c);
            ok = 0;
        }
    }
    while (ok && sk_X509_num(m->extra_certs) > 0) {
        X509 *c = sk_X509_shift(m->extra_certs);

        if (sk_X509_push(sk, c) <= 0) {
            X509_free(c);
            ok = 0;
        }
    }
    if (!ok) {
        sk_X509_pop_free(sk, X509_free);
        return 0;
    }
    sk_X509_free(m->extra_certs);
    m->extra_certs = sk;
    return 1;
}

int cmp_sign(const unsigned char *der, size_t len, EVP_PKEY *key, X509 *cert,
             STACK_OF(X509) * chain, unsigned char **out, size_t *out_len, struct err *e)
{
    const unsigned char *q = der;
    CMP_MSG_CERTS *m = len <= INT_MAX ? d2i_CMP_MSG_CERTS(NULL, &q, (long)len) : NULL;
    CMP_PART_ANY part;
    unsigned char *enc = NULL;
    int n = -1;

    if (m == NULL || m->protection != NULL || m->header->protection_alg != NULL) {
        CMP_MSG_CERTS_free(m);
        return err_set(e, ERR_INTERNAL, "CMP: the answer to sign is no unprotected PKIMessage");
    }
    if (sender_set(m->header, cert) && (m->header->protection_alg = X509_ALGOR_new()) != NULL &&
        (m->protection = ASN1_BIT_STRING_new()) != NULL && extra_certs_lead(m, cert, chain)) {
        part = (CMP_PART_ANY){m->header, m->body};
        /* The algorithm goes into the header before the ProtectedPart is encoded and signed. */
        if (ASN1_item_sign(ASN1_ITEM_rptr(CMP_PART_ANY), m->header->protection_alg, NULL,
                           m->protection, &part, key, sign_md(key)) > 0)
            n = i2d_CMP_MSG_CERTS(m, &enc);
    }
    CMP_MSG_CERTS_free(m);
    if (n <= 0)
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot sign the answer");
    *out = xmalloc((size_t)n);
    memcpy(*out, enc, (size_t)n);
    *out_len = (size_t)n;
    OPENSSL_free(enc);
    return 0;
}

/* ---- rr and genm --------------------------------------------------------------------- */

/* RevDetails (RFC 4210 §5.3.9) */
typedef struct {
    CRMF_TEMPLATE_RAW *cert_details;
    STACK_OF(X509_EXTENSION) * crl_entry_details;
} CMP_REVDETAILS;
DEFINE_STACK_OF(CMP_REVDETAILS)

/* A PKIMessage whose body is rr [11] */
typedef struct {
    CMP_HDR *header;
    STACK_OF(CMP_REVDETAILS) * details;
    ASN1_BIT_STRING *protection;
    STACK_OF(ASN1_TYPE) * extra_certs;
} CMP_RR_MSG;

/* SEQUENCE OF Certificate: the value of id-it-caCerts (RFC 9483 §4.3.1) */
typedef STACK_OF(X509) CMP_CERTS;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CMP_REVDETAILS)
DECLARE_ASN1_FUNCTIONS(CMP_RR_MSG)
DECLARE_ASN1_ITEM(CMP_CERTS)

ASN1_SEQUENCE(CMP_REVDETAILS) = {
    ASN1_SIMPLE(CMP_REVDETAILS, cert_details, CRMF_TEMPLATE_RAW),
    ASN1_SEQUENCE_OF_OPT(CMP_REVDETAILS, crl_entry_details, X509_EXTENSION),
} ASN1_SEQUENCE_END(CMP_REVDETAILS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_REVDETAILS)

ASN1_SEQUENCE(CMP_RR_MSG) = {
    ASN1_SIMPLE(CMP_RR_MSG, header, CMP_HDR),
    ASN1_EXP_SEQUENCE_OF(CMP_RR_MSG, details, CMP_REVDETAILS, 11),
    ASN1_EXP_OPT(CMP_RR_MSG, protection, ASN1_BIT_STRING, 0),
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_RR_MSG, extra_certs, ASN1_ANY, 1),
} ASN1_SEQUENCE_END(CMP_RR_MSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_RR_MSG)

ASN1_ITEM_TEMPLATE(CMP_CERTS) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, certs, X509)
ASN1_ITEM_TEMPLATE_END(CMP_CERTS)
    // clang-format on

    int cmp_rr_reason(const unsigned char *der, size_t len, struct err *e)
{
    const unsigned char *q = der;
    CMP_RR_MSG *m = len <= CMP_MSG_MAX ? d2i_CMP_RR_MSG(NULL, &q, (long)len) : NULL;
    ASN1_ENUMERATED *reason = NULL;
    int rc = -1, pos;

    if (m == NULL || q != der + len || sk_CMP_REVDETAILS_num(m->details) != 1) {
        err_set(e, ERR_INVALID, "rr: one RevDetails (RFC 9483 section 4.2)");
        goto out;
    }
    pos = X509v3_get_ext_by_NID(sk_CMP_REVDETAILS_value(m->details, 0)->crl_entry_details,
                                NID_crl_reason, -1);
    if (pos < 0) {
        rc = 0; /* unspecified */
        goto out;
    }
    reason = X509V3_EXT_d2i(
        X509v3_get_ext(sk_CMP_REVDETAILS_value(m->details, 0)->crl_entry_details, pos));
    rc = reason != NULL ? (int)ASN1_ENUMERATED_get(reason) : -1;
    if (rc < 0 || rc > 10 || rc == 7)
        rc = err_set(e, ERR_INVALID, "rr: reasonCode is no CRLReason");
out:
    ASN1_ENUMERATED_free(reason);
    CMP_RR_MSG_free(m);
    ERR_clear_error();
    return rc;
}

OSSL_CMP_ITAV *cmp_ca_certs_itav(STACK_OF(X509) * certs)
{
    ASN1_TYPE *value = ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(CMP_CERTS), certs, NULL);
    ASN1_OBJECT *type = OBJ_nid2obj(NID_id_it_caCerts);
    OSSL_CMP_ITAV *itav = value != NULL ? OSSL_CMP_ITAV_create(type, value) : NULL;

    if (itav == NULL)
        ASN1_TYPE_free(value);
    return itav;
}

/* ---- polling: pollRep, and the certificate response that ends it ------------------------- */

/* PollRepContent's element (RFC 4210 §5.3.22) */
typedef struct {
    ASN1_INTEGER *cert_req_id;
    ASN1_INTEGER *check_after;
    STACK_OF(ASN1_UTF8STRING) * reason;
} CMP_POLLREP;
DEFINE_STACK_OF(CMP_POLLREP)

typedef struct {
    CMP_HDR *header;
    STACK_OF(CMP_POLLREP) * body;
} CMP_POLLREP_MSG;

/* CertifiedKeyPair with its certificate (CertOrEncCert's certificate [0]) */
typedef struct {
    X509 *cert;
} CMP_CKP;

/* CertResponse (RFC 4210 §5.3.4) */
typedef struct {
    ASN1_INTEGER *cert_req_id;
    CMP_SI *status;
    CMP_CKP *ckp;
    ASN1_OCTET_STRING *rsp_info;
} CMP_CERTRESPONSE;
DEFINE_STACK_OF(CMP_CERTRESPONSE)

/* CertRepMessage */
typedef struct {
    STACK_OF(X509) * ca_pubs;
    STACK_OF(CMP_CERTRESPONSE) * response;
} CMP_CERTREP;

/* A PKIMessage whose body is ip [1], cp [3] or kup [8], unprotected, with extraCerts */
typedef struct {
    CMP_HDR *header;
    CMP_CERTREP *body;
    ASN1_BIT_STRING *protection;
    STACK_OF(X509) * extra_certs;
} CMP_CERTREP_MSG;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CMP_POLLREP)
DECLARE_ASN1_FUNCTIONS(CMP_POLLREP_MSG)
DECLARE_ASN1_FUNCTIONS(CMP_CKP)
DECLARE_ASN1_FUNCTIONS(CMP_CERTRESPONSE)
DECLARE_ASN1_FUNCTIONS(CMP_CERTREP)
typedef CMP_CERTREP_MSG CMP_IP_MSG;
typedef CMP_CERTREP_MSG CMP_CP_MSG;
typedef CMP_CERTREP_MSG CMP_KUP_MSG;
DECLARE_ASN1_FUNCTIONS(CMP_IP_MSG)
DECLARE_ASN1_FUNCTIONS(CMP_CP_MSG)
DECLARE_ASN1_FUNCTIONS(CMP_KUP_MSG)

ASN1_SEQUENCE(CMP_POLLREP) = {
    ASN1_SIMPLE(CMP_POLLREP, cert_req_id, ASN1_INTEGER),
    ASN1_SIMPLE(CMP_POLLREP, check_after, ASN1_INTEGER),
    ASN1_SEQUENCE_OF_OPT(CMP_POLLREP, reason, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(CMP_POLLREP)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POLLREP)

ASN1_SEQUENCE(CMP_POLLREP_MSG) = {
    ASN1_SIMPLE(CMP_POLLREP_MSG, header, CMP_HDR),
    ASN1_EXP_SEQUENCE_OF(CMP_POLLREP_MSG, body, CMP_POLLREP, 26),
} ASN1_SEQUENCE_END(CMP_POLLREP_MSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POLLREP_MSG)

ASN1_SEQUENCE(CMP_CKP) = {
    ASN1_EXP(CMP_CKP, cert, X509, 0),
} ASN1_SEQUENCE_END(CMP_CKP)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CKP)

ASN1_SEQUENCE(CMP_CERTRESPONSE) = {
    ASN1_SIMPLE(CMP_CERTRESPONSE, cert_req_id, ASN1_INTEGER),
    ASN1_SIMPLE(CMP_CERTRESPONSE, status, CMP_SI),
    ASN1_OPT(CMP_CERTRESPONSE, ckp, CMP_CKP),
    ASN1_OPT(CMP_CERTRESPONSE, rsp_info, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(CMP_CERTRESPONSE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTRESPONSE)

ASN1_SEQUENCE(CMP_CERTREP) = {
    ASN1_EXP_SEQUENCE_OF_OPT(CMP_CERTREP, ca_pubs, X509, 1),
    ASN1_SEQUENCE_OF(CMP_CERTREP, response, CMP_CERTRESPONSE),
} ASN1_SEQUENCE_END(CMP_CERTREP)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTREP)

#define CERTREP_MSG(name, tag)                                                                 \
    ASN1_SEQUENCE(name) = {                                                                    \
        ASN1_SIMPLE(CMP_CERTREP_MSG, header, CMP_HDR),                                         \
        ASN1_EXP(CMP_CERTREP_MSG, body, CMP_CERTREP, tag),                                     \
        ASN1_EXP_OPT(CMP_CERTREP_MSG, protection, ASN1_BIT_STRING, 0),                         \
        ASN1_EXP_SEQUENCE_OF_OPT(CMP_CERTREP_MSG, extra_certs, X509, 1),                       \
    } ASN1_SEQUENCE_END_name(CMP_CERTREP_MSG, name)                                            \
    IMPLEMENT_ASN1_FUNCTIONS(name)
CERTREP_MSG(CMP_IP_MSG, 1)
CERTREP_MSG(CMP_CP_MSG, 3)
CERTREP_MSG(CMP_KUP_MSG, 8)
    // clang-format on

    /* DER of m (caller frees with free()). */
    static int der_copy(unsigned char *der, int n, unsigned char **out, size_t *len, struct err *e)
{
    if (n <= 0)
        return err_ossl(e, ERR_INTERNAL, "CMP: cannot encode a message");
    *out = xmalloc((size_t)n);
    memcpy(*out, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

int cmp_pollrep_new(const struct cmp_peek *req, long cert_req_id, long check_after,
                    unsigned char **out, size_t *len, struct err *e)
{
    CMP_POLLREP_MSG *m = CMP_POLLREP_MSG_new();
    CMP_POLLREP *p = CMP_POLLREP_new();
    unsigned char *der = NULL;
    int n = -1;

    if (m != NULL && p != NULL && ASN1_INTEGER_set(p->cert_req_id, cert_req_id) == 1 &&
        ASN1_INTEGER_set(p->check_after, check_after) == 1 && sk_CMP_POLLREP_push(m->body, p) > 0) {
        p = NULL;
        CMP_HDR_free(m->header);
        if ((m->header = answer_header(req)) != NULL)
            n = i2d_CMP_POLLREP_MSG(m, &der);
    }
    CMP_POLLREP_free(p);
    CMP_POLLREP_MSG_free(m);
    return der_copy(der, n, out, len, e);
}

/* One CertResponse: accepted, with cert. */
static CMP_CERTRESPONSE *cert_response(long cert_req_id, X509 *cert)
{
    CMP_CERTRESPONSE *r = CMP_CERTRESPONSE_new();

    if (r == NULL || ASN1_INTEGER_set(r->cert_req_id, cert_req_id) != 1 ||
        ASN1_INTEGER_set(r->status->status, 0) != 1 || (r->ckp = CMP_CKP_new()) == NULL ||
        X509_up_ref(cert) != 1) {
        CMP_CERTRESPONSE_free(r);
        return NULL;
    }
    X509_free(r->ckp->cert);
    r->ckp->cert = cert;
    return r;
}

/* A new stack of the certificates of sk, each referenced once more; NULL for none. */
static STACK_OF(X509) * certs_dup(STACK_OF(X509) * sk)
{
    STACK_OF(X509) *copy = sk_X509_num(sk) > 0 ? sk_X509_new_null() : NULL;

    for (int i = 0; copy != NULL && i < sk_X509_num(sk); i++)
        if (X509_up_ref(sk_X509_value(sk, i)) != 1 ||
            sk_X509_push(copy, sk_X509_value(sk, i)) <= 0) {
            sk_X509_pop_free(copy, X509_free);
            return NULL;
        }
    return copy;
}

int cmp_certrep_new(const struct cmp_peek *req, int body, long cert_req_id, X509 *cert,
                    STACK_OF(X509) * extra, STACK_OF(X509) * ca_pubs, unsigned char **out,
                    size_t *len, struct err *e)
{
    CMP_CERTREP_MSG *m = (CMP_CERTREP_MSG *)CMP_IP_MSG_new();
    CMP_CERTRESPONSE *r = cert_response(cert_req_id, cert);
    unsigned char *der = NULL;
    int n = -1;

    if (m != NULL && r != NULL && sk_CMP_CERTRESPONSE_push(m->body->response, r) > 0) {
        r = NULL;
        CMP_HDR_free(m->header);
        m->body->ca_pubs = certs_dup(ca_pubs);
        m->extra_certs = certs_dup(extra);
        if ((m->header = answer_header(req)) != NULL)
            n = body == 1   ? i2d_CMP_IP_MSG(m, &der)
                : body == 3 ? i2d_CMP_CP_MSG(m, &der)
                : body == 8 ? i2d_CMP_KUP_MSG(m, &der)
                            : -1;
    }
    CMP_CERTRESPONSE_free(r);
    CMP_IP_MSG_free(m);
    return der_copy(der, n, out, len, e);
}

int cmp_mac(const unsigned char *der, size_t len, const unsigned char *secret, size_t secret_len,
            const char *ref, unsigned char **out, size_t *out_len, struct err *e)
{
    const unsigned char *q = der;
    CMP_MSG_CERTS *m = len <= INT_MAX ? d2i_CMP_MSG_CERTS(NULL, &q, (long)len) : NULL;
    OSSL_CRMF_PBMPARAMETER *params = NULL;
    CMP_PART_ANY part;
    unsigned char *enc = NULL, *mac = NULL, *pp = NULL;
    size_t mac_len = 0;
    int n = -1, ppn;

    if (m != NULL && m->protection == NULL && m->header->protection_alg == NULL &&
        (m->header->protection_alg = pbm_alg(&params)) != NULL &&
        (m->header->sender_kid != NULL ||
         (m->header->sender_kid = ASN1_OCTET_STRING_new()) != NULL) &&
        ASN1_OCTET_STRING_set(m->header->sender_kid, (const unsigned char *)ref,
                              (int)strlen(ref)) == 1) {
        part = (CMP_PART_ANY){m->header, m->body};
        if ((ppn = i2d_CMP_PART_ANY(&part, &pp)) > 0 &&
            OSSL_CRMF_pbm_new(NULL, NULL, params, pp, (size_t)ppn, secret, secret_len, &mac,
                              &mac_len) == 1 &&
            (m->protection = ASN1_BIT_STRING_new()) != NULL &&
            ASN1_BIT_STRING_set(m->protection, mac, (int)mac_len) == 1) {
            m->protection->flags &= ~0x07;
            m->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
            n = i2d_CMP_MSG_CERTS(m, &enc);
        }
    }
    OSSL_CRMF_PBMPARAMETER_free(params);
    OPENSSL_free(pp);
    OPENSSL_free(mac);
    CMP_MSG_CERTS_free(m);
    return der_copy(enc, n, out, out_len, e);
}

/* ---- PBMAC1 (RFC 9481 §6.1.1, RFC 8018 §7.1): PBKDF2, then an HMAC ------------------------ */

/* PBMAC1-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, messageAuthScheme ... } */
typedef struct {
    X509_ALGOR *kdf;
    X509_ALGOR *mac;
} CMP_PBMAC1_PARAMS;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CMP_PBMAC1_PARAMS)

ASN1_SEQUENCE(CMP_PBMAC1_PARAMS) = {
    ASN1_SIMPLE(CMP_PBMAC1_PARAMS, kdf, X509_ALGOR),
    ASN1_SIMPLE(CMP_PBMAC1_PARAMS, mac, X509_ALGOR),
} ASN1_SEQUENCE_END(CMP_PBMAC1_PARAMS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PBMAC1_PARAMS)
    // clang-format on

    /* The HMAC digest of an hmacWithSHA256/384/512 algorithm; NULL for any other. */
    static const EVP_MD
    * hmac_md(const X509_ALGOR *alg)
{
    const ASN1_OBJECT *obj;

    if (alg == NULL)
        return NULL;
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    switch (OBJ_obj2nid(obj)) {
    case NID_hmacWithSHA256:
        return EVP_sha256();
    case NID_hmacWithSHA384:
        return EVP_sha384();
    case NID_hmacWithSHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

/*
 * The MAC of data under secret with the PBMAC1 parameters of alg into mac
 * (*mac_len); -1 if they are not PBKDF2 with HMAC-SHA2, a salt of 8 to 64
 * bytes, 1 to CMP_PBKDF2_MAX iterations and a key of 16 to 64 bytes.
 */
static int pbmac1_compute(const X509_ALGOR *alg, const unsigned char *secret, size_t secret_len,
                          const unsigned char *data, size_t len, unsigned char *mac,
                          unsigned int *mac_len)
{
    const ASN1_OBJECT *obj;
    const void *pval;
    int ptype, ok = 0;
    CMP_PBMAC1_PARAMS *p = NULL;
    PBKDF2PARAM *kdf = NULL;
    const EVP_MD *prf, *md;
    unsigned char key[64];
    long iter, keylen;

    X509_ALGOR_get0(&obj, &ptype, &pval, alg);
    if (OBJ_obj2nid(obj) != NID_pbmac1 || ptype != V_ASN1_SEQUENCE ||
        (p = ASN1_item_unpack(pval, ASN1_ITEM_rptr(CMP_PBMAC1_PARAMS))) == NULL)
        goto out;
    X509_ALGOR_get0(&obj, &ptype, &pval, p->kdf);
    if (OBJ_obj2nid(obj) != NID_id_pbkdf2 || ptype != V_ASN1_SEQUENCE ||
        (kdf = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBKDF2PARAM))) == NULL ||
        kdf->salt->type != V_ASN1_OCTET_STRING)
        goto out;
    iter = ASN1_INTEGER_get(kdf->iter);
    md = hmac_md(p->mac);
    prf = hmac_md(kdf->prf); /* absent means HMAC-SHA1: refused */
    keylen = kdf->keylength ? ASN1_INTEGER_get(kdf->keylength) : md ? EVP_MD_get_size(md) : 0;
    if (md == NULL || prf == NULL || iter < 1 || iter > CMP_PBKDF2_MAX || keylen < 16 ||
        keylen > (long)sizeof(key) || kdf->salt->value.octet_string->length < 8 ||
        kdf->salt->value.octet_string->length > 64)
        goto out;
    ok = PKCS5_PBKDF2_HMAC(
             (const char *)secret, (int)secret_len, kdf->salt->value.octet_string->data,
             kdf->salt->value.octet_string->length, (int)iter, prf, (int)keylen, key) == 1 &&
         HMAC(md, key, (int)keylen, data, len, mac, mac_len) != NULL;
    OPENSSL_cleanse(key, sizeof(key));
out:
    PBKDF2PARAM_free(kdf);
    CMP_PBMAC1_PARAMS_free(p);
    ERR_clear_error();
    return ok ? 0 : -1;
}

int cmp_pbmac1_verify(const unsigned char *der, size_t len, const unsigned char *secret,
                      size_t secret_len, struct err *e)
{
    const unsigned char *q = der;
    CMP_RAW *m = len <= CMP_MSG_MAX ? d2i_CMP_RAW(NULL, &q, (long)len) : NULL;
    CMP_PART_ANY part;
    unsigned char *pp = NULL, mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int n, rc = -1;

    if (m == NULL || m->protection == NULL || m->header->protection_alg == NULL) {
        err_set(e, ERR_INVALID, "PBMAC1: no protection");
        goto out;
    }
    part = (CMP_PART_ANY){m->header, m->body};
    if ((n = i2d_CMP_PART_ANY(&part, &pp)) <= 0 ||
        pbmac1_compute(m->header->protection_alg, secret, secret_len, pp, (size_t)n, mac,
                       &mac_len) != 0) {
        err_set(e, ERR_INVALID,
                "PBMAC1: PBKDF2 with HMAC-SHA256/384/512, at most %d iterations, and an "
                "HMAC-SHA256/384/512",
                CMP_PBKDF2_MAX);
        goto out;
    }
    if ((unsigned int)ASN1_STRING_length(m->protection) != mac_len ||
        CRYPTO_memcmp(ASN1_STRING_get0_data(m->protection), mac, mac_len) != 0) {
        err_set(e, ERR_FORBIDDEN, "PBMAC1: the MAC does not verify");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(pp);
    CMP_RAW_free(m);
    ERR_clear_error();
    return rc;
}

/* The protectionAlg of a PBMAC1 (PBKDF2-HMAC-SHA256, 32-byte key, HMAC-SHA256), fresh salt. */
static X509_ALGOR *pbmac1_alg(void)
{
    CMP_PBMAC1_PARAMS *p = CMP_PBMAC1_PARAMS_new();
    /* the whole AlgorithmIdentifier of PBKDF2, a random salt of 16 bytes */
    X509_ALGOR *kdf = PKCS5_pbkdf2_set(CMP_PBKDF2_ITERATIONS, NULL, 16, NID_hmacWithSHA256, 32);
    ASN1_STRING *seq = NULL;
    X509_ALGOR *alg = X509_ALGOR_new();
    int ok = p != NULL && kdf != NULL && alg != NULL;

    ok = ok && X509_ALGOR_set0(p->mac, OBJ_nid2obj(NID_hmacWithSHA256), V_ASN1_NULL, NULL) == 1;
    if (ok) {
        X509_ALGOR_free(p->kdf);
        p->kdf = kdf;
        kdf = NULL;
        ok = ASN1_item_pack(p, ASN1_ITEM_rptr(CMP_PBMAC1_PARAMS), &seq) != NULL &&
             X509_ALGOR_set0(alg, OBJ_nid2obj(NID_pbmac1), V_ASN1_SEQUENCE, seq) == 1;
    }
    X509_ALGOR_free(kdf);
    CMP_PBMAC1_PARAMS_free(p);
    if (!ok) {
        ASN1_STRING_free(seq);
        X509_ALGOR_free(alg);
        return NULL;
    }
    return alg;
}

int cmp_pbmac1_protect(const unsigned char *der, size_t len, const unsigned char *secret,
                       size_t secret_len, const char *ref, unsigned char **out, size_t *out_len,
                       struct err *e)
{
    const unsigned char *q = der;
    CMP_MSG_CERTS *m = len <= INT_MAX ? d2i_CMP_MSG_CERTS(NULL, &q, (long)len) : NULL;
    CMP_PART_ANY part;
    unsigned char *enc = NULL, *pp = NULL, mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int n = -1, ppn;

    if (m != NULL && m->protection == NULL && m->header->protection_alg == NULL &&
        (m->header->protection_alg = pbmac1_alg()) != NULL &&
        (m->header->sender_kid != NULL ||
         (m->header->sender_kid = ASN1_OCTET_STRING_new()) != NULL) &&
        ASN1_OCTET_STRING_set(m->header->sender_kid, (const unsigned char *)ref,
                              (int)strlen(ref)) == 1) {
        part = (CMP_PART_ANY){m->header, m->body};
        if ((ppn = i2d_CMP_PART_ANY(&part, &pp)) > 0 &&
            pbmac1_compute(m->header->protection_alg, secret, secret_len, pp, (size_t)ppn, mac,
                           &mac_len) == 0 &&
            (m->protection = ASN1_BIT_STRING_new()) != NULL &&
            ASN1_BIT_STRING_set(m->protection, mac, (int)mac_len) == 1) {
            m->protection->flags &= ~0x07;
            m->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
            n = i2d_CMP_MSG_CERTS(m, &enc);
        }
    }
    OPENSSL_free(pp);
    CMP_MSG_CERTS_free(m);
    return der_copy(enc, n, out, out_len, e);
}
