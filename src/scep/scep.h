/*
 * scep.h — what SCEP (RFC 8894) needs of its messages, with no HTTP, store or
 * signer: bytes in, bytes out.  The transport is src/api/api_scep.c, the
 * endpoint's state (CA, RA key and certificate) src/svc/svc_scep.c.
 *
 * A pkiMessage (RFC 8894 §3.2) is a CMS SignedData signed by the requester
 * (its self-signed or old certificate in the message), whose signed
 * attributes carry messageType, transactionID and senderNonce and whose
 * content is a CMS EnvelopedData for the RA.  scep_message_parse checks the
 * outer layer only; the envelope is opened by the signer, which holds the RA
 * key.
 */
#ifndef VOUCH_SCEP_H
#define VOUCH_SCEP_H

#include <stddef.h>

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
    int digest_nid; /* the digest of its signature (NID_sha256, ...) */
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

#endif
