/* test_keys.c — the signer process, the software key store and remote keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "keys/keys.h"
#include "keys/signer_internal.h"

static char dir[64], keys_dir[128], kek[128];
static struct signer *signer;

static int group_setup(void **state)
{
    struct signer_config cfg = {.keystore_dir = keys_dir, .kek_path = kek, .connections = 4};
    struct err e;
    FILE *f;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vouch-keys-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(keys_dir, sizeof(keys_dir), "%s/keys", dir);
    snprintf(kek, sizeof(kek), "%s/kek", dir);
    f = fopen(kek, "w");
    fputs("0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    signer = signer_start(&cfg, &e);
    return signer ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[300];
    (void)state;
    signer_stop(signer);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

/* A self-signed certificate for pub, signed with signing_key. */
static X509 *cert_for(EVP_PKEY *pub, EVP_PKEY *signing_key, const EVP_MD *md)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pub);
    X509_NAME_free(n);
    assert_true(X509_sign(x, signing_key, md) > 0);
    return x;
}

static void check_type(enum key_type type)
{
    struct err e;
    char *id = NULL;
    EVP_PKEY *pub = NULL, *remote;
    const EVP_MD *md = type == KEY_ED25519 ? NULL : EVP_sha256();
    X509 *x;
    X509_CRL *crl;
    X509_REQ *req;

    assert_int_equal(signer_keygen(signer, "alpha", type, &id, &pub, &e), 0);
    assert_int_equal(key_type_of(pub), type);
    remote = signer_key(signer, "alpha", id, &e);
    assert_non_null(remote);
    x = cert_for(pub, remote, md);
    assert_int_equal(X509_verify(x, pub), 1);
    crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(x));
    {
        ASN1_TIME *now = ASN1_TIME_adj(NULL, time(NULL), 0, 0);
        X509_CRL_set1_lastUpdate(crl, now);
        ASN1_TIME_free(now);
    }
    assert_true(X509_CRL_sign(crl, remote, md) > 0);
    assert_int_equal(X509_CRL_verify(crl, pub), 1);
    req = X509_REQ_new();
    X509_REQ_set_pubkey(req, pub);
    assert_true(X509_REQ_sign(req, remote, md) > 0);
    assert_int_equal(X509_REQ_verify(req, pub), 1);
    X509_REQ_free(req);
    X509_CRL_free(crl);
    X509_free(x);
    EVP_PKEY_free(remote);
    EVP_PKEY_free(pub);
    free(id);
}

static void remote_keys_of_every_type_sign_certificates_crls_and_csrs(void **state)
{
    (void)state;
    check_type(KEY_EC_P256);
    check_type(KEY_EC_P384);
    check_type(KEY_RSA_2048);
    check_type(KEY_RSA_3072);
    check_type(KEY_ED25519);
}

/* The DER of a small TBSCertificate, for raw signer_sign calls. */
static unsigned char *tbs_der(int *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = cert_for(k, k, EVP_sha256());
    unsigned char *der = NULL;

    *len = i2d_re_X509_tbs(x, &der);
    X509_free(x);
    EVP_PKEY_free(k);
    return der;
}

static void a_key_of_another_tenant_is_not_found(void **state)
{
    int tbs_len;
    unsigned char *tbs = tbs_der(&tbs_len);
    struct err e;
    char *id = NULL;
    EVP_PKEY *pub = NULL;
    unsigned char *sig = NULL;
    size_t len;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    assert_null(signer_key(signer, "beta", id, &e));
    assert_int_equal(e.status, 404);
    assert_int_equal(
        signer_sign(signer, "beta", id, "SHA256", tbs, (size_t)tbs_len, &sig, &len, &e), -1);
    assert_int_equal(e.status, 404);
    /* A path-like key id is refused before any file is touched. */
    assert_null(signer_key(signer, "alpha", "../beta/key-0000000000000000", &e));
    assert_int_equal(e.status, 404);
    OPENSSL_free(tbs);
    EVP_PKEY_free(pub);
    free(id);
}

static void only_certificate_crl_and_csr_bodies_are_signed(void **state)
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
    assert_int_equal(e.status, 400);
    assert_int_equal(
        signer_sign(signer, "alpha", id, "SHA256", tbs, (size_t)tbs_len, &sig, &len, &e), 0);
    free(sig);
    /* A certificate body with bytes after it is not a certificate body. */
    tbs = OPENSSL_realloc(tbs, (size_t)tbs_len + 1);
    tbs[tbs_len] = 0;
    assert_int_equal(
        signer_sign(signer, "alpha", id, "SHA256", tbs, (size_t)tbs_len + 1, &sig, &len, &e), -1);
    OPENSSL_free(tbs);
    EVP_PKEY_free(pub);
    free(id);
}

static void key_files_are_encrypted(void **state)
{
    char path[512], line[128];
    struct dirent *d;
    DIR *dp;
    int files = 0;
    (void)state;
    snprintf(path, sizeof(path), "%s/alpha", keys_dir);
    dp = opendir(path);
    assert_non_null(dp);
    while ((d = readdir(dp)) != NULL) {
        FILE *f;
        if (d->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/alpha/%s", keys_dir, d->d_name);
        f = fopen(path, "r");
        assert_non_null(fgets(line, sizeof(line), f));
        fclose(f);
        assert_string_equal(line, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n");
        files++;
    }
    closedir(dp);
    assert_true(files >= 5);
}

static void import_pkcs12_and_pem_and_refuse_a_wrong_password(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256"), *pub = NULL;
    X509 *x = cert_for(key, key, EVP_sha256());
    PKCS12 *p12 = PKCS12_create("pw-123456", NULL, key, x, NULL, 0, 0, 0, 0, 0);
    unsigned char *der = NULL;
    int len = i2d_PKCS12(p12, &der);
    STACK_OF(X509) *certs = NULL;
    char *id = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long pem_len;
    struct err e;
    (void)state;
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PKCS12, der, (size_t)len, "wrong",
                                   &id, &pub, &certs, &e),
                     -1);
    assert_int_equal(e.status, 400);
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PKCS12, der, (size_t)len,
                                   "pw-123456", &id, &pub, &certs, &e),
                     0);
    assert_int_equal(EVP_PKEY_eq(pub, key), 1);
    assert_int_equal(sk_X509_num(certs), 1);
    assert_int_equal(X509_cmp(sk_X509_value(certs, 0), x), 0);
    sk_X509_pop_free(certs, X509_free);
    EVP_PKEY_free(pub);
    free(id);
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    pem_len = BIO_get_mem_data(bio, &pem);
    assert_int_equal(signer_import(signer, "alpha", SIGNER_IMPORT_PEM_KEY, (unsigned char *)pem,
                                   (size_t)pem_len, NULL, &id, &pub, NULL, &e),
                     0);
    assert_int_equal(EVP_PKEY_eq(pub, key), 1);
    EVP_PKEY_free(pub);
    free(id);
    BIO_free(bio);
    OPENSSL_free(der);
    PKCS12_free(p12);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void server_side_keygen_returns_a_pkcs12_only_to_its_tenant(void **state)
{
    uint64_t handle;
    EVP_PKEY *pub = NULL, *ca = EVP_EC_gen("P-256"), *got = NULL;
    unsigned char *p12der = NULL;
    const unsigned char *p;
    size_t len;
    X509 *cert, *gotcert = NULL;
    PKCS12 *p12;
    struct err e;
    (void)state;
    assert_int_equal(signer_ee_keygen(signer, "alpha", KEY_EC_P256, &handle, &pub, &e), 0);
    cert = cert_for(pub, ca, EVP_sha256());
    assert_int_equal(
        signer_ee_pkcs12(signer, "beta", handle, "password1", cert, NULL, &p12der, &len, &e), -1);
    assert_int_equal(e.status, 404);
    assert_int_equal(
        signer_ee_pkcs12(signer, "alpha", handle, "password1", cert, NULL, &p12der, &len, &e), 0);
    p = p12der;
    p12 = d2i_PKCS12(NULL, &p, (long)len);
    assert_int_equal(PKCS12_parse(p12, "password1", &got, &gotcert, NULL), 1);
    assert_int_equal(EVP_PKEY_eq(got, pub), 1);
    /* The key is forgotten once delivered. */
    assert_int_equal(
        signer_ee_pkcs12(signer, "alpha", handle, "password1", cert, NULL, &p12der, &len, &e), -1);
    PKCS12_free(p12);
    free(p12der);
    X509_free(cert);
    X509_free(gotcert);
    EVP_PKEY_free(got);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(ca);
}

static void malformed_requests_are_refused_and_the_signer_keeps_serving(void **state)
{
    struct buf body = {0};
    unsigned char *reply = NULL;
    size_t len;
    struct err e;
    (void)state;
    /* An unknown request type: a clean refusal. */
    assert_int_equal(signer_call(signer, 999, NULL, &reply, &len, &e), -1);
    assert_int_equal(e.status, 400);
    /* A field whose length runs past the frame: that connection is dropped. */
    buf_append(&body, "\x00\x01\xff\xff\xff\x00garbage", 13);
    assert_int_equal(signer_call(signer, W_SIGN, &body, &reply, &len, &e), -1);
    assert_int_equal(e.status, 503);
    buf_free(&body);
    /* Everyone else is still served. */
    assert_int_equal(signer_ping(signer, &e), 0);
}

static unsigned char *shared_tbs;
static int shared_tbs_len;

static void *sign_many(void *arg)
{
    const char *id = arg;
    long failures = 0;
    struct err e;
    for (int i = 0; i < 50; i++) {
        unsigned char *sig = NULL;
        size_t len;
        if (signer_sign(signer, "alpha", id, "SHA256", shared_tbs, (size_t)shared_tbs_len, &sig,
                        &len, &e) != 0)
            failures++;
        free(sig);
    }
    return (void *)failures;
}

static void concurrent_signing_succeeds(void **state)
{
    char *id = NULL;
    EVP_PKEY *pub = NULL;
    pthread_t t[6];
    void *failed;
    struct err e;
    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    shared_tbs = tbs_der(&shared_tbs_len);
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, sign_many, id);
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], &failed);
        assert_int_equal((long)failed, 0);
    }
    OPENSSL_free(shared_tbs);
    EVP_PKEY_free(pub);
    free(id);
}

static void a_missing_key_encryption_secret_stops_start_up(void **state)
{
    struct signer_config cfg = {.keystore_dir = keys_dir, .kek_path = "/nonexistent/kek"};
    struct err e;
    (void)state;
    assert_null(signer_start(&cfg, &e));
    assert_non_null(strstr(e.msg, "/nonexistent/kek"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(remote_keys_of_every_type_sign_certificates_crls_and_csrs),
        cmocka_unit_test(a_key_of_another_tenant_is_not_found),
        cmocka_unit_test(only_certificate_crl_and_csr_bodies_are_signed),
        cmocka_unit_test(key_files_are_encrypted),
        cmocka_unit_test(import_pkcs12_and_pem_and_refuse_a_wrong_password),
        cmocka_unit_test(server_side_keygen_returns_a_pkcs12_only_to_its_tenant),
        cmocka_unit_test(malformed_requests_are_refused_and_the_signer_keeps_serving),
        cmocka_unit_test(concurrent_signing_succeeds),
        cmocka_unit_test(a_missing_key_encryption_secret_stops_start_up),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
