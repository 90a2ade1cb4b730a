/*
 * key.c — what kind of public key a request carries, whether it is strong
 * enough, and which digest a CA key signs with.  Only public parts are read,
 * so every function here works on a signer's remote key too.
 */
#include "core/core_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

static const struct {
    enum key_kind kind;
    const char *name;
} key_kinds[] = {
    {KT_EC_P256, "ec-p256"},   {KT_EC_P384, "ec-p384"},   {KT_RSA_2048, "rsa-2048"},
    {KT_RSA_3072, "rsa-3072"}, {KT_RSA_4096, "rsa-4096"}, {KT_ED25519, "ed25519"},
};

enum key_kind key_kind_parse(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(key_kinds); i++)
        if (strcmp(key_kinds[i].name, name) == 0)
            return key_kinds[i].kind;
    return KT_NONE;
}

char *key_kinds_list(unsigned mask)
{
    struct buf b = {0};

    for (size_t i = 0; i < ARRAY_LEN(key_kinds); i++) {
        if ((mask & (unsigned)key_kinds[i].kind) == 0)
            continue;
        if (b.len > 0)
            buf_append(&b, ", ", 2);
        buf_append(&b, key_kinds[i].name, strlen(key_kinds[i].name));
    }
    buf_append(&b, "", 1);
    return (char *)b.data;
}

static void key_describe_ec(EVP_PKEY *key, struct key_info *ki)
{
    char group[64];
    size_t len = 0;

    ki->family = KF_EC;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
        ERR_clear_error();
        snprintf(ki->name, sizeof(ki->name), "ec-explicit-parameters");
        return;
    }
    if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
        ki->kind = KT_EC_P256;
        snprintf(ki->name, sizeof(ki->name), "ec-p256");
    } else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
        ki->kind = KT_EC_P384;
        snprintf(ki->name, sizeof(ki->name), "ec-p384");
    } else {
        snprintf(ki->name, sizeof(ki->name), "ec-%.40s", group);
    }
}

static void key_describe_rsa(struct key_info *ki)
{
    ki->family = KF_RSA;
    snprintf(ki->name, sizeof(ki->name), "rsa-%d", ki->bits);
    if (ki->bits == 2048)
        ki->kind = KT_RSA_2048;
    else if (ki->bits == 3072)
        ki->kind = KT_RSA_3072;
    else if (ki->bits == 4096)
        ki->kind = KT_RSA_4096;
}

static int key_is(EVP_PKEY *key, int id, const char *name)
{
    return EVP_PKEY_get_base_id(key) == id || EVP_PKEY_is_a(key, name);
}

void key_describe(EVP_PKEY *key, struct key_info *ki)
{
    memset(ki, 0, sizeof(*ki));
    ki->family = KF_OTHER;
    ki->kind = KT_NONE;
    snprintf(ki->name, sizeof(ki->name), "unknown");
    if (key == NULL)
        return;
    ki->bits = EVP_PKEY_get_bits(key);
    if (key_is(key, EVP_PKEY_RSA, "RSA")) {
        key_describe_rsa(ki);
    } else if (key_is(key, EVP_PKEY_EC, "EC")) {
        key_describe_ec(key, ki);
    } else if (key_is(key, EVP_PKEY_ED25519, "ED25519")) {
        ki->family = KF_ED25519;
        ki->kind = KT_ED25519;
        snprintf(ki->name, sizeof(ki->name), "ed25519");
    } else {
        const char *type = EVP_PKEY_get0_type_name(key);
        snprintf(ki->name, sizeof(ki->name), "%.40s", type ? type : "unknown");
        for (char *c = ki->name; *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    }
}

/* RSA: 2048..8192 bits, odd modulus, e = 65537 (no full public check: it is slow on crafted n). */
static int key_check_rsa(EVP_PKEY *key, const struct key_info *ki, char *why, size_t len)
{
    BIGNUM *n = NULL, *e = NULL;
    int ok = 0;

    if (ki->bits < 2048) {
        snprintf(why, len, "RSA key of %d bits is too weak (at least 2048)", ki->bits);
        return -1;
    }
    if (ki->bits > 8192) {
        snprintf(why, len, "RSA key of %d bits is too large (at most 8192)", ki->bits);
        return -1;
    }
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        snprintf(why, len, "RSA key parameters cannot be read");
    else if (!BN_is_odd(n))
        snprintf(why, len, "RSA modulus is even");
    else if (!BN_is_word(e, 65537))
        snprintf(why, len, "RSA public exponent must be 65537");
    else
        ok = 1;
    BN_free(n);
    BN_free(e);
    return ok ? 0 : -1;
}

/* EC: named P-256 or P-384 and a valid point (on the curve, not infinity). */
static int key_check_ec(EVP_PKEY *key, const struct key_info *ki, char *why, size_t len)
{
    EVP_PKEY_CTX *ctx;
    int ok;

    if (ki->kind == KT_NONE) {
        snprintf(why, len, "EC key %s not accepted (P-256 or P-384 only)", ki->name);
        return -1;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    /* P-256 and P-384 have cofactor 1: a point on the curve is in the group, so the quick
       check (on the curve, not at infinity) is the whole check.  The full one multiplies by
       the order, which costs as much as a signature. */
    ok = ctx != NULL && EVP_PKEY_public_check_quick(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    if (!ok) {
        snprintf(why, len, "EC public key is not a valid point of its curve");
        return -1;
    }
    return 0;
}

int key_check_strength(EVP_PKEY *key, const struct key_info *ki, char *why, size_t len)
{
    switch (ki->family) {
    case KF_RSA:
        return key_check_rsa(key, ki, why, len);
    case KF_EC:
        return key_check_ec(key, ki, why, len);
    case KF_ED25519:
        return 0;
    default:
        snprintf(why, len, "key algorithm %s not supported (RSA, EC or Ed25519)", ki->name);
        return -1;
    }
}

const EVP_MD *sign_digest(EVP_PKEY *key, const char *profile_choice)
{
    struct key_info ki;

    key_describe(key, &ki);
    switch (ki.kind) {
    case KT_EC_P256:
        return EVP_sha256();
    case KT_EC_P384:
        return EVP_sha384();
    case KT_ED25519:
        return NULL;
    case KT_RSA_2048:
    case KT_RSA_3072:
    case KT_RSA_4096:
        if (profile_choice != NULL && strcmp(profile_choice, "sha384") == 0)
            return EVP_sha384();
        if (profile_choice != NULL && strcmp(profile_choice, "sha512") == 0)
            return EVP_sha512();
        return EVP_sha256();
    default:
        return ki.family == KF_RSA ? EVP_sha256() : NULL;
    }
}
