/*
 * fuzz_tbs.c — the signer's check of what it is asked to sign (keys/tbs.c):
 * it parses bytes chosen by whoever controls the network process, and reads
 * what a key's purpose binding compares (signer_bind.c): the issuer and AKI of
 * a certificate or CRL, the responderID of an OCSP response.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "keys/tbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *kind = tbs_kind(data, size);
    X509_NAME *issuer = NULL;
    ASN1_OCTET_STRING *keyid = NULL;
    unsigned char hash[20];

    if (kind != NULL && strcmp(kind, "certificate") != 0 && strcmp(kind, "CRL") != 0 &&
        strcmp(kind, "CSR") != 0 && strcmp(kind, "OCSP response") != 0 &&
        strcmp(kind, "TSTInfo") != 0 && strcmp(kind, "audit checkpoint") != 0 &&
        strcmp(kind, "offline bundle") != 0 && strcmp(kind, "CMP response") != 0)
        __builtin_trap();
    /* A certificate or CRL has an issuer; nothing else is read as one. */
    if (tbs_issuer(data, size, &issuer, &keyid) == 0 && issuer == NULL)
        __builtin_trap();
    X509_NAME_free(issuer);
    ASN1_OCTET_STRING_free(keyid);
    (void)tbs_ocsp_responder_key_hash(data, size, hash);
    return 0;
}
