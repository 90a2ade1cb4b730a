/*
 * http_route.c — route patterns: validation of the table, matching a decoded
 * path against it, and decoding the path of a request target.
 *
 * A pattern is "/" or a sequence of "/segment" where a segment is either
 * literal text, or "{name}" optionally followed by a literal suffix
 * ("{ca}.crl").  A parameter matches one non-empty path segment (the part
 * before the suffix).  The last segment may instead be "{name*}", a tail
 * parameter: it matches the rest of the path, one or more segments with their
 * slashes (an OCSP GET request is base64, which may contain '/').  When
 * several patterns match a path, the most specific wins: comparing segment by
 * segment from the left, a literal beats a parameter with a suffix, which
 * beats a bare parameter, which beats a tail.  The last segment may also be
 * empty: "/ui/" matches the path "/ui/" only (a directory-like page).
 */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One segment of a pattern or a path: [s, s + len). */
struct seg {
    const char *s;
    size_t len;
};

/* A parsed pattern segment. */
struct pattern_seg {
    int is_param;
    int is_tail;      /* "{name*}": the rest of the path */
    const char *text; /* the literal, or the parameter's suffix */
    size_t text_len;
    const char *name; /* the parameter's name (not terminated) */
    size_t name_len;
};

/* A match: where each parameter's name and value are, not yet copied. */
struct match {
    int n;
    struct seg names[HTTP_MAX_PARAMS];
    struct seg values[HTTP_MAX_PARAMS];
};

static const char *const known_methods[] = {"GET", "POST", "PUT", "DELETE"};

/* Moves *p (at a '/') past the next segment into out; 0 when the string has ended. */
static int seg_next(const char **p, struct seg *out)
{
    const char *start, *end;

    if (**p != '/')
        return 0;
    start = *p + 1;
    end = strchrnul(start, '/');
    out->s = start;
    out->len = (size_t)(end - start);
    *p = end;
    return 1;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Parses one pattern segment; 0 ok, -1 malformed braces or parameter name. */
static int pattern_seg_parse(struct seg s, struct pattern_seg *out)
{
    const char *close;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (s.len == 0 || s.s[0] != '{') {
        out->text = s.s;
        out->text_len = s.len;
        return memchr(s.s, '{', s.len) || memchr(s.s, '}', s.len) ? -1 : 0;
    }
    close = memchr(s.s, '}', s.len);
    if (close == NULL || close == s.s + 1)
        return -1;
    out->is_param = 1;
    out->name = s.s + 1;
    out->name_len = (size_t)(close - out->name);
    out->text = close + 1;
    out->text_len = s.len - (size_t)(out->text - s.s);
    if (out->name[out->name_len - 1] == '*') {
        out->is_tail = 1;
        if (--out->name_len == 0 || out->text_len > 0)
            return -1;
    }
    for (i = 0; i < out->name_len; i++)
        if (!name_char(out->name[i]))
            return -1;
    if (memchr(out->text, '{', out->text_len) || memchr(out->text, '}', out->text_len))
        return -1;
    return 0;
}

/* Whether path segment p matches pattern segment ps; a parameter's value goes to *value. */
static int seg_match(const struct pattern_seg *ps, struct seg p, struct seg *value)
{
    if (!ps->is_param)
        return p.len == ps->text_len && memcmp(p.s, ps->text, p.len) == 0;
    if (p.len <= ps->text_len || memcmp(p.s + p.len - ps->text_len, ps->text, ps->text_len) != 0)
        return 0;
    value->s = p.s;
    value->len = p.len - ps->text_len;
    return 1;
}

/* Whether path matches pattern (both well formed); fills m with the parameters. */
static int pattern_match(const char *pattern, const char *path, struct match *m)
{
    struct seg a, b, value;
    struct pattern_seg ps;

    m->n = 0;
    for (;;) {
        int more_a = seg_next(&pattern, &a), more_b = seg_next(&path, &b);

        if (!more_a || !more_b)
            return more_a == more_b;
        if (pattern_seg_parse(a, &ps) != 0)
            return 0;
        if (ps.is_tail) {
            value.s = b.s;
            value.len = strlen(b.s);
            path = value.s + value.len;
            if (value.len == 0)
                return 0;
        } else if (!seg_match(&ps, b, &value)) {
            return 0;
        }
        if (!ps.is_param)
            continue;
        if (m->n == HTTP_MAX_PARAMS)
            return 0;
        m->names[m->n] = (struct seg){ps.name, ps.name_len};
        m->values[m->n++] = value;
    }
}

/* 3 for a literal segment, 2 for a parameter with a suffix, 1 for a bare parameter, 0 a tail. */
static int seg_rank(struct seg s)
{
    struct pattern_seg ps;

    if (pattern_seg_parse(s, &ps) != 0)
        return 0;
    if (ps.is_tail)
        return 0;
    return ps.is_param ? 1 + (ps.text_len > 0) : 3;
}

/* > 0 if pattern a is more specific than b, < 0 if less, 0 if alike. */
static int pattern_compare(const char *a, const char *b)
{
    struct seg sa, sb;

    while (seg_next(&a, &sa) && seg_next(&b, &sb)) {
        int d = seg_rank(sa) - seg_rank(sb);
        if (d != 0)
            return d;
    }
    return 0;
}

/* Whether a and b match exactly the same paths (they differ at most in parameter names). */
static int pattern_same_shape(const char *a, const char *b)
{
    struct seg sa, sb;
    struct pattern_seg pa, pb;

    for (;;) {
        int more_a = seg_next(&a, &sa), more_b = seg_next(&b, &sb);

        if (!more_a || !more_b)
            return more_a == more_b;
        if (pattern_seg_parse(sa, &pa) != 0 || pattern_seg_parse(sb, &pb) != 0)
            return 0;
        if (pa.is_param != pb.is_param || pa.is_tail != pb.is_tail || pa.text_len != pb.text_len ||
            memcmp(pa.text, pb.text, pa.text_len) != 0)
            return 0;
    }
}

/* Checks the syntax of a pattern; NULL if well formed, else why not. */
static const char *pattern_problem(const char *pattern)
{
    struct pattern_seg params[HTTP_MAX_PARAMS], ps;
    struct seg s;
    int n = 0, i;

    if (pattern == NULL || pattern[0] != '/')
        return "pattern must start with '/'";
    if (strcmp(pattern, "/") == 0)
        return NULL;
    while (seg_next(&pattern, &s)) {
        if (s.len == 0 && *pattern != '\0')
            return "pattern has an empty segment";
        if (pattern_seg_parse(s, &ps) != 0)
            return "malformed {parameter} segment";
        if (ps.is_tail && *pattern != '\0')
            return "a {tail*} parameter must be the last segment";
        if (!ps.is_param)
            continue;
        if (n == HTTP_MAX_PARAMS)
            return "too many parameters";
        for (i = 0; i < n; i++)
            if (params[i].name_len == ps.name_len &&
                memcmp(params[i].name, ps.name, ps.name_len) == 0)
                return "parameter name used twice";
        params[n++] = ps;
    }
    return NULL;
}

static int method_known(const char *method)
{
    size_t i;

    for (i = 0; method != NULL && i < ARRAY_LEN(known_methods); i++)
        if (strcmp(method, known_methods[i]) == 0)
            return 1;
    return 0;
}

static int method_takes_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
}

/* What is wrong with route r on its own; NULL if nothing. */
static const char *route_problem(const struct http_route *r)
{
    const char *why;

    if (!method_known(r->method))
        return "method must be GET, POST, PUT or DELETE";
    if ((why = pattern_problem(r->pattern)) != NULL)
        return why;
    if (r->permission == NULL || r->permission[0] == '\0')
        return "no permission (use \"public\" for open routes)";
    if (r->handler == NULL)
        return "no handler";
    if ((r->content_type != NULL) != (r->body_limit > 0))
        return "a body limit needs a content type and a content type needs a body limit";
    if (r->body_limit > 0 && !method_takes_body(r->method))
        return "only POST and PUT routes accept a body";
    return NULL;
}

/* Checks one route alone; 0 ok, -1 with e naming the route (index, method, pattern). */
static int route_check(const struct http_route *r, size_t i, struct err *e)
{
    const char *why = route_problem(r);

    if (why == NULL)
        return 0;
    return err_set(e, ERR_INTERNAL, "route %zu (%s %s): %s", i, r->method ? r->method : "(null)",
                   r->pattern ? r->pattern : "(null)", why);
}

/*
 * Validates the whole table: each route alone, then no two routes with the
 * same method and the same shape of pattern.  0 ok, -1 with e naming the route.
 */
int http_routes_validate(const struct http_route *routes, size_t nroutes, struct err *e)
{
    size_t i, j;

    if (routes == NULL && nroutes > 0)
        return err_set(e, ERR_INTERNAL, "route table is NULL");
    for (i = 0; i < nroutes; i++) {
        if (route_check(&routes[i], i, e) != 0)
            return -1;
        for (j = 0; j < i; j++)
            if (strcmp(routes[i].method, routes[j].method) == 0 &&
                pattern_same_shape(routes[i].pattern, routes[j].pattern))
                return err_set(e, ERR_INTERNAL, "route %zu (%s %s): duplicate of route %zu (%s)", i,
                               routes[i].method, routes[i].pattern, j, routes[j].pattern);
    }
    return 0;
}

/* Copies m's names and values into one new buffer (*storage) and points req at them. */
static void params_fill(const struct match *m, struct http_request *req, char **storage)
{
    size_t total = 1;
    char *p;
    int i;

    for (i = 0; i < m->n; i++)
        total += m->names[i].len + m->values[i].len + 2;
    p = *storage = xmalloc(total);
    memset(req->param_names, 0, sizeof(req->param_names));
    memset(req->param_values, 0, sizeof(req->param_values));
    for (i = 0; i < m->n; i++) {
        req->param_names[i] = memcpy(p, m->names[i].s, m->names[i].len);
        p += m->names[i].len;
        *p++ = '\0';
        req->param_values[i] = memcpy(p, m->values[i].s, m->values[i].len);
        p += m->values[i].len;
        *p++ = '\0';
    }
    req->nparams = m->n;
}

/*
 * Finds the most specific route for method (HEAD is matched as GET) and the
 * decoded path.  On a match, fills req->param_* with copies in a new *storage
 * the caller frees.  *method_mismatch (if not NULL) is always set: 1 when no
 * route matched but the path matched a route of another method.
 */
const struct http_route *http_route_match(const struct http_route *routes, size_t nroutes,
                                          const char *method, const char *path,
                                          struct http_request *req, char **storage,
                                          int *method_mismatch)
{
    const struct http_route *best = NULL;
    const char *want = method && strcmp(method, "HEAD") == 0 ? "GET" : method;
    struct match m, best_m = {0};
    int other = 0;
    size_t i;

    for (i = 0; want != NULL && path != NULL && path[0] == '/' && i < nroutes; i++) {
        if (!pattern_match(routes[i].pattern, path, &m))
            continue;
        if (strcmp(routes[i].method, want) != 0)
            other = 1;
        else if (best == NULL || pattern_compare(routes[i].pattern, best->pattern) > 0) {
            best = &routes[i];
            best_m = m;
        }
    }
    if (method_mismatch != NULL)
        *method_mismatch = best == NULL && other;
    if (best != NULL)
        params_fill(&best_m, req, storage);
    return best;
}

int http_route_allow(const struct http_route *routes, size_t nroutes, const char *path, char *allow,
                     size_t len)
{
    const char *order[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
    struct match m;
    size_t i, k, used = 0;
    int n = 0;

    allow[0] = '\0';
    for (k = 0; k < ARRAY_LEN(order); k++) {
        const char *want = strcmp(order[k], "HEAD") == 0 ? "GET" : order[k];
        for (i = 0; i < nroutes; i++)
            if (strcmp(routes[i].method, want) == 0 && pattern_match(routes[i].pattern, path, &m))
                break;
        if (i == nroutes || used >= len)
            continue;
        used += (size_t)snprintf(allow + used, len - used, "%s%s", n ? ", " : "", order[k]);
        n++;
    }
    return n;
}

const char *http_param(const struct http_request *req, const char *name)
{
    int i;

    for (i = 0; i < req->nparams && i < HTTP_MAX_PARAMS; i++)
        if (req->param_names[i] != NULL && strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

char *http_param_edit(struct http_request *req, const char *name)
{
    /* The values live in the request's own buffer (params_fill): const only to handlers. */
    return (char *)http_param(req, name);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Whether any segment of path is "." or "..". */
static int path_has_dot_segment(const char *path)
{
    struct seg s;

    while (seg_next(&path, &s))
        if ((s.len == 1 && s.s[0] == '.') || (s.len == 2 && s.s[0] == '.' && s.s[1] == '.'))
            return 1;
    return 0;
}

/*
 * Decodes [target, target + n) into out (at least n + 1 bytes); 0 ok, -1 with
 * why set.  An encoded '/' stays "%2F": it never splits a segment, and names
 * (tenants, CAs) cannot contain '%'; a handler that wants it (the OCSP GET
 * request, base64 URL-encoded by RFC 5019 clients) decodes it itself.
 */
static int percent_decode(const char *target, size_t n, char *out, const char **why)
{
    size_t i, j = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_value(target[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(target[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return *why = "bad percent-encoding in path", -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (c == '/') {
                memcpy(out + j, "%2F", 3);
                j += 3;
                continue;
            }
        }
        if (c < 0x20 || c == 0x7f)
            return *why = "control character in path", -1;
        out[j++] = (char)c;
    }
    out[j] = '\0';
    return 0;
}

int http_path_decode(const char *target, char **out, struct err *e)
{
    size_t n = strcspn(target, "?#");
    const char *why = NULL;
    char *path;

    if (target[0] != '/')
        return err_set(e, ERR_INVALID, "request target must be an absolute path");
    path = xmalloc(n + 1);
    if (percent_decode(target, n, path, &why) == 0 && path_has_dot_segment(path))
        why = "'.' or '..' segment in path";
    if (why != NULL) {
        free(path);
        return err_set(e, ERR_INVALID, "%s", why);
    }
    *out = path;
    return 0;
}
