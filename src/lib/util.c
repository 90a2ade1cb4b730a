/* util.c — allocation, errors and small helpers (see util.h). */
#include "lib/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static void oom(void)
{
    fputs("vouch: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    return s;
}

static const char *const kind_words[] = {
    [ERR_NONE] = "none",
    [ERR_INVALID] = "bad_request",
    [ERR_UNAUTHENTICATED] = "unauthorized",
    [ERR_FORBIDDEN] = "forbidden",
    [ERR_NOT_FOUND] = "not_found",
    [ERR_CONFLICT] = "conflict",
    [ERR_TOO_LARGE] = "payload_too_large",
    [ERR_MEDIA_TYPE] = "unsupported_media_type",
    [ERR_POLICY] = "profile_violation",
    [ERR_LIMIT] = "too_many_requests",
    [ERR_USAGE] = "usage",
    [ERR_UNAVAILABLE] = "unavailable",
    [ERR_INTERNAL] = "internal",
};

const char *err_kind_word(enum err_kind kind)
{
    if ((size_t)kind >= ARRAY_LEN(kind_words) || kind_words[kind] == NULL)
        return "internal";
    return kind_words[kind];
}

enum err_kind err_kind_parse(const char *word)
{
    for (size_t i = 0; word != NULL && i < ARRAY_LEN(kind_words); i++)
        if (kind_words[i] != NULL && strcmp(kind_words[i], word) == 0)
            return (enum err_kind)i;
    return ERR_INTERNAL;
}

void err_clear(struct err *e)
{
    if (e == NULL)
        return;
    e->kind = ERR_NONE;
    e->code[0] = '\0';
    e->msg[0] = '\0';
}

static void err_vset(struct err *e, enum err_kind kind, const char *code, const char *fmt,
                     va_list ap)
{
    e->kind = kind;
    snprintf(e->code, sizeof(e->code), "%s", code ? code : err_kind_word(kind));
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return -1;
    va_start(ap, fmt);
    err_vset(e, kind, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

int err_recode(struct err *e, enum err_kind kind, const char *code)
{
    if (e == NULL)
        return -1;
    e->kind = kind;
    snprintf(e->code, sizeof(e->code), "%s", code ? code : err_kind_word(kind));
    return -1;
}

int err_setc(struct err *e, enum err_kind kind, const char *code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return -1;
    va_start(ap, fmt);
    err_vset(e, kind, code, fmt, ap);
    va_end(ap);
    return -1;
}

/* Appends OpenSSL's first queued error (drained before e is tested, so it never lingers). */
static void err_append_ossl(struct err *e, const char *ossl)
{
    size_t used;

    if (e == NULL || ossl[0] == '\0')
        return;
    used = strlen(e->msg);
    snprintf(e->msg + used, sizeof(e->msg) - used, ": %s", ossl);
}

/*
 * Drains OpenSSL's error queue: the first error's reason into buf, and
 * *unavailable (if not NULL) whether any error of it is VOUCH_OSSL_R_UNAVAILABLE.
 */
static const char *ossl_drain(char *buf, size_t len, int *unavailable)
{
    unsigned long code, first = 0;
    const char *reason;
    int found = 0;

    buf[0] = '\0';
    while ((code = ERR_get_error()) != 0) {
        if (first == 0)
            first = code;
        found |=
            ERR_GET_LIB(code) == ERR_LIB_USER && ERR_GET_REASON(code) == VOUCH_OSSL_R_UNAVAILABLE;
    }
    if (unavailable != NULL)
        *unavailable = found;
    if (first == 0)
        return buf;
    reason = ERR_reason_error_string(first);
    if (ERR_GET_LIB(first) == ERR_LIB_USER && ERR_GET_REASON(first) == VOUCH_OSSL_R_UNAVAILABLE)
        snprintf(buf, len, "the signer is unavailable");
    else if (reason != NULL)
        snprintf(buf, len, "%s", reason);
    else
        ERR_error_string_n(first, buf, len);
    return buf;
}

int err_ossl(struct err *e, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;
    char ossl[256];
    int unavailable;

    ossl_drain(ossl, sizeof(ossl), &unavailable);
    if (unavailable)
        kind = ERR_UNAVAILABLE;
    if (e == NULL)
        return -1;
    va_start(ap, fmt);
    err_vset(e, kind, NULL, fmt, ap);
    va_end(ap);
    err_append_ossl(e, ossl);
    return -1;
}

int err_osslc(struct err *e, enum err_kind kind, const char *code, const char *fmt, ...)
{
    va_list ap;
    char ossl[256];
    int unavailable;

    ossl_drain(ossl, sizeof(ossl), &unavailable);
    if (unavailable)
        kind = ERR_UNAVAILABLE;
    if (e == NULL)
        return -1;
    va_start(ap, fmt);
    err_vset(e, kind, code, fmt, ap);
    va_end(ap);
    err_append_ossl(e, ossl);
    return -1;
}

const char *ossl_error_string(char *buf, size_t len)
{
    return ossl_drain(buf, len, NULL);
}

char *hex_encode(const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = xmalloc(len * 2 + 1);

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[len * 2] = '\0';
    return out;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

unsigned char *hex_decode(const char *hex, size_t *out_len)
{
    size_t n = strlen(hex);
    unsigned char *out;

    if (n % 2 != 0)
        return NULL;
    out = xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value((unsigned char)hex[2 * i]);
        int lo = hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *out_len = n / 2;
    return out;
}

char *base64_encode(const unsigned char *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = xmalloc(cap);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

    out[n] = '\0';
    return out;
}

unsigned char *base64_decode(const char *text, size_t *out_len)
{
    size_t n = strlen(text), k = 0, pad = 0;
    char *clean = xmalloc(n + 1);
    unsigned char *out;
    int got;

    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)text[i]))
            clean[k++] = text[i];
    clean[k] = '\0';
    if (k == 0 || k % 4 != 0) {
        free(clean);
        return NULL;
    }
    if (clean[k - 1] == '=')
        pad++;
    if (clean[k - 2] == '=')
        pad++;
    out = xmalloc(k / 4 * 3 + 1);
    got = EVP_DecodeBlock(out, (unsigned char *)clean, (int)k);
    free(clean);
    if (got < 0 || (size_t)got < pad) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)got - pad;
    return out;
}

int name_valid(const char *s)
{
    size_t n;

    if (s == NULL)
        return 0;
    n = strlen(s);
    if (n == 0 || n > 63 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

int64_t time_now(void)
{
    return (int64_t)time(NULL);
}

int64_t time_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *time_format(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int time_parse(const char *s, int64_t *out)
{
    struct tm tm;
    const char *rest;

    memset(&tm, 0, sizeof(tm));
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return -1;
    if (*rest == '.') {
        rest++;
        while (isdigit((unsigned char)*rest))
            rest++;
    }
    if (strcmp(rest, "Z") != 0)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

int random_bytes(unsigned char *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

char *random_id(const char *prefix)
{
    unsigned char raw[8];
    char *hex, *id;

    if (random_bytes(raw, sizeof(raw)) != 0)
        return NULL;
    hex = hex_encode(raw, sizeof(raw));
    id = xasprintf("%s-%s", prefix, hex);
    free(hex);
    return id;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void buf_reserve(struct buf *b, size_t cap)
{
    if (cap <= b->cap)
        return;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

unsigned char *file_read(const char *path, size_t max, size_t *out_len, struct err *e)
{
    struct buf b = {0};
    unsigned char chunk[8192];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        err_set(e, ERR_INTERNAL, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > max) {
            fclose(f);
            buf_free(&b);
            err_set(e, ERR_INTERNAL, "%s: larger than %zu bytes", path, max);
            return NULL;
        }
        buf_append(&b, chunk, n);
    }
    if (ferror(f)) {
        fclose(f);
        buf_free(&b);
        err_set(e, ERR_INTERNAL, "%s: read error", path);
        return NULL;
    }
    fclose(f);
    buf_append(&b, "", 1); /* NUL terminator for text files, not counted */
    *out_len = b.len - 1;
    return b.data;
}

int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t done = 0;

    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct err *e)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    if (fd < 0) {
        err_set(e, ERR_INTERNAL, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    if (write_all(fd, data, len) != 0)
        goto fail;
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;
fail:
    err_set(e, ERR_INTERNAL, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

int mkdir_p(const char *path, int mode)
{
    char *copy = xstrdup(path);
    int rc = 0;

    for (char *p = copy + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, (mode_t)mode) != 0 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    if (rc == 0 && mkdir(copy, (mode_t)mode) != 0 && errno != EEXIST)
        rc = -1;
    free(copy);
    return rc;
}

int file_private_check(const char *path, const char *what, struct err *e)
{
    struct stat st;
    mode_t open_to;

    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0
                               : err_set(e, ERR_INVALID, "%s %s: %s", what, path, strerror(errno));
    if ((open_to = st.st_mode & 077) == 0)
        return 0;
    return err_set(e, ERR_INVALID, "%s %s is open to %s (mode %04o): chmod %s %s", what, path,
                   (open_to & 070) == 0  ? "others"
                   : (open_to & 07) == 0 ? "its group"
                                         : "group and others",
                   (unsigned)(st.st_mode & 07777), S_ISDIR(st.st_mode) ? "700" : "600", path);
}

void secure_zero(void *p, size_t n)
{
    if (p != NULL)
        OPENSSL_cleanse(p, n);
}

int process_protect(struct err *e)
{
    struct rlimit none = {0, 0};

    if (setrlimit(RLIMIT_CORE, &none) != 0)
        return err_set(e, ERR_INTERNAL, "setrlimit(RLIMIT_CORE): %s", strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return err_set(e, ERR_INTERNAL, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return err_set(e, ERR_INTERNAL, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
    return 0;
}

int process_identity(uid_t uid, gid_t gid, struct err *e)
{
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0)
        return err_set(e, ERR_INTERNAL, "cannot become group %d: %s", (int)gid, strerror(errno));
    if (setresuid(uid, uid, uid) != 0)
        return err_set(e, ERR_INTERNAL, "cannot become user %d: %s", (int)uid, strerror(errno));
    if (uid != 0 && (setuid(0) == 0 || geteuid() == 0))
        return err_set(e, ERR_INTERNAL, "root could be regained after becoming user %d", (int)uid);
    return 0;
}
