/* p11_objects.c — PKCS#11 key objects and OpenSSL keys, both ways (see p11_objects.h). */
#include "keys/p11_objects.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

/* An attribute's value (caller frees); NULL with *rv set if absent or on error. */
static unsigned char *attr_get(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                               CK_ATTRIBUTE_TYPE type, size_t *len, CK_RV *rv)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    unsigned char *v;

    if ((*rv = f->C_GetAttributeValue(h, o, &a, 1)) != CKR_OK)
        return NULL;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 65536) {
        *rv = CKR_ATTRIBUTE_VALUE_INVALID;
        return NULL;
    }
    v = xmalloc(a.ulValueLen ? a.ulValueLen : 1);
    a.pValue = v;
    if ((*rv = f->C_GetAttributeValue(h, o, &a, 1)) != CKR_OK) {
        free(v);
        return NULL;
    }
    *len = a.ulValueLen;
    return v;
}

/* The DER of the OID naming type's curve (CKA_EC_PARAMS); caller frees; NULL for RSA. */
unsigned char *p11_curve_params(enum key_type type, int *len)
{
    int nid = type == KEY_EC_P256   ? NID_X9_62_prime256v1
              : type == KEY_EC_P384 ? NID_secp384r1
              : type == KEY_ED25519 ? NID_ED25519
                                    : NID_undef;
    unsigned char *der = NULL;

    if (nid == NID_undef || (*len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der)) <= 0)
        return NULL;
    return der;
}

/* The key type an EC_PARAMS value names (an OID); KEY_NONE if not one we use. */
static enum key_type curve_type(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &p, (long)len);
    int nid = o ? OBJ_obj2nid(o) : NID_undef;

    ASN1_OBJECT_free(o);
    ERR_clear_error();
    return nid == NID_X9_62_prime256v1 ? KEY_EC_P256
           : nid == NID_secp384r1      ? KEY_EC_P384
           : nid == NID_ED25519        ? KEY_ED25519
                                       : KEY_NONE;
}

/* The point inside a CKA_EC_POINT (a DER OCTET STRING); caller frees. */
static unsigned char *ec_point(const unsigned char *der, size_t len, size_t *out_len)
{
    const unsigned char *p = der;
    ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);
    unsigned char *pt = NULL;

    if (os != NULL && os->length > 0) {
        pt = xmalloc((size_t)os->length);
        memcpy(pt, os->data, (size_t)os->length);
        *out_len = (size_t)os->length;
    }
    ASN1_OCTET_STRING_free(os);
    ERR_clear_error();
    return pt;
}

static EVP_PKEY *pkey_fromdata(const char *alg, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY *k = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
        k = NULL;
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* The public key of an EC or Ed25519 public object of type. */
static EVP_PKEY *pub_ec(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                        enum key_type type, CK_RV *rv)
{
    size_t len = 0, plen = 0;
    unsigned char *der = attr_get(f, h, o, CKA_EC_POINT, &len, rv), *pt;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *k = NULL;

    if (der == NULL)
        return NULL;
    pt = ec_point(der, len, &plen);
    if (pt == NULL && type == KEY_ED25519 && len == 32) /* some modules give the bare point */
        pt = xmalloc(32), memcpy(pt, der, 32), plen = 32;
    free(der);
    if (pt == NULL)
        return NULL;
    if (type == KEY_ED25519) {
        k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt, plen);
    } else if ((bld = OSSL_PARAM_BLD_new()) != NULL) {
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        type == KEY_EC_P256 ? "P-256" : "P-384", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, plen);
        k = pkey_fromdata("EC", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    free(pt);
    return k;
}

static EVP_PKEY *pub_rsa(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_RV *rv)
{
    size_t nl = 0, el = 0;
    unsigned char *n = attr_get(f, h, o, CKA_MODULUS, &nl, rv), *ex = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *k = NULL;

    if (n != NULL && (ex = attr_get(f, h, o, CKA_PUBLIC_EXPONENT, &el, rv)) != NULL &&
        (bn = BN_bin2bn(n, (int)nl, NULL)) != NULL && (be = BN_bin2bn(ex, (int)el, NULL)) != NULL &&
        (bld = OSSL_PARAM_BLD_new()) != NULL) {
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
        k = pkey_fromdata("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(ex);
    return k;
}

/* The public key of a public object, and its type; NULL if unreadable or not ours. */
EVP_PKEY *p11_pub_read(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                       enum key_type *type, CK_RV *rv)
{
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
    unsigned char *params;
    size_t len = 0;
    EVP_PKEY *k = NULL;

    if ((*rv = f->C_GetAttributeValue(h, o, &a, 1)) != CKR_OK)
        return NULL;
    if (kt == CKK_RSA) {
        k = pub_rsa(f, h, o, rv);
        *type = k ? key_type_of(k) : KEY_NONE;
    } else if ((kt == CKK_EC || kt == CKK_EC_EDWARDS) &&
               (params = attr_get(f, h, o, CKA_EC_PARAMS, &len, rv)) != NULL) {
        *type = curve_type(params, len);
        free(params);
        if (*type != KEY_NONE)
            k = pub_ec(f, h, o, *type, rv);
    }
    ERR_clear_error();
    return k;
}

/* Big-endian bytes of an RSA/EC key's BIGNUM parameter name; caller frees. */
static unsigned char *bn_param(EVP_PKEY *key, const char *name, size_t pad, size_t *len)
{
    BIGNUM *bn = NULL;
    unsigned char *v = NULL;
    int n;

    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        return NULL;
    n = BN_num_bytes(bn);
    if (pad < (size_t)n)
        pad = (size_t)n;
    v = xmalloc(pad ? pad : 1);
    if (BN_bn2binpad(bn, v, (int)pad) < 0) {
        free(v);
        v = NULL;
    }
    *len = pad;
    BN_clear_free(bn);
    return v;
}

void p11_vals_free(struct p11_vals *v)
{
    for (int i = 0; i < v->n; i++) {
        if (v->v[i] != NULL)
            secure_zero(v->v[i], v->len[i]);
        free(v->v[i]);
    }
    v->n = 0;
}

/* Appends attribute type with value (owned by vals) to t; 0 ok, -1 if the value is missing. */
static int vals_add(struct p11_vals *v, CK_ATTRIBUTE *t, CK_ULONG *nt, CK_ATTRIBUTE_TYPE type,
                    unsigned char *value, size_t len)
{
    if (value == NULL || v->n == P11_VALS_MAX)
        return free(value), -1;
    v->v[v->n] = value;
    v->len[v->n++] = len;
    t[(*nt)++] = (CK_ATTRIBUTE){type, value, len};
    return 0;
}

/* Appends the BIGNUM parameter param of key (big-endian, at least pad bytes) as attribute type. */
static int vals_add_bn(struct p11_vals *v, CK_ATTRIBUTE *t, CK_ULONG *nt, CK_ATTRIBUTE_TYPE type,
                       EVP_PKEY *key, const char *param, size_t pad)
{
    size_t len = 0;
    unsigned char *value = bn_param(key, param, pad, &len);

    return vals_add(v, t, nt, type, value, len);
}

/* The private attributes (and public ones in pub_t) of key, by key type. */
int p11_key_attrs(EVP_PKEY *key, enum key_type type, struct p11_vals *v, CK_ATTRIBUTE *t,
                  CK_ULONG *nt, CK_ATTRIBUTE *pub_t, CK_ULONG *npub)
{
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        const char *param;
    } rsa[] = {{CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D},
               {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1},
               {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2},
               {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1},
               {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2},
               {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
    unsigned char *b, *der = NULL, raw[256];
    size_t n;
    int plen = 0;
    int rc = 0;

    if (type == KEY_RSA_2048 || type == KEY_RSA_3072 || type == KEY_RSA_4096) {
        rc |= vals_add_bn(v, pub_t, npub, CKA_MODULUS, key, OSSL_PKEY_PARAM_RSA_N, 0);
        rc |= vals_add_bn(v, pub_t, npub, CKA_PUBLIC_EXPONENT, key, OSSL_PKEY_PARAM_RSA_E, 0);
        t[(*nt)++] = pub_t[*npub - 2];
        t[(*nt)++] = pub_t[*npub - 1];
        for (size_t i = 0; i < ARRAY_LEN(rsa); i++)
            rc |= vals_add_bn(v, t, nt, rsa[i].type, key, rsa[i].param, 0);
        return rc;
    }
    b = p11_curve_params(type, &plen);
    rc |= vals_add(v, t, nt, CKA_EC_PARAMS, b, (size_t)plen);
    pub_t[(*npub)++] = t[*nt - 1];
    if (type == KEY_ED25519) {
        n = sizeof(raw);
        b = NULL;
        if (EVP_PKEY_get_raw_private_key(key, raw, &n) == 1)
            b = xmalloc(n), memcpy(b, raw, n);
        secure_zero(raw, sizeof(raw));
        rc |= vals_add(v, t, nt, CKA_VALUE, b, n);
        n = sizeof(raw);
        if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1)
            return -1;
    } else {
        rc |= vals_add_bn(v, t, nt, CKA_VALUE, key, OSSL_PKEY_PARAM_PRIV_KEY,
                          type == KEY_EC_P256 ? 32 : 48);
        if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw,
                                            sizeof(raw), &n) != 1 &&
            (n = 0, EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof(raw),
                                                    &n) != 1))
            return -1;
    }
    {
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        int dl = os && ASN1_OCTET_STRING_set(os, raw, (int)n) ? i2d_ASN1_OCTET_STRING(os, &der) : 0;

        ASN1_OCTET_STRING_free(os);
        b = dl > 0 ? xmalloc((size_t)dl) : NULL;
        if (b != NULL)
            memcpy(b, der, (size_t)dl);
        OPENSSL_free(der);
        rc |= vals_add(v, pub_t, npub, CKA_EC_POINT, b, dl > 0 ? (size_t)dl : 0);
    }
    return rc;
}

/* What the token signs for type and md: the digest (EC), a DigestInfo (RSA) or data (Ed25519). */
unsigned char *p11_sign_input(enum key_type type, const char *md, const unsigned char *data,
                              size_t len, size_t *out_len, struct err *e)
{
    unsigned char h[EVP_MAX_MD_SIZE], *out = NULL;
    unsigned int hlen = 0;
    X509_SIG *di = NULL;
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *dig;
    EVP_MD *m = NULL;
    int n;

    if (type == KEY_ED25519) {
        if (md[0] != '\0')
            return err_set(e, ERR_INVALID, "signer: Ed25519 signs without a digest"), NULL;
        out = xmalloc(len ? len : 1);
        memcpy(out, data, len);
        *out_len = len;
        return out;
    }
    if (md[0] == '\0' || (m = EVP_MD_fetch(NULL, md, NULL)) == NULL ||
        EVP_Digest(data, len, h, &hlen, m, NULL) != 1) {
        EVP_MD_free(m);
        return err_ossl(e, ERR_INVALID, "signer: this key cannot sign with digest %s",
                        md[0] ? md : "(none)"),
               NULL;
    }
    if (type == KEY_EC_P256 || type == KEY_EC_P384) {
        out = xmalloc(hlen);
        memcpy(out, h, hlen);
        *out_len = hlen;
    } else if ((di = X509_SIG_new()) != NULL) {
        X509_SIG_getm(di, &alg, &dig);
        if (X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(m)), V_ASN1_NULL, NULL) == 1 &&
            ASN1_OCTET_STRING_set(dig, h, (int)hlen) == 1 && (n = i2d_X509_SIG(di, &out)) > 0)
            *out_len = (size_t)n;
        else
            out = NULL;
        X509_SIG_free(di);
    }
    EVP_MD_free(m);
    if (out == NULL)
        err_ossl(e, ERR_INTERNAL, "signer: DigestInfo encoding failed");
    return out;
}

/* The DER ECDSA-Sig-Value of a PKCS#11 r||s signature; caller frees. */
unsigned char *p11_ecdsa_der(const unsigned char *rs, size_t len, size_t *out_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL),
           *sv = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL, *out = NULL;
    int n;

    if (sig != NULL && r != NULL && sv != NULL && len % 2 == 0 && ECDSA_SIG_set0(sig, r, sv) == 1) {
        r = sv = NULL;
        if ((n = i2d_ECDSA_SIG(sig, &der)) > 0) {
            out = xmalloc((size_t)n);
            memcpy(out, der, (size_t)n);
            *out_len = (size_t)n;
        }
    }
    OPENSSL_free(der);
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(sig);
    return out;
}
