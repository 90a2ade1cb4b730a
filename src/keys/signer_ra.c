/*
 * signer_ra.c — W_RA_DECRYPT in the signer process: the content-encryption
 * key of a SCEP pkiMessage's envelope (RFC 8894 §3.2.2, RSA key transport,
 * RFC 5652 §6.2.1), decrypted with the endpoint's RA key.
 *
 * The signer decrypts the encrypted key alone, not the envelope: it parses
 * nothing from the network (the network process reads the EnvelopedData and
 * decrypts its content with the key given back), and what it hands out is a
 * key of the length asked for, which opens one message the network process
 * holds anyway.  Only a key of purpose "ra" decrypts ("SCEP envelope key" in
 * signer_bind.c), and only RSA with PKCS#1 v1.5 padding.
 *
 * Bleichenbacher: a padding error, or a plaintext of another length than the
 * one asked for, answers random bytes of that length, as a good decryption
 * would (RFC 5246 §7.4.7.1's countermeasure): the network process sees only
 * a key that does not open the content, never whether the padding was good.
 *
 * Request: T_TENANT, T_KEY_ID, T_DATA (the encrypted key, at most 512 bytes:
 * RSA-4096), T_FLAGS (u64: the key length wanted, 1 to 64).  Reply: T_SECRET.
 */
#include "keys/keystore.h"
#include "keys/signer_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "lib/log.h"

#define ENCRYPTED_MAX 512
#define KEY_MAX       64

/* RSA PKCS#1 v1.5 decryption with a key OpenSSL holds (the software store). */
static int decrypt_loaded(struct req *r, const unsigned char *in, size_t len, unsigned char **out,
                          size_t *out_len)
{
    EVP_PKEY *k = signer_req_key(r);
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char *buf = NULL;
    size_t n = 0;
    int rc = -1;

    if (k == NULL)
        return -1;
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
        err_set(&r->err, ERR_INVALID, "signer: the key is not an RSA key");
        goto out;
    }
    if ((ctx = EVP_PKEY_CTX_new(k, NULL)) == NULL || EVP_PKEY_decrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_decrypt(ctx, NULL, &n, in, len) != 1) {
        err_ossl(&r->err, ERR_INTERNAL, "signer: RSA decryption unavailable");
        goto out;
    }
    buf = xmalloc(n);
    if (EVP_PKEY_decrypt(ctx, buf, &n, in, len) != 1) {
        err_set(&r->err, ERR_INVALID, "signer: does not decrypt");
        goto out;
    }
    *out = buf;
    *out_len = n;
    buf = NULL;
    rc = 0;
out:
    ERR_clear_error();
    free(buf);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(k);
    return rc;
}

/* RSA decryption in the key store itself (PKCS#11). */
static int decrypt_in_store(struct req *r, const unsigned char *in, size_t len, unsigned char **out,
                            size_t *out_len)
{
    struct keystore *ks = signer_keystore();
    char *tenant = wire_get_str(r->body, r->len, T_TENANT, 256);
    char *id = wire_get_str(r->body, r->len, T_KEY_ID, 256);
    int rc = -1;

    if (tenant == NULL || id == NULL)
        err_set(&r->err, ERR_INVALID, "signer: tenant or key id missing");
    else if ((rc = ks->ops->decrypt(ks, tenant, id, in, len, out, out_len, &r->err)) != 0 &&
             r->err.kind == ERR_NOT_FOUND)
        log_warn("signer: refused: tenant %s has no such key", tenant);
    free(tenant);
    free(id);
    return rc;
}

/*
 * Only a key bound to purpose "ra" decrypts: one with no purpose yet (which
 * purpose_allows lets sign as before purposes existed) is refused too, so no
 * key made for something else becomes a decryption oracle.
 */
static int ra_purpose_check(struct req *r)
{
    char *tenant = wire_get_str(r->body, r->len, T_TENANT, 256);
    char *id = wire_get_str(r->body, r->len, T_KEY_ID, 256);
    enum key_purpose p = KEY_PURPOSE_NONE;
    EVP_PKEY *k = NULL;
    int rc = -1;
    if (tenant == NULL || id == NULL) {
        err_set(&r->err, ERR_INVALID, "signer: tenant or key id missing");
    } else if (signer_bind_purpose(signer_keystore(), tenant, id, &p, &r->err) != 0) {
        /* r->err says why */
    } else if (p == KEY_PURPOSE_NONE && (k = signer_req_key(r)) == NULL) {
        /* no such key of the tenant: r->err is ERR_NOT_FOUND */
    } else if (p != KEY_PURPOSE_RA) {
        err_set(&r->err, ERR_FORBIDDEN, "signer: key %s decrypts nothing (purpose %s, not ra)", id,
                key_purpose_name(p));
        log_warn("signer: refused: tenant %s key %s (purpose %s) to decrypt a SCEP envelope key",
                 tenant, id, key_purpose_name(p));
    } else {
        rc = 0;
    }
    EVP_PKEY_free(k);
    free(tenant);
    free(id);
    return rc;
}

int signer_h_ra_decrypt(struct req *r)
{
    struct keystore *ks = signer_keystore();
    const unsigned char *in = NULL;
    unsigned char *plain = NULL;
    size_t len = 0, plain_len = 0;
    uint64_t want = 0;
    unsigned char key[KEY_MAX];
    int rc;

    if (wire_get(r->body, r->len, T_DATA, 0, &in, &len) != 0 || len == 0 || len > ENCRYPTED_MAX ||
        wire_get_u64(r->body, r->len, T_FLAGS, &want) != 0 || want == 0 || want > KEY_MAX)
        return err_set(&r->err, ERR_INVALID,
                       "signer: an encrypted key of 1 to %d bytes and a key length of 1 to %d",
                       ENCRYPTED_MAX, KEY_MAX);
    if (signer_req_bind_check(r, "SCEP envelope key", NULL, 0) != 0)
        return -1; /* refused: logged and queued for the audit log (signer_bind.c) */
    if (ra_purpose_check(r) != 0)
        return -1;
    rc = ks->ops->decrypt != NULL ? decrypt_in_store(r, in, len, &plain, &plain_len)
                                  : decrypt_loaded(r, in, len, &plain, &plain_len);
    if (rc != 0 && r->err.kind != ERR_INVALID)
        return -1; /* no such key, not RSA, the token failed: an error, not a key */
    if (rc == 0 && plain_len == want) {
        memcpy(key, plain, plain_len);
    } else if (random_bytes(key, (size_t)want) != 0) {
        free(plain);
        return err_set(&r->err, ERR_INTERNAL, "signer: no randomness");
    }
    err_clear(&r->err);
    wire_put(&r->out, T_SECRET, key, (size_t)want);
    secure_zero(key, sizeof(key));
    if (plain != NULL)
        secure_zero(plain, plain_len);
    free(plain);
    return 0;
}
