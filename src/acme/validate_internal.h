/*
 * validate_internal.h — what the files of ACME validation share (validate.c,
 * dns.c, caa.c, http01.c, alpn.c).  Not for callers outside src/acme; the unit
 * test and the fuzz driver use the parsers declared here.
 */
#ifndef VOUCH_ACME_VALIDATE_INTERNAL_H
#define VOUCH_ACME_VALIDATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "acme/validate.h"
#include "lib/netaddr.h"
#include "lib/util.h"

struct acme_validator {
    char *resolvers; /* c-ares CSV, NULL: /etc/resolv.conf */
    int http_port, https_port, tls_port;
    int connect_timeout_ms, timeout_ms;
    struct netaddr *allow, *deny, *own, *special;
    size_t n_allow, n_deny, n_own, n_special;
};

/* One call's clock: everything it does ends by deadline (CLOCK_MONOTONIC, ms). */
struct vctx {
    const struct acme_validator *v;
    int64_t deadline;
};
void vctx_start(struct vctx *x, const struct acme_validator *v);
/* Milliseconds left (0 when the deadline passed). */
int vctx_left(const struct vctx *x);
/* The connect timeout, cut to what is left. */
int vctx_connect_left(const struct vctx *x);

/* Sets e with an ACME problem code and the kind validate.h gives it; returns -1. */
int acme_fail(struct err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Up to max-4 bytes of data for a message (printable ASCII, else '?'; "..." if cut). */
void text_printable(const unsigned char *data, size_t len, char *out, size_t max);

/* ---- addresses (validate.c) ----------------------------------------------------- */

/* 1 if the policy allows a, else 0 with why ("127.0.0.1: loopback (RFC 1122)"). */
int policy_allows(const struct acme_validator *v, const struct netaddr *a, char *why,
                  size_t why_len);
/* The address as text ("192.0.2.7", "2001:db8::7"). */
const char *netaddr_text(const struct netaddr *a, char *buf, size_t len);
/* "192.0.2.7:80" / "[2001:db8::7]:80". */
const char *netaddr_port_text(const struct netaddr *a, int port, char *buf, size_t len);
/* A host name as RFC 1123 allows (LDH labels, 1-63 each, at most 253, no final dot). */
int dns_name_valid(const char *name);

/*
 * Where to connect for an identifier: the name (or the IP literal) and the
 * addresses the policy allows, in the resolver's order.
 */
struct target {
    char *host; /* lowercased name, or the address as text */
    int is_ip;
    struct netaddr *addrs;
    size_t n;
};
/*
 * Fills t for host: an IP literal (is_ip; refused with rejectedIdentifier or,
 * when via_redirect, connection), or a name resolved to A and AAAA records
 * and filtered by the policy ("dns" when it has none, "connection" when the
 * policy refuses all of them).  0 or -1; the caller frees t with
 * target_free either way.
 */
int target_resolve(const struct vctx *x, const char *host, int via_redirect, struct target *t,
                   struct err *e);
void target_free(struct target *t);

/* ---- DNS (dns.c) ---------------------------------------------------------------- */

#define DNS_TYPE_A     1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_TXT   16
#define DNS_TYPE_AAAA  28
#define DNS_TYPE_CAA   257

struct dns_rr {
    unsigned char *data; /* the RDATA, decoded for TXT (its strings joined) */
    size_t len;
};
/* The records of one type at the end of a name's alias chain. */
struct dns_rrset {
    char *name; /* where the chain ended (the name asked if no alias) */
    int aliases;
    int nxdomain;
    struct dns_rr *rr;
    size_t n;
};
void dns_rrset_clear(struct dns_rrset *s);

/*
 * Asks the resolvers for types[i] at name (all at once), following CNAMEs,
 * in the answer or by asking again, up to ACME_VALIDATE_ALIASES_MAX: out[i]
 * gets the RRset (empty for NXDOMAIN or no data).  0, or -1 with "dns"
 * (SERVFAIL, REFUSED, no answer by the deadline, too many aliases).  The
 * caller clears out[] either way.
 */
int dns_lookup(const struct vctx *x, const char *name, const int *types, size_t n,
               struct dns_rrset *out, struct err *e);

/*
 * Reads a DNS response (abuf, alen): follows the CNAMEs of its answer section
 * from set->name (replacing it with each target, counting set->aliases, at
 * most max_aliases in all) and appends the records of type owned by the name
 * reached.  0, or -1 if the message is malformed or has too many aliases.
 */
int dns_answer_read(const unsigned char *abuf, int alen, int type, int max_aliases,
                    struct dns_rrset *set);

/* ---- CAA (caa.c) ---------------------------------------------------------------- */

struct caa_record {
    unsigned flags;
    char tag[16]; /* "" if the record's tag is malformed */
    char *value;  /* NUL-terminated copy of the value */
    size_t value_len;
};
/* Decodes a CAA RDATA (RFC 8659 §4.1) into r; 0, or -1 if it is too short. */
int caa_record_read(const unsigned char *rdata, size_t len, struct caa_record *r);
void caa_record_clear(struct caa_record *r);

/*
 * Decides q against the relevant RRset recs (found at owner): 0 if issuance is
 * allowed, -1 with "caa" naming the record and rule that refuses it.
 */
int caa_decide(const struct caa_record *recs, size_t n, const char *owner,
               const struct acme_caa_query *q, struct err *e);

/* ---- the challenges ------------------------------------------------------------- */

int http01_validate(const struct vctx *x, struct target *t, const char *token, const char *key_auth,
                    struct acme_validation_record *rec, struct err *e);
int alpn_validate(const struct vctx *x, const struct target *t, const char *key_auth,
                  struct acme_validation_record *rec, struct err *e);

#endif
