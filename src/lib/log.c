/* log.c — one line per event on stderr (see log.h). */
#include "lib/log.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
    min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char when[32], line[2048];
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* A line is one line: a control character (from a request path, say) cannot forge another. */
    for (char *c = line; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    time_format(time_now(), when, sizeof(when));
    /* One fprintf call per line keeps lines whole across threads. */
    fprintf(stderr, "%s %s %s\n", when, names[level], line);
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
