/*
 * crl.c — version 2 CRLs (RFC 5280 §5): issuer byte-identical to the CA's
 * subject, AKI, CRL Number, one entry per revoked certificate with
 * reasonCode (omitted for unspecified, §5.3.1) and invalidityDate (§5.3.2);
 * delta CRLs (Delta CRL Indicator, §5.2.4), Freshest CRL (§5.2.6) and the
 * Issuing Distribution Point of a shard (§5.2.5).
 *
 * A CRL of a large CA has a million entries: they are DER-encoded here
 * directly into one buffer as they stream in (no per-entry OpenSSL objects,
 * no sort), and the TBSCertList is a template of our own whose
 * revokedCertificates is that pre-encoded element.  OpenSSL encodes the rest
 * and signs (ASN1_item_sign), so algorithm identifiers stay OpenSSL's.
 */
#include "core/core_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <time.h>

#include <openssl/asn1t.h>
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

/* ---- the TBSCertList with an opaque revokedCertificates ---------------- */

typedef struct {
    ASN1_INTEGER *version;
    X509_ALGOR *signature;
    X509_NAME *issuer;
    ASN1_TIME *this_update;
    ASN1_TIME *next_update;
    ASN1_STRING *revoked; /* the whole SEQUENCE OF, pre-encoded; NULL if empty */
    STACK_OF(X509_EXTENSION) * extensions;
} VOUCH_TBS_CRL;

typedef struct {
    VOUCH_TBS_CRL *tbs;
    X509_ALGOR *sig_alg;
    ASN1_BIT_STRING *signature;
} VOUCH_CRL;

// clang-format off
DECLARE_ASN1_FUNCTIONS(VOUCH_TBS_CRL)
DECLARE_ASN1_FUNCTIONS(VOUCH_CRL)

ASN1_SEQUENCE(VOUCH_TBS_CRL) = {
    ASN1_OPT(VOUCH_TBS_CRL, version, ASN1_INTEGER),
    ASN1_SIMPLE(VOUCH_TBS_CRL, signature, X509_ALGOR),
    ASN1_SIMPLE(VOUCH_TBS_CRL, issuer, X509_NAME),
    ASN1_SIMPLE(VOUCH_TBS_CRL, this_update, ASN1_TIME),
    ASN1_OPT(VOUCH_TBS_CRL, next_update, ASN1_TIME),
    ASN1_OPT(VOUCH_TBS_CRL, revoked, ASN1_SEQUENCE),
    ASN1_EXP_SEQUENCE_OF_OPT(VOUCH_TBS_CRL, extensions, X509_EXTENSION, 0),
} ASN1_SEQUENCE_END(VOUCH_TBS_CRL)

ASN1_SEQUENCE(VOUCH_CRL) = {
    ASN1_SIMPLE(VOUCH_CRL, tbs, VOUCH_TBS_CRL),
    ASN1_SIMPLE(VOUCH_CRL, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(VOUCH_CRL, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(VOUCH_CRL)

IMPLEMENT_ASN1_FUNCTIONS(VOUCH_TBS_CRL)
IMPLEMENT_ASN1_FUNCTIONS(VOUCH_CRL)
// clang-format on

/* ---- entries, encoded as they come --------------------------------------- */

/* Room left before the entries for the SEQUENCE OF header, so it needs no copy. */
#define HEADER_ROOM 6

                    struct crl_writer {
    struct buf entries; /* HEADER_ROOM bytes, then the revokedCertificates elements */
    size_t count;
};

struct crl_writer *crl_writer_new(void)
{
    static const unsigned char room[HEADER_ROOM] = {0};
    struct crl_writer *w = xcalloc(1, sizeof(*w));

    buf_append(&w->entries, room, sizeof(room));
    return w;
}

void crl_writer_free(struct crl_writer *w)
{
    if (w == NULL)
        return;
    buf_free(&w->entries);
    free(w);
}

size_t crl_writer_count(const struct crl_writer *w)
{
    return w->count;
}

/* A DER tag and definite length into out (at most 6 bytes); returns how many. */
static size_t der_header(unsigned char *out, unsigned char tag, size_t len)
{
    size_t n = 0;

    out[n++] = tag;
    if (len < 0x80) {
        out[n++] = (unsigned char)len;
    } else if (len <= 0xff) {
        out[n++] = 0x81;
        out[n++] = (unsigned char)len;
    } else if (len <= 0xffff) {
        out[n++] = 0x82;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else if (len <= 0xffffff) {
        out[n++] = 0x83;
        out[n++] = (unsigned char)(len >> 16);
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = 0x84;
        out[n++] = (unsigned char)(len >> 24);
        out[n++] = (unsigned char)(len >> 16);
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    }
    return n;
}

/* The INTEGER contents of a serial_hex() serial into out (at most 33 bytes); 0 on bad input. */
static size_t serial_contents(const char *hex, unsigned char *out)
{
    unsigned char bytes[32] = {0};
    size_t n = hex ? strlen(hex) : 0, nbytes = (n + 1) / 2, skip = 0, lead;

    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int v = OPENSSL_hexchar2int((unsigned char)hex[i]);
        size_t pos = i + (n % 2); /* nibble position, left-padded to whole octets */
        if (v < 0)
            return 0;
        bytes[pos / 2] |= (unsigned char)(pos % 2 ? v : v << 4);
    }
    while (skip + 1 < nbytes && bytes[skip] == 0 && (bytes[skip + 1] & 0x80) == 0)
        skip++;                          /* minimal encoding */
    lead = (bytes[skip] & 0x80) ? 1 : 0; /* positive: a zero octet before a set top bit */
    out[0] = 0;
    memcpy(out + lead, bytes + skip, nbytes - skip);
    return lead + nbytes - skip;
}

/* UTCTime through 2049, GeneralizedTime from 2050 (§5.1.2.4), or always Generalized. */
static size_t der_time(unsigned char *out, int64_t when, int generalized)
{
    time_t t = (time_t)when;
    struct tm tm;
    char text[24];
    size_t n;

    if (gmtime_r(&t, &tm) == NULL)
        return 0;
    generalized = generalized || tm.tm_year + 1900 >= 2050 || tm.tm_year + 1900 < 1950;
    n = strftime(text, sizeof(text), generalized ? "%Y%m%d%H%M%SZ" : "%y%m%d%H%M%SZ", &tm);
    if (n == 0)
        return 0;
    out[0] = generalized ? V_ASN1_GENERALIZEDTIME : V_ASN1_UTCTIME;
    out[1] = (unsigned char)n;
    memcpy(out + 2, text, n);
    return n + 2;
}

/* The crlEntryExtensions of en (reasonCode, invalidityDate) into out; their length. */
static size_t entry_extensions(unsigned char *out, const struct crl_entry *en)
{
    static const unsigned char reason_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x15};
    static const unsigned char invalidity_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x18};
    unsigned char inner[64], time[24];
    size_t n = 0, k, tl;

    if (en->reason > 0) { /* SEQUENCE { OID, OCTET STRING { ENUMERATED } } */
        inner[n++] = 0x30;
        inner[n++] = sizeof(reason_oid) + 5;
        memcpy(inner + n, reason_oid, sizeof(reason_oid));
        n += sizeof(reason_oid);
        memcpy(inner + n, (unsigned char[]){0x04, 0x03, 0x0a, 0x01, (unsigned char)en->reason}, 5);
        n += 5;
    }
    if (en->invalidity_date > 0 && (tl = der_time(time, en->invalidity_date, 1)) > 0) {
        inner[n++] = 0x30;
        inner[n++] = (unsigned char)(sizeof(invalidity_oid) + 2 + tl);
        memcpy(inner + n, invalidity_oid, sizeof(invalidity_oid));
        n += sizeof(invalidity_oid);
        inner[n++] = 0x04;
        inner[n++] = (unsigned char)tl;
        memcpy(inner + n, time, tl);
        n += tl;
    }
    if (n == 0)
        return 0;
    k = der_header(out, 0x30, n);
    memcpy(out + k, inner, n);
    return k + n;
}

int crl_writer_add(struct crl_writer *w, const struct crl_entry *en, struct err *e)
{
    unsigned char body[192], serial[40], head[8];
    size_t n = 0, k, h;

    if (en->reason >= REASON_COUNT || (en->reason > 0 && reason_names[en->reason] == NULL))
        return err_set(e, ERR_INTERNAL, "crl: entries[%zu]: %d is not a CRLReason", w->count,
                       en->reason);
    if ((k = serial_contents(en->serial, serial)) == 0)
        return err_set(e, ERR_INTERNAL, "crl: entries[%zu]: bad serial", w->count);
    n = der_header(body, V_ASN1_INTEGER, k);
    memcpy(body + n, serial, k);
    n += k;
    if ((k = der_time(body + n, en->revoked_at, 0)) == 0)
        return err_set(e, ERR_INTERNAL, "crl: entries[%zu]: bad revocation date", w->count);
    n += k;
    n += entry_extensions(body + n, en);
    h = der_header(head, 0x30, n);
    buf_append(&w->entries, head, h);
    buf_append(&w->entries, body, n);
    w->count++;
    return 0;
}

/* ---- the CRL around them ------------------------------------------------- */

static int crl_check_args(X509 *ca, const struct crl_scope *sc, struct err *e)
{
    if (ca == NULL || X509_get0_pubkey(ca) == NULL)
        return err_set(e, ERR_INTERNAL, "crl: no CA certificate");
    if (sc->number < 0)
        return err_set(e, ERR_INTERNAL, "crl: negative CRL number");
    if (sc->delta_base < 0 || (sc->delta_base > 0 && sc->delta_base >= sc->number))
        return err_set(e, ERR_INTERNAL, "crl: a delta's base must precede it");
    if (sc->this_update <= 0 || sc->next_update <= sc->this_update)
        return err_set(e, ERR_INTERNAL, "crl: nextUpdate must follow thisUpdate");
    if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) &&
        (X509_get_key_usage(ca) & KU_CRL_SIGN) == 0)
        return err_set(e, ERR_POLICY, "crl: the CA's keyUsage lacks cRLSign");
    return 0;
}

static int add_integer_ext(STACK_OF(X509_EXTENSION) * *exts, int nid, int64_t v, int critical)
{
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    int ok = num != NULL && ASN1_INTEGER_set_int64(num, v) == 1 &&
             X509V3_add1_i2d(exts, nid, num, critical, X509V3_ADD_DEFAULT) == 1;

    ASN1_INTEGER_free(num);
    return ok;
}

/* IDP naming only a distributionPoint (§5.2.5): critical. */
static int add_idp(STACK_OF(X509_EXTENSION) * *exts, const char *url)
{
    ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
    int ok = idp != NULL && (idp->distpoint = dist_point_name_uri(url)) != NULL &&
             X509V3_add1_i2d(exts, NID_issuing_distribution_point, idp, 1, X509V3_ADD_DEFAULT) == 1;

    ISSUING_DIST_POINT_free(idp);
    return ok;
}

static int add_freshest(STACK_OF(X509_EXTENSION) * *exts, const char *url)
{
    CRL_DIST_POINTS *dps = crl_dist_points_new(url);
    int ok =
        dps != NULL && X509V3_add1_i2d(exts, NID_freshest_crl, dps, 0, X509V3_ADD_DEFAULT) == 1;

    CRL_DIST_POINTS_free(dps);
    return ok;
}

/* AKI (§5.2.1), CRL Number (§5.2.3), Delta CRL Indicator (§5.2.4, critical), IDP, Freshest CRL. */
static int crl_extensions(STACK_OF(X509_EXTENSION) * *exts, X509 *ca, const struct crl_scope *sc)
{
    AUTHORITY_KEYID *aki = aki_from_issuer(ca);
    int ok = aki != NULL &&
             X509V3_add1_i2d(exts, NID_authority_key_identifier, aki, 0, X509V3_ADD_DEFAULT) == 1 &&
             add_integer_ext(exts, NID_crl_number, sc->number, 0) &&
             (sc->delta_base == 0 || add_integer_ext(exts, NID_delta_crl, sc->delta_base, 1)) &&
             (sc->idp_url == NULL || add_idp(exts, sc->idp_url)) &&
             (sc->freshest_url == NULL || add_freshest(exts, sc->freshest_url));

    AUTHORITY_KEYID_free(aki);
    return ok ? 0 : -1;
}

/*
 * Moves the encoded entries into tbs as one SEQUENCE OF element (none:
 * absent): the header goes into the room before them, the entries shift by
 * at most a few bytes in place.
 */
static int tbs_set_entries(VOUCH_TBS_CRL *tbs, struct crl_writer *w)
{
    size_t body = w->entries.len - HEADER_ROOM, h;
    unsigned char head[8];

    if (w->count == 0)
        return 0;
    if (body > INT_MAX - 16)
        return -1;
    h = der_header(head, 0x30, body);
    memmove(w->entries.data + h, w->entries.data + HEADER_ROOM, body);
    memcpy(w->entries.data, head, h);
    if ((tbs->revoked = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) == NULL)
        return -1;
    ASN1_STRING_set0(tbs->revoked, w->entries.data, (int)(h + body));
    w->entries.data = NULL; /* owned by tbs now */
    w->entries.len = w->entries.cap = 0;
    return 0;
}

static int tbs_fill(VOUCH_TBS_CRL *tbs, X509 *ca, const struct crl_scope *sc)
{
    return (tbs->version = ASN1_INTEGER_new()) != NULL &&
                   ASN1_INTEGER_set(tbs->version, 1) == 1 && /* v2 */
                   X509_NAME_set(&tbs->issuer, X509_get_subject_name(ca)) == 1 &&
                   ASN1_TIME_set(tbs->this_update, (time_t)sc->this_update) != NULL &&
                   (tbs->next_update = ASN1_TIME_set(NULL, (time_t)sc->next_update)) != NULL &&
                   crl_extensions(&tbs->extensions, ca, sc) == 0
               ? 0
               : -1;
}

/*
 * Whether the signature of the encoded CRL der verifies with pub, checked on
 * the TBSCertList bytes in place (ASN1_item_verify would encode them again).
 */
static int crl_signature_ok(const VOUCH_CRL *crl, const unsigned char *der, long len, EVP_PKEY *pub)
{
    const unsigned char *p = der, *tbs;
    int md_nid = NID_undef, pkey_nid = NID_undef, tag, cls, ok;
    EVP_MD_CTX *ctx;
    long n;

    if ((ASN1_get_object(&p, &n, &tag, &cls, len) & 0x80) != 0)
        return 0;
    tbs = p; /* the TBSCertList element: header and contents */
    if ((ASN1_get_object(&p, &n, &tag, &cls, len - (p - der)) & 0x80) != 0)
        return 0;
    n += p - tbs;
    if (OBJ_find_sigid_algs(OBJ_obj2nid(crl->sig_alg->algorithm), &md_nid, &pkey_nid) != 1 ||
        (ctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    ok = EVP_DigestVerifyInit_ex(ctx, NULL, md_nid == NID_undef ? NULL : OBJ_nid2sn(md_nid), NULL,
                                 NULL, pub, NULL) == 1 &&
         EVP_DigestVerify(ctx, ASN1_STRING_get0_data(crl->signature),
                          (size_t)ASN1_STRING_length(crl->signature), tbs, (size_t)n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Signs crl with key, encodes it into *der (xmalloc), checks the signature with the CA's key. */
static int crl_sign_encode(VOUCH_CRL *crl, X509 *ca, EVP_PKEY *key, unsigned char **der,
                           size_t *len, struct err *e)
{
    EVP_PKEY *pub = X509_get0_pubkey(ca);
    unsigned char *out, *p;
    int n;

    if (ASN1_item_sign(ASN1_ITEM_rptr(VOUCH_TBS_CRL), crl->tbs->signature, crl->sig_alg,
                       crl->signature, crl->tbs, key, sign_digest(pub, "auto")) <= 0)
        return err_ossl(e, ERR_INTERNAL, "crl: signing failed");
    if ((n = i2d_VOUCH_CRL(crl, NULL)) <= 0) /* cheap: the entries are one opaque element */
        return err_ossl(e, ERR_INTERNAL, "crl: cannot encode");
    p = out = xmalloc((size_t)n);
    if (i2d_VOUCH_CRL(crl, &p) != n) {
        free(out);
        return err_ossl(e, ERR_INTERNAL, "crl: cannot encode");
    }
    if (!crl_signature_ok(crl, out, n, pub)) {
        free(out);
        return err_ossl(e, ERR_INTERNAL, "crl: the signature does not verify");
    }
    *der = out;
    *len = (size_t)n;
    return 0;
}

int crl_writer_finish(struct crl_writer *w, X509 *ca_cert, EVP_PKEY *ca_key,
                      const struct crl_scope *sc, unsigned char **der, size_t *der_len,
                      struct err *e)
{
    VOUCH_CRL *crl = NULL;
    int rc = -1;

    if (crl_check_args(ca_cert, sc, e) != 0)
        return -1;
    if ((crl = VOUCH_CRL_new()) == NULL || tbs_fill(crl->tbs, ca_cert, sc) != 0) {
        err_ossl(e, ERR_INTERNAL, "crl: cannot set its fields");
        goto out;
    }
    if (tbs_set_entries(crl->tbs, w) != 0) {
        err_set(e, ERR_INTERNAL, "crl: too many entries");
        goto out;
    }
    rc = crl_sign_encode(crl, ca_cert, ca_key, der, der_len, e);
out:
    VOUCH_CRL_free(crl);
    return rc;
}

static const char *serial_digits(const char *hex)
{
    while (hex[0] == '0' && hex[1] != '\0')
        hex++;
    return hex;
}

static int serial_order(const void *a, const void *b)
{
    const char *x = serial_digits(*(const char *const *)a),
               *y = serial_digits(*(const char *const *)b);
    size_t lx = strlen(x), ly = strlen(y);

    return lx != ly ? (lx < ly ? -1 : 1) : strcasecmp(x, y);
}

/* A serial listed twice is a caller bug. */
static int entries_unique(const struct crl_entry *entries, size_t n, struct err *e)
{
    const char **serials = xcalloc(n ? n : 1, sizeof(*serials));
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        serials[i] = entries[i].serial ? entries[i].serial : "";
    qsort(serials, n, sizeof(*serials), serial_order);
    for (size_t i = 1; i < n && rc == 0; i++)
        if (serial_order(&serials[i - 1], &serials[i]) == 0)
            rc = err_set(e, ERR_INTERNAL, "crl: a serial is listed twice");
    free(serials);
    return rc;
}

int crl_build(X509 *ca_cert, EVP_PKEY *ca_key, const struct crl_entry *entries, size_t n,
              int64_t number, int64_t this_update, int64_t next_update, X509_CRL **out,
              struct err *e)
{
    struct crl_scope sc = {
        .number = number, .this_update = this_update, .next_update = next_update};
    struct crl_writer *w = crl_writer_new();
    unsigned char *der = NULL;
    const unsigned char *p;
    X509_CRL *crl = NULL;
    size_t len = 0;
    int rc = -1;

    if (entries_unique(entries, n, e) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (crl_writer_add(w, &entries[i], e) != 0)
            goto out;
    if (crl_writer_finish(w, ca_cert, ca_key, &sc, &der, &len, e) != 0)
        goto out;
    p = der;
    if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL) {
        err_ossl(e, ERR_INTERNAL, "crl: cannot read back");
        goto out;
    }
    *out = crl;
    crl = NULL;
    rc = 0;
out:
    X509_CRL_free(crl);
    free(der);
    crl_writer_free(w);
    return rc;
}
