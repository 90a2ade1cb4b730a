/*
 * test_acme_validate.c — ACME challenge validation and CAA (src/acme) against
 * real peers on loopback, nothing mocked:
 *
 *   - Debian's pebble-challtestsrv as the DNS server (A, TXT, CNAME, CAA,
 *     SERVFAIL), driven over its management API;
 *   - an HTTP server in this file on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (one
 *     port), counting the connections each address receives, with a route
 *     table per path (status, Location, body);
 *   - openssl s_server presenting acme-tls/1 certificates built here;
 *   - a listener that never answers, for the deadline;
 *   - a small UDP DNS responder here for what pebble-challtestsrv cannot
 *     serve: CAA records with the critical flag.
 *
 * Every validator allows only loopback addresses it is given, so no test can
 * reach another address.  Child processes die with this one
 * (PR_SET_PDEATHSIG) and are stopped by PID in the group teardown (pebble)
 * or before their test returns (s_server: by the test's teardown).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme/validate.h"
#include "acme/validate_internal.h"

#define THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#define ISSUER     "vouch.test"

static char tmpdir[64];
static pid_t cts_pid;           /* pebble-challtestsrv */
static int dns_port, mgmt_port; /* its DNS and management ports */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *key_auth(const char *token)
{
    return xasprintf("%s.%s", token, THUMBPRINT);
}

/* base64url(SHA-256(text)), computed here independently of src/acme. */
static void digest_b64url(const char *text, char out[48])
{
    unsigned char d[32];
    int n;

    assert_int_equal(EVP_Digest(text, strlen(text), d, NULL, EVP_sha256(), NULL), 1);
    n = EVP_EncodeBlock((unsigned char *)out, d, 32);
    while (n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* ---- processes ------------------------------------------------------------------ */

/* Starts argv in cwd (NULL: ours) with stdout into *out_fd (if not NULL); it dies with us. */
static pid_t spawn(char *const argv[], int *out_fd, const char *cwd)
{
    pid_t parent = getpid(), pid;
    int fds[2] = {-1, -1};

    if (out_fd != NULL && pipe(fds) != 0)
        return -1;
    if ((pid = fork()) == 0) {
        int null = open("/dev/null", O_RDWR);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || (cwd != NULL && chdir(cwd) != 0))
            _exit(1);
        dup2(null, 0);
        dup2(out_fd ? fds[1] : null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (out_fd != NULL) {
        close(fds[1]);
        *out_fd = fds[0];
    }
    return pid;
}

/* Stops *pid (SIGTERM, then SIGKILL after a second) and reaps it. */
static void stop(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

/* A port free on 127.0.0.1 for type (and for TCP too when both). */
static int free_port(int both)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        socklen_t len = sizeof(a);
        int u = socket(AF_INET, SOCK_DGRAM, 0), t = -1, port = -1;
        if (bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(u, (struct sockaddr *)&a, &len) == 0) {
            port = ntohs(a.sin_port);
            t = socket(AF_INET, SOCK_STREAM, 0);
            if (both && bind(t, (struct sockaddr *)&a, sizeof(a)) != 0)
                port = -1;
        }
        close(u);
        if (t >= 0)
            close(t);
        if (port > 0)
            return port;
    }
    return -1;
}

static int tcp_ready(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(0x7f000001)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* ---- pebble-challtestsrv -------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* POSTs json to the management API's path; asserts 200. */
static void cts(const char *path, const char *json)
{
    char url[128];
    long status = 0;
    CURL *c = curl_easy_init();

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", mgmt_port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (status != 200)
        fail_msg("pebble-challtestsrv %s %s: HTTP %ld", path, json, status);
}

static void cts_a(const char *host, const char *addr)
{
    char *j = xasprintf("{\"host\":\"%s\",\"addresses\":[\"%s\"]}", host, addr);
    cts("add-a", j);
    free(j);
}

static void cts_txt(const char *host, const char *value)
{
    char *j = xasprintf("{\"host\":\"%s\",\"value\":\"%s\"}", host, value);
    cts("set-txt", j);
    free(j);
}

static void cts_cname(const char *host, const char *target)
{
    char *j = xasprintf("{\"host\":\"%s\",\"target\":\"%s\"}", host, target);
    cts("set-cname", j);
    free(j);
}

/* policies: the JSON array, e.g. [{"tag":"issue","value":"vouch.test"}]. */
static void cts_caa(const char *host, const char *policies)
{
    char *j = xasprintf("{\"host\":\"%s\",\"policies\":%s}", host, policies);
    cts("add-caa", j);
    free(j);
}

static int cts_start(void)
{
    char dns[32], mgmt[32];
    char *argv[] = {
        "pebble-challtestsrv", "-dns01", dns, "-management", mgmt, "-http01", "", "-https01", "",
        "-tlsalpn01",          "",       NULL};

    if ((dns_port = free_port(1)) < 0 || (mgmt_port = free_port(0)) < 0)
        return -1;
    snprintf(dns, sizeof(dns), "127.0.0.1:%d", dns_port);
    snprintf(mgmt, sizeof(mgmt), "127.0.0.1:%d", mgmt_port);
    if ((cts_pid = spawn(argv, NULL, NULL)) < 0)
        return -1;
    /* Up to 60 s: a Go program starting on a machine busy with the other suites (make check
       runs them side by side) took more than the 5 s this once allowed. */
    for (int i = 0; i < 6000; i++) {
        if (tcp_ready(mgmt_port))
            return 0;
        if (waitpid(cts_pid, NULL, WNOHANG) == cts_pid) {
            cts_pid = 0;
            fprintf(stderr, "pebble-challtestsrv exited (is the pebble package installed?)\n");
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

/* ---- an HTTP server on 127.0.0.1, .2 and .3 --------------------------------------- */

struct route {
    char path[200];
    int status;
    char location[300];
    char *body;
    size_t body_len;
};

static struct {
    int fd[3], port, stop[2];
    atomic_int conns[3];
    pthread_t thread;
    pthread_mutex_t mu;
    struct route routes[64];
    size_t n;
} web = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Serves path with status, a Location (or NULL) and body (or NULL). */
static void web_route(const char *path, int status, const char *location, const char *body)
{
    pthread_mutex_lock(&web.mu);
    assert_true(web.n < ARRAY_LEN(web.routes));
    struct route *r = &web.routes[web.n++];
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->status = status;
    snprintf(r->location, sizeof(r->location), "%s", location ? location : "");
    r->body = xstrdup(body ? body : "");
    r->body_len = strlen(r->body);
    pthread_mutex_unlock(&web.mu);
}

static void web_answer(int fd)
{
    char req[4096], path[200] = "", *head;
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    const struct route *r = NULL;

    while (len < sizeof(req) - 1 && poll(&p, 1, 2000) == 1) {
        ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    req[len] = '\0';
    if (sscanf(req, "GET %199s ", path) != 1)
        return;
    pthread_mutex_lock(&web.mu);
    for (size_t i = 0; i < web.n; i++)
        if (strcmp(web.routes[i].path, path) == 0)
            r = &web.routes[i];
    head =
        xasprintf("HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
                  r ? r->status : 404, r ? r->body_len : 9, r && r->location[0] ? "Location: " : "",
                  r ? r->location : "", r && r->location[0] ? "\r\n" : "");
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    send(fd, r ? r->body : "not found", r ? r->body_len : 9, MSG_NOSIGNAL);
    pthread_mutex_unlock(&web.mu);
    free(head);
}

static void *web_run(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[4] = {{.fd = web.stop[0], .events = POLLIN}};
        for (int i = 0; i < 3; i++)
            p[i + 1] = (struct pollfd){.fd = web.fd[i], .events = POLLIN};
        if (poll(p, 4, -1) < 0 || p[0].revents)
            return NULL;
        for (int i = 0; i < 3; i++)
            if (p[i + 1].revents & POLLIN) {
                int c = accept(web.fd[i], NULL, NULL);
                if (c < 0)
                    continue;
                atomic_fetch_add(&web.conns[i], 1);
                web_answer(c);
                close(c);
            }
    }
}

/* A listening socket on 127.0.0.<host>:port (0: any); -1 if it cannot be had. */
static int listen_on(int host, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(0x7f000000 | (uint32_t)host)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static int web_start(void)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        web.fd[0] = listen_on(1, 0);
        web.port = port_of(web.fd[0]);
        web.fd[1] = listen_on(2, web.port);
        web.fd[2] = listen_on(3, web.port);
        if (web.fd[1] >= 0 && web.fd[2] >= 0)
            break;
        for (int i = 0; i < 3; i++)
            if (web.fd[i] >= 0)
                close(web.fd[i]);
        web.fd[0] = -1;
    }
    if (web.fd[0] < 0 || pipe(web.stop) != 0)
        return -1;
    return pthread_create(&web.thread, NULL, web_run, NULL) == 0 ? 0 : -1;
}

static void web_stop(void)
{
    if (web.fd[0] < 0)
        return;
    (void)!write(web.stop[1], "x", 1);
    pthread_join(web.thread, NULL);
    for (int i = 0; i < 3; i++)
        close(web.fd[i]);
    close(web.stop[0]);
    close(web.stop[1]);
    for (size_t i = 0; i < web.n; i++)
        free(web.routes[i].body);
    web.fd[0] = -1;
}

static char *challenge_path(const char *token)
{
    return xasprintf("/.well-known/acme-challenge/%s", token);
}

/* ---- a DNS responder for critical CAA records (UDP) ------------------------------ */

static struct {
    int fd, port, stop[2];
    pthread_t thread;
} tiny = {.fd = -1};

/* CAA records it serves: name -> flags, tag, value. */
static const struct {
    const char *name;
    unsigned char flags;
    const char *tag, *value;
} tiny_caa[] = {
    {"crit.test", 128, "tbs", "unknown"},
    {"critknown.test", 128, "issue", ISSUER},
};

static size_t tiny_reply(const unsigned char *q, size_t len, unsigned char *out)
{
    char name[256] = "";
    size_t off = 12, nl = 0, n;
    unsigned qtype;

    while (off < len && q[off] != 0 && nl + q[off] + 2 < sizeof(name)) {
        if (nl)
            name[nl++] = '.';
        memcpy(name + nl, q + off + 1, q[off]);
        nl += q[off];
        off += q[off] + 1;
    }
    name[nl] = '\0';
    if (off + 5 > len)
        return 0;
    qtype = (unsigned)q[off + 1] << 8 | q[off + 2];
    off += 5;
    memcpy(out, q, off);
    out[2] = 0x84 | (q[2] & 1); /* QR, AA, RD as asked */
    out[3] = 0;
    memset(out + 6, 0, 6); /* no answer, authority or additional records yet */
    n = off;
    for (size_t i = 0; i < ARRAY_LEN(tiny_caa) && qtype == 257; i++) {
        size_t tl = strlen(tiny_caa[i].tag), vl = strlen(tiny_caa[i].value);
        if (strcasecmp(name, tiny_caa[i].name) != 0)
            continue;
        unsigned char rr[] = {0xc0, 12, 1, 1, 0, 1, 0, 0, 0, 60, 0, (unsigned char)(2 + tl + vl)};
        memcpy(out + n, rr, sizeof(rr));
        n += sizeof(rr);
        out[n++] = tiny_caa[i].flags;
        out[n++] = (unsigned char)tl;
        memcpy(out + n, tiny_caa[i].tag, tl);
        memcpy(out + n + tl, tiny_caa[i].value, vl);
        n += tl + vl;
        out[7] = 1;
    }
    return n;
}

static void *tiny_run(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = tiny.stop[0], .events = POLLIN},
                              {.fd = tiny.fd, .events = POLLIN}};
        unsigned char q[512], out[1024];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n;
        size_t rn;

        if (poll(p, 2, -1) < 0 || p[0].revents)
            return NULL;
        n = recvfrom(tiny.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (n >= 12 && (rn = tiny_reply(q, (size_t)n, out)) > 0)
            sendto(tiny.fd, out, rn, 0, (struct sockaddr *)&from, fl);
    }
}

static int tiny_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof(a);

    tiny.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (bind(tiny.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(tiny.fd, (struct sockaddr *)&a, &len) != 0 || pipe(tiny.stop) != 0)
        return -1;
    tiny.port = ntohs(a.sin_port);
    return pthread_create(&tiny.thread, NULL, tiny_run, NULL) == 0 ? 0 : -1;
}

static void tiny_stop(void)
{
    if (tiny.fd < 0)
        return;
    (void)!write(tiny.stop[1], "x", 1);
    pthread_join(tiny.thread, NULL);
    close(tiny.fd);
    close(tiny.stop[0]);
    close(tiny.stop[1]);
    tiny.fd = -1;
}

/* ---- validators ------------------------------------------------------------------ */

/* A validator on pebble's DNS, allowing only allow, with the test server's HTTP port. */
static struct acme_validator *validator(const char *allow, int tls_port, int timeout_ms)
{
    char resolvers[32];
    struct acme_validate_config cfg = {.resolvers = resolvers,
                                       .http_port = web.port,
                                       .https_port = web.port + 1,
                                       .tls_port = tls_port ? tls_port : 1,
                                       .timeout_ms = timeout_ms,
                                       .connect_timeout_ms = 1000,
                                       .allow = allow};
    struct acme_validator *v;
    struct err e;

    snprintf(resolvers, sizeof(resolvers), "127.0.0.1:%d", dns_port);
    v = acme_validator_new(&cfg, &e);
    if (v == NULL)
        fail_msg("acme_validator_new: %s", e.msg);
    return v;
}

static int validate(const struct acme_validator *v, const char *type, const char *ident_type,
                    const char *ident, const char *token, struct acme_validation_record *rec,
                    struct err *e)
{
    struct acme_challenge c = {.type = type,
                               .ident_type = ident_type,
                               .ident_value = ident,
                               .token = token,
                               .thumbprint = THUMBPRINT};

    err_clear(e);
    return acme_validate(v, &c, rec, e);
}

static void assert_fails(int rc, const struct err *e, const char *code, const char *in_msg)
{
    if (rc != -1 || strcmp(e->code, code) != 0 || (in_msg && strstr(e->msg, in_msg) == NULL))
        fail_msg("expected %s failure mentioning \"%s\", got rc %d %s: %s", code,
                 in_msg ? in_msg : "", rc, e->code, e->msg);
    if (getenv("VOUCH_TEST_VERBOSE") != NULL)
        fprintf(stderr, "    %s: %s\n", e->code, e->msg);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    web.fd[0] = -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vouch-acme-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "group setup: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    /* pebble-challtestsrv binds the ports it is given itself: a port taken meanwhile by
       someone else (the other suites run beside this one) makes it exit; try afresh. */
    for (int attempt = 0; attempt < 5 && cts_start() != 0; attempt++) {
        fprintf(stderr, "group setup: pebble-challtestsrv did not start (try %d)\n", attempt + 1);
        stop(&cts_pid);
        if (attempt == 4)
            return -1;
    }
    if (web_start() != 0) {
        fprintf(stderr, "group setup: the test HTTP server did not start: %s\n", strerror(errno));
        stop(&cts_pid);
        return -1;
    }
    if (tiny_start() != 0) {
        fprintf(stderr, "group setup: the test DNS server did not start: %s\n", strerror(errno));
        stop(&cts_pid);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    char *cmd = xasprintf("rm -rf %s", tmpdir);

    (void)state;
    stop(&cts_pid);
    web_stop();
    tiny_stop();
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    free(cmd);
    curl_global_cleanup();
    return 0;
}

/* ---- settings and the address policy (no network) -------------------------------- */

static void default_policy_refuses_special_purpose_addresses(void **state)
{
    static const char *const refused[] = {"127.0.0.1",
                                          "10.1.2.3",
                                          "172.16.0.1",
                                          "192.168.1.1",
                                          "169.254.169.254",
                                          "100.64.0.1",
                                          "0.0.0.0",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "192.0.2.7",
                                          "198.51.100.1",
                                          "203.0.113.9",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fc00::1",
                                          "fd12:3456::1",
                                          "ff02::1",
                                          "2001:db8::1",
                                          "::ffff:127.0.0.1",
                                          "64:ff9b::a00:1",
                                          "64:ff9b::7f00:1",
                                          "2002:c000:0201::1",
                                          "2001:0:4136:e378::1"};
    static const char *const allowed[] = {"8.8.8.8", "1.1.1.1", "2606:4700::1111",
                                          "64:ff9b::808:808"};
    struct acme_validator *v = acme_validator_new(NULL, NULL);
    struct err e;

    (void)state;
    assert_non_null(v);
    for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
        err_clear(&e);
        if (acme_address_check(v, refused[i], &e) != -1)
            fail_msg("%s was allowed", refused[i]);
        assert_string_equal(e.code, ACME_ERR_REJECTED);
    }
    for (size_t i = 0; i < ARRAY_LEN(allowed); i++)
        if (acme_address_check(v, allowed[i], &e) != 0)
            fail_msg("%s was refused: %s", allowed[i], e.msg);
    assert_int_equal(acme_address_check(v, "169.254.169.254", &e), -1);
    assert_non_null(strstr(e.msg, "link-local"));
    assert_int_equal(acme_address_check(v, "not-an-address", &e), -1);
    assert_string_equal(e.code, ACME_ERR_MALFORMED);
    acme_validator_free(v);
}

static void allow_deny_and_own_addresses_shape_the_policy(void **state)
{
    struct acme_validate_config cfg = {.allow = "127.0.0.1, 10.0.0.0/8",
                                       .deny = "10.9.0.0/16 198.18.0.0/15",
                                       .own_addresses = "8.8.4.4,2001:4860::8844"};
    struct acme_validator *v = acme_validator_new(&cfg, NULL);
    struct err e;

    (void)state;
    assert_non_null(v);
    assert_int_equal(acme_address_check(v, "127.0.0.1", &e), 0);
    assert_int_equal(acme_address_check(v, "10.1.2.3", &e), 0);
    assert_int_equal(acme_address_check(v, "127.0.0.2", &e), -1);
    assert_int_equal(acme_address_check(v, "10.9.1.1", &e), -1); /* deny wins over allow */
    assert_non_null(strstr(e.msg, "denied"));
    assert_int_equal(acme_address_check(v, "8.8.4.4", &e), -1);
    assert_non_null(strstr(e.msg, "own_addresses"));
    assert_int_equal(acme_address_check(v, "2001:4860::8844", &e), -1);
    assert_int_equal(acme_address_check(v, "8.8.8.8", &e), 0);
    acme_validator_free(v);
}

static void bad_settings_are_refused_at_start(void **state)
{
    struct acme_validate_config bad_allow = {.allow = "127.0.0.1, localhost"};
    struct acme_validate_config bad_port = {.http_port = 70000};
    struct acme_validate_config bad_timeout = {.timeout_ms = 5};
    struct acme_validate_config bad_resolvers = {.resolvers = "not a resolver"};
    struct err e;

    (void)state;
    assert_null(acme_validator_new(&bad_allow, &e));
    assert_non_null(strstr(e.msg, "localhost"));
    assert_null(acme_validator_new(&bad_port, &e));
    assert_non_null(strstr(e.msg, "http_port"));
    assert_null(acme_validator_new(&bad_timeout, &e));
    assert_null(acme_validator_new(&bad_resolvers, &e));
    assert_non_null(strstr(e.msg, "resolvers"));
    assert_int_equal(e.kind, ERR_USAGE);
}

static void malformed_challenges_are_refused_before_any_lookup(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 2000);
    struct err e;

    (void)state;
    assert_fails(validate(v, "http-01", "dns", "ok.test", "../../etc/passwd", NULL, &e), &e,
                 ACME_ERR_MALFORMED, "token");
    assert_fails(validate(v, "http-01", "dns", "bad_name.test", "tok", NULL, &e), &e,
                 ACME_ERR_MALFORMED, NULL);
    assert_fails(validate(v, "http-01", "ip", "ok.test", "tok", NULL, &e), &e, ACME_ERR_MALFORMED,
                 "IP address");
    assert_fails(validate(v, "dns-01", "ip", "127.0.0.1", "tok", NULL, &e), &e, ACME_ERR_MALFORMED,
                 NULL);
    assert_fails(validate(v, "smtp-01", "dns", "ok.test", "tok", NULL, &e), &e, ACME_ERR_MALFORMED,
                 "smtp-01");
    assert_int_equal(e.kind, ERR_INVALID);
    acme_validator_free(v);
}

/* ---- http-01 --------------------------------------------------------------------- */

static void http01_valid_answer_passes(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *ka = key_auth("tok-http-ok"), *body = xasprintf("%s\r\n \n", ka);
    char *path = challenge_path("tok-http-ok");
    struct acme_validation_record rec;
    struct err e;

    (void)state;
    web_route(path, 200, NULL, body); /* trailing whitespace is ignored (RFC 8555 §8.3) */
    if (validate(v, "http-01", "dns", "http-ok.test", "tok-http-ok", &rec, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    assert_non_null(strstr(rec.address, "127.0.0.1:"));
    assert_non_null(strstr(rec.url, "http://http-ok.test:"));
    assert_int_equal(rec.redirects, 0);
    /* and for an IP identifier (RFC 8738): the address itself */
    if (validate(v, "http-01", "ip", "127.0.0.1", "tok-http-ok", &rec, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    assert_non_null(strstr(rec.url, "http://127.0.0.1:"));
    free(ka);
    free(body);
    free(path);
    acme_validator_free(v);
}

static void http01_wrong_body_is_an_incorrect_response(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *path = challenge_path("tok-http-wrong");
    struct err e;

    (void)state;
    web_route(path, 200, NULL, "tok-http-wrong.someone-elses-thumbprint");
    assert_fails(validate(v, "http-01", "dns", "http-wrong.test", "tok-http-wrong", NULL, &e), &e,
                 ACME_ERR_INCORRECT, "someone-elses-thumbprint");
    assert_non_null(strstr(e.msg, "expected \"tok-http-wrong." THUMBPRINT "\""));
    assert_non_null(strstr(e.msg, "127.0.0.1:"));
    free(path);
    acme_validator_free(v);
}

static void http01_not_found_is_unauthorized(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    struct err e;

    (void)state;
    assert_fails(validate(v, "http-01", "dns", "http-404.test", "tok-nowhere", NULL, &e), &e,
                 ACME_ERR_UNAUTHORIZED, "404");
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    acme_validator_free(v);
}

static void http01_body_over_the_limit_is_refused(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *path = challenge_path("tok-http-big"), *big = xmalloc(20001);
    struct err e;

    (void)state;
    memset(big, 'a', 20000);
    big[20000] = '\0';
    web_route(path, 200, NULL, big);
    assert_fails(validate(v, "http-01", "dns", "http-big.test", "tok-http-big", NULL, &e), &e,
                 ACME_ERR_INCORRECT, "longer than 8192");
    free(big);
    free(path);
    acme_validator_free(v);
}

static void http01_redirect_to_an_allowed_target_is_followed(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *ka = key_auth("tok-http-redir"), *path = challenge_path("tok-http-redir");
    char *to = xasprintf("http://Follow.test:%d/elsewhere/tok?x=1", web.port);
    struct acme_validation_record rec;
    struct err e;

    (void)state;
    web_route(path, 302, to, NULL);
    web_route("/elsewhere/tok?x=1", 200, NULL, ka);
    if (validate(v, "http-01", "dns", "http-redir.test", "tok-http-redir", &rec, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    assert_int_equal(rec.redirects, 1);
    assert_non_null(strstr(rec.url, "http://follow.test:"));
    free(ka);
    free(path);
    free(to);
    acme_validator_free(v);
}

/* A redirect to loopback (when only .2 is allowed) or to 169.254.169.254 is refused, unconnected.
 */
static void http01_redirect_to_a_refused_address_is_not_followed(void **state)
{
    struct acme_validator *v2 = validator("127.0.0.2/32", 0, 5000);
    char *p1 = challenge_path("tok-redir-lo"), *p2 = challenge_path("tok-redir-meta");
    char *p3 = challenge_path("tok-redir-port"), *p4 = challenge_path("tok-redir-ftp");
    char *lo = xasprintf("http://127.0.0.1:%d/x", web.port);
    char *meta = xasprintf("http://169.254.169.254:%d/latest/meta-data/", web.port);
    char *port = xasprintf("http://127.0.0.2:%d/x", web.port + 7);
    char *ftp = xasprintf("ftp://127.0.0.2:%d/x", web.port);
    int before;
    struct err e;

    (void)state;
    cts_a("redir-lo.test.", "127.0.0.2");
    web_route(p1, 302, lo, NULL);
    web_route(p2, 301, meta, NULL);
    web_route(p3, 307, port, NULL);
    web_route(p4, 308, ftp, NULL);
    before = atomic_load(&web.conns[0]);
    assert_fails(validate(v2, "http-01", "dns", "redir-lo.test", "tok-redir-lo", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "127.0.0.1: loopback");
    assert_int_equal(atomic_load(&web.conns[0]), before); /* 127.0.0.1 saw nothing */
    assert_fails(validate(v2, "http-01", "dns", "redir-lo.test", "tok-redir-meta", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "169.254.169.254: link-local");
    assert_fails(validate(v2, "http-01", "dns", "redir-lo.test", "tok-redir-port", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "only to port");
    assert_fails(validate(v2, "http-01", "dns", "redir-lo.test", "tok-redir-ftp", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "only http and https");
    free(p1), free(p2), free(p3), free(p4);
    free(lo), free(meta), free(port), free(ftp);
    acme_validator_free(v2);
}

static void http01_redirect_loop_stops_after_ten(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *path = challenge_path("tok-loop"),
         *to = xasprintf("http://loop.test:%d%s", web.port, "/.well-known/acme-challenge/tok-loop");
    int before = atomic_load(&web.conns[0]);
    struct err e;

    (void)state;
    web_route(path, 302, to, NULL);
    assert_fails(validate(v, "http-01", "dns", "loop.test", "tok-loop", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "more than 10 redirects");
    assert_int_equal(atomic_load(&web.conns[0]) - before, 11);
    free(path);
    free(to);
    acme_validator_free(v);
}

/* The name resolves only to 127.0.0.3, which the policy refuses: no connection is made. */
static void http01_name_resolving_to_a_denied_address_is_refused_unconnected(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *path = challenge_path("tok-denied");
    int before = atomic_load(&web.conns[2]);
    struct err e;

    (void)state;
    cts_a("denied.test.", "127.0.0.3");
    web_route(path, 200, NULL, "whatever");
    assert_fails(validate(v, "http-01", "dns", "denied.test", "tok-denied", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "127.0.0.3: loopback");
    assert_int_equal(atomic_load(&web.conns[2]), before);
    /* the same as an IP identifier: rejected */
    assert_fails(validate(v, "http-01", "ip", "127.0.0.3", "tok-denied", NULL, &e), &e,
                 ACME_ERR_REJECTED, "127.0.0.3");
    assert_int_equal(atomic_load(&web.conns[2]), before);
    free(path);
    acme_validator_free(v);
}

static void http01_listener_that_never_answers_times_out_in_bounded_time(void **state)
{
    int fd = listen_on(1, 0);
    struct acme_validate_config cfg = {.http_port = port_of(fd),
                                       .timeout_ms = 1500,
                                       .connect_timeout_ms = 1000,
                                       .allow = "127.0.0.1"};
    char resolvers[32];
    struct acme_validator *v;
    int64_t t0;
    struct err e;

    (void)state;
    snprintf(resolvers, sizeof(resolvers), "127.0.0.1:%d", dns_port);
    cfg.resolvers = resolvers;
    assert_non_null(v = acme_validator_new(&cfg, &e));
    t0 = now_ms();
    assert_fails(validate(v, "http-01", "dns", "hang.test", "tok-hang", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "in time");
    assert_in_range(now_ms() - t0, 1300, 2500);
    close(fd);
    acme_validator_free(v);
}

/* ---- dns-01 ---------------------------------------------------------------------- */

static void dns01_valid_record_passes(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *ka = key_auth("tok-dns-ok"), digest[48];
    struct err e;

    (void)state;
    digest_b64url(ka, digest);
    cts_txt("_acme-challenge.dns-ok.test.", "an unrelated record");
    cts_txt("_acme-challenge.dns-ok.test.", digest);
    if (validate(v, "dns-01", "dns", "dns-ok.test", "tok-dns-ok", NULL, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    free(ka);
    acme_validator_free(v);
}

static void dns01_wrong_digest_is_an_incorrect_response(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *ka = key_auth("tok-dns-wrong"), digest[48];
    struct err e;

    (void)state;
    digest_b64url(ka, digest);
    cts_txt("_acme-challenge.dns-wrong.test.", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0");
    assert_fails(validate(v, "dns-01", "dns", "dns-wrong.test", "tok-dns-wrong", NULL, &e), &e,
                 ACME_ERR_INCORRECT, digest);
    assert_non_null(strstr(e.msg, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
    assert_fails(validate(v, "dns-01", "dns", "dns-none.test", "tok-dns-wrong", NULL, &e), &e,
                 ACME_ERR_UNAUTHORIZED, "no TXT record at _acme-challenge.dns-none.test");
    free(ka);
    acme_validator_free(v);
}

static void dns01_record_behind_cnames_is_found(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    char *ka = key_auth("tok-dns-alias"), digest[48];
    struct err e;

    (void)state;
    digest_b64url(ka, digest);
    /* one alias: the server answers with the CNAME and the target's record */
    cts_cname("_acme-challenge.dns-alias.test.", "delegated.acme.test.");
    cts_txt("delegated.acme.test.", digest);
    if (validate(v, "dns-01", "dns", "dns-alias.test", "tok-dns-alias", NULL, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    /* two: the answer stops at the first target, which is asked again */
    cts_cname("_acme-challenge.dns-alias2.test.", "hop1.acme.test.");
    cts_cname("hop1.acme.test.", "hop2.acme.test.");
    cts_txt("hop2.acme.test.", digest);
    if (validate(v, "dns-01", "dns", "dns-alias2.test", "tok-dns-alias", NULL, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    /* the wrong digest behind an alias names the alias's target */
    cts_cname("_acme-challenge.dns-alias3.test.", "wrong.acme.test.");
    cts_txt("wrong.acme.test.", "nope");
    assert_fails(validate(v, "dns-01", "dns", "dns-alias3.test", "tok-dns-alias", NULL, &e), &e,
                 ACME_ERR_INCORRECT, "(alias of wrong.acme.test)");
    free(ka);
    acme_validator_free(v);
}

static void dns01_alias_loop_and_servfail_are_dns_problems(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    struct err e;

    (void)state;
    cts_cname("_acme-challenge.dns-loop.test.", "loop.acme.test.");
    cts_cname("loop.acme.test.", "_acme-challenge.dns-loop.test.");
    assert_fails(validate(v, "dns-01", "dns", "dns-loop.test", "tok-dns-loop", NULL, &e), &e,
                 ACME_ERR_DNS, "more than 8 aliases");
    cts("set-servfail", "{\"host\":\"_acme-challenge.dns-fail.test.\"}");
    assert_fails(validate(v, "dns-01", "dns", "dns-fail.test", "tok-dns-fail", NULL, &e), &e,
                 ACME_ERR_DNS, "_acme-challenge.dns-fail.test failed: SERVFAIL");
    assert_int_equal(e.kind, ERR_UNAVAILABLE);
    acme_validator_free(v);
}

/* ---- tls-alpn-01 ----------------------------------------------------------------- */

struct tls_peer {
    pid_t pid;
    int port;
};

/*
 * Writes a certificate for san ("DNS:x" / "IP:127.0.0.1") with the acmeIdentifier extension of
 * SHA-256(ka) (none if ka is NULL), critical or not, and starts openssl s_server with it,
 * offering acme-tls/1 if alpn; as a web server of the files in www if not NULL.
 */
static void tls_peer_start(struct tls_peer *peer, const char *san, const char *ka, int critical,
                           int alpn, const char *www)
{
    char *cert_path = xasprintf("%s/c-%d.pem", tmpdir, (int)getpid()),
         *key_path = xasprintf("%s/k-%d.pem", tmpdir, (int)getpid()), line[200] = "";
    char *argv[] = {
        "openssl",    "s_server", "-accept", "127.0.0.1:0",         "-cert",
        cert_path,    "-key",     key_path,  www ? "-WWW" : "-www", alpn ? "-alpn" : NULL,
        "acme-tls/1", NULL};
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    FILE *f;
    int out, n = 0;

    assert_non_null(key);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"acme-tls-alpn-01", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san));
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (ka != NULL) {
        unsigned char d[32], *der = NULL;
        ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *outer = ASN1_OCTET_STRING_new();
        ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
        int len;
        EVP_Digest(ka, strlen(ka), d, NULL, EVP_sha256(), NULL);
        ASN1_OCTET_STRING_set(inner, d, 32);
        len = i2d_ASN1_OCTET_STRING(inner, &der);
        ASN1_OCTET_STRING_set(outer, der, len);
        assert_non_null(ext = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, outer));
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        ASN1_OBJECT_free(oid);
        ASN1_OCTET_STRING_free(inner);
        ASN1_OCTET_STRING_free(outer);
        OPENSSL_free(der);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_non_null(f = fopen(cert_path, "w"));
    PEM_write_X509(f, x);
    fclose(f);
    assert_non_null(f = fopen(key_path, "w"));
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    if (!alpn)
        argv[9] = NULL;
    peer->pid = spawn(argv, &out, www);
    assert_true(peer->pid > 0);
    /* "ACCEPT 127.0.0.1:<port>" once it listens */
    for (struct pollfd p = {.fd = out, .events = POLLIN}; poll(&p, 1, 5000) == 1;) {
        ssize_t r = read(out, line + n, sizeof(line) - 1 - (size_t)n);
        if (r <= 0)
            break;
        n += (int)r;
        line[n] = '\0';
        if (strchr(line, '\n') && strstr(line, "ACCEPT 127.0.0.1:"))
            break;
    }
    close(out);
    free(cert_path);
    free(key_path);
    assert_non_null(strstr(line, "ACCEPT 127.0.0.1:"));
    peer->port = atoi(strstr(line, "ACCEPT 127.0.0.1:") + 17);
    assert_true(peer->port > 0);
}

static struct tls_peer peer;

static int tls_teardown(void **state)
{
    (void)state;
    stop(&peer.pid);
    return 0;
}

static void tls_alpn01_valid_certificate_passes(void **state)
{
    char *ka = key_auth("tok-tls-ok");
    struct acme_validation_record rec;
    struct acme_validator *v;
    struct err e;

    (void)state;
    tls_peer_start(&peer, "DNS:tls-ok.test", ka, 1, 1, NULL);
    v = validator("127.0.0.1", peer.port, 5000);
    if (validate(v, "tls-alpn-01", "dns", "tls-ok.test", "tok-tls-ok", &rec, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    assert_non_null(strstr(rec.address, "127.0.0.1:"));
    /* a name other than the certificate's */
    assert_fails(validate(v, "tls-alpn-01", "dns", "tls-other.test", "tok-tls-ok", NULL, &e), &e,
                 ACME_ERR_INCORRECT, "DNS:tls-ok.test, expected DNS:tls-other.test");
    free(ka);
    acme_validator_free(v);
}

static void tls_alpn01_ip_identifier_passes(void **state)
{
    char *ka = key_auth("tok-tls-ip");
    struct acme_validator *v;
    struct err e;

    (void)state;
    tls_peer_start(&peer, "IP:127.0.0.1", ka, 1, 1, NULL);
    v = validator("127.0.0.1", peer.port, 5000);
    if (validate(v, "tls-alpn-01", "ip", "127.0.0.1", "tok-tls-ip", NULL, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    free(ka);
    acme_validator_free(v);
}

static void tls_alpn01_wrong_digest_is_an_incorrect_response(void **state)
{
    char *other = key_auth("tok-someone-else");
    struct acme_validator *v;
    struct err e;

    (void)state;
    tls_peer_start(&peer, "DNS:tls-wrong.test", other, 1, 1, NULL);
    v = validator("127.0.0.1", peer.port, 5000);
    assert_fails(validate(v, "tls-alpn-01", "dns", "tls-wrong.test", "tok-tls-wrong", NULL, &e), &e,
                 ACME_ERR_INCORRECT, "expected SHA-256 of the key authorization");
    free(other);
    acme_validator_free(v);
}

static void tls_alpn01_without_acme_tls_1_is_a_tls_problem(void **state)
{
    char *ka = key_auth("tok-tls-noalpn");
    struct acme_validator *v;
    struct err e;

    (void)state;
    tls_peer_start(&peer, "DNS:tls-noalpn.test", ka, 1, 0, NULL);
    v = validator("127.0.0.1", peer.port, 5000);
    assert_fails(validate(v, "tls-alpn-01", "dns", "tls-noalpn.test", "tok-tls-noalpn", NULL, &e),
                 &e, ACME_ERR_TLS, "did not select ALPN protocol acme-tls/1");
    free(ka);
    acme_validator_free(v);
}

static void tls_alpn01_non_critical_extension_is_refused(void **state)
{
    char *ka = key_auth("tok-tls-noncrit");
    struct acme_validator *v;
    struct err e;

    (void)state;
    tls_peer_start(&peer, "DNS:tls-noncrit.test", ka, 0, 1, NULL);
    v = validator("127.0.0.1", peer.port, 5000);
    assert_fails(validate(v, "tls-alpn-01", "dns", "tls-noncrit.test", "tok-tls-noncrit", NULL, &e),
                 &e, ACME_ERR_INCORRECT, "not critical");
    free(ka);
    acme_validator_free(v);
}

static void tls_alpn01_missing_extension_and_closed_port_are_refused(void **state)
{
    int closed = free_port(1);
    struct acme_validator *v;
    struct err e;

    (void)state;
    tls_peer_start(&peer, "DNS:tls-noext.test", NULL, 1, 1, NULL);
    v = validator("127.0.0.1", peer.port, 5000);
    assert_fails(validate(v, "tls-alpn-01", "dns", "tls-noext.test", "tok-tls-noext", NULL, &e), &e,
                 ACME_ERR_INCORRECT, "no acmeIdentifier extension");
    acme_validator_free(v);
    v = validator("127.0.0.1", closed, 5000);
    assert_fails(validate(v, "tls-alpn-01", "dns", "tls-noext.test", "tok-tls-noext", NULL, &e), &e,
                 ACME_ERR_CONNECTION, "Connection refused");
    acme_validator_free(v);
}

/* A redirect to https on https_port is followed; the self-signed certificate is not verified. */
static void http01_redirect_to_https_is_followed_without_verifying(void **state)
{
    char *ka = key_auth("tok-https"), *path = challenge_path("tok-https"), *file, *to,
         resolvers[32];
    struct acme_validate_config cfg = {
        .resolvers = resolvers, .http_port = web.port, .allow = "127.0.0.1"};
    struct acme_validation_record rec;
    struct acme_validator *v;
    struct err e;
    FILE *f;

    (void)state;
    file = xasprintf("%s/ka-https.txt", tmpdir);
    assert_non_null(f = fopen(file, "w"));
    fputs(ka, f);
    fclose(f);
    tls_peer_start(&peer, "DNS:whatever.test", NULL, 0, 0, tmpdir);
    snprintf(resolvers, sizeof(resolvers), "127.0.0.1:%d", dns_port);
    cfg.https_port = peer.port;
    assert_non_null(v = acme_validator_new(&cfg, &e));
    to = xasprintf("https://https.test:%d/ka-https.txt", peer.port);
    web_route(path, 301, to, NULL);
    if (validate(v, "http-01", "dns", "http-to-https.test", "tok-https", &rec, &e) != 0)
        fail_msg("%s: %s", e.code, e.msg);
    assert_int_equal(rec.redirects, 1);
    assert_string_equal(rec.url, to);
    free(ka);
    free(path);
    free(file);
    free(to);
    acme_validator_free(v);
}

/* ---- CAA ------------------------------------------------------------------------- */

static int caa(const struct acme_validator *v, const char *name, const char *account,
               const char *method, struct err *e)
{
    static const char *const issuers[] = {"other-name.example", ISSUER, NULL};
    struct acme_caa_query q = {
        .name = name, .issuers = issuers, .account_uri = account, .method = method};

    err_clear(e);
    return acme_caa_check(v, &q, e);
}

static void caa_absent_or_naming_us_allows(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    struct err e;

    (void)state;
    if (caa(v, "www.nocaa.test", NULL, NULL, &e) != 0)
        fail_msg("%s", e.msg);
    cts_caa("caa-ok.test.", "[{\"tag\":\"issue\",\"value\":\"Vouch.Test\"},"
                            "{\"tag\":\"iodef\",\"value\":\"mailto:pki@caa-ok.test\"}]");
    if (caa(v, "caa-ok.test", NULL, NULL, &e) != 0)
        fail_msg("%s", e.msg);
    cts_caa("caa-iodef.test.", "[{\"tag\":\"iodef\",\"value\":\"mailto:x@caa-iodef.test\"}]");
    if (caa(v, "caa-iodef.test", NULL, NULL, &e) != 0) /* no issue property: no restriction */
        fail_msg("%s", e.msg);
    assert_int_equal(caa(v, "192.0.2.7", NULL, NULL, &e), 0); /* not for IP addresses */
    acme_validator_free(v);
}

static void caa_naming_another_ca_refuses(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    struct err e;

    (void)state;
    cts_caa("caa-other.test.", "[{\"tag\":\"issue\",\"value\":\"ca.example.net\"}]");
    assert_fails(caa(v, "caa-other.test", NULL, NULL, &e), &e, ACME_ERR_CAA, "ca.example.net");
    assert_int_equal(e.kind, ERR_POLICY);
    cts_caa("caa-none.test.", "[{\"tag\":\"issue\",\"value\":\";\"}]");
    assert_fails(caa(v, "caa-none.test", NULL, NULL, &e), &e, ACME_ERR_CAA, "no CA may issue");
    cts_caa("caa-bad.test.", "[{\"tag\":\"issue\",\"value\":\"vouch.test; =x\"}]");
    assert_fails(caa(v, "caa-bad.test", NULL, NULL, &e), &e, ACME_ERR_CAA, "malformed");
    acme_validator_free(v);
}

static void caa_issuewild_decides_for_wildcards(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    struct err e;

    (void)state;
    cts_caa("caa-wild.test.", "[{\"tag\":\"issue\",\"value\":\"vouch.test\"},"
                              "{\"tag\":\"issuewild\",\"value\":\"ca.example.net\"}]");
    assert_fails(caa(v, "*.caa-wild.test", NULL, NULL, &e), &e, ACME_ERR_CAA, "issuewild");
    if (caa(v, "caa-wild.test", NULL, NULL, &e) != 0)
        fail_msg("%s", e.msg);
    cts_caa("caa-wild2.test.", "[{\"tag\":\"issue\",\"value\":\"ca.example.net\"},"
                               "{\"tag\":\"issuewild\",\"value\":\"vouch.test\"}]");
    if (caa(v, "*.caa-wild2.test", NULL, NULL, &e) != 0)
        fail_msg("%s", e.msg);
    assert_fails(caa(v, "caa-wild2.test", NULL, NULL, &e), &e, ACME_ERR_CAA, NULL);
    /* no issuewild: issue decides for the wildcard too */
    cts_caa("caa-wild3.test.", "[{\"tag\":\"issue\",\"value\":\"ca.example.net\"}]");
    assert_fails(caa(v, "*.caa-wild3.test", NULL, NULL, &e), &e, ACME_ERR_CAA, "issue");
    acme_validator_free(v);
}

static void caa_critical_unknown_tag_refuses(void **state)
{
    char resolvers[32];
    struct acme_validate_config cfg = {.resolvers = resolvers, .timeout_ms = 3000};
    struct acme_validator *v;
    struct err e;

    (void)state;
    snprintf(resolvers, sizeof(resolvers), "127.0.0.1:%d", tiny.port);
    assert_non_null(v = acme_validator_new(&cfg, &e));
    assert_fails(caa(v, "www.crit.test", NULL, NULL, &e), &e, ACME_ERR_CAA, "critical");
    assert_non_null(strstr(e.msg, "tbs"));
    if (caa(v, "critknown.test", NULL, NULL, &e) != 0) /* critical, but a tag we know */
        fail_msg("%s", e.msg);
    acme_validator_free(v);
}

static void caa_record_of_a_parent_domain_applies(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    struct err e;

    (void)state;
    cts_caa("caa-parent.test.", "[{\"tag\":\"issue\",\"value\":\"ca.example.net\"}]");
    assert_fails(caa(v, "www.sub.caa-parent.test", NULL, NULL, &e), &e, ACME_ERR_CAA,
                 "CAA at caa-parent.test");
    cts_caa("ok.caa-parent.test.", "[{\"tag\":\"issue\",\"value\":\"vouch.test\"}]");
    if (caa(v, "www.ok.caa-parent.test", NULL, NULL, &e) != 0) /* the nearer set decides */
        fail_msg("%s", e.msg);
    cts_cname("caa-alias.test.", "caa-target.test.");
    cts_caa("caa-target.test.", "[{\"tag\":\"issue\",\"value\":\"ca.example.net\"}]");
    assert_fails(caa(v, "caa-alias.test", NULL, NULL, &e), &e, ACME_ERR_CAA,
                 "alias of caa-target.test");
    acme_validator_free(v);
}

static void caa_account_and_method_parameters_are_honoured(void **state)
{
    struct acme_validator *v = validator("127.0.0.1", 0, 5000);
    struct err e;

    (void)state;
    cts_caa("caa-acct.test.",
            "[{\"tag\":\"issue\",\"value\":\"vouch.test; accounturi=https://acme.test/acct/1\"}]");
    assert_fails(caa(v, "caa-acct.test", "https://acme.test/acct/2", "http-01", &e), &e,
                 ACME_ERR_CAA, "only for account https://acme.test/acct/1");
    assert_fails(caa(v, "caa-acct.test", NULL, "http-01", &e), &e, ACME_ERR_CAA, "account");
    if (caa(v, "caa-acct.test", "https://acme.test/acct/1", "http-01", &e) != 0)
        fail_msg("%s", e.msg);
    cts_caa("caa-meth.test.", "[{\"tag\":\"issue\",\"value\":\"vouch.test; "
                              "validationmethods=dns-01,tls-alpn-01 ; future=1\"}]");
    assert_fails(caa(v, "caa-meth.test", NULL, "http-01", &e), &e, ACME_ERR_CAA,
                 "validation methods dns-01,tls-alpn-01");
    if (caa(v, "caa-meth.test", NULL, "tls-alpn-01", &e) != 0)
        fail_msg("%s", e.msg);
    acme_validator_free(v);
}

/* A resolver that never answers: the lookup ends at the deadline with a dns problem. */
static void dns_resolver_that_never_answers_times_out_in_bounded_time(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char resolvers[32];
    struct acme_validate_config cfg = {
        .resolvers = resolvers, .timeout_ms = 1200, .connect_timeout_ms = 400};
    struct acme_validator *v;
    int64_t t0;
    struct err e;

    (void)state;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(resolvers, sizeof(resolvers), "127.0.0.1:%d", ntohs(a.sin_port));
    assert_non_null(v = acme_validator_new(&cfg, &e));
    t0 = now_ms();
    assert_fails(validate(v, "dns-01", "dns", "silent.test", "tok-silent", NULL, &e), &e,
                 ACME_ERR_DNS, "_acme-challenge.silent.test");
    assert_in_range(now_ms() - t0, 1000, 2000);
    t0 = now_ms();
    assert_fails(caa(v, "silent.test", NULL, NULL, &e), &e, ACME_ERR_DNS, "silent.test");
    assert_in_range(now_ms() - t0, 1000, 2000);
    close(fd);
    acme_validator_free(v);
}

/* ---- many at once ---------------------------------------------------------------- */

struct job {
    const struct acme_validator *v;
    const char *type, *name, *token;
    int rc;
    int64_t ms;
    struct err e;
};

static void *job_run(void *arg)
{
    struct job *j = arg;
    int64_t t0 = now_ms();

    j->rc = validate(j->v, j->type, "dns", j->name, j->token, NULL, &j->e);
    j->ms = now_ms() - t0;
    return NULL;
}

/* Validations stuck on a silent peer do not hold up the others. */
static void validations_run_at_once_from_several_threads(void **state)
{
    int fd = listen_on(1, 0);
    struct acme_validate_config cfg = {
        .http_port = port_of(fd), .timeout_ms = 2500, .allow = "127.0.0.1"};
    struct acme_validator *v = validator("127.0.0.1", 0, 5000), *slow;
    char *ka = key_auth("tok-many"), *path = challenge_path("tok-many"), resolvers[32], digest[48];
    struct job jobs[10];
    pthread_t th[10];

    (void)state;
    snprintf(resolvers, sizeof(resolvers), "127.0.0.1:%d", dns_port);
    cfg.resolvers = resolvers;
    assert_non_null(slow = acme_validator_new(&cfg, NULL));
    web_route(path, 200, NULL, ka);
    digest_b64url(ka, digest);
    cts_txt("_acme-challenge.many.test.", digest);
    for (int i = 0; i < 10; i++) {
        jobs[i] = (struct job){.v = i < 3 ? slow : v,
                               .type = i % 2 ? "dns-01" : "http-01",
                               .name = "many.test",
                               .token = "tok-many"};
        if (i < 3)
            jobs[i].type = "http-01";
        assert_int_equal(pthread_create(&th[i], NULL, job_run, &jobs[i]), 0);
    }
    for (int i = 0; i < 10; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 10; i++) {
        if (i < 3) {
            assert_int_equal(jobs[i].rc, -1);
            assert_string_equal(jobs[i].e.code, ACME_ERR_CONNECTION);
        } else if (jobs[i].rc != 0 || jobs[i].ms > 1500) {
            fail_msg("job %d (%s): rc %d after %lld ms: %s", i, jobs[i].type, jobs[i].rc,
                     (long long)jobs[i].ms, jobs[i].e.msg);
        }
    }
    close(fd);
    free(ka);
    free(path);
    acme_validator_free(v);
    acme_validator_free(slow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_policy_refuses_special_purpose_addresses),
        cmocka_unit_test(allow_deny_and_own_addresses_shape_the_policy),
        cmocka_unit_test(bad_settings_are_refused_at_start),
        cmocka_unit_test(malformed_challenges_are_refused_before_any_lookup),
        cmocka_unit_test(http01_valid_answer_passes),
        cmocka_unit_test(http01_wrong_body_is_an_incorrect_response),
        cmocka_unit_test(http01_not_found_is_unauthorized),
        cmocka_unit_test(http01_body_over_the_limit_is_refused),
        cmocka_unit_test(http01_redirect_to_an_allowed_target_is_followed),
        cmocka_unit_test(http01_redirect_to_a_refused_address_is_not_followed),
        cmocka_unit_test(http01_redirect_loop_stops_after_ten),
        cmocka_unit_test(http01_name_resolving_to_a_denied_address_is_refused_unconnected),
        cmocka_unit_test(http01_listener_that_never_answers_times_out_in_bounded_time),
        cmocka_unit_test(dns01_valid_record_passes),
        cmocka_unit_test(dns01_wrong_digest_is_an_incorrect_response),
        cmocka_unit_test(dns01_record_behind_cnames_is_found),
        cmocka_unit_test(dns01_alias_loop_and_servfail_are_dns_problems),
        cmocka_unit_test_teardown(tls_alpn01_valid_certificate_passes, tls_teardown),
        cmocka_unit_test_teardown(tls_alpn01_ip_identifier_passes, tls_teardown),
        cmocka_unit_test_teardown(tls_alpn01_wrong_digest_is_an_incorrect_response, tls_teardown),
        cmocka_unit_test_teardown(tls_alpn01_without_acme_tls_1_is_a_tls_problem, tls_teardown),
        cmocka_unit_test_teardown(tls_alpn01_non_critical_extension_is_refused, tls_teardown),
        cmocka_unit_test_teardown(tls_alpn01_missing_extension_and_closed_port_are_refused,
                                  tls_teardown),
        cmocka_unit_test_teardown(http01_redirect_to_https_is_followed_without_verifying,
                                  tls_teardown),
        cmocka_unit_test(caa_absent_or_naming_us_allows),
        cmocka_unit_test(caa_naming_another_ca_refuses),
        cmocka_unit_test(caa_issuewild_decides_for_wildcards),
        cmocka_unit_test(caa_critical_unknown_tag_refuses),
        cmocka_unit_test(caa_record_of_a_parent_domain_applies),
        cmocka_unit_test(caa_account_and_method_parameters_are_honoured),
        cmocka_unit_test(dns_resolver_that_never_answers_times_out_in_bounded_time),
        cmocka_unit_test(validations_run_at_once_from_several_threads),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
