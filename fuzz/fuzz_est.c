/*
 * fuzz_est.c — libFuzzer driver: arbitrary bytes as an EST request body
 * (est_body_decode, then the CSR it should be), as an Authorization header
 * value (est_basic_parse) and as the certificates of a certs-only answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "est/est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *der = NULL;
    size_t len = 0;
    char *header, *user = NULL, *password = NULL;
    struct err e = {0};

    if (est_body_decode(data, size, &der, &len, &e) == 0) {
        const unsigned char *p = der;
        X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
        X509_REQ_free(req);
        free(der);
    }
    /* The certs-only answer of whatever DER it is given (the store's certificates in life). */
    {
        char *b64 = NULL;
        if (est_certs_only(data, size, &b64, &len, &e) == 0)
            free(b64);
    }
    header = malloc(size + 1);
    if (header == NULL)
        abort();
    memcpy(header, data, size);
    header[size] = '\0';
    if (est_basic_parse(header, &user, &password, &e) == 0) {
        free(user);
        free(password);
    }
    free(header);
    ERR_clear_error();
    return 0;
}
