/*
 * eab.c — external account binding (RFC 8555 §7.3.4): the MAC'd JWS inside a
 * newAccount payload that binds the new account key to an account the CA
 * knows by other means.  The structure and the key it binds are checked here;
 * the MAC needs the key, which the holder of it checks (acme_eab_verify or
 * acme_eab_check_mac).
 */
#include "acme/acme_internal.h"

#include <string.h>

#include <openssl/crypto.h>

#define WHAT "externalAccountBinding"

/* "alg" a MAC (badSignatureAlgorithm otherwise), ASCII "kid", no "nonce", "url" = outer_url. */
static int check_header(const json_t *h, const char *outer_url, struct acme_eab *b, struct err *e)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = NULL, *url = NULL;

    if (jws_header_no_extensions(h, WHAT, e) != 0)
        return -1;
    if (alg == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        WHAT ": \"alg\" must be present as a string (RFC 7515 §4.1.1)");
    if (!alg_is_mac(b->alg = alg_parse(alg)))
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG,
                        WHAT ": \"alg\" \"%.32s\" is not a MAC algorithm (HS256, HS384, HS512; "
                             "RFC 8555 §7.3.4)",
                        alg);
    if (json_object_get(h, "nonce") != NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        WHAT ": \"nonce\" MUST NOT be present (RFC 8555 §7.3.4)");
    if (jws_header_string(h, WHAT, "kid", ACME_EAB_KID_MAX, 1,
                          "RFC 8555 §7.3.4: the key identifier is an ASCII string", &kid, e) != 0 ||
        jws_header_string(h, WHAT, "url", ACME_JWS_URL_MAX, 0, "RFC 8555 §7.3.4", &url, e) != 0)
        return -1;
    if (kid == NULL || url == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        WHAT ": the protected header needs \"kid\" and \"url\" (RFC 8555 §7.3.4)");
    if (strcmp(url, outer_url) != 0)
        return err_setc(e, ERR_INVALID, ACME_ERR_UNAUTHORIZED,
                        WHAT ": \"url\" MUST be the outer JWS's \"url\" (RFC 8555 §7.3.4)");
    b->kid = xstrdup(kid);
    return 0;
}

/* The payload is a JWK of the same key as account_key (by RFC 7638 thumbprint). */
static int check_payload(const struct jws_parts *p, const EVP_PKEY *account_key, struct err *e)
{
    json_t *jwk = p->payload_len ? json_loadb((const char *)p->payload, p->payload_len,
                                              JSON_REJECT_DUPLICATES, NULL)
                                 : NULL;
    EVP_PKEY *key = NULL;
    char *bound = NULL, *account = NULL;
    int rc = -1;

    if (jwk == NULL) {
        err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                 WHAT ": the payload must be the account key as a JWK (RFC 8555 §7.3.4)");
        goto out;
    }
    if (acme_jwk_to_pkey(jwk, &key, e) != 0 || acme_jwk_thumbprint(key, &bound, e) != 0 ||
        acme_jwk_thumbprint(account_key, &account, e) != 0)
        goto out;
    if (strcmp(bound, account) != 0) {
        err_setc(e, ERR_INVALID, ACME_ERR_UNAUTHORIZED,
                 WHAT ": the payload is not the key of the outer JWS's \"jwk\" (RFC 8555 "
                      "§7.3.4, step 5)");
        goto out;
    }
    rc = 0;
out:
    json_decref(jwk);
    EVP_PKEY_free(key);
    free(bound);
    free(account);
    return rc;
}

int acme_eab_parse(const json_t *eab, const char *outer_url, const EVP_PKEY *account_key,
                   struct acme_eab **out, struct err *e)
{
    struct jws_parts p = {0};
    struct acme_eab *b = NULL;
    int rc = -1;

    if (outer_url == NULL || account_key == NULL)
        return err_setc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL,
                        WHAT ": no outer url or account key to check against");
    if (jws_split(eab, WHAT, &p, e) != 0)
        return -1;
    b = xcalloc(1, sizeof(*b));
    if (check_header(p.header, outer_url, b, e) != 0)
        goto out;
    if (p.signature_len != alg_sig_len(b->alg)) {
        err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                 WHAT ": an %s MAC is %zu bytes, not %zu (RFC 7518 §3.2)", acme_alg_name(b->alg),
                 alg_sig_len(b->alg), p.signature_len);
        goto out;
    }
    if (check_payload(&p, account_key, e) != 0)
        goto out;
    b->signing_input = p.signing_input;
    b->signing_input_len = p.signing_input_len;
    b->mac = p.signature;
    b->mac_len = p.signature_len;
    p.signing_input = p.signature = NULL;
    *out = b;
    b = NULL;
    rc = 0;
out:
    jws_parts_clear(&p);
    acme_eab_free(b);
    return rc;
}

int acme_eab_check_mac(const struct acme_eab *eab, const unsigned char *mac, size_t mac_len,
                       struct err *e)
{
    if (eab == NULL || mac == NULL || mac_len != eab->mac_len ||
        CRYPTO_memcmp(mac, eab->mac, mac_len) != 0)
        return err_setc(e, ERR_UNAUTHENTICATED, ACME_ERR_UNAUTHORIZED,
                        WHAT ": the MAC does not verify with the key of \"kid\" (RFC 8555 §7.3.4, "
                             "step 4)");
    return 0;
}

int acme_eab_verify(const struct acme_eab *eab, const unsigned char *key, size_t key_len,
                    struct err *e)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    int rc;

    if (eab == NULL || key == NULL)
        return err_setc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, WHAT ": no MAC key");
    if (key_len < alg_sig_len(eab->alg))
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG,
                        WHAT ": %s needs a key of at least %zu bytes; this one has %zu (RFC 7518 "
                             "§3.2)",
                        acme_alg_name(eab->alg), alg_sig_len(eab->alg), key_len);
    if (alg_hmac(eab->alg, key, key_len, eab->signing_input, eab->signing_input_len, mac, &mac_len,
                 e) != 0)
        return -1;
    rc = acme_eab_check_mac(eab, mac, mac_len, e);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

void acme_eab_free(struct acme_eab *eab)
{
    if (eab == NULL)
        return;
    free(eab->kid);
    free(eab->signing_input);
    free(eab->mac);
    free(eab);
}
