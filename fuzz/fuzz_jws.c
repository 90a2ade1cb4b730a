/*
 * fuzz_jws.c — libFuzzer driver: arbitrary bytes as an ACME request body
 * through acme_jws_parse and acme_jws_verify (with the body's own "jwk", or a
 * fixed account key for a "kid": RFC 7515 A.3's P-256 key or RFC 8037's
 * Ed25519 key, so that tests/unit/test_acme.c can sign seeds that verify),
 * then whatever the payload holds: an external account binding checked and
 * its MAC verified with a fixed key, or a key change's inner JWS.  The same
 * bytes as base64url must decode and re-encode to themselves.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "acme/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EAB_KEY "vouch-fuzz-eab-key-0123456789abc"

static EVP_PKEY *p256, *ed25519;

static EVP_PKEY *key_of(const char *text)
{
    json_t *jwk = json_loads(text, 0, NULL);
    EVP_PKEY *key = NULL;
    struct err e = {0};

    if (jwk == NULL || acme_jwk_to_pkey(jwk, &key, &e) != 0)
        abort();
    json_decref(jwk);
    return key;
}

static void keys_init(void)
{
    if (p256 != NULL)
        return;
    p256 = key_of("{\"kty\":\"EC\",\"crv\":\"P-256\","
                  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}");
    ed25519 = key_of("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}");
}

/* A key read from a JWK must give the same JWK back, and so the same thumbprint. */
static void check_jwk_round_trip(EVP_PKEY *key)
{
    struct err e = {0};
    json_t *jwk = acme_jwk_from_pkey(key, &e);
    EVP_PKEY *back = NULL;
    char *t1 = NULL, *t2 = NULL;

    if (jwk == NULL || acme_jwk_to_pkey(jwk, &back, &e) != 0 ||
        acme_jwk_thumbprint(key, &t1, &e) != 0 || acme_jwk_thumbprint(back, &t2, &e) != 0 ||
        strcmp(t1, t2) != 0 || EVP_PKEY_eq(key, back) != 1)
        abort();
    free(t1);
    free(t2);
    EVP_PKEY_free(back);
    json_decref(jwk);
}

static void check_payload(const struct acme_jws *j)
{
    const json_t *eab = json_object_get(j->payload, "externalAccountBinding");
    struct acme_jws *inner = NULL;
    struct acme_eab *b = NULL;
    struct err e = {0};

    if (eab != NULL && j->jwk != NULL && acme_eab_parse(eab, j->url, j->jwk, &b, &e) == 0) {
        (void)acme_eab_verify(b, (const unsigned char *)EAB_KEY, strlen(EAB_KEY), &e);
        acme_eab_free(b);
    }
    if (j->kid != NULL && acme_jws_parse_inner(j->payload, &inner, &e) == 0) {
        (void)acme_jws_verify(inner, inner->jwk, &e);
        acme_jws_free(inner);
    }
}

/* Canonical base64url: what decodes re-encodes to the same text. */
static void check_b64url(const uint8_t *data, size_t size)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    char *text;

    if (size > 4096 || base64url_decode((const char *)data, size, &raw, &len) != 0)
        return;
    text = base64url_encode(raw, len);
    if (strlen(text) != size || memcmp(text, data, size) != 0)
        abort();
    free(text);
    free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_jws *j = NULL;
    struct err e = {0};

    keys_init();
    check_b64url(data, size);
    if (acme_jws_parse(data, size, &j, &e) == 0) {
        if (j->jwk != NULL)
            check_jwk_round_trip(j->jwk);
        (void)acme_jws_verify(j, j->jwk ? j->jwk : j->alg == ACME_ALG_EDDSA ? ed25519 : p256, &e);
        if (j->payload != NULL)
            check_payload(j);
        acme_jws_free(j);
    }
    ERR_clear_error();
    return 0;
}
