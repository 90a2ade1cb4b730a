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
            return err_set(e, ERR_INVALID, "sans[%zu]: bad IP address \"%.64s\"", i, value), NULL;
    } else {
        return err_set(e, ERR_INVALID,
                       "sans[%zu]: \"%.64s\" is not type:value (dns, ip, email or uri)", i, spec),
               NULL;
    }
    if (gn == NULL)
        err_set(e, ERR_INTERNAL, "sans[%zu]: out of memory", i);
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
        return err_set(e, ERR_INVALID, "sans: an array of at most %d strings", JSON_SANS_MAX);
    if (json_array_size(sans) == 0)
        return 0;
    if ((names = GENERAL_NAMES_new()) == NULL)
        return err_set(e, ERR_INTERNAL, "sans: out of memory");
    json_array_foreach(sans, i, item)
    {
        const char *spec = json_plain_string(item);
        GENERAL_NAME *gn = NULL;
        if (spec == NULL)
            err_set(e, ERR_INVALID, "sans[%zu]: must be a string", i);
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
