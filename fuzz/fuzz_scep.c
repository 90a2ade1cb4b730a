/*
 * fuzz_scep.c — libFuzzer driver: arbitrary bytes as a SCEP pkiMessage
 * (scep_message_parse, with and without legacy algorithms), as the base64
 * `message` argument of a PKIOperation by GET (scep_message_decode), and as
 * the CA certificates of a GetCACert answer (scep_ca_ra_certs).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "scep/scep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scep_message m = {0};
    struct err e = {0};
    unsigned char *der = NULL;
    size_t len = 0;
    char *text;

    for (int legacy = 0; legacy < 2; legacy++)
        if (scep_message_parse(data, size, legacy, &m, &e) == 0)
            scep_message_clear(&m);
    text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    if (scep_message_decode(text, &der, &len, &e) == 0) {
        if (scep_message_parse(der, len, 0, &m, &e) == 0)
            scep_message_clear(&m);
        free(der);
    }
    free(text);
    /* The GetCACert answer of whatever DER it is given (the store's certificates in life). */
    if (scep_ca_ra_certs(data, size, NULL, 0, &der, &len, &e) == 0)
        free(der);
    ERR_clear_error();
    return 0;
}
