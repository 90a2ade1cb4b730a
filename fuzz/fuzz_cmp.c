/*
 * fuzz_cmp.c — libFuzzer driver: arbitrary bytes as a CMP PKIMessage through
 * what vouch reads of one itself (core/cmp.h: the header, a certConf body),
 * the error and pkiConf messages it makes in answer (which must decode as
 * PKIMessages to OpenSSL), and the same bytes as a CRMF CertReqMsg through
 * crmf_read.  OpenSSL's own PKIMessage decoder runs on them too, as the
 * server runs it next.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/cmp.h>
#include <openssl/err.h>

#include "core/cmp.h"
#include "core/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether der decodes as a PKIMessage to OpenSSL. */
static int openssl_reads(const unsigned char *der, size_t len)
{
    BIO *b = BIO_new_mem_buf(der, (int)len);
    OSSL_CMP_MSG *m = b ? d2i_OSSL_CMP_MSG_bio(b, NULL) : NULL;
    int ok = m != NULL;

    OSSL_CMP_MSG_free(m);
    BIO_free(b);
    return ok;
}

/* The answers vouch makes to a request it read. */
static void fuzz_answers(const struct cmp_peek *p)
{
    static const unsigned char secret[] = "fuzz-secret";
    unsigned char *out = NULL;
    size_t len = 0;
    struct err e;

    if (cmp_error_new(p, CMP_FAIL_BAD_REQUEST, "fuzz", &out, &len, &e) != 0 ||
        !openssl_reads(out, len))
        abort();
    free(out);
    out = NULL;
    if (cmp_pkiconf_new(p, secret, sizeof(secret) - 1, "ref", &out, &len, &e) != 0 ||
        !openssl_reads(out, len))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cmp_peek p;
    struct cmp_certconf cc;
    struct issue_request r = {0};
    struct err e;

    if (cmp_peek(data, size, &p, &e) == 0) {
        fuzz_answers(&p);
        if (p.body == CMP_BODY_CERTCONF)
            (void)cmp_certconf_read(data, size, &cc, &e);
        cmp_peek_clear(&p);
    }
    (void)openssl_reads(data, size);
    if (crmf_read(data, size, &r, &e) == 0)
        issue_request_clear(&r);
    ERR_clear_error();
    return 0;
}
