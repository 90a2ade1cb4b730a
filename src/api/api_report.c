/* api_report.c — GET /reports/{name}: a tenant's reports as JSON or CSV (docs/api.md "Reports"). */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

/* An RFC 3339 query parameter into *out (unchanged if absent). */
static int query_time(struct http_request *req, const char *name, int64_t *out, struct err *e)
{
    const char *v = http_query(req, name);

    if (v != NULL && time_parse(v, out) != 0)
        return err_set(e, ERR_INVALID, "%s: not an RFC 3339 UTC time", name);
    return 0;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
static void csv_field(struct buf *b, const json_t *v)
{
    char num[32];
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;

    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        s = num;
    }
    if (s == NULL) /* null: an empty field */
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        buf_append(b, s, strlen(s));
        return;
    }
    buf_append(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            buf_append(b, "\"", 1);
        buf_append(b, p, 1);
    }
    buf_append(b, "\"", 1);
}

/* The report as CSV: a header of its columns, then a line per row (CRLF, RFC 4180). */
static void csv_respond(struct http_response *resp, const json_t *report)
{
    const json_t *columns = json_object_get(report, "columns"), *row, *col;
    struct buf b = {0};
    size_t i, j;

    json_array_foreach(columns, i, col)
    {
        if (i > 0)
            buf_append(&b, ",", 1);
        csv_field(&b, col);
    }
    buf_append(&b, "\r\n", 2);
    json_array_foreach(json_object_get(report, "rows"), i, row)
    {
        json_array_foreach(columns, j, col)
        {
            if (j > 0)
                buf_append(&b, ",", 1);
            csv_field(&b, json_object_get(row, json_string_value(col)));
        }
        buf_append(&b, "\r\n", 2);
    }
    http_respond(resp, 200, "text/csv; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

void api_report(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct actor a = api_actor(req);
    struct svc_report_params p = {.ca = http_query(req, "ca"), .days = 30};
    const char *format = http_query(req, "format");
    json_t *report = NULL;
    struct err e;

    if (format != NULL && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        err_set(&e, ERR_INVALID, "format: json or csv");
    else if (query_time(req, "from", &p.from, &e) == 0 && query_time(req, "to", &p.to, &e) == 0 &&
             api_query_int(req, "days", 1, 3650, &p.days, &e) == 0 &&
             svc_report(api->svc, &a, api_tenant(req), http_param(req, "name"), &p, &report, &e) ==
                 0) {
        if (format != NULL && strcmp(format, "csv") == 0) {
            csv_respond(resp, report);
            json_decref(report);
        } else
            http_respond_json(resp, 200, report);
        return;
    }
    api_fail(api, req, resp, "report.read", http_param(req, "name"), &e);
}
