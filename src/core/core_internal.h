/*
 * core_internal.h — what the src/core files share; not for other modules
 * (they use core/profile.h).
 */
#ifndef VOUCH_CORE_INTERNAL_H
#define VOUCH_CORE_INTERNAL_H

#include <regex.h>
#include <stdint.h>

#include "core/profile.h"

/* ---- DER (der.c) ------------------------------------------------------ */

/*
 * Whether the len bytes at der are exactly one DER value: 0, or -1 for BER
 * (an indefinite or long-form length, a high-tag form for a low tag, a
 * constructed string, a BOOLEAN other than 00/FF, a padded INTEGER), for
 * bytes after the value, or for nesting deeper than 32.
 */
int der_check(const unsigned char *der, size_t len);

/* ---- key types (key.c) ------------------------------------------------ */

/* The key types a profile can allow, as bits of profile.key_types. */
enum key_kind {
    KT_NONE = 0,
    KT_EC_P256 = 1 << 0,
    KT_EC_P384 = 1 << 1,
    KT_RSA_2048 = 1 << 2,
    KT_RSA_3072 = 1 << 3,
    KT_RSA_4096 = 1 << 4,
    KT_ED25519 = 1 << 5,
};

enum key_family { KF_OTHER, KF_RSA, KF_EC, KF_ED25519 };

/* What a public key is: its family, size and profile name ("rsa-2048"). */
struct key_info {
    enum key_family family;
    enum key_kind kind; /* KT_NONE if no profile can allow it */
    int bits;
    char name[48]; /* "rsa-1024", "ec-secp256k1", "dsa" for unsupported ones too */
};

/* Describes key (public part only; works on remote keys). */
void key_describe(EVP_PKEY *key, struct key_info *ki);
/* The kind of a profile name ("ec-p256"), KT_NONE if unknown. */
enum key_kind key_kind_parse(const char *name);
/* Comma-separated names of the kinds in mask; caller frees. */
char *key_kinds_list(unsigned mask);
/*
 * Rejects weak or malformed public keys: RSA below 2048 or above 8192 bits,
 * an even modulus or e != 65537, EC curves other than P-256/P-384, invalid EC
 * points, algorithms other than RSA, EC and Ed25519.  On failure writes the
 * reason into why.
 */
int key_check_strength(EVP_PKEY *key, const struct key_info *ki, char *why, size_t len);

/* ---- profiles (profile*.c) -------------------------------------------- */

enum rule { RULE_FORBIDDEN = 0, RULE_OPTIONAL, RULE_REQUIRED };

/* A rule for one subject attribute or one SAN type. */
struct value_rule {
    int nid; /* subject attribute; unused for SAN types */
    enum rule rule;
    int max;       /* most occurrences */
    int has_regex; /* regex is compiled */
    regex_t regex; /* anchored: the whole value must match */
};

enum san_type { SAN_DNS, SAN_IP, SAN_EMAIL, SAN_URI, SAN_TYPES };

/* Key usage bits, by their position in the KeyUsage BIT STRING. */
enum ku_bit {
    KU_BIT_DIGITAL_SIGNATURE = 0,
    KU_BIT_NON_REPUDIATION = 1,
    KU_BIT_KEY_ENCIPHERMENT = 2,
    KU_BIT_DATA_ENCIPHERMENT = 3,
    KU_BIT_KEY_AGREEMENT = 4,
    KU_BIT_KEY_CERT_SIGN = 5,
    KU_BIT_CRL_SIGN = 6,
    KU_BIT_ENCIPHER_ONLY = 7,
    KU_BIT_DECIPHER_ONLY = 8,
};
#define KU_MASK(bit) (1u << (bit))

struct profile {
    int refs; /* profile_ref / profile_free */
    long default_days;
    long max_days;
    long backdate_seconds;
    unsigned key_types;          /* enum key_kind bits */
    unsigned key_usage;          /* KU_MASK bits */
    STACK_OF(ASN1_OBJECT) * eku; /* NULL: no EKU extension */
    int eku_critical;
    int ca;
    long path_len; /* -1: none */
    struct value_rule *subject;
    size_t subject_count;
    struct value_rule subject_other;
    struct value_rule san[SAN_TYPES];
    int san_required;
    int cn_in_san;
    NAME_CONSTRAINTS *name_constraints; /* NULL: none */
    int name_constraints_critical;
    CERTIFICATEPOLICIES *policies; /* NULL: none */
    int aia_ocsp;
    int aia_ca_issuers;
    int cdp;
    int ocsp_nocheck;
    char digest[8]; /* "auto", "sha256", "sha384", "sha512" */
};

/* Parsing helpers shared by profile.c and profile_names.c. */
int profile_parse_subject(struct profile *p, json_t *v, struct err *e);
int profile_parse_san(struct profile *p, json_t *v, struct err *e);
int profile_parse_name_constraints(struct profile *p, json_t *v, struct err *e);
int profile_parse_policies(struct profile *p, json_t *v, struct err *e);
/* Refuses keys of obj other than those in allowed (NULL-terminated); names path. */
int json_check_fields(json_t *obj, const char *path, const char *const *allowed, struct err *e);
/* Optional fields of obj: unchanged *out when absent; errors name path.key. */
int json_get_bool(json_t *obj, const char *key, const char *path, int *out, struct err *e);
int json_get_long(json_t *obj, const char *key, const char *path, long min, long max, long *out,
                  struct err *e);
/* A string of JSON without embedded NULs, else NULL. */
const char *json_plain_string(json_t *v);
/* A dotted OID ("1.3.6.1.5.5.7.3.1") as an object (caller frees); NULL if malformed. */
ASN1_OBJECT *oid_parse(const char *text);
/* Refuses ERE patterns that are costly to compile or match (pattern.c); why says why. */
int pattern_check(const char *pattern, char *why, size_t len);
/* Matches value against the rule's pattern (1 if no pattern). */
int value_rule_match(const struct value_rule *r, const char *value);

/* ---- names and SANs (name.c, san.c) ----------------------------------- */

/* The entry's value as NUL-terminated UTF-8 (caller frees), NULL if not decodable. */
char *name_entry_utf8(const X509_NAME_ENTRY *entry);
/* Short name ("CN") or dotted OID of an attribute into buf. */
const char *name_attr_label(const ASN1_OBJECT *obj, char *buf, size_t len);
/* A copy of name with countryName re-encoded as PrintableString; NULL on failure. */
X509_NAME *name_with_printable_country(const X509_NAME *name);

/* The SAN type of gn, or SAN_TYPES for types a profile cannot allow. */
enum san_type san_type_of(const GENERAL_NAME *gn);
extern const char *const san_type_names[SAN_TYPES];
/* Text form of a SAN value (IP in dotted or RFC 5952 form); caller frees, NULL if undecodable. */
char *san_value_text(const GENERAL_NAME *gn);
/* How san_check_dns reads a name: a SAN (leftmost "*" label allowed), a
 * plain host name (e-mail domains), or a name-constraint subtree (".a.b"). */
enum dns_mode { DNS_SAN, DNS_HOST, DNS_CONSTRAINT };
/* Syntax checks; on failure write the reason into why. */
int san_check_dns(const char *name, enum dns_mode mode, char *why, size_t len);
int san_check_email(const char *addr, char *why, size_t len);
int san_check_uri(const char *uri, char *why, size_t len);
/* "10.0.0.0/8" or "2001:db8::/32" into address || mask (8 or 32 octets). */
int san_parse_cidr(const char *text, unsigned char *out, int *out_len);
/* An IA5String GENERAL_NAME of type (GEN_DNS, GEN_EMAIL, GEN_URI); NULL on failure. */
GENERAL_NAME *san_new_ia5(int type, const char *value);
/* An iPAddress GENERAL_NAME of len (4, 16, 8 or 32) octets. */
GENERAL_NAME *san_new_ip(const unsigned char *octets, int len);

/* ---- certificates and CRLs (cert*.c, crl.c) --------------------------- */

/* An AKI with the issuer's key identifier (its SKI, else SHA-1 of its key). */
AUTHORITY_KEYID *aki_from_issuer(X509 *issuer);
/* A DistributionPointName (fullName) of one URI; NULL on allocation failure. */
DIST_POINT_NAME *dist_point_name_uri(const char *url);
/* CRLDistributionPoints (or FreshestCRL) with one full-name URI; NULL on failure. */
CRL_DIST_POINTS *crl_dist_points_new(const char *url);
/* The extension adders of cert_build (cert_ext.c). */
int cert_add_extensions(X509 *x, const struct profile *p, const struct issue_request *r,
                        X509 *issuer, const struct ca_urls *urls, struct err *e);
/* The key usage bits p asks for, adjusted to key's algorithm (RFC 8813, RFC 8410). */
unsigned cert_key_usage(const struct profile *p, EVP_PKEY *key);

#endif
