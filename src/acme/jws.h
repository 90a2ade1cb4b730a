/*
 * jws.h — the JWS and JWK handling of ACME (RFC 8555 §6.2, §7.3.4, §7.3.5;
 * RFC 7515, 7517, 7518, 7638, 8037), with no transport: bytes or JSON in, a
 * parsed request or a verdict out.  No HTTP, no store, no private key.
 *
 * Errors fill a struct err: kind ERR_INVALID (ERR_UNAUTHENTICATED for a
 * signature or MAC that does not verify, ERR_TOO_LARGE for a body over
 * ACME_JWS_BODY_MAX, ERR_INTERNAL for a fault of ours) and as code the suffix
 * of the ACME problem type ("urn:ietf:params:acme:error:<code>"), one of the
 * ACME_ERR_* below, with a message naming the rule broken.
 */
#ifndef VOUCH_ACME_JWS_H
#define VOUCH_ACME_JWS_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "lib/util.h"

/* A request body larger than this is refused before it is parsed. */
#ifndef ACME_JWS_BODY_MAX
#define ACME_JWS_BODY_MAX (64 * 1024)
#endif
/* Longest "url" and "kid" (an account URL) taken, in bytes. */
#define ACME_JWS_URL_MAX 2048
/* Longest "nonce" taken, in base64url characters. */
#define ACME_JWS_NONCE_MAX 128
/* Longest EAB key identifier taken, in bytes. */
#define ACME_EAB_KID_MAX 256

/* Problem type suffixes (RFC 8555 §6.7) used as struct err codes. */
#define ACME_ERR_MALFORMED       "malformed"
#define ACME_ERR_BAD_SIG_ALG     "badSignatureAlgorithm"
#define ACME_ERR_BAD_PUBLIC_KEY  "badPublicKey"
#define ACME_ERR_BAD_NONCE       "badNonce"
#define ACME_ERR_UNAUTHORIZED    "unauthorized"
#define ACME_ERR_SERVER_INTERNAL "serverInternal"

/* JWS "alg" values (RFC 7518 §3.1, RFC 8037 §3.1) this module knows. */
enum acme_alg {
    ACME_ALG_UNKNOWN = 0,
    ACME_ALG_RS256, /* RSASSA-PKCS1-v1_5 with SHA-256 */
    ACME_ALG_ES256, /* ECDSA P-256 with SHA-256 */
    ACME_ALG_ES384, /* ECDSA P-384 with SHA-384 */
    ACME_ALG_EDDSA, /* EdDSA; only Ed25519 keys are taken */
    ACME_ALG_HS256, /* HMAC, for external account binding only */
    ACME_ALG_HS384,
    ACME_ALG_HS512,
};

/* The "alg" name of a ("RS256"); "unknown" for ACME_ALG_UNKNOWN. */
const char *acme_alg_name(enum acme_alg a);

/*
 * The "alg" values an account JWS may use, as a new JSON array (caller
 * decrefs): the "algorithms" member of a badSignatureAlgorithm problem
 * (RFC 8555 §6.2).
 */
json_t *acme_jws_algorithms(void);

/* ---- JWK (RFC 7517, RFC 7518 §6, RFC 8037 §2) ------------------------------ */

/*
 * The public key a JWK describes: RSA (n, e; a modulus of 2048 to 8192 bits,
 * e odd, greater than 1 and at most 64 bits), EC P-256 or P-384 (x and y of
 * the curve's full length, a point on the curve) or OKP Ed25519 (x, 32
 * bytes).  Members other than the required ones are ignored, except private
 * members ("d", "p", "q", "dp", "dq", "qi", "oth", "k"), which make the JWK
 * malformed.  Structure errors are "malformed"; a key of a type, curve or size
 * not taken is "badPublicKey".  *out (caller frees with EVP_PKEY_free) is
 * set only on success.
 */
int acme_jwk_to_pkey(const json_t *jwk, EVP_PKEY **out, struct err *e);

/*
 * The canonical public JWK of key: only the required members (RFC 7638 §3.2),
 * base64url values of minimal (RSA) or fixed (EC, OKP) length.  A new object
 * (caller decrefs), or NULL with e set ("badPublicKey") for a key of another
 * type.  What to store for an account key.
 */
json_t *acme_jwk_from_pkey(const EVP_PKEY *key, struct err *e);

/*
 * The RFC 7638 thumbprint of key: base64url(SHA-256(canonical JWK as JSON
 * with members in lexicographic order, no whitespace)).  *out (43 characters,
 * caller frees) set only on success.  The account key identity, and the
 * second half of an ACME key authorization (RFC 8555 §8.1).
 */
int acme_jwk_thumbprint(const EVP_PKEY *key, char **out, struct err *e);

/* ---- account JWS (RFC 8555 §6.2) ------------------------------------------- */

/*
 * One parsed request JWS.  Every member is owned by the struct and read-only
 * to callers; acme_jws_free releases them.
 */
struct acme_jws {
    enum acme_alg alg; /* RS256, ES256, ES384 or EdDSA */
    char *nonce;       /* the "nonce" header, base64url as sent; NULL in an inner JWS */
    char *url;         /* the "url" header */
    char *kid;         /* the "kid" header (an account URL), or NULL with jwk */
    EVP_PKEY *jwk;     /* the key of the "jwk" header, or NULL with kid */
    json_t *payload;   /* the payload object; NULL for POST-as-GET */
    int post_as_get;   /* the payload is the empty string (RFC 8555 §6.3) */
    /* What the signature covers: ASCII(protected || '.' || payload), as sent. */
    unsigned char *signing_input;
    size_t signing_input_len;
    unsigned char *signature; /* decoded */
    size_t signature_len;
};

/*
 * Parses a request body: a JWS in the flattened JSON serialization (RFC 7515
 * §7.2.2) of at most ACME_JWS_BODY_MAX bytes with exactly the members
 * "protected", "payload" and "signature" (no unprotected "header", no general
 * or compact form, no duplicate member anywhere).  The protected header has an
 * "alg" of acme_jws_algorithms() ("none", MACs and others are
 * "badSignatureAlgorithm"), exactly one of "jwk" and "kid", a base64url
 * "nonce" (missing: "badNonce", RFC 8555 §6.5) and a "url", and no "crit"
 * (RFC 7515 §4.1.11: no extension is understood here) or "b64".  The payload
 * is a JSON object or empty (POST-as-GET).  A "jwk" is turned into a key
 * (acme_jwk_to_pkey) whose type must suit "alg".
 *
 * Neither the signature, nor the nonce's freshness, nor the url's match with
 * the request URL is checked here.  *out (caller frees with acme_jws_free)
 * set only on success.
 */
int acme_jws_parse(const unsigned char *body, size_t len, struct acme_jws **out, struct err *e);

/*
 * Parses the inner JWS of a keyChange request (RFC 8555 §7.3.5), obj being
 * the outer JWS's payload: as acme_jws_parse, except that "jwk" is required
 * and "nonce" must be absent.  The caller compares the url with the outer one.
 */
int acme_jws_parse_inner(const json_t *obj, struct acme_jws **out, struct err *e);

/*
 * Verifies jws's signature with key (jws->jwk for a "jwk" request, the
 * account's key for a "kid" one; never NULL): the key's type must suit the
 * "alg" ("badSignatureAlgorithm" otherwise: RS256 an RSA key, ES256 a P-256
 * key, ES384 a P-384 key, EdDSA an Ed25519 key), the signature be of the
 * algorithm's length ("malformed" otherwise: r||s of 64 or 96 bytes for ES256
 * and ES384, RFC 7518 §3.4) and verify (ERR_UNAUTHENTICATED, "unauthorized",
 * otherwise).  0 when it does.
 */
int acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key, struct err *e);

void acme_jws_free(struct acme_jws *jws);

/* ---- external account binding (RFC 8555 §7.3.4) ---------------------------- */

/*
 * An external account binding whose structure was checked: what the holder of
 * the MAC key needs to check its MAC.  Owned by the struct; acme_eab_free.
 */
struct acme_eab {
    enum acme_alg alg; /* HS256, HS384 or HS512 */
    char *kid;         /* the EAB key identifier */
    unsigned char *signing_input;
    size_t signing_input_len;
    unsigned char *mac; /* the decoded "signature", of the algorithm's length */
    size_t mac_len;
};

/*
 * Checks the "externalAccountBinding" member of a newAccount payload, a
 * flattened JWS: "alg" HS256, HS384 or HS512 (others "badSignatureAlgorithm"),
 * an ASCII "kid" of at most ACME_EAB_KID_MAX bytes, no "nonce", a "url" equal
 * to outer_url (else "unauthorized"), no "crit", a MAC of the algorithm's
 * length, and as payload a JWK of the same key as account_key, the outer
 * JWS's "jwk" (compared by RFC 7638 thumbprint; another key is
 * "unauthorized").  The MAC itself is not checked: the key is not known here.
 * *out (caller frees with acme_eab_free) set only on success.
 */
int acme_eab_parse(const json_t *eab, const char *outer_url, const EVP_PKEY *account_key,
                   struct acme_eab **out, struct err *e);

/*
 * Checks eab's MAC with the MAC key (key_len bytes): HMAC over the signing
 * input with the algorithm's hash (EVP_MAC), compared in constant time.  A key
 * shorter than the hash output is refused (RFC 7518 §3.2,
 * "badSignatureAlgorithm"); a MAC that does not match is ERR_UNAUTHENTICATED,
 * "unauthorized".  0 when it matches.
 */
int acme_eab_verify(const struct acme_eab *eab, const unsigned char *key, size_t key_len,
                    struct err *e);

/*
 * Compares eab's MAC in constant time with mac, computed elsewhere by the
 * holder of the key over eab->signing_input with eab->alg's hash.  0 when
 * equal; ERR_UNAUTHENTICATED, "unauthorized" otherwise.
 */
int acme_eab_check_mac(const struct acme_eab *eab, const unsigned char *mac, size_t mac_len,
                       struct err *e);

void acme_eab_free(struct acme_eab *eab);

#endif
