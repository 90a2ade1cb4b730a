/*
 * est.c — EST message handling (RFC 7030, RFC 8951): request bodies, Basic
 * credentials, certs-only answers and CsrAttrs.  No HTTP here; src/api/api_est.c
 * is the transport and src/svc/svc_est.c does the enrollment.
 */
#include "est/est.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

/* CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID (RFC 7030 §4.5.2), the OID choice only. */
typedef STACK_OF(ASN1_OBJECT) EST_CSRATTRS;
DECLARE_ASN1_ITEM(EST_CSRATTRS)
ASN1_ITEM_TEMPLATE(EST_CSRATTRS) = ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CsrAttrs,
                                                         ASN1_OBJECT)
    ASN1_ITEM_TEMPLATE_END(EST_CSRATTRS)

    /*
     * A degenerate SignedData (RFC 5652 §5.1, RFC 7030 §4.1.3 "certs-only"):
     * version 1, no digest algorithms, encapsulated content id-data without
     * content, the certificates, no signer.  The certificates are ANY, so that
     * they are copied as they are stored rather than parsed (OpenSSL's PKCS7
     * type would decode each certificate's key).
     */
    typedef struct {
    ASN1_OBJECT *type;
} EST_ENCAP;
ASN1_SEQUENCE(EST_ENCAP) =
    {
        ASN1_SIMPLE(EST_ENCAP, type, ASN1_OBJECT),
} static_ASN1_SEQUENCE_END(EST_ENCAP)

        typedef struct {
    ASN1_INTEGER *version;
    STACK_OF(X509_ALGOR) * digests;
    EST_ENCAP *encap;
    STACK_OF(ASN1_TYPE) * certs;
    STACK_OF(ASN1_TYPE) * signers;
} EST_SIGNED;
ASN1_SEQUENCE(EST_SIGNED) =
    {
        ASN1_SIMPLE(EST_SIGNED, version, ASN1_INTEGER),
        ASN1_SET_OF(EST_SIGNED, digests, X509_ALGOR),
        ASN1_SIMPLE(EST_SIGNED, encap, EST_ENCAP),
        ASN1_IMP_SET_OF_OPT(EST_SIGNED, certs, ASN1_ANY, 0),
        ASN1_SET_OF(EST_SIGNED, signers, ASN1_ANY),
} static_ASN1_SEQUENCE_END(EST_SIGNED)

        typedef struct {
    ASN1_OBJECT *type;
    EST_SIGNED *signed_data;
} EST_CONTENT_INFO;
ASN1_SEQUENCE(EST_CONTENT_INFO) =
    {
        ASN1_SIMPLE(EST_CONTENT_INFO, type, ASN1_OBJECT),
        ASN1_EXP(EST_CONTENT_INFO, signed_data, EST_SIGNED, 0),
} static_ASN1_SEQUENCE_END(EST_CONTENT_INFO)

        static const struct {
    const char *name;
    enum est_op op;
} ops[] = {
    {"cacerts", EST_OP_CACERTS},
    {"simpleenroll", EST_OP_SIMPLEENROLL},
    {"simplereenroll", EST_OP_SIMPLEREENROLL},
    {"fullcmc", EST_OP_FULLCMC},
    {"serverkeygen", EST_OP_SERVERKEYGEN},
    {"csrattrs", EST_OP_CSRATTRS},
};

enum est_op est_op_of(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(ops); i++)
        if (strcmp(ops[i].name, name) == 0)
            return ops[i].op;
    return EST_OP_NONE;
}

/* Base64 text without its white space into *out (caller frees); -1 on a character not base64. */
static int base64_compact(const unsigned char *in, size_t len, char **out, size_t *out_len)
{
    char *t = xmalloc(len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
            continue;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=')) {
            free(t);
            return -1;
        }
        t[n++] = (char)c;
    }
    t[n] = '\0';
    *out = t;
    *out_len = n;
    return 0;
}

/* The length a DER element at p (of len bytes) claims, header included; 0 if it has none. */
static size_t der_element_length(const unsigned char *p, size_t len)
{
    long inner = 0;
    int tag = 0, cls = 0;
    const unsigned char *q = p;
    int r;

    if (len == 0 || len > 0x7fffffff)
        return 0;
    r = ASN1_get_object(&q, &inner, &tag, &cls, (long)len);
    if (r & 0x80 || r == 0x21) /* an error, or indefinite length (BER) */
        return 0;
    return (size_t)(q - p) + (size_t)inner;
}

/* Base64 (white space skipped) into *out (caller frees) and *len; -1 if it is not, or empty. */
static int est_b64_decode(const unsigned char *in, size_t in_len, unsigned char **out, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    unsigned char *bin;
    int got;

    if (base64_compact(in, in_len, &text, &n) != 0)
        return -1;
    if (n == 0 || n % 4 != 0 || n > 0x7ffffff0) {
        free(text);
        return -1;
    }
    bin = xmalloc(n / 4 * 3 + 1);
    got = EVP_DecodeBlock(bin, (const unsigned char *)text, (int)n);
    if (got >= 0) { /* EVP_DecodeBlock counts the padding's bytes as data */
        got -= text[n - 1] == '=' ? 1 : 0;
        got -= text[n - 2] == '=' ? 1 : 0;
    }
    free(text);
    ERR_clear_error();
    if (got <= 0) {
        free(bin);
        return -1;
    }
    *out = bin;
    *len = (size_t)got;
    return 0;
}

int est_body_decode(const unsigned char *body, size_t body_len, unsigned char **der, size_t *len,
                    struct err *e)
{
    unsigned char *out = NULL;
    size_t n = 0;

    if (body_len > EST_BODY_MAX)
        return err_set(e, ERR_TOO_LARGE, "body: over %d bytes", EST_BODY_MAX);
    if (est_b64_decode(body, body_len, &out, &n) != 0)
        return err_set(e, ERR_INVALID, "body: not base64 (RFC 8951 section 3)");
    if (der_element_length(out, n) != n) {
        free(out);
        return err_set(e, ERR_INVALID, "body: the base64 is not one DER element");
    }
    *der = out;
    *len = n;
    return 0;
}

/* Whether s (n bytes) has a control character. */
static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

int est_basic_parse(const char *header, char **user, char **password, struct err *e)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    const char *colon;

    if (header == NULL || strncasecmp(header, "Basic ", 6) != 0)
        return err_set(e, ERR_UNAUTHENTICATED, "Authorization: not Basic");
    header += 6;
    while (*header == ' ')
        header++;
    if (strlen(header) > 4 * (EST_USER_MAX + EST_PASSWORD_MAX) ||
        est_b64_decode((const unsigned char *)header, strlen(header), &raw, &n) != 0)
        return err_set(e, ERR_UNAUTHENTICATED, "Authorization: Basic credentials not base64");
    colon = memchr(raw, ':', n);
    if (colon == NULL || colon == (const char *)raw || (size_t)(colon - (char *)raw) + 1 == n ||
        (size_t)(colon - (char *)raw) > EST_USER_MAX ||
        n - (size_t)(colon - (char *)raw) - 1 > EST_PASSWORD_MAX || has_control((char *)raw, n)) {
        secure_zero(raw, n);
        free(raw);
        return err_set(e, ERR_UNAUTHENTICATED, "Authorization: Basic user:password expected");
    }
    *user = xstrndup((char *)raw, (size_t)(colon - (char *)raw));
    *password = xstrndup(colon + 1, n - (size_t)(colon - (char *)raw) - 1);
    secure_zero(raw, n);
    free(raw);
    return 0;
}

/* One line of base64 of der (*out, caller frees; *len without the terminator). */
static void base64_line(const unsigned char *der, size_t n, char **out, size_t *len)
{
    char *t = xmalloc((n + 2) / 3 * 4 + 1);
    int w = EVP_EncodeBlock((unsigned char *)t, der, (int)n);

    *out = t;
    *len = (size_t)w;
}

int est_certs_only(const unsigned char *der, size_t der_len, char **out, size_t *len, struct err *e)
{
    EST_CONTENT_INFO *ci = (EST_CONTENT_INFO *)ASN1_item_new(ASN1_ITEM_rptr(EST_CONTENT_INFO));
    const unsigned char *p = der, *end = der + der_len;
    unsigned char *enc = NULL;
    int dlen, rc = -1;

    if (ci == NULL)
        abort(); /* out of memory */
    /* ASN1_item_new made the fields (empty objects and stacks): each is set in its place. */
    ASN1_OBJECT_free(ci->type);
    ASN1_OBJECT_free(ci->signed_data->encap->type);
    ci->type = OBJ_nid2obj(NID_pkcs7_signed);
    ci->signed_data->encap->type = OBJ_nid2obj(NID_pkcs7_data);
    if (ci->signed_data->digests == NULL)
        ci->signed_data->digests = sk_X509_ALGOR_new_null();
    if (ci->signed_data->certs == NULL)
        ci->signed_data->certs = sk_ASN1_TYPE_new_null();
    if (ci->signed_data->signers == NULL)
        ci->signed_data->signers = sk_ASN1_TYPE_new_null();
    if (ci->type == NULL || ci->signed_data->encap->type == NULL ||
        ASN1_INTEGER_set(ci->signed_data->version, 1) != 1 || ci->signed_data->digests == NULL ||
        ci->signed_data->certs == NULL || ci->signed_data->signers == NULL)
        abort(); /* out of memory */
    /* Each certificate goes in as the DER it is (an ANY): no parse of its key, no re-encoding. */
    while (p < end) {
        ASN1_TYPE *t = d2i_ASN1_TYPE(NULL, &p, (long)(end - p));
        if (t == NULL || t->type != V_ASN1_SEQUENCE ||
            sk_ASN1_TYPE_push(ci->signed_data->certs, t) <= 0) {
            ASN1_TYPE_free(t);
            err_set(e, ERR_INTERNAL, "certs-only: a certificate is not a DER SEQUENCE");
            goto out;
        }
    }
    if ((dlen = ASN1_item_i2d((ASN1_VALUE *)ci, &enc, ASN1_ITEM_rptr(EST_CONTENT_INFO))) <= 0) {
        err_set(e, ERR_INTERNAL, "certs-only: cannot encode");
        goto out;
    }
    base64_line(enc, (size_t)dlen, out, len);
    rc = 0;
out:
    OPENSSL_free(enc);
    ASN1_item_free((ASN1_VALUE *)ci, ASN1_ITEM_rptr(EST_CONTENT_INFO));
    ERR_clear_error();
    return rc;
}

int est_csrattrs(const char *const *oids, size_t n, char **out, size_t *len, struct err *e)
{
    EST_CSRATTRS *sk = sk_ASN1_OBJECT_new_null();
    unsigned char *der = NULL;
    int dlen, rc = -1;

    if (sk == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        ASN1_OBJECT *o = OBJ_txt2obj(oids[i], 1);
        if (o == NULL || sk_ASN1_OBJECT_push(sk, o) <= 0) {
            ASN1_OBJECT_free(o);
            err_set(e, ERR_INTERNAL, "csrattrs: %s is not an OID", oids[i]);
            goto out;
        }
    }
    if ((dlen = ASN1_item_i2d((ASN1_VALUE *)sk, &der, ASN1_ITEM_rptr(EST_CSRATTRS))) <= 0) {
        err_set(e, ERR_INTERNAL, "csrattrs: cannot encode");
        goto out;
    }
    base64_line(der, (size_t)dlen, out, len);
    rc = 0;
out:
    OPENSSL_free(der);
    sk_ASN1_OBJECT_pop_free(sk, ASN1_OBJECT_free);
    ERR_clear_error();
    return rc;
}

int est_serverkeygen_answer(const unsigned char *key, size_t key_len, const unsigned char *cert,
                            size_t cert_len, char **body, size_t *len, char **content_type,
                            struct err *e)
{
    unsigned char rnd[12];
    char *hex, *k64 = NULL, *c64 = NULL;
    size_t klen = 0, clen = 0;
    int n;

    if (random_bytes(rnd, sizeof(rnd)) != 0)
        return err_set(e, ERR_INTERNAL, "serverkeygen: no randomness for the boundary");
    if (est_certs_only(cert, cert_len, &c64, &clen, e) != 0)
        return -1;
    base64_line(key, key_len, &k64, &klen);
    hex = hex_encode(rnd, sizeof(rnd));
    n = asprintf(body,
                 "--est-%s\r\nContent-Type: application/pkcs8\r\n\r\n%s\r\n"
                 "--est-%s\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
                 "\r\n%s\r\n--est-%s--\r\n",
                 hex, k64, hex, c64, hex);
    if (n < 0)
        abort(); /* out of memory */
    *len = (size_t)n;
    *content_type = xasprintf("multipart/mixed; boundary=est-%s", hex);
    secure_zero(k64, klen);
    free(k64);
    free(c64);
    free(hex);
    return 0;
}
