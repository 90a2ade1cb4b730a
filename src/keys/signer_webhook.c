/*
 * signer_webhook.c — webhook secrets, kept out of the network process and
 * out of the database.
 *
 * A tenant's webhook secret is derived, inside the signer, from a signature:
 * secret = "whsec_" + hex(SHA-256(sig)), sig being the RSA PKCS#1 v1.5
 * signature (deterministic) by a key of the tenant (RSA, made for its
 * webhook) of tbs_webhook_secret_encode(tenant, nonce).  The database keeps
 * only the key id and the random nonce.  tbs_kind() does not know that
 * structure, so W_SIGN refuses to sign it: the secret can be made only here.
 *
 *   W_WEBHOOK_NEW  T_TENANT, T_KEY_ID  ->  T_BLOB (a new random nonce),
 *                  T_MESSAGE (its secret: the network process shows it once)
 *   W_WEBHOOK_MAC  T_TENANT, T_KEY_ID, T_BLOB (nonce), T_DATA  ->
 *                  T_SIGNATURE (HMAC-SHA256 of the data under the secret)
 *
 * The network process can have a payload MACed (that is its job), never
 * learn an existing webhook's secret: a new one comes with a new nonce.
 */
#include "keys/signer_internal.h"
#include "keys/tbs.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define NONCE_LEN 32

/* The signature of der by the request's key (store or OpenSSL); *sig caller frees. */
static int sign_der(struct req *r, EVP_PKEY *k, const unsigned char *der, size_t len,
                    unsigned char **sig, size_t *sig_len)
{
    EVP_MD_CTX *ctx;
    int ok;

    if (signer_store_signs())
        return signer_store_sign(r, "SHA256", der, len, sig, sig_len);
    if ((ctx = EVP_MD_CTX_new()) == NULL)
        return err_set(&r->err, ERR_INTERNAL, "signer: out of memory");
    ok = EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k, NULL) == 1 &&
         EVP_DigestSign(ctx, NULL, sig_len, der, len) == 1 && (*sig = xmalloc(*sig_len)) &&
         EVP_DigestSign(ctx, *sig, sig_len, der, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return err_ossl(&r->err, ERR_INTERNAL, "signer: webhook key cannot sign");
    return 0;
}

/* The secret of (the request's tenant and key, nonce) into secret (NUL-terminated text). */
static int derive(struct req *r, const unsigned char nonce[NONCE_LEN],
                  char secret[6 + 2 * SHA256_DIGEST_LENGTH + 1])
{
    char *tenant = wire_get_str(r->body, r->len, T_TENANT, 1024), *hex;
    unsigned char *der = NULL, *sig = NULL, md[SHA256_DIGEST_LENGTH];
    size_t der_len = 0, sig_len = 0;
    EVP_PKEY *k = NULL;
    int rc = -1;

    if (tenant == NULL) {
        err_set(&r->err, ERR_INVALID, "signer: tenant missing or invalid");
        goto out;
    }
    if ((k = signer_req_key(r)) == NULL)
        goto out;
    /* RSA PKCS#1 v1.5 signs deterministically: the same secret every time. */
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
        err_set(&r->err, ERR_INVALID, "signer: a webhook key must be an RSA key");
        goto out;
    }
    if (tbs_webhook_secret_encode(tenant, nonce, &der, &der_len) != 0) {
        err_set(&r->err, ERR_INTERNAL, "signer: cannot encode the webhook secret input");
        goto out;
    }
    if (sign_der(r, k, der, der_len, &sig, &sig_len) != 0)
        goto out;
    SHA256(sig, sig_len, md);
    hex = hex_encode(md, sizeof(md));
    snprintf(secret, 6 + 2 * SHA256_DIGEST_LENGTH + 1, "whsec_%s", hex);
    secure_zero(hex, strlen(hex));
    free(hex);
    secure_zero(md, sizeof(md));
    rc = 0;
out:
    if (sig != NULL)
        secure_zero(sig, sig_len);
    free(sig);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    free(tenant);
    return rc;
}

int signer_h_webhook_new(struct req *r)
{
    unsigned char nonce[NONCE_LEN];
    char secret[6 + 2 * SHA256_DIGEST_LENGTH + 1];

    if (random_bytes(nonce, sizeof(nonce)) != 0)
        return err_set(&r->err, ERR_INTERNAL, "signer: no randomness");
    if (derive(r, nonce, secret) != 0)
        return -1;
    wire_put(&r->out, T_BLOB, nonce, sizeof(nonce));
    wire_put_str(&r->out, T_MESSAGE, secret);
    secure_zero(secret, sizeof(secret));
    return 0;
}

int signer_h_webhook_mac(struct req *r)
{
    const unsigned char *nonce = NULL, *data = NULL;
    size_t nonce_len = 0, len = 0;
    char secret[6 + 2 * SHA256_DIGEST_LENGTH + 1];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int ok;

    if (wire_get(r->body, r->len, T_BLOB, 0, &nonce, &nonce_len) != 0 || nonce_len != NONCE_LEN ||
        wire_get(r->body, r->len, T_DATA, 0, &data, &len) != 0)
        return err_set(&r->err, ERR_INVALID, "signer: nonce or data missing");
    if (derive(r, nonce, secret) != 0)
        return -1;
    ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), data, len, mac, &mac_len) != NULL;
    secure_zero(secret, sizeof(secret));
    if (!ok)
        return err_ossl(&r->err, ERR_INTERNAL, "signer: HMAC failed");
    wire_put(&r->out, T_SIGNATURE, mac, mac_len);
    return 0;
}
