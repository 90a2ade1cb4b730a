/*
 * sign_rate.c — raw signing rate through the signer process: THREADS client
 * threads each sending SIGN requests (a P-256 key, SHA-256, one small
 * TBSCertificate) for SECONDS, with the software key store or a PKCS#11
 * token.  Prints signatures per second.  A benchmark, not a test.
 *
 *   sign_rate soft DIR SECONDS THREADS
 *   sign_rate pkcs11 MODULE TOKEN PIN_FILE SECONDS THREADS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "keys/keys.h"
#include "keys/signer_internal.h"

static struct signer *signer;
static char *key_id;
static unsigned char *tbs;
static int tbs_len;
static volatile int stop;

struct counter {
    pthread_t t;
    long ok, failed;
};

static void *sign_loop(void *arg)
{
    struct counter *c = arg;
    unsigned char *sig;
    size_t len;
    struct err e;

    while (!stop) {
        if (signer_sign(signer, "bench", key_id, "SHA256", tbs, (size_t)tbs_len, &sig, &len, &e) ==
            0) {
            free(sig);
            c->ok++;
        } else {
            c->failed++;
        }
    }
    return NULL;
}

/* The DER of a small TBSCertificate, what the signer agrees to sign. */
static void tbs_make(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();

    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_sign(x, k, EVP_sha256());
    tbs_len = i2d_re_X509_tbs(x, &tbs);
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(k);
}

int main(int argc, char **argv)
{
    struct signer_config cfg = {0};
    int seconds, threads, i = 2;
    char kek[512];
    struct counter *c;
    EVP_PKEY *pub = NULL;
    struct err e;
    long ok = 0, failed = 0;

    if (argc == 5 && strcmp(argv[1], "soft") == 0) {
        snprintf(kek, sizeof(kek), "%s/kek", argv[2]);
        FILE *f = fopen(kek, "w");
        if (f == NULL)
            return 1;
        fputs("0123456789abcdef0123456789abcdef\n", f);
        fclose(f);
        cfg.keystore_dir = argv[2];
        cfg.kek_path = kek;
        i = 3;
    } else if (argc == 7 && strcmp(argv[1], "pkcs11") == 0) {
        cfg.keystore_type = "pkcs11";
        cfg.pkcs11_module = argv[2];
        cfg.pkcs11_token_label = argv[3];
        cfg.pkcs11_pin_file = argv[4];
        i = 5;
    } else {
        fprintf(stderr, "usage: sign_rate soft DIR SECONDS THREADS\n"
                        "       sign_rate pkcs11 MODULE TOKEN PIN_FILE SECONDS THREADS\n");
        return 2;
    }
    seconds = atoi(argv[i]);
    threads = atoi(argv[i + 1]);
    cfg.connections = threads;
    if ((signer = signer_start(&cfg, &e)) == NULL ||
        signer_keygen(signer, "bench", KEY_EC_P256, &key_id, &pub, &e) != 0) {
        fprintf(stderr, "sign_rate: %s\n", e.msg);
        return 1;
    }
    tbs_make();
    c = calloc((size_t)threads, sizeof(*c));
    for (int t = 0; t < threads; t++)
        pthread_create(&c[t].t, NULL, sign_loop, &c[t]);
    sleep((unsigned)seconds);
    stop = 1;
    for (int t = 0; t < threads; t++) {
        pthread_join(c[t].t, NULL);
        ok += c[t].ok;
        failed += c[t].failed;
    }
    printf("%s: %.0f signatures/s (%d client threads, %ld failed)\n", argv[1], (double)ok / seconds,
           threads, failed);
    signer_delete(signer, "bench", key_id, &e);
    signer_stop(signer);
    EVP_PKEY_free(pub);
    free(key_id);
    OPENSSL_free(tbs);
    free(c);
    return failed ? 1 : 0;
}
