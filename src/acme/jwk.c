/*
 * jwk.c — JSON Web Keys to and from OpenSSL public keys (RFC 7517; RFC 7518
 * §6 for RSA and EC; RFC 8037 §2 for Ed25519) and their RFC 7638
 * thumbprints.  Keys are built with EVP_PKEY_fromdata (an EC key: a
 * per-curve template's parameters and the encoded point), never by the
 * deprecated per-type APIs.
 */
#include "acme/acme_internal.h"

#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#define RSA_BITS_MIN    2048
#define RSA_BITS_MAX    8192
#define RSA_E_BYTES_MAX 8 /* as OpenSSL's RSA_MAX_PUBEXP_BITS for large moduli */
#define ED25519_BYTES   32

/* Members only a private JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

/* The EC curves taken: JWK "crv", OpenSSL group name, coordinate length. */
static const struct curve {
    const char *crv, *group;
    size_t len;
    enum acme_key_kind kind;
} curves[] = {
    {"P-256", "prime256v1", 32, ACME_KEY_P256},
    {"P-384", "secp384r1", 48, ACME_KEY_P384},
};

enum acme_key_kind acme_key_kind(const EVP_PKEY *key)
{
    char group[64];

    if (key == NULL)
        return ACME_KEY_OTHER;
    if (EVP_PKEY_is_a(key, "RSA"))
        return ACME_KEY_RSA;
    if (EVP_PKEY_is_a(key, "ED25519"))
        return ACME_KEY_ED25519;
    if (!EVP_PKEY_is_a(key, "EC") ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) != 1) {
        ERR_clear_error();
        return ACME_KEY_OTHER;
    }
    for (size_t i = 0; i < ARRAY_LEN(curves); i++)
        if (strcmp(group, curves[i].group) == 0 || strcmp(group, curves[i].crv) == 0)
            return curves[i].kind;
    return ACME_KEY_OTHER;
}

/* ---- JWK -> EVP_PKEY ------------------------------------------------------------ */

/*
 * Member name of jwk, a base64url string, decoded into *out (caller frees).
 * Missing, not a string or not base64url is "malformed" citing rule.
 */
static int b64_member(const json_t *jwk, const char *name, const char *rule, unsigned char **out,
                      size_t *len, struct err *e)
{
    const json_t *v = json_object_get(jwk, name);

    if (!json_is_string(v))
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jwk: \"%s\" must be present as a string (%s)", name, rule);
    if (base64url_decode(json_string_value(v), json_string_length(v), out, len) != 0)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jwk: \"%s\" is not base64url without padding (%s, RFC 7515 §2)", name,
                        rule);
    return 0;
}

/* The string member "crv" of jwk (borrowed); NULL with e set if absent or not a string. */
static const char *crv_member(const json_t *jwk, const char *rule, struct err *e)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));

    if (crv == NULL)
        err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                 "jwk: \"crv\" must be present as a string (%s)", rule);
    return crv;
}

/* A public key of OpenSSL type from the parameters in bld; NULL (queue left for the caller) on
 * failure. */
static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *key = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return key;
}

/* A Base64urlUInt (RFC 7518 §2): at least one octet, no leading zero octet. */
static int check_uint(const unsigned char *v, size_t len, const char *name, struct err *e)
{
    if (len == 0 || (len > 1 && v[0] == 0))
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jwk: \"%s\" must use the minimum number of octets (RFC 7518 §2, "
                        "Base64urlUInt)",
                        name);
    return 0;
}

/* n and e of an RSA key taken here: 2048..8192-bit odd modulus, odd e > 1 of at most 64 bits. */
static int check_rsa(const BIGNUM *n, const BIGNUM *ev, struct err *e)
{
    int bits = BN_num_bits(n);

    if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX)
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: an RSA modulus of %d bits is not taken (%d to %d bits; RFC 8555 "
                        "§6.2)",
                        bits, RSA_BITS_MIN, RSA_BITS_MAX);
    if (!BN_is_odd(n))
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: an even RSA modulus is not an RSA key (RFC 8017 §3.1)");
    if (!BN_is_odd(ev) || BN_is_one(ev) || BN_num_bytes(ev) > RSA_E_BYTES_MAX)
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: the RSA public exponent must be odd, greater than 1 and at most "
                        "64 bits (RFC 8017 §3.1)");
    return 0;
}

static int rsa_from_jwk(const json_t *jwk, EVP_PKEY **out, struct err *e)
{
    unsigned char *n = NULL, *ev = NULL;
    size_t n_len = 0, e_len = 0;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int rc = -1;

    if (b64_member(jwk, "n", "RFC 7518 §6.3.1.1", &n, &n_len, e) != 0 ||
        b64_member(jwk, "e", "RFC 7518 §6.3.1.2", &ev, &e_len, e) != 0 ||
        check_uint(n, n_len, "n", e) != 0 || check_uint(ev, e_len, "e", e) != 0)
        goto out;
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(ev, (int)e_len, NULL);
    if (bn_n == NULL || bn_e == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL) {
        err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jwk: out of memory");
        goto out;
    }
    if (check_rsa(bn_n, bn_e, e) != 0)
        goto out;
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1 ||
        (*out = pkey_fromdata("RSA", bld)) == NULL) {
        err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jwk: cannot build the RSA key");
        goto out;
    }
    rc = 0;
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    free(ev);
    return rc;
}

/*
 * Whether the point is a valid public key of its curve: on the curve, not at
 * infinity, its coordinates in range.  P-256 and P-384 have cofactor 1, so a
 * point on the curve is in the group of prime order: the quick check is the
 * whole check (SEC 1 §3.2.2), as for a CSR's key (src/core/key.c).  The full
 * check multiplies the point by the order, which costs more than the
 * signature verification it precedes, and every POST signed by an account
 * rebuilds its key.
 */
static int public_check(EVP_PKEY *key)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    int ok = ctx != NULL && EVP_PKEY_public_check_quick(ctx) == 1;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/*
 * Parameters-only keys of the curves taken, made once: a key made from a
 * group name builds its EC_GROUP each time (~20 us); copying a template's
 * parameters shares the one built here (as src/core/csr.c does for CSRs).
 */
static EVP_PKEY *ec_templates[ARRAY_LEN(curves)];
static pthread_once_t ec_templates_once = PTHREAD_ONCE_INIT;

static void ec_templates_make(void)
{
    for (size_t i = 0; i < ARRAY_LEN(curves); i++) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        OSSL_PARAM params[2];

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     (char *)curves[i].group, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &ec_templates[i], EVP_PKEY_KEY_PARAMETERS, params) != 1)
            ec_templates[i] = NULL;
        EVP_PKEY_CTX_free(ctx);
    }
}

/* The point 04 || x || y on c as a key; "badPublicKey" when it is not on the curve. */
static int ec_build(const struct curve *c, const unsigned char *x, const unsigned char *y,
                    EVP_PKEY **out, struct err *e)
{
    const EVP_PKEY *template;
    unsigned char point[1 + 2 * 48];
    EVP_PKEY *key;

    point[0] = 0x04; /* SEC 1 §2.3.3, uncompressed */
    memcpy(point + 1, x, c->len);
    memcpy(point + 1 + c->len, y, c->len);
    if (pthread_once(&ec_templates_once, ec_templates_make) != 0 ||
        (template = ec_templates[c - curves]) == NULL || (key = EVP_PKEY_new()) == NULL)
        return err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jwk: cannot build %s keys",
                         c->crv);
    if (EVP_PKEY_copy_parameters(key, template) != 1 ||
        EVP_PKEY_set1_encoded_public_key(key, point, 1 + 2 * c->len) != 1 || !public_check(key)) {
        EVP_PKEY_free(key);
        ERR_clear_error();
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: (x, y) is not a point of %s (RFC 7518 §6.2.1, SEC 1 §3.2.2)", c->crv);
    }
    *out = key;
    return 0;
}

static int ec_from_jwk(const json_t *jwk, EVP_PKEY **out, struct err *e)
{
    const char *crv = crv_member(jwk, "RFC 7518 §6.2.1.1", e);
    const struct curve *c = NULL;
    unsigned char *x = NULL, *y = NULL;
    size_t x_len = 0, y_len = 0;
    int rc = -1;

    if (crv == NULL)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(curves); i++)
        if (strcmp(crv, curves[i].crv) == 0)
            c = &curves[i];
    if (c == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: EC curve \"%.32s\" is not taken (P-256, P-384)", crv);
    if (b64_member(jwk, "x", "RFC 7518 §6.2.1.2", &x, &x_len, e) != 0 ||
        b64_member(jwk, "y", "RFC 7518 §6.2.1.3", &y, &y_len, e) != 0)
        goto out;
    if (x_len != c->len || y_len != c->len) {
        err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                 "jwk: \"x\" and \"y\" of %s must be %zu bytes each (RFC 7518 §6.2.1.2, "
                 "§6.2.1.3)",
                 c->crv, c->len);
        goto out;
    }
    rc = ec_build(c, x, y, out, e);
out:
    free(x);
    free(y);
    return rc;
}

static int okp_from_jwk(const json_t *jwk, EVP_PKEY **out, struct err *e)
{
    const char *crv = crv_member(jwk, "RFC 8037 §2", e);
    unsigned char *x = NULL;
    size_t x_len = 0;
    OSSL_PARAM_BLD *bld = NULL;
    int rc = -1;

    if (crv == NULL)
        return -1;
    if (strcmp(crv, "Ed25519") != 0)
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: OKP curve \"%.32s\" is not taken (EdDSA with Ed25519 only; RFC "
                        "8555 §6.2)",
                        crv);
    if (b64_member(jwk, "x", "RFC 8037 §2", &x, &x_len, e) != 0)
        return -1;
    if (x_len != ED25519_BYTES) {
        err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                 "jwk: an Ed25519 \"x\" is 32 bytes (RFC 8037 §2, RFC 8032 §5.1.5)");
        goto out;
    }
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, x_len) != 1 ||
        (*out = pkey_fromdata("ED25519", bld)) == NULL) {
        err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jwk: cannot build the Ed25519 key");
        goto out;
    }
    rc = 0;
out:
    OSSL_PARAM_BLD_free(bld);
    free(x);
    return rc;
}

int acme_jwk_to_pkey(const json_t *jwk, EVP_PKEY **out, struct err *e)
{
    const char *kty;
    EVP_PKEY *key = NULL;
    int rc;

    if (!json_is_object(jwk))
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jwk: must be a JSON object (RFC 7517 §4)");
    for (size_t i = 0; i < ARRAY_LEN(private_members); i++)
        if (json_object_get(jwk, private_members[i]) != NULL)
            return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                            "jwk: private member \"%s\" present; a request carries the public "
                            "key only (RFC 8555 §6.2, RFC 7518 §6)",
                            private_members[i]);
    if ((kty = json_string_value(json_object_get(jwk, "kty"))) == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jwk: \"kty\" must be present as a string (RFC 7517 §4.1)");
    if (strcmp(kty, "RSA") == 0)
        rc = rsa_from_jwk(jwk, &key, e);
    else if (strcmp(kty, "EC") == 0)
        rc = ec_from_jwk(jwk, &key, e);
    else if (strcmp(kty, "OKP") == 0)
        rc = okp_from_jwk(jwk, &key, e);
    else
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: key type \"%.16s\" is not taken (RSA, EC, OKP; RFC 7518 §6.1)", kty);
    if (rc == 0)
        *out = key;
    return rc;
}

/* ---- EVP_PKEY -> JWK ------------------------------------------------------------ */

/* base64url of bn in exactly len bytes, or in its minimal length when len is 0. */
static char *bn_b64url(const BIGNUM *bn, int len)
{
    int n = len > 0 ? len : BN_num_bytes(bn);
    unsigned char *buf = xmalloc((size_t)n + 1);
    char *out = NULL;

    if ((len > 0 ? BN_bn2binpad(bn, buf, len) : BN_bn2bin(bn, buf)) == n)
        out = base64url_encode(buf, (size_t)n);
    free(buf);
    return out;
}

/*
 * {"kty": kty, "crv": crv (if not NULL), na: a, nb: b (if nb is not NULL)}.
 * Takes a and b (freed here); NULL when one that is needed is NULL.
 */
static json_t *jwk_object(const char *kty, const char *crv, const char *na, char *a, const char *nb,
                          char *b)
{
    json_t *o = NULL;

    if (a != NULL && (nb == NULL || b != NULL)) {
        o = json_pack("{s:s, s:s}", "kty", kty, na, a);
        if (o != NULL && crv != NULL)
            json_object_set_new(o, "crv", json_string(crv));
        if (o != NULL && nb != NULL)
            json_object_set_new(o, nb, json_string(b));
    }
    free(a);
    free(b);
    return o;
}

static json_t *rsa_to_jwk(const EVP_PKEY *key)
{
    BIGNUM *n = NULL, *ev = NULL;
    json_t *o = NULL;

    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &ev) == 1)
        o = jwk_object("RSA", NULL, "n", bn_b64url(n, 0), "e", bn_b64url(ev, 0));
    BN_free(n);
    BN_free(ev);
    return o;
}

static const struct curve *curve_of(enum acme_key_kind kind)
{
    for (size_t i = 0; i < ARRAY_LEN(curves); i++)
        if (curves[i].kind == kind)
            return &curves[i];
    return NULL;
}

static json_t *ec_to_jwk(const EVP_PKEY *key, const struct curve *c)
{
    BIGNUM *x = NULL, *y = NULL;
    json_t *o = NULL;

    if (c != NULL && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1)
        o = jwk_object("EC", c->crv, "x", bn_b64url(x, (int)c->len), "y",
                       bn_b64url(y, (int)c->len));
    BN_free(x);
    BN_free(y);
    return o;
}

static json_t *ed25519_to_jwk(const EVP_PKEY *key)
{
    unsigned char x[ED25519_BYTES];
    size_t len = sizeof(x);

    if (EVP_PKEY_get_raw_public_key(key, x, &len) != 1 || len != sizeof(x))
        return NULL;
    return jwk_object("OKP", "Ed25519", "x", base64url_encode(x, len), NULL, NULL);
}

json_t *acme_jwk_from_pkey(const EVP_PKEY *key, struct err *e)
{
    enum acme_key_kind kind = acme_key_kind(key);
    json_t *o = NULL;

    if (kind == ACME_KEY_RSA)
        o = rsa_to_jwk(key);
    else if (kind == ACME_KEY_ED25519)
        o = ed25519_to_jwk(key);
    else if (kind != ACME_KEY_OTHER)
        o = ec_to_jwk(key, curve_of(kind));
    else
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_PUBLIC_KEY,
                        "jwk: a %s key has no JWK here (RSA, EC P-256/P-384, Ed25519)",
                        key ? EVP_PKEY_get0_type_name(key) : "missing"),
               NULL;
    if (o == NULL)
        err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jwk: cannot read the public key");
    return o;
}

int acme_jwk_thumbprint(const EVP_PKEY *key, char **out, struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    json_t *jwk = acme_jwk_from_pkey(key, e);
    char *text;
    int ok;

    if (jwk == NULL)
        return -1;
    /* RFC 7638 §3.3: required members only, sorted, no whitespace; the values need no escaping. */
    text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    if (text == NULL)
        return err_setc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jwk: cannot serialize");
    ok = EVP_Digest(text, strlen(text), md, &md_len, EVP_sha256(), NULL) == 1;
    free(text);
    if (!ok)
        return err_osslc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jwk: SHA-256 failed");
    *out = base64url_encode(md, md_len);
    return 0;
}
