/*
 * scep.h — what SCEP (RFC 8894) needs of its messages, with no HTTP, store or
 * signer: bytes in, bytes out.  The transport is src/api/api_scep.c, the
 * endpoint's state (CA, RA key and certificate) src/svc/svc_scep.c.
 *
 * A pkiMessage (RFC 8894 §3.2) is a CMS SignedData signed by the requester
 * (its self-signed or old certificate in the message), whose signed
 * attributes carry messageType, transactionID and senderNonce and whose * content is a CMS
 * EnvelopedData for the RA.  scep_message_parse checks the outer layer; scep_envelope_open opens
 * the envelope with a callback that unwraps its content key (the signer holds the RA key: svc gives
 * it); scep_certrep makes the answer with a callback that signs its attributes.
 */
#ifndef VOUCH_SCEP_H
#define VOUCH_SCEP_H

#include <stddef.h>

#include <openssl/x509.h>

#include "lib/util.h"

#define SCEP_MESSAGE_MAX (64 * 1024) /* a pkiMessage at most (POST body, GET after base64) */
#define SCEP_NONCE_LEN   16          /* RFC 8894 §3.2.1.5: senderNonce, 16 bytes */
#define SCEP_TXID_MAX    128         /* a transactionID at most (printable characters) */

/* The operations of RFC 8894 §4 (SCEP_OP_NONE: not one). */
enum scep_op {
    SCEP_OP_NONE = 0,
    SCEP_OP_GETCACAPS,
    SCEP_OP_GETCACERT,
    SCEP_OP_PKIOPERATION,
};
enum scep_op scep_op_of(const char *name);

/* The messageTypes of RFC 8894 §3.2.1.2 (SCEP_MSG_NONE: not one). */
enum scep_msg_type {
    SCEP_MSG_NONE = 0,
    SCEP_MSG_CERTREP = 3,
    SCEP_MSG_RENEWALREQ = 17,
    SCEP_MSG_PKCSREQ = 19,
    SCEP_MSG_CERTPOLL = 20,
    SCEP_MSG_GETCERT = 21,
    SCEP_MSG_GETCRL = 22,
};

/*
 * The GetCACaps answer (RFC 8894 §3.5.2): one capability a line; legacy adds
 * DES3 and SHA-1.  Caller frees.
 */
char *scep_caps(int legacy);

/*
 * The GetCACert answer with an RA (RFC 8894 §4.2.1.2): a degenerate
 * certificates-only SignedData holding the RA certificate ra and the DER
 * certificates concatenated in cas (the CA, then its chain).  *out (caller
 * frees) and *len; -1 with e (ERR_INTERNAL) if a certificate does not parse.
 */
int scep_ca_ra_certs(const unsigned char *ra, size_t ra_len, const unsigned char *cas,
                     size_t cas_len, unsigned char **out, size_t *len, struct err *e);

/*
 * The message of a PKIOperation by GET (RFC 8894 §4.1): base64 (standard
 * alphabet, line breaks and the '+' a URL decoder made a space taken back),
 * at most SCEP_MESSAGE_MAX bytes of DER.  *der (caller frees); -1 with e
 * (ERR_INVALID) otherwise.
 */
int scep_message_decode(const char *b64, unsigned char **der, size_t *len, struct err *e);

/* The outer layer of a pkiMessage, checked. */
struct scep_message {
    enum scep_msg_type type;
    char txid[SCEP_TXID_MAX + 1];
    unsigned char sender_nonce[SCEP_NONCE_LEN];
    unsigned char *envelope; /* the DER of the EnvelopedData it carries (caller frees) */
    size_t envelope_len;
    unsigned char *signer; /* the DER of the certificate that signed it (caller frees) */
    size_t signer_len;
    X509 *signer_cert; /* the same, parsed (scep_message_clear frees) */
    int digest_nid;    /* the digest of its signature (NID_sha256, ...) */
};
void scep_message_clear(struct scep_message *m);

/*
 * Parses and checks der as a pkiMessage: a SignedData with one signer whose
 * certificate it carries and whose signature verifies with that
 * certificate's key, signed attributes messageType, transactionID and
 * senderNonce, content data (an EnvelopedData).  A SHA-1 signature only with
 * legacy.  m filled on success (scep_message_clear frees); -1 with e
 * (ERR_INVALID, the rule broken) otherwise.
 */
int scep_message_parse(const unsigned char *der, size_t len, int legacy, struct scep_message *m,
                       struct err *e);

/* pkiStatus and failInfo of a CertRep (RFC 8894 §3.2.1.3, §3.2.1.4). */
enum scep_status {
    SCEP_SUCCESS = 0,
    SCEP_FAILURE = 2,
    SCEP_PENDING = 3,
};
enum scep_fail {
    SCEP_FAIL_BADALG = 0,
    SCEP_FAIL_BADMESSAGECHECK = 1,
    SCEP_FAIL_BADREQUEST = 2,
    SCEP_FAIL_BADTIME = 3,
    SCEP_FAIL_BADCERTID = 4,
};

/*
 * Decrypts enc (a content-encryption key under RSA key transport) into key
 * (key_len bytes); 0, or -1 with e where no key can be had (the signer
 * down).  svc gives the signer's RA decryption.
 */
typedef int (*scep_unwrap_fn)(void *arg, const unsigned char *enc, size_t enc_len,
                              unsigned char *key, size_t key_len, struct err *e);

/*
 * Opens env, the EnvelopedData of a pkiMessage (RFC 8894 §3.2.2): its
 * recipient the RA certificate ra (issuer and serial, RSA key transport),
 * its content encrypted with AES-128/192/256-CBC, or 3DES-CBC with legacy.
 * *content (caller frees) and *cipher_nid (for the answer's envelope).  -1
 * with e and *fail: badAlg for a cipher or key transport refused,
 * badMessageCheck for an envelope that does not open.
 */
int scep_envelope_open(const unsigned char *env, size_t len, X509 *ra, int legacy,
                       scep_unwrap_fn unwrap, void *arg, unsigned char **content,
                       size_t *content_len, int *cipher_nid, enum scep_fail *fail, struct err *e);

/*
 * What a CertPoll, GetCert or GetCRL names (RFC 8894 §3.3.3, §3.3.4,
 * §3.3.5): IssuerAndSubject (issuer, subject) or IssuerAndSerialNumber
 * (issuer, serial).  scep_ref_clear frees.
 */
struct scep_ref {
    X509_NAME *issuer;
    X509_NAME *subject;
    ASN1_INTEGER *serial;
};
void scep_ref_clear(struct scep_ref *r);
/* Parses the decrypted content of a message of type t; -1 with e (ERR_INVALID) if not one. */
int scep_ref_parse(enum scep_msg_type t, const unsigned char *der, size_t len, struct scep_ref *r,
                   struct err *e);

/*
 * Signs tbs (the DER of a CertRep's signed attributes) with digest md
 * ("SHA256"...) and the RA key: *sig (caller frees).  svc gives the signer.
 */
typedef int (*scep_sign_fn)(void *arg, const char *md, const unsigned char *tbs, size_t len,
                            unsigned char **sig, size_t *sig_len, struct err *e);

/* A CertRep to make (RFC 8894 §3.3.2). */
struct scep_reply {
    enum scep_status status;
    enum scep_fail fail;                  /* with SCEP_FAILURE */
    const char *txid;                     /* the request's transactionID */
    const unsigned char *recipient_nonce; /* the request's senderNonce (SCEP_NONCE_LEN) */
    X509 *ra;                             /* the RA certificate: the signer */
    int digest_nid; /* the request's; SHA-1 is answered with SHA-256 (the signer signs SHA-2) */
    /* SUCCESS: certificates (DER one after another) and/or a CRL, enveloped for recipient. */
    const unsigned char *certs, *crl;
    size_t certs_len, crl_len;
    X509 *recipient;
    int cipher_nid; /* the request's content cipher */
};
/*
 * The CertRep r as DER (*out, caller frees): a SignedData with the
 * attributes messageType 3, pkiStatus, failInfo (FAILURE), transactionID,
 * recipientNonce and a new senderNonce, signed through sign with the RA
 * certificate's key; its content (SUCCESS) an EnvelopedData for recipient of
 * a degenerate certificates-only SignedData, else empty.  -1 with e.
 */
int scep_certrep(const struct scep_reply *r, scep_sign_fn sign, void *arg, unsigned char **out,
                 size_t *len, struct err *e);

#endif
