/*
 * keystore.h — the signer's key back end (used only inside the signer
 * process).  The software store is here; a PKCS#11 store will fill the same
 * table.  Keys are addressed by (tenant, key id) and a store never returns a
 * key filed under another tenant: such a key is "not found" (404).
 *
 * Every function validates the tenant (name_valid(), or "_system") and the key
 * id (keystore_id_valid()) before it touches anything, so no request can name
 * a path or object outside the tenant's own namespace.  Functions may be
 * called from several signer threads at once.
 */
#ifndef VOUCH_KEYSTORE_H
#define VOUCH_KEYSTORE_H

#include <openssl/evp.h>

#include "keys/keys.h"

struct keystore;

struct keystore_ops {
    /*
     * Generates a key pair of type for tenant inside the store (a PKCS#11
     * store generates it on the token).  On success sets *key_id and *pub
     * (the public half only); the caller frees both.
     */
    int (*generate)(struct keystore *ks, const char *tenant, enum key_type type, char **key_id,
                    EVP_PKEY **pub, struct err *e);
    /* Files an existing private key (parsed from an import) for tenant; sets *key_id. */
    int (*import)(struct keystore *ks, const char *tenant, EVP_PKEY *key, char **key_id,
                  struct err *e);
    /* The private key of (tenant, key_id), a new reference; NULL with 404 if absent. */
    EVP_PKEY *(*load)(struct keystore *ks, const char *tenant, const char *key_id, struct err *e);
    /* Removes the key of (tenant, key_id); 404 if absent. */
    int (*destroy)(struct keystore *ks, const char *tenant, const char *key_id, struct err *e);
    /* 0 if the store is usable (for /readyz). */
    int (*ping)(struct keystore *ks, struct err *e);
    /* Wipes the store's secrets and frees it. */
    void (*close)(struct keystore *ks);
};

struct keystore {
    const struct keystore_ops *ops;
};

/*
 * The software store: <dir>/<tenant>/<key id>.pem (dirs 0700, files 0600),
 * PKCS#8 encrypted with AES-256-CBC (PBES2/PBKDF2) under the passphrase read
 * from kek_path (a text secret of at least 16 bytes; trailing white space is
 * not part of it).  NULL with e set if the secret cannot be read or is unfit;
 * the store directory is created if missing, the secret never is.
 */
struct keystore *keystore_soft_open(const char *dir, const char *kek_path, struct err *e);

/* A key id of the form "key-<16 lowercase hex>" (nothing that could walk a path). */
int keystore_id_valid(const char *key_id);

#endif
