/*
 * fuzz_acme_dns.c — what ACME validation reads from the network's DNS
 * answers (src/acme/dns.c, src/acme/caa.c): the answer section walked for A,
 * AAAA, TXT and CAA records at example.com following CNAMEs, every CAA record
 * decoded and decided for a name and a wildcard, and the input itself taken
 * as the value of an issue property (RFC 8659 §4.2, RFC 8657 parameters).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/validate_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decide(const struct caa_record *recs, size_t n)
{
    static const char *const issuers[] = {"vouch.test", "ca.example", NULL};
    struct acme_caa_query q = {.name = "example.com",
                               .issuers = issuers,
                               .account_uri = "https://vouch.test/acme/acct/1",
                               .method = "dns-01"};
    struct err e;

    caa_decide(recs, n, "example.com", &q, &e);
    q.name = "*.example.com";
    caa_decide(recs, n, "example.com", &q, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_TXT, DNS_TYPE_CAA};
    struct caa_record one = {.tag = "issue"};

    if (size > 65535)
        return 0;
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        struct dns_rrset set = {.name = strdup("example.com")};
        if (dns_answer_read(data, (int)size, types[t], ACME_VALIDATE_ALIASES_MAX, &set) == 0 &&
            types[t] == DNS_TYPE_CAA) {
            struct caa_record *recs = calloc(set.n + 1, sizeof(*recs));
            for (size_t i = 0; i < set.n; i++)
                caa_record_read(set.rr[i].data, set.rr[i].len, &recs[i]);
            decide(recs, set.n);
            for (size_t i = 0; i < set.n; i++)
                caa_record_clear(&recs[i]);
            free(recs);
        }
        dns_rrset_clear(&set);
    }
    one.value = malloc(size + 1);
    memcpy(one.value, data, size);
    one.value[size] = '\0';
    one.value_len = size;
    decide(&one, 1);
    free(one.value);
    return 0;
}
