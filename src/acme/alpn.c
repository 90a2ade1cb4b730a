/*
 * alpn.c — the tls-alpn-01 challenge (RFC 8737; RFC 8738 §6 for IP
 * identifiers) with OpenSSL.
 *
 * A TLS 1.2+ connection to tls_port of the first allowed address that
 * accepts one, SNI the name (an IP identifier's reverse name, "in-addr.arpa"
 * or "ip6.arpa"), ALPN offering only "acme-tls/1".  The server must select
 * acme-tls/1 and present a certificate whose subjectAltName holds exactly the
 * identifier and whose critical id-pe-acmeIdentifier extension is the DER
 * OCTET STRING of SHA-256(key authorization) (§3).  The certificate is not
 * verified against any trust anchor, and its self-signature is not checked:
 * RFC 8737 asks the client for a self-signed certificate but the proof is the
 * extension, which only the holder of the account key could compute.
 */
#include "acme/validate_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define ACME_TLS_1          "acme-tls/1"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31" /* id-pe-acmeIdentifier (RFC 8737 §6.1) */

static const unsigned char alpn_offer[] = "\x0a" ACME_TLS_1;

/* Waits until fd is ready for events; 1 ready, 0 not within timeout_ms. */
static int fd_wait(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;

    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    return r > 0;
}

/* A TCP connection to a:port within the connect timeout; the socket, or -1 with why. */
static int tcp_connect(const struct vctx *x, const struct netaddr *a, int port, char *why,
                       size_t why_len)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    int fd, err = 0, wait = vctx_connect_left(x);
    socklen_t len = sizeof(err);

    memcpy(&in.sin_addr, a->addr, 4);
    memcpy(&in6.sin6_addr, a->addr, 16);
    if ((fd = socket(a->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) <
        0)
        return snprintf(why, why_len, "socket: %s", strerror(errno)), -1;
    if ((a->v6 ? connect(fd, (struct sockaddr *)&in6, sizeof(in6))
               : connect(fd, (struct sockaddr *)&in, sizeof(in))) != 0 &&
        errno != EINPROGRESS)
        err = errno;
    else if (!fd_wait(fd, POLLOUT, wait))
        err = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        close(fd);
        snprintf(why, why_len, "%s", err == ETIMEDOUT ? "no connection in time" : strerror(err));
        return -1;
    }
    return fd;
}

/* Runs the handshake until the deadline: 0, or -1 with why. */
static int tls_handshake(const struct vctx *x, SSL *ssl, int fd, char *why, size_t why_len)
{
    char ossl[200];

    for (;;) {
        int r, err, left;
        short ev;

        ERR_clear_error();
        if ((r = SSL_connect(ssl)) == 1)
            return 0;
        err = SSL_get_error(ssl, r);
        ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            ossl_error_string(ossl, sizeof(ossl));
            snprintf(why, why_len, "TLS handshake failed: %s",
                     ossl[0] ? ossl : "the connection was closed");
            return -1;
        }
        if ((left = vctx_left(x)) == 0 || !fd_wait(fd, ev, left)) {
            snprintf(why, why_len, "no TLS handshake within %d ms", x->v->timeout_ms);
            return -1;
        }
    }
}

/* The SNI for t: the name, or an IP address's reverse name (RFC 8738 §6). */
static void sni_name(const struct target *t, char *out, size_t len)
{
    const unsigned char *a = t->addrs[0].addr;
    size_t used = 0;

    if (!t->is_ip) {
        snprintf(out, len, "%s", t->host);
    } else if (!t->addrs[0].v6) {
        snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
    } else {
        for (int i = 15; i >= 0 && used < len; i--)
            used += (size_t)snprintf(out + used, len - used, "%x.%x.", a[i] & 0xf, a[i] >> 4);
        snprintf(out + used, len - used, "ip6.arpa");
    }
}

/* ---- the certificate -------------------------------------------------------------- */

/* Whether the single subjectAltName entry is the identifier (RFC 8737 §3); 0, or -1 with why. */
static int san_check(X509 *cert, const struct target *t, char *why, size_t why_len)
{
    int crit = -1, ok = 0, n;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    const GENERAL_NAME *g;
    const unsigned char *data;
    size_t len, want = t->addrs[0].v6 ? 16 : 4;

    if (names == NULL)
        return snprintf(why, why_len, "%s",
                        crit == -2 ? "more than one subjectAltName extension"
                                   : "no subjectAltName"),
               -1;
    if ((n = sk_GENERAL_NAME_num(names)) != 1) {
        GENERAL_NAMES_free(names);
        return snprintf(why, why_len, "%d subjectAltName entries, expected only %s %s", n,
                        t->is_ip ? "IP" : "DNS", t->host),
               -1;
    }
    g = sk_GENERAL_NAME_value(names, 0);
    if (!t->is_ip && g->type == GEN_DNS) {
        data = ASN1_STRING_get0_data(g->d.dNSName);
        len = (size_t)ASN1_STRING_length(g->d.dNSName);
        ok = len == strlen(t->host) && strncasecmp((const char *)data, t->host, len) == 0;
        if (!ok)
            snprintf(why, why_len, "its subjectAltName is DNS:%.*s, expected DNS:%s",
                     (int)(len > 100 ? 100 : len), (const char *)data, t->host);
    } else if (t->is_ip && g->type == GEN_IPADD) {
        data = ASN1_STRING_get0_data(g->d.iPAddress);
        len = (size_t)ASN1_STRING_length(g->d.iPAddress);
        ok = len == want && memcmp(data, t->addrs[0].addr, want) == 0;
        if (!ok)
            snprintf(why, why_len, "its subjectAltName is another IP address than %s", t->host);
    } else {
        snprintf(why, why_len, "its subjectAltName is not %s %s",
                 t->is_ip ? "an IP address" : "a DNS name", t->host);
    }
    GENERAL_NAMES_free(names);
    return ok ? 0 : -1;
}

/* The acmeIdentifier extension's 32 bytes into out; 0, or -1 with why. */
static int acme_extension_read(X509 *cert, unsigned char out[32], char *why, size_t why_len)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
    int idx = oid ? X509_get_ext_by_OBJ(cert, oid, -1) : -1, dup, rc = -1;
    X509_EXTENSION *ext = idx >= 0 ? X509_get_ext(cert, idx) : NULL;
    ASN1_OCTET_STRING *inner = NULL;
    const unsigned char *p, *start;
    long len;

    dup = idx >= 0 && X509_get_ext_by_OBJ(cert, oid, idx) >= 0;
    ASN1_OBJECT_free(oid);
    if (ext == NULL || dup)
        return snprintf(why, why_len, "%s acmeIdentifier extension (%s)",
                        dup ? "more than one" : "no", OID_ACME_IDENTIFIER),
               -1;
    if (!X509_EXTENSION_get_critical(ext))
        return snprintf(why, why_len,
                        "its acmeIdentifier extension is not critical (RFC 8737 "
                        "§3)"),
               -1;
    start = p = ASN1_STRING_get0_data(X509_EXTENSION_get_data(ext));
    len = ASN1_STRING_length(X509_EXTENSION_get_data(ext));
    if ((inner = d2i_ASN1_OCTET_STRING(NULL, &p, len)) == NULL || p != start + len ||
        ASN1_STRING_length(inner) != 32) {
        snprintf(why, why_len, "its acmeIdentifier extension is not an OCTET STRING of 32 bytes");
    } else {
        memcpy(out, ASN1_STRING_get0_data(inner), 32);
        rc = 0;
    }
    ASN1_OCTET_STRING_free(inner);
    ERR_clear_error();
    return rc;
}

static int certificate_check(X509 *cert, const struct target *t, const unsigned char digest[32],
                             char *why, size_t why_len)
{
    unsigned char got[32];
    char *got_hex, *want_hex;

    if (san_check(cert, t, why, why_len) != 0 || acme_extension_read(cert, got, why, why_len) != 0)
        return -1;
    if (CRYPTO_memcmp(got, digest, 32) == 0)
        return 0;
    got_hex = hex_encode(got, 32);
    want_hex = hex_encode(digest, 32);
    snprintf(why, why_len, "its acmeIdentifier is %s, expected SHA-256 of the key authorization %s",
             got_hex, want_hex);
    free(got_hex);
    free(want_hex);
    return -1;
}

/* ---- the challenge --------------------------------------------------------------- */

/* One TLS session on connected fd: the verdict. */
static int alpn_session(const struct vctx *x, SSL_CTX *ctx, int fd, const struct target *t,
                        const char *where, const unsigned char digest[32], struct err *e)
{
    const unsigned char *proto = NULL;
    unsigned int proto_len = 0;
    char sni[80], why[300];
    SSL *ssl = SSL_new(ctx);
    X509 *cert;
    int rc = -1;

    sni_name(t, sni, sizeof(sni));
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, sni) != 1 ||
        SSL_set_alpn_protos(ssl, alpn_offer, sizeof(alpn_offer) - 1) != 0) {
        SSL_free(ssl);
        return acme_fail(e, ACME_ERR_SERVER_INTERNAL, "TLS set-up failed");
    }
    if (tls_handshake(x, ssl, fd, why, sizeof(why)) != 0) {
        acme_fail(e, ACME_ERR_TLS, "%s (SNI %s): %s", where, sni, why);
        goto out;
    }
    SSL_get0_alpn_selected(ssl, &proto, &proto_len);
    if (proto_len != strlen(ACME_TLS_1) || memcmp(proto, ACME_TLS_1, proto_len) != 0) {
        acme_fail(e, ACME_ERR_TLS, "%s (SNI %s) did not select ALPN protocol acme-tls/1%s", where,
                  sni, proto_len ? "" : " (it selected none)");
        goto out;
    }
    if ((cert = SSL_get0_peer_certificate(ssl)) == NULL)
        acme_fail(e, ACME_ERR_TLS, "%s (SNI %s) presented no certificate", where, sni);
    else if (certificate_check(cert, t, digest, why, sizeof(why)) != 0)
        acme_fail(e, ACME_ERR_INCORRECT, "the certificate from %s (SNI %s): %s", where, sni, why);
    else
        rc = 0;
    SSL_shutdown(ssl); /* a close_notify, if the socket takes it now */
out:
    SSL_free(ssl);
    ERR_clear_error();
    return rc;
}

int alpn_validate(const struct vctx *x, const struct target *t, const char *key_auth,
                  struct acme_validation_record *rec, struct err *e)
{
    unsigned char digest[32];
    char where[64], why[120], tried[400] = "";
    size_t used = 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int rc = -1;

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || /* §4 */
        EVP_Digest(key_auth, strlen(key_auth), digest, NULL, EVP_sha256(), NULL) != 1) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return acme_fail(e, ACME_ERR_SERVER_INTERNAL, "tls-alpn-01: OpenSSL set-up failed");
    }
    for (size_t i = 0; i < t->n; i++) {
        int fd = tcp_connect(x, &t->addrs[i], x->v->tls_port, why, sizeof(why));
        netaddr_port_text(&t->addrs[i], x->v->tls_port, where, sizeof(where));
        if (fd < 0) {
            if (used < sizeof(tried))
                used += (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s: %s",
                                         used ? "; " : "", where, why);
            continue;
        }
        rc = alpn_session(x, ctx, fd, t, where, digest, e);
        close(fd);
        if (rc == 0)
            snprintf(rec->address, sizeof(rec->address), "%s", where);
        SSL_CTX_free(ctx);
        return rc;
    }
    SSL_CTX_free(ctx);
    return acme_fail(e, ACME_ERR_CONNECTION, "tls-alpn-01 for %s: could not connect: %s", t->host,
                     tried);
}
