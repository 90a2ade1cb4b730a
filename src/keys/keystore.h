/*
 * keystore.h — the signer's key back end (used only inside the signer
 * process): the software store, a PKCS#11 token, two tokens backing each
 * other, tokens per tenant.  Keys are addressed by (tenant, key id) and a
 * store never returns a key filed under another tenant: such a key is "not
 * found" (ERR_NOT_FOUND).
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
    /* The private key of (tenant, key_id), a new reference; NULL with ERR_NOT_FOUND if absent. */
    EVP_PKEY *(*load)(struct keystore *ks, const char *tenant, const char *key_id, struct err *e);
    /* Removes the key of (tenant, key_id); ERR_NOT_FOUND if absent. */
    int (*destroy)(struct keystore *ks, const char *tenant, const char *key_id, struct err *e);
    /* 0 if the store is usable (for /readyz). */
    int (*ping)(struct keystore *ks, struct err *e);
    /* Wipes the store's secrets and frees it. */
    void (*close)(struct keystore *ks);
    /*
     * Optional, for stores whose private keys never leave their device (PKCS#11):
     * signs data with (tenant, key_id) and digest md (a SHA-2 name, or "" for
     * Ed25519), *sig in the encoding EVP_DigestSign gives (DER ECDSA-Sig-Value,
     * PKCS#1 v1.5, raw Ed25519).  The caller frees *sig.  load() of such a store
     * gives the public half only.  ERR_UNAVAILABLE if the device failed (the store reconnects).
     */
    int (*sign)(struct keystore *ks, const char *tenant, const char *key_id, const char *md,
                const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
                struct err *e);
    /*
     * Optional, as sign: RSA PKCS#1 v1.5 decryption (key transport, RFC 8017 §7.2) of in with
     * the RSA key (tenant, key_id); *out (caller frees) the plaintext.  ERR_INVALID if in does
     * not decrypt; ERR_UNAVAILABLE if the device failed.
     */
    int (*decrypt)(struct keystore *ks, const char *tenant, const char *key_id,
                   const unsigned char *in, size_t len, unsigned char **out, size_t *out_len,
                   struct err *e);
    /*
     * The key ids of tenant (at most max, in no particular order) into ids
     * (each freed by the caller); the count, or -1 with e set.
     */
    int (*list)(struct keystore *ks, const char *tenant, char **ids, int max, struct err *e);
    /* Optional: a short health description for /readyz ("token vouch-a: ok"). */
    void (*describe)(struct keystore *ks, char *buf, size_t len);
    /*
     * What the store keeps beside the key (tenant, key_id) for the signer: its binding to a
     * purpose (signer_bind.c), a short text.  meta_get copies it into buf (NUL-terminated, at
     * most len - 1 bytes); ERR_NOT_FOUND if the key has none.  meta_set replaces it; the key
     * must exist (ERR_NOT_FOUND otherwise).  Destroying a key destroys its text.
     */
    int (*meta_get)(struct keystore *ks, const char *tenant, const char *key_id, char *buf,
                    size_t len, struct err *e);
    int (*meta_set)(struct keystore *ks, const char *tenant, const char *key_id, const char *text,
                    struct err *e);
};

#define KEYSTORE_META_MAX 2048 /* bytes of a key's text, with its NUL */

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

/* What a PKCS#11 store needs: the module, its token, the user PIN. */
struct keystore_p11_config {
    const char *module;      /* path of the PKCS#11 module (shared object) */
    const char *token_label; /* the token, found by label in any slot (may be NULL with use_slot) */
    int use_slot;            /* 1: the token in slot `slot` (and labelled token_label if set) */
    unsigned long slot;
    const char *pin; /* user PIN (not kept past close; never logged) */
    int sessions;    /* session pool size: the signer's thread count */
};

/*
 * A store in one PKCS#11 token (Cryptoki API, keystore_p11.c).  Keys are
 * private/public object pairs labelled "<tenant>/<key id>" (CKA_ID the key
 * id): generated in the token as CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not
 * CKA_EXTRACTABLE; imports are created the same way.  NULL with e set if the
 * module does not load, the token is not there or the PIN is wrong.  A token
 * or session failure later is a ERR_UNAVAILABLE and the store reconnects (at most once a
 * second) on the next request or ping.
 */
struct keystore *keystore_p11_open(const struct keystore_p11_config *c, struct err *e);

/*
 * Files key for tenant under key_id (a valid id chosen by the caller) in a
 * PKCS#11 store, sensitive and not extractable: how one key is carried into
 * two tokens by a ceremony import.  ERR_CONFLICT if the id is taken.
 */
int keystore_p11_put(struct keystore *ks, const char *tenant, const char *key_id, EVP_PKEY *key,
                     struct err *e);

/*
 * Marks a PKCS#11 store failed because it lacks what it should hold (a key
 * its partner token has): its connection is dropped, a keystore.token_failed
 * event queued (once until it is opened again), and before it is opened again
 * its module is initialised again (C_Finalize, C_Initialize), which a module
 * may need to see a token whose objects went away and came back.
 */
void keystore_p11_fail(struct keystore *ks, const char *why);

/*
 * The labels ("<tenant>/<key id>") of every key in a PKCS#11 store, at most
 * max, into labels (each freed by the caller); the count, or -1 with e set.
 */
int keystore_p11_labels(struct keystore *ks, char **labels, int max, struct err *e);

/*
 * Two stores holding the same keys (keystore_failover.c); it owns both.
 * Signing uses the primary; when it fails (ERR_UNAVAILABLE, or a key it should hold is
 * missing) the request is retried once on the backup, which serves until the
 * primary answers again (probed at most once a second).  New keys are made
 * in memory and filed in both (keystore_p11_put), then wiped: both stores
 * must be up to create one.  Every switch is a keystore event.  On opening,
 * the keys of the two tokens are compared: each key one token lacks is a
 * "keystore.key_missing" event and is counted in the health line.
 */
struct keystore *keystore_failover_open(struct keystore *primary, struct keystore *backup);

/*
 * Tenants with a token of their own (keystore_tenant.c): requests of a
 * tenant added with keystore_tenant_add() go to its store, all others to
 * shared.  The result owns every store.
 */
struct keystore *keystore_tenant_open(struct keystore *shared);
void keystore_tenant_add(struct keystore *ks, const char *tenant, struct keystore *own);
/*
 * Parses "tenant=LABEL[,| ]..." into two arrays of n strings (caller frees
 * each and the arrays); n, or -1 with e set (ERR_INVALID) naming the bad entry.
 */
int keystore_tenant_map_parse(const char *map, char ***tenants, char ***labels, struct err *e);

/*
 * Key-store events for the audit log (failover, failback, token failure),
 * kept in the signer until the network process takes them.  The detail is a
 * JSON object text.  keystore_events_take() moves up to max queued events
 * into the arrays (caller frees each string) and returns how many.
 */
void keystore_event(const char *action, const char *object, const char *detail_json);
int keystore_events_take(char **actions, char **objects, char **details, int max);

/* A public-key-only copy of key (for a store's generate); NULL with e set. */
EVP_PKEY *keystore_public_copy(EVP_PKEY *key, struct err *e);

/* A key id of the form "key-<16 lowercase hex>" (nothing that could walk a path). */
int keystore_id_valid(const char *key_id);

#endif
