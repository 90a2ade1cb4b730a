/*
 * log.h — one line per event on stderr: "time level [req tenant] message",
 * or with LOG_JSON one JSON object per line: {"time", "level",
 * "request_id", "tenant", "message"} (the two about a request only when the
 * line is).  Only the layer that decides about an error logs it.  Never log
 * secrets.
 */
#ifndef VOUCH_LOG_H
#define VOUCH_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_format { LOG_TEXT, LOG_JSON };

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);

/*
 * The request the calling thread works for: every line it logs until
 * log_context_clear names request_id and tenant (NULL: none).  The strings
 * must outlive the context (the HTTP layer sets it around each request's
 * checks, handler and answer).
 */
void log_context_set(const char *request_id, const char *tenant);
void log_context_clear(void);

/* One answer of the HTTP layer, for the access log. */
struct log_access {
    const char *request_id;
    const char *tenant; /* NULL: none */
    const char *listener;
    const char *method;
    const char *path;
    int status;
    double duration_ms;
    const char *remote_addr;
    const char *proxy_addr; /* NULL: not forwarded */
};
/*
 * The access log line of a: "req ID ADDR [via PROXY] METHOD PATH -> STATUS
 * (MS ms)" in text; in JSON the same fields as members of their own.
 */
void log_access(enum log_level level, const struct log_access *a);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Floods: lines that anyone can cause in any number (refused requests and
 * connections: malformed HTTP, failed TLS handshakes, bodies over their
 * limit, missing or wrong credentials) are logged at a bounded rate.  Per
 * kind, the first line of each LOG_FLOOD_SECONDS is logged as it is; the
 * others are counted, and one line sums them up once the interval is over
 * (at the kind's next line, or log_floods_flush, which vouchd calls every
 * second).
 */
enum log_flood {
    LOG_FLOOD_HTTP, /* refused by the HTTP layer (libmicrohttpd's own messages, ours) */
    LOG_FLOOD_AUTH, /* requests refused for want of a valid credential */
    LOG_FLOODS
};
#define LOG_FLOOD_SECONDS 10

void log_flood(enum log_flood kind, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the summary of every kind whose interval is over; all: of every kind now (at exit). */
void log_floods_flush(int all);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
