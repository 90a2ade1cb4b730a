/*
 * validate.c — ACME challenge validation: settings, the address policy, the
 * identifier's targets, dns-01 (RFC 8555 §8.4) and the dispatch to http-01
 * (http01.c) and tls-alpn-01 (alpn.c).  See validate.h.
 */
#include "acme/validate_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ares.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/*
 * Special-purpose ranges refused unless allowed (IANA's IPv4 and IPv6
 * special-purpose address registries, and what no ACME client serves from).
 */
static const struct {
    const char *net;
    const char *what;
} special_ranges[] = {
    {"0.0.0.0/8", "\"this network\" (RFC 791), the unspecified address"},
    {"10.0.0.0/8", "private (RFC 1918)"},
    {"100.64.0.0/10", "shared address space, CGNAT (RFC 6598)"},
    {"127.0.0.0/8", "loopback (RFC 1122)"},
    {"169.254.0.0/16", "link-local (RFC 3927)"},
    {"172.16.0.0/12", "private (RFC 1918)"},
    {"192.0.0.0/24", "IETF protocol assignments (RFC 6890)"},
    {"192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"},
    {"192.88.99.0/24", "6to4 relay anycast (RFC 7526)"},
    {"192.168.0.0/16", "private (RFC 1918)"},
    {"198.18.0.0/15", "benchmarking (RFC 2544)"},
    {"198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"},
    {"203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"},
    {"224.0.0.0/4", "multicast (RFC 5771)"},
    {"240.0.0.0/4", "reserved (RFC 1112), or broadcast"},
    {"::/128", "the unspecified address (RFC 4291)"},
    {"::1/128", "loopback (RFC 4291)"},
    {"::/96", "IPv4-compatible, deprecated (RFC 4291)"},
    {"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"},
    {"100::/64", "discard-only (RFC 6666)"},
    {"2001::/23", "IETF protocol assignments, Teredo (RFC 2928, RFC 4380)"},
    {"2001:db8::/32", "documentation (RFC 3849)"},
    {"2002::/16", "6to4 (RFC 3056)"},
    {"3fff::/20", "documentation (RFC 9637)"},
    {"5f00::/16", "segment routing SIDs (RFC 9602)"},
    {"fc00::/7", "unique local, private (RFC 4193)"},
    {"fe80::/10", "link-local (RFC 4291)"},
    {"fec0::/10", "site-local, deprecated (RFC 3879)"},
    {"ff00::/8", "multicast (RFC 4291)"},
};

static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static int libs_ok;

/* libcurl's and c-ares's global set-up, once per process (neither is safe to race). */
static void libs_init(void)
{
    libs_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK &&
              ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS;
}

/* ---- errors and the clock -------------------------------------------------------- */

static const struct {
    const char *code;
    enum err_kind kind;
} code_kinds[] = {
    {ACME_ERR_CONNECTION, ERR_UNAVAILABLE}, {ACME_ERR_DNS, ERR_UNAVAILABLE},
    {ACME_ERR_TLS, ERR_UNAVAILABLE},        {ACME_ERR_UNAUTHORIZED, ERR_FORBIDDEN},
    {ACME_ERR_INCORRECT, ERR_FORBIDDEN},    {ACME_ERR_CAA, ERR_POLICY},
    {ACME_ERR_REJECTED, ERR_POLICY},        {ACME_ERR_MALFORMED, ERR_INVALID},
};

int acme_fail(struct err *e, const char *code, const char *fmt, ...)
{
    enum err_kind kind = ERR_INTERNAL;
    va_list ap;

    if (e == NULL)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(code_kinds); i++)
        if (strcmp(code_kinds[i].code, code) == 0)
            kind = code_kinds[i].kind;
    e->kind = kind;
    snprintf(e->code, sizeof(e->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vctx_start(struct vctx *x, const struct acme_validator *v)
{
    x->v = v;
    x->deadline = monotonic_ms() + v->timeout_ms;
}

int vctx_left(const struct vctx *x)
{
    int64_t left = x->deadline - monotonic_ms();

    return left > 0 ? (int)left : 0;
}

int vctx_connect_left(const struct vctx *x)
{
    int left = vctx_left(x);

    return left < x->v->connect_timeout_ms ? left : x->v->connect_timeout_ms;
}

/* ---- settings -------------------------------------------------------------------- */

/* Parses a list of addresses or networks separated by commas or spaces; 0 or -1 (e: which). */
static int ranges_parse(const char *what, const char *text, struct netaddr **out, size_t *n,
                        struct err *e)
{
    const char *p = text;
    char item[64];

    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, ", \t\n");
        if (len == 0) {
            p++;
            continue;
        }
        if (len >= sizeof(item))
            return err_set(e, ERR_USAGE, "%s: \"%.40s...\" is not an address or network", what, p);
        memcpy(item, p, len);
        item[len] = '\0';
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        if (netaddr_parse(item, &(*out)[*n]) != 0)
            return err_set(e, ERR_USAGE, "%s: \"%s\" is not an address or network", what, item);
        (*n)++;
        p += len;
    }
    return 0;
}

static int port_setting(const char *what, int value, int fallback, int *out, struct err *e)
{
    if (value < 0 || value > 65535)
        return err_set(e, ERR_USAGE, "%s: %d is not a port (1-65535)", what, value);
    *out = value ? value : fallback;
    return 0;
}

/* The configured resolvers are handed to a c-ares channel once, to find errors at start. */
static int resolvers_check(const char *csv, struct err *e)
{
    ares_channel ch;
    int rc;

    if ((rc = ares_init(&ch)) != ARES_SUCCESS)
        return err_set(e, ERR_USAGE, "resolvers: c-ares: %s", ares_strerror(rc));
    rc = ares_set_servers_ports_csv(ch, csv);
    ares_destroy(ch);
    if (rc != ARES_SUCCESS)
        return err_set(e, ERR_USAGE, "resolvers: \"%.200s\": %s (addr[:port], comma-separated)",
                       csv, ares_strerror(rc));
    return 0;
}

static int settings_read(struct acme_validator *v, const struct acme_validate_config *c,
                         struct err *e)
{
    if (port_setting("http_port", c->http_port, ACME_VALIDATE_HTTP_PORT, &v->http_port, e) ||
        port_setting("https_port", c->https_port, ACME_VALIDATE_HTTPS_PORT, &v->https_port, e) ||
        port_setting("tls_port", c->tls_port, ACME_VALIDATE_TLS_PORT, &v->tls_port, e))
        return -1;
    v->timeout_ms = c->timeout_ms ? c->timeout_ms : ACME_VALIDATE_TIMEOUT;
    v->connect_timeout_ms =
        c->connect_timeout_ms ? c->connect_timeout_ms : ACME_VALIDATE_CONNECT_TIMEOUT;
    if (v->timeout_ms < 100 || v->timeout_ms > 600000)
        return err_set(e, ERR_USAGE, "timeout_ms: %d is not within 100-600000", v->timeout_ms);
    if (v->connect_timeout_ms < 100 || v->connect_timeout_ms > v->timeout_ms)
        v->connect_timeout_ms = v->connect_timeout_ms < 100 ? 100 : v->timeout_ms;
    if (c->resolvers != NULL && c->resolvers[0] != '\0') {
        if (resolvers_check(c->resolvers, e) != 0)
            return -1;
        v->resolvers = xstrdup(c->resolvers);
    }
    return ranges_parse("allow", c->allow, &v->allow, &v->n_allow, e) ||
                   ranges_parse("deny", c->deny, &v->deny, &v->n_deny, e) ||
                   ranges_parse("own_addresses", c->own_addresses, &v->own, &v->n_own, e)
               ? -1
               : 0;
}

struct acme_validator *acme_validator_new(const struct acme_validate_config *cfg, struct err *e)
{
    static const struct acme_validate_config none;
    struct acme_validator *v;

    pthread_once(&libs_once, libs_init);
    if (!libs_ok) {
        err_set(e, ERR_INTERNAL, "libcurl or c-ares could not be initialised");
        return NULL;
    }
    v = xcalloc(1, sizeof(*v));
    v->special = xcalloc(ARRAY_LEN(special_ranges), sizeof(*v->special));
    for (size_t i = 0; i < ARRAY_LEN(special_ranges); i++)
        if (netaddr_parse(special_ranges[i].net, &v->special[v->n_special++]) != 0)
            abort(); /* the table above is wrong */
    if (settings_read(v, cfg ? cfg : &none, e) != 0) {
        acme_validator_free(v);
        return NULL;
    }
    return v;
}

void acme_validator_free(struct acme_validator *v)
{
    if (v == NULL)
        return;
    free(v->resolvers);
    free(v->allow);
    free(v->deny);
    free(v->own);
    free(v->special);
    free(v);
}

/* ---- the address policy --------------------------------------------------------- */

const char *netaddr_text(const struct netaddr *a, char *buf, size_t len)
{
    if (inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->addr, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}

const char *netaddr_port_text(const struct netaddr *a, int port, char *buf, size_t len)
{
    char text[INET6_ADDRSTRLEN];

    netaddr_text(a, text, sizeof(text));
    snprintf(buf, len, a->v6 ? "[%s]:%d" : "%s:%d", text, port);
    return buf;
}

static int within_any(const struct netaddr *a, const struct netaddr *nets, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (netaddr_within(a, &nets[i]))
            return (int)i + 1;
    return 0;
}

/* The policy's verdict on one address, without looking inside NAT64 addresses. */
static int policy_one(const struct acme_validator *v, const struct netaddr *a, char *why,
                      size_t why_len)
{
    char text[INET6_ADDRSTRLEN];
    int i;

    netaddr_text(a, text, sizeof(text));
    if (within_any(a, v->own, v->n_own))
        return snprintf(why, why_len, "%s: an address of this CA (own_addresses)", text), 0;
    if (within_any(a, v->deny, v->n_deny))
        return snprintf(why, why_len, "%s: in a denied range (deny)", text), 0;
    if (within_any(a, v->allow, v->n_allow))
        return 1;
    if ((i = within_any(a, v->special, v->n_special)) != 0)
        return snprintf(why, why_len, "%s: %s", text, special_ranges[i - 1].what), 0;
    return 1;
}

int policy_allows(const struct acme_validator *v, const struct netaddr *a, char *why,
                  size_t why_len)
{
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    struct netaddr embedded = {.v6 = 0, .bits = 32};

    if (!policy_one(v, a, why, why_len))
        return 0;
    if (!a->v6 || memcmp(a->addr, nat64, sizeof(nat64)) != 0)
        return 1;
    /* 64:ff9b::/96 reaches the IPv4 address in its last 32 bits (RFC 6052). */
    memcpy(embedded.addr, a->addr + 12, 4);
    return policy_one(v, &embedded, why, why_len);
}

int acme_address_check(const struct acme_validator *v, const char *address, struct err *e)
{
    struct netaddr a;
    char why[160];

    if (address == NULL || strchr(address, '/') != NULL || netaddr_parse(address, &a) != 0)
        return acme_fail(e, ACME_ERR_MALFORMED, "\"%.64s\" is not an IP address",
                         address ? address : "");
    if (!policy_allows(v, &a, why, sizeof(why)))
        return acme_fail(e, ACME_ERR_REJECTED, "this CA does not connect to %s", why);
    return 0;
}

/* ---- identifiers and targets ---------------------------------------------------- */

int dns_name_valid(const char *name)
{
    size_t len = strlen(name), label = 0;

    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || name[i - 1] == '-')
                return 0;
            label = 0;
        } else if (isalnum(c) || (c == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

static int ip_literal(const char *host, struct netaddr *a)
{
    return strchr(host, '/') == NULL && netaddr_parse(host, a) == 0;
}

/* t->addrs gets the addresses of sets (A, AAAA) that the policy allows; refused lists the rest. */
static void addresses_filter(const struct vctx *x, const struct dns_rrset *sets, size_t nsets,
                             struct target *t, char *refused, size_t refused_len)
{
    char why[160];
    size_t used = 0;

    refused[0] = '\0';
    for (size_t s = 0; s < nsets; s++)
        for (size_t i = 0; i < sets[s].n; i++) {
            struct netaddr a = {.v6 = sets[s].rr[i].len == 16};
            if (sets[s].rr[i].len != 4 && sets[s].rr[i].len != 16)
                continue;
            memcpy(a.addr, sets[s].rr[i].data, sets[s].rr[i].len);
            a.bits = a.v6 ? 128 : 32;
            if (policy_allows(x->v, &a, why, sizeof(why))) {
                t->addrs = xrealloc(t->addrs, (t->n + 1) * sizeof(*t->addrs));
                t->addrs[t->n++] = a;
            } else if (used < refused_len) {
                used += (size_t)snprintf(refused + used, refused_len - used, "%s%s",
                                         used ? "; " : "", why);
            }
        }
}

int target_resolve(const struct vctx *x, const char *host, int via_redirect, struct target *t,
                   struct err *e)
{
    static const int types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
    struct dns_rrset sets[2] = {{0}};
    struct netaddr a;
    char why[300];
    int rc = -1;

    memset(t, 0, sizeof(*t));
    t->host = xstrdup(host);
    for (char *p = t->host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (ip_literal(host, &a)) {
        t->is_ip = 1;
        if (!policy_allows(x->v, &a, why, sizeof(why)))
            return acme_fail(e, via_redirect ? ACME_ERR_CONNECTION : ACME_ERR_REJECTED,
                             "this CA does not connect to %s", why);
        t->addrs = xmalloc(sizeof(a));
        t->addrs[0] = a;
        t->n = 1;
        return 0;
    }
    if (!dns_name_valid(t->host))
        return acme_fail(e, via_redirect ? ACME_ERR_CONNECTION : ACME_ERR_MALFORMED,
                         "\"%.100s\" is not a valid host name", host);
    if (dns_lookup(x, t->host, types, 2, sets, e) != 0)
        goto out;
    addresses_filter(x, sets, 2, t, why, sizeof(why));
    if (sets[0].n == 0 && sets[1].n == 0)
        acme_fail(e, ACME_ERR_DNS, "%s has no A or AAAA record%s", t->host,
                  sets[0].nxdomain ? " (NXDOMAIN)" : "");
    else if (t->n == 0)
        acme_fail(e, ACME_ERR_CONNECTION,
                  "%s resolves only to addresses this CA does not "
                  "connect to: %s",
                  t->host, why);
    else
        rc = 0;
out:
    dns_rrset_clear(&sets[0]);
    dns_rrset_clear(&sets[1]);
    return rc;
}

void target_free(struct target *t)
{
    free(t->host);
    free(t->addrs);
    memset(t, 0, sizeof(*t));
}

/* ---- challenges ----------------------------------------------------------------- */

static int base64url_valid(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

/* base64url without padding (RFC 4648 §5) of len bytes into out (at least 4*len/3+4 bytes). */
static void base64url(const unsigned char *data, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

void text_printable(const unsigned char *data, size_t len, char *out, size_t max)
{
    size_t n = len < max - 4 ? len : max - 4;

    for (size_t i = 0; i < n; i++)
        out[i] = data[i] >= 0x20 && data[i] < 0x7f && data[i] != '"' ? (char)data[i] : '?';
    strcpy(out + n, n < len ? "..." : "");
}

/* dns-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.<name> holds base64url(SHA-256(ka)). */
static int dns01_validate(const struct vctx *x, const char *name, const char *key_auth,
                          struct err *e)
{
    static const int txt = DNS_TYPE_TXT;
    unsigned char digest[32];
    char expected[48], got[200], one[60], *qname = xasprintf("_acme-challenge.%s", name);
    struct dns_rrset set = {0};
    size_t used = 0;
    int rc = -1;

    if (EVP_Digest(key_auth, strlen(key_auth), digest, NULL, EVP_sha256(), NULL) != 1) {
        free(qname);
        return acme_fail(e, ACME_ERR_SERVER_INTERNAL, "SHA-256 failed");
    }
    base64url(digest, sizeof(digest), expected);
    if (dns_lookup(x, qname, &txt, 1, &set, e) != 0)
        goto out;
    got[0] = '\0';
    for (size_t i = 0; i < set.n && rc != 0; i++) {
        if (set.rr[i].len == strlen(expected) &&
            memcmp(set.rr[i].data, expected, set.rr[i].len) == 0)
            rc = 0;
        text_printable(set.rr[i].data, set.rr[i].len, one, sizeof(one));
        if (used < sizeof(got))
            used +=
                (size_t)snprintf(got + used, sizeof(got) - used, "%s\"%s\"", used ? ", " : "", one);
    }
    if (rc != 0 && set.n == 0)
        acme_fail(e, ACME_ERR_UNAUTHORIZED, "no TXT record at %s%s%s%s (expected \"%s\")", qname,
                  set.aliases ? " (alias of " : "", set.aliases ? set.name : "",
                  set.aliases ? ")" : "", expected);
    else if (rc != 0)
        acme_fail(e, ACME_ERR_INCORRECT, "the TXT records at %s%s%s%s are %s; none is \"%s\"",
                  qname, set.aliases ? " (alias of " : "", set.aliases ? set.name : "",
                  set.aliases ? ")" : "", got, expected);
out:
    dns_rrset_clear(&set);
    free(qname);
    return rc;
}

/* Checks c's fields: 0, or -1 with "malformed" naming the field. */
static int challenge_check(const struct acme_challenge *c, struct err *e)
{
    if (c->type == NULL || c->ident_type == NULL || c->ident_value == NULL)
        return acme_fail(e, ACME_ERR_MALFORMED, "challenge: type and identifier required");
    if (c->token == NULL || !base64url_valid(c->token, 256))
        return acme_fail(e, ACME_ERR_MALFORMED, "token: base64url text of 1-256 characters");
    if (c->thumbprint == NULL || !base64url_valid(c->thumbprint, 128))
        return acme_fail(e, ACME_ERR_MALFORMED, "thumbprint: base64url text of 1-128 characters");
    if (strcmp(c->ident_type, "dns") != 0 && strcmp(c->ident_type, "ip") != 0)
        return acme_fail(e, ACME_ERR_MALFORMED, "identifier type \"%.20s\": dns or ip",
                         c->ident_type);
    return 0;
}

/* Resolves c's identifier for http-01 and tls-alpn-01; the IP form must be an address. */
static int identifier_target(const struct vctx *x, const struct acme_challenge *c, struct target *t,
                             struct err *e)
{
    struct netaddr a;
    int is_ip = strcmp(c->ident_type, "ip") == 0;

    if (is_ip != ip_literal(c->ident_value, &a)) {
        memset(t, 0, sizeof(*t));
        return acme_fail(e, ACME_ERR_MALFORMED, "\"%.100s\" is not %s", c->ident_value,
                         is_ip ? "an IP address" : "a DNS name");
    }
    return target_resolve(x, c->ident_value, 0, t, e);
}

int acme_validate(const struct acme_validator *v, const struct acme_challenge *c,
                  struct acme_validation_record *rec, struct err *e)
{
    struct acme_validation_record out;
    struct target t = {0};
    struct vctx x;
    char *key_auth;
    int rc = -1;

    if (challenge_check(c, e) != 0)
        return -1;
    memset(&out, 0, sizeof(out));
    vctx_start(&x, v);
    key_auth = xasprintf("%s.%s", c->token, c->thumbprint);
    if (strcmp(c->type, "dns-01") == 0) {
        if (strcmp(c->ident_type, "dns") != 0 || !dns_name_valid(c->ident_value))
            acme_fail(e, ACME_ERR_MALFORMED, "dns-01 validates DNS names, not \"%.100s\"",
                      c->ident_value);
        else
            rc = dns01_validate(&x, c->ident_value, key_auth, e);
    } else if (strcmp(c->type, "http-01") == 0) {
        if (identifier_target(&x, c, &t, e) == 0)
            rc = http01_validate(&x, &t, c->token, key_auth, &out, e);
    } else if (strcmp(c->type, "tls-alpn-01") == 0) {
        if (identifier_target(&x, c, &t, e) == 0)
            rc = alpn_validate(&x, &t, key_auth, &out, e);
    } else {
        acme_fail(e, ACME_ERR_MALFORMED, "challenge type \"%.30s\" is not supported", c->type);
    }
    target_free(&t);
    free(key_auth);
    if (rc == 0 && rec != NULL)
        *rec = out;
    return rc;
}
