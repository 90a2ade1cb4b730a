/*
 * fuzz_ocsp.c — libFuzzer driver: arbitrary bytes as an OCSP request through
 * ocsp_query_parse, CertID matching and, for requests that parse, a signed
 * response that copies their CertIDs and nonce (what the responder does with
 * anything the network sends).
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/ocsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ocsp_signer sg;
static struct ocsp_issuer_hash sha1, sha256;

/* A throw-away self-signed responder. */
static void setup(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();

    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, name);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_sign(cert, key, EVP_sha256());
    X509_NAME_free(name);
    sg.cert = cert;
    sg.bound = cert;
    sg.key = key;
    sg.md = EVP_sha256();
    ocsp_issuer_hash(cert, NID_sha1, &sha1);
    ocsp_issuer_hash(cert, NID_sha256, &sha256);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ocsp_status st[OCSP_MAX_IDS];
    struct ocsp_query q;
    struct err e = {0};
    unsigned char *der = NULL;
    size_t len = 0;

    if (sg.key == NULL)
        setup();
    if (ocsp_query_parse(data, size, &q, &e) != 0) {
        if (e.kind != ERR_INVALID)
            __builtin_trap();
        return 0;
    }
    for (int i = 0; i < q.n; i++) {
        (void)ocsp_id_matches(&q.ids[i], &sha1);
        (void)ocsp_id_matches(&q.ids[i], &sha256);
        st[i].cid = q.ids[i].cid;
        st[i].status = i % 3 == 0   ? V_OCSP_CERTSTATUS_GOOD
                       : i % 3 == 1 ? V_OCSP_CERTSTATUS_REVOKED
                                    : V_OCSP_CERTSTATUS_UNKNOWN;
        st[i].revoked_at = 1700000000;
        st[i].reason = i % 11;
        st[i].invalidity_date = i % 2 ? 1690000000 : 0;
    }
    if (ocsp_response_sign(&sg, st, q.n, q.has_nonce ? q.req : NULL, 1700000000, 1700086400, &der,
                           &len, &e) == 0)
        OPENSSL_free(der);
    ocsp_query_clear(&q);
    ERR_clear_error();
    return 0;
}
