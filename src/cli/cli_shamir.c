/*
 * cli_shamir.c — the offline CA's key-encryption secret split M-of-N among
 * custodians (Shamir's secret sharing over GF(2^8), by libgfshare).
 *
 * A share is a one-line text file "vouch-share:<source>:<x>:<hex>"; the
 * offline store's offline.json keeps the SHA-256 of every share line, so a
 * wrong or altered share is named before anything is combined, and the
 * SHA-256 of the secret, so a combination that is still wrong is refused.
 */
#include "cli/cli_offline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libgfshare.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

static char *sha256_hex(const void *data, size_t len)
{
    unsigned char md[32];

    SHA256(data, len, md);
    return hex_encode(md, sizeof(md));
}

/* Writes text to a new file of mode 0600 (refuses to overwrite one). */
static int secret_write(const char *path, const char *text, struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t len = strlen(text);

    if (fd < 0)
        return err_setc(e, ERR_INVALID, "file", "%s: %s", path, strerror(errno));
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        return err_setc(e, ERR_INVALID, "file", "%s: %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

/*
 * The polynomials' random coefficients: OpenSSL's CSPRNG (libgfshare has no
 * default and calls through this pointer, also to scrub a context it frees).  A failing CSPRNG
 * aborts: a share from predictable coefficients would leak the secret.
 */
static void fill_rand(unsigned char *buf, unsigned int len)
{
    if (RAND_bytes(buf, (int)len) != 1)
        abort();
}

int offline_secret_split(const unsigned char *secret, size_t len, const char *source, int n, int m,
                         const char *prefix, json_t *shares, struct err *e)
{
    unsigned char xs[255], *share = xmalloc(len);
    gfshare_ctx *g;
    int rc = 0;

    if (n < 2 || n > 255 || m < 2 || m > n)
        return free(share), err_set(e, ERR_USAGE, "--shares N --threshold M: 2 <= M <= N <= 255");
    gfshare_fill_rand = fill_rand;
    for (int i = 0; i < n; i++)
        xs[i] = (unsigned char)(i + 1);
    if ((g = gfshare_ctx_init_enc(xs, (unsigned)n, (unsigned char)m, (unsigned)len)) == NULL)
        return free(share),
               err_setc(e, ERR_INTERNAL, "shamir", "libgfshare: cannot split the secret");
    gfshare_ctx_enc_setsecret(g, (unsigned char *)secret);
    for (int i = 0; i < n && rc == 0; i++) {
        char *hex, *line, *path, *digest, key[8];

        gfshare_ctx_enc_getshare(g, (unsigned char)i, share);
        hex = hex_encode(share, len);
        line = xasprintf("vouch-share:%s:%d:%s\n", source, xs[i], hex);
        path = xasprintf("%s-%d.share", prefix, xs[i]);
        digest = sha256_hex(line, strlen(line));
        snprintf(key, sizeof(key), "%d", xs[i]);
        json_object_set_new(shares, key, json_string(digest));
        rc = secret_write(path, line, e);
        secure_zero(line, strlen(line));
        secure_zero(hex, strlen(hex));
        free(hex);
        free(line);
        free(path);
        free(digest);
    }
    secure_zero(share, len);
    free(share);
    gfshare_ctx_free(g);
    return rc;
}

/*
 * Reads one share file: its x and its bytes (*len, at most OFFLINE_SECRET_MAX), checked against
 * the recorded digests.
 */
static int share_read(const char *path, const json_t *conf, unsigned char *x, unsigned char *out,
                      size_t *len, struct err *e)
{
    char line[1024], key[8], *hex_part, *p;
    const char *want;
    unsigned char *bytes = NULL;
    size_t got = 0;
    char *digest;
    FILE *f = fopen(path, "r");
    int ok, xv;

    if (f == NULL)
        return err_setc(e, ERR_INVALID, "file", "share %s: %s", path, strerror(errno));
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    digest = sha256_hex(line, strlen(line));
    p = strrchr(line, ':');
    hex_part = p ? p + 1 : NULL;
    if (hex_part == NULL || p == line || sscanf(line, "vouch-share:%*[^:]:%d:", &xv) != 1 ||
        xv < 1 || xv > 255) {
        free(digest);
        secure_zero(line, sizeof(line));
        return err_setc(e, ERR_INVALID, "share", "share %s: not a vouch share file", path);
    }
    snprintf(key, sizeof(key), "%d", xv);
    want = json_string_value(json_object_get(json_object_get(conf, "shares"), key));
    ok = want != NULL && strcmp(want, digest) == 0;
    free(digest);
    hex_part[strcspn(hex_part, "\r\n")] = '\0';
    if (ok)
        bytes = hex_decode(hex_part, &got);
    secure_zero(line, sizeof(line));
    if (!ok || bytes == NULL || got == 0 || got > OFFLINE_SECRET_MAX || (*len && got != *len)) {
        free(bytes);
        return err_setc(e, ERR_INVALID, "share",
                        "wrong custodian share: %s is not share %d of this offline CA", path, xv);
    }
    *x = (unsigned char)xv;
    *len = got;
    memcpy(out, bytes, got);
    secure_zero(bytes, got);
    free(bytes);
    return 0;
}

int offline_secret_combine(const json_t *conf, const char *const *paths, int n,
                           unsigned char *secret, size_t *out_len, struct err *e)
{
    size_t len = 0;
    int m = (int)json_integer_value(json_object_get(conf, "threshold"));
    unsigned char xs[255], *shares = NULL;
    const char *want = json_string_value(json_object_get(conf, "secret_sha256"));
    gfshare_ctx *g = NULL;
    char *digest = NULL;
    int rc = -1;

    if (m < 2)
        return err_set(e, ERR_USAGE,
                       "this offline CA has no custodian shares: use --passphrase-file");
    if (n < m)
        return err_setc(e, ERR_INVALID, "share",
                        "%d of %d custodian shares given: the ceremony needs %d", n, m, m);
    shares = xcalloc((size_t)n, OFFLINE_SECRET_MAX);
    for (int i = 0; i < n; i++) {
        if (share_read(paths[i], conf, &xs[i], shares + (size_t)i * OFFLINE_SECRET_MAX, &len, e) !=
            0)
            goto out;
        for (int k = 0; k < i; k++)
            if (xs[k] == xs[i]) {
                err_setc(e, ERR_INVALID, "share", "share %d was given twice", xs[i]);
                goto out;
            }
    }
    gfshare_fill_rand = fill_rand;
    if ((g = gfshare_ctx_init_dec(xs, (unsigned)n, (unsigned)len)) == NULL) {
        err_setc(e, ERR_INTERNAL, "shamir", "libgfshare: cannot combine the shares");
        goto out;
    }
    for (int i = 0; i < n; i++)
        gfshare_ctx_dec_giveshare(g, (unsigned char)i, shares + (size_t)i * OFFLINE_SECRET_MAX);
    gfshare_ctx_dec_extract(g, secret);
    {
        char *text = offline_secret_text(conf, secret, len);
        digest = sha256_hex(text, strlen(text));
        secure_zero(text, strlen(text));
        free(text);
    }
    if (want == NULL || strcmp(digest, want) != 0) {
        secure_zero(secret, len);
        err_setc(e, ERR_INVALID, "share", "the shares do not combine to this offline CA's secret");
        goto out;
    }
    *out_len = len;
    rc = 0;
out:
    if (g != NULL)
        gfshare_ctx_free(g);
    if (shares != NULL)
        secure_zero(shares, (size_t)n * OFFLINE_SECRET_MAX);
    free(shares);
    free(digest);
    return rc;
}

char *offline_secret_text(const json_t *conf, const unsigned char *secret, size_t len)
{
    const char *form = json_string_value(json_object_get(conf, "secret_form"));

    if (form != NULL && strcmp(form, "text") == 0)
        return xstrndup((const char *)secret, len);
    return hex_encode(secret, len);
}

char *offline_secret_digest(const char *text)
{
    return sha256_hex(text, strlen(text));
}

int offline_secret_random(unsigned char *secret, size_t len, struct err *e)
{
    if (RAND_bytes(secret, (int)len) != 1)
        return err_setc(e, ERR_INTERNAL, "random", "the CSPRNG failed");
    return 0;
}

int offline_secret_write(const char *path, const char *text, struct err *e)
{
    return secret_write(path, text, e);
}
