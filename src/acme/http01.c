/*
 * http01.c — the http-01 challenge (RFC 8555 §8.3, RFC 8738 §3 for IP
 * identifiers) with libcurl.
 *
 * GET http://<identifier>:<http_port>/.well-known/acme-challenge/<token>.
 * curl never resolves a name: each hop's host is pinned to the addresses
 * resolved here and allowed by the policy (CURLOPT_RESOLVE), and the socket
 * callback refuses any other address as a second wall.  Redirects are
 * followed here, not by curl, so that each target is checked before any
 * connection: http or https only, on http_port or https_port, at most
 * ACME_VALIDATE_REDIRECTS_MAX, the host resolved and judged again.  An https
 * target's certificate is not verified: the key authorization is no secret
 * and its check does not rest on TLS (what Let's Encrypt does too).  The
 * body is read up to ACME_VALIDATE_BODY_MAX bytes; trailing whitespace is
 * ignored (§8.3).
 */
#include "acme/validate_internal.h"

#include <ctype.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#define URL_MAX 2000

/* One GET and what came of it. */
struct fetch {
    const struct target *t;
    struct buf body;
    int over;    /* the body passed ACME_VALIDATE_BODY_MAX */
    int refused; /* curl wanted an address the target does not allow */
    long status;
    char *location; /* a redirect's absolute target, or NULL */
    char address[64];
    char error[CURL_ERROR_SIZE];
};

static void fetch_clear(struct fetch *f)
{
    buf_free(&f->body);
    free(f->location);
    memset(f, 0, sizeof(*f));
}

static size_t body_take(char *data, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;

    if (f->body.len + size * n > ACME_VALIDATE_BODY_MAX) {
        f->over = 1;
        return 0;
    }
    buf_append(&f->body, data, size * n);
    return size * n;
}

/* The address curl is about to connect to, as a netaddr; -1 if not IP. */
static int sockaddr_read(const struct curl_sockaddr *sa, struct netaddr *a)
{
    struct sockaddr_storage ss;
    size_t len = sa->addrlen < sizeof(ss) ? sa->addrlen : sizeof(ss);

    memset(a, 0, sizeof(*a));
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, (const char *)sa + offsetof(struct curl_sockaddr, addr), len);
    if (sa->family == AF_INET) {
        memcpy(a->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        a->bits = 32;
        return 0;
    }
    if (sa->family != AF_INET6)
        return -1;
    memcpy(a->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    a->v6 = 1;
    a->bits = 128;
    if (IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
        memmove(a->addr, a->addr + 12, 4);
        memset(a->addr + 4, 0, 12);
        a->v6 = 0;
        a->bits = 32;
    }
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: a socket only for an address of the target. */
static curl_socket_t socket_open(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
    struct fetch *f = arg;
    struct netaddr a;

    if (purpose == CURLSOCKTYPE_IPCXN && sockaddr_read(sa, &a) == 0)
        for (size_t i = 0; i < f->t->n; i++)
            if (f->t->addrs[i].v6 == a.v6 && memcmp(f->t->addrs[i].addr, a.addr, 16) == 0)
                return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
    f->refused = 1;
    return CURL_SOCKET_BAD;
}

/* "host:port:addr,[addr6]" for CURLOPT_RESOLVE. */
static char *resolve_entry(const struct target *t, int port)
{
    struct buf b = {0};
    char text[INET6_ADDRSTRLEN + 3], head[300];

    snprintf(head, sizeof(head), "%s:%d:", t->host, port);
    buf_append(&b, head, strlen(head));
    for (size_t i = 0; i < t->n; i++) {
        char addr[INET6_ADDRSTRLEN];
        netaddr_text(&t->addrs[i], addr, sizeof(addr));
        snprintf(text, sizeof(text), t->addrs[i].v6 ? "%s[%s]" : "%s%s", i ? "," : "", addr);
        buf_append(&b, text, strlen(text));
    }
    buf_append(&b, "", 1);
    return (char *)b.data;
}

/* The addresses of t for a message: "192.0.2.7:80, [2001:db8::7]:80". */
static void addresses_text(const struct target *t, int port, char *out, size_t len)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < t->n && used < len; i++) {
        char one[64];
        netaddr_port_text(&t->addrs[i], port, one, sizeof(one));
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", one);
    }
}

static CURL *easy_new(const struct vctx *x, const char *url, struct curl_slist *resolve,
                      struct fetch *f)
{
    CURL *c = curl_easy_init();

    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* no proxy from the environment */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vouch-acme-validation");
    /* at least 1: curl takes 0 as no limit at all */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(vctx_left(x) ? vctx_left(x) : 1));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(vctx_connect_left(x) ? vctx_connect_left(x) : 1));
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, socket_open);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, f);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_take);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->error);
    return c;
}

/* GETs url from t's addresses into f: 0 with an HTTP answer, -1 with e if none came. */
static int fetch_run(const struct vctx *x, const char *url, const struct target *t, int port,
                     struct fetch *f, struct err *e)
{
    struct curl_slist *resolve = NULL;
    char *entry = NULL, *ip = NULL, *location = NULL, addrs[200];
    long used_port = 0;
    CURLcode cc;
    CURL *c;

    memset(f, 0, sizeof(*f));
    f->t = t;
    addresses_text(t, port, addrs, sizeof(addrs));
    if (vctx_left(x) == 0)
        return acme_fail(e, ACME_ERR_CONNECTION, "GET %s: no time left (timeout %d ms)", url,
                         x->v->timeout_ms);
    if (!t->is_ip)
        resolve = curl_slist_append(NULL, entry = resolve_entry(t, port));
    if ((c = easy_new(x, url, resolve, f)) == NULL) {
        curl_slist_free_all(resolve);
        free(entry);
        return acme_fail(e, ACME_ERR_SERVER_INTERNAL, "curl: cannot start");
    }
    cc = curl_easy_perform(c);
    if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != NULL && *ip &&
        curl_easy_getinfo(c, CURLINFO_PRIMARY_PORT, &used_port) == CURLE_OK)
        snprintf(f->address, sizeof(f->address), strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip,
                 used_port);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
        if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
            f->location = xstrdup(location);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(resolve);
    free(entry);
    if (cc == CURLE_OK)
        return 0;
    if (f->over)
        return acme_fail(e, ACME_ERR_INCORRECT,
                         "GET %s (at %s): the body is longer than %d "
                         "bytes",
                         url, f->address, ACME_VALIDATE_BODY_MAX);
    if (f->refused)
        return acme_fail(e, ACME_ERR_CONNECTION, "GET %s: refused to connect outside %s", url,
                         addrs);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return acme_fail(e, ACME_ERR_CONNECTION, "GET %s (at %s): no answer in time: %.200s", url,
                         f->address[0] ? f->address : addrs, f->error);
    return acme_fail(e, cc == CURLE_SSL_CONNECT_ERROR ? ACME_ERR_TLS : ACME_ERR_CONNECTION,
                     "GET %s (at %s): %.200s", url, f->address[0] ? f->address : addrs,
                     f->error[0] ? f->error : curl_easy_strerror(cc));
}

/* ---- redirects ------------------------------------------------------------------- */

/* The next hop of a redirect to location: its URL (caller frees), port and target. */
static int redirect_read(const struct vctx *x, const char *location, char **url, int *port,
                         struct target *t, struct err *e)
{
    char *scheme = NULL, *host = NULL, *port_text = NULL, *zone = NULL, *out = NULL;
    CURLU *u = curl_url();
    int rc = -1, https;
    size_t len;

    memset(t, 0, sizeof(*t));
    if (u == NULL || strlen(location) > URL_MAX ||
        curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port_text, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        acme_fail(e, ACME_ERR_CONNECTION, "redirect to \"%.200s\": not a URL", location);
        goto out;
    }
    https = strcmp(scheme, "https") == 0;
    *port = atoi(port_text);
    if (!https && strcmp(scheme, "http") != 0) {
        acme_fail(e, ACME_ERR_CONNECTION, "redirect to %.200s: only http and https", location);
        goto out;
    }
    if (*port != (https ? x->v->https_port : x->v->http_port)) {
        acme_fail(e, ACME_ERR_CONNECTION, "redirect to %.200s: %s only to port %d", location,
                  scheme, https ? x->v->https_port : x->v->http_port);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
        acme_fail(e, ACME_ERR_CONNECTION, "redirect to %.200s: a zone id", location);
        goto out;
    }
    len = strlen(host);
    if (host[0] == '[' && len > 2) { /* an IPv6 literal */
        memmove(host, host + 1, len - 2);
        host[len - 2] = '\0';
    }
    if (target_resolve(x, host, 1, t, e) != 0) {
        size_t l = strlen(e->msg);
        snprintf(e->msg + l, sizeof(e->msg) - l, " (redirect to %.200s)", location);
        goto out;
    }
    /* Names go in lowercase, as pinned; no credentials, no fragment. */
    if (!t->is_ip)
        curl_url_set(u, CURLUPART_HOST, t->host, 0);
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        acme_fail(e, ACME_ERR_CONNECTION, "redirect to \"%.200s\": not a URL", location);
        goto out;
    }
    *url = xstrdup(out);
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port_text);
    curl_free(zone);
    curl_free(out);
    curl_url_cleanup(u);
    return rc;
}

static int is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* ---- the challenge --------------------------------------------------------------- */

/* Compares an answer's body with the key authorization (trailing whitespace ignored). */
static int body_check(const struct fetch *f, const char *url, const char *key_auth, struct err *e)
{
    size_t len = f->body.len;
    char got[100];

    while (len > 0 && (f->body.data[len - 1] == ' ' || f->body.data[len - 1] == '\t' ||
                       f->body.data[len - 1] == '\r' || f->body.data[len - 1] == '\n'))
        len--;
    if (len == strlen(key_auth) && memcmp(f->body.data, key_auth, len) == 0)
        return 0;
    text_printable(f->body.data, len, got, sizeof(got));
    return acme_fail(e, ACME_ERR_INCORRECT,
                     "GET %s (at %s): the body is not the key authorization: expected \"%s\", "
                     "got \"%s\"",
                     url, f->address, key_auth, got);
}

int http01_validate(const struct vctx *x, struct target *t, const char *token, const char *key_auth,
                    struct acme_validation_record *rec, struct err *e)
{
    char *url =
        xasprintf(t->is_ip && strchr(t->host, ':') ? "http://[%s]:%d%s%s" : "http://%s:%d%s%s",
                  t->host, x->v->http_port, "/.well-known/acme-challenge/", token);
    struct target next = {0}, *cur = t;
    struct fetch f = {0};
    int port = x->v->http_port, rc = -1;

    for (int hops = 0;; hops++) {
        if (fetch_run(x, url, cur, port, &f, e) != 0)
            break;
        if (!is_redirect(f.status)) {
            if (f.status != 200)
                acme_fail(e, ACME_ERR_UNAUTHORIZED,
                          "GET %s (at %s): HTTP status %ld, expected 200 with the key "
                          "authorization",
                          url, f.address, f.status);
            else if ((rc = body_check(&f, url, key_auth, e)) == 0) {
                snprintf(rec->address, sizeof(rec->address), "%s", f.address);
                snprintf(rec->url, sizeof(rec->url), "%s", url);
                rec->redirects = hops;
            }
            break;
        }
        if (hops == ACME_VALIDATE_REDIRECTS_MAX) {
            acme_fail(e, ACME_ERR_CONNECTION, "GET %s: more than %d redirects", url,
                      ACME_VALIDATE_REDIRECTS_MAX);
            break;
        }
        if (f.location == NULL) {
            acme_fail(e, ACME_ERR_CONNECTION,
                      "GET %s (at %s): HTTP status %ld without a "
                      "Location",
                      url, f.address, f.status);
            break;
        }
        free(url);
        url = NULL;
        target_free(&next);
        if (redirect_read(x, f.location, &url, &port, &next, e) != 0)
            break;
        cur = &next;
        fetch_clear(&f);
    }
    fetch_clear(&f);
    target_free(&next);
    free(url);
    return rc;
}
