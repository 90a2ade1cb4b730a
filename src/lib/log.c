/* log.c — one line per event on stderr (see log.h). */
#include "lib/log.h"
#include "lib/util.h"

#include <stdarg.h>
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
    time_format(time_now(), when, sizeof(when));
    /* One fprintf call per line keeps lines whole across threads. */
    fprintf(stderr, "%s %s %s\n", when, names[level], line);
}
