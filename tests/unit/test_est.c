/* test_est.c — src/est: EST request bodies, Basic credentials, certs-only, CsrAttrs, serverkeygen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "est/est.h"

/* A DER SEQUENCE of n bytes of content (n < 128), as base64 (caller frees). */
static char *b64_of(const unsigned char *der, size_t n)
{
    char *t = calloc(1, (n + 2) / 3 * 4 + 1);

    assert_non_null(t);
    EVP_EncodeBlock((unsigned char *)t, der, (int)n);
    return t;
}

static const unsigned char seq[] = {0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07};

static void bodies_with_or_without_line_breaks_decode(void **state)
{
    char *b64 = b64_of(seq, sizeof(seq)), wrapped[64];
    unsigned char *der = NULL;
    size_t len = 0;
    struct err e;

    (void)state;
    assert_int_equal(est_body_decode((unsigned char *)b64, strlen(b64), &der, &len, &e), 0);
    assert_int_equal(len, sizeof(seq));
    assert_memory_equal(der, seq, len);
    free(der);
    /* RFC 8951: base64 wrapped in lines (CRLF, spaces) is taken too. */
    snprintf(wrapped, sizeof(wrapped), "%.4s\r\n%.4s \n%s\r\n", b64, b64 + 4, b64 + 8);
    assert_int_equal(est_body_decode((unsigned char *)wrapped, strlen(wrapped), &der, &len, &e), 0);
    assert_memory_equal(der, seq, sizeof(seq));
    free(der);
    free(b64);
}

static void bad_bodies_are_refused(void **state)
{
    static const char *const bad[] = {"",
                                      "!!!!",
                                      "MAA",
                                      "MAYCAQUCAQc=AAAA",
                                      "AAAA",
                                      /* a SEQUENCE claiming more than it has */ "MAgCAQUCAQc="};
    unsigned char *der = NULL;
    size_t len = 0;
    struct err e;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            est_body_decode((const unsigned char *)bad[i], strlen(bad[i]), &der, &len, &e), -1);
        assert_int_equal(e.kind, ERR_INVALID);
        assert_null(der);
    }
    {
        size_t big = EST_BODY_MAX + 4;
        unsigned char *b = malloc(big);
        memset(b, 'A', big);
        assert_int_equal(est_body_decode(b, big, &der, &len, &e), -1);
        assert_int_equal(e.kind, ERR_TOO_LARGE);
        free(b);
    }
}

static void basic_credentials_parse_and_refuse(void **state)
{
    char *user = NULL, *password = NULL;
    struct err e;

    (void)state;
    /* "router-1:s3cr:et" — the password may hold a colon */
    assert_int_equal(est_basic_parse("Basic cm91dGVyLTE6czNjcjpldA==", &user, &password, &e), 0);
    assert_string_equal(user, "router-1");
    assert_string_equal(password, "s3cr:et");
    free(user);
    free(password);
    static const char *const bad[] = {"Bearer abc",
                                      "Basic",
                                      "Basic %%%%",
                                      "Basic dXNlcg==" /* "user": no colon */,
                                      "Basic OnB3" /* ":pw" */,
                                      "Basic dTo=" /* "u:" */,
                                      "Basic dQo6cA==" /* "u\n:p" */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(est_basic_parse(bad[i], &user, &password, &e), -1);
        assert_int_equal(e.kind, ERR_UNAUTHENTICATED);
    }
}

static void operations_by_name(void **state)
{
    (void)state;
    assert_int_equal(est_op_of("cacerts"), EST_OP_CACERTS);
    assert_int_equal(est_op_of("simplereenroll"), EST_OP_SIMPLEREENROLL);
    assert_int_equal(est_op_of("serverkeygen"), EST_OP_SERVERKEYGEN);
    assert_int_equal(est_op_of("csrattrs"), EST_OP_CSRATTRS);
    assert_int_equal(est_op_of("fullcmc"), EST_OP_FULLCMC);
    assert_int_equal(est_op_of("simpleEnroll"), EST_OP_NONE);
    assert_int_equal(est_op_of(NULL), EST_OP_NONE);
}

/* A self-signed certificate's DER (caller frees). */
static unsigned char *self_signed(size_t *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    unsigned char *der = NULL;
    int n;

    assert_non_null(k);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"t", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    n = i2d_X509(x, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    X509_free(x);
    EVP_PKEY_free(k);
    return der;
}

static void certs_only_is_one_line_of_a_degenerate_signed_data(void **state)
{
    size_t n = 0, len = 0, two_len;
    unsigned char *one = self_signed(&n), *two = malloc(2 * n), *raw;
    char *b64 = NULL;
    const unsigned char *p;
    PKCS7 *p7;
    struct err e;

    (void)state;
    memcpy(two, one, n);
    memcpy(two + n, one, n);
    two_len = 2 * n;
    assert_int_equal(est_certs_only(two, two_len, &b64, &len, &e), 0);
    assert_int_equal(strlen(b64), len);
    assert_null(strchr(b64, '\n'));
    raw = malloc(len);
    int got = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)len);
    assert_true(got > 0);
    p = raw;
    p7 = d2i_PKCS7(NULL, &p, got);
    assert_non_null(p7);
    assert_true(PKCS7_type_is_signed(p7));
    assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
    PKCS7_free(p7);
    free(raw);
    free(b64);
    /* Not a sequence of DER SEQUENCEs: refused. */
    {
        static const unsigned char integer[] = {0x02, 0x01, 0x05};
        assert_int_equal(est_certs_only(integer, sizeof(integer), &b64, &len, &e), -1);
        assert_int_equal(est_certs_only(one, n - 1, &b64, &len, &e), -1);
    }
    free(two);
    OPENSSL_free(one);
}

static void csrattrs_and_serverkeygen_answers(void **state)
{
    static const char *const oids[] = {"1.2.840.10045.4.3.2", "1.2.840.113549.1.9.14"};
    char *b64 = NULL, *body = NULL, *ctype = NULL, *boundary;
    size_t len = 0, n = 0;
    unsigned char *cert = self_signed(&n);
    struct err e;

    (void)state;
    assert_int_equal(est_csrattrs(oids, 2, &b64, &len, &e), 0);
    assert_string_equal(b64, "MBUGCCqGSM49BAMCBgkqhkiG9w0BCQ4=");
    free(b64);
    assert_int_equal(est_serverkeygen_answer(seq, sizeof(seq), cert, n, &body, &len, &ctype, &e),
                     0);
    boundary = strstr(ctype, "boundary=");
    assert_non_null(boundary);
    assert_non_null(strstr(body, "Content-Type: application/pkcs8\r\n\r\nMAYCAQUCAQc=\r\n"));
    assert_non_null(strstr(body, "smime-type=certs-only"));
    assert_null(strstr(body, "Content-Transfer-Encoding"));
    assert_non_null(strstr(body, boundary + strlen("boundary=")));
    free(body);
    free(ctype);
    OPENSSL_free(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bodies_with_or_without_line_breaks_decode),
        cmocka_unit_test(bad_bodies_are_refused),
        cmocka_unit_test(basic_credentials_parse_and_refuse),
        cmocka_unit_test(operations_by_name),
        cmocka_unit_test(certs_only_is_one_line_of_a_degenerate_signed_data),
        cmocka_unit_test(csrattrs_and_serverkeygen_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
