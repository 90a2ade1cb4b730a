/*
 * fuzz_scep_content.c — libFuzzer driver for what is inside a SCEP
 * pkiMessage: arbitrary bytes as its EnvelopedData (scep_envelope_open, with
 * and without legacy algorithms; the content key unwrapped with the RA key
 * below, as the signer would), as the decrypted content of a CertPoll, * GetCert and GetCRL
 * (scep_ref_parse). The corpus (fuzz/corpus/scep_content) has envelopes made for RA_CERT.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "scep/scep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A test RA (made for this driver; nothing else uses it). */
static const char RA_CERT[] = "-----BEGIN CERTIFICATE-----\n"
                              "MIIDETCCAfmgAwIBAgIUOkHBwDqaGoaSiFRVt3lNdLeUXk4wDQYJKoZIhvcNAQEL\n"
                              "BQAwFzEVMBMGA1UEAwwMZnV6eiBTQ0VQIFJBMCAXDTI2MTIwODAyMjc0NVoYDzIx\n"
                              "MjYxMTE0MDIyNzQ1WjAXMRUwEwYDVQQDDAxmdXp6IFNDRVAgUkEwggEiMA0GCSqG\n"
                              "SIb3DQEBAQUAA4IBDwAwggEKAoIBAQC15EcvIMPjhQxc2T20ccdMzunt+Kq65J0n\n"
                              "Ke/XswX4ilEmrJJzPyqV3u1oJQjrd2k0CZTkTzirUMNxYd8uxggNemKC7EWqKZxd\n"
                              "c0eFmKpnXHL4Vb6hDQzit4SH3Eis/hRlHM1KNOAyXgVDC11UbVWtZV9bCMKtAPtf\n"
                              "JP62dInGlEb4oLlZg3k9RsXdnVv3lM+U8Wpc5IgmWmlbdrsqawh4wfP4EpmCtuqU\n"
                              "qecCy/huQzkhwLMcQ4cvbeIVoNm3OTUZWMdiWdX79NAJkgkoc6NiM25MuD8ZEClw\n"
                              "LUCs3okxG1dSA1dg8ZT7LVF9c+2OdPK7OpVuNnkFg3Yd1m0MnfONAgMBAAGjUzBR\n"
                              "MB0GA1UdDgQWBBTk/m6ipYKQ5q/4fMz9wygwTDWwMDAfBgNVHSMEGDAWgBTk/m6i\n"
                              "pYKQ5q/4fMz9wygwTDWwMDAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\n"
                              "A4IBAQBd1Dhl5HZd21ZYGR4SZvoRC4JG4p6DLZBnjeiH2Er7H8V99Y6d/rms1jlT\n"
                              "vFpaen5u/60BNRDqkQJSPtE2JMeNc80JV8w/wbHIxohzRkdid9DPefy8G4FHveEv\n"
                              "okM2IinwxzPPNgC3mzBVDjcFUXgpEAJo8Vk3+JDcAFVXJZNzhQnVUJeMUIT87bkX\n"
                              "yrm2KrJcXTK33PFiHvm+Al29Gb47vjXQqgal+rD20eyMiuyv05kw5LqQ25I9iekF\n"
                              "jbYvIKGKanXEheWOwHHt0Zwp4kfjujYzM+0t8Z/fqtdNNGSfdtrRddXotgKwetOL\n"
                              "27ExEld9mRoat2S38tTjWXypruBa\n"
                              "-----END CERTIFICATE-----\n";
static const char RA_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                             "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC15EcvIMPjhQxc\n"
                             "2T20ccdMzunt+Kq65J0nKe/XswX4ilEmrJJzPyqV3u1oJQjrd2k0CZTkTzirUMNx\n"
                             "Yd8uxggNemKC7EWqKZxdc0eFmKpnXHL4Vb6hDQzit4SH3Eis/hRlHM1KNOAyXgVD\n"
                             "C11UbVWtZV9bCMKtAPtfJP62dInGlEb4oLlZg3k9RsXdnVv3lM+U8Wpc5IgmWmlb\n"
                             "drsqawh4wfP4EpmCtuqUqecCy/huQzkhwLMcQ4cvbeIVoNm3OTUZWMdiWdX79NAJ\n"
                             "kgkoc6NiM25MuD8ZEClwLUCs3okxG1dSA1dg8ZT7LVF9c+2OdPK7OpVuNnkFg3Yd\n"
                             "1m0MnfONAgMBAAECgf9efzp8QYmDqpvBoRtto67nOJhQCeCpOBxtPFxes6NmfHWs\n"
                             "oftz5F07f5XXhWYc7uy5HEE+W+oVFuBzB2Xr5vZICk0jt5x5yyRxaHK/9ZCSInWY\n"
                             "jvN6uEz5fF5eNxOKzHXMEiqVYuMXR8F0E3NpaWQZsZDYurRpLRlrVMz//YuWnpIF\n"
                             "aV6AwYyIE0oX53OsfWZgVINYeAYKPh0qt78wVqDO0/Tk7U0mNoU585PkDwbFuFSp\n"
                             "A5mxHUuGMauKwrQ4Y8Q/H/4OBoR6gpnLTxBeoSy/7XWy8TjdHFbz/sbAymjXZOON\n"
                             "W6ZXGsG+G8bMqCp1L9XIqRKE/oZED9JJrdbxjm0CgYEA2j/K0MD4LbsvKRKSA/Ys\n"
                             "vlJkLgzo+RtCxIXCnlvpHbJLgxiNfu/dRS+WSZhHeRWb0j3YvVVrX4+lR3IGTnya\n"
                             "o95lRtidR7x+413U7k0Y8PhH5oH9ZUEgpVrRT9vmbNO9YPXwgmlDf2N+jz580Exc\n"
                             "nm1R3uPDrpLo6FI6M6yr+LsCgYEA1VqN8HWoETXSqfErBCBQ0+x0bQ6S6IexVSEY\n"
                             "Xm4aVFu4VnXhHkbK4iSmRxpgFc6OLla7MBZPhLXwprIsWyVEIF3OeH4nPlxHk4sw\n"
                             "3eG39voVeRy5E/YXi6js0oD133qeABZOHMQu3CR0A93j7teNLd1Q7gOVWk7UIVU7\n"
                             "vP0EhFcCgYEAmlA0lPl8AMmzBLVurIJpDICw+KaEK24M/WseOl3+K9Me9ShtE22B\n"
                             "5CNLfem/z2tp63NzRhuZec3VLPkAYIpVxLvAnCEYw9oRVa3Iml3E3syN+fu7MNal\n"
                             "wITALljrSdNEucPrNCo9YVr1505lbdowOoxNMO2WNF8HcwyAvny+c3UCgYAcq8Gd\n"
                             "ScJfJbN8oOsd79XM1N7EdQvq8akz/nGO5w7kvTqla8vnzK2g/DnYHkRBSfOzaHZZ\n"
                             "PPZMqEKBtDnfub9Q9ioz6QgPCkmYG0Fi391f9DWEhAafFxgM7ZN9qlTgRlMLQfQX\n"
                             "S4ncjY2Fo4Do7NCNFEu24IZmj2dUX2bau8mqmwKBgQDSdDlF/25p327HT1p7fVOk\n"
                             "hb0Dekkp9quhUsyNgkF8PnKDB6fwT1R3N/jVyat2F4gat5gLq8ORkxtwgOE9UBNs\n"
                             "De7YPAsBLicwZGG8WKT8yw3DCifugHv5JrTAIm+AOK4RiqKsVC+VtYQlj5s7DAEO\n"
                             "UuvBVAWAzIDWd08TzlOodQ==\n"
                             "-----END PRIVATE KEY-----\n";

static EVP_PKEY *ra_key;
static X509 *ra;

static void setup(void)
{
    BIO *b = BIO_new_mem_buf(RA_CERT, -1), *k = BIO_new_mem_buf(RA_KEY, -1);
    ra = PEM_read_bio_X509(b, NULL, NULL, NULL);
    ra_key = PEM_read_bio_PrivateKey(k, NULL, NULL, NULL);
    if (ra_key == NULL || ra == NULL)
        abort();
    BIO_free(b);
    BIO_free(k);
}

/* As the signer: the key of key_len bytes, or random-looking bytes when it does not decrypt. */
static int unwrap(void *arg, const unsigned char *enc, size_t enc_len, unsigned char *key,
                  size_t key_len, struct err *e)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(ra_key, NULL);
    unsigned char out[512];
    size_t n = sizeof(out);

    (void)arg;
    (void)e;
    memset(key, 0x5a, key_len);
    if (ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 && enc_len <= sizeof(out) &&
        EVP_PKEY_decrypt(ctx, out, &n, enc, enc_len) == 1 && n == key_len)
        memcpy(key, out, key_len);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum scep_msg_type refs[] = {SCEP_MSG_CERTPOLL, SCEP_MSG_GETCERT, SCEP_MSG_GETCRL};
    unsigned char *content = NULL;
    size_t len = 0;
    enum scep_fail fail;
    struct scep_ref ref;
    struct err e = {0};
    int nid = 0;

    if (ra_key == NULL)
        setup();
    for (int legacy = 0; legacy < 2; legacy++)
        if (scep_envelope_open(data, size, ra, legacy, unwrap, NULL, &content, &len, &nid, &fail,
                               &e) == 0)
            free(content);
    for (size_t i = 0; i < sizeof(refs) / sizeof(*refs); i++)
        if (scep_ref_parse(refs[i], data, size, &ref, &e) == 0)
            scep_ref_clear(&ref);
    ERR_clear_error();
    return 0;
}
