/* test_keys.c — the signer process, the software key store and remote keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/cms.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "keys/keys.h"
#include "keys/signer_internal.h"
#include "keys/tbs.h"
#include "keys/wire.h"

#define KEK_TEXT "0123456789abcdef0123456789abcdef0123456789abcdef\n"

static char dir[64], keys_dir[128], kek[128];
static struct signer *signer;

#include "ra_checks.h"

/* ---- helpers ---------------------------------------------------------------- */

static void file_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The whole file (NUL-terminated, caller frees), or NULL if it cannot be read. */
static char *file_get(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = calloc(1, (size_t)n + 1);
        if (fread(data, 1, (size_t)n, f) != (size_t)n) {
            free(data);
            data = NULL;
        } else if (len != NULL) {
            *len = (size_t)n;
        }
    }
    fclose(f);
    return data;
}

static char *key_file(const char *tenant, const char *key_id)
{
    return xasprintf("%s/%s/%s.pem", keys_dir, tenant, key_id);
}

/* Files in keys_dir/tenant. */
static int files_of(const char *tenant)
{
    char *path = xasprintf("%s/%s", keys_dir, tenant);
    DIR *dp = opendir(path);
    struct dirent *d;
    int n = 0;

    free(path);
    while (dp != NULL && (d = readdir(dp)) != NULL)
        n += d->d_name[0] != '.';
    if (dp != NULL)
        closedir(dp);
    return n;
}

static struct signer *start_signer(int connections)
{
    struct signer_config cfg = {
        .keystore_dir = keys_dir, .kek_path = kek, .connections = connections};
    struct err e;
    struct signer *s = signer_start(&cfg, &e);

    if (s == NULL)
        fail_msg("signer_start: %s", e.msg);
    return s;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vouch-keys-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(keys_dir, sizeof(keys_dir), "%s/keys", dir);
    snprintf(kek, sizeof(kek), "%s/kek", dir);
    file_put(kek, KEK_TEXT);
    signer = start_signer(4);
    return 0;
}

static int group_teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    int rc;

    (void)state;
    signer_stop(signer);
    rc = system(cmd);
    free(cmd);
    return rc;
}

/* An unsigned, self-issued certificate for pub named cn. */
static X509 *cert_template(EVP_PKEY *pub, const char *cn)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pub);
    X509_NAME_free(n);
    return x;
}

/* A certificate for pub named cn, signed by signing_key. */
static X509 *cert_for(EVP_PKEY *pub, EVP_PKEY *signing_key, const EVP_MD *md, const char *cn)
{
    X509 *x = cert_template(pub, cn);

    assert_true(X509_sign(x, signing_key, md) > 0);
    return x;
}

/* An empty CRL of issuer, signed with key. */
static X509_CRL *crl_for(X509 *issuer, EVP_PKEY *key, const EVP_MD *md)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *now = ASN1_TIME_adj(NULL, time(NULL), 0, 0);

    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
    X509_CRL_set1_lastUpdate(crl, now);
    ASN1_TIME_free(now);
    assert_true(X509_CRL_sign(crl, key, md) > 0);
    return crl;
}

/* A BasicOCSPResponse saying issuer is good, signed by key through signer_key_cert. */
static OCSP_BASICRESP *ocsp_for(X509 *issuer, EVP_PKEY *key, const EVP_MD *md)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, issuer, issuer);
    ASN1_TIME *now = ASN1_TIME_adj(NULL, time(NULL), 0, 0);
    struct err e;
    X509 *bound = signer_key_cert(key, issuer, &e);

    assert_non_null(bound);
    assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, NULL));
    assert_int_equal(OCSP_basic_sign(bs, bound, key, md, NULL, OCSP_RESPID_KEY | OCSP_NOCERTS), 1);
    assert_int_equal(OCSP_basic_add1_cert(bs, issuer), 1);
    X509_free(bound);
    ASN1_TIME_free(now);
    OCSP_CERTID_free(id);
    return bs;
}

/* Whether the OCSP response's signature verifies with pub and it carries exactly cert. */
static void ocsp_check(OCSP_BASICRESP *bs, X509 *cert, EVP_PKEY *pub)
{
    const STACK_OF(X509) *certs = OCSP_resp_get0_certs(bs);
    X509_STORE *store = X509_STORE_new();
    unsigned char *a = NULL, *b = NULL;
    int alen, blen;

    assert_int_equal(sk_X509_num(certs), 1);
    alen = i2d_X509(cert, &a);
    blen = i2d_X509(sk_X509_value(certs, 0), &b);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, (size_t)alen);
    assert_int_equal(ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA),
                                      (X509_ALGOR *)OCSP_resp_get0_tbs_sigalg(bs),
                                      (ASN1_BIT_STRING *)OCSP_resp_get0_signature(bs),
                                      (void *)OCSP_resp_get0_respdata(bs), pub),
                     1);
    X509_STORE_add_cert(store, cert);
    assert_int_equal(OCSP_basic_verify(bs, NULL, store, 0), 1);
    X509_STORE_free(store);
    OPENSSL_free(a);
    OPENSSL_free(b);
}

/* The DER of a small TBSCertificate, for raw signer_sign calls. */
static unsigned char *tbs_der(int *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = cert_for(k, k, EVP_sha256(), "tbs");
    unsigned char *der = NULL;

    *len = i2d_re_X509_tbs(x, &der);
    X509_free(x);
    EVP_PKEY_free(k);
    return der;
}

static void pubkeys_equal(EVP_PKEY *a, EVP_PKEY *b)
{
    unsigned char *da = NULL, *db = NULL;
    int la = i2d_PUBKEY(a, &da), lb = i2d_PUBKEY(b, &db);

    assert_true(la > 0);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, (size_t)la);
    OPENSSL_free(da);
    OPENSSL_free(db);
}

/* ---- every key type, every signed object ------------------------------------ */

struct type_case {
    enum key_type type;
    const char *md; /* NULL for Ed25519 */
    int sig_nid;    /* what the certificate's signatureAlgorithm must say */
    int param_type; /* its parameters: V_ASN1_NULL for RSA, absent otherwise */
};

static const struct type_case cases[] = {
    {KEY_EC_P256, "SHA256", NID_ecdsa_with_SHA256, V_ASN1_UNDEF},
    {KEY_EC_P384, "SHA384", NID_ecdsa_with_SHA384, V_ASN1_UNDEF},
    {KEY_RSA_2048, "SHA256", NID_sha256WithRSAEncryption, V_ASN1_NULL},
    {KEY_RSA_3072, "SHA384", NID_sha384WithRSAEncryption, V_ASN1_NULL},
    {KEY_RSA_4096, "SHA512", NID_sha512WithRSAEncryption, V_ASN1_NULL},
    {KEY_ED25519, NULL, NID_ED25519, V_ASN1_UNDEF},
};

static void signature_algorithm_is(X509 *x, const struct type_case *c)
{
    const X509_ALGOR *alg;
    const ASN1_OBJECT *obj;
    int ptype;

    X509_get0_signature(NULL, &alg, x);
    X509_ALGOR_get0(&obj, &ptype, NULL, alg);
    assert_int_equal(OBJ_obj2nid(obj), c->sig_nid);
    assert_int_equal(ptype, c->param_type);
    assert_int_equal(X509_get_signature_nid(x), c->sig_nid);
}

static void check_type(const struct type_case *c)
{
    const EVP_MD *md = c->md ? EVP_get_digestbyname(c->md) : NULL;
    struct err e;
    char *id = NULL;
    EVP_PKEY *pub = NULL, *remote;
    X509 *x, *bound;
    X509_CRL *crl;
    X509_REQ *req;
    OCSP_BASICRESP *bs;

    assert_int_equal(signer_keygen(signer, "alpha", c->type, &id, &pub, &e), 0);
    assert_int_equal(key_type_of(pub), c->type);
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    assert_int_equal(key_type_of(remote), c->type);
    pubkeys_equal(remote, pub);
    /* Certificate. */
    x = cert_for(pub, remote, md, "remote");
    assert_int_equal(X509_verify(x, pub), 1);
    signature_algorithm_is(x, c);
    /* CRL. */
    crl = crl_for(x, remote, md);
    assert_int_equal(X509_CRL_verify(crl, pub), 1);
    /* CSR. */
    req = X509_REQ_new();
    X509_REQ_set_pubkey(req, pub);
    assert_true(X509_REQ_sign(req, remote, md) > 0);
    assert_int_equal(X509_REQ_verify(req, pub), 1);
    /* OCSP: the plain certificate does not match a remote key, the bound one does. */
    assert_int_equal(X509_check_private_key(x, remote), 0);
    bound = signer_key_cert(remote, x, &e);
    assert_non_null(bound);
    assert_int_equal(X509_check_private_key(bound, remote), 1);
    bs = ocsp_for(x, remote, md);
    ocsp_check(bs, x, pub);
    ERR_clear_error();
    OCSP_BASICRESP_free(bs);
    X509_free(bound);
    X509_REQ_free(req);
    X509_CRL_free(crl);
    X509_free(x);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

static void remote_keys_of_every_type_sign_certificates_crls_csrs_and_ocsp_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        check_type(&cases[i]);
}

static void a_certificate_for_another_key_is_not_bound_to_a_remote_key(void **state)
{
    EVP_PKEY *pub = NULL, *remote, *other = EVP_EC_gen("P-256");
    X509 *x = cert_for(other, other, EVP_sha256(), "other");
    char *id = NULL;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    assert_null(signer_key_cert(remote, x, &e));
    assert_int_equal(e.kind, ERR_INVALID);
    X509_free(x);
    EVP_PKEY_free(other);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

static void key_type_names_parse_and_unknown_types_are_refused(void **state)
{
    struct err e;
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        assert_int_equal(key_type_parse(key_type_name(cases[i].type)), cases[i].type);
    assert_int_equal(key_type_parse("rsa-1024"), KEY_NONE);
    assert_int_equal(key_type_parse(NULL), KEY_NONE);
    assert_null(key_generate(KEY_NONE, &e));
    assert_int_equal(e.kind, ERR_INVALID);
}

/* A TBSCertList of n entries (serial i, a reasonCode on every third); caller frees. */
static unsigned char *crl_tbs_der(int n, int *len)
{
    X509_CRL *crl = X509_CRL_new();
    X509_NAME *name = X509_NAME_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, 1800000000);
    unsigned char *der = NULL;

    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"CRL CA", -1, -1,
                               0);
    X509_CRL_set_version(crl, X509_CRL_VERSION_2);
    X509_CRL_set_issuer_name(crl, name);
    X509_CRL_set1_lastUpdate(crl, t);
    for (int i = 1; i <= n; i++) {
        X509_REVOKED *rev = X509_REVOKED_new();
        ASN1_INTEGER *serial = ASN1_INTEGER_new();
        ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
        ASN1_INTEGER_set(serial, i);
        ASN1_ENUMERATED_set(reason, 1);
        X509_REVOKED_set_serialNumber(rev, serial);
        X509_REVOKED_set_revocationDate(rev, t);
        if (i % 3 == 0)
            X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0);
        X509_CRL_add0_revoked(crl, rev);
        ASN1_INTEGER_free(serial);
        ASN1_ENUMERATED_free(reason);
    }
    {
        EVP_PKEY *k = EVP_EC_gen("P-256"); /* sets the signature algorithm fields */
        X509_CRL_sign(crl, k, EVP_sha256());
        EVP_PKEY_free(k);
    }
    *len = i2d_re_X509_CRL_tbs(crl, &der);
    X509_CRL_free(crl);
    X509_NAME_free(name);
    ASN1_TIME_free(t);
    return der;
}

/* An audit checkpoint is a signable kind; its fields round-trip; another OID is refused. */
static void an_audit_checkpoint_is_signed_and_a_lookalike_refused(void **state)
{
    unsigned char hash[32], back[32], *der = NULL, *sig = NULL;
    size_t len = 0, n = 0;
    char *tenant = NULL, *id = NULL;
    int64_t seq = 0, when = 0;
    EVP_PKEY *pub = NULL;
    struct err e;
    (void)state;
    memset(hash, 0xab, sizeof(hash));
    assert_int_equal(tbs_checkpoint_encode("alpha", 42, hash, 1800000000, &der, &len), 0);
    assert_string_equal(tbs_kind(der, len), "audit checkpoint");
    assert_int_equal(tbs_checkpoint_decode(der, len, &tenant, &seq, back, &when), 0);
    assert_string_equal(tenant, "alpha");
    assert_int_equal(seq, 42);
    assert_int_equal(when, 1800000000);
    assert_memory_equal(back, hash, 32);
    free(tenant);
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    if (signer_sign(signer, "alpha", id, "SHA256", der, len, &sig, &n, &e) != 0)
        fail_msg("signer_sign: %s", e.msg);
    free(sig);
    /* The same structure under another OID (last arc 1 -> 3) is not a checkpoint. */
    for (size_t i = 0; i < len; i++)
        if (der[i] == 0x06) {
            der[i + 1 + der[i + 1]] += 2;
            break;
        }
    assert_null(tbs_kind(der, len));
    assert_int_equal(signer_sign(signer, "alpha", id, "SHA256", der, len, &sig, &n, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(tbs_checkpoint_decode(der, len, &tenant, &seq, back, &when), -1);
    OPENSSL_free(der);
    /* Under arc 2 it is an offline bundle's digest, which is not a checkpoint either. */
    assert_int_equal(tbs_bundle_encode("alpha", 7, hash, 1800000000, &der, &len), 0);
    assert_string_equal(tbs_kind(der, len), "offline bundle");
    assert_int_equal(tbs_checkpoint_decode(der, len, &tenant, &seq, back, &when), -1);
    assert_int_equal(tbs_bundle_decode(der, len, &tenant, &seq, back, &when), 0);
    assert_int_equal(seq, 7);
    assert_string_equal(tenant, "alpha");
    free(tenant);
    OPENSSL_free(der);
    /* seq 0: no chain has a row 0, so no checkpoint signs one. */
    assert_int_equal(tbs_checkpoint_encode("alpha", 0, hash, 1800000000, &der, &len), 0);
    assert_null(tbs_kind(der, len));
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    free(id);
}

/*
 * A webhook secret is made in the signer from an RSA key and a nonce: the
 * MAC the signer gives for a stored nonce is the HMAC under the secret it
 * gave once; a new one has a new nonce; the input it signs to derive the
 * secret cannot be signed from outside; a key of another tenant or an EC key
 * does not serve.
 */
static void webhook_secrets_stay_in_the_signer(void **state)
{
    static const char text[] = "1800000000.{\"event\":\"x\"}";
    unsigned char *mac = NULL, want[32], nonce[32], *der = NULL, *sig = NULL, *raw;
    unsigned int want_len = 0;
    size_t mac_len = 0, len = 0, n = 0, raw_len = 0;
    char *rsa = NULL, *ec = NULL, *nonce1 = NULL, *nonce2 = NULL, *secret1 = NULL, *secret2 = NULL;
    EVP_PKEY *pub = NULL;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_RSA_2048, &rsa, &pub, &e), 0);
    EVP_PKEY_free(pub);
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &ec, &pub, &e), 0);
    EVP_PKEY_free(pub);
    assert_int_equal(signer_webhook_new(signer, "alpha", rsa, &nonce1, &secret1, &e), 0);
    assert_int_equal(signer_webhook_new(signer, "alpha", rsa, &nonce2, &secret2, &e), 0);
    assert_int_equal(strlen(nonce1), 64);
    assert_int_equal(strlen(secret1), 6 + 64);
    assert_int_equal(strncmp(secret1, "whsec_", 6), 0);
    assert_string_not_equal(nonce1, nonce2);
    assert_string_not_equal(secret1, secret2);
    /* Asked again and again for a stored nonce: the HMAC under that nonce's secret. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(signer_webhook_mac(signer, "alpha", rsa, nonce1,
                                            (const unsigned char *)text, strlen(text), &mac,
                                            &mac_len, &e),
                         0);
        HMAC(EVP_sha256(), secret1, (int)strlen(secret1), (const unsigned char *)text, strlen(text),
             want, &want_len);
        assert_int_equal(mac_len, want_len);
        assert_memory_equal(mac, want, want_len);
        free(mac);
    }
    /* Another tenant, an EC key (its signatures are not repeatable), a bad nonce. */
    assert_int_equal(signer_webhook_mac(signer, "beta", rsa, nonce1, (const unsigned char *)text,
                                        strlen(text), &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(signer_webhook_new(signer, "alpha", ec, &nonce2, &secret2, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(signer_webhook_mac(signer, "alpha", rsa, "abcd", (const unsigned char *)text,
                                        strlen(text), &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    /* What the secret is derived from is nothing W_SIGN signs. */
    raw = hex_decode(nonce1, &raw_len);
    assert_int_equal(raw_len, sizeof(nonce));
    memcpy(nonce, raw, sizeof(nonce));
    free(raw);
    assert_int_equal(tbs_webhook_secret_encode("alpha", nonce, &der, &len), 0);
    assert_null(tbs_kind(der, len));
    assert_int_equal(signer_sign(signer, "alpha", rsa, "SHA256", der, len, &sig, &n, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    OPENSSL_free(der);
    free(nonce1);
    free(nonce2);
    free(secret1);
    free(secret2);
    free(rsa);
    free(ec);
}

/*
 * An ACME EAB key is made in the signer from an RSA key, the endpoint, the
 * kid and a nonce: the MAC the signer gives for a stored nonce (HS256, HS384,
 * HS512) is the HMAC under the key it gave once; a new one has a new nonce;
 * the same nonce under another kid, endpoint or tenant is another key (or no
 * key at all); the input it signs is nothing W_SIGN signs, and never the
 * webhook secret's input; bad digests, an EC key and oversized data are
 * refused.
 */
static void eab_keys_stay_in_the_signer(void **state)
{
    static const char text[] = "eyJhbGciOiJIUzI1NiJ9.eyJrdHkiOiJFQyJ9";
    static const struct {
        const char *digest;
        const EVP_MD *(*md)(void);
    } algs[] = {{"SHA256", EVP_sha256}, {"SHA384", EVP_sha384}, {"SHA512", EVP_sha512}};
    unsigned char key1[SIGNER_EAB_KEY_LEN], key2[SIGNER_EAB_KEY_LEN], want[EVP_MAX_MD_SIZE];
    unsigned char nonce[32], *mac = NULL, *other = NULL, *der = NULL, *wder = NULL, *sig = NULL;
    unsigned char *raw, *big;
    unsigned int want_len = 0;
    size_t mac_len = 0, other_len = 0, len = 0, wlen = 0, n = 0, raw_len = 0;
    char *rsa = NULL, *ec = NULL, *nonce1 = NULL, *nonce2 = NULL;
    struct signer_eab ref = {.endpoint = "web", .kid = "kid-1"};
    EVP_PKEY *pub = NULL;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_RSA_2048, &rsa, &pub, &e), 0);
    EVP_PKEY_free(pub);
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &ec, &pub, &e), 0);
    EVP_PKEY_free(pub);
    ref.key_id = rsa;
    assert_int_equal(signer_eab_new(signer, "alpha", &ref, &nonce1, key1, &e), 0);
    assert_int_equal(signer_eab_new(signer, "alpha", &ref, &nonce2, key2, &e), 0);
    assert_int_equal(strlen(nonce1), 64);
    assert_string_not_equal(nonce1, nonce2);
    assert_memory_not_equal(key1, key2, sizeof(key1));
    free(nonce2);
    nonce2 = NULL;
    /* The MAC for a stored nonce is the HMAC under the key shown once, for each digest. */
    ref.nonce_hex = nonce1;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (signer_eab_mac(signer, "alpha", &ref, algs[i].digest, (const unsigned char *)text,
                           strlen(text), &mac, &mac_len, &e) != 0)
            fail_msg("%s: %s", algs[i].digest, e.msg);
        HMAC(algs[i].md(), key1, sizeof(key1), (const unsigned char *)text, strlen(text), want,
             &want_len);
        assert_int_equal(mac_len, want_len);
        assert_memory_equal(mac, want, want_len);
        free(mac);
    }
    assert_int_equal(signer_eab_mac(signer, "alpha", &ref, "SHA256", (const unsigned char *)text,
                                    strlen(text), &mac, &mac_len, &e),
                     0);
    /* The same nonce for another kid or endpoint is another key. */
    ref.kid = "kid-2";
    assert_int_equal(signer_eab_mac(signer, "alpha", &ref, "SHA256", (const unsigned char *)text,
                                    strlen(text), &other, &other_len, &e),
                     0);
    assert_memory_not_equal(mac, other, mac_len);
    free(other);
    ref.kid = "kid-1";
    ref.endpoint = "web2";
    assert_int_equal(signer_eab_mac(signer, "alpha", &ref, "SHA256", (const unsigned char *)text,
                                    strlen(text), &other, &other_len, &e),
                     0);
    assert_memory_not_equal(mac, other, mac_len);
    free(other);
    free(mac);
    ref.endpoint = "web";
    /* Another tenant has no such key; an EC key, a digest not offered, no kid, too much data. */
    assert_int_equal(signer_eab_mac(signer, "beta", &ref, "SHA256", (const unsigned char *)text,
                                    strlen(text), &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    ref.key_id = ec;
    assert_int_equal(signer_eab_new(signer, "alpha", &ref, &nonce2, key2, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    ref.key_id = rsa;
    assert_int_equal(signer_eab_mac(signer, "alpha", &ref, "SHA1", (const unsigned char *)text,
                                    strlen(text), &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    ref.kid = "";
    assert_int_equal(signer_eab_mac(signer, "alpha", &ref, "SHA256", (const unsigned char *)text,
                                    strlen(text), &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    ref.kid = "kid-1";
    big = calloc(1, SIGNER_EAB_DATA_MAX + 1);
    assert_int_equal(signer_eab_mac(signer, "alpha", &ref, "SHA256", big, SIGNER_EAB_DATA_MAX + 1,
                                    &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_TOO_LARGE);
    assert_int_equal(signer_eab_mac(signer, "alpha", &ref, "SHA256", big, SIGNER_EAB_DATA_MAX, &mac,
                                    &mac_len, &e),
                     0);
    free(mac);
    free(big);
    /* What the key is derived from is nothing W_SIGN signs, and not a webhook secret's input. */
    raw = hex_decode(nonce1, &raw_len);
    assert_int_equal(raw_len, sizeof(nonce));
    memcpy(nonce, raw, sizeof(nonce));
    free(raw);
    assert_int_equal(tbs_eab_key_encode("alpha", "web", "kid-1", nonce, &der, &len), 0);
    assert_true(tbs_is_secret_input(der, len));
    assert_null(tbs_kind(der, len));
    assert_int_equal(signer_sign(signer, "alpha", rsa, "SHA256", der, len, &sig, &n, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(tbs_webhook_secret_encode("alpha", nonce, &wder, &wlen), 0);
    assert_true(tbs_is_secret_input(wder, wlen));
    assert_false(len == wlen && memcmp(der, wder, len) == 0);
    OPENSSL_free(der);
    OPENSSL_free(wder);
    secure_zero(key1, sizeof(key1));
    free(nonce1);
    free(rsa);
    free(ec);
}

/* Only a CRL may be larger than a small frame; its entries are checked all the same. */
static void a_large_crl_is_signed_and_a_damaged_one_refused(void **state)
{
    int len;
    unsigned char *tbs = crl_tbs_der(5000, &len), *sig = NULL;
    char *id = NULL;
    EVP_PKEY *pub = NULL;
    size_t n;
    struct err e;
    (void)state;
    if (len <= WIRE_MAX_SMALL)
        fail_msg("the CRL has %d bytes", len);
    assert_string_equal(tbs_kind(tbs, (size_t)len), "CRL");
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    if (signer_sign(signer, "alpha", id, "SHA256", tbs, (size_t)len, &sig, &n, &e) != 0)
        fail_msg("signer_sign: %s", e.msg);
    {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), 1);
        assert_int_equal(EVP_DigestVerify(ctx, sig, n, tbs, (size_t)len), 1);
        EVP_MD_CTX_free(ctx);
    }
    free(sig);
    /* The last entry's serial INTEGER turned into an OCTET STRING. */
    for (int i = len - 1; i > 0; i--)
        if (tbs[i] == 0x02 && tbs[i - 2] == 0x30) {
            tbs[i] = 0x04;
            break;
        }
    assert_null(tbs_kind(tbs, (size_t)len));
    assert_int_equal(signer_sign(signer, "alpha", id, "SHA256", tbs, (size_t)len, &sig, &n, &e),
                     -1);
    assert_int_equal(e.kind, ERR_TOO_LARGE);
    OPENSSL_free(tbs);
    /* A small CRL with a damaged entry: refused as not a CRL. */
    tbs = crl_tbs_der(3, &len);
    assert_string_equal(tbs_kind(tbs, (size_t)len), "CRL");
    for (int i = len - 1; i > 0; i--)
        if (tbs[i] == 0x17) { /* the last entry's revocationDate becomes a BOOLEAN */
            tbs[i] = 0x01;
            break;
        }
    assert_null(tbs_kind(tbs, (size_t)len));
    assert_int_equal(signer_sign(signer, "alpha", id, "SHA256", tbs, (size_t)len, &sig, &n, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    OPENSSL_free(tbs);
    EVP_PKEY_free(pub);
    free(id);
}

/* ---- tenants, files ---------------------------------------------------------- */

static void a_key_of_another_tenant_is_refused_and_its_file_left_alone(void **state)
{
    int tbs_len;
    unsigned char *tbs = tbs_der(&tbs_len), *sig = NULL;
    struct err e;
    char *id = NULL, *path, *before, *after, *evil;
    EVP_PKEY *pub = NULL, *remote;
    struct stat st1, st2;
    size_t len, n1, n2;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    path = key_file("alpha", id);
    before = file_get(path, &n1);
    assert_non_null(before);
    assert_int_equal(stat(path, &st1), 0);
    assert_null(signer_key(signer, "beta", id, &e));
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(
        signer_sign(signer, "beta", id, "SHA256", tbs, (size_t)tbs_len, &sig, &len, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(signer_delete(signer, "beta", id, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    /* Path-like ids and tenants that lead to the key are refused before any file is read. */
    evil = xasprintf("../alpha/%s", id);
    assert_null(signer_key(signer, "beta", evil, &e));
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(signer_key(signer, "beta/../alpha", id, &e));
    assert_int_equal(e.kind, ERR_INVALID);
    assert_null(signer_key(signer, "../alpha", id, &e));
    assert_int_equal(e.kind, ERR_INVALID);
    after = file_get(path, &n2);
    assert_non_null(after);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    assert_int_equal(st1.st_mtime, st2.st_mtime);
    assert_int_equal(st1.st_ino, st2.st_ino);
    /* And its tenant still signs with it. */
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    EVP_PKEY_free(remote);
    OPENSSL_free(tbs);
    free(evil);
    free(before);
    free(after);
    free(path);
    EVP_PKEY_free(pub);
    free(id);
}

static void key_files_are_encrypted_private_and_open_with_the_secret(void **state)
{
    char *id = NULL, *path, *pem, *tdir;
    EVP_PKEY *pub = NULL, *k;
    struct stat st;
    struct err e;
    BIO *bio;
    (void)state;
    assert_int_equal(signer_keygen(signer, "gamma", KEY_EC_P256, &id, &pub, &e), 0);
    path = key_file("gamma", id);
    pem = file_get(path, NULL);
    assert_non_null(pem);
    assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert_null(strstr(pem, "BEGIN PRIVATE KEY"));
    assert_null(strstr(pem, "BEGIN EC PRIVATE KEY"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    tdir = xasprintf("%s/gamma", keys_dir);
    assert_int_equal(stat(tdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* The secret (without its newline) opens it; another passphrase does not. */
    bio = BIO_new_mem_buf(pem, -1);
    assert_null(PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"0123456789abcdef"));
    ERR_clear_error();
    BIO_free(bio);
    bio = BIO_new_mem_buf(pem, -1);
    k = PEM_read_bio_PrivateKey(bio, NULL, NULL,
                                (void *)"0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, pub), 1);
    EVP_PKEY_free(k);
    BIO_free(bio);
    free(tdir);
    free(pem);
    free(path);
    EVP_PKEY_free(pub);
    free(id);
}

static void a_deleted_key_is_gone(void **state)
{
    char *id = NULL, *path;
    EVP_PKEY *pub = NULL;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_ED25519, &id, &pub, &e), 0);
    path = key_file("alpha", id);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(signer_delete(signer, "alpha", id, &e), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_null(signer_key(signer, "alpha", id, &e));
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(signer_delete(signer, "alpha", id, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    free(path);
    EVP_PKEY_free(pub);
    free(id);
}

/* ---- what the signer agrees to sign ------------------------------------------ */

static void the_signer_signs_only_known_bodies_with_sha2(void **state)
{
    int tbs_len;
    unsigned char *tbs = tbs_der(&tbs_len), *sig = NULL;
    unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    char *id = NULL;
    EVP_PKEY *pub = NULL;
    size_t len;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    assert_int_equal(signer_sign(signer, "alpha", id, "SHA256", junk, sizeof(junk), &sig, &len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(signer_sign(signer, "alpha", id, "SHA1", tbs, (size_t)tbs_len, &sig, &len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(signer_sign(signer, "alpha", id, "MD5", tbs, (size_t)tbs_len, &sig, &len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(
        signer_sign(signer, "alpha", id, "SHA256", tbs, (size_t)tbs_len, &sig, &len, &e), 0);
    free(sig);
    /* A certificate body with bytes after it is not a certificate body. */
    tbs = OPENSSL_realloc(tbs, (size_t)tbs_len + 1);
    tbs[tbs_len] = 0;
    assert_int_equal(
        signer_sign(signer, "alpha", id, "SHA256", tbs, (size_t)tbs_len + 1, &sig, &len, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    OPENSSL_free(tbs);
    EVP_PKEY_free(pub);
    free(id);
}

/* ---- time-stamp tokens (W_SIGN_TST) ------------------------------------------- */

/* The DER of a small TSTInfo. */
static unsigned char *tst_der(size_t *len)
{
    TS_TST_INFO *ti = TS_TST_INFO_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_OBJECT *policy = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    ASN1_GENERALIZEDTIME *t = ASN1_GENERALIZEDTIME_new();
    unsigned char hash[32] = {1, 2, 3}, *der = NULL;
    int n;

    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
    TS_MSG_IMPRINT_set_algo(mi, alg);
    TS_MSG_IMPRINT_set_msg(mi, hash, sizeof(hash));
    ASN1_INTEGER_set(serial, 7);
    ASN1_GENERALIZEDTIME_set_string(t, "20261129120000Z");
    assert_int_equal(TS_TST_INFO_set_version(ti, 1), 1);
    TS_TST_INFO_set_policy_id(ti, policy);
    TS_TST_INFO_set_msg_imprint(ti, mi);
    TS_TST_INFO_set_serial(ti, serial);
    TS_TST_INFO_set_time(ti, t);
    n = i2d_TS_TST_INFO(ti, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    ASN1_GENERALIZEDTIME_free(t);
    ASN1_INTEGER_free(serial);
    ASN1_OBJECT_free(policy);
    X509_ALGOR_free(alg);
    TS_MSG_IMPRINT_free(mi);
    TS_TST_INFO_free(ti);
    return der;
}

/* A self-signed certificate for pub with the given EKU value ("timeStamping"), DER. */
static unsigned char *tsa_cert_der(EVP_PKEY *pub, const char *eku, int *len)
{
    EVP_PKEY *ca = EVP_EC_gen("P-256");
    X509 *x = cert_template(pub, "tsa");
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, eku);
    unsigned char *der = NULL;

    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
    *len = i2d_X509(x, &der);
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(ca);
    return der;
}

static void the_signer_makes_time_stamp_tokens_with_signing_certificate_v2(void **state)
{
    size_t tst_len, token_len = 0;
    unsigned char *tst = tst_der(&tst_len), *token = NULL, *cert_der;
    const unsigned char *p;
    EVP_PKEY *pub = NULL;
    char *id = NULL;
    int cert_len;
    struct err e;
    CMS_ContentInfo *cms;
    X509 *cert;
    STACK_OF(X509) * certs;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    cert_der = tsa_cert_der(pub, "critical,timeStamping", &cert_len);
    for (int with_certs = 0; with_certs <= 1; with_certs++) {
        assert_int_equal(signer_sign_tst(signer, "alpha", id, "sha256", tst, tst_len, cert_der,
                                         (size_t)cert_len, NULL, 0,
                                         with_certs ? SIGNER_TST_CERTS : 0, &token, &token_len, &e),
                         0);
        p = token;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long)token_len);
        assert_non_null(cms);
        assert_int_equal(OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_id_smime_ct_TSTInfo);
        certs = CMS_get1_certs(cms);
        assert_int_equal(certs != NULL ? sk_X509_num(certs) : 0, with_certs); /* NULL: none */
        sk_X509_pop_free(certs, X509_free);
        p = cert_der;
        cert = d2i_X509(NULL, &p, cert_len);
        certs = sk_X509_new_null();
        sk_X509_push(certs, cert);
        assert_int_equal(CMS_verify(cms, certs, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY), 1);
        assert_true(
            CMS_signed_get_attr_by_NID(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0),
                                       NID_id_smime_aa_signingCertificateV2, -1) >= 0);
        sk_X509_pop_free(certs, X509_free);
        CMS_ContentInfo_free(cms);
        free(token);
    }
    OPENSSL_free(cert_der);
    OPENSSL_free(tst);
    EVP_PKEY_free(pub);
    free(id);
}

static void the_signer_refuses_tokens_it_should_not_make(void **state)
{
    size_t tst_len, token_len;
    int tbs_len, cert_len, other_len, plain_len;
    unsigned char *tst = tst_der(&tst_len), *tbs = tbs_der(&tbs_len), *token = NULL, *sig = NULL;
    unsigned char *cert, *other_cert, *plain_cert;
    EVP_PKEY *pub = NULL, *other = EVP_EC_gen("P-256");
    char *id = NULL;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    cert = tsa_cert_der(pub, "critical,timeStamping", &cert_len);
    other_cert = tsa_cert_der(other, "critical,timeStamping", &other_len);
    plain_cert = tsa_cert_der(pub, "critical,codeSigning", &plain_len);
    /* Content that is not a TSTInfo. */
    assert_int_equal(signer_sign_tst(signer, "alpha", id, "sha256", tbs, (size_t)tbs_len, cert,
                                     (size_t)cert_len, NULL, 0, 0, &token, &token_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    /* A certificate of another key, or one without the time-stamping EKU. */
    assert_int_equal(signer_sign_tst(signer, "alpha", id, "sha256", tst, tst_len, other_cert,
                                     (size_t)other_len, NULL, 0, 0, &token, &token_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(signer_sign_tst(signer, "alpha", id, "sha256", tst, tst_len, plain_cert,
                                     (size_t)plain_len, NULL, 0, 0, &token, &token_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    /* SHA-1, another tenant's key. */
    assert_int_equal(signer_sign_tst(signer, "alpha", id, "sha1", tst, tst_len, cert,
                                     (size_t)cert_len, NULL, 0, 0, &token, &token_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(signer_sign_tst(signer, "beta", id, "sha256", tst, tst_len, cert,
                                     (size_t)cert_len, NULL, 0, 0, &token, &token_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    /* A bare signature over a TSTInfo: only inside the signer's own SignedData. */
    assert_int_equal(signer_sign(signer, "alpha", id, "SHA256", tst, tst_len, &sig, &token_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    /* And the good request still works. */
    assert_int_equal(signer_sign_tst(signer, "alpha", id, "sha256", tst, tst_len, cert,
                                     (size_t)cert_len, NULL, 0, 0, &token, &token_len, &e),
                     0);
    free(token);
    OPENSSL_free(plain_cert);
    OPENSSL_free(other_cert);
    OPENSSL_free(cert);
    OPENSSL_free(tbs);
    OPENSSL_free(tst);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pub);
    free(id);
}

static void a_remote_key_refuses_weak_digests_locally(void **state)
{
    EVP_PKEY *pub = NULL, *remote;
    char *id = NULL;
    struct err e;
    X509 *x;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_RSA_2048, &id, &pub, &e), 0);
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    x = cert_template(pub, "weak");
    assert_true(X509_sign(x, remote, EVP_sha1()) <= 0);
    ERR_clear_error();
    assert_true(X509_sign(x, remote, EVP_sha256()) > 0);
    assert_int_equal(X509_verify(x, pub), 1);
    X509_free(x);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

static void a_remote_rsa_key_signs_with_pkcs1_padding_only(void **state)
{
    EVP_PKEY *pub = NULL, *remote;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    char pkcs1[] = "pkcs1", pss[] = "pss";
    OSSL_PARAM ok[] = {OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, pkcs1, 0),
                       OSSL_PARAM_END};
    OSSL_PARAM bad[] = {OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, pss, 0),
                        OSSL_PARAM_END};
    char *id = NULL;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_RSA_2048, &id, &pub, &e), 0);
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    assert_int_equal(EVP_DigestSignInit_ex(md, &pctx, "SHA256", NULL, NULL, remote, NULL), 1);
    assert_int_equal(EVP_PKEY_CTX_set_params(pctx, ok), 1);
    assert_int_equal(EVP_PKEY_CTX_set_params(pctx, bad), 0);
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

static void a_remote_p384_key_defaults_to_sha384(void **state)
{
    EVP_PKEY *pub = NULL, *remote;
    char *id = NULL;
    struct err e;
    X509 *x;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P384, &id, &pub, &e), 0);
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    x = cert_for(pub, remote, NULL, "default digest");
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
    assert_int_equal(X509_verify(x, pub), 1);
    X509_free(x);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

/* ---- import ------------------------------------------------------------------ */

/* A PKCS#12 of key with its certificate and one CA certificate (DER, caller frees). */
static unsigned char *p12_make(EVP_PKEY *key, X509 *x, X509 *ca, const char *pass, int *len,
                               OSSL_LIB_CTX *libctx, int nid_key, int nid_cert)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    PKCS12 *p12;
    unsigned char *der = NULL;

    sk_X509_push(chain, ca);
    p12 = PKCS12_create_ex(pass, NULL, key, x, chain, nid_key, nid_cert, 0, 0, 0, libctx, NULL);
    assert_non_null(p12);
    *len = i2d_PKCS12(p12, &der);
    PKCS12_free(p12);
    sk_X509_free(chain);
    return der;
}

static void an_imported_key_signs(const char *id, EVP_PKEY *pub)
{
    struct err e;
    EVP_PKEY *remote = signer_key(signer, "alpha", id, &e);
    X509 *x;

    assert_non_null(remote);
    x = cert_for(pub, remote, key_type_of(pub) == KEY_ED25519 ? NULL : EVP_sha256(), "imported");
    assert_int_equal(X509_verify(x, pub), 1);
    X509_free(x);
    EVP_PKEY_free(remote);
}

static void import_pkcs12_and_refuse_a_wrong_password(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-384"), *cakey = EVP_EC_gen("P-256"), *pub = NULL;
    X509 *ca = cert_for(cakey, cakey, EVP_sha256(), "ca");
    X509 *x = cert_for(key, cakey, EVP_sha256(), "leaf");
    int len, files = files_of("alpha");
    unsigned char *der = p12_make(key, x, ca, "pw-123456", &len, NULL, 0, 0);
    unsigned char junk[] = "not a pkcs12";
    STACK_OF(X509) *certs = NULL;
    char *id = NULL;
    struct err e;
    (void)state;
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PKCS12, der, (size_t)len, "wrong",
                                   &id, &pub, &certs, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_non_null(strstr(e.msg, "wrong password"));
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PKCS12, junk, sizeof(junk),
                                   "pw-123456", &id, &pub, &certs, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(files_of("alpha"), files);
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PKCS12, der, (size_t)len,
                                   "pw-123456", &id, &pub, &certs, &e),
                     0);
    assert_int_equal(files_of("alpha"), files + 1);
    assert_int_equal(EVP_PKEY_eq(pub, key), 1);
    assert_int_equal(sk_X509_num(certs), 2);
    assert_int_equal(X509_cmp(sk_X509_value(certs, 0), x), 0); /* leaf first */
    assert_int_equal(X509_cmp(sk_X509_value(certs, 1), ca), 0);
    an_imported_key_signs(id, pub);
    sk_X509_pop_free(certs, X509_free);
    EVP_PKEY_free(pub);
    free(id);
    OPENSSL_free(der);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
}

static void import_a_legacy_pkcs12(void **state)
{
    OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *legacy = OSSL_PROVIDER_load(lc, "legacy"), *deflt;
    EVP_PKEY *key, *pub = NULL;
    STACK_OF(X509) *certs = NULL;
    unsigned char *der;
    char *id = NULL;
    struct err e;
    X509 *x;
    int len;
    (void)state;
    if (legacy == NULL) {
        ERR_clear_error();
        OSSL_LIB_CTX_free(lc);
        skip(); /* no legacy provider to make an RC2 file with */
    }
    deflt = OSSL_PROVIDER_load(lc, "default");
    key = EVP_RSA_gen(2048);
    x = cert_for(key, key, EVP_sha256(), "legacy");
    der = p12_make(key, x, x, "old-password", &len, lc, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                   NID_pbe_WithSHA1And40BitRC2_CBC);
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PKCS12, der, (size_t)len,
                                   "old-password", &id, &pub, &certs, &e),
                     0);
    assert_int_equal(EVP_PKEY_eq(pub, key), 1);
    sk_X509_pop_free(certs, X509_free);
    EVP_PKEY_free(pub);
    free(id);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
    OSSL_PROVIDER_unload(legacy);
    OSSL_PROVIDER_unload(deflt);
    OSSL_LIB_CTX_free(lc);
}

/* key as PEM, encrypted under password if not NULL (caller frees). */
static char *pem_of(EVP_PKEY *key, const char *password)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *copy;
    long n;

    if (password != NULL)
        assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), password,
                                                       (int)strlen(password), NULL, NULL),
                         1);
    else
        assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    copy = xstrndup(data, (size_t)n);
    BIO_free(bio);
    return copy;
}

static void import_pem_keys_plain_and_encrypted_and_refuse_other_types(void **state)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), *weak = EVP_RSA_gen(1024);
    EVP_PKEY *pub = NULL;
    char *plain = pem_of(key, NULL), *locked = pem_of(key, "pem-pass"), *small = pem_of(weak, NULL);
    char *id = NULL;
    int files = files_of("alpha");
    struct err e;
    (void)state;
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PEM_KEY, (unsigned char *)plain,
                                   strlen(plain), NULL, &id, &pub, NULL, &e),
                     0);
    assert_int_equal(EVP_PKEY_eq(pub, key), 1);
    an_imported_key_signs(id, pub);
    EVP_PKEY_free(pub);
    free(id);
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PEM_KEY, (unsigned char *)locked,
                                   strlen(locked), "not-it", &id, &pub, NULL, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PEM_KEY, (unsigned char *)locked,
                                   strlen(locked), "pem-pass", &id, &pub, NULL, &e),
                     0);
    assert_int_equal(EVP_PKEY_eq(pub, key), 1);
    EVP_PKEY_free(pub);
    free(id);
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PEM_KEY, (unsigned char *)small,
                                   strlen(small), NULL, &id, &pub, NULL, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_non_null(strstr(e.msg, "unsupported type"));
    assert_int_equal(files_of("alpha"), files + 2);
    free(plain);
    free(locked);
    free(small);
    EVP_PKEY_free(weak);
    EVP_PKEY_free(key);
}

/* ---- server-side key generation ---------------------------------------------- */

static void server_side_keygen_round_trips_through_pkcs12(void **state)
{
    uint64_t handle;
    EVP_PKEY *pub = NULL, *ca = EVP_EC_gen("P-256"), *got = NULL;
    unsigned char *p12der = NULL;
    const unsigned char *p;
    const X509_ALGOR *macalg;
    const ASN1_OBJECT *macobj;
    size_t len;
    X509 *cacert = cert_for(ca, ca, EVP_sha256(), "ee-ca"), *cert, *gotcert = NULL;
    STACK_OF(X509) *chain = sk_X509_new_null(), *gotca = NULL;
    PKCS12 *p12;
    struct err e;
    (void)state;
    assert_int_equal(signer_ee_keygen(signer, "alpha", KEY_EC_P256, &handle, &pub, &e), 0);
    assert_int_equal(key_type_of(pub), KEY_EC_P256);
    cert = cert_for(pub, ca, EVP_sha256(), "end-entity");
    sk_X509_push(chain, cacert);
    assert_int_equal(
        signer_ee_pkcs12(signer, "alpha", handle, "password1", cert, chain, &p12der, &len, &e), 0);
    p = p12der;
    p12 = d2i_PKCS12(NULL, &p, (long)len);
    assert_non_null(p12);
    PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
    X509_ALGOR_get0(&macobj, NULL, NULL, macalg);
    assert_int_equal(OBJ_obj2nid(macobj), NID_sha256);
    assert_int_equal(PKCS12_parse(p12, "wrong", &got, &gotcert, &gotca), 0);
    ERR_clear_error();
    assert_int_equal(PKCS12_parse(p12, "password1", &got, &gotcert, &gotca), 1);
    assert_int_equal(X509_cmp(gotcert, cert), 0);
    assert_int_equal(X509_check_private_key(gotcert, got), 1);
    assert_int_equal(sk_X509_num(gotca), 1);
    /* The key is forgotten once delivered. */
    assert_int_equal(
        signer_ee_pkcs12(signer, "alpha", handle, "password1", cert, NULL, &p12der, &len, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    PKCS12_free(p12);
    free(p12der);
    sk_X509_pop_free(gotca, X509_free);
    sk_X509_free(chain);
    X509_free(cacert);
    X509_free(cert);
    X509_free(gotcert);
    EVP_PKEY_free(got);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(ca);
}

static void a_generated_key_goes_only_to_its_tenant_and_handle(void **state)
{
    uint64_t handle;
    EVP_PKEY *pub = NULL, *ca = EVP_EC_gen("P-256");
    unsigned char *p12der = NULL;
    size_t len;
    X509 *cert;
    struct err e;
    (void)state;
    assert_int_equal(signer_ee_keygen(signer, "alpha", KEY_ED25519, &handle, &pub, &e), 0);
    cert = cert_for(pub, ca, EVP_sha256(), "ee");
    assert_int_equal(
        signer_ee_pkcs12(signer, "beta", handle, "password1", cert, NULL, &p12der, &len, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(
        signer_ee_pkcs12(signer, "alpha", handle ^ 1, "password1", cert, NULL, &p12der, &len, &e),
        -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(p12der);
    /* The refusals did not use it up. */
    assert_int_equal(
        signer_ee_pkcs12(signer, "alpha", handle, "password1", cert, NULL, &p12der, &len, &e), 0);
    assert_true(len > 0);
    free(p12der);
    X509_free(cert);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(ca);
}

/* ---- keys bound to their purpose (signer_bind.c) ------------------------------------------ */

/* The TBS DER a signer request carries: a certificate of issuer cn (AKI keyid aki, if given). */
static unsigned char *cert_tbs(const char *cn, const char *aki, int *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = cert_template(k, cn);
    unsigned char *der = NULL;

    if (aki != NULL) {
        AUTHORITY_KEYID *a = AUTHORITY_KEYID_new();
        a->keyid = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(a->keyid, (const unsigned char *)aki, (int)strlen(aki));
        assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier, a, 0, 0), 1);
        AUTHORITY_KEYID_free(a);
    }
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    *len = i2d_re_X509_tbs(x, &der);
    X509_free(x);
    EVP_PKEY_free(k);
    return der;
}

static unsigned char *crl_tbs(const char *cn, int *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *issuer = cert_for(k, k, EVP_sha256(), cn);
    X509_CRL *crl = crl_for(issuer, k, EVP_sha256());
    unsigned char *der = NULL;

    *len = i2d_re_X509_CRL_tbs(crl, &der);
    X509_CRL_free(crl);
    X509_free(issuer);
    EVP_PKEY_free(k);
    return der;
}

static unsigned char *csr_tbs(int *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *r = X509_REQ_new();
    unsigned char *der = NULL;

    X509_REQ_set_pubkey(r, k);
    assert_true(X509_REQ_sign(r, k, EVP_sha256()) > 0);
    *len = i2d_re_X509_REQ_tbs(r, &der);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    return der;
}

/* 1 if (tenant, id) signs der, 0 if the signer refuses it as outside the key's purpose. */
static int signs_der(const char *tenant, const char *id, const unsigned char *der, int len)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    struct err e;
    int rc = signer_sign(signer, tenant, id, "SHA256", der, (size_t)len, &sig, &sig_len, &e);

    free(sig);
    if (rc != 0 && e.kind != ERR_FORBIDDEN)
        fail_msg("signer_sign: %s", e.msg);
    return rc == 0;
}

static void keys_bound_to_a_purpose_sign_only_what_it_covers(void **state)
{
    static const struct {
        enum key_purpose purpose;
        int cert, crl, csr, checkpoint;
    } want[] = {
        {KEY_PURPOSE_NONE, 1, 1, 1, 1}, /* unbound: as before purposes existed */
        {KEY_PURPOSE_CA, 1, 1, 1, 0},      {KEY_PURPOSE_OCSP, 0, 0, 1, 0},
        {KEY_PURPOSE_TSA, 0, 0, 1, 0},     {KEY_PURPOSE_AUDIT, 0, 0, 0, 1},
        {KEY_PURPOSE_WEBHOOK, 0, 0, 0, 0}, {KEY_PURPOSE_EAB, 0, 0, 0, 0},
        {KEY_PURPOSE_RA, 0, 0, 1, 0},
    };
    unsigned char hash[32] = {1}, *cert, *crl, *csr, *ckpt = NULL;
    int cert_len, crl_len, csr_len;
    size_t ckpt_len;
    (void)state;
    cert = cert_tbs("bound-root", NULL, &cert_len);
    crl = crl_tbs("bound-root", &crl_len);
    csr = csr_tbs(&csr_len);
    assert_int_equal(tbs_checkpoint_encode("alpha", 1, hash, 1800000000, &ckpt, &ckpt_len), 0);
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        char *id = NULL;
        EVP_PKEY *pub = NULL;
        struct err e;
        assert_int_equal(
            signer_keygen_for(signer, "alpha", KEY_EC_P256, want[i].purpose, &id, &pub, &e), 0);
        print_message("purpose %s\n", key_purpose_name(want[i].purpose));
        assert_int_equal(signs_der("alpha", id, cert, cert_len), want[i].cert);
        assert_int_equal(signs_der("alpha", id, crl, crl_len), want[i].crl);
        assert_int_equal(signs_der("alpha", id, csr, csr_len), want[i].csr);
        assert_int_equal(signs_der("alpha", id, ckpt, (int)ckpt_len), want[i].checkpoint);
        free(id);
        EVP_PKEY_free(pub);
    }
    OPENSSL_free(cert);
    OPENSSL_free(crl);
    OPENSSL_free(csr);
    OPENSSL_free(ckpt);
}

/*
 * A node whose roles use only OCSP responder keys (docs/deployment.md, "Roles"): its signer signs
 * with a responder key, refuses a CA key or an unbound one naming the roles, without opening the
 * key (a CA key file damaged on purpose gives the same refusal, not a decryption error), and
 * neither makes nor binds keys of another purpose.
 */
static void a_signer_limited_by_its_roles_does_not_open_other_keys(void **state)
{
    struct signer_config cfg = {.keystore_dir = keys_dir,
                                .kek_path = kek,
                                .connections = 1,
                                .purposes = KEY_PURPOSES_LIMITED | 1u << KEY_PURPOSE_OCSP};
    char *ca = NULL, *resp = NULL, *none = NULL, *other = NULL, *path, *text;
    unsigned char *csr, *sig = NULL;
    EVP_PKEY *pub = NULL;
    struct signer *limited, *fresh;
    size_t sig_len;
    struct err e;
    int csr_len;
    (void)state;
    csr = csr_tbs(&csr_len);
    assert_int_equal(signer_keygen_for(signer, "alpha", KEY_EC_P256, KEY_PURPOSE_CA, &ca, &pub, &e),
                     0);
    EVP_PKEY_free(pub);
    assert_int_equal(
        signer_keygen_for(signer, "alpha", KEY_EC_P256, KEY_PURPOSE_OCSP, &resp, &pub, &e), 0);
    EVP_PKEY_free(pub);
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &none, &pub, &e), 0);
    EVP_PKEY_free(pub);
    limited = signer_start(&cfg, &e);
    if (limited == NULL)
        fail_msg("signer_start: %s", e.msg);

    /* Its own kind of key signs. */
    assert_int_equal(
        signer_sign(limited, "alpha", resp, "SHA256", csr, (size_t)csr_len, &sig, &sig_len, &e), 0);
    free(sig);
    sig = NULL;
    /* A CA key and an unbound key: refused, naming the roles. */
    assert_int_equal(
        signer_sign(limited, "alpha", ca, "SHA256", csr, (size_t)csr_len, &sig, &sig_len, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_non_null(strstr(e.msg, "roles"));
    assert_int_equal(
        signer_sign(limited, "alpha", none, "SHA256", csr, (size_t)csr_len, &sig, &sig_len, &e),
        -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    /* Not opened: with the CA key's file damaged the answer is still the roles' refusal (the
       unlimited signer, which opens it, fails otherwise), and its public half is not given. */
    path = key_file("alpha", ca);
    text = file_get(path, NULL);
    assert_non_null(text);
    file_put(path,
             "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
    assert_int_equal(
        signer_sign(limited, "alpha", ca, "SHA256", csr, (size_t)csr_len, &sig, &sig_len, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_non_null(strstr(e.msg, "roles"));
    assert_null(signer_key(limited, "alpha", ca, &e));
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    fresh = start_signer(1); /* nothing cached: it opens the file, and fails */
    assert_int_equal(
        signer_sign(fresh, "alpha", ca, "SHA256", csr, (size_t)csr_len, &sig, &sig_len, &e), -1);
    assert_int_not_equal(e.kind, ERR_FORBIDDEN);
    signer_stop(fresh);
    file_put(path, text);
    free(text);
    free(path);
    /* It makes responder keys only, and binds nothing to another purpose. */
    assert_int_equal(
        signer_keygen_for(limited, "alpha", KEY_EC_P256, KEY_PURPOSE_CA, &other, &pub, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(signer_keygen(limited, "alpha", KEY_EC_P256, &other, &pub, &e), -1);
    assert_int_equal(
        signer_keygen_for(limited, "alpha", KEY_EC_P256, KEY_PURPOSE_OCSP, &other, &pub, &e), 0);
    EVP_PKEY_free(pub);
    free(other);
    assert_int_equal(signer_bind(limited, "alpha", none, KEY_PURPOSE_TSA, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    signer_stop(limited);
    free(ca);
    free(resp);
    free(none);
    OPENSSL_free(csr);
}

static void an_ra_key_opens_scep_envelopes_and_signs_certreps_only(void **state)
{
    (void)state;
    ra_key_decrypts_and_signs_only_scep(signer);
}

static void only_a_webhook_key_derives_a_webhook_secret_and_only_an_eab_key_an_eab_key(void **state)
{
    char *ca = NULL, *hook = NULL, *nonce = NULL, *secret = NULL;
    EVP_PKEY *pub = NULL;
    struct err e;
    (void)state;
    assert_int_equal(
        signer_keygen_for(signer, "alpha", KEY_RSA_2048, KEY_PURPOSE_CA, &ca, &pub, &e), 0);
    EVP_PKEY_free(pub);
    assert_int_equal(
        signer_keygen_for(signer, "alpha", KEY_RSA_2048, KEY_PURPOSE_WEBHOOK, &hook, &pub, &e), 0);
    EVP_PKEY_free(pub);
    assert_int_equal(signer_webhook_new(signer, "alpha", ca, &nonce, &secret, &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(signer_webhook_new(signer, "alpha", hook, &nonce, &secret, &e), 0);
    free(nonce);
    free(secret);
    /* A webhook key signs nothing else either. */
    {
        int len;
        unsigned char *cert = cert_tbs("hook", NULL, &len);
        assert_int_equal(signs_der("alpha", hook, cert, len), 0);
        OPENSSL_free(cert);
    }
    free(ca);
    free(hook);
}

static void a_ca_key_signs_only_as_the_issuer_and_key_identifier_it_first_signed_as(void **state)
{
    unsigned char *der;
    EVP_PKEY *pub = NULL;
    char *id = NULL;
    struct err e;
    int len;
    (void)state;
    assert_int_equal(signer_keygen_for(signer, "alpha", KEY_EC_P256, KEY_PURPOSE_CA, &id, &pub, &e),
                     0);
    /* The first certificate fixes the issuer and key identifier. */
    der = cert_tbs("issuer-one", "keyid-one", &len);
    assert_int_equal(signs_der("alpha", id, der, len), 1);
    OPENSSL_free(der);
    der = cert_tbs("issuer-one", "keyid-one", &len);
    assert_int_equal(signs_der("alpha", id, der, len), 1);
    OPENSSL_free(der);
    der = cert_tbs("issuer-one", NULL, &len); /* no AKI: the name is what is checked */
    assert_int_equal(signs_der("alpha", id, der, len), 1);
    OPENSSL_free(der);
    der = crl_tbs("issuer-one", &len);
    assert_int_equal(signs_der("alpha", id, der, len), 1);
    OPENSSL_free(der);
    /* Another CA's name, or another key identifier: refused. */
    der = cert_tbs("issuer-two", "keyid-one", &len);
    assert_int_equal(signs_der("alpha", id, der, len), 0);
    OPENSSL_free(der);
    der = cert_tbs("issuer-one", "keyid-two", &len);
    assert_int_equal(signs_der("alpha", id, der, len), 0);
    OPENSSL_free(der);
    der = crl_tbs("issuer-two", &len);
    assert_int_equal(signs_der("alpha", id, der, len), 0);
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    free(id);
}

/* The ResponseData DER of a response signed by (cert, key) naming its responder by key. */
static unsigned char *ocsp_tbs_by(X509 *cert, EVP_PKEY *key, int *len)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *cid = OCSP_cert_to_id(NULL, cert, cert);
    ASN1_TIME *now = ASN1_TIME_adj(NULL, time(NULL), 0, 0);
    unsigned char *der = NULL;

    assert_non_null(OCSP_basic_add1_status(bs, cid, V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, NULL));
    assert_int_equal(
        OCSP_basic_sign(bs, cert, key, EVP_sha256(), NULL, OCSP_RESPID_KEY | OCSP_NOCERTS), 1);
    *len = i2d_OCSP_RESPDATA((OCSP_RESPDATA *)OCSP_resp_get0_respdata(bs), &der);
    ASN1_TIME_free(now);
    OCSP_CERTID_free(cid);
    OCSP_BASICRESP_free(bs);
    return der;
}

/* An OCSP response names its responder by key: only that key signs it. */
static void an_ocsp_response_naming_another_responder_is_refused(void **state)
{
    EVP_PKEY *pub = NULL, *other = EVP_EC_gen("P-256"), *remote;
    X509 *mine, *theirs = cert_for(other, other, EVP_sha256(), "other responder");
    unsigned char *der;
    char *id = NULL;
    struct err e;
    int len;
    (void)state;
    assert_int_equal(
        signer_keygen_for(signer, "alpha", KEY_EC_P256, KEY_PURPOSE_OCSP, &id, &pub, &e), 0);
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    mine = cert_for(pub, other, EVP_sha256(), "my responder");
    /* Named by this key: signed (the response OCSP_basic_sign makes through the signer). */
    {
        OCSP_BASICRESP *bs = ocsp_for(mine, remote, EVP_sha256());
        OCSP_BASICRESP_free(bs);
    }
    der = ocsp_tbs_by(theirs, other, &len); /* names another key */
    assert_int_equal(signs_der("alpha", id, der, len), 0);
    OPENSSL_free(der);
    X509_free(mine);
    X509_free(theirs);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pub);
    free(id);
}

struct first_use {
    const char *id;
    const char *issuer;
    int signed_ok;
};

static void *first_use_sign(void *arg)
{
    struct first_use *f = arg;
    int len;
    unsigned char *der = cert_tbs(f->issuer, NULL, &len);

    f->signed_ok = signs_der("alpha", f->id, der, len);
    OPENSSL_free(der);
    return NULL;
}

/* Eight first signatures at once, four as one issuer and four as another: one issuer wins. */
static void a_ca_keys_first_signatures_at_once_bind_one_issuer(void **state)
{
    struct first_use f[8];
    pthread_t t[8];
    EVP_PKEY *pub = NULL;
    char *id = NULL;
    struct err e;
    int a = 0, b = 0;
    (void)state;
    assert_int_equal(signer_keygen_for(signer, "alpha", KEY_EC_P256, KEY_PURPOSE_CA, &id, &pub, &e),
                     0);
    for (int i = 0; i < 8; i++) {
        f[i] = (struct first_use){.id = id, .issuer = i % 2 ? "race-a" : "race-b"};
        assert_int_equal(pthread_create(&t[i], NULL, first_use_sign, &f[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        if (f[i].signed_ok)
            *(i % 2 ? &a : &b) += 1;
    }
    assert_true((a == 4 && b == 0) || (a == 0 && b == 4));
    EVP_PKEY_free(pub);
    free(id);
}

/* The purpose signer_key_list() lists for id. */
static char *listed_purpose(struct signer *s, const char *tenant, const char *id)
{
    struct signer_key_info *keys = NULL;
    char *purpose = NULL;
    struct err e;
    int n = 0;

    assert_int_equal(signer_key_list(s, tenant, &keys, &n, &e), 0);
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i].key_id, id) == 0)
            purpose = xstrdup(keys[i].purpose);
    signer_key_list_free(keys, n);
    assert_non_null(purpose);
    return purpose;
}

static void a_binding_never_changes_and_outlives_the_signer(void **state)
{
    struct signer *other;
    EVP_PKEY *pub = NULL;
    unsigned char *der;
    char *id = NULL, *p;
    struct err e;
    int len;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    p = listed_purpose(signer, "alpha", id);
    assert_string_equal(p, "none");
    free(p);
    assert_int_equal(signer_bind(signer, "alpha", id, KEY_PURPOSE_OCSP, &e), 0);
    assert_int_equal(signer_bind(signer, "alpha", id, KEY_PURPOSE_OCSP, &e), 0); /* again: done */
    assert_int_equal(signer_bind(signer, "alpha", id, KEY_PURPOSE_CA, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_non_null(strstr(e.msg, "ocsp"));
    assert_int_equal(signer_bind(signer, "beta", id, KEY_PURPOSE_CA, &e), -1); /* not beta's */
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(signer_bind(signer, "alpha", "key-00000000000000000", KEY_PURPOSE_CA, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    /* A new signer process (nothing cached) reads the binding from the store. */
    other = start_signer(1);
    p = listed_purpose(other, "alpha", id);
    assert_string_equal(p, "ocsp");
    free(p);
    der = cert_tbs("as-a-ca", NULL, &len);
    {
        unsigned char *sig = NULL;
        size_t sig_len = 0;
        assert_int_equal(
            signer_sign(other, "alpha", id, "SHA256", der, (size_t)len, &sig, &sig_len, &e), -1);
        assert_int_equal(e.kind, ERR_FORBIDDEN);
        free(sig);
    }
    OPENSSL_free(der);
    signer_stop(other);
    EVP_PKEY_free(pub);
    free(id);
}

/* Sends one frame of type on a raw connection to the signer; the reply's type and status. */
static uint32_t raw_call(int fd, uint32_t type, const struct buf *body, char *status, size_t len)
{
    unsigned char *reply = NULL;
    size_t reply_len = 0;
    uint32_t rtype = 0;
    char *st;

    assert_int_equal(wire_send(fd, type, body), 0);
    assert_int_equal(wire_recv(fd, &rtype, &reply, &reply_len, WIRE_MAX_LARGE), 0);
    st = wire_get_str(reply, reply_len, T_STATUS, 64);
    snprintf(status, len, "%s", st ? st : "");
    free(st);
    free(reply);
    return rtype;
}

static void the_signer_socket_refuses_mismatched_requests_and_keeps_serving(void **state)
{
    struct signer *s = start_signer(2);
    int fd = signer_take_connection(s);
    char *tsa = NULL, *ocsp = NULL, status[64];
    unsigned char *cert, *csr;
    EVP_PKEY *pub = NULL;
    struct buf body = {0};
    struct err e;
    int cert_len, csr_len;
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(signer_keygen_for(s, "alpha", KEY_EC_P256, KEY_PURPOSE_TSA, &tsa, &pub, &e),
                     0);
    EVP_PKEY_free(pub);
    assert_int_equal(signer_keygen_for(s, "alpha", KEY_EC_P256, KEY_PURPOSE_OCSP, &ocsp, &pub, &e),
                     0);
    EVP_PKEY_free(pub);
    cert = cert_tbs("forged", NULL, &cert_len);
    csr = csr_tbs(&csr_len);
    /* A certificate signed by a time-stamping key, as a compromised network process would ask. */
    wire_put_str(&body, T_TENANT, "alpha");
    wire_put_str(&body, T_KEY_ID, tsa);
    wire_put_str(&body, T_DIGEST, "SHA256");
    wire_put(&body, T_DATA, cert, (size_t)cert_len);
    assert_int_equal(raw_call(fd, W_SIGN, &body, status, sizeof(status)), W_REPLY_ERR);
    assert_string_equal(status, err_kind_word(ERR_FORBIDDEN));
    buf_free(&body);
    /* Rebinding it as a CA key, or giving it an unknown purpose: refused. */
    wire_put_str(&body, T_TENANT, "alpha");
    wire_put_str(&body, T_KEY_ID, tsa);
    wire_put_str(&body, T_PURPOSE, "ca");
    assert_int_equal(raw_call(fd, W_BIND, &body, status, sizeof(status)), W_REPLY_ERR);
    assert_string_equal(status, err_kind_word(ERR_CONFLICT));
    buf_free(&body);
    wire_put_str(&body, T_TENANT, "alpha");
    wire_put_str(&body, T_KEY_ID, ocsp);
    wire_put_str(&body, T_PURPOSE, "root");
    assert_int_equal(raw_call(fd, W_BIND, &body, status, sizeof(status)), W_REPLY_ERR);
    assert_string_equal(status, err_kind_word(ERR_INVALID));
    buf_free(&body);
    /* A key generated with an unknown purpose is not made. */
    wire_put_str(&body, T_TENANT, "alpha");
    wire_put_str(&body, T_KEY_TYPE, "ec-p256");
    wire_put_str(&body, T_PURPOSE, "anything");
    assert_int_equal(raw_call(fd, W_KEYGEN, &body, status, sizeof(status)), W_REPLY_ERR);
    buf_free(&body);
    /* What the OCSP key may sign (its own certificate request) it still signs. */
    wire_put_str(&body, T_TENANT, "alpha");
    wire_put_str(&body, T_KEY_ID, ocsp);
    wire_put_str(&body, T_DIGEST, "SHA256");
    wire_put(&body, T_DATA, csr, (size_t)csr_len);
    assert_int_equal(raw_call(fd, W_SIGN, &body, status, sizeof(status)), W_REPLY_OK);
    buf_free(&body);
    /* The refusals were queued for the audit log, naming the key's tenant. */
    {
        struct signer_event *ev = NULL;
        int n = 0, refused = 0;
        assert_int_equal(signer_events(s, &ev, &n, &e), 0);
        for (int i = 0; i < n; i++)
            if (strcmp(ev[i].action, "key.refused") == 0 && strncmp(ev[i].object, "alpha/", 6) == 0)
                refused++;
        signer_events_free(ev, n);
        assert_int_equal(refused, 1);
    }
    assert_int_equal(signer_ping(s, &e), 0);
    close(fd);
    OPENSSL_free(cert);
    OPENSSL_free(csr);
    free(tsa);
    free(ocsp);
    signer_stop(s);
}

/* ---- the process boundary ---------------------------------------------------- */

/* Reads from fd until it closes; 0 if it closed within 5 s, -1 if not. */
static int closed_by_peer(int fd)
{
    struct timeval tv = {.tv_sec = 5};
    char buf[256];
    ssize_t n;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        ;
    /* Closing with our bytes still unread resets the connection: closed too. */
    return n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : -1;
}

static void garbage_frames_close_their_connection_and_the_signer_keeps_serving(void **state)
{
    struct signer *s = start_signer(3);
    unsigned char bad_field[] = {0,    0,    0, W_PING, 0,   0,   0,   13,  0,   1,  0xff,
                                 0xff, 0xff, 0, 'g',    'a', 'r', 'b', 'a', 'g', 'e'};
    unsigned char huge[] = {0, 0, 0, W_SIGN, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3};
    unsigned char *reply = NULL, big[70000] = {0};
    struct buf body = {0};
    int a = signer_take_connection(s), b = signer_take_connection(s);
    size_t len;
    struct err e;
    (void)state;
    assert_true(a >= 0 && b >= 0);
    /* A field running past its frame, and a frame announcing 2 GiB: both dropped. */
    assert_int_equal(write(a, bad_field, sizeof(bad_field)), (ssize_t)sizeof(bad_field));
    assert_int_equal(write(b, huge, sizeof(huge)), (ssize_t)sizeof(huge));
    assert_int_equal(closed_by_peer(a), 0);
    assert_int_equal(closed_by_peer(b), 0);
    close(a);
    close(b);
    /* Well framed but wrong: an error reply, and the connection stays. */
    assert_int_equal(signer_call(s, 999, NULL, &reply, &len, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    wire_put(&body, T_DATA, big, sizeof(big));
    assert_int_equal(signer_call(s, W_SIGN, &body, &reply, &len, &e), -1);
    assert_int_equal(e.kind, ERR_TOO_LARGE);
    buf_free(&body);
    assert_int_equal(signer_ping(s, &e), 0);
    signer_stop(s);
}

static void a_dead_signer_makes_calls_fail_with_503(void **state)
{
    struct signer *s = start_signer(2);
    EVP_PKEY *pub = NULL, *remote;
    char *id = NULL;
    struct err e;
    X509 *x;
    (void)state;
    assert_int_equal(signer_keygen(s, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    remote = signer_key(s, "alpha", id, &e);
    assert_non_null(remote);
    x = cert_template(pub, "dead");
    assert_true(X509_sign(x, remote, EVP_sha256()) > 0);
    assert_int_equal(kill(signer_pid(s), SIGKILL), 0);
    assert_int_equal(signer_ping(s, &e), -1); /* not supervised: it stays dead */
    assert_int_equal(e.kind, ERR_UNAVAILABLE);
    assert_true(X509_sign(x, remote, EVP_sha256()) <= 0);
    /* The remote key marks the failure as "unavailable", which err_ossl passes on (503). */
    assert_int_equal(err_ossl(&e, ERR_INTERNAL, "certificate: signing failed"), -1);
    assert_int_equal(e.kind, ERR_UNAVAILABLE);
    signer_stop(s);
    X509_free(x);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

/* Polls until the signer answers a ping (or seconds pass); 0 if it does. */
static int ping_within(struct signer *s, int seconds)
{
    struct err e;

    for (int i = 0; i < seconds * 10; i++) {
        if (signer_ping(s, &e) == 0)
            return 0;
        usleep(100 * 1000);
    }
    return -1;
}

/* The supervisor's events of one action, freed. */
static int events_of(struct signer *s, const char *action, char *detail, size_t len)
{
    struct signer_event *ev;
    int n, found = 0;

    signer_supervision_events(s, &ev, &n);
    for (int i = 0; i < n; i++)
        if (strcmp(ev[i].action, action) == 0) {
            found++;
            snprintf(detail, len, "%s", ev[i].detail);
        }
    signer_events_free(ev, n);
    return found;
}

static void a_supervised_signer_killed_is_restarted_and_its_keys_sign_again(void **state)
{
    struct signer *s = start_signer(2);
    struct signer_status st;
    EVP_PKEY *pub = NULL, *remote;
    char *id = NULL, detail[512] = "";
    pid_t first;
    struct err e;
    X509 *x;
    (void)state;
    assert_int_equal(signer_supervise(s, 2, &e), 0);
    assert_int_equal(signer_keygen(s, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    remote = signer_key(s, "alpha", id, &e);
    assert_non_null(remote);
    x = cert_template(pub, "restarted");
    first = signer_pid(s);
    assert_int_equal(kill(first, SIGKILL), 0);
    usleep(50 * 1000);
    /* Until the new one answers, calls fail at once and as "unavailable". */
    if (signer_ping(s, &e) != 0)
        assert_int_equal(e.kind, ERR_UNAVAILABLE);
    assert_int_equal(ping_within(s, 10), 0);
    assert_true(signer_pid(s) != first);
    assert_int_equal(kill(first, 0), -1);                /* reaped by the keeper: no zombie */
    assert_true(X509_sign(x, remote, EVP_sha256()) > 0); /* the same key, from the store */
    assert_int_equal(X509_verify(x, pub), 1);
    signer_status(s, &st);
    assert_int_equal(st.up, 1);
    assert_int_equal(st.restarts, 1);
    assert_int_equal(events_of(s, "signer.restart", detail, sizeof(detail)), 1);
    assert_non_null(strstr(detail, "exited"));
    signer_stop(s);
    X509_free(x);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

static void a_hung_signer_is_killed_and_restarted(void **state)
{
    struct signer *s = start_signer(1);
    struct signer_status st;
    char detail[512] = "";
    pid_t first;
    struct err e;
    (void)state;
    assert_int_equal(signer_supervise(s, 1, &e), 0);
    first = signer_pid(s);
    assert_int_equal(kill(first, SIGSTOP), 0); /* alive, answers nothing */
    sleep(1);
    assert_int_equal(ping_within(s, 15), 0);
    assert_true(signer_pid(s) != first);
    signer_status(s, &st);
    assert_int_equal(st.restarts, 1);
    assert_int_equal(events_of(s, "signer.restart", detail, sizeof(detail)), 1);
    assert_non_null(strstr(detail, "did not answer"));
    assert_int_equal(kill(first, 0), -1); /* the hung one was killed */
    signer_stop(s);
}

static void a_remote_key_outlives_signer_stop_and_then_fails_cleanly(void **state)
{
    struct signer *s = start_signer(1);
    EVP_PKEY *pub = NULL, *remote;
    char *id = NULL;
    struct err e;
    X509 *x;
    (void)state;
    assert_int_equal(signer_keygen(s, "alpha", KEY_ED25519, &id, &pub, &e), 0);
    remote = signer_key(s, "alpha", id, &e);
    assert_non_null(remote);
    x = cert_template(pub, "stopped");
    assert_true(X509_sign(x, remote, NULL) > 0);
    signer_stop(s);
    assert_true(X509_sign(x, remote, NULL) <= 0);
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

static void the_signer_keeps_only_its_own_connections_open(void **state)
{
    struct signer *s = start_signer(3);
    char *fddir = xasprintf("/proc/%d/fd", (int)signer_pid(s));
    DIR *dp = opendir(fddir);
    struct dirent *d;
    int above_stderr = 0;
    (void)state;
    if (dp == NULL && errno == EACCES && geteuid() != 0) {
        /* The signer is not dumpable: only root may look (the next test checks that). */
        free(fddir);
        signer_stop(s);
        skip();
    }
    assert_non_null(dp);
    while ((d = readdir(dp)) != NULL)
        above_stderr += d->d_name[0] != '.' && atoi(d->d_name) > 2;
    closedir(dp);
    assert_int_equal(above_stderr,
                     4); /* 3 and its supervisor's; not the group signer's, not ours */
    free(fddir);
    signer_stop(s);
}

/* The value of a "Name:" line of /proc/<pid>/status, or -1. */
static long proc_status(pid_t pid, const char *name)
{
    char path[64], line[256];
    size_t n = strlen(name);
    long value = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            value = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return value;
}

static void the_signer_is_not_dumpable_and_gains_no_privileges(void **state)
{
    struct signer *s = start_signer(1);
    char path[64], line[256];
    int core_zero = 0;
    FILE *f;
    (void)state;
    assert_int_equal(proc_status(signer_pid(s), "NoNewPrivs"), 1);
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)signer_pid(s));
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "Max core file size", 18) == 0)
            core_zero = strstr(line, " 0 ") != NULL;
    fclose(f);
    assert_true(core_zero);
    /* Positive control: this test process is none of it. */
    assert_int_equal(proc_status(getpid(), "NoNewPrivs"), 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    signer_stop(s);
}

static void a_missing_or_short_secret_stops_start_up(void **state)
{
    char *missing = xasprintf("%s/no-kek", dir), *shortk = xasprintf("%s/short-kek", dir);
    struct signer_config cfg = {.keystore_dir = keys_dir, .kek_path = missing};
    struct err e;
    (void)state;
    assert_null(signer_start(&cfg, &e));
    assert_non_null(strstr(e.msg, missing));
    assert_int_equal(access(missing, F_OK), -1); /* nothing created in its place */
    file_put(shortk, "too-short\n");
    cfg.kek_path = shortk;
    assert_null(signer_start(&cfg, &e));
    assert_non_null(strstr(e.msg, "shorter than 16"));
    free(missing);
    free(shortk);
}

/* ---- concurrency -------------------------------------------------------------- */

struct worker {
    EVP_PKEY *remote, *pub;
    int failures;
};

static void *sign_many(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 25; i++) {
        X509 *x = cert_template(w->pub, "concurrent");
        if (X509_sign(x, w->remote, EVP_sha256()) <= 0 || X509_verify(x, w->pub) != 1)
            w->failures++;
        X509_free(x);
    }
    return NULL;
}

static void threads_signing_concurrently_all_succeed(void **state)
{
    pthread_t t[8];
    struct worker w[8];
    EVP_PKEY *pub[2] = {NULL, NULL}, *remote[2];
    char *id[2] = {NULL, NULL};
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id[0], &pub[0], &e), 0);
    assert_int_equal(signer_keygen(signer, "beta", KEY_RSA_2048, &id[1], &pub[1], &e), 0);
    for (int k = 0; k < 2; k++)
        assert_non_null(remote[k] = signer_key(signer, k ? "beta" : "alpha", id[k], &e));
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){.remote = remote[i % 2], .pub = pub[i % 2]};
        assert_int_equal(pthread_create(&t[i], NULL, sign_many, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    for (int k = 0; k < 2; k++) {
        EVP_PKEY_free(remote[k]);
        EVP_PKEY_free(pub[k]);
        free(id[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(remote_keys_of_every_type_sign_certificates_crls_csrs_and_ocsp_responses),
        cmocka_unit_test(a_certificate_for_another_key_is_not_bound_to_a_remote_key),
        cmocka_unit_test(key_type_names_parse_and_unknown_types_are_refused),
        cmocka_unit_test(keys_bound_to_a_purpose_sign_only_what_it_covers),
        cmocka_unit_test(an_ra_key_opens_scep_envelopes_and_signs_certreps_only),
        cmocka_unit_test(
            only_a_webhook_key_derives_a_webhook_secret_and_only_an_eab_key_an_eab_key),
        cmocka_unit_test(a_ca_key_signs_only_as_the_issuer_and_key_identifier_it_first_signed_as),
        cmocka_unit_test(a_binding_never_changes_and_outlives_the_signer),
        cmocka_unit_test(a_signer_limited_by_its_roles_does_not_open_other_keys),
        cmocka_unit_test(a_ca_keys_first_signatures_at_once_bind_one_issuer),
        cmocka_unit_test(an_ocsp_response_naming_another_responder_is_refused),
        cmocka_unit_test(the_signer_socket_refuses_mismatched_requests_and_keeps_serving),
        cmocka_unit_test(a_key_of_another_tenant_is_refused_and_its_file_left_alone),
        cmocka_unit_test(key_files_are_encrypted_private_and_open_with_the_secret),
        cmocka_unit_test(a_deleted_key_is_gone),
        cmocka_unit_test(the_signer_signs_only_known_bodies_with_sha2),
        cmocka_unit_test(the_signer_makes_time_stamp_tokens_with_signing_certificate_v2),
        cmocka_unit_test(the_signer_refuses_tokens_it_should_not_make),
        cmocka_unit_test(a_remote_key_refuses_weak_digests_locally),
        cmocka_unit_test(a_remote_rsa_key_signs_with_pkcs1_padding_only),
        cmocka_unit_test(a_remote_p384_key_defaults_to_sha384),
        cmocka_unit_test(import_pkcs12_and_refuse_a_wrong_password),
        cmocka_unit_test(import_a_legacy_pkcs12),
        cmocka_unit_test(import_pem_keys_plain_and_encrypted_and_refuse_other_types),
        cmocka_unit_test(server_side_keygen_round_trips_through_pkcs12),
        cmocka_unit_test(a_generated_key_goes_only_to_its_tenant_and_handle),
        cmocka_unit_test(garbage_frames_close_their_connection_and_the_signer_keeps_serving),
        cmocka_unit_test(a_large_crl_is_signed_and_a_damaged_one_refused),
        cmocka_unit_test(an_audit_checkpoint_is_signed_and_a_lookalike_refused),
        cmocka_unit_test(webhook_secrets_stay_in_the_signer),
        cmocka_unit_test(eab_keys_stay_in_the_signer),
        cmocka_unit_test(a_dead_signer_makes_calls_fail_with_503),
        cmocka_unit_test(a_supervised_signer_killed_is_restarted_and_its_keys_sign_again),
        cmocka_unit_test(a_hung_signer_is_killed_and_restarted),
        cmocka_unit_test(the_signer_is_not_dumpable_and_gains_no_privileges),
        cmocka_unit_test(a_remote_key_outlives_signer_stop_and_then_fails_cleanly),
        cmocka_unit_test(the_signer_keeps_only_its_own_connections_open),
        cmocka_unit_test(a_missing_or_short_secret_stops_start_up),
        cmocka_unit_test(threads_signing_concurrently_all_succeed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
