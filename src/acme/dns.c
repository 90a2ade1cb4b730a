/*
 * dns.c — DNS lookups for ACME validation and CAA, with c-ares.
 *
 * Each lookup has a channel of its own (no state or lock shared between
 * validations) that is run with poll() until the call's deadline.  c-ares
 * sends the queries, matches answers to questions, retries, falls back to TCP
 * on truncation and decompresses names (ares_expand_name); the answer section
 * is walked here because its record parsers (ares_parse_txt_reply,
 * ares_parse_caa_reply) keep every record of the type whatever its owner name
 * and do not say where a CNAME chain led, both of which RFC 8555 §8.4
 * (_acme-challenge aliases) and RFC 8659 §3 (the relevant RRset) need.
 */
#include "acme/validate_internal.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#define DNS_CLASS_IN   1
#define DNS_ANSWER_MAX 256 /* records of one answer section we look at */

void dns_rrset_clear(struct dns_rrset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rr[i].data);
    free(s->rr);
    free(s->name);
    memset(s, 0, sizeof(*s));
}

/* ---- reading an answer ---------------------------------------------------------- */

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* One record of the answer section, its RDATA still inside the message. */
struct answer_rr {
    char *owner;
    unsigned type;
    size_t rdata, rdlen; /* offset into the message, length */
};

/* Skips a (possibly compressed) name at *off; -1 if malformed. */
static int name_skip(const unsigned char *abuf, int alen, size_t *off)
{
    char *name = NULL;
    long len = 0;

    if (ares_expand_name(abuf + *off, abuf, alen, &name, &len) != ARES_SUCCESS)
        return -1;
    ares_free_string(name);
    *off += (size_t)len;
    return 0;
}

/* Reads the answer section into rrs (at most DNS_ANSWER_MAX); the count, or -1 if malformed. */
static int answers_read(const unsigned char *abuf, int alen, struct answer_rr *rrs)
{
    size_t off = 12, qd, an, n = 0;

    if (alen < 12)
        return -1;
    qd = get16(abuf + 4);
    an = get16(abuf + 6);
    for (size_t i = 0; i < qd; i++) {
        if (off >= (size_t)alen || name_skip(abuf, alen, &off) != 0 || off + 4 > (size_t)alen)
            return -1;
        off += 4;
    }
    for (size_t i = 0; i < an && n < DNS_ANSWER_MAX; i++) {
        char *owner = NULL;
        long len = 0;
        if (off >= (size_t)alen ||
            ares_expand_name(abuf + off, abuf, alen, &owner, &len) != ARES_SUCCESS)
            goto bad;
        off += (size_t)len;
        /* TYPE, CLASS, TTL, RDLENGTH, then RDATA (RFC 1035 §4.1.3) */
        if (off + 10 > (size_t)alen || off + 10 + get16(abuf + off + 8) > (size_t)alen) {
            ares_free_string(owner);
            goto bad;
        }
        rrs[n] = (struct answer_rr){owner, get16(abuf + off), off + 10, get16(abuf + off + 8)};
        if (get16(abuf + off + 2) == DNS_CLASS_IN)
            n++;
        else
            ares_free_string(owner);
        off += 10 + get16(abuf + off + 8);
    }
    return (int)n;
bad:
    while (n > 0)
        ares_free_string(rrs[--n].owner);
    return -1;
}

/* Names as c-ares spells them (no final dot), compared without regard to case. */
static int name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    la -= la > 0 && a[la - 1] == '.';
    lb -= lb > 0 && b[lb - 1] == '.';
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* Joins a TXT RDATA's character-strings (RFC 1035 §3.3.14); NULL if malformed. */
static unsigned char *txt_join(const unsigned char *p, size_t len, size_t *out_len)
{
    unsigned char *out = xmalloc(len + 1);
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        size_t n = p[i++];
        if (i + n > len) {
            free(out);
            return NULL;
        }
        memcpy(out + o, p + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static int rr_append(struct dns_rrset *set, const unsigned char *abuf, const struct answer_rr *r,
                     int type)
{
    struct dns_rr rr;

    if (type == DNS_TYPE_TXT) {
        if ((rr.data = txt_join(abuf + r->rdata, r->rdlen, &rr.len)) == NULL)
            return -1;
    } else {
        if ((type == DNS_TYPE_A && r->rdlen != 4) || (type == DNS_TYPE_AAAA && r->rdlen != 16))
            return -1;
        rr.data = xmalloc(r->rdlen + 1);
        memcpy(rr.data, abuf + r->rdata, r->rdlen);
        rr.data[r->rdlen] = '\0';
        rr.len = r->rdlen;
    }
    set->rr = xrealloc(set->rr, (set->n + 1) * sizeof(*set->rr));
    set->rr[set->n++] = rr;
    return 0;
}

/* Follows the chain of CNAMEs in rrs from set->name; 0, or -1 if malformed or too long. */
static int aliases_follow(const unsigned char *abuf, int alen, const struct answer_rr *rrs,
                          size_t n, int max_aliases, struct dns_rrset *set)
{
    for (size_t i = 0; i < n; i++) {
        char *target = NULL;
        long len = 0;
        if (rrs[i].type != DNS_TYPE_CNAME || !name_eq(rrs[i].owner, set->name))
            continue;
        if (++set->aliases > max_aliases ||
            ares_expand_name(abuf + rrs[i].rdata, abuf, alen, &target, &len) != ARES_SUCCESS)
            return -1;
        free(set->name);
        set->name = xstrdup(target);
        ares_free_string(target);
        i = (size_t)-1; /* the target's CNAME may come earlier in the section */
    }
    return 0;
}

int dns_answer_read(const unsigned char *abuf, int alen, int type, int max_aliases,
                    struct dns_rrset *set)
{
    struct answer_rr *rrs = xcalloc(DNS_ANSWER_MAX, sizeof(*rrs));
    int n = answers_read(abuf, alen, rrs), rc = -1;

    if (n < 0)
        goto out;
    if (aliases_follow(abuf, alen, rrs, (size_t)n, max_aliases, set) != 0)
        goto out;
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        if (rrs[i].type == (unsigned)type && name_eq(rrs[i].owner, set->name))
            rc = rr_append(set, abuf, &rrs[i], type);
out:
    for (int i = 0; i < n; i++)
        ares_free_string(rrs[i].owner);
    free(rrs);
    return rc;
}

/* ---- asking ----------------------------------------------------------------------- */

/* One question in flight and its answer. */
struct query {
    int done, status;
    unsigned char *abuf;
    int alen;
};

static void query_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct query *q = arg;

    (void)timeouts;
    q->done = 1;
    q->status = status;
    if (abuf != NULL && alen > 0) {
        q->abuf = xmalloc((size_t)alen);
        memcpy(q->abuf, abuf, (size_t)alen);
        q->alen = alen;
    }
}

static int channel_open(const struct vctx *x, ares_channel *ch, struct err *e)
{
    struct ares_options o;
    int rc, try_ms = x->v->connect_timeout_ms / 2;

    memset(&o, 0, sizeof(o));
    /* NOCHECKRESP: a SERVFAIL or REFUSED is reported as such, not as "could not contact" */
    o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
    o.ednspsz = 1232;
    o.timeout = try_ms < 200 ? 200 : try_ms;
    o.tries = 3;
    rc = ares_init_options(ch, &o,
                           ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS)
        return acme_fail(e, ACME_ERR_SERVER_INTERNAL, "resolver: %s", ares_strerror(rc));
    if (x->v->resolvers != NULL &&
        (rc = ares_set_servers_ports_csv(*ch, x->v->resolvers)) != ARES_SUCCESS) {
        ares_destroy(*ch);
        return acme_fail(e, ACME_ERR_SERVER_INTERNAL, "resolvers: %s", ares_strerror(rc));
    }
    return 0;
}

/* Runs ch until every query is done or the deadline passes: 0, or -1 at the deadline. */
static int channel_run(const struct vctx *x, ares_channel ch, const struct query *q, size_t n)
{
    for (;;) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        struct pollfd fds[ARES_GETSOCK_MAXNUM];
        struct timeval max, tv, *tvp;
        int bits, nfds = 0, left, wait;
        size_t done = 0;

        for (size_t i = 0; i < n; i++)
            done += q[i].done != 0;
        if (done == n)
            return 0;
        if ((left = vctx_left(x)) == 0)
            return -1;
        bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            /* ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit for the last socket */
            short ev = (short)(((unsigned)bits & 1u << i ? POLLIN : 0) |
                               ((unsigned)bits & 1u << (i + ARES_GETSOCK_MAXNUM) ? POLLOUT : 0));
            if (ev != 0)
                fds[nfds++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        max = (struct timeval){left / 1000, (left % 1000) * 1000};
        tvp = ares_timeout(ch, &max, &tv);
        wait = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
        if (poll(fds, (nfds_t)nfds, wait) <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
            continue;
        }
        for (int i = 0; i < nfds; i++)
            ares_process_fd(
                ch, fds[i].revents & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD,
                fds[i].revents & POLLOUT ? fds[i].fd : ARES_SOCKET_BAD);
    }
}

static const char *type_name(int type)
{
    switch (type) {
    case DNS_TYPE_A:
        return "A";
    case DNS_TYPE_AAAA:
        return "AAAA";
    case DNS_TYPE_TXT:
        return "TXT";
    case DNS_TYPE_CAA:
        return "CAA";
    default:
        return "?";
    }
}

/* The response code behind a c-ares status, for messages ("SERVFAIL: "). */
static const char *status_rcode(int status)
{
    switch (status) {
    case ARES_ESERVFAIL:
        return "SERVFAIL: ";
    case ARES_EREFUSED:
        return "REFUSED: ";
    case ARES_EFORMERR:
        return "FORMERR: ";
    case ARES_ENOTIMP:
        return "NOTIMP: ";
    default:
        return "";
    }
}

/*
 * Takes q's answer into set: 0 with set complete (*again 0) or with the chain
 * ending at a name whose records the answer lacks (*again 1: ask there); -1
 * with "dns" on a resolver failure.
 */
static int answer_take(const struct query *q, int type, const char *asked, struct dns_rrset *set,
                       int *again, struct err *e)
{
    int aliases = set->aliases;

    *again = 0;
    if (q->status != ARES_SUCCESS && q->status != ARES_ENODATA && q->status != ARES_ENOTFOUND)
        return acme_fail(e, ACME_ERR_DNS, "DNS lookup of %s %s failed: %s%s", type_name(type),
                         asked, status_rcode(q->status), ares_strerror(q->status));
    if (q->abuf == NULL ||
        dns_answer_read(q->abuf, q->alen, type, ACME_VALIDATE_ALIASES_MAX, set) != 0)
        return set->aliases > ACME_VALIDATE_ALIASES_MAX
                   ? acme_fail(e, ACME_ERR_DNS, "DNS lookup of %s %s: more than %d aliases (CNAME)",
                               type_name(type), asked, ACME_VALIDATE_ALIASES_MAX)
                   : acme_fail(e, ACME_ERR_DNS, "DNS lookup of %s %s: malformed answer",
                               type_name(type), asked);
    set->nxdomain = q->status == ARES_ENOTFOUND;
    /* An alias whose target's records are not in the answer: ask for the target (RFC 1034 §3.6.2).
     */
    *again = set->n == 0 && set->aliases > aliases && !set->nxdomain;
    return 0;
}

int dns_lookup(const struct vctx *x, const char *name, const int *types, size_t n,
               struct dns_rrset *out, struct err *e)
{
    struct query *q = xcalloc(n, sizeof(*q));
    int *pending = xcalloc(n, sizeof(*pending)), rc = 0;
    char **asked = xcalloc(n, sizeof(*asked));
    ares_channel ch;
    size_t left = n;

    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].name = xstrdup(name);
        pending[i] = 1;
    }
    if (channel_open(x, &ch, e) != 0) {
        free(q);
        free(pending);
        free(asked);
        return -1;
    }
    while (left > 0 && rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (pending[i]) {
                free(q[i].abuf);
                q[i] = (struct query){0};
                free(asked[i]);
                asked[i] = xstrdup(out[i].name);
                ares_query(ch, asked[i], DNS_CLASS_IN, types[i], query_done, &q[i]);
            }
        if (channel_run(x, ch, q, n) != 0) {
            rc = acme_fail(e, ACME_ERR_DNS, "no answer from the resolver for %s %s within %d ms",
                           type_name(types[0]), name, x->v->timeout_ms);
            break;
        }
        for (size_t i = 0; i < n && rc == 0; i++)
            if (pending[i]) {
                rc = answer_take(&q[i], types[i], asked[i], &out[i], &pending[i], e);
                left -= !pending[i];
            }
    }
    ares_destroy(ch); /* before q goes: it calls back what is still in flight */
    for (size_t i = 0; i < n; i++) {
        free(q[i].abuf);
        free(asked[i]);
    }
    free(q);
    free(pending);
    free(asked);
    return rc;
}
