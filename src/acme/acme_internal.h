/*
 * acme_internal.h — what the files of src/acme share and no caller needs:
 * the algorithm table, key classification, and the split of a flattened JWS
 * into its decoded parts.
 */
#ifndef VOUCH_ACME_INTERNAL_H
#define VOUCH_ACME_INTERNAL_H

#include "acme/jws.h"

/* The key types JWS algorithms are checked against. */
enum acme_key_kind {
    ACME_KEY_OTHER = 0,
    ACME_KEY_RSA,
    ACME_KEY_P256,
    ACME_KEY_P384,
    ACME_KEY_ED25519,
};

/* What kind of key key is; ACME_KEY_OTHER for NULL or a type not taken. */
enum acme_key_kind acme_key_kind(const EVP_PKEY *key);

/* ---- alg.c ------------------------------------------------------------------ */

/* The algorithm named exactly name (RFC 7515 §4.1.1: case-sensitive); ACME_ALG_UNKNOWN if none. */
enum acme_alg alg_parse(const char *name);
/* Whether a may sign an account JWS (RS256, ES256, ES384, EdDSA). */
int alg_is_account(enum acme_alg a);
/* Whether a is an HMAC (HS256, HS384, HS512). */
int alg_is_mac(enum acme_alg a);
/* Length of a's signature or MAC in bytes; 0 when it depends on the key (RS256). */
size_t alg_sig_len(enum acme_alg a);
/* 0 if key's type suits a; -1 with e set ("badSignatureAlgorithm") otherwise. */
int alg_key_check(enum acme_alg a, const EVP_PKEY *key, struct err *e);
/*
 * Verifies sig over tbs with key under account algorithm a (whose fit with the
 * key was checked).  0 when it verifies; -1 with e set otherwise: "malformed"
 * for a signature of the wrong length, ERR_UNAUTHENTICATED "unauthorized" for
 * one that does not verify.
 */
int alg_verify(enum acme_alg a, EVP_PKEY *key, const unsigned char *tbs, size_t tbs_len,
               const unsigned char *sig, size_t sig_len, struct err *e);
/*
 * HMAC of data under MAC algorithm a with key, into out (at least
 * EVP_MAX_MD_SIZE bytes); *out_len its length.  0 ok, -1 with e set.
 */
int alg_hmac(enum acme_alg a, const unsigned char *key, size_t key_len, const unsigned char *data,
             size_t len, unsigned char *out, size_t *out_len, struct err *e);

/* ---- jws.c ------------------------------------------------------------------ */

/* A flattened JWS taken apart: every member owned, jws_parts_clear releases them. */
struct jws_parts {
    json_t *header; /* the decoded protected header, an object */
    unsigned char *payload;
    size_t payload_len;
    unsigned char *signing_input; /* protected || '.' || payload, as sent */
    size_t signing_input_len;
    unsigned char *signature;
    size_t signature_len;
};

/*
 * Splits obj, a JWS in the flattened JSON serialization with exactly the
 * members "protected", "payload" and "signature", into p: the protected
 * header decoded and parsed (an object, no duplicate member), the payload and
 * the signature decoded.  what names the object in messages ("jws").
 * 0 ok; -1 with e set ("malformed") and p left empty.
 */
int jws_split(const json_t *obj, const char *what, struct jws_parts *p, struct err *e);
void jws_parts_clear(struct jws_parts *p);

/* Refuses a header with "crit" (RFC 7515 §4.1.11) or "b64" (RFC 8555 §6.2): 0 ok, -1 "malformed".
 */
int jws_header_no_extensions(const json_t *header, const char *what, struct err *e);

/*
 * The string member name of header in *out (borrowed from header), NULL when
 * absent.  -1 with e set ("malformed", rule cited) when present but not a
 * string, empty, longer than max bytes or holding a byte outside printable
 * ASCII (a space allowed only with allow_space).
 */
int jws_header_string(const json_t *header, const char *what, const char *name, size_t max,
                      int allow_space, const char *rule, const char **out, struct err *e);

#endif
