/*
 * fuzz_wire.c — the signer's frame body parser (keys/wire.c): what the signer
 * runs on every request from the network process, which an attacker who owns
 * that process controls completely.
 */
#include <stdint.h>
#include <stdlib.h>

#include "keys/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *field;
    size_t len;
    uint64_t v;

    if (wire_check(data, size) != 0)
        return 0;
    for (int tag = T_TENANT; tag <= T_PKCS12; tag++) {
        for (int i = 0; i < 4 && wire_get(data, size, tag, i, &field, &len) == 0; i++)
            if (len > 0 && (field < data || field + len > data + size))
                abort(); /* a field must lie inside the frame */
        free(wire_get_str(data, size, tag, 1024));
        wire_get_u64(data, size, tag, &v);
    }
    return 0;
}
