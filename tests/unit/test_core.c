/*
 * test_core.c — profiles, CSRs, certificates and CRLs of src/core.
 *
 * Keys are generated once for the whole group (RSA generation is the slow
 * part); every test builds its own certificates from them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "core/cmp.h"
#include "core/core_internal.h"
#include "core/ocsp.h"
#include "core/profile.h"
#include "core/tsa.h"

enum { K_P256, K_P384, K_RSA, K_ED25519, KEY_TYPES };
static const char *const key_type_names[KEY_TYPES] = {"ec-p256", "ec-p384", "rsa-2048", "ed25519"};

/* Per key type: root, intermediate and leaf keys.  Plus one RSA-1024 key. */
static EVP_PKEY *keys[KEY_TYPES][3];
static EVP_PKEY *rsa1024;

static const struct ca_urls urls = {
    .ocsp = "http://pki.example.com/ocsp/t1/issuing",
    .ca_issuers = "http://pki.example.com/ca/t1/issuing.crt",
    .crl = "http://pki.example.com/crl/t1/issuing.crl",
};

/* ---- helpers ---------------------------------------------------------------- */

static EVP_PKEY *key_new(int type)
{
    switch (type) {
    case K_P256:
        return EVP_EC_gen("P-256");
    case K_P384:
        return EVP_EC_gen("P-384");
    case K_RSA:
        return EVP_RSA_gen(2048);
    default:
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
}

static int group_setup(void **state)
{
    (void)state;
    for (int t = 0; t < KEY_TYPES; t++)
        for (int i = 0; i < 3; i++)
            if ((keys[t][i] = key_new(t)) == NULL)
                return -1;
    rsa1024 = EVP_RSA_gen(1024);
    return rsa1024 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int t = 0; t < KEY_TYPES; t++)
        for (int i = 0; i < 3; i++)
            EVP_PKEY_free(keys[t][i]);
    EVP_PKEY_free(rsa1024);
    return 0;
}

/* Asserts that e holds kind/code and that its message contains part. */
static void expect_err(const struct err *e, enum err_kind kind, const char *code, const char *part)
{
    if (e->kind != kind || strcmp(e->code, code) != 0 || strstr(e->msg, part) == NULL)
        fail_msg("expected %s %s \"...%s...\", got %s %s \"%s\"", err_kind_word(kind), code, part,
                 err_kind_word(e->kind), e->code, e->msg);
}

static struct profile *builtin(const char *name)
{
    struct err e = {0};
    struct profile *p = profile_parse(profile_builtin_json(name), &e);

    if (p == NULL)
        fail_msg("built-in %s: %s", name, e.msg);
    return p;
}

/* A built-in profile with one top-level field replaced by the JSON in value. */
static struct profile *builtin_with(const char *name, const char *field, const char *value)
{
    json_t *doc = json_loads(profile_builtin_json(name), 0, NULL);
    struct err e = {0};
    struct profile *p;
    char *text;

    json_object_set_new(doc, field, json_loads(value, JSON_DECODE_ANY, NULL));
    text = json_dumps(doc, 0);
    p = profile_parse(text, &e);
    if (p == NULL)
        fail_msg("%s with %s: %s", name, field, e.msg);
    free(text);
    json_decref(doc);
    return p;
}

static void request_set(struct issue_request *r, const char *subject, const char *sans,
                        EVP_PKEY *key)
{
    struct err e = {0};
    json_t *list = sans ? json_loads(sans, 0, NULL) : NULL;

    memset(r, 0, sizeof(*r));
    if (issue_request_from_json(r, subject, list, &e) != 0)
        fail_msg("request %s: %s", subject, e.msg);
    json_decref(list);
    if (key != NULL) {
        EVP_PKEY_up_ref(key);
        r->pubkey = key;
    }
}

static X509 *issue(const struct profile *p, const char *subject, const char *sans, EVP_PKEY *key,
                   X509 *issuer, EVP_PKEY *issuer_key, const struct ca_urls *u)
{
    struct issue_request r;
    struct err e = {0};
    X509 *cert = NULL;

    request_set(&r, subject, sans, key);
    if (cert_build(p, &r, issuer, issuer_key, u, time(NULL), &cert, &e) != 0)
        fail_msg("cert_build %s: %s", subject, e.msg);
    issue_request_clear(&r);
    return cert;
}

static X509 *root_new(int t)
{
    struct profile *p = builtin("root-ca");
    X509 *root = issue(p, "/C=DE/O=Test/CN=Test Root", NULL, keys[t][0], NULL, keys[t][0], NULL);

    profile_free(p);
    return root;
}

static struct profile *constrained_sub_ca(void)
{
    return builtin_with(
        "sub-ca", "name_constraints",
        "{\"permitted\": {\"dns\": [\"example.com\"], \"ip\": [\"192.0.2.0/24\"]}}");
}

static X509 *inter_new(int t, X509 *root)
{
    struct profile *p = constrained_sub_ca();
    X509 *inter =
        issue(p, "/C=DE/O=Test/CN=Test Issuing CA", NULL, keys[t][1], root, keys[t][0], &urls);

    profile_free(p);
    return inter;
}

/* A DER CSR for key with subject, optional extensions, signed by signer. */
static unsigned char *csr_make(EVP_PKEY *key, EVP_PKEY *signer, const char *subject,
                               STACK_OF(X509_EXTENSION) * exts, int *len)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = name_parse(subject, NULL);
    unsigned char *der = NULL;

    assert_non_null(name);
    assert_int_equal(X509_REQ_set_version(req, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    if (exts != NULL)
        assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
    assert_true(X509_REQ_sign(req, signer, sign_digest(signer, "auto")) > 0);
    *len = i2d_X509_REQ(req, &der);
    assert_true(*len > 0);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return der;
}

/* subjectAltName dNSName www.example.com + iPAddress 192.0.2.10 as a CSR extension list. */
static STACK_OF(X509_EXTENSION) * csr_exts_san(void)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
    ext =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "DNS:www.example.com,IP:192.0.2.10");
    assert_non_null(ext);
    X509v3_add_ext(&exts, ext, -1);
    X509_EXTENSION_free(ext);
    return exts;
}

/*
 * A leaf as a client would read it: cert_build returns a leaf as built, whose
 * public key OpenSSL does not decode (X509_verify_cert needs it).
 */
static X509 *reparse(X509 *cert)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int len = i2d_X509(cert, &der);
    X509 *parsed;

    assert_true(len > 0);
    p = der;
    parsed = d2i_X509(NULL, &p, len);
    assert_non_null(parsed);
    assert_null(X509_get0_pubkey(cert)); /* as profile.h says */
    ERR_clear_error();
    X509_free(cert);
    OPENSSL_free(der);
    return parsed;
}

static X509 *leaf_from_csr(const struct profile *p, EVP_PKEY *key, STACK_OF(X509_EXTENSION) * exts,
                           X509 *issuer, EVP_PKEY *issuer_key)
{
    int len;
    unsigned char *der = csr_make(key, key, "/CN=www.example.com", exts, &len);
    struct issue_request r = {0};
    struct err e = {0};
    X509 *cert = NULL;

    if (csr_read(der, (size_t)len, 0, &r, &e) != 0)
        fail_msg("csr_read: %s", e.msg);
    if (profile_check(p, &r, &e) != 0 ||
        cert_build(p, &r, issuer, issuer_key, &urls, time(NULL), &cert, &e) != 0)
        fail_msg("leaf: %s", e.msg);
    issue_request_clear(&r);
    OPENSSL_free(der);
    return reparse(cert);
}

/* X509_verify_cert with X509_STRICT for a TLS server; returns the verify error. */
static int verify_chain(X509 *root, X509 *inter, X509 *leaf, const char *host)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_VERIFY_PARAM *param;
    int rc;

    X509_STORE_add_cert(store, root);
    if (inter != NULL)
        sk_X509_push(untrusted, inter);
    X509_STORE_CTX_init(ctx, store, leaf, untrusted);
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (host != NULL)
        X509_VERIFY_PARAM_set1_host(param, host, 0);
    rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return rc;
}

static int ext_critical(X509 *x, int nid)
{
    int idx = X509_get_ext_by_NID(x, nid, -1);

    assert_true(idx >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(x, idx));
}

static void assert_name_der_equal(const X509_NAME *a, const X509_NAME *b)
{
    unsigned char *da = NULL, *db = NULL;
    int la = i2d_X509_NAME(a, &da), lb = i2d_X509_NAME(b, &db);

    assert_true(la > 0);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, (size_t)la);
    OPENSSL_free(da);
    OPENSSL_free(db);
}

/* Serial: positive, at least 64 bits, at most 20 octets. */
static void assert_serial_good(X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);

    assert_false(BN_is_negative(bn));
    assert_true(BN_num_bits(bn) >= 64);
    assert_true(BN_num_bytes(bn) <= 20);
    BN_free(bn);
}

static void assert_akid_matches(X509 *x, X509 *issuer)
{
    const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(x);
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer);

    assert_non_null(akid);
    assert_non_null(skid);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid, skid), 0);
}

static const char *aia_url(X509 *x, int method)
{
    static char buf[256];
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);

    buf[0] = '\0';
    for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) == method && ad->location->type == GEN_URI)
            snprintf(
                buf, sizeof(buf), "%s",
                (const char *)ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier));
    }
    AUTHORITY_INFO_ACCESS_free(aia);
    return buf;
}

static const char *cdp_url(X509 *x)
{
    static char buf[256];
    CRL_DIST_POINTS *cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);

    buf[0] = '\0';
    if (sk_DIST_POINT_num(cdp) == 1) {
        DIST_POINT_NAME *dpn = sk_DIST_POINT_value(cdp, 0)->distpoint;
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(dpn->name.fullname, 0);
        snprintf(buf, sizeof(buf), "%s",
                 (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier));
    }
    CRL_DIST_POINTS_free(cdp);
    return buf;
}

static long path_len(X509 *x, int *ca)
{
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    long len = -1;

    assert_non_null(bc);
    *ca = bc->ca != 0;
    if (bc->pathlen != NULL)
        len = ASN1_INTEGER_get(bc->pathlen);
    BASIC_CONSTRAINTS_free(bc);
    return len;
}

/* ---- profiles ------------------------------------------------------------------ */

static void test_every_builtin_profile_parses(void **state)
{
    const char *const *names = profile_builtin_names();
    int count = 0;

    (void)state;
    for (; names[count] != NULL; count++) {
        struct profile *p = builtin(names[count]);
        assert_true(profile_default_days(p) <= profile_max_days(p));
        assert_int_equal(profile_is_ca(p), strcmp(names[count], "root-ca") == 0 ||
                                               strcmp(names[count], "sub-ca") == 0);
        profile_free(p);
    }
    assert_int_equal(count, 8);
    assert_null(profile_builtin_json("no-such-profile"));
    profile_free(NULL);
}

#define MINIMAL_NO_EKU                                                                             \
    "\"validity\": {\"default_days\": 30}, \"key_types\": [\"ec-p256\"], "                         \
    "\"key_usage\": [\"digitalSignature\"]"
#define MINIMAL MINIMAL_NO_EKU ", \"extended_key_usage\": [\"clientAuth\"]"

static void test_profile_errors_name_the_field(void **state)
{
    static const struct {
        const char *doc;
        const char *msg;
    } cases[] = {
        {"{" MINIMAL ", \"colour\": 1}", "colour: unknown field"},
        {"{\"validity\": {\"default_days\": 30}, \"key_types\": [\"ec-p256\"], "
         "\"key_usage\": [\"digitalSignature\", \"keyEncipherment\", \"signing\"]}",
         "key_usage[2]: unknown usage \"signing\""},
        {"{\"validity\": {\"default_days\": 30, \"weeks\": 2}, \"key_types\": [\"ec-p256\"], "
         "\"key_usage\": [\"digitalSignature\"]}",
         "validity.weeks: unknown field"},
        {"{\"validity\": {\"default_days\": 30, \"backdate_seconds\": 200000}, "
         "\"key_types\": [\"ec-p256\"], \"key_usage\": [\"digitalSignature\"]}",
         "validity.backdate_seconds"},
        {"{\"validity\": {\"default_days\": 30, \"max_days\": 10}, \"key_types\": [\"ec-p256\"], "
         "\"key_usage\": [\"digitalSignature\"]}",
         "validity.max_days"},
        {"{\"validity\": {\"default_days\": 30}, \"key_types\": [\"rsa-1024\"], "
         "\"key_usage\": [\"digitalSignature\"]}",
         "key_types[0]"},
        {"{" MINIMAL_NO_EKU ", \"extended_key_usage\": [\"serverAuth\", \"flying\"]}",
         "extended_key_usage[1]"},
        {"{" MINIMAL_NO_EKU ", \"extended_key_usage\": [\"timeStamping\"]}",
         "extended_key_usage: timeStamping"},
        {"{" MINIMAL_NO_EKU ", \"extended_key_usage\": [\"timeStamping\", \"serverAuth\"], "
         "\"eku_critical\": true}",
         "extended_key_usage: timeStamping"},
        {"{" MINIMAL ", \"ocsp_nocheck\": true}", "ocsp_nocheck"},
        {"{" MINIMAL_NO_EKU "}", "extended_key_usage: required in end-entity profiles"},
        {"{" MINIMAL ", \"basic_constraints\": {\"ca\": false, \"path_len\": 1}}",
         "basic_constraints.path_len"},
        {"{\"validity\": {\"default_days\": 30}, \"key_types\": [\"ec-p256\"], "
         "\"key_usage\": [\"keyCertSign\"]}",
         "key_usage: keyCertSign"},
        {"{" MINIMAL ", \"subject\": {\"CN\": {\"rule\": \"required\", \"pattern\": \"a(\"}}}",
         "subject.CN.pattern"},
        {"{" MINIMAL ", \"subject\": {\"CN\": \"mandatory\"}}", "subject.CN"},
        {"{" MINIMAL
         ", \"san\": {\"dns\": {\"rule\": \"optional\", \"pattern\": \"[a-z.]+++++\"}}}",
         "san.dns.pattern: a quantifier after a quantifier"},
        {"{" MINIMAL ", \"san\": {\"dns\": {\"rule\": \"optional\", \"pattern\": "
         "\"((((((((((a+)+)+)+)+)+)+)+)+)+)+\"}}}",
         "san.dns.pattern: more than 8 nested groups"},
        {"{" MINIMAL ", \"san\": {\"dns\": {\"rule\": \"optional\", \"pattern\": "
         "\"((a{50}){50}){50}\"}}}",
         "san.dns.pattern: repetitions expand too far"},
        {"{" MINIMAL ", \"subject\": {\"CN\": {\"rule\": \"optional\", \"pattern\": "
         "\"(a)\\\\1\"}}}",
         "subject.CN.pattern: back-references"},
        {"{" MINIMAL ", \"subject\": {\"Shoe\": \"optional\"}}", "subject.Shoe: unknown attribute"},
        {"{" MINIMAL ", \"subject\": {\"CN\": {\"rule\": \"optional\", \"size\": 3}}}",
         "subject.CN.size: unknown field"},
        {"{" MINIMAL ", \"san\": {\"dns\": {\"rule\": \"optional\", \"max\": 0}}}", "san.dns.max"},
        {"{" MINIMAL ", \"san\": {\"x400\": \"optional\"}}", "san.x400: unknown field"},
        {"{" MINIMAL ", \"basic_constraints\": {\"ca\": true}, "
         "\"name_constraints\": {\"permitted\": {\"ip\": [\"10.1.0.0/8\"]}}}",
         "name_constraints.permitted.ip[0]"},
        {"{" MINIMAL ", \"basic_constraints\": {\"ca\": true}, "
         "\"name_constraints\": {\"permitted\": {\"dns\": [\"Example.com\"]}}}",
         "name_constraints.permitted.dns[0] \"Example.com\": must be lowercase"},
        {"{" MINIMAL ", \"name_constraints\": {\"permitted\": {\"dns\": [\"example.com\"]}}}",
         "name_constraints: only with basic_constraints.ca"},
        {"{" MINIMAL ", \"policies\": [\"2.23.140.1.2.1\", {\"oid\": \"1.2.x\"}]}", "policies[1]"},
        {"{" MINIMAL ", \"policies\": [{\"oid\": \"1.2.3.4\", \"cps\": \"ftp://x\"}]}",
         "policies[0].cps"},
        {"{" MINIMAL ", \"aia\": {\"ocsp\": \"yes\"}}", "aia.ocsp"},
        {"{" MINIMAL ", \"signature_digest\": \"md5\"}", "signature_digest"},
        {"{\"key_types\": [\"ec-p256\"], \"key_usage\": [\"digitalSignature\"]}", "validity"},
        {"{" MINIMAL ", \"cdp\": true, \"cdp\": false}", "profile: invalid JSON"},
        {"[1, 2]", "profile: must be a JSON object"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err e = {0};
        struct profile *p = profile_parse(cases[i].doc, &e);
        if (p != NULL)
            fail_msg("case %zu parsed: %s", i, cases[i].doc);
        expect_err(&e, ERR_INVALID, "bad_request", cases[i].msg);
    }
}

static void test_usual_patterns_are_accepted(void **state)
{
    static const char *const patterns[] = {
        "([a-z0-9-]+\\\\.)+example\\\\.com",
        "[0-9]{1,3}(\\\\.[0-9]{1,3}){3}",
        "[[:alpha:]][[:alnum:] .-]{0,63}",
        "(\\\\*\\\\.)?[a-z0-9.-]+\\\\.(com|org|net)",
        "[^@]+@example\\\\.com",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        char *doc = NULL;
        struct err e = {0};
        struct profile *p;
        if (asprintf(&doc,
                     "{" MINIMAL ", \"subject\": {\"CN\": {\"rule\": \"optional\", "
                     "\"pattern\": \"%s\"}}}",
                     patterns[i]) < 0)
            fail();
        p = profile_parse(doc, &e);
        if (p == NULL)
            fail_msg("%s: %s", patterns[i], e.msg);
        profile_free(p);
        free(doc);
    }
}

static void test_profile_with_every_field_parses(void **state)
{
    const char *doc =
        "{\"description\": \"all fields\","
        " \"validity\": {\"default_days\": 30, \"max_days\": 60, \"backdate_seconds\": 0},"
        " \"key_types\": [\"ec-p256\", \"rsa-3072\"],"
        " \"key_usage\": [\"digitalSignature\", \"keyAgreement\", \"encipherOnly\"],"
        " \"extended_key_usage\": [\"clientAuth\", \"1.3.6.1.4.1.311.20.2.2\"],"
        " \"eku_critical\": false, \"basic_constraints\": {\"ca\": false},"
        " \"subject\": {\"CN\": {\"rule\": \"required\", \"pattern\": \"[a-z]+\", \"max\": 2},"
        "              \"commonName\": \"optional\", \"other\": \"optional\"},"
        " \"san\": {\"dns\": \"optional\", \"ip\": \"optional\", \"email\": \"forbidden\","
        "          \"uri\": {\"rule\": \"optional\", \"pattern\": \"spiffe://.*\"},"
        "          \"cn_in_san\": false, \"required\": false},"
        " \"policies\": [\"1.3.6.1.4.1.99999.1\","
        "               {\"oid\": \"1.3.6.1.4.1.99999.2\", \"cps\": \"http://example.com/cps\"}],"
        " \"aia\": {\"ocsp\": true, \"ca_issuers\": false}, \"cdp\": false,"
        " \"signature_digest\": \"sha384\", \"ocsp_nocheck\": false}";
    struct err e = {0};
    struct profile *p;

    (void)state;
    /* CN and commonName are the same attribute: listed twice. */
    assert_null(profile_parse(doc, &e));
    expect_err(&e, ERR_INVALID, "bad_request", "subject.commonName: CN listed twice");
    {
        char *fixed = strdup(doc);
        char *dup = strstr(fixed, "\"commonName\": \"optional\",");
        memmove(dup, dup + 26, strlen(dup + 26) + 1);
        p = profile_parse(fixed, &e);
        if (p == NULL)
            fail_msg("%s", e.msg);
        assert_int_equal(profile_max_days(p), 60);
        profile_free(p);
        free(fixed);
    }
}

/* ---- certificates ------------------------------------------------------------------ */

static void check_root(X509 *root, int t)
{
    int ca;

    assert_serial_good(root);
    assert_null(X509_get0_authority_key_id(root));
    assert_non_null(X509_get0_subject_key_id(root));
    assert_int_equal(path_len(root, &ca), -1);
    assert_true(ca);
    assert_int_equal(ext_critical(root, NID_basic_constraints), 1);
    assert_int_equal(ext_critical(root, NID_key_usage), 1);
    assert_true(X509_get_key_usage(root) & KU_KEY_CERT_SIGN);
    assert_true(X509_get_key_usage(root) & KU_CRL_SIGN);
    assert_name_der_equal(X509_get_subject_name(root), X509_get_issuer_name(root));
    assert_int_equal(X509_get_ext_by_NID(root, NID_info_access, -1), -1);
    (void)t;
}

static void check_inter(X509 *inter, X509 *root)
{
    int ca;

    assert_serial_good(inter);
    assert_akid_matches(inter, root);
    assert_int_equal(path_len(inter, &ca), 0);
    assert_true(ca);
    assert_int_equal(ext_critical(inter, NID_basic_constraints), 1);
    assert_int_equal(ext_critical(inter, NID_name_constraints), 1);
    assert_name_der_equal(X509_get_issuer_name(inter), X509_get_subject_name(root));
    assert_string_equal(aia_url(inter, NID_ad_OCSP), urls.ocsp);
    assert_string_equal(aia_url(inter, NID_ad_ca_issuers), urls.ca_issuers);
    assert_string_equal(cdp_url(inter), urls.crl);
}

static void check_leaf(X509 *leaf, X509 *inter, int t)
{
    static const int sig_nids[KEY_TYPES] = {NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384,
                                            NID_sha256WithRSAEncryption, NID_ED25519};
    uint32_t ku = X509_get_key_usage(leaf);
    int ca;
    char *sans = sans_summary(leaf);

    assert_serial_good(leaf);
    assert_akid_matches(leaf, inter);
    assert_non_null(X509_get0_subject_key_id(leaf));
    assert_int_equal(path_len(leaf, &ca), -1);
    assert_false(ca);
    assert_int_equal(ext_critical(leaf, NID_key_usage), 1);
    assert_true(ku & KU_DIGITAL_SIGNATURE);
    assert_int_equal((ku & KU_KEY_ENCIPHERMENT) != 0, t == K_RSA); /* RFC 8813, RFC 8410 */
    assert_false(ku & KU_KEY_CERT_SIGN);
    assert_int_equal(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER);
    assert_int_equal(ext_critical(leaf, NID_subject_alt_name), 0);
    assert_string_equal(sans, "dns:www.example.com,ip:192.0.2.10");
    assert_string_equal(aia_url(leaf, NID_ad_OCSP), urls.ocsp);
    assert_string_equal(cdp_url(leaf), urls.crl);
    assert_int_equal(X509_get_signature_nid(leaf), sig_nids[t]);
    assert_int_equal(X509_get_version(leaf), X509_VERSION_3);
    assert_name_der_equal(X509_get_issuer_name(leaf), X509_get_subject_name(inter));
    free(sans);
}

/* email: EC keys agree on keys, RSA keys encipher them, Ed25519 keys sign only (issue 23). */
static void test_email_certificates_can_encrypt_with_every_key_type(void **state)
{
    struct profile *mail = builtin("email");
    X509 *root = root_new(K_P256);
    const char *sans = "[\"email:a@example.com\"]";
    X509 *ec = issue(mail, "/CN=A", sans, keys[K_P256][2], root, keys[K_P256][0], &urls);
    X509 *rsa = issue(mail, "/CN=A", sans, keys[K_RSA][2], root, keys[K_P256][0], &urls);
    X509 *ed = issue(mail, "/CN=A", sans, keys[K_ED25519][2], root, keys[K_P256][0], &urls);

    (void)state;
    assert_int_equal(X509_get_key_usage(ec), KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
    assert_int_equal(X509_get_key_usage(rsa), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_int_equal(X509_get_key_usage(ed), KU_DIGITAL_SIGNATURE);
    X509_free(ec);
    X509_free(rsa);
    X509_free(ed);
    X509_free(root);
    profile_free(mail);
}

static void test_chain_verifies_for_every_key_type(void **state)
{
    /* tls-server with every key type (the built-in one follows the BR: no Ed25519) */
    struct profile *tls =
        builtin_with("tls-server", "key_types",
                     "[\"ec-p256\", \"ec-p384\", \"rsa-2048\", \"rsa-3072\", \"rsa-4096\", "
                     "\"ed25519\"]");

    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        X509 *root = root_new(t);
        X509 *inter = inter_new(t, root);
        STACK_OF(X509_EXTENSION) *exts = csr_exts_san();
        X509 *leaf = leaf_from_csr(tls, keys[t][2], exts, inter, keys[t][1]);
        X509 *leaf2;
        int rc;

        check_root(root, t);
        check_inter(inter, root);
        check_leaf(leaf, inter, t);
        rc = verify_chain(root, inter, leaf, "www.example.com");
        if (rc != X509_V_OK)
            fail_msg("%s: %s", key_type_names[t], X509_verify_cert_error_string(rc));
        /* The same leaf does not verify for another host. */
        assert_int_not_equal(verify_chain(root, inter, leaf, "www.example.org"), X509_V_OK);
        /* An intermediate's own name constraints are honoured when issuing. */
        leaf2 = issue(tls, "", "[\"dns:www.example.com\"]", keys[t][2], inter, keys[t][1], &urls);
        assert_int_equal(verify_chain(root, inter, leaf2, "www.example.com"), X509_V_OK);
        X509_free(leaf2);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        X509_free(leaf);
        X509_free(inter);
        X509_free(root);
    }
    profile_free(tls);
}

static void test_leaf_outside_name_constraints_is_refused(void **state)
{
    struct profile *tls = builtin("tls-server");
    X509 *root = root_new(K_P256), *inter = inter_new(K_P256, root), *cert = NULL;
    struct issue_request r;
    struct err e = {0};

    (void)state;
    request_set(&r, "/CN=www.other.org", "[\"dns:www.other.org\"]", keys[K_P256][2]);
    assert_int_equal(cert_build(tls, &r, inter, keys[K_P256][1], &urls, time(NULL), &cert, &e), -1);
    assert_null(cert);
    expect_err(&e, ERR_POLICY, "profile_violation", "name constraints");
    issue_request_clear(&r);
    X509_free(inter);
    X509_free(root);
    profile_free(tls);
}

static void test_not_after_is_clamped_to_the_issuer(void **state)
{
    struct profile *root_p = builtin("root-ca"), *sub = builtin("sub-ca");
    struct issue_request r;
    struct err e = {0};
    X509 *root = NULL, *inter;

    (void)state;
    request_set(&r, "/CN=Short Root", NULL, keys[K_P256][0]);
    r.validity_days = 30;
    assert_int_equal(cert_build(root_p, &r, NULL, keys[K_P256][0], NULL, time(NULL), &root, &e), 0);
    issue_request_clear(&r);
    inter = issue(sub, "/CN=Long Sub", NULL, keys[K_P256][1], root, keys[K_P256][0], &urls);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(inter), X509_get0_notAfter(root)), 0);
    /* notBefore is backdated by the profile's 300 seconds. */
    {
        int days, secs;
        ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
        ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(inter), now);
        assert_int_equal(days, 0);
        assert_true(secs >= 300 && secs <= 310);
        ASN1_TIME_free(now);
    }
    X509_free(inter);
    X509_free(root);
    profile_free(root_p);
    profile_free(sub);
}

static void test_dates_switch_to_generalized_time_in_2050(void **state)
{
    struct profile *p = builtin("root-ca");
    struct issue_request r;
    struct err e = {0};
    X509 *root = NULL;

    (void)state;
    request_set(&r, "/CN=Root 2049", NULL, keys[K_P256][0]);
    r.validity_days = 60;
    /* 2049-12-01T00:00:00Z */
    assert_int_equal(cert_build(p, &r, NULL, keys[K_P256][0], NULL, 2522016000LL, &root, &e), 0);
    assert_int_equal(ASN1_STRING_type(X509_get0_notBefore(root)), V_ASN1_UTCTIME);
    assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(root)), V_ASN1_GENERALIZEDTIME);
    issue_request_clear(&r);
    X509_free(root);
    profile_free(p);
}

static void test_csr_extensions_are_not_copied(void **state)
{
    struct profile *tls = builtin("tls-server");
    X509 *root = root_new(K_P256), *inter = inter_new(K_P256, root), *leaf;
    STACK_OF(X509_EXTENSION) *exts = csr_exts_san();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ca;

    (void)state;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509v3_add_ext(&exts, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509v3_add_ext(&exts, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_id_pkix_OCSP_noCheck, "ignored");
    X509v3_add_ext(&exts, ext, -1);
    X509_EXTENSION_free(ext);

    leaf = leaf_from_csr(tls, keys[K_P256][2], exts, inter, keys[K_P256][1]);
    path_len(leaf, &ca);
    assert_false(ca);
    assert_false(X509_get_key_usage(leaf) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    assert_int_equal(X509_get_ext_by_NID(leaf, NID_id_pkix_OCSP_noCheck, -1), -1);
    assert_true(X509_get_ext_by_NID(leaf, NID_subject_alt_name, -1) >= 0);
    assert_int_equal(verify_chain(root, inter, leaf, "www.example.com"), X509_V_OK);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_free(leaf);
    X509_free(inter);
    X509_free(root);
    profile_free(tls);
}

/* A CSR-style subject "C=<country>" with the country in the given string type. */
static struct issue_request country_request(const char *country, int type, EVP_PKEY *key)
{
    struct issue_request r;

    request_set(&r, "", "[\"dns:a.example.com\"]", key);
    X509_NAME_add_entry_by_NID(r.subject, NID_countryName, type, (const unsigned char *)country, -1,
                               -1, 0);
    return r;
}

static void test_country_is_a_two_letter_printable_string(void **state)
{
    struct profile *tls = builtin("tls-server");
    X509 *root = root_new(K_P256), *inter = inter_new(K_P256, root), *cert = NULL;
    struct issue_request r = country_request("de", V_ASN1_PRINTABLESTRING, keys[K_P256][2]);
    struct err e = {0};
    const X509_NAME_ENTRY *entry;

    (void)state;
    assert_int_equal(profile_check(tls, &r, &e), -1);
    expect_err(&e, ERR_POLICY, "profile_violation", "subject.C: must be two upper-case letters");
    issue_request_clear(&r);
    r = country_request("DEU", V_ASN1_PRINTABLESTRING, keys[K_P256][2]);
    assert_int_equal(profile_check(tls, &r, &e), -1);
    issue_request_clear(&r);
    /* A UTF8String "DE" from a CSR is written as PrintableString. */
    r = country_request("DE", V_ASN1_UTF8STRING, keys[K_P256][2]);
    if (cert_build(tls, &r, inter, keys[K_P256][1], &urls, time(NULL), &cert, &e) != 0)
        fail_msg("%s", e.msg);
    entry = X509_NAME_get_entry(X509_get_subject_name(cert), 0);
    assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(entry)), V_ASN1_PRINTABLESTRING);
    assert_int_equal(verify_chain(root, inter, cert, "a.example.com"), X509_V_OK);
    issue_request_clear(&r);
    X509_free(cert);
    X509_free(inter);
    X509_free(root);
    profile_free(tls);
}

static void test_special_purpose_profiles(void **state)
{
    struct profile *tsa = builtin("time-stamping"), *ocsp = builtin("ocsp-signing");
    struct profile *tls = builtin("tls-server");
    X509 *root = root_new(K_P384), *inter = inter_new(K_P384, root), *cert;
    EXTENDED_KEY_USAGE *eku;
    int crit = 0;

    (void)state;
    cert = issue(tsa, "/O=Test/CN=Test TSA", NULL, keys[K_P384][2], inter, keys[K_P384][1], &urls);
    eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
    assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
    assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_time_stamp);
    assert_int_equal(crit, 1);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    X509_free(cert);

    cert = issue(ocsp, "/CN=Test OCSP", NULL, keys[K_P384][2], inter, keys[K_P384][1], &urls);
    assert_true(X509_get_ext_by_NID(cert, NID_id_pkix_OCSP_noCheck, -1) >= 0);
    assert_int_equal(X509_get_extended_key_usage(cert), XKU_OCSP_SIGN);
    X509_free(cert);

    /* An empty subject makes the SAN critical (RFC 5280 §4.2.1.6). */
    cert =
        issue(tls, "", "[\"dns:api.example.com\"]", keys[K_P384][2], inter, keys[K_P384][1], &urls);
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(cert)), 0);
    assert_int_equal(ext_critical(cert, NID_subject_alt_name), 1);
    assert_int_equal(verify_chain(root, inter, cert, "api.example.com"), X509_V_OK);
    X509_free(cert);

    X509_free(inter);
    X509_free(root);
    profile_free(tsa);
    profile_free(ocsp);
    profile_free(tls);
}

static void test_issuer_rules_are_enforced(void **state)
{
    struct profile *tls = builtin("tls-server"), *sub = builtin("sub-ca");
    X509 *root = root_new(K_P256), *inter = inter_new(K_P256, root), *leaf, *cert = NULL;
    struct issue_request r;
    struct err e = {0};

    (void)state;
    /* Self-signed only under a CA profile. */
    request_set(&r, "/CN=www.example.com", "[\"dns:www.example.com\"]", keys[K_P256][2]);
    assert_int_equal(cert_build(tls, &r, NULL, keys[K_P256][2], NULL, time(NULL), &cert, &e), -1);
    expect_err(&e, ERR_POLICY, "profile_violation", "self-signed");
    /* A leaf cannot issue. */
    leaf = issue(tls, "/CN=www.example.com", "[\"dns:www.example.com\"]", keys[K_P256][2], inter,
                 keys[K_P256][1], &urls);
    assert_int_equal(cert_build(tls, &r, leaf, keys[K_P256][2], &urls, time(NULL), &cert, &e), -1);
    expect_err(&e, ERR_POLICY, "profile_violation", "issuer: not a CA");
    issue_request_clear(&r);
    /* pathLenConstraint 0 allows no sub-CA below the intermediate. */
    request_set(&r, "/CN=Too Deep", NULL, keys[K_P256][2]);
    assert_int_equal(cert_build(sub, &r, inter, keys[K_P256][1], &urls, time(NULL), &cert, &e), -1);
    expect_err(&e, ERR_POLICY, "profile_violation", "pathLenConstraint");
    /* A root whose signing key does not match the request's key fails the check after signing. */
    assert_int_equal(cert_build(sub, &r, NULL, keys[K_P256][0], NULL, time(NULL), &cert, &e), -1);
    expect_err(&e, ERR_INTERNAL, "internal", "does not verify");
    issue_request_clear(&r);
    assert_null(cert);
    X509_free(leaf);
    X509_free(inter);
    X509_free(root);
    profile_free(tls);
    profile_free(sub);
}

/* ---- profile_check ------------------------------------------------------------------ */

static void expect_refused(const struct profile *p, const char *subject, const char *sans,
                           EVP_PKEY *key, const char *msg)
{
    struct issue_request r;
    struct err e = {0};

    request_set(&r, subject, sans, key);
    if (profile_check(p, &r, &e) == 0)
        fail_msg("accepted %s %s", subject, sans ? sans : "");
    expect_err(&e, ERR_POLICY, "profile_violation", msg);
    issue_request_clear(&r);
}

static void expect_accepted(const struct profile *p, const char *subject, const char *sans,
                            EVP_PKEY *key)
{
    struct issue_request r;
    struct err e = {0};

    request_set(&r, subject, sans, key);
    if (profile_check(p, &r, &e) != 0)
        fail_msg("refused %s %s: %s", subject, sans ? sans : "", e.msg);
    issue_request_clear(&r);
}

static void test_profile_check_names_the_field(void **state)
{
    struct profile *tls = builtin("tls-server"), *client = builtin("tls-client");
    struct profile *code = builtin("code-signing"), *mail = builtin("email");
    struct profile *strict =
        builtin_with("tls-server", "subject", "{\"CN\": \"required\", \"O\": \"forbidden\"}");
    struct profile *pattern = builtin_with(
        "tls-server", "san",
        "{\"dns\": {\"rule\": \"required\", \"pattern\": \"[a-z0-9-]+\\\\.example\\\\.com\"}}");
    EVP_PKEY *ec = keys[K_P256][2];
    struct issue_request r;
    struct err e = {0};

    (void)state;
    expect_refused(client, "/O=Org", NULL, ec, "subject.CN: required");
    expect_refused(strict, "/O=Org/CN=www.example.com", "[\"dns:www.example.com\"]", ec,
                   "subject.O: forbidden");
    expect_refused(tls, "/OU=Web/CN=www.example.com", "[\"dns:www.example.com\"]", ec,
                   "subject.OU: forbidden");
    expect_refused(pattern, "", "[\"dns:www.other.org\"]", ec,
                   "san.dns[0] \"www.other.org\": does not match pattern");
    expect_accepted(pattern, "", "[\"dns:www.example.com\"]", ec);
    expect_refused(pattern, "", "[\"dns:a.b.example.com\"]", ec, "does not match pattern");
    expect_refused(tls, "/CN=a.example.com", "[\"dns:b.example.com\"]", ec,
                   "subject.CN \"a.example.com\": must also be a subject alternative name");
    expect_accepted(tls, "/CN=192.0.2.1", "[\"ip:192.0.2.1\"]", ec);
    expect_refused(tls, "/CN=www.example.com", NULL, rsa1024, "key: rsa-1024 not allowed");
    expect_refused(code, "/C=DE/O=Org/CN=Signer", NULL, keys[K_RSA][2],
                   "key: rsa-2048 not allowed (allowed: ec-p256, ec-p384, rsa-3072, rsa-4096)");
    expect_refused(code, "/C=DE/O=Org/CN=Signer", NULL, keys[K_ED25519][2],
                   "key: ed25519 not allowed");
    expect_refused(code, "/O=Org/CN=Signer", NULL, ec, "subject.C: required");
    expect_accepted(code, "/C=DE/O=Org/CN=Signer", NULL, ec);
    /* tls-server is domain validated under the BR: no organisation, no Ed25519 */
    expect_refused(tls, "/O=Org/CN=www.example.com", "[\"dns:www.example.com\"]", ec,
                   "subject.O: forbidden");
    expect_refused(tls, "/CN=www.example.com", "[\"dns:www.example.com\"]", keys[K_ED25519][2],
                   "key: ed25519 not allowed");
    expect_accepted(tls, "/C=DE/CN=www.example.com", "[\"dns:www.example.com\"]", ec);
    expect_refused(tls, "", "[\"dns:WWW.example.com\"]", ec, "must be lowercase");
    expect_refused(tls, "", "[\"dns:www.example.com.\"]", ec, "trailing dot");
    expect_refused(tls, "", "[\"dns:www.*.example.com\"]", ec, "wildcard");
    expect_refused(tls, "", "[\"dns:*.com\"]", ec, "wildcard");
    expect_refused(tls, "", "[\"dns:x_y.example.com\"]", ec, "san.dns[0] \"x_y.example.com\"");
    expect_refused(tls, "", "[\"dns:b\\u00fccher.example\"]", ec, "A-label");
    expect_refused(tls, "", "[\"dns:192.0.2.1\"]", ec, "ip:");
    expect_accepted(tls, "", "[\"dns:*.example.com\", \"dns:xn--bcher-kva.example\"]", ec);
    expect_refused(tls, "", "[\"dns:a.example.com\", \"dns:a.example.com\"]", ec,
                   "san.dns[1] \"a.example.com\": duplicate");
    expect_refused(tls, "", "[\"email:a@example.com\"]", ec, "san.email[0]: forbidden");
    expect_refused(tls, "", NULL, ec, "san:");
    expect_refused(tls, "/C=DE", NULL, ec, "san: at least one");
    expect_refused(mail, "/CN=A", "[\"email:a@b@example.com\"]", ec, "exactly one '@'");
    expect_refused(mail, "/CN=A", "[\"dns:a.example.com\"]", ec, "san.dns[0]: forbidden");
    expect_refused(tls, "/CN=a.example.com/CN=a.example.com", "[\"dns:a.example.com\"]", ec,
                   "subject.CN: at most 1");

    /* Requested validity above max_days; an IP SAN of 3 octets. */
    request_set(&r, "", "[\"dns:a.example.com\"]", ec);
    r.validity_days = 201;
    assert_int_equal(profile_check(tls, &r, &e), -1);
    expect_err(&e, ERR_POLICY, "profile_violation",
               "validity_days: 201 exceeds the profile's max_days 200");
    r.validity_days = 0;
    {
        static const unsigned char three[3] = {10, 0, 0};
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_OCTET_STRING *ip = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(ip, three, 3);
        GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
        sk_GENERAL_NAME_push(r.sans, gn);
    }
    assert_int_equal(profile_check(tls, &r, &e), -1);
    expect_err(&e, ERR_POLICY, "profile_violation", "san.ip[0]: IP address must be 4 or 16 octets");
    issue_request_clear(&r);

    profile_free(tls);
    profile_free(client);
    profile_free(code);
    profile_free(mail);
    profile_free(strict);
    profile_free(pattern);
}

/* ---- CSRs ---------------------------------------------------------------------- */

static void test_csr_with_broken_signature_is_refused(void **state)
{
    int len;
    unsigned char *der = csr_make(keys[K_P256][2], keys[K_P256][2], "/CN=a", NULL, &len);
    struct issue_request r = {0};
    struct err e = {0};

    (void)state;
    der[len - 3] ^= 0x01; /* inside the signature value */
    assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr:");
    assert_null(r.pubkey);
    der[len - 3] ^= 0x01;
    assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), 0);
    assert_non_null(r.pubkey);
    issue_request_clear(&r);
    /* Trailing bytes, garbage, empty input, too large. */
    assert_int_equal(csr_read(der, (size_t)len - 1, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr:");
    assert_int_equal(csr_read((const unsigned char *)"hello", 5, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr:");
    assert_int_equal(csr_read(der, 0, 0, &r, &e), -1);
    assert_int_equal(csr_read(der, 70000, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "larger than");
    OPENSSL_free(der);
    /* Signed by another key than the one it carries. */
    der = csr_make(keys[K_P256][2], keys[K_P256][1], "/CN=a", NULL, &len);
    assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "signature");
    assert_null(r.subject);
    OPENSSL_free(der);
}

static void test_csr_with_weak_key_is_refused(void **state)
{
    int len;
    unsigned char *der = csr_make(rsa1024, rsa1024, "/CN=a", NULL, &len);
    struct issue_request r = {0};
    struct err e = {0};

    (void)state;
    assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "RSA key of 1024 bits is too weak");
    OPENSSL_free(der);
}

/* EC keys of every allowed curve are read; a point that is not on its curve is refused. */
static void test_csr_ec_points_are_checked(void **state)
{
    static const int kinds[] = {K_P256, K_P384};
    struct issue_request r = {0};
    struct err e = {0};
    unsigned char *der, *point = NULL, *at;
    size_t plen;
    int len;

    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        EVP_PKEY *key = keys[kinds[i]][2];

        der = csr_make(key, key, "/CN=a", NULL, &len);
        assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), 0);
        assert_int_equal(EVP_PKEY_eq(r.pubkey, key), 1);
        issue_request_clear(&r);
        plen = EVP_PKEY_get1_encoded_public_key(key, &point);
        assert_true(plen > 0);
        at = memmem(der, (size_t)len, point, plen);
        assert_non_null(at);
        at[plen - 1] ^= 0x01; /* the last byte of y: off the curve */
        assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), -1);
        expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "cannot be decoded");
        assert_null(r.pubkey);
        OPENSSL_free(point);
        point = NULL;
        OPENSSL_free(der);
    }
}

/* An extensionRequest whose value is a SEQUENCE that does not hold Extensions: refused, not
 * ignored. */
static void test_csr_with_malformed_extension_request_is_refused(void **state)
{
    /* DER, but an INTEGER where Extensions has an Extension (an overrun is not DER at all) */
    static const unsigned char bad[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = name_parse("/CN=a", NULL);
    struct issue_request r = {0};
    unsigned char *der = NULL;
    struct err e = {0};
    EVP_PKEY *key = keys[K_P256][2];
    int len;

    (void)state;
    assert_int_equal(X509_REQ_set_version(req, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    assert_int_equal(
        X509_REQ_add1_attr_by_NID(req, NID_ext_req, V_ASN1_SEQUENCE, bad, (int)sizeof(bad)), 1);
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    len = i2d_X509_REQ(req, &der);
    assert_true(len > 0);
    assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "malformed extension request");
    assert_null(r.pubkey);
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_REQ_free(req);
}

static void test_csr_in_pem_and_csr_build(void **state)
{
    X509_NAME *name = name_parse("/O=Org/CN=External CA", NULL);
    struct err e = {0};
    struct issue_request r = {0};
    X509_REQ *req;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len;

    (void)state;
    for (int t = 0; t < KEY_TYPES; t++) {
        req = csr_build(name, keys[t][1], keys[t][1], &e);
        if (req == NULL)
            fail_msg("csr_build %s: %s", key_type_names[t], e.msg);
        (void)BIO_reset(bio);
        PEM_write_bio_X509_REQ(bio, req);
        len = BIO_get_mem_data(bio, &pem);
        if (csr_read((const unsigned char *)pem, (size_t)len, 0, &r, &e) != 0)
            fail_msg("csr_read PEM %s: %s", key_type_names[t], e.msg);
        assert_int_equal(X509_NAME_cmp(r.subject, name), 0);
        /* The key read from its parts is the key the CSR was made for. */
        assert_int_equal(EVP_PKEY_eq(r.pubkey, keys[t][1]), 1);
        issue_request_clear(&r);
        X509_REQ_free(req);
    }
    /* The signing key must match the public key. */
    assert_null(csr_build(name, keys[K_P256][1], keys[K_P256][2], &e));
    expect_err(&e, ERR_INTERNAL, "internal", "csr:");
    BIO_free(bio);
    X509_NAME_free(name);
}

/* ---- CRLs ---------------------------------------------------------------------- */

static X509_REVOKED *crl_find(X509_CRL *crl, const char *hex)
{
    ASN1_INTEGER *serial = serial_from_hex(hex);
    X509_REVOKED *rev = NULL;

    assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, serial), 1);
    ASN1_INTEGER_free(serial);
    return rev;
}

static void test_crl_is_signed_and_complete(void **state)
{
    X509 *root = root_new(K_P384), *inter = inter_new(K_P384, root);
    int64_t now = time(NULL);
    const struct crl_entry entries[] = {
        {"1234abcd", now - 100, 0, 0},
        {"ff01", now - 50, 1, now - 86400},
        {"beef", now - 10, 6, 0},
    };
    X509_CRL *crl = NULL;
    struct err e = {0};
    ASN1_INTEGER *number;
    ASN1_ENUMERATED *reason;
    ASN1_GENERALIZEDTIME *when;
    X509_REVOKED *rev;

    (void)state;
    if (crl_build(inter, keys[K_P384][1], entries, 3, 42, now, now + 3600, &crl, &e) != 0)
        fail_msg("crl_build: %s", e.msg);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(inter)), 1);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA384);
    assert_name_der_equal(X509_CRL_get_issuer(crl), X509_get_subject_name(inter));
    number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    assert_int_equal(ASN1_INTEGER_get(number), 42);
    ASN1_INTEGER_free(number);
    {
        AUTHORITY_KEYID *aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
        assert_int_equal(ASN1_OCTET_STRING_cmp(aki->keyid, X509_get0_subject_key_id(inter)), 0);
        AUTHORITY_KEYID_free(aki);
    }
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 3);
    rev = crl_find(crl, "1234abcd");
    assert_int_equal(X509_REVOKED_get_ext_count(rev), 0); /* unspecified: no reasonCode */
    rev = crl_find(crl, "ff01");
    reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
    ASN1_ENUMERATED_free(reason);
    when = X509_REVOKED_get_ext_d2i(rev, NID_invalidity_date, NULL, NULL);
    assert_non_null(when);
    assert_int_equal(ASN1_STRING_type(when), V_ASN1_GENERALIZEDTIME);
    ASN1_GENERALIZEDTIME_free(when);
    rev = crl_find(crl, "beef");
    reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    assert_int_equal(ASN1_ENUMERATED_get(reason), 6);
    ASN1_ENUMERATED_free(reason);
    X509_CRL_free(crl);
    crl = NULL;

    /* An empty CRL; bad input. */
    assert_int_equal(crl_build(root, keys[K_P384][0], NULL, 0, 1, now, now + 60, &crl, &e), 0);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(root)), 1);
    X509_CRL_free(crl);
    crl = NULL;
    {
        const struct crl_entry dup[] = {{"01", now, 0, 0}, {"1", now, 1, 0}};
        const struct crl_entry bad_reason[] = {{"01", now, 7, 0}};
        const struct crl_entry bad_serial[] = {{"xyz", now, 0, 0}};
        assert_int_equal(crl_build(root, keys[K_P384][0], dup, 2, 2, now, now + 60, &crl, &e), -1);
        expect_err(&e, ERR_INTERNAL, "internal", "listed twice");
        assert_int_equal(
            crl_build(root, keys[K_P384][0], bad_reason, 1, 2, now, now + 60, &crl, &e), -1);
        expect_err(&e, ERR_INTERNAL, "internal", "entries[0]: 7 is not a CRLReason");
        assert_int_equal(
            crl_build(root, keys[K_P384][0], bad_serial, 1, 2, now, now + 60, &crl, &e), -1);
        expect_err(&e, ERR_INTERNAL, "internal", "entries[0]: bad serial");
        assert_int_equal(crl_build(root, keys[K_P384][0], NULL, 0, 2, now, now, &crl, &e), -1);
        assert_null(crl);
    }
    X509_free(inter);
    X509_free(root);
}

/* Thousands of entries, in serial order, some dated after 2049: OpenSSL's own
   encoder, made to re-encode them, must produce the very bytes we wrote. */
static void test_crl_writer_output_is_der(void **state)
{
    X509 *root = root_new(K_P384);
    int64_t now = time(NULL), y2050 = 2524608000;
    struct crl_scope sc = {.number = 9, .this_update = now, .next_update = now + 3600};
    struct crl_writer *w = crl_writer_new();
    unsigned char *der = NULL, *again = NULL;
    const unsigned char *p;
    char serial[24];
    size_t len = 0;
    X509_CRL *crl;
    struct err e;
    int n;

    (void)state;
    for (int i = 1; i <= 3000; i++) {
        struct crl_entry en = {serial, i % 7 == 0 ? y2050 + i : now - i, i % 11 == 7 ? 0 : i % 11,
                               i % 5 == 0 ? now - 86400 : 0};
        snprintf(serial, sizeof(serial), "%x", i * 0x10001);
        assert_int_equal(crl_writer_add(w, &en, &e), 0);
    }
    assert_int_equal(crl_writer_count(w), 3000);
    if (crl_writer_finish(w, root, keys[K_P384][0], &sc, &der, &len, &e) != 0)
        fail_msg("crl_writer_finish: %s", e.msg);
    p = der;
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    assert_non_null(crl);
    assert_ptr_equal(p, der + len);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(root)), 1);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 3000);
    assert_int_equal(X509_CRL_sort(crl), 1); /* marks it modified: i2d encodes afresh */
    n = i2d_X509_CRL(crl, &again);
    assert_int_equal(n, (int)len);
    assert_memory_equal(again, der, len);
    OPENSSL_free(again);
    X509_CRL_free(crl);
    free(der);
    crl_writer_free(w);
    X509_free(root);
}

/* A shard's delta: critical Delta CRL Indicator and IDP; a base's Freshest CRL. */
static void test_crl_scope_extensions(void **state)
{
    X509 *root = root_new(K_P384);
    int64_t now = time(NULL);
    struct crl_scope delta = {.number = 12,
                              .this_update = now,
                              .next_update = now + 60,
                              .delta_base = 10,
                              .idp_url = "http://h/crl/t/ca/2.crl"};
    struct crl_scope base = {.number = 10,
                             .this_update = now,
                             .next_update = now + 60,
                             .freshest_url = "http://h/crl/t/ca/delta.crl"};
    const struct crl_entry removed = {"beef", now, 8 /* removeFromCRL */, 0};
    struct crl_writer *w = crl_writer_new();
    unsigned char *der = NULL;
    const unsigned char *p;
    ISSUING_DIST_POINT *idp;
    CRL_DIST_POINTS *fresh;
    ASN1_INTEGER *num;
    X509_CRL *crl;
    size_t len;
    struct err e;
    int crit = -1;

    (void)state;
    assert_int_equal(crl_writer_add(w, &removed, &e), 0);
    if (crl_writer_finish(w, root, keys[K_P384][0], &delta, &der, &len, &e) != 0)
        fail_msg("crl_writer_finish: %s", e.msg);
    p = der;
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    assert_non_null(crl);
    num = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL);
    assert_int_equal(ASN1_INTEGER_get(num), 10);
    assert_int_equal(crit, 1);
    ASN1_INTEGER_free(num);
    idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    assert_non_null(idp);
    assert_int_equal(crit, 1);
    assert_string_equal(
        ASN1_STRING_get0_data(sk_GENERAL_NAME_value(idp->distpoint->name.fullname, 0)->d.ia5),
        "http://h/crl/t/ca/2.crl");
    ISSUING_DIST_POINT_free(idp);
    assert_null(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, NULL));
    X509_CRL_free(crl);
    free(der);
    crl_writer_free(w);

    w = crl_writer_new();
    if (crl_writer_finish(w, root, keys[K_P384][0], &base, &der, &len, &e) != 0)
        fail_msg("crl_writer_finish: %s", e.msg);
    p = der;
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    assert_null(X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL));
    fresh = X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, NULL);
    assert_non_null(fresh);
    assert_int_equal(crit, 0);
    CRL_DIST_POINTS_free(fresh);
    X509_CRL_free(crl);
    free(der);
    crl_writer_free(w);

    /* A delta must follow its base. */
    delta.delta_base = 12;
    w = crl_writer_new();
    assert_int_equal(crl_writer_finish(w, root, keys[K_P384][0], &delta, &der, &len, &e), -1);
    expect_err(&e, ERR_INTERNAL, "internal", "base must precede");
    crl_writer_free(w);
    X509_free(root);
}

static void test_crl_shard_follows_the_serial(void **state)
{
    int seen[5] = {0};

    (void)state;
    assert_int_equal(crl_shard_of("abcdef", 0), 0);
    assert_int_equal(crl_shard_of("abcdef", 1), 0);
    assert_int_equal(crl_shard_of("7fffffff00000005", 4), 1 + 5 % 4);
    assert_int_equal(crl_shard_of("1234567890abcdef", 7), 1 + (int)(0x90abcdefUL % 7));
    for (unsigned i = 0; i < 400; i++) {
        char hex[16];
        int k;
        snprintf(hex, sizeof(hex), "%x", i * 2654435761u);
        k = crl_shard_of(hex, 4);
        assert_true(k >= 1 && k <= 4);
        seen[k]++;
    }
    for (int k = 1; k <= 4; k++)
        assert_true(seen[k] > 50);
}

static void test_crl_reason_names_round_trip(void **state)
{
    (void)state;
    for (int code = 0; code <= 10; code++) {
        const char *name = crl_reason_name(code);
        if (code == 7) {
            assert_null(name);
            continue;
        }
        assert_non_null(name);
        assert_int_equal(crl_reason_parse(name), code);
    }
    assert_string_equal(crl_reason_name(1), "keyCompromise");
    assert_int_equal(crl_reason_parse("keycompromise"), 1);
    assert_int_equal(crl_reason_parse("bogus"), -1);
    assert_int_equal(crl_reason_parse(NULL), -1);
    assert_null(crl_reason_name(-1));
    assert_null(crl_reason_name(11));
}

/* ---- names, serials, requests ---------------------------------------------------- */

static void test_name_parse_round_trip(void **state)
{
    struct err e = {0};
    X509_NAME *name = name_parse("/C=DE/O=Org \\/ Sub/CN=M\xc3\xbcller", &e);
    char *text;
    int pos;

    (void)state;
    assert_non_null(name);
    text = name_oneline(name);
    assert_string_equal(text, "CN=M\xc3\xbcller,O=Org / Sub,C=DE");
    free(text);
    pos = X509_NAME_get_index_by_NID(name, NID_countryName, -1);
    assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos))),
                     V_ASN1_PRINTABLESTRING);
    pos = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos))),
                     V_ASN1_UTF8STRING);
    X509_NAME_free(name);

    name = name_parse("", &e);
    assert_int_equal(X509_NAME_entry_count(name), 0);
    text = name_oneline(name);
    assert_string_equal(text, "");
    free(text);
    X509_NAME_free(name);

    assert_null(name_parse("/C=Germany/CN=x", &e));
    expect_err(&e, ERR_INVALID, "bad_request", "subject.C");
    assert_null(name_parse("/Shoe=1", &e));
    expect_err(&e, ERR_INVALID, "bad_request", "unknown attribute \"Shoe\"");
    assert_null(name_parse("CN=x", &e));
    expect_err(&e, ERR_INVALID, "bad_request", "subject:");
    assert_null(name_parse("/CN=", &e));
    expect_err(&e, ERR_INVALID, "bad_request", "subject.CN: empty");
    assert_null(name_parse("/CN", &e));
    expect_err(&e, ERR_INVALID, "bad_request", "key=value");
    assert_null(name_parse("/CN=a\x01", &e));
    assert_null(name_parse(NULL, &e));
}

static void test_serials_in_common_notations_are_canonicalized(void **state)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"1a2b3c", "1a2b3c"},
        {"1A2B3C", "1a2b3c"},
        {"001A2B3C", "1a2b3c"},
        {"1A:2B:3C", "1a2b3c"},
        {"00:1a:2b:3c", "1a2b3c"},
        {"0x1A2B3C", "1a2b3c"},
        {"1a 2b 3c", "1a2b3c"},
        {"0", "0"},
        {"00:00", "0"},
    };
    static const char *const bad[] = {"", "xyz", "1a-2b", "0x", "::", "1a/2b", "..", "1a2b3g"};
    char buf[128];
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        snprintf(buf, sizeof(buf), "%s", ok[i].in);
        assert_int_equal(serial_canonicalize(buf), 1);
        assert_string_equal(buf, ok[i].out);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        snprintf(buf, sizeof(buf), "%s", bad[i]);
        assert_int_equal(serial_canonicalize(buf), 0);
        assert_string_equal(buf, bad[i]); /* unchanged */
    }
}

static void test_serial_hex_round_trip(void **state)
{
    struct err e = {0};

    (void)state;
    for (int i = 0; i < 64; i++) {
        ASN1_INTEGER *s = serial_random(&e), *back;
        char *hex = serial_hex(s);
        BIGNUM *bn = ASN1_INTEGER_to_BN(s, NULL);
        assert_false(BN_is_negative(bn));
        assert_true(BN_num_bits(bn) <= 127);
        assert_true(strlen(hex) <= 32 && strlen(hex) > 0 && hex[0] != '0');
        back = serial_from_hex(hex);
        assert_int_equal(ASN1_INTEGER_cmp(s, back), 0);
        BN_free(bn);
        free(hex);
        ASN1_INTEGER_free(back);
        ASN1_INTEGER_free(s);
    }
    {
        ASN1_INTEGER *s = serial_from_hex("00FF");
        char *hex = serial_hex(s);
        assert_string_equal(hex, "ff");
        free(hex);
        ASN1_INTEGER_free(s);
        s = serial_from_hex("0");
        hex = serial_hex(s);
        assert_string_equal(hex, "0");
        free(hex);
        ASN1_INTEGER_free(s);
    }
    assert_null(serial_from_hex(""));
    assert_null(serial_from_hex("xyz"));
    assert_null(serial_from_hex("-12"));
    assert_null(serial_from_hex("0x12"));
    assert_null(serial_from_hex(NULL));
}

static void test_request_from_json(void **state)
{
    struct issue_request r = {0};
    struct err e = {0};
    json_t *sans = json_loads("[\"dns:a.example.com\", \"ip:192.0.2.1\", \"ip:2001:db8::1\", "
                              "\"email:a@b.example\", \"uri:spiffe://example.org/x\"]",
                              0, NULL);
    json_t *bad = json_loads("[\"dns:a.example.com\", \"ip:300.1.1.1\"]", 0, NULL);
    json_t *bad_type = json_loads("[\"x400:a\"]", 0, NULL);

    (void)state;
    assert_int_equal(issue_request_from_json(&r, "/CN=a.example.com", sans, &e), 0);
    assert_int_equal(sk_GENERAL_NAME_num(r.sans), 5);
    assert_int_equal(ASN1_STRING_length(sk_GENERAL_NAME_value(r.sans, 2)->d.ip), 16);
    assert_int_equal(issue_request_from_json(&r, "/CN=a", bad, &e), -1);
    expect_err(&e, ERR_INVALID, "bad_request", "sans[1]: bad IP address");
    assert_int_equal(sk_GENERAL_NAME_num(r.sans), 5); /* untouched on error */
    assert_int_equal(issue_request_from_json(&r, "/CN=a", bad_type, &e), -1);
    expect_err(&e, ERR_INVALID, "bad_request", "sans[0]");
    assert_int_equal(issue_request_from_json(&r, "", NULL, &e), 0);
    assert_null(r.sans);
    issue_request_clear(&r);
    issue_request_clear(NULL);
    json_decref(sans);
    json_decref(bad);
    json_decref(bad_type);
}

static void test_sign_digest_follows_the_key(void **state)
{
    (void)state;
    assert_ptr_equal(sign_digest(keys[K_P256][0], "auto"), EVP_sha256());
    assert_ptr_equal(sign_digest(keys[K_P256][0], "sha512"), EVP_sha256());
    assert_ptr_equal(sign_digest(keys[K_P384][0], "auto"), EVP_sha384());
    assert_ptr_equal(sign_digest(keys[K_RSA][0], "auto"), EVP_sha256());
    assert_ptr_equal(sign_digest(keys[K_RSA][0], "sha384"), EVP_sha384());
    assert_ptr_equal(sign_digest(keys[K_RSA][0], "sha512"), EVP_sha512());
    assert_null(sign_digest(keys[K_ED25519][0], "auto"));
}

/* ---- time-stamping (core/tsa.c) ----------------------------------------------- */

/* The DER of a TimeStampReq: hash nid with an imprint of len bytes, optional policy. */
static unsigned char *tsq(int nid, int len, const char *policy, int version, size_t *out_len)
{
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    unsigned char hash[64] = {0}, *der = NULL;
    ASN1_OBJECT *p = policy ? OBJ_txt2obj(policy, 1) : NULL;
    int n;

    X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, NULL);
    TS_MSG_IMPRINT_set_algo(mi, alg);
    TS_MSG_IMPRINT_set_msg(mi, hash, len);
    TS_REQ_set_version(req, version);
    TS_REQ_set_msg_imprint(req, mi);
    if (p != NULL)
        TS_REQ_set_policy_id(req, p);
    n = i2d_TS_REQ(req, &der);
    assert_true(n > 0);
    *out_len = (size_t)n;
    ASN1_OBJECT_free(p);
    X509_ALGOR_free(alg);
    TS_MSG_IMPRINT_free(mi);
    TS_REQ_free(req);
    return der;
}

/* The failure bit of the request, -1 if it is accepted. */
static int tsq_failure(const struct tsa_policy *p, int nid, int len, const char *policy,
                       int version)
{
    size_t n;
    unsigned char *der = tsq(nid, len, policy, version, &n);
    struct tsa_query q;
    enum tsa_failure f = (enum tsa_failure) - 1;
    char why[128];

    if (tsa_query_parse(p, der, n, &q, &f, why, sizeof(why)) == 0) {
        tsa_query_clear(&q);
        f = (enum tsa_failure) - 1;
    }
    OPENSSL_free(der);
    return f;
}

static void test_tsa_requests_are_checked_against_the_policy(void **state)
{
    struct tsa_policy p;
    struct err e;
    (void)state;
    assert_int_equal(
        tsa_policy_init(&p, "1.2.3", "[\"1.2.4\"]", "[\"sha256\", \"sha512\"]", 1000, &e), 0);
    assert_int_equal(tsq_failure(&p, NID_sha256, 32, NULL, 1), -1);
    assert_int_equal(tsq_failure(&p, NID_sha512, 64, "1.2.4", 1), -1);
    assert_int_equal(tsq_failure(&p, NID_sha1, 20, NULL, 1), TSA_FAIL_BAD_ALG);
    assert_int_equal(tsq_failure(&p, NID_sha384, 48, NULL, 1), TSA_FAIL_BAD_ALG);
    assert_int_equal(tsq_failure(&p, NID_sha256, 31, NULL, 1), TSA_FAIL_BAD_DATA_FORMAT);
    assert_int_equal(tsq_failure(&p, NID_sha256, 32, NULL, 2), TSA_FAIL_BAD_DATA_FORMAT);
    assert_int_equal(tsq_failure(&p, NID_sha256, 32, "1.2.5", 1), TSA_FAIL_UNACCEPTED_POLICY);
    tsa_policy_clear(&p);
    assert_int_equal(tsa_policy_init(&p, "x", NULL, "[\"sha256\"]", 0, &e), -1);
    assert_int_equal(tsa_policy_init(&p, "1.2.3", NULL, "[\"md5\"]", 0, &e), -1);
    assert_int_equal(tsa_policy_init(&p, "1.2.3", NULL, "[]", 0, &e), -1);
}

/* genTime of a TSTInfo built at now with accuracy_ms. */
static char *gen_time_of(long nsec, int64_t accuracy_ms)
{
    struct tsa_policy p;
    struct tsa_query q;
    struct timespec now = {1764417600, nsec}; /* 2025-11-29 12:00:00 UTC */
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    unsigned char *req, *der = NULL;
    size_t n, len;
    char *gen = NULL, why[64];
    enum tsa_failure f;
    struct err e;

    assert_int_equal(tsa_policy_init(&p, "1.2.3", NULL, "[\"sha256\"]", accuracy_ms, &e), 0);
    req = tsq(NID_sha256, 32, NULL, 1, &n);
    assert_int_equal(tsa_query_parse(&p, req, n, &q, &f, why, sizeof(why)), 0);
    ASN1_INTEGER_set(serial, 9);
    assert_int_equal(tsa_tst_build(&q, &p, serial, &now, NULL, &der, &len, &gen, &e), 0);
    OPENSSL_free(der);
    OPENSSL_free(req);
    ASN1_INTEGER_free(serial);
    tsa_query_clear(&q);
    tsa_policy_clear(&p);
    return gen;
}

static void test_tsa_gen_time_has_no_trailing_zeros(void **state)
{
    char *t;
    (void)state;
    assert_string_equal(t = gen_time_of(123456789, 1000), "20251129120000Z");
    free(t);
    assert_string_equal(t = gen_time_of(120000000, 500), "20251129120000.12Z");
    free(t);
    assert_string_equal(t = gen_time_of(5000000, 1500), "20251129120000.005Z");
    free(t);
    assert_string_equal(t = gen_time_of(0, 10), "20251129120000Z");
    free(t);
}

static void test_tsa_refusal_carries_its_failure_info(void **state)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len;
    TS_RESP *resp;
    (void)state;
    assert_int_equal(tsa_resp_refusal(TSA_FAIL_UNACCEPTED_POLICY, "no", &der, &len), 0);
    p = der;
    resp = d2i_TS_RESP(NULL, &p, (long)len);
    assert_non_null(resp);
    assert_int_equal(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))),
                     2);
    assert_true(
        ASN1_BIT_STRING_get_bit(TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(resp)),
                                TSA_FAIL_UNACCEPTED_POLICY));
    assert_null(TS_RESP_get_token(resp));
    TS_RESP_free(resp);
    OPENSSL_free(der);
}

/* ---- DER only (der.c) ---------------------------------------------------------- */

/*
 * The same value with its outer length made indefinite (BER, X.690 §8.1.3.6):
 * "30 80 <contents> 00 00".  The contents, and so any signature over them, stay.
 */
static unsigned char *ber_of(const unsigned char *der, size_t len, size_t *out_len)
{
    const unsigned char *p = der;
    long content;
    int tag, class;
    unsigned char *out;
    size_t head;

    assert_int_equal(ASN1_get_object(&p, &content, &tag, &class, (long)len) & 0x80, 0);
    head = (size_t)(p - der);
    out = xmalloc(len - head + 4);
    out[0] = der[0];
    out[1] = 0x80;
    memcpy(out + 2, p, (size_t)content);
    out[2 + content] = out[3 + content] = 0x00;
    *out_len = (size_t)content + 4;
    return out;
}

/* der with one byte more at its end. */
static unsigned char *trailing_of(const unsigned char *der, size_t len)
{
    unsigned char *out = xmalloc(len + 1);

    memcpy(out, der, len);
    out[len] = 0x00;
    return out;
}

static void test_der_check_refuses_every_ber_form(void **state)
{
    static const struct {
        const char *what;
        unsigned char bytes[16];
        size_t len;
        int ok;
    } cases[] = {
        {"SEQUENCE { INTEGER 5 }", {0x30, 0x03, 0x02, 0x01, 0x05}, 5, 1},
        {"indefinite length", {0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00}, 7, 0},
        {"long form for a short length", {0x30, 0x81, 0x03, 0x02, 0x01, 0x05}, 6, 0},
        {"inner long form", {0x30, 0x04, 0x02, 0x81, 0x01, 0x05}, 6, 0},
        {"length with a leading zero", {0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05}, 7, 0},
        {"byte after the value", {0x30, 0x03, 0x02, 0x01, 0x05, 0x00}, 6, 0},
        {"overrun", {0x30, 0x03, 0x02, 0x05, 0x00}, 5, 0},
        {"constructed OCTET STRING", {0x24, 0x03, 0x04, 0x01, 0x41}, 5, 0},
        {"OCTET STRING", {0x04, 0x01, 0x41}, 3, 1},
        {"BOOLEAN 01", {0x01, 0x01, 0x01}, 3, 0},
        {"BOOLEAN FF", {0x01, 0x01, 0xff}, 3, 1},
        {"INTEGER padded with 00", {0x02, 0x02, 0x00, 0x05}, 4, 0},
        {"INTEGER padded with FF", {0x02, 0x02, 0xff, 0x85}, 4, 0},
        {"INTEGER 128", {0x02, 0x02, 0x00, 0x80}, 4, 1},
        {"high-tag form of tag 2", {0x1f, 0x02, 0x01, 0x05}, 4, 0},
        {"[0] EXPLICIT INTEGER", {0xa0, 0x03, 0x02, 0x01, 0x05}, 5, 1},
        {"nothing", {0}, 0, 0},
    };
    unsigned char deep[2 * 40];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        if ((der_check(cases[i].bytes, cases[i].len) == 0) != cases[i].ok)
            fail_msg("%s: %s", cases[i].what, cases[i].ok ? "refused" : "taken");
    for (size_t i = 0; i < 40; i++) { /* 40 empty SEQUENCEs, one in the other */
        deep[2 * i] = 0x30;
        deep[2 * i + 1] = (unsigned char)(2 * (39 - i));
    }
    assert_int_equal(der_check(deep, sizeof(deep)), -1);
    assert_int_equal(der_check(deep + 2 * 30, sizeof(deep) - 2 * 30), 0);
}

/* An OCSP request of one CertID, DER; the caller frees it. */
static unsigned char *ocsp_request_der(size_t *len)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    X509_NAME *name = name_parse("/CN=Issuer", NULL);
    ASN1_BIT_STRING *key = ASN1_BIT_STRING_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    OCSP_CERTID *id;
    unsigned char *der = NULL;
    int n;

    ASN1_BIT_STRING_set(key, (unsigned char *)"key", 3);
    ASN1_INTEGER_set(serial, 0x1234);
    id = OCSP_cert_id_new(EVP_sha1(), name, key, serial);
    assert_non_null(OCSP_request_add0_id(req, id));
    n = i2d_OCSP_REQUEST(req, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    OCSP_REQUEST_free(req);
    X509_NAME_free(name);
    ASN1_BIT_STRING_free(key);
    ASN1_INTEGER_free(serial);
    return der;
}

static void test_ocsp_request_in_ber_or_with_trailing_data_is_malformed(void **state)
{
    size_t len, blen;
    unsigned char *der = ocsp_request_der(&len), *ber = ber_of(der, len, &blen);
    unsigned char *more = trailing_of(der, len);
    struct ocsp_query q;
    struct err e;

    (void)state;
    assert_int_equal(ocsp_query_parse(der, len, &q, &e), 0);
    ocsp_query_clear(&q);
    assert_int_equal(ocsp_query_parse(ber, blen, &q, &e), -1);
    expect_err(&e, ERR_INVALID, "bad_request", "not DER");
    assert_int_equal(ocsp_query_parse(more, len + 1, &q, &e), -1);
    expect_err(&e, ERR_INVALID, "bad_request", "not DER");
    OPENSSL_free(der);
    free(ber);
    free(more);
}

static void test_tsa_query_in_ber_or_with_trailing_data_is_bad_data_format(void **state)
{
    size_t len, blen;
    unsigned char *der = tsq(NID_sha256, 32, NULL, 1, &len), *ber = ber_of(der, len, &blen);
    unsigned char *more = trailing_of(der, len);
    struct tsa_policy p;
    struct tsa_query q;
    enum tsa_failure f;
    char why[160];
    struct err e;

    (void)state;
    assert_int_equal(tsa_policy_init(&p, "1.2.3", NULL, "[\"sha256\"]", 0, &e), 0);
    assert_int_equal(tsa_query_parse(&p, der, len, &q, &f, why, sizeof(why)), 0);
    tsa_query_clear(&q);
    assert_int_equal(tsa_query_parse(&p, ber, blen, &q, &f, why, sizeof(why)), -1);
    assert_int_equal(f, TSA_FAIL_BAD_DATA_FORMAT);
    assert_non_null(strstr(why, "not DER"));
    assert_int_equal(tsa_query_parse(&p, more, len + 1, &q, &f, why, sizeof(why)), -1);
    assert_int_equal(f, TSA_FAIL_BAD_DATA_FORMAT);
    tsa_policy_clear(&p);
    OPENSSL_free(der);
    free(ber);
    free(more);
}

static void test_csr_in_ber_is_refused_though_its_signature_holds(void **state)
{
    int len;
    unsigned char *der = csr_make(keys[K_P256][2], keys[K_P256][2], "/CN=a", NULL, &len);
    size_t blen;
    unsigned char *ber = ber_of(der, (size_t)len, &blen);
    struct issue_request r = {0};
    struct err e = {0};
    char *pem, *b64;

    (void)state;
    assert_int_equal(csr_read(ber, blen, 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: not DER");
    assert_null(r.pubkey);
    /* The same inside PEM armour. */
    b64 = base64_encode(ber, blen);
    pem = xasprintf("-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n",
                    b64);
    assert_int_equal(csr_read((unsigned char *)pem, strlen(pem), 0, &r, &e), -1);
    expect_err(&e, ERR_INVALID, ERR_CODE_BAD_CSR, "csr: not DER");
    assert_int_equal(csr_read(der, (size_t)len, 0, &r, &e), 0);
    issue_request_clear(&r);
    free(pem);
    free(b64);
    free(ber);
    OPENSSL_free(der);
}

/* ---- files holding secrets (lib/util.c) -------------------------------------- */

static void test_a_secret_open_to_others_is_named_with_its_fix(void **state)
{
    char dir[] = "/tmp/vouch-files-XXXXXX", path[64], want[256];
    struct err e;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/kek", dir);
    assert_int_equal(file_private_check(path, "kek_file", &e), 0); /* not there yet */
    assert_non_null(f = fopen(path, "w"));
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(file_private_check(path, "kek_file", &e), 0);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(file_private_check(path, "kek_file", &e), -1);
    snprintf(want, sizeof(want), "kek_file %s is open to others (mode 0604): chmod 600 %s", path,
             path);
    assert_string_equal(e.msg, want);
    assert_int_equal(chmod(path, 0620), 0); /* group-writable is refused too */
    assert_int_equal(file_private_check(path, "kek_file", &e), -1);
    assert_non_null(strstr(e.msg, "open to its group (mode 0620)"));
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(file_private_check(dir, "keystore", &e), -1);
    assert_non_null(strstr(e.msg, "open to group and others (mode 0755): chmod 700"));
    unlink(path);
    rmdir(dir);
}

/* ---- CMP (core/cmp.c) ------------------------------------------------------------------- */

static unsigned char cmp_captured[8192];
static size_t cmp_captured_len;

/* A transfer callback that keeps the request's DER and answers nothing. */
static OSSL_CMP_MSG *cmp_capture(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    (void)ctx;
    assert_int_equal(i2d_OSSL_CMP_MSG_bio(b, req), 1);
    n = BIO_get_mem_data(b, &p);
    assert_true(n > 0 && (size_t)n <= sizeof(cmp_captured));
    memcpy(cmp_captured, p, (size_t)n);
    cmp_captured_len = (size_t)n;
    BIO_free(b);
    return NULL;
}

/* A client context with shared secret "secret" under reference "ref1". */
static OSSL_CMP_CTX *cmp_client(void)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
    X509_NAME *name = X509_NAME_new();

    assert_non_null(ctx);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"dev", -1, -1, 0);
    assert_int_equal(OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)"secret", 6), 1);
    assert_int_equal(OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)"ref1", 4), 1);
    assert_int_equal(OSSL_CMP_CTX_set1_recipient(ctx, name), 1);
    assert_int_equal(OSSL_CMP_CTX_set1_subjectName(ctx, name), 1);
    assert_int_equal(OSSL_CMP_CTX_set_transfer_cb(ctx, cmp_capture), 1);
    X509_NAME_free(name);
    return ctx;
}

/* The DER of an ir protected with PasswordBasedMac, made by OpenSSL's client. */
static void cmp_ir_made(int implicit_confirm)
{
    OSSL_CMP_CTX *ctx = cmp_client();
    EVP_PKEY *key = EVP_EC_gen("P-256");

    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, implicit_confirm);
    assert_int_equal(OSSL_CMP_CTX_set0_newPkey(ctx, 1, key), 1);
    cmp_captured_len = 0;
    assert_null(OSSL_CMP_exec_IR_ses(ctx));
    assert_true(cmp_captured_len > 0);
    OSSL_CMP_CTX_free(ctx);
    ERR_clear_error();
}

static void test_cmp_peek_reads_what_the_server_needs_first(void **state)
{
    struct cmp_peek p;
    struct err e;

    (void)state;
    cmp_ir_made(1);
    assert_int_equal(cmp_peek(cmp_captured, cmp_captured_len, &p, &e), 0);
    assert_int_equal(p.body, CMP_BODY_IR);
    assert_int_equal(p.protection, CMP_PROT_MAC);
    assert_int_equal(p.sender_kid_len, 4);
    assert_memory_equal(p.sender_kid, "ref1", 4);
    assert_int_equal(p.txid_len, 16);
    assert_int_equal(p.sender_nonce_len, 16);
    assert_true(p.implicit_confirm);
    assert_true(p.message_time > 0);
    cmp_peek_clear(&p);
    cmp_ir_made(0);
    assert_int_equal(cmp_peek(cmp_captured, cmp_captured_len, &p, &e), 0);
    assert_false(p.implicit_confirm);
    cmp_peek_clear(&p);
}

static void test_cmp_peek_refuses_what_is_no_pkimessage_in_der(void **state)
{
    unsigned char buf[sizeof(cmp_captured) + 1];
    struct cmp_peek p;
    struct err e;

    (void)state;
    cmp_ir_made(0);
    assert_int_equal(cmp_peek(cmp_captured, cmp_captured_len - 1, &p, &e), -1); /* truncated */
    memcpy(buf, cmp_captured, cmp_captured_len);
    buf[cmp_captured_len] = 0;
    assert_int_equal(cmp_peek(buf, cmp_captured_len + 1, &p, &e), -1); /* trailing byte */
    assert_int_equal(cmp_peek((const unsigned char *)"\x30\x03\x02\x01\x02", 5, &p, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
}

/* OpenSSL's own decoder on der; the body type, or -1. */
static int cmp_openssl_body(const unsigned char *der, size_t len)
{
    BIO *b = BIO_new_mem_buf(der, (int)len);
    OSSL_CMP_MSG *m = d2i_OSSL_CMP_MSG_bio(b, NULL);
    int body = m ? OSSL_CMP_MSG_get_bodytype(m) : -1;

    OSSL_CMP_MSG_free(m);
    BIO_free(b);
    return body;
}

static void test_cmp_error_and_poll_answers_decode_and_the_mac_verifies(void **state)
{
    OSSL_CMP_CTX *client = cmp_client();
    unsigned char *out = NULL, *mac = NULL;
    size_t len = 0, mac_len = 0;
    struct cmp_peek p;
    OSSL_CMP_MSG *m;
    BIO *b;
    struct err e;

    (void)state;
    cmp_ir_made(0);
    assert_int_equal(cmp_peek(cmp_captured, cmp_captured_len, &p, &e), 0);
    assert_int_equal(cmp_error_new(&p, CMP_FAIL_BAD_MESSAGE_CHECK, "no", &out, &len, &e), 0);
    assert_int_equal(cmp_openssl_body(out, len), CMP_BODY_ERROR);
    free(out);
    assert_int_equal(cmp_pollrep_new(&p, 0, 5, &out, &len, &e), 0);
    assert_int_equal(cmp_openssl_body(out, len), 26); /* pollRep */
    assert_int_equal(
        cmp_mac(out, len, (const unsigned char *)"secret", 6, "ref1", &mac, &mac_len, &e), 0);
    b = BIO_new_mem_buf(mac, (int)mac_len);
    m = d2i_OSSL_CMP_MSG_bio(b, NULL);
    assert_non_null(m);
    assert_int_equal(OSSL_CMP_validate_msg(client, m), 1); /* the client checks our MAC */
    OSSL_CMP_MSG_free(m);
    BIO_free(b);
    /* under another secret it does not verify */
    assert_int_equal(OSSL_CMP_CTX_set1_secretValue(client, (const unsigned char *)"other", 5), 1);
    b = BIO_new_mem_buf(mac, (int)mac_len);
    m = d2i_OSSL_CMP_MSG_bio(b, NULL);
    assert_int_equal(OSSL_CMP_validate_msg(client, m), 0);
    OSSL_CMP_MSG_free(m);
    BIO_free(b);
    ERR_clear_error();
    free(out);
    free(mac);
    cmp_peek_clear(&p);
    OSSL_CMP_CTX_free(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_builtin_profile_parses),
        cmocka_unit_test(test_profile_errors_name_the_field),
        cmocka_unit_test(test_usual_patterns_are_accepted),
        cmocka_unit_test(test_profile_with_every_field_parses),
        cmocka_unit_test(test_email_certificates_can_encrypt_with_every_key_type),
        cmocka_unit_test(test_chain_verifies_for_every_key_type),
        cmocka_unit_test(test_leaf_outside_name_constraints_is_refused),
        cmocka_unit_test(test_not_after_is_clamped_to_the_issuer),
        cmocka_unit_test(test_dates_switch_to_generalized_time_in_2050),
        cmocka_unit_test(test_csr_extensions_are_not_copied),
        cmocka_unit_test(test_country_is_a_two_letter_printable_string),
        cmocka_unit_test(test_special_purpose_profiles),
        cmocka_unit_test(test_issuer_rules_are_enforced),
        cmocka_unit_test(test_profile_check_names_the_field),
        cmocka_unit_test(test_csr_with_broken_signature_is_refused),
        cmocka_unit_test(test_csr_with_weak_key_is_refused),
        cmocka_unit_test(test_csr_ec_points_are_checked),
        cmocka_unit_test(test_csr_with_malformed_extension_request_is_refused),
        cmocka_unit_test(test_csr_in_pem_and_csr_build),
        cmocka_unit_test(test_crl_is_signed_and_complete),
        cmocka_unit_test(test_crl_reason_names_round_trip),
        cmocka_unit_test(test_crl_writer_output_is_der),
        cmocka_unit_test(test_crl_scope_extensions),
        cmocka_unit_test(test_crl_shard_follows_the_serial),
        cmocka_unit_test(test_name_parse_round_trip),
        cmocka_unit_test(test_serial_hex_round_trip),
        cmocka_unit_test(test_serials_in_common_notations_are_canonicalized),
        cmocka_unit_test(test_request_from_json),
        cmocka_unit_test(test_sign_digest_follows_the_key),
        cmocka_unit_test(test_tsa_requests_are_checked_against_the_policy),
        cmocka_unit_test(test_tsa_gen_time_has_no_trailing_zeros),
        cmocka_unit_test(test_tsa_refusal_carries_its_failure_info),
        cmocka_unit_test(test_a_secret_open_to_others_is_named_with_its_fix),
        cmocka_unit_test(test_der_check_refuses_every_ber_form),
        cmocka_unit_test(test_ocsp_request_in_ber_or_with_trailing_data_is_malformed),
        cmocka_unit_test(test_tsa_query_in_ber_or_with_trailing_data_is_bad_data_format),
        cmocka_unit_test(test_csr_in_ber_is_refused_though_its_signature_holds),
        cmocka_unit_test(test_cmp_peek_reads_what_the_server_needs_first),
        cmocka_unit_test(test_cmp_peek_refuses_what_is_no_pkimessage_in_der),
        cmocka_unit_test(test_cmp_error_and_poll_answers_decode_and_the_mac_verifies),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
