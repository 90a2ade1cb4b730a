/* roles.c — services and jobs of a node (see roles.h, docs/deployment.md "Roles"). */
#include "daemon/roles.h"

#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "lib/util.h"

struct name_bit {
    const char *name;
    unsigned bit;
};

static const struct name_bit services[] = {
    {"api", SERVICE_API},
    {"ocsp", SERVICE_OCSP},
    {"publish", SERVICE_PUBLISH},
    {"tsa", SERVICE_TSA},
};

static const struct name_bit jobs[] = {
    {"crl", JOB_CRL},         {"ocsp", JOB_OCSP},   {"expiry", JOB_EXPIRY},
    {"notices", JOB_NOTICES}, {"purge", JOB_PURGE}, {"checkpoint", JOB_CHECKPOINT},
};

/* A comma- or space-separated list of names (or "all", "none") into *bits; -1 with e set. */
static int list_parse(const char *setting, const char *value, const struct name_bit *names,
                      size_t n, unsigned all, unsigned *bits, struct err *e)
{
    char *copy, *save = NULL, *word;
    int rc = 0, words = 0;

    *bits = 0;
    if (value == NULL) {
        *bits = all;
        return 0;
    }
    copy = xstrdup(value);
    for (word = strtok_r(copy, ", \t", &save); word != NULL && rc == 0;
         word = strtok_r(NULL, ", \t", &save)) {
        size_t i;
        words++;
        if (strcmp(word, "all") == 0) {
            *bits |= all;
            continue;
        }
        if (strcmp(word, "none") == 0)
            continue;
        for (i = 0; i < n && strcmp(names[i].name, word) != 0; i++)
            ;
        if (i == n) {
            char known[200] = "";
            for (size_t k = 0; k < n; k++)
                snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s, ",
                         names[k].name);
            rc =
                err_set(e, ERR_INVALID, "%s: unknown \"%s\" (%sall or none)", setting, word, known);
        } else
            *bits |= names[i].bit;
    }
    free(copy);
    if (rc == 0 && words == 0)
        rc = err_set(e, ERR_INVALID, "%s: empty (write none for nothing)", setting);
    return rc;
}

int roles_parse(const char *svc, const char *job, struct roles *r, struct err *e)
{
    if (list_parse("services", svc, services, ARRAY_LEN(services), SERVICE_ALL, &r->services, e) !=
            0 ||
        list_parse("jobs", job, jobs, ARRAY_LEN(jobs), JOB_ALL, &r->jobs, e) != 0)
        return -1;
    if (r->services == 0)
        return err_set(e, ERR_INVALID, "services: a node must run at least one service");
    return 0;
}

static int prefixed(const char *path, const char *prefix)
{
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

unsigned roles_route_service(const char *pattern)
{
    if (strcmp(pattern, "/healthz") == 0 || strcmp(pattern, "/readyz") == 0)
        return 0;
    if (prefixed(pattern, "/ocsp/"))
        return SERVICE_OCSP;
    if (prefixed(pattern, "/crl/") || prefixed(pattern, "/ca/"))
        return SERVICE_PUBLISH;
    if (prefixed(pattern, "/tsa/"))
        return SERVICE_TSA;
    return SERVICE_API; /* the REST API, the console, ACME, EST, SCEP, CMP */
}

struct http_route *roles_routes(const struct roles *r, const struct http_route *table, size_t n,
                                size_t *kept, size_t *serving)
{
    struct http_route *out = xcalloc(n > 0 ? n : 1, sizeof(*out));

    *kept = *serving = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned service = roles_route_service(table[i].pattern);
        if (service != 0 && !(r->services & service))
            continue;
        out[(*kept)++] = table[i];
        if (service != 0)
            (*serving)++;
    }
    return out;
}

unsigned roles_key_purposes(const struct roles *r)
{
    unsigned p = 0;

    if (r->services & SERVICE_API)
        return 0; /* a CA node: every purpose (its CAs, enrollment RAs, secrets, units) */
    if (r->services & SERVICE_OCSP)
        p |= 1u << KEY_PURPOSE_OCSP; /* live answers, with delegated responders only */
    if (r->services & SERVICE_TSA)
        p |= 1u << KEY_PURPOSE_TSA;
    if (r->jobs & JOB_CRL)
        p |= 1u << KEY_PURPOSE_CA;
    if (r->jobs & JOB_OCSP) /* pre-signing (CA-signed too) and responder certificates */
        p |= 1u << KEY_PURPOSE_OCSP | 1u << KEY_PURPOSE_CA;
    if (r->jobs & JOB_CHECKPOINT)
        p |= 1u << KEY_PURPOSE_AUDIT;
    if (r->jobs & (JOB_NOTICES | JOB_EXPIRY)) /* their events go to the tenants' webhooks */
        p |= 1u << KEY_PURPOSE_WEBHOOK;
    return p | KEY_PURPOSES_LIMITED;
}

static const char *bits_text(unsigned bits, const struct name_bit *names, size_t n, char *buf,
                             size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (bits & names[i].bit)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     names[i].name);
    if (buf[0] == '\0')
        snprintf(buf, len, "none");
    return buf;
}

const char *roles_services_text(unsigned bits, char *buf, size_t len)
{
    return bits_text(bits, services, ARRAY_LEN(services), buf, len);
}

const char *roles_jobs_text(unsigned bits, char *buf, size_t len)
{
    return bits_text(bits, jobs, ARRAY_LEN(jobs), buf, len);
}

void roles_describe(const struct roles *r, FILE *f)
{
    unsigned keys = roles_key_purposes(r);
    char buf[200];

    fprintf(f, "services: %s\n", roles_services_text(r->services, buf, sizeof(buf)));
    fprintf(f, "jobs: %s\n", roles_jobs_text(r->jobs, buf, sizeof(buf)));
    /* The public listener always opens: CMP and SCEP are there too, beside OCSP, CRLs, TSA. */
    fprintf(f, "listeners: %s\n", r->services & SERVICE_API ? "api, public" : "public");
    if (keys == 0) {
        fprintf(f, "keys: every purpose\n");
        return;
    }
    buf[0] = '\0';
    for (int p = KEY_PURPOSE_CA; p <= KEY_PURPOSE_CMP_SECRET; p++)
        if (keys & (1u << p))
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     key_purpose_name((enum key_purpose)p));
    fprintf(f, "keys: %s only\n", buf[0] ? buf : "none");
}
