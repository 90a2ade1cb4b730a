/*
 * test_cli.c — the vouch command-line tool (src/cli).
 *
 * Every command maps to its route of docs/api.md (method, path, JSON body)
 * without a network; usage errors exit 2; `inspect` prints certificates, CSRs
 * and CRLs made here, in PEM and DER.  End to end, a one-shot HTTP responder
 * on 127.0.0.1 (ephemeral port, a thread joined before each test returns)
 * answers canned JSON: server errors print one line and exit 1, lists print
 * as tables, files are written, an operation held back for approval (202)
 * prints its request or, with --wait, waits for the decision.  Files live in
 * a temporary directory removed by the group teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "cli/cli_offline.h"

#define TOKEN   "vouch_testtoken0123456789"
#define MAX_ARG 48

static char tmpdir[64];
static EVP_PKEY *key;
static X509 *cert;
static X509_REQ *csr;
static X509_CRL *crl;

/* ---- files -------------------------------------------------------------------------------- */

/* The path of name in the temporary directory; the caller frees. */
static char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static void write_bytes(const char *name, const void *data, size_t len)
{
    char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    free(path);
}

static void write_text(const char *name, const char *text)
{
    write_bytes(name, text, strlen(text));
}

/* The contents of a temporary file, NUL-terminated; the caller frees. */
static char *read_tmp(const char *name, size_t *len)
{
    char *path = tmp_path(name);
    struct err e;
    size_t n;
    char *data = (char *)file_read(path, 1 << 20, &n, &e);

    free(path);
    if (data != NULL && len != NULL)
        *len = n;
    return data;
}

/* ---- X.509 objects made here -------------------------------------------------------------- */

static X509_NAME *name_cn(const char *cn)
{
    X509_NAME *n = X509_NAME_new();

    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0),
        1);
    return n;
}

static X509 *cert_make(void)
{
    X509 *x = X509_new();
    X509_NAME *n = name_cn("inspect.example");

    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234), 1);
    assert_int_equal(X509_set_subject_name(x, n), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    X509_NAME_free(n);
    return x;
}

static X509_REQ *csr_make(void)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *n = name_cn("csr.example");

    assert_int_equal(X509_REQ_set_subject_name(r, n), 1);
    assert_int_equal(X509_REQ_set_pubkey(r, key), 1);
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    X509_NAME_free(n);
    return r;
}

static X509_REVOKED *revoked_make(ASN1_TIME *when)
{
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();

    assert_int_equal(ASN1_INTEGER_set(serial, 0xbeef), 1);
    assert_int_equal(X509_REVOKED_set_serialNumber(r, serial), 1);
    assert_int_equal(X509_REVOKED_set_revocationDate(r, when), 1);
    assert_int_equal(ASN1_ENUMERATED_set(reason, CRL_REASON_CESSATION_OF_OPERATION), 1);
    assert_int_equal(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0), 1);
    ASN1_INTEGER_free(serial);
    ASN1_ENUMERATED_free(reason);
    return r;
}

static X509_CRL *crl_make(void)
{
    X509_CRL *c = X509_CRL_new();
    X509_NAME *n = name_cn("inspect.example");
    ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
    ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), 1, 0);

    assert_int_equal(X509_CRL_set_version(c, 1), 1);
    assert_int_equal(X509_CRL_set_issuer_name(c, n), 1);
    assert_int_equal(X509_CRL_set1_lastUpdate(c, now), 1);
    assert_int_equal(X509_CRL_set1_nextUpdate(c, next), 1);
    assert_int_equal(X509_CRL_add0_revoked(c, revoked_make(now)), 1);
    assert_int_equal(X509_CRL_sort(c), 1);
    assert_true(X509_CRL_sign(c, key, EVP_sha256()) > 0);
    ASN1_TIME_free(now);
    ASN1_TIME_free(next);
    X509_NAME_free(n);
    return c;
}

/* Writes obj as PEM and DER files "<stem>.pem" and "<stem>.der". */
#define WRITE_BOTH(stem, obj, pem_fn, der_fn)                                                      \
    do {                                                                                           \
        char *p_ = tmp_path(stem ".pem"), *d_ = tmp_path(stem ".der");                             \
        BIO *b_ = BIO_new_file(p_, "w");                                                           \
        assert_int_equal(pem_fn(b_, obj), 1);                                                      \
        BIO_free(b_);                                                                              \
        b_ = BIO_new_file(d_, "wb");                                                               \
        assert_int_equal(der_fn(b_, obj), 1);                                                      \
        BIO_free(b_);                                                                              \
        free(p_);                                                                                  \
        free(d_);                                                                                  \
    } while (0)

/* A CSR whose signature no longer matches: its last byte (in the signature) flipped. */
static void write_tampered_csr(void)
{
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(csr, &der);

    assert_true(len > 0);
    der[len - 1] ^= 0x01;
    write_bytes("tampered.der", der, (size_t)len);
    OPENSSL_free(der);
}

static void write_fixtures(void)
{
    char *chain, *one, *path = tmp_path("key.pem");
    BIO *b = BIO_new_file(path, "w");

    WRITE_BOTH("cert", cert, PEM_write_bio_X509, i2d_X509_bio);
    WRITE_BOTH("csr", csr, PEM_write_bio_X509_REQ, i2d_X509_REQ_bio);
    WRITE_BOTH("crl", crl, PEM_write_bio_X509_CRL, i2d_X509_CRL_bio);
    assert_int_equal(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    BIO_free(b);
    free(path);
    write_tampered_csr();
    one = read_tmp("cert.pem", NULL);
    chain = xasprintf("%s%s", one, one);
    write_text("chain.pem", chain);
    free(chain);
    free(one);
    write_text("garbage.bin", "\x30\x03\x02\x01");
    /* Request inputs: PEM text, a PKCS#12 (bytes), a profile, a broken profile. */
    write_text("req.csr", "CSR-PEM\n");
    write_text("ca.pem", "CA-PEM\n");
    write_text("pw.txt", "s3cret pass\nsecond line ignored\n");
    write_text("chain-in.pem", "CHAIN-PEM\n");
    write_text("ca-key.pem", "KEY-PEM\n");
    write_bytes("ca.p12", "\x01\x02\x03", 3);
    write_text("profile.json", "{\"a\": 1}");
    write_text("bad.json", "{\"a\": ");
    /* An ACME endpoint's settings: the command line's caa_check wins over the file's. */
    write_text("acme.json",
               "{\"caa_check\": true, \"website\": \"https://w\", \"authz_seconds\": 600}");
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/vouch-test-cli-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    setenv("VOUCH_CONFIG", "", 1); /* no config file of the machine running the tests */
    unsetenv("VOUCH_URL");
    unsetenv("VOUCH_TOKEN");
    unsetenv("VOUCH_TENANT");
    unsetenv("VOUCH_CACERT");
    unsetenv("VOUCH_INSECURE_HTTP");
    key = EVP_EC_gen("P-256");
    if (key == NULL)
        return -1;
    cert = cert_make();
    csr = csr_make();
    crl = crl_make();
    write_fixtures();
    return 0;
}

static int group_teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *ent;

    (void)state;
    while (d != NULL && (ent = readdir(d)) != NULL) {
        char *path;

        if (ent->d_name[0] == '.')
            continue;
        path = tmp_path(ent->d_name);
        unlink(path);
        free(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(tmpdir);
    X509_free(cert);
    X509_REQ_free(csr);
    X509_CRL_free(crl);
    EVP_PKEY_free(key);
    return 0;
}

/* ---- building requests -------------------------------------------------------------------- */

struct words {
    int argc;
    char *argv[MAX_ARG];
};

/* Splits line at spaces; "@name" becomes the path of name in the temporary directory. */
static void words_split(struct words *w, const char *line)
{
    char *copy = xstrdup(line), *save = NULL;

    w->argc = 0;
    for (char *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        assert_true(w->argc < MAX_ARG);
        w->argv[w->argc++] = t[0] == '@' ? tmp_path(t + 1) : xstrdup(t);
    }
    free(copy);
}

static void words_free(struct words *w)
{
    for (int i = 0; i < w->argc; i++)
        free(w->argv[i]);
    w->argc = 0;
}

/* Builds the request of `line` in tenant t1; returns what cli_request_build returns. */
static int build(const char *line, struct cli_request *req, struct err *e)
{
    struct words w;
    int rc;

    err_clear(e);
    memset(req, 0, sizeof(*req));
    words_split(&w, line);
    rc = cli_request_build(w.argc, w.argv, "t1", req, e);
    words_free(&w);
    return rc;
}

static void assert_body(const json_t *body, const char *expected)
{
    json_error_t jerr;
    json_t *want;
    char *got;

    if (expected == NULL) {
        assert_null(body);
        return;
    }
    want = json_loads(expected, 0, &jerr);
    assert_non_null(want);
    assert_non_null(body);
    got = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!json_equal(want, (json_t *)body))
        fail_msg("body %s, expected %s", got, expected);
    free(got);
    json_decref(want);
}

#define T "/api/v1/t/t1"

/* Every command and the request it sends, as docs/api.md lists the routes. */
static const struct {
    const char *line, *method, *path, *body;
} routes[] = {
    {"tenant create acme", "POST", "/api/v1/tenants", "{\"name\":\"acme\"}"},
    {"tenant list", "GET", "/api/v1/tenants", NULL},
    {"system verify", "GET", "/api/v1/audit/verify", NULL},
    {"system export --limit 5", "GET", "/api/v1/audit/export?limit=5", NULL},
    {"tenant show acme", "GET", "/api/v1/tenants/acme", NULL},
    {"tenant suspend acme --reason unpaid", "POST", "/api/v1/tenants/acme/suspend",
     "{\"reason\":\"unpaid\"}"},
    {"tenant reactivate acme", "POST", "/api/v1/tenants/acme/reactivate", "{}"},
    {"tenant delete acme --reason left", "DELETE", "/api/v1/tenants/acme?reason=left", NULL},
    {"tenant limits acme --certs-per-hour 100 --requests-per-second 5", "PUT",
     "/api/v1/tenants/acme/limits", "{\"certs_per_hour\":100,\"requests_per_second\":5}"},
    {"tenant token acme --expires-days 90", "POST", "/api/v1/tenants/acme/tokens",
     "{\"name\":\"admin\",\"expires_days\":90}"},
    {"ca create issuing --subject /CN=Issuing --parent root --external --path-len 0", "POST",
     T "/cas",
     "{\"name\":\"issuing\",\"subject\":\"/CN=Issuing\",\"parent\":\"root\",\"external\":true,"
     "\"path_len\":0}"},
    {"ca list", "GET", T "/cas", NULL},
    {"ca show root", "GET", T "/cas/root", NULL},
    {"ca csr issuing -o @out.csr", "GET", T "/cas/issuing/csr", NULL},
    {"ca import-cert issuing @ca.pem --chain @chain-in.pem", "POST", T "/cas/issuing/certificate",
     "{\"certificate\":\"CA-PEM\\n\",\"chain\":\"CHAIN-PEM\\n\"}"},
    {"ca import old --pkcs12 @ca.p12 --password pw", "POST", T "/cas/import",
     "{\"name\":\"old\",\"pkcs12\":\"AQID\",\"password\":\"pw\"}"},
    {"ca import old --key @ca-key.pem --cert @ca.pem --chain @chain-in.pem", "POST",
     T "/cas/import",
     "{\"name\":\"old\",\"key\":\"KEY-PEM\\n\",\"certificate\":\"CA-PEM\\n\","
     "\"chain\":\"CHAIN-PEM\\n\"}"},
    {"ca disable issuing", "POST", T "/cas/issuing/disable", "{}"},
    {"ca offline-request issuing --root offroot -o @request.json", "POST",
     T "/cas/issuing/offline-request", "{\"root\":\"offroot\"}"},
    {"import @ca.pem --pin ab:cd", "POST", T "/offline/import",
     "{\"bundle\":\"CA-PEM\\n\",\"pin\":\"ab:cd\"}"},
    {"profile list", "GET", T "/profiles", NULL},
    {"profile show web --version 2", "GET", T "/profiles/web?version=2", NULL},
    {"profile create web @profile.json", "POST", T "/profiles",
     "{\"name\":\"web\",\"document\":{\"a\":1}}"},
    {"profile update web @profile.json", "PUT", T "/profiles/web", "{\"document\":{\"a\":1}}"},
    {"profile clone web web2", "POST", T "/profiles/web/clone", "{\"name\":\"web2\"}"},
    {"cert issue --ca issuing --profile tls-server --csr @req.csr --entity ent-1 "
     "--validity-days 90 -o @out.pem --chain-out @chain-out.pem",
     "POST", T "/certificates",
     "{\"ca\":\"issuing\",\"profile\":\"tls-server\",\"csr\":\"CSR-PEM\\n\",\"entity\":\"ent-1\","
     "\"validity_days\":90}"},
    {"cert keygen --ca issuing --profile tls-client --subject /CN=dev --san dns:a.example "
     "--san dns:b.example --key-type ec-p256 --password pw -o @dev.p12",
     "POST", T "/certificates/keygen",
     "{\"ca\":\"issuing\",\"profile\":\"tls-client\",\"subject\":\"/CN=dev\","
     "\"sans\":[\"dns:a.example\",\"dns:b.example\"],\"key_type\":\"ec-p256\","
     "\"password\":\"pw\"}"},
    {"cert keygen --ca issuing --profile tls-client --subject /CN=dev --password-file @pw.txt "
     "-o @dev2.p12",
     "POST", T "/certificates/keygen",
     "{\"ca\":\"issuing\",\"profile\":\"tls-client\",\"subject\":\"/CN=dev\","
     "\"password\":\"s3cret pass\"}"},
    {"cert list --status good --ca issuing --limit 5 --expires-before 2027-01-01T00:00:00Z", "GET",
     T "/certificates?status=good&ca=issuing&expires_before=2027-01-01T00%3A00%3A00Z&limit=5",
     NULL},
    {"cert expiring --days 30", "GET", T "/certificates/expiring?days=30", NULL},
    {"report daily --ca issuing --from 2026-12-01T00:00:00Z --format csv", "GET",
     T "/reports/daily?from=2026-12-01T00%3A00%3A00Z&ca=issuing&format=csv", NULL},
    {"cert show 1a2b -o @c.pem", "GET", T "/certificates/1a2b", NULL},
    {"cert revoke 1a2b --reason keyCompromise --invalidity-date 2026-11-01T00:00:00Z", "POST",
     T "/certificates/1a2b/revoke",
     "{\"reason\":\"keyCompromise\",\"invalidity_date\":\"2026-11-01T00:00:00Z\"}"},
    {"cert suspend 1a2b", "POST", T "/certificates/1a2b/suspend", "{}"},
    {"cert suspend 1a2b --wait --wait-timeout 60", "POST", T "/certificates/1a2b/suspend", "{}"},
    {"cert revoke 1a2b --reason superseded --wait", "POST", T "/certificates/1a2b/revoke",
     "{\"reason\":\"superseded\"}"},
    {"cert renew 1a2b --wait -o @renewed.pem", "POST", T "/certificates/1a2b/renew", "{}"},
    {"ca create sub --subject /CN=Sub --parent root --wait --wait-timeout=5", "POST", T "/cas",
     "{\"name\":\"sub\",\"subject\":\"/CN=Sub\",\"parent\":\"root\"}"},
    {"cert reinstate 1a2b", "POST", T "/certificates/1a2b/reinstate", "{}"},
    {"cert renew 1a2b", "POST", T "/certificates/1a2b/renew", "{}"},
    {"cert renew 1a2b --csr @req.csr", "POST", T "/certificates/1a2b/renew",
     "{\"csr\":\"CSR-PEM\\n\"}"},
    {"entity create bob --kind user --email bob@example.com --meta team=ops --meta floor=3", "POST",
     T "/entities",
     "{\"name\":\"bob\",\"kind\":\"user\",\"email\":\"bob@example.com\","
     "\"metadata\":{\"team\":\"ops\",\"floor\":\"3\"}}"},
    {"entity list --kind device", "GET", T "/entities?kind=device", NULL},
    {"entity show ent-1", "GET", T "/entities/ent-1", NULL},
    {"entity update ent-1 --model X2", "PUT", T "/entities/ent-1", "{\"model\":\"X2\"}"},
    {"crl generate issuing -o @crl-out.der --der", "POST", T "/cas/issuing/crl", "{}"},
    {"crl show issuing", "GET", T "/cas/issuing/crl", NULL},
    {"crl generate issuing --delta", "POST", T "/cas/issuing/crl", "{\"delta\":true}"},
    {"crl show issuing --shard 3 --delta", "GET", T "/cas/issuing/crl?shard=3&delta=true", NULL},
    {"ca create sharded --subject /CN=S --parent root --crl-shards 4 "
     "--delta-crl-interval-minutes 15 --delta-crl-validity-hours 6",
     "POST", T "/cas",
     "{\"name\":\"sharded\",\"subject\":\"/CN=S\",\"parent\":\"root\",\"crl_shards\":4,"
     "\"delta_crl_interval_minutes\":15,\"delta_crl_validity_hours\":6}"},
    {"audit export --after 10 --limit 5", "GET", T "/audit/export?after=10&limit=5", NULL},
    {"audit list --after 10 --limit 5", "GET", T "/audit?after=10&limit=5", NULL},
    {"audit verify", "GET", T "/audit/verify", NULL},
    {"audit checkpoint", "POST", T "/audit/checkpoints", "{}"},
    {"audit forward --host siem.example --port 6514 --transport tcp", "PUT", T "/audit/forwarding",
     "{\"host\":\"siem.example\",\"port\":6514,\"transport\":\"tcp\"}"},
    {"audit forwarding", "GET", T "/audit/forwarding", NULL},
    {"audit unforward", "DELETE", T "/audit/forwarding", NULL},
    {"audit checkpoints --after 3", "GET", T "/audit/checkpoints?after=3", NULL},
    {"token create ci --expires-days 30", "POST", T "/tokens",
     "{\"name\":\"ci\",\"expires_days\":30}"},
    {"token rotate --name laptop", "POST", T "/tokens/rotate", "{\"name\":\"laptop\"}"},
    {"token list", "GET", T "/tokens", NULL},
    {"token delete tok-1", "DELETE", T "/tokens/tok-1", NULL},
    {"workflow list", "GET", T "/workflows", NULL},
    {"workflow show profile:web", "GET", T "/workflows/profile%3Aweb", NULL},
    {"workflow set cert.revoke --required 2 --approver p1 --approver p2 --expires-hours 8", "PUT",
     T "/workflows/cert.revoke",
     "{\"required\":2,\"approvers\":[\"p1\",\"p2\"],\"expires_hours\":8}"},
    {"workflow delete ca.create", "DELETE", T "/workflows/ca.create", NULL},
    {"request list --status pending", "GET", T "/requests?status=pending", NULL},
    {"request show req-1", "GET", T "/requests/req-1", NULL},
    {"request approve req-1", "POST", T "/requests/req-1/approve", "{}"},
    {"request reject req-1 --reason no", "POST", T "/requests/req-1/reject", "{\"reason\":\"no\"}"},
    {"webhook show", "GET", T "/webhook", NULL},
    {"webhook set https://hooks.example/x", "PUT", T "/webhook",
     "{\"url\":\"https://hooks.example/x\"}"},
    {"webhook delete", "DELETE", T "/webhook", NULL},
    {"notice show", "GET", T "/notices/settings", NULL},
    {"notice list --state failed --limit 5", "GET", T "/notices?state=failed&limit=5", NULL},
    {"notice set --threshold 10 --threshold 2 --recipient a@example.org --enabled no", "PUT",
     T "/notices/settings",
     "{\"enabled\":false,\"recipients\":[\"a@example.org\"],\"thresholds\":[10,2]}"},
    {"token revoke tok-1", "DELETE", T "/tokens/tok-1", NULL},
    {"token create bot --principal prn-1", "POST", T "/tokens",
     "{\"name\":\"bot\",\"principal\":\"prn-1\"}"},
    {"principal create ci --kind application --allow 10.0.0.0/8 --allow ::1", "POST",
     T "/principals",
     "{\"name\":\"ci\",\"kind\":\"application\",\"allow\":[\"10.0.0.0/8\",\"::1\"]}"},
    {"principal list", "GET", T "/principals", NULL},
    {"principal show prn-1", "GET", T "/principals/prn-1", NULL},
    {"principal disable prn-1", "POST", T "/principals/prn-1/disable", "{}"},
    {"principal enable prn-1", "POST", T "/principals/prn-1/enable", "{}"},
    {"role list", "GET", T "/roles", NULL},
    {"role bind prn-1 auditor", "POST", T "/roles/bind",
     "{\"principal\":\"prn-1\",\"role\":\"auditor\"}"},
    {"role unbind prn-1 auditor --principal-tenant _system", "POST", T "/roles/unbind",
     "{\"principal\":\"prn-1\",\"role\":\"auditor\",\"principal_tenant\":\"_system\"}"},
    {"tsa create t1 --ca issuing --policy 1.2.3 --accept-policy 1.2.4 --hash sha256 --hash sha512 "
     "--key-type ec-p384 --accuracy-ms 250 --include-chain",
     "POST", T "/tsa",
     "{\"name\":\"t1\",\"ca\":\"issuing\",\"policy\":\"1.2.3\",\"policies\":[\"1.2.4\"],"
     "\"hashes\":[\"sha256\",\"sha512\"],\"key_type\":\"ec-p384\",\"accuracy_ms\":250,"
     "\"include_chain\":true}"},
    {"tsa update t1 --status disabled --hash sha384 --accuracy-ms 10", "PUT", T "/tsa/t1",
     "{\"status\":\"disabled\",\"hashes\":[\"sha384\"],\"accuracy_ms\":10}"},
    {"tsa list", "GET", T "/tsa", NULL},
    {"tsa show t1", "GET", T "/tsa/t1", NULL},
    {"tsa tokens t1 --imprint ab01 --limit 5", "GET", T "/tsa/t1/tokens?imprint=ab01&limit=5",
     NULL},
    {"tsa token t1 0a1b", "GET", T "/tsa/t1/tokens/0a1b", NULL},
    {"key list", "GET", T "/keys", NULL},
    {"system audit --after 5", "GET", "/api/v1/audit?after=5", NULL},
    {"key generate --key-type ec-p384", "POST", T "/keys", "{\"key_type\":\"ec-p384\"}"},
    {"key delete key-0123456789abcdef", "DELETE", T "/keys/key-0123456789abcdef", NULL},
    {"ca create cer --subject /CN=C --external --key-id key-0123456789abcdef", "POST", T "/cas",
     "{\"name\":\"cer\",\"subject\":\"/CN=C\",\"key_id\":\"key-0123456789abcdef\","
     "\"external\":true}"},
    {"acme endpoint create web --ca issuing --profile tls-server --profile web2 "
     "--challenge dns-01 --eab-required yes --allow-ip no --caa-identity ca.example "
     "--order-seconds 3600 --terms-of-service https://ca.example/tos",
     "POST", T "/acme/endpoints",
     "{\"name\":\"web\",\"ca\":\"issuing\",\"profiles\":[\"tls-server\",\"web2\"],"
     "\"challenges\":[\"dns-01\"],\"eab_required\":true,\"allow_ip\":false,"
     "\"caa_identities\":[\"ca.example\"],\"order_seconds\":3600,"
     "\"terms_of_service\":\"https://ca.example/tos\"}"},
    {"acme endpoint create web --ca issuing --caa-check off --settings @acme.json", "POST",
     T "/acme/endpoints",
     "{\"name\":\"web\",\"ca\":\"issuing\",\"caa_check\":false,\"website\":\"https://w\","
     "\"authz_seconds\":600}"},
    {"acme endpoint list", "GET", T "/acme/endpoints", NULL},
    {"acme endpoint show web", "GET", T "/acme/endpoints/web", NULL},
    {"acme endpoint update web --status disabled --allow-wildcard false", "PUT",
     T "/acme/endpoints/web", "{\"status\":\"disabled\",\"allow_wildcard\":false}"},
    {"acme eab create web --kid team-a --profile tls-server --reusable", "POST",
     T "/acme/endpoints/web/eab",
     "{\"kid\":\"team-a\",\"profiles\":[\"tls-server\"],\"reusable\":true}"},
    {"acme eab list web", "GET", T "/acme/endpoints/web/eab", NULL},
    {"acme eab revoke web team-a --deactivate-accounts", "POST",
     T "/acme/endpoints/web/eab/team-a/revoke", "{\"deactivate_accounts\":true}"},
    {"est endpoint create routers --ca issuing --profile tls-server --auth basic "
     "--client-ca issuing --retry-after 30",
     "POST", T "/enroll/endpoints",
     "{\"name\":\"routers\",\"ca\":\"issuing\",\"profile\":\"tls-server\","
     "\"auth\":[\"basic\"],\"client_cas\":[\"issuing\"],\"retry_after\":30}"},
    {"est endpoint create phones --protocol scep --ca issuing --profile tls-client "
     "--legacy-algorithms no",
     "POST", T "/enroll/endpoints",
     "{\"name\":\"phones\",\"protocol\":\"scep\",\"ca\":\"issuing\","
     "\"profile\":\"tls-client\",\"legacy_algorithms\":false}"},
    {"est endpoint list", "GET", T "/enroll/endpoints", NULL},
    {"est endpoint show routers", "GET", T "/enroll/endpoints/routers", NULL},
    {"est endpoint update routers --status disabled", "PUT", T "/enroll/endpoints/routers",
     "{\"status\":\"disabled\"}"},
    {"est credential create routers --id r-17 --reusable", "POST",
     T "/enroll/endpoints/routers/credentials", "{\"id\":\"r-17\",\"reusable\":true}"},
    {"est credential list routers", "GET", T "/enroll/endpoints/routers/credentials", NULL},
    {"est credential revoke routers r-17", "POST",
     T "/enroll/endpoints/routers/credentials/r-17/revoke", "{}"},
    {"cmp endpoint create plant --ca issuing --profile tls-client --protection mac "
     "--implicit-confirm yes --confirm-seconds 60 --client-ca root",
     "POST", T "/cmp/endpoints",
     "{\"name\":\"plant\",\"ca\":\"issuing\",\"profiles\":[\"tls-client\"],"
     "\"protection\":[\"mac\"],\"implicit_confirm\":true,\"confirm_seconds\":60,"
     "\"client_cas\":[\"root\"]}"},
    {"cmp endpoint list", "GET", T "/cmp/endpoints", NULL},
    {"cmp endpoint show plant", "GET", T "/cmp/endpoints/plant", NULL},
    {"cmp endpoint update plant --status disabled", "PUT", T "/cmp/endpoints/plant",
     "{\"status\":\"disabled\"}"},
    {"cmp secret create plant --reference dev-1 --profile tls-client --reusable", "POST",
     T "/cmp/endpoints/plant/secrets",
     "{\"reference\":\"dev-1\",\"profiles\":[\"tls-client\"],\"reusable\":true}"},
    {"cmp secret list plant", "GET", T "/cmp/endpoints/plant/secrets", NULL},
    {"cmp secret revoke plant dev-1", "POST", T "/cmp/endpoints/plant/secrets/dev-1/revoke", "{}"},
    {"cert renewal-window 1a2b --start 2027-01-01T00:00:00Z --end 2027-01-02T00:00:00Z "
     "--reason rotation",
     "PUT", T "/certificates/1a2b/renewal-window",
     "{\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\","
     "\"reason\":\"rotation\"}"},
    {"inspect @cert.pem", NULL, NULL, NULL},
};

static void every_command_maps_to_its_route(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
        struct cli_request req;
        struct err e;

        if (build(routes[i].line, &req, &e) != 0)
            fail_msg("%s: %s", routes[i].line, e.msg);
        if (routes[i].method == NULL) {
            assert_null(req.method);
            continue;
        }
        assert_string_equal(req.method, routes[i].method);
        assert_string_equal(req.path, routes[i].path);
        assert_body(req.body, routes[i].body);
        cli_request_free(&req);
    }
}

static void every_row_of_the_command_table_is_covered(void **state)
{
    size_t n;
    const struct cli_command *cmds = cli_commands(&n);

    (void)state;
    for (size_t i = 0; i < n; i++) {
        char *prefix = xasprintf("%s%s%s ", cmds[i].group, cmds[i].verb ? " " : "",
                                 cmds[i].verb ? cmds[i].verb : "");
        int found = 0;

        for (size_t k = 0; k < ARRAY_LEN(routes) && !found; k++) {
            char *line = xasprintf("%s ", routes[k].line);
            found = strncmp(line, prefix, strlen(prefix)) == 0;
            free(line);
        }
        if (!found)
            fail_msg("no route test for \"%s\"", prefix);
        free(prefix);
    }
}

static void path_segments_and_query_values_are_percent_encoded(void **state)
{
    char *argv_show[] = {"cert", "show", "a/b c?"};
    char *argv_list[] = {"cert", "list", "--subject", "CN=a b&c=d", "--san=dns:x.example"};
    struct cli_request req;
    struct err e;

    (void)state;
    assert_int_equal(cli_request_build(3, argv_show, "t 1", &req, &e), 0);
    assert_string_equal(req.path, "/api/v1/t/t%201/certificates/a%2Fb%20c%3F");
    cli_request_free(&req);
    assert_int_equal(cli_request_build(5, argv_list, "t1", &req, &e), 0);
    assert_string_equal(req.path, T "/certificates?subject=CN%3Da%20b%26c%3Dd&san=dns%3Ax.example");
    cli_request_free(&req);
}

static void entity_update_is_a_merge_over_the_current_entity(void **state)
{
    struct cli_request req;
    struct err e;

    (void)state;
    assert_int_equal(build("entity update ent-1 --email new@example.com", &req, &e), 0);
    assert_true(req.merge_current);
    cli_request_free(&req);
    assert_int_equal(build("entity create bob --kind user", &req, &e), 0);
    assert_false(req.merge_current);
    cli_request_free(&req);
}

static void bad_command_lines_are_usage_errors(void **state)
{
    static const char *const lines[] = {
        "frobnicate",
        "cert",
        "cert frobnicate",
        "cert issue --ca x --profile y",
        "cert issue --ca",
        "cert show",
        "cert show a b",
        "cert list --limit ten",
        "cert list --bogus",
        "cert revoke 1 --invalidity-date yesterday",
        "ca import x --pkcs12 @ca.p12",
        "ca import x --pkcs12 @ca.p12 --password p --key @ca-key.pem",
        "ca import x --key @ca-key.pem",
        "ca create r --subject /CN=r --external=yes",
        "ca create r --subject a --subject b",
        "crl show issuing --der",
        "crl show issuing --der -o -",
        "entity update ent-1",
        "entity create bob --kind user --meta novalue",
        "cert keygen --ca i --profile p --subject /CN=x",
        "cert keygen --ca i --profile p --subject /CN=x --password a --password-file @pw.txt",
        "ca import x --pkcs12 @ca.p12 --password p --password-file @pw.txt",
        "audit export --page-size 0",
        "cert suspend 1 --wait-timeout 5",
        "cert suspend 1 --wait --wait-timeout 0",
        "cert suspend 1 --wait --wait-timeout ten",
        "cert suspend 1 --wait --wait-timeout +5",
        "cert suspend 1 --wait --wait-timeout 2592001",
        "cert suspend 1 --wait=yes",
        "cert suspend 1 --wait --wait",
        "cert reinstate 1 --wait",
        "cert keygen --ca i --profile p --subject /CN=x --password pw -o @k.p12 --wait",
        "request approve req-1 --wait",
        "acme",
        "acme endpoint",
        "acme endpoint frobnicate",
        "acme endpoint create web",
        "acme endpoint update web",
        "acme endpoint create web --ca i --eab-required maybe",
        "acme eab revoke web",
        "cert renewal-window 1a2b --start 2027-01-01T00:00:00Z",
        "cert renewal-window 1a2b --start soon --end 2027-01-02T00:00:00Z",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
        struct cli_request req;
        struct err e;

        if (build(lines[i], &req, &e) == 0)
            fail_msg("\"%s\" was accepted", lines[i]);
        if (e.kind != ERR_USAGE)
            fail_msg("\"%s\": not a usage error: %s", lines[i], e.msg);
    }
}

static void unreadable_files_are_errors_but_not_usage_errors(void **state)
{
    struct cli_request req;
    struct err e;

    (void)state;
    assert_int_equal(build("cert issue --ca x --profile y --csr @missing.csr", &req, &e), -1);
    assert_int_not_equal(e.kind, ERR_USAGE);
    assert_non_null(strstr(e.msg, "missing.csr"));
    assert_int_equal(build("profile create web @bad.json", &req, &e), -1);
    assert_int_not_equal(e.kind, ERR_USAGE);
    assert_non_null(strstr(e.msg, "bad.json:1"));
}

/* ---- running vouch ------------------------------------------------------------------------ */

struct run {
    int rc;
    char *out;
    char *err;
};

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* Runs vouch with the arguments of line (split like build()). */
static struct run run_line(const char *line)
{
    struct words w;
    struct run r;
    size_t out_len, err_len;
    FILE *out = open_memstream(&r.out, &out_len), *err = open_memstream(&r.err, &err_len);
    char *with_name = xasprintf("vouch %s", line);

    words_split(&w, with_name);
    r.rc = cli_main(w.argc, w.argv, out, err);
    fclose(out);
    fclose(err);
    words_free(&w);
    free(with_name);
    return r;
}

static void exit_codes_of_usage_help_and_settings(void **state)
{
    static const struct {
        const char *line;
        int rc;
        const char *in_out, *in_err;
    } cases[] = {
        {"", CLI_EXIT_USAGE, NULL, "usage:"},
        {"--help", CLI_EXIT_OK, "usage: vouch", NULL},
        {"--bogus cert list", CLI_EXIT_USAGE, NULL, "unknown option --bogus"},
        {"--url", CLI_EXIT_USAGE, NULL, "--url needs a value"},
        {"cert issue --help", CLI_EXIT_OK, "vouch cert issue --ca CA", NULL},
        {"cert show", CLI_EXIT_USAGE, NULL, "missing SERIAL"},
        {"cert", CLI_EXIT_USAGE, NULL, "vouch cert revoke SERIAL"},
        {"cert list", CLI_EXIT_USAGE, NULL, "no API token"},
        {"--url ftp://x --token t cert list", CLI_EXIT_USAGE, NULL, "http:// or https://"},
        {"inspect", CLI_EXIT_USAGE, NULL, "missing FILE"},
        {"inspect @missing.pem", CLI_EXIT_FAIL, NULL, "missing.pem"},
        {"inspect @cert.der", CLI_EXIT_OK, "kind: certificate (DER)", NULL},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct run r = run_line(cases[i].line);

        if (r.rc != cases[i].rc)
            fail_msg("\"%s\": exit %d, expected %d (%s)", cases[i].line, r.rc, cases[i].rc, r.err);
        if (cases[i].in_out != NULL && strstr(r.out, cases[i].in_out) == NULL)
            fail_msg("\"%s\": output lacks \"%s\"", cases[i].line, cases[i].in_out);
        if (cases[i].in_err != NULL && strstr(r.err, cases[i].in_err) == NULL)
            fail_msg("\"%s\": stderr lacks \"%s\": %s", cases[i].line, cases[i].in_err, r.err);
        run_free(&r);
    }
}

/* ---- inspect ------------------------------------------------------------------------------ */

/* Inspects the temporary file name into a string (caller frees); *rc gets the result. */
static char *inspect(const char *name, int *rc, struct err *e)
{
    char *path = tmp_path(name), *text = NULL;
    size_t len;
    FILE *out = open_memstream(&text, &len);

    err_clear(e);
    *rc = cli_inspect(path, out, e);
    fclose(out);
    free(path);
    return text;
}

static void inspect_prints_kind_and_subject_of_pem_and_der(void **state)
{
    static const struct {
        const char *file, *kind, *name;
    } cases[] = {
        {"cert.pem", "kind: certificate (PEM)", "Subject: CN = inspect.example"},
        {"cert.der", "kind: certificate (DER)", "Subject: CN = inspect.example"},
        {"csr.pem", "kind: certificate request (PEM)", "Subject: CN = csr.example"},
        {"csr.der", "kind: certificate request (DER)", "Subject: CN = csr.example"},
        {"crl.pem", "kind: certificate revocation list (PEM)", "Issuer: CN = inspect.example"},
        {"crl.der", "kind: certificate revocation list (DER)", "Issuer: CN = inspect.example"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct err e;
        int rc;
        char *text = inspect(cases[i].file, &rc, &e);

        if (rc != 0)
            fail_msg("%s: %s", cases[i].file, e.msg);
        if (strstr(text, cases[i].kind) == NULL || strstr(text, cases[i].name) == NULL)
            fail_msg("%s: unexpected output:\n%s", cases[i].file, text);
        free(text);
    }
}

static void inspect_checks_a_csr_signature(void **state)
{
    struct err e;
    int rc;
    char *good = inspect("csr.der", &rc, &e), *bad;

    (void)state;
    assert_int_equal(rc, 0);
    assert_non_null(strstr(good, "Signature check: OK"));
    bad = inspect("tampered.der", &rc, &e);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(bad, "Signature check: FAILED"));
    free(good);
    free(bad);
}

static void inspect_shows_crl_entries_and_every_pem_block(void **state)
{
    struct err e;
    int rc;
    char *text = inspect("crl.pem", &rc, &e), *second;

    (void)state;
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "BEEF"));
    assert_non_null(strstr(text, "Cessation Of Operation"));
    free(text);
    text = inspect("chain.pem", &rc, &e);
    assert_int_equal(rc, 0);
    second = strstr(text, "kind: certificate (PEM)");
    assert_non_null(second);
    assert_non_null(strstr(second + 1, "kind: certificate (PEM)"));
    free(text);
}

static void inspect_refuses_what_is_no_certificate_csr_or_crl(void **state)
{
    static const char *const files[] = {"garbage.bin", "key.pem", "missing.pem", "profile.json"};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        struct err e;
        int rc;
        char *text = inspect(files[i], &rc, &e);

        if (rc != -1)
            fail_msg("%s was accepted", files[i]);
        assert_true(e.msg[0] != '\0');
        free(text);
    }
}

/* ---- a one-shot HTTP responder ------------------------------------------------------------ */

struct responder {
    int fd;
    int port;
    pthread_t thread;
    char *answers[3];
    int n_answers;
    struct buf seen; /* the requests received, one after the other */
};

/* Reads one request (headers and Content-Length body) into seen. */
static void request_read(int c, struct buf *seen)
{
    size_t start = seen->len, want = SIZE_MAX;
    char chunk[4096];
    struct pollfd p = {c, POLLIN, 0};

    while (seen->len - start < want && poll(&p, 1, 3000) == 1) {
        ssize_t n = read(c, chunk, sizeof(chunk));
        char *end, *cl;

        if (n <= 0)
            break;
        buf_append(seen, chunk, (size_t)n);
        buf_append(seen, "", 1);
        seen->len--;
        end = strstr((char *)seen->data + start, "\r\n\r\n");
        if (end != NULL && want == SIZE_MAX) {
            cl = strcasestr((char *)seen->data + start, "\r\nContent-Length:");
            want = (size_t)(end + 4 - ((char *)seen->data + start)) +
                   (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        }
    }
}

static void *responder_main(void *arg)
{
    struct responder *r = arg;

    for (int i = 0; i < r->n_answers; i++) {
        struct pollfd p = {r->fd, POLLIN, 0};
        int c;

        if (poll(&p, 1, 3000) != 1 || (c = accept(r->fd, NULL, NULL)) < 0)
            break;
        request_read(c, &r->seen);
        if (write(c, r->answers[i], strlen(r->answers[i])) < 0)
            perror("responder write");
        close(c);
    }
    return NULL;
}

/* An HTTP/1.1 answer; the caller frees. */
static char *answer_make(int status, const char *type, const char *body)
{
    return xasprintf("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, type, strlen(body), body);
}

/* Answers up to three connections, one after the other, with answers[0..n-1] (freed at stop). */
static void responder_start_n(struct responder *r, char **answers, int n)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    memset(r, 0, sizeof(*r));
    assert_true(n >= 1 && n <= (int)ARRAY_LEN(r->answers));
    for (int i = 0; i < n; i++)
        r->answers[i] = answers[i];
    r->n_answers = n;
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(r->fd >= 0);
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(r->fd, 4), 0);
    assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &len), 0);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->thread, NULL, responder_main, r), 0);
}

static void responder_start(struct responder *r, char *first, char *second)
{
    char *answers[2] = {first, second};

    responder_start_n(r, answers, second ? 2 : 1);
}

/* Joins the thread; the requests seen stay in r->seen until responder_free. */
static void responder_stop(struct responder *r)
{
    pthread_join(r->thread, NULL);
    close(r->fd);
    buf_append(&r->seen, "", 1);
    for (size_t i = 0; i < ARRAY_LEN(r->answers); i++)
        free(r->answers[i]);
}

static void responder_free(struct responder *r)
{
    buf_free(&r->seen);
}

/* Runs "vouch --url <responder> --token TOKEN <line>" against n canned answers. */
static struct run run_against_n(struct responder *r, char **answers, int n, const char *line)
{
    struct run out;
    char *full;

    responder_start_n(r, answers, n);
    full = xasprintf("--url http://127.0.0.1:%d/ --token %s %s", r->port, TOKEN, line);
    out = run_line(full);
    free(full);
    responder_stop(r);
    assert_null(strstr(out.out, TOKEN));
    assert_null(strstr(out.err, TOKEN));
    return out;
}

/* As run_against_n with one or two answers. */
static struct run run_against(struct responder *r, char *first, char *second, const char *line)
{
    char *answers[2] = {first, second};

    return run_against_n(r, answers, second ? 2 : 1, line);
}

static const char *seen(const struct responder *r)
{
    return (const char *)r->seen.data;
}

static void server_error_prints_detail_code_and_status_and_exits_1(void **state)
{
    struct responder r;
    struct run out = run_against(
        &r,
        answer_make(404, "application/json",
                    "{\"error\":\"not_found\",\"detail\":\"certificate ffff not found\"}"),
        NULL, "cert show ffff");

    (void)state;
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    assert_string_equal(out.err, "vouch: certificate ffff not found (not_found, HTTP 404)\n");
    assert_string_equal(out.out, "");
    assert_true(strncmp(seen(&r), "GET /api/v1/t/default/certificates/ffff HTTP/1.1\r\n", 50) == 0);
    assert_non_null(strstr(seen(&r), "Authorization: Bearer " TOKEN "\r\n"));
    run_free(&out);
    responder_free(&r);
}

static void an_answer_without_error_object_still_exits_1(void **state)
{
    struct responder r;
    struct run out =
        run_against(&r, answer_make(502, "text/html", "<html>bad gateway</html>"), NULL, "ca list");

    (void)state;
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    assert_non_null(strstr(out.err, "HTTP 502"));
    run_free(&out);
    responder_free(&r);
}

static void lists_print_as_aligned_tables_with_control_characters_replaced(void **state)
{
    struct responder r;
    struct run out = run_against(
        &r,
        answer_make(200, "application/json",
                    "{\"certificates\":[{\"serial\":\"1a\",\"status\":\"good\","
                    "\"not_after\":\"2027-01-01T00:00:00Z\",\"profile\":\"tls-server\","
                    "\"subject\":\"/CN=a.example\"},{\"serial\":\"ffee01\",\"status\":\"revoked\","
                    "\"not_after\":\"2026-12-01T00:00:00Z\",\"profile\":null,"
                    "\"subject\":\"/CN=b\\u001b[31m\"}]}"),
        NULL, "cert list --status good");
    char *lines[3], *save = NULL;
    size_t col;

    (void)state;
    assert_int_equal(out.rc, 0);
    assert_true(strncmp(seen(&r), "GET /api/v1/t/default/certificates?status=good HTTP", 50) == 0);
    assert_null(strchr(out.out, '\x1b'));
    assert_non_null(strstr(out.out, "/CN=b?[31m"));
    lines[0] = strtok_r(out.out, "\n", &save);
    lines[1] = strtok_r(NULL, "\n", &save);
    lines[2] = strtok_r(NULL, "\n", &save);
    assert_non_null(lines[2]);
    assert_true(strncmp(lines[0], "SERIAL  STATUS", 14) == 0);
    col = (size_t)(strstr(lines[0], "PROFILE") - lines[0]);
    assert_true(strncmp(lines[1] + col, "tls-server", 10) == 0);
    assert_true(strncmp(lines[2] + col, "-", 1) == 0);
    col = (size_t)(strstr(lines[0], "NOT_AFTER") - lines[0]);
    assert_true(strncmp(lines[2] + col, "2026-12-01", 10) == 0);
    run_free(&out);
    responder_free(&r);
}

static void json_flag_prints_the_servers_json(void **state)
{
    static const char body[] = "{\"name\":\"root\",\"status\":\"active\",\"parent\":null}";
    struct responder r;
    struct run out =
        run_against(&r, answer_make(200, "application/json", body), NULL, "--json ca show root");
    json_t *got, *want = json_loads(body, 0, NULL);

    (void)state;
    assert_int_equal(out.rc, 0);
    got = json_loads(out.out, 0, NULL);
    assert_non_null(got);
    assert_true(json_equal(got, want));
    assert_non_null(strstr(out.out, "\n  \"status\"")); /* pretty-printed */
    json_decref(got);
    json_decref(want);
    run_free(&out);
    responder_free(&r);
}

static void audit_verify_reports_intact_and_broken_chains(void **state)
{
    struct responder r;
    struct run out =
        run_against(&r, answer_make(200, "application/json", "{\"ok\":true,\"count\":12}"), NULL,
                    "--tenant acme audit verify");

    (void)state;
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.out, "audit chain of acme: 12 events, intact\n");
    assert_true(strncmp(seen(&r), "GET /api/v1/t/acme/audit/verify HTTP", 36) == 0);
    run_free(&out);
    responder_free(&r);
    out = run_against(&r,
                      answer_make(200, "application/json",
                                  "{\"ok\":false,\"count\":9,\"first_bad_seq\":7,"
                                  "\"reason\":\"hash mismatch\"}"),
                      NULL, "audit verify");
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    assert_string_equal(out.out, "audit chain of default: BROKEN at event 7: hash mismatch\n");
    run_free(&out);
    responder_free(&r);
}

static const char issued[] = "{\"serial\":\"1a\",\"subject\":\"/CN=x.example\","
                             "\"not_after\":\"2027-01-01T00:00:00Z\",\"status\":\"good\","
                             "\"certificate\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n"
                             "-----END CERTIFICATE-----\\n\",\"chain\":\"CHAIN\\n\"}";

static void cert_issue_writes_the_pem_and_prints_a_summary(void **state)
{
    struct responder r;
    struct run out = run_against(&r, answer_make(201, "application/json", issued), NULL,
                                 "cert issue --ca issuing --profile tls-server --csr @req.csr "
                                 "-o @issued.pem --chain-out @issued-chain.pem");
    char *pem = read_tmp("issued.pem", NULL), *chain = read_tmp("issued-chain.pem", NULL);
    const char *body;

    (void)state;
    assert_int_equal(out.rc, 0);
    assert_non_null(pem);
    assert_string_equal(pem, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_string_equal(chain, "CHAIN\n");
    assert_non_null(strstr(out.out, "serial:    1a\n"));
    assert_non_null(strstr(out.out, "not_after: 2027-01-01T00:00:00Z\n"));
    assert_null(strstr(out.out, "BEGIN"));
    assert_non_null(strstr(seen(&r), "Content-Type: application/json\r\n"));
    body = strstr(seen(&r), "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(body, "\"csr\":\"CSR-PEM\\n\""));
    free(pem);
    free(chain);
    run_free(&out);
    responder_free(&r);
}

static void cert_issue_without_output_file_prints_the_pem(void **state)
{
    struct responder r;
    struct run out = run_against(&r, answer_make(201, "application/json", issued), NULL,
                                 "cert issue --ca issuing --profile tls-server --csr @req.csr");

    (void)state;
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.out, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    run_free(&out);
    responder_free(&r);
}

/* ---- operations held back for approval ---------------------------------------------------- */

#define CERT_ISSUE "cert issue --ca issuing --profile tls-server --csr @req.csr"

static const char pending[] =
    "{\"id\":\"req-1\",\"kind\":\"cert.issue\",\"object\":\"tls-server\","
    "\"status\":\"pending\",\"required\":2,\"approvals\":[],"
    "\"expires\":\"2026-12-01T10:00:00Z\",\"result\":null,\"reason\":null}";

/* The request of `pending` as decided: status and the members after it (a JSON fragment). */
static char *decided(const char *status_and_more)
{
    return xasprintf("{\"id\":\"req-1\",\"kind\":\"cert.issue\",\"required\":2,"
                     "\"approvals\":[{\"by\":\"prn-2\",\"time\":1}],\"status\":%s}",
                     status_and_more);
}

static char *request_answer(int status, const char *body)
{
    return answer_make(status, "application/json", body);
}

static int file_exists(const char *name)
{
    char *path = tmp_path(name);
    int rc = access(path, F_OK) == 0;

    free(path);
    return rc;
}

/* The seconds --wait waits for the command line of `line`; -1 if it is refused. */
static long wait_seconds(const char *line)
{
    struct words w;
    struct cli_call call;
    struct err e;
    long seconds = -2;

    words_split(&w, line);
    if (cli_call_build(w.argc, w.argv, "t1", &call, &e) != 0 ||
        cli_wait_timeout(&call, &seconds, &e) != 0)
        seconds = -1;
    cli_call_free(&call);
    words_free(&w);
    return seconds;
}

static void wait_and_its_timeout_are_parsed_and_kept_local(void **state)
{
    (void)state;
    assert_int_equal(wait_seconds("cert suspend 1a2b"), 0);
    assert_int_equal(wait_seconds("cert suspend 1a2b --wait"), CLI_WAIT_TIMEOUT_DEFAULT);
    assert_int_equal(wait_seconds("cert revoke 1a2b --wait --wait-timeout 90"), 90);
    assert_int_equal(wait_seconds("ca create x --subject /CN=x --wait-timeout=7 --wait"), 7);
    assert_int_equal(wait_seconds(CERT_ISSUE " --wait --wait-timeout 2592000"), 2592000);
    assert_int_equal(wait_seconds("cert renew 1a2b --wait-timeout 9"), -1);
}

static void a_request_answer_is_recognised_only_as_a_202_request(void **state)
{
    struct cli_answer ans = {.status = 202};

    (void)state;
    ans.json = json_loads(pending, 0, NULL);
    assert_true(cli_answer_is_request(&ans));
    ans.status = 201;
    assert_false(cli_answer_is_request(&ans));
    json_decref(ans.json);
    ans.status = 202;
    ans.json = json_loads("{\"serial\":\"1a\",\"status\":\"good\"}", 0, NULL);
    assert_false(cli_answer_is_request(&ans));
    json_decref(ans.json);
    ans.json = NULL;
    assert_false(cli_answer_is_request(&ans));
}

static void a_pending_issue_prints_the_request_writes_nothing_and_exits_0(void **state)
{
    struct responder r;
    struct run out = run_against(&r, request_answer(202, pending), NULL,
                                 CERT_ISSUE " -o @pending.pem --chain-out @pending-chain.pem");

    (void)state;
    assert_int_equal(out.rc, CLI_EXIT_OK);
    assert_string_equal(out.out,
                        "request req-1 is pending: 0 of 2 approvals (kind cert.issue)\n"
                        "expires 2026-12-01T10:00:00Z unless decided\n"
                        "follow it with: vouch request show req-1\n"
                        "(with --wait, vouch waits for the decision and shows the result)\n");
    assert_string_equal(out.err, "");
    assert_false(file_exists("pending.pem"));
    assert_false(file_exists("pending-chain.pem"));
    run_free(&out);
    responder_free(&r);

    out = run_against(&r, request_answer(202, pending), NULL, "--json " CERT_ISSUE " -o @p.pem");
    {
        json_t *got = json_loads(out.out, 0, NULL), *want = json_loads(pending, 0, NULL);

        assert_int_equal(out.rc, CLI_EXIT_OK);
        assert_non_null(got);
        assert_true(json_equal(got, want));
        json_decref(got);
        json_decref(want);
    }
    assert_false(file_exists("p.pem"));
    run_free(&out);
    responder_free(&r);
}

static void wait_writes_the_certificate_when_the_request_is_done(void **state)
{
    char *done = xasprintf("{\"id\":\"req-1\",\"kind\":\"cert.issue\",\"required\":1,"
                           "\"approvals\":[{\"by\":\"prn-2\",\"time\":1}],\"status\":\"done\","
                           "\"result\":{\"status\":201,\"body\":%s}}",
                           issued);
    struct responder r;
    struct run out = run_against(&r, request_answer(202, pending), request_answer(200, done),
                                 CERT_ISSUE " -o @waited.pem --chain-out @waited-chain.pem --wait");
    char *pem = read_tmp("waited.pem", NULL), *chain = read_tmp("waited-chain.pem", NULL);
    const char *get;

    (void)state;
    assert_int_equal(out.rc, CLI_EXIT_OK);
    assert_non_null(pem);
    assert_string_equal(pem, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_string_equal(chain, "CHAIN\n");
    assert_non_null(strstr(out.out, "serial:    1a\n"));
    assert_non_null(strstr(out.err, "request req-1 is pending: 0 of 2 approvals (kind cert.issue); "
                                    "waiting up to 3600 s"));
    assert_non_null(strstr(out.err, "request req-1 was approved and carried out\n"));
    get = strstr(seen(&r), "GET /api/v1/t/default/requests/req-1 HTTP/1.1\r\n");
    assert_non_null(get);
    assert_non_null(strstr(get, "Authorization: Bearer " TOKEN "\r\n"));
    free(pem);
    free(chain);
    free(done);
    run_free(&out);
    responder_free(&r);
}

static void wait_on_a_rejected_request_exits_1_with_the_reason(void **state)
{
    char *rejected = decided("\"rejected\",\"reason\":\"not our \\u001b[31mdomain\"");
    struct responder r;
    struct run out = run_against(&r, request_answer(202, pending), request_answer(200, rejected),
                                 CERT_ISSUE " -o @rejected.pem --wait");

    (void)state;
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    assert_non_null(strstr(out.err, "vouch: request req-1 (kind cert.issue) was rejected: "
                                    "not our ?[31mdomain\n"));
    assert_string_equal(out.out, "");
    assert_false(file_exists("rejected.pem"));
    free(rejected);
    run_free(&out);
    responder_free(&r);
}

static void wait_gives_up_at_its_timeout_and_names_the_request(void **state)
{
    struct responder r;
    struct run out = run_against(&r, request_answer(202, pending), request_answer(200, pending),
                                 "--json " CERT_ISSUE " --wait --wait-timeout 1");
    json_t *last = json_loads(out.out, 0, NULL);

    (void)state;
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    /* --json: the error too, as JSON on stderr */
    assert_non_null(strstr(out.err, "{\"error\":\"timeout\",\"detail\":\"request req-1 is still "
                                    "pending after 1 s (0 of 2 approvals); follow it with: vouch "
                                    "request show req-1\"}\n"));
    assert_non_null(last); /* --json: the request as last read */
    assert_string_equal(json_string_value(json_object_get(last, "status")), "pending");
    json_decref(last);
    run_free(&out);
    responder_free(&r);
}

static void wait_tries_again_after_a_busy_server_and_stops_at_a_refusal(void **state)
{
    char *answers[3] = {
        request_answer(202, pending),
        request_answer(503, "{\"error\":\"unavailable\",\"detail\":\"database busy\"}"),
        request_answer(404, "{\"error\":\"not_found\",\"detail\":\"request req-1 not found\"}")};
    struct responder r;
    struct run out = run_against_n(&r, answers, 3, "cert revoke 1a2b --wait");

    (void)state;
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    assert_non_null(strstr(out.err, "vouch: cannot read request req-1 now (database busy "
                                    "(unavailable, HTTP 503)); trying again\n"));
    assert_non_null(strstr(out.err, "vouch: reading request req-1: request req-1 not found "
                                    "(not_found, HTTP 404)\n"));
    run_free(&out);
    responder_free(&r);
}

static pthread_t waiting_thread;

static void *interrupt_soon(void *arg)
{
    struct timespec ts = {0, 300 * 1000000L};

    (void)arg;
    nanosleep(&ts, NULL);
    pthread_kill(waiting_thread, SIGINT);
    return NULL;
}

static void sigint_ignore(int sig)
{
    (void)sig;
}

/* Ctrl-C stops the waiting at once (not at the next look), and says the request stays. */
static void ctrl_c_stops_waiting_and_leaves_the_request(void **state)
{
    struct sigaction quiet = {.sa_handler = sigint_ignore}, before, after;
    struct timespec t0, t1;
    struct responder r;
    pthread_t interrupter;
    struct run out;
    long ms;

    (void)state;
    sigemptyset(&quiet.sa_mask);
    sigaction(SIGINT, &quiet, &before); /* a Ctrl-C before vouch waits must not end the tests */
    waiting_thread = pthread_self();
    assert_int_equal(pthread_create(&interrupter, NULL, interrupt_soon, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    out = run_against(&r, request_answer(202, pending), NULL, CERT_ISSUE " --wait");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(interrupter, NULL);
    sigaction(SIGINT, &before, &after);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_int_equal(out.rc, CLI_EXIT_INTERRUPTED);
    assert_true(ms < CLI_WAIT_FIRST_MS);
    assert_non_null(strstr(out.err, "vouch: stopped waiting; request req-1 stays pending (0 of 2 "
                                    "approvals); follow it with: vouch request show req-1\n"));
    assert_ptr_equal(after.sa_handler, sigint_ignore); /* the handler before --wait is back */
    run_free(&out);
    responder_free(&r);
}

/* cli_request_outcome for the call of `line` on request (JSON): *out_text what it printed
 * (the caller frees), e its error. */
static int outcome(const char *line, const char *request, int json, char **out_text, struct err *e)
{
    struct words w;
    struct cli_call call;
    size_t len;
    struct cli_ctx ctx = {.out = open_memstream(out_text, &len), .err = fopen("/dev/null", "w")};
    json_t *r = json_loads(request, 0, NULL);
    int rc;

    assert_non_null(r);
    ctx.cfg.json = json;
    words_split(&w, line);
    assert_int_equal(cli_call_build(w.argc, w.argv, "t1", &call, e), 0);
    err_clear(e);
    rc = cli_request_outcome(&ctx, &call, r, e);
    fclose(ctx.out);
    fclose(ctx.err);
    json_decref(r);
    cli_call_free(&call);
    words_free(&w);
    return rc;
}

static void decided_requests_show_their_result_or_what_happened(void **state)
{
    static const struct {
        const char *status;
        int rc;
        const char *msg;
    } cases[] = {
        {"\"failed\",\"result\":{\"status\":409,\"body\":{\"error\":\"conflict\","
         "\"detail\":\"CA sub exists\"}}",
         -1,
         "request req-1 (kind cert.issue) was approved but failed: CA sub exists "
         "(conflict, HTTP 409)"},
        {"\"failed\",\"result\":{\"error\":\"the stored request cannot be carried out\"}", -1,
         "was approved but failed: the stored request cannot be carried out"},
        {"\"expired\",\"result\":null", -1,
         "request req-1 (kind cert.issue) expired with 1 of 2 approvals"},
        {"\"rejected\",\"reason\":\"no\"", -1, "request req-1 (kind cert.issue) was rejected: no"},
        {"\"done\",\"result\":{\"status\":201,\"body\":null}", -1,
         "request req-1 is done but holds no result"},
        {"\"frozen\"", -1, "request req-1 is frozen"},
    };
    char *done = xasprintf("{\"id\":\"req-1\",\"kind\":\"cert.renew\",\"status\":\"done\","
                           "\"result\":{\"status\":201,\"body\":%s}}",
                           issued);
    char *text = NULL, *pem;
    struct err e;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *req = decided(cases[i].status);
        int rc = outcome(CERT_ISSUE " -o @never.pem", req, 0, &text, &e);

        if (rc != cases[i].rc || strstr(e.msg, cases[i].msg) == NULL)
            fail_msg("%s: %d \"%s\"", cases[i].status, rc, e.msg);
        assert_string_equal(text, "");
        free(text);
        free(req);
    }
    assert_false(file_exists("never.pem"));
    /* --json: the request itself when there is no result to show. */
    {
        char *req = decided("\"rejected\",\"reason\":\"no\"");
        json_t *got;

        assert_int_equal(outcome(CERT_ISSUE, req, 1, &text, &e), -1);
        got = json_loads(text, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(got, "reason")), "no");
        json_decref(got);
        free(text);
        free(req);
    }
    /* done: exactly as the direct answer (cert renew -o writes the PEM, prints the summary). */
    assert_int_equal(outcome("cert renew 1a2b -o @renewed.pem", done, 0, &text, &e), 0);
    pem = read_tmp("renewed.pem", NULL);
    assert_string_equal(pem, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_non_null(strstr(text, "subject:   /CN=x.example\n"));
    free(pem);
    free(text);
    free(done);
}

static void entity_update_puts_the_current_entity_with_the_changes(void **state)
{
    static const char current[] =
        "{\"id\":\"ent-1\",\"name\":\"bob\",\"kind\":\"user\",\"email\":\"bob@example.com\","
        "\"model\":null,\"metadata\":{\"team\":\"ops\"},\"created\":\"2026-01-01T00:00:00Z\"}";
    struct responder r;
    struct run out = run_against(&r, answer_make(200, "application/json", current),
                                 answer_make(200, "application/json", current),
                                 "entity update ent-1 --model X2 --meta floor=3");
    const char *put;
    json_t *body, *want;

    (void)state;
    assert_int_equal(out.rc, 0);
    assert_true(strncmp(seen(&r), "GET /api/v1/t/default/entities/ent-1 HTTP", 41) == 0);
    put = strstr(seen(&r), "PUT /api/v1/t/default/entities/ent-1 HTTP");
    assert_non_null(put);
    body = json_loads(strstr(put, "\r\n\r\n") + 4, 0, NULL);
    want = json_loads("{\"name\":\"bob\",\"kind\":\"user\",\"email\":\"bob@example.com\","
                      "\"model\":\"X2\",\"metadata\":{\"team\":\"ops\",\"floor\":\"3\"}}",
                      0, NULL);
    assert_non_null(body);
    assert_true(json_equal(body, want));
    json_decref(body);
    json_decref(want);
    run_free(&out);
    responder_free(&r);
}

static void crl_der_output_is_the_der_of_the_pem(void **state)
{
    char *pem = read_tmp("crl.pem", NULL), *text, *got;
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s}", "number", 4, "this_update", "2026-11-22T10:00:00Z",
                  "next_update", "2026-11-29T10:00:00Z", "crl", pem);
    unsigned char *der = NULL;
    int der_len = i2d_X509_CRL(crl, &der);
    size_t got_len = 0;
    struct responder r;
    struct run out;

    (void)state;
    text = json_dumps(o, JSON_COMPACT);
    out = run_against(&r, answer_make(200, "application/json", text), NULL,
                      "crl show issuing -o @crl-out.der --der");
    assert_int_equal(out.rc, 0);
    assert_non_null(strstr(out.out, "number:"));
    assert_null(strstr(out.out, "BEGIN"));
    got = read_tmp("crl-out.der", &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, (size_t)der_len);
    assert_memory_equal(got, der, got_len);
    OPENSSL_free(der);
    free(got);
    free(text);
    free(pem);
    json_decref(o);
    run_free(&out);
    responder_free(&r);
}

static void token_delete_accepts_no_content(void **state)
{
    struct responder r;
    struct run out =
        run_against(&r, xstrdup("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"), NULL,
                    "token delete tok-1");

    (void)state;
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.out, "deleted token tok-1\n");
    assert_true(strncmp(seen(&r), "DELETE /api/v1/t/default/tokens/tok-1 HTTP", 42) == 0);
    run_free(&out);
    responder_free(&r);
}

static void unreachable_server_exits_1(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char *line;
    struct run out;

    (void)state;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* nobody listens there now */
    line = xasprintf("--url http://127.0.0.1:%d --token %s ca list", ntohs(a.sin_port), TOKEN);
    out = run_line(line);
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    assert_non_null(strstr(out.err, "127.0.0.1"));
    assert_null(strstr(out.err, TOKEN));
    free(line);
    run_free(&out);
}

static void the_token_goes_over_plain_http_to_loopback_only(void **state)
{
    static const char *const loopback[] = {
        "http://127.0.0.1:8443",    "http://127.9.8.7",   "http://localhost:1/x",
        "http://LOCALHOST",         "http://[::1]:8443/", "http://[::ffff:127.0.0.1]:1",
        "http://u:p@127.0.0.1:1/a", "https://localhost"};
    static const char *const remote[] = {"http://192.0.2.1:8443",
                                         "http://10.0.0.1",
                                         "http://127.1:8443",
                                         "http://localhost.example",
                                         "http://127.0.0.1.nip.io",
                                         "http://127.0.0.1@evil.example/",
                                         "http://evil.example#@127.0.0.1",
                                         "http://[::2]:1",
                                         "http://[2001:db8::1]"};
    struct run out;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(loopback); i++)
        if (!cli_url_is_loopback(loopback[i]))
            fail_msg("%s is loopback", loopback[i]);
    for (size_t i = 0; i < ARRAY_LEN(remote); i++)
        if (cli_url_is_loopback(remote[i]))
            fail_msg("%s is not loopback", remote[i]);
    /* Refused before any connection: a usage error naming the way out. */
    out = run_line("--url http://vouch.invalid:8443 --token " TOKEN " ca list");
    assert_int_equal(out.rc, CLI_EXIT_USAGE);
    assert_non_null(strstr(out.err, "refusing to send the token over plain HTTP"));
    assert_non_null(strstr(out.err, "--insecure-http"));
    assert_null(strstr(out.err, TOKEN));
    run_free(&out);
    /* Said explicitly (flag or environment), it is sent: the name then fails to resolve. */
    out = run_line("--insecure-http --url http://vouch.invalid:8443 --token " TOKEN " ca list");
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    assert_non_null(strstr(out.err, "vouch.invalid"));
    run_free(&out);
    setenv("VOUCH_INSECURE_HTTP", "1", 1);
    out = run_line("--url http://vouch.invalid:8443 --token " TOKEN " ca list");
    unsetenv("VOUCH_INSECURE_HTTP");
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    run_free(&out);
    /* HTTPS anywhere is fine (this one fails on the name as well). */
    out = run_line("--url https://vouch.invalid:8443 --token " TOKEN " ca list");
    assert_int_equal(out.rc, CLI_EXIT_FAIL);
    run_free(&out);
}

static void config_file_is_read_and_environment_wins(void **state)
{
    struct responder r;
    char *conf = tmp_path("cli.conf"), *text;
    struct run out;

    (void)state;
    responder_start(&r, answer_make(200, "application/json", "{\"tokens\":[]}"), NULL);
    text = xasprintf("# test\nurl = http://127.0.0.1:%d\ntoken=vouch_fromfile\n\ntenant=filet\n",
                     r.port);
    write_text("cli.conf", text);
    /* A token others can read is refused, saying how to fix it. */
    assert_int_equal(chmod(conf, 0644), 0);
    setenv("VOUCH_CONFIG", conf, 1);
    out = run_line("token list");
    assert_int_equal(out.rc, CLI_EXIT_USAGE);
    assert_non_null(strstr(out.err, "others can read it (mode 0644): run chmod 600"));
    run_free(&out);
    assert_int_equal(chmod(conf, 0600), 0);
    setenv("VOUCH_TENANT", "envt", 1);
    out = run_line("token list");
    responder_stop(&r);
    unsetenv("VOUCH_TENANT");
    assert_int_equal(out.rc, 0);
    assert_true(strncmp(seen(&r), "GET /api/v1/t/envt/tokens HTTP", 30) == 0);
    assert_non_null(strstr(seen(&r), "Authorization: Bearer vouch_fromfile\r\n"));
    assert_non_null(strstr(out.out, "ID"));
    run_free(&out);
    responder_free(&r);
    write_text("cli.conf", "url=http://127.0.0.1:1\nfrobnicate=1\n");
    out = run_line("token list");
    setenv("VOUCH_CONFIG", "", 1);
    assert_int_equal(out.rc, CLI_EXIT_USAGE);
    assert_non_null(strstr(out.err, "cli.conf:2: unknown key \"frobnicate\""));
    run_free(&out);
    free(text);
    free(conf);
}

/* The custodians' shares: any 2 of 3 give the secret back; fewer, or a changed one, do not. */
static void any_two_of_three_custodian_shares_recover_the_secret(void **state)
{
    unsigned char secret[OFFLINE_SECRET_LEN], got[OFFLINE_SECRET_MAX];
    size_t got_len = 0;
    char *prefix = xasprintf("%s/cust", tmpdir), *hex, *digest, *paths[3];
    json_t *shares = json_object(), *conf;
    struct err e;
    FILE *f;

    (void)state;
    assert_int_equal(offline_secret_random(secret, sizeof(secret), &e), 0);
    assert_int_equal(
        offline_secret_split(secret, sizeof(secret), "off-1", 3, 2, prefix, shares, &e), 0);
    hex = hex_encode(secret, sizeof(secret));
    digest = offline_secret_digest(hex);
    conf = json_pack("{s:i, s:O, s:s}", "threshold", 2, "shares", shares, "secret_sha256", digest);
    for (int i = 0; i < 3; i++)
        paths[i] = xasprintf("%s-%d.share", prefix, i + 1);
    for (int a = 0; a < 3; a++) {
        const char *two[2] = {paths[a], paths[(a + 1) % 3]};
        memset(got, 0, sizeof(got));
        assert_int_equal(offline_secret_combine(conf, two, 2, got, &got_len, &e), 0);
        assert_int_equal(got_len, sizeof(secret));
        assert_memory_equal(got, secret, sizeof(secret));
    }
    assert_int_equal(offline_secret_combine(conf, (const char *const *)paths, 1, got, &got_len, &e),
                     -1);
    assert_non_null(strstr(e.msg, "needs 2"));
    f = fopen(paths[1], "r+"); /* one hex digit of share 2 changes */
    assert_non_null(f);
    assert_int_equal(fseek(f, -3, SEEK_END), 0);
    {
        int c = fgetc(f);
        assert_int_equal(fseek(f, -3, SEEK_END), 0);
        fputc(c == '0' ? '1' : '0', f); /* any other digit */
    }
    fclose(f);
    {
        const char *two[2] = {paths[0], paths[1]};
        assert_int_equal(offline_secret_combine(conf, two, 2, got, &got_len, &e), -1);
        assert_non_null(strstr(e.msg, "wrong custodian share"));
    }
    assert_int_equal(
        offline_secret_split(secret, sizeof(secret), "off-1", 3, 2, prefix, shares, &e),
        -1); /* never overwrites a share */
    for (int i = 0; i < 3; i++)
        free(paths[i]);
    json_decref(conf);
    json_decref(shares);
    free(hex);
    free(digest);
    free(prefix);
}

/* Issue 21: every command says what it does, and every option and positional what it takes. */
static void every_command_and_option_has_help(void **state)
{
    size_t n;
    const struct cli_command *cmds = cli_commands(&n);
    int missing = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        if (cli_command_summary(&cmds[i]) == NULL) {
            print_message("no summary: %s %s\n", cmds[i].group, cmds[i].verb ? cmds[i].verb : "");
            missing++;
        }
        for (size_t j = 0; cmds[i].args[j].name != NULL; j++)
            if (cli_option_help(&cmds[i], cmds[i].args[j].name) == NULL) {
                print_message("no help: %s %s %s\n", cmds[i].group,
                              cmds[i].verb ? cmds[i].verb : "", cmds[i].args[j].name);
                missing++;
            }
    }
    assert_int_equal(missing, 0);
}

static void help_of_a_group_and_of_a_command_and_vouch_alone(void **state)
{
    struct run out;

    (void)state;
    out = run_line("cert --help");
    assert_int_equal(out.rc, 0);
    assert_non_null(strstr(out.out, "vouch cert revoke"));
    assert_non_null(strstr(out.out, "revoke a certificate"));
    assert_null(strstr(out.out, "vouch ca create"));
    run_free(&out);
    out = run_line("cert revoke --help");
    assert_int_equal(out.rc, 0);
    assert_non_null(strstr(out.out, "keyCompromise"));
    assert_non_null(strstr(out.out, "SERIAL"));
    run_free(&out);
    out = run_line("acme eab --help");
    assert_int_equal(out.rc, 0);
    assert_non_null(strstr(out.out, "vouch acme eab revoke"));
    run_free(&out);
    out = run_line("");
    assert_int_equal(out.rc, CLI_EXIT_USAGE);
    assert_non_null(strstr(out.err, "  cert       certificates"));
    assert_true(strlen(out.err) < 2000); /* a summary, not every command */
    run_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_command_maps_to_its_route),
        cmocka_unit_test(every_row_of_the_command_table_is_covered),
        cmocka_unit_test(path_segments_and_query_values_are_percent_encoded),
        cmocka_unit_test(entity_update_is_a_merge_over_the_current_entity),
        cmocka_unit_test(bad_command_lines_are_usage_errors),
        cmocka_unit_test(unreadable_files_are_errors_but_not_usage_errors),
        cmocka_unit_test(exit_codes_of_usage_help_and_settings),
        cmocka_unit_test(inspect_prints_kind_and_subject_of_pem_and_der),
        cmocka_unit_test(inspect_checks_a_csr_signature),
        cmocka_unit_test(inspect_shows_crl_entries_and_every_pem_block),
        cmocka_unit_test(inspect_refuses_what_is_no_certificate_csr_or_crl),
        cmocka_unit_test(server_error_prints_detail_code_and_status_and_exits_1),
        cmocka_unit_test(an_answer_without_error_object_still_exits_1),
        cmocka_unit_test(lists_print_as_aligned_tables_with_control_characters_replaced),
        cmocka_unit_test(json_flag_prints_the_servers_json),
        cmocka_unit_test(audit_verify_reports_intact_and_broken_chains),
        cmocka_unit_test(cert_issue_writes_the_pem_and_prints_a_summary),
        cmocka_unit_test(cert_issue_without_output_file_prints_the_pem),
        cmocka_unit_test(wait_and_its_timeout_are_parsed_and_kept_local),
        cmocka_unit_test(a_request_answer_is_recognised_only_as_a_202_request),
        cmocka_unit_test(a_pending_issue_prints_the_request_writes_nothing_and_exits_0),
        cmocka_unit_test(wait_writes_the_certificate_when_the_request_is_done),
        cmocka_unit_test(wait_on_a_rejected_request_exits_1_with_the_reason),
        cmocka_unit_test(wait_gives_up_at_its_timeout_and_names_the_request),
        cmocka_unit_test(every_command_and_option_has_help),
        cmocka_unit_test(help_of_a_group_and_of_a_command_and_vouch_alone),
        cmocka_unit_test(wait_tries_again_after_a_busy_server_and_stops_at_a_refusal),
        cmocka_unit_test(ctrl_c_stops_waiting_and_leaves_the_request),
        cmocka_unit_test(decided_requests_show_their_result_or_what_happened),
        cmocka_unit_test(entity_update_puts_the_current_entity_with_the_changes),
        cmocka_unit_test(crl_der_output_is_the_der_of_the_pem),
        cmocka_unit_test(token_delete_accepts_no_content),
        cmocka_unit_test(unreachable_server_exits_1),
        cmocka_unit_test(config_file_is_read_and_environment_wins),
        cmocka_unit_test(the_token_goes_over_plain_http_to_loopback_only),
        cmocka_unit_test(any_two_of_three_custodian_shares_recover_the_secret),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
