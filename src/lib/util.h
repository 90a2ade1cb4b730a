/*
 * util.h — allocation, errors and small helpers shared by every module.
 *
 * Out of memory aborts (xmalloc family): callers never check for NULL from
 * these, and transactions keep the database consistent if the process dies.
 */
#ifndef VOUCH_UTIL_H
#define VOUCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * An error as the layer that detected it describes it.  `status` is the HTTP
 * status the API layer answers with, `code` a short machine-readable word
 * (the JSON "error" field), `msg` the human-readable detail.  Lower layers fill
 * it and do not log; the layer that decides logs once.
 */
struct err {
    int status;
    char code[32];
    char msg[512];
};

/* Error codes (the JSON "error" field) and their usual HTTP status. */
#define ERR_BAD_REQUEST  "bad_request"            /* 400 */
#define ERR_UNAUTHORIZED "unauthorized"           /* 401 */
#define ERR_FORBIDDEN    "forbidden"              /* 403 */
#define ERR_NOT_FOUND    "not_found"              /* 404 */
#define ERR_CONFLICT     "conflict"               /* 409 */
#define ERR_TOO_LARGE    "payload_too_large"      /* 413 */
#define ERR_MEDIA_TYPE   "unsupported_media_type" /* 415 */
#define ERR_PROFILE      "profile_violation"      /* 422 */
#define ERR_BAD_CSR      "bad_csr"                /* 400 */
#define ERR_INTERNAL     "internal"               /* 500 */
#define ERR_UNAVAILABLE  "unavailable"            /* 503 */
#define ERR_TOO_MANY     "too_many_requests"      /* 429: a rate limit or quota */

void err_clear(struct err *e);
/* Sets e (if not NULL); always returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As err_set, then appends the first OpenSSL error of the queue, which it drains. */
int err_ossl(struct err *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Drains OpenSSL's error queue into buf (first reason only); returns buf. */
const char *ossl_error_string(char *buf, size_t len);

/* Lowercase hex of len bytes; the caller frees it. */
char *hex_encode(const unsigned char *data, size_t len);
/* Decodes hex into a new buffer; returns NULL on bad input. The caller frees it. */
unsigned char *hex_decode(const char *hex, size_t *out_len);

/* Standard base64 (with padding) of len bytes; the caller frees it. */
char *base64_encode(const unsigned char *data, size_t len);
/* Decodes standard base64 (whitespace ignored); NULL on bad input. Caller frees. */
unsigned char *base64_decode(const char *text, size_t *out_len);

/*
 * A name usable as a tenant, CA, profile or key identifier in URLs and paths:
 * 1–63 characters of [a-z0-9-_.], starting with a letter or digit.
 */
int name_valid(const char *s);

/* Current time, seconds since the epoch (UTC). */
int64_t time_now(void);
/* RFC 3339 UTC ("2026-11-22T10:00:00Z") into buf (at least 21 bytes). */
const char *time_format(int64_t t, char *buf, size_t len);
/* Parses RFC 3339 UTC with a Z suffix (fractions ignored); 0 ok, -1 bad. */
int time_parse(const char *s, int64_t *out);

/* Fills buf with len bytes from the CSPRNG; 0 ok, -1 failure (never ignore). */
int random_bytes(unsigned char *buf, size_t len);
/* A random identifier "<prefix>-<16 hex>"; NULL if the CSPRNG failed. Caller frees. */
char *random_id(const char *prefix);

/* A growable byte buffer. */
struct buf {
    unsigned char *data;
    size_t len;
    size_t cap;
};
void buf_append(struct buf *b, const void *data, size_t len);
void buf_free(struct buf *b);

/* Reads a whole file (at most max bytes); NULL on error with e set. Caller frees. */
unsigned char *file_read(const char *path, size_t max, size_t *out_len, struct err *e);
/* Writes a file atomically (temp file, fsync, rename) with the given mode. */
/* Writes all of data to fd (retrying short writes and EINTR): 0, or -1 with errno. */
int write_all(int fd, const void *data, size_t len);
int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct err *e);
/* mkdir -p with the given mode. */
int mkdir_p(const char *path, int mode);

/* Wipes a secret before it is freed. */
void secure_zero(void *p, size_t n);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
