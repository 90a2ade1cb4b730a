/*
 * csr.c — PKCS#10 certificate requests (RFC 2986): reading a requester's CSR
 * with its proof of possession, and making one for a CA whose certificate
 * comes from an outside CA.
 */
#include "core/core_internal.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define CSR_MAX (64 * 1024)

static int looks_like_pem(const unsigned char *data, size_t len)
{
    static const char begin[] = "-----BEGIN";
    size_t i = 0;

    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    return len - i >= sizeof(begin) - 1 && memcmp(data + i, begin, sizeof(begin) - 1) == 0;
}

static X509_REQ *csr_decode(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    X509_REQ *req;
    BIO *bio;

    if (looks_like_pem(data, len)) {
        if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
            return NULL;
        req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
        BIO_free(bio);
        return req;
    }
    req = d2i_X509_REQ(NULL, &p, (long)len);
    if (req != NULL && p != data + len) {
        X509_REQ_free(req); /* trailing bytes after the DER */
        return NULL;
    }
    return req;
}

/* MD2, MD4 and MD5 signatures prove nothing. */
static int csr_digest_weak(const X509_REQ *req)
{
    int md = NID_undef, pk = NID_undef;

    if (!OBJ_find_sigid_algs(X509_REQ_get_signature_nid(req), &md, &pk))
        return 0;
    return md == NID_md2 || md == NID_md4 || md == NID_md5;
}

static int csr_check(X509_REQ *req, struct err *e)
{
    EVP_PKEY *key = X509_REQ_get0_pubkey(req);
    struct key_info ki;
    char why[160];

    if (X509_REQ_get_version(req) != X509_REQ_VERSION_1)
        return err_set(e, 400, ERR_BAD_CSR, "csr: version must be v1 (0)");
    if (key == NULL)
        return err_ossl(e, 400, ERR_BAD_CSR, "csr: the public key cannot be decoded");
    key_describe(key, &ki);
    if (key_check_strength(key, &ki, why, sizeof(why)) != 0)
        return err_set(e, 400, ERR_BAD_CSR, "csr: key: %s", why);
    if (csr_digest_weak(req))
        return err_set(e, 400, ERR_BAD_CSR, "csr: signed with a broken digest (MD2/MD4/MD5)");
    if (X509_REQ_verify(req, key) != 1)
        return err_ossl(e, 400, ERR_BAD_CSR, "csr: the signature does not verify");
    return 0;
}

X509_REQ *csr_parse(const unsigned char *data, size_t len, struct err *e)
{
    X509_REQ *req;

    if (data == NULL || len == 0)
        return err_set(e, 400, ERR_BAD_CSR, "csr: empty"), NULL;
    if (len > CSR_MAX)
        return err_set(e, 400, ERR_BAD_CSR, "csr: larger than %d bytes", CSR_MAX), NULL;
    if ((req = csr_decode(data, len)) == NULL)
        return err_ossl(e, 400, ERR_BAD_CSR, "csr: not a PKCS#10 request in PEM or DER"), NULL;
    if (csr_check(req, e) != 0) {
        X509_REQ_free(req);
        return NULL;
    }
    ERR_clear_error();
    return req;
}

X509_REQ *csr_build(X509_NAME *subject, EVP_PKEY *pub, EVP_PKEY *signing_key, struct err *e)
{
    X509_REQ *req = NULL, *result = NULL;
    struct key_info ki;

    key_describe(pub, &ki);
    if (ki.kind == KT_NONE)
        return err_set(e, 400, ERR_BAD_REQUEST, "key: %s not supported", ki.name), NULL;
    if ((req = X509_REQ_new()) == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req, subject) != 1 || X509_REQ_set_pubkey(req, pub) != 1) {
        err_ossl(e, 500, ERR_INTERNAL, "csr: cannot build");
        goto out;
    }
    if (X509_REQ_sign(req, signing_key, sign_digest(pub, "auto")) <= 0) {
        err_ossl(e, 500, ERR_INTERNAL, "csr: signing failed");
        goto out;
    }
    if (X509_REQ_verify(req, pub) != 1) {
        err_ossl(e, 500, ERR_INTERNAL, "csr: the signing key does not match the public key");
        goto out;
    }
    result = req;
    req = NULL;
out:
    X509_REQ_free(req);
    return result;
}
