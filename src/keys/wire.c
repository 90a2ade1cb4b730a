/* wire.c — the signer protocol's framing (see wire.h). */
#include "keys/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509.h>

void wire_put(struct buf *b, enum wire_tag tag, const void *data, size_t len)
{
    unsigned char h[6];
    uint16_t t = htons((uint16_t)tag);
    uint32_t l = htonl((uint32_t)len);

    memcpy(h, &t, 2);
    memcpy(h + 2, &l, 4);
    buf_append(b, h, sizeof(h));
    if (len > 0)
        buf_append(b, data, len);
}

void wire_put_str(struct buf *b, enum wire_tag tag, const char *s)
{
    wire_put(b, tag, s, strlen(s));
}

void wire_put_u64(struct buf *b, enum wire_tag tag, uint64_t v)
{
    unsigned char be[8];

    for (int i = 7; i >= 0; i--) {
        be[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    wire_put(b, tag, be, sizeof(be));
}

void wire_put_x509(struct buf *b, enum wire_tag tag, X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);

    if (n > 0)
        wire_put(b, tag, der, (size_t)n);
    OPENSSL_free(der);
}

/* Reads the field at *off; 0 ok (and advances *off), -1 if it does not fit. */
static int field_at(const unsigned char *body, size_t len, size_t *off, uint16_t *tag,
                    const unsigned char **data, size_t *dlen)
{
    uint16_t t;
    uint32_t l;

    if (len - *off < 6)
        return -1;
    memcpy(&t, body + *off, 2);
    memcpy(&l, body + *off + 2, 4);
    l = ntohl(l);
    if (len - *off - 6 < l)
        return -1;
    *tag = ntohs(t);
    *data = body + *off + 6;
    *dlen = l;
    *off += 6 + (size_t)l;
    return 0;
}

int wire_check(const unsigned char *body, size_t len)
{
    size_t off = 0, dlen;
    const unsigned char *data;
    uint16_t tag;

    while (off < len)
        if (field_at(body, len, &off, &tag, &data, &dlen) != 0)
            return -1;
    return 0;
}

int wire_get(const unsigned char *body, size_t len, enum wire_tag want, int index,
             const unsigned char **data, size_t *dlen)
{
    size_t off = 0;
    uint16_t tag;

    while (off < len) {
        if (field_at(body, len, &off, &tag, data, dlen) != 0)
            return -1;
        if (tag == want && index-- == 0)
            return 0;
    }
    return -1;
}

char *wire_get_str(const unsigned char *body, size_t len, enum wire_tag tag, size_t max)
{
    const unsigned char *d;
    size_t n;

    if (wire_get(body, len, tag, 0, &d, &n) != 0 || n > max || memchr(d, '\0', n) != NULL)
        return NULL;
    return xstrndup((const char *)d, n);
}

int wire_get_u64(const unsigned char *body, size_t len, enum wire_tag tag, uint64_t *out)
{
    const unsigned char *d;
    size_t n;
    uint64_t v = 0;

    if (wire_get(body, len, tag, 0, &d, &n) != 0 || n != 8)
        return -1;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | d[i];
    *out = v;
    return 0;
}

/* Writes all n bytes; a peer that went away is an error, never a SIGPIPE. */
static int send_all(int fd, const void *p, size_t n)
{
    const unsigned char *c = p;

    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    unsigned char *c = p;

    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

int wire_send(int fd, uint32_t type, const struct buf *body)
{
    uint32_t h[2] = {htonl(type), htonl((uint32_t)(body ? body->len : 0))};
    struct buf frame = {0};
    int rc;

    /* A large body (a CRL to sign) is not copied: header, then body. */
    if (body != NULL && body->len > WIRE_MAX_LARGE)
        return send_all(fd, h, sizeof(h)) == 0 ? send_all(fd, body->data, body->len) : -1;
    /* One write per frame: a reader never sees half a header from us. */
    buf_append(&frame, h, sizeof(h));
    if (body != NULL && body->len > 0)
        buf_append(&frame, body->data, body->len);
    rc = send_all(fd, frame.data, frame.len);
    secure_zero(frame.data, frame.len);
    buf_free(&frame);
    return rc;
}

size_t wire_max_body(uint32_t type)
{
    return type == W_SIGN ? WIRE_MAX_SIGN : WIRE_MAX_LARGE;
}

int wire_recv(int fd, uint32_t *type, unsigned char **body, size_t *len, size_t max)
{
    uint32_t h[2];
    unsigned char *b;
    size_t n;

    if (read_all(fd, h, sizeof(h)) != 0)
        return -1;
    n = ntohl(h[1]);
    if (n > max || n > wire_max_body(ntohl(h[0])))
        return -2;
    b = xmalloc(n + 1);
    if (read_all(fd, b, n) != 0) {
        free(b);
        return -1;
    }
    if (wire_check(b, n) != 0) {
        free(b);
        return -2;
    }
    *type = ntohl(h[0]);
    *body = b;
    *len = n;
    return 0;
}
