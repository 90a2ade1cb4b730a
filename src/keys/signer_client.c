/*
 * signer_client.c — the network process's side of the signer: starting it,
 * a pool of connections, and the typed calls of keys.h.
 */
#include "keys/signer_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509.h>

struct conn {
    int fd;
    int busy;
};

struct signer {
    pid_t pid;
    int n;
    struct conn *conns;
    pthread_mutex_t lock;
    pthread_cond_t freed;
};

struct signer *signer_start(const struct signer_config *cfg, struct err *e)
{
    int n = cfg->connections > 0 ? cfg->connections : 4;
    int *child_fds = xcalloc((size_t)n, sizeof(int));
    struct signer *s;
    pid_t pid;

    if (access(cfg->kek_path, R_OK) != 0) {
        free(child_fds);
        err_set(e, 500, ERR_INTERNAL, "kek_file %s: %s", cfg->kek_path, strerror(errno));
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->n = n;
    s->conns = xcalloc((size_t)n, sizeof(*s->conns));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    for (int i = 0; i < n; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            abort(); /* out of descriptors at start-up */
        s->conns[i].fd = sv[0];
        child_fds[i] = sv[1];
    }
    if ((pid = fork()) < 0) {
        err_set(e, 500, ERR_INTERNAL, "fork: %s", strerror(errno));
        signer_stop(s);
        free(child_fds);
        return NULL;
    }
    if (pid == 0) {
        for (int i = 0; i < n; i++)
            close(s->conns[i].fd);
        signer_child_main(cfg, child_fds, n);
    }
    for (int i = 0; i < n; i++)
        close(child_fds[i]);
    free(child_fds);
    s->pid = pid;
    if (signer_ping(s, e) != 0) {
        err_set(e, 500, ERR_INTERNAL, "the signer did not start (its reason is logged above)");
        signer_stop(s);
        return NULL;
    }
    return s;
}

void signer_stop(struct signer *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->n; i++)
        if (s->conns[i].fd >= 0)
            close(s->conns[i].fd);
    if (s->pid > 0)
        waitpid(s->pid, NULL, 0);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->lock);
    free(s->conns);
    free(s);
}

static struct conn *conn_take(struct signer *s)
{
    struct conn *c = NULL;

    pthread_mutex_lock(&s->lock);
    while (c == NULL) {
        for (int i = 0; i < s->n && c == NULL; i++)
            if (!s->conns[i].busy && s->conns[i].fd >= 0)
                c = &s->conns[i];
        if (c == NULL) {
            int alive = 0;
            for (int i = 0; i < s->n; i++)
                alive += s->conns[i].fd >= 0;
            if (!alive)
                break;
            pthread_cond_wait(&s->freed, &s->lock);
        }
    }
    if (c != NULL)
        c->busy = 1;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static void conn_give(struct signer *s, struct conn *c, int broken)
{
    pthread_mutex_lock(&s->lock);
    if (broken) {
        close(c->fd);
        c->fd = -1;
    }
    c->busy = 0;
    pthread_cond_broadcast(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

static int reply_error(const unsigned char *body, size_t len, struct err *e)
{
    char *status = wire_get_str(body, len, T_STATUS, 8),
         *msg = wire_get_str(body, len, T_MESSAGE, 500);
    int code = status ? atoi(status) : 500;
    const char *word = code == 400   ? ERR_BAD_REQUEST
                       : code == 404 ? ERR_NOT_FOUND
                       : code == 413 ? ERR_TOO_LARGE
                       : code == 503 ? ERR_UNAVAILABLE
                                     : ERR_INTERNAL;

    err_set(e, code, word, "%s", msg ? msg : "signer error");
    free(status);
    free(msg);
    return -1;
}

int signer_call(struct signer *s, uint32_t type, const struct buf *req, unsigned char **reply,
                size_t *reply_len, struct err *e)
{
    struct conn *c = conn_take(s);
    unsigned char *body = NULL;
    uint32_t rtype;
    size_t len;
    int rc;

    if (c == NULL)
        return err_set(e, 503, ERR_UNAVAILABLE, "the signer is not running");
    if (wire_send(c->fd, type, req) != 0 ||
        (rc = wire_recv(c->fd, &rtype, &body, &len, WIRE_MAX_LARGE)) != 0) {
        conn_give(s, c, 1);
        return err_set(e, 503, ERR_UNAVAILABLE, "the signer did not answer");
    }
    conn_give(s, c, 0);
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
        err_set(e, 500, ERR_INTERNAL, "signer: reply without a public key");
    return k;
}

int signer_ping(struct signer *s, struct err *e)
{
    unsigned char *reply = NULL;
    size_t len;
    int rc = signer_call(s, W_PING, NULL, &reply, &len, e);

    free(reply);
    return rc;
}

int signer_keygen(struct signer *s, const char *tenant, enum key_type type, char **key_id,
                  EVP_PKEY **pub, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    char *id = NULL;
    EVP_PKEY *k = NULL;
    int rc = -1;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_TYPE, key_type_name(type));
    if (signer_call(s, W_KEYGEN, &req, &reply, &len, e) == 0 &&
        (id = wire_get_str(reply, len, T_KEY_ID, 64)) != NULL &&
        (k = reply_pubkey(reply, len, e)) != NULL) {
        *key_id = id;
        *pub = k;
        id = NULL;
        rc = 0;
    }
    free(id);
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
    unsigned char *reply = NULL, *out;
    const unsigned char *d;
    size_t rlen, n;
    int rc = -1;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_ID, key_id);
    wire_put_str(&req, T_DIGEST, digest ? digest : "");
    wire_put(&req, T_DATA, data, len);
    if (signer_call(s, W_SIGN, &req, &reply, &rlen, e) == 0) {
        if (wire_get(reply, rlen, T_SIGNATURE, 0, &d, &n) == 0) {
            out = xmalloc(n);
            memcpy(out, d, n);
            *sig = out;
            *sig_len = n;
            rc = 0;
        } else {
            err_set(e, 500, ERR_INTERNAL, "signer: reply without a signature");
        }
    }
    free(reply);
    buf_free(&req);
    return rc;
}

int signer_import(struct signer *s, const char *tenant, enum signer_import_format format,
                  const unsigned char *blob, size_t len, const char *password, char **key_id,
                  EVP_PKEY **pub, STACK_OF(X509) * *certs, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    const unsigned char *d;
    size_t rlen, n;
    STACK_OF(X509) *sk = NULL;
    char *id = NULL;
    EVP_PKEY *k = NULL;
    int rc = -1;

    if (len > WIRE_MAX_LARGE - 4096)
        return err_set(e, 413, ERR_TOO_LARGE, "import: key blob too large");
    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_FORMAT, format == SIGNER_IMPORT_PKCS12 ? "pkcs12" : "pem");
    wire_put(&req, T_BLOB, blob, len);
    if (password != NULL)
        wire_put_str(&req, T_PASSWORD, password);
    if (signer_call(s, W_IMPORT, &req, &reply, &rlen, e) != 0)
        goto out;
    if ((id = wire_get_str(reply, rlen, T_KEY_ID, 64)) == NULL ||
        (k = reply_pubkey(reply, rlen, e)) == NULL)
        goto out;
    sk = sk_X509_new_null();
    for (int i = 0; wire_get(reply, rlen, T_CHAIN, i, &d, &n) == 0; i++) {
        X509 *x = d2i_X509(NULL, &d, (long)n);
        if (x != NULL)
            sk_X509_push(sk, x);
    }
    *key_id = id;
    *pub = k;
    if (certs != NULL)
        *certs = sk;
    else
        sk_X509_pop_free(sk, X509_free);
    id = NULL;
    k = NULL;
    rc = 0;
out:
    free(id);
    EVP_PKEY_free(k);
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

int signer_ee_keygen(struct signer *s, const char *tenant, enum key_type type, uint64_t *handle,
                     EVP_PKEY **pub, struct err *e)
{
    struct buf req = {0};
    unsigned char *reply = NULL;
    size_t len;
    EVP_PKEY *k;
    int rc = -1;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_str(&req, T_KEY_TYPE, key_type_name(type));
    if (signer_call(s, W_EE_KEYGEN, &req, &reply, &len, e) == 0) {
        if (wire_get_u64(reply, len, T_HANDLE, handle) != 0)
            err_set(e, 500, ERR_INTERNAL, "signer: reply without a handle");
        else if ((k = reply_pubkey(reply, len, e)) != NULL) {
            *pub = k;
            rc = 0;
        }
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
    const unsigned char *d;
    size_t len, n;
    int rc = -1;

    wire_put_str(&req, T_TENANT, tenant);
    wire_put_u64(&req, T_HANDLE, handle);
    wire_put_str(&req, T_PASSWORD, password);
    wire_put_x509(&req, T_CERT, cert);
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
        wire_put_x509(&req, T_CHAIN, sk_X509_value(chain, i));
    if (signer_call(s, W_EE_PKCS12, &req, &reply, &len, e) == 0) {
        if (wire_get(reply, len, T_PKCS12, 0, &d, &n) == 0) {
            *out = xmalloc(n);
            memcpy(*out, d, n);
            *out_len = n;
            rc = 0;
        } else {
            err_set(e, 500, ERR_INTERNAL, "signer: reply without a PKCS#12");
        }
    }
    free(reply);
    secure_zero(req.data, req.len);
    buf_free(&req);
    return rc;
}
