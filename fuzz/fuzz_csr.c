/*
 * fuzz_csr.c — libFuzzer driver: arbitrary bytes as a CSR (PEM or DER)
 * through csr_parse, issue_request_from_csr and profile_check against the
 * built-in tls-server profile.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "core/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct profile *tls_server;

/* issue_request_from_csr + profile_check on a decoded CSR. */
static void fuzz_request(X509_REQ *csr)
{
    struct issue_request r = {0};
    struct err e = {0};

    if (issue_request_from_csr(&r, csr, &e) == 0) {
        (void)profile_check(tls_server, &r, &e);
        issue_request_clear(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    struct err e = {0};
    X509_REQ *csr;

    if (tls_server == NULL &&
        (tls_server = profile_parse(profile_builtin_json("tls-server"), &e)) == NULL)
        abort();
    csr = csr_parse(data, size, &e);
    /*
     * Mutations rarely keep the self-signature valid; to reach the request
     * and profile code with arbitrary subjects and SANs, a CSR that only
     * decodes goes through it as well (in production csr_parse comes first).
     */
    if (csr == NULL)
        csr = d2i_X509_REQ(NULL, &p, (long)size);
    if (csr != NULL)
        fuzz_request(csr);
    X509_REQ_free(csr);
    ERR_clear_error();
    return 0;
}
