/*
 * test_http.c — the HTTP layer of src/http: route tables, path decoding,
 * response helpers, and a real server on 127.0.0.1 (ephemeral port) driven
 * with libcurl, in plain HTTP and TLS.
 *
 * One server serves the whole group; the TLS tests start their own.  Every
 * server is stopped before its test returns or in the group teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "http/http.h"
#include "http/http_internal.h"

#define JSON "application/json"

/* ---- the application under test ------------------------------------------- */

static atomic_int echo_calls, secret_calls, principals_made, principals_freed;

static void h_hello(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    http_respond(resp, 200, "text/plain", "hello", 5);
}

static void h_echo(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    atomic_fetch_add(&echo_calls, 1);
    http_respond(resp, 200, req->content_type, req->body, req->body_len);
}

static void h_params(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    http_respond_json(resp, 200,
                      json_pack("{s:s, s:s, s:s, s:i}", "tenant", http_param(req, "tenant"), "ca",
                                http_param(req, "ca"), "path", req->path, "n", req->nparams));
}

static void h_secret(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    atomic_fetch_add(&secret_calls, 1);
    http_respond_json(resp, 200, json_pack("{s:s}", "who", (const char *)req->principal));
}

static void h_query(void *app, struct http_request *req, struct http_response *resp)
{
    const char *q = http_query(req, "q"), *h = http_header(req, "X-Test");
    char *text = xasprintf("%s|%s", q ? q : "-", h ? h : "-");

    (void)app;
    http_add_header(resp, "Cache-Control", "max-age=60");
    http_respond(resp, 200, "text/plain", text, strlen(text));
    free(text);
}

/* The client address and the proxy it came through, as the server decided them. */
static void h_remote(void *app, struct http_request *req, struct http_response *resp)
{
    char *text = xasprintf("%s|%s", req->remote_addr, req->proxy_addr ? req->proxy_addr : "-");

    (void)app;
    http_respond(resp, 200, "text/plain", text, strlen(text));
    free(text);
}

static void h_nostatus(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    (void)resp;
}

static int authorize(void *app, const struct http_route *route, struct http_request *req,
                     struct http_response *resp)
{
    const char *token = http_header(req, "X-Token");

    (void)app;
    if (strcmp(route->permission, "public") == 0)
        return 0;
    if (token == NULL || strcmp(token, "letmein") != 0) {
        http_add_header(resp, "WWW-Authenticate", "Bearer");
        http_respond_kind(resp, ERR_UNAUTHENTICATED, "missing or wrong token");
        return -1;
    }
    req->principal = xstrdup("alice");
    atomic_fetch_add(&principals_made, 1);
    return 0;
}

static void free_principal(void *principal)
{
    free(principal);
    atomic_fetch_add(&principals_freed, 1);
}

static const struct http_route routes[] = {
    {"GET", "/hello", NULL, "public", 0, h_hello},
    {"POST", "/echo", JSON, "public", 1024, h_echo},
    {"POST", "/nobody", NULL, "public", 0, h_hello},
    {"GET", "/crl/{tenant}/{ca}.crl", NULL, "public", 0, h_params},
    {"GET", "/api/v1/t/{tenant}/secret", NULL, "secret.read", 0, h_secret},
    {"GET", "/query", NULL, "public", 0, h_query},
    {"GET", "/nostatus", NULL, "public", 0, h_nostatus},
    {"GET", "/remote", NULL, "public", 0, h_remote},
};

static struct http_server *server;
static int port;

/* ---- a small libcurl client ------------------------------------------------ */

struct reply {
    long status;
    struct buf body;
    struct buf headers;
};

struct request {
    const char *method;
    const char *path;
    const char *content_type;
    const char *body;
    size_t body_len;
    int chunked;   /* send the body with Transfer-Encoding: chunked */
    int no_expect; /* suppress Expect: 100-continue */
    const char *header;
    const char *header2;
};

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    buf_append(userdata, data, size * n);
    return size * n;
}

/* Reads the chunked body from a struct request, one small piece at a time. */
static size_t body_read(char *out, size_t size, size_t n, void *userdata)
{
    struct request *rq = userdata;
    size_t len = size * n < 300 ? size * n : 300;

    if (len > rq->body_len)
        len = rq->body_len;
    memcpy(out, rq->body, len);
    rq->body += len;
    rq->body_len -= len;
    return len;
}

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * n;
}

static void reply_free(struct reply *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
}

/* The value of header name in r (case-insensitive), copied to out; NULL if absent. */
static const char *reply_header(const struct reply *r, const char *name, char *out, size_t len)
{
    char *all = xstrndup((const char *)r->headers.data, r->headers.len), *line, *save = NULL;
    const char *found = NULL;
    size_t nlen = strlen(name);

    for (line = strtok_r(all, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            snprintf(out, len, "%s", line + nlen + 1 + strspn(line + nlen + 1, " "));
            found = out;
        }
    free(all);
    return found;
}

/* The "error" field of a JSON error body, copied to out; "" if none. */
static const char *reply_error(const struct reply *r, char *out, size_t len)
{
    json_t *o = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
    const char *code = json_string_value(json_object_get(o, "error"));

    snprintf(out, len, "%s", code ? code : "");
    if (json_object_get(o, "detail") == NULL)
        snprintf(out, len, "%s", "(no detail)");
    json_decref(o);
    return out;
}

static void request_setup(CURL *c, struct request *rq, struct curl_slist **hdrs, char *url,
                          size_t url_len, const char *scheme, int p)
{
    char ct[128];

    snprintf(url, url_len, "%s://127.0.0.1:%d%s", scheme, p, rq->path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", rq->content_type);
        *hdrs = curl_slist_append(*hdrs, ct);
    }
    if (rq->header)
        *hdrs = curl_slist_append(*hdrs, rq->header);
    if (rq->header2)
        *hdrs = curl_slist_append(*hdrs, rq->header2);
    if (rq->no_expect)
        *hdrs = curl_slist_append(*hdrs, "Expect:");
    if (rq->chunked) {
        *hdrs = curl_slist_append(*hdrs, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, body_read);
        curl_easy_setopt(c, CURLOPT_READDATA, rq);
    } else if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
    }
    if (strcmp(rq->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
}

/* Performs rq against the server at port p; the CURLcode. */
static CURLcode perform(struct request rq, struct reply *out, const char *scheme, int p,
                        const char *cainfo)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char url[512];
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    request_setup(c, &rq, &hdrs, url, sizeof(url), scheme, p);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    if (cainfo)
        curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

/* Performs rq against the group's server and checks that the transfer itself worked. */
static void fetch(struct request rq, struct reply *out)
{
    char id[64];
    CURLcode rc = perform(rq, out, "http", port, NULL);

    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", rq.method, rq.path, curl_easy_strerror(rc));
    assert_non_null(reply_header(out, "X-Request-Id", id, sizeof(id)));
    assert_true(strlen(id) >= 8);
}

static void expect_error(struct request rq, long status, const char *code)
{
    struct reply r;
    char got[64], ctype[64];

    fetch(rq, &r);
    assert_int_equal(r.status, status);
    assert_string_equal(reply_error(&r, got, sizeof(got)), code);
    assert_non_null(reply_header(&r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, JSON);
    reply_free(&r);
}

/* Waits (up to 2 s) until every principal made has been freed. */
static void principals_settle(void)
{
    int i;

    for (i = 0; i < 200 && atomic_load(&principals_freed) != atomic_load(&principals_made); i++)
        usleep(10 * 1000);
    assert_int_equal(atomic_load(&principals_freed), atomic_load(&principals_made));
}

/* ---- group set-up ---------------------------------------------------------- */

static int group_setup(void **state)
{
    struct http_config cfg = {.address = "127.0.0.1", .threads = 2, .connection_timeout = 1};
    struct err e;

    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    server =
        http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e);
    if (server == NULL) {
        fprintf(stderr, "server: %s\n", e.msg);
        return -1;
    }
    port = http_server_port(server);
    return port > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    server = NULL;
    curl_global_cleanup();
    return 0;
}

/* ---- route tables and matching (no server) --------------------------------- */

static void route_table_of_the_test_server_is_valid(void **state)
{
    struct err e;

    (void)state;
    assert_int_equal(http_routes_validate(routes, ARRAY_LEN(routes), &e), 0);
}

static void route_without_permission_is_refused_naming_the_route(void **state)
{
    const struct http_route bad[] = {
        {"GET", "/hello", NULL, "public", 0, h_hello},
        {"GET", "/open/{door}", NULL, NULL, 0, h_hello},
    };
    struct http_config cfg = {.address = "127.0.0.1"};
    struct err e;

    (void)state;
    err_clear(&e);
    assert_null(http_server_start(&cfg, bad, ARRAY_LEN(bad), authorize, free_principal, NULL, &e));
    assert_non_null(strstr(e.msg, "/open/{door}"));
    assert_non_null(strstr(e.msg, "permission"));
}

static void invalid_routes_are_refused(void **state)
{
    const struct http_route cases[][2] = {
        {{"PATCH", "/a", NULL, "public", 0, h_hello}},
        {{"GET", "a", NULL, "public", 0, h_hello}},
        {{"GET", "/a", NULL, "public", 0, NULL}},
        {{"POST", "/a", NULL, "public", 10, h_hello}},
        {{"POST", "/a", JSON, "public", 0, h_hello}},
        {{"GET", "/a", JSON, "public", 10, h_hello}},
        {{"GET", "/a/{x", NULL, "public", 0, h_hello}},
        {{"GET", "/a//b", NULL, "public", 0, h_hello}},
        {{"GET", "/{a}/{b}/{c}/{d}/{e}", NULL, "public", 0, h_hello}},
        {{"GET", "/{a}/{a}", NULL, "public", 0, h_hello}},
        {{"GET", "/a/{x}", NULL, "public", 0, h_hello},
         {"GET", "/a/{y}", NULL, "public", 0, h_hello}},
        {{"GET", "/a", NULL, "public", 0, h_hello}, {"GET", "/a", NULL, "other", 0, h_hello}},
        {{"GET", "/a/{rest*}/b", NULL, "public", 0, h_hello}},
        {{"GET", "/a/{*}", NULL, "public", 0, h_hello}},
        {{"GET", "/a/{rest*}.x", NULL, "public", 0, h_hello}},
    };
    struct err e;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = cases[i][1].method ? 2 : 1;
        if (http_routes_validate(cases[i], n, &e) != -1)
            fail_msg("case %zu accepted", i);
        assert_non_null(strstr(e.msg, "route"));
    }
}

static void literal_segment_beats_parameter_whatever_the_order(void **state)
{
    const struct http_route table[] = {
        {"GET", "/c/{serial}", NULL, "public", 0, h_hello},
        {"GET", "/c/expiring", NULL, "public", 0, h_hello},
        {"GET", "/c/{serial}.pem", NULL, "public", 0, h_hello},
        {"DELETE", "/c/{serial}", NULL, "public", 0, h_hello},
    };
    struct http_request req;
    char *storage = NULL;
    int mismatch = -1;

    (void)state;
    memset(&req, 0, sizeof(req));
    assert_ptr_equal(http_route_match(table, 4, "GET", "/c/expiring", &req, &storage, &mismatch),
                     &table[1]);
    assert_int_equal(req.nparams, 0);
    free(storage);
    assert_ptr_equal(http_route_match(table, 4, "GET", "/c/12.pem", &req, &storage, &mismatch),
                     &table[2]);
    assert_string_equal(http_param(&req, "serial"), "12");
    free(storage);
    assert_ptr_equal(http_route_match(table, 4, "GET", "/c/12", &req, &storage, &mismatch),
                     &table[0]);
    assert_string_equal(http_param(&req, "serial"), "12");
    assert_null(http_param(&req, "other"));
    free(storage);
    assert_null(http_route_match(table, 4, "PUT", "/c/12", &req, &storage, &mismatch));
    assert_int_equal(mismatch, 1);
    assert_null(http_route_match(table, 4, "GET", "/c/12/x", &req, &storage, &mismatch));
    assert_int_equal(mismatch, 0);
    assert_null(http_route_match(table, 4, "GET", "/c/", &req, &storage, &mismatch));
    /* "{serial}.pem" needs a non-empty serial, so ".pem" is a serial itself */
    assert_ptr_equal(http_route_match(table, 4, "GET", "/c/.pem", &req, &storage, &mismatch),
                     &table[0]);
    assert_string_equal(http_param(&req, "serial"), ".pem");
    free(storage);
}

static void pattern_ending_in_a_slash_matches_only_that_path(void **state)
{
    const struct http_route table[] = {
        {"GET", "/ui/", NULL, "public", 0, h_hello},
        {"GET", "/ui/{file}", NULL, "public", 0, h_hello},
        {"GET", "/ui", NULL, "public", 0, h_hello},
    };
    struct http_request req;
    char *storage = NULL;
    int mismatch = -1;
    struct err e;

    (void)state;
    err_clear(&e);
    assert_int_equal(http_routes_validate(table, ARRAY_LEN(table), &e), 0);
    memset(&req, 0, sizeof(req));
    assert_ptr_equal(http_route_match(table, 3, "GET", "/ui/", &req, &storage, &mismatch),
                     &table[0]);
    free(storage);
    storage = NULL;
    assert_ptr_equal(http_route_match(table, 3, "GET", "/ui", &req, &storage, &mismatch),
                     &table[2]);
    free(storage);
    storage = NULL;
    assert_ptr_equal(http_route_match(table, 3, "GET", "/ui/app.js", &req, &storage, &mismatch),
                     &table[1]);
    assert_string_equal(http_param(&req, "file"), "app.js");
    free(storage);
    storage = NULL;
    assert_null(http_route_match(table, 3, "GET", "/ui//", &req, &storage, &mismatch));
    assert_null(http_route_match(table, 3, "GET", "/ui/app.js/", &req, &storage, &mismatch));
}

static void tail_parameter_takes_the_rest_of_the_path(void **state)
{
    const struct http_route table[] = {
        {"GET", "/o/{t}/{req*}", NULL, "public", 0, h_hello},
        {"GET", "/o/{t}/fixed", NULL, "public", 0, h_hello},
        {"POST", "/o/{t}/{ca}", JSON, "public", 10, h_hello},
    };
    struct http_request req;
    char *storage = NULL;
    int mismatch = -1;
    struct err e;

    (void)state;
    err_clear(&e);
    assert_int_equal(http_routes_validate(table, ARRAY_LEN(table), &e), 0);
    memset(&req, 0, sizeof(req));
    assert_ptr_equal(
        http_route_match(table, 3, "GET", "/o/acme/MEow/a+b==/c", &req, &storage, &mismatch),
        &table[0]);
    assert_string_equal(http_param(&req, "t"), "acme");
    assert_string_equal(http_param(&req, "req"), "MEow/a+b==/c");
    free(storage);
    assert_ptr_equal(http_route_match(table, 3, "GET", "/o/acme/x", &req, &storage, &mismatch),
                     &table[0]);
    assert_string_equal(http_param(&req, "req"), "x");
    free(storage);
    /* a literal still beats the tail */
    assert_ptr_equal(http_route_match(table, 3, "GET", "/o/acme/fixed", &req, &storage, &mismatch),
                     &table[1]);
    free(storage);
    assert_null(http_route_match(table, 3, "GET", "/o/acme/", &req, &storage, &mismatch));
    assert_null(http_route_match(table, 3, "GET", "/o/acme", &req, &storage, &mismatch));
    assert_ptr_equal(http_route_match(table, 3, "POST", "/o/acme/ca1", &req, &storage, &mismatch),
                     &table[2]);
    free(storage);
}

static void path_is_decoded_once_and_traversal_refused(void **state)
{
    const char *bad[] = {"/a/../b", "/a/..", "/a/%2e%2E/b", "/./a", "/a%00b",    "/a%0ab",
                         "/a%zz",   "/a%4",  "a/b",         "*",    "http://x/y"};
    struct err e;
    char *out = NULL;
    size_t i;

    (void)state;
    assert_int_equal(http_path_decode("/a%20b/c%25252F?x=%2F", &out, &e), 0);
    assert_string_equal(out, "/a b/c%252F");
    free(out);
    assert_int_equal(http_path_decode("/a..b/.c", &out, &e), 0);
    free(out);
    /* an encoded '/' stays encoded: it never splits a segment */
    assert_int_equal(http_path_decode("/a%2fb/..%2F..", &out, &e), 0);
    assert_string_equal(out, "/a%2Fb/..%2F..");
    free(out);
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        err_clear(&e);
        if (http_path_decode(bad[i], &out, &e) != -1)
            fail_msg("%s accepted", bad[i]);
        assert_int_equal(e.kind, ERR_INVALID);
    }
}

static void response_helpers_own_what_they_hold(void **state)
{
    struct http_response resp = {0};
    struct err e;
    json_t *o;

    (void)state;
    err_clear(&e);
    snprintf(e.msg, sizeof(e.msg), "boom \xff");
    http_respond_err(&resp, &e);
    assert_int_equal(resp.status, 500);
    o = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "internal");
    assert_string_equal(json_string_value(json_object_get(o, "detail")), "boom ?");
    json_decref(o);
    http_add_header(&resp, "X-A", "1");
    http_add_header(&resp, "x-a", "2");
    http_add_header(&resp, "X-Bad", "a\r\nInjected: yes");
    assert_int_equal(resp.nheaders, 1);
    assert_string_equal(resp.headers[0].value, "2");
    http_respond(&resp, 204, NULL, NULL, 0);
    assert_null(resp.body);
    assert_null(resp.content_type);
    http_response_clear(&resp);
    assert_int_equal(resp.nheaders, 0);
}

/* ---- the server ------------------------------------------------------------ */

static void get_returns_200_with_request_id(void **state)
{
    struct reply r;

    (void)state;
    fetch((struct request){.method = "GET", .path = "/hello"}, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 5);
    assert_memory_equal(r.body.data, "hello", 5);
    reply_free(&r);
}

static void path_parameters_are_decoded(void **state)
{
    struct reply r;
    json_t *o;

    (void)state;
    fetch((struct request){.method = "GET", .path = "/crl/t%31/issuing%2Dca.crl"}, &r);
    assert_int_equal(r.status, 200);
    o = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "tenant")), "t1");
    assert_string_equal(json_string_value(json_object_get(o, "ca")), "issuing-ca");
    assert_string_equal(json_string_value(json_object_get(o, "path")), "/crl/t1/issuing-ca.crl");
    assert_int_equal(json_integer_value(json_object_get(o, "n")), 2);
    json_decref(o);
    reply_free(&r);
}

static void query_and_headers_reach_the_handler(void **state)
{
    struct reply r;
    char cc[64];

    (void)state;
    fetch((struct request){.method = "GET", .path = "/query?q=a%20b&z=1", .header = "X-Test: v"},
          &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 5);
    assert_memory_equal(r.body.data, "a b|v", 5);
    /* not an /api/ route: no Cache-Control unless the handler sets one */
    assert_non_null(reply_header(&r, "Cache-Control", cc, sizeof(cc)));
    assert_string_equal(cc, "max-age=60");
    reply_free(&r);
}

static void head_is_answered_like_get_without_body(void **state)
{
    struct reply r;

    (void)state;
    fetch((struct request){.method = "HEAD", .path = "/hello"}, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    reply_free(&r);
}

static void unknown_path_is_404_json(void **state)
{
    (void)state;
    expect_error((struct request){.method = "GET", .path = "/nope"}, 404, "not_found");
    expect_error((struct request){.method = "GET", .path = "/hello/"}, 404, "not_found");
    expect_error((struct request){.method = "GET", .path = "/crl/t1/.crl"}, 404, "not_found");
}

static void wrong_method_is_405_with_allow(void **state)
{
    struct reply r;
    char allow[64];

    (void)state;
    expect_error((struct request){.method = "DELETE", .path = "/hello"}, 405, "method_not_allowed");
    fetch(
        (struct request){
            .method = "POST", .path = "/hello", .content_type = JSON, .body = "{}", .body_len = 2},
        &r);
    assert_int_equal(r.status, 405);
    assert_non_null(reply_header(&r, "Allow", allow, sizeof(allow)));
    assert_string_equal(allow, "GET, HEAD");
    reply_free(&r);
}

static void traversal_is_400(void **state)
{
    (void)state;
    expect_error((struct request){.method = "GET", .path = "/hello/../hello"}, 400, "bad_request");
    expect_error((struct request){.method = "GET", .path = "/crl/%2e%2e/x.crl"}, 400,
                 "bad_request");
    expect_error((struct request){.method = "GET", .path = "/crl/a%00b/x.crl"}, 400, "bad_request");
}

static void json_post_within_limit_reaches_handler(void **state)
{
    const char *body = "{\"a\": 1}";
    struct reply r;
    char ctype[64];

    (void)state;
    fetch((struct request){.method = "POST",
                           .path = "/echo",
                           .content_type = "Application/JSON; charset=utf-8",
                           .body = body,
                           .body_len = strlen(body)},
          &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, strlen(body));
    assert_memory_equal(r.body.data, body, strlen(body));
    assert_non_null(reply_header(&r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, JSON);
    reply_free(&r);
}

static void chunked_post_within_limit_reaches_handler(void **state)
{
    char body[1024];
    struct reply r;

    (void)state;
    memset(body, 'x', sizeof(body));
    fetch((struct request){.method = "POST",
                           .path = "/echo",
                           .content_type = JSON,
                           .body = body,
                           .body_len = sizeof(body),
                           .chunked = 1},
          &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, sizeof(body));
    reply_free(&r);
}

static void body_over_limit_is_413_by_content_length(void **state)
{
    static char big[200 * 1024];
    int before = atomic_load(&echo_calls);

    (void)state;
    memset(big, 'x', sizeof(big));
    expect_error(
        (struct request){
            .method = "POST", .path = "/echo", .content_type = JSON, .body = big, .body_len = 1025},
        413, "payload_too_large");
    expect_error((struct request){.method = "POST",
                                  .path = "/echo",
                                  .content_type = JSON,
                                  .body = big,
                                  .body_len = 2048,
                                  .no_expect = 1},
                 413, "payload_too_large");
    expect_error((struct request){.method = "POST",
                                  .path = "/echo",
                                  .content_type = JSON,
                                  .body = big,
                                  .body_len = sizeof(big)},
                 413, "payload_too_large");
    assert_int_equal(atomic_load(&echo_calls), before);
}

static void body_over_limit_is_413_when_chunked(void **state)
{
    static char big[64 * 1024];
    int before = atomic_load(&echo_calls);

    (void)state;
    memset(big, 'x', sizeof(big));
    expect_error((struct request){.method = "POST",
                                  .path = "/echo",
                                  .content_type = JSON,
                                  .body = big,
                                  .body_len = 1025,
                                  .chunked = 1},
                 413, "payload_too_large");
    expect_error((struct request){.method = "POST",
                                  .path = "/echo",
                                  .content_type = JSON,
                                  .body = big,
                                  .body_len = sizeof(big),
                                  .chunked = 1,
                                  .no_expect = 1},
                 413, "payload_too_large");
    assert_int_equal(atomic_load(&echo_calls), before);
}

static void endless_chunked_body_is_cut_off(void **state)
{
    size_t len = 3 * 1024 * 1024;
    char *huge = xcalloc(1, len);
    int before = atomic_load(&echo_calls);
    struct reply r;
    CURLcode rc;

    (void)state;
    rc = perform((struct request){.method = "POST",
                                  .path = "/echo",
                                  .content_type = JSON,
                                  .body = huge,
                                  .body_len = len,
                                  .chunked = 1},
                 &r, "http", port, NULL);
    /* the server drops the connection once the body is far past the limit */
    assert_true(rc != CURLE_OK || r.status == 413);
    reply_free(&r);
    free(huge);
    assert_int_equal(atomic_load(&echo_calls), before);
    fetch((struct request){.method = "GET", .path = "/hello"}, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

static void body_on_route_without_body_is_413(void **state)
{
    struct reply r;

    (void)state;
    expect_error(
        (struct request){
            .method = "POST", .path = "/nobody", .content_type = JSON, .body = "{}", .body_len = 2},
        413, "payload_too_large");
    fetch((struct request){.method = "POST", .path = "/nobody"}, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

static void wrong_content_type_is_415(void **state)
{
    int before = atomic_load(&echo_calls);

    (void)state;
    expect_error((struct request){.method = "POST",
                                  .path = "/echo",
                                  .content_type = "text/plain",
                                  .body = "{}",
                                  .body_len = 2},
                 415, "unsupported_media_type");
    expect_error((struct request){.method = "POST",
                                  .path = "/echo",
                                  .content_type = "application/jsonx",
                                  .body = "{}",
                                  .body_len = 2},
                 415, "unsupported_media_type");
    expect_error((struct request){.method = "POST",
                                  .path = "/echo",
                                  .header = "Content-Type:",
                                  .body = "{}",
                                  .body_len = 2},
                 415, "unsupported_media_type");
    assert_int_equal(atomic_load(&echo_calls), before);
}

static void refused_authorization_never_reaches_handler(void **state)
{
    int before = atomic_load(&secret_calls);
    struct reply r;
    char www[64];

    (void)state;
    fetch((struct request){.method = "GET", .path = "/api/v1/t/t1/secret"}, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(reply_header(&r, "WWW-Authenticate", www, sizeof(www)));
    reply_free(&r);
    expect_error((struct request){.method = "GET",
                                  .path = "/api/v1/t/t1/secret",
                                  .header = "X-Token: wrong"},
                 401, "unauthorized");
    assert_int_equal(atomic_load(&secret_calls), before);
}

static void authorized_request_sees_principal_and_no_store(void **state)
{
    struct reply r;
    char cc[64];
    json_t *o;

    (void)state;
    fetch((struct request){.method = "GET",
                           .path = "/api/v1/t/t1/secret",
                           .header = "X-Token: letmein"},
          &r);
    assert_int_equal(r.status, 200);
    o = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "who")), "alice");
    json_decref(o);
    assert_non_null(reply_header(&r, "Cache-Control", cc, sizeof(cc)));
    assert_string_equal(cc, "no-store");
    reply_free(&r);
    principals_settle();
}

static void handler_leaving_status_0_gives_500(void **state)
{
    (void)state;
    expect_error((struct request){.method = "GET", .path = "/nostatus"}, 500, "internal");
}

static void request_ids_differ(void **state)
{
    struct reply a, b;
    char ida[64], idb[64];

    (void)state;
    fetch((struct request){.method = "GET", .path = "/hello"}, &a);
    fetch((struct request){.method = "GET", .path = "/hello"}, &b);
    assert_non_null(reply_header(&a, "X-Request-Id", ida, sizeof(ida)));
    assert_non_null(reply_header(&b, "X-Request-Id", idb, sizeof(idb)));
    assert_string_not_equal(ida, idb);
    reply_free(&a);
    reply_free(&b);
}

static int silent_connect(int p)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void silent_clients_block_nobody_and_time_out(void **state)
{
    int fds[8], i;
    struct reply r;
    char byte;

    (void)state;
    for (i = 0; i < 8; i++)
        fds[i] = silent_connect(port);
    fetch((struct request){.method = "GET", .path = "/hello"}, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    /* the server's connection_timeout is 1 s: each silent socket gets closed */
    for (i = 0; i < 8; i++) {
        struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 4000), 1);
        assert_true(recv(fds[i], &byte, 1, 0) <= 0);
        close(fds[i]);
    }
}

static void concurrent_requests_all_succeed(void **state)
{
    CURLM *multi = curl_multi_init();
    CURL *easy[16];
    char url[128];
    int running = 1, i, ok = 0;
    CURLMsg *msg;

    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", port);
    for (i = 0; i < 16; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 5L);
        curl_multi_add_handle(multi, easy[i]);
    }
    while (running) {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    while ((msg = curl_multi_info_read(multi, &i)) != NULL) {
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        ok += msg->data.result == CURLE_OK && status == 200;
    }
    for (i = 0; i < 16; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    assert_int_equal(ok, 16);
}

/* ---- TLS ------------------------------------------------------------------- */

/* A self-signed P-256 certificate for 127.0.0.1, written as PEM with its key. */
static void tls_files_write(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "IP:127.0.0.1");
    FILE *f;

    assert_non_null(key);
    assert_non_null(san);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    X509_add_ext(x, san, -1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_non_null(f = fopen(cert_path, "w"));
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    assert_non_null(f = fopen(key_path, "w"));
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_EXTENSION_free(san);
    X509_free(x);
    EVP_PKEY_free(key);
}

struct tls_dir {
    char dir[64], cert[128], key[128], other_key[128];
};

static void tls_dir_make(struct tls_dir *t)
{
    EVP_PKEY *other = EVP_EC_gen("P-256");
    FILE *f;

    snprintf(t->dir, sizeof(t->dir), "/tmp/test_http.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->cert, sizeof(t->cert), "%s/cert.pem", t->dir);
    snprintf(t->key, sizeof(t->key), "%s/key.pem", t->dir);
    snprintf(t->other_key, sizeof(t->other_key), "%s/other.pem", t->dir);
    tls_files_write(t->cert, t->key);
    assert_non_null(f = fopen(t->other_key, "w"));
    assert_int_equal(PEM_write_PrivateKey(f, other, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(other);
}

static void tls_dir_remove(struct tls_dir *t)
{
    unlink(t->cert);
    unlink(t->key);
    unlink(t->other_key);
    rmdir(t->dir);
}

static void tls_server_answers_over_https(void **state)
{
    struct tls_dir t;
    struct http_config cfg = {.address = "127.0.0.1", .threads = 1};
    struct http_server *srv;
    struct reply r;
    struct err e;
    CURLcode rc;

    (void)state;
    tls_dir_make(&t);
    cfg.tls_cert_file = t.cert;
    cfg.tls_key_file = t.key;
    srv = http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e);
    if (srv == NULL)
        fail_msg("TLS server: %s", e.msg);
    rc = perform((struct request){.method = "GET", .path = "/hello"}, &r, "https",
                 http_server_port(srv), t.cert);
    http_server_stop(srv);
    tls_dir_remove(&t);
    if (rc != CURLE_OK)
        fail_msg("https: %s", curl_easy_strerror(rc));
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body.data, "hello", 5);
    reply_free(&r);
}

/* A GET of path over TLS with the client's protocol range and cipher list; the CURLcode. */
static CURLcode tls_get(int p, const char *cainfo, long version, const char *ciphers,
                        struct reply *out)
{
    CURL *c = curl_easy_init();
    char url[128];
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/no-such-route", p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, version);
    if (ciphers != NULL)
        curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, ciphers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_cleanup(c);
    return rc;
}

static void tls_listener_takes_tls_1_2_and_1_3_with_aead_and_sends_hsts(void **state)
{
    struct tls_dir t;
    struct http_config cfg = {.address = "127.0.0.1", .threads = 1, .security_headers = 1};
    struct http_server *srv;
    struct reply r11, rcbc, r12, r13, plain;
    CURLcode c11, ccbc, c12, c13;
    char value[128];
    struct err e;
    int p;

    (void)state;
    tls_dir_make(&t);
    cfg.tls_cert_file = t.cert;
    cfg.tls_key_file = t.key;
    srv = http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e);
    if (srv == NULL)
        fail_msg("TLS server: %s", e.msg);
    p = http_server_port(srv);
    /* The client's own security level would refuse TLS 1.1 and SHA-1 suites: lowered. */
    c11 = tls_get(p, t.cert, CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1,
                  "DEFAULT:@SECLEVEL=0", &r11);
    ccbc = tls_get(p, t.cert, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                   "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA256:@SECLEVEL=0", &rcbc);
    c12 = tls_get(p, t.cert, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                  "ECDHE-ECDSA-AES128-GCM-SHA256", &r12);
    c13 = tls_get(p, t.cert, CURL_SSLVERSION_TLSv1_3, NULL, &r13);
    http_server_stop(srv);
    tls_dir_remove(&t);
    assert_int_not_equal(c11, CURLE_OK);
    assert_int_not_equal(ccbc, CURLE_OK);
    assert_int_equal(c12, CURLE_OK);
    assert_int_equal(c13, CURLE_OK);
    assert_int_equal(r13.status, 404); /* an error answer carries them too */
    assert_non_null(reply_header(&r13, "Strict-Transport-Security", value, sizeof(value)));
    assert_string_equal(value, "max-age=31536000");
    assert_non_null(reply_header(&r13, "X-Content-Type-Options", value, sizeof(value)));
    assert_string_equal(value, "nosniff");
    /* The group's server asks for no security headers; over plain HTTP never HSTS. */
    fetch((struct request){.method = "GET", .path = "/hello"}, &plain);
    assert_null(reply_header(&plain, "X-Content-Type-Options", value, sizeof(value)));
    assert_null(reply_header(&plain, "Strict-Transport-Security", value, sizeof(value)));
    reply_free(&r11);
    reply_free(&rcbc);
    reply_free(&r12);
    reply_free(&r13);
    reply_free(&plain);
    assert_int_equal(http_tls_priorities_check(HTTP_TLS_PRIORITIES_DEFAULT, &e), 0);
    assert_int_equal(http_tls_priorities_check("NORMAL:+NO-SUCH-SUITE", &e), -1);
    assert_non_null(strstr(e.msg, "NO-SUCH-SUITE"));
}

static void tls_key_not_matching_certificate_is_refused_at_start(void **state)
{
    struct tls_dir t;
    struct http_config cfg = {.address = "127.0.0.1"};
    struct err e;

    (void)state;
    tls_dir_make(&t);
    cfg.tls_cert_file = t.cert;
    cfg.tls_key_file = t.other_key;
    assert_null(
        http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e));
    assert_non_null(strstr(e.msg, "does not match"));
    cfg.tls_key_file = t.cert;
    assert_null(
        http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e));
    assert_non_null(strstr(e.msg, "private key"));
    cfg.tls_key_file = NULL;
    assert_null(
        http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e));
    tls_dir_remove(&t);
}

/* ---- trusted proxies and X-Forwarded-For ------------------------------------ */

static void forwarded_client_is_the_rightmost_untrusted_entry(void **state)
{
    struct netaddr *proxies;
    size_t n;
    char client[64];
    struct err e;

    (void)state;
    assert_int_equal(http_proxies_parse("10.0.0.0/8, 192.0.2.1 2001:db8::/32", &proxies, &n, &e),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(http_forwarded_client(proxies, n, "198.51.100.7", client, sizeof(client), &e),
                     0);
    assert_string_equal(client, "198.51.100.7");
    /* What the client wrote (left) is not believed; trusted proxies (right) are passed over. */
    assert_int_equal(http_forwarded_client(proxies, n, "6.6.6.6, 198.51.100.7 ,10.1.1.1,192.0.2.1",
                                           client, sizeof(client), &e),
                     0);
    assert_string_equal(client, "198.51.100.7");
    assert_int_equal(http_forwarded_client(proxies, n, "not an address, 203.0.113.9", client,
                                           sizeof(client), &e),
                     0);
    assert_string_equal(client, "203.0.113.9");
    /* Only proxies: the left-most is the client.  Canonical forms. */
    assert_int_equal(
        http_forwarded_client(proxies, n, "10.9.9.9, 10.1.1.1", client, sizeof(client), &e), 0);
    assert_string_equal(client, "10.9.9.9");
    assert_int_equal(
        http_forwarded_client(proxies, n, "::ffff:198.51.100.7", client, sizeof(client), &e), 0);
    assert_string_equal(client, "198.51.100.7");
    assert_int_equal(
        http_forwarded_client(proxies, n, "2001:DB9:0::1, 2001:db8::5", client, sizeof(client), &e),
        0);
    assert_string_equal(client, "2001:db9::1");
    /* Nothing in it: the peer stays the client.  Malformed where it is read: 400. */
    assert_int_equal(http_forwarded_client(proxies, n, " , ", client, sizeof(client), &e), 1);
    assert_int_equal(
        http_forwarded_client(proxies, n, "198.51.100.7:443", client, sizeof(client), &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_non_null(strstr(e.msg, "198.51.100.7:443"));
    assert_int_equal(
        http_forwarded_client(proxies, n, "6.6.6.6, 10.0.0.0/8", client, sizeof(client), &e), -1);
    free(proxies);
    assert_int_equal(http_proxies_parse("10.0.0.0/8, localhost", &proxies, &n, &e), -1);
    assert_non_null(strstr(e.msg, "localhost"));
    assert_int_equal(http_proxies_parse("10.0.0.0/33", &proxies, &n, &e), -1);
    assert_int_equal(http_proxies_parse(" ", &proxies, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(proxies);
}

/* "addr|proxy" as GET /remote on port p answers with the given headers. */
static void expect_remote(int p, const char *h1, const char *h2, const char *want)
{
    struct reply r;
    char text[128];

    assert_int_equal(perform((struct request){"GET", "/remote", .header = h1, .header2 = h2}, &r,
                             "http", p, NULL),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    snprintf(text, sizeof(text), "%.*s", (int)r.body.len, (const char *)r.body.data);
    assert_string_equal(text, want);
    reply_free(&r);
}

static void only_a_trusted_proxy_sets_the_client_address(void **state)
{
    struct http_config cfg = {.address = "127.0.0.1", .trusted_proxies = "127.0.0.1, 10.0.0.0/8"};
    struct http_server *srv;
    struct reply r;
    char got[64];
    struct err e;
    int p;

    (void)state;
    /* The group's server trusts no proxy: the header is ignored. */
    expect_remote(port, "X-Forwarded-For: 198.51.100.7", NULL, "127.0.0.1|-");
    srv = http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e);
    assert_non_null(srv);
    p = http_server_port(srv);
    expect_remote(p, NULL, NULL, "127.0.0.1|-");
    expect_remote(p, "X-Forwarded-For: 198.51.100.7", NULL, "198.51.100.7|127.0.0.1");
    expect_remote(p, "X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.2.3.4", NULL,
                  "203.0.113.9|127.0.0.1");
    /* Two header lines are one list, in order. */
    expect_remote(p, "X-Forwarded-For: 203.0.113.9", "x-forwarded-for: 10.2.3.4",
                  "203.0.113.9|127.0.0.1");
    assert_int_equal(perform((struct request){"GET", "/remote", .header = "X-Forwarded-For: bogus"},
                             &r, "http", p, NULL),
                     CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_string_equal(reply_error(&r, got, sizeof(got)), "bad_request");
    reply_free(&r);
    http_server_stop(srv);
    cfg.trusted_proxies = "127.0.0.1, example.org";
    assert_null(
        http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e));
    assert_non_null(strstr(e.msg, "trusted_proxies: example.org"));
}

static void bad_address_and_busy_port_are_refused(void **state)
{
    struct http_config cfg = {.address = "localhost"};
    struct err e;

    (void)state;
    assert_null(
        http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e));
    assert_non_null(strstr(e.msg, "numeric"));
    cfg.address = "127.0.0.1";
    cfg.port = port; /* the group's server holds it */
    assert_null(
        http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e));
    assert_non_null(strstr(e.msg, "cannot serve"));
}

/* Why this host cannot listen on ::1 at all (no IPv6 loopback), or NULL if it can. */
static const char *ipv6_loopback_missing(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0), rc;

    if (fd < 0)
        return errno == EAFNOSUPPORT ? "the kernel has no IPv6" : NULL;
    rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    close(fd);
    return rc != 0 && errno == EADDRNOTAVAIL ? "no ::1 on the loopback interface" : NULL;
}

/*
 * Served on ::1.  Skipped only where the host itself cannot listen there
 * (the reason is printed); any other failure to start fails the test.
 */
static void ipv6_loopback_is_served(void **state)
{
    struct http_config cfg = {.address = "::1", .threads = 1};
    struct http_server *srv;
    const char *missing = ipv6_loopback_missing();
    CURL *c;
    char url[64];
    long status = 0;
    struct err e;
    CURLcode rc;

    (void)state;
    if (missing != NULL) {
        print_message("skipped: this host cannot listen on ::1: %s\n", missing);
        skip();
    }
    srv = http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e);
    if (srv == NULL)
        fail_msg("server on ::1: %s", e.msg);
    snprintf(url, sizeof(url), "http://[::1]:%d/hello", http_server_port(srv));
    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    http_server_stop(srv);
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(status, 200);
}

/* A HEAD /hello on 127.0.0.1:p; the status (0 if nothing answered). */
static long hello_status(int p)
{
    char url[64];
    long status = 0;
    CURL *c = curl_easy_init();

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

/* A socket bound to 127.0.0.1:p (0: any port) with only SO_REUSEPORT, not listening. */
static int port_hold(int p, int *bound)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *bound = ntohs(a.sin_port);
    return fd;
}

/*
 * A socket bound before the server starts (port 0: the kernel's pick) is
 * served on that port; the caller's descriptor is closed by the start and the
 * server's by the stop, so the port is free again afterwards.
 */
static void a_socket_bound_before_serving_is_served_and_freed_at_stop(void **state)
{
    struct http_config cfg = {.address = "127.0.0.1", .threads = 2};
    struct http_server *srv;
    int fd, p = 0, again;
    struct err e;

    (void)state;
    fd = http_listen("127.0.0.1", 0, 0, &p, &e);
    if (fd < 0)
        fail_msg("http_listen: %s", e.msg);
    assert_true(p > 0);
    cfg.listen_fd = fd;
    srv = http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e);
    if (srv == NULL)
        fail_msg("server: %s", e.msg);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* the caller's copy is closed */
    assert_int_equal(http_server_port(srv), p);
    assert_int_equal(hello_status(p), 200);
    http_server_stop(srv);
    assert_int_equal(hello_status(p), 0);
    again = http_listen("127.0.0.1", p, 0, &p, &e); /* nothing holds the port any more */
    if (again < 0)
        fail_msg("the port stayed bound after the stop: %s", e.msg);
    close(again);
}

/*
 * A port another socket holds with SO_REUSEPORT (as a test harness holds an
 * instance's public port between its runs) is taken only with reuse_port.
 */
static void a_port_held_with_so_reuseport_is_taken_only_with_reuse_port(void **state)
{
    struct http_config cfg = {.address = "127.0.0.1", .threads = 1};
    struct http_server *srv;
    int holder, p, got = 0, fd;
    struct err e;

    (void)state;
    holder = port_hold(0, &p);
    assert_int_equal(http_listen("127.0.0.1", p, 0, &got, &e), -1);
    assert_non_null(strstr(e.msg, "in use"));
    fd = http_listen("127.0.0.1", p, 1, &got, &e);
    if (fd < 0)
        fail_msg("http_listen with reuse_port: %s", e.msg);
    assert_int_equal(got, p);
    cfg.listen_fd = fd;
    srv = http_server_start(&cfg, routes, ARRAY_LEN(routes), authorize, free_principal, NULL, &e);
    if (srv == NULL)
        fail_msg("server: %s", e.msg);
    assert_int_equal(hello_status(p), 200); /* the holder does not listen: it gets nothing */
    http_server_stop(srv);
    close(holder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(route_table_of_the_test_server_is_valid),
        cmocka_unit_test(route_without_permission_is_refused_naming_the_route),
        cmocka_unit_test(invalid_routes_are_refused),
        cmocka_unit_test(literal_segment_beats_parameter_whatever_the_order),
        cmocka_unit_test(pattern_ending_in_a_slash_matches_only_that_path),
        cmocka_unit_test(tail_parameter_takes_the_rest_of_the_path),
        cmocka_unit_test(path_is_decoded_once_and_traversal_refused),
        cmocka_unit_test(response_helpers_own_what_they_hold),
        cmocka_unit_test(get_returns_200_with_request_id),
        cmocka_unit_test(path_parameters_are_decoded),
        cmocka_unit_test(query_and_headers_reach_the_handler),
        cmocka_unit_test(head_is_answered_like_get_without_body),
        cmocka_unit_test(unknown_path_is_404_json),
        cmocka_unit_test(wrong_method_is_405_with_allow),
        cmocka_unit_test(traversal_is_400),
        cmocka_unit_test(json_post_within_limit_reaches_handler),
        cmocka_unit_test(chunked_post_within_limit_reaches_handler),
        cmocka_unit_test(body_over_limit_is_413_by_content_length),
        cmocka_unit_test(body_over_limit_is_413_when_chunked),
        cmocka_unit_test(endless_chunked_body_is_cut_off),
        cmocka_unit_test(body_on_route_without_body_is_413),
        cmocka_unit_test(wrong_content_type_is_415),
        cmocka_unit_test(refused_authorization_never_reaches_handler),
        cmocka_unit_test(authorized_request_sees_principal_and_no_store),
        cmocka_unit_test(handler_leaving_status_0_gives_500),
        cmocka_unit_test(request_ids_differ),
        cmocka_unit_test(silent_clients_block_nobody_and_time_out),
        cmocka_unit_test(concurrent_requests_all_succeed),
        cmocka_unit_test(tls_server_answers_over_https),
        cmocka_unit_test(tls_listener_takes_tls_1_2_and_1_3_with_aead_and_sends_hsts),
        cmocka_unit_test(tls_key_not_matching_certificate_is_refused_at_start),
        cmocka_unit_test(forwarded_client_is_the_rightmost_untrusted_entry),
        cmocka_unit_test(only_a_trusted_proxy_sets_the_client_address),
        cmocka_unit_test(bad_address_and_busy_port_are_refused),
        cmocka_unit_test(ipv6_loopback_is_served),
        cmocka_unit_test(a_socket_bound_before_serving_is_served_and_freed_at_stop),
        cmocka_unit_test(a_port_held_with_so_reuseport_is_taken_only_with_reuse_port),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
