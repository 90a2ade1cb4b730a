/*
 * keystore.h — the signer's key back end (used only inside the signer
 * process).  The software store is here; a PKCS#11 store will fill the same
 * table.  Keys are addressed by (tenant, key id) and a store never returns a
 * key filed under another tenant.
 */
#ifndef VOUCH_KEYSTORE_H
#define VOUCH_KEYSTORE_H

#include <openssl/evp.h>

#include "keys/keys.h"

struct keystore;

struct keystore_ops {
    /* Stores key (generated or imported) for tenant; *key_id set (caller frees). */
    int (*put)(struct keystore *ks, const char *tenant, EVP_PKEY *key, char **key_id,
               struct err *e);
    /* The key of (tenant, key_id), a new reference; NULL with 404 if absent. */
    EVP_PKEY *(*get)(struct keystore *ks, const char *tenant, const char *key_id, struct err *e);
    int (*delete)(struct keystore *ks, const char *tenant, const char *key_id, struct err *e);
    int (*ping)(struct keystore *ks, struct err *e);
    void (*close)(struct keystore *ks);
};

struct keystore {
    const struct keystore_ops *ops;
};

/*
 * The software store: <dir>/<tenant>/<key id>.pem, PKCS#8 encrypted with
 * AES-256-CBC under a passphrase read from kek_path (PBKDF2 as OpenSSL's
 * PKCS#8 encryption does it).  NULL with e set if the secret cannot be read.
 */
struct keystore *keystore_soft_open(const char *dir, const char *kek_path, struct err *e);

/* A key id of the form "key-<16 hex>" (nothing that could walk a path). */
int keystore_id_valid(const char *key_id);

#endif
