/*
 * test_svc_acme.c — what a tenant admin sets up for ACME (svc_acme_admin.c),
 * on a real SQLite file and a real signer process: endpoint settings parsed
 * (defaults, every refusal), endpoints created and changed with their audit
 * events (a disabled CA and a CA profile refused), External Account Binding
 * credentials whose key the signer derives and shows once (the MAC the signer
 * computes is the HMAC under the key shown; the key is in no row and no audit
 * event), revocation deactivating their accounts (filed through the store, as
 * the protocol front end files them), renewal windows, and one tenant never
 * seeing or using another's endpoint or credential.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "svc/svc.h"

static const char *const admin_roles[] = {"tenant-admin"};
static const struct actor internal = {.id = "test"};
static const struct actor admin = {
    .id = "tok-adm", .principal = "p-adm", .roles = admin_roles, .nroles = 1};

struct fixture {
    char dir[64];
    char url[128];
    struct signer *signer;
    struct store *store;
    struct svc *svc;
};

static void file_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A self-signed root `name` of tenant, made through the door. */
static void root_make(struct svc *s, const char *tenant, const char *name)
{
    struct svc_op op = {.kind = SVC_OP_CA_CREATE,
                        .ca_req = {.name = name, .subject = "/CN=ACME Root", .path_len = -1}};
    struct svc_outcome out;
    struct err e;

    if (svc_submit(s, &internal, tenant, &op, NULL, &out, &e) != 0)
        fail_msg("%s/%s: %s", tenant, name, e.msg);
    svc_outcome_clear(&out);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct svc_config cfg = {.public_url = "http://127.0.0.1:1", .node = "test:1"};
    struct signer_config sc = {0};
    char keys[96], kek[96];
    struct ca_rec *ca = NULL;
    struct err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/vouch-test-acme-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(keys, sizeof(keys), "%s/keys", f->dir);
    snprintf(kek, sizeof(kek), "%s/kek", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s/t.db", f->dir);
    file_put(kek, "0123456789abcdef0123456789abcdef0123456789abcdef\n");
    sc.keystore_dir = keys;
    sc.kek_path = kek;
    sc.connections = 2;
    if ((f->signer = signer_start(&sc, &e)) == NULL)
        fail_msg("signer_start: %s", e.msg);
    if ((f->store = store_open(f->url, &e)) == NULL)
        fail_msg("store_open: %s", e.msg);
    f->svc = svc_new(f->store, f->signer, &cfg);
    for (int i = 0; i < 2; i++)
        if (svc_tenant_create(f->svc, &internal, i ? "t2" : "t1", &e) != 0)
            fail_msg("tenant: %s", e.msg);
    root_make(f->svc, "t1", "root");
    root_make(f->svc, "t1", "old");
    root_make(f->svc, "t2", "root");
    if (svc_ca_disable(f->svc, &internal, "t1", "old", &ca, &e) != 0)
        fail_msg("disable: %s", e.msg);
    ca_rec_free(ca);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    int rc;

    svc_free(f->svc);
    store_close(f->store);
    signer_stop(f->signer);
    rc = system(cmd);
    free(cmd);
    free(f);
    return rc;
}

/* ---- helpers -------------------------------------------------------------------- */

static json_t *json_of(const char *text)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);

    if (o == NULL)
        fail_msg("test JSON %s: %s", text, je.text);
    return o;
}

/* The events of tenant with action (and result "ok"), counted; the last one's detail into *detail.
 */
static int audit_count(struct fixture *f, const char *tenant, const char *action, char **detail)
{
    struct audit_rec **list = NULL;
    size_t n = 0;
    int count = 0;
    struct err e;

    if (svc_audit_list(f->svc, tenant, 0, 100000, &list, &n, &e) != 0)
        fail_msg("audit: %s", e.msg);
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i]->action, action) == 0 && strcmp(list[i]->result, "ok") == 0) {
            count++;
            if (detail != NULL) {
                free(*detail);
                *detail = xstrdup(list[i]->detail);
            }
        }
    audit_rec_list_free(list, n);
    return count;
}

/* Whether any of tenant's audit events holds text. */
static int audit_holds(struct fixture *f, const char *tenant, const char *text)
{
    struct audit_rec **list = NULL;
    size_t n = 0;
    int found = 0;
    struct err e;

    assert_int_equal(svc_audit_list(f->svc, tenant, 0, 100000, &list, &n, &e), 0);
    for (size_t i = 0; i < n && !found; i++)
        found = strstr(list[i]->detail, text) != NULL || strstr(list[i]->object, text) != NULL;
    audit_rec_list_free(list, n);
    return found;
}

/* Whether the bytes of the database file (and its WAL) hold needle anywhere. */
static int database_holds(struct fixture *f, const void *needle, size_t len)
{
    static const char *const suffixes[] = {"", "-wal"};
    int found = 0;

    for (size_t k = 0; k < 2 && !found; k++) {
        char *path = xasprintf("%s/t.db%s", f->dir, suffixes[k]);
        size_t n = 0;
        struct err e;
        unsigned char *data = file_read(path, 1 << 30, &n, &e);

        for (size_t i = 0; data != NULL && n >= len && i <= n - len && !found; i++)
            found = memcmp(data + i, needle, len) == 0;
        free(data);
        free(path);
    }
    return found;
}

/* An endpoint `name` of t1 on root with settings text; the record (caller frees). */
static struct acme_endpoint_rec *endpoint_make(struct fixture *f, const char *name,
                                               const char *settings)
{
    struct acme_endpoint_rec *r = NULL;
    json_t *o = json_of(settings);
    struct err e;

    if (svc_acme_endpoint_put(f->svc, &admin, "t1", name, "root", NULL, o, 1, &r, &e) != 0)
        fail_msg("endpoint %s: %s", name, e.msg);
    json_decref(o);
    return r;
}

/* A credential of t1's endpoint with options text; its key (32 bytes) into key. */
static struct acme_eab_rec *eab_make(struct fixture *f, const char *endpoint, const char *kid,
                                     const char *options, unsigned char key[32])
{
    struct acme_eab_rec *r = NULL;
    json_t *o = options ? json_of(options) : NULL;
    unsigned char *raw = NULL;
    char *b64 = NULL;
    size_t len = 0;
    struct err e;

    if (svc_acme_eab_create(f->svc, &admin, "t1", endpoint, kid, o, &r, &b64, &e) != 0)
        fail_msg("eab %s: %s", kid ? kid : "(drawn)", e.msg);
    assert_int_equal(base64url_decode(b64, strlen(b64), &raw, &len), 0);
    assert_int_equal(len, 32);
    assert_int_equal(strlen(b64), 43);
    memcpy(key, raw, 32);
    free(raw);
    free(b64);
    json_decref(o);
    return r;
}

#include "csr_make.h"

/* A certificate of t1 issued now by root under tls-server (caller frees the record). */
static struct cert_rec *issue(struct fixture *f, const char *cn)
{
    char *csr = csr_make(cn);
    struct svc_op op = {
        .kind = SVC_OP_CERT_ISSUE, .ca = "root", .profile = "tls-server", .csr = csr};
    struct svc_outcome out;
    struct cert_rec *c;
    struct err e;

    if (svc_submit(f->svc, &internal, "t1", &op, NULL, &out, &e) != 0)
        fail_msg("issue: %s", e.msg);
    c = out.cert;
    out.cert = NULL;
    svc_outcome_clear(&out);
    free(csr);
    return c;
}

/* ---- settings --------------------------------------------------------------------- */

static void settings_fill_their_defaults_and_round_trip(void **state)
{
    struct svc_acme_settings st, again;
    json_t *o = json_of("{\"caa_identities\": [\"ca.example\"]}"), *j, *j2;
    struct err e;

    (void)state;
    assert_int_equal(svc_acme_settings_parse(o, &st, &e), 0);
    assert_int_equal(st.nprofiles, 1);
    assert_string_equal(st.profiles[0].name, "tls-server");
    assert_null(st.profiles[0].description);
    assert_int_equal(st.challenges, ACME_CHALLENGE_HTTP | ACME_CHALLENGE_DNS | ACME_CHALLENGE_ALPN);
    assert_int_equal(st.order_seconds, 7 * 86400);
    assert_int_equal(st.authz_seconds, 7 * 86400);
    assert_int_equal(st.authz_reuse_seconds, 0);
    assert_true(st.allow_dns);
    assert_true(st.allow_wildcard);
    assert_false(st.allow_ip);
    assert_true(st.caa_check);
    assert_false(st.eab_required);
    assert_int_equal(st.ncaa_identities, 1);
    assert_null(st.terms_of_service);
    assert_null(st.website);
    /* Every member is written, and what is written reads back the same. */
    j = svc_acme_settings_json(&st);
    assert_int_equal(json_object_size(j), 13);
    assert_int_equal(svc_acme_settings_parse(j, &again, &e), 0);
    j2 = svc_acme_settings_json(&again);
    assert_true(json_equal(j, j2));
    svc_acme_settings_clear(&st);
    svc_acme_settings_clear(&again);
    json_decref(j);
    json_decref(j2);
    json_decref(o);
    /* Everything given: kept as given; CAA off needs no identities. */
    o = json_of("{\"profiles\": [\"tls-server\", {\"name\": \"tls-client\", \"description\": "
                "\"Clients\"}], \"eab_required\": true, \"challenges\": [\"http-01\"], "
                "\"authz_reuse_seconds\": 86400, \"order_seconds\": 60, \"authz_seconds\": "
                "2592000, \"allow_dns\": true, \"allow_ip\": true, \"allow_wildcard\": false, "
                "\"caa_check\": false, \"caa_identities\": null, \"terms_of_service\": "
                "\"https://ca.example/tos\", \"website\": \"http://ca.example\"}");
    assert_int_equal(svc_acme_settings_parse(o, &st, &e), 0);
    assert_int_equal(st.nprofiles, 2);
    assert_string_equal(st.profiles[1].description, "Clients");
    assert_int_equal(st.challenges, ACME_CHALLENGE_HTTP);
    assert_true(st.allow_ip && st.eab_required && !st.caa_check && !st.allow_wildcard);
    assert_int_equal(st.order_seconds, 60);
    assert_string_equal(st.terms_of_service, "https://ca.example/tos");
    svc_acme_settings_clear(&st);
    svc_acme_settings_clear(&st); /* twice: harmless */
    json_decref(o);
}

static void every_bad_setting_is_refused_naming_its_member(void **state)
{
    static const struct {
        const char *json, *names;
    } bad[] = {
        {"{\"caa_identities\": [\"a.example\"], \"colour\": 1}", "colour"},
        {"{}", "caa_identities"},
        {"{\"caa_check\": true, \"caa_identities\": []}", "caa_identities"},
        {"{\"caa_check\": false, \"profiles\": []}", "profiles"},
        {"{\"caa_check\": false, \"profiles\": \"tls-server\"}", "profiles"},
        {"{\"caa_check\": false, \"profiles\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\","
         "\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
         "profiles"},
        {"{\"caa_check\": false, \"profiles\": [\"web\", \"web\"]}", "profiles[1]"},
        {"{\"caa_check\": false, \"profiles\": [\"Web Server\"]}", "profiles[0]"},
        {"{\"caa_check\": false, \"profiles\": [7]}", "profiles[0]"},
        {"{\"caa_check\": false, \"profiles\": [{\"description\": \"x\"}]}", "name"},
        {"{\"caa_check\": false, \"profiles\": [{\"name\": \"web\", \"colour\": 1}]}",
         "profiles[0].colour"},
        {"{\"caa_check\": false, \"profiles\": [{\"name\": \"web\", \"description\": \"a\\nb\"}]}",
         "profiles[0].description"},
        {"{\"caa_check\": false, \"challenges\": []}", "challenges"},
        {"{\"caa_check\": false, \"challenges\": [\"dns-02\"]}", "challenges[0]"},
        {"{\"caa_check\": false, \"challenges\": [\"dns-01\", \"dns-01\"]}", "challenges[1]"},
        {"{\"caa_check\": false, \"challenges\": \"dns-01\"}", "challenges"},
        {"{\"caa_check\": false, \"order_seconds\": 59}", "order_seconds"},
        {"{\"caa_check\": false, \"order_seconds\": 2592001}", "order_seconds"},
        {"{\"caa_check\": false, \"order_seconds\": \"60\"}", "order_seconds"},
        {"{\"caa_check\": false, \"authz_seconds\": 0}", "authz_seconds"},
        {"{\"caa_check\": false, \"authz_reuse_seconds\": -1}", "authz_reuse_seconds"},
        {"{\"caa_check\": false, \"authz_reuse_seconds\": 34387201}", "authz_reuse_seconds"},
        {"{\"caa_check\": false, \"eab_required\": \"yes\"}", "eab_required"},
        {"{\"caa_check\": \"no\"}", "caa_check"},
        {"{\"caa_check\": false, \"allow_dns\": false}", "allow_dns"},
        {"{\"caa_check\": false, \"allow_dns\": false, \"allow_ip\": true}", "allow_wildcard"},
        {"{\"caa_check\": false, \"challenges\": [\"http-01\"]}", "allow_wildcard"},
        {"{\"caa_check\": false, \"allow_wildcard\": false, \"allow_ip\": true, \"challenges\": "
         "[\"dns-01\"]}",
         "allow_ip"},
        {"{\"caa_identities\": [\"CA.example\"]}", "caa_identities[0]"},
        {"{\"caa_identities\": [\"-ca.example\"]}", "caa_identities[0]"},
        {"{\"caa_identities\": [\"ca..example\"]}", "caa_identities[0]"},
        {"{\"caa_identities\": [\"a.example\", \"a.example\"]}", "caa_identities[1]"},
        {"{\"caa_identities\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}",
         "caa_identities"},
        {"{\"caa_check\": false, \"terms_of_service\": \"ftp://ca.example/tos\"}",
         "terms_of_service"},
        {"{\"caa_check\": false, \"terms_of_service\": 1}", "terms_of_service"},
        {"{\"caa_check\": false, \"website\": \"https://ca.example/a b\"}", "website"},
        {"[]", "settings"},
    };
    struct svc_acme_settings st;
    struct err e;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *o = json_of(bad[i].json);

        if (svc_acme_settings_parse(o, &st, &e) == 0)
            fail_msg("%s: accepted", bad[i].json);
        if (e.kind != ERR_INVALID || strstr(e.msg, bad[i].names) == NULL)
            fail_msg("%s: %s (kind %d), expected to name %s", bad[i].json, e.msg, e.kind,
                     bad[i].names);
        assert_int_equal(st.nprofiles, 0); /* cleared */
        json_decref(o);
    }
    assert_int_equal(svc_acme_settings_parse(NULL, &st, &e), -1);
}

/* ---- endpoints -------------------------------------------------------------------- */

static void an_endpoint_is_created_and_changed_with_its_audit_events(void **state)
{
    struct fixture *f = *state;
    struct acme_endpoint_rec *r, *got = NULL, **list = NULL;
    struct svc_acme_settings st;
    json_t *o, *j;
    char *detail = NULL;
    size_t n = 0;
    struct err e;

    r = endpoint_make(f, "web", "{\"caa_identities\": [\"ca.example\"], \"eab_required\": true}");
    assert_string_equal(r->status, "active");
    assert_string_equal(r->ca, "root");
    acme_endpoint_rec_free(r);
    assert_int_equal(audit_count(f, "t1", "acme.endpoint.create", &detail), 1);
    assert_non_null(strstr(detail, "\"ca\":\"root\""));
    assert_non_null(strstr(detail, "\"eab_required\":true"));
    /* Its JSON: identity, the directory's path, every setting. */
    assert_int_equal(svc_acme_endpoint_get(f->svc, "t1", "web", &got, &e), 0);
    j = svc_acme_endpoint_json(f->svc, got);
    assert_string_equal(json_string_value(json_object_get(j, "directory")),
                        "/acme/t1/web/directory");
    assert_true(json_is_true(json_object_get(j, "eab_required")));
    assert_int_equal(json_integer_value(json_object_get(j, "order_seconds")), 604800);
    json_decref(j);
    acme_endpoint_rec_free(got);
    /* A second of the name is a conflict, and nothing is written for it. */
    o = json_of("{\"caa_check\": false}");
    assert_int_equal(svc_acme_endpoint_put(f->svc, &admin, "t1", "web", "root", NULL, o, 1, &r, &e),
                     -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    assert_int_equal(audit_count(f, "t1", "acme.endpoint.create", NULL), 1);
    /* A change: only the members given; others stay. */
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t1", "web", NULL, "disabled", o, 0, &r, &e), 0);
    assert_string_equal(r->status, "disabled");
    json_decref(o);
    o = json_loads(r->settings, 0, NULL);
    assert_int_equal(svc_acme_settings_parse(o, &st, &e), 0);
    assert_false(st.caa_check);
    assert_true(st.eab_required);
    assert_int_equal(st.ncaa_identities, 1);
    svc_acme_settings_clear(&st);
    json_decref(o);
    acme_endpoint_rec_free(r);
    assert_int_equal(audit_count(f, "t1", "acme.endpoint.update", &detail), 1);
    assert_non_null(strstr(detail, "\"status\":\"disabled\""));
    /* null: back to the default. */
    o = json_of("{\"eab_required\": null, \"website\": \"https://ca.example\"}");
    assert_int_equal(svc_acme_endpoint_put(f->svc, &admin, "t1", "web", NULL, NULL, o, 0, &r, &e),
                     0);
    json_decref(o);
    assert_string_equal(r->status, "disabled");
    assert_non_null(strstr(r->settings, "\"eab_required\":false"));
    acme_endpoint_rec_free(r);
    /* A bad change changes nothing. */
    o = json_of("{\"order_seconds\": 1}");
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t1", "web", NULL, "active", o, 0, &r, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t1", "web", NULL, "paused", NULL, 0, &r, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(audit_count(f, "t1", "acme.endpoint.update", NULL), 2);
    json_decref(o);
    assert_int_equal(svc_acme_endpoint_get(f->svc, "t1", "web", &got, &e), 0);
    assert_string_equal(got->status, "disabled");
    acme_endpoint_rec_free(got);
    /* Unknown: not found; listed by name. */
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t1", "nope", NULL, "active", NULL, 0, &r, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_acme_endpoint_get(f->svc, "t1", "nope", &got, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    r = endpoint_make(f, "api", "{\"caa_check\": false}");
    acme_endpoint_rec_free(r);
    assert_int_equal(svc_acme_endpoint_list(f->svc, "t1", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->name, "api");
    assert_string_equal(list[1]->name, "web");
    acme_endpoint_rec_list_free(list, n);
    free(detail);
}

static void an_endpoint_needs_an_active_ca_and_leaf_profiles(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *ca, *settings;
        enum err_kind kind;
    } bad[] = {
        {"old", "{\"caa_check\": false}", ERR_CONFLICT},   /* disabled */
        {"nope", "{\"caa_check\": false}", ERR_NOT_FOUND}, /* no such CA */
        {"root", "{\"caa_check\": false, \"profiles\": [\"sub-ca\"]}", ERR_POLICY},
        {"root", "{\"caa_check\": false, \"profiles\": [\"tls-server\", \"root-ca\"]}", ERR_POLICY},
        {"root", "{\"caa_check\": false, \"profiles\": [\"nope\"]}", ERR_NOT_FOUND},
        {NULL, "{\"caa_check\": false}", ERR_INVALID}, /* no CA at all */
    };
    struct acme_endpoint_rec *r = NULL;
    struct ca_rec *ca = NULL;
    int before = audit_count(f, "t1", "acme.endpoint.create", NULL);
    json_t *o;
    struct err e;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = json_of(bad[i].settings);
        if (svc_acme_endpoint_put(f->svc, &admin, "t1", "x", bad[i].ca, NULL, o, 1, &r, &e) == 0)
            fail_msg("%s %s: accepted", bad[i].ca, bad[i].settings);
        if (e.kind != bad[i].kind)
            fail_msg("%s %s: %s (kind %d)", bad[i].ca, bad[i].settings, e.msg, e.kind);
        json_decref(o);
    }
    assert_int_equal(svc_acme_endpoint_get(f->svc, "t1", "x", &r, &e), -1);
    assert_int_equal(audit_count(f, "t1", "acme.endpoint.create", NULL), before);
    /* Moving an endpoint to a disabled CA is refused; one whose CA was disabled since can still be
       disabled. */
    r = endpoint_make(f, "moving", "{\"caa_check\": false}");
    acme_endpoint_rec_free(r);
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t1", "moving", "old", NULL, NULL, 0, &r, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    root_make(f->svc, "t1", "soon-old");
    o = json_of("{}");
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t1", "moving", "soon-old", NULL, o, 0, &r, &e), 0);
    acme_endpoint_rec_free(r);
    assert_int_equal(svc_ca_disable(f->svc, &internal, "t1", "soon-old", &ca, &e), 0);
    ca_rec_free(ca);
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t1", "moving", NULL, "disabled", o, 0, &r, &e), 0);
    assert_string_equal(r->ca, "soon-old");
    acme_endpoint_rec_free(r);
    json_decref(o);
}

/* ---- External Account Binding -------------------------------------------------------- */

static void the_signers_mac_is_the_hmac_under_the_key_shown_once(void **state)
{
    struct fixture *f = *state;
    static const char input[] = "eyJhbGciOiJIUzI1NiJ9.eyJrdHkiOiJFQyJ9";
    static const struct {
        const char *alg;
        const EVP_MD *(*md)(void);
    } algs[] = {{"HS256", EVP_sha256}, {"HS384", EVP_sha384}, {"HS512", EVP_sha512}};
    unsigned char key[32], key2[32], want[EVP_MAX_MD_SIZE], *mac = NULL;
    unsigned int want_len = 0;
    struct acme_eab_rec *r, *r2, **list = NULL;
    struct acme_endpoint_rec *ep = endpoint_make(f, "eab", "{\"caa_check\": false}");
    struct svc_key_info *keys = NULL;
    char *b64, *detail = NULL;
    size_t mac_len = 0, n = 0;
    int nkeys = 0, seen = 0;
    json_t *j;
    struct err e;

    acme_endpoint_rec_free(ep);
    r = eab_make(f, "eab", "team-a", NULL, key);
    assert_string_equal(r->kid, "team-a");
    assert_string_equal(r->status, "active");
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (svc_acme_eab_mac(f->svc, "t1", "eab", "team-a", algs[i].alg,
                             (const unsigned char *)input, strlen(input), &mac, &mac_len, &e) != 0)
            fail_msg("%s: %s", algs[i].alg, e.msg);
        HMAC(algs[i].md(), key, 32, (const unsigned char *)input, strlen(input), want, &want_len);
        assert_int_equal(mac_len, want_len);
        assert_memory_equal(mac, want, want_len);
        free(mac);
    }
    assert_int_equal(svc_acme_eab_mac(f->svc, "t1", "eab", "team-a", "RS256",
                                      (const unsigned char *)input, strlen(input), &mac, &mac_len,
                                      &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    /* The key is in no row, no audit event and no JSON; its derivation's key is the tenant's. */
    b64 = base64url_encode(key, 32);
    assert_true(database_holds(f, r->nonce, strlen(r->nonce))); /* the search does find rows */
    assert_false(database_holds(f, key, 32));
    assert_false(database_holds(f, b64, strlen(b64)));
    assert_false(audit_holds(f, "t1", b64));
    j = svc_acme_eab_json(r);
    assert_null(json_object_get(j, "hmac_key"));
    assert_null(json_object_get(j, "nonce"));
    assert_string_equal(json_string_value(json_object_get(j, "role")), "requester");
    assert_true(json_is_null(json_object_get(j, "profiles")));
    json_decref(j);
    free(b64);
    assert_int_equal(audit_count(f, "t1", "acme.eab.create", &detail), 1);
    assert_non_null(strstr(detail, "\"endpoint\":\"eab\""));
    /* A second credential: another key from the same tenant key; a drawn kid. */
    r2 = eab_make(f, "eab", NULL, "{\"reusable\": true, \"profiles\": [\"tls-server\"]}", key2);
    assert_memory_not_equal(key, key2, 32);
    assert_string_equal(r->key_id, r2->key_id);
    assert_int_equal(strncmp(r2->kid, "eab-", 4), 0);
    assert_int_equal(svc_acme_eab_list(f->svc, "t1", "eab", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    acme_eab_rec_list_free(list, n);
    /* The tenant's EAB key is listed, and may not be deleted while a credential uses it. */
    assert_int_equal(svc_key_list(f->svc, "t1", &keys, &nkeys, &e), 0);
    for (int i = 0; i < nkeys; i++)
        seen |= strcmp(keys[i].key_id, r->key_id) == 0;
    svc_key_list_free(keys, nkeys);
    assert_true(seen);
    assert_int_equal(svc_key_delete(f->svc, &admin, "t1", r->key_id, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    acme_eab_rec_free(r);
    acme_eab_rec_free(r2);
    free(detail);
}

/* After the test above: endpoint "eab" has credentials team-a and one drawn. */
static void bad_credentials_are_refused_and_write_nothing(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *endpoint, *kid, *options;
        enum err_kind kind;
    } bad[] = {
        {"eab", "team-a", NULL, ERR_CONFLICT}, /* the kid exists */
        {"eab", "has space", NULL, ERR_INVALID},
        {"eab", "k", "{\"colour\": 1}", ERR_INVALID},
        {"eab", "k", "{\"profiles\": [\"tls-client\"]}", ERR_INVALID}, /* not the endpoint's */
        {"eab", "k", "{\"profiles\": []}", ERR_INVALID},
        {"eab", "k", "{\"role\": \"ra-officer\"}", ERR_INVALID},
        {"eab", "k", "{\"role\": \"tenant-admin\"}", ERR_INVALID},
        {"eab", "k", "{\"reusable\": \"yes\"}", ERR_INVALID},
        {"nope", "k", NULL, ERR_NOT_FOUND},
    };
    struct acme_eab_rec *r = NULL, **list = NULL;
    int before = audit_count(f, "t1", "acme.eab.create", NULL);
    unsigned char *mac = NULL;
    char *key = NULL;
    size_t n = 0;
    struct err e;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *o = bad[i].options ? json_of(bad[i].options) : NULL;

        if (svc_acme_eab_create(f->svc, &admin, "t1", bad[i].endpoint, bad[i].kid, o, &r, &key,
                                &e) == 0)
            fail_msg("%s %s: accepted", bad[i].kid, bad[i].options);
        if (e.kind != bad[i].kind)
            fail_msg("%s %s: %s (kind %d)", bad[i].kid, bad[i].options, e.msg, e.kind);
        json_decref(o);
    }
    assert_int_equal(audit_count(f, "t1", "acme.eab.create", NULL), before);
    assert_int_equal(svc_acme_eab_list(f->svc, "t1", "eab", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    acme_eab_rec_list_free(list, n);
    assert_int_equal(svc_acme_eab_list(f->svc, "t1", "nope", &list, &n, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_acme_eab_mac(f->svc, "t1", "eab", "nope", "HS256",
                                      (const unsigned char *)"x", 1, &mac, &n, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
}

/*
 * What the protocol front end does when an account binds to credential kid of
 * t1's endpoint with a MAC it got under key: the signer's MAC must match, the
 * credential be usable; then the account is filed and the credential counted,
 * in one transaction.  (The front end's own code is in svc_acme.c of the acme
 * branch; here the store is written directly.)  The account's id into *id.
 */
static int account_bind(struct fixture *f, const char *endpoint, const char *kid,
                        const unsigned char key[32], const char *id, struct err *e)
{
    static const char input[] = "eyJhbGciOiJIUzI1NiJ9.eyJrdHkiOiJFQyJ9";
    unsigned char want[32], *mac = NULL;
    unsigned int want_len = 0;
    struct acme_account_rec a = {.tenant = "t1",
                                 .endpoint = (char *)endpoint,
                                 .id = (char *)id,
                                 .thumbprint = (char *)id,
                                 .jwk = "{}",
                                 .status = "valid",
                                 .contact = "[]",
                                 .eab_kid = (char *)kid,
                                 .created = time_now()};
    struct acme_eab_rec *cred = NULL;
    struct store_tx *tx;
    size_t mac_len = 0;
    int rc;

    HMAC(EVP_sha256(), key, 32, (const unsigned char *)input, strlen(input), want, &want_len);
    if (svc_acme_eab_mac(f->svc, "t1", endpoint, kid, "HS256", (const unsigned char *)input,
                         strlen(input), &mac, &mac_len, e) != 0)
        return -1;
    rc = mac_len == want_len && memcmp(mac, want, want_len) == 0
             ? 0
             : err_setc(e, ERR_FORBIDDEN, "unauthorized", "the MAC does not verify");
    free(mac);
    if (rc != 0 || (tx = store_begin(f->store, e)) == NULL)
        return -1;
    a.updated = a.created;
    rc = store_acme_eab_get(tx, "t1", endpoint, kid, &cred, e);
    if (rc == 0) {
        cred->uses++;
        rc = store_acme_eab_update(tx, "t1", cred, e);
    }
    if (rc == 0)
        rc = store_acme_account_insert(tx, "t1", &a, e);
    if (rc == 0)
        rc = store_commit(tx, e);
    else
        store_rollback(tx);
    acme_eab_rec_free(cred);
    return rc;
}

/* The status of account id of t1's endpoint (caller frees). */
static char *account_status(struct fixture *f, const char *endpoint, const char *id)
{
    struct store_tx *tx;
    struct acme_account_rec *a = NULL;
    char *status;
    struct err e;

    assert_non_null(tx = store_begin_read(f->store, &e));
    if (store_acme_account_get(tx, "t1", endpoint, id, &a, &e) != 0)
        fail_msg("account %s: %s", id, e.msg);
    store_rollback(tx);
    status = xstrdup(a->status);
    acme_account_rec_free(a);
    return status;
}

static void revoking_a_credential_can_deactivate_its_accounts(void **state)
{
    struct fixture *f = *state;
    unsigned char one[32], many[32], wrong[32] = {0};
    struct acme_endpoint_rec *ep = endpoint_make(f, "rev", "{\"caa_check\": false}");
    struct acme_eab_rec **list = NULL;
    unsigned char *mac = NULL;
    char *detail = NULL, *status;
    size_t mac_len = 0, n = 0;
    struct err e;

    acme_endpoint_rec_free(ep);
    acme_eab_rec_free(eab_make(f, "rev", "one", NULL, one));
    acme_eab_rec_free(eab_make(f, "rev", "many", "{\"reusable\": true}", many));
    /* A wrong key binds nothing; a single-use credential binds one account. */
    assert_int_equal(account_bind(f, "rev", "one", wrong, "acct-0", &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(account_bind(f, "rev", "one", one, "acct-1", &e), 0);
    assert_int_equal(account_bind(f, "rev", "one", one, "acct-x", &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_string_equal(e.code, "unauthorized");
    assert_non_null(strstr(e.msg, "used already"));
    assert_int_equal(account_bind(f, "rev", "many", many, "acct-2", &e), 0);
    assert_int_equal(account_bind(f, "rev", "many", many, "acct-3", &e), 0);
    assert_int_equal(svc_acme_eab_list(f->svc, "t1", "rev", &list, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->kid, "many");
    assert_int_equal(list[0]->uses, 2);
    acme_eab_rec_list_free(list, n);
    /* Revoked without deactivation: its account stays valid, no new one binds. */
    assert_int_equal(svc_acme_eab_revoke(f->svc, &admin, "t1", "rev", "one", 0, &e), 0);
    status = account_status(f, "rev", "acct-1");
    assert_string_equal(status, "valid");
    free(status);
    assert_int_equal(svc_acme_eab_revoke(f->svc, &admin, "t1", "rev", "one", 1, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    /* Revoked with deactivation: every account made with it, in the same transaction. */
    assert_int_equal(svc_acme_eab_revoke(f->svc, &admin, "t1", "rev", "many", 1, &e), 0);
    for (int i = 0; i < 2; i++) {
        status = account_status(f, "rev", i ? "acct-3" : "acct-2");
        assert_string_equal(status, "deactivated");
        free(status);
    }
    status = account_status(f, "rev", "acct-1");
    assert_string_equal(status, "valid");
    free(status);
    assert_int_equal(account_bind(f, "rev", "many", many, "acct-4", &e), -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_int_equal(svc_acme_eab_mac(f->svc, "t1", "rev", "many", "HS256",
                                      (const unsigned char *)"x", 1, &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_FORBIDDEN);
    assert_string_equal(e.code, "unauthorized");
    assert_non_null(strstr(e.msg, "revoked"));
    assert_int_equal(audit_count(f, "t1", "acme.eab.revoke", &detail), 2);
    assert_non_null(strstr(detail, "acct-2"));
    assert_non_null(strstr(detail, "acct-3"));
    assert_null(strstr(detail, "acct-1"));
    assert_non_null(strstr(detail, "\"deactivate_accounts\":true"));
    assert_int_equal(svc_acme_eab_revoke(f->svc, &admin, "t1", "rev", "nope", 0, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    free(detail);
}

/* ---- tenancy ---------------------------------------------------------------------- */

static void another_tenant_never_sees_or_uses_an_endpoint_or_credential(void **state)
{
    struct fixture *f = *state;
    unsigned char key[32];
    struct acme_endpoint_rec *ep = endpoint_make(f, "mine", "{\"caa_check\": false}"), **list;
    struct acme_eab_rec *r = eab_make(f, "mine", "secret-kid", NULL, key), **creds = NULL;
    struct svc_key_info *keys = NULL;
    unsigned char *mac = NULL;
    char *hmac = NULL;
    size_t n = 0, mac_len = 0;
    int nkeys = 0;
    json_t *o = json_of("{\"caa_check\": false}");
    struct err e;

    acme_endpoint_rec_free(ep);
    ep = NULL;
    assert_int_equal(svc_acme_endpoint_get(f->svc, "t2", "mine", &ep, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_acme_endpoint_list(f->svc, "t2", &list, &n, &e), 0);
    assert_int_equal(n, 0);
    acme_endpoint_rec_list_free(list, n);
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t2", "mine", NULL, "disabled", o, 0, &ep, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_acme_eab_list(f->svc, "t2", "mine", &creds, &n, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_acme_eab_list(f->svc, "t2", NULL, &creds, &n, &e), 0);
    assert_int_equal(n, 0);
    acme_eab_rec_list_free(creds, n);
    assert_int_equal(svc_acme_eab_mac(f->svc, "t2", "mine", "secret-kid", "HS256",
                                      (const unsigned char *)"x", 1, &mac, &mac_len, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_acme_eab_revoke(f->svc, &admin, "t2", "mine", "secret-kid", 1, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_acme_eab_create(f->svc, &admin, "t2", "mine", "k2", NULL, &r, &hmac, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(hmac);
    /* t2 has an endpoint of that name of its own, on its own CA; t1's stays as it was. */
    assert_int_equal(
        svc_acme_endpoint_put(f->svc, &admin, "t2", "mine", "root", NULL, o, 1, &ep, &e), 0);
    assert_string_equal(ep->tenant, "t2");
    acme_endpoint_rec_free(ep);
    assert_int_equal(svc_acme_endpoint_put(f->svc, &admin, "t2", "x", "old", NULL, o, 1, &ep, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND); /* t1's CA is no CA of t2 */
    assert_int_equal(svc_key_list(f->svc, "t2", &keys, &nkeys, &e), 0);
    for (int i = 0; i < nkeys; i++)
        assert_string_not_equal(keys[i].key_id, r->key_id);
    svc_key_list_free(keys, nkeys);
    assert_int_equal(audit_count(f, "t2", "acme.endpoint.update", NULL), 0);
    assert_false(audit_holds(f, "t2", "secret-kid"));
    assert_int_equal(svc_acme_eab_mac(f->svc, "t1", "mine", "secret-kid", "HS256",
                                      (const unsigned char *)"x", 1, &mac, &mac_len, &e),
                     0);
    free(mac);
    acme_eab_rec_free(r);
    json_decref(o);
}

/* ---- renewal windows --------------------------------------------------------------- */

static void renewal_windows_default_to_the_last_third_and_can_be_set_earlier(void **state)
{
    struct fixture *f = *state;
    struct cert_rec *c = issue(f, "renew.example"), *revoked = NULL;
    int64_t start = 0, end = 0, now = time_now(), third;
    char *reason = NULL, *detail = NULL;
    struct err e;

    third = (c->not_after - c->not_before) / 3;
    assert_int_equal(svc_renewal_window(f->svc, "t1", c->serial, &start, &end, &reason, &e), 0);
    assert_int_equal(end, c->not_after);
    assert_int_equal(start, c->not_after - third);
    assert_null(reason);
    /* Set earlier: read back with its reason, audited. */
    assert_int_equal(svc_renewal_window_set(f->svc, &admin, "t1", c->serial, now, now + 3600,
                                            "planned revocation", &e),
                     0);
    assert_int_equal(svc_renewal_window(f->svc, "t1", c->serial, &start, &end, &reason, &e), 0);
    assert_int_equal(start, now);
    assert_int_equal(end, now + 3600);
    assert_string_equal(reason, "planned revocation");
    free(reason);
    assert_int_equal(audit_count(f, "t1", "cert.renewal_window", &detail), 1);
    assert_non_null(strstr(detail, "planned revocation"));
    /* Replaced by the next. */
    assert_int_equal(
        svc_renewal_window_set(f->svc, &admin, "t1", c->serial, now, now + 7200, NULL, &e), 0);
    assert_int_equal(svc_renewal_window(f->svc, "t1", c->serial, &start, &end, &reason, &e), 0);
    assert_int_equal(end, now + 7200);
    assert_null(reason);
    /* Refused: end before start, end past, past the certificate's expiry, unknown, another
       tenant's. */
    assert_int_equal(svc_renewal_window_set(f->svc, &admin, "t1", c->serial, now, now, NULL, &e),
                     -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(
        svc_renewal_window_set(f->svc, &admin, "t1", c->serial, now - 20, now - 10, NULL, &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(
        svc_renewal_window_set(f->svc, &admin, "t1", c->serial, now, c->not_after + 1, NULL, &e),
        -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(
        svc_renewal_window_set(f->svc, &admin, "t1", c->serial, now, now + 60, "a\nb", &e), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_int_equal(svc_renewal_window_set(f->svc, &admin, "t1", "0bad", now, now + 60, NULL, &e),
                     -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(
        svc_renewal_window_set(f->svc, &admin, "t2", c->serial, now, now + 60, NULL, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(svc_renewal_window(f->svc, "t2", c->serial, &start, &end, &reason, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(audit_count(f, "t1", "cert.renewal_window", NULL), 2);
    /* Revoked: renew now, and no window is set on it any more. */
    {
        struct svc_op op = {.kind = SVC_OP_CERT_REVOKE, .serial = c->serial, .reason = 4};
        struct svc_outcome out;

        assert_int_equal(svc_submit(f->svc, &internal, "t1", &op, NULL, &out, &e), 0);
        revoked = out.cert;
        out.cert = NULL;
        svc_outcome_clear(&out);
    }
    assert_int_equal(svc_renewal_window(f->svc, "t1", c->serial, &start, &end, &reason, &e), 0);
    assert_true(end <= time_now() && start < end);
    assert_int_equal(
        svc_renewal_window_set(f->svc, &admin, "t1", c->serial, now, now + 60, NULL, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    cert_rec_free(revoked);
    cert_rec_free(c);
    free(detail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_fill_their_defaults_and_round_trip),
        cmocka_unit_test(every_bad_setting_is_refused_naming_its_member),
        cmocka_unit_test(an_endpoint_is_created_and_changed_with_its_audit_events),
        cmocka_unit_test(an_endpoint_needs_an_active_ca_and_leaf_profiles),
        cmocka_unit_test(the_signers_mac_is_the_hmac_under_the_key_shown_once),
        cmocka_unit_test(bad_credentials_are_refused_and_write_nothing),
        cmocka_unit_test(revoking_a_credential_can_deactivate_its_accounts),
        cmocka_unit_test(another_tenant_never_sees_or_uses_an_endpoint_or_credential),
        cmocka_unit_test(renewal_windows_default_to_the_last_third_and_can_be_set_earlier),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
