/*
 * fuzz_tbs.c — the signer's check of what it is asked to sign (keys/tbs.c):
 * it parses bytes chosen by whoever controls the network process.
 */
#include <stdint.h>
#include <string.h>

#include "keys/tbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *kind = tbs_kind(data, size);

    if (kind != NULL && strcmp(kind, "certificate") != 0 && strcmp(kind, "CRL") != 0 &&
        strcmp(kind, "CSR") != 0 && strcmp(kind, "OCSP response") != 0 &&
        strcmp(kind, "TSTInfo") != 0 && strcmp(kind, "audit checkpoint") != 0 &&
        strcmp(kind, "offline bundle") != 0)
        __builtin_trap();
    return 0;
}
