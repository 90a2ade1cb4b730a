/* netaddr.c — IPv4 and IPv6 addresses and networks as text (see netaddr.h). */
#include "lib/netaddr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int netaddr_parse(const char *text, struct netaddr *out)
{
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    char addr[INET6_ADDRSTRLEN + 1], *end;
    long bits;

    memset(out, 0, sizeof(*out));
    if (len == 0 || len >= sizeof(addr))
        return -1;
    memcpy(addr, text, len);
    addr[len] = '\0';
    out->v6 = strchr(addr, ':') != NULL;
    if (inet_pton(out->v6 ? AF_INET6 : AF_INET, addr, out->addr) != 1)
        return -1;
    out->bits = out->v6 ? 128 : 32;
    if (slash != NULL) {
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || bits > out->bits)
            return -1;
        out->bits = (int)bits;
    }
    if (out->v6 && out->bits >= 96 && memcmp(out->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->v6 = 0;
        out->bits -= 96;
    }
    return 0;
}

int netaddr_within(const struct netaddr *a, const struct netaddr *net)
{
    int whole = net->bits / 8, rest = net->bits % 8;

    if (a->v6 != net->v6 || a->bits < net->bits || memcmp(a->addr, net->addr, (size_t)whole) != 0)
        return 0;
    return rest == 0 || ((a->addr[whole] ^ net->addr[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}
