/*
 * csr.c — PKCS#10 certificate requests (RFC 2986): reading a requester's CSR
 * with its proof of possession, and making one for a CA whose certificate
 * comes from an outside CA.
 *
 * A requester's CSR is read with templates of our own that leave the
 * SubjectPublicKeyInfo undecoded: OpenSSL 3.0's X509_REQ decodes it through
 * its provider decoders, which cost ~110 us a key and serialise threads on
 * their locks.  The key is then made directly from its parts (EC named
 * curves, RSA, Ed25519); any other algorithm goes through d2i_PUBKEY.
 */
#include "core/core_internal.h"

#include <pthread.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#define CSR_MAX (64 * 1024)

typedef struct {
    X509_ALGOR *alg;
    ASN1_BIT_STRING *key;
} CSR_SPKI;

/* CertificationRequestInfo; its encoding is kept, for the signature check. */
typedef struct {
    ASN1_ENCODING enc;
    ASN1_INTEGER *version;
    X509_NAME *subject;
    CSR_SPKI *spki;
    STACK_OF(X509_ATTRIBUTE) * attributes;
} CSR_INFO;

typedef struct {
    CSR_INFO *info;
    X509_ALGOR *sig_alg;
    ASN1_BIT_STRING *signature;
} CSR_DER;

/* RSAPublicKey (RFC 8017 A.1.1). */
typedef struct {
    ASN1_INTEGER *n;
    ASN1_INTEGER *e;
} CSR_RSA_PUB;

// clang-format off
DECLARE_ASN1_FUNCTIONS(CSR_SPKI)
DECLARE_ASN1_FUNCTIONS(CSR_INFO)
DECLARE_ASN1_FUNCTIONS(CSR_DER)
DECLARE_ASN1_FUNCTIONS(CSR_RSA_PUB)

ASN1_SEQUENCE(CSR_SPKI) = {
    ASN1_SIMPLE(CSR_SPKI, alg, X509_ALGOR),
    ASN1_SIMPLE(CSR_SPKI, key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CSR_SPKI)

ASN1_SEQUENCE_enc(CSR_INFO, enc, NULL) = {
    ASN1_SIMPLE(CSR_INFO, version, ASN1_INTEGER),
    ASN1_SIMPLE(CSR_INFO, subject, X509_NAME),
    ASN1_SIMPLE(CSR_INFO, spki, CSR_SPKI),
    /* As OpenSSL: some requesters leave out the (empty) attributes. */
    ASN1_IMP_SET_OF_OPT(CSR_INFO, attributes, X509_ATTRIBUTE, 0),
} ASN1_SEQUENCE_END_enc(CSR_INFO, CSR_INFO)

ASN1_SEQUENCE(CSR_DER) = {
    ASN1_SIMPLE(CSR_DER, info, CSR_INFO),
    ASN1_SIMPLE(CSR_DER, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(CSR_DER, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CSR_DER)

ASN1_SEQUENCE(CSR_RSA_PUB) = {
    ASN1_SIMPLE(CSR_RSA_PUB, n, ASN1_INTEGER),
    ASN1_SIMPLE(CSR_RSA_PUB, e, ASN1_INTEGER),
} ASN1_SEQUENCE_END(CSR_RSA_PUB)

IMPLEMENT_ASN1_FUNCTIONS(CSR_SPKI)
IMPLEMENT_ASN1_FUNCTIONS(CSR_INFO)
IMPLEMENT_ASN1_FUNCTIONS(CSR_DER)
IMPLEMENT_ASN1_FUNCTIONS(CSR_RSA_PUB)
    // clang-format on

    static int looks_like_pem(const unsigned char *data, size_t len)
{
    static const char begin[] = "-----BEGIN";
    size_t i = 0;

    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    return len - i >= sizeof(begin) - 1 && memcmp(data + i, begin, sizeof(begin) - 1) == 0;
}

/*
 * The CSR in der (DER, the whole of it, RFC 2986 §4); NULL if it is not one.
 * *not_der is set when it is BER or has bytes after it.
 */
static CSR_DER *csr_decode_der(const unsigned char *der, size_t len, int *not_der)
{
    const unsigned char *p = der;

    if (der_check(der, len) != 0) {
        *not_der = 1;
        return NULL;
    }
    return d2i_CSR_DER(NULL, &p, (long)len);
}

/* The CSR in data (PEM or DER); NULL if it is neither (*not_der: it is BER). */
static CSR_DER *csr_decode(const unsigned char *data, size_t len, int *not_der)
{
    unsigned char *der = NULL;
    long der_len = 0;
    CSR_DER *csr = NULL;
    BIO *bio;

    if (!looks_like_pem(data, len))
        return csr_decode_der(data, len, not_der);
    /* "CERTIFICATE REQUEST" or the older "NEW CERTIFICATE REQUEST" */
    if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
        return NULL;
    if (PEM_bytes_read_bio(&der, &der_len, NULL, PEM_STRING_X509_REQ, bio, NULL, NULL) == 1 &&
        der_len > 0)
        csr = csr_decode_der(der, (size_t)der_len, not_der);
    BIO_free(bio);
    OPENSSL_free(der);
    return csr;
}

/* A key from OSSL_PARAMs through its key manager; NULL if they do not make one. */
static EVP_PKEY *key_fromdata(const char *type, OSSL_PARAM *params, int selection)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *key = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, selection, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    return key;
}

/*
 * Parameters-only keys of the curves a CSR's key may use, made once: a key
 * made from a group name builds its EC_GROUP (~20 us); copying a template's
 * parameters shares the one already built (~5 us in all).
 */
static const int ec_nids[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
static EVP_PKEY *ec_templates[sizeof(ec_nids) / sizeof(ec_nids[0])];
static pthread_once_t ec_templates_once = PTHREAD_ONCE_INIT;

static void ec_templates_make(void)
{
    for (size_t i = 0; i < sizeof(ec_nids) / sizeof(ec_nids[0]); i++) {
        OSSL_PARAM params[2];

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     (char *)OBJ_nid2sn(ec_nids[i]), 0);
        params[1] = OSSL_PARAM_construct_end();
        ec_templates[i] = key_fromdata("EC", params, EVP_PKEY_KEY_PARAMETERS);
    }
}

static EVP_PKEY *key_ec(const ASN1_OBJECT *curve, const unsigned char *point, int len)
{
    int nid = OBJ_obj2nid(curve);
    EVP_PKEY *key;
    size_t i;

    for (i = 0; i < sizeof(ec_nids) / sizeof(ec_nids[0]) && ec_nids[i] != nid; i++)
        ;
    if (i == sizeof(ec_nids) / sizeof(ec_nids[0]))
        return NULL; /* refused by the strength check, through the general path */
    if (pthread_once(&ec_templates_once, ec_templates_make) != 0 || ec_templates[i] == NULL ||
        (key = EVP_PKEY_new()) == NULL)
        return NULL;
    /* The point is checked to be on the curve as it is set. */
    if (EVP_PKEY_copy_parameters(key, ec_templates[i]) != 1 ||
        EVP_PKEY_set1_encoded_public_key(key, point, (size_t)len) != 1) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static EVP_PKEY *key_rsa(const unsigned char *der, int len)
{
    const unsigned char *p = der;
    CSR_RSA_PUB *pub = d2i_CSR_RSA_PUB(NULL, &p, len);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *key = NULL;

    if (pub != NULL && p == der + len && bld != NULL &&
        ASN1_STRING_type(pub->n) == V_ASN1_INTEGER && ASN1_STRING_type(pub->e) == V_ASN1_INTEGER &&
        (n = ASN1_INTEGER_to_BN(pub->n, NULL)) != NULL &&
        (e = ASN1_INTEGER_to_BN(pub->e, NULL)) != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        key = key_fromdata("RSA", params, EVP_PKEY_PUBLIC_KEY);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    CSR_RSA_PUB_free(pub);
    return key;
}

/*
 * The public key of spki.  EC keys on named curves, RSA and Ed25519 are made
 * from their parts; anything else (explicit curves, RSA-PSS, ...) goes
 * through OpenSSL's decoders.  NULL if it does not decode.
 */
static EVP_PKEY *spki_key(const CSR_SPKI *spki)
{
    const ASN1_OBJECT *obj;
    const void *pval;
    const unsigned char *bits = ASN1_STRING_get0_data(spki->key), *p;
    unsigned char *der = NULL;
    int ptype, len = ASN1_STRING_length(spki->key);
    EVP_PKEY *key = NULL;

    X509_ALGOR_get0(&obj, &ptype, &pval, spki->alg);
    /* A key is a whole number of bytes: no unused bits. */
    if ((spki->key->flags & ASN1_STRING_FLAG_BITS_LEFT) && (spki->key->flags & 0x07))
        return NULL;
    switch (OBJ_obj2nid(obj)) {
    case NID_X9_62_id_ecPublicKey:
        if (ptype == V_ASN1_OBJECT && (key = key_ec(pval, bits, len)) != NULL)
            return key;
        break;
    case NID_rsaEncryption:
        if (ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF)
            return key_rsa(bits, len);
        break;
    case NID_ED25519:
        if (ptype != V_ASN1_UNDEF || len != 32)
            return NULL;
        return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, bits, (size_t)len);
    default:
        break;
    }
    if ((len = i2d_CSR_SPKI((CSR_SPKI *)spki, &der)) > 0) {
        p = der;
        key = d2i_PUBKEY(NULL, &p, len);
    }
    OPENSSL_free(der);
    return key;
}

/* MD2, MD4 and MD5 signatures prove nothing. */
static int csr_digest_weak(const CSR_DER *csr)
{
    int md = NID_undef, pk = NID_undef;

    if (!OBJ_find_sigid_algs(OBJ_obj2nid(csr->sig_alg->algorithm), &md, &pk))
        return 0;
    return md == NID_md2 || md == NID_md4 || md == NID_md5;
}

static int csr_check(const CSR_DER *csr, EVP_PKEY *key, unsigned flags, struct err *e)
{
    struct key_info ki;
    char why[160];

    if (ASN1_INTEGER_get(csr->info->version) != X509_REQ_VERSION_1)
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: version must be v1 (0)");
    if (key == NULL)
        return err_osslc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: the public key cannot be decoded");
    key_describe(key, &ki);
    if (key_check_strength(key, &ki, why, sizeof(why)) != 0)
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: key: %s", why);
    if (csr_digest_weak(csr))
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR,
                        "csr: signed with a broken digest (MD2/MD4/MD5)");
    if (!(flags & CSR_UNSIGNED_OK) && ASN1_item_verify(ASN1_ITEM_rptr(CSR_INFO), csr->sig_alg,
                                                       csr->signature, csr->info, key) != 1)
        return err_osslc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: the signature does not verify");
    return 0;
}

/*
 * The CSR's requested extensions (PKCS#9 extensionRequest, or Microsoft's
 * older OID); an empty list if it asks for none, NULL if the request is
 * malformed.
 */
static STACK_OF(X509_EXTENSION) * csr_extensions(const CSR_DER *csr)
{
    static const int nids[] = {NID_ext_req, NID_ms_ext_req};
    ASN1_TYPE *t;
    int i;

    for (size_t n = 0; n < ARRAY_LEN(nids); n++) {
        if ((i = X509at_get_attr_by_NID(csr->info->attributes, nids[n], -1)) < 0)
            continue;
        t = X509_ATTRIBUTE_get0_type(X509at_get_attr(csr->info->attributes, i), 0);
        if (t == NULL || t->type != V_ASN1_SEQUENCE)
            return NULL;
        return ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_EXTENSIONS), t);
    }
    return sk_X509_EXTENSION_new_null();
}

/* The CSR's subjectAltName extension request, NULL if none; -1 if malformed. */
static int csr_sans(const CSR_DER *csr, GENERAL_NAMES **out, struct err *e)
{
    STACK_OF(X509_EXTENSION) *exts = csr_extensions(csr);
    int pos = exts ? X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1) : -1;
    int rc = 0;

    *out = NULL;
    if (exts == NULL)
        rc = err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: malformed extension request");
    else if (pos >= 0 && X509v3_get_ext_by_NID(exts, NID_subject_alt_name, pos) >= 0)
        rc = err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR,
                      "csr: more than one subjectAltName extension");
    else if (pos >= 0 && (*out = X509V3_EXT_d2i(X509v3_get_ext(exts, pos))) == NULL)
        rc = err_osslc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: malformed subjectAltName extension");
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    return rc;
}

int csr_read(const unsigned char *data, size_t len, unsigned flags, struct issue_request *r,
             struct err *e)
{
    CSR_DER *csr = NULL;
    GENERAL_NAMES *sans = NULL;
    X509_NAME *subject = NULL;
    EVP_PKEY *key = NULL;
    const unsigned char *bits;
    int bits_len, rc = -1, not_der = 0;

    if (data == NULL || len == 0)
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: empty");
    if (len > CSR_MAX)
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: larger than %d bytes", CSR_MAX);
    if ((csr = csr_decode(data, len, &not_der)) == NULL && not_der)
        return err_setc(e, ERR_INVALID, ERR_CODE_BAD_CSR,
                        "csr: not DER (RFC 2986 §4: BER lengths, a constructed string or bytes "
                        "after it)");
    if (csr == NULL)
        return err_osslc(e, ERR_INVALID, ERR_CODE_BAD_CSR,
                         "csr: not a PKCS#10 request in PEM or DER");
    key = spki_key(csr->info->spki);
    if (csr_check(csr, key, flags, e) != 0 || csr_sans(csr, &sans, e) != 0)
        goto out;
    bits = ASN1_STRING_get0_data(csr->info->spki->key);
    bits_len = ASN1_STRING_length(csr->info->spki->key);
    if ((subject = X509_NAME_dup(csr->info->subject)) == NULL) {
        err_ossl(e, ERR_INTERNAL, "csr: out of memory");
        goto out;
    }
    issue_request_clear(r);
    r->subject = subject;
    r->sans = sans;
    r->pubkey = key;
    /* The SubjectPublicKeyInfo goes into the certificate as it came. */
    r->spki_alg = X509_ALGOR_dup(csr->info->spki->alg);
    r->spki_bits = bits_len > 0 ? OPENSSL_memdup(bits, (size_t)bits_len) : NULL;
    r->spki_bits_len = bits_len;
    if (r->spki_alg == NULL || r->spki_bits == NULL) {
        X509_ALGOR_free(r->spki_alg);
        OPENSSL_free(r->spki_bits);
        r->spki_alg = NULL; /* the certificate is then built from the decoded key */
        r->spki_bits = NULL;
    }
    subject = NULL;
    sans = NULL;
    key = NULL;
    rc = 0;
    ERR_clear_error();
out:
    GENERAL_NAMES_free(sans);
    EVP_PKEY_free(key);
    CSR_DER_free(csr);
    return rc;
}
X509_REQ *csr_build(X509_NAME *subject, EVP_PKEY *pub, EVP_PKEY *signing_key, struct err *e)
{
    X509_REQ *req = NULL, *result = NULL;
    struct key_info ki;

    key_describe(pub, &ki);
    if (ki.kind == KT_NONE)
        return err_set(e, ERR_INVALID, "key: %s not supported", ki.name), NULL;
    if ((req = X509_REQ_new()) == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req, subject) != 1 || X509_REQ_set_pubkey(req, pub) != 1) {
        err_ossl(e, ERR_INTERNAL, "csr: cannot build");
        goto out;
    }
    if (X509_REQ_sign(req, signing_key, sign_digest(pub, "auto")) <= 0) {
        err_ossl(e, ERR_INTERNAL, "csr: signing failed");
        goto out;
    }
    if (X509_REQ_verify(req, pub) != 1) {
        err_ossl(e, ERR_INTERNAL, "csr: the signing key does not match the public key");
        goto out;
    }
    result = req;
    req = NULL;
out:
    X509_REQ_free(req);
    return result;
}
