/*
 * fuzz_bundle.c — libFuzzer driver: arbitrary bytes as an offline CA's bundle
 * (docs/offline.md) through the importer's envelope checks: JSON, base64,
 * the OfflineBundle digest DER, the payload's hash, the signer's certificate
 * and the signature.  The seed is a real bundle, so mutations reach every
 * step.
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>

#include "svc/svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e;

    err_clear(&e);
    if (svc_offline_bundle_check((const char *)data, size, "default", &e) != 0 && e.msg[0] == 0)
        __builtin_trap(); /* a refusal always says why */
    ERR_clear_error();
    return 0;
}
