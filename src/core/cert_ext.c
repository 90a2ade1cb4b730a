/*
 * cert_ext.c — the extensions of an issued certificate.  The profile decides
 * every one of them; nothing is copied from the CSR except the SAN values
 * that profile_check() accepted.  OpenSSL encodes them all (X509_add1_ext_i2d).
 */
#include "core/core_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#define URL_MAX 2048

static int ext_add(X509 *x, int nid, void *value, int critical, struct err *e)
{
    if (X509_add1_ext_i2d(x, nid, value, critical, X509V3_ADD_DEFAULT) != 1)
        return err_ossl(e, ERR_INTERNAL, "extension %s: cannot encode", OBJ_nid2sn(nid));
    return 0;
}

unsigned cert_key_usage(const struct profile *p, EVP_PKEY *key)
{
    unsigned encipher = KU_MASK(KU_BIT_KEY_ENCIPHERMENT) | KU_MASK(KU_BIT_DATA_ENCIPHERMENT);
    unsigned agree = KU_MASK(KU_BIT_KEY_AGREEMENT) | KU_MASK(KU_BIT_ENCIPHER_ONLY) |
                     KU_MASK(KU_BIT_DECIPHER_ONLY);
    struct key_info ki;

    key_describe(key, &ki);
    switch (ki.family) {
    case KF_EC:
        return p->key_usage & ~encipher; /* RFC 8813 §3: EC keys cannot encrypt */
    case KF_ED25519:
        return p->key_usage & ~(encipher | agree); /* RFC 8410 §5: signatures only */
    case KF_RSA:
        return p->key_usage & ~agree; /* RSA does no key agreement */
    default:
        return p->key_usage;
    }
}

/* keyUsage, always critical (RFC 5280 §4.2.1.3). */
static int ext_key_usage(X509 *x, const struct profile *p, EVP_PKEY *key, struct err *e)
{
    unsigned usage = cert_key_usage(p, key);
    ASN1_BIT_STRING *bits;
    int ok = 1, rc;

    if (usage == 0)
        return err_set(e, ERR_POLICY, "key_usage: none of the profile's usages fits this key type");
    if ((bits = ASN1_BIT_STRING_new()) == NULL)
        return err_ossl(e, ERR_INTERNAL, "key_usage: out of memory");
    for (int bit = 0; bit <= KU_BIT_DECIPHER_ONLY; bit++)
        if ((usage & KU_MASK(bit)) && ASN1_BIT_STRING_set_bit(bits, bit, 1) != 1)
            ok = 0;
    if (ok)
        rc = ext_add(x, NID_key_usage, bits, 1, e);
    else
        rc = err_ossl(e, ERR_INTERNAL, "key_usage: out of memory");
    ASN1_BIT_STRING_free(bits);
    return rc;
}

/* basicConstraints, critical in every certificate (RFC 5280 §4.2.1.9 requires it for CAs). */
static int ext_basic_constraints(X509 *x, const struct profile *p, struct err *e)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    int rc = -1;

    if (bc == NULL)
        return err_ossl(e, ERR_INTERNAL, "basic_constraints: out of memory");
    bc->ca = p->ca ? 0xff : 0;
    if (p->ca && p->path_len >= 0) {
        if ((bc->pathlen = ASN1_INTEGER_new()) == NULL ||
            ASN1_INTEGER_set(bc->pathlen, p->path_len) != 1) {
            err_ossl(e, ERR_INTERNAL, "basic_constraints: out of memory");
            goto out;
        }
    }
    rc = ext_add(x, NID_basic_constraints, bc, 1, e);
out:
    BASIC_CONSTRAINTS_free(bc);
    return rc;
}

/* subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1). */
static int ext_ski(X509 *x, struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
    int rc = -1;

    if (ski != NULL && X509_pubkey_digest(x, EVP_sha1(), md, &len) == 1 &&
        ASN1_OCTET_STRING_set(ski, md, (int)len) == 1)
        rc = ext_add(x, NID_subject_key_identifier, ski, 0, e);
    else
        err_ossl(e, ERR_INTERNAL, "subject_key_identifier: cannot compute");
    ASN1_OCTET_STRING_free(ski);
    return rc;
}

AUTHORITY_KEYID *aki_from_issuer(X509 *issuer)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);
    AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (aki == NULL)
        return NULL;
    if (ski != NULL) {
        aki->keyid = ASN1_OCTET_STRING_dup(ski);
    } else if (X509_pubkey_digest(issuer, EVP_sha1(), md, &len) == 1 &&
               (aki->keyid = ASN1_OCTET_STRING_new()) != NULL) {
        if (ASN1_OCTET_STRING_set(aki->keyid, md, (int)len) != 1) {
            AUTHORITY_KEYID_free(aki);
            return NULL;
        }
    }
    if (aki->keyid == NULL) {
        AUTHORITY_KEYID_free(aki);
        return NULL;
    }
    return aki;
}

static int ext_aki(X509 *x, X509 *issuer, struct err *e)
{
    AUTHORITY_KEYID *aki = aki_from_issuer(issuer);
    int rc;

    if (aki == NULL)
        return err_ossl(e, ERR_INTERNAL, "authority_key_identifier: cannot compute");
    rc = ext_add(x, NID_authority_key_identifier, aki, 0, e);
    AUTHORITY_KEYID_free(aki);
    return rc;
}

/* subjectAltName, critical when the subject is empty (RFC 5280 §4.2.1.6). */
static int ext_san(X509 *x, const struct issue_request *r, struct err *e)
{
    int empty_subject = r->subject == NULL || X509_NAME_entry_count(r->subject) == 0;

    if (sk_GENERAL_NAME_num(r->sans) <= 0)
        return 0;
    return ext_add(x, NID_subject_alt_name, r->sans, empty_subject, e);
}

/* AIA and CDP URLs must be plain http (RFC 5280 §4.2.2.1, §4.2.1.13: no TLS loop). */
static int url_check(const char *what, const char *url, struct err *e)
{
    size_t n = strlen(url);

    if (strncmp(url, "http://", 7) != 0 || n <= 7 || n > URL_MAX)
        return err_set(e, ERR_INTERNAL, "%s: \"%.128s\" must be an http:// URL", what, url);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return err_set(e, ERR_INTERNAL, "%s: URL with a space or non-ASCII byte", what);
    return 0;
}

static int aia_push(AUTHORITY_INFO_ACCESS *aia, int method, const char *url)
{
    ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
    GENERAL_NAME *gn = san_new_ia5(GEN_URI, url);

    if (ad == NULL || gn == NULL || sk_ACCESS_DESCRIPTION_push(aia, ad) <= 0) {
        ACCESS_DESCRIPTION_free(ad);
        GENERAL_NAME_free(gn);
        return -1;
    }
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(method);
    GENERAL_NAME_free(ad->location);
    ad->location = gn;
    return 0;
}

static int ext_aia(X509 *x, const struct profile *p, const struct ca_urls *urls, struct err *e)
{
    int ocsp = p->aia_ocsp && urls->ocsp != NULL;
    int issuers = p->aia_ca_issuers && urls->ca_issuers != NULL;
    AUTHORITY_INFO_ACCESS *aia;
    int rc = -1;

    if (!ocsp && !issuers)
        return 0;
    if ((ocsp && url_check("aia.ocsp", urls->ocsp, e) != 0) ||
        (issuers && url_check("aia.ca_issuers", urls->ca_issuers, e) != 0))
        return -1;
    if ((aia = sk_ACCESS_DESCRIPTION_new_null()) == NULL ||
        (ocsp && aia_push(aia, NID_ad_OCSP, urls->ocsp) != 0) ||
        (issuers && aia_push(aia, NID_ad_ca_issuers, urls->ca_issuers) != 0))
        err_ossl(e, ERR_INTERNAL, "aia: out of memory");
    else
        rc = ext_add(x, NID_info_access, aia, 0, e);
    AUTHORITY_INFO_ACCESS_free(aia);
    return rc;
}

DIST_POINT_NAME *dist_point_name_uri(const char *url)
{
    DIST_POINT_NAME *dpn = DIST_POINT_NAME_new();
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    GENERAL_NAME *gn = san_new_ia5(GEN_URI, url);

    if (dpn == NULL || names == NULL || gn == NULL || sk_GENERAL_NAME_push(names, gn) <= 0) {
        GENERAL_NAME_free(gn);
        GENERAL_NAMES_free(names);
        DIST_POINT_NAME_free(dpn);
        return NULL;
    }
    dpn->type = 0; /* fullName */
    dpn->name.fullname = names;
    return dpn;
}

CRL_DIST_POINTS *crl_dist_points_new(const char *url)
{
    CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
    DIST_POINT *dp = DIST_POINT_new();

    if (cdp == NULL || dp == NULL || (dp->distpoint = dist_point_name_uri(url)) == NULL ||
        sk_DIST_POINT_push(cdp, dp) <= 0) {
        DIST_POINT_free(dp);
        CRL_DIST_POINTS_free(cdp);
        return NULL;
    }
    return cdp;
}

int crl_shard_of(const char *serial_hex, int shards)
{
    size_t n = serial_hex ? strlen(serial_hex) : 0;
    unsigned long low;

    if (shards <= 1 || n == 0)
        return 0;
    /* The low 32 bits of a random serial: uniform over the shards. */
    low = strtoul(serial_hex + (n > 8 ? n - 8 : 0), NULL, 16);
    return 1 + (int)(low % (unsigned long)shards);
}

/* The CDP URL of x: its shard's CRL when the CA is sharded; caller frees. */
static char *cdp_url(X509 *x, const struct ca_urls *urls)
{
    char *serial, *url;
    int shard;

    if (urls->crl_shards <= 1 || urls->crl_shard_base == NULL)
        return xstrdup(urls->crl);
    serial = serial_hex(X509_get0_serialNumber(x));
    shard = crl_shard_of(serial, urls->crl_shards);
    url = xasprintf("%s%d.crl", urls->crl_shard_base, shard);
    free(serial);
    return url;
}

static int ext_cdp(X509 *x, const struct profile *p, const struct ca_urls *urls, struct err *e)
{
    CRL_DIST_POINTS *cdp;
    char *url;
    int rc;

    if (!p->cdp || urls->crl == NULL)
        return 0;
    url = cdp_url(x, urls);
    if (url_check("cdp", url, e) != 0) {
        free(url);
        return -1;
    }
    cdp = crl_dist_points_new(url);
    free(url);
    if (cdp == NULL)
        return err_ossl(e, ERR_INTERNAL, "cdp: out of memory");
    rc = ext_add(x, NID_crl_distribution_points, cdp, 0, e);
    CRL_DIST_POINTS_free(cdp);
    return rc;
}

static int ext_ocsp_nocheck(X509 *x, struct err *e)
{
    ASN1_NULL *null = ASN1_NULL_new();
    int rc;

    if (null == NULL)
        return err_ossl(e, ERR_INTERNAL, "ocsp_nocheck: out of memory");
    rc = ext_add(x, NID_id_pkix_OCSP_noCheck, null, 0, e); /* RFC 6960 §4.2.2.2.1 */
    ASN1_NULL_free(null);
    return rc;
}

static int ext_profile_parts(X509 *x, const struct profile *p, struct err *e)
{
    if (p->eku != NULL && ext_add(x, NID_ext_key_usage, p->eku, p->eku_critical, e) != 0)
        return -1;
    if (p->policies != NULL && ext_add(x, NID_certificate_policies, p->policies, 0, e) != 0)
        return -1;
    if (p->name_constraints != NULL &&
        ext_add(x, NID_name_constraints, p->name_constraints, p->name_constraints_critical, e) != 0)
        return -1;
    if (p->ocsp_nocheck && ext_ocsp_nocheck(x, e) != 0)
        return -1;
    return 0;
}

int cert_add_extensions(X509 *x, const struct profile *p, const struct issue_request *r,
                        X509 *issuer, const struct ca_urls *urls, struct err *e)
{
    if (ext_basic_constraints(x, p, e) != 0 || ext_key_usage(x, p, r->pubkey, e) != 0 ||
        ext_ski(x, e) != 0 || (issuer != NULL && ext_aki(x, issuer, e) != 0) ||
        ext_san(x, r, e) != 0 || ext_profile_parts(x, p, e) != 0)
        return -1;
    if (urls != NULL && (ext_aia(x, p, urls, e) != 0 || ext_cdp(x, p, urls, e) != 0))
        return -1;
    return 0;
}
