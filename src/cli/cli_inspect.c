/*
 * cli_inspect.c — `vouch inspect FILE`: prints the certificates, CSRs and
 * CRLs of a PEM file (every block) or a DER file (whichever parser takes the
 * whole file) with OpenSSL's printers.  No server involved.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli/cli_internal.h"

/* Names shown UTF-8, one line each ("CN = www.example.com, O = Demo"). */
#define NAME_FLAGS ((XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT)

enum object_kind { KIND_NONE, KIND_CERT, KIND_TRUSTED_CERT, KIND_CSR, KIND_CRL };

static const struct {
    const char *pem_name;
    enum object_kind kind;
} pem_kinds[] = {
    {PEM_STRING_X509, KIND_CERT},
    {PEM_STRING_X509_OLD, KIND_CERT},
    {PEM_STRING_X509_TRUSTED, KIND_TRUSTED_CERT},
    {PEM_STRING_X509_REQ, KIND_CSR},
    {PEM_STRING_X509_REQ_OLD, KIND_CSR},
    {PEM_STRING_X509_CRL, KIND_CRL},
};

/*
 * Prints a DER certificate (with OpenSSL's trust settings after it if aux);
 * 0 if it parsed as one using all len bytes.
 */
static int print_cert(BIO *out, const unsigned char *der, size_t len, const char *form, int aux)
{
    const unsigned char *p = der;
    X509 *x = aux ? d2i_X509_AUX(NULL, &p, (long)len) : d2i_X509(NULL, &p, (long)len);
    int rc = -1;

    if (x != NULL && p == der + len) {
        BIO_printf(out, "kind: certificate (%s)\n", form);
        X509_print_ex(out, x, NAME_FLAGS, X509_FLAG_COMPAT);
        rc = 0;
    }
    X509_free(x);
    return rc;
}

/* Prints a DER CSR and whether its signature verifies with its own key. */
static int print_csr(BIO *out, const unsigned char *der, size_t len, const char *form)
{
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    EVP_PKEY *key;
    int rc = -1;

    if (req != NULL && p == der + len) {
        BIO_printf(out, "kind: certificate request (%s)\n", form);
        X509_REQ_print_ex(out, req, NAME_FLAGS, X509_FLAG_COMPAT);
        key = X509_REQ_get0_pubkey(req);
        BIO_printf(out, "Signature check: %s\n",
                   key != NULL && X509_REQ_verify(req, key) == 1 ? "OK (self-signed by its key)"
                                                                 : "FAILED");
        rc = 0;
    }
    X509_REQ_free(req);
    return rc;
}

static int print_crl(BIO *out, const unsigned char *der, size_t len, const char *form)
{
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    int rc = -1;

    if (crl != NULL && p == der + len) {
        BIO_printf(out, "kind: certificate revocation list (%s)\n", form);
        X509_CRL_print_ex(out, crl, NAME_FLAGS);
        rc = 0;
    }
    X509_CRL_free(crl);
    return rc;
}

/* A DER object: of `kind`, or (KIND_NONE) whichever parser takes it. */
static int print_der(BIO *out, enum object_kind kind, const unsigned char *der, size_t len,
                     const char *form)
{
    int rc = -1;

    if ((kind == KIND_NONE || kind == KIND_CERT) && print_cert(out, der, len, form, 0) == 0)
        rc = 0;
    else if (kind == KIND_TRUSTED_CERT && print_cert(out, der, len, form, 1) == 0)
        rc = 0;
    else if ((kind == KIND_NONE || kind == KIND_CSR) && print_csr(out, der, len, form) == 0)
        rc = 0;
    else if ((kind == KIND_NONE || kind == KIND_CRL) && print_crl(out, der, len, form) == 0)
        rc = 0;
    ERR_clear_error(); /* the parsers that did not fit */
    return rc;
}

static enum object_kind pem_kind(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(pem_kinds); i++)
        if (strcmp(pem_kinds[i].pem_name, name) == 0)
            return pem_kinds[i].kind;
    return KIND_NONE;
}

/* One PEM block; 1 if it was printed, 0 if skipped, -1 if it did not parse. */
static int print_pem_block(BIO *out, const char *name, const unsigned char *der, long len, int *bad)
{
    enum object_kind kind = pem_kind(name);

    if (kind == KIND_NONE) {
        BIO_printf(out, "kind: %s (PEM), not inspected\n", name);
        return 0;
    }
    if (print_der(out, kind, der, (size_t)len, "PEM") == 0)
        return 1;
    BIO_printf(out, "kind: %s (PEM), does not parse\n", name);
    *bad = 1;
    return 0;
}

/* Every PEM block of data; 0 if at least one was printed and none failed. */
static int print_pem(BIO *out, const unsigned char *data, size_t len, struct err *e)
{
    BIO *in = BIO_new_mem_buf(data, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long der_len;
    int printed = 0, bad = 0;

    if (in == NULL)
        abort(); /* only out of memory */
    while (PEM_read_bio(in, &name, &header, &der, &der_len) == 1) {
        printed += print_pem_block(out, name, der, der_len, &bad);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        BIO_printf(out, "\n");
    }
    ERR_clear_error(); /* the end of the input */
    BIO_free(in);
    if (bad)
        return err_setc(e, ERR_INVALID, "inspect", "a PEM block does not parse");
    if (printed == 0)
        return err_setc(e, ERR_INVALID, "inspect", "no certificate, CSR or CRL in the PEM");
    return 0;
}

static int looks_pem(const unsigned char *data, size_t len)
{
    return memmem(data, len, "-----BEGIN ", 11) != NULL;
}

int cli_inspect(const char *path, FILE *out, struct err *e)
{
    size_t len;
    unsigned char *data = file_read(path, CLI_INSPECT_MAX, &len, e);
    BIO *bio;
    int rc = -1;

    if (data == NULL)
        return -1;
    if ((bio = BIO_new_fp(out, BIO_NOCLOSE)) == NULL)
        abort(); /* only out of memory */
    if (looks_pem(data, len))
        rc = print_pem(bio, data, len, e);
    else if ((rc = print_der(bio, KIND_NONE, data, len, "DER")) != 0)
        err_setc(e, ERR_INVALID, "inspect", "%s: not a certificate, CSR or CRL (PEM or DER)", path);
    (void)BIO_flush(bio);
    BIO_free(bio);
    free(data);
    return rc;
}

unsigned char *cli_pem_to_der(const char *text, size_t *out_len)
{
    BIO *in = BIO_new_mem_buf(text, -1);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL, *copy = NULL;
    long len = 0;

    if (in == NULL)
        abort(); /* only out of memory */
    if (PEM_read_bio(in, &name, &header, &der, &len) == 1 && len > 0) {
        copy = xmalloc((size_t)len);
        memcpy(copy, der, (size_t)len);
        *out_len = (size_t)len;
    }
    ERR_clear_error();
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(in);
    return copy;
}

int cli_show_inspect(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                     struct err *e)
{
    (void)ans;
    return cli_inspect(cli_call_value(call, "file"), ctx->out, e) == 0 ? CLI_EXIT_OK : -1;
}
