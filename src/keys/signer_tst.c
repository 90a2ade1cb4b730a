/*
 * signer_tst.c — W_SIGN_TST in the signer process: the CMS SignedData of an
 * RFC 3161 time-stamp token, made with the real key.
 *
 * OpenSSL 3.0's CMS and TS signers accept only keys of its own key types, so
 * a remote key cannot drive them; the signer builds the token itself.  It
 * agrees only when the content is, in whole, a TSTInfo (tbs.c), the digest
 * is SHA-2, and the certificate it is given is a time-stamping certificate
 * (critical EKU id-kp-timeStamping, and nothing else) of the very key asked
 * for.  Certificates that passed are kept parsed, keyed by a hash of
 * (tenant, key id, certificate, chain), so a token costs one parse of the
 * TSTInfo and one signature.
 *
 * Request: T_TENANT, T_KEY_ID, T_DIGEST, T_DATA (TSTInfo DER), T_CERT (the
 * TSA certificate), T_CHAIN (optional: concatenated DER certificates),
 * T_FLAGS (u64, SIGNER_TST_*).  Reply: T_DATA, the ContentInfo DER.
 *
 * A key store that signs by itself (PKCS#11) gives OpenSSL only the public
 * key, which CMS cannot sign with: there the SignerInfo is made without a
 * signature, its signed attributes (content type, message digest, signing
 * certificate) are DER-encoded as RFC 5652 §5.4 says, the token signs them,
 * and the signature is put in.
 */
#include "keys/signer_internal.h"
#include "keys/tbs.h"

#include <pthread.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/x509v3.h>

#include "lib/log.h"

#define CACHE_SLOTS 64

struct tst_certs {
    unsigned char id[32]; /* SHA-256 of tenant, key id, certificate and chain */
    X509 *cert;
    STACK_OF(X509) * chain;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tst_certs cache[CACHE_SLOTS];
static int cache_next;

/* The request's fields the certificates are keyed by. */
struct tst_fields {
    const unsigned char *cert, *chain;
    size_t cert_len, chain_len;
};

static void certs_id(struct req *r, const struct tst_fields *f, unsigned char id[32])
{
    const unsigned char *tenant, *key_id;
    size_t tl = 0, kl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char zero = 0;
    unsigned int n = 0;

    wire_get(r->body, r->len, T_TENANT, 0, &tenant, &tl);
    wire_get(r->body, r->len, T_KEY_ID, 0, &key_id, &kl);
    /* Lengths go in too, so that no two requests hash alike. */
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, &tl, sizeof(tl)) != 1 || EVP_DigestUpdate(md, tenant, tl) != 1 ||
        EVP_DigestUpdate(md, &kl, sizeof(kl)) != 1 || EVP_DigestUpdate(md, key_id, kl) != 1 ||
        EVP_DigestUpdate(md, &f->cert_len, sizeof(size_t)) != 1 ||
        EVP_DigestUpdate(md, f->cert, f->cert_len) != 1 ||
        EVP_DigestUpdate(md, &f->chain_len, sizeof(size_t)) != 1 ||
        EVP_DigestUpdate(md, f->chain_len ? f->chain : &zero, f->chain_len) != 1 ||
        EVP_DigestFinal_ex(md, id, &n) != 1)
        abort(); /* SHA-256 is always there */
    EVP_MD_CTX_free(md);
}

/* New references to the cached certificates of id; 0 if found. */
static int cache_find(const unsigned char id[32], X509 **cert, STACK_OF(X509) * *chain)
{
    int found = 0;

    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS && !found; i++)
        if (cache[i].cert != NULL && memcmp(cache[i].id, id, 32) == 0) {
            X509_up_ref(cache[i].cert);
            *cert = cache[i].cert;
            *chain = X509_chain_up_ref(cache[i].chain);
            found = 1;
        }
    pthread_mutex_unlock(&cache_lock);
    return found ? 0 : -1;
}

static void cache_add(const unsigned char id[32], X509 *cert, STACK_OF(X509) * chain)
{
    struct tst_certs *c;

    pthread_mutex_lock(&cache_lock);
    c = &cache[cache_next];
    cache_next = (cache_next + 1) % CACHE_SLOTS;
    X509_free(c->cert);
    sk_X509_pop_free(c->chain, X509_free);
    memcpy(c->id, id, 32);
    X509_up_ref(cert);
    c->cert = cert;
    c->chain = X509_chain_up_ref(chain);
    pthread_mutex_unlock(&cache_lock);
}

/* Whether cert is a TSA certificate: EKU present, critical, id-kp-timeStamping only. */
static int is_tsa_cert(X509 *cert)
{
    int i = X509_get_ext_by_NID(cert, NID_ext_key_usage, -1);

    return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, i)) &&
           (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) &&
           X509_get_extended_key_usage(cert) == XKU_TIMESTAMP;
}

/* Parses and checks the request's certificates against k; 0 ok, -1 with r->err. */
static int certs_parse(struct req *r, EVP_PKEY *k, const struct tst_fields *f, X509 **cert_out,
                       STACK_OF(X509) * *chain_out)
{
    const unsigned char *p = f->cert, *end = f->chain + f->chain_len;
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *cert = d2i_X509(NULL, &p, (long)f->cert_len), *x;

    if (cert == NULL || p != f->cert + f->cert_len || !is_tsa_cert(cert) ||
        X509_check_private_key(cert, k) != 1) {
        err_set(&r->err, ERR_INVALID,
                "signer: the certificate is not a time-stamping certificate of this key");
        log_warn("signer: refused a token: certificate is not a TSA certificate of the key");
        goto fail;
    }
    for (p = f->chain; f->chain_len > 0 && p < end;) {
        if ((x = d2i_X509(NULL, &p, (long)(end - p))) == NULL) {
            err_set(&r->err, ERR_INVALID, "signer: the chain does not parse");
            goto fail;
        }
        sk_X509_push(chain, x);
    }
    *cert_out = cert;
    *chain_out = chain;
    return 0;
fail:
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    return -1;
}

/* Adds the signingCertificateV2 attribute (RFC 5816: ESSCertIDv2, SHA-256) for cert. */
static int add_signing_cert(CMS_SignerInfo *si, X509 *cert)
{
    ESS_SIGNING_CERT_V2 *sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 1);
    unsigned char *der = NULL;
    int n = sc ? i2d_ESS_SIGNING_CERT_V2(sc, &der) : -1, ok;

    ok = n > 0 && CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2,
                                              V_ASN1_SEQUENCE, der, n) == 1;
    OPENSSL_free(der);
    ESS_SIGNING_CERT_V2_free(sc);
    return ok ? 0 : -1;
}

/* The signed attributes as DER signs them: a SET OF Attribute in DER order (RFC 5652 §5.4). */
typedef STACK_OF(X509_ATTRIBUTE) SIGNED_ATTRS;
DECLARE_ASN1_ITEM(SIGNED_ATTRS)
ASN1_ITEM_TEMPLATE(SIGNED_ATTRS) = ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_ORDER, 0, SignedAttrs,
                                                         X509_ATTRIBUTE)
    ASN1_ITEM_TEMPLATE_END(SIGNED_ATTRS)

    /*
     * Completes si with the key store's signature: the content type and message
     * digest attributes, then the signature over the DER of the signed
     * attributes; the content goes into the SignedData.  0 ok.
     */
    static int sign_in_store(struct req * r, CMS_ContentInfo *cms, CMS_SignerInfo *si,
                             const char *md, const unsigned char *tst, size_t len)
{
    const EVP_MD *digest = EVP_get_digestbyname(md);
    unsigned char hash[EVP_MAX_MD_SIZE], *der = NULL, *sig = NULL;
    unsigned int hash_len = 0;
    SIGNED_ATTRS *attrs = sk_X509_ATTRIBUTE_new_null();
    ASN1_OCTET_STRING **content = CMS_get0_content(cms);
    size_t sig_len = 0;
    int der_len = -1, ok;

    ok = digest != NULL && attrs != NULL && content != NULL &&
         EVP_Digest(tst, len, hash, &hash_len, digest, NULL) == 1 &&
         CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                     OBJ_nid2obj(NID_id_smime_ct_TSTInfo), -1) == 1 &&
         CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, hash,
                                     (int)hash_len) == 1;
    for (int i = 0; ok && i < CMS_signed_get_attr_count(si); i++)
        ok = sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)) > 0;
    if (ok)
        der_len = ASN1_item_i2d((ASN1_VALUE *)attrs, &der, ASN1_ITEM_rptr(SIGNED_ATTRS));
    sk_X509_ATTRIBUTE_free(attrs); /* the attributes belong to si */
    if (der_len <= 0) {
        OPENSSL_free(der);
        return err_ossl(&r->err, ERR_INTERNAL, "signer: the signed attributes cannot be made");
    }
    if (signer_store_sign(r, md, der, (size_t)der_len, &sig, &sig_len) != 0) {
        OPENSSL_free(der);
        return -1;
    }
    OPENSSL_free(der);
    if (*content == NULL)
        *content = ASN1_OCTET_STRING_new();
    ok = *content != NULL && ASN1_OCTET_STRING_set(*content, tst, (int)len) == 1 &&
         ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len) == 1;
    free(sig);
    return ok ? 0 : err_ossl(&r->err, ERR_INTERNAL, "signer: the token cannot be made");
}

/* The SignedData of tst (eContentType id-ct-TSTInfo) as ContentInfo DER into the reply. */
static int token_build(struct req *r, EVP_PKEY *k, X509 *cert, STACK_OF(X509) * chain,
                       const char *md, const unsigned char *tst, size_t len, uint64_t flags)
{
    unsigned int f = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
    const EVP_MD *digest = md[0] ? EVP_get_digestbyname(md) : NULL;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, f);
    BIO *in = BIO_new_mem_buf(tst, (int)len);
    CMS_SignerInfo *si = NULL;
    unsigned char *der = NULL;
    int ok, n = -1;

    ok = cms != NULL && in != NULL &&
         CMS_set1_eContentType(cms, OBJ_nid2obj(NID_id_smime_ct_TSTInfo)) == 1 &&
         (si = CMS_add1_signer(cms, cert, k, digest,
                               f | (flags & SIGNER_TST_CERTS ? 0 : CMS_NOCERTS))) != NULL &&
         add_signing_cert(si, cert) == 0;
    for (int i = 0; ok && flags & SIGNER_TST_CERTS && i < sk_X509_num(chain); i++)
        ok = CMS_add1_cert(cms, sk_X509_value(chain, i)) == 1;
    if (ok && signer_store_signs()) {
        if (sign_in_store(r, cms, si, md, tst, len) == 0)
            n = i2d_CMS_ContentInfo(cms, &der);
    } else if (ok && CMS_final(cms, in, NULL, CMS_BINARY) == 1) {
        n = i2d_CMS_ContentInfo(cms, &der);
    }
    if (n > 0)
        wire_put(&r->out, T_DATA, der, (size_t)n);
    else if (r->err.kind == ERR_NONE)
        err_ossl(&r->err, ERR_INTERNAL, "signer: the token cannot be made");
    OPENSSL_free(der);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    return n > 0 ? 0 : -1;
}

/* The request's digest, TSTInfo and certificate fields; 0 ok, -1 with r->err. */
static int tst_fields(struct req *r, const char *md, const unsigned char **tst, size_t *tst_len,
                      struct tst_fields *f, uint64_t *flags)
{
    memset(f, 0, sizeof(*f));
    *flags = 0;
    if (md == NULL || wire_get(r->body, r->len, T_DATA, 0, tst, tst_len) != 0 ||
        wire_get(r->body, r->len, T_CERT, 0, &f->cert, &f->cert_len) != 0)
        return err_set(&r->err, ERR_INVALID,
                       "signer: digest, TSTInfo or certificate "
                       "missing");
    if (wire_get(r->body, r->len, T_CHAIN, 0, &f->chain, &f->chain_len) != 0)
        f->chain = f->cert + f->cert_len, f->chain_len = 0;
    wire_get_u64(r->body, r->len, T_FLAGS, flags);
    if (!signer_digest_allowed(md)) {
        log_warn("signer: refused a token with a digest other than SHA-2");
        return err_set(&r->err, ERR_INVALID, "signer: digest must be SHA-256/384/512");
    }
    if (!tbs_is_tst_info(*tst, *tst_len)) {
        log_warn("signer: refused a token whose content (%zu bytes) is not a TSTInfo", *tst_len);
        return err_set(&r->err, ERR_INVALID, "signer: the content is not a TSTInfo");
    }
    return 0;
}

int signer_h_sign_tst(struct req *r)
{
    char *md = wire_get_str(r->body, r->len, T_DIGEST, 32);
    STACK_OF(X509) *chain = NULL;
    const unsigned char *tst;
    struct tst_fields f;
    unsigned char id[32];
    EVP_PKEY *k = NULL;
    X509 *cert = NULL;
    uint64_t flags;
    size_t tst_len;
    int rc = -1;

    if (tst_fields(r, md, &tst, &tst_len, &f, &flags) != 0 ||
        signer_req_bind_check(r, "TSTInfo", tst, tst_len) != 0 || (k = signer_req_key(r)) == NULL)
        goto out;
    certs_id(r, &f, id);
    if (cache_find(id, &cert, &chain) != 0) {
        if (certs_parse(r, k, &f, &cert, &chain) != 0)
            goto out;
        cache_add(id, cert, chain);
    }
    rc = token_build(r, k, cert, chain, md, tst, tst_len, flags);
out:
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(k);
    free(md);
    return rc;
}
