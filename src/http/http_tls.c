/*
 * http_tls.c — loading the server's certificate and key.  libmicrohttpd
 * serves TLS with GnuTLS; the pair is handed to GnuTLS by a certificate
 * callback, per handshake, so that a new pair (SIGHUP) serves the next
 * handshake without a restart.  OpenSSL is used here only to check the pair
 * first, so that a wrong file gives a clear error rather than a GnuTLS code
 * in the log.
 */
#include "http/http_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define TLS_FILE_MAX (1024 * 1024)

unsigned char *http_tls_peer_cert(void *mhd_connection, size_t *len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mhd_connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const gnutls_datum_t *peers;
    unsigned int n = 0;
    unsigned char *der;

    if (ci == NULL || ci->tls_session == NULL)
        return NULL;
    peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
    if (peers == NULL || n == 0 || peers[0].size == 0 || peers[0].size > TLS_FILE_MAX)
        return NULL;
    der = xmalloc(peers[0].size);
    memcpy(der, peers[0].data, peers[0].size);
    *len = peers[0].size;
    return der;
}

/* A passphrase callback that refuses, so that an encrypted key fails instead of prompting. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Parses the first certificate of pem; NULL with e set. The caller frees it. */
static X509 *cert_parse(const char *pem, size_t len, const char *file, struct err *e)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;

    BIO_free(bio);
    if (cert == NULL)
        err_ossl(e, ERR_INTERNAL, "tls_cert_file %s: no PEM certificate", file);
    return cert;
}

/* Parses the private key of pem; NULL with e set. The caller frees it. */
static EVP_PKEY *key_parse(const char *pem, size_t len, const char *file, struct err *e)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;

    BIO_free(bio);
    if (key == NULL)
        err_ossl(e, ERR_INTERNAL, "tls_key_file %s: no unencrypted PEM private key", file);
    return key;
}

/* Checks that cert and key parse and belong together; 0 ok, -1 with e set. */
static int tls_pair_check(const struct http_tls *t, size_t cert_len, const char *cert_file,
                          const char *key_file, struct err *e)
{
    X509 *cert = cert_parse(t->cert_pem, cert_len, cert_file, e);
    EVP_PKEY *key = cert ? key_parse(t->key_pem, t->key_len, key_file, e) : NULL;
    int rc = -1;

    if (cert != NULL && key != NULL) {
        if (X509_check_private_key(cert, key) == 1)
            rc = 0;
        else
            err_ossl(e, ERR_INTERNAL, "tls_key_file %s does not match tls_cert_file %s", key_file,
                     cert_file);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    ERR_clear_error();
    return rc;
}

int http_tls_load(const char *cert_file, const char *key_file, struct http_tls *out, struct err *e)
{
    struct http_tls t = {0};
    size_t cert_len;

    t.cert_pem = (char *)file_read(cert_file, TLS_FILE_MAX, &cert_len, e);
    if (t.cert_pem == NULL)
        return -1;
    t.key_pem = (char *)file_read(key_file, TLS_FILE_MAX, &t.key_len, e);
    if (t.key_pem == NULL || tls_pair_check(&t, cert_len, cert_file, key_file, e) != 0) {
        http_tls_free(&t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- credentials served by the certificate callback ------------------------------ */

#define CHAIN_MAX 16

struct http_tls_creds {
    gnutls_pcert_st pcerts[CHAIN_MAX];
    unsigned int n;
    gnutls_privkey_t key;
    struct http_tls_creds *older; /* replaced ones, kept while a handshake may use them */
};

/*
 * What the callback serves.  The callback has no argument of its own, so
 * there is one TLS listener per process (the API's): http_tls_serve refuses
 * a second.
 */
static _Atomic(struct http_tls_creds *) serving;

void http_tls_creds_free(struct http_tls_creds *c)
{
    while (c != NULL) {
        struct http_tls_creds *older = c->older;
        for (unsigned int i = 0; i < c->n; i++)
            gnutls_pcert_deinit(&c->pcerts[i]);
        if (c->key != NULL)
            gnutls_privkey_deinit(c->key);
        free(c);
        c = older;
    }
}

int http_tls_creds_new(const struct http_tls *t, struct http_tls_creds **out, struct err *e)
{
    struct http_tls_creds *c = xcalloc(1, sizeof(*c));
    gnutls_datum_t cert = {(unsigned char *)t->cert_pem, (unsigned int)strlen(t->cert_pem)};
    gnutls_datum_t key = {(unsigned char *)t->key_pem, (unsigned int)t->key_len};
    int rc;

    c->n = CHAIN_MAX;
    rc = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->n, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        c->n = 0;
    } else if ((rc = gnutls_privkey_init(&c->key)) >= 0) {
        rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    }
    if (rc < 0) {
        http_tls_creds_free(c);
        return err_set(e, ERR_INTERNAL, "TLS: GnuTLS does not take the pair: %s",
                       gnutls_strerror(rc));
    }
    *out = c;
    return 0;
}

int http_tls_serve(struct http_tls_creds *c, int first, struct err *e)
{
    struct http_tls_creds *old = atomic_load(&serving);

    if (first && old != NULL)
        return err_set(e, ERR_INTERNAL, "http: one TLS listener per process");
    c->older = old;
    atomic_store(&serving, c);
    return 0;
}

void http_tls_unserve(void)
{
    http_tls_creds_free(atomic_exchange(&serving, NULL));
}

int http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    struct http_tls_creds *c = atomic_load(&serving);

    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (c == NULL)
        return -1;
    *pcert = c->pcerts;
    *pcert_length = c->n;
    *pkey = c->key;
    return 0;
}

int http_tls_priorities_check(const char *priorities, struct err *e)
{
    gnutls_priority_t cache;
    const char *where = NULL;
    int rc = gnutls_priority_init(&cache, priorities, &where);

    if (rc != GNUTLS_E_SUCCESS)
        return err_set(e, ERR_INVALID, "tls_priorities: %s at \"%.40s\"", gnutls_strerror(rc),
                       where ? where : priorities);
    gnutls_priority_deinit(cache);
    return 0;
}

void http_tls_free(struct http_tls *tls)
{
    if (tls->key_pem != NULL)
        secure_zero(tls->key_pem, tls->key_len);
    free(tls->key_pem);
    free(tls->cert_pem);
    memset(tls, 0, sizeof(*tls));
}
