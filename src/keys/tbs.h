/*
 * tbs.h — the kinds of data the signer signs.  A request to sign anything
 * else is refused, so a compromised network process cannot make a key sign
 * arbitrary bytes.
 */
#ifndef VOUCH_TBS_H
#define VOUCH_TBS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/*
 * "certificate", "CRL", "CSR", "OCSP response" or "TSTInfo" if data is, in
 * whole, a TBSCertificate, a TBSCertList, a CertificationRequestInfo, an OCSP
 * ResponseData or an RFC 3161 TSTInfo, "audit checkpoint" for an
 * AuditCheckpoint, "offline bundle" for an offline bundle's digest (below),
 * or "CMP response" for the ProtectedPart of a CMP message a server sends
 * (ip, cp, kup, rp, pkiConf, genp, error, pollRep: RFC 4210 §5.1.3, signed
 * with a CMP endpoint's protection key), or "SCEP CertRep" for the signed
 * attributes (a DER SET OF Attribute) of a SCEP CertRep (RFC 8894 §3.3.2:
 * messageType "3" and a pkiStatus); NULL otherwise.  (A TSTInfo is signed
 * only inside the signer's own CMS SignedData: W_SIGN_TST, never W_SIGN.)
 */
const char *tbs_kind(const unsigned char *data, size_t len);

/*
 * The issuer name of a TBSCertificate or TBSCertList (*issuer, X509_NAME_free) and its
 * authority key identifier's keyIdentifier (*key_id, ASN1_OCTET_STRING_free; NULL if it has
 * none); -1 if data is neither.
 */
/*
 * The responderID of an OCSP ResponseData: 1 and its key hash (SHA-1 of the responder's
 * subjectPublicKey) in hash when it is byKey, 0 when it is byName, -1 if data is not one.
 */
int tbs_ocsp_responder_key_hash(const unsigned char *data, size_t len, unsigned char hash[20]);

int tbs_issuer(const unsigned char *data, size_t len, X509_NAME **issuer,
               ASN1_OCTET_STRING **key_id);

/* Whether data is, in whole, a TSTInfo (what tbs_kind() calls "TSTInfo", without trying the rest).
 */
int tbs_is_tst_info(const unsigned char *data, size_t len);
/*
 * The signed head of a tenant's audit chain (docs/decisions.md, "Audit export"):
 * SEQUENCE { OID, tenant UTF8String, seq INTEGER, headHash OCTET STRING (32),
 * time GeneralizedTime }.  The OID is under 2.25 (ITU-T X.667: an arc made from a
 * random UUID, no registration needed).
 */
#define TBS_AUDIT_CHECKPOINT_OID "2.25.313858181862460048097201346499418659644.1"

/* DER of a checkpoint into *der (caller frees with OPENSSL_free) and *len; -1 on error. */
int tbs_checkpoint_encode(const char *tenant, int64_t seq, const unsigned char hash[32],
                          int64_t when, unsigned char **der, size_t *len);
/* The fields of checkpoint DER (*tenant: caller frees with free()); -1 if it is not one. */
int tbs_checkpoint_decode(const unsigned char *der, size_t len, char **tenant, int64_t *seq,
                          unsigned char hash[32], int64_t *when);

/*
 * The digest of an offline CA's bundle (docs/offline.md): the same structure
 * as a checkpoint under its own OID, headHash being the SHA-256 of the
 * bundle's payload and seq the bundle's sequence number.  tbs_kind() calls it
 * "offline bundle".
 */
#define TBS_OFFLINE_BUNDLE_OID "2.25.313858181862460048097201346499418659644.2"

int tbs_bundle_encode(const char *tenant, int64_t seq, const unsigned char hash[32], int64_t when,
                      unsigned char **der, size_t *len);

/*
 * What the signer signs, inside itself only, to derive a webhook secret
 * (signer_secret.c): the checkpoint structure under this OID, with the
 * tenant, seq 1, the webhook's nonce as headHash and time 0.  tbs_kind()
 * refuses it (tbs_is_secret_input), so W_SIGN does: no one outside the signer
 * can have it signed, and the secret cannot be derived outside.
 */
#define TBS_WEBHOOK_SECRET_OID "2.25.313858181862460048097201346499418659644.3"

int tbs_webhook_secret_encode(const char *tenant, const unsigned char nonce[32],
                              unsigned char **der, size_t *len);

/*
 * What the signer signs, inside itself only, to derive an ACME External
 * Account Binding's HMAC key (signer_secret.c): a structure of its own,
 * AcmeEabKeyInput (tbs.c), tagged with this OID and naming the tenant, the
 * endpoint and the credential's kid with its nonce.  Its shape and OID differ
 * from the webhook secret's input, so the two derivations never sign the
 * same bytes.
 */
#define TBS_ACME_EAB_KEY_OID "2.25.313858181862460048097201346499418659644.4"

int tbs_eab_key_encode(const char *tenant, const char *endpoint, const char *kid,
                       const unsigned char nonce[32], unsigned char **der, size_t *len);

/*
 * The input a CMP shared secret (RFC 4210 section 5.1.3.1) is derived from:
 * AcmeEabKeyInput's shape under an OID of its own, naming the CMP endpoint
 * and the secret's reference, so no CMP secret is an EAB key or the reverse.
 */
#define TBS_CMP_SECRET_OID "2.25.313858181862460048097201346499418659644.5"

int tbs_cmp_secret_encode(const char *tenant, const char *endpoint, const char *ref,
                          const unsigned char nonce[32], unsigned char **der, size_t *len);

/*
 * Whether data is (or begins with) an input a secret is derived from: a
 * webhook secret's, an EAB key's or a CMP secret's.  tbs_kind() answers NULL for these before
 * trying any kind, so W_SIGN refuses them whatever kinds it learns later.
 */
int tbs_is_secret_input(const unsigned char *data, size_t len);
int tbs_bundle_decode(const unsigned char *der, size_t len, char **tenant, int64_t *seq,
                      unsigned char hash[32], int64_t *when);

#endif
