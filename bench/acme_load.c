/*
 * acme_load.c — a load generator for ACME servers (RFC 8555), written for
 * bench/acme.sh.  CLIENTS threads, each with an account of its own (P-256,
 * ES256) and one kept-alive HTTPS connection, do complete orders for
 * SECONDS: newOrder, the authorization (POST-as-GET), the http-01 challenge
 * registered with this program's listener, the challenge POST, polls until
 * the authorization is valid, finalize with a CSR, polls until the order is
 * valid, and the certificate's download.  One listener on the validation
 * port serves the tokens every client registered.
 *
 * Polling: a client knows when its token was fetched (its listener served
 * it), so it polls the authorization from then on, with waits of 2, 4, 8 ...
 * up to 256 ms between polls; an order still processing after finalize is
 * polled the same way.  Retry-After is not waited for (its unit is a second).
 *
 * Prints orders per second, the latency of an order, the requests an order
 * took, and the CPU time per order of this program and of each process named
 * with -P, all counted over the same window (after WARMUP seconds, for
 * SECONDS).  A benchmark, not a test: it asserts nothing.
 *
 *   acme_load -d DIRECTORY_URL -p HTTP01_PORT [-c CAFILE] [-n CLIENTS] [-t SECONDS]
 *             [-w WARMUP_SECONDS] [-s NAME_SUFFIX] [-o] [-x] [-P NAME=PID]...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CLIENTS_MAX  256
#define PIDS_MAX     8
#define LISTEN_CONNS 128
#define POLL_MAX_MS  256
#define WAIT_SERVED  10 /* seconds a client waits for its token to be fetched */

/* The steps of an order, timed apart. */
enum step {
    STEP_NEW_ORDER,
    STEP_AUTHZ,
    STEP_CHALLENGE,
    STEP_FETCHED, /* until the server fetched the token */
    STEP_POLL_READY,
    STEP_FINALIZE,
    STEP_POLL_VALID,
    STEP_CERT,
    STEPS
};
static const char *const step_names[STEPS] = {"newOrder",      "authorization", "challenge POST",
                                              "until fetched", "polls",         "finalize",
                                              "polls",         "certificate"};

/* ---- small helpers -------------------------------------------------------------------- */

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("acme_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        die("out of memory");
    return p;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* base64url without padding of data (caller frees). */
static char *b64u(const unsigned char *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = xmalloc(len * 4 / 3 + 4), *o = out;
    size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0);
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        if (i + 1 < len)
            *o++ = abc[(v >> 6) & 63];
    }
    *o = '\0';
    return out;
}

static char *b64u_text(const char *s)
{
    return b64u((const unsigned char *)s, strlen(s));
}

/* ---- account keys and JWS (RFC 7515, RFC 7638) --------------------------------------- */

struct account_key {
    EVP_PKEY *key;
    char *jwk;        /* its public JWK, members in RFC 7638's order */
    char *thumbprint; /* base64url SHA-256 of jwk */
};

static void account_key_new(struct account_key *k)
{
    unsigned char pub[65], digest[32];
    size_t len = 0;
    char *x, *y;

    if ((k->key = EVP_EC_gen("P-256")) == NULL ||
        EVP_PKEY_get_octet_string_param(k->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
                                        sizeof(pub), &len) != 1 ||
        len != 65)
        die("cannot make a P-256 key");
    x = b64u(pub + 1, 32);
    y = b64u(pub + 33, 32);
    k->jwk = xmalloc(strlen(x) + strlen(y) + 64);
    sprintf(k->jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    free(x);
    free(y);
    if (EVP_Digest(k->jwk, strlen(k->jwk), digest, NULL, EVP_sha256(), NULL) != 1)
        die("SHA-256 failed");
    k->thumbprint = b64u(digest, sizeof(digest));
}

/* An ES256 signature of input: r || s, base64url (caller frees). */
static char *es256(EVP_PKEY *key, const char *input)
{
    unsigned char der[80], raw[64];
    const unsigned char *p = der;
    size_t len = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *sig;

    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, der, &len, (const unsigned char *)input, strlen(input)) != 1 ||
        (sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
        die("ES256 signature failed");
    EVP_MD_CTX_free(md);
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32)
        die("ES256 signature failed");
    ECDSA_SIG_free(sig);
    return b64u(raw, sizeof(raw));
}

/*
 * A flattened JWS (RFC 8555 section 6.2) of payload (NULL: POST-as-GET) for
 * url, with the account's kid or, when kid is NULL, its jwk (caller frees).
 */
static char *jws(const struct account_key *k, const char *kid, const char *nonce, const char *url,
                 const char *payload)
{
    size_t n = strlen(url) + strlen(nonce) + (kid ? strlen(kid) : strlen(k->jwk)) + 96;
    char *protected = xmalloc(n), *p64, *pl64, *input, *sig, *out;

    if (kid != NULL)
        snprintf(protected, n, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"%s\",\"url\":\"%s\"}",
                 kid, nonce, url);
    else
        snprintf(protected, n, "{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"%s\",\"url\":\"%s\"}",
                 k->jwk, nonce, url);
    p64 = b64u_text(protected);
    pl64 = payload ? b64u_text(payload) : calloc(1, 1);
    input = xmalloc(strlen(p64) + strlen(pl64) + 2);
    sprintf(input, "%s.%s", p64, pl64);
    sig = es256(k->key, input);
    out = xmalloc(strlen(p64) + strlen(pl64) + strlen(sig) + 64);
    sprintf(out, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", p64, pl64, sig);
    free(protected);
    free(p64);
    free(pl64);
    free(input);
    free(sig);
    return out;
}

/* The DER of a CSR for name (subject CN and one dNSName), base64url (caller frees). */
static char *csr_for(EVP_PKEY *key, const char *name)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *subject = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    char san[320];
    unsigned char *der = NULL;
    X509_EXTENSION *ext;
    char *out;
    int len;

    snprintf(san, sizeof(san), "DNS:%s", name);
    if (req == NULL || subject == NULL || exts == NULL ||
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1,
                                   0) != 1 ||
        X509_REQ_set_subject_name(req, subject) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
        (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san)) == NULL ||
        sk_X509_EXTENSION_push(exts, ext) <= 0 || X509_REQ_add_extensions(req, exts) != 1 ||
        X509_REQ_sign(req, key, EVP_sha256()) <= 0 || (len = i2d_X509_REQ(req, &der)) <= 0)
        die("cannot make a CSR");
    out = b64u(der, (size_t)len);
    OPENSSL_free(der);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(subject);
    X509_REQ_free(req);
    return out;
}

/* ---- HTTP (one kept-alive libcurl handle per client) ---------------------------------- */

struct answer {
    long status;
    char *body;
    size_t len, cap;
    char nonce[256];
    char location[512];
};

static size_t body_take(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t add = size * n;

    if (a->len + add + 1 > a->cap) {
        a->cap = (a->len + add + 1) * 2;
        if ((a->body = realloc(a->body, a->cap)) == NULL)
            die("out of memory");
    }
    memcpy(a->body + a->len, data, add);
    a->len += add;
    a->body[a->len] = '\0';
    return add;
}

/* A header's value into out if line is "name: value" (trailing CR LF dropped). */
static void header_pick(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);

    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    line += n + 1;
    len -= n + 1;
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    if (len < size) {
        memcpy(out, line, len);
        out[len] = '\0';
    }
}

static size_t header_take(char *line, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;

    header_pick(line, size * n, "Replay-Nonce", a->nonce, sizeof(a->nonce));
    header_pick(line, size * n, "Location", a->location, sizeof(a->location));
    return size * n;
}

struct client {
    int id;
    pthread_t thread;
    CURL *curl;
    struct curl_slist *headers;
    struct account_key key;
    EVP_PKEY *cert_key; /* the key of its certificates (one per client) */
    char *kid;
    char nonce[256];
    struct answer a;
    long seq;
    /* counted while measuring */
    long orders, errors, requests, bad_nonces;
    long polls_ready, polls_valid; /* before finalize, and after it */
    double mark, steps[STEPS];     /* wall seconds in each step of an order */
    double *latency;
    size_t nlatency, caplatency;
    /* its http-01 token, served by the listener */
    pthread_cond_t served_cond;
    int served;
    char token[128];
    char keyauth[256];
};

static const char *cafile;
static atomic_int measuring; /* events are counted only while it is set */

static void client_http_init(struct client *c)
{
    if ((c->curl = curl_easy_init()) == NULL)
        die("curl_easy_init failed");
    c->headers = curl_slist_append(NULL, "Content-Type: application/jose+json");
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
    curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (cafile != NULL)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, body_take);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->a);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_take);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &c->a);
}

/* One request (body NULL: GET, or HEAD when head); the answer in c->a, its status returned. */
static long http(struct client *c, const char *url, const char *body, int head)
{
    CURLcode rc;

    c->a.len = 0;
    c->a.status = 0;
    c->a.nonce[0] = c->a.location[0] = '\0';
    if (c->a.body != NULL)
        c->a.body[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_NOBODY, head ? 1L : 0L);
    if (body != NULL) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (!head) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    if (atomic_load(&measuring))
        c->requests++;
    if ((rc = curl_easy_perform(c->curl)) != CURLE_OK) {
        fprintf(stderr, "acme_load: %s: %s\n", url, curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->a.status);
    if (c->a.nonce[0] != '\0')
        snprintf(c->nonce, sizeof(c->nonce), "%s", c->a.nonce);
    return c->a.status;
}

/* ---- ACME requests ------------------------------------------------------------------- */

static struct {
    char *new_nonce, *new_account, *new_order;
} dir;

static int bad_nonce(const struct client *c)
{
    return c->a.status == 400 && c->a.body != NULL &&
           strstr(c->a.body, "urn:ietf:params:acme:error:badNonce") != NULL;
}

/*
 * A signed POST of payload (NULL: POST-as-GET) to url, by kid or (before the
 * account exists) by jwk; a badNonce answer is retried with its fresh nonce.
 * The answer's JSON (a new reference; NULL if none), its status in *status.
 */
static json_t *acme_post_once(struct client *c, const char *url, const char *payload, long *status)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        char *body;
        if (c->nonce[0] == '\0' && http(c, dir.new_nonce, NULL, 1) != 200)
            break;
        body = jws(&c->key, c->kid, c->nonce, url, payload);
        c->nonce[0] = '\0';
        *status = http(c, url, body, 0);
        free(body);
        if (!bad_nonce(c))
            return c->a.len > 0 ? json_loadb(c->a.body, c->a.len, 0, NULL) : NULL;
        if (atomic_load(&measuring))
            c->bad_nonces++;
    }
    *status = 0;
    return NULL;
}

/*
 * -x: a newOrder waits until no other request is under way and holds new ones
 * off until it is answered.  pebble 2.4 deadlocks without it: its newOrder
 * holds the store's read lock while it read-locks every authorization, its
 * POST-as-GET of an authorization holds that authorization's write lock while
 * it read-locks the store, and a writer waiting for the store (another
 * newOrder, an issuance) blocks new readers.
 */
static int exclusive_new_order;
static pthread_rwlock_t order_gate;

static json_t *acme_post(struct client *c, const char *url, const char *payload, long *status)
{
    json_t *o;

    if (!exclusive_new_order)
        return acme_post_once(c, url, payload, status);
    if (strcmp(url, dir.new_order) == 0)
        pthread_rwlock_wrlock(&order_gate);
    else
        pthread_rwlock_rdlock(&order_gate);
    o = acme_post_once(c, url, payload, status);
    pthread_rwlock_unlock(&order_gate);
    return o;
}

static const char *member(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void client_account(struct client *c)
{
    json_t *o;
    long status;

    account_key_new(&c->key);
    if ((c->cert_key = EVP_EC_gen("P-256")) == NULL)
        die("cannot make a P-256 key");
    o = acme_post(c, dir.new_account, "{\"termsOfServiceAgreed\":true}", &status);
    if ((status != 201 && status != 200) || c->a.location[0] == '\0')
        die("newAccount: %ld %s", status, c->a.body ? c->a.body : "");
    c->kid = strdup(c->a.location);
    json_decref(o);
}

/* ---- the http-01 listener ------------------------------------------------------------ */

static struct client *clients;
static int nclients;
static pthread_mutex_t tokens_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int listener_stop;
static atomic_long tokens_served, tokens_unknown;

/* The key authorization of token into out (0), or -1 if no client registered it. */
static int token_answer(const char *token, char *out, size_t size)
{
    int rc = -1;

    pthread_mutex_lock(&tokens_lock);
    for (int i = 0; i < nclients; i++)
        if (clients[i].token[0] != '\0' && strcmp(clients[i].token, token) == 0) {
            snprintf(out, size, "%s", clients[i].keyauth);
            clients[i].served = 1;
            pthread_cond_signal(&clients[i].served_cond);
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&tokens_lock);
    return rc;
}

/* Answers one request read whole (GET /.well-known/acme-challenge/TOKEN) on fd. */
static void listener_answer(int fd, const char *req)
{
    static const char prefix[] = "GET /.well-known/acme-challenge/";
    char token[128], body[256], out[512];
    size_t n = 0;
    int len;

    if (strncmp(req, prefix, sizeof(prefix) - 1) == 0) {
        const char *t = req + sizeof(prefix) - 1;
        n = strcspn(t, " \r\n");
        if (n < sizeof(token)) {
            memcpy(token, t, n);
            token[n] = '\0';
        }
    }
    if (n > 0 && n < sizeof(token) && token_answer(token, body, sizeof(body)) == 0) {
        atomic_fetch_add(&tokens_served, 1);
        len = snprintf(out, sizeof(out),
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       strlen(body), body);
    } else {
        atomic_fetch_add(&tokens_unknown, 1);
        len = snprintf(out, sizeof(out),
                       "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    if (write(fd, out, (size_t)len) < 0) {
        /* the validator went away: nothing to do */
    }
}

struct conn {
    int fd;
    size_t len;
    char buf[2048];
};

/* Reads what c has; 1 when it is finished with (answered, closed or too long). */
static int conn_read(struct conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return 1;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (strstr(c->buf, "\r\n\r\n") != NULL) {
        listener_answer(c->fd, c->buf);
        return 1;
    }
    return c->len >= sizeof(c->buf) - 1;
}

static void listener_accept(int lfd, struct pollfd *pfd, struct conn *conns, int *n)
{
    int fd;

    while (*n < LISTEN_CONNS && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        conns[*n].fd = fd;
        conns[*n].len = 0;
        pfd[*n + 1] = (struct pollfd){fd, POLLIN, 0};
        (*n)++;
    }
}

/* One thread serving every client's tokens: poll(2) over the listening socket and connections. */
static void *listener_main(void *arg)
{
    int lfd = *(int *)arg, n = 0;
    struct pollfd pfd[LISTEN_CONNS + 1];
    static struct conn conns[LISTEN_CONNS];

    pfd[0] = (struct pollfd){lfd, POLLIN, 0};
    while (!atomic_load(&listener_stop)) {
        if (poll(pfd, (nfds_t)n + 1, 100) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (pfd[i + 1].revents == 0 || !conn_read(&conns[i]))
                continue;
            close(conns[i].fd);
            conns[i] = conns[n - 1];
            pfd[i + 1] = pfd[n];
            pfd[i + 1].revents = pfd[n].revents;
            n--;
            i--;
        }
        if (pfd[0].revents & POLLIN)
            listener_accept(lfd, pfd, conns, &n);
    }
    for (int i = 0; i < n; i++)
        close(conns[i].fd);
    return NULL;
}

static int listener_open(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 512) != 0)
        die("cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

/* ---- one complete order ---------------------------------------------------------------- */

static atomic_int stopping; /* no new orders */
static int poll_order;      /* -o: poll the order until ready, not the authorization */
static const char *name_suffix = "bench.example";

static int fail(struct client *c, const char *step, long status)
{
    static atomic_int shown;

    if (atomic_fetch_add(&shown, 1) < 5)
        fprintf(stderr, "acme_load: client %d: %s: status %ld: %.300s\n", c->id, step, status,
                c->a.body ? c->a.body : "");
    if (atomic_load(&measuring))
        c->errors++;
    return -1;
}

/* Ends step k of the order under way: its wall time is added up while measuring. */
static void step_end(struct client *c, enum step k)
{
    double now = now_s();

    if (atomic_load(&measuring))
        c->steps[k] += now - c->mark;
    c->mark = now;
}

/* Polls url (POST-as-GET) until its status is want; the object (a new reference) or NULL. */
static json_t *poll_until(struct client *c, const char *url, const char *want, long *polls)
{
    int wait = 2;

    for (;;) {
        long status;
        json_t *o = acme_post(c, url, NULL, &status);
        const char *s = member(o, "status");
        if (atomic_load(&measuring))
            (*polls)++;
        if (status != 200 || s == NULL || strcmp(s, "invalid") == 0) {
            json_decref(o);
            return NULL;
        }
        if (strcmp(s, want) == 0)
            return o;
        json_decref(o);
        sleep_ms(wait);
        wait = wait * 2 > POLL_MAX_MS ? POLL_MAX_MS : wait * 2;
    }
}

static void token_set(struct client *c, const char *token)
{
    pthread_mutex_lock(&tokens_lock);
    snprintf(c->token, sizeof(c->token), "%s", token ? token : "");
    snprintf(c->keyauth, sizeof(c->keyauth), "%s.%s", token ? token : "", c->key.thumbprint);
    c->served = 0;
    pthread_mutex_unlock(&tokens_lock);
}

/* Waits until the listener served this client's token (0), or gives up (-1). */
static int token_wait(struct client *c)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_SERVED;
    pthread_mutex_lock(&tokens_lock);
    while (!c->served && rc == 0)
        rc = pthread_cond_timedwait(&c->served_cond, &tokens_lock, &until);
    pthread_mutex_unlock(&tokens_lock);
    return c->served ? 0 : -1;
}

/*
 * The http-01 challenge of authorization authz_url: registered, started, and
 * waited for by polling the authorization until it is valid, or (with -o) the
 * order at order_url until it is ready.
 */
static int challenge_answer(struct client *c, const char *authz_url, const char *order_url)
{
    long status;
    json_t *authz = acme_post(c, authz_url, NULL, &status), *ch, *done;
    const char *url = NULL, *token = NULL;
    size_t i;
    int rc;

    json_array_foreach(json_object_get(authz, "challenges"), i, ch)
    {
        if (member(ch, "type") != NULL && strcmp(member(ch, "type"), "http-01") == 0) {
            url = member(ch, "url");
            token = member(ch, "token");
        }
    }
    if (status != 200 || url == NULL || token == NULL) {
        json_decref(authz);
        return fail(c, "authorization", status);
    }
    step_end(c, STEP_AUTHZ);
    token_set(c, token);
    json_decref(acme_post(c, url, "{}", &status));
    json_decref(authz);
    if (status != 200)
        return fail(c, "challenge", status);
    step_end(c, STEP_CHALLENGE);
    if (token_wait(c) != 0)
        return fail(c, "the token was not fetched", 0);
    step_end(c, STEP_FETCHED);
    done = poll_order ? poll_until(c, order_url, "ready", &c->polls_ready)
                      : poll_until(c, authz_url, "valid", &c->polls_ready);
    rc = done ? 0 : fail(c, "poll before finalize", c->a.status);
    step_end(c, STEP_POLL_READY);
    json_decref(done);
    return rc;
}

/* Finalizes order (its URL order_url) and downloads the certificate. */
static int order_finish(struct client *c, const char *name, json_t *order, const char *order_url)
{
    char *csr = csr_for(c->cert_key, name), *payload = xmalloc(strlen(csr) + 16);
    json_t *o, *valid = NULL;
    const char *cert;
    long status;
    int rc = -1;

    sprintf(payload, "{\"csr\":\"%s\"}", csr);
    o = acme_post(c, member(order, "finalize"), payload, &status);
    free(payload);
    free(csr);
    if (status != 200 || member(o, "status") == NULL) {
        rc = fail(c, "finalize", status);
        goto out;
    }
    step_end(c, STEP_FINALIZE);
    if (strcmp(member(o, "status"), "valid") != 0 &&
        (valid = poll_until(c, order_url, "valid", &c->polls_valid)) == NULL) {
        rc = fail(c, "order poll", c->a.status);
        goto out;
    }
    step_end(c, STEP_POLL_VALID);
    if ((cert = member(valid ? valid : o, "certificate")) == NULL) {
        rc = fail(c, "no certificate URL", 0);
        goto out;
    }
    json_decref(acme_post(c, cert, NULL, &status));
    step_end(c, STEP_CERT);
    if (status != 200 || c->a.body == NULL ||
        strncmp(c->a.body, "-----BEGIN CERTIFICATE-----", 27) != 0)
        rc = fail(c, "certificate", status);
    else
        rc = 0;
out:
    json_decref(o);
    json_decref(valid);
    return rc;
}

static int order_once(struct client *c)
{
    char name[256], payload[400], *order_url;
    json_t *order;
    const char *authz;
    long status;
    int rc = -1;

    c->mark = now_s();
    snprintf(name, sizeof(name), "c%d-%ld.%s", c->id, c->seq++, name_suffix);
    snprintf(payload, sizeof(payload), "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}",
             name);
    order = acme_post(c, dir.new_order, payload, &status);
    authz = json_string_value(json_array_get(json_object_get(order, "authorizations"), 0));
    if (status != 201 || authz == NULL || c->a.location[0] == '\0' ||
        member(order, "finalize") == NULL) {
        json_decref(order);
        return fail(c, "newOrder", status);
    }
    order_url = strdup(c->a.location);
    step_end(c, STEP_NEW_ORDER);
    if (challenge_answer(c, authz, order_url) == 0)
        rc = order_finish(c, name, order, order_url);
    token_set(c, NULL);
    free(order_url);
    json_decref(order);
    return rc;
}

static void latency_add(struct client *c, double s)
{
    if (c->nlatency == c->caplatency) {
        c->caplatency = c->caplatency ? c->caplatency * 2 : 1024;
        if ((c->latency = realloc(c->latency, c->caplatency * sizeof(double))) == NULL)
            die("out of memory");
    }
    c->latency[c->nlatency++] = s;
}

static pthread_barrier_t ready;

static void *client_main(void *arg)
{
    struct client *c = arg;

    client_http_init(c);
    client_account(c);
    pthread_barrier_wait(&ready);
    while (!atomic_load(&stopping)) {
        double t0 = now_s();
        /* Counted if it completes inside the window, as its requests are if made there. */
        if (order_once(c) == 0 && atomic_load(&measuring)) {
            c->orders++;
            latency_add(c, now_s() - t0);
        }
    }
    return NULL;
}

/* ---- CPU time of processes -------------------------------------------------------------- */

struct watched {
    const char *name;
    int pid;
    double start, end; /* CPU seconds when the window opened and closed */
};

/* User + system CPU seconds of pid so far (all its threads), or -1. */
static double proc_cpu(int pid)
{
    char path[64], buf[2048], *p;
    unsigned long utime, stime;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- main ------------------------------------------------------------------------------ */

static void directory_read(const char *url)
{
    struct client c = {.id = -1};
    json_t *d;

    client_http_init(&c);
    if (http(&c, url, NULL, 0) != 200 || (d = json_loadb(c.a.body, c.a.len, 0, NULL)) == NULL)
        die("directory %s: %ld", url, c.a.status);
    if (member(d, "newNonce") == NULL || member(d, "newAccount") == NULL ||
        member(d, "newOrder") == NULL)
        die("directory %s: newNonce, newAccount and newOrder are needed", url);
    dir.new_nonce = strdup(member(d, "newNonce"));
    dir.new_account = strdup(member(d, "newAccount"));
    dir.new_order = strdup(member(d, "newOrder"));
    json_decref(d);
    curl_easy_cleanup(c.curl);
    curl_slist_free_all(c.headers);
    free(c.a.body);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void report(double seconds, double self, const struct watched *w, int nw)
{
    long orders = 0, errors = 0, requests = 0, apolls = 0, opolls = 0, bad = 0;
    size_t nl = 0, k = 0;
    double *all;

    for (int i = 0; i < nclients; i++) {
        orders += clients[i].orders;
        errors += clients[i].errors;
        requests += clients[i].requests;
        apolls += clients[i].polls_ready;
        opolls += clients[i].polls_valid;
        bad += clients[i].bad_nonces;
        nl += clients[i].nlatency;
    }
    all = xmalloc((nl + 1) * sizeof(double));
    for (int i = 0; i < nclients; i++)
        for (size_t j = 0; j < clients[i].nlatency; j++)
            all[k++] = clients[i].latency[j];
    qsort(all, nl, sizeof(double), cmp_double);
    printf("orders: %ld in %.2f s: %.1f orders/s (%d clients; %ld failed, %ld badNonce retries)\n",
           orders, seconds, (double)orders / seconds, nclients, errors, bad);
    if (orders == 0) {
        free(all);
        return;
    }
    printf("latency of an order: median %.1f ms, p90 %.1f ms, p99 %.1f ms\n", all[nl / 2] * 1e3,
           all[nl * 9 / 10] * 1e3, all[nl * 99 / 100] * 1e3);
    printf("requests per order: %.2f (polls of the %s before finalize %.2f, of the order after "
           "it %.2f)\n",
           (double)requests / (double)orders, poll_order ? "order" : "authorization",
           (double)apolls / (double)orders, (double)opolls / (double)orders);
    printf("wall time per order by step (ms, summed over clients / orders):");
    for (int st = 0; st < STEPS; st++) {
        double t = 0;
        for (int i = 0; i < nclients; i++)
            t += clients[i].steps[st];
        printf("%s %s %.1f", st ? "," : "", step_names[st], t * 1e3 / (double)orders);
    }
    printf("\n");
    printf("CPU per order: acme_load %.0f us", self * 1e6 / (double)orders);
    for (int i = 0; i < nw; i++)
        printf(", %s %.0f us", w[i].name, (w[i].end - w[i].start) * 1e6 / (double)orders);
    printf("\n");
    free(all);
}

static void usage(void)
{
    fprintf(stderr, "usage: acme_load -d DIRECTORY_URL -p HTTP01_PORT [-c CAFILE] [-n CLIENTS]\n"
                    "                 [-t SECONDS] [-w WARMUP_SECONDS] [-s NAME_SUFFIX] [-o] [-x]\n"
                    "                 [-P NAME=PID]...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *directory = NULL;
    int port = 0, seconds = 10, warmup = 2, opt, lfd, nw = 0;
    struct watched w[PIDS_MAX];
    pthread_t listener;
    double t0, cpu0, elapsed, cpu;

    nclients = 16;
    while ((opt = getopt(argc, argv, "d:p:c:n:t:w:s:oxP:")) != -1) {
        char *eq;
        switch (opt) {
        case 'd':
            directory = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'c':
            cafile = optarg;
            break;
        case 'n':
            nclients = atoi(optarg);
            break;
        case 't':
            seconds = atoi(optarg);
            break;
        case 'w':
            warmup = atoi(optarg);
            break;
        case 's':
            name_suffix = optarg;
            break;
        case 'o':
            poll_order = 1;
            break;
        case 'x':
            exclusive_new_order = 1;
            break;
        case 'P':
            if ((eq = strchr(optarg, '=')) == NULL || nw == PIDS_MAX)
                usage();
            *eq = '\0';
            w[nw].name = optarg;
            w[nw++].pid = atoi(eq + 1);
            break;
        default:
            usage();
        }
    }
    if (directory == NULL || port <= 0 || port > 65535 || nclients < 1 || nclients > CLIENTS_MAX ||
        seconds < 1 || warmup < 0)
        usage();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    {
        pthread_rwlockattr_t attr; /* a waiting newOrder goes first */
        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&order_gate, &attr);
        pthread_rwlockattr_destroy(&attr);
    }
    lfd = listener_open(port);
    pthread_create(&listener, NULL, listener_main, &lfd);
    directory_read(directory);
    clients = calloc((size_t)nclients, sizeof(*clients));
    if (clients == NULL)
        die("out of memory");
    pthread_barrier_init(&ready, NULL, (unsigned)nclients + 1);
    for (int i = 0; i < nclients; i++) {
        clients[i].id = i;
        pthread_cond_init(&clients[i].served_cond, NULL);
        pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
    }
    pthread_barrier_wait(&ready); /* every account made */
    sleep((unsigned)warmup);
    atomic_store(&measuring, 1);
    t0 = now_s();
    cpu0 = self_cpu();
    for (int i = 0; i < nw; i++)
        w[i].start = proc_cpu(w[i].pid);
    sleep((unsigned)seconds);
    atomic_store(&measuring, 0);
    elapsed = now_s() - t0;
    cpu = self_cpu() - cpu0;
    for (int i = 0; i < nw; i++)
        w[i].end = proc_cpu(w[i].pid);
    atomic_store(&stopping, 1); /* orders under way are finished, not counted */
    for (int i = 0; i < nclients; i++)
        pthread_join(clients[i].thread, NULL);
    report(elapsed, cpu, w, nw);
    atomic_store(&listener_stop, 1);
    pthread_join(listener, NULL);
    close(lfd);
    return 0;
}
