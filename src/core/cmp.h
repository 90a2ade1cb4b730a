/*
 * cmp.h — what vouch reads of a CMP PKIMessage (RFC 4210/9480) itself, and
 * the error messages it makes itself; no I/O.
 *
 * OpenSSL 3.0 parses and makes PKIMessages (OSSL_CMP_*), but exports no
 * accessor for the header fields a server needs before it can let OpenSSL
 * check the protection: the senderKID naming the shared secret, the
 * protection algorithm, the senderNonce and messageTime.  cmp_peek reads them
 * with ASN.1 templates of ours (cmp.c, the PKIHeader of RFC 4210 §5.1.1).
 * Likewise OpenSSL 3.0's server answers every early failure with failInfo
 * badRequest; cmp_error_new makes an (unprotected) error message with the
 * PKIFailureInfo the failure calls for.
 */
#ifndef VOUCH_CORE_CMP_H
#define VOUCH_CORE_CMP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/cmp.h>
#include <openssl/x509.h>

#include "lib/util.h"

#define CMP_MSG_MAX           (64 * 1024) /* the largest PKIMessage taken (a request with a few certs) */
#define CMP_ID_MAX            64 /* transactionID, nonce, senderKID: at most this many bytes */
#define CMP_PROFILE_MAX       63 /* a certProfile name (a profile name of ours) */
#define CMP_OID_CERT_PROFILE  "1.3.6.1.5.5.7.4.21" /* id-it-certProfile (RFC 9483 section 3.1) */
#define CMP_PROT_MAC          1                    /* PasswordBasedMac (RFC 4210 §5.1.3.1) */
#define CMP_PROT_SIG          2                    /* a signature */
#define CMP_PROT_OTHER        3                    /* an algorithm vouch does not take */
#define CMP_PROT_PBMAC1       4                    /* PBMAC1 (RFC 9481 section 6.1.1) */
#define CMP_PBKDF2_MAX        100000 /* the most PBKDF2 iterations a request may ask for */
#define CMP_PBKDF2_ITERATIONS 10000  /* what vouch's PBMAC1 answers use */

/* What cmp_peek found.  Byte strings are copied; lengths 0 when absent. */
struct cmp_peek {
    int body;       /* the PKIBody's CHOICE tag: 0 ir, 2 cr, 4 p10cr, 7 kur, 11 rr, 21 genm, ... */
    int protection; /* CMP_PROT_MAC, CMP_PROT_SIG, CMP_PROT_OTHER, or 0 (none) */
    int pvno;
    unsigned char sender_kid[CMP_ID_MAX];
    size_t sender_kid_len;
    unsigned char txid[CMP_ID_MAX];
    size_t txid_len;
    unsigned char sender_nonce[CMP_ID_MAX];
    size_t sender_nonce_len;
    unsigned char recip_nonce[CMP_ID_MAX];
    size_t recip_nonce_len;
    int64_t message_time;              /* 0 if absent */
    int implicit_confirm;              /* id-it-implicitConfirm in generalInfo */
    char profile[CMP_PROFILE_MAX + 1]; /* id-it-certProfile's first name (RFC 9483 §3.1), or "" */
    unsigned char
        *sender_der; /* the header's sender GeneralName, DER (caller frees: cmp_peek_clear) */
    size_t sender_der_len;
    unsigned char *first_cert_der; /* extraCerts[0] (the protection certificate), or NULL */
    size_t first_cert_der_len;
};
void cmp_peek_clear(struct cmp_peek *p);

/* Body tags (RFC 4210 §5.1.2) vouch answers. */
enum {
    CMP_BODY_IR = 0,
    CMP_BODY_CR = 2,
    CMP_BODY_P10CR = 4,
    CMP_BODY_KUR = 7,
    CMP_BODY_RR = 11,
    CMP_BODY_PKICONF = 19,
    CMP_BODY_GENM = 21,
    CMP_BODY_ERROR = 23,
    CMP_BODY_CERTCONF = 24,
    CMP_BODY_POLLREQ = 25,
};

/*
 * Reads the header of PKIMessage der (DER only, at most CMP_MSG_MAX bytes)
 * into *p.  -1 with e (ERR_INVALID) when it is no PKIMessage, is not DER, a
 * field is over CMP_ID_MAX bytes, or transactionID or senderNonce is absent
 * (RFC 4210 §5.1.1 requires both in every request vouch takes).
 */
int cmp_peek(const unsigned char *der, size_t len, struct cmp_peek *p, struct err *e);

/* PKIFailureInfo bits (RFC 4210 §5.2.3). */
enum {
    CMP_FAIL_BAD_ALG = 0,
    CMP_FAIL_BAD_MESSAGE_CHECK = 1,
    CMP_FAIL_BAD_REQUEST = 2,
    CMP_FAIL_BAD_TIME = 3,
    CMP_FAIL_BAD_CERT_ID = 4,
    CMP_FAIL_BAD_DATA_FORMAT = 5,
    CMP_FAIL_WRONG_AUTHORITY = 6,
    CMP_FAIL_INCORRECT_DATA = 7,
    CMP_FAIL_MISSING_TIME_STAMP = 8,
    CMP_FAIL_BAD_POP = 9,
    CMP_FAIL_CERT_REVOKED = 10,
    CMP_FAIL_CERT_CONFIRMED = 11,
    CMP_FAIL_WRONG_INTEGRITY = 12,
    CMP_FAIL_BAD_RECIPIENT_NONCE = 13,
    CMP_FAIL_TIME_NOT_AVAILABLE = 14,
    CMP_FAIL_UNACCEPTED_POLICY = 15,
    CMP_FAIL_UNACCEPTED_EXTENSION = 16,
    CMP_FAIL_ADD_INFO_NOT_AVAILABLE = 17,
    CMP_FAIL_BAD_SENDER_NONCE = 18,
    CMP_FAIL_BAD_CERT_TEMPLATE = 19,
    CMP_FAIL_SIGNER_NOT_TRUSTED = 20,
    CMP_FAIL_TRANSACTION_ID_IN_USE = 21,
    CMP_FAIL_UNSUPPORTED_VERSION = 22,
    CMP_FAIL_NOT_AUTHORIZED = 23,
    CMP_FAIL_SYSTEM_UNAVAIL = 24,
    CMP_FAIL_SYSTEM_FAILURE = 25,
    CMP_FAIL_DUPLICATE_CERT_REQ = 26,
};

/*
 * An unprotected error message (RFC 4210 §5.3.21) answering req: status
 * rejection, failInfo bit fail_bit, statusString text; its header echoes the
 * transactionID, has the request's senderNonce as recipNonce and a fresh
 * senderNonce, and is addressed to the request's sender.  *out (DER, caller
 * frees with free()).  -1 with e on an internal failure.
 */
int cmp_error_new(const struct cmp_peek *req, int fail_bit, const char *text, unsigned char **out,
                  size_t *len, struct err *e);

/* A certConf as vouch reads it (one CertStatus, or none: the client rejects). */
struct cmp_certconf {
    unsigned char hash[64]; /* certHash */
    size_t hash_len;
    long cert_req_id;
    int rejected; /* statusInfo other than accepted, or no CertStatus */
};
/* Reads the certConf body of PKIMessage der (cmp_peek read it first); -1 with e (ERR_INVALID). */
int cmp_certconf_read(const unsigned char *der, size_t len, struct cmp_certconf *out,
                      struct err *e);

#define CMP_PBM_ITERATIONS 10000
/*
 * A pkiConf (RFC 4210 §5.3.17) answering req, protected with PasswordBasedMac
 * (SHA-256, HMAC-SHA256, CMP_PBM_ITERATIONS, fresh salt) under secret, its
 * senderKID ref.  *out (DER, caller frees with free()).
 */
int cmp_pkiconf_new(const struct cmp_peek *req, const unsigned char *secret, size_t secret_len,
                    const char *ref, unsigned char **out, size_t *len, struct err *e);

/*
 * A pkiConf answering req signed by key (a remote key: the signer signs the
 * ProtectedPart) with certificate cert, which goes into extraCerts with
 * chain (may be NULL).
 */
int cmp_pkiconf_signed(const struct cmp_peek *req, EVP_PKEY *key, X509 *cert,
                       STACK_OF(X509) * chain, unsigned char **out, size_t *len, struct err *e);

/*
 * Signs the unprotected PKIMessage der (an answer OpenSSL made: OpenSSL 3.0's
 * CMP cannot sign with a provider's key of a type it does not know): the
 * header's sender becomes cert's subject, protectionAlg the key's signature
 * algorithm, extraCerts cert and chain first; the signature over the
 * ProtectedPart is made by key (the signer, for a remote key).  *out caller
 * frees with free().
 */
int cmp_sign(const unsigned char *der, size_t len, EVP_PKEY *key, X509 *cert,
             STACK_OF(X509) * chain, unsigned char **out, size_t *out_len, struct err *e);

/*
 * The CRLReason an rr (its one RevDetails' crlEntryDetails) asks for: 0
 * (unspecified) if it names none; -1 with e (ERR_INVALID) for more than one
 * RevDetails or a reason that is no CRLReason.
 */
int cmp_rr_reason(const unsigned char *der, size_t len, struct err *e);
/* An id-it-caCerts InfoTypeAndValue holding certs (RFC 9483 §4.3.1); NULL on failure. */
OSSL_CMP_ITAV *cmp_ca_certs_itav(STACK_OF(X509) * certs);

/* An unprotected pollRep (RFC 4210 §5.3.22) answering req's pollReq. */
int cmp_pollrep_new(const struct cmp_peek *req, long cert_req_id, long check_after,
                    unsigned char **out, size_t *len, struct err *e);
/*
 * An unprotected ip (body 1), cp (3) or kup (8) answering req, accepting
 * cert for cert_req_id, extra (may be NULL) as extraCerts and ca_pubs (may
 * be NULL) as caPubs: the answer to a pollReq once the request is issued.
 */
int cmp_certrep_new(const struct cmp_peek *req, int body, long cert_req_id, X509 *cert,
                    STACK_OF(X509) * extra, STACK_OF(X509) * ca_pubs, unsigned char **out,
                    size_t *len, struct err *e);
/* Protects the unprotected PKIMessage der with PasswordBasedMac under secret, senderKID ref. */
int cmp_mac(const unsigned char *der, size_t len, const unsigned char *secret, size_t secret_len,
            const char *ref, unsigned char **out, size_t *out_len, struct err *e);

/*
 * Verifies the PBMAC1 protection of PKIMessage der under secret (OpenSSL 3.0's
 * CMP has no PBMAC1): PBKDF2 with HMAC-SHA256/384/512 (HMAC-SHA1, the default
 * PRF, refused), at most CMP_PBKDF2_MAX iterations, then HMAC-SHA256/384/512
 * over the ProtectedPart.  0, or -1 with e: ERR_INVALID for parameters not
 * taken, ERR_FORBIDDEN for a MAC that does not verify.
 */
int cmp_pbmac1_verify(const unsigned char *der, size_t len, const unsigned char *secret,
                      size_t secret_len, struct err *e);
/* Protects the unprotected PKIMessage der with PBMAC1 (PBKDF2-HMAC-SHA256, HMAC-SHA256). */
int cmp_pbmac1_protect(const unsigned char *der, size_t len, const unsigned char *secret,
                       size_t secret_len, const char *ref, unsigned char **out, size_t *out_len,
                       struct err *e);

/* The status of a PKIStatusInfo in DER (OpenSSL 3.0 exports no getter); -1 if it does not read. */
int cmp_status_of(const unsigned char *der, size_t len);

#endif
