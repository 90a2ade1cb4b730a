/*
 * validate.h — the outbound half of an ACME server: challenge validation
 * (RFC 8555 §8.3 http-01, §8.4 dns-01, RFC 8737 tls-alpn-01, RFC 8738 IP
 * identifiers) and the CAA check (RFC 8659, RFC 8657).
 *
 * Transport-free and database-free: a caller (the ACME front end, outside any
 * database transaction and never in the signer) hands over a challenge and
 * gets a verdict.  Names are resolved with c-ares against the configured
 * resolvers; every connection goes only to an address the name resolved to
 * and the address policy allows (no loopback, private, link-local, ... by
 * default), redirects included.  Each call has a hard deadline
 * (timeout_ms) and holds no lock shared with other calls: any number may run
 * at once from several threads.  The caller ignores SIGPIPE (vouchd does):
 * a TLS peer that hangs up mid-handshake must not kill the process.
 *
 * Errors: -1 with e->code the ACME problem type's suffix
 * ("urn:ietf:params:acme:error:<code>", RFC 8555 §6.7) and e->msg a detail
 * a client can act on (the URL and address tried, what was expected and what
 * came back, trimmed).  e->kind: ERR_UNAVAILABLE for connection, dns and tls;
 * ERR_FORBIDDEN for unauthorized and incorrectResponse; ERR_POLICY for caa and
 * rejectedIdentifier; ERR_INVALID for malformed; ERR_INTERNAL for serverInternal.
 */
#ifndef VOUCH_ACME_VALIDATE_H
#define VOUCH_ACME_VALIDATE_H

#include <stddef.h>

#include "lib/util.h"

/* e->code values (RFC 8555 §6.7 problem types, without the URN prefix). */
#define ACME_ERR_CONNECTION      "connection"         /* could not (or would not) connect */
#define ACME_ERR_UNAUTHORIZED    "unauthorized"       /* no proof found (404, no TXT record) */
#define ACME_ERR_DNS             "dns"                /* a DNS lookup failed */
#define ACME_ERR_INCORRECT       "incorrectResponse"  /* a proof found, but not the right one */
#define ACME_ERR_CAA             "caa"                /* CAA forbids issuance */
#define ACME_ERR_REJECTED        "rejectedIdentifier" /* an IP identifier outside the policy */
#define ACME_ERR_TLS             "tls"       /* the TLS handshake failed or lacked acme-tls/1 */
#define ACME_ERR_MALFORMED       "malformed" /* the caller's input is not valid */
#define ACME_ERR_SERVER_INTERNAL "serverInternal" /* a fault of ours */

/* Defaults for the zero fields of struct acme_validate_config. */
#define ACME_VALIDATE_HTTP_PORT       80
#define ACME_VALIDATE_HTTPS_PORT      443
#define ACME_VALIDATE_TLS_PORT        443
#define ACME_VALIDATE_CONNECT_TIMEOUT 3000  /* ms */
#define ACME_VALIDATE_TIMEOUT         10000 /* ms, a whole validation or CAA check */
#define ACME_VALIDATE_BODY_MAX        8192  /* bytes of an http-01 response body */
#define ACME_VALIDATE_REDIRECTS_MAX   10
#define ACME_VALIDATE_ALIASES_MAX     8 /* CNAMEs followed from one name */

/*
 * The settings (vouchd's configuration table fills them).  A zero or NULL
 * field takes its default.  Address lists are text: addresses or networks
 * ("192.0.2.7", "2001:db8::/32") separated by commas or spaces.
 */
struct acme_validate_config {
    /* Resolvers, "addr[:port]" comma-separated (IPv6 as "[addr]:port"); default: /etc/resolv.conf.
     */
    const char *resolvers;
    int http_port;          /* http-01, and http:// redirect targets (80) */
    int https_port;         /* https:// redirect targets of http-01 (443) */
    int tls_port;           /* tls-alpn-01 (443) */
    int connect_timeout_ms; /* one TCP connection (ACME_VALIDATE_CONNECT_TIMEOUT) */
    int timeout_ms;         /* everything one call does (ACME_VALIDATE_TIMEOUT) */
    /*
     * The address policy, in this order: an address in own_addresses (this
     * installation's nodes) or deny is refused; else one in allow is allowed;
     * else one in a special-purpose range (loopback, unspecified, RFC 1918
     * and ULA private, link-local, CGNAT, multicast, documentation,
     * benchmarking, reserved, 6to4, Teredo, NAT64 local use) is refused;
     * else it is allowed.  A NAT64 address (64:ff9b::/96) is judged by the
     * IPv4 address it embeds as well.
     */
    const char *allow;
    const char *deny;
    const char *own_addresses;
};

/* Immutable after acme_validator_new: shared by any number of threads. */
struct acme_validator;

/*
 * A validator for cfg (NULL: every default); NULL with e set (ERR_USAGE) if a
 * setting is out of range or an address list or resolver list does not parse.
 * The caller frees it with acme_validator_free.
 */
struct acme_validator *acme_validator_new(const struct acme_validate_config *cfg, struct err *e);
void acme_validator_free(struct acme_validator *v);

/*
 * Whether the policy lets the validator connect to address (an IP address as
 * text): 0 yes; -1 with e ("rejectedIdentifier", saying which rule refuses
 * it) if not, or ("malformed") if it is no address.  For an ACME newOrder to
 * refuse an IP identifier at once.
 */
int acme_address_check(const struct acme_validator *v, const char *address, struct err *e);

/* One challenge of one authorization (RFC 8555 §7.1.4, §8). */
struct acme_challenge {
    const char *type;        /* "http-01", "dns-01" or "tls-alpn-01" */
    const char *ident_type;  /* "dns" or "ip" (RFC 8738) */
    const char *ident_value; /* "www.example.org" (no "*." prefix) or "192.0.2.7" / "2001:db8::7" */
    const char *token;       /* the challenge's token (base64url) */
    const char *thumbprint;  /* base64url SHA-256 JWK thumbprint of the account key (RFC 7638) */
};

/* What a successful validation reached (RFC 8555 §8.3's validation record), for the audit. */
struct acme_validation_record {
    char address[64]; /* "192.0.2.7:80" / "[2001:db8::7]:443" the proof came from; "" for dns-01 */
    char url[512];    /* http-01: the last URL fetched (after redirects), possibly cut */
    int redirects;    /* http-01: redirects followed */
};

/*
 * Validates challenge c: 0 if the proof is there (rec, if not NULL, filled),
 * -1 with e as described at the top.  Blocks for at most the configured
 * timeout_ms (plus a few milliseconds); rec is untouched on failure.
 */
int acme_validate(const struct acme_validator *v, const struct acme_challenge *c,
                  struct acme_validation_record *rec, struct err *e);

/* A CAA question (RFC 8659 §3, RFC 8657). */
struct acme_caa_query {
    const char *name; /* the FQDN to be in the certificate, "*.example.org" for a wildcard */
    const char *const *issuers; /* this endpoint's issuer domain names, NULL-terminated */
    const char *account_uri;    /* the ACME account's URL, for accounturi (NULL: none) */
    const char *method; /* the challenge type validated, for validationmethods (NULL: none) */
};

/*
 * Finds the relevant CAA RRset of q->name (climbing from the name, or the
 * wildcard's base, towards the root, following CNAMEs) and decides: 0 if it
 * lets one of q->issuers issue (or there is none), -1 with e "caa" naming the
 * record and the rule that refuses, or "dns" if a lookup failed (issuance is
 * refused then: the DNSSEC exemption of the CA/B BR is not claimed), or
 * "malformed".  An IP address name is not subject to CAA: 0.  Blocks for at
 * most timeout_ms.
 */
int acme_caa_check(const struct acme_validator *v, const struct acme_caa_query *q, struct err *e);

#endif
