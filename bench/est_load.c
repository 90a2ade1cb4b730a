/*
 * est_load.c — a load generator for bench/est.sh: N clients, each on a thread
 * of its own with one kept-alive TLS connection (libcurl), enroll P-256 keys
 * for a time, either by EST simpleenroll (base64 PKCS#10, HTTP Basic) or by
 * vouch's REST issuance (POST /certificates with the CSR in JSON, a bearer
 * token).  Every client makes its keys and CSRs before the clock starts;
 * answers are counted only if they carry a certificate (EST 200, REST 201).
 *
 *   est_load -u URL -c CAFILE -n CLIENTS -t SECONDS -w WARMUP
 *            (-e USER:PASSWORD | -r TOKEN) [-P name=pid]...
 *
 * -e: URL is the EST base (.../simpleenroll is appended); -r: URL is the
 * tenant's API base (.../certificates is appended).  Prints the rate and,
 * for each -P process, its CPU time per enrollment.  Asserts nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define POOL 64 /* CSRs per client, used in turn */
#define PIDS 8

struct client {
    pthread_t thread;
    int id;
    char *bodies[POOL];
    long done, failed;
};

static const char *url, *cafile, *userpass, *token;
static int clients = 16, seconds = 10, warmup = 2;
static volatile int counting, stopping;

static void die(const char *what)
{
    fprintf(stderr, "est_load: %s\n", what);
    exit(1);
}

/* A CSR for a new P-256 key: DER. */
static unsigned char *csr_new(int client, int i, int *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *r = X509_REQ_new();
    X509_EXTENSIONS *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *san;
    char cn[64], alt[80];
    unsigned char *der = NULL;

    if (k == NULL || r == NULL || exts == NULL)
        die("out of memory");
    snprintf(cn, sizeof(cn), "c%d-%d.bench.example", client, i);
    snprintf(alt, sizeof(alt), "DNS:%s", cn);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
                               (unsigned char *)cn, -1, -1, 0);
    san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, alt);
    sk_X509_EXTENSION_push(exts, san);
    X509_REQ_add_extensions(r, exts);
    X509_REQ_set_pubkey(r, k);
    if (X509_REQ_sign(r, k, EVP_sha256()) <= 0 || (*len = i2d_X509_REQ(r, &der)) <= 0)
        die("cannot make a CSR");
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    return der;
}

/* The request body: EST base64 on one line, or REST JSON with the PEM (newlines escaped). */
static char *body_new(int client, int i)
{
    int len = 0;
    unsigned char *der = csr_new(client, i, &len);
    char *b64 = malloc((size_t)(len + 2) / 3 * 4 + 1), *out;

    if (b64 == NULL)
        die("out of memory");
    EVP_EncodeBlock((unsigned char *)b64, der, len);
    OPENSSL_free(der);
    if (userpass != NULL)
        return b64;
    out = malloc(strlen(b64) + 256);
    if (out == NULL)
        die("out of memory");
    sprintf(out,
            "{\"ca\": \"issuing\", \"profile\": \"tls-server\", \"csr\": \"-----BEGIN "
            "CERTIFICATE REQUEST-----\\n%s\\n-----END CERTIFICATE REQUEST-----\\n\"}",
            b64);
    free(b64);
    return out;
}

static size_t sink(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

static void *run(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char target[1024], auth[1200];
    long status = 0;

    if (h == NULL)
        die("curl_easy_init");
    snprintf(target, sizeof(target), "%s/%s", url, userpass ? "simpleenroll" : "certificates");
    hdr = curl_slist_append(hdr, userpass ? "Content-Type: application/pkcs10"
                                          : "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, target);
    curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (userpass != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, userpass);
    }
    for (int i = 0; !stopping; i = (i + 1) % POOL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->bodies[i]);
        if (curl_easy_perform(h) == CURLE_OK &&
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            status == (userpass ? 200 : 201)) {
            if (counting)
                c->done++;
        } else if (counting) {
            c->failed++;
        }
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

/* CPU seconds (user + system) of process pid so far; -1 if it is gone. */
static double proc_cpu(int pid)
{
    char path[64], buf[2048], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
    struct client *cs;
    const char *names[PIDS];
    int pids[PIDS], npids = 0, opt;
    double cpu0[PIDS];
    long done = 0, failed = 0;

    while ((opt = getopt(argc, argv, "u:c:n:t:w:e:r:P:")) != -1) {
        switch (opt) {
        case 'u':
            url = optarg;
            break;
        case 'c':
            cafile = optarg;
            break;
        case 'n':
            clients = atoi(optarg);
            break;
        case 't':
            seconds = atoi(optarg);
            break;
        case 'w':
            warmup = atoi(optarg);
            break;
        case 'e':
            userpass = optarg;
            break;
        case 'r':
            token = optarg;
            break;
        case 'P':
            if (npids < PIDS && strchr(optarg, '=') != NULL) {
                names[npids] = optarg;
                *strchr(optarg, '=') = '\0';
                pids[npids] = atoi(optarg + strlen(optarg) + 1);
                npids++;
            }
            break;
        default:
            die("usage: est_load -u URL -c CAFILE -n N -t S -w S (-e USER:PW | -r TOKEN) [-P "
                "n=pid]");
        }
    }
    if (url == NULL || cafile == NULL || (userpass == NULL) == (token == NULL) || clients < 1)
        die("usage: est_load -u URL -c CAFILE -n N -t S -w S (-e USER:PW | -r TOKEN)");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cs = calloc((size_t)clients, sizeof(*cs));
    if (cs == NULL)
        die("out of memory");
    for (int i = 0; i < clients; i++)
        for (int k = 0; k < POOL; k++)
            cs[i].bodies[k] = body_new(i, k);
    for (int i = 0; i < clients; i++)
        if (pthread_create(&cs[i].thread, NULL, run, &cs[i]) != 0)
            die("pthread_create");
    sleep((unsigned)warmup);
    for (int i = 0; i < npids; i++)
        cpu0[i] = proc_cpu(pids[i]);
    counting = 1;
    sleep((unsigned)seconds);
    counting = 0;
    for (int i = 0; i < npids; i++)
        cpu0[i] = proc_cpu(pids[i]) - cpu0[i];
    stopping = 1;
    for (int i = 0; i < clients; i++) {
        pthread_join(cs[i].thread, NULL);
        done += cs[i].done;
        failed += cs[i].failed;
        for (int k = 0; k < POOL; k++)
            free(cs[i].bodies[k]);
    }
    printf("enrollments: %ld in %d s with %d clients = %.1f /s (%ld failed)\n", done, seconds,
           clients, (double)done / seconds, failed);
    for (int i = 0; i < npids; i++)
        printf("cpu %s: %.0f us per enrollment\n", names[i],
               done ? cpu0[i] * 1e6 / (double)done : 0.0);
    free(cs);
    curl_global_cleanup();
    return 0;
}
