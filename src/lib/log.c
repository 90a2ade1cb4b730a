/* log.c — one line per event on stderr (see log.h). */
#include "lib/log.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_TEXT;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* The request this thread works for (log_context_set). */
static _Thread_local const char *context_id, *context_tenant;

void log_set_level(enum log_level level)
{
    min_level = level;
}

void log_set_format(enum log_format f)
{
    format = f;
}

void log_context_set(const char *request_id, const char *tenant)
{
    context_id = request_id;
    context_tenant = tenant;
}

void log_context_clear(void)
{
    context_id = context_tenant = NULL;
}

/* A line is one line: a control character (from a request path, say) cannot forge another. */
static void controls_mask(char *s)
{
    for (char *c = s; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

/* A JSON string of text, whose bytes that are not UTF-8 become '?' (text is changed). */
static json_t *json_text(char *text)
{
    json_t *j = json_string(text);

    if (j != NULL)
        return j;
    for (char *c = text; *c != '\0'; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    return json_string(text);
}

/*
 * Writes one line: the message (masked) with the thread's request context, and
 * in JSON the members of extra too (taken).  One fprintf call per line keeps
 * lines whole across threads.
 */
static void line_write(enum log_level level, char *message, json_t *extra)
{
    char when[32], tenant[256];
    char *text;
    json_t *o;

    snprintf(tenant, sizeof(tenant), "%s", context_tenant ? context_tenant : "-");
    controls_mask(tenant);
    controls_mask(message);
    time_format(time_now(), when, sizeof(when));
    if (format == LOG_TEXT) {
        if (context_id != NULL)
            fprintf(stderr, "%s %s [%s %s] %s\n", when, level_names[level], context_id, tenant,
                    message);
        else
            fprintf(stderr, "%s %s %s\n", when, level_names[level], message);
        json_decref(extra);
        return;
    }
    o = json_pack("{s:s, s:s}", "time", when, "level", level_names[level]);
    if (context_id != NULL)
        json_object_set_new(o, "request_id", json_string(context_id));
    if (context_tenant != NULL)
        json_object_set_new(o, "tenant", json_text(tenant));
    json_object_set_new(o, "message", json_text(message));
    if (extra != NULL)
        json_object_update(o, extra);
    json_decref(extra);
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text != NULL)
        fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(o);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    line_write(level, line, NULL);
}

void log_access(enum log_level level, const struct log_access *a)
{
    const char *saved_id = context_id, *saved_tenant = context_tenant;
    char line[2048];
    json_t *extra = NULL;

    if (level < min_level)
        return;
    snprintf(line, sizeof(line), "%s %s%s%s %s %s -> %d (%.3f ms)", a->listener, a->remote_addr,
             a->proxy_addr ? " via " : "", a->proxy_addr ? a->proxy_addr : "", a->method, a->path,
             a->status, a->duration_ms);
    if (format == LOG_JSON) {
        char path[2048];
        snprintf(path, sizeof(path), "%s", a->path);
        controls_mask(path);
        extra = json_pack("{s:s, s:s, s:s, s:o, s:i, s:f, s:s}", "event", "access", "listener",
                          a->listener, "method", a->method, "path", json_text(path), "status",
                          a->status, "duration_ms", (double)(int64_t)(a->duration_ms * 1000) / 1000,
                          "remote_addr", a->remote_addr);
        if (a->proxy_addr != NULL)
            json_object_set_new(extra, "proxy_addr", json_string(a->proxy_addr));
    }
    log_context_set(a->request_id, a->tenant);
    line_write(level, line, extra);
    log_context_set(saved_id, saved_tenant);
}

/* One kind of flood: when it began, how many lines were held back since, at which level. */
struct flood {
    const char *what; /* of the lines held back */
    int64_t since;
    long held;
    enum log_level level;
};

static pthread_mutex_t floods_lock = PTHREAD_MUTEX_INITIALIZER;
static struct flood floods[LOG_FLOODS] = {
    [LOG_FLOOD_HTTP] = {.what = "requests or connections refused by the HTTP layer"},
    [LOG_FLOOD_AUTH] = {.what = "requests refused for want of a valid credential"},
};

/* The line summing up f's held lines (f->held > 0), into line; under floods_lock. */
static void flood_summary(struct flood *f, int64_t now, char *line, size_t len, int *level)
{
    snprintf(line, len, "%ld more %s in the last %lld s (one line of them logged every %d s)",
             f->held, f->what, (long long)(now - f->since), LOG_FLOOD_SECONDS);
    *level = (int)f->level;
    f->level = LOG_DEBUG;
    f->held = 0;
    f->since = now;
}

void log_flood(enum log_flood kind, enum log_level level, const char *fmt, ...)
{
    struct flood *f = &floods[kind];
    char summary[256] = "", line[2048];
    int64_t now = time_now();
    int summary_level = LOG_INFO, show = 0;
    va_list ap;

    if (level < min_level || (unsigned)kind >= LOG_FLOODS)
        return;
    pthread_mutex_lock(&floods_lock);
    if (now - f->since >= LOG_FLOOD_SECONDS) {
        if (f->held > 0)
            flood_summary(f, now, summary, sizeof(summary), &summary_level);
        f->since = now;
        show = 1;
    } else {
        f->held++;
        f->level = level > f->level ? level : f->level;
    }
    pthread_mutex_unlock(&floods_lock);
    if (summary[0] != '\0')
        log_msg((enum log_level)summary_level, "%s", summary);
    if (!show)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_msg(level, "%s", line);
}

void log_floods_flush(int all)
{
    int64_t now = time_now();

    for (int k = 0; k < LOG_FLOODS; k++) {
        char summary[256] = "";
        int level = LOG_INFO;

        pthread_mutex_lock(&floods_lock);
        if (floods[k].held > 0 && (all || now - floods[k].since >= LOG_FLOOD_SECONDS))
            flood_summary(&floods[k], now, summary, sizeof(summary), &level);
        pthread_mutex_unlock(&floods_lock);
        if (summary[0] != '\0')
            log_msg((enum log_level)level, "%s", summary);
    }
}
