/*
 * tsa.h — RFC 3161 time-stamp protocol objects, free of I/O and keys.
 *
 * The network process parses a TimeStampReq (tsa_query_parse), checks it
 * against a unit's policy, builds the TSTInfo to be signed (tsa_tst_build),
 * and wraps the signer's TimeStampToken — or a refusal — in a
 * TimeStampResp (tsa_resp_granted, tsa_resp_refusal).  The CMS SignedData
 * around the TSTInfo is made by the signer process (keys.h: signer_sign_tst).
 */
#ifndef VOUCH_TSA_H
#define VOUCH_TSA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ts.h>
#include <openssl/x509.h>

#include "lib/util.h"

/* PKIFailureInfo bits (RFC 3161 §2.4.2). */
enum tsa_failure {
    TSA_FAIL_BAD_ALG = 0,
    TSA_FAIL_BAD_REQUEST = 2,
    TSA_FAIL_BAD_DATA_FORMAT = 5,
    TSA_FAIL_TIME_NOT_AVAILABLE = 14,
    TSA_FAIL_UNACCEPTED_POLICY = 15,
    TSA_FAIL_UNACCEPTED_EXTENSION = 16,
    TSA_FAIL_ADD_INFO_NOT_AVAILABLE = 17,
    TSA_FAIL_SYSTEM_FAILURE = 25,
};

/* What a unit accepts. */
struct tsa_policy {
    ASN1_OBJECT *default_policy;      /* owned */
    STACK_OF(ASN1_OBJECT) * policies; /* accepted (default included), owned */
    int hash_nids[8];                 /* accepted imprint hashes (NID_sha256, ...) */
    int nhash;
    int64_t accuracy_ms; /* 0 = no accuracy field */
};
/*
 * Fills p from a unit's settings: default policy OID (dotted), JSON arrays of
 * accepted policy OIDs and hash names ("sha1", "sha256", "sha384", "sha512").
 * -1 with e (ERR_INVALID naming the field) on a bad value.
 */
int tsa_policy_init(struct tsa_policy *p, const char *policy, const char *policies_json,
                    const char *hashes_json, int64_t accuracy_ms, struct err *e);
void tsa_policy_clear(struct tsa_policy *p);
/* The NID of a hash name above, NID_undef if not one of them. */
int tsa_hash_nid(const char *name);
/* The name of one of those hashes ("unknown" for any other NID); static. */
const char *tsa_hash_name(int nid);

/* A request that passed the checks. */
struct tsa_query {
    TS_REQ *req;               /* owned */
    const ASN1_OBJECT *policy; /* the token's policy (the request's or the default) */
    int hash_nid;
    int cert_req;
};
void tsa_query_clear(struct tsa_query *q);

/*
 * Parses a DER TimeStampReq and checks it against p.  0 ok (q filled); -1
 * with *failure set to the PKIFailureInfo bit and why[] to a short reason:
 * badDataFormat (not a whole TimeStampReq, wrong version, imprint length not
 * the hash's), badAlg (hash not accepted), unacceptedPolicy,
 * unacceptedExtension (this TSA supports none).
 */
int tsa_query_parse(const struct tsa_policy *p, const unsigned char *der, size_t len,
                    struct tsa_query *q, enum tsa_failure *failure, char *why, size_t why_len);

/*
 * Builds the DER of a TSTInfo (RFC 3161 §2.4.2) for q: version 1, q's
 * policy, the request's message imprint and nonce, serial, genTime `now`
 * (UTC, fraction digits as fine as the accuracy, no trailing zeros),
 * accuracy, and tsa = directoryName of tsa_subject (if not NULL).
 * *der (caller frees with OPENSSL_free) and *gen_time (caller frees with free,
 * the encoded genTime) are set on success; -1 with e otherwise.
 */
int tsa_tst_build(const struct tsa_query *q, const struct tsa_policy *p, const ASN1_INTEGER *serial,
                  const struct timespec *now, const X509_NAME *tsa_subject, unsigned char **der,
                  size_t *der_len, char **gen_time, struct err *e);

/* TimeStampResp DER (caller frees with OPENSSL_free): granted with token (CMS ContentInfo DER). */
int tsa_resp_granted(const unsigned char *token, size_t token_len, unsigned char **out,
                     size_t *out_len);
/* TimeStampResp DER: rejection with one failure bit and a status string. */
int tsa_resp_refusal(enum tsa_failure failure, const char *text, unsigned char **out,
                     size_t *out_len);

/* Lowercase hex of the request's imprint (caller frees). */
char *tsa_query_imprint_hex(const struct tsa_query *q);
/* Lowercase hex of the nonce's magnitude, NULL if none (caller frees). */
char *tsa_query_nonce_hex(const struct tsa_query *q);

#endif
