/*
 * profile.h — certificate profiles: JSON documents (docs/profiles.md) that
 * decide every field and extension of a certificate issued under them.
 *
 * A profile is parsed and validated once (profile_parse); the parsed form is
 * immutable and may be shared between threads.
 */
#ifndef VOUCH_PROFILE_H
#define VOUCH_PROFILE_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"

struct profile;

/*
 * Parses and validates a profile document.  Errors (status ERR_INVALID, code
 * "bad_request") name the offending field, e.g. "key_usage[2]: unknown usage
 * \"signing\"".  NULL on error.
 */
struct profile *profile_parse(const char *json_text, struct err *e);
/* Another reference to p, for a holder that shares it; each is released by profile_free. */
struct profile *profile_ref(struct profile *p);
void profile_free(struct profile *p);

/* The built-in profiles: names (NULL-terminated) and their JSON documents. */
const char *const *profile_builtin_names(void);
const char *profile_builtin_json(const char *name); /* NULL if no such built-in */

/* Fields other modules need. */
int profile_is_ca(const struct profile *p);
long profile_default_days(const struct profile *p);
long profile_max_days(const struct profile *p);

/*
 * What the requester asks for: the subject, the subject alternative names
 * and the public key (from a CSR, or from server-side key generation).
 */
struct issue_request {
    X509_NAME *subject;  /* owned */
    GENERAL_NAMES *sans; /* owned, may be NULL */
    EVP_PKEY *pubkey;    /* owned */
    long validity_days;  /* 0 = the profile's default */
    /*
     * From a CSR: its SubjectPublicKeyInfo (algorithm and key bits, owned),
     * copied into the certificate byte for byte.  NULL: built from pubkey.
     * (Copying avoids OpenSSL 3.0's encode-and-decode of the key.)
     */
    X509_ALGOR *spki_alg;
    unsigned char *spki_bits;
    int spki_bits_len;
};
void issue_request_clear(struct issue_request *r);

/*
 * Fills r's subject and SANs from JSON: subject "/C=DE/O=Org/CN=name" and
 * sans ["dns:a.example", "ip:192.0.2.1", "email:a@b", "uri:https://..."].
 * (The public key is set by the caller.)
 */
int issue_request_from_json(struct issue_request *r, const char *subject, json_t *sans,
                            struct err *e);

/*
 * Checks r against every rule of the profile: key type and size, subject
 * attributes (required / optional / forbidden / pattern), SANs per type,
 * requested validity.  Errors are status ERR_POLICY, code "profile_violation", and
 * name the field: "subject.CN: required", "san.dns[0] \"x_y\": does not match
 * pattern", "key: rsa-1024 not allowed (allowed: ec-p256, ...)".
 */
int profile_check(const struct profile *p, const struct issue_request *r, struct err *e);
/*
 * The profile's rules on subject alternative names alone (names asked for
 * before there is a CSR: an ACME order's identifiers); as profile_check.
 */
int profile_check_sans(const struct profile *p, const GENERAL_NAMES *sans, struct err *e);

/* The tenant's own public endpoints, written into AIA and CDP. */
struct ca_urls {
    const char *ocsp;       /* http://host/ocsp/<tenant>/<ca>  (NULL = none) */
    const char *ca_issuers; /* http://host/ca/<tenant>/<ca>.crt */
    const char *crl;        /* http://host/crl/<tenant>/<ca>.crl */
    /* A sharded CA (crl_shards > 1): the CDP names the certificate's shard,
       <crl_shard_base><k>.crl with k = crl_shard_of(serial, crl_shards). */
    int crl_shards;
    const char *crl_shard_base; /* http://host/crl/<tenant>/<ca>/ */
};

/*
 * The CRL shard (1..shards) of a certificate with this serial (serial_hex()
 * form), from the serial's low 32 bits; 0 when shards <= 1 (not sharded).
 */
int crl_shard_of(const char *serial_hex, int shards);

/*
 * Builds and signs a certificate for r under profile p.
 *  issuer_cert:  the issuing CA's certificate, or NULL for a self-signed root
 *                (then the issuer name is r->subject and issuer_key signs).
 *  issuer_key:   the CA's key (a signer remote key, or a local key in tests).
 *  urls:         AIA/CDP of the issuing CA (used as the profile asks), may be NULL.
 *  not_before:   seconds since the epoch (usually now); the profile's
 *                backdate_seconds is subtracted here.  profile_check() runs here too.
 * The serial is drawn here (serial_random).  Validity is clamped to the
 * issuer's notAfter.  *out (caller frees) on success; for a leaf it is the
 * object built and signed, not parsed back: its X509_get0_pubkey() is NULL
 * (r->pubkey is the key).  A CA certificate is parsed back from its DER.
 */
int cert_build(const struct profile *p, const struct issue_request *r, X509 *issuer_cert,
               EVP_PKEY *issuer_key, const struct ca_urls *urls, int64_t not_before, X509 **out,
               struct err *e);

/* Seconds since the epoch of an ASN1_TIME into *out; -1 if it does not convert. */
int asn1_time_to_epoch(const ASN1_TIME *t, int64_t *out);

/* A fresh positive serial of 16 random octets (127 bits), top bit clear. */
ASN1_INTEGER *serial_random(struct err *e);
/* Lowercase hex of a serial's magnitude without leading zeros ("0" for 0). Caller frees. */
char *serial_hex(const ASN1_INTEGER *serial);
/* ASN1_INTEGER from serial_hex() form; NULL on bad input. */
ASN1_INTEGER *serial_from_hex(const char *hex);
/*
 * Rewrites s in place into serial_hex() form if it is a serial in a common notation: hex in
 * either case, with or without colons or spaces between bytes (`openssl x509 -serial`,
 * browsers), a leading "0x", or leading zeros; 1 if it did (or s was already in that form), 0
 * if s is not a serial (left unchanged).  The result is never longer than s.
 */
int serial_canonicalize(char *s);

/*
 * Reads a CSR given as PEM or DER (at most 64 KiB) into r: checks its
 * self-signature and rejects weak keys (RSA < 2048 or e != 65537, EC curves
 * other than P-256/P-384, invalid points); then the subject, the SAN
 * extension if the CSR asks for one (its other extensions are ignored: the
 * profile decides), and the public key with its SubjectPublicKeyInfo as it
 * came.  Errors: ERR_INVALID "bad_csr".  CSR_UNSIGNED_OK skips the signature check
 * (the fuzz driver only: mutations rarely keep a signature valid).
 */
#define CSR_UNSIGNED_OK 1u
int csr_read(const unsigned char *data, size_t len, unsigned flags, struct issue_request *r,
             struct err *e);

/*
 * A certificate request in CRMF (RFC 4211): one CertReqMsg in DER, whose
 * proof of possession must be a signature that verifies (raVerified is
 * refused: ERR_INVALID, code CMP_ERR_BAD_POP); subject, key (checked as a
 * CSR's) and subjectAltName from its template into r.  Errors otherwise as
 * csr_read's ("bad_csr").
 */
#define CRMF_PEM_LABEL  "CRMF CERTIFICATE REQUEST MESSAGE"
#define CMP_ERR_BAD_POP "bad_pop"
int crmf_read(const unsigned char *der, size_t len, struct issue_request *r, struct err *e);
/*
 * What an issuance takes as its request: a CSR (csr_read, flags 0), or a
 * CertReqMsg as PEM under CRMF_PEM_LABEL (crmf_read; what the CMP front end
 * submits for ir, cr and kur).
 */
int cert_request_read(const unsigned char *data, size_t len, struct issue_request *r,
                      struct err *e);

/* Builds a CSR for subject and key (a CA whose certificate comes from elsewhere). */
X509_REQ *csr_build(X509_NAME *subject, EVP_PKEY *pub, EVP_PKEY *signing_key, struct err *e);

/* Parses "/C=DE/O=Org/CN=name" (values UTF-8; countryName as PrintableString). */
X509_NAME *name_parse(const char *text, struct err *e);
/* RFC 2253 one-line form; caller frees. */
char *name_oneline(const X509_NAME *name);
/* "dns:a,ip:1.2.3.4,email:x@y,uri:u" in lowercase, for search; caller frees. */
char *sans_summary(const X509 *cert);

/* The digest to sign with for key type and profile choice (NULL for Ed25519). */
const EVP_MD *sign_digest(EVP_PKEY *key, const char *profile_choice);

/* ---- CRLs ------------------------------------------------------------- */

struct crl_entry {
    const char *serial; /* serial_hex() form */
    int64_t revoked_at;
    int reason;              /* CRLReason; 0 (unspecified) or negative is not encoded */
    int64_t invalidity_date; /* 0 = none */
};

/*
 * Builds and signs a version 2 CRL of the CA: issuer name byte-identical to
 * the CA certificate's subject, AKI, CRL Number `number`, thisUpdate and
 * nextUpdate, one entry per element of entries with reasonCode and
 * invalidityDate.  *out (caller frees) on success.
 */
int crl_build(X509 *ca_cert, EVP_PKEY *ca_key, const struct crl_entry *entries, size_t n,
              int64_t number, int64_t this_update, int64_t next_update, X509_CRL **out,
              struct err *e);

/* What a CRL is: its number, times and scope. */
struct crl_scope {
    int64_t number;
    int64_t this_update, next_update;
    int64_t delta_base;       /* > 0: a delta CRL on this base CRL number (critical indicator) */
    const char *idp_url;      /* non-NULL: critical IDP with this distributionPoint (a shard) */
    const char *freshest_url; /* non-NULL: Freshest CRL naming where the deltas are */
};

/*
 * A CRL built as its entries stream in: crl_writer_add() DER-encodes each
 * entry (in the order given; entries are not sorted), crl_writer_finish()
 * adds the header and extensions of sc, signs with ca_key, checks the
 * signature against ca_cert and sets *der (caller frees with free()).
 * A writer is finished at most once; crl_writer_free() accepts NULL.
 */
struct crl_writer;
struct crl_writer *crl_writer_new(void);
int crl_writer_add(struct crl_writer *w, const struct crl_entry *en, struct err *e);
size_t crl_writer_count(const struct crl_writer *w);
int crl_writer_finish(struct crl_writer *w, X509 *ca_cert, EVP_PKEY *ca_key,
                      const struct crl_scope *sc, unsigned char **der, size_t *der_len,
                      struct err *e);
void crl_writer_free(struct crl_writer *w);

/* RFC 5280 reason names ("keyCompromise", ...) <-> codes; -1 if unknown. */
int crl_reason_parse(const char *name);
const char *crl_reason_name(int code);

#endif
