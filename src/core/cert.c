/*
 * cert.c — cert_build(): one X.509 v3 certificate for a request under a
 * profile, signed by the issuing CA's key (a signer remote key in production,
 * so only X509_sign() touches it; the issuer's public key and key identifier
 * come from its certificate).
 */
#include "core/core_internal.h"

#include <string.h>
#include <time.h>

#include <openssl/err.h>

#define TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z, RFC 5280 §4.1.2.5 */

int asn1_time_to_epoch(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* The issuer may sign what p describes: a CA, with room in its path length. */
static int check_issuer(const struct profile *p, X509 *issuer, struct err *e)
{
    int kind = X509_check_ca(issuer);

    if (kind != 1 && kind != 3)
        return err_set(e, ERR_POLICY,
                       "issuer: not a CA certificate (basicConstraints cA and keyCertSign)");
    if (p->ca && X509_get_pathlen(issuer) == 0)
        return err_set(e, ERR_POLICY,
                       "basic_constraints: the issuing CA's pathLenConstraint 0 allows no "
                       "subordinate CA");
    return 0;
}

static int preflight(const struct profile *p, const struct issue_request *r, X509 *issuer,
                     EVP_PKEY *issuer_pub, struct err *e)
{
    struct key_info ki;

    if (profile_check(p, r, e) != 0)
        return -1;
    if (issuer == NULL && !p->ca)
        return err_set(e, ERR_POLICY, "profile: a self-signed certificate needs a CA profile");
    if (issuer != NULL && check_issuer(p, issuer, e) != 0)
        return -1;
    key_describe(issuer_pub, &ki);
    if (ki.family == KF_OTHER || (ki.family == KF_EC && ki.kind == KT_NONE))
        return err_set(e, ERR_INTERNAL, "issuer: cannot sign with a %s key", ki.name);
    return 0;
}

/*
 * notBefore = now - backdate_seconds; notAfter = now + days, clamped to the
 * issuer's notAfter (a certificate never outlives its issuer).
 */
static int validity_window(const struct profile *p, const struct issue_request *r, X509 *issuer,
                           int64_t now, int64_t *nb, int64_t *na, struct err *e)
{
    long days = r->validity_days > 0 ? r->validity_days : p->default_days;
    int64_t issuer_end;

    if (now < p->backdate_seconds || now > TIME_MAX - (int64_t)days * 86400)
        return err_set(e, ERR_INTERNAL, "validity: not_before out of range");
    *nb = now - p->backdate_seconds;
    *na = now + (int64_t)days * 86400;
    if (issuer == NULL)
        return 0;
    if (asn1_time_to_epoch(X509_get0_notAfter(issuer), &issuer_end) != 0)
        return err_set(e, ERR_INTERNAL, "issuer: unreadable notAfter");
    if (issuer_end <= now)
        return err_set(e, ERR_POLICY, "validity: the issuing CA has expired");
    if (*na > issuer_end)
        *na = issuer_end;
    return 0;
}

static int set_names(X509 *x, const struct issue_request *r, X509 *issuer)
{
    X509_NAME *subject = r->subject ? name_with_printable_country(r->subject) : X509_NAME_new();
    int ok = subject != NULL && X509_set_subject_name(x, subject) == 1 &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) == 1;

    X509_NAME_free(subject);
    return ok ? 0 : -1;
}

/* The subject public key: the CSR's SubjectPublicKeyInfo copied as is, or from r->pubkey. */
static int set_pubkey(X509 *x, const struct issue_request *r)
{
    const ASN1_OBJECT *obj;
    const void *pval;
    void *param = NULL;
    unsigned char *bits;
    int ptype;

    if (r->spki_alg == NULL || r->spki_bits == NULL)
        return X509_set_pubkey(x, r->pubkey);
    X509_ALGOR_get0(&obj, &ptype, &pval, r->spki_alg);
    if (ptype == V_ASN1_OBJECT)
        param = OBJ_dup(pval);
    else if (ptype == V_ASN1_SEQUENCE)
        param = ASN1_STRING_dup(pval);
    else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
        return X509_set_pubkey(x, r->pubkey);
    bits = OPENSSL_memdup(r->spki_bits, (size_t)r->spki_bits_len);
    if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_dup(obj), ptype, param, bits,
                               r->spki_bits_len) != 1) {
        OPENSSL_free(bits);
        return 0;
    }
    return 1;
}

static int set_fields(X509 *x, const struct profile *p, const struct issue_request *r, X509 *issuer,
                      int64_t now, struct err *e)
{
    ASN1_INTEGER *serial;
    int64_t nb = 0, na = 0;
    int ok;

    if (validity_window(p, r, issuer, now, &nb, &na, e) != 0)
        return -1;
    if ((serial = serial_random(e)) == NULL)
        return -1;
    ok = X509_set_version(x, X509_VERSION_3) == 1 && X509_set_serialNumber(x, serial) == 1 &&
         set_names(x, r, issuer) == 0 && set_pubkey(x, r) == 1 &&
         ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) != NULL &&
         ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) != NULL;
    ASN1_INTEGER_free(serial);
    if (!ok)
        return err_ossl(e, ERR_INTERNAL, "certificate: cannot set its fields");
    return 0;
}

/*
 * Signs x and verifies the signature with the issuer's public key: a signer
 * fault or a key mismatch never leaves here.  A CA certificate is then read
 * back from its DER into a fresh object: OpenSSL caches extension data and
 * the public key only when a certificate is parsed (X509_PUBKEY_get0 never
 * decodes later), and a CA's certificate is used as an issuer.  A leaf is
 * returned as built — parsing it again would decode its key through OpenSSL
 * 3.0's provider decoders (~110 us, under locks every thread shares) — so its
 * X509_get0_pubkey() is NULL: the request's key is the key.
 */
static X509 *sign_and_check(X509 *x, const struct profile *p, EVP_PKEY *issuer_pub,
                            EVP_PKEY *issuer_key, struct err *e)
{
    unsigned char *der = NULL;
    const unsigned char *q;
    X509 *done = NULL;
    int len;

    if (X509_sign(x, issuer_key, sign_digest(issuer_pub, p->digest)) <= 0)
        return err_ossl(e, ERR_INTERNAL, "certificate: signing failed"), NULL;
    if (X509_verify(x, issuer_pub) != 1)
        return err_ossl(e, ERR_INTERNAL,
                        "certificate: the signature does not verify with the issuer's key"),
               NULL;
    if (!profile_is_ca(p)) {
        X509_up_ref(x);
        return x;
    }
    if ((len = i2d_X509(x, &der)) <= 0)
        return err_ossl(e, ERR_INTERNAL, "certificate: cannot encode"), NULL;
    q = der;
    done = d2i_X509(NULL, &q, len);
    OPENSSL_free(der);
    if (done == NULL)
        return err_ossl(e, ERR_INTERNAL, "certificate: cannot read back"), NULL;
    return done;
}

/* Refuses a certificate that its issuer's own name constraints would reject. */
static int check_issuer_constraints(X509 *cert, X509 *issuer, struct err *e)
{
    NAME_CONSTRAINTS *nc;
    int rc;

    if (issuer == NULL ||
        (nc = X509_get_ext_d2i(issuer, NID_name_constraints, NULL, NULL)) == NULL) {
        ERR_clear_error();
        return 0;
    }
    rc = NAME_CONSTRAINTS_check(cert, nc);
    if (rc == X509_V_OK && X509_check_ca(cert) == 0) /* as X509_verify_cert: leaf CNs */
        rc = NAME_CONSTRAINTS_check_CN(cert, nc);
    NAME_CONSTRAINTS_free(nc);
    if (rc != X509_V_OK)
        return err_set(e, ERR_POLICY, "san: outside the issuing CA's name constraints (%s)",
                       X509_verify_cert_error_string(rc));
    return 0;
}

int cert_build(const struct profile *p, const struct issue_request *r, X509 *issuer_cert,
               EVP_PKEY *issuer_key, const struct ca_urls *urls, int64_t not_before, X509 **out,
               struct err *e)
{
    EVP_PKEY *issuer_pub = issuer_cert ? X509_get0_pubkey(issuer_cert) : r->pubkey;
    X509 *x = NULL, *done = NULL;
    int rc = -1;

    if (preflight(p, r, issuer_cert, issuer_pub, e) != 0)
        return -1;
    if ((x = X509_new()) == NULL) {
        err_ossl(e, ERR_INTERNAL, "certificate: out of memory");
        goto out;
    }
    if (set_fields(x, p, r, issuer_cert, not_before, e) != 0 ||
        cert_add_extensions(x, p, r, issuer_cert, urls, e) != 0 ||
        (done = sign_and_check(x, p, issuer_pub, issuer_key, e)) == NULL ||
        check_issuer_constraints(done, issuer_cert, e) != 0)
        goto out;
    *out = done;
    done = NULL;
    rc = 0;
out:
    X509_free(x);
    X509_free(done);
    return rc;
}
