/*
 * keys.h — key types, the signer boundary and the key stores behind it.
 *
 * Private keys live only in the signer process.  vouchd forks it before it
 * opens any network socket; the network process talks to it over socketpairs
 * with typed, size-bounded messages (see wire.h for the format) and holds
 * only "remote keys": EVP_PKEYs of a built-in OpenSSL provider whose sign
 * operation is forwarded to the signer.  X509_sign, X509_CRL_sign and
 * X509_REQ_sign work with a remote key unchanged, OCSP_basic_sign with the
 * certificate from signer_key_cert().  (OpenSSL 3.0's PKCS7/TS and CMS
 * signers accept only keys named "EC"/"RSA"/"ED25519": not remote keys.)
 *
 * The signer checks on every request that the key belongs to the requesting
 * tenant: keys are filed per tenant, and a key id of another tenant is simply
 * not found (answered as "not found", and logged by the signer).
 *
 * A key store is the signer's back end, behind struct keystore_ops: the
 * software store (encrypted PKCS#8 files), a PKCS#11 token, two tokens
 * backing each other, and tokens per tenant (keystore.h).
 */
#ifndef VOUCH_KEYS_H
#define VOUCH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/util.h"

enum key_type {
    KEY_NONE = 0,
    KEY_EC_P256,
    KEY_EC_P384,
    KEY_RSA_2048,
    KEY_RSA_3072,
    KEY_RSA_4096,
    KEY_ED25519,
};

/* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519". */
const char *key_type_name(enum key_type t);
/* KEY_NONE if the name is not one of the above. */
enum key_type key_type_parse(const char *name);
/* The key type of a public, private or remote key; KEY_NONE if not supported. */
enum key_type key_type_of(const EVP_PKEY *pkey);
/* Generates a key of the given type in this process (software keys, tests). */
EVP_PKEY *key_generate(enum key_type t, struct err *e);

/*
 * What a key is for (docs/decisions.md, "Keys bound to their purpose").  The signer keeps a
 * key's purpose beside the key and refuses to sign what the purpose does not cover: a CA key
 * signs certificates, CRLs, its own CSR and OCSP responses, as the issuer it first signed as; an
 * OCSP responder key only OCSP responses (and its CSR); a TSA key only time-stamp tokens; an
 * audit key only audit checkpoints; a webhook or EAB key only derives secrets; an enrollment
 * RA key (SCEP, CMP) only enrollment protocol messages; a CMP secret key only derives CMP
 * shared secrets.  A key with no purpose yet (one made by
 * `POST /keys`, or one from before purposes existed) is bound when it is first given a use.
 */
enum key_purpose {
    KEY_PURPOSE_NONE = 0,
    KEY_PURPOSE_CA,
    KEY_PURPOSE_OCSP,
    KEY_PURPOSE_TSA,
    KEY_PURPOSE_AUDIT,
    KEY_PURPOSE_WEBHOOK,
    KEY_PURPOSE_EAB,
    KEY_PURPOSE_RA,
    KEY_PURPOSE_CMP_SECRET,
};

/*
 * A node's roles may limit the purposes its signer uses (docs/deployment.md, "Roles"):
 * signer_config.purposes is then KEY_PURPOSES_LIMITED | 1u << each purpose allowed; 0 is every
 * purpose.
 */
#define KEY_PURPOSES_LIMITED (1u << 31)

/* "none", "ca", "ocsp", "tsa", "audit", "webhook", "eab", "ra", "cmp-secret". */
const char *key_purpose_name(enum key_purpose p);
/* KEY_PURPOSE_NONE if the name is not one of the above (or is "none"). */
enum key_purpose key_purpose_parse(const char *name);

/* ---- the signer client (used by the network process) ---------------- */

struct signer;

struct signer_config {
    const char *keystore_dir; /* software store: <dir>/<tenant>/<key id>.pem */
    const char *kek_path;     /* file holding the key-encryption secret */
    int connections;          /* socketpairs = signer threads (default 4) */
    /*
     * keystore_type "pkcs11" (NULL or "soft": the software store): keys in the
     * token labelled pkcs11_token_label of pkcs11_module, and, if set, the
     * same keys in pkcs11_backup_token_label (failover).  The user PIN comes
     * from pkcs11_pin_file, else from the environment variable
     * VOUCH_PKCS11_PIN (overwritten and removed from the environment of both
     * processes once the signer has it).
     */
    const char *keystore_type;
    const char *pkcs11_module;
    const char *pkcs11_token_label;
    int pkcs11_use_slot; /* 1: the primary token is the one in slot pkcs11_slot */
    unsigned long pkcs11_slot;
    const char *pkcs11_backup_token_label;
    const char *pkcs11_pin_file;
    /*
     * Tenants with a token of their own: "tenant=LABEL,..." (NULL: none).
     * Such a tenant logs in with the PIN in pkcs11_tenant_pin_dir/<tenant>;
     * every other tenant uses the shared token(s) above, in its own label
     * namespace.
     */
    const char *pkcs11_tenant_tokens;
    const char *pkcs11_tenant_pin_dir;
    /*
     * Started as root: the keeper and the signers it forks run as this user
     * and group (run_as 1), the only identity that needs to read the key
     * store, its secret and the PINs; 0: as the caller.
     */
    int run_as;
    uid_t uid;
    gid_t gid;
    /*
     * The key purposes this node's roles use (KEY_PURPOSES_LIMITED | 1u << purpose ...; 0:
     * every one).  A key of another purpose, or of none, is neither used nor bound, made or
     * imported here: the refusal names the node's roles.
     */
    unsigned purposes;
};

/*
 * Forks the signer's keeper, which forks the signer process (and later any
 * new one: signer_supervise).  The signer closes every descriptor but its
 * connections, reads the key-encryption secret, serves requests until every
 * connection closes, and never returns; the caller gets a client handle.
 * Call before starting threads or opening sockets.  NULL on error with e set
 * (a missing or unfit secret is a clear error; nothing is created for it).
 * signer_stop() closes the connections and reaps the child; it accepts NULL.
 *
 * All signer_* calls are thread-safe: each takes one of cfg->connections
 * connections for its request (waiting while all are busy).  A signer that
 * died, or does not answer within two minutes, makes calls fail with ERR_UNAVAILABLE.
 */
struct signer *signer_start(const struct signer_config *cfg, struct err *e);
void signer_stop(struct signer *s);

/*
 * Supervision (vouchd): a thread checks every second that the signer answers
 * (within hang_seconds; 0: 10); a signer that died or hangs is killed and
 * started again (its key store re-opened), with backoff, until one answers.
 * Meanwhile every call fails at once with ERR_UNAVAILABLE.  -1 with e set if
 * the thread cannot start.  signer_stop() ends it.
 */
int signer_supervise(struct signer *s, int hang_seconds, struct err *e);
struct signer_status {
    int up;                        /* 0 while the signer is being restarted */
    unsigned long restarts;        /* signers started again since the first */
    unsigned long failed_restarts; /* attempts that failed */
    char reason[256];              /* why the last restart was needed (or is failing) */
};
void signer_status(struct signer *s, struct signer_status *st);

/* 0 if the signer answers and its key store is usable (for /readyz). */
int signer_ping(struct signer *s, struct err *e);
/*
 * As signer_ping, and the key store's health in one line into health
 * ("software key store: ok", "token vouch-a: ok", failover state ...).
 */
int signer_health(struct signer *s, char *health, size_t len, struct err *e);

/* A key-store event of the signer (failover, failback, token failure). */
struct signer_event {
    char *action; /* "keystore.failover", "keystore.failback", "keystore.token_failed", ... */
    char *object; /* the token (or "primary"/"backup") */
    char *detail; /* a JSON object text */
};
/*
 * Takes the key-store events queued in the signer since the last call:
 * *events (caller frees with signer_events_free) and *n.  For the audit log.
 */
int signer_events(struct signer *s, struct signer_event **events, int *n, struct err *e);
void signer_events_free(struct signer_event *events, int n);
/*
 * The supervisor's own events since the last call ("signer.restart" with its
 * reason, the old and new pid and how long signing was down; "signer.down"
 * when restarting keeps failing): *events (caller frees with
 * signer_events_free, also when *n is 0) and *n.  For the audit log.
 */
void signer_supervision_events(struct signer *s, struct signer_event **events, int *n);

/*
 * Generates a key pair for tenant in the signer's store.  On success sets
 * *key_id (caller frees) and *pub (public key only, caller frees).
 */
int signer_keygen(struct signer *s, const char *tenant, enum key_type type, char **key_id,
                  EVP_PKEY **pub, struct err *e);
/* The same, the new key bound to purpose from its first moment. */
int signer_keygen_for(struct signer *s, const char *tenant, enum key_type type,
                      enum key_purpose purpose, char **key_id, EVP_PKEY **pub, struct err *e);

/*
 * Binds (tenant, key_id) to purpose: done if the key has no purpose yet or already has this
 * one; ERR_CONFLICT naming the key's purpose if it has another (a binding never changes);
 * ERR_NOT_FOUND if the tenant has no such key.
 */
int signer_bind(struct signer *s, const char *tenant, const char *key_id, enum key_purpose purpose,
                struct err *e);

/*
 * A remote key for (tenant, key_id): an EVP_PKEY whose private operations go
 * to the signer.  NULL (e set, ERR_NOT_FOUND not_found) if the tenant has no such key.
 * The caller frees it with EVP_PKEY_free.
 *
 * Each call is a round trip to the signer: cache remote keys.  A remote key
 * may be used from several threads at once and keeps the signer handle
 * alive; after signer_stop() its signatures fail (ERR_UNAVAILABLE).  It signs with
 * SHA-256/384/512 (Ed25519: no digest), RSA with PKCS#1 v1.5, and only
 * certificate, CRL, CSR and OCSP response bodies of at most ~63 KiB.  Its
 * public half encodes (i2d_PUBKEY, X509_set_pubkey), but OpenSSL does not
 * compare it with ordinary keys: EVP_PKEY_eq() against a certificate's key
 * is -1 and X509_check_private_key() 0 — see signer_key_cert().
 */
EVP_PKEY *signer_key(struct signer *s, const char *tenant, const char *key_id, struct err *e);

/*
 * A copy of cert whose public key object is the remote key itself, for the
 * OpenSSL signers that first check the key against the certificate:
 *
 *     X509 *bound = signer_key_cert(key, cert, e);
 *     OCSP_basic_sign(bs, bound, key, md, NULL, OCSP_RESPID_KEY | OCSP_NOCERTS);
 *     OCSP_basic_add1_cert(bs, cert);   (the plain one: it verifies in memory)
 *
 * The copy encodes to the bytes of cert.  NULL (e set, ERR_INVALID) if cert's public
 * key is not key's.  The caller frees it with X509_free.
 */
X509 *signer_key_cert(EVP_PKEY *key, X509 *cert, struct err *e);

/* signer_sign_tst flags */
#define SIGNER_TST_CERTS 1 /* the token carries the TSA certificate (and chain, if given) */

/*
 * A time-stamp token (RFC 3161, RFC 5816): the signer wraps tst, a DER
 * TSTInfo, in a CMS SignedData signed with (tenant, key_id) and digest
 * ("sha256", ...; "" for Ed25519), with a signingCertificateV2 attribute for
 * cert (the DER of the key's time-stamping certificate).  With
 * SIGNER_TST_CERTS the token carries cert and the certificates of chain
 * (concatenated DER, may be NULL).  *token (caller frees) is the ContentInfo
 * DER.  ERR_INVALID if tst is not a TSTInfo or cert is not a time-stamping
 * certificate of the key; ERR_NOT_FOUND if the tenant has no such key.
 */
int signer_sign_tst(struct signer *s, const char *tenant, const char *key_id, const char *digest,
                    const unsigned char *tst, size_t tst_len, const unsigned char *cert,
                    size_t cert_len, const unsigned char *chain, size_t chain_len, int flags,
                    unsigned char **token, size_t *token_len, struct err *e);

/*
 * SCEP's key transport (RFC 8894 §3.2.2): the content-encryption key of key_len bytes (1 to
 * 64) that in (RSA PKCS#1 v1.5, at most 512 bytes) carries, decrypted with the RA key
 * (tenant, key_id) of purpose "ra" into key.  Where in does not decrypt to key_len bytes, key
 * is random bytes (no padding oracle): the content it should open then does not open.  -1 with
 * e: ERR_FORBIDDEN for a key of another purpose, ERR_NOT_FOUND, ERR_UNAVAILABLE.
 */
int signer_ra_decrypt(struct signer *s, const char *tenant, const char *key_id,
                      const unsigned char *in, size_t len, unsigned char *key, size_t key_len,
                      struct err *e);

enum signer_import_format { SIGNER_IMPORT_PKCS12 = 1, SIGNER_IMPORT_PEM_KEY = 2 };

/*
 * Imports an existing private key into tenant's store: a PKCS#12 (DER) with
 * its password, or a PEM private key (password may be NULL).  The signer
 * parses the blob; the private key never enters this process.  On success
 * sets *key_id, *pub and, for PKCS#12, *certs (leaf first, may be empty;
 * the caller frees with sk_X509_pop_free).
 */
int signer_import(struct signer *s, const char *tenant, enum signer_import_format format,
                  const unsigned char *blob, size_t len, const char *password, char **key_id,
                  EVP_PKEY **pub, STACK_OF(X509) * *certs, struct err *e);

/* A key of a tenant, as signer_key_list() lists it. */
struct signer_key_info {
    char *key_id;
    char *key_type; /* key_type_name(), or "unknown" if the key does not load */
    char *purpose;  /* key_purpose_name() ("none" if not bound) */
};
/*
 * The keys of tenant in the signer's store: *keys (caller frees with
 * signer_key_list_free) and *n.
 */
int signer_key_list(struct signer *s, const char *tenant, struct signer_key_info **keys, int *n,
                    struct err *e);
void signer_key_list_free(struct signer_key_info *keys, int n);

/* Deletes a key of tenant (a CA whose creation failed half-way). */
int signer_delete(struct signer *s, const char *tenant, const char *key_id, struct err *e);

/*
 * Webhook secrets (signer_secret.c): the signer derives a webhook's secret
 * from a signature by tenant's RSA key key_id over a random nonce, so only
 * the key id and the nonce are stored and the secret is never kept outside
 * the signer.  signer_webhook_new makes a new nonce (*nonce_hex, 64 hex
 * digits) and gives its secret (*secret, "whsec_" + 64 hex digits) once, to
 * be shown; signer_webhook_mac gives HMAC-SHA256(secret, data) for a stored
 * nonce (*mac, 32 bytes).  Both: caller frees; ERR_NOT_FOUND if the tenant has no such
 * key, ERR_INVALID if it is not RSA.
 */
int signer_webhook_new(struct signer *s, const char *tenant, const char *key_id, char **nonce_hex,
                       char **secret, struct err *e);
int signer_webhook_mac(struct signer *s, const char *tenant, const char *key_id,
                       const char *nonce_hex, const unsigned char *data, size_t data_len,
                       unsigned char **mac, size_t *mac_len, struct err *e);

/*
 * ACME External Account Binding keys (signer_secret.c): derived like webhook
 * secrets, from a signature by tenant's RSA key key_id, but over a structure
 * of their own naming the endpoint, the credential's kid and a random nonce
 * (tbs.h: TBS_ACME_EAB_KEY_OID), so only the key id and the nonce are stored
 * and no EAB key is ever a webhook secret.  signer_eab_new makes a new nonce
 * (*nonce_hex, 64 hex digits, caller frees) and gives its key once (key, to
 * be shown to an administrator); signer_eab_mac gives the HMAC of data (at
 * most SIGNER_EAB_DATA_MAX bytes) under the key of a stored nonce with digest
 * "SHA256", "SHA384" or "SHA512" (*mac, caller frees).  ERR_NOT_FOUND if the
 * tenant has no such key, ERR_INVALID if it is not RSA or an argument is bad.
 */
#define SIGNER_EAB_KEY_LEN  32
#define SIGNER_EAB_DATA_MAX (60 * 1024)
struct signer_eab {
    const char *key_id;
    const char *endpoint;
    const char *kid;
    const char *nonce_hex; /* signer_eab_mac only */
};
int signer_eab_new(struct signer *s, const char *tenant, const struct signer_eab *ref,
                   char **nonce_hex, unsigned char key[SIGNER_EAB_KEY_LEN], struct err *e);
int signer_eab_mac(struct signer *s, const char *tenant, const struct signer_eab *ref,
                   const char *digest, const unsigned char *data, size_t data_len,
                   unsigned char **mac, size_t *mac_len, struct err *e);

/*
 * CMP shared secrets (signer_secret.c): derived like EAB keys, over a
 * structure under an OID of their own (tbs.h: TBS_CMP_SECRET_OID) naming the
 * endpoint (ref->endpoint) and the reference (ref->kid).  With
 * ref->nonce_hex NULL a new nonce is made (*nonce_hex, caller frees); with a
 * stored nonce the same secret comes back (nonce_hex may be NULL).  The
 * secret is 32 bytes; the caller zeroes it after use.
 */
#define SIGNER_CMP_SECRET_LEN 32
int signer_cmp_secret(struct signer *s, const char *tenant, const struct signer_eab *ref,
                      char **nonce_hex, unsigned char secret[SIGNER_CMP_SECRET_LEN], struct err *e);

/*
 * Server-side key generation for an end entity: the signer generates a key
 * pair and keeps it in memory under *handle (random, bound to tenant) for
 * five minutes; the caller issues a certificate for *pub, then asks for the
 * PKCS#12 with signer_ee_pkcs12(), which also forgets the key.  Another
 * tenant's or an unknown handle is ERR_NOT_FOUND.  The private key never enters this
 * process.
 */
int signer_ee_keygen(struct signer *s, const char *tenant, enum key_type type, uint64_t *handle,
                     EVP_PKEY **pub, struct err *e);
/*
 * *out (caller frees) is the PKCS#12 DER of the key, cert and chain, protected
 * by password: AES-256-CBC with PBKDF2, SHA-256 MAC.
 */
int signer_ee_pkcs12(struct signer *s, const char *tenant, uint64_t handle, const char *password,
                     X509 *cert, STACK_OF(X509) * chain, unsigned char **out, size_t *out_len,
                     struct err *e);
/*
 * *out (caller frees, wiping it) is the key of handle as unencrypted PKCS#8
 * DER, for cert (which must be issued to it): EST serverkeygen (RFC 7030
 * §4.4.2), where TLS protects it on its way.  The signer forgets the key.
 */
int signer_ee_pkcs8(struct signer *s, const char *tenant, uint64_t handle, X509 *cert,
                    unsigned char **out, size_t *out_len, struct err *e);

#endif
