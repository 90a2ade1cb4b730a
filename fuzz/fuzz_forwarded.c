/*
 * fuzz_forwarded.c — who a request comes from behind a proxy
 * (http/http_forwarded.c): the trusted_proxies setting and the
 * X-Forwarded-For header, and the address parser under both (lib/netaddr.c).
 *
 * Input: "PROXIES\nHEADER" parses PROXIES as the setting and reads HEADER
 * against it; without a line break the input is a header read against a
 * fixed list of proxies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "lib/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *header = text, client[64];
    struct netaddr *proxies = NULL, a, b;
    size_t n = 0;
    struct err e;

    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    if (nl != NULL) {
        *nl = '\0';
        header = nl + 1;
        if (http_proxies_parse(text, &proxies, &n, &e) != 0) {
            free(text);
            return 0;
        }
    } else if (http_proxies_parse("10.0.0.0/8, 127.0.0.1 ::1,2001:db8::/32", &proxies, &n, &e) !=
               0) {
        abort();
    }
    if (http_forwarded_client(proxies, n, header, client, sizeof(client), &e) == 0 &&
        (netaddr_parse(client, &a) != 0 || strchr(client, '/') != NULL))
        abort(); /* what it gives as the client is always an address */
    if (netaddr_parse(header, &a) == 0 && netaddr_parse("0.0.0.0/0", &b) == 0)
        (void)netaddr_within(&a, &b);
    free(proxies);
    free(text);
    return 0;
}
