/*
 * wire.h — the signer protocol's framing.
 *
 * A frame is an 8-byte header (message type, body length; both u32 in
 * network order) and a body of fields: u16 tag, u32 length, bytes.  Readers
 * check every length against the frame and the per-type limit before they
 * touch the data; a frame that does not parse is refused whole.
 */
#ifndef VOUCH_WIRE_H
#define VOUCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

enum wire_type {
    W_REPLY_OK = 1,
    W_REPLY_ERR,
    W_PING,
    W_KEYGEN,
    W_PUBKEY,
    W_SIGN,
    W_IMPORT,
    W_DELETE,
    W_EE_KEYGEN,
    W_EE_PKCS12,
    W_SIGN_TST,
    W_EVENTS,      /* key-store events (failover) since the last call */
    W_KEYLIST,     /* a tenant's keys: repeated T_KEY_ID with T_KEY_TYPE */
    W_WEBHOOK_NEW, /* a new webhook secret: T_BLOB nonce, T_MESSAGE the secret (shown once) */
    W_WEBHOOK_MAC, /* HMAC-SHA256 of T_DATA under the secret of T_BLOB nonce: T_SIGNATURE */
    W_EAB_NEW,     /* a new ACME EAB key: T_BLOB nonce, T_SECRET the key (shown once) */
    W_EAB_MAC,     /* HMAC (T_DIGEST) of T_DATA under the EAB key of T_BLOB nonce: T_SIGNATURE */
    W_ALIVE,       /* an empty answer: the process is alive (its supervisor asks) */
    W_BIND,        /* binds T_KEY_ID to T_PURPOSE (signer_bind.c) */
    W_EE_PKCS8,    /* a W_EE_KEYGEN key, for T_CERT issued to it: T_PKCS8 (unencrypted, once) */
    W_CMP_SECRET,  /* a CMP shared secret: T_BLOB nonce (a new one if none given), T_SECRET */
    W_RA_DECRYPT,  /* RSA key transport with an RA key: T_DATA in, T_FLAGS key length, T_SECRET */
};

enum wire_tag {
    T_TENANT = 1,
    T_KEY_ID,
    T_KEY_TYPE,
    T_DIGEST,
    T_DATA,
    T_FORMAT,
    T_BLOB,
    T_PASSWORD,
    T_HANDLE,
    T_CERT,
    T_CHAIN, /* repeated */
    T_PUBKEY,
    T_SIGNATURE,
    T_STATUS,
    T_MESSAGE,
    T_PKCS12,
    T_FLAGS,
    T_EVENT_ACTION, /* repeated, with the next two */
    T_EVENT_OBJECT,
    T_EVENT_DETAIL,
    T_HEALTH,   /* PING reply: the key store's health, one line */
    T_ENDPOINT, /* an ACME endpoint's name */
    T_KID,      /* an ACME EAB credential's key identifier */
    T_SECRET,   /* a derived secret, in the one reply that shows it */
    T_PURPOSE,  /* key_purpose_name(): KEYGEN, IMPORT and BIND requests, KEYLIST replies */
    T_PKCS8,    /* a generated end-entity key as PKCS#8 DER (EST serverkeygen) */
};

#define WIRE_MAX_SMALL (64 * 1024)
#define WIRE_MAX_LARGE (1024 * 1024)
/* A SIGN request may carry a CRL of millions of entries (~40 bytes each); the
   signer signs nothing else larger than WIRE_MAX_SMALL. */
#define WIRE_MAX_SIGN (256 * 1024 * 1024)

/* The largest frame body of this message type a reader accepts. */
size_t wire_max_body(uint32_t type);

/* Appends a field to a frame body being built. */
void wire_put(struct buf *b, enum wire_tag tag, const void *data, size_t len);
void wire_put_str(struct buf *b, enum wire_tag tag, const char *s);
void wire_put_u64(struct buf *b, enum wire_tag tag, uint64_t v);
/* Appends the DER of certificate x (nothing if it does not encode). */
struct x509_st;
void wire_put_x509(struct buf *b, enum wire_tag tag, struct x509_st *x);

/* 0 if body is a well-formed sequence of fields. */
int wire_check(const unsigned char *body, size_t len);
/* The index-th field with tag (0-based); 0 found, -1 absent. */
int wire_get(const unsigned char *body, size_t len, enum wire_tag tag, int index,
             const unsigned char **data, size_t *dlen);
/* A string field (no NUL inside, at most max bytes) as a new string; NULL if absent/bad. */
char *wire_get_str(const unsigned char *body, size_t len, enum wire_tag tag, size_t max);
int wire_get_u64(const unsigned char *body, size_t len, enum wire_tag tag, uint64_t *out);

/* Sends one frame; 0 ok, -1 on a write error. */
int wire_send(int fd, uint32_t type, const struct buf *body);
/*
 * Receives one frame with a body of at most max bytes into *body (caller
 * frees).  0 ok, -1 closed or error, -2 too large or malformed (the
 * connection cannot be trusted any more).
 */
int wire_recv(int fd, uint32_t *type, unsigned char **body, size_t *len, size_t max);

#endif
