/*
 * signer_client.c — the network process's side of the signer: starting it,
 * a pool of connections, and the typed calls of keys.h.
 *
 * Each connection carries one request at a time: a caller takes an idle one
 * (or waits for one), sends, reads the reply and gives it back.  A
 * connection that fails or times out is closed for good, so a late reply can
 * never be read as the answer to a later request.
 *
 * Signers are forked by the keeper (signer_keeper.c).  Once supervised
 * (signer_supervise), a watcher thread asks the signer for a sign of life
 * every second on a connection of its own; when it died or hangs, every call
 * fails at once with ERR_UNAVAILABLE (those under way too: their connections
 * are shut down), and the keeper starts a new signer, which re-opens the key
 * store, with backoff until one answers.  The new signer's connections take
 * the old ones' places in the pool; the handle, and the remote keys that
 * refer to it, stay the same.
 */
#include "keys/signer_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "lib/log.h"
#include "lib/metrics.h"

#define CONNECTIONS_DEFAULT 4
#define CONNECTIONS_MAX     256
#define REPLY_TIMEOUT       120 /* seconds; RSA-4096 generation under a sanitizer is slow */
#define SPAWN_TIMEOUT       30  /* seconds the keeper may take to fork a signer */
#define HANG_DEFAULT        10  /* seconds the supervisor waits for a sign of life */
#define BACKOFF_MAX         30  /* seconds between attempts to restart, at most */
#define DOWN_AFTER          3   /* failed attempts after which the signer is reported down */
#define EVENTS_MAX          64  /* supervision events held for the audit log */

struct conn {
    int fd; /* -1 once closed */
    int busy;
};

struct signer {
    pid_t pid;    /* the signer serving now */
    pid_t keeper; /* the process that forks signers (signer_keeper.c) */
    int ctl;      /* to the keeper */
    int n;
    struct conn *conns;
    int health;           /* the supervisor's own connection (-1: none) */
    pthread_mutex_t lock; /* guards everything below, and conns, health and pid */
    pthread_cond_t freed;
    int stopped;
    int refs;
    int up; /* 0 from a failure seen until a new signer answers */
    /* supervision (signer_supervise) */
    int supervised;
    pthread_t watcher;
    pthread_cond_t wake;
    int hang_seconds;
    int check_now; /* a call saw its connection break: the watcher looks at once */
    struct signer_status status;
    struct signer_event events[EVENTS_MAX];
    int nevents;
};

static void signer_events_free_in(struct signer_event *events, int n);

static void signer_free(struct signer *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->conns[i].fd >= 0)
            close(s->conns[i].fd);
    if (s->health >= 0)
        close(s->health);
    if (s->ctl >= 0)
        close(s->ctl);
    signer_events_free_in(s->events, s->nevents);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->lock);
    free(s->conns);
    free(s);
}

void signer_ref(struct signer *s)
{
    pthread_mutex_lock(&s->lock);
    s->refs++;
    pthread_mutex_unlock(&s->lock);
}

void signer_unref(struct signer *s)
{
    int last;

    pthread_mutex_lock(&s->lock);
    last = --s->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last)
        signer_free(s);
}

/* A handle for n connections, none yet. */
static struct signer *signer_new(int n)
{
    struct signer *s = xcalloc(1, sizeof(*s));

    s->n = n;
    s->refs = 1;
    s->ctl = s->health = -1;
    s->keeper = s->pid = -1;
    s->hang_seconds = HANG_DEFAULT;
    s->conns = xcalloc((size_t)n, sizeof(*s->conns));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    pthread_cond_init(&s->wake, NULL);
    for (int i = 0; i < n; i++)
        s->conns[i].fd = -1;
    return s;
}

static void fd_timeout(int fd, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Waits for the child to exit; one that a signal ended (a crash) is logged. */
static void child_reap(pid_t pid)
{
    int status = 0;

    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid > 0 && WIFSIGNALED(status))
        log_error("signer: process %d was ended by signal %d (%s)", (int)pid, WTERMSIG(status),
                  strsignal(WTERMSIG(status)));
}

/*
 * The PKCS#11 PIN may come in the environment: the signer has its copy now,
 * and the network process must not keep it (it would be readable by code that
 * parses network input).  Overwritten in place, then removed.
 */
static void pin_forget(void)
{
    char *pin = getenv("VOUCH_PKCS11_PIN");

    if (pin != NULL)
        secure_zero(pin, strlen(pin));
    unsetenv("VOUCH_PKCS11_PIN");
}

/* Sets e from an error reply's kind (its word) and message; returns -1. */
static int reply_error(const unsigned char *body, size_t len, struct err *e);

/* One W_PING on fd: 0, or -1 with e set (the signer's reason, or ERR_UNAVAILABLE). */
static int fd_ping(int fd, struct err *e)
{
    unsigned char *body = NULL;
    uint32_t type;
    size_t len;
    int rc = 0;

    if (wire_send(fd, W_PING, NULL) != 0 || wire_recv(fd, &type, &body, &len, WIRE_MAX_SMALL) != 0)
        return err_set(e, ERR_UNAVAILABLE, "the signer did not answer");
    if (type != W_REPLY_OK)
        rc = reply_error(body, len, e);
    free(body);
    return rc;
}

/*
 * Has the keeper fork a new signer and checks that it opened its key store
 * (its first request answers why not), then hands its connections to the
 * pool: a connection busy with a call of the old signer is left to its caller
 * (conn_give closes it), its slot takes the new one.  0, or -1 with e set.
 */
static int signer_spawn(struct signer *s, struct err *e)
{
    int *fds = xcalloc((size_t)s->n + 1, sizeof(int));
    pid_t pid;

    if (signer_keeper_spawn(s->ctl, SPAWN_TIMEOUT, &pid, fds, s->n + 1, e) != 0) {
        free(fds);
        return -1;
    }
    for (int i = 0; i < s->n; i++)
        fd_timeout(fds[i], REPLY_TIMEOUT);
    fd_timeout(fds[s->n], s->hang_seconds);
    if (fd_ping(fds[0], e) != 0) {
        for (int i = 0; i <= s->n; i++)
            close(fds[i]);
        free(fds);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++) {
        struct conn *c = &s->conns[i];
        if (!c->busy && c->fd >= 0)
            close(c->fd);
        c->fd = fds[i];
    }
    if (s->health >= 0)
        close(s->health);
    s->health = fds[s->n];
    s->pid = pid;
    s->up = 1;
    pthread_cond_broadcast(&s->freed);
    pthread_mutex_unlock(&s->lock);
    free(fds);
    return 0;
}

struct signer *signer_start(const struct signer_config *cfg, struct err *e)
{
    int n = cfg->connections > 0 ? cfg->connections : CONNECTIONS_DEFAULT;
    struct signer *s;
    struct err why;

    if (cfg->keystore_type != NULL && strcmp(cfg->keystore_type, "soft") != 0 &&
        strcmp(cfg->keystore_type, "pkcs11") != 0) {
        err_set(e, ERR_INTERNAL, "keystore_type: soft or pkcs11");
        return NULL;
    }
    if (cfg->keystore_type != NULL && strcmp(cfg->keystore_type, "pkcs11") == 0) {
        if (cfg->pkcs11_module == NULL ||
            (cfg->pkcs11_token_label == NULL && !cfg->pkcs11_use_slot)) {
            err_set(e, ERR_INTERNAL,
                    "keystore_type pkcs11: set pkcs11_module and pkcs11_token_label (or "
                    "pkcs11_slot)");
            return NULL;
        }
        if (access(cfg->pkcs11_module, R_OK) != 0) {
            err_set(e, ERR_INTERNAL, "pkcs11_module %s: %s", cfg->pkcs11_module, strerror(errno));
            return NULL;
        }
    } else if (cfg->keystore_dir == NULL || cfg->kek_path == NULL) {
        err_set(e, ERR_INTERNAL, "signer: keystore_dir and kek_path must be set");
        return NULL;
    } else if (access(cfg->kek_path, R_OK) != 0) {
        /* Checked here too, so that a missing secret is a clear error without a fork. */
        err_set(e, ERR_INTERNAL, "key-encryption secret %s: %s", cfg->kek_path, strerror(errno));
        return NULL;
    }
    if (n > CONNECTIONS_MAX)
        n = CONNECTIONS_MAX;
    s = signer_new(n);
    /* One connection more than asked: the supervisor's (signer_supervise). */
    if ((s->keeper = signer_keeper_start(cfg, n + 1, &s->ctl, e)) < 0) {
        signer_free(s);
        return NULL;
    }
    pin_forget(); /* the keeper has it, for the signers it starts */
    if (signer_spawn(s, &why) != 0) {
        err_set(e, ERR_INTERNAL, "the signer did not start: %s", why.msg);
        signer_stop(s);
        return NULL;
    }
    return s;
}

/* Ends the supervision: the watcher is woken and joined. */
static void supervision_stop(struct signer *s)
{
    int joined;

    pthread_mutex_lock(&s->lock);
    s->stopped = 1;
    joined = s->supervised;
    s->supervised = 0;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (joined)
        pthread_join(s->watcher, NULL);
}

void signer_stop(struct signer *s)
{
    if (s == NULL)
        return;
    supervision_stop(s);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++) {
        struct conn *c = &s->conns[i];
        if (c->fd < 0)
            continue;
        shutdown(c->fd, SHUT_RDWR); /* the child sees the end; a busy caller fails */
        if (!c->busy) {
            close(c->fd);
            c->fd = -1;
        }
    }
    if (s->health >= 0) {
        close(s->health);
        s->health = -1;
    }
    pthread_cond_broadcast(&s->freed);
    pthread_mutex_unlock(&s->lock);
    if (s->ctl >= 0) {
        close(s->ctl); /* the keeper waits for the signer to go, then exits */
        s->ctl = -1;
    }
    child_reap(s->keeper);
    signer_unref(s);
}

pid_t signer_pid(const struct signer *s)
{
    return s->pid;
}

/* Whether any connection is still open (call with the lock held). */
static int conns_alive(const struct signer *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->conns[i].fd >= 0)
            return 1;
    return 0;
}

/*
 * An idle connection, marked busy, its descriptor in *fd; waits while all are
 * busy.  NULL if none is left, the signer is stopped or it is being restarted.
 */
static struct conn *conn_take(struct signer *s, int *fd)
{
    struct conn *c = NULL;

    pthread_mutex_lock(&s->lock);
    while (!s->stopped && s->up && conns_alive(s)) {
        for (int i = 0; i < s->n && c == NULL; i++)
            if (!s->conns[i].busy && s->conns[i].fd >= 0)
                c = &s->conns[i];
        if (c != NULL) {
            c->busy = 1;
            *fd = c->fd;
            break;
        }
        pthread_cond_wait(&s->freed, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return c;
}

/*
 * Returns a connection to the pool; a broken one (or any, once stopped) is
 * closed, and so is one a restart replaced meanwhile (fd is no longer c's).
 */
static void conn_give(struct signer *s, struct conn *c, int fd, int broken)
{
    pthread_mutex_lock(&s->lock);
    if (c->fd != fd) {
        close(fd);
    } else if (broken || s->stopped) {
        close(c->fd);
        c->fd = -1;
        s->check_now = 1; /* a dead signer is noticed at once, not at the next second */
        pthread_cond_broadcast(&s->wake);
    }
    c->busy = 0;
    /* One freed connection serves one waiter; a closed one may end every wait. */
    if (c->fd >= 0)
        pthread_cond_signal(&s->freed);
    else
        pthread_cond_broadcast(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

int signer_take_connection(struct signer *s)
{
    int fd = -1;

    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n && fd < 0; i++)
        if (!s->conns[i].busy && s->conns[i].fd >= 0) {
            fd = s->conns[i].fd;
            s->conns[i].fd = -1;
        }
    pthread_mutex_unlock(&s->lock);
    return fd;
}

/* ---- supervision ------------------------------------------------------------ */

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* src (cut to fit) with no character that would need escaping in a JSON string. */
static void json_safe(char *dst, size_t len, const char *src)
{
    size_t i = 0;

    for (; src[i] != '\0' && i + 1 < len; i++)
        dst[i] = src[i] == '"' || src[i] == '\\' || (unsigned char)src[i] < 0x20 ? '\'' : src[i];
    dst[i] = '\0';
}

/* Queues an event for signer_supervision_events (under the lock); the oldest goes when full. */
static void event_add(struct signer *s, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void event_add(struct signer *s, const char *action, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (s->nevents == EVENTS_MAX) {
        signer_events_free_in(s->events, 1);
        memmove(s->events, s->events + 1, (EVENTS_MAX - 1) * sizeof(s->events[0]));
        s->nevents--;
    }
    s->events[s->nevents++] =
        (struct signer_event){xstrdup(action), xstrdup("signer"), xstrdup(detail)};
}

/* A sign of life on the supervisor's connection, and a connection left for calls: 0, or -1. */
static int signer_alive(struct signer *s, struct err *why)
{
    unsigned char *body = NULL;
    uint32_t type;
    size_t len;
    int fd, alive;

    pthread_mutex_lock(&s->lock);
    fd = s->health;
    pthread_mutex_unlock(&s->lock);
    if (fd < 0 || wire_send(fd, W_ALIVE, NULL) != 0)
        return err_set(why, ERR_UNAVAILABLE, "the signer exited");
    if (wire_recv(fd, &type, &body, &len, WIRE_MAX_SMALL) != 0) {
        free(body);
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return err_set(why, ERR_UNAVAILABLE, "the signer did not answer within %d s",
                           s->hang_seconds);
        return err_set(why, ERR_UNAVAILABLE, "the signer exited");
    }
    free(body);
    if (type != W_REPLY_OK)
        return err_set(why, ERR_UNAVAILABLE, "the signer answered wrongly");
    pthread_mutex_lock(&s->lock);
    alive = conns_alive(s);
    pthread_mutex_unlock(&s->lock);
    /* Calls that timed out closed their connections: with none left, start afresh. */
    return alive ? 0 : err_set(why, ERR_UNAVAILABLE, "no connection to the signer is left");
}

/* The signer is down: every call now fails at once (ERR_UNAVAILABLE), calls under way too. */
static void signer_down(struct signer *s, const char *why)
{
    pthread_mutex_lock(&s->lock);
    s->up = 0;
    s->status.up = 0;
    snprintf(s->status.reason, sizeof(s->status.reason), "%.255s", why);
    for (int i = 0; i < s->n; i++) {
        struct conn *c = &s->conns[i];
        if (c->fd < 0)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        if (!c->busy) {
            close(c->fd);
            c->fd = -1;
        }
    }
    if (s->health >= 0) {
        close(s->health);
        s->health = -1;
    }
    pthread_cond_broadcast(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

/* Waits up to seconds, or until signer_stop or a broken call; 1 if stopped. */
static int watcher_wait(struct signer *s, int seconds)
{
    struct timespec until;
    int stopped;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&s->lock);
    while (!s->stopped && !s->check_now && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
        ;
    s->check_now = 0;
    stopped = s->stopped;
    pthread_mutex_unlock(&s->lock);
    return stopped;
}

/* One attempt to bring the signer back; attempt counts the failed ones before. */
static int watcher_restart(struct signer *s, int attempt, int64_t down_since, const char *reason)
{
    pid_t old = s->pid;
    struct err e;

    if (signer_spawn(s, &e) == 0) {
        long long ms = (long long)(monotonic_ms() - down_since);
        pthread_mutex_lock(&s->lock);
        s->status.up = 1;
        s->status.restarts++;
        event_add(s, "signer.restart",
                  "{\"reason\": \"%s\", \"old_pid\": %d, \"pid\": %d, \"down_ms\": %lld, "
                  "\"restarts\": %lu}",
                  reason, (int)old, (int)s->pid, ms, s->status.restarts);
        pthread_mutex_unlock(&s->lock);
        log_warn("signer: restarted (pid %d) %lld ms after: %s", (int)s->pid, ms, reason);
        return 0;
    }
    json_safe(e.msg, sizeof(e.msg), e.msg);
    pthread_mutex_lock(&s->lock);
    s->status.failed_restarts++;
    snprintf(s->status.reason, sizeof(s->status.reason), "%.100s; restart failed: %.130s", reason,
             e.msg);
    if (attempt + 1 == DOWN_AFTER)
        event_add(s, "signer.down",
                  "{\"reason\": \"%.200s\", \"restart\": \"%.250s\", \"attempts\": %d}", reason,
                  e.msg, attempt + 1);
    pthread_mutex_unlock(&s->lock);
    log_error("signer: DOWN, cannot be restarted (attempt %d): %s; signing is unavailable and "
              "vouchd is not ready until it is back",
              attempt + 1, e.msg);
    return -1;
}

/*
 * The supervisor: every second a sign of life on its own connection (a dead
 * signer's connection closes at once; a hung one does not answer within
 * hang_seconds); on a failure every call fails at once and the keeper starts
 * a new signer, again with backoff (1, 2, 4 ... 30 s) until one answers.
 */
static void *watcher_main(void *arg)
{
    struct signer *s = arg;
    char reason[200] = "";
    int64_t down_since = 0;
    int attempt = 0, delay = 1;
    struct err why;

    while (!watcher_wait(s, delay)) {
        delay = 1;
        if (attempt == 0 && reason[0] == '\0') {
            if (signer_alive(s, &why) == 0)
                continue;
            log_error("signer: %s (pid %d); restarting it", why.msg, (int)s->pid);
            json_safe(reason, sizeof(reason), why.msg);
            down_since = monotonic_ms();
            signer_down(s, why.msg);
        }
        if (watcher_restart(s, attempt, down_since, reason) == 0) {
            attempt = 0;
            reason[0] = '\0';
            continue;
        }
        attempt++;
        delay = attempt < 5 ? 1 << attempt : BACKOFF_MAX;
        if (delay > BACKOFF_MAX)
            delay = BACKOFF_MAX;
    }
    return NULL;
}

int signer_supervise(struct signer *s, int hang_seconds, struct err *e)
{
    pthread_mutex_lock(&s->lock);
    if (hang_seconds > 0)
        s->hang_seconds = hang_seconds;
    if (s->health >= 0)
        fd_timeout(s->health, s->hang_seconds);
    s->status.up = s->up;
    s->supervised = pthread_create(&s->watcher, NULL, watcher_main, s) == 0;
    pthread_mutex_unlock(&s->lock);
    return s->supervised ? 0 : err_set(e, ERR_INTERNAL, "signer: cannot start its supervisor");
}

void signer_status(struct signer *s, struct signer_status *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->status;
    st->up = s->up;
    pthread_mutex_unlock(&s->lock);
}

void signer_supervision_events(struct signer *s, struct signer_event **events, int *n)
{
    pthread_mutex_lock(&s->lock);
    *n = s->nevents;
    *events = NULL;
    if (s->nevents > 0) {
        *events = xmalloc((size_t)s->nevents * sizeof(**events));
        memcpy(*events, s->events, (size_t)s->nevents * sizeof(**events));
    }
    s->nevents = 0;
    pthread_mutex_unlock(&s->lock);
}

/* Sets e from an error reply's kind (its word) and message; returns -1. */
static int reply_error(const unsigned char *body, size_t len, struct err *e)
{
    char *status = wire_get_str(body, len, T_STATUS, 32),
         *msg = wire_get_str(body, len, T_MESSAGE, 500);
    enum err_kind kind = err_kind_parse(status);

    err_set(e, kind == ERR_NONE ? ERR_INTERNAL : kind, "%s", msg ? msg : "signer error");
    free(status);
    free(msg);
    return -1;
}

int signer_call(struct signer *s, uint32_t type, const struct buf *req, unsigned char **reply,
                size_t *reply_len, struct err *e)
{
    unsigned char *body = NULL;
    uint32_t rtype;
    size_t len;
    int fd = -1;
    int64_t start = metrics_now_ns();
    struct conn *c = conn_take(s, &fd);

    if (c == NULL) {
        metrics_signer_call(metrics_now_ns() - start, 1, 0);
        return err_set(e, ERR_UNAVAILABLE, "the signer is not running (restarting?)");
    }
    if (wire_send(fd, type, req) != 0 || wire_recv(fd, &rtype, &body, &len, WIRE_MAX_LARGE) != 0) {
        free(body);
        conn_give(s, c, fd, 1);
        metrics_signer_call(metrics_now_ns() - start, 1, 0);
        return err_set(e, ERR_UNAVAILABLE, "the signer did not answer");
    }
    conn_give(s, c, fd, 0);
    metrics_signer_call(metrics_now_ns() - start, 0, rtype != W_REPLY_OK);
    if (rtype != W_REPLY_OK) {
        reply_error(body, len, e);
        free(body);
        return -1;
    }
    *reply = body;
    *reply_len = len;
    return 0;
}

EVP_PKEY *pubkey_from_der(const unsigned char *der, size_t len)
{
    return d2i_PUBKEY(NULL, &der, (long)len);
}

/* The public key field of a reply; NULL with e set if missing. */
static EVP_PKEY *reply_pubkey(const unsigned char *body, size_t len, struct err *e)
{
    const unsigned char *d;
    size_t n;
    EVP_PKEY *k = NULL;

    if (wire_get(body, len, T_PUBKEY, 0, &d, &n) == 0)
        k = pubkey_from_der(d, n);
    if (k == NULL)
        err_set(e, ERR_INTERNAL, "signer: reply without a public key");
    return k;
}

/* A copy of a byte field of a reply (caller frees); -1 with e set if missing. */
static int reply_bytes(const unsigned char *body, size_t len, enum wire_tag tag,
                       unsigned char **out, size_t *out_len, struct err *e)
{
    const unsigned char *d;
    size_t n;

    if (wire_get(body, len, tag, 0, &d, &n) != 0)
        return err_set(e, ERR_INTERNAL, "signer: incomplete reply");
    *out = xmalloc(n > 0 ? n : 1);
    memcpy(*out, d, n);
    *out_len = n;
    return 0;
}

int signer_ping(struct signer *s, struct err *e)
{
    unsigned char *reply = NULL;
    size_t len;
    int rc = signer_call(s, W_PING, NULL, &reply, &len, e);

    free(reply);
    return rc;
}

int signer_health(struct signer *s, char *health, size_t hlen, struct err *e)
{
    unsigned char *reply = NULL;
    size_t len;
    char *h;
    int rc = signer_call(s, W_PING, NULL, &reply, &len, e);

    if (rc == 0) {
        h = wire_get_str(reply, len, T_HEALTH, 1000);
        snprintf(health, hlen, "%s", h ? h : "ok");
        free(h);
    }
    free(reply);
    return rc;
}

/* The index-th string field tag of a reply (at most max bytes, no NUL); NULL if absent. */
static char *reply_str_at(const unsigned char *body, size_t len, enum wire_tag tag, int index,
                          size_t max)
{
    const unsigned char *d;
    size_t n;

    if (wire_get(body, len, tag, index, &d, &n) != 0 || n > max || memchr(d, '\0', n) != NULL)
        return NULL;
    return xstrndup((const char *)d, n);
}

int signer_events(struct signer *s, struct signer_event **events, int *n, struct err *e)
{
    unsigned char *reply = NULL;
    size_t len;
    struct signer_event *ev = NULL;
    int count = 0;

    if (signer_call(s, W_EVENTS, NULL, &reply, &len, e) != 0)
        return -1;
    for (;;) {
        char *a = reply_str_at(reply, len, T_EVENT_ACTION, count, 64),
             *o = reply_str_at(reply, len, T_EVENT_OBJECT, count, 256),
             *d = reply_str_at(reply, len, T_EVENT_DETAIL, count, 4096);
        if (a == NULL || o == NULL || d == NULL) {
            free(a);
            free(o);
            free(d);
            break;
        }
        ev = xrealloc(ev, (size_t)(count + 1) * sizeof(*ev));
        ev[count++] = (struct signer_event){a, o, d};
    }
    free(reply);
    *events = ev;
    *n = count;
    return 0;
}

static void signer_events_free_in(struct signer_event *events, int n)
{
    for (int i = 0; i < n; i++) {
        free(events[i].action);
        free(events[i].object);
        free(events[i].detail);
    }
}

void signer_events_free(struct signer_event *events, int n)
{
    signer_events_free_in(events, n);
    free(events);
}

/* The key id and public key of a KEYGEN or IMPORT reply; -1 with e set. */
static int reply_key(const unsigned char *body, size_t len, char **key_id, EVP_PKEY **pub,
                     struct err *e)
{
    char *id = wire_get_str(body, len, T_KEY_ID, 64);
    EVP_PKEY *k;

    if (id == NULL)
        return err_set(e, ERR_INTERNAL, "signer: reply without a key id");
    if ((k = reply_pubkey(body, len, e)) == NULL) {
        free(id);
        return -1;
    }
    *key_id = id;
    *pub = k;
    return 0;
}

int signer_keygen(struct signer *s, const char *tenant, enum key_type type, char **key_id,
                  EVP_PKEY **pub, struct err *e)
{
    return signer_keygen_for(s, tenant, type, KEY_PURPOSE_NONE, key_id, pub, e);
}

int signer_bind(struct signer *s, const char *tenant, const char *key_id, enum key_purpose purpose,
                struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    int rc;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    wire_put_str(&req, T_PURPOSE, key_purpose_name(purpose));
    rc = signer_call(s, W_BIND, &req, &reply, &len, e);
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_keygen_for(struct signer *s, const char *tenant, enum key_type type,
                      enum key_purpose purpose, char **key_id, EVP_PKEY **pub, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    int rc;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_TYPE, key_type_name(type));
    if (purpose != KEY_PURPOSE_NONE)
        wire_put_str(&req, T_PURPOSE, key_purpose_name(purpose));
    rc = signer_call(s, W_KEYGEN, &req, &reply, &len, e);
    if (rc == 0)
        rc = reply_key(reply, len, key_id, pub, e);
    free(reply);
    buf_free(&req);
    return rc;
}

EVP_PKEY *signer_key(struct signer *s, const char *tenant, const char *key_id, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    EVP_PKEY *pub = NULL, *remote = NULL;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    if (signer_call(s, W_PUBKEY, &req, &reply, &len, e) == 0 &&
        (pub = reply_pubkey(reply, len, e)) != NULL)
        remote = remote_key_new(s, tenant, key_id, pub, e);
    EVP_PKEY_free(pub);
    free(reply);
    buf_free(&req);
    return remote;
}

int signer_sign(struct signer *s, const char *tenant, const char *key_id, const char *digest,
                const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
                struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t rlen;
    int rc;

    if (len > WIRE_MAX_SIGN - 1024)
        return err_set(e, ERR_TOO_LARGE, "sign: more than %d bytes", WIRE_MAX_SIGN - 1024);
    req.cap = len + 1024; /* one allocation, even for a CRL of many megabytes */
    req.data = xmalloc(req.cap);
    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    wire_put_str(&req, T_DIGEST, digest ? digest : "");
    wire_put(&req, T_DATA, data, len);
    rc = signer_call(s, W_SIGN, &req, &reply, &rlen, e);
    if (rc == 0)
        rc = reply_bytes(reply, rlen, T_SIGNATURE, sig, sig_len, e);
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_sign_tst(struct signer *s, const char *tenant, const char *key_id, const char *digest,
                    const unsigned char *tst, size_t tst_len, const unsigned char *cert,
                    size_t cert_len, const unsigned char *chain, size_t chain_len, int flags,
                    unsigned char **token, size_t *token_len, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t rlen;
    int rc;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    wire_put_str(&req, T_DIGEST, digest ? digest : "");
    wire_put(&req, T_DATA, tst, tst_len);
    wire_put(&req, T_CERT, cert, cert_len);
    if (chain != NULL && chain_len > 0)
        wire_put(&req, T_CHAIN, chain, chain_len);
    wire_put_u64(&req, T_FLAGS, (uint64_t)flags);
    if (req.len > WIRE_MAX_SMALL) {
        rc = err_set(e, ERR_TOO_LARGE, "time-stamp token: certificates too large");
    } else {
        rc = signer_call(s, W_SIGN_TST, &req, &reply, &rlen, e);
        if (rc == 0)
            rc = reply_bytes(reply, rlen, T_DATA, token, token_len, e);
    }
    free(reply);
    buf_free(&req);
    return rc;
}

/* The certificates of an IMPORT reply, in order (undecodable ones skipped). */
static STACK_OF(X509) * reply_certs(const unsigned char *body, size_t len)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    const unsigned char *d;
    size_t n;

    for (int i = 0; wire_get(body, len, T_CHAIN, i, &d, &n) == 0; i++) {
        X509 *x = d2i_X509(NULL, &d, (long)n);
        if (x != NULL)
            sk_X509_push(sk, x);
    }
    return sk;
}

int signer_import(struct signer *s, const char *tenant, enum signer_import_format format,
                  const unsigned char *blob, size_t len, const char *password, char **key_id,
                  EVP_PKEY **pub, STACK_OF(X509) * *certs, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t rlen;
    int rc;

    if (format != SIGNER_IMPORT_PKCS12 && format != SIGNER_IMPORT_PEM_KEY)
        return err_set(e, ERR_INVALID, "import: unknown format");
    if (len > WIRE_MAX_LARGE - 4096)
        return err_set(e, ERR_TOO_LARGE, "import: key blob larger than %d bytes",
                       WIRE_MAX_LARGE - 4096);
    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_FORMAT, format == SIGNER_IMPORT_PKCS12 ? "pkcs12" : "pem");
    wire_put(&req, T_BLOB, blob, len);
    if (password != NULL)
        wire_put_str(&req, T_PASSWORD, password);
    rc = signer_call(s, W_IMPORT, &req, &reply, &rlen, e);
    if (rc == 0)
        rc = reply_key(reply, rlen, key_id, pub, e);
    if (rc == 0 && certs != NULL)
        *certs = reply_certs(reply, rlen);
    free(reply);
    secure_zero(req.data, req.len);
    buf_free(&req);
    return rc;
}

int signer_delete(struct signer *s, const char *tenant, const char *key_id, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    int rc;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    rc = signer_call(s, W_DELETE, &req, &reply, &len, e);
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_webhook_new(struct signer *s, const char *tenant, const char *key_id, char **nonce_hex,
                       char **secret, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL, *nonce = NULL;
    size_t len, nonce_len = 0;
    char *text = NULL;
    int rc;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    rc = signer_call(s, W_WEBHOOK_NEW, &req, &reply, &len, e);
    if (rc == 0 && (reply_bytes(reply, len, T_BLOB, &nonce, &nonce_len, e) != 0 ||
                    (text = wire_get_str(reply, len, T_MESSAGE, 128)) == NULL)) {
        rc = err_set(e, ERR_INTERNAL, "signer: incomplete reply");
    }
    if (rc == 0) {
        *nonce_hex = hex_encode(nonce, nonce_len);
        *secret = text;
        text = NULL;
    }
    if (reply != NULL)
        secure_zero(reply, len);
    free(reply);
    free(nonce);
    free(text);
    buf_free(&req);
    return rc;
}

int signer_webhook_mac(struct signer *s, const char *tenant, const char *key_id,
                       const char *nonce_hex, const unsigned char *data, size_t data_len,
                       unsigned char **mac, size_t *mac_len, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL, *nonce;
    size_t len, nonce_len = 0;
    int rc;

    if (nonce_hex == NULL || (nonce = hex_decode(nonce_hex, &nonce_len)) == NULL)
        return err_set(e, ERR_INTERNAL, "webhook: stored nonce is malformed");
    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    wire_put(&req, T_BLOB, nonce, nonce_len);
    free(nonce);
    wire_put(&req, T_DATA, data, data_len);
    rc = signer_call(s, W_WEBHOOK_MAC, &req, &reply, &len, e);
    if (rc == 0)
        rc = reply_bytes(reply, len, T_SIGNATURE, mac, mac_len, e);
    free(reply);
    buf_free(&req);
    return rc;
}

/* The fields naming an EAB credential's key in a request. */
static void eab_ref_put(struct buf *req, const char *tenant, const struct signer_eab *ref)
{
    wire_put_str(req, T_TENANT, tenant);
    wire_put_str(req, T_KEY_ID, ref->key_id);
    wire_put_str(req, T_ENDPOINT, ref->endpoint);
    wire_put_str(req, T_KID, ref->kid);
}

int signer_eab_new(struct signer *s, const char *tenant, const struct signer_eab *ref,
                   char **nonce_hex, unsigned char key[SIGNER_EAB_KEY_LEN], struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    const unsigned char *nonce, *k;
    size_t len = 0, nonce_len = 0, key_len = 0;
    int rc;

    eab_ref_put(&req, tenant, ref);
    rc = signer_call(s, W_EAB_NEW, &req, &reply, &len, e);
    if (rc == 0 &&
        (wire_get(reply, len, T_BLOB, 0, &nonce, &nonce_len) != 0 || nonce_len != 32 ||
         wire_get(reply, len, T_SECRET, 0, &k, &key_len) != 0 || key_len != SIGNER_EAB_KEY_LEN))
        rc = err_set(e, ERR_INTERNAL, "signer: incomplete reply");
    if (rc == 0) {
        *nonce_hex = hex_encode(nonce, nonce_len);
        memcpy(key, k, SIGNER_EAB_KEY_LEN);
    }
    if (reply != NULL)
        secure_zero(reply, len);
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_eab_mac(struct signer *s, const char *tenant, const struct signer_eab *ref,
                   const char *digest, const unsigned char *data, size_t data_len,
                   unsigned char **mac, size_t *mac_len, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL, *nonce;
    size_t len = 0, nonce_len = 0;
    int rc;

    if (data_len > SIGNER_EAB_DATA_MAX)
        return err_set(e, ERR_TOO_LARGE, "EAB MAC: more than %d bytes", SIGNER_EAB_DATA_MAX);
    if (ref->nonce_hex == NULL || (nonce = hex_decode(ref->nonce_hex, &nonce_len)) == NULL)
        return err_set(e, ERR_INTERNAL, "EAB credential: stored nonce is malformed");
    eab_ref_put(&req, tenant, ref);
    wire_put(&req, T_BLOB, nonce, nonce_len);
    free(nonce);
    wire_put_str(&req, T_DIGEST, digest);
    wire_put(&req, T_DATA, data, data_len);
    rc = signer_call(s, W_EAB_MAC, &req, &reply, &len, e);
    if (rc == 0)
        rc = reply_bytes(reply, len, T_SIGNATURE, mac, mac_len, e);
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_cmp_secret(struct signer *s, const char *tenant, const struct signer_eab *ref,
                      char **nonce_hex, unsigned char secret[SIGNER_CMP_SECRET_LEN], struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL, *given = NULL;
    const unsigned char *nonce, *k;
    size_t len = 0, given_len = 0, nonce_len = 0, key_len = 0;
    int rc;

    if (ref->nonce_hex != NULL && (given = hex_decode(ref->nonce_hex, &given_len)) == NULL)
        return err_set(e, ERR_INTERNAL, "CMP shared secret: stored nonce is malformed");
    eab_ref_put(&req, tenant, ref);
    if (given != NULL)
        wire_put(&req, T_BLOB, given, given_len);
    free(given);
    rc = signer_call(s, W_CMP_SECRET, &req, &reply, &len, e);
    if (rc == 0 &&
        (wire_get(reply, len, T_BLOB, 0, &nonce, &nonce_len) != 0 || nonce_len != 32 ||
         wire_get(reply, len, T_SECRET, 0, &k, &key_len) != 0 || key_len != SIGNER_CMP_SECRET_LEN))
        rc = err_set(e, ERR_INTERNAL, "signer: incomplete reply");
    if (rc == 0) {
        if (nonce_hex != NULL)
            *nonce_hex = hex_encode(nonce, nonce_len);
        memcpy(secret, k, SIGNER_CMP_SECRET_LEN);
    }
    if (reply != NULL)
        secure_zero(reply, len);
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_ee_keygen(struct signer *s, const char *tenant, enum key_type type, uint64_t *handle,
                     EVP_PKEY **pub, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    uint64_t h = 0;
    EVP_PKEY *k = NULL;
    int rc;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_TYPE, key_type_name(type));
    rc = signer_call(s, W_EE_KEYGEN, &req, &reply, &len, e);
    if (rc == 0 && wire_get_u64(reply, len, T_HANDLE, &h) != 0)
        rc = err_set(e, ERR_INTERNAL, "signer: reply without a handle");
    if (rc == 0 && (k = reply_pubkey(reply, len, e)) == NULL)
        rc = -1;
    if (rc == 0) {
        *handle = h;
        *pub = k;
    }
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_ee_pkcs12(struct signer *s, const char *tenant, uint64_t handle, const char *password,
                     X509 *cert, STACK_OF(X509) * chain, unsigned char **out, size_t *out_len,
                     struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    int rc;

    if (password == NULL || cert == NULL)
        return err_set(e, ERR_INVALID, "pkcs12: a password and a certificate are needed");
    wire_put_str(&req, T_TENANT, tenant);
    wire_put_u64(&req, T_HANDLE, handle);
    wire_put_str(&req, T_PASSWORD, password);
    wire_put_x509(&req, T_CERT, cert);
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
        wire_put_x509(&req, T_CHAIN, sk_X509_value(chain, i));
    if (req.len > WIRE_MAX_SMALL) {
        rc = err_set(e, ERR_TOO_LARGE, "pkcs12: certificate chain too large");
    } else {
        rc = signer_call(s, W_EE_PKCS12, &req, &reply, &len, e);
        if (rc == 0)
            rc = reply_bytes(reply, len, T_PKCS12, out, out_len, e);
    }
    if (reply != NULL)
        secure_zero(reply, len);
    free(reply);
    secure_zero(req.data, req.len);
    buf_free(&req);
    return rc;
}

int signer_ee_pkcs8(struct signer *s, const char *tenant, uint64_t handle, X509 *cert,
                    unsigned char **out, size_t *out_len, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len = 0;
    int rc;

    if (cert == NULL)
        return err_set(e, ERR_INVALID, "pkcs8: a certificate is needed");
    wire_put_str(&req, T_TENANT, tenant);
    wire_put_u64(&req, T_HANDLE, handle);
    wire_put_x509(&req, T_CERT, cert);
    rc = signer_call(s, W_EE_PKCS8, &req, &reply, &len, e);
    if (rc == 0)
        rc = reply_bytes(reply, len, T_PKCS8, out, out_len, e);
    if (reply != NULL)
        secure_zero(reply, len);
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_key_list(struct signer *s, const char *tenant, struct signer_key_info **keys, int *n,
                    struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    struct signer_key_info *k = NULL;
    size_t len;
    int count = 0;

    wire_put_str(&req, T_TENANT, tenant);
    if (signer_call(s, W_KEYLIST, &req, &reply, &len, e) != 0) {
        buf_free(&req);
        return -1;
    }
    for (;;) {
        char *id = reply_str_at(reply, len, T_KEY_ID, count, 64),
             *type = reply_str_at(reply, len, T_KEY_TYPE, count, 32);
        if (id == NULL || type == NULL) {
            free(id);
            free(type);
            break;
        }
        char *purpose = reply_str_at(reply, len, T_PURPOSE, count, 32);
        k = xrealloc(k, (size_t)(count + 1) * sizeof(*k));
        k[count++] = (struct signer_key_info){id, type, purpose ? purpose : xstrdup("none")};
    }
    free(reply);
    buf_free(&req);
    *keys = k;
    *n = count;
    return 0;
}

void signer_key_list_free(struct signer_key_info *keys, int n)
{
    for (int i = 0; i < n; i++) {
        free(keys[i].key_id);
        free(keys[i].key_type);
        free(keys[i].purpose);
    }
    free(keys);
}

int signer_ra_decrypt(struct signer *s, const char *tenant, const char *key_id,
                      const unsigned char *in, size_t len, unsigned char *key, size_t key_len,
                      struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    const unsigned char *k;
    size_t rlen = 0, n = 0;
    int rc;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    wire_put(&req, T_DATA, in, len);
    wire_put_u64(&req, T_FLAGS, (uint64_t)key_len);
    rc = signer_call(s, W_RA_DECRYPT, &req, &reply, &rlen, e);
    if (rc == 0 && (wire_get(reply, rlen, T_SECRET, 0, &k, &n) != 0 || n != key_len))
        rc = err_set(e, ERR_INTERNAL, "signer: incomplete reply");
    if (rc == 0)
        memcpy(key, k, key_len);
    if (reply != NULL)
        secure_zero(reply, rlen);
    free(reply);
    buf_free(&req);
    return rc;
}
