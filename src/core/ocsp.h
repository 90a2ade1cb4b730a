/*
 * ocsp.h — OCSP requests and responses (RFC 6960, RFC 5019, RFC 8954),
 * without I/O: parsing a request into the CertIDs it asks about, and building
 * and signing a BasicOCSPResponse with whatever key it is given (a remote
 * key: the signing happens in the signer).
 */
#ifndef VOUCH_CORE_OCSP_H
#define VOUCH_CORE_OCSP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "lib/util.h"

/* CertIDs accepted in one request; more is a malformedRequest. */
#define OCSP_MAX_IDS 16
/* RFC 8954: a nonce is 1 to 32 octets. */
#define OCSP_NONCE_MAX 32

/* One CertID of a request. */
struct ocsp_id {
    OCSP_CERTID *cid; /* points into the request */
    int hash_nid;     /* NID of the CertID's hash algorithm */
    const unsigned char *name_hash, *key_hash;
    int name_hash_len, key_hash_len;
    char *serial; /* serial_hex() form; NULL if not a positive serial */
};

struct ocsp_query {
    OCSP_REQUEST *req;
    int n;
    struct ocsp_id ids[OCSP_MAX_IDS];
    int has_nonce;
};

/*
 * Parses an OCSPRequest (DER).  A request that does not parse in whole, has
 * no CertID or more than OCSP_MAX_IDS, or a nonce outside 1..32 octets is -1
 * with e set (ERR_INVALID): answer malformedRequest.  A signature on the request is
 * not checked (RFC 6960 makes it optional; nothing here depends on who asks).
 */
int ocsp_query_parse(const unsigned char *der, size_t len, struct ocsp_query *q, struct err *e);
void ocsp_query_clear(struct ocsp_query *q);

/* An issuer's CertID hashes for one hash algorithm. */
struct ocsp_issuer_hash {
    int nid;
    unsigned char name[EVP_MAX_MD_SIZE], key[EVP_MAX_MD_SIZE];
    unsigned int name_len, key_len;
};
/* Hashes of ca's subject name and public key bits with the digest of nid; 0 ok. */
int ocsp_issuer_hash(X509 *ca, int nid, struct ocsp_issuer_hash *out);
/* Whether id names the issuer with these hashes. */
int ocsp_id_matches(const struct ocsp_id *id, const struct ocsp_issuer_hash *h);

/* The status of one certificate, as a SingleResponse says it. */
struct ocsp_status {
    const OCSP_CERTID *cid;  /* copied into the response */
    int status;              /* V_OCSP_CERTSTATUS_GOOD / _REVOKED / _UNKNOWN */
    int64_t revoked_at;      /* revoked only */
    int reason;              /* CRLReason, or -1; unspecified (0) is omitted like on CRLs */
    int64_t invalidity_date; /* 0 if none */
};

/* How a response is signed. */
struct ocsp_signer {
    X509 *cert;       /* the responder's certificate (delegated, or the CA's own) */
    X509 *bound;      /* cert bound to key (signer_key_cert) for OCSP_basic_sign */
    EVP_PKEY *key;    /* the responder's (remote) key */
    const EVP_MD *md; /* SHA-256 (RSA, EC), NULL for Ed25519 */
    int include_cert; /* 1: put cert into the response (a delegated responder) */
};

/*
 * Builds and signs a successful OCSPResponse with one SingleResponse per
 * status, thisUpdate = now and nextUpdate = next_update, ResponderID byKey,
 * the nonce of nonce_from (if given and it has one) copied.  *der (caller
 * frees with OPENSSL_free) is the whole OCSPResponse.
 */
int ocsp_response_sign(const struct ocsp_signer *sg, const struct ocsp_status *st, int n,
                       const OCSP_REQUEST *nonce_from, int64_t now, int64_t next_update,
                       unsigned char **der, size_t *len, struct err *e);

/*
 * A CertID for the certificate with serial (serial_hex() form) issued by
 * issuer, with SHA-1 as RFC 5019 clients use.  NULL on bad input.
 */
OCSP_CERTID *ocsp_certid_sha1(X509 *issuer, const char *serial);

/*
 * The DER of an unsuccessful OCSPResponse (no body): status is
 * OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, _INTERNALERROR, _TRYLATER or
 * _UNAUTHORIZED.  Points to static bytes; *len set.
 */
const unsigned char *ocsp_error_der(int status, size_t *len);

#endif
