/*
 * csr_make.h — a test helper shared by the svc unit tests: a PEM CSR for CN=cn with a dNSName
 * SAN cn, on a new P-256 key (caller frees).  Include after cmocka.h and OpenSSL's headers.
 */
#ifndef VOUCH_TESTS_CSR_MAKE_H
#define VOUCH_TESTS_CSR_MAKE_H

static char *csr_make(const char *cn)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    char *san = xasprintf("DNS:%s", cn), *pem;
    BIO *bio = BIO_new(BIO_s_mem());
    BUF_MEM *mem;

    assert_non_null(key);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_subject_name(req, name);
    X509_REQ_set_pubkey(req, key);
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san));
    X509_REQ_add_extensions(req, exts);
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    PEM_write_bio_X509_REQ(bio, req);
    BIO_get_mem_ptr(bio, &mem);
    pem = xstrndup(mem->data, mem->length);
    BIO_free(bio);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    free(san);
    return pem;
}

#endif
