/*
 * alg.c — the JWS algorithms of ACME (RFC 7518 §3, RFC 8037 §3.1): which key
 * each needs, signature verification, and the HMACs of external account
 * binding.
 */
#include "acme/acme_internal.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

static const struct alg_info {
    enum acme_alg alg;
    const char *name;
    const char *digest;     /* NULL for EdDSA (no prehash) */
    size_t sig_len;         /* 0: the RSA modulus length */
    enum acme_key_kind key; /* what an account algorithm needs */
    int mac;                /* an HMAC, for external account binding */
} algs[] = {
    {ACME_ALG_ES256, "ES256", "SHA256", 64, ACME_KEY_P256, 0},
    {ACME_ALG_ES384, "ES384", "SHA384", 96, ACME_KEY_P384, 0},
    {ACME_ALG_RS256, "RS256", "SHA256", 0, ACME_KEY_RSA, 0},
    {ACME_ALG_EDDSA, "EdDSA", NULL, 64, ACME_KEY_ED25519, 0},
    {ACME_ALG_HS256, "HS256", "SHA256", 32, ACME_KEY_OTHER, 1},
    {ACME_ALG_HS384, "HS384", "SHA384", 48, ACME_KEY_OTHER, 1},
    {ACME_ALG_HS512, "HS512", "SHA512", 64, ACME_KEY_OTHER, 1},
};

static const struct alg_info *alg_info(enum acme_alg a)
{
    for (size_t i = 0; i < ARRAY_LEN(algs); i++)
        if (algs[i].alg == a)
            return &algs[i];
    return NULL;
}

const char *acme_alg_name(enum acme_alg a)
{
    const struct alg_info *i = alg_info(a);

    return i ? i->name : "unknown";
}

enum acme_alg alg_parse(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(algs); i++)
        if (strcmp(algs[i].name, name) == 0)
            return algs[i].alg;
    return ACME_ALG_UNKNOWN;
}

int alg_is_account(enum acme_alg a)
{
    const struct alg_info *i = alg_info(a);

    return i != NULL && !i->mac;
}

int alg_is_mac(enum acme_alg a)
{
    const struct alg_info *i = alg_info(a);

    return i != NULL && i->mac;
}

size_t alg_sig_len(enum acme_alg a)
{
    const struct alg_info *i = alg_info(a);

    return i ? i->sig_len : 0;
}

json_t *acme_jws_algorithms(void)
{
    json_t *list = json_array();

    for (size_t i = 0; i < ARRAY_LEN(algs); i++)
        if (!algs[i].mac)
            json_array_append_new(list, json_string(algs[i].name));
    return list;
}

int alg_key_check(enum acme_alg a, const EVP_PKEY *key, struct err *e)
{
    const struct alg_info *i = alg_info(a);

    if (i == NULL || i->mac || acme_key_kind(key) != i->key)
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG,
                        "jws: \"alg\" %s does not suit a %s key (RFC 7518 §3.1, RFC 8037 §3.1; "
                        "RS256: RSA, ES256: P-256, ES384: P-384, EdDSA: Ed25519)",
                        acme_alg_name(a), key ? EVP_PKEY_get0_type_name(key) : "missing");
    return 0;
}

/* r || s of len bytes (RFC 7518 §3.4) as a DER ECDSA-Sig-Value in *der (OPENSSL_free); its length,
 * or -1. */
static int ecdsa_der(const unsigned char *sig, size_t len, unsigned char **der)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
    BIGNUM *sv = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    int n = -1;

    if (s != NULL && r != NULL && sv != NULL && ECDSA_SIG_set0(s, r, sv) == 1) {
        r = sv = NULL; /* owned by s */
        n = i2d_ECDSA_SIG(s, der);
    }
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    return n > 0 ? n : -1;
}

/* EVP_DigestVerify under digest (NULL for EdDSA): 1 verifies, 0 does not, -1 an OpenSSL fault. */
static int evp_verify(EVP_PKEY *key, const char *digest, const unsigned char *tbs, size_t tbs_len,
                      const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = -1;

    if (ctx != NULL && EVP_DigestVerifyInit_ex(ctx, &pctx, digest, NULL, NULL, key, NULL) == 1 &&
        (!EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1))
        rc = EVP_DigestVerify(ctx, sig, sig_len, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(ctx);
    return rc;
}

int alg_verify(enum acme_alg a, EVP_PKEY *key, const unsigned char *tbs, size_t tbs_len,
               const unsigned char *sig, size_t sig_len, struct err *e)
{
    const struct alg_info *i = alg_info(a);
    unsigned char *der = NULL;
    int der_len = 0, rc;
    size_t want;

    if (i == NULL || i->mac)
        return err_setc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jws: no account algorithm");
    want = i->sig_len ? i->sig_len : (size_t)EVP_PKEY_get_size(key);
    if (sig_len != want)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: an %s signature is %zu bytes, not %zu (%s)", i->name, want, sig_len,
                        a == ACME_ALG_RS256   ? "RFC 7518 §3.3, RFC 8017 §8.2.2"
                        : a == ACME_ALG_EDDSA ? "RFC 8037 §3.1, RFC 8032 §5.1.7"
                                              : "RFC 7518 §3.4: r || s");
    if (i->key == ACME_KEY_P256 || i->key == ACME_KEY_P384) {
        if ((der_len = ecdsa_der(sig, sig_len, &der)) < 0)
            return err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL,
                             "jws: cannot encode the ECDSA signature");
        rc = evp_verify(key, i->digest, tbs, tbs_len, der, (size_t)der_len);
        OPENSSL_free(der);
    } else {
        rc = evp_verify(key, i->digest, tbs, tbs_len, sig, sig_len);
    }
    if (rc < 0)
        return err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL,
                         "jws: cannot verify an %s signature", i->name);
    ERR_clear_error();
    if (rc == 0)
        return err_setc(e, ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED,
                        "jws: the %s signature does not verify with the key (RFC 7515 §5.2)",
                        i->name);
    return 0;
}

int alg_hmac(enum acme_alg a, const unsigned char *key, size_t key_len, const unsigned char *data,
             size_t len, unsigned char *out, size_t *out_len, struct err *e)
{
    const struct alg_info *i = alg_info(a);

    if (i == NULL || !i->mac)
        return err_setc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "eab: not a MAC algorithm");
    if (EVP_Q_mac(NULL, "HMAC", NULL, i->digest, NULL, key, key_len, data, len, out,
                  EVP_MAX_MD_SIZE, out_len) == NULL)
        return err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "eab: %s failed", i->name);
    return 0;
}
