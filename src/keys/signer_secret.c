/*
 * signer_secret.c — secrets derived inside the signer, kept out of the
 * network process and out of the database: webhook secrets and the HMAC keys
 * of ACME External Account Bindings.
 *
 * A secret is derived from a signature: SHA-256(sig), sig being the RSA
 * PKCS#1 v1.5 signature (deterministic: the same every time, and from either
 * of two tokens holding the key) by an RSA key of the tenant over a DER
 * structure that names the purpose, the tenant and a random nonce (tbs.h).
 * The database keeps only the key id and the nonce.  tbs_kind() refuses
 * these structures (tbs_is_secret_input), so W_SIGN never signs them: a
 * secret can be made only here.  Each purpose has a structure of its own, so
 * an EAB key never equals a webhook secret's material:
 *
 *   webhook  secret = "whsec_" + hex(SHA-256(sig)), sig over
 *            tbs_webhook_secret_encode(tenant, nonce)
 *   EAB      key = SHA-256(sig) (32 bytes), sig over
 *            tbs_eab_key_encode(tenant, endpoint, kid, nonce)
 *
 *   W_WEBHOOK_NEW  T_TENANT, T_KEY_ID  ->  T_BLOB (a new random nonce),
 *                  T_MESSAGE (its secret: the network process shows it once)
 *   W_WEBHOOK_MAC  T_TENANT, T_KEY_ID, T_BLOB (nonce), T_DATA  ->
 *                  T_SIGNATURE (HMAC-SHA256 of the data under the secret)
 *   W_EAB_NEW      T_TENANT, T_KEY_ID, T_ENDPOINT, T_KID  ->  T_BLOB (a new
 *                  random nonce), T_SECRET (the key: shown once)
 *   W_EAB_MAC      T_TENANT, T_KEY_ID, T_ENDPOINT, T_KID, T_BLOB (nonce),
 *                  T_DIGEST (SHA256, SHA384, SHA512), T_DATA  ->  T_SIGNATURE
 *                  (HMAC of the data under the key)
 *
 * The network process can have data MACed (its job: signing webhook
 * deliveries, checking a binding's MAC), never learn an existing secret: a
 * new one always comes with a new nonce made here.
 */
#include "keys/signer_internal.h"
#include "keys/tbs.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define NONCE_LEN      32
#define NAME_MAX_BYTES 256 /* an endpoint's name or a kid */
#define WEBHOOK_LEN    (6 + 2 * SHA256_DIGEST_LENGTH + 1)

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
        return err_ossl(&r->err, ERR_INTERNAL, "signer: the key cannot sign");
    return 0;
}

/*
 * SHA-256 of the request's key's signature of der into md: the material of a
 * secret.  The key must be RSA (PKCS#1 v1.5 signs deterministically).
 */
static int derive(struct req *r, const char *kind, const unsigned char *der, size_t len,
                  unsigned char md[SHA256_DIGEST_LENGTH])
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_PKEY *k;
    int rc = -1;

    if (signer_req_bind_check(r, kind, NULL, 0) != 0 || (k = signer_req_key(r)) == NULL)
        return -1;
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
        err_set(&r->err, ERR_INVALID, "signer: a secret's key must be an RSA key");
    else if (sign_der(r, k, der, len, &sig, &sig_len) == 0) {
        SHA256(sig, sig_len, md);
        rc = 0;
    }
    if (sig != NULL)
        secure_zero(sig, sig_len);
    free(sig);
    EVP_PKEY_free(k);
    return rc;
}

/* The request's tenant (caller frees); NULL with r->err set. */
static char *req_tenant(struct req *r)
{
    char *tenant = wire_get_str(r->body, r->len, T_TENANT, 1024);

    if (tenant == NULL)
        err_set(&r->err, ERR_INVALID, "signer: tenant missing or invalid");
    return tenant;
}

/* The request's nonce (T_BLOB, NONCE_LEN bytes, pointing into the body); -1 with r->err set. */
static int req_nonce(struct req *r, const unsigned char **nonce)
{
    size_t len = 0;

    if (wire_get(r->body, r->len, T_BLOB, 0, nonce, &len) != 0 || len != NONCE_LEN)
        return err_set(&r->err, ERR_INVALID, "signer: nonce missing or malformed");
    return 0;
}

/* ---- webhook secrets ---------------------------------------------------------------- */

/* The webhook secret of (the request's tenant and key, nonce) into secret (text). */
static int webhook_derive(struct req *r, const unsigned char nonce[NONCE_LEN],
                          char secret[WEBHOOK_LEN])
{
    char *tenant = req_tenant(r), *hex;
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    size_t der_len = 0;
    int rc = -1;

    if (tenant == NULL)
        return -1;
    if (tbs_webhook_secret_encode(tenant, nonce, &der, &der_len) != 0)
        err_set(&r->err, ERR_INTERNAL, "signer: cannot encode the webhook secret input");
    else if (derive(r, "webhook secret", der, der_len, md) == 0) {
        hex = hex_encode(md, sizeof(md));
        snprintf(secret, WEBHOOK_LEN, "whsec_%s", hex);
        secure_zero(hex, strlen(hex));
        free(hex);
        rc = 0;
    }
    secure_zero(md, sizeof(md));
    OPENSSL_free(der);
    free(tenant);
    return rc;
}

int signer_h_webhook_new(struct req *r)
{
    unsigned char nonce[NONCE_LEN];
    char secret[WEBHOOK_LEN];

    if (random_bytes(nonce, sizeof(nonce)) != 0)
        return err_set(&r->err, ERR_INTERNAL, "signer: no randomness");
    if (webhook_derive(r, nonce, secret) != 0)
        return -1;
    wire_put(&r->out, T_BLOB, nonce, sizeof(nonce));
    wire_put_str(&r->out, T_MESSAGE, secret);
    secure_zero(secret, sizeof(secret));
    return 0;
}

int signer_h_webhook_mac(struct req *r)
{
    const unsigned char *nonce = NULL, *data = NULL;
    size_t len = 0;
    char secret[WEBHOOK_LEN];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int ok;

    if (req_nonce(r, &nonce) != 0)
        return -1;
    if (wire_get(r->body, r->len, T_DATA, 0, &data, &len) != 0)
        return err_set(&r->err, ERR_INVALID, "signer: data missing");
    if (webhook_derive(r, nonce, secret) != 0)
        return -1;
    ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), data, len, mac, &mac_len) != NULL;
    secure_zero(secret, sizeof(secret));
    if (!ok)
        return err_ossl(&r->err, ERR_INTERNAL, "signer: HMAC failed");
    wire_put(&r->out, T_SIGNATURE, mac, mac_len);
    return 0;
}

/* ---- ACME External Account Binding keys --------------------------------------------- */

/* The EAB key of (the request's tenant, key, endpoint and kid, nonce) into key. */
static int eab_derive(struct req *r, const unsigned char nonce[NONCE_LEN],
                      unsigned char key[SIGNER_EAB_KEY_LEN])
{
    char *tenant = req_tenant(r);
    char *endpoint = wire_get_str(r->body, r->len, T_ENDPOINT, NAME_MAX_BYTES);
    char *kid = wire_get_str(r->body, r->len, T_KID, NAME_MAX_BYTES);
    unsigned char *der = NULL;
    size_t der_len = 0;
    int rc = -1;

    if (tenant == NULL)
        goto out;
    if (endpoint == NULL || kid == NULL || *endpoint == '\0' || *kid == '\0')
        err_set(&r->err, ERR_INVALID, "signer: endpoint or kid missing or invalid");
    else if (tbs_eab_key_encode(tenant, endpoint, kid, nonce, &der, &der_len) != 0)
        err_set(&r->err, ERR_INTERNAL, "signer: cannot encode the EAB key input");
    else
        rc =
            derive(r, "EAB key", der, der_len, key); /* SHA-256: exactly SIGNER_EAB_KEY_LEN bytes */
out:
    OPENSSL_free(der);
    free(tenant);
    free(endpoint);
    free(kid);
    return rc;
}

int signer_h_eab_new(struct req *r)
{
    unsigned char nonce[NONCE_LEN], key[SIGNER_EAB_KEY_LEN];

    if (random_bytes(nonce, sizeof(nonce)) != 0)
        return err_set(&r->err, ERR_INTERNAL, "signer: no randomness");
    if (eab_derive(r, nonce, key) != 0)
        return -1;
    wire_put(&r->out, T_BLOB, nonce, sizeof(nonce));
    wire_put(&r->out, T_SECRET, key, sizeof(key));
    secure_zero(key, sizeof(key));
    return 0;
}

/* The HMAC digest of a digest name the client sends; NULL if not one of SHA-256/384/512. */
static const EVP_MD *eab_digest(const char *name)
{
    if (name == NULL)
        return NULL;
    if (strcmp(name, "SHA256") == 0)
        return EVP_sha256();
    if (strcmp(name, "SHA384") == 0)
        return EVP_sha384();
    if (strcmp(name, "SHA512") == 0)
        return EVP_sha512();
    return NULL;
}

int signer_h_eab_mac(struct req *r)
{
    const unsigned char *nonce = NULL, *data = NULL;
    char *md_name = wire_get_str(r->body, r->len, T_DIGEST, 16);
    const EVP_MD *md = eab_digest(md_name);
    unsigned char key[SIGNER_EAB_KEY_LEN], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t len = 0;
    int ok;

    free(md_name);
    if (md == NULL)
        return err_set(&r->err, ERR_INVALID, "signer: EAB MAC digest: SHA256, SHA384 or SHA512");
    if (req_nonce(r, &nonce) != 0)
        return -1;
    if (wire_get(r->body, r->len, T_DATA, 0, &data, &len) != 0 || len > SIGNER_EAB_DATA_MAX)
        return err_set(&r->err, ERR_INVALID, "signer: EAB MAC data missing or over %d bytes",
                       SIGNER_EAB_DATA_MAX);
    if (eab_derive(r, nonce, key) != 0)
        return -1;
    ok = HMAC(md, key, (int)sizeof(key), data, len, mac, &mac_len) != NULL;
    secure_zero(key, sizeof(key));
    if (!ok)
        return err_ossl(&r->err, ERR_INTERNAL, "signer: HMAC failed");
    wire_put(&r->out, T_SIGNATURE, mac, mac_len);
    secure_zero(mac, sizeof(mac));
    return 0;
}

/* ---- CMP shared secrets --------------------------------------------------------------- */

/*
 * W_CMP_SECRET  T_TENANT, T_KEY_ID, T_ENDPOINT, T_KID (the reference),
 *               T_BLOB (nonce)?  ->  T_BLOB (the nonce: a new random one if
 *               none was given), T_SECRET (32 bytes)
 *
 * Unlike the webhook and EAB secrets, a CMP secret goes to the network
 * process each time a request names it: OpenSSL's CMP code checks and makes
 * PasswordBasedMac protection with the secret in its context (docs/decisions.md,
 * "CMP").  Its input has an OID of its own, so this call derives no EAB key.
 */
int signer_h_cmp_secret(struct req *r)
{
    char *tenant = req_tenant(r);
    char *endpoint = wire_get_str(r->body, r->len, T_ENDPOINT, NAME_MAX_BYTES);
    char *ref = wire_get_str(r->body, r->len, T_KID, NAME_MAX_BYTES);
    unsigned char nonce[NONCE_LEN], key[SHA256_DIGEST_LENGTH], *der = NULL;
    const unsigned char *given = NULL;
    size_t der_len = 0, given_len = 0;
    int rc = -1;

    if (tenant == NULL)
        goto out;
    if (endpoint == NULL || ref == NULL || *endpoint == '\0' || *ref == '\0') {
        err_set(&r->err, ERR_INVALID, "signer: endpoint or reference missing or invalid");
        goto out;
    }
    if (wire_get(r->body, r->len, T_BLOB, 0, &given, &given_len) == 0) {
        if (given_len != NONCE_LEN) {
            err_set(&r->err, ERR_INVALID, "signer: nonce malformed");
            goto out;
        }
        memcpy(nonce, given, NONCE_LEN);
    } else if (random_bytes(nonce, sizeof(nonce)) != 0) {
        err_set(&r->err, ERR_INTERNAL, "signer: no randomness");
        goto out;
    }
    if (tbs_cmp_secret_encode(tenant, endpoint, ref, nonce, &der, &der_len) != 0)
        err_set(&r->err, ERR_INTERNAL, "signer: cannot encode the CMP secret input");
    else if (derive(r, "CMP secret", der, der_len, key) == 0) {
        wire_put(&r->out, T_BLOB, nonce, sizeof(nonce));
        wire_put(&r->out, T_SECRET, key, sizeof(key));
        rc = 0;
    }
out:
    secure_zero(key, sizeof(key));
    OPENSSL_free(der);
    free(tenant);
    free(endpoint);
    free(ref);
    return rc;
}
