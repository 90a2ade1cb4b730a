/*
 * test_keys_p11.c — the signer with keys in PKCS#11 tokens: SoftHSM2 tokens
 * made by the test itself (SOFTHSM2_CONF in a temporary directory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/hmac.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keys/keys.h"
#include "keys/signer_internal.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define PIN    "4711-pin"

static char dir[64], conf[128], tokens[128], pin_file[128], dir_a[512], dir_b[512];
static struct signer *signer; /* token vouch-a only */

#include "ra_checks.h"

/* ---- helpers ---------------------------------------------------------------- */

static void file_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int run(const char *cmd)
{
    return system(cmd);
}

/* The one token directory under tokens/ that is not `except` into out. */
static void token_dir(const char *except, char *out, size_t len)
{
    DIR *d = opendir(tokens);
    struct dirent *de;

    out[0] = '\0';
    while (d != NULL && (de = readdir(d)) != NULL) {
        char path[512];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", tokens, de->d_name);
        if (strcmp(path, except) != 0)
            snprintf(out, len, "%s", path);
    }
    if (d != NULL)
        closedir(d);
}

static void token_init(const char *label)
{
    char *cmd = xasprintf("softhsm2-util --init-token --free --label %s --pin " PIN
                          " --so-pin 12345678 >/dev/null",
                          label);

    assert_int_equal(run(cmd), 0);
    free(cmd);
}

static struct signer *start(const char *label, const char *backup, const char *pin_path,
                            const char *module, struct err *e)
{
    struct signer_config cfg = {.keystore_type = "pkcs11",
                                .pkcs11_module = module,
                                .pkcs11_token_label = label,
                                .pkcs11_backup_token_label = backup,
                                .pkcs11_pin_file = pin_path,
                                .connections = 4};

    return signer_start(&cfg, e);
}

static int group_setup(void **state)
{
    char text[512];
    struct err e;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vouch-p11-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
    snprintf(pin_file, sizeof(pin_file), "%s/pin", dir);
    mkdir(tokens, 0700);
    snprintf(text, sizeof(text),
             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
    file_put(conf, text);
    file_put(pin_file, PIN "\n");
    setenv("SOFTHSM2_CONF", conf, 1);
    token_init("vouch-a");
    token_dir("", dir_a, sizeof(dir_a));
    token_init("vouch-b");
    token_dir(dir_a, dir_b, sizeof(dir_b));
    if (dir_a[0] == '\0' || dir_b[0] == '\0')
        return -1;
    if ((signer = start("vouch-a", NULL, pin_file, MODULE, &e)) == NULL) {
        fprintf(stderr, "signer_start: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    int rc;

    (void)state;
    signer_stop(signer);
    rc = run(cmd);
    free(cmd);
    return rc;
}

/* A certificate for pub named cn, signed by key with md (NULL: Ed25519). */
static X509 *cert_for(EVP_PKEY *pub, EVP_PKEY *key, const EVP_MD *md, const char *cn)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pub);
    X509_NAME_free(n);
    if (X509_sign(x, key, md) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Whether a certificate signed through (tenant, id) verifies with pub. */
static int signs(struct signer *s, const char *tenant, const char *id, EVP_PKEY *pub)
{
    struct err e;
    EVP_PKEY *remote = signer_key(s, tenant, id, &e);
    X509 *x = remote ? cert_for(pub, remote, EVP_sha256(), "t") : NULL;
    int ok = x != NULL && X509_verify(x, pub) == 1;

    if (getenv("P11_DEBUG") && !ok)
        fprintf(stderr, "signs: %s\n", remote ? ossl_error_string((char[256]){0}, 256) : e.msg);

    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(remote);
    return ok;
}

/* ---- tests ---------------------------------------------------------------------- */

struct type_case {
    enum key_type type;
    const char *md;
};

static void keys_of_each_type_are_made_in_the_token_and_sign_certs_crls_csrs_and_ocsp(void **state)
{
    static const struct type_case cases[] = {
        {KEY_EC_P256, "SHA256"},
        {KEY_EC_P384, "SHA384"},
        {KEY_RSA_2048, "SHA256"},
        {KEY_ED25519, NULL},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const EVP_MD *md = cases[i].md ? EVP_get_digestbyname(cases[i].md) : NULL;
        EVP_PKEY *pub = NULL, *remote;
        OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
        OCSP_CERTID *cid;
        X509_CRL *crl = X509_CRL_new();
        X509_REQ *req = X509_REQ_new();
        X509 *x, *bound;
        char *id = NULL;
        struct err e;

        if (signer_keygen(signer, "alpha", cases[i].type, &id, &pub, &e) != 0)
            fail_msg("keygen %s: %s", key_type_name(cases[i].type), e.msg);
        assert_int_equal(key_type_of(pub), cases[i].type);
        remote = signer_key(signer, "alpha", id, &e);
        assert_non_null(remote);
        x = cert_for(pub, remote, md, "hsm");
        assert_non_null(x);
        assert_int_equal(X509_verify(x, pub), 1);
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(x));
        X509_CRL_set1_lastUpdate(crl, X509_get0_notBefore(x));
        assert_true(X509_CRL_sign(crl, remote, md) > 0);
        assert_int_equal(X509_CRL_verify(crl, pub), 1);
        X509_REQ_set_pubkey(req, pub);
        assert_true(X509_REQ_sign(req, remote, md) > 0);
        assert_int_equal(X509_REQ_verify(req, pub), 1);
        bound = signer_key_cert(remote, x, &e);
        cid = OCSP_cert_to_id(NULL, x, x);
        OCSP_basic_add1_status(bs, cid, V_OCSP_CERTSTATUS_GOOD, 0, NULL, X509_getm_notBefore(x),
                               NULL);
        assert_int_equal(OCSP_basic_sign(bs, bound, remote, md, NULL, OCSP_RESPID_KEY), 1);
        assert_int_equal(ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA),
                                          (X509_ALGOR *)OCSP_resp_get0_tbs_sigalg(bs),
                                          (ASN1_BIT_STRING *)OCSP_resp_get0_signature(bs),
                                          (void *)OCSP_resp_get0_respdata(bs), pub),
                         1);
        OCSP_CERTID_free(cid);
        OCSP_BASICRESP_free(bs);
        X509_free(bound);
        X509_REQ_free(req);
        X509_CRL_free(crl);
        X509_free(x);
        EVP_PKEY_free(remote);
        EVP_PKEY_free(pub);
        free(id);
    }
}

/* Reads the CKA_SENSITIVE/CKA_EXTRACTABLE of label's private key, and tries CKA_VALUE. */
static void token_attributes_pin(const char *token, const char *pin, const char *label,
                                 CK_BBOOL *sensitive, CK_BBOOL *extractable, CK_RV *value_rv)
{
    void *dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8, found = 0;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ATTRIBUTE a[] = {{CKA_SENSITIVE, sensitive, 1}, {CKA_EXTRACTABLE, extractable, 1}};
    unsigned char buf[512];
    CK_ATTRIBUTE v = {CKA_VALUE, buf, sizeof(buf)};

    assert_non_null(dl);
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    assert_int_equal(get(&f), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        f->C_GetTokenInfo(slots[i], &ti);
        if (memcmp(ti.label, token, strlen(token)) == 0 && ti.label[strlen(token)] == ' ')
            break;
        assert_true(i + 1 < n);
    }
    for (CK_ULONG i = 0; i < n; i++) {
        f->C_GetTokenInfo(slots[i], &ti);
        if (memcmp(ti.label, token, strlen(token)) != 0 || ti.label[strlen(token)] != ' ')
            continue;
        assert_int_equal(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
        assert_int_equal(f->C_Login(h, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin)), CKR_OK);
        assert_int_equal(f->C_FindObjectsInit(h, find, 2), CKR_OK);
        assert_int_equal(f->C_FindObjects(h, &o, 1, &found), CKR_OK);
        f->C_FindObjectsFinal(h);
        assert_int_equal(found, 1);
        assert_int_equal(f->C_GetAttributeValue(h, o, a, 2), CKR_OK);
        *value_rv = f->C_GetAttributeValue(h, o, &v, 1);
        break;
    }
    f->C_Finalize(NULL);
    dlclose(dl);
}

/* The id of the slot holding the token labelled token. */
static CK_SLOT_ID slot_of(const char *token)
{
    void *dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slots[8], found = (CK_SLOT_ID)-1;
    CK_ULONG n = 8;
    CK_TOKEN_INFO ti;

    assert_non_null(dl);
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    assert_int_equal(get(&f), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++)
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, token, strlen(token)) == 0 && ti.label[strlen(token)] == ' ')
            found = slots[i];
    f->C_Finalize(NULL);
    dlclose(dl);
    assert_true(found != (CK_SLOT_ID)-1);
    return found;
}

static void an_ra_key_in_the_token_opens_scep_envelopes_and_signs_certreps(void **state)
{
    (void)state;
    ra_key_decrypts_and_signs_only_scep(signer);
}

static void the_token_can_be_named_by_slot_instead_of_label(void **state)
{
    struct signer_config cfg = {.keystore_type = "pkcs11",
                                .pkcs11_module = MODULE,
                                .pkcs11_use_slot = 1,
                                .pkcs11_slot = slot_of("vouch-a"),
                                .pkcs11_pin_file = pin_file,
                                .connections = 2};
    char health[700], *id = NULL, expect[64];
    EVP_PKEY *pub = NULL;
    struct signer *s;
    struct err e;

    (void)state;
    s = signer_start(&cfg, &e);
    if (s == NULL)
        fail_msg("signer_start: %s", e.msg);
    assert_int_equal(signer_keygen(s, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    assert_true(signs(s, "alpha", id, pub));
    assert_int_equal(signer_health(s, health, sizeof(health), &e), 0);
    snprintf(expect, sizeof(expect), "token slot %lu: ok", cfg.pkcs11_slot);
    assert_non_null(strstr(health, expect));
    signer_stop(s);
    cfg.pkcs11_token_label = "vouch-b"; /* slot and label must agree */
    assert_null(signer_start(&cfg, &e));
    assert_non_null(strstr(e.msg, "is not vouch-b"));
    cfg.pkcs11_token_label = NULL;
    cfg.pkcs11_slot = 987654;
    assert_null(signer_start(&cfg, &e));
    assert_non_null(strstr(e.msg, "no initialised token in slot 987654"));
    EVP_PKEY_free(pub);
    free(id);
}

static void token_attributes(const char *token, const char *label, CK_BBOOL *sensitive,
                             CK_BBOOL *extractable, CK_RV *value_rv)
{
    token_attributes_pin(token, PIN, label, sensitive, extractable, value_rv);
}

static void a_generated_key_is_sensitive_not_extractable_and_labelled_by_tenant(void **state)
{
    EVP_PKEY *pub = NULL;
    CK_BBOOL sensitive = 0, extractable = 1;
    CK_RV value_rv = CKR_OK;
    char *id = NULL, label[128];
    struct err e;

    (void)state;
    assert_int_equal(signer_keygen(signer, "beta", KEY_EC_P256, &id, &pub, &e), 0);
    snprintf(label, sizeof(label), "beta/%s", id);
    token_attributes("vouch-a", label, &sensitive, &extractable, &value_rv);
    assert_int_equal(sensitive, CK_TRUE);
    assert_int_equal(extractable, CK_FALSE);
    assert_int_equal(value_rv, CKR_ATTRIBUTE_SENSITIVE);
    EVP_PKEY_free(pub);
    free(id);
}

static void another_tenants_key_is_refused_and_a_deleted_key_is_gone(void **state)
{
    EVP_PKEY *pub = NULL, *remote;
    unsigned char *sig = NULL;
    size_t sig_len;
    char *id = NULL;
    struct err e;

    (void)state;
    assert_int_equal(signer_keygen(signer, "alpha", KEY_EC_P256, &id, &pub, &e), 0);
    assert_true(signs(signer, "alpha", id, pub));
    remote = signer_key(signer, "beta", id, &e);
    assert_null(remote);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(signer_sign(signer, "beta", id, "SHA256", (const unsigned char *)"x", 1, &sig,
                                 &sig_len, &e),
                     -1);
    assert_int_equal(signer_delete(signer, "beta", id, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_true(signs(signer, "alpha", id, pub));
    assert_int_equal(signer_delete(signer, "alpha", id, &e), 0);
    assert_null(signer_key(signer, "alpha", id, &e));
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    EVP_PKEY_free(pub);
    free(id);
}

static void import_one(EVP_PKEY *key)
{
    EVP_PKEY *pub = NULL;
    unsigned char *pem = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *id = NULL;
    long n;
    struct err e;

    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &pem);
    if (signer_import(signer, "alpha", SIGNER_IMPORT_PEM_KEY, pem, (size_t)n, NULL, &id, &pub, NULL,
                      &e) != 0)
        fail_msg("import %s: %s", key_type_name(key_type_of(key)), e.msg);
    assert_int_equal(EVP_PKEY_eq(pub, key), 1);
    if (key_type_of(key) != KEY_ED25519 && !signs(signer, "alpha", id, key))
        fail_msg("imported %s does not sign", key_type_name(key_type_of(key)));
    BIO_free(bio);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    free(id);
}

static void imported_keys_are_filed_in_the_token_and_sign(void **state)
{
    (void)state;
    import_one(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
    import_one(EVP_EC_gen("P-256"));
    import_one(EVP_EC_gen("P-384"));
    import_one(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
}

static void a_wrong_pin_a_missing_module_or_token_stops_start_up_clearly(void **state)
{
    char bad_pin[160];
    struct err e;

    (void)state;
    snprintf(bad_pin, sizeof(bad_pin), "%s/bad-pin", dir);
    file_put(bad_pin, "0000\n");
    assert_null(start("vouch-a", NULL, bad_pin, MODULE, &e));
    assert_non_null(strstr(e.msg, "CKR_PIN_INCORRECT"));
    assert_null(start("vouch-a", NULL, pin_file, "/nonexistent/pkcs11.so", &e));
    assert_non_null(strstr(e.msg, "/nonexistent/pkcs11.so"));
    assert_null(start("no-such-token", NULL, pin_file, MODULE, &e));
    assert_non_null(strstr(e.msg, "no token labelled no-such-token"));
    assert_null(start("vouch-a", NULL, "/nonexistent/pin", MODULE, &e));
    assert_non_null(strstr(e.msg, "/nonexistent/pin"));
}

/* ---- tests that fail a token ------------------------------------------------------- */

/*
 * What a test that fails a token holds, undone by fixture_teardown whatever
 * the test's outcome: a failing assertion leaves the token moved back, the
 * signing threads stopped and joined, and the signer stopped, so one failure
 * stays one failure.  (cmocka runs the teardown after a failed test; nothing
 * the threads use lives on the test's stack.)
 */
#define LOAD_THREADS 3

struct worker {
    struct fixture *f;
    int signed_ok; /* signatures this thread made that verified */
};

struct fixture {
    struct signer *s;
    char *id;
    EVP_PKEY *pub;
    int away; /* the primary token's directory is moved away */
    int stop, failures, running;
    pthread_t threads[LOAD_THREADS];
    struct worker workers[LOAD_THREADS];
};

static int fixture_setup(void **state)
{
    *state = xcalloc(1, sizeof(struct fixture));
    return 0;
}

static void load_stop(struct fixture *f)
{
    __atomic_store_n(&f->stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < f->running; i++)
        pthread_join(f->threads[i], NULL);
    f->running = 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    char away[600];
    int rc = 0;

    load_stop(f);
    snprintf(away, sizeof(away), "%s/away", dir);
    if (f->away && rename(away, dir_a) != 0) {
        fprintf(stderr, "teardown: cannot move %s back\n", dir_a);
        rc = -1;
    }
    signer_stop(f->s);
    EVP_PKEY_free(f->pub);
    free(f->id);
    free(f);
    return rc;
}

/* Moves the primary token's directory out of the token directory (it fails) or back (it heals). */
static void token_move(struct fixture *f, int away)
{
    char other[600];

    snprintf(other, sizeof(other), "%s/away", dir);
    assert_int_equal(away ? rename(dir_a, other) : rename(other, dir_a), 0);
    f->away = away;
}

/* A signer on vouch-a (and vouch-b as its backup if pair) with a new P-256 key of tenant alpha. */
static void fixture_start(struct fixture *f, int pair)
{
    struct err e;

    f->s = start("vouch-a", pair ? "vouch-b" : NULL, pin_file, MODULE, &e);
    if (f->s == NULL)
        fail_msg("signer_start: %s", e.msg);
    if (signer_keygen(f->s, "alpha", KEY_EC_P256, &f->id, &f->pub, &e) != 0)
        fail_msg("keygen: %s", e.msg);
}

/* The monotonic clock in seconds. */
static double now_seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether (tenant alpha, f->id) signs within seconds (tried every 50 ms). */
static int signs_within(struct fixture *f, double seconds)
{
    double deadline = now_seconds() + seconds;

    for (;;) {
        if (signs(f->s, "alpha", f->id, f->pub))
            return 1;
        if (now_seconds() > deadline)
            return 0;
        usleep(50000);
    }
}

/* Whether the signer's health says what within seconds (asked every 100 ms). */
static int health_says(struct signer *s, const char *what, double seconds)
{
    char health[700] = "", last_error[600] = "(none)";
    double t0 = now_seconds();
    int asked = 0, failed = 0;
    struct err e;

    while (now_seconds() - t0 < seconds) {
        asked++;
        if (signer_health(s, health, sizeof(health), &e) == 0) {
            if (strstr(health, what) != NULL)
                return 1;
        } else {
            failed++;
            snprintf(last_error, sizeof(last_error), "%s %s", err_kind_word(e.kind), e.msg);
        }
        usleep(100000);
    }
    fprintf(stderr, "health: \"%s\" after %d pings (%d failed, last: %s) in %.1f s\n", health,
            asked, failed, last_error, now_seconds() - t0);
    return 0;
}

static void *sign_loop(void *arg)
{
    struct worker *w = arg;
    struct fixture *f = w->f;

    while (!__atomic_load_n(&f->stop, __ATOMIC_SEQ_CST)) {
        if (signs(f->s, "alpha", f->id, f->pub))
            __atomic_add_fetch(&w->signed_ok, 1, __ATOMIC_SEQ_CST);
        else
            __atomic_add_fetch(&f->failures, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void load_start(struct fixture *f)
{
    for (int i = 0; i < LOAD_THREADS; i++) {
        f->workers[i].f = f;
        assert_int_equal(pthread_create(&f->threads[i], NULL, sign_loop, &f->workers[i]), 0);
        f->running++;
    }
}

/* Whether every load thread made `more` signatures more than counts[] within seconds. */
static int load_signed(struct fixture *f, const int *counts, int more, double seconds)
{
    double deadline = now_seconds() + seconds;

    for (;;) {
        int done = 1;
        for (int i = 0; i < LOAD_THREADS; i++)
            if (__atomic_load_n(&f->workers[i].signed_ok, __ATOMIC_SEQ_CST) < counts[i] + more)
                done = 0;
        if (done)
            return 1;
        if (now_seconds() > deadline)
            return 0;
        usleep(10000);
    }
}

static void load_counts(struct fixture *f, int *counts)
{
    for (int i = 0; i < LOAD_THREADS; i++)
        counts[i] = __atomic_load_n(&f->workers[i].signed_ok, __ATOMIC_SEQ_CST);
}

/* The events queued in s, as "action object detail" lines in one string (caller frees). */
static char *events_text(struct signer *s)
{
    struct signer_event *ev = NULL;
    struct buf b = {0};
    struct err e;
    int n = 0;

    assert_int_equal(signer_events(s, &ev, &n, &e), 0);
    for (int i = 0; i < n; i++) {
        char *line = xasprintf("%s %s %s\n", ev[i].action, ev[i].object, ev[i].detail);
        buf_append(&b, line, strlen(line));
        free(line);
    }
    buf_append(&b, "", 1);
    signer_events_free(ev, n);
    return (char *)b.data;
}

/*
 * One token, no backup.  A key first looked up after the token's files
 * vanished is unavailable (the token failed), not missing: SoftHSM2 then
 * finds no object with CKR_OK.  Once the files are back the key signs again
 * without a restart.
 */
static void a_key_looked_up_after_the_tokens_files_vanished_is_unavailable_not_missing(void **state)
{
    struct fixture *f = *state;
    char health[700] = "";
    struct err e;

    fixture_start(f, 0); /* nothing signed yet: no key handle cached */
    token_move(f, 1);
    assert_null(signer_key(f->s, "alpha", f->id, &e));
    assert_int_equal(e.kind, ERR_UNAVAILABLE);
    assert_false(signs(f->s, "alpha", f->id, f->pub));
    token_move(f, 0);
    assert_true(signs_within(f, 15));
    assert_int_equal(signer_health(f->s, health, sizeof(health), &e), 0);
    assert_non_null(strstr(health, "token vouch-a: ok"));
}

/* The health ping asks what signing needs: it sees the token fail before any request does. */
static void the_health_ping_sees_a_token_whose_files_vanished(void **state)
{
    struct fixture *f = *state;
    char health[700] = "";
    struct err e;

    fixture_start(f, 0);
    assert_int_equal(signer_health(f->s, health, sizeof(health), &e), 0);
    assert_non_null(strstr(health, "token vouch-a: ok"));
    token_move(f, 1);
    if (signer_health(f->s, health, sizeof(health), &e) == 0)
        fail_msg("health after the token's files vanished: %s", health);
    assert_int_equal(e.kind, ERR_UNAVAILABLE);
    token_move(f, 0);
    assert_true(health_says(f->s, "token vouch-a: ok", 15));
}

/* The same with a key handle cached when the files vanish (an invalid handle). */
static void a_token_that_fails_and_heals_is_used_again_without_a_restart(void **state)
{
    struct fixture *f = *state;
    char health[700];
    struct err e;

    fixture_start(f, 0);
    assert_true(signs(f->s, "alpha", f->id, f->pub));
    token_move(f, 1);
    assert_false(signs(f->s, "alpha", f->id, f->pub));
    token_move(f, 0);
    assert_true(signs_within(f, 15));
    assert_int_equal(signer_health(f->s, health, sizeof(health), &e), 0);
    assert_non_null(strstr(health, "token vouch-a: ok"));
}

/*
 * Signing moves to the backup and back while three threads sign: the primary
 * fails when every thread has signed (its key handle is cached), heals, and
 * every thread signs again on it.  No signature fails.
 */
static void
signing_moves_to_the_backup_token_mid_load_and_returns_when_the_primary_heals(void **state)
{
    struct fixture *f = *state;
    int counts[LOAD_THREADS] = {0};
    char *events, health[700];
    struct err e;

    fixture_start(f, 1);
    free(events_text(f->s));
    load_start(f);
    assert_true(load_signed(f, counts, 1, 30)); /* every thread signed with the primary */
    token_move(f, 1);                           /* the primary fails under load */
    assert_true(health_says(f->s, "signing with the backup", 10));
    token_move(f, 0); /* and heals */
    assert_true(health_says(f->s, "signing with the primary", 15));
    load_counts(f, counts);
    assert_true(load_signed(f, counts, 2, 30)); /* every thread signs on after the failback */
    load_stop(f);
    assert_int_equal(f->failures, 0);
    assert_int_equal(signer_health(f->s, health, sizeof(health), &e), 0);
    assert_non_null(strstr(health, "signing with the primary"));
    events = events_text(f->s);
    assert_non_null(strstr(events, "keystore.failover backup"));
    assert_non_null(strstr(events, "keystore.failback primary"));
    free(events);
    /* Both tokens hold the key: the backup alone signs it. */
    token_move(f, 1);
    assert_true(signs(f->s, "alpha", f->id, f->pub));
    token_move(f, 0);
}

/*
 * The rare case of the test above, made certain: the primary's files vanish
 * before any signature, so the first error there is "key not found" with
 * CKR_OK and no handle to fail.  It is a token failure all the same: signing
 * moves to the backup, and returns to the primary when it heals.
 */
static void
signing_moves_to_the_backup_when_the_primary_lost_its_files_before_any_signature(void **state)
{
    struct fixture *f = *state;
    char *events;

    fixture_start(f, 1);
    token_move(f, 1);
    assert_true(signs(f->s, "alpha", f->id, f->pub));
    assert_true(health_says(f->s, "signing with the backup", 10));
    token_move(f, 0);
    /* Signing goes on; the primary is probed (once a second) until it answers again. */
    for (double deadline = now_seconds() + 15; now_seconds() < deadline;) {
        assert_true(signs(f->s, "alpha", f->id, f->pub));
        if (health_says(f->s, "signing with the primary", 0.2))
            break;
    }
    assert_true(health_says(f->s, "signing with the primary", 0.2));
    events = events_text(f->s);
    assert_non_null(strstr(events, "keystore.failover backup"));
    assert_non_null(strstr(events, "keystore.failback primary"));
    free(events);
}

/* Removes the key objects labelled label from token (the test's own Cryptoki session). */
static void token_key_destroy(const char *token, const char *label)
{
    void *dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST *f;
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE o[4];
    CK_ULONG n = 0;
    CK_ATTRIBUTE find[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_SLOT_ID slot = slot_of(token);

    assert_non_null(dl);
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    assert_int_equal(get(&f), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
                     CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_USER, (CK_UTF8CHAR *)PIN, strlen(PIN)), CKR_OK);
    assert_int_equal(f->C_FindObjectsInit(h, find, 1), CKR_OK);
    assert_int_equal(f->C_FindObjects(h, o, 4, &n), CKR_OK);
    f->C_FindObjectsFinal(h);
    assert_int_equal(n, 2); /* the private and the public object */
    for (CK_ULONG i = 0; i < n; i++)
        assert_int_equal(f->C_DestroyObject(h, o[i]), CKR_OK);
    f->C_Finalize(NULL);
    dlclose(dl);
}

/*
 * A key the primary lacks and the backup holds fails the primary: the backup
 * signs, and the primary is marked failed (a keystore.token_failed event
 * naming the key) so that it is opened afresh before it is used again.
 */
static void a_key_the_primary_lacks_fails_the_primary_and_the_backup_signs(void **state)
{
    struct fixture *f = *state;
    char label[128], *events;

    fixture_start(f, 1);
    snprintf(label, sizeof(label), "alpha/%s", f->id);
    free(events_text(f->s));
    token_key_destroy("vouch-a", label);
    assert_true(signs(f->s, "alpha", f->id, f->pub));
    assert_true(health_says(f->s, "signing with the backup", 10));
    events = events_text(f->s);
    assert_non_null(strstr(events, "keystore.token_failed vouch-a"));
    assert_non_null(strstr(events, f->id));
    assert_non_null(strstr(events, "keystore.failover backup"));
    free(events);
}

/*
 * A webhook secret and an ACME EAB key from a key in two tokens: the same
 * from either (RSA signs deterministically).
 */
static void derived_secrets_are_the_same_from_the_backup_token(void **state)
{
    static const char text[] = "1800000000.{}";
    unsigned char *mac = NULL, want[32], eab_want[32], key[SIGNER_EAB_KEY_LEN];
    unsigned int want_len = 0, eab_len = 0;
    size_t mac_len = 0;
    char *id, *nonce = NULL, *secret = NULL, *eab_nonce = NULL;
    struct signer_eab ref = {.endpoint = "web", .kid = "kid-1"};
    struct fixture *f = *state;
    struct signer *s;
    struct err e;

    if ((f->s = s = start("vouch-a", "vouch-b", pin_file, MODULE, &e)) == NULL)
        fail_msg("failover signer: %s", e.msg);
    if (signer_keygen(s, "alpha", KEY_RSA_2048, &f->id, &f->pub, &e) != 0)
        fail_msg("keygen: %s", e.msg);
    id = f->id;
    if (signer_webhook_new(s, "alpha", id, &nonce, &secret, &e) != 0)
        fail_msg("webhook secret: %s", e.msg);
    ref.key_id = id;
    if (signer_eab_new(s, "alpha", &ref, &eab_nonce, key, &e) != 0)
        fail_msg("EAB key: %s", e.msg);
    ref.nonce_hex = eab_nonce;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)text, strlen(text), want,
         &want_len);
    HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)text, strlen(text), eab_want,
         &eab_len);
    for (int away = 0; away < 2; away++) {
        if (away)
            token_move(f, 1); /* the primary is gone: the backup derives it */
        if (signer_webhook_mac(s, "alpha", id, nonce, (const unsigned char *)text, strlen(text),
                               &mac, &mac_len, &e) != 0)
            fail_msg("webhook mac (%s): %s", away ? "backup" : "primary", e.msg);
        assert_int_equal(mac_len, want_len);
        assert_memory_equal(mac, want, want_len);
        free(mac);
        if (signer_eab_mac(s, "alpha", &ref, "SHA256", (const unsigned char *)text, strlen(text),
                           &mac, &mac_len, &e) != 0)
            fail_msg("EAB mac (%s): %s", away ? "backup" : "primary", e.msg);
        assert_int_equal(mac_len, eab_len);
        assert_memory_equal(mac, eab_want, eab_len);
        free(mac);
    }
    token_move(f, 0);
    free(nonce);
    free(eab_nonce);
    free(secret);
}

static void an_ra_key_decrypts_from_the_backup_token(void **state)
{
    unsigned char cek[16] = "content key 128", got[16], *wrapped;
    size_t wrapped_len = 0;
    struct fixture *f = *state;
    struct signer *s;
    struct err e;

    if ((f->s = s = start("vouch-a", "vouch-b", pin_file, MODULE, &e)) == NULL)
        fail_msg("failover signer: %s", e.msg);
    if (signer_keygen_for(s, "alpha", KEY_RSA_2048, KEY_PURPOSE_RA, &f->id, &f->pub, &e) != 0)
        fail_msg("keygen: %s", e.msg);
    wrapped = ra_wrap(f->pub, cek, sizeof(cek), &wrapped_len);
    for (int away = 0; away < 2; away++) {
        if (away)
            token_move(f, 1); /* the primary is gone: the backup decrypts */
        memset(got, 0, sizeof(got));
        if (signer_ra_decrypt(s, "alpha", f->id, wrapped, wrapped_len, got, sizeof(got), &e) != 0)
            fail_msg("decrypt (%s): %s", away ? "backup" : "primary", e.msg);
        assert_memory_equal(got, cek, sizeof(cek));
    }
    token_move(f, 0);
    free(wrapped);
}

static void a_tenant_with_its_own_token_uses_only_that_token_and_its_pin(void **state)
{
    struct signer_config cfg = {.keystore_type = "pkcs11",
                                .pkcs11_module = MODULE,
                                .pkcs11_token_label = "vouch-a",
                                .pkcs11_pin_file = pin_file,
                                .pkcs11_tenant_tokens = "gamma=vouch-c",
                                .connections = 2};
    char pins[160], gamma_pin[200], label[128], *id = NULL, *alpha_id = NULL, health[700];
    CK_BBOOL sensitive = 0, extractable = 1;
    CK_RV value_rv = CKR_OK;
    EVP_PKEY *pub = NULL, *apub = NULL;
    struct signer *s;
    struct err e;
    char *cmd;

    (void)state;
    cmd = xasprintf("softhsm2-util --init-token --free --label vouch-c --pin c-pin-9"
                    " --so-pin 12345678 >/dev/null");
    assert_int_equal(run(cmd), 0);
    free(cmd);
    snprintf(pins, sizeof(pins), "%s/pins", dir);
    mkdir(pins, 0700);
    snprintf(gamma_pin, sizeof(gamma_pin), "%s/gamma", pins);
    /* No PIN directory, or the shared PIN for gamma's token: start-up stops. */
    assert_null(signer_start(&cfg, &e));
    assert_non_null(strstr(e.msg, "pkcs11_tenant_pin_dir"));
    cfg.pkcs11_tenant_pin_dir = pins;
    file_put(gamma_pin, PIN "\n");
    assert_null(signer_start(&cfg, &e));
    assert_non_null(strstr(e.msg, "vouch-c"));
    assert_non_null(strstr(e.msg, "CKR_PIN_INCORRECT"));
    file_put(gamma_pin, "c-pin-9\n");
    s = signer_start(&cfg, &e);
    if (s == NULL)
        fail_msg("signer_start: %s", e.msg);
    assert_int_equal(signer_keygen(s, "gamma", KEY_EC_P256, &id, &pub, &e), 0);
    assert_int_equal(signer_keygen(s, "alpha", KEY_EC_P256, &alpha_id, &apub, &e), 0);
    assert_true(signs(s, "gamma", id, pub));
    assert_true(signs(s, "alpha", alpha_id, apub));
    assert_null(signer_key(s, "alpha", id, &e));
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_null(signer_key(s, "gamma", alpha_id, &e));
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(signer_health(s, health, sizeof(health), &e), 0);
    assert_non_null(strstr(health, "tenant gamma token vouch-c: ok"));
    signer_stop(s);
    /* gamma's key is in gamma's token, made there. */
    snprintf(label, sizeof(label), "gamma/%s", id);
    token_attributes_pin("vouch-c", "c-pin-9", label, &sensitive, &extractable, &value_rv);
    assert_int_equal(sensitive, CK_TRUE);
    assert_int_equal(extractable, CK_FALSE);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(apub);
    free(id);
    free(alpha_id);
}

static void a_key_one_token_lacks_is_reported_when_the_pair_opens(void **state)
{
    EVP_PKEY *pub = NULL;
    char *id = NULL, *events, health[700], label[64];
    struct signer *s;
    struct err e;

    (void)state;
    /* A key made with only the primary configured: the backup does not have it. */
    assert_int_equal(signer_keygen(signer, "delta", KEY_EC_P256, &id, &pub, &e), 0);
    s = start("vouch-a", "vouch-b", pin_file, MODULE, &e);
    if (s == NULL)
        fail_msg("failover signer: %s", e.msg);
    snprintf(label, sizeof(label), "delta/%s", id);
    events = events_text(s);
    assert_non_null(strstr(events, "keystore.key_missing backup"));
    assert_non_null(strstr(events, label));
    assert_int_equal(signer_health(s, health, sizeof(health), &e), 0);
    assert_non_null(strstr(health, "keys of the primary)"));
    free(events);
    signer_stop(s);
    EVP_PKEY_free(pub);
    free(id);
}

static void a_pin_from_the_environment_is_gone_from_the_calling_process(void **state)
{
    struct err e;
    struct signer *s;

    (void)state;
    setenv("VOUCH_PKCS11_PIN", PIN, 1);
    s = start("vouch-a", NULL, NULL, MODULE, &e);
    if (s == NULL)
        fail_msg("signer_start: %s", e.msg);
    assert_null(getenv("VOUCH_PKCS11_PIN"));
    signer_stop(s);
    assert_null(start("vouch-a", NULL, NULL, MODULE, &e)); /* no PIN any more */
    assert_non_null(strstr(e.msg, "VOUCH_PKCS11_PIN"));
}

/*
 * A key's purpose is kept in both tokens of a pair (a data object beside the key): a key bound
 * to OCSP is refused a certificate by the primary, by the backup when the primary is gone, and
 * by a new signer that opens the backup token alone.
 */
static void a_keys_purpose_is_kept_in_both_tokens(void **state)
{
    struct fixture *f = *state;
    struct signer *b;
    struct err e;

    fixture_start(f, 1);
    assert_true(signs(f->s, "alpha", f->id, f->pub)); /* unbound: signs as before */
    assert_int_equal(signer_bind(f->s, "alpha", f->id, KEY_PURPOSE_OCSP, &e), 0);
    assert_false(signs(f->s, "alpha", f->id, f->pub));
    b = start("vouch-b", NULL, pin_file, MODULE, &e);
    assert_non_null(b);
    assert_false(signs(b, "alpha", f->id, f->pub));
    assert_int_equal(signer_bind(b, "alpha", f->id, KEY_PURPOSE_CA, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    signer_stop(b);
    token_move(f, 1);
    assert_false(signs(f->s, "alpha", f->id, f->pub));
    assert_int_equal(signer_bind(f->s, "alpha", f->id, KEY_PURPOSE_CA, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
}

#define FIXTURE_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_of_each_type_are_made_in_the_token_and_sign_certs_crls_csrs_and_ocsp),
        cmocka_unit_test(a_generated_key_is_sensitive_not_extractable_and_labelled_by_tenant),
        cmocka_unit_test(another_tenants_key_is_refused_and_a_deleted_key_is_gone),
        cmocka_unit_test(imported_keys_are_filed_in_the_token_and_sign),
        cmocka_unit_test(an_ra_key_in_the_token_opens_scep_envelopes_and_signs_certreps),
        cmocka_unit_test(a_wrong_pin_a_missing_module_or_token_stops_start_up_clearly),
        FIXTURE_TEST(a_key_looked_up_after_the_tokens_files_vanished_is_unavailable_not_missing),
        FIXTURE_TEST(the_health_ping_sees_a_token_whose_files_vanished),
        FIXTURE_TEST(a_token_that_fails_and_heals_is_used_again_without_a_restart),
        FIXTURE_TEST(signing_moves_to_the_backup_token_mid_load_and_returns_when_the_primary_heals),
        FIXTURE_TEST(
            signing_moves_to_the_backup_when_the_primary_lost_its_files_before_any_signature),
        FIXTURE_TEST(a_key_the_primary_lacks_fails_the_primary_and_the_backup_signs),
        FIXTURE_TEST(derived_secrets_are_the_same_from_the_backup_token),
        FIXTURE_TEST(an_ra_key_decrypts_from_the_backup_token),
        cmocka_unit_test(a_tenant_with_its_own_token_uses_only_that_token_and_its_pin),
        cmocka_unit_test(the_token_can_be_named_by_slot_instead_of_label),
        cmocka_unit_test(a_key_one_token_lacks_is_reported_when_the_pair_opens),
        cmocka_unit_test(a_pin_from_the_environment_is_gone_from_the_calling_process),
        FIXTURE_TEST(a_keys_purpose_is_kept_in_both_tokens),
    };

    if (access(MODULE, R_OK) != 0) {
        fprintf(stderr, "test_keys_p11: %s missing (apt-get install softhsm2)\n", MODULE);
        return 1;
    }
    /* make p11-failover-loop runs only some tests: a glob over their names. */
    if (getenv("VOUCH_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("VOUCH_TEST_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
