/*
 * util.h — allocation, errors and small helpers shared by every module.
 *
 * Out of memory aborts (xmalloc family): callers never check for NULL from
 * these, and transactions keep the database consistent if the process dies.
 */
#ifndef VOUCH_UTIL_H
#define VOUCH_UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * What went wrong, as the layer that detected it describes it: a kind of our
 * own (no HTTP status: only the transports map kinds to their protocols'
 * codes), a short machine-readable word (`code`: the kind's word unless a
 * narrower one was given, e.g. "bad_csr") and a message naming the rule
 * broken (the field, profile rule or RFC clause).  Lower layers fill it and
 * do not log; the layer that decides logs once.
 */
enum err_kind {
    ERR_NONE = 0,        /* no error */
    ERR_INVALID,         /* the input is malformed or out of range ("bad_request") */
    ERR_UNAUTHENTICATED, /* no credential, or one that does not hold ("unauthorized") */
    ERR_FORBIDDEN,       /* the caller may not do this ("forbidden") */
    ERR_NOT_FOUND,       /* the object named does not exist for this caller ("not_found") */
    ERR_CONFLICT,        /* the object's state or an earlier request forbids it ("conflict") */
    ERR_TOO_LARGE,       /* the input is over its size limit ("payload_too_large") */
    ERR_MEDIA_TYPE,      /* the input is of a type not taken here ("unsupported_media_type") */
    ERR_POLICY,          /* a profile or policy rule refuses the content ("profile_violation") */
    ERR_LIMIT,           /* a rate limit or quota ("too_many_requests") */
    ERR_USAGE,           /* a command line or configuration is wrong ("usage") */
    ERR_UNAVAILABLE,     /* something needed cannot be reached now: try later ("unavailable") */
    ERR_INTERNAL,        /* a fault of ours or of stored data ("internal") */
};
struct err {
    enum err_kind kind;
    char code[32];
    char msg[512];
};

/* Narrower codes than a kind's word, where clients tell them apart. */
#define ERR_CODE_BAD_CSR "bad_csr" /* ERR_INVALID: the CSR does not parse or verify */

/* The kind's word ("not_found"); "internal" for an unknown kind. */
const char *err_kind_word(enum err_kind kind);
/* The kind named by word (err_kind_word's inverse); ERR_INTERNAL for an unknown word. */
enum err_kind err_kind_parse(const char *word);

void err_clear(struct err *e);
/* Sets e (if not NULL) with the kind's word as code; always returns -1 (`return err_set(...)`). */
int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As err_set with a narrower code than the kind's word. */
int err_setc(struct err *e, enum err_kind kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * Renames e's error (kind and code; code NULL: the kind's word), keeping its
 * message: a lower layer's error passed on as another.  Returns -1.
 */
int err_recode(struct err *e, enum err_kind kind, const char *code);
/*
 * The reason (library ERR_LIB_USER) of an OpenSSL error raised where an
 * operation failed because a service it needs is away for now (the signer
 * restarting): err_ossl and err_osslc then make their error ERR_UNAVAILABLE
 * whatever kind they were given, so it is answered 503, not 500.
 */
#define VOUCH_OSSL_R_UNAVAILABLE 0x7601
/*
 * As err_set / err_setc, then appends the first OpenSSL error of the queue, which they drain
 * (the kind becomes ERR_UNAVAILABLE if any error of the queue is VOUCH_OSSL_R_UNAVAILABLE).
 */
int err_ossl(struct err *e, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int err_osslc(struct err *e, enum err_kind kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Drains OpenSSL's error queue into buf (first reason only); returns buf. */
const char *ossl_error_string(char *buf, size_t len);

/*
 * Makes this process, and the processes it forks, opaque to the other
 * processes of its user: not dumpable (no ptrace attach, no reading of
 * /proc/<pid>/mem, environ or fd), no core file, and no privilege gained
 * through execve (PR_SET_NO_NEW_PRIVS).  0, or -1 with e set.
 */
int process_protect(struct err *e);
/*
 * Becomes user uid and group gid for good (no supplementary groups; the
 * saved ids too), then checks that root cannot be regained.  0, or -1 with e
 * set.
 */
int process_identity(uid_t uid, gid_t gid, struct err *e);

/* Lowercase hex of len bytes; the caller frees it. */
char *hex_encode(const unsigned char *data, size_t len);
/* Decodes hex into a new buffer; returns NULL on bad input. The caller frees it. */
unsigned char *hex_decode(const char *hex, size_t *out_len);

/* Standard base64 (with padding) of len bytes; the caller frees it. */
char *base64_encode(const unsigned char *data, size_t len);
/* Decodes standard base64 (whitespace ignored); NULL on bad input. Caller frees. */
unsigned char *base64_decode(const char *text, size_t *out_len);

/* base64url of len bytes, without padding; a new NUL-terminated string, caller frees. */
char *base64url_encode(const unsigned char *data, size_t len);

/*
 * Decodes len characters of base64url without padding into a new buffer
 * (*out, caller frees; NUL-terminated for convenience, *out_len excludes it).
 * Refuses ('-1', outputs untouched) padding, '+', '/', whitespace, any byte
 * outside the alphabet, a length of 4n+1 and non-zero trailing bits (a
 * non-canonical encoding).  The empty string decodes to zero bytes.
 */
int base64url_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

/*
 * A name usable as a tenant, CA, profile or key identifier in URLs and paths:
 * 1–63 characters of [a-z0-9-_.], starting with a letter or digit.
 */
int name_valid(const char *s);

/* Current time, seconds since the epoch (UTC). */
int64_t time_now(void);
/* The same clock in microseconds: to order events of one second. */
int64_t time_now_us(void);
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
/* Makes room for at least cap bytes in all, allocated at that size (no doubling). */
void buf_reserve(struct buf *b, size_t cap);
void buf_free(struct buf *b);

/* Reads a whole file (at most max bytes); NULL on error with e set. Caller frees. */
unsigned char *file_read(const char *path, size_t max, size_t *out_len, struct err *e);
/* Writes a file atomically (temp file, fsync, rename) with the given mode. */
/* Writes all of data to fd (retrying short writes and EINTR): 0, or -1 with errno. */
int write_all(int fd, const void *data, size_t len);
int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct err *e);
/* mkdir -p with the given mode. */
int mkdir_p(const char *path, int mode);
/*
 * Whether path (a file or directory holding secrets; `what` names it in the
 * message, e.g. "kek_file") is kept from everyone but its owner: 0 if no
 * group or other permission bit is set, or if it does not exist (whoever
 * opens it reports that); -1 with e (ERR_INVALID) naming what, the path, its
 * mode and the chmod that fixes it.  Symbolic links are followed.
 */
int file_private_check(const char *path, const char *what, struct err *e);

/* Wipes a secret before it is freed. */
void secure_zero(void *p, size_t n);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
