/*
 * request.c — what a requester asks for (struct issue_request), read from a
 * CSR or from the JSON of a server-side key generation request.  Nothing here
 * judges the request: profile_check() does.
 */
#include "core/core_internal.h"

#include <arpa/inet.h>
#include <string.h>

#include <openssl/err.h>

#define JSON_SANS_MAX 1000

void issue_request_clear(struct issue_request *r)
{
    if (r == NULL)
        return;
    X509_NAME_free(r->subject);
    GENERAL_NAMES_free(r->sans);
    EVP_PKEY_free(r->pubkey);
    X509_ALGOR_free(r->spki_alg);
    OPENSSL_free(r->spki_bits);
    memset(r, 0, sizeof(*r));
}

/* The CSR's subjectAltName extension request, NULL if none; -1 if malformed. */
static int csr_sans(X509_REQ *csr, GENERAL_NAMES **out, struct err *e)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    int pos = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
    int rc = 0;

    *out = NULL;
    if (pos >= 0 && X509v3_get_ext_by_NID(exts, NID_subject_alt_name, pos) >= 0)
        rc = err_set(e, 400, ERR_BAD_CSR, "csr: more than one subjectAltName extension");
    else if (pos >= 0 && (*out = X509V3_EXT_d2i(X509v3_get_ext(exts, pos))) == NULL)
        rc = err_ossl(e, 400, ERR_BAD_CSR, "csr: malformed subjectAltName extension");
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    return rc;
}

/* Keeps the CSR's SubjectPublicKeyInfo as it is, to copy into the certificate. */
static void request_copy_spki(struct issue_request *r, X509_REQ *csr)
{
    const unsigned char *bits = NULL;
    X509_ALGOR *alg = NULL;
    int len = 0;

    X509_ALGOR_free(r->spki_alg);
    OPENSSL_free(r->spki_bits);
    r->spki_alg = NULL;
    r->spki_bits = NULL;
    if (X509_PUBKEY_get0_param(NULL, &bits, &len, &alg, X509_REQ_get_X509_PUBKEY(csr)) != 1 ||
        alg == NULL || bits == NULL || len <= 0)
        return; /* the certificate is then built from the decoded key */
    r->spki_alg = X509_ALGOR_dup(alg);
    r->spki_bits = OPENSSL_memdup(bits, (size_t)len);
    r->spki_bits_len = len;
}

int issue_request_from_csr(struct issue_request *r, X509_REQ *csr, struct err *e)
{
    GENERAL_NAMES *sans = NULL;
    X509_NAME *subject;
    EVP_PKEY *pubkey;

    if (csr_sans(csr, &sans, e) != 0)
        return -1;
    subject = X509_NAME_dup(X509_REQ_get_subject_name(csr));
    pubkey = X509_REQ_get_pubkey(csr);
    if (subject == NULL || pubkey == NULL) {
        X509_NAME_free(subject);
        EVP_PKEY_free(pubkey);
        GENERAL_NAMES_free(sans);
        return err_ossl(e, 400, ERR_BAD_CSR, "csr: cannot read subject or public key");
    }
    X509_NAME_free(r->subject);
    GENERAL_NAMES_free(r->sans);
    EVP_PKEY_free(r->pubkey);
    r->subject = subject;
    r->sans = sans;
    r->pubkey = pubkey;
    request_copy_spki(r, csr);
    return 0;
}

/* One "type:value" of the JSON sans array; NULL with e set. */
static GENERAL_NAME *san_from_spec(const char *spec, size_t i, struct err *e)
{
    unsigned char ip[16];
    const char *colon = strchr(spec, ':');
    const char *value = colon ? colon + 1 : "";
    size_t type_len = colon ? (size_t)(colon - spec) : 0;
    GENERAL_NAME *gn = NULL;

    if (type_len == 3 && strncmp(spec, "dns", 3) == 0)
        gn = san_new_ia5(GEN_DNS, value);
    else if (type_len == 5 && strncmp(spec, "email", 5) == 0)
        gn = san_new_ia5(GEN_EMAIL, value);
    else if (type_len == 3 && strncmp(spec, "uri", 3) == 0)
        gn = san_new_ia5(GEN_URI, value);
    else if (type_len == 2 && strncmp(spec, "ip", 2) == 0) {
        if (inet_pton(AF_INET, value, ip) == 1)
            gn = san_new_ip(ip, 4);
        else if (inet_pton(AF_INET6, value, ip) == 1)
            gn = san_new_ip(ip, 16);
        else
            return err_set(e, 400, ERR_BAD_REQUEST, "sans[%zu]: bad IP address \"%.64s\"", i,
                           value),
                   NULL;
    } else {
        return err_set(e, 400, ERR_BAD_REQUEST,
                       "sans[%zu]: \"%.64s\" is not type:value (dns, ip, email or uri)", i, spec),
               NULL;
    }
    if (gn == NULL)
        err_set(e, 500, ERR_INTERNAL, "sans[%zu]: out of memory", i);
    return gn;
}

static int sans_from_json(json_t *sans, GENERAL_NAMES **out, struct err *e)
{
    GENERAL_NAMES *names;
    size_t i;
    json_t *item;

    *out = NULL;
    if (sans == NULL || json_is_null(sans))
        return 0;
    if (!json_is_array(sans) || json_array_size(sans) > JSON_SANS_MAX)
        return err_set(e, 400, ERR_BAD_REQUEST, "sans: an array of at most %d strings",
                       JSON_SANS_MAX);
    if (json_array_size(sans) == 0)
        return 0;
    if ((names = GENERAL_NAMES_new()) == NULL)
        return err_set(e, 500, ERR_INTERNAL, "sans: out of memory");
    json_array_foreach(sans, i, item)
    {
        const char *spec = json_plain_string(item);
        GENERAL_NAME *gn = NULL;
        if (spec == NULL)
            err_set(e, 400, ERR_BAD_REQUEST, "sans[%zu]: must be a string", i);
        else
            gn = san_from_spec(spec, i, e);
        if (gn == NULL || sk_GENERAL_NAME_push(names, gn) <= 0) {
            GENERAL_NAME_free(gn);
            GENERAL_NAMES_free(names);
            return -1;
        }
    }
    *out = names;
    return 0;
}

int issue_request_from_json(struct issue_request *r, const char *subject, json_t *sans,
                            struct err *e)
{
    X509_NAME *name = name_parse(subject, e);
    GENERAL_NAMES *names = NULL;

    if (name == NULL)
        return -1;
    if (sans_from_json(sans, &names, e) != 0) {
        X509_NAME_free(name);
        return -1;
    }
    X509_NAME_free(r->subject);
    GENERAL_NAMES_free(r->sans);
    r->subject = name;
    r->sans = names;
    return 0;
}
