/*
 * scep_load.c — a load generator for bench/scep.sh: N clients, each on a
 * thread of its own with one kept-alive TLS connection (libcurl), enroll
 * RSA-2048 keys for a time, either by SCEP PKCSReq (a pkiMessage POSTed to
 * PKIOperation: the CSR with its challengePassword, enveloped for the RA
 * certificate with AES-256-CBC, signed with the client's self-signed
 * certificate, SHA-256) or by vouch's REST issuance (POST /certificates with
 * the CSR in JSON, a bearer token).  Every client makes its key and all its
 * messages before the clock starts (each PKCSReq a transactionID of its
 * own: a repeat would be answered from the first one's record); answers are
 * counted only if they carry a certificate (a CertRep with pkiStatus
 * SUCCESS, REST 201).
 *
 *   scep_load -u URL -c CAFILE -n CLIENTS -t SECONDS -w WARMUP -m MESSAGES
 *             (-e CHALLENGE -R RA.der | -r TOKEN) [-P name=pid]...
 *
 * -e: URL is the SCEP endpoint (?operation=PKIOperation is appended); -r:
 * URL is the tenant's API base (/certificates).  -m: messages per client
 * (REST sends them in turn; a SCEP client that has sent them all stops, and
 * says so).  Prints the rate
 * and, for each -P process, its CPU time per enrollment.  Asserts nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define PIDS 8

struct body {
    unsigned char *data;
    size_t len;
};

struct client {
    pthread_t thread;
    int id;
    struct body *bodies;
    long done, failed;
    int ran_out;
};

struct answer {
    unsigned char *data;
    size_t len;
};

static const char *url, *cafile, *challenge, *token, *ra_path;
static int clients = 16, seconds = 10, warmup = 2, messages = 256;
static volatile int counting, stopping;
static X509 *ra;
static int nid_type, nid_txid, nid_nonce;

static void die(const char *what)
{
    fprintf(stderr, "scep_load: %s\n", what);
    exit(1);
}

/* An RSA-2048 key, its CSR (with the challenge) and a self-signed certificate. */
static unsigned char *csr_new(EVP_PKEY *k, int client, int *len)
{
    X509_REQ *r = X509_REQ_new();
    char cn[64];
    unsigned char *der = NULL;

    snprintf(cn, sizeof(cn), "c%d.scep.bench.example", client);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
                               (unsigned char *)cn, -1, -1, 0);
    if (challenge != NULL)
        X509_REQ_add1_attr_by_NID(r, NID_pkcs9_challengePassword, MBSTRING_ASC,
                                  (const unsigned char *)challenge, -1);
    X509_REQ_set_pubkey(r, k);
    if (X509_REQ_sign(r, k, EVP_sha256()) <= 0 || (*len = i2d_X509_REQ(r, &der)) <= 0)
        die("cannot make a CSR");
    X509_REQ_free(r);
    return der;
}

static X509 *self_signed(EVP_PKEY *k, int client)
{
    X509 *x = X509_new();
    char cn[64];

    snprintf(cn, sizeof(cn), "c%d.scep.bench.example", client);
    ASN1_INTEGER_set(X509_get_serialNumber(x), client + 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (unsigned char *)cn,
                               -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), -300);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    if (X509_sign(x, k, EVP_sha256()) <= 0)
        die("cannot make a certificate");
    return x;
}

static void attr_add(PKCS7_SIGNER_INFO *si, int nid, int type, const void *data, int len)
{
    ASN1_STRING *s = ASN1_STRING_type_new(type);

    if (s == NULL || ASN1_STRING_set(s, data, len) != 1 ||
        PKCS7_add_signed_attribute(si, nid, type, s) != 1)
        die("cannot add an attribute");
}

/* A PKCSReq pkiMessage (RFC 8894 §3.2) of csr, transactionID txid. */
static struct body pkcsreq(EVP_PKEY *k, X509 *cert, const unsigned char *csr, int csr_len,
                           const char *txid)
{
    STACK_OF(X509) *to = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(csr, csr_len), *env_bio;
    PKCS7 *env, *p7;
    PKCS7_SIGNER_INFO *si;
    unsigned char nonce[16], *env_der = NULL, *der = NULL;
    int env_len, n;
    struct body b;

    sk_X509_push(to, ra);
    if ((env = PKCS7_encrypt(to, in, EVP_aes_256_cbc(), PKCS7_BINARY)) == NULL ||
        (env_len = i2d_PKCS7(env, &env_der)) <= 0)
        die("cannot make the envelope");
    p7 = PKCS7_sign(NULL, NULL, NULL, NULL, PKCS7_BINARY | PKCS7_PARTIAL);
    if (p7 == NULL ||
        (si = PKCS7_sign_add_signer(p7, cert, k, EVP_sha256(), PKCS7_NOSMIMECAP)) == NULL ||
        RAND_bytes(nonce, sizeof(nonce)) != 1)
        die("cannot make the SignedData");
    attr_add(si, nid_type, V_ASN1_PRINTABLESTRING, "19", 2);
    attr_add(si, nid_txid, V_ASN1_PRINTABLESTRING, txid, (int)strlen(txid));
    attr_add(si, nid_nonce, V_ASN1_OCTET_STRING, nonce, sizeof(nonce));
    env_bio = BIO_new_mem_buf(env_der, env_len);
    if (PKCS7_final(p7, env_bio, PKCS7_BINARY) != 1 || (n = i2d_PKCS7(p7, &der)) <= 0)
        die("cannot sign the pkiMessage");
    b.data = der;
    b.len = (size_t)n;
    BIO_free(env_bio);
    BIO_free(in);
    OPENSSL_free(env_der);
    PKCS7_free(env);
    PKCS7_free(p7);
    sk_X509_free(to);
    return b;
}

/* REST: the JSON of POST /certificates with the CSR as PEM (newlines escaped). */
static struct body rest_body(const unsigned char *csr, int csr_len)
{
    char *b64 = malloc((size_t)(csr_len + 2) / 3 * 4 + 1), *out;
    struct body b;

    if (b64 == NULL || (out = OPENSSL_malloc((size_t)(csr_len + 2) / 3 * 4 + 256)) == NULL)
        die("out of memory");
    EVP_EncodeBlock((unsigned char *)b64, csr, csr_len);
    sprintf(out,
            "{\"ca\": \"issuing\", \"profile\": \"tls-client\", \"csr\": \"-----BEGIN "
            "CERTIFICATE REQUEST-----\\n%s\\n-----END CERTIFICATE REQUEST-----\\n\"}",
            b64);
    free(b64);
    b.data = (unsigned char *)out;
    b.len = strlen(out);
    return b;
}

static void client_prepare(struct client *c)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    X509 *cert;
    unsigned char *csr;
    int csr_len = 0;

    if (k == NULL || (c->bodies = calloc((size_t)messages, sizeof(*c->bodies))) == NULL)
        die("out of memory");
    csr = csr_new(k, c->id, &csr_len);
    cert = self_signed(k, c->id);
    for (int i = 0; i < messages; i++) {
        char txid[64];
        snprintf(txid, sizeof(txid), "bench-%d-%d-%ld", c->id, i, (long)time(NULL));
        c->bodies[i] =
            challenge != NULL ? pkcsreq(k, cert, csr, csr_len, txid) : rest_body(csr, csr_len);
    }
    OPENSSL_free(csr);
    X509_free(cert);
    EVP_PKEY_free(k);
}

static size_t collect(char *p, size_t size, size_t n, void *u)
{
    struct answer *a = u;
    unsigned char *d = realloc(a->data, a->len + size * n);

    if (d == NULL)
        die("out of memory");
    memcpy(d + a->len, p, size * n);
    a->data = d;
    a->len += size * n;
    return size * n;
}

/*
 * Whether a CertRep says SUCCESS: its DER holds the signed attribute pkiStatus
 * (2.16.840.1.113733.1.9.3) with the value PrintableString "0".  Looked for as
 * bytes, not parsed: OpenSSL decodes the certificates a PKCS7 carries, which
 * would cost this client (on the server's cores) more than the check is worth.
 */
static int certrep_success(const struct answer *a)
{
    static const unsigned char success[] = {0x06, 0x0a, 0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x45,
                                            0x01, 0x09, 0x03, 0x31, 0x03, 0x13, 0x01, '0'};

    return a->len >= sizeof(success) && memmem(a->data, a->len, success, sizeof(success)) != NULL;
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
    snprintf(target, sizeof(target), "%s%s", url,
             challenge ? "?operation=PKIOperation" : "/certificates");
    hdr = curl_slist_append(hdr, challenge ? "Content-Type: application/x-pki-message"
                                           : "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, target);
    curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    for (int i = 0; !stopping; i++) {
        struct answer a = {0};
        int ok;
        if (i == messages && challenge != NULL) {
            c->ran_out = 1; /* a PKCSReq sent again would be answered from its record */
            break;
        }
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->bodies[i % messages].data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)c->bodies[i % messages].len);
        ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
             (challenge ? status == 200 && certrep_success(&a) : status == 201);
        if (counting)
            ok ? c->done++ : c->failed++;
        free(a.data);
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

static void ra_load(void)
{
    FILE *f = fopen(ra_path, "rb");

    if (f == NULL || (ra = d2i_X509_fp(f, NULL)) == NULL)
        die("-R: not a DER certificate");
    fclose(f);
}

#define USAGE                                                                                      \
    "usage: scep_load -u URL -c CAFILE -n N -t S -w S -m M (-e CHALLENGE -R RA.der | -r TOKEN) "   \
    "[-P name=pid]"

int main(int argc, char **argv)
{
    struct client *cs;
    const char *names[PIDS];
    int pids[PIDS], npids = 0, opt, ran_out = 0;
    double cpu0[PIDS];
    long done = 0, failed = 0;

    while ((opt = getopt(argc, argv, "u:c:n:t:w:m:e:R:r:P:")) != -1) {
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
        case 'm':
            messages = atoi(optarg);
            break;
        case 'e':
            challenge = optarg;
            break;
        case 'R':
            ra_path = optarg;
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
            die(USAGE);
        }
    }
    if (url == NULL || cafile == NULL || (challenge == NULL) == (token == NULL) || clients < 1 ||
        messages < 1 || (challenge != NULL && ra_path == NULL))
        die(USAGE);
    nid_type = OBJ_create("2.16.840.1.113733.1.9.2", "scepMessageType", "scepMessageType");
    nid_nonce = OBJ_create("2.16.840.1.113733.1.9.5", "scepSenderNonce", "scepSenderNonce");
    nid_txid = OBJ_create("2.16.840.1.113733.1.9.7", "scepTransactionID", "scepTransactionID");
    if (challenge != NULL)
        ra_load();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((cs = calloc((size_t)clients, sizeof(*cs))) == NULL)
        die("out of memory");
    for (int i = 0; i < clients; i++) {
        cs[i].id = i;
        client_prepare(&cs[i]);
    }
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
        ran_out += cs[i].ran_out;
        for (int k = 0; k < messages; k++)
            OPENSSL_free(cs[i].bodies[k].data);
        free(cs[i].bodies);
    }
    printf("enrollments: %ld in %d s with %d clients = %.1f /s (%ld failed)\n", done, seconds,
           clients, (double)done / seconds, failed);
    if (ran_out > 0)
        printf("WARNING: %d clients sent all their %d messages before the end: raise -m\n", ran_out,
               messages);
    for (int i = 0; i < npids; i++)
        printf("cpu %s: %.0f us per enrollment\n", names[i],
               done ? cpu0[i] * 1e6 / (double)done : 0.0);
    free(cs);
    curl_global_cleanup();
    return 0;
}
