/*
 * http_response.c — filling a struct http_response: bodies, JSON, errors and
 * extra headers.  Everything a response points to is owned by it and freed by
 * http_response_clear (the server calls it when the request ends).
 */
#include "http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"

#define JSON_TYPE "application/json"

/* Sent when even the error document cannot be encoded. */
static const char fallback_error[] =
    "{\"error\":\"internal\",\"detail\":\"response encoding failed\"}";

void http_respond(struct http_response *resp, int status, const char *content_type,
                  const void *body, size_t len)
{
    free(resp->content_type);
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type ? xstrdup(content_type) : NULL;
    resp->body = NULL;
    resp->body_len = 0;
    if (len > 0) {
        resp->body = xmalloc(len);
        memcpy(resp->body, body, len);
        resp->body_len = len;
    }
}

void http_respond_json(struct http_response *resp, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    json_decref(json);
    if (text == NULL) {
        http_respond(resp, 500, JSON_TYPE, fallback_error, strlen(fallback_error));
        return;
    }
    http_respond(resp, status, JSON_TYPE, text, strlen(text));
    free(text);
}

/* Replaces every byte that is not printable ASCII by '?', so that any text is valid JSON. */
static void text_make_ascii(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

void http_respond_error(struct http_response *resp, int status, const char *code, const char *fmt,
                        ...)
{
    char detail[512];
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    o = json_pack("{s:s, s:s}", "error", code, "detail", detail);
    if (o == NULL) { /* detail was not UTF-8 */
        text_make_ascii(detail);
        o = json_pack("{s:s, s:s}", "error", code, "detail", detail);
    }
    http_respond_json(resp, status, o);
}

int http_status_of(enum err_kind kind)
{
    switch (kind) {
    case ERR_INVALID:
    case ERR_USAGE:
        return 400;
    case ERR_UNAUTHENTICATED:
        return 401;
    case ERR_FORBIDDEN:
        return 403;
    case ERR_NOT_FOUND:
        return 404;
    case ERR_CONFLICT:
        return 409;
    case ERR_TOO_LARGE:
        return 413;
    case ERR_MEDIA_TYPE:
        return 415;
    case ERR_POLICY:
        return 422;
    case ERR_LIMIT:
        return 429;
    case ERR_UNAVAILABLE:
        return 503;
    case ERR_NONE:
    case ERR_INTERNAL:
        break;
    }
    return 500;
}

void http_respond_kind(struct http_response *resp, enum err_kind kind, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    http_respond_error(resp, http_status_of(kind), err_kind_word(kind), "%s", detail);
    if (kind == ERR_UNAVAILABLE)
        http_add_header(resp, "Retry-After", HTTP_RETRY_AFTER_UNAVAILABLE);
}

void http_respond_err(struct http_response *resp, const struct err *e)
{
    enum err_kind kind = e->kind == ERR_NONE ? ERR_INTERNAL : e->kind;
    const char *code = e->code[0] && e->kind != ERR_NONE ? e->code : err_kind_word(kind);

    http_respond_error(resp, http_status_of(kind), code, "%s", e->msg);
    if (kind == ERR_UNAVAILABLE)
        http_add_header(resp, "Retry-After", HTTP_RETRY_AFTER_UNAVAILABLE);
}

/*
 * Sets an extra header; one already there with the same name (any case) is
 * replaced.  Names or values with CR or LF are refused (header injection), as
 * is a ninth header: both are bugs of the caller and are logged.
 */
void http_add_header(struct http_response *resp, const char *name, const char *value)
{
    int i;

    if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
        log_error("http: response header %s refused: CR, LF or ':' in it", name);
        return;
    }
    for (i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            free(resp->headers[i].value);
            resp->headers[i].value = xstrdup(value);
            return;
        }
    if (resp->nheaders == (int)ARRAY_LEN(resp->headers)) {
        log_error("http: too many response headers, %s dropped", name);
        return;
    }
    resp->headers[resp->nheaders].name = xstrdup(name);
    resp->headers[resp->nheaders++].value = xstrdup(value);
}

void http_response_clear(struct http_response *resp)
{
    int i;

    free(resp->content_type);
    free(resp->body);
    for (i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    memset(resp, 0, sizeof(*resp));
}
