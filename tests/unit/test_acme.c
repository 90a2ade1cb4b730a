/*
 * test_acme.c — the JWS and JWK handling of src/acme (RFC 8555 §6.2, §7.3.4,
 * §7.3.5; RFC 7515, 7518, 7638, 8037).
 *
 * Request bodies are built here with a signer of the test's own (OpenSSL's
 * EVP_DigestSign, ECDSA turned into r || s), with keys generated once for the
 * group; known answers come from the RFCs' examples.
 *
 * With VOUCH_JWS_CORPUS=<dir>, test_fuzz_corpus_bodies_verify writes the seed
 * corpus of fuzz/fuzz_jws.c there (fuzz/corpus/jws holds its output).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "acme/jws.h"

#define URL   "https://acme.example.com/acme/t/default/new-account"
#define KID   "https://acme.example.com/acme/t/default/acct/evOfKhNU60wg"
#define NONCE "6S8IqOGY7eL2lsGoTZYifg"

enum { K_RSA, K_P256, K_P384, K_ED25519, KEY_TYPES };
static const char *const key_names[KEY_TYPES] = {"rsa-2048", "p-256", "p-384", "ed25519"};
static const char *const key_algs[KEY_TYPES] = {"RS256", "ES256", "ES384", "EdDSA"};

static EVP_PKEY *keys[KEY_TYPES];  /* the account keys */
static EVP_PKEY *other[KEY_TYPES]; /* another key of each type */
static EVP_PKEY *rsa1024;

/* The MAC key of external account binding (as fuzz/fuzz_jws.c's), 32 bytes; and a longer one. */
#define EAB_KEY      "vouch-fuzz-eab-key-0123456789abc"
#define EAB_KEY_LONG "vouch-test-eab-key-of-64-bytes-for-hs384-and-hs512-0123456789abc"
/* The key the test's EAB MACs are made with. */
static const char *mac_key = EAB_KEY;

/* ---- RFC examples ------------------------------------------------------------ */

/* RFC 7515 Appendix A.3: ES256. */
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
#define A3_INPUT                                                                                   \
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlL"   \
    "mNvbS9pc19yb290Ijp0cnVlfQ"
#define A3_SIG                                                                                     \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

/* RFC 8037 Appendix A.1-A.4: Ed25519. */
#define R8037_X          "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define R8037_D          "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define R8037_THUMBPRINT "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define R8037_INPUT      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define R8037_SIG                                                                                  \
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

/* RFC 7638 §3.1: an RSA key (with the optional members it shows) and its thumbprint. */
#define R7638_N                                                                                    \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"      \
    "BJECPe"                                                                                       \
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY3" \
    "68QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM" \
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define R7638_THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* ---- helpers ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        EVP_PKEY **set = i == 0 ? keys : other;
        set[K_RSA] = EVP_RSA_gen(2048);
        set[K_P256] = EVP_EC_gen("P-256");
        set[K_P384] = EVP_EC_gen("P-384");
        set[K_ED25519] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        for (int t = 0; t < KEY_TYPES; t++)
            if (set[t] == NULL)
                return -1;
    }
    rsa1024 = EVP_RSA_gen(1024);
    return rsa1024 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        EVP_PKEY_free(keys[t]);
        EVP_PKEY_free(other[t]);
    }
    EVP_PKEY_free(rsa1024);
    return 0;
}

/* Asserts that e holds kind/code and that its message contains part. */
static void expect_err(const struct err *e, enum err_kind kind, const char *code, const char *part)
{
    if (e->kind != kind || strcmp(e->code, code) != 0 || strstr(e->msg, part) == NULL)
        fail_msg("expected %s %s \"...%s...\", got %s %s \"%s\"", err_kind_word(kind), code, part,
                 err_kind_word(e->kind), e->code, e->msg);
}

static char *b64(const void *data, size_t len)
{
    return base64url_encode(data, len);
}

static char *b64s(const char *s)
{
    return b64(s, strlen(s));
}

static unsigned char *unb64(const char *s, size_t *len)
{
    unsigned char *out = NULL;

    assert_int_equal(base64url_decode(s, strlen(s), &out, len), 0);
    return out;
}

/* ECDSA's DER signature as JWS's r || s of n bytes each (RFC 7518 §3.4). */
static unsigned char *ecdsa_raw(const unsigned char *der, size_t der_len, int n, size_t *out_len)
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r, *sv;
    unsigned char *out = malloc(2 * (size_t)n);

    assert_non_null(s);
    ECDSA_SIG_get0(s, &r, &sv);
    assert_int_equal(BN_bn2binpad(r, out, n), n);
    assert_int_equal(BN_bn2binpad(sv, out + n, n), n);
    ECDSA_SIG_free(s);
    *out_len = 2 * (size_t)n;
    return out;
}

/*
 * The test's own JWS signer: key's natural algorithm over tbs (RSA: RS256,
 * P-256: ES256, P-384: ES384, Ed25519: EdDSA).  Caller frees.
 */
static unsigned char *sign_raw(EVP_PKEY *key, const void *tbs, size_t len, size_t *sig_len)
{
    int ec = EVP_PKEY_is_a(key, "EC"), n = (EVP_PKEY_get_bits(key) + 7) / 8;
    const char *md = EVP_PKEY_is_a(key, "ED25519") ? NULL : ec && n == 48 ? "SHA384" : "SHA256";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig, *raw;
    size_t sl = 0;

    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, key, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, NULL, &sl, tbs, len), 1);
    sig = malloc(sl);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sl, tbs, len), 1);
    EVP_MD_CTX_free(ctx);
    if (!ec) {
        *sig_len = sl;
        return sig;
    }
    raw = ecdsa_raw(sig, sl, n, sig_len);
    free(sig);
    return raw;
}

/* HMAC-SHA-256/384/512 (alg "HS256"...) of tbs with key, into out; its length. */
static size_t hmac(const char *alg, const unsigned char *key, size_t key_len, const char *tbs,
                   unsigned char *out)
{
    const char *md = strcmp(alg, "HS512") == 0   ? "SHA512"
                     : strcmp(alg, "HS384") == 0 ? "SHA384"
                                                 : "SHA256";
    size_t len = 0;

    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, key_len,
                              (const unsigned char *)tbs, strlen(tbs), out, EVP_MAX_MD_SIZE, &len));
    return len;
}

static json_t *pub_jwk(EVP_PKEY *key)
{
    struct err e = {0};
    json_t *jwk = acme_jwk_from_pkey(key, &e);

    if (jwk == NULL)
        fail_msg("jwk: %s", e.msg);
    return jwk;
}

/*
 * A flattened JWS object of header_text (the protected header as sent) and
 * payload, signed by key (NULL: a MAC with mac_key under mac_alg).
 */
static json_t *jws_object_text(const char *header_text, const char *payload, EVP_PKEY *key,
                               const char *mac_alg)
{
    char *hb = b64s(header_text), *pb = b64s(payload), *tbs = xasprintf("%s.%s", hb, pb), *sb;
    unsigned char mac[EVP_MAX_MD_SIZE], *sig;
    size_t sl;
    json_t *o;

    if (key != NULL) {
        sig = sign_raw(key, tbs, strlen(tbs), &sl);
        sb = b64(sig, sl);
        free(sig);
    } else {
        sl = hmac(mac_alg, (const unsigned char *)mac_key, strlen(mac_key), tbs, mac);
        sb = b64(mac, sl);
    }
    o = json_pack("{s:s, s:s, s:s}", "protected", hb, "payload", pb, "signature", sb);
    free(hb);
    free(pb);
    free(tbs);
    free(sb);
    return o;
}

/* As jws_object_text with header (taken) serialized; with no key, MAC'd under the header's alg. */
static json_t *jws_object(json_t *header, const char *payload, EVP_PKEY *key)
{
    char *text = json_dumps(header, JSON_COMPACT);
    const char *alg = json_string_value(json_object_get(header, "alg"));
    json_t *o = jws_object_text(text, payload, key, alg ? alg : "HS256");

    free(text);
    json_decref(header);
    return o;
}

/* The body of a JWS object (taken). Caller frees. */
static char *dump(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);

    json_decref(o);
    return text;
}

/* A request body: header (taken) over payload, signed by key. Caller frees. */
static char *body_of(json_t *header, const char *payload, EVP_PKEY *key)
{
    return dump(jws_object(header, payload, key));
}

/* The usual newAccount-style header with a "jwk" of key's public part. */
static json_t *hdr_jwk(EVP_PKEY *key, const char *alg)
{
    return json_pack("{s:s, s:o, s:s, s:s}", "alg", alg, "jwk", pub_jwk(key), "nonce", NONCE, "url",
                     URL);
}

/* The usual header of an account's request, with "kid". */
static json_t *hdr_kid(const char *alg)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "alg", alg, "kid", KID, "nonce", NONCE, "url", URL);
}

static struct acme_jws *parse_ok(const char *body)
{
    struct acme_jws *j = NULL;
    struct err e = {0};

    if (acme_jws_parse((const unsigned char *)body, strlen(body), &j, &e) != 0)
        fail_msg("parse: %s %s", e.code, e.msg);
    assert_non_null(j);
    return j;
}

/* Asserts that body is refused with kind/code/part, and that the out-parameter is untouched. */
static void parse_fails(const char *body, enum err_kind kind, const char *code, const char *part)
{
    struct acme_jws *j = NULL;
    struct err e = {0};

    assert_int_equal(acme_jws_parse((const unsigned char *)body, strlen(body), &j, &e), -1);
    assert_null(j);
    expect_err(&e, kind, code, part);
}

/* parse_fails for header (taken) over a small payload, signed by key; frees the body. */
static void header_fails(json_t *header, EVP_PKEY *key, const char *code, const char *part)
{
    char *body = body_of(header, "{}", key);

    parse_fails(body, ERR_INVALID, code, part);
    free(body);
}

/* Parses and verifies body with key (NULL: the jwk of the body); returns the error kind. */
static enum err_kind verify_body(const char *body, EVP_PKEY *key, struct err *e)
{
    struct acme_jws *j = parse_ok(body);
    int rc = acme_jws_verify(j, key ? key : j->jwk, e);

    acme_jws_free(j);
    return rc == 0 ? ERR_NONE : e->kind;
}

/* A JWK parsed from JSON text; fails the test if it does not parse. */
static json_t *json_of(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

    if (v == NULL)
        fail_msg("json: %s in %s", jerr.text, text);
    return v;
}

static void jwk_fails(const char *text, const char *code, const char *part)
{
    json_t *jwk = json_of(text);
    EVP_PKEY *key = NULL;
    struct err e = {0};

    assert_int_equal(acme_jwk_to_pkey(jwk, &key, &e), -1);
    assert_null(key);
    expect_err(&e, ERR_INVALID, code, part);
    json_decref(jwk);
}

static EVP_PKEY *jwk_ok(const char *text)
{
    json_t *jwk = json_of(text);
    EVP_PKEY *key = NULL;
    struct err e = {0};

    if (acme_jwk_to_pkey(jwk, &key, &e) != 0)
        fail_msg("jwk %s: %s", text, e.msg);
    json_decref(jwk);
    return key;
}

/* The jwk member of key's public JWK with member name set to value (a JSON text). */
static json_t *jwk_with(EVP_PKEY *key, const char *name, const char *value)
{
    json_t *jwk = pub_jwk(key);

    json_object_set_new(jwk, name, json_loads(value, JSON_DECODE_ANY, NULL));
    return jwk;
}

static char *thumbprint(EVP_PKEY *key)
{
    struct err e = {0};
    char *t = NULL;

    if (acme_jwk_thumbprint(key, &t, &e) != 0)
        fail_msg("thumbprint: %s", e.msg);
    return t;
}

/* ---- base64url ---------------------------------------------------------------- */

static void test_b64url_round_trips_the_rfc4648_vectors(void **state)
{
    /* RFC 4648 §10, without padding; plus bytes that use '-' and '_'. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    static const unsigned char high[] = {0xfb, 0xff, 0xbf};
    unsigned char *out;
    size_t len;
    char *text;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
        text = b64s(plain[i]);
        assert_string_equal(text, coded[i]);
        free(text);
        out = unb64(coded[i], &len);
        assert_int_equal(len, strlen(plain[i]));
        assert_memory_equal(out, plain[i], len);
        free(out);
    }
    text = b64(high, sizeof(high));
    assert_string_equal(text, "-_-_");
    free(text);
    out = unb64("-_-_", &len);
    assert_int_equal(len, 3);
    assert_memory_equal(out, high, 3);
    free(out);
}

static void test_b64url_refuses_padding_foreign_bytes_and_loose_bits(void **state)
{
    static const char *const bad[] = {
        "Zg==",   "Zg=",          "Zm8=", "Zm+v",  "Zm/v", "Zm9 v",
        "Zm9v\n", " Zm9v",        "Z",    "Zm9vY", "Zh", /* 'h' leaves a set bit after the last
                                                            byte: non-canonical ("Zg" is "f") */
        "Zm9",                                           /* likewise ("Zm8" is "fo") */
        "Zm-",    "Zm9v\xc3\xa9",
    };
    unsigned char *out = (unsigned char *)"untouched";
    size_t len = 99;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        if (base64url_decode(bad[i], strlen(bad[i]), &out, &len) != -1)
            fail_msg("\"%s\" decoded", bad[i]);
        assert_string_equal((char *)out, "untouched");
        assert_int_equal(len, 99);
    }
    /* A NUL inside the counted text is a foreign byte too. */
    assert_int_equal(base64url_decode("Zm\0v", 4, &out, &len), -1);
}

/* ---- account JWS: what passes ---------------------------------------------------- */

static void test_jwk_request_round_trips_for_every_key_type(void **state)
{
    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        char *body = body_of(
            hdr_jwk(keys[t], key_algs[t]),
            "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:a@example.org\"]}", keys[t]);
        struct acme_jws *j = parse_ok(body);
        struct err e = {0};
        char *want = thumbprint(keys[t]), *got = thumbprint(j->jwk);

        assert_string_equal(acme_alg_name(j->alg), key_algs[t]);
        assert_string_equal(j->url, URL);
        assert_string_equal(j->nonce, NONCE);
        assert_null(j->kid);
        assert_false(j->post_as_get);
        assert_true(json_is_true(json_object_get(j->payload, "termsOfServiceAgreed")));
        assert_string_equal(got, want);
        if (acme_jws_verify(j, j->jwk, &e) != 0)
            fail_msg("%s: %s", key_names[t], e.msg);
        assert_int_equal(EVP_PKEY_eq(j->jwk, keys[t]), 1);
        free(want);
        free(got);
        acme_jws_free(j);
        free(body);
    }
}

static void test_kid_request_verifies_with_the_account_key_only(void **state)
{
    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        char *body = body_of(hdr_kid(key_algs[t]), "{\"status\":\"deactivated\"}", keys[t]);
        struct acme_jws *j = parse_ok(body);
        struct err e = {0};

        assert_string_equal(j->kid, KID);
        assert_null(j->jwk);
        assert_int_equal(acme_jws_verify(j, keys[t], &e), 0);
        assert_int_equal(acme_jws_verify(j, other[t], &e), -1);
        expect_err(&e, ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "does not verify");
        assert_int_equal(acme_jws_verify(j, NULL, &e), -1);
        expect_err(&e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "no key");
        acme_jws_free(j);
        free(body);
    }
}

static void test_empty_payload_is_post_as_get(void **state)
{
    char *body = body_of(hdr_kid("ES256"), "", keys[K_P256]);
    struct acme_jws *j = parse_ok(body);
    struct err e = {0};

    (void)state;
    assert_true(j->post_as_get);
    assert_null(j->payload);
    assert_int_equal(acme_jws_verify(j, keys[K_P256], &e), 0);
    acme_jws_free(j);
    free(body);

    /* "{}" is an empty object, not POST-as-GET. */
    body = body_of(hdr_kid("ES256"), "{}", keys[K_P256]);
    j = parse_ok(body);
    assert_false(j->post_as_get);
    assert_true(json_is_object(j->payload));
    assert_int_equal(json_object_size(j->payload), 0);
    acme_jws_free(j);
    free(body);
}

static void test_unknown_header_members_are_ignored(void **state)
{
    json_t *h = hdr_kid("ES256");
    char *body;
    struct err e = {0};

    (void)state;
    json_object_set_new(h, "typ", json_string("JOSE+JSON"));
    json_object_set_new(h, "x-extra", json_integer(7));
    body = body_of(h, "{}", keys[K_P256]);
    assert_int_equal(verify_body(body, keys[K_P256], &e), ERR_NONE);
    free(body);
}

/* ---- account JWS: algorithms ---------------------------------------------------------- */

static void test_alg_must_suit_the_key(void **state)
{
    struct err e = {0};
    char *body;

    (void)state;
    /* A "jwk" of the wrong type is refused as soon as it is read. */
    header_fails(hdr_jwk(keys[K_P256], "RS256"), keys[K_P256], ACME_ERR_BAD_SIG_ALG, "RS256");
    header_fails(hdr_jwk(keys[K_P256], "ES384"), keys[K_P256], ACME_ERR_BAD_SIG_ALG, "ES384");
    header_fails(hdr_jwk(keys[K_P384], "ES256"), keys[K_P384], ACME_ERR_BAD_SIG_ALG, "ES256");
    header_fails(hdr_jwk(keys[K_RSA], "EdDSA"), keys[K_RSA], ACME_ERR_BAD_SIG_ALG, "EdDSA");
    header_fails(hdr_jwk(keys[K_ED25519], "ES256"), keys[K_ED25519], ACME_ERR_BAD_SIG_ALG, "ES256");
    /* A "kid" request's account key is checked when verifying. */
    body = body_of(hdr_kid("RS256"), "{}", keys[K_P256]);
    assert_int_equal(verify_body(body, keys[K_P256], &e), ERR_INVALID);
    expect_err(&e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG, "does not suit");
    free(body);
}

static void test_none_macs_and_unknown_algs_are_refused(void **state)
{
    static const char *const algs[] = {"none",  "HS256", "HS384", "HS512",  "PS256",
                                       "ES512", "RS512", "es256", "Ed25519"};
    json_t *h;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(algs); i++) {
        h = hdr_kid("ES256");
        json_object_set_new(h, "alg", json_string(algs[i]));
        header_fails(h, keys[K_P256], ACME_ERR_BAD_SIG_ALG, "alg");
    }
    h = hdr_kid("ES256");
    json_object_set_new(h, "alg", json_string("none"));
    header_fails(h, keys[K_P256], ACME_ERR_BAD_SIG_ALG, "MUST NOT be \"none\"");
    h = hdr_kid("ES256");
    json_object_set_new(h, "alg", json_string("HS256"));
    header_fails(h, keys[K_P256], ACME_ERR_BAD_SIG_ALG, "is a MAC");
    h = hdr_kid("ES256");
    json_object_del(h, "alg");
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"alg\" must be present");
    h = hdr_kid("ES256");
    json_object_set_new(h, "alg", json_integer(256));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"alg\" must be present");
}

static void test_algorithms_list_the_account_algs(void **state)
{
    json_t *list = acme_jws_algorithms();
    char *text = json_dumps(list, JSON_COMPACT);

    (void)state;
    assert_string_equal(text, "[\"ES256\",\"ES384\",\"RS256\",\"EdDSA\"]");
    free(text);
    json_decref(list);
}

/* ---- account JWS: header members -------------------------------------------------------- */

static void test_jwk_and_kid_exactly_one(void **state)
{
    json_t *h;

    (void)state;
    h = hdr_jwk(keys[K_P256], "ES256");
    json_object_set_new(h, "kid", json_string(KID));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "mutually exclusive");
    h = hdr_kid("ES256");
    json_object_del(h, "kid");
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "needs \"jwk\" or \"kid\"");
    h = hdr_kid("ES256");
    json_object_set_new(h, "kid", json_integer(1));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"kid\" must be a string");
    h = hdr_kid("ES256");
    json_object_set_new(h, "kid", json_string(""));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"kid\" must be a string");
    h = hdr_jwk(keys[K_P256], "ES256");
    json_object_set_new(h, "jwk", json_string("not an object"));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "jwk: must be a JSON object");
}

static void test_nonce_and_url_are_required(void **state)
{
    json_t *h;
    char *long_url;

    (void)state;
    h = hdr_kid("ES256");
    json_object_del(h, "nonce");
    header_fails(h, keys[K_P256], ACME_ERR_BAD_NONCE, "no \"nonce\"");
    h = hdr_kid("ES256");
    json_object_set_new(h, "nonce", json_string("6S8IqOGY7eL2lsGoTZYifg=="));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"nonce\"");
    h = hdr_kid("ES256");
    json_object_set_new(h, "nonce", json_string("6S8IqOGY+eL2lsGoTZYifg"));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"nonce\" is not base64url");
    h = hdr_kid("ES256");
    json_object_set_new(h, "nonce", json_integer(12));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"nonce\" must be a string");
    h = hdr_kid("ES256");
    json_object_del(h, "url");
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "no \"url\"");
    h = hdr_kid("ES256");
    json_object_set_new(h, "url", json_null());
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "\"url\" must be a string");
    h = hdr_kid("ES256");
    json_object_set_new(h, "url", json_string("https://acme.example.com/a b"));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "printable ASCII");
    long_url = malloc(ACME_JWS_URL_MAX + 2);
    memset(long_url, 'a', ACME_JWS_URL_MAX + 1);
    long_url[ACME_JWS_URL_MAX + 1] = '\0';
    h = hdr_kid("ES256");
    json_object_set_new(h, "url", json_string(long_url));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "1 to 2048");
    free(long_url);
}

static void test_crit_and_b64_are_refused(void **state)
{
    json_t *h;

    (void)state;
    h = hdr_kid("ES256");
    json_object_set_new(h, "crit", json_pack("[s]", "exp"));
    json_object_set_new(h, "exp", json_integer(1));
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "crit");
    h = hdr_kid("ES256");
    json_object_set_new(h, "b64", json_false());
    header_fails(h, keys[K_P256], ACME_ERR_MALFORMED, "RFC 7797");
}

/* ---- account JWS: the serialization ----------------------------------------------------- */

static void test_body_must_be_flattened_json(void **state)
{
    json_t *o = jws_object(hdr_kid("ES256"), "{}", keys[K_P256]);
    const char *p = json_string_value(json_object_get(o, "protected"));
    const char *y = json_string_value(json_object_get(o, "payload"));
    const char *s = json_string_value(json_object_get(o, "signature"));
    char *body;
    json_t *g;

    (void)state;
    /* The compact serialization, and bodies that are no JSON object. */
    body = xasprintf("%s.%s.%s", p, y, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "flattened JSON serialization");
    free(body);
    parse_fails("[]", ERR_INVALID, ACME_ERR_MALFORMED, "flattened JSON serialization");
    parse_fails("", ERR_INVALID, ACME_ERR_MALFORMED, "not JSON");
    parse_fails("{\"protected\":", ERR_INVALID, ACME_ERR_MALFORMED, "not JSON");
    /* The general serialization. */
    g = json_pack("{s:s, s:[{s:s, s:s}]}", "payload", y, "signatures", "protected", p, "signature",
                  s);
    body = dump(g);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "general JSON serialization");
    free(body);
    /* An unprotected header; another member. */
    body = xasprintf("{\"protected\":\"%s\",\"header\":{\"kid\":\"x\"},\"payload\":\"%s\","
                     "\"signature\":\"%s\"}",
                     p, y, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "Unprotected Header");
    free(body);
    body = xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\",\"x\":1}", p, y,
                     s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "member \"x\"");
    free(body);
    /* A duplicate member. */
    body = xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\","
                     "\"payload\":\"%s\"}",
                     p, y, s, y);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "unique member names");
    free(body);
    /* Missing or empty members; a detached payload. */
    body = xasprintf("{\"protected\":\"%s\",\"signature\":\"%s\"}", p, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "MUST NOT be detached");
    free(body);
    body = xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"\"}", p, y);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "\"signature\" must be a non-empty");
    free(body);
    body = xasprintf("{\"protected\":\"\",\"payload\":\"%s\",\"signature\":\"%s\"}", y, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "\"protected\" must be a non-empty");
    free(body);
    body = xasprintf("{\"protected\":\"%s\",\"payload\":7,\"signature\":\"%s\"}", p, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "\"payload\" must be a string");
    free(body);
    /* Bad base64url in each member. */
    body = xasprintf("{\"protected\":\"%s=\",\"payload\":\"%s\",\"signature\":\"%s\"}", p, y, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "\"protected\" is not base64url");
    free(body);
    body = xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s==\"}", p, y, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "\"signature\" is not base64url");
    free(body);
    body = xasprintf("{\"protected\":\"%s\",\"payload\":\"e30+\",\"signature\":\"%s\"}", p, s);
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "\"payload\" is not base64url");
    free(body);
    json_decref(o);
}

static void test_header_and_payload_must_be_objects_without_duplicates(void **state)
{
    char *text, *body;

    (void)state;
    text = xasprintf("{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"%s\","
                     "\"url\":\"%s\"}",
                     KID, NONCE, URL);
    body = dump(jws_object_text(text, "{}", keys[K_P256], NULL));
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "protected header is not a JSON object");
    free(body);
    free(text);
    body = dump(jws_object_text("[\"ES256\"]", "{}", keys[K_P256], NULL));
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "protected header is not a JSON object");
    free(body);
    body = dump(jws_object_text("alg=ES256", "{}", keys[K_P256], NULL));
    parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "protected header is not a JSON object");
    free(body);

    static const char *const payloads[] = {
        "[1]", "\"text\"", "7", "null", "{\"a\":1,\"a\":2}", "{\"a\":1} x", "{\"a\":\"\\u0000\"}"};
    for (size_t i = 0; i < ARRAY_LEN(payloads); i++) {
        body = body_of(hdr_kid("ES256"), payloads[i], keys[K_P256]);
        parse_fails(body, ERR_INVALID, ACME_ERR_MALFORMED, "payload must be a JSON object");
        free(body);
    }
}

static void test_body_over_the_limit_is_too_large(void **state)
{
    char *good = body_of(hdr_kid("ES256"), "{}", keys[K_P256]);
    size_t n = strlen(good);
    char *big = malloc(ACME_JWS_BODY_MAX + 2);
    struct acme_jws *j = NULL;
    struct err e = {0};

    (void)state;
    /* Exactly at the limit (JSON whitespace after the object) passes; one byte more does not. */
    memcpy(big, good, n);
    memset(big + n, ' ', ACME_JWS_BODY_MAX + 1 - n);
    assert_int_equal(acme_jws_parse((unsigned char *)big, ACME_JWS_BODY_MAX, &j, &e), 0);
    acme_jws_free(j);
    j = NULL;
    assert_int_equal(acme_jws_parse((unsigned char *)big, ACME_JWS_BODY_MAX + 1, &j, &e), -1);
    assert_null(j);
    expect_err(&e, ERR_TOO_LARGE, ACME_ERR_MALFORMED, "over the limit");
    free(big);
    free(good);
}

/* ---- signatures ------------------------------------------------------------------------ */

/* o (taken) with its "signature" replaced by sig; the body. */
static char *with_signature(json_t *o, const unsigned char *sig, size_t len)
{
    char *sb = b64(sig, len);

    json_object_set_new(o, "signature", json_string(sb));
    free(sb);
    return dump(o);
}

/* Asserts that body parses but verifying it with key fails with kind/code/part. */
static void verify_fails(const char *body, EVP_PKEY *key, enum err_kind kind, const char *code,
                         const char *part)
{
    struct err e = {0};

    assert_int_equal(verify_body(body, key, &e), kind);
    expect_err(&e, kind, code, part);
}

static void test_signature_of_the_wrong_length_is_malformed(void **state)
{
    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        json_t *o = jws_object(hdr_kid(key_algs[t]), "{}", keys[t]);
        size_t len;
        unsigned char *sig = unb64(json_string_value(json_object_get(o, "signature")), &len);
        unsigned char *longer = calloc(1, len + 1);
        char *body;

        memcpy(longer, sig, len);
        json_incref(o);
        body = with_signature(o, sig, len - 1);
        verify_fails(body, keys[t], ERR_INVALID, ACME_ERR_MALFORMED, "signature is");
        free(body);
        body = with_signature(o, longer, len + 1);
        verify_fails(body, keys[t], ERR_INVALID, ACME_ERR_MALFORMED, "signature is");
        free(body);
        free(longer);
        free(sig);
    }
}

static void test_ecdsa_signature_is_r_and_s_not_der(void **state)
{
    json_t *o = jws_object(hdr_kid("ES256"), "{}", keys[K_P256]);
    const char *tbs_p = json_string_value(json_object_get(o, "protected"));
    char *tbs = xasprintf("%s.%s", tbs_p, json_string_value(json_object_get(o, "payload")));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[80];
    size_t der_len = sizeof(der);
    char *body;

    (void)state;
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, keys[K_P256], NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &der_len, (unsigned char *)tbs, strlen(tbs)), 1);
    EVP_MD_CTX_free(ctx);
    body = with_signature(o, der, der_len);
    verify_fails(body, keys[K_P256], ERR_INVALID, ACME_ERR_MALFORMED, "r || s");
    free(body);
    free(tbs);
}

static void test_flipped_bit_does_not_verify(void **state)
{
    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        json_t *o = jws_object(hdr_kid(key_algs[t]), "{\"a\":1}", keys[t]);
        size_t len;
        unsigned char *sig = unb64(json_string_value(json_object_get(o, "signature")), &len);
        char *body, *payload = b64s("{\"a\":2}");

        sig[len - 1] ^= 1;
        json_incref(o);
        body = with_signature(o, sig, len);
        verify_fails(body, keys[t], ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "does not verify");
        free(body);
        sig[len - 1] ^= 1;
        sig[0] ^= 0x40;
        json_incref(o);
        body = with_signature(o, sig, len);
        verify_fails(body, keys[t], ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "does not verify");
        free(body);
        /* The signature as made, over another payload. */
        sig[0] ^= 0x40;
        json_object_set_new(o, "payload", json_string(payload));
        body = with_signature(o, sig, len);
        verify_fails(body, keys[t], ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "does not verify");
        free(body);
        free(payload);
        free(sig);
    }
}

/* ---- JWKs -------------------------------------------------------------------------------- */

static void test_private_jwk_members_are_malformed(void **state)
{
    static const char *const members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

    (void)state;
    for (int t = 0; t < KEY_TYPES; t++)
        for (size_t i = 0; i < ARRAY_LEN(members); i++) {
            json_t *h = hdr_jwk(keys[t], key_algs[t]);
            json_object_set_new(h, "jwk", jwk_with(keys[t], members[i], "\"AQAB\""));
            header_fails(h, keys[t], ACME_ERR_MALFORMED, "private member");
        }
    jwk_fails("{\"kty\":\"oct\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}", ACME_ERR_MALFORMED,
              "private member \"k\"");
    /* RFC 7515 A.3's key as the RFC prints it, with its private "d". */
    jwk_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
              "\",\"d\":\"" A3_D "\"}",
              ACME_ERR_MALFORMED, "private member \"d\"");
}

/* key's RSA modulus bytes. */
static unsigned char *rsa_n(EVP_PKEY *key, size_t *len)
{
    BIGNUM *n = NULL;
    unsigned char *out;

    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    *len = (size_t)BN_num_bytes(n);
    out = malloc(*len + 1);
    BN_bn2bin(n, out);
    BN_free(n);
    return out;
}

/* An RSA JWK text of n (len bytes) and e (base64url). Caller frees. */
static char *rsa_jwk_text(const unsigned char *n, size_t len, const char *e)
{
    char *nb = b64(n, len), *text = xasprintf("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", nb, e);

    free(nb);
    return text;
}

static void test_weak_and_odd_rsa_keys_are_refused(void **state)
{
    size_t len;
    unsigned char *n = rsa_n(keys[K_RSA], &len), *padded = malloc(len + 1), big[1025];
    char *text;

    (void)state;
    header_fails(hdr_jwk(rsa1024, "RS256"), rsa1024, ACME_ERR_BAD_PUBLIC_KEY, "1024 bits");
    static const char *const bad_e[] = {"Ag", "AQ", "AQAAAAAAAAAAAQ", "AAAB"};
    static const char *const bad_e_why[] = {"odd", "greater than 1", "64 bits", "minimum"};
    for (size_t i = 0; i < ARRAY_LEN(bad_e); i++) {
        text = rsa_jwk_text(n, len, bad_e[i]);
        jwk_fails(text, i == 3 ? ACME_ERR_MALFORMED : ACME_ERR_BAD_PUBLIC_KEY, bad_e_why[i]);
        free(text);
    }
    /* A leading zero octet, an even modulus, one of 8193 bits. */
    padded[0] = 0;
    memcpy(padded + 1, n, len);
    text = rsa_jwk_text(padded, len + 1, "AQAB");
    jwk_fails(text, ACME_ERR_MALFORMED, "minimum number of octets");
    free(text);
    n[len - 1] &= 0xfe;
    text = rsa_jwk_text(n, len, "AQAB");
    jwk_fails(text, ACME_ERR_BAD_PUBLIC_KEY, "even");
    free(text);
    memset(big, 0xa5, sizeof(big));
    big[0] = 0x01;
    text = rsa_jwk_text(big, sizeof(big), "AQAB");
    jwk_fails(text, ACME_ERR_BAD_PUBLIC_KEY, "8193 bits");
    free(text);
    jwk_fails("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", ACME_ERR_MALFORMED, "\"n\" must be present");
    jwk_fails("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB=\"}", ACME_ERR_MALFORMED,
              "\"e\" is not base64url");
    free(n);
    free(padded);
}

static void test_ec_and_okp_keys_must_be_points_of_a_taken_curve(void **state)
{
    char *text, *x = b64s("0123456789abcdef0123456789abcde"); /* 31 bytes */

    (void)state;
    /* y's last bit flipped: (x, y) is no longer on P-256. */
    jwk_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X
              "\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}",
              ACME_ERR_BAD_PUBLIC_KEY, "not a point of P-256");
    /* P-256 coordinates declared as P-384, and P-384's as P-256. */
    jwk_fails("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
              ACME_ERR_MALFORMED, "48 bytes");
    json_t *jwk = jwk_with(keys[K_P384], "crv", "\"P-256\"");
    text = json_dumps(jwk, 0);
    jwk_fails(text, ACME_ERR_MALFORMED, "32 bytes");
    free(text);
    json_decref(jwk);
    jwk_fails("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}",
              ACME_ERR_BAD_PUBLIC_KEY, "P-521");
    jwk_fails("{\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", ACME_ERR_MALFORMED,
              "\"crv\" must be present");
    jwk_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\"}", ACME_ERR_MALFORMED,
              "\"y\" must be present");
    jwk_fails("{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" R8037_X "\"}", ACME_ERR_BAD_PUBLIC_KEY,
              "Ed448");
    jwk_fails("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" R8037_X "\"}", ACME_ERR_BAD_PUBLIC_KEY,
              "X25519");
    text = xasprintf("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", x);
    jwk_fails(text, ACME_ERR_MALFORMED, "32 bytes");
    free(text);
    free(x);
    jwk_fails("{\"kty\":\"oct-ish\"}", ACME_ERR_BAD_PUBLIC_KEY, "key type");
    jwk_fails("{\"crv\":\"P-256\"}", ACME_ERR_MALFORMED, "\"kty\" must be present");
    jwk_fails("[]", ACME_ERR_MALFORMED, "JSON object");
}

static void test_jwk_from_pkey_is_canonical_and_round_trips(void **state)
{
    static const char *const members[KEY_TYPES] = {"e,kty,n", "crv,kty,x,y", "crv,kty,x,y",
                                                   "crv,kty,x"};
    struct err e = {0};
    EVP_PKEY *x25519;

    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        json_t *jwk = pub_jwk(keys[t]);
        char names[64] = "";
        const char *k;
        json_t *v;
        EVP_PKEY *back = NULL;
        char *text = json_dumps(jwk, JSON_SORT_KEYS);
        json_t *sorted = json_loads(text, 0, NULL);

        json_object_foreach(sorted, k, v) snprintf(
            names + strlen(names), sizeof(names) - strlen(names), "%s%s", names[0] ? "," : "", k);
        assert_string_equal(names, members[t]);
        assert_int_equal(acme_jwk_to_pkey(jwk, &back, &e), 0);
        assert_int_equal(EVP_PKEY_eq(back, keys[t]), 1);
        if (t == K_RSA)
            assert_string_equal(json_string_value(json_object_get(jwk, "e")), "AQAB");
        EVP_PKEY_free(back);
        json_decref(sorted);
        free(text);
        json_decref(jwk);
    }
    x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    assert_null(acme_jwk_from_pkey(x25519, &e));
    expect_err(&e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY, "X25519");
    EVP_PKEY_free(x25519);
    assert_null(acme_jwk_from_pkey(NULL, &e));
    expect_err(&e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY, "missing");
}

/* ---- known answers -------------------------------------------------------------------- */

static void test_rfc7638_thumbprint_of_its_rsa_example(void **state)
{
    EVP_PKEY *key = jwk_ok("{\"kty\":\"RSA\",\"n\":\"" R7638_N "\",\"e\":\"AQAB\",\"alg\":"
                           "\"RS256\",\"kid\":\"2011-04-29\"}");
    char *t = thumbprint(key);
    struct err e = {0};
    json_t *jwk = acme_jwk_from_pkey(key, &e);

    (void)state;
    assert_string_equal(t, R7638_THUMBPRINT);
    assert_string_equal(json_string_value(json_object_get(jwk, "n")), R7638_N);
    json_decref(jwk);
    free(t);
    EVP_PKEY_free(key);
}

static void test_rfc8037_thumbprint_of_its_ed25519_example(void **state)
{
    EVP_PKEY *key = jwk_ok("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" R8037_X "\"}");
    char *t = thumbprint(key);

    (void)state;
    assert_string_equal(t, R8037_THUMBPRINT);
    free(t);
    EVP_PKEY_free(key);
}

/* Verifies a known JWS (signing input and base64url signature) under alg with key. */
static int verify_known(enum acme_alg alg, EVP_PKEY *key, const char *input, const char *sig_b64,
                        struct err *e)
{
    size_t len;
    struct acme_jws j = {.alg = alg,
                         .signing_input = (unsigned char *)input,
                         .signing_input_len = strlen(input),
                         .signature = unb64(sig_b64, &len)};
    int rc;

    j.signature_len = len;
    rc = acme_jws_verify(&j, key, e);
    free(j.signature);
    return rc;
}

static void test_rfc7515_a3_es256_example_verifies(void **state)
{
    EVP_PKEY *key =
        jwk_ok("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}");
    char *input = xstrdup(A3_INPUT);
    struct err e = {0};

    (void)state;
    if (verify_known(ACME_ALG_ES256, key, A3_INPUT, A3_SIG, &e) != 0)
        fail_msg("RFC 7515 A.3: %s", e.msg);
    input[strlen(input) - 1] ^= 1;
    assert_int_equal(verify_known(ACME_ALG_ES256, key, input, A3_SIG, &e), -1);
    expect_err(&e, ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "does not verify");
    assert_int_equal(verify_known(ACME_ALG_ES384, key, A3_INPUT, A3_SIG, &e), -1);
    expect_err(&e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG, "does not suit");
    free(input);
    EVP_PKEY_free(key);
}

/* RFC 8037 A.1's private key (test only: the module never sees one). */
static EVP_PKEY *rfc8037_private(void)
{
    size_t len;
    unsigned char *d = unb64(R8037_D, &len);
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d, len);

    free(d);
    assert_non_null(key);
    return key;
}

/* RFC 7515 A.3's private key (test only). */
static EVP_PKEY *rfc7515_a3_private(void)
{
    size_t xl, yl, dl;
    unsigned char *x = unb64(A3_X, &xl), *y = unb64(A3_Y, &yl), *d = unb64(A3_D, &dl);
    unsigned char point[65] = {0x04};
    BIGNUM *priv = BN_bin2bn(d, (int)dl, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;

    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(priv);
    free(x);
    free(y);
    free(d);
    return key;
}

static void test_rfc8037_a4_ed25519_example_verifies(void **state)
{
    EVP_PKEY *key = jwk_ok("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" R8037_X "\"}");
    EVP_PKEY *priv = rfc8037_private();
    char *input = xstrdup(R8037_INPUT), *sig_b64;
    unsigned char *sig;
    size_t len;
    struct err e = {0};

    (void)state;
    if (verify_known(ACME_ALG_EDDSA, key, R8037_INPUT, R8037_SIG, &e) != 0)
        fail_msg("RFC 8037 A.4: %s", e.msg);
    input[0] ^= 1;
    assert_int_equal(verify_known(ACME_ALG_EDDSA, key, input, R8037_SIG, &e), -1);
    expect_err(&e, ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "does not verify");
    /* Ed25519 is deterministic: the test's signer gives the RFC's signature. */
    sig = sign_raw(priv, R8037_INPUT, strlen(R8037_INPUT), &len);
    sig_b64 = b64(sig, len);
    assert_string_equal(sig_b64, R8037_SIG);
    free(sig_b64);
    free(sig);
    free(input);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(key);
}

/* ---- external account binding ------------------------------------------------------------- */

/* An EAB object: alg, kid, url over bound's JWK, MAC'd with mac_key (a nonce if with_nonce). */
static json_t *eab_object(const char *alg, const char *kid, const char *url, EVP_PKEY *bound,
                          int with_nonce)
{
    json_t *h = json_pack("{s:s, s:s, s:s}", "alg", alg, "kid", kid, "url", url);
    char *payload = dump(pub_jwk(bound));
    json_t *o;

    if (with_nonce)
        json_object_set_new(h, "nonce", json_string(NONCE));
    o = jws_object(h, payload, NULL);
    free(payload);
    return o;
}

static struct acme_eab *eab_ok(json_t *o, EVP_PKEY *account)
{
    struct acme_eab *b = NULL;
    struct err e = {0};

    if (acme_eab_parse(o, URL, account, &b, &e) != 0)
        fail_msg("eab: %s %s", e.code, e.msg);
    json_decref(o);
    return b;
}

static void eab_fails(json_t *o, EVP_PKEY *account, const char *code, const char *part)
{
    struct acme_eab *b = NULL;
    struct err e = {0};

    assert_int_equal(acme_eab_parse(o, URL, account, &b, &e), -1);
    assert_null(b);
    expect_err(&e, ERR_INVALID, code, part);
    json_decref(o);
}

static void test_eab_binds_the_account_key(void **state)
{
    static const char *const algs[] = {"HS256", "HS384", "HS512"};
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len;
    struct err e = {0};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(algs); i++) {
        mac_key = i == 0 ? EAB_KEY : EAB_KEY_LONG;
        struct acme_eab *b =
            eab_ok(eab_object(algs[i], "kid-1", URL, keys[K_P256], 0), keys[K_P256]);

        assert_string_equal(acme_alg_name(b->alg), algs[i]);
        assert_string_equal(b->kid, "kid-1");
        if (acme_eab_verify(b, (const unsigned char *)mac_key, strlen(mac_key), &e) != 0)
            fail_msg("%s: %s", algs[i], e.msg);
        /* The split: a MAC computed by whoever holds the key. */
        mac_len = hmac(algs[i], (const unsigned char *)mac_key, strlen(mac_key),
                       (const char *)b->signing_input, mac);
        assert_int_equal(acme_eab_check_mac(b, mac, mac_len, &e), 0);
        assert_int_equal(acme_eab_check_mac(b, mac, mac_len - 1, &e), -1);
        expect_err(&e, ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "MAC does not verify");
        acme_eab_free(b);
    }
    mac_key = EAB_KEY;
}

static void test_eab_with_another_mac_key_is_unauthorized(void **state)
{
    struct acme_eab *b =
        eab_ok(eab_object("HS256", "kid-1", URL, keys[K_ED25519], 0), keys[K_ED25519]);
    static const char wrong[] = "vouch-fuzz-eab-key-0123456789abd";
    struct err e = {0};

    (void)state;
    assert_int_equal(acme_eab_verify(b, (const unsigned char *)wrong, strlen(wrong), &e), -1);
    expect_err(&e, ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED, "MAC does not verify");
    /* HS256 with a key shorter than its hash is refused (RFC 7518 §3.2). */
    assert_int_equal(acme_eab_verify(b, (const unsigned char *)EAB_KEY, 31, &e), -1);
    expect_err(&e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG, "at least 32 bytes");
    acme_eab_free(b);

    b = eab_ok(eab_object("HS512", "kid-1", URL, keys[K_ED25519], 0), keys[K_ED25519]);
    assert_int_equal(acme_eab_verify(b, (const unsigned char *)EAB_KEY, 32, &e), -1);
    expect_err(&e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG, "at least 64 bytes");
    acme_eab_free(b);
}

static void test_eab_refusals(void **state)
{
    json_t *o;
    size_t len;
    unsigned char *mac;
    char *short_mac;

    (void)state;
    eab_fails(eab_object("HS256", "kid-1", URL "/x", keys[K_P256], 0), keys[K_P256],
              ACME_ERR_UNAUTHORIZED, "\"url\" MUST be the outer");
    eab_fails(eab_object("HS256", "kid-1", URL, other[K_P256], 0), keys[K_P256],
              ACME_ERR_UNAUTHORIZED, "not the key of the outer");
    eab_fails(eab_object("HS256", "kid-1", URL, keys[K_P384], 0), keys[K_P256],
              ACME_ERR_UNAUTHORIZED, "not the key of the outer");
    eab_fails(eab_object("HS256", "kid-1", URL, keys[K_P256], 1), keys[K_P256], ACME_ERR_MALFORMED,
              "\"nonce\" MUST NOT");
    eab_fails(eab_object("ES256", "kid-1", URL, keys[K_P256], 0), keys[K_P256],
              ACME_ERR_BAD_SIG_ALG, "not a MAC");
    eab_fails(eab_object("none", "kid-1", URL, keys[K_P256], 0), keys[K_P256], ACME_ERR_BAD_SIG_ALG,
              "not a MAC");
    eab_fails(eab_object("HS256", "k\xc3\xa9y", URL, keys[K_P256], 0), keys[K_P256],
              ACME_ERR_MALFORMED, "ASCII");
    o = jws_object(json_pack("{s:s, s:s}", "alg", "HS256", "url", URL), "{}", NULL);
    eab_fails(o, keys[K_P256], ACME_ERR_MALFORMED, "needs \"kid\" and \"url\"");
    o = jws_object(
        json_pack("{s:s, s:s, s:s, s:[s]}", "alg", "HS256", "kid", "k", "url", URL, "crit", "b64"),
        "{}", NULL);
    eab_fails(o, keys[K_P256], ACME_ERR_MALFORMED, "crit");
    /* The payload: empty, not a JWK, a private JWK. */
    o = jws_object(json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", "k", "url", URL), "", NULL);
    eab_fails(o, keys[K_P256], ACME_ERR_MALFORMED, "payload must be the account key");
    o = jws_object(json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", "k", "url", URL),
                   "{\"kty\":\"EC\"}", NULL);
    eab_fails(o, keys[K_P256], ACME_ERR_MALFORMED, "\"crv\" must be present");
    o = jws_object(json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", "k", "url", URL),
                   "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                   "\",\"d\":\"" A3_D "\"}",
                   NULL);
    eab_fails(o, keys[K_P256], ACME_ERR_MALFORMED, "private member");
    /* A truncated MAC; an unprotected header; not an object. */
    o = eab_object("HS256", "kid-1", URL, keys[K_P256], 0);
    mac = unb64(json_string_value(json_object_get(o, "signature")), &len);
    short_mac = b64(mac, 16);
    json_object_set_new(o, "signature", json_string(short_mac));
    eab_fails(o, keys[K_P256], ACME_ERR_MALFORMED, "MAC is 32 bytes, not 16");
    free(short_mac);
    free(mac);
    o = eab_object("HS256", "kid-1", URL, keys[K_P256], 0);
    json_object_set_new(o, "header", json_pack("{s:s}", "kid", "kid-2"));
    eab_fails(o, keys[K_P256], ACME_ERR_MALFORMED, "Unprotected Header");
    eab_fails(json_string("eyJhbGciOiJIUzI1NiJ9..."), keys[K_P256], ACME_ERR_MALFORMED,
              "flattened JSON serialization");
}

static void test_eab_inside_a_new_account_request(void **state)
{
    json_t *payload = json_pack("{s:b, s:o}", "termsOfServiceAgreed", 1, "externalAccountBinding",
                                eab_object("HS256", "ext-account-7", URL, keys[K_RSA], 0));
    char *text = json_dumps(payload, JSON_COMPACT);
    char *body = body_of(hdr_jwk(keys[K_RSA], "RS256"), text, keys[K_RSA]);
    struct acme_jws *j = parse_ok(body);
    struct acme_eab *b = NULL;
    struct err e = {0};

    (void)state;
    assert_int_equal(acme_jws_verify(j, j->jwk, &e), 0);
    assert_int_equal(acme_eab_parse(json_object_get(j->payload, "externalAccountBinding"), j->url,
                                    j->jwk, &b, &e),
                     0);
    assert_string_equal(b->kid, "ext-account-7");
    assert_int_equal(acme_eab_verify(b, (const unsigned char *)EAB_KEY, strlen(EAB_KEY), &e), 0);
    acme_eab_free(b);
    acme_jws_free(j);
    free(body);
    free(text);
    json_decref(payload);
}

/* ---- key change ------------------------------------------------------------------------- */

/* A keyChange body: the inner JWS by the new key (header taken) inside an outer one by the old. */
static char *key_change_body(json_t *inner_header)
{
    json_t *change = json_pack("{s:s, s:o}", "account", KID, "oldKey", pub_jwk(keys[K_P256]));
    char *change_text = json_dumps(change, JSON_COMPACT);
    json_t *inner = jws_object(inner_header, change_text, other[K_ED25519]);
    char *inner_text = json_dumps(inner, JSON_COMPACT);
    char *body = body_of(hdr_kid("ES256"), inner_text, keys[K_P256]);

    json_decref(change);
    json_decref(inner);
    free(change_text);
    free(inner_text);
    return body;
}

static void test_inner_jws_of_a_key_change(void **state)
{
    char *body = key_change_body(
        json_pack("{s:s, s:o, s:s}", "alg", "EdDSA", "jwk", pub_jwk(other[K_ED25519]), "url", URL));
    struct acme_jws *j = parse_ok(body), *inner = NULL;
    struct err e = {0};

    (void)state;
    assert_int_equal(acme_jws_verify(j, keys[K_P256], &e), 0);
    if (acme_jws_parse_inner(j->payload, &inner, &e) != 0)
        fail_msg("inner: %s", e.msg);
    assert_null(inner->nonce);
    assert_string_equal(inner->url, j->url);
    assert_int_equal(acme_jws_verify(inner, inner->jwk, &e), 0);
    assert_string_equal(json_string_value(json_object_get(inner->payload, "account")), KID);
    acme_jws_free(inner);
    acme_jws_free(j);
    free(body);

    /* A nonce, or a kid, in the inner JWS. */
    body = key_change_body(json_pack("{s:s, s:o, s:s, s:s}", "alg", "EdDSA", "jwk",
                                     pub_jwk(other[K_ED25519]), "url", URL, "nonce", NONCE));
    j = parse_ok(body);
    inner = NULL;
    assert_int_equal(acme_jws_parse_inner(j->payload, &inner, &e), -1);
    assert_null(inner);
    expect_err(&e, ERR_INVALID, ACME_ERR_MALFORMED, "MUST omit \"nonce\"");
    acme_jws_free(j);
    free(body);
    body = key_change_body(json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "kid", KID, "url", URL));
    j = parse_ok(body);
    assert_int_equal(acme_jws_parse_inner(j->payload, &inner, &e), -1);
    expect_err(&e, ERR_INVALID, ACME_ERR_MALFORMED, "MUST have a \"jwk\"");
    acme_jws_free(j);
    free(body);
}

static void test_free_functions_accept_null(void **state)
{
    (void)state;
    acme_jws_free(NULL);
    acme_eab_free(NULL);
    assert_string_equal(acme_alg_name(ACME_ALG_UNKNOWN), "unknown");
}

/* ---- the fuzzer's seed corpus ------------------------------------------------------------- */

/* Checks that body verifies (with key, or its own "jwk"), and writes it into dir if not NULL. */
static void corpus_add(const char *dir, const char *name, char *body, EVP_PKEY *key)
{
    struct err e = {0};
    char *path;
    FILE *f;

    if (verify_body(body, key, &e) != ERR_NONE)
        fail_msg("%s: %s", name, e.msg);
    if (dir != NULL) {
        path = xasprintf("%s/%s", dir, name);
        assert_non_null(f = fopen(path, "wb"));
        assert_int_equal(fwrite(body, 1, strlen(body), f), strlen(body));
        assert_int_equal(fclose(f), 0);
        free(path);
    }
    free(body);
}

/*
 * The seed corpus of fuzz/fuzz_jws.c, checked here and written into
 * $VOUCH_JWS_CORPUS when set: "jwk" requests of every key type, "kid" ones
 * signed with the RFC keys the fuzzer verifies them with, POST-as-GET, an EAB
 * MAC'd with its EAB key, a key change.
 */
static void test_fuzz_corpus_bodies_verify(void **state)
{
    const char *dir = getenv("VOUCH_JWS_CORPUS");
    EVP_PKEY *a3 = rfc7515_a3_private(), *ed = rfc8037_private();
    json_t *payload;
    char *text, *name;

    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        name = xasprintf("new-account-%s", key_names[t]);
        corpus_add(dir, name,
                   body_of(hdr_jwk(keys[t], key_algs[t]),
                           "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:a@example.org\"]}",
                           keys[t]),
                   NULL);
        free(name);
    }
    corpus_add(dir, "new-order-es256-kid",
               body_of(hdr_kid("ES256"),
                       "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}]}", a3),
               a3);
    corpus_add(dir, "post-as-get-eddsa-kid", body_of(hdr_kid("EdDSA"), "", ed), ed);
    payload = json_pack("{s:b, s:o}", "termsOfServiceAgreed", 1, "externalAccountBinding",
                        eab_object("HS256", "ext-account-7", URL, keys[K_P256], 0));
    text = json_dumps(payload, JSON_COMPACT);
    corpus_add(dir, "new-account-eab-hs256",
               body_of(hdr_jwk(keys[K_P256], "ES256"), text, keys[K_P256]), NULL);
    free(text);
    json_decref(payload);
    corpus_add(dir, "key-change",
               key_change_body(json_pack("{s:s, s:o, s:s}", "alg", "EdDSA", "jwk",
                                         pub_jwk(other[K_ED25519]), "url", URL)),
               keys[K_P256]);
    EVP_PKEY_free(a3);
    EVP_PKEY_free(ed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_round_trips_the_rfc4648_vectors),
        cmocka_unit_test(test_b64url_refuses_padding_foreign_bytes_and_loose_bits),
        cmocka_unit_test(test_jwk_request_round_trips_for_every_key_type),
        cmocka_unit_test(test_kid_request_verifies_with_the_account_key_only),
        cmocka_unit_test(test_empty_payload_is_post_as_get),
        cmocka_unit_test(test_unknown_header_members_are_ignored),
        cmocka_unit_test(test_alg_must_suit_the_key),
        cmocka_unit_test(test_none_macs_and_unknown_algs_are_refused),
        cmocka_unit_test(test_algorithms_list_the_account_algs),
        cmocka_unit_test(test_jwk_and_kid_exactly_one),
        cmocka_unit_test(test_nonce_and_url_are_required),
        cmocka_unit_test(test_crit_and_b64_are_refused),
        cmocka_unit_test(test_body_must_be_flattened_json),
        cmocka_unit_test(test_header_and_payload_must_be_objects_without_duplicates),
        cmocka_unit_test(test_body_over_the_limit_is_too_large),
        cmocka_unit_test(test_signature_of_the_wrong_length_is_malformed),
        cmocka_unit_test(test_ecdsa_signature_is_r_and_s_not_der),
        cmocka_unit_test(test_flipped_bit_does_not_verify),
        cmocka_unit_test(test_private_jwk_members_are_malformed),
        cmocka_unit_test(test_weak_and_odd_rsa_keys_are_refused),
        cmocka_unit_test(test_ec_and_okp_keys_must_be_points_of_a_taken_curve),
        cmocka_unit_test(test_jwk_from_pkey_is_canonical_and_round_trips),
        cmocka_unit_test(test_rfc7638_thumbprint_of_its_rsa_example),
        cmocka_unit_test(test_rfc8037_thumbprint_of_its_ed25519_example),
        cmocka_unit_test(test_rfc7515_a3_es256_example_verifies),
        cmocka_unit_test(test_rfc8037_a4_ed25519_example_verifies),
        cmocka_unit_test(test_eab_binds_the_account_key),
        cmocka_unit_test(test_eab_with_another_mac_key_is_unauthorized),
        cmocka_unit_test(test_eab_refusals),
        cmocka_unit_test(test_eab_inside_a_new_account_request),
        cmocka_unit_test(test_inner_jws_of_a_key_change),
        cmocka_unit_test(test_free_functions_accept_null),
        cmocka_unit_test(test_fuzz_corpus_bodies_verify),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
