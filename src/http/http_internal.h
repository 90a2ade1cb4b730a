/*
 * http_internal.h — what the files of src/http share and nothing else sees.
 */
#ifndef VOUCH_HTTP_INTERNAL_H
#define VOUCH_HTTP_INTERNAL_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "http/http.h"

/*
 * Decodes the path of a request target ("/a%20b/c?x=1" → "/a b/c") once.
 * Refuses (400, e set) a target that is not an absolute path, a bad
 * percent-escape, an encoded '/', a control character (NUL included) and any
 * "." or ".." segment.  On success *out is a new string the caller frees.
 */
int http_path_decode(const char *target, char **out, struct err *e);

/*
 * Writes into allow (size len) the methods, comma-separated, of the routes
 * whose pattern matches path, HEAD included when GET is there.  Returns the
 * number of methods.
 */
int http_route_allow(const struct http_route *routes, size_t nroutes, const char *path, char *allow,
                     size_t len);

/* A certificate chain and private key in PEM, as libmicrohttpd takes them. */
struct http_tls {
    char *cert_pem;
    char *key_pem; /* secret: wiped by http_tls_free */
    size_t key_len;
};

/*
 * Reads cert_file and key_file and checks with OpenSSL that they parse and
 * that the key belongs to the (first) certificate, so that a bad pair is
 * reported clearly at start-up.  0 with *out filled (release with
 * http_tls_free), or -1 with e naming the file and the problem.
 */
int http_tls_load(const char *cert_file, const char *key_file, struct http_tls *out, struct err *e);
/*
 * The DER of the TLS peer's (first) certificate on an MHD connection, as
 * sent and not verified; NULL if none (or not TLS).  The caller frees it.
 */
unsigned char *http_tls_peer_cert(void *mhd_connection, size_t *len);
/* Wipes the key and frees both; accepts a zeroed struct. */
void http_tls_free(struct http_tls *tls);

/*
 * The pair as GnuTLS serves it, made from a loaded http_tls (which the
 * caller still frees): 0 with *out set, or -1 with e set.
 */
struct http_tls_creds;
int http_tls_creds_new(const struct http_tls *t, struct http_tls_creds **out, struct err *e);
/* Frees c and the credentials it replaced; accepts NULL. */
void http_tls_creds_free(struct http_tls_creds *c);
/*
 * Serves c (taken) from the next handshake on; the credentials it replaces
 * are kept until http_tls_unserve.  first: a new listener, refused (-1, e
 * set) while another serves.
 */
int http_tls_serve(struct http_tls_creds *c, int first, struct err *e);
/* Stops serving and frees every credential served (after the daemon stopped). */
void http_tls_unserve(void);
/* MHD_OPTION_HTTPS_CERT_CALLBACK: the credentials served now. */
int http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);

/*
 * The client of a request that trusted proxy sent with X-Forwarded-For value
 * xff (every such header's values, joined with commas, in order): the
 * right-most entry that is not one of proxies, else the left-most entry,
 * written into client (size len) in canonical form.  0 if one was found, 1 if
 * the header names no address (the peer stays the client), -1 with e (400)
 * if an entry read on the way is not an IP address.
 */
int http_forwarded_client(const struct netaddr *proxies, size_t n, const char *xff, char *client,
                          size_t len, struct err *e);

#endif
