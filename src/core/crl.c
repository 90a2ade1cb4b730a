/*
 * crl.c — version 2 CRLs (RFC 5280 §5): issuer byte-identical to the CA's
 * subject, AKI, CRL Number, one entry per revoked certificate with
 * reasonCode (omitted for unspecified, §5.3.1) and invalidityDate (§5.3.2).
 */
#include "core/core_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>

#define REASON_COUNT 11

/* RFC 5280 §5.3.1 CRLReason; value 7 is not used. */
static const char *const reason_names[REASON_COUNT] = {
    "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
    "superseded",    "cessationOfOperation", "certificateHold", NULL,
    "removeFromCRL", "privilegeWithdrawn",   "aACompromise",
};

int crl_reason_parse(const char *name)
{
    for (int i = 0; name != NULL && i < REASON_COUNT; i++)
        if (reason_names[i] != NULL && strcasecmp(reason_names[i], name) == 0)
            return i;
    return -1;
}

const char *crl_reason_name(int code)
{
    return code >= 0 && code < REASON_COUNT ? reason_names[code] : NULL;
}

/* reasonCode (not for unspecified) and invalidityDate (GeneralizedTime) of one entry. */
static int revoked_extensions(X509_REVOKED *rev, const struct crl_entry *en)
{
    ASN1_ENUMERATED *reason = NULL;
    ASN1_GENERALIZEDTIME *when = NULL;
    int ok = 1;

    if (en->reason > 0) {
        ok = (reason = ASN1_ENUMERATED_new()) != NULL &&
             ASN1_ENUMERATED_set(reason, en->reason) == 1 &&
             X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, X509V3_ADD_DEFAULT) == 1;
    }
    if (ok && en->invalidity_date > 0) {
        ok = (when = ASN1_GENERALIZEDTIME_set(NULL, (time_t)en->invalidity_date)) != NULL &&
             X509_REVOKED_add1_ext_i2d(rev, NID_invalidity_date, when, 0, X509V3_ADD_DEFAULT) == 1;
    }
    ASN1_ENUMERATED_free(reason);
    ASN1_GENERALIZEDTIME_free(when);
    return ok ? 0 : -1;
}

static int revoked_add(X509_CRL *crl, const struct crl_entry *en, size_t i, struct err *e)
{
    ASN1_INTEGER *serial = serial_from_hex(en->serial);
    ASN1_TIME *date = ASN1_TIME_set(NULL, (time_t)en->revoked_at);
    X509_REVOKED *rev = X509_REVOKED_new();
    int rc = -1;

    if (serial == NULL)
        err_set(e, 500, ERR_INTERNAL, "crl: entries[%zu]: bad serial", i);
    else if (en->reason >= REASON_COUNT || (en->reason > 0 && reason_names[en->reason] == NULL))
        err_set(e, 500, ERR_INTERNAL, "crl: entries[%zu]: %d is not a CRLReason", i, en->reason);
    else if (date == NULL || rev == NULL || X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
             X509_REVOKED_set_revocationDate(rev, date) != 1 || revoked_extensions(rev, en) != 0 ||
             X509_CRL_add0_revoked(crl, rev) != 1)
        err_ossl(e, 500, ERR_INTERNAL, "crl: entries[%zu]: cannot encode", i);
    else {
        rev = NULL; /* owned by crl */
        rc = 0;
    }
    X509_REVOKED_free(rev);
    ASN1_TIME_free(date);
    ASN1_INTEGER_free(serial);
    return rc;
}

/* Entries are sorted by serial; a serial listed twice is a caller bug. */
static int revoked_unique(X509_CRL *crl, struct err *e)
{
    STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED(crl);

    for (int i = 1; i < sk_X509_REVOKED_num(list); i++)
        if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i - 1)),
                             X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i))) == 0)
            return err_set(e, 500, ERR_INTERNAL, "crl: a serial is listed twice");
    return 0;
}

static int crl_header(X509_CRL *crl, X509 *ca, int64_t this_update, int64_t next_update)
{
    ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *next = ASN1_TIME_set(NULL, (time_t)next_update);
    int ok = last != NULL && next != NULL && X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1 &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) == 1 &&
             X509_CRL_set1_lastUpdate(crl, last) == 1 && X509_CRL_set1_nextUpdate(crl, next) == 1;

    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    return ok ? 0 : -1;
}

/* CRL Number (non-critical, §5.2.3) and AKI (§5.2.1). */
static int crl_extensions(X509_CRL *crl, X509 *ca, int64_t number)
{
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    AUTHORITY_KEYID *aki = aki_from_issuer(ca);
    int ok =
        num != NULL && aki != NULL && ASN1_INTEGER_set_int64(num, number) == 1 &&
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_DEFAULT) == 1 &&
        X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, aki, 0, X509V3_ADD_DEFAULT) == 1;

    ASN1_INTEGER_free(num);
    AUTHORITY_KEYID_free(aki);
    return ok ? 0 : -1;
}

static int crl_check_args(X509 *ca, int64_t number, int64_t this_update, int64_t next_update,
                          struct err *e)
{
    if (ca == NULL || X509_get0_pubkey(ca) == NULL)
        return err_set(e, 500, ERR_INTERNAL, "crl: no CA certificate");
    if (number < 0)
        return err_set(e, 500, ERR_INTERNAL, "crl: negative CRL number");
    if (this_update <= 0 || next_update <= this_update)
        return err_set(e, 500, ERR_INTERNAL, "crl: nextUpdate must follow thisUpdate");
    if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) &&
        (X509_get_key_usage(ca) & KU_CRL_SIGN) == 0)
        return err_set(e, 422, ERR_PROFILE, "crl: the CA's keyUsage lacks cRLSign");
    return 0;
}

/* Signs, reads the DER back and verifies it with the CA certificate's key. */
static X509_CRL *crl_sign_and_reload(X509_CRL *crl, X509 *ca, EVP_PKEY *key, struct err *e)
{
    EVP_PKEY *pub = X509_get0_pubkey(ca);
    unsigned char *der = NULL;
    const unsigned char *q;
    X509_CRL *done;
    int len;

    if (X509_CRL_sign(crl, key, sign_digest(pub, "auto")) <= 0)
        return err_ossl(e, 500, ERR_INTERNAL, "crl: signing failed"), NULL;
    if ((len = i2d_X509_CRL(crl, &der)) <= 0)
        return err_ossl(e, 500, ERR_INTERNAL, "crl: cannot encode"), NULL;
    q = der;
    done = d2i_X509_CRL(NULL, &q, len);
    OPENSSL_free(der);
    if (done == NULL || X509_CRL_verify(done, pub) != 1) {
        X509_CRL_free(done);
        return err_ossl(e, 500, ERR_INTERNAL, "crl: the signature does not verify"), NULL;
    }
    return done;
}

int crl_build(X509 *ca_cert, EVP_PKEY *ca_key, const struct crl_entry *entries, size_t n,
              int64_t number, int64_t this_update, int64_t next_update, X509_CRL **out,
              struct err *e)
{
    X509_CRL *crl = NULL, *done = NULL;
    int rc = -1;

    if (crl_check_args(ca_cert, number, this_update, next_update, e) != 0)
        return -1;
    if ((crl = X509_CRL_new()) == NULL || crl_header(crl, ca_cert, this_update, next_update) != 0) {
        err_ossl(e, 500, ERR_INTERNAL, "crl: cannot set its fields");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (revoked_add(crl, &entries[i], i, e) != 0)
            goto out;
    if (X509_CRL_sort(crl) != 1) {
        err_ossl(e, 500, ERR_INTERNAL, "crl: cannot sort its entries");
        goto out;
    }
    if (revoked_unique(crl, e) != 0)
        goto out;
    if (crl_extensions(crl, ca_cert, number) != 0) {
        err_ossl(e, 500, ERR_INTERNAL, "crl: cannot encode its extensions");
        goto out;
    }
    if ((done = crl_sign_and_reload(crl, ca_cert, ca_key, e)) == NULL)
        goto out;
    *out = done;
    rc = 0;
out:
    X509_CRL_free(crl);
    return rc;
}
