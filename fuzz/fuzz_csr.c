/*
 * fuzz_csr.c — libFuzzer driver: arbitrary bytes as a CSR (PEM or DER)
 * through csr_read and profile_check against the built-in tls-server
 * profile.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "core/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct profile *tls_server;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct issue_request r = {0};
    struct err e = {0};

    if (tls_server == NULL &&
        (tls_server = profile_parse(profile_builtin_json("tls-server"), &e)) == NULL)
        abort();
    /*
     * Mutations rarely keep the self-signature valid; to reach the request
     * and profile code with arbitrary subjects and SANs, a CSR that only
     * decodes goes through it as well (in production the signature is checked).
     */
    if (csr_read(data, size, 0, &r, &e) == 0 || csr_read(data, size, CSR_UNSIGNED_OK, &r, &e) == 0)
        (void)profile_check(tls_server, &r, &e);
    issue_request_clear(&r);
    ERR_clear_error();
    return 0;
}
