/* key_types.c — the six supported key types: names, detection, generation. */
#include "keys/keys.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

static const struct {
    enum key_type type;
    const char *name;
} names[] = {
    {KEY_EC_P256, "ec-p256"},   {KEY_EC_P384, "ec-p384"},   {KEY_RSA_2048, "rsa-2048"},
    {KEY_RSA_3072, "rsa-3072"}, {KEY_RSA_4096, "rsa-4096"}, {KEY_ED25519, "ed25519"},
};

const char *key_type_name(enum key_type t)
{
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (names[i].type == t)
            return names[i].name;
    return "none";
}

enum key_type key_type_parse(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(names); i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].type;
    return KEY_NONE;
}

enum key_type key_type_of(const EVP_PKEY *pkey)
{
    char group[64] = "";

    if (pkey == NULL)
        return KEY_NONE;
    /* Remote keys (remote_key.c) have names of their own. */
    if (EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "VOUCH-ED25519"))
        return KEY_ED25519;
    if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "VOUCH-RSA")) {
        switch (EVP_PKEY_get_bits(pkey)) {
        case 2048:
            return KEY_RSA_2048;
        case 3072:
            return KEY_RSA_3072;
        case 4096:
            return KEY_RSA_4096;
        default:
            return KEY_NONE;
        }
    }
    if ((EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_is_a(pkey, "VOUCH-EC")) &&
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) == 1) {
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return KEY_EC_P256;
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            return KEY_EC_P384;
    }
    return KEY_NONE;
}

EVP_PKEY *key_generate(enum key_type t, struct err *e)
{
    EVP_PKEY *k = NULL;

    switch (t) {
    case KEY_EC_P256:
        k = EVP_EC_gen("P-256");
        break;
    case KEY_EC_P384:
        k = EVP_EC_gen("P-384");
        break;
    case KEY_RSA_2048:
        k = EVP_RSA_gen(2048);
        break;
    case KEY_RSA_3072:
        k = EVP_RSA_gen(3072);
        break;
    case KEY_RSA_4096:
        k = EVP_RSA_gen(4096);
        break;
    case KEY_ED25519:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    default:
        err_set(e, ERR_INVALID, "unsupported key type");
        return NULL;
    }
    if (k == NULL)
        err_ossl(e, ERR_INTERNAL, "key generation failed");
    return k;
}

static const char *const purpose_names[] = {
    [KEY_PURPOSE_NONE] = "none",
    [KEY_PURPOSE_CA] = "ca",
    [KEY_PURPOSE_OCSP] = "ocsp",
    [KEY_PURPOSE_TSA] = "tsa",
    [KEY_PURPOSE_AUDIT] = "audit",
    [KEY_PURPOSE_WEBHOOK] = "webhook",
    [KEY_PURPOSE_EAB] = "eab",
    [KEY_PURPOSE_RA] = "ra",
    [KEY_PURPOSE_CMP_SECRET] = "cmp-secret",
};

const char *key_purpose_name(enum key_purpose p)
{
    return (size_t)p < ARRAY_LEN(purpose_names) ? purpose_names[p] : "none";
}

enum key_purpose key_purpose_parse(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(purpose_names); i++)
        if (strcmp(purpose_names[i], name) == 0)
            return (enum key_purpose)i;
    return KEY_PURPOSE_NONE;
}
