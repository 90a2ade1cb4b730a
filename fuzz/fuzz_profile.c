/*
 * fuzz_profile.c — libFuzzer driver: arbitrary bytes as a profile document
 * (profile_parse of the NUL-terminated text) and as the JSON of a keygen
 * request (issue_request_from_json with {"subject": ..., "sans": [...]} or a
 * bare sans array), checked against the parsed profile and tls-server.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct profile *tls_server;
static EVP_PKEY *key;

static void fuzz_init(void)
{
    struct err e = {0};

    tls_server = profile_parse(profile_builtin_json("tls-server"), &e);
    key = EVP_EC_gen("P-256");
    if (tls_server == NULL || key == NULL)
        abort();
}

/* Runs the request in doc (if it is one) against p and tls-server. */
static void fuzz_request(json_t *doc, const struct profile *p)
{
    struct issue_request r = {0};
    struct err e = {0};
    const char *subject = "/CN=fuzz.example.com";
    json_t *sans = doc;

    if (json_is_object(doc)) {
        json_t *s = json_object_get(doc, "subject");
        subject = json_is_string(s) ? json_string_value(s) : "";
        sans = json_object_get(doc, "sans");
    }
    if (issue_request_from_json(&r, subject, sans, &e) != 0)
        return;
    EVP_PKEY_up_ref(key);
    r.pubkey = key;
    if (p != NULL)
        (void)profile_check(p, &r, &e);
    (void)profile_check(tls_server, &r, &e);
    issue_request_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct err e = {0};
    struct profile *p;
    json_t *doc;

    if (tls_server == NULL)
        fuzz_init();
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    p = profile_parse(text, &e);
    doc = json_loadb((const char *)data, size, 0, NULL);
    if (doc != NULL)
        fuzz_request(doc, p);
    json_decref(doc);
    profile_free(p);
    free(text);
    ERR_clear_error();
    return 0;
}
