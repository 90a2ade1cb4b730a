/*
 * api_console.c — the web console's static files at /ui/ on the API listener
 * (same origin as the API it calls), from the table compiled into vouchd
 * (api/console_assets.h).  Only over TLS: its session cookie will be Secure.
 * Every answer carries the console's security headers: a Content-Security-Policy
 * allowing nothing but this origin's own files (no inline script or style, no
 * eval, no framing, forms only to itself), no Referer, and a Cache-Control
 * for its kind: the page itself is never stored, the scripts and stylesheet
 * are revalidated by their ETag (an upgraded node serves new ones at once).
 */
#include "api/api_internal.h"
#include "api/console_assets.h"

#include <string.h>

#define CONSOLE_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "          \
    "base-uri 'none'"

/* The headers every console answer carries, refusals included. */
static void console_headers(struct http_response *resp)
{
    http_add_header(resp, "Content-Security-Policy", CONSOLE_CSP);
    http_add_header(resp, "Referrer-Policy", "no-referrer");
    http_add_header(resp, "X-Frame-Options", "DENY");
    http_add_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

static const struct console_asset *asset_find(const char *name)
{
    for (const struct console_asset *a = console_assets; a->name != NULL; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* Whether If-None-Match (a list of ETags, or "*") names etag. */
static int etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);

    if (header == NULL)
        return 0;
    for (const char *p = header; (p = strstr(p, etag)) != NULL; p += n)
        if ((p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return 1;
    return strcmp(header, "*") == 0;
}

static void console_serve(struct api *api, struct http_request *req, struct http_response *resp,
                          const char *name)
{
    const struct console_asset *a = asset_find(name);
    int page = a != NULL && strcmp(a->name, "index.html") == 0;

    console_headers(resp);
    if (!api->tls) {
        http_respond_error(resp, 404, "not_found",
                           "the console is served only by a TLS API listener (tls_cert, tls_key)");
        return;
    }
    if (a == NULL) {
        http_respond_error(resp, 404, "not_found", "no such console file");
        return;
    }
    http_add_header(resp, "Cache-Control", page ? "no-store" : "no-cache");
    if (page) {
        http_respond(resp, 200, a->content_type, a->data, a->len);
        return;
    }
    http_add_header(resp, "ETag", a->etag);
    if (etag_matches(http_header(req, "If-None-Match"), a->etag)) {
        http_respond(resp, 304, NULL, NULL, 0);
        return;
    }
    http_respond(resp, 200, a->content_type, a->data, a->len);
}

void api_console_index(void *app, struct http_request *req, struct http_response *resp)
{
    console_serve(app, req, resp, "index.html");
}

void api_console_file(void *app, struct http_request *req, struct http_response *resp)
{
    const char *name = http_param(req, "file");

    /* /ui/index.html is the page under one name only: /ui/ */
    console_serve(app, req, resp, name != NULL && strcmp(name, "index.html") != 0 ? name : "");
}

/* /ui → /ui/ (the page's relative links are under /ui/). */
void api_console_redirect(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    console_headers(resp);
    http_add_header(resp, "Location", "/ui/");
    http_respond(resp, 308, NULL, NULL, 0);
}
