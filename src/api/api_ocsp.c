/*
 * api_ocsp.c — the OCSP responder's HTTP transport (RFC 6960 Appendix A,
 * RFC 5019 §5, §6) on the public listener:
 *
 *   POST /ocsp/{tenant}          application/ocsp-request body
 *   POST /ocsp/{tenant}/{ca}
 *   GET  /ocsp/{tenant}/{base64 request}
 *   GET  /ocsp/{tenant}/{ca}/{base64 request}
 *
 * Every answer is 200 with an OCSPResponse (an OCSP error status included);
 * cacheable ones carry the RFC 5019 caching headers.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define GET_MAX 8192 /* base64 characters of a GET request */

/* "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7). */
static void http_date(int64_t t, char out[40])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void ocsp_respond(struct http_request *req, struct http_response *resp,
                         struct ocsp_answer *a)
{
    char buf[96], etag[40];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const char *match;
    int64_t now = time_now();

    if (!a->cacheable) {
        http_respond(resp, 200, "application/ocsp-response", a->der, a->len);
        http_add_header(resp, "Cache-Control", "no-store");
        return;
    }
    /* The ETag names the response bytes (RFC 5019 §6.2). */
    EVP_Digest(a->der, a->len, md, &md_len, EVP_sha256(), NULL);
    etag[0] = '"';
    for (int i = 0; i < 16; i++)
        snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
    memcpy(etag + 33, "\"", 2);
    match = http_header(req, "If-None-Match");
    if (match != NULL && strcmp(match, etag) == 0)
        http_respond(resp, 304, NULL, NULL, 0);
    else
        http_respond(resp, 200, "application/ocsp-response", a->der, a->len);
    http_add_header(resp, "ETag", etag);
    snprintf(buf, sizeof(buf), "max-age=%lld, public, no-transform, must-revalidate",
             (long long)(a->next_update > now ? a->next_update - now : 0));
    http_add_header(resp, "Cache-Control", buf);
    http_date(a->this_update, buf);
    http_add_header(resp, "Last-Modified", buf);
    http_date(a->next_update, buf);
    http_add_header(resp, "Expires", buf);
}

void api_ocsp_post(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct ocsp_answer a;

    svc_ocsp_answer(api->svc, api_tenant(req), http_param(req, "ca"), req->body, req->body_len, &a);
    ocsp_respond(req, resp, &a);
    svc_ocsp_answer_clear(&a);
}

/*
 * Decodes the base64 of a GET request: the standard alphabet or base64url,
 * padding optional, "%2F" (an encoded '/', which the HTTP layer leaves
 * encoded) and a ' ' (a '+' a form encoder turned into a space) taken back.
 * NULL if it is not base64.
 */
static unsigned char *b64_decode(const char *in, size_t *len)
{
    size_t n = 0, pad, i, k;
    char *norm;
    unsigned char *out;
    int decoded;

    if (strlen(in) == 0 || strlen(in) > GET_MAX)
        return NULL;
    norm = xmalloc(strlen(in) + 4);
    for (i = 0; in[i] != '\0'; i++) {
        char c = in[i];
        if (c == '%' && strncmp(in + i, "%2F", 3) == 0) {
            c = '/';
            i += 2;
        }
        norm[n++] = c == '-' ? '+' : c == '_' ? '/' : c == ' ' ? '+' : c;
    }
    pad = (4 - n % 4) % 4;
    if (pad == 3) {
        free(norm);
        return NULL;
    }
    memset(norm + n, '=', pad);
    n += pad;
    norm[n] = '\0';
    out = xmalloc(n / 4 * 3 + 1);
    decoded = EVP_DecodeBlock(out, (const unsigned char *)norm, (int)n);
    /* EVP_DecodeBlock counts padding as zero bytes. */
    for (k = n; decoded > 0 && k > 0 && norm[k - 1] == '='; k--)
        decoded--;
    free(norm);
    if (decoded <= 0) {
        free(out);
        return NULL;
    }
    *len = (size_t)decoded;
    return out;
}

void api_ocsp_get(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *tail = http_param(req, "req"), *slash = strchr(tail, '/');
    char *ca = NULL;
    unsigned char *der;
    size_t len = 0;
    struct ocsp_answer a;

    /* CA names are lowercase; base64 of a DER request starts with 'M': no clash. */
    if (slash != NULL) {
        ca = xstrndup(tail, (size_t)(slash - tail));
        if (name_valid(ca))
            tail = slash + 1;
        else {
            free(ca);
            ca = NULL;
        }
    }
    der = b64_decode(tail, &len);
    svc_ocsp_answer(api->svc, api_tenant(req), ca, der ? der : (const unsigned char *)"",
                    der ? len : 0, &a);
    ocsp_respond(req, resp, &a);
    svc_ocsp_answer_clear(&a);
    free(der);
    free(ca);
}
