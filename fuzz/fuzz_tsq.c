/*
 * fuzz_tsq.c — libFuzzer driver: arbitrary bytes as an RFC 3161 TimeStampReq
 * through tsa_query_parse against a unit's policy, then, for requests that
 * pass, the TSTInfo and response encoders the responder uses next.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "core/profile.h"
#include "core/tsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tsa_policy policy;
static int ready;

/* Builds what the responder builds for an accepted request; checks it decodes. */
static void fuzz_accepted(const struct tsa_query *q)
{
    struct timespec now = {1700000000, 123000000};
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    unsigned char *der = NULL, *resp = NULL;
    const unsigned char *p;
    size_t len, resp_len;
    char *gen_time = NULL, *hex;
    TS_TST_INFO *back;
    struct err e;

    ASN1_INTEGER_set(serial, 42);
    if (tsa_tst_build(q, &policy, serial, &now, NULL, &der, &len, &gen_time, &e) != 0)
        abort(); /* every accepted request must give a TSTInfo */
    p = der;
    if ((back = d2i_TS_TST_INFO(NULL, &p, (long)len)) == NULL || p != der + len)
        abort();
    TS_TST_INFO_free(back);
    if (tsa_resp_granted(der, len, &resp, &resp_len) != 0)
        abort();
    free(tsa_query_imprint_hex(q));
    hex = tsa_query_nonce_hex(q);
    free(hex);
    OPENSSL_free(resp);
    OPENSSL_free(der);
    free(gen_time);
    ASN1_INTEGER_free(serial);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tsa_query q;
    enum tsa_failure f;
    unsigned char *resp = NULL;
    size_t resp_len;
    char why[128];
    struct err e;

    if (!ready && tsa_policy_init(&policy, "1.3.6.1.4.1.99999.1", "[\"1.2.3.4\"]",
                                  "[\"sha1\", \"sha256\", \"sha384\", \"sha512\"]", 1500, &e) != 0)
        abort();
    ready = 1;
    if (tsa_query_parse(&policy, data, size, &q, &f, why, sizeof(why)) == 0) {
        fuzz_accepted(&q);
        tsa_query_clear(&q);
    } else if (tsa_resp_refusal(f, why, &resp, &resp_len) != 0) {
        abort();
    }
    OPENSSL_free(resp);
    ERR_clear_error();
    return 0;
}
