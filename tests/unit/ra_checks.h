/*
 * ra_checks.h — the signer's RA operations (SCEP), checked the same way for
 * every key store (test_keys.c: software, test_keys_p11.c: SoftHSM2).
 * Included by one test file each; needs cmocka, keys.h and signer_internal.h.
 */
#ifndef VOUCH_TEST_RA_CHECKS_H
#define VOUCH_TEST_RA_CHECKS_H

#include <openssl/pkcs7.h>
#include <openssl/rsa.h>

/* in encrypted to pub with RSA PKCS#1 v1.5 (as a SCEP client wraps its content key). */
static unsigned char *ra_wrap(EVP_PKEY *pub, const unsigned char *in, size_t len, size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    unsigned char *out;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    assert_int_equal(EVP_PKEY_encrypt(ctx, NULL, out_len, in, len), 1);
    out = malloc(*out_len);
    assert_int_equal(EVP_PKEY_encrypt(ctx, out, out_len, in, len), 1);
    EVP_PKEY_CTX_free(ctx);
    return out;
}

/* The DER SET OF Attribute a CertRep signs: messageType type, pkiStatus "0". */
static unsigned char *ra_attrs(const char *type, int *len)
{
    STACK_OF(X509_ATTRIBUTE) *sk = NULL;
    unsigned char *der = NULL;

    assert_non_null(X509at_add1_attr_by_txt(&sk, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING,
                                            (const unsigned char *)type, (int)strlen(type)));
    assert_non_null(X509at_add1_attr_by_txt(&sk, "2.16.840.1.113733.1.9.3", V_ASN1_PRINTABLESTRING,
                                            (const unsigned char *)"0", 1));
    *len = ASN1_item_i2d((ASN1_VALUE *)sk, &der, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
    assert_true(*len > 0);
    sk_X509_ATTRIBUTE_pop_free(sk, X509_ATTRIBUTE_free);
    return der;
}

static int ra_signs(struct signer *s, const char *id, const unsigned char *der, int len,
                    EVP_PKEY *pub)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    struct err e;
    int rc = signer_sign(s, "alpha", id, "SHA256", der, (size_t)len, &sig, &sig_len, &e);

    if (rc == 0) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
        assert_int_equal(EVP_DigestVerify(md, sig, sig_len, der, (size_t)len), 1);
        EVP_MD_CTX_free(md);
    } else if (e.kind != ERR_FORBIDDEN && e.kind != ERR_INVALID) {
        fail_msg("signer_sign: %s", e.msg);
    }
    free(sig);
    return rc == 0;
}

/*
 * An RA key (purpose "ra") opens a content key wrapped to it and signs a
 * CertRep's attributes; a wrapped key that does not decrypt, or decrypts to
 * another length, gives random bytes of the length asked for (no padding
 * oracle); a CA key does neither.
 */
static void ra_key_decrypts_and_signs_only_scep(struct signer *s)
{
    unsigned char cek[32], got[32], other[32], *wrapped, *bad, *attrs, *request;
    size_t wrapped_len = 0;
    int attrs_len = 0, request_len = 0;
    EVP_PKEY *pub = NULL, *ca_pub = NULL;
    char *id = NULL, *ca_id = NULL;
    struct err e;

    assert_int_equal(signer_keygen_for(s, "alpha", KEY_RSA_2048, KEY_PURPOSE_RA, &id, &pub, &e), 0);
    assert_int_equal(
        signer_keygen_for(s, "alpha", KEY_RSA_2048, KEY_PURPOSE_CA, &ca_id, &ca_pub, &e), 0);
    assert_int_equal(random_bytes(cek, sizeof(cek)), 0);
    wrapped = ra_wrap(pub, cek, sizeof(cek), &wrapped_len);
    if (signer_ra_decrypt(s, "alpha", id, wrapped, wrapped_len, got, sizeof(got), &e) != 0)
        fail_msg("signer_ra_decrypt: %s", e.msg);
    assert_memory_equal(got, cek, sizeof(cek));
    /* 16 bytes asked for, 32 carried: random bytes, not an error and not the key. */
    assert_int_equal(signer_ra_decrypt(s, "alpha", id, wrapped, wrapped_len, got, 16, &e), 0);
    assert_memory_not_equal(got, cek, 16);
    /* A damaged ciphertext: random bytes, twice different. */
    bad = malloc(wrapped_len);
    memcpy(bad, wrapped, wrapped_len);
    bad[wrapped_len / 2] ^= 0x5a;
    assert_int_equal(signer_ra_decrypt(s, "alpha", id, bad, wrapped_len, got, sizeof(got), &e), 0);
    assert_int_equal(signer_ra_decrypt(s, "alpha", id, bad, wrapped_len, other, sizeof(other), &e),
                     0);
    assert_memory_not_equal(got, cek, sizeof(cek));
    assert_memory_not_equal(got, other, sizeof(got));
    /* Another tenant's key, a CA key, oversized input: refused. */
    assert_int_equal(signer_ra_decrypt(s, "beta", id, wrapped, wrapped_len, got, 32, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    free(wrapped);
    wrapped = ra_wrap(ca_pub, cek, sizeof(cek), &wrapped_len);
    assert_int_equal(signer_ra_decrypt(s, "alpha", ca_id, wrapped, wrapped_len, got, 32, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(signer_ra_decrypt(s, "alpha", id, bad, 0, got, 32, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    {
        /* A key with no purpose yet (signs as before purposes existed) decrypts nothing. */
        char *none_id = NULL;
        EVP_PKEY *none_pub = NULL;
        unsigned char *w;
        size_t w_len = 0;
        assert_int_equal(signer_keygen(s, "alpha", KEY_RSA_2048, &none_id, &none_pub, &e), 0);
        w = ra_wrap(none_pub, cek, sizeof(cek), &w_len);
        assert_int_equal(signer_ra_decrypt(s, "alpha", none_id, w, w_len, got, 32, &e), -1);
        assert_int_equal(e.kind, ERR_FORBIDDEN);
        free(w);
        free(none_id);
        EVP_PKEY_free(none_pub);
    }
    /* A CertRep's attributes: the RA key signs them, a CA key does not; a request's: no one. */
    attrs = ra_attrs("3", &attrs_len);
    request = ra_attrs("19", &request_len);
    assert_true(ra_signs(s, id, attrs, attrs_len, pub));
    assert_false(ra_signs(s, ca_id, attrs, attrs_len, ca_pub));
    assert_false(ra_signs(s, id, request, request_len, pub));
    OPENSSL_free(attrs);
    OPENSSL_free(request);
    free(wrapped);
    free(bad);
    free(id);
    free(ca_id);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(ca_pub);
}

#endif
