/*
 * fuzz_route.c — request paths against the real API route tables
 * (http/http_route.c): percent-decoding, parameter extraction and matching.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *methods[] = {"GET", "POST", "PUT", "DELETE"};
    char *path = malloc(size + 1);
    size_t n;

    memcpy(path, data, size);
    path[size] = '\0';
    for (int table = 0; table < 2; table++) {
        const struct http_route *routes = table ? api_public_routes(&n) : api_routes(&n);
        for (size_t m = 0; m < 4; m++) {
            struct http_request req;
            char *storage = NULL;
            int mismatch = 0;
            memset(&req, 0, sizeof(req));
            if (http_route_match(routes, n, methods[m], path, &req, &storage, &mismatch)) {
                for (int i = 0; i < req.nparams; i++)
                    if (req.param_values[i] == NULL || req.param_values[i][0] == '\0')
                        abort(); /* a matched parameter is never empty */
            }
            free(storage);
        }
    }
    free(path);
    return 0;
}
