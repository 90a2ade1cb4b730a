/*
 * netaddr.h — IPv4 and IPv6 addresses and networks as text ("192.0.2.7",
 * "2001:db8::/32"), for allowlists and trusted proxies.
 */
#ifndef VOUCH_NETADDR_H
#define VOUCH_NETADDR_H

/* An address (bits = its whole length) or a network (bits = its prefix). */
struct netaddr {
    int v6;
    unsigned char addr[16];
    int bits;
};

/*
 * Parses "address" or "address/prefix", IPv4 or IPv6; 0 ok, -1 if it is not
 * one.  An IPv4-mapped IPv6 address (::ffff:192.0.2.7) is read as the IPv4
 * address it maps, so that a dual-stack listener's peers match IPv4 networks.
 */
int netaddr_parse(const char *text, struct netaddr *out);
/* Whether address a lies within network net (same family, same leading bits). */
int netaddr_within(const struct netaddr *a, const struct netaddr *net);

#endif
