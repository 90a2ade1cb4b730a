/*
 * cmp_load.c — a load generator for CMP servers (RFC 4210 over HTTP, RFC
 * 6712), written for bench/cmp.sh: CLIENTS threads, each enrolling in a loop
 * for SECONDS with OpenSSL's own CMP client (OSSL_CMP_exec_IR_ses): an ir
 * under PasswordBasedMac with a shared secret, implicit confirm asked, one
 * P-256 key for every request (made once, or read from -K: the client's key
 * handling is not what is measured; a mock server that returns a fixed
 * certificate needs the key of that certificate).  Prints enrollments per second and their latency.
 * A benchmark, not a test: it asserts nothing.
 *
 *   cmp_load -s HOST -p PORT -a PATH -r REFERENCE -k SECRET [-K KEY.pem] [-n CLIENTS]
 *            [-t SECONDS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

struct options {
    const char *host, *path, *ref, *secret, *keyfile;
    int port, clients, seconds;
};

struct worker {
    pthread_t thread;
    const struct options *o;
    EVP_PKEY *key;
    double deadline;
    long done, failed;
    double latency; /* sum, seconds */
};

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A client context for one enrollment; NULL on failure. */
static OSSL_CMP_CTX *client_new(const struct options *o, EVP_PKEY *key, int n)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
    X509_NAME *name = X509_NAME_new();
    char cn[64];
    int ok;

    snprintf(cn, sizeof(cn), "load-%d", n);
    ok =
        ctx != NULL && name != NULL &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) == 1 &&
        OSSL_CMP_CTX_set1_server(ctx, o->host) == 1 &&
        OSSL_CMP_CTX_set_serverPort(ctx, o->port) == 1 &&
        OSSL_CMP_CTX_set1_serverPath(ctx, o->path) == 1 &&
        OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)o->ref, strlen(o->ref)) == 1 &&
        OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)o->secret, strlen(o->secret)) ==
            1 &&
        OSSL_CMP_CTX_set1_recipient(ctx, name) == 1 &&
        OSSL_CMP_CTX_set1_subjectName(ctx, name) == 1 && EVP_PKEY_up_ref(key) == 1 &&
        OSSL_CMP_CTX_set0_newPkey(ctx, 1, key) == 1 &&
        OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, 1) == 1 &&
        OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_ERRORS, 1) == 1 &&
        OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT, 30) == 1 &&
        OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_EMERG) == 1;
    X509_NAME_free(name);
    if (!ok) {
        OSSL_CMP_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    int n = 0;

    while (now() < w->deadline) {
        OSSL_CMP_CTX *ctx = client_new(w->o, w->key, n++);
        double t0 = now();
        X509 *cert = ctx ? OSSL_CMP_exec_IR_ses(ctx) : NULL;

        if (cert != NULL) {
            w->done++;
            w->latency += now() - t0;
        } else {
            w->failed++;
        }
        ERR_clear_error();
        OSSL_CMP_CTX_free(ctx);
    }
    return NULL;
}

static EVP_PKEY *key_read(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

    if (f != NULL)
        fclose(f);
    return key;
}

static int options_read(int argc, char **argv, struct options *o)
{
    int c;

    *o = (struct options){.clients = 16, .seconds = 10};
    while ((c = getopt(argc, argv, "s:p:a:r:k:K:n:t:")) != -1) {
        switch (c) {
        case 's':
            o->host = optarg;
            break;
        case 'p':
            o->port = atoi(optarg);
            break;
        case 'a':
            o->path = optarg;
            break;
        case 'r':
            o->ref = optarg;
            break;
        case 'k':
            o->secret = optarg;
            break;
        case 'K':
            o->keyfile = optarg;
            break;
        case 'n':
            o->clients = atoi(optarg);
            break;
        case 't':
            o->seconds = atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    return o->host && o->path && o->ref && o->secret && o->port > 0 && o->clients > 0 &&
                   o->clients <= 1024 && o->seconds > 0
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    struct options o;
    struct worker *w;
    EVP_PKEY *key;
    long done = 0, failed = 0;
    double latency = 0, t0;

    if (options_read(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: cmp_load -s HOST -p PORT -a PATH -r REFERENCE -k SECRET "
                        "[-n CLIENTS] [-t SECONDS]\n");
        return 2;
    }
    key = o.keyfile ? key_read(o.keyfile) : EVP_EC_gen("P-256");
    if (key == NULL || (w = calloc((size_t)o.clients, sizeof(*w))) == NULL)
        return 1;
    t0 = now();
    for (int i = 0; i < o.clients; i++) {
        w[i] = (struct worker){.o = &o, .key = key, .deadline = t0 + o.seconds};
        if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0)
            return 1;
    }
    for (int i = 0; i < o.clients; i++) {
        pthread_join(w[i].thread, NULL);
        done += w[i].done;
        failed += w[i].failed;
        latency += w[i].latency;
    }
    printf("%ld enrollments in %.1f s: %.1f/s, mean latency %.1f ms, %ld failed\n", done,
           now() - t0, (double)done / (now() - t0), done ? latency * 1e3 / (double)done : 0.0,
           failed);
    free(w);
    EVP_PKEY_free(key);
    return 0;
}
