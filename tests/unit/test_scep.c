/*
 * test_scep.c — src/scep: operations, GetCACaps, GetCACert, the outer layer of pkiMessages, their
 * envelope and content, and the CertRep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "scep/scep.h"

static EVP_PKEY *key; /* the device's, and the RA's (one RSA key keeps the tests quick) */
static X509 *cert;    /* self-signed, of key */
static unsigned char *cert_der;
static size_t cert_len;

static int setup(void **state)
{
    unsigned char *der = NULL;
    int n;

    (void)state;
    key = EVP_RSA_gen(2048);
    cert = X509_new();
    if (key == NULL || cert == NULL)
        return -1;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)"device-1", -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    if (X509_sign(cert, key, EVP_sha256()) <= 0 || (n = i2d_X509(cert, &der)) <= 0)
        return -1;
    cert_der = der;
    cert_len = (size_t)n;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(cert);
    EVP_PKEY_free(key);
    free(cert_der);
    return 0;
}

/* An EnvelopedData (AES-128-CBC) of data for cert: *len, caller frees. */
static unsigned char *envelope_of(const char *data, size_t *len)
{
    STACK_OF(X509) *to = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(data, (int)strlen(data));
    CMS_ContentInfo *cms;
    unsigned char *der = NULL;
    int n;

    sk_X509_push(to, cert);
    cms = CMS_encrypt(to, in, EVP_aes_128_cbc(), CMS_BINARY);
    assert_non_null(cms);
    n = i2d_CMS_ContentInfo(cms, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    sk_X509_free(to);
    return der;
}

static void attr_add(CMS_SignerInfo *si, const char *oid, int type, const void *v, int len)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);

    assert_int_equal(CMS_signed_add1_attr_by_OBJ(si, o, type, v, len), 1);
    ASN1_OBJECT_free(o);
}

#define WITH_TYPE  1
#define WITH_TXID  2
#define WITH_NONCE 4
#define WITH_ALL   7

/* A pkiMessage of type `type` over env, signed with md, with the attributes `with`. */
static unsigned char *message_of(const unsigned char *env, size_t env_len, const char *type,
                                 const EVP_MD *md, int with, size_t *len)
{
    static const unsigned char nonce[SCEP_NONCE_LEN] = "0123456789abcdef";
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
    CMS_SignerInfo *si;
    BIO *in = BIO_new_mem_buf(env, (int)env_len);
    unsigned char *der = NULL;
    int n;

    assert_non_null(cms);
    si = CMS_add1_signer(cms, cert, key, md, CMS_BINARY);
    assert_non_null(si);
    if (with & WITH_TYPE)
        attr_add(si, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING, type, (int)strlen(type));
    if (with & WITH_TXID)
        attr_add(si, "2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING, "tx-1", 4);
    if (with & WITH_NONCE)
        attr_add(si, "2.16.840.1.113733.1.9.5", V_ASN1_OCTET_STRING, nonce, SCEP_NONCE_LEN);
    assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
    n = i2d_CMS_ContentInfo(cms, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    return der;
}

static void operations_and_caps(void **state)
{
    char *caps;

    (void)state;
    assert_int_equal(scep_op_of("GetCACaps"), SCEP_OP_GETCACAPS);
    assert_int_equal(scep_op_of("GetCACert"), SCEP_OP_GETCACERT);
    assert_int_equal(scep_op_of("PKIOperation"), SCEP_OP_PKIOPERATION);
    assert_int_equal(scep_op_of("getcacaps"), SCEP_OP_NONE);
    assert_int_equal(scep_op_of(NULL), SCEP_OP_NONE);
    caps = scep_caps(0);
    assert_non_null(strstr(caps, "AES\n"));
    assert_non_null(strstr(caps, "SHA-256\n"));
    assert_null(strstr(caps, "DES3"));
    assert_null(strstr(caps, "SHA-1\n"));
    free(caps);
    caps = scep_caps(1);
    assert_non_null(strstr(caps, "DES3\n"));
    assert_non_null(strstr(caps, "SHA-1\n"));
    free(caps);
}

static void getcacert_holds_the_ra_and_ca_certificates(void **state)
{
    unsigned char *out = NULL, *two = malloc(2 * cert_len);
    const unsigned char *p;
    size_t len = 0;
    PKCS7 *p7;
    struct err e;

    (void)state;
    memcpy(two, cert_der, cert_len);
    memcpy(two + cert_len, cert_der, cert_len);
    assert_int_equal(scep_ca_ra_certs(cert_der, cert_len, two, 2 * cert_len, &out, &len, &e), 0);
    p = out;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    assert_non_null(p7);
    assert_true(PKCS7_type_is_signed(p7));
    assert_int_equal(sk_X509_num(p7->d.sign->cert), 3);
    assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
    PKCS7_free(p7);
    free(out);
    two[cert_len + 5] ^= 0xff; /* a certificate that does not parse */
    assert_int_equal(scep_ca_ra_certs(cert_der, cert_len, two, cert_len + 10, &out, &len, &e), -1);
    free(two);
}

static void a_pki_message_is_read_and_its_signature_checked(void **state)
{
    size_t env_len, len;
    unsigned char *env = envelope_of("a CSR would be here", &env_len);
    unsigned char *msg = message_of(env, env_len, "19", EVP_sha256(), WITH_ALL, &len);
    struct scep_message m = {0};
    struct err e;

    (void)state;
    assert_int_equal(scep_message_parse(msg, len, 0, &m, &e), 0);
    assert_int_equal(m.type, SCEP_MSG_PKCSREQ);
    assert_string_equal(m.txid, "tx-1");
    assert_memory_equal(m.sender_nonce, "0123456789abcdef", SCEP_NONCE_LEN);
    assert_int_equal(m.envelope_len, env_len);
    assert_memory_equal(m.envelope, env, env_len);
    assert_int_equal(m.signer_len, cert_len);
    assert_memory_equal(m.signer, cert_der, cert_len);
    assert_int_equal(m.digest_nid, NID_sha256);
    scep_message_clear(&m);
    scep_message_clear(NULL);
    /* a byte of the envelope changed: the signature fails */
    {
        unsigned char *at = memmem(msg, len, env, env_len);
        assert_non_null(at);
        at[env_len - 1] ^= 0x01;
        assert_int_equal(scep_message_parse(msg, len, 0, &m, &e), -1);
        assert_non_null(strstr(e.msg, "signature"));
    }
    /* truncated, or with bytes after it */
    assert_int_equal(scep_message_parse(msg, len - 1, 0, &m, &e), -1);
    free(msg);
    free(env);
}

static void messages_breaking_rfc_8894_are_refused(void **state)
{
    static const struct {
        const char *type;
        int with;
        const char *says;
    } cases[] = {
        {"19", WITH_TXID | WITH_NONCE, "messageType"},
        {"19", WITH_TYPE | WITH_NONCE, "transactionID"},
        {"19", WITH_TYPE | WITH_TXID, "senderNonce"},
        {"3", WITH_ALL, "not a request"},
        {"99", WITH_ALL, "not a request"},
        {"1x", WITH_ALL, "not a request"},
        {"123", WITH_ALL, "messageType"},
    };
    size_t env_len, len;
    unsigned char *env = envelope_of("x", &env_len), *msg;
    struct scep_message m = {0};
    struct err e;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        msg = message_of(env, env_len, cases[i].type, EVP_sha256(), cases[i].with, &len);
        assert_int_equal(scep_message_parse(msg, len, 1, &m, &e), -1);
        assert_non_null(strstr(e.msg, cases[i].says));
        free(msg);
    }
    /* SHA-1 only with legacy algorithms */
    msg = message_of(env, env_len, "20", EVP_sha1(), WITH_ALL, &len);
    assert_int_equal(scep_message_parse(msg, len, 0, &m, &e), -1);
    assert_non_null(strstr(e.msg, "digest"));
    assert_int_equal(scep_message_parse(msg, len, 1, &m, &e), 0);
    assert_int_equal(m.type, SCEP_MSG_CERTPOLL);
    assert_int_equal(m.digest_nid, NID_sha1);
    scep_message_clear(&m);
    free(msg);
    /* content that is no EnvelopedData */
    msg = message_of((const unsigned char *)"plain", 5, "19", EVP_sha256(), WITH_ALL, &len);
    assert_int_equal(scep_message_parse(msg, len, 0, &m, &e), -1);
    assert_non_null(strstr(e.msg, "EnvelopedData"));
    free(msg);
    assert_int_equal(scep_message_parse(env, env_len, 0, &m, &e), -1); /* not SignedData */
    assert_int_equal(scep_message_parse(env, 0, 0, &m, &e), -1);
    free(env);
}

static void get_messages_decode_with_spaces_for_plus(void **state)
{
    unsigned char *der = NULL;
    size_t len = 0;
    struct err e;

    (void)state;
    /* "+/8=" is 0xfb 0xff; a form decoder turned the '+' into a space */
    assert_int_equal(scep_message_decode(" /8=", &der, &len, &e), 0);
    assert_int_equal(len, 2);
    assert_int_equal(der[0], 0xfb);
    free(der);
    assert_int_equal(scep_message_decode("", &der, &len, &e), -1);
    assert_int_equal(scep_message_decode("!!!!", &der, &len, &e), -1);
}

/* The unwrap of the signer, done here with key (RSA PKCS#1 v1.5); random bytes if it fails. */
static int unwrap(void *arg, const unsigned char *enc, size_t enc_len, unsigned char *out,
                  size_t out_len, struct err *e)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    unsigned char buf[512];
    size_t n = sizeof(buf);

    (void)e;
    (*(int *)arg)++;
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    if (EVP_PKEY_decrypt(ctx, buf, &n, enc, enc_len) == 1 && n == out_len)
        memcpy(out, buf, out_len);
    else
        assert_int_equal(RAND_bytes(out, (int)out_len), 1);
    EVP_PKEY_CTX_free(ctx);
    return 0;
}

/* An EnvelopedData of data for to with cipher: *len, caller frees. */
static unsigned char *envelope_with(const char *data, X509 *to, const EVP_CIPHER *cipher,
                                    size_t *len)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(data, (int)strlen(data));
    PKCS7 *p7;
    unsigned char *der = NULL;
    int n;

    sk_X509_push(sk, to);
    p7 = PKCS7_encrypt(sk, in, cipher, PKCS7_BINARY);
    assert_non_null(p7);
    n = i2d_PKCS7(p7, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    PKCS7_free(p7);
    BIO_free(in);
    sk_X509_free(sk);
    return der;
}

static void an_envelope_for_the_ra_opens_and_others_fail_with_their_fail_info(void **state)
{
    unsigned char *env, *content = NULL;
    size_t env_len, len = 0;
    enum scep_fail fail;
    struct err e;
    int calls = 0, nid = 0;
    X509 *other = X509_dup(cert);

    (void)state;
    env = envelope_with("the content", cert, EVP_aes_256_cbc(), &env_len);
    assert_int_equal(
        scep_envelope_open(env, env_len, cert, 0, unwrap, &calls, &content, &len, &nid, &fail, &e),
        0);
    assert_int_equal(len, 11);
    assert_memory_equal(content, "the content", 11);
    assert_int_equal(nid, NID_aes_256_cbc);
    assert_int_equal(calls, 1);
    free(content);
    /* A damaged encrypted key: the unwrap gives random bytes, the content does not open. */
    env[env_len / 3] ^= 0x01;
    if (scep_envelope_open(env, env_len, cert, 0, unwrap, &calls, &content, &len, &nid, &fail,
                           &e) == 0)
        free(content); /* (a flipped byte outside the key may still decrypt) */
    else
        assert_int_equal(fail, SCEP_FAIL_BADMESSAGECHECK);
    free(env);
    /* 3DES: badAlg unless legacy; the key is never asked for. */
    env = envelope_with("old", cert, EVP_des_ede3_cbc(), &env_len);
    calls = 0;
    assert_int_equal(
        scep_envelope_open(env, env_len, cert, 0, unwrap, &calls, &content, &len, &nid, &fail, &e),
        -1);
    assert_int_equal(fail, SCEP_FAIL_BADALG);
    assert_int_equal(calls, 0);
    assert_int_equal(
        scep_envelope_open(env, env_len, cert, 1, unwrap, &calls, &content, &len, &nid, &fail, &e),
        0);
    assert_int_equal(nid, NID_des_ede3_cbc);
    free(content);
    free(env);
    /* For another certificate (another serial): badMessageCheck. */
    ASN1_INTEGER_set(X509_get_serialNumber(other), 8);
    env = envelope_with("x", cert, EVP_aes_128_cbc(), &env_len);
    assert_int_equal(
        scep_envelope_open(env, env_len, other, 0, unwrap, &calls, &content, &len, &nid, &fail, &e),
        -1);
    assert_int_equal(fail, SCEP_FAIL_BADMESSAGECHECK);
    assert_int_equal(
        scep_envelope_open(env, 5, cert, 0, unwrap, &calls, &content, &len, &nid, &fail, &e), -1);
    free(env);
    X509_free(other);
}

static void certpoll_getcert_and_getcrl_content_is_read(void **state)
{
    PKCS7_ISSUER_AND_SERIAL *ias = PKCS7_ISSUER_AND_SERIAL_new();
    unsigned char *der = NULL;
    struct scep_ref r;
    struct err e;
    int n;

    (void)state;
    X509_NAME_set(&ias->issuer, X509_get_issuer_name(cert));
    ASN1_INTEGER_set(ias->serial, 4242);
    n = i2d_PKCS7_ISSUER_AND_SERIAL(ias, &der);
    assert_true(n > 0);
    assert_int_equal(scep_ref_parse(SCEP_MSG_GETCERT, der, (size_t)n, &r, &e), 0);
    assert_int_equal(X509_NAME_cmp(r.issuer, X509_get_issuer_name(cert)), 0);
    assert_int_equal(ASN1_INTEGER_get(r.serial), 4242);
    scep_ref_clear(&r);
    assert_int_equal(scep_ref_parse(SCEP_MSG_GETCRL, der, (size_t)n, &r, &e), 0);
    scep_ref_clear(&r);
    /* An IssuerAndSerialNumber is no IssuerAndSubject; a truncated one is nothing. */
    assert_int_equal(scep_ref_parse(SCEP_MSG_CERTPOLL, der, (size_t)n, &r, &e), -1);
    assert_int_equal(scep_ref_parse(SCEP_MSG_GETCERT, der, (size_t)n - 1, &r, &e), -1);
    scep_ref_clear(NULL);
    OPENSSL_free(der);
    PKCS7_ISSUER_AND_SERIAL_free(ias);
}

/* The sign callback, done here with key; counts its calls. */
static int sign(void *arg, const char *md, const unsigned char *tbs, size_t len,
                unsigned char **sig, size_t *sig_len, struct err *e)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    (void)e;
    (*(int *)arg)++;
    assert_int_equal(tbs[0], 0x31); /* the SET OF the signed attributes */
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_get_digestbyname(md), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, NULL, sig_len, tbs, len), 1);
    *sig = malloc(*sig_len);
    assert_int_equal(EVP_DigestSign(ctx, *sig, sig_len, tbs, len), 1);
    EVP_MD_CTX_free(ctx);
    return 0;
}

/* The one value of attribute oid of the CertRep's signer, as an ASN1_STRING of type. */
static const ASN1_STRING *rep_attr(CMS_ContentInfo *cms, const char *oid, int type)
{
    CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    const ASN1_STRING *v = CMS_signed_get0_data_by_OBJ(si, o, -3, type);

    ASN1_OBJECT_free(o);
    return v;
}

static void a_certrep_is_signed_by_the_ra_and_enveloped_for_the_requester(void **state)
{
    static const unsigned char nonce[SCEP_NONCE_LEN] = "fedcba9876543210";
    struct scep_reply r = {.status = SCEP_SUCCESS,
                           .txid = "tx-9",
                           .recipient_nonce = nonce,
                           .ra = cert,
                           .digest_nid = NID_sha256,
                           .certs = cert_der,
                           .certs_len = cert_len,
                           .recipient = cert,
                           .cipher_nid = NID_aes_128_cbc};
    unsigned char *out = NULL;
    const unsigned char *p;
    size_t len = 0;
    struct err e;
    int calls = 0;
    CMS_ContentInfo *cms;
    BIO *content = BIO_new(BIO_s_mem());
    STACK_OF(X509) *sk = sk_X509_new_null();
    const ASN1_STRING *v;

    (void)state;
    assert_int_equal(scep_certrep(&r, sign, &calls, &out, &len, &e), 0);
    assert_int_equal(calls, 1);
    p = out;
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    assert_non_null(cms);
    sk_X509_push(sk, cert);
    assert_int_equal(
        CMS_verify(cms, sk, NULL, NULL, content, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY), 1);
    v = rep_attr(cms, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING);
    assert_non_null(v);
    assert_memory_equal(ASN1_STRING_get0_data(v), "3", 1);
    v = rep_attr(cms, "2.16.840.1.113733.1.9.3", V_ASN1_PRINTABLESTRING);
    assert_memory_equal(ASN1_STRING_get0_data(v), "0", 1);
    assert_null(rep_attr(cms, "2.16.840.1.113733.1.9.4", V_ASN1_PRINTABLESTRING));
    v = rep_attr(cms, "2.16.840.1.113733.1.9.6", V_ASN1_OCTET_STRING);
    assert_memory_equal(ASN1_STRING_get0_data(v), nonce, SCEP_NONCE_LEN);
    v = rep_attr(cms, "2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING);
    assert_memory_equal(ASN1_STRING_get0_data(v), "tx-9", 4);
    {
        /* The content: an EnvelopedData for the requester of a certs-only PKCS#7. */
        BUF_MEM *m = NULL;
        const unsigned char *q;
        PKCS7 *env, *inner;
        BIO *plain = BIO_new(BIO_s_mem());
        BIO_get_mem_ptr(content, &m);
        q = (const unsigned char *)m->data;
        env = d2i_PKCS7(NULL, &q, (long)m->length);
        assert_non_null(env);
        assert_int_equal(PKCS7_decrypt(env, key, cert, plain, 0), 1);
        BIO_get_mem_ptr(plain, &m);
        q = (const unsigned char *)m->data;
        inner = d2i_PKCS7(NULL, &q, (long)m->length);
        assert_non_null(inner);
        assert_int_equal(sk_X509_num(inner->d.sign->cert), 1);
        assert_int_equal(X509_cmp(sk_X509_value(inner->d.sign->cert, 0), cert), 0);
        PKCS7_free(inner);
        PKCS7_free(env);
        BIO_free(plain);
    }
    CMS_ContentInfo_free(cms);
    free(out);
    /* FAILURE: failInfo, and no content to open. */
    r.status = SCEP_FAILURE;
    r.fail = SCEP_FAIL_BADCERTID;
    assert_int_equal(scep_certrep(&r, sign, &calls, &out, &len, &e), 0);
    p = out;
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    v = rep_attr(cms, "2.16.840.1.113733.1.9.4", V_ASN1_PRINTABLESTRING);
    assert_non_null(v);
    assert_memory_equal(ASN1_STRING_get0_data(v), "4", 1);
    assert_int_equal(ASN1_STRING_length(*CMS_get0_content(cms)), 0);
    CMS_ContentInfo_free(cms);
    free(out);
    BIO_free(content);
    sk_X509_free(sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operations_and_caps),
        cmocka_unit_test(getcacert_holds_the_ra_and_ca_certificates),
        cmocka_unit_test(a_pki_message_is_read_and_its_signature_checked),
        cmocka_unit_test(messages_breaking_rfc_8894_are_refused),
        cmocka_unit_test(get_messages_decode_with_spaces_for_plus),
        cmocka_unit_test(an_envelope_for_the_ra_opens_and_others_fail_with_their_fail_info),
        cmocka_unit_test(certpoll_getcert_and_getcrl_content_is_read),
        cmocka_unit_test(a_certrep_is_signed_by_the_ra_and_enveloped_for_the_requester),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
