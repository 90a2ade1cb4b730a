/*
 * p11_objects.h — PKCS#11 key objects and OpenSSL keys, both ways (used by
 * keystore_p11.c): reading a public key object, the attributes that create
 * a key pair from an EVP_PKEY, and what the token signs.  No state: every
 * function works on the session and objects it is given.
 */
#ifndef VOUCH_P11_OBJECTS_H
#define VOUCH_P11_OBJECTS_H

#include <p11-kit/pkcs11.h>

#include <openssl/evp.h>

#include "keys/keys.h"

/* The DER of the OID naming type's curve (CKA_EC_PARAMS); OPENSSL_free it; NULL for RSA. */
unsigned char *p11_curve_params(enum key_type type, int *len);

/* The public key of a public key object, and its type; NULL (*rv set) if unreadable or not ours. */
EVP_PKEY *p11_pub_read(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                       enum key_type *type, CK_RV *rv);

#define P11_VALS_MAX 8

/* Attribute values being built for an import; wiped and freed together. */
struct p11_vals {
    unsigned char *v[P11_VALS_MAX];
    size_t len[P11_VALS_MAX];
    int n;
};
void p11_vals_free(struct p11_vals *v);

/*
 * Appends key's private attributes to t (*nt entries) and its public ones to
 * pub_t (*npub), by key type; the values are kept in v.  -1 if a value is
 * missing.
 */
int p11_key_attrs(EVP_PKEY *key, enum key_type type, struct p11_vals *v, CK_ATTRIBUTE *t,
                  CK_ULONG *nt, CK_ATTRIBUTE *pub_t, CK_ULONG *npub);

/*
 * What the token signs for type and digest md (caller frees): the digest
 * (ECDSA), a DigestInfo (RSA PKCS#1 v1.5), the data itself (Ed25519).  NULL
 * with e set (ERR_INVALID) if md does not fit the key.
 */
unsigned char *p11_sign_input(enum key_type type, const char *md, const unsigned char *data,
                              size_t len, size_t *out_len, struct err *e);

/* The DER ECDSA-Sig-Value of a PKCS#11 r||s signature (caller frees); NULL on failure. */
unsigned char *p11_ecdsa_der(const unsigned char *rs, size_t len, size_t *out_len);

#endif
