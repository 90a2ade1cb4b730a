/* signer_internal.h — shared by the signer's client, process and provider files. */
#ifndef VOUCH_SIGNER_INTERNAL_H
#define VOUCH_SIGNER_INTERNAL_H

#include <sys/types.h>

#include "keys/keys.h"
#include "keys/wire.h"

/*
 * The child's life: keeps only fds[0..n-1] open, serves them (one thread
 * each) until all close, then _exit()s.  If the key store cannot be opened it
 * answers the first request on fds[0] with the reason and exits.
 */
void signer_child_main(const struct signer_config *cfg, int *fds, int n) __attribute__((noreturn));
/* Closes every descriptor above stderr except the n in keep. */
void signer_fds_close_others(const int *keep, int n);

/*
 * The keeper (signer_keeper.c): forked by signer_keeper_start before any
 * thread exists, it forks a signer with n connections at each
 * signer_keeper_spawn (killing and reaping the one before), and exits when
 * *ctl closes.  Start: the keeper's pid and *ctl, or -1 with e set.  Spawn:
 * 0 with *pid and the network process's ends in fds[0..n-1] (caller closes
 * them), or -1 with e set (ERR_UNAVAILABLE).
 */
pid_t signer_keeper_start(const struct signer_config *cfg, int n, int *ctl, struct err *e);
int signer_keeper_spawn(int ctl, int timeout_seconds, pid_t *pid, int *fds, int n, struct err *e);

/*
 * One request/reply exchange with the signer.  *reply is the reply body
 * (caller frees).  A W_REPLY_ERR becomes -1 with e set from its status and
 * message; a broken, timed-out or stopped connection is ERR_UNAVAILABLE.
 */
int signer_call(struct signer *s, uint32_t type, const struct buf *req, unsigned char **reply,
                size_t *reply_len, struct err *e);

/* Signs data with (tenant, key_id) in the signer: *sig (caller frees). */
int signer_sign(struct signer *s, const char *tenant, const char *key_id, const char *digest,
                const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
                struct err *e);

/*
 * Remote keys keep the client handle alive: signer_ref() takes a reference,
 * signer_unref() drops one (signer_stop() drops the caller's), and the last
 * one frees the handle.  A stopped signer answers every call with ERR_UNAVAILABLE.
 */
void signer_ref(struct signer *s);
void signer_unref(struct signer *s);

/* Makes the remote EVP_PKEY for (tenant, key_id) with public key pub (remote_key.c). */
EVP_PKEY *remote_key_new(struct signer *s, const char *tenant, const char *key_id, EVP_PKEY *pub,
                         struct err *e);

/* DER SubjectPublicKeyInfo → EVP_PKEY; NULL if it does not parse. */
EVP_PKEY *pubkey_from_der(const unsigned char *der, size_t len);

/* ---- inside the signer process (signer_proc.c, signer_tst.c) ---------------- */

/* A request being answered: its body, and the reply being built. */
struct req {
    const unsigned char *body;
    size_t len;
    struct buf out;
    struct err err;
};

/* The key named by the request's tenant and key id, or NULL (r->err set, refusal logged). */
EVP_PKEY *signer_req_key(struct req *r);
/* Whether md (a digest name, or "" for the key's own) may be used: SHA-2 only. */
int signer_digest_allowed(const char *md);
/* Whether the key store signs by itself (PKCS#11): its keys cannot drive OpenSSL's signers. */
int signer_store_signs(void);
/* Signs data (digest md) with the request's key in the key store; *sig caller frees. */
int signer_store_sign(struct req *r, const char *md, const unsigned char *data, size_t len,
                      unsigned char **sig, size_t *sig_len);
/* ---- key bindings (signer_bind.c) ---- */
struct keystore;
/* The signer's key store (signer_proc.c). */
struct keystore *signer_keystore(void);
/* The purposes the node's roles use (signer_config.purposes), set once at the signer's start. */
void signer_bind_roles(unsigned purposes);
/* Whether the node's roles use keys of purpose p (KEY_PURPOSE_NONE: only when unlimited). */
int signer_node_allows(enum key_purpose p);
/* Binds (tenant, key_id) to purpose (keys.h, signer_bind()); -1 with e set. */
int signer_bind_set(struct keystore *ks, const char *tenant, const char *key_id,
                    enum key_purpose purpose, struct err *e);
/*
 * Whether (tenant, key_id) may sign data of kind (tbs_kind(), "webhook secret", "EAB key"): 0 if
 * its purpose covers it (or it has none); a CA key's certificate or CRL must also name the issuer
 * and authority key identifier it first signed as.  -1 with e set (ERR_FORBIDDEN: refused,
 * logged and queued for the audit log).
 */
int signer_bind_check(struct keystore *ks, const char *tenant, const char *key_id, const char *kind,
                      const unsigned char *data, size_t len, struct err *e);
/* The purpose of (tenant, key_id) (KEY_PURPOSE_NONE if it has none); -1 with e set. */
int signer_bind_purpose(struct keystore *ks, const char *tenant, const char *key_id,
                        enum key_purpose *purpose, struct err *e);
/* Drops a deleted key's binding from the cache. */
void signer_bind_forget(const char *tenant, const char *key_id);
/* signer_bind_check for the request's tenant and key id. */
int signer_req_bind_check(struct req *r, const char *kind, const unsigned char *data, size_t len);

/* W_SIGN_TST: the CMS SignedData of a time-stamp token (signer_tst.c). */
int signer_h_sign_tst(struct req *r);
/* W_WEBHOOK_NEW and W_WEBHOOK_MAC: webhook secrets (signer_secret.c). */
int signer_h_webhook_new(struct req *r);
int signer_h_webhook_mac(struct req *r);
/* W_EAB_NEW and W_EAB_MAC: ACME External Account Binding keys (signer_secret.c). */
int signer_h_eab_new(struct req *r);
int signer_h_eab_mac(struct req *r);
/* W_CMP_SECRET: CMP shared secrets (signer_secret.c). */
int signer_h_cmp_secret(struct req *r);
/* W_RA_DECRYPT: a SCEP envelope's content-encryption key (signer_ra.c). */
int signer_h_ra_decrypt(struct req *r);

/* ---- test hooks ----------------------------------------------------------- */

/* The signer child's process id. */
pid_t signer_pid(const struct signer *s);
/*
 * Takes an idle connection out of the pool and hands its descriptor to the
 * caller (who closes it), for tests that write raw frames; -1 if none is idle.
 */
int signer_take_connection(struct signer *s);

#endif
